/*
 * service.c — services: the scheduler that keeps desiredCount tasks running,
 * rolling deployments, the circuit breaker, and the service API.
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
 * A service's state (definition, deployments, events) is written to
 * services/<name>.json with fsync whenever it changes.
 */
#include "orch_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "logger.h"
#include "statefile.h"

#define SERVICE_DEFAULT_GRACE_S 2
#define SERVICE_IMPAIRED_AFTER 3u
#define SERVICE_MAX_NAME 255

enum dep_status { DEP_PRIMARY, DEP_ACTIVE };
enum svc_status { SVC_ACTIVE, SVC_DRAINING, SVC_INACTIVE };
static const char *const svc_status_names[] = {"ACTIVE", "DRAINING", "INACTIVE"};

struct deployment {
	struct deployment *next;
	char id[40];
	const struct taskdef *td;
	enum dep_status status;
	const char *rollout;        /* "IN_PROGRESS", "COMPLETED", "FAILED" */
	char *rollout_reason;
	uint64_t created_ms, updated_ms;
	unsigned failed_tasks;
};

struct service {
	struct orch *o;
	struct service *next;
	char *name, *arn;
	enum svc_status status;
	unsigned desired;
	unsigned min_pct, max_pct;
	bool cb_enable, cb_rollback;
	int grace_s;                 /* -1: not set */
	char *launch_type;           /* NULL: the definition decides */
	struct deployment *deps;     /* the primary first */
	const struct taskdef *last_completed;
	json_t *events;              /* newest first */
	uint64_t created_ms;
	unsigned consecutive_failures;
	uint64_t next_launch_ms;     /* wall clock; 0: now */
	bool impaired_reported;
	char *placement_failure;     /* the last one reported */
	bool steady;
	bool dirty;
};

const char *service_name(const struct service *s)
{
	return s->name;
}

const char *service_arn(const struct service *s)
{
	return s->arn;
}

/* ------------------------------------------------------------ events and persistence */

static json_t *epoch_ms(uint64_t ms)
{
	return json_real((double)ms / 1000.0);
}

