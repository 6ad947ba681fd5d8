/*
 * orch.c — tasks: placement, launch, lifecycle, state files, events, logs.
 *
 * A task's life, as DescribeTasks shows it:
 *
 *   PROVISIONING  accepted and placed (its CPU units and memory reserved);
 *   PENDING       containers being launched, in dependsOn order;
 *   RUNNING       every container has started;
 *   DEPROVISIONING  desiredStatus is STOPPED: containers are being stopped
 *                 (SIGTERM, SIGKILL after each one's stopTimeout);
 *   STOPPED       nothing runs any more; the reservation is released.
 *
 * The first reason to stop wins (stopCode and stoppedReason are never
 * overwritten): an essential container exiting (EssentialContainerExited), a
 * container that cannot start or a dependency that cannot be met
 * (TaskFailedToStart), StopTask (UserInitiated) or the service scheduler
 * (ServiceSchedulerInitiated).
 *
 * Persistence: every change marks the task dirty; at the end of the loop
 * turn (a uv_check handle) each dirty task is written to tasks/<id>.json by
 * temp file + rename. Not fsync'd: the file must survive the daemon being
 * killed, which rename alone guarantees; a power loss kills the tasks too
 * (the boot id in the driver state tells the restarted daemon so). Services
 * are rarer and are fsync'd (service.c).
 *
 * Time: createdAt and friends are wall-clock epoch seconds with millisecond
 * precision, as ECS returns them. Durations (backoff, grace periods, health
 * checks) use the loop's monotonic clock.
 */
#include "orch_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "logger.h"
#include "statefile.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_TAIL_DEFAULT ((size_t)64 << 10)
#define MAX_STOP_REASON 1024

static const char *const status_names[] = {"PROVISIONING", "PENDING", "RUNNING", "DEPROVISIONING",
					   "STOPPED"};
static const char *const stop_code_names[] = {NULL, "TaskFailedToStart", "EssentialContainerExited",
					      "UserInitiated", "ServiceSchedulerInitiated"};
static const char *const health_names[] = {"UNKNOWN", "HEALTHY", "UNHEALTHY"};

static void try_launch(struct task *t);
static void check_stopped(struct task *t);
static void container_stopped(struct tcontainer *c);

/* ------------------------------------------------------------ small helpers */

uint64_t orch_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *orch_task_status_name(enum task_status s)
{
	return status_names[s];
}

void orch_set_error(struct orch_error *e, const char *type, const char *fmt, ...)
{
	va_list ap;
	e->type = type;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

static void random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[32];

	if (nbytes > sizeof(b))
		nbytes = sizeof(b);
	if (getrandom(b, nbytes, 0) != (ssize_t)nbytes) {
		/* getrandom does not fail for ≤ 256 bytes once the pool is ready;
		 * fall back to the clock so an id is still unique enough */
		uint64_t x = orch_now_ms() ^ (uint64_t)getpid() << 32;
		for (size_t i = 0; i < nbytes; i++, x = x * 6364136223846793005u + 1442695040888963407u)
			b[i] = (unsigned char)(x >> 56);
	}
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * nbytes] = '\0';
}

static json_t *epoch(uint64_t ms)
{
	return json_real((double)ms / 1000.0);
}

static json_t *iso_time(uint64_t ms)
{
	char buf[40];
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	size_t n = strlen(buf);
	snprintf(buf + n, sizeof(buf) - n, ".%03uZ", (unsigned)(ms % 1000));
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

/* ------------------------------------------------------------ events */

void orch_emit(struct orch *o, const char *detail_type, json_t *resources, json_t *detail)
{
	char id[33], uuid[37];

	random_hex(id, 16);
	snprintf(uuid, sizeof(uuid), "%.8s-%.4s-4%.3s-a%.3s-%.12s", id, id + 8, id + 13, id + 17, id + 20);
	json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:o,s:o}", "version", "0", "id", uuid,
			       "detail-type", detail_type, "source", "aws.ecs", "account", o->account,
			       "time", iso_time(orch_now_ms()), "region", o->region, "resources",
			       resources ? resources : json_array(), "detail", detail ? detail : json_object());
	if (!ev)
		return;
	o->m.events_emitted++;
	if (logger_enabled(LOG_LEVEL_DEBUG)) {
		char *text = json_dumps(ev, JSON_COMPACT);
		log_debug("events", "%s", text ? text : detail_type);
		free(text);
	}
	if (o->cfg.on_event)
		o->cfg.on_event(o->cfg.userdata, ev);
	json_decref(ev);
}

/* ------------------------------------------------------------ task JSON */

static const char *container_status_name(const struct tcontainer *c)
{
	return status_names[c->status];
}

static json_t *container_json(const struct tcontainer *c, bool iso)
{
	const struct task *t = c->task;
	char arn[512];
	snprintf(arn, sizeof(arn), "arn:aws:ecs:%s:%s:container/%s/%s/%s", t->orch->region, t->orch->account,
		 t->orch->cluster_name, t->id, c->name);
	json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "containerArn", arn, "taskArn", t->arn, "name", c->name,
			      "lastStatus", container_status_name(c));
	if (!j)
		return NULL;
	(void)iso;
	set_opt(j, "image", str_or_null(c->def->image));
	set_opt(j, "runtimeId", str_or_null(c->runtime_id));
	if (c->has_exit_code)
		json_object_set_new(j, "exitCode", json_integer(c->exit_code));
	set_opt(j, "reason", str_or_null(c->reason));
	if (c->def->health.present)
		json_object_set_new(j, "healthStatus", json_string(health_names[c->health]));
	int cpu = c->cpu_override ? c->cpu_override : c->def->cpu;
	int mem = c->memory_override ? c->memory_override : c->def->memory;
	char buf[24];
	snprintf(buf, sizeof(buf), "%d", cpu);
	json_object_set_new(j, "cpu", json_string(buf));
	if (mem) {
		snprintf(buf, sizeof(buf), "%d", mem);
		json_object_set_new(j, "memory", json_string(buf));
	}
	if (c->def->memory_reservation) {
		snprintf(buf, sizeof(buf), "%d", c->def->memory_reservation);
		json_object_set_new(j, "memoryReservation", json_string(buf));
	}
	return j;
}

/* The task as DescribeTasks returns it (iso: timestamps as ISO 8601 strings,
 * as ECS's events carry them). */
static json_t *task_json(const struct task *t, bool iso)
{
	json_t *(*ts)(uint64_t) = iso ? iso_time : epoch;
	json_t *containers = json_array();
	char buf[24];

	for (size_t i = 0; containers && i < t->nc; i++)
		json_array_append_new(containers, container_json(&t->c[i], iso));
	json_t *j = json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:I,s:o,s:s,s:s}", "taskArn", t->arn,
			      "clusterArn", t->orch->cluster_arn, "taskDefinitionArn", t->td->arn,
			      "containers", containers ? containers : json_array(), "lastStatus",
			      status_names[t->last], "desiredStatus",
			      t->desired == TS_STOPPED ? "STOPPED" : "RUNNING", "launchType", t->launch_type,
			      "version", (json_int_t)t->version, "createdAt", ts(t->created_ms),
			      "containerInstanceArn", t->orch->instance_arn, "healthStatus",
			      health_names[t->health]);
	if (!j)
		return NULL;
	snprintf(buf, sizeof(buf), "%" PRIu32, t->cpu);
	json_object_set_new(j, "cpu", json_string(buf));
	snprintf(buf, sizeof(buf), "%" PRIu64, t->memory_mib);
	json_object_set_new(j, "memory", json_string(buf));
	set_opt(j, "group", str_or_null(t->group));
	set_opt(j, "startedBy", str_or_null(t->started_by));
	json_object_set_new(j, "overrides",
			    t->overrides ? json_incref(t->overrides)
					 : json_pack("{s:[]}", "containerOverrides"));
	if (t->started_ms)
		json_object_set_new(j, "startedAt", ts(t->started_ms));
	if (t->stopping_ms)
		json_object_set_new(j, "stoppingAt", ts(t->stopping_ms));
	if (t->stopped_ms) {
		json_object_set_new(j, "stoppedAt", ts(t->stopped_ms));
		json_object_set_new(j, "executionStoppedAt", ts(t->stopped_ms));
	}
	if (t->stop_code != SC_NONE)
		json_object_set_new(j, "stopCode", json_string(stop_code_names[t->stop_code]));
	set_opt(j, "stoppedReason", str_or_null(t->stopped_reason));
	if (iso)
		json_object_set_new(j, "updatedAt", iso_time(orch_now_ms()));
	return j;
}

json_t *orch_task_json(const struct task *t)
{
	return task_json(t, false);
}

/* ------------------------------------------------------------ state files */

/* The task plus what only a restarted daemon needs (driver state). */
static json_t *task_state(const struct task *t)
{
	json_t *j = task_json(t, false);
	json_t *cs = json_array();
	if (!j || !cs)
		goto fail;
	for (size_t i = 0; i < t->nc; i++) {
		const struct tcontainer *c = &t->c[i];
		json_t *cj = json_pack("{s:s,s:b,s:i,s:b,s:I}", "name", c->name, "launched", c->launched,
				       "exitCode", c->exit_code, "hasExitCode", c->has_exit_code,
				       "startedMs", (json_int_t)c->started_ms);
		if (!cj)
			goto fail;
		if (c->h && c->status == TS_RUNNING)
			set_opt(cj, "driver", t->drv->save(c->h));
		if (c->cmd_override) {
			json_t *a = json_array();
			for (char **p = c->cmd_override; a && *p; p++)
				json_array_append_new(a, json_string(*p));
			set_opt(cj, "command", a);
		}
		if (c->env_override)
			json_object_set(cj, "environment", c->env_override);
		if (c->cpu_override)
			json_object_set_new(cj, "cpu", json_integer(c->cpu_override));
		if (c->memory_override)
			json_object_set_new(cj, "memory", json_integer(c->memory_override));
		json_array_append_new(cs, cj);
	}
	json_t *priv = json_pack("{s:o,s:s,s:I,s:I,s:b,s:b,s:I,s:I}", "containers", cs, "driver",
				 t->drv->name, "cpu", (json_int_t)t->cpu, "memoryMib",
				 (json_int_t)t->memory_mib, "everHealthy", t->ever_healthy, "countedFailure",
				 t->counted_failure, "healthyMs", (json_int_t)t->healthy_ms, "stoppingMs",
				 (json_int_t)t->stopping_ms);
	cs = NULL;
	if (!priv)
		goto fail;
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

static void write_task(struct task *t)
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
}

