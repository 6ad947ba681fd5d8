/*
 * orch_bench_parts.c — the four measured parts of orch_bench, in the order
 * they run (what each measures is listed in orch_bench.c): 1. fork+exec and
 * posix_spawn of the probe by the bench itself; 2. sequential RunTask →
 * probe running; 3. the launch rate of many tasks, then stopping them;
 * 4. a service scaled up and down.
 *
 * A latency is a probe's own CLOCK_MONOTONIC reading at the start of its
 * main() minus the bench's reading just before the fork or the request, so
 * the time the bench takes to read the report does not count. In the
 * sequential parts each launch waits until the previous probe has been
 * reaped, and the first WARMUP_RUNS are not counted; percentiles are
 * nearest-rank. On a failure a part prints how far it got and returns the
 * error; main() then prints only the parts before it.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "orch_bench.h"

#define PROBE_DEADLINE_S 10.0       /* one launch in the sequential parts */
#define BULK_DEADLINE_S 120.0       /* launching, stopping, scaling many */
#define SERVICE_NAME "orch-bench"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile p (0–100) of sorted v[n], n > 0. */
static int64_t pct(const int64_t *v, size_t n, unsigned p)
{
	size_t rank = (p * n + 99u) / 100u;

	return v[rank ? rank - 1 : 0];
}

static struct summary summarize(int64_t *v, size_t n)
{
	struct summary s = {n, 0, 0, 0, 0};

	if (n == 0)
		return s;
	qsort(v, n, sizeof(*v), cmp_i64);
	s.p50 = pct(v, n, 50);
	s.p90 = pct(v, n, 90);
	s.p99 = pct(v, n, 99);
	s.max = v[n - 1];
	return s;
}

/* ------------------------------------------------------------ 1. fork+exec */

/* Waits for a child of ours to exit; SIGKILL past the deadline. */
static int reap_child(pid_t pid)
{
	int64_t deadline = ob_deadline_after(REAP_DEADLINE_S);
	int st;

	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ECHILD;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (ob_now_ns() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -ETIMEDOUT;
		}
		ob_sleep_ns(100000L);
	}
}

/*
 * Starts the probe ("exit" mode) with fork()+execv() or, with spawn, with
 * posix_spawn() (glibc: clone(CLONE_VM | CLONE_VFORK), so no copy of this
 * process's page tables), waits for its report and reaps it.
 */
static int launch_direct(struct bench *b, bool spawn, struct collect *c, int64_t *ret_ns)
{
	char mode[] = "exit", tag[] = "1";
	char *argv[] = {b->probe, b->sock_path, mode, tag, NULL};
	const char *what = spawn ? "posix_spawn" : "fork+exec";
	int64_t t0 = ob_now_ns();
	pid_t pid;
	int r;

	if (ob_interrupted)
		return -EINTR;
	if (spawn) {
		r = -posix_spawn(&pid, b->probe, NULL, NULL, argv, environ);
	} else {
		pid = fork();
		if (pid == 0) {
			execv(b->probe, argv);
			_exit(127);
		}
		r = pid < 0 ? -errno : 0;
	}
	if (r < 0) {
		fprintf(stderr, "orch_bench: %s: %s\n", what, strerror(-r));
		return r;
	}
	ob_collect_reset(c);
	r = ob_collect_wait(b, c, 1, ob_deadline_after(PROBE_DEADLINE_S));
	if (r == 0 && c->pid[0] != pid)
		r = -EPROTO;
	if (r < 0) {
		kill(pid, SIGKILL);
		reap_child(pid);
		fprintf(stderr, "orch_bench: %s: %s\n", what,
			r == -EPROTO ? "a report from another pid" : ob_why(r));
		return r;
	}
	if ((r = reap_child(pid)) < 0) {
		fprintf(stderr, "orch_bench: %s: probe %d did not exit cleanly\n", what, (int)pid);
		return r;
	}
	*ret_ns = c->ns[0] - t0;
	return 0;
}

/* fork+exec and posix_spawn in alternation, so that a slow spell of the
 * machine hits both alike. */
