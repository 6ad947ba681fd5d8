/*
 * api_events.c — EventBridge's operations of the AWS JSON API
 * ("AWSEvents.<Op>", SigV4 service "events"): PutEvents, TestEventPattern,
 * and the read-only ListRules, DescribeRule, ListTargetsByRule and
 * ListEventBuses over the current rule generation (rules come from files:
 * there is no PutRule).
 *
 * PutEvents checks the request as EventBridge does — 1 to 10 entries, at
 * most 256 KB counted as "Calculating PutEvents event entry size" says
 * (Time 14 bytes when given; Source, DetailType, Detail and each Resource
 * their UTF-8 bytes), else the whole request is a ValidationException —
 * then each entry alone: a bad entry gets its error code and message in its
 * slot and the others go on. The good ones become envelopes (event.h) and
 * go to the ingest (journal, then bus); the HTTP answer is deferred until
 * the ingest's callback, then lists every entry in request order.
 *
 * AWS's texts, word for word, and where they were read:
 *   - the per-entry InvalidArgument messages ("Parameter Source is not
 *     valid. Reason: Source is a required argument." and the same for
 *     DetailType and Detail) and MalformedDetail "Detail is malformed.":
 *     moto (moto/events/models.py put_events; tests/test_events/
 *     test_events.py test_put_events_error_missing_argument_*) and
 *     localstack (localstack/services/events/provider.py validate_event),
 *     both checked against AWS;
 *   - more than 10 entries: "1 validation error detected: Value
 *     '[PutEventsRequestEntry]' at 'entries' failed to satisfy constraint:
 *     Member must have length less than or equal to 10" (moto, which notes
 *     AWS lists the entries where we write the type);
 *   - over the size: "Total size of the entries in the request is over the
 *     limit." (localstack's events provider);
 *   - the per-entry codes of a refused event: ThrottlingException (retry)
 *     and InternalFailure (retry) from EventBridge's API reference,
 *     PutEventsResultEntry; ThrottlingException's "Rate exceeded" is AWS's
 *     common throttling text;
 *   - TestEventPattern: an event that is not valid is ValidationException
 *     "Parameter Event is not valid." (localstack's provider; AWS answers
 *     the same); a pattern that is not valid is InvalidEventPatternException
 *     "Event pattern is not valid. Reason: …" (localstack);
 *   - an unknown rule: ResourceNotFoundException "Rule NAME does not exist
 *     on EventBus BUS." and an unknown bus "Event bus NAME does not exist."
 *     (moto's and localstack's events backends, as AWS).
 * Where we differ on purpose: EventBridge accepts (and drops) an entry for
 * a bus that does not exist; here the entry fails with
 * ResourceNotFoundException "Event bus NAME does not exist.", so nothing
 * is lost silently (engine/README.md).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api.h"
#include "api_op.h"
#include "calendar.h"
#include "event.h"
#include "ingest.h"
#include "json.h"
#include "matcher.h"
#include "pattern.h"
#include "rulegen.h"
#include "ruleset.h"

#define EV_PREFIX "AWSEvents."
#define PUT_EVENTS_MAX_ENTRIES 10u
#define PUT_EVENTS_MAX_BYTES (256u * 1024u)  /* the total entry size must be less than this */
#define PUT_EVENTS_TIME_BYTES 14u            /* what a Time counts for */
#define LIST_MAX 100u                        /* Limit of the List operations, as EventBridge */
#define BUS_ARN_MARK ":event-bus/"

static const char *const validation = "ValidationException";
static const char *const serialization = "SerializationException";
static const char *const not_found = "ResourceNotFoundException";

/* ------------------------------------------------------------ members */

/* A member, or NULL when absent or null. */
static const struct jnode *member(const struct jnode *obj, const char *key)
{
	const struct jnode *n = obj && obj->type == JNODE_OBJECT ? jnode_get(obj, key) : NULL;

	return n && n->type != JNODE_NULL ? n : NULL;
}

/* An optional string member: 0 and *ret (NULL when absent), or -1 with the
 * answer filled (SerializationException, as AWS for a member of the wrong type). */
