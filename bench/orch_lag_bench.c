/*
 * orch_lag_bench.c — how long the daemon's loop stalls while a RunTask of
 * count 10 launches its tasks, measured from inside that loop.
 *
 * The program is a daemon of its own, in one process: it links
 * tripline_engine and builds what `tripline serve` builds — a libuv loop,
 * a configuration (config_from_text), a task-definition registry, the
 * orchestrator (orch_new) and the AWS JSON API (api_new) — without the HTTP
 * listener. A probe, a uv timer repeating every 1 ms on that same loop,
 * records its lateness: each callback's uv_hrtime() minus the previous
 * callback's, minus 1 ms (never below 0). A loop blocked for 40 ms shows as
 * one sample of ~40 ms; an idle loop as samples of 0–1 ms (libuv computes
 * its poll timeout in whole milliseconds).
 *
 * Each round: the loop idles for IDLE_MS, then a RunTask
 * {"taskDefinition": "lag", "count": N} goes through api_handle() (the
 * entry point the HTTP listener calls, on the loop thread, as it would for
 * a request), and the probe's samples are kept from just before that call
 * until the orchestrator's events have said RUNNING for all N tasks. Then
 * every task gets a StopTask (not measured) and the round ends when all are
 * STOPPED. The task runs `sleep 3600` (stopTimeout 2 s) with the process
 * driver, as root on a cgroup v1 host in a memory cgroup of its own — as a
 * daemon would run it.
 *
 * Printed: lag p50/p99/max over the idle windows and over the RunTask
 * windows (nearest rank), the longest stall of each round (median and
 * range), how long api_handle() took, RunTask → all N RUNNING, and the
 * process's CPU time (getrusage, every thread) per task over the RunTask
 * windows. Contract: figures only, never judged; every wait has a deadline
 * (WAIT_MS); exit 0 when every round completed, 1 when a wait passed its
 * deadline or the API answered something unexpected, 2 on a usage or
 * setup error. Tasks still running at the end are SIGKILLed with their
 * process groups; the temporary directory (under --dir, default /tmp:
 * data_dir's file system is part of what is measured, as the orchestrator
 * writes its state files on the loop) is removed unless --keep.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "api.h"
#include "bench_util.h"
#include "config.h"
#include "errlist.h"
#include "http.h"
#include "logger.h"
#include "orch.h"
#include "taskdef.h"

#define DEFAULT_ROUNDS 20u
#define MAX_ROUNDS 1000u
#define MAX_COUNT 10u                 /* ORCH_MAX_RUN_COUNT */
#define PROBE_MS 1u
#define IDLE_MS 100u
#define WAIT_MS 30000u
#define MAX_SAMPLES ((size_t)1 << 20)
#define TARGET_PREFIX "AmazonEC2ContainerServiceV20141113."

enum phase {
	PHASE_IDLE,        /* before a RunTask: idle samples */
	PHASE_LAUNCH,      /* RunTask sent, not all RUNNING yet */
	PHASE_STOP,        /* StopTask sent, not all STOPPED yet */
	PHASE_DONE,
};

struct samples {
	uint64_t *v;       /* ns */
	size_t n, cap;
};

struct bench {
	uv_loop_t loop;
	uv_timer_t probe, step, deadline;
	uint64_t last_ns;
	struct samples idle, launch;
	uint64_t round_max_ns;

	unsigned rounds, count, round;
	enum phase phase;
	char *arns[MAX_COUNT];
	pid_t pids[MAX_COUNT];
	unsigned running, stopped;

	uint64_t t0_ns, handler_ns, all_running_ns;
	uint64_t *round_max, *handler, *to_running;   /* per round, ns */
	uint64_t cpu_us;                              /* over the launch windows */
	struct rusage ru0;

	struct tripline_config *cfg;
	struct taskdef_registry *taskdefs;
	struct orch *orch;
	struct api *api;
	int status;        /* exit status */
	const char *parent;  /* where the temporary directory goes */
	char dir[4200];
};

