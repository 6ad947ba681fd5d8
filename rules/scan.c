/*
 * scan.c — the event scanner: reads an event's JSON text once and records
 * the leaf values on the paths some pattern names.
 *
 * It walks the path trie (matcher_build.c) alongside the text: a member key
 * is resolved segment by segment ("a.b" and {"a": {"b": …}} reach the same
 * node), and a member whose key leads nowhere is skipped with
 * json_lex_skip(), which validates what it skips without storing anything.
 * Leaf values on known paths are recorded per path (s->head) with the array
 * element they sit in; every array element that is an object or an array
 * gets an element node, which the threads use for array consistency.
 *
 * Promise: the grammar is common/json_lex.h's, so an invalid event is always
 * an error (-EINVAL) and never a wrong answer; the event's size, depth and
 * recorded values are bounded by the matcher's limits (-E2BIG).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json_lex.h"
#include "matcher_internal.h"

struct scan {
	const struct matcher *m;
	struct match_scratch *s;
	const char *start;
	const char *end;
	struct json_lexerr lx;
	int err;               /* -EINVAL / -E2BIG / -ENOMEM */
	const char *why;
};

static const char *scan_fail(struct scan *sc, const char *at, int err, const char *why)
{
	if (!sc->err) {
		sc->err = err;
		sc->why = why;
		sc->lx.at = at;
	}
	return NULL;
}

static const char *scan_lexfail(struct scan *sc)
{
	if (!sc->err) {
		sc->err = sc->lx.limit ? -E2BIG : -EINVAL;
		sc->why = sc->lx.msg;
	}
	return NULL;
}

/*
 * Records a leaf on path: val, or (text_off != NONE) the decoded string at
 * text_off in the text buffer. When the start state tests this path, the
 * lookups of the leaf are asked for at once (vm_prefetch()): the rest of
 * the event is scanned while the lines arrive.
 */
static int add_leaf(struct scan *sc, uint32_t path, enum leaf_type t, const char *val, size_t len,
		    uint32_t text_off, uint32_t elem)
{
	struct match_scratch *s = sc->s;
	struct leaf lf;

	if (s->leaves.n >= sc->m->lim.max_leaves) {
		scan_fail(sc, val, -E2BIG, "too many values on the patterns' paths");
		return -E2BIG;
	}
	memset(&lf, 0, sizeof(lf));
	lf.elem = elem;
	lf.type = (uint8_t)t;
	lf.val = val;
	lf.len = (uint32_t)len;
	lf.num = NONE;
	if (text_off != NONE) {
		lf.in_text = 1;
		lf.val_off = text_off;
	}
	if (s->head[path] == NONE && VEC_PUSH(s->touched, path) < 0)
		return -ENOMEM;
	lf.next = s->head[path];
	if (VEC_PUSH(s->leaves, lf) < 0)
		return -ENOMEM;
	s->head[path] = (uint32_t)(s->leaves.n - 1);
	uint32_t vi = sc->m->start_vm[path];
	if (vi != NONE)
		vm_prefetch(sc->m, s, vi, &s->leaves.v[s->leaves.n - 1]);
	return 0;
}

static const char *scan_value(struct scan *sc, const char *p, uint32_t node, uint32_t elem, uint32_t depth);

/*
 * Resolves a member key from node: the key's '.'-separated segments are
 * followed one by one, so {"a.b": 1} and {"a": {"b": 1}} reach the same node.
 */
static inline __attribute__((always_inline)) uint32_t key_node(struct scan *sc, uint32_t node, const char *key, size_t klen, const char *limit)
{
	const struct matcher *m = sc->m;
	const struct pnode *pn = &m->pnodes[node];
	uint64_t kw = key_word(key, klen, limit);

	/* the whole key first: segments hold no '.', so a hit is the answer */
	uint32_t child = pnode_child(pn, key, klen, kw);
	if (child != NONE)
		return child;
	/* a miss is the answer too unless the key holds a '.' */
	if (!key_has_dot(key, klen, kw))
		return NONE;
	for (;;) {
		const char *dot = memchr(key, '.', klen);
		size_t seg = dot ? (size_t)(dot - key) : klen;
		node = pnode_child(&m->pnodes[node], key, seg, key_word(key, seg, limit));
		if (node == NONE || !dot)
			return node;
		klen -= seg + 1;
		key = dot + 1;
	}
}

