/*
 * target.c — the Targets of a rule: which kind an Arn names (an ECS
 * cluster, an http(s) URL, kafka:TOPIC, file:PATH, an event bus), and the
 * validation of every member of a target object into a struct rule_target:
 * Input / InputPath / InputTransformer (then compiled, transform.h),
 * EcsParameters with tripline's Action (RunTask, StopTask with a Reason,
 * UpdateService with MinCapacity, MaxCapacity and ForceNewDeployment),
 * HttpParameters (with tripline's Method), KafkaParameters, RetryPolicy,
 * DeadLetterConfig (file: and http(s):; kafka: is refused until it is
 * implemented), and tripline's Dedup, RateLimit and MaxConcurrency.
 *
 * Messages follow ruleset.c's conventions ("<pointer>: is required", "must
 * be …", "unknown field"); nothing logs.
 */
#include "ruleset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_token.h"
#include "jcheck.h"
#include "json.h"
#include "jtext.h"
#include "rulefield.h"
#include "transform.h"

#define RETRY_DEFAULT_ATTEMPTS 185u
#define RETRY_DEFAULT_AGE_S 86400u
#define DEDUP_DEFAULT_WINDOW_S 600u
/* The core's ORCH_MAX_SERVICE_DESIRED (engine/orch/orch.h), which rules/ may
 * not include; tests/unit/test_ruleset.c checks that they agree. */
#define DESIRED_COUNT_MAX ((int)RULESET_MAX_DESIRED_COUNT)
#define MAX_CONCURRENCY_MAX 1000

/* ------------------------------------------------------------ target kinds */

static const char *ecs_cluster_problem(const char *s, size_t n)
{
	if (n < 1 || n > 255 || !jtext_chars_in(s, n, "-_"))
		return "invalid ECS cluster name: must be 1 to 255 characters of A-Z a-z 0-9 - _";
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
				   struct rulefield_span *ret_res)
{
	const char *why;

