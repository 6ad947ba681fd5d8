/*
 * orch.c — the orchestrator's life: creation and loading, the driver table,
 * the clocks, the periodic tick, the end-of-turn flush, events, the
 * cluster's description and the metrics.
 *
 * Drivers: one table below lists every driver, the launch types it runs and
 * whether the daemon can start without it. orch_new() starts each one the
 * configuration asks for; a task names its driver by launch type (or by
 * name in a state file), and everything else goes through the ops table.
 *
 * The loop: a 1 s timer (the tick) reaps old STOPPED tasks, rotates logs,
 * forgets expired client tokens and lets every service converge; a check
 * handle (the flush) runs at the end of every loop turn that changed
 * something, so many changes in one turn cost one convergence pass and one
 * write per task.
 *
 * Start-up: the data directory's identity (data_dir/id, made on the first
 * start), the drivers, the services, the tasks (each running container
 * taken back through its driver), then each driver's sweep of what carries
 * this identity and no task took back, and the removal of log and scratch
 * directories of unknown tasks — all before the first launch.
 *
 * Events are EventBridge envelopes (source "aws.ecs") handed to the event
 * callback as compact JSON text, and logged at debug level.
 */
#include "orch_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dynuser.h"
#include "event.h"
#include "logger.h"
#include "metrics.h"
#include "orch_json.h"
#include "orch_state.h"
#include "statefile.h"

_Static_assert(ORCH_MAX_CONTAINERS == TASKDEF_MAX_CONTAINERS, "a task holds every container of its definition");

/* ------------------------------------------------------------ the driver table */

#define LT_BIT(lt) (1u << (lt))

/* Every driver, in the order they start. A task runs on the driver whose
 * launch types include its own (ORCH_LAUNCH_DEFAULT: EC2, or FARGATE for a
 * definition that is only FARGATE-compatible). */
static const struct driver_entry {
	const struct driver_ops *ops;
	unsigned launch_types;   /* LT_BIT(ORCH_LAUNCH_…) */
	bool required;           /* the daemon does not start without it */
} driver_table[] = {
	{&driver_process_ops, LT_BIT(ORCH_LAUNCH_EC2) | LT_BIT(ORCH_LAUNCH_EXTERNAL), true},
	{&driver_docker_ops, LT_BIT(ORCH_LAUNCH_FARGATE), false},
};
#define N_DRIVERS (sizeof(driver_table) / sizeof(driver_table[0]))

bool orch_active_taskdef(struct orch *o, const char *ref, const struct taskdef **ret, struct orch_error *e)
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

const char *orch_launch_type_name(enum orch_launch_type lt)
{
	switch (lt) {
	case ORCH_LAUNCH_FARGATE: return "FARGATE";
	case ORCH_LAUNCH_EXTERNAL: return "EXTERNAL";
	case ORCH_LAUNCH_DEFAULT:
	case ORCH_LAUNCH_EC2: break;
	}
	return "EC2";
}

const struct orch_driver *orch_driver_for(struct orch *o, const struct taskdef *td, enum orch_launch_type lt,
					  const char **ret_launch_type, struct orch_error *e)
{
	if (lt == ORCH_LAUNCH_DEFAULT)
		lt = td->compat == TASKDEF_COMPAT_FARGATE ? ORCH_LAUNCH_FARGATE : ORCH_LAUNCH_EC2;
	*ret_launch_type = orch_launch_type_name(lt);
	for (size_t i = 0; i < o->n_drivers; i++) {
		if (!(driver_table[i].launch_types & LT_BIT(lt)))
			continue;
		if (o->drivers[i].d)
			return &o->drivers[i];
		orch_set_error(e, "InvalidParameterException",
			       "launch type %s runs on the %s driver, which is not available (%s)",
			       *ret_launch_type, o->drivers[i].ops->name,
			       o->drivers[i].ops->unavailable_hint ? o->drivers[i].ops->unavailable_hint
								   : o->drivers[i].off_reason);
		return NULL;
	}
	orch_set_error(e, "InvalidParameterException", "no driver runs launch type %s", *ret_launch_type);
	return NULL;
}