void orch_task_mark(struct task *t)
{
	t->version++;
	orch_task_dirty(t);
	json_t *detail = task_json(t, true);
	if (detail)
		orch_emit(t->orch, "ECS Task State Change", json_pack("[s]", t->arn), detail);
}

void orch_task_dirty(struct task *t)
{
	t->dirty = true;
	t->orch->any_dirty = true;
}

static void write_dirty(struct orch *o)
{
	if (!o->any_dirty)
		return;
	o->any_dirty = false;
	for (struct task *t = o->tasks_head; t; t = t->next)
		if (t->dirty)
			write_task(t);
}

/* The end of each loop turn: convergence asked for, then every changed task
 * written once however often it changed during the turn. */
static void on_flush(uv_check_t *h)
{
	struct orch *o = h->data;
	if (o->converge_pending) {
		o->converge_pending = false;
		service_converge_all(o);
	}
	write_dirty(o);
}

void orch_want_converge(struct orch *o)
{
	o->converge_pending = true;
}

/* ------------------------------------------------------------ task memory */

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h);
}

static void task_free(struct task *t)
{
	for (size_t i = 0; i < t->nc; i++) {
		struct tcontainer *c = &t->c[i];
		free(c->name);
		free(c->runtime_id);
		free(c->reason);
		strv_free(c->cmd_override);
		json_decref(c->env_override);
		if (c->health_timer)
			uv_close((uv_handle_t *)c->health_timer, on_timer_closed);
	}
	free(t->c);
	free(t->arn);
	free(t->group);
	free(t->started_by);
	free(t->deployment_id);
	free(t->stopped_reason);
	free(t->launch_type);
	json_decref(t->overrides);
	free(t);
}

static void list_add(struct orch *o, struct task *t)
{
	t->prev = o->tasks_tail;
	if (o->tasks_tail)
		o->tasks_tail->next = t;
	else
		o->tasks_head = t;
	o->tasks_tail = t;
	o->n_tasks++;
}

static void list_remove(struct orch *o, struct task *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		o->tasks_head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		o->tasks_tail = t->prev;
	o->n_tasks--;
}

/* ------------------------------------------------------------ secrets */

/* The name a valueFrom refers to in the secrets file: the whole reference,
 * or for an ARN the Secrets Manager secret name / SSM parameter name. */
static const char *secret_key_of(const char *ref)
{
	const char *p;
	if (strncmp(ref, "arn:", 4) != 0)
		return ref;
	if ((p = strstr(ref, ":secret:")))
		return p + 8;
	if ((p = strstr(ref, ":parameter/")))
		return p + 11;
	return ref;
}

/* Resolves one valueFrom into *ret (malloc'd; the caller wipes it). The
 * store is loaded once per launch by the caller (store may be NULL). */
static int resolve_secret(const struct orch *o, json_t *store, const char *ref, char **ret, char *why,
			  size_t whylen)
{
	*ret = NULL;
	if (strncmp(ref, "env:", 4) == 0)
		return config_resolve_secret(ref, ret, why, whylen);
	json_t *v = store ? json_object_get(store, ref) : NULL;
	if (!v && store)
		v = json_object_get(store, secret_key_of(ref));
	if (!v || !json_is_string(v)) {
		snprintf(why, whylen, "secret %s is not in the secrets store%s", ref,
			 o->secrets_file ? "" : " (no secrets.file is configured)");
		return -ENOENT;
	}
	*ret = strdup(json_string_value(v));
	return *ret ? 0 : -ENOMEM;
}

static json_t *load_secret_store(const struct orch *o, char *why, size_t whylen, int *err)
{
	char *text = NULL, ref[4200];
	json_error_t je;

	*err = 0;
	if (!o->secrets_file)
		return NULL;
	snprintf(ref, sizeof(ref), "file:%s", o->secrets_file);
	int r = config_resolve_secret(ref, &text, why, whylen);
	if (r < 0) {
		*err = r;
		return NULL;
	}
	json_t *store = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	explicit_bzero(text, strlen(text));
	free(text);
	if (!store || !json_is_object(store)) {
		/* the parser's message may quote the file: do not pass it on */
		snprintf(why, whylen, "the secrets store %s is not a JSON object of names to strings",
			 o->secrets_file);
		json_decref(store);
		*err = -EINVAL;
		return NULL;
	}
	return store;
}

static void wipe_store(json_t *store)
{
	const char *k;
	json_t *v;
	json_object_foreach(store, k, v) {
		if (json_is_string(v)) {
			/* jansson keeps the text in place; wipe it before the free */
			char *s = (char *)(uintptr_t)json_string_value(v);
			explicit_bzero(s, json_string_length(v));
		}
	}
	json_decref(store);
}

/* ------------------------------------------------------------ launching */

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* env list: "NAME=value" strings, later ones replacing earlier of the same name */
struct envv {
	char **v;
	size_t n, cap;
};

static int env_set(struct envv *e, const char *name, const char *value)
{
	size_t nl = strlen(name);
	char *s = dupf("%s=%s", name, value);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < e->n; i++) {
		if (strncmp(e->v[i], name, nl) == 0 && e->v[i][nl] == '=') {
			explicit_bzero(e->v[i], strlen(e->v[i]));
			free(e->v[i]);
			e->v[i] = s;
			return 0;
		}
	}
	if (e->n + 2 > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 32;
		char **v = realloc(e->v, cap * sizeof(*v));
		if (!v) {
			free(s);
			return -ENOMEM;
		}
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n++] = s;
	e->v[e->n] = NULL;
	return 0;
}

static void env_wipe(struct envv *e)
{
	for (size_t i = 0; i < e->n; i++) {
		explicit_bzero(e->v[i], strlen(e->v[i]));
		free(e->v[i]);
	}
	free(e->v);
}

static void log_path(const struct tcontainer *c, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/logs/%s/%s.log", c->task->orch->data_dir, c->task->id, c->name);
}

static void fill_spec(const struct tcontainer *c, struct drv_spec *s, char *logbuf, size_t logcap,
		      char *scratch, size_t scratchcap, struct drv_mount *mounts)
{
	const struct task *t = c->task;
	memset(s, 0, sizeof(*s));
	s->task_id = t->id;
	s->task_arn = t->arn;
	s->container_name = c->name;
	s->image = c->def->image;
	s->working_directory = c->def->working_directory;
	s->user = c->def->user;
	log_path(c, logbuf, logcap);
	s->log_path = logbuf;
	snprintf(scratch, scratchcap, "%s/work/%s", t->orch->data_dir, t->id);
	s->scratch_dir = scratch;
	s->network_mode = t->td->network_mode && strcmp(t->td->network_mode, "host") == 0 ? "host" : "none";
	s->cluster = t->orch->cluster_name;
	uint64_t mem = (uint64_t)(c->memory_override ? c->memory_override : c->def->memory);
	if (!mem && t->nc == 1)
		mem = (uint64_t)t->td->memory;
	s->memory_limit = mem << 20;
	s->memory_reservation = (uint64_t)c->def->memory_reservation << 20;
	int cpu = c->cpu_override ? c->cpu_override : c->def->cpu;
	if (!cpu && t->nc == 1)
		cpu = t->td->cpu;
	s->cpu_units = (uint32_t)cpu;
	size_t nm = 0;
	for (size_t i = 0; i < c->def->n_mounts; i++) {
		for (size_t v = 0; v < t->td->n_volumes; v++) {
			const struct taskdef_volume *vol = &t->td->volumes[v];
			if (strcmp(vol->name, c->def->mounts[i].source_volume) != 0 || !vol->source_path)
				continue;
			mounts[nm].host_path = vol->source_path;
			mounts[nm].container_path = c->def->mounts[i].container_path;
			mounts[nm].read_only = c->def->mounts[i].read_only;
			nm++;
		}
	}
	s->mounts = mounts;
	s->n_mounts = nm;
}

/* Fails the container before or at launch: the task cannot start. */
static void fail_start(struct tcontainer *c, const char *reason)
{
	free(c->reason);
	c->reason = strdup(reason);
	c->status = TS_STOPPED;
	orch_task_stop(c->task, SC_TASK_FAILED_TO_START, reason);
}

