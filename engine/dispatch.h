/*
 * dispatch.h — delivering events to rule targets (DESIGN.md §7): one
 * dispatch per (event, matched rule, target), each going through
 *
 *   dedup → rate limit → transform → invoke, retried until final.
 *
 *   - replay: a (rule, target) the event's journal already saw final
 *     (event_was_final()) is not dispatched again;
 *   - dedup: with the target's Dedup, the value at Dedup.Key in the event
 *     is claimed in the state store (store.h) for WindowSeconds, per rule
 *     and target; a value already claimed makes the dispatch final at once
 *     (result "dedup"). An event without a value there is not deduplicated.
 *     The claim is given back when the dispatch ends without delivery (dead
 *     letter, drop), so a redrive or a redelivery can still deliver;
 *   - rate limit: with RateLimit, each attempt takes a token from the
 *     store's bucket for (rule, target); without one the attempt is a
 *     retryable THROTTLING failure (result "throttled"), and the next
 *     attempt waits at least until a token is due — within the retry policy
 *     and the event's age like any failure, never silently dropped;
 *   - transform: the target's Input/InputPath/InputTransformer rendered once
 *     per dispatch (rules/transform.h);
 *   - invoke: the target kind's ops (targets/target.h), at most
 *     MaxConcurrency (else delivery.max_concurrency, else 64) attempts in
 *     flight per (rule, target); the rest wait in FIFO order.
 *
 * Retries (RetryPolicy): TARGET_RETRY (and THROTTLING, and a state store
 * that cannot answer) is retried after an exponential backoff with full
 * jitter — a uniform delay in [0, min(cap, base·2^retry)], base 1 s and cap
 * 5 min by default — until MaximumRetryAttempts retries were made or the
 * next attempt would start after the event's MaximumEventAgeInSeconds (its
 * age counted from ev->ingest_wall_ms on the wall clock, which survives a
 * restart; the timers themselves run on the loop's monotonic clock).
 * TARGET_FAIL is not retried.
 *
 * Final states: delivered (success), deduplicated, dead-lettered (written
 * to DeadLetterConfig.Arn: dlq.h; a write that fails is retried with
 * backoff forever, logged and counted in
 * tripline_dead_letter_failures_total, and the dispatch is not final until
 * it is written), or dropped when there is no dead-letter destination
 * (logged, tripline_events_dropped_total{reason}: "not_retryable",
 * "retries_exhausted" or "event_too_old"). Then
 * ev->hooks.dispatch_final(), and event_pending_put(ev) (event.h: the
 * event's last open dispatch calls hooks.final). The caller of
 * dispatch_submit() has taken that pending count with event_pending_get()
 * (the bus does, for each dispatch); dispatch_redrive() takes its own. No
 * dispatch becomes final inside dispatch_submit(): each starts on a later
 * loop turn, so a target never runs from inside the bus's matching.
 *
 * Metrics: tripline_target_invocations_total{rule,target,result} (result:
 * success, retry, failed, dead_letter, throttled, dedup),
 * tripline_dispatch_latency_seconds (ingestion to the first invocation's
 * start), tripline_events_dropped_total{reason},
 * tripline_dead_letter_failures_total{kind}.
 *
 * Lifecycle: dispatch_new() → dispatch_submit()… → dispatch_free(). Loop
 * thread only. dispatch_free() drops every dispatch not final without
 * calling its hooks (a journalled event is replayed by the next daemon) and
 * cancels the dead letters being written (an http one through curl_uv, so
 * the shared curl_uv must still exist: free the dispatcher, then at once —
 * without a loop turn between, so no invocation answers into a freed
 * dispatch — the curl_uv and the core, as target.h says); the loop must run
 * once more (the jobs' timers close).
 */
#ifndef TRIPLINE_ENGINE_DISPATCH_H
#define TRIPLINE_ENGINE_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define DISPATCH_DEFAULT_MAX_CONCURRENCY 64u
#define DISPATCH_DEFAULT_BACKOFF_BASE_MS 1000u
#define DISPATCH_DEFAULT_BACKOFF_CAP_MS 300000u

struct dispatch;
struct event;
struct metrics;
struct rulegen;
struct store;
struct target_env;

struct dispatch_config {
	const struct target_env *env;    /* borrowed; outlives the dispatcher (env->cfg: region,
					    account; env->http: http dead letters) */
	struct store *store;             /* dedup and rate limits; borrowed */
	struct metrics *metrics;         /* may be NULL */
	uint32_t max_concurrency;        /* delivery.max_concurrency; 0: 64 */
	uint32_t http_timeout_s;         /* http dead letters; 0: 10 */
	uint32_t backoff_base_ms;        /* 0: DISPATCH_DEFAULT_BACKOFF_BASE_MS */
	uint32_t backoff_cap_ms;         /* 0: DISPATCH_DEFAULT_BACKOFF_CAP_MS */
};

/* 0 and *ret, or -ENOMEM. */
int dispatch_new(uv_loop_t *loop, const struct dispatch_config *cfg, struct dispatch **ret);
/* See above. NULL is fine. */
void dispatch_free(struct dispatch *d);

/*
 * Dispatches ev to target target_index of rule rule_index of gen
 * (references taken on both until the dispatch is final), with the pending
 * count the caller took. It starts on a later loop turn. When it cannot
 * (no such rule or target, a disabled rule's, out of memory) nothing is
 * taken and the pending count is kept, so the event never completes and a
 * journalled one is replayed by the next daemon; logged and counted here
 * (tripline_events_dropped_total{reason="dispatch_failed"}).
 */
void dispatch_submit(struct dispatch *d, struct event *ev, struct rulegen *gen, uint32_t rule_index,
		     uint32_t target_index);

/*
 * A redrive (tripline dlq redrive): dispatches ev — a dead letter's event,
 * with its original id — to the rule named rule and its target target_id
 * in gen (the current generation) only. 0, -ENOENT (no such rule, target,
 * or the rule is disabled), -ENOMEM.
 */
int dispatch_redrive(struct dispatch *d, struct rulegen *gen, struct event *ev, const char *rule,
		     const char *target_id);

/* Dispatches not final yet. */
size_t dispatch_in_flight(const struct dispatch *d);

#endif
