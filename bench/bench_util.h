/*
 * bench_util.h — small helpers the benchmark programs share.
 */
#ifndef TRIPLINE_BENCH_UTIL_H
#define TRIPLINE_BENCH_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

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

/* VmRSS of process pid (0: this process) in bytes, or a negative errno. */
static inline long long rss_of(pid_t pid)
{
	char path[64], line[256];
	long long kb = -ENOENT;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			char *end;

			errno = 0;
			kb = strtoll(line + 6, &end, 10);
			if (errno != 0 || end == line + 6 || kb < 0)
				kb = -EINVAL;
			break;
		}
	}
	fclose(f);
	return kb < 0 ? kb : kb * 1024;
}

static inline int bench_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Removes the bench's own temporary directory and everything in it, without
 * following symbolic links; what cannot be removed stays. */
static inline void bench_rm_tree(const char *dir)
{
	nftw(dir, bench_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