const struct orch_driver *orch_driver_named(const struct orch *o, const char *name)
{
	for (size_t i = 0; i < o->n_drivers; i++)
		if (strcmp(o->drivers[i].ops->name, name) == 0)
			return &o->drivers[i];
	return NULL;
}

/* Starts every configured driver; only a required one failing is fatal. */
static int drivers_start(struct orch *o, const struct drv_config *dc, char *err, size_t errlen)
{
	o->drivers = calloc(N_DRIVERS, sizeof(*o->drivers));
	if (!o->drivers) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o->n_drivers = N_DRIVERS;
	for (size_t i = 0; i < N_DRIVERS; i++) {
		const struct driver_entry *de = &driver_table[i];
		struct orch_driver *od = &o->drivers[i];
		od->ops = de->ops;
		if (de->ops->configured && !de->ops->configured(dc)) {
			snprintf(od->off_reason, sizeof(od->off_reason), "not configured");
			continue;
		}
		int r = de->ops->init(o->loop, dc, &o->drv_events, &od->d, od->off_reason, sizeof(od->off_reason));
		if (r < 0) {
			od->d = NULL;
			if (de->required) {
				snprintf(err, errlen, "%s", od->off_reason);
				return r;
			}
			logger_write(r == -ENOENT ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, "orch", "%s driver off: %s",
				     de->ops->name, od->off_reason);
			continue;
		}
		log_info("orch", "%s driver on", de->ops->name);
	}
	return 0;
}

static void drivers_stop(struct orch *o)
{
	for (size_t i = 0; i < o->n_drivers; i++)
		if (o->drivers[i].d)
			o->drivers[i].ops->shutdown(o->drivers[i].d);
	free(o->drivers);
	o->drivers = NULL;
	o->n_drivers = 0;
}

/* ------------------------------------------------------------ small helpers */

uint64_t orch_wall_ms(const struct orch *o)
{
	struct timespec ts;

	if (o && o->cfg.clock.wall_ms)
		return o->cfg.clock.wall_ms(o->cfg.clock.userdata);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t orch_mono_ms(const struct orch *o)
{
	if (o->cfg.clock.mono_ms)
		return o->cfg.clock.mono_ms(o->cfg.clock.userdata);
	return uv_now(o->loop);
}

int64_t orch_mono_of_wall(const struct orch *o, uint64_t wall_ms)
{
	uint64_t now_wall = orch_wall_ms(o);
	int64_t age = now_wall > wall_ms ? (int64_t)(now_wall - wall_ms) : 0;
	return (int64_t)orch_mono_ms(o) - age;
}

void orch_set_error(struct orch_error *e, const char *type, const char *fmt, ...)
{
	va_list ap;
	e->type = type;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

void orch_random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[32];

	if (nbytes > sizeof(b))
		nbytes = sizeof(b);
	if (getrandom(b, nbytes, 0) != (ssize_t)nbytes) {
		/* getrandom does not fail for ≤ 256 bytes once the pool is ready;
		 * fall back to the clocks so an id is still unique enough */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t x = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)getpid() << 48;
		for (size_t i = 0; i < nbytes; i++, x = x * 6364136223846793005u + 1442695040888963407u)
			b[i] = (unsigned char)(x >> 56);
	}
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * nbytes] = '\0';
}

char *orch_strdupf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

void orch_strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

bool orch_check_cluster(const struct orch *o, const char *cluster, struct orch_error *e)
{
	if (!cluster)
		return true;
	if (!orch_is_cluster(o, cluster)) {
		orch_set_error(e, "ClusterNotFoundException", "Cluster not found.");
		return false;
	}
	return true;
}

bool orch_check_string(const char *key, const char *s, size_t max, struct orch_error *e)
{
	size_t n = s ? strlen(s) : 1;
	if (n == 0 || n > max) {
		orch_set_error(e, "InvalidParameterException", "%s must be a string of 1 to %zu characters", key,
			       max);
		return false;
	}
	return true;
}

bool orch_check_int(const char *key, int64_t v, int64_t lo, int64_t hi, struct orch_error *e)
{
	if (v < lo || v > hi) {
		orch_set_error(e, "InvalidParameterException", "%s must be an integer from %lld to %lld", key,
			       (long long)lo, (long long)hi);
		return false;
	}
	return true;
}

