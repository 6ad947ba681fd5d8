/*
 * test_schedule.c — schedule expressions: every rate() error with its
 * message, cron() fields and special forms, at() calendar checks, next fire
 * times with hand-verified epoch values (UTC and across DST in Berlin and New
 * York), the TZif reader (synthetic files, offsets checked against glibc's
 * localtime_r for real zones) and time-zone name checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../rules/schedule.h"

/* UTC epoch seconds of a civil date-time, computed by glibc (an independent oracle). */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = s };

	return (int64_t)timegm(&tm);
}

static struct schedule *parse_ok(const char *expr)
{
	struct schedule *s = NULL;
	char err[256] = "";
	int r = schedule_parse(expr, strlen(expr), &s, err, sizeof(err));

	if (r != 0)
		fail_msg("%s: unexpected error %d: %s", expr, r, err);
	assert_non_null(s);
	return s;
}

static void expect_error(const char *expr, const char *msg)
{
	struct schedule *s = (struct schedule *)1;
	char err[256] = "";
	int r = schedule_parse(expr, strlen(expr), &s, err, sizeof(err));

	if (r != -EINVAL || strcmp(err, msg) != 0)
		fail_msg("%s: got %d \"%s\", want \"%s\"", expr, r, err, msg);
	assert_null(s);
}

/* The next fire time after `after` in zone tz (NULL: UTC), with anchor 0. */
static int64_t next(const char *expr, const char *tz, int64_t after)
{
	struct schedule *s = parse_ok(expr);
	int64_t t = -1;
	int r = schedule_next(s, tz, 0, after, &t);

	schedule_free(s);
	if (r != 0)
		fail_msg("%s after %lld: error %d", expr, (long long)after, r);
	return t;
}

static int next_err(const char *expr, const char *tz, int64_t after)
{
	struct schedule *s = parse_ok(expr);
	int64_t t = -1;
	int r = schedule_next(s, tz, 0, after, &t);

	schedule_free(s);
	return r;
}

/* ------------------------------------------------------------------ rate */

static int64_t rate_period(const char *expr)
{
	return next(expr, NULL, 0);   /* anchor 0, after 0: one period */
}

static void test_rate_valid(void **state)
{
	(void)state;
	assert_int_equal(rate_period("rate(1 minute)"), 60);
	assert_int_equal(rate_period("rate(5 minutes)"), 300);
	assert_int_equal(rate_period("rate(1 hour)"), 3600);
	assert_int_equal(rate_period("rate(2 hours)"), 7200);
	assert_int_equal(rate_period("rate(1 day)"), 86400);
	assert_int_equal(rate_period("rate(7 days)"), 604800);
	assert_int_equal(rate_period("rate(16666666 minutes)"), 999999960);
	assert_int_equal(rate_period("rate(11574 days)"), 999993600);

	struct schedule *s = parse_ok("rate(10 minutes)");

	assert_int_equal(schedule_get_kind(s), SCHEDULE_RATE);
	schedule_free(s);
}

