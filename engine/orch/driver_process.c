/*
 * driver_process.c — the process driver: a container is an argv exec'd
 * directly on the host, in its own session and process group, with limits
 * through cgroups when the host lets us write them. This file holds the
 * ops table and the container handles; the run context (process_ctx.c),
 * spawning (process_spawn.c), probes (process_probe.c) and cgroups
 * (cgroup.c) have files of their own (process_internal.h).
 *
 * Launch is asynchronous: launch() copies the run context (environment,
 * user resolved to ids, PATH candidates) and queues a spawn; the
 * container's cgroups, its files, clone and execve happen on a libuv
 * threadpool thread (process_spawn.c says how and why), and `started`
 * comes from the loop when the spawn is over — 0 with the pid known, or
 * the errno and reason of the step that failed (exec of a missing or
 * non-executable file, chdir, setuid, the log file…). A failure found
 * before anything is queued (a user that does not resolve) is reported from
 * a 0 ms timer: `started` never comes from inside launch(). A stop() before
 * `started` cancels the start: a spawn not yet begun never runs, a process
 * already made is SIGKILLed (group and cgroup) and reaped, and then
 * `started` reports -ECANCELED, with no `exited`. release() or forget()
 * before `started` also cancels a spawn that has not cloned yet, and takes
 * effect when the spawn is over (no callback); forget leaves a process
 * that did start running.
 *
 * Watching: a pidfd (pidfd_open) polled by the loop. When the leader exits,
 * the rest of its process group is SIGKILLed (before the leader is reaped, so
 * the group id cannot have been reused) and so is every pid left in its
 * cgroup, like a container whose PID 1 exits; `exited` comes once the cgroup
 * is empty (or after SWEEP_TRIES sweeps) and the container's log monitor
 * (logmon.h) has written the last of its output (or after 2 s). Exit codes follow Docker: 128+N for
 * signal N. An OOM kill is read from the memory cgroup.
 *
 * Restart: save() records pid, start time (field 22 of /proc/<pid>/stat),
 * boot id and cgroup; adopt() accepts the process only when all three still
 * match, and then watches it through a pidfd too. With nothing saved (the
 * daemon died between the spawn and the write), adopt() finds the leader
 * by the container's mark (process_marks.c); sweep() then kills what
 * carries this data directory's mark or sits in its cgroups and no
 * adopted container holds. A process that is not our
 * child has an unknown exit code (-1); one that is (a re-exec'd daemon) is
 * reaped and its code reported.
 *
 * Contract (driver.h): callbacks only from the loop, never from inside the
 * call that caused them; `started` once for launch(), `exited` once;
 * spec->env is copied for probes, wiped when freed, never logged. Callbacks
 * may release, forget or stop the handle they are about: a handle asked to
 * go away inside a callback is freed when the callback returns. Not
 * thread-safe: call from the loop thread.
 */
#include "process_internal.h"
#include "logmon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "logger.h"

#define SWEEP_INTERVAL_MS 20
#define SWEEP_TRIES 100                /* 2 s for a cgroup to empty */
#define MONITOR_INTERVAL_MS 2
#define MONITOR_TRIES 1000             /* 2 s for the log monitor to finish */

#define REASON_OOM "OutOfMemoryError: container killed for exceeding its memory limit"
#define REASON_ADOPTED_EXIT "exit code unknown: the process was started before tripline restarted"
#define REASON_GONE "exited while the daemon was down; exit code unknown"
#define REASON_CANCELED "stopped before it started"

/* ---- handles ----------------------------------------------------------- */

static void queue_log(struct drv_container *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Log lines wait for the loop like every other callback. */
static void queue_log(struct drv_container *c, const char *fmt, ...)
{
	va_list ap;

	if (c->n_logs >= PROCESS_MAX_PENDING_LOGS)
		return;
	va_start(ap, fmt);
	vsnprintf(c->logs[c->n_logs++], PROCESS_LOG_LINE, fmt, ap);
	va_end(ap);
}

static void warn_memory(struct drv_container *c, const char *why)
{
	if (!c->warned_memory)
		queue_log(c, "%s: memory limit not applied: %s", c->name, why);
	c->warned_memory = true;
}

static void warn_cpu(struct drv_container *c, const char *why)
{
	if (!c->warned_cpu)
		queue_log(c, "%s: cpu limit not applied: %s", c->name, why);
	c->warned_cpu = true;
}

/* The container's whole process group; the leader alone when it is not a
 * group leader (a state file from elsewhere), through its pidfd. */
static void signal_group(struct drv_container *c, int sig)
{
	if (kill(-c->pid, sig) < 0 && errno == ESRCH && c->pidfd >= 0)
		(void)syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0u);
}