static uint64_t ru_us(const struct rusage *r)
{
	return (uint64_t)r->ru_utime.tv_sec * 1000000u + (uint64_t)r->ru_utime.tv_usec +
	       (uint64_t)r->ru_stime.tv_sec * 1000000u + (uint64_t)r->ru_stime.tv_usec;
}

static void push(struct samples *s, uint64_t v)
{
	if (s->n == s->cap) {
		if (s->cap >= MAX_SAMPLES)
			return;
		size_t nc = s->cap ? s->cap * 2 : 4096;
		uint64_t *nv = realloc(s->v, nc * sizeof(*nv));
		if (!nv)
			return;
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n++] = v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest rank of sorted v[0..n). */
static double pct_ms(const uint64_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1e6;
}

static void on_step(uv_timer_t *t);

static void on_probe(uv_timer_t *t)
{
	struct bench *b = t->data;
	uint64_t now = uv_hrtime();
	uint64_t gap = now - b->last_ns;
	uint64_t lag = gap > PROBE_MS * 1000000u ? gap - PROBE_MS * 1000000u : 0;

	b->last_ns = now;
	if (b->phase == PHASE_IDLE && b->round > 0)
		push(&b->idle, lag);
	else if (b->phase == PHASE_LAUNCH) {
		if (b->round > 0)
			push(&b->launch, lag);
		if (lag > b->round_max_ns)
			b->round_max_ns = lag;
		/* the window closes with the first sample after the last RUNNING:
		 * a stall before it shows only in this sample */
		if (b->running == b->count) {
			b->round_max[b->round] = b->round_max_ns;
			b->phase = PHASE_STOP;
			uv_timer_start(&b->step, on_step, 0, 0);
		}
	}
}

/* One API call through api_handle(), as the HTTP listener makes it; the
 * answer's JSON object (new reference) or NULL with a message. */
static json_t *call(struct bench *b, const char *op, json_t *body)
{
	char target[128];
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return NULL;
	snprintf(target, sizeof(target), TARGET_PREFIX "%s", op);
	struct http_header headers[] = {
		{"Content-Type", "application/x-amz-json-1.1"},
		{"X-Amz-Target", target},
	};
	struct http_request req = {
		.method = "POST", .path = "/", .query = "", .body = text, .body_len = strlen(text),
		.headers = headers, .n_headers = 2, .remote_addr = "127.0.0.1",
	};
	struct http_response resp = {.status = 500};
	api_handle(b->api, &req, &resp);
	free(text);
	json_t *ans = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
	if (resp.status != 200 || !json_is_object(ans)) {
		fprintf(stderr, "orch_lag_bench: %s: HTTP %u: %.*s\n", op, resp.status,
			resp.body ? (int)resp.body_len : 0, resp.body ? resp.body : "");
		json_decref(ans);
		ans = NULL;
	}
	free(resp.body);
	return ans;
}

static void fail(struct bench *b, int status)
{
	b->status = status;
	b->phase = PHASE_DONE;
	uv_stop(&b->loop);
}

static void on_deadline(uv_timer_t *t)
{
	struct bench *b = t->data;

	fprintf(stderr, "orch_lag_bench: round %u: %u of %u tasks RUNNING, %u STOPPED within %u ms "
		"(deadline passed)\n", b->round, b->running, b->count, b->stopped, WAIT_MS);
	fail(b, 1);
}

static void run_task(struct bench *b)
{
	json_t *body = json_pack("{s:s, s:i}", "taskDefinition", "lag", "count", (int)b->count);

	b->running = b->stopped = 0;
	b->round_max_ns = 0;
	getrusage(RUSAGE_SELF, &b->ru0);
	b->phase = PHASE_LAUNCH;
	b->t0_ns = uv_hrtime();
	json_t *ans = call(b, "RunTask", body);
	b->handler_ns = uv_hrtime() - b->t0_ns;
	json_t *tasks = json_object_get(ans, "tasks");
	if (!ans || json_array_size(json_object_get(ans, "failures")) ||
	    json_array_size(tasks) != b->count) {
		fprintf(stderr, "orch_lag_bench: RunTask did not start %u tasks\n", b->count);
		json_decref(ans);
		fail(b, 1);
		return;
	}
	for (unsigned i = 0; i < b->count; i++) {
		const char *arn = json_string_value(json_object_get(json_array_get(tasks, i), "taskArn"));
		free(b->arns[i]);
		b->arns[i] = arn ? strdup(arn) : NULL;
		b->pids[i] = 0;
	}
	json_decref(ans);
	uv_timer_start(&b->deadline, on_deadline, WAIT_MS, 0);
}

static void stop_tasks(struct bench *b)
{
	for (unsigned i = 0; i < b->count; i++) {
		json_t *ans = call(b, "StopTask", json_pack("{s:s, s:s}", "task", b->arns[i] ? b->arns[i] : "",
							    "reason", "orch_lag_bench"));
		if (!ans) {
			fail(b, 1);
			return;
		}
		json_decref(ans);
	}
	uv_timer_start(&b->deadline, on_deadline, WAIT_MS, 0);
}

/* Moves the bench on from outside the orchestrator's callbacks. */
static void on_step(uv_timer_t *t)
{
	struct bench *b = t->data;

	switch (b->phase) {
	case PHASE_IDLE:
		run_task(b);
		break;
	case PHASE_LAUNCH:
		break;
	case PHASE_STOP:
		/* first from the probe (send the StopTasks), then from the last
		 * STOPPED event */
		if (b->stopped < b->count) {
			stop_tasks(b);
			break;
		}
		if (++b->round >= b->rounds) {
			b->phase = PHASE_DONE;
			uv_stop(&b->loop);
			return;
		}
		b->phase = PHASE_IDLE;
		uv_timer_start(&b->step, on_step, IDLE_MS, 0);
		break;
	case PHASE_DONE:
		break;
	}
}

static int index_of(const struct bench *b, const char *arn)
{
	for (unsigned i = 0; arn && i < b->count; i++)
		if (b->arns[i] && !strcmp(b->arns[i], arn))
			return (int)i;
	return -1;
}

static void on_task_event(struct bench *b, const json_t *ev)
{
	const json_t *detail = json_object_get(ev, "detail");
	const char *type = json_string_value(json_object_get(ev, "detail-type"));
	const char *last = json_string_value(json_object_get(detail, "lastStatus"));
	int i = index_of(b, json_string_value(json_object_get(detail, "taskArn")));

	if (!type || strcmp(type, "ECS Task State Change") || !last || i < 0)
		return;
	if (b->phase == PHASE_LAUNCH && !strcmp(last, "RUNNING") && !b->pids[i]) {
		const char *rid = json_string_value(
			json_object_get(json_array_get(json_object_get(detail, "containers"), 0), "runtimeId"));
		unsigned long pid;
		b->pids[i] = rid && parse_uint(rid, 1, INT32_MAX, &pid) == 0 ? (pid_t)pid : -1;
		if (++b->running == b->count) {
			struct rusage ru;
			getrusage(RUSAGE_SELF, &ru);
			if (b->round > 0)
				b->cpu_us += ru_us(&ru) - ru_us(&b->ru0);
			b->all_running_ns = uv_hrtime() - b->t0_ns;
			b->handler[b->round] = b->handler_ns;
			b->to_running[b->round] = b->all_running_ns;
			uv_timer_stop(&b->deadline);
		}
	} else if (!strcmp(last, "STOPPED")) {
		if (b->pids[i] > 0)
			b->pids[i] = -b->pids[i];   /* seen stopped */
		if (b->phase == PHASE_STOP && ++b->stopped == b->count) {
			uv_timer_stop(&b->deadline);
			uv_timer_start(&b->step, on_step, 0, 0);
		}
	}
}

/* The core hands events over as JSON text (what the bus will carry). */
static void on_event(void *userdata, const char *text, size_t len)
{
	json_t *ev = json_loadb(text, len, 0, NULL);
	if (ev)
		on_task_event(userdata, ev);
	json_decref(ev);
}

static int setup(struct bench *b)
{
	struct errlist errs = ERRLIST_INIT;
	char text[4400], path[4300], why[600] = "";
	int r;

	snprintf(b->dir, sizeof(b->dir), "%s/orch-lag-XXXXXX", b->parent);
	if (!mkdtemp(b->dir)) {
		perror("orch_lag_bench: mkdtemp");
		return -1;
	}
	snprintf(text, sizeof(text),
		 "{\"data_dir\": \"%s/data\", \"log_level\": \"warn\", \"limits\": {\"max_tasks\": 100}}",
		 b->dir);
	snprintf(path, sizeof(path), "%s/data", b->dir);
	if (mkdir(path, 0700) < 0 ||
	    config_from_text("orch_lag_bench.json", text, strlen(text), &b->cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "orch_lag_bench: %s\n", errs.msgs[i]);
		errlist_clear(&errs);
		return -1;
	}
	logger_setup(LOG_LEVEL_WARN, false);
	snprintf(path, sizeof(path), "%s/data/taskdefs", b->dir);
	if ((r = taskdef_registry_open(path, b->cfg->region, b->cfg->account, &b->taskdefs, &errs)) < 0) {
		fprintf(stderr, "orch_lag_bench: task definitions: %s\n", strerror(-r));
		errlist_clear(&errs);
		return -1;
	}
	if (uv_loop_init(&b->loop) < 0)
		return -1;
	struct orch_config oc = {
		.cluster_name = b->cfg->cluster.name,
		.region = b->cfg->region,
		.account = b->cfg->account,
		.cpu_units = b->cfg->cluster.cpu,
		.memory_mib = b->cfg->cluster.memory_mib,
		.data_dir = b->cfg->data_dir,
		.max_tasks = b->cfg->limits.max_tasks,
		.on_event = on_event,
		.userdata = b,
	};
	if ((r = orch_new(&b->loop, &oc, b->taskdefs, &b->orch, why, sizeof(why))) < 0) {
		fprintf(stderr, "orch_lag_bench: orch_new: %s\n", why[0] ? why : strerror(-r));
		return -1;
	}
	if ((r = api_new(b->cfg, b->taskdefs, b->orch, &b->api, why, sizeof(why))) < 0) {
		fprintf(stderr, "orch_lag_bench: api_new: %s\n", why[0] ? why : strerror(-r));
		return -1;
	}
	json_t *ans = call(b, "RegisterTaskDefinition",
			   json_pack("{s:s, s:[{s:s, s:s, s:b, s:i, s:[s,s]}]}", "family", "lag",
				     "containerDefinitions", "name", "main", "image", "local",
				     "essential", 1, "stopTimeout", 2, "command", "sleep", "3600"));
	if (!ans)
		return -1;
	json_decref(ans);
	return 0;
}

static void teardown(struct bench *b, bool keep)
{
	/* tasks not seen STOPPED: the daemon leaves them running on purpose */
	for (unsigned i = 0; i < MAX_COUNT; i++)
		if (b->pids[i] > 0)
			kill(-b->pids[i], SIGKILL);
	if (b->orch)
		orch_free(b->orch);
	api_free(b->api);
	if (b->loop.data == b) {
		uv_close((uv_handle_t *)&b->probe, NULL);
		uv_close((uv_handle_t *)&b->step, NULL);
		uv_close((uv_handle_t *)&b->deadline, NULL);
	}
	if (b->orch || b->loop.data == b) {
		for (int i = 0; i < 100 && uv_loop_close(&b->loop) == UV_EBUSY; i++)
			uv_run(&b->loop, UV_RUN_NOWAIT);
	}
	taskdef_registry_free(b->taskdefs);
	config_free(b->cfg);
	for (unsigned i = 0; i < MAX_COUNT; i++)
		free(b->arns[i]);
	if (b->dir[0] && !keep)
		bench_rm_tree(b->dir);
	else if (b->dir[0])
		fprintf(stderr, "orch_lag_bench: kept %s\n", b->dir);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: orch_lag_bench [--rounds N (default %u)] [--count N (1-%u, default %u)]\n"
		   "                      [--dir PARENT (default /tmp)] [--keep]\n",
		DEFAULT_ROUNDS, MAX_COUNT, MAX_COUNT);
}

