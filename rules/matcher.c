/*
 * matcher.c — every pattern compiled into one automaton, and the matching
 * of events against it.
 *
 * Compilation
 * -----------
 * Every pattern is a set of branches (pattern.h); every branch is a list of
 * fields. The fields of all branches name a set of paths; each distinct path
 * gets an id in bytewise order of the path text, and the paths are also
 * stored as a trie of '.'-separated segments, which is what the event
 * scanner walks.
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
 * value matcher (struct vm): one hash table answers exact strings, numbers
 * (by exact decimal value), literals, IP addresses, equals-ignore-case and
 * every prefix/suffix length at once; numeric ranges are answered by a range
 * index over their bounds (struct rindex); wildcards, regexes, CIDR ranges
 * and anything-but are evaluated one by one (they are rare and usually few
 * per path). A value matcher maps one event value to the set of states it
 * leads to; a state that only accepts one pattern is encoded in the target
 * itself (ACCEPT_BIT), so the common last step touches no state.
 *
 * The match path is bound by memory latency once the rules are many, so the
 * structures are laid out for it: control bytes let a missed lookup read one
 * small array, range bounds sit in cache-sized blocks with their offsets, hot
 * fields share a cache line, and what an event has reached is a small set in
 * the scratch, not an array as large as the automaton.
 *
 * Matching
 * --------
 * 1. The scanner (scan_*) reads the event once. It follows the path trie:
 *    a member whose key leads nowhere is skipped with json_lex_skip(), which
 *    validates the skipped text (so an invalid event is always an error, never
 *    a wrong answer) without storing anything. Leaf values on known paths are
 *    recorded with the array element they sit in.
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
 */
#include "matcher.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_lex.h"

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

static uint64_t hash_bytes(const void *data, size_t n, uint64_t seed)
{
	const unsigned char *p = data;
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
 * on the match path (trie children, value lookups), where most lookups miss
 * (a prefix length no pattern has, a value no pattern names): a control byte
 * per slot (0 empty, else 7 bits of the hash) lets a miss read only that
 * small array, not the slots.
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

static void bmap_free(struct bmap *m)
{
	free(m->ctrl);
	free(m->slots);
	free(m->keys);
	memset(m, 0, sizeof(*m));
}

static int bmap_grow(struct bmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 8;
	struct bmap_slot *s = malloc(cap * sizeof(*s));
	uint8_t *c = calloc(cap, 1);
	if (!s || !c) {
		free(s);
		free(c);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->ctrl[i])
			continue;
		size_t j = m->slots[i].hash & (cap - 1);
		while (c[j])
			j = (j + 1) & (cap - 1);
		s[j] = m->slots[i];
		c[j] = m->ctrl[i];
	}
	free(m->slots);
	free(m->ctrl);
	m->slots = s;
	m->ctrl = c;
	m->cap = cap;
	return 0;
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

/* Inserts key if missing (value = dflt); returns the slot, or NULL on ENOMEM. */
static struct bmap_slot *bmap_upsert(struct bmap *m, const void *key, size_t klen, uint32_t dflt,
				     bool *ret_new)
{
	uint64_t h = hash_bytes(key, klen, 0);
	struct bmap_slot *s = bmap_find(m, key, klen, h);

	if (ret_new)
		*ret_new = false;
	if (s)
		return s;
	if ((m->n + 1) * 4 > m->cap * 3 && bmap_grow(m) < 0)
		return NULL;
	if (!m->keys || m->keys_len + klen > m->keys_cap) {
		size_t cap = m->keys_cap ? m->keys_cap : 64;
		while (cap < m->keys_len + klen)
			cap *= 2;
		char *k = realloc(m->keys, cap);
		if (!k)
			return NULL;
		m->keys = k;
		m->keys_cap = cap;
	}
	size_t j = h & (m->cap - 1);
	while (m->ctrl[j])
		j = (j + 1) & (m->cap - 1);
	m->ctrl[j] = bmap_tag(h);
	s = &m->slots[j];
	s->hash = h;
	s->koff = (uint32_t)m->keys_len;
	s->klen = (uint32_t)klen;
	s->value = dflt;
	if (klen)
		memcpy(m->keys + m->keys_len, key, klen);
	m->keys_len += klen;
	m->n++;
	if (ret_new)
		*ret_new = true;
	return s;
}

static inline const struct bmap_slot *bmap_get(const struct bmap *m, const void *key, size_t klen)
{
	if (!m->n)
		return NULL;
	return bmap_find(m, key, klen, hash_bytes(key, klen, 0));
}

/* ================================================================ growable arrays */

#define VEC(type) struct { type *v; size_t n, cap; }

static int vec_grow_(void **v, size_t *cap, size_t need, size_t elem)
{
	size_t nc = *cap ? *cap : 8;
	while (nc < need)
		nc *= 2;
	void *nv = realloc(*v, nc * elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}

/* Room for `need` elements; the check is inline, growing is not. */
static inline int vec_reserve_(void **v, size_t *cap, size_t need, size_t elem)
{
	return need <= *cap ? 0 : vec_grow_(v, cap, need, elem);
}

#define VEC_PUSH(vec, item)                                                                    \
	(vec_reserve_((void **)&(vec).v, &(vec).cap, (vec).n + 1, sizeof(*(vec).v)) < 0           \
		 ? -ENOMEM                                                                         \
		 : ((vec).v[(vec).n++] = (item), 0))

/* ================================================================ compiled structures */

/* A segment-trie node over paths: what the scanner walks. */
struct pnode {
	uint32_t path;         /* path id when a field names exactly this node, else NONE */
	uint32_t nchild;
	uint32_t *child_node;  /* small nodes: parallel arrays, linear search */
	uint32_t *child_klen;
	const char **child_key;
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
	size_t nslots;
	bool flat;
	size_t size;          /* tree: leaves, a power of two >= nslots */
	uint32_t *off;        /* flat: nslots + 1 entries; tree: 2 * size + 1 */
	uint32_t *targets;
};

/*
 * A value matcher: all conditions on one path leaving one state. Keys in
 * `exact` start with a tag byte:
 *   's' string   'n' number key   't' number text   'T' 'F' 'N' literals
 *   'i' folded string (equals-ignore-case)
 *   'a' IP address: family byte + 16 address bytes
 *   'p' prefix  'P' folded prefix  'x' suffix  'X' folded suffix
 * and map to a run [off, off+cnt) in targets (value = index into runs).
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
	struct bmap exact;    /* its first fields: ctrl, slots, keys, cap */
	uint32_t nplen, nxlen;

	uint32_t nPlen, nXlen;
	uint32_t nany, nslow, nrange, nrfinal;
	/* distinct prefix/suffix lengths present, ascending */
	uint32_t *plen, *Plen, *xlen, *Xlen;

	uint32_t *run_off, *run_cnt;
	uint32_t *targets;
	const struct operand **verify;   /* per targets[] entry, or NULL: no check */

	struct rindex ranges;
	/* when every range leads to an accepting dead end (few of them): those
	 * states, so that a value is not even converted once all are reached */
	uint32_t rfinal[4];

	uint32_t *any;        /* exists: true */
	struct vslow *slow;   /* wildcard, regex, cidr, anything-but */
};

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

	char **paths;                /* by path id */
	size_t npaths;

	struct pnode *pnodes;        /* [0] is the root */
	size_t npnodes;

	struct vm *vms;
	size_t nvms;

	struct state *states;        /* [0] is the start state */
	/*
	 * Per state, packed for the match path, where most targets are the
	 * accepting dead ends of single rules: FIN_NO when the state has a way
	 * out, FIN_MULTI when it accepts several ids, else the one id it accepts.
	 */
	uint32_t *fin;
	size_t nstates;

	bool any_regex;
	size_t bytes;
};

struct matcher_builder {
	struct matcher_limits lim;
	VEC(struct pattern *) patterns;
	VEC(uint32_t) ids;
};

/* ================================================================ builder */

struct matcher_builder *matcher_builder_new(const struct matcher_limits *lim)
{
	struct matcher_builder *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	if (lim)
		b->lim = *lim;
	if (!b->lim.max_event_bytes)
		b->lim.max_event_bytes = DEFAULT_MAX_EVENT_BYTES;
	if (!b->lim.max_depth)
		b->lim.max_depth = DEFAULT_MAX_DEPTH;
	if (!b->lim.max_leaves)
		b->lim.max_leaves = DEFAULT_MAX_LEAVES;
	return b;
}

int matcher_builder_add(struct matcher_builder *b, uint32_t id, struct pattern *p)
{
	if (VEC_PUSH(b->patterns, p) < 0) {
		pattern_free(p);
		return -ENOMEM;
	}
	if (VEC_PUSH(b->ids, id) < 0) {
		b->patterns.n--;
		pattern_free(p);
		return -ENOMEM;
	}
	return 0;
}

void matcher_builder_free(struct matcher_builder *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->patterns.n; i++)
		pattern_free(b->patterns.v[i]);
	free(b->patterns.v);
	free(b->ids.v);
	free(b);
}

/* ---------------------------------------------------------------- build-time value matcher */

/* One (condition, target) pair collected for a (state, path) before freezing. */
struct ventry {
	const struct cond *cond;
	uint32_t target;
};