static void launch_container(struct tcontainer *c)
{
	struct task *t = c->task;
	struct orch *o = t->orch;
	struct drv_spec spec;
	struct drv_mount mounts[64];
	char logbuf[4200], scratch[4200], why[512] = "", reason[700];
	struct envv env = {0};
	json_t *store = NULL;
	char **argv = NULL;
	size_t nargv = 0;
	int r;

	if (c->def->n_mounts > 64) {
		fail_start(c, "CannotStartContainerError: too many mount points");
		return;
	}
	fill_spec(c, &spec, logbuf, sizeof(logbuf), scratch, sizeof(scratch), mounts);

	/* argv: entryPoint + command, the command replaced by an override */
	size_t nep = c->def->n_entry_point;
	size_t ncmd = 0;
	char **cmd = c->cmd_override;
	if (cmd)
		while (cmd[ncmd])
			ncmd++;
	else
		ncmd = c->def->n_argv - nep;
	argv = calloc(nep + ncmd + 1, sizeof(*argv));
	if (!argv)
		goto nomem;
	for (size_t i = 0; i < nep; i++)
		argv[nargv++] = c->def->argv[i];
	for (size_t i = 0; i < ncmd; i++)
		argv[nargv++] = cmd ? cmd[i] : c->def->argv[nep + i];
	if (t->drv == &driver_process_ops && nargv == 0) {
		snprintf(reason, sizeof(reason),
			 "CannotStartContainerError: container %s has no entryPoint or command to run", c->name);
		fail_start(c, reason);
		goto out;
	}
	spec.argv = argv;
	if (t->drv != &driver_process_ops && nep) {
		/* docker: entryPoint and command stay apart */
		spec.entry_point = c->def->argv;
		spec.argv = argv + nep;
		argv[nep + ncmd] = NULL;
	}

	/* environment: defaults, the definition, the overrides, the secrets */
	if ((r = env_set(&env, "PATH", DEFAULT_PATH)) < 0 || (r = env_set(&env, "HOME", "/")) < 0 ||
	    (r = env_set(&env, "TRIPLINE_TASK_ARN", t->arn)) < 0 ||
	    (r = env_set(&env, "TRIPLINE_TASK_ID", t->id)) < 0 ||
	    (r = env_set(&env, "TRIPLINE_CONTAINER_NAME", c->name)) < 0 ||
	    (r = env_set(&env, "TRIPLINE_CLUSTER", o->cluster_name)) < 0 ||
	    (r = env_set(&env, "AWS_REGION", o->region)) < 0)
		goto nomem;
	for (size_t i = 0; i < c->def->n_environment; i++)
		if (env_set(&env, c->def->environment[i].name, c->def->environment[i].value) < 0)
			goto nomem;
	if (c->env_override) {
		size_t i;
		json_t *kv;
		json_array_foreach(c->env_override, i, kv) {
			if (env_set(&env, json_string_value(json_object_get(kv, "name")),
				    json_string_value(json_object_get(kv, "value"))) < 0)
				goto nomem;
		}
	}
	if (c->def->n_secrets) {
		int err = 0;
		store = load_secret_store(o, why, sizeof(why), &err);
		if (err < 0) {
			snprintf(reason, sizeof(reason), "ResourceInitializationError: %s", why);
			fail_start(c, reason);
			goto out;
		}
		for (size_t i = 0; i < c->def->n_secrets; i++) {
			char *val = NULL;
			r = resolve_secret(o, store, c->def->secrets[i].value, &val, why, sizeof(why));
			if (r < 0) {
				snprintf(reason, sizeof(reason),
					 "ResourceInitializationError: unable to retrieve secret for %s: %s",
					 c->def->secrets[i].name, why);
				fail_start(c, reason);
				goto out;
			}
			r = env_set(&env, c->def->secrets[i].name, val);
			explicit_bzero(val, strlen(val));
			free(val);
			if (r < 0)
				goto nomem;
		}
	}
	spec.env = env.v;

	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/logs/%s", o->data_dir, t->id);
	/* the parents were made by orch_new(): one mkdir each, not a walk */
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST && (r = -errno)) ||
	    (mkdir(scratch, 0700) < 0 && errno != EEXIST && (r = -errno))) {
		snprintf(reason, sizeof(reason), "CannotStartContainerError: %.400s: %s", dir, strerror(-r));
		fail_start(c, reason);
		goto out;
	}
	struct driver *d = t->drv == &driver_process_ops ? o->drv_process : o->drv_docker;
	c->launched = true;
	r = t->drv->launch(d, &spec, c, &c->h);
	if (r < 0) {
		c->h = NULL;
		snprintf(reason, sizeof(reason), "CannotStartContainerError: %s", strerror(-r));
		fail_start(c, reason);
	}
	goto out;
nomem:
	fail_start(c, "CannotStartContainerError: out of memory");
out:
	free(argv);
	env_wipe(&env);
	if (store)
		wipe_store(store);
}

/* Whether c's dependsOn conditions hold now (1), may hold later (0) or
 * never can (-1, reason written). */
static int deps_state(const struct tcontainer *c, char *why, size_t whylen)
{
	const struct task *t = c->task;
	for (size_t i = 0; i < c->def->n_depends; i++) {
		const struct taskdef_depend *dp = &c->def->depends[i];
		const struct tcontainer *d = NULL;
		for (size_t k = 0; k < t->nc; k++)
			if (strcmp(t->c[k].name, dp->container_name) == 0)
				d = &t->c[k];
		if (!d)
			continue;   /* validated at registration */
		bool started = d->launched && (d->status == TS_RUNNING || (d->status == TS_STOPPED && d->started_ms));
		bool stopped = d->status == TS_STOPPED;
		switch (dp->condition) {
		case TASKDEF_CONDITION_START:
			if (stopped && !d->started_ms) {
				snprintf(why, whylen, "dependency %s never started", d->name);
				return -1;
			}
			if (!started)
				return 0;
			break;
		case TASKDEF_CONDITION_COMPLETE:
			if (!stopped)
				return 0;
			break;
		case TASKDEF_CONDITION_SUCCESS:
			if (!stopped)
				return 0;
			if (!d->has_exit_code || d->exit_code != 0) {
				snprintf(why, whylen, "dependency %s did not exit 0 (condition SUCCESS)", d->name);
				return -1;
			}
			break;
		case TASKDEF_CONDITION_HEALTHY:
			if (stopped) {
				snprintf(why, whylen, "dependency %s stopped before becoming HEALTHY", d->name);
				return -1;
			}
			if (d->health != HEALTH_HEALTHY)
				return 0;
			break;
		}
	}
	return 1;
}

static void try_launch(struct task *t)
{
	char why[300], reason[400];

	if (t->desired == TS_STOPPED)
		return;
	for (size_t i = 0; i < t->nc && t->desired != TS_STOPPED; i++) {
		struct tcontainer *c = &t->c[i];
		if (c->launched || c->status != TS_PENDING)
			continue;
		int s = deps_state(c, why, sizeof(why));
		if (s < 0) {
			snprintf(reason, sizeof(reason), "DependencyConditionNotMet: %s: %s", c->name, why);
			fail_start(c, reason);
			return;
		}
		if (s > 0)
			launch_container(c);
	}
}

static void update_task_health(struct task *t)
{
	enum health h = HEALTH_UNKNOWN;
	bool any = false, all_healthy = true;
	for (size_t i = 0; i < t->nc; i++) {
		const struct tcontainer *c = &t->c[i];
		if (!c->def->essential || !c->def->health.present)
			continue;
		any = true;
		if (c->health == HEALTH_UNHEALTHY) {
			h = HEALTH_UNHEALTHY;
			all_healthy = false;
			break;
		}
		if (c->health != HEALTH_HEALTHY)
			all_healthy = false;
	}
	if (h != HEALTH_UNHEALTHY && any && all_healthy)
		h = HEALTH_HEALTHY;
	if (h == t->health)
		return;
	t->health = h;
	if (h == HEALTH_HEALTHY && !t->healthy_ms)
		t->healthy_ms = uv_now(t->orch->loop);
	orch_task_mark(t);
	if (t->service)
		orch_want_converge(t->orch);
}

/* ------------------------------------------------------------ health checks */

static void health_schedule(struct tcontainer *c, uint64_t ms);

static void on_probe(void *arg, int code)
{
	struct tcontainer *c = arg;
	const struct taskdef_health *hc = &c->def->health;
	c->probing = false;
	if (c->status != TS_RUNNING)
		return;
	uint64_t age = uv_now(c->task->orch->loop) - c->started_ms;
	if (code == 0) {
		c->health_failures = 0;
		c->health = HEALTH_HEALTHY;
	} else if (age >= (uint64_t)hc->start_period * 1000u || c->health == HEALTH_HEALTHY) {
		if (++c->health_failures >= (unsigned)hc->retries)
			c->health = HEALTH_UNHEALTHY;
	}
	update_task_health(c->task);
	health_schedule(c, (uint64_t)hc->interval * 1000u);
}

static void on_health_timer(uv_timer_t *h)
{
	struct tcontainer *c = h->data;
	const struct taskdef_health *hc = &c->def->health;
	char *argv[130];
	size_t n = 0;

	if (c->status != TS_RUNNING || !c->h || c->probing)
		return;
	const char *kind = hc->command[0];
	if (strcmp(kind, "CMD-SHELL") == 0) {
		/* the definition author's shell text, never event data */
		static char sh[] = "/bin/sh", dash_c[] = "-c";
		argv[n++] = sh;
		argv[n++] = dash_c;
		argv[n++] = hc->command[1];
	} else {
		size_t first = strcmp(kind, "CMD") == 0 ? 1 : 0;
		for (size_t i = first; i < hc->n_command && n < 128; i++)
			argv[n++] = hc->command[i];
	}
	argv[n] = NULL;
	if (n == 0 || c->task->drv->probe(c->h, argv, (unsigned)hc->timeout, on_probe, c) < 0) {
		on_probe(c, -1);
		return;
	}
	c->probing = true;
}

static void health_schedule(struct tcontainer *c, uint64_t ms)
{
	if (!c->health_timer) {
		c->health_timer = malloc(sizeof(*c->health_timer));
		if (!c->health_timer)
			return;
		uv_timer_init(c->task->orch->loop, c->health_timer);
		c->health_timer->data = c;
	}
	uv_timer_start(c->health_timer, on_health_timer, ms, 0);
}

/* ------------------------------------------------------------ driver callbacks */

static void maybe_running(struct task *t)
{
	if (t->desired == TS_STOPPED || t->last >= TS_RUNNING)
		return;
	for (size_t i = 0; i < t->nc; i++) {
		const struct tcontainer *c = &t->c[i];
		if (c->status == TS_PENDING)
			return;
	}
	struct orch *o = t->orch;
	t->last = TS_RUNNING;
	t->started_ms = orch_now_ms();
	double secs = (double)(t->started_ms - t->created_ms) / 1000.0;
	static const double bounds[] = ORCH_LAUNCH_BUCKETS;
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
		if (secs <= bounds[i])
			o->m.launch_bucket[i]++;
	o->m.launch_count++;
	o->m.launch_sum += secs;
	o->m.task_starts++;
	orch_task_mark(t);
	if (t->service)
		service_task_started(t->service, t);
}

