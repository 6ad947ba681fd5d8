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
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "bench_util.h"
#include "orch_probe.h"

#define DEFAULT_RUNS 300u
#define DEFAULT_TASKS 1000u
#define DEFAULT_SERVICE 100u
#define WARMUP_RUNS 5u
#define MAX_RUNS 100000u
#define MAX_TASKS 2000u             /* limits.max_tasks below */
#define MAX_SERVICE 1000u           /* ORCH_MAX_SERVICE_DESIRED */
#define RUN_COUNT 10u               /* RunTask count in the launch-rate part (ECS's maximum) */
#define MAX_BODY ((size_t)16 << 20) /* largest answer accepted */
#define MAX_CMDLINE 8192
#define MAX_SLEEPERS (MAX_TASKS + MAX_SERVICE + 64u)
#define DESCRIBE_BATCH 100u         /* DescribeTasks takes at most 100 */
#define MAX_LIST_PAGES 200u

#define REQUEST_TIMEOUT_S 10L
#define READY_DEADLINE_S 15.0
#define PROBE_DEADLINE_S 10.0       /* one launch in the sequential parts */
#define REAP_DEADLINE_S 10.0
#define BULK_DEADLINE_S 120.0       /* launching, stopping, scaling many */
#define DAEMON_EXIT_DEADLINE_S 15.0
#define POLL_SLEEP_NS 5000000L      /* between DescribeTasks/Services polls */

#define EXIT_WRONG 1
#define EXIT_SETUP 2

#define ECS_TARGET "AmazonEC2ContainerServiceV20141113."
#define SERVICE_NAME "orch-bench"

enum probe_tag { TAG_FORK = 1, TAG_RUNTASK = 2, TAG_LAUNCH = 3, TAG_SERVICE = 4 };

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
	CURL *curl;
	char url[64];
	char *body;                 /* the last answer */
	size_t body_len;
	int32_t sleepers[MAX_SLEEPERS];  /* pids of every "sleep" probe that reported */
	size_t n_sleepers;
	uint64_t stray;             /* datagrams of another part, or malformed */
};

/* A prepared request: headers and body built before the clock starts. */
struct api_req {
	const char *op;
	struct curl_slist *hdrs;
	char *body;
};

