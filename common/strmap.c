/*
 * strmap.c — the intrusive string hash map of strmap.h: chains in a
 * power-of-two bucket array that doubles past a load of 1, so lookups stay
 * O(1) on average; nodes carry their hash, so growing rehashes nothing.
 */
#include "strmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

struct strmap_node *strmap_find(const struct strmap *m, const char *key)
{
	if (!m->nbuckets)
		return NULL;
	uint64_t h = hash_str(key);
	for (struct strmap_node *n = m->buckets[h & (m->nbuckets - 1)]; n; n = n->next)
		if (n->hash == h && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

static int grow(struct strmap *m)
{
	size_t nb = m->nbuckets ? m->nbuckets * 2 : 16;
	struct strmap_node **b = calloc(nb, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct strmap_node *n = m->buckets[i], *next;
		for (; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = nb;
	return 0;
}

int strmap_insert(struct strmap *m, struct strmap_node *node, const char *key)
{
	if (m->n >= m->nbuckets && grow(m) < 0 && !m->nbuckets)
		return -ENOMEM;   /* a failed growth past the first is only slower chains */
	node->key = key;
	node->hash = hash_str(key);
	struct strmap_node **b = &m->buckets[node->hash & (m->nbuckets - 1)];
	node->next = *b;
	*b = node;
	m->n++;
	return 0;
}

void strmap_remove(struct strmap *m, struct strmap_node *node)
{
	struct strmap_node **p = &m->buckets[node->hash & (m->nbuckets - 1)];
	while (*p && *p != node)
		p = &(*p)->next;
	if (*p) {
		*p = node->next;
		m->n--;
	}
}

void strmap_clear(struct strmap *m)
{
	free(m->buckets);
	m->buckets = NULL;
	m->nbuckets = 0;
	m->n = 0;
}
