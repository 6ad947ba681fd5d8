/*
 * ruleset.c — read rule files, validate every rule, compile the set.
 *
 * Loading runs in three steps:
 *
 *   1. Paths are expanded by common/dirwalk.h: a file is itself, a directory
 *      every *.json file below it, in byte order, hidden names skipped.
 *   2. Each file is parsed with the strict JSON reader (common/json.h) and
 *      each rule in it validated field by field into a struct rule.
 *      Validation never stops at the first problem: every message goes into
 *      a per-file list as "<pointer>: <message>", and only a file without
 *      any becomes part of the set. EventPatterns are checked and prepared
 *      by pattern.c, schedules by schedule.c, targets by target.c, the
 *      fields both share by rulefield.c; the rule's own fields here.
 *   3. If no file had an error and rule names are unique across the set, the
 *      rules are sorted by name and every enabled rule with a pattern goes
 *      into one matcher under its index.
 *
 * Conventions of the messages: a missing field is "<pointer of the field>: is
 * required"; a wrong value is "<pointer>: must be …" (a wrong JSON type gets
 * the same sentence as a wrong value where one sentence covers both, as in
 * "must be an integer from 1 to 10"); an unknown or repeated key is
 * "<pointer>: unknown field" / "duplicate field". Rule and target objects
 * are stricter than patterns here: a key written twice is an error, not
 * "last one wins". User text is echoed in a message only once it has been
 * checked to be harmless (names, ids, placeholders, time zones).
 *
 * Decisions where EventBridge leaves room (also in tests/data/rules/README.md):
 *   - ScheduleExpressionTimezone, StartDate, EndDate, FlexibleTimeWindow and
 *     CatchUp are errors on a rule without ScheduleExpression.
 *   - StartDate/EndDate without Z or an offset are UTC, as in EventBridge
 *     Scheduler; EndDate must be strictly after StartDate.
 *   - A TaskId or Kafka Key string starting with '$' is a JSONPath into the
 *     event; anything else is a literal. StopTask takes TaskId, or Group
 *     and/or StartedBy (both: tasks matching both), not TaskId with either.
 *   - An InputTemplate placeholder is '<', one or more of [A-Za-z0-9_.-], '>';
 *     other '<' characters are literal text.
 *   - An integer must be written as one (digits, optional '-'): 1.0, 1e2
 *     and 1e400 are rejected.
 *
 * The validation context, its messages and the member getters are
 * common/jcheck.h's, in its file style.
 *
 * Nothing here logs; strings in the result are owned by the ruleset.
 */
#include "ruleset.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dirwalk.h"
#include "jcheck.h"
#include "json.h"
#include "jtext.h"
#include "readfile.h"
#include "rulefield.h"
#include "schedule.h"

#define FORMAT(a, b) RULEFIELD_FORMAT(a, b)

/* ------------------------------------------------------------ rules */

/* A rule while loading: the rule plus what only loading needs. */
struct loaded {
	struct rule rule;
	struct pattern *pattern;   /* validated EventPattern, or NULL */
	char *name_ptr;            /* JSON pointer of its Name, for duplicate messages */
	size_t seq;                /* load order */
};

static const char *const rule_fields[] = {
	"Name", "Description", "State", "EventPattern", "ScheduleExpression",
	"ScheduleExpressionTimezone", "StartDate", "EndDate", "FlexibleTimeWindow", "CatchUp",
	"EventBusName", "RoleArn", "Targets", NULL,
};
static const char *const schedule_only[] = {
	"ScheduleExpressionTimezone", "StartDate", "EndDate", "FlexibleTimeWindow", "CatchUp", NULL,
};

static void rule_free_fields(struct rule *r)
{
	free(r->name);
	free(r->file);
	free(r->where);
	free(r->description);
	free(r->event_bus);
	free(r->pattern_text);
	free(r->schedule_text);
	schedule_free(r->schedule);
	free(r->timezone);
	for (size_t i = 0; i < r->ntargets; i++)
		rule_target_free_fields(&r->targets[i]);
	free(r->targets);
}

