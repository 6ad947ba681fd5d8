/*
 * test_matcher.c — the compiled matcher: array consistency, exists:false
 * scoping, many patterns sharing structure, numeric range indexes checked
 * against brute force, event errors and limits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "matcher.h"
#include "matcher_internal.h"
#include "pattern.h"

static struct matcher *build_n(const char *const *patterns, size_t n, const struct matcher_limits *lim)
{
	struct matcher_builder *b = matcher_builder_new(lim);
	struct matcher *m;
	assert_non_null(b);
	for (size_t i = 0; i < n; i++) {
		struct errlist errs = ERRLIST_INIT;
		struct pattern *p;
		if (pattern_parse(patterns[i], strlen(patterns[i]), PATTERN_DIALECT_TRIPLINE, NULL, &p, &errs) < 0)
			fail_msg("pattern %zu rejected: %s", i, errs.msgs[0]);
		assert_int_equal(matcher_builder_add(b, (uint32_t)i, p), 0);
	}
	assert_int_equal(matcher_build(b, &m), 0);
	return m;
}

/* Matches event against one pattern: 1 match, 0 no match, or the negative error. */
static int match1(const char *pattern, const char *event)
{
	struct matcher *m = build_n(&pattern, 1, NULL);
	struct match_scratch *s = match_scratch_new();
	const uint32_t *ids;
	int n = matcher_match(m, event, strlen(event), s, &ids);
	match_scratch_free(s);
	matcher_free(m);
	return n;
}

static void test_array_consistency(void **state)
{
	(void)state;
	const char *p = "{\"arr\":{\"x\":[1],\"y\":[2]}}";
	assert_int_equal(match1(p, "{\"arr\":[{\"x\":1,\"y\":2}]}"), 1);
	assert_int_equal(match1(p, "{\"arr\":[{\"x\":1,\"y\":3},{\"x\":4,\"y\":2}]}"), 0);
	assert_int_equal(match1(p, "{\"arr\":[{\"x\":9},{\"x\":1,\"y\":[5,2]}]}"), 1);
	/* nested arrays: elements of the inner arrays of one outer element are consistent */
	const char *q = "{\"a\":{\"b\":{\"c\":[1]},\"d\":[2]}}";
	assert_int_equal(match1(q, "{\"a\":[{\"b\":[{\"c\":1}],\"d\":2}]}"), 1);
	assert_int_equal(match1(q, "{\"a\":[{\"b\":[{\"c\":1}]},{\"d\":2}]}"), 0);
	/* sibling arrays inside one element do not constrain each other */
	const char *r = "{\"a\":{\"b\":{\"x\":[1]},\"c\":{\"y\":[2]}}}";
	assert_int_equal(match1(r, "{\"a\":{\"b\":[{\"x\":0},{\"x\":1}],\"c\":[{\"y\":2}]}}"), 1);
	/* scalars in arrays: any element */
	assert_int_equal(match1("{\"r\":[\"b\"]}", "{\"r\":[\"a\",[\"b\"]]}"), 1);
}

static void test_exists_false_element_scoped(void **state)
{
	(void)state;
	const char *p = "{\"arr\":{\"a\":[\"1\"],\"b\":[{\"exists\":false}]}}";
	assert_int_equal(match1(p, "{\"arr\":[{\"a\":\"1\"},{\"a\":\"2\",\"b\":\"x\"}]}"), 1);
	assert_int_equal(match1(p, "{\"arr\":[{\"a\":\"1\",\"b\":\"x\"},{\"a\":\"2\"}]}"), 0);
	/* alone, exists:false means no such leaf anywhere */
	const char *q = "{\"arr\":{\"b\":[{\"exists\":false}]}}";
	assert_int_equal(match1(q, "{\"arr\":[{\"a\":1},{\"b\":1}]}"), 0);
	assert_int_equal(match1(q, "{\"arr\":[{\"a\":1},{\"b\":{}}]}"), 1);   /* {} is no leaf */
}

