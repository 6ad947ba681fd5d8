/*
 * test_utf8.c — utf8_clean(): valid text is copied as it is; each byte that
 * does not start a well-formed sequence (and NUL) becomes U+FFFD, and the
 * text after it is kept.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define FFFD "\xef\xbf\xbd"

static void expect(const char *in, size_t n, const char *want)
{
	size_t len = 0;
	char *out = utf8_clean(in, n, &len);
	assert_non_null(out);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
	assert_int_equal(out[len], '\0');
	free(out);
}

static void test_valid_is_copied(void **state)
{
	(void)state;
	expect("", 0, "");
	expect("plain ascii", 11, "plain ascii");
	expect("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	expect("\xf4\x8f\xbf\xbf", 4, "\xf4\x8f\xbf\xbf");   /* U+10FFFF */
}

static void test_invalid_bytes_are_replaced(void **state)
{
	(void)state;
	expect("a\xffz", 3, "a" FFFD "z");
	expect("\x80", 1, FFFD);                          /* a lone continuation byte */
	expect("\xc0\xaf", 2, FFFD FFFD);                 /* overlong '/' */
	expect("\xed\xa0\x80", 3, FFFD FFFD FFFD);        /* a surrogate */
	expect("\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD);   /* past U+10FFFF */
	expect("ok\xe2\x82", 4, "ok" FFFD FFFD);          /* cut at the end */
	expect("a\0b", 3, "a" FFFD "b");                  /* NUL */
	expect("\xc3\xa9\xc3", 3, "\xc3\xa9" FFFD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_is_copied),
		cmocka_unit_test(test_invalid_bytes_are_replaced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
