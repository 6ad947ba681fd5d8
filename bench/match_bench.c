/*
 * match_bench.c — single-thread throughput benchmark of the matcher on the
 * citylots2 stream, and a scaling run over generated rule sets.
 *
 * Set mode (the default) loads the rules file (bench/data/citylots2-rules.json)
 * and the whole events file (JSON lines, plain or gzip) into memory, then, for
 * every rule set of the file's "order" and for the combined sets PARTIAL_COMBO
 * and COMBO, compiles one matcher holding that set's rules, times full passes
 * over all events (best of --repeat) and counts the events each rule matched.
 * Each rule carries the number of events it must match, also inside a
 * combined set, so a pass is also a correctness check at scale. With
 * --tripline, each set is also written as a rule file and the whole process
 * `tripline match --rules <set>` is timed on the same stream (a plain file
 * on stdin, stdout to /dev/null), one run after each in-process pass; one
 * more, untimed run has its output checked line by line against the
 * expected counts.
 *
 * Scaling mode (--scaling) builds matchers of growing size from generated,
 * pairwise distinct rules (plus the citylots EXACT set, so that matches
 * happen) and reports compile time, resident memory growth per rule, the
 * matcher's own size figure and throughput over the first --events-limit
 * events, to show how per-event work depends on the number of rules.
 *
 * This file holds main() and the options, and the measuring the two modes
 * share: building a matcher from pattern texts and timing passes of it over
 * the events. The event stream is read by match_events.c, the process run by
 * match_process.c, the modes are match_sets.c and match_scaling.c; what they
 * share is declared in match_bench.h.
 *
 * Contract: the program prints figures and never judges timings. It exits 0
 * when every count is right, 1 when a rule matched a different number of
 * events than expected (or the matcher rejected an event, or `tripline
 * match` failed or answered differently), and 2 on a usage
 * or setup error (unreadable file, invalid pattern, out of memory).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "errlist.h"
#include "match_bench.h"
#include "matcher.h"
#include "pattern.h"

#define DEFAULT_RULES "bench/data/citylots2-rules.json"
#define DEFAULT_EVENTS "bench/data/citylots2.json.gz"
#define DEFAULT_SIZES "10,1000,100000"
#define DEFAULT_REPEAT 3u
#define DEFAULT_SCALING_EVENTS 50000u

#define MAX_REPEAT 1000u
#define MAX_LIST 64u                 /* names in --sets, sizes in --sizes */

/* ------------------------------------------------------------- measuring */

double mb_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Parses every pattern text (id = index) and builds one matcher; the time
 * from text to matcher goes to *ret_s, the part spent in matcher_build() to
 * *ret_build_s. `where` names the texts in errors.
 */
int mb_build_matcher(const char *const *texts, const size_t *lens, size_t n,
		     const char *const *where, struct matcher **ret, double *ret_s,
		     double *ret_build_s)
{
	double tb;
	struct matcher_limits lim;
	struct matcher_builder *b;
	struct errlist errs = ERRLIST_INIT;
	double t0 = mb_now_s();
	size_t i;
	int r;

	memset(&lim, 0, sizeof(lim));
	b = matcher_builder_new(&lim);
	if (b == NULL) {
		fprintf(stderr, "match_bench: out of memory\n");
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct pattern *p = NULL;

		r = pattern_parse(texts[i], lens[i], PATTERN_DIALECT_TRIPLINE, NULL, &p, &errs);
		if (r < 0) {
			size_t k;

			fprintf(stderr, "match_bench: %s: invalid pattern (%s):\n", where[i], strerror(-r));
			for (k = 0; k < errs.n; k++)
				fprintf(stderr, "  %s\n", errs.msgs[k]);
			if (errs.dropped)
				fprintf(stderr, "  (%zu more messages dropped)\n", errs.dropped);
			goto out_free_builder;
		}
		r = matcher_builder_add(b, (uint32_t)i, p);
		if (r < 0) {
			fprintf(stderr, "match_bench: %s: adding to the matcher: %s\n", where[i], strerror(-r));
			goto out_free_builder;
		}
	}
	tb = mb_now_s();
	r = matcher_build(b, ret);
	*ret_build_s = mb_now_s() - tb;
	if (r < 0) {
		fprintf(stderr, "match_bench: building the matcher: %s\n", strerror(-r));
		goto out_clear;
	}
	*ret_s = mb_now_s() - t0;
	errlist_clear(&errs);
	return 0;

out_free_builder:
	matcher_builder_free(b);
out_clear:
	errlist_clear(&errs);
	return r;
}

