/*
 * timezone.c — IANA time zones for schedules: a zone read from its TZif file,
 * its offset from UTC at any instant, and wall time mapped back to UTC.
 *
 * A TZif reader (RFC 8536, versions 1-4) keeps the transition times and
 * offsets, and the footer's POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"; M,
 * J and plain-day dates) for times after the last transition. Every count,
 * offset and the file's size is bounded before anything is allocated, and
 * zones with leap-second tables ("right/…") are refused. Wall time → UTC
 * (timezone_resolve(), for schedule.c) tries each offset in effect within
 * ±26 hours of the wall time (sampled every 13 hours, so two transitions
 * closer than that could be missed; tzdata has none since 1970) and keeps
 * the earliest instant whose offset agrees.
 *
 * Contract: pure code apart from reading the TZif file named by
 * schedule_zone_load(); no global state; a loaded zone is immutable and may
 * be shared by threads; a NULL zone is UTC.
 */
#include "timezone.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calendar.h"

#define SECS_PER_DAY CALENDAR_SECS_PER_DAY
#define ZONE_NAME_MAX 255
#define ZONE_MAX_FILE (1 << 20)
#define ZONE_MAX_COUNT (1 << 16)
#define ZONE_MAX_OFFSET (26 * 3600)

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* -------------------------------------------------------------- structures */

struct posix_date {
	char kind;        /* 'M' (Mm.w.d), 'J' (Jn, 1-365, no Feb 29) or 'N' (n, 0-365) */
	int m, w, d;      /* M: month, week 1-5 (5 = last), weekday 0-6 (0 = Sunday); J, N: d */
	int32_t time;     /* local time of the change, seconds; may be negative or > 24 h */
};

/* A footer rule; offsets are seconds east of UTC (POSIX writes them west). */
struct posix_rule {
	int32_t std_off, dst_off;
	bool has_dst;
	struct posix_date start, end;
};

struct schedule_zone {
	size_t ntrans, ntypes;
	int64_t *trans;          /* ascending transition instants */
	uint8_t *trans_type;     /* index into type_off for each transition */
	int32_t *type_off;
	bool has_rule;
	struct posix_rule rule;
	int64_t data[];          /* trans, then type_off, then trans_type */
};

/* ---------------------------------------------------------- POSIX TZ rules */

struct cursor {
	const char *s;
	size_t n, i;
};

static bool cur_eat(struct cursor *c, char ch)
{
	if (c->i < c->n && c->s[c->i] == ch) {
		c->i++;
		return true;
	}
	return false;
}

static bool cur_number(struct cursor *c, int max_digits, int *ret)
{
	int v = 0, k = 0;

	while (k < max_digits && c->i < c->n && is_digit(c->s[c->i])) {
		v = v * 10 + (c->s[c->i++] - '0');
		k++;
	}
	*ret = v;
	return k > 0;
}

/* "<+0330>" or at least three letters; the name itself is not needed. */
static bool posix_name(struct cursor *c)
{
	size_t start = c->i;

	if (cur_eat(c, '<')) {
		while (c->i < c->n && c->s[c->i] != '>') {
			char ch = c->s[c->i];

			if (!is_alpha(ch) && !is_digit(ch) && ch != '+' && ch != '-')
				return false;
			c->i++;
		}
		return cur_eat(c, '>') && c->i - start >= 5;
	}
	while (c->i < c->n && is_alpha(c->s[c->i]))
		c->i++;
	return c->i - start >= 3;
}

/* [+-]hh[:mm[:ss]] with hh ≤ max_hours, as signed seconds. */
static bool posix_hms(struct cursor *c, int max_hours, int32_t *ret)
{
	int sign = 1, h, m = 0, s = 0;

	if (cur_eat(c, '-'))
		sign = -1;
	else
		cur_eat(c, '+');
	if (!cur_number(c, 3, &h) || h > max_hours)
		return false;
	if (cur_eat(c, ':') && (!cur_number(c, 2, &m) || m > 59))
		return false;
	if (cur_eat(c, ':') && (!cur_number(c, 2, &s) || s > 59))
		return false;
	*ret = sign * (h * 3600 + m * 60 + s);
	return true;
}

static bool posix_date(struct cursor *c, struct posix_date *d)
{
	if (cur_eat(c, 'M')) {
		d->kind = 'M';
		if (!cur_number(c, 2, &d->m) || d->m < 1 || d->m > 12 || !cur_eat(c, '.') ||
		    !cur_number(c, 1, &d->w) || d->w < 1 || d->w > 5 || !cur_eat(c, '.') ||
		    !cur_number(c, 1, &d->d) || d->d > 6)
			return false;
	} else if (cur_eat(c, 'J')) {
		d->kind = 'J';
		if (!cur_number(c, 3, &d->d) || d->d < 1 || d->d > 365)
			return false;
	} else {
		d->kind = 'N';
		if (!cur_number(c, 3, &d->d) || d->d > 365)
			return false;
	}
	d->time = 7200;
	return !cur_eat(c, '/') || posix_hms(c, 167, &d->time);
}