static void test_rate_errors(void **state)
{
	static const struct {
		const char *expr, *msg;
	} cases[] = {
		{ "rate(1 minutes)", "rate: unit must be \"minute\" for a value of 1" },
		{ "rate(1 hours)", "rate: unit must be \"hour\" for a value of 1" },
		{ "rate(1 days)", "rate: unit must be \"day\" for a value of 1" },
		{ "rate(5 minute)", "rate: unit must be \"minutes\" for a value greater than 1" },
		{ "rate(2 hour)", "rate: unit must be \"hours\" for a value greater than 1" },
		{ "rate(10 day)", "rate: unit must be \"days\" for a value greater than 1" },
		{ "rate(0 minutes)", "rate: value must be a positive integer" },
		{ "rate(-5 minutes)", "rate: value must be a positive integer" },
		{ "rate(+5 minutes)", "rate: value must be a positive integer" },
		{ "rate(1.5 hours)", "rate: value must be a positive integer" },
		{ "rate(five minutes)", "rate: value must be a positive integer" },
		{ "rate()", "rate: value must be a positive integer" },
		{ "rate(05 minutes)", "rate: value must not have leading zeros" },
		{ "rate(5)", "rate: missing unit" },
		{ "rate(5 weeks)", "rate: unit must be one of minute, minutes, hour, hours, day, days" },
		{ "rate(5 Minutes)", "rate: unit must be one of minute, minutes, hour, hours, day, days" },
		{ "rate(5 seconds)", "rate: unit must be one of minute, minutes, hour, hours, day, days" },
		{ "rate(5  minutes)", "rate: expected a value and a unit separated by a single space" },
		{ "rate( 5 minutes)", "rate: expected a value and a unit separated by a single space" },
		{ "rate(5 minutes )", "rate: expected a value and a unit separated by a single space" },
		{ "rate(5 )", "rate: expected a value and a unit separated by a single space" },
		{ "rate(5minutes)", "rate: expected a value and a unit separated by a single space" },
		{ "rate(5\tminutes)", "schedule expression has a control or non-ASCII byte at offset 6" },
		{ "rate(11575 days)", "rate: period too long: at most 1000000000 seconds" },
		{ "rate(16666667 minutes)", "rate: period too long: at most 1000000000 seconds" },
		{ "rate(99999999999999999999 minutes)", "rate: period too long: at most 1000000000 seconds" },
		{ "rate(5 minutes", "rate: missing \")\" at the end" },
		{ "rate(", "rate: missing \")\" at the end" },
		{ "rate(5 minutes) ", "rate: missing \")\" at the end" },
		{ "rate(5 minutes))", "rate: unit must be one of minute, minutes, hour, hours, day, days" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(cases[i].expr, cases[i].msg);
}

static void test_rate_anchor(void **state)
{
	struct schedule *s = parse_ok("rate(5 minutes)");
	const int64_t a = utc(2027, 6, 1, 10, 3, 17);
	int64_t t;

	(void)state;
	/* The anchor itself is a fire time; then every 300 s from it. */
	assert_int_equal(schedule_next(s, NULL, a, a - 1, &t), 0);
	assert_int_equal(t, a);
	assert_int_equal(schedule_next(s, NULL, a, a - 86400, &t), 0);
	assert_int_equal(t, a);
	assert_int_equal(schedule_next(s, NULL, a, a, &t), 0);
	assert_int_equal(t, a + 300);
	assert_int_equal(schedule_next(s, NULL, a, a + 299, &t), 0);
	assert_int_equal(t, a + 300);
	assert_int_equal(schedule_next(s, NULL, a, a + 300, &t), 0);
	assert_int_equal(t, a + 600);
	assert_int_equal(schedule_next(s, NULL, a, a + 3 * 86400 + 1, &t), 0);
	assert_int_equal(t, a + 3 * 86400 + 300);
	/* The zone does not matter: a rate is elapsed time. */
	assert_int_equal(schedule_next(s, "Europe/Berlin", a, a + 300, &t), 0);
	assert_int_equal(t, a + 600);
	assert_int_equal(schedule_next(s, NULL, SCHEDULE_EPOCH_LIMIT + 1, a, &t), -ERANGE);
	assert_int_equal(schedule_next(s, NULL, a, -SCHEDULE_EPOCH_LIMIT - 1, &t), -ERANGE);
	schedule_free(s);

	/* rate(1 day) across Berlin's spring-forward: 24 h, not the next 10:00. */
	s = parse_ok("rate(1 day)");
	const int64_t b = utc(2027, 3, 27, 9, 0, 0);   /* 10:00 CET */

	assert_int_equal(schedule_next(s, "Europe/Berlin", b, b, &t), 0);
	assert_int_equal(t, utc(2027, 3, 28, 9, 0, 0));   /* 11:00 CEST */
	schedule_free(s);
}

/* --------------------------------------------------------------- envelope */

static void test_envelope_errors(void **state)
{
	char big[SCHEDULE_MAX_EXPR + 2];
	struct schedule *s;
	char err[128];

	(void)state;
	expect_error("", "schedule expression is empty");
	expect_error("every 5 minutes", "schedule expression must be rate(...), cron(...) or at(...)");
	expect_error("RATE(5 minutes)", "schedule expression must be rate(...), cron(...) or at(...)");
	expect_error("cron (0 12 * * ? *)", "schedule expression must be rate(...), cron(...) or at(...)");
	expect_error("cron(0 12 * * ? *", "cron: missing \")\" at the end");
	expect_error("at(2027-01-01T00:00:00", "at: missing \")\" at the end");
	expect_error("cron(0 12 * * ? *\n)", "schedule expression has a control or non-ASCII byte at offset 17");
	expect_error("cron(0 12 * * ? *)\xc2\xa0", "schedule expression has a control or non-ASCII byte at offset 18");

	/* A NUL inside the given length is an error, not the end. */
	assert_int_equal(schedule_parse("rate(5 minutes)\0x", 17, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "schedule expression has a control or non-ASCII byte at offset 15");
	/* Only len bytes are read. */
	assert_int_equal(schedule_parse("rate(5 minutes)garbage", 15, &s, err, sizeof(err)), 0);
	schedule_free(s);

	memset(big, '0', sizeof(big));
	memcpy(big, "cron(", 5);
	assert_int_equal(schedule_parse(big, SCHEDULE_MAX_EXPR + 1, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "schedule expression is longer than 256 bytes");
	assert_null(s);

	/* err may be NULL or tiny. */
	assert_int_equal(schedule_parse("rate(0 minutes)", 15, &s, NULL, 0), -EINVAL);
	assert_int_equal(schedule_parse("rate(0 minutes)", 15, &s, err, 5), -EINVAL);
	assert_string_equal(err, "rate");
}

/* ------------------------------------------------------------------- cron */

static void test_cron_valid(void **state)
{
	static const char *const ok[] = {
		"cron(0 12 * * ? *)",
		"cron(15 10 ? * 6L 2027)",
		"cron(0 9 ? * 2#1 *)",
		"cron(0 9 ? * MON#1 *)",
		"cron(0 9 ? * fri#5 *)",
		"cron(0 0 L * ? *)",
		"cron(0 0 LW * ? *)",
		"cron(0 0 lw * ? *)",
		"cron(0 0 15W * ? *)",
		"cron(0 0 1W * ? *)",
		"cron(0 0 ? * L *)",
		"cron(0 0 ? * FRIL *)",
		"cron(0/15 * * * ? *)",
		"cron(*/5 * * * ? *)",
		"cron(10-30/10 * * * ? *)",
		"cron(0,15,30,45 0-23 1-31 1-12 ? 1970-2199)",
		"cron(0 18 ? * MON-FRI *)",
		"cron(0 18 ? * mon-fri *)",
		"cron(0 18 ? * FRI-MON *)",
		"cron(0 22-2 * * ? *)",
		"cron(0 8 1 JAN,jul,Dec ? *)",
		"cron(0 8 1 JAN-MAR/2 ? *)",
		"cron(0 8 1 */3 ? 2030/5)",
		"cron(00 08 01 01 ? 2030)",
		"cron(59 23 31 12 ? 2199)",
		"cron(0 0 ? * 1,2,3,4,5,6,7 *)",
		"cron(0 0 ? * * *)",
		"cron(* * * * ? *)",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct schedule *s = parse_ok(ok[i]);

		assert_int_equal(schedule_get_kind(s), SCHEDULE_CRON);
		schedule_free(s);
	}
}

static void test_cron_errors(void **state)
{
	static const struct {
		const char *expr, *msg;
	} cases[] = {
		{ "cron(0 12 * * ?)", "cron: expected 6 fields (minutes hours day-of-month month day-of-week year), found 5" },
		{ "cron(0 12 * * ? * *)", "cron: expected 6 fields (minutes hours day-of-month month day-of-week year), found 7" },
		{ "cron()", "cron: expected 6 fields (minutes hours day-of-month month day-of-week year), found 0" },
		{ "cron(0  12 * * ? *)", "cron: fields must be separated by single spaces" },
		{ "cron( 0 12 * * ? *)", "cron: fields must be separated by single spaces" },
		{ "cron(0 12 * * ? * )", "cron: fields must be separated by single spaces" },
		{ "cron(60 12 * * ? *)", "cron: minutes: value 60 out of range 0-59" },
		{ "cron(0 24 * * ? *)", "cron: hours: value 24 out of range 0-23" },
		{ "cron(0 12 0 * ? *)", "cron: day-of-month: value 0 out of range 1-31" },
		{ "cron(0 12 32 * ? *)", "cron: day-of-month: value 32 out of range 1-31" },
		{ "cron(0 12 1 13 ? *)", "cron: month: value 13 out of range 1-12" },
		{ "cron(0 12 ? * 8 *)", "cron: day-of-week: value 8 out of range 1-7" },
		{ "cron(0 12 ? * 0 *)", "cron: day-of-week: value 0 out of range 1-7" },
		{ "cron(0 12 * * ? 1969)", "cron: year: value 1969 out of range 1970-2199" },
		{ "cron(0 12 * * ? 2200)", "cron: year: value 2200 out of range 1970-2199" },
		{ "cron(0 12 * * ? 99999999999)", "cron: year: value 99999999999 out of range 1970-2199" },
		{ "cron(0 12 * * ? 2030-2020)", "cron: year: range 2030-2020 must not wrap around" },
		{ "cron(0 12 * JANUARY ? *)", "cron: month: invalid value \"JANUARY\"" },
		{ "cron(0 12 * * ? JAN)", "cron: year: invalid value \"JAN\"" },
		{ "cron(0 12 ? * MOM *)", "cron: day-of-week: invalid value \"MOM\"" },
		{ "cron(0 12 1 JAN MON *)", "cron: one of day-of-month and day-of-week must be \"?\"" },
		{ "cron(0 12 * * * *)", "cron: one of day-of-month and day-of-week must be \"?\"" },
		{ "cron(0 12 1 * MON *)", "cron: one of day-of-month and day-of-week must be \"?\"" },
		{ "cron(0 12 ? * ? *)", "cron: day-of-month and day-of-week cannot both be \"?\"" },
		{ "cron(? 12 * * ? *)", "cron: minutes: \"?\" is only allowed in day-of-month and day-of-week" },
		{ "cron(0 12 1,? * ? *)", "cron: day-of-month: \"?\" must be used alone" },
		{ "cron(0/0 12 * * ? *)", "cron: minutes: increment 0 out of range 1-60" },
		{ "cron(0/61 12 * * ? *)", "cron: minutes: increment 61 out of range 1-60" },
		{ "cron(0/x 12 * * ? *)", "cron: minutes: invalid increment \"x\"" },
		{ "cron(0/ 12 * * ? *)", "cron: minutes: invalid increment \"\"" },
		{ "cron(/5 12 * * ? *)", "cron: minutes: missing value" },
		{ "cron(5- 12 * * ? *)", "cron: minutes: missing value" },
		{ "cron(1-2-3 12 * * ? *)", "cron: minutes: invalid value \"2-3\"" },
		{ "cron(0,,1 12 * * ? *)", "cron: minutes: empty list item" },
		{ "cron(0, 12 * * ? *)", "cron: minutes: empty list item" },
		{ "cron(0 12 ? * MON/2 *)", "cron: day-of-week: increments (\"/\") are not allowed" },
		{ "cron(0 12 ? * 2#6 *)", "cron: day-of-week: occurrence \"6\" out of range 1-5" },
		{ "cron(0 12 ? * 2#0 *)", "cron: day-of-week: occurrence \"0\" out of range 1-5" },
		{ "cron(0 12 ? * 2# *)", "cron: day-of-week: occurrence \"\" out of range 1-5" },
		{ "cron(0 12 ? * 8#1 *)", "cron: day-of-week: value 8 out of range 1-7" },
		{ "cron(0 12 ? * 3#1,6#3 *)", "cron: day-of-week: \"3#1,6#3\": \"#\" must be used alone, as n#k" },
		{ "cron(0 12 ? * 1,6L *)", "cron: day-of-week: \"1,6L\": L must be used alone, as L or nL" },
		{ "cron(0 12 ? * L6 *)", "cron: day-of-week: \"L6\": L must be used alone, as L or nL" },
		{ "cron(0 12 ? * 9L *)", "cron: day-of-week: value 9 out of range 1-7" },
		{ "cron(0 12 L-2 * ? *)", "cron: day-of-month: \"L-2\": L and W must be used alone, as L, LW or nW" },
		{ "cron(0 12 1,L * ? *)", "cron: day-of-month: \"1,L\": L and W must be used alone, as L, LW or nW" },
		{ "cron(0 12 W * ? *)", "cron: day-of-month: \"W\": L and W must be used alone, as L, LW or nW" },
		{ "cron(0 12 32W * ? *)", "cron: day-of-month: value 32 out of range 1-31" },
		{ "cron(0 12 0W * ? *)", "cron: day-of-month: value 0 out of range 1-31" },
		{ "cron(0 12 L ? * *)", "cron: month: \"?\" is only allowed in day-of-month and day-of-week" },
		{ "cron(0 12 ? * L# *)", "cron: day-of-week: invalid value \"L\"" },
		{ "cron(0 12 * * ? 2030/300)", "cron: year: increment 300 out of range 1-230" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(cases[i].expr, cases[i].msg);
}

static void test_cron_list_limit(void **state)
{
	char expr[SCHEDULE_MAX_EXPR + 1];
	size_t n;

	(void)state;
	/* 60 items is the limit … */
	n = (size_t)snprintf(expr, sizeof(expr), "cron(");
	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(expr + n, sizeof(expr) - n, "%s%d", i ? "," : "", i);
	snprintf(expr + n, sizeof(expr) - n, " 12 * * ? *)");
	schedule_free(parse_ok(expr));

	/* … and one more is an error. */
	n = (size_t)snprintf(expr, sizeof(expr), "cron(");
	for (int i = 0; i < 61; i++)
		n += (size_t)snprintf(expr + n, sizeof(expr) - n, "%s0", i ? "," : "");
	snprintf(expr + n, sizeof(expr) - n, " 12 * * ? *)");
	expect_error(expr, "cron: minutes: more than 60 list items");
}

/* --------------------------------------------------------------------- at */

static void test_at_parse(void **state)
{
	static const struct {
		const char *expr, *msg;
	} cases[] = {
		{ "at(2027-02-29T00:00:00)", "at: day 29 out of range 1-28 for 2027-02" },
		{ "at(2100-02-29T00:00:00)", "at: day 29 out of range 1-28 for 2100-02" },
		{ "at(2027-04-31T00:00:00)", "at: day 31 out of range 1-30 for 2027-04" },
		{ "at(2027-01-00T00:00:00)", "at: day 0 out of range 1-31 for 2027-01" },
		{ "at(2027-13-01T00:00:00)", "at: month 13 out of range 1-12" },
		{ "at(2027-00-01T00:00:00)", "at: month 0 out of range 1-12" },
		{ "at(2027-01-01T24:00:00)", "at: hour 24 out of range 0-23" },
		{ "at(2027-01-01T00:60:00)", "at: minute 60 out of range 0-59" },
		{ "at(2027-01-01T00:00:60)", "at: second 60 out of range 0-59" },
		{ "at(1969-12-31T23:59:59)", "at: year 1969 out of range 1970-2199" },
		{ "at(2027-01-01 00:00:00)", "at: expected a date-time as yyyy-mm-ddThh:mm:ss" },
		{ "at(2027-01-01T00:00)", "at: expected a date-time as yyyy-mm-ddThh:mm:ss" },
		{ "at(2027-01-01T00:00:00Z)", "at: expected a date-time as yyyy-mm-ddThh:mm:ss" },
		{ "at(2027-1-01T00:00:00)", "at: expected a date-time as yyyy-mm-ddThh:mm:ss" },
		{ "at(+027-01-01T00:00:00)", "at: expected a date-time as yyyy-mm-ddThh:mm:ss" },
		{ "at()", "at: expected a date-time as yyyy-mm-ddThh:mm:ss" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(cases[i].expr, cases[i].msg);

	struct schedule *s = parse_ok("at(2028-02-29T12:00:00)");

	assert_int_equal(schedule_get_kind(s), SCHEDULE_AT);
	schedule_free(s);
	schedule_free(parse_ok("at(2000-02-29T23:59:59)"));
}

static void test_at_next(void **state)
{
	(void)state;
	assert_int_equal(next("at(2028-02-29T12:00:00)", NULL, 0), utc(2028, 2, 29, 12, 0, 0));
	assert_int_equal(next("at(2028-02-29T12:00:00)", NULL, utc(2028, 2, 29, 11, 59, 59)),
			 utc(2028, 2, 29, 12, 0, 0));
	assert_int_equal(next_err("at(2028-02-29T12:00:00)", NULL, utc(2028, 2, 29, 12, 0, 0)), -ENOENT);
	assert_int_equal(next_err("at(2028-02-29T12:00:00)", NULL, utc(2030, 1, 1, 0, 0, 0)), -ENOENT);
	/* Wall time in the zone: 09:00 EST is 14:00Z. */
	assert_int_equal(next("at(2027-01-15T09:00:00)", "America/New_York", 0),
			 utc(2027, 1, 15, 14, 0, 0));
	/* 02:30 does not exist in Berlin on 2027-03-28: moved later by the gap, to 03:30 CEST. */
	assert_int_equal(next("at(2027-03-28T02:30:00)", "Europe/Berlin", 0), 1806197400);
	/* 02:30 occurs twice on 2027-10-31: the first, 02:30 CEST = 00:30Z. */
	assert_int_equal(next("at(2027-10-31T02:30:00)", "Europe/Berlin", 0), 1824942600);
	assert_int_equal(next_err("at(2027-10-31T02:30:00)", "Europe/Berlin", 1824942600), -ENOENT);
}

/* -------------------------------------------------------------- next (UTC) */

static void test_next_utc(void **state)
{
	(void)state;
	/* 2026-11-28T13:00:00Z → 2026-11-29T12:00:00Z */
	assert_int_equal(next("cron(0 12 * * ? *)", NULL, 1795870800), 1795953600);
	/* Strictly after: a fire time is not its own successor. */
	assert_int_equal(next("cron(0 12 * * ? *)", NULL, 1795953600), 1795953600 + 86400);
	assert_int_equal(next("cron(0 12 * * ? *)", NULL, 1795953599), 1795953600);

	/* First Monday of the month: Feb 2026 starts on a Sunday → 2026-02-02T09:00Z. */
	assert_int_equal(next("cron(0 9 ? * 2#1 *)", NULL, utc(2026, 1, 6, 0, 0, 0)), 1770022800);
	assert_int_equal(next("cron(0 9 ? * MON#1 *)", NULL, utc(2026, 1, 6, 0, 0, 0)), 1770022800);
	/* Fifth Monday: none in Jan or Feb 2026; March 30. */
	assert_int_equal(next("cron(0 0 ? * 2#5 *)", NULL, utc(2026, 1, 1, 0, 0, 0)),
			 utc(2026, 3, 30, 0, 0, 0));

	/* Last day of February, leap and not. */
	assert_int_equal(next("cron(0 0 L * ? *)", NULL, utc(2028, 2, 1, 0, 0, 0)), 1835395200);
	assert_int_equal(next("cron(0 0 L * ? *)", NULL, utc(2027, 2, 1, 0, 0, 0)), 1803772800);
	assert_int_equal(next("cron(0 0 L 2 ? *)", NULL, utc(2028, 3, 1, 0, 0, 0)),
			 utc(2029, 2, 28, 0, 0, 0));
	assert_int_equal(next("cron(0 0 L 2 ? *)", NULL, utc(2099, 3, 1, 0, 0, 0)),
			 utc(2100, 2, 28, 0, 0, 0));

	/* Last Friday of each month of 2027, then nothing. */
	assert_int_equal(next("cron(15 10 ? * 6L 2027)", NULL, utc(2026, 6, 1, 0, 0, 0)), 1801217700);
	assert_int_equal(next("cron(15 10 ? * FRIL 2027)", NULL, 1801217700), utc(2027, 2, 26, 10, 15, 0));
	assert_int_equal(next("cron(15 10 ? * 6L 2027)", NULL, utc(2027, 12, 1, 0, 0, 0)), 1830248100);
	assert_int_equal(next_err("cron(15 10 ? * 6L 2027)", NULL, 1830248100), -ENOENT);

	/* Lone L in day-of-week is Saturday. */
	assert_int_equal(next("cron(0 0 ? * L *)", NULL, utc(2026, 11, 28, 0, 0, 0)),
			 utc(2026, 12, 5, 0, 0, 0));

	/* Nearest weekday: Aug 2026 — 1st and 15th are Saturdays. */
	assert_int_equal(next("cron(0 0 15W * ? *)", NULL, utc(2026, 8, 1, 0, 0, 0)),
			 utc(2026, 8, 14, 0, 0, 0));
	assert_int_equal(next("cron(0 0 1W * ? *)", NULL, utc(2026, 7, 31, 0, 0, 0)),
			 utc(2026, 8, 3, 0, 0, 0));     /* not back into July */
	/* Feb 2026: 15th is a Sunday → Monday 16th. */
	assert_int_equal(next("cron(0 0 15W * ? *)", NULL, utc(2026, 2, 1, 0, 0, 0)),
			 utc(2026, 2, 16, 0, 0, 0));
	/* Jan 2027: 31st is a Sunday → Friday 29th, not into February. */
	assert_int_equal(next("cron(0 0 31W * ? *)", NULL, utc(2027, 1, 1, 0, 0, 0)),
			 utc(2027, 1, 29, 0, 0, 0));
	/* 31W skips 30-day months: after Oct 2026 comes Dec 31 (a Thursday). */
	assert_int_equal(next("cron(0 0 31W * ? *)", NULL, utc(2026, 11, 1, 0, 0, 0)),
			 utc(2026, 12, 31, 0, 0, 0));
	/* Last weekday: May 2026 ends on a Sunday → Friday 29th; Feb 2026 on a Saturday → 27th. */
	assert_int_equal(next("cron(0 0 LW * ? *)", NULL, utc(2026, 5, 1, 0, 0, 0)),
			 utc(2026, 5, 29, 0, 0, 0));
	assert_int_equal(next("cron(0 0 LW * ? *)", NULL, utc(2026, 2, 1, 0, 0, 0)),
			 utc(2026, 2, 27, 0, 0, 0));

	/* Increments, ranges, lists, names. */
	assert_int_equal(next("cron(0/15 * * * ? *)", NULL, utc(2027, 1, 1, 10, 46, 0)),
			 utc(2027, 1, 1, 11, 0, 0));
	assert_int_equal(next("cron(1/10 * * * ? *)", NULL, utc(2027, 1, 1, 10, 51, 0)),
			 utc(2027, 1, 1, 11, 1, 0));
	assert_int_equal(next("cron(1/10 * * * ? *)", NULL, utc(2027, 1, 1, 10, 1, 0)),
			 utc(2027, 1, 1, 10, 11, 0));
	assert_int_equal(next("cron(0/15 * * * ? *)", NULL, utc(2027, 1, 1, 10, 1, 0)),
			 utc(2027, 1, 1, 10, 15, 0));
	assert_int_equal(next("cron(*/20 * * * ? *)", NULL, utc(2027, 1, 1, 10, 20, 0)),
			 utc(2027, 1, 1, 10, 40, 0));
	assert_int_equal(next("cron(0 0 1/10 * ? *)", NULL, utc(2027, 1, 21, 0, 0, 0)),
			 utc(2027, 1, 31, 0, 0, 0));
	assert_int_equal(next("cron(10-30/10 * * * ? *)", NULL, utc(2027, 1, 1, 10, 30, 0)),
			 utc(2027, 1, 1, 11, 10, 0));
	assert_int_equal(next("cron(0 18 ? * MON-FRI *)", NULL, utc(2027, 1, 1, 18, 0, 0)),
			 utc(2027, 1, 4, 18, 0, 0));   /* Fri → Mon */
	/* Wrapping ranges: FRI-MON is Fri, Sat, Sun, Mon; 22-2 is 22, 23, 0, 1, 2. */
	assert_int_equal(next("cron(0 12 ? * FRI-MON *)", NULL, utc(2027, 1, 4, 12, 0, 0)),
			 utc(2027, 1, 8, 12, 0, 0));   /* Mon → Fri */
	assert_int_equal(next("cron(0 22-2 * * ? *)", NULL, utc(2027, 1, 1, 2, 0, 0)),
			 utc(2027, 1, 1, 22, 0, 0));
	assert_int_equal(next("cron(0 22-2 * * ? *)", NULL, utc(2027, 1, 1, 23, 0, 0)),
			 utc(2027, 1, 2, 0, 0, 0));
	assert_int_equal(next("cron(0 8 1 jan,JUL ? *)", NULL, utc(2027, 1, 1, 8, 0, 0)),
			 utc(2027, 7, 1, 8, 0, 0));
	assert_int_equal(next("cron(0 8 1 NOV-FEB ? *)", NULL, utc(2027, 2, 1, 8, 0, 0)),
			 utc(2027, 11, 1, 8, 0, 0));
	assert_int_equal(next("cron(* * * * ? *)", NULL, utc(2027, 12, 31, 23, 59, 30)),
			 utc(2028, 1, 1, 0, 0, 0));

	/* Years: a list, an increment from 1970, and running out. */
	assert_int_equal(next("cron(0 0 1 1 ? 2030,2032)", NULL, utc(2030, 1, 1, 0, 0, 0)),
			 utc(2032, 1, 1, 0, 0, 0));
	/* 1970, 1977, … 2019, 2026, 2033 */
	assert_int_equal(next("cron(0 0 1 1 ? */7)", NULL, utc(2026, 6, 1, 0, 0, 0)),
			 utc(2033, 1, 1, 0, 0, 0));
	assert_int_equal(next("cron(0 0 1 1 ? */7)", NULL, utc(2025, 6, 1, 0, 0, 0)),
			 utc(2026, 1, 1, 0, 0, 0));
	assert_int_equal(next("cron(59 23 31 12 ? 2199)", NULL, 0), utc(2199, 12, 31, 23, 59, 0));
	assert_int_equal(next_err("cron(59 23 31 12 ? 2199)", NULL, utc(2199, 12, 31, 23, 59, 0)), -ENOENT);
	assert_int_equal(next_err("cron(0 0 1 1 ? 1980)", NULL, utc(2027, 1, 1, 0, 0, 0)), -ENOENT);
	/* Before 1970 the search starts at 1970. */
	assert_int_equal(next("cron(0 0 1 1 ? *)", NULL, -86400 * 400), 0);

	/* Dates that never occur end the search without looping. */
	assert_int_equal(next_err("cron(0 0 30 2 ? *)", NULL, 0), -ENOENT);
	assert_int_equal(next_err("cron(0 0 30W 2 ? *)", NULL, 0), -ENOENT);
	/* 29 February only in leap years. */
	assert_int_equal(next("cron(0 0 29 2 ? *)", NULL, utc(2096, 3, 1, 0, 0, 0)),
			 utc(2104, 2, 29, 0, 0, 0));
}

/* ------------------------------------------------------------ next (zones) */

static void test_next_berlin(void **state)
{
	(void)state;
	/* Spring forward 2027-03-28 02:00 CET → 03:00 CEST: 02:00 does not exist that day. */
	assert_int_equal(next("cron(0 2 * * ? *)", "Europe/Berlin", 1806109200), 1806278400);
	assert_int_equal(next("cron(0 2 * * ? *)", "Europe/Berlin", utc(2027, 3, 28, 0, 0, 0)),
			 1806278400);
	/* Every minute: 01:59 CET is followed by 03:00 CEST, one real minute later. */
	assert_int_equal(next("cron(* * * * ? *)", "Europe/Berlin", utc(2027, 3, 28, 0, 59, 0)),
			 utc(2027, 3, 28, 1, 0, 0));
	/* 03:00 on the spring-forward day is 01:00Z. */
	assert_int_equal(next("cron(0 3 * * ? *)", "Europe/Berlin", utc(2027, 3, 27, 12, 0, 0)),
			 utc(2027, 3, 28, 1, 0, 0));

	/* Fall back 2027-10-31 03:00 CEST → 02:00 CET: 02:00 fires once, at 02:00 CEST. */
	assert_int_equal(next("cron(0 2 * * ? *)", "Europe/Berlin", utc(2027, 10, 30, 12, 0, 0)),
			 1824940800);
	assert_int_equal(next("cron(0 2 * * ? *)", "Europe/Berlin", 1824940800), 1825030800);
	/* From inside the repeated hour (02:15 CET, second time round) 02:30 has already fired. */
	assert_int_equal(next("cron(30 2 * * ? *)", "Europe/Berlin", utc(2027, 10, 31, 1, 15, 0)),
			 1825032600);
	/* Half-hourly: after 02:30 CEST the repeated 02:00 and 02:30 CET are skipped. */
	assert_int_equal(next("cron(*/30 * * * ? *)", "Europe/Berlin", utc(2027, 10, 31, 0, 30, 0)),
			 utc(2027, 10, 31, 2, 0, 0));
	/* Noon local is 11:00Z in winter, 10:00Z in summer. */
	assert_int_equal(next("cron(0 12 * * ? *)", "Europe/Berlin", utc(2027, 1, 10, 0, 0, 0)),
			 utc(2027, 1, 10, 11, 0, 0));
	assert_int_equal(next("cron(0 12 * * ? *)", "Europe/Berlin", utc(2027, 7, 10, 0, 0, 0)),
			 utc(2027, 7, 10, 10, 0, 0));
	/* The local date decides the day: 00:30 Jan 1 CET is 23:30Z Dec 31. */
	assert_int_equal(next("cron(30 0 1 1 ? *)", "Europe/Berlin", utc(2027, 6, 1, 0, 0, 0)),
			 utc(2027, 12, 31, 23, 30, 0));
	/* Beyond the transition table the footer rule holds: 2150-03-29 is March's last Sunday. */
	assert_int_equal(next("cron(0 2 * * ? *)", "Europe/Berlin", utc(2150, 3, 28, 12, 0, 0)),
			 utc(2150, 3, 30, 0, 0, 0));
	assert_int_equal(next("cron(0 2 * * ? *)", "Europe/Berlin", utc(2150, 3, 27, 12, 0, 0)),
			 utc(2150, 3, 28, 1, 0, 0));
}

static void test_next_new_york(void **state)
{
	(void)state;
	/* 2027-03-14 02:30 does not exist in New York. */
	assert_int_equal(next("cron(30 2 * * ? *)", "America/New_York", utc(2027, 3, 13, 12, 0, 0)),
			 1805092200);
	/* 2027-11-07 01:30 occurs twice; it fires at the first (EDT, 05:30Z) only. */
	assert_int_equal(next("cron(30 1 * * ? *)", "America/New_York", utc(2027, 11, 6, 12, 0, 0)),
			 1825565400);
	assert_int_equal(next("cron(30 1 * * ? *)", "America/New_York", 1825565400), 1825655400);
	assert_int_equal(next("cron(30 1 * * ? *)", "America/New_York", 1825569000 - 1), 1825655400);
}

static void test_next_errors(void **state)
{
	struct schedule *s = parse_ok("cron(0 12 * * ? *)");
	int64_t t;

	(void)state;
	assert_int_equal(schedule_next(s, "Nowhere/Special", 0, 0, &t), -EINVAL);
	assert_int_equal(schedule_next(s, "../../etc/passwd", 0, 0, &t), -EINVAL);
	assert_int_equal(schedule_next(s, NULL, 0, SCHEDULE_EPOCH_LIMIT + 1, &t), -ERANGE);
	assert_int_equal(schedule_next(s, "UTC", 0, 1795870800, &t), 0);
	assert_int_equal(t, 1795953600);
	schedule_free(s);
}

/* ------------------------------------------------------------------- zones */

static void test_tz_valid(void **state)
{
	(void)state;
	assert_true(schedule_tz_valid("Europe/Berlin"));
	assert_true(schedule_tz_valid("America/Argentina/Buenos_Aires"));
	assert_true(schedule_tz_valid("UTC"));          /* a symlink to Etc/UTC */
	assert_true(schedule_tz_valid("Etc/GMT+5"));
	assert_true(schedule_tz_valid("America/Port-au-Prince"));
	assert_false(schedule_tz_valid(NULL));
	assert_false(schedule_tz_valid(""));
	assert_false(schedule_tz_valid("Europe"));      /* a directory */
	assert_false(schedule_tz_valid("Europe/"));
	assert_false(schedule_tz_valid("Europe//Berlin"));
	assert_false(schedule_tz_valid("/etc/localtime"));
	assert_false(schedule_tz_valid("../zoneinfo/UTC"));
	assert_false(schedule_tz_valid("Europe/../UTC"));
	assert_false(schedule_tz_valid("Europe/Ber..lin"));
	assert_false(schedule_tz_valid("./UTC"));
	assert_false(schedule_tz_valid("Europe/Berlin "));
	assert_false(schedule_tz_valid("Europe\\Berlin"));
	assert_false(schedule_tz_valid("Mars/Olympus_Mons"));
	assert_false(schedule_tz_valid("zone.tab"));    /* exists, but not TZif */
	assert_false(schedule_tz_valid("tzdata.zi"));
	assert_false(schedule_tz_valid("right/UTC"));   /* leap-second zone */

	struct schedule_zone *z = (struct schedule_zone *)1;

	assert_int_equal(schedule_zone_load("Mars/Olympus_Mons", &z), -ENOENT);
	assert_null(z);
	assert_int_equal(schedule_zone_load("..", &z), -EINVAL);
	assert_int_equal(schedule_zone_load("zone.tab", &z), -EINVAL);
}

/* Builds a TZif v2 file: a minimal v1 block, then the given transitions, types and footer. */
static size_t build_tzif(uint8_t *buf, size_t cap, size_t ntrans, const int64_t *trans,
			 const uint8_t *idx, size_t ntypes, const int32_t *offs, const char *footer)
{
	size_t n = 0;

#define PUT8(v) (buf[n++] = (uint8_t)(v))
#define PUT32(v) do { uint32_t v_ = (uint32_t)(v); PUT8(v_ >> 24); PUT8(v_ >> 16); PUT8(v_ >> 8); PUT8(v_); } while (0)
#define HEADER(timecnt, typecnt) do { \
		memcpy(buf + n, "TZif2", 5); n += 5; memset(buf + n, 0, 15); n += 15; \
		PUT32(0); PUT32(0); PUT32(0); PUT32(timecnt); PUT32(typecnt); PUT32(1); \
	} while (0)
	assert_true(cap >= 128 + ntrans * 9 + ntypes * 6 + strlen(footer));
	HEADER(0, 1);
	PUT32(0); PUT8(0); PUT8(0); PUT8(0);   /* v1: one type, one abbreviation byte */
	HEADER(ntrans, ntypes);
	for (size_t i = 0; i < ntrans; i++) {
		PUT32((uint64_t)trans[i] >> 32);
		PUT32(trans[i]);
	}
	for (size_t i = 0; i < ntrans; i++)
		PUT8(idx[i]);
	for (size_t i = 0; i < ntypes; i++) {
		PUT32(offs[i]);
		PUT8(0);
		PUT8(0);
	}
	PUT8(0);
	PUT8('\n');
	memcpy(buf + n, footer, strlen(footer));
	n += strlen(footer);
	PUT8('\n');
#undef HEADER
#undef PUT32
#undef PUT8
	return n;
}

static void test_zone_footer_only(void **state)
{
	static const int32_t offs[] = { 3600 };
	uint8_t buf[512];
	struct schedule_zone *z;
	struct schedule *s;
	int64_t t;

	(void)state;
	/* Berlin's rule with no transitions at all: every instant uses the footer. */
	size_t n = build_tzif(buf, sizeof(buf), 0, NULL, NULL, 1, offs, "CET-1CEST,M3.5.0,M10.5.0/3");

	assert_int_equal(schedule_zone_from_tzif(buf, n, &z), 0);
	assert_int_equal(schedule_zone_utc_offset(z, utc(2027, 1, 1, 0, 0, 0)), 3600);
	assert_int_equal(schedule_zone_utc_offset(z, utc(2027, 3, 28, 0, 59, 59)), 3600);
	assert_int_equal(schedule_zone_utc_offset(z, utc(2027, 3, 28, 1, 0, 0)), 7200);
	assert_int_equal(schedule_zone_utc_offset(z, utc(2027, 10, 31, 0, 59, 59)), 7200);
	assert_int_equal(schedule_zone_utc_offset(z, utc(2027, 10, 31, 1, 0, 0)), 3600);

	s = parse_ok("cron(0 2 * * ? *)");
	assert_int_equal(schedule_next_in_zone(s, z, 0, 1806109200, &t), 0);
	assert_int_equal(t, 1806278400);
	assert_int_equal(schedule_next_in_zone(s, z, 0, 1824940800, &t), 0);
	assert_int_equal(t, 1825030800);
	schedule_free(s);
	schedule_zone_free(z);

	/* Southern hemisphere, DST across the new year (Sydney). */
	static const int32_t syd[] = { 36000 };

	n = build_tzif(buf, sizeof(buf), 0, NULL, NULL, 1, syd, "AEST-10AEDT,M10.1.0,M4.1.0/3");
	assert_int_equal(schedule_zone_from_tzif(buf, n, &z), 0);
	assert_int_equal(schedule_zone_utc_offset(z, utc(2027, 1, 15, 0, 0, 0)), 39600);
	assert_int_equal(schedule_zone_utc_offset(z, utc(2027, 7, 15, 0, 0, 0)), 36000);
	/* 2027-10-03 02:00 AEST → 03:00 AEDT (16:00Z Oct 2). */
	assert_int_equal(schedule_zone_utc_offset(z, utc(2027, 10, 2, 15, 59, 59)), 36000);
	assert_int_equal(schedule_zone_utc_offset(z, utc(2027, 10, 2, 16, 0, 0)), 39600);
	schedule_zone_free(z);

	/* A fixed offset, and Julian-day rules. */
	static const int32_t ist[] = { 19800 };

	n = build_tzif(buf, sizeof(buf), 0, NULL, NULL, 1, ist, "IST-5:30");
	assert_int_equal(schedule_zone_from_tzif(buf, n, &z), 0);
	assert_int_equal(schedule_zone_utc_offset(z, utc(2100, 6, 1, 0, 0, 0)), 19800);
	s = parse_ok("at(2027-01-01T05:30:00)");
	assert_int_equal(schedule_next_in_zone(s, z, 0, 0, &t), 0);
	assert_int_equal(t, utc(2027, 1, 1, 0, 0, 0));
	schedule_free(s);
	schedule_zone_free(z);

	/* J60 is always 1 March; the plain 59 is 1 March only in leap years. */
	n = build_tzif(buf, sizeof(buf), 0, NULL, NULL, 1, offs, "<+01>-1<+02>,J60/0,J300/0");
	assert_int_equal(schedule_zone_from_tzif(buf, n, &z), 0);
	assert_int_equal(schedule_zone_utc_offset(z, utc(2028, 2, 29, 22, 59, 59)), 3600);
	assert_int_equal(schedule_zone_utc_offset(z, utc(2028, 2, 29, 23, 0, 0)), 7200);
	schedule_zone_free(z);
	n = build_tzif(buf, sizeof(buf), 0, NULL, NULL, 1, offs, "<+01>-1<+02>,59/0,300/0");
	assert_int_equal(schedule_zone_from_tzif(buf, n, &z), 0);
	assert_int_equal(schedule_zone_utc_offset(z, utc(2028, 2, 28, 22, 59, 59)), 3600);
	assert_int_equal(schedule_zone_utc_offset(z, utc(2028, 2, 28, 23, 0, 0)), 7200);
	assert_int_equal(schedule_zone_utc_offset(z, utc(2027, 2, 28, 23, 0, 0)), 7200);  /* = 1 Mar 00:00 */
	assert_int_equal(schedule_zone_utc_offset(z, utc(2027, 2, 28, 22, 59, 59)), 3600);
	schedule_zone_free(z);
}

static void test_zone_transitions(void **state)
{
	/* Three explicit changes, then a footer that never applies DST. */
	static const int64_t trans[] = { 1000000, 2000000, 3000000 };
	static const uint8_t idx[] = { 1, 0, 2 };
	static const int32_t offs[] = { 0, 3600, -18000 };
	uint8_t buf[512];
	struct schedule_zone *z;

	(void)state;
	size_t n = build_tzif(buf, sizeof(buf), 3, trans, idx, 3, offs, "<-05>5");

	assert_int_equal(schedule_zone_from_tzif(buf, n, &z), 0);
	assert_int_equal(schedule_zone_utc_offset(z, 0), 0);           /* before: type 0 */
	assert_int_equal(schedule_zone_utc_offset(z, 999999), 0);
	assert_int_equal(schedule_zone_utc_offset(z, 1000000), 3600);
	assert_int_equal(schedule_zone_utc_offset(z, 1999999), 3600);
	assert_int_equal(schedule_zone_utc_offset(z, 2000000), 0);
	assert_int_equal(schedule_zone_utc_offset(z, 3000000), -18000);
	assert_int_equal(schedule_zone_utc_offset(z, INT64_C(5000000000)), -18000);
	assert_int_equal(schedule_zone_utc_offset(NULL, 12345), 0);
	schedule_zone_free(z);

	/* An empty footer: the last transition's type holds for ever. */
	n = build_tzif(buf, sizeof(buf), 2, trans, idx, 3, offs, "");
	assert_int_equal(schedule_zone_from_tzif(buf, n, &z), 0);
	assert_int_equal(schedule_zone_utc_offset(z, INT64_C(5000000000)), 0);
	schedule_zone_free(z);
}

static void test_zone_malformed(void **state)
{
	static const int64_t trans[] = { 1000000, 2000000 };
	static const int64_t unsorted[] = { 2000000, 1000000 };
	static const uint8_t idx[] = { 0, 1 };
	static const uint8_t bad_idx[] = { 0, 7 };
	static const int32_t offs[] = { 0, 3600 };
	static const int32_t huge[] = { 0, 30 * 3600 };
	uint8_t buf[512];
	struct schedule_zone *z = (struct schedule_zone *)1;
	size_t n;

	(void)state;
	n = build_tzif(buf, sizeof(buf), 2, trans, idx, 2, offs, "CET-1CEST,M3.5.0,M10.5.0/3");
	assert_int_equal(schedule_zone_from_tzif(buf, n, &z), 0);
	schedule_zone_free(z);
	/* Every truncation is refused (the last byte is the footer's newline). */
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(schedule_zone_from_tzif(buf, k, &z), -EINVAL);
		assert_null(z);
	}
	buf[0] = 'X';
	assert_int_equal(schedule_zone_from_tzif(buf, n, &z), -EINVAL);

	n = build_tzif(buf, sizeof(buf), 2, trans, bad_idx, 2, offs, "");
	assert_int_equal(schedule_zone_from_tzif(buf, n, &z), -EINVAL);
	n = build_tzif(buf, sizeof(buf), 2, unsorted, idx, 2, offs, "");
	assert_int_equal(schedule_zone_from_tzif(buf, n, &z), -EINVAL);
	n = build_tzif(buf, sizeof(buf), 2, trans, idx, 2, huge, "");
	assert_int_equal(schedule_zone_from_tzif(buf, n, &z), -EINVAL);
	n = build_tzif(buf, sizeof(buf), 2, trans, idx, 0, offs, "");
	assert_int_equal(schedule_zone_from_tzif(buf, n, &z), -EINVAL);

	static const char *const footers[] = {
		"CET", "CET-1CEST", "CET-1CEST,M3.5.0", "CET-1CEST,M13.5.0,M10.5.0",
		"CET-1CEST,M3.6.0,M10.5.0", "CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,M3.5.0,M10.5.0/168",
		"CE-1", "<C>-1", "CET-25", "CET-1CEST,J0,J100", "CET-1CEST,366,100",
		"CET-1CEST,M3.5.0,M10.5.0x", "CET-1:60",
	};

	for (size_t i = 0; i < sizeof(footers) / sizeof(footers[0]); i++) {
		n = build_tzif(buf, sizeof(buf), 0, NULL, NULL, 1, offs, footers[i]);
		if (schedule_zone_from_tzif(buf, n, &z) != -EINVAL)
			fail_msg("footer \"%s\" accepted", footers[i]);
	}
	/* Not malformed: explicit DST offsets, negative and >24 h times, signed offsets. */
	static const char *const good[] = {
		"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "<-04>4<-03>,M9.1.6/24,M4.1.6/24",
		"IST-1GMT0,M10.5.0,M3.5.0/1", "<+00>0<+02>-2,M3.5.0/1,M10.5.0/3",
		"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", "EST+5EDT,M3.2.0/2:00:00,M11.1.0/2:00:00",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		n = build_tzif(buf, sizeof(buf), 0, NULL, NULL, 1, offs, good[i]);
		if (schedule_zone_from_tzif(buf, n, &z) != 0)
			fail_msg("footer \"%s\" refused", good[i]);
		schedule_zone_free(z);
	}
}

static void check_offset(const struct schedule_zone *z, const char *name, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	assert_non_null(localtime_r(&tt, &tm));
	if (schedule_zone_utc_offset(z, t) != tm.tm_gmtoff)
		fail_msg("%s at %lld: %d, libc %ld", name, (long long)t,
			 (int)schedule_zone_utc_offset(z, t), (long)tm.tm_gmtoff);
}

/* Real zones' TZif files (transitions and footers) against glibc's reading of them. */
static void test_zone_matches_libc(void **state)
{
	static const char *const zones[] = {
		"Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Sao_Paulo",
		"Asia/Kolkata", "Pacific/Apia", "America/Nuuk", "Africa/Casablanca",
		"Europe/Dublin", "Antarctica/Troll", "Australia/Lord_Howe", "America/Santiago",
		"Asia/Tehran", "Pacific/Chatham", "UTC",
	};
	const int64_t end = utc(2199, 12, 31, 0, 0, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		struct schedule_zone *z;
		char tzvar[64];

		assert_int_equal(schedule_zone_load(zones[i], &z), 0);
		snprintf(tzvar, sizeof(tzvar), ":%s", zones[i]);
		setenv("TZ", tzvar, 1);
		tzset();
		/* A step that is not a multiple of an hour or a day walks through every
		 * phase; then densely through 2027 (the transition table) and 2150 (the
		 * footer rule). */
		for (int64_t t = 0; t < end; t += 86400 * 2 + 3607)
			check_offset(z, zones[i], t);
		for (int64_t t = utc(2027, 1, 1, 0, 0, 0); t < utc(2028, 1, 1, 0, 0, 0); t += 1799)
			check_offset(z, zones[i], t);
		for (int64_t t = utc(2150, 1, 1, 0, 0, 0); t < utc(2151, 1, 1, 0, 0, 0); t += 1799)
			check_offset(z, zones[i], t);
		schedule_zone_free(z);
	}
	unsetenv("TZ");
	tzset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_valid),
		cmocka_unit_test(test_rate_errors),
		cmocka_unit_test(test_rate_anchor),
		cmocka_unit_test(test_envelope_errors),
		cmocka_unit_test(test_cron_valid),
		cmocka_unit_test(test_cron_errors),
		cmocka_unit_test(test_cron_list_limit),
		cmocka_unit_test(test_at_parse),
		cmocka_unit_test(test_at_next),
		cmocka_unit_test(test_next_utc),
		cmocka_unit_test(test_next_berlin),
		cmocka_unit_test(test_next_new_york),
		cmocka_unit_test(test_next_errors),
		cmocka_unit_test(test_tz_valid),
		cmocka_unit_test(test_zone_footer_only),
		cmocka_unit_test(test_zone_transitions),
		cmocka_unit_test(test_zone_malformed),
		cmocka_unit_test(test_zone_matches_libc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
