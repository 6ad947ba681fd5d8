/*
 * process_probe.c — probes (health checks) of the process driver: an argv
 * run in a container's context, its exit code handed to done().
 *
 * A probe runs with the container's environment, working directory, user,
 * cgroups and log file, in a process group of its own. It is started like
 * a container, off the loop (process_spawn.c), then watched through its
 * pidfd on the loop. Its timeout counts from probe(): at the timeout done(-1)
 * is called at once and the probe is killed (its whole group; one still
 * starting as soon as it exists) and reaped when the kill has landed. A
 * probe that cannot run (no such program, a user that cannot be switched
 * to) reports -1 from the loop, never from inside probe(). When its
 * container is released or forgotten, a probe still running or starting is
 * killed and moves to the driver's orphans until it is reaped; its done is
 * never called. At most PROCESS_MAX_PROBES run at once per container.
 */
#include "process_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void probe_closed(uv_handle_t *h)
{
	struct probe *p = h->data;

	if (--p->closing)
		return;
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p);
}

static void probe_link(struct probe *p, struct probe **head)
{
	p->next = *head;
	if (*head)
		(*head)->pprev = &p->next;
	*head = p;
	p->pprev = head;
}

static void probe_unlink(struct probe *p)
{
	if (!p->pprev)
		return;
	*p->pprev = p->next;
	if (p->next)
		p->next->pprev = p->pprev;
	p->next = NULL;
	p->pprev = NULL;
	if (p->c)
		p->c->n_probes--;
	p->c = NULL;
}

/* Unlinks p and closes its handles; freed on the loop's next turn. */
void process_probe_close(struct probe *p)
{
	probe_unlink(p);
	p->done = NULL;
	p->closing = 1;
	uv_close((uv_handle_t *)&p->timer, probe_closed);
	if (p->poll_init) {
		p->closing++;
		uv_close((uv_handle_t *)&p->poll, probe_closed);
	}
}

/* Its container is going away: kill it, never call done, reap it later. */
void process_probe_orphan(struct probe *p)
{
	probe_unlink(p);
	p->done = NULL;
	if (p->spawn) {
		/* on_probe_spawned kills what it may have started and reaps it */
		(void)process_spawn_cancel(p->spawn);
		uv_timer_stop(&p->timer);
		probe_link(p, &p->d->orphans);
		return;
	}
	if (!p->pid || !p->poll_init) {
		process_probe_close(p);
		return;
	}
	kill(-p->pid, SIGKILL);
	uv_timer_stop(&p->timer);
	probe_link(p, &p->d->orphans);
}

static void on_probe_exit(uv_poll_t *h, int status, int events)
{
	struct probe *p = h->data;
	siginfo_t si;
	int code = -1;

	(void)status;
	(void)events;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0)
		return;  /* spurious */
	uv_poll_stop(&p->poll);
	kill(-p->pid, SIGKILL);  /* whatever it left in its group */
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid == p->pid)
		code = si.si_code == CLD_EXITED ? si.si_status & 0xff : 128 + si.si_status;
	drv_probe_fn done = p->done;
	void *arg = p->arg;
	process_probe_close(p);
	if (done)
		done(arg, code);
}

static void on_probe_timer(uv_timer_t *t)
{
	struct probe *p = t->data;
	drv_probe_fn done = p->done;
	void *arg = p->arg;

	if (p->failed) {
		process_probe_close(p);
	} else {
		/* timed out: answer now; kill it (or, still starting, let
		 * on_probe_spawned do so) and reap it when the kill has landed */
		if (p->pid)
			kill(-p->pid, SIGKILL);
		else if (p->spawn)
			(void)process_spawn_cancel(p->spawn);
		p->done = NULL;
	}
	if (done)
		done(arg, -1);
}

/* The probe's spawn is over (on the loop). */
static void on_probe_spawned(struct spawn *s, int status)
{
	struct probe *p = s->arg;
	struct driver *d = p->d;
	bool watched = false;

	p->spawn = NULL;
	if (status == 0 && s->pid) {
		p->pid = s->pid;
		p->pidfd = s->pidfd;
		s->pidfd = -1;
	}
	process_spawn_free(s);
	if (p->pid && !d->shut && uv_poll_init(d->loop, &p->poll, p->pidfd) == 0) {
		p->poll_init = true;
		p->poll.data = p;
		watched = uv_poll_start(&p->poll, UV_READABLE, on_probe_exit) == 0;
	}
	if (p->pid && !watched) {
		/* cannot watch it (or the driver is gone): do not leave it running */
		kill(-p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (!watched) {
		drv_probe_fn done = p->done;
		void *arg = p->arg;
		process_probe_close(p);
		process_spawn_finished(d);
		if (done)
			done(arg, -1);
		return;
	}
	if (!p->done)
		kill(-p->pid, SIGKILL);   /* timed out or orphaned meanwhile: reaped on exit */
	process_spawn_finished(d);
}

int process_probe(struct drv_container *c, char *const *argv, unsigned timeout_s,
		  drv_probe_fn done, void *arg)
{
	struct spawn *s = NULL;

	if (!c || !argv || !argv[0] || !argv[0][0] || !done)
		return -EINVAL;
	for (size_t i = 0; argv[i]; i++)
		if (i >= PROCESS_MAX_LIST || strnlen(argv[i], PROCESS_MAX_STRING + 1) > PROCESS_MAX_STRING)
			return -E2BIG;
	if (!c->pid || c->state != C_RUNNING || c->cancel)
		return -ESRCH;
	if (c->n_probes >= PROCESS_MAX_PROBES)
		return -EBUSY;

	struct probe *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->d = c->d;
	p->done = done;
	p->arg = arg;
	p->pidfd = -1;
	uv_timer_init(c->d->loop, &p->timer);
	p->timer.data = p;
	probe_link(p, &c->probes);
	p->c = c;
	c->n_probes++;

	if (!c->ctx->user_err && process_spawn_new(c->ctx, argv, &s) == 0)
		process_spawn_join_cgroups(s, &c->cg);
	if (!s || process_spawn_start(c->d->loop, s, on_probe_spawned, p) < 0) {
		process_spawn_free(s);
		/* could not run: done(-1) from the loop */
		p->failed = true;
		uv_timer_start(&p->timer, on_probe_timer, 0, 0);
		return 0;
	}
	p->spawn = s;
	c->d->n_spawns++;
	uv_timer_start(&p->timer, on_probe_timer, (uint64_t)timeout_s * 1000, 0);
	return 0;
}
