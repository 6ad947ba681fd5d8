/*
 * process_internal.h — what the files of the process driver share; private
 * to them (the driver's only export is driver_process_ops, driver.h).
 *
 *   driver_process.c   the ops: container handles, callbacks, watching,
 *                      stop, save/adopt, release/forget, init/shutdown
 *   process_ctx.c      the run context: environment, working directory,
 *                      user, PATH candidates (resolved in the parent)
 *   process_spawn.c    starting a process: the child's code up to execve
 *   process_probe.c    probes (health checks) in a container's context
 *   cgroup.c           cgroups (cgroup.h)
 *
 * Everything runs on the loop thread.
 */
#ifndef TRIPLINE_ORCH_PROCESS_INTERNAL_H
#define TRIPLINE_ORCH_PROCESS_INTERNAL_H

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

/* What a process runs with, kept for probes: copies, freed with the handle. */
struct run_ctx {
	char **env;            /* NULL-terminated; wiped when freed */
	char *cwd;
	char *log_path;
	char *user;            /* as given, for messages; NULL: the daemon's */
	bool set_user;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	int user_err;          /* resolution failed: -errno, user_why says why */
	char user_why[256];
};

/* Copies what probes need. 0, or -errno for a malformed spec/ENOMEM; a user
 * that cannot be resolved is kept in x->user_err, not returned. */
int process_ctx_init(struct run_ctx *x, const struct drv_spec *spec);
void process_ctx_free(struct run_ctx *x);

/* A NULL-terminated copy of src (at most PROCESS_MAX_LIST strings of at
 * most PROCESS_MAX_STRING bytes: -E2BIG); freed by process_strv_free(). */
int process_strv_copy(char *const *src, char ***ret);
/* Frees v, wiping each string first when asked (an environment). */
void process_strv_free(char **v, bool wipe);

/* Executables to try for argv0 (NULL-terminated, malloc'd): itself when it
 * has a '/', else each non-empty entry of env's PATH. */
int process_exec_candidates(const char *argv0, char *const *env, char ***ret);

/* ---- spawning (process_spawn.c) ---------------------------------------------- */

/* What the child reports through the status pipe. */
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
	int32_t step;
	int32_t err;
};

struct spawn_req {
	char *const *argv;
	char *const *env;
	char **candidates;
	const char *cwd;
	const struct run_ctx *ctx;
	int log_fd, null_fd;
	int cg_fds[2];
	size_t n_cg;
};

/* Opens what a spawn needs in the parent: the log (append), /dev/null and
 * the cgroup.procs of cg. 0 or -errno with why. */
int process_spawn_open(struct spawn_req *r, const struct run_ctx *ctx, const struct cgroup_set *cg,
		       char *why, size_t whylen);
/* Closes what process_spawn_open() opened and frees r->candidates. */
void process_spawn_close(struct spawn_req *r);
/* Forks and execs. 0: *ret_pid runs r->argv; or *fatal holds what failed in
 * the child, which is already reaped (*ret_pid 0). *cg_err: joining a cgroup
 * failed (errno), the process runs regardless. -errno: fork failed. */
int process_spawn(const struct spawn_req *r, pid_t *ret_pid, struct spawn_report *fatal, int *cg_err);
/* "setsid", "exec", … for a reason. */
const char *process_step_name(int step);
/* pidfd_open(2): the fd, or -errno. */
int process_pidfd_open(pid_t pid);

/* ---- the driver and its handles (driver_process.c) ---------------------------- */

struct probe;

struct driver {
	uv_loop_t *loop;
	const struct drv_events *ev;
	struct cgroup_host *cg;
	char boot_id[64];
	size_t n_handles;
	struct probe *orphans;          /* probes of released handles, until reaped */
};

enum c_state {
	C_RUNNING,
	C_DRAINING,    /* leader gone; emptying the cgroup before `exited` */
	C_DONE,        /* `exited` (or a failed `started`) delivered */
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
	char runtime_id[16];
	struct run_ctx ctx;
	enum c_state state;
	bool started_due;                /* launch(): `started` not delivered yet */
	pid_t pid;                       /* 0: no process */
	unsigned long long start_time;
	char boot_id[64];
	int pidfd;
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
	bool warned_memory, warned_cpu;
	char logs[PROCESS_MAX_PENDING_LOGS][PROCESS_LOG_LINE];
	size_t n_logs;
	struct cgroup_set cg;
	struct probe *probes;
	unsigned n_probes;
	unsigned in_cb;                  /* inside a callback to the orchestrator */
	enum dispose dispose;
	unsigned closing;                /* uv handles not closed yet */
};

/* ---- probes (process_probe.c) --------------------------------------------------- */

struct probe {
	struct probe *next, **pprev;     /* in c->probes or d->orphans */
	struct driver *d;
	struct drv_container *c;         /* NULL once orphaned */
	drv_probe_fn done;               /* NULL once delivered or orphaned */
	void *arg;
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
