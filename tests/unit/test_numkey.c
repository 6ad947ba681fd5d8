/*
 * test_numkey.c — exact decimal keys: numeric order, equal keys for equal
 * values however they are spelled, the range limits, numeric ranges, and
 * which number operands EventBridge accepts (number_is_exact_double).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "../../rules/value.h"

static struct numkey key(const char *text)
{
	struct numkey k;
	int r = numkey_from_text(text, strlen(text), &k);

	if (r != 0)
		fail_msg("numkey_from_text(\"%s\") = %d", text, r);
	return k;
}

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

/* Strictly increasing; every pair is checked both ways. */
static const char *const ascending[] = {
	"-1e100000",
	"-1.7976931348623157e308",
	"-1e300",
	"-123.5e10",
	"-1000",
	"-999.999",
	"-100",
	"-99.99",
	"-10",
	"-9",
	"-1.5",
	"-1.0000000000000001",
	"-1",
	"-0.999",
	"-0.123",
	"-0.12",
	"-0.1",
	"-0.0123",
	"-0.01",
	"-1e-5",
	"-1e-100000",
	"0",
	"1e-100000",
	"1e-100",
	"1e-5",
	"0.001",
	"0.0123",
	"0.1",
	"0.102",
	"0.12",
	"0.123",
	"0.999",
	"1",
	"1.0000000000000001",
	"1.5",
	"2",
	"9",
	"10",
	"99.99",
	"100",
	"1e5",
	"9007199254740992",
	"9007199254740993",
	"123456789012345678901234567890",
	"1e300",
	"1.7976931348623157e308",
	"1e100000",
};

static void test_order(void **state)
{
	size_t n = sizeof(ascending) / sizeof(ascending[0]);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			struct numkey a = key(ascending[i]), b = key(ascending[j]);
			int want = (i > j) - (i < j);

			if (sign(numkey_cmp(&a, &b)) != want)
				fail_msg("cmp(%s, %s) should be %d", ascending[i], ascending[j], want);
			assert_int_equal(numkey_eq(&a, &b), i == j);
		}
	}
}

static void test_order_extremes(void **state)
{
	struct numkey a = key("-1.7976931348623157e308"), b = key("-1e300");

	(void)state;
	assert_true(numkey_cmp(&a, &b) < 0);
	a = key("-0.12");
	b = key("-0.123");
	assert_true(numkey_cmp(&a, &b) > 0);
	assert_true(numkey_cmp(&b, &a) < 0);
	a = key("0.12");
	b = key("0.123");
	assert_true(numkey_cmp(&a, &b) < 0);
	a = key("-1");
	b = key("0");
	assert_true(numkey_cmp(&a, &b) < 0);
	a = key("-1e-100000");
	assert_true(numkey_cmp(&a, &b) < 0);
}

static void test_equal_spellings(void **state)
{
	static const char *const groups[][9] = {
		{"300", "3.0e2", "300.000", "3e+2", "30e1", "0.3e3", "3000e-1", "300.0E0", NULL},
		{"0", "-0", "0.0", "0e10", "-0.000e-5", "0E0", "0e99999999999999999999", NULL},
		{"-1.5", "-15e-1", "-0.15E1", "-1.50000", NULL},
		{"0.001", "1e-3", "1.0e-3", "0.10e-2", "0.0000010e3", NULL},
		{"1e5", "1e0000000000000000000000005", "100000", "1E+05", NULL},
		{"1.23", "123e-2", "0.0123e2", NULL},
	};

	(void)state;
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		struct numkey first = key(groups[g][0]);

		for (size_t i = 1; groups[g][i]; i++) {
			struct numkey k = key(groups[g][i]);

			if (!numkey_eq(&first, &k))
				fail_msg("%s and %s should have equal keys", groups[g][0], groups[g][i]);
			assert_int_equal(numkey_cmp(&first, &k), 0);
			assert_int_equal(first.len, k.len);
			assert_memory_equal(first.b, k.b, k.len);
		}
	}
}

