/*
 * taskdef.h — task definitions in ECS's RegisterTaskDefinition shape
 * (taskdef.c) and the registry that numbers, persists and looks them up
 * (taskdef_registry.c).
 *
 * A task definition is validated strictly (unknown keys, duplicate keys and
 * out-of-range values are errors, every error is reported with its JSON
 * pointer) and held in two forms: the parsed fields below, which the
 * orchestrator reads, and a normalised JSON text in ECS's DescribeTaskDefinition
 * `taskDefinition` shape for API responses. Secrets are only ever
 * `{name, valueFrom}` references: no secret value is held or written here.
 *
 * Lifecycle: taskdef_registry_open() → taskdef_register() / _deregister() /
 * _describe() / _list() → taskdef_registry_free(). The registry owns every
 * struct taskdef it hands out; pointers stay valid until the registry is
 * freed (deregistering only changes the status). Not thread-safe: call from
 * one thread (the daemon's loop).
 *
 * Persistence: one file per revision, `<dir>/<family>.<revision>.json`
 * (statefile_name(): a family of more than 200 characters is shortened and
 * given a digest), written crash-safely (temp file in the same directory,
 * fsync, rename, fsync of the directory). A file is removed only when its
 * revision is deleted (DeleteTaskDefinitions) and no task or service holds
 * it any more. Revision numbers only grow while a family has revisions; a
 * family whose every revision was deleted is forgotten, and one registered
 * again under its name starts at 1 (ECS would go on counting).
 *
 * Bounds (taskdef_registry_set_limits()): the size of one registration's
 * text, the number of families, the revisions kept per family.
 */
#ifndef TRIPLINE_ORCH_TASKDEF_H
#define TRIPLINE_ORCH_TASKDEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct errlist;
struct json_t;

#define TASKDEF_MAX_CONTAINERS 10
#define TASKDEF_MAX_REVISIONS 1000000u /* ECS's own limit per family */
#define TASKDEF_DEFAULT_REGION "local"
#define TASKDEF_DEFAULT_ACCOUNT "000000000000"

enum taskdef_status {
	TASKDEF_STATUS_ACTIVE,
	TASKDEF_STATUS_INACTIVE,
	TASKDEF_STATUS_DELETE_IN_PROGRESS,  /* deleted; kept while a task or service holds it */
};

/* Status filter for listings. */
enum taskdef_filter {
	TASKDEF_FILTER_ACTIVE,
	TASKDEF_FILTER_INACTIVE,
	TASKDEF_FILTER_DELETE_IN_PROGRESS,
	TASKDEF_FILTER_ALL,
};

enum taskdef_condition {
	TASKDEF_CONDITION_START,
	TASKDEF_CONDITION_COMPLETE,
	TASKDEF_CONDITION_SUCCESS,
	TASKDEF_CONDITION_HEALTHY,
};

/* requiresCompatibilities, as bits. A definition compatible with FARGATE
 * only runs as FARGATE by default; orch.c's driver table maps launch types
 * to drivers (EC2, EXTERNAL → process; FARGATE → docker). */
enum {
	TASKDEF_COMPAT_EC2 = 1u << 0,
	TASKDEF_COMPAT_FARGATE = 1u << 1,
	TASKDEF_COMPAT_EXTERNAL = 1u << 2,
};

/* environment entries (value) and secrets (value = the valueFrom reference). */
struct taskdef_kv {
	char *name;
	char *value;
};

struct taskdef_mount {
	char *source_volume;   /* names a struct taskdef_volume */
	char *container_path;  /* absolute */
	bool read_only;
};

struct taskdef_depend {
	char *container_name;  /* another container of the same definition */
	enum taskdef_condition condition;
};

struct taskdef_health {
	bool present;
	char **command;        /* NULL-terminated; e.g. {"CMD", "true", NULL} */
	size_t n_command;
	int interval;          /* seconds, 5–300, default 30 */
	int timeout;           /* seconds, 2–60, default 5 */
	int retries;           /* 1–10, default 3 */
	int start_period;      /* seconds, 0–300, default 0 */
};

