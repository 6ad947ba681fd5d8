/*
 * schedule_plan.c — when a scheduled rule fires, and what it does about the
 * fire times it missed (schedule_internal.h). Pure code: the caller passes
 * every time; nothing here reads the clock, logs or allocates.
 *
 * A rule's fire times are rules/schedule.h's (rate(): anchor + k·period,
 * k >= 1; cron() and at() in the rule's zone) that lie within StartDate and
 * EndDate, both inclusive.
 *
 * Missed times (those in (handled, cut]) are counted by arithmetic for
 * rate() and one by one for cron() and at(), at most SCHEDULE_SCAN_MAX of
 * them; then the scan jumps to the last SCHEDULE_SCAN_MAX minutes before
 * cut (no two fire times are less than a minute apart, so the times kept are
 * all in there) and the count becomes a lower bound.
 */
#include "schedule_internal.h"

#include "schedule.h"

int64_t sched_next_after(const struct sched_rule *r, int64_t after)
{
	int64_t t;

	if (!r->sched)
		return SCHED_NONE;
	if (r->has_start && after < r->start_date - 1)
		after = r->start_date - 1;
	if (schedule_next_in_zone(r->sched, r->zone, r->anchor, after, &t) < 0)
		return SCHED_NONE;
	if (r->has_end && t > r->end_date)
		return SCHED_NONE;
	return t;
}

uint32_t sched_flex_offset(const char *name, uint32_t window_min)
{
	uint64_t h = 1469598103934665603u;

	if (!window_min)
		return 0;
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211u;
	return (uint32_t)(h % ((uint64_t)window_min * 60u));
}

/* rate(): the times are anchor + k·period. */
static void missed_rate(const struct sched_rule *r, int64_t after, int64_t cut, uint32_t keep,
			struct sched_missed *m)
{
	int64_t first = sched_next_after(r, after), period;

	if (first == SCHED_NONE || first > cut)
		return;
	if (schedule_next_in_zone(r->sched, NULL, r->anchor, r->anchor, &period) < 0)
		return;
	period -= r->anchor;
	if (r->has_end && cut > r->end_date)
		cut = r->end_date;
	int64_t k_first = (first - r->anchor) / period;
	int64_t k_last = (cut - r->anchor) / period;   /* cut >= first > anchor */
	m->n = (uint64_t)(k_last - k_first + 1);
	m->latest = r->anchor + k_last * period;
	if (m->n > keep)
		m->keep_after = r->anchor + (k_last - (int64_t)keep) * period;
}

void sched_missed(const struct sched_rule *r, int64_t after, int64_t cut, uint32_t keep,
		  int64_t *ring, struct sched_missed *ret)
{
	struct sched_missed m = {0, false, SCHED_NONE, after};

	if (cut > after && r->sched && schedule_get_kind(r->sched) == SCHEDULE_RATE) {
		missed_rate(r, after, cut, keep, &m);
	} else if (cut > after && r->sched) {
		int64_t t = after;
		uint64_t steps = 0;
		bool jumped = false;

		for (;;) {
			int64_t next = sched_next_after(r, t);
			if (next == SCHED_NONE || next > cut)
				break;
			ring[m.n % ((uint64_t)keep + 1)] = next;
			m.n++;
			m.latest = t = next;
			if (++steps == SCHEDULE_SCAN_MAX && !jumped) {
				int64_t to = cut - (int64_t)60 * SCHEDULE_SCAN_MAX;
				jumped = true;
				if (to > t) {
					t = to;
					m.capped = true;
				}
			}
		}
		if (m.n > keep)
			m.keep_after = ring[(m.n - keep - 1) % ((uint64_t)keep + 1)];
	}
	*ret = m;
}

void sched_catch_up(struct sched_rule *r, int64_t cut, int64_t *ring, struct sched_catch_up *ret)
{
	uint32_t keep = r->catch_up == RULE_CATCH_UP_ALL ? SCHEDULE_CATCH_UP_MAX
		      : r->catch_up == RULE_CATCH_UP_LATEST ? 1 : 0;
	struct sched_missed m;

	*ret = (struct sched_catch_up){0, NULL, false};
	r->catching_up = false;
	if (cut <= r->handled) {
		r->next = sched_next_after(r, r->handled);
		return;
	}
	sched_missed(r, r->handled, cut, keep, ring, &m);
	ret->capped = m.capped;
	if (m.n == 0 || r->catch_up == RULE_CATCH_UP_NONE) {
		ret->skipped = m.n;
		ret->reason = "catch_up_none";
		r->handled = cut;
		r->next = sched_next_after(r, cut);
	} else if (r->catch_up == RULE_CATCH_UP_LATEST) {
		ret->skipped = m.n - 1;
		ret->reason = "catch_up_latest";
		r->handled = m.latest - 1;
		r->next = m.latest;
		r->catching_up = true;
		r->cut = cut;
	} else {
		if (m.n > keep) {
			ret->skipped = m.n - keep;
			ret->reason = "catch_up_bound";
		}
		r->handled = m.keep_after;
		r->next = sched_next_after(r, r->handled);
		r->catching_up = true;
		r->cut = cut;
	}
}
