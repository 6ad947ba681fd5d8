/*
 * logrot_bench.c — what one write of container output costs the thread
 * that makes it, rotation included (engine/orch/logrot.h): the docker
 * driver writes the output it follows on the daemon's loop, so the worst
 * logrot_write() call is the loop's worst stall from logs.
 *
 * It writes --mb megabytes (default 400) through logrot_write() in chunks
 * of --chunk bytes (default 16384, the size of the pieces curl hands the
 * driver) into <dir>/c.log with the daemon's bound (10 MiB, 3 kept), and
 * times every call (CLOCK_MONOTONIC). Printed: calls, rotations, p50, p99
 * and worst call without a rotation, and the same for the calls that
 * rotated (the oldest unlinked, renames of full 10 MiB files), and the
 * close of each dropped oldest file that frees its blocks (which the
 * docker driver leaves to a threadpool thread, defer_drop). For
 * comparison, the other way to rotate under a writer that keeps its
 * descriptor, copy-and-truncate of one 10 MiB file (read, write,
 * ftruncate), is timed --copies times.
 * Figures only; exit 2 on a usage or setup error. The directory (under
 * --dir, default /tmp) is removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "logrot.h"
#include "orch.h"

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, size_t n)
{
	if (n == 0) {
		printf("%-22s none\n", what);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_double);
	size_t p99 = (size_t)((double)n * 0.99 + 0.999999);
	printf("%-22s %8zu calls  p50 %8.1f us  p99 %8.1f us  max %8.1f us\n", what, n, v[(n - 1) / 2],
	       v[(p99 ? p99 : 1) - 1], v[n - 1]);
}

/* The copy-and-truncate rotation of a full file: µs. */
static double copy_truncate(const char *path)
{
	char tmp[4200], buf[65536];
	ssize_t n;

	snprintf(tmp, sizeof(tmp), "%s.rotating", path);
	double t0 = now_us();
	int in = open(path, O_RDWR | O_CLOEXEC);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (in >= 0 && ftruncate(in, 0) < 0)
		perror("ftruncate");
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	double dt = now_us() - t0;
	unlink(tmp);
	return dt;
}

int main(int argc, char **argv)
{
	unsigned long mb = 400, chunk = 16384, copies = 5;
	const char *base = "/tmp";
	static const struct option opts[] = {
		{"mb", required_argument, NULL, 'm'},   {"chunk", required_argument, NULL, 'c'},
		{"copies", required_argument, NULL, 'k'}, {"dir", required_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int r = 0;
		if (o == 'm')
			r = parse_uint(optarg, 1, 100000, &mb);
		else if (o == 'c')
			r = parse_uint(optarg, 1, 1 << 24, &chunk);
		else if (o == 'k')
			r = parse_uint(optarg, 0, 1000, &copies);
		else if (o == 'd')
			base = optarg;
		else
			r = -EINVAL;
		if (r < 0) {
			fprintf(stderr, "usage: logrot_bench [--mb N] [--chunk BYTES] [--copies N] [--dir DIR]\n");
			return 2;
		}
	}
	char dir[4000], path[4100];
	snprintf(dir, sizeof(dir), "%s/logrot-bench-XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/c.log", dir);
	char *buf = malloc(chunk);
	size_t calls = (size_t)((mb * 1000000 + chunk - 1) / chunk);
	double *plain = calloc(calls, sizeof(double)), *rot = calloc(calls, sizeof(double));
	struct logrot l;
	if (!buf || !plain || !rot || logrot_open(&l, path, ORCH_LOG_MAX_BYTES, ORCH_LOG_KEEP) < 0) {
		perror("logrot_bench: setup");
		return 2;
	}
	l.defer_drop = true;   /* as the docker driver does */
	memset(buf, 'a', chunk);
	double *freeing = calloc(calls, sizeof(double));
	size_t np = 0, nr = 0, nf = 0;
	double t_all = now_us();
	for (size_t i = 0; i < calls; i++) {
		uint64_t before = l.rotations;
		double t0 = now_us();
		if (logrot_write(&l, buf, chunk) < 0) {
			perror("logrot_write");
			return 2;
		}
		double dt = now_us() - t0;
		if (l.rotations != before)
			rot[nr++] = dt;
		else
			plain[np++] = dt;
		int fd = logrot_take_dropped(&l);
		if (fd >= 0 && freeing) {
			t0 = now_us();
			close(fd);
			freeing[nf++] = now_us() - t0;
		}
	}
	t_all = now_us() - t_all;
	logrot_close(&l);
	printf("logrot_bench: %lu MB in %lu-byte writes, bound %llu bytes, %u kept, under %s: %.0f MB/s\n",
	       mb, chunk, (unsigned long long)ORCH_LOG_MAX_BYTES, ORCH_LOG_KEEP, base,
	       (double)mb / (t_all / 1e6));
	report("write, no rotation", plain, np);
	report("write with rotation", rot, nr);
	if (freeing)
		report("close of dropped file", freeing, nf);
	free(freeing);
	/* copy-and-truncate, on a full 10 MiB .1 copied back to the path */
	double *ct = calloc(copies ? copies : 1, sizeof(double));
	char one[4200];
	snprintf(one, sizeof(one), "%s.1", path);
	for (unsigned long i = 0; ct && i < copies; i++) {
		int in = open(one, O_RDONLY | O_CLOEXEC), out = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
		ssize_t n;
		while (in >= 0 && out >= 0 && (n = read(in, buf, chunk)) > 0)
			if (write(out, buf, (size_t)n) != n)
				break;
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		ct[i] = copy_truncate(path);
	}
	if (ct)
		report("copy-and-truncate 10M", ct, copies);
	free(ct);
	free(plain);
	free(rot);
	free(buf);
	bench_rm_tree(dir);
	return 0;
}
