/*
 * schedule.h — EventBridge ScheduleExpression: rate(), cron() and at()
 * parsed and validated, and the next fire time computed in an IANA time zone
 * (ScheduleExpressionTimezone).
 *
 * A parsed schedule is immutable and may be shared by threads. Nothing here
 * reads the clock or logs: the caller passes every time as seconds since the
 * epoch (UTC). The only I/O is reading one TZif file from SCHEDULE_ZONEINFO_DIR
 * in schedule_zone_load() (and the functions that call it).
 *
 * Errors for people are written into a caller buffer `err` of `errlen` bytes
 * as a short sentence without a location, starting with the expression kind:
 * `cron: day-of-week: value 8 out of range 1-7`. The caller adds where the
 * expression came from.
 */
#ifndef TRIPLINE_RULES_SCHEDULE_H
#define TRIPLINE_RULES_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCHEDULE_MAX_EXPR 256              /* bytes in an expression */
#define SCHEDULE_MAX_LIST 60               /* items in one cron field list */
#define SCHEDULE_RATE_MAX_SECONDS 1000000000 /* longest rate() period */
#define SCHEDULE_YEAR_MIN 1970             /* cron() and at() years */
#define SCHEDULE_YEAR_MAX 2199
/* Times passed to schedule_next() must lie within ±SCHEDULE_EPOCH_LIMIT. */
#define SCHEDULE_EPOCH_LIMIT ((int64_t)1 << 40)

#ifndef SCHEDULE_ZONEINFO_DIR
#define SCHEDULE_ZONEINFO_DIR "/usr/share/zoneinfo"
#endif

enum schedule_kind {
	SCHEDULE_RATE,
	SCHEDULE_CRON,
	SCHEDULE_AT,
};

struct schedule;

/*
 * Parses expr[0..len) ("rate(5 minutes)", "cron(0 12 * * ? *)",
 * "at(2027-01-31T09:00:00)"). 0 with a new schedule in *ret, owned by the
 * caller; -EINVAL with a reason in err; -ENOMEM.
 */
int schedule_parse(const char *expr, size_t len, struct schedule **ret, char *err, size_t errlen);
void schedule_free(struct schedule *s);
enum schedule_kind schedule_get_kind(const struct schedule *s);

/* ------------------------------------------------------------- time zones
 *
 * A zone (timezone.c) is a TZif file (RFC 8536, versions 1-4) read once: its
 * transitions, and for times after the last one the footer's POSIX TZ rule
 * ("CET-1CEST,M3.5.0,M10.5.0/3"; M, J and plain-day rules). Zones with
 * leap-second tables ("right/…") are refused. A zone is immutable and may be
 * shared by threads. A NULL zone means UTC everywhere below.
 */
struct schedule_zone;

/*
 * Loads SCHEDULE_ZONEINFO_DIR/name. The name must look like an IANA name:
 * '/'-separated components that each start with a letter and hold only
 * letters, digits and "._+-" (so no "..", no absolute path). 0; -EINVAL for
 * such a name, or a file that is not a regular TZif file; -ENOENT when no
 * such zone; -ENOMEM; or another -errno from reading.
 */
int schedule_zone_load(const char *name, struct schedule_zone **ret);
/* Builds a zone from TZif bytes (for tests and fuzzing). 0, -EINVAL, -ENOMEM. */
int schedule_zone_from_tzif(const void *buf, size_t len, struct schedule_zone **ret);
void schedule_zone_free(struct schedule_zone *z);
/* The zone's offset from UTC in seconds (east positive) at instant t. */
int32_t schedule_zone_utc_offset(const struct schedule_zone *z, int64_t t);

/* True when tz names a loadable time zone (see schedule_zone_load()). */
bool schedule_tz_valid(const char *tz);

/* --------------------------------------------------------------- next fire
 *
 * The first fire time strictly after `after`, into *ret_next:
 *   rate()  anchor + k·period for an integer k ≥ 0 (anchor is when the rule
 *           was created or enabled); periods are elapsed seconds, so a day
 *           is always 86,400 s and the zone does not matter.
 *   cron()  matched against the wall clock of the zone. A wall time that does
 *           not exist (spring forward) is skipped; a wall time that occurs
 *           twice (fall back) fires once, at its first occurrence.
 *   at()    the wall time in the zone; if it does not exist, it is moved
 *           later by the length of the gap; if it occurs twice, the first.
 *           anchor is ignored by cron() and at().
 * Returns 0; -ENOENT when there is no later fire time (at() already past,
 * cron() years exhausted or a date that never occurs, such as 30 February);
 * -ERANGE when anchor or after lies outside ±SCHEDULE_EPOCH_LIMIT.
 */
int schedule_next_in_zone(const struct schedule *s, const struct schedule_zone *z,
			  int64_t anchor, int64_t after, int64_t *ret_next);
/*
 * schedule_next_in_zone() for a zone given by name (NULL means UTC), loading
 * the zone on every call. Additionally -EINVAL when tz is not a valid zone.
 */
int schedule_next(const struct schedule *s, const char *tz, int64_t anchor, int64_t after,
		  int64_t *ret_next);

#endif