int ob_part_fork(struct bench *b, struct summary *ret_fork, struct summary *ret_spawn)
{
	size_t total = WARMUP_RUNS + b->runs, i;
	int64_t *lat_fork = calloc(b->runs, sizeof(*lat_fork));
	int64_t *lat_spawn = calloc(b->runs, sizeof(*lat_spawn));
	struct collect c;
	int r = 0;

	if (lat_fork == NULL || lat_spawn == NULL || ob_collect_init(&c, TAG_FORK, 1) < 0) {
		free(lat_fork);
		free(lat_spawn);
		return -ENOMEM;
	}
	for (i = 0; i < total; i++) {
		int64_t ns_fork, ns_spawn;

		if ((r = launch_direct(b, false, &c, &ns_fork)) < 0 ||
		    (r = launch_direct(b, true, &c, &ns_spawn)) < 0) {
			fprintf(stderr, "orch_bench: direct launches: %zu of %zu rounds completed\n", i, total);
			goto out;
		}
		if (i >= WARMUP_RUNS) {
			lat_fork[i - WARMUP_RUNS] = ns_fork;
			lat_spawn[i - WARMUP_RUNS] = ns_spawn;
		}
	}
	*ret_fork = summarize(lat_fork, b->runs);
	*ret_spawn = summarize(lat_spawn, b->runs);
out:
	ob_collect_free(&c);
	free(lat_fork);
	free(lat_spawn);
	return r;
}

/* ------------------------------------------------------------ 2. RunTask → running */

int ob_part_runtask(struct bench *b, struct runtask_result *res)
{
	size_t total = WARMUP_RUNS + b->runs, i;
	int64_t *lat = calloc(b->runs, sizeof(*lat));
	int64_t *ans_lat = calloc(b->runs, sizeof(*ans_lat));
	int64_t *rtt = calloc(b->runs, sizeof(*rtt));
	struct api_req run = {0}, list = {0};
	struct collect c;
	json_t *ans = NULL;
	long long cpu0, cpu1;
	int r;

	if (lat == NULL || ans_lat == NULL || rtt == NULL || ob_collect_init(&c, TAG_RUNTASK, 1) < 0) {
		free(lat);
		free(ans_lat);
		free(rtt);
		return -ENOMEM;
	}
	if ((r = ob_register_probe(b, "orch-bench-exit", "exit", TAG_RUNTASK)) < 0 ||
	    (r = ob_req_init(&run, "RunTask",
			     json_pack("{s:s, s:i}", "taskDefinition", "orch-bench-exit", "count", 1))) < 0 ||
	    (r = ob_req_init(&list, "ListClusters", json_object())) < 0)
		goto out;

	cpu0 = ob_cpu_of(b->daemon);
	for (i = 0; i < total; i++) {
		int64_t t0 = ob_now_ns(), t1;
		long n;

		r = ob_api_send(b, &run, &ans);
		t1 = ob_now_ns();
		if (r < 0)
			goto out_reached;
		n = ob_take_tasks(ans, NULL, NULL, 0);
		json_decref(ans);
		ans = NULL;
		if (n != 1) {
			r = n < 0 ? (int)n : -EPROTO;
			goto out_reached;
		}
		ob_collect_reset(&c);
		if ((r = ob_collect_wait(b, &c, 1, ob_deadline_after(PROBE_DEADLINE_S))) < 0)
			goto out_reached;
		if ((r = ob_wait_reaped(c.pid[0], ob_deadline_after(REAP_DEADLINE_S))) < 0) {
			fprintf(stderr, "orch_bench: RunTask: probe %d not reaped by the daemon\n", (int)c.pid[0]);
			goto out_reached;
		}
		if (i >= WARMUP_RUNS) {
			lat[i - WARMUP_RUNS] = c.ns[0] - t0;
			ans_lat[i - WARMUP_RUNS] = t1 - t0;
		}
	}
	cpu1 = ob_cpu_of(b->daemon);
	res->cpu_ms = cpu0 >= 0 && cpu1 >= 0 ? ob_ms(cpu1 - cpu0) / (double)total : -1.0;
	for (i = 0; i < total; i++) {
		int64_t t0 = ob_now_ns();

		if ((r = ob_api_send(b, &list, &ans)) < 0)
			goto out;
		if (i >= WARMUP_RUNS)
			rtt[i - WARMUP_RUNS] = ob_now_ns() - t0;
		json_decref(ans);
		ans = NULL;
	}
	res->running = summarize(lat, b->runs);
	res->answered = summarize(ans_lat, b->runs);
	res->list = summarize(rtt, b->runs);
	r = 0;
	goto out;

out_reached:
	fprintf(stderr, "orch_bench: RunTask → running: %zu of %zu launches completed, then %s\n", i, total,
		ob_why(r));
out:
	json_decref(ans);
	ob_req_free(&run);
	ob_req_free(&list);
	ob_collect_free(&c);
	free(lat);
	free(ans_lat);
	free(rtt);
	return r;
}

