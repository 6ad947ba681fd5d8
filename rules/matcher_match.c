/*
 * matcher_match.c — matching one event: the per-event scratch, the set of
 * what the event has reached, and the threads that run the automaton.
 *
 * matcher_match() resets the scratch, has scan.c record the event's values,
 * then runs threads (state, array context) from the start state: a thread
 * follows a transition for each recorded value on the transition's path that
 * the value matcher accepts (vm_eval.c) and that is consistent with the
 * thread's array context, and an exists:false transition when no value on
 * its path is. States are deduplicated per event (the reached set, a small
 * table stamped with the event's generation, so resetting it is a counter
 * increment), so the work is bounded by the states reached, not by the
 * number of rules; a work budget turns a pathological array blow-up into
 * -E2BIG instead of a stall.
 *
 * Promise: the ids returned are the distinct ids of the matching patterns,
 * ascending, valid until the next call with the same scratch; the matcher is
 * only read, so threads may share it, each with its own scratch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_internal.h"

/* ================================================================ per-event state */

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
	free(s->reached);
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

int reached_resize(struct match_scratch *s, uint32_t cap)
{
	struct rslot *r = calloc(cap, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->rcap; i++) {
		if (s->reached[i].gen != s->gen)
			continue;
		uint32_t j = reached_hash(s->reached[i].key, cap);
		while (r[j].gen == s->gen)
			j = (j + 1) & (cap - 1);
		r[j] = s->reached[i];
	}
	free(s->reached);
	s->reached = r;
	s->rcap = cap;
	return 0;
}

/* ---------------------------------------------------------------- array context */

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

/* ================================================================ threads */

/*
 * A thread was pushed for state: ask for what running it will read first,
 * its state and, when it has one transition, that lookup, while the thread
 * that pushed it goes on.
 */
static inline void prefetch_thread(const struct matcher *m, struct match_scratch *s, uint32_t state,
				   uint32_t vm1)
{
	__builtin_prefetch(&m->states[state]);
	if (vm1 != NONE) {
		uint32_t li = s->head[m->vms[vm1].path];
		if (li != NONE)
			vm_prefetch(m, s, vm1, &s->leaves.v[li]);
	}
}

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
		s->nfinal++;
		return VEC_PUSH(s->out, state & ~ACCEPT_BIT);
	}
	const struct sinfo *si = &m->sinfo[state];
	uint32_t fin = si->fin;
	if (fin != FIN_NO) {
		/* nothing left to check: accept without a thread */
		fresh = reached_add(s, state);
		if (fresh <= 0)
			return fresh;
		s->nfinal++;
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
		prefetch_thread(m, s, state, si->vm1);
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

/* Leaves per transition whose lookups are prefetched before a state is evaluated. */
#define PREFETCH_LEAVES 4

/*
 * Asks for the lines every lookup of this state will read, before any of
 * them is made, so that their cache misses overlap instead of following one
 * another: strings first, then numbers (whose lines are asked for last and
 * used last).
 */
static void prefetch_state(const struct matcher *m, struct match_scratch *s, const struct state *st)
{
	for (int numbers = 0; numbers < 2; numbers++) {
		for (uint32_t ti = 0; ti < st->ntrans; ti++) {
			uint32_t vi = st->trans[ti];
			uint32_t li = s->head[m->vms[vi].path];
			for (int k = 0; li != NONE && k < PREFETCH_LEAVES; li = s->leaves.v[li].next, k++) {
				struct leaf *lf = &s->leaves.v[li];
				if ((lf->type == LEAF_NUMBER) == numbers)
					vm_prefetch(m, s, vi, lf);
			}
		}
	}
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

		if (st->ntrans > 1 && t.state != 0) {
			prefetch_state(m, s, st);   /* one transition: asked for by push_thread() */
		} else if (t.state == 0) {
			/*
			 * The start state's first lines were asked for while scanning;
			 * the range blocks have arrived since: ask for their targets,
			 * used after the string lookups.
			 */
			for (uint32_t ti = 0; ti < st->ntrans; ti++) {
				uint32_t vi = st->trans[ti];
				if (!m->vms[vi].nrange)
					continue;
				uint32_t li = s->head[m->vms[vi].path];
				for (int k = 0; li != NONE && k < PREFETCH_LEAVES; li = s->leaves.v[li].next, k++)
					vm_prefetch_targets(m, s, vi, &s->leaves.v[li]);
			}
		}
		/* in the order of prefetch_state(): the answer does not depend on it */
		for (int numbers = 0; numbers < 2; numbers++) {
			for (uint32_t ti = 0; ti < st->ntrans; ti++) {
				uint32_t vi = st->trans[ti];
				const struct vm *v = &m->vms[vi];
				for (uint32_t li = s->head[v->path]; li != NONE; li = s->leaves.v[li].next) {
					struct leaf *lf = &s->leaves.v[li];
					if ((lf->type == LEAF_NUMBER) != numbers)
						continue;
					if (++s->work_done > MAX_WORK_PER_EVENT)
						return -E2BIG;
					if (!ctx_consistent(s, t.ctx_off, t.ctx_n, lf->elem))
						continue;
					s->targets.n = 0;
					if (vm_eval(m, s, vi, lf) < 0)
						return -ENOMEM;
					for (size_t k = 0; k < s->targets.n && r == 0; k++) {
						uint32_t tg = s->targets.v[k];
						if (tg & ACCEPT_BIT) {
							/* the common last step, inline: accept an id */
							r = reached_add(s, tg);
							if (r > 0) {
								s->nfinal++;
								r = VEC_PUSH(s->out, tg & ~ACCEPT_BIT);
							}
							continue;
						}
						r = push_thread(s, m, tg, t.ctx_off, t.ctx_n, lf->elem);
					}
					if (r < 0)
						return r;
				}
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
		memset(s->reached, 0, s->rcap * sizeof(*s->reached));
		s->gen = 1;
	}
	s->rn = 0;
	s->nfinal = 0;
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
	int r;

	*ret_ids = NULL;
	if ((r = prepare_scratch(m, s)) < 0)
		return r;
	r = scan_event(m, s, json, len);
	if (r < 0)
		return r;

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
		if (n <= 16) {
			for (size_t i = 1; i < n; i++) {
				uint32_t x = o[i];
				size_t j = i;
				for (; j > 0 && o[j - 1] > x; j--)
					o[j] = o[j - 1];
				o[j] = x;
			}
		} else {
			qsort(o, n, sizeof(*o), u32_cmp);
		}
		size_t w = 1;
		for (size_t i = 1; i < n; i++)
			if (o[i] != o[w - 1])
				o[w++] = o[i];
		n = w;
	}
	*ret_ids = o;
	return (int)n;
}
