/*
 * test_cidr.c — IP literals and CIDR ranges: which texts are addresses, the
 * range ends (incl. /0 and the widest masks allowed), the separation of
 * IPv4 and IPv6, and every error event-ruler reports, in its order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "../../rules/value.h"

static struct cidr range(const char *text)
{
	struct cidr c;
	char err[128] = "";

	if (cidr_parse(text, strlen(text), &c, err, sizeof(err)) != 0)
		fail_msg("cidr_parse(\"%s\"): %s", text, err);
	return c;
}

/* Does the range contain the address text (which must be an address)? */
static bool in(const struct cidr *c, const char *ip)
{
	uint8_t a[16];
	int family = ip_parse(ip, strlen(ip), a);

	if (family == 0)
		fail_msg("\"%s\" should be an address", ip);
	return cidr_contains(c, family, a);
}

static void test_ip_parse_v4(void **state)
{
	uint8_t a[16];
	static const uint8_t want[16] = {192, 168, 1, 254};

	(void)state;
	assert_int_equal(ip_parse("192.168.1.254", 13, a), 4);
	assert_memory_equal(a, want, 16);
	assert_int_equal(ip_parse("0.0.0.0", 7, a), 4);
	assert_int_equal(ip_parse("255.255.255.255", 15, a), 4);
	/* Length is honoured: no NUL terminator needed. */
	assert_int_equal(ip_parse("1.2.3.4567", 7, a), 4);
	assert_int_equal(a[3], 4);
}

static void test_ip_parse_v6(void **state)
{
	uint8_t a[16];
	static const uint8_t loopback[16] = {[15] = 1};
	static const uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff, [12] = 1, [13] = 2, [14] = 3, [15] = 4};
	static const uint8_t doc[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x0a};
	static const uint8_t zero[16] = {0};

	(void)state;
	assert_int_equal(ip_parse("::", 2, a), 6);
	assert_memory_equal(a, zero, 16);
	assert_int_equal(ip_parse("::1", 3, a), 6);
	assert_memory_equal(a, loopback, 16);
	assert_int_equal(ip_parse("::ffff:1.2.3.4", 14, a), 6);
	assert_memory_equal(a, mapped, 16);
	assert_int_equal(ip_parse("::FFFF:1.2.3.4", 14, a), 6);
	assert_memory_equal(a, mapped, 16);
	assert_int_equal(ip_parse("2001:DB8::A", 11, a), 6);
	assert_memory_equal(a, doc, 16);
	assert_int_equal(ip_parse("2001:0db8:0000:0000:0000:0000:0000:000a", 39, a), 6);
	assert_memory_equal(a, doc, 16);
	assert_int_equal(ip_parse("1:2:3:4:5:6:7:8", 15, a), 6);
	assert_int_equal(a[14], 0);
	assert_int_equal(a[15], 8);
	assert_int_equal(ip_parse("1:2:3:4:5:6:1.2.3.4", 19, a), 6);
	assert_int_equal(ip_parse("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 45, a), 6);
	assert_int_equal(ip_parse("fe80::", 6, a), 6);
}

static void test_ip_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"", "hello", "1.2.3", "1.2.3.4.5", "256.0.0.1", "300.1.1.1", "1.2.3.-4",
		"010.0.0.1",         /* leading zeros refused */
		"0x1.2.3.4", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4/8", "10.0.0.1x",
		"fe80::1%eth0", "[::1]", "1::2::3", "12345::", ":::", "1:2:3:4:5:6:7:8:9",
		"::ffff:010.1.1.1", "::g", "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255:",
		"1", "1000",
	};
	uint8_t a[16];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ip_parse(bad[i], strlen(bad[i]), a) != 0)
			fail_msg("\"%s\" should not be an address", bad[i]);
	/* An embedded NUL is not an address either. */
	assert_int_equal(ip_parse("1.2.3.4\0", 8, a), 0);
	assert_int_equal(ip_parse("1.2\0.3.4", 8, a), 0);
}

