/*
 * dispatch.c — the dispatcher (dispatch.h): one job per (event, rule,
 * target), a small state machine driven by callbacks and one timer per job.
 *
 *   STARTING ─► (dedup claim) ─► (rate take) ─► transform ─► WAITING ─► INVOKING
 *                                   │                             │
 *                                   └── THROTTLING ──┐   RETRY ───┤
 *                                                    ▼            │ FAIL / exhausted
 *                                                BACKOFF ─► …     ▼
 *                                          DEAD_LETTER ⇄ DLQ_BACKOFF ─► final
 *
 * A job's timer starts it (0 ms: the next loop turn, never inside
 * dispatch_submit()), runs its backoffs, and wakes a job that waited for a
 * concurrency slot (so a target that answers from inside invoke() never
 * makes the dispatcher recurse through a long queue). Concurrency slots
 * are counted per (rule, target) name in "lanes", shared across rule
 * generations, created on first use and freed when idle.
 *
 * A job is freed from its timer's close callback. A job waiting for an
 * asynchronous store answer when the dispatcher is freed is orphaned (its
 * d is NULL) and freed when the answer comes.
 */
#include "dispatch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "digest.h"
#include "dlq.h"
#include "event.h"
#include "logger.h"
#include "metrics.h"
#include "rulegen.h"
#include "ruleset.h"
#include "store.h"
#include "strmap.h"
#include "target.h"
#include "transform.h"

#define COMPONENT "dispatch"

enum job_state {
	JOB_STARTING,
	JOB_STORE,        /* waiting for the state store */
	JOB_WAITING,      /* in its lane's queue */
	JOB_READY,        /* given a slot; invoked on its timer */
	JOB_INVOKING,
	JOB_BACKOFF,
	JOB_DEAD_LETTER,  /* writing the dead letter */
	JOB_DLQ_BACKOFF,
};

enum job_end {
	END_SKIPPED,      /* final before a replay: no hooks but the event's count */
	END_SUCCESS,
	END_DEDUP,
	END_DEAD_LETTER,
	END_DROPPED,
};

struct lane {
	struct strmap_node node;
	uint32_t in_flight;
	struct job *head, *tail;     /* waiting, first come first served */
	char key[];                  /* "RULE\nTARGET" */
};

struct job {
	struct dispatch *d;          /* NULL: orphaned */
	struct job *prev, *next;     /* d->jobs */
	struct job *qnext;           /* lane queue */
	struct lane *lane;           /* holding or waiting for one of its slots */
	uv_timer_t timer;
	enum job_state state;
	struct event *ev;
	struct rulegen *gen;
	const struct rule *rule;
	const struct rule_target *rt;
	size_t slot;
	uint32_t attempt;            /* retries made before the current attempt */
	uint32_t dlq_attempt;
	bool dedup_done;             /* the dedup step is behind us */
	char *claim_key;             /* the dedup claim we hold, or NULL */
	bool invoked;                /* the latency was observed */
	char *input;
	size_t input_len;
	char *code, *message;        /* the last failure */
	const char *exhausted;
	struct dlq_write *dlq;
	char *line;                  /* the dead letter, once built */
	size_t line_len;
	char token[DIGEST_SHA256_HEX_LEN + 1];
	const char *rule_arn;      /* the generation's */
};

struct dispatch {
	uv_loop_t *loop;
	const struct target_env *env;
	struct store *store;
	uint32_t max_concurrency;
	uint32_t http_timeout_ms;
	uint32_t base_ms, cap_ms;
	uint64_t rng;
	struct job *jobs;            /* every job not final */
	size_t n_jobs;
	struct strmap lanes;
	struct metric *m_inv, *m_latency, *m_dropped, *m_dlq_fail;
};

static void attempt_begin(struct job *j);
static void dead_letter(struct job *j);

/* ------------------------------------------------------------ small things */

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t rng_next(struct dispatch *d)
{
	/* xorshift64*: jitter needs spread, not secrecy */
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return d->rng * 2685821657736338717ull;
}

