/*
 * matcher_internal.h — what the files of the compiled matcher share: the
 * compiled structures, the per-event scratch, and the small helpers that sit
 * on the match path (inline here so that every file gets them inlined).
 * Private to rules/: only matcher*.c, scan.c, vm_*.c, rindex.c and bmap.c
 * include it (and tests/unit/test_matcher.c, for leaf_number_parse()).
 *
 * Compilation
 * -----------
 * Every pattern is a set of branches (pattern.h); every branch is a list of
 * fields. The fields of all branches name a set of paths; each distinct path
 * gets an id, and the paths are also stored as a trie of '.'-separated
 * segments, which is what the event scanner walks.
 *
 * The branches become one nondeterministic automaton over fields, in the
 * manner of event-ruler's "name states": a branch is the path from the start
 * state through one transition per field, its positive fields in path order
 * first and its "absent" fields (exists: false) last, ending in a state that
 * accepts the pattern's id. Branches share a prefix of transitions whenever
 * they test the same path with the same conditions from the same state, so
 * thousands of rules that all begin with {"source": ["aws.s3"]} share one
 * transition and the event's "source" is looked at once.
 *
 * All conditions on one path leaving one state are compiled together into a
 * value matcher (struct vm). Exact strings, numbers (by exact decimal
 * value), literals, IP addresses, equals-ignore-case and every prefix/suffix
 * length are keys of one hash table for the whole matcher, the value map
 * (struct vmap), keyed by (value matcher, tag, bytes); numeric ranges are
 * answered by a range index over their bounds (struct rindex); wildcards,
 * regexes, CIDR ranges and anything-but are evaluated one by one (they are
 * rare and usually few per path). A value matcher maps one event value to
 * the set of states it leads to; a state that only accepts one pattern is
 * encoded in the target itself (ACCEPT_BIT), so the common last step touches
 * no state.
 *
 * The match path is bound by memory latency once the rules are many, so the
 * structures are laid out for it and their lines are asked for early: a
 * value-map slot (32 bytes, key and target inline) is one line after its
 * control byte, and a missed lookup reads only the control byte; range
 * bounds sit in cache-sized blocks with their offsets under a two-level
 * index; the start state's lookups are prefetched while the rest of the
 * event is scanned, other states' when their thread is pushed; and what an
 * event has reached is a small set in the scratch, not an array as large as
 * the automaton.
 *
 * Matching
 * --------
 * 1. The scanner (scan.c) reads the event once. It follows the path trie:
 *    a member whose key leads nowhere is skipped (json_lex_skip(), or the
 *    string and number lexers for scalars), which validates the skipped text
 *    (so an invalid event is always an error, never a wrong answer) without
 *    storing anything. Leaf values on known paths are recorded with the
 *    array element they sit in.
 * 2. Threads (state, array context) run from the start state. A thread
 *    follows a transition for each recorded value on the transition's path
 *    that its value matcher accepts and that is consistent with the thread's
 *    array context; an absent transition is taken when no value on that path
 *    is consistent with the context. States are deduplicated per event, so the
 *    work is bounded by the states reached, not by the number of rules, and a
 *    per-event work budget turns a pathological array blow-up into an error
 *    (-E2BIG) instead of a stall.
 *
 * Array consistency: values from arrays of objects must come from the same
 * element of every array they share. Each array element that is itself an
 * object or array gets an element node (id, array, parent); a thread's
 * context is the set of deepest element nodes it has used. exists:false is
 * checked against that context, i.e. scoped to the chosen elements.
 *
 * Thread-safety: a struct matcher is read-only after matcher_build(); all
 * per-event state lives in struct match_scratch.
 *
 * Where each part lives:
 *   bmap.c           the byte-string hash map (build time, trie nodes) and growable arrays
 *   matcher_build.c  the builder, the automaton over fields, the path trie
 *   vm_build.c       freezing a value matcher into its matching form, the value map
 *   rindex.c         the range index of numeric conditions
 *   scan.c           the event scanner
 *   vm_eval.c        one event value against one value matcher
 *   matcher_match.c  the scratch, the reached set, threads, matcher_match()
 */
#ifndef TRIPLINE_RULES_MATCHER_INTERNAL_H
#define TRIPLINE_RULES_MATCHER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "matcher.h"
#include "pattern.h"
#include "value.h"

