/*
 * pipeline.c — the daemon's event side, put together (pipeline.h).
 *
 * The core's events: each "ECS …" event the orchestration core emits is
 * journalled and put on the default bus (past the bus's bound: the core
 * cannot wait), at the causal depth of whatever started its task or
 * service (bus_note_cause(), set by the task target), so that a rule
 * reacting to its own tasks stops at limits.max_event_depth. A task's
 * cause is forgotten with its STOPPED event.
 *
 * Replay: the journal hands back every event whose dispatches were not all
 * final when the last daemon stopped, with the dispatches that were; each
 * is queued again with its sequence number, depth and ingestion time, and
 * dispatched to the rest.
 */
#include "pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "config.h"
#include "curl_uv.h"
#include "dispatch.h"
#include "event.h"
#include "ingest_internal.h"
#include "journal.h"
#include "json.h"
#include "logger.h"
#include "metrics.h"
#include "reload.h"
#include "rulegen.h"
#include "store.h"
#include "target.h"

struct pipeline {
	uv_loop_t *loop;
	const struct tripline_config *cfg;
	struct metrics *metrics;
	struct bus *bus;
	struct journal *journal;
	struct ingest *ingest;
	struct curl_uv *http;
	struct store *store;
	struct dispatch *dispatch;
	struct reload *reload;
	struct target_env env;
	struct metric *m_reloads, *m_rules, *m_replayed;
	size_t replayed;
	void (*on_rules)(void *arg, struct rulegen *gen);
	void *on_rules_arg;
};

/* ------------------------------------------------------------ rules */

static void apply_rules(void *arg, struct rulegen *gen, int result, const struct errlist *errs)
{
	struct pipeline *p = arg;

	for (size_t i = 0; i < errs->n; i++)
		log_error("rules", "%s", errs->msgs[i]);
	if (!gen) {
		metric_add(p->m_reloads, (const char *const[]){"failed"}, 1);
		struct rulegen *cur = bus_rules(p->bus);
		log_error("rules", "reload failed (%s); keeping the %zu rules loaded before",
			  result == -ENOMEM ? "out of memory" : "invalid rules", cur ? cur->rs->n : (size_t)0);
		return;
	}
	bus_set_rules(p->bus, gen);
	metric_add(p->m_reloads, (const char *const[]){"ok"}, 1);
	log_info("rules", "reloaded: %zu rules", gen->rs->n);
	if (p->on_rules)
		p->on_rules(p->on_rules_arg, gen);
}

void pipeline_on_rules(struct pipeline *p, void (*fn)(void *arg, struct rulegen *gen), void *arg)
{
	p->on_rules = fn;
	p->on_rules_arg = arg;
}

bool pipeline_health(struct pipeline *p, json_t *components)
{
	int broken = p->journal ? journal_broken(p->journal) : 0;
	json_t *j = json_pack("{s:s,s:I,s:I}", "status", broken ? "down" : "ok",
			      "live_events", (json_int_t)(p->journal ? journal_live_events(p->journal) : 0),
			      "live_bytes", (json_int_t)(p->journal ? journal_live_bytes(p->journal) : 0));

	if (j && broken)
		json_object_set_new(j, "error", json_string("refusing appends until a restart: a write or fsync failed"));
	json_object_set_new(components, "journal", j);
	json_object_set_new(components, "bus", json_pack("{s:s,s:I,s:I}", "status", "ok",
			    "queued", (json_int_t)bus_depth(p->bus), "room", (json_int_t)bus_room(p->bus)));
	return !broken;
}

void pipeline_reload(struct pipeline *p, const char *why)
{
	reload_request(p->reload, why);
}

struct rulegen *pipeline_rules(void *p)
{
	return bus_rules(((struct pipeline *)p)->bus);
}

struct ingest *pipeline_ingest(struct pipeline *p)
{
	return p->ingest;
}

struct dispatch *pipeline_dispatch(struct pipeline *p)
{
	return p->dispatch;
}

/* ------------------------------------------------------------ the core's events */

static const char *str_member(const struct jnode *obj, const char *key)
{
	const struct jnode *n = obj ? jnode_get(obj, key) : NULL;

	return n && n->type == JNODE_STRING ? n->u.str : NULL;
}

void pipeline_core_event(void *arg, const char *json, size_t len)
{
	struct pipeline *p = arg;
	struct jdoc *doc = NULL;
	struct event *ev = NULL;

	if (jdoc_parse(json, len, NULL, &doc, NULL) < 0) {
		log_error("events", "the core emitted an event that is not JSON");
		return;
	}
	const struct jnode *root = jdoc_root(doc), *detail = jnode_get(root, "detail");
	const char *id = str_member(root, "id"), *type = str_member(root, "detail-type");
	const char *task = str_member(detail, "taskArn"), *group = str_member(detail, "group");
	const char *service = str_member(detail, "serviceArn");
	uint32_t depth = 0, d;

	if (task && (d = bus_cause_depth(p->bus, task)) > depth)
		depth = d;
	if (group && (d = bus_cause_depth(p->bus, group)) > depth)
		depth = d;
	if (service && (d = bus_cause_depth(p->bus, service)) > depth)
		depth = d;
	if (id && event_new(id, "default", json, len, &ev) == 0) {
		ev->depth = depth;
		ingest_internal(p->ingest, ev);
		event_unref(ev);
	} else {
		log_error("events", "the core's event cannot be queued: out of memory");
	}
	if (task && type && strcmp(type, "ECS Task State Change") == 0) {
		const char *last = str_member(detail, "lastStatus");
		if (last && strcmp(last, "STOPPED") == 0)
			bus_forget_cause(p->bus, task);
	}
	jdoc_free(doc);
}