static void test_dotted_keys(void **state)
{
	(void)state;
	assert_int_equal(match1("{\"a\":{\"b\":[1]}}", "{\"a.b\":1}"), 1);
	assert_int_equal(match1("{\"a.b\":[1]}", "{\"a\":{\"b\":1}}"), 1);
	assert_int_equal(match1("{\"a\":{\"b\":{\"c\":[1]}}}", "{\"a.b\":{\"c\":1}}"), 1);
	/* escaped keys are decoded before they are looked up */
	assert_int_equal(match1("{\"a\":{\"b\":[1]}}", "{\"\\u0061\":{\"\\u0062\":1}}"), 1);
	assert_int_equal(match1("{\"k\":[\"\\u00e9\"]}", "{\"k\":\"\xc3\xa9\"}"), 1);
}

/*
 * Keys of every length around the scanner's word compares (8 and 16 bytes),
 * as one key and as dotted segments, against keys that differ in their
 * first, middle or last byte, at the end of the event or not.
 */
static void test_key_lengths(void **state)
{
	(void)state;
	static const size_t lens[] = {1, 7, 8, 9, 15, 16, 17, 24, 40};
	char key[48], other[48], pat[160], ev[160];
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lens[i];
		for (size_t k = 0; k < n; k++)
			key[k] = (char)('a' + (k * 7) % 26);
		key[n] = '\0';
		snprintf(pat, sizeof(pat), "{\"%s\":{\"%s\":[1]}}", key, key);
		snprintf(ev, sizeof(ev), "{\"x\":0,\"%s\":{\"%s\":1}}", key, key);
		assert_int_equal(match1(pat, ev), 1);
		snprintf(ev, sizeof(ev), "{\"%s.%s\":1}", key, key);   /* the key at the very end */
		assert_int_equal(match1(pat, ev), 1);
		size_t where[] = {0, n / 2, n - 1};
		for (size_t w = 0; w < 3; w++) {
			memcpy(other, key, n + 1);
			other[where[w]] = 'Z';
			snprintf(ev, sizeof(ev), "{\"%s\":{\"%s\":1}}", key, other);
			assert_int_equal(match1(pat, ev), 0);
			snprintf(ev, sizeof(ev), "{\"%s.%s\":1}", other, key);
			assert_int_equal(match1(pat, ev), 0);
			/* one byte longer or shorter */
			snprintf(ev, sizeof(ev), "{\"%sZ\":{\"%s\":1}}", key, key);
			assert_int_equal(match1(pat, ev), 0);
			snprintf(ev, sizeof(ev), "{\"%.*s\":{\"%s\":1}}", (int)n - 1, key, key);
			assert_int_equal(match1(pat, ev), 0);
		}
	}
}

static void test_many_patterns_share(void **state)
{
	(void)state;
	enum { N = 2000 };
	static char bufs[N][96];
	const char *pats[N];
	for (int i = 0; i < N; i++) {
		snprintf(bufs[i], sizeof(bufs[i]),
			 "{\"source\":[\"aws.s3\"],\"detail\":{\"key\":[\"k%d\"],\"n\":[{\"numeric\":[\">\",%d]}]}}", i,
			 i % 7);
		pats[i] = bufs[i];
	}
	struct matcher *m = build_n(pats, N, NULL);
	struct matcher_stats st;
	matcher_get_stats(m, &st);
	assert_int_equal(st.patterns, N);
	assert_int_equal(st.paths, 3);
	/* one shared "detail.key" value matcher fans out: states grow with rules, not squared */
	assert_true(st.states < 3 * N + 2);

	struct match_scratch *s = match_scratch_new();
	const uint32_t *ids;
	const char *ev = "{\"source\":\"aws.s3\",\"detail\":{\"key\":\"k1234\",\"n\":5}}";
	assert_int_equal(matcher_match(m, ev, strlen(ev), s, &ids), 1);
	assert_int_equal(ids[0], 1234);
	const char *ev2 = "{\"source\":\"aws.s3\",\"detail\":{\"key\":\"k1235\",\"n\":1}}";
	assert_int_equal(matcher_match(m, ev2, strlen(ev2), s, &ids), 0);   /* 1235 % 7 = 3 */
	match_scratch_free(s);
	matcher_free(m);
}

