/*
 * process_internal.h — what the files of the process driver share; private
 * to them (the driver's only export is driver_process_ops, driver.h).
 *
 *   driver_process.c   the ops: container handles, callbacks, watching,
 *                      stop, save/adopt, release/forget, init/shutdown
 *   process_ctx.c      the run context: environment, working directory,
 *                      user, PATH candidates (resolved in the parent)
 *   process_spawn.c    starting a process off the loop: clone(CLONE_VM |
 *                      CLONE_VFORK) on a threadpool thread, the child's code
 *   process_probe.c    probes (health checks) in a container's context
 *   process_marks.c    after a restart: processes found by their mark, the sweep
 *   cgroup.c           cgroups (cgroup.h)
 *
 * Everything runs on the loop thread, except a spawn's work between
 * process_spawn_start() and its done callback (process_spawn.c).
 */
#ifndef TRIPLINE_ORCH_PROCESS_INTERNAL_H
#define TRIPLINE_ORCH_PROCESS_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "cgroup.h"
#include "driver.h"

#define PROCESS_COMPONENT "driver.process"
#define PROCESS_MAX_LIST 4096                  /* argv / env entries */
#define PROCESS_MAX_STRING ((size_t)128 << 10) /* one argv or env string (MAX_ARG_STRLEN) */
#define PROCESS_MAX_PROBES 8                   /* concurrent probes per container */
#define PROCESS_MAX_PENDING_LOGS 4
#define PROCESS_LOG_LINE 1536
#define PROCESS_REASON_LEN 512

/* ---- the run context (process_ctx.c) ------------------------------------- */

/* What a container's processes run with: copies, shared (refcounted) by the
 * container and the spawns in flight for it, never changed once made. */
struct run_ctx {
	unsigned refs;
	char **env;            /* NULL-terminated; wiped when freed */
	char *cwd;
	char *log_path;
	char *scratch_dir;             /* NULL: none */
	char *user;            /* as given, for messages; NULL: the daemon's */
	bool set_user;
	bool own_scratch;      /* scratch_dir is made uid:gid's when the daemon made it */
	bool cwd_as_user;      /* chdir after changing uid: a working directory the user gave,
				  which must be reachable by the user (the scratch directory,
				  below the daemon's 0700 data_dir, is entered before) */
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	int user_err;          /* resolution failed: -errno, user_why says why */
	char user_why[256];
};

/* Makes the run context of spec (one reference). 0, or -errno for a
 * malformed spec/ENOMEM; a user that cannot be resolved is kept in
 * user_err, not returned. */
int process_ctx_new(const struct drv_spec *spec, struct run_ctx **ret);
struct run_ctx *process_ctx_ref(struct run_ctx *x);
/* Drops a reference; the last one wipes the environment and frees. NULL is fine. */
void process_ctx_unref(struct run_ctx *x);

/* A NULL-terminated copy of src (at most PROCESS_MAX_LIST strings of at
 * most PROCESS_MAX_STRING bytes: -E2BIG); freed by process_strv_free(). */
int process_strv_copy(char *const *src, char ***ret);
/* Frees v, wiping each string first when asked (an environment). */
void process_strv_free(char **v, bool wipe);

/* Executables to try for argv0 (NULL-terminated, malloc'd): itself when it
 * has a '/', else each non-empty entry of env's PATH. */
int process_exec_candidates(const char *argv0, char *const *env, char ***ret);

/* ---- spawning (process_spawn.c) ---------------------------------------------- */

/* Where the child failed. */
enum spawn_step {
	STEP_SETSID = 1,
	STEP_CGROUP,   /* not fatal: the process runs without that cgroup */
	STEP_STDIO,
	STEP_CHDIR,
	STEP_GROUPS,
	STEP_GID,
	STEP_UID,
	STEP_EXEC,
};

struct spawn_report {
	int32_t step;          /* 0: none */
	int32_t err;
};

struct spawn;
/* The outcome of process_spawn_start(), on the loop: status 0 (see the
 * result fields) or -ECANCELED (never ran). */
typedef void (*process_spawn_fn)(struct spawn *s, int status);

/* One process to start. The loop does not touch it between
 * process_spawn_start() and the done callback. */
