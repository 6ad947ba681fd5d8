/*
 * driver.h — how the orchestrator runs one container: the driver ops table.
 *
 * A task is one or more containers; the orchestrator (task.c) owns the task
 * lifecycle and asks a driver to run, stop, probe and re-adopt each
 * container. The drivers are listed in one table in orch.c (which launch
 * types each runs, whether the daemon needs it to start); two implement
 * this ops table:
 *
 *   process (driver_process.c)  an argv exec'd directly, never through a
 *                               shell, in its own session and process
 *                               group, limits through cgroups when writable;
 *   docker  (driver_docker.c)   a container through the Docker Engine API
 *                               (or podman's compatible socket).
 *
 * Contract every driver keeps:
 *   - Everything runs on the loop thread; no call blocks for long (no wait
 *     on a child, no synchronous HTTP round trip longer than a local socket's).
 *   - Callbacks (started, exited, log, probe results) are never made from
 *     inside the call that caused them: launch() returns, and `started`
 *     comes later from the loop. Strings passed to a callback are valid
 *     during the call only (copy what you keep). stop(), release() and
 *     forget() may be called from inside a callback.
 *   - For a container handle, `started` is called exactly once (for
 *     launch(); never for adopt()), then `exited` exactly once, whatever
 *     happens (stop(), a crash, the process vanishing). After `exited` the
 *     orchestrator calls release(). forget() drops a handle without touching
 *     what runs (the daemon is stopping and leaves tasks running).
 *   - The directories of a launch (spec->log_path's and spec->scratch_dir)
 *     are the driver's to create, off the loop where it can: creating a
 *     directory can take milliseconds on a busy file system.
 *   - stdout and stderr of the container are appended to spec->log_path
 *     (created 0600 if missing), and the driver keeps it within its bound:
 *     no file larger than spec->log_max_bytes at any moment, rotated by
 *     rename to .1 … .<log_keep> (logrot.h), also while the daemon is down
 *     where the container outlives it (process: a log monitor, logmon.h).
 *   - The environment (spec->env) holds secrets: it is never logged, never
 *     written to a file, never put in an error message.
 *   - Exit codes follow Docker's convention: a process killed by signal N
 *     reports 128 + N (so an OOM kill is 137).
 */
#ifndef TRIPLINE_ORCH_DRIVER_H
#define TRIPLINE_ORCH_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* save() and adopt() trade in a driver's state as jansson objects, kept in
 * the task's state file; the header needs only the name. */
struct json_t;

struct driver;
struct drv_container;

struct drv_mount {
	const char *host_path;        /* absolute */
	const char *container_path;   /* absolute; the process driver ignores it (logs once) */
	bool read_only;
};

/* What to run. Every pointer is borrowed for the duration of launch()/adopt()
 * only; a driver copies what it keeps. */
struct drv_spec {
	const char *task_id;            /* 32 hex digits, unique per task */
	const char *task_arn;
	const char *container_name;     /* unique within the task */
	const char *image;              /* docker: required; process: may be NULL, ignored */
	char *const *argv;              /* NULL-terminated. process: argv[0] is required and is
					   looked up in PATH of env when it has no '/'. docker:
					   may be empty (the image's command), else Cmd */
	char *const *entry_point;       /* docker only: Entrypoint, NULL-terminated, or NULL */
	char *const *env;               /* "NAME=value", NULL-terminated: the whole environment
					   (nothing is inherited from the daemon) */
	const char *working_directory;  /* NULL: process: spec->scratch_dir; docker: the image's */
	const char *user;               /* NULL, "name", "uid", "uid:gid", "name:group" */
	uint32_t dynamic_uid;           /* process, user NULL: nonzero runs it as this uid, the
					   same gid, no supplementary groups; the scratch
					   directory becomes its (DynamicUser=) */
	uint64_t memory_limit;          /* bytes, hard limit; 0 none */
	uint64_t memory_reservation;    /* bytes, soft limit; 0 none */
	uint32_t cpu_units;             /* 1024 = one CPU; 0 none */
	const char *log_path;           /* stdout + stderr appended here; the driver creates its
					   directory (one level, 0700) when missing */
	uint64_t log_max_bytes;         /* per log file; 0: unbounded */
	unsigned log_keep;              /* rotated files kept */
	const char *scratch_dir;        /* a per-task directory the driver may use; the driver
					   creates it (one level, 0700) when missing */
	const struct drv_mount *mounts;
	size_t n_mounts;
	const char *network_mode;       /* docker: "none" (default when NULL), "host", "bridge" */
	const char *cluster;            /* docker labels: which daemon's tasks these are */
	const char *mark;               /* "<instance_id>/<task_id>/<container>": the value of
					   TRIPLINE_TASK_MARK in env, by which adopt() finds the
					   container's processes when no state was saved */
};

/* How a container ended. */
struct drv_exit {
	int exit_code;        /* 0–255, 128+N for signal N; -1 unknown */
	bool oom_killed;      /* when the driver can tell */
	const char *reason;   /* NULL, or a short text for a person ("OutOfMemoryError: …") */
};

