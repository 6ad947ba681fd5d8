/*
 * taskdef.c — validation and normalisation of ECS task definitions.
 *
 * How: a request is parsed with the strict reader (common/json.h) and walked
 * once; each field is checked (type, range, enum, unknown and duplicate keys),
 * copied into struct taskdef and, in the same pass, into a jansson tree in
 * ECS's `taskDefinition` response shape. Every error is collected with its
 * JSON pointer, so one pass reports everything. Cross-field rules (unique
 * container names, mount points naming volumes, dependsOn naming another
 * container without cycles, at least one essential container) run after the
 * walk. The registry's files (taskdef_registry.c) are that response shape
 * plus "tags"; taskdef_parse_stored() validates one the same way,
 * additionally accepting the registry's own members (revision, status,
 * registeredAt, deregisteredAt, taskDefinitionArn).
 *
 * Choices, documented: task-level `cpu` and `memory` accept integers and
 * strings of digits ("256"), not ECS's "1 vCPU" / "2 GB" forms; environment
 * entries need both `name` and `value`; `logConfiguration` is kept verbatim
 * once it is an object; `volumes` accept only `name` and `host.sourcePath`;
 * `privileged: true` and `linuxParameters` (capabilities, devices) are
 * refused by name.
 *
 * Contract: pure code; never logs; a parsed definition belongs to the caller.
 */
#include "taskdef_internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h"
#include "jcheck.h"
#include "json.h"

#define MAX_ARGS 256
#define MAX_ENV 1024
#define MAX_SECRETS 256
#define MAX_MOUNTS 64
#define MAX_VOLUMES 64
#define MAX_TAGS 50
#define MAX_CPU 262144      /* 256 cores of 1024 units */
#define MAX_MEMORY 4194304  /* 4 TiB in MiB */

/* ---- validation ---------------------------------------------------------- */

/* The context, messages and member getters are common/jcheck.h's, in its ECS
 * style ("request: /containerDefinitions/0/cpu: must be an integer"). */

static void jset(struct jcheck *v, json_t *obj, const char *key, json_t *val)
{
	if (!val || json_object_set_new(obj, key, val) < 0)
		v->nomem = true;
}

static void jappend(struct jcheck *v, json_t *arr, json_t *val)
{
	if (!val || json_array_append_new(arr, val) < 0)
		v->nomem = true;
}

bool taskdef_valid_name(const char *s, size_t len)
{
	if (len < 1 || len > TASKDEF_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

bool taskdef_parse_int(const char *s, long long *ret)
{
	const char *p = s;
	long long n = 0;
	bool neg = false;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!isdigit((unsigned char)*p))
		return false;
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p) || n > (LLONG_MAX - 9) / 10)
			return false;
		n = n * 10 + (*p - '0');
	}
	*ret = neg ? -n : n;
	return true;
}

/* A string member (flags: jcheck's) copied into *ret and into out[key] (when out). */
static bool get_str_ex(struct jcheck *v, const struct jnode *obj, const char *key, unsigned flags,
		       char **ret, json_t *out)
{
	size_t len;
	const char *s = jcheck_string(v, obj, key, flags, &len);

	if (!s)
		return false;
	if (ret)
		*ret = jcheck_dup(v, s, len);
	if (out)
		jset(v, out, key, json_string(s));
	return true;
}

/* The same for a non-empty string. */
static bool get_str(struct jcheck *v, const struct jnode *obj, const char *key, unsigned flags,
		    char **ret, json_t *out)
{
	return get_str_ex(v, obj, key, flags | JCHECK_NONEMPTY, ret, out);
}

static bool get_int(struct jcheck *v, const struct jnode *obj, const char *key, int64_t min,
		    int64_t max, int *ret, json_t *out)
{
	int64_t x;

	if (jcheck_int(v, obj, key, 0, min, max, &x) <= 0)
		return false;
	*ret = (int)x;
	if (out)
		jset(v, out, key, json_integer(x));
	return true;
}

