/*
 * jcheck.c — the validation context, its messages and the member getters
 * shared by the rule-file, configuration and task-definition validators.
 *
 * The two message styles differ only in the words and in a few choices, all
 * held in one table (struct style) rather than spread over the getters: what
 * a type is called, how a member count is phrased, whether a repeated
 * unknown name counts as unknown or repeated, whether the JSON type of a
 * value is judged before its value, how the document itself is named, and
 * whether a message's text is bounded. Every getter reports at the member's
 * pointer and leaves the context's pointer as it found it.
 */
#include "jcheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "jtext.h"

struct style {
	const char *unknown;          /* a member name not among the known ones */
	const char *duplicate;        /* a member name written again */
	const char *number;           /* a member that must be a number is not one */
	const char *boolean;          /* … true or false */
	const char *nul;              /* a string (that may be empty) holds NUL */
	const char *have;             /* "must <have> N to M items" */
	bool root_slash;              /* the document itself is "/", not left out */
	bool hint;                    /* "unknown field (did you mean \"Name\"?)" */
	bool unknown_first;           /* a repeated unknown name is unknown, not repeated */
	bool typed_values;            /* integers and enums: a wrong type is told its type */
	bool count_only;              /* string arrays: a wrong count hides the items */
	bool bounded;                 /* a message's text is cut at JCHECK_ECS_MESSAGE_MAX */
};

static const struct style styles[] = {
	[JCHECK_STYLE_FILE] = {
		.unknown = "unknown field",
		.duplicate = "duplicate field",
		.number = "must be a number",
		.boolean = "must be true or false",
		.nul = "must not contain NUL characters",
		.have = "have",
		.hint = true,
	},
	[JCHECK_STYLE_ECS] = {
		.unknown = "unknown key",
		.duplicate = "duplicate key",
		.number = "must be an integer",
		.boolean = "must be a boolean",
		.nul = "must be a string without NUL characters",
		.have = "hold",
		.root_slash = true,
		.unknown_first = true,
		.typed_values = true,
		.count_only = true,
		.bounded = true,
	},
};

static const struct style *style_of(const struct jcheck *c)
{
	return &styles[c->style == JCHECK_STYLE_ECS ? JCHECK_STYLE_ECS : JCHECK_STYLE_FILE];
}

void jcheck_init(struct jcheck *c, enum jcheck_style style, struct errlist *errs,
		 const char *where)
{
	memset(c, 0, sizeof(*c));
	c->errs = errs;
	c->where = where;
	c->style = style;
	jptr_init(&c->ptr);
}

/* ------------------------------------------------------------ messages */

