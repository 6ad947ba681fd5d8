/*
 * schedule_internal.h — what the schedule source's files share (schedule.c:
 * the loop, the timer and the fires; schedule_plan.c: when a rule fires and
 * what it missed, as pure code; schedule_state.c: the persisted state).
 * Private to sources/.
 *
 * Times are seconds since the epoch (UTC) unless a name ends in _ms.
 *
 * A rule's record (struct sched_rule) holds what is persisted — the rate()
 * anchor, `handled` (every fire time up to it has been fired or given up)
 * and the latest fire emitted — and what the current generation of rules
 * says (borrowed pointers into it, valid while it is current).
 */
#ifndef TRIPLINE_SOURCES_SCHEDULE_INTERNAL_H
#define TRIPLINE_SOURCES_SCHEDULE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ruleset.h"
#include "strmap.h"

struct schedule;
struct schedule_zone;

#define SCHED_NONE INT64_MAX             /* no (more) fire time */
/* CatchUp ALL: at most this many missed times fired per rule per catch-up
 * (the most recent ones; the older ones are counted as missed). */
#define SCHEDULE_CATCH_UP_MAX 1440u
/* Missed cron()/at() times are enumerated at most this many per catch-up;
 * past it the count is a lower bound (rate() counts exactly). */
#define SCHEDULE_SCAN_MAX 100000u
/* A fire found later than this while running (the loop stalled, the host
 * slept, the clock stepped) is missed, and CatchUp decides about it. */
#define SCHEDULE_LATE_MAX_S 60
/* The state file, under data_dir. */
#define SCHEDULE_STATE_DIR "sources/schedule"
#define SCHEDULE_STATE_FILE "state.json"

struct sched_rule {
	struct strmap_node node;      /* by name */
	char *name;
	char *expr;                   /* the ScheduleExpression it was anchored with */
	/* from the current generation */
	const struct schedule *sched;
	const struct schedule_zone *zone;   /* NULL: UTC */
	const char *tz;               /* its name, or NULL */
	const char *arn;
	const char *bus;
	bool has_start, has_end;
	int64_t start_date, end_date;
	uint32_t offset_s;            /* FlexibleTimeWindow's delay (sched_flex_offset()) */
	enum rule_catch_up catch_up;
	/* persisted */
	int64_t anchor;               /* first seen enabled with this expression */
	int64_t handled;              /* every fire time <= handled is fired or given up */
	int64_t last_fire;            /* the latest fire time emitted, or SCHED_NONE */
	/* running */
	int64_t next;                 /* the next fire time, or SCHED_NONE */
	int64_t due_ms;               /* when to fire it (next + offset, or a retry) */
	size_t heap_i;                /* SIZE_MAX: not in the heap */
	uint64_t epoch;               /* fires in flight for another epoch are stale */
	bool in_flight;               /* submitted, the ingest has not answered */
	bool retrying;                /* the ingest could not take it: due again at due_ms */
	bool catching_up;             /* firing missed times up to cut (LATEST, ALL) */
	int64_t cut;
	bool seen;                    /* marks during a rebuild */
};

/* ------------------------------------------------------ schedule_plan.c */

/* The first fire time strictly after `after` within StartDate..EndDate
 * (both inclusive), or SCHED_NONE. */
int64_t sched_next_after(const struct sched_rule *r, int64_t after);

/* A deterministic delay in [0, window_min·60) from the rule's name. */
uint32_t sched_flex_offset(const char *name, uint32_t window_min);

/* The fire times in (after, cut]. */
struct sched_missed {
	uint64_t n;                   /* how many (a lower bound when capped) */
	bool capped;                  /* more than SCHEDULE_SCAN_MAX cron()/at() times */
	int64_t latest;               /* the most recent, or SCHED_NONE when n is 0 */
	int64_t keep_after;           /* the last `keep` of them are after this time */
};
/* ring: scratch room for keep + 1 times. */
void sched_missed(const struct sched_rule *r, int64_t after, int64_t cut, uint32_t keep,
		  int64_t *ring, struct sched_missed *ret);

/* What a catch-up decided for one rule: apply it with sched_catch_up(). */
struct sched_catch_up {
	uint64_t skipped;             /* missed times given up */
	const char *reason;           /* their tripline_schedule_missed_total reason */
	bool capped;                  /* skipped is a lower bound */
};
/*
 * The missed fire times of r — those in (r->handled, cut] — dealt with as
 * its CatchUp says: NONE gives them all up, LATEST keeps the most recent,
 * ALL keeps the most recent SCHEDULE_CATCH_UP_MAX. Sets r->handled, r->next
 * (a kept missed time, or the first time after cut), r->catching_up and
 * r->cut; the skipped ones are described in *ret.
 */
void sched_catch_up(struct sched_rule *r, int64_t cut, int64_t *ring, struct sched_catch_up *ret);

/* ----------------------------------------------------- schedule_state.c */

/* A rule's persisted record, as read back. */
struct sched_saved {
	struct strmap_node node;
	char *name;
	char *expr;
	int64_t anchor, handled, last_fire;   /* last_fire SCHED_NONE: none */
};

/*
 * Reads path into map (struct sched_saved by name). 0 (also when there is
 * no file: an empty map); -EINVAL with a reason in err for a file that is not
 * a state file (the caller moves it aside); -ENOMEM or another -errno.
 */
int sched_state_load(const char *path, struct strmap *map, char *err, size_t errlen);
void sched_state_free(struct strmap *map);

/* The state of n rules as the file's text: 0 and *ret (malloc'd,
 * NUL-terminated) and *ret_len, or -ENOMEM. */
int sched_state_render(struct sched_rule *const *rules, size_t n, char **ret, size_t *ret_len);

#endif
