/*
 * service_state.c — a service as JSON (DescribeServices' service, with its
 * deployments and events[]), its events (the events[] messages and the
 * "ECS Service Action" / "ECS Deployment State Change" events on the bus),
 * and its state file: services/<name>.json, written with fsync whenever
 * the service changed (services change rarely and must survive a power
 * loss), read back when the daemon starts.
 */
#include "service_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "logger.h"
#include "orch_json.h"
#include "orch_state.h"
#include "readfile.h"
#include "statefile.h"

/* ------------------------------------------------------------ events */

void service_add_event(struct service *s, const char *fmt, ...)
{
	char msg[700];
	unsigned char b[16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("service", "%s", msg);
	s->dirty = true;
	if (!s->events)
		return;
	char *text = strdup(msg);
	if (!text)
		return;
	if (s->n_events == ORCH_MAX_SERVICE_EVENTS)
		free(s->events[--s->n_events].message);
	memmove(&s->events[1], &s->events[0], s->n_events * sizeof(s->events[0]));
	s->n_events++;
	struct service_event *e = &s->events[0];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		memset(b, 0, sizeof(b));
	snprintf(e->id, sizeof(e->id), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	e->created_wall_ms = orch_wall_ms(s->o);
	e->message = text;
}

static json_t *events_json(const struct service *s)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < s->n_events; i++)
		json_array_append_new(a, json_pack("{s:s,s:o,s:s}", "id", s->events[i].id, "createdAt",
						   orch_epoch_json(s->events[i].created_wall_ms), "message",
						   s->events[i].message));
	return a;
}

/* ECS Service Action / ECS Deployment State Change events onto the bus. */
void service_emit_action(struct service *s, const char *event_name, const char *type, const char *reason)
{
	json_t *detail = json_pack("{s:s,s:s,s:s}", "eventType", type, "eventName", event_name, "clusterArn",
				   s->o->cluster_arn);
	if (!detail)
		return;
	if (reason)
		json_object_set_new(detail, "reason", json_string(reason));
	orch_emit(s->o, "ECS Service Action", json_pack("[s]", s->arn), detail);
}

void service_emit_deployment(struct service *s, const struct deployment *d, const char *event_name,
			    const char *reason)
{
	json_t *detail = json_pack("{s:s,s:s,s:s,s:s}", "eventType", strcmp(event_name, "SERVICE_DEPLOYMENT_FAILED") == 0
									? "ERROR" : "INFO",
				   "eventName", event_name, "deploymentId", d->id, "reason",
				   reason ? reason : "");
	if (detail)
		orch_emit(s->o, "ECS Deployment State Change", json_pack("[s]", s->arn), detail);
}

/* ------------------------------------------------------------ JSON and the state file */

static json_t *deployment_json(const struct service *s, const struct deployment *d)
{
	struct service_counts c;
	service_count_deployment(s, d, &c);
	unsigned desired = d->status == DEP_PRIMARY ? (s->status == SVC_ACTIVE ? s->desired : 0)
						    : c.pending + c.running;
	json_t *j = json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:o,s:o,s:s,s:s}", "id", d->id, "status",
			      d->status == DEP_PRIMARY ? "PRIMARY" : "ACTIVE", "taskDefinition", d->td->arn,
			      "desiredCount", (int)desired, "pendingCount", (int)c.pending, "runningCount",
			      (int)c.running, "failedTasks", (int)d->failed_tasks, "createdAt",
			      orch_epoch_json(d->created_wall_ms), "updatedAt", orch_epoch_json(d->updated_wall_ms), "launchType",
			      orch_launch_type_name(s->launch_type), "rolloutState", d->rollout);
	if (j && d->rollout_reason)
		json_object_set_new(j, "rolloutStateReason", json_string(d->rollout_reason));
	return j;
}

json_t *orch_service_json(const struct service *s)
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
	json_t *deps = json_array(), *events = events_json(s);
	for (const struct deployment *d = s->deps; deps && d; d = d->next)
		json_array_append_new(deps, deployment_json(s, d));
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:s,s:s,s:o,s:o,s:o,s:s,s:{s:i,s:i,s:{s:b,s:b}}}",
			      "serviceArn", s->arn, "serviceName", s->name, "clusterArn", s->o->cluster_arn,
			      "status", service_status_names[s->status], "desiredCount", (int)s->desired,
			      "runningCount", (int)running, "pendingCount", (int)pending, "launchType",
			      orch_launch_type_name(s->launch_type), "taskDefinition",
			      s->deps ? s->deps->td->arn : "", "deployments", deps ? deps : json_array(), "events",
			      events ? events : json_array(), "createdAt", orch_epoch_json(s->created_wall_ms), "schedulingStrategy", "REPLICA",
			      "deploymentConfiguration", "maximumPercent", (int)s->max_pct, "minimumHealthyPercent",
			      (int)s->min_pct, "deploymentCircuitBreaker", "enable", s->cb_enable, "rollback",
			      s->cb_rollback);
	if (j && s->grace_s >= 0)
		json_object_set_new(j, "healthCheckGracePeriodSeconds", json_integer(s->grace_s));
	return j;
}