static void on_started(void *owner, int err, const char *reason)
{
	struct tcontainer *c = owner;
	struct task *t = c->task;
	char buf[700];

	if (err < 0) {
		snprintf(buf, sizeof(buf), "CannotStartContainerError: %s", reason ? reason : strerror(-err));
		free(c->reason);
		c->reason = strdup(buf);
		c->status = TS_STOPPED;
		if (c->h) {
			t->drv->release(c->h);
			c->h = NULL;
		}
		log_info("orch", "task %s: container %s could not start: %s", t->id, c->name, buf);
		orch_task_stop(t, SC_TASK_FAILED_TO_START, buf);
		check_stopped(t);
		return;
	}
	c->status = TS_RUNNING;
	c->started_ms = uv_now(t->orch->loop);
	free(c->runtime_id);
	c->runtime_id = strdup(t->drv->runtime_id(c->h));
	if (t->last == TS_PROVISIONING)
		t->last = TS_PENDING;
	if (c->def->health.present)
		health_schedule(c, 1000);
	if (t->desired == TS_STOPPED) {
		/* stopped while starting: stop it now */
		t->drv->stop(c->h, (unsigned)c->def->stop_timeout);
		orch_task_dirty(t);
		return;
	}
	try_launch(t);   /* START dependencies */
	maybe_running(t);
	orch_task_dirty(t);
}

static void on_exited(void *owner, const struct drv_exit *e)
{
	struct tcontainer *c = owner;
	struct task *t = c->task;

	c->status = TS_STOPPED;
	c->probing = false;
	if (e->exit_code >= 0) {
		c->exit_code = e->exit_code;
		c->has_exit_code = true;
	}
	if (e->reason) {
		free(c->reason);
		c->reason = strdup(e->reason);
	}
	if (c->health_timer)
		uv_timer_stop(c->health_timer);
	log_info("orch", "task %s: container %s exited (%s%d)", t->id, c->name,
		 e->exit_code < 0 ? "code unknown " : "", e->exit_code);
	container_stopped(c);
}

static void on_driver_log(void *owner, int level, const char *msg)
{
	struct tcontainer *c = owner;
	logger_write((enum log_level)level, "orch", "task %s: %s", c ? c->task->id : "-", msg);
}

static void container_stopped(struct tcontainer *c)
{
	struct task *t = c->task;

	if (c->h) {
		t->drv->release(c->h);
		c->h = NULL;
	}
	if (c->def->essential && t->desired != TS_STOPPED)
		orch_task_stop(t, SC_ESSENTIAL_CONTAINER_EXITED, "Essential container in task exited");
	else
		try_launch(t);   /* COMPLETE / SUCCESS dependencies */
	maybe_running(t);
	check_stopped(t);
	orch_task_dirty(t);
}

/* When desired STOPPED and nothing runs any more: STOPPED. */
static void check_stopped(struct task *t)
{
	struct orch *o = t->orch;

	if (t->desired != TS_STOPPED || t->last == TS_STOPPED)
		return;
	for (size_t i = 0; i < t->nc; i++) {
		struct tcontainer *c = &t->c[i];
		if (c->launched && c->status != TS_STOPPED)
			return;
	}
	for (size_t i = 0; i < t->nc; i++)
		t->c[i].status = TS_STOPPED;
	t->last = TS_STOPPED;
	t->stopped_ms = orch_now_ms();
	o->cpu_used -= t->cpu;
	o->memory_used -= t->memory_mib;
	o->n_active--;
	o->m.task_stops++;
	if (t->stop_code == SC_TASK_FAILED_TO_START)
		o->m.task_failures++;
	log_info("orch", "task %s stopped: %s", t->id, t->stopped_reason ? t->stopped_reason : "");
	orch_task_mark(t);
	if (t->service)
		service_task_stopped(t->service, t);
}

void orch_task_stop(struct task *t, enum stop_code code, const char *reason)
{
	if (t->desired == TS_STOPPED)
		return;
	t->desired = TS_STOPPED;
	t->stop_code = code;
	free(t->stopped_reason);
	t->stopped_reason = strndup(reason ? reason : "", MAX_STOP_REASON);
	t->stopping_ms = orch_now_ms();
	if (t->last < TS_DEPROVISIONING)
		t->last = TS_DEPROVISIONING;
	for (size_t i = 0; i < t->nc; i++) {
		struct tcontainer *c = &t->c[i];
		if (!c->launched)
			c->status = TS_STOPPED;
		else if (c->h && c->status == TS_RUNNING)
			t->drv->stop(c->h, (unsigned)c->def->stop_timeout);
		/* launched and still starting: on_started stops it */
	}
	orch_task_mark(t);
	check_stopped(t);
}

/* ------------------------------------------------------------ placement and RunTask */

static const struct driver_ops *driver_for(struct orch *o, const struct taskdef *td, const char *launch_type,
					   struct orch_error *e)
{
	bool docker;
	if (launch_type)
		docker = strcmp(launch_type, "FARGATE") == 0;
	else
		docker = td->compat == TASKDEF_COMPAT_FARGATE;
	if (!docker)
		return &driver_process_ops;
	if (!o->drv_docker) {
		orch_set_error(e, "InvalidParameterException",
			       "launch type FARGATE runs on the docker driver, which is not available "
			       "(drivers.docker.socket is not configured or does not answer)");
		return NULL;
	}
	return &driver_docker_ops;
}

static int override_for(const json_t *overrides, const char *name, const json_t **ret)
{
	json_t *list = json_object_get(overrides, "containerOverrides");
	size_t i;
	json_t *co;
	*ret = NULL;
	json_array_foreach(list, i, co) {
		if (strcmp(json_string_value(json_object_get(co, "name")), name) == 0)
			*ret = co;
	}
	return 0;
}

static char **strv_from_json(const json_t *a)
{
	size_t n = json_array_size(a);
	char **v = calloc(n + 1, sizeof(*v));
	for (size_t i = 0; v && i < n; i++) {
		v[i] = strdup(json_string_value(json_array_get(a, i)));
		if (!v[i]) {
			strv_free(v);
			return NULL;
		}
	}
	return v;
}

struct task *orch_launch_task(struct orch *o, const struct taskdef *td, const char *group,
			      const char *started_by, struct service *svc, const char *deployment_id,
			      const json_t *overrides, const char *launch_type, struct orch_error *e,
			      const char **ret_failure)
{
	const struct driver_ops *drv = driver_for(o, td, launch_type, e);
	*ret_failure = NULL;
	if (!drv)
		return NULL;

	/* the reservation: task-level cpu/memory, else the containers' sum */
	uint64_t cpu = 0, mem = 0;
	for (size_t i = 0; i < td->n_containers; i++) {
		const json_t *co = NULL;
		override_for(overrides, td->containers[i].name, &co);
		json_t *ocpu = json_object_get(co, "cpu"), *omem = json_object_get(co, "memory");
		cpu += ocpu ? (uint64_t)json_integer_value(ocpu) : (uint64_t)td->containers[i].cpu;
		uint64_t m = omem ? (uint64_t)json_integer_value(omem) : (uint64_t)td->containers[i].memory;
		if (!m)
			m = (uint64_t)td->containers[i].memory_reservation;
		mem += m;
	}
	if (td->cpu)
		cpu = (uint64_t)td->cpu;
	if (td->memory)
		mem = (uint64_t)td->memory;
	if (o->cpu_used + cpu > o->cfg.cpu_units) {
		*ret_failure = "RESOURCE:CPU";
		return NULL;
	}
	if (o->memory_used + mem > o->cfg.memory_mib) {
		*ret_failure = "RESOURCE:MEMORY";
		return NULL;
	}
	if (o->n_active >= o->cfg.max_tasks) {
		*ret_failure = "RESOURCE:TASKS";
		return NULL;
	}

	struct task *t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	t->orch = o;
	random_hex(t->id, 16);
	t->td = td;
	t->drv = drv;
	t->service = svc;
	t->cpu = (uint32_t)cpu;
	t->memory_mib = mem;
	t->created_ms = orch_now_ms();
	t->last = TS_PROVISIONING;
	t->desired = TS_RUNNING;
	t->arn = dupf("arn:aws:ecs:%s:%s:task/%s/%s", o->region, o->account, o->cluster_name, t->id);
	t->launch_type = strdup(drv == &driver_docker_ops ? "FARGATE" : launch_type ? launch_type : "EC2");
	t->group = group ? strdup(group) : svc ? dupf("service:%s", service_name(svc)) : NULL;
	t->started_by = started_by ? strdup(started_by) : NULL;
	t->deployment_id = deployment_id ? strdup(deployment_id) : NULL;
	t->overrides = overrides ? json_deep_copy(overrides) : NULL;
	t->c = calloc(td->n_containers, sizeof(*t->c));
	if (!t->arn || !t->launch_type || !t->c || (group && !t->group) || (started_by && !t->started_by) ||
	    (deployment_id && !t->deployment_id))
		goto nomem_task;
	t->nc = td->n_containers;
	for (size_t i = 0; i < t->nc; i++) {
		struct tcontainer *c = &t->c[i];
		const json_t *co = NULL;
		c->task = t;
		c->def = &td->containers[i];
		c->name = strdup(c->def->name);
		c->status = TS_PENDING;
		c->exit_code = -1;
		if (!c->name)
			goto nomem_task;
		override_for(overrides, c->name, &co);
		json_t *cmd = json_object_get(co, "command");
		if (cmd && !(c->cmd_override = strv_from_json(cmd)))
			goto nomem_task;
		json_t *env = json_object_get(co, "environment");
		if (env)
			c->env_override = json_incref(env);
		c->cpu_override = (int)json_integer_value(json_object_get(co, "cpu"));
		c->memory_override = (int)json_integer_value(json_object_get(co, "memory"));
	}
	list_add(o, t);
	o->n_active++;
	o->cpu_used += cpu;
	o->memory_used += mem;
	orch_task_mark(t);   /* PROVISIONING */
	t->last = TS_PENDING;
	orch_task_mark(t);   /* PENDING: the containers are launched now */
	try_launch(t);
	return t;
nomem_task:
	task_free(t);
nomem:
	orch_set_error(e, "ServerException", "out of memory");
	return NULL;
}

/* ------------------------------------------------------------ request helpers */

bool orch_check_cluster(struct orch *o, const json_t *req, struct orch_error *e)
{
	json_t *c = json_object_get(req, "cluster");
	if (!c)
		return true;
	if (!json_is_string(c)) {
		orch_set_error(e, "InvalidParameterException", "cluster must be a string");
		return false;
	}
	if (!orch_is_cluster(o, json_string_value(c))) {
		orch_set_error(e, "ClusterNotFoundException", "Cluster not found.");
		return false;
	}
	return true;
}