static bool no_nul(const char *s, size_t n)
{
	return !memchr(s, '\0', n);
}

/* Array of strings appended to *argv (grown, NULL-terminated) and to out[key]. */
static void get_strv(struct jcheck *v, const struct jnode *obj, const char *key, unsigned flags,
		     size_t min, char ***argv, size_t *n_argv, json_t *out)
{
	const struct jnode *a = jcheck_strings(v, obj, key, flags, min, MAX_ARGS, no_nul,
					       "must be a string");
	json_t *ja;
	char **grown;

	if (!a)
		return;
	ja = json_array();
	grown = realloc(*argv, (*n_argv + a->len + 1) * sizeof(*grown));
	if (!ja || !grown) {
		v->nomem = true;
		json_decref(ja);
		if (grown)
			*argv = grown;
		return;
	}
	*argv = grown;
	for (size_t i = 0; i < a->len; i++) {
		const struct jnode *s = a->u.items[i];

		grown[(*n_argv)++] = jcheck_dup(v, s->u.str, s->len);
		jappend(v, ja, json_string(s->u.str));
	}
	grown[*n_argv] = NULL;
	jset(v, out, key, ja);
}

/* Fills je, the response's object for one item of an array of objects. */
typedef void (*item_fn)(struct jcheck *v, const struct jnode *e, json_t *je, void *arg);

struct each_json {
	item_fn fn;
	void *arg;
	json_t *ja;
};

static void each_json_item(struct jcheck *v, const struct jnode *e, size_t i, void *arg)
{
	struct each_json *w = arg;
	json_t *je = json_object();

	(void)i;
	if (!je) {
		v->nomem = true;
		return;
	}
	w->fn(v, e, je, w->arg);
	jappend(v, w->ja, je);
}

/* The array of objects a, obj's member key, item by item into out[key]:
 * fn(arg) checks each object and fills its JSON object. */
static void each_json(struct jcheck *v, const struct jnode *a, const char *key, item_fn fn,
		      void *arg, json_t *out)
{
	struct each_json w = {fn, arg, json_array()};

	if (!w.ja) {
		v->nomem = true;
		return;
	}
	jcheck_each_object(v, a, key, each_json_item, &w);
	jset(v, out, key, w.ja);
}

/* [{name, <vkey>}] into kv and out[key]. */
struct kvs {
	const char *const *allowed;  /* name, vkey */
	unsigned vflags;
	struct taskdef_kv *kv;
	size_t *n_kv;
};

static void kv_item(struct jcheck *v, const struct jnode *e, json_t *je, void *arg)
{
	struct kvs *k = arg;
	struct taskdef_kv *kv = &k->kv[(*k->n_kv)++];

	jcheck_fields(v, e, k->allowed, NULL);
	get_str(v, e, "name", JCHECK_REQUIRED, &kv->name, je);
	get_str_ex(v, e, k->allowed[1], k->vflags, &kv->value, je);
}

static void get_kvs(struct jcheck *v, const struct jnode *obj, const char *key, const char *vkey,
		    unsigned vflags, size_t max, struct taskdef_kv **ret, size_t *n_ret, json_t *out)
{
	const struct jnode *a = jcheck_array(v, obj, key, 0, 0, max);
	const char *const allowed[] = {"name", vkey, NULL};
	struct kvs k = {allowed, vflags, NULL, n_ret};

	if (!a || !(k.kv = *ret = jcheck_calloc(v, a->len, sizeof(**ret))))
		return;
	each_json(v, a, key, kv_item, &k, out);
}

/* ---- container definitions -------------------------------------------- */

