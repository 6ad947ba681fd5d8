/*
 * pattern.c — parse and validate EventBridge event patterns.
 *
 * The parser walks the pattern tree (json.h) once and produces the
 * disjunctive normal form the matcher compiles (see pattern.h):
 *
 *   - nested objects flatten into '.'-joined paths, so {"a.b": …} and
 *     {"a": {"b": …}} name the same field;
 *   - inside one object a repeated key counts once, the last one (as
 *     EventBridge does); a path given twice in one branch keeps the last;
 *   - every "$or" multiplies the branches of its object (the cross product of
 *     its alternatives with the rest), bounded by the limits' max_branches;
 *   - a value list that mixes {"exists": false} with other conditions means
 *     "absent, or one of the others", and becomes two branches.
 *
 * Validation goes on after an error wherever the rest of the pattern can
 * still be checked, so a user sees every problem at once; each message is
 * "<pointer>: <reason>", with reasons worded after EventBridge's.
 *
 * Operands are prepared here once (numeric keys, folded case, compiled
 * wildcards, regexes and CIDR ranges) so that matching never re-parses a
 * pattern.
 */
#include "pattern.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_PATTERN_BYTES ((size_t)64 << 10)
#define DEFAULT_MAX_PATTERN_DEPTH 32u

struct pctx {
	enum pattern_dialect dialect;
	size_t max_branches;
	struct errlist *errs;
	struct jptr ptr;
	bool failed;     /* a validation error was reported */
	bool nomem;
	bool too_many;   /* the branch limit was hit (reported once) */
};

/* A list of branches under construction. */
struct blist {
	size_t n, cap;
	struct branch *v;
};

