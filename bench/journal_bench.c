/*
 * journal_bench.c — what the event journal (engine/journal.h) accepts per
 * second with fsync on, and what this disk's fsync costs.
 *
 * 1. The disk: --syncs times (default 200) one 4 KiB write at the end of a
 *    file and fdatasync(), each timed (CLOCK_MONOTONIC): p50, p99, worst.
 * 2. The journal, for 1, 10 and 100 concurrent appenders (--appenders):
 *    each appender appends a batch of 10 events of 1 KiB (one
 *    journal_append, like a PutEvents request of 10 entries), waits for
 *    its callback (durable), marks the events complete (so the journal
 *    stays small and compaction runs), and appends the next batch, for
 *    --seconds (default 3) per run. Printed: events/s, MB/s of records
 *    written, fsyncs, events per fsync (group commit), and the batch
 *    latency from journal_append to its callback, p50 and p99. With
 *    --no-fsync the same without fsyncs: the journal's own ceiling (the
 *    loop thread encoding, checksumming and writing to the page cache).
 * Figures only; exit 2 on a usage or setup error. The directory (under
 * --dir, default /var/tmp: a disk, not tmpfs) is removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "bench_util.h"
#include "journal.h"
#include "journal_int.h"

#define BATCH 10u
#define EVENT_BYTES 1024u
#define MAX_APPENDERS 1000u

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* p-th percentile (0–100) of n sorted values. */
static double pct_ms(const uint64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);

	return n ? (double)v[i] / 1e6 : 0.0;
}

static int disk_fsync(const char *dir, unsigned n)
{
	char path[4200], block[4096];
	uint64_t *lat = calloc(n, sizeof(*lat));
	int fd;

	snprintf(path, sizeof(path), "%s/fsync.probe", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || lat == NULL) {
		fprintf(stderr, "journal_bench: %s: %s\n", path, strerror(errno));
		free(lat);
		return -1;
	}
	memset(block, 'x', sizeof(block));
	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		if (pwrite(fd, block, sizeof(block), (off_t)i * (off_t)sizeof(block)) != (ssize_t)sizeof(block) ||
		    fdatasync(fd) < 0) {
			fprintf(stderr, "journal_bench: write/fdatasync: %s\n", strerror(errno));
			close(fd);
			free(lat);
			return -1;
		}
		lat[i] = now_ns() - t0;
	}
	close(fd);
	unlink(path);
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("disk: %u x (4 KiB write + fdatasync): p50 %.3f ms, p99 %.3f ms, worst %.3f ms\n", n,
	       pct_ms(lat, n, 50), pct_ms(lat, n, 99), (double)lat[n - 1] / 1e6);
	free(lat);
	return 0;
}

struct run;

struct appender {
	struct run *run;
	unsigned idx;
	uint64_t seqs[BATCH];
	uint64_t t0;
};

struct run {
	struct journal *j;
	struct journal_event evs[BATCH];
	struct appender *apps;
	uint64_t deadline_ns;
	uint64_t *lat;               /* batch latencies */
	size_t n_lat, cap_lat;
	uint64_t events;
	int error;
};

static void append_next(struct appender *a);

static void on_durable(void *arg, int result)
{
	struct appender *a = arg;
	struct run *r = a->run;
	uint64_t t = now_ns();

	if (result != 0) {
		r->error = result;
		return;
	}
	if (r->n_lat == r->cap_lat) {
		uint64_t *more = realloc(r->lat, (r->cap_lat = r->cap_lat ? r->cap_lat * 2 : 4096) * sizeof(*more));

		if (more == NULL) {
			r->error = -ENOMEM;
			return;
		}
		r->lat = more;
	}
	r->lat[r->n_lat++] = t - a->t0;
	r->events += BATCH;
	for (unsigned i = 0; i < BATCH; i++)
		journal_complete(r->j, a->seqs[i]);
	if (t < r->deadline_ns)
		append_next(a);
}

static void append_next(struct appender *a)
{
	struct run *r = a->run;
	int e;

	a->t0 = now_ns();
	e = journal_append(r->j, r->evs, BATCH, a->seqs, on_durable, a);
	if (e != 0)
		r->error = e;
}

