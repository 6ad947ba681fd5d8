/*
 * service.c — services: the scheduler that keeps desiredCount tasks running,
 * rolling deployments and the circuit breaker (the operations are
 * service_api.c's, JSON and state files service_state.c's).
 *
 * One convergence pass (service_converge) per service, run at the end of
 * any loop turn that changed something and once a second:
 *
 *   1. tasks whose health check says UNHEALTHY are stopped (replaced below);
 *   2. the primary deployment scales down to desiredCount when above it;
 *   3. the primary launches new tasks while it is below desiredCount, as far
 *      as maximumPercent allows: every task of the service not yet STOPPED —
 *      stopping ones included — counts against floor(desired × max% / 100);
 *   4. tasks of older deployments are stopped while the healthy tasks stay
 *      at or above ceil(desired × min% / 100) (a task that is not healthy
 *      may always be stopped: it does not count as healthy);
 *   5. bookkeeping: empty old deployments are dropped; the primary is
 *      COMPLETED once it alone runs desiredCount healthy tasks (the steady
 *      state).
 *
 * A task is healthy when RUNNING and, with a container health check, when
 * the check passes; without one, once it has run for the service's
 * healthCheckGracePeriodSeconds (default SERVICE_DEFAULT_GRACE_S).
 *
 * Failures: a task of the service that stops before it was ever healthy
 * (and not because the scheduler stopped it) is a failed launch. Failed
 * launches in a row delay the next launch exponentially (backoff_base_ms ×
 * 2^(n-1), at most backoff_max_ms; each delay is a service event, "backs
 * off: the next launch waits N ms") and, from the third, the service reports
 * SERVICE_TASK_START_IMPAIRED once. With the circuit breaker enabled, the
 * primary deployment fails after max(3, min(200, ceil(desired / 2))) failed
 * launches: it stops launching, and with rollback a new deployment of the
 * last completed task definition replaces it.
 *
 * Durations (backoff, the grace period) are on the monotonic clock.
 */
#include "service_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "logger.h"
#include "metrics.h"
#include "orch_state.h"

const char *const service_status_names[] = {"ACTIVE", "DRAINING", "INACTIVE"};

const char *service_name(const struct service *s)
{
	return s->name;
}

const char *orch_service_arn(const struct service *s)
{
	return s->arn;
}

/* ------------------------------------------------------------ health and counts */

static bool task_healthy(const struct service *s, const struct task *t, uint64_t now_mono)
{
	if (t->last != TS_RUNNING || t->desired != TS_RUNNING)
		return false;
	bool hc = false;
	for (size_t i = 0; i < t->nc; i++)
		hc |= t->c[i].def->essential && t->c[i].def->health.present;
	if (hc)
		return t->health == HEALTH_HEALTHY;
	int64_t grace = (int64_t)(s->grace_s >= 0 ? s->grace_s : SERVICE_DEFAULT_GRACE_S) * 1000;
	return (int64_t)now_mono >= t->started_mono_ms + grace;
}


void service_count_deployment(const struct service *s, const struct deployment *d, struct service_counts *c)
{
	memset(c, 0, sizeof(*c));
	for (const struct task *t = s->o->tasks_head; t; t = t->next) {
		if (t->service != s || t->desired != TS_RUNNING || !t->deployment_id ||
		    strcmp(t->deployment_id, d->id) != 0)
			continue;
		if (t->last == TS_RUNNING)
			c->running++;
		else if (t->last < TS_RUNNING)
			c->pending++;
	}
}

/* ------------------------------------------------------------ deployments */

struct deployment *service_deployment_new(struct service *s, const struct taskdef *td)
{
	struct deployment *d = calloc(1, sizeof(*d));
	unsigned char b[8];
	if (!d)
		return NULL;
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		memset(b, 7, sizeof(b));
	uint64_t x = 0;
	for (int i = 0; i < 8; i++)
		x = x << 8 | b[i];
	snprintf(d->id, sizeof(d->id), "ecs-svc/%019llu", (unsigned long long)(x % 10000000000000000000ull));
	d->td = td;
	d->status = DEP_PRIMARY;
	d->rollout = "IN_PROGRESS";
	d->created_wall_ms = d->updated_wall_ms = orch_wall_ms(s->o);
	for (struct deployment *o = s->deps; o; o = o->next)
		o->status = DEP_ACTIVE;
	d->next = s->deps;
	s->deps = d;
	s->steady = false;
	s->consecutive_failures = 0;
	s->next_launch_mono_ms = 0;
	s->impaired_reported = false;
	s->dirty = true;
	service_emit_deployment(s, d, "SERVICE_DEPLOYMENT_IN_PROGRESS", "a new deployment was started");
	return d;
}