/* Reports of one part: the pid and start time of each probe, in order. */
struct collect {
	uint32_t tag;
	size_t want, got;
	int32_t *pid;
	int64_t *ns;
	int64_t max_ns;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* ------------------------------------------------------------ small helpers */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t deadline_after(double s)
{
	return now_ns() + (int64_t)(s * 1e9);
}

static double ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static double secs(int64_t ns)
{
	return (double)ns / 1e9;
}

static void sleep_ns(long ns)
{
	struct timespec ts = {0, ns};

	nanosleep(&ts, NULL);
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

/* CPU time (utime + stime) of process pid, its own threads only, in ns;
 * or a negative errno. */
static long long cpu_of(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long ut, st;
	long tick = sysconf(_SC_CLK_TCK);
	char *rp, *end, *end2;
	int i;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || tick <= 0)
		return -EIO;
	buf[n] = '\0';
	/* after "(comm)": state ppid pgrp session tty_nr tpgid flags minflt
	 * cminflt majflt cmajflt utime stime; comm may hold spaces, not ')' last */
	rp = strrchr(buf, ')');
	if (rp == NULL)
		return -EIO;
	for (i = 0; i < 12 && rp != NULL; i++)
		rp = strchr(rp + 1, ' ');
	if (rp == NULL)
		return -EIO;
	errno = 0;
	ut = strtoull(rp + 1, &end, 10);
	st = strtoull(end, &end2, 10);
	if (errno != 0 || end == rp + 1 || end2 == end)
		return -EIO;
	return (long long)((ut + st) * (1000000000ull / (unsigned long long)tick));
}

/* Whether pid exists and is not a zombie (a reaped or dead process is gone). */
/* Reads /proc/<pid>/<what> into buf (NUL-terminated); its length, or -1. */
static ssize_t read_proc(int32_t pid, const char *what, char *buf, size_t cap)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

static bool pid_alive(int32_t pid)
{
	char buf[512];
	char *rp;

	if (read_proc(pid, "stat", buf, sizeof(buf)) < 0)
		return false;
	rp = strrchr(buf, ')');
	return rp != NULL && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

/* Whether /proc/<pid> is gone altogether (reaped by its parent). */
static bool pid_reaped(int32_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return access(path, F_OK) != 0 && errno == ENOENT;
}

/* Whether pid runs this bench's probe with this run's socket (so that a pid
 * reused by something else is never signalled). */
static bool is_our_probe(const struct bench *b, int32_t pid)
{
	char buf[MAX_CMDLINE];
	size_t l0, l1;
	ssize_t n = read_proc(pid, "cmdline", buf, sizeof(buf));

	if (n < 0)
		return false;
	l0 = strlen(buf);
	if (strcmp(buf, b->probe) != 0 || l0 + 1 >= (size_t)n)
		return false;
	l1 = strlen(buf + l0 + 1);
	return l0 + 1 + l1 < (size_t)n && strcmp(buf + l0 + 1, b->sock_path) == 0;
}

/* What a failed wait or request ended with, for a message. */
static const char *why(int r)
{
	switch (r) {
	case -ETIMEDOUT: return "deadline passed";
	case -EINTR: return "interrupted";
	case -EPROTO: return "unexpected answer";
	default: return strerror(-r);
	}
}

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

struct summary {
	size_t n;
	int64_t p50, p90, p99, max;
};

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

static void print_row(const char *what, const struct summary *s)
{
	printf("  %-34s %5zu %8.3f %8.3f %8.3f %8.3f\n", what, s->n, ms(s->p50), ms(s->p90), ms(s->p99),
	       ms(s->max));
}

/* ------------------------------------------------------------ probe reports */

static int collect_init(struct collect *c, uint32_t tag, size_t want)
{
	memset(c, 0, sizeof(*c));
	c->tag = tag;
	c->want = want;
	c->pid = calloc(want ? want : 1, sizeof(*c->pid));
	c->ns = calloc(want ? want : 1, sizeof(*c->ns));
	if (c->pid == NULL || c->ns == NULL) {
		free(c->pid);
		free(c->ns);
		return -ENOMEM;
	}
	return 0;
}

static void collect_free(struct collect *c)
{
	free(c->pid);
	free(c->ns);
	memset(c, 0, sizeof(*c));
}

static void collect_reset(struct collect *c)
{
	c->got = 0;
	c->max_ns = 0;
}

/*
 * Reads every datagram waiting on the socket, after waiting up to
 * timeout_ms for the first one. Reports with c's tag are recorded (up to
 * c->want); the pid of every "sleep" probe is kept for the cleanup.
 */
static void drain(struct bench *b, struct collect *c, int timeout_ms)
{
	struct pollfd pfd = {b->sock, POLLIN, 0};

	if (timeout_ms > 0 && poll(&pfd, 1, timeout_ms) <= 0)
		return;
	for (;;) {
		struct probe_msg m;
		ssize_t n = recv(b->sock, &m, sizeof(m), MSG_DONTWAIT);

		if (n < 0)
			return;   /* EAGAIN: nothing more (EINTR: the caller loops) */
		if (n != (ssize_t)sizeof(m) || m.magic != PROBE_MAGIC || m.pid <= 0) {
			b->stray++;
			continue;
		}
		if ((m.tag == TAG_LAUNCH || m.tag == TAG_SERVICE) && b->n_sleepers < MAX_SLEEPERS)
			b->sleepers[b->n_sleepers++] = m.pid;
		if (c == NULL || m.tag != c->tag || c->got >= c->want) {
			b->stray++;
			continue;
		}
		c->pid[c->got] = m.pid;
		c->ns[c->got] = m.mono_ns;
		if (m.mono_ns > c->max_ns)
			c->max_ns = m.mono_ns;
		c->got++;
	}
}

/* Waits until c has `want` reports (0) or the deadline passes (-ETIMEDOUT). */
static int collect_wait(struct bench *b, struct collect *c, size_t want, int64_t deadline)
{
	while (c->got < want) {
		int64_t left = deadline - now_ns();

		if (interrupted)
			return -EINTR;
		if (left <= 0)
			return -ETIMEDOUT;
		drain(b, c, left > 50000000 ? 50 : (int)(left / 1000000) + 1);
	}
	return 0;
}

static int sock_open(struct bench *b)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, b->sock_path, strlen(b->sock_path) + 1);
	if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	b->sock = fd;
	return 0;
}

/* ------------------------------------------------------------ the API */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct bench *b = ud;
	size_t n = size * nmemb;
	char *nb;

	if (n > MAX_BODY - b->body_len)
		return 0;   /* curl fails the transfer: CURLE_WRITE_ERROR */
	nb = realloc(b->body, b->body_len + n + 1);
	if (nb == NULL)
		return 0;
	memcpy(nb + b->body_len, ptr, n);
	b->body = nb;
	b->body_len += n;
	b->body[b->body_len] = '\0';
	return n;
}

