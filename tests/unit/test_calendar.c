/*
 * test_calendar.c — the calendar arithmetic against an independent oracle
 * (glibc's timegm and gmtime_r) over every day from 1600 to 2400, plus the
 * fixed points people know (the epoch, leap days, century rules) and the
 * HTTP token test of http_token.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "calendar.h"
#include "http_token.h"

static void test_fixed_points(void **state)
{
	int64_t y;
	unsigned m, d;

	(void)state;
	assert_int_equal(calendar_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(calendar_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(calendar_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(calendar_days_from_civil(2024, 2, 29), 19782);
	calendar_civil_from_days(-719468, &y, &m, &d);   /* day 0 of the era algorithm */
	assert_int_equal(y, 0);
	assert_int_equal(m, 3);
	assert_int_equal(d, 1);
	assert_int_equal(calendar_weekday(0), 4);   /* 1970-01-01: Thursday */
	assert_int_equal(calendar_weekday(calendar_days_from_civil(2026, 12, 7)), 1);   /* a Monday */
	assert_int_equal(calendar_weekday(-1), 3);
}

static void test_leap_years(void **state)
{
	(void)state;
	assert_true(calendar_is_leap_year(2000));
	assert_true(calendar_is_leap_year(2024));
	assert_true(calendar_is_leap_year(-4));
	assert_false(calendar_is_leap_year(1900));
	assert_false(calendar_is_leap_year(2100));
	assert_false(calendar_is_leap_year(2023));
	assert_int_equal(calendar_days_in_month(2000, 2), 29);
	assert_int_equal(calendar_days_in_month(1900, 2), 28);
	assert_int_equal(calendar_days_in_month(2023, 4), 30);
	assert_int_equal(calendar_days_in_month(2023, 12), 31);
}

static void test_date_valid(void **state)
{
	(void)state;
	assert_true(calendar_date_valid(2024, 2, 29, 23, 59, 59));
	assert_false(calendar_date_valid(2023, 2, 29, 0, 0, 0));
	assert_false(calendar_date_valid(2023, 0, 1, 0, 0, 0));
	assert_false(calendar_date_valid(2023, 13, 1, 0, 0, 0));
	assert_false(calendar_date_valid(2023, 4, 31, 0, 0, 0));
	assert_false(calendar_date_valid(2023, 4, 0, 0, 0, 0));
	assert_false(calendar_date_valid(2023, 4, 1, 24, 0, 0));
	assert_false(calendar_date_valid(2023, 4, 1, 0, 60, 0));
	assert_false(calendar_date_valid(2023, 4, 1, 0, 0, 60));
}

/* Every day of 800 years, both ways, against glibc. */
static void test_against_libc(void **state)
{
	(void)state;
	int64_t first = calendar_days_from_civil(1600, 1, 1), last = calendar_days_from_civil(2400, 12, 31);
	for (int64_t day = first; day <= last; day++) {
		time_t t = (time_t)(day * CALENDAR_SECS_PER_DAY);
		struct tm tm;
		int64_t y;
		unsigned m, d;

		assert_non_null(gmtime_r(&t, &tm));
		calendar_civil_from_days(day, &y, &m, &d);
		if (y != tm.tm_year + 1900 || m != (unsigned)tm.tm_mon + 1 || d != (unsigned)tm.tm_mday ||
		    calendar_weekday(day) != (unsigned)tm.tm_wday)
			fail_msg("day %lld: %lld-%u-%u (weekday %u), libc %d-%d-%d (weekday %d)", (long long)day,
				 (long long)y, m, d, calendar_weekday(day), tm.tm_year + 1900, tm.tm_mon + 1,
				 tm.tm_mday, tm.tm_wday);
		struct tm back = {.tm_year = tm.tm_year, .tm_mon = tm.tm_mon, .tm_mday = tm.tm_mday};
		assert_int_equal(calendar_days_from_civil(y, m, d), (int64_t)timegm(&back) / CALENDAR_SECS_PER_DAY);
		assert_true(d <= calendar_days_in_month(y, m));
	}
}

static void test_floor_div(void **state)
{
	(void)state;
	assert_int_equal(calendar_floor_div(7, 2), 3);
	assert_int_equal(calendar_floor_div(-7, 2), -4);
	assert_int_equal(calendar_floor_div(-8, 2), -4);
	assert_int_equal(calendar_floor_div(0, 5), 0);
	assert_int_equal(calendar_floor_div(-1, 86400), -1);
}

static void test_http_header_names(void **state)
{
	char long_name[HTTP_HEADER_NAME_MAX + 2];

	(void)state;
	assert_true(http_header_name_ok("X-GitHub-Event", 14));
	assert_true(http_header_name_ok("!#$%&'*+-.^_`|~09azAZ", 21));
	assert_false(http_header_name_ok("", 0));
	assert_false(http_header_name_ok("Bad Header", 10));
	assert_false(http_header_name_ok("X:Y", 3));
	assert_false(http_header_name_ok("X\0Y", 3));
	assert_false(http_header_name_ok("caf\xc3\xa9", 5));
	assert_false(http_header_name_ok("a(b)", 4));
	memset(long_name, 'a', sizeof(long_name));
	assert_true(http_header_name_ok(long_name, HTTP_HEADER_NAME_MAX));
	assert_false(http_header_name_ok(long_name, HTTP_HEADER_NAME_MAX + 1));
	for (int c = 0; c < 256; c++) {
		bool want = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c && strchr("!#$%&'*+-.^_`|~", c));
		assert_int_equal(http_token_char((char)c), want);
	}
}

static void test_parse_iso8601(void **state)
{
	(void)state;
	int64_t t = 0;

	assert_int_equal(calendar_parse_iso8601("2026-12-07T08:47:06Z", &t), 0);
	assert_int_equal(t, 1796633226);
	assert_int_equal(calendar_parse_iso8601("2026-12-07T09:47:06.250+01:00", &t), 0);
	assert_int_equal(t, 1796633226);
	assert_int_equal(calendar_parse_iso8601("2026-12-07T03:47:06-0500", &t), 0);
	assert_int_equal(t, 1796633226);
	assert_int_equal(calendar_parse_iso8601("1969-12-31", &t), 0);
	assert_int_equal(t, -86400);
	assert_int_equal(calendar_parse_iso8601("2026-12-07T08:47:06", &t), -1);   /* no zone */
	assert_int_equal(calendar_parse_iso8601("2026-13-07T08:47:06Z", &t), -1);
	assert_int_equal(calendar_parse_iso8601("2026-12-07T08:47Z", &t), -1);
	assert_int_equal(calendar_parse_iso8601("2026-12-07T08:47:06Zx", &t), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_iso8601),
		cmocka_unit_test(test_fixed_points),
		cmocka_unit_test(test_leap_years),
		cmocka_unit_test(test_date_valid),
		cmocka_unit_test(test_against_libc),
		cmocka_unit_test(test_floor_div),
		cmocka_unit_test(test_http_header_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
