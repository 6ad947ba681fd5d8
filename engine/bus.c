/*
 * bus.c — the event buses (bus.h): a bounded queue, matching on a later
 * loop turn, one dispatch per (event, matching rule, target).
 *
 * One queue serves every bus. Events are matched from a uv_idle handle, at
 * most BUS_BATCH per loop turn so I/O is never starved; the idle handle
 * runs only while the queue holds something. One matcher serves every bus
 * (the ruleset's): its answers are filtered by the rule's EventBusName,
 * which costs one string comparison per matching rule — buses are few and
 * most rules sit on "default", so one matcher per bus would buy little.
 *
 * The queue is bounded by queue_max; room can be reserved ahead (an event
 * being journalled) so that what was acknowledged is never refused later.
 * bus_put_force() goes past the bound for what may not be refused (a
 * replay, the core's own events): those are few and bounded elsewhere.
 *
 * The causes (loop protection across the core): a small hash map from a
 * key (a task ARN, "service:NAME") to the depth of the event that caused
 * it, bounded by BUS_MAX_CAUSES; when full, the oldest entry goes.
 */
#include "bus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "event.h"
#include "logger.h"
#include "metrics.h"
#include "rulegen.h"

#define BUS_BATCH 256u
#define BUS_MAX_CAUSES 65536u
/* distinct sources labelled in tripline_events_total; later ones are
 * counted as source="_other" (a client chooses Source freely) */
#define BUS_MAX_SOURCE_LABELS 1000u
#define BUS_SOURCE_SLOTS 2048u

struct cause {
	struct cause *next;           /* chain */
	struct cause *older, *newer;  /* age list, for eviction */
	uint32_t depth;
	char key[];
};

struct bus {
	uv_loop_t *loop;
	uv_idle_t idle;
	bool idle_on;
	struct dispatch *dispatch;
	struct rulegen *gen;
	struct match_scratch *scratch;
	uint32_t queue_max, max_depth;
	/* the queue: a ring of cap slots */
	struct event **ring;
	size_t cap, head, len;
	size_t reserved;
	/* bus names: the config's and default (fixed), and the rules' */
	char **cfg_names;
	size_t n_cfg_names;
	char **names;                 /* sorted, unique */
	size_t n_names;
	/* causes */
	struct cause **chains;
	size_t n_chains, n_causes;
	struct cause *oldest, *newest;
	/* metrics */
	struct metrics *metrics;
	struct metric *m_events, *m_matches, *m_dropped, *m_queue, *m_refused;
	uint64_t source_hashes[BUS_SOURCE_SLOTS];   /* open addressing; 0 = empty */
	size_t n_sources;
	uint64_t refused_full;
};