static void add_event(struct service *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_event(struct service *s, const char *fmt, ...)
{
	char msg[700], id[37];
	unsigned char b[16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		memset(b, 0, sizeof(b));
	snprintf(id, sizeof(id), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	json_array_insert_new(s->events, 0,
			      json_pack("{s:s,s:o,s:s}", "id", id, "createdAt", epoch_ms(orch_now_ms()), "message", msg));
	while (json_array_size(s->events) > ORCH_MAX_SERVICE_EVENTS)
		json_array_remove(s->events, json_array_size(s->events) - 1);
	s->dirty = true;
	log_info("service", "%s", msg);
}

/* ECS Service Action / ECS Deployment State Change events onto the bus. */
static void emit_action(struct service *s, const char *event_name, const char *type, const char *reason)
{
	json_t *detail = json_pack("{s:s,s:s,s:s}", "eventType", type, "eventName", event_name, "clusterArn",
				   s->o->cluster_arn);
	if (!detail)
		return;
	if (reason)
		json_object_set_new(detail, "reason", json_string(reason));
	orch_emit(s->o, "ECS Service Action", json_pack("[s]", s->arn), detail);
}

static void emit_deployment(struct service *s, const struct deployment *d, const char *event_name,
			    const char *reason)
{
	json_t *detail = json_pack("{s:s,s:s,s:s,s:s}", "eventType", strcmp(event_name, "SERVICE_DEPLOYMENT_FAILED") == 0
									? "ERROR" : "INFO",
				   "eventName", event_name, "deploymentId", d->id, "reason",
				   reason ? reason : "");
	if (detail)
		orch_emit(s->o, "ECS Deployment State Change", json_pack("[s]", s->arn), detail);
}

static bool task_healthy(const struct service *s, const struct task *t, uint64_t now)
{
	if (t->last != TS_RUNNING || t->desired != TS_RUNNING)
		return false;
	bool hc = false;
	for (size_t i = 0; i < t->nc; i++)
		hc |= t->c[i].def->essential && t->c[i].def->health.present;
	if (hc)
		return t->health == HEALTH_HEALTHY;
	uint64_t grace = (uint64_t)(s->grace_s >= 0 ? s->grace_s : SERVICE_DEFAULT_GRACE_S) * 1000u;
	return now >= t->started_ms + grace;
}

struct counts {
	unsigned pending, running;   /* desired RUNNING */
};

static void count_deployment(const struct service *s, const struct deployment *d, struct counts *c)
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

static json_t *deployment_json(const struct service *s, const struct deployment *d)
{
	struct counts c;
	count_deployment(s, d, &c);
	unsigned desired = d->status == DEP_PRIMARY ? (s->status == SVC_ACTIVE ? s->desired : 0)
						    : c.pending + c.running;
	json_t *j = json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:o,s:o,s:s,s:s}", "id", d->id, "status",
			      d->status == DEP_PRIMARY ? "PRIMARY" : "ACTIVE", "taskDefinition", d->td->arn,
			      "desiredCount", (int)desired, "pendingCount", (int)c.pending, "runningCount",
			      (int)c.running, "failedTasks", (int)d->failed_tasks, "createdAt",
			      epoch_ms(d->created_ms), "updatedAt", epoch_ms(d->updated_ms), "launchType",
			      s->launch_type ? s->launch_type : "EC2", "rolloutState", d->rollout);
	if (j && d->rollout_reason)
		json_object_set_new(j, "rolloutStateReason", json_string(d->rollout_reason));
	return j;
}

static json_t *service_json(const struct service *s)
{
	unsigned running = 0, pending = 0;
	for (const struct task *t = s->o->tasks_head; t; t = t->next) {
		if (t->service != s || t->desired != TS_RUNNING)
			continue;
		if (t->last == TS_RUNNING)
			running++;
		else if (t->last < TS_RUNNING)
			pending++;
	}
	json_t *deps = json_array();
	for (const struct deployment *d = s->deps; deps && d; d = d->next)
		json_array_append_new(deps, deployment_json(s, d));
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:s,s:s,s:o,s:O,s:o,s:s,s:{s:i,s:i,s:{s:b,s:b}}}",
			      "serviceArn", s->arn, "serviceName", s->name, "clusterArn", s->o->cluster_arn,
			      "status", svc_status_names[s->status], "desiredCount", (int)s->desired,
			      "runningCount", (int)running, "pendingCount", (int)pending, "launchType",
			      s->launch_type ? s->launch_type : "EC2", "taskDefinition",
			      s->deps ? s->deps->td->arn : "", "deployments", deps ? deps : json_array(), "events",
			      s->events, "createdAt", epoch_ms(s->created_ms), "schedulingStrategy", "REPLICA",
			      "deploymentConfiguration", "maximumPercent", (int)s->max_pct, "minimumHealthyPercent",
			      (int)s->min_pct, "deploymentCircuitBreaker", "enable", s->cb_enable, "rollback",
			      s->cb_rollback);
	if (j && s->grace_s >= 0)
		json_object_set_new(j, "healthCheckGracePeriodSeconds", json_integer(s->grace_s));
	return j;
}

static json_t *service_state(const struct service *s)
{
	json_t *j = service_json(s);
	json_t *deps = json_array();
	for (const struct deployment *d = s->deps; deps && d; d = d->next)
		json_array_append_new(deps, json_pack("{s:s,s:s,s:s,s:s?,s:I,s:I,s:i,s:b}", "id", d->id,
						      "taskDefinition", d->td->arn, "rolloutState", d->rollout,
						      "rolloutStateReason", d->rollout_reason, "createdMs",
						      (json_int_t)d->created_ms, "updatedMs", (json_int_t)d->updated_ms,
						      "failedTasks", (int)d->failed_tasks, "primary",
						      d->status == DEP_PRIMARY));
	json_t *priv = json_pack("{s:o,s:s?,s:I}", "deployments", deps, "lastCompleted",
				 s->last_completed ? s->last_completed->arn : NULL, "createdMs",
				 (json_int_t)s->created_ms);
	if (!j || !priv) {
		json_decref(j);
		json_decref(priv);
		return NULL;
	}
	json_object_set_new(j, "tripline", priv);
	return j;
}