static int curl_setup(struct bench *b)
{
	b->curl = curl_easy_init();
	if (b->curl == NULL)
		return -ENOMEM;
	snprintf(b->url, sizeof(b->url), "http://127.0.0.1:%u/", (unsigned)b->port);
	if (curl_easy_setopt(b->curl, CURLOPT_URL, b->url) != CURLE_OK ||
	    curl_easy_setopt(b->curl, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(b->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(b->curl, CURLOPT_TCP_NODELAY, 1L) != CURLE_OK ||
	    curl_easy_setopt(b->curl, CURLOPT_TIMEOUT, REQUEST_TIMEOUT_S) != CURLE_OK ||
	    curl_easy_setopt(b->curl, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(b->curl, CURLOPT_WRITEDATA, (void *)b) != CURLE_OK)
		return -EINVAL;
	return 0;
}

static void req_free(struct api_req *r)
{
	curl_slist_free_all(r->hdrs);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Builds the headers and body of op with `body`, which it takes. */
static int req_init(struct api_req *r, const char *op, json_t *body)
{
	char target[128];
	struct curl_slist *h = NULL, *n;

	memset(r, 0, sizeof(*r));
	r->op = op;
	if (body == NULL)
		return -ENOMEM;
	r->body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	snprintf(target, sizeof(target), "X-Amz-Target: " ECS_TARGET "%s", op);
	if (r->body == NULL)
		return -ENOMEM;
	if ((n = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1")) == NULL)
		goto nomem;
	h = n;
	if ((n = curl_slist_append(h, target)) == NULL)
		goto nomem;
	h = n;
	if ((n = curl_slist_append(h, "Expect:")) == NULL)
		goto nomem;
	r->hdrs = n;
	return 0;
nomem:
	curl_slist_free_all(h);
	free(r->body);
	r->body = NULL;
	return -ENOMEM;
}

/*
 * Sends r and parses the answer into *ret (a new reference). Anything but
 * 200 with a JSON object is reported on stderr and is -EPROTO; a transport
 * failure is -EIO; after SIGINT/SIGTERM nothing is sent: -EINTR.
 */
static int api_send(struct bench *b, const struct api_req *r, json_t **ret)
{
	json_error_t je;
	long status = 0;
	CURLcode cc;
	json_t *j;

	*ret = NULL;
	b->body_len = 0;
	if (interrupted)
		return -EINTR;
	if (curl_easy_setopt(b->curl, CURLOPT_HTTPHEADER, r->hdrs) != CURLE_OK ||
	    curl_easy_setopt(b->curl, CURLOPT_POSTFIELDS, r->body) != CURLE_OK ||
	    curl_easy_setopt(b->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body)) != CURLE_OK)
		return -EINVAL;
	cc = curl_easy_perform(b->curl);
	if (cc != CURLE_OK) {
		fprintf(stderr, "orch_bench: %s: %s\n", r->op, curl_easy_strerror(cc));
		return -EIO;
	}
	curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, &status);
	j = json_loadb(b->body ? b->body : "", b->body_len, 0, &je);
	if (status != 200 || !json_is_object(j)) {
		fprintf(stderr, "orch_bench: %s: HTTP %ld: %.300s\n", r->op, status, b->body ? b->body : "");
		json_decref(j);
		return -EPROTO;
	}
	*ret = j;
	return 0;
}

/* One request built and sent: api_send() for a body built on the spot. */
static int api(struct bench *b, const char *op, json_t *body, json_t **ret)
{
	struct api_req r;
	int rc = req_init(&r, op, body);

	if (rc == 0)
		rc = api_send(b, &r, ret);
	req_free(&r);
	return rc;
}

/* RegisterTaskDefinition of `family`: one container running the probe. */
static int register_probe(struct bench *b, const char *family, const char *mode, unsigned tag)
{
	char tagstr[16];
	json_t *ans = NULL;
	int r;

	snprintf(tagstr, sizeof(tagstr), "%u", tag);
	r = api(b, "RegisterTaskDefinition",
		json_pack("{s:s, s:[{s:s, s:s, s:b, s:i, s:[s,s,s,s]}]}", "family", family,
			  "containerDefinitions", "name", "probe", "image", "local", "essential", 1,
			  "stopTimeout", 2, "command", b->probe, b->sock_path, mode, tagstr),
		&ans);
	json_decref(ans);
	return r;
}

/* Appends the taskArn of every task in ans.tasks to arns (up to cap); how
 * many tasks the answer held, or -EPROTO with failures[] printed. */
static long take_tasks(const json_t *ans, char **arns, size_t *n, size_t cap)
{
	const json_t *tasks = json_object_get(ans, "tasks");
	const json_t *fails = json_object_get(ans, "failures");
	size_t i;
	json_t *t;

	if (json_array_size(fails) > 0) {
		char *txt = json_dumps(json_array_get(fails, 0), JSON_COMPACT);

		fprintf(stderr, "orch_bench: RunTask: %zu failures, the first: %s\n", json_array_size(fails),
			txt ? txt : "?");
		free(txt);
		return -EPROTO;
	}
	json_array_foreach(tasks, i, t) {
		const char *arn = json_string_value(json_object_get(t, "taskArn"));

		if (arn == NULL)
			return -EPROTO;
		if (arns != NULL && *n < cap) {
			arns[*n] = strdup(arn);
			if (arns[*n] == NULL)
				return -ENOMEM;
			(*n)++;
		}
	}
	return (long)json_array_size(tasks);
}

/* ------------------------------------------------------------ the daemon */

static int free_port(uint16_t *ret)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r = 0;

	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		r = -errno;
	else
		*ret = ntohs(sa.sin_port);
	close(fd);
	return r;
}

static int write_config(struct bench *b, char *cfg_path, size_t cap)
{
	char listen[32], data_dir[PATH_MAX];
	json_t *cfg;
	int r;

	if (snprintf(cfg_path, cap, "%s/tripline.json", b->dir) >= (int)cap ||
	    snprintf(data_dir, sizeof(data_dir), "%s/var", b->dir) >= (int)sizeof(data_dir))
		return -ENAMETOOLONG;
	if (mkdir(data_dir, 0700) < 0)
		return -errno;
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)b->port);
	cfg = json_pack("{s:s, s:s, s:s, s:[], s:[], s:{s:i}}", "listen", listen, "data_dir", data_dir,
			"log_level", "warn", "rules", "task_definitions", "limits", "max_tasks", (int)MAX_TASKS);
	if (cfg == NULL)
		return -ENOMEM;
	r = json_dump_file(cfg, cfg_path, JSON_COMPACT) == 0 ? 0 : -EIO;
	json_decref(cfg);
	return r;
}

/* GET /healthz through a handle of its own (the API handle stays a POST). */
static bool healthz_ok(const struct bench *b)
{
	char url[80];
	long status = 0;
	CURL *h = curl_easy_init();
	FILE *sink = fopen("/dev/null", "we");
	bool ok = false;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", (unsigned)b->port);
	if (h != NULL && sink != NULL && curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_TIMEOUT, 2L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)sink) == CURLE_OK &&
	    curl_easy_perform(h) == CURLE_OK && curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
		ok = status == 200;
	if (sink != NULL)
		fclose(sink);
	curl_easy_cleanup(h);
	return ok;
}

