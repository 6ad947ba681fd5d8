/*
 * rulefield.c — the checks on rule-file fields that rules and targets
 * share (rulefield.h): text, names, JSONPaths, ARNs, dates, and the member
 * getters with EventBridge's limits. Pure functions; nothing logs.
 */
#include "rulefield.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "calendar.h"
#include "jtext.h"

bool rulefield_has_prefix_ci(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && strncasecmp(s, prefix, k) == 0;
}

/* Characters (code points) of valid UTF-8. */
size_t rulefield_utf8_chars(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			k++;
	return k;
}

/* EventBridge names and ids: 1 to max of [.\-_A-Za-z0-9]. */
bool rulefield_name_ok(const char *s, size_t n, size_t max)
{
	return n >= 1 && n <= max && jtext_chars_in(s, n, ".-_");
}

/*
 * The value of a JSON number's text, to about 18 significant digits; enough
 * for range checks and rates. Does not depend on the C locale (strtod does).
 */
double rulefield_number_value(const char *s)
{
	bool neg = false;
	uint64_t mant = 0;
	int digits = 0;
	long exp10 = 0;

	if (*s == '-') {
		neg = true;
		s++;
	}
	for (; jtext_is_digit(*s); s++) {
		if (digits < 18) {
			mant = mant * 10 + (uint64_t)(*s - '0');
			if (mant)
				digits++;
		} else {
			exp10++;
		}
	}
	if (*s == '.') {
		for (s++; jtext_is_digit(*s); s++) {
			if (digits < 18) {
				mant = mant * 10 + (uint64_t)(*s - '0');
				exp10--;
				if (mant)
					digits++;
			}
		}
	}
	if (*s == 'e' || *s == 'E') {
		long e = 0, sign = 1;
		s++;
		if (*s == '+' || *s == '-')
			sign = *s++ == '-' ? -1 : 1;
		for (; jtext_is_digit(*s); s++)
			if (e < 100000)
				e = e * 10 + (*s - '0');
		exp10 += sign * e;
	}
	if (mant == 0)
		return 0.0;
	if (exp10 > 400)
		return neg ? -HUGE_VAL : HUGE_VAL;
	if (exp10 < -400)
		return 0.0;
	double v = (double)mant;
	for (; exp10 > 0; exp10--)
		v *= 10.0;
	for (; exp10 < 0; exp10++)
		v /= 10.0;
	return neg ? -v : v;
}

/*
 * EventBridge's restricted JSONPath: "$", or "$" followed by ".name"
 * segments (any characters but '.', '[' and ']'), each optionally followed
 * by array indexes "[n]"; at most 256 characters. NULL when s is one, else
 * what is wrong.
 */
const char *rulefield_jsonpath_problem(const char *s, size_t n)
{
	size_t i = 1;

	if (rulefield_utf8_chars(s, n) > 256)
		return "longer than 256 characters";
	if (n == 0 || s[0] != '$')
		return "must start with \"$\"";
	while (i < n) {
		if (s[i] != '.')
			return "expected '.' before each name, as in $.detail.key";
		size_t start = ++i;
		while (i < n && s[i] != '.' && s[i] != '[' && s[i] != ']')
			i++;
		if (i == start)
			return "empty name after '.'";
		while (i < n && s[i] == '[') {
			size_t d = ++i;
			while (i < n && jtext_is_digit(s[i]))
				i++;
			if (i == d || i >= n || s[i] != ']')
				return "'[' must hold an array index, as in [0]";
			i++;
		}
		if (i < n && s[i] == ']')
			return "unexpected ']'";
	}
	return NULL;
}

/* Copies the JSON text p[0..n) without the whitespace outside strings. */
char *rulefield_compact_json(struct jcheck *c, const char *p, size_t n, size_t *ret_len)
{
	char *out = malloc(n + 1);
	bool in_str = false;
	size_t o = 0;

	if (!out) {
		c->nomem = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (in_str) {
			out[o++] = ch;
			if (ch == '\\' && i + 1 < n)
				out[o++] = p[++i];
			else if (ch == '"')
				in_str = false;
		} else if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t') {
			if (ch == '"')
				in_str = true;
			out[o++] = ch;
		}
	}
	out[o] = '\0';
	*ret_len = o;
	return out;
}

/* ------------------------------------------------------------ ARNs, URLs, dates */

/*
 * Splits arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE and checks the parts
 * that are the same for every service. NULL or what is wrong.
 */
const char *rulefield_arn_split(const char *s, size_t n, struct rulefield_span *ret_service,
			     struct rulefield_span *ret_resource)
{
	struct rulefield_span part[5];
	size_t i = 4, k = 0;

