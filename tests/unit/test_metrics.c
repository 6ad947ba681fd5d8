/*
 * test_metrics.c — the Prometheus registry: counters, gauges and histograms
 * with and without labels rendered as exact text, label and help escaping,
 * number formatting, render callbacks, re-registration, refused
 * registrations, clearing a family, the per-family series bound and NULL safety.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define DROPPED(n)                                                                                   \
	"# HELP tripline_metrics_series_dropped_total Series not stored: past a family's limit of "  \
	"series, or label values too long.\n"                                                        \
	"# TYPE tripline_metrics_series_dropped_total counter\n"                                     \
	"tripline_metrics_series_dropped_total " #n "\n"

/* The registry's text; the caller frees it. */
static char *render(struct metrics *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(metrics_render(m, f), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void assert_text(struct metrics *m, const char *want)
{
	char *got = render(m);
	assert_string_equal(got, want);
	free(got);
}

static void test_empty(void **state)
{
	struct metrics *m = metrics_new();

	(void)state;
	assert_text(m, DROPPED(0));
	metrics_free(m);
}

static void test_counter_and_gauge(void **state)
{
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(m, "tripline_x_total", "Things done.", NULL);
	struct metric *g = metrics_gauge(m, "tripline_y", "Things open.", "kind");

	(void)state;
	assert_non_null(c);
	assert_non_null(g);
	metric_add(c, NULL, 2);
	metric_add(c, NULL, 3);
	metric_add(c, NULL, -1);        /* a counter never goes down */
	metric_add(c, NULL, (double)NAN);
	metric_set(g, (const char *[]){"offered"}, 4096);
	metric_set(g, (const char *[]){"reserved"}, 512);
	metric_add(g, (const char *[]){"reserved"}, -12);
	metric_add(g, (const char *[]){"offered"}, 0.5);
	assert_text(m, "# HELP tripline_x_total Things done.\n"
		       "# TYPE tripline_x_total counter\n"
		       "tripline_x_total 5\n"
		       "# HELP tripline_y Things open.\n"
		       "# TYPE tripline_y gauge\n"
		       "tripline_y{kind=\"offered\"} 4096.5\n"
		       "tripline_y{kind=\"reserved\"} 500\n" DROPPED(0));
	/* a counter may be set: it mirrors a count its module keeps */
	metric_set(c, NULL, 1234567890123);
	metric_observe(c, NULL, 1);     /* not a histogram: nothing */
	assert_text(m, "# HELP tripline_x_total Things done.\n"
		       "# TYPE tripline_x_total counter\n"
		       "tripline_x_total 1234567890123\n"
		       "# HELP tripline_y Things open.\n"
		       "# TYPE tripline_y gauge\n"
		       "tripline_y{kind=\"offered\"} 4096.5\n"
		       "tripline_y{kind=\"reserved\"} 500\n" DROPPED(0));
	metrics_free(m);
}

/* several labels, series in creation order, touch, and a family with no
 * series yet (HELP and TYPE only) */
static void test_labels_and_order(void **state)
{
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(m, "tripline_target_invocations_total", "Invocations.",
					   "rule,target,result");
	struct metric *e = metrics_counter(m, "tripline_empty_total", "None yet.", "reason");

	(void)state;
	assert_non_null(e);
	metric_add(c, (const char *[]){"b", "t1", "success"}, 1);
	metric_touch(c, (const char *[]){"a", "t1", "failed"});
	metric_add(c, (const char *[]){"b", "t1", "success"}, 1);
	metric_add(c, (const char *[]){"a", "t1", "success"}, 7);
	metric_add(c, (const char *[]){"a", NULL, "success"}, 1);   /* NULL is "" */
	assert_text(m, "# HELP tripline_target_invocations_total Invocations.\n"
		       "# TYPE tripline_target_invocations_total counter\n"
		       "tripline_target_invocations_total{rule=\"b\",target=\"t1\",result=\"success\"} 2\n"
		       "tripline_target_invocations_total{rule=\"a\",target=\"t1\",result=\"failed\"} 0\n"
		       "tripline_target_invocations_total{rule=\"a\",target=\"t1\",result=\"success\"} 7\n"
		       "tripline_target_invocations_total{rule=\"a\",target=\"\",result=\"success\"} 1\n"
		       "# HELP tripline_empty_total None yet.\n"
		       "# TYPE tripline_empty_total counter\n" DROPPED(0));
	metrics_free(m);
}

/* values that differ only where a naive key would join them are distinct */
static void test_keys_distinct(void **state)
{
	struct metrics *m = metrics_new();
	struct metric *g = metrics_gauge(m, "g", NULL, "a,b");

	(void)state;
	metric_set(g, (const char *[]){"ab", ""}, 1);
	metric_set(g, (const char *[]){"a", "b"}, 2);
	metric_set(g, (const char *[]){"", "ab"}, 3);
	metric_set(g, (const char *[]){"a", "b"}, 4);
	assert_text(m, "# TYPE g gauge\n"
		       "g{a=\"ab\",b=\"\"} 1\n"
		       "g{a=\"a\",b=\"b\"} 4\n"
		       "g{a=\"\",b=\"ab\"} 3\n" DROPPED(0));
	metrics_free(m);
}

static void test_escaping(void **state)
{
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(m, "tripline_events_total", "Events by \"bus\"\\source,\nput.",
					   "bus,source");

	(void)state;
	metric_add(c, (const char *[]){"default", "my\"app\\x\ny"}, 1);
	metric_add(c, (const char *[]){"dé{}=,", "a b"}, 1);
	assert_text(m, "# HELP tripline_events_total Events by \"bus\"\\\\source,\\nput.\n"
		       "# TYPE tripline_events_total counter\n"
		       "tripline_events_total{bus=\"default\",source=\"my\\\"app\\\\x\\ny\"} 1\n"
		       "tripline_events_total{bus=\"dé{}=,\",source=\"a b\"} 1\n" DROPPED(0));
	metrics_free(m);
}

/* le printed as the daemon always did (%g), cumulative buckets, +Inf, _sum
 * and _count, with and without labels */
static void test_histogram(void **state)
{
	static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
	struct metrics *m = metrics_new();
	struct metric *h = metrics_histogram(m, "tripline_task_launch_seconds", "From RunTask to RUNNING.", NULL,
					     bounds, sizeof(bounds) / sizeof(bounds[0]));

	(void)state;
	assert_non_null(h);
	metric_observe(h, NULL, 0.001);   /* on a bound: that bucket (le is <=) */
	metric_observe(h, NULL, 0.02);
	metric_observe(h, NULL, 0.75);
	metric_observe(h, NULL, 9);
	metric_observe(h, NULL, (double)NAN);     /* ignored */
	metric_add(h, NULL, 1);           /* not a counter: nothing */
	metric_set(h, NULL, 1);
	assert_text(m, "# HELP tripline_task_launch_seconds From RunTask to RUNNING.\n"
		       "# TYPE tripline_task_launch_seconds histogram\n"
		       "tripline_task_launch_seconds_bucket{le=\"0.001\"} 1\n"
		       "tripline_task_launch_seconds_bucket{le=\"0.0025\"} 1\n"
		       "tripline_task_launch_seconds_bucket{le=\"0.005\"} 1\n"
		       "tripline_task_launch_seconds_bucket{le=\"0.01\"} 1\n"
		       "tripline_task_launch_seconds_bucket{le=\"0.025\"} 2\n"
		       "tripline_task_launch_seconds_bucket{le=\"0.05\"} 2\n"
		       "tripline_task_launch_seconds_bucket{le=\"0.1\"} 2\n"
		       "tripline_task_launch_seconds_bucket{le=\"0.25\"} 2\n"
		       "tripline_task_launch_seconds_bucket{le=\"0.5\"} 2\n"
		       "tripline_task_launch_seconds_bucket{le=\"1\"} 3\n"
		       "tripline_task_launch_seconds_bucket{le=\"2.5\"} 3\n"
		       "tripline_task_launch_seconds_bucket{le=\"5\"} 3\n"
		       "tripline_task_launch_seconds_bucket{le=\"+Inf\"} 4\n"
		       "tripline_task_launch_seconds_sum 9.771\n"
		       "tripline_task_launch_seconds_count 4\n" DROPPED(0));
	metrics_free(m);

	static const double b2[] = {0.5, 1000000, 1234567.5};
	m = metrics_new();
	h = metrics_histogram(m, "lat", NULL, "rule", b2, 3);
	metric_touch(h, (const char *[]){"r\"1"});
	metric_observe(h, (const char *[]){"r2"}, 2);
	assert_text(m, "# TYPE lat histogram\n"
		       "lat_bucket{rule=\"r\\\"1\",le=\"0.5\"} 0\n"
		       "lat_bucket{rule=\"r\\\"1\",le=\"1e+06\"} 0\n"
		       "lat_bucket{rule=\"r\\\"1\",le=\"1234567.5\"} 0\n"
		       "lat_bucket{rule=\"r\\\"1\",le=\"+Inf\"} 0\n"
		       "lat_sum{rule=\"r\\\"1\"} 0\n"
		       "lat_count{rule=\"r\\\"1\"} 0\n"
		       "lat_bucket{rule=\"r2\",le=\"0.5\"} 0\n"
		       "lat_bucket{rule=\"r2\",le=\"1e+06\"} 1\n"
		       "lat_bucket{rule=\"r2\",le=\"1234567.5\"} 1\n"
		       "lat_bucket{rule=\"r2\",le=\"+Inf\"} 1\n"
		       "lat_sum{rule=\"r2\"} 2\n"
		       "lat_count{rule=\"r2\"} 1\n" DROPPED(0));
	metrics_free(m);
}

static void test_numbers(void **state)
{
	struct metrics *m = metrics_new();
	struct metric *g = metrics_gauge(m, "n", NULL, "v");

	(void)state;
	metric_set(g, (const char *[]){"a"}, 0.1);
	metric_set(g, (const char *[]){"b"}, -0.0);
	metric_set(g, (const char *[]){"c"}, 1.0 / 3);
	metric_set(g, (const char *[]){"d"}, (double)INFINITY);
	metric_set(g, (const char *[]){"e"}, -(double)INFINITY);
	metric_set(g, (const char *[]){"f"}, (double)NAN);
	metric_set(g, (const char *[]){"g"}, -42);
	metric_set(g, (const char *[]){"h"}, 1e300);
	metric_set(g, (const char *[]){"i"}, 1.5e-7);
	assert_text(m, "# TYPE n gauge\n"
		       "n{v=\"a\"} 0.1\n"
		       "n{v=\"b\"} 0\n"
		       "n{v=\"c\"} 0.3333333333333333\n"
		       "n{v=\"d\"} +Inf\n"
		       "n{v=\"e\"} -Inf\n"
		       "n{v=\"f\"} NaN\n"
		       "n{v=\"g\"} -42\n"
		       "n{v=\"h\"} 1e+300\n"
		       "n{v=\"i\"} 1.5e-07\n" DROPPED(0));
	metrics_free(m);
}

struct cb_state {
	int calls;
	struct metric *g;
};

static void on_render(void *arg, struct metrics *m)
{
	struct cb_state *st = arg;

	st->calls++;
	/* a callback may register (the same family again) and set */
	st->g = metrics_gauge(m, "tripline_bus_queue_depth", "Events waiting.", "bus");
	metric_set(st->g, (const char *[]){"default"}, st->calls * 10);
}

static void test_render_callbacks(void **state)
{
	struct metrics *m = metrics_new();
	struct cb_state st = {0};

	(void)state;
	assert_int_equal(metrics_on_render(m, on_render, &st), 0);
	assert_text(m, "# HELP tripline_bus_queue_depth Events waiting.\n"
		       "# TYPE tripline_bus_queue_depth gauge\n"
		       "tripline_bus_queue_depth{bus=\"default\"} 10\n" DROPPED(0));
	struct metric *first = st.g;
	assert_text(m, "# HELP tripline_bus_queue_depth Events waiting.\n"
		       "# TYPE tripline_bus_queue_depth gauge\n"
		       "tripline_bus_queue_depth{bus=\"default\"} 20\n" DROPPED(0));
	assert_ptr_equal(st.g, first);
	assert_int_equal(st.calls, 2);
	metrics_free(m);
}

/* the same name again: the same family when it matches, else refused */
static void test_registration(void **state)
{
	static const double b[] = {1, 2}, b_desc[] = {2, 1}, b_other[] = {1, 3};
	static const double b_inf[] = {1, (double)INFINITY};
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(m, "c_total", "C.", "a,b");
	struct metric *h = metrics_histogram(m, "h", "H.", NULL, b, 2);

	(void)state;
	assert_non_null(c);
	assert_non_null(h);
	assert_ptr_equal(metrics_counter(m, "c_total", "other help", "a,b"), c);
	assert_null(metrics_counter(m, "c_total", "C.", "a"));
	assert_null(metrics_counter(m, "c_total", "C.", "b,a"));
	assert_null(metrics_gauge(m, "c_total", "C.", "a,b"));
	assert_ptr_equal(metrics_histogram(m, "h", NULL, NULL, b, 2), h);
	assert_null(metrics_histogram(m, "h", NULL, NULL, b_other, 2));
	/* bad names, labels and bounds */
	assert_null(metrics_counter(m, "", NULL, NULL));
	assert_null(metrics_counter(m, "9lives", NULL, NULL));
	assert_null(metrics_counter(m, "a-b", NULL, NULL));
	assert_null(metrics_counter(m, "tripline_metrics_series_dropped_total", NULL, NULL));
	assert_null(metrics_counter(m, "x", NULL, "a,,b"));
	assert_null(metrics_counter(m, "x", NULL, "a,a"));
	assert_null(metrics_counter(m, "x", NULL, "__name"));
	assert_null(metrics_counter(m, "x", NULL, "a:b"));
	assert_null(metrics_counter(m, "x", NULL, "a,b,c,d,e,f,g,h,i"));
	assert_null(metrics_histogram(m, "x", NULL, "le", b, 2));
	assert_null(metrics_histogram(m, "x", NULL, NULL, b_desc, 2));
	assert_null(metrics_histogram(m, "x", NULL, NULL, b_inf, 2));
	assert_null(metrics_histogram(m, "x", NULL, NULL, NULL, 0));
	assert_non_null(metrics_counter(m, "x:y_total", NULL, "a,b,c,d,e,f,g,h"));
	assert_non_null(metrics_gauge(m, "le_ok", NULL, "le"));
	assert_text(m, "# HELP c_total C.\n# TYPE c_total counter\n"
		       "# HELP h H.\n# TYPE h histogram\n"
		       "h_bucket{le=\"1\"} 0\nh_bucket{le=\"2\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n"
		       "# TYPE x:y_total counter\n# TYPE le_ok gauge\n" DROPPED(0));
	metrics_free(m);
}

/* past METRICS_MAX_SERIES a new tuple is counted, not stored; existing
 * series keep counting; other families are not affected */
static void test_series_bound(void **state)
{
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(m, "many_total", NULL, "k");
	struct metric *o = metrics_counter(m, "other_total", NULL, "k");
	char key[32];

	(void)state;
	for (unsigned i = 0; i < METRICS_MAX_SERIES; i++) {
		snprintf(key, sizeof(key), "%u", i);
		metric_add(c, (const char *[]){key}, 1);
	}
	metric_add(c, (const char *[]){"new"}, 1);
	metric_touch(c, (const char *[]){"newer"});
	metric_add(c, (const char *[]){"0"}, 1);
	snprintf(key, sizeof(key), "%u", METRICS_MAX_SERIES - 1);
	metric_add(c, (const char *[]){key}, 1);
	metric_add(o, (const char *[]){"fine"}, 1);
	char *text = render(m);
	assert_non_null(strstr(text, "\nmany_total{k=\"0\"} 2\n"));
	snprintf(key, sizeof(key), "\nmany_total{k=\"%u\"} 2\n", METRICS_MAX_SERIES - 1);
	assert_non_null(strstr(text, key));
	assert_null(strstr(text, "new"));
	assert_non_null(strstr(text, "\nother_total{k=\"fine\"} 1\n"));
	assert_non_null(strstr(text, "\ntripline_metrics_series_dropped_total 2\n"));
	free(text);
	metrics_free(m);
}

/* label values past 4096 bytes in all are refused (counted) */
static void test_long_values(void **state)
{
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(m, "c_total", NULL, "a,b");
	char *big = malloc(5000);

	(void)state;
	memset(big, 'x', 4999);
	big[4999] = '\0';
	metric_add(c, (const char *[]){big, "1"}, 1);
	big[2047] = '\0';   /* 2047 + 1 + 2047 + 1 bytes with the NULs: fits */
	metric_add(c, (const char *[]){big, big}, 1);
	char *text = render(m);
	assert_non_null(strstr(text, "\ntripline_metrics_series_dropped_total 1\n"));
	assert_non_null(strstr(text, "xxx\"} 1\n"));
	free(text);
	free(big);
	metrics_free(m);
}

/* a family rebuilt on each render: what is gone no longer renders */
static void test_clear(void **state)
{
	static const double b[] = {1};
	struct metrics *m = metrics_new();
	struct metric *g = metrics_gauge(m, "svc", NULL, "service");
	struct metric *u = metrics_gauge(m, "u", NULL, NULL);
	struct metric *h = metrics_histogram(m, "h", NULL, NULL, b, 1);

	(void)state;
	metric_set(g, (const char *[]){"web"}, 5);
	metric_set(g, (const char *[]){"db"}, 1);
	metric_set(u, NULL, 3);
	metric_observe(h, NULL, 0.5);
	metric_clear(g);
	metric_clear(u);
	metric_clear(h);
	metric_set(g, (const char *[]){"db"}, 2);
	metric_clear(NULL);
	assert_text(m, "# TYPE svc gauge\nsvc{service=\"db\"} 2\n# TYPE u gauge\nu 0\n"
		       "# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n"
		       DROPPED(0));
	metrics_free(m);
}

static void test_null_safety(void **state)
{
	struct metrics *m = metrics_new();
	static const double b[] = {1};

	(void)state;
	assert_null(metrics_counter(NULL, "a", "b", NULL));
	assert_null(metrics_gauge(NULL, "a", "b", "x"));
	assert_null(metrics_histogram(NULL, "a", "b", NULL, b, 1));
	assert_null(metrics_counter(m, NULL, "b", NULL));
	metric_add(NULL, NULL, 1);
	metric_set(NULL, (const char *[]){"x"}, 1);
	metric_observe(NULL, NULL, 1);
	metric_touch(NULL, NULL);
	assert_int_equal(metrics_on_render(NULL, on_render, NULL), 0);
	assert_int_equal(metrics_on_render(m, NULL, NULL), 0);
	metrics_free(NULL);
	/* a labelled family given no values: every value is "" */
	struct metric *g = metrics_gauge(m, "g", NULL, "a");
	metric_set(g, NULL, 3);
	FILE *f = fopen("/dev/null", "w");
	assert_non_null(f);
	assert_int_equal(metrics_render(NULL, f), 0);
	fclose(f);
	assert_int_equal(metrics_render(m, NULL), -EINVAL);
	assert_text(m, "# TYPE g gauge\ng{a=\"\"} 3\n" DROPPED(0));
	metrics_free(m);
}

/* a stream that fails: the error comes back */
static void test_stream_error(void **state)
{
	struct metrics *m = metrics_new();
	FILE *f = fopen("/dev/full", "w");

	(void)state;
	assert_non_null(f);
	metric_add(metrics_counter(m, "c_total", "C.", NULL), NULL, 1);
	assert_int_equal(metrics_render(m, f), -ENOSPC);
	fclose(f);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_counter_and_gauge),
		cmocka_unit_test(test_labels_and_order),
		cmocka_unit_test(test_keys_distinct),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_render_callbacks),
		cmocka_unit_test(test_registration),
		cmocka_unit_test(test_series_bound),
		cmocka_unit_test(test_long_values),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_null_safety),
		cmocka_unit_test(test_stream_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