/* An optional string member no longer than max; *ret NULL when absent. */
bool orch_opt_string(const json_t *req, const char *key, size_t max, const char **ret, struct orch_error *e)
{
	json_t *v = json_object_get(req, key);
	*ret = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v) || json_string_length(v) > max || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		orch_set_error(e, "InvalidParameterException", "%s must be a string of 1 to %zu characters",
			       key, max);
		return false;
	}
	*ret = json_string_value(v);
	return true;
}

bool orch_opt_int(const json_t *req, const char *key, json_int_t lo, json_int_t hi, json_int_t *ret,
		    struct orch_error *e)
{
	json_t *v = json_object_get(req, key);
	if (!v || json_is_null(v))
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		orch_set_error(e, "InvalidParameterException", "%s must be an integer from %lld to %lld", key,
			       (long long)lo, (long long)hi);
		return false;
	}
	*ret = json_integer_value(v);
	return true;
}

/* Validates RunTask's overrides against td; builds the canonical copy. */
static json_t *check_overrides(const json_t *ov, const struct taskdef *td, struct orch_error *e)
{
	json_t *out = json_pack("{s:[]}", "containerOverrides");
	json_t *list = json_object_get(ov, "containerOverrides");
	size_t i;
	json_t *co;

	if (!out)
		goto nomem;
	if (!ov)
		return out;
	if (!json_is_object(ov) || (list && !json_is_array(list))) {
		orch_set_error(e, "InvalidParameterException", "overrides must be an object with a containerOverrides list");
		goto fail;
	}
	json_array_foreach(list, i, co) {
		json_t *name = json_object_get(co, "name");
		if (!json_is_object(co) || !json_is_string(name)) {
			orch_set_error(e, "InvalidParameterException",
				       "overrides.containerOverrides[%zu].name is required", i);
			goto fail;
		}
		bool found = false;
		for (size_t k = 0; k < td->n_containers; k++)
			found |= strcmp(td->containers[k].name, json_string_value(name)) == 0;
		if (!found) {
			orch_set_error(e, "InvalidParameterException",
				       "Override for container named %.100s is not a container in the TaskDefinition.",
				       json_string_value(name));
			goto fail;
		}
		json_t *c = json_pack("{s:O}", "name", name);
		json_t *cmd = json_object_get(co, "command"), *env = json_object_get(co, "environment");
		if (!c)
			goto nomem;
		json_array_append_new(json_object_get(out, "containerOverrides"), c);
		if (cmd) {
			bool ok = json_is_array(cmd) && json_array_size(cmd) <= 1024;
			for (size_t k = 0; ok && k < json_array_size(cmd); k++) {
				json_t *s = json_array_get(cmd, k);
				ok = json_is_string(s) && strlen(json_string_value(s)) == json_string_length(s);
			}
			if (!ok) {
				orch_set_error(e, "InvalidParameterException",
					       "containerOverrides[%zu].command must be a list of strings", i);
				goto fail;
			}
			json_object_set(c, "command", cmd);
		}
		if (env) {
			bool ok = json_is_array(env) && json_array_size(env) <= 1024;
			for (size_t k = 0; ok && k < json_array_size(env); k++) {
				json_t *kv = json_array_get(env, k);
				json_t *n = json_object_get(kv, "name"), *v = json_object_get(kv, "value");
				ok = json_is_string(n) && json_string_length(n) > 0 && json_is_string(v) &&
				     !strchr(json_string_value(n), '=') &&
				     strlen(json_string_value(n)) == json_string_length(n) &&
				     strlen(json_string_value(v)) == json_string_length(v);
			}
			if (!ok) {
				orch_set_error(e, "InvalidParameterException",
					       "containerOverrides[%zu].environment must be a list of {name, value} strings",
					       i);
				goto fail;
			}
			json_object_set(c, "environment", env);
		}
		json_int_t cpu = 0, mem = 0;
		if (!orch_opt_int(co, "cpu", 0, 1 << 20, &cpu, e) || !orch_opt_int(co, "memory", 1, 1 << 24, &mem, e))
			goto fail;
		if (cpu)
			json_object_set_new(c, "cpu", json_integer(cpu));
		if (mem)
			json_object_set_new(c, "memory", json_integer(mem));
	}
	return out;
nomem:
	orch_set_error(e, "ServerException", "out of memory");
fail:
	json_decref(out);
	return NULL;
}

static struct task *find_task(struct orch *o, const char *ref)
{
	const char *id = ref;
	const char *slash = strrchr(ref, '/');
	if (strncmp(ref, "arn:", 4) == 0 && slash)
		id = slash + 1;
	for (struct task *t = o->tasks_head; t; t = t->next)
		if (strcmp(t->id, id) == 0)
			return t;
	return NULL;
}

/* The task a request's "task" member names, or NULL with e filled. */
static struct task *required_task(struct orch *o, const char *ref, struct orch_error *e)
{
	struct task *t = ref ? find_task(o, ref) : NULL;
	if (!ref)
		orch_set_error(e, "InvalidParameterException", "task is required");
	else if (!t)
		orch_set_error(e, "InvalidParameterException", "The referenced task was not found.");
	return t;
}

/* The client token's remembered tasks, if any and not expired. */
static json_t *token_tasks(struct orch *o, const char *token)
{
	json_t *ent = json_object_get(o->client_tokens, token);
	if (!ent)
		return NULL;
	uint64_t at = (uint64_t)json_integer_value(json_object_get(ent, "at"));
	if (orch_now_ms() - at > (uint64_t)ORCH_CLIENT_TOKEN_TTL_S * 1000u)
		return NULL;
	return json_object_get(ent, "tasks");
}

int orch_run_task(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e)
{
	const char *ref, *group, *started_by, *token, *launch_type;
	json_int_t count = 1;
	const struct taskdef *td = NULL;
	json_t *tasks = NULL, *failures = NULL, *ids = NULL, *ov = NULL;

	*ret = NULL;
	if (!orch_check_cluster(o, req, e) || !orch_opt_string(req, "taskDefinition", 1600, &ref, e) ||
	    !orch_opt_string(req, "group", 255, &group, e) || !orch_opt_string(req, "startedBy", 128, &started_by, e) ||
	    !orch_opt_string(req, "clientToken", ORCH_MAX_CLIENT_TOKEN, &token, e) ||
	    !orch_opt_string(req, "launchType", 16, &launch_type, e) ||
	    !orch_opt_int(req, "count", 1, ORCH_MAX_RUN_COUNT, &count, e))
		return -1;
	if (!ref) {
		orch_set_error(e, "InvalidParameterException", "taskDefinition is required");
		return -1;
	}
	if (launch_type && strcmp(launch_type, "EC2") != 0 && strcmp(launch_type, "FARGATE") != 0 &&
	    strcmp(launch_type, "EXTERNAL") != 0) {
		orch_set_error(e, "InvalidParameterException", "launchType must be EC2, FARGATE or EXTERNAL");
		return -1;
	}
	int r = taskdef_describe(o->taskdefs, ref, &td);
	if (r < 0 || td->status != TASKDEF_STATUS_ACTIVE) {
		orch_set_error(e, "ClientException", r == -EINVAL ? "Invalid revision number or task definition reference."
					   : r < 0 ? "TaskDefinition not found."
						   : "TaskDefinition is inactive");
		return -1;
	}
	if (!(ov = check_overrides(json_object_get(req, "overrides"), td, e)))
		return -1;

	tasks = json_array();
	failures = json_array();
	ids = json_array();
	if (!tasks || !failures || !ids)
		goto nomem;
	json_t *known = token ? token_tasks(o, token) : NULL;
	if (known) {
		/* the same token within the hour: the same tasks, nothing new */
		size_t i;
		json_t *id;
		json_array_foreach(known, i, id) {
			struct task *t = find_task(o, json_string_value(id));
			if (t)
				json_array_append_new(tasks, orch_task_json(t));
		}
	} else {
		for (json_int_t i = 0; i < count; i++) {
			const char *failure = NULL;
			struct task *t = orch_launch_task(o, td, group, started_by, NULL, NULL, ov, launch_type, e,
							  &failure);
			if (!t && !failure)
				goto fail;
			if (!t) {
				json_array_append_new(failures, json_pack("{s:s,s:s,s:s}", "arn", o->instance_arn,
									   "reason", failure, "detail",
									   "no capacity left on the cluster for this task"));
				continue;
			}
			log_info("orch", "task %s started from %s", t->id, td->arn);
			json_array_append_new(tasks, orch_task_json(t));
			json_array_append_new(ids, json_string(t->id));
		}
		if (token && json_array_size(ids)) {
			if (json_object_size(o->client_tokens) < ORCH_MAX_CLIENT_TOKENS)
				json_object_set_new(o->client_tokens, token,
						    json_pack("{s:I,s:O}", "at", (json_int_t)orch_now_ms(), "tasks", ids));
			else
				log_warn("orch", "%u client tokens remembered already; this one is not",
					 ORCH_MAX_CLIENT_TOKENS);
		}
	}
	json_decref(ids);
	json_decref(ov);
	*ret = json_pack("{s:o,s:o}", "tasks", tasks, "failures", failures);
	return *ret ? 0 : (orch_set_error(e, "ServerException", "out of memory"), -1);
nomem:
	orch_set_error(e, "ServerException", "out of memory");
fail:
	json_decref(tasks);
	json_decref(failures);
	json_decref(ids);
	json_decref(ov);
	return -1;
}

int orch_stop_task(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e)
{
	const char *ref, *reason;

	*ret = NULL;
	if (!orch_check_cluster(o, req, e) || !orch_opt_string(req, "task", 1600, &ref, e) ||
	    !orch_opt_string(req, "reason", 255, &reason, e))
		return -1;
	struct task *t = required_task(o, ref, e);
	if (!t)
		return -1;
	orch_task_stop(t, SC_USER_INITIATED, reason ? reason : "Task stopped by the user");
	if (t->service)
		orch_want_converge(o);
	*ret = json_pack("{s:o}", "task", orch_task_json(t));
	return 0;
}

