/*
 * vm_build.c — freezes the conditions on one path leaving one state into a
 * value matcher (struct vm), the form the match path reads.
 *
 * Exact strings, numbers (by exact decimal key, or by text when a number has
 * no key), literals, IP addresses, folded strings and every prefix/suffix
 * become keys of the matcher's one value map (struct vmap), each key the
 * value matcher, a tag and bytes, mapping to a target or a run of distinct
 * targets; the distinct prefix/suffix lengths are kept so that a value is
 * looked up once per length. vmap_index() hashes every key once all value
 * matchers are frozen, into a table sized for them. Numeric ranges go to a range
 * index (rindex.c). Wildcards, regexes, CIDR ranges, anything-but and the
 * equals-ignore-case forms that cannot be folded stay a list evaluated one by
 * one. Targets that are the dead end of one pattern are encoded as
 * "accept id" (ACCEPT_BIT).
 *
 * Promise: a frozen vm answers exactly what evaluating each of its
 * conditions on its own would answer (vm_eval.c does the lookups).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_internal.h"

/* One key while a value matcher is frozen; bytes live in the kv_vec's text. */
struct kv {
	uint32_t off;
	uint32_t len;
	uint8_t tag;
	uint32_t target;
	uint32_t next;                  /* the next kv with the same key, or NONE */
	uint64_t hash;                  /* vkey_hash_bytes() of the key */
	const struct operand *verify;   /* equals-ignore-case forms: decided by ic_match() */
};

struct kv_vec {
	struct kv *v;
	size_t n, cap;
	char *text;
	size_t text_len, text_cap;
};

static bool kv_same_key(const struct kv_vec *kvs, const struct kv *x, const struct kv *y)
{
	return x->hash == y->hash && x->tag == y->tag && x->len == y->len &&
	       memcmp(kvs->text + x->off, kvs->text + y->off, x->len) == 0;
}

/* (target, verify) pairs in a fixed order, so that repeats sit together. */
struct tv {
	uint32_t target;
	const struct operand *verify;
};

static int tv_cmp(const void *a, const void *b)
{
	const struct tv *x = a, *y = b;
	if (x->target != y->target)
		return x->target < y->target ? -1 : 1;
	return (x->verify > y->verify) - (x->verify < y->verify);
}

static int kv_add(struct kv_vec *kvs, char tag, const void *bytes, size_t n, uint32_t target)
{
	struct kv e = {0};

	if (n > UINT32_MAX || kvs->text_len + n > UINT32_MAX)
		return -ENOMEM;   /* no key map holds that much */
	if (vec_reserve_((void **)&kvs->text, &kvs->text_cap, kvs->text_len + n + 1, 1) < 0 ||
	    vec_reserve_((void **)&kvs->v, &kvs->cap, kvs->n + 1, sizeof(struct kv)) < 0)
		return -ENOMEM;
	e.off = (uint32_t)kvs->text_len;
	e.len = (uint32_t)n;
	e.tag = (uint8_t)tag;
	e.target = target;
	e.next = NONE;
	e.hash = vkey_hash_bytes((uint8_t)tag, bytes, n);
	if (n)
		memcpy(kvs->text + kvs->text_len, bytes, n);
	kvs->text_len += n;
	kvs->v[kvs->n++] = e;
	return 0;
}