static void parse_health(struct jcheck *v, const struct jnode *c, struct taskdef_health *h,
			 json_t *out)
{
	static const char *const allowed[] = {"command", "interval", "timeout", "retries",
					      "startPeriod", NULL};
	const struct jnode *n = jcheck_object(v, c, "healthCheck", 0, allowed);
	size_t old;
	json_t *jh;

	h->interval = 30;
	h->timeout = 5;
	h->retries = 3;
	h->start_period = 0;
	if (!n)
		return;
	h->present = true;
	jh = json_object();
	if (!jh) {
		v->nomem = true;
		return;
	}
	old = jcheck_push(v, "healthCheck");
	get_strv(v, n, "command", JCHECK_REQUIRED, 1, &h->command, &h->n_command, jh);
	get_int(v, n, "interval", 5, 300, &h->interval, NULL);
	get_int(v, n, "timeout", 2, 60, &h->timeout, NULL);
	get_int(v, n, "retries", 1, 10, &h->retries, NULL);
	get_int(v, n, "startPeriod", 0, 300, &h->start_period, NULL);
	jset(v, jh, "interval", json_integer(h->interval));
	jset(v, jh, "timeout", json_integer(h->timeout));
	jset(v, jh, "retries", json_integer(h->retries));
	jset(v, jh, "startPeriod", json_integer(h->start_period));
	jset(v, out, "healthCheck", jh);
	jcheck_pop(v, old);
}

static void mount_item(struct jcheck *v, const struct jnode *e, json_t *je, void *arg)
{
	static const char *const allowed[] = {"sourceVolume", "containerPath", "readOnly", NULL};
	struct taskdef_container *ct = arg;
	struct taskdef_mount *m = &ct->mounts[ct->n_mounts++];

	jcheck_fields(v, e, allowed, NULL);
	get_str(v, e, "sourceVolume", JCHECK_REQUIRED, &m->source_volume, je);
	if (get_str(v, e, "containerPath", JCHECK_REQUIRED, &m->container_path, je) &&
	    m->container_path && m->container_path[0] != '/')
		jcheck_err_at(v, "containerPath", "must be an absolute path");
	jcheck_bool(v, e, "readOnly", 0, &m->read_only);
	jset(v, je, "readOnly", json_boolean(m->read_only));
}

static const char *const condition_names[] = {"START", "COMPLETE", "SUCCESS", "HEALTHY", NULL};

static void depend_item(struct jcheck *v, const struct jnode *e, json_t *je, void *arg)
{
	static const char *const allowed[] = {"containerName", "condition", NULL};
	struct taskdef_container *ct = arg;
	struct taskdef_depend *d = &ct->depends[ct->n_depends++];
	int k;

	jcheck_fields(v, e, allowed, NULL);
	get_str(v, e, "containerName", JCHECK_REQUIRED, &d->container_name, je);
	k = jcheck_enum(v, e, "condition", JCHECK_REQUIRED, condition_names, -1);
	if (k >= 0) {
		d->condition = (enum taskdef_condition)k;
		jset(v, je, "condition", json_string(condition_names[k]));
	}
}

/* What would hand the host to a container is refused by name: privileged
 * mode (false is accepted: definitions exported from ECS carry it) and
 * linuxParameters (added capabilities, host devices and the rest). */
static void refuse_privilege(struct jcheck *v, const struct jnode *c)
{
	bool privileged = false;

	if (jcheck_bool(v, c, "privileged", 0, &privileged) > 0 && privileged)
		jcheck_err_at(v, "privileged", "not supported: containers never run privileged");
	if (jnode_get(c, "linuxParameters"))
		jcheck_err_at(v, "linuxParameters", "not supported: containers never get added capabilities "
			      "or host devices");
}