	if (jtext_has_prefix(s, n, "arn:")) {
		struct rulefield_span svc, res;
		if ((why = rulefield_arn_split(s, n, &svc, &res)))
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
			return rulefield_bus_name_problem(ret_res->p, ret_res->n);
		}
		return "unsupported ARN: tripline targets are ECS clusters, event buses, http(s):// URLs, kafka:TOPIC and file:PATH";
	}
	if (jtext_has_prefix(s, n, "cluster/")) {
		ret_res->p = s + 8;
		ret_res->n = n - 8;
		*ret_kind = TARGET_TASK;
		return ecs_cluster_problem(ret_res->p, ret_res->n);
	}
	if (rulefield_has_prefix_ci(s, n, "http://") || rulefield_has_prefix_ci(s, n, "https://")) {
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
			if ((why = transform_name_problem(m->key, m->key_len)))
				jcheck_err_at_n(c, m->key, m->key_len, "%s", why);
			else if (m->value->type != JNODE_STRING)
				jcheck_err_at_n(c, m->key, m->key_len, "must be a string");
			else if ((why = transform_path_problem(m->value->u.str, m->value->len)))
				jcheck_err_at_n(c, m->key, m->key_len, "invalid JSONPath: %s", why);
		}
		jcheck_pop(c, old);
	}
	tpl = jcheck_string(c, it, "InputTemplate", JCHECK_REQUIRED, &tlen);
	if (!tpl)
		return;
	if (tlen == 0 || rulefield_utf8_chars(tpl, tlen) > TRANSFORM_MAX_TEMPLATE) {
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

/*
 * Compiles the target's validated input into t->transform (transform.h);
 * what the compiler refuses is reported at the member it came from.
 */
static void target_compile_input(struct jcheck *c, const struct jnode *obj, struct rule_target *t)
{
	struct transform_spec spec = {0};
	const struct jnode *n, *map;
	const char **names = NULL, **paths = NULL;
	const char *at = NULL;
	bool in_transformer = false;
	char why[256];
	int r;

	if ((n = jnode_get(obj, "Input"))) {
		spec.input = n->u.str;
		spec.input_len = n->len;
		at = "Input";
	} else if ((n = jnode_get(obj, "InputPath"))) {
		spec.input_path = n->u.str;
		at = "InputPath";
	} else if ((n = jnode_get(obj, "InputTransformer"))) {
		const struct jnode *tpl = jnode_get(n, "InputTemplate");
		spec.template_text = tpl->u.str;
		spec.template_len = tpl->len;
		if ((map = jnode_get(n, "InputPathsMap")) && map->len) {
			names = calloc(map->len, sizeof(*names));
			paths = calloc(map->len, sizeof(*paths));
			if (!names || !paths) {
				c->nomem = true;
				goto out;
			}
			for (size_t i = 0; i < map->len; i++) {
				names[i] = map->u.members[i].key;
				paths[i] = map->u.members[i].value->u.str;
			}
			spec.n_paths = map->len;
		}
		spec.names = names;
		spec.paths = paths;
		at = "InputTemplate";
		in_transformer = true;
	}
	r = transform_compile(&spec, &t->transform, why, sizeof(why));
	if (r == -ENOMEM) {
		c->nomem = true;
	} else if (r < 0 && !at) {
		jcheck_err(c, "%s", why);
	} else if (r < 0) {
		size_t old = in_transformer ? jcheck_push(c, "InputTransformer") : c->ptr.len;
		jcheck_err_at(c, at, "%s", why);
		jcheck_pop(c, old);
	}
out:
	free(names);
	free(paths);
}

static void target_input(struct jcheck *c, const struct jnode *obj, struct rule_target *t)
{
	static const char *const kinds[] = {"Input", "InputPath", "InputTransformer", NULL};
	const char *first = NULL;
	const struct jnode *n;
	size_t errs_before = c->errs->n + c->errs->dropped;
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
		const char *s = jcheck_string(c, obj, "InputPath", 0, &len), *why;
		t->input = TARGET_INPUT_PATH;
		if (s && (why = transform_path_problem(s, len)))
			jcheck_err_at(c, "InputPath", "invalid JSONPath: %s", why);
	}
	if ((n = jcheck_member(c, obj, "InputTransformer", JNODE_OBJECT, 0))) {
		size_t old = jcheck_push(c, "InputTransformer");
		t->input = TARGET_INPUT_TRANSFORMER;
		input_transformer(c, n);
		jcheck_pop(c, old);
	}
	if (!c->nomem && c->errs->n + c->errs->dropped == errs_before)
		target_compile_input(c, obj, t);
}

/* ------------------------------------------------------------ targets: ECS */

/* Items of Subnets and SecurityGroups: any non-empty string. */
static bool nonempty(const char *s, size_t n)
{
	(void)s;
	return n > 0;
}

static const char *const ecs_fields[] = {
	"Action", "TaskDefinitionArn", "TaskCount", "LaunchType", "Group", "PlatformVersion",
	"EnableECSManagedTags", "EnableExecuteCommand", "PropagateTags", "ReferenceId", "Tags",
	"NetworkConfiguration", "CapacityProviderStrategy", "PlacementConstraints",
	"PlacementStrategy", "TaskId", "StartedBy", "Reason", "Service", "DesiredCount",
	"MinCapacity", "MaxCapacity", "ForceNewDeployment", NULL,
};
static const char *const ecs_run_fields[] = {
	"Action", "TaskDefinitionArn", "TaskCount", "LaunchType", "Group", "PlatformVersion",
	"EnableECSManagedTags", "EnableExecuteCommand", "PropagateTags", "ReferenceId", "Tags",
	"NetworkConfiguration", "CapacityProviderStrategy", "PlacementConstraints",
	"PlacementStrategy", NULL,
};
static const char *const ecs_stop_fields[] = {"Action", "TaskId", "Group", "StartedBy", "Reason",
					      NULL};
static const char *const ecs_update_fields[] = {"Action", "Service", "DesiredCount", "MinCapacity",
						"MaxCapacity", "ForceNewDeployment", NULL};
static const char *const ecs_actions[] = {"RunTask", "StopTask", "UpdateService", NULL};