static int opt_string(const struct jnode *obj, const char *key, const char **ret, struct api_answer *a)
{
	const struct jnode *n = member(obj, key);

	*ret = NULL;
	if (!n)
		return 0;
	if (n->type != JNODE_STRING || memchr(n->u.str, '\0', n->len)) {
		api_answer_error(a, 400, serialization, "%s must be a string", key);
		return -1;
	}
	*ret = n->u.str;
	return 0;
}

/* The bus name of an EventBusName (a name or an event bus ARN); "default" when absent. */
static const char *bus_name(const char *name_or_arn)
{
	const char *p;

	if (!name_or_arn || !*name_or_arn)
		return "default";
	if (strncmp(name_or_arn, "arn:", 4) == 0 && (p = strstr(name_or_arn, BUS_ARN_MARK)))
		return p + strlen(BUS_ARN_MARK);
	return name_or_arn;
}

/* ------------------------------------------------------------ time */

/* Time: epoch seconds (a number, as the AWS CLI and SDKs send it, or its
 * text) or an ISO 8601 string. 0 and *ret, or -1. */
static int parse_time(const struct jnode *n, int64_t *ret)
{
	const char *text = n->type == JNODE_NUMBER ? n->u.num : n->type == JNODE_STRING ? n->u.str : NULL;
	char *end;
	double v;

	if (!text)
		return -1;
	errno = 0;
	v = strtod(text, &end);
	if (end != text && !*end && errno == 0) {
		if (!(v >= 0 && v < 253402300800.0)) /* before year 10000 */
			return -1;
		*ret = (int64_t)v;
		return 0;
	}
	if (n->type != JNODE_STRING)
		return -1;
	return calendar_parse_iso8601(text, ret);
}

/* ------------------------------------------------------------ PutEvents */

/* One entry of a request, as read. */
struct entry {
	const char *code, *message;     /* an error of its own, or NULL */
	char message_buf[320];
	const char *source, *detail_type, *detail, *bus;
	size_t detail_len;
	const char **resources;
	size_t n_resources;
	int64_t time_s;                 /* -1: now */
	struct event *ev;               /* built, submitted */
};

/* A request waiting for the ingest's callback. */
struct put_call {
	struct api_later *later;
	size_t n;
	struct entry *entries;
	struct event **evs;             /* the submitted ones, in request order */
	size_t n_evs;
};

static void entry_fail(struct entry *e, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void entry_fail(struct entry *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message_buf, sizeof(e->message_buf), fmt, ap);
	va_end(ap);
	e->message = e->message_buf;
}

static void put_call_free(struct put_call *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->entries[i].resources);
		event_unref(c->entries[i].ev);
	}
	free(c->entries);
	free(c->evs);
	free(c);
}

/* The ingest's result for an event as its entry's error. */
static void entry_result(struct entry *e, int r)
{
	switch (r) {
	case 0:
		return;
	case -ENOENT:
		entry_fail(e, not_found, "Event bus %s does not exist.", e->bus);
		break;
	case -EAGAIN:
		entry_fail(e, "ThrottlingException", "%s", "Rate exceeded");
		break;
	case -ENOSPC:
		entry_fail(e, "InternalFailure", "%s", "the event journal is full; retry later");
		break;
	case -EIO:
		entry_fail(e, "InternalFailure", "%s", "the event journal could not be written; retry later");
		break;
	default:
		entry_fail(e, "InternalFailure", "%s", "out of memory");
		break;
	}
}

/* {FailedEntryCount, Entries: [{EventId} | {ErrorCode, ErrorMessage}]} */
static json_t *put_answer(const struct put_call *c)
{
	json_t *entries = json_array(), *j;
	size_t failed = 0;

	if (!entries)
		return NULL;
	for (size_t i = 0; i < c->n; i++) {
		const struct entry *e = &c->entries[i];

		if (e->code) {
			failed++;
			j = json_pack("{s:s,s:s}", "ErrorCode", e->code, "ErrorMessage", e->message);
		} else {
			j = json_pack("{s:s}", "EventId", e->ev->id);
		}
		if (json_array_append_new(entries, j) < 0) {
			json_decref(entries);
			return NULL;
		}
	}
	return json_pack("{s:I,s:o}", "FailedEntryCount", (json_int_t)failed, "Entries", entries);
}