#define DEFAULT_MAX_EVENT_BYTES ((size_t)1 << 20)
#define DEFAULT_MAX_DEPTH 128u
#define DEFAULT_MAX_LEAVES 100000u
/* thread steps per event before the event is refused as too complex */
#define MAX_WORK_PER_EVENT 20000000u

#define NONE UINT32_MAX
#define FIN_NO UINT32_MAX
#define FIN_MULTI (UINT32_MAX - 1)
/*
 * A value-matcher target with this bit set is not a state but "accept id":
 * the accepting dead end of a single pattern, so that reaching it touches no
 * state at all. Ids from 2^31 up keep going through their state.
 */
#define ACCEPT_BIT 0x80000000u

/* ================================================================ hashing */

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ULL;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ULL;
	x ^= x >> 32;
	return x;
}

#ifdef __SIZEOF_INT128__
/* The two halves of a 128-bit product, folded: one multiply mixes both words. */
static inline uint64_t mum64(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}
#endif

static inline uint64_t load32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/*
 * The hash of a byte string. Up to 16 bytes (the keys and values the match
 * path hashes, mostly) take two overlapping loads and one 128-bit multiply,
 * as wyhash does; longer ones a word at a time.
 */
static inline uint64_t hash_bytes(const void *data, size_t n, uint64_t seed)
{
	const unsigned char *p = data;
#ifdef __SIZEOF_INT128__
	if (n <= 16) {
		uint64_t a, b;
		if (n >= 4) {
			size_t k = (n >> 3) << 2;
			a = (load32(p) << 32) | load32(p + k);
			b = (load32(p + n - 4) << 32) | load32(p + n - 4 - k);
		} else if (n) {
			a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
			b = 0;
		} else {
			a = b = 0;
		}
		return mum64(a ^ 0xa0761d6478bd642fULL ^ seed, b ^ 0xe7037ed1a0b428dbULL ^ (n << 56)) ^
		       mum64(seed ^ 0x8ebc6af09c88c6e3ULL, n ^ 0x589965cc75374cc3ULL);
	}
#endif
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);

	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
		p += 8;
		n -= 8;
	}
	if (n) {
		uint64_t w = 0;
		memcpy(&w, p, n);
		h = mix64(h ^ w ^ ((uint64_t)n << 56));
	}
	return mix64(h);
}

/*
 * bmap: an open-addressing map from byte strings to uint32 values. Keys are
 * copied into the map's own storage. Used at build time (dedup) and, frozen,
 * on the match path for trie nodes of many children, where most lookups
 * miss (a key no pattern names): a control byte per slot (0 empty, else 7
 * bits of the hash) lets a miss read only that small array, not the slots.
 */
struct bmap_slot {
	uint64_t hash;
	uint32_t koff;    /* offset of the key in keys */
	uint32_t klen;
	uint32_t value;
};

struct bmap {
	/* what a lookup reads first, together */
	uint8_t *ctrl;     /* per slot: 0 empty, else 0x80 | 7 bits of the hash */
	struct bmap_slot *slots;
	char *keys;
	size_t cap;        /* power of two */
	size_t n;
	size_t keys_len, keys_cap;
};

static inline uint8_t bmap_tag(uint64_t h)
{
	return (uint8_t)(0x80 | (h >> 57));
}

static inline struct bmap_slot *bmap_find(const struct bmap *m, const void *key, size_t klen, uint64_t h)
{
	if (!m->cap)
		return NULL;
	size_t j = h & (m->cap - 1);
	uint8_t tag = bmap_tag(h);
	for (;;) {
		uint8_t c = m->ctrl[j];
		if (!c)
			return NULL;
		if (c == tag) {
			struct bmap_slot *s = &m->slots[j];
			if (s->hash == h && s->klen == klen && memcmp(m->keys + s->koff, key, klen) == 0)
				return s;
		}
		j = (j + 1) & (m->cap - 1);
	}
}

void bmap_free(struct bmap *m);
/* Inserts key if missing (value = dflt); returns the slot, or NULL on ENOMEM. */
struct bmap_slot *bmap_upsert(struct bmap *m, const void *key, size_t klen, uint32_t dflt,
			      bool *ret_new);

static inline const struct bmap_slot *bmap_get(const struct bmap *m, const void *key, size_t klen)
{
	if (!m->n)
		return NULL;
	return bmap_find(m, key, klen, hash_bytes(key, klen, 0));
}

/* ================================================================ growable arrays */

