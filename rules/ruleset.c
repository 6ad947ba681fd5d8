/*
 * ruleset.c — read rule files, validate every rule, compile the set.
 *
 * Loading runs in three steps:
 *
 *   1. Paths are expanded: a directory contributes every regular *.json file
 *      below it (sorted by name at each level, names starting with '.'
 *      skipped, symbolic links followed with a guard against loops).
 *   2. Each file is parsed with the strict JSON reader (json.h) and each rule
 *      in it validated field by field into a struct rule. Validation never
 *      stops at the first problem: every message goes into a per-file list as
 *      "<pointer>: <message>", and only a file without any becomes part of
 *      the set. EventPatterns are checked and prepared by pattern.c, schedules
 *      by schedule.c; everything else (targets, ARNs, JSONPaths, dates, the
 *      ECS parameters and tripline's extensions) is checked here.
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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calendar.h"
#include "dirwalk.h"
#include "http_token.h"
#include "jcheck.h"
#include "json.h"
#include "jtext.h"
#include "readfile.h"
#include "schedule.h"

#define FORMAT(a, b) __attribute__((format(printf, a, b)))

#define RETRY_DEFAULT_ATTEMPTS 185u
#define RETRY_DEFAULT_AGE_S 86400u
#define DEDUP_DEFAULT_WINDOW_S 600u
#define DESIRED_COUNT_MAX 1000000

/* ------------------------------------------------------------ text helpers */

struct span {
	const char *p;
	size_t n;
};

static bool has_prefix_ci(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && strncasecmp(s, prefix, k) == 0;
}

/* Characters (code points) of valid UTF-8. */
static size_t utf8_chars(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			k++;
	return k;
}

/* EventBridge names and ids: 1 to max of [.\-_A-Za-z0-9]. */
static bool name_ok(const char *s, size_t n, size_t max)
{
	return n >= 1 && n <= max && jtext_chars_in(s, n, ".-_");
}

/*
 * The value of a JSON number's text, to about 18 significant digits; enough
 * for range checks and rates. Does not depend on the C locale (strtod does).
 */
static double number_value(const char *s)
{
	bool neg = false;
	uint64_t mant = 0;
	int digits = 0;
	long exp10 = 0;

	if (*s == '-') {
		neg = true;
		s++;
	}
	for (; jtext_is_digit(*s); s++) {
		if (digits < 18) {
			mant = mant * 10 + (uint64_t)(*s - '0');
			if (mant)
				digits++;
		} else {
			exp10++;
		}
	}
	if (*s == '.') {
		for (s++; jtext_is_digit(*s); s++) {
			if (digits < 18) {
				mant = mant * 10 + (uint64_t)(*s - '0');
				exp10--;
				if (mant)
					digits++;
			}
		}
	}
	if (*s == 'e' || *s == 'E') {
		long e = 0, sign = 1;
		s++;
		if (*s == '+' || *s == '-')
			sign = *s++ == '-' ? -1 : 1;
		for (; jtext_is_digit(*s); s++)
			if (e < 100000)
				e = e * 10 + (*s - '0');
		exp10 += sign * e;
	}
	if (mant == 0)
		return 0.0;
	if (exp10 > 400)
		return neg ? -HUGE_VAL : HUGE_VAL;
	if (exp10 < -400)
		return 0.0;
	double v = (double)mant;
	for (; exp10 > 0; exp10--)
		v *= 10.0;
	for (; exp10 < 0; exp10++)
		v /= 10.0;
	return neg ? -v : v;
}

/*
 * EventBridge's restricted JSONPath: "$", or "$" followed by ".name"
 * segments (any characters but '.', '[' and ']'), each optionally followed
 * by array indexes "[n]"; at most 256 characters. NULL when s is one, else
 * what is wrong.
 */
static const char *jsonpath_problem(const char *s, size_t n)
{
	size_t i = 1;

	if (utf8_chars(s, n) > 256)
		return "longer than 256 characters";
	if (n == 0 || s[0] != '$')
		return "must start with \"$\"";
	while (i < n) {
		if (s[i] != '.')
			return "expected '.' before each name, as in $.detail.key";
		size_t start = ++i;
		while (i < n && s[i] != '.' && s[i] != '[' && s[i] != ']')
			i++;
		if (i == start)
			return "empty name after '.'";
		while (i < n && s[i] == '[') {
			size_t d = ++i;
			while (i < n && jtext_is_digit(s[i]))
				i++;
			if (i == d || i >= n || s[i] != ']')
				return "'[' must hold an array index, as in [0]";
			i++;
		}
		if (i < n && s[i] == ']')
			return "unexpected ']'";
	}
	return NULL;
}

/* Copies the JSON text p[0..n) without the whitespace outside strings. */
static char *compact_json(struct jcheck *c, const char *p, size_t n, size_t *ret_len)
{
	char *out = malloc(n + 1);
	bool in_str = false;
	size_t o = 0;

	if (!out) {
		c->nomem = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (in_str) {
			out[o++] = ch;
			if (ch == '\\' && i + 1 < n)
				out[o++] = p[++i];
			else if (ch == '"')
				in_str = false;
		} else if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t') {
			if (ch == '"')
				in_str = true;
			out[o++] = ch;
		}
	}
	out[o] = '\0';
	*ret_len = o;
	return out;
}

/* ------------------------------------------------------------ ARNs, URLs, dates */

/*
 * Splits arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE and checks the parts
 * that are the same for every service. NULL or what is wrong.
 */
static const char *arn_split(const char *s, size_t n, struct span *ret_service,
			     struct span *ret_resource)
{
	struct span part[5];
	size_t i = 4, k = 0;

