/*
 * api_dlq.c — tripline's Tripline.RedriveDeadLetter: one dead letter's
 * event dispatched again to its own rule and target only (what
 * `tripline dlq redrive` calls for each line of a dead-letter file).
 *
 * Request: {"Event": "<the envelope as JSON text>", "RuleName": "…",
 * "TargetId": "…", "EventBusName": "…" (optional, default "default")}.
 * The envelope keeps its id (so Dedup and the targets' idempotency tokens
 * still apply) and must be a JSON object with a string "id" of at most
 * EVENT_MAX_ID bytes, within limits.max_event_bytes (256 KiB when unset).
 * The dispatch runs under the current rule generation, with a fresh
 * RetryPolicy clock (its age counts from the redrive).
 *
 * Answer: {"EventId", "RuleName", "TargetId"} once the dispatch has begun
 * (not once it is final: a redrive that fails again writes a new dead
 * letter). Errors: ValidationException (a missing or bad member),
 * ResourceNotFoundException "Rule NAME does not exist." / "Target ID does
 * not exist on rule NAME." (also for a disabled rule), 503 without a
 * dispatcher.
 */
#include <errno.h>
#include <string.h>

#include "api.h"
#include "api_op.h"
#include "event.h"
#include "json.h"
#include "rulegen.h"

#define TRIPLINE_PREFIX "Tripline."
#define REDRIVE_DEFAULT_MAX_EVENT_BYTES ((size_t)256 << 10)

static const char *const validation = "ValidationException";

/* A required string member, else an error answer and NULL. */
static const char *member(const struct jnode *in, const char *key, size_t max, struct api_answer *ret)
{
	const struct jnode *n = jnode_get(in, key);

	if (!n || n->type != JNODE_STRING || n->len == 0) {
		api_answer_error(ret, 400, validation, "%s is required and must be a non-empty string.", key);
		return NULL;
	}
	if (n->len > max || strlen(n->u.str) != n->len) {
		api_answer_error(ret, 400, validation, "%s is not valid.", key);
		return NULL;
	}
	return n->u.str;
}

static void op_redrive(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
		       struct api_answer *ret)
{
	size_t max = x->cfg && x->cfg->limits.max_event_bytes ? (size_t)x->cfg->limits.max_event_bytes
							       : REDRIVE_DEFAULT_MAX_EVENT_BYTES;
	const char *text, *rule, *target, *bus = "default";
	struct rulegen *gen;
	struct jdoc *doc = NULL;
	const struct jnode *id;
	struct event *ev = NULL;
	int r;

	(void)body, (void)len;
	if (!x->dlq->redrive || !x->dlq->dispatch) {
		api_answer_error(ret, 503, "ServiceUnavailableException", "the dispatcher is not running");
		return;
	}
	if (!(text = member(in, "Event", max, ret)) || !(rule = member(in, "RuleName", 64, ret)) ||
	    !(target = member(in, "TargetId", 64, ret)))
		return;
	if (jnode_get(in, "EventBusName") && !(bus = member(in, "EventBusName", 256, ret)))
		return;
	if (jdoc_parse(text, strlen(text), NULL, &doc, NULL) < 0 || jdoc_root(doc)->type != JNODE_OBJECT ||
	    !(id = jnode_get(jdoc_root(doc), "id")) || id->type != JNODE_STRING || id->len == 0 ||
	    id->len > EVENT_MAX_ID || strlen(id->u.str) != id->len) {
		jdoc_free(doc);
		api_answer_error(ret, 400, validation, "Parameter Event is not valid.");
		return;
	}
	r = event_new(id->u.str, bus, text, strlen(text), &ev);
	jdoc_free(doc);
	if (r < 0) {
		api_answer_error(ret, r == -ENOMEM ? 500 : 400, r == -ENOMEM ? "InternalException" : validation,
				 r == -ENOMEM ? "out of memory" : "Parameter Event is not valid.");
		return;
	}
	gen = x->events->rules ? x->events->rules(x->events->rules_arg) : NULL;
	r = x->dlq->redrive(x->dlq->dispatch, gen, ev, rule, target);
	if (r == -ENOENT) {
		const struct rule *ru = gen && gen->rs ? ruleset_find(gen->rs, rule) : NULL;
		if (ru && ru->enabled)
			api_answer_error(ret, 400, "ResourceNotFoundException", "Target %s does not exist on rule %s.",
					 target, rule);
		else
			api_answer_error(ret, 400, "ResourceNotFoundException", "Rule %s does not exist.", rule);
	} else if (r < 0) {
		api_answer_error(ret, 500, "InternalException", "out of memory");
	} else {
		ret->status = 200;
		ret->body = json_pack("{s:s, s:s, s:s}", "EventId", ev->id, "RuleName", rule, "TargetId", target);
	}
	event_unref(ev);
}

const struct api_op api_dlq_ops[] = {
	{TRIPLINE_PREFIX "RedriveDeadLetter", op_redrive, false},
};
const size_t api_dlq_n_ops = sizeof(api_dlq_ops) / sizeof(api_dlq_ops[0]);
