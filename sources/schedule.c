/*
 * schedule.c — the schedule source (source.h): every enabled rule with a
 * ScheduleExpression fires at its times, as EventBridge's scheduled rules do.
 *
 * A fire is one envelope (DESIGN.md §3): source "aws.events", detail-type
 * "Scheduled Event", resources [the rule's ARN], detail {}, time = the
 * scheduled time (not when it was emitted), id = event_id_digest(rule name,
 * scheduled time in decimal seconds), so a fire emitted late or twice is the
 * same event. It names its rule (event->rule): it goes to that rule's
 * targets only and is never matched against patterns. It is submitted with
 * ingest_submit() (journalled); once the ingest says 0 the fire time is
 * recorded as handled. A full bus (-EAGAIN) or journal is retried shortly
 * with the same event; a refusal (no such bus, too deep) is counted as a
 * miss with reason "refused".
 *
 * Timing. The rules wait in a min-heap ordered by when each is due (its
 * next fire time plus its FlexibleTimeWindow delay) and one uv timer is
 * armed for the earliest, so rules cost nothing between fires. The timer
 * is capped at SCHEDULE_RECHECK_MS, so a wall clock stepped forward delays a
 * fire by at most that much. Time zones are loaded once per generation of
 * rules.
 *
 * State (schedule_state.c) is written to data_dir/sources/schedule/state.json
 * 0.5–1.5 s after a change, at a half second (fire times are whole seconds),
 * on the threadpool, and when the daemon exits. Rules are matched with it by
 * name:
 *   - a rule first seen enabled is anchored then (rate() fires at anchor +
 *     k·period, k >= 1) and has missed nothing;
 *   - a rule whose expression changed (across a reload or a restart), or
 *     that was disabled and is enabled again, is anchored anew at that
 *     moment; other changes (zone, dates, window) keep the anchor and skip
 *     any fire time they would put in the past;
 *   - a rule removed or disabled loses its state.
 * At start, fire times due before the daemon started (to the millisecond)
 * and not handled yet are missed; they follow the rule's
 * CatchUp (schedule_plan.c): NONE gives them up, LATEST fires the latest,
 * ALL fires each, at most SCHEDULE_CATCH_UP_MAX (the latest ones); what is
 * given up is counted in tripline_schedule_missed_total and logged. A fire
 * found more than SCHEDULE_LATE_MAX_S late while running (a stalled loop, a
 * sleeping host) is a miss treated the same way.
 *
 * A crash between the journal taking a fire and the state recording it
 * re-emits that fire under LATEST or ALL (the same id), besides the
 * journal's own replay; NONE counts it as missed.
 */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "event.h"
#include "ingest.h"
#include "logger.h"
#include "metrics.h"
#include "rulegen.h"
#include "schedule.h"
#include "schedule_internal.h"
#include "statefile.h"

#define RETRY_FULL_MS 100        /* the bus was full */
#define RETRY_ERROR_MS 1000      /* the journal could not take it */
#define MAX_BATCHES 64u          /* ingest batches in flight: 4,096 fires */
#define SAVE_PHASE_MS 500      /* saves start half a second off the fires' whole seconds */
#define SCHEDULE_RECHECK_MS 60000

struct zone_ref {
	char *name;
	struct schedule_zone *zone;
};

struct fire {
	char *name;
	int64_t t;
	uint64_t epoch;
	int64_t late_ms;             /* behind its due time when submitted (wall clock) */
};

struct batch {
	struct source *s;
	uint64_t submitted_ns;       /* uv_hrtime() */
	size_t n;
	struct fire f[INGEST_MAX_BATCH];
	struct event *ev[INGEST_MAX_BATCH];
};