/* The footer: "std offset [dst [offset] ,start[/time],end[/time]]". */
static bool posix_rule_parse(const char *s, size_t n, struct posix_rule *r)
{
	struct cursor c = { s, n, 0 };
	int32_t off;

	memset(r, 0, sizeof(*r));
	if (!posix_name(&c) || !posix_hms(&c, 24, &off))
		return false;
	r->std_off = -off;
	if (c.i == c.n)
		return true;
	if (!posix_name(&c))
		return false;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (c.i < c.n && c.s[c.i] != ',') {
		if (!posix_hms(&c, 24, &off))
			return false;
		r->dst_off = -off;
	}
	/* A DST name without rules leaves the dates to the implementation: refuse. */
	return cur_eat(&c, ',') && posix_date(&c, &r->start) && cur_eat(&c, ',') &&
	       posix_date(&c, &r->end) && c.i == c.n;
}

/* Days since the epoch of the local date a rule names in year y. */
static int64_t posix_date_days(const struct posix_date *d, int64_t y)
{
	int64_t jan1 = calendar_days_from_civil(y, 1, 1);

	if (d->kind == 'J')
		return jan1 + d->d - 1 + (calendar_is_leap_year(y) && d->d >= 60);
	if (d->kind == 'N')
		return jan1 + d->d;

	int64_t first = calendar_days_from_civil(y, d->m, 1);
	int day = 1 + (d->d - (int)calendar_weekday(first) + 7) % 7 + 7 * (d->w - 1);

	while (day > (int)calendar_days_in_month(y, (unsigned)d->m))
		day -= 7;
	return first + day - 1;
}

static int32_t posix_rule_offset(const struct posix_rule *r, int64_t t)
{
	int64_t y;
	unsigned m, d;

	if (!r->has_dst)
		return r->std_off;
	calendar_civil_from_days(calendar_floor_div(t + r->std_off, SECS_PER_DAY), &y, &m, &d);

	/* The start time is given in standard time, the end time in DST. */
	int64_t start = posix_date_days(&r->start, y) * SECS_PER_DAY + r->start.time - r->std_off;
	int64_t end = posix_date_days(&r->end, y) * SECS_PER_DAY + r->end.time - r->dst_off;
	bool dst = start < end ? t >= start && t < end : !(t >= end && t < start);

	return dst ? r->dst_off : r->std_off;
}

/* ----------------------------------------------------------------- offsets */

int32_t schedule_zone_utc_offset(const struct schedule_zone *z, int64_t t)
{
	if (!z)
		return 0;
	if (z->ntrans == 0 || t >= z->trans[z->ntrans - 1]) {
		if (z->has_rule)
			return posix_rule_offset(&z->rule, t);
		return z->type_off[z->ntrans ? z->trans_type[z->ntrans - 1] : 0];
	}
	if (t < z->trans[0])
		return z->type_off[0];

	size_t lo = 0, hi = z->ntrans - 1;   /* trans[lo] <= t < trans[hi] */

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->type_off[z->trans_type[lo]];
}

bool timezone_resolve(const struct schedule_zone *z, int64_t wall, int64_t *ret_t)
{
	int32_t cand[5];
	size_t nc = 0;
	bool found = false;
	int64_t best = 0;
	int32_t min_off = INT32_MAX;

	if (!z) {
		*ret_t = wall;
		return true;
	}
	for (int p = -2; p <= 2; p++) {
		int32_t o = schedule_zone_utc_offset(z, wall + p * 13 * 3600);
		size_t k = 0;

		while (k < nc && cand[k] != o)
			k++;
		if (k == nc)
			cand[nc++] = o;
	}
	for (size_t k = 0; k < nc; k++) {
		int64_t t = wall - cand[k];

		if (cand[k] < min_off)
			min_off = cand[k];
		if (schedule_zone_utc_offset(z, t) == cand[k] && (!found || t < best)) {
			best = t;
			found = true;
		}
	}
	*ret_t = found ? best : wall - min_off;
	return found;
}