	if (!jtext_has_prefix(s, n, "arn:"))
		return "invalid ARN: expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE";
	for (k = 0; k < 4; k++) {
		const char *colon = memchr(s + i, ':', n - i);
		if (!colon)
			return "invalid ARN: expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE";
		part[k].p = s + i;
		part[k].n = (size_t)(colon - (s + i));
		i = (size_t)(colon - s) + 1;
	}
	part[4].p = s + i;
	part[4].n = n - i;
	if (!jtext_eq(part[0].p, part[0].n, "aws") &&
	    !(jtext_has_prefix(part[0].p, part[0].n, "aws-") && part[0].n > 4 &&
	      jtext_chars_in(part[0].p, part[0].n, "-")))
		return "invalid ARN: the partition must be \"aws\" or start with \"aws-\"";
	if (part[1].n == 0 || !jtext_chars_in(part[1].p, part[1].n, "-"))
		return "invalid ARN: expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE";
	if (part[2].n == 0 || !jtext_chars_in(part[2].p, part[2].n, "-"))
		return "invalid ARN: the region must be letters, digits and '-'";
	if (part[3].n != 12)
		return "invalid ARN: the account must be 12 digits";
	for (size_t j = 0; j < 12; j++)
		if (!jtext_is_digit(part[3].p[j]))
			return "invalid ARN: the account must be 12 digits";
	if (part[4].n == 0)
		return "invalid ARN: expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE";
	*ret_service = part[1];
	*ret_resource = part[4];
	return NULL;
}

static const char *ecs_cluster_problem(const char *s, size_t n)
{
	if (n < 1 || n > 255 || !jtext_chars_in(s, n, "-_"))
		return "invalid ECS cluster name: must be 1 to 255 characters of A-Z a-z 0-9 - _";
	return NULL;
}

static const char *bus_name_problem(const char *s, size_t n)
{
	if (n < 1 || n > 256 || !jtext_chars_in(s, n, "/.-_"))
		return "invalid event bus name: must be 1 to 256 characters of A-Z a-z 0-9 / . - _";
	return NULL;
}

/* scheme://[userinfo@]host[:port][/…]; the whole URL without spaces or controls. */
static const char *url_problem(const char *s, size_t n)
{
	const char *sep = memmem(s, n, "://", 3);
	size_t i = sep ? (size_t)(sep - s) + 3 : n;
	size_t auth_end = i, host, host_end;

	for (size_t j = 0; j < n; j++)
		if ((unsigned char)s[j] <= 0x20 || s[j] == 0x7f)
			return "invalid URL: spaces and control characters must be percent-encoded";
	while (auth_end < n && s[auth_end] != '/' && s[auth_end] != '?' && s[auth_end] != '#')
		auth_end++;
	host = i;
	for (size_t j = i; j < auth_end; j++)
		if (s[j] == '@')
			host = j + 1;
	if (host < auth_end && s[host] == '[') {
		const char *rb = memchr(s + host, ']', auth_end - host);
		if (!rb || rb == s + host + 1 || !jtext_chars_in(s + host + 1, (size_t)(rb - s - host - 1), ":."))
			return "invalid URL: bad IPv6 address";
		host_end = (size_t)(rb - s) + 1;
	} else {
		host_end = host;
		while (host_end < auth_end && s[host_end] != ':')
			host_end++;
		if (!jtext_chars_in(s + host, host_end - host, ".-_~%"))
			return "invalid URL: bad host name";
	}
	if (host_end == host)
		return "invalid URL: no host";
	if (host_end < auth_end) {
		int64_t port;
		if (s[host_end] != ':' ||
		    !jtext_int(s + host_end + 1, auth_end - host_end - 1, 1, 65535, &port) ||
		    s[host_end + 1] == '-')
			return "invalid URL: the port must be a number from 1 to 65535";
	}
	return NULL;
}

/*
 * Picks the target kind of an Arn (or a dead letter destination) and the part
 * that names the resource. NULL, or what is wrong.
 */
static const char *target_classify(const char *s, size_t n, enum target_kind *ret_kind,
				   struct span *ret_res)
{
	const char *why;

	if (jtext_has_prefix(s, n, "arn:")) {
		struct span svc, res;
		if ((why = arn_split(s, n, &svc, &res)))
			return why;
		if (jtext_eq(svc.p, svc.n, "ecs")) {
			if (!jtext_has_prefix(res.p, res.n, "cluster/"))
				return "an ECS target ARN must name a cluster: arn:aws:ecs:REGION:ACCOUNT:cluster/NAME";
			ret_res->p = res.p + 8;
			ret_res->n = res.n - 8;
			*ret_kind = TARGET_TASK;
			return ecs_cluster_problem(ret_res->p, ret_res->n);
		}
		if (jtext_eq(svc.p, svc.n, "events")) {
			if (!jtext_has_prefix(res.p, res.n, "event-bus/"))
				return "an events target ARN must name an event bus: arn:aws:events:REGION:ACCOUNT:event-bus/NAME";
			ret_res->p = res.p + 10;
			ret_res->n = res.n - 10;
			*ret_kind = TARGET_BUS;
			return bus_name_problem(ret_res->p, ret_res->n);
		}
		return "unsupported ARN: tripline targets are ECS clusters, event buses, http(s):// URLs, kafka:TOPIC and file:PATH";
	}
	if (jtext_has_prefix(s, n, "cluster/")) {
		ret_res->p = s + 8;
		ret_res->n = n - 8;
		*ret_kind = TARGET_TASK;
		return ecs_cluster_problem(ret_res->p, ret_res->n);
	}
	if (has_prefix_ci(s, n, "http://") || has_prefix_ci(s, n, "https://")) {
		ret_res->p = s;
		ret_res->n = n;
		*ret_kind = TARGET_HTTP;
		return url_problem(s, n);
	}
	if (jtext_has_prefix(s, n, "kafka:")) {
		const char *t = s + 6;
		size_t tn = n - 6;
		if (tn < 1 || tn > 249 || !jtext_chars_in(t, tn, "._-"))
			return "invalid Kafka topic: must be 1 to 249 characters of A-Z a-z 0-9 . _ -";
		if (jtext_eq(t, tn, ".") || jtext_eq(t, tn, ".."))
			return "invalid Kafka topic: \".\" and \"..\" are not allowed";
		ret_res->p = t;
		ret_res->n = tn;
		*ret_kind = TARGET_KAFKA;
		return NULL;
	}
	if (jtext_has_prefix(s, n, "file:")) {
		const char *p = s + 5;
		size_t pn = n - 5;
		if (jtext_has_prefix(p, pn, "//")) {
			if (jtext_has_prefix(p, pn, "//localhost/")) {
				p += 11;
				pn -= 11;
			} else if (jtext_has_prefix(p, pn, "///")) {
				p += 2;
				pn -= 2;
			} else {
				return "a file URL must have no host: file:///ABSOLUTE/PATH";
			}
			if (pn < 2)
				return "a file target needs a path: file:PATH or file:///ABSOLUTE/PATH";
		}
		if (pn == 0)
			return "a file target needs a path: file:PATH or file:///ABSOLUTE/PATH";
		ret_res->p = p;
		ret_res->n = pn;
		*ret_kind = TARGET_FILE;
		return NULL;
	}
	return "unsupported target: the Arn must be an ECS cluster ARN or cluster/NAME, an http(s):// URL, kafka:TOPIC, file:PATH or an event bus ARN";
}