static void rule_pattern(struct jcheck *c, const struct ruleset_options *opt,
			 const struct jnode *obj, struct loaded *l)
{
	const struct jnode *n = jnode_get(obj, "EventPattern");
	struct pattern_limits pl = {.max_bytes = opt->max_pattern_bytes};
	const struct jnode *root = n;
	struct jdoc *doc = NULL;
	struct json_error je;
	const char *src;
	size_t srclen;
	char *compact;
	size_t clen;
	int r;

	if (!n)
		return;
	size_t old = jcheck_push(c, "EventPattern");
	if (n->type == JNODE_OBJECT) {
		src = c->text + n->offset;
		srclen = n->end - n->offset;
	} else if (n->type == JNODE_STRING) {
		src = n->u.str;
		srclen = n->len;
	} else {
		jcheck_err(c, "must be an object, or a string holding one");
		goto out_pop;
	}
	/* the limit is on the compact text: indentation in a file does not count */
	if (!(compact = rulefield_compact_json(c, src, srclen, &clen)))
		goto out_pop;
	if (clen > opt->max_pattern_bytes) {
		jcheck_err(c, "pattern is %zu bytes, more than the limit of %zu", clen,
			   opt->max_pattern_bytes);
		free(compact);
		goto out_pop;
	}
	if (n->type == JNODE_STRING) {
		r = jdoc_parse(src, srclen, NULL, &doc, &je);
		if (r == -ENOMEM) {
			c->nomem = true;
			goto out_free_compact;
		}
		if (r < 0) {
			jcheck_err(c, "invalid JSON at line %u, column %u: %s", je.line, je.column,
				   je.message);
			goto out_free_compact;
		}
		root = jdoc_root(doc);
	}
	r = pattern_from_node(root, opt->dialect, &pl, jptr_str(&c->ptr), &l->pattern, c->errs);
	if (r == -ENOMEM)
		c->nomem = true;
	jdoc_free(doc);
	if (r == 0) {
		l->rule.pattern_text = compact;
		l->rule.pattern_len = clen;
		compact = NULL;
	}
out_free_compact:
	free(compact);
out_pop:
	jcheck_pop(c, old);
}

static void rule_schedule(struct jcheck *c, const struct jnode *obj, struct rule *r)
{
	static const char *const flex_fields[] = {"Mode", "MaximumWindowInMinutes", NULL};
	static const char *const flex_modes[] = {"OFF", "FLEXIBLE", NULL};
	static const char *const catch_up[] = {"NONE", "LATEST", "ALL", NULL};
	const struct jnode *flex;
	const char *s;
	size_t len;
	char err[256];
	int rc;

	if ((s = jcheck_string(c, obj, "ScheduleExpression", 0, &len))) {
		rc = schedule_parse(s, len, &r->schedule, err, sizeof(err));
		if (rc == -ENOMEM)
			c->nomem = true;
		else if (rc < 0)
			jcheck_err_at(c, "ScheduleExpression", "%s", err);
		r->schedule_text = jcheck_dup(c, s, len);
	}

	if ((s = jcheck_string(c, obj, "ScheduleExpressionTimezone", 0, &len))) {
		/* loading the zone (not schedule_tz_valid()) tells ENOMEM from ENOENT */
		struct schedule_zone *z = NULL;
		rc = len <= 64 && jtext_chars_in(s, len, "/_+-.") ? schedule_zone_load(s, &z) : -EINVAL;
		schedule_zone_free(z);
		if (rc == 0)
			r->timezone = jcheck_dup(c, s, len);
		else if (rc == -ENOMEM)
			c->nomem = true;
		else if (rc == -ENOENT)
			jcheck_err_at(c, "ScheduleExpressionTimezone", "unknown time zone \"%s\"", s);
		else if (rc == -EINVAL)
			jcheck_err_at(c, "ScheduleExpressionTimezone",
				      "must be an IANA time zone name such as Europe/Paris");
		else
			jcheck_err_at(c, "ScheduleExpressionTimezone", "cannot read time zone \"%s\": %s",
				      s, strerror(-rc));
	}

	static const char *const dates[] = {"StartDate", "EndDate"};
	bool ok[2] = {false, false};
	int64_t when[2] = {0, 0};
	for (size_t i = 0; i < 2; i++) {
		if (!(s = jcheck_string(c, obj, dates[i], 0, &len)))
			continue;
		ok[i] = rulefield_date_parse(s, len, &when[i]);
		if (!ok[i])
			jcheck_err_at(c, dates[i],
				      "must be a date and time such as 2027-01-01T09:00:00, optionally followed by Z or an offset such as +02:00");
	}
	r->has_start_date = ok[0];
	r->start_date = when[0];
	r->has_end_date = ok[1];
	r->end_date = when[1];
	if (ok[0] && ok[1] && when[1] <= when[0])
		jcheck_err_at(c, "EndDate", "must be after StartDate");

	if ((flex = jcheck_member(c, obj, "FlexibleTimeWindow", JNODE_OBJECT, 0))) {
		size_t old = jcheck_push(c, "FlexibleTimeWindow");
		const struct jnode *mw = jnode_get(flex, "MaximumWindowInMinutes");
		int64_t v;
		int mode;

		jcheck_fields(c, flex, flex_fields, NULL);
		mode = jcheck_enum(c, flex, "Mode", JCHECK_REQUIRED, flex_modes, -1);
		if (mode == 1 && !mw)
			jcheck_err_at(c, "MaximumWindowInMinutes", "is required when Mode is FLEXIBLE");
		else if (mode == 0 && mw)
			jcheck_err_at(c, "MaximumWindowInMinutes", "only allowed when Mode is FLEXIBLE");
		else if (jcheck_int(c, flex, "MaximumWindowInMinutes", 0, 1, 1440, &v) > 0 && mode == 1)
			r->flexible_window_min = (uint32_t)v;
		jcheck_pop(c, old);
	}
	rc = jcheck_enum(c, obj, "CatchUp", 0, catch_up, RULE_CATCH_UP_NONE);
	if (rc >= 0)
		r->catch_up = (enum rule_catch_up)rc;
}

