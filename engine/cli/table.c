/*
 * table.c — what the remote commands print on stdout: tables of aligned
 * columns, the daemon's answer as indented JSON, the failures table, and
 * the cell text made out of an answer's members.
 *
 * How it works: a table keeps copies of its cells until table_flush(),
 * which measures every column (a UTF-8 sequence counts as one character)
 * and prints the rows, each column padded to its widest cell plus two
 * spaces, the last one unpadded. Members are read with jansson; numbers
 * are printed as ECS sends them, timestamps (epoch seconds) as UTC ISO
 * 8601.
 *
 * What it promises: no colours; every table cell stripped of control
 * characters (they become spaces) and "-" for an absent value, so a
 * daemon's answer cannot drive the terminal; a table that could not be
 * kept whole is not printed at all (exit 3).
 */
#include "remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* ------------------------------------------------------------ tables */

void table_add(struct table *t, const char *const *row)
{
	if (t->nomem)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
		if (!c) {
			t->nomem = true;
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	char **dst = t->cells + t->nrows * t->ncols;
	for (size_t i = 0; i < t->ncols; i++) {
		const char *v = row[i] && row[i][0] ? row[i] : "-";
		char *s = strdup(v);
		if (!s) {
			for (size_t k = 0; k < i; k++)
				free(dst[k]);
			t->nomem = true;
			return;
		}
		for (char *p = s; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		dst[i] = s;
	}
	t->nrows++;
}

void table_init(struct table *t, size_t ncols, const char *const *header)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	table_add(t, header);
}

/* Characters on screen, counting a UTF-8 sequence as one. */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

int table_flush(const struct remote *rc, struct table *t)
{
	size_t width[TABLE_MAX_COLS] = {0};
	int rc_ = 0;

	if (t->nomem || t->ncols > TABLE_MAX_COLS)
		rc_ = remote_nomem(rc);
	for (size_t r = 0; !rc_ && r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t w = text_width(t->cells[r * t->ncols + c]);
			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = 0; !rc_ && r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			fputs(s, stdout);
			if (c + 1 < t->ncols)
				for (size_t pad = text_width(s); pad < width[c] + 2; pad++)
					fputc(' ', stdout);
		}
		fputc('\n', stdout);
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
	return rc_;
}

void remote_print_failures(const struct remote *rc, const json_t *failures, bool gap, int *ret_rc)
{
	static const char *const header[] = {"FAILED", "REASON", "DETAIL"};
	struct table t;
	size_t n = json_array_size(failures);
	const json_t *f;
	size_t i;

	if (!n)
		return;
	if (gap)
		fputc('\n', stdout);
	table_init(&t, 3, header);
	json_array_foreach(failures, i, f) {
		const char *row[] = {cell_str(f, "arn"), cell_str(f, "reason"), cell_str(f, "detail")};
		table_add(&t, row);
	}
	if (table_flush(rc, &t))
		*ret_rc = CLI_EXIT_FAILURE;
}

/* ------------------------------------------------------------ other output */

void remote_print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
}

void remote_put_clean(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		fputc((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : c, f);
	}
}

/* ------------------------------------------------------------ cell text */

const char *cell_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

const char *cell_num(const json_t *o, const char *key, char *buf, size_t len)
{
	const json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%g", json_real_value(v));
	else
		return NULL;
	return buf;
}

const char *cell_bool(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_boolean(v) ? (json_is_true(v) ? "yes" : "no") : NULL;
}

const char *cell_time(const json_t *o, const char *key, char *buf, size_t len)
{
	const json_t *v = json_object_get(o, key);
	struct tm tm;
	double d;

	if (json_is_string(v))
		return json_string_value(v);
	if (!json_is_number(v))
		return NULL;
	d = json_number_value(v);
	if (!(d >= 0 && d < 253402300800.0))   /* up to the year 9999 */
		return NULL;
	time_t t = (time_t)d;
	if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return NULL;
	return buf;
}

const char *cell_arn_tail(const char *s)
{
	const char *slash = s ? strrchr(s, '/') : NULL;
	return slash ? slash + 1 : s;
}

const char *cell_taskdef(const char *s)
{
	const char *p = s ? strstr(s, ":task-definition/") : NULL;
	return p ? p + strlen(":task-definition/") : s;
}
