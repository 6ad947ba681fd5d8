/*
 * matcher_build.c — compiles patterns into the matcher: the builder, the
 * field paths and their segment trie, the automaton over fields, and the
 * freezing of it all into the read-only struct matcher.
 *
 * Every branch becomes a chain of transitions from the start state, one per
 * field (positive fields in path order, then the exists:false ones); a
 * transition is shared by every branch that tests the same path with the
 * same conditions from the same state (field_signature() makes equal
 * conditions equal bytes). One walk over the patterns gives paths their ids
 * (in order of first sight) and collects, as flat lists, each state's
 * transitions, exists:false tests and accepted ids; freezing groups them by
 * state into a few shared arrays. The conditions on one path leaving one
 * state are collected as (condition, target) entries and frozen into one
 * value matcher by vm_build.c. A state that only accepts becomes an
 * accepting dead end (m->sinfo[].fin), which value matchers encode in their targets.
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

struct bvm {
	uint32_t path;
	VEC(struct ventry) entries;
};

/* What a state holds, collected as flat lists while branches are added. */
struct bpair {
	uint32_t state;
	uint32_t value;       /* a vm index (transitions) or a pattern id (matches) */
};

struct babsent {
	uint32_t state;
	uint32_t path;
	uint32_t target;
};

struct build {
	struct matcher *m;
	struct bmap path_ids;         /* path text -> id, ids in order of first sight */
	VEC(const char *) path_text;  /* by id: the text (in a pattern) */
	struct bmap edges;            /* (state, path, signature) -> target state */
	uint32_t nstates;
	VEC(struct bvm) vms;
	struct bmap state_path_vm;    /* (state, path) -> vm index */
	VEC(struct bpair) trans;      /* (state, vm) */
	VEC(struct babsent) absent;
	VEC(struct bpair) match;      /* (state, pattern id) */
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

/* The id of a field's path, given on first sight. */
static int path_id(struct build *bd, const struct field *f, uint32_t *ret)
{
	bool fresh;
	struct bmap_slot *s = bmap_upsert(&bd->path_ids, f->path, f->path_len,
					  (uint32_t)bd->path_text.n, &fresh);
	if (!s || (fresh && VEC_PUSH(bd->path_text, f->path) < 0))
		return -ENOMEM;
	*ret = s->value;
	return 0;
}

/* The vm for (state, path), created on first use. */
static int state_vm(struct build *bd, uint32_t state, uint32_t path, uint32_t *ret)
{
	uint32_t key[2] = {state, path};
	bool fresh;
	struct bmap_slot *s = bmap_upsert(&bd->state_path_vm, key, sizeof(key),
					  (uint32_t)bd->vms.n, &fresh);

	if (!s)
		return -ENOMEM;
	if (fresh) {
		struct bvm v;
		struct bpair t = {state, (uint32_t)bd->vms.n};
		memset(&v, 0, sizeof(v));
		v.path = path;
		if (VEC_PUSH(bd->vms, v) < 0 || VEC_PUSH(bd->trans, t) < 0)
			return -ENOMEM;
	}
	*ret = s->value;
	return 0;
}

/* Follows or creates the transition for field f from state; returns the target. */
static int add_field(struct build *bd, uint32_t state, const struct field *f, uint32_t *ret)
{
	uint32_t path;
	bool fresh;

	if (path_id(bd, f, &path) < 0 || field_signature(bd, state, path, f) < 0)
		return -ENOMEM;
	struct bmap_slot *e = bmap_upsert(&bd->edges, bd->sig.v, bd->sig.n, bd->nstates, &fresh);
	if (!e)
		return -ENOMEM;
	if (!fresh) {
		*ret = e->value;
		return 0;
	}
	uint32_t target = bd->nstates++;
	if (f->absent) {
		struct babsent a = {state, path, target};
		if (VEC_PUSH(bd->absent, a) < 0)
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
	struct bpair mt = {state, id};
	return VEC_PUSH(bd->match, mt);
}

/* ---------------------------------------------------------------- paths and the trie */

/* Copies the paths into one block, by id: the scanner compares segments against it. */
static int copy_paths(struct build *bd)
{
	struct matcher *m = bd->m;
	size_t total = 0;

	/* pattern.c rejects keys holding U+0000, so paths are C strings */
	for (size_t i = 0; i < bd->path_text.n; i++)
		total += strlen(bd->path_text.v[i]) + 1;
	m->paths = calloc(bd->path_text.n ? bd->path_text.n : 1, sizeof(*m->paths));
	m->path_text = malloc(total ? total : 1);
	if (!m->paths || !m->path_text)
		return -ENOMEM;
	char *w = m->path_text;
	for (size_t i = 0; i < bd->path_text.n; i++) {
		size_t len = strlen(bd->path_text.v[i]) + 1;
		memcpy(w, bd->path_text.v[i], len);
		m->paths[i] = w;
		w += len;
	}
	m->npaths = bd->path_text.n;
	return 0;
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

static int build_trie(struct matcher *m)
{
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
	}
	return 0;
}

/* ---------------------------------------------------------------- freezing the states */

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

/* Sorts ids and drops repeats; returns how many remain. */
static uint32_t sort_unique(uint32_t *v, uint32_t n)
{
	if (n < 2)
		return n;
	if (n <= 16) {
		for (uint32_t i = 1; i < n; i++) {
			uint32_t x = v[i], j = i;
			for (; j > 0 && v[j - 1] > x; j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
	} else {
		qsort(v, n, sizeof(*v), u32_cmp);
	}
	uint32_t w = 1;
	for (uint32_t i = 1; i < n; i++)
		if (v[i] != v[w - 1])
			v[w++] = v[i];
	return w;
}

/*
 * Groups the flat lists by state into one array each (a counting sort), so
 * that states point into a few blocks instead of owning many small ones.
 */
static int freeze_states(struct build *bd)
{
	struct matcher *m = bd->m;
	size_t ns = m->nstates;
	uint32_t *ntr = calloc(ns + 1, sizeof(*ntr)), *nab = calloc(ns + 1, sizeof(*nab));
	uint32_t *nmt = calloc(ns + 1, sizeof(*nmt));
	int r = -ENOMEM;

	m->all_trans = malloc((bd->trans.n ? bd->trans.n : 1) * sizeof(uint32_t));
	m->all_absent = malloc((bd->absent.n ? 2 * bd->absent.n : 1) * sizeof(uint32_t));
	m->all_match = malloc((bd->match.n ? bd->match.n : 1) * sizeof(uint32_t));
	if (!ntr || !nab || !nmt || !m->all_trans || !m->all_absent || !m->all_match)
		goto out;
	/* counts, then where each state's run starts */
	for (size_t i = 0; i < bd->trans.n; i++)
		ntr[bd->trans.v[i].state + 1]++;
	for (size_t i = 0; i < bd->absent.n; i++)
		nab[bd->absent.v[i].state + 1]++;
	for (size_t i = 0; i < bd->match.n; i++)
		nmt[bd->match.v[i].state + 1]++;
	for (size_t i = 1; i <= ns; i++) {
		ntr[i] += ntr[i - 1];
		nab[i] += nab[i - 1];
		nmt[i] += nmt[i - 1];
	}
	for (size_t i = 0; i < ns; i++) {
		struct state *s = &m->states[i];
		s->trans = m->all_trans + ntr[i];
		s->absent_path = m->all_absent + 2 * nab[i];
		s->absent_target = s->absent_path + (nab[i + 1] - nab[i]);
		s->match = m->all_match + nmt[i];
	}
	for (size_t i = 0; i < bd->trans.n; i++) {
		struct state *s = &m->states[bd->trans.v[i].state];
		s->trans[s->ntrans++] = bd->trans.v[i].value;
	}
	for (size_t i = 0; i < bd->absent.n; i++) {
		struct state *s = &m->states[bd->absent.v[i].state];
		s->absent_path[s->nabsent] = bd->absent.v[i].path;
		s->absent_target[s->nabsent++] = bd->absent.v[i].target;
	}
	for (size_t i = 0; i < bd->match.n; i++) {
		struct state *s = &m->states[bd->match.v[i].state];
		s->match[s->nmatch++] = bd->match.v[i].value;
	}
	for (size_t i = 0; i < ns; i++) {
		struct state *s = &m->states[i];
		/* a pattern added twice, or two branches of one pattern ending here */
		s->nmatch = sort_unique(s->match, s->nmatch);
		if (!s->nmatch || s->ntrans || s->nabsent)
			m->sinfo[i].fin = FIN_NO;
		else if (s->nmatch == 1 && s->match[0] < FIN_MULTI)
			m->sinfo[i].fin = s->match[0];
		else
			m->sinfo[i].fin = FIN_MULTI;
		s->final_only = m->sinfo[i].fin != FIN_NO;
	}
	m->bytes += ns * (sizeof(struct state) + sizeof(struct sinfo)) +
		    (bd->trans.n + 2 * bd->absent.n + bd->match.n) * sizeof(uint32_t);
	r = 0;
out:
	free(ntr);
	free(nab);
	free(nmt);
	return r;
}

/* After the vms are frozen: transitions by path, and the one beside the state. */
static void order_trans(struct matcher *m)
{
	for (size_t i = 0; i < m->nstates; i++) {
		struct state *s = &m->states[i];
		sort_trans(m->vms, s->trans, s->ntrans);
		m->sinfo[i].vm1 = s->ntrans == 1 ? s->trans[0] : NONE;
		if (s->ntrans == 1) {
			/* most states test one more field: keep it beside the state */
			s->trans_one = s->trans[0];
			s->trans = &s->trans_one;
		}
	}
}

static void build_free(struct build *bd)
{
	bmap_free(&bd->path_ids);
	free(bd->path_text.v);
	bmap_free(&bd->edges);
	bmap_free(&bd->state_path_vm);
	for (size_t i = 0; i < bd->vms.n; i++)
		free(bd->vms.v[i].entries.v);
	free(bd->vms.v);
	free(bd->trans.v);
	free(bd->absent.v);
	free(bd->match.v);
	free(bd->sig.v);
}

int matcher_build(struct matcher_builder *b, struct matcher **ret)
{
	struct build bd;
	struct vkey_list keys = {0};
	struct matcher *m = calloc(1, sizeof(*m));
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

	/* one walk over the patterns: paths get ids as they are met */
	bd.nstates = 1;   /* the start state */
	for (size_t i = 0; i < m->npatterns; i++) {
		const struct pattern *p = m->patterns[i];
		for (size_t j = 0; j < p->n; j++) {
			if (add_branch(&bd, b->ids.v[i], &p->branches[j]) < 0)
				goto out;
			m->nbranches++;
		}
	}
	if (copy_paths(&bd) < 0 || build_trie(m) < 0)
		goto out;

	/* freeze */
	m->nvms = bd.vms.n;
	m->vms = calloc(m->nvms ? m->nvms : 1, sizeof(*m->vms));
	m->nstates = bd.nstates;
	m->states = calloc(m->nstates, sizeof(*m->states));
	m->sinfo = malloc(m->nstates * sizeof(*m->sinfo));
	if (!m->vms || !m->states || !m->sinfo || freeze_states(&bd) < 0)
		goto out;
	for (size_t i = 0; i < bd.vms.n; i++)
		if (vm_freeze(m, (uint32_t)i, bd.vms.v[i].path, bd.vms.v[i].entries.v,
			      bd.vms.v[i].entries.n, &keys) < 0)
			goto out;
	if (vmap_index(m, &keys) < 0)
		goto out;
	order_trans(m);
	m->start_vm = malloc((m->npaths ? m->npaths : 1) * sizeof(*m->start_vm));
	if (!m->start_vm)
		goto out;
	for (size_t i = 0; i < m->npaths; i++)
		m->start_vm[i] = NONE;
	for (uint32_t i = 0; i < m->states[0].ntrans; i++)
		m->start_vm[m->vms[m->states[0].trans[i]].path] = m->states[0].trans[i];
	m->bytes += m->npaths * (sizeof(*m->start_vm) + sizeof(*m->paths)) +
		    m->nvms * sizeof(struct vm) + m->npnodes * sizeof(struct pnode);
	for (size_t i = 0; i < m->npnodes; i++)
		m->bytes += m->pnodes[i].nchild * sizeof(struct pchild) +
			    m->pnodes[i].children.cap * (sizeof(struct bmap_slot) + 1);
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
	free(m->start_vm);
	vmap_free(&m->vmap);
	free(m->all_trans);
	free(m->all_absent);
	free(m->all_match);
	free(m->states);
	free(m->sinfo);
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
