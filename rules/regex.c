/*
 * regex.c — tripline's {"regex": "…"} over PCRE2; the only file that sees
 * <pcre2.h>.
 *
 * A pattern is compiled once with UTF and Unicode properties on (\w, \d,
 * [[:alpha:]] and case-insensitivity follow Unicode), \C refused (it could
 * split a character), and no anchoring: a value matches when the pattern is
 * found anywhere in it, so users anchor with ^ and $ themselves. Patterns
 * longer than REGEX_MAX_PATTERN_LEN bytes are refused. Where the platform
 * has a JIT the pattern is JIT-compiled as well; if that fails the
 * interpreter is used, with the same answers.
 *
 * Matching state lives in a struct regex_scratch, one per matching thread,
 * usable with any struct regex: a one-pair match data block, a match context
 * carrying the limits, and a JIT stack. The limits (REGEX_MATCH_LIMIT on
 * backtracking steps, REGEX_DEPTH_LIMIT on nesting, REGEX_HEAP_LIMIT_KIB on
 * the interpreter's memory, and the JIT stack size) bound the time and
 * memory any one value can cost. A value that hits a limit, like a value
 * that trips any other matching error, does not match: matching never
 * fails, it only says no. A compiled regex is read-only during matching and
 * may be shared between threads.
 */
#include "value.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* Far longer than any pattern a person writes in a rule file. */
#define REGEX_MAX_PATTERN_LEN 8192
/* The interpreter keeps backtracking frames on the heap; bound them. */
#define REGEX_HEAP_LIMIT_KIB 65536
#define REGEX_JIT_STACK_MIN (32 * 1024)
#define REGEX_JIT_STACK_MAX (1024 * 1024)

struct regex {
	pcre2_code *code;
};

struct regex_scratch {
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit_stack;   /* NULL without a JIT */
};

struct regex *regex_compile(const char *pat, size_t n, char *err, size_t errlen)
{
	pcre2_compile_context *cctx;
	struct regex *re;
	PCRE2_SIZE erroff = 0;
	int errcode = 0;

	re = calloc(1, sizeof(*re));
	if (!re)
		goto out_nomem;
	cctx = pcre2_compile_context_create(NULL);
	if (!cctx)
		goto out_free;
	pcre2_set_max_pattern_length(cctx, REGEX_MAX_PATTERN_LEN);
	re->code = pcre2_compile((PCRE2_SPTR)(n ? pat : ""), n,
				 PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C,
				 &errcode, &erroff, cctx);
	pcre2_compile_context_free(cctx);
	if (!re->code) {
		PCRE2_UCHAR msg[256];

		if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", errcode);
		snprintf(err, errlen, "%s at offset %zu", (const char *)msg, (size_t)erroff);
		free(re);
		errno = errcode == PCRE2_ERROR_NOMEMORY ? ENOMEM : EINVAL;
		return NULL;
	}
	/* Not every platform has a JIT; the interpreter gives the same answers. */
	(void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
	return re;

out_free:
	free(re);
out_nomem:
	snprintf(err, errlen, "Out of memory");
	errno = ENOMEM;
	return NULL;
}

int regex_match(const struct regex *re, const char *s, size_t n, struct regex_scratch *scratch)
{
	int rc;

	rc = pcre2_match(re->code, (PCRE2_SPTR)(n ? s : ""), n, 0, PCRE2_NO_UTF_CHECK,
			 scratch->md, scratch->mctx);
	/* 0 means a match whose groups did not fit the one-pair match data. */
	return rc >= 0 ? 1 : 0;
}

void regex_free(struct regex *re)
{
	if (!re)
		return;
	pcre2_code_free(re->code);
	free(re);
}

struct regex_scratch *regex_scratch_new(void)
{
	struct regex_scratch *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->md = pcre2_match_data_create(1, NULL);
	if (!s->md)
		goto out_free;
	s->mctx = pcre2_match_context_create(NULL);
	if (!s->mctx)
		goto out_free_md;
	pcre2_set_match_limit(s->mctx, REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(s->mctx, REGEX_DEPTH_LIMIT);
	pcre2_set_heap_limit(s->mctx, REGEX_HEAP_LIMIT_KIB);
	/* The JIT ignores the depth limit; its stack size bounds it instead.
	 * Without a JIT this is NULL and nothing needs assigning. */
	s->jit_stack = pcre2_jit_stack_create(REGEX_JIT_STACK_MIN, REGEX_JIT_STACK_MAX, NULL);
	if (s->jit_stack)
		pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
	return s;

out_free_md:
	pcre2_match_data_free(s->md);
out_free:
	free(s);
	return NULL;
}

void regex_scratch_free(struct regex_scratch *s)
{
	if (!s)
		return;
	pcre2_jit_stack_free(s->jit_stack);
	pcre2_match_context_free(s->mctx);
	pcre2_match_data_free(s->md);
	free(s);
}