int orch_describe_tasks(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e)
{
	json_t *list = json_object_get(req, "tasks");
	size_t i;
	json_t *v;

	*ret = NULL;
	if (!orch_check_cluster(o, req, e))
		return -1;
	if (!json_is_array(list) || json_array_size(list) > 100) {
		orch_set_error(e, "InvalidParameterException", "tasks must be a list of 1 to 100 task IDs or ARNs");
		return -1;
	}
	json_t *tasks = json_array(), *failures = json_array();
	json_array_foreach(list, i, v) {
		struct task *t = json_is_string(v) ? find_task(o, json_string_value(v)) : NULL;
		if (t)
			json_array_append_new(tasks, orch_task_json(t));
		else
			json_array_append_new(failures, json_pack("{s:s,s:s}", "arn",
								   json_is_string(v) ? json_string_value(v) : "",
								   "reason", "MISSING"));
	}
	*ret = json_pack("{s:o,s:o}", "tasks", tasks, "failures", failures);
	return 0;
}

/* maxResults / nextToken paging over a list of ARNs. */
static int page(json_t *all, const json_t *req, const char *member, json_t **ret, struct orch_error *e)
{
	json_int_t max = 100;
	const char *tok;
	if (!orch_opt_int(req, "maxResults", 1, 100, &max, e) || !orch_opt_string(req, "nextToken", 32, &tok, e)) {
		json_decref(all);
		return -1;
	}
	size_t start = 0;
	if (tok) {
		char *end;
		unsigned long long v = strtoull(tok, &end, 10);
		if (*end || v > json_array_size(all)) {
			json_decref(all);
			orch_set_error(e, "InvalidParameterException", "nextToken is not valid");
			return -1;
		}
		start = (size_t)v;
	}
	json_t *out = json_array();
	size_t n = json_array_size(all), end = start + (size_t)max < n ? start + (size_t)max : n;
	for (size_t i = start; i < end; i++)
		json_array_append(out, json_array_get(all, i));
	*ret = json_pack("{s:o}", member, out);
	if (end < n) {
		char buf[24];
		snprintf(buf, sizeof(buf), "%zu", end);
		json_object_set_new(*ret, "nextToken", json_string(buf));
	}
	json_decref(all);
	return 0;
}

int orch_list_tasks(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e)
{
	const char *family, *svc, *started_by, *desired;

	*ret = NULL;
	if (!orch_check_cluster(o, req, e) || !orch_opt_string(req, "family", 255, &family, e) ||
	    !orch_opt_string(req, "serviceName", 255, &svc, e) || !orch_opt_string(req, "startedBy", 128, &started_by, e) ||
	    !orch_opt_string(req, "desiredStatus", 16, &desired, e))
		return -1;
	enum task_status want = TS_RUNNING;
	if (desired) {
		if (strcmp(desired, "STOPPED") == 0)
			want = TS_STOPPED;
		else if (strcmp(desired, "PENDING") == 0)
			want = TS_PENDING;   /* never a desired status here: an empty list, as ECS */
		else if (strcmp(desired, "RUNNING") != 0) {
			orch_set_error(e, "InvalidParameterException", "desiredStatus must be RUNNING, PENDING or STOPPED");
			return -1;
		}
	}
	struct service *s = NULL;
	if (svc && !(s = service_find(o, svc))) {
		orch_set_error(e, "ServiceNotFoundException", "Service not found.");
		return -1;
	}
	json_t *all = json_array();
	for (struct task *t = o->tasks_head; all && t; t = t->next) {
		if (t->desired != want)
			continue;
		if (family && strcmp(t->td->family, family) != 0)
			continue;
		if (svc && t->service != s)
			continue;
		if (started_by && (!t->started_by || strcmp(t->started_by, started_by) != 0))
			continue;
		json_array_append_new(all, json_string(t->arn));
	}
	return page(all, req, "taskArns", ret, e);
}

/* ------------------------------------------------------------ logs */

/* Copies bytes, replacing each invalid UTF-8 sequence with U+FFFD so the
 * text can travel as a JSON string. */
static char *utf8_clean(const char *s, size_t n, size_t *ret_len)
{
	char *out = malloc(n * 3 + 1);
	size_t o = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		bool ok = len && i + len <= n;
		for (size_t k = 1; ok && k < len; k++)
			ok = ((unsigned char)s[i + k] >> 6) == 2;
		if (ok && len == 2 && c < 0xc2)
			ok = false;
		if (ok && len == 3) {
			unsigned cp = (c & 15u) << 12 | ((unsigned char)s[i + 1] & 63u) << 6 | ((unsigned char)s[i + 2] & 63u);
			ok = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
		}
		if (ok && len == 4) {
			unsigned cp = (c & 7u) << 18 | ((unsigned char)s[i + 1] & 63u) << 12;
			ok = cp >= 0x10000 && cp <= 0x10ffff;
		}
		if (ok && len == 1 && c == 0)
			ok = false;
		if (!ok) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, s + i, len);
		o += len;
		i += len;
	}
	out[o] = '\0';
	*ret_len = o;
	return out;
}

/* The last `tail` bytes of the container's output: the end of the current
 * file, preceded by the end of the rotated .1 when the current one is
 * shorter. truncated: older output exists that is not returned. */
static json_t *read_log(const struct tcontainer *c, size_t tail)
{
	char path[3][4300];
	int fd[2] = {-1, -1};
	size_t size[2] = {0, 0}, take[2] = {0, 0}, have = 0, need = tail;
	struct stat st;
	json_t *j = NULL;

	log_path(c, path[0], sizeof(path[0]));
	snprintf(path[1], sizeof(path[1]), "%.4200s.1", path[0]);
	snprintf(path[2], sizeof(path[2]), "%.4200s.2", path[0]);
	for (int f = 0; f < 2; f++) {
		fd[f] = open(path[f], O_RDONLY | O_CLOEXEC);
		if (fd[f] >= 0 && fstat(fd[f], &st) == 0)
			size[f] = (size_t)st.st_size;
		take[f] = size[f] < need ? size[f] : need;
		need -= take[f];
	}
	bool truncated = take[0] < size[0] || take[1] < size[1] || access(path[2], F_OK) == 0;
	char *buf = malloc(take[0] + take[1] + 1);
	for (int f = 1; buf && f >= 0; f--) {
		ssize_t r = take[f] ? pread(fd[f], buf + have, take[f], (off_t)(size[f] - take[f])) : 0;
		have += r > 0 ? (size_t)r : 0;
	}
	for (int f = 0; f < 2; f++)
		if (fd[f] >= 0)
			close(fd[f]);
	size_t clen = 0;
	char *clean = buf ? utf8_clean(buf, have, &clen) : NULL;
	if (clean)
		j = json_pack("{s:s,s:s%,s:b}", "name", c->name, "log", clean, clen, "truncated", truncated);
	free(buf);
	free(clean);
	return j;
}

int orch_get_task_logs(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e)
{
	const char *ref, *cname;
	json_int_t tail = (json_int_t)MAX_TAIL_DEFAULT;

	*ret = NULL;
	if (!orch_check_cluster(o, req, e) || !orch_opt_string(req, "task", 1600, &ref, e) ||
	    !orch_opt_string(req, "container", 255, &cname, e) ||
	    !orch_opt_int(req, "tailBytes", 1, (json_int_t)ORCH_MAX_TAIL_BYTES, &tail, e))
		return -1;
	struct task *t = required_task(o, ref, e);
	if (!t)
		return -1;
	json_t *list = json_array();
	for (size_t i = 0; list && i < t->nc; i++) {
		if (cname && strcmp(cname, t->c[i].name) != 0)
			continue;
		json_t *j = read_log(&t->c[i], (size_t)tail);
		if (!j) {
			json_decref(list);
			orch_set_error(e, "ServerException", "out of memory");
			return -1;
		}
		json_array_append_new(list, j);
	}
	if (cname && json_array_size(list) == 0) {
		json_decref(list);
		orch_set_error(e, "InvalidParameterException", "the task has no container named %.100s", cname);
		return -1;
	}
	*ret = json_pack("{s:o}", "containers", list);
	return 0;
}

/* Copy-and-truncate rotation: the writer keeps its O_APPEND descriptor. */
static void rotate_log(const struct orch *o, const struct tcontainer *c)
{
	char path[4200], from[4300], to[4300], tmp[4300];
	struct stat st;
	char buf[65536];
	ssize_t n = 0;

	log_path(c, path, sizeof(path));
	uint64_t max = o->cfg.log_max_bytes ? o->cfg.log_max_bytes : ORCH_LOG_MAX_BYTES;
	if (stat(path, &st) < 0 || (uint64_t)st.st_size <= max)
		return;
	snprintf(tmp, sizeof(tmp), "%s.rotating", path);
	int in = open(path, O_RDWR | O_CLOEXEC);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool copied = in >= 0 && out >= 0;
	while (copied && (n = read(in, buf, sizeof(buf))) > 0)
		copied = write(out, buf, (size_t)n) == n;
	copied = copied && n == 0;
	/* truncate only what was copied in full; then .1 appears with it */
	if (copied && ftruncate(in, 0) == 0) {
		for (unsigned k = ORCH_LOG_KEEP; k > 1; k--) {
			snprintf(from, sizeof(from), "%s.%u", path, k - 1);
			snprintf(to, sizeof(to), "%s.%u", path, k);
			rename(from, to);
		}
		snprintf(to, sizeof(to), "%s.1", path);
		rename(tmp, to);
	} else {
		log_warn("orch", "task %s: cannot rotate %s: %s", c->task->id, path, strerror(errno));
		unlink(tmp);
	}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
}

/* ------------------------------------------------------------ the periodic tick */

static void purge_task(struct orch *o, struct task *t)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/tasks/%s.json", o->data_dir, t->id);
	unlink(path);
	snprintf(path, sizeof(path), "%s/logs/%s", o->data_dir, t->id);
	statefile_remove_tree(path);
	snprintf(path, sizeof(path), "%s/work/%s", o->data_dir, t->id);
	statefile_remove_tree(path);
	list_remove(o, t);
	task_free(t);
}