static void put_done(void *arg, const int *results, size_t n)
{
	struct put_call *c = arg;
	size_t k = 0;

	for (size_t i = 0; i < c->n && k < n; i++)
		if (c->entries[i].ev && !c->entries[i].code)
			entry_result(&c->entries[i], results[k++]);
	api_later_answer(c->later, 200, put_answer(c));
	put_call_free(c);
}

/* The entry's size as EventBridge counts it. */
static size_t entry_size(const struct jnode *en)
{
	static const char *const keys[] = {"Source", "DetailType", "Detail"};
	const struct jnode *n, *res;
	size_t size = member(en, "Time") ? PUT_EVENTS_TIME_BYTES : 0;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((n = member(en, keys[i])) && n->type == JNODE_STRING)
			size += n->len;
	res = member(en, "Resources");
	if (res && res->type == JNODE_ARRAY)
		for (size_t i = 0; i < res->len; i++)
			if (res->u.items[i]->type == JNODE_STRING)
				size += res->u.items[i]->len;
	return size;
}

/* Reads one entry: -1 with the answer filled for a request-level fault
 * (a member of the wrong type), else 0 (the entry may carry its own error). */
static int read_entry(const struct api_ctx *x, const struct jnode *en, struct entry *e, struct api_answer *a)
{
	const struct jnode *t, *res;
	const char *busarg;
	struct jdoc *doc = NULL;

	e->time_s = -1;
	if (en->type != JNODE_OBJECT) {
		api_answer_error(a, 400, serialization, "each of Entries must be an object");
		return -1;
	}
	if (opt_string(en, "Source", &e->source, a) < 0 || opt_string(en, "DetailType", &e->detail_type, a) < 0 ||
	    opt_string(en, "Detail", &e->detail, a) < 0 || opt_string(en, "EventBusName", &busarg, a) < 0)
		return -1;
	e->bus = bus_name(busarg);
	t = member(en, "Time");
	if (t && parse_time(t, &e->time_s) < 0) {
		api_answer_error(a, 400, serialization,
				 "Time must be seconds since the epoch or an ISO 8601 date and time");
		return -1;
	}
	res = member(en, "Resources");
	if (res) {
		if (res->type != JNODE_ARRAY) {
			api_answer_error(a, 400, serialization, "Resources must be a list of strings");
			return -1;
		}
		e->resources = calloc(res->len ? res->len : 1, sizeof(*e->resources));
		if (!e->resources) {
			api_answer_error(a, 500, "InternalException", "out of memory");
			return -1;
		}
		for (size_t i = 0; i < res->len; i++) {
			const struct jnode *r = res->u.items[i];

			if (r->type != JNODE_STRING || memchr(r->u.str, '\0', r->len)) {
				api_answer_error(a, 400, serialization, "Resources must be a list of strings");
				return -1;
			}
			e->resources[e->n_resources++] = r->u.str;
		}
	}

	/* the entry's own faults, in EventBridge's order */
	if (!e->source || !*e->source) {
		entry_fail(e, "InvalidArgument", "%s", "Parameter Source is not valid. Reason: Source is a required argument.");
		return 0;
	}
	if (!e->detail_type || !*e->detail_type) {
		entry_fail(e, "InvalidArgument", "%s",
			   "Parameter DetailType is not valid. Reason: DetailType is a required argument.");
		return 0;
	}
	if (!e->detail || !*e->detail) {
		entry_fail(e, "InvalidArgument", "%s", "Parameter Detail is not valid. Reason: Detail is a required argument.");
		return 0;
	}
	e->detail_len = strlen(e->detail);
	if (jdoc_parse(e->detail, e->detail_len, NULL, &doc, NULL) < 0 || jdoc_root(doc)->type != JNODE_OBJECT) {
		jdoc_free(doc);
		entry_fail(e, "MalformedDetail", "%s", "Detail is malformed.");
		return 0;
	}
	jdoc_free(doc);
	if (x->events->bus_exists && !x->events->bus_exists(x->events->ingest, e->bus)) {
		entry_fail(e, not_found, "Event bus %s does not exist.", e->bus);
		return 0;
	}
	return 0;
}