struct taskdef_container {
	char *name;
	char *image;              /* NULL when absent */
	char **argv;              /* entryPoint + command, NULL-terminated; n_argv may be 0 */
	size_t n_argv;
	size_t n_entry_point;     /* argv[0 .. n_entry_point) came from entryPoint */
	struct taskdef_kv *environment;
	size_t n_environment;
	struct taskdef_kv *secrets;
	size_t n_secrets;
	int cpu;                  /* CPU units, 0 when absent */
	int memory;               /* MiB hard limit, 0 when absent */
	int memory_reservation;   /* MiB soft limit, 0 when absent */
	bool essential;           /* default true */
	char *working_directory;  /* NULL when absent */
	char *user;               /* NULL when absent */
	int stop_timeout;         /* seconds, 2–120, default 30 */
	struct taskdef_health health;
	struct taskdef_mount *mounts;
	size_t n_mounts;
	struct taskdef_depend *depends;
	size_t n_depends;
};

struct taskdef_volume {
	char *name;
	char *source_path;  /* host.sourcePath, NULL when absent (a scratch volume) */
};

struct taskdef {
	char *family;
	unsigned revision;        /* 0 until registered */
	char *arn;                /* NULL until registered */
	enum taskdef_status status;
	int64_t registered_at;    /* epoch seconds */
	int64_t deregistered_at;  /* epoch seconds, 0 while ACTIVE */
	int cpu;                  /* task-level CPU units, 0 when absent */
	int memory;               /* task-level MiB, 0 when absent */
	unsigned compat;          /* TASKDEF_COMPAT_* bits */
	char *network_mode;       /* NULL when absent */
	struct taskdef_container *containers;
	size_t n_containers;
	struct taskdef_volume *volumes;
	size_t n_volumes;
	char *json;               /* ECS `taskDefinition` object, compact; no tags */
	char *tags_json;          /* ECS `tags` array, "[]" when none */
	struct json_t *doc;       /* private: the tree json and tags_json are made from */
};

/*
 * Parses and validates a RegisterTaskDefinition request. Errors go to errs as
 * "<where>: <json pointer>: <message>" (where: a file name, or "request").
 * Returns 0 and a new taskdef (revision 0, owned by the caller), -EINVAL when
 * anything is invalid (*ret_td = NULL), -ENOMEM.
 */
int taskdef_parse(const char *text, size_t len, const char *where,
		  struct taskdef **ret_td, struct errlist *errs);
void taskdef_free(struct taskdef *td);

struct taskdef_registry;

/*
 * Opens a registry persisted in dir (created if missing; NULL for a registry
 * kept in memory only). region/account make ARNs (NULL: the defaults). Every
 * file is validated; a file that is not a valid definition (bad JSON, an
 * invalid definition, a wrong name, too large, not a regular file) is moved
 * to the folder corrupt/ beside dir (statefile_move_aside()) and the open
 * goes on without it: its problems and where it went are added to errs,
 * which the caller reports. Other errors (a file that cannot be read or
 * moved): negative errno, nothing loaded.
 */
int taskdef_registry_open(const char *dir, const char *region, const char *account,
			  struct taskdef_registry **ret_reg, struct errlist *errs);
void taskdef_registry_free(struct taskdef_registry *reg);

/* What one registry may hold; 0 in a member means its default. */
struct taskdef_limits {
	size_t max_bytes;        /* one registration's text; default TASKDEF_MAX_FILE_BYTES */
	uint32_t max_families;   /* families with a revision; default: no limit */
	uint32_t max_revisions;  /* revisions kept per family, whatever their status;
				  * default TASKDEF_MAX_REVISIONS */
};

/* Sets the bounds taskdef_register() checks (what is already held stays). */
void taskdef_registry_set_limits(struct taskdef_registry *reg, const struct taskdef_limits *lim);

/* Whether a DELETE_IN_PROGRESS definition is still held (by a task or a
 * service) and must be kept. */