/* Numeric ranges through the segment tree against a brute-force answer. */
static void test_numeric_ranges_random(void **state)
{
	(void)state;
	enum { N = 300 };
	static char bufs[N][128];
	const char *pats[N];
	int lo[N], hi[N], kind[N];
	srand(12345);
	for (int i = 0; i < N; i++) {
		lo[i] = rand() % 200 - 100;
		hi[i] = lo[i] + 1 + rand() % 50;
		kind[i] = rand() % 6;
		switch (kind[i]) {
		case 0: snprintf(bufs[i], 128, "{\"v\":[{\"numeric\":[\">\",%d,\"<\",%d]}]}", lo[i], hi[i]); break;
		case 1: snprintf(bufs[i], 128, "{\"v\":[{\"numeric\":[\">=\",%d,\"<=\",%d]}]}", lo[i], hi[i]); break;
		case 2: snprintf(bufs[i], 128, "{\"v\":[{\"numeric\":[\"<\",%d]}]}", hi[i]); break;
		case 3: snprintf(bufs[i], 128, "{\"v\":[{\"numeric\":[\">=\",%d]}]}", lo[i]); break;
		case 4: snprintf(bufs[i], 128, "{\"v\":[{\"numeric\":[\"=\",%d]}]}", lo[i]); break;
		default: snprintf(bufs[i], 128, "{\"v\":[%d.0]}", lo[i]); break;
		}
		pats[i] = bufs[i];
	}
	struct matcher *m = build_n(pats, N, NULL);
	struct match_scratch *s = match_scratch_new();
	for (int x2 = -260; x2 <= 260; x2++) {   /* x = x2 / 2: integers and halves */
		char ev[64];
		snprintf(ev, sizeof(ev), "{\"v\":%d.%d}", x2 / 2, abs(x2 % 2) * 5);
		if (x2 < 0 && x2 > -2)
			snprintf(ev, sizeof(ev), "{\"v\":-0.5}");
		double x = x2 / 2.0;
		const uint32_t *ids;
		int n = matcher_match(m, ev, strlen(ev), s, &ids);
		assert_true(n >= 0);
		int k = 0;
		for (int i = 0; i < N; i++) {
			bool want;
			switch (kind[i]) {
			case 0: want = x > lo[i] && x < hi[i]; break;
			case 1: want = x >= lo[i] && x <= hi[i]; break;
			case 2: want = x < hi[i]; break;
			case 3: want = x >= lo[i]; break;
			default: want = x == lo[i]; break;
			}
			bool got = k < n && ids[k] == (uint32_t)i;
			if (got)
				k++;
			if (want != got)
				fail_msg("x=%g (%s) pattern %s: want %d got %d", x, ev, pats[i], want, got);
		}
		assert_int_equal(k, n);
	}
	match_scratch_free(s);
	matcher_free(m);
}

/*
 * Many narrow, mostly disjoint ranges (the index lists each slot's targets
 * directly) plus a block boundary every 16 bounds: checked against brute force
 * at every bound, next to it, and between bounds.
 */
static void test_numeric_ranges_disjoint(void **state)
{
	(void)state;
	enum { N = 500 };
	static char bufs[N][128];
	const char *pats[N];
	for (int i = 0; i < N; i++) {
		/* [10 i, 10 i + 5] with alternating open/closed ends, some overlapping the next */
		int lo = 10 * i, hi = 10 * i + (i % 7 == 0 ? 15 : 5);
		snprintf(bufs[i], 128, "{\"v\":[{\"numeric\":[\"%s\",%d,\"%s\",%d]}]}",
			 i % 2 ? ">" : ">=", lo, i % 3 ? "<" : "<=", hi);
		pats[i] = bufs[i];
	}
	struct matcher *m = build_n(pats, N, NULL);
	struct match_scratch *s = match_scratch_new();
	for (int x4 = -8; x4 <= 4 * 10 * N + 80; x4++) {
		char ev[64];
		double x = x4 / 4.0;
		snprintf(ev, sizeof(ev), "{\"v\":%.2f}", x);
		const uint32_t *ids;
		int n = matcher_match(m, ev, strlen(ev), s, &ids);
		assert_true(n >= 0);
		int k = 0;
		for (int i = 0; i < N; i++) {
			int lo = 10 * i, hi = 10 * i + (i % 7 == 0 ? 15 : 5);
			bool want = (i % 2 ? x > lo : x >= lo) && (i % 3 ? x < hi : x <= hi);
			bool got = k < n && ids[k] == (uint32_t)i;
			if (got)
				k++;
			if (want != got)
				fail_msg("x=%s pattern %s: want %d got %d", ev, pats[i], want, got);
		}
		assert_int_equal(k, n);
	}
	match_scratch_free(s);
	matcher_free(m);
}