/* Builds the entry's envelope; an entry that cannot be built fails alone. */
static void build_entry(const struct api_ctx *x, struct entry *e)
{
	struct event_fields f = {
		.source = e->source,
		.detail_type = e->detail_type,
		.detail = e->detail,
		.detail_len = e->detail_len,
		.resources = e->resources,
		.n_resources = e->n_resources,
		.time_s = e->time_s,
		.account = x->cfg->account,
		.region = x->cfg->region,
	};
	int r = event_build(&f, e->bus, &e->ev);

	if (r == -EINVAL)
		entry_fail(e, "MalformedDetail", "%s", "Detail is malformed.");
	else if (r < 0)
		entry_fail(e, "InternalFailure", "%s", "out of memory");
}

static void op_put_events(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
			  struct api_answer *a)
{
	const struct jnode *list = member(in, "Entries");
	struct put_call *c;
	size_t total = 0;

	(void)body;
	(void)len;
	if (!list) {
		api_answer_error(a, 400, validation, "1 validation error detected: Value null at 'entries' failed to "
				 "satisfy constraint: Member must not be null");
		return;
	}
	if (list->type != JNODE_ARRAY) {
		api_answer_error(a, 400, serialization, "Entries must be a list");
		return;
	}
	if (list->len == 0) {
		api_answer_error(a, 400, validation, "1 validation error detected: Value '[]' at 'entries' failed to "
				 "satisfy constraint: Member must have length greater than or equal to 1");
		return;
	}
	if (list->len > PUT_EVENTS_MAX_ENTRIES) {
		api_answer_error(a, 400, validation, "1 validation error detected: Value '[PutEventsRequestEntry]' at "
				 "'entries' failed to satisfy constraint: Member must have length less than or equal to 10");
		return;
	}
	for (size_t i = 0; i < list->len; i++)
		total += entry_size(list->u.items[i]);
	if (total >= PUT_EVENTS_MAX_BYTES) {
		api_answer_error(a, 400, validation, "Total size of the entries in the request is over the limit.");
		return;
	}
	if (!x->events->ingest || !x->events->submit) {
		api_answer_error(a, 503, "ServerException", "the event bus is not running");
		return;
	}

	c = calloc(1, sizeof(*c));
	if (c) {
		c->n = list->len;
		c->entries = calloc(c->n, sizeof(*c->entries));
		c->evs = calloc(c->n, sizeof(*c->evs));
	}
	if (!c || !c->entries || !c->evs) {
		put_call_free(c);
		api_answer_error(a, 500, "InternalException", "out of memory");
		return;
	}
	for (size_t i = 0; i < c->n; i++) {
		if (read_entry(x, list->u.items[i], &c->entries[i], a) < 0) {
			put_call_free(c);
			return;
		}
	}
	for (size_t i = 0; i < c->n; i++) {
		if (c->entries[i].code)
			continue;
		build_entry(x, &c->entries[i]);
		if (c->entries[i].ev && !c->entries[i].code)
			c->evs[c->n_evs++] = c->entries[i].ev;
	}
	if (c->n_evs == 0) {
		a->status = 200;
		a->body = put_answer(c);
		put_call_free(c);
		return;
	}
	c->later = api_answer_later(a);
	if (!c->later) {
		put_call_free(c);
		api_answer_error(a, 500, "InternalException", "out of memory");
		return;
	}
	x->events->submit(x->events->ingest, c->evs, c->n_evs, put_done, c);
}

/* ------------------------------------------------------------ TestEventPattern */

/* The members TestEventPattern requires of an event. */
static const char *const event_fields[] = {"id", "account", "source", "time", "region", "detail-type"};

static void op_test_event_pattern(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
				  struct api_answer *a)
{
	const char *pattern_text, *event_text;
	struct errlist errs = ERRLIST_INIT;
	struct matcher_builder *b;
	struct matcher *m = NULL;
	struct match_scratch *s;
	struct pattern *p = NULL;
	struct jdoc *doc = NULL;
	const uint32_t *ids;
	bool valid;
	int r;

