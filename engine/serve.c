/*
 * serve.c — `tripline serve`: the daemon's lifecycle.
 *
 * One libuv loop owns everything: the HTTP listener (http.c, libmicrohttpd
 * driven by the loop), signals, the orchestration core (orch/) and its
 * drivers. Start-up is all-or-nothing: an invalid configuration
 * or rule set is reported (every error, with its pointer) and the daemon
 * exits 2 without listening. The first thing after reading the
 * configuration is an exclusive lock on data_dir/lock (its pid written in
 * it; see lock_data_dir): a second daemon on the same data_dir exits 3
 * naming the first one's pid. Signals only set state through libuv's signal
 * handles, which run on the loop:
 *
 *   SIGTERM, SIGINT  stop accepting, close every handle, exit 0;
 *   SIGHUP           reload the rules: the new set replaces the old one only
 *                    when every file is valid (the old one stays otherwise).
 *
 * HTTP: POST / is the AWS JSON 1.1 API (api.c, SigV4 when access keys are
 * configured), GET /healthz, GET /metrics (Prometheus text).
 */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "api.h"
#include "config.h"
#include "dispatch.h"
#include "dirwalk.h"
#include "http.h"
#include "ingest.h"
#include "logger.h"
#include "logmon.h"
#include "metrics.h"
#include "orch.h"
#include "pipeline.h"
#include "readfile.h"
#include "rulegen.h"
#include "statefile.h"
#include "services_load.h"
#include "sources.h"
#include "taskdef.h"

#define EXIT_BADINPUT 2
#define EXIT_FAILURE_OTHER 3

struct daemon {
	uv_loop_t loop;
	struct tripline_config *cfg;
	struct rulegen *gen;       /* the first rules, until the pipeline has them */
	struct pipeline *pipeline; /* bus, journal, dispatch, targets, reloads */
	struct sources *sources;   /* files, schedules, webhooks */
	const char **rule_paths;   /* the rules paths that exist (a missing default skipped) */
	size_t n_rule_paths;
	struct http_server *http;
	struct api *api;
	struct taskdef_registry *taskdefs;
	struct orch *orch;
	struct metrics *metrics;  /* /metrics; the counters below are set into it when it renders */
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t drain;         /* shutdown: waits for launches in flight */
	uint64_t drain_deadline;
	time_t started;
	bool stopping;
	struct config_strv secret_env_names;   /* the orchestrator's secrets_env_deny */
};

/*
 * Whether a rules or task_definitions path is skipped: only the key's default
 * ("./rules", "./taskdefs") may be missing, with a warning; a path written in
 * the config that does not exist is an error (reported by the walk).
 */
static bool skip_missing_default(const char *what, const char *path, const char *dflt)
{
	struct stat st;

	if (strcmp(path, dflt) != 0 || stat(path, &st) == 0 || errno != ENOENT)
		return false;
	log_warn(what, "%s does not exist: none loaded (the default of `%s`; set it in the config)", path,
		 strcmp(what, "rules") == 0 ? "rules" : "task_definitions");
	return true;
}

/* Warns when the paths gave nothing: a folder of the wrong name loads
 * quietly otherwise (run from the source tree, "./rules" is the C folder). */
static void warn_if_none(const char *what, size_t found, const struct config_strv *paths)
{
	if (found || paths->n == 0)
		return;
	for (size_t i = 0; i < paths->n; i++)
		log_warn(what, "%s: no *.json files found", paths->v[i]);
}

