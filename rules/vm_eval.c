/*
 * vm_eval.c — evaluates one recorded event value against one value matcher
 * (struct vm): which states does this value lead to?
 *
 * A string is looked up in the matcher's hash once as itself, once per
 * prefix and suffix length present, once as an IP address when the matcher
 * holds any, and once folded (equals-ignore-case and its prefix/suffix
 * forms, each candidate confirmed by ic_match() on the text as written). A
 * number is looked up by its text and by its exact decimal key, and its
 * nearest double goes to the range index. What the value needs (its decoded
 * number, double, folded form) is computed once per event, on first use.
 * The rare conditions (wildcard, regex, CIDR, anything-but) are evaluated
 * one by one in operand_matches().
 *
 * Promise: the states appended are exactly those whose conditions the value
 * satisfies, by EventBridge's rules (numbers by exact value; a number takes
 * part in numeric ranges only when it is an exact double).
 */
#include <errno.h>
#include <string.h>

#include "matcher_internal.h"

/* The general case of leaf_number_parse(): digit by digit, any number of them. */
static int number_parse_slow(const char *s, size_t n, struct numparse *ret)
{
	const char *p = s, *end = s + n;
	uint64_t w = 0;
	int64_t pos = 0, first = -1, int_len = 0, texp = 0;
	int nd = 0, zeros = 0;
	bool neg = false;

	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	/* the digits of the integer part, then of the fraction, as one run */
	for (int part = 0; part < 2; part++) {
		for (; p < end && *p >= '0' && *p <= '9'; p++, pos++) {
			if (*p == '0') {
				zeros += first >= 0;   /* inside the significant digits, or after them */
				continue;
			}
			if (first < 0)
				first = pos;
			nd += zeros + 1;
			if (nd > 17)
				return -ERANGE;
			for (; zeros; zeros--)
				w *= 10;
			w = w * 10 + (uint64_t)(*p - '0');
		}
		if (part == 0) {
			int_len = pos;
			if (p < end && *p == '.')
				p++;
			else
				break;
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		bool eneg = false;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		for (; p < end && *p >= '0' && *p <= '9'; p++)
			if (texp < 1000000000)
				texp = texp * 10 + (*p - '0');
		if (eneg)
			texp = -texp;
	}
	memset(ret, 0, sizeof(*ret));
	if (first < 0) {
		ret->zero = true;   /* -0 is 0 */
		return 0;
	}
	int64_t exp = texp + (int_len - 1 - first);
	if (exp > 309 || exp < -325)
		return -ERANGE;
	ret->w = w;
	ret->exp = (int32_t)exp;
	ret->ndigits = nd;
	ret->neg = neg;
	return 0;
}

static inline bool is_digit(char c)
{
	return (unsigned char)(c - '0') <= 9;
}

/*
 * The common case in one pass: at most 19 digits after the leading zeros, so
 * that all of them fit in a uint64_t; trailing zeros are divided out at the
 * end. Longer digit runs go to number_parse_slow().
 */
int leaf_number_parse(const char *s, size_t n, struct numparse *ret)
{
	const char *p = s, *end = s + n;
	uint64_t w = 0;
	int64_t int_len, lz = 0, texp = 0;
	int total = 0;
	bool neg = false;

	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	if (p < end && *p == '0') {
		p++;
		int_len = 1;
		lz = 1;   /* "0" and the zeros after "0." lead */
	} else {
		const char *ip = p;
		for (; p < end && is_digit(*p); p++, total++)
			w = w * 10 + (uint64_t)(*p - '0');
		int_len = p - ip;
		if (total > 19)
			return number_parse_slow(s, n, ret);
	}
	if (p < end && *p == '.') {
		p++;
		if (lz)
			for (; p < end && *p == '0'; p++)
				lz++;
		const char *fp = p;
		for (; p < end && is_digit(*p); p++)
			w = w * 10 + (uint64_t)(*p - '0');
		total += (int)(p - fp);
		if (total > 19)
			return number_parse_slow(s, n, ret);
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		bool eneg = false;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		for (; p < end && is_digit(*p); p++)
			if (texp < 1000000000)
				texp = texp * 10 + (*p - '0');
		if (eneg)
			texp = -texp;
	}
	memset(ret, 0, sizeof(*ret));
	if (w == 0) {
		ret->zero = true;   /* -0 is 0 */
		return 0;
	}
	int tz = 0;
	while (w % 10 == 0) {
		w /= 10;
		tz++;
	}
	int nd = total - tz;
	int64_t exp = texp + (int_len - 1 - lz);
	if (nd > 17 || exp > 309 || exp < -325)
		return -ERANGE;
	ret->w = w;
	ret->exp = (int32_t)exp;
	ret->ndigits = nd;
	ret->neg = neg;
	return 0;
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
		/* the other fields are written before they are read (see struct leaf) */
		if (vec_reserve_((void **)&s->nums.v, &s->nums.cap, s->nums.n + 1, sizeof(*s->nums.v)) < 0)
			return NULL;
		s->nums.v[s->nums.n].rvm = NONE;
		lf->num = (uint32_t)s->nums.n++;
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
		lf->dbl_state = leaf_number_parse(lf->val, lf->len, &ln->np) == 0 &&
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

/* Appends the targets of key k (a lookup's answer; NULL: none). */
static int out_targets(struct match_scratch *s, const struct vmap *map, const struct vkey *k)
{
	if (!k)
		return 0;
	if (vec_reserve_((void **)&s->targets.v, &s->targets.cap, s->targets.n + k->n, sizeof(uint32_t)) < 0)
		return -ENOMEM;
	if (k->n == 1 && !k->verify)
		s->targets.v[s->targets.n++] = k->target;
	else {
		memcpy(s->targets.v + s->targets.n, map->targets + k->target, k->n * sizeof(uint32_t));
		s->targets.n += k->n;
	}
	return 0;
}

/*
 * The same for the equals-ignore-case keys: the folded key only proposes
 * candidates; ic_match() on the value as written decides each one.
 */
static int out_targets_ic(struct match_scratch *s, const struct vmap *map, const struct vkey *k,
			  const char *val, size_t len, enum ic_mode mode)
{
	if (!k)
		return 0;
	if (!k->verify)
		return out_targets(s, map, k);
	for (uint32_t i = k->target; i < k->target + k->n; i++) {
		const struct operand *o = map->verify[i];
		if (o && !ic_match(o->raw, o->raw_len, val, len, mode))
			continue;
		if (VEC_PUSH(s->targets, map->targets[i]) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* vkey_hash_bytes('s', value) of a string leaf, computed once per event. */
static inline uint64_t leaf_hash(struct match_scratch *s, struct leaf *lf)
{
	if (!lf->hashed) {
		lf->hash = vkey_hash_bytes('s', leaf_val(s, lf), lf->len);
		lf->hashed = 1;
	}
	return lf->hash;
}

void vm_prefetch(const struct matcher *m, struct match_scratch *s, uint32_t vi, struct leaf *lf)
{
	const struct vm *v = &m->vms[vi];
	double d;

	switch ((enum leaf_type)lf->type) {
	case LEAF_STRING:
		if (v->has_strings)
			vmap_prefetch(&m->vmap, vmap_hash(leaf_hash(s, lf), vi));
		for (uint32_t i = 0; i < v->nplen && i < 2 && v->plen[i] <= lf->len; i++)
			vmap_prefetch(&m->vmap, vmap_hash(vkey_hash_bytes('p', leaf_val(s, lf), v->plen[i]), vi));
		break;
	case LEAF_NUMBER:
		if (v->nrange && leaf_double(s, lf, &d)) {
			struct leafnum *ln = &s->nums.v[lf->num];
			rindex_prefetch(&v->ranges, d, &ln->rpos);
			ln->rvm = vi;
		}
		break;
	case LEAF_TRUE:
	case LEAF_FALSE:
	case LEAF_NULL:
		break;
	}
}

void vm_prefetch_targets(const struct matcher *m, struct match_scratch *s, uint32_t vi,
			 const struct leaf *lf)
{
	if (lf->type != LEAF_NUMBER || lf->num == NONE || lf->dbl_state != 1)
		return;
	struct leafnum *ln = &s->nums.v[lf->num];
	if (ln->rvm == vi)
		rindex_prefetch_targets(&m->vms[vi].ranges, ln->dbl, &ln->rpos);
}

/* The key (vi, tag, bytes) of the value map, or NULL. */
static inline const struct vkey *lookup(const struct matcher *m, uint32_t vi, char tag, const char *bytes,
					size_t n)
{
	uint64_t h = vmap_hash(vkey_hash_bytes((uint8_t)tag, bytes, n), vi);
	return vmap_find(&m->vmap, vi, (uint8_t)tag, bytes, n, h);
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

/* Appends to s->targets every state that value matcher vi leads to for the leaf. */
int vm_eval(const struct matcher *m, struct match_scratch *s, uint32_t vi, struct leaf *lf)
{
	const struct vm *v = &m->vms[vi];
	const struct vmap *map = &m->vmap;
	int err = 0;

	switch ((enum leaf_type)lf->type) {
	case LEAF_STRING: {
		const char *val = leaf_val(s, lf);
		size_t len = lf->len;
		if (v->has_strings)
			err |= out_targets(s, map, vmap_find(map, vi, 's', val, len,
							      vmap_hash(leaf_hash(s, lf), vi)));
		if (v->has_ip && len >= 2 && len <= 45) {
			uint8_t ip[17];
			if ((ip[0] = (uint8_t)ip_parse(val, len, ip + 1)) != 0)
				err |= out_targets(s, map, lookup(m, vi, 'a', (const char *)ip, sizeof(ip)));
		}
		for (uint32_t i = 0; i < v->nplen && v->plen[i] <= len; i++)
			err |= out_targets(s, map, lookup(m, vi, 'p', val, v->plen[i]));
		for (uint32_t i = 0; i < v->nxlen && v->xlen[i] <= len; i++)
			err |= out_targets(s, map, lookup(m, vi, 'x', val + len - v->xlen[i], v->xlen[i]));
		if (v->has_fold) {
			size_t fl;
			const char *f = leaf_fold(s, lf, &fl);
			if (!f)
				return -ENOMEM;
			/* the value may live in the text buffer, which folding may have moved */
			val = leaf_val(s, lf);
			if (v->has_eic)
				err |= out_targets_ic(s, map, lookup(m, vi, 'i', f, fl), val, len, IC_EQUALS);
			for (uint32_t i = 0; i < v->nPlen && v->Plen[i] <= fl; i++)
				err |= out_targets_ic(s, map, lookup(m, vi, 'P', f, v->Plen[i]), val, len, IC_PREFIX);
			for (uint32_t i = 0; i < v->nXlen && v->Xlen[i] <= fl; i++)
				err |= out_targets_ic(s, map, lookup(m, vi, 'X', f + fl - v->Xlen[i], v->Xlen[i]),
						      val, len, IC_SUFFIX);
		}
		break;
	}
	case LEAF_NUMBER: {
		const char *val = leaf_val(s, lf);
		if (v->has_text)
			err |= out_targets(s, map, lookup(m, vi, 't', val, lf->len));
		const struct numkey *k;
		double d;
		if (v->want_numkey && (k = leaf_numkey(s, lf)) != NULL)
			err |= out_targets(s, map, lookup(m, vi, 'n', (const char *)k->b, k->len));
		if (v->want_double && !ranges_all_reached(s, v) && leaf_double(s, lf, &d)) {
			size_t mid = s->targets.n;
			const struct leafnum *ln = &s->nums.v[lf->num];
			err |= rindex_query(&v->ranges, d, ln->rvm == vi ? &ln->rpos : NULL,
					    &s->targets);
			if (s->targets.n > mid && s->nfinal)
				drop_reached(m, s, mid);
			if (s->targets.n > mid && !leaf_exact(s, lf))
				s->targets.n = mid;
		}
		break;
	}
	case LEAF_TRUE:
		if (v->has_lit)
			err |= out_targets(s, map, lookup(m, vi, 'T', "", 0));
		break;
	case LEAF_FALSE:
		if (v->has_lit)
			err |= out_targets(s, map, lookup(m, vi, 'F', "", 0));
		break;
	case LEAF_NULL:
		if (v->has_lit)
			err |= out_targets(s, map, lookup(m, vi, 'N', "", 0));
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
