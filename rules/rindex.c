/*
 * rindex.c — the range index: every numeric range on one path of one value
 * matcher, answered with one search.
 *
 * The distinct bounds cut the number line into elementary slots (bound i is
 * slot 2i+1, the gap below it 2i, the gap above the last 2n). A value's slot
 * is found by a branch-free binary search over a small top index (one key per
 * block of 8) and a scan of one block, which also holds the slots' offsets.
 * When the ranges overlap little, each slot lists its targets directly;
 * otherwise a segment tree holds each range at O(log n) nodes and a query
 * collects the nodes on one root-to-leaf path.
 *
 * Promise: rindex_query() appends the target of every range that holds the
 * value, by exact comparison of doubles (bounds and values are exact doubles
 * here; see struct rindex).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_internal.h"

static int double_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

#define RINDEX_BLOCK 8

/*
 * The key index i and whether d equals key i, on the match path: a binary
 * search over the top index (one key per block of 8, small enough to stay
 * in cache) picks the block, and a scan of that block (two cache lines,
 * which also hold the slots' offsets) finds the lower bound, so even a large
 * set of bounds costs a miss or two, not one per step. d above every key
 * gives i = nkeys (the sentinel).
 */
/*
 * The number of key blocks whose first key is <= d: a binary search of the
 * group index (one key per 64, small enough for the first-level cache),
 * then a scan of one group of top (one line), without branches to
 * mispredict in the search.
 */
static inline size_t rindex_blocks_le(const struct rindex *t, double d)
{
	const double *b;
	size_t n;

	if (t->nsum) {
		b = t->sum;
		n = t->nsum;
		while (n > 1) {
			size_t half = n / 2;
			b = b[half] <= d ? b + half : b;
			n -= half;
		}
		size_t g = (size_t)(b - t->sum) + (*b <= d);
		if (g == 0)
			return 0;
		size_t c = (g - 1) * RINDEX_BLOCK + 1, end = c - 1 + RINDEX_BLOCK;
		if (end > t->ntop)
			end = t->ntop;
		while (c < end && t->top[c] <= d)
			c++;
		return c;
	}
	if (!t->ntop)
		return 0;
	b = t->top;
	n = t->ntop;
	while (n > 1) {
		size_t half = n / 2;
		b = b[half] <= d ? b + half : b;
		n -= half;
	}
	return (size_t)(b - t->top) + (*b <= d);
}

/*
 * The key index i and whether d equals key i: blocks as above, then a scan
 * of one block (two lines, which also hold the slots' offsets). d above
 * every key gives i = nkeys (the sentinel).
 */
static inline size_t rindex_lookup(const struct rindex *t, double d, size_t blocks, bool *ret_eq)
{
	size_t i = blocks ? (blocks - 1) * RINDEX_BLOCK : 0;
	size_t end = i + RINDEX_BLOCK < t->nkeys ? i + RINDEX_BLOCK : t->nkeys;
	while (i < end && t->keys[i].key < d)
		i++;
	*ret_eq = i < t->nkeys && t->keys[i].key == d;
	return i;
}

void rindex_prefetch(const struct rindex *t, double d, struct rindex_pos *pos)
{
	pos->known = 0;
	if (!t->nkeys)
		return;
	pos->blocks = rindex_blocks_le(t, d);
	pos->known = RPOS_BLOCKS;
	const struct rentry *e = &t->keys[pos->blocks ? (pos->blocks - 1) * RINDEX_BLOCK : 0];
	__builtin_prefetch(e);
	__builtin_prefetch(e + RINDEX_BLOCK);   /* the block's end and the entry after it */
}

void rindex_prefetch_targets(const struct rindex *t, double d, struct rindex_pos *pos)
{
	if (!(pos->known & RPOS_BLOCKS))
		return;
	pos->key = rindex_lookup(t, d, pos->blocks, &pos->eq);
	pos->known |= RPOS_KEY;
	if (t->flat)
		__builtin_prefetch(&t->targets[pos->eq ? t->keys[pos->key].eq : t->keys[pos->key].gap]);
}

/* The slot of value d (see struct rindex): 2i + (d == key i). */
static inline size_t rindex_slot(const struct rindex *t, double d)
{
	bool eq;
	size_t i = rindex_lookup(t, d, rindex_blocks_le(t, d), &eq);
	return 2 * i + eq;
}