/* -------------------------------------------------------------- TZif files */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_header {
	char version;
	size_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static bool tzif_header(const uint8_t *p, size_t avail, struct tzif_header *h)
{
	if (avail < 44 || memcmp(p, "TZif", 4) || (p[4] != 0 && p[4] < '2'))
		return false;
	h->version = (char)p[4];
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	/* Bounding every count keeps the block size far from overflow. */
	return h->isutcnt <= ZONE_MAX_COUNT && h->isstdcnt <= ZONE_MAX_COUNT &&
	       h->leapcnt <= ZONE_MAX_COUNT && h->timecnt <= ZONE_MAX_COUNT &&
	       h->typecnt <= ZONE_MAX_COUNT && h->charcnt <= ZONE_MAX_COUNT;
}

static size_t tzif_block_size(const struct tzif_header *h, size_t tsize)
{
	return h->timecnt * (tsize + 1) + h->typecnt * 6 + h->charcnt + h->leapcnt * (tsize + 4) +
	       h->isstdcnt + h->isutcnt;
}

int schedule_zone_from_tzif(const void *buf, size_t len, struct schedule_zone **ret)
{
	const uint8_t *p = buf;
	struct tzif_header h;
	struct posix_rule rule;
	bool has_rule = false;
	size_t off = 44, tsize = 4;

	*ret = NULL;
	if (!tzif_header(p, len, &h))
		return -EINVAL;
	if (h.version != 0) {
		/* Skip the 32-bit block: the 64-bit one and the footer follow it. */
		off += tzif_block_size(&h, 4);
		if (off > len || !tzif_header(p + off, len - off, &h))
			return -EINVAL;
		off += 44;
		tsize = 8;
	}
	/* Leap-second ("right/") zones count TAI-like seconds; refuse them. */
	if (h.typecnt == 0 || h.typecnt > 256 || h.leapcnt != 0 || len - off < tzif_block_size(&h, tsize))
		return -EINVAL;

	const uint8_t *tp = p + off;
	const uint8_t *ip = tp + h.timecnt * tsize;
	const uint8_t *ttp = ip + h.timecnt;
	size_t end = off + tzif_block_size(&h, tsize);

	for (size_t i = 0; i < h.typecnt; i++) {
		int32_t o = (int32_t)be32(ttp + 6 * i);

		if (o < -ZONE_MAX_OFFSET || o > ZONE_MAX_OFFSET)
			return -EINVAL;
	}
	for (size_t i = 0; i < h.timecnt; i++) {
		if (ip[i] >= h.typecnt)
			return -EINVAL;
		if (i > 0 && (tsize == 8 ? be64(tp + 8 * i) <= be64(tp + 8 * (i - 1))
					 : (int32_t)be32(tp + 4 * i) <= (int32_t)be32(tp + 4 * (i - 1))))
			return -EINVAL;
	}
	if (h.version != 0) {
		const uint8_t *nl;

		if (end >= len || p[end] != '\n')
			return -EINVAL;
		nl = memchr(p + end + 1, '\n', len - end - 1);
		if (!nl)
			return -EINVAL;
		size_t flen = (size_t)(nl - (p + end + 1));

		if (flen > 0) {
			if (!posix_rule_parse((const char *)p + end + 1, flen, &rule) ||
			    rule.std_off < -ZONE_MAX_OFFSET || rule.std_off > ZONE_MAX_OFFSET ||
			    rule.dst_off < -ZONE_MAX_OFFSET || rule.dst_off > ZONE_MAX_OFFSET)
				return -EINVAL;
			has_rule = true;
		}
	}

	struct schedule_zone *z = calloc(1, sizeof(*z) + h.timecnt * sizeof(int64_t) +
					 h.typecnt * sizeof(int32_t) + h.timecnt);

	if (!z)
		return -ENOMEM;
	z->ntrans = h.timecnt;
	z->ntypes = h.typecnt;
	z->trans = z->data;
	z->type_off = (int32_t *)(z->trans + h.timecnt);
	z->trans_type = (uint8_t *)(z->type_off + h.typecnt);
	for (size_t i = 0; i < h.timecnt; i++) {
		z->trans[i] = tsize == 8 ? be64(tp + 8 * i) : (int32_t)be32(tp + 4 * i);
		z->trans_type[i] = ip[i];
	}
	for (size_t i = 0; i < h.typecnt; i++)
		z->type_off[i] = (int32_t)be32(ttp + 6 * i);
	z->has_rule = has_rule;
	if (has_rule)
		z->rule = rule;
	*ret = z;
	return 0;
}

void schedule_zone_free(struct schedule_zone *z)
{
	free(z);
}

/* ----------------------------------------------------------- zones by name */

static bool tz_name_ok(const char *name)
{
	size_t n = strlen(name);
	bool component_start = true;

	if (n == 0 || n > ZONE_NAME_MAX || strstr(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (c == '/') {
			if (component_start)
				return false;
			component_start = true;
		} else if (component_start) {
			if (!is_alpha(c))
				return false;
			component_start = false;
		} else if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '_' && c != '+' && c != '-') {
			return false;
		}
	}
	return !component_start;
}

int schedule_zone_load(const char *name, struct schedule_zone **ret)
{
	char path[sizeof(SCHEDULE_ZONEINFO_DIR) + 1 + ZONE_NAME_MAX + 1];
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd, r;

	*ret = NULL;
	if (!name || !tz_name_ok(name))
		return -EINVAL;
	memcpy(path, SCHEDULE_ZONEINFO_DIR "/", sizeof(SCHEDULE_ZONEINFO_DIR));
	memcpy(path + sizeof(SCHEDULE_ZONEINFO_DIR), name, strlen(name) + 1);

	/* Symlinks are followed (UTC → Etc/UTC); O_NONBLOCK so a FIFO cannot hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 44 || st.st_size > ZONE_MAX_FILE) {
		r = -EINVAL;
		goto out_close;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		r = -ENOMEM;
		goto out_close;
	}
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			goto out_free;
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	r = schedule_zone_from_tzif(buf, got, ret);

out_free:
	free(buf);
out_close:
	close(fd);
	return r;
}

bool schedule_tz_valid(const char *tz)
{
	struct schedule_zone *z;

	if (schedule_zone_load(tz, &z) < 0)
		return false;
	schedule_zone_free(z);
	return true;
}