static void test_v4_range(void **state)
{
	struct cidr c = range("10.0.0.0/22");
	static const uint8_t lo[4] = {10, 0, 0, 0}, hi[4] = {10, 0, 3, 255};

	(void)state;
	assert_int_equal(c.family, 4);
	assert_memory_equal(c.lo, lo, 4);
	assert_memory_equal(c.hi, hi, 4);
	assert_true(in(&c, "10.0.0.0"));
	assert_true(in(&c, "10.0.1.21"));
	assert_true(in(&c, "10.0.3.255"));
	assert_false(in(&c, "10.0.4.0"));
	assert_false(in(&c, "9.255.255.255"));

	/* The host part of the address is masked off on both ends. */
	c = range("192.168.1.1/31");
	assert_true(in(&c, "192.168.1.0"));
	assert_true(in(&c, "192.168.1.1"));
	assert_false(in(&c, "192.168.1.2"));
	assert_false(in(&c, "192.168.0.255"));
	c = range("220.160.154.255/24");
	assert_true(in(&c, "220.160.154.0"));
	assert_true(in(&c, "220.160.154.255"));
	assert_false(in(&c, "220.160.153.255"));
	assert_false(in(&c, "220.160.155.0"));
	c = range("10.1.2.3/8");
	assert_true(in(&c, "10.0.0.0"));
	assert_true(in(&c, "10.200.0.1"));
	assert_false(in(&c, "11.0.0.0"));
}

static void test_v4_extremes(void **state)
{
	struct cidr c = range("0.0.0.0/0");

	(void)state;
	assert_true(in(&c, "0.0.0.0"));
	assert_true(in(&c, "255.255.255.255"));
	assert_false(in(&c, "::"));
	assert_false(in(&c, "::ffff:10.0.0.1"));

	/* /31 is the narrowest allowed; /0 on any address is everything. */
	c = range("1.2.3.4/0");
	assert_true(in(&c, "0.0.0.0"));
	assert_true(in(&c, "255.255.255.255"));
	c = range("255.255.255.255/31");
	assert_true(in(&c, "255.255.255.254"));
	assert_true(in(&c, "255.255.255.255"));
	assert_false(in(&c, "255.255.255.253"));
}

