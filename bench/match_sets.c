/*
 * match_sets.c — match_bench's set mode: the citylots rule sets one by one,
 * then the combined sets PARTIAL_COMBO and COMBO.
 *
 * For each set (or those --sets names) one matcher holds the set's rules;
 * mb_run_passes() times full passes over the events in memory and counts
 * the events each rule matched, which must equal the rule's expected count,
 * also inside a combined set. With --tripline, the set is also written as a
 * rule file, the `tripline match` process's answers are checked once,
 * untimed, and one timed process run follows each in-process pass. Prints
 * one line per set, then whether every count was right and the matchers'
 * own figures (matcher_get_stats()).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match_bench.h"

/* The combined sets, built from the file's sets. */
static const char *const partial_combo_sets[] = {
	"NUMERIC", "EXACT", "PREFIX", "ANYTHING_BUT", "ANYTHING_BUT_IGNORE_CASE",
	"ANYTHING_BUT_PREFIX", "ANYTHING_BUT_SUFFIX", "ANYTHING_BUT_WILDCARD",
};
static const char *const combo_sets[] = {
	"NUMERIC", "EXACT", "PREFIX", "ANYTHING_BUT", "ANYTHING_BUT_IGNORE_CASE",
	"ANYTHING_BUT_PREFIX", "ANYTHING_BUT_SUFFIX", "ANYTHING_BUT_WILDCARD",
	"COMPLEX_ARRAYS",
};
#define PARTIAL_COMBO_RULES 40u
#define COMBO_RULES 45u

/* Runs one (possibly combined) set; prints its line. Returns 1 if wrong, 0 if right, <0 on error. */
static int bench_set(const char *label, const struct citylots_rule *const *rules, size_t n,
		     const struct event_stream *es, unsigned repeat, struct proc_bench *pb,
		     struct matcher_stats *ret_stats)
{
	char proc_why[160] = "";
	bool proc_ok = true;
	const char **texts = calloc(n, sizeof(*texts));
	size_t *lens = calloc(n, sizeof(*lens));
	char **where = calloc(n, sizeof(*where));
	struct run_result res;
	struct matcher *m = NULL;
	const char *sep;
	size_t i;
	bool wrong;
	int r;

	memset(&res, 0, sizeof(res));
	if (texts == NULL || lens == NULL || where == NULL) {
		fprintf(stderr, "match_bench: out of memory\n");
		r = -ENOMEM;
		goto out_free;
	}
	for (i = 0; i < n; i++) {
		size_t wl = strlen(rules[i]->set) + strlen(rules[i]->name) + 2;

		texts[i] = rules[i]->text;
		lens[i] = rules[i]->text_len;
		where[i] = malloc(wl);
		if (where[i] == NULL) {
			fprintf(stderr, "match_bench: out of memory\n");
			r = -ENOMEM;
			goto out_free;
		}
		snprintf(where[i], wl, "%s/%s", rules[i]->set, rules[i]->name);
	}
	r = mb_build_matcher(texts, lens, n, (const char *const *)where, &m, &res.compile_s, &res.build_s);
	if (r < 0)
		goto out_free;
	if (pb != NULL) {
		/* the process's answers, checked once, untimed */
		char *out = NULL;
		size_t out_len = 0;
		double secs;

		r = mb_proc_write_rules(pb, label, rules, n);
		if (r < 0)
			goto out_free;
		pb->best_s = -1.0;
		pb->failed = false;
		r = mb_proc_run(pb, &secs, &out, &out_len);
		if (r < 0) {
			fprintf(stderr, "match_bench: running %s: %s\n", pb->tripline, strerror(-r));
			goto out_free;
		}
		proc_ok = !pb->failed && mb_proc_check(out, out_len, rules, n, es->lines_in_file, proc_why,
						       sizeof(proc_why));
		free(out);
	}
	r = mb_run_passes(m, n, es, repeat, pb, &res);
	if (r < 0)
		goto out_free;