static void rule_targets(struct jcheck *c, const struct ruleset_options *opt,
			 const struct jnode *obj, struct rule *r)
{
	const struct jnode *ts = jcheck_member(c, obj, "Targets", JNODE_ARRAY, 0);
	size_t max = opt->max_targets_per_rule;

	if (!ts || ts->len == 0)
		return;
	size_t old = jcheck_push(c, "Targets");
	if (ts->len > max)
		jcheck_err(c, "has %zu targets, more than the limit of %zu", ts->len, max);
	r->targets = calloc(ts->len, sizeof(*r->targets));
	if (!r->targets) {
		c->nomem = true;
		goto out_pop;
	}
	r->ntargets = ts->len;
	for (size_t i = 0; i < ts->len; i++) {
		size_t o2 = jcheck_push_index(c, i);
		rule_target_parse(c, ts->u.items[i], &r->targets[i]);
		jcheck_pop(c, o2);
	}
	if (ts->len > max)
		goto out_pop;
	for (size_t i = 1; i < ts->len; i++) {
		for (size_t j = 0; j < i && r->targets[i].id; j++) {
			if (!r->targets[j].id || strcmp(r->targets[i].id, r->targets[j].id) != 0)
				continue;
			char other[sizeof(c->ptr.buf)];
			size_t o2 = jcheck_push_index(c, j);
			jcheck_push(c, "Id");
			snprintf(other, sizeof(other), "%s", jptr_str(&c->ptr));
			jcheck_pop(c, o2);
			o2 = jcheck_push_index(c, i);
			jcheck_err_at(c, "Id", "duplicate target Id \"%s\" (also %s)", r->targets[i].id,
				      other);
			jcheck_pop(c, o2);
			break;
		}
	}
out_pop:
	jcheck_pop(c, old);
}