#define VEC(type) struct { type *v; size_t n, cap; }

/* Grows *v to room for at least `need` elements of `elem` bytes. 0 or -ENOMEM. */
int vec_grow_(void **v, size_t *cap, size_t need, size_t elem);

/* Room for `need` elements; the check is inline, growing is not. */
static inline int vec_reserve_(void **v, size_t *cap, size_t need, size_t elem)
{
	return need <= *cap ? 0 : vec_grow_(v, cap, need, elem);
}

#define VEC_PUSH(vec, item)                                                                    \
	(vec_reserve_((void **)&(vec).v, &(vec).cap, (vec).n + 1, sizeof(*(vec).v)) < 0           \
		 ? -ENOMEM                                                                         \
		 : ((vec).v[(vec).n++] = (item), 0))

static inline int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* A growable uint32 array with a name, for the functions that take one. */
struct u32vec {
	uint32_t *v;
	size_t n, cap;
};

/* ================================================================ compiled structures */

/* A child of a segment-trie node: its key, its first and (past 8 bytes) last 8 bytes as words. */
struct pchild {
	uint64_t w0, w1;       /* key_word() of the key; key_tail() when longer than 8 bytes */
	uint32_t klen;
	uint32_t node;
	const char *key;       /* points into m->paths */
};

/* A segment-trie node over paths: what the scanner walks. */
struct pnode {
	uint32_t path;         /* path id when a field names exactly this node, else NONE */
	uint32_t nchild;
	struct pchild *child;  /* in insertion order; searched one by one in small nodes */
	struct bmap children;  /* large nodes: key -> node index */
};

#define PNODE_LINEAR_MAX 8

/* One numeric range condition inside a value matcher, bounds as doubles. */
struct vrange {
	double lo, hi;
	bool has_lo, lo_open, has_hi, hi_open;
	uint32_t target;
};

/* A per-value condition evaluated one by one. */
struct vslow {
	const struct cond *cond;
	uint32_t target;
};

/*
 * The numeric ranges on one path. Bounds are exact doubles and a value is
 * looked up only as an exact double, so comparing doubles is comparing exact
 * decimals here. The distinct bounds cut the number line into elementary
 * slots (2i+1 is bound i, 2i the gap below it, 2n the gap above the last),
 * and a value's slot is found by binary search. When the ranges overlap
 * little, every slot lists its targets directly (flat: one lookup); otherwise
 * a segment tree holds each range at O(log n) nodes and a query collects the
 * nodes on one root-to-leaf path. off[] holds prefix offsets into targets, so
 * one load gives a node's or slot's run.
 */
struct rentry {
	double key;
	uint32_t gap;         /* flat: where the run of slot 2i (the gap below key i) starts */
	uint32_t eq;          /* flat: where the run of slot 2i+1 (key i itself) starts */
};

struct rindex {
	size_t nkeys;
	struct rentry *keys;  /* sorted, plus a sentinel keys[nkeys] = +inf */
	double *top;          /* keys[8 b].key for every block b of 8: a small, hot index */
	size_t ntop;
	double *sum;          /* top[8 g] for every group g of 8 blocks: smaller and hotter still */
	size_t nsum;
	size_t nslots;
	bool flat;
	size_t size;          /* tree: leaves, a power of two >= nslots */
	uint32_t *off;        /* flat: nslots + 1 entries; tree: 2 * size + 1 */
	uint32_t *targets;
};

/*
 * A value matcher: all conditions on one path leaving one state. Its exact
 * style conditions are keys of the matcher's value map (struct vmap), each
 * a tag and bytes:
 *   's' string   'n' number key   't' number text   'T' 'F' 'N' literals
 *   'i' folded string (equals-ignore-case)
 *   'a' IP address: family byte + 16 address bytes
 *   'p' prefix  'P' folded prefix  'x' suffix  'X' folded suffix
 * What stays here says which lookups a value needs, and holds the numeric
 * ranges and the conditions evaluated one by one.
 */