static const char *scan_object(struct scan *sc, const char *p, uint32_t node, uint32_t elem, uint32_t depth)
{
	const char *end = sc->end;
	bool esc;

	/* p is just after '{' */
	p = json_lex_ws(p, end);
	if (p < end && *p == '}')
		return p + 1;
	for (;;) {
		if (p >= end || *p != '"')
			return scan_fail(sc, p, -EINVAL, p < end ? "expected a string key in object"
								 : "unexpected end of input");
		const char *kstart = p + 1;
		p = json_lex_string(kstart, end, &esc, &sc->lx);
		if (!p)
			return scan_lexfail(sc);
		const char *kend = p - 1;
		uint32_t child;
		if (!esc) {
			child = key_node(sc, node, kstart, (size_t)(kend - kstart), end);
		} else {
			struct match_scratch *s = sc->s;
			if (text_reserve(s, (size_t)(kend - kstart)) < 0)
				return scan_fail(sc, p, -ENOMEM, "out of memory");
			size_t n = json_unescape(kstart, kend, s->text.v + s->text.n);
			child = key_node(sc, node, s->text.v + s->text.n, n, s->text.v + s->text.n + n);
		}
		p = json_lex_ws(p, end);
		if (p >= end || *p != ':')
			return scan_fail(sc, p, -EINVAL, "expected ':' after object key");
		p++;
		if (child == NONE) {
			/* strings and numbers, most skipped values, without the general skipper */
			p = json_lex_ws(p, end);
			if (p < end && *p == '"') {
				p = json_lex_string(p + 1, end, &esc, &sc->lx);
			} else if (p < end && (*p == '-' || (*p >= '0' && *p <= '9'))) {
				p = json_lex_number(p, end, &sc->lx);
			} else {
				p = json_lex_skip(p, end, sc->m->lim.max_depth - depth, &sc->lx);
			}
			if (!p)
				return scan_lexfail(sc);
		} else {
			p = scan_value(sc, p, child, elem, depth);
			if (!p)
				return NULL;
		}
		p = json_lex_ws(p, end);
		if (p < end && *p == ',') {
			p = json_lex_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			return p + 1;
		return scan_fail(sc, p, -EINVAL, p < end ? "expected ',' or '}' in object"
							 : "unexpected end of input");
	}
}

static const char *scan_array(struct scan *sc, const char *p, uint32_t node, uint32_t elem, uint32_t depth)
{
	const char *end = sc->end;
	struct match_scratch *s = sc->s;
	uint32_t array = s->arrays++;
	uint32_t edepth = elem == NONE ? 1 : s->elems.v[elem].depth + 1;

	/* p is just after '[' */
	p = json_lex_ws(p, end);
	if (p < end && *p == ']')
		return p + 1;
	for (;;) {
		p = json_lex_ws(p, end);
		if (p < end && (*p == '{' || *p == '[')) {
			struct elem e = {elem, array, edepth};
			if (VEC_PUSH(s->elems, e) < 0)
				return scan_fail(sc, p, -ENOMEM, "out of memory");
			p = scan_value(sc, p, node, (uint32_t)(s->elems.n - 1), depth);
		} else {
			p = scan_value(sc, p, node, elem, depth);
		}
		if (!p)
			return NULL;
		p = json_lex_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == ']')
			return p + 1;
		return scan_fail(sc, p, -EINVAL, p < end ? "expected ',' or ']' in array"
							 : "unexpected end of input");
	}
}

