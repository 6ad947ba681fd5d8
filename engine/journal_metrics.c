/*
 * journal_metrics.c — the journal's families in the metrics registry
 * (engine/metrics.h), filled from its counters (journal_int.h) each time
 * the registry renders:
 *   tripline_journal_fsyncs_total                 fsyncs completed
 *   tripline_journal_bytes                        live bytes (what max_bytes bounds)
 *   tripline_journal_events                       live events (not complete)
 *   tripline_journal_appends_total{result}        events appended: ok (durable),
 *                                                 full (-ENOSPC), error (-EIO, -ENOMEM)
 * journal_open() attaches them when its configuration names a registry;
 * the registry keeps a pointer to the journal: free the journal after the
 * last render (serve.c stops its listener first).
 */
#include <string.h>

#include "journal_state.h"
#include "metrics.h"

static void add_delta(struct metric *f, const char *result, uint64_t now, uint64_t *last)
{
	const char *values[] = { result };

	if (now > *last)
		metric_add(f, result ? values : NULL, (double)(now - *last));
	*last = now;
}

static void render(void *arg, struct metrics *m)
{
	struct journal *j = arg;
	struct journal_stats *last = &j->mx.last;

	(void)m;
	add_delta(j->mx.fsyncs, NULL, j->stats.fsyncs, &last->fsyncs);
	add_delta(j->mx.appends, "ok", j->stats.appended_ok, &last->appended_ok);
	add_delta(j->mx.appends, "full", j->stats.appended_full, &last->appended_full);
	add_delta(j->mx.appends, "error", j->stats.appended_error, &last->appended_error);
	metric_set(j->mx.bytes, NULL, (double)j->live_bytes);
	metric_set(j->mx.events, NULL, (double)j->n_live);
}

int journal_metrics_attach(struct journal *j, struct metrics *m)
{
	static const char *const results[] = { "ok", "full", "error" };

	if (m == NULL)
		return 0;
	j->mx.fsyncs = metrics_counter(m, "tripline_journal_fsyncs_total",
				       "fsyncs of the event journal completed", NULL);
	j->mx.bytes = metrics_gauge(m, "tripline_journal_bytes",
				    "bytes of the journal's live records (events not complete)", NULL);
	j->mx.events = metrics_gauge(m, "tripline_journal_events", "events in the journal not complete", NULL);
	j->mx.appends = metrics_counter(m, "tripline_journal_appends_total",
					"events appended to the journal, by result (ok: durable; full: refused, "
					"the journal is full; error: not written or not durable)",
					"result");
	for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++)
		metric_touch(j->mx.appends, &results[i]);
	metric_touch(j->mx.fsyncs, NULL);
	memset(&j->mx.last, 0, sizeof(j->mx.last));
	return metrics_on_render(m, render, j);
}
