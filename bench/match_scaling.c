/*
 * match_scaling.c — match_bench's scaling mode: how per-event work and
 * memory grow with the number of rules.
 *
 * For each --sizes count n, gen_rule() makes n pairwise distinct rules from
 * a fixed seed: the citylots EXACT rules first (so that matches happen),
 * then a 10-step cycle of 5 exact, 3 prefix and 2 numeric-range rules. The
 * matcher of each size is built (compile time, the matcher_build() part,
 * VmRSS growth over the compile with the heap trimmed around it, the
 * matcher's own bytes) and given one untimed pass that counts its matches.
 * Then all sizes are timed in interleaved rounds, one pass of each per
 * round, best of --repeat, over the first --events-limit events; each timed
 * pass must match as many ids as the untimed one. Prints one line per size
 * and the ratio of events/s at the largest size to the smallest.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "bench_util.h"
#include "match_bench.h"

/* Returns freed heap to the kernel so that RSS differences mean something. */
static void trim_heap(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* Street names of the citylots stream (gen_citylots2.py's fillers and planted ones). */
static const char *const streets[] = {
	"GEARY", "MARKET", "PINE", "BUSH", "SUTTER", "POST", "CALIFORNIA", "VALENCIA",
	"GUERRERO", "DOLORES", "CASTRO", "NOE", "SANCHEZ", "CHURCH", "FOLSOM", "HOWARD",
	"BRYANT", "POTRERO", "VERMONT", "KANSAS", "TARAVAL", "ULLOA", "VICENTE", "WAWONA",
	"SLOAT", "NORIEGA", "ORTEGA", "PACHECO", "QUINTARA", "JUDAH", "KIRKHAM", "MORAGA",
	"CLEMENT", "ANZA", "BALBOA", "CABRILLO", "FELL", "OAK", "PAGE", "HAIGHT", "WALLER",
	"DIVISADERO", "BRODERICK", "BAKER", "CENTRAL", "ASHBURY", "COLE", "SHRADER",
	"STANYAN", "ARGUELLO", "PARKER", "GREENWICH", "FILBERT", "GREEN", "VALLEJO",
	"BROADWAY", "PACIFIC", "CLAY", "SACRAMENTO", "OCTAVIA", "LAGUNA", "BUCHANAN",
	"WEBSTER", "FILLMORE", "STEINER", "PIERCE", "SCOTT", "LARKIN", "POLK", "VAN NESS",
	"FRANKLIN", "GOUGH", "NINETEENTH", "TWENTIETH", "ARMSTRONG", "BANCROFT", "CARROLL",
	"EVANS", "INGALLS", "JENNINGS", "KEITH", "LANE", "MENDELL", "NEWHALL", "OCEAN",
	"PERSIA", "RUSSIA", "FRANCE", "ITALY", "PARIS", "MADRID", "ATHENS", "VIENNA",
	"NAPLES", "MUNICH", "PRAGUE", "DUBLIN", "EDINBURGH", "ROLPH", "SEVILLE", "TERESITA",
	"PORTOLA", "OSHAUGHNESSY", "MYRA", "ELK", "CHENERY", "DIAMOND", "DOUGLASS", "EUREKA",
	"HOFFMAN", "GRAND VIEW", "CLIPPER", "ALVARADO", "ELIZABETH", "HILL", "LIBERTY",
	"CUMBERLAND", "SHOTWELL", "CAPP", "TREAT", "ALABAMA", "FLORIDA", "HAMPSHIRE", "YORK",
	"HARRIET", "NATOMA", "MINNA", "TEHAMA", "FULTON", "FUENTE", "MOULTON", "MASON",
	"MASONIC", "ACADIA", "BLANKEN", "BLYTHDALE", "DRUMM", "DRUMMOND", "RHODE ISLAND",
	"LAKE", "BURKE", "KING", "HARDING", "CHICAGO", "JEFFERSON", "WASHINGTON", "HARRISON",
	"JACKSON", "BEACH", "HYDE", "CHESTNUT",
};
#define NSTREETS (sizeof(streets) / sizeof(streets[0]))

/* splitmix64: a fixed seed makes every run generate the same rules. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Longitude in units of 1e-7 degree below zero, written without float noise. */
static int fmt_lon(char *out, size_t cap, uint64_t units)
{
	char frac[16];
	int l;

	l = snprintf(frac, sizeof(frac), "%07" PRIu64, units % 10000000u);
	while (l > 1 && frac[l - 1] == '0')
		frac[--l] = '\0';
	return snprintf(out, cap, "-%" PRIu64 ".%s", units / 10000000u, frac);
}

/*
 * Rule k of a scaling set of n rules: the citylots EXACT rules first, then a
 * fixed 10-step cycle of 5 exact, 3 prefix and 2 numeric rules. Each kind
 * enumerates its own counter through a bijection, so no two rules are equal:
 *   exact   (STREET, FROM_ST) = (streets[e % NSTREETS], 1 + e / NSTREETS)
 *   prefix  MAPBLKLOT prefix "%06u" of (p * 7919 + 12345) mod 10^6
 *   numeric firstCoordinates.x in (lo, lo + w), lo = XMIN + ((q * 7919) mod
 *           1579000) * 1e-7 (the citylots longitude span), w random in
 *           1e-7 .. 3e-5 degrees, so that ranges overlap little and
 *           matches per event stay few (about 2 at 100,000 rules)
 */
static int gen_rule(size_t k, size_t nexact, const struct citylots_set *exact_set,
		    uint64_t *rng, size_t *kind_counter, char *out, size_t cap)
{
	size_t g, c;
	int l;

	if (k < nexact) {
		l = snprintf(out, cap, "%s", exact_set->rules[k].text);
		return l < 0 || (size_t)l >= cap ? -ENOSPC : l;
	}
	g = k - nexact;
	switch (g % 10) {
	case 0: case 1: case 2: case 3: case 4:
		c = kind_counter[0]++;
		l = snprintf(out, cap, "{\"properties\":{\"STREET\":[\"%s\"],\"FROM_ST\":[\"%zu\"]}}",
			     streets[c % NSTREETS], 1 + c / NSTREETS);
		break;
	case 5: case 6: case 7:
		c = kind_counter[1]++;
		l = snprintf(out, cap, "{\"properties\":{\"MAPBLKLOT\":[{\"prefix\":\"%06u\"}]}}",
			     (unsigned)(((uint64_t)c * 7919u + 12345u) % 1000000u));
		break;
	default: {
		char lo[32], hi[32];
		uint64_t lo_units, w;

		c = kind_counter[2]++;
		/* XMIN = -122.5149 = -1225149000e-7; the span to XMAX is 1579000e-7 */
		lo_units = 1225149000u - ((uint64_t)c * 7919u) % 1579000u;
		w = 1 + rng_next(rng) % 300u;
		fmt_lon(lo, sizeof(lo), lo_units);
		fmt_lon(hi, sizeof(hi), lo_units - w);
		l = snprintf(out, cap, "{\"geometry\":{\"firstCoordinates\":{\"x\":"
			     "[{\"numeric\":[\">\",%s,\"<\",%s]}]}}}", lo, hi);
		break;
	}
	}
	return l < 0 || (size_t)l >= cap ? -ENOSPC : l;
}

struct scaling_row {
	size_t rules;
	double compile_s;
	double build_s;
	long long rss_growth;
	size_t matcher_bytes;
	double eps;
	double matches_per_event;
	uint64_t total_matches;
};

/*
 * One timed pass for the scaling rounds: the matcher's work only, so matches
 * are counted, not tallied per rule (a 100,000-entry histogram would add its
 * own cache misses to what is measured). *ret_matches lets the caller check
 * the pass against the untimed first one.
 */
static int time_pass(const struct matcher *m, const struct event_stream *es, struct match_scratch *s,
		     double *ret_s, uint64_t *ret_matches)
{
	uint64_t total = 0;
	double t0 = mb_now_s();

	for (size_t i = 0; i < es->n; i++) {
		const uint32_t *ids;
		int k = matcher_match(m, es->buf + es->ev[i].off, es->ev[i].len, s, &ids);
		if (k > 0)
			total += (uint64_t)k;
	}
	*ret_s = mb_now_s() - t0;
	*ret_matches = total;
	return 0;
}

/*
 * Builds the matcher of n generated rules (kept in *ret_m for the timed
 * rounds) and fills row with everything but events/s, from one untimed pass.
 */
static int scale_one(size_t n, const struct citylots_set *exact_set, const struct event_stream *es,
		     struct scaling_row *row, struct matcher **ret_m)
{
	const size_t slot = 160;
	size_t nexact = exact_set->n < n ? exact_set->n : n;
	size_t kind_counter[3] = {0, 0, 0};
	uint64_t rng = 20240901u;
	char *arena = malloc(n * slot);
	const char **texts = calloc(n, sizeof(*texts));
	size_t *lens = calloc(n, sizeof(*lens));
	const char **where = calloc(n, sizeof(*where));
	struct matcher *m = NULL;
	struct run_result res;
	long long before, after;
	size_t i;
	int r;

	memset(&res, 0, sizeof(res));
	if (arena == NULL || texts == NULL || lens == NULL || where == NULL) {
		r = -ENOMEM;
		goto out_free;
	}
	for (i = 0; i < n; i++) {
		int l = gen_rule(i, nexact, exact_set, &rng, kind_counter, arena + i * slot, slot);

		if (l < 0) {
			r = l;
			goto out_free;
		}
		texts[i] = arena + i * slot;
		lens[i] = (size_t)l;
		where[i] = texts[i];    /* a generated rule is named by its text */
	}
	/* RSS around the compile only: generated texts already exist */
	trim_heap();
	before = rss_of(0);
	r = mb_build_matcher(texts, lens, n, where, &m, &res.compile_s, &res.build_s);
	if (r < 0)
		goto out_free;
	trim_heap();
	after = rss_of(0);
	r = mb_run_passes(m, n, es, 1, NULL, &res);
	if (r < 0)
		goto out_free;
	if (res.rejected > 0)
		printf("match_bench: warning: %zu rules: the matcher rejected %" PRIu64
		       " events (first: line %zu: %s)\n", n, res.rejected, res.first_rejected + 1,
		       res.first_error);
	row->rules = n;
	row->compile_s = res.compile_s;
	row->build_s = res.build_s;
	row->rss_growth = before >= 0 && after >= 0 ? after - before : LLONG_MIN;
	row->matcher_bytes = res.stats.bytes;
	row->matches_per_event = (double)res.total_matches / (double)es->n;
	row->total_matches = res.total_matches;
	*ret_m = m;
	m = NULL;

out_free:
	matcher_free(m);
	free(res.counts);
	free(where);
	free(lens);
	free(texts);
	free(arena);
	if (r == -ENOMEM)
		fprintf(stderr, "match_bench: out of memory\n");
	else if (r == -ENOSPC)
		fprintf(stderr, "match_bench: a generated rule does not fit its buffer\n");
	return r;
}

int mb_run_scaling(const char *rules_path, const char *events_path, const size_t *sizes,
		   size_t nsizes, size_t limit, unsigned repeat)
{
	struct citylots_rules rf;
	struct event_stream es;
	struct scaling_row *rows;
	struct matcher **matchers = NULL;
	struct match_scratch *scratch = NULL;
	const struct citylots_set *exact;
	size_t i, smallest = 0, largest = 0;
	int r;

	r = citylots_rules_load(rules_path, &rf);
	if (r < 0)
		return EXIT_SETUP;
	exact = citylots_rules_find(&rf, "EXACT");
	if (exact == NULL) {
		fprintf(stderr, "match_bench: %s: no EXACT set to mix in\n", rules_path);
		citylots_rules_free(&rf);
		return EXIT_SETUP;
	}
	r = mb_events_load(events_path, limit, &es);
	if (r < 0) {
		citylots_rules_free(&rf);
		return EXIT_SETUP;
	}
	rows = calloc(nsizes, sizeof(*rows));
	matchers = calloc(nsizes, sizeof(*matchers));
	if (rows == NULL || matchers == NULL) {
		fprintf(stderr, "match_bench: out of memory\n");
		r = -ENOMEM;
		goto out_free;
	}
	if (es.n < es.lines_in_file)
		printf("match_bench: scaling over the first %zu of %zu events (--events-limit; 0 = all), "
		       "%.1f MB; best of %u interleaved rounds; single thread\n",
		       es.n, es.lines_in_file, (double)es.bytes / 1e6, repeat);
	else
		printf("match_bench: scaling over all %zu events, %.1f MB; best of %u interleaved rounds; single thread\n",
		       es.n, (double)es.bytes / 1e6, repeat);
	printf("match_bench: rules = the first (up to %zu) citylots EXACT rules, then generated distinct rules "
	       "(5/10 STREET+FROM_ST exact, 3/10 MAPBLKLOT prefix, 2/10 firstCoordinates.x numeric range)\n",
	       exact->n);
	printf("%9s %11s %9s %13s %10s %13s %10s %11s %9s\n", "rules", "compile ms", "build ms",
	       "RSS growth B", "RSS B/rule", "matcher B", "B/rule", "events/s", "matches/ev");
	/*
	 * Every size is built first and then timed in interleaved rounds (one pass
	 * of each size per round, best of `repeat` rounds each), so that a slow
	 * spell of a shared machine hits all sizes alike and the ratio stays fair.
	 */
	for (i = 0; i < nsizes; i++) {
		r = scale_one(sizes[i], exact, &es, &rows[i], &matchers[i]);
		if (r < 0)
			goto out_free;
	}
	scratch = match_scratch_new();
	if (!scratch) {
		r = -ENOMEM;
		goto out_free;
	}
	for (unsigned round = 0; round < repeat; round++) {
		for (i = 0; i < nsizes; i++) {
			double secs;
			uint64_t matches;
			r = time_pass(matchers[i], &es, scratch, &secs, &matches);
			if (r < 0)
				goto out_free;
			if (matches != rows[i].total_matches) {
				fprintf(stderr, "match_bench: %zu rules: a timed pass matched %" PRIu64
					" ids, the first %" PRIu64 "\n", sizes[i], matches, rows[i].total_matches);
				r = -EINVAL;
				goto out_free;
			}
			double eps = (double)es.n / secs;
			if (eps > rows[i].eps)
				rows[i].eps = eps;
		}
	}
	for (i = 0; i < nsizes; i++) {
		struct scaling_row *w = &rows[i];

		printf("%9zu %11.3f %9.3f", w->rules, w->compile_s * 1e3, w->build_s * 1e3);
		if (w->rss_growth == LLONG_MIN)
			printf(" %13s %10s", "n/a", "n/a");
		else
			printf(" %13lld %10.1f", w->rss_growth, (double)w->rss_growth / (double)w->rules);
		printf(" %13zu %10.1f %11.0f %9.3f\n", w->matcher_bytes,
		       (double)w->matcher_bytes / (double)w->rules, w->eps, w->matches_per_event);
		fflush(stdout);
		if (sizes[i] < sizes[smallest])
			smallest = i;
		if (sizes[i] > sizes[largest])
			largest = i;
	}
	printf("events/s ratio, %zu rules / %zu rules: %.3f\n", sizes[largest], sizes[smallest],
	       rows[largest].eps / rows[smallest].eps);
	r = 0;

out_free:
	match_scratch_free(scratch);
	if (matchers)
		for (i = 0; i < nsizes; i++)
			matcher_free(matchers[i]);
	free(matchers);
	free(rows);
	mb_events_free(&es);
	citylots_rules_free(&rf);
	return r < 0 ? EXIT_SETUP : 0;
}