/* Full jitter: uniform in [0, min(cap, base·2^n)]. */
static uint64_t backoff_ms(struct dispatch *d, uint32_t n)
{
	uint64_t ceil_ms = d->base_ms;
	for (uint32_t i = 0; i < n && ceil_ms < d->cap_ms; i++)
		ceil_ms *= 2;
	if (ceil_ms > d->cap_ms)
		ceil_ms = d->cap_ms;
	return rng_next(d) % (ceil_ms + 1);
}

static void count(struct job *j, const char *result)
{
	const char *lv[] = {j->rule->name, j->rt->id, result};
	metric_add(j->d->m_inv, lv, 1);
}

static void set_failure(struct job *j, const char *code, const char *message)
{
	char *c = strdup(code ? code : "UNKNOWN"), *m = strdup(message ? message : "");
	if (!c || !m) {
		free(c);
		free(m);
		return;   /* the previous failure stays; better than none */
	}
	free(j->code);
	free(j->message);
	j->code = c;
	j->message = m;
}

/* ------------------------------------------------------------ the job's life */

static void job_closed(uv_handle_t *h)
{
	free(h->data);
}

static void job_unlink(struct job *j)
{
	struct dispatch *d = j->d;
	if (!d)
		return;
	if (j->prev)
		j->prev->next = j->next;
	else
		d->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	d->n_jobs--;
}

/* Frees the job (from its timer's close callback). */
static void job_destroy(struct job *j)
{
	job_unlink(j);
	free(j->claim_key);
	free(j->input);
	free(j->code);
	free(j->message);
	free(j->line);
	event_unref(j->ev);
	rulegen_unref(j->gen);
	j->ev = NULL;
	j->gen = NULL;
	uv_close((uv_handle_t *)&j->timer, job_closed);
}

static void arm(struct job *j, enum job_state st, uint64_t ms);

static struct lane *lane_get(struct dispatch *d, const struct job *j)
{
	char key[512];
	struct strmap_node *n;
	struct lane *l;
	int len = snprintf(key, sizeof(key), "%s\n%s", j->rule->name, j->rt->id);

	if (len < 0 || (size_t)len >= sizeof(key))
		return NULL;
	if ((n = strmap_find(&d->lanes, key)))
		return strmap_entry(n, struct lane, node);
	if (!(l = calloc(1, sizeof(*l) + (size_t)len + 1)))
		return NULL;
	memcpy(l->key, key, (size_t)len + 1);
	if (strmap_insert(&d->lanes, &l->node, l->key) < 0) {
		free(l);
		return NULL;
	}
	return l;
}

static uint32_t max_in_flight(const struct job *j)
{
	if (j->rt->max_concurrency)
		return j->rt->max_concurrency;
	return j->d->max_concurrency;
}

/* The job's slot is free again: the next in line gets it (on its timer). */
static void lane_release(struct job *j)
{
	struct lane *l = j->lane;
	struct dispatch *d = j->d;

	if (!l)
		return;
	j->lane = NULL;
	l->in_flight--;
	while (l->head && l->in_flight < max_in_flight(l->head)) {
		struct job *w = l->head;
		if (!(l->head = w->qnext))
			l->tail = NULL;
		w->qnext = NULL;
		l->in_flight++;
		arm(w, JOB_READY, 0);
	}
	if (!l->in_flight && !l->head) {
		strmap_remove(&d->lanes, &l->node);
		free(l);
	}
}

static void finish(struct job *j, enum job_end end)
{
	struct event *ev = j->ev;

	if (j->claim_key && (end == END_DEAD_LETTER || end == END_DROPPED))
		store_release(j->d->store, j->claim_key);
	if (end != END_SKIPPED && ev->hooks.dispatch_final)
		ev->hooks.dispatch_final(ev->hooks.arg, ev, j->rule->name, j->rt->id);
	event_ref(ev);
	job_destroy(j);
	event_pending_put(ev);
	event_unref(ev);
}

