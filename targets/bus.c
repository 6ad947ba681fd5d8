/*
 * bus.c — the event bus target, arn:aws:events:REGION:ACCOUNT:event-bus/NAME:
 * re-emits the target's input onto that bus, one level deeper than the
 * event that caused it (loop protection, bus.h).
 *
 * As EventBridge's bus-to-bus delivery, what is forwarded is the event
 * itself: an input that is an envelope (a JSON object with "id", "source",
 * "detail-type" and an object "detail": the event, or an Input/InputPath/
 * template that yields one) goes onto the bus as it is, with its id, so the
 * rules there see the same event and their clientTokens and dedup keys
 * still apply. Any other JSON object becomes the detail of a new envelope
 * with the original event's source and detail-type, this rule's ARN as its
 * one resource, and an id derived from the original id, the rule and the
 * target (the same on every attempt and replay). An input that is not a
 * JSON object cannot be an event: not retryable (INVALID_JSON).
 *
 * The event is journalled (through the ingest, as PutEvents' are) before
 * the delivery counts as done, so a forward that succeeded survives a
 * crash. Outcomes: a full bus queue (or journal) is THROTTLING (retryable); no such bus is
 * NO_RESOURCE and an event past limits.max_event_depth is LOOP_DETECTED
 * (tripline's code), neither retryable.
 */
#include "targets_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "config.h"
#include "event.h"
#include "ingest.h"

static int bus_prepare(const struct tripline_config *cfg, const struct rule *rule, size_t i, void **ret,
		       struct errlist *errs)
{
	(void)cfg;
	return tgt_prepare_resource(rule, i,
				    "an event bus target needs a bus name: arn:aws:events:REGION:ACCOUNT:event-bus/NAME",
				    ret, errs);
}

/* A forward through the ingest (journalled before it is answered). */
struct forward {
	target_done_fn done;
	void *arg;
	unsigned depth;
	char bus[BUS_MAX_NAME + 1];
};

static void outcome(target_done_fn done, void *arg, const char *bus, unsigned depth, int r);
static void forwarded(void *arg, const int *results, size_t n);

static unsigned ev_depth_after(const struct target_call *call)
{
	return call->ev->depth + 1;
}

static bool is_envelope(const json_t *j)
{
	return json_is_string(json_object_get(j, "id")) && json_is_string(json_object_get(j, "source")) &&
	       json_is_string(json_object_get(j, "detail-type")) && json_is_object(json_object_get(j, "detail"));
}

/* A new envelope around detail (the input), as the comment above says. */
static int wrap(const struct target_env *env, const struct target_call *call, const char *bus, json_t *detail,
		struct event **ret)
{
	json_t *orig = tgt_event_json(call);
	const char *parts[] = {call->ev->id, call->rule->name, call->target->id};
	char id[37], *text = json_dumps(detail, JSON_COMPACT);
	const char *cfg_region = env->cfg && env->cfg->region ? env->cfg->region : CONFIG_DEFAULT_REGION;
	const char *cfg_account = env->cfg && env->cfg->account ? env->cfg->account : CONFIG_DEFAULT_ACCOUNT;
	int r = -ENOMEM;

	event_id_digest(parts, 3, id);
	if (text) {
		struct event_fields f = {
			.id = id,
			.source = tgt_str(orig, "source") ? tgt_str(orig, "source") : "tripline.rule",
			.detail_type = tgt_str(orig, "detail-type") ? tgt_str(orig, "detail-type") : "Rule Output",
			.detail = text, .detail_len = strlen(text),
			.resources = &call->rule_arn, .n_resources = call->rule_arn ? 1 : 0,
			.time_s = -1, .account = cfg_account, .region = cfg_region,
		};
		r = event_build(&f, bus, ret);
	}
	free(text);
	json_decref(orig);
	return r;
}

static void bus_invoke(const struct target_env *env, const struct target_call *call, target_done_fn done,
		       void *arg)
{
	const char *bus = call->state;
	json_t *in = json_loadb(call->input, call->input_len, 0, NULL);
	struct event *ev = NULL;
	int r;

	if (!json_is_object(in)) {
		json_decref(in);
		tgt_finish(done, arg, TARGET_FAIL, "INVALID_JSON",
			   "the input for event bus %s is not a JSON object, so it cannot be an event", bus);
		return;
	}
	if (!env->bus) {
		json_decref(in);
		tgt_finish(done, arg, TARGET_RETRY, "INTERNAL_ERROR", "no event bus in this daemon yet");
		return;
	}
	if (is_envelope(in))
		r = event_new(tgt_str(in, "id"), bus, call->input, call->input_len, &ev);
	else
		r = wrap(env, call, bus, in, &ev);
	json_decref(in);
	if (r < 0) {
		tgt_finish(done, arg, r == -ENOMEM ? TARGET_RETRY : TARGET_FAIL,
			   r == -ENOMEM ? "INTERNAL_ERROR" : "INVALID_PARAMETER",
			   "cannot make an event for bus %s: %s", bus, strerror(-r));
		return;
	}
	ev->depth = call->ev->depth + 1;
	if (env->ingest) {
		struct forward *fw = malloc(sizeof(*fw));
		if (!fw) {
			event_unref(ev);
			tgt_finish(done, arg, TARGET_RETRY, "INTERNAL_ERROR", "out of memory");
			return;
		}
		*fw = (struct forward){.done = done, .arg = arg};
		snprintf(fw->bus, sizeof(fw->bus), "%s", bus);
		fw->depth = ev->depth;
		ingest_submit(env->ingest, &ev, 1, forwarded, fw);
		event_unref(ev);
		return;
	}
	r = bus_put(env->bus, ev);
	event_unref(ev);
	outcome(done, arg, bus, ev_depth_after(call), r);
}

/* How a forward ended, from bus_put()'s or the ingest's answer. */
static void outcome(target_done_fn done, void *arg, const char *bus, unsigned depth, int r)
{
	if (r == 0)
		tgt_ok(done, arg);
	else if (r == -EAGAIN)
		tgt_finish(done, arg, TARGET_RETRY, "THROTTLING", "event bus %s is full", bus);
	else if (r == -ENOENT)
		tgt_finish(done, arg, TARGET_FAIL, "NO_RESOURCE", "no event bus named %s", bus);
	else if (r == -ELOOP)
		tgt_finish(done, arg, TARGET_FAIL, "LOOP_DETECTED",
			   "event bus %s: the event would be %u levels deep, past limits.max_event_depth (a rule "
			   "reacting to what its own targets cause)", bus, depth);
	else if (r == -ENOSPC)
		tgt_finish(done, arg, TARGET_RETRY, "THROTTLING", "event bus %s: the journal is full", bus);
	else
		tgt_finish(done, arg, TARGET_RETRY, "INTERNAL_ERROR", "event bus %s: %s", bus, strerror(-r));
}

static void forwarded(void *arg, const int *results, size_t n)
{
	struct forward *fw = arg;

	outcome(fw->done, fw->arg, fw->bus, fw->depth, n ? results[0] : -EIO);
	free(fw);
}

const struct target_ops target_bus_ops = {
	.name = "bus",
	.prepare = bus_prepare,
	.release = free,
	.invoke = bus_invoke,
};