struct vm {
	/* what the match path reads for every value: the first cache line */
	uint32_t path;
	bool want_numkey;     /* some number condition needs the value's key */
	bool want_double;     /* numeric ranges need the value as a double */
	bool has_strings;     /* any 's' key */
	bool has_eic;         /* any 'i' key */
	bool has_fold;        /* any 'i', 'P' or 'X' key: the value's folded form is needed */
	bool has_ip;          /* any 'a' key: IP-address literals */
	bool has_any;         /* nany > 0 */
	bool has_slow;        /* nslow > 0 */
	bool has_text;        /* any 't' key */
	bool has_lit;         /* any 'T', 'F' or 'N' key */
	uint32_t nplen, nxlen;
	uint32_t nPlen, nXlen;
	/* distinct prefix/suffix lengths present, ascending */
	uint32_t *plen, *Plen, *xlen, *Xlen;

	uint32_t nany, nslow, nrange, nrfinal;
	struct rindex ranges;
	/* when every range leads to an accepting dead end (few of them): those
	 * states, so that a value is not even converted once all are reached */
	uint32_t rfinal[4];

	uint32_t *any;        /* exists: true */
	struct vslow *slow;   /* wildcard, regex, cidr, anything-but */
};

/*
 * One key of the value map: (value matcher, tag, bytes) and what it leads
 * to. 32 bytes, so that a hit reads one slot line after its control byte:
 * keys of up to 8 bytes are held inline, and a key with one target and
 * nothing to verify holds the target itself.
 */
struct vkey {
	uint32_t hash;        /* bits 32..63 of the key's hash */
	uint32_t vm;          /* the value matcher (index into m->vms) */
	uint8_t tag;
	uint8_t verify;       /* the run's targets come with operands to confirm (ic forms) */
	uint16_t pad;
	uint32_t klen;        /* bytes of the key, the tag excluded */
	uint32_t target;      /* n == 1 && !verify: the target; else where the run starts */
	uint32_t n;           /* targets */
	union {
		char b[8];    /* klen <= 8: the bytes */
		uint32_t off; /* klen > 8: their offset in text */
	} key;
};

#define VKEY_INLINE 8

/*
 * The value map: every exact-style key of every value matcher in one
 * open-addressing table, so that a lookup costs a control byte and one slot
 * whatever the number of rules. A control byte per slot (0 empty, else
 * 0x80 | 7 bits of the hash) lets a lookup that misses — the common case:
 * a value no pattern names, a prefix length no pattern has — read only that
 * byte.
 */
struct vmap {
	uint8_t *ctrl;
	struct vkey *slots;
	size_t mask;          /* capacity - 1; capacity is a power of two */
	size_t n;
	char *text;           /* bytes of keys longer than VKEY_INLINE */
	size_t text_len, text_cap;
	uint32_t *targets;    /* runs of several targets */
	const struct operand **verify;   /* per targets[] entry, or NULL: no check */
	size_t ntargets, targets_cap;
};

/* The hash of a key's bytes under its tag; vmap_hash() adds the value matcher. */
static inline uint64_t vkey_hash_bytes(uint8_t tag, const void *bytes, size_t n)
{
	return hash_bytes(bytes, n, tag);
}

static inline uint64_t vmap_hash(uint64_t hb, uint32_t vm)
{
#ifdef __SIZEOF_INT128__
	return mum64(hb ^ 0x8ebc6af09c88c6e3ULL, ((uint64_t)(vm + 1) << 32) ^ 0x589965cc75374cc3ULL);
#else
	return mix64(hb ^ ((uint64_t)(vm + 1) * 0x9e3779b97f4a7c15ULL));
#endif
}

/* Asks for the lines a lookup of hash h reads first: its control byte and its slot. */
static inline void vmap_prefetch(const struct vmap *map, uint64_t h)
{
	size_t j = h & map->mask;
	__builtin_prefetch(&map->ctrl[j]);
	__builtin_prefetch(&map->slots[j]);
}

static inline const char *vkey_bytes(const struct vmap *map, const struct vkey *k)
{
	return k->klen <= VKEY_INLINE ? k->key.b : map->text + k->key.off;
}

/* The key (vm, tag, bytes) whose hash is h = vmap_hash(vkey_hash_bytes(tag, bytes, n), vm), or NULL. */
static inline const struct vkey *vmap_find(const struct vmap *map, uint32_t vm, uint8_t tag,
					   const void *bytes, size_t n, uint64_t h)
{
	size_t j = h & map->mask;
	uint8_t c, want = (uint8_t)(0x80 | (h >> 57));
	uint32_t h32 = (uint32_t)(h >> 32);

	while ((c = map->ctrl[j]) != 0) {
		if (c == want) {
			const struct vkey *k = &map->slots[j];
			if (k->hash == h32 && k->vm == vm && k->tag == tag && k->klen == n &&
			    memcmp(vkey_bytes(map, k), bytes, n) == 0)
				return k;
		}
		j = (j + 1) & map->mask;
	}
	return NULL;
}