/* Starts the daemon and waits for /healthz; its output goes to log_path. */
static int daemon_start(struct bench *b)
{
	char cfg_path[PATH_MAX];
	char arg_serve[] = "serve", arg_config[] = "--config";
	char *argv[5];
	int64_t deadline;
	int r, logfd;
	pid_t pid;

	if ((r = free_port(&b->port)) < 0 || (r = write_config(b, cfg_path, sizeof(cfg_path))) < 0) {
		fprintf(stderr, "orch_bench: preparing the daemon's config: %s\n", strerror(-r));
		return r;
	}
	logfd = open(b->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (logfd < 0) {
		r = -errno;
		fprintf(stderr, "orch_bench: %s: %s\n", b->log_path, strerror(errno));
		return r;
	}
	argv[0] = b->tripline;
	argv[1] = arg_serve;
	argv[2] = arg_config;
	argv[3] = cfg_path;
	argv[4] = NULL;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(logfd);
		return r;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		execv(b->tripline, argv);
		_exit(127);
	}
	close(logfd);
	b->daemon = pid;

	deadline = deadline_after(READY_DEADLINE_S);
	for (;;) {
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			b->daemon = 0;
			fprintf(stderr, "orch_bench: the daemon exited (status %d) before it was ready; see %s\n",
				WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), b->log_path);
			return -ECHILD;
		}
		if (healthz_ok(b))
			return 0;
		if (interrupted)
			return -EINTR;
		if (now_ns() > deadline) {
			fprintf(stderr, "orch_bench: /healthz not ready after %.0f s; see %s\n", READY_DEADLINE_S,
				b->log_path);
			return -ETIMEDOUT;
		}
		sleep_ns(10000000L);
	}
}

/* SIGTERM, then SIGKILL past the deadline; always reaps. */
static void daemon_stop(struct bench *b)
{
	int64_t deadline = deadline_after(DAEMON_EXIT_DEADLINE_S);
	int st;

	if (b->daemon <= 0)
		return;
	kill(b->daemon, SIGTERM);
	for (;;) {
		pid_t w = waitpid(b->daemon, &st, WNOHANG);

		if (w == b->daemon || (w < 0 && errno != EINTR))
			break;
		if (now_ns() > deadline) {
			fprintf(stderr, "orch_bench: the daemon did not exit %.0f s after SIGTERM: SIGKILL\n",
				DAEMON_EXIT_DEADLINE_S);
			kill(b->daemon, SIGKILL);
			waitpid(b->daemon, &st, 0);
			break;
		}
		sleep_ns(10000000L);
	}
	b->daemon = 0;
}

/* ------------------------------------------------------------ 1. fork+exec */