static int strv_add(struct config_strv *v, const char *prefix, const char *suffix)
{
	char **nv = realloc(v->v, (v->n + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	v->v = nv;
	if (asprintf(&v->v[v->n], "%s%s", prefix, suffix) < 0)
		return -ENOMEM;
	v->n++;
	return 0;
}

static void strv_clear(struct config_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

/* The environment variables that hold the daemon's own secrets (env:
 * references of auth keys, webhook and connection secrets; PREFIX_ACCESS_KEY_ID,
 * PREFIX_SECRET_ACCESS_KEY and PREFIX_SESSION_TOKEN of env:PREFIX cluster
 * credentials): a task's valueFrom may never name them. */
static int secret_env_names(const struct tripline_config *cfg, struct config_strv *ret)
{
	static const char *const pair[] = {"_ACCESS_KEY_ID", "_SECRET_ACCESS_KEY", "_SESSION_TOKEN"};
	int r = 0;

	for (size_t i = 0; r == 0 && i < cfg->n_auth_keys; i++)
		if (strncmp(cfg->auth_keys[i].secret_ref, "env:", 4) == 0)
			r = strv_add(ret, cfg->auth_keys[i].secret_ref + 4, "");
	for (size_t i = 0; r == 0 && i < cfg->sources.n_webhooks; i++) {
		const char *ref = cfg->sources.webhooks[i].secret_ref;
		if (ref && strncmp(ref, "env:", 4) == 0)
			r = strv_add(ret, ref + 4, "");
	}
	for (size_t i = 0; r == 0 && i < cfg->n_connections; i++)
		if (strncmp(cfg->connections[i].secret_ref, "env:", 4) == 0)
			r = strv_add(ret, cfg->connections[i].secret_ref + 4, "");
	for (size_t i = 0; r == 0 && i < cfg->n_clusters; i++) {
		const char *ref = cfg->clusters[i].credentials;
		for (size_t k = 0; r == 0 && ref && strncmp(ref, "env:", 4) == 0 && k < 3; k++)
			r = strv_add(ret, ref + 4, pair[k]);
	}
	return r;
}

/* The data directory's lock: data_dir/lock, write-locked for the daemon's
 * life (released by the kernel however it ends), holding its pid. A POSIX
 * record lock (fcntl), not flock(): a record lock belongs to the process,
 * so a task's process that is between its clone and its execve when the
 * daemon dies (its copy of the fd table still has this fd; close-on-exec
 * drops it at the exec) does not keep the next daemon out, as it would
 * keep an flock. The fd, or -1 with the reason logged (*other: the pid
 * that holds it, as the kernel says, else as the file says; 0 unknown). */
static int lock_data_dir(const char *data_dir, long *other)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	char path[4200], buf[32];
	int fd;

	*other = 0;
	snprintf(path, sizeof(path), "%s/lock", data_dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600)) < 0) {
		log_error("serve", "data_dir lock %s: %s", path, strerror(errno));
		return -1;
	}
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		int e = errno;
		if (e == EACCES || e == EAGAIN) {
			struct flock q = fl;
			ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			*other = fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK ? (long)q.l_pid
										 : strtol(buf, NULL, 10);
		} else {
			log_error("serve", "data_dir lock %s: %s", path, strerror(e));
		}
		close(fd);
		return -1;
	}
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		log_warn("serve", "data_dir lock %s: cannot write our pid: %s", path, strerror(errno));
	return fd;
}

/* The first generation of rules, loaded before anything starts: invalid
 * rules keep the daemon from starting. */
static int load_rules(struct daemon *d)
{
	const struct tripline_config *cfg = d->cfg;
	struct errlist errs = ERRLIST_INIT;

	if (!(d->rule_paths = calloc(cfg->rules.n + 1, sizeof(*d->rule_paths))))
		return -ENOMEM;
	for (size_t i = 0; i < cfg->rules.n; i++)
		if (!skip_missing_default("rules", cfg->rules.v[i], CONFIG_DEFAULT_RULES))
			d->rule_paths[d->n_rule_paths++] = cfg->rules.v[i];
	int r = rulegen_build(cfg, d->rule_paths, d->n_rule_paths, &d->gen, &errs);
	for (size_t i = 0; i < errs.n; i++)
		log_error("rules", "%s", errs.msgs[i]);
	errlist_clear(&errs);
	if (r == 0 && d->n_rule_paths)
		warn_if_none("rules", d->gen->rs->n, &cfg->rules);
	return r;
}