static void test_prefix_suffix_lengths(void **state)
{
	(void)state;
	const char *pats[] = {
		"{\"s\":[{\"prefix\":\"a\"}]}", "{\"s\":[{\"prefix\":\"abc\"}]}", "{\"s\":[{\"prefix\":\"\"}]}",
		"{\"s\":[{\"suffix\":\"z\"}]}", "{\"s\":[{\"suffix\":\"xyz\"}]}",
		"{\"s\":[{\"prefix\":{\"equals-ignore-case\":\"AB\"}}]}", "{\"s\":[{\"equals-ignore-case\":\"ABCXYZ\"}]}",
		"{\"s\":[{\"anything-but\":{\"prefix\":\"ab\"}}]}",
	};
	struct matcher *m = build_n(pats, 8, NULL);
	struct match_scratch *s = match_scratch_new();
	const uint32_t *ids;
	const char *ev = "{\"s\":\"abcxyz\"}";
	int n = matcher_match(m, ev, strlen(ev), s, &ids);
	uint32_t want[] = {0, 1, 2, 3, 4, 5, 6};
	assert_int_equal(n, 7);
	assert_memory_equal(ids, want, sizeof(want));
	const char *ev2 = "{\"s\":5}";
	assert_int_equal(matcher_match(m, ev2, strlen(ev2), s, &ids), 1);   /* only anything-but */
	assert_int_equal(ids[0], 7);
	match_scratch_free(s);
	matcher_free(m);
}

/* Values of any length: exact, prefix, suffix and folded keys longer than any buffer. */
static void test_long_values(void **state)
{
	(void)state;
	enum { L = 3000 };
	static char val[L + 1], pat[6][L + 64], ev[L + 64], ev_upper[L + 64], ev_other[L + 64];
	memset(val, 'k', L);
	val[L] = '\0';
	snprintf(pat[0], sizeof(pat[0]), "{\"a\":[\"%s\"]}", val);
	snprintf(pat[1], sizeof(pat[1]), "{\"a\":[{\"prefix\":\"%.*s\"}]}", L - 100, val);
	snprintf(pat[2], sizeof(pat[2]), "{\"a\":[{\"suffix\":\"%.*s\"}]}", L - 1, val);
	snprintf(pat[3], sizeof(pat[3]), "{\"a\":[{\"equals-ignore-case\":\"%s\"}]}", val);
	snprintf(pat[4], sizeof(pat[4]), "{\"a\":[{\"prefix\":{\"equals-ignore-case\":\"%.*s\"}}]}", L - 7,
		 val);
	snprintf(pat[5], sizeof(pat[5]), "{\"a\":[\"%.*s\"]}", L - 1, val);   /* one byte short */
	const char *pats[] = {pat[0], pat[1], pat[2], pat[3], pat[4], pat[5]};
	struct matcher *m = build_n(pats, 6, NULL);
	struct match_scratch *s = match_scratch_new();
	const uint32_t *ids;

	snprintf(ev, sizeof(ev), "{\"a\":\"%s\"}", val);
	uint32_t want[] = {0, 1, 2, 3, 4};
	assert_int_equal(matcher_match(m, ev, strlen(ev), s, &ids), 5);
	assert_memory_equal(ids, want, sizeof(want));
	/* the same in capitals: only the equals-ignore-case forms */
	memcpy(ev_upper, ev, sizeof(ev));
	for (char *c = ev_upper + 6; *c == 'k'; c++)
		*c = 'K';
	uint32_t want_ic[] = {3, 4};
	assert_int_equal(matcher_match(m, ev_upper, strlen(ev_upper), s, &ids), 2);
	assert_memory_equal(ids, want_ic, sizeof(want_ic));
	/* one byte different in the middle: the prefix still holds, nothing else */
	memcpy(ev_other, ev, sizeof(ev));
	ev_other[6 + L - 50] = 'j';
	assert_int_equal(matcher_match(m, ev_other, strlen(ev_other), s, &ids), 1);
	assert_int_equal(ids[0], 1);
	match_scratch_free(s);
	matcher_free(m);
}

/*
 * Equal values on one path from different states stay apart: a value is
 * looked up for the state (value matcher) the thread is in, not for any
 * pattern that names it.
 */