/*
 * Times `repeat` full passes of m over the events and keeps the best. Counts
 * per id come from the first pass; later passes must agree. With pb, every
 * pass is followed by one timed run of the whole process (best kept in
 * pb->best_s), so that a slow spell of the machine hits both alike.
 */
int mb_run_passes(const struct matcher *m, size_t nrules, const struct event_stream *es,
		  unsigned repeat, struct proc_bench *pb, struct run_result *res)
{
	struct match_scratch *s = match_scratch_new();
	uint64_t *pass_counts = calloc(nrules ? nrules : 1, sizeof(uint64_t));
	unsigned pass;
	int r = 0;

	res->counts = calloc(nrules ? nrules : 1, sizeof(uint64_t));
	res->best_s = -1.0;
	if (s == NULL || pass_counts == NULL || res->counts == NULL) {
		fprintf(stderr, "match_bench: out of memory\n");
		r = -ENOMEM;
		goto out_free;
	}
	for (pass = 0; pass < repeat; pass++) {
		uint64_t rejected = 0, total = 0;
		double t0, dt;
		size_t i;

		memset(pass_counts, 0, nrules * sizeof(uint64_t));
		t0 = mb_now_s();
		for (i = 0; i < es->n; i++) {
			const uint32_t *ids;
			int k = matcher_match(m, es->buf + es->ev[i].off, es->ev[i].len, s, &ids);
			int j;

			if (k < 0) {
				if (rejected++ == 0 && pass == 0) {
					res->first_rejected = i;
					snprintf(res->first_error, sizeof(res->first_error), "%s: %s",
						 strerror(-k), match_scratch_error(s) ? match_scratch_error(s) : "");
				}
				continue;
			}
			for (j = 0; j < k; j++)
				if (ids[j] < nrules)
					pass_counts[ids[j]]++;
			total += (uint64_t)k;
		}
		dt = mb_now_s() - t0;
		if (res->best_s < 0 || dt < res->best_s)
			res->best_s = dt;
		if (pass == 0) {
			memcpy(res->counts, pass_counts, nrules * sizeof(uint64_t));
			res->rejected = rejected;
			res->total_matches = total;
		} else if (memcmp(res->counts, pass_counts, nrules * sizeof(uint64_t)) != 0 ||
			   rejected != res->rejected) {
			res->unstable = true;
		}
		if (pb != NULL) {
			r = mb_proc_run(pb, &dt, NULL, NULL);
			if (r < 0) {
				fprintf(stderr, "match_bench: running %s: %s\n", pb->tripline, strerror(-r));
				goto out_free;
			}
			if (pb->best_s < 0 || dt < pb->best_s)
				pb->best_s = dt;
		}
	}
	matcher_get_stats(m, &res->stats);

out_free:
	free(pass_counts);
	match_scratch_free(s);
	return r;
}

/* ------------------------------------------------------------ main */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: match_bench [--rules FILE] [--events FILE] [--sets NAME,NAME...] [--repeat N]\n"
		"                   [--tripline PATH]\n"
		"       match_bench --scaling [--rules FILE] [--events FILE] [--sizes N,N...]\n"
		"                   [--events-limit N] [--repeat N]\n"
		"\n"
		"Single-thread matching benchmark on the citylots2 stream.\n"
		"\n"
		"  --rules FILE        rule sets with expected counts (default " DEFAULT_RULES ")\n"
		"  --events FILE       events, one JSON object per line, plain or gzip\n"
		"                      (default " DEFAULT_EVENTS ")\n"
		"  --sets LIST         only these sets, comma-separated (the file's sets,\n"
		"                      PARTIAL_COMBO, COMBO); default all\n"
		"  --repeat N          timed passes per matcher, best kept (1..%u, default %u)\n"
		"  --tripline PATH     also time the whole process, PATH match --rules <set>\n"
		"                      < events > /dev/null, once after each pass (and check\n"
		"                      its output once, untimed)\n"
		"  --scaling           generated rule sets of growing size instead of the citylots sets\n"
		"  --sizes LIST        rule counts for --scaling (1..%u each, default " DEFAULT_SIZES ")\n"
		"  --events-limit N    --scaling uses the first N events (default %u, 0 = all)\n"
		"  -h, --help          this text\n"
		"\n"
		"Prints figures; never judges timings. Exit 0 when every match count is as\n"
		"expected, 1 when one is not, 2 on a usage or setup error.\n",
		MAX_REPEAT, DEFAULT_REPEAT, MAX_SCALING_RULES, DEFAULT_SCALING_EVENTS);
}

