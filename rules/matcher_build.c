/*
 * matcher_build.c — compiles patterns into the matcher: the builder, the
 * field paths and their segment trie, the automaton over fields, and the
 * freezing of it all into the read-only struct matcher.
 *
 * Every branch becomes a chain of transitions from the start state, one per
 * field (positive fields in path order, then the exists:false ones); a
 * transition is shared by every branch that tests the same path with the
 * same conditions from the same state (field_signature() makes equal
 * conditions equal bytes). The conditions on one path leaving one state are
 * collected as (condition, target) entries and frozen into one value matcher
 * by vm_build.c. A state that only accepts becomes an accepting dead end
 * (m->fin), which value matchers encode in their targets.
 *
 * Promise: matcher_build() consumes the builder whatever happens and either
 * returns a complete matcher or frees everything; the matcher is never
 * changed afterwards.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_internal.h"

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

/* ---------------------------------------------------------------- the automaton over fields */

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
	/* one block for all of them: the scanner compares segments against it */
	size_t total = 0;
	for (size_t i = 0; i < list.n; i++)
		total += strlen(list.v[i]) + 1;
	m->paths = calloc(list.n ? list.n : 1, sizeof(*m->paths));
	m->path_text = malloc(total ? total : 1);
	if (!m->paths || !m->path_text)
		goto out;
	char *w = m->path_text;
	for (size_t i = 0; i < list.n; i++) {
		size_t len = strlen(list.v[i]) + 1;
		memcpy(w, list.v[i], len);
		m->paths[i] = w;
		w += len;
	}
	m->npaths = list.n;
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

static int pnode_link(struct matcher *m, uint32_t parent, const char *key, size_t klen, uint32_t *ret)
{
	uint32_t c = pnode_child(&m->pnodes[parent], key, klen, key_word(key, klen, key + klen));
	if (c != NONE) {
		*ret = c;
		return 0;
	}
	if (pnode_add(m, &c) < 0)
		return -ENOMEM;
	struct pnode *n = &m->pnodes[parent];
	uint32_t i = n->nchild;
	struct pchild *cs = realloc(n->child, (i + 1) * sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	n->child = cs;
	cs[i].w0 = key_word(key, klen, key + klen);
	cs[i].w1 = klen > 8 ? key_tail(key, klen) : 0;
	cs[i].klen = (uint32_t)klen;
	cs[i].node = c;
	cs[i].key = key;   /* points into m->paths, which outlive the trie */
	n->nchild = i + 1;
	if (n->nchild > PNODE_LINEAR_MAX) {
		if (n->nchild == PNODE_LINEAR_MAX + 1) {
			for (uint32_t j = 0; j < i; j++) {
				if (!bmap_upsert(&n->children, cs[j].key, cs[j].klen, cs[j].node, NULL))
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
	struct vkey_list keys = {0};
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
		if (vm_freeze(m, (uint32_t)i, bd.vms.v[i].path, bd.vms.v[i].entries.v,
			      bd.vms.v[i].entries.n, &keys) < 0)
			goto out;
	if (vmap_index(m, &keys) < 0)
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
	free(keys.v);
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
	free(m->path_text);
	free(m->paths);
	for (size_t i = 0; i < m->npnodes; i++) {
		free(m->pnodes[i].child);
		bmap_free(&m->pnodes[i].children);
	}
	free(m->pnodes);
	if (m->vms)
		for (size_t i = 0; i < m->nvms; i++)
			vm_free(&m->vms[i]);
	free(m->vms);
	vmap_free(&m->vmap);
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