static void test_same_value_different_states(void **state)
{
	(void)state;
	const char *pats[] = {
		"{\"x\":[\"1\"],\"y\":[\"same\"]}",
		"{\"x\":[\"2\"],\"y\":[\"same\"]}",
		"{\"y\":[\"same\"]}",
		"{\"x\":[\"1\"],\"y\":[\"other\", \"same\"]}",
		"{\"x\":[\"2\"],\"y\":[{\"equals-ignore-case\":\"SAME\"}]}",
		"{\"y\":[{\"prefix\":\"sam\"}, {\"prefix\":\"s\"}]}",
	};
	struct matcher *m = build_n(pats, 6, NULL);
	struct match_scratch *s = match_scratch_new();
	const uint32_t *ids;
	const char *ev1 = "{\"x\":\"1\",\"y\":\"same\"}";
	uint32_t want1[] = {0, 2, 3, 5};
	assert_int_equal(matcher_match(m, ev1, strlen(ev1), s, &ids), 4);
	assert_memory_equal(ids, want1, sizeof(want1));
	const char *ev2 = "{\"x\":\"2\",\"y\":\"Same\"}";
	assert_int_equal(matcher_match(m, ev2, strlen(ev2), s, &ids), 1);   /* prefixes are case-sensitive */
	assert_int_equal(ids[0], 4);
	const char *ev3 = "{\"x\":\"3\",\"y\":\"same\"}";
	uint32_t want3[] = {2, 5};
	assert_int_equal(matcher_match(m, ev3, strlen(ev3), s, &ids), 2);
	assert_memory_equal(ids, want3, sizeof(want3));
	match_scratch_free(s);
	matcher_free(m);
}

/* The match path's one-pass number parser gives number_parse()'s answer for every JSON number. */
static void test_number_parse_agrees(void **state)
{
	(void)state;
	static const char *const fixed[] = {
		"0", "-0", "0.0", "-0.000e-99999999999", "1", "-1", "100", "1e2", "1E+2", "0.001", "120.0300",
		"12345678901234567", "123456789012345678", "1234567890123456700000", "0.00000000000000000012345",
		"-122.45508999061957", "37.70817369318878", "1e309", "1e308", "1e-325", "1e-324", "9.9e-326",
		"10000000000000000000000000000000000000000000000001", "1e999999999999999999999", "5e-324",
		"1.7976931348623157e308", "0.1e310", "100e-327",
	};
	struct numparse a, b;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		int ra = number_parse(fixed[i], strlen(fixed[i]), &a);
		int rb = leaf_number_parse(fixed[i], strlen(fixed[i]), &b);
		assert_int_equal(ra, rb);
		if (ra == 0) {
			assert_true(a.w == b.w);
			assert_int_equal(a.exp, b.exp);
			assert_int_equal(a.ndigits, b.ndigits);
			assert_int_equal(a.neg, b.neg);
			assert_int_equal(a.zero, b.zero);
		}
	}
	/* random JSON numbers, zeros frequent: sign, integer, fraction, exponent */
	uint64_t x = 88172645463325252u;
	char t[96];
	for (int i = 0; i < 200000; i++) {
		size_t n = 0;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (x & 1)
			t[n++] = '-';
		int il = (int)((x >> 1) % 22);
		if (il == 0) {
			t[n++] = '0';
		} else {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			t[n++] = (char)('1' + x % 9);
			for (int k = 1; k < il; k++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				t[n++] = (x % 3) ? '0' : (char)('0' + (x >> 8) % 10);
			}
		}
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (x & 1) {
			int fl = 1 + (int)((x >> 1) % 22);
			t[n++] = '.';
			for (int k = 0; k < fl; k++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				t[n++] = (x % 3) ? '0' : (char)('0' + (x >> 8) % 10);
			}
		}
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (x & 1) {
			t[n++] = (x & 2) ? 'e' : 'E';
			if (x & 4)
				t[n++] = (x & 8) ? '-' : '+';
			int el = 1 + (int)((x >> 4) % 4);
			for (int k = 0; k < el; k++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				t[n++] = (char)('0' + x % 10);
			}
		}
		int ra = number_parse(t, n, &a);
		int rb = leaf_number_parse(t, n, &b);
		if (ra != rb || (ra == 0 && (a.w != b.w || a.exp != b.exp || a.ndigits != b.ndigits ||
					      a.neg != b.neg || a.zero != b.zero)))
			fail_msg("%.*s: number_parse %d, leaf_number_parse %d", (int)n, t, ra, rb);
	}
}