static struct deployment *find_deployment(const struct service *s, const char *id)
{
	for (struct deployment *d = s->deps; d; d = d->next)
		if (id && strcmp(d->id, id) == 0)
			return d;
	return NULL;
}

void service_deployment_free(struct deployment *d)
{
	free(d->rollout_reason);
	free(d);
}

/* ------------------------------------------------------------ scheduler */

static void stop_task(struct task *t, const char *reason)
{
	orch_task_stop(t, SC_SERVICE_SCHEDULER_INITIATED, reason);
}

void service_converge(struct service *s)
{
	struct orch *o = s->o;
	uint64_t now = orch_mono_ms(o);
	struct deployment *primary = s->deps;
	unsigned desired = s->status == SVC_ACTIVE ? s->desired : 0;
	unsigned max_total = (unsigned)((uint64_t)desired * s->max_pct / 100u);
	unsigned min_healthy = (unsigned)(((uint64_t)desired * s->min_pct + 99u) / 100u);
	unsigned occupying = 0, healthy = 0, primary_alive = 0;

	if (s->status == SVC_INACTIVE || !primary)
		return;
	/* 1. health, and the counts */
	for (struct task *t = o->tasks_head; t; t = t->next) {
		if (t->service != s || t->last == TS_STOPPED)
			continue;
		occupying++;
		if (t->desired != TS_RUNNING)
			continue;
		if (t->health == HEALTH_UNHEALTHY) {
			stop_task(t, "Task failed container health checks");
			service_add_event(s, "(service %s) has stopped 1 running tasks: (task %s) because it failed its health checks.",
				  s->name, t->id);
			continue;
		}
		if (task_healthy(s, t, now)) {
			healthy++;
			if (!t->ever_healthy) {
				t->ever_healthy = true;
				orch_task_dirty(t);
				s->consecutive_failures = 0;
				s->next_launch_mono_ms = 0;
				s->impaired_reported = false;
			}
		}
		if (t->deployment_id && strcmp(t->deployment_id, primary->id) == 0)
			primary_alive++;
	}

	/* 2. scale the primary down: the least advanced tasks first, newest first */
	if (primary_alive > desired) {
		unsigned extra = primary_alive - desired, stopped = 0;
		for (int pass = 0; pass < 2 && stopped < extra; pass++) {
			for (struct task *t = o->tasks_tail; t && stopped < extra; t = t->prev) {
				if (t->service != s || t->desired != TS_RUNNING || !t->deployment_id ||
				    strcmp(t->deployment_id, primary->id) != 0)
					continue;
				bool h = task_healthy(s, t, now);
				if (pass == 0 && h)
					continue;
				if (h)
					healthy--;
				stop_task(t, s->status == SVC_ACTIVE ? "Scaling activity initiated by (deployment)"
								      : "The service is being deleted");
				stopped++;
			}
		}
		primary_alive = desired;
		if (stopped)
			service_add_event(s, "(service %s) has stopped %u running tasks.", s->name, stopped);
	}

	/* 3. launch for the primary, within maximumPercent */
	bool failed = strcmp(primary->rollout, "FAILED") == 0;
	if (primary_alive < desired && !failed && now >= s->next_launch_mono_ms) {
		unsigned want = desired - primary_alive;
		unsigned room = max_total > occupying ? max_total - occupying : 0;
		unsigned n = want < room ? want : room, started = 0;
		const char *failure = NULL;
		for (unsigned i = 0; i < n; i++) {
			struct orch_error e;
			char started_by[80];
			snprintf(started_by, sizeof(started_by), "%.79s", primary->id);
			struct task *t = orch_launch_task(o, primary->td, NULL, started_by, s, primary->id, NULL,
							  s->launch_type, &e, &failure);
			if (!t) {
				if (!failure)
					failure = e.message;
				break;
			}
			started++;
			occupying++;
		}
		if (started) {
			service_add_event(s, "(service %s) has started %u tasks.", s->name, started);
			free(s->placement_failure);
			s->placement_failure = NULL;
		}
		if (failure && (!s->placement_failure || strcmp(s->placement_failure, failure) != 0)) {
			free(s->placement_failure);
			s->placement_failure = strdup(failure);
			service_add_event(s, "(service %s) was unable to place a task because no container instance met all of its requirements. Reason: %s.",
				  s->name, failure);
			service_emit_action(s, "SERVICE_TASK_PLACEMENT_FAILURE", "ERROR", failure);
		}
	}

	/* 4. drain older deployments while enough tasks stay healthy */
	unsigned can_stop = healthy > min_healthy ? healthy - min_healthy : 0;
	unsigned stopped_old = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (struct task *t = o->tasks_head; t; t = t->next) {
			if (t->service != s || t->desired != TS_RUNNING || t->last == TS_STOPPED ||
			    (t->deployment_id && strcmp(t->deployment_id, primary->id) == 0))
				continue;
			bool h = task_healthy(s, t, now);
			if (pass == 0 && h)
				continue;
			if (h) {
				if (!can_stop)
					continue;
				can_stop--;
			}
			stop_task(t, s->status == SVC_ACTIVE ? "Replaced by a new deployment" : "The service is being deleted");
			stopped_old++;
		}
	}
	if (stopped_old)
		service_add_event(s, "(service %s) has stopped %u running tasks of an older deployment.", s->name,
			  stopped_old);

	/* 5. bookkeeping */
	struct deployment **pp = &s->deps;
	while (*pp) {
		struct deployment *d = *pp;
		bool any = false;
		for (struct task *t = o->tasks_head; t && !any; t = t->next)
			any = t->service == s && t->last != TS_STOPPED && t->deployment_id &&
			      strcmp(t->deployment_id, d->id) == 0;
		if (d->status != DEP_PRIMARY && !any) {
			*pp = d->next;
			service_deployment_free(d);
			s->dirty = true;
			continue;
		}
		pp = &d->next;
	}
	if (s->status == SVC_DRAINING && occupying == 0) {
		s->status = SVC_INACTIVE;
		service_add_event(s, "(service %s) has been deleted.", s->name);
		s->dirty = true;
		return;
	}
	unsigned primary_healthy = 0;
	for (struct task *t = o->tasks_head; t; t = t->next)
		if (t->service == s && t->deployment_id && strcmp(t->deployment_id, primary->id) == 0 &&
		    task_healthy(s, t, now))
			primary_healthy++;
	bool steady = !s->deps->next && primary_healthy == desired && occupying == desired;
	if (steady && !s->steady) {
		if (strcmp(primary->rollout, "IN_PROGRESS") == 0) {
			primary->rollout = "COMPLETED";
			free(primary->rollout_reason);
			primary->rollout_reason = strdup("ECS deployment completed.");
			primary->updated_wall_ms = orch_wall_ms(o);
			s->last_completed = primary->td;
			service_emit_deployment(s, primary, "SERVICE_DEPLOYMENT_COMPLETED", "the deployment completed");
		}
		service_add_event(s, "(service %s) has reached a steady state.", s->name);
		service_emit_action(s, "SERVICE_STEADY_STATE", "INFO", NULL);
	}
	if (steady != s->steady) {
		s->steady = steady;
		s->dirty = true;
	}
}