static void ecs_tag(struct jcheck *c, const struct jnode *o)
{
	static const char *const fields[] = {"Key", "Value", NULL};
	size_t len;

	jcheck_fields(c, o, fields, NULL);
	rulefield_string_max(c, o, "Key", JCHECK_REQUIRED, true, 128, &len);
	rulefield_string_max(c, o, "Value", 0, false, 256, &len);
}

static void ecs_capacity_provider(struct jcheck *c, const struct jnode *o)
{
	static const char *const fields[] = {"CapacityProvider", "Weight", "Base", NULL};
	int64_t v;
	size_t len;

	jcheck_fields(c, o, fields, NULL);
	rulefield_string_max(c, o, "CapacityProvider", JCHECK_REQUIRED, true, 255, &len);
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
	rulefield_string_max(c, o, "Expression", 0, false, 2000, &len);
}

static void ecs_placement_strategy(struct jcheck *c, const struct jnode *o)
{
	static const char *const fields[] = {"Type", "Field", NULL};
	static const char *const types[] = {"random", "spread", "binpack", NULL};
	size_t len;

	jcheck_fields(c, o, fields, NULL);
	jcheck_enum(c, o, "Type", 0, types, 0);
	rulefield_string_max(c, o, "Field", 0, false, 255, &len);
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
	struct rulefield_span svc, res;

	if (jtext_has_prefix(s, n, "arn:")) {
		if (rulefield_arn_split(s, n, &svc, &res) || !jtext_eq(svc.p, svc.n, "ecs") ||
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
	struct rulefield_span svc, res;
	const char *why;

	if (!s)
		return;
	if (s[0] == '$') {
		if ((why = rulefield_jsonpath_problem(s, n)))
			jcheck_err_at(c, "TaskId", "invalid JSONPath: %s", why);
		return;
	}
	if (jtext_has_prefix(s, n, "arn:")) {
		if (!rulefield_arn_split(s, n, &svc, &res) && jtext_eq(svc.p, svc.n, "ecs") &&
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
			if ((why = rulefield_jsonpath_problem(s, n->len)))
				jcheck_err_at(c, "DesiredCount", "invalid JSONPath: %s", why);
			return;
		}
	}
	jcheck_err_at(c, "DesiredCount",
		      "must be an integer from 0 to %d, a change such as \"+2\" or \"-1\", or a JSONPath such as \"$.detail.count\"",
		      DESIRED_COUNT_MAX);
}

/* MinCapacity and MaxCapacity (extension): the bounds DesiredCount is clamped to. */
static void ecs_capacity(struct jcheck *c, const struct jnode *ecs)
{
	int64_t lo = 0, hi = DESIRED_COUNT_MAX;
	int rlo = jcheck_int(c, ecs, "MinCapacity", 0, 0, DESIRED_COUNT_MAX, &lo);
	int rhi = jcheck_int(c, ecs, "MaxCapacity", 0, 0, DESIRED_COUNT_MAX, &hi);

	if (rlo > 0 && rhi > 0 && lo > hi)
		jcheck_err_at(c, "MinCapacity", "must not be more than MaxCapacity (%lld)", (long long)hi);
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
	rulefield_string_max(c, ecs, "PlatformVersion", 0, false, 255, &len);
	jcheck_bool(c, ecs, "EnableECSManagedTags", 0, NULL);
	jcheck_bool(c, ecs, "EnableExecuteCommand", 0, NULL);
	jcheck_enum(c, ecs, "PropagateTags", 0, propagate, 0);
	rulefield_string_max(c, ecs, "ReferenceId", 0, false, 1024, &len);
	rulefield_object_array(c, ecs, "Tags", 50, ecs_tag);
	ecs_network(c, ecs);
	rulefield_object_array(c, ecs, "CapacityProviderStrategy", 6, ecs_capacity_provider);
	rulefield_object_array(c, ecs, "PlacementConstraints", 10, ecs_placement_constraint);
	rulefield_object_array(c, ecs, "PlacementStrategy", 5, ecs_placement_strategy);
	/* RunTask and StopTask */
	rulefield_string_max(c, ecs, "Group", 0, true, 255, &len);

	/* StopTask */
	ecs_task_id(c, ecs);
	s = jcheck_string(c, ecs, "StartedBy", 0, &len);
	if (s && (len < 1 || len > 128 || !jtext_chars_in(s, len, "-_/")))
		jcheck_err_at(c, "StartedBy", "must be 1 to 128 characters of A-Z a-z 0-9 - _ /");
	rulefield_string_max(c, ecs, "Reason", 0, false, 255, &len);
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
	ecs_capacity(c, ecs);
	jcheck_bool(c, ecs, "ForceNewDeployment", 0, NULL);
}

/* ------------------------------------------------------------ targets: the rest */

static void http_parameters(struct jcheck *c, const struct jnode *hp)
{
	static const char *const fields[] = {"HeaderParameters", "QueryStringParameters",
					     "PathParameterValues", "Method", "Connection", NULL};
	static const char *const methods[] = {"POST", "GET", "PUT", "PATCH", "DELETE", NULL};
	static const char *const maps[] = {"HeaderParameters", "QueryStringParameters"};
	const struct jnode *n;

	jcheck_fields(c, hp, fields, NULL);
	jcheck_enum(c, hp, "Method", 0, methods, 0);
	/* Connection (extension): a name of the config's connections (the
	 * targets check that it exists when the rules load) */
	size_t clen;
	const char *conn = jcheck_string(c, hp, "Connection", 0, &clen);
	if (conn && (clen < 1 || clen > 64 || !jtext_chars_in(conn, clen, "._-")))
		jcheck_err_at(c, "Connection", "must be a connection's name: 1 to 64 characters of A-Z a-z 0-9 . _ -");
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
	if (s && s[0] == '$' && (why = rulefield_jsonpath_problem(s, len)))
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
	struct rulefield_span res;
	const char *s, *why;
	size_t len;

	jcheck_fields(c, dl, fields, NULL);
	if (!(s = jcheck_string(c, dl, "Arn", JCHECK_REQUIRED, &len)))
		return;
	why = target_classify(s, len, &kind, &res);
	if (!why && kind == TARGET_KAFKA)
		why = "kafka dead-letter destinations are not implemented yet: use file:PATH or an http(s):// URL";
	else if (!why && kind != TARGET_FILE && kind != TARGET_HTTP)
		why = "a dead-letter destination must be file:PATH or an http(s):// URL";
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
	key = rulefield_jsonpath(c, d, "Key", JCHECK_REQUIRED, &len);
	if (jcheck_int(c, d, "WindowSeconds", 0, 1, 604800, &v) > 0)
		t->dedup.window_s = (uint32_t)v;
	if (!key)
		return;
	t->dedup.key = jcheck_dup(c, key, len);
	char why[128];
	int r = t->dedup.key ? transform_compile(&(struct transform_spec){.input_path = t->dedup.key},
						 &t->dedup.path, why, sizeof(why))
			     : -ENOMEM;
	if (r == -ENOMEM)
		c->nomem = true;
	else if (r < 0)
		jcheck_err_at(c, "Key", "%s", why);
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
		rate = ps->type == JNODE_NUMBER ? rulefield_number_value(ps->u.num) : 0.0;
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
	"RateLimit", "MaxConcurrency", NULL,
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

void rule_target_parse(struct jcheck *c, const struct jnode *obj, struct rule_target *t)
{
	enum target_kind kind = TARGET_TASK;
	bool kind_known = false;
	struct rulefield_span res;
	const char *s, *why;
	size_t len;
	int64_t v;

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
		if (!rulefield_name_ok(s, len, 64))
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
	if (jcheck_int(c, obj, "MaxConcurrency", 0, 1, MAX_CONCURRENCY_MAX, &v) > 0)
		t->max_concurrency = (uint32_t)v;
}

void rule_target_free_fields(struct rule_target *t)
{
	free(t->id);
	free(t->arn);
	free(t->resource);
	free(t->json);
	free(t->dead_letter_arn);
	free(t->dedup.key);
	transform_free(t->dedup.path);
	transform_free(t->transform);
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