static void on_tick(uv_timer_t *h)
{
	struct orch *o = h->data;
	uint64_t now = orch_now_ms();
	size_t stopped = o->n_tasks - o->n_active;

	for (struct task *t = o->tasks_head, *next; t; t = next) {
		next = t->next;
		if (t->last != TS_STOPPED) {
			for (size_t i = 0; i < t->nc; i++)
				if (t->c[i].status == TS_RUNNING)
					rotate_log(o, &t->c[i]);
			continue;
		}
		bool old = now - t->stopped_ms > (uint64_t)ORCH_STOPPED_TASK_TTL_S * 1000u;
		if ((old || stopped > ORCH_MAX_STOPPED_TASKS) && !t->dirty) {
			purge_task(o, t);
			stopped--;
		}
	}
	const char *k;
	json_t *v;
	void *tmp;
	o->any_dirty = true;   /* once a second, retry writes that failed */
	json_object_foreach_safe(o->client_tokens, tmp, k, v) {
		if (now - (uint64_t)json_integer_value(json_object_get(v, "at")) > (uint64_t)ORCH_CLIENT_TOKEN_TTL_S * 1000u)
			json_object_del(o->client_tokens, k);
	}
	service_converge_all(o);
}

/* ------------------------------------------------------------ loading state */

static int load_task(struct orch *o, const char *path)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	json_t *priv = json_object_get(j, "tripline");
	const struct taskdef *td = NULL;
	struct task *t = NULL;

	if (!j || !priv) {
		log_warn("orch", "%s: not a task state file; ignored", path);
		json_decref(j);
		return 0;
	}
	const char *arn = json_string_value(json_object_get(j, "taskArn"));
	const char *tdarn = json_string_value(json_object_get(j, "taskDefinitionArn"));
	if (!arn || !tdarn || taskdef_describe(o->taskdefs, tdarn, &td) < 0 || !strrchr(arn, '/') ||
	    strlen(strrchr(arn, '/') + 1) != 32) {
		log_warn("orch", "%s: unknown task definition or malformed task; ignored", path);
		json_decref(j);
		return 0;
	}
	json_t *cs = json_object_get(priv, "containers");
	if (json_array_size(cs) != td->n_containers)
		goto bad;
	t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	t->orch = o;
	memcpy(t->id, strrchr(arn, '/') + 1, 33);
	t->td = td;
	const char *drv = json_string_value(json_object_get(priv, "driver"));
	t->drv = drv && strcmp(drv, "docker") == 0 ? &driver_docker_ops : &driver_process_ops;
	if (t->drv == &driver_docker_ops && !o->drv_docker)
		log_warn("orch", "task %s ran on docker, which is not available now", t->id);
	t->arn = strdup(arn);
	const char *lt = json_string_value(json_object_get(j, "launchType"));
	t->launch_type = strdup(lt ? lt : "EC2");
	const char *g = json_string_value(json_object_get(j, "group"));
	const char *sb = json_string_value(json_object_get(j, "startedBy"));
	t->group = g ? strdup(g) : NULL;
	t->started_by = sb ? strdup(sb) : NULL;
	t->overrides = json_incref(json_object_get(j, "overrides"));
	t->version = (uint64_t)json_integer_value(json_object_get(j, "version"));
	t->created_ms = (uint64_t)(json_number_value(json_object_get(j, "createdAt")) * 1000.0 + 0.5);
	if (json_object_get(j, "startedAt"))
		t->started_ms = (uint64_t)(json_number_value(json_object_get(j, "startedAt")) * 1000.0 + 0.5);
	if (json_object_get(j, "stoppedAt"))
		t->stopped_ms = (uint64_t)(json_number_value(json_object_get(j, "stoppedAt")) * 1000.0 + 0.5);
	t->stopping_ms = (uint64_t)json_integer_value(json_object_get(priv, "stoppingMs"));
	t->cpu = (uint32_t)json_integer_value(json_object_get(priv, "cpu"));
	t->memory_mib = (uint64_t)json_integer_value(json_object_get(priv, "memoryMib"));
	t->ever_healthy = json_is_true(json_object_get(priv, "everHealthy"));
	t->counted_failure = json_is_true(json_object_get(priv, "countedFailure"));
	const char *last = json_string_value(json_object_get(j, "lastStatus"));
	t->last = TS_PENDING;
	for (int s = 0; s <= TS_STOPPED; s++)
		if (last && strcmp(last, status_names[s]) == 0)
			t->last = (enum task_status)s;
	t->desired = json_is_string(json_object_get(j, "desiredStatus")) &&
				     strcmp(json_string_value(json_object_get(j, "desiredStatus")), "STOPPED") == 0
			     ? TS_STOPPED
			     : TS_RUNNING;
	const char *sc = json_string_value(json_object_get(j, "stopCode"));
	for (int s = 1; s <= SC_SERVICE_SCHEDULER_INITIATED; s++)
		if (sc && strcmp(sc, stop_code_names[s]) == 0)
			t->stop_code = (enum stop_code)s;
	const char *sr = json_string_value(json_object_get(j, "stoppedReason"));
	t->stopped_reason = sr ? strdup(sr) : NULL;
	const char *svc = json_string_value(json_object_get(priv, "service"));
	if (svc) {
		t->service = service_find(o, svc);
		const char *dep = json_string_value(json_object_get(priv, "deployment"));
		t->deployment_id = dep ? strdup(dep) : NULL;
	}
	t->c = calloc(td->n_containers, sizeof(*t->c));
	if (!t->arn || !t->launch_type || !t->c)
		goto nomem;
	t->nc = td->n_containers;
	json_t *cjs = json_object_get(j, "containers");
	for (size_t i = 0; i < t->nc; i++) {
		struct tcontainer *c = &t->c[i];
		json_t *cj = json_array_get(cs, i), *pub = json_array_get(cjs, i);
		c->task = t;
		c->def = &td->containers[i];
		c->name = strdup(c->def->name);
		if (!c->name)
			goto nomem;
		c->launched = json_is_true(json_object_get(cj, "launched"));
		c->exit_code = (int)json_integer_value(json_object_get(cj, "exitCode"));
		c->has_exit_code = json_is_true(json_object_get(cj, "hasExitCode"));
		const char *cl = json_string_value(json_object_get(pub, "lastStatus"));
		c->status = cl && strcmp(cl, "RUNNING") == 0 ? TS_RUNNING : cl && strcmp(cl, "STOPPED") == 0 ? TS_STOPPED : TS_PENDING;
		const char *rid = json_string_value(json_object_get(pub, "runtimeId"));
		const char *rs = json_string_value(json_object_get(pub, "reason"));
		c->runtime_id = rid ? strdup(rid) : NULL;
		c->reason = rs ? strdup(rs) : NULL;
		json_t *cmd = json_object_get(cj, "command");
		if (cmd)
			c->cmd_override = strv_from_json(cmd);
		json_t *env = json_object_get(cj, "environment");
		if (env)
			c->env_override = json_incref(env);
		c->cpu_override = (int)json_integer_value(json_object_get(cj, "cpu"));
		c->memory_override = (int)json_integer_value(json_object_get(cj, "memory"));
	}
	list_add(o, t);
	if (t->last != TS_STOPPED) {
		o->n_active++;
		o->cpu_used += t->cpu;
		o->memory_used += t->memory_mib;
	}
	/* take the containers back */
	for (size_t i = 0; t->last != TS_STOPPED && i < t->nc; i++) {
		struct tcontainer *c = &t->c[i];
		json_t *ds = json_object_get(json_array_get(cs, i), "driver");
		struct driver *d = t->drv == &driver_process_ops ? o->drv_process : o->drv_docker;
		if (!c->launched || c->status == TS_STOPPED)
			continue;
		struct drv_spec spec;
		struct drv_mount mounts[64];
		char logbuf[4200], scratch[4200];
		fill_spec(c, &spec, logbuf, sizeof(logbuf), scratch, sizeof(scratch), mounts);
		c->status = TS_RUNNING;
		c->started_ms = uv_now(o->loop);
		if (!d || !ds || t->drv->adopt(d, &spec, ds, c, &c->h) < 0) {
			/* launched but never confirmed, or its driver is gone */
			c->h = NULL;
			c->status = TS_STOPPED;
			free(c->reason);
			c->reason = strdup("the daemon restarted before the container's state was known");
			continue;
		}
		log_info("orch", "task %s: container %s re-adopted (%s)", t->id, c->name, t->drv->runtime_id(c->h));
		if (c->def->health.present)
			health_schedule(c, 1000);
	}
	json_decref(j);
	return 1;
bad:
	log_warn("orch", "%s: does not match its task definition; ignored", path);
	json_decref(j);
	return 0;
nomem:
	json_decref(j);
	if (t)
		task_free(t);
	return -ENOMEM;
}

/* After loading: containers that could not be re-adopted count as exited,
 * tasks resume launching or finish stopping. */
static void resume_tasks(struct orch *o)
{
	for (struct task *t = o->tasks_head; t; t = t->next) {
		if (t->last == TS_STOPPED)
			continue;
		bool lost_essential = false;
		for (size_t i = 0; i < t->nc; i++) {
			struct tcontainer *c = &t->c[i];
			if (c->launched && c->status == TS_STOPPED && !c->h && c->def->essential && !c->has_exit_code)
				lost_essential = true;
		}
		if (lost_essential && t->desired != TS_STOPPED)
			orch_task_stop(t, SC_ESSENTIAL_CONTAINER_EXITED,
				       "Essential container in task exited while the daemon was down");
		try_launch(t);
		maybe_running(t);
		check_stopped(t);
	}
}

static int load_tasks(struct orch *o)
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
		if (de->d_name[0] == '.' || n != 37 || strcmp(de->d_name + 32, ".json") != 0)
			continue;
		char path[4500];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((r = load_task(o, path)) < 0)
			break;
		r = 0;
	}
	closedir(d);
	return r;
}

/* ------------------------------------------------------------ the cluster */