/* Callbacks into the orchestrator; owner is what launch()/adopt() was given. */
struct drv_events {
	/* err 0: running; else -errno and a reason for a person ("exec
	 * /bin/nope: No such file or directory", "pull access denied …"). After
	 * a failed start there is no `exited`; release() is still called. */
	void (*started)(void *owner, int err, const char *reason);
	void (*exited)(void *owner, const struct drv_exit *e);
	/* a line for the daemon's log about this container (limits that could not
	 * be applied, …); level is enum log_level. May be NULL. */
	void (*log)(void *owner, int level, const char *msg);
};

/* done(arg, exit_code) for a probe: 0 healthy, >0 unhealthy, -1 timed out or
 * could not run. */
typedef void (*drv_probe_fn)(void *arg, int exit_code);

struct drv_config {
	const char *cgroup_root;     /* process: NULL detect; "" never use cgroups */
	const char *docker_socket;   /* docker: the Engine API's unix socket */
	const char *state_dir;       /* a directory the driver may keep files in */
	const char *log_monitor;     /* process: the program run as each container's log
					monitor (the tripline binary, logmon.h); NULL: the
					container writes its log file itself, unbounded */
	char *const *allowed_host_paths;   /* docker: bind-mount roots (hostpath.h); outlive the driver */
	size_t n_allowed_host_paths;
	const char *instance_id;     /* the data directory's identity (hex): what the driver
					makes (cgroups, marks) carries it; NULL: none */
};

struct driver_ops {
	const char *name;   /* "process", "docker": also the name kept in task state files */

	/* Whether the image brings its own command: then an empty argv is
	 * allowed and entry_point and argv are passed apart (docker). Else argv
	 * is entryPoint + command and must not be empty (process). */
	bool image_command;

	/* For an error when a task asks for a driver that did not start: what
	 * makes it available ("drivers.docker.socket is not configured or does
	 * not answer"). NULL for a driver that always starts. */
	const char *unavailable_hint;

	/* Whether cfg asks for this driver at all (docker: a socket is set);
	 * NULL: always. A driver not asked for is not started. */
	bool (*configured)(const struct drv_config *cfg);

	/* 0; or -errno and a reason in err (a docker socket that does not answer;
	 * -ENOENT when what it talks to is absent). events and loop outlive the
	 * driver. */
	int (*init)(uv_loop_t *loop, const struct drv_config *cfg, const struct drv_events *events,
		    struct driver **ret, char *err, size_t errlen);
	/* Frees the driver; every handle must have been released or forgotten.
	 * Handles it closes finish on the loop's next turn. */
	void (*shutdown)(struct driver *d);

	/* Begins running spec. 0: *ret is the handle and `started` follows;
	 * -errno: nothing was begun (no callback, no handle). */
	int (*launch)(struct driver *d, const struct drv_spec *spec, void *owner,
		      struct drv_container **ret);

	/* Asks the container to stop: SIGTERM (to the whole process group /
	 * `docker stop`), SIGKILL after timeout_s. Idempotent; `exited` follows.
	 * Called before `started`, a driver may instead cancel the start: then
	 * `started` reports -ECANCELED and no `exited` follows. (The orchestrator
	 * itself waits for `started` before it stops a container.) */
	int (*stop)(struct drv_container *c, unsigned timeout_s);

	/* Runs argv inside the container's context (environment, working
	 * directory, user; the container's namespace for docker), killed after
	 * timeout_s (docker cannot kill an exec: it is reported -1 at the
	 * deadline and left to finish); done() follows from the loop unless the
	 * handle is released first (then done is never called). -ESRCH when
	 * the container is not running. */
	int (*probe)(struct drv_container *c, char *const *argv, unsigned timeout_s, drv_probe_fn done,
		     void *arg);

	/* What identifies the running container across a daemon restart, as a
	 * JSON object (process: pid, start time, boot id; docker: container id).
	 * The orchestrator stores it with the task; a new reference, or NULL
	 * when there is nothing to identify yet. */
	struct json_t *(*save)(const struct drv_container *c);

	/* Takes a container back after a daemon restart from what save() gave.
	 * 0: *ret is the handle; `exited` follows when it ends, and at once (from
	 * the loop) when it ended while the daemon was down (exit_code -1 when it
	 * cannot be known). -EINVAL: state is not this driver's. */
	int (*adopt)(struct driver *d, const struct drv_spec *spec, const struct json_t *state, void *owner,
		     struct drv_container **ret);

	/* After the adopt() calls of a start-up, before any launch: stops and
	 * removes what carries this instance's identity (cfg->instance_id) and no
	 * adopted handle holds — processes whose TRIPLINE_TASK_MARK begins with
	 * "<instance_id>/", cgroups — and logs what it stopped. NULL: nothing to
	 * sweep. state NULL in adopt(): nothing was saved; the process driver
	 * then looks for the container's processes by spec->mark (-ESRCH: none
	 * runs). */
	void (*sweep)(struct driver *d);

	/* The runtime id ECS shows as containers[].runtimeId: the pid in decimal
	 * (process) or the container id (docker). Valid until release/forget. */
	const char *(*runtime_id)(const struct drv_container *c);

	/* After `exited` (or a failed start): frees the handle and what belongs
	 * to it (docker: removes the container; process: its cgroup). */
	void (*release)(struct drv_container *c);
	/* Frees the handle and leaves the container running. */
	void (*forget)(struct drv_container *c);
};

extern const struct driver_ops driver_process_ops;
extern const struct driver_ops driver_docker_ops;

#endif