	if (!jtext_has_prefix(s, n, "arn:"))
		return "invalid ARN: expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE";
	for (k = 0; k < 4; k++) {
		const char *colon = memchr(s + i, ':', n - i);
		if (!colon)
			return "invalid ARN: expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE";
		part[k].p = s + i;
		part[k].n = (size_t)(colon - (s + i));
		i = (size_t)(colon - s) + 1;
	}
	part[4].p = s + i;
	part[4].n = n - i;
	if (!jtext_eq(part[0].p, part[0].n, "aws") &&
	    !(jtext_has_prefix(part[0].p, part[0].n, "aws-") && part[0].n > 4 &&
	      jtext_chars_in(part[0].p, part[0].n, "-")))
		return "invalid ARN: the partition must be \"aws\" or start with \"aws-\"";
	if (part[1].n == 0 || !jtext_chars_in(part[1].p, part[1].n, "-"))
		return "invalid ARN: expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE";
	if (part[2].n == 0 || !jtext_chars_in(part[2].p, part[2].n, "-"))
		return "invalid ARN: the region must be letters, digits and '-'";
	if (part[3].n != 12)
		return "invalid ARN: the account must be 12 digits";
	for (size_t j = 0; j < 12; j++)
		if (!jtext_is_digit(part[3].p[j]))
			return "invalid ARN: the account must be 12 digits";
	if (part[4].n == 0)
		return "invalid ARN: expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE";
	*ret_service = part[1];
	*ret_resource = part[4];
	return NULL;
}

const char *rulefield_bus_name_problem(const char *s, size_t n)
{
	if (n < 1 || n > 256 || !jtext_chars_in(s, n, "/.-_"))
		return "invalid event bus name: must be 1 to 256 characters of A-Z a-z 0-9 / . - _";
	return NULL;
}

static bool digits_at(const char *s, size_t n, size_t at, size_t k, unsigned *ret)
{
	unsigned v = 0;

	if (at + k > n)
		return false;
	for (size_t i = at; i < at + k; i++) {
		if (!jtext_is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*ret = v;
	return true;
}

/* yyyy-mm-ddThh:mm:ss, then nothing (UTC), "Z" or ±hh:mm; seconds since the epoch. */
bool rulefield_date_parse(const char *s, size_t n, int64_t *ret)
{
	unsigned y, mo, d, h, mi, se, oh = 0, om = 0;
	int64_t off = 0;

	if (!digits_at(s, n, 0, 4, &y) || n < 19 || s[4] != '-' || !digits_at(s, n, 5, 2, &mo) ||
	    s[7] != '-' || !digits_at(s, n, 8, 2, &d) || s[10] != 'T' ||
	    !digits_at(s, n, 11, 2, &h) || s[13] != ':' || !digits_at(s, n, 14, 2, &mi) ||
	    s[16] != ':' || !digits_at(s, n, 17, 2, &se))
		return false;
	if (n == 20 && s[19] == 'Z') {
		/* UTC */
	} else if (n == 25 && (s[19] == '+' || s[19] == '-')) {
		if (!digits_at(s, n, 20, 2, &oh) || s[22] != ':' || !digits_at(s, n, 23, 2, &om) ||
		    oh > 23 || om > 59)
			return false;
		off = (int64_t)(oh * 3600 + om * 60);
		if (s[19] == '-')
			off = -off;
	} else if (n != 19) {
		return false;
	}
	if (y < 1970 || !calendar_date_valid(y, mo, d, h, mi, se))
		return false;
	*ret = calendar_days_from_civil(y, mo, d) * CALENDAR_SECS_PER_DAY + (int64_t)(h * 3600 + mi * 60 + se) - off;
	return true;
}

/* ------------------------------------------------------------ field helpers */

/* A string member of at most max characters (min 1 when nonempty). */
const char *rulefield_string_max(struct jcheck *c, const struct jnode *obj, const char *key,
				  unsigned flags, bool nonempty, size_t max, size_t *ret_len)
{
	const char *s = jcheck_string(c, obj, key, flags, ret_len);

	if (!s)
		return NULL;
	if ((nonempty && *ret_len == 0) || rulefield_utf8_chars(s, *ret_len) > max) {
		if (nonempty)
			jcheck_err_at(c, key, "must be 1 to %zu characters", max);
		else
			jcheck_err_at(c, key, "must be at most %zu characters", max);
		return NULL;
	}
	return s;
}

/* A JSONPath string member; NULL when absent or bad (reported). */
const char *rulefield_jsonpath(struct jcheck *c, const struct jnode *obj, const char *key,
				unsigned flags, size_t *ret_len)
{
	const char *s = jcheck_string(c, obj, key, flags, ret_len);
	const char *why;

	if (s && (why = rulefield_jsonpath_problem(s, *ret_len))) {
		jcheck_err_at(c, key, "invalid JSONPath: %s", why);
		return NULL;
	}
	return s;
}

/* An object item's validator, carried through jcheck_each_object(). */
struct object_item {
	void (*fn)(struct jcheck *c, const struct jnode *item);
};

static void object_item(struct jcheck *c, const struct jnode *item, size_t i, void *arg)
{
	const struct object_item *w = arg;

	(void)i;
	w->fn(c, item);
}

/* Checks that an optional array member has at most max items, each an object
 * validated by each_fn (called with the pointer at the item). */
void rulefield_object_array(struct jcheck *c, const struct jnode *obj, const char *key, size_t max,
			     void (*each_fn)(struct jcheck *c, const struct jnode *item))
{
	const struct jnode *a = jcheck_member(c, obj, key, JNODE_ARRAY, 0);
	struct object_item w = {each_fn};

	if (!a)
		return;
	if (a->len > max)
		jcheck_err_at(c, key, "must have at most %zu items", max);
	jcheck_each_object(c, a, key, object_item, &w);
}

