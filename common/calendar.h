/*
 * calendar.h — the proleptic Gregorian calendar in plain integer arithmetic:
 * days since 1970-01-01 from a date and back, leap years, month lengths,
 * weekdays. No time zones (rules/timezone.c has those), no locale, no libc
 * time functions, so the answers are the same on every host and for any
 * year an int64_t day count can hold.
 *
 * Used wherever tripline reads or writes a date: schedule expressions and
 * rule dates (rules/), SigV4 timestamps (engine/sigv4.c).
 */
#ifndef TRIPLINE_COMMON_CALENDAR_H
#define TRIPLINE_COMMON_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>

#define CALENDAR_SECS_PER_DAY 86400

/* Days from 1970-01-01 to y-m-d (m 1–12, d 1–31; not checked: see
 * calendar_date_valid()). Negative before 1970. */
int64_t calendar_days_from_civil(int64_t y, unsigned m, unsigned d);

/* The date of a day count (the inverse of calendar_days_from_civil). */
void calendar_civil_from_days(int64_t days, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d);

bool calendar_is_leap_year(int64_t y);

/* 28–31; m must be 1–12. */
unsigned calendar_days_in_month(int64_t y, unsigned m);

/* Whether y-m-d hh:mm:ss names a real moment (no leap seconds). */
bool calendar_date_valid(int64_t y, unsigned m, unsigned d, unsigned hh, unsigned mm, unsigned ss);

/* Day of the week of a day count: 0 = Sunday … 6 = Saturday. */
unsigned calendar_weekday(int64_t days);

/* Seconds since the epoch of an ISO 8601 time as AWS takes it (PutEvents'
 * Time, the CLI's RFC 3339 options): YYYY-MM-DDTHH:MM:SS[.fraction] with Z,
 * ±HH:MM or ±HHMM (the fraction dropped), or a date alone (midnight UTC).
 * 0 and *ret, or -1. */
int calendar_parse_iso8601(const char *s, int64_t *ret);

/* Floor division by a positive divisor (rounds towards minus infinity). */
static inline int64_t calendar_floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && a < 0);
}

#endif
