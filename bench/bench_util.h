/*
 * bench_util.h — small helpers the benchmark programs share.
 */
#ifndef TRIPLINE_BENCH_UTIL_H
#define TRIPLINE_BENCH_UTIL_H

#include <errno.h>
#include <stdlib.h>

/* Parses a decimal unsigned integer in [min, max]; no sign, no trailing text.
 * 0, -EINVAL (not a number) or -ERANGE. */
static inline int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

#endif
