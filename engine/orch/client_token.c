/*
 * client_token.c — RunTask's clientToken memory: the tasks a token started,
 * for ORCH_CLIENT_TOKEN_TTL_S, so that a retried RunTask with the same token
 * returns the same tasks and launches nothing.
 *
 * A hash table of tokens (FNV-1a, chained, doubled when it holds more
 * entries than buckets) and a doubly linked queue in insertion order. Every
 * entry lives for the same time, so the oldest is always at the head of the
 * queue and expiry pops from there: O(expired) per tick. At most
 * ORCH_MAX_CLIENT_TOKENS entries are kept. Times are monotonic.
 */
#include "orch_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TTL_MS ((uint64_t)ORCH_CLIENT_TOKEN_TTL_S * 1000u)

struct token_entry {
	struct token_entry *hnext;     /* hash chain */
	struct token_entry *qprev, *qnext;   /* queue, oldest first */
	uint64_t at_mono_ms;
	size_t n;
	char ids[ORCH_MAX_RUN_COUNT][33];
	char token[];
};

struct client_tokens {
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

struct client_tokens *client_tokens_new(void)
{
	struct client_tokens *ct = calloc(1, sizeof(*ct));
	if (!ct)
		return NULL;
	ct->nbuckets = 64;
	ct->buckets = calloc(ct->nbuckets, sizeof(*ct->buckets));
	if (!ct->buckets) {
		free(ct);
		return NULL;
	}
	return ct;
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
	while (ct->head && now_mono_ms - ct->head->at_mono_ms > TTL_MS)
		drop(ct, ct->head);
}

size_t client_tokens_get(struct client_tokens *ct, const char *token, uint64_t now_mono_ms, char ids[][33],
			 size_t max)
{
	const struct token_entry *e = *chain_slot(ct, token);
	if (!e || now_mono_ms - e->at_mono_ms > TTL_MS)
		return 0;
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

int client_tokens_put(struct client_tokens *ct, const char *token, uint64_t now_mono_ms, const char (*ids)[33],
		      size_t n)
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
	e->at_mono_ms = now_mono_ms;
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
	return 0;
}