static void test_event_errors(void **state)
{
	(void)state;
	const char *p = "{\"a\":[1]}";
	struct matcher *m = build_n(&p, 1, NULL);
	struct match_scratch *s = match_scratch_new();
	const uint32_t *ids;
	static const char *const invalid[] = {
		"", "[]", "\"x\"", "{\"a\":1", "{\"a\":1,}", "{\"b\":[1,]}", "{\"b\":\"\\q\"}", "{\"a\":01}",
		"{} {}", "{\"b\":{\"c\":nul}}", "{\"b\":\"\xff\"}",
	};
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		int r = matcher_match(m, invalid[i], strlen(invalid[i]), s, &ids);
		if (r != -EINVAL)
			fail_msg("'%s': got %d, want -EINVAL", invalid[i], r);
		assert_true(strlen(match_scratch_error(s)) > 0);
	}
	/* errors in skipped subtrees are still errors */
	const char *e = "{\"a\":1,\"skipped\":{\"x\":[1,2,}]}}";
	assert_int_equal(matcher_match(m, e, strlen(e), s, &ids), -EINVAL);
	assert_non_null(strstr(match_scratch_error(s), "at byte 27"));
	match_scratch_free(s);
	matcher_free(m);
}

static void test_limits(void **state)
{
	(void)state;
	const char *p = "{\"a\":[1]}";
	struct matcher_limits lim = {.max_event_bytes = 64, .max_depth = 4, .max_leaves = 3};
	struct matcher *m = build_n(&p, 1, &lim);
	struct match_scratch *s = match_scratch_new();
	const uint32_t *ids;
	char big[100];
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"a\":1}", 7);
	assert_int_equal(matcher_match(m, big, sizeof(big), s, &ids), -E2BIG);
	const char *deep = "{\"b\":[[[[1]]]]}";
	assert_int_equal(matcher_match(m, deep, strlen(deep), s, &ids), -E2BIG);
	const char *ok = "{\"b\":[[[1]]],\"a\":1}";
	assert_int_equal(matcher_match(m, ok, strlen(ok), s, &ids), 1);
	const char *many = "{\"a\":[0,0,0,1]}";
	assert_int_equal(matcher_match(m, many, strlen(many), s, &ids), -E2BIG);
	match_scratch_free(s);
	matcher_free(m);
}

/* One scratch serves matchers of different sizes, in any order. */
static void test_scratch_reuse(void **state)
{
	(void)state;
	const char *small = "{\"a\":[1]}";
	const char *pats[] = {"{\"a\":[1]}", "{\"b\":[2]}", "{\"c\":{\"d\":[3]}}", "{\"e\":[{\"exists\":true}]}"};
	struct matcher *m1 = build_n(&small, 1, NULL);
	struct matcher *m2 = build_n(pats, 4, NULL);
	struct match_scratch *s = match_scratch_new();
	const uint32_t *ids;
	const char *ev = "{\"a\":1,\"b\":2,\"c\":{\"d\":3},\"e\":null}";
	for (int i = 0; i < 3; i++) {
		assert_int_equal(matcher_match(m1, ev, strlen(ev), s, &ids), 1);
		assert_int_equal(matcher_match(m2, ev, strlen(ev), s, &ids), 4);
	}
	match_scratch_free(s);
	matcher_free(m1);
	matcher_free(m2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_array_consistency),
		cmocka_unit_test(test_exists_false_element_scoped),
		cmocka_unit_test(test_dotted_keys),
		cmocka_unit_test(test_key_lengths),
		cmocka_unit_test(test_many_patterns_share),
		cmocka_unit_test(test_numeric_ranges_random),
		cmocka_unit_test(test_numeric_ranges_disjoint),
		cmocka_unit_test(test_prefix_suffix_lengths),
		cmocka_unit_test(test_long_values),
		cmocka_unit_test(test_same_value_different_states),
		cmocka_unit_test(test_number_parse_agrees),
		cmocka_unit_test(test_event_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_scratch_reuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