struct spawn {
	uv_work_t work;
	struct run_ctx *ctx;       /* a reference */
	char **argv;               /* a copy */
	char **candidates;
	char *stack;               /* the child's */
	/* cgroups: made (launch: cg_host set) or joined (cg given) */
	struct cgroup_host *cg_host;
	char cg_name[256];         /* "": no cgroup name could be made */
	struct cgroup_limits cg_limits;
	struct cgroup_set cg;
	int log_fd, null_fd;       /* log_fd: the file, or the log monitor's pipe */
	const char *mon_program;   /* NULL: no log monitor; the driver's, outlives the spawn */
	uint64_t mon_max;
	unsigned mon_keep;
	int mon_fd;                /* the monitor's done pipe (logmon.h); the taker sets -1 */
	int cg_fds[2];
	size_t n_cg;
	bool queued;
	atomic_bool cancel;        /* set on the loop, read by the thread before clone */
	process_spawn_fn done;
	void *arg;
	/* results, valid in done */
	bool skipped;              /* cancelled after its preparation: no clone */
	struct cgroup_warnings cg_warn;  /* limits that could not be applied */
	int prep_err;              /* the files could not be opened: -errno, prep_why */
	char prep_why[PROCESS_REASON_LEN];
	pid_t pid;                 /* 0: no process is left running */
	int pidfd;                 /* with pid; the taker sets it to -1 */
	unsigned long long start_time;   /* field 22 of /proc/<pid>/stat */
	int clone_err;             /* clone() failed: errno */
	struct spawn_report fatal; /* the child failed and was reaped */
	int cg_err;                /* joining a cgroup failed (errno); it runs regardless */
};

/* A spawn of argv (copied) in ctx (referenced). 0, -ENOMEM or -E2BIG. */
int process_spawn_new(struct run_ctx *ctx, char *const *argv, struct spawn **ret);
/* The spawn makes cgroups `name` (NULL: none can be named; the warnings
 * say so) in h with lim, and the child joins them; s->cg then holds them. */
void process_spawn_make_cgroups(struct spawn *s, struct cgroup_host *h, const char *name,
				const struct cgroup_limits *lim);
/* The child's output goes through a log monitor (logmon.h) run from
 * program, which keeps the log file within max bytes, keep rotated; its
 * done pipe is s->mon_fd after the spawn. */
void process_spawn_monitor_log(struct spawn *s, const char *program, uint64_t max, unsigned keep);
/* The child joins the existing cgroups cg (a probe, its container's). */
void process_spawn_join_cgroups(struct spawn *s, const struct cgroup_set *cg);
/* Queues it on the libuv threadpool (cgroups, files, clone, execve); done
 * follows on the loop. 0 or a libuv error. */
int process_spawn_start(uv_loop_t *loop, struct spawn *s, process_spawn_fn done, void *arg);
/* Asks the spawn not to start its process: done reports -ECANCELED unless
 * the clone had already begun (then it reports what happened). True when
 * the work was dequeued before it began. */
bool process_spawn_cancel(struct spawn *s);
/* Closes what it holds (a pidfd not taken included) and frees it. NULL is fine. */
void process_spawn_free(struct spawn *s);
/* After done: 0 when the process runs; else -errno and why (for a person). */
int process_spawn_reason(const struct spawn *s, const char *argv0, char *why, size_t whylen);
/* "setsid", "exec", … */
const char *process_step_name(int step);
/* pidfd_open(2): the fd, or -errno. */
int process_pidfd_open(pid_t pid);
/* One read of a /proc file, NUL-terminated: bytes read or -errno. */
ssize_t process_read_proc(const char *path, char *buf, size_t size);
/* Field 22 of /proc/<pid>/stat: the start time in clock ticks since boot. */
int process_start_time(pid_t pid, unsigned long long *ret);

/* ---- the driver and its handles (driver_process.c) ---------------------------- */

struct probe;
struct marks;

struct driver {
	uv_loop_t *loop;
	const struct drv_events *ev;
	struct cgroup_host *cg;
	char boot_id[64];
	char instance[64];              /* the data directory's identity; "" none */
	struct marks *marks;            /* a restart's /proc scan, until the sweep */
	size_t n_handles;               /* not yet released or forgotten */
	size_t n_spawns;                /* in flight (containers' and probes') */
	bool shut;                      /* shutdown() came: freed when n_spawns is 0 */
	struct probe *orphans;          /* probes of released handles, until reaped */
	char log_monitor[4096];         /* "": containers write their log file themselves */
};

