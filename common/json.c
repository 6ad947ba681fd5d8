/*
 * json.c — the strict JSON tree parser behind rule files and patterns.
 *
 * A recursive-descent parser over the primitives of json_lex.h, bounded by
 * struct json_limits (depth is checked before every descent, so recursion is
 * bounded too). All nodes and strings live in one arena owned by the jdoc:
 * building is a bump allocation per node and freeing is a walk over a few
 * chunks. Arrays and objects collect their children in a growable scratch
 * vector and are copied into the arena at the close bracket, so the tree is
 * compact and read-only afterwards.
 *
 * Strings are stored decoded (escapes resolved) and NUL-terminated; numbers
 * are stored as their exact source text.
 */
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_lex.h"

struct arena_chunk {
	struct arena_chunk *next;
	size_t used;
	size_t cap;
	max_align_t data[];
};

struct jdoc {
	struct arena_chunk *chunks;
	struct jnode *root;
};

struct parser {
	struct jdoc *doc;
	const char *start;
	const char *end;
	uint32_t max_depth;
	struct json_lexerr lx;
	bool nomem;
};

static void *arena_alloc(struct jdoc *doc, size_t n)
{
	struct arena_chunk *c = doc->chunks;

	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (!c || c->cap - c->used < n) {
		size_t cap = n > 16384 ? n : 16384;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = doc->chunks;
		doc->chunks = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static struct jnode *new_node(struct parser *ps, enum jnode_type t, const char *at)
{
	struct jnode *n = arena_alloc(ps->doc, sizeof(*n));
	if (!n) {
		ps->nomem = true;
		return NULL;
	}
	memset(n, 0, sizeof(*n));
	n->type = t;
	n->offset = (uint32_t)(at - ps->start);
	return n;
}

static struct jnode *parse_value(struct parser *ps, const char **pp, uint32_t depth);

/* Decodes the string whose body starts at p (after the quote); sets *pp past it. */
static char *parse_string(struct parser *ps, const char **pp, size_t *ret_len)
{
	const char *body = *pp;
	bool escaped;
	const char *after = json_lex_string(body, ps->end, &escaped, &ps->lx);

	if (!after)
		return NULL;
	size_t raw = (size_t)(after - 1 - body);
	char *s = arena_alloc(ps->doc, raw + 1);
	if (!s) {
		ps->nomem = true;
		return NULL;
	}
	size_t n = raw;
	if (escaped)
		n = json_unescape(body, after - 1, s);
	else
		memcpy(s, body, raw);
	s[n] = '\0';
	*ret_len = n;
	*pp = after;
	return s;
}

/* A growable vector of pointers, used while a container is open. */
struct vec {
	void **v;
	size_t n, cap;
};

static int vec_push(struct vec *v, void *p)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		void **nv = realloc(v->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n++] = p;
	return 0;
}

static struct jnode *parse_array(struct parser *ps, const char **pp, uint32_t depth)
{
	const char *p = *pp;
	struct jnode *n = new_node(ps, JNODE_ARRAY, p);
	struct vec items = {0};

	if (!n)
		return NULL;
	p = json_lex_ws(p + 1, ps->end);
	if (p < ps->end && *p == ']') {
		*pp = p + 1;
		return n;
	}
	for (;;) {
		struct jnode *item = parse_value(ps, &p, depth + 1);
		if (!item)
			goto fail;
		if (vec_push(&items, item) < 0) {
			ps->nomem = true;
			goto fail;
		}
		p = json_lex_ws(p, ps->end);
		if (p < ps->end && *p == ',') {
			p++;
			continue;
		}
		if (p < ps->end && *p == ']') {
			p++;
			break;
		}
		json_lex_fail(&ps->lx, p, p < ps->end ? "expected ',' or ']' in array"
						      : "unexpected end of input");
		goto fail;
	}
	n->len = items.n;
	n->u.items = arena_alloc(ps->doc, items.n * sizeof(*n->u.items));
	if (!n->u.items) {
		ps->nomem = true;
		goto fail;
	}
	memcpy(n->u.items, items.v, items.n * sizeof(*n->u.items));
	free(items.v);
	*pp = p;
	return n;
fail:
	free(items.v);
	return NULL;
}

static struct jnode *parse_object(struct parser *ps, const char **pp, uint32_t depth)
{
	const char *p = *pp;
	struct jnode *n = new_node(ps, JNODE_OBJECT, p);
	struct vec keys = {0};   /* pairs: key string, then value node; lengths kept in a third */
	struct vec lens = {0};

	if (!n)
		return NULL;
	p = json_lex_ws(p + 1, ps->end);
	if (p < ps->end && *p == '}') {
		*pp = p + 1;
		return n;
	}
	for (;;) {
		size_t klen;
		if (p >= ps->end || *p != '"') {
			json_lex_fail(&ps->lx, p, p < ps->end ? "expected a string key in object"
							      : "unexpected end of input");
			goto fail;
		}
		p++;
		char *key = parse_string(ps, &p, &klen);
		if (!key)
			goto fail;
		p = json_lex_ws(p, ps->end);
		if (p >= ps->end || *p != ':') {
			json_lex_fail(&ps->lx, p, "expected ':' after object key");
			goto fail;
		}
		p++;
		struct jnode *val = parse_value(ps, &p, depth + 1);
		if (!val)
			goto fail;
		if (vec_push(&keys, key) < 0 || vec_push(&keys, val) < 0 ||
		    vec_push(&lens, (void *)(uintptr_t)klen) < 0) {
			ps->nomem = true;
			goto fail;
		}
		p = json_lex_ws(p, ps->end);
		if (p < ps->end && *p == ',') {
			p = json_lex_ws(p + 1, ps->end);
			continue;
		}
		if (p < ps->end && *p == '}') {
			p++;
			break;
		}
		json_lex_fail(&ps->lx, p, p < ps->end ? "expected ',' or '}' in object"
						      : "unexpected end of input");
		goto fail;
	}
	n->len = lens.n;
	n->u.members = arena_alloc(ps->doc, lens.n * sizeof(*n->u.members));
	if (!n->u.members) {
		ps->nomem = true;
		goto fail;
	}
	for (size_t i = 0; i < lens.n; i++) {
		n->u.members[i].key = keys.v[2 * i];
		n->u.members[i].value = keys.v[2 * i + 1];
		n->u.members[i].key_len = (size_t)(uintptr_t)lens.v[i];
	}
	free(keys.v);
	free(lens.v);
	*pp = p;
	return n;
fail:
	free(keys.v);
	free(lens.v);
	return NULL;
}

static struct jnode *parse_value(struct parser *ps, const char **pp, uint32_t depth)
{
	const char *p = json_lex_ws(*pp, ps->end);
	struct jnode *n;

	if (p >= ps->end) {
		json_lex_fail(&ps->lx, p, "unexpected end of input");
		return NULL;
	}
	switch (*p) {
	case '{':
	case '[':
		if (depth >= ps->max_depth) {
			json_lex_fail(&ps->lx, p, "nesting too deep");
			ps->lx.limit = true;
			return NULL;
		}
		n = *p == '{' ? parse_object(ps, &p, depth) : parse_array(ps, &p, depth);
		break;
	case '"': {
		size_t len;
		n = new_node(ps, JNODE_STRING, p);
		if (!n)
			return NULL;
		p++;
		n->u.str = parse_string(ps, &p, &len);
		if (!n->u.str)
			return NULL;
		n->len = len;
		break;
	}
	case 't':
	case 'f':
	case 'n': {
		const char *w = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
		enum jnode_type t = *p == 't' ? JNODE_TRUE : *p == 'f' ? JNODE_FALSE : JNODE_NULL;
		n = new_node(ps, t, p);
		if (!n)
			return NULL;
		p = json_lex_word(p, ps->end, w, strlen(w), &ps->lx);
		if (!p)
			return NULL;
		break;
	}
	default: {
		const char *start = p;
		p = json_lex_number(p, ps->end, &ps->lx);
		if (!p)
			return NULL;
		n = new_node(ps, JNODE_NUMBER, start);
		if (!n)
			return NULL;
		size_t len = (size_t)(p - start);
		char *text = arena_alloc(ps->doc, len + 1);
		if (!text) {
			ps->nomem = true;
			return NULL;
		}
		memcpy(text, start, len);
		text[len] = '\0';
		n->u.num = text;
		n->len = len;
		break;
	}
	}
	if (n) {
		n->end = (uint32_t)(p - ps->start);
		*pp = p;
	}
	return n;
}

static void fill_error(struct json_error *err, const char *start, const char *at, const char *msg)
{
	unsigned line = 1, col = 1;

	if (!err)
		return;
	for (const char *q = start; q < at; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	err->offset = (size_t)(at - start);
	err->line = line;
	err->column = col;
	snprintf(err->message, sizeof(err->message), "%s", msg);
}

int jdoc_parse(const char *text, size_t len, const struct json_limits *lim,
	       struct jdoc **ret_doc, struct json_error *err)
{
	size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : JSON_DEFAULT_MAX_BYTES;
	struct parser ps = {0};
	const char *p = text;

	*ret_doc = NULL;
	if (len > max_bytes || len > UINT32_MAX) {
		fill_error(err, text, text, "document too large");
		return -E2BIG;
	}
	ps.doc = calloc(1, sizeof(*ps.doc));
	if (!ps.doc)
		return -ENOMEM;
	ps.start = text;
	ps.end = text + len;
	ps.max_depth = lim && lim->max_depth ? lim->max_depth : JSON_DEFAULT_MAX_DEPTH;

	ps.doc->root = parse_value(&ps, &p, 0);
	if (ps.doc->root) {
		p = json_lex_ws(p, ps.end);
		if (p != ps.end) {
			json_lex_fail(&ps.lx, p, "unexpected text after the JSON value");
			ps.doc->root = NULL;
		}
	}
	if (!ps.doc->root) {
		int r = ps.nomem ? -ENOMEM : ps.lx.limit ? -E2BIG : -EINVAL;
		if (!ps.nomem)
			fill_error(err, text, ps.lx.at ? ps.lx.at : text,
				   ps.lx.msg ? ps.lx.msg : "invalid JSON");
		jdoc_free(ps.doc);
		return r;
	}
	*ret_doc = ps.doc;
	return 0;
}

const struct jnode *jdoc_root(const struct jdoc *doc)
{
	return doc->root;
}

void jdoc_free(struct jdoc *doc)
{
	if (!doc)
		return;
	struct arena_chunk *c = doc->chunks;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	free(doc);
}

const struct jnode *jnode_get(const struct jnode *obj, const char *key)
{
	size_t klen = strlen(key);

	if (!obj || obj->type != JNODE_OBJECT)
		return NULL;
	for (size_t i = obj->len; i-- > 0;) {
		const struct jmember *m = &obj->u.members[i];
		if (m->key_len == klen && memcmp(m->key, key, klen) == 0)
			return m->value;
	}
	return NULL;
}

bool jnode_streq(const struct jnode *n, const char *s)
{
	size_t len = strlen(s);
	return n && n->type == JNODE_STRING && n->len == len && memcmp(n->u.str, s, len) == 0;
}

const char *jnode_type_name(enum jnode_type t)
{
	switch (t) {
	case JNODE_NULL: return "null";
	case JNODE_FALSE:
	case JNODE_TRUE: return "boolean";
	case JNODE_NUMBER: return "number";
	case JNODE_STRING: return "string";
	case JNODE_ARRAY: return "array";
	case JNODE_OBJECT: return "object";
	}
	return "value";
}

void jptr_init(struct jptr *p)
{
	p->len = 0;
	p->buf[0] = '\0';
}

static void jptr_putc(struct jptr *p, char c)
{
	/* keep room for the "…" marker (3 bytes) and the NUL */
	if (p->len + 5 > sizeof(p->buf)) {
		if (p->len + 4 <= sizeof(p->buf) && (p->len < 3 || memcmp(p->buf + p->len - 3, "\xe2\x80\xa6", 3) != 0)) {
			memcpy(p->buf + p->len, "\xe2\x80\xa6", 3);
			p->len += 3;
			p->buf[p->len] = '\0';
		}
		return;
	}
	p->buf[p->len++] = c;
	p->buf[p->len] = '\0';
}

size_t jptr_push_key(struct jptr *p, const char *key, size_t key_len)
{
	size_t old = p->len;

	jptr_putc(p, '/');
	for (size_t i = 0; i < key_len; i++) {
		if (key[i] == '~') {
			jptr_putc(p, '~');
			jptr_putc(p, '0');
		} else if (key[i] == '/') {
			jptr_putc(p, '~');
			jptr_putc(p, '1');
		} else if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f) {
			/* a pointer is only ever shown: controls as JSON escapes */
			char esc[8];
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)(unsigned char)key[i]);
			for (const char *e = esc; *e; e++)
				jptr_putc(p, *e);
		} else {
			jptr_putc(p, key[i]);
		}
	}
	return old;
}

size_t jptr_push_index(struct jptr *p, size_t index)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%zu", index);
	return jptr_push_key(p, num, (size_t)n);
}

void jptr_pop(struct jptr *p, size_t old_len)
{
	if (old_len <= p->len) {
		p->len = old_len;
		p->buf[old_len] = '\0';
	}
}

const char *jptr_str(const struct jptr *p)
{
	return p->buf;
}
