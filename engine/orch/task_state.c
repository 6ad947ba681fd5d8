/*
 * task_state.c — a task as JSON: the ECS task object that DescribeTasks
 * answers and "ECS Task State Change" events carry, and the state file
 * data_dir/tasks/<id>.json that lets a restarted daemon take the task back.
 *
 * The state file is the ECS task object plus a "tripline" member with what
 * only a restart needs (the driver and its handle state per container, the
 * reservation, the service bookkeeping). It is written at the end of the
 * loop turn in which the task changed — and at once, before RunTask answers
 * and before any of its containers is launched (task.c) — by temp file +
 * rename and without fsync: the file must survive the daemon being killed,
 * which rename alone guarantees; a power loss kills the tasks too (the boot
 * id in the driver state tells the restarted daemon so).
 *
 * Loading takes every launched container back through its driver (adopt();
 * with no driver state saved, the driver looks for it by its mark); one
 * that cannot be re-adopted counts as exited — or, never recorded and not
 * found, as never started — and orch_task_resume() settles the task.
 * orch_tasks_sweep_files() then removes the log and scratch directories no
 * known task owns. Monotonic times of a loaded task come from the age of
 * its wall-clock times.
 */
#include "orch_internal.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logger.h"
#include "orch_json.h"
#include "orch_state.h"
#include "statefile.h"

/* ------------------------------------------------------------ JSON forms */

json_t *orch_epoch_json(uint64_t wall_ms)
{
	return json_real((double)wall_ms / 1000.0);
}

static json_t *iso_json(uint64_t wall_ms)
{
	char buf[32];
	orch_iso_time(wall_ms, buf);
	return json_string(buf);
}

/* Adds key: value to o when value is not NULL (takes value). */
static void set_opt(json_t *o, const char *key, json_t *value)
{
	if (value)
		json_object_set_new(o, key, value);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : NULL;
}

static json_t *decimal(int64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return json_string(buf);
}

json_t *orch_overrides_json(const struct orch_overrides *ov)
{
	json_t *list = json_array();
	json_t *out = list ? json_pack("{s:o}", "containerOverrides", list) : NULL;

	for (size_t i = 0; out && i < ov->n_containers; i++) {
		const struct orch_container_override *co = &ov->containers[i];
		json_t *c = json_pack("{s:s}", "name", co->name);
		if (!c || json_array_append_new(list, c) < 0)
			goto nomem;
		if (co->has_command) {
			json_t *a = json_array();
			for (size_t k = 0; a && k < co->n_command; k++)
				json_array_append_new(a, json_string(co->command[k]));
			if (!a || json_object_set_new(c, "command", a) < 0)
				goto nomem;
		}
		if (co->has_environment) {
			json_t *a = json_array();
			for (size_t k = 0; a && k < co->n_environment; k++)
				json_array_append_new(a, json_pack("{s:s,s:s}", "name", co->environment[k].name, "value",
								   co->environment[k].value));
			if (!a || json_object_set_new(c, "environment", a) < 0)
				goto nomem;
		}
		if (co->has_cpu && co->cpu)
			json_object_set_new(c, "cpu", json_integer(co->cpu));
		if (co->has_memory && co->memory)
			json_object_set_new(c, "memory", json_integer(co->memory));
	}
	return out;
nomem:
	json_decref(out);
	return NULL;
}

int orch_overrides_from_json(const json_t *j, struct orch_overrides *ret)
{
	const json_t *list = json_object_get(j, "containerOverrides");
	size_t n = json_array_size(list);
	struct orch_container_override *cs = n ? calloc(n, sizeof(*cs)) : NULL;
	struct orch_overrides tmp = {cs, 0};
	int r = -ENOMEM;

	ret->containers = NULL;
	ret->n_containers = 0;
	if (n && !cs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++, tmp.n_containers++) {
		const json_t *co = json_array_get(list, i);
		const json_t *cmd = json_object_get(co, "command"), *env = json_object_get(co, "environment");
		struct orch_container_override *c = &cs[i];
		c->name = json_string_value(json_object_get(co, "name"));
		if (!c->name) {
			r = -EINVAL;
			goto out;
		}
		if (json_is_array(cmd)) {
			const char **v = calloc(json_array_size(cmd) + 1, sizeof(*v));
			if (!v)
				goto out;
			c->command = v;
			c->has_command = true;
			for (size_t k = 0; k < json_array_size(cmd); k++)
				if ((v[c->n_command] = json_string_value(json_array_get(cmd, k))))
					c->n_command++;
		}
		if (json_is_array(env)) {
			struct orch_kv *v = calloc(json_array_size(env) + 1, sizeof(*v));
			if (!v)
				goto out;
			c->environment = v;
			c->has_environment = true;
			for (size_t k = 0; k < json_array_size(env); k++) {
				const json_t *kv = json_array_get(env, k);
				v[c->n_environment].name = json_string_value(json_object_get(kv, "name"));
				v[c->n_environment].value = json_string_value(json_object_get(kv, "value"));
				if (v[c->n_environment].name && v[c->n_environment].value)
					c->n_environment++;
			}
		}
		c->cpu = json_integer_value(json_object_get(co, "cpu"));
		c->has_cpu = c->cpu != 0;
		c->memory = json_integer_value(json_object_get(co, "memory"));
		c->has_memory = c->memory != 0;
	}
	r = orch_overrides_copy(&tmp, ret);
out:
	for (size_t i = 0; i < n; i++) {
		free((void *)(uintptr_t)cs[i].command);
		free((void *)(uintptr_t)cs[i].environment);
	}
	free(cs);
	return r;
}

