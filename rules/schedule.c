/*
 * schedule.c — EventBridge schedule expressions: parsing, validation and the
 * next fire time, in UTC or in an IANA time zone.
 *
 * Parsing. schedule_parse() checks the envelope (length, printable ASCII,
 * "rate(" / "cron(" / "at(" … ")", all lower case) and hands the inside to
 * one parser per kind. rate() becomes a period in seconds: one space between
 * value and unit and no other whitespace, no sign, no leading zero, singular
 * unit for 1 and plural otherwise. at() becomes a wall-clock time in seconds,
 * a real calendar date in 1970-2199 without leap seconds. cron() becomes one
 * bit set per field (bit i means "field minimum + i") plus a mode for the day
 * fields' special forms. Its grammar follows EventBridge's cron reference and
 * Quartz, from which EventBridge's syntax comes:
 *   - names and the letters L and W are case-insensitive; numbers may have
 *     leading zeros ("05");
 *   - '/' increments (a/n, a-b/n, and '*' with /n) are allowed in every field
 *     but day-of-week, as in EventBridge's table;
 *   - a range whose start exceeds its end wraps around as in Quartz
 *     (FRI-MON, 22-2, NOV-FEB), except in the year field, where it is an error;
 *   - L, LW and nW (day-of-month) and L, nL and n#k (day-of-week) must be the
 *     field's whole value (EventBridge: "3#1,6#3" is invalid); a lone L in
 *     day-of-week is Saturday; nW never crosses into another month and does
 *     not fire in months shorter than n days;
 *   - exactly one of day-of-month and day-of-week is "?".
 *
 * Next fire time. cron() is searched field by field over the zone's wall
 * clock (year, month, that month's matching days as a mask, hour, minute)
 * from the minute after the wall time of `after`. Each candidate is mapped
 * to UTC; one that does not exist (spring forward) or whose first occurrence
 * is not after `after` (fall back: that wall time already fired) is passed
 * over, which is EventBridge Scheduler's documented DST behaviour. The search
 * stops at SCHEDULE_YEAR_MAX or after CRON_MAX_REJECTS passed-over
 * candidates, so it is bounded for any input.
 *
 * Time zones are timezone.c's: a zone's offset at an instant, and wall time
 * mapped back to UTC (timezone_resolve()).
 *
 * Contract: pure code (schedule_next() loads its zone through timezone.c);
 * no global state; a parsed schedule is immutable. Errors for people go to
 * err.
 */
#include "schedule.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "timezone.h"

#define SECS_PER_DAY CALENDAR_SECS_PER_DAY
#define CRON_MAX_REJECTS 10000      /* > minutes in the longest gap or overlap */

/* ------------------------------------------------------------------ errors */

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen > 0) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* ----------------------------------------------------------------- calendar */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static char to_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* 1 = Sunday … 7 = Saturday, EventBridge's numbering. */
static int weekday(int64_t days)
{
	return (int)calendar_weekday(days) + 1;
}

static int days_in_month(int64_t y, int m)
{
	return (int)calendar_days_in_month(y, (unsigned)m);
}

/* --------------------------------------------------------------- structures */

struct bitset {
	uint64_t w[4];   /* bit i: field minimum + i */
};

enum cron_dom {
	CRON_DOM_ANY,             /* "?" */
	CRON_DOM_SET,
	CRON_DOM_LAST,            /* L */
	CRON_DOM_LAST_WEEKDAY,    /* LW */
	CRON_DOM_NEAREST_WEEKDAY, /* nW */
};

enum cron_dow {
	CRON_DOW_ANY,             /* "?" */
	CRON_DOW_SET,
	CRON_DOW_LAST,            /* nL */
	CRON_DOW_NTH,             /* n#k */
};

struct cron {
	struct bitset minutes, hours, dom, months, dow, years;
	enum cron_dom dom_mode;
	enum cron_dow dow_mode;
	int dom_day;     /* NEAREST_WEEKDAY: 1-31 */
	int dow_day;     /* LAST, NTH: 1-7 */
	int dow_nth;     /* NTH: 1-5 */
};