struct source {
	struct source_env env;
	char *dir;
	uv_timer_t timer, save_timer;
	uv_work_t save_work;
	char *save_buf;
	size_t save_len;
	int save_result;
	bool saving, dirty, stopped;
	struct strmap rules;         /* struct sched_rule by name */
	size_t n_rules;
	struct sched_rule **heap;    /* by due_ms */
	size_t heap_n, heap_cap;
	struct rulegen *gen;         /* the generation the rules' pointers are into */
	struct zone_ref *zones;
	size_t n_zones;
	uint64_t epochs;
	unsigned batches;
	int64_t *ring;               /* SCHEDULE_CATCH_UP_MAX + 1 times: catch-up scratch */
	struct metric *m_events, *m_fires, *m_missed, *m_late, *m_rules;
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t floor_s(int64_t ms)
{
	return ms / 1000 - (ms % 1000 < 0);
}

/* ------------------------------------------------------------------ heap */

static void heap_set(struct source *s, size_t i, struct sched_rule *r)
{
	s->heap[i] = r;
	r->heap_i = i;
}

static void heap_up(struct source *s, size_t i)
{
	struct sched_rule *r = s->heap[i];

	while (i > 0 && s->heap[(i - 1) / 2]->due_ms > r->due_ms) {
		heap_set(s, i, s->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(s, i, r);
}

static void heap_down(struct source *s, size_t i)
{
	struct sched_rule *r = s->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->heap_n)
			break;
		if (c + 1 < s->heap_n && s->heap[c + 1]->due_ms < s->heap[c]->due_ms)
			c++;
		if (s->heap[c]->due_ms >= r->due_ms)
			break;
		heap_set(s, i, s->heap[c]);
		i = c;
	}
	heap_set(s, i, r);
}

static void heap_remove(struct source *s, struct sched_rule *r)
{
	size_t i = r->heap_i;

	if (i == SIZE_MAX)
		return;
	r->heap_i = SIZE_MAX;
	if (i == --s->heap_n)
		return;
	heap_set(s, i, s->heap[s->heap_n]);
	heap_up(s, i);
	heap_down(s, s->heap[i]->heap_i);
}

/* Room for every rule (each is in the heap at most once) and one more. */
static int heap_reserve(struct source *s)
{
	if (s->n_rules < s->heap_cap)
		return 0;
	size_t cap = s->heap_cap ? 2 * s->heap_cap : 64;
	struct sched_rule **h = realloc(s->heap, cap * sizeof(*h));
	if (!h)
		return -ENOMEM;
	s->heap = h;
	s->heap_cap = cap;
	return 0;
}

/* Puts r in the heap at due_ms (already set), or takes it out when it has
 * no next fire or is in flight. The heap has room for every rule
 * (heap_reserve() before adding one). */
static void place(struct source *s, struct sched_rule *r)
{
	if (r->next == SCHED_NONE || r->in_flight) {
		heap_remove(s, r);
		return;
	}
	if (r->heap_i == SIZE_MAX) {
		r->heap_i = s->heap_n++;
		s->heap[r->heap_i] = r;
	}
	heap_up(s, r->heap_i);
	heap_down(s, r->heap_i);
}

static void place_next(struct source *s, struct sched_rule *r)
{
	r->due_ms = r->next == SCHED_NONE ? INT64_MAX : (r->next + r->offset_s) * 1000;
	place(s, r);
}

/* ----------------------------------------------------------------- state */

static void save_work(uv_work_t *w)
{
	struct source *s = w->data;

	s->save_result = statefile_write(s->dir, SCHEDULE_STATE_FILE, s->save_buf, s->save_len, true);
}

static int render(struct source *s, char **ret, size_t *ret_len)
{
	struct sched_rule **v = malloc((s->n_rules ? s->n_rules : 1) * sizeof(*v));
	size_t n = 0;
	int r;

	if (!v)
		return -ENOMEM;
	for (size_t b = 0; b < s->rules.nbuckets; b++)
		for (struct strmap_node *p = s->rules.buckets[b]; p; p = p->next)
			v[n++] = strmap_entry(p, struct sched_rule, node);
	r = sched_state_render(v, n, ret, ret_len);
	free(v);
	return r;
}

static void on_save_timer(uv_timer_t *h);

static void save_later(struct source *s)
{
	/* within 0.5–1.5 s, at a half second: fire times are whole seconds
	 * (retries aside), so rendering the state does not delay them */
	if (!s->saving && !s->stopped && !uv_is_active((uv_handle_t *)&s->save_timer)) {
		int64_t ms = wall_ms() % 1000;
		uv_timer_start(&s->save_timer, on_save_timer, (uint64_t)(1000 + SAVE_PHASE_MS - (ms < 0 ? 0 : ms)), 0);
	}
}

static void mark_dirty(struct source *s)
{
	s->dirty = true;
	save_later(s);
}

static void save_done(uv_work_t *w, int status)
{
	struct source *s = w->data;

	(void)status;
	s->saving = false;
	free(s->save_buf);
	s->save_buf = NULL;
	if (s->save_result < 0) {
		log_warn("schedule", "cannot write %s/%s: %s", s->dir, SCHEDULE_STATE_FILE,
			 strerror(-s->save_result));
		s->dirty = true;
	}
	if (s->dirty)
		save_later(s);
}

static void on_save_timer(uv_timer_t *h)
{
	struct source *s = h->data;

	if (s->stopped || s->saving)
		return;
	if (render(s, &s->save_buf, &s->save_len) < 0) {
		save_later(s);
		return;
	}
	s->dirty = false;
	s->saving = true;
	s->save_work.data = s;
	if (uv_queue_work(s->env.loop, &s->save_work, save_work, save_done) < 0) {
		s->saving = false;
		free(s->save_buf);
		s->save_buf = NULL;
		s->dirty = true;
		save_later(s);
	}
}

/* ----------------------------------------------------------------- fires */

static void arm(struct source *s);

static void count_missed(struct source *s, const char *rule, const struct sched_catch_up *c)
{
	if (!c->skipped)
		return;
	metric_add(s->m_missed, &c->reason, (double)c->skipped);
	log_warn("schedule", "rule %s: %s%llu fire time%s missed (%s)", rule, c->capped ? "at least " : "",
		 (unsigned long long)c->skipped, c->skipped == 1 ? "" : "s", c->reason);
}

static void catch_up(struct source *s, struct sched_rule *r, int64_t cut)
{
	struct sched_catch_up c;

	sched_catch_up(r, cut, s->ring, &c);
	count_missed(s, r->name, &c);
	mark_dirty(s);
}

/* r's fire time was handled: on to the next. */
static void advance(struct source *s, struct sched_rule *r)
{
	r->next = sched_next_after(r, r->handled);
	if (r->catching_up && (r->next == SCHED_NONE || r->next > r->cut))
		r->catching_up = false;
	place_next(s, r);
}

static void on_ingested(void *arg, const int *results, size_t n)
{
	struct batch *b = arg;
	struct source *s = b->s;
	double since_ms = (double)(uv_hrtime() - b->submitted_ns) / 1e6;

	s->batches--;
	for (size_t i = 0; i < n && i < b->n; i++) {
		struct fire *f = &b->f[i];
		struct strmap_node *node = strmap_find(&s->rules, f->name);
		struct sched_rule *r = node ? strmap_entry(node, struct sched_rule, node) : NULL;
		int res = results[i];

		if (r && r->epoch != f->epoch)
			r = NULL;   /* removed, or anchored anew, since */
		if (r)
			r->in_flight = r->retrying = false;
		if (res == 0) {
			metric_add(s->m_fires, NULL, 1);
			metric_add(s->m_events, (const char *const[]){"schedule", "schedule"}, 1);
			metric_observe(s->m_late, NULL, ((double)f->late_ms + since_ms) / 1000.0);
		} else if (res == -ENOENT || res == -ELOOP || res == -EINVAL) {
			metric_add(s->m_missed, (const char *const[]){"refused"}, 1);
			log_warn("schedule", "rule %s: the fire of %lld refused: %s", f->name, (long long)f->t,
				 strerror(-res));
		}
		if (r && (res == 0 || res == -ENOENT || res == -ELOOP || res == -EINVAL)) {
			if (f->t > r->handled)
				r->handled = f->t;
			if (res == 0 && (r->last_fire == SCHED_NONE || f->t > r->last_fire))
				r->last_fire = f->t;
			s->dirty = true;
			if (!s->stopped) {
				mark_dirty(s);
				advance(s, r);
			}
		} else if (r && res != -ECANCELED && !s->stopped) {
			/* the same fire again shortly, whatever its lateness by then */
			if (res != -EAGAIN)
				log_warn("schedule", "rule %s: the fire of %lld not taken (%s): retried",
					 f->name, (long long)f->t, strerror(-res));
			r->due_ms = wall_ms() + (res == -EAGAIN ? RETRY_FULL_MS : RETRY_ERROR_MS);
			r->retrying = true;
			place(s, r);
		}
		free(f->name);
	}
	free(b);
	arm(s);
}

static void submit(struct source *s, struct batch *b)
{
	if (!b->n) {
		free(b);
		return;
	}
	s->batches++;
	b->submitted_ns = uv_hrtime();
	ingest_submit(s->env.ingest, b->ev, b->n, on_ingested, b);
	for (size_t i = 0; i < b->n; i++)
		event_unref(b->ev[i]);
}

/* Adds r's next fire to b. 0, or -errno (r is then retried later). */
static int fire(struct source *s, struct sched_rule *r, struct batch *b, int64_t now_ms)
{
	const struct tripline_config *cfg = s->env.cfg;
	char when[24], id[37];
	const char *parts[2] = {r->name, when};
	struct event *ev = NULL;
	int rc;

	snprintf(when, sizeof(when), "%lld", (long long)r->next);
	event_id_digest(parts, 2, id);
	struct event_fields f = {
		.id = id,
		.source = "aws.events",
		.detail_type = "Scheduled Event",
		.detail = "{}",
		.detail_len = 2,
		.resources = &r->arn,
		.n_resources = 1,
		.time_s = r->next,
		.account = cfg->account,
		.region = cfg->region,
	};
	if ((rc = event_build(&f, r->bus, &ev)) < 0)
		return rc;
	if (event_set_rule(ev, r->name) < 0 || !(b->f[b->n].name = strdup(r->name))) {
		event_unref(ev);
		return -ENOMEM;
	}
	b->f[b->n].t = r->next;
	b->f[b->n].epoch = r->epoch;
	b->f[b->n].late_ms = now_ms - (r->next + r->offset_s) * 1000;
	b->ev[b->n++] = ev;
	r->in_flight = true;
	return 0;
}

static void on_timer(uv_timer_t *h)
{
	struct source *s = h->data;
	int64_t now_ms = wall_ms(), now_s = floor_s(now_ms);
	struct batch *b = NULL;

	while (s->heap_n && s->heap[0]->due_ms <= now_ms && s->batches < MAX_BATCHES) {
		struct sched_rule *r = s->heap[0];
		heap_remove(s, r);
		if (!r->catching_up && !r->retrying && now_ms - r->due_ms > (int64_t)SCHEDULE_LATE_MAX_S * 1000) {
			/* not a retry: the loop or the host was away */
			catch_up(s, r, now_s - r->offset_s - 1);
			place_next(s, r);
			continue;
		}
		if (!b && !(b = calloc(1, sizeof(*b)))) {
			r->due_ms = now_ms + RETRY_ERROR_MS;
			r->retrying = true;
			place(s, r);
			break;
		}
		b->s = s;
		if (fire(s, r, b, now_ms) < 0) {
			log_warn("schedule", "rule %s: cannot build its event: retried", r->name);
			r->due_ms = now_ms + RETRY_ERROR_MS;
			r->retrying = true;
			place(s, r);
		}
		if (b->n == INGEST_MAX_BATCH) {
			submit(s, b);
			b = NULL;
		}
	}
	if (b)
		submit(s, b);
	arm(s);
}

static void arm(struct source *s)
{
	if (s->stopped)
		return;
	if (!s->heap_n || s->batches >= MAX_BATCHES) {
		uv_timer_stop(&s->timer);   /* on_ingested() arms it again */
		return;
	}
	int64_t delay = s->heap[0]->due_ms - wall_ms();
	if (delay < 0)
		delay = 0;
	if (delay > SCHEDULE_RECHECK_MS)
		delay = SCHEDULE_RECHECK_MS;
	uv_update_time(s->env.loop);
	uv_timer_start(&s->timer, on_timer, (uint64_t)delay, 0);
}

/* ----------------------------------------------------------------- rules */

static void rule_free(struct sched_rule *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->expr);
	free(r);
}

