/*
 * docker_create.c — the docker driver's POST /containers/create: what
 * launch() accepts, and the request's body.
 *
 * The body names the image, Cmd and Entrypoint apart (the image brings its
 * own command), the environment, working directory and user; labels
 * tripline.task-id, .task-arn, .container and .cluster (which daemon's
 * tasks these are); and in HostConfig: network "none" unless asked, memory
 * with swap = memory, CPUs (at least Docker's 0.01, at most the daemon's
 * count), bind mounts, and the json-file log driver with rotation, so that
 * Docker's own copy of the output stays bounded. Every container runs with
 * no-new-privileges and never privileged; a bind mount's host path must
 * resolve below one of drivers.docker.allowed_host_paths and not expose the
 * Docker socket (hostpath.h; the resolved path is the one mounted, ":ro"
 * when readOnly), else launch()
 * fails with -EPERM and a log line saying how to allow it.
 * docker_string_array() also serves the exec bodies of probes.
 *
 * spec->env goes into this body only, and is validated first so that Docker
 * never has a reason to quote it back: the body holds secrets, and the
 * caller wipes it once it was handed over.
 */
#include "docker.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include "hostpath.h"
#include "logger.h"

#define DOCKER_NANO_CPUS_MIN 10000000ull        /* Docker's minimum: 0.01 CPU */

json_t *docker_string_array(char *const *v)
{
	json_t *a = json_array();
	size_t i;

	if (!a)
		return NULL;
	for (i = 0; v && v[i]; i++) {
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static int set_str(json_t *o, const char *key, const char *value)
{
	return value ? json_object_set_new(o, key, json_string(value)) : 0;
}

static int set_int(json_t *o, const char *key, uint64_t value)
{
	if (value > INT64_MAX)
		return -1;
	return json_object_set_new(o, key, json_integer((json_int_t)value));
}

/* "NAME=value" with a non-empty NAME: anything else Docker would reject and quote. */
static bool valid_env(char *const *env)
{
	size_t i;

	for (i = 0; env && env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		if (!eq || eq == env[i])
			return false;
	}
	return true;
}

int docker_build_create(struct driver *d, struct drv_container *c, const struct drv_spec *s,
			char **ret)
{
	json_t *root = json_object(), *host = json_object(), *labels = json_object();
	json_t *binds = json_array(), *logcfg = json_object(), *logopts = json_object();
	uint64_t nano = 0;
	char bind[2 * DC_PATH_MAX];
	size_t i;
	int bad = 0, err = 0;

	*ret = NULL;
	if (!root || !host || !labels || !binds || !logcfg || !logopts) {
		bad = 1;
		goto out;
	}
	bad |= set_str(root, "Image", s->image);
	if (s->argv && s->argv[0])
		bad |= json_object_set_new(root, "Cmd", docker_string_array(s->argv));
	if (s->entry_point)
		bad |= json_object_set_new(root, "Entrypoint", docker_string_array(s->entry_point));
	bad |= json_object_set_new(root, "Env", docker_string_array(s->env));
	bad |= set_str(root, "WorkingDir", s->working_directory);
	bad |= set_str(root, "User", s->user);
	bad |= json_object_set_new(root, "Tty", json_false());
	bad |= json_object_set_new(root, "OpenStdin", json_false());
	bad |= json_object_set_new(root, "AttachStdin", json_false());
	bad |= json_object_set_new(root, "AttachStdout", json_false());
	bad |= json_object_set_new(root, "AttachStderr", json_false());

	bad |= set_str(labels, "tripline.task-id", s->task_id);
	bad |= set_str(labels, "tripline.task-arn", s->task_arn);
	bad |= set_str(labels, "tripline.container", s->container_name);
	bad |= set_str(labels, "tripline.cluster", s->cluster);
	bad |= json_object_set(root, "Labels", labels);

	bad |= set_str(host, "NetworkMode", s->network_mode ? s->network_mode : "none");
	if (s->memory_limit) {
		bad |= set_int(host, "Memory", s->memory_limit);
		bad |= set_int(host, "MemorySwap", s->memory_limit);   /* no swap: the limit is the limit */
	}
	if (s->memory_reservation)
		bad |= set_int(host, "MemoryReservation", s->memory_reservation);
	if (s->cpu_units) {
		nano = (uint64_t)s->cpu_units * 1000000000ull / 1024u;
		if (nano < DOCKER_NANO_CPUS_MIN)
			nano = DOCKER_NANO_CPUS_MIN;
		if (d->max_nano_cpus && nano > d->max_nano_cpus) {
			docker_log(c, LOG_LEVEL_WARN, "docker: %s: %" PRIu32 " CPU units are more than the "
				   "daemon's %" PRIu64 " CPUs; limited to those", c->name, s->cpu_units,
				   (uint64_t)(d->max_nano_cpus / 1000000000u));
			nano = d->max_nano_cpus;
		}
		bad |= set_int(host, "NanoCpus", nano);
	}
	for (i = 0; i < s->n_mounts; i++) {
		const struct drv_mount *m = &s->mounts[i];
		char real[PATH_MAX], why[700];
		const char *deny[] = {d->socket};
		int r = hostpath_resolve(m->host_path, d->allowed_host_paths, d->n_allowed_host_paths, deny, 1,
					 real, why, sizeof(why));
		if (r < 0) {
			docker_log(c, LOG_LEVEL_WARN, "docker: %s: %s", c->name, why);
			err = r;
			goto out;
		}
		if (strchr(real, ':') || docker_fmt(bind, sizeof(bind), "%s:%s%s", real, m->container_path,
						    m->read_only ? ":ro" : "") < 0) {
			bad = 1;
			break;
		}
		bad |= json_array_append_new(binds, json_string(bind));
	}
	if (s->n_mounts)
		bad |= json_object_set(host, "Binds", binds);
	bad |= json_object_set_new(host, "AutoRemove", json_false());
	/* nothing in the container gains privileges through setuid files or file capabilities */
	bad |= json_object_set_new(host, "SecurityOpt", json_pack("[s]", "no-new-privileges"));
	bad |= json_object_set_new(host, "Privileged", json_false());
	bad |= set_str(logcfg, "Type", "json-file");
	bad |= set_str(logopts, "max-size", "10m");
	bad |= set_str(logopts, "max-file", "2");
	bad |= json_object_set(logcfg, "Config", logopts);
	bad |= json_object_set(host, "LogConfig", logcfg);
	bad |= json_object_set(root, "HostConfig", host);
	if (!bad) {
		*ret = json_dumps(root, JSON_COMPACT);
		if (!*ret)
			bad = 1;
	}
out:
	json_decref(logopts);
	json_decref(logcfg);
	json_decref(binds);
	json_decref(labels);
	json_decref(host);
	json_decref(root);
	return err ? err : bad ? -EINVAL : 0;
}

/* What launch() accepts; mounts whose paths Docker's "host:container" form cannot carry are refused. */
int docker_check_spec(const struct drv_spec *s)
{
	size_t i;

	if (!s->image || !s->image[0] || !docker_valid_token(s->task_id, 64) ||
	    !docker_valid_token(s->container_name, 180) || !valid_env(s->env))
		return -EINVAL;
	if (s->n_mounts && !s->mounts)
		return -EINVAL;
	for (i = 0; i < s->n_mounts; i++) {
		const struct drv_mount *m = &s->mounts[i];
		if (!m->host_path || m->host_path[0] != '/' || strchr(m->host_path, ':') ||
		    !m->container_path || m->container_path[0] != '/' || strchr(m->container_path, ':'))
			return -EINVAL;
	}
	return 0;
}
