/*
 * spawn_bench.c — what each way of starting a process costs a libuv loop:
 * the four launch designs the process driver could use, side by side, in a
 * process shaped like the daemon.
 *
 *   fork+wait     fork(); the loop blocks in read() on a close-on-exec pipe
 *                 until the child's execve (EOF) — the driver before async;
 *   fork+poll     fork(); the pipe is watched with uv_poll, EOF reported
 *                 from the loop: the fork itself still runs on the loop;
 *   vfork         clone(CLONE_VM | CLONE_VFORK) on the loop thread: no
 *                 page-table copy, but the loop waits until the child has
 *                 called execve (or _exit) — the outcome is known then;
 *   vfork+thread  the same clone from a libuv threadpool thread
 *                 (uv_queue_work); only that thread waits, the loop hears
 *                 of the outcome in the after-work callback.
 *
 * The child does what the driver's does before execve: default signal
 * dispositions for every signal, setsid(), join a cgroup (write "0" to its
 * cgroup.procs), stdio onto /dev/null, chdir("/"), close_range(3, ~0,
 * CLOEXEC), unblock signals, execve("/bin/sleep 1000"). The cgroup is made
 * the way the driver makes a container's (engine/orch/cgroup.h: v2, else
 * v1 memory, where writable; --no-cgroup: none), one for the whole run; it
 * is made before the rounds, not per spawn, so only the join is measured.
 * To look like the daemon, the bench first maps --mappings separate regions
 * (default 200) and touches --rss MiB of heap (default 24): fork's cost is
 * in copying page tables.
 *
 * Each round starts --count processes (default 10) in one loop turn, as a
 * RunTask of count 10 does, and ends when every one is known to have
 * exec'd; then they are SIGKILLed and reaped (not measured) and the loop
 * idles 50 ms. A 1 ms repeating uv timer on the same loop records its
 * lateness (time since the previous callback minus 1 ms) from the start of
 * the round to its end. Designs are run in turn, round by round, so that a
 * slow spell of a shared machine hits them alike.
 *
 * Printed per design: the longest stall of a round (median over rounds and
 * the worst), lag p99 over every sample of the rounds, the time from the
 * first spawn to the last exec known (median), and the process's CPU time
 * per spawn (getrusage: every thread, children excluded). Contract:
 * figures only; exit 1 when a spawn fails, 2 on a usage or setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "bench_util.h"
#include "cgroup.h"
#include "logger.h"

#define MAX_COUNT 64u
#define MAX_ROUNDS 10000u
#define CHILD_STACK ((size_t)64 << 10)
#define IDLE_MS 50u
#define MAX_SAMPLES ((size_t)1 << 20)

enum design {
	D_FORK_WAIT,
	D_FORK_POLL,
	D_VFORK,
	D_VFORK_THREAD,
	N_DESIGNS,
};

static const char *const design_names[N_DESIGNS] = {"fork+wait", "fork+poll", "vfork",
						     "vfork+thread"};

struct bench;

struct child {
	struct bench *b;
	pid_t pid;
	int err;                 /* the child's errno (shared memory in the vfork designs) */
	int pipe_rd, pipe_wr;
	uv_poll_t poll;
	uv_work_t work;
	char *stack;
	bool done, poll_init;
};

struct stats {
	uint64_t *round_max, *round_time;   /* ns, per round */
	uint64_t *lag;                      /* ns, every sample */
	size_t n_lag, cap_lag;
	unsigned n;
	uint64_t cpu_us;
};

struct bench {
	uv_loop_t loop;
	uv_timer_t probe, step;
	uint64_t last_ns, t0_ns, round_max_ns;
	bool recording;
	enum design design;
	unsigned count, rounds, round, pending;
	struct child kids[MAX_COUNT];
	struct stats st[N_DESIGNS];
	struct rusage ru0;
	int null_fd, cg_fd;
	char *const *argv;
	char *const *envp;
	int status;
};

static uint64_t ru_us(const struct rusage *r)
{
	return (uint64_t)r->ru_utime.tv_sec * 1000000u + (uint64_t)r->ru_utime.tv_usec +
	       (uint64_t)r->ru_stime.tv_sec * 1000000u + (uint64_t)r->ru_stime.tv_usec;
}

/* ---- the child: async-signal-safe calls only ------------------------------------ */

/* Returns errno of the failed step; does not return when execve works. The
 * sanitizers' instrumentation stays out of it (it runs on a foreign stack
 * in the vfork designs). */
