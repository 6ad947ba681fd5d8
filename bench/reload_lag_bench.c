/*
 * reload_lag_bench.c — how long the daemon's loop stalls while a rule set
 * of 100,000 rules (--rules N) is reloaded, measured from inside that loop.
 *
 * The program builds what `tripline serve` builds for rules: a libuv loop,
 * the bus (bus.h) holding the current generation, and the reloader
 * (reload.h) watching the rules directory; the reload's apply callback
 * swaps the new generation into the bus, as the daemon's does. A probe, a
 * uv timer repeating every 1 ms on the same loop, records its lateness
 * (the time since the previous callback minus 1 ms, never below 0): a loop
 * blocked for 40 ms shows as one sample of ~40 ms.
 *
 * The rules: N rules in one file, each {"source": ["bench"], "detail":
 * {"n": [i]}} with one file target (what a reload builds and prepares is
 * then the daemon's: the matcher, the targets' states), written to a
 * temporary directory. Each round requests a reload (as SIGHUP does) and
 * keeps the probe's samples until the new generation is in the bus; the
 * old generation is then released — freed off the loop thread — and the
 * round goes on until that has finished too, so its cost is in the window.
 *
 * Printed: the reload's duration (request → swapped) and the probe's lag
 * p50/p99/max per round and over all rounds. Figures only; exit 0, or 1
 * when a reload fails, 2 on a usage or setup error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "bench_util.h"
#include "bus.h"
#include "config.h"
#include "dispatch.h"
#include "errlist.h"
#include "logger.h"
#include "reload.h"
#include "rulegen.h"

#define PROBE_MS 1u
#define MAX_SAMPLES 200000u

struct bench {
	uv_loop_t loop;
	uv_timer_t probe;
	uint64_t last_ns;
	bool recording;
	double *samples;      /* ms */
	size_t n_samples;
	struct bus *bus;
	struct reload *reload;
	bool swapped, failed;
	uint64_t requested_ns, swapped_ns;
};

/* The bus never dispatches here: no event is put. */
void dispatch_submit(struct dispatch *d, struct event *ev, struct rulegen *gen, uint32_t rule, uint32_t target)
{
	(void)d, (void)ev, (void)gen, (void)rule, (void)target;
	abort();
}

static void on_probe(uv_timer_t *t)
{
	struct bench *b = t->data;
	uint64_t now = uv_hrtime();

	if (b->recording && b->last_ns && b->n_samples < MAX_SAMPLES) {
		double lag = (double)(now - b->last_ns) / 1e6 - PROBE_MS;
		b->samples[b->n_samples++] = lag < 0 ? 0 : lag;
	}
	b->last_ns = now;
}

static void on_apply(void *arg, struct rulegen *gen, int result, const struct errlist *errs)
{
	struct bench *b = arg;

	if (!gen) {
		fprintf(stderr, "reload_lag_bench: the reload failed (%d): %s\n", result,
			errs->n ? errs->msgs[0] : "?");
		b->failed = true;
	} else {
		bus_set_rules(b->bus, gen);
	}
	b->swapped = true;
	b->swapped_ns = uv_hrtime();
}

static int write_rules(const char *dir, unsigned n)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/rules.json", dir);
	if (!(f = fopen(path, "w")))
		return -errno;
	fputs("{\"Rules\":[", f);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s{\"Name\":\"r%u\",\"EventPattern\":{\"source\":[\"bench\"],\"detail\":{\"n\":[%u]}},"
			   "\"Targets\":[{\"Id\":\"t\",\"Arn\":\"file:%s/out-%u.jsonl\"}]}\n",
			i ? "," : "", i, i, dir, i % 10);
	fputs("]}\n", f);
	return fclose(f) == 0 ? 0 : -errno;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, size_t n)
{
	if (!n) {
		printf("  %-16s no samples\n", what);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_double);
	printf("  %-16s lag p50 %.2f ms  p99 %.2f ms  max %.2f ms  (%zu samples)\n", what,
	       v[(n - 1) / 2], v[(size_t)((double)(n - 1) * 0.99)], v[n - 1], n);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"rules", required_argument, NULL, 'n'},
					     {"rounds", required_argument, NULL, 'r'},
					     {"dir", required_argument, NULL, 'd'},
					     {NULL, 0, NULL, 0}};
	unsigned n_rules = 100000, rounds = 3;
	const char *base = "/tmp";
	struct bench b;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n')
			n_rules = (unsigned)strtoul(optarg, NULL, 10);
		else if (c == 'r')
			rounds = (unsigned)strtoul(optarg, NULL, 10);
		else if (c == 'd')
			base = optarg;
		else {
			fprintf(stderr, "usage: reload_lag_bench [--rules N] [--rounds R] [--dir DIR]\n");
			return 2;
		}
	}
	logger_setup(LOG_LEVEL_WARN, false);
	memset(&b, 0, sizeof(b));
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/reload_lag_bench.XXXXXX", base);
	if (!mkdtemp(dir) || write_rules(dir, n_rules) < 0) {
		fprintf(stderr, "reload_lag_bench: %s: %s\n", dir, strerror(errno));
		return 2;
	}
	static char region[] = "local", account[] = "000000000000";
	struct tripline_config cfg = {.region = region, .account = account};
	cfg.limits.max_event_bytes = 256 << 10;
	b.samples = calloc(MAX_SAMPLES, sizeof(*b.samples));
	double *all = calloc(MAX_SAMPLES, sizeof(*all));
	size_t n_all = 0;
	uv_loop_init(&b.loop);
	if (!b.samples || !all || bus_new(&b.loop, &(struct bus_config){0}, &b.bus) < 0)
		return 2;
	const char *paths[] = {dir};
	if (reload_new(&b.loop, &cfg, paths, 1, 0, on_apply, &b, &b.reload) < 0)
		return 2;
	uv_timer_init(&b.loop, &b.probe);
	b.probe.data = &b;
	uv_timer_start(&b.probe, on_probe, PROBE_MS, PROBE_MS);
	printf("reload_lag_bench: %u rules, %u rounds, probe every %u ms\n", n_rules, rounds, PROBE_MS);
	for (unsigned r = 0; r <= rounds && !b.failed; r++) {
		/* round 0 loads the first set; each later one replaces a set as large */
		b.swapped = false;
		b.n_samples = 0;
		b.recording = true;
		b.requested_ns = uv_hrtime();
		reload_request(b.reload, "bench");
		while (!b.swapped)
			uv_run(&b.loop, UV_RUN_ONCE);
		/* the old generation is freed on the threadpool: wait for it, probing */
		uint64_t until = uv_hrtime() + 2000000000ull;
		while (uv_hrtime() < until)
			uv_run(&b.loop, UV_RUN_ONCE);
		b.recording = false;
		printf("round %u: reload %.1f ms\n", r, (double)(b.swapped_ns - b.requested_ns) / 1e6);
		if (r > 0)
			for (size_t i = 0; i < b.n_samples && n_all < MAX_SAMPLES; i++)
				all[n_all++] = b.samples[i];
		report(r == 0 ? "first load" : "replacing", b.samples, b.n_samples);
	}
	report("all replacing", all, n_all);
	uv_timer_stop(&b.probe);
	uv_close((uv_handle_t *)&b.probe, NULL);
	reload_free(b.reload);
	bus_free(b.bus);
	uv_run(&b.loop, UV_RUN_DEFAULT);
	uv_loop_close(&b.loop);
	char path[4200];
	snprintf(path, sizeof(path), "%s/rules.json", dir);
	unlink(path);
	rmdir(dir);
	free(b.samples);
	free(all);
	return b.failed ? 1 : 0;
}
