/*
 * task.c — a task's life: placement, the launch of its containers, the
 * driver's callbacks, stopping, and the end.
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
 * Every change marks the task dirty (written once at the end of the loop
 * turn, task_state.c); the file is also written at once before containers
 * are launched, so that no process exists that the file does not announce
 * (launch_ready). Every change of lastStatus, desiredStatus or
 * health is an "ECS Task State Change" event with a version that only grows.
 */
#include "orch_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dynuser.h"
#include "logger.h"
#include "metrics.h"
#include "orch_state.h"
#include "privilege.h"
#include "statefile.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_STOP_REASON 1024
#define MAX_MOUNTS 64

const char *const orch_task_status_names[] = {"PROVISIONING", "PENDING", "RUNNING", "DEPROVISIONING",
					      "STOPPED"};
const char *const orch_stop_code_names[] = {NULL, "TaskFailedToStart", "EssentialContainerExited",
					    "UserInitiated", "ServiceSchedulerInitiated"};
const char *const orch_health_names[] = {"UNKNOWN", "HEALTHY", "UNHEALTHY"};

static void try_launch(struct task *t);
static void check_stopped(struct task *t);
static void container_stopped(struct tcontainer *c);

const char *orch_task_arn(const struct task *t)
{
	return t->arn;
}

/* ------------------------------------------------------------ overrides */

/* The owned copy's parts are malloc'd; the public struct shows them const. */
static void free_owned(const void *p)
{
	free((void *)(uintptr_t)p);
}

void orch_overrides_free(struct orch_overrides *ov)
{
	for (size_t i = 0; i < ov->n_containers; i++) {
		const struct orch_container_override *c = &ov->containers[i];
		free_owned(c->name);
		for (size_t k = 0; k < c->n_command; k++)
			free_owned(c->command[k]);
		free_owned(c->command);
		for (size_t k = 0; k < c->n_environment; k++) {
			free_owned(c->environment[k].name);
			free_owned(c->environment[k].value);
		}
		free_owned(c->environment);
	}
	free_owned(ov->containers);
	ov->containers = NULL;
	ov->n_containers = 0;
}

static char *dup_or_null(const char *s, bool *nomem)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*nomem = true;
	return d;
}

int orch_overrides_copy(const struct orch_overrides *src, struct orch_overrides *dst)
{
	bool nomem = false;
	struct orch_container_override *cs = src->n_containers ? calloc(src->n_containers, sizeof(*cs)) : NULL;

	dst->containers = cs;
	dst->n_containers = 0;
	if (src->n_containers && !cs)
		return -ENOMEM;
	dst->n_containers = src->n_containers;
	for (size_t i = 0; i < src->n_containers && !nomem; i++) {
		const struct orch_container_override *s = &src->containers[i];
		struct orch_container_override *d = &cs[i];
		*d = *s;
		d->name = dup_or_null(s->name, &nomem);
		d->command = NULL;
		d->environment = NULL;
		d->n_command = d->n_environment = 0;
		if (s->n_command) {
			const char **cmd = calloc(s->n_command, sizeof(*cmd));
			d->command = cmd;
			nomem |= !cmd;
			for (size_t k = 0; cmd && k < s->n_command; k++, d->n_command++)
				cmd[k] = dup_or_null(s->command[k], &nomem);
		}
		if (s->n_environment) {
			struct orch_kv *env = calloc(s->n_environment, sizeof(*env));
			d->environment = env;
			nomem |= !env;
			for (size_t k = 0; env && k < s->n_environment; k++, d->n_environment++) {
				env[k].name = dup_or_null(s->environment[k].name, &nomem);
				env[k].value = dup_or_null(s->environment[k].value, &nomem);
			}
		}
	}
	if (nomem) {
		orch_overrides_free(dst);
		return -ENOMEM;
	}
	return 0;
}