struct schedule {
	enum schedule_kind kind;
	union {
		int64_t rate_period;   /* seconds */
		struct cron cron;
		int64_t at_wall;       /* wall-clock seconds since 1970-01-01T00:00:00 */
	} u;
};

static void bitset_add(struct bitset *b, int i)
{
	b->w[i / 64] |= UINT64_C(1) << (i % 64);
}

static bool bitset_has(const struct bitset *b, int i)
{
	return (b->w[i / 64] >> (i % 64)) & 1;
}

/* The first set bit in [from, to], or -1. */
static int bitset_next(const struct bitset *b, int from, int to)
{
	for (int i = from; i <= to; i++)
		if (bitset_has(b, i))
			return i;
	return -1;
}

/* -------------------------------------------------------------------- rate */

static int parse_rate(const char *s, size_t n, int64_t *ret_period, char *err, size_t errlen)
{
	static const struct {
		const char *singular, *plural;
		int64_t seconds;
	} units[] = {
		{ "minute", "minutes", 60 },
		{ "hour", "hours", 3600 },
		{ "day", "days", SECS_PER_DAY },
	};
	size_t i = 0;

	while (i < n && is_digit(s[i]))
		i++;
	if (i < n && s[i] == ' ' && (i == 0 || i + 1 == n || s[i + 1] == ' ' ||
				     memchr(s + i + 1, ' ', n - i - 1)))
		return fail(err, errlen, "rate: expected a value and a unit separated by a single space");
	if (i == 0 || (s[0] == '0' && i == 1))
		return fail(err, errlen, "rate: value must be a positive integer");
	if (i == n)
		return fail(err, errlen, "rate: missing unit");
	if (is_alpha(s[i]))
		return fail(err, errlen, "rate: expected a value and a unit separated by a single space");
	if (s[i] != ' ')
		return fail(err, errlen, "rate: value must be a positive integer");
	if (s[0] == '0')
		return fail(err, errlen, "rate: value must not have leading zeros");

	const char *unit = s + i + 1;
	size_t ulen = n - i - 1;
	size_t u;

	for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
		if ((strlen(units[u].singular) == ulen && !memcmp(unit, units[u].singular, ulen)) ||
		    (strlen(units[u].plural) == ulen && !memcmp(unit, units[u].plural, ulen)))
			break;
	if (u == sizeof(units) / sizeof(units[0]))
		return fail(err, errlen, "rate: unit must be one of minute, minutes, hour, hours, day, days");

	bool plural = ulen == strlen(units[u].plural);
	bool one = i == 1 && s[0] == '1';

	if (one && plural)
		return fail(err, errlen, "rate: unit must be \"%s\" for a value of 1", units[u].singular);
	if (!one && !plural)
		return fail(err, errlen, "rate: unit must be \"%s\" for a value greater than 1",
			    units[u].plural);

	/* Ten digits bound the value below 2^34, so the product cannot overflow. */
	int64_t v = 0;

	if (i > 10)
		goto too_long;
	for (size_t k = 0; k < i; k++)
		v = v * 10 + (s[k] - '0');
	if (v * units[u].seconds > SCHEDULE_RATE_MAX_SECONDS)
		goto too_long;
	*ret_period = v * units[u].seconds;
	return 0;

too_long:
	return fail(err, errlen, "rate: period too long: at most %d seconds",
		    SCHEDULE_RATE_MAX_SECONDS);
}

/* -------------------------------------------------------------------- cron */

struct cron_field {
	const char *name;
	int min, max;
	const char *names;   /* three letters per value from min, or NULL */
	bool step;           /* '/' allowed */
	bool wrap;           /* a reversed range wraps around */
};

enum { F_MINUTES, F_HOURS, F_DOM, F_MONTH, F_DOW, F_YEAR, F_COUNT };

static const struct cron_field cron_fields[F_COUNT] = {
	[F_MINUTES] = { "minutes", 0, 59, NULL, true, true },
	[F_HOURS] = { "hours", 0, 23, NULL, true, true },
	[F_DOM] = { "day-of-month", 1, 31, NULL, true, true },
	[F_MONTH] = { "month", 1, 12, "JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC", true, true },
	[F_DOW] = { "day-of-week", 1, 7, "SUNMONTUEWEDTHUFRISAT", false, true },
	[F_YEAR] = { "year", SCHEDULE_YEAR_MIN, SCHEDULE_YEAR_MAX, NULL, true, false },
};

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return n > 0;
}