	wrong = res.rejected > 0 || res.unstable;
	for (i = 0; i < n; i++)
		if (res.counts[i] != rules[i]->expected)
			wrong = true;
	if (pb != NULL && pb->failed)
		proc_ok = false;
	wrong |= !proc_ok;
	printf("%-26s %5zu %11.0f %9.1f %11.3f", label, n, (double)es->n / res.best_s,
	       (double)es->bytes / res.best_s / 1e6, res.compile_s * 1e3);
	if (pb != NULL)
		printf(" %11.0f %6.2f", (double)es->n / pb->best_s, res.best_s / pb->best_s);
	printf("  %s", wrong ? "counts WRONG" : "counts OK");
	sep = ":";
	if (!proc_ok) {
		printf("%s tripline match: %s", sep, pb->failed ? pb->failure : proc_why);
		sep = ";";
	}
	for (i = 0; i < n; i++) {
		if (res.counts[i] != rules[i]->expected) {
			printf("%s %s/%s expected %" PRIu64 " got %" PRIu64, sep,
			       rules[i]->set, rules[i]->name, rules[i]->expected, res.counts[i]);
			sep = ";";
		}
	}
	if (res.rejected > 0) {
		printf("%s rejected %" PRIu64 " events (first: line %zu: %s)", sep,
		       res.rejected, res.first_rejected + 1, res.first_error);
		sep = ";";
	}
	if (res.unstable)
		printf("%s passes disagree", sep);
	printf("\n");
	fflush(stdout);
	*ret_stats = res.stats;
	r = wrong ? 1 : 0;

out_free:
	matcher_free(m);
	free(res.counts);
	if (where != NULL)
		for (i = 0; i < n; i++)
			free(where[i]);
	free(where);
	free(lens);
	free(texts);
	return r;
}

/* The rules of the named sets, in order, as one list. */
static int collect(const struct citylots_rules *rf, const char *const *names, size_t nnames,
		   const struct citylots_rule ***ret, size_t *ret_n)
{
	const struct citylots_rule **list;
	size_t total = 0, i, j, k = 0;

	for (i = 0; i < nnames; i++) {
		const struct citylots_set *s = citylots_rules_find(rf, names[i]);

		if (s == NULL) {
			fprintf(stderr, "match_bench: rule set %s is not in the rules file\n", names[i]);
			return -ENOENT;
		}
		total += s->n;
	}
	list = calloc(total ? total : 1, sizeof(*list));
	if (list == NULL) {
		fprintf(stderr, "match_bench: out of memory\n");
		return -ENOMEM;
	}
	for (i = 0; i < nnames; i++) {
		const struct citylots_set *s = citylots_rules_find(rf, names[i]);

		for (j = 0; j < s->n; j++)
			list[k++] = &s->rules[j];
	}
	*ret = list;
	*ret_n = total;
	return 0;
}

static bool selected(const char *const *only, size_t nonly, const char *name)
{
	size_t i;

	if (nonly == 0)
		return true;
	for (i = 0; i < nonly; i++)
		if (strcmp(only[i], name) == 0)
			return true;
	return false;
}

struct stats_row {
	const char *name;
	struct matcher_stats st;
};