bool orch_overrides_check(const struct orch_overrides *ov, const struct taskdef *td, struct orch_error *e)
{
	for (size_t i = 0; i < ov->n_containers; i++) {
		const struct orch_container_override *co = &ov->containers[i];
		if (!co->name) {
			orch_set_error(e, "InvalidParameterException",
				       "overrides.containerOverrides[%zu].name is required", i);
			return false;
		}
		bool found = false;
		for (size_t k = 0; k < td->n_containers; k++)
			found |= strcmp(td->containers[k].name, co->name) == 0;
		if (!found) {
			orch_set_error(e, "InvalidParameterException",
				       "Override for container named %.100s is not a container in the TaskDefinition.",
				       co->name);
			return false;
		}
		bool ok = co->n_command <= ORCH_MAX_OVERRIDE_ITEMS;
		for (size_t k = 0; ok && k < co->n_command; k++)
			ok = co->command[k] != NULL;
		if (!ok) {
			orch_set_error(e, "InvalidParameterException",
				       "containerOverrides[%zu].command must be a list of strings", i);
			return false;
		}
		ok = co->n_environment <= ORCH_MAX_OVERRIDE_ITEMS;
		for (size_t k = 0; ok && k < co->n_environment; k++) {
			const struct orch_kv *kv = &co->environment[k];
			ok = kv->name && kv->value && kv->name[0] && !strchr(kv->name, '=');
		}
		if (!ok) {
			orch_set_error(e, "InvalidParameterException",
				       "containerOverrides[%zu].environment must be a list of {name, value} strings", i);
			return false;
		}
		if ((co->has_cpu && !orch_check_int("cpu", co->cpu, 0, ORCH_MAX_OVERRIDE_CPU, e)) ||
		    (co->has_memory && !orch_check_int("memory", co->memory, 1, ORCH_MAX_OVERRIDE_MEMORY, e)))
			return false;
	}
	return true;
}

/* The last override naming the container, as ECS applies them. */
static const struct orch_container_override *override_for(const struct orch_overrides *ov, const char *name)
{
	const struct orch_container_override *found = NULL;
	for (size_t i = 0; i < ov->n_containers; i++)
		if (ov->containers[i].name && strcmp(ov->containers[i].name, name) == 0)
			found = &ov->containers[i];
	return found;
}

static int64_t override_cpu(const struct orch_container_override *co)
{
	return co && co->has_cpu ? co->cpu : 0;
}

static int64_t override_memory(const struct orch_container_override *co)
{
	return co && co->has_memory ? co->memory : 0;
}

/* ------------------------------------------------------------ task memory */

static void on_timer_closed(uv_handle_t *h)
{
	free(h);
}

struct task *orch_task_alloc(struct orch *o, const struct taskdef *td)
{
	struct task *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->orch = o;
	t->td = td;
	t->c = calloc(td->n_containers, sizeof(*t->c));
	if (!t->c) {
		free(t);
		return NULL;
	}
	t->nc = td->n_containers;
	for (size_t i = 0; i < t->nc; i++) {
		struct tcontainer *c = &t->c[i];
		c->task = t;
		c->def = &td->containers[i];
		c->status = TS_PENDING;
		c->exit_code = -1;
		if (!(c->name = strdup(c->def->name))) {
			orch_task_free(t);
			return NULL;
		}
	}
	return t;
}

int orch_task_set_id(struct task *t, const char *id)
{
	snprintf(t->id, sizeof(t->id), "%s", id);
	for (size_t i = 0; i < t->nc; i++) {
		struct tcontainer *c = &t->c[i];
		free(c->mark);
		if (!(c->mark = orch_strdupf("%s/%s/%s", t->orch->instance_id, t->id, c->name)))
			return -ENOMEM;
	}
	return 0;
}

void orch_task_free(struct task *t)
{
	for (size_t i = 0; i < t->nc; i++) {
		struct tcontainer *c = &t->c[i];
		free(c->name);
		free(c->mark);
		free(c->runtime_id);
		free(c->reason);
		if (c->health_timer)
			uv_close((uv_handle_t *)c->health_timer, on_timer_closed);
	}
	free(t->c);
	free(t->arn);
	free(t->group);
	free(t->started_by);
	free(t->client_token);
	free(t->deployment_id);
	free(t->stopped_reason);
	free(t->launch_type);
	orch_overrides_free(&t->overrides);
	free(t);
}