static json_t *container_json(const struct tcontainer *c)
{
	const struct task *t = c->task;
	char arn[512];
	snprintf(arn, sizeof(arn), "arn:aws:ecs:%s:%s:container/%s/%s/%s", t->orch->region, t->orch->account,
		 t->orch->cluster_name, t->id, c->name);
	json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "containerArn", arn, "taskArn", t->arn, "name", c->name,
			      "lastStatus", orch_task_status_names[c->status]);
	if (!j)
		return NULL;
	set_opt(j, "image", str_or_null(c->def->image));
	set_opt(j, "runtimeId", str_or_null(c->runtime_id));
	if (c->has_exit_code)
		json_object_set_new(j, "exitCode", json_integer(c->exit_code));
	set_opt(j, "reason", str_or_null(c->reason));
	if (c->def->health.present)
		json_object_set_new(j, "healthStatus", json_string(orch_health_names[c->health]));
	int64_t cpu = c->ov && c->ov->has_cpu && c->ov->cpu ? c->ov->cpu : c->def->cpu;
	int64_t mem = c->ov && c->ov->has_memory && c->ov->memory ? c->ov->memory : c->def->memory;
	json_object_set_new(j, "cpu", decimal(cpu));
	if (mem)
		json_object_set_new(j, "memory", decimal(mem));
	if (c->def->memory_reservation)
		json_object_set_new(j, "memoryReservation", decimal(c->def->memory_reservation));
	return j;
}

json_t *orch_task_json_as(const struct task *t, bool iso)
{
	json_t *(*ts)(uint64_t) = iso ? iso_json : orch_epoch_json;
	json_t *containers = json_array();

	for (size_t i = 0; containers && i < t->nc; i++)
		json_array_append_new(containers, container_json(&t->c[i]));
	json_t *j = json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:I,s:o,s:s,s:s}", "taskArn", t->arn,
			      "clusterArn", t->orch->cluster_arn, "taskDefinitionArn", t->td->arn,
			      "containers", containers ? containers : json_array(), "lastStatus",
			      orch_task_status_names[t->last], "desiredStatus",
			      t->desired == TS_STOPPED ? "STOPPED" : "RUNNING", "launchType", t->launch_type,
			      "version", (json_int_t)t->version, "createdAt", ts(t->created_wall_ms),
			      "containerInstanceArn", t->orch->instance_arn, "healthStatus",
			      orch_health_names[t->health]);
	if (!j)
		return NULL;
	json_object_set_new(j, "cpu", decimal(t->cpu));
	json_object_set_new(j, "memory", decimal((int64_t)t->memory_mib));
	set_opt(j, "group", str_or_null(t->group));
	set_opt(j, "startedBy", str_or_null(t->started_by));
	set_opt(j, "overrides", orch_overrides_json(&t->overrides));
	if (t->started_wall_ms)
		json_object_set_new(j, "startedAt", ts(t->started_wall_ms));
	if (t->stopping_wall_ms)
		json_object_set_new(j, "stoppingAt", ts(t->stopping_wall_ms));
	if (t->stopped_wall_ms) {
		json_object_set_new(j, "stoppedAt", ts(t->stopped_wall_ms));
		json_object_set_new(j, "executionStoppedAt", ts(t->stopped_wall_ms));
	}
	if (t->stop_code != SC_NONE)
		json_object_set_new(j, "stopCode", json_string(orch_stop_code_names[t->stop_code]));
	set_opt(j, "stoppedReason", str_or_null(t->stopped_reason));
	if (iso)
		json_object_set_new(j, "updatedAt", iso_json(orch_wall_ms(t->orch)));
	return j;
}