static void rule_parse(struct jcheck *c, const struct ruleset_options *opt,
		       const struct jnode *obj, struct loaded *l)
{
	static const char *const states[] = {"ENABLED", "DISABLED",
					     "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", NULL};
	struct rule *r = &l->rule;
	const char *s;
	size_t len;
	int st;

	r->enabled = true;
	if (obj->type != JNODE_OBJECT) {
		jcheck_err(c, "must be a rule object");
		return;
	}
	jcheck_fields(c, obj, rule_fields, NULL);

	if ((s = jcheck_string(c, obj, "Name", JCHECK_REQUIRED, &len))) {
		if (!rulefield_name_ok(s, len, 64)) {
			jcheck_err_at(c, "Name", "must be 1 to 64 characters of A-Z a-z 0-9 . - _");
		} else {
			size_t old = jcheck_push(c, "Name");
			r->name = jcheck_dup(c, s, len);
			l->name_ptr = jcheck_dup(c, c->ptr.buf, c->ptr.len);
			jcheck_pop(c, old);
		}
	}
	if ((s = rulefield_string_max(c, obj, "Description", 0, false, 512, &len)))
		r->description = jcheck_dup(c, s, len);
	st = jcheck_enum(c, obj, "State", 0, states, 0);
	r->enabled = st != 1;

	if ((s = jcheck_string(c, obj, "EventBusName", 0, &len))) {
		struct rulefield_span svc, res = {s, len};
		if (jtext_has_prefix(s, len, "arn:") &&
		    (rulefield_arn_split(s, len, &svc, &res) || !jtext_eq(svc.p, svc.n, "events") ||
		     !jtext_has_prefix(res.p, res.n, "event-bus/"))) {
			res.n = 0;
		} else if (jtext_has_prefix(s, len, "arn:")) {
			res.p += 10;
			res.n -= 10;
		}
		if (res.n == 0 || rulefield_bus_name_problem(res.p, res.n))
			jcheck_err_at(c, "EventBusName",
				      "must be an event bus name (1 to 256 characters of A-Z a-z 0-9 / . - _) or an event bus ARN");
		else
			r->event_bus = jcheck_dup(c, res.p, res.n);
	}
	if (!r->event_bus)
		r->event_bus = jcheck_dup(c, "default", 7);
	jcheck_string(c, obj, "RoleArn", 0, &len);

	rule_pattern(c, opt, obj, l);
	if (!jnode_get(obj, "EventPattern") && !jnode_get(obj, "ScheduleExpression"))
		jcheck_err(c, "a rule needs an EventPattern, a ScheduleExpression or both");
	if (jnode_get(obj, "ScheduleExpression")) {
		rule_schedule(c, obj, r);
	} else {
		for (const char *const *k = schedule_only; *k; k++)
			if (jnode_get(obj, *k))
				jcheck_err_at(c, *k, "only allowed with ScheduleExpression");
	}
	rule_targets(c, opt, obj, r);
}

/* ------------------------------------------------------------ documents */

struct loader {
	struct ruleset_options opt;   /* defaults filled in */
	struct errlist *errs;
	bool failed;                  /* some error was reported */
	bool nomem;
	size_t n, cap;
	struct loaded *v;
};

static void loaded_free(struct loaded *l)
{
	rule_free_fields(&l->rule);
	pattern_free(l->pattern);
	free(l->name_ptr);
}