/* Scans the value at p for trie node `node`. */
static const char *scan_value(struct scan *sc, const char *p, uint32_t node, uint32_t elem, uint32_t depth)
{
	const char *end = sc->end;
	const struct pnode *pn = &sc->m->pnodes[node];
	uint32_t path = pn->path;
	const char *start;
	bool esc;

	p = json_lex_ws(p, end);
	if (p >= end)
		return scan_fail(sc, p, -EINVAL, "unexpected end of input");
	switch (*p) {
	case '{':
		if (!pn->nchild)
			break;   /* nothing below this node: validate and skip */
		if (depth + 1 > sc->m->lim.max_depth)
			return scan_fail(sc, p, -E2BIG, "nesting too deep");
		return scan_object(sc, p + 1, node, elem, depth + 1);
	case '[':
		if (depth + 1 > sc->m->lim.max_depth)
			return scan_fail(sc, p, -E2BIG, "nesting too deep");
		return scan_array(sc, p + 1, node, elem, depth + 1);
	case '"': {
		start = p + 1;
		p = json_lex_string(start, end, &esc, &sc->lx);
		if (!p)
			return scan_lexfail(sc);
		if (path == NONE)
			return p;
		const char *val = start;
		size_t len = (size_t)(p - 1 - start);
		if (esc) {
			struct match_scratch *s = sc->s;
			if (text_reserve(s, len) < 0)
				return scan_fail(sc, p, -ENOMEM, "out of memory");
			size_t off = s->text.n;
			size_t n = json_unescape(start, p - 1, s->text.v + off);
			s->text.n += n;
			if (add_leaf(sc, path, LEAF_STRING, NULL, n, (uint32_t)off, elem) < 0)
				return NULL;
			return p;
		}
		if (add_leaf(sc, path, LEAF_STRING, val, len, NONE, elem) < 0)
			return NULL;
		return p;
	}
	case 't':
	case 'f':
	case 'n': {
		static const struct {
			const char *word;
			size_t len;
			enum leaf_type type;
		} lits[] = {{"true", 4, LEAF_TRUE}, {"false", 5, LEAF_FALSE}, {"null", 4, LEAF_NULL}};
		int li = *p == 't' ? 0 : *p == 'f' ? 1 : 2;
		start = p;
		p = json_lex_word(p, end, lits[li].word, lits[li].len, &sc->lx);
		if (!p)
			return scan_lexfail(sc);
		if (path != NONE && add_leaf(sc, path, lits[li].type, start, lits[li].len, NONE, elem) < 0)
			return NULL;
		return p;
	}
	default:
		start = p;
		p = json_lex_number(p, end, &sc->lx);
		if (!p)
			return scan_lexfail(sc);
		if (path != NONE && add_leaf(sc, path, LEAF_NUMBER, start, (size_t)(p - start), NONE, elem) < 0)
			return NULL;
		return p;
	}
	p = json_lex_skip(p, end, sc->m->lim.max_depth - depth, &sc->lx);
	return p ? p : scan_lexfail(sc);
}

int scan_event(const struct matcher *m, struct match_scratch *s, const char *json, size_t len)
{
	struct scan sc = {0};
	const char *p;

	if (len > m->lim.max_event_bytes) {
		snprintf(s->error, sizeof(s->error), "event is %zu bytes, more than the limit of %zu",
			 len, m->lim.max_event_bytes);
		return -E2BIG;
	}
	sc.m = m;
	sc.s = s;
	sc.start = json;
	sc.end = json + len;
	p = json_lex_ws(json, sc.end);
	if (p >= sc.end || *p != '{') {
		if (p < sc.end && (p = json_lex_skip(p, sc.end, m->lim.max_depth, &sc.lx)) &&
		    json_lex_ws(p, sc.end) == sc.end)
			snprintf(s->error, sizeof(s->error), "an event must be a JSON object");
		else
			snprintf(s->error, sizeof(s->error), "invalid JSON at byte %zu: %s",
				 (size_t)((p ? p : sc.lx.at ? sc.lx.at : json) - json),
				 p ? "an event must be a JSON object" : sc.lx.msg ? sc.lx.msg : "empty input");
		return -EINVAL;
	}
	p = scan_object(&sc, p + 1, 0, NONE, 1);
	if (p) {
		p = json_lex_ws(p, sc.end);
		if (p != sc.end)
			scan_fail(&sc, p, -EINVAL, "unexpected text after the JSON value");
	}
	if (sc.err) {
		if (sc.err == -ENOMEM)
			return -ENOMEM;
		snprintf(s->error, sizeof(s->error), "%s at byte %zu: %s",
			 sc.err == -E2BIG ? "event exceeds a limit" : "invalid JSON",
			 (size_t)((sc.lx.at ? sc.lx.at : json) - json), sc.why ? sc.why : "error");
		return sc.err;
	}
	return 0;
}