json_t *orch_task_json(const struct task *t)
{
	return orch_task_json_as(t, false);
}

/* ------------------------------------------------------------ the state file */

/* The task plus what only a restarted daemon needs (driver state). */
static json_t *task_state(const struct task *t)
{
	json_t *j = orch_task_json_as(t, false);
	json_t *cs = json_array();
	if (!j || !cs)
		goto fail;
	for (size_t i = 0; i < t->nc; i++) {
		const struct tcontainer *c = &t->c[i];
		json_t *cj = json_pack("{s:s,s:b,s:i,s:b,s:b}", "name", c->name, "launched", c->launched,
				       "exitCode", c->exit_code, "hasExitCode", c->has_exit_code, "everStarted",
				       c->ever_started);
		if (!cj)
			goto fail;
		if (c->h && c->status == TS_RUNNING)
			set_opt(cj, "driver", t->drv->ops->save(c->h));
		json_array_append_new(cs, cj);
	}
	json_t *priv = json_pack("{s:o,s:s,s:I,s:I,s:b,s:b,s:I}", "containers", cs, "driver",
				 t->drv->ops->name, "cpu", (json_int_t)t->cpu, "memoryMib",
				 (json_int_t)t->memory_mib, "everHealthy", t->ever_healthy, "countedFailure",
				 t->counted_failure, "stoppingMs", (json_int_t)t->stopping_wall_ms);
	cs = NULL;
	if (!priv)
		goto fail;
	if (t->uid)
		json_object_set_new(priv, "uid", json_integer(t->uid));   /* its dynamic uid */
	if (t->client_token) {   /* the RunTask clientToken that started it */
		json_object_set_new(priv, "clientToken", json_string(t->client_token));
		json_object_set_new(priv, "clientParams", json_string(t->client_params));
		json_object_set_new(priv, "clientTokenTtl", json_integer(t->client_ttl_s));
	}
	if (t->service) {
		json_object_set_new(priv, "service", json_string(service_name(t->service)));
		set_opt(priv, "deployment", str_or_null(t->deployment_id));
	}
	json_object_set_new(j, "tripline", priv);
	return j;
fail:
	json_decref(cs);
	json_decref(j);
	return NULL;
}

int orch_task_write(struct task *t)
{
	char dir[4096], name[64];
	json_t *j = task_state(t);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	snprintf(dir, sizeof(dir), "%s/tasks", t->orch->data_dir);
	snprintf(name, sizeof(name), "%s.json", t->id);
	int r = text ? statefile_write(dir, name, text, strlen(text), false) : -ENOMEM;
	if (r < 0)
		log_error("orch", "task %s: cannot write its state: %s", t->id, strerror(-r));
	else
		t->dirty = false;
	free(text);
	return r;
}

/* ------------------------------------------------------------ loading */

static uint64_t wall_of(const json_t *j, const char *key)
{
	const json_t *v = json_object_get(j, key);
	return v ? (uint64_t)(json_number_value(v) * 1000.0 + 0.5) : 0;
}

static char *dup_member(const json_t *j, const char *key, bool *nomem)
{
	const char *s = json_string_value(json_object_get(j, key));
	char *d = s ? strdup(s) : NULL;
	*nomem |= s && !d;
	return d;
}

/* Takes the task's running containers back through its driver. */
static void adopt_containers(struct task *t, const json_t *cs)
{
	struct orch *o = t->orch;

	for (size_t i = 0; t->last != TS_STOPPED && i < t->nc; i++) {
		struct tcontainer *c = &t->c[i];
		json_t *ds = json_object_get(json_array_get(cs, i), "driver");
		if (ds && !json_is_object(ds))
			ds = NULL;
		if (!c->launched || c->status == TS_STOPPED)
			continue;
		struct drv_spec spec;
		struct drv_mount mounts[64];
		char logbuf[4200], scratch[4200];
		orch_container_spec(c, &spec, logbuf, sizeof(logbuf), scratch, sizeof(scratch), mounts);
		bool was_started = c->ever_started;
		c->status = TS_RUNNING;
		c->ever_started = true;
		c->started_mono_ms = orch_mono_ms(o);
		/* without a saved state (launched, the start not yet recorded) the
		 * driver looks for the container's processes by their mark */
		if (!t->drv->d || t->drv->ops->adopt(t->drv->d, &spec, ds, c, &c->h) < 0) {
			c->h = NULL;
			c->status = TS_STOPPED;
			c->ever_started = was_started;
			c->lost_at_start = !ds;
			free(c->reason);
			c->reason = strdup(!t->drv->d ? "its driver is not available after the restart"
					   : ds ? "the daemon restarted and could not take the container back"
						: "the daemon stopped before the container's start was recorded, "
						  "and no process of it runs");
			continue;
		}
		const char *rid = t->drv->ops->runtime_id(c->h);
		if (!c->runtime_id || strcmp(c->runtime_id, rid) != 0) {
			free(c->runtime_id);
			c->runtime_id = strdup(rid);   /* found by its mark: never recorded */
			orch_task_dirty(t);
		}
		log_info("orch", "task %s: container %s re-adopted (%s%s)", t->id, c->name, rid,
			 ds ? "" : ", found by its mark");
		if (c->def->health.present)
			orch_health_schedule(c, 1000);
	}
}

