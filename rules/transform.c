/*
 * transform.c — a rule target's input (transform.h): Input, InputPath and
 * InputTransformer compiled when the rule loads, rendered per event.
 *
 * Compiling. Every JSONPath of the spec (InputPath, or each InputPathsMap
 * value) becomes a node of one trie of key segments and array indexes;
 * equal paths share a node. An InputTemplate is read twice: first every
 * <name> in it is resolved (a map name or a reserved aws.events.* name; an
 * unknown one is an error), then it is parsed as JSON in which a
 * placeholder may stand wherever a value can. If that works the template is
 * JSON: its literal text is kept compact (no whitespace outside strings)
 * and each placeholder is marked as a whole value or as part of a string
 * literal. If it does not, the template is plain text (EventBridge's own
 * "<instance> is in state <status>"), unless it starts with '{' or '[' —
 * then it was meant as JSON and the reason it is not is the error. The
 * result is a list of pieces: literal text, then a placeholder.
 *
 * Rendering reads the event once, with the strict lexer of common/json_lex.h
 * (no tree, no allocation): it walks down only where the trie has children,
 * skips (validating) everything else, and records the span of each path's
 * value (the last one, when an object repeats a key). Then the pieces are
 * written out: a value as compact JSON, a string's body as it stands (its
 * escapes are already valid inside a string literal), an object or array
 * in a string as its compact text with '"' and '\' escaped, text decoded
 * in a plain-text template. The output is bounded (transform.h).
 *
 * Pure code: a compiled transform is immutable and shared between threads;
 * nothing here logs.
 */
#include "transform.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_lex.h"
#include "jtext.h"
#include "rulefield.h"

/* Nesting the renderer follows and a template may have. */
#define RENDER_MAX_DEPTH 512u
#define TEMPLATE_MAX_DEPTH 128u
/* An escaped key longer than this cannot decode to a path name (at most 256
 * characters, 1,024 bytes; an escape is at most 6 bytes for 1). */
#define KEY_DECODE_MAX 6144u

enum mode {
	MODE_EVENT,      /* the whole event */
	MODE_CONSTANT,   /* Input: text holds it, compact */
	MODE_PATH,       /* InputPath: node path_node */
	MODE_JSON,       /* a JSON template: pieces */
	MODE_TEXT,       /* a plain-text template: pieces */
};

enum var_kind {
	VAR_NONE,
	VAR_PATH,
	VAR_RULE_NAME,
	VAR_RULE_ARN,
	VAR_INGESTION_TIME,
	VAR_EVENT,        /* the event without its "detail" */
	VAR_EVENT_JSON,   /* the whole event */
};

enum var_place {
	AT_VALUE,         /* a whole JSON value */
	IN_STRING,        /* inside a JSON string literal */
	IN_TEXT,          /* in a plain-text template */
};

static const struct {
	const char *name;
	enum var_kind kind;
} reserved[] = {
	{"aws.events.rule-name", VAR_RULE_NAME},
	{"aws.events.rule-arn", VAR_RULE_ARN},
	{"aws.events.event.ingestion-time", VAR_INGESTION_TIME},
	{"aws.events.event", VAR_EVENT},
	{"aws.events.event.json", VAR_EVENT_JSON},
};

/* Literal text (text[lit_off..+lit_len)), then a placeholder unless VAR_NONE. */
struct piece {
	size_t lit_off, lit_len;
	enum var_kind kind;
	enum var_place place;
	int32_t node;     /* VAR_PATH */
};

/* A trie node: one key segment or array index below its parent. */
struct tnode {
	int32_t first_child, next;
	bool is_index;
	bool terminal;    /* some path ends here */
	uint32_t index;
	size_t name_off, name_len;   /* into names */
};

struct transform {
	enum mode mode;
	enum transform_shape shape;
	char *text;
	size_t text_len;
	struct piece *pieces;
	size_t npieces;
	struct tnode *nodes;         /* nodes[0]: the root, "$" */
	size_t nnodes;
	char *names;
	size_t names_len;
	int32_t path_node;           /* MODE_PATH */
	bool walk;                   /* a rendering needs path values */
};

/* ------------------------------------------------------------ growing buffers */

struct buf {
	char *p;
	size_t len, cap, max;
	bool nomem, toobig;
};