/* Nine digits at most, so no overflow; callers reject longer runs first. */
static long digits_value(const char *s, size_t n)
{
	long v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* One value of field f: a number in range or, where the field has them, a name. */
static int parse_value(const struct cron_field *f, const char *s, size_t n, int *ret,
		       char *err, size_t errlen)
{
	if (n == 0)
		return fail(err, errlen, "cron: %s: missing value", f->name);
	if (all_digits(s, n)) {
		long v = n > 9 ? -1 : digits_value(s, n);

		if (v < f->min || v > f->max)
			return fail(err, errlen, "cron: %s: value %.*s out of range %d-%d", f->name,
				    (int)n, s, f->min, f->max);
		*ret = (int)v;
		return 0;
	}
	if (f->names && n == 3) {
		for (int i = 0; i <= f->max - f->min; i++) {
			const char *name = f->names + 3 * i;

			if (to_upper(s[0]) == name[0] && to_upper(s[1]) == name[1] &&
			    to_upper(s[2]) == name[2]) {
				*ret = f->min + i;
				return 0;
			}
		}
	}
	return fail(err, errlen, "cron: %s: invalid value \"%.*s\"", f->name, (int)n, s);
}

/* One list item: '*', a, a-b, each optionally followed by /step. */
static int parse_item(const struct cron_field *f, const char *s, size_t n, struct bitset *set,
		      char *err, size_t errlen)
{
	const char *slash = memchr(s, '/', n);
	size_t rn = slash ? (size_t)(slash - s) : n;
	int span = f->max - f->min + 1;
	int lo, hi, step = 1;
	int r;

	if (slash) {
		const char *st = slash + 1;
		size_t sn = n - rn - 1;

		if (!f->step)
			return fail(err, errlen, "cron: %s: increments (\"/\") are not allowed", f->name);
		if (!all_digits(st, sn))
			return fail(err, errlen, "cron: %s: invalid increment \"%.*s\"", f->name,
				    (int)sn, st);
		long v = sn > 9 ? -1 : digits_value(st, sn);

		if (v < 1 || v > span)
			return fail(err, errlen, "cron: %s: increment %.*s out of range 1-%d", f->name,
				    (int)sn, st, span);
		step = (int)v;
	}

	if (rn == 1 && s[0] == '*') {
		lo = f->min;
		hi = f->max;
	} else {
		const char *dash = memchr(s, '-', rn);

		if (dash) {
			size_t ln = (size_t)(dash - s);

			r = parse_value(f, s, ln, &lo, err, errlen);
			if (r < 0)
				return r;
			r = parse_value(f, dash + 1, rn - ln - 1, &hi, err, errlen);
			if (r < 0)
				return r;
			if (lo > hi && !f->wrap)
				return fail(err, errlen, "cron: %s: range %d-%d must not wrap around",
					    f->name, lo, hi);
		} else {
			r = parse_value(f, s, rn, &lo, err, errlen);
			if (r < 0)
				return r;
			hi = slash ? f->max : lo;
		}
	}

	int count = lo <= hi ? hi - lo + 1 : hi - lo + span + 1;

	for (int i = 0; i < count; i += step) {
		int v = lo + i;

		if (v > f->max)
			v -= span;
		bitset_add(set, v - f->min);
	}
	return 0;
}

static int parse_list(const struct cron_field *f, const char *s, size_t n, struct bitset *set,
		      char *err, size_t errlen)
{
	size_t start = 0;
	int items = 0;

	if (memchr(s, '?', n))
		return fail(err, errlen, f == &cron_fields[F_DOM] || f == &cron_fields[F_DOW]
			    ? "cron: %s: \"?\" must be used alone"
			    : "cron: %s: \"?\" is only allowed in day-of-month and day-of-week",
			    f->name);
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ',')
			continue;
		if (++items > SCHEDULE_MAX_LIST)
			return fail(err, errlen, "cron: %s: more than %d list items", f->name,
				    SCHEDULE_MAX_LIST);
		if (i == start)
			return fail(err, errlen, "cron: %s: empty list item", f->name);
		int r = parse_item(f, s + start, i - start, set, err, errlen);

		if (r < 0)
			return r;
		start = i + 1;
	}
	return 0;
}