/* Whether two definitions say the same, ignoring what registration adds. */
static bool same_definition(const struct taskdef *a, const struct taskdef *b)
{
	static const char *const added[] = {"taskDefinitionArn", "revision", "status", "registeredAt",
					    "deregisteredAt", "registeredBy", "tags"};
	json_error_t je;
	json_t *ja = json_loads(a->json, 0, &je), *jb = json_loads(b->json, 0, &je);
	for (size_t i = 0; i < sizeof(added) / sizeof(added[0]); i++) {
		json_object_del(ja, added[i]);
		json_object_del(jb, added[i]);
	}
	bool same = ja && jb && json_equal(ja, jb) && strcmp(a->tags_json, b->tags_json) == 0;

	json_decref(ja);
	json_decref(jb);
	return same;
}

#define TASKDEF_FILE_MAX ((size_t)1 << 20)

static int load_taskdef_file(struct taskdef_registry *reg, const char *path, struct errlist *errs)
{
	char *text = NULL;
	size_t len = 0;
	struct taskdef_registry *scratch = NULL;
	const struct taskdef *td = NULL, *cur = NULL, *out = NULL;
	int r = readfile(path, TASKDEF_FILE_MAX, NULL, &text, &len);

	if (r < 0) {
		errlist_add(errs, path, "%s", r == -EFBIG ? "larger than 1 MiB" : readfile_strerror(r));
		return r;
	}
	/* validated and normalised in a registry of its own, kept in memory */
	if ((r = taskdef_registry_open(NULL, NULL, NULL, &scratch, errs)) < 0 ||
	    (r = taskdef_register(scratch, text, len, path, &td, errs)) < 0)
		goto out;
	/* registered again only when it changed: a restart adds no revision */
	if (taskdef_describe(reg, td->family, &cur) == 0 && same_definition(cur, td)) {
		log_info("taskdefs", "%s: %s is current", path, cur->arn);
		goto out;
	}
	if ((r = taskdef_register(reg, text, len, path, &out, errs)) == 0)
		log_info("taskdefs", "%s: registered %s", path, out->arn);
	else if (r != -EINVAL && r != -ENOMEM) {
		errlist_add(errs, path, "cannot be stored in data_dir: %s", strerror(-r));
		r = -EIO;   /* the disk's fault, not the file's */
	}
out:
	taskdef_registry_free(scratch);
	free(text);
	return r;
}

/* The task_definitions paths: what a path means is common/dirwalk.h's, as
 * for the rules paths. */
static int load_taskdef_paths(const struct tripline_config *cfg, struct taskdef_registry *reg)
{
	struct errlist errs = ERRLIST_INIT;
	struct dirwalk_list files = DIRWALK_LIST_INIT;
	int rc = 0;

	for (size_t i = 0; i < cfg->task_definitions.n && rc != -ENOMEM; i++) {
		const char *p = cfg->task_definitions.v[i];
		if (skip_missing_default("taskdefs", p, CONFIG_DEFAULT_TASK_DEFINITIONS))
			continue;
		int r = dirwalk_expand(p, &files, &errs);
		if (r != 0)
			rc = r < 0 ? r : -EINVAL;
	}
	for (size_t i = 0; i < files.n && rc != -ENOMEM; i++) {
		int r = load_taskdef_file(reg, files.paths[i], &errs);
		rc = rc ? rc : r;
	}
	if (rc == 0)
		warn_if_none("taskdefs", files.n, &cfg->task_definitions);
	dirwalk_list_clear(&files);
	for (size_t i = 0; i < errs.n; i++)
		log_error("taskdefs", "%s", errs.msgs[i]);
	errlist_clear(&errs);
	return rc;
}

static char *dup_text(const char *s)
{
	return strdup(s);
}

static void set_json(struct http_response *resp, int status, const char *body)
{
	resp->status = status;
	resp->content_type = "application/json";
	resp->body = dup_text(body);
	resp->body_len = resp->body ? strlen(resp->body) : 0;
}

/* The daemon's families, then each part's, in the order /metrics lists
 * them: registered by the first call, set from the counters by every call
 * (the registry's render callback). */