/* Splits a comma-separated list in place. */
static int split_list(char *s, char **items, size_t max, size_t *ret_n)
{
	size_t n = 0;
	char *p = s;

	for (;;) {
		char *comma = strchr(p, ',');

		if (comma != NULL)
			*comma = '\0';
		if (*p == '\0' || n == max)
			return -EINVAL;
		items[n++] = p;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*ret_n = n;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"rules", required_argument, NULL, 'r'},
		{"events", required_argument, NULL, 'e'},
		{"sets", required_argument, NULL, 's'},
		{"repeat", required_argument, NULL, 'n'},
		{"scaling", no_argument, NULL, 'S'},
		{"sizes", required_argument, NULL, 'z'},
		{"events-limit", required_argument, NULL, 'l'},
		{"tripline", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *rules_path = DEFAULT_RULES, *events_path = DEFAULT_EVENTS, *tripline = NULL;
	char *set_names[MAX_LIST], *size_items[MAX_LIST];
	char default_sizes[] = DEFAULT_SIZES;
	char *sizes_arg = default_sizes;
	size_t nsets = 0, nsizes = 0, i;
	size_t sizes[MAX_LIST];
	unsigned long v, repeat = DEFAULT_REPEAT, limit = DEFAULT_SCALING_EVENTS;
	bool scaling = false, sets_given = false, scaling_opt = false;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rules_path = optarg;
			break;
		case 'e':
			events_path = optarg;
			break;
		case 's':
			if (split_list(optarg, set_names, MAX_LIST, &nsets) < 0) {
				fprintf(stderr, "match_bench: --sets: a comma-separated list of at most %u names\n",
					MAX_LIST);
				return EXIT_SETUP;
			}
			sets_given = true;
			break;
		case 'n':
			if (parse_uint(optarg, 1, MAX_REPEAT, &repeat) < 0) {
				fprintf(stderr, "match_bench: --repeat: an integer from 1 to %u\n", MAX_REPEAT);
				return EXIT_SETUP;
			}
			break;
		case 'S':
			scaling = true;
			break;
		case 'z':
			sizes_arg = optarg;
			scaling_opt = true;
			break;
		case 'l':
			if (parse_uint(optarg, 0, ULONG_MAX, &limit) < 0) {
				fprintf(stderr, "match_bench: --events-limit: a non-negative integer\n");
				return EXIT_SETUP;
			}
			scaling_opt = true;
			break;
		case 't':
			tripline = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_SETUP;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "match_bench: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return EXIT_SETUP;
	}
	if (scaling && (sets_given || tripline != NULL)) {
		fprintf(stderr, "match_bench: --sets and --tripline do not apply to --scaling\n");
		return EXIT_SETUP;
	}
	if (!scaling && scaling_opt) {
		fprintf(stderr, "match_bench: --sizes and --events-limit need --scaling\n");
		return EXIT_SETUP;
	}
	if (!scaling)
		return mb_run_sets(rules_path, events_path, (const char *const *)set_names, nsets,
				   (unsigned)repeat, tripline);

	if (split_list(sizes_arg, size_items, MAX_LIST, &nsizes) < 0) {
		fprintf(stderr, "match_bench: --sizes: a comma-separated list of at most %u counts\n", MAX_LIST);
		return EXIT_SETUP;
	}
	for (i = 0; i < nsizes; i++) {
		if (parse_uint(size_items[i], 1, MAX_SCALING_RULES, &v) < 0) {
			fprintf(stderr, "match_bench: --sizes: %s: each an integer from 1 to %u\n",
				size_items[i], MAX_SCALING_RULES);
			return EXIT_SETUP;
		}
		sizes[i] = v;
	}
	return mb_run_scaling(rules_path, events_path, sizes, nsizes, limit, (unsigned)repeat);
}
