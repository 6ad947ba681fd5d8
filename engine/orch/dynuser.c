/*
 * dynuser.c — the dynamic-uid allocator (dynuser.h): a bitmap of the
 * range's held uids and a cursor for the next search.
 *
 * The bitmap takes one bit per uid of the range (the default 61184–65519,
 * 4,336 uids, is 542 bytes; the largest range config.c accepts, 2^31 - 1
 * uids, would be 256 MiB, so a range is limited to DYNUSER_MAX_RANGE).
 * dynuser_alloc() tries each free uid once from the cursor round to it and
 * skips those the passwd or group database knows: a host user's files and
 * processes are never handed to a task.
 */
#include "dynuser.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#define DYNUSER_MAX_RANGE ((uint32_t)1 << 24)   /* 2 MiB of bitmap */
#define LOOKUP_BUF 16384

struct dynuser {
	uint32_t min, n;      /* the range: [min, min + n) */
	uint32_t next;        /* offset to try first */
	uint32_t held;
	uint64_t bits[];
};

int dynuser_new(uint32_t min, uint32_t max, struct dynuser **ret)
{
	if (min == 0 || max < min || max - min >= DYNUSER_MAX_RANGE)
		return -EINVAL;
	uint32_t n = max - min + 1;
	struct dynuser *u = calloc(1, sizeof(*u) + ((size_t)n + 63) / 64 * sizeof(uint64_t));
	if (!u)
		return -ENOMEM;
	u->min = min;
	u->n = n;
	*ret = u;
	return 0;
}

void dynuser_free(struct dynuser *u)
{
	free(u);
}

static bool is_held(const struct dynuser *u, uint32_t off)
{
	return u->bits[off / 64] >> (off % 64) & 1;
}

/* Whether the host knows id as a user or a group (a failed lookup other
 * than "not found" counts as known: never hand out what may be someone's). */
static bool host_knows(uint32_t id)
{
	char buf[LOOKUP_BUF];
	struct passwd pw, *pres = NULL;
	struct group gr, *gres = NULL;
	int e = getpwuid_r((uid_t)id, &pw, buf, sizeof(buf), &pres);

	if (e || pres)
		return true;
	e = getgrgid_r((gid_t)id, &gr, buf, sizeof(buf), &gres);
	return e || gres;
}

int dynuser_alloc(struct dynuser *u, uint32_t *ret)
{
	for (uint32_t i = 0; i < u->n && u->held < u->n; i++) {
		uint32_t off = (u->next + i) % u->n;
		if (is_held(u, off) || host_knows(u->min + off))
			continue;
		u->bits[off / 64] |= (uint64_t)1 << (off % 64);
		u->held++;
		u->next = (off + 1) % u->n;
		*ret = u->min + off;
		return 0;
	}
	return -EAGAIN;
}

bool dynuser_hold(struct dynuser *u, uint32_t uid)
{
	if (uid < u->min || uid - u->min >= u->n)
		return false;
	uint32_t off = uid - u->min;
	if (!is_held(u, off)) {
		u->bits[off / 64] |= (uint64_t)1 << (off % 64);
		u->held++;
	}
	return true;
}

void dynuser_release(struct dynuser *u, uint32_t uid)
{
	if (uid < u->min || uid - u->min >= u->n)
		return;
	uint32_t off = uid - u->min;
	if (is_held(u, off)) {
		u->bits[off / 64] &= ~((uint64_t)1 << (off % 64));
		u->held--;
	}
}

uint32_t dynuser_held(const struct dynuser *u)
{
	return u->held;
}
