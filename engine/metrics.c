/*
 * metrics.c — the Prometheus registry (metrics.h): families of counters,
 * gauges and histograms, their series, and the text renderer.
 *
 * A family keeps its series in creation order (a list, for rendering) and
 * in a chained hash table keyed by the label values (FNV-1a over each value
 * and a NUL), so a lookup allocates nothing; a series stores its values as
 * one NUL-separated key and is escaped only when rendered. A histogram
 * series counts each bucket on its own (the first bound >= v, by binary
 * search) and makes the counts cumulative when rendered.
 *
 * Limits: METRICS_MAX_SERIES series per family, METRICS_MAX_KEY bytes of
 * label values per series and METRICS_MAX_BUCKETS bounds per histogram; a
 * new series past a limit is counted in tripline_metrics_series_dropped_total
 * (always rendered, last) and logged once per family. A counter only goes
 * up (metric_add with a negative or NaN value is ignored); metric_set on a
 * counter mirrors a count its module keeps itself, from a render callback.
 *
 * Numbers: a whole value prints as an integer ("42"), any other as the
 * shortest text that reads back as the same double; NaN and infinities as
 * "NaN", "+Inf", "-Inf". A bucket's le prints with %g ("0.0025", "1") when
 * that reads back exactly, else as the shortest exact text.
 */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logger.h"

#define METRICS_MAX_KEY 4096u      /* bytes of label values in one series */
#define METRICS_MAX_BUCKETS 64u
#define DROPPED_NAME "tripline_metrics_series_dropped_total"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

static const char *const type_names[] = {"counter", "gauge", "histogram"};

struct series {
	struct series *next;     /* creation order */
	struct series *hnext;    /* hash chain */
	uint64_t hash;
	double value;            /* counters and gauges; a histogram's sum */
	uint64_t count;          /* histograms */
	uint64_t *buckets;       /* histograms: n_bounds + 1 counts, not cumulative */
	size_t key_len;
	char *key;               /* the label values, each followed by a NUL */
};

struct metric {
	struct metric *next;
	struct metrics *reg;
	enum metric_type type;
	char *name;
	char *help;
	char *label_names[METRICS_MAX_LABELS];
	size_t n_labels;
	double *bounds;
	size_t n_bounds;
	struct series *head, *tail;
	struct series **table;   /* n_table a power of two */
	size_t n_table;
	size_t n_series;
	bool dropped_logged;
};

struct render_cb {
	metrics_render_fn fn;
	void *arg;
};

struct metrics {
	struct metric *head, *tail;
	struct render_cb *cbs;
	size_t n_cbs;
	double dropped;          /* tripline_metrics_series_dropped_total */
};

struct metrics *metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

static void family_free(struct metric *f)
{
	for (struct series *s = f->head, *next; s; s = next) {
		next = s->next;
		free(s);
	}
	free(f->table);
	free(f->bounds);
	for (size_t i = 0; i < f->n_labels; i++)
		free(f->label_names[i]);
	free(f->name);
	free(f->help);
	free(f);
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (struct metric *f = m->head, *next; f; f = next) {
		next = f->next;
		family_free(f);
	}
	free(m->cbs);
	free(m);
}

/* ------------------------------------------------------------ families */

static bool valid_name(const char *s, bool colon)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || (colon && *s == ':')))
			return false;
	return true;
}

/* Splits "a,b,c" into f's label names; false when one is not a valid name,
 * is reserved ("__…", and "le" for a histogram) or there are too many. */
static bool parse_labels(struct metric *f, const char *labels)
{
	const char *p = labels;

	if (!labels || !*labels)
		return true;
	for (;;) {
		size_t len = strcspn(p, ",");
		if (f->n_labels == METRICS_MAX_LABELS)
			return false;
		char *name = strndup(p, len);
		if (!name)
			return false;
		f->label_names[f->n_labels++] = name;
		if (!valid_name(name, false) || strncmp(name, "__", 2) == 0 ||
		    (f->type == METRIC_HISTOGRAM && strcmp(name, "le") == 0))
			return false;
		for (size_t i = 0; i + 1 < f->n_labels; i++)
			if (strcmp(f->label_names[i], name) == 0)
				return false;
		if (!p[len])
			return true;
		p += len + 1;
	}
}