void orch_task_link(struct orch *o, struct task *t)
{
	t->prev = o->tasks_tail;
	if (o->tasks_tail)
		o->tasks_tail->next = t;
	else
		o->tasks_head = t;
	o->tasks_tail = t;
	o->n_tasks++;
	if (t->last != TS_STOPPED) {
		o->n_active++;
		o->cpu_used += t->cpu;
		o->memory_used += t->memory_mib;
		if (t->uid && !dynuser_hold(o->uids, t->uid))
			log_warn("orch", "task %s runs as uid %" PRIu32 ", outside drivers.process.uid_range",
				 t->id, t->uid);
	}
}

static void task_unlink(struct orch *o, struct task *t)
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

void orch_task_purge(struct orch *o, struct task *t)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/tasks/%s.json", o->data_dir, t->id);
	unlink(path);
	snprintf(path, sizeof(path), "%s/logs/%s", o->data_dir, t->id);
	statefile_remove_tree(path);
	snprintf(path, sizeof(path), "%s/work/%s", o->data_dir, t->id);
	statefile_remove_tree(path);
	task_unlink(o, t);
	orch_task_free(t);
}

struct task *orch_task_find(struct orch *o, const char *ref)
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

/* ------------------------------------------------------------ changes */

void orch_task_mark(struct task *t)
{
	t->version++;
	orch_task_dirty(t);
	json_t *detail = orch_task_json_as(t, true);
	if (detail)
		orch_emit(t->orch, "ECS Task State Change", json_pack("[s]", t->arn), detail);
}

void orch_task_dirty(struct task *t)
{
	t->dirty = true;
	t->orch->any_dirty = true;
}

/* ------------------------------------------------------------ launching */

/* env list: "NAME=value" strings, later ones replacing earlier of the same name */
struct envv {
	char **v;
	size_t n, cap;
};