/* ------------------------------------------------------------ names */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_clear(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The config's names ("default" among them) merged with the generation's
 * (sorted already, off the loop): few, so this is cheap on the loop. */
static int names_build(struct bus *b, const struct rulegen *g, char ***ret, size_t *ret_n)
{
	size_t n = 0, cap = b->n_cfg_names + (g ? g->n_buses : 0);
	char **v = calloc(cap ? cap : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_cfg_names; i++)
		v[n++] = b->cfg_names[i];
	for (size_t i = 0; g && i < g->n_buses; i++)
		v[n++] = g->buses[i];
	qsort(v, n, sizeof(*v), cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < n; i++) {
		if (u && strcmp(v[u - 1], v[i]) == 0)
			continue;
		v[u++] = v[i];
	}
	for (size_t i = 0; i < u; i++)
		if (!(v[i] = strdup(v[i]))) {
			names_clear(v, i);
			return -ENOMEM;
		}
	*ret = v;
	*ret_n = u;
	return 0;
}

bool bus_exists(const struct bus *b, const char *name)
{
	return bsearch(&name, b->names, b->n_names, sizeof(*b->names), cmp_str) != NULL;
}

/* ------------------------------------------------------------ causes */

static size_t cause_hash(const char *s)
{
	size_t h = 1469598103934665603u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

static struct cause **cause_slot(const struct bus *b, const char *key)
{
	struct cause **p = &b->chains[cause_hash(key) % b->n_chains];

	while (*p && strcmp((*p)->key, key) != 0)
		p = &(*p)->next;
	return p;
}

static void cause_unlink(struct bus *b, struct cause *c)
{
	struct cause **p = cause_slot(b, c->key);

	*p = c->next;
	if (c->older)
		c->older->newer = c->newer;
	else
		b->oldest = c->newer;
	if (c->newer)
		c->newer->older = c->older;
	else
		b->newest = c->older;
	b->n_causes--;
	free(c);
}

void bus_note_cause(struct bus *b, const char *key, uint32_t depth)
{
	struct cause **p = cause_slot(b, key), *c = *p;

	if (c) {
		if (depth > c->depth)
			c->depth = depth;
		return;
	}
	if (b->n_causes >= BUS_MAX_CAUSES)
		cause_unlink(b, b->oldest);
	size_t len = strlen(key);
	if (!(c = calloc(1, sizeof(*c) + len + 1)))
		return;
	memcpy(c->key, key, len + 1);
	c->depth = depth;
	p = cause_slot(b, key);
	c->next = *p;
	*p = c;
	c->older = b->newest;
	if (b->newest)
		b->newest->newer = c;
	else
		b->oldest = c;
	b->newest = c;
	b->n_causes++;
}

uint32_t bus_cause_depth(const struct bus *b, const char *key)
{
	struct cause *c = *cause_slot(b, key);

	return c ? c->depth : 0;
}

void bus_forget_cause(struct bus *b, const char *key)
{
	struct cause *c = *cause_slot(b, key);

	if (c)
		cause_unlink(b, c);
}

/* ------------------------------------------------------------ matching */

/* The source label: the event's, while fewer than BUS_MAX_SOURCE_LABELS
 * distinct ones were seen, else "_other". */
static const char *source_label(struct bus *b, const char *source)
{
	uint64_t h = 1469598103934665603u;

	for (const char *p = source; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211u;
	h |= 1;
	for (size_t i = h % BUS_SOURCE_SLOTS;; i = (i + 1) % BUS_SOURCE_SLOTS) {
		if (b->source_hashes[i] == h)
			return source;
		if (b->source_hashes[i] == 0) {
			if (b->n_sources >= BUS_MAX_SOURCE_LABELS)
				return "_other";
			b->source_hashes[i] = h;
			b->n_sources++;
			return source;
		}
	}
}


static void match_one(struct bus *b, struct event *ev)
{
	struct rulegen *g = b->gen;
	const uint32_t *idx = NULL;
	int n = 0;

	metric_add(b->m_events, (const char *const[]){ev->bus, source_label(b, ev->source ? ev->source : "")}, 1);
	event_pending_get(ev);   /* the bus's own, while it submits */
	if (ev->rule) {
		/* a schedule's fire: its rule's targets, if the rule is still
		 * there and enabled (a reload may have removed it meanwhile) */
		const struct rule *ru = g ? ruleset_find(g->rs, ev->rule) : NULL;
		if (ru && ru->enabled && strcmp(ru->event_bus ? ru->event_bus : "default", ev->bus) == 0) {
			uint32_t k = (uint32_t)(ru - g->rs->rules);
			metric_add(b->m_matches, (const char *const[]){ru->name}, 1);
			for (size_t t = 0; t < ru->ntargets; t++) {
				event_pending_get(ev);
				dispatch_submit(b->dispatch, ev, g, k, (uint32_t)t);
			}
		} else {
			log_info("bus", "event %s for rule %s: no such enabled rule on bus %s now; nothing dispatched",
				 ev->id, ev->rule, ev->bus);
		}
		event_pending_put(ev);
		return;
	}
	if (g && g->rs->matcher) {
		n = ruleset_match(g->rs, ev->json, ev->len, b->scratch, &idx);
		if (n < 0) {
			log_warn("bus", "event %s not matched: %s", ev->id, match_scratch_error(b->scratch));
			metric_add(b->m_dropped, (const char *const[]){"unmatchable"}, 1);
			n = 0;
		}
	}
	for (int i = 0; i < n; i++) {
		const struct rule *ru = &g->rs->rules[idx[i]];
		if (strcmp(ru->event_bus ? ru->event_bus : "default", ev->bus) != 0)
			continue;
		metric_add(b->m_matches, (const char *const[]){ru->name}, 1);
		for (size_t t = 0; t < ru->ntargets; t++) {
			event_pending_get(ev);
			dispatch_submit(b->dispatch, ev, g, idx[i], (uint32_t)t);
		}
	}
	event_pending_put(ev);
}

static void on_idle(uv_idle_t *h)
{
	struct bus *b = h->data;

	for (unsigned k = 0; k < BUS_BATCH && b->len; k++) {
		struct event *ev = b->ring[b->head];
		b->ring[b->head] = NULL;
		b->head = (b->head + 1) % b->cap;
		b->len--;
		match_one(b, ev);
		event_unref(ev);
	}
	if (!b->len && b->idle_on) {
		uv_idle_stop(&b->idle);
		b->idle_on = false;
	}
}

/* ------------------------------------------------------------ the queue */

static int grow(struct bus *b)
{
	size_t cap = b->cap ? b->cap * 2 : 64;
	struct event **ring = calloc(cap, sizeof(*ring));

	if (!ring)
		return -ENOMEM;
	for (size_t i = 0; i < b->len; i++)
		ring[i] = b->ring[(b->head + i) % b->cap];
	free(b->ring);
	b->ring = ring;
	b->cap = cap;
	b->head = 0;
	return 0;
}

int bus_check(struct bus *b, const struct event *ev)
{
	if (!bus_exists(b, ev->bus))
		return -ENOENT;
	if (ev->depth > b->max_depth) {
		log_warn("bus", "event %s (source %s) dropped: causal depth %u is past limits.max_event_depth (%u): "
			 "a rule reacts to the events its own targets cause",
			 ev->id, ev->source ? ev->source : "?", ev->depth, b->max_depth);
		metric_add(b->m_dropped, (const char *const[]){"loop"}, 1);
		return -ELOOP;
	}
	return 0;
}

static int put(struct bus *b, struct event *ev)
{
	int r = bus_check(b, ev);

	if (r < 0)
		return r;
	if (b->len == b->cap && grow(b) < 0)
		return -ENOMEM;
	b->ring[(b->head + b->len) % b->cap] = event_ref(ev);
	b->len++;
	if (!b->idle_on) {
		uv_idle_start(&b->idle, on_idle);
		b->idle_on = true;
	}
	return 0;
}

int bus_put(struct bus *b, struct event *ev)
{
	if (bus_exists(b, ev->bus) && b->len + b->reserved >= b->queue_max) {
		b->refused_full++;
		metric_add(b->m_refused, (const char *const[]){"full"}, 1);
		return -EAGAIN;
	}
	return put(b, ev);
}

int bus_put_reserved(struct bus *b, struct event *ev)
{
	if (b->reserved)
		b->reserved--;
	return put(b, ev);
}

int bus_put_force(struct bus *b, struct event *ev)
{
	return put(b, ev);
}

size_t bus_room(const struct bus *b)
{
	size_t used = b->len + b->reserved;

	return used >= b->queue_max ? 0 : b->queue_max - used;
}

size_t bus_depth(const struct bus *b)
{
	return b->len;
}

size_t bus_reserve(struct bus *b, size_t n)
{
	size_t room = bus_room(b);

	if (n > room)
		n = room;
	b->reserved += n;
	return n;
}

void bus_unreserve(struct bus *b, size_t n)
{
	b->reserved = n > b->reserved ? 0 : b->reserved - n;
}

/* ------------------------------------------------------------ lifecycle */

static void render(void *arg, struct metrics *m)
{
	struct bus *b = arg;

	(void)m;
	metric_set(b->m_queue, (const char *const[]){"queued"}, (double)b->len);
	metric_set(b->m_queue, (const char *const[]){"reserved"}, (double)b->reserved);
}

static void register_metrics(struct bus *b, struct metrics *m)
{
	b->metrics = m;
	b->m_events = metrics_counter(m, "tripline_events_total", "Events put on a bus, by bus and source.",
				      "bus,source");
	b->m_matches = metrics_counter(m, "tripline_rule_matches_total", "Events a rule matched.", "rule");
	b->m_dropped = metrics_counter(m, "tripline_events_dropped_total",
				       "Events or dispatches given up without a dead letter, by reason.", "reason");
	b->m_refused = metrics_counter(m, "tripline_bus_refused_total",
				       "Events a bus refused for now (the producer was told), by reason.", "reason");
	b->m_queue = metrics_gauge(m, "tripline_bus_queue", "Events waiting to be matched, and room reserved.",
				   "kind");
	metric_touch(b->m_dropped, (const char *const[]){"loop"});
	metric_touch(b->m_refused, (const char *const[]){"full"});
	metrics_on_render(m, render, b);
}

int bus_new(uv_loop_t *loop, const struct bus_config *cfg, struct bus **ret)
{
	struct bus *b = calloc(1, sizeof(*b));

	*ret = NULL;
	if (!b)
		return -ENOMEM;
	b->loop = loop;
	b->queue_max = cfg->queue_max ? cfg->queue_max : BUS_DEFAULT_QUEUE;
	b->max_depth = cfg->max_depth ? cfg->max_depth : EVENT_DEFAULT_MAX_DEPTH;
	b->n_chains = 4096;
	b->chains = calloc(b->n_chains, sizeof(*b->chains));
	b->cfg_names = calloc(cfg->n_buses + 1, sizeof(*b->cfg_names));
	b->scratch = match_scratch_new();
	if (!b->chains || !b->cfg_names || !b->scratch)
		goto oom;
	b->cfg_names[b->n_cfg_names++] = strdup("default");
	for (size_t i = 0; i < cfg->n_buses; i++)
		b->cfg_names[b->n_cfg_names++] = strdup(cfg->buses[i]);
	for (size_t i = 0; i < b->n_cfg_names; i++)
		if (!b->cfg_names[i])
			goto oom;
	if (names_build(b, NULL, &b->names, &b->n_names) < 0)
		goto oom;
	uv_idle_init(loop, &b->idle);
	b->idle.data = b;
	register_metrics(b, cfg->metrics);
	*ret = b;
	return 0;
oom:
	free(b->chains);
	match_scratch_free(b->scratch);
	names_clear(b->cfg_names, b->n_cfg_names);
	free(b);
	return -ENOMEM;
}

void bus_set_dispatch(struct bus *b, struct dispatch *d)
{
	b->dispatch = d;
}

void bus_set_rules(struct bus *b, struct rulegen *gen)
{
	char **names;
	size_t n;

	if (names_build(b, gen, &names, &n) == 0) {
		names_clear(b->names, b->n_names);
		b->names = names;
		b->n_names = n;
	} else {
		log_error("bus", "out of memory: the bus names of the new rules are not known yet");
	}
	if (gen) {
		rulegen_ref(gen);
		rulegen_free_on(gen, b->loop);
	}
	rulegen_unref(b->gen);
	b->gen = gen;
}

struct rulegen *bus_rules(const struct bus *b)
{
	return b->gen;
}

static void on_idle_closed(uv_handle_t *h)
{
	free(h->data);
}

void bus_free(struct bus *b)
{
	if (!b)
		return;
	while (b->len) {
		event_unref(b->ring[b->head]);
		b->head = (b->head + 1) % b->cap;
		b->len--;
	}
	free(b->ring);
	while (b->oldest)
		cause_unlink(b, b->oldest);
	free(b->chains);
	match_scratch_free(b->scratch);
	names_clear(b->cfg_names, b->n_cfg_names);
	names_clear(b->names, b->n_names);
	rulegen_unref(b->gen);
	uv_close((uv_handle_t *)&b->idle, on_idle_closed);
}
