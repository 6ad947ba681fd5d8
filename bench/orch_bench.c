/*
 * orch_bench.c — what launching a task through tripline costs, against a
 * daemon this program starts and stops itself.
 *
 * It makes a temporary directory (config, data_dir, daemon log, socket),
 * binds a unix datagram socket there, starts `tripline serve --config FILE`
 * (the release binary beside this one, or --tripline) on a free loopback
 * port with log_level warn and limits.max_tasks 2000, and drives its ECS API
 * over HTTP through one libcurl easy handle (one kept-alive connection).
 * Every process it launches is orch_probe (the same binary throughout),
 * which sends one datagram with its pid and the CLOCK_MONOTONIC time its
 * main() started; latencies are that time minus the bench's own reading
 * taken just before the fork or the HTTP request. In one run:
 *
 *   1. fork+exec: the bench forks and execs the probe ("exit" mode), N times
 *      in sequence — the floor for a launcher that forks; in alternation
 *      with posix_spawn() of the same (vfork-style: no page-table copy);
 *   2. RunTask → running: N sequential RunTask (count 1) of a definition
 *      whose command is the probe in "exit" mode; also how long RunTask took
 *      to answer, the bare HTTP round trip (ListClusters) and the daemon's
 *      own CPU time per RunTask (/proc/<pid>/stat);
 *   3. launch rate: RunTask count 10, as fast as the answers come, until
 *      --tasks probes ("sleep" mode) run; the daemon's CPU per task; its
 *      VmRSS idle, with them running (DescribeTasks: all RUNNING, each
 *      runtimeId a probe's pid) and after StopTask of each (waiting for
 *      STOPPED and the processes gone);
 *   4. service scaling: CreateService desiredCount 0, UpdateService to
 *      --service tasks, until DescribeServices says runningCount == that and
 *      as many probes reported; then UpdateService 0, until runningCount and
 *      pendingCount are 0 and every probe process is gone.
 *
 * In the sequential parts the next launch waits until the previous probe
 * has been reaped (by the bench, or by the daemon), and the first
 * WARMUP_RUNS launches are not counted.
 *
 * At the end (also after a failure or SIGINT) it asks the daemon for the
 * runtimeId of every task still RUNNING, stops the daemon with SIGTERM
 * (SIGKILL past a deadline), then SIGKILLs the process group of each such
 * pid and of any process whose command line names this run's socket (the
 * daemon leaves tasks running by design), and removes the directory —
 * unless a part failed or --keep: then it stays, with the daemon's log.
 *
 * Contract: figures are printed, never judged; the goal "launch p50 within
 * 3x bare fork/exec" is printed with whether this run met it. Every wait has
 * a deadline. Exit 0 when every part completed, 1 when a wait timed out or
 * the daemon answered something unexpected (what was reached is printed),
 * 2 on a usage or setup error or an interruption.
 *
 * The files: orch_bench.c (this one: options, the run's directory, the
 * order of the parts, printing, exit status, cleanup), orch_bench_parts.c
 * (the four measured parts), orch_bench_daemon.c (starting and stopping
 * the daemon), orch_bench_api.c (its ECS API over libcurl),
 * orch_bench_reports.c (the probes' datagrams), orch_bench_proc.c (what
 * /proc says about the daemon and the probes); orch_bench.h is what they
 * share.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#include "orch_bench.h"

#define DEFAULT_RUNS 300u
#define DEFAULT_TASKS 1000u
#define DEFAULT_SERVICE 100u
#define MAX_RUNS 100000u

#define EXIT_WRONG 1
#define EXIT_SETUP 2

volatile sig_atomic_t ob_interrupted;

static void on_signal(int sig)
{
	(void)sig;
	ob_interrupted = 1;
}

/* Copies src into dst[cap]; -ENAMETOOLONG when it does not fit. */
static int copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

const char *ob_why(int r)
{
	switch (r) {
	case -ETIMEDOUT: return "deadline passed";
	case -EINTR: return "interrupted";
	case -EPROTO: return "unexpected answer";
	default: return strerror(-r);
	}
}

/* ------------------------------------------------------------ cleanup */

/*
 * Leaves nothing behind: RUNNING tasks' runtimeIds while the daemon still
 * answers, then the daemon, then every probe process of this run.
 */