/* Waits for a child of ours to exit; SIGKILL past the deadline. */
static int reap_child(pid_t pid)
{
	int64_t deadline = deadline_after(REAP_DEADLINE_S);
	int st;

	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ECHILD;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (now_ns() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -ETIMEDOUT;
		}
		sleep_ns(100000L);
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
	int64_t t0 = now_ns();
	pid_t pid;
	int r;

	if (interrupted)
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
	collect_reset(c);
	r = collect_wait(b, c, 1, deadline_after(PROBE_DEADLINE_S));
	if (r == 0 && c->pid[0] != pid)
		r = -EPROTO;
	if (r < 0) {
		kill(pid, SIGKILL);
		reap_child(pid);
		fprintf(stderr, "orch_bench: %s: %s\n", what,
			r == -EPROTO ? "a report from another pid" : why(r));
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
static int part_fork(struct bench *b, struct summary *ret_fork, struct summary *ret_spawn)
{
	size_t total = WARMUP_RUNS + b->runs, i;
	int64_t *lat_fork = calloc(b->runs, sizeof(*lat_fork));
	int64_t *lat_spawn = calloc(b->runs, sizeof(*lat_spawn));
	struct collect c;
	int r = 0;

	if (lat_fork == NULL || lat_spawn == NULL || collect_init(&c, TAG_FORK, 1) < 0) {
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
	collect_free(&c);
	free(lat_fork);
	free(lat_spawn);
	return r;
}

/* ------------------------------------------------------------ 2. RunTask → running */

/* Waits until the daemon has reaped pid (its child). */
static int wait_reaped(int32_t pid, int64_t deadline)
{
	while (!pid_reaped(pid)) {
		if (interrupted)
			return -EINTR;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		sleep_ns(200000L);
	}
	return 0;
}

struct runtask_result {
	struct summary running;    /* request sent → probe running */
	struct summary answered;   /* request sent → RunTask answer read */
	struct summary list;       /* ListClusters round trip */
	double cpu_ms;             /* the daemon's CPU per RunTask, children excluded */
};

static int part_runtask(struct bench *b, struct runtask_result *res)
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

	if (lat == NULL || ans_lat == NULL || rtt == NULL || collect_init(&c, TAG_RUNTASK, 1) < 0) {
		free(lat);
		free(ans_lat);
		free(rtt);
		return -ENOMEM;
	}
	if ((r = register_probe(b, "orch-bench-exit", "exit", TAG_RUNTASK)) < 0 ||
	    (r = req_init(&run, "RunTask",
			  json_pack("{s:s, s:i}", "taskDefinition", "orch-bench-exit", "count", 1))) < 0 ||
	    (r = req_init(&list, "ListClusters", json_object())) < 0)
		goto out;

	cpu0 = cpu_of(b->daemon);
	for (i = 0; i < total; i++) {
		int64_t t0 = now_ns(), t1;
		long n;

		r = api_send(b, &run, &ans);
		t1 = now_ns();
		if (r < 0)
			goto out_reached;
		n = take_tasks(ans, NULL, NULL, 0);
		json_decref(ans);
		ans = NULL;
		if (n != 1) {
			r = n < 0 ? (int)n : -EPROTO;
			goto out_reached;
		}
		collect_reset(&c);
		if ((r = collect_wait(b, &c, 1, deadline_after(PROBE_DEADLINE_S))) < 0)
			goto out_reached;
		if ((r = wait_reaped(c.pid[0], deadline_after(REAP_DEADLINE_S))) < 0) {
			fprintf(stderr, "orch_bench: RunTask: probe %d not reaped by the daemon\n", (int)c.pid[0]);
			goto out_reached;
		}
		if (i >= WARMUP_RUNS) {
			lat[i - WARMUP_RUNS] = c.ns[0] - t0;
			ans_lat[i - WARMUP_RUNS] = t1 - t0;
		}
	}
	cpu1 = cpu_of(b->daemon);
	res->cpu_ms = cpu0 >= 0 && cpu1 >= 0 ? ms(cpu1 - cpu0) / (double)total : -1.0;
	for (i = 0; i < total; i++) {
		int64_t t0 = now_ns();

		if ((r = api_send(b, &list, &ans)) < 0)
			goto out;
		if (i >= WARMUP_RUNS)
			rtt[i - WARMUP_RUNS] = now_ns() - t0;
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
		why(r));
out:
	json_decref(ans);
	req_free(&run);
	req_free(&list);
	collect_free(&c);
	free(lat);
	free(ans_lat);
	free(rtt);
	return r;
}

/* ------------------------------------------------------------ task state */

/*
 * DescribeTasks of arns[0..n) in batches; counts tasks whose lastStatus is
 * `status` into *ret_n. With pids, also stores each task's first
 * runtimeId (0 when absent) at the task's index.
 */
static int describe_count(struct bench *b, char **arns, size_t n, const char *status, size_t *ret_n,
			  int32_t *pids)
{
	size_t done = 0, off;

	for (off = 0; off < n; off += DESCRIBE_BATCH) {
		size_t k, m = n - off < DESCRIBE_BATCH ? n - off : DESCRIBE_BATCH;
		json_t *list = json_array(), *ans = NULL, *t;
		int r;

		if (list == NULL)
			return -ENOMEM;
		for (k = 0; k < m; k++)
			json_array_append_new(list, json_string(arns[off + k]));
		if ((r = api(b, "DescribeTasks", json_pack("{s:o}", "tasks", list), &ans)) < 0)
			return r;
		if (json_array_size(json_object_get(ans, "failures")) > 0 ||
		    json_array_size(json_object_get(ans, "tasks")) != m) {
			fprintf(stderr, "orch_bench: DescribeTasks: some tasks are missing\n");
			json_decref(ans);
			return -EPROTO;
		}
		json_array_foreach(json_object_get(ans, "tasks"), k, t) {
			const char *st = json_string_value(json_object_get(t, "lastStatus"));

			if (st != NULL && strcmp(st, status) == 0)
				done++;
			if (pids != NULL) {
				const char *rid = json_string_value(
					json_object_get(json_array_get(json_object_get(t, "containers"), 0), "runtimeId"));
				unsigned long v;

				pids[off + k] = rid && parse_uint(rid, 1, INT32_MAX, &v) == 0 ? (int32_t)v : 0;
			}
		}
		json_decref(ans);
	}
	*ret_n = done;
	return 0;
}

/* Polls until every task of arns is `status`; the last count in *ret_n. */
static int wait_status(struct bench *b, char **arns, size_t n, const char *status, int64_t deadline,
		       size_t *ret_n, int32_t *pids)
{
	*ret_n = 0;
	for (;;) {
		int r = describe_count(b, arns, n, status, ret_n, pids);

		if (r < 0)
			return r;
		if (*ret_n == n)
			return 0;
		if (interrupted)
			return -EINTR;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		sleep_ns(POLL_SLEEP_NS);
	}
}

/* How many of pids[0..n) still run (not zombies). */
static size_t count_alive(const int32_t *pids, size_t n)
{
	size_t i, alive = 0;

	for (i = 0; i < n; i++)
		alive += pid_alive(pids[i]);
	return alive;
}

static int wait_gone(const int32_t *pids, size_t n, int64_t deadline, size_t *ret_alive)
{
	for (;;) {
		*ret_alive = count_alive(pids, n);
		if (*ret_alive == 0)
			return 0;
		if (interrupted)
			return -EINTR;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		sleep_ns(POLL_SLEEP_NS);
	}
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

/* ------------------------------------------------------------ 3. launch rate */

struct launch_result {
	double answered_s;         /* all RunTask answered */
	double running_s;          /* the last probe started */
	double cpu_ms;             /* the daemon's CPU per task until then, children excluded */
	long long rss_idle, rss_running, rss_stopped;
	double stop_answered_s;    /* every StopTask answered */
	double stopped_s;          /* DescribeTasks: all STOPPED, processes gone */
	double stop_cpu_ms;        /* the daemon's CPU per task until then */
};

static int part_launch(struct bench *b, long long rss_idle, struct launch_result *res)
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
	if (arns == NULL || rid == NULL || collect_init(&c, TAG_LAUNCH, b->tasks) < 0) {
		free(arns);
		free(rid);
		return -ENOMEM;
	}
	if ((r = register_probe(b, "orch-bench-sleep", "sleep", TAG_LAUNCH)) < 0 ||
	    (r = req_init(&run, "RunTask", json_pack("{s:s, s:i}", "taskDefinition", "orch-bench-sleep", "count",
						     (int)RUN_COUNT))) < 0)
		goto out;

	cpu0 = cpu_of(b->daemon);
	t0 = now_ns();
	for (i = 0; i < nreq; i++) {
		long n;

		if ((r = api_send(b, &run, &ans)) < 0)
			break;
		n = take_tasks(ans, arns, &narns, b->tasks);
		json_decref(ans);
		ans = NULL;
		if (n != (long)RUN_COUNT) {
			r = n < 0 ? (int)n : -EPROTO;
			break;
		}
		drain(b, &c, 0);
	}
	res->answered_s = secs(now_ns() - t0);
	if (r < 0) {
		fprintf(stderr, "orch_bench: launch rate: %zu of %zu RunTask answered with %u tasks\n", i, nreq,
			RUN_COUNT);
		goto out;
	}
	r = collect_wait(b, &c, b->tasks, deadline_after(BULK_DEADLINE_S));
	if (r < 0) {
		fprintf(stderr, "orch_bench: launch rate: %zu of %u probes reported within %.0f s (%s)\n", c.got,
			b->tasks, BULK_DEADLINE_S, why(r));
		goto out;
	}
	res->running_s = secs(c.max_ns - t0);
	cpu1 = cpu_of(b->daemon);
	res->cpu_ms = cpu0 >= 0 && cpu1 >= 0 ? ms(cpu1 - cpu0) / (double)b->tasks : -1.0;

	/* the daemon's view: RUNNING, with the probes' pids as runtimeId */
	r = wait_status(b, arns, narns, "RUNNING", deadline_after(BULK_DEADLINE_S), &n_ok, rid);
	if (r < 0) {
		fprintf(stderr, "orch_bench: launch rate: %zu of %zu tasks RUNNING (%s)\n", n_ok, narns,
			why(r));
		goto out;
	}
	res->rss_running = rss_of(b->daemon);
	qsort(c.pid, c.got, sizeof(*c.pid), cmp_i32);
	for (i = 0; i < narns; i++) {
		if (rid[i] == 0 || bsearch(&rid[i], c.pid, c.got, sizeof(*c.pid), cmp_i32) == NULL) {
			fprintf(stderr, "orch_bench: launch rate: task %s has runtimeId %d, no probe of that pid\n",
				arns[i], (int)rid[i]);
			r = -EPROTO;
			goto out;
		}
	}

	/* stop them all */
	cpu0 = cpu_of(b->daemon);
	t0 = now_ns();
	for (i = 0; i < narns; i++) {
		if ((r = api(b, "StopTask", json_pack("{s:s}", "task", arns[i]), &ans)) < 0) {
			fprintf(stderr, "orch_bench: stopping: %zu of %zu StopTask answered\n", i, narns);
			goto out;
		}
		json_decref(ans);
		ans = NULL;
	}
	res->stop_answered_s = secs(now_ns() - t0);
	r = wait_status(b, arns, narns, "STOPPED", deadline_after(BULK_DEADLINE_S), &n_ok, NULL);
	if (r < 0) {
		fprintf(stderr, "orch_bench: stopping: %zu of %zu tasks STOPPED (%s)\n", n_ok, narns, why(r));
		goto out;
	}
	r = wait_gone(c.pid, c.got, deadline_after(BULK_DEADLINE_S), &alive);
	if (r < 0) {
		fprintf(stderr, "orch_bench: stopping: all STOPPED, but %zu probe processes still run\n", alive);
		goto out;
	}
	res->stopped_s = secs(now_ns() - t0);
	cpu1 = cpu_of(b->daemon);
	res->stop_cpu_ms = cpu0 >= 0 && cpu1 >= 0 ? ms(cpu1 - cpu0) / (double)b->tasks : -1.0;
	res->rss_stopped = rss_of(b->daemon);
	r = 0;
out:
	for (i = 0; i < narns; i++)
		free(arns[i]);
	free(arns);
	free(rid);
	req_free(&run);
	collect_free(&c);
	return r;
}

/* ------------------------------------------------------------ 4. service scaling */

struct service_result {
	double up_s;            /* runningCount reached the target and every probe reported */
	double up_last_probe_s; /* the last probe started */
	double down_s;          /* runningCount 0, pendingCount 0, every probe gone */
};

static int service_counts(struct bench *b, long long *running, long long *pending)
{
	json_t *ans = NULL, *s;
	int r = api(b, "DescribeServices", json_pack("{s:[s]}", "services", SERVICE_NAME), &ans);

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
	int r = api(b, "UpdateService",
		    json_pack("{s:s, s:i}", "service", SERVICE_NAME, "desiredCount", (int)desired), &ans);

	json_decref(ans);
	return r;
}

static int part_service(struct bench *b, struct service_result *res)
{
	long long running = -1, pending = -1;
	size_t alive = 0;
	struct collect c;
	json_t *ans = NULL;
	int64_t t0, deadline;
	int r;

	if (collect_init(&c, TAG_SERVICE, b->service) < 0)
		return -ENOMEM;
	if ((r = register_probe(b, "orch-bench-svc", "sleep", TAG_SERVICE)) < 0 ||
	    (r = api(b, "CreateService",
		     json_pack("{s:s, s:s, s:i, s:i}", "serviceName", SERVICE_NAME, "taskDefinition",
			       "orch-bench-svc", "desiredCount", 0, "healthCheckGracePeriodSeconds", 0),
		     &ans)) < 0)
		goto out;
	json_decref(ans);

	t0 = now_ns();
	deadline = deadline_after(BULK_DEADLINE_S);
	if ((r = scale(b, b->service)) < 0)
		goto out;
	for (;;) {
		drain(b, &c, 0);
		if ((r = service_counts(b, &running, &pending)) < 0)
			goto out;
		if (running == (long long)b->service && c.got == b->service)
			break;
		if (interrupted || now_ns() > deadline) {
			r = interrupted ? -EINTR : -ETIMEDOUT;
			fprintf(stderr, "orch_bench: scaling to %u: runningCount %lld, pendingCount %lld, "
				"%zu probes reported (%s)\n", b->service, running, pending, c.got, why(r));
			goto out;
		}
		sleep_ns(POLL_SLEEP_NS);
	}
	res->up_s = secs(now_ns() - t0);
	res->up_last_probe_s = secs(c.max_ns - t0);

	t0 = now_ns();
	deadline = deadline_after(BULK_DEADLINE_S);
	if ((r = scale(b, 0)) < 0)
		goto out;
	for (;;) {
		if ((r = service_counts(b, &running, &pending)) < 0)
			goto out;
		alive = count_alive(c.pid, c.got);
		if (running == 0 && pending == 0 && alive == 0)
			break;
		if (interrupted || now_ns() > deadline) {
			r = interrupted ? -EINTR : -ETIMEDOUT;
			fprintf(stderr, "orch_bench: scaling to 0: runningCount %lld, pendingCount %lld, "
				"%zu probes still run (%s)\n", running, pending, alive, why(r));
			goto out;
		}
		sleep_ns(POLL_SLEEP_NS);
	}
	res->down_s = secs(now_ns() - t0);
	r = 0;
out:
	collect_free(&c);
	return r;
}

/* ------------------------------------------------------------ cleanup */

/* runtimeIds of every task the daemon still has RUNNING (best effort). */
static size_t running_task_pids(struct bench *b, int32_t *pids, size_t cap)
{
	char *next = NULL;
	size_t n = 0;
	unsigned page;

	for (page = 0; page < MAX_LIST_PAGES; page++) {
		json_t *req = json_pack("{s:s, s:i}", "desiredStatus", "RUNNING", "maxResults", 100);
		json_t *ans = NULL, *arns, *a;
		char **list = NULL;
		size_t i, k = 0;

		if (req != NULL && next != NULL)
			json_object_set_new(req, "nextToken", json_string(next));
		free(next);
		next = NULL;
		if (api(b, "ListTasks", req, &ans) < 0)
			break;
		arns = json_object_get(ans, "taskArns");
		list = calloc(json_array_size(arns) + 1, sizeof(*list));
		if (list != NULL) {
			json_array_foreach(arns, i, a)
				if (json_is_string(a) && (list[k] = strdup(json_string_value(a))) != NULL)
					k++;
		}
		if (list != NULL && k > 0 && n + k <= cap) {
			size_t dummy;

			if (describe_count(b, list, k, "RUNNING", &dummy, pids + n) == 0)
				n += k;
		}
		for (i = 0; list != NULL && i < k; i++)
			free(list[i]);
		free(list);
		if (json_is_string(json_object_get(ans, "nextToken")))
			next = strdup(json_string_value(json_object_get(ans, "nextToken")));
		json_decref(ans);
		if (next == NULL)
			break;
	}
	free(next);
	return n;
}

/* Appends the pid of every process running this run's probe. */
static void sweep_proc(const struct bench *b, int32_t *pids, size_t *n, size_t cap)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && *n < cap) {
		unsigned long v;

		if (parse_uint(e->d_name, 1, INT32_MAX, &v) == 0 && is_our_probe(b, (int32_t)v))
			pids[(*n)++] = (int32_t)v;
	}
	closedir(d);
}

