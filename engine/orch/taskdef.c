/*
 * taskdef.c — validation, normalisation, persistence and lookup of ECS task
 * definitions.
 *
 * How: a request is parsed with the strict reader (common/json.h) and walked
 * once; each field is checked (type, range, enum, unknown and duplicate keys),
 * copied into struct taskdef and, in the same pass, into a jansson tree in
 * ECS's `taskDefinition` response shape. Every error is collected with its
 * JSON pointer, so one pass reports everything. Cross-field rules (unique
 * container names, mount points naming volumes, dependsOn naming another
 * container without cycles, at least one essential container) run after the
 * walk. Persisted files are that response shape plus "tags"; loading a file
 * validates it the same way, additionally accepting the registry's own
 * members (revision, status, registeredAt, deregisteredAt, taskDefinitionArn,
 * which is recomputed from the configured region and account).
 *
 * Choices, documented: task-level `cpu` and `memory` accept integers and
 * strings of digits ("256"), not ECS's "1 vCPU" / "2 GB" forms; environment
 * entries need both `name` and `value`; `logConfiguration` is kept verbatim
 * once it is an object; `volumes` accept only `name` and `host.sourcePath`.
 *
 * Contract: pure code apart from the registry's directory; never logs; the
 * registry owns its definitions; revision numbers only grow.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* asprintf, mkostemp */
#endif
#include "taskdef.h"
#include "statefile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errlist.h"
#include "jcheck.h"
#include "json.h"
#include "readfile.h"

#define NAME_MAX_LEN 255
#define MAX_ARGS 256
#define MAX_ENV 1024
#define MAX_SECRETS 256
#define MAX_MOUNTS 64
#define MAX_VOLUMES 64
#define MAX_TAGS 50
#define MAX_CPU 262144      /* 256 cores of 1024 units */
#define MAX_MEMORY 4194304  /* 4 TiB in MiB */
#define MAX_FILE_BYTES ((size_t)1 << 20)

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

