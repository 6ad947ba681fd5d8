/*
 * match_bench.h — what the files of match_bench share; private to them.
 *
 * match_bench.c holds main(), the options and the measuring helpers (a clock,
 * building a matcher from pattern texts, timed passes over the events);
 * match_events.c reads the event stream into memory; match_process.c runs
 * the whole `tripline match` process on it; match_sets.c is the set mode and
 * match_scaling.c the scaling mode with its rule generator.
 *
 * Errors: functions return 0 or a negative errno and print their message to
 * stderr, prefixed "match_bench: ", except mb_proc_run(), whose caller
 * says what failed, and mb_proc_check(), which describes a wrong answer in
 * a buffer. mb_run_sets() and mb_run_scaling() return the exit status.
 */
#ifndef TRIPLINE_BENCH_MATCH_BENCH_H
#define TRIPLINE_BENCH_MATCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "citylots_rules.h"
#include "matcher.h"

#define EXIT_WRONG 1
#define EXIT_SETUP 2

#define MAX_SCALING_RULES 1000000u   /* mb_run_scaling()'s generator stays distinct up to here */

/* All events, one line each, held in one buffer. */
struct event_span {
	size_t off;
	size_t len;
};

struct event_stream {
	char *buf;
	size_t buf_len;
	size_t n;
	struct event_span *ev;
	size_t bytes;             /* sum of line lengths, newlines excluded */
	size_t lines_in_file;     /* may exceed n when a limit applies */
};

/* What one timed run of one matcher produced. */
struct run_result {
	double compile_s;
	double build_s;           /* the matcher_build() part of compile_s */
	double best_s;
	uint64_t *counts;         /* per rule id, from the first pass */
	uint64_t rejected;        /* events the matcher returned an error for */
	size_t first_rejected;    /* line index of the first one */
	char first_error[160];
	bool unstable;            /* a later pass counted differently */
	uint64_t total_matches;
	struct matcher_stats stats;
};

/*
 * `tripline match` as a user runs it: the stream as a plain file on stdin,
 * the set as a rule file, stdout to /dev/null (or, for the untimed check
 * run, to a pipe this program reads). The temporary directory holds both and
 * is removed by mb_proc_cleanup().
 */
struct proc_bench {
	const char *tripline;     /* the binary */
	char dir[64];             /* temporary directory, "" when not made */
	char events[96];          /* dir/events.jsonl */
	char rules[128];          /* dir/<set>.json, the current set */
	bool events_written;
	bool rules_written;
	double best_s;            /* best timed run of the current set, < 0 before one */
	bool failed;              /* a run exited non-zero or was killed */
	char failure[160];
};

/* ---- match_bench.c: measuring */

/* Seconds on the monotonic clock. */
double mb_now_s(void);

/* Parses the pattern texts (id = index) into one matcher the caller owns;
 * *ret_s is the time from text to matcher, *ret_build_s its matcher_build() part. */
int mb_build_matcher(const char *const *texts, const size_t *lens, size_t n,
		     const char *const *where, struct matcher **ret, double *ret_s,
		     double *ret_build_s);

/* Times `repeat` passes of m over the events into res (and, with pb, as many
 * process runs); res->counts is the caller's to free, also on error. */
int mb_run_passes(const struct matcher *m, size_t nrules, const struct event_stream *es,
		  unsigned repeat, struct proc_bench *pb, struct run_result *res);

/* ---- match_events.c: the event stream */

/* Reads the events file (gzip or plain) into *ret, up to `limit` lines (0:
 * all); mb_events_free() releases it. */
int mb_events_load(const char *path, size_t limit, struct event_stream *ret);
void mb_events_free(struct event_stream *s);

/* ---- match_process.c: the whole `tripline match` process */

/* Makes the temporary directory and writes the stream into it as plain text.
 * Call mb_proc_cleanup() afterwards, also when this fails. */
int mb_proc_init(struct proc_bench *pb, const char *tripline, const struct event_stream *es);
/* Removes the files and the directory; accepts a zeroed struct. */
void mb_proc_cleanup(struct proc_bench *pb);
/* Writes the set as the current rule file, named after label. */
int mb_proc_write_rules(struct proc_bench *pb, const char *label,
			const struct citylots_rule *const *rules, size_t n);
/* Runs the process once and times it; with ret_out its output goes into a
 * buffer the caller frees. A run that does not exit 0 marks pb->failed. */
int mb_proc_run(struct proc_bench *pb, double *ret_s, char **ret_out, size_t *ret_len);
/* Checks the check run's output against the expected counts and the number
 * of input lines; describes the first problem in why. */
bool mb_proc_check(const char *out, size_t len, const struct citylots_rule *const *rules, size_t n,
		   size_t lines, char *why, size_t whycap);

/* ---- match_sets.c, match_scaling.c: the two modes; each returns the exit status */

int mb_run_sets(const char *rules_path, const char *events_path, const char *const *only,
		size_t nonly, unsigned repeat, const char *tripline);
int mb_run_scaling(const char *rules_path, const char *events_path, const size_t *sizes,
		   size_t nsizes, size_t limit, unsigned repeat);

#endif