bool orch_page_start(const char *token, size_t limit, size_t *ret, struct orch_error *e)
{
	char *end;
	unsigned long long v;

	*ret = 0;
	if (!token)
		return true;
	v = strtoull(token, &end, 10);
	if (*end || !*token || v > limit) {
		orch_set_error(e, "InvalidParameterException", "nextToken is not valid");
		return false;
	}
	*ret = (size_t)v;
	return true;
}

/* ------------------------------------------------------------ events */

/* An ISO 8601 UTC time with milliseconds, as EventBridge writes "time". */
void orch_iso_time(uint64_t wall_ms, char buf[32])
{
	time_t s = (time_t)(wall_ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 32 - n, ".%03uZ", (unsigned)(wall_ms % 1000));
}

/* An event about the core's tasks and services, built by the envelope
 * builder every producer uses (event.h): ECS's detail shapes, "time" in
 * whole seconds as EventBridge writes it. */
void orch_emit(struct orch *o, const char *detail_type, json_t *resources, json_t *detail)
{
	if (!detail)
		detail = json_object();
	char *detail_text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	size_t n = resources ? json_array_size(resources) : 0;
	const char **res = calloc(n + 1, sizeof(*res));
	struct event *ev = NULL;

	for (size_t i = 0; res && i < n; i++)
		res[i] = json_string_value(json_array_get(resources, i));
	struct event_fields f = {
		.source = "aws.ecs",
		.detail_type = detail_type,
		.detail = detail_text,
		.detail_len = detail_text ? strlen(detail_text) : 0,
		.resources = res,
		.n_resources = n,
		.time_s = (int64_t)(orch_wall_ms(o) / 1000),
		.account = o->account,
		.region = o->region,
	};
	if (detail_text && res && event_build(&f, "default", &ev) == 0) {
		o->m.events_emitted++;
		log_debug("events", "%s", ev->json);
		if (o->cfg.on_event)
			o->cfg.on_event(o->cfg.userdata, ev->json, ev->len);
	} else {
		log_error("events", "an ECS event (%s) could not be built: out of memory", detail_type);
	}
	event_unref(ev);
	free(res);
	free(detail_text);
	json_decref(resources);
	json_decref(detail);
}

/* ------------------------------------------------------------ the loop */

