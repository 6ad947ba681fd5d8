/*
 * fuzz_schedule.c — libFuzzer target for schedule expressions (rules/schedule.h):
 * rate(), cron() and at(), and the TZif time-zone reader.
 *
 * Input: an expression, optionally followed by "\n" and the bytes of a TZif
 * file. The expression either parses, or is rejected with a reason (which
 * starts with "rate: ", "cron: " or "at: " when the text starts with that
 * kind). A parsed schedule's next fire times are computed from several
 * instants in UTC, in Europe/Berlin (DST both ways) and in the input's zone
 * when it loads; each must hold what schedule.h promises:
 *   - the fire time lies strictly after `after`;
 *   - it is the first one: asking again from any instant between `after`
 *     and it (one second before it, halfway) gives the same time;
 *   - the fire times after it keep increasing, and a rate()'s are one
 *     period apart; an at() fires once;
 *   - in UTC and in Berlin, a cron()'s successive fire times show
 *     increasing wall-clock times (a wall time that occurs twice, when the
 *     clocks go back, fires once).
 * Nothing may crash, leak or trip the sanitizers.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct schedule_zone *berlin;

static void check_message(const char *expr, size_t len, const char *err, size_t errlen)
{
	static const char *const kinds[] = { "rate(", "cron(", "at(" };

	if (memchr(err, '\0', errlen) == NULL || err[0] == '\0')
		abort();   /* a rejection says why, in a terminated string */
	if (len > SCHEDULE_MAX_EXPR)
		return;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t n = strlen(kinds[k]);
		bool printable = true;

		for (size_t i = 0; i < len; i++)
			printable = printable && (unsigned char)expr[i] >= 0x20 && (unsigned char)expr[i] <= 0x7e;
		if (printable && len >= n && memcmp(expr, kinds[k], n) == 0 &&
		    (strncmp(err, kinds[k], n - 1) != 0 || strncmp(err + n - 1, ": ", 2) != 0))
			abort();   /* "cron: …" for a cron() expression */
	}
}

/* The first fire time strictly after `after`, or -1 when there is none. */
static int64_t next(const struct schedule *s, const struct schedule_zone *z, int64_t anchor, int64_t after)
{
	int64_t t = 0;
	int r = schedule_next_in_zone(s, z, anchor, after, &t);

	if (r == -ENOENT)
		return -1;
	if (r != 0 || t <= after)
		abort();
	return t;
}

/* The wall-clock time at t in zone z (NULL: UTC), as seconds. */
static int64_t wall(const struct schedule_zone *z, int64_t t)
{
	return t + (z ? schedule_zone_utc_offset(z, t) : 0);
}

static void check_next(const struct schedule *s, const struct schedule_zone *z, bool real_zone, int64_t anchor,
		       int64_t after)
{
	enum schedule_kind kind = schedule_get_kind(s);
	int64_t t1 = next(s, z, anchor, after), t2, t3;

	if (t1 < 0)
		return;
	if (next(s, z, anchor, t1 - 1) != t1 || next(s, z, anchor, after + (t1 - after) / 2) != t1)
		abort();   /* a fire time between after and t1 was skipped, or t1 is not one */
	if (t1 >= SCHEDULE_EPOCH_LIMIT - 1)
		return;
	t2 = next(s, z, anchor, t1);
	if (kind == SCHEDULE_AT) {
		if (t2 != -1)
			abort();   /* at() fires once */
		return;
	}
	if (t2 < 0 || t2 >= SCHEDULE_EPOCH_LIMIT - 1)
		return;        /* cron() years exhausted */
	t3 = next(s, z, anchor, t2);
	if (kind == SCHEDULE_RATE && t3 - t2 != t2 - t1)
		abort();   /* a rate() has one period */
	if (kind == SCHEDULE_CRON && real_zone &&
	    (wall(z, t2) <= wall(z, t1) || (t3 >= 0 && wall(z, t3) <= wall(z, t2))))
		abort();   /* a wall time fired twice, or the wall clock went back */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* 1970, 2015, 2025 around both DST changes in Berlin, 2100, 2199 */
	static const int64_t afters[] = { 0, 1440938160, 1743296399, 1761438600, 1761442200,
					  4102444800, 7226582400 };
	const char *expr = (const char *)data;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t len = nl ? (size_t)(nl - data) : size;
	struct schedule_zone *zone = NULL;
	struct schedule *s = NULL;
	char err[256];
	int r;

	if (!berlin && schedule_zone_load("Europe/Berlin", &berlin) < 0)
		abort();   /* tzdata is a test dependency */
	if (nl && schedule_zone_from_tzif(nl + 1, size - len - 1, &zone) == 0) {
		for (size_t i = 0; i < sizeof(afters) / sizeof(afters[0]); i++)
			(void)schedule_zone_utc_offset(zone, afters[i]);
	}

	memset(err, 'x', sizeof(err));
	r = schedule_parse(expr, len, &s, err, sizeof(err));
	if (r == 0) {
		int64_t anchor = 1440938160 - 12345;

		if (!s)
			abort();
		for (size_t i = 0; i < sizeof(afters) / sizeof(afters[0]); i++) {
			check_next(s, NULL, true, anchor, afters[i]);
			check_next(s, berlin, true, anchor, afters[i]);
			if (zone)
				check_next(s, zone, false, anchor, afters[i]);
		}
	} else if (r == -EINVAL) {
		if (s)
			abort();
		check_message(expr, len, err, sizeof(err));
	} else if (r != -ENOMEM) {
		abort();
	}
	schedule_free(s);
	schedule_zone_free(zone);
	return 0;
}
