/*
 * orch_internal.h — what the files of the orchestration core share. Not a
 * public interface: callers use orch.h (and orch_json.h for JSON forms).
 *
 *   orch.c          life (new, free), the driver table, clocks, the tick and
 *                   the end-of-turn flush, events, the cluster, metrics
 *   task.c          a task's life: placement, launch, driver callbacks, stop
 *   health.c        container health checks
 *   secrets.c       the secrets store, read at each launch
 *   task_api.c      RunTask, StopTask, DescribeTasks, ListTasks, GetTaskLogs
 *   client_token.c  RunTask's clientToken memory
 *   task_logs.c     container logs: reading the end, rotation
 *   task_state.c    a task's JSON, its state file, loading after a restart
 *   service.c       the service scheduler and deployments
 *   service_api.c   CreateService, UpdateService, DeleteService, …
 *   service_state.c a service's JSON and events, its state file, loading
 *
 * Ownership: struct orch owns every task and service. A task points at its
 * service (weak: a service is only freed once no task refers to it) and at a
 * struct taskdef owned by the registry. Tasks live in one list, newest last;
 * services in another. STOPPED tasks are freed by the reaper (orch.c's tick)
 * after ORCH_STOPPED_TASK_TTL_S, never during an API call.
 *
 * Clocks: a field's name says its clock: *_wall_ms (ms since the epoch,
 * shown to users, persisted) or *_mono_ms (orch_mono_ms(), for durations,
 * never persisted as such).
 */
#ifndef TRIPLINE_ORCH_INTERNAL_H
#define TRIPLINE_ORCH_INTERNAL_H

#include "driver.h"
#include "orch.h"
#include "taskdef.h"

enum task_status {
	TS_PROVISIONING,
	TS_PENDING,
	TS_RUNNING,
	TS_DEPROVISIONING,
	TS_STOPPED,
};

enum stop_code {
	SC_NONE,
	SC_TASK_FAILED_TO_START,
	SC_ESSENTIAL_CONTAINER_EXITED,
	SC_USER_INITIATED,
	SC_SERVICE_SCHEDULER_INITIATED,
};

enum health {
	HEALTH_UNKNOWN,
	HEALTH_HEALTHY,
	HEALTH_UNHEALTHY,
};

/* A driver of the table in orch.c, started or not. */
struct orch_driver {
	const struct driver_ops *ops;
	struct driver *d;              /* NULL: not available (init failed or not configured) */
	char off_reason[256];          /* why not, for the log and for errors */
};

struct task;

struct tcontainer {
	struct task *task;
	const struct taskdef_container *def;
	char *name;
	enum task_status status;       /* PENDING (not launched / launching), RUNNING, STOPPED */
	bool launched;                 /* launch() was called */
	struct drv_container *h;       /* while launched and not released */
	char *runtime_id;
	int exit_code;                 /* -1: none / unknown */
	bool has_exit_code;
	char *reason;
	enum health health;
	unsigned health_failures;
	uv_timer_t *health_timer;      /* heap; closed asynchronously */
	bool probing;
	const struct orch_container_override *ov;   /* in task->overrides, or NULL */
	bool ever_started;             /* reached RUNNING once (dependsOn START) */
	char *mark;                    /* TRIPLINE_TASK_MARK: "<instance id>/<task id>/<name>" */
	bool lost_at_start;            /* loaded: launched, its start never recorded, and no
					  process of it found */
	uint64_t started_mono_ms;      /* when it last started (health checks' start period) */
};

struct service;

#define CLIENT_TOKEN_PARAMS_LEN 64     /* hex digits of a SHA-256 */

struct task {
	struct orch *orch;
	struct task *prev, *next;
	char id[33];
	char *arn;
	const struct taskdef *td;
	char *group, *started_by;
	/* the RunTask clientToken that started it (kept in its state file, which
	 * is written before it runs: the token survives a crash however early) */
	char *client_token;
	char client_params[CLIENT_TOKEN_PARAMS_LEN + 1];
	uint32_t client_ttl_s;
	struct service *service;       /* NULL for a standalone task */
	char *deployment_id;           /* the service deployment it belongs to */
	enum task_status last, desired;
	enum stop_code stop_code;
	char *stopped_reason;
	enum health health;
	uint64_t version;
	uint64_t created_wall_ms, started_wall_ms, stopping_wall_ms, stopped_wall_ms;
	/* monotonic times; a task loaded from its state file gets them from its
	 * wall times' age, so they may lie before this process began (below 0) */
	int64_t created_mono_ms, started_mono_ms, stopped_mono_ms;
	uint32_t cpu;                  /* reserved while not STOPPED */
	uint64_t memory_mib;
	const struct orch_driver *drv;
	char *launch_type;             /* "EC2", "FARGATE", "EXTERNAL" */
	struct orch_overrides overrides;   /* an owned copy of RunTask's, echoed by DescribeTasks */
	struct tcontainer *c;
	size_t nc;
	bool ever_healthy;             /* for the service scheduler */
	bool counted_failure;
	bool dirty;                    /* to be written */
	uint32_t uid;                  /* its dynamic uid (dynuser.h), held while not STOPPED; 0 none */
};

