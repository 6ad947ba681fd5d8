/*
 * test_schedule_source.c — the schedule source's pure parts: a rule's fire
 * times within StartDate/EndDate, the FlexibleTimeWindow delay, the missed
 * times after downtime and what each CatchUp does about them
 * (sources/schedule_plan.c), and the state file read back
 * (sources/schedule_state.c). Times are written out by hand.
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
#include <unistd.h>

#include "calendar.h"
#include "schedule.h"
#include "schedule_internal.h"

#define T0 1796601600   /* 2026-12-07T00:00:00Z, a Monday */

static int64_t ring[SCHEDULE_CATCH_UP_MAX + 1];

struct fixture {
	struct schedule *sched;
	struct schedule_zone *zone;
	struct sched_rule r;
};

static void setup(struct fixture *f, const char *expr, const char *tz, int64_t anchor)
{
	static char name[] = "r";
	char err[256];

	memset(f, 0, sizeof(*f));
	assert_int_equal(schedule_parse(expr, strlen(expr), &f->sched, err, sizeof(err)), 0);
	if (tz)
		assert_int_equal(schedule_zone_load(tz, &f->zone), 0);
	f->r.name = name;
	f->r.sched = f->sched;
	f->r.zone = f->zone;
	f->r.anchor = f->r.handled = anchor;
	f->r.last_fire = SCHED_NONE;
}

static void teardown(struct fixture *f)
{
	schedule_free(f->sched);
	schedule_zone_free(f->zone);
}

static void test_fixed_epoch(void **state)
{
	(void)state;
	assert_int_equal(calendar_days_from_civil(2026, 12, 7) * 86400, T0);
}

static void test_next_within_dates(void **state)
{
	struct fixture f;

	(void)state;
	setup(&f, "rate(1 hour)", NULL, T0 + 600);
	assert_int_equal(sched_next_after(&f.r, T0 + 600), T0 + 4200);   /* k >= 1 */
	f.r.has_start = true;
	f.r.start_date = T0 + 3 * 3600;                                   /* inclusive */
	assert_int_equal(sched_next_after(&f.r, T0 + 600), T0 + 3 * 3600 + 600);
	f.r.start_date = T0 + 3 * 3600 + 600;
	assert_int_equal(sched_next_after(&f.r, T0 + 600), T0 + 3 * 3600 + 600);
	f.r.has_end = true;
	f.r.end_date = T0 + 4 * 3600 + 600;                               /* inclusive */
	assert_int_equal(sched_next_after(&f.r, T0 + 3 * 3600 + 600), T0 + 4 * 3600 + 600);
	assert_int_equal(sched_next_after(&f.r, T0 + 4 * 3600 + 600), SCHED_NONE);
	teardown(&f);

	setup(&f, "at(2026-12-07T09:00:00)", "America/New_York", T0);
	assert_int_equal(sched_next_after(&f.r, T0), T0 + 14 * 3600);     /* 09:00 EST = 14:00Z */
	assert_int_equal(sched_next_after(&f.r, T0 + 14 * 3600), SCHED_NONE);
	teardown(&f);
}

static void test_flex_offset(void **state)
{
	(void)state;
	assert_int_equal(sched_flex_offset("any", 0), 0);
	for (uint32_t w = 1; w <= 1440; w += 37) {
		uint32_t o = sched_flex_offset("nightly-report", w);
		assert_true(o < w * 60);
		assert_int_equal(o, sched_flex_offset("nightly-report", w));   /* deterministic */
	}
	/* names spread over the window */
	uint32_t lo = UINT32_MAX, hi = 0;
	for (int i = 0; i < 100; i++) {
		char name[16];
		snprintf(name, sizeof(name), "rule-%d", i);
		uint32_t o = sched_flex_offset(name, 15);
		lo = o < lo ? o : lo;
		hi = o > hi ? o : hi;
	}
	assert_true(lo < 120 && hi > 780);
}

static void test_missed_rate(void **state)
{
	struct fixture f;
	struct sched_missed m;

	(void)state;
	setup(&f, "rate(5 minutes)", NULL, T0);
	sched_missed(&f.r, T0, T0 + 3000, 3, ring, &m);                  /* T0+300 … T0+3000 */
	assert_int_equal(m.n, 10);
	assert_int_equal(m.latest, T0 + 3000);
	assert_int_equal(m.keep_after, T0 + 2100);                        /* 2400, 2700, 3000 kept */
	assert_false(m.capped);
	sched_missed(&f.r, T0 + 300, T0 + 599, 3, ring, &m);
	assert_int_equal(m.n, 0);
	assert_int_equal(m.latest, SCHED_NONE);
	f.r.has_end = true;
	f.r.end_date = T0 + 1000;
	sched_missed(&f.r, T0, T0 + 3000, 1, ring, &m);
	assert_int_equal(m.n, 3);
	assert_int_equal(m.latest, T0 + 900);
	teardown(&f);
}