/* ------------------------------------------------------------ replay */

static void on_replay(void *arg, const struct journal_replayed *r)
{
	struct pipeline *p = arg;
	struct event *ev = NULL;
	const char *nl = strchr(r->ev.bus, '\n');
	char *bus = nl ? strndup(r->ev.bus, (size_t)(nl - r->ev.bus)) : NULL;

	/* "BUS\nRULE": an event for one rule (journal.h) */
	if ((nl && !bus) || event_new(r->ev.id, bus ? bus : r->ev.bus, r->ev.json, r->ev.len, &ev) < 0 ||
	    (nl && event_set_rule(ev, nl + 1) < 0)) {
		log_error("journal", "event %s cannot be replayed: out of memory", r->ev.id);
		free(bus);
		event_unref(ev);
		return;
	}
	free(bus);
	ev->seq = r->seq;
	ev->depth = r->ev.depth;
	ev->ingest_wall_ms = r->ev.ingest_wall_ms;
	for (size_t i = 0; i < r->n_done; i++)
		if (event_add_final_key(ev, r->done[i]) < 0)
			log_error("journal", "event %s: out of memory: a dispatch final before may run again", ev->id);
	ingest_journal_hooks(p->ingest, ev);
	int rc = bus_put_force(p->bus, ev);
	if (rc < 0) {
		/* its bus is gone (or it is too deep): final without a dispatch */
		log_warn("journal", "event %s (bus %s) replayed with no dispatch: %s", ev->id, ev->bus,
			 rc == -ENOENT ? "no such bus any more" : strerror(-rc));
		event_pending_get(ev);
		event_pending_put(ev);
	}
	p->replayed++;
	metric_add(p->m_replayed, NULL, 1);
	event_unref(ev);
}

/* ------------------------------------------------------------ lifecycle */

int pipeline_new(uv_loop_t *loop, const struct tripline_config *cfg, struct metrics *metrics,
		 struct rulegen *gen, const char *const *rule_paths, size_t n_rule_paths, struct pipeline **ret,
		 char *err, size_t errlen)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	char dir[4200];
	int r;

	*ret = NULL;
	if (!p)
		return -ENOMEM;
	p->loop = loop;
	p->cfg = cfg;
	p->metrics = metrics;
	p->m_reloads = metrics_counter(metrics, "tripline_rule_reloads_total", "Rule reloads by result.", "result");
	metric_touch(p->m_reloads, (const char *const[]){"ok"});
	metric_touch(p->m_reloads, (const char *const[]){"failed"});
	p->m_replayed = metrics_counter(metrics, "tripline_journal_replayed_total",
					"Events replayed from the journal at start.", NULL);
	metric_touch(p->m_replayed, NULL);
	struct bus_config bc = {
		.queue_max = cfg->limits.bus_queue,
		.max_depth = cfg->limits.max_event_depth,
		.buses = (const char *const *)cfg->buses.v,
		.n_buses = cfg->buses.n,
		.metrics = metrics,
	};
	if ((r = bus_new(loop, &bc, &p->bus)) < 0) {
		snprintf(err, errlen, "the event bus: %s", strerror(-r));
		goto fail;
	}
	bus_set_rules(p->bus, gen);
	if ((r = ingest_new(loop, p->bus, NULL, &p->ingest)) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s/journal", cfg->data_dir);
	struct journal_config jc = {
		.dir = dir,
		.max_bytes = cfg->journal.max_bytes,
		.no_fsync = !cfg->journal.fsync,
		.metrics = metrics,
	};
	char why[512] = "";
	if ((r = journal_open(loop, &jc, on_replay, p, &p->journal, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "the journal %s: %s", dir, why[0] ? why : strerror(-r));
		goto fail;
	}
	p->ingest->journal = p->journal;
	if (p->replayed)
		log_info("journal", "replaying %zu events whose dispatches were not all final", p->replayed);
	if ((r = reload_new(loop, cfg, rule_paths, n_rule_paths, 0, apply_rules, p, &p->reload)) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	*ret = p;
	return 0;
fail:
	pipeline_free(p);
	return r;
}

int pipeline_attach_orch(struct pipeline *p, struct orch *orch, char *err, size_t errlen)
{
	int r;

	if ((r = curl_uv_new(p->loop, &p->http)) < 0) {
		snprintf(err, errlen, "the HTTP client: %s", strerror(-r));
		return r;
	}
	p->env = (struct target_env){
		.loop = p->loop,
		.cfg = p->cfg,
		.orch = orch,
		.http = p->http,
		.bus = p->bus,
		.ingest = p->ingest,
		.metrics = p->metrics,
		.data_dir = p->cfg->data_dir,
	};
	if ((r = store_memory_new(p->loop, &(struct store_memory_config){.metrics = p->metrics}, &p->store)) < 0) {
		snprintf(err, errlen, "the state store: %s", strerror(-r));
		return r;
	}
	struct dispatch_config dc = {
		.env = &p->env,
		.store = p->store,
		.metrics = p->metrics,
		.max_concurrency = p->cfg->delivery.max_concurrency,
		.http_timeout_s = p->cfg->delivery.http_timeout_s,
	};
	if ((r = dispatch_new(p->loop, &dc, &p->dispatch)) < 0) {
		snprintf(err, errlen, "the dispatcher: %s", strerror(-r));
		return r;
	}
	bus_set_dispatch(p->bus, p->dispatch);
	return 0;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	reload_free(p->reload);
	ingest_free(p->ingest);   /* answers what waits for the journal, bus targets' forwards too */
	dispatch_free(p->dispatch);
	curl_uv_free(p->http);
	bus_free(p->bus);
	store_free(p->store);
	journal_free(p->journal);
	free(p);
}