static void write_dirty(struct orch *o)
{
	if (!o->any_dirty)
		return;
	o->any_dirty = false;
	for (struct task *t = o->tasks_head; t; t = t->next)
		if (t->dirty)
			orch_task_write(t);
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

static void on_tick(uv_timer_t *h)
{
	struct orch *o = h->data;
	uint64_t now = orch_mono_ms(o);
	size_t stopped = o->n_tasks - o->n_active;

	for (struct task *t = o->tasks_head, *next; t; t = next) {
		next = t->next;
		if (t->last != TS_STOPPED)
			continue;
		bool old = (int64_t)now - t->stopped_mono_ms > (int64_t)ORCH_STOPPED_TASK_TTL_S * 1000;
		if ((old || stopped > ORCH_MAX_STOPPED_TASKS) && !t->dirty) {
			orch_task_purge(o, t);
			stopped--;
		}
	}
	o->any_dirty = true;   /* once a second, retry writes that failed */
	client_tokens_expire(o->tokens, now);
	service_converge_all(o);
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
	m->client_tokens = client_tokens_count(o->tokens);
	service_metrics(o, m);
}

void orch_metrics_update(struct orch *o, struct metrics *m)
{
	static const double bounds[] = ORCH_LAUNCH_BUCKETS;
	struct metric *tasks = metrics_gauge(m, "tripline_tasks", "Tasks by lastStatus.", "state");
	struct metric *services = metrics_gauge(m, "tripline_services", "Services not yet deleted.", NULL);
	struct metric *service_tasks = metrics_gauge(m, "tripline_service_tasks",
						     "Tasks of all services: desired, running, pending.", "kind");
	struct metric *starts = metrics_counter(m, "tripline_task_starts_total", "Tasks that reached RUNNING.", NULL);
	struct metric *stops = metrics_counter(m, "tripline_task_stops_total", "Tasks that reached STOPPED.", NULL);
	struct metric *failures = metrics_counter(m, "tripline_task_failures_total",
						  "Tasks stopped with TaskFailedToStart.", NULL);
	struct metric *launch = metrics_histogram(m, "tripline_task_launch_seconds",
						  "From RunTask (or a scheduler launch) to RUNNING.", NULL, bounds,
						  sizeof(bounds) / sizeof(bounds[0]));
	struct metric *cpu = metrics_gauge(m, "tripline_cluster_cpu_units", "CPU units offered and reserved by tasks.",
					   "kind");
	struct metric *mem = metrics_gauge(m, "tripline_cluster_memory_mib", "Memory offered and reserved by tasks.",
					   "kind");
	service_metrics_update(o, m);
	struct metric *events = metrics_counter(m, "tripline_ecs_events_total",
						"ECS state-change events put on the bus.", NULL);
	struct metric *tokens = metrics_gauge(m, "tripline_client_tokens",
					      "clientTokens remembered (RunTask, UpdateService).", NULL);
	struct metric *refused = metrics_counter(m, "tripline_client_tokens_refused_total",
						 "Calls with a new clientToken refused: the store was full.", NULL);
	struct orch_metrics om;

	if (!o)
		return;
	o->launch_seconds = launch;
	orch_metrics(o, &om);
	for (int s = 0; s <= TS_STOPPED; s++)
		metric_set(tasks, (const char *[]){orch_task_status_names[s]}, (double)om.tasks_by_state[s]);
	metric_set(services, NULL, (double)om.services);
	metric_set(service_tasks, (const char *[]){"desired"}, (double)om.services_desired);
	metric_set(service_tasks, (const char *[]){"running"}, (double)om.services_running);
	metric_set(service_tasks, (const char *[]){"pending"}, (double)om.services_pending);
	metric_set(starts, NULL, (double)om.task_starts);
	metric_set(stops, NULL, (double)om.task_stops);
	metric_set(failures, NULL, (double)om.task_failures);
	metric_set(cpu, (const char *[]){"offered"}, (double)o->cfg.cpu_units);
	metric_set(cpu, (const char *[]){"reserved"}, (double)om.cpu_used);
	metric_set(mem, (const char *[]){"offered"}, (double)o->cfg.memory_mib);
	metric_set(mem, (const char *[]){"reserved"}, (double)om.memory_used_mib);
	metric_set(events, NULL, (double)om.events_emitted);
	metric_set(tokens, NULL, (double)om.client_tokens);
	metric_set(refused, NULL, (double)om.client_tokens_refused);
}

/* ------------------------------------------------------------ life */

/* The data directory's identity: 16 hex digits in data_dir/id, made on the
 * first start. Cgroups and task marks carry it, so that daemons of other
 * data directories never take (or kill) what is this one's. */
static int instance_id(struct orch *o, char *err, size_t errlen)
{
	char path[4200], buf[64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/id", o->data_dir);
	if ((f = fopen(path, "re"))) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (strlen(buf) == 16 && strspn(buf, "0123456789abcdef") == 16) {
			memcpy(o->instance_id, buf, 17);
			return 0;
		}
		snprintf(err, errlen, "%s: not 16 hex digits (the data directory's identity)", path);
		return -EINVAL;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	orch_random_hex(o->instance_id, 8);
	snprintf(buf, sizeof(buf), "%s\n", o->instance_id);
	int r = statefile_write(o->data_dir, "id", buf, strlen(buf), true);
	if (r < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
	return r;
}

static void free_names(struct orch *o)
{
	client_tokens_free(o->tokens);
	dynuser_free(o->uids);
	free(o->default_user);
	orch_strv_free(o->host_paths);
	free(o->cluster_name);
	free(o->region);
	free(o->account);
	free(o->data_dir);
	free(o->secrets_file);
	free(o->cluster_arn);
	free(o->instance_arn);
}

/* The uid allocator and owned copies of what the privilege checks read. */
static int copy_privilege_config(struct orch *o, const struct orch_config *cfg)
{
	size_t n = cfg->n_docker_allowed_host_paths;
	int r = dynuser_new(cfg->process_uid_min ? cfg->process_uid_min : ORCH_UID_MIN,
			    cfg->process_uid_max ? cfg->process_uid_max : ORCH_UID_MAX, &o->uids);

	if (r < 0)
		return r;
	if (cfg->process_default_user && !(o->default_user = strdup(cfg->process_default_user)))
		return -ENOMEM;
	if (!(o->host_paths = calloc(n + 1, sizeof(*o->host_paths))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(o->host_paths[i] = strdup(cfg->docker_allowed_host_paths[i])))
			return -ENOMEM;
	o->cfg.process_default_user = o->default_user;
	o->cfg.docker_allowed_host_paths = o->host_paths;
	return 0;
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
	o->cluster_arn = orch_strdupf("arn:aws:ecs:%s:%s:cluster/%s", cfg->region, cfg->account, cfg->cluster_name);
	o->instance_arn = orch_strdupf("arn:aws:ecs:%s:%s:container-instance/%s/local", cfg->region, cfg->account,
				       cfg->cluster_name);
	snprintf(path, sizeof(path), "%s/tokens", cfg->data_dir);
	o->tokens = client_tokens_new(path, cfg->max_client_tokens);
	if ((r = copy_privilege_config(o, cfg)) < 0) {
		snprintf(err, errlen, r == -EINVAL ? "drivers.process.uid_range: at most 16777216 uids" : "out of memory");
		goto fail;
	}
	r = -ENOMEM;
	if (!o->cluster_name || !o->region || !o->account || !o->data_dir || !o->cluster_arn ||
	    !o->instance_arn || !o->tokens || (cfg->secrets_file && !o->secrets_file)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	const char *subdirs[] = {"tasks", "services", "logs", "work", "drivers", "tokens"};
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, subdirs[i]);
		if ((r = statefile_make_dirs(path)) < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
			goto fail;
		}
	}
	if ((r = instance_id(o, err, errlen)) < 0)
		goto fail;
	o->drv_events.started = orch_on_started;
	o->drv_events.exited = orch_on_exited;
	o->drv_events.log = orch_on_driver_log;
	snprintf(path, sizeof(path), "%s/drivers", cfg->data_dir);
	struct drv_config dc = {.cgroup_root = cfg->cgroup_root, .docker_socket = cfg->docker_socket,
				.state_dir = path, .log_monitor = cfg->log_monitor,
				.allowed_host_paths = o->host_paths,
				.n_allowed_host_paths = cfg->n_docker_allowed_host_paths,
				.instance_id = o->instance_id};
	if ((r = drivers_start(o, &dc, err, errlen)) < 0)
		goto fail;
	uv_timer_init(loop, &o->tick);
	o->tick.data = o;
	uv_check_init(loop, &o->flush);
	o->flush.data = o;
	if ((r = service_load_all(o, err, errlen)) < 0)
		goto fail_handles;
	if ((r = orch_tasks_load(o)) < 0) {
		snprintf(err, errlen, "loading tasks: %s", strerror(-r));
		goto fail_handles;
	}
	/* before anything is launched: what no loaded task took back goes */
	for (size_t i = 0; i < o->n_drivers; i++)
		if (o->drivers[i].d && o->drivers[i].ops->sweep)
			o->drivers[i].ops->sweep(o->drivers[i].d);
	orch_tasks_sweep_files(o);
	if ((r = client_tokens_load(o, o->tokens, orch_wall_ms(o), orch_mono_ms(o))) < 0) {
		snprintf(err, errlen, "loading client tokens: %s", strerror(-r));
		goto fail_handles;
	}
	client_tokens_from_tasks(o, orch_wall_ms(o), orch_mono_ms(o));
	for (struct task *t = o->tasks_head; t; t = t->next)
		orch_task_resume(t);
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
		drivers_stop(o);
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
				t->drv->ops->forget(t->c[i].h);
		orch_task_free(t);
	}
	service_free_all(o);
	drivers_stop(o);
	free_names(o);
	/* the handles are embedded: free the struct once both have closed */
	o->closing = 2;
	uv_close((uv_handle_t *)&o->tick, on_orch_closed);
	uv_close((uv_handle_t *)&o->flush, on_orch_closed);
}