/* One of td's containers (td->containers[td->n_containers], counted here). */
static void container_item(struct jcheck *v, const struct jnode *c, json_t *out, void *arg)
{
	static const char *const allowed[] = {
		"name", "image", "command", "entryPoint", "environment", "secrets", "cpu",
		"memory", "memoryReservation", "essential", "workingDirectory", "user",
		"stopTimeout", "healthCheck", "logConfiguration", "mountPoints", "dependsOn",
		"privileged", "linuxParameters", NULL,
	};
	struct taskdef *td = arg;
	struct taskdef_container *ct = &td->containers[td->n_containers++];
	const struct jnode *log, *a;
	bool has_memory;
	size_t n_errs;

	jcheck_fields(v, c, allowed, NULL);
	refuse_privilege(v, c);
	ct->essential = true;
	ct->stop_timeout = 30;
	if (get_str(v, c, "name", JCHECK_REQUIRED, &ct->name, out) && ct->name &&
	    !taskdef_valid_name(ct->name, strlen(ct->name)))
		jcheck_err_at(v, "name", "must be 1 to 255 letters, digits, hyphens or underscores");
	get_str(v, c, "image", 0, &ct->image, out);
	n_errs = v->errs->n + v->errs->dropped;
	get_strv(v, c, "entryPoint", 0, 0, &ct->argv, &ct->n_argv, out);
	ct->n_entry_point = ct->n_argv;
	get_strv(v, c, "command", 0, 0, &ct->argv, &ct->n_argv, out);
	if (!jnode_get(c, "image") && !jnode_get(c, "command") && !jnode_get(c, "entryPoint"))
		jcheck_err(v, "needs an image, a command or an entryPoint");
	else if (!jnode_get(c, "image") && ct->n_argv == 0 &&
		 n_errs == v->errs->n + v->errs->dropped)
		jcheck_err(v, "without an image, entryPoint + command must not be empty");
	get_kvs(v, c, "environment", "value", JCHECK_REQUIRED, MAX_ENV, &ct->environment,
		&ct->n_environment, out);
	get_kvs(v, c, "secrets", "valueFrom", JCHECK_REQUIRED | JCHECK_NONEMPTY, MAX_SECRETS,
		&ct->secrets, &ct->n_secrets, out);
	get_int(v, c, "cpu", 0, MAX_CPU, &ct->cpu, NULL);
	jset(v, out, "cpu", json_integer(ct->cpu));
	has_memory = get_int(v, c, "memory", 4, MAX_MEMORY, &ct->memory, out);
	if (get_int(v, c, "memoryReservation", 4, MAX_MEMORY, &ct->memory_reservation, out) &&
	    has_memory && ct->memory_reservation > ct->memory)
		jcheck_err_at(v, "memoryReservation", "must not exceed memory (%d MiB)", ct->memory);
	jcheck_bool(v, c, "essential", 0, &ct->essential);
	jset(v, out, "essential", json_boolean(ct->essential));
	get_str(v, c, "workingDirectory", 0, &ct->working_directory, out);
	get_str(v, c, "user", 0, &ct->user, out);
	get_int(v, c, "stopTimeout", 2, 120, &ct->stop_timeout, out);
	parse_health(v, c, &ct->health, out);
	log = jcheck_member(v, c, "logConfiguration", JNODE_OBJECT, 0);
	if (log) {
		json_t *jl = json_loadb(v->text + log->offset, log->end - log->offset, 0, NULL);

		if (!jl)
			v->nomem = true;
		jset(v, out, "logConfiguration", jl);
	}
	a = jcheck_array(v, c, "mountPoints", 0, 0, MAX_MOUNTS);
	if (a && (ct->mounts = jcheck_calloc(v, a->len, sizeof(*ct->mounts))))
		each_json(v, a, "mountPoints", mount_item, ct, out);
	a = jcheck_array(v, c, "dependsOn", 0, 0, TASKDEF_MAX_CONTAINERS);
	if (a && (ct->depends = jcheck_calloc(v, a->len, sizeof(*ct->depends))))
		each_json(v, a, "dependsOn", depend_item, ct, out);
}

/* ---- task level --------------------------------------------------------- */