static int loaded_push(struct loaded **v, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct loaded *nv = realloc(*v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	(*n)++;
	return 0;
}

static void loader_err(struct loader *ld, const char *where, const char *fmt, ...) FORMAT(3, 4);

static void loader_err(struct loader *ld, const char *where, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errlist_addv(ld->errs, where, fmt, ap);
	va_end(ap);
	ld->failed = true;
}

/* Validates one document; its rules join the set only when it has no error. */
static void load_document(struct loader *ld, const char *file, const char *text, size_t len)
{
	struct errlist local = ERRLIST_INIT;
	struct json_limits jl = {.max_bytes = ld->opt.max_file_bytes};
	struct jcheck c;
	struct loaded *tmp = NULL;
	size_t ntmp = 0, captmp = 0;
	const struct jnode *root, *items = NULL;
	struct json_error je;
	struct jdoc *doc = NULL;
	int r;

	jcheck_init(&c, JCHECK_STYLE_FILE, &local, NULL);
	c.text = text;
	if (len > ld->opt.max_file_bytes) {
		errlist_add(&local, NULL, "file is %zu bytes, more than the limit of %zu", len,
			    ld->opt.max_file_bytes);
		goto out_report;
	}
	r = jdoc_parse(text, len, &jl, &doc, &je);
	if (r == -ENOMEM) {
		c.nomem = true;
		goto out_report;
	}
	if (r < 0) {
		errlist_add(&local, NULL, "invalid JSON at line %u, column %u: %s", je.line, je.column,
			    je.message);
		goto out_report;
	}
	root = jdoc_root(doc);
	if (root->type != JNODE_OBJECT) {
		jcheck_err(&c, "must be a rule object or {\"Rules\": [...]}");
		goto out_report;
	}
	if (jnode_get(root, "Rules")) {
		static const char *const fields[] = {"Rules", NULL};
		jcheck_fields(&c, root, fields, NULL);
		items = jcheck_member(&c, root, "Rules", JNODE_ARRAY, JCHECK_REQUIRED);
		if (!items)
			goto out_report;
	}
	size_t count = items ? items->len : 1;
	size_t old = items ? jcheck_push(&c, "Rules") : 0;
	for (size_t i = 0; i < count && !c.nomem; i++) {
		const struct jnode *obj = items ? items->u.items[i] : root;
		size_t o2 = items ? jcheck_push_index(&c, i) : 0;
		if (loaded_push(&tmp, &ntmp, &captmp) < 0) {
			c.nomem = true;
			break;
		}
		rule_parse(&c, &ld->opt, obj, &tmp[ntmp - 1]);
		tmp[ntmp - 1].rule.file = jcheck_dup(&c, file, strlen(file));
		tmp[ntmp - 1].rule.where = jcheck_dup(&c, c.ptr.buf, c.ptr.len);
		if (items)
			jcheck_pop(&c, o2);
	}
	if (items)
		jcheck_pop(&c, old);
	if (!errlist_any(&local) && !c.nomem && ld->n + ntmp > ld->opt.max_rules)
		errlist_add(&local, NULL, "too many rules: the limit is %zu in all", ld->opt.max_rules);

out_report:
	if (errlist_any(&local) || c.nomem) {
		for (size_t i = 0; i < ntmp; i++)
			loaded_free(&tmp[i]);
		ntmp = 0;
	}
	for (size_t i = 0; i < ntmp && !c.nomem; i++) {
		if (loaded_push(&ld->v, &ld->n, &ld->cap) < 0) {
			c.nomem = true;
			for (; i < ntmp; i++)
				loaded_free(&tmp[i]);
			break;
		}
		tmp[i].seq = ld->n - 1;
		ld->v[ld->n - 1] = tmp[i];
	}
	free(tmp);
	if (errlist_any(&local))
		ld->failed = true;
	if (c.nomem)
		ld->nomem = true;
	errlist_move_prefixed(ld->errs, &local, file);
	jdoc_free(doc);
}

/* ------------------------------------------------------------ the set */

static int loaded_cmp(const void *a, const void *b)
{
	const struct loaded *x = a, *y = b;
	int d = strcmp(x->rule.name, y->rule.name);

	if (d)
		return d;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++)
		rule_free_fields(&rs->rules[i]);
	free(rs->rules);
	matcher_free(rs->matcher);
	free(rs);
}

static void loader_init(struct loader *ld, const struct ruleset_options *opt, struct errlist *errs)
{
	memset(ld, 0, sizeof(*ld));
	if (opt)
		ld->opt = *opt;
	if (!ld->opt.max_rules)
		ld->opt.max_rules = RULESET_DEFAULT_MAX_RULES;
	if (!ld->opt.max_targets_per_rule)
		ld->opt.max_targets_per_rule = RULESET_DEFAULT_MAX_TARGETS;
	if (!ld->opt.max_pattern_bytes)
		ld->opt.max_pattern_bytes = RULESET_DEFAULT_MAX_PATTERN_BYTES;
	if (!ld->opt.max_file_bytes)
		ld->opt.max_file_bytes = RULESET_DEFAULT_MAX_FILE_BYTES;
	ld->errs = errs;
}

static void loader_clear(struct loader *ld)
{
	for (size_t i = 0; i < ld->n; i++)
		loaded_free(&ld->v[i]);
	free(ld->v);
	ld->v = NULL;
	ld->n = ld->cap = 0;
}