static bool has_any(const char *s, size_t n, const char *chars)
{
	for (size_t i = 0; i < n; i++)
		if (strchr(chars, s[i]))
			return true;
	return false;
}

static int parse_dom(struct cron *c, const char *s, size_t n, char *err, size_t errlen)
{
	const struct cron_field *f = &cron_fields[F_DOM];

	if (n == 1 && s[0] == '?') {
		c->dom_mode = CRON_DOM_ANY;
		return 0;
	}
	if (!has_any(s, n, "LlWw")) {
		c->dom_mode = CRON_DOM_SET;
		return parse_list(f, s, n, &c->dom, err, errlen);
	}
	if (n == 1 && to_upper(s[0]) == 'L') {
		c->dom_mode = CRON_DOM_LAST;
		return 0;
	}
	if (n == 2 && to_upper(s[0]) == 'L' && to_upper(s[1]) == 'W') {
		c->dom_mode = CRON_DOM_LAST_WEEKDAY;
		return 0;
	}
	if (n >= 2 && to_upper(s[n - 1]) == 'W' && all_digits(s, n - 1)) {
		c->dom_mode = CRON_DOM_NEAREST_WEEKDAY;
		return parse_value(f, s, n - 1, &c->dom_day, err, errlen);
	}
	return fail(err, errlen, "cron: day-of-month: \"%.*s\": L and W must be used alone, as L, LW or nW",
		    (int)n, s);
}

static int parse_dow(struct cron *c, const char *s, size_t n, char *err, size_t errlen)
{
	const struct cron_field *f = &cron_fields[F_DOW];
	const char *hash = memchr(s, '#', n);

	if (n == 1 && s[0] == '?') {
		c->dow_mode = CRON_DOW_ANY;
		return 0;
	}
	if (hash) {
		size_t ln = (size_t)(hash - s);
		const char *k = hash + 1;
		size_t kn = n - ln - 1;

		if (has_any(s, n, ",-/*?") || memchr(k, '#', kn))
			return fail(err, errlen, "cron: day-of-week: \"%.*s\": \"#\" must be used alone, as n#k",
				    (int)n, s);
		int r = parse_value(f, s, ln, &c->dow_day, err, errlen);

		if (r < 0)
			return r;
		if (!all_digits(k, kn) || kn > 1 || k[0] < '1' || k[0] > '5')
			return fail(err, errlen, "cron: day-of-week: occurrence \"%.*s\" out of range 1-5",
				    (int)kn, k);
		c->dow_mode = CRON_DOW_NTH;
		c->dow_nth = k[0] - '0';
		return 0;
	}
	/* No day name contains an L, so an L anywhere is the "last" wildcard. */
	if (has_any(s, n, "Ll")) {
		if (n == 1) {
			c->dow_mode = CRON_DOW_SET;
			bitset_add(&c->dow, 7 - f->min);
			return 0;
		}
		if (has_any(s, n, ",-/*?") || to_upper(s[n - 1]) != 'L')
			return fail(err, errlen, "cron: day-of-week: \"%.*s\": L must be used alone, as L or nL",
				    (int)n, s);
		c->dow_mode = CRON_DOW_LAST;
		return parse_value(f, s, n - 1, &c->dow_day, err, errlen);
	}
	c->dow_mode = CRON_DOW_SET;
	return parse_list(f, s, n, &c->dow, err, errlen);
}

