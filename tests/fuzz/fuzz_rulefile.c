/*
 * fuzz_rulefile.c — libFuzzer target for the rule-file loader.
 *
 * Any input either loads as a ruleset (whose matcher must then run on a
 * fixed event) or is rejected with at least one "file: …" message; nothing
 * may crash, leak or trip the sanitizers.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char event[] =
	"{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{\"object\":{\"key\":\"a.jpg\",\"size\":5}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errlist errs = ERRLIST_INIT;
	struct ruleset *rs = NULL;
	int r = ruleset_from_text("fuzz.json", (const char *)data, size, NULL, &rs, &errs);

	if (r < 0) {
		if (r == -EINVAL && errs.n == 0 && errs.dropped == 0)
			abort();
		for (size_t i = 0; i < errs.n; i++)
			if (strncmp(errs.msgs[i], "fuzz.json: ", 11) != 0)
				abort();   /* every message names the file */
	} else if (rs->matcher) {
		struct match_scratch *s = match_scratch_new();
		const uint32_t *ids;
		if (!s || matcher_match(rs->matcher, event, sizeof(event) - 1, s, &ids) < 0)
			abort();
		match_scratch_free(s);
	}
	ruleset_unref(rs);
	errlist_clear(&errs);
	return 0;
}