static int bench_journal(const char *dir, unsigned appenders, unsigned seconds, bool no_fsync)
{
	static char json[EVENT_BYTES + 1];
	struct journal_config cfg = { .dir = dir, .no_fsync = no_fsync };
	struct journal_stats st;
	struct run r = { 0 };
	uv_loop_t loop;
	char err[256], ids[BATCH][16];
	uint64_t t0, ns;
	int e;

	memset(json, 'a', EVENT_BYTES);
	memcpy(json, "{\"detail\":\"", 11);
	memcpy(json + EVENT_BYTES - 2, "\"}", 2);
	for (unsigned i = 0; i < BATCH; i++) {
		snprintf(ids[i], sizeof(ids[i]), "ev-%u", i);
		r.evs[i] = (struct journal_event){ .id = ids[i], .bus = "default", .json = json, .len = EVENT_BYTES };
	}
	if (uv_loop_init(&loop) != 0)
		return -1;
	e = journal_open(&loop, &cfg, NULL, NULL, &r.j, err, sizeof(err));
	if (e != 0) {
		fprintf(stderr, "journal_bench: %s\n", err);
		uv_loop_close(&loop);
		return -1;
	}
	r.apps = calloc(appenders, sizeof(*r.apps));
	if (r.apps == NULL)
		return -1;
	t0 = now_ns();
	r.deadline_ns = t0 + (uint64_t)seconds * 1000000000u;
	for (unsigned i = 0; i < appenders; i++) {
		r.apps[i].run = &r;
		r.apps[i].idx = i;
		append_next(&r.apps[i]);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	ns = now_ns() - t0;
	journal_get_stats(r.j, &st);
	if (r.error == 0) {
		qsort(r.lat, r.n_lat, sizeof(*r.lat), cmp_u64);
		printf("%3u appender%s x %u x %u B: %9.0f events/s, %6.1f MB/s, %6llu fsyncs, %6.1f events/fsync, "
		       "batch latency p50 %.3f ms, p99 %.3f ms\n",
		       appenders, appenders == 1 ? " " : "s", BATCH, EVENT_BYTES, (double)r.events * 1e9 / (double)ns,
		       (double)r.events * (double)journal_rec_event_size(&r.evs[0]) / 1e6 / ((double)ns / 1e9),
		       (unsigned long long)st.fsyncs, st.fsyncs ? (double)r.events / (double)st.fsyncs : 0.0,
		       pct_ms(r.lat, r.n_lat, 50), pct_ms(r.lat, r.n_lat, 99));
	} else {
		fprintf(stderr, "journal_bench: append: %s\n", strerror(-r.error));
	}
	journal_free(r.j);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	free(r.apps);
	free(r.lat);
	return r.error ? -1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: journal_bench [--dir DIR] [--seconds N] [--syncs N] [--appenders N,N,...] [--no-fsync]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "seconds", required_argument, NULL, 's' },
		{ "syncs", required_argument, NULL, 'n' },
		{ "appenders", required_argument, NULL, 'a' },
		{ "no-fsync", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *base = "/var/tmp";
	char list[256] = "1,10,100", dir[4096];
	unsigned long seconds = 3, syncs = 200;
	bool no_fsync = false;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			base = optarg;
			break;
		case 's':
			if (parse_uint(optarg, 1, 3600, &seconds) < 0) {
				usage();
				return 2;
			}
			break;
		case 'n':
			if (parse_uint(optarg, 1, 1000000, &syncs) < 0) {
				usage();
				return 2;
			}
			break;
		case 'f':
			no_fsync = true;
			break;
		case 'a':
			snprintf(list, sizeof(list), "%s", optarg);
			break;
		default:
			usage();
			return 2;
		}
	}
	snprintf(dir, sizeof(dir), "%s/journal_bench.XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "journal_bench: %s: %s\n", dir, strerror(errno));
		return 2;
	}
	if (disk_fsync(dir, (unsigned)syncs) < 0)
		rc = 2;
	for (char *tok = strtok(list, ","); tok != NULL && rc == 0; tok = strtok(NULL, ",")) {
		unsigned long n;
		char sub[4200];

		if (parse_uint(tok, 1, MAX_APPENDERS, &n) < 0) {
			usage();
			rc = 2;
			break;
		}
		snprintf(sub, sizeof(sub), "%s/j%lu", dir, n);
		if (bench_journal(sub, (unsigned)n, (unsigned)seconds, no_fsync) < 0)
			rc = 2;
	}
	bench_rm_tree(dir);
	return rc;
}