struct bstate {
	VEC(uint32_t) trans;          /* build vm indexes */
	VEC(uint32_t) absent_path;
	VEC(uint32_t) absent_target;
	VEC(uint32_t) match;
};

struct bvm {
	uint32_t path;
	VEC(struct ventry) entries;
};

struct build {
	struct matcher *m;
	struct bmap path_ids;         /* path text -> id */
	struct bmap edges;            /* (state, path, signature) -> target state */
	VEC(struct bstate) states;
	VEC(struct bvm) vms;
	struct bmap state_path_vm;    /* (state, path) -> bvm index */
	VEC(char) sig;
};

static int sig_put(struct build *bd, const void *p, size_t n)
{
	if (vec_reserve_((void **)&bd->sig.v, &bd->sig.cap, bd->sig.n + n, 1) < 0)
		return -ENOMEM;
	memcpy(bd->sig.v + bd->sig.n, p, n);
	bd->sig.n += n;
	return 0;
}

/* A canonical byte string for a field's conditions: equal conditions, equal bytes. */
static int field_signature(struct build *bd, uint32_t state, uint32_t path, const struct field *f)
{
	int r = 0;
	uint32_t hdr[3] = {state, path, f->absent};

	bd->sig.n = 0;
	r |= sig_put(bd, hdr, sizeof(hdr));
	for (size_t i = 0; i < f->n; i++) {
		const struct cond *c = &f->conds[i];
		uint32_t ch[3] = {c->kind, c->negated, (uint32_t)c->n};
		r |= sig_put(bd, ch, sizeof(ch));
		for (size_t j = 0; j < c->n; j++) {
			const struct operand *o = &c->operands[j];
			uint32_t lh[4] = {o->lit.type, (uint32_t)o->lit.len, (uint32_t)o->text_len,
					  o->lit.exactly};
			r |= sig_put(bd, lh, sizeof(lh));
			if (o->lit.len)
				r |= sig_put(bd, o->lit.text, o->lit.len);
			if (o->text_len)
				r |= sig_put(bd, o->text, o->text_len);
			if (o->raw) {
				uint32_t rl = (uint32_t)o->raw_len;
				r |= sig_put(bd, &rl, sizeof(rl));
				r |= sig_put(bd, o->raw, o->raw_len);
			}
			if (c->kind == COND_NUMERIC) {
				const struct numrange *nr = &o->range;
				uint8_t flags[4] = {nr->has_lo, nr->lo_open, nr->has_hi, nr->hi_open};
				r |= sig_put(bd, flags, sizeof(flags));
				r |= sig_put(bd, &nr->lo.len, 1);
				r |= sig_put(bd, nr->lo.b, nr->lo.len);
				r |= sig_put(bd, &nr->hi.len, 1);
				r |= sig_put(bd, nr->hi.b, nr->hi.len);
			}
			if (c->kind == COND_CIDR)
				r |= sig_put(bd, &o->cidr, sizeof(o->cidr));
		}
	}
	return r ? -ENOMEM : 0;
}

static int new_state(struct build *bd, uint32_t *ret)
{
	struct bstate s;
	memset(&s, 0, sizeof(s));
	if (VEC_PUSH(bd->states, s) < 0)
		return -ENOMEM;
	*ret = (uint32_t)(bd->states.n - 1);
	return 0;
}

/* The build vm for (state, path), created on first use. */
static int state_vm(struct build *bd, uint32_t state, uint32_t path, uint32_t *ret)
{
	uint32_t key[2] = {state, path};
	bool fresh;
	struct bmap_slot *s = bmap_upsert(&bd->state_path_vm, key, sizeof(key), NONE, &fresh);

	if (!s)
		return -ENOMEM;
	if (fresh) {
		struct bvm v;
		memset(&v, 0, sizeof(v));
		v.path = path;
		if (VEC_PUSH(bd->vms, v) < 0)
			return -ENOMEM;
		s = bmap_upsert(&bd->state_path_vm, key, sizeof(key), NONE, NULL);
		s->value = (uint32_t)(bd->vms.n - 1);
		if (VEC_PUSH(bd->states.v[state].trans, s->value) < 0)
			return -ENOMEM;
	}
	*ret = s->value;
	return 0;
}

/* Follows or creates the transition for field f from state; returns the target. */
static int add_field(struct build *bd, uint32_t state, const struct field *f, uint32_t *ret)
{
	const struct bmap_slot *ps = bmap_get(&bd->path_ids, f->path, f->path_len);
	if (!ps)
		return -EINVAL;   /* cannot happen: every field's path was collected */
	uint32_t path = ps->value;
	bool fresh;
	struct bmap_slot *e;
	uint32_t target;

	if (field_signature(bd, state, path, f) < 0)
		return -ENOMEM;
	e = bmap_upsert(&bd->edges, bd->sig.v, bd->sig.n, NONE, &fresh);
	if (!e)
		return -ENOMEM;
	if (!fresh) {
		*ret = e->value;
		return 0;
	}
	if (new_state(bd, &target) < 0)
		return -ENOMEM;
	/* new_state may have moved nothing in edges, but re-find to be safe */
	e = bmap_upsert(&bd->edges, bd->sig.v, bd->sig.n, NONE, NULL);
	e->value = target;

	if (f->absent) {
		struct bstate *st = &bd->states.v[state];
		if (VEC_PUSH(st->absent_path, path) < 0 || VEC_PUSH(st->absent_target, target) < 0)
			return -ENOMEM;
	} else {
		uint32_t vi;
		if (state_vm(bd, state, path, &vi) < 0)
			return -ENOMEM;
		for (size_t i = 0; i < f->n; i++) {
			struct ventry ve = {&f->conds[i], target};
			if (VEC_PUSH(bd->vms.v[vi].entries, ve) < 0)
				return -ENOMEM;
		}
	}
	*ret = target;
	return 0;
}

static int add_branch(struct build *bd, uint32_t id, const struct branch *b)
{
	uint32_t state = 0;

	/* positive fields first (in path order), then the absent ones */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < b->n; i++) {
			if (b->fields[i].absent != (pass == 1))
				continue;
			int r = add_field(bd, state, &b->fields[i], &state);
			if (r < 0)
				return r;
		}
	}
	struct bstate *st = &bd->states.v[state];
	for (size_t i = 0; i < st->match.n; i++)
		if (st->match.v[i] == id)
			return 0;
	return VEC_PUSH(st->match, id);
}

/* ---------------------------------------------------------------- paths and the trie */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int collect_paths(struct build *bd)
{
	struct matcher *m = bd->m;
	struct bmap seen = {0};
	VEC(char *) list = {0};
	int r = -ENOMEM;

	for (size_t i = 0; i < m->npatterns; i++) {
		const struct pattern *p = m->patterns[i];
		for (size_t j = 0; j < p->n; j++) {
			for (size_t k = 0; k < p->branches[j].n; k++) {
				const struct field *f = &p->branches[j].fields[k];
				bool fresh;
				if (!bmap_upsert(&seen, f->path, f->path_len, 0, &fresh))
					goto out;
				if (fresh && VEC_PUSH(list, f->path) < 0)
					goto out;
			}
		}
	}
	/* pattern.c rejects keys holding U+0000, so paths are C strings */
	if (list.n)
		qsort(list.v, list.n, sizeof(*list.v), cmp_str);
	m->paths = calloc(list.n ? list.n : 1, sizeof(*m->paths));
	if (!m->paths)
		goto out;
	for (size_t i = 0; i < list.n; i++) {
		m->paths[i] = strdup(list.v[i]);
		if (!m->paths[i])
			goto out;
		m->npaths = i + 1;
	}
	r = 0;
out:
	bmap_free(&seen);
	free(list.v);
	return r;
}