static void range_slots(const struct rindex *t, const struct vrange *r, size_t *ret_a, size_t *ret_b)
{
	size_t a = 0, b = t->nslots - 1;
	if (r->has_lo)
		a = rindex_slot(t, r->lo) + (r->lo_open ? 1 : 0);   /* an exact key slot */
	if (r->has_hi)
		b = rindex_slot(t, r->hi) - (r->hi_open ? 1 : 0);
	*ret_a = a;
	*ret_b = b;
}

/* Calls fn for each canonical node covering [a, b] of the tree. */
static void tree_cover(size_t node, size_t nl, size_t nr, size_t a, size_t b,
		       void (*fn)(void *, size_t), void *arg)
{
	if (b < nl || nr < a)
		return;
	if (a <= nl && nr <= b) {
		fn(arg, node);
		return;
	}
	size_t mid = (nl + nr) / 2;
	tree_cover(2 * node, nl, mid, a, b, fn, arg);
	tree_cover(2 * node + 1, mid + 1, nr, a, b, fn, arg);
}

struct tree_fill {
	struct rindex *t;
	uint32_t *fill;       /* next free position per node, or NULL while counting */
	uint32_t target;
};

static void tree_visit(void *arg, size_t node)
{
	struct tree_fill *f = arg;
	if (!f->fill)
		f->t->off[node + 1]++;
	else
		f->t->targets[f->fill[node]++] = f->target;
}

int rindex_build(struct rindex *t, const struct vrange *rs, size_t n)
{
	uint32_t *fill = NULL;
	size_t total = 0;

	memset(t, 0, sizeof(*t));
	if (!n)
		return 0;
	double *sorted = malloc(2 * n * sizeof(*sorted));
	size_t w = 0;
	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (rs[i].has_lo)
			sorted[w++] = rs[i].lo;
		if (rs[i].has_hi)
			sorted[w++] = rs[i].hi;
	}
	qsort(sorted, w, sizeof(*sorted), double_cmp);
	t->keys = calloc(w + 1, sizeof(*t->keys));
	if (!t->keys) {
		free(sorted);
		return -ENOMEM;
	}
	for (size_t i = 0; i < w; i++)
		if (t->nkeys == 0 || t->keys[t->nkeys - 1].key != sorted[i])
			t->keys[t->nkeys++].key = sorted[i];
	free(sorted);
	w = t->nkeys;
	t->keys[w].key = HUGE_VAL;
	t->nslots = 2 * w + 1;
	t->ntop = (w + RINDEX_BLOCK - 1) / RINDEX_BLOCK;
	t->top = malloc((t->ntop ? t->ntop : 1) * sizeof(*t->top));
	if (!t->top)
		return -ENOMEM;
	for (size_t b = 0; b < t->ntop; b++)
		t->top[b] = t->keys[b * RINDEX_BLOCK].key;
	if (t->ntop > RINDEX_BLOCK) {
		t->nsum = (t->ntop + RINDEX_BLOCK - 1) / RINDEX_BLOCK;
		t->sum = malloc(t->nsum * sizeof(*t->sum));
		if (!t->sum)
			return -ENOMEM;
		for (size_t g = 0; g < t->nsum; g++)
			t->sum[g] = t->top[g * RINDEX_BLOCK];
	}

	for (size_t i = 0; i < n; i++) {
		size_t a, b;
		range_slots(t, &rs[i], &a, &b);
		total += b - a + 1;
	}
	t->flat = total <= 32 * n + 4096;
	if (t->flat) {
		/* per slot: counts through a difference array, then prefix offsets */
		t->off = calloc(t->nslots + 2, sizeof(*t->off));
		t->targets = malloc(total * sizeof(*t->targets));
		if (!t->off || !t->targets)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			size_t a, b;
			range_slots(t, &rs[i], &a, &b);
			t->off[a + 1]++;
			t->off[b + 2]--;
		}
		uint32_t run = 0;
		for (size_t i = 1; i <= t->nslots; i++) {
			run += t->off[i];
			t->off[i] = run;   /* now the count of slot i - 1 */
		}
		for (size_t i = 1; i <= t->nslots; i++)
			t->off[i] += t->off[i - 1];
		fill = malloc(t->nslots * sizeof(*fill));
		if (!fill)
			return -ENOMEM;
		memcpy(fill, t->off, t->nslots * sizeof(*fill));
		for (size_t i = 0; i < n; i++) {
			size_t a, b;
			range_slots(t, &rs[i], &a, &b);
			for (size_t k = a; k <= b; k++)
				t->targets[fill[k]++] = rs[i].target;
		}
		free(fill);
		/* the offsets next to the keys, where the search ends anyway */
		for (size_t i = 0; i <= w; i++) {
			t->keys[i].gap = t->off[2 * i];
			t->keys[i].eq = t->off[2 * i + 1];
		}
		free(t->off);
		t->off = NULL;
		return 0;
	}

	t->size = 1;
	while (t->size < t->nslots)
		t->size *= 2;
	t->off = calloc(2 * t->size + 1, sizeof(*t->off));
	if (!t->off)
		return -ENOMEM;
	struct tree_fill f = {t, NULL, 0};
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			size_t a, b;
			range_slots(t, &rs[i], &a, &b);
			f.target = rs[i].target;
			tree_cover(1, 0, t->size - 1, a, b, tree_visit, &f);
		}
		if (pass == 0) {
			for (size_t i = 1; i <= 2 * t->size; i++)
				t->off[i] += t->off[i - 1];
			t->targets = malloc((t->off[2 * t->size] ? t->off[2 * t->size] : 1) * sizeof(*t->targets));
			fill = malloc(2 * t->size * sizeof(*fill));
			if (!t->targets || !fill) {
				free(fill);
				return -ENOMEM;
			}
			memcpy(fill, t->off, 2 * t->size * sizeof(*fill));
			f.fill = fill;
		}
	}
	free(fill);
	return 0;
}