static bool digits_at(const char *s, size_t n, size_t at, size_t k, unsigned *ret)
{
	unsigned v = 0;

	if (at + k > n)
		return false;
	for (size_t i = at; i < at + k; i++) {
		if (!jtext_is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*ret = v;
	return true;
}

/* yyyy-mm-ddThh:mm:ss, then nothing (UTC), "Z" or ±hh:mm; seconds since the epoch. */
static bool date_parse(const char *s, size_t n, int64_t *ret)
{
	unsigned y, mo, d, h, mi, se, oh = 0, om = 0;
	int64_t off = 0;

	if (!digits_at(s, n, 0, 4, &y) || n < 19 || s[4] != '-' || !digits_at(s, n, 5, 2, &mo) ||
	    s[7] != '-' || !digits_at(s, n, 8, 2, &d) || s[10] != 'T' ||
	    !digits_at(s, n, 11, 2, &h) || s[13] != ':' || !digits_at(s, n, 14, 2, &mi) ||
	    s[16] != ':' || !digits_at(s, n, 17, 2, &se))
		return false;
	if (n == 20 && s[19] == 'Z') {
		/* UTC */
	} else if (n == 25 && (s[19] == '+' || s[19] == '-')) {
		if (!digits_at(s, n, 20, 2, &oh) || s[22] != ':' || !digits_at(s, n, 23, 2, &om) ||
		    oh > 23 || om > 59)
			return false;
		off = (int64_t)(oh * 3600 + om * 60);
		if (s[19] == '-')
			off = -off;
	} else if (n != 19) {
		return false;
	}
	if (y < 1970 || !calendar_date_valid(y, mo, d, h, mi, se))
		return false;
	*ret = calendar_days_from_civil(y, mo, d) * CALENDAR_SECS_PER_DAY + (int64_t)(h * 3600 + mi * 60 + se) - off;
	return true;
}

/* ------------------------------------------------------------ field helpers */

/* A string member of at most max characters (min 1 when nonempty). */
static const char *get_string_max(struct jcheck *c, const struct jnode *obj, const char *key,
				  unsigned flags, bool nonempty, size_t max, size_t *ret_len)
{
	const char *s = jcheck_string(c, obj, key, flags, ret_len);

	if (!s)
		return NULL;
	if ((nonempty && *ret_len == 0) || utf8_chars(s, *ret_len) > max) {
		if (nonempty)
			jcheck_err_at(c, key, "must be 1 to %zu characters", max);
		else
			jcheck_err_at(c, key, "must be at most %zu characters", max);
		return NULL;
	}
	return s;
}

/* A JSONPath string member; NULL when absent or bad (reported). */
static const char *get_jsonpath(struct jcheck *c, const struct jnode *obj, const char *key,
				unsigned flags, size_t *ret_len)
{
	const char *s = jcheck_string(c, obj, key, flags, ret_len);
	const char *why;

	if (s && (why = jsonpath_problem(s, *ret_len))) {
		jcheck_err_at(c, key, "invalid JSONPath: %s", why);
		return NULL;
	}
	return s;
}

/* An object item's validator, carried through jcheck_each_object(). */
struct object_item {
	void (*fn)(struct jcheck *c, const struct jnode *item);
};

static void object_item(struct jcheck *c, const struct jnode *item, size_t i, void *arg)
{
	const struct object_item *w = arg;

	(void)i;
	w->fn(c, item);
}

/* Checks that an optional array member has at most max items, each an object
 * validated by each_fn (called with the pointer at the item). */
static void get_object_array(struct jcheck *c, const struct jnode *obj, const char *key, size_t max,
			     void (*each_fn)(struct jcheck *c, const struct jnode *item))
{
	const struct jnode *a = jcheck_member(c, obj, key, JNODE_ARRAY, 0);
	struct object_item w = {each_fn};

	if (!a)
		return;
	if (a->len > max)
		jcheck_err_at(c, key, "must have at most %zu items", max);
	jcheck_each_object(c, a, key, object_item, &w);
}

/* Items of Subnets and SecurityGroups: any non-empty string. */
static bool nonempty(const char *s, size_t n)
{
	(void)s;
	return n > 0;
}

/* ------------------------------------------------------------ targets: input */

static const char *const predefined_placeholders[] = {
	"aws.events.rule-name", "aws.events.rule-arn", "aws.events.event",
	"aws.events.event.json", "aws.events.event.ingestion-time", NULL,
};

static void check_json_string(struct jcheck *c, const struct jnode *obj, const char *key)
{
	size_t len;
	const char *s = jcheck_string(c, obj, key, 0, &len);
	struct json_error je;
	struct jdoc *doc;
	int r;

	if (!s)
		return;
	r = jdoc_parse(s, len, NULL, &doc, &je);
	if (r == -ENOMEM)
		c->nomem = true;
	else if (r < 0)
		jcheck_err_at(c, key, "invalid JSON at line %u, column %u: %s", je.line, je.column,
			      je.message);
	jdoc_free(doc);
}

static void input_transformer(struct jcheck *c, const struct jnode *it)
{
	static const char *const fields[] = {"InputPathsMap", "InputTemplate", NULL};
	const struct jnode *map;
	const char *tpl;
	size_t tlen;

	jcheck_fields(c, it, fields, NULL);
	map = jcheck_member(c, it, "InputPathsMap", JNODE_OBJECT, 0);
	if (map) {
		size_t old = jcheck_push(c, "InputPathsMap");
		jcheck_fields(c, map, NULL, NULL);
		if (map->len > 100)
			jcheck_err(c, "must have at most 100 entries");
		for (size_t i = 0; i < map->len; i++) {
			const struct jmember *m = &map->u.members[i];
			const char *why;
			if (has_prefix_ci(m->key, m->key_len, "aws.")) {
				jcheck_err_at_n(c, m->key, m->key_len,
						"names starting with \"aws.\" are reserved for the predefined placeholders");
				continue;
			}
			if (m->key_len == 0 || !jtext_chars_in(m->key, m->key_len, "_-")) {
				jcheck_err_at_n(c, m->key, m->key_len,
						"a name must be letters, digits, '_' and '-'");
				continue;
			}
			if (m->value->type != JNODE_STRING)
				jcheck_err_at_n(c, m->key, m->key_len, "must be a string");
			else if ((why = jsonpath_problem(m->value->u.str, m->value->len)))
				jcheck_err_at_n(c, m->key, m->key_len, "invalid JSONPath: %s", why);
		}
		jcheck_pop(c, old);
	}
	tpl = jcheck_string(c, it, "InputTemplate", JCHECK_REQUIRED, &tlen);
	if (!tpl)
		return;
	if (tlen == 0 || utf8_chars(tpl, tlen) > 8192) {
		jcheck_err_at(c, "InputTemplate", "must be 1 to 8192 characters");
		return;
	}
	for (size_t i = 0; i < tlen; i++) {
		if (tpl[i] != '<')
			continue;
		size_t j = i + 1;
		while (j < tlen && jtext_chars_in(tpl + j, 1, "_.-"))
			j++;
		if (j == i + 1 || j >= tlen || tpl[j] != '>')
			continue;
		const char *name = tpl + i + 1;
		size_t nlen = j - i - 1;
		bool known = jtext_in_list(name, nlen, predefined_placeholders);
		if (!known && map) {
			for (size_t k = 0; k < map->len && !known; k++)
				known = map->u.members[k].key_len == nlen &&
					memcmp(map->u.members[k].key, name, nlen) == 0;
		}
		/* report each unknown name once, at its first use */
		if (!known && !memmem(tpl, i, tpl + i, j + 1 - i))
			jcheck_err_at(c, "InputTemplate", "placeholder <%.*s> is not defined in InputPathsMap",
				      (int)nlen, name);
		i = j;
	}
}

static void target_input(struct jcheck *c, const struct jnode *obj, struct rule_target *t)
{
	static const char *const kinds[] = {"Input", "InputPath", "InputTransformer", NULL};
	const char *first = NULL;
	const struct jnode *n;
	size_t len;

	for (size_t i = 0; i < obj->len; i++) {
		const struct jmember *m = &obj->u.members[i];
		if (!jtext_in_list(m->key, m->key_len, kinds))
			continue;
		if (!first)
			first = m->key;
		else if (strcmp(first, m->key) != 0)
			jcheck_err_at_n(c, m->key, m->key_len, "cannot be used together with %s",
					first);
	}
	if (jnode_get(obj, "Input")) {
		t->input = TARGET_INPUT_CONSTANT;
		check_json_string(c, obj, "Input");
	}
	if (jnode_get(obj, "InputPath")) {
		t->input = TARGET_INPUT_PATH;
		get_jsonpath(c, obj, "InputPath", 0, &len);
	}
	if ((n = jcheck_member(c, obj, "InputTransformer", JNODE_OBJECT, 0))) {
		size_t old = jcheck_push(c, "InputTransformer");
		t->input = TARGET_INPUT_TRANSFORMER;
		input_transformer(c, n);
		jcheck_pop(c, old);
	}
}

/* ------------------------------------------------------------ targets: ECS */

static const char *const ecs_fields[] = {
	"Action", "TaskDefinitionArn", "TaskCount", "LaunchType", "Group", "PlatformVersion",
	"EnableECSManagedTags", "EnableExecuteCommand", "PropagateTags", "ReferenceId", "Tags",
	"NetworkConfiguration", "CapacityProviderStrategy", "PlacementConstraints",
	"PlacementStrategy", "TaskId", "StartedBy", "Service", "DesiredCount", NULL,
};
static const char *const ecs_run_fields[] = {
	"Action", "TaskDefinitionArn", "TaskCount", "LaunchType", "Group", "PlatformVersion",
	"EnableECSManagedTags", "EnableExecuteCommand", "PropagateTags", "ReferenceId", "Tags",
	"NetworkConfiguration", "CapacityProviderStrategy", "PlacementConstraints",
	"PlacementStrategy", NULL,
};
static const char *const ecs_stop_fields[] = {"Action", "TaskId", "Group", "StartedBy", NULL};
static const char *const ecs_update_fields[] = {"Action", "Service", "DesiredCount", NULL};
static const char *const ecs_actions[] = {"RunTask", "StopTask", "UpdateService", NULL};

static void ecs_tag(struct jcheck *c, const struct jnode *o)
{
	static const char *const fields[] = {"Key", "Value", NULL};
	size_t len;

	jcheck_fields(c, o, fields, NULL);
	get_string_max(c, o, "Key", JCHECK_REQUIRED, true, 128, &len);
	get_string_max(c, o, "Value", 0, false, 256, &len);
}

static void ecs_capacity_provider(struct jcheck *c, const struct jnode *o)
{
	static const char *const fields[] = {"CapacityProvider", "Weight", "Base", NULL};
	int64_t v;
	size_t len;

	jcheck_fields(c, o, fields, NULL);
	get_string_max(c, o, "CapacityProvider", JCHECK_REQUIRED, true, 255, &len);
	jcheck_int(c, o, "Weight", 0, 0, 1000, &v);
	jcheck_int(c, o, "Base", 0, 0, 100000, &v);
}

static void ecs_placement_constraint(struct jcheck *c, const struct jnode *o)
{
	static const char *const fields[] = {"Type", "Expression", NULL};
	static const char *const types[] = {"distinctInstance", "memberOf", NULL};
	size_t len;

	jcheck_fields(c, o, fields, NULL);
	jcheck_enum(c, o, "Type", 0, types, 0);
	get_string_max(c, o, "Expression", 0, false, 2000, &len);
}

static void ecs_placement_strategy(struct jcheck *c, const struct jnode *o)
{
	static const char *const fields[] = {"Type", "Field", NULL};
	static const char *const types[] = {"random", "spread", "binpack", NULL};
	size_t len;

	jcheck_fields(c, o, fields, NULL);
	jcheck_enum(c, o, "Type", 0, types, 0);
	get_string_max(c, o, "Field", 0, false, 255, &len);
}

static void ecs_network(struct jcheck *c, const struct jnode *obj)
{
	static const char *const fields[] = {"AwsVpcConfiguration", NULL};
	static const char *const vpc_fields[] = {"Subnets", "SecurityGroups", "AssignPublicIp", NULL};
	static const char *const onoff[] = {"ENABLED", "DISABLED", NULL};
	const struct jnode *net = jcheck_member(c, obj, "NetworkConfiguration", JNODE_OBJECT, 0);
	const struct jnode *vpc;

	if (!net)
		return;
	size_t old = jcheck_push(c, "NetworkConfiguration");
	jcheck_fields(c, net, fields, NULL);
	vpc = jcheck_member(c, net, "AwsVpcConfiguration", JNODE_OBJECT, JCHECK_REQUIRED);
	if (vpc) {
		size_t o2 = jcheck_push(c, "AwsVpcConfiguration");
		jcheck_fields(c, vpc, vpc_fields, NULL);
		jcheck_strings(c, vpc, "Subnets", JCHECK_REQUIRED, 1, 16, nonempty,
			       "must be a non-empty string");
		jcheck_strings(c, vpc, "SecurityGroups", 0, 0, 5, nonempty,
			       "must be a non-empty string");
		jcheck_enum(c, vpc, "AssignPublicIp", 0, onoff, 1);
		jcheck_pop(c, o2);
	}
	jcheck_pop(c, old);
}

/* family, family:revision, or arn:…:ecs:…:task-definition/family[:revision] */
static bool task_definition_ok(const char *s, size_t n)
{
	struct span svc, res;

	if (jtext_has_prefix(s, n, "arn:")) {
		if (arn_split(s, n, &svc, &res) || !jtext_eq(svc.p, svc.n, "ecs") ||
		    !jtext_has_prefix(res.p, res.n, "task-definition/"))
			return false;
		s = res.p + 16;
		n = res.n - 16;
	}
	const char *colon = memchr(s, ':', n);
	size_t fam = colon ? (size_t)(colon - s) : n;
	int64_t rev;
	if (fam < 1 || fam > 255 || !jtext_chars_in(s, fam, "-_"))
		return false;
	return !colon || jtext_int(colon + 1, n - fam - 1, 1, INT32_MAX, &rev);
}

/* "$…" a JSONPath into the event; else a task id or task ARN. */
static void ecs_task_id(struct jcheck *c, const struct jnode *obj)
{
	size_t n;
	const char *s = jcheck_string(c, obj, "TaskId", 0, &n);
	struct span svc, res;
	const char *why;

	if (!s)
		return;
	if (s[0] == '$') {
		if ((why = jsonpath_problem(s, n)))
			jcheck_err_at(c, "TaskId", "invalid JSONPath: %s", why);
		return;
	}
	if (jtext_has_prefix(s, n, "arn:")) {
		if (!arn_split(s, n, &svc, &res) && jtext_eq(svc.p, svc.n, "ecs") &&
		    jtext_has_prefix(res.p, res.n, "task/") && res.n > 5)
			return;
	} else if (n >= 1 && n <= 255 && jtext_chars_in(s, n, "-_")) {
		return;
	}
	jcheck_err_at(c, "TaskId",
		      "must be a JSONPath into the event (such as $.detail.taskArn), a task id or a task ARN");
}

static void ecs_desired_count(struct jcheck *c, const struct jnode *obj)
{
	const struct jnode *n = jnode_get(obj, "DesiredCount");
	int64_t v;
	const char *why;

	if (!n)
		return;
	if (n->type == JNODE_NUMBER && jtext_int(n->u.num, n->len, 0, DESIRED_COUNT_MAX, &v))
		return;
	if (n->type == JNODE_STRING) {
		const char *s = n->u.str;
		if (n->len >= 2 && (s[0] == '+' || s[0] == '-') && s[1] != '0' &&
		    jtext_int(s + 1, n->len - 1, 1, DESIRED_COUNT_MAX, &v))
			return;
		if (jtext_has_prefix(s, n->len, "$.")) {
			if ((why = jsonpath_problem(s, n->len)))
				jcheck_err_at(c, "DesiredCount", "invalid JSONPath: %s", why);
			return;
		}
	}
	jcheck_err_at(c, "DesiredCount",
		      "must be an integer from 0 to %d, a change such as \"+2\" or \"-1\", or a JSONPath such as \"$.detail.count\"",
		      DESIRED_COUNT_MAX);
}

static void ecs_parameters(struct jcheck *c, const struct jnode *ecs, struct rule_target *t)
{
	static const char *const launch_types[] = {"EC2", "FARGATE", "EXTERNAL", NULL};
	static const char *const propagate[] = {"TASK_DEFINITION", NULL};
	static const char *const *const per_action[] = {ecs_run_fields, ecs_stop_fields,
							  ecs_update_fields};
	const char *s;
	size_t len;
	int64_t v;
	int action;

	jcheck_fields(c, ecs, ecs_fields, NULL);
	action = jcheck_enum(c, ecs, "Action", 0, ecs_actions, TARGET_ACTION_RUN_TASK);
	if (action >= 0) {
		t->action = (enum target_action)action;
		for (size_t i = 0; i < ecs->len; i++) {
			const struct jmember *m = &ecs->u.members[i];
			if (jtext_in_list(m->key, m->key_len, ecs_fields) &&
			    !jtext_in_list(m->key, m->key_len, per_action[action]))
				jcheck_err_at_n(c, m->key, m->key_len, "cannot be used with Action %s",
						ecs_actions[action]);
		}
	}

	/* RunTask */
	s = jcheck_string(c, ecs, "TaskDefinitionArn",
			  action == TARGET_ACTION_RUN_TASK ? JCHECK_REQUIRED : 0u, &len);
	if (s && !task_definition_ok(s, len))
		jcheck_err_at(c, "TaskDefinitionArn",
			      "must be a task definition family, family:revision or task definition ARN");
	if (jcheck_int(c, ecs, "TaskCount", 0, 1, 10, &v) > 0)
		t->task_count = (uint32_t)v;
	jcheck_enum(c, ecs, "LaunchType", 0, launch_types, 0);
	if (jnode_get(ecs, "LaunchType") && jnode_get(ecs, "CapacityProviderStrategy"))
		jcheck_err_at(c, "CapacityProviderStrategy", "cannot be used together with LaunchType");
	get_string_max(c, ecs, "PlatformVersion", 0, false, 255, &len);
	jcheck_bool(c, ecs, "EnableECSManagedTags", 0, NULL);
	jcheck_bool(c, ecs, "EnableExecuteCommand", 0, NULL);
	jcheck_enum(c, ecs, "PropagateTags", 0, propagate, 0);
	get_string_max(c, ecs, "ReferenceId", 0, false, 1024, &len);
	get_object_array(c, ecs, "Tags", 50, ecs_tag);
	ecs_network(c, ecs);
	get_object_array(c, ecs, "CapacityProviderStrategy", 6, ecs_capacity_provider);
	get_object_array(c, ecs, "PlacementConstraints", 10, ecs_placement_constraint);
	get_object_array(c, ecs, "PlacementStrategy", 5, ecs_placement_strategy);
	/* RunTask and StopTask */
	get_string_max(c, ecs, "Group", 0, true, 255, &len);

	/* StopTask */
	ecs_task_id(c, ecs);
	s = jcheck_string(c, ecs, "StartedBy", 0, &len);
	if (s && (len < 1 || len > 128 || !jtext_chars_in(s, len, "-_/")))
		jcheck_err_at(c, "StartedBy", "must be 1 to 128 characters of A-Z a-z 0-9 - _ /");
	if (action == TARGET_ACTION_STOP_TASK) {
		bool id = jnode_get(ecs, "TaskId") != NULL;
		if (!id && !jnode_get(ecs, "Group") && !jnode_get(ecs, "StartedBy"))
			jcheck_err(c, "Action StopTask needs TaskId, Group or StartedBy");
		if (id && jnode_get(ecs, "Group"))
			jcheck_err_at(c, "Group", "cannot be used together with TaskId");
		if (id && jnode_get(ecs, "StartedBy"))
			jcheck_err_at(c, "StartedBy", "cannot be used together with TaskId");
	}

	/* UpdateService */
	s = jcheck_string(c, ecs, "Service",
			  action == TARGET_ACTION_UPDATE_SERVICE ? JCHECK_REQUIRED : 0u, &len);
	if (s && (len < 1 || len > 255 || !jtext_chars_in(s, len, "-_")))
		jcheck_err_at(c, "Service", "must be 1 to 255 characters of A-Z a-z 0-9 - _");
	if (action == TARGET_ACTION_UPDATE_SERVICE && !jnode_get(ecs, "DesiredCount"))
		jcheck_err_at(c, "DesiredCount", "is required");
	ecs_desired_count(c, ecs);
}

/* ------------------------------------------------------------ targets: the rest */

static void http_parameters(struct jcheck *c, const struct jnode *hp)
{
	static const char *const fields[] = {"HeaderParameters", "QueryStringParameters",
					     "PathParameterValues", NULL};
	static const char *const maps[] = {"HeaderParameters", "QueryStringParameters"};
	const struct jnode *n;

	jcheck_fields(c, hp, fields, NULL);
	for (size_t k = 0; k < 2; k++) {
		if (!(n = jcheck_member(c, hp, maps[k], JNODE_OBJECT, 0)))
			continue;
		size_t old = jcheck_push(c, maps[k]);
		jcheck_fields(c, n, NULL, NULL);
		for (size_t i = 0; i < n->len; i++) {
			const struct jmember *m = &n->u.members[i];
			const struct jnode *v = m->value;
			if (k == 0 && !http_header_name_ok(m->key, m->key_len))
				jcheck_err_at_n(c, m->key, m->key_len, "not a valid HTTP header name");
			else if (v->type != JNODE_STRING)
				jcheck_err_at_n(c, m->key, m->key_len, "must be a string");
			else if (memchr(v->u.str, '\r', v->len) || memchr(v->u.str, '\n', v->len) ||
				 memchr(v->u.str, '\0', v->len))
				jcheck_err_at_n(c, m->key, m->key_len,
						"must not contain CR, LF or NUL characters");
		}
		jcheck_pop(c, old);
	}
	if ((n = jcheck_member(c, hp, "PathParameterValues", JNODE_ARRAY, 0))) {
		size_t old = jcheck_push(c, "PathParameterValues");
		for (size_t i = 0; i < n->len; i++) {
			if (n->u.items[i]->type != JNODE_STRING) {
				size_t o2 = jcheck_push_index(c, i);
				jcheck_err(c, "must be a string");
				jcheck_pop(c, o2);
			}
		}
		jcheck_pop(c, old);
	}
}

static void kafka_parameters(struct jcheck *c, const struct jnode *kp)
{
	static const char *const fields[] = {"Key", NULL};
	size_t len;
	const char *s, *why;

	jcheck_fields(c, kp, fields, NULL);
	s = jcheck_string(c, kp, "Key", 0, &len);
	if (s && s[0] == '$' && (why = jsonpath_problem(s, len)))
		jcheck_err_at(c, "Key", "invalid JSONPath: %s", why);
}

static void retry_policy(struct jcheck *c, const struct jnode *rp, struct rule_target *t)
{
	static const char *const fields[] = {"MaximumRetryAttempts", "MaximumEventAgeInSeconds", NULL};
	int64_t v;

	jcheck_fields(c, rp, fields, NULL);
	if (jcheck_int(c, rp, "MaximumRetryAttempts", 0, 0, 185, &v) > 0)
		t->retry.max_attempts = (uint32_t)v;
	if (jcheck_int(c, rp, "MaximumEventAgeInSeconds", 0, 60, 86400, &v) > 0)
		t->retry.max_age_s = (uint32_t)v;
}

static void dead_letter(struct jcheck *c, const struct jnode *dl, struct rule_target *t)
{
	static const char *const fields[] = {"Arn", NULL};
	enum target_kind kind;
	struct span res;
	const char *s, *why;
	size_t len;

	jcheck_fields(c, dl, fields, NULL);
	if (!(s = jcheck_string(c, dl, "Arn", JCHECK_REQUIRED, &len)))
		return;
	why = target_classify(s, len, &kind, &res);
	if (!why && kind != TARGET_FILE && kind != TARGET_KAFKA && kind != TARGET_HTTP)
		why = "a dead-letter destination must be file:PATH, kafka:TOPIC or an http(s):// URL";
	if (why)
		jcheck_err_at(c, "Arn", "%s", why);
	else
		t->dead_letter_arn = jcheck_dup(c, s, len);
}

static void dedup(struct jcheck *c, const struct jnode *d, struct rule_target *t)
{
	static const char *const fields[] = {"Key", "WindowSeconds", NULL};
	const char *key;
	size_t len;
	int64_t v;

	jcheck_fields(c, d, fields, NULL);
	key = get_jsonpath(c, d, "Key", JCHECK_REQUIRED, &len);
	if (jcheck_int(c, d, "WindowSeconds", 0, 1, 604800, &v) > 0)
		t->dedup.window_s = (uint32_t)v;
	if (key)
		t->dedup.key = jcheck_dup(c, key, len);
}

static void rate_limit(struct jcheck *c, const struct jnode *rl, struct rule_target *t)
{
	static const char *const fields[] = {"PerSecond", "Burst", NULL};
	const struct jnode *ps;
	double rate = 0.0;
	int64_t v;

	jcheck_fields(c, rl, fields, NULL);
	ps = jnode_get(rl, "PerSecond");
	if (!ps) {
		jcheck_err_at(c, "PerSecond", "is required");
	} else {
		rate = ps->type == JNODE_NUMBER ? number_value(ps->u.num) : 0.0;
		if (!(rate > 0.0 && rate <= 1e6)) {
			jcheck_err_at(c, "PerSecond", "must be a number greater than 0 and at most 1000000");
			rate = 0.0;
		}
	}
	t->rate.per_second = rate;
	t->rate.burst = (uint32_t)rate;
	if ((double)t->rate.burst < rate)
		t->rate.burst++;
	if (jcheck_int(c, rl, "Burst", 0, 1, 1000000000, &v) > 0)
		t->rate.burst = (uint32_t)v;
}

static const char *const target_fields[] = {
	"Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "RetryPolicy",
	"DeadLetterConfig", "EcsParameters", "HttpParameters", "KafkaParameters", "Dedup",
	"RateLimit", NULL,
};
/* EventBridge target fields for AWS services tripline does not have. */
static const char *const target_unsupported[] = {
	"SqsParameters", "KinesisParameters", "RunCommandParameters", "BatchParameters",
	"RedshiftDataParameters", "SageMakerPipelineParameters", "AppSyncParameters", NULL,
};

/* Runs fn on the object member key (pointer at it), if present and an object. */
static void with_object(struct jcheck *c, const struct jnode *obj, const char *key,
			struct rule_target *t,
			void (*fn)(struct jcheck *c, const struct jnode *o, struct rule_target *t))
{
	const struct jnode *o = jcheck_member(c, obj, key, JNODE_OBJECT, 0);

	if (!o)
		return;
	size_t old = jcheck_push(c, key);
	fn(c, o, t);
	jcheck_pop(c, old);
}

static void ecs_parameters_fn(struct jcheck *c, const struct jnode *o, struct rule_target *t)
{
	ecs_parameters(c, o, t);
}

static void http_parameters_fn(struct jcheck *c, const struct jnode *o, struct rule_target *t)
{
	(void)t;
	http_parameters(c, o);
}

static void kafka_parameters_fn(struct jcheck *c, const struct jnode *o, struct rule_target *t)
{
	(void)t;
	kafka_parameters(c, o);
}

/* A parameters object that belongs to one target kind. */
static void kind_parameters(struct jcheck *c, const struct jnode *obj, struct rule_target *t,
			    bool kind_known, const char *key, enum target_kind kind,
			    const char *for_what,
			    void (*fn)(struct jcheck *c, const struct jnode *o, struct rule_target *t))
{
	if (!jnode_get(obj, key)) {
		if (kind_known && t->kind == TARGET_TASK && kind == TARGET_TASK)
			jcheck_err_at(c, key, "is required for %s", for_what);
		return;
	}
	if (kind_known && t->kind != kind) {
		jcheck_err_at(c, key, "only allowed for %s", for_what);
		return;
	}
	with_object(c, obj, key, t, fn);
}

static void target_parse(struct jcheck *c, const struct jnode *obj, struct rule_target *t)
{
	enum target_kind kind = TARGET_TASK;
	bool kind_known = false;
	struct span res;
	const char *s, *why;
	size_t len;

	t->task_count = 1;
	t->retry.max_attempts = RETRY_DEFAULT_ATTEMPTS;
	t->retry.max_age_s = RETRY_DEFAULT_AGE_S;
	t->dedup.window_s = DEDUP_DEFAULT_WINDOW_S;
	if (obj->type != JNODE_OBJECT) {
		jcheck_err(c, "must be an object");
		return;
	}
	jcheck_fields(c, obj, target_fields, target_unsupported);
	t->json = jcheck_dup(c, c->text + obj->offset, obj->end - obj->offset);
	t->json_len = obj->end - obj->offset;

	if ((s = jcheck_string(c, obj, "Id", JCHECK_REQUIRED, &len))) {
		if (!name_ok(s, len, 64))
			jcheck_err_at(c, "Id", "must be 1 to 64 characters of A-Z a-z 0-9 . - _");
		else
			t->id = jcheck_dup(c, s, len);
	}
	if ((s = jcheck_string(c, obj, "Arn", JCHECK_REQUIRED, &len))) {
		if ((why = target_classify(s, len, &kind, &res))) {
			jcheck_err_at(c, "Arn", "%s", why);
		} else {
			kind_known = true;
			t->kind = kind;
			t->arn = jcheck_dup(c, s, len);
			t->resource = jcheck_dup(c, res.p, res.n);
		}
	}
	jcheck_string(c, obj, "RoleArn", 0, &len);
	target_input(c, obj, t);
	with_object(c, obj, "RetryPolicy", t, retry_policy);
	with_object(c, obj, "DeadLetterConfig", t, dead_letter);
	kind_parameters(c, obj, t, kind_known, "EcsParameters", TARGET_TASK,
			"an ECS cluster target", ecs_parameters_fn);
	kind_parameters(c, obj, t, kind_known, "HttpParameters", TARGET_HTTP,
			"an http(s):// target", http_parameters_fn);
	kind_parameters(c, obj, t, kind_known, "KafkaParameters", TARGET_KAFKA,
			"a kafka: target", kafka_parameters_fn);
	with_object(c, obj, "Dedup", t, dedup);
	with_object(c, obj, "RateLimit", t, rate_limit);
}

static void target_free_fields(struct rule_target *t)
{
	free(t->id);
	free(t->arn);
	free(t->resource);
	free(t->json);
	free(t->dead_letter_arn);
	free(t->dedup.key);
}

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
	free(r->description);
	free(r->event_bus);
	free(r->pattern_text);
	free(r->schedule_text);
	schedule_free(r->schedule);
	free(r->timezone);
	for (size_t i = 0; i < r->ntargets; i++)
		target_free_fields(&r->targets[i]);
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
	if (!(compact = compact_json(c, src, srclen, &clen)))
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
		ok[i] = date_parse(s, len, &when[i]);
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
		target_parse(c, ts->u.items[i], &r->targets[i]);
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
		if (!name_ok(s, len, 64)) {
			jcheck_err_at(c, "Name", "must be 1 to 64 characters of A-Z a-z 0-9 . - _");
		} else {
			size_t old = jcheck_push(c, "Name");
			r->name = jcheck_dup(c, s, len);
			l->name_ptr = jcheck_dup(c, c->ptr.buf, c->ptr.len);
			jcheck_pop(c, old);
		}
	}
	if ((s = get_string_max(c, obj, "Description", 0, false, 512, &len)))
		r->description = jcheck_dup(c, s, len);
	st = jcheck_enum(c, obj, "State", 0, states, 0);
	r->enabled = st != 1;

	if ((s = jcheck_string(c, obj, "EventBusName", 0, &len))) {
		struct span svc, res = {s, len};
		if (jtext_has_prefix(s, len, "arn:") &&
		    (arn_split(s, len, &svc, &res) || !jtext_eq(svc.p, svc.n, "events") ||
		     !jtext_has_prefix(res.p, res.n, "event-bus/"))) {
			res.n = 0;
		} else if (jtext_has_prefix(s, len, "arn:")) {
			res.p += 10;
			res.n -= 10;
		}
		if (res.n == 0 || bus_name_problem(res.p, res.n))
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

const char *target_kind_name(enum target_kind k)
{
	switch (k) {
	case TARGET_TASK: return "task";
	case TARGET_HTTP: return "http";
	case TARGET_KAFKA: return "kafka";
	case TARGET_FILE: return "file";
	case TARGET_BUS: return "bus";
	}
	return "unknown";
}
