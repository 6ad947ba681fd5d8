/*
 * test_process_spawn.c — the process driver's asynchronous launches
 * (process_spawn.c) with real processes on a real libuv loop: the loop turns
 * while launches are prepared, stop() before `started` cancels, many
 * launches from one loop turn, fds under concurrent launches, forget()
 * before `started`, a probe orphaned while it starts. The fixture is
 * process_fixture.h.
 *
 * A launch is prepared and started off the loop (process_spawn.c): the
 * loop keeps turning meanwhile. Some of these tests hold a launch inside its
 * preparation with a FIFO as its log file — opening a FIFO for writing
 * waits for a reader — so what they check does not depend on timing: the
 * launch cannot finish before the test opens the reader.
 *
 * Every wait is a loop turn with a deadline (run_until); nothing sleeps for a
 * fixed time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "driver.h"
#include "process_fixture.h"

/* ---- helpers ------------------------------------------------------------ */

/* How many launches can be in preparation at once: libuv's threadpool size. */
static unsigned pool_size(void)
{
	const char *v = getenv("UV_THREADPOOL_SIZE");
	long n = v ? strtol(v, NULL, 10) : 4;
	return n < 1 ? 1 : n > 1024 ? 1024 : (unsigned)n;
}

struct ticks {
	uv_timer_t timer;
	unsigned n;
};

static void on_count_tick(uv_timer_t *t)
{
	((struct ticks *)t->data)->n++;
}