static void service_write(struct service *s)
{
	char dir[4200], name[SERVICE_MAX_NAME + 8];
	snprintf(dir, sizeof(dir), "%s/services", s->o->data_dir);
	snprintf(name, sizeof(name), "%s.json", s->name);
	if (s->status == SVC_INACTIVE) {
		char path[4500];
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		unlink(path);
		s->dirty = false;
		return;
	}
	json_t *j = service_state(s);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	int r = text ? statefile_write(dir, name, text, strlen(text), true) : -ENOMEM;
	if (r < 0)
		log_error("service", "%s: cannot write its state: %s", s->name, strerror(-r));
	else
		s->dirty = false;
	free(text);
}

/* ------------------------------------------------------------ deployments */

static struct deployment *deployment_new(struct service *s, const struct taskdef *td)
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
	d->created_ms = d->updated_ms = orch_now_ms();
	for (struct deployment *o = s->deps; o; o = o->next)
		o->status = DEP_ACTIVE;
	d->next = s->deps;
	s->deps = d;
	s->steady = false;
	s->consecutive_failures = 0;
	s->next_launch_ms = 0;
	s->impaired_reported = false;
	s->dirty = true;
	emit_deployment(s, d, "SERVICE_DEPLOYMENT_IN_PROGRESS", "a new deployment was started");
	return d;
}

static struct deployment *find_deployment(const struct service *s, const char *id)
{
	for (struct deployment *d = s->deps; d; d = d->next)
		if (id && strcmp(d->id, id) == 0)
			return d;
	return NULL;
}

static void free_deployment(struct deployment *d)
{
	free(d->rollout_reason);
	free(d);
}

/* ------------------------------------------------------------ scheduler */

static void stop_task(struct task *t, const char *reason)
{
	orch_task_stop(t, SC_SERVICE_SCHEDULER_INITIATED, reason);
}