static struct schedule_zone *zone_get(struct zone_ref **zones, size_t *n, const char *name, int *ret_err)
{
	struct zone_ref *z;

	*ret_err = 0;
	if (!name)
		return NULL;
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*zones)[i].name, name) == 0)
			return (*zones)[i].zone;
	if (!(z = realloc(*zones, (*n + 1) * sizeof(*z)))) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	*zones = z;
	z = &z[*n];
	if ((*ret_err = schedule_zone_load(name, &z->zone)) < 0)
		return NULL;
	if (!(z->name = strdup(name))) {
		schedule_zone_free(z->zone);
		*ret_err = -ENOMEM;
		return NULL;
	}
	(*n)++;
	return z->zone;
}

static void zones_free(struct zone_ref *zones, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(zones[i].name);
		schedule_zone_free(zones[i].zone);
	}
	free(zones);
}

static bool same_text(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Sets what the generation says of r; whether it changes any fire time. */
static bool rule_params(struct sched_rule *r, const struct rule *ru, const struct schedule_zone *zone,
			const char *arn)
{
	uint32_t offset = sched_flex_offset(ru->name, ru->flexible_window_min);
	bool changed = !same_text(r->tz, ru->timezone) || r->has_start != ru->has_start_date ||
		       r->has_end != ru->has_end_date || (ru->has_start_date && r->start_date != ru->start_date) ||
		       (ru->has_end_date && r->end_date != ru->end_date) || r->offset_s != offset;

	r->sched = ru->schedule;
	r->zone = zone;
	r->tz = ru->timezone;
	r->arn = arn;
	r->bus = ru->event_bus ? ru->event_bus : "default";
	r->has_start = ru->has_start_date;
	r->start_date = ru->start_date;
	r->has_end = ru->has_end_date;
	r->end_date = ru->end_date;
	r->offset_s = offset;
	r->catch_up = ru->catch_up;
	return changed;
}

/* A rule new to this daemon: from its saved state, or anchored now. */
static struct sched_rule *rule_new(struct source *s, const struct rule *ru, struct strmap *saved, int64_t now)
{
	struct sched_rule *r = calloc(1, sizeof(*r));
	struct strmap_node *node = saved ? strmap_find(saved, ru->name) : NULL;
	struct sched_saved *e = node ? strmap_entry(node, struct sched_saved, node) : NULL;

	if (!r || !(r->name = strdup(ru->name)) || !(r->expr = strdup(ru->schedule_text)) ||
	    heap_reserve(s) < 0 || strmap_insert(&s->rules, &r->node, r->name) < 0) {
		rule_free(r);
		return NULL;
	}
	s->n_rules++;
	r->heap_i = SIZE_MAX;
	r->epoch = ++s->epochs;
	if (e && strcmp(e->expr, ru->schedule_text) == 0) {
		r->anchor = e->anchor;
		r->handled = e->handled;
		r->last_fire = e->last_fire;
	} else {
		r->anchor = r->handled = now;
		r->last_fire = SCHED_NONE;
	}
	return r;
}

static void rule_drop(struct source *s, struct sched_rule *r)
{
	heap_remove(s, r);
	strmap_remove(&s->rules, &r->node);
	s->n_rules--;
	rule_free(r);
}

/*
 * Brings the rules in line with gen. saved: the state read at start (NULL
 * on a reload): a rule found in it catches up on what it missed. 0 or
 * -ENOMEM (the rules that could not be added are left out, logged).
 */
static int apply(struct source *s, struct rulegen *gen, struct strmap *saved, int64_t now_ms)
{
	/* now, and the last whole second whose times were due before it */
	int64_t now = floor_s(now_ms), past = floor_s(now_ms + 999) - 1;
	struct zone_ref *zones = NULL;
	size_t n_zones = 0, added = 0, restored = 0, reanchored = 0;
	int rc = 0;

	for (size_t i = 0; gen && i < gen->rs->n; i++) {
		const struct rule *ru = &gen->rs->rules[i];
		struct strmap_node *node;
		struct sched_rule *r;
		int zerr;

		if (!ru->enabled || !ru->schedule)
			continue;
		struct schedule_zone *zone = zone_get(&zones, &n_zones, ru->timezone, &zerr);
		if (zerr < 0) {
			log_error("schedule", "rule %s: time zone %s: %s: not scheduled", ru->name, ru->timezone,
				  strerror(-zerr));
			rc = zerr == -ENOMEM ? -ENOMEM : rc;
			continue;
		}
		node = strmap_find(&s->rules, ru->name);
		r = node ? strmap_entry(node, struct sched_rule, node) : NULL;
		if (r && strcmp(r->expr, ru->schedule_text) != 0) {
			char *expr = strdup(ru->schedule_text);
			if (!expr) {
				rc = -ENOMEM;
				continue;   /* kept as it was until the next reload */
			}
			free(r->expr);
			r->expr = expr;
			r->anchor = r->handled = now;
			r->last_fire = SCHED_NONE;
			r->epoch = ++s->epochs;
			r->in_flight = r->catching_up = r->retrying = false;
			rule_params(r, ru, zone, gen->arns[i]);
			r->next = sched_next_after(r, r->handled);
			place_next(s, r);
			reanchored++;
		} else if (r) {
			if (rule_params(r, ru, zone, gen->arns[i]) && !r->in_flight) {
				/* no fire time of the old settings is made up for */
				if (r->handled < past - (int64_t)r->offset_s)
					r->handled = past - (int64_t)r->offset_s;
				r->catching_up = false;
				r->next = sched_next_after(r, r->handled);
				place_next(s, r);
			}
		} else if ((r = rule_new(s, ru, saved, now))) {
			rule_params(r, ru, zone, gen->arns[i]);
			/* nothing is missed by a rule anchored now (handled = now) */
			catch_up(s, r, past - (int64_t)r->offset_s);
			place_next(s, r);
			if (r->anchor == now && r->handled == now)
				added++;
			else
				restored++;
		} else {
			log_error("schedule", "rule %s: out of memory: not scheduled", ru->name);
			rc = -ENOMEM;
			continue;
		}
		r->seen = true;
	}
	/* the rules gone from the generation (removed, disabled, no schedule) */
	size_t removed = 0;
	for (size_t b = 0; b < s->rules.nbuckets; b++) {
		struct strmap_node *p = s->rules.buckets[b];
		while (p) {
			struct strmap_node *next = p->next;
			struct sched_rule *r = strmap_entry(p, struct sched_rule, node);
			if (!r->seen) {
				rule_drop(s, r);
				removed++;
			} else {
				r->seen = false;
			}
			p = next;
		}
	}
	zones_free(s->zones, s->n_zones);
	s->zones = zones;
	s->n_zones = n_zones;
	rulegen_unref(s->gen);
	s->gen = gen ? rulegen_ref(gen) : NULL;
	if (added || restored || removed || reanchored || saved)
		log_info("schedule", "%zu scheduled rules (%zu from the saved state, %zu new, %zu anchored anew, %zu removed)",
			 s->n_rules, restored, added, reanchored, removed);
	mark_dirty(s);
	arm(s);
	return rc;
}

static void rules_changed(struct source *s, struct rulegen *gen)
{
	if (!s->stopped)
		apply(s, gen, NULL, wall_ms());
}

/* --------------------------------------------------------------- the kind */

static void register_metrics(struct source *s, struct metrics *m)
{
	static const double late[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
				      1, 2, 5, 10, 30, 60, 300};
	static const char *const reasons[] = {"catch_up_none", "catch_up_latest", "catch_up_bound", "refused"};

	s->m_events = metrics_counter(m, "tripline_source_events_total", "Events a source put on the bus.",
				      "kind,name");
	s->m_fires = metrics_counter(m, "tripline_schedule_fires_total", "Scheduled rules' fires emitted.", NULL);
	s->m_missed = metrics_counter(m, "tripline_schedule_missed_total",
				      "Scheduled rules' fire times missed, by reason.", "reason");
	s->m_late = metrics_histogram(m, "tripline_schedule_lateness_seconds",
				      "How long after it was due a fire was emitted.", NULL, late,
				      sizeof(late) / sizeof(late[0]));
	s->m_rules = metrics_gauge(m, "tripline_schedule_rules", "Rules with a schedule, enabled.", NULL);
	metric_touch(s->m_events, (const char *const[]){"schedule", "schedule"});
	metric_touch(s->m_fires, NULL);
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		metric_touch(s->m_missed, &reasons[i]);
}

static void destroy(struct source *s);

static int start(const struct source_env *env, struct source **ret, char *err, size_t errlen)
{
	struct source *s = calloc(1, sizeof(*s));
	struct strmap saved = STRMAP_INIT;
	char path[4200], why[300] = "";
	int r;

	*ret = NULL;
	if (!s)
		return -ENOMEM;
	s->env = *env;
	if (asprintf(&s->dir, "%s/%s", env->cfg->data_dir, SCHEDULE_STATE_DIR) < 0) {
		s->dir = NULL;
		free(s);
		return -ENOMEM;
	}
	if (!(s->ring = malloc((SCHEDULE_CATCH_UP_MAX + 1) * sizeof(*s->ring)))) {
		destroy(s);
		return -ENOMEM;
	}
	if ((r = statefile_make_dirs(s->dir)) < 0) {
		snprintf(err, errlen, "%s: %s", s->dir, strerror(-r));
		destroy(s);
		return r;
	}
	snprintf(path, sizeof(path), "%s/%s", s->dir, SCHEDULE_STATE_FILE);
	r = sched_state_load(path, &saved, why, sizeof(why));
	if (r == -EINVAL) {
		char corrupt[4200], dest[4500];
		snprintf(corrupt, sizeof(corrupt), "%s/corrupt", env->cfg->data_dir);
		if (statefile_move_aside(path, corrupt, dest, sizeof(dest)) == 0)
			log_error("schedule", "%s: %s: moved to %s; every scheduled rule is anchored anew", path,
				  why, dest);
		else
			log_error("schedule", "%s: %s; every scheduled rule is anchored anew", path, why);
	} else if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		destroy(s);
		return r;
	}
	register_metrics(s, env->metrics);
	uv_timer_init(env->loop, &s->timer);
	uv_timer_init(env->loop, &s->save_timer);
	s->timer.data = s->save_timer.data = s;
	r = apply(s, env->rules(env->rules_arg), &saved, wall_ms());
	sched_state_free(&saved);
	(void)r;   /* a rule that could not be added was logged; the others run */
	*ret = s;
	return 0;
}

