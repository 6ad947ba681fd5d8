/*
 * test_conformance.c — the reference cases of tests/data/conformance through
 * the library API.
 *
 *   single:   every case of event-ruler-cases.jsonl, its pattern alone in a
 *             matcher, gives the expected answer;
 *   combined: all patterns compiled into ONE matcher (id = case index); each
 *             case's event matches its own pattern exactly when expected, so
 *             patterns cannot interfere inside the compiled structure;
 *   invalid:  every pattern of invalid-patterns.jsonl is rejected in the
 *             EventBridge dialect, and in tripline's dialect too except the
 *             one that only uses our {"regex": …} extension.
 *
 * Patterns and events are handed over as their exact source text (spans of
 * the case line), because number spellings and duplicate keys matter.
 *
 * Usage: test_conformance [DATA_DIR] (default: tests/data/conformance).
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

#include "json.h"
#include "matcher.h"
#include "pattern.h"

struct ccase {
	char *id;
	char *pattern;     /* exact text */
	char *event;       /* exact text (valid cases) */
	bool match;
};

static const char *data_dir = "tests/data/conformance";
static struct ccase *cases;
static size_t ncases;
static struct ccase *invalid;
static size_t ninvalid;

static char *span(const char *line, const struct jnode *n)
{
	size_t len = n->end - n->offset;
	char *s = malloc(len + 1);
	assert_non_null(s);
	memcpy(s, line + n->offset, len);
	s[len] = '\0';
	return s;
}

static void load(const char *name, bool valid, struct ccase **ret, size_t *ret_n)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	struct ccase *v = NULL;
	size_t n = 0;

	while ((len = getline(&line, &cap, f)) > 0) {
		struct jdoc *doc;
		struct json_error je;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		if (jdoc_parse(line, (size_t)len, NULL, &doc, &je) < 0)
			fail_msg("%s: line %zu: %s", path, n + 1, je.message);
		const struct jnode *root = jdoc_root(doc);
		v = realloc(v, (n + 1) * sizeof(*v));
		assert_non_null(v);
		struct ccase *c = &v[n++];
		memset(c, 0, sizeof(*c));
		const struct jnode *id = jnode_get(root, "id");
		assert_non_null(id);
		c->id = strdup(id->u.str);
		const struct jnode *pat = jnode_get(root, "pattern");
		assert_non_null(pat);
		if (valid) {
			c->pattern = span(line, pat);
			c->event = span(line, jnode_get(root, "event"));
			c->match = jnode_get(root, "match")->type == JNODE_TRUE;
		} else {
			assert_int_equal(pat->type, JNODE_STRING);   /* the pattern as JSON text */
			c->pattern = malloc(pat->len + 1);
			memcpy(c->pattern, pat->u.str, pat->len + 1);
		}
		jdoc_free(doc);
	}
	free(line);
	fclose(f);
	*ret = v;
	*ret_n = n;
}

static int setup(void **state)
{
	(void)state;
	load("event-ruler-cases.jsonl", true, &cases, &ncases);
	load("invalid-patterns.jsonl", false, &invalid, &ninvalid);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < ncases; i++) {
		free(cases[i].id);
		free(cases[i].pattern);
		free(cases[i].event);
	}
	for (size_t i = 0; i < ninvalid; i++) {
		free(invalid[i].id);
		free(invalid[i].pattern);
	}
	free(cases);
	free(invalid);
	return 0;
}

static struct pattern *parse_or_report(const struct ccase *c, enum pattern_dialect d)
{
	struct errlist errs = ERRLIST_INIT;
	struct pattern *p = NULL;
	int r = pattern_parse(c->pattern, strlen(c->pattern), d, NULL, &p, &errs);
	if (r < 0) {
		print_error("%s: pattern rejected:", c->id);
		for (size_t i = 0; i < errs.n; i++)
			print_error(" %s", errs.msgs[i]);
		print_error("\n");
	}
	errlist_clear(&errs);
	return p;
}