size_t orch_launches_in_flight(const struct orch *o)
{
	size_t n = 0;
	for (const struct task *t = o->tasks_head; t; t = t->next)
		for (size_t i = 0; i < t->nc; i++)
			n += t->c[i].launched && t->c[i].h && t->c[i].status == TS_PENDING;
	return n;
}

bool orch_is_cluster(const struct orch *o, const char *s)
{
	return strcmp(s, o->cluster_name) == 0 || strcmp(s, o->cluster_arn) == 0;
}

json_t *orch_cluster_json(const struct orch *o)
{
	size_t running = 0, pending = 0;
	for (struct task *t = o->tasks_head; t; t = t->next) {
		if (t->last == TS_RUNNING)
			running++;
		else if (t->last < TS_RUNNING)
			pending++;
	}
	struct orch_metrics m;
	memset(&m, 0, sizeof(m));
	service_metrics(o, &m);
	return json_pack("{s:s,s:s,s:s,s:i,s:I,s:I,s:I}", "clusterArn", o->cluster_arn, "clusterName",
			 o->cluster_name, "status", "ACTIVE", "registeredContainerInstancesCount", 1,
			 "runningTasksCount", (json_int_t)running, "pendingTasksCount", (json_int_t)pending,
			 "activeServicesCount", (json_int_t)m.services);
}

void orch_metrics(const struct orch *o, struct orch_metrics *m)
{
	*m = o->m;
	memset(m->tasks_by_state, 0, sizeof(m->tasks_by_state));
	for (struct task *t = o->tasks_head; t; t = t->next)
		m->tasks_by_state[t->last]++;
	m->cpu_used = o->cpu_used;
	m->memory_used_mib = o->memory_used;
	service_metrics(o, m);
}

void orch_metrics_text(const struct orch *o, FILE *f)
{
	static const double bounds[] = ORCH_LAUNCH_BUCKETS;
	struct orch_metrics m;

	orch_metrics(o, &m);
	fprintf(f, "# HELP tripline_tasks Tasks by lastStatus.\n# TYPE tripline_tasks gauge\n");
	for (int s = 0; s <= TS_STOPPED; s++)
		fprintf(f, "tripline_tasks{state=\"%s\"} %" PRIu64 "\n", status_names[s], m.tasks_by_state[s]);
	fprintf(f, "# HELP tripline_services Services not yet deleted.\n# TYPE tripline_services gauge\n"
		   "tripline_services %" PRIu64 "\n", m.services);
	fprintf(f, "# HELP tripline_service_tasks Tasks of all services: desired, running, pending.\n"
		   "# TYPE tripline_service_tasks gauge\n"
		   "tripline_service_tasks{kind=\"desired\"} %" PRIu64 "\n"
		   "tripline_service_tasks{kind=\"running\"} %" PRIu64 "\n"
		   "tripline_service_tasks{kind=\"pending\"} %" PRIu64 "\n",
		m.services_desired, m.services_running, m.services_pending);
	fprintf(f, "# HELP tripline_task_starts_total Tasks that reached RUNNING.\n"
		   "# TYPE tripline_task_starts_total counter\ntripline_task_starts_total %" PRIu64 "\n"
		   "# HELP tripline_task_stops_total Tasks that reached STOPPED.\n"
		   "# TYPE tripline_task_stops_total counter\ntripline_task_stops_total %" PRIu64 "\n"
		   "# HELP tripline_task_failures_total Tasks stopped with TaskFailedToStart.\n"
		   "# TYPE tripline_task_failures_total counter\ntripline_task_failures_total %" PRIu64 "\n",
		m.task_starts, m.task_stops, m.task_failures);
	fprintf(f, "# HELP tripline_task_launch_seconds From RunTask (or a scheduler launch) to RUNNING.\n"
		   "# TYPE tripline_task_launch_seconds histogram\n");
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
		fprintf(f, "tripline_task_launch_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", bounds[i], m.launch_bucket[i]);
	fprintf(f, "tripline_task_launch_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
		   "tripline_task_launch_seconds_sum %.6f\ntripline_task_launch_seconds_count %" PRIu64 "\n",
		m.launch_count, m.launch_sum, m.launch_count);
	fprintf(f, "# HELP tripline_cluster_cpu_units CPU units offered and reserved by tasks.\n"
		   "# TYPE tripline_cluster_cpu_units gauge\n"
		   "tripline_cluster_cpu_units{kind=\"offered\"} %" PRIu64 "\n"
		   "tripline_cluster_cpu_units{kind=\"reserved\"} %" PRIu64 "\n"
		   "# HELP tripline_cluster_memory_mib Memory offered and reserved by tasks.\n"
		   "# TYPE tripline_cluster_memory_mib gauge\n"
		   "tripline_cluster_memory_mib{kind=\"offered\"} %" PRIu64 "\n"
		   "tripline_cluster_memory_mib{kind=\"reserved\"} %" PRIu64 "\n",
		o->cfg.cpu_units, m.cpu_used, o->cfg.memory_mib, m.memory_used_mib);
	service_metrics_text(o, f);
	fprintf(f, "# HELP tripline_ecs_events_total ECS state-change events put on the bus.\n"
		   "# TYPE tripline_ecs_events_total counter\ntripline_ecs_events_total %" PRIu64 "\n",
		m.events_emitted);
}

/* ------------------------------------------------------------ life */

static void free_names(struct orch *o)
{
	json_decref(o->client_tokens);
	free(o->cluster_name);
	free(o->region);
	free(o->account);
	free(o->data_dir);
	free(o->secrets_file);
	free(o->cluster_arn);
	free(o->instance_arn);
}

int orch_new(uv_loop_t *loop, const struct orch_config *cfg, struct taskdef_registry *taskdefs,
	     struct orch **ret, char *err, size_t errlen)
{
	struct orch *o = calloc(1, sizeof(*o));
	char path[4200];
	int r = -ENOMEM;

	*ret = NULL;
	if (!o)
		goto fail;
	o->loop = loop;
	o->cfg = *cfg;
	o->taskdefs = taskdefs;
	o->cluster_name = strdup(cfg->cluster_name);
	o->region = strdup(cfg->region);
	o->account = strdup(cfg->account);
	o->data_dir = strdup(cfg->data_dir);
	o->secrets_file = cfg->secrets_file ? strdup(cfg->secrets_file) : NULL;
	o->cluster_arn = dupf("arn:aws:ecs:%s:%s:cluster/%s", cfg->region, cfg->account, cfg->cluster_name);
	o->instance_arn = dupf("arn:aws:ecs:%s:%s:container-instance/%s/local", cfg->region, cfg->account,
			       cfg->cluster_name);
	o->client_tokens = json_object();
	if (!o->cluster_name || !o->region || !o->account || !o->data_dir || !o->cluster_arn ||
	    !o->instance_arn || !o->client_tokens || (cfg->secrets_file && !o->secrets_file)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	const char *subdirs[] = {"tasks", "services", "logs", "work", "drivers"};
	for (size_t i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, subdirs[i]);
		if ((r = statefile_make_dirs(path)) < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
			goto fail;
		}
	}
	o->drv_events.started = on_started;
	o->drv_events.exited = on_exited;
	o->drv_events.log = on_driver_log;
	struct drv_config dc = {.cgroup_root = cfg->cgroup_root, .docker_socket = cfg->docker_socket,
				.state_dir = path};
	snprintf(path, sizeof(path), "%s/drivers", cfg->data_dir);
	if ((r = driver_process_ops.init(loop, &dc, &o->drv_events, &o->drv_process, err, errlen)) < 0)
		goto fail;
	if (cfg->docker_socket) {
		char why[512] = "";
		struct stat st;
		if (stat(cfg->docker_socket, &st) < 0)
			log_info("orch", "docker driver off: %s: %s", cfg->docker_socket, strerror(errno));
		else if (driver_docker_ops.init(loop, &dc, &o->drv_events, &o->drv_docker, why, sizeof(why)) < 0)
			log_warn("orch", "docker driver off: %s", why);
		else
			log_info("orch", "docker driver on %s", cfg->docker_socket);
	}
	uv_timer_init(loop, &o->tick);
	o->tick.data = o;
	uv_check_init(loop, &o->flush);
	o->flush.data = o;
	if ((r = service_load_all(o, err, errlen)) < 0)
		goto fail_handles;
	if ((r = load_tasks(o)) < 0) {
		snprintf(err, errlen, "loading tasks: %s", strerror(-r));
		goto fail_handles;
	}
	resume_tasks(o);
	uv_timer_start(&o->tick, on_tick, 1000, 1000);
	uv_check_start(&o->flush, on_flush);
	o->converge_pending = true;
	log_info("orch", "cluster %s: %" PRIu64 " CPU units, %" PRIu64 " MiB; %zu tasks loaded (%zu active)",
		 o->cluster_name, cfg->cpu_units, cfg->memory_mib, o->n_tasks, o->n_active);
	*ret = o;
	return 0;
fail_handles:
	orch_free(o);
	return r;
fail:
	if (o) {
		if (o->drv_process)
			driver_process_ops.shutdown(o->drv_process);
		free_names(o);
		free(o);
	}
	return r;
}

static void on_orch_closed(uv_handle_t *h)
{
	struct orch *o = h->data;
	if (--o->closing == 0)
		free(o);
}

void orch_free(struct orch *o)
{
	if (!o)
		return;
	o->any_dirty = true;   /* a write may have failed before: try each dirty task once more */
	write_dirty(o);
	for (struct task *t = o->tasks_head, *next; t; t = next) {
		next = t->next;
		for (size_t i = 0; i < t->nc; i++)
			if (t->c[i].h)
				t->drv->forget(t->c[i].h);
		task_free(t);
	}
	service_free_all(o);
	if (o->drv_process)
		driver_process_ops.shutdown(o->drv_process);
	if (o->drv_docker)
		driver_docker_ops.shutdown(o->drv_docker);
	free_names(o);
	/* the handles are embedded: free the struct once both have closed */
	o->closing = 2;
	uv_close((uv_handle_t *)&o->tick, on_orch_closed);
	uv_close((uv_handle_t *)&o->flush, on_orch_closed);
}
