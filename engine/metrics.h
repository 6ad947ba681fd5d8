/*
 * metrics.h — a small Prometheus registry: counters, gauges and histograms
 * with labels, and one renderer of the text exposition format (0.0.4).
 *
 * A family is registered once with its name, help text and label names
 * ("rule,target,result", or NULL for none); each distinct tuple of label
 * values is one series, made on first use. Values are doubles. Families
 * render in registration order, series in creation order; label values are
 * escaped as the format says (\\, \", \n). Callbacks registered with
 * metrics_on_render() run first on each render, to set gauges computed from
 * state (queue depths, task counts).
 *
 * Every function accepts a NULL registry or family and does nothing, so a
 * module without a registry (a unit test) needs no checks. The number of
 * series per family is bounded (METRICS_MAX_SERIES), and so are the label
 * values' bytes per series (4 KiB): past either, new label tuples are
 * counted in tripline_metrics_series_dropped_total, not stored. A family
 * registered again with the same name, type, labels (and bounds) is the
 * same family; with different ones, or a bad name, NULL.
 * Loop thread only.
 */
#ifndef TRIPLINE_ENGINE_METRICS_H
#define TRIPLINE_ENGINE_METRICS_H

#include <stddef.h>
#include <stdio.h>

#define METRICS_MAX_SERIES 200000u
#define METRICS_MAX_LABELS 8u

struct metrics;
struct metric;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

struct metric *metrics_counter(struct metrics *m, const char *name, const char *help, const char *labels);
struct metric *metrics_gauge(struct metrics *m, const char *name, const char *help, const char *labels);
/* bounds: the upper bounds of the buckets, ascending (+Inf is added). */
struct metric *metrics_histogram(struct metrics *m, const char *name, const char *help, const char *labels,
				 const double *bounds, size_t n_bounds);

/* values: one per label name, in order (NULL when the family has none). */
void metric_add(struct metric *f, const char *const *values, double v);     /* counters, gauges */
/* metric_set: gauges, and counters that mirror a count their module keeps
 * (set from a render callback). A counter's add ignores v < 0. */
void metric_set(struct metric *f, const char *const *values, double v);
void metric_observe(struct metric *f, const char *const *values, double v); /* histograms */
/* Makes the series exist (at 0) so it renders before its first event. */
void metric_touch(struct metric *f, const char *const *values);
/* Drops every series (an unlabelled family's one is back at 0): for a
 * family a render callback rebuilds from state, one series per thing that
 * exists now (a deleted service's series then goes). */
void metric_clear(struct metric *f);

typedef void (*metrics_render_fn)(void *arg, struct metrics *m);
int metrics_on_render(struct metrics *m, metrics_render_fn fn, void *arg);

/* The whole registry in the text format. 0, or -errno from the stream. */
int metrics_render(struct metrics *m, FILE *f);

#endif