static void metrics_update(void *arg, struct metrics *m)
{
	struct daemon *d = arg;

	metric_set(metrics_gauge(m, "tripline_build_info", "Version of the running daemon.", "version"),
		   (const char *[]){TRIPLINE_VERSION}, 1);
	metric_set(metrics_gauge(m, "tripline_start_time_seconds", "When the daemon started (Unix time).", NULL),
		   NULL, (double)d->started);
	metric_set(metrics_gauge(m, "tripline_rules", "Rules loaded.", NULL), NULL,
		   d->pipeline ? (double)pipeline_rules(d->pipeline)->rs->n : 0);
	http_server_metrics(d->http, m);
	api_metrics(d->api, m);
	orch_metrics_update(d->orch, m);
	sources_metrics(d->sources, m);
}

static void metrics_text(struct daemon *d, struct http_response *resp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		set_json(resp, 500, "{\"message\":\"out of memory\"}");
		return;
	}
	int r = metrics_render(d->metrics, f);
	if (fclose(f) != 0 || r < 0 || !buf) {
		free(buf);
		set_json(resp, 500, "{\"message\":\"out of memory\"}");
		return;
	}
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4";
	resp->body = buf;
	resp->body_len = len;
}

/* GET /healthz: {"status": "ok"|"down", "components": {"journal", "bus",
 * "<kind>/<name>"…}}, 503 when a component is down. */
static void health(struct daemon *d, struct http_response *resp)
{
	json_t *components = json_object(), *doc = NULL;
	bool ok = true;

	if (!components) {
		set_json(resp, 500, "{\"message\":\"out of memory\"}");
		return;
	}
	if (d->pipeline && !pipeline_health(d->pipeline, components))
		ok = false;
	if (!sources_health(d->sources, components))
		ok = false;
	doc = json_pack("{s:s,s:o}", "status", ok ? "ok" : "down", "components", components);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text) {
		set_json(resp, 500, "{\"message\":\"out of memory\"}");
		return;
	}
	resp->status = ok ? 200 : 503;
	resp->content_type = "application/json";
	resp->body = text;
	resp->body_len = strlen(text);
}