/* 1 when loaded, 0 when the file is not a task of ours (logged and moved
 * to data_dir/corrupt/). */
static int load_task(struct orch *o, const char *path)
{
	char why[300] = "no tripline member", msg[340];
	int err;
	json_t *j = orch_state_read(path, &err, why, sizeof(why));
	json_t *priv = json_object_get(j, "tripline");
	const struct taskdef *td = NULL;
	struct task *t = NULL;
	bool nomem = false;

	if (err < 0)
		return err;
	if (!j || !priv) {
		snprintf(msg, sizeof(msg), "not a task state file (%s)", why);
		orch_state_set_aside(o, path, msg);
		json_decref(j);
		return 0;
	}
	const char *arn = json_string_value(json_object_get(j, "taskArn"));
	const char *tdarn = json_string_value(json_object_get(j, "taskDefinitionArn"));
	if (!arn || !tdarn || taskdef_describe(o->taskdefs, tdarn, &td) < 0 || !strrchr(arn, '/') ||
	    strlen(strrchr(arn, '/') + 1) != 32) {
		orch_state_set_aside(o, path, "an unknown task definition or a malformed task");
		json_decref(j);
		return 0;
	}
	json_t *cs = json_object_get(priv, "containers");
	if (json_array_size(cs) != td->n_containers) {
		orch_state_set_aside(o, path, "does not match its task definition");
		json_decref(j);
		return 0;
	}
	if (!(t = orch_task_alloc(o, td)) || orch_task_set_id(t, strrchr(arn, '/') + 1) < 0)
		goto nomem;
	const char *drv = json_string_value(json_object_get(priv, "driver"));
	t->drv = orch_driver_named(o, drv ? drv : driver_process_ops.name);
	if (!t->drv)
		t->drv = &o->drivers[0];
	if (!t->drv->d)
		log_warn("orch", "task %s ran on %s, which is not available now", t->id, t->drv->ops->name);
	t->arn = dup_member(j, "taskArn", &nomem);
	t->launch_type = dup_member(j, "launchType", &nomem);
	if (!t->launch_type && !nomem)
		t->launch_type = strdup("EC2");
	t->group = dup_member(j, "group", &nomem);
	t->started_by = dup_member(j, "startedBy", &nomem);
	t->stopped_reason = dup_member(j, "stoppedReason", &nomem);
	if (nomem || !t->launch_type)
		goto nomem;
	int r = orch_overrides_from_json(json_object_get(j, "overrides"), &t->overrides);
	if (r == -ENOMEM)
		goto nomem;
	t->version = (uint64_t)json_integer_value(json_object_get(j, "version"));
	t->created_wall_ms = wall_of(j, "createdAt");
	t->started_wall_ms = wall_of(j, "startedAt");
	t->stopped_wall_ms = wall_of(j, "stoppedAt");
	t->stopping_wall_ms = (uint64_t)json_integer_value(json_object_get(priv, "stoppingMs"));
	t->created_mono_ms = orch_mono_of_wall(o, t->created_wall_ms);
	t->started_mono_ms = orch_mono_of_wall(o, t->started_wall_ms);
	t->stopped_mono_ms = orch_mono_of_wall(o, t->stopped_wall_ms);
	t->cpu = (uint32_t)json_integer_value(json_object_get(priv, "cpu"));
	t->memory_mib = (uint64_t)json_integer_value(json_object_get(priv, "memoryMib"));
	t->ever_healthy = json_is_true(json_object_get(priv, "everHealthy"));
	t->counted_failure = json_is_true(json_object_get(priv, "countedFailure"));
	t->uid = (uint32_t)json_integer_value(json_object_get(priv, "uid"));
	const char *ctok = json_string_value(json_object_get(priv, "clientToken"));
	const char *cpar = json_string_value(json_object_get(priv, "clientParams"));
	if (ctok && cpar && strlen(cpar) == CLIENT_TOKEN_PARAMS_LEN) {
		t->client_token = strdup(ctok);
		memcpy(t->client_params, cpar, CLIENT_TOKEN_PARAMS_LEN + 1);
		t->client_ttl_s = (uint32_t)json_integer_value(json_object_get(priv, "clientTokenTtl"));
	}
	const char *last = json_string_value(json_object_get(j, "lastStatus"));
	t->last = TS_PENDING;
	for (int s = 0; s <= TS_STOPPED; s++)
		if (last && strcmp(last, orch_task_status_names[s]) == 0)
			t->last = (enum task_status)s;
	const char *desired = json_string_value(json_object_get(j, "desiredStatus"));
	t->desired = desired && strcmp(desired, "STOPPED") == 0 ? TS_STOPPED : TS_RUNNING;
	const char *sc = json_string_value(json_object_get(j, "stopCode"));
	for (int s = 1; s <= SC_SERVICE_SCHEDULER_INITIATED; s++)
		if (sc && strcmp(sc, orch_stop_code_names[s]) == 0)
			t->stop_code = (enum stop_code)s;
	const char *svc = json_string_value(json_object_get(priv, "service"));
	if (svc) {
		t->service = service_find(o, svc);
		t->deployment_id = dup_member(priv, "deployment", &nomem);
		if (nomem)
			goto nomem;
	}
	json_t *cjs = json_object_get(j, "containers");
	for (size_t i = 0; i < t->nc; i++) {
		struct tcontainer *c = &t->c[i];
		json_t *cj = json_array_get(cs, i), *pub = json_array_get(cjs, i);
		c->ov = NULL;
		for (size_t k = 0; k < t->overrides.n_containers; k++)
			if (strcmp(t->overrides.containers[k].name, c->name) == 0)
				c->ov = &t->overrides.containers[k];
		c->launched = json_is_true(json_object_get(cj, "launched"));
		c->exit_code = (int)json_integer_value(json_object_get(cj, "exitCode"));
		c->has_exit_code = json_is_true(json_object_get(cj, "hasExitCode"));
		c->ever_started = json_is_true(json_object_get(cj, "everStarted")) ||
				  json_integer_value(json_object_get(cj, "startedMs")) != 0;
		const char *cl = json_string_value(json_object_get(pub, "lastStatus"));
		c->status = cl && strcmp(cl, "RUNNING") == 0 ? TS_RUNNING
			    : cl && strcmp(cl, "STOPPED") == 0 ? TS_STOPPED
							       : TS_PENDING;
		c->runtime_id = dup_member(pub, "runtimeId", &nomem);
		c->reason = dup_member(pub, "reason", &nomem);
		if (nomem)
			goto nomem;
	}
	orch_task_link(o, t);
	adopt_containers(t, cs);
	json_decref(j);
	return 1;
nomem:
	json_decref(j);
	if (t)
		orch_task_free(t);
	return -ENOMEM;
}