static bool valid_name(const char *s, size_t len)
{
	if (len < 1 || len > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* Integer text only ("-"? digits); false for fractions, exponents, overflow. */
static bool parse_int(const char *s, long long *ret)
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

/* One of td's containers (td->containers[td->n_containers], counted here). */
static void container_item(struct jcheck *v, const struct jnode *c, json_t *out, void *arg)
{
	static const char *const allowed[] = {
		"name", "image", "command", "entryPoint", "environment", "secrets", "cpu",
		"memory", "memoryReservation", "essential", "workingDirectory", "user",
		"stopTimeout", "healthCheck", "logConfiguration", "mountPoints", "dependsOn",
		NULL,
	};
	struct taskdef *td = arg;
	struct taskdef_container *ct = &td->containers[td->n_containers++];
	const struct jnode *log, *a;
	bool has_memory;
	size_t n_errs;

	jcheck_fields(v, c, allowed, NULL);
	ct->essential = true;
	ct->stop_timeout = 30;
	if (get_str(v, c, "name", JCHECK_REQUIRED, &ct->name, out) && ct->name &&
	    !valid_name(ct->name, strlen(ct->name)))
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
	if (!text || !parse_int(text, &x) || x < min || x > max ||
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

		if (!valid_name(vol->name, strlen(vol->name)))
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
	static const char *const statuses[] = {"ACTIVE", "INACTIVE", NULL};
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
	if (st && parse_int(st->u.num, &x) && x >= 0)
		td->registered_at = x;
	else if (st)
		jcheck_err(c, "registeredAt must be a non-negative integer");
	st = jcheck_member(c, root, "deregisteredAt", JNODE_NUMBER, 0);
	if (st && parse_int(st->u.num, &x) && x >= 0)
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
	struct json_limits lim = {.max_depth = 32, .max_bytes = MAX_FILE_BYTES};
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
	    !valid_name(td->family, strlen(td->family)))
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
	return s == TASKDEF_STATUS_ACTIVE ? "ACTIVE" : "INACTIVE";
}

/* ---- registry ------------------------------------------------------------ */

struct family {
	char *name;
	struct taskdef **revs;  /* revs[r - 1]; NULL for a revision not on disk */
	unsigned n_revs;        /* the highest revision ever assigned */
};

struct taskdef_registry {
	char *dir;
	char *region;
	char *account;
	struct family *families;  /* sorted by name */
	size_t n_families;
	size_t cap_families;
};

/* Fills arn, revision members, json and tags_json from td->doc; and, when
 * ret_file is non-NULL, the text to persist (response shape + tags). */
static int render(const struct taskdef_registry *reg, struct taskdef *td, char **ret_file)
{
	json_t *d = td->doc, *tags;
	char *arn = NULL, *json = NULL, *tags_json = NULL, *file = NULL;
	int r = -ENOMEM;

	if (asprintf(&arn, "arn:aws:ecs:%s:%s:task-definition/%s:%u", reg->region, reg->account,
		     td->family, td->revision) < 0) {
		arn = NULL;
		goto out_free;
	}
	tags = json_incref(json_object_get(d, "tags"));
	if (json_object_set_new(d, "taskDefinitionArn", json_string(arn)) < 0 ||
	    json_object_set_new(d, "revision", json_integer(td->revision)) < 0 ||
	    json_object_set_new(d, "status", json_string(taskdef_status_name(td->status))) < 0 ||
	    json_object_set_new(d, "registeredAt", json_integer(td->registered_at)) < 0)
		goto out_tags;
	if (td->deregistered_at &&
	    json_object_set_new(d, "deregisteredAt", json_integer(td->deregistered_at)) < 0)
		goto out_tags;
	if (ret_file && !(file = json_dumps(d, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
		goto out_tags;
	json_object_del(d, "tags");
	json = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
	tags_json = json_dumps(tags, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (json_object_set(d, "tags", tags) < 0 || !json || !tags_json)
		goto out_tags;
	free(td->arn);
	free(td->json);
	free(td->tags_json);
	td->arn = arn;
	td->json = json;
	td->tags_json = tags_json;
	arn = json = tags_json = NULL;
	if (ret_file) {
		*ret_file = file;
		file = NULL;
	}
	r = 0;
out_tags:
	json_decref(tags);
out_free:
	free(arn);
	free(json);
	free(tags_json);
	free(file);
	return r;
}

/* Crash-safe replace of <dir>/<family>.<revision>.json (fsync'd: a
 * registration must survive a power loss). */
static int persist(const struct taskdef_registry *reg, const struct taskdef *td, const char *text)
{
	char name[300];

	if (!reg->dir)
		return 0;
	if ((size_t)snprintf(name, sizeof(name), "%s.%u.json", td->family, td->revision) >= sizeof(name))
		return -ENAMETOOLONG;
	return statefile_write(reg->dir, name, text, strlen(text), true);
}

static struct family *find_family(const struct taskdef_registry *reg, const char *name,
				  size_t *ret_pos)
{
	size_t lo = 0, hi = reg->n_families;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(reg->families[mid].name, name);

		if (c == 0)
			return &reg->families[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (ret_pos)
		*ret_pos = lo;
	return NULL;
}

static struct family *get_family(struct taskdef_registry *reg, const char *name)
{
	size_t pos = 0;
	struct family *f = find_family(reg, name, &pos);

	if (f)
		return f;
	if (reg->n_families == reg->cap_families) {
		size_t cap = reg->cap_families ? reg->cap_families * 2 : 8;
		struct family *g = realloc(reg->families, cap * sizeof(*g));

		if (!g)
			return NULL;
		reg->families = g;
		reg->cap_families = cap;
	}
	f = &reg->families[pos];
	memmove(f + 1, f, (reg->n_families - pos) * sizeof(*f));
	memset(f, 0, sizeof(*f));
	f->name = strdup(name);
	if (!f->name) {
		memmove(f, f + 1, (reg->n_families - pos) * sizeof(*f));
		return NULL;
	}
	reg->n_families++;
	return f;
}

/* Makes room for revision rev in f (rev ≥ 1). */
static int reserve_rev(struct family *f, unsigned rev)
{
	struct taskdef **g;

	if (rev <= f->n_revs)
		return 0;
	g = realloc(f->revs, rev * sizeof(*g));
	if (!g)
		return -ENOMEM;
	memset(g + f->n_revs, 0, (rev - f->n_revs) * sizeof(*g));
	f->revs = g;
	f->n_revs = rev;
	return 0;
}

static int load_file(struct taskdef_registry *reg, const char *name, struct errlist *errs)
{
	char *path = NULL, *text = NULL, *expect = NULL;
	struct taskdef *td = NULL;
	struct family *f;
	size_t len = 0;
	int r = -ENOMEM;

	if (asprintf(&path, "%s/%s", reg->dir, name) < 0) {
		path = NULL;
		goto out_free;
	}
	r = readfile(path, MAX_FILE_BYTES, NULL, &text, &len);
	if (r < 0) {
		if (r == -EFBIG)
			errlist_add(errs, path, "larger than %zu bytes", MAX_FILE_BYTES);
		else if (r != -ENOMEM)
			errlist_add(errs, path, "cannot read: %s", r == -EISDIR ? "not a regular file" : strerror(-r));
		if (r == -EFBIG || r == -EISDIR)
			r = -EINVAL;
		goto out_free;
	}
	r = parse_doc(text, len, path, true, &td, errs);
	if (r < 0)
		goto out_free;
	r = -ENOMEM;
	if (asprintf(&expect, "%s.%u.json", td->family, td->revision) < 0) {
		expect = NULL;
		goto out_free;
	}
	if (strcmp(expect, name)) {
		errlist_add(errs, path, "holds %s:%u, so it must be named %s", td->family,
			    td->revision, expect);
		r = -EINVAL;
		goto out_free;
	}
	f = get_family(reg, td->family);
	if (!f || reserve_rev(f, td->revision) < 0 || render(reg, td, NULL) < 0)
		goto out_free;
	f->revs[td->revision - 1] = td;
	td = NULL;
	r = 0;
out_free:
	taskdef_free(td);
	free(expect);
	free(text);
	free(path);
	return r;
}

int taskdef_registry_open(const char *dir, const char *region, const char *account,
			  struct taskdef_registry **ret_reg, struct errlist *errs)
{
	struct taskdef_registry *reg;
	struct dirent *de;
	DIR *d = NULL;
	int r = -ENOMEM, first_err = 0;

	*ret_reg = NULL;
	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	reg->region = strdup(region ? region : TASKDEF_DEFAULT_REGION);
	reg->account = strdup(account ? account : TASKDEF_DEFAULT_ACCOUNT);
	if (!reg->region || !reg->account || (dir && !(reg->dir = strdup(dir))))
		goto out_free;
	if (dir) {
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			errlist_add(errs, dir, "cannot create: %s", strerror(errno));
			goto out_free;
		}
		d = opendir(dir);
		if (!d) {
			r = -errno;
			errlist_add(errs, dir, "cannot open: %s", strerror(errno));
			goto out_free;
		}
		while ((de = readdir(d))) {
			size_t n = strlen(de->d_name);

			if (de->d_name[0] == '.' || n < 5 || strcmp(de->d_name + n - 5, ".json"))
				continue;
			r = load_file(reg, de->d_name, errs);
			if (r == -ENOMEM)
				goto out_free;
			if (r < 0 && !first_err)
				first_err = r;
		}
		if (first_err) {
			r = first_err;
			goto out_free;
		}
	}
	*ret_reg = reg;
	reg = NULL;
	r = 0;
out_free:
	if (d)
		closedir(d);
	taskdef_registry_free(reg);
	return r;
}

void taskdef_registry_free(struct taskdef_registry *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n_families; i++) {
		for (unsigned k = 0; k < reg->families[i].n_revs; k++)
			taskdef_free(reg->families[i].revs[k]);
		free(reg->families[i].revs);
		free(reg->families[i].name);
	}
	free(reg->families);
	free(reg->dir);
	free(reg->region);
	free(reg->account);
	free(reg);
}

int taskdef_register(struct taskdef_registry *reg, const char *text, size_t len,
		     const char *where, const struct taskdef **ret_td, struct errlist *errs)
{
	struct taskdef *td = NULL;
	struct family *f;
	char *file = NULL;
	int r;

	if (ret_td)
		*ret_td = NULL;
	r = taskdef_parse(text, len, where, &td, errs);
	if (r < 0)
		return r;
	f = get_family(reg, td->family);
	if (!f) {
		r = -ENOMEM;
		goto out_free;
	}
	if (f->n_revs >= TASKDEF_MAX_REVISIONS) {
		errlist_add(errs, where ? where : "request", "/family: %s already has %u revisions",
			    td->family, TASKDEF_MAX_REVISIONS);
		r = -ENOSPC;
		goto out_free;
	}
	td->revision = f->n_revs + 1;
	td->status = TASKDEF_STATUS_ACTIVE;
	td->registered_at = (int64_t)time(NULL);
	r = render(reg, td, &file);
	if (r < 0)
		goto out_free;
	r = persist(reg, td, file);
	if (r < 0)
		goto out_free;
	r = reserve_rev(f, td->revision);
	if (r < 0)
		goto out_free;  /* on disk but not in memory: the next open has it */
	f->revs[td->revision - 1] = td;
	if (ret_td)
		*ret_td = td;
	td = NULL;
out_free:
	free(file);
	taskdef_free(td);
	return r;
}

/* Splits a reference into family and revision (0 when none). */
static int parse_ref(const struct taskdef_registry *reg, const char *ref, char *family,
		     unsigned *ret_rev)
{
	char prefix[256];
	const char *colon, *name = ref;
	size_t flen;
	long long rev = 0;

	snprintf(prefix, sizeof(prefix), "arn:aws:ecs:%s:%s:task-definition/", reg->region,
		 reg->account);
	if (!strncmp(ref, "arn:", 4)) {
		if (strncmp(ref, prefix, strlen(prefix)))
			return -ENOENT;
		name = ref + strlen(prefix);
	}
	colon = strchr(name, ':');
	flen = colon ? (size_t)(colon - name) : strlen(name);
	if (!valid_name(name, flen))
		return -EINVAL;
	if (colon && (!parse_int(colon + 1, &rev) || rev < 1 || rev > TASKDEF_MAX_REVISIONS))
		return -EINVAL;
	memcpy(family, name, flen);
	family[flen] = '\0';
	*ret_rev = (unsigned)rev;
	return 0;
}

static int lookup(const struct taskdef_registry *reg, const char *ref, bool need_rev,
		  struct taskdef **ret_td)
{
	char family[NAME_MAX_LEN + 1];
	unsigned rev;
	struct family *f;
	int r = parse_ref(reg, ref, family, &rev);

	*ret_td = NULL;
	if (r < 0)
		return r;
	if (need_rev && rev == 0)
		return -EINVAL;
	f = find_family(reg, family, NULL);
	if (!f)
		return -ENOENT;
	if (rev) {
		if (rev > f->n_revs || !f->revs[rev - 1])
			return -ENOENT;
		*ret_td = f->revs[rev - 1];
		return 0;
	}
	for (unsigned k = f->n_revs; k > 0; k--)
		if (f->revs[k - 1] && f->revs[k - 1]->status == TASKDEF_STATUS_ACTIVE) {
			*ret_td = f->revs[k - 1];
			return 0;
		}
	return -ENOENT;
}

int taskdef_describe(const struct taskdef_registry *reg, const char *ref,
		     const struct taskdef **ret_td)
{
	struct taskdef *td;
	int r = lookup(reg, ref, false, &td);

	*ret_td = td;
	return r;
}

int taskdef_deregister(struct taskdef_registry *reg, const char *ref,
		       const struct taskdef **ret_td)
{
	struct taskdef *td;
	char *file = NULL;
	int r = lookup(reg, ref, true, &td);

	if (ret_td)
		*ret_td = NULL;
	if (r < 0)
		return r;
	if (td->status == TASKDEF_STATUS_ACTIVE) {
		td->status = TASKDEF_STATUS_INACTIVE;
		td->deregistered_at = (int64_t)time(NULL);
		r = render(reg, td, &file);
		if (r == 0)
			r = persist(reg, td, file);
		free(file);
		if (r < 0) {
			td->status = TASKDEF_STATUS_ACTIVE;
			td->deregistered_at = 0;
			json_object_del(td->doc, "deregisteredAt");
			render(reg, td, NULL);
			return r;
		}
	}
	if (ret_td)
		*ret_td = td;
	return 0;
}

static bool passes(const struct taskdef *td, enum taskdef_filter filter)
{
	return filter == TASKDEF_FILTER_ALL ||
	       (filter == TASKDEF_FILTER_ACTIVE) == (td->status == TASKDEF_STATUS_ACTIVE);
}

static bool has_prefix(const char *s, const char *prefix)
{
	return !prefix || !strncmp(s, prefix, strlen(prefix));
}

int taskdef_list(const struct taskdef_registry *reg, const char *family_prefix,
		 enum taskdef_filter filter, taskdef_list_fn fn, void *userdata)
{
	for (size_t i = 0; i < reg->n_families; i++) {
		const struct family *f = &reg->families[i];

		if (!has_prefix(f->name, family_prefix))
			continue;
		for (unsigned k = 0; k < f->n_revs; k++) {
			int r;

			if (!f->revs[k] || !passes(f->revs[k], filter))
				continue;
			r = fn(f->revs[k], userdata);
			if (r)
				return r;
		}
	}
	return 0;
}

int taskdef_list_families(const struct taskdef_registry *reg, const char *family_prefix,
			  enum taskdef_filter filter, taskdef_family_fn fn, void *userdata)
{
	for (size_t i = 0; i < reg->n_families; i++) {
		const struct family *f = &reg->families[i];
		bool active = false;
		int r;

		if (!has_prefix(f->name, family_prefix))
			continue;
		for (unsigned k = 0; k < f->n_revs; k++)
			active |= f->revs[k] && f->revs[k]->status == TASKDEF_STATUS_ACTIVE;
		if (filter != TASKDEF_FILTER_ALL && active != (filter == TASKDEF_FILTER_ACTIVE))
			continue;
		r = fn(f->name, userdata);
		if (r)
			return r;
	}
	return 0;
}
