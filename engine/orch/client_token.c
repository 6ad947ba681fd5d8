/*
 * client_token.c — the core's idempotency tokens: RunTask's clientToken
 * (the tasks a token started and a digest of the request's parameters), so
 * that a retried RunTask with the same token and parameters returns the
 * same tasks and launches nothing, and the same token with other parameters
 * is refused (ECS's ConflictException); and UpdateService's (a tripline
 * extension, used by rules for relative changes): a known token applies
 * nothing again.
 *
 * Each token lives for its own time: ORCH_CLIENT_TOKEN_TTL_S, or longer
 * when the caller asks (a rule keeps its tokens as long as it may redeliver
 * an event: its MaximumEventAgeInSeconds). A hash table of tokens (FNV-1a,
 * chained, doubled when it holds more entries than buckets) and a binary
 * min-heap by expiry time: expiry pops from the heap, O(log n) each. The
 * store is bounded (orch_config.max_client_tokens): when it is full a new
 * token is refused by the caller (client_tokens_full()), never a remembered
 * one forgotten early.
 *
 * Persistence: each token is a file data_dir/tokens/<token in hex>.json
 * ({"token", "at" (wall-clock ms), "ttl" (ms), "params" (hex digest),
 * "tasks"}), written (temp + rename, like task state) before the operation
 * answers and removed when it expires. While the daemon runs, the lifetime
 * follows the monotonic clock; across a restart it can only follow the wall
 * clock: a loaded token's monotonic time comes from the age of its
 * wall-clock time, and one older than its lifetime by the wall clock is
 * dropped. A file without "ttl" lives ORCH_CLIENT_TOKEN_TTL_S.
 */
#include "orch_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "digest.h"
#include "logger.h"
#include "service_internal.h"
#include "orch_state.h"
#include "statefile.h"

#define TTL_MS ((uint64_t)ORCH_CLIENT_TOKEN_TTL_S * 1000u)

struct token_entry {
	struct token_entry *hnext;     /* hash chain */
	size_t heap_index;             /* where it is in the heap */
	uint64_t at_mono_ms;
	uint64_t ttl_ms;
	char params[CLIENT_TOKEN_PARAMS_LEN + 1];
	size_t n;
	char ids[ORCH_MAX_RUN_COUNT][33];
	char token[];
};

struct client_tokens {
	char *dir;                     /* the token files; NULL: memory only */
	struct token_entry **buckets;
	size_t nbuckets;               /* a power of two */
	size_t n, max;
	struct token_entry **heap;     /* by at_mono_ms + ttl_ms, soonest first */
	size_t heap_cap;
	char **expired;                /* tokens whose files said expired at load: not */
	size_t n_expired;              /* taken again from their tasks */
};