/* ------------------------------------------------------------ failures and retries */

/* An attempt failed; retryable ones are tried again within the policy.
 * min_wait_ms: the next attempt not before (a rate limit's token). */
static void failure(struct job *j, bool retryable, const char *code, const char *message, uint64_t min_wait_ms,
		    bool throttled)
{
	struct dispatch *d = j->d;
	const char *result_final = throttled ? "throttled" : "failed";
	uint64_t delay, deadline;

	set_failure(j, code, message);
	j->exhausted = NULL;
	if (!retryable) {
		count(j, result_final);
		dead_letter(j);
		return;
	}
	if (j->attempt >= j->rt->retry.max_attempts) {
		count(j, result_final);
		j->exhausted = "MaximumRetryAttempts";
		dead_letter(j);
		return;
	}
	delay = backoff_ms(d, j->attempt);
	if (delay < min_wait_ms)
		delay = min_wait_ms;
	deadline = j->ev->ingest_wall_ms + (uint64_t)j->rt->retry.max_age_s * 1000u;
	if (wall_ms() + delay >= deadline) {
		count(j, result_final);
		j->exhausted = "MaximumEventAgeInSeconds";
		dead_letter(j);
		return;
	}
	count(j, throttled ? "throttled" : "retry");
	log_debug(COMPONENT, "rule %s target %s: event %s: %s (%s), retry %" PRIu32 " in %" PRIu64 " ms",
		  j->rule->name, j->rt->id, j->ev->id, j->code, j->message, j->attempt + 1, delay);
	j->attempt++;
	arm(j, JOB_BACKOFF, delay);
}

/* ------------------------------------------------------------ dead letters */

static const char *drop_reason(const struct job *j)
{
	if (!j->exhausted)
		return "not_retryable";
	return strcmp(j->exhausted, "MaximumRetryAttempts") == 0 ? "retries_exhausted" : "event_too_old";
}

static const char *dlq_kind(const char *arn)
{
	return strncmp(arn, "http", 4) == 0 ? "http" : "file";
}

static void dlq_failed(struct job *j, int err, const char *why)
{
	const char *lv[] = {dlq_kind(j->rt->dead_letter_arn)};
	uint32_t n = ++j->dlq_attempt;

	metric_add(j->d->m_dlq_fail, lv, 1);
	/* every failure counts; the log says so at 1, 2, 4, 8, … failures */
	if ((n & (n - 1)) == 0)
		log_warn(COMPONENT, "rule %s target %s: event %s: dead letter to %s not written (%s), "
				    "failure %" PRIu32 ", retrying",
			 j->rule->name, j->rt->id, j->ev->id, j->rt->dead_letter_arn, why && *why ? why : strerror(-err),
			 n);
	arm(j, JOB_DLQ_BACKOFF, backoff_ms(j->d, n - 1));
}

static void dlq_done(void *arg, int result, const char *why)
{
	struct job *j = arg;

	j->dlq = NULL;
	if (result < 0) {
		dlq_failed(j, result, why);
		return;
	}
	count(j, "dead_letter");
	log_warn(COMPONENT, "rule %s target %s: event %s dead-lettered to %s: %s: %s", j->rule->name, j->rt->id,
		 j->ev->id, j->rt->dead_letter_arn, j->code, j->message);
	finish(j, END_DEAD_LETTER);
}

static void dlq_start(struct job *j)
{
	struct dispatch *d = j->d;
	int r;

	if (!j->line) {
		struct dlq_record rec = {
			.event_json = j->ev->json,
			.event_len = j->ev->len,
			.rule_arn = j->rule_arn,
			.target_arn = j->rt->arn,
			.error_code = j->code,
			.error_message = j->message,
			.exhausted = j->exhausted,
			.retry_attempts = j->attempt,
			.rule = j->rule->name,
			.target_id = j->rt->id,
			.bus = j->ev->bus,
			.time_wall_ms = wall_ms(),
		};
		if ((r = dlq_line(&rec, &j->line, &j->line_len)) < 0) {
			dlq_failed(j, r, NULL);
			return;
		}
	}
	j->state = JOB_DEAD_LETTER;
	r = dlq_write(d->loop, d->env ? d->env->http : NULL, j->rt->dead_letter_arn, j->line, j->line_len,
		      d->http_timeout_ms, dlq_done, j, &j->dlq);
	if (r < 0)
		dlq_failed(j, r, NULL);
}

