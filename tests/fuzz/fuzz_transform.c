/*
 * fuzz_transform.c — libFuzzer target for the input transformer
 * (rules/transform.h): the compiler and the renderer.
 *
 * Input: a mode byte, then three parts separated by "\n--\n":
 *   mode % 4 == 0  InputTemplate, InputPathsMap ("name=path" lines), event
 *   mode % 4 == 1  InputPath, (unused), event
 *   mode % 4 == 2  Input, (unused), event
 *   mode % 4 == 3  (nothing: the event itself), (unused), event
 *
 * What must hold: a spec compiles, or is refused with -EINVAL and a reason;
 * a compiled transform renders an event that a strict JSON parser accepts
 * (unless the output would pass its bound) and refuses one it rejects; the
 * output is as long as it says, renders the same twice, and is valid JSON
 * whenever the transform's shape is not plain text (an object when it says
 * so). Nothing may crash, leak or trip the sanitizers.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "transform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PATHS 110

/* The next part of [*p, end) up to "\n--\n" (or the end). */
static const char *next_part(const char **p, const char *end, size_t *ret_len)
{
	const char *start = *p, *sep = memmem(start, (size_t)(end - start), "\n--\n", 4);

	*ret_len = sep ? (size_t)(sep - start) : (size_t)(end - start);
	*p = sep ? sep + 4 : end;
	return start;
}

static bool valid_json(const char *s, size_t n, uint32_t depth)
{
	struct json_limits lim = {.max_depth = depth, .max_bytes = (size_t)64 << 20};
	struct jdoc *doc = NULL;
	int r = jdoc_parse(s, n, &lim, &doc, NULL);

	jdoc_free(doc);
	return r == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	size_t alen, blen, elen;
	struct transform_spec spec = {0};
	const char *names[MAX_PATHS], *paths[MAX_PATHS];
	char *a, *b, why[256];
	struct transform *t = NULL;

	if (size < 1)
		return 0;
	const char *ap = next_part(&p, end, &alen);
	const char *bp = next_part(&p, end, &blen);
	const char *ev = next_part(&p, end, &elen);
	/* NUL-terminated copies: the spec's paths and names are C strings */
	a = malloc(alen + 1);
	b = malloc(blen + 1);
	if (!a || !b)
		abort();
	memcpy(a, ap, alen);
	a[alen] = '\0';
	memcpy(b, bp, blen);
	b[blen] = '\0';

	switch (data[0] % 4) {
	case 0:
		spec.template_text = a;
		spec.template_len = alen;
		for (char *line = b, *nl; line && *line && spec.n_paths < MAX_PATHS; line = nl) {
			nl = strchr(line, '\n');
			if (nl)
				*nl++ = '\0';
			char *eq = strchr(line, '=');
			if (!eq)
				continue;
			*eq = '\0';
			names[spec.n_paths] = line;
			paths[spec.n_paths++] = eq + 1;
		}
		spec.names = names;
		spec.paths = paths;
		break;
	case 1:
		spec.input_path = a;
		break;
	case 2:
		spec.input = a;
		spec.input_len = alen;
		break;
	default:
		break;
	}

	int r = transform_compile(&spec, &t, why, sizeof(why));
	if (r < 0) {
		if (r != -EINVAL || t || !why[0])
			abort();
		goto out;
	}
	enum transform_shape shape = transform_shape(t);
	struct transform_ctx ctx = {
		.event = ev, .event_len = elen, .rule_name = "fuzz\"rule",
		.rule_arn = "arn:aws:events:local:000000000000:rule/fuzz", .ingestion_time = "2026-12-07T08:47:06Z",
	};
	char *out = NULL, *out2 = NULL;
	size_t olen = 0, olen2 = 0;
	r = transform_render(t, &ctx, &out, &olen);
	/* the renderer follows 512 levels of nesting: compare away from that edge */
	bool event_ok = valid_json(ev, elen, 500), event_ok_deep = valid_json(ev, elen, 520);
	if (r == -EINVAL) {
		if (event_ok)
			abort();
	} else if (r == -E2BIG) {
		if (!event_ok_deep)
			abort();
	} else if (r == 0) {
		if (!out || out[olen] != '\0' || !event_ok_deep)
			abort();
		if (shape != TRANSFORM_SHAPE_TEXT && !valid_json(out, olen, 2000))
			abort();
		/* the shape assumes an envelope: the event is an object */
		const char *e0 = ev;
		while (e0 < ev + elen && (*e0 == ' ' || *e0 == '\n' || *e0 == '\r' || *e0 == '\t'))
			e0++;
		if (shape == TRANSFORM_SHAPE_OBJECT && *e0 == '{' && out[0] != '{')
			abort();
		if (transform_render(t, &ctx, &out2, &olen2) != 0 || olen2 != olen ||
		    memcmp(out, out2, olen) != 0)
			abort();
	} else {
		abort();
	}
	free(out);
	free(out2);
out:
	transform_free(t);
	free(a);
	free(b);
	return 0;
}