struct client_tokens;
struct metric;

struct orch {
	uv_loop_t *loop;
	struct orch_config cfg;        /* strings copied below */
	char *cluster_name, *region, *account, *data_dir, *secrets_file, *cluster_arn;
	char *instance_arn;
	char instance_id[17];          /* the data directory's identity (data_dir/id) */
	struct taskdef_registry *taskdefs;
	struct orch_driver *drivers;   /* one per entry of orch.c's table */
	size_t n_drivers;
	struct drv_events drv_events;
	struct task *tasks_head, *tasks_tail;
	size_t n_tasks, n_active;      /* all; not STOPPED */
	struct service *services;      /* singly linked, creation order */
	size_t n_services;
	struct client_tokens *tokens;
	/* set by orch_run_task() around its launches: the token they carry */
	const char *launch_token, *launch_params;
	uint32_t launch_ttl_s;
	struct dynuser *uids;          /* process tasks' dynamic uids */
	char *default_user;            /* copies behind cfg.process_default_user, */
	char **host_paths;             /* cfg.docker_allowed_host_paths */
	uint64_t cpu_used, memory_used;
	uv_timer_t tick;               /* 1 s: reaper, log rotation, service convergence */
	uv_check_t flush;              /* writes dirty state at the end of each loop turn */
	bool converge_pending;
	bool any_dirty;                /* some task has dirty set */
	struct orch_metrics m;
	struct metric *launch_seconds;  /* in the daemon's registry; NULL: none */
	int closing;                   /* handles still closing in orch_free() */
};

/* orch.c */
uint64_t orch_wall_ms(const struct orch *o);
uint64_t orch_mono_ms(const struct orch *o);
/* The monotonic time of a past wall-clock time (by its age now). */
int64_t orch_mono_of_wall(const struct orch *o, uint64_t wall_ms);
/* The driver for a launch type (ORCH_LAUNCH_DEFAULT: the definition's
 * compatibility decides), or NULL with e filled; *ret_launch_type is the
 * name the task shows. */
const struct orch_driver *orch_driver_for(struct orch *o, const struct taskdef *td,
					  enum orch_launch_type lt, const char **ret_launch_type,
					  struct orch_error *e);