static void dead_letter(struct job *j)
{
	const char *arn = j->rt->dead_letter_arn;
	const char *problem;

	if (!arn || (problem = dlq_arn_problem(arn))) {
		const char *lv[] = {drop_reason(j)};
		metric_add(j->d->m_dropped, lv, 1);
		log_warn(COMPONENT, "rule %s target %s: event %s dropped (%s%s%s): %s: %s", j->rule->name,
			 j->rt->id, j->ev->id, lv[0], arn ? "; dead-letter destination unusable: " : "; no dead-letter destination",
			 arn ? problem : "", j->code, j->message);
		finish(j, END_DROPPED);
		return;
	}
	dlq_start(j);
}

/* ------------------------------------------------------------ invoking */

static void invoke_done(void *arg, const struct target_result *res)
{
	struct job *j = arg;

	lane_release(j);
	switch (res->outcome) {
	case TARGET_OK:
		count(j, "success");
		finish(j, END_SUCCESS);
		return;
	case TARGET_RETRY:
		failure(j, true, res->code, res->message, 0, false);
		return;
	case TARGET_FAIL:
	default:
		failure(j, false, res->code, res->message, 0, false);
		return;
	}
}

static void invoke(struct job *j)
{
	struct dispatch *d = j->d;
	const struct target_ops *ops = j->gen->ops[j->slot];
	struct target_call call = {
		.ev = j->ev,
		.rule = j->rule,
		.target = j->rt,
		.rule_arn = j->rule_arn,
		.state = j->gen->state[j->slot],
		.input = j->input,
		.input_len = j->input_len,
		.token = ops->uses_token ? j->token : NULL,
		.attempt = j->attempt,
		.max_age_s = j->rt->retry.max_age_s,
	};

	if (!j->invoked) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);   /* ev->ingest_mono_ms's clock */
		uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
		j->invoked = true;
		metric_observe(d->m_latency, NULL,
			       now > j->ev->ingest_mono_ms ? (double)(now - j->ev->ingest_mono_ms) / 1000.0 : 0.0);
	}
	j->state = JOB_INVOKING;
	ops->invoke(d->env, &call, invoke_done, j);
}

/* The input, then a concurrency slot (or a place in the queue). */
static void proceed(struct job *j)
{
	struct dispatch *d = j->d;
	struct lane *l;

	if (!j->input) {
		char when[32];
		struct transform_ctx ctx = {
			.event = j->ev->json,
			.event_len = j->ev->len,
			.rule_name = j->rule->name,
			.rule_arn = j->rule_arn,
			.ingestion_time = when,
		};
		int r;

		event_time_text((int64_t)(j->ev->ingest_wall_ms / 1000u), when);
		if (!j->rt->transform) {
			if (!(j->input = malloc(j->ev->len + 1))) {
				failure(j, true, "INTERNAL_ERROR", "out of memory", 0, false);
				return;
			}
			memcpy(j->input, j->ev->json, j->ev->len);
			j->input[j->ev->len] = '\0';
			j->input_len = j->ev->len;
		} else if ((r = transform_render(j->rt->transform, &ctx, &j->input, &j->input_len)) < 0) {
			j->input = NULL;
			if (r == -ENOMEM)
				failure(j, true, "INTERNAL_ERROR", "out of memory", 0, false);
			else
				failure(j, false, "INVALID_JSON", "the event could not be transformed", 0, false);
			return;
		}
	}
	if (!(l = lane_get(d, j))) {
		failure(j, true, "INTERNAL_ERROR", "out of memory", 0, false);
		return;
	}
	j->lane = l;
	if (l->in_flight < max_in_flight(j)) {
		l->in_flight++;
		invoke(j);
		return;
	}
	j->state = JOB_WAITING;
	if (l->tail)
		l->tail->qnext = j;
	else
		l->head = j;
	l->tail = j;
}