static void container_closed(uv_handle_t *h)
{
	struct drv_container *c = h->data;

	if (--c->closing)
		return;
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->mon_fd >= 0)
		close(c->mon_fd);
	process_ctx_unref(c->ctx);
	free(c);
}

/* Frees c now (no callback is running): release also kills what is left and
 * removes the cgroups; forget leaves the process alone. */
static void dispose_now(struct drv_container *c)
{
	struct driver *d = c->d;
	bool release = c->dispose == DISPOSE_RELEASE;

	if (!c->given_up) {
		c->given_up = true;
		d->n_handles--;
	}
	if (c->spawn) {
		/* the spawn in flight finishes the disposal (on_spawned) */
		(void)process_spawn_cancel(c->spawn);
		return;
	}
	while (c->probes)
		process_probe_orphan(c->probes);
	if (release && c->pid && c->state == C_RUNNING) {
		/* released while running (not the contract's order): do not leak it */
		signal_group(c, SIGKILL);
		if (!c->adopted)
			(void)waitpid(c->pid, NULL, WNOHANG);
	}
	if (release)
		cgroup_remove(d->cg, &c->cg);
	c->closing = 2;
	uv_close((uv_handle_t *)&c->kill_timer, container_closed);
	uv_close((uv_handle_t *)&c->defer, container_closed);
	if (c->poll_init) {
		c->closing++;
		uv_close((uv_handle_t *)&c->poll, container_closed);
	}
}

/* After a callback into the orchestrator: false when it disposed of c. */
static bool leave_cb(struct drv_container *c)
{
	if (--c->in_cb == 0 && c->dispose != DISPOSE_NONE) {
		dispose_now(c);
		return false;
	}
	return true;
}

static void request_dispose(struct drv_container *c, enum dispose how)
{
	if (!c || c->dispose != DISPOSE_NONE)
		return;
	c->dispose = how;
	if (c->in_cb == 0)
		dispose_now(c);
}

static bool flush_logs(struct drv_container *c)
{
	const struct drv_events *ev = c->d->ev;
	size_t n = c->n_logs;

	c->n_logs = 0;
	for (size_t i = 0; i < n && ev->log; i++) {
		c->in_cb++;
		ev->log(c->owner, LOG_LEVEL_WARN, c->logs[i]);
		if (!leave_cb(c))
			return false;
	}
	return true;
}

/* Delivers `started` if it is due — for a start cancelled after its
 * process was made, only once that process is gone; false when c was
 * disposed of. */
static bool deliver_started(struct drv_container *c)
{
	if (!c->started_due || (c->cancel && c->state != C_DONE))
		return true;
	c->started_due = false;
	if (!flush_logs(c))
		return false;
	c->in_cb++;
	c->d->ev->started(c->owner, c->start_err, c->start_err ? c->start_reason : NULL);
	return leave_cb(c);
}

static void finish_exit(struct drv_container *c)
{
	struct drv_exit e;

	uv_timer_stop(&c->kill_timer);
	uv_timer_stop(&c->defer);
	c->state = C_DONE;
	if (c->started_due) {
		/* stop() came before `started`: its process is gone, report the cancel */
		c->pid = 0;
		c->start_err = -ECANCELED;
		snprintf(c->start_reason, sizeof(c->start_reason), "%s", REASON_CANCELED);
		deliver_started(c);
		return;
	}
	bool oom = cgroup_oom_killed(c->d->cg, &c->cg);
	e.exit_code = c->exit_code;
	e.oom_killed = oom;
	e.reason = oom ? REASON_OOM : c->exit_reason[0] ? c->exit_reason : NULL;
	if (!flush_logs(c))
		return;
	c->in_cb++;
	c->d->ev->exited(c->owner, &e);
	leave_cb(c);
}

static void on_defer(uv_timer_t *t);

/* Whether the log monitor has written all of the output (logmon.h); it
 * is not waited for longer than MONITOR_TRIES checks. */