static void cleanup(struct bench *b)
{
	static int32_t pids[3 * MAX_SLEEPERS];
	static char *cgroups[2 * MAX_SLEEPERS];
	size_t n = 0, i, killed = 0, ncg = 0;
	int32_t prev = 0;
	int64_t deadline;

	ob_interrupted = 0;   /* the API must answer once more */
	if (b->daemon > 0 && b->api != NULL)
		n = ob_running_task_pids(b, pids, MAX_SLEEPERS);
	ob_daemon_stop(b);
	memcpy(pids + n, b->sleepers, b->n_sleepers * sizeof(*pids));
	n += b->n_sleepers;
	ob_sweep_proc(b, pids, &n, sizeof(pids) / sizeof(*pids));
	qsort(pids, n, sizeof(*pids), ob_cmp_pid);
	for (i = 0; i < n; i++) {
		int32_t pid = pids[i];

		pids[i] = 0;
		if (pid <= 0 || pid == prev || !ob_is_our_probe(b, pid)) {
			prev = pid;
			continue;
		}
		prev = pids[i] = pid;
		ob_task_cgroups(pids[i], cgroups, &ncg, sizeof(cgroups) / sizeof(*cgroups));
		killpg(pids[i], SIGKILL);   /* the process driver makes each task a group leader */
		kill(pids[i], SIGKILL);
		killed++;
	}
	if (killed > 0)
		fprintf(stderr, "orch_bench: killed %zu task processes left running\n", killed);
	/* their cgroups, which the daemon would have removed, once empty */
	deadline = ob_deadline_after(REAP_DEADLINE_S);
	for (i = 0; i < n; i++)
		while (pids[i] > 0 && ob_pid_alive(pids[i]) && ob_now_ns() < deadline)
			ob_sleep_ns(1000000L);
	for (i = 0; i < ncg; i++) {
		rmdir(cgroups[i]);
		free(cgroups[i]);
	}
	if (b->sock >= 0)
		close(b->sock);
	b->sock = -1;
	if (b->keep)
		fprintf(stderr, "orch_bench: kept %s (daemon log: %s)\n", b->dir, b->log_path);
	else if (b->dir[0] != '\0')
		bench_rm_tree(b->dir);
}

/* ------------------------------------------------------------ main */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: orch_bench [--runs N] [--tasks N] [--service N] [--tripline PATH] [--probe PATH]\n"
		"                  [--keep]\n"
		"  --runs N        sequential launches in parts 1 and 2 (default %u, plus %u warm-up)\n"
		"  --tasks N       tasks of the launch-rate part, a multiple of %u (default %u, at most %u)\n"
		"  --service N     service scaled 0 -> N -> 0 (default %u, at most %u)\n"
		"  --tripline PATH the daemon (default: ../engine/tripline beside this program)\n"
		"  --probe PATH    the probe (default: orch_probe beside this program)\n"
		"  --keep          keep the temporary directory (config, data_dir, daemon log)\n"
		"Exit status: 0 every part completed, 1 a wait timed out or an answer was wrong,\n"
		"2 usage or setup error. Timings never fail it.\n",
		DEFAULT_RUNS, WARMUP_RUNS, RUN_COUNT, DEFAULT_TASKS, MAX_TASKS, DEFAULT_SERVICE, MAX_SERVICE);
}

/* rel, relative to this program's directory, made absolute (symlinks
 * resolved) into out[cap], or -errno. */
static int beside_self(const char *rel, char *out, size_t cap)
{
	char self[PATH_MAX], joined[PATH_MAX * 2], real[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return -errno;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL)
		return -EINVAL;
	*slash = '\0';
	if (snprintf(joined, sizeof(joined), "%s/%s", self, rel) >= (int)sizeof(joined))
		return -ENAMETOOLONG;
	if (realpath(joined, real) == NULL)
		return -errno;
	return copy_str(out, cap, real);
}

static int resolve(const char *given, const char *rel, char *out, size_t cap, const char *what)
{
	char tmp[PATH_MAX];
	int r;

	if (given != NULL)
		r = realpath(given, tmp) == NULL ? -errno : copy_str(out, cap, tmp);
	else
		r = beside_self(rel, out, cap);
	if (r == 0 && access(out, X_OK) < 0)
		r = -errno;
	if (r < 0)
		fprintf(stderr, "orch_bench: %s %s: %s\n", what, given ? given : rel, strerror(-r));
	return r;
}

static void print_row(const char *what, const struct summary *s)
{
	printf("  %-34s %5zu %8.3f %8.3f %8.3f %8.3f\n", what, s->n, ob_ms(s->p50), ob_ms(s->p90), ob_ms(s->p99),
	       ob_ms(s->max));
}