static int collect_lens(const struct kv_vec *kvs, char tag, uint32_t **ret, uint32_t *ret_n)
{
	uint32_t *v = NULL;
	uint32_t n = 0;

	for (size_t i = 0; i < kvs->n; i++) {
		if (kvs->v[i].tag != (uint8_t)tag)
			continue;
		uint32_t len = kvs->v[i].len;
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

/* A state as a value-matcher target: "accept id" when it is the dead end of one pattern. */
static uint32_t encode_target(const struct matcher *m, uint32_t state)
{
	uint32_t fin = m->sinfo[state].fin;
	return fin != FIN_NO && fin != FIN_MULTI && fin < ACCEPT_BIT ? ACCEPT_BIT | fin : state;
}

/* Room for n more targets (and their verify operands) in the value map's runs. */
static int vmap_reserve_targets(struct vmap *map, size_t n)
{
	size_t need = map->ntargets + n, cap = map->targets_cap ? map->targets_cap : 64;

	if (need <= map->targets_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	uint32_t *t = realloc(map->targets, cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	map->targets = t;
	const struct operand **v = realloc(map->verify, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	map->verify = v;
	map->targets_cap = cap;
	return 0;
}

/*
 * Appends the keys of kvs to keys: equal keys (grouped through a hash table,
 * chained by kv.next) become one key with the run of their distinct
 * (target, verify) pairs.
 */
static int emit_keys(struct matcher *m, uint32_t vi, struct kv_vec *kvs, struct vkey_list *keys)
{
	struct vmap *map = &m->vmap;
	size_t cap = 16;
	uint32_t *head;
	VEC(struct tv) run = {0};
	int r = -ENOMEM;

	while (cap < 2 * kvs->n)
		cap *= 2;
	head = malloc(cap * sizeof(*head));
	if (!head)
		return -ENOMEM;
	memset(head, 0xff, cap * sizeof(*head));   /* NONE */
	/* group: the first kv of each key is its leader; the others chain behind it */
	for (uint32_t i = 0; i < kvs->n; i++) {
		struct kv *e = &kvs->v[i];
		size_t j = e->hash & (cap - 1);
		for (; head[j] != NONE; j = (j + 1) & (cap - 1)) {
			struct kv *lead = &kvs->v[head[j]];
			if (kv_same_key(kvs, lead, e)) {
				e->next = lead->next;
				lead->next = i;
				break;
			}
		}
		if (head[j] == NONE)
			head[j] = i;
	}
	for (size_t j = 0; j < cap; j++) {
		if (head[j] == NONE)
			continue;
		const struct kv *first = &kvs->v[head[j]];
		run.n = 0;
		for (uint32_t i = head[j]; i != NONE; i = kvs->v[i].next) {
			struct tv p = {kvs->v[i].target, kvs->v[i].verify};
			if (VEC_PUSH(run, p) < 0)
				goto out;
		}
		if (run.n > 1)
			qsort(run.v, run.n, sizeof(*run.v), tv_cmp);
		size_t at = map->ntargets, nt = 0;
		bool verify = false;
		for (size_t i = 0; i < run.n; i++) {
			if (i && run.v[i].target == run.v[i - 1].target && run.v[i].verify == run.v[i - 1].verify)
				continue;
			if (vmap_reserve_targets(map, 1) < 0)
				goto out;
			map->targets[map->ntargets] = run.v[i].target;
			map->verify[map->ntargets++] = run.v[i].verify;
			verify |= run.v[i].verify != NULL;
			nt++;
		}
		struct vkey_build kb;
		struct vkey *k = &kb.k;
		memset(&kb, 0, sizeof(kb));
		k->vm = vi;
		k->tag = first->tag;
		k->verify = verify;
		k->klen = first->len;
		k->n = (uint32_t)nt;
		if (nt == 1 && !verify) {
			k->target = map->targets[at];
			map->ntargets = at;   /* held in the key itself */
		} else {
			k->target = (uint32_t)at;
		}
		const char *bytes = kvs->text + first->off;
		if (k->klen <= VKEY_INLINE) {
			if (k->klen)
				memcpy(k->key.b, bytes, k->klen);
		} else {
			if (map->text_len + k->klen > UINT32_MAX ||
			    vec_reserve_((void **)&map->text, &map->text_cap, map->text_len + k->klen, 1) < 0)
				goto out;
			k->key.off = (uint32_t)map->text_len;
			memcpy(map->text + map->text_len, bytes, k->klen);
			map->text_len += k->klen;
		}
		kb.hash = vmap_hash(first->hash, vi);
		k->hash = (uint32_t)(kb.hash >> 32);
		if (VEC_PUSH(*keys, kb) < 0)
			goto out;
	}
	r = 0;
out:
	free(head);
	free(run.v);
	return r;
}

int vm_freeze(struct matcher *m, uint32_t vi, uint32_t path, const struct ventry *entries, size_t n,
	      struct vkey_list *keys)
{
	struct vm *v = &m->vms[vi];
	struct kv_vec kvs = {0};
	VEC(struct vrange) ranges = {0};
	VEC(uint32_t) any = {0};
	VEC(struct vslow) slow = {0};
	int r = -ENOMEM;

	memset(v, 0, sizeof(*v));
	v->path = path;
	for (size_t i = 0; i < n; i++) {
		const struct cond *c = entries[i].cond;
		uint32_t t = encode_target(m, entries[i].target);
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
				m->any_regex = true;
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
					v->has_text = true;
				}
				break;
			case LIT_TRUE:
				r = kv_add(&kvs, 'T', NULL, 0, t);
				v->has_lit = true;
				break;
			case LIT_FALSE:
				r = kv_add(&kvs, 'F', NULL, 0, t);
				v->has_lit = true;
				break;
			case LIT_NULL:
				r = kv_add(&kvs, 'N', NULL, 0, t);
				v->has_lit = true;
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

	/* exact-style keys: equal keys grouped into runs of distinct targets */
	r = -ENOMEM;
	if (emit_keys(m, vi, &kvs, keys) < 0)
		goto out;
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
		if (v->nrfinal == 4 || !target_final(m, t)) {
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
	m->bytes += (v->nplen + v->nPlen + v->nxlen + v->nXlen) * sizeof(uint32_t) +
		    rindex_bytes(&v->ranges) + v->nslow * sizeof(struct vslow) + v->nany * sizeof(uint32_t);
	r = 0;
out:
	free(kvs.v);
	free(kvs.text);
	free(ranges.v);
	free(any.v);
	free(slow.v);
	return r;
}

void vm_free(struct vm *v)
{
	free(v->plen);
	free(v->Plen);
	free(v->xlen);
	free(v->Xlen);
	rindex_free(&v->ranges);
	free(v->any);
	free(v->slow);
}

int vmap_index(struct matcher *m, const struct vkey_list *keys)
{
	struct vmap *map = &m->vmap;
	size_t cap = 16;

	/* at most 5/8 full: probes stay short, and a miss mostly stops at once */
	while (cap * 5 < keys->n * 8)
		cap *= 2;
	/* slots on cache-line boundaries: a slot never straddles two lines */
	map->ctrl = aligned_alloc(64, cap < 64 ? 64 : cap);
	map->slots = aligned_alloc(64, cap * sizeof(*map->slots));
	if (!map->ctrl || !map->slots)
		return -ENOMEM;
	memset(map->ctrl, 0, cap);
	map->mask = cap - 1;
	for (size_t i = 0; i < keys->n; i++) {
		const struct vkey *k = &keys->v[i].k;
		uint64_t h = keys->v[i].hash;
		size_t j = h & map->mask;
		while (map->ctrl[j])
			j = (j + 1) & map->mask;
		map->ctrl[j] = (uint8_t)(0x80 | (h >> 57));
		map->slots[j] = *k;
	}
	map->n = keys->n;
	m->bytes += cap * (1 + sizeof(struct vkey)) + map->text_len +
		    map->ntargets * (sizeof(uint32_t) + sizeof(const struct operand *));
	return 0;
}

void vmap_free(struct vmap *map)
{
	free(map->ctrl);
	free(map->slots);
	free(map->text);
	free(map->targets);
	free(map->verify);
	memset(map, 0, sizeof(*map));
}