static bool monitor_done(struct drv_container *c)
{
	if (c->mon_fd < 0)
		return true;
	if (!logmon_done(c->mon_fd) && ++c->mon_waits < MONITOR_TRIES)
		return false;
	close(c->mon_fd);
	c->mon_fd = -1;
	return true;
}

/* Empties the cgroup before `exited`, a sweep every SWEEP_INTERVAL_MS,
 * then lets the log monitor finish the log file. */
static void drain_continue(struct drv_container *c)
{
	if (c->mon_waits == 0 && cgroup_kill(&c->cg) > 0 && ++c->sweeps < SWEEP_TRIES) {
		uv_timer_start(&c->defer, on_defer, SWEEP_INTERVAL_MS, 0);
		return;
	}
	if (!monitor_done(c)) {
		uv_timer_start(&c->defer, on_defer, MONITOR_INTERVAL_MS, 0);
		return;
	}
	finish_exit(c);
}

static void on_defer(uv_timer_t *t)
{
	struct drv_container *c = t->data;

	if (!deliver_started(c))
		return;
	if (c->state == C_DRAINING)
		drain_continue(c);
}

/* The leader is gone (pidfd readable): kill the rest, learn the exit code. */
static void on_container_exit(uv_poll_t *h, int status, int events)
{
	struct drv_container *c = h->data;
	siginfo_t si;

	(void)status;
	(void)events;
	if (c->state != C_RUNNING)
		return;
	memset(&si, 0, sizeof(si));
	int w = waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT);
	bool child = w == 0;
	if (child && si.si_pid == 0)
		return;  /* still running: a spurious wake-up */
	uv_poll_stop(&c->poll);
	/* a child of ours is a zombie until reaped below, so its id still names
	 * its group; a non-child's group id stays reserved while members remain */
	kill(-c->pid, SIGKILL);
	c->exit_code = -1;
	if (child) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid == c->pid)
			c->exit_code = si.si_code == CLD_EXITED ? si.si_status & 0xff : 128 + si.si_status;
	}
	if (c->exit_code < 0)
		snprintf(c->exit_reason, sizeof(c->exit_reason), "%s",
			 c->adopted ? REASON_ADOPTED_EXIT : "exit code unknown");
	c->state = C_DRAINING;
	c->sweeps = 0;
	if (!deliver_started(c))
		return;
	drain_continue(c);
}

static void on_kill_timer(uv_timer_t *t)
{
	struct drv_container *c = t->data;

	if (c->state != C_RUNNING)
		return;
	signal_group(c, SIGKILL);
	cgroup_kill(&c->cg);
}

static struct drv_container *container_new(struct driver *d, const struct drv_spec *spec,
					   void *owner)
{
	struct drv_container *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->d = d;
	c->owner = owner;
	c->pidfd = c->mon_fd = -1;
	snprintf(c->name, sizeof(c->name), "%s", spec->container_name ? spec->container_name : "?");
	uv_timer_init(d->loop, &c->kill_timer);
	uv_timer_init(d->loop, &c->defer);
	c->kill_timer.data = c;
	c->defer.data = c;
	memcpy(c->boot_id, d->boot_id, sizeof(c->boot_id));
	d->n_handles++;
	return c;
}

static int watch(struct drv_container *c)
{
	int r = uv_poll_init(c->d->loop, &c->poll, c->pidfd);
	if (r < 0)
		return r;
	c->poll_init = true;
	c->poll.data = c;
	return uv_poll_start(&c->poll, UV_READABLE, on_container_exit);
}

/* ---- the ops ----------------------------------------------------------- */