static void handle(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *d = ctx;
	bool get = strcmp(req->method, "GET") == 0;

	if (strcmp(req->path, "/") == 0)
		api_handle(d->api, req, resp);
	else if (sources_http(d->sources, req, resp))
		;
	else if (strcmp(req->path, "/healthz") == 0 && get)
		health(d, resp);
	else if (strcmp(req->path, "/metrics") == 0 && get)
		metrics_text(d, resp);
	else if (strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/metrics") == 0)
		set_json(resp, 405, "{\"message\":\"method not allowed\"}");
	else
		set_json(resp, 404, "{\"message\":\"not found\"}");
	log_debug("http", "%s %s -> %d", req->method, req->path, resp->status);
}

static void on_rules(void *arg, struct rulegen *gen)
{
	sources_rules_changed(arg, gen);
}

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

/* The last part of a shutdown: the orchestrator lets go of its tasks (they
 * keep running; a restart re-adopts them) and the handles close. */
static void finish_stop(struct daemon *d)
{
	sources_stop(d->sources);
	pipeline_free(d->pipeline);
	d->pipeline = NULL;
	orch_free(d->orch);
	d->orch = NULL;
	uv_close((uv_handle_t *)&d->drain, on_closed);
	uv_close((uv_handle_t *)&d->sig_term, on_closed);
	uv_close((uv_handle_t *)&d->sig_int, on_closed);
	uv_close((uv_handle_t *)&d->sig_hup, on_closed);
}

static void on_drain(uv_timer_t *h)
{
	struct daemon *d = h->data;
	size_t n = orch_launches_in_flight(d->orch);

	if (n && uv_now(&d->loop) < d->drain_deadline)
		return;
	if (n)
		log_warn("serve", "%zu container launches still in flight at the shutdown deadline", n);
	uv_timer_stop(h);
	finish_stop(d);
}

/* SIGTERM/SIGINT: stop accepting requests, let container launches in flight
 * finish (their outcome is recorded, so a restart knows them) for at most
 * limits.shutdown_timeout_s, then exit. */
static void stop(struct daemon *d, const char *why)
{
	if (d->stopping)
		return;
	d->stopping = true;
	log_info("serve", "stopping (%s)", why);
	http_server_stop(d->http);
	d->http = NULL;
	d->drain_deadline = uv_now(&d->loop) + (uint64_t)d->cfg->limits.shutdown_timeout_s * 1000u;
	uv_timer_start(&d->drain, on_drain, 0, 20);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;

	if (signum == SIGHUP) {
		pipeline_reload(d->pipeline, "SIGHUP");
		return;
	}
	stop(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

int serve_main(const struct serve_options *opt)
{
	struct daemon d;
	struct errlist errs = ERRLIST_INIT;
	int rc = 0, r, lock_fd = -1;

	memset(&d, 0, sizeof(d));
	r = config_load_file(opt->config_path, &d.cfg, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	errlist_clear(&errs);
	if (r < 0) {
		fprintf(stderr, "tripline serve: not starting: the configuration is invalid\n");
		return r == -ENOMEM ? EXIT_FAILURE_OTHER : EXIT_BADINPUT;
	}
	int level = opt->log_level >= 0 ? opt->log_level : (int)d.cfg->log_level;
	bool json = opt->log_format >= 0 ? opt->log_format == 1
					 : d.cfg->log_format == CONFIG_LOG_FORMAT_JSON;
	logger_setup((enum log_level)level, json);

	if ((r = statefile_make_dirs(d.cfg->data_dir)) < 0) {
		log_error("serve", "data_dir %s: %s", d.cfg->data_dir, strerror(-r));
		rc = EXIT_FAILURE_OTHER;
		goto out_config;
	}
	long other;
	if ((lock_fd = lock_data_dir(d.cfg->data_dir, &other)) < 0) {
		if (other > 0)
			log_error("serve", "not starting: data_dir %s is in use by another tripline daemon (pid %ld)",
				  d.cfg->data_dir, other);
		else
			log_error("serve", "not starting: data_dir %s is locked by another process",
				  d.cfg->data_dir);
		rc = EXIT_FAILURE_OTHER;
		goto out_config;
	}
	{
		/* a connection's secret that cannot be read stops the start here,
		 * not a delivery later (the HTTP targets read them again when used) */
		char **secrets = NULL;
		if ((r = config_resolve_connection_secrets(d.cfg, &secrets, &errs)) < 0) {
			for (size_t i = 0; i < errs.n; i++)
				log_error("serve", "%s", errs.msgs[i]);
			errlist_clear(&errs);
			log_error("serve", "not starting: a connection's secret cannot be read");
			rc = r == -ENOMEM ? EXIT_FAILURE_OTHER : EXIT_BADINPUT;
			goto out_config;
		}
		config_secrets_free(secrets, d.cfg->n_connections);
	}
	if ((r = load_rules(&d)) < 0) {
		log_error("serve", "not starting: the rules are invalid");
		rc = r == -ENOMEM ? EXIT_FAILURE_OTHER : EXIT_BADINPUT;
		goto out_rules;
	}
	log_info("rules", "loaded %zu rules", d.gen->rs->n);
	{
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/taskdefs", d.cfg->data_dir);
		r = taskdef_registry_open(dir, d.cfg->region, d.cfg->account, &d.taskdefs, &errs);
		for (size_t i = 0; i < errs.n; i++)
			log_error("taskdefs", "%s", errs.msgs[i]);
		errlist_clear(&errs);
		if (r == 0)
			taskdef_registry_set_limits(d.taskdefs, &(struct taskdef_limits){
				.max_bytes = (size_t)d.cfg->limits.max_task_definition_bytes,
				.max_families = d.cfg->limits.max_task_definition_families,
				.max_revisions = d.cfg->limits.max_task_definition_revisions});
		if (r < 0) {
			log_error("serve", "not starting: the stored task definitions cannot be loaded");
			rc = r == -ENOMEM ? EXIT_FAILURE_OTHER : EXIT_BADINPUT;
			goto out_rules;
		}
		if ((r = load_taskdef_paths(d.cfg, d.taskdefs)) < 0) {
			log_error("serve", "not starting: the task_definitions files %s",
				  r == -EIO ? "cannot be stored" : "are invalid");
			rc = r == -ENOMEM || r == -EIO ? EXIT_FAILURE_OTHER : EXIT_BADINPUT;
			goto out_rules;
		}
	}
	if (secret_env_names(d.cfg, &d.secret_env_names) < 0 || uv_loop_init(&d.loop) < 0) {
		rc = EXIT_FAILURE_OTHER;
		goto out_rules;
	}
	if (!(d.metrics = metrics_new()) || metrics_on_render(d.metrics, metrics_update, &d) < 0) {
		rc = EXIT_FAILURE_OTHER;
		goto out_loop;
	}
	metrics_update(&d, d.metrics);   /* the daemon's families first, in /metrics' order */
	{
		char why[600] = "", monitor[4200];
		if ((r = pipeline_new(&d.loop, d.cfg, d.metrics, d.gen, d.rule_paths, d.n_rule_paths, &d.pipeline,
				      why, sizeof(why))) < 0) {
			log_error("serve", "not starting: %s", why);
			rc = EXIT_FAILURE_OTHER;
			goto out_loop;
		}
		rulegen_unref(d.gen);   /* the pipeline's now */
		d.gen = NULL;
		struct orch_config oc = {
			.cluster_name = d.cfg->cluster.name,
			.region = d.cfg->region,
			.account = d.cfg->account,
			.cpu_units = d.cfg->cluster.cpu,
			.memory_mib = d.cfg->cluster.memory_mib,
			.data_dir = d.cfg->data_dir,
			.max_tasks = d.cfg->limits.max_tasks,
			.secrets_file = d.cfg->secrets_file,
			.secrets_env_allow = (const char *const *)d.cfg->secrets_env_allow.v,
			.n_secrets_env_allow = d.cfg->secrets_env_allow.n,
			.secrets_env_deny = (const char *const *)d.secret_env_names.v,
			.n_secrets_env_deny = d.secret_env_names.n,
			.cgroup_root = d.cfg->drivers.process_cgroup_root,
			.docker_socket = d.cfg->drivers.docker_socket,
			.log_monitor = logmon_program(monitor, sizeof(monitor)),
			.process_uid_min = d.cfg->drivers.process_uid_min,
			.process_uid_max = d.cfg->drivers.process_uid_max,
			.process_default_user = d.cfg->drivers.process_default_user,
			.process_allow_root = d.cfg->drivers.process_allow_root,
			.docker_allowed_host_paths = d.cfg->drivers.docker_allowed_host_paths.v,
			.n_docker_allowed_host_paths = d.cfg->drivers.docker_allowed_host_paths.n,
			.max_client_tokens = d.cfg->delivery.max_client_tokens,
			.on_event = pipeline_core_event,
			.userdata = d.pipeline,
		};
		if ((r = orch_new(&d.loop, &oc, d.taskdefs, &d.orch, why, sizeof(why))) < 0) {
			log_error("serve", "not starting: the orchestrator: %s", why[0] ? why : strerror(-r));
			rc = EXIT_FAILURE_OTHER;
			goto out_orch;
		}
		if ((r = pipeline_attach_orch(d.pipeline, d.orch, why, sizeof(why))) < 0) {
			log_error("serve", "not starting: %s", why);
			rc = EXIT_FAILURE_OTHER;
			goto out_orch;
		}
		/* deleted revisions go once no task or service loaded above holds them */
		taskdef_registry_set_in_use(d.taskdefs, orch_holds_taskdef, d.orch);
		taskdef_registry_sweep(d.taskdefs);
		if ((r = services_load_paths(d.cfg, d.orch, &errs)) < 0) {
			for (size_t i = 0; i < errs.n; i++)
				log_error("services", "%s", errs.msgs[i]);
			errlist_clear(&errs);
			log_error("serve", "not starting: the services files %s",
				  r == -EIO ? "cannot be stored" : "are invalid");
			rc = r == -ENOMEM || r == -EIO ? EXIT_FAILURE_OTHER : EXIT_BADINPUT;
			goto out_orch;
		}
		if ((r = api_new(d.cfg, d.taskdefs, d.orch, &d.api, why, sizeof(why))) < 0) {
			log_error("serve", "not starting: %s", why[0] ? why : strerror(-r));
			rc = r == -ENOMEM ? EXIT_FAILURE_OTHER : EXIT_BADINPUT;
			goto out_orch;
		}
		api_set_events(d.api, &(struct api_events_env){
			.ingest = pipeline_ingest(d.pipeline),
			.submit = ingest_submit,
			.bus_exists = ingest_bus_exists,
			.rules = pipeline_rules,
			.rules_arg = d.pipeline,
		});
		api_set_dlq(d.api, &(struct api_dlq_env){
			.redrive = dispatch_redrive,
			.dispatch = pipeline_dispatch(d.pipeline),
		});
		struct source_env senv = {
			.loop = &d.loop,
			.cfg = d.cfg,
			.ingest = pipeline_ingest(d.pipeline),
			.metrics = d.metrics,
			.rules = pipeline_rules,
			.rules_arg = d.pipeline,
		};
		if ((r = sources_start(&senv, &d.sources, why, sizeof(why))) < 0) {
			log_error("serve", "not starting: %s", why);
			rc = r == -ENOMEM ? EXIT_FAILURE_OTHER : EXIT_BADINPUT;
			goto out_orch;
		}
		pipeline_on_rules(d.pipeline, on_rules, d.sources);
	}
	d.started = time(NULL);
	metrics_update(&d, d.metrics);   /* the families in order; the core observes launches from here */
	uv_timer_init(&d.loop, &d.drain);
	d.drain.data = &d;
	uv_signal_t *sigs[] = {&d.sig_term, &d.sig_int, &d.sig_hup};
	int signums[] = {SIGTERM, SIGINT, SIGHUP};
	for (int i = 0; i < 3; i++) {
		uv_signal_init(&d.loop, sigs[i]);
		sigs[i]->data = &d;
		uv_signal_start(sigs[i], on_signal, signums[i]);
	}
	struct http_limits http_limits = {
		.max_body = (size_t)d.cfg->limits.max_request_bytes,
		.max_connections = d.cfg->limits.max_connections,
		.max_connections_per_client = d.cfg->limits.max_connections_per_client,
		.request_head_timeout_s = d.cfg->limits.request_head_timeout_s,
	};
	r = http_server_start(&d.loop, d.cfg->listen_host, d.cfg->listen_port, &http_limits,
			      handle, &d, &d.http);
	if (r < 0) {
		log_error("serve", "cannot listen on %s: %s", d.cfg->listen, strerror(-r));
		rc = EXIT_FAILURE_OTHER;
		d.stopping = true;
		sources_stop(d.sources);
		pipeline_free(d.pipeline);
		d.pipeline = NULL;
		orch_free(d.orch);
		d.orch = NULL;
		uv_close((uv_handle_t *)&d.drain, on_closed);
		for (int i = 0; i < 3; i++)
			uv_close((uv_handle_t *)sigs[i], on_closed);
	} else {
		log_info("serve", "listening on %s (port %u)", d.cfg->listen,
			 (unsigned)http_server_port(d.http));
	}
	uv_run(&d.loop, UV_RUN_DEFAULT);
	if (rc == 0)
		log_info("serve", "stopped");
	if (0) {
out_orch:
		sources_stop(d.sources);
		pipeline_free(d.pipeline);   /* before the core its targets use */
		d.pipeline = NULL;
		orch_free(d.orch);
		d.orch = NULL;
	}
out_loop:
	/* let closing handles and threadpool work (old rules being freed) finish */
	for (int i = 0; i < 5000 && uv_loop_alive(&d.loop); i++)
		if (uv_run(&d.loop, UV_RUN_NOWAIT))
			usleep(1000);
	if (uv_loop_close(&d.loop) != 0)
		log_warn("serve", "the event loop still had open handles at exit");
	sources_free(d.sources);   /* its handles closed above; after the pipeline's last callbacks */
out_rules:
	api_free(d.api);
	metrics_free(d.metrics);
	taskdef_registry_free(d.taskdefs);
	rulegen_unref(d.gen);
	free(d.rule_paths);
	strv_clear(&d.secret_env_names);
out_config:
	if (lock_fd >= 0)
		close(lock_fd);   /* releases the lock */
	config_free(d.cfg);
	return rc;
}