static bool health(struct source *s, json_t *components)
{
	json_t *next = json_null();

	if (s->heap_n && s->heap[0]->next != SCHED_NONE) {
		char text[32];
		event_time_text(s->heap[0]->next, text);
		next = json_string(text);
	}
	json_object_set_new(components, "schedule",
			    json_pack("{s:s,s:I,s:o}", "status", "ok", "rules", (json_int_t)s->n_rules,
				      "next_fire", next ? next : json_null()));
	return true;
}

static void metrics(struct source *s, struct metrics *m)
{
	(void)m;
	metric_set(s->m_rules, NULL, (double)s->n_rules);
}

static void stop(struct source *s)
{
	if (s->stopped)
		return;
	s->stopped = true;
	uv_close((uv_handle_t *)&s->timer, NULL);
	uv_close((uv_handle_t *)&s->save_timer, NULL);
	rulegen_unref(s->gen);   /* the rules' pointers into it are not used from here on */
	s->gen = NULL;
}

static void destroy(struct source *s)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (!s)
		return;
	if (s->dirty && render(s, &buf, &len) == 0 &&
	    (r = statefile_write(s->dir, SCHEDULE_STATE_FILE, buf, len, true)) < 0)
		log_warn("schedule", "cannot write %s/%s: %s", s->dir, SCHEDULE_STATE_FILE, strerror(-r));
	free(buf);
	for (size_t b = 0; b < s->rules.nbuckets; b++) {
		struct strmap_node *p = s->rules.buckets[b];
		while (p) {
			struct strmap_node *next = p->next;
			rule_free(strmap_entry(p, struct sched_rule, node));
			p = next;
		}
	}
	strmap_clear(&s->rules);
	rulegen_unref(s->gen);
	zones_free(s->zones, s->n_zones);
	free(s->heap);
	free(s->ring);
	free(s->dir);
	free(s);
}

const struct source_ops source_schedule = {
	.kind = "schedule",
	.start = start,
	.rules_changed = rules_changed,
	.health = health,
	.metrics = metrics,
	.stop = stop,
	.destroy = destroy,
};
