/*
 * calendar.c — date arithmetic of the proleptic Gregorian calendar.
 *
 * The day-count conversions are Howard Hinnant's era algorithms
 * ("chrono-Compatible Low-Level Date Algorithms"): a 400-year era has
 * 146,097 days, and counting years from March puts the leap day last, so
 * the day of the year follows from the month by one linear formula.
 */
#include "calendar.h"

#include <stdio.h>

int64_t calendar_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = calendar_floor_div(y, 400);
	int64_t yoe = y - era * 400;                                      /* [0, 399] */
	int64_t doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (int64_t)d - 1;   /* [0, 365] */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;              /* [0, 146096] */
	return era * 146097 + doe - 719468;
}

void calendar_civil_from_days(int64_t days, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d)
{
	int64_t z = days + 719468;
	int64_t era = calendar_floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);

	*ret_d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*ret_m = m;
	*ret_y = yoe + era * 400 + (m <= 2);
}

bool calendar_is_leap_year(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned calendar_days_in_month(int64_t y, unsigned m)
{
	static const unsigned char mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && calendar_is_leap_year(y) ? 29u : mdays[m - 1];
}

bool calendar_date_valid(int64_t y, unsigned m, unsigned d, unsigned hh, unsigned mm, unsigned ss)
{
	return m >= 1 && m <= 12 && d >= 1 && d <= calendar_days_in_month(y, m) && hh <= 23 && mm <= 59 &&
	       ss <= 59;
}

unsigned calendar_weekday(int64_t days)
{
	/* 1970-01-01 was a Thursday */
	return (unsigned)((days % 7 + 7 + 4) % 7);
}

int calendar_parse_iso8601(const char *s, int64_t *ret)
{
	unsigned y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0;
	int n = 0, sign = 0;
	const char *p;

	if (sscanf(s, "%4u-%2u-%2u%n", &y, &mo, &d, &n) != 3 || n != 10)
		return -1;
	p = s + n;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if (sscanf(p + 1, "%2u:%2u:%2u%n", &h, &mi, &sec, &n) != 3 || n != 8)
			return -1;
		p += 1 + n;
		if (*p == '.' || *p == ',') {
			p++;
			if (*p < '0' || *p > '9')
				return -1;
			while (*p >= '0' && *p <= '9')
				p++;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p == '-' ? -1 : 1;
			if (sscanf(p + 1, "%2u:%2u%n", &oh, &om, &n) == 2 && n == 5)
				p += 1 + n;
			else if (sscanf(p + 1, "%2u%2u%n", &oh, &om, &n) == 2 && n == 4)
				p += 1 + n;
			else
				return -1;
		} else {
			return -1; /* a time without a zone is ambiguous */
		}
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59)
		return -1;
	*ret = calendar_days_from_civil(y, mo, d) * CALENDAR_SECS_PER_DAY + h * 3600 + mi * 60 + sec -
	       sign * (int64_t)(oh * 3600 + om * 60);
	return 0;
}
