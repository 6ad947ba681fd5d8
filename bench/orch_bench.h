/*
 * orch_bench.h — what the files of orch_bench share, and nothing else uses:
 * the limits and deadlines more than one file needs, the run's state
 * (struct bench), the probes' reports (struct collect), the figures of each
 * part, and the functions one file offers the others (prefix ob_). What the
 * program measures, and which file does what, is in orch_bench.c.
 *
 * One error convention throughout: 0 or a negative errno. -ETIMEDOUT is a
 * deadline passed, -EINTR a SIGINT/SIGTERM seen (ob_interrupted), -EPROTO
 * an answer of the daemon or a report of a probe that is not what was
 * expected. Messages go to stderr from where the error is met.
 */
#ifndef TRIPLINE_BENCH_ORCH_BENCH_H
#define TRIPLINE_BENCH_ORCH_BENCH_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>

#include <jansson.h>

#define WARMUP_RUNS 5u
#define MAX_TASKS 2000u             /* limits.max_tasks in the daemon's config */
#define MAX_SERVICE 1000u           /* ORCH_MAX_SERVICE_DESIRED */
#define RUN_COUNT 10u               /* RunTask count in the launch-rate part (ECS's maximum) */
#define MAX_SLEEPERS (MAX_TASKS + MAX_SERVICE + 64u)

#define REAP_DEADLINE_S 10.0
#define POLL_SLEEP_NS 5000000L      /* between DescribeTasks/Services polls */

enum probe_tag { TAG_FORK = 1, TAG_RUNTASK = 2, TAG_LAUNCH = 3, TAG_SERVICE = 4 };

struct api_conn;             /* the API's connection (orch_bench_api.c) */
struct curl_slist;

struct bench {
	/* options */
	unsigned runs, tasks, service;
	bool keep;
	char tripline[PATH_MAX];
	char probe[PATH_MAX];
	/* run state */
	char dir[PATH_MAX];
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char log_path[PATH_MAX];
	int sock;
	pid_t daemon;
	uint16_t port;
	struct api_conn *api;       /* NULL until ob_api_open() */
	int32_t sleepers[MAX_SLEEPERS];  /* pids of every "sleep" probe that reported */
	size_t n_sleepers;
	uint64_t stray;             /* datagrams of another part, or malformed */
};

/* Set by SIGINT/SIGTERM: every wait and request gives up with -EINTR. */
extern volatile sig_atomic_t ob_interrupted;

/* ------------------------------------------------------------ clocks */

static inline int64_t ob_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t ob_deadline_after(double s)
{
	return ob_now_ns() + (int64_t)(s * 1e9);
}

static inline double ob_ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static inline double ob_secs(int64_t ns)
{
	return (double)ns / 1e9;
}

static inline void ob_sleep_ns(long ns)
{
	struct timespec ts = {0, ns};

	nanosleep(&ts, NULL);
}

/* One pause of a polling loop: -EINTR after SIGINT/SIGTERM, -ETIMEDOUT past
 * the deadline, else sleeps ns and 0. */
static inline int ob_poll_pause(int64_t deadline, long ns)
{
	if (ob_interrupted)
		return -EINTR;
	if (ob_now_ns() > deadline)
		return -ETIMEDOUT;
	ob_sleep_ns(ns);
	return 0;
}

/* What a failed wait or request ended with, for a message (orch_bench.c). */
const char *ob_why(int r);

/* ------------------------------------------------------------ probe reports (orch_bench_reports.c) */

/* Reports of one part: the pid and start time of each probe, in order. */
struct collect {
	uint32_t tag;
	size_t want, got;
	int32_t *pid;
	int64_t *ns;
	int64_t max_ns;
};

/* Binds the unix datagram socket b->sock_path into b->sock. */
int ob_sock_open(struct bench *b);

/* Room for `want` reports of `tag`; ob_collect_free() releases it. */
int ob_collect_init(struct collect *c, uint32_t tag, size_t want);
void ob_collect_free(struct collect *c);
/* Forgets the reports taken so far. */
void ob_collect_reset(struct collect *c);

/* Reads every datagram waiting, after waiting up to timeout_ms for the
 * first; reports of c's tag go to c (c may be NULL), the rest count as
 * stray; every "sleep" probe's pid is kept in b->sleepers. */
void ob_drain(struct bench *b, struct collect *c, int timeout_ms);

/* Waits until c has `want` reports (0) or the deadline passes (-ETIMEDOUT). */
int ob_collect_wait(struct bench *b, struct collect *c, size_t want, int64_t deadline);

/* ------------------------------------------------------------ processes in /proc (orch_bench_proc.c) */

/* CPU time (utime + stime) of process pid, its own threads only, in ns;
 * or a negative errno. */
long long ob_cpu_of(pid_t pid);

/* Whether pid exists and is not a zombie (a reaped or dead process is gone). */
bool ob_pid_alive(int32_t pid);

/* Whether pid runs this bench's probe with this run's socket (so that a pid
 * reused by something else is never signalled). */
bool ob_is_our_probe(const struct bench *b, int32_t pid);

/* How many of pids[0..n) still run (not zombies). */
size_t ob_count_alive(const int32_t *pids, size_t n);

/* Waits until none of pids[0..n) runs; how many still do in *ret_alive. */
int ob_wait_gone(const int32_t *pids, size_t n, int64_t deadline, size_t *ret_alive);