typedef bool (*taskdef_in_use_fn)(const struct taskdef *td, void *userdata);

/*
 * Turns on the removal of deleted revisions: from now on
 * taskdef_registry_sweep() removes every DELETE_IN_PROGRESS revision that
 * fn (NULL: nothing holds definitions) says is not in use. Until it is
 * called (while a daemon loads its tasks, say) nothing is removed.
 */
void taskdef_registry_set_in_use(struct taskdef_registry *reg, taskdef_in_use_fn fn, void *userdata);

/* Removes the DELETE_IN_PROGRESS revisions no longer in use, their files
 * and families left without revisions; frees them (their pointers die).
 * Also done by taskdef_register(). Returns how many were removed; a file
 * that cannot be removed keeps its revision for the next sweep. */
size_t taskdef_registry_sweep(struct taskdef_registry *reg);

/*
 * Validates text, assigns the family's next revision, persists it and
 * returns it in *ret_td (owned by the registry; ret_td may be NULL).
 * -EINVAL with errs filled for an invalid definition or one past the
 * limits; negative errno when it cannot be persisted (then nothing is
 * registered, and no empty family is left behind).
 */
int taskdef_register(struct taskdef_registry *reg, const char *text, size_t len,
		     const char *where, const struct taskdef **ret_td, struct errlist *errs);

/*
 * Looks up "family" (latest ACTIVE revision), "family:revision" or a full ARN
 * "arn:aws:ecs:<region>:<account>:task-definition/<family>[:<revision>]" of
 * this registry's region and account. -EINVAL for a malformed reference,
 * -ENOENT when there is no such definition.
 */
int taskdef_describe(const struct taskdef_registry *reg, const char *ref,
		     const struct taskdef **ret_td);

/*
 * Marks "family:revision" (or an ARN with a revision) INACTIVE and persists
 * it; deregistering an INACTIVE revision again succeeds and changes nothing.
 * -EINVAL for a reference without a revision, -ENOENT, or negative errno when
 * it cannot be persisted (then the status is unchanged).
 */
int taskdef_deregister(struct taskdef_registry *reg, const char *ref,
		       const struct taskdef **ret_td);

/*
 * DeleteTaskDefinitions for one reference with a revision: an INACTIVE
 * revision becomes DELETE_IN_PROGRESS (persisted) and is removed by the
 * next sweep once nothing holds it; deleting it again changes nothing.
 * -EINVAL for a malformed reference or one without a revision, -ENOENT,
 * -EBUSY for an ACTIVE revision, or negative errno when it cannot be
 * persisted (then the status is unchanged). *ret_td stays valid until the
 * next sweep.
 */
int taskdef_delete(struct taskdef_registry *reg, const char *ref, const struct taskdef **ret_td);

/* Called for each listed item in order; a non-zero return stops the listing
 * and is returned by the listing function. */
typedef int (*taskdef_list_fn)(const struct taskdef *td, void *userdata);
typedef int (*taskdef_family_fn)(const char *family, void *userdata);

/* Task definitions whose family starts with family_prefix (NULL: all) and
 * whose status passes filter, by family name then revision, ascending (or
 * both descending); with after_family, only those after
 * after_family:after_revision in that order (a page's continuation). */
int taskdef_list(const struct taskdef_registry *reg, const char *family_prefix,
		 enum taskdef_filter filter, bool descending, const char *after_family,
		 unsigned after_revision, taskdef_list_fn fn, void *userdata);

/* Family names starting with family_prefix (NULL: all), sorted, after
 * after_family when given; with TASKDEF_FILTER_ACTIVE only families with an
 * ACTIVE revision, with TASKDEF_FILTER_INACTIVE only families with none. */
int taskdef_list_families(const struct taskdef_registry *reg, const char *family_prefix,
			  enum taskdef_filter filter, const char *after_family, taskdef_family_fn fn,
			  void *userdata);

const char *taskdef_status_name(enum taskdef_status s);

#endif