int orch_tasks_load(struct orch *o)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/tasks", o->data_dir);
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.' || n < 5 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		char path[4500];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (n != 37) {
			orch_state_set_aside(o, path, "not named <task id>.json");
			continue;
		}
		if ((r = load_task(o, path)) < 0)
			break;
		r = 0;
	}
	closedir(d);
	return r;
}

/* Whether name is "<32 hex digits>" of a task we know. */
static bool known_task(struct orch *o, const char *name)
{
	return strlen(name) == 32 && orch_task_find(o, name) != NULL;
}

void orch_tasks_sweep_files(struct orch *o)
{
	static const char *const kinds[] = {"logs", "work"};
	char dir[4200], path[4500];
	struct dirent *de;
	DIR *d;

	for (size_t k = 0; k < 2; k++) {
		snprintf(dir, sizeof(dir), "%s/%s", o->data_dir, kinds[k]);
		if (!(d = opendir(dir)))
			continue;
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || known_task(o, de->d_name))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			log_warn("orch", "%s belongs to no known task: removed", path);
			statefile_remove_tree(path);
		}
		closedir(d);
	}
	/* temp files of a write the daemon was killed in (statefile.c's ".<name>.XXXXXX") */
	snprintf(dir, sizeof(dir), "%s/tasks", o->data_dir);
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (de->d_name[0] != '.' || n != 1 + 37 + 7 || strncmp(de->d_name + 33, ".json.", 6) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
}