static bool buf_reserve(struct buf *b, size_t n)
{
	if (b->nomem || b->toobig)
		return false;
	if (n > b->max - b->len) {
		b->toobig = true;
		return false;
	}
	if (b->len + n + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	char *np = realloc(b->p, cap);
	if (!np) {
		b->nomem = true;
		return false;
	}
	b->p = np;
	b->cap = cap;
	return true;
}

static void buf_put(struct buf *b, const char *s, size_t n)
{
	if (n == 0 || !buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void buf_ch(struct buf *b, char c)
{
	buf_put(b, &c, 1);
}

/* ------------------------------------------------------------ names and paths */

const char *transform_name_problem(const char *s, size_t n)
{
	if (rulefield_has_prefix_ci(s, n, "aws."))
		return "names starting with \"aws.\" are reserved for the predefined placeholders";
	if (n == 0 || !jtext_chars_in(s, n, "_-"))
		return "a name must be letters, digits, '_' and '-'";
	if (n > TRANSFORM_MAX_NAME)
		return "a name must be at most 256 characters";
	return NULL;
}

const char *transform_path_problem(const char *s, size_t n)
{
	const char *why = rulefield_jsonpath_problem(s, n);

	if (why)
		return why;
	if (memchr(s, '\0', n))
		return "must not contain U+0000";
	for (size_t i = 1; i < n; i++)
		if (s[i - 1] == '.' && s[i] == '*' && (i + 1 == n || s[i + 1] == '.' || s[i + 1] == '['))
			return "wildcards (*) are not supported: name each key, as in $.detail.key";
	return NULL;
}

static int32_t node_add(struct transform *t, struct buf *names, int32_t parent, bool is_index,
			uint32_t index, const char *name, size_t name_len)
{
	for (int32_t c = t->nodes[parent].first_child; c >= 0; c = t->nodes[c].next) {
		const struct tnode *cn = &t->nodes[c];
		if (cn->is_index == is_index &&
		    (is_index ? cn->index == index
			      : cn->name_len == name_len && memcmp(names->p + cn->name_off, name, name_len) == 0))
			return c;
	}
	struct tnode *nn = realloc(t->nodes, (t->nnodes + 1) * sizeof(*nn));
	if (!nn)
		return -1;
	t->nodes = nn;
	size_t off = names->len;
	buf_put(names, name, name_len);
	if (names->nomem)
		return -1;
	nn[t->nnodes] = (struct tnode){
		.first_child = -1, .next = nn[parent].first_child, .is_index = is_index,
		.index = index, .name_off = off, .name_len = name_len,
	};
	nn[parent].first_child = (int32_t)t->nnodes;
	return (int32_t)t->nnodes++;
}

/* The trie node of a valid path (transform_path_problem()), added if new; -1: no memory. */
static int32_t path_add(struct transform *t, struct buf *names, const char *s, size_t n)
{
	int32_t node = 0;
	size_t i = 1;

	while (i < n && node >= 0) {
		size_t start = ++i;   /* past '.' */
		while (i < n && s[i] != '.' && s[i] != '[')
			i++;
		node = node_add(t, names, node, false, 0, s + start, i - start);
		while (i < n && s[i] == '[' && node >= 0) {
			uint64_t v = 0;
			for (i++; s[i] != ']'; i++)
				if (v <= UINT32_MAX)
					v = v * 10 + (uint64_t)(s[i] - '0');
			i++;
			node = node_add(t, names, node, true, v > UINT32_MAX ? UINT32_MAX : (uint32_t)v,
					NULL, 0);
		}
	}
	if (node >= 0)
		t->nodes[node].terminal = true;
	return node;
}

/* ------------------------------------------------------------ templates */

struct tcomp {
	struct transform *t;
	const struct transform_spec *spec;
	const int32_t *map_nodes;    /* the trie node of each map entry */
	struct buf text;
	struct piece *pieces;
	size_t npieces, cap;
	size_t lit_start;
	bool nomem;
	const char *err;             /* why the template is not JSON */
	const char *err_at;
};

/* A placeholder "<name>" at p: its length, or 0. */
static size_t placeholder_len(const char *p, const char *end)
{
	const char *q = p + 1;

	if (*p != '<')
		return 0;
	while (q < end && (jtext_is_alnum(*q) || *q == '_' || *q == '.' || *q == '-'))
		q++;
	if (q == p + 1 || q >= end || *q != '>')
		return 0;
	return (size_t)(q - p) + 1;
}

/* What the placeholder at p (placeholder_len() > 0) stands for; false when undefined. */
static bool placeholder_resolve(const struct tcomp *c, const char *p, size_t len,
				enum var_kind *ret_kind, int32_t *ret_node)
{
	const char *name = p + 1;
	size_t n = len - 2;

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (jtext_eq(name, n, reserved[i].name)) {
			*ret_kind = reserved[i].kind;
			*ret_node = -1;
			return true;
		}
	}
	for (size_t i = 0; i < c->spec->n_paths; i++) {
		if (jtext_eq(name, n, c->spec->names[i])) {
			*ret_kind = VAR_PATH;
			*ret_node = c->map_nodes[i];
			return true;
		}
	}
	return false;
}

static void tc_push(struct tcomp *c, enum var_kind kind, enum var_place place, int32_t node)
{
	if (c->npieces == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct piece *np = realloc(c->pieces, cap * sizeof(*np));
		if (!np) {
			c->nomem = true;
			return;
		}
		c->pieces = np;
		c->cap = cap;
	}
	c->pieces[c->npieces++] = (struct piece){
		.lit_off = c->lit_start, .lit_len = c->text.len - c->lit_start,
		.kind = kind, .place = place, .node = node,
	};
	c->lit_start = c->text.len;
}

/* The placeholder at p (placeholder_len() == len, defined: checked first). */
static void tc_var(struct tcomp *c, const char *p, size_t len, enum var_place place)
{
	enum var_kind kind = VAR_NONE;
	int32_t node = -1;

	placeholder_resolve(c, p, len, &kind, &node);
	tc_push(c, kind, place, node);
}

static bool tc_fail(struct tcomp *c, const char *at, const char *msg)
{
	if (!c->err) {
		c->err = msg;
		c->err_at = at;
	}
	return false;
}

/* A string literal at p ('"'); *pp moves past it. */
static bool tc_string(struct tcomp *c, const char **pp, const char *end, bool key)
{
	const char *p = *pp + 1;
	struct json_lexerr lx;

	buf_ch(&c->text, '"');
	for (;;) {
		const char *run = p;
		while (p < end && *p != '"' && *p != '\\' && *p != '<' && (unsigned char)*p >= 0x20 &&
		       (unsigned char)*p < 0x80)
			p++;
		buf_put(&c->text, run, (size_t)(p - run));
		if (p >= end)
			return tc_fail(c, p, "unterminated string");
		if (*p == '"') {
			buf_ch(&c->text, '"');
			*pp = p + 1;
			return true;
		}
		if (*p == '<') {
			size_t len = placeholder_len(p, end);
			if (!len) {
				buf_ch(&c->text, '<');
				p++;
				continue;
			}
			if (key)
				return tc_fail(c, p, "a placeholder cannot be used in an object key");
			tc_var(c, p, len, IN_STRING);
			p += len;
			continue;
		}
		const char *q;
		if (*p == '\\')
			q = json_lex_escape(p, end, &lx);
		else if ((unsigned char)*p < 0x20)
			return tc_fail(c, p, "control character in string");
		else
			q = json_lex_utf8(p, end);
		if (!q)
			return tc_fail(c, p, *p == '\\' ? "invalid escape in string" : "invalid UTF-8");
		buf_put(&c->text, p, (size_t)(q - p));
		p = q;
	}
}

static const char *ws(const char *p, const char *end)
{
	return json_lex_ws(p, end);
}

/* One JSON value (or a placeholder standing for one) at *pp. */
static bool tc_value(struct tcomp *c, const char **pp, const char *end, unsigned depth)
{
	const char *p = ws(*pp, end);
	struct json_lexerr lx;
	size_t len;

	if (p >= end)
		return tc_fail(c, p, "expected a value");
	switch (*p) {
	case '<':
		if (!(len = placeholder_len(p, end)))
			return tc_fail(c, p, "expected a value");
		tc_var(c, p, len, AT_VALUE);
		*pp = p + len;
		return true;
	case '"':
		if (!tc_string(c, &p, end, false))
			return false;
		*pp = p;
		return true;
	case '{':
	case '[': {
		bool obj = *p == '{';
		char close = obj ? '}' : ']';
		if (depth >= TEMPLATE_MAX_DEPTH)
			return tc_fail(c, p, "nested too deep");
		buf_ch(&c->text, *p);
		p = ws(p + 1, end);
		if (p < end && *p == close) {
			buf_ch(&c->text, close);
			*pp = p + 1;
			return true;
		}
		for (;;) {
			if (obj) {
				p = ws(p, end);
				if (p < end && *p == '<' && placeholder_len(p, end))
					return tc_fail(c, p, "a placeholder cannot be used as an object key");
				if (p >= end || *p != '"')
					return tc_fail(c, p, "expected a string key in object");
				if (!tc_string(c, &p, end, true))
					return false;
				p = ws(p, end);
				if (p >= end || *p != ':')
					return tc_fail(c, p, "expected ':' after object key");
				buf_ch(&c->text, ':');
				p++;
			}
			if (!tc_value(c, &p, end, depth + 1))
				return false;
			p = ws(p, end);
			if (p < end && *p == ',') {
				buf_ch(&c->text, ',');
				p++;
				continue;
			}
			if (p < end && *p == close) {
				buf_ch(&c->text, close);
				*pp = p + 1;
				return true;
			}
			return tc_fail(c, p, obj ? "expected ',' or '}' in object"
						 : "expected ',' or ']' in array");
		}
	}
	case 't':
		*pp = json_lex_word(p, end, "true", 4, &lx);
		break;
	case 'f':
		*pp = json_lex_word(p, end, "false", 5, &lx);
		break;
	case 'n':
		*pp = json_lex_word(p, end, "null", 4, &lx);
		break;
	default:
		*pp = json_lex_number(p, end, &lx);
		break;
	}
	if (!*pp)
		return tc_fail(c, lx.at, lx.msg);
	buf_put(&c->text, p, (size_t)(*pp - p));
	return true;
}

static void tc_reset(struct tcomp *c)
{
	c->text.len = 0;
	c->text.nomem = false;
	c->npieces = 0;
	c->lit_start = 0;
}

/* The template as plain text: literal runs and placeholders. */
static void tc_text(struct tcomp *c, const char *s, size_t n)
{
	const char *p = s, *end = s + n, *run = s;

	while ((p = memchr(p, '<', (size_t)(end - p)))) {
		size_t len = placeholder_len(p, end);
		if (!len) {
			p++;
			continue;
		}
		buf_put(&c->text, run, (size_t)(p - run));
		tc_var(c, p, len, IN_TEXT);
		p += len;
		run = p;
	}
	buf_put(&c->text, run, (size_t)(end - run));
}

static int why_set(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int why_set(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int compile_template(struct transform *t, const struct transform_spec *spec,
			    const int32_t *map_nodes, char *why, size_t whylen)
{
	const char *s = spec->template_text, *end = s + spec->template_len, *p;
	struct tcomp c = {.t = t, .spec = spec, .map_nodes = map_nodes};
	int r = 0;

	c.text.max = SIZE_MAX / 2;
	if (spec->template_len == 0 ||
	    rulefield_utf8_chars(s, spec->template_len) > TRANSFORM_MAX_TEMPLATE)
		return why_set(why, whylen, "must be 1 to %u characters", TRANSFORM_MAX_TEMPLATE);
	/* every placeholder must be defined, whatever the template is */
	for (p = s; (p = memchr(p, '<', (size_t)(end - p))); p++) {
		size_t len = placeholder_len(p, end);
		enum var_kind kind;
		int32_t node;
		if (len && !placeholder_resolve(&c, p, len, &kind, &node))
			return why_set(why, whylen, "placeholder %.*s is not defined in InputPathsMap",
				       (int)len, p);
	}

	p = s;
	if (tc_value(&c, &p, end, 0) && ws(p, end) == end) {
		const char *first = ws(s, end);
		t->mode = MODE_JSON;
		t->shape = TRANSFORM_SHAPE_JSON;
		if (*first == '{') {
			t->shape = TRANSFORM_SHAPE_OBJECT;
		} else if (*first == '<' && c.npieces == 1) {
			enum var_kind k = c.pieces[0].kind;
			if (k == VAR_EVENT || k == VAR_EVENT_JSON)
				t->shape = TRANSFORM_SHAPE_OBJECT;
			else if (k == VAR_PATH)
				t->shape = TRANSFORM_SHAPE_DEPENDS;
		}
	} else {
		const char *first = ws(s, end);
		if (c.nomem || c.text.nomem) {
			r = -ENOMEM;
			goto out;
		}
		if (first < end && (*first == '{' || *first == '[')) {
			if (!c.err) {
				c.err = "unexpected text after the value";
				c.err_at = ws(p, end);
			}
			r = why_set(why, whylen,
				    "starts with '%c' but is not JSON: %s at offset %zu (a placeholder may stand where a value can, or inside a string)",
				    *first, c.err, (size_t)(c.err_at - s));
			goto out;
		}
		tc_reset(&c);
		t->mode = MODE_TEXT;
		t->shape = TRANSFORM_SHAPE_TEXT;
		tc_text(&c, s, spec->template_len);
	}
	/* the last piece: the literal after the last placeholder */
	if (!c.nomem && !c.text.nomem) {
		tc_push(&c, VAR_NONE, AT_VALUE, -1);
	}
	if (c.nomem || c.text.nomem) {
		r = -ENOMEM;
		goto out;
	}
	t->text = c.text.p;
	t->text_len = c.text.len;
	t->pieces = c.pieces;
	t->npieces = c.npieces;
	return 0;
out:
	free(c.text.p);
	free(c.pieces);
	return r;
}

/* ------------------------------------------------------------ compiling */

/* Compact copy of valid JSON text into *ret. */
static int compact_copy(const char *s, size_t n, char **ret, size_t *ret_len);

int transform_compile(const struct transform_spec *spec, struct transform **ret, char *why, size_t whylen)
{
	struct transform *t = calloc(1, sizeof(*t));
	struct buf names = {.max = SIZE_MAX / 2};
	int32_t *map_nodes = NULL;
	const char *problem;
	int r = -ENOMEM;

	*ret = NULL;
	if (why && whylen)
		why[0] = '\0';
	if (!t || !(t->nodes = calloc(1, sizeof(*t->nodes))))
		goto fail;
	t->nnodes = 1;
	t->nodes[0].first_child = -1;
	t->nodes[0].next = -1;
	t->path_node = -1;
	t->mode = MODE_EVENT;
	t->shape = TRANSFORM_SHAPE_OBJECT;

	if (!!spec->input + !!spec->input_path + !!spec->template_text > 1) {
		r = why_set(why, whylen, "Input, InputPath and InputTransformer cannot be used together");
		goto fail;
	}
	if (spec->n_paths && !spec->template_text) {
		r = why_set(why, whylen, "InputPathsMap needs an InputTemplate");
		goto fail;
	}
	if (spec->input) {
		struct json_lexerr lx;
		const char *end = spec->input + spec->input_len;
		const char *q = json_lex_skip(spec->input, end, TEMPLATE_MAX_DEPTH, &lx);
		if (!q || ws(q, end) != end) {
			r = why_set(why, whylen, "Input is not valid JSON: %s at offset %zu",
				    q ? "unexpected text after the value" : lx.msg,
				    (size_t)((q ? ws(q, end) : lx.at) - spec->input));
			goto fail;
		}
		if ((r = compact_copy(spec->input, spec->input_len, &t->text, &t->text_len)) < 0)
			goto fail;
		t->mode = MODE_CONSTANT;
		t->shape = t->text[0] == '{' ? TRANSFORM_SHAPE_OBJECT : TRANSFORM_SHAPE_JSON;
	} else if (spec->input_path) {
		if ((problem = transform_path_problem(spec->input_path, strlen(spec->input_path)))) {
			r = why_set(why, whylen, "InputPath: invalid JSONPath: %s", problem);
			goto fail;
		}
		r = -ENOMEM;
		if ((t->path_node = path_add(t, &names, spec->input_path, strlen(spec->input_path))) < 0)
			goto fail;
		t->mode = MODE_PATH;
		t->walk = true;
		t->shape = t->path_node == 0 ? TRANSFORM_SHAPE_OBJECT : TRANSFORM_SHAPE_DEPENDS;
	} else if (spec->template_text) {
		if (spec->n_paths > TRANSFORM_MAX_PATHS) {
			r = why_set(why, whylen, "InputPathsMap must have at most %u entries",
				    TRANSFORM_MAX_PATHS);
			goto fail;
		}
		if (spec->n_paths && !(map_nodes = calloc(spec->n_paths, sizeof(*map_nodes))))
			goto fail;
		for (size_t i = 0; i < spec->n_paths; i++) {
			const char *name = spec->names[i], *path = spec->paths[i];
			if ((problem = transform_name_problem(name, strlen(name)))) {
				r = why_set(why, whylen, "InputPathsMap: %s: %s", name, problem);
				goto fail;
			}
			if ((problem = transform_path_problem(path, strlen(path)))) {
				r = why_set(why, whylen, "InputPathsMap: %s: invalid JSONPath: %s", name,
					    problem);
				goto fail;
			}
			r = -ENOMEM;
			if ((map_nodes[i] = path_add(t, &names, path, strlen(path))) < 0)
				goto fail;
			t->walk = true;
		}
		if ((r = compile_template(t, spec, map_nodes, why, whylen)) < 0)
			goto fail;
	}
	t->names = names.p;
	t->names_len = names.len;
	free(map_nodes);
	*ret = t;
	return 0;
fail:
	free(names.p);
	free(map_nodes);
	transform_free(t);
	if (r == -ENOMEM && why && whylen)
		snprintf(why, whylen, "out of memory");
	return r;
}

void transform_free(struct transform *t)
{
	if (!t)
		return;
	free(t->text);
	free(t->pieces);
	free(t->nodes);
	free(t->names);
	free(t);
}

enum transform_shape transform_shape(const struct transform *t)
{
	return t->shape;
}

/* ------------------------------------------------------------ reading the event */

struct span {
	const char *p, *end;   /* p NULL: not found */
	bool seen;             /* the walk reached the node's value */
};

struct walker {
	const struct transform *t;
	struct span *spans;    /* one per trie node */
	char *key;             /* KEY_DECODE_MAX bytes for escaped keys, made when needed */
	bool nomem;
	struct json_lexerr lx;
};

static const char *walk_value(struct walker *w, int32_t node, const char *p, const char *end,
			      uint32_t depth);

/* The child of node for the key whose raw body is k[0..n) (escaped or not), or -1. */
static int32_t key_child(struct walker *w, int32_t node, const char *k, size_t n, bool esc)
{
	if (esc) {
		if (n > KEY_DECODE_MAX)
			return -1;
		if (!w->key && !(w->key = malloc(KEY_DECODE_MAX))) {
			w->nomem = true;
			return -1;
		}
		n = json_unescape(k, k + n, w->key);
		k = w->key;
	}
	for (int32_t c = w->t->nodes[node].first_child; c >= 0; c = w->t->nodes[c].next) {
		const struct tnode *cn = &w->t->nodes[c];
		if (!cn->is_index && cn->name_len == n && memcmp(w->t->names + cn->name_off, k, n) == 0)
			return c;
	}
	return -1;
}

static int32_t index_child(const struct walker *w, int32_t node, size_t i)
{
	for (int32_t c = w->t->nodes[node].first_child; c >= 0; c = w->t->nodes[c].next)
		if (w->t->nodes[c].is_index && w->t->nodes[c].index == i)
			return c;
	return -1;
}

static const char *walk_container(struct walker *w, int32_t node, const char *p, const char *end,
				  uint32_t depth)
{
	bool obj = *p == '{';
	char close = obj ? '}' : ']';
	size_t i = 0;
	bool esc;

	if (depth >= RENDER_MAX_DEPTH)
		return json_lex_fail(&w->lx, p, "nesting too deep");
	p = ws(p + 1, end);
	if (p < end && *p == close)
		return p + 1;
	for (;; i++) {
		int32_t child;
		if (obj) {
			p = ws(p, end);
			if (p >= end || *p != '"')
				return json_lex_fail(&w->lx, p, "expected a string key in object");
			const char *k = p + 1;
			if (!(p = json_lex_string(k, end, &esc, &w->lx)))
				return NULL;
			child = key_child(w, node, k, (size_t)(p - 1 - k), esc);
			p = ws(p, end);
			if (p >= end || *p != ':')
				return json_lex_fail(&w->lx, p, "expected ':' after object key");
			p++;
		} else {
			child = index_child(w, node, i);
		}
		if (child >= 0)
			p = walk_value(w, child, p, end, depth + 1);
		else
			p = json_lex_skip(p, end, RENDER_MAX_DEPTH - depth - 1, &w->lx);
		if (!p)
			return NULL;
		p = ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == close)
			return p + 1;
		return json_lex_fail(&w->lx, p, obj ? "expected ',' or '}' in object"
						    : "expected ',' or ']' in array");
	}
}

/* Forgets what was found below node (an object repeated its key: the last one counts). */
static void forget_below(struct walker *w, int32_t node)
{
	for (int32_t c = w->t->nodes[node].first_child; c >= 0; c = w->t->nodes[c].next) {
		w->spans[c].p = NULL;
		forget_below(w, c);
	}
}

static const char *walk_value(struct walker *w, int32_t node, const char *p, const char *end,
			      uint32_t depth)
{
	const struct tnode *tn = &w->t->nodes[node];
	const char *start;

	if (w->spans[node].seen)
		forget_below(w, node);
	w->spans[node].seen = true;
	p = start = ws(p, end);
	if (tn->first_child >= 0 && p < end && (*p == '{' || *p == '['))
		p = walk_container(w, node, p, end, depth);
	else
		p = json_lex_skip(p, end, RENDER_MAX_DEPTH - depth, &w->lx);
	if (p && tn->terminal) {
		w->spans[node].p = start;
		w->spans[node].end = p;
	}
	return p;
}

/* ------------------------------------------------------------ writing */

/* Valid JSON s[0..n) without the whitespace outside strings; '"' and '\'
 * escaped when esc (compact JSON has nothing else a string must escape). */
static void put_compact(struct buf *b, const char *s, const char *end, bool esc)
{
	bool in_str = false;

	if (s == end || !buf_reserve(b, (size_t)(end - s) * (esc ? 2 : 1)))
		return;
	char *o = b->p + b->len;
	for (; s < end; s++) {
		char ch = *s;
		if (in_str) {
			if (ch == '\\') {
				if (esc)
					*o++ = '\\';
				*o++ = '\\';
				ch = *++s;
				if (esc && ch == '\\')
					*o++ = '\\';
				else if (esc && ch == '"')
					*o++ = '\\';
				*o++ = ch;
				continue;
			}
			if (ch == '"')
				in_str = false;
		} else if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') {
			continue;
		} else if (ch == '"') {
			in_str = true;
		}
		if (esc && ch == '"')
			*o++ = '\\';
		*o++ = ch;
	}
	b->len = (size_t)(o - b->p);
}

/* A C string as JSON string content (quoted unless bare). */
static void put_text_json(struct buf *b, const char *s, bool quoted)
{
	static const char hex[] = "0123456789abcdef";

	if (quoted)
		buf_ch(b, '"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			buf_ch(b, '\\');
			buf_ch(b, (char)ch);
		} else if (ch < 0x20) {
			char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
			buf_put(b, e, 6);
		} else {
			buf_ch(b, (char)ch);
		}
	}
	if (quoted)
		buf_ch(b, '"');
}

/* The event without its top-level "detail" members, compact. */
static void put_event_without_detail(struct buf *b, const char *s, const char *end, bool esc)
{
	struct json_lexerr lx;
	bool first = true, kesc;
	const char *p = ws(s, end);

	if (p >= end || *p != '{') {
		put_compact(b, p, end, esc);
		return;
	}
	buf_ch(b, '{');
	p = ws(p + 1, end);
	while (p && p < end && *p == '"') {
		const char *m = p, *k = p + 1;
		if (!(p = json_lex_string(k, end, &kesc, &lx)))
			break;
		size_t kn = (size_t)(p - 1 - k);
		char tmp[8];
		bool detail = kesc ? kn <= sizeof(tmp) && json_unescape(k, k + kn, tmp) == 6 &&
					     memcmp(tmp, "detail", 6) == 0
				   : jtext_eq(k, kn, "detail");
		p = ws(p, end);
		p = p < end ? json_lex_skip(p + 1, end, RENDER_MAX_DEPTH, &lx) : NULL;
		if (!p)
			break;
		if (!detail) {
			if (!first)
				buf_ch(b, ',');
			put_compact(b, m, p, esc);
			first = false;
		}
		p = ws(p, end);
		if (p < end && *p == ',')
			p = ws(p + 1, end);
	}
	buf_ch(b, '}');
}

static void put_var(struct buf *b, const struct piece *pc, const struct transform_ctx *ctx,
		    const struct span *spans)
{
	const char *str = NULL;
	bool esc = pc->place == IN_STRING;

	switch (pc->kind) {
	case VAR_NONE:
		return;
	case VAR_RULE_NAME:
		str = ctx->rule_name;
		break;
	case VAR_RULE_ARN:
		str = ctx->rule_arn;
		break;
	case VAR_INGESTION_TIME:
		str = ctx->ingestion_time;
		break;
	case VAR_EVENT:
		put_event_without_detail(b, ctx->event, ctx->event + ctx->event_len, esc);
		return;
	case VAR_EVENT_JSON:
		put_compact(b, ctx->event, ctx->event + ctx->event_len, esc);
		return;
	case VAR_PATH: {
		const struct span *sp = &spans[pc->node];
		if (!sp->p) {
			if (pc->place == AT_VALUE)
				buf_put(b, "\"\"", 2);
			return;
		}
		if (*sp->p == '"' && pc->place != AT_VALUE) {
			const char *body = sp->p + 1, *bend = sp->end - 1;
			if (pc->place == IN_STRING) {
				buf_put(b, body, (size_t)(bend - body));
			} else if (buf_reserve(b, (size_t)(bend - body))) {
				b->len += json_unescape(body, bend, b->p + b->len);
			}
			return;
		}
		put_compact(b, sp->p, sp->end, esc);
		return;
	}
	}
	if (!str)
		str = "";
	if (pc->place == IN_TEXT)
		buf_put(b, str, strlen(str));
	else
		put_text_json(b, str, pc->place == AT_VALUE);
}

int transform_render(const struct transform *t, const struct transform_ctx *ctx, char **ret, size_t *ret_len)
{
	struct walker w = {.t = t};
	const char *end = ctx->event + ctx->event_len, *p;
	struct buf b = {0};
	int r = 0;

	*ret = NULL;
	*ret_len = 0;
	b.max = ctx->event_len > TRANSFORM_MAX_OUTPUT / 2 ? ctx->event_len * 2 : TRANSFORM_MAX_OUTPUT;
	if (t->walk && !(w.spans = calloc(t->nnodes, sizeof(*w.spans))))
		return -ENOMEM;
	/* one pass: validates the event and finds every path's value */
	p = t->walk ? walk_value(&w, 0, ctx->event, end, 0)
		    : json_lex_skip(ctx->event, end, RENDER_MAX_DEPTH, &w.lx);
	if (w.nomem) {
		r = -ENOMEM;
		goto out;
	}
	if (!p || ws(p, end) != end) {
		r = -EINVAL;
		goto out;
	}
	switch (t->mode) {
	case MODE_EVENT:
		put_compact(&b, ctx->event, end, false);
		break;
	case MODE_CONSTANT:
		buf_put(&b, t->text, t->text_len);
		break;
	case MODE_PATH: {
		const struct span *sp = &w.spans[t->path_node];
		if (sp->p)
			put_compact(&b, sp->p, sp->end, false);
		else
			buf_put(&b, "\"\"", 2);
		break;
	}
	case MODE_JSON:
	case MODE_TEXT:
		for (size_t i = 0; i < t->npieces; i++) {
			if (t->pieces[i].lit_len)
				buf_put(&b, t->text + t->pieces[i].lit_off, t->pieces[i].lit_len);
			put_var(&b, &t->pieces[i], ctx, w.spans);
		}
		break;
	}
	if (!buf_reserve(&b, 0)) {
		r = b.nomem ? -ENOMEM : -E2BIG;
		goto out;
	}
	if (!b.p && !(b.p = malloc(1))) {
		r = -ENOMEM;
		goto out;
	}
	b.p[b.len] = '\0';
	*ret = b.p;
	*ret_len = b.len;
	b.p = NULL;
out:
	free(b.p);
	free(w.spans);
	free(w.key);
	return r;
}

static int compact_copy(const char *s, size_t n, char **ret, size_t *ret_len)
{
	struct buf b = {.max = SIZE_MAX / 2};

	put_compact(&b, s, s + n, false);
	if (!buf_reserve(&b, 0)) {
		free(b.p);
		return -ENOMEM;
	}
	b.p[b.len] = '\0';
	*ret = b.p;
	*ret_len = b.len;
	return 0;
}