/*
 * Appends to dirs the cgroup directories the daemon made for pid (path
 * components "/tripline/", see driver_process.c), as /proc/<pid>/cgroup
 * names them: "N:controllers:/path" (v1, under /sys/fs/cgroup/<first
 * controller>) or "0::/path" (v2, under /sys/fs/cgroup).
 */
static void task_cgroups(int32_t pid, char **dirs, size_t *n, size_t cap)
{
	char path[64], line[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL && *n < cap) {
		char *ctrl = strchr(line, ':'), *cg, *comma, *nl, dir[PATH_MAX + 64];

		cg = ctrl ? strchr(ctrl + 1, ':') : NULL;
		if (cg == NULL || strstr(cg, "/tripline/") == NULL)
			continue;
		*cg++ = '\0';
		ctrl++;
		if ((nl = strchr(cg, '\n')) != NULL)
			*nl = '\0';
		if ((comma = strchr(ctrl, ',')) != NULL)
			*comma = '\0';
		if (strncmp(ctrl, "name=", 5) == 0)
			continue;
		if (snprintf(dir, sizeof(dir), "/sys/fs/cgroup%s%s%s", *ctrl ? "/" : "", ctrl, cg) <
		    (int)sizeof(dir) && (dirs[*n] = strdup(dir)) != NULL)
			(*n)++;
	}
	fclose(f);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

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

	interrupted = 0;   /* the API must answer once more */
	if (b->daemon > 0 && b->curl != NULL)
		n = running_task_pids(b, pids, MAX_SLEEPERS);
	daemon_stop(b);
	memcpy(pids + n, b->sleepers, b->n_sleepers * sizeof(*pids));
	n += b->n_sleepers;
	sweep_proc(b, pids, &n, sizeof(pids) / sizeof(*pids));
	qsort(pids, n, sizeof(*pids), cmp_i32);
	for (i = 0; i < n; i++) {
		int32_t pid = pids[i];

		pids[i] = 0;
		if (pid <= 0 || pid == prev || !is_our_probe(b, pid)) {
			prev = pid;
			continue;
		}
		prev = pids[i] = pid;
		task_cgroups(pids[i], cgroups, &ncg, sizeof(cgroups) / sizeof(*cgroups));
		killpg(pids[i], SIGKILL);   /* the process driver makes each task a group leader */
		kill(pids[i], SIGKILL);
		killed++;
	}
	if (killed > 0)
		fprintf(stderr, "orch_bench: killed %zu task processes left running\n", killed);
	/* their cgroups, which the daemon would have removed, once empty */
	deadline = deadline_after(REAP_DEADLINE_S);
	for (i = 0; i < n; i++)
		while (pids[i] > 0 && pid_alive(pids[i]) && now_ns() < deadline)
			sleep_ns(1000000L);
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
		nftw(b->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
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
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
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
	if ((r = sock_open(&b)) < 0) {
		fprintf(stderr, "orch_bench: %s: %s\n", b.sock_path, strerror(-r));
		status = EXIT_SETUP;
		goto out;
	}

	fprintf(stderr, "orch_bench: 1/4 fork+exec and posix_spawn baselines (%u runs each)\n", b.runs);
	if ((r = part_fork(&b, &res.fork, &res.spawn)) < 0) {
		status = r == -ETIMEDOUT || r == -EPROTO ? EXIT_WRONG : EXIT_SETUP;
		goto out;
	}

	done = 1;
	if ((r = daemon_start(&b)) < 0) {
		status = EXIT_SETUP;
		b.keep = true;   /* for the daemon's log */
		goto out;
	}
	rss_idle = rss_of(b.daemon);
	if ((r = curl_setup(&b)) < 0) {
		fprintf(stderr, "orch_bench: libcurl setup failed\n");
		status = EXIT_SETUP;
		goto out;
	}
	printf("orch_bench: %s serve, process driver, log_level warn, limits.max_tasks %u\n", b.tripline,
	       MAX_TASKS);
	printf("daemon pid %d on 127.0.0.1:%u; probe %s\n", (int)b.daemon, (unsigned)b.port, b.probe);
	fflush(stdout);

	fprintf(stderr, "orch_bench: 2/4 RunTask -> running (%u runs), ListClusters round trip\n", b.runs);
	if ((r = part_runtask(&b, &res.rt)) < 0)
		goto failed;
	done = 2;
	fprintf(stderr, "orch_bench: 3/4 launch rate (%u tasks), RSS, stop\n", b.tasks);
	if ((r = part_launch(&b, rss_idle, &res.lr)) < 0)
		goto failed;
	done = 3;
	fprintf(stderr, "orch_bench: 4/4 service 0 -> %u -> 0\n", b.service);
	if ((r = part_service(&b, &res.sr)) < 0)
		goto failed;

	print_results(&b, &res, 4);
	goto out;

failed:
	status = r == -EINTR || r == -ENOMEM || r == -EINVAL ? EXIT_SETUP : EXIT_WRONG;
	b.keep = true;   /* for the daemon's log */
	fflush(stdout);
	fprintf(stderr, "orch_bench: stopped early (%s); the parts that completed:\n", why(r));
	print_results(&b, &res, done);
out:
	fflush(stdout);
	cleanup(&b);
	curl_easy_cleanup(b.curl);
	free(b.body);
	curl_global_cleanup();
	return status;

bad_usage:
	usage(stderr);
	return EXIT_SETUP;
}