size_t rindex_bytes(const struct rindex *t)
{
	size_t nt = 0;

	if (t->nkeys)
		nt = t->flat ? t->keys[t->nkeys].eq : t->off[2 * t->size];
	return (t->nkeys ? t->nkeys + 1 : 0) * sizeof(*t->keys) + (t->ntop + t->nsum) * sizeof(*t->top) +
	       (t->flat ? 0 : 2 * t->size + 1) * sizeof(*t->off) + nt * sizeof(*t->targets);
}

void rindex_free(struct rindex *t)
{
	free(t->keys);
	free(t->top);
	free(t->sum);
	free(t->off);
	free(t->targets);
}

int rindex_query(const struct rindex *t, double d, const struct rindex_pos *pos, struct u32vec *out)
{
	bool eq;
	size_t i;

	if (pos && (pos->known & RPOS_KEY)) {
		i = pos->key;
		eq = pos->eq;
	} else {
		i = rindex_lookup(t, d, pos && (pos->known & RPOS_BLOCKS) ? pos->blocks : rindex_blocks_le(t, d),
				  &eq);
	}
	size_t slot = 2 * i + eq;

	if (t->flat) {
		const struct rentry *e = &t->keys[i];
		uint32_t a = eq ? e->eq : e->gap;
		uint32_t n = (eq ? e[1].gap : e->eq) - a;
		if (!n)
			return 0;
		if (vec_reserve_((void **)&out->v, &out->cap, out->n + n, sizeof(uint32_t)) < 0)
			return -ENOMEM;
		for (uint32_t k = 0; k < n; k++)
			out->v[out->n + k] = t->targets[a + k];
		out->n += n;
		return 0;
	}
	size_t node = 1, nl = 0, nr = t->size - 1;
	for (;;) {
		uint32_t a = t->off[node], n = t->off[node + 1] - a;
		if (n) {
			if (vec_reserve_((void **)&out->v, &out->cap, out->n + n,
					 sizeof(uint32_t)) < 0)
				return -ENOMEM;
			memcpy(out->v + out->n, t->targets + a, n * sizeof(uint32_t));
			out->n += n;
		}
		if (nl == nr)
			return 0;
		size_t mid = (nl + nr) / 2;
		if (slot <= mid) {
			node = 2 * node;
			nr = mid;
		} else {
			node = 2 * node + 1;
			nl = mid + 1;
		}
	}
}
