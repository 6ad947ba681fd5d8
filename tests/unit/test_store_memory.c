/*
 * test_store_memory.c — the in-memory state store (engine/store_memory.c)
 * on a clock of the test's own: dedup claims within and after their
 * window, release, token buckets (burst, refill, the wait until the next
 * token), expiry, and the cap (a counted refusal, never a forgotten live
 * entry); and the string map under it (common/strmap.c).
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

#include "metrics.h"
#include "store.h"
#include "strmap.h"

static uint64_t clock_ms;

static uint64_t test_now(void *arg)
{
	(void)arg;
	return clock_ms;
}

static int last_claim;
static int last_take;
static uint64_t last_wait;

static void on_claim(void *arg, int result)
{
	(void)arg;
	last_claim = result;
}

static void on_take(void *arg, int result, uint64_t wait_ms)
{
	(void)arg;
	last_take = result;
	last_wait = wait_ms;
}

static int claim(struct store *s, const char *key, uint32_t window_s)
{
	last_claim = 99;
	store_claim(s, key, window_s, on_claim, NULL);
	assert_int_not_equal(last_claim, 99);   /* answered from inside the call */
	return last_claim;
}

static uint64_t take(struct store *s, const char *key, double rate, uint32_t burst)
{
	last_take = 99;
	store_take(s, key, rate, burst, on_take, NULL);
	assert_int_equal(last_take, 0);
	return last_wait;
}

static struct store *make(uint32_t max, struct metrics *m)
{
	struct store *s = NULL;
	struct store_memory_config c = {.max_entries = max, .metrics = m, .now_ms = test_now};
	assert_int_equal(store_memory_new(NULL, &c, &s), 0);
	return s;
}

static void test_claims(void **state)
{
	(void)state;
	struct store *s = make(0, NULL);

	clock_ms = 1000;
	assert_int_equal(claim(s, "a", 10), 1);
	assert_int_equal(claim(s, "a", 10), 0);
	assert_int_equal(claim(s, "b", 10), 1);
	clock_ms += 9999;
	assert_int_equal(claim(s, "a", 10), 0);   /* still within its window */
	clock_ms += 1;
	assert_int_equal(claim(s, "a", 10), 1);   /* the window is over */
	store_release(s, "a");
	assert_int_equal(claim(s, "a", 10), 1);   /* given back */
	store_release(s, "never-claimed");
	store_free(s);
}

static void test_buckets(void **state)
{
	(void)state;
	struct store *s = make(0, NULL);

	clock_ms = 5000;
	/* a burst of 3, 10 per second */
	assert_int_equal(take(s, "r", 10, 3), 0);
	assert_int_equal(take(s, "r", 10, 3), 0);
	assert_int_equal(take(s, "r", 10, 3), 0);
	assert_int_equal(take(s, "r", 10, 3), 100);   /* the next token in 100 ms; none taken */
	clock_ms += 50;
	assert_int_equal(take(s, "r", 10, 3), 50);
	clock_ms += 50;
	assert_int_equal(take(s, "r", 10, 3), 0);
	assert_int_equal(take(s, "other", 10, 3), 0);   /* buckets are per key */
	/* a bucket full again is forgotten */
	assert_int_equal(store_memory_entries(s), 2);
	clock_ms += 300;
	assert_int_equal(claim(s, "x", 1), 1);   /* any call expires what is due */
	assert_int_equal(store_memory_entries(s), 1);
	assert_int_equal(take(s, "r", 10, 3), 0);
	assert_int_equal(take(s, "r", 10, 3), 0);
	assert_int_equal(take(s, "r", 10, 3), 0);
	assert_int_equal(take(s, "r", 10, 3), 100);
	store_take(s, "bad", 0, 1, on_take, NULL);
	assert_int_equal(last_take, -EINVAL);
	store_free(s);
}

static void test_cap(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct store *s = make(3, m);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	clock_ms = 0;
	assert_int_equal(claim(s, "a", 10), 1);
	assert_int_equal(claim(s, "b", 20), 1);
	assert_int_equal(take(s, "c", 1, 1), 0);
	assert_int_equal(claim(s, "d", 10), -ENOSPC);   /* full: refused, not forgotten */
	last_take = 99;
	store_take(s, "e", 1, 1, on_take, NULL);
	assert_int_equal(last_take, -ENOSPC);
	assert_int_equal(claim(s, "a", 10), 0);   /* the live ones are all still there */
	assert_int_equal(claim(s, "b", 10), 0);
	assert_int_equal(take(s, "c", 1, 1), 1000);
	clock_ms = 10000;   /* a expired (and c is full again): room */
	assert_int_equal(claim(s, "d", 10), 1);
	assert_int_equal(claim(s, "b", 10), 0);
	assert_int_equal(store_memory_entries(s), 2);
	f = open_memstream(&text, &len);
	assert_int_equal(metrics_render(m, f), 0);
	fclose(f);
	assert_non_null(strstr(text, "tripline_store_refused_total{op=\"claim\"} 1\n"));
	assert_non_null(strstr(text, "tripline_store_refused_total{op=\"take\"} 1\n"));
	assert_non_null(strstr(text, "tripline_store_entries 2\n"));
	free(text);
	store_free(s);
	metrics_free(m);
}

static void test_many_expire_in_order(void **state)
{
	(void)state;
	struct store *s = make(0, NULL);
	char key[32];

	clock_ms = 0;
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(claim(s, key, (uint32_t)(1 + (i * 7919) % 100)), 1);
	}
	for (uint32_t t = 1; t <= 100; t++) {
		clock_ms = t * 1000u;
		claim(s, "probe", 1000);
		store_release(s, "probe");
		size_t live = 0;
		for (int i = 0; i < 1000; i++)
			live += (uint32_t)(1 + (i * 7919) % 100) > t;
		assert_int_equal(store_memory_entries(s), live);
	}
	store_free(s);
}

struct item {
	struct strmap_node node;
	char key[16];
};

static void test_strmap(void **state)
{
	(void)state;
	struct strmap m = STRMAP_INIT;
	struct item items[500];

	assert_null(strmap_find(&m, "x"));
	for (int i = 0; i < 500; i++) {
		snprintf(items[i].key, sizeof(items[i].key), "key-%d", i);
		assert_int_equal(strmap_insert(&m, &items[i].node, items[i].key), 0);
	}
	for (int i = 0; i < 500; i++)
		assert_ptr_equal(strmap_entry(strmap_find(&m, items[i].key), struct item, node), &items[i]);
	for (int i = 0; i < 500; i += 2)
		strmap_remove(&m, &items[i].node);
	assert_int_equal(m.n, 250);
	for (int i = 0; i < 500; i++)
		assert_true((strmap_find(&m, items[i].key) != NULL) == (i % 2 == 1));
	strmap_clear(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_many_expire_in_order),
		cmocka_unit_test(test_strmap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