/* ------------------------------------------------------------ 3. launch rate */

int ob_part_launch(struct bench *b, long long rss_idle, struct launch_result *res)
{
	size_t nreq = b->tasks / RUN_COUNT, narns = 0, i, n_ok = 0, alive = 0;
	char **arns = calloc(b->tasks, sizeof(*arns));
	int32_t *rid = calloc(b->tasks, sizeof(*rid));
	struct api_req run = {0};
	struct collect c;
	json_t *ans = NULL;
	long long cpu0, cpu1;
	int64_t t0;
	int r;

	res->rss_idle = rss_idle;
	if (arns == NULL || rid == NULL || ob_collect_init(&c, TAG_LAUNCH, b->tasks) < 0) {
		free(arns);
		free(rid);
		return -ENOMEM;
	}
	if ((r = ob_register_probe(b, "orch-bench-sleep", "sleep", TAG_LAUNCH)) < 0 ||
	    (r = ob_req_init(&run, "RunTask", json_pack("{s:s, s:i}", "taskDefinition", "orch-bench-sleep",
							"count", (int)RUN_COUNT))) < 0)
		goto out;

	cpu0 = ob_cpu_of(b->daemon);
	t0 = ob_now_ns();
	for (i = 0; i < nreq; i++) {
		long n;

		if ((r = ob_api_send(b, &run, &ans)) < 0)
			break;
		n = ob_take_tasks(ans, arns, &narns, b->tasks);
		json_decref(ans);
		ans = NULL;
		if (n != (long)RUN_COUNT) {
			r = n < 0 ? (int)n : -EPROTO;
			break;
		}
		ob_drain(b, &c, 0);
	}
	res->answered_s = ob_secs(ob_now_ns() - t0);
	if (r < 0) {
		fprintf(stderr, "orch_bench: launch rate: %zu of %zu RunTask answered with %u tasks\n", i, nreq,
			RUN_COUNT);
		goto out;
	}
	r = ob_collect_wait(b, &c, b->tasks, ob_deadline_after(BULK_DEADLINE_S));
	if (r < 0) {
		fprintf(stderr, "orch_bench: launch rate: %zu of %u probes reported within %.0f s (%s)\n", c.got,
			b->tasks, BULK_DEADLINE_S, ob_why(r));
		goto out;
	}
	res->running_s = ob_secs(c.max_ns - t0);
	cpu1 = ob_cpu_of(b->daemon);
	res->cpu_ms = cpu0 >= 0 && cpu1 >= 0 ? ob_ms(cpu1 - cpu0) / (double)b->tasks : -1.0;

	/* the daemon's view: RUNNING, with the probes' pids as runtimeId */
	r = ob_wait_status(b, arns, narns, "RUNNING", ob_deadline_after(BULK_DEADLINE_S), &n_ok, rid);
	if (r < 0) {
		fprintf(stderr, "orch_bench: launch rate: %zu of %zu tasks RUNNING (%s)\n", n_ok, narns,
			ob_why(r));
		goto out;
	}
	res->rss_running = rss_of(b->daemon);
	qsort(c.pid, c.got, sizeof(*c.pid), ob_cmp_pid);
	for (i = 0; i < narns; i++) {
		if (rid[i] == 0 || bsearch(&rid[i], c.pid, c.got, sizeof(*c.pid), ob_cmp_pid) == NULL) {
			fprintf(stderr, "orch_bench: launch rate: task %s has runtimeId %d, no probe of that pid\n",
				arns[i], (int)rid[i]);
			r = -EPROTO;
			goto out;
		}
	}

	/* stop them all */
	cpu0 = ob_cpu_of(b->daemon);
	t0 = ob_now_ns();
	for (i = 0; i < narns; i++) {
		if ((r = ob_api(b, "StopTask", json_pack("{s:s}", "task", arns[i]), &ans)) < 0) {
			fprintf(stderr, "orch_bench: stopping: %zu of %zu StopTask answered\n", i, narns);
			goto out;
		}
		json_decref(ans);
		ans = NULL;
	}
	res->stop_answered_s = ob_secs(ob_now_ns() - t0);
	r = ob_wait_status(b, arns, narns, "STOPPED", ob_deadline_after(BULK_DEADLINE_S), &n_ok, NULL);
	if (r < 0) {
		fprintf(stderr, "orch_bench: stopping: %zu of %zu tasks STOPPED (%s)\n", n_ok, narns, ob_why(r));
		goto out;
	}
	r = ob_wait_gone(c.pid, c.got, ob_deadline_after(BULK_DEADLINE_S), &alive);
	if (r < 0) {
		fprintf(stderr, "orch_bench: stopping: all STOPPED, but %zu probe processes still run\n", alive);
		goto out;
	}
	res->stopped_s = ob_secs(ob_now_ns() - t0);
	cpu1 = ob_cpu_of(b->daemon);
	res->stop_cpu_ms = cpu0 >= 0 && cpu1 >= 0 ? ob_ms(cpu1 - cpu0) / (double)b->tasks : -1.0;
	res->rss_stopped = rss_of(b->daemon);
	r = 0;
out:
	for (i = 0; i < narns; i++)
		free(arns[i]);
	free(arns);
	free(rid);
	ob_req_free(&run);
	ob_collect_free(&c);
	return r;
}