static uint64_t hash(const char *s)
{
	uint64_t h = 14695981039346656037u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

static uint64_t expiry(const struct token_entry *e)
{
	return e->at_mono_ms + e->ttl_ms;
}

static void heap_set(struct client_tokens *ct, size_t i, struct token_entry *e)
{
	ct->heap[i] = e;
	e->heap_index = i;
}

static void heap_up(struct client_tokens *ct, size_t i)
{
	struct token_entry *e = ct->heap[i];
	while (i > 0 && expiry(ct->heap[(i - 1) / 2]) > expiry(e)) {
		heap_set(ct, i, ct->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(ct, i, e);
}

static void heap_down(struct client_tokens *ct, size_t i)
{
	struct token_entry *e = ct->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= ct->n)
			break;
		if (c + 1 < ct->n && expiry(ct->heap[c + 1]) < expiry(ct->heap[c]))
			c++;
		if (expiry(ct->heap[c]) >= expiry(e))
			break;
		heap_set(ct, i, ct->heap[c]);
		i = c;
	}
	heap_set(ct, i, e);
}

struct client_tokens *client_tokens_new(const char *dir, size_t max)
{
	struct client_tokens *ct = calloc(1, sizeof(*ct));
	if (!ct)
		return NULL;
	ct->max = max ? max : ORCH_MAX_CLIENT_TOKENS;
	ct->nbuckets = 64;
	ct->buckets = calloc(ct->nbuckets, sizeof(*ct->buckets));
	ct->dir = dir ? strdup(dir) : NULL;
	if (!ct->buckets || (dir && !ct->dir)) {
		client_tokens_free(ct);
		return NULL;
	}
	return ct;
}

/* "<token in hex>.json": tokens are ASCII 33–126 of at most
 * ORCH_MAX_CLIENT_TOKEN bytes, any of which may not belong in a file name. */
static void file_name(const char *token, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;
	for (const unsigned char *p = (const unsigned char *)token; *p && k + 8 < size; p++) {
		buf[k++] = hex[*p >> 4];
		buf[k++] = hex[*p & 15];
	}
	snprintf(buf + k, size - k, ".json");
}

static void remove_file(const struct client_tokens *ct, const char *token)
{
	char name[2 * ORCH_MAX_CLIENT_TOKEN + 8], path[4400];
	if (!ct->dir)
		return;
	file_name(token, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", ct->dir, name);
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("orch", "%s: %s", path, strerror(errno));
}

static int write_file(const struct client_tokens *ct, const struct token_entry *e, uint64_t at_wall_ms)
{
	char name[2 * ORCH_MAX_CLIENT_TOKEN + 8];
	json_t *tasks = json_array();
	for (size_t i = 0; tasks && i < e->n; i++)
		json_array_append_new(tasks, json_string(e->ids[i]));
	json_t *j = tasks ? json_pack("{s:s,s:I,s:I,s:s,s:o}", "token", e->token, "at", (json_int_t)at_wall_ms,
				      "ttl", (json_int_t)e->ttl_ms, "params", e->params, "tasks", tasks)
			  : NULL;
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return -ENOMEM;
	file_name(e->token, name, sizeof(name));
	int r = statefile_write(ct->dir, name, text, strlen(text), false);
	free(text);
	return r;
}

void client_tokens_free(struct client_tokens *ct)
{
	if (!ct)
		return;
	for (size_t i = 0; i < ct->n; i++)
		free(ct->heap[i]);
	free(ct->heap);
	free(ct->buckets);
	for (size_t i = 0; i < ct->n_expired; i++)
		free(ct->expired[i]);
	free(ct->expired);
	free(ct->dir);
	free(ct);
}

static struct token_entry **chain_slot(struct client_tokens *ct, const char *token)
{
	struct token_entry **pp = &ct->buckets[hash(token) & (ct->nbuckets - 1)];
	while (*pp && strcmp((*pp)->token, token) != 0)
		pp = &(*pp)->hnext;
	return pp;
}

/* Drops e from both structures. */
static void drop(struct client_tokens *ct, struct token_entry *e)
{
	struct token_entry **pp = chain_slot(ct, e->token);
	*pp = e->hnext;
	size_t i = e->heap_index;
	ct->n--;
	if (i < ct->n) {
		struct token_entry *last = ct->heap[ct->n];
		heap_set(ct, i, last);
		heap_up(ct, i);
		heap_down(ct, last->heap_index);
	}
	free(e);
}

static bool expired(const struct token_entry *e, uint64_t now_mono_ms)
{
	return now_mono_ms > e->at_mono_ms && now_mono_ms - e->at_mono_ms > e->ttl_ms;
}

void client_tokens_expire(struct client_tokens *ct, uint64_t now_mono_ms)
{
	while (ct->n && expired(ct->heap[0], now_mono_ms)) {
		remove_file(ct, ct->heap[0]->token);
		drop(ct, ct->heap[0]);
	}
}

bool client_tokens_full(struct client_tokens *ct, uint64_t now_mono_ms)
{
	client_tokens_expire(ct, now_mono_ms);
	return ct->n >= ct->max;
}

size_t client_tokens_count(const struct client_tokens *ct)
{
	return ct->n;
}

bool client_tokens_get(struct client_tokens *ct, const char *token, const char *params, uint64_t now_mono_ms,
		       char ids[][33], size_t max, size_t *ret_n, bool *ret_mismatch)
{
	const struct token_entry *e = *chain_slot(ct, token);
	*ret_mismatch = false;
	*ret_n = 0;
	if (!e || expired(e, now_mono_ms))
		return false;
	*ret_mismatch = strcmp(e->params, params) != 0;
	size_t n = e->n < max ? e->n : max;
	memcpy(ids, e->ids, n * sizeof(e->ids[0]));
	*ret_n = n;
	return true;
}

static void grow(struct client_tokens *ct)
{
	size_t nb = ct->nbuckets * 2;
	struct token_entry **b = calloc(nb, sizeof(*b));
	if (!b)
		return;   /* longer chains, still correct */
	for (size_t i = 0; i < ct->n; i++) {
		struct token_entry *e = ct->heap[i];
		struct token_entry **slot = &b[hash(e->token) & (nb - 1)];
		e->hnext = *slot;
		*slot = e;
	}
	free(ct->buckets);
	ct->buckets = b;
	ct->nbuckets = nb;
}

/* Adds an entry (replacing an expired one of the same token). */
static int add(struct client_tokens *ct, const char *token, const char *params, uint64_t at_mono_ms,
	       uint64_t ttl_ms, const char (*ids)[33], size_t n, bool over_max, struct token_entry **ret)
{
	struct token_entry *old = *chain_slot(ct, token);
	if (old)
		drop(ct, old);   /* expired, not yet forgotten: the new call replaces it */
	if (ct->n >= ct->max && !over_max)
		return -ENOSPC;
	if (ct->n == ct->heap_cap) {
		size_t cap = ct->heap_cap ? 2 * ct->heap_cap : 64;
		struct token_entry **h = realloc(ct->heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		ct->heap = h;
		ct->heap_cap = cap;
	}
	size_t len = strlen(token);
	struct token_entry *e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->token, token, len + 1);
	snprintf(e->params, sizeof(e->params), "%s", params);
	e->at_mono_ms = at_mono_ms;
	e->ttl_ms = ttl_ms;
	e->n = n < ORCH_MAX_RUN_COUNT ? n : ORCH_MAX_RUN_COUNT;
	if (e->n)
		memcpy(e->ids, ids, e->n * sizeof(e->ids[0]));
	if (ct->n >= ct->nbuckets)
		grow(ct);
	struct token_entry **slot = &ct->buckets[hash(token) & (ct->nbuckets - 1)];
	e->hnext = *slot;
	*slot = e;
	ct->heap[ct->n] = e;
	e->heap_index = ct->n;
	ct->n++;
	heap_up(ct, e->heap_index);
	*ret = e;
	return 0;
}

int client_tokens_put(struct client_tokens *ct, const char *token, const char *params, uint64_t now_mono_ms,
		      uint64_t now_wall_ms, uint32_t ttl_s, const char (*ids)[33], size_t n)
{
	struct token_entry *e;
	uint64_t ttl_ms = ttl_s > ORCH_CLIENT_TOKEN_TTL_S ? (uint64_t)ttl_s * 1000u : TTL_MS;
	int r = add(ct, token, params, now_mono_ms, ttl_ms, ids, n, false, &e);
	if (r < 0 || !ct->dir)
		return r;
	if ((r = write_file(ct, e, now_wall_ms)) < 0)
		log_error("orch", "client token: cannot write its file in %s: %s", ct->dir, strerror(-r));
	return r;
}

/*
 * One token file: loaded when valid and younger than its lifetime; an expired
 * one is removed; one that cannot be loaded is set aside (the policy for
 * every state file, orch_state.h). A read error of the disk is returned.
 */
static int load_one(struct orch *o, struct client_tokens *ct, const char *path, uint64_t now_wall_ms,
		    uint64_t now_mono_ms)
{
	char why[300] = "not a client token (token, params, tasks, at)";
	int err;
	json_t *j = orch_state_read(path, &err, why, sizeof(why));
	const char *token = json_string_value(json_object_get(j, "token"));
	const char *params = json_string_value(json_object_get(j, "params"));
	json_t *tasks = json_object_get(j, "tasks"), *at = json_object_get(j, "at");
	json_t *ttl = json_object_get(j, "ttl");
	char ids[ORCH_MAX_RUN_COUNT][33];
	size_t n = 0;
	struct token_entry *e;

	if (err < 0)
		return err;
	for (size_t i = 0; i < json_array_size(tasks) && n < ORCH_MAX_RUN_COUNT; i++) {
		const char *id = json_string_value(json_array_get(tasks, i));
		if (id && strlen(id) == 32)
			memcpy(ids[n++], id, 33);
	}
	uint64_t at_wall = json_is_integer(at) ? (uint64_t)json_integer_value(at) : 0;
	uint64_t age = now_wall_ms > at_wall ? now_wall_ms - at_wall : 0;
	uint64_t ttl_ms = json_is_integer(ttl) && json_integer_value(ttl) > 0 ? (uint64_t)json_integer_value(ttl)
									      : TTL_MS;
	int r;
	if (!token || !params || strlen(params) != CLIENT_TOKEN_PARAMS_LEN || !json_is_array(tasks) ||
	    json_array_size(tasks) != n || strlen(token) > ORCH_MAX_CLIENT_TOKEN || !at_wall)
		orch_state_set_aside(o, path, why);
	else if (age > ttl_ms) {
		char **v = realloc(ct->expired, (ct->n_expired + 1) * sizeof(*v));
		if (v && (v[ct->n_expired] = strdup(token)))
			ct->n_expired++;
		if (v)
			ct->expired = v;
		unlink(path);
	}
	else if ((r = add(ct, token, params, now_mono_ms > age ? now_mono_ms - age : 0, ttl_ms,
			  (const char(*)[33])ids, n, true, &e)) < 0)
		err = r;   /* over a bound made smaller meanwhile they are all kept: new ones wait */
	json_decref(j);
	return err;
}

int client_tokens_load(struct orch *o, struct client_tokens *ct, uint64_t now_wall_ms, uint64_t now_mono_ms)
{
	char path[4400];
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (!ct->dir)
		return 0;
	if ((d = opendir(ct->dir)) == NULL)
		return -errno;
	while (r == 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		snprintf(path, sizeof(path), "%s/%s", ct->dir, de->d_name);
		if (de->d_name[0] == '.' && n > 2)
			unlink(path);   /* the temp file of a write the daemon was killed in */
		else if (n > 5 && !strcmp(de->d_name + n - 5, ".json"))
			r = load_one(o, ct, path, now_wall_ms, now_mono_ms);
	}
	closedir(d);
	return r;
}

/*
 * The tokens the loaded tasks carry: a token file is written after its
 * tasks' state files, so a crash between the two leaves tasks whose token
 * the store does not know. Each such token is remembered again with its
 * tasks (for what is left of its lifetime, counted from the task's
 * creation), and its file written — unless its file was there and said it
 * had expired.
 */
void client_tokens_from_tasks(struct orch *o, uint64_t now_wall_ms, uint64_t now_mono_ms)
{
	struct client_tokens *ct = o->tokens;

	for (struct task *t = o->tasks_head; t; t = t->next) {
		char ids[ORCH_MAX_RUN_COUNT][33];
		size_t n = 0;
		bool mismatch, gone = false;
		for (size_t i = 0; t->client_token && i < ct->n_expired; i++)
			gone = gone || strcmp(ct->expired[i], t->client_token) == 0;
		if (!t->client_token || gone ||
		    client_tokens_get(o->tokens, t->client_token, t->client_params, now_mono_ms, ids,
				      ORCH_MAX_RUN_COUNT, &n, &mismatch))
			continue;
		uint64_t ttl_ms = t->client_ttl_s > ORCH_CLIENT_TOKEN_TTL_S ? (uint64_t)t->client_ttl_s * 1000u
									  : TTL_MS;
		uint64_t age = now_wall_ms > t->created_wall_ms ? now_wall_ms - t->created_wall_ms : 0;
		if (age >= ttl_ms)
			continue;
		n = 0;
		for (struct task *u = t; u && n < ORCH_MAX_RUN_COUNT; u = u->next)
			if (u->client_token && strcmp(u->client_token, t->client_token) == 0 &&
			    strcmp(u->client_params, t->client_params) == 0)
				memcpy(ids[n++], u->id, 33);
		log_warn("orch", "client token of task %s was not stored (a crash at its RunTask): remembered again",
			 t->id);
		client_tokens_put(o->tokens, t->client_token, t->client_params, now_mono_ms, now_wall_ms,
				  (uint32_t)((ttl_ms - age + 999) / 1000), (const char(*)[33])ids, n);
	}
	/* and the updates' tokens each service keeps with its state */
	for (struct service *s = o->services; s; s = s->next) {
		size_t i;
		json_t *a;
		json_array_foreach(s->applied_tokens, i, a) {
			const char *tok = json_string_value(json_object_get(a, "token"));
			const char *par = json_string_value(json_object_get(a, "params"));
			uint64_t ttl_s = (uint64_t)json_integer_value(json_object_get(a, "ttl"));
			uint64_t at = (uint64_t)json_integer_value(json_object_get(a, "at"));
			char none[1][33];
			size_t n = 0;
			bool mismatch, gone = false;
			if (!tok || !par || strlen(par) != CLIENT_TOKEN_PARAMS_LEN)
				continue;
			for (size_t k = 0; k < ct->n_expired; k++)
				gone = gone || strcmp(ct->expired[k], tok) == 0;
			uint64_t ttl_ms = ttl_s > ORCH_CLIENT_TOKEN_TTL_S ? ttl_s * 1000u : TTL_MS;
			uint64_t age = now_wall_ms > at ? now_wall_ms - at : 0;
			if (gone || age >= ttl_ms ||
			    client_tokens_get(ct, tok, par, now_mono_ms, none, 0, &n, &mismatch))
				continue;
			log_warn("orch", "client token of an update of service %s was not stored (a crash at its "
				 "UpdateService): remembered again", s->name);
			client_tokens_put(ct, tok, par, now_mono_ms, now_wall_ms, (uint32_t)((ttl_ms - age + 999) / 1000),
					  NULL, 0);
		}
	}
	for (size_t i = 0; i < ct->n_expired; i++)
		free(ct->expired[i]);
	free(ct->expired);
	ct->expired = NULL;
	ct->n_expired = 0;
}

bool orch_client_token_room(struct orch *o, struct orch_error *e)
{
	if (!client_tokens_full(o->tokens, orch_mono_ms(o)))
		return true;
	o->m.client_tokens_refused++;
	log_warn("orch", "a new clientToken is refused: %zu are remembered, the most kept at once",
		 client_tokens_count(o->tokens));
	orch_set_error(e, "LimitExceededException",
		       "too many clientTokens remembered (%zu, delivery.max_client_tokens); a new one is "
		       "accepted once older ones expire", client_tokens_count(o->tokens));
	return false;
}

int client_token_digest(const char *text, size_t len, char out[CLIENT_TOKEN_PARAMS_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[DIGEST_SHA256_LEN];
	int r = digest_sha256(text, len, md);
	if (r < 0)
		return r;
	for (size_t i = 0; i < DIGEST_SHA256_LEN; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * DIGEST_SHA256_LEN] = '\0';
	return 0;
}