struct state {
	uint32_t ntrans;
	uint32_t trans_one;   /* the only transition, when there is one (trans points here) */
	uint32_t nabsent;
	uint32_t nmatch;
	uint32_t *trans;      /* vm indexes, sorted by path */
	uint32_t *absent_path;
	uint32_t *absent_target;
	uint32_t *match;      /* pattern ids accepted here */
	bool final_only;      /* accepts and has no way out */
};

struct matcher {
	struct matcher_limits lim;
	struct pattern **patterns;   /* owned; vm conditions point into them */
	size_t npatterns;
	size_t nbranches;

	char **paths;                /* by path id, pointing into path_text */
	char *path_text;
	size_t npaths;

	struct pnode *pnodes;        /* [0] is the root */
	size_t npnodes;

	struct vm *vms;
	size_t nvms;
	uint32_t *start_vm;          /* per path: the start state's value matcher on it, or NONE */
	struct vmap vmap;            /* the exact-style keys of all of them */

	struct state *states;        /* [0] is the start state */
	uint32_t *all_trans;         /* what the states' lists point into */
	uint32_t *all_absent;
	uint32_t *all_match;
	/*
	 * Per state, packed for the match path, where most targets are the
	 * accepting dead ends of single rules. fin: FIN_NO when the state has a
	 * way out, FIN_MULTI when it accepts several ids, else the one id it
	 * accepts. vm1: its value matcher when it has exactly one transition,
	 * else NONE, so that pushing a thread can ask for its lookup at once.
	 */
	struct sinfo {
		uint32_t fin;
		uint32_t vm1;
	} *sinfo;
	size_t nstates;

	bool any_regex;
	size_t bytes;
};

/* The first min(klen, 8) bytes of a key as a word, the rest zero: one compare for short keys. */
static inline uint64_t key_word_mask(uint64_t w, size_t klen)
{
	if (klen >= 8)
		return w;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return klen ? w & ~(~(uint64_t)0 >> (8 * klen)) : 0;
#else
	return w & (((uint64_t)1 << (8 * klen)) - 1);
#endif
}

/* The key's first bytes as a word (see key_word_mask()); limit is the end of the readable text. */
static inline uint64_t key_word(const char *key, size_t klen, const char *limit)
{
	uint64_t w = 0;
	if (klen >= 8 || limit - key >= 8)
		memcpy(&w, key, 8);
	else
		for (size_t i = 0; i < klen; i++)
			((unsigned char *)&w)[i] = (unsigned char)key[i];
	return key_word_mask(w, klen);
}

/* The last 8 bytes of a key of at least 8. */
static inline uint64_t key_tail(const char *key, size_t klen)
{
	uint64_t w;
	memcpy(&w, key + klen - 8, 8);
	return w;
}

/*
 * The child of n for the segment key (kw = its key_word()), or NONE. Keys of
 * up to 16 bytes are compared as two words (the first 8 bytes and the last
 * 8, which overlap below 16), longer ones also by their middle.
 */
static inline uint32_t pnode_child(const struct pnode *n, const char *key, size_t klen, uint64_t kw)
{
	if (n->nchild <= PNODE_LINEAR_MAX) {
		for (uint32_t i = 0; i < n->nchild; i++) {
			const struct pchild *c = &n->child[i];
			if (c->w0 == kw && c->klen == klen &&
			    (klen <= 8 || (c->w1 == key_tail(key, klen) &&
					   (klen <= 16 || memcmp(c->key + 8, key + 8, klen - 16) == 0))))
				return c->node;
		}
		return NONE;
	}
	const struct bmap_slot *s = bmap_get(&n->children, key, klen);
	return s ? s->value : NONE;
}