static bool same_labels(const struct metric *f, const struct metric *g)
{
	if (f->n_labels != g->n_labels)
		return false;
	for (size_t i = 0; i < f->n_labels; i++)
		if (strcmp(f->label_names[i], g->label_names[i]) != 0)
			return false;
	return true;
}

static bool same_bounds(const struct metric *f, const double *bounds, size_t n)
{
	return f->n_bounds == n && (n == 0 || memcmp(f->bounds, bounds, n * sizeof(*bounds)) == 0);
}

static struct series *series_get(struct metric *f, const char *const *values);

/* Registers a family; the family of the same name when it was registered
 * before with the same type, labels and bounds; NULL on a bad argument, a
 * clash or no memory. */
static struct metric *family_add(struct metrics *m, enum metric_type type, const char *name, const char *help,
				 const char *labels, const double *bounds, size_t n_bounds)
{
	if (!m || !name || !valid_name(name, true) || strcmp(name, DROPPED_NAME) == 0)
		return NULL;
	struct metric *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->reg = m;
	f->type = type;
	if (!parse_labels(f, labels))
		goto out_free;
	for (struct metric *g = m->head; g; g = g->next) {
		if (strcmp(g->name, name) != 0)
			continue;
		if (g->type == type && same_labels(f, g) && same_bounds(g, bounds, n_bounds)) {
			family_free(f);
			return g;
		}
		goto out_free;
	}
	if (type == METRIC_HISTOGRAM) {
		if (n_bounds == 0 || n_bounds > METRICS_MAX_BUCKETS || !bounds)
			goto out_free;
		for (size_t i = 0; i < n_bounds; i++)
			if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
				goto out_free;
		if (!(f->bounds = malloc(n_bounds * sizeof(*bounds))))
			goto out_free;
		memcpy(f->bounds, bounds, n_bounds * sizeof(*bounds));
		f->n_bounds = n_bounds;
	}
	f->name = strdup(name);
	f->help = help ? strdup(help) : NULL;
	if (!f->name || (help && !f->help))
		goto out_free;
	/* a family without labels has its one series from the start */
	if (f->n_labels == 0 && !series_get(f, NULL))
		goto out_free;
	if (m->tail)
		m->tail->next = f;
	else
		m->head = f;
	m->tail = f;
	return f;
out_free:
	family_free(f);
	return NULL;
}

struct metric *metrics_counter(struct metrics *m, const char *name, const char *help, const char *labels)
{
	return family_add(m, METRIC_COUNTER, name, help, labels, NULL, 0);
}

struct metric *metrics_gauge(struct metrics *m, const char *name, const char *help, const char *labels)
{
	return family_add(m, METRIC_GAUGE, name, help, labels, NULL, 0);
}

struct metric *metrics_histogram(struct metrics *m, const char *name, const char *help, const char *labels,
				 const double *bounds, size_t n_bounds)
{
	return family_add(m, METRIC_HISTOGRAM, name, help, labels, bounds, n_bounds);
}

/* ------------------------------------------------------------ series */

static const char *value_at(const char *const *values, size_t i)
{
	return values && values[i] ? values[i] : "";
}

static uint64_t key_hash(const struct metric *f, const char *const *values, size_t *ret_len)
{
	uint64_t h = 0xcbf29ce484222325u;
	size_t len = 0;

	for (size_t i = 0; i < f->n_labels; i++) {
		const char *v = value_at(values, i);
		do {
			h = (h ^ (unsigned char)*v) * 0x100000001b3u;
			len++;
		} while (*v++);
	}
	*ret_len = len;
	return h;
}

static bool key_equal(const struct metric *f, const struct series *s, const char *const *values)
{
	const char *k = s->key;

	for (size_t i = 0; i < f->n_labels; i++) {
		const char *v = value_at(values, i);
		size_t n = strlen(v) + 1;
		if ((size_t)(k + n - s->key) > s->key_len || memcmp(k, v, n) != 0)
			return false;
		k += n;
	}
	return true;
}