const struct orch_driver *orch_driver_named(const struct orch *o, const char *name);
void orch_want_converge(struct orch *o);
void orch_set_error(struct orch_error *e, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* id: 2 × nbytes hex digits from the kernel's random source. */
void orch_random_hex(char *out, size_t nbytes);
char *orch_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void orch_strv_free(char **v);
/* Checks a request's cluster member (NULL: ours). */
bool orch_check_cluster(const struct orch *o, const char *cluster, struct orch_error *e);
/* An optional string no longer than max bytes (and not empty). */
bool orch_check_string(const char *key, const char *s, size_t max, struct orch_error *e);
bool orch_check_int(const char *key, int64_t v, int64_t lo, int64_t hi, struct orch_error *e);
const char *orch_launch_type_name(enum orch_launch_type lt);
/* A list's nextToken (NULL: the start) as the index to start from, at most
 * limit; false with e filled for a token this list never gave. */
bool orch_page_start(const char *token, size_t limit, size_t *ret, struct orch_error *e);
/* The ACTIVE definition ref names, or false with e filled (ECS's messages). */
bool orch_active_taskdef(struct orch *o, const char *ref, const struct taskdef **ret, struct orch_error *e);

/* task.c */
void orch_task_mark(struct task *t);   /* state changed: persist + event */
void orch_task_dirty(struct task *t);  /* to be written at the end of this loop turn */
void orch_task_stop(struct task *t, enum stop_code code, const char *reason);
/* Places and starts a task: NULL with *ret_failure a placement failure
 * ("RESOURCE:CPU", …), or NULL with e filled. overrides were checked. */
struct task *orch_launch_task(struct orch *o, const struct taskdef *td, const char *group,
			      const char *started_by, struct service *svc, const char *deployment_id,
			      const struct orch_overrides *overrides, enum orch_launch_type lt,
			      struct orch_error *e, const char **ret_failure);
struct task *orch_task_alloc(struct orch *o, const struct taskdef *td);
void orch_task_free(struct task *t);
void orch_task_link(struct orch *o, struct task *t);
void orch_task_purge(struct orch *o, struct task *t);   /* unlink, remove its files, free */
struct task *orch_task_find(struct orch *o, const char *id_or_arn);
/* Resumes a loaded task: launches what may start, settles what has ended. */
void orch_task_resume(struct task *t);
/* The driver callbacks (driver.h's struct drv_events). */
void orch_on_started(void *owner, int err, const char *reason);
void orch_on_exited(void *owner, const struct drv_exit *e);
void orch_on_driver_log(void *owner, int level, const char *msg);
/* The driver spec of a container (buffers are the caller's). */
void orch_container_spec(const struct tcontainer *c, struct drv_spec *s, char *logbuf, size_t logcap,
			 char *scratch, size_t scratchcap, struct drv_mount *mounts);
void orch_container_log_path(const struct tcontainer *c, char *buf, size_t cap);
/* Gives t its id (32 hex digits) and its containers their marks; -ENOMEM. */
int orch_task_set_id(struct task *t, const char *id);
int orch_overrides_copy(const struct orch_overrides *src, struct orch_overrides *dst);
void orch_overrides_free(struct orch_overrides *ov);
/* Validates RunTask's overrides against td. */
bool orch_overrides_check(const struct orch_overrides *ov, const struct taskdef *td, struct orch_error *e);
extern const char *const orch_task_status_names[];
extern const char *const orch_stop_code_names[];
extern const char *const orch_health_names[];

/* health.c */
void orch_health_schedule(struct tcontainer *c, uint64_t delay_ms);
void orch_health_update_task(struct task *t);

/* secrets.c — the store is read at each launch, wiped after it. */
struct secret_store;
int orch_secrets_open(const struct orch *o, struct secret_store **ret, char *why, size_t whylen);
/* One valueFrom into *ret (malloc'd; the caller wipes and frees it). */
int orch_secrets_resolve(const struct orch *o, const struct secret_store *st, const char *ref, char **ret,
			 char *why, size_t whylen);
void orch_secrets_close(struct secret_store *st);

/* client_token.c */
/* dir: where each token is kept as a file (NULL: memory only); max: how
 * many are kept at once (0: ORCH_MAX_CLIENT_TOKENS). */
struct client_tokens *client_tokens_new(const char *dir, size_t max);
void client_tokens_free(struct client_tokens *ct);
/* Reads the token files younger than their lifetime by the wall clock
 * (removes the older ones; sets aside those that cannot be loaded; keeps
 * them all even over max). 0 or -errno. */
int client_tokens_load(struct orch *o, struct client_tokens *ct, uint64_t now_wall_ms, uint64_t now_mono_ms);
/* After the tasks and the token files are loaded: the tokens tasks carry
 * that no file recorded (a crash between a task's state and its token). */
void client_tokens_from_tasks(struct orch *o, uint64_t now_wall_ms, uint64_t now_mono_ms);
/* Whether token is remembered (not older than its lifetime): true, its task
 * ids in ids (*ret_n of them; none for an UpdateService token) and
 * *ret_mismatch when it was remembered with other params (a digest). */
bool client_tokens_get(struct client_tokens *ct, const char *token, const char *params, uint64_t now_mono_ms,
		       char ids[][33], size_t max, size_t *ret_n, bool *ret_mismatch);
/* Whether a new token would be refused now (expired ones forgotten first). */
bool client_tokens_full(struct client_tokens *ct, uint64_t now_mono_ms);
size_t client_tokens_count(const struct client_tokens *ct);
/* Remembers token for max(ttl_s, ORCH_CLIENT_TOKEN_TTL_S) seconds (and
 * writes its file). -ENOSPC when the store is full; -errno when the file
 * cannot be written (it is remembered still). */
int client_tokens_put(struct client_tokens *ct, const char *token, const char *params, uint64_t now_mono_ms,
		      uint64_t now_wall_ms, uint32_t ttl_s, const char (*ids)[33], size_t n);
void client_tokens_expire(struct client_tokens *ct, uint64_t now_mono_ms);
/* Whether a new token may be remembered now; false (counted, logged) with
 * e filled (LimitExceededException) when the store is full. */
bool orch_client_token_room(struct orch *o, struct orch_error *e);
/* The hex SHA-256 of text, a token's params. 0 or -ENOMEM. */
int client_token_digest(const char *text, size_t len, char out[CLIENT_TOKEN_PARAMS_LEN + 1]);

/* task_logs.c */
int orch_task_log_read(const struct tcontainer *c, size_t tail, struct orch_task_log *ret);

/* task_state.c */
/* Writes the task's state file now: 0 or -errno (logged). */
int orch_task_write(struct task *t);
int orch_tasks_load(struct orch *o);
/* After loading: removes the log and scratch directories of tasks that are
 * not known and the temp files a killed daemon left in data_dir/tasks. */
void orch_tasks_sweep_files(struct orch *o);

/* service.c */
void service_task_stopped(struct service *s, struct task *t);
void service_task_started(struct service *s, struct task *t);
void service_converge(struct service *s);
void service_converge_all(struct orch *o);
int service_load_all(struct orch *o, char *err, size_t errlen);
void service_free_all(struct orch *o);
struct service *service_find(struct orch *o, const char *name_or_arn);
void service_metrics(const struct orch *o, struct orch_metrics *m);
void service_metrics_update(const struct orch *o, struct metrics *m);
const char *service_name(const struct service *s);

#endif