static void test_missed_cron_and_its_cap(void **state)
{
	struct fixture f;
	struct sched_missed m;

	(void)state;
	setup(&f, "cron(0 9 ? * MON-FRI *)", NULL, T0);
	sched_missed(&f.r, T0, T0 + 14 * 86400, 2, ring, &m);            /* two working weeks */
	assert_int_equal(m.n, 10);
	assert_int_equal(m.latest, T0 + 11 * 86400 + 9 * 3600);           /* Friday 18th */
	assert_int_equal(m.keep_after, T0 + 9 * 86400 + 9 * 3600);        /* Wed 16th: Thu, Fri kept */
	teardown(&f);

	/* a minute cron over 300 days: counted up to the cap, then the last
	 * SCHEDULE_SCAN_MAX minutes before cut; the kept times are exact */
	setup(&f, "cron(* * * * ? *)", NULL, T0);
	int64_t cut = T0 + 300 * 86400;
	sched_missed(&f.r, T0, cut, SCHEDULE_CATCH_UP_MAX, ring, &m);
	assert_true(m.capped);
	assert_true(m.n >= SCHEDULE_SCAN_MAX && m.n < 300 * 1440);
	assert_int_equal(m.latest, cut);
	assert_int_equal(m.keep_after, cut - 60 * SCHEDULE_CATCH_UP_MAX);
	teardown(&f);
}

static void test_catch_up_modes(void **state)
{
	struct fixture f;
	struct sched_catch_up c;
	int64_t cut = T0 + 3000 + 150;   /* ten rate(5 minutes) times missed */

	(void)state;
	setup(&f, "rate(5 minutes)", NULL, T0);
	sched_catch_up(&f.r, cut, ring, &c);                              /* NONE */
	assert_int_equal(c.skipped, 10);
	assert_string_equal(c.reason, "catch_up_none");
	assert_int_equal(f.r.handled, cut);
	assert_int_equal(f.r.next, T0 + 3300);
	assert_false(f.r.catching_up);

	f.r.handled = T0;
	f.r.catch_up = RULE_CATCH_UP_LATEST;
	sched_catch_up(&f.r, cut, ring, &c);
	assert_int_equal(c.skipped, 9);
	assert_string_equal(c.reason, "catch_up_latest");
	assert_int_equal(f.r.next, T0 + 3000);
	assert_int_equal(sched_next_after(&f.r, f.r.handled), T0 + 3000);
	assert_true(f.r.catching_up);

	f.r.handled = T0;
	f.r.catch_up = RULE_CATCH_UP_ALL;
	sched_catch_up(&f.r, cut, ring, &c);
	assert_int_equal(c.skipped, 0);
	assert_int_equal(f.r.next, T0 + 300);
	assert_true(f.r.catching_up);
	assert_int_equal(f.r.cut, cut);

	/* ALL keeps the latest SCHEDULE_CATCH_UP_MAX */
	f.r.handled = T0;
	cut = T0 + 300 * (SCHEDULE_CATCH_UP_MAX + 10);
	sched_catch_up(&f.r, cut, ring, &c);
	assert_int_equal(c.skipped, 10);
	assert_string_equal(c.reason, "catch_up_bound");
	assert_int_equal(f.r.next, T0 + 300 * 11);

	/* nothing missed: a rule anchored now */
	f.r.anchor = f.r.handled = T0 + 1000;
	sched_catch_up(&f.r, T0 + 999, ring, &c);
	assert_int_equal(c.skipped, 0);
	assert_int_equal(f.r.next, T0 + 1300);
	assert_false(f.r.catching_up);
	teardown(&f);
}

static void test_dst_fires(void **state)
{
	struct fixture f;
	struct sched_missed m;

	(void)state;
	/* 02:30 every day in New York: 2027-03-14 springs forward, skipped */
	setup(&f, "cron(30 2 * * ? *)", "America/New_York", T0);
	int64_t mar13 = calendar_days_from_civil(2027, 3, 13) * 86400;
	sched_missed(&f.r, mar13, mar13 + 3 * 86400, 5, ring, &m);
	assert_int_equal(m.n, 2);                                         /* 13th … 15th, not the 14th */
	assert_int_equal(sched_next_after(&f.r, mar13), mar13 + 7 * 3600 + 1800);          /* EST */
	assert_int_equal(sched_next_after(&f.r, mar13 + 86400), mar13 + 2 * 86400 + 6 * 3600 + 1800); /* EDT */
	teardown(&f);
}