/* ------------------------------------------------------------ dedup and rate limits */

/* The store's answer came: false when the job is orphaned (now freed) or
 * the store failed (a retryable failure, handled). */
static bool store_answered(struct job *j, int result, const char *what)
{
	char msg[160];

	if (!j->d) {
		job_destroy(j);
		return false;
	}
	if (result >= 0)
		return true;
	snprintf(msg, sizeof(msg), "the state store could not %s: %s", what, strerror(-result));
	failure(j, true, result == -ENOSPC ? "STATE_STORE_FULL" : "STATE_STORE_ERROR", msg, 0, false);
	return false;
}

static void take_done(void *arg, int result, uint64_t wait_ms)
{
	struct job *j = arg;
	char msg[160];

	if (!store_answered(j, result, "take a rate-limit token"))
		return;
	if (wait_ms) {
		snprintf(msg, sizeof(msg), "RateLimit of %g per second (burst %" PRIu32 ") exceeded",
			 j->rt->rate.per_second, j->rt->rate.burst);
		failure(j, true, "THROTTLING", msg, wait_ms, true);
		return;
	}
	proceed(j);
}

static void claim_done(void *arg, int result)
{
	struct job *j = arg;

	if (result < 0 && j->d) {
		free(j->claim_key);   /* not ours: nothing to give back */
		j->claim_key = NULL;
	}
	if (!store_answered(j, result, "record the dedup key"))
		return;
	j->dedup_done = true;
	if (result == 0) {
		free(j->claim_key);
		j->claim_key = NULL;
		count(j, "dedup");
		log_debug(COMPONENT, "rule %s target %s: event %s is a duplicate", j->rule->name, j->rt->id, j->ev->id);
		finish(j, END_DEDUP);
		return;
	}
	attempt_begin(j);
}

/*
 * The store key of the event's Dedup value: "dedup\n" and the SHA-256 of
 * (rule, target, value), or NULL in *ret when the event has no value there.
 * 0 or -ENOMEM.
 */