static int pnode_add(struct matcher *m, uint32_t *ret)
{
	struct pnode *v = realloc(m->pnodes, (m->npnodes + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->pnodes = v;
	memset(&v[m->npnodes], 0, sizeof(*v));
	v[m->npnodes].path = NONE;
	*ret = (uint32_t)m->npnodes++;
	return 0;
}

static inline uint32_t pnode_child(const struct matcher *m, const struct pnode *n, const char *key, size_t klen)
{
	if (n->nchild <= PNODE_LINEAR_MAX) {
		for (uint32_t i = 0; i < n->nchild; i++)
			if (n->child_klen[i] == klen && memcmp(n->child_key[i], key, klen) == 0)
				return n->child_node[i];
		return NONE;
	}
	(void)m;
	const struct bmap_slot *s = bmap_get(&n->children, key, klen);
	return s ? s->value : NONE;
}

static int pnode_link(struct matcher *m, uint32_t parent, const char *key, size_t klen, uint32_t *ret)
{
	uint32_t c = pnode_child(m, &m->pnodes[parent], key, klen);
	if (c != NONE) {
		*ret = c;
		return 0;
	}
	if (pnode_add(m, &c) < 0)
		return -ENOMEM;
	struct pnode *n = &m->pnodes[parent];
	uint32_t i = n->nchild;
	uint32_t *cn = realloc(n->child_node, (i + 1) * sizeof(*cn));
	if (!cn)
		return -ENOMEM;
	n->child_node = cn;
	uint32_t *ck = realloc(n->child_klen, (i + 1) * sizeof(*ck));
	if (!ck)
		return -ENOMEM;
	n->child_klen = ck;
	const char **cs = realloc(n->child_key, (i + 1) * sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	n->child_key = cs;
	cn[i] = c;
	ck[i] = (uint32_t)klen;
	cs[i] = key;   /* points into m->paths, which outlive the trie */
	n->nchild = i + 1;
	if (n->nchild > PNODE_LINEAR_MAX) {
		if (n->nchild == PNODE_LINEAR_MAX + 1) {
			for (uint32_t j = 0; j < i; j++) {
				struct bmap_slot *s = bmap_upsert(&n->children, cs[j], ck[j], cn[j], NULL);
				if (!s)
					return -ENOMEM;
			}
		}
		if (!bmap_upsert(&n->children, key, klen, c, NULL))
			return -ENOMEM;
	}
	*ret = c;
	return 0;
}

static int build_trie(struct build *bd)
{
	struct matcher *m = bd->m;
	uint32_t root;

	if (pnode_add(m, &root) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < m->npaths; i++) {
		const char *p = m->paths[i];
		size_t len = strlen(p);
		uint32_t node = root;
		const char *seg = p;
		for (;;) {
			const char *dot = memchr(seg, '.', (size_t)(p + len - seg));
			size_t slen = dot ? (size_t)(dot - seg) : (size_t)(p + len - seg);
			if (pnode_link(m, node, seg, slen, &node) < 0)
				return -ENOMEM;
			if (!dot)
				break;
			seg = dot + 1;
		}
		m->pnodes[node].path = (uint32_t)i;
		if (!bmap_upsert(&bd->path_ids, p, len, (uint32_t)i, NULL))
			return -ENOMEM;
	}
	return 0;
}

/* ---------------------------------------------------------------- freezing value matchers */

struct kv {
	char *key;
	size_t klen;
	uint32_t target;
	const struct operand *verify;   /* equals-ignore-case forms: decided by ic_match() */
};

struct kv_vec {
	struct kv *v;
	size_t n, cap;
};

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int d = n ? memcmp(x->key, y->key, n) : 0;
	if (d)
		return d;
	if (x->klen != y->klen)
		return x->klen < y->klen ? -1 : 1;
	if (x->target != y->target)
		return x->target < y->target ? -1 : 1;
	return (x->verify > y->verify) - (x->verify < y->verify);
}

static int kv_add(struct kv_vec *kvs, char tag, const void *bytes, size_t n, uint32_t target)
{
	struct kv e = {0};
	e.key = malloc(n + 1);
	if (!e.key)
		return -ENOMEM;
	e.key[0] = tag;
	if (n)
		memcpy(e.key + 1, bytes, n);
	e.klen = n + 1;
	e.target = target;
	if (vec_reserve_((void **)&kvs->v, &kvs->cap, kvs->n + 1, sizeof(struct kv)) < 0) {
		free(e.key);
		return -ENOMEM;
	}
	kvs->v[kvs->n++] = e;
	return 0;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Sorted distinct lengths of the keys with this tag. */
static int collect_lens(const struct kv_vec *kvs, char tag, uint32_t **ret, uint32_t *ret_n)
{
	uint32_t *v = NULL;
	uint32_t n = 0;

	for (size_t i = 0; i < kvs->n; i++) {
		if (kvs->v[i].key[0] != tag)
			continue;
		uint32_t len = (uint32_t)(kvs->v[i].klen - 1);
		bool dup = false;
		for (uint32_t j = 0; j < n; j++)
			dup |= v[j] == len;
		if (dup)
			continue;
		uint32_t *nv = realloc(v, (n + 1) * sizeof(*nv));
		if (!nv) {
			free(v);
			return -ENOMEM;
		}
		v = nv;
		v[n++] = len;
	}
	if (n)
		qsort(v, n, sizeof(*v), u32_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
}

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
static inline size_t rindex_lookup(const struct rindex *t, double d, bool *ret_eq)
{
	size_t lo = 0, n = t->ntop;

	/* the number of blocks whose first key is <= d, without branches to mispredict */
	if (n) {
		const double *b = t->top;
		while (n > 1) {
			size_t half = n / 2;
			b = b[half] <= d ? b + half : b;
			n -= half;
		}
		lo = (size_t)(b - t->top) + (*b <= d);
	}
	size_t i = lo ? (lo - 1) * RINDEX_BLOCK : 0;
	size_t end = i + RINDEX_BLOCK < t->nkeys ? i + RINDEX_BLOCK : t->nkeys;
	while (i < end && t->keys[i].key < d)
		i++;
	*ret_eq = i < t->nkeys && t->keys[i].key == d;
	return i;
}

/* The slot of value d (see struct rindex): 2i + (d == key i). */
static inline size_t rindex_slot(const struct rindex *t, double d)
{
	bool eq;
	size_t i = rindex_lookup(t, d, &eq);
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

static int rindex_build(struct rindex *t, const struct vrange *rs, size_t n)
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

static void rindex_free(struct rindex *t)
{
	free(t->keys);
	free(t->top);
	free(t->off);
	free(t->targets);
}

/* A state as a value-matcher target: "accept id" when it is the dead end of one pattern. */
static uint32_t encode_target(const struct matcher *m, uint32_t state)
{
	uint32_t fin = m->fin[state];
	return fin != FIN_NO && fin != FIN_MULTI && fin < ACCEPT_BIT ? ACCEPT_BIT | fin : state;
}

/* Is this target an accepting dead end (encoded, or a state with no way out)? */
static inline bool target_final(const struct matcher *m, uint32_t t)
{
	return (t & ACCEPT_BIT) || m->fin[t] != FIN_NO;
}

/* Freezes one build vm into its matching form. */
static int vm_freeze(struct build *bd, const struct bvm *b, struct vm *v)
{
	struct kv_vec kvs = {0};
	VEC(struct vrange) ranges = {0};
	VEC(uint32_t) any = {0};
	VEC(struct vslow) slow = {0};
	int r = -ENOMEM;

	memset(v, 0, sizeof(*v));
	v->path = b->path;
	for (size_t i = 0; i < b->entries.n; i++) {
		const struct cond *c = b->entries.v[i].cond;
		uint32_t t = encode_target(bd->m, b->entries.v[i].target);
		const struct operand *o = &c->operands[0];

		bool ic = c->kind == COND_EQUALS_IC || c->kind == COND_PREFIX_IC ||
			  c->kind == COND_SUFFIX_IC;
		if (c->negated || c->kind == COND_WILDCARD || c->kind == COND_REGEX ||
		    c->kind == COND_CIDR || (ic && !o->foldable)) {
			struct vslow s = {c, t};
			if (VEC_PUSH(slow, s) < 0)
				goto out;
			if (c->kind == COND_EXACT)
				v->want_numkey = true;
			if (c->kind == COND_REGEX)
				bd->m->any_regex = true;
			continue;
		}
		switch (c->kind) {
		case COND_EXACT:
			switch (o->lit.type) {
			case LIT_STRING: {
				uint8_t ip[17];
				r = kv_add(&kvs, 's', o->lit.text, o->lit.len, t);
				v->has_strings = true;
				/* an IP address also matches the same address in another notation */
				if (r == 0 && !o->lit.exactly &&
				    (ip[0] = (uint8_t)ip_parse(o->lit.text, o->lit.len, ip + 1)) != 0) {
					r = kv_add(&kvs, 'a', ip, sizeof(ip), t);
					v->has_ip = true;
				}
				break;
			}
			case LIT_NUMBER:
				if (o->lit.has_key) {
					r = kv_add(&kvs, 'n', o->lit.key.b, o->lit.key.len, t);
					v->want_numkey = true;
				} else {
					r = kv_add(&kvs, 't', o->lit.text, o->lit.len, t);
				}
				break;
			case LIT_TRUE:
				r = kv_add(&kvs, 'T', NULL, 0, t);
				break;
			case LIT_FALSE:
				r = kv_add(&kvs, 'F', NULL, 0, t);
				break;
			case LIT_NULL:
				r = kv_add(&kvs, 'N', NULL, 0, t);
				break;
			}
			break;
		case COND_EQUALS_IC:
			r = kv_add(&kvs, 'i', o->text, o->text_len, t);
			v->has_eic = true;
			break;
		case COND_PREFIX:
			r = kv_add(&kvs, 'p', o->text, o->text_len, t);
			break;
		case COND_PREFIX_IC:
			r = kv_add(&kvs, 'P', o->text, o->text_len, t);
			break;
		case COND_SUFFIX:
			r = kv_add(&kvs, 'x', o->text, o->text_len, t);
			break;
		case COND_SUFFIX_IC:
			r = kv_add(&kvs, 'X', o->text, o->text_len, t);
			break;
		case COND_NUMERIC: {
			struct vrange vr = {o->range.lo_d, o->range.hi_d, o->range.has_lo, o->range.lo_open,
					    o->range.has_hi, o->range.hi_open, t};
			r = VEC_PUSH(ranges, vr);
			v->want_double = true;
			break;
		}
		case COND_EXISTS:
			r = VEC_PUSH(any, t);
			break;
		case COND_WILDCARD:
		case COND_REGEX:
		case COND_CIDR:
			r = 0;
			break;
		}
		if (r < 0)
			goto out;
		if (ic)
			kvs.v[kvs.n - 1].verify = o;
	}

	/* exact-style keys: group equal keys into runs of distinct targets */
	if (kvs.n)
		qsort(kvs.v, kvs.n, sizeof(*kvs.v), kv_cmp);
	v->targets = malloc((kvs.n ? kvs.n : 1) * sizeof(*v->targets));
	v->run_off = malloc((kvs.n ? kvs.n : 1) * sizeof(*v->run_off));
	v->run_cnt = malloc((kvs.n ? kvs.n : 1) * sizeof(*v->run_cnt));
	v->verify = calloc(kvs.n ? kvs.n : 1, sizeof(*v->verify));
	if (!v->targets || !v->run_off || !v->run_cnt || !v->verify)
		goto out;
	uint32_t nt = 0, nruns = 0;
	for (size_t i = 0; i < kvs.n;) {
		size_t j = i;
		v->run_off[nruns] = nt;
		while (j < kvs.n && kvs.v[j].klen == kvs.v[i].klen &&
		       memcmp(kvs.v[j].key, kvs.v[i].key, kvs.v[i].klen) == 0) {
			if (j == i || kvs.v[j].target != kvs.v[j - 1].target ||
			    kvs.v[j].verify != kvs.v[j - 1].verify) {
				v->verify[nt] = kvs.v[j].verify;
				v->targets[nt++] = kvs.v[j].target;
			}
			j++;
		}
		v->run_cnt[nruns] = nt - v->run_off[nruns];
		if (!bmap_upsert(&v->exact, kvs.v[i].key, kvs.v[i].klen, nruns, NULL))
			goto out;
		nruns++;
		i = j;
	}
	if (collect_lens(&kvs, 'p', &v->plen, &v->nplen) < 0 ||
	    collect_lens(&kvs, 'P', &v->Plen, &v->nPlen) < 0 ||
	    collect_lens(&kvs, 'x', &v->xlen, &v->nxlen) < 0 ||
	    collect_lens(&kvs, 'X', &v->Xlen, &v->nXlen) < 0)
		goto out;
	v->has_fold = v->has_eic || v->nPlen || v->nXlen;
	if (rindex_build(&v->ranges, ranges.v, ranges.n) < 0)
		goto out;
	for (size_t i = 0; i < ranges.n; i++) {
		uint32_t t = ranges.v[i].target;
		bool dup = false;
		for (uint32_t k = 0; k < v->nrfinal; k++)
			dup |= v->rfinal[k] == t;
		if (dup)
			continue;
		if (v->nrfinal == 4 || !target_final(bd->m, t)) {
			v->nrfinal = 0;   /* not worth it, or not possible */
			break;
		}
		v->rfinal[v->nrfinal++] = t;
	}
	v->nrange = (uint32_t)ranges.n;
	v->any = any.v;
	v->nany = (uint32_t)any.n;
	v->has_any = any.n > 0;
	any.v = NULL;
	v->slow = slow.v;
	v->nslow = (uint32_t)slow.n;
	v->has_slow = slow.n > 0;
	slow.v = NULL;
	bd->m->bytes += v->exact.cap * (sizeof(struct bmap_slot) + 1) + v->exact.keys_cap +
			kvs.n * 3 * sizeof(uint32_t) +
			(v->ranges.flat ? v->ranges.nslots : 2 * v->ranges.size) * sizeof(uint32_t) +
			v->ranges.nkeys * sizeof(double) + v->nslow * sizeof(struct vslow);
	r = 0;
out:
	for (size_t i = 0; i < kvs.n; i++)
		free(kvs.v[i].key);
	free(kvs.v);
	free(ranges.v);
	free(any.v);
	free(slow.v);
	return r;
}

static void vm_free(struct vm *v)
{
	bmap_free(&v->exact);
	free(v->run_off);
	free(v->run_cnt);
	free(v->targets);
	free(v->verify);
	free(v->plen);
	free(v->Plen);
	free(v->xlen);
	free(v->Xlen);
	rindex_free(&v->ranges);
	free(v->any);
	free(v->slow);
}

/* Orders a state's transitions by path (few per state: insertion sort). */
static void sort_trans(const struct vm *vms, uint32_t *t, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		uint32_t x = t[i], j = i;
		while (j > 0 && vms[t[j - 1]].path > vms[x].path) {
			t[j] = t[j - 1];
			j--;
		}
		t[j] = x;
	}
}

static void build_free(struct build *bd)
{
	bmap_free(&bd->path_ids);
	bmap_free(&bd->edges);
	bmap_free(&bd->state_path_vm);
	for (size_t i = 0; i < bd->states.n; i++) {
		struct bstate *s = &bd->states.v[i];
		free(s->trans.v);
		free(s->absent_path.v);
		free(s->absent_target.v);
		free(s->match.v);
	}
	free(bd->states.v);
	for (size_t i = 0; i < bd->vms.n; i++)
		free(bd->vms.v[i].entries.v);
	free(bd->vms.v);
	free(bd->sig.v);
}

int matcher_build(struct matcher_builder *b, struct matcher **ret)
{
	struct build bd;
	struct matcher *m = calloc(1, sizeof(*m));
	uint32_t start;
	int r = -ENOMEM;

	*ret = NULL;
	memset(&bd, 0, sizeof(bd));
	if (!m) {
		matcher_builder_free(b);
		return -ENOMEM;
	}
	m->lim = b->lim;
	m->patterns = b->patterns.v;
	m->npatterns = b->patterns.n;
	b->patterns.v = NULL;
	b->patterns.n = 0;
	bd.m = m;

	if (collect_paths(&bd) < 0 || build_trie(&bd) < 0 || new_state(&bd, &start) < 0)
		goto out;
	for (size_t i = 0; i < m->npatterns; i++) {
		const struct pattern *p = m->patterns[i];
		for (size_t j = 0; j < p->n; j++) {
			if (add_branch(&bd, b->ids.v[i], &p->branches[j]) < 0)
				goto out;
			m->nbranches++;
		}
	}

	/* freeze */
	m->nvms = bd.vms.n;
	m->vms = calloc(m->nvms ? m->nvms : 1, sizeof(*m->vms));
	m->nstates = bd.states.n;
	m->states = calloc(m->nstates, sizeof(*m->states));
	m->fin = malloc(m->nstates * sizeof(*m->fin));
	if (!m->vms || !m->states || !m->fin)
		goto out;
	for (size_t i = 0; i < bd.states.n; i++) {
		const struct bstate *bs = &bd.states.v[i];
		if (!bs->match.n || bs->trans.n || bs->absent_path.n)
			m->fin[i] = FIN_NO;
		else if (bs->match.n == 1 && bs->match.v[0] < FIN_MULTI)
			m->fin[i] = bs->match.v[0];
		else
			m->fin[i] = FIN_MULTI;
	}
	for (size_t i = 0; i < bd.vms.n; i++)
		if (vm_freeze(&bd, &bd.vms.v[i], &m->vms[i]) < 0)
			goto out;
	for (size_t i = 0; i < bd.states.n; i++) {
		struct bstate *bs = &bd.states.v[i];
		struct state *s = &m->states[i];
		s->ntrans = (uint32_t)bs->trans.n;
		if (s->ntrans == 1) {
			/* most states test one more field: keep it beside the state */
			s->trans_one = bs->trans.v[0];
			s->trans = &s->trans_one;
		} else {
			s->trans = bs->trans.v;
			bs->trans.v = NULL;
			sort_trans(m->vms, s->trans, s->ntrans);
		}
		s->nabsent = (uint32_t)bs->absent_path.n;
		s->absent_path = bs->absent_path.v;
		s->absent_target = bs->absent_target.v;
		bs->absent_path.v = bs->absent_target.v = NULL;
		s->nmatch = (uint32_t)bs->match.n;
		s->match = bs->match.v;
		bs->match.v = NULL;
		s->final_only = m->fin[i] != FIN_NO;
		m->bytes += sizeof(*s) + (s->ntrans + 2 * s->nabsent + s->nmatch) * sizeof(uint32_t);
	}
	m->bytes += m->nvms * sizeof(struct vm) + m->npnodes * sizeof(struct pnode) +
		    bd.edges.cap * sizeof(struct bmap_slot);
	for (size_t i = 0; i < m->npaths; i++)
		m->bytes += strlen(m->paths[i]) + 1;
	r = 0;
out:
	build_free(&bd);
	matcher_builder_free(b);
	if (r < 0) {
		matcher_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void matcher_free(struct matcher *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->npatterns; i++)
		pattern_free(m->patterns[i]);
	free(m->patterns);
	for (size_t i = 0; i < m->npaths; i++)
		free(m->paths[i]);
	free(m->paths);
	for (size_t i = 0; i < m->npnodes; i++) {
		free(m->pnodes[i].child_node);
		free(m->pnodes[i].child_klen);
		free(m->pnodes[i].child_key);
		bmap_free(&m->pnodes[i].children);
	}
	free(m->pnodes);
	if (m->vms)
		for (size_t i = 0; i < m->nvms; i++)
			vm_free(&m->vms[i]);
	free(m->vms);
	if (m->states) {
		for (size_t i = 0; i < m->nstates; i++) {
			if (m->states[i].trans != &m->states[i].trans_one)
				free(m->states[i].trans);
			free(m->states[i].absent_path);
			free(m->states[i].absent_target);
			free(m->states[i].match);
		}
	}
	free(m->states);
	free(m->fin);
	free(m);
}

void matcher_get_stats(const struct matcher *m, struct matcher_stats *ret)
{
	ret->patterns = m->npatterns;
	ret->branches = m->nbranches;
	ret->states = m->nstates;
	ret->paths = m->npaths;
	ret->bytes = m->bytes;
}

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
	uint32_t len;
	uint32_t num;        /* number leaves: index of their struct leafnum, or NONE */
	const char *val;     /* when !in_text */
	uint32_t val_off;    /* when in_text */
	uint32_t fold_off, fold_len;
};

/* What a number leaf's conditions need, computed on demand (kept apart so
 * that the many string leaves stay small). */
struct leafnum {
	double dbl;
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
	uint32_t *rkey, *rgen;
	uint32_t rcap, rn;
	uint32_t gen;
	struct bmap seen_ctx;    /* (state, ctx) for non-empty contexts */

	VEC(uint32_t) out;
	VEC(uint32_t) targets;   /* scratch for one value evaluation */

	struct regex_scratch *rx;
	uint64_t work_done;

	char error[160];
};

struct match_scratch *match_scratch_new(void)
{
	struct match_scratch *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->rx = regex_scratch_new();
	if (!s->rx) {
		free(s);
		return NULL;
	}
	return s;
}

void match_scratch_free(struct match_scratch *s)
{
	if (!s)
		return;
	free(s->head);
	free(s->touched.v);
	free(s->leaves.v);
	free(s->nums.v);
	free(s->elems.v);
	free(s->text.v);
	free(s->work.v);
	free(s->ctx.v);
	free(s->rkey);
	free(s->rgen);
	bmap_free(&s->seen_ctx);
	free(s->out.v);
	free(s->targets.v);
	regex_scratch_free(s->rx);
	free(s);
}

const char *match_scratch_error(const struct match_scratch *s)
{
	return s->error;
}

/* ---------------------------------------------------------------- reached set */

static inline uint32_t reached_hash(uint32_t key, uint32_t cap)
{
	return (key * 0x9E3779B1u) & (cap - 1);
}

/* Rebuilds the set with room for cap (a power of two) keys, keeping this event's. */
static int reached_resize(struct match_scratch *s, uint32_t cap)
{
	uint32_t *k = malloc(cap * sizeof(*k)), *g = calloc(cap, sizeof(*g));
	if (!k || !g) {
		free(k);
		free(g);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->rcap; i++) {
		if (s->rgen[i] != s->gen)
			continue;
		uint32_t j = reached_hash(s->rkey[i], cap);
		while (g[j] == s->gen)
			j = (j + 1) & (cap - 1);
		k[j] = s->rkey[i];
		g[j] = s->gen;
	}
	free(s->rkey);
	free(s->rgen);
	s->rkey = k;
	s->rgen = g;
	s->rcap = cap;
	return 0;
}

static inline bool reached_has(const struct match_scratch *s, uint32_t key)
{
	for (uint32_t j = reached_hash(key, s->rcap); s->rgen[j] == s->gen; j = (j + 1) & (s->rcap - 1))
		if (s->rkey[j] == key)
			return true;
	return false;
}

/* Adds key; 1 when it was new, 0 when already there, -ENOMEM. */
static int reached_add(struct match_scratch *s, uint32_t key)
{
	if (2 * (s->rn + 1) > s->rcap && reached_resize(s, 2 * s->rcap) < 0)
		return -ENOMEM;
	uint32_t j = reached_hash(key, s->rcap);
	for (; s->rgen[j] == s->gen; j = (j + 1) & (s->rcap - 1))
		if (s->rkey[j] == key)
			return 0;
	s->rkey[j] = key;
	s->rgen[j] = s->gen;
	s->rn++;
	return 1;
}

/* ================================================================ scanner */

struct scan {
	const struct matcher *m;
	struct match_scratch *s;
	const char *start;
	const char *end;
	struct json_lexerr lx;
	int err;               /* -EINVAL / -E2BIG / -ENOMEM */
	const char *why;
};

static const char *scan_fail(struct scan *sc, const char *at, int err, const char *why)
{
	if (!sc->err) {
		sc->err = err;
		sc->why = why;
		sc->lx.at = at;
	}
	return NULL;
}

static const char *scan_lexfail(struct scan *sc)
{
	if (!sc->err) {
		sc->err = sc->lx.limit ? -E2BIG : -EINVAL;
		sc->why = sc->lx.msg;
	}
	return NULL;
}

/* Room for n more bytes of text (and always a buffer, even for n == 0). */
static int text_reserve(struct match_scratch *s, size_t n)
{
	return vec_reserve_((void **)&s->text.v, &s->text.cap, s->text.n + n + 1, 1);
}

/* Records a leaf on path (string values already decoded by the caller). */
static int add_leaf(struct scan *sc, uint32_t path, enum leaf_type t, const char *val, size_t len,
		    uint32_t elem)
{
	struct match_scratch *s = sc->s;
	struct leaf lf;

	if (s->leaves.n >= sc->m->lim.max_leaves) {
		scan_fail(sc, val, -E2BIG, "too many values on the patterns' paths");
		return -E2BIG;
	}
	memset(&lf, 0, sizeof(lf));
	lf.elem = elem;
	lf.type = (uint8_t)t;
	lf.val = val;
	lf.len = (uint32_t)len;
	lf.num = NONE;
	if (s->head[path] == NONE && VEC_PUSH(s->touched, path) < 0)
		return -ENOMEM;
	lf.next = s->head[path];
	if (VEC_PUSH(s->leaves, lf) < 0)
		return -ENOMEM;
	s->head[path] = (uint32_t)(s->leaves.n - 1);
	return 0;
}

static const char *scan_value(struct scan *sc, const char *p, uint32_t node, uint32_t elem, uint32_t depth);

/*
 * Resolves a member key from node: the key's '.'-separated segments are
 * followed one by one, so {"a.b": 1} and {"a": {"b": 1}} reach the same node.
 */
static uint32_t key_node(struct scan *sc, uint32_t node, const char *key, size_t klen)
{
	const struct matcher *m = sc->m;

	for (;;) {
		const char *dot = memchr(key, '.', klen);
		size_t seg = dot ? (size_t)(dot - key) : klen;
		node = pnode_child(m, &m->pnodes[node], key, seg);
		if (node == NONE || !dot)
			return node;
		klen -= seg + 1;
		key = dot + 1;
	}
}

static const char *scan_object(struct scan *sc, const char *p, uint32_t node, uint32_t elem, uint32_t depth)
{
	const char *end = sc->end;
	bool esc;

	/* p is just after '{' */
	p = json_lex_ws(p, end);
	if (p < end && *p == '}')
		return p + 1;
	for (;;) {
		if (p >= end || *p != '"')
			return scan_fail(sc, p, -EINVAL, p < end ? "expected a string key in object"
								 : "unexpected end of input");
		const char *kstart = p + 1;
		p = json_lex_string(kstart, end, &esc, &sc->lx);
		if (!p)
			return scan_lexfail(sc);
		const char *kend = p - 1;
		uint32_t child;
		if (!esc) {
			child = key_node(sc, node, kstart, (size_t)(kend - kstart));
		} else {
			struct match_scratch *s = sc->s;
			if (text_reserve(s, (size_t)(kend - kstart)) < 0)
				return scan_fail(sc, p, -ENOMEM, "out of memory");
			size_t n = json_unescape(kstart, kend, s->text.v + s->text.n);
			child = key_node(sc, node, s->text.v + s->text.n, n);
		}
		p = json_lex_ws(p, end);
		if (p >= end || *p != ':')
			return scan_fail(sc, p, -EINVAL, "expected ':' after object key");
		p++;
		if (child == NONE) {
			p = json_lex_skip(p, end, sc->m->lim.max_depth - depth, &sc->lx);
			if (!p)
				return scan_lexfail(sc);
		} else {
			p = scan_value(sc, p, child, elem, depth);
			if (!p)
				return NULL;
		}
		p = json_lex_ws(p, end);
		if (p < end && *p == ',') {
			p = json_lex_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			return p + 1;
		return scan_fail(sc, p, -EINVAL, p < end ? "expected ',' or '}' in object"
							 : "unexpected end of input");
	}
}

static const char *scan_array(struct scan *sc, const char *p, uint32_t node, uint32_t elem, uint32_t depth)
{
	const char *end = sc->end;
	struct match_scratch *s = sc->s;
	uint32_t array = s->arrays++;
	uint32_t edepth = elem == NONE ? 1 : s->elems.v[elem].depth + 1;

	/* p is just after '[' */
	p = json_lex_ws(p, end);
	if (p < end && *p == ']')
		return p + 1;
	for (;;) {
		p = json_lex_ws(p, end);
		if (p < end && (*p == '{' || *p == '[')) {
			struct elem e = {elem, array, edepth};
			if (VEC_PUSH(s->elems, e) < 0)
				return scan_fail(sc, p, -ENOMEM, "out of memory");
			p = scan_value(sc, p, node, (uint32_t)(s->elems.n - 1), depth);
		} else {
			p = scan_value(sc, p, node, elem, depth);
		}
		if (!p)
			return NULL;
		p = json_lex_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == ']')
			return p + 1;
		return scan_fail(sc, p, -EINVAL, p < end ? "expected ',' or ']' in array"
							 : "unexpected end of input");
	}
}

/* Scans the value at p for trie node `node`. */
static const char *scan_value(struct scan *sc, const char *p, uint32_t node, uint32_t elem, uint32_t depth)
{
	const char *end = sc->end;
	const struct pnode *pn = &sc->m->pnodes[node];
	uint32_t path = pn->path;
	const char *start;
	bool esc;

	p = json_lex_ws(p, end);
	if (p >= end)
		return scan_fail(sc, p, -EINVAL, "unexpected end of input");
	switch (*p) {
	case '{':
		if (!pn->nchild)
			break;   /* nothing below this node: validate and skip */
		if (depth + 1 > sc->m->lim.max_depth)
			return scan_fail(sc, p, -E2BIG, "nesting too deep");
		return scan_object(sc, p + 1, node, elem, depth + 1);
	case '[':
		if (depth + 1 > sc->m->lim.max_depth)
			return scan_fail(sc, p, -E2BIG, "nesting too deep");
		return scan_array(sc, p + 1, node, elem, depth + 1);
	case '"': {
		start = p + 1;
		p = json_lex_string(start, end, &esc, &sc->lx);
		if (!p)
			return scan_lexfail(sc);
		if (path == NONE)
			return p;
		const char *val = start;
		size_t len = (size_t)(p - 1 - start);
		if (esc) {
			struct match_scratch *s = sc->s;
			if (text_reserve(s, len) < 0)
				return scan_fail(sc, p, -ENOMEM, "out of memory");
			size_t off = s->text.n;
			size_t n = json_unescape(start, p - 1, s->text.v + off);
			s->text.n += n;
			if (add_leaf(sc, path, LEAF_STRING, NULL, n, elem) < 0)
				return NULL;
			s->leaves.v[s->leaves.n - 1].in_text = 1;
			s->leaves.v[s->leaves.n - 1].val_off = (uint32_t)off;
			return p;
		}
		if (add_leaf(sc, path, LEAF_STRING, val, len, elem) < 0)
			return NULL;
		return p;
	}
	case 't':
	case 'f':
	case 'n': {
		static const struct {
			const char *word;
			size_t len;
			enum leaf_type type;
		} lits[] = {{"true", 4, LEAF_TRUE}, {"false", 5, LEAF_FALSE}, {"null", 4, LEAF_NULL}};
		int li = *p == 't' ? 0 : *p == 'f' ? 1 : 2;
		start = p;
		p = json_lex_word(p, end, lits[li].word, lits[li].len, &sc->lx);
		if (!p)
			return scan_lexfail(sc);
		if (path != NONE && add_leaf(sc, path, lits[li].type, start, lits[li].len, elem) < 0)
			return NULL;
		return p;
	}
	default:
		start = p;
		p = json_lex_number(p, end, &sc->lx);
		if (!p)
			return scan_lexfail(sc);
		if (path != NONE && add_leaf(sc, path, LEAF_NUMBER, start, (size_t)(p - start), elem) < 0)
			return NULL;
		return p;
	}
	p = json_lex_skip(p, end, sc->m->lim.max_depth - depth, &sc->lx);
	return p ? p : scan_lexfail(sc);
}

/* ================================================================ evaluation */

static inline bool ctx_contains_elem(const struct match_scratch *s, uint32_t anc, uint32_t e)
{
	/* is anc an ancestor-or-self of e? */
	uint32_t d = s->elems.v[anc].depth;
	while (e != NONE && s->elems.v[e].depth > d)
		e = s->elems.v[e].parent;
	return e == anc;
}

/* Two element nodes are consistent unless they sit in different elements of a shared array. */
static bool elems_consistent(const struct match_scratch *s, uint32_t a, uint32_t b)
{
	if (a == NONE || b == NONE || a == b)
		return true;
	const struct elem *ev = s->elems.v;
	while (ev[a].depth > ev[b].depth)
		a = ev[a].parent;
	while (ev[b].depth > ev[a].depth)
		b = ev[b].parent;
	if (a == b)
		return true;   /* one lies inside the other */
	/* climb to the children of the lowest common ancestor */
	while (ev[a].parent != ev[b].parent) {
		a = ev[a].parent;
		b = ev[b].parent;
	}
	return ev[a].array != ev[b].array;
}

static bool ctx_consistent(const struct match_scratch *s, uint32_t ctx_off, uint32_t n, uint32_t e)
{
	if (e == NONE || n == 0)
		return true;
	const uint32_t *ctx = s->ctx.v + ctx_off;
	for (uint32_t i = 0; i < n; i++)
		if (!elems_consistent(s, ctx[i], e))
			return false;
	return true;
}

static inline const char *leaf_val(const struct match_scratch *s, const struct leaf *lf)
{
	return lf->in_text ? s->text.v + lf->val_off : lf->val;
}

/* The leaf's struct leafnum (created on first use), or NULL on ENOMEM. The
 * pointer is valid until the next call: the array may move. */
static struct leafnum *leaf_num(struct match_scratch *s, struct leaf *lf)
{
	if (lf->num == NONE) {
		struct leafnum ln;
		memset(&ln, 0, sizeof(ln));
		if (VEC_PUSH(s->nums, ln) < 0)
			return NULL;
		lf->num = (uint32_t)(s->nums.n - 1);
	}
	return &s->nums.v[lf->num];
}

/* The exact decimal key of a number leaf, computed once per event. */
static const struct numkey *leaf_numkey(struct match_scratch *s, struct leaf *lf)
{
	struct leafnum *ln = leaf_num(s, lf);
	if (!ln)
		return NULL;
	if (!lf->key_state)
		lf->key_state = numkey_from_text(lf->val, lf->len, &ln->key) == 0 ? 1 : 2;
	return lf->key_state == 1 ? &ln->key : NULL;
}

/*
 * As in EventBridge, an event number is compared with numeric ranges only
 * when it is a double written exactly (5e-324, 1e400 and
 * 12345678901234567890 are not). Equality needs no such check: a number
 * equal to a pattern's operand, which is always exact, is exact itself. The
 * check costs more than the rest, so it runs only when a range would match.
 */
/* The nearest double of a number leaf, computed once per event. */
static bool leaf_double(struct match_scratch *s, struct leaf *lf, double *ret)
{
	struct leafnum *ln = leaf_num(s, lf);
	if (!ln)
		return false;
	if (!lf->dbl_state)
		lf->dbl_state = number_parse(lf->val, lf->len, &ln->np) == 0 &&
					numparse_to_double(&ln->np, &ln->dbl) == 0 ? 1 : 2;
	*ret = ln->dbl;
	return lf->dbl_state == 1;
}

static bool leaf_exact(struct match_scratch *s, struct leaf *lf)
{
	if (!lf->exact_state) {
		const struct leafnum *ln = lf->dbl_state == 1 ? &s->nums.v[lf->num] : NULL;
		lf->exact_state = (ln ? numparse_is_exact(&ln->np, ln->dbl, lf->val, lf->len)
				      : number_is_exact_double(lf->val, lf->len)) ? 1 : 2;
	}
	return lf->exact_state == 1;
}

/* The folded form of a string leaf, computed once per event. */
static const char *leaf_fold(struct match_scratch *s, struct leaf *lf, size_t *ret_len)
{
	if (!lf->folded) {
		if (text_reserve(s, casefold_max_len(lf->len)) < 0)
			return NULL;
		/* after the reserve: the value itself may live in the text buffer */
		size_t n = casefold(leaf_val(s, lf), lf->len, s->text.v + s->text.n);
		lf->folded = 1;
		lf->fold_off = (uint32_t)s->text.n;
		lf->fold_len = (uint32_t)n;
		s->text.n += n;
	}
	*ret_len = lf->fold_len;
	return s->text.v + lf->fold_off;
}

static int out_targets(struct match_scratch *s, const struct vm *v, const struct bmap_slot *slot)
{
	if (!slot)
		return 0;
	const uint32_t *t = v->targets + v->run_off[slot->value];
	uint32_t n = v->run_cnt[slot->value];
	if (vec_reserve_((void **)&s->targets.v, &s->targets.cap, s->targets.n + n, sizeof(uint32_t)) < 0)
		return -ENOMEM;
	memcpy(s->targets.v + s->targets.n, t, n * sizeof(uint32_t));
	s->targets.n += n;
	return 0;
}

/*
 * The same for the equals-ignore-case keys: the folded key only proposes
 * candidates; ic_match() on the value as written decides each one.
 */
static int out_targets_ic(struct match_scratch *s, const struct vm *v, const struct bmap_slot *slot,
			  const char *val, size_t len, enum ic_mode mode)
{
	if (!slot)
		return 0;
	uint32_t off = v->run_off[slot->value], n = v->run_cnt[slot->value];
	for (uint32_t i = off; i < off + n; i++) {
		const struct operand *o = v->verify[i];
		if (o && !ic_match(o->raw, o->raw_len, val, len, mode))
			continue;
		if (VEC_PUSH(s->targets, v->targets[i]) < 0)
			return -ENOMEM;
	}
	return 0;
}

static inline const struct bmap_slot *tag_lookup(const struct vm *v, char tag, const char *bytes,
						 size_t n, char *buf, size_t bufcap)
{
	if (n + 1 > bufcap)
		return NULL;   /* longer than any key in this map */
	buf[0] = tag;
	memcpy(buf + 1, bytes, n);
	return bmap_get(&v->exact, buf, n + 1);
}

/* Does operand o (of condition kind) match the leaf? Used for anything-but and the slow list. */
static bool operand_matches(struct match_scratch *s, enum cond_kind kind, const struct operand *o,
			    struct leaf *lf)
{
	const char *val = leaf_val(s, lf);

	switch (kind) {
	case COND_EXACT:
		switch (o->lit.type) {
		case LIT_STRING: {
			if (lf->type != LEAF_STRING)
				return false;
			if (lf->len == o->lit.len && memcmp(val, o->lit.text, o->lit.len) == 0)
				return true;
			uint8_t a[16], b[16];
			int fa;
			return !o->lit.exactly && lf->len <= 45 && (fa = ip_parse(val, lf->len, a)) != 0 &&
			       ip_parse(o->lit.text, o->lit.len, b) == fa && memcmp(a, b, 16) == 0;
		}
		case LIT_NUMBER:
			if (lf->type != LEAF_NUMBER)
				return false;
			if (o->lit.has_key)
			{
				const struct numkey *k = leaf_numkey(s, lf);
				return k && numkey_eq(k, &o->lit.key);
			}
			return lf->len == o->lit.len && memcmp(val, o->lit.text, o->lit.len) == 0;
		case LIT_TRUE:
			return lf->type == LEAF_TRUE;
		case LIT_FALSE:
			return lf->type == LEAF_FALSE;
		case LIT_NULL:
			return lf->type == LEAF_NULL;
		}
		return false;
	case COND_PREFIX:
		return lf->type == LEAF_STRING && lf->len >= o->text_len &&
		       memcmp(val, o->text, o->text_len) == 0;
	case COND_SUFFIX:
		return lf->type == LEAF_STRING && lf->len >= o->text_len &&
		       memcmp(val + lf->len - o->text_len, o->text, o->text_len) == 0;
	case COND_EQUALS_IC:
		return lf->type == LEAF_STRING && ic_match(o->raw, o->raw_len, val, lf->len, IC_EQUALS);
	case COND_PREFIX_IC:
		return lf->type == LEAF_STRING && ic_match(o->raw, o->raw_len, val, lf->len, IC_PREFIX);
	case COND_SUFFIX_IC:
		return lf->type == LEAF_STRING && ic_match(o->raw, o->raw_len, val, lf->len, IC_SUFFIX);
	case COND_WILDCARD:
		return lf->type == LEAF_STRING && wildcard_match(o->wildcard, val, lf->len);
	case COND_REGEX:
		return lf->type == LEAF_STRING && regex_match(o->regex, val, lf->len, s->rx) == 1;
	case COND_CIDR: {
		uint8_t addr[16];
		if (lf->type != LEAF_STRING)
			return false;
		int fam = ip_parse(val, lf->len, addr);
		return fam && cidr_contains(&o->cidr, fam, addr);
	}
	case COND_NUMERIC:
	{
		const struct numkey *k;
		return lf->type == LEAF_NUMBER && (k = leaf_numkey(s, lf)) != NULL &&
		       numrange_contains(&o->range, k) && leaf_exact(s, lf);
	}
	case COND_EXISTS:
		return true;
	}
	return false;
}

static bool cond_matches(struct match_scratch *s, const struct cond *c, struct leaf *lf)
{
	if (c->negated) {
		for (size_t i = 0; i < c->n; i++)
			if (operand_matches(s, c->kind, &c->operands[i], lf))
				return false;
		return true;
	}
	return operand_matches(s, c->kind, &c->operands[0], lf);
}

/* Appends the targets of every range holding d. */
static int rindex_query(const struct rindex *t, double d, struct match_scratch *s)
{
	bool eq;
	size_t i = rindex_lookup(t, d, &eq);
	size_t slot = 2 * i + eq;

	if (t->flat) {
		const struct rentry *e = &t->keys[i];
		uint32_t a = eq ? e->eq : e->gap;
		uint32_t n = (eq ? e[1].gap : e->eq) - a;
		if (!n)
			return 0;
		if (vec_reserve_((void **)&s->targets.v, &s->targets.cap, s->targets.n + n, sizeof(uint32_t)) < 0)
			return -ENOMEM;
		memcpy(s->targets.v + s->targets.n, t->targets + a, n * sizeof(uint32_t));
		s->targets.n += n;
		return 0;
	}
	size_t node = 1, nl = 0, nr = t->size - 1;
	for (;;) {
		uint32_t a = t->off[node], n = t->off[node + 1] - a;
		if (n) {
			if (vec_reserve_((void **)&s->targets.v, &s->targets.cap, s->targets.n + n,
					 sizeof(uint32_t)) < 0)
				return -ENOMEM;
			memcpy(s->targets.v + s->targets.n, t->targets + a, n * sizeof(uint32_t));
			s->targets.n += n;
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

/* Drops targets[from..] that are accepting dead ends already reached: they add nothing. */
static void drop_reached(const struct matcher *m, struct match_scratch *s, size_t from)
{
	size_t w = from;
	for (size_t i = from; i < s->targets.n; i++) {
		uint32_t t = s->targets.v[i];
		if (!target_final(m, t) || !reached_has(s, t))
			s->targets.v[w++] = t;
	}
	s->targets.n = w;
}

static bool ranges_all_reached(const struct match_scratch *s, const struct vm *v)
{
	if (!v->nrfinal)
		return false;
	for (uint32_t i = 0; i < v->nrfinal; i++)
		if (!reached_has(s, v->rfinal[i]))
			return false;
	return true;
}

/* Appends to s->targets every state that value matcher v leads to for the leaf. */
static int vm_eval(const struct matcher *m, struct match_scratch *s, const struct vm *v, struct leaf *lf)
{
	char buf[512];
	int err = 0;

	switch ((enum leaf_type)lf->type) {
	case LEAF_STRING: {
		const char *val = leaf_val(s, lf);
		size_t len = lf->len;
		if (v->has_strings)
			err |= out_targets(s, v, tag_lookup(v, 's', val, len, buf, sizeof(buf)));
		if (v->has_ip && len >= 2 && len <= 45) {
			uint8_t ip[17];
			if ((ip[0] = (uint8_t)ip_parse(val, len, ip + 1)) != 0)
				err |= out_targets(s, v, tag_lookup(v, 'a', (const char *)ip, sizeof(ip), buf,
								    sizeof(buf)));
		}
		for (uint32_t i = 0; i < v->nplen && v->plen[i] <= len; i++)
			err |= out_targets(s, v, tag_lookup(v, 'p', val, v->plen[i], buf, sizeof(buf)));
		for (uint32_t i = 0; i < v->nxlen && v->xlen[i] <= len; i++)
			err |= out_targets(s, v, tag_lookup(v, 'x', val + len - v->xlen[i], v->xlen[i], buf,
							    sizeof(buf)));
		if (v->has_fold) {
			size_t fl;
			const char *f = leaf_fold(s, lf, &fl);
			if (!f)
				return -ENOMEM;
			/* the value may live in the text buffer, which folding may have moved */
			val = leaf_val(s, lf);
			err |= out_targets_ic(s, v, tag_lookup(v, 'i', f, fl, buf, sizeof(buf)), val, len,
					      IC_EQUALS);
			for (uint32_t i = 0; i < v->nPlen && v->Plen[i] <= fl; i++)
				err |= out_targets_ic(s, v, tag_lookup(v, 'P', f, v->Plen[i], buf, sizeof(buf)),
						      val, len, IC_PREFIX);
			for (uint32_t i = 0; i < v->nXlen && v->Xlen[i] <= fl; i++)
				err |= out_targets_ic(s, v, tag_lookup(v, 'X', f + fl - v->Xlen[i], v->Xlen[i], buf,
								       sizeof(buf)), val, len, IC_SUFFIX);
		}
		break;
	}
	case LEAF_NUMBER: {
		const char *val = leaf_val(s, lf);
		err |= out_targets(s, v, tag_lookup(v, 't', val, lf->len, buf, sizeof(buf)));
		const struct numkey *k;
		double d;
		if (v->want_numkey && (k = leaf_numkey(s, lf)) != NULL)
			err |= out_targets(s, v, tag_lookup(v, 'n', (const char *)k->b, k->len, buf, sizeof(buf)));
		if (v->want_double && !ranges_all_reached(s, v) && leaf_double(s, lf, &d)) {
			size_t mid = s->targets.n;
			err |= rindex_query(&v->ranges, d, s);
			if (s->targets.n > mid)
				drop_reached(m, s, mid);
			if (s->targets.n > mid && !leaf_exact(s, lf))
				s->targets.n = mid;
		}
		break;
	}
	case LEAF_TRUE:
		err |= out_targets(s, v, bmap_get(&v->exact, "T", 1));
		break;
	case LEAF_FALSE:
		err |= out_targets(s, v, bmap_get(&v->exact, "F", 1));
		break;
	case LEAF_NULL:
		err |= out_targets(s, v, bmap_get(&v->exact, "N", 1));
		break;
	}
	if (v->has_any)
		for (uint32_t i = 0; i < v->nany; i++)
			err |= VEC_PUSH(s->targets, v->any[i]);
	if (v->has_slow)
		for (uint32_t i = 0; i < v->nslow; i++)
			if (cond_matches(s, v->slow[i].cond, lf))
				err |= VEC_PUSH(s->targets, v->slow[i].target);
	return err ? -ENOMEM : 0;
}

/* ================================================================ threads */

static int push_thread(struct match_scratch *s, const struct matcher *m, uint32_t state,
		       uint32_t ctx_off, uint32_t n, uint32_t add)
{
	uint32_t tmp_n = 0;
	uint32_t base;
	int fresh;

	if (state & ACCEPT_BIT) {
		/* the dead end of one pattern: accept its id */
		fresh = reached_add(s, state);
		if (fresh <= 0)
			return fresh;
		return VEC_PUSH(s->out, state & ~ACCEPT_BIT);
	}
	uint32_t fin = m->fin[state];
	if (fin != FIN_NO) {
		/* nothing left to check: accept without a thread */
		fresh = reached_add(s, state);
		if (fresh <= 0)
			return fresh;
		if (fin != FIN_MULTI)
			return VEC_PUSH(s->out, fin);
		const struct state *st = &m->states[state];
		for (uint32_t i = 0; i < st->nmatch; i++)
			if (VEC_PUSH(s->out, st->match[i]) < 0)
				return -ENOMEM;
		return 0;
	}
	if (n == 0 && add == NONE) {
		/* no array context (the common case): dedupe by state alone */
		fresh = reached_add(s, state);
		if (fresh <= 0)
			return fresh;
		struct thread t = {state, (uint32_t)s->ctx.n, 0};
		return VEC_PUSH(s->work, t);
	}
	/* the new context: ctx ∪ {add}, keeping only the deepest elements */
	base = (uint32_t)s->ctx.n;
	if (vec_reserve_((void **)&s->ctx.v, &s->ctx.cap, s->ctx.n + n + 1, sizeof(uint32_t)) < 0)
		return -ENOMEM;
	bool add_needed = add != NONE;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t e = s->ctx.v[ctx_off + i];
		if (add != NONE && ctx_contains_elem(s, e, add))
			continue;              /* e is an ancestor of add: add supersedes it */
		if (add != NONE && ctx_contains_elem(s, add, e))
			add_needed = false;    /* add is an ancestor of e: nothing new */
		s->ctx.v[base + tmp_n++] = e;
	}
	if (add_needed) {
		/* insert in ascending order */
		uint32_t i = tmp_n;
		while (i > 0 && s->ctx.v[base + i - 1] > add) {
			s->ctx.v[base + i] = s->ctx.v[base + i - 1];
			i--;
		}
		s->ctx.v[base + i] = add;
		tmp_n++;
	}
	s->ctx.n = base + tmp_n;

	if (tmp_n == 0) {
		fresh = reached_add(s, state);
		if (fresh <= 0) {
			s->ctx.n = base;
			return fresh;
		}
	} else {
		uint32_t key[1 + 64];
		if (tmp_n <= 64) {
			bool new_ctx;
			key[0] = state;
			memcpy(key + 1, s->ctx.v + base, tmp_n * sizeof(uint32_t));
			if (!bmap_upsert(&s->seen_ctx, key, (tmp_n + 1) * sizeof(uint32_t), 0, &new_ctx))
				return -ENOMEM;
			if (!new_ctx) {
				s->ctx.n = base;
				return 0;
			}
		}
	}
	struct thread t = {state, base, tmp_n};
	return VEC_PUSH(s->work, t);
}

static int run_threads(const struct matcher *m, struct match_scratch *s)
{
	int r = push_thread(s, m, 0, 0, 0, NONE);

	while (r == 0 && s->work.n) {
		struct thread t = s->work.v[--s->work.n];
		const struct state *st = &m->states[t.state];

		for (uint32_t i = 0; i < st->nmatch; i++)
			if (VEC_PUSH(s->out, st->match[i]) < 0)
				return -ENOMEM;

		for (uint32_t ti = 0; ti < st->ntrans; ti++) {
			const struct vm *v = &m->vms[st->trans[ti]];
			for (uint32_t li = s->head[v->path]; li != NONE; li = s->leaves.v[li].next) {
				struct leaf *lf = &s->leaves.v[li];
				if (++s->work_done > MAX_WORK_PER_EVENT)
					return -E2BIG;
				if (!ctx_consistent(s, t.ctx_off, t.ctx_n, lf->elem))
					continue;
				s->targets.n = 0;
				if (vm_eval(m, s, v, lf) < 0)
					return -ENOMEM;
				for (size_t k = 0; k < s->targets.n && r == 0; k++) {
					r = push_thread(s, m, s->targets.v[k], t.ctx_off, t.ctx_n, lf->elem);
				}
				if (r < 0)
					return r;
			}
		}
		for (uint32_t ai = 0; ai < st->nabsent; ai++) {
			bool present = false;
			for (uint32_t li = s->head[st->absent_path[ai]]; li != NONE && !present;
			     li = s->leaves.v[li].next) {
				if (++s->work_done > MAX_WORK_PER_EVENT)
					return -E2BIG;
				present = ctx_consistent(s, t.ctx_off, t.ctx_n, s->leaves.v[li].elem);
			}
			if (!present) {
				r = push_thread(s, m, st->absent_target[ai], t.ctx_off, t.ctx_n, NONE);
				if (r < 0)
					return r;
			}
		}
	}
	return r;
}

static int prepare_scratch(const struct matcher *m, struct match_scratch *s)
{
	if (s->head_cap < m->npaths) {
		uint32_t *h = realloc(s->head, m->npaths * sizeof(*h));
		if (!h)
			return -ENOMEM;
		s->head = h;
		s->head_cap = m->npaths;
		for (size_t i = 0; i < m->npaths; i++)
			h[i] = NONE;
		s->touched.n = 0;
	}
	for (size_t i = 0; i < s->touched.n; i++)
		s->head[s->touched.v[i]] = NONE;
	s->touched.n = 0;
	if (!s->rcap && reached_resize(s, 64) < 0)
		return -ENOMEM;
	if (++s->gen == 0) {
		memset(s->rgen, 0, s->rcap * sizeof(*s->rgen));
		s->gen = 1;
	}
	s->rn = 0;
	if (s->seen_ctx.n) {
		memset(s->seen_ctx.ctrl, 0, s->seen_ctx.cap);
		s->seen_ctx.n = 0;
		s->seen_ctx.keys_len = 0;
	}
	s->leaves.n = 0;
	s->nums.n = 0;
	s->elems.n = 0;
	s->text.n = 0;
	s->arrays = 0;
	s->work.n = 0;
	s->ctx.n = 0;
	s->out.n = 0;
	s->work_done = 0;
	s->error[0] = '\0';
	return 0;
}

int matcher_match(const struct matcher *m, const char *json, size_t len, struct match_scratch *s,
		  const uint32_t **ret_ids)
{
	struct scan sc = {0};
	const char *p;
	int r;

	*ret_ids = NULL;
	if ((r = prepare_scratch(m, s)) < 0)
		return r;
	if (len > m->lim.max_event_bytes) {
		snprintf(s->error, sizeof(s->error), "event is %zu bytes, more than the limit of %zu",
			 len, m->lim.max_event_bytes);
		return -E2BIG;
	}
	sc.m = m;
	sc.s = s;
	sc.start = json;
	sc.end = json + len;
	p = json_lex_ws(json, sc.end);
	if (p >= sc.end || *p != '{') {
		if (p < sc.end && (p = json_lex_skip(p, sc.end, m->lim.max_depth, &sc.lx)) &&
		    json_lex_ws(p, sc.end) == sc.end)
			snprintf(s->error, sizeof(s->error), "an event must be a JSON object");
		else
			snprintf(s->error, sizeof(s->error), "invalid JSON at byte %zu: %s",
				 (size_t)((p ? p : sc.lx.at ? sc.lx.at : json) - json),
				 p ? "an event must be a JSON object" : sc.lx.msg ? sc.lx.msg : "empty input");
		return -EINVAL;
	}
	p = scan_object(&sc, p + 1, 0, NONE, 1);
	if (p) {
		p = json_lex_ws(p, sc.end);
		if (p != sc.end)
			scan_fail(&sc, p, -EINVAL, "unexpected text after the JSON value");
	}
	if (sc.err) {
		if (sc.err == -ENOMEM)
			return -ENOMEM;
		snprintf(s->error, sizeof(s->error), "%s at byte %zu: %s",
			 sc.err == -E2BIG ? "event exceeds a limit" : "invalid JSON",
			 (size_t)((sc.lx.at ? sc.lx.at : json) - json), sc.why ? sc.why : "error");
		return sc.err;
	}

	r = run_threads(m, s);
	if (r == -E2BIG) {
		snprintf(s->error, sizeof(s->error),
			 "event too complex to match: its arrays make more than %u combinations to check",
			 MAX_WORK_PER_EVENT);
		return r;
	}
	if (r < 0)
		return r;

	/* sort and deduplicate the ids */
	uint32_t *o = s->out.v;
	size_t n = s->out.n;
	if (n > 1) {
		qsort(o, n, sizeof(*o), u32_cmp);
		size_t w = 1;
		for (size_t i = 1; i < n; i++)
			if (o[i] != o[w - 1])
				o[w++] = o[i];
		n = w;
	}
	*ret_ids = o;
	return (int)n;
}