/* ------------------------------------------------------------ 4. service scaling */

static int service_counts(struct bench *b, long long *running, long long *pending)
{
	json_t *ans = NULL, *s;
	int r = ob_api(b, "DescribeServices", json_pack("{s:[s]}", "services", SERVICE_NAME), &ans);

	if (r < 0)
		return r;
	s = json_array_get(json_object_get(ans, "services"), 0);
	if (!json_is_integer(json_object_get(s, "runningCount")) ||
	    !json_is_integer(json_object_get(s, "pendingCount"))) {
		fprintf(stderr, "orch_bench: DescribeServices: no runningCount/pendingCount for %s\n", SERVICE_NAME);
		json_decref(ans);
		return -EPROTO;
	}
	*running = json_integer_value(json_object_get(s, "runningCount"));
	*pending = json_integer_value(json_object_get(s, "pendingCount"));
	json_decref(ans);
	return 0;
}

static int scale(struct bench *b, unsigned desired)
{
	json_t *ans = NULL;
	int r = ob_api(b, "UpdateService",
		       json_pack("{s:s, s:i}", "service", SERVICE_NAME, "desiredCount", (int)desired), &ans);

	json_decref(ans);
	return r;
}

int ob_part_service(struct bench *b, struct service_result *res)
{
	long long running = -1, pending = -1;
	size_t alive = 0;
	struct collect c;
	json_t *ans = NULL;
	int64_t t0, deadline;
	int r;

	if (ob_collect_init(&c, TAG_SERVICE, b->service) < 0)
		return -ENOMEM;
	if ((r = ob_register_probe(b, "orch-bench-svc", "sleep", TAG_SERVICE)) < 0 ||
	    (r = ob_api(b, "CreateService",
			json_pack("{s:s, s:s, s:i, s:i}", "serviceName", SERVICE_NAME, "taskDefinition",
				  "orch-bench-svc", "desiredCount", 0, "healthCheckGracePeriodSeconds", 0),
			&ans)) < 0)
		goto out;
	json_decref(ans);

	t0 = ob_now_ns();
	deadline = ob_deadline_after(BULK_DEADLINE_S);
	if ((r = scale(b, b->service)) < 0)
		goto out;
	for (;;) {
		ob_drain(b, &c, 0);
		if ((r = service_counts(b, &running, &pending)) < 0)
			goto out;
		if (running == (long long)b->service && c.got == b->service)
			break;
		if ((r = ob_poll_pause(deadline, POLL_SLEEP_NS)) < 0) {
			fprintf(stderr, "orch_bench: scaling to %u: runningCount %lld, pendingCount %lld, "
				"%zu probes reported (%s)\n", b->service, running, pending, c.got, ob_why(r));
			goto out;
		}
	}
	res->up_s = ob_secs(ob_now_ns() - t0);
	res->up_last_probe_s = ob_secs(c.max_ns - t0);

	t0 = ob_now_ns();
	deadline = ob_deadline_after(BULK_DEADLINE_S);
	if ((r = scale(b, 0)) < 0)
		goto out;
	for (;;) {
		if ((r = service_counts(b, &running, &pending)) < 0)
			goto out;
		alive = ob_count_alive(c.pid, c.got);
		if (running == 0 && pending == 0 && alive == 0)
			break;
		if ((r = ob_poll_pause(deadline, POLL_SLEEP_NS)) < 0) {
			fprintf(stderr, "orch_bench: scaling to 0: runningCount %lld, pendingCount %lld, "
				"%zu probes still run (%s)\n", running, pending, alive, ob_why(r));
			goto out;
		}
	}
	res->down_s = ob_secs(ob_now_ns() - t0);
	r = 0;
out:
	ob_collect_free(&c);
	return r;
}
