/*
 * cidr.c — IP address literals and CIDR ranges, as EventBridge reads them.
 *
 * ip_parse() accepts exactly what inet_pton() accepts: a dotted quad of four
 * decimal parts 0-255 (leading zeros such as "010.0.0.1" are refused, since
 * they are read as octal by some tools and decimal by others), or any RFC
 * 4291 text form of IPv6 ("::", "::1", "2001:DB8::1", "::ffff:1.2.3.4"),
 * hex digits in either case. No zone ids ("fe80::1%eth0"), no brackets, no
 * surrounding space. An IPv4-mapped IPv6 address is family 6: ranges of one
 * family never contain addresses of the other.
 *
 * cidr_parse() checks "addr/bits" in event-ruler's order and with its
 * messages: the slash, then the mask bits (an optional sign and decimal
 * digits, as Java's Integer.parseInt takes them), then the address, then the
 * family's limit on the bits. A trailing slash with nothing after it counts
 * as no slash, as it does for event-ruler. As in event-ruler, /32 for IPv4
 * and /128 for IPv6 are refused (a single address is written as a plain
 * string). The range is [addr & mask, addr | ~mask], both ends inclusive.
 */
#include "value.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Longest IPv6 text form: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255". */
#define IP_TEXT_MAX 45

int ip_parse(const char *s, size_t n, uint8_t ret_addr[16])
{
	char buf[IP_TEXT_MAX + 1];

	if (n == 0 || n > IP_TEXT_MAX || memchr(s, '\0', n))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(ret_addr, 0, 16);
	if (memchr(s, ':', n))
		return inet_pton(AF_INET6, buf, ret_addr) == 1 ? 6 : 0;
	return inet_pton(AF_INET, buf, ret_addr) == 1 ? 4 : 0;
}

/*
 * event-ruler says "Invalid" for text shaped like an address (digits and
 * three dots, or hex digits and colons) and "Nonstandard" for anything else.
 * Dots are allowed in the IPv6 shape here because we accept an IPv4 tail.
 */
static bool looks_like_ip(const char *s, size_t n)
{
	size_t dots = 0, colons = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.')
			dots++;
		else if (c == ':')
			colons++;
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			   (c >= 'A' && c <= 'F')))
			return false;
	}
	return colons > 0 || dots == 3;
}

/* Integer.parseInt: [+-]?[0-9]+ within int range. 0 or -EINVAL. */
static int parse_bits(const char *s, size_t n, int64_t *ret)
{
	size_t i = 0;
	bool neg = false;
	int64_t v = 0;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i == n)
		return -EINVAL;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
		if (v > INT64_C(2147483648))
			return -EINVAL;
	}
	if (!neg && v > INT64_C(2147483647))
		return -EINVAL;
	*ret = neg ? -v : v;
	return 0;
}

int cidr_parse(const char *s, size_t n, struct cidr *ret, char *err, size_t errlen)
{
	const char *slash = n ? memchr(s, '/', n) : NULL;
	const char *addr_text = s;
	size_t addr_len, alen;
	uint8_t addr[16];
	int64_t bits;
	int family;

	/* Java's split("/") drops a trailing empty piece, so event-ruler sees
	 * "10.0.0.0/" as having no slash at all; say the same. */
	if (!slash || slash + 1 == s + n ||
	    memchr(slash + 1, '/', n - (size_t)(slash - s) - 1)) {
		snprintf(err, errlen, "Malformed CIDR, one '/' required");
		return -EINVAL;
	}
	addr_len = (size_t)(slash - s);
	if (parse_bits(slash + 1, n - addr_len - 1, &bits) < 0) {
		snprintf(err, errlen, "Malformed CIDR, mask bits must be an integer");
		return -EINVAL;
	}
	if (bits < 0) {
		snprintf(err, errlen, "Malformed CIDR, mask bits must not be negative");
		return -EINVAL;
	}
	family = ip_parse(addr_text, addr_len, addr);
	if (family == 0) {
		snprintf(err, errlen, "%s IP address: %.*s",
			 looks_like_ip(addr_text, addr_len) ? "Invalid" : "Nonstandard",
			 (int)(addr_len > 256 ? 256 : addr_len), addr_text);
		return -EINVAL;
	}
	if (family == 4 && bits > 31) {
		snprintf(err, errlen, "IPv4 mask bits must be < 32");
		return -EINVAL;
	}
	if (family == 6 && bits > 127) {
		snprintf(err, errlen, "IPv6 mask bits must be < 128");
		return -EINVAL;
	}

	alen = family == 4 ? 4 : 16;
	memset(ret, 0, sizeof(*ret));
	ret->family = (uint8_t)family;
	for (size_t i = 0; i < alen; i++) {
		/* Bits of this byte that belong to the network part. */
		int64_t net = bits - (int64_t)(i * 8);
		uint8_t mask;

		if (net >= 8)
			mask = 0xff;
		else if (net <= 0)
			mask = 0x00;
		else
			mask = (uint8_t)(0xff << (8 - net));
		ret->lo[i] = addr[i] & mask;
		ret->hi[i] = addr[i] | (uint8_t)~mask;
	}
	return 0;
}

bool cidr_contains(const struct cidr *c, int family, const uint8_t addr[16])
{
	size_t alen;

	if (family != c->family)
		return false;
	alen = family == 4 ? 4 : 16;
	return memcmp(addr, c->lo, alen) >= 0 && memcmp(addr, c->hi, alen) <= 0;
}
