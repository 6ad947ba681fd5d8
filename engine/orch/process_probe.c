/*
 * process_probe.c — probes (health checks) of the process driver: an argv
 * run in a container's context, its exit code handed to done().
 *
 * A probe runs with the container's environment, working directory, user,
 * cgroups and log file, in a process group of its own, watched through a
 * pidfd on the loop, and is killed (its whole group) at its timeout, when
 * done(-1) is called at once and the process is reaped when the kill has
 * landed. A probe that cannot run (no such program, a user that cannot be
 * switched to) reports -1 from a 0 ms timer, never from inside probe().
 * When its container is released or forgotten, a probe still running is
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

/* Its container was released: kill it, never call done, reap it later. */
void process_probe_orphan(struct probe *p)
{
	probe_unlink(p);
	p->done = NULL;
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
		/* timed out: answer now, reap when the kill has landed */
		kill(-p->pid, SIGKILL);
		p->done = NULL;
	}
	if (done)
		done(arg, -1);
}

int process_probe(struct drv_container *c, char *const *argv, unsigned timeout_s,
			 drv_probe_fn done, void *arg)
{
	struct spawn_req req = {.log_fd = -1, .null_fd = -1};
	struct spawn_report fatal;
	char why[PROCESS_REASON_LEN];
	int cg_err, r;
	pid_t pid;

	if (!c || !argv || !argv[0] || !argv[0][0] || !done)
		return -EINVAL;
	for (size_t i = 0; argv[i]; i++)
		if (i >= PROCESS_MAX_LIST || strnlen(argv[i], PROCESS_MAX_STRING + 1) > PROCESS_MAX_STRING)
			return -E2BIG;
	if (!c->pid || c->state != C_RUNNING)
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

	p->failed = true;
	if (c->ctx.user_err || process_exec_candidates(argv[0], c->ctx.env, &req.candidates) < 0 ||
	    process_spawn_open(&req, &c->ctx, &c->cg, why, sizeof(why)) < 0)
		goto out_timer;
	req.argv = argv;
	req.env = c->ctx.env;
	req.cwd = c->ctx.cwd;
	req.ctx = &c->ctx;
	if (process_spawn(&req, &pid, &fatal, &cg_err) < 0 || fatal.step)
		goto out_timer;
	if ((r = process_pidfd_open(pid)) < 0) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto out_timer;
	}
	p->pid = pid;
	p->pidfd = r;
	if (uv_poll_init(c->d->loop, &p->poll, p->pidfd) == 0) {
		p->poll_init = true;
		p->poll.data = p;
		if (uv_poll_start(&p->poll, UV_READABLE, on_probe_exit) == 0)
			p->failed = false;
	}
	if (p->failed) {  /* cannot watch it: do not leave it running */
		kill(-pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
out_timer:
	process_spawn_close(&req);
	uv_timer_start(&p->timer, on_probe_timer, p->failed ? 0 : (uint64_t)timeout_s * 1000, 0);
	return 0;
}