static json_t *service_state(const struct service *s)
{
	json_t *j = orch_service_json(s);
	json_t *deps = json_array();
	for (const struct deployment *d = s->deps; deps && d; d = d->next)
		json_array_append_new(deps, json_pack("{s:s,s:s,s:s,s:s?,s:I,s:I,s:i,s:b}", "id", d->id,
						      "taskDefinition", d->td->arn, "rolloutState", d->rollout,
						      "rolloutStateReason", d->rollout_reason, "createdMs",
						      (json_int_t)d->created_wall_ms, "updatedMs", (json_int_t)d->updated_wall_ms,
						      "failedTasks", (int)d->failed_tasks, "primary",
						      d->status == DEP_PRIMARY));
	json_t *priv = json_pack("{s:o,s:s?,s:I}", "deployments", deps, "lastCompleted",
				 s->last_completed ? s->last_completed->arn : NULL, "createdMs",
				 (json_int_t)s->created_wall_ms);
	if (!j || !priv) {
		json_decref(j);
		json_decref(priv);
		return NULL;
	}
	if (s->applied_tokens)
		json_object_set(priv, "appliedTokens", s->applied_tokens);
	json_object_set_new(j, "tripline", priv);
	return j;
}

int service_write(struct service *s)
{
	char dir[4200], name[STATEFILE_NAME_MAX];
	snprintf(dir, sizeof(dir), "%s/services", s->o->data_dir);
	int r = statefile_name(s->name, ".json", name);
	if (r < 0) {
		log_error("service", "%s: cannot name its state file: %s", s->name, strerror(-r));
		return r;
	}
	if (s->status == SVC_INACTIVE) {
		char path[4500];
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (unlink(path) < 0 && errno != ENOENT) {
			r = -errno;
			log_error("service", "%s: cannot remove its state: %s", s->name, strerror(-r));
			return r;
		}
		s->dirty = false;
		return 0;
	}
	json_t *j = service_state(s);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	r = text ? statefile_write(dir, name, text, strlen(text), true) : -ENOMEM;
	if (r < 0) {
		log_error("service", "%s: cannot write its state: %s", s->name, strerror(-r));
		s->dirty = true;   /* the tick tries again */
	} else {
		s->dirty = false;
	}
	free(text);
	return r;
}


/* ------------------------------------------------------------ loading */

/* events[] back from the state file, newest first as written. */
static void load_events(struct service *s, const json_t *events)
{
	for (size_t i = 0; s->events && i < json_array_size(events) && s->n_events < ORCH_MAX_SERVICE_EVENTS; i++) {
		const json_t *e = json_array_get(events, i);
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		char *text = msg ? strdup(msg) : NULL;
		if (!id || !text) {
			free(text);
			continue;
		}
		struct service_event *ev = &s->events[s->n_events++];
		snprintf(ev->id, sizeof(ev->id), "%s", id);
		ev->created_wall_ms = (uint64_t)(json_number_value(json_object_get(e, "createdAt")) * 1000.0 + 0.5);
		ev->message = text;
	}
}

void orch_state_set_aside(struct orch *o, const char *path, const char *why)
{
	char corrupt[4200], dest[4500];
	snprintf(corrupt, sizeof(corrupt), "%s/corrupt", o->data_dir);
	int r = statefile_move_aside(path, corrupt, dest, sizeof(dest));
	if (r < 0)
		log_error("orch", "%s: %s; not loaded, and it cannot be moved aside: %s", path, why, strerror(-r));
	else
		log_error("orch", "%s: %s; not loaded: moved to %s", path, why, dest);
}

json_t *orch_state_read(const char *path, int *ret_err, char *why, size_t whylen)
{
	json_error_t je;
	char *text = NULL;
	size_t len = 0;
	int r = readfile(path, ORCH_STATE_FILE_MAX, NULL, &text, &len);
	json_t *j = NULL;

	*ret_err = 0;
	if (r == -EFBIG || r == -EISDIR || r == -ENOENT || r == -ELOOP)
		snprintf(why, whylen, "%s", r == -EFBIG ? "larger than a state file can be" : readfile_strerror(r));
	else if (r < 0)
		*ret_err = r;
	else if (!(j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)))
		snprintf(why, whylen, "not JSON: line %d: %s", je.line, je.text);
	free(text);
	return j;
}

static int service_load(struct orch *o, const char *path)
{
	char why[300] = "no serviceName or tripline member";
	int err;
	json_t *j = orch_state_read(path, &err, why, sizeof(why));
	json_t *priv = json_object_get(j, "tripline");
	const char *name = json_string_value(json_object_get(j, "serviceName"));
	struct service *s = NULL;

	if (err < 0)
		return err;
	if (!j || !priv || !name || !name[0] || strlen(name) > SERVICE_MAX_NAME) {
		char msg[340];
		snprintf(msg, sizeof(msg), "not a service state file (%s)", why);
		orch_state_set_aside(o, path, msg);
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
	s->launch_type = lt && strcmp(lt, "FARGATE") == 0    ? ORCH_LAUNCH_FARGATE
			 : lt && strcmp(lt, "EXTERNAL") == 0 ? ORCH_LAUNCH_EXTERNAL
							     : ORCH_LAUNCH_DEFAULT;
	load_events(s, json_object_get(j, "events"));
	s->created_wall_ms = (uint64_t)json_integer_value(json_object_get(priv, "createdMs"));
	json_t *applied = json_object_get(priv, "appliedTokens");
	if (json_is_array(applied))
		s->applied_tokens = json_incref(applied);
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
		d->created_wall_ms = (uint64_t)json_integer_value(json_object_get(dj, "createdMs"));
		d->updated_wall_ms = (uint64_t)json_integer_value(json_object_get(dj, "updatedMs"));
		d->failed_tasks = (unsigned)json_integer_value(json_object_get(dj, "failedTasks"));
		*tail = d;
		tail = &d->next;
	}
	json_decref(j);
	if (!s->deps || s->deps->status != DEP_PRIMARY) {
		orch_state_set_aside(o, path, "no primary deployment with a known task definition");
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
		if (statefile_is_temp(de->d_name))
			unlinkat(dirfd(d), de->d_name, 0);   /* a write a crash cut short */
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