/* Checks names across the set and compiles it; consumes the loaded rules. */
static int loader_finish(struct loader *ld, struct ruleset **ret)
{
	struct matcher_builder *b;
	struct ruleset *rs = NULL;
	int r = 0;

	if (ld->nomem) {
		r = -ENOMEM;
		goto out_clear;
	}
	if (ld->n)
		qsort(ld->v, ld->n, sizeof(*ld->v), loaded_cmp);
	for (size_t i = 1, first = 0; i < ld->n; i++) {
		if (strcmp(ld->v[i].rule.name, ld->v[first].rule.name) != 0) {
			first = i;
			continue;
		}
		loader_err(ld, ld->v[i].rule.file, "%s: duplicate rule name \"%s\" (also %s: %s)",
			   ld->v[i].name_ptr, ld->v[i].rule.name, ld->v[first].rule.file,
			   ld->v[first].name_ptr);
	}
	if (ld->failed) {
		r = -EINVAL;
		goto out_clear;
	}
	rs = calloc(1, sizeof(*rs));
	if (!rs || (ld->n && !(rs->rules = calloc(ld->n, sizeof(*rs->rules))))) {
		r = -ENOMEM;
		goto out_free_rs;
	}
	atomic_init(&rs->refs, 1);
	b = matcher_builder_new(&ld->opt.matcher);
	if (!b) {
		r = -ENOMEM;
		goto out_free_rs;
	}
	for (size_t i = 0; i < ld->n; i++) {
		struct loaded *l = &ld->v[i];
		rs->rules[i] = l->rule;
		memset(&l->rule, 0, sizeof(l->rule));
		rs->n = i + 1;
		if (l->pattern && rs->rules[i].enabled && r == 0)
			r = matcher_builder_add(b, (uint32_t)i, l->pattern);
		else
			pattern_free(l->pattern);
		l->pattern = NULL;
	}
	if (r < 0) {
		matcher_builder_free(b);
		goto out_free_rs;
	}
	r = matcher_build(b, &rs->matcher);
	if (r < 0)
		goto out_free_rs;
	loader_clear(ld);
	*ret = rs;
	return 0;

out_free_rs:
	ruleset_free(rs);
out_clear:
	loader_clear(ld);
	return r;
}

int ruleset_load(const char *const *paths, size_t npaths, const struct ruleset_options *opt,
		 struct ruleset **ret, struct errlist *errs)
{
	struct dirwalk_list files = DIRWALK_LIST_INIT;
	struct loader ld;
	int r = 0;

	*ret = NULL;
	loader_init(&ld, opt, errs);
	for (size_t i = 0; i < npaths && r >= 0; i++) {
		r = dirwalk_expand(paths[i], &files, errs);
		if (r > 0)
			ld.failed = true;
	}
	for (size_t i = 0; i < files.n && r >= 0 && !ld.nomem; i++) {
		char *text = NULL;
		size_t len = 0;
		int rr = readfile(files.paths[i], ld.opt.max_file_bytes, NULL, &text, &len);
		if (rr == -ENOMEM)
			r = rr;
		else if (rr == -EFBIG)
			loader_err(&ld, files.paths[i], "file is larger than the limit of %zu bytes",
				   ld.opt.max_file_bytes);
		else if (rr == -EISDIR)
			loader_err(&ld, files.paths[i], "not a regular file");
		else if (rr < 0)
			loader_err(&ld, files.paths[i], "%s", strerror(-rr));
		else
			load_document(&ld, files.paths[i], text, len);
		if (rr == 0)
			free(text);
	}
	dirwalk_list_clear(&files);
	if (r < 0) {
		loader_clear(&ld);
		return r;
	}
	return loader_finish(&ld, ret);
}

int ruleset_from_text(const char *name, const char *text, size_t len,
		      const struct ruleset_options *opt, struct ruleset **ret,
		      struct errlist *errs)
{
	struct loader ld;

	*ret = NULL;
	loader_init(&ld, opt, errs);
	load_document(&ld, name, text, len);
	return loader_finish(&ld, ret);
}

struct ruleset *ruleset_ref(struct ruleset *rs)
{
	if (rs)
		atomic_fetch_add_explicit(&rs->refs, 1, memory_order_relaxed);
	return rs;
}

void ruleset_unref(struct ruleset *rs)
{
	if (rs && atomic_fetch_sub_explicit(&rs->refs, 1, memory_order_acq_rel) == 1)
		ruleset_free(rs);
}

const struct rule *ruleset_find(const struct ruleset *rs, const char *name)
{
	size_t lo = 0, hi = rs ? rs->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(name, rs->rules[mid].name);
		if (d == 0)
			return &rs->rules[mid];
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int ruleset_match(const struct ruleset *rs, const char *json, size_t len,
		  struct match_scratch *s, const uint32_t **ret_rule_indexes)
{
	return matcher_match(rs->matcher, json, len, s, ret_rule_indexes);
}