/* Waits until pid's parent has reaped it (/proc/<pid> gone). */
int ob_wait_reaped(int32_t pid, int64_t deadline);

/* Appends the pid of every process running this run's probe to pids[cap]. */
void ob_sweep_proc(const struct bench *b, int32_t *pids, size_t *n, size_t cap);

/* Appends to dirs[cap] the cgroup directories the daemon made for pid (new
 * strings, the caller frees them). */
void ob_task_cgroups(int32_t pid, char **dirs, size_t *n, size_t cap);

/* qsort/bsearch order of int32_t pids. */
int ob_cmp_pid(const void *a, const void *b);

/* ------------------------------------------------------------ the API (orch_bench_api.c) */

/* A prepared request: headers and body built before the clock starts. */
struct api_req {
	const char *op;
	struct curl_slist *hdrs;
	char *body;
};

/* libcurl's process-wide state: before any other ob_api_ call, and after
 * the last. */
int ob_api_global_init(void);
void ob_api_global_cleanup(void);

/* b->api: one easy handle, POST to the daemon on b->port, kept alive.
 * b->api stays set when its setup fails half way; ob_api_close() frees it. */
int ob_api_open(struct bench *b);
void ob_api_close(struct bench *b);

/* GET /healthz through a handle of its own answered 200. */
bool ob_api_healthz(const struct bench *b);

/* Builds the headers and body of op with `body`, which it takes. */
int ob_req_init(struct api_req *r, const char *op, json_t *body);
void ob_req_free(struct api_req *r);

/* Sends r and parses the answer into *ret (a new reference). Anything but
 * 200 with a JSON object is reported on stderr and is -EPROTO; a transport
 * failure is -EIO; after SIGINT/SIGTERM nothing is sent: -EINTR. */
int ob_api_send(struct bench *b, const struct api_req *r, json_t **ret);

/* One request built and sent: ob_api_send() for a body built on the spot. */
int ob_api(struct bench *b, const char *op, json_t *body, json_t **ret);

/* RegisterTaskDefinition of `family`: one container running the probe. */
int ob_register_probe(struct bench *b, const char *family, const char *mode, unsigned tag);

/* Appends the taskArn of every task in ans.tasks to arns (up to cap); how
 * many tasks the answer held, or -EPROTO with failures[] printed. */
long ob_take_tasks(const json_t *ans, char **arns, size_t *n, size_t cap);

/* DescribeTasks of arns[0..n) in batches; counts tasks whose lastStatus is
 * `status` into *ret_n. With pids, also stores each task's first runtimeId
 * (0 when absent) at the task's index. */
int ob_describe_count(struct bench *b, char **arns, size_t n, const char *status, size_t *ret_n,
		      int32_t *pids);

/* Polls until every task of arns is `status`; the last count in *ret_n. */
int ob_wait_status(struct bench *b, char **arns, size_t n, const char *status, int64_t deadline,
		   size_t *ret_n, int32_t *pids);

/* runtimeIds of every task the daemon still has RUNNING (best effort). */
size_t ob_running_task_pids(struct bench *b, int32_t *pids, size_t cap);

/* ------------------------------------------------------------ the daemon (orch_bench_daemon.c) */

/* Starts `tripline serve` on a free loopback port with a config of its own
 * under b->dir and waits for /healthz; its output goes to b->log_path. */
int ob_daemon_start(struct bench *b);

/* SIGTERM, then SIGKILL past the deadline; always reaps. */
void ob_daemon_stop(struct bench *b);

/* ------------------------------------------------------------ the parts (orch_bench_parts.c) */

struct summary {
	size_t n;
	int64_t p50, p90, p99, max;
};

struct runtask_result {
	struct summary running;    /* request sent → probe running */
	struct summary answered;   /* request sent → RunTask answer read */
	struct summary list;       /* ListClusters round trip */
	double cpu_ms;             /* the daemon's CPU per RunTask, children excluded */
};

struct launch_result {
	double answered_s;         /* all RunTask answered */
	double running_s;          /* the last probe started */
	double cpu_ms;             /* the daemon's CPU per task until then, children excluded */
	long long rss_idle, rss_running, rss_stopped;
	double stop_answered_s;    /* every StopTask answered */
	double stopped_s;          /* DescribeTasks: all STOPPED, processes gone */
	double stop_cpu_ms;        /* the daemon's CPU per task until then */
};

struct service_result {
	double up_s;            /* runningCount reached the target and every probe reported */
	double up_last_probe_s; /* the last probe started */
	double down_s;          /* runningCount 0, pendingCount 0, every probe gone */
};

/* 1. fork+exec and posix_spawn of the probe, b->runs each, in alternation. */
int ob_part_fork(struct bench *b, struct summary *ret_fork, struct summary *ret_spawn);

/* 2. b->runs sequential RunTask → probe running; ListClusters round trips. */
int ob_part_runtask(struct bench *b, struct runtask_result *res);

/* 3. b->tasks tasks by RunTask of RUN_COUNT, all RUNNING, then all stopped. */
int ob_part_launch(struct bench *b, long long rss_idle, struct launch_result *res);

/* 4. a service scaled 0 → b->service → 0. */
int ob_part_service(struct bench *b, struct service_result *res);

#endif