static void test_different_values_differ(void **state)
{
	struct numkey a = key("1"), b = key("1.0000000000000001");

	(void)state;
	assert_false(numkey_eq(&a, &b));
	a = key("300");
	b = key("-300");
	assert_false(numkey_eq(&a, &b));
	a = key("1e5");
	b = key("1e-5");
	assert_false(numkey_eq(&a, &b));
}

static void test_range_limits(void **state)
{
	/* 40 significant digits fit, 41 do not; zeros around them do not count. */
	const char *forty = "1234567890123456789012345678901234567891";
	const char *fortyone = "12345678901234567890123456789012345678901";
	struct numkey k;

	(void)state;
	assert_int_equal(numkey_from_text(forty, strlen(forty), &k), 0);
	assert_int_equal(k.len, 1 + 4 + 40 + 1);
	assert_int_equal(numkey_from_text("-1234567890123456789012345678901234567891", 41, &k), 0);
	assert_int_equal(k.len, NUMKEY_MAX_BYTES);
	assert_int_equal(numkey_from_text(fortyone, strlen(fortyone), &k), -ERANGE);
	assert_int_equal(numkey_from_text("1.0000000000000000000000000000000000000001", 42, &k), -ERANGE);
	assert_int_equal(numkey_from_text("1000000000000000000000000000000000000000000000000000", 52, &k), 0);
	assert_int_equal(numkey_from_text("0.000000000000000000000000000000000000000000000001", 50, &k), 0);
	assert_int_equal(numkey_from_text("1.000000000000000000000000000000000000000000000000", 50, &k), 0);

	assert_int_equal(numkey_from_text("1e100000", 8, &k), 0);
	assert_int_equal(numkey_from_text("9.9e100000", 10, &k), 0);
	assert_int_equal(numkey_from_text("1e-100000", 9, &k), 0);
	assert_int_equal(numkey_from_text("1e100001", 8, &k), -ERANGE);
	assert_int_equal(numkey_from_text("10e100000", 9, &k), -ERANGE);
	assert_int_equal(numkey_from_text("1e-100001", 9, &k), -ERANGE);
	assert_int_equal(numkey_from_text("0.1e-100000", 11, &k), -ERANGE);
	assert_int_equal(numkey_from_text("1e99999999999999999999", 22, &k), -ERANGE);
	assert_int_equal(numkey_from_text("-1e-99999999999999999999", 24, &k), -ERANGE);
	assert_int_equal(numkey_from_text("1e999999999999999999999999999999999999999999", 44, &k), -ERANGE);
}

static void test_not_a_number(void **state)
{
	static const char *const bad[] = {
		"", "-", "01", "-01", "1.", ".5", "1e", "1e+", "+1", "1x", "0x10", " 1", "1 ", "--1",
		"1.e5", "NaN", "Infinity",
	};
	struct numkey k;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (numkey_from_text(bad[i], strlen(bad[i]), &k) != -EINVAL)
			fail_msg("\"%s\" should be -EINVAL", bad[i]);
	/* The length is honoured: the text need not be NUL-terminated. */
	assert_int_equal(numkey_from_text("12", 1, &k), 0);
	{
		struct numkey one = key("1");

		assert_true(numkey_eq(&k, &one));
	}
}