static int parse_cron(const char *s, size_t n, struct cron *c, char *err, size_t errlen)
{
	const char *field[F_COUNT];
	size_t flen[F_COUNT];
	int count = 0;
	size_t start = 0;
	int r;

	for (size_t i = 0; i < n; i++)
		if (s[i] == ' ' && (i == 0 || i == n - 1 || s[i + 1] == ' '))
			return fail(err, errlen, "cron: fields must be separated by single spaces");
	for (size_t i = 0; n > 0 && i <= n; i++) {
		if (i < n && s[i] != ' ')
			continue;
		if (count < F_COUNT) {
			field[count] = s + start;
			flen[count] = i - start;
		}
		count++;
		start = i + 1;
	}
	if (count != F_COUNT)
		return fail(err, errlen,
			    "cron: expected 6 fields (minutes hours day-of-month month day-of-week year), found %d",
			    count);

	r = parse_list(&cron_fields[F_MINUTES], field[F_MINUTES], flen[F_MINUTES], &c->minutes, err, errlen);
	if (r < 0)
		return r;
	r = parse_list(&cron_fields[F_HOURS], field[F_HOURS], flen[F_HOURS], &c->hours, err, errlen);
	if (r < 0)
		return r;
	r = parse_dom(c, field[F_DOM], flen[F_DOM], err, errlen);
	if (r < 0)
		return r;
	r = parse_list(&cron_fields[F_MONTH], field[F_MONTH], flen[F_MONTH], &c->months, err, errlen);
	if (r < 0)
		return r;
	r = parse_dow(c, field[F_DOW], flen[F_DOW], err, errlen);
	if (r < 0)
		return r;
	r = parse_list(&cron_fields[F_YEAR], field[F_YEAR], flen[F_YEAR], &c->years, err, errlen);
	if (r < 0)
		return r;

	if (c->dom_mode == CRON_DOM_ANY && c->dow_mode == CRON_DOW_ANY)
		return fail(err, errlen, "cron: day-of-month and day-of-week cannot both be \"?\"");
	if (c->dom_mode != CRON_DOM_ANY && c->dow_mode != CRON_DOW_ANY)
		return fail(err, errlen, "cron: one of day-of-month and day-of-week must be \"?\"");
	return 0;
}

/* ---------------------------------------------------------------------- at */

static int parse_at(const char *s, size_t n, int64_t *ret_wall, char *err, size_t errlen)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";

	if (n != sizeof(shape) - 1)
		goto bad_shape;
	for (size_t i = 0; i < n; i++)
		if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i])
			goto bad_shape;

	int y = (int)digits_value(s, 4), mo = (int)digits_value(s + 5, 2);
	int d = (int)digits_value(s + 8, 2), h = (int)digits_value(s + 11, 2);
	int mi = (int)digits_value(s + 14, 2), sec = (int)digits_value(s + 17, 2);

	if (y < SCHEDULE_YEAR_MIN || y > SCHEDULE_YEAR_MAX)
		return fail(err, errlen, "at: year %d out of range %d-%d", y, SCHEDULE_YEAR_MIN,
			    SCHEDULE_YEAR_MAX);
	if (mo < 1 || mo > 12)
		return fail(err, errlen, "at: month %d out of range 1-12", mo);
	if (d < 1 || d > days_in_month(y, mo))
		return fail(err, errlen, "at: day %d out of range 1-%d for %04d-%02d", d,
			    days_in_month(y, mo), y, mo);
	if (h > 23)
		return fail(err, errlen, "at: hour %d out of range 0-23", h);
	if (mi > 59)
		return fail(err, errlen, "at: minute %d out of range 0-59", mi);
	if (sec > 59)
		return fail(err, errlen, "at: second %d out of range 0-59", sec);
	*ret_wall = calendar_days_from_civil(y, mo, d) * SECS_PER_DAY + h * 3600 + mi * 60 + sec;
	return 0;

bad_shape:
	return fail(err, errlen, "at: expected a date-time as yyyy-mm-ddThh:mm:ss");
}

/* ------------------------------------------------------------------- parse */

