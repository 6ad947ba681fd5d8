/*
 * store_memory.c — the embedded state store (store.h): dedup claims and
 * token buckets in this process's memory.
 *
 * Entries live in a string map (common/strmap.h) by key and in a binary
 * min-heap by expiry, so each call first drops what has expired (the heap's
 * top, in O(log n) each) and the cap counts only live entries. A claim
 * expires at the end of its window; a bucket when it would be full again
 * (burst - tokens refilled at the rate), because a full bucket is the same
 * as none. Past max_entries a new entry is refused with -ENOSPC and counted
 * (tripline_store_refused_total{op}); an existing one is always served.
 * Callbacks run from inside the call.
 */
#include "store.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "strmap.h"

struct entry {
	struct strmap_node node;
	uint64_t expires_ms;
	size_t heap_i;
	bool bucket;
	double tokens;               /* buckets: tokens at last_ms */
	uint64_t last_ms;
	char key[];
};

struct store_memory {
	struct store base;
	uv_loop_t *loop;
	uint32_t max_entries;
	uint64_t (*now_ms)(void *arg);
	void *now_arg;
	struct strmap map;
	struct entry **heap;
	size_t n, cap;
	struct metric *m_entries, *m_refused;
};

static struct store_memory *sm_of(struct store *s)
{
	return (struct store_memory *)(void *)s;
}

static uint64_t now_of(struct store_memory *m)
{
	return m->now_ms ? m->now_ms(m->now_arg) : uv_now(m->loop);
}

/* ------------------------------------------------------------ the expiry heap */

static void heap_set(struct store_memory *m, size_t i, struct entry *e)
{
	m->heap[i] = e;
	e->heap_i = i;
}

static void sift_up(struct store_memory *m, size_t i)
{
	struct entry *e = m->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (m->heap[p]->expires_ms <= e->expires_ms)
			break;
		heap_set(m, i, m->heap[p]);
		i = p;
	}
	heap_set(m, i, e);
}

static void sift_down(struct store_memory *m, size_t i)
{
	struct entry *e = m->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= m->n)
			break;
		if (c + 1 < m->n && m->heap[c + 1]->expires_ms < m->heap[c]->expires_ms)
			c++;
		if (m->heap[c]->expires_ms >= e->expires_ms)
			break;
		heap_set(m, i, m->heap[c]);
		i = c;
	}
	heap_set(m, i, e);
}

static void entry_drop(struct store_memory *m, struct entry *e)
{
	size_t i = e->heap_i;
	strmap_remove(&m->map, &e->node);
	m->n--;
	metric_set(m->m_entries, NULL, (double)m->n);
	if (i != m->n) {
		heap_set(m, i, m->heap[m->n]);
		sift_down(m, i);
		sift_up(m, m->heap[i]->heap_i);
	}
	free(e);
}

static void expire(struct store_memory *m, uint64_t now)
{
	while (m->n && m->heap[0]->expires_ms <= now)
		entry_drop(m, m->heap[0]);
}

static void entry_moved(struct store_memory *m, struct entry *e)
{
	sift_down(m, e->heap_i);
	sift_up(m, e->heap_i);
}

/* A new entry for key, or NULL: -ENOSPC (full, counted under op) or -ENOMEM in *err. */
static struct entry *entry_new(struct store_memory *m, const char *key, const char *op, int *err)
{
	size_t klen = strlen(key);
	struct entry *e;

	if (m->n >= m->max_entries) {
		const char *lv[] = {op};
		metric_add(m->m_refused, lv, 1);
		*err = -ENOSPC;
		return NULL;
	}
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 64;
		struct entry **h = realloc(m->heap, nc * sizeof(*h));
		if (!h) {
			*err = -ENOMEM;
			return NULL;
		}
		m->heap = h;
		m->cap = nc;
	}
	if (!(e = calloc(1, sizeof(*e) + klen + 1))) {
		*err = -ENOMEM;
		return NULL;
	}
	memcpy(e->key, key, klen + 1);
	if (strmap_insert(&m->map, &e->node, e->key) < 0) {
		free(e);
		*err = -ENOMEM;
		return NULL;
	}
	heap_set(m, m->n++, e);
	metric_set(m->m_entries, NULL, (double)m->n);
	return e;
}