static void test_numrange(void **state)
{
	struct numrange r = {0};
	struct numkey k0 = key("0"), k5 = key("5"), k3 = key("3.0"), kneg = key("-0.5"),
		      k5b = key("5.000000000000000001"), khuge = key("1e9999");

	(void)state;
	/* Unbounded contains everything. */
	assert_true(numrange_contains(&r, &k0));
	assert_true(numrange_contains(&r, &khuge));

	/* (0, 5] */
	r.has_lo = true;
	r.lo_open = true;
	r.lo = key("0");
	r.has_hi = true;
	r.hi_open = false;
	r.hi = key("5e0");
	assert_false(numrange_contains(&r, &k0));
	assert_true(numrange_contains(&r, &k3));
	assert_true(numrange_contains(&r, &k5));
	assert_false(numrange_contains(&r, &k5b));
	assert_false(numrange_contains(&r, &kneg));

	/* [0, 5) */
	r.lo_open = false;
	r.hi_open = true;
	assert_true(numrange_contains(&r, &k0));
	assert_false(numrange_contains(&r, &k5));

	/* Equality: [3, 3]. */
	r.lo = key("3");
	r.hi = key("300e-2");
	r.lo_open = r.hi_open = false;
	assert_true(numrange_contains(&r, &k3));
	assert_false(numrange_contains(&r, &k5));

	/* Only a lower bound: >= -0.5. */
	r.has_hi = false;
	r.lo = key("-0.5");
	assert_true(numrange_contains(&r, &kneg));
	assert_true(numrange_contains(&r, &khuge));
	r.lo_open = true;
	assert_false(numrange_contains(&r, &kneg));

	/* Only an upper bound: < 0. */
	r.has_lo = false;
	r.has_hi = true;
	r.hi_open = true;
	r.hi = key("-0");
	assert_true(numrange_contains(&r, &kneg));
	assert_false(numrange_contains(&r, &k0));
}

static void test_exact_double_true(void **state)
{
	static const char *const yes[] = {
		"0", "-0", "0.0", "0.1", "1e-1", "300", "3.0e2", "-122.42916360922355",
		"37.729900216217324", "1.7976931348623157e308", "-1.7976931348623157E308",
		"9007199254740992", "3.018e2", "301.8", "1", "-1", "0.3", "0.30000000000000004",
		"1e23", "4.9e-324", "2.2250738585072014e-308", "5e-1", "123456789", "1.5",
		"100000000000000000000", "1e300", "0.000001",
		/* 2^-1017: the nearest 16-digit decimal below does not read back,
		 * the one above does, so the print is 16 digits, not 17. */
		"7.120236347223045e-307",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!number_is_exact_double(yes[i], strlen(yes[i])))
			fail_msg("\"%s\" should be an exact double", yes[i]);
}

static void test_exact_double_false(void **state)
{
	static const char *const no[] = {
		"5e-324",        /* prints as 4.9e-324 */
		"1e-323",        /* prints as 9.9e-324 */
		"1e400", "2.0e422", "1E309", "1E-325",
		"12345678901234567890",
		"4.99999999999999999999",
		"0.1000000000000000055511151231257827",
		"9007199254740993",
		"0.30000000000000001",    /* reads as 0.3's double, which prints 0.3 */
		"1.79769313486231581e308", /* rounds to the max but is not its print */
		"1.7976931348623159e308",  /* overflows */
		"1e99999999999999999999",
		"1e-99999999999999999999",
		"12345678901234567890123456789012345678901234567890",
		"7.1202363472230444e-307", /* 2^-1017, but not how it prints */
		"01",            /* not a JSON number at all */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (number_is_exact_double(no[i], strlen(no[i])))
			fail_msg("\"%s\" should not be an exact double", no[i]);
}

/* Every double printed by "%.17g" and re-spelled shortest must pass; the
 * 17-digit spelling of a double whose shortest form is shorter must not. */
static void test_exact_double_sweep(void **state)
{
	double x = 1.0;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		char buf[64];

		x = x * 1.37 + 0.001;
		if (x > 1e300)
			x = 1e-300;
		for (int p = 1; p <= 17; p++) {
			snprintf(buf, sizeof(buf), "%.*e", p - 1, x);
			if (strtod(buf, NULL) == x)
				break;
		}
		if (!number_is_exact_double(buf, strlen(buf)))
			fail_msg("shortest form %s should be exact", buf);
	}
	assert_true(number_is_exact_double("0.10000000000000000", 19));
	assert_false(number_is_exact_double("0.10000000000000001", 19));
}

/*
 * The fast exact-integer test for 16- and 17-digit numbers must agree with
 * the definition (printing and reading back) everywhere: random doubles of
 * every magnitude printed with 16 and 17 digits, their last digit nudged,
 * and values next to powers of two, where the rounding interval is lopsided.
 */