void service_converge_all(struct orch *o)
{
	for (struct service *s = o->services; s; s = s->next) {
		service_converge(s);
		if (s->dirty)
			service_write(s);
	}
}

void service_task_started(struct service *s, struct task *t)
{
	(void)t;
	s->dirty = true;
	orch_want_converge(s->o);
}

void service_task_stopped(struct service *s, struct task *t)
{
	struct deployment *d = find_deployment(s, t->deployment_id);

	orch_want_converge(s->o);
	if (t->stop_code == SC_SERVICE_SCHEDULER_INITIATED || t->ever_healthy || t->counted_failure)
		return;
	/* a failed launch: backoff, impaired, circuit breaker */
	t->counted_failure = true;
	orch_task_dirty(t);
	s->consecutive_failures++;
	uint64_t base = s->o->cfg.backoff_base_ms ? s->o->cfg.backoff_base_ms : 1000u;
	uint64_t max = s->o->cfg.backoff_max_ms ? s->o->cfg.backoff_max_ms : 300000u;
	unsigned shift = s->consecutive_failures - 1 < 20 ? s->consecutive_failures - 1 : 20;
	uint64_t delay = base << shift;
	if (delay > max)
		delay = max;
	s->next_launch_mono_ms = orch_mono_ms(s->o) + delay;
	service_add_event(s, "(service %s) task %s stopped before it was healthy: %s", s->name, t->id,
		  t->stopped_reason ? t->stopped_reason : "");
	service_add_event(s, "(service %s) backs off: the next launch waits %llu ms (%u failed launches in a row).",
		  s->name, (unsigned long long)delay, s->consecutive_failures);
	if (s->consecutive_failures >= SERVICE_IMPAIRED_AFTER && !s->impaired_reported) {
		s->impaired_reported = true;
		service_add_event(s, "(service %s) is unable to consistently start tasks successfully.", s->name);
		service_emit_action(s, "SERVICE_TASK_START_IMPAIRED", "WARN", "tasks keep stopping before they are healthy");
	}
	if (!d)
		return;
	d->failed_tasks++;
	d->updated_wall_ms = orch_wall_ms(s->o);
	unsigned threshold = (s->desired + 1) / 2;
	threshold = threshold < 3 ? 3 : threshold > 200 ? 200 : threshold;
	if (s->cb_enable && d->status == DEP_PRIMARY && strcmp(d->rollout, "IN_PROGRESS") == 0 &&
	    d->failed_tasks >= threshold) {
		d->rollout = "FAILED";
		free(d->rollout_reason);
		d->rollout_reason = strdup("ECS deployment circuit breaker: tasks failed to start.");
		service_add_event(s, "(service %s) deployment %s deployment failed: tasks failed to start.", s->name, d->id);
		service_emit_deployment(s, d, "SERVICE_DEPLOYMENT_FAILED", "ECS deployment circuit breaker: tasks failed to start.");
		if (s->cb_rollback && s->last_completed && s->last_completed != d->td) {
			struct deployment *nd = service_deployment_new(s, s->last_completed);
			if (nd) {
				service_add_event(s, "(service %s) rolling back to deployment %s.", s->name, nd->id);
				free(nd->rollout_reason);
				nd->rollout_reason = strdup("ECS deployment circuit breaker: rolling back to the last completed task definition.");
			}
		}
	}
}