/* Task-level cpu/memory: an integer or a string of digits, kept as ECS's string. */
static void get_size(struct jcheck *v, const struct jnode *root, const char *key, long long min,
		     long long max, int *ret, json_t *out)
{
	const struct jnode *n = jnode_get(root, key);
	const char *text;
	long long x;
	char buf[24];

	if (!n)
		return;
	text = n->type == JNODE_STRING ? n->u.str : n->type == JNODE_NUMBER ? n->u.num : NULL;
	if (!text || !taskdef_parse_int(text, &x) || x < min || x > max ||
	    (n->type == JNODE_STRING && strlen(text) != n->len)) {
		jcheck_err_at(v, key, "must be an integer or a string of digits from %lld to %lld",
			      min, max);
		return;
	}
	*ret = (int)x;
	snprintf(buf, sizeof(buf), "%lld", x);
	jset(v, out, key, json_string(buf));
}

static void volume_item(struct jcheck *v, const struct jnode *e, json_t *je, void *arg)
{
	static const char *const allowed[] = {"name", "host", NULL};
	static const char *const host_allowed[] = {"sourcePath", NULL};
	struct taskdef *td = arg;
	struct taskdef_volume *vol = &td->volumes[td->n_volumes];
	const struct jnode *host;

	jcheck_fields(v, e, allowed, NULL);
	if (get_str(v, e, "name", JCHECK_REQUIRED, &vol->name, je) && vol->name) {
		size_t old = jcheck_push(v, "name");

		if (!taskdef_valid_name(vol->name, strlen(vol->name)))
			jcheck_err(v, "must be 1 to 255 letters, digits, hyphens or underscores");
		for (size_t j = 0; j < td->n_volumes; j++)
			if (td->volumes[j].name && !strcmp(td->volumes[j].name, vol->name))
				jcheck_err(v, "duplicate volume name \"%s\"", vol->name);
		jcheck_pop(v, old);
	}
	host = jcheck_object(v, e, "host", 0, host_allowed);
	if (host) {
		size_t old = jcheck_push(v, "host");
		json_t *jh = json_object();

		if (get_str(v, host, "sourcePath", 0, &vol->source_path, jh) &&
		    vol->source_path && vol->source_path[0] != '/')
			jcheck_err_at(v, "sourcePath", "must be an absolute path");
		jset(v, je, "host", jh);
		jcheck_pop(v, old);
	}
	td->n_volumes++;
}

static void parse_compat(struct jcheck *v, const struct jnode *root, struct taskdef *td,
			 json_t *out)
{
	static const char *const names[] = {"EC2", "FARGATE", "EXTERNAL"};
	const struct jnode *a = jcheck_array(v, root, "requiresCompatibilities", 0, 0, 3);
	json_t *ja;
	size_t old;

	if (!a)
		return;
	old = jcheck_push(v, "requiresCompatibilities");
	ja = json_array();
	if (!ja)
		v->nomem = true;
	for (size_t i = 0; i < a->len && ja; i++) {
		size_t o2 = jcheck_push_index(v, i), k;

		for (k = 0; k < 3; k++)
			if (a->u.items[i]->type == JNODE_STRING && jnode_streq(a->u.items[i], names[k]))
				break;
		if (k == 3) {
			jcheck_err(v, "must be one of EC2, FARGATE, EXTERNAL");
		} else if (!(td->compat & (1u << k))) {
			td->compat |= 1u << k;
			jappend(v, ja, json_string(names[k]));
		}
		jcheck_pop(v, o2);
	}
	jset(v, out, "requiresCompatibilities", ja);
	jcheck_pop(v, old);
}

static void tag_item(struct jcheck *v, const struct jnode *e, json_t *je, void *arg)
{
	static const char *const allowed[] = {"key", "value", NULL};
	const struct jnode *val;

	(void)arg;
	jcheck_fields(v, e, allowed, NULL);
	get_str(v, e, "key", JCHECK_REQUIRED, NULL, je);
	val = jcheck_member(v, e, "value", JNODE_STRING, 0);
	if (val)
		jset(v, je, "value", json_string(val->u.str));
}