static int env_set(struct envv *e, const char *name, const char *value)
{
	size_t nl = strlen(name);
	char *s = orch_strdupf("%s=%s", name, value);
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

void orch_container_log_path(const struct tcontainer *c, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/logs/%s/%s.log", c->task->orch->data_dir, c->task->id, c->name);
}

void orch_container_spec(const struct tcontainer *c, struct drv_spec *s, char *logbuf, size_t logcap,
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
	if ((!s->user || !s->user[0]) && t->drv->ops == &driver_process_ops) {
		/* privilege.h: the operator's default user, else the task's dynamic uid */
		s->user = t->orch->cfg.process_default_user;
		s->dynamic_uid = s->user ? 0 : t->uid;
	}
	orch_container_log_path(c, logbuf, logcap);
	s->log_path = logbuf;
	s->log_max_bytes = t->orch->cfg.log_max_bytes ? t->orch->cfg.log_max_bytes : ORCH_LOG_MAX_BYTES;
	s->log_keep = ORCH_LOG_KEEP;
	snprintf(scratch, scratchcap, "%s/work/%s", t->orch->data_dir, t->id);
	s->scratch_dir = scratch;
	s->network_mode = t->td->network_mode && strcmp(t->td->network_mode, "host") == 0 ? "host" : "none";
	s->cluster = t->orch->cluster_name;
	s->mark = c->mark;
	int64_t omem = override_memory(c->ov), ocpu = override_cpu(c->ov);
	uint64_t mem = (uint64_t)(omem ? omem : c->def->memory);
	if (!mem && t->nc == 1)
		mem = (uint64_t)t->td->memory;
	s->memory_limit = mem << 20;
	s->memory_reservation = (uint64_t)c->def->memory_reservation << 20;
	int64_t cpu = ocpu ? ocpu : c->def->cpu;
	if (!cpu && t->nc == 1)
		cpu = t->td->cpu;
	s->cpu_units = (uint32_t)cpu;
	size_t nm = 0;
	for (size_t i = 0; i < c->def->n_mounts && nm < MAX_MOUNTS; i++) {
		for (size_t v = 0; v < t->td->n_volumes && nm < MAX_MOUNTS; v++) {
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

/* The environment: fixed defaults, the definition's, the overrides, the
 * secrets (later ones win), and TRIPLINE_TASK_MARK. Fills reason and
 * returns -1 when the container cannot start; -ENOMEM. */
static int build_env(const struct tcontainer *c, struct envv *env, char *reason, size_t reasonlen)
{
	const struct task *t = c->task;
	const struct orch *o = t->orch;
	struct secret_store *store = NULL;
	char why[512] = "";
	int r;

	if (env_set(env, "PATH", DEFAULT_PATH) < 0 || env_set(env, "HOME", "/") < 0 ||
	    env_set(env, "TRIPLINE_TASK_ARN", t->arn) < 0 || env_set(env, "TRIPLINE_TASK_ID", t->id) < 0 ||
	    env_set(env, "TRIPLINE_CONTAINER_NAME", c->name) < 0 ||
	    env_set(env, "TRIPLINE_CLUSTER", o->cluster_name) < 0 || env_set(env, "AWS_REGION", o->region) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < c->def->n_environment; i++)
		if (env_set(env, c->def->environment[i].name, c->def->environment[i].value) < 0)
			return -ENOMEM;
	for (size_t i = 0; c->ov && i < c->ov->n_environment; i++)
		if (env_set(env, c->ov->environment[i].name, c->ov->environment[i].value) < 0)
			return -ENOMEM;
	if (!c->def->n_secrets)
		return env_set(env, "TRIPLINE_TASK_MARK", c->mark);
	if ((r = orch_secrets_open(o, &store, why, sizeof(why))) < 0) {
		snprintf(reason, reasonlen, "ResourceInitializationError: %s", why);
		return r == -ENOMEM ? r : -1;
	}
	for (size_t i = 0; i < c->def->n_secrets; i++) {
		char *val = NULL;
		r = orch_secrets_resolve(o, store, c->def->secrets[i].value, &val, why, sizeof(why));
		if (r < 0) {
			snprintf(reason, reasonlen, "ResourceInitializationError: unable to retrieve secret for %s: %s",
				 c->def->secrets[i].name, why);
			orch_secrets_close(store);
			return r == -ENOMEM ? r : -1;
		}
		r = env_set(env, c->def->secrets[i].name, val);
		explicit_bzero(val, strlen(val));
		free(val);
		if (r < 0) {
			orch_secrets_close(store);
			return r;
		}
	}
	orch_secrets_close(store);
	/* last: nothing in the definition can change it (a restart finds the
	 * container's processes by it) */
	return env_set(env, "TRIPLINE_TASK_MARK", c->mark);
}

static void launch_container(struct tcontainer *c)
{
	struct task *t = c->task;
	const struct driver_ops *ops = t->drv->ops;
	struct drv_spec spec;
	struct drv_mount mounts[MAX_MOUNTS];
	char logbuf[4200], scratch[4200], reason[700] = "";
	struct envv env = {0};
	char **argv = NULL;
	size_t nargv = 0;
	int r;

	if (c->def->n_mounts > MAX_MOUNTS) {
		fail_start(c, "CannotStartContainerError: too many mount points");
		return;
	}
	orch_container_spec(c, &spec, logbuf, sizeof(logbuf), scratch, sizeof(scratch), mounts);

	/* argv: entryPoint + command, the command replaced by an override; a
	 * driver whose images bring their own command gets the two apart:
	 * [entryPoint…, NULL, command…, NULL] */
	size_t nep = c->def->n_entry_point;
	bool ov_cmd = c->ov && c->ov->has_command;
	size_t ncmd = ov_cmd ? c->ov->n_command : c->def->n_argv - nep;
	bool apart = ops->image_command && nep;
	argv = calloc(nep + apart + ncmd + 1, sizeof(*argv));
	if (!argv)
		goto nomem;
	for (size_t i = 0; i < nep; i++)
		argv[nargv++] = c->def->argv[i];
	nargv += apart;
	for (size_t i = 0; i < ncmd; i++)
		argv[nargv++] = ov_cmd ? (char *)(uintptr_t)c->ov->command[i] : c->def->argv[nep + i];
	if (!ops->image_command && nargv == 0) {
		snprintf(reason, sizeof(reason),
			 "CannotStartContainerError: container %s has no entryPoint or command to run", c->name);
		fail_start(c, reason);
		goto out;
	}
	spec.argv = argv;
	if (apart) {
		spec.entry_point = argv;
		spec.argv = argv + nep + 1;
	}

	r = build_env(c, &env, reason, sizeof(reason));
	if (r == -ENOMEM)
		goto nomem;
	if (r < 0) {
		fail_start(c, reason);
		goto out;
	}
	spec.env = env.v;

	/* the driver makes the log and scratch directories (data_dir/logs and
	 * data_dir/work exist since orch_new()); c->launched is set and on
	 * disk already (launch_ready) */
	r = ops->launch(t->drv->d, &spec, c, &c->h);
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
		bool ever_started = d->ever_started;
		bool started = d->launched && (d->status == TS_RUNNING || (d->status == TS_STOPPED && ever_started));
		bool stopped = d->status == TS_STOPPED;
		switch (dp->condition) {
		case TASKDEF_CONDITION_START:
			if (stopped && !ever_started) {
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

/* Launches every container whose dependsOn conditions hold. The task's
 * state file says they were launched before any of their processes can
 * exist (a restarted daemon then knows to look for them), so it is written
 * first, here, and not at the end of the turn. A write that fails fails
 * the task (TaskFailedToStart) — or, with must_save, changes nothing and is
 * returned (RunTask answers ServerException). must_save also writes when
 * nothing is launched: the task is on disk before RunTask answers. */
static int launch_ready(struct task *t, bool must_save)
{
	struct tcontainer *go[ORCH_MAX_CONTAINERS];
	char why[300], reason[400];
	size_t n = 0;

	if (t->desired == TS_STOPPED)
		return 0;
	for (size_t i = 0; i < t->nc && t->desired != TS_STOPPED; i++) {
		struct tcontainer *c = &t->c[i];
		if (c->launched || c->status != TS_PENDING)
			continue;
		int s = deps_state(c, why, sizeof(why));
		if (s < 0) {
			snprintf(reason, sizeof(reason), "DependencyConditionNotMet: %s: %s", c->name, why);
			fail_start(c, reason);
			return 0;
		}
		if (s > 0)
			go[n++] = c;
	}
	if (!n && !must_save)
		return 0;
	for (size_t i = 0; i < n; i++)
		go[i]->launched = true;
	int r = orch_task_write(t);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			go[i]->launched = false;
		if (must_save)
			return r;
		snprintf(reason, sizeof(reason), "CannotStartContainerError: the task's state cannot be saved: %s",
			 strerror(-r));
		fail_start(go[0], reason);
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		if (t->desired == TS_STOPPED) {
			/* an earlier one failed at once: the rest never start */
			go[i]->launched = false;
			go[i]->status = TS_STOPPED;
			continue;
		}
		launch_container(go[i]);
	}
	check_stopped(t);
	return 0;
}

static void try_launch(struct task *t)
{
	(void)launch_ready(t, false);
}

/* ------------------------------------------------------------ driver callbacks */

static void maybe_running(struct task *t)
{
	if (t->desired == TS_STOPPED || t->last >= TS_RUNNING)
		return;
	for (size_t i = 0; i < t->nc; i++)
		if (t->c[i].status == TS_PENDING)
			return;
	struct orch *o = t->orch;
	t->last = TS_RUNNING;
	t->started_wall_ms = orch_wall_ms(o);
	t->started_mono_ms = (int64_t)orch_mono_ms(o);
	double secs = (double)(t->started_mono_ms - t->created_mono_ms) / 1000.0;
	metric_observe(o->launch_seconds, NULL, secs);
	o->m.task_starts++;
	orch_task_mark(t);
	if (t->service)
		service_task_started(t->service, t);
}

void orch_on_started(void *owner, int err, const char *reason)
{
	struct tcontainer *c = owner;
	struct task *t = c->task;
	const struct driver_ops *ops = t->drv->ops;
	char buf[700];

	if (err < 0) {
		snprintf(buf, sizeof(buf), "CannotStartContainerError: %s", reason ? reason : strerror(-err));
		free(c->reason);
		c->reason = strdup(buf);
		c->status = TS_STOPPED;
		if (c->h) {
			ops->release(c->h);
			c->h = NULL;
		}
		log_info("orch", "task %s: container %s could not start: %s", t->id, c->name, buf);
		orch_task_stop(t, SC_TASK_FAILED_TO_START, buf);
		check_stopped(t);
		return;
	}
	c->status = TS_RUNNING;
	c->ever_started = true;
	c->started_mono_ms = orch_mono_ms(t->orch);
	free(c->runtime_id);
	c->runtime_id = strdup(ops->runtime_id(c->h));
	if (t->last == TS_PROVISIONING)
		t->last = TS_PENDING;
	if (c->def->health.present)
		orch_health_schedule(c, 1000);
	if (t->desired == TS_STOPPED) {
		/* stopped while starting: stop it now */
		ops->stop(c->h, (unsigned)c->def->stop_timeout);
		orch_task_dirty(t);
		return;
	}
	try_launch(t);   /* START dependencies */
	maybe_running(t);
	orch_task_dirty(t);
}

void orch_on_exited(void *owner, const struct drv_exit *e)
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

void orch_on_driver_log(void *owner, int level, const char *msg)
{
	struct tcontainer *c = owner;
	logger_write((enum log_level)level, "orch", "task %s: %s", c ? c->task->id : "-", msg);
}

static void container_stopped(struct tcontainer *c)
{
	struct task *t = c->task;

	if (c->h) {
		t->drv->ops->release(c->h);
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
	t->stopped_wall_ms = orch_wall_ms(o);
	t->stopped_mono_ms = (int64_t)orch_mono_ms(o);
	o->cpu_used -= t->cpu;
	o->memory_used -= t->memory_mib;
	dynuser_release(o->uids, t->uid);
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
	t->stopping_wall_ms = orch_wall_ms(t->orch);
	if (t->last < TS_DEPROVISIONING)
		t->last = TS_DEPROVISIONING;
	for (size_t i = 0; i < t->nc; i++) {
		struct tcontainer *c = &t->c[i];
		if (!c->launched)
			c->status = TS_STOPPED;
		else if (c->h && c->status == TS_RUNNING)
			t->drv->ops->stop(c->h, (unsigned)c->def->stop_timeout);
		/* launched and still starting: orch_on_started stops it */
	}
	orch_task_mark(t);
	check_stopped(t);
}

/* After loading: containers that could not be re-adopted count as exited,
 * the task resumes launching or finishes stopping. */
void orch_task_resume(struct task *t)
{
	if (t->last == TS_STOPPED)
		return;
	bool was_stopping = t->desired == TS_STOPPED;
	bool lost_essential = false;
	const struct tcontainer *lost_start = NULL;
	for (size_t i = 0; i < t->nc; i++) {
		struct tcontainer *c = &t->c[i];
		if (c->lost_at_start && !lost_start)
			lost_start = c;
		else if (c->launched && c->status == TS_STOPPED && !c->h && c->def->essential && !c->has_exit_code)
			lost_essential = true;
	}
	if (lost_start && t->desired != TS_STOPPED) {
		char reason[600];
		snprintf(reason, sizeof(reason), "CannotStartContainerError: %s: %s", lost_start->name,
			 lost_start->reason ? lost_start->reason : "lost at a restart");
		orch_task_stop(t, SC_TASK_FAILED_TO_START, reason);
	}
	if (lost_essential && t->desired != TS_STOPPED)
		orch_task_stop(t, SC_ESSENTIAL_CONTAINER_EXITED,
			       "Essential container in task exited while the daemon was down");
	if (was_stopping) {
		/* the daemon stopped while the task was stopping: stop what runs */
		for (size_t i = 0; i < t->nc; i++) {
			struct tcontainer *c = &t->c[i];
			if (c->h && c->status == TS_RUNNING)
				t->drv->ops->stop(c->h, (unsigned)c->def->stop_timeout);
		}
	}
	try_launch(t);
	maybe_running(t);
	check_stopped(t);
}

/* ------------------------------------------------------------ placement */

struct task *orch_launch_task(struct orch *o, const struct taskdef *td, const char *group,
			      const char *started_by, struct service *svc, const char *deployment_id,
			      const struct orch_overrides *overrides, enum orch_launch_type lt,
			      struct orch_error *e, const char **ret_failure)
{
	static const struct orch_overrides none = {NULL, 0};
	const char *lt_name = NULL;
	const struct orch_driver *drv = orch_driver_for(o, td, lt, &lt_name, e);

	*ret_failure = NULL;
	if (!drv || !orch_task_allowed(o, td, drv, e))
		return NULL;
	if (!overrides)
		overrides = &none;

	/* the reservation: task-level cpu/memory, else the containers' sum */
	uint64_t cpu = 0, mem = 0;
	for (size_t i = 0; i < td->n_containers; i++) {
		const struct orch_container_override *co = override_for(overrides, td->containers[i].name);
		int64_t ocpu = override_cpu(co), omem = override_memory(co);
		cpu += ocpu ? (uint64_t)ocpu : (uint64_t)td->containers[i].cpu;
		uint64_t m = omem ? (uint64_t)omem : (uint64_t)td->containers[i].memory;
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
	uint32_t uid = 0;
	if (orch_task_wants_uid(o, td, drv) && dynuser_alloc(o->uids, &uid) < 0) {
		*ret_failure = "RESOURCE:UIDS";
		return NULL;
	}

	struct task *t = orch_task_alloc(o, td);
	char id[33];
	if (!t) {
		dynuser_release(o->uids, uid);
		goto nomem;
	}
	t->uid = uid;
	orch_random_hex(id, 16);
	if (orch_task_set_id(t, id) < 0)
		goto nomem_task;
	t->drv = drv;
	t->service = svc;
	t->cpu = (uint32_t)cpu;
	t->memory_mib = mem;
	t->created_wall_ms = orch_wall_ms(o);
	t->created_mono_ms = (int64_t)orch_mono_ms(o);
	t->last = TS_PROVISIONING;
	t->desired = TS_RUNNING;
	t->arn = orch_strdupf("arn:aws:ecs:%s:%s:task/%s/%s", o->region, o->account, o->cluster_name, t->id);
	t->launch_type = strdup(lt_name);
	t->group = group ? strdup(group) : svc ? orch_strdupf("service:%s", service_name(svc)) : NULL;
	t->started_by = started_by ? strdup(started_by) : NULL;
	t->deployment_id = deployment_id ? strdup(deployment_id) : NULL;
	if (o->launch_token && !svc) {
		if (!(t->client_token = strdup(o->launch_token)))
			goto nomem_task;
		snprintf(t->client_params, sizeof(t->client_params), "%s", o->launch_params);
		t->client_ttl_s = o->launch_ttl_s;
	}
	if (!t->arn || !t->launch_type || (group && !t->group) || (started_by && !t->started_by) ||
	    (deployment_id && !t->deployment_id) || orch_overrides_copy(overrides, &t->overrides) < 0)
		goto nomem_task;
	for (size_t i = 0; i < t->nc; i++)
		t->c[i].ov = override_for(&t->overrides, t->c[i].name);
	orch_task_link(o, t);
	orch_task_mark(t);   /* PROVISIONING */
	t->last = TS_PENDING;
	orch_task_mark(t);   /* PENDING: the containers are launched now */
	int r = launch_ready(t, true);
	if (r < 0) {
		char reason[300];
		snprintf(reason, sizeof(reason), "the task's state cannot be saved: %s", strerror(-r));
		log_error("orch", "task %s: %s", t->id, reason);
		orch_task_stop(t, SC_TASK_FAILED_TO_START, reason);
		orch_set_error(e, "ServerException", "%s", reason);
		return NULL;
	}
	return t;
nomem_task:
	dynuser_release(o->uids, uid);
	orch_task_free(t);
nomem:
	orch_set_error(e, "ServerException", "out of memory");
	return NULL;
}