/* ------------------------------------------------------------ lookup, memory */

struct service *service_find(struct orch *o, const char *ref)
{
	const char *name = ref;
	const char *slash = strrchr(ref, '/');
	if (strncmp(ref, "arn:", 4) == 0 && slash)
		name = slash + 1;
	for (struct service *s = o->services; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

void service_free(struct service *s)
{
	while (s->deps) {
		struct deployment *d = s->deps;
		s->deps = d->next;
		service_deployment_free(d);
	}
	for (size_t i = 0; i < s->n_events; i++)
		free(s->events[i].message);
	free(s->events);
	free(s->name);
	free(s->arn);
	free(s->placement_failure);
	json_decref(s->applied_tokens);
	free(s);
}

void service_free_all(struct orch *o)
{
	while (o->services) {
		struct service *s = o->services;
		o->services = s->next;
		service_free(s);
	}
	o->n_services = 0;
}

void service_metrics(const struct orch *o, struct orch_metrics *m)
{
	m->services = m->services_desired = m->services_running = m->services_pending = 0;
	for (const struct service *s = o->services; s; s = s->next) {
		if (s->status == SVC_INACTIVE)
			continue;
		m->services++;
		m->services_desired += s->desired;
	}
	for (const struct task *t = o->tasks_head; t; t = t->next) {
		if (!t->service || t->desired != TS_RUNNING)
			continue;
		if (t->last == TS_RUNNING)
			m->services_running++;
		else if (t->last < TS_RUNNING)
			m->services_pending++;
	}
}

void service_metrics_update(const struct orch *o, struct metrics *m)
{
	struct metric *count = metrics_gauge(m, "tripline_service_task_count",
					     "Tasks of each service: desired, running, pending.", "service,kind");

	if (!o)
		return;
	metric_clear(count);   /* a deleted service's series go */
	for (const struct service *s = o->services; s; s = s->next) {
		unsigned running = 0, pending = 0;
		if (s->status == SVC_INACTIVE)
			continue;
		for (const struct task *t = o->tasks_head; t; t = t->next) {
			if (t->service != s || t->desired != TS_RUNNING)
				continue;
			running += t->last == TS_RUNNING;
			pending += t->last < TS_RUNNING;
		}
		metric_set(count, (const char *[]){s->name, "desired"}, s->status == SVC_ACTIVE ? s->desired : 0);
		metric_set(count, (const char *[]){s->name, "running"}, running);
		metric_set(count, (const char *[]){s->name, "pending"}, pending);
	}
}

struct service *service_alloc(struct orch *o, const char *name)
{
	struct service *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->o = o;
	s->name = strdup(name);
	if (asprintf(&s->arn, "arn:aws:ecs:%s:%s:service/%s/%s", o->region, o->account, o->cluster_name, name) < 0)
		s->arn = NULL;
	s->events = calloc(ORCH_MAX_SERVICE_EVENTS, sizeof(*s->events));
	s->min_pct = 100;
	s->max_pct = 200;
	s->grace_s = -1;
	if (!s->name || !s->arn || !s->events) {
		service_free(s);
		return NULL;
	}
	return s;
}

void service_link(struct orch *o, struct service *s)
{
	struct service **pp = &o->services;
	while (*pp)
		pp = &(*pp)->next;
	*pp = s;
	o->n_services++;
}

/* Forgets an INACTIVE service whose name is taken again (its tasks are
 * STOPPED; they keep no pointer to it). */
void service_unlink_free(struct orch *o, struct service *s)
{
	for (struct task *t = o->tasks_head; t; t = t->next)
		if (t->service == s)
			t->service = NULL;
	struct service **pp = &o->services;
	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	o->n_services--;
	service_free(s);
}
