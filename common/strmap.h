/*
 * strmap.h — an intrusive hash map from NUL-terminated strings to the
 * structs that embed a struct strmap_node (chained, power-of-two buckets,
 * grown as it fills; FNV-1a).
 *
 * The map owns nothing but its bucket array: a node's key is the embedding
 * struct's (it must stay unchanged while the node is in the map), and the
 * struct is the caller's to free after strmap_remove(). Not thread-safe.
 */
#ifndef TRIPLINE_COMMON_STRMAP_H
#define TRIPLINE_COMMON_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_node {
	struct strmap_node *next;
	const char *key;
	uint64_t hash;
};

struct strmap {
	struct strmap_node **buckets;
	size_t nbuckets;             /* 0 or a power of two */
	size_t n;
};

#define STRMAP_INIT {NULL, 0, 0}

/* The struct of type `type` whose member `member` is node. */
#define strmap_entry(node, type, member) ((type *)(void *)((char *)(node) - offsetof(type, member)))

/* The node with this key, or NULL. */
struct strmap_node *strmap_find(const struct strmap *m, const char *key);
/* Adds node under key (not already in the map). 0 or -ENOMEM (not added). */
int strmap_insert(struct strmap *m, struct strmap_node *node, const char *key);
/* Takes node (which is in the map) out. */
void strmap_remove(struct strmap *m, struct strmap_node *node);
/* Frees the buckets; the nodes are the caller's. */
void strmap_clear(struct strmap *m);

#endif