static void perr(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void perr(struct pctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* the root is "" in RFC 6901; people read "/" more easily */
	errlist_addv(c->errs, c->ptr.len ? jptr_str(&c->ptr) : "/", fmt, ap);
	va_end(ap);
	c->failed = true;
}

/* ------------------------------------------------------------ freeing */

static void operand_free(enum cond_kind kind, struct operand *o)
{
	free(o->lit.text);
	free(o->text);
	free(o->raw);
	if (kind == COND_WILDCARD)
		wildcard_free(o->wildcard);
	if (kind == COND_REGEX)
		regex_free(o->regex);
}

static void cond_free(struct cond *c)
{
	for (size_t i = 0; i < c->n; i++)
		operand_free(c->kind, &c->operands[i]);
	free(c->operands);
}

static void field_free(struct field *f)
{
	free(f->path);
	for (size_t i = 0; i < f->n; i++)
		cond_free(&f->conds[i]);
	free(f->conds);
}

static void branch_free(struct branch *b)
{
	for (size_t i = 0; i < b->n; i++)
		field_free(&b->fields[i]);
	free(b->fields);
	b->fields = NULL;
	b->n = 0;
}

static void blist_free(struct blist *l)
{
	for (size_t i = 0; i < l->n; i++)
		branch_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

void pattern_free(struct pattern *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		branch_free(&p->branches[i]);
	free(p->branches);
	free(p);
}

/* ------------------------------------------------------------ deep copies
 *
 * The cross product of $or alternatives duplicates fields into several
 * branches; each branch owns its fields outright, so copying is deep
 * (wildcards and regexes are recompiled from their source text).
 */

static char *memdup0(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (!d)
		return NULL;
	if (n)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

struct src_text {
	char *s;
	size_t n;
};

static int operand_copy(enum cond_kind kind, const struct operand *src, struct operand *dst)
{
	char err[8];

	*dst = *src;
	dst->lit.text = NULL;
	dst->text = NULL;
	dst->raw = NULL;
	dst->wildcard = NULL;
	dst->regex = NULL;
	if (src->lit.text && !(dst->lit.text = memdup0(src->lit.text, src->lit.len)))
		return -ENOMEM;
	if (src->text && !(dst->text = memdup0(src->text, src->text_len)))
		return -ENOMEM;
	if (src->raw && !(dst->raw = memdup0(src->raw, src->raw_len)))
		return -ENOMEM;
	if (kind == COND_WILDCARD &&
	    !(dst->wildcard = wildcard_compile(src->text, src->text_len, err, sizeof(err))))
		return -ENOMEM;
	if (kind == COND_REGEX &&
	    !(dst->regex = regex_compile(src->text, src->text_len, err, sizeof(err))))
		return -ENOMEM;
	return 0;
}

static int field_copy(const struct field *src, struct field *dst)
{
	memset(dst, 0, sizeof(*dst));
	dst->absent = src->absent;
	dst->path_len = src->path_len;
	dst->path = memdup0(src->path, src->path_len);
	if (!dst->path)
		return -ENOMEM;
	if (src->n) {
		dst->conds = calloc(src->n, sizeof(*dst->conds));
		if (!dst->conds)
			return -ENOMEM;
	}
	dst->n = src->n;
	for (size_t i = 0; i < src->n; i++) {
		const struct cond *sc = &src->conds[i];
		struct cond *dc = &dst->conds[i];
		dc->kind = sc->kind;
		dc->negated = sc->negated;
		dc->operands = calloc(sc->n, sizeof(*dc->operands));
		if (!dc->operands)
			return -ENOMEM;
		for (size_t j = 0; j < sc->n; j++) {
			dc->n = j + 1;
			if (operand_copy(sc->kind, &sc->operands[j], &dc->operands[j]) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ branch lists */

static int blist_push(struct pctx *c, struct blist *l, struct branch *b)
{
	if (l->n >= c->max_branches) {
		if (!c->too_many) {
			errlist_add(c->errs, c->ptr.len ? jptr_str(&c->ptr) : "/",
				    "pattern expands to more than %zu combinations ($or and exists:false alternatives)",
				    c->max_branches);
			c->too_many = true;
		}
		c->failed = true;
		branch_free(b);
		return -E2BIG;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		struct branch *v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			c->nomem = true;
			branch_free(b);
			return -ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *b;
	return 0;
}

/* Adds field f (taken) to branch b; a field with the same path is replaced. */
static int branch_put(struct branch *b, struct field *f)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->fields[i].path_len == f->path_len &&
		    memcmp(b->fields[i].path, f->path, f->path_len) == 0) {
			field_free(&b->fields[i]);
			b->fields[i] = *f;
			return 0;
		}
	}
	struct field *v = realloc(b->fields, (b->n + 1) * sizeof(*v));
	if (!v) {
		field_free(f);
		return -ENOMEM;
	}
	b->fields = v;
	b->fields[b->n++] = *f;
	return 0;
}

/* out = { a ∪ b : a ∈ left, b ∈ right }, fields of b overriding a's. Frees both inputs. */
static int blist_product(struct pctx *c, struct blist *left, struct blist *right, struct blist *out)
{
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (left->n == 1 && right->n == 1) {
		/* the common case, no $or: move right's fields into left's branch */
		struct branch *b = &left->v[0], *src = &right->v[0];
		for (size_t k = 0; k < src->n; k++) {
			if (r == 0)
				r = branch_put(b, &src->fields[k]);
			else
				field_free(&src->fields[k]);
		}
		free(src->fields);
		src->fields = NULL;
		src->n = 0;
		blist_free(right);
		if (r < 0) {
			c->nomem = true;
			blist_free(left);
			return r;
		}
		*out = *left;
		memset(left, 0, sizeof(*left));
		return 0;
	}
	for (size_t i = 0; i < left->n && r == 0; i++) {
		for (size_t j = 0; j < right->n && r == 0; j++) {
			struct branch nb = {0};
			const struct branch *srcs[2] = {&left->v[i], &right->v[j]};
			for (size_t s = 0; s < 2 && r == 0; s++) {
				for (size_t k = 0; k < srcs[s]->n && r == 0; k++) {
					struct field f;
					r = field_copy(&srcs[s]->fields[k], &f);
					if (r < 0) {
						field_free(&f);
						break;
					}
					r = branch_put(&nb, &f);
				}
			}
			if (r < 0) {
				c->nomem = true;
				branch_free(&nb);
				break;
			}
			r = blist_push(c, out, &nb);
		}
	}
	blist_free(left);
	blist_free(right);
	if (r < 0)
		blist_free(out);
	return r;
}

/* ------------------------------------------------------------ operands */

static bool is_string(const struct jnode *n)
{
	return n->type == JNODE_STRING;
}

static int set_literal(struct pctx *c, const struct jnode *n, struct literal *lit)
{
	memset(lit, 0, sizeof(*lit));
	switch (n->type) {
	case JNODE_STRING:
		lit->type = LIT_STRING;
		break;
	case JNODE_NUMBER:
		lit->type = LIT_NUMBER;
		lit->has_key = number_is_exact_double(n->u.num, n->len) &&
			       numkey_from_text(n->u.num, n->len, &lit->key) == 0;
		break;
	case JNODE_TRUE:
		lit->type = LIT_TRUE;
		return 0;
	case JNODE_FALSE:
		lit->type = LIT_FALSE;
		return 0;
	case JNODE_NULL:
		lit->type = LIT_NULL;
		return 0;
	case JNODE_ARRAY:
	case JNODE_OBJECT:
		return -EINVAL;
	}
	lit->len = n->len;
	lit->text = memdup0(n->type == JNODE_STRING ? n->u.str : n->u.num, n->len);
	if (!lit->text) {
		c->nomem = true;
		return -ENOMEM;
	}
	return 0;
}

static int set_text(struct pctx *c, struct operand *o, const struct jnode *n, bool fold)
{
	if (fold) {
		o->text = malloc(casefold_max_len(n->len) + 1);
		o->raw = memdup0(n->u.str, n->len);
		if (!o->text || !o->raw)
			goto nomem;
		o->text_len = casefold(n->u.str, n->len, o->text);
		o->text[o->text_len] = '\0';
		o->raw_len = n->len;
		o->foldable = ic_foldable(n->u.str, n->len);
		return 0;
	}
	o->text = memdup0(n->u.str, n->len);
	if (!o->text)
		goto nomem;
	o->text_len = n->len;
	return 0;
nomem:
	c->nomem = true;
	return -ENOMEM;
}

/* A condition with room for n operands. */
static struct cond *cond_new(struct pctx *c, struct cond *cd, enum cond_kind kind, bool negated, size_t n)
{
	memset(cd, 0, sizeof(*cd));
	cd->kind = kind;
	cd->negated = negated;
	cd->operands = calloc(n ? n : 1, sizeof(*cd->operands));
	if (!cd->operands) {
		c->nomem = true;
		return NULL;
	}
	return cd;
}

static int prepare_operand(struct pctx *c, enum cond_kind kind, const struct jnode *n, struct operand *o)
{
	char err[160];

	switch (kind) {
	case COND_PREFIX:
	case COND_SUFFIX:
		return set_text(c, o, n, false);
	case COND_PREFIX_IC:
	case COND_SUFFIX_IC:
	case COND_EQUALS_IC:
		return set_text(c, o, n, true);
	case COND_WILDCARD:
		if (set_text(c, o, n, false) < 0)
			return -ENOMEM;
		o->wildcard = wildcard_compile(n->u.str, n->len, err, sizeof(err));
		if (!o->wildcard) {
			if (errno == ENOMEM) {
				c->nomem = true;
				return -ENOMEM;
			}
			perr(c, "%s", err);
			return -EINVAL;
		}
		return 0;
	case COND_REGEX:
		if (set_text(c, o, n, false) < 0)
			return -ENOMEM;
		o->regex = regex_compile(n->u.str, n->len, err, sizeof(err));
		if (!o->regex) {
			if (errno == ENOMEM) {
				c->nomem = true;   /* not the user's mistake */
				return -ENOMEM;
			}
			perr(c, "invalid regex: %s", err);
			return -EINVAL;
		}
		return 0;
	case COND_CIDR:
		if (cidr_parse(n->u.str, n->len, &o->cidr, err, sizeof(err)) < 0) {
			perr(c, "%s", err);
			return -EINVAL;
		}
		return 0;
	case COND_EXACT:
		return set_literal(c, n, &o->lit);
	case COND_NUMERIC:
	case COND_EXISTS:
		break;
	}
	return 0;
}

/* Builds a one-operand positive condition over string node n. */
static int string_cond(struct pctx *c, const struct jnode *n, enum cond_kind kind,
		       const char *opname, struct cond *out)
{
	if (!is_string(n)) {
		perr(c, "%s match pattern must be a string", opname);
		return -EINVAL;
	}
	if (!cond_new(c, out, kind, false, 1))
		return -ENOMEM;
	out->n = 1;
	int r = prepare_operand(c, kind, n, &out->operands[0]);
	if (r < 0) {
		cond_free(out);
		memset(out, 0, sizeof(*out));
	}
	return r;
}

/* {"prefix": "x"} or {"prefix": {"equals-ignore-case": "x"}}, and the same for suffix. */
static int affix_cond(struct pctx *c, const struct jnode *v, bool prefix, struct cond *out)
{
	const char *op = prefix ? "prefix" : "suffix";

	if (v->type == JNODE_OBJECT) {
		if (v->len != 1) {
			perr(c, v->len ? "Only one key allowed in match expression"
				       : "%s match expression name not found", op);
			return -EINVAL;
		}
		const struct jmember *m = &v->u.members[0];
		size_t old = jptr_push_key(&c->ptr, m->key, m->key_len);
		int r;
		if (strcmp(m->key, "equals-ignore-case") != 0 || m->key_len != strlen(m->key)) {
			jptr_pop(&c->ptr, old);
			perr(c, "Unsupported %s pattern: %s", op, m->key);
			return -EINVAL;
		}
		r = string_cond(c, m->value, prefix ? COND_PREFIX_IC : COND_SUFFIX_IC,
				"equals-ignore-case", out);
		jptr_pop(&c->ptr, old);
		return r;
	}
	return string_cond(c, v, prefix ? COND_PREFIX : COND_SUFFIX, op, out);
}

/* Checks a numeric operand; fills its key and its (exact) double. */
static int numeric_operand(struct pctx *c, const struct jnode *n, const char *op, struct numkey *key,
			   double *dbl)
{
	if (!n || n->type != JNODE_NUMBER) {
		perr(c, "Value of %s must be numeric", op);
		return -EINVAL;
	}
	if (!number_is_exact_double(n->u.num, n->len) || numkey_from_text(n->u.num, n->len, key) < 0 ||
	    number_to_double(n->u.num, n->len, dbl) < 0) {
		perr(c, "Cannot compare number: %s (numeric operands must be finite doubles written exactly)",
		     n->u.num);
		return -EINVAL;
	}
	return 0;
}

static int numeric_cond(struct pctx *c, const struct jnode *v, struct cond *out)
{
	struct numrange r = {0};

	if (v->type != JNODE_ARRAY) {
		perr(c, "Value of numeric must be an array");
		return -EINVAL;
	}
	if (v->len == 0 || v->u.items[0]->type != JNODE_STRING) {
		perr(c, "numeric must start with an operator: \"=\", \"<\", \"<=\", \">\" or \">=\"");
		return -EINVAL;
	}
	const struct jnode *op1 = v->u.items[0];
	const char *o = op1->u.str;
	bool eq = strcmp(o, "=") == 0, lt = strcmp(o, "<") == 0, le = strcmp(o, "<=") == 0;
	bool gt = strcmp(o, ">") == 0, ge = strcmp(o, ">=") == 0;

	if (!(eq || lt || le || gt || ge) || op1->len != strlen(o)) {
		perr(c, "Unrecognized numeric range operator: %s", o);
		return -EINVAL;
	}
	struct numkey k1;
	double d1;
	if (numeric_operand(c, v->len > 1 ? v->u.items[1] : NULL, o, &k1, &d1) < 0)
		return -EINVAL;
	if (eq) {
		if (v->len > 2) {
			perr(c, "Too many elements in numeric expression: \"=\" takes one operand");
			return -EINVAL;
		}
		r.has_lo = r.has_hi = true;
		r.lo = r.hi = k1;
		r.lo_d = r.hi_d = d1;
	} else if (lt || le) {
		if (v->len > 2) {
			perr(c, "Too many elements in numeric expression: the lower bound (\">\" or \">=\") must come first");
			return -EINVAL;
		}
		r.has_hi = true;
		r.hi_open = lt;
		r.hi = k1;
		r.hi_d = d1;
	} else {
		r.has_lo = true;
		r.lo_open = gt;
		r.lo = k1;
		r.lo_d = d1;
		if (v->len > 2) {
			const struct jnode *op2 = v->u.items[2];
			if (op2->type != JNODE_STRING) {
				perr(c, "Invalid member in numeric match: expected \"<\" or \"<=\"");
				return -EINVAL;
			}
			bool lt2 = strcmp(op2->u.str, "<") == 0 && op2->len == 1;
			bool le2 = strcmp(op2->u.str, "<=") == 0 && op2->len == 2;
			if (!lt2 && !le2) {
				bool known = !strcmp(op2->u.str, "=") || !strcmp(op2->u.str, ">") ||
					     !strcmp(op2->u.str, ">=");
				perr(c, known ? "Bad numeric range operator: %s (the upper bound must use \"<\" or \"<=\")"
					      : "Unrecognized numeric range operator: %s", op2->u.str);
				return -EINVAL;
			}
			struct numkey k2;
			double d2;
			if (numeric_operand(c, v->len > 3 ? v->u.items[3] : NULL, op2->u.str, &k2, &d2) < 0)
				return -EINVAL;
			if (v->len > 4) {
				perr(c, "Too many terms in numeric range expression");
				return -EINVAL;
			}
			if (numkey_cmp(&k1, &k2) >= 0) {
				perr(c, "Bottom must be less than top");
				return -EINVAL;
			}
			r.has_hi = true;
			r.hi_open = lt2;
			r.hi = k2;
			r.hi_d = d2;
		}
	}
	if (!cond_new(c, out, COND_NUMERIC, false, 1))
		return -ENOMEM;
	out->n = 1;
	out->operands[0].range = r;
	return 0;
}

/* The list form of anything-but's operators: a string or an array of strings. */
static int anything_but_list(struct pctx *c, const struct jnode *v, enum cond_kind kind,
			     const char *opname, bool nonempty, struct cond *out)
{
	const struct jnode *const *items = (const struct jnode *const *)&v;
	size_t n = 1;

	if (v->type == JNODE_ARRAY) {
		items = (const struct jnode *const *)v->u.items;
		n = v->len;
		if (n == 0) {
			perr(c, "anything-but %s list must not be empty", opname);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (items[i]->type != JNODE_STRING) {
			if (kind == COND_EQUALS_IC)
				perr(c, "Inside anything-but/equals-ignore-case list, only strings are allowed");
			else
				perr(c, "%s match pattern must be a string", opname);
			return -EINVAL;
		}
		if (nonempty && items[i]->len == 0) {
			perr(c, "Null prefix/suffix not allowed");
			return -EINVAL;
		}
	}
	if (!cond_new(c, out, kind, true, n))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		out->n = i + 1;
		size_t old = v->type == JNODE_ARRAY ? jptr_push_index(&c->ptr, i) : c->ptr.len;
		int r = prepare_operand(c, kind, items[i], &out->operands[i]);
		jptr_pop(&c->ptr, old);
		if (r < 0) {
			cond_free(out);
			memset(out, 0, sizeof(*out));
			return r;
		}
	}
	return 0;
}

static int anything_but_cond(struct pctx *c, const struct jnode *v, struct cond *out)
{
	switch (v->type) {
	case JNODE_STRING:
	case JNODE_NUMBER:
		break;
	case JNODE_ARRAY: {
		if (v->len == 0) {
			perr(c, "anything-but list must not be empty");
			return -EINVAL;
		}
		bool strings = false, numbers = false;
		for (size_t i = 0; i < v->len; i++) {
			enum jnode_type t = v->u.items[i]->type;
			if (t == JNODE_STRING) {
				strings = true;
			} else if (t == JNODE_NUMBER) {
				numbers = true;
			} else {
				size_t old = jptr_push_index(&c->ptr, i);
				perr(c, "Inside anything-but list, only strings or numbers are allowed (not %s)",
				     jnode_type_name(t));
				jptr_pop(&c->ptr, old);
				return -EINVAL;
			}
		}
		if (strings && numbers) {
			perr(c, "Inside anything-but list, either all values are numbers or all are strings; mixed types are not supported");
			return -EINVAL;
		}
		break;
	}
	case JNODE_OBJECT: {
		if (v->len == 0) {
			perr(c, "Anything-But expression name not found");
			return -EINVAL;
		}
		if (v->len > 1) {
			perr(c, "Only one key allowed in anything-but expression");
			return -EINVAL;
		}
		const struct jmember *m = &v->u.members[0];
		size_t old = jptr_push_key(&c->ptr, m->key, m->key_len);
		int r;
		bool known = m->key_len == strlen(m->key);
		if (known && !strcmp(m->key, "prefix"))
			r = anything_but_list(c, m->value, COND_PREFIX, "prefix", true, out);
		else if (known && !strcmp(m->key, "suffix"))
			r = anything_but_list(c, m->value, COND_SUFFIX, "suffix", true, out);
		else if (known && !strcmp(m->key, "equals-ignore-case"))
			r = anything_but_list(c, m->value, COND_EQUALS_IC, "equals-ignore-case", false, out);
		else if (known && !strcmp(m->key, "wildcard"))
			r = anything_but_list(c, m->value, COND_WILDCARD, "wildcard", false, out);
		else if (known && !strcmp(m->key, "regex") && c->dialect == PATTERN_DIALECT_TRIPLINE)
			r = anything_but_list(c, m->value, COND_REGEX, "regex", false, out);
		else {
			jptr_pop(&c->ptr, old);
			perr(c, "Unsupported anything-but pattern: %s", m->key);
			return -EINVAL;
		}
		jptr_pop(&c->ptr, old);
		return r;
	}
	case JNODE_NULL:
	case JNODE_TRUE:
	case JNODE_FALSE:
		perr(c, "Value of anything-but must be a string, a number, an array of strings or numbers, or an object");
		return -EINVAL;
	}

	/* a value or a list of values: negated exact match */
	const struct jnode *const *items = (const struct jnode *const *)&v;
	size_t n = 1;
	if (v->type == JNODE_ARRAY) {
		items = (const struct jnode *const *)v->u.items;
		n = v->len;
	}
	for (size_t i = 0; i < n; i++) {
		if (items[i]->type == JNODE_NUMBER && !number_is_exact_double(items[i]->u.num, items[i]->len)) {
			size_t old = v->type == JNODE_ARRAY ? jptr_push_index(&c->ptr, i) : c->ptr.len;
			perr(c, "Cannot compare number: %s (anything-but numbers must be finite doubles written exactly)",
			     items[i]->u.num);
			jptr_pop(&c->ptr, old);
			return -EINVAL;
		}
	}
	if (!cond_new(c, out, COND_EXACT, true, n))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		out->n = i + 1;
		if (set_literal(c, items[i], &out->operands[i].lit) < 0) {
			cond_free(out);
			memset(out, 0, sizeof(*out));
			return -ENOMEM;
		}
	}
	return 0;
}

/*
 * One element of a field's value list that is an object: a match expression.
 * Sets *absent for {"exists": false} (no condition is produced then).
 */
static int match_expression(struct pctx *c, const struct jnode *e, struct cond *out, bool *absent)
{
	if (e->len == 0) {
		perr(c, "Match expression name not found (empty object)");
		return -EINVAL;
	}
	if (e->len > 1) {
		perr(c, "Only one key allowed in match expression");
		return -EINVAL;
	}
	const struct jmember *m = &e->u.members[0];
	const struct jnode *v = m->value;
	const char *k = m->key;
	size_t old = jptr_push_key(&c->ptr, m->key, m->key_len);
	int r;

	if (m->key_len != strlen(k))
		goto unknown;
	if (!strcmp(k, "prefix") || !strcmp(k, "suffix")) {
		r = affix_cond(c, v, k[0] == 'p', out);
	} else if (!strcmp(k, "equals-ignore-case")) {
		r = string_cond(c, v, COND_EQUALS_IC, k, out);
	} else if (!strcmp(k, "wildcard")) {
		r = string_cond(c, v, COND_WILDCARD, k, out);
	} else if (!strcmp(k, "exactly")) {
		r = string_cond(c, v, COND_EXACT, "exact", out);
		if (r == 0)
			out->operands[0].lit.exactly = true;
	} else if (!strcmp(k, "cidr")) {
		r = string_cond(c, v, COND_CIDR, k, out);
	} else if (!strcmp(k, "regex") && c->dialect == PATTERN_DIALECT_TRIPLINE) {
		r = string_cond(c, v, COND_REGEX, k, out);
	} else if (!strcmp(k, "anything-but")) {
		r = anything_but_cond(c, v, out);
	} else if (!strcmp(k, "numeric")) {
		r = numeric_cond(c, v, out);
	} else if (!strcmp(k, "exists")) {
		if (v->type != JNODE_TRUE && v->type != JNODE_FALSE) {
			perr(c, "exists match pattern must be either true or false");
			r = -EINVAL;
		} else if (v->type == JNODE_FALSE) {
			*absent = true;
			r = 1;
		} else if (cond_new(c, out, COND_EXISTS, false, 1)) {
			out->n = 1;
			r = 0;
		} else {
			r = -ENOMEM;
		}
	} else {
		goto unknown;
	}
	jptr_pop(&c->ptr, old);
	return r;
unknown:
	jptr_pop(&c->ptr, old);
	if (!strcmp(k, "regex"))
		perr(c, "Unrecognized match type regex (a tripline extension, not EventBridge)");
	else
		perr(c, "Unrecognized match type %s", k);
	return -EINVAL;
}

/* ------------------------------------------------------------ structure */

static char *join_path(const char *prefix, size_t plen, const char *key, size_t klen, size_t *ret_len)
{
	size_t n = plen ? plen + 1 + klen : klen;
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	if (plen) {
		memcpy(s, prefix, plen);
		s[plen] = '.';
		memcpy(s + plen + 1, key, klen);
	} else {
		memcpy(s, key, klen);
	}
	s[n] = '\0';
	*ret_len = n;
	return s;
}

/*
 * A field's value list (array): returns its alternatives as branches of one
 * field each — the positive conditions as one field, plus an "absent" field
 * when {"exists": false} is among them.
 */
static int value_list(struct pctx *c, const struct jnode *arr, const char *path, size_t plen,
		      struct blist *out)
{
	struct field f = {0};
	bool absent = false;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (arr->len == 0) {
		perr(c, "Empty arrays are not allowed");
		return -EINVAL;
	}
	f.conds = calloc(arr->len, sizeof(*f.conds));
	if (!f.conds) {
		c->nomem = true;
		return -ENOMEM;
	}
	for (size_t i = 0; i < arr->len; i++) {
		const struct jnode *e = arr->u.items[i];
		size_t old = jptr_push_index(&c->ptr, i);
		struct cond *cd = &f.conds[f.n];
		int rr;

		switch (e->type) {
		case JNODE_OBJECT:
			rr = match_expression(c, e, cd, &absent);
			break;
		case JNODE_ARRAY:
			perr(c, "Match value must be a string, number, true, false, null or a match expression, not an array");
			rr = -EINVAL;
			break;
		default:
			if (cond_new(c, cd, COND_EXACT, false, 1)) {
				cd->n = 1;
				rr = set_literal(c, e, &cd->operands[0].lit);
			} else {
				rr = -ENOMEM;
			}
			break;
		}
		jptr_pop(&c->ptr, old);
		if (rr < 0) {
			cond_free(cd);
			memset(cd, 0, sizeof(*cd));
		}
		if (rr == 0)
			f.n++;
		else if (rr < 0 && rr != -EINVAL)
			r = rr;
		else if (rr < 0)
			r = r ? r : rr;
	}
	if (r < 0 || c->failed)
		goto out_free;

	if (f.n > 0) {
		struct branch b = {0};
		f.path = memdup0(path, plen);
		f.path_len = plen;
		if (!f.path) {
			c->nomem = true;
			r = -ENOMEM;
			goto out_free;
		}
		if (branch_put(&b, &f) < 0) {
			c->nomem = true;
			return -ENOMEM;
		}
		memset(&f, 0, sizeof(f));
		if ((r = blist_push(c, out, &b)) < 0)
			goto out_list;
	}
	if (absent) {
		struct branch b = {0};
		struct field af = {0};
		af.absent = true;
		af.path = memdup0(path, plen);
		af.path_len = plen;
		if (!af.path || branch_put(&b, &af) < 0) {
			free(af.path);
			c->nomem = true;
			r = -ENOMEM;
			goto out_list;
		}
		if ((r = blist_push(c, out, &b)) < 0)
			goto out_list;
	}
	field_free(&f);
	return 0;
out_list:
	blist_free(out);
out_free:
	field_free(&f);
	return r < 0 ? r : -EINVAL;
}

/* The branch list of an empty conjunction: one branch with no fields. */
static int blist_unit(struct pctx *c, struct blist *l)
{
	struct branch b = {0};
	memset(l, 0, sizeof(*l));
	return blist_push(c, l, &b);
}

static int parse_object(struct pctx *c, const struct jnode *obj, const char *prefix, size_t plen,
			uint32_t depth, struct blist *out);

/* {"$or": [ {…}, {…}, … ]}: the union of each alternative's branches. */
static int parse_or(struct pctx *c, const struct jnode *v, const char *prefix, size_t plen,
		    uint32_t depth, struct blist *out)
{
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (v->type != JNODE_ARRAY || v->len < 2) {
		perr(c, "There must be at least 2 objects in a $or relationship");
		return -EINVAL;
	}
	for (size_t i = 0; i < v->len; i++) {
		const struct jnode *alt = v->u.items[i];
		size_t old = jptr_push_index(&c->ptr, i);
		struct blist sub;

		if (alt->type != JNODE_OBJECT) {
			perr(c, "Only JSON objects are allowed in the array of a $or relationship");
			jptr_pop(&c->ptr, old);
			r = -EINVAL;
			continue;
		}
		int rr = parse_object(c, alt, prefix, plen, depth + 1, &sub);
		jptr_pop(&c->ptr, old);
		if (rr < 0) {
			r = rr;
			continue;
		}
		for (size_t j = 0; j < sub.n; j++) {
			if (r == 0) {
				rr = blist_push(c, out, &sub.v[j]);
				if (rr < 0)
					r = rr;
			} else {
				branch_free(&sub.v[j]);
			}
		}
		free(sub.v);
	}
	if (r < 0)
		blist_free(out);
	return r;
}

static bool is_operator_name(const char *k, size_t len)
{
	static const char *const ops[] = {
		"prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric",
		"exists", "cidr", "exactly", "regex",
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strlen(ops[i]) == len && memcmp(ops[i], k, len) == 0)
			return true;
	return false;
}

/*
 * "$or" is the or-operator unless its value reads as an ordinary field's
 * value list (EventBridge keeps patterns written before $or existed working):
 * an array holding at least one match expression and otherwise only scalars
 * and match expressions.
 */
static bool or_is_value_list(const struct jnode *v)
{
	bool seen_expr = false;

	if (v->type != JNODE_ARRAY)
		return false;
	for (size_t i = 0; i < v->len; i++) {
		const struct jnode *e = v->u.items[i];
		if (e->type == JNODE_ARRAY)
			return false;
		if (e->type == JNODE_OBJECT) {
			if (e->len != 1 || !is_operator_name(e->u.members[0].key, e->u.members[0].key_len))
				return false;
			seen_expr = true;
		}
	}
	return seen_expr;
}

static bool later_duplicate(const struct jnode *obj, size_t i)
{
	const struct jmember *m = &obj->u.members[i];
	for (size_t j = i + 1; j < obj->len; j++) {
		if (obj->u.members[j].key_len == m->key_len &&
		    memcmp(obj->u.members[j].key, m->key, m->key_len) == 0)
			return true;
	}
	return false;
}

/* The branches of a pattern object whose fields sit under path prefix. */
static int parse_object(struct pctx *c, const struct jnode *obj, const char *prefix, size_t plen,
			uint32_t depth, struct blist *out)
{
	struct blist acc;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (obj->len == 0) {
		perr(c, "Empty objects are not allowed");
		return -EINVAL;
	}
	if (depth > DEFAULT_MAX_PATTERN_DEPTH) {
		perr(c, "pattern nested too deeply (more than %u levels)", DEFAULT_MAX_PATTERN_DEPTH);
		return -EINVAL;
	}
	if ((r = blist_unit(c, &acc)) < 0)
		return r;

	for (size_t i = 0; i < obj->len; i++) {
		const struct jmember *m = &obj->u.members[i];
		struct blist part;
		int rr;

		if (later_duplicate(obj, i))
			continue;   /* the last of repeated keys wins */
		size_t old = jptr_push_key(&c->ptr, m->key, m->key_len);
		if (memchr(m->key, '\0', m->key_len)) {
			perr(c, "field names must not contain U+0000");
			jptr_pop(&c->ptr, old);
			r = -EINVAL;
			continue;
		}
		if (m->key_len == 3 && memcmp(m->key, "$or", 3) == 0 &&
		    m->value->type != JNODE_OBJECT && !or_is_value_list(m->value)) {
			rr = parse_or(c, m->value, prefix, plen, depth, &part);
		} else {
			size_t len;
			char *path = join_path(prefix, plen, m->key, m->key_len, &len);
			if (!path) {
				c->nomem = true;
				rr = -ENOMEM;
			} else if (m->value->type == JNODE_OBJECT) {
				rr = parse_object(c, m->value, path, len, depth + 1, &part);
			} else if (m->value->type == JNODE_ARRAY) {
				rr = value_list(c, m->value, path, len, &part);
			} else {
				perr(c, "\"%s\" must be an object or an array", m->key);
				rr = -EINVAL;
			}
			free(path);
		}
		if (rr < 0) {
			r = rr;
		} else if (r < 0) {
			blist_free(&part);
		} else {
			/* with the member's pointer still pushed: a blow-up is reported there */
			struct blist prod;
			rr = blist_product(c, &acc, &part, &prod);
			if (rr < 0) {
				r = rr;
				memset(&acc, 0, sizeof(acc));
			} else {
				acc = prod;
			}
		}
		jptr_pop(&c->ptr, old);
	}
	if (r < 0) {
		blist_free(&acc);
		return r;
	}
	*out = acc;
	return 0;
}

static int field_cmp(const void *a, const void *b)
{
	const struct field *x = a, *y = b;
	size_t n = x->path_len < y->path_len ? x->path_len : y->path_len;
	int d = memcmp(x->path, y->path, n);
	if (d)
		return d;
	return (x->path_len > y->path_len) - (x->path_len < y->path_len);
}

int pattern_from_node(const struct jnode *root, enum pattern_dialect dialect,
		      const struct pattern_limits *lim, const char *base,
		      struct pattern **ret, struct errlist *errs)
{
	struct pctx c = {0};
	struct blist l;
	int r;

	*ret = NULL;
	c.dialect = dialect;
	c.max_branches = lim && lim->max_branches ? lim->max_branches : PATTERN_MAX_BRANCHES;
	c.errs = errs;
	jptr_init(&c.ptr);
	if (base && *base) {
		size_t n = strlen(base);
		if (n >= sizeof(c.ptr.buf))
			n = sizeof(c.ptr.buf) - 1;
		memcpy(c.ptr.buf, base, n);
		c.ptr.buf[n] = '\0';
		c.ptr.len = n;
	}
	if (root->type != JNODE_OBJECT) {
		perr(&c, "an event pattern must be a JSON object, not %s", jnode_type_name(root->type));
		return -EINVAL;
	}
	r = parse_object(&c, root, "", 0, 0, &l);
	if (r < 0 || c.failed || c.nomem) {
		if (r == 0)
			blist_free(&l);
		if (c.nomem)
			return -ENOMEM;
		return -EINVAL;
	}
	struct pattern *p = calloc(1, sizeof(*p));
	if (!p) {
		blist_free(&l);
		return -ENOMEM;
	}
	p->n = l.n;
	p->branches = l.v;
	for (size_t i = 0; i < p->n; i++)
		qsort(p->branches[i].fields, p->branches[i].n, sizeof(struct field), field_cmp);
	*ret = p;
	return 0;
}

int pattern_parse(const char *text, size_t len, enum pattern_dialect dialect,
		  const struct pattern_limits *lim, struct pattern **ret, struct errlist *errs)
{
	size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : DEFAULT_MAX_PATTERN_BYTES;
	struct json_limits jl = {
		.max_depth = lim && lim->max_depth ? lim->max_depth : DEFAULT_MAX_PATTERN_DEPTH * 2 + 8,
		.max_bytes = max_bytes,
	};
	struct json_error je;
	struct jdoc *doc;
	int r;

	*ret = NULL;
	if (len > max_bytes) {
		errlist_add(errs, "/", "pattern is %zu bytes, more than the limit of %zu", len, max_bytes);
		return -EINVAL;
	}
	r = jdoc_parse(text, len, &jl, &doc, &je);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		errlist_add(errs, "/", "invalid JSON at line %u, column %u: %s", je.line, je.column,
			    je.message);
		return -EINVAL;
	}
	r = pattern_from_node(jdoc_root(doc), dialect, lim, "", ret, errs);
	jdoc_free(doc);
	return r;
}