static bool enough_ticks(void *arg)
{
	return ((struct ticks *)arg)->n >= 20;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

struct recs {
	struct rec *r;
	size_t n;
};

static bool all_started(void *arg)
{
	struct recs *rs = arg;
	for (size_t i = 0; i < rs->n; i++)
		if (!rs->r[i].n_started)
			return false;
	return true;
}

static bool all_exited(void *arg)
{
	struct recs *rs = arg;
	for (size_t i = 0; i < rs->n; i++)
		if (!rs->r[i].n_exited)
			return false;
	return true;
}

/* ---- launches ----------------------------------------------------------- */

/* Launches held in their preparation leave the loop free; a launch queued
 * behind them and stopped never runs, nor does one stopped while its
 * preparation is under way (the spawn sees the stop before its clone);
 * `started` reports both as cancelled and no `exited` follows; the others
 * run normally. */
static void test_launch_does_not_block_loop(void **state)
{
	struct fx *f = *state;
	unsigned n = pool_size() + 1;   /* one more than can be prepared at once */
	char (*fifo)[128] = calloc(n, sizeof(*fifo));
	struct drv_container **c = calloc(n + 1, sizeof(*c));
	struct rec *r = calloc(n + 1, sizeof(*r));
	int *rd = calloc(n, sizeof(*rd));
	char marker[160], script[400];
	struct ticks tk;

	assert_true(fifo && c && r && rd);
	/* a launch() that waited for its log file would wait for ever: fail */
	alarm(120);
	/* the queued one would leave a marker if it ever ran */
	snprintf(marker, sizeof(marker), "%s/queued-ran", f->dir);
	snprintf(script, sizeof(script), "touch %s; sleep 100", marker);
	char *const *echo = V("/bin/sh", "-c", "echo hi");
	char *const *queued = V("/bin/sh", "-c", script);
	/* containers of one task: distinct names, so distinct cgroups */
	char (*names)[16] = calloc(n + 1, sizeof(*names));
	assert_non_null(names);
	for (unsigned i = 0; i <= n; i++)
		snprintf(names[i], sizeof(names[i]), "c%u", i);
	for (unsigned i = 0; i < n; i++) {
		snprintf(fifo[i], sizeof(fifo[i]), "%s/log%u.fifo", f->dir, i);
		assert_int_equal(mkfifo(fifo[i], 0600), 0);
		struct drv_spec s = spec_of(f, names[i], echo);
		s.log_path = fifo[i];
		c[i] = launch(f, &s, &r[i]);
	}
	struct drv_spec sq = spec_of(f, names[n], queued);
	c[n] = launch(f, &sq, &r[n]);

	/* the loop turns while every launch waits */
	tk.n = 0;
	tk.timer.data = &tk;
	assert_int_equal(uv_timer_init(&f->loop, &tk.timer), 0);
	assert_int_equal(uv_timer_start(&tk.timer, on_count_tick, 1, 1), 0);
	assert_true(run_until(f, enough_ticks, &tk, 10000));
	uv_close((uv_handle_t *)&tk.timer, NULL);
	for (unsigned i = 0; i <= n; i++) {
		assert_int_equal(r[i].n_started, 0);
		assert_string_equal(driver_process_ops.runtime_id(c[i]), "");
		assert_null(driver_process_ops.save(c[i]));
		struct probe_res pr = {0, 0};
		assert_int_equal(driver_process_ops.probe(c[i], echo, 1, on_probe, &pr), -ESRCH);
	}

	/* stopped while queued: never runs */
	assert_int_equal(driver_process_ops.stop(c[n], 5), 0);
	assert_true(run_until(f, is_started, &r[n], 10000));
	assert_int_equal(r[n].start_err, -ECANCELED);
	assert_string_equal(r[n].start_reason, "stopped before it started");
	/* stopped while being prepared */
	assert_int_equal(driver_process_ops.stop(c[0], 5), 0);
	assert_int_equal(driver_process_ops.stop(c[0], 5), 0);   /* idempotent */

	/* readers let the preparations go on */
	for (unsigned i = 0; i < n; i++) {
		rd[i] = open(fifo[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		assert_true(rd[i] >= 0);
	}
	struct recs all = {r, n};
	assert_true(run_until(f, all_started, &all, 10000));
	assert_int_equal(r[0].start_err, -ECANCELED);
	assert_string_equal(r[0].start_reason, "stopped before it started");
	assert_string_equal(driver_process_ops.runtime_id(c[0]), "");
	struct recs rest = {r + 1, n - 1};
	assert_true(run_until(f, all_exited, &rest, 10000));
	for (unsigned i = 1; i < n; i++) {
		if (r[i].start_err)
			fail_msg("launch %u: started %d: %s", i, r[i].start_err, r[i].start_reason);
		assert_int_equal(r[i].n_started, 1);
		assert_int_equal(r[i].n_exited, 1);
		assert_int_equal(r[i].exit_code, 0);
		char out[16] = "";
		assert_int_equal(read(rd[i], out, sizeof(out) - 1), 3);
		assert_string_equal(out, "hi\n");
	}
	/* no `exited` after a cancelled start, and the queued one never ran */
	run_until(f, never, NULL, 300);
	assert_int_equal(r[0].n_exited, 0);
	assert_int_equal(r[n].n_exited, 0);
	assert_int_equal(r[0].n_started, 1);
	assert_int_equal(r[n].n_started, 1);
	struct stat st;
	assert_int_equal(stat(marker, &st), -1);
	/* and the stopped one never existed: nothing holds its log FIFO (EOF) */
	char buf[16];
	assert_int_equal(read(rd[0], buf, sizeof(buf)), 0);
	for (unsigned i = 0; i <= n; i++)
		driver_process_ops.release(c[i]);
	for (unsigned i = 0; i < n; i++)
		close(rd[i]);
	alarm(0);
	free(fifo);
	free(names);
	free(c);
	free(r);
	free(rd);
}

/* stop() right after launch(), before the loop ran: `started` reports the
 * cancel (-ECANCELED), no `exited` follows, and no process is left. */
static void test_stop_before_started(void **state)
{
	struct fx *f = *state;
	char pidfile[160], script[600];
	struct rec r;

	snprintf(pidfile, sizeof(pidfile), "%s/cancel.pid", f->dir);
	snprintf(script, sizeof(script), "echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 100", pidfile,
		 pidfile, pidfile);
	char *const *argv = V("/bin/sh", "-c", script);
	struct drv_spec s = spec_of(f, "main", argv);
	s.memory_limit = 64 * MIB;   /* a cgroup too */
	for (int round = 0; round < 10; round++) {
		unlink(pidfile);
		struct drv_container *c = launch(f, &s, &r);
		assert_int_equal(driver_process_ops.stop(c, 30), 0);
		assert_int_equal(r.n_started, 0);   /* not from inside stop() either */
		assert_true(run_until(f, is_started, &r, 10000));
		assert_int_equal(r.start_err, -ECANCELED);
		assert_string_equal(r.start_reason, "stopped before it started");
		assert_string_equal(driver_process_ops.runtime_id(c), "");
		assert_null(driver_process_ops.save(c));
		/* if the shell got as far as writing its pid, it is gone now:
		 * killed (not a 30 s SIGTERM grace) and reaped */
		char buf[32];
		if (read_text(pidfile, buf, sizeof(buf)) > 0)
			assert_true(pid_gone((pid_t)strtol(buf, NULL, 10)));
		run_until(f, never, NULL, 50);
		assert_int_equal(r.n_exited, 0);
		assert_int_equal(r.n_started, 1);
		driver_process_ops.release(c);
	}
}

/* Many launches in a row, from one loop turn, some of them failing: each
 * gets exactly one `started` and, when it started, one `exited`. */
static void test_many_launches(void **state)
{
	struct fx *f = *state;
	enum { N = 60 };
	struct drv_container *c[N];
	struct rec *r = calloc(N, sizeof(*r));
	char *const *ok = V("/bin/sh", "-c", "exit 7");
	char *const *bad = V("tripline-no-such-program");
	pid_t pids[N];

	char names[N][16];
	assert_non_null(r);
	for (int i = 0; i < N; i++) {
		/* containers of one task: distinct names, so distinct cgroups */
		snprintf(names[i], sizeof(names[i]), "c%d", i);
		struct drv_spec s = spec_of(f, names[i], i % 10 == 9 ? bad : ok);
		c[i] = launch(f, &s, &r[i]);
	}
	struct recs all = {r, N};
	assert_true(run_until(f, all_started, &all, 30000));
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].n_started, 1);
		if (i % 10 == 9) {
			assert_int_equal(r[i].start_err, -ENOENT);
			assert_non_null(strstr(r[i].start_reason, "exec tripline-no-such-program"));
			r[i].n_exited = 1;   /* none will come: do not wait for it */
			pids[i] = 0;
			continue;
		}
		if (r[i].start_err)
			fail_msg("launch %d: started %d: %s", i, r[i].start_err, r[i].start_reason);
		pids[i] = pid_of(c[i]);
		for (int k = 0; k < i; k++)
			assert_true(pids[k] != pids[i] || pids[i] == 0);
	}
	assert_true(run_until(f, all_exited, &all, 30000));
	for (int i = 0; i < N; i++) {
		if (i % 10 == 9)
			continue;
		assert_int_equal(r[i].n_exited, 1);
		assert_int_equal(r[i].exit_code, 7);
	}
	run_until(f, never, NULL, 50);
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].n_started, 1);
		assert_int_equal(r[i].n_exited, 1);
		driver_process_ops.release(c[i]);
	}
	free(r);
}

