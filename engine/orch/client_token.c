/*
 * client_token.c — RunTask's clientToken memory: the tasks a token started
 * and a digest of the request's parameters, for ORCH_CLIENT_TOKEN_TTL_S, so
 * that a retried RunTask with the same token and parameters returns the
 * same tasks and launches nothing, and the same token with other parameters
 * is refused (ECS's ConflictException).
 *
 * A hash table of tokens (FNV-1a, chained, doubled when it holds more
 * entries than buckets) and a doubly linked queue in insertion order. Every
 * entry lives for the same time, so the oldest is always at the head of the
 * queue and expiry pops from there: O(expired) per tick. At most
 * ORCH_MAX_CLIENT_TOKENS entries are kept.
 *
 * Persistence: each token is a file data_dir/tokens/<token in hex>.json
 * ({"token", "at" (wall-clock ms), "params" (hex digest), "tasks"}), written
 * (temp + rename, like task state) before RunTask answers and removed when
 * it expires. While the daemon runs, the hour follows the monotonic clock;
 * across a restart it can only follow the wall clock: a loaded token's
 * monotonic time comes from the age of its wall-clock time, and one older
 * than the hour by the wall clock is dropped.
 */
#include "orch_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "logger.h"
#include "orch_state.h"
#include "statefile.h"

#define TTL_MS ((uint64_t)ORCH_CLIENT_TOKEN_TTL_S * 1000u)

struct token_entry {
	struct token_entry *hnext;     /* hash chain */
	struct token_entry *qprev, *qnext;   /* queue, oldest first */
	uint64_t at_mono_ms;
	char params[CLIENT_TOKEN_PARAMS_LEN + 1];
	size_t n;
	char ids[ORCH_MAX_RUN_COUNT][33];
	char token[];
};

struct client_tokens {
	char *dir;                     /* the token files; NULL: memory only */
	struct token_entry **buckets;
	size_t nbuckets;               /* a power of two */
	size_t n;
	struct token_entry *head, *tail;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 14695981039346656037u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

struct client_tokens *client_tokens_new(const char *dir)
{
	struct client_tokens *ct = calloc(1, sizeof(*ct));
	if (!ct)
		return NULL;
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
	json_t *j = tasks ? json_pack("{s:s,s:I,s:s,s:o}", "token", e->token, "at", (json_int_t)at_wall_ms,
				      "params", e->params, "tasks", tasks)
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
	for (struct token_entry *e = ct->head, *next; e; e = next) {
		next = e->qnext;
		free(e);
	}
	free(ct->buckets);
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
	if (e->qprev)
		e->qprev->qnext = e->qnext;
	else
		ct->head = e->qnext;
	if (e->qnext)
		e->qnext->qprev = e->qprev;
	else
		ct->tail = e->qprev;
	ct->n--;
	free(e);
}

void client_tokens_expire(struct client_tokens *ct, uint64_t now_mono_ms)
{
	while (ct->head && now_mono_ms - ct->head->at_mono_ms > TTL_MS) {
		remove_file(ct, ct->head->token);
		drop(ct, ct->head);
	}
}

size_t client_tokens_get(struct client_tokens *ct, const char *token, const char *params, uint64_t now_mono_ms,
			 char ids[][33], size_t max, bool *ret_mismatch)
{
	const struct token_entry *e = *chain_slot(ct, token);
	*ret_mismatch = false;
	if (!e || now_mono_ms - e->at_mono_ms > TTL_MS)
		return 0;
	*ret_mismatch = strcmp(e->params, params) != 0;
	size_t n = e->n < max ? e->n : max;
	memcpy(ids, e->ids, n * sizeof(e->ids[0]));
	return n;
}

static void grow(struct client_tokens *ct)
{
	size_t nb = ct->nbuckets * 2;
	struct token_entry **b = calloc(nb, sizeof(*b));
	if (!b)
		return;   /* longer chains, still correct */
	for (struct token_entry *e = ct->head; e; e = e->qnext) {
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
	       const char (*ids)[33], size_t n, struct token_entry **ret)
{
	struct token_entry *old = *chain_slot(ct, token);
	if (old)
		drop(ct, old);   /* expired, not yet forgotten: the new call replaces it */
	if (ct->n >= ORCH_MAX_CLIENT_TOKENS)
		return -ENOSPC;
	size_t len = strlen(token);
	struct token_entry *e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->token, token, len + 1);
	snprintf(e->params, sizeof(e->params), "%s", params);
	e->at_mono_ms = at_mono_ms;
	e->n = n < ORCH_MAX_RUN_COUNT ? n : ORCH_MAX_RUN_COUNT;
	memcpy(e->ids, ids, e->n * sizeof(e->ids[0]));
	if (ct->n >= ct->nbuckets)
		grow(ct);
	struct token_entry **slot = &ct->buckets[hash(token) & (ct->nbuckets - 1)];
	e->hnext = *slot;
	*slot = e;
	e->qprev = ct->tail;
	if (ct->tail)
		ct->tail->qnext = e;
	else
		ct->head = e;
	ct->tail = e;
	ct->n++;
	*ret = e;
	return 0;
}

int client_tokens_put(struct client_tokens *ct, const char *token, const char *params, uint64_t now_mono_ms,
		      uint64_t now_wall_ms, const char (*ids)[33], size_t n)
{
	struct token_entry *e;
	int r = add(ct, token, params, now_mono_ms, ids, n, &e);
	if (r < 0 || !ct->dir)
		return r;
	if ((r = write_file(ct, e, now_wall_ms)) < 0)
		log_error("orch", "client token: cannot write its file in %s: %s", ct->dir, strerror(-r));
	return r;
}

/*
 * One token file: loaded when valid and younger than the hour; an expired
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
	if (!token || !params || strlen(params) != CLIENT_TOKEN_PARAMS_LEN || !n ||
	    strlen(token) > ORCH_MAX_CLIENT_TOKEN || !at_wall)
		orch_state_set_aside(o, path, why);
	else if (age > TTL_MS)
		unlink(path);
	else if (add(ct, token, params, now_mono_ms > age ? now_mono_ms - age : 0, (const char(*)[33])ids, n,
		     &e) < 0)
		err = -ENOMEM;
	json_decref(j);
	return err;
}

static int older_first(const void *a, const void *b)
{
	const struct token_entry *x = *(struct token_entry *const *)a, *y = *(struct token_entry *const *)b;
	return x->at_mono_ms < y->at_mono_ms ? -1 : x->at_mono_ms > y->at_mono_ms;
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
	if (r < 0)
		return r;
	/* files are read in directory order: the queue must be oldest first */
	struct token_entry **v = ct->n ? malloc(ct->n * sizeof(*v)) : NULL;
	size_t k = 0;
	if (ct->n && !v)
		return -ENOMEM;
	for (struct token_entry *e = ct->head; e; e = e->qnext)
		v[k++] = e;
	if (k)
		qsort(v, k, sizeof(*v), older_first);
	ct->head = k ? v[0] : NULL;
	ct->tail = k ? v[k - 1] : NULL;
	for (size_t i = 0; i < k; i++) {
		v[i]->qprev = i ? v[i - 1] : NULL;
		v[i]->qnext = i + 1 < k ? v[i + 1] : NULL;
	}
	free(v);
	return 0;
}