static void fail_start(struct drv_container *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail_start(struct drv_container *c, int err, const char *fmt, ...)
{
	va_list ap;

	c->start_err = err;
	c->state = C_DONE;
	va_start(ap, fmt);
	vsnprintf(c->start_reason, sizeof(c->start_reason), fmt, ap);
	va_end(ap);
}

/* The spawn is over (on the loop): the process runs, or `started` says why
 * not; a handle given up meanwhile is disposed of now. */
static void on_spawned(struct spawn *s, int status)
{
	struct drv_container *c = s->arg;
	struct driver *d = c->d;
	char why[PROCESS_REASON_LEN];
	int r = status < 0 ? status : process_spawn_reason(s, s->argv[0], why, sizeof(why));

	c->spawn = NULL;
	c->cg = s->cg;   /* what the spawn made, even when the start failed */
	if (s->cg_warn.memory[0])
		warn_memory(c, s->cg_warn.memory);
	if (s->cg_warn.cpu[0])
		warn_cpu(c, s->cg_warn.cpu);
	if (r == 0) {
		c->pid = s->pid;
		c->pidfd = s->pidfd;
		s->pidfd = -1;
		c->mon_fd = s->mon_fd;
		s->mon_fd = -1;
		c->start_time = s->start_time;
		c->state = C_RUNNING;
	}
	if (s->cg_err) {
		snprintf(why, sizeof(why), "joining the cgroup: %s", strerror(s->cg_err));
		if (c->want_memory)
			warn_memory(c, why);
		if (c->want_cpu)
			warn_cpu(c, why);
	}
	process_spawn_free(s);
	if (c->dispose != DISPOSE_NONE) {
		/* released or forgotten before `started`: no callback any more;
		 * forget leaves a process that did start running */
		if (!c->pid)
			c->state = C_DONE;
		dispose_now(c);
		process_spawn_finished(d);
		return;
	}
	process_spawn_finished(d);
	if (r < 0) {
		if (r == -ECANCELED)
			fail_start(c, r, "%s", REASON_CANCELED);
		else
			fail_start(c, r, "%s", why);
		deliver_started(c);
		return;
	}
	if ((r = watch(c)) < 0) {
		signal_group(c, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		c->pid = 0;
		fail_start(c, r, "watching the process: %s", strerror(-r));
		deliver_started(c);
		return;
	}
	if (c->cancel) {
		/* stop() came first: kill it; `started` reports the cancel once
		 * it is gone (finish_exit) */
		signal_group(c, SIGKILL);
		cgroup_kill(&c->cg);
		return;
	}
	snprintf(c->runtime_id, sizeof(c->runtime_id), "%d", (int)c->pid);
	deliver_started(c);
}

static int process_launch(struct driver *d, const struct drv_spec *spec, void *owner,
			  struct drv_container **ret)
{
	struct spawn *s = NULL;
	int r;

	if (!d || !spec || !ret || !spec->argv || !spec->argv[0] || !spec->argv[0][0] ||
	    !spec->log_path || !spec->container_name)
		return -EINVAL;
	for (size_t i = 0; spec->argv[i]; i++)
		if (i >= PROCESS_MAX_LIST ||
		    strnlen(spec->argv[i], PROCESS_MAX_STRING + 1) > PROCESS_MAX_STRING)
			return -E2BIG;

	struct drv_container *c = container_new(d, spec, owner);
	if (!c)
		return -ENOMEM;
	if ((r = process_ctx_new(spec, &c->ctx)) < 0)
		goto out_free;

	c->started_due = true;
	c->want_memory = spec->memory_limit || spec->memory_reservation;
	c->want_cpu = spec->cpu_units > 0;
	if (spec->n_mounts)
		queue_log(c, "%s: the process driver does not mount volumes; %zu mount point(s) ignored",
			  c->name, spec->n_mounts);
	if (c->ctx->user_err) {
		fail_start(c, c->ctx->user_err, "%s", c->ctx->user_why);
		goto out_deferred;
	}
	if ((r = process_spawn_new(c->ctx, spec->argv, &s)) < 0) {
		fail_start(c, r, "%s", strerror(-r));
		goto out_deferred;
	}
	/* made on the threadpool with the rest: a v1 memory cgroup is ~1 ms */
	struct cgroup_limits lim = {spec->memory_limit, spec->memory_reservation, spec->cpu_units};
	char name[256];
	bool named = cgroup_name(spec->task_id, spec->container_name, name, sizeof(name)) == 0;
	process_spawn_make_cgroups(s, d->cg, named ? name : NULL, &lim);
	if (d->log_monitor[0])
		process_spawn_monitor_log(s, d->log_monitor, spec->log_max_bytes, spec->log_keep);
	if ((r = process_spawn_start(d->loop, s, on_spawned, c)) < 0) {
		process_spawn_free(s);
		fail_start(c, r, "starting the process: %s", uv_strerror(r));
		goto out_deferred;
	}
	c->spawn = s;
	c->state = C_SPAWNING;
	d->n_spawns++;
	*ret = c;
	return 0;
out_deferred:
	uv_timer_start(&c->defer, on_defer, 0, 0);
	*ret = c;
	return 0;
out_free:
	c->dispose = DISPOSE_FORGET;
	dispose_now(c);
	return r;
}

static int process_stop(struct drv_container *c, unsigned timeout_s)
{
	if (!c)
		return -EINVAL;
	if (c->state == C_SPAWNING && c->spawn) {
		/* before `started`: cancel the start (on_spawned) */
		c->cancel = true;
		(void)process_spawn_cancel(c->spawn);
		return 0;
	}
	if (!c->pid || c->state != C_RUNNING || c->stopping || c->cancel)
		return 0;
	c->stopping = true;
	signal_group(c, SIGTERM);
	uv_timer_start(&c->kill_timer, on_kill_timer, (uint64_t)timeout_s * 1000, 0);
	return 0;
}

static const char *process_runtime_id(const struct drv_container *c)
{
	return c ? c->runtime_id : "";
}

static json_t *process_save(const struct drv_container *c)
{
	json_t *o;

	if (!c || !c->pid || c->started_due || !(o = json_object()))
		return NULL;
	if (json_object_set_new(o, "pid", json_integer(c->pid)) < 0 ||
	    json_object_set_new(o, "start_time", json_integer((json_int_t)c->start_time)) < 0 ||
	    json_object_set_new(o, "boot_id", json_string(c->boot_id)) < 0 ||
	    json_object_set_new(o, "cgroup", c->cg.path[0] ? json_string(c->cg.path) : json_null()) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int process_adopt(struct driver *d, const struct drv_spec *spec, const json_t *state,
			 void *owner, struct drv_container **ret)
{
	json_t *jpid = json_object_get(state, "pid");
	json_t *jstart = json_object_get(state, "start_time");
	json_t *jboot = json_object_get(state, "boot_id");
	json_t *jcg = json_object_get(state, "cgroup");
	unsigned long long now_start = 0, mstart = 0;
	json_int_t pid, start;
	const char *boot;
	pid_t mpid;
	int r;

	if (!d || !spec || !ret)
		return -EINVAL;
	if (!state) {
		/* nothing saved: the daemon stopped between the spawn and the write
		 * of its identity; the container's mark finds its leader */
		if ((r = process_marks_leader(d, spec->mark, &mpid, &mstart)) < 0)
			return r;
		pid = mpid;
		start = (json_int_t)mstart;
		boot = d->boot_id;
		jcg = NULL;
	} else {
		if (!json_is_object(state) || !json_is_integer(jpid) || !json_is_integer(jstart) ||
		    !json_is_string(jboot) || (jcg && !json_is_string(jcg) && !json_is_null(jcg)))
			return -EINVAL;
		pid = json_integer_value(jpid);
		start = json_integer_value(jstart);
		boot = json_string_value(jboot);
	}
	if (pid <= 1 || pid > INT_MAX || start < 0 || strlen(boot) >= sizeof(d->boot_id))
		return -EINVAL;

	struct drv_container *c = container_new(d, spec, owner);
	if (!c)
		return -ENOMEM;
	if ((r = process_ctx_new(spec, &c->ctx)) < 0) {
		c->dispose = DISPOSE_FORGET;
		dispose_now(c);
		return r;
	}
	c->adopted = true;
	c->state = C_RUNNING;
	c->pid = (pid_t)pid;
	c->start_time = (unsigned long long)start;
	memcpy(c->boot_id, boot, strlen(boot) + 1);
	snprintf(c->runtime_id, sizeof(c->runtime_id), "%d", c->pid);
	char name[256];
	bool named = cgroup_name(spec->task_id, spec->container_name, name, sizeof(name)) == 0;
	if (named)
		cgroup_adopt(d->cg, name, json_is_string(jcg) ? json_string_value(jcg) : NULL, !state, &c->cg);
	/* its cgroup is this handle's to empty and remove, running or not */
	process_marks_claim(d, NULL, named && (c->cg.path[0] || c->cg.cpu_path[0]) ? name : NULL);

	/* open the pidfd before checking the start time: if it still matches
	 * afterwards, the pidfd names that very process */
	bool same = !strcmp(boot, d->boot_id);
	if (same && (r = process_pidfd_open(c->pid)) < 0) {
		if (r != -ESRCH) {
			c->dispose = DISPOSE_FORGET;
			dispose_now(c);
			return r;
		}
		same = false;
	}
	c->pidfd = same ? r : -1;
	same = same && process_start_time(c->pid, &now_start) == 0 && now_start == c->start_time;
	if (same) {
		if ((r = watch(c)) < 0) {
			c->dispose = DISPOSE_FORGET;
			dispose_now(c);
			return r;
		}
		process_marks_claim(d, spec->mark, NULL);
		*ret = c;
		return 0;
	}
	/* gone (or not ours any more): report it from the loop; leftovers in its
	 * cgroup are killed by the drain, marked ones by the sweep */
	if (c->pidfd >= 0) {
		close(c->pidfd);
		c->pidfd = -1;
	}
	c->exit_code = -1;
	snprintf(c->exit_reason, sizeof(c->exit_reason), "%s", REASON_GONE);
	c->state = C_DRAINING;
	uv_timer_start(&c->defer, on_defer, 0, 0);
	*ret = c;
	return 0;
}

static void process_release(struct drv_container *c)
{
	request_dispose(c, DISPOSE_RELEASE);
}

static void process_forget(struct drv_container *c)
{
	request_dispose(c, DISPOSE_FORGET);
}


/* ---- the driver -------------------------------------------------------- */

static int process_init(uv_loop_t *loop, const struct drv_config *cfg,
			const struct drv_events *events, struct driver **ret, char *err, size_t errlen)
{
	ssize_t n;
	int r;

	if (!loop || !events || !events->started || !events->exited || !ret) {
		if (err && errlen)
			snprintf(err, errlen, "process driver: a loop and the started/exited callbacks are required");
		return -EINVAL;
	}
	struct driver *d = calloc(1, sizeof(*d));
	if (!d) {
		if (err && errlen)
			snprintf(err, errlen, "process driver: out of memory");
		return -ENOMEM;
	}
	d->loop = loop;
	d->ev = events;
	if ((n = process_read_proc("/proc/sys/kernel/random/boot_id", d->boot_id, sizeof(d->boot_id))) <= 0) {
		if (err && errlen)
			snprintf(err, errlen, "process driver: reading /proc/sys/kernel/random/boot_id: %s",
				 n < 0 ? strerror((int)-n) : "empty");
		free(d);
		return n < 0 ? (int)n : -EIO;
	}
	d->boot_id[strcspn(d->boot_id, " \t\r\n")] = '\0';
	if (cfg && cfg->log_monitor)
		snprintf(d->log_monitor, sizeof(d->log_monitor), "%s", cfg->log_monitor);
	if (cfg && cfg->instance_id)
		snprintf(d->instance, sizeof(d->instance), "%s", cfg->instance_id);
	if ((r = cgroup_host_open(loop, cfg ? cfg->cgroup_root : NULL, d->instance[0] ? d->instance : NULL,
				  &d->cg)) < 0) {
		if (err && errlen)
			snprintf(err, errlen, "process driver: out of memory");
		free(d);
		return r;
	}
	*ret = d;
	return 0;
}

/* After shutdown() and the last spawn: the spawns used the cgroup host. */
static void driver_free(struct driver *d)
{
	process_marks_free(d);
	cgroup_host_close(d->cg);
	free(d);
}

void process_spawn_finished(struct driver *d)
{
	if (--d->n_spawns == 0 && d->shut)
		driver_free(d);
}

static void process_shutdown(struct driver *d)
{
	if (!d)
		return;
	if (d->n_handles)
		log_error(PROCESS_COMPONENT, "shutdown with %zu container handle(s) neither released nor forgotten",
			  d->n_handles);
	/* orphaned probes still starting are finished by their spawn */
	for (struct probe *p = d->orphans, *next; p; p = next) {
		next = p->next;
		if (p->spawn)
			continue;
		(void)waitpid(p->pid, NULL, WNOHANG);
		process_probe_close(p);
	}
	/* spawns in flight (of handles already given up) need d and its
	 * cgroup host until they end */
	d->shut = true;
	if (d->n_spawns == 0)
		driver_free(d);
}

const struct driver_ops driver_process_ops = {
	.name = "process",
	.init = process_init,
	.shutdown = process_shutdown,
	.launch = process_launch,
	.stop = process_stop,
	.probe = process_probe,
	.save = process_save,
	.adopt = process_adopt,
	.sweep = process_sweep,
	.runtime_id = process_runtime_id,
	.release = process_release,
	.forget = process_forget,
};
