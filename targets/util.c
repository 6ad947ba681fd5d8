/*
 * util.c — helpers every target kind uses (targets_internal.h): the target
 * object's JSON, load-time errors in the rule loader's form, JSONPath into
 * an event, compact JSON, URL encoding, and ending an attempt.
 */
#include "targets_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "json.h"
#include "json_lex.h"

json_t *tgt_target_json(const struct rule *rule, size_t i, struct errlist *errs)
{
	const struct rule_target *t = &rule->targets[i];
	json_error_t jerr;
	json_t *j = json_loadb(t->json, t->json_len, JSON_REJECT_DUPLICATES, &jerr);

	if (!j || !json_is_object(j)) {
		tgt_error(errs, rule, i, "", "cannot read the target: %s", j ? "not an object" : jerr.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

void tgt_error(struct errlist *errs, const struct rule *rule, size_t i, const char *where, const char *fmt, ...)
{
	char place[512];
	va_list ap;

	snprintf(place, sizeof(place), "%s: %s/Targets/%zu%s%s", rule->file ? rule->file : rule->name,
		 rule->where ? rule->where : "", i, *where ? "/" : "", where);
	va_start(ap, fmt);
	errlist_addv(errs, place, fmt, ap);
	va_end(ap);
}

int tgt_prepare_resource(const struct rule *rule, size_t i, const char *missing, void **ret, struct errlist *errs)
{
	const char *res = rule->targets[i].resource;

	*ret = NULL;
	if (!res || !*res) {
		tgt_error(errs, rule, i, "Arn", "%s", missing);
		return -EINVAL;
	}
	*ret = strdup(res);
	return *ret ? 0 : -ENOMEM;
}

void tgt_wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

const char *tgt_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

json_t *tgt_path_get(json_t *root, const char *path)
{
	const char *p = path;
	json_t *v = root;

	if (!path || *p++ != '$')
		return NULL;
	while (*p && v) {
		if (*p == '.') {
			size_t n = strcspn(++p, ".[");
			char key[257];
			if (n == 0 || n >= sizeof(key) || !json_is_object(v))
				return NULL;
			memcpy(key, p, n);
			key[n] = '\0';
			v = json_object_get(v, key);
			p += n;
		} else if (*p == '[') {
			char *end;
			unsigned long k = strtoul(p + 1, &end, 10);
			if (end == p + 1 || *end != ']' || !json_is_array(v))
				return NULL;
			v = json_array_get(v, k);
			p = end + 1;
		} else {
			return NULL;
		}
	}
	return v;
}

char *tgt_value_text(const json_t *v)
{
	if (json_is_string(v))
		return strdup(json_string_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

json_t *tgt_event_json(const struct target_call *call)
{
	return json_loadb(call->ev->json, call->ev->len, 0, NULL);
}

void tgt_finish(target_done_fn done, void *arg, enum target_outcome outcome, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct target_result res = {outcome, code, msg};
	done(arg, &res);
}

void tgt_ok(target_done_fn done, void *arg)
{
	struct target_result res = {TARGET_OK, NULL, NULL};
	done(arg, &res);
}

bool tgt_is_json(const char *text, size_t len)
{
	/* the reader's own grammar, validated without building a tree */
	struct json_lexerr lx;
	const char *end = text + len, *p = json_lex_skip(text, end, JSON_DEFAULT_MAX_DEPTH, &lx);

	return p && json_lex_ws(p, end) == end;
}

size_t tgt_compact_json(const char *text, size_t len, char *out)
{
	size_t k = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (in_string) {
			out[k++] = c;
			if (c == '\\' && i + 1 < len)
				out[k++] = text[++i];
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
			out[k++] = c;
		} else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			out[k++] = c;
		}
	}
	out[k] = '\0';
	return k;
}

int tgt_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 256;
		while (c < *len + n + 1)
			c *= 2;
		char *b = realloc(*buf, c);
		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

int tgt_url_encode(const char *s, char **buf, size_t *len, size_t *cap)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
		bool bare = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			    *p == '-' || *p == '_' || *p == '.' || *p == '~';
		int r = bare ? tgt_append(buf, len, cap, (const char *)p, 1) : tgt_append(buf, len, cap, enc, 3);
		if (r < 0)
			return r;
	}
	return 0;
}