/* Launches prepared at the same time never hand each other (or the
 * daemon) a file descriptor: each process sees 0, 1, 2 and the directory
 * ls reads, even with an inheritable fd opened while they start. */
static void test_fds_with_concurrent_launches(void **state)
{
	struct fx *f = *state;
	enum { N = 8 };
	struct drv_container *c[N];
	struct rec *r = calloc(N, sizeof(*r));
	char logs[N][160];
	char *const *argv = V("ls", "/proc/self/fd");

	assert_non_null(r);
	int leak1 = open("/dev/null", O_RDONLY);   /* not close-on-exec */
	assert_true(leak1 >= 3);
	char names[N][16];
	for (int i = 0; i < N; i++) {
		snprintf(logs[i], sizeof(logs[i]), "%s/fds%d.log", f->dir, i);
		snprintf(names[i], sizeof(names[i]), "c%d", i);
		struct drv_spec s = spec_of(f, names[i], argv);
		s.log_path = logs[i];
		c[i] = launch(f, &s, &r[i]);
	}
	int leak2 = open("/dev/null", O_RDONLY);   /* opened while they start */
	assert_true(leak2 >= 3);
	struct recs all = {r, N};
	assert_true(run_until(f, all_exited, &all, 30000));
	close(leak1);
	close(leak2);
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].start_err, 0);
		assert_int_equal(r[i].exit_code, 0);
		assert_log(logs[i], "0\n1\n2\n3\n");
		driver_process_ops.release(c[i]);
	}
	free(r);
}