/* A spawn of the driver ended (its done callback ran); frees a driver shut
 * down meanwhile once it was the last. d must not be used afterwards by a
 * caller that cannot tell. */
void process_spawn_finished(struct driver *d);

enum c_state {
	C_SPAWNING,    /* launch(): the spawn is queued or running */
	C_RUNNING,     /* watched through its pidfd (cancel: being killed) */
	C_DRAINING,    /* leader gone; emptying the cgroup before `exited` */
	C_DONE,        /* `exited` (or a failed `started`) delivered, or due */
};

enum dispose {
	DISPOSE_NONE,
	DISPOSE_RELEASE,
	DISPOSE_FORGET,
};

struct drv_container {
	struct driver *d;
	void *owner;
	char name[256];
	char runtime_id[16];             /* "" until `started` said 0 */
	struct run_ctx *ctx;
	enum c_state state;
	struct spawn *spawn;             /* C_SPAWNING: in flight */
	bool started_due;                /* launch(): `started` not delivered yet */
	bool cancel;                     /* stop() before `started` */
	pid_t pid;                       /* 0: no process */
	unsigned long long start_time;
	char boot_id[64];
	int pidfd;
	int mon_fd;                      /* the log monitor's done pipe; -1: none or done */
	unsigned mon_waits;
	bool adopted;
	bool poll_init;
	uv_poll_t poll;
	uv_timer_t kill_timer;           /* stop(): SIGKILL after the timeout */
	uv_timer_t defer;                /* deferred callbacks and cgroup sweeps */
	int start_err;
	char start_reason[PROCESS_REASON_LEN];
	int exit_code;
	char exit_reason[128];           /* "" none */
	unsigned sweeps;
	bool stopping;
	bool want_memory, want_cpu;      /* the spec asks for these limits */
	bool warned_memory, warned_cpu;
	char logs[PROCESS_MAX_PENDING_LOGS][PROCESS_LOG_LINE];
	size_t n_logs;
	struct cgroup_set cg;
	struct probe *probes;
	unsigned n_probes;
	unsigned in_cb;                  /* inside a callback to the orchestrator */
	enum dispose dispose;
	bool given_up;                   /* released or forgotten: not in n_handles */
	unsigned closing;                /* uv handles not closed yet */
};

/* ---- after a restart (process_marks.c) ------------------------------------------ */

/* The leader of the container whose processes carry TRIPLINE_TASK_MARK=mark:
 * 0 with its pid and start time, or -ESRCH. */
int process_marks_leader(struct driver *d, const char *mark, pid_t *pid, unsigned long long *start_time);
/* An adopted container holds the processes carrying mark or mark + "/…"
 * (NULL: none) and
 * its cgroup named cgroup_name (NULL: none): the sweep leaves them. */
void process_marks_claim(struct driver *d, const char *mark, const char *cgroup_name);
/* driver_ops.sweep: kills and removes what no adopted container claimed. */
void process_sweep(struct driver *d);
/* Drops the scan (the driver is freed without a sweep). */
void process_marks_free(struct driver *d);

/* ---- probes (process_probe.c) --------------------------------------------------- */

struct probe {
	struct probe *next, **pprev;     /* in c->probes or d->orphans */
	struct driver *d;
	struct drv_container *c;         /* NULL once orphaned */
	drv_probe_fn done;               /* NULL once delivered or orphaned */
	void *arg;
	struct spawn *spawn;             /* in flight */
	pid_t pid;
	int pidfd;
	bool poll_init;
	uv_poll_t poll;
	uv_timer_t timer;                /* timeout, or a deferred failure */
	bool failed;                     /* could not run: done(-1) from the timer */
	unsigned closing;
};

/* driver_ops.probe */
int process_probe(struct drv_container *c, char *const *argv, unsigned timeout_s, drv_probe_fn done,
		  void *arg);
/* Its container is going away: kill it, never call done, reap it later
 * (it moves to d->orphans). */
void process_probe_orphan(struct probe *p);
/* Unlinks p and closes its handles; freed on the loop's next turn. */
void process_probe_close(struct probe *p);

#endif