/* out["tags"] is always there, [] when there are none. */
static void parse_tags(struct jcheck *v, const struct jnode *root, json_t *out)
{
	const struct jnode *a = jcheck_array(v, root, "tags", 0, 0, MAX_TAGS);

	if (a)
		each_json(v, a, "tags", tag_item, NULL, out);
	else
		jset(v, out, "tags", json_array());
}

static struct taskdef_container *find_container(struct taskdef *td, const char *name)
{
	for (size_t i = 0; i < td->n_containers; i++)
		if (td->containers[i].name && !strcmp(td->containers[i].name, name))
			return &td->containers[i];
	return NULL;
}

/* Depth-first search for a cycle through container i; state 1 = on path. */
static bool has_cycle(struct taskdef *td, size_t i, unsigned char *state)
{
	const struct taskdef_container *c = &td->containers[i];

	if (state[i] == 1)
		return true;
	if (state[i] == 2)
		return false;
	state[i] = 1;
	for (size_t k = 0; k < c->n_depends; k++) {
		struct taskdef_container *d = c->depends[k].container_name ?
			find_container(td, c->depends[k].container_name) : NULL;

		if (d && has_cycle(td, (size_t)(d - td->containers), state))
			return true;
	}
	state[i] = 2;
	return false;
}

/* Cross-container rules, once every container is parsed. */
static void check_containers(struct jcheck *v, struct taskdef *td)
{
	size_t old = jcheck_push(v, "containerDefinitions");
	bool any_essential = false, refs_ok = true;

	for (size_t i = 0; i < td->n_containers; i++) {
		struct taskdef_container *c = &td->containers[i];
		size_t o2 = jcheck_push_index(v, i);

		any_essential |= c->essential;
		for (size_t j = 0; c->name && j < i; j++)
			if (td->containers[j].name && !strcmp(td->containers[j].name, c->name)) {
				jcheck_err_at(v, "name", "duplicate container name \"%s\"", c->name);
				break;
			}
		for (size_t k = 0; k < c->n_mounts; k++) {
			const char *sv = c->mounts[k].source_volume;
			bool found = false;

			for (size_t j = 0; sv && j < td->n_volumes; j++)
				if (td->volumes[j].name && !strcmp(td->volumes[j].name, sv))
					found = true;
			if (sv && !found) {
				size_t o3 = jcheck_push(v, "mountPoints");

				jcheck_push_index(v, k);
				jcheck_err_at(v, "sourceVolume", "no volume named \"%s\" in /volumes", sv);
				jcheck_pop(v, o3);
			}
		}
		for (size_t k = 0; k < c->n_depends; k++) {
			const char *dn = c->depends[k].container_name;
			struct taskdef_container *d = dn ? find_container(td, dn) : NULL;
			size_t o3;

			if (!dn)
				continue;
			o3 = jcheck_push(v, "dependsOn");
			jcheck_push_index(v, k);
			jcheck_push(v, "containerName");
			if (!d || d == c) {
				jcheck_err(v, "no other container named \"%s\"", dn);
				refs_ok = false;
			} else if (c->depends[k].condition == TASKDEF_CONDITION_HEALTHY &&
				   !d->health.present) {
				jcheck_err(v, "condition HEALTHY needs a healthCheck on container \"%s\"", dn);
			}
			jcheck_pop(v, o3);
		}
		jcheck_pop(v, o2);
	}
	if (td->n_containers && !any_essential)
		jcheck_err(v, "at least one container must be essential");
	if (refs_ok) {
		unsigned char state[TASKDEF_MAX_CONTAINERS];

		for (size_t i = 0; i < td->n_containers; i++) {
			memset(state, 0, sizeof(state));
			if (has_cycle(td, i, state)) {
				size_t o2 = jcheck_push_index(v, i);

				jcheck_err_at(v, "dependsOn", "dependency cycle through container \"%s\"",
					      td->containers[i].name);
				jcheck_pop(v, o2);
				break;
			}
		}
	}
	jcheck_pop(v, old);
}