static void service_converge(struct service *s)
{
	struct orch *o = s->o;
	uint64_t now = orch_now_ms();
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
			add_event(s, "(service %s) has stopped 1 running tasks: (task %s) because it failed its health checks.",
				  s->name, t->id);
			continue;
		}
		if (task_healthy(s, t, now)) {
			healthy++;
			if (!t->ever_healthy) {
				t->ever_healthy = true;
				orch_task_dirty(t);
				s->consecutive_failures = 0;
				s->next_launch_ms = 0;
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
			add_event(s, "(service %s) has stopped %u running tasks.", s->name, stopped);
	}

	/* 3. launch for the primary, within maximumPercent */
	bool failed = strcmp(primary->rollout, "FAILED") == 0;
	if (primary_alive < desired && !failed && now >= s->next_launch_ms) {
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
			add_event(s, "(service %s) has started %u tasks.", s->name, started);
			free(s->placement_failure);
			s->placement_failure = NULL;
		}
		if (failure && (!s->placement_failure || strcmp(s->placement_failure, failure) != 0)) {
			free(s->placement_failure);
			s->placement_failure = strdup(failure);
			add_event(s, "(service %s) was unable to place a task because no container instance met all of its requirements. Reason: %s.",
				  s->name, failure);
			emit_action(s, "SERVICE_TASK_PLACEMENT_FAILURE", "ERROR", failure);
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
		add_event(s, "(service %s) has stopped %u running tasks of an older deployment.", s->name,
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
			free_deployment(d);
			s->dirty = true;
			continue;
		}
		pp = &d->next;
	}
	if (s->status == SVC_DRAINING && occupying == 0) {
		s->status = SVC_INACTIVE;
		add_event(s, "(service %s) has been deleted.", s->name);
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
			primary->updated_ms = now;
			s->last_completed = primary->td;
			emit_deployment(s, primary, "SERVICE_DEPLOYMENT_COMPLETED", "the deployment completed");
		}
		add_event(s, "(service %s) has reached a steady state.", s->name);
		emit_action(s, "SERVICE_STEADY_STATE", "INFO", NULL);
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
	s->next_launch_ms = orch_now_ms() + delay;
	add_event(s, "(service %s) task %s stopped before it was healthy: %s", s->name, t->id,
		  t->stopped_reason ? t->stopped_reason : "");
	add_event(s, "(service %s) backs off: the next launch waits %llu ms (%u failed launches in a row).",
		  s->name, (unsigned long long)delay, s->consecutive_failures);
	if (s->consecutive_failures >= SERVICE_IMPAIRED_AFTER && !s->impaired_reported) {
		s->impaired_reported = true;
		add_event(s, "(service %s) is unable to consistently start tasks successfully.", s->name);
		emit_action(s, "SERVICE_TASK_START_IMPAIRED", "WARN", "tasks keep stopping before they are healthy");
	}
	if (!d)
		return;
	d->failed_tasks++;
	d->updated_ms = orch_now_ms();
	unsigned threshold = (s->desired + 1) / 2;
	threshold = threshold < 3 ? 3 : threshold > 200 ? 200 : threshold;
	if (s->cb_enable && d->status == DEP_PRIMARY && strcmp(d->rollout, "IN_PROGRESS") == 0 &&
	    d->failed_tasks >= threshold) {
		d->rollout = "FAILED";
		free(d->rollout_reason);
		d->rollout_reason = strdup("ECS deployment circuit breaker: tasks failed to start.");
		add_event(s, "(service %s) deployment %s deployment failed: tasks failed to start.", s->name, d->id);
		emit_deployment(s, d, "SERVICE_DEPLOYMENT_FAILED", "ECS deployment circuit breaker: tasks failed to start.");
		if (s->cb_rollback && s->last_completed && s->last_completed != d->td) {
			struct deployment *nd = deployment_new(s, s->last_completed);
			if (nd) {
				add_event(s, "(service %s) rolling back to deployment %s.", s->name, nd->id);
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

static void service_free(struct service *s)
{
	while (s->deps) {
		struct deployment *d = s->deps;
		s->deps = d->next;
		free_deployment(d);
	}
	json_decref(s->events);
	free(s->name);
	free(s->arn);
	free(s->launch_type);
	free(s->placement_failure);
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

void service_metrics_text(const struct orch *o, FILE *f)
{
	fprintf(f, "# HELP tripline_service_task_count Tasks of each service: desired, running, pending.\n"
		   "# TYPE tripline_service_task_count gauge\n");
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
		/* service names are [A-Za-z0-9_-]: nothing to escape in a label */
		fprintf(f, "tripline_service_task_count{service=\"%s\",kind=\"desired\"} %u\n"
			   "tripline_service_task_count{service=\"%s\",kind=\"running\"} %u\n"
			   "tripline_service_task_count{service=\"%s\",kind=\"pending\"} %u\n",
			s->name, s->status == SVC_ACTIVE ? s->desired : 0, s->name, running, s->name, pending);
	}
}

static struct service *service_alloc(struct orch *o, const char *name)
{
	struct service *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->o = o;
	s->name = strdup(name);
	if (asprintf(&s->arn, "arn:aws:ecs:%s:%s:service/%s/%s", o->region, o->account, o->cluster_name, name) < 0)
		s->arn = NULL;
	s->events = json_array();
	s->min_pct = 100;
	s->max_pct = 200;
	s->grace_s = -1;
	if (!s->name || !s->arn || !s->events) {
		service_free(s);
		return NULL;
	}
	return s;
}

static void service_link(struct orch *o, struct service *s)
{
	struct service **pp = &o->services;
	while (*pp)
		pp = &(*pp)->next;
	*pp = s;
	o->n_services++;
}

/* ------------------------------------------------------------ loading */

static int service_load(struct orch *o, const char *path)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	json_t *priv = json_object_get(j, "tripline");
	const char *name = json_string_value(json_object_get(j, "serviceName"));
	struct service *s = NULL;

	if (!j || !priv || !name) {
		log_warn("service", "%s: not a service state file; ignored", path);
		json_decref(j);
		return 0;
	}
	if (!(s = service_alloc(o, name))) {
		json_decref(j);
		return -ENOMEM;
	}
	const char *st = json_string_value(json_object_get(j, "status"));
	s->status = st && strcmp(st, "DRAINING") == 0 ? SVC_DRAINING : SVC_ACTIVE;
	s->desired = (unsigned)json_integer_value(json_object_get(j, "desiredCount"));
	json_t *dc = json_object_get(j, "deploymentConfiguration");
	s->min_pct = (unsigned)json_integer_value(json_object_get(dc, "minimumHealthyPercent"));
	s->max_pct = (unsigned)json_integer_value(json_object_get(dc, "maximumPercent"));
	json_t *cb = json_object_get(dc, "deploymentCircuitBreaker");
	s->cb_enable = json_is_true(json_object_get(cb, "enable"));
	s->cb_rollback = json_is_true(json_object_get(cb, "rollback"));
	json_t *g = json_object_get(j, "healthCheckGracePeriodSeconds");
	s->grace_s = g ? (int)json_integer_value(g) : -1;
	const char *lt = json_string_value(json_object_get(j, "launchType"));
	s->launch_type = lt && strcmp(lt, "EC2") != 0 ? strdup(lt) : NULL;
	json_decref(s->events);
	s->events = json_incref(json_object_get(j, "events"));
	if (!s->events)
		s->events = json_array();
	s->created_ms = (uint64_t)json_integer_value(json_object_get(priv, "createdMs"));
	const char *lc = json_string_value(json_object_get(priv, "lastCompleted"));
	if (lc)
		taskdef_describe(o->taskdefs, lc, &s->last_completed);
	json_t *deps = json_object_get(priv, "deployments");
	struct deployment **tail = &s->deps;
	size_t i;
	json_t *dj;
	json_array_foreach(deps, i, dj) {
		const struct taskdef *td = NULL;
		const char *id = json_string_value(json_object_get(dj, "id"));
		const char *tdarn = json_string_value(json_object_get(dj, "taskDefinition"));
		if (!id || !tdarn || strlen(id) >= sizeof(s->deps->id) || taskdef_describe(o->taskdefs, tdarn, &td) < 0)
			continue;
		struct deployment *d = calloc(1, sizeof(*d));
		if (!d)
			break;
		snprintf(d->id, sizeof(d->id), "%s", id);
		d->td = td;
		d->status = json_is_true(json_object_get(dj, "primary")) ? DEP_PRIMARY : DEP_ACTIVE;
		const char *ro = json_string_value(json_object_get(dj, "rolloutState"));
		d->rollout = ro && strcmp(ro, "COMPLETED") == 0 ? "COMPLETED" : ro && strcmp(ro, "FAILED") == 0 ? "FAILED"
												     : "IN_PROGRESS";
		const char *rr = json_string_value(json_object_get(dj, "rolloutStateReason"));
		d->rollout_reason = rr ? strdup(rr) : NULL;
		d->created_ms = (uint64_t)json_integer_value(json_object_get(dj, "createdMs"));
		d->updated_ms = (uint64_t)json_integer_value(json_object_get(dj, "updatedMs"));
		d->failed_tasks = (unsigned)json_integer_value(json_object_get(dj, "failedTasks"));
		*tail = d;
		tail = &d->next;
	}
	json_decref(j);
	if (!s->deps || s->deps->status != DEP_PRIMARY) {
		log_warn("service", "%s: no primary deployment with a known task definition; ignored", path);
		service_free(s);
		return 0;
	}
	service_link(o, s);
	log_info("service", "%s loaded: desired %u", s->name, s->desired);
	return 0;
}

int service_load_all(struct orch *o, char *err, size_t errlen)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/services", o->data_dir);
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		char path[4500];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((r = service_load(o, path)) < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
			break;
		}
	}
	closedir(d);
	return r;
}

/* ------------------------------------------------------------ the API */

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SERVICE_MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* deploymentConfiguration and healthCheckGracePeriodSeconds into s (only
 * what the request names). */
static bool apply_config(struct service *s, const json_t *req, struct orch_error *e)
{
	json_t *dc = json_object_get(req, "deploymentConfiguration");
	json_int_t min = s->min_pct, max = s->max_pct, grace = s->grace_s;
	bool enable = s->cb_enable, rollback = s->cb_rollback;

	if (dc && !json_is_object(dc)) {
		orch_set_error(e, "InvalidParameterException", "deploymentConfiguration must be an object");
		return false;
	}
	if (!orch_opt_int(dc, "minimumHealthyPercent", 0, 100, &min, e) || !orch_opt_int(dc, "maximumPercent", 100, 200, &max, e) ||
	    !orch_opt_int(req, "healthCheckGracePeriodSeconds", 0, 2147483647, &grace, e))
		return false;
	json_t *cb = json_object_get(dc, "deploymentCircuitBreaker");
	if (cb) {
		json_t *en = json_object_get(cb, "enable"), *rb = json_object_get(cb, "rollback");
		if (!json_is_object(cb) || !json_is_boolean(en) || !json_is_boolean(rb)) {
			orch_set_error(e, "InvalidParameterException",
				       "deploymentCircuitBreaker needs enable and rollback, both booleans");
			return false;
		}
		enable = json_is_true(en);
		rollback = json_is_true(rb);
	}
	if (max <= min) {
		orch_set_error(e, "InvalidParameterException",
			       "maximumPercent (%lld) must be above minimumHealthyPercent (%lld), or no deployment could make progress",
			       (long long)max, (long long)min);
		return false;
	}
	s->min_pct = (unsigned)min;
	s->max_pct = (unsigned)max;
	s->cb_enable = enable;
	s->cb_rollback = rollback;
	s->grace_s = (int)grace;
	return true;
}

static bool lookup_td(struct orch *o, const char *ref, const struct taskdef **ret, struct orch_error *e)
{
	int r = taskdef_describe(o->taskdefs, ref, ret);
	if (r < 0 || (*ret)->status != TASKDEF_STATUS_ACTIVE) {
		orch_set_error(e, "ClientException", r == -EINVAL ? "Invalid revision number or task definition reference."
					   : r < 0 ? "TaskDefinition not found."
						   : "TaskDefinition is inactive");
		return false;
	}
	return true;
}

int orch_create_service(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e)
{
	const char *name, *tdref, *lt;
	json_int_t desired = -1;
	const struct taskdef *td;

	*ret = NULL;
	if (!orch_check_cluster(o, req, e) || !orch_opt_string(req, "serviceName", 1600, &name, e) ||
	    !orch_opt_string(req, "taskDefinition", 1600, &tdref, e) || !orch_opt_string(req, "launchType", 1600, &lt, e) ||
	    !orch_opt_int(req, "desiredCount", 0, ORCH_MAX_SERVICE_DESIRED, &desired, e))
		return -1;
	if (!name || !valid_name(name)) {
		orch_set_error(e, "InvalidParameterException",
			       "serviceName is required: up to 255 letters, digits, hyphens and underscores");
		return -1;
	}
	if (!tdref) {
		orch_set_error(e, "InvalidParameterException", "taskDefinition is required");
		return -1;
	}
	if (desired < 0) {
		orch_set_error(e, "InvalidParameterException", "desiredCount is required");
		return -1;
	}
	if (lt && strcmp(lt, "EC2") != 0 && strcmp(lt, "FARGATE") != 0 && strcmp(lt, "EXTERNAL") != 0) {
		orch_set_error(e, "InvalidParameterException", "launchType must be EC2, FARGATE or EXTERNAL");
		return -1;
	}
	if (!lookup_td(o, tdref, &td, e))
		return -1;
	struct service *old = service_find(o, name);
	if (old && old->status != SVC_INACTIVE) {
		orch_set_error(e, "InvalidParameterException", "Creation of service was not idempotent.");
		return -1;
	}
	if (!old && o->n_services >= ORCH_MAX_SERVICES) {
		orch_set_error(e, "ClientException", "too many services (at most %u)", ORCH_MAX_SERVICES);
		return -1;
	}
	if (old) {
		/* an INACTIVE service of that name: forget it (its tasks are STOPPED) */
		for (struct task *t = o->tasks_head; t; t = t->next)
			if (t->service == old)
				t->service = NULL;
		struct service **pp = &o->services;
		while (*pp != old)
			pp = &(*pp)->next;
		*pp = old->next;
		o->n_services--;
		service_free(old);
	}
	struct service *s = service_alloc(o, name);
	if (!s) {
		orch_set_error(e, "ServerException", "out of memory");
		return -1;
	}
	if (!apply_config(s, req, e)) {
		service_free(s);
		return -1;
	}
	s->desired = (unsigned)desired;
	s->created_ms = orch_now_ms();
	if (lt && strcmp(lt, "EC2") != 0 && !(s->launch_type = strdup(lt))) {
		service_free(s);
		orch_set_error(e, "ServerException", "out of memory");
		return -1;
	}
	service_link(o, s);
	deployment_new(s, td);
	add_event(s, "(service %s) was created with %u desired tasks of %s.", s->name, s->desired, td->arn);
	service_write(s);
	orch_want_converge(o);
	*ret = json_pack("{s:o}", "service", service_json(s));
	return 0;
}

int orch_update_service(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e)
{
	const char *ref, *tdref;
	json_int_t desired = -1;
	const struct taskdef *td = NULL;

	*ret = NULL;
	if (!orch_check_cluster(o, req, e) || !orch_opt_string(req, "service", 1600, &ref, e) ||
	    !orch_opt_string(req, "taskDefinition", 1600, &tdref, e) ||
	    !orch_opt_int(req, "desiredCount", 0, ORCH_MAX_SERVICE_DESIRED, &desired, e))
		return -1;
	json_t *force = json_object_get(req, "forceNewDeployment");
	if (force && !json_is_boolean(force)) {
		orch_set_error(e, "InvalidParameterException", "forceNewDeployment must be a boolean");
		return -1;
	}
	if (!ref) {
		orch_set_error(e, "InvalidParameterException", "service is required");
		return -1;
	}
	struct service *s = service_find(o, ref);
	if (!s) {
		orch_set_error(e, "ServiceNotFoundException", "Service not found.");
		return -1;
	}
	if (s->status != SVC_ACTIVE) {
		orch_set_error(e, "ServiceNotActiveException", "Service was not ACTIVE.");
		return -1;
	}
	if (tdref && !lookup_td(o, tdref, &td, e))
		return -1;
	unsigned min = s->min_pct, max = s->max_pct;
	bool en = s->cb_enable, rb = s->cb_rollback;
	int grace = s->grace_s;
	if (!apply_config(s, req, e))
		return -1;
	if (min != s->min_pct || max != s->max_pct || en != s->cb_enable || rb != s->cb_rollback || grace != s->grace_s)
		s->dirty = true;
	if (desired >= 0 && (unsigned)desired != s->desired) {
		add_event(s, "(service %s) desired count changed from %u to %lld.", s->name, s->desired,
			  (long long)desired);
		s->desired = (unsigned)desired;
		s->steady = false;
		s->consecutive_failures = 0;
		s->next_launch_ms = 0;
	}
	if ((td && td != s->deps->td) || json_is_true(force)) {
		struct deployment *d = deployment_new(s, td ? td : s->deps->td);
		if (!d) {
			orch_set_error(e, "ServerException", "out of memory");
			return -1;
		}
		add_event(s, "(service %s) started deployment %s of %s.", s->name, d->id, d->td->arn);
	}
	service_write(s);
	orch_want_converge(o);
	*ret = json_pack("{s:o}", "service", service_json(s));
	return 0;
}

int orch_delete_service(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e)
{
	const char *ref;

	*ret = NULL;
	if (!orch_check_cluster(o, req, e) || !orch_opt_string(req, "service", 1600, &ref, e))
		return -1;
	json_t *force = json_object_get(req, "force");
	if (!ref) {
		orch_set_error(e, "InvalidParameterException", "service is required");
		return -1;
	}
	struct service *s = service_find(o, ref);
	if (!s || s->status == SVC_INACTIVE) {
		orch_set_error(e, "ServiceNotFoundException", "Service not found.");
		return -1;
	}
	if (s->desired > 0 && !json_is_true(force)) {
		orch_set_error(e, "InvalidParameterException",
			       "The service cannot be stopped while it is scaled above 0.");
		return -1;
	}
	s->status = SVC_DRAINING;
	s->desired = 0;
	add_event(s, "(service %s) is being deleted.", s->name);
	service_converge(s);
	*ret = json_pack("{s:o}", "service", service_json(s));
	service_write(s);
	return 0;
}

int orch_describe_services(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e)
{
	json_t *list = json_object_get(req, "services");
	size_t i;
	json_t *v;

	*ret = NULL;
	if (!orch_check_cluster(o, req, e))
		return -1;
	if (!json_is_array(list) || json_array_size(list) > 10) {
		orch_set_error(e, "InvalidParameterException", "services must be a list of 1 to 10 names or ARNs");
		return -1;
	}
	json_t *svcs = json_array(), *failures = json_array();
	json_array_foreach(list, i, v) {
		struct service *s = json_is_string(v) ? service_find(o, json_string_value(v)) : NULL;
		if (s)
			json_array_append_new(svcs, service_json(s));
		else
			json_array_append_new(failures, json_pack("{s:s,s:s}", "arn",
								   json_is_string(v) ? json_string_value(v) : "",
								   "reason", "MISSING"));
	}
	*ret = json_pack("{s:o,s:o}", "services", svcs, "failures", failures);
	return 0;
}

int orch_list_services(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e)
{
	json_int_t max = 10;
	const char *tok;

	*ret = NULL;
	if (!orch_check_cluster(o, req, e) || !orch_opt_int(req, "maxResults", 1, 100, &max, e) ||
	    !orch_opt_string(req, "nextToken", 1600, &tok, e))
		return -1;
	size_t start = 0, idx = 0;
	if (tok) {
		char *end;
		unsigned long long v = strtoull(tok, &end, 10);
		if (*end || v > o->n_services) {
			orch_set_error(e, "InvalidParameterException", "nextToken is not valid");
			return -1;
		}
		start = (size_t)v;
	}
	json_t *arns = json_array();
	const struct service *s;
	for (s = o->services; s; s = s->next, idx++) {
		if (idx < start || s->status == SVC_INACTIVE)
			continue;
		if (json_array_size(arns) >= (size_t)max)
			break;
		json_array_append_new(arns, json_string(s->arn));
	}
	*ret = json_pack("{s:o}", "serviceArns", arns);
	if (s) {
		char buf[24];
		snprintf(buf, sizeof(buf), "%zu", idx);
		json_object_set_new(*ret, "nextToken", json_string(buf));
	}
	return 0;
}