static void test_single(void **state)
{
	size_t failed = 0;
	struct match_scratch *s = match_scratch_new();
	(void)state;

	assert_int_equal(ncases, 1269);
	for (size_t i = 0; i < ncases; i++) {
		const struct ccase *c = &cases[i];
		struct pattern *p = parse_or_report(c, PATTERN_DIALECT_TRIPLINE);
		if (!p) {
			failed++;
			continue;
		}
		struct matcher_builder *b = matcher_builder_new(NULL);
		struct matcher *m;
		assert_int_equal(matcher_builder_add(b, 7, p), 0);
		assert_int_equal(matcher_build(b, &m), 0);
		const uint32_t *ids;
		int n = matcher_match(m, c->event, strlen(c->event), s, &ids);
		if (n < 0) {
			print_error("%s: event rejected: %s\n", c->id, match_scratch_error(s));
			failed++;
		} else if ((n == 1) != c->match) {
			print_error("%s: expected %s, got %s\n  pattern %s\n  event %.300s\n", c->id,
				    c->match ? "match" : "no match", n ? "match" : "no match",
				    c->pattern, c->event);
			failed++;
		} else if (n == 1) {
			assert_int_equal(ids[0], 7);
		}
		matcher_free(m);
	}
	match_scratch_free(s);
	if (failed)
		fail_msg("%zu of %zu conformance cases failed", failed, ncases);
}

static void test_combined(void **state)
{
	struct matcher_builder *b = matcher_builder_new(NULL);
	struct match_scratch *s = match_scratch_new();
	struct matcher *m;
	size_t failed = 0;
	(void)state;

	for (size_t i = 0; i < ncases; i++) {
		struct pattern *p = parse_or_report(&cases[i], PATTERN_DIALECT_TRIPLINE);
		assert_non_null(p);
		assert_int_equal(matcher_builder_add(b, (uint32_t)i, p), 0);
	}
	assert_int_equal(matcher_build(b, &m), 0);
	for (size_t i = 0; i < ncases; i++) {
		const struct ccase *c = &cases[i];
		const uint32_t *ids;
		int n = matcher_match(m, c->event, strlen(c->event), s, &ids);
		assert_true(n >= 0);
		bool found = false;
		for (int k = 0; k < n; k++) {
			found |= ids[k] == i;
			if (k)
				assert_true(ids[k - 1] < ids[k]);   /* sorted, distinct */
		}
		if (found != c->match) {
			print_error("%s: combined matcher: expected %s\n", c->id,
				    c->match ? "match" : "no match");
			failed++;
		}
	}
	matcher_free(m);
	match_scratch_free(s);
	if (failed)
		fail_msg("%zu of %zu cases differ inside the combined matcher", failed, ncases);
}

static void test_invalid(void **state)
{
	size_t failed = 0;
	(void)state;

	assert_int_equal(ninvalid, 182);
	for (size_t i = 0; i < ninvalid; i++) {
		const struct ccase *c = &invalid[i];
		for (int d = 0; d < 2; d++) {
			struct errlist errs = ERRLIST_INIT;
			struct pattern *p = NULL;
			int r = pattern_parse(c->pattern, strlen(c->pattern), (enum pattern_dialect)d, NULL,
					      &p, &errs);
			bool regex_only = strcmp(c->id, "sup-inv-match-expr-03") == 0;
			bool expect_ok = d == PATTERN_DIALECT_TRIPLINE && regex_only;
			if (expect_ok != (r == 0)) {
				print_error("%s (%s dialect): expected %s: %s\n", c->id,
					    d ? "eventbridge" : "tripline", expect_ok ? "accepted" : "rejected",
					    c->pattern);
				failed++;
			}
			if (r < 0) {
				/* every rejection says where and why */
				assert_true(errs.n > 0);
				assert_non_null(strchr(errs.msgs[0], ':'));
			}
			pattern_free(p);
			errlist_clear(&errs);
		}
	}
	if (failed)
		fail_msg("%zu invalid-pattern checks failed", failed);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		data_dir = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_combined),
		cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