static void test_state_round_trip(void **state)
{
	char dir[] = "/tmp/test_schedule_source.XXXXXX", path[64], err[256];
	char na[] = "a", ea[] = "rate(1 minute)", nb[] = "b.x-y_z", eb[] = "cron(0 12 ? * MON#1 *)";
	struct sched_rule a = {.name = na, .expr = ea, .anchor = T0, .handled = T0 + 120, .last_fire = T0 + 120};
	struct sched_rule b = {.name = nb, .expr = eb, .anchor = T0 + 5, .handled = T0 + 5, .last_fire = SCHED_NONE};
	struct sched_rule *v[] = {&a, &b};
	struct strmap map = STRMAP_INIT;
	char *text;
	size_t len;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(sched_state_load(path, &map, err, sizeof(err)), 0);   /* none yet */
	assert_int_equal(map.n, 0);
	/* the times as RFC 3339 text, by the renderer's own formatter */
	char nc[] = "c";
	struct sched_rule c = {.name = nc, .expr = ea, .anchor = 0,
			       .handled = calendar_days_from_civil(2028, 2, 29) * 86400 + 86399,
			       .last_fire = calendar_days_from_civil(2199, 12, 31) * 86400 + 3600 + 62};
	struct sched_rule *vc[] = {&c};
	assert_int_equal(sched_state_render(vc, 1, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, "\"anchor\":\"1970-01-01T00:00:00Z\""));
	assert_non_null(strstr(text, "\"handled\":\"2028-02-29T23:59:59Z\""));
	assert_non_null(strstr(text, "\"last_fire\":\"2199-12-31T01:01:02Z\""));
	free(text);

	assert_int_equal(sched_state_render(v, 2, &text, &len), 0);
	assert_non_null(fp = fopen(path, "w"));
	fwrite(text, 1, len, fp);
	fclose(fp);
	free(text);
	assert_int_equal(sched_state_load(path, &map, err, sizeof(err)), 0);
	assert_int_equal(map.n, 2);
	struct sched_saved *e = strmap_entry(strmap_find(&map, "b.x-y_z"), struct sched_saved, node);
	assert_string_equal(e->expr, "cron(0 12 ? * MON#1 *)");
	assert_int_equal(e->anchor, T0 + 5);
	assert_int_equal(e->last_fire, SCHED_NONE);
	e = strmap_entry(strmap_find(&map, "a"), struct sched_saved, node);
	assert_int_equal(e->handled, T0 + 120);
	assert_int_equal(e->last_fire, T0 + 120);
	sched_state_free(&map);

	/* handled defaults to last_fire, else the anchor; never before the anchor */
	static const char *const cases[][2] = {
		{"{\"version\":1,\"rules\":{\"r\":{\"expression\":\"rate(1 minute)\",\"anchor\":\"2026-12-07T00:00:00Z\"}}}",
		 "0"},
		{"{\"version\":1,\"rules\":{\"r\":{\"expression\":\"rate(1 minute)\",\"anchor\":\"2026-12-07T01:00:00+01:00\","
		 "\"last_fire\":\"2026-12-07T00:05:00Z\"}}}", "300"},
		{"{\"version\":1,\"rules\":{\"r\":{\"expression\":\"rate(1 minute)\",\"anchor\":\"2026-12-07T00:00:00Z\","
		 "\"handled\":\"2026-12-06T00:00:00Z\"}}}", "0"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_non_null(fp = fopen(path, "w"));
		fputs(cases[i][0], fp);
		fclose(fp);
		assert_int_equal(sched_state_load(path, &map, err, sizeof(err)), 0);
		e = strmap_entry(strmap_find(&map, "r"), struct sched_saved, node);
		assert_int_equal(e->anchor, T0);
		assert_int_equal(e->handled, T0 + atoi(cases[i][1]));
		sched_state_free(&map);
	}

	static const char *const bad[] = {
		"", "[]", "{\"version\":2,\"rules\":{}}", "{\"version\":1}",
		"{\"version\":1,\"rules\":{\"r\":{\"anchor\":\"2026-12-07T00:00:00Z\"}}}",
		"{\"version\":1,\"rules\":{\"r\":{\"expression\":\"rate(1 minute)\"}}}",
		"{\"version\":1,\"rules\":{\"r\":{\"expression\":\"rate(1 minute)\",\"anchor\":\"2026-12-07\",\"last_fire\":5}}}",
		"{\"version\":1,\"rules\":{\"r\":1}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_non_null(fp = fopen(path, "w"));
		fputs(bad[i], fp);
		fclose(fp);
		err[0] = '\0';
		assert_int_equal(sched_state_load(path, &map, err, sizeof(err)), -EINVAL);
		assert_true(err[0] != '\0');
		assert_int_equal(map.n, 0);
	}
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_epoch),
		cmocka_unit_test(test_next_within_dates),
		cmocka_unit_test(test_flex_offset),
		cmocka_unit_test(test_missed_rate),
		cmocka_unit_test(test_missed_cron_and_its_cap),
		cmocka_unit_test(test_catch_up_modes),
		cmocka_unit_test(test_dst_fires),
		cmocka_unit_test(test_state_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
