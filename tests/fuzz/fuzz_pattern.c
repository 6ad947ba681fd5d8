/*
 * fuzz_pattern.c — libFuzzer target for the pattern parser and compiler.
 *
 * Any input either parses into a pattern (which must then compile into a
 * matcher and match a fixed event without error) or is rejected with at least
 * one error message; nothing may crash, leak or trip the sanitizers. Both
 * dialects are exercised.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "matcher.h"
#include "pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char event[] =
	"{\"source\":\"aws.s3\",\"detail\":{\"a\":[1,\"x\",{\"b\":null}],\"n\":3.0e2,"
	"\"ip\":\"10.0.0.1\",\"s\":\"Stra\\u00dfe\"}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int d = 0; d < 2; d++) {
		struct errlist errs = ERRLIST_INIT;
		struct pattern *p = NULL;
		int r = pattern_parse((const char *)data, size, (enum pattern_dialect)d, NULL, &p, &errs);
		if (r < 0) {
			if (r == -EINVAL && errs.n == 0 && errs.dropped == 0)
				abort();   /* a rejection must say why */
			errlist_clear(&errs);
			continue;
		}
		struct matcher_builder *b = matcher_builder_new(NULL);
		struct matcher *m = NULL;
		struct match_scratch *s = match_scratch_new();
		if (!b || !s || matcher_builder_add(b, 1, p) < 0 || matcher_build(b, &m) < 0)
			abort();
		const uint32_t *ids;
		if (matcher_match(m, event, sizeof(event) - 1, s, &ids) < 0)
			abort();
		matcher_free(m);
		match_scratch_free(s);
		errlist_clear(&errs);
	}
	return 0;
}