	(void)x;
	(void)body;
	(void)len;
	if (opt_string(in, "EventPattern", &pattern_text, a) < 0 || opt_string(in, "Event", &event_text, a) < 0)
		return;
	if (!pattern_text || !event_text) {
		api_answer_error(a, 400, validation, "1 validation error detected: Value null at '%s' failed to satisfy "
				 "constraint: Member must not be null", pattern_text ? "event" : "eventPattern");
		return;
	}
	if (pattern_parse(pattern_text, strlen(pattern_text), PATTERN_DIALECT_TRIPLINE, NULL, &p, &errs) < 0) {
		api_answer_error(a, 400, "InvalidEventPatternException", "Event pattern is not valid. Reason: %s",
				 errs.n ? errs.msgs[0] : "out of memory");
		errlist_clear(&errs);
		return;
	}
	errlist_clear(&errs);
	valid = jdoc_parse(event_text, strlen(event_text), NULL, &doc, NULL) == 0 &&
		jdoc_root(doc)->type == JNODE_OBJECT;
	for (size_t i = 0; valid && i < sizeof(event_fields) / sizeof(event_fields[0]); i++)
		valid = jnode_get(jdoc_root(doc), event_fields[i]) != NULL;
	jdoc_free(doc);
	if (!valid) {
		pattern_free(p);
		api_answer_error(a, 400, validation, "Parameter Event is not valid.");
		return;
	}
	b = matcher_builder_new(NULL);
	if (!b || matcher_builder_add(b, 0, p) < 0) {
		if (!b)
			pattern_free(p);
		matcher_builder_free(b);
		api_answer_error(a, 500, "InternalException", "out of memory");
		return;
	}
	if (matcher_build(b, &m) < 0) { /* consumes b */
		api_answer_error(a, 500, "InternalException", "out of memory");
		return;
	}
	s = match_scratch_new();
	if (!s) {
		matcher_free(m);
		api_answer_error(a, 500, "InternalException", "out of memory");
		return;
	}
	r = matcher_match(m, event_text, strlen(event_text), s, &ids);
	if (r < 0)
		api_answer_error(a, 400, validation, "Parameter Event is not valid. Reason: %s", match_scratch_error(s));
	else {
		a->status = 200;
		a->body = json_pack("{s:b}", "Result", r > 0);
	}
	match_scratch_free(s);
	matcher_free(m);
}

/* ------------------------------------------------------------ rules and buses */

static const struct ruleset *current_rules(const struct api_ctx *x)
{
	struct rulegen *g = x->events->rules ? x->events->rules(x->events->rules_arg) : NULL;

	return g ? g->rs : NULL;
}

static void bus_arn(const struct api_ctx *x, const char *bus, char *buf, size_t len)
{
	snprintf(buf, len, "arn:aws:events:%s:%s:event-bus/%s", x->cfg->region, x->cfg->account, bus);
}