static void print_row(const char *what, struct samples *s)
{
	qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	printf("  %-28s %8zu %8.3f %8.3f %8.3f\n", what, s->n, pct_ms(s->v, s->n, 50),
	       pct_ms(s->v, s->n, 99), pct_ms(s->v, s->n, 100));
}

static void print_per_round(const char *what, uint64_t *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("  %-36s median %8.3f ms, range %.3f-%.3f ms\n", what, pct_ms(v, n, 50),
	       (double)v[0] / 1e6, (double)v[n - 1] / 1e6);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"rounds", required_argument, NULL, 'r'},
		{"count", required_argument, NULL, 'c'},
		{"keep", no_argument, NULL, 'k'},
		{"dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct bench b;
	unsigned long v;
	bool keep = false;
	int ch;

	memset(&b, 0, sizeof(b));
	b.rounds = DEFAULT_ROUNDS;
	b.parent = "/tmp";
	b.count = MAX_COUNT;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			if (parse_uint(optarg, 1, MAX_ROUNDS, &v) < 0) {
				usage(stderr);
				return 2;
			}
			b.rounds = (unsigned)v;
			break;
		case 'c':
			if (parse_uint(optarg, 1, MAX_COUNT, &v) < 0) {
				usage(stderr);
				return 2;
			}
			b.count = (unsigned)v;
			break;
		case 'k':
			keep = true;
			break;
		case 'd':
			if (!optarg[0] || strlen(optarg) > 4000) {
				usage(stderr);
				return 2;
			}
			b.parent = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* round 0 warms up (first fork, first cgroup, page faults): not counted */
	b.rounds++;
	b.round_max = calloc(b.rounds, sizeof(uint64_t));
	b.handler = calloc(b.rounds, sizeof(uint64_t));
	b.to_running = calloc(b.rounds, sizeof(uint64_t));
	if (!b.round_max || !b.handler || !b.to_running || setup(&b) < 0) {
		teardown(&b, true);
		return 2;
	}
	b.loop.data = &b;
	uv_timer_init(&b.loop, &b.probe);
	uv_timer_init(&b.loop, &b.step);
	uv_timer_init(&b.loop, &b.deadline);
	b.probe.data = b.step.data = b.deadline.data = &b;
	b.last_ns = uv_hrtime();
	uv_timer_start(&b.probe, on_probe, PROBE_MS, PROBE_MS);
	b.status = 0;
	b.phase = PHASE_IDLE;
	uv_timer_start(&b.step, on_step, IDLE_MS, 0);
	uv_run(&b.loop, UV_RUN_DEFAULT);

	if (b.status == 0) {
		unsigned n = b.rounds - 1;
		printf("loop lag: a %u ms timer on the daemon's loop, lateness of each callback;\n"
		       "RunTask {count %u} through api_handle(), %u rounds after 1 warm-up; data_dir under %s (ms)\n",
		       PROBE_MS, b.count, n, b.parent);
		printf("  %-28s %8s %8s %8s %8s\n", "", "samples", "p50", "p99", "max");
		print_row("idle, between rounds", &b.idle);
		print_row("RunTask -> all RUNNING", &b.launch);
		printf("per round (%u rounds):\n", n);
		print_per_round("longest stall", b.round_max + 1, n);
		print_per_round("RunTask in api_handle()", b.handler + 1, n);
		print_per_round("RunTask -> all RUNNING", b.to_running + 1, n);
		printf("  process CPU time (every thread), RunTask -> all RUNNING: %.3f ms per task\n",
		       (double)b.cpu_us / 1000.0 / ((double)n * b.count));
	}
	teardown(&b, keep || b.status != 0);
	free(b.round_max);
	free(b.handler);
	free(b.to_running);
	free(b.idle.v);
	free(b.launch.v);
	return b.status;
}