/* Does the key (kw = its key_word()) hold a '.'? */
static inline bool key_has_dot(const char *key, size_t klen, uint64_t kw)
{
	if (klen > 8)
		return memchr(key, '.', klen) != NULL;
	/* bytes past the key are 0 in the word: never a '.' */
	uint64_t x = kw ^ 0x2e2e2e2e2e2e2e2eULL;
	return ((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL) != 0;
}

/* Builds the index of n ranges. 0 or -ENOMEM (t is then partly built: rindex_free() it). */
int rindex_build(struct rindex *t, const struct vrange *rs, size_t n);
void rindex_free(struct rindex *t);
/* Heap held by the index, for matcher_get_stats(). */
size_t rindex_bytes(const struct rindex *t);
/* How far the search for one value has gone, so that no step is made twice. */
struct rindex_pos {
	size_t blocks;        /* RPOS_BLOCKS on: key blocks whose first key is <= d */
	size_t key;           /* RPOS_KEY on: the key index, and whether d equals that key */
	bool eq;
	uint8_t known;        /* RPOS_* bits */
};
#define RPOS_BLOCKS 1u
#define RPOS_KEY 2u

/*
 * Appends to out the targets of every range holding d. pos is what the
 * prefetches below learnt about d, or NULL. 0 or -ENOMEM.
 */
int rindex_query(const struct rindex *t, double d, const struct rindex_pos *pos, struct u32vec *out);
/* Asks for the key block rindex_query() of d will read; fills *pos. */
void rindex_prefetch(const struct rindex *t, double d, struct rindex_pos *pos);
/* Once that block has arrived: asks for the targets rindex_query() of d will copy; adds to *pos. */
void rindex_prefetch_targets(const struct rindex *t, double d, struct rindex_pos *pos);

/* Is this target an accepting dead end (encoded, or a state with no way out)? */
static inline bool target_final(const struct matcher *m, uint32_t t)
{
	return (t & ACCEPT_BIT) || m->sinfo[t].fin != FIN_NO;
}

/* One (condition, target state) pair collected for a (state, path) before freezing. */
struct ventry {
	const struct cond *cond;
	uint32_t target;
};

/* The keys of the value map while value matchers are frozen, before it is indexed. */
struct vkey_build {
	struct vkey k;
	uint64_t hash;        /* vmap_hash() of the key */
};

struct vkey_list {
	struct vkey_build *v;
	size_t n, cap;
};

/*
 * Freezes the conditions on one path leaving one state into m->vms[vi],
 * appending its keys to keys (their long bytes and runs go to m->vmap
 * already). m->sinfo[].fin must be final; sets m->any_regex and adds to m->bytes.
 * 0 or -ENOMEM (the vm is then partly built: vm_free() it).
 */
int vm_freeze(struct matcher *m, uint32_t vi, uint32_t path, const struct ventry *entries, size_t n,
	      struct vkey_list *keys);
void vm_free(struct vm *v);
/* Indexes the keys into m->vmap (after every vm_freeze()). 0 or -ENOMEM. */
int vmap_index(struct matcher *m, const struct vkey_list *keys);
void vmap_free(struct vmap *map);

/* ================================================================ per-event state */

enum leaf_type {
	LEAF_STRING,
	LEAF_NUMBER,
	LEAF_TRUE,
	LEAF_FALSE,
	LEAF_NULL,
};

/* An array element that is an object or an array. */
struct elem {
	uint32_t parent;   /* element index, or NONE at the top */
	uint32_t array;    /* id of the array this is an element of */
	uint32_t depth;    /* 1 for an element of a top-level array */
};

/*
 * A recorded leaf value. Strings without escapes point into the event text;
 * decoded strings and folded forms live in the scratch text buffer, which may
 * move while the event is scanned, so they are held as offsets.
 */
struct leaf {
	uint32_t next;       /* next leaf on the same path, or NONE */
	uint32_t elem;       /* deepest enclosing element, or NONE */
	uint8_t type;        /* enum leaf_type */
	uint8_t key_state;   /* 0 not computed, 1 valid, 2 no key */
	uint8_t exact_state; /* 0 not computed, 1 an exact double, 2 not */
	uint8_t dbl_state;   /* 0 not computed, 1 dbl (and np) valid, 2 no double */
	uint8_t in_text;     /* the value is at val_off in the text buffer */
	uint8_t folded;      /* fold_off/fold_len are valid */
	uint8_t hashed;      /* hash is valid */
	uint32_t len;
	uint32_t num;        /* number leaves: index of their struct leafnum, or NONE */
	const char *val;     /* when !in_text */
	uint32_t val_off;    /* when in_text */
	uint32_t fold_off, fold_len;
	uint64_t hash;       /* strings: vkey_hash_bytes('s', value), computed once */
};

/* What a number leaf's conditions need, computed on demand (kept apart so
 * that the many string leaves stay small). */
struct leafnum {
	double dbl;
	uint32_t rvm;        /* the value matcher rindex_prefetch() was asked for, or NONE */
	struct rindex_pos rpos;   /* and what it learnt */
	struct numparse np;
	struct numkey key;
};

struct thread {
	uint32_t state;
	uint32_t ctx_off;    /* into ctx pool */
	uint32_t ctx_n;
};

struct match_scratch {
	/* per path: first leaf */
	uint32_t *head;
	size_t head_cap;
	VEC(uint32_t) touched;

	VEC(struct leaf) leaves;
	VEC(struct leafnum) nums;
	VEC(struct elem) elems;
	VEC(char) text;          /* unescaped strings and folded values */
	uint32_t arrays;

	/* threads */
	VEC(struct thread) work;
	VEC(uint32_t) ctx;
	/*
	 * What this event has reached (states with an empty context, accepted
	 * ids): a small open-addressing set stamped with the event's generation,
	 * so it resets by counting and stays in cache however large the matcher.
	 */
	struct rslot {
		uint32_t key, gen;
	} *reached;
	uint32_t rcap, rn;
	uint32_t gen;
	uint32_t nfinal;         /* accepting dead ends reached so far */
	struct bmap seen_ctx;    /* (state, ctx) for non-empty contexts */

	VEC(uint32_t) out;
	struct u32vec targets;   /* scratch for one value evaluation */

	struct regex_scratch *rx;
	uint64_t work_done;

	char error[160];
};

/* ---------------------------------------------------------------- reached set */

static inline uint32_t reached_hash(uint32_t key, uint32_t cap)
{
	return (key * 0x9E3779B1u) & (cap - 1);
}

static inline bool reached_has(const struct match_scratch *s, uint32_t key)
{
	for (uint32_t j = reached_hash(key, s->rcap); s->reached[j].gen == s->gen; j = (j + 1) & (s->rcap - 1))
		if (s->reached[j].key == key)
			return true;
	return false;
}

/* Rebuilds the reached set with room for cap (a power of two) keys, keeping this event's. */
int reached_resize(struct match_scratch *s, uint32_t cap);

/* Adds key to the reached set; 1 when it was new, 0 when already there, -ENOMEM. */
static inline int reached_add(struct match_scratch *s, uint32_t key)
{
	if (2 * (s->rn + 1) > s->rcap && reached_resize(s, 2 * s->rcap) < 0)
		return -ENOMEM;
	uint32_t j = reached_hash(key, s->rcap);
	for (; s->reached[j].gen == s->gen; j = (j + 1) & (s->rcap - 1))
		if (s->reached[j].key == key)
			return 0;
	s->reached[j].key = key;
	s->reached[j].gen = s->gen;
	s->rn++;
	return 1;
}

/* Room for n more bytes of text (and always a buffer, even for n == 0). */
static inline int text_reserve(struct match_scratch *s, size_t n)
{
	return vec_reserve_((void **)&s->text.v, &s->text.cap, s->text.n + n + 1, 1);
}

/*
 * Scans the event [json, json + len) into s: every leaf value on a path some
 * pattern names, with its array element. 0, or -EINVAL / -E2BIG with the
 * reason in s->error, or -ENOMEM.
 */
int scan_event(const struct matcher *m, struct match_scratch *s, const char *json, size_t len);

/*
 * number_parse() (value.h) for the text of a number the scanner has checked
 * against the JSON grammar, in one pass: the same answer for every such
 * text, at a fraction of the cost.
 */
int leaf_number_parse(const char *s, size_t n, struct numparse *ret);

/*
 * Asks for the lines vm_eval() of the leaf will read first (value-map slots,
 * range-index blocks), so that the misses of several lookups overlap. For a
 * number leaf this computes its double (kept for vm_eval()).
 */
void vm_prefetch(const struct matcher *m, struct match_scratch *s, uint32_t vi, struct leaf *lf);

/*
 * For a number leaf whose range block vm_prefetch() asked for: once it has
 * arrived, asks for the targets the range query will read.
 */
void vm_prefetch_targets(const struct matcher *m, struct match_scratch *s, uint32_t vi,
			 const struct leaf *lf);

/* Appends to s->targets every state that value matcher vi leads to for the leaf. 0 or -ENOMEM. */
int vm_eval(const struct matcher *m, struct match_scratch *s, uint32_t vi, struct leaf *lf);

#endif