static void rule_arn(const struct api_ctx *x, const struct rule *r, char *buf, size_t len)
{
	if (strcmp(r->event_bus, "default") == 0)
		snprintf(buf, len, "arn:aws:events:%s:%s:rule/%s", x->cfg->region, x->cfg->account, r->name);
	else
		snprintf(buf, len, "arn:aws:events:%s:%s:rule/%s/%s", x->cfg->region, x->cfg->account, r->event_bus,
			 r->name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every bus, sorted, without repeats: default, the configured ones, those
 * the rules name. The strings are borrowed; free the array. */
static const char **all_buses(const struct api_ctx *x, const struct ruleset *rs, size_t *ret_n)
{
	size_t cap = 1 + x->cfg->buses.n + (rs ? rs->n : 0), n = 0, k = 0;
	const char **v = calloc(cap, sizeof(*v));

	if (!v)
		return NULL;
	v[n++] = "default";
	for (size_t i = 0; i < x->cfg->buses.n; i++)
		v[n++] = x->cfg->buses.v[i];
	for (size_t i = 0; rs && i < rs->n; i++)
		v[n++] = rs->rules[i].event_bus;
	qsort(v, n, sizeof(*v), cmp_str);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || strcmp(v[k - 1], v[i]) != 0)
			v[k++] = v[i];
	*ret_n = k;
	return v;
}

static bool bus_known(const struct api_ctx *x, const struct ruleset *rs, const char *bus)
{
	if (strcmp(bus, "default") == 0)
		return true;
	for (size_t i = 0; i < x->cfg->buses.n; i++)
		if (strcmp(x->cfg->buses.v[i], bus) == 0)
			return true;
	for (size_t i = 0; rs && i < rs->n; i++)
		if (strcmp(rs->rules[i].event_bus, bus) == 0)
			return true;
	return false;
}

/* Limit (1..100, default 100) and NextToken; -1 with the answer filled. */
static int read_paging(const struct jnode *in, size_t *limit, const char **token, struct api_answer *a)
{
	const struct jnode *l = member(in, "Limit");
	char *end;
	long v;

	*limit = LIST_MAX;
	if (opt_string(in, "NextToken", token, a) < 0)
		return -1;
	if (!l)
		return 0;
	if (l->type != JNODE_NUMBER) {
		api_answer_error(a, 400, serialization, "Limit must be a number");
		return -1;
	}
	v = strtol(l->u.num, &end, 10);
	if (*end || v < 1 || v > (long)LIST_MAX) {
		api_answer_error(a, 400, validation, "1 validation error detected: Value '%s' at 'limit' failed to "
				 "satisfy constraint: Member must have value %s", l->u.num,
				 *end || v < 1 ? "greater than or equal to 1" : "less than or equal to 100");
		return -1;
	}
	*limit = (size_t)v;
	return 0;
}

/* The bus an operation names (EventBusName), which must exist. */
static int read_bus(const struct api_ctx *x, const struct ruleset *rs, const struct jnode *in, const char **ret,
		    struct api_answer *a)
{
	const char *arg;

	if (opt_string(in, "EventBusName", &arg, a) < 0)
		return -1;
	*ret = bus_name(arg);
	if (!bus_known(x, rs, *ret)) {
		api_answer_error(a, 400, not_found, "Event bus %s does not exist.", *ret);
		return -1;
	}
	return 0;
}

/* A rule as ListRules and DescribeRule show it. */
static json_t *rule_json(const struct api_ctx *x, const struct rule *r)
{
	char arn[512];
	json_t *j;

	rule_arn(x, r, arn, sizeof(arn));
	j = json_pack("{s:s,s:s,s:s,s:s}", "Name", r->name, "Arn", arn, "State", r->enabled ? "ENABLED" : "DISABLED",
		      "EventBusName", r->event_bus);
	if (!j)
		return NULL;
	if ((r->pattern_text && json_object_set_new(j, "EventPattern", json_stringn(r->pattern_text, r->pattern_len)) < 0) ||
	    (r->schedule_text && json_object_set_new(j, "ScheduleExpression", json_string(r->schedule_text)) < 0) ||
	    (r->description && json_object_set_new(j, "Description", json_string(r->description)) < 0)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* A page answer: {member: items, "NextToken"?: token}. Takes items. */
static void page_answer(struct api_answer *a, const char *key, json_t *items, const char *next)
{
	json_t *j = items ? json_pack("{s:o}", key, items) : NULL;

	if (j && next && json_object_set_new(j, "NextToken", json_string(next)) < 0) {
		json_decref(j);
		j = NULL;
	}
	a->status = 200;
	a->body = j;
}

static void op_list_rules(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
			  struct api_answer *a)
{
	const struct ruleset *rs = current_rules(x);
	const char *bus, *prefix, *token;
	size_t limit, shown = 0;
	json_t *items;

	(void)body;
	(void)len;
	if (read_bus(x, rs, in, &bus, a) < 0 || opt_string(in, "NamePrefix", &prefix, a) < 0 ||
	    read_paging(in, &limit, &token, a) < 0)
		return;
	items = json_array();
	/* rules are sorted by name: a token is the name of the next rule to show */
	for (size_t i = 0; items && rs && i < rs->n; i++) {
		const struct rule *r = &rs->rules[i];

		if (strcmp(r->event_bus, bus) != 0 || (prefix && strncmp(r->name, prefix, strlen(prefix)) != 0) ||
		    (token && strcmp(r->name, token) < 0))
			continue;
		if (shown == limit) {
			page_answer(a, "Rules", items, r->name);
			return;
		}
		if (json_array_append_new(items, rule_json(x, r)) < 0) {
			json_decref(items);
			items = NULL;
		}
		shown++;
	}
	page_answer(a, "Rules", items, NULL);
}

/* The rule named by in's key on its bus; -1 with the answer filled. */
static int read_rule(const struct api_ctx *x, const struct jnode *in, const char *key, const struct rule **ret,
		     struct api_answer *a)
{
	const struct ruleset *rs = current_rules(x);
	const char *bus, *name;
	const struct rule *r;

	if (opt_string(in, key, &name, a) < 0 || read_bus(x, rs, in, &bus, a) < 0)
		return -1;
	if (!name) {
		api_answer_error(a, 400, validation, "1 validation error detected: Value null at '%s' failed to "
				 "satisfy constraint: Member must not be null", strcmp(key, "Name") == 0 ? "name" : "rule");
		return -1;
	}
	r = rs ? ruleset_find(rs, name) : NULL;
	if (!r || strcmp(r->event_bus, bus) != 0) {
		api_answer_error(a, 400, not_found, "Rule %s does not exist on EventBus %s.", name, bus);
		return -1;
	}
	*ret = r;
	return 0;
}

static void op_describe_rule(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
			     struct api_answer *a)
{
	const struct rule *r;

	(void)body;
	(void)len;
	if (read_rule(x, in, "Name", &r, a) < 0)
		return;
	a->status = 200;
	a->body = rule_json(x, r);
}

static void op_list_targets_by_rule(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
				    struct api_answer *a)
{
	const struct rule *r;
	const char *token;
	size_t limit, from = 0;
	json_t *items;
	char next[32];

	(void)body;
	(void)len;
	if (read_rule(x, in, "Rule", &r, a) < 0 || read_paging(in, &limit, &token, a) < 0)
		return;
	if (token) {
		char *end;
		unsigned long v = strtoul(token, &end, 10);

		if (*end || end == token || v > r->ntargets) {
			api_answer_error(a, 400, validation, "the NextToken is not valid");
			return;
		}
		from = (size_t)v;
	}
	items = json_array();
	/* each target as its rule file writes it (its members are EventBridge's
	 * Target, plus tripline's extensions) */
	for (size_t i = from; items && i < r->ntargets && i < from + limit; i++) {
		json_t *t = json_loadb(r->targets[i].json, r->targets[i].json_len, 0, NULL);

		if (json_array_append_new(items, t) < 0) {
			json_decref(items);
			items = NULL;
		}
	}
	snprintf(next, sizeof(next), "%zu", from + limit);
	page_answer(a, "Targets", items, from + limit < r->ntargets ? next : NULL);
}

static void op_list_event_buses(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
				struct api_answer *a)
{
	const struct ruleset *rs = current_rules(x);
	const char *prefix, *token, **buses;
	size_t limit, n = 0, shown = 0;
	json_t *items;
	char arn[512];

	(void)body;
	(void)len;
	if (opt_string(in, "NamePrefix", &prefix, a) < 0 || read_paging(in, &limit, &token, a) < 0)
		return;
	buses = all_buses(x, rs, &n);
	items = buses ? json_array() : NULL;
	for (size_t i = 0; items && i < n; i++) {
		if ((prefix && strncmp(buses[i], prefix, strlen(prefix)) != 0) || (token && strcmp(buses[i], token) < 0))
			continue;
		if (shown == limit) {
			page_answer(a, "EventBuses", items, buses[i]);
			free(buses);
			return;
		}
		bus_arn(x, buses[i], arn, sizeof(arn));
		if (json_array_append_new(items, json_pack("{s:s,s:s}", "Name", buses[i], "Arn", arn)) < 0) {
			json_decref(items);
			items = NULL;
		}
		shown++;
	}
	free(buses);
	page_answer(a, "EventBuses", items, NULL);
}

const struct api_op api_events_ops[] = {
	{EV_PREFIX "PutEvents", op_put_events, false},
	{EV_PREFIX "TestEventPattern", op_test_event_pattern, false},
	{EV_PREFIX "ListRules", op_list_rules, false},
	{EV_PREFIX "DescribeRule", op_describe_rule, false},
	{EV_PREFIX "ListTargetsByRule", op_list_targets_by_rule, false},
	{EV_PREFIX "ListEventBuses", op_list_event_buses, false},
};
const size_t api_events_n_ops = sizeof(api_events_ops) / sizeof(api_events_ops[0]);