int schedule_parse(const char *expr, size_t len, struct schedule **ret, char *err, size_t errlen)
{
	static const struct {
		const char *prefix;
		enum schedule_kind kind;
	} kinds[] = {
		{ "rate(", SCHEDULE_RATE },
		{ "cron(", SCHEDULE_CRON },
		{ "at(", SCHEDULE_AT },
	};
	struct schedule tmp;
	size_t plen = 0;
	int r;

	*ret = NULL;
	if (len == 0)
		return fail(err, errlen, "schedule expression is empty");
	if (len > SCHEDULE_MAX_EXPR)
		return fail(err, errlen, "schedule expression is longer than %d bytes", SCHEDULE_MAX_EXPR);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)expr[i] < 0x20 || (unsigned char)expr[i] > 0x7e)
			return fail(err, errlen,
				    "schedule expression has a control or non-ASCII byte at offset %zu", i);

	memset(&tmp, 0, sizeof(tmp));
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t n = strlen(kinds[k].prefix);

		if (len >= n && !memcmp(expr, kinds[k].prefix, n)) {
			tmp.kind = kinds[k].kind;
			plen = n;
			break;
		}
	}
	if (plen == 0)
		return fail(err, errlen, "schedule expression must be rate(...), cron(...) or at(...)");
	if (len == plen || expr[len - 1] != ')')
		return fail(err, errlen, "%.*s: missing \")\" at the end", (int)(plen - 1), expr);

	const char *in = expr + plen;
	size_t n = len - plen - 1;

	switch (tmp.kind) {
	case SCHEDULE_RATE:
		r = parse_rate(in, n, &tmp.u.rate_period, err, errlen);
		break;
	case SCHEDULE_CRON:
		r = parse_cron(in, n, &tmp.u.cron, err, errlen);
		break;
	case SCHEDULE_AT:
	default:
		r = parse_at(in, n, &tmp.u.at_wall, err, errlen);
		break;
	}
	if (r < 0)
		return r;

	struct schedule *s = malloc(sizeof(*s));

	if (!s)
		return -ENOMEM;
	*s = tmp;
	*ret = s;
	return 0;
}

void schedule_free(struct schedule *s)
{
	free(s);
}

enum schedule_kind schedule_get_kind(const struct schedule *s)
{
	return s->kind;
}

/* --------------------------------------------------------------- next fire */

/* The weekday (1 = Sunday) of day `day` in a month whose first day is weekday wd1. */
static int weekday_in_month(int wd1, int day)
{
	return (wd1 - 1 + day - 1) % 7 + 1;
}

/* Bit d (1-31) set for each day of month m of year y that the day fields match. */
static uint32_t cron_day_mask(const struct cron *c, int64_t y, int m)
{
	int dim = days_in_month(y, m);
	int wd1 = weekday(calendar_days_from_civil(y, m, 1));
	uint32_t mask = 0;
	int d, wd;

	switch (c->dom_mode) {
	case CRON_DOM_SET:
		for (d = 1; d <= dim; d++)
			if (bitset_has(&c->dom, d - 1))
				mask |= UINT32_C(1) << d;
		return mask;
	case CRON_DOM_LAST:
		return UINT32_C(1) << dim;
	case CRON_DOM_LAST_WEEKDAY:
		d = dim;
		wd = weekday_in_month(wd1, d);
		d -= wd == 7 ? 1 : wd == 1 ? 2 : 0;
		return UINT32_C(1) << d;
	case CRON_DOM_NEAREST_WEEKDAY:
		/* The nearest weekday within the same month, as in Quartz. */
		d = c->dom_day;
		if (d > dim)
			return 0;
		wd = weekday_in_month(wd1, d);
		if (wd == 7)
			d = d == 1 ? 3 : d - 1;
		else if (wd == 1)
			d = d == dim ? d - 2 : d + 1;
		return UINT32_C(1) << d;
	case CRON_DOM_ANY:
	default:
		break;
	}
	switch (c->dow_mode) {
	case CRON_DOW_SET:
		for (d = 1; d <= dim; d++)
			if (bitset_has(&c->dow, weekday_in_month(wd1, d) - 1))
				mask |= UINT32_C(1) << d;
		return mask;
	case CRON_DOW_LAST:
		d = dim - (weekday_in_month(wd1, dim) - c->dow_day + 7) % 7;
		return UINT32_C(1) << d;
	case CRON_DOW_NTH:
		d = 1 + (c->dow_day - wd1 + 7) % 7 + 7 * (c->dow_nth - 1);
		return d <= dim ? UINT32_C(1) << d : 0;
	case CRON_DOW_ANY:
	default:
		return 0;
	}
}

/* The first wall-clock minute (minutes since 1970-01-01T00:00 local) ≥ from
 * that the fields match, or -1 when there is none up to SCHEDULE_YEAR_MAX. */