/* A probe whose container is forgotten, and the driver shut down, while
 * the probe is still starting: done is never called, the probe process is
 * killed and reaped once it exists, the container runs on. */
static void test_probe_orphaned_while_starting(void **state)
{
	struct fx *f = *state;
	char ppid[160], script[600];
	char *const *argv = V("sleep", "100");
	struct drv_spec s = spec_of(f, "main", argv);
	struct probe_res pr = {0, 0};
	struct rec r;

	struct drv_container *c = start(f, &s, &r);
	pid_t pid = pid_of(c);
	snprintf(ppid, sizeof(ppid), "%s/probe.pid", f->dir);
	snprintf(script, sizeof(script), "echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 100", ppid, ppid,
		 ppid);
	char *const *p_slow = V("/bin/sh", "-c", script);
	assert_int_equal(driver_process_ops.probe(c, p_slow, 60, on_probe, &pr), 0);
	driver_process_ops.forget(c);
	close_driver(f);   /* waits for the spawn in flight to end */
	assert_int_equal(pr.calls, 0);
	char buf[32];
	if (read_text(ppid, buf, sizeof(buf)) > 0)
		assert_true(pid_gone((pid_t)strtol(buf, NULL, 10)));
	assert_false(pid_gone(pid));
	assert_int_equal(kill(-pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

/* forget() before `started`, while the launch is being prepared (its log
 * file a FIFO nobody reads yet): no callback ever, and no process is made,
 * as the spawn had not cloned yet. The FIFO tells: once the driver is gone,
 * nothing holds its write end (EOF). */
static void test_forget_before_started(void **state)
{
	struct fx *f = *state;
	char fifo[160], buf[16];
	char *const *argv = V("/bin/sh", "-c", "echo ran; exec sleep 100");
	struct drv_spec s = spec_of(f, "main", argv);
	struct ticks tk;
	struct rec r;

	snprintf(fifo, sizeof(fifo), "%s/forget.fifo", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	s.log_path = fifo;
	alarm(120);
	struct drv_container *c = launch(f, &s, &r);
	tk.n = 0;
	tk.timer.data = &tk;
	assert_int_equal(uv_timer_init(&f->loop, &tk.timer), 0);
	assert_int_equal(uv_timer_start(&tk.timer, on_count_tick, 1, 1), 0);
	assert_true(run_until(f, enough_ticks, &tk, 10000));
	uv_close((uv_handle_t *)&tk.timer, NULL);
	driver_process_ops.forget(c);
	int rd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(rd >= 0);
	close_driver(f);   /* waits for the spawn to end */
	assert_int_equal(r.n_started, 0);
	assert_int_equal(r.n_exited, 0);
	assert_int_equal(read(rd, buf, sizeof(buf)), 0);
	close(rd);
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_launch_does_not_block_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_before_started, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_launches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fds_with_concurrent_launches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_before_started, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_orphaned_while_starting, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