/* The registry's own members of a persisted file. */
static void parse_stored(struct jcheck *c, const struct jnode *root, struct taskdef *td)
{
	static const char *const statuses[] = {"ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS", NULL};
	const struct jnode *st;
	long long x;
	int64_t rev;
	int k;

	jcheck_member(c, root, "taskDefinitionArn", JNODE_STRING, JCHECK_REQUIRED);
	if (jcheck_int(c, root, "revision", JCHECK_REQUIRED, 1, TASKDEF_MAX_REVISIONS, &rev) > 0)
		td->revision = (unsigned)rev;
	k = jcheck_enum(c, root, "status", JCHECK_REQUIRED, statuses, -1);
	if (k >= 0)
		td->status = (enum taskdef_status)k;
	st = jcheck_member(c, root, "registeredAt", JNODE_NUMBER, JCHECK_REQUIRED);
	if (st && taskdef_parse_int(st->u.num, &x) && x >= 0)
		td->registered_at = x;
	else if (st)
		jcheck_err(c, "registeredAt must be a non-negative integer");
	st = jcheck_member(c, root, "deregisteredAt", JNODE_NUMBER, 0);
	if (st && taskdef_parse_int(st->u.num, &x) && x >= 0)
		td->deregistered_at = x;
	else if (st)
		jcheck_err(c, "deregisteredAt must be a non-negative integer");
}

static int parse_doc(const char *text, size_t len, const char *where, bool stored,
		     struct taskdef **ret_td, struct errlist *errs)
{
	static const char *const allowed[] = {
		"family", "containerDefinitions", "cpu", "memory", "volumes",
		"requiresCompatibilities", "networkMode", "tags",
		/* stored only: */
		"taskDefinitionArn", "revision", "status", "registeredAt", "deregisteredAt", NULL,
	};
	static const char *const modes[] = {"none", "bridge", "host", "awsvpc", NULL};
	struct jcheck v;
	const struct jnode *root, *a;
	struct json_limits lim = {.max_depth = 32, .max_bytes = TASKDEF_MAX_FILE_BYTES};
	struct json_error jerr;
	struct taskdef *td = NULL;
	struct jdoc *doc = NULL;
	json_t *out = NULL;
	int r, k;