static int dedup_key(const struct job *j, char **ret)
{
	struct transform_ctx ctx = {.event = j->ev->json, .event_len = j->ev->len, .rule_name = j->rule->name,
				    .rule_arn = j->rule_arn, .ingestion_time = ""};
	struct digest_sha256 *h;
	unsigned char md[DIGEST_SHA256_LEN];
	char hex[DIGEST_SHA256_HEX_LEN + 1];
	char *value = NULL;
	size_t len = 0;
	int r;

	*ret = NULL;
	if (!j->rt->dedup.path)
		return 0;
	r = transform_render(j->rt->dedup.path, &ctx, &value, &len);   /* compiled with the rule */
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	if (len == 0 || (len == 4 && memcmp(value, "null", 4) == 0) || (len == 2 && memcmp(value, "\"\"", 2) == 0)) {
		free(value);
		return 0;
	}
	if (!(h = digest_sha256_new()) || digest_sha256_update(h, j->rule->name, strlen(j->rule->name) + 1) < 0 ||
	    digest_sha256_update(h, j->rt->id, strlen(j->rt->id) + 1) < 0 ||
	    digest_sha256_update(h, value, len) < 0) {
		digest_sha256_free(h);
		free(value);
		return -ENOMEM;
	}
	free(value);
	if ((r = digest_sha256_final(h, md)) < 0)
		return r;
	digest_hex(md, sizeof(md), hex);
	if (asprintf(ret, "dedup\n%s", hex) < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* One attempt: dedup (once), a token, the input, a slot, invoke. */
static void attempt_begin(struct job *j)
{
	struct dispatch *d = j->d;
	const struct rule_target *rt = j->rt;
	char key[512];
	int r;

	if (!j->dedup_done && rt->dedup.path) {
		if ((r = dedup_key(j, &j->claim_key)) < 0) {
			failure(j, true, "INTERNAL_ERROR", "out of memory", 0, false);
			return;
		}
		if (j->claim_key) {
			j->state = JOB_STORE;
			store_claim(d->store, j->claim_key, rt->dedup.window_s, claim_done, j);
			return;
		}
	}
	j->dedup_done = true;
	if (rt->rate.per_second > 0.0) {
		snprintf(key, sizeof(key), "rate\n%s\n%s", j->rule->name, rt->id);
		j->state = JOB_STORE;
		store_take(d->store, key, rt->rate.per_second, rt->rate.burst ? rt->rate.burst : 1, take_done, j);
		return;
	}
	proceed(j);
}

static void on_timer(uv_timer_t *t)
{
	struct job *j = t->data;

	switch (j->state) {
	case JOB_STARTING:
		if (event_was_final(j->ev, j->rule->name, j->rt->id)) {
			finish(j, END_SKIPPED);
			return;
		}
		attempt_begin(j);
		return;
	case JOB_BACKOFF:
		attempt_begin(j);
		return;
	case JOB_READY:
		invoke(j);
		return;
	case JOB_DLQ_BACKOFF:
		dlq_start(j);
		return;
	default:
		return;
	}
}

static void arm(struct job *j, enum job_state st, uint64_t ms)
{
	j->state = st;
	uv_timer_start(&j->timer, on_timer, ms, 0);
}

/* ------------------------------------------------------------ entry points */

static int make_token(const struct event *ev, const struct rule *r, const struct rule_target *rt,
		      char out[DIGEST_SHA256_HEX_LEN + 1])
{
	struct digest_sha256 *h = digest_sha256_new();
	unsigned char md[DIGEST_SHA256_LEN];
	int err;

	if (!h || digest_sha256_update(h, ev->id, strlen(ev->id) + 1) < 0 ||
	    digest_sha256_update(h, r->name, strlen(r->name) + 1) < 0 ||
	    digest_sha256_update(h, rt->id, strlen(rt->id) + 1) < 0) {
		digest_sha256_free(h);
		return -ENOMEM;
	}
	if ((err = digest_sha256_final(h, md)) < 0)
		return err;
	digest_hex(md, sizeof(md), out);
	return 0;
}

static int submit(struct dispatch *d, struct event *ev, struct rulegen *gen, uint32_t rule_index,
		  uint32_t target_index)
{
	const struct rule *r;
	struct job *j;
	size_t slot;

	if (!gen || !gen->rs || rule_index >= gen->rs->n)
		return -EINVAL;
	r = &gen->rs->rules[rule_index];
	if (target_index >= r->ntargets)
		return -EINVAL;
	slot = rulegen_slot(gen, rule_index, target_index);
	if (!gen->ops[slot])
		return -EINVAL;
	if (!(j = calloc(1, sizeof(*j))))
		return -ENOMEM;
	j->d = d;
	j->rule = r;
	j->rt = &r->targets[target_index];
	j->slot = slot;
	if (gen->ops[slot]->uses_token && make_token(ev, r, j->rt, j->token) < 0) {
		free(j);
		return -ENOMEM;
	}
	j->rule_arn = gen->arns[rule_index];
	uv_timer_init(d->loop, &j->timer);
	j->timer.data = j;
	j->ev = event_ref(ev);
	j->gen = rulegen_ref(gen);
	if ((j->next = d->jobs))
		d->jobs->prev = j;
	d->jobs = j;
	d->n_jobs++;
	arm(j, JOB_STARTING, 0);
	return 0;
}

void dispatch_submit(struct dispatch *d, struct event *ev, struct rulegen *gen, uint32_t rule_index,
		     uint32_t target_index)
{
	int r = submit(d, ev, gen, rule_index, target_index);

	if (r < 0) {
		const char *lv[] = {"dispatch_failed"};
		metric_add(d->m_dropped, lv, 1);
		log_error(COMPONENT, "event %s: rule %" PRIu32 " target %" PRIu32 " not dispatched: %s "
				     "(the event stays incomplete)", ev->id, rule_index, target_index, strerror(-r));
	}
}

int dispatch_redrive(struct dispatch *d, struct rulegen *gen, struct event *ev, const char *rule,
		     const char *target_id)
{
	const struct rule *r = gen && gen->rs ? ruleset_find(gen->rs, rule) : NULL;
	uint32_t ri;

	if (!r || !r->enabled)
		return -ENOENT;
	ri = (uint32_t)(r - gen->rs->rules);
	for (uint32_t t = 0; t < r->ntargets; t++) {
		if (strcmp(r->targets[t].id, target_id) != 0)
			continue;
		int err;
		if (!gen->ops[rulegen_slot(gen, ri, t)])
			return -ENOENT;
		event_pending_get(ev);
		if ((err = submit(d, ev, gen, ri, t)) < 0)
			ev->pending--;   /* nothing started: as if never asked */
		return err;
	}
	return -ENOENT;
}

size_t dispatch_in_flight(const struct dispatch *d)
{
	return d->n_jobs;
}

int dispatch_new(uv_loop_t *loop, const struct dispatch_config *cfg, struct dispatch **ret)
{
	static const double bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
	struct dispatch *d = calloc(1, sizeof(*d));

	*ret = NULL;
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->env = cfg->env;
	d->store = cfg->store;
	d->max_concurrency = cfg->max_concurrency ? cfg->max_concurrency : DISPATCH_DEFAULT_MAX_CONCURRENCY;
	d->http_timeout_ms = (cfg->http_timeout_s ? cfg->http_timeout_s : 10u) * 1000u;
	d->base_ms = cfg->backoff_base_ms ? cfg->backoff_base_ms : DISPATCH_DEFAULT_BACKOFF_BASE_MS;
	d->cap_ms = cfg->backoff_cap_ms ? cfg->backoff_cap_ms : DISPATCH_DEFAULT_BACKOFF_CAP_MS;
	if (getrandom(&d->rng, sizeof(d->rng), GRND_NONBLOCK) != (ssize_t)sizeof(d->rng))
		d->rng = uv_hrtime();
	d->rng |= 1;
	d->m_inv = metrics_counter(cfg->metrics, "tripline_target_invocations_total",
				   "Target invocation attempts and their ends, by rule, target and result.",
				   "rule,target,result");
	d->m_latency = metrics_histogram(cfg->metrics, "tripline_dispatch_latency_seconds",
					 "From an event's ingestion to its first invocation's start.", NULL, bounds,
					 sizeof(bounds) / sizeof(bounds[0]));
	d->m_dropped = metrics_counter(cfg->metrics, "tripline_events_dropped_total",
				       "Events dropped, by reason.", "reason");
	d->m_dlq_fail = metrics_counter(cfg->metrics, "tripline_dead_letter_failures_total",
					"Dead letters that could not be written (each is retried).", "kind");
	*ret = d;
	return 0;
}

void dispatch_free(struct dispatch *d)
{
	struct strmap_node *n;

	if (!d)
		return;
	while (d->jobs) {
		struct job *j = d->jobs;
		job_unlink(j);
		if (j->state == JOB_STORE) {
			j->d = NULL;   /* freed when the store answers */
			continue;
		}
		dlq_cancel(j->dlq);
		j->d = NULL;
		job_destroy(j);
	}
	for (size_t b = 0; b < d->lanes.nbuckets; b++) {
		while ((n = d->lanes.buckets[b])) {
			d->lanes.buckets[b] = n->next;
			free(strmap_entry(n, struct lane, node));
		}
	}
	strmap_clear(&d->lanes);
	free(d);
}