__attribute__((no_sanitize_address)) static int child_body(const struct bench *b)
{
	struct sigaction dfl;
	sigset_t none;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void)sigaction(s, &dfl, NULL);
	if (setsid() < 0)
		return errno;
	if (b->cg_fd >= 0 && write(b->cg_fd, "0", 1) != 1)
		return errno;
	if (dup2(b->null_fd, 0) < 0 || dup2(b->null_fd, 1) < 0 || dup2(b->null_fd, 2) < 0)
		return errno;
	if (chdir("/") < 0)
		return errno;
	(void)syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	execve(b->argv[0], b->argv, b->envp);
	return errno;
}

/* clone() entry for the vfork designs: the error goes to shared memory. */
__attribute__((no_sanitize_address)) static int vfork_child(void *arg)
{
	struct child *k = arg;
	k->err = child_body(k->b);
	_exit(127);
}

/* ---- the designs --------------------------------------------------------------- */

static void child_done(struct child *k);

static int fork_start(struct child *k)
{
	int p[2];
	sigset_t all, old;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		int e = child_body(k->b);
		(void)!write(p[1], &e, sizeof(e));
		_exit(127);
	}
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -e;
	}
	k->pid = pid;
	k->pipe_rd = p[0];
	return 0;
}

/* Reads the child's report until EOF: 0 exec'd, else its errno. */
static int read_report(int fd)
{
	int e = 0;
	ssize_t n;
	do
		n = read(fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(e) ? e : 0;
}

static void on_pipe(uv_poll_t *h, int status, int events)
{
	struct child *k = h->data;
	(void)status;
	(void)events;
	k->err = read_report(k->pipe_rd);
	uv_close((uv_handle_t *)h, NULL);   /* a new fd each round */
	k->poll_init = false;
	child_done(k);
}

static int vfork_start(struct child *k)
{
	sigset_t all, old;

	k->err = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = clone(vfork_child, k->stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, k);
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		return -e;
	k->pid = pid;
	return 0;
}

static void work_spawn(uv_work_t *w)
{
	struct child *k = w->data;
	if (vfork_start(k) < 0)
		k->err = errno;
}

static void after_spawn(uv_work_t *w, int status)
{
	(void)status;
	child_done(w->data);
}

static int start_one(struct bench *b, struct child *k)
{
	int r;

	switch (b->design) {
	case D_FORK_WAIT:
		if ((r = fork_start(k)) < 0)
			return r;
		k->err = read_report(k->pipe_rd);
		close(k->pipe_rd);
		k->pipe_rd = -1;
		child_done(k);
		return 0;
	case D_FORK_POLL:
		if ((r = fork_start(k)) < 0)
			return r;
		if ((r = uv_poll_init(&b->loop, &k->poll, k->pipe_rd)) < 0)
			return r;
		k->poll.data = k;
		k->poll_init = true;
		return uv_poll_start(&k->poll, UV_READABLE, on_pipe);
	case D_VFORK:
		if ((r = vfork_start(k)) < 0)
			return r;
		child_done(k);
		return 0;
	case D_VFORK_THREAD:
		k->work.data = k;
		return uv_queue_work(&b->loop, &k->work, work_spawn, after_spawn);
	default:
		return -EINVAL;
	}
}

/* ---- rounds -------------------------------------------------------------------- */

static void push_lag(struct stats *s, uint64_t v)
{
	if (s->n_lag == s->cap_lag) {
		if (s->cap_lag >= MAX_SAMPLES)
			return;
		size_t nc = s->cap_lag ? s->cap_lag * 2 : 4096;
		uint64_t *nv = realloc(s->lag, nc * sizeof(*nv));
		if (!nv)
			return;
		s->lag = nv;
		s->cap_lag = nc;
	}
	s->lag[s->n_lag++] = v;
}

static void on_probe(uv_timer_t *t)
{
	struct bench *b = t->data;
	uint64_t now = uv_hrtime(), gap = now - b->last_ns;
	uint64_t lag = gap > 1000000u ? gap - 1000000u : 0;

	b->last_ns = now;
	if (!b->recording)
		return;
	push_lag(&b->st[b->design], lag);
	if (lag > b->round_max_ns)
		b->round_max_ns = lag;
}

static void on_step(uv_timer_t *t);

static void end_round(struct bench *b)
{
	struct stats *s = &b->st[b->design];
	struct rusage ru;
	uint64_t now = uv_hrtime();

	/* a stall that ended with the round shows in the gap since the probe */
	uint64_t gap = now - b->last_ns;
	uint64_t lag = gap > 1000000u ? gap - 1000000u : 0;
	push_lag(s, lag);
	if (lag > b->round_max_ns)
		b->round_max_ns = lag;
	getrusage(RUSAGE_SELF, &ru);
	s->cpu_us += ru_us(&ru) - ru_us(&b->ru0);
	s->round_max[s->n] = b->round_max_ns;
	s->round_time[s->n] = now - b->t0_ns;
	s->n++;
	b->recording = false;
	for (unsigned i = 0; i < b->count; i++) {
		struct child *k = &b->kids[i];
		if (k->pid > 0) {
			kill(k->pid, SIGKILL);
			while (waitpid(k->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		if (k->pipe_rd >= 0)
			close(k->pipe_rd);
		k->pipe_rd = -1;
		k->pid = 0;
	}
	b->design = (enum design)((b->design + 1) % N_DESIGNS);
	if (b->design == 0)
		b->round++;
	uv_timer_start(&b->step, on_step, IDLE_MS, 0);
}

static void child_done(struct child *k)
{
	struct bench *b = k->b;

	if (k->err) {
		fprintf(stderr, "spawn_bench: %s: the child failed: %s\n", design_names[b->design],
			strerror(k->err));
		b->status = 1;
	}
	k->done = true;
	if (--b->pending == 0)
		end_round(b);
}

static void on_step(uv_timer_t *t)
{
	struct bench *b = t->data;

	if (b->status || b->round >= b->rounds) {
		uv_stop(&b->loop);
		return;
	}
	getrusage(RUSAGE_SELF, &b->ru0);
	b->round_max_ns = 0;
	b->recording = true;
	b->pending = b->count;
	b->t0_ns = uv_hrtime();
	for (unsigned i = 0; i < b->count; i++) {
		struct child *k = &b->kids[i];
		k->done = false;
		int r = start_one(b, k);
		if (r < 0) {
			fprintf(stderr, "spawn_bench: %s: %s\n", design_names[b->design], strerror(-r));
			b->status = 1;
			uv_stop(&b->loop);
			return;
		}
	}
}

/* ---- the daemon's shape -------------------------------------------------------- */

static int shape(unsigned mappings, unsigned rss_mib, char **ret_heap)
{
	long page = sysconf(_SC_PAGESIZE);

	/* alternate protections so that neighbours never merge into one VMA */
	for (unsigned i = 0; i < mappings; i++) {
		char *p = mmap(NULL, (size_t)page * 2, (i & 1) ? PROT_READ : PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -errno;
		if (i & 1)
			continue;
		p[0] = 1;
	}
	size_t bytes = (size_t)rss_mib << 20;
	char *heap = malloc(bytes ? bytes : 1);
	if (!heap)
		return -ENOMEM;
	for (size_t off = 0; off < bytes; off += (size_t)page)
		heap[off] = (char)off;
	*ret_heap = heap;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(uint64_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
	k = k < 1 ? 1 : k > n ? n : k;
	return (double)v[k - 1] / 1e6;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: spawn_bench [--rounds N (default 30)] [--count N (default 10)] "
		   "[--rss MiB (default 24)] [--mappings N (default 200)] [--no-cgroup]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"rounds", required_argument, NULL, 'r'}, {"count", required_argument, NULL, 'c'},
		{"rss", required_argument, NULL, 's'},    {"mappings", required_argument, NULL, 'm'},
		{"no-cgroup", no_argument, NULL, 'g'},    {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static char a0[] = "/bin/sleep", a1[] = "1000", e0[] = "PATH=/usr/bin:/bin";
	static char *child_argv[] = {a0, a1, NULL};
	static char *child_env[] = {e0, NULL};
	unsigned long rounds = 30, count = 10, rss = 24, mappings = 200;
	bool use_cgroup = true;
	struct cgroup_host *cgh = NULL;
	struct cgroup_set cgs;
	char cgname[64];
	struct bench b;
	char *heap = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int r = 0;
		switch (ch) {
		case 'r': r = parse_uint(optarg, 1, MAX_ROUNDS, &rounds); break;
		case 'c': r = parse_uint(optarg, 1, MAX_COUNT, &count); break;
		case 's': r = parse_uint(optarg, 0, 4096, &rss); break;
		case 'm': r = parse_uint(optarg, 0, 60000, &mappings); break;
		case 'g': use_cgroup = false; break;
		case 'h': usage(stdout); return 0;
		default: r = -EINVAL; break;
		}
		if (r < 0) {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	memset(&b, 0, sizeof(b));
	b.count = (unsigned)count;
	b.rounds = (unsigned)rounds;
	b.argv = child_argv;
	b.envp = child_env;
	b.cg_fd = -1;
	b.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	memset(&cgs, 0, sizeof(cgs));
	if (b.null_fd < 0 || shape((unsigned)mappings, (unsigned)rss, &heap) < 0 ||
	    uv_loop_init(&b.loop) < 0) {
		fprintf(stderr, "spawn_bench: setup failed\n");
		return 2;
	}
	logger_setup(LOG_LEVEL_WARN, false);
	if (use_cgroup && cgroup_host_open(&b.loop, NULL, NULL, &cgh) == 0 &&
	    cgroup_host_mode(cgh) != CGROUP_NONE) {
		struct cgroup_limits none = {0, 0, 0};
		struct cgroup_warnings w;
		int fds[2];
		snprintf(cgname, sizeof(cgname), "spawn_bench-%d", (int)getpid());
		cgroup_create(cgh, cgname, &none, &cgs, &w);
		size_t n = cgroup_open_procs(&cgs, fds);
		if (n > 0)
			b.cg_fd = fds[0];
		for (size_t i = 1; i < n; i++)
			close(fds[i]);
	}
	for (int d = 0; d < N_DESIGNS; d++) {
		b.st[d].round_max = calloc(rounds, sizeof(uint64_t));
		b.st[d].round_time = calloc(rounds, sizeof(uint64_t));
		if (!b.st[d].round_max || !b.st[d].round_time)
			return 2;
	}
	for (unsigned i = 0; i < b.count; i++) {
		b.kids[i].b = &b;
		b.kids[i].pipe_rd = -1;
		if (!(b.kids[i].stack = malloc(CHILD_STACK)))
			return 2;
	}
	uv_timer_init(&b.loop, &b.probe);
	uv_timer_init(&b.loop, &b.step);
	b.probe.data = b.step.data = &b;
	b.last_ns = uv_hrtime();
	uv_timer_start(&b.probe, on_probe, 1, 1);
	uv_timer_start(&b.step, on_step, IDLE_MS, 0);
	uv_run(&b.loop, UV_RUN_DEFAULT);

	printf("spawn_bench: %u rounds of %u spawns per design, in turn; VmRSS %.1f MiB, %lu extra "
	       "mappings; %s%s\n", b.rounds, b.count, (double)rss_of(0) / (1 << 20), mappings,
	       b.cg_fd >= 0 ? "children join the cgroup " : "no cgroup", b.cg_fd >= 0 ? cgs.path : "");
	printf("  %-13s %12s %12s %10s %14s %14s\n", "design", "stall p50", "stall max", "lag p99",
	       "round p50", "CPU/spawn");
	for (int d = 0; d < N_DESIGNS && b.status == 0; d++) {
		struct stats *s = &b.st[d];
		qsort(s->round_max, s->n, sizeof(uint64_t), cmp_u64);
		qsort(s->round_time, s->n, sizeof(uint64_t), cmp_u64);
		qsort(s->lag, s->n_lag, sizeof(uint64_t), cmp_u64);
		printf("  %-13s %9.3f ms %9.3f ms %7.3f ms %11.3f ms %11.3f ms\n", design_names[d],
		       pct_ms(s->round_max, s->n, 50), pct_ms(s->round_max, s->n, 100),
		       pct_ms(s->lag, s->n_lag, 99), pct_ms(s->round_time, s->n, 50),
		       s->n ? (double)s->cpu_us / 1000.0 / ((double)s->n * b.count) : 0.0);
	}
	for (unsigned i = 0; i < b.count; i++) {
		if (b.kids[i].poll_init)
			uv_close((uv_handle_t *)&b.kids[i].poll, NULL);
	}
	uv_close((uv_handle_t *)&b.probe, NULL);
	uv_close((uv_handle_t *)&b.step, NULL);
	if (b.cg_fd >= 0)
		close(b.cg_fd);
	if (cgh) {
		cgroup_remove(cgh, &cgs);
		cgroup_host_close(cgh);
	}
	uv_run(&b.loop, UV_RUN_NOWAIT);
	uv_loop_close(&b.loop);
	for (unsigned i = 0; i < b.count; i++)
		free(b.kids[i].stack);
	for (int d = 0; d < N_DESIGNS; d++) {
		free(b.st[d].round_max);
		free(b.st[d].round_time);
		free(b.st[d].lag);
	}
	free(heap);
	return b.status;
}