static bool table_grow(struct metric *f)
{
	size_t n = f->n_table ? f->n_table * 2 : 16;
	struct series **t = calloc(n, sizeof(*t));

	if (!t)
		return false;
	for (struct series *s = f->head; s; s = s->next) {
		s->hnext = t[s->hash & (n - 1)];
		t[s->hash & (n - 1)] = s;
	}
	free(f->table);
	f->table = t;
	f->n_table = n;
	return true;
}

static void dropped(struct metric *f, const char *why)
{
	f->reg->dropped++;
	if (!f->dropped_logged) {
		f->dropped_logged = true;
		log_warn("metrics", "%s: %s; new series are counted in tripline_metrics_series_dropped_total",
			 f->name, why);
	}
}

/* The series of these label values, made at 0 on first use; NULL past a
 * limit or with no memory (counted). */
static struct series *series_get(struct metric *f, const char *const *values)
{
	size_t key_len;
	uint64_t h = key_hash(f, values, &key_len);

	if (f->n_table) {
		for (struct series *s = f->table[h & (f->n_table - 1)]; s; s = s->hnext)
			if (s->hash == h && s->key_len == key_len && key_equal(f, s, values))
				return s;
	}
	if (f->n_series >= METRICS_MAX_SERIES) {
		dropped(f, "the family has reached its limit of series");
		return NULL;
	}
	if (key_len > METRICS_MAX_KEY) {
		dropped(f, "label values too long");
		return NULL;
	}
	if (f->n_series >= f->n_table && !table_grow(f)) {
		dropped(f, "out of memory");
		return NULL;
	}
	size_t nb = f->type == METRIC_HISTOGRAM ? f->n_bounds + 1 : 0;
	struct series *s = calloc(1, sizeof(*s) + nb * sizeof(uint64_t) + key_len);
	if (!s) {
		dropped(f, "out of memory");
		return NULL;
	}
	s->buckets = (uint64_t *)(s + 1);
	s->key = (char *)(s->buckets + nb);
	s->key_len = key_len;
	s->hash = h;
	char *k = s->key;
	for (size_t i = 0; i < f->n_labels; i++) {
		const char *v = value_at(values, i);
		size_t n = strlen(v) + 1;
		memcpy(k, v, n);
		k += n;
	}
	s->hnext = f->table[h & (f->n_table - 1)];
	f->table[h & (f->n_table - 1)] = s;
	if (f->tail)
		f->tail->next = s;
	else
		f->head = s;
	f->tail = s;
	f->n_series++;
	return s;
}

void metric_add(struct metric *f, const char *const *values, double v)
{
	if (!f || f->type == METRIC_HISTOGRAM || (f->type == METRIC_COUNTER && !(v >= 0)))
		return;
	struct series *s = series_get(f, values);
	if (s)
		s->value += v;
}

void metric_set(struct metric *f, const char *const *values, double v)
{
	if (!f || f->type == METRIC_HISTOGRAM)
		return;
	struct series *s = series_get(f, values);
	if (s)
		s->value = v;
}

void metric_observe(struct metric *f, const char *const *values, double v)
{
	if (!f || f->type != METRIC_HISTOGRAM || isnan(v))
		return;
	struct series *s = series_get(f, values);
	if (!s)
		return;
	size_t lo = 0, hi = f->n_bounds;   /* the first bound >= v; n_bounds is +Inf */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (f->bounds[mid] >= v)
			hi = mid;
		else
			lo = mid + 1;
	}
	s->buckets[lo]++;
	s->count++;
	s->value += v;
}

void metric_touch(struct metric *f, const char *const *values)
{
	if (f)
		(void)series_get(f, values);
}

void metric_clear(struct metric *f)
{
	if (!f)
		return;
	for (struct series *s = f->head, *next; s; s = next) {
		next = s->next;
		free(s);
	}
	f->head = f->tail = NULL;
	f->n_series = 0;
	if (f->n_table)
		memset(f->table, 0, f->n_table * sizeof(*f->table));
	if (f->n_labels == 0)
		(void)series_get(f, NULL);
}