int mb_run_sets(const char *rules_path, const char *events_path, const char *const *only,
		size_t nonly, unsigned repeat, const char *tripline)
{
	struct proc_bench pb;
	struct citylots_rules rf;
	struct event_stream es;
	struct stats_row *rows = NULL;
	size_t nrows = 0, i;
	bool all_ok = true;
	double t0;
	int r;

	r = citylots_rules_load(rules_path, &rf);
	if (r < 0)
		return EXIT_SETUP;
	for (i = 0; i < nonly; i++) {
		if (citylots_rules_find(&rf, only[i]) == NULL && strcmp(only[i], "PARTIAL_COMBO") != 0 &&
		    strcmp(only[i], "COMBO") != 0) {
			fprintf(stderr, "match_bench: --sets: no rule set named %s\n", only[i]);
			r = -EINVAL;
			goto out_free_rules;
		}
	}
	t0 = mb_now_s();
	memset(&pb, 0, sizeof(pb));
	r = mb_events_load(events_path, 0, &es);
	if (r < 0)
		goto out_free_rules;
	if (tripline != NULL && (r = mb_proc_init(&pb, tripline, &es)) < 0)
		goto out_free_events;
	printf("match_bench: %zu events, %.1f MB (%s, loaded in %.1f s); best of %u passes; "
	       "single thread; MB = 10^6 bytes of event text\n",
	       es.n, (double)es.bytes / 1e6, events_path, mb_now_s() - t0, repeat);
	if ((uint64_t)es.n != rf.events)
		printf("match_bench: warning: the expected counts are for a stream of %" PRIu64
		       " events, this one has %zu\n", rf.events, es.n);
	if (tripline != NULL)
		printf("match_bench: 'match ev/s' is the whole process, %s match --rules <set>.json\n"
		       "match_bench: < the stream as a plain file > /dev/null; ratio = its events/s / events/s\n",
		       tripline);
	printf("%-26s %5s %11s %9s %11s", "set", "rules", "events/s", "MB/s", "compile ms");
	if (tripline != NULL)
		printf(" %11s %6s", "match ev/s", "ratio");
	printf("  %s\n", "result");

	rows = calloc(rf.n + 2, sizeof(*rows));
	if (rows == NULL) {
		fprintf(stderr, "match_bench: out of memory\n");
		r = -ENOMEM;
		goto out_free_events;
	}
	for (i = 0; i < rf.n + 2; i++) {
		const struct citylots_rule **list = NULL;
		size_t n = 0;
		const char *label;

		if (i < rf.n) {
			label = rf.sets[i].name;
			if (!selected(only, nonly, label))
				continue;
			r = collect(&rf, &label, 1, &list, &n);
		} else if (i == rf.n) {
			label = "PARTIAL_COMBO";
			if (!selected(only, nonly, label))
				continue;
			r = collect(&rf, partial_combo_sets,
				    sizeof(partial_combo_sets) / sizeof(partial_combo_sets[0]), &list, &n);
			if (r == 0 && n != PARTIAL_COMBO_RULES)
				printf("match_bench: warning: PARTIAL_COMBO has %zu rules, not %u\n",
				       n, PARTIAL_COMBO_RULES);
		} else {
			label = "COMBO";
			if (!selected(only, nonly, label))
				continue;
			r = collect(&rf, combo_sets, sizeof(combo_sets) / sizeof(combo_sets[0]), &list, &n);
			if (r == 0 && n != COMBO_RULES)
				printf("match_bench: warning: COMBO has %zu rules, not %u\n", n, COMBO_RULES);
		}
		if (r < 0)
			goto out_free_rows;
		r = bench_set(label, list, n, &es, repeat, tripline != NULL ? &pb : NULL, &rows[nrows].st);
		free(list);
		if (r < 0)
			goto out_free_rows;
		if (r > 0)
			all_ok = false;
		rows[nrows++].name = label;
	}
	printf("all counts correct: %s\n", all_ok ? "yes" : "no");

	printf("\nmatcher figures (matcher_get_stats)\n");
	printf("%-26s %9s %9s %9s %9s %12s\n", "set", "patterns", "branches", "states", "paths", "bytes");
	for (i = 0; i < nrows; i++)
		printf("%-26s %9zu %9zu %9zu %9zu %12zu\n", rows[i].name, rows[i].st.patterns,
		       rows[i].st.branches, rows[i].st.states, rows[i].st.paths, rows[i].st.bytes);
	r = all_ok ? 0 : EXIT_WRONG;

out_free_rows:
	free(rows);
out_free_events:
	mb_proc_cleanup(&pb);
	mb_events_free(&es);
out_free_rules:
	citylots_rules_free(&rf);
	return r < 0 ? EXIT_SETUP : r;
}