static void errv(struct jcheck *c, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void errv(struct jcheck *c, const char *fmt, va_list ap)
{
	const struct style *st = style_of(c);
	const char *p = jptr_str(&c->ptr);

	c->failed = true;
	if (!*p && st->root_slash)
		p = "/";
	if (st->bounded) {
		char msg[JCHECK_ECS_MESSAGE_MAX];

		vsnprintf(msg, sizeof(msg), fmt, ap);
		errlist_add(c->errs, c->where, "%s%s%s", p, *p ? ": " : "", msg);
	} else if (!c->where || !*c->where) {
		errlist_addv(c->errs, p, fmt, ap);
	} else {
		/* errlist joins one prefix: join the pointer first, then where */
		struct errlist one = ERRLIST_INIT;

		errlist_addv(&one, p, fmt, ap);
		errlist_move_prefixed(c->errs, &one, c->where);
	}
}

void jcheck_err(struct jcheck *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errv(c, fmt, ap);
	va_end(ap);
}

void jcheck_err_at_n(struct jcheck *c, const char *key, size_t key_len, const char *fmt, ...)
{
	size_t old = jcheck_push_n(c, key, key_len);
	va_list ap;

	va_start(ap, fmt);
	errv(c, fmt, ap);
	va_end(ap);
	jcheck_pop(c, old);
}

void jcheck_err_at(struct jcheck *c, const char *key, const char *fmt, ...)
{
	size_t old = jcheck_push(c, key);
	va_list ap;

	va_start(ap, fmt);
	errv(c, fmt, ap);
	va_end(ap);
	jcheck_pop(c, old);
}

char *jcheck_dup(struct jcheck *c, const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (!d) {
		c->nomem = true;
		return NULL;
	}
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

void *jcheck_calloc(struct jcheck *c, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		c->nomem = true;
	return p;
}

/* ------------------------------------------------------------ member names */

struct keyref {
	const char *key;
	size_t len;
	size_t idx;
};

static int keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int d = memcmp(x->key, y->key, n);

	if (d)
		return d;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The known name that m's name spells in another case, or NULL. */
static const char *case_hint(const struct jmember *m, const char *const *known)
{
	const char *hint = NULL;

	for (const char *const *k = known; *k; k++)
		if (strlen(*k) == m->key_len && strncasecmp(*k, m->key, m->key_len) == 0)
			hint = *k;
	return hint;
}

/* Sorting the names finds repetitions in n log n: an object may have many. */
void jcheck_fields(struct jcheck *c, const struct jnode *obj, const char *const *known,
		   const char *const *unsupported)
{
	const struct style *st = style_of(c);
	size_t n = obj->len;
	struct keyref *refs;
	bool *dup;

	if (n == 0)
		return;
	refs = malloc(n * sizeof(*refs));
	dup = calloc(n, sizeof(*dup));
	if (!refs || !dup) {
		c->nomem = true;
		goto out_free;
	}
	for (size_t i = 0; i < n; i++) {
		refs[i].key = obj->u.members[i].key;
		refs[i].len = obj->u.members[i].key_len;
		refs[i].idx = i;
	}
	qsort(refs, n, sizeof(*refs), keyref_cmp);
	for (size_t i = 1; i < n; i++)
		if (refs[i].len == refs[i - 1].len &&
		    memcmp(refs[i].key, refs[i - 1].key, refs[i].len) == 0)
			dup[refs[i].idx] = true;
	for (size_t i = 0; i < n; i++) {
		const struct jmember *m = &obj->u.members[i];
		bool unknown = known && !jtext_in_list(m->key, m->key_len, known);
		const char *hint;

		if (dup[i] && !(unknown && st->unknown_first)) {
			jcheck_err_at_n(c, m->key, m->key_len, "%s", st->duplicate);
			continue;
		}
		if (!unknown)
			continue;
		if (jtext_in_list(m->key, m->key_len, unsupported))
			jcheck_err_at_n(c, m->key, m->key_len, "not supported by tripline");
		else if (st->hint && (hint = case_hint(m, known)))
			jcheck_err_at_n(c, m->key, m->key_len, "%s (did you mean \"%s\"?)",
					st->unknown, hint);
		else
			jcheck_err_at_n(c, m->key, m->key_len, "%s", st->unknown);
	}
out_free:
	free(dup);
	free(refs);
}

/* ------------------------------------------------------------ getters */

static const char *type_sentence(const struct style *st, enum jnode_type t)
{
	switch (t) {
	case JNODE_STRING: return "must be a string";
	case JNODE_OBJECT: return "must be an object";
	case JNODE_ARRAY: return "must be an array";
	case JNODE_NUMBER: return st->number;
	case JNODE_TRUE:
	case JNODE_FALSE: return st->boolean;
	case JNODE_NULL: return "must be null";
	}
	return "has the wrong type";
}

/* The member, or NULL when absent ("is required" when required). */
static const struct jnode *present(struct jcheck *c, const struct jnode *obj, const char *key,
				   unsigned flags)
{
	const struct jnode *n = jnode_get(obj, key);

	if (!n && (flags & JCHECK_REQUIRED))
		jcheck_err_at(c, key, "is required");
	return n;
}

const struct jnode *jcheck_member(struct jcheck *c, const struct jnode *obj, const char *key,
				  enum jnode_type t, unsigned flags)
{
	const struct jnode *n = present(c, obj, key, flags);

	if (!n)
		return NULL;
	if (n->type == t || (t == JNODE_TRUE && n->type == JNODE_FALSE))
		return n;
	jcheck_err_at(c, key, "%s", type_sentence(style_of(c), t));
	return NULL;
}

const struct jnode *jcheck_object(struct jcheck *c, const struct jnode *obj, const char *key,
				  unsigned flags, const char *const *known)
{
	const struct jnode *o = jcheck_member(c, obj, key, JNODE_OBJECT, flags);

	if (o) {
		size_t old = jcheck_push(c, key);
		jcheck_fields(c, o, known, NULL);
		jcheck_pop(c, old);
	}
	return o;
}

const char *jcheck_string(struct jcheck *c, const struct jnode *obj, const char *key,
			  unsigned flags, size_t *ret_len)
{
	const struct jnode *n = jcheck_member(c, obj, key, JNODE_STRING, flags);
	bool nonempty = (flags & JCHECK_NONEMPTY) != 0;

	if (!n)
		return NULL;
	if ((nonempty && n->len == 0) || memchr(n->u.str, '\0', n->len)) {
		if (nonempty)
			jcheck_err_at(c, key, "must be a non-empty string without NUL characters");
		else
			jcheck_err_at(c, key, "%s", style_of(c)->nul);
		return NULL;
	}
	*ret_len = n->len;
	return n->u.str;
}

int jcheck_int(struct jcheck *c, const struct jnode *obj, const char *key, unsigned flags,
	       int64_t lo, int64_t hi, int64_t *ret)
{
	const struct style *st = style_of(c);
	const struct jnode *n = present(c, obj, key, flags);

	if (!n)
		return 0;
	if (n->type != JNODE_NUMBER && st->typed_values) {
		jcheck_err_at(c, key, "%s", type_sentence(st, JNODE_NUMBER));
		return -1;
	}
	if (n->type != JNODE_NUMBER || !jtext_int(n->u.num, n->len, lo, hi, ret)) {
		jcheck_err_at(c, key, "must be an integer from %lld to %lld", (long long)lo,
			      (long long)hi);
		return -1;
	}
	return 1;
}

int jcheck_bool(struct jcheck *c, const struct jnode *obj, const char *key, unsigned flags,
		bool *ret)
{
	const struct jnode *n = present(c, obj, key, flags);

	if (!n)
		return 0;
	if (n->type != JNODE_TRUE && n->type != JNODE_FALSE) {
		jcheck_err_at(c, key, "%s", type_sentence(style_of(c), JNODE_TRUE));
		return -1;
	}
	if (ret)
		*ret = n->type == JNODE_TRUE;
	return 1;
}

int jcheck_enum(struct jcheck *c, const struct jnode *obj, const char *key, unsigned flags,
		const char *const *names, int dflt)
{
	const struct style *st = style_of(c);
	const struct jnode *n = present(c, obj, key, flags);
	char msg[256];
	size_t count = 0, o;

	if (!n)
		return dflt;
	if (n->type != JNODE_STRING && st->typed_values) {
		jcheck_err_at(c, key, "%s", type_sentence(st, JNODE_STRING));
		return -1;
	}
	for (; names[count]; count++)
		if (jnode_streq(n, names[count]))
			return (int)count;
	o = (size_t)snprintf(msg, sizeof(msg), "must be %s", count > 2 ? "one of " : "");
	for (size_t i = 0; i < count && o < sizeof(msg); i++) {
		const char *sep = i == 0 ? "" : (count == 2 ? " or " : ", ");
		o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s", sep, names[i]);
	}
	jcheck_err_at(c, key, "%s", msg);
	return -1;
}

static void count_err(struct jcheck *c, size_t min, size_t max)
{
	jcheck_err(c, "must %s %zu to %zu items", style_of(c)->have, min, max);
}

const struct jnode *jcheck_array(struct jcheck *c, const struct jnode *obj, const char *key,
				 unsigned flags, size_t min, size_t max)
{
	const struct jnode *a = jcheck_member(c, obj, key, JNODE_ARRAY, flags);

	if (a && (a->len < min || a->len > max)) {
		size_t old = jcheck_push(c, key);
		count_err(c, min, max);
		jcheck_pop(c, old);
		return NULL;
	}
	return a;
}

const struct jnode *jcheck_strings(struct jcheck *c, const struct jnode *obj, const char *key,
				   unsigned flags, size_t min, size_t max,
				   bool (*item_ok)(const char *s, size_t n),
				   const char *item_sentence)
{
	const struct jnode *a = jcheck_member(c, obj, key, JNODE_ARRAY, flags);
	bool ok = true;
	size_t old;

	if (!a)
		return NULL;
	old = jcheck_push(c, key);
	if (a->len < min || a->len > max) {
		count_err(c, min, max);
		ok = false;
		if (style_of(c)->count_only)
			goto out_pop;
	}
	for (size_t i = 0; i < a->len; i++) {
		const struct jnode *it = a->u.items[i];

		if (it->type == JNODE_STRING && (!item_ok || item_ok(it->u.str, it->len)))
			continue;
		size_t o2 = jcheck_push_index(c, i);
		jcheck_err(c, "%s", item_sentence);
		jcheck_pop(c, o2);
		ok = false;
	}
out_pop:
	jcheck_pop(c, old);
	return ok ? a : NULL;
}

void jcheck_each_object(struct jcheck *c, const struct jnode *a, const char *key,
			jcheck_item_fn fn, void *arg)
{
	size_t old = jcheck_push(c, key);

	for (size_t i = 0; i < a->len; i++) {
		size_t o2 = jcheck_push_index(c, i);

		if (a->u.items[i]->type != JNODE_OBJECT)
			jcheck_err(c, "must be an object");
		else
			fn(c, a->u.items[i], i, arg);
		jcheck_pop(c, o2);
	}
	jcheck_pop(c, old);
}