/* ------------------------------------------------------------ the ops */

static void mem_claim(struct store *s, const char *key, uint32_t window_s, store_claim_fn done, void *arg)
{
	struct store_memory *m = sm_of(s);
	uint64_t now = now_of(m);
	struct strmap_node *n;
	struct entry *e;
	int err = 0;

	expire(m, now);
	if ((n = strmap_find(&m->map, key))) {
		done(arg, 0);
		return;
	}
	if (!(e = entry_new(m, key, "claim", &err))) {
		done(arg, err);
		return;
	}
	e->expires_ms = now + (uint64_t)window_s * 1000u;
	entry_moved(m, e);
	done(arg, 1);
}

static void mem_release(struct store *s, const char *key)
{
	struct store_memory *m = sm_of(s);
	struct strmap_node *n = strmap_find(&m->map, key);

	if (n)
		entry_drop(m, strmap_entry(n, struct entry, node));
}

static void mem_take(struct store *s, const char *key, double per_second, uint32_t burst, store_take_fn done,
		     void *arg)
{
	struct store_memory *m = sm_of(s);
	uint64_t now = now_of(m), wait = 0;
	struct strmap_node *n;
	struct entry *e;
	int err = 0;

	if (!(per_second > 0.0) || burst == 0) {
		done(arg, -EINVAL, 0);
		return;
	}
	expire(m, now);
	if ((n = strmap_find(&m->map, key))) {
		e = strmap_entry(n, struct entry, node);
		e->tokens += (double)(now - e->last_ms) * per_second / 1000.0;
		if (e->tokens > (double)burst)
			e->tokens = (double)burst;
	} else {
		if (!(e = entry_new(m, key, "take", &err))) {
			done(arg, err, 0);
			return;
		}
		e->bucket = true;
		e->tokens = (double)burst;
	}
	e->last_ms = now;
	if (e->tokens >= 1.0)
		e->tokens -= 1.0;
	else
		wait = (uint64_t)ceil((1.0 - e->tokens) * 1000.0 / per_second);
	/* full again after (burst - tokens) / rate seconds: then it is as if absent */
	e->expires_ms = now + (uint64_t)ceil(((double)burst - e->tokens) * 1000.0 / per_second);
	if (e->expires_ms <= now)
		e->expires_ms = now + 1;
	entry_moved(m, e);
	done(arg, 0, wait);
}

static void mem_free(struct store *s)
{
	struct store_memory *m = sm_of(s);

	for (size_t i = 0; i < m->n; i++)
		free(m->heap[i]);
	free(m->heap);
	strmap_clear(&m->map);
	free(m);
}

static const struct store_ops store_memory_ops = {
	.name = "memory",
	.claim = mem_claim,
	.release = mem_release,
	.take = mem_take,
	.free = mem_free,
};

int store_memory_new(uv_loop_t *loop, const struct store_memory_config *cfg, struct store **ret)
{
	struct store_memory *m = calloc(1, sizeof(*m));

	*ret = NULL;
	if (!m)
		return -ENOMEM;
	m->base.ops = &store_memory_ops;
	m->loop = loop;
	m->max_entries = cfg && cfg->max_entries ? cfg->max_entries : STORE_MEMORY_DEFAULT_MAX_ENTRIES;
	m->now_ms = cfg ? cfg->now_ms : NULL;
	m->now_arg = cfg ? cfg->now_arg : NULL;
	if (cfg && cfg->metrics) {
		m->m_entries = metrics_gauge(cfg->metrics, "tripline_store_entries",
					     "Live dedup claims and rate-limit buckets in the in-memory store.", NULL);
		m->m_refused = metrics_counter(cfg->metrics, "tripline_store_refused_total",
					       "New store entries refused because the store was full.", "op");
	}
	*ret = &m->base;
	return 0;
}

size_t store_memory_entries(const struct store *s)
{
	return ((const struct store_memory *)(const void *)s)->n;
}