static void print_mib(const char *what, long long bytes)
{
	if (bytes < 0)
		printf("%s n/a", what);
	else
		printf("%s %.1f MiB", what, (double)bytes / 1048576.0);
}

struct results {
	struct summary fork, spawn;
	struct runtask_result rt;
	struct launch_result lr;
	struct service_result sr;
};

/* Prints the figures of the first `done` parts (all four: done == 4). */
static void print_results(const struct bench *b, const struct results *res, int done)
{
	const struct launch_result *lr = &res->lr;
	const struct service_result *sr = &res->sr;

	if (done < 1)
		return;
	printf("\nlatency, ms (%u runs after %u warm-up)     n      p50      p90      p99      max\n", b->runs,
	       WARMUP_RUNS);
	print_row("fork+exec -> probe running", &res->fork);
	print_row("posix_spawn -> probe running", &res->spawn);
	if (done >= 2) {
		double ratio = res->fork.p50 > 0 ? (double)res->rt.running.p50 / (double)res->fork.p50 : 0.0;

		print_row("RunTask sent -> probe running", &res->rt.running);
		print_row("RunTask sent -> answer read", &res->rt.answered);
		print_row("ListClusters round trip", &res->rt.list);
		printf("\np50(RunTask -> running) / p50(fork+exec) = %.2fx\n", ratio);
		printf("goal: launch p50 within 3x bare fork/exec: %s\n", ratio <= 3.0 ? "met" : "NOT met");
	}
	if (done >= 3) {
		printf("\nlaunch rate: %u tasks (%u RunTask x %u): all answered after %.3f s, all running after %.3f s"
		       " -> %.0f tasks/s\n",
		       b->tasks, b->tasks / RUN_COUNT, RUN_COUNT, lr->answered_s, lr->running_s,
		       lr->running_s > 0 ? (double)b->tasks / lr->running_s : 0.0);
		printf("daemon CPU time, its own (children excluded): %.2f ms per task of the sequential RunTask"
		       " (launch, exit, STOPPED), %.2f ms per launch and %.2f ms per stop here\n",
		       res->rt.cpu_ms, lr->cpu_ms, lr->stop_cpu_ms);
		print_mib("daemon VmRSS: idle", lr->rss_idle);
		print_mib(",", lr->rss_running);
		printf(" with %u running", b->tasks);
		if (lr->rss_idle >= 0 && lr->rss_running >= 0)
			printf(" (%+.1f KiB per task)",
			       (double)(lr->rss_running - lr->rss_idle) / 1024.0 / (double)b->tasks);
		print_mib(",", lr->rss_stopped);
		printf(" after stopping them\n");
		printf("stop: %u StopTask answered after %.3f s; all STOPPED and processes gone after %.3f s\n",
		       b->tasks, lr->stop_answered_s, lr->stopped_s);
	}
	if (done >= 4) {
		printf("\nservice (healthCheckGracePeriodSeconds 0): 0 -> %u: runningCount %u after %.3f s"
		       " (last probe running after %.3f s)\n",
		       b->service, b->service, sr->up_s, sr->up_last_probe_s);
		printf("service: %u -> 0: runningCount 0, pendingCount 0, processes gone after %.3f s\n",
		       b->service, sr->down_s);
	}
	if (b->stray > 0)
		printf("(%" PRIu64 " probe reports arrived out of their part and were ignored)\n", b->stray);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"runs", required_argument, NULL, 'r'},   {"tasks", required_argument, NULL, 't'},
		{"service", required_argument, NULL, 's'}, {"tripline", required_argument, NULL, 'T'},
		{"probe", required_argument, NULL, 'P'},  {"keep", no_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct bench b;
	const char *tripline_arg = NULL, *probe_arg = NULL;
	struct results res;
	struct sigaction sa;
	long long rss_idle;
	int opt, r, status = 0, done = 0;
	char tmpl[] = "/tmp/orch_bench.XXXXXX";

	memset(&res, 0, sizeof(res));
	b.runs = DEFAULT_RUNS;
	b.tasks = DEFAULT_TASKS;
	b.service = DEFAULT_SERVICE;
	b.sock = -1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		unsigned long v;

		switch (opt) {
		case 'r':
			if (parse_uint(optarg, 1, MAX_RUNS, &v) < 0)
				goto bad_usage;
			b.runs = (unsigned)v;
			break;
		case 't':
			if (parse_uint(optarg, RUN_COUNT, MAX_TASKS, &v) < 0 || v % RUN_COUNT != 0)
				goto bad_usage;
			b.tasks = (unsigned)v;
			break;
		case 's':
			if (parse_uint(optarg, 1, MAX_SERVICE, &v) < 0)
				goto bad_usage;
			b.service = (unsigned)v;
			break;
		case 'T':
			tripline_arg = optarg;
			break;
		case 'P':
			probe_arg = optarg;
			break;
		case 'k':
			b.keep = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad_usage;
		}
	}
	if (optind != argc)
		goto bad_usage;
	if (resolve(tripline_arg, "../engine/tripline", b.tripline, sizeof(b.tripline), "tripline") < 0 ||
	    resolve(probe_arg, "orch_probe", b.probe, sizeof(b.probe), "probe") < 0)
		return EXIT_SETUP;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (ob_api_global_init() < 0) {
		fprintf(stderr, "orch_bench: curl_global_init failed\n");
		return EXIT_SETUP;
	}

	if (mkdtemp(tmpl) == NULL) {
		fprintf(stderr, "orch_bench: mkdtemp: %s\n", strerror(errno));
		return EXIT_SETUP;
	}
	if (copy_str(b.dir, sizeof(b.dir), tmpl) < 0 ||
	    snprintf(b.sock_path, sizeof(b.sock_path), "%s/probe.sock", b.dir) >= (int)sizeof(b.sock_path) ||
	    snprintf(b.log_path, sizeof(b.log_path), "%s/daemon.log", b.dir) >= (int)sizeof(b.log_path)) {
		fprintf(stderr, "orch_bench: %s: path too long\n", tmpl);
		status = EXIT_SETUP;
		goto out;
	}
	if ((r = ob_sock_open(&b)) < 0) {
		fprintf(stderr, "orch_bench: %s: %s\n", b.sock_path, strerror(-r));
		status = EXIT_SETUP;
		goto out;
	}

	fprintf(stderr, "orch_bench: 1/4 fork+exec and posix_spawn baselines (%u runs each)\n", b.runs);
	if ((r = ob_part_fork(&b, &res.fork, &res.spawn)) < 0) {
		status = r == -ETIMEDOUT || r == -EPROTO ? EXIT_WRONG : EXIT_SETUP;
		goto out;
	}

	done = 1;
	if ((r = ob_daemon_start(&b)) < 0) {
		status = EXIT_SETUP;
		b.keep = true;   /* for the daemon's log */
		goto out;
	}
	rss_idle = rss_of(b.daemon);
	if ((r = ob_api_open(&b)) < 0) {
		fprintf(stderr, "orch_bench: libcurl setup failed\n");
		status = EXIT_SETUP;
		goto out;
	}
	printf("orch_bench: %s serve, process driver, log_level warn, limits.max_tasks %u\n", b.tripline,
	       MAX_TASKS);
	printf("daemon pid %d on 127.0.0.1:%u; probe %s\n", (int)b.daemon, (unsigned)b.port, b.probe);
	fflush(stdout);

	fprintf(stderr, "orch_bench: 2/4 RunTask -> running (%u runs), ListClusters round trip\n", b.runs);
	if ((r = ob_part_runtask(&b, &res.rt)) < 0)
		goto failed;
	done = 2;
	fprintf(stderr, "orch_bench: 3/4 launch rate (%u tasks), RSS, stop\n", b.tasks);
	if ((r = ob_part_launch(&b, rss_idle, &res.lr)) < 0)
		goto failed;
	done = 3;
	fprintf(stderr, "orch_bench: 4/4 service 0 -> %u -> 0\n", b.service);
	if ((r = ob_part_service(&b, &res.sr)) < 0)
		goto failed;

	print_results(&b, &res, 4);
	goto out;

failed:
	status = r == -EINTR || r == -ENOMEM || r == -EINVAL ? EXIT_SETUP : EXIT_WRONG;
	b.keep = true;   /* for the daemon's log */
	fflush(stdout);
	fprintf(stderr, "orch_bench: stopped early (%s); the parts that completed:\n", ob_why(r));
	print_results(&b, &res, done);
out:
	fflush(stdout);
	cleanup(&b);
	ob_api_close(&b);
	ob_api_global_cleanup();
	return status;

bad_usage:
	usage(stderr);
	return EXIT_SETUP;
}