static void test_exact_fast_agrees_with_reference(void **state)
{
	uint64_t seed = 88172645463325252ULL;
	size_t checked = 0, exact = 0;

	(void)state;
	for (int i = 0; i < 60000; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		double x;
		if (i % 4 == 0) {
			/* next to a power of two */
			x = ldexp(1.0, (int)(seed % 200) - 100);
			x = (seed & 1) ? nextafter(x, 0) : nextafter(x, 1e300);
		} else if (i % 4 == 1) {
			/* citylots-like coordinates */
			x = -122.5 + (double)(seed % 1000000000) * 1e-9;
		} else {
			uint64_t bits = (seed & 0x800FFFFFFFFFFFFFULL) | ((uint64_t)(900 + seed % 250) << 52);
			memcpy(&x, &bits, 8);
		}
		for (int p = 16; p <= 17; p++) {
			for (int nudge = -1; nudge <= 1; nudge++) {
				char buf[64];
				snprintf(buf, sizeof(buf), "%.*e", p - 1, x);
				if (nudge) {
					/* change the last mantissa digit */
					char *e = strchr(buf, 'e');
					char *dgt = e - 1;
					if (*dgt + nudge < '0' || *dgt + nudge > '9')
						continue;
					*dgt = (char)(*dgt + nudge);
				}
				size_t n = strlen(buf);
				bool fast = number_is_exact_double(buf, n);
				bool ref = number_is_exact_double_reference(buf, n);
				if (fast != ref)
					fail_msg("%s: fast %d, reference %d", buf, fast, ref);
				checked++;
				exact += ref;
			}
		}
	}
	/* both answers occur often: the comparison is not vacuous */
	assert_true(exact > checked / 10);
	assert_true(exact < checked * 9 / 10);
}

/* number_to_double() rounds exactly like strtod() on every path it takes. */
static void test_to_double_agrees_with_strtod(void **state)
{
	uint64_t seed = 0x9E3779B97F4A7C15ULL;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		char buf[64];
		int digits = 1 + (int)(seed % 17);
		int exp10 = (int)((seed >> 8) % 80) - 40;
		uint64_t w = (seed >> 16) % 100000000000000000ULL;
		/* keep `digits` significant digits */
		char num[32];
		snprintf(num, sizeof(num), "%017llu", (unsigned long long)w);
		num[digits] = '\0';
		if (num[0] == '0')
			num[0] = '1';
		snprintf(buf, sizeof(buf), "%s%c.%se%d", (seed & 1) ? "-" : "", num[0], num + 1, exp10);
		if (digits == 1)
			snprintf(buf, sizeof(buf), "%s%ce%d", (seed & 1) ? "-" : "", num[0], exp10);
		double want = strtod(buf, NULL), got;
		assert_int_equal(number_to_double(buf, strlen(buf), &got), 0);
		if (memcmp(&want, &got, sizeof(got)) != 0)
			fail_msg("%s: strtod %.17g, number_to_double %.17g", buf, want, got);
	}
	double d;
	assert_int_equal(number_to_double("1e400", 5, &d), -ERANGE);
	assert_int_equal(number_to_double("123456789012345678", 18, &d), -ERANGE);
	assert_int_equal(number_to_double("-0", 2, &d), 0);
	assert_true(d == 0);
	assert_int_equal(number_to_double("-122.42916360922355", 19, &d), 0);
	assert_true(d == -122.42916360922355);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_order_extremes),
		cmocka_unit_test(test_equal_spellings),
		cmocka_unit_test(test_different_values_differ),
		cmocka_unit_test(test_range_limits),
		cmocka_unit_test(test_not_a_number),
		cmocka_unit_test(test_numrange),
		cmocka_unit_test(test_exact_double_true),
		cmocka_unit_test(test_exact_double_false),
		cmocka_unit_test(test_exact_double_sweep),
		cmocka_unit_test(test_exact_fast_agrees_with_reference),
		cmocka_unit_test(test_to_double_agrees_with_strtod),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