	*ret_td = NULL;
	jcheck_init(&v, JCHECK_STYLE_ECS, errs, where);
	v.text = text;
	r = jdoc_parse(text, len, &lim, &doc, &jerr);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		errlist_add(errs, where, "%u:%u: %s", jerr.line, jerr.column, jerr.message);
		return -EINVAL;
	}
	root = jdoc_root(doc);
	td = calloc(1, sizeof(*td));
	out = json_object();
	if (!td || !out) {
		r = -ENOMEM;
		goto out_free;
	}
	if (root->type != JNODE_OBJECT) {
		jcheck_err(&v, "must be an object");
		goto out_check;
	}
	jcheck_fields(&v, root, allowed, NULL);
	if (!stored)
		for (size_t i = 0; i < root->len; i++) {
			const char *key = root->u.members[i].key;

			for (size_t j = 8; allowed[j]; j++)
				if (!strcmp(key, allowed[j]))
					jcheck_err_at(&v, key, "unknown key");
		}
	if (get_str(&v, root, "family", JCHECK_REQUIRED, &td->family, NULL) && td->family &&
	    !taskdef_valid_name(td->family, strlen(td->family)))
		jcheck_err_at(&v, "family", "must be 1 to 255 letters, digits, hyphens or underscores");
	/* ECS's member order: ARN, containerDefinitions, family, … */
	jset(&v, out, "taskDefinitionArn", json_string(""));
	a = jcheck_array(&v, root, "containerDefinitions", JCHECK_REQUIRED, 1, TASKDEF_MAX_CONTAINERS);
	if (a) {
		td->containers = calloc(a->len, sizeof(*td->containers));
		if (!td->containers) {
			r = -ENOMEM;
			goto out_free;
		}
		each_json(&v, a, "containerDefinitions", container_item, td, out);
	}
	if (td->family)
		jset(&v, out, "family", json_string(td->family));
	get_size(&v, root, "cpu", 128, MAX_CPU, &td->cpu, out);
	get_size(&v, root, "memory", 4, MAX_MEMORY, &td->memory, out);
	k = jcheck_enum(&v, root, "networkMode", 0, modes, -1);
	if (k >= 0) {
		td->network_mode = jcheck_dup(&v, modes[k], strlen(modes[k]));
		jset(&v, out, "networkMode", json_string(modes[k]));
	}
	a = jcheck_array(&v, root, "volumes", 0, 0, MAX_VOLUMES);
	if (a && (td->volumes = jcheck_calloc(&v, a->len, sizeof(*td->volumes))))
		each_json(&v, a, "volumes", volume_item, td, out);
	parse_compat(&v, root, td, out);
	parse_tags(&v, root, out);
	check_containers(&v, td);
	if (stored)
		parse_stored(&v, root, td);
out_check:
	if (v.nomem) {
		r = -ENOMEM;
		goto out_free;
	}
	if (v.failed) {
		r = -EINVAL;
		goto out_free;
	}
	td->doc = out;
	out = NULL;
	*ret_td = td;
	td = NULL;
	r = 0;
out_free:
	json_decref(out);
	taskdef_free(td);
	jdoc_free(doc);
	return r;
}

int taskdef_parse(const char *text, size_t len, const char *where, struct taskdef **ret_td,
		  struct errlist *errs)
{
	return parse_doc(text, len, where ? where : "request", false, ret_td, errs);
}

int taskdef_parse_stored(const char *text, size_t len, const char *path, struct taskdef **ret_td,
			 struct errlist *errs)
{
	return parse_doc(text, len, path, true, ret_td, errs);
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void free_kvs(struct taskdef_kv *kv, size_t n)
{
	for (size_t i = 0; kv && i < n; i++) {
		free(kv[i].name);
		free(kv[i].value);
	}
	free(kv);
}

void taskdef_free(struct taskdef *td)
{
	if (!td)
		return;
	for (size_t i = 0; i < td->n_containers; i++) {
		struct taskdef_container *c = &td->containers[i];

		free(c->name);
		free(c->image);
		free_strv(c->argv, c->n_argv);
		free_kvs(c->environment, c->n_environment);
		free_kvs(c->secrets, c->n_secrets);
		free(c->working_directory);
		free(c->user);
		free_strv(c->health.command, c->health.n_command);
		for (size_t k = 0; k < c->n_mounts; k++) {
			free(c->mounts[k].source_volume);
			free(c->mounts[k].container_path);
		}
		free(c->mounts);
		for (size_t k = 0; k < c->n_depends; k++)
			free(c->depends[k].container_name);
		free(c->depends);
	}
	free(td->containers);
	for (size_t i = 0; i < td->n_volumes; i++) {
		free(td->volumes[i].name);
		free(td->volumes[i].source_path);
	}
	free(td->volumes);
	free(td->family);
	free(td->arn);
	free(td->network_mode);
	free(td->json);
	free(td->tags_json);
	json_decref(td->doc);
	free(td);
}

const char *taskdef_status_name(enum taskdef_status s)
{
	return s == TASKDEF_STATUS_ACTIVE     ? "ACTIVE"
	       : s == TASKDEF_STATUS_INACTIVE ? "INACTIVE"
					      : "DELETE_IN_PROGRESS";
}