static int64_t cron_next_wall(const struct cron *c, int64_t from)
{
	int64_t days = calendar_floor_div(from, 1440);
	int minute_of_day = (int)(from - days * 1440);
	int h = minute_of_day / 60, mi = minute_of_day % 60;
	int64_t y;
	unsigned umo, ud;

	calendar_civil_from_days(days, &y, &umo, &ud);
	int mo = (int)umo, d = (int)ud;
	if (y < SCHEDULE_YEAR_MIN) {
		y = SCHEDULE_YEAR_MIN;
		mo = d = 1;
		h = mi = 0;
	}
	while (y <= SCHEDULE_YEAR_MAX) {
		if (mo > 12 || !bitset_has(&c->years, (int)(y - SCHEDULE_YEAR_MIN))) {
			y++;
			mo = d = 1;
			h = mi = 0;
			continue;
		}
		if (!bitset_has(&c->months, mo - 1) || d > days_in_month(y, mo)) {
			mo++;
			d = 1;
			h = mi = 0;
			continue;
		}
		uint32_t mask = cron_day_mask(c, y, mo) & ~((UINT32_C(1) << d) - 1);

		if (!mask) {
			mo++;
			d = 1;
			h = mi = 0;
			continue;
		}
		int nd = d;

		while (!(mask & (UINT32_C(1) << nd)))
			nd++;
		if (nd != d) {
			d = nd;
			h = mi = 0;
		}
		int hh = bitset_next(&c->hours, h, 23);

		if (hh < 0) {
			d++;
			h = mi = 0;
			continue;
		}
		if (hh != h) {
			h = hh;
			mi = 0;
		}
		int mm = bitset_next(&c->minutes, mi, 59);

		if (mm < 0) {
			h++;
			mi = 0;
			if (h > 23) {
				d++;
				h = 0;
			}
			continue;
		}
		return (calendar_days_from_civil(y, mo, d) * 24 + h) * 60 + mm;
	}
	return -1;
}

static int cron_next(const struct cron *c, const struct schedule_zone *z, int64_t after,
		     int64_t *ret_next)
{
	int64_t wall = after + schedule_zone_utc_offset(z, after);
	int64_t from = calendar_floor_div(wall, 60) + 1;

	for (int rejects = 0; rejects < CRON_MAX_REJECTS; rejects++) {
		int64_t m = cron_next_wall(c, from);
		int64_t t;

		if (m < 0)
			return -ENOENT;
		if (timezone_resolve(z, m * 60, &t) && t > after) {
			*ret_next = t;
			return 0;
		}
		from = m + 1;
	}
	return -ENOENT;
}

int schedule_next_in_zone(const struct schedule *s, const struct schedule_zone *z,
			  int64_t anchor, int64_t after, int64_t *ret_next)
{
	int64_t t;

	if (after < -SCHEDULE_EPOCH_LIMIT || after > SCHEDULE_EPOCH_LIMIT ||
	    anchor < -SCHEDULE_EPOCH_LIMIT || anchor > SCHEDULE_EPOCH_LIMIT)
		return -ERANGE;
	switch (s->kind) {
	case SCHEDULE_RATE:
		if (after < anchor)
			*ret_next = anchor;
		else
			*ret_next = anchor + ((after - anchor) / s->u.rate_period + 1) * s->u.rate_period;
		return 0;
	case SCHEDULE_CRON:
		return cron_next(&s->u.cron, z, after, ret_next);
	case SCHEDULE_AT:
	default:
		timezone_resolve(z, s->u.at_wall, &t);
		if (t <= after)
			return -ENOENT;
		*ret_next = t;
		return 0;
	}
}

int schedule_next(const struct schedule *s, const char *tz, int64_t anchor, int64_t after,
		  int64_t *ret_next)
{
	struct schedule_zone *z = NULL;
	int r;

	if (tz) {
		r = schedule_zone_load(tz, &z);
		/* -ENOENT must keep meaning "no next fire time". */
		if (r == -ENOENT)
			return -EINVAL;
		if (r < 0)
			return r;
	}
	r = schedule_next_in_zone(s, z, anchor, after, ret_next);
	schedule_zone_free(z);
	return r;
}