int metrics_on_render(struct metrics *m, metrics_render_fn fn, void *arg)
{
	if (!m || !fn)
		return 0;
	struct render_cb *cbs = realloc(m->cbs, (m->n_cbs + 1) * sizeof(*cbs));
	if (!cbs)
		return -ENOMEM;
	m->cbs = cbs;
	cbs[m->n_cbs++] = (struct render_cb){fn, arg};
	return 0;
}

/* ------------------------------------------------------------ rendering */

/* The shortest of %.15g, %.16g and %.17g that reads back as v. */
static void format_exact(char *buf, size_t len, double v)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void format_value(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "NaN");
	else if (isinf(v))
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	else if (v == 0)
		snprintf(buf, len, "0");   /* and -0 */
	else if (v == floor(v) && fabs(v) < 1e18)
		snprintf(buf, len, "%.0f", v);
	else
		format_exact(buf, len, v);
}

static void format_le(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%g", v);
	if (strtod(buf, NULL) != v)
		format_exact(buf, len, v);
}

/* Escapes as the text format says: \ and newline always, " in label values. */
static void put_escaped(FILE *out, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '"' && quote)
			fputs("\\\"", out);
		else
			putc(*s, out);
	}
}

/* name{a="x",b="y"[,le="…"]} (nothing when there are no labels and no le) */
static void put_labels(FILE *out, const struct metric *f, const struct series *s, const char *le)
{
	const char *k = s->key;

	if (f->n_labels == 0 && !le)
		return;
	putc('{', out);
	for (size_t i = 0; i < f->n_labels; i++) {
		fprintf(out, "%s%s=\"", i ? "," : "", f->label_names[i]);
		put_escaped(out, k, true);
		putc('"', out);
		k += strlen(k) + 1;
	}
	if (le)
		fprintf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
	putc('}', out);
}

static void put_sample(FILE *out, const struct metric *f, const char *suffix, const struct series *s,
		       const char *le, double v)
{
	char num[40];

	format_value(num, sizeof(num), v);
	fprintf(out, "%s%s", f->name, suffix);
	put_labels(out, f, s, le);
	fprintf(out, " %s\n", num);
}

static void render_family(FILE *out, const struct metric *f)
{
	char le[40];

	if (f->help) {
		fprintf(out, "# HELP %s ", f->name);
		put_escaped(out, f->help, false);
		putc('\n', out);
	}
	fprintf(out, "# TYPE %s %s\n", f->name, type_names[f->type]);
	for (const struct series *s = f->head; s; s = s->next) {
		if (f->type != METRIC_HISTOGRAM) {
			put_sample(out, f, "", s, NULL, s->value);
			continue;
		}
		uint64_t cum = 0;
		for (size_t i = 0; i < f->n_bounds; i++) {
			cum += s->buckets[i];
			format_le(le, sizeof(le), f->bounds[i]);
			put_sample(out, f, "_bucket", s, le, (double)cum);
		}
		put_sample(out, f, "_bucket", s, "+Inf", (double)s->count);
		put_sample(out, f, "_sum", s, NULL, s->value);
		put_sample(out, f, "_count", s, NULL, (double)s->count);
	}
}

int metrics_render(struct metrics *m, FILE *out)
{
	char num[40];

	if (!out)
		return -EINVAL;
	if (!m)
		return 0;
	for (size_t i = 0; i < m->n_cbs; i++)
		m->cbs[i].fn(m->cbs[i].arg, m);
	for (const struct metric *f = m->head; f; f = f->next)
		render_family(out, f);
	format_value(num, sizeof(num), m->dropped);
	fprintf(out, "# HELP " DROPPED_NAME " Series not stored: past a family's limit of series, "
		     "or label values too long.\n# TYPE " DROPPED_NAME " counter\n" DROPPED_NAME " %s\n", num);
	if (fflush(out) != 0 || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}
