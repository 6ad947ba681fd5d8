/*
 * vm_build.c — freezes the conditions on one path leaving one state into a
 * value matcher (struct vm), the form the match path reads.
 *
 * Exact strings, numbers (by exact decimal key, or by text when a number has
 * no key), literals, IP addresses, folded strings and every prefix/suffix
 * become keys of one hash map, each key a tag byte and its bytes, mapping to
 * a run of distinct targets; the distinct prefix/suffix lengths are kept so
 * that a value is looked up once per length. Numeric ranges go to a range
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

/* A state as a value-matcher target: "accept id" when it is the dead end of one pattern. */
static uint32_t encode_target(const struct matcher *m, uint32_t state)
{
	uint32_t fin = m->fin[state];
	return fin != FIN_NO && fin != FIN_MULTI && fin < ACCEPT_BIT ? ACCEPT_BIT | fin : state;
}

int vm_freeze(struct matcher *m, uint32_t path, const struct ventry *entries, size_t n, struct vm *v)
{
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
	m->bytes += v->exact.cap * (sizeof(struct bmap_slot) + 1) + v->exact.keys_cap +
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

void vm_free(struct vm *v)
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
