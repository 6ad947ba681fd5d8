/*
 * test_errlist.c — the error list: message layout, order, growth, clearing
 * and reuse, moving with a prefix, and that a message that cannot be made
 * is counted instead of lost.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "errlist.h"

static void test_empty(void **state)
{
	struct errlist e = ERRLIST_INIT;

	(void)state;
	assert_false(errlist_any(&e));
	assert_int_equal(e.n, 0);
	errlist_clear(&e);
	assert_false(errlist_any(&e));
	errlist_init(&e);
	assert_false(errlist_any(&e));
	assert_null(e.msgs);
}

static void test_layout(void **state)
{
	struct errlist e;

	(void)state;
	errlist_init(&e);
	errlist_add(&e, "rules/a.json", "%s: must be an integer from %d to %d", "/Targets/0/TaskCount", 1, 10);
	errlist_add(&e, NULL, "no location");
	errlist_add(&e, "", "empty location");
	errlist_add(&e, "where", "%s", "");
	assert_true(errlist_any(&e));
	assert_int_equal(e.n, 4);
	assert_string_equal(e.msgs[0], "rules/a.json: /Targets/0/TaskCount: must be an integer from 1 to 10");
	assert_string_equal(e.msgs[1], "no location");
	assert_string_equal(e.msgs[2], "empty location");
	assert_string_equal(e.msgs[3], "where: ");
	assert_int_equal(e.dropped, 0);
	errlist_clear(&e);
}

static void test_long_message(void **state)
{
	struct errlist e = ERRLIST_INIT;
	char big[5000];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	errlist_add(&e, "f", "<%s>", big);
	assert_int_equal(e.n, 1);
	assert_int_equal(strlen(e.msgs[0]), 3 + 1 + 4999 + 1);
	assert_memory_equal(e.msgs[0], "f: <x", 5);
	assert_string_equal(e.msgs[0] + 3 + 1 + 4999, ">");
	errlist_clear(&e);
}

static void test_order_and_growth(void **state)
{
	struct errlist e = ERRLIST_INIT;
	char want[32];

	(void)state;
	for (int i = 0; i < 1000; i++)
		errlist_add(&e, "f", "error %d", i);
	assert_int_equal(e.n, 1000);
	assert_true(e.cap >= 1000);
	for (int i = 0; i < 1000; i++) {
		snprintf(want, sizeof(want), "f: error %d", i);
		assert_string_equal(e.msgs[i], want);
	}
	errlist_clear(&e);
	assert_int_equal(e.n, 0);
	assert_false(errlist_any(&e));

	/* Reusable after clear. */
	errlist_add(&e, NULL, "again");
	assert_int_equal(e.n, 1);
	assert_string_equal(e.msgs[0], "again");
	errlist_clear(&e);
}

static void vadd(struct errlist *e, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void vadd(struct errlist *e, const char *where, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errlist_addv(e, where, fmt, ap);
	va_end(ap);
}

static void test_addv(void **state)
{
	struct errlist e = ERRLIST_INIT;

	(void)state;
	vadd(&e, "x", "%d-%s-%c", 42, "y", 'z');
	assert_string_equal(e.msgs[0], "x: 42-y-z");
	errlist_clear(&e);
}

static void test_move_prefixed(void **state)
{
	struct errlist dst = ERRLIST_INIT, src = ERRLIST_INIT;

	(void)state;
	errlist_add(&dst, NULL, "first");
	errlist_add(&src, "/a", "bad");
	errlist_add(&src, NULL, "worse");
	src.dropped = 2;
	errlist_move_prefixed(&dst, &src, "rules/x.json");
	assert_int_equal(dst.n, 3);
	assert_string_equal(dst.msgs[0], "first");
	assert_string_equal(dst.msgs[1], "rules/x.json: /a: bad");
	assert_string_equal(dst.msgs[2], "rules/x.json: worse");
	assert_int_equal(dst.dropped, 2);
	assert_int_equal(src.n, 0);
	assert_int_equal(src.dropped, 0);
	assert_false(errlist_any(&src));

	/* Without a prefix the messages move unchanged. */
	errlist_add(&src, "/b", "plain");
	errlist_move_prefixed(&dst, &src, NULL);
	errlist_add(&src, "/c", "plain too");
	errlist_move_prefixed(&dst, &src, "");
	assert_int_equal(dst.n, 5);
	assert_string_equal(dst.msgs[3], "/b: plain");
	assert_string_equal(dst.msgs[4], "/c: plain too");

	/* Moving an empty list changes nothing. */
	errlist_move_prefixed(&dst, &src, "p");
	assert_int_equal(dst.n, 5);
	errlist_clear(&dst);
	errlist_clear(&src);
}

static void test_dropped_counts_as_any(void **state)
{
	struct errlist e = ERRLIST_INIT;
	wchar_t unconvertible[] = {(wchar_t)0xe9, 0};

	(void)state;
	/* In the C locale "%ls" of a non-ASCII wide character cannot be
	 * converted, so formatting fails: the message is dropped, counted. */
	errlist_add(&e, "f", "%ls", unconvertible);
	assert_int_equal(e.n, 0);
	assert_int_equal(e.dropped, 1);
	assert_true(errlist_any(&e));
	errlist_add(&e, "f", "ok");
	assert_int_equal(e.n, 1);
	assert_int_equal(e.dropped, 1);
	errlist_clear(&e);
	assert_int_equal(e.dropped, 0);
	assert_false(errlist_any(&e));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_long_message),
		cmocka_unit_test(test_order_and_growth),
		cmocka_unit_test(test_addv),
		cmocka_unit_test(test_move_prefixed),
		cmocka_unit_test(test_dropped_counts_as_any),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
