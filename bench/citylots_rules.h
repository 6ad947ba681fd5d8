/*
 * citylots_rules.h — the rule sets of the citylots2 benchmark
 * (bench/data/citylots2-rules.json), each rule with its pattern as the exact
 * text written in the file and the number of events it must match.
 *
 * The file is read with jansson, which also checks it (duplicate keys);
 * the patterns themselves are handed on as the exact text written, for
 * pattern_parse() (see citylots_rules.c for why).
 *
 * Ownership: citylots_rules_load() fills a struct the caller owns;
 * citylots_rules_free() releases everything it points to (and accepts a
 * zeroed struct). Errors are printed to stderr with the file's name.
 */
#ifndef TRIPLINE_BENCH_CITYLOTS_RULES_H
#define TRIPLINE_BENCH_CITYLOTS_RULES_H

#include <stddef.h>
#include <stdint.h>

struct citylots_rule {
	const char *set;          /* name of the set it belongs to (owned by the set) */
	char *name;
	uint64_t expected;        /* events of the stream it must match */
	char *text;               /* raw pattern text, NUL-terminated */
	size_t text_len;
};

struct citylots_set {
	char *name;
	size_t n;
	struct citylots_rule *rules;
};

struct citylots_rules {
	uint64_t events;          /* stream length the expected counts are for */
	size_t n;                 /* sets, in the file's "order" */
	struct citylots_set *sets;
};

/* Loads the sets named in the file's "order". 0, -ENOMEM, -EINVAL or another negative errno. */
int citylots_rules_load(const char *path, struct citylots_rules *ret);
void citylots_rules_free(struct citylots_rules *rf);
/* The set called name, or NULL. */
const struct citylots_set *citylots_rules_find(const struct citylots_rules *rf, const char *name);

#endif