static void test_v6_range(void **state)
{
	struct cidr c = range("2001:db8::/32");

	(void)state;
	assert_int_equal(c.family, 6);
	assert_true(in(&c, "2001:db8::"));
	assert_true(in(&c, "2001:db8:1::1"));
	assert_true(in(&c, "2001:DB8:ffff::"));
	assert_true(in(&c, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(in(&c, "2001:db9::1"));
	assert_false(in(&c, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(in(&c, "10.0.0.1"));

	c = range("::/0");
	assert_true(in(&c, "::"));
	assert_true(in(&c, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_true(in(&c, "::ffff:10.0.0.1"));
	assert_false(in(&c, "10.0.0.1"));
	assert_false(in(&c, "0.0.0.0"));

	c = range("2001:db8::3/127");
	assert_true(in(&c, "2001:db8::2"));
	assert_true(in(&c, "2001:db8::3"));
	assert_false(in(&c, "2001:db8::1"));
	assert_false(in(&c, "2001:db8::4"));

	/* An IPv4-mapped range is IPv6: it never holds a plain IPv4 value. */
	c = range("::ffff:10.0.0.0/104");
	assert_true(in(&c, "::ffff:10.1.2.3"));
	assert_false(in(&c, "10.1.2.3"));
}

static void test_v4_never_matches_v6(void **state)
{
	struct cidr c = range("10.0.0.0/8");
	uint8_t a[16] = {10, 0, 0, 1};

	(void)state;
	assert_false(in(&c, "::ffff:10.0.0.1"));
	assert_false(in(&c, "a00::1"));
	/* Same bytes, other family: still no. */
	assert_true(cidr_contains(&c, 4, a));
	assert_false(cidr_contains(&c, 6, a));
}

static void test_mask_bits_forms(void **state)
{
	struct cidr c;

	(void)state;
	c = range("10.0.0.0/+24");
	assert_false(in(&c, "10.0.1.0"));
	assert_true(in(&c, "10.0.0.255"));
	c = range("10.0.0.0/-0");
	assert_true(in(&c, "255.0.0.0"));
	c = range("10.0.0.0/08");
	assert_true(in(&c, "10.255.0.0"));
	assert_false(in(&c, "11.0.0.0"));
}

struct bad_case {
	const char *text;
	const char *err;
};

static void test_errors(void **state)
{
	static const struct bad_case cases[] = {
		{"foo", "Malformed CIDR, one '/' required"},
		{"10.0.0.0", "Malformed CIDR, one '/' required"},
		{"10.0.0.0/8/8", "Malformed CIDR, one '/' required"},
		{"10.0.0.0//8", "Malformed CIDR, one '/' required"},
		{"", "Malformed CIDR, one '/' required"},
		{"10.0.0.0/x", "Malformed CIDR, mask bits must be an integer"},
		{"10.0.0.0/", "Malformed CIDR, one '/' required"},
		{"10.0.0.0/8 ", "Malformed CIDR, mask bits must be an integer"},
		{"10.0.0.0/ 8", "Malformed CIDR, mask bits must be an integer"},
		{"10.0.0.0/8.0", "Malformed CIDR, mask bits must be an integer"},
		{"10.0.0.0/+", "Malformed CIDR, mask bits must be an integer"},
		{"10.0.0.0/99999999999", "Malformed CIDR, mask bits must be an integer"},
		{"10.0.0.0/-1", "Malformed CIDR, mask bits must not be negative"},
		{"10.0.0.0/-2147483648", "Malformed CIDR, mask bits must not be negative"},
		{"10.0.0.0/32", "IPv4 mask bits must be < 32"},
		{"10.0.0.0/33", "IPv4 mask bits must be < 32"},
		{"10.0.0.0/2147483647", "IPv4 mask bits must be < 32"},
		{"2001:db8::/128", "IPv6 mask bits must be < 128"},
		{"::/200", "IPv6 mask bits must be < 128"},
		{"hello/8", "Nonstandard IP address: hello"},
		{"/8", "Nonstandard IP address: "},
		{"1.2.3/8", "Nonstandard IP address: 1.2.3"},
		{"fe80::1%eth0/64", "Nonstandard IP address: fe80::1%eth0"},
		{"300.1.1.1/8", "Invalid IP address: 300.1.1.1"},
		{"010.0.0.1/8", "Invalid IP address: 010.0.0.1"},
		{"1::2::3/8", "Invalid IP address: 1::2::3"},
		/* event-ruler's order: bits first, then the address, then limits. */
		{"300.1.1.1/x", "Malformed CIDR, mask bits must be an integer"},
		{"hello/-1", "Malformed CIDR, mask bits must not be negative"},
		{"hello/40", "Nonstandard IP address: hello"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cidr c;
		char err[128] = "";

		if (cidr_parse(cases[i].text, strlen(cases[i].text), &c, err, sizeof(err)) != -EINVAL)
			fail_msg("\"%s\" should be refused", cases[i].text);
		if (strcmp(err, cases[i].err) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", cases[i].text, err, cases[i].err);
	}
}

static void test_error_buffer_small(void **state)
{
	struct cidr c;
	char err[8];

	(void)state;
	memset(err, 'Z', sizeof(err));
	assert_int_equal(cidr_parse("hello/8", 7, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "Nonstan");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip_parse_v4),
		cmocka_unit_test(test_ip_parse_v6),
		cmocka_unit_test(test_ip_parse_rejects),
		cmocka_unit_test(test_v4_range),
		cmocka_unit_test(test_v4_extremes),
		cmocka_unit_test(test_v6_range),
		cmocka_unit_test(test_v4_never_matches_v6),
		cmocka_unit_test(test_mask_bits_forms),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_error_buffer_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
