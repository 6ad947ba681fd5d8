/*
 * services_load.c — the `services` paths: service definition files (ECS
 * CreateService requests) created or brought up to date at start. The
 * contract (what is created, what an existing service keeps, what is an
 * error) is services_load.h's.
 *
 * Two passes. The first reads every file with the strict JSON reader,
 * checks its member names (the file style of common/jcheck.h, with the file
 * as the messages' prefix), reads it with the API's own CreateService
 * reader (engine/api_ecs.h) so a file means what the same request would,
 * and refuses two files for one serviceName. Only when every file passed
 * does the second pass act, through the orchestrator's typed API
 * (orch_create_service, orch_update_service): the same checks and the same
 * ECS messages as the HTTP API. Whether an update changed anything is told
 * by the service's ECS form (orch_service_json) before and after.
 */
#include "services_load.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_ecs.h"
#include "dirwalk.h"
#include "jcheck.h"
#include "json.h"
#include "jtext.h"
#include "logger.h"
#include "orch.h"
#include "orch_json.h"
#include "readfile.h"

/* One file, read and checked: req's strings point into doc. */
struct svc_file {
	const char *path;
	struct jdoc *doc;
	struct create_service_request req;
};

static const char *const file_fields[] = {
	"cluster", "serviceName", "taskDefinition", "desiredCount", "launchType",
	"deploymentConfiguration", "healthCheckGracePeriodSeconds", NULL,
};

/* CreateService's other members: ECS features tripline does not have. */
static const char *const file_unsupported[] = {
	"loadBalancers", "serviceRegistries", "clientToken", "capacityProviderStrategy",
	"platformVersion", "role", "placementConstraints", "placementStrategy",
	"networkConfiguration", "schedulingStrategy", "deploymentController", "tags",
	"enableECSManagedTags", "propagateTags", "enableExecuteCommand",
	"serviceConnectConfiguration", "volumeConfigurations", "availabilityZoneRebalancing",
	"vpcLatticeConfigurations", NULL,
};

static const char *const deployment_fields[] = {
	"minimumHealthyPercent", "maximumPercent", "deploymentCircuitBreaker", NULL,
};

static const char *const deployment_unsupported[] = {
	"alarms", "strategy", "bakeTimeInMinutes", "lifecycleHooks", "canaryConfiguration",
	"linearConfiguration", NULL,
};

static const char *const breaker_fields[] = {"enable", "rollback", NULL};

/* A service name as CreateService takes it; only such a name is echoed. */
static bool service_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 1 && n <= ORCH_MAX_NAME && jtext_chars_in(s, n, "_-");
}

/* The member names of the request, its deploymentConfiguration and circuit breaker. */
static void check_names(struct jcheck *c, const struct jnode *root)
{
	const struct jnode *dc = jnode_get(root, "deploymentConfiguration");

	jcheck_fields(c, root, file_fields, file_unsupported);
	if (!dc || dc->type != JNODE_OBJECT)
		return;   /* the reader judges its type */
	size_t old = jcheck_push(c, "deploymentConfiguration");
	jcheck_fields(c, dc, deployment_fields, deployment_unsupported);
	const struct jnode *cb = jnode_get(dc, "deploymentCircuitBreaker");
	if (cb && cb->type == JNODE_OBJECT) {
		size_t o2 = jcheck_push(c, "deploymentCircuitBreaker");
		jcheck_fields(c, cb, breaker_fields, NULL);
		jcheck_pop(c, o2);
	}
	jcheck_pop(c, old);
}

/* First pass for one file: 0, -EINVAL (reported) or -ENOMEM. */
static int read_file(const char *path, struct svc_file *f, struct errlist *errs)
{
	struct json_limits jl = {0, SERVICES_FILE_MAX};
	struct orch_error e = {NULL, ""};
	struct json_error je;
	struct jcheck c;
	char *text = NULL;
	size_t len = 0;
	int r = readfile(path, SERVICES_FILE_MAX, NULL, &text, &len);

	f->path = path;
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		errlist_add(errs, path, "%s", r == -EFBIG ? "larger than 64 KiB" : readfile_strerror(r));
		return -EINVAL;
	}
	r = jdoc_parse(text, len, &jl, &f->doc, &je);
	free(text);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		errlist_add(errs, path, "invalid JSON at line %u, column %u: %s", je.line, je.column,
			    je.message);
		return -EINVAL;
	}
	const struct jnode *root = jdoc_root(f->doc);
	jcheck_init(&c, JCHECK_STYLE_FILE, errs, path);
	if (root->type != JNODE_OBJECT) {
		jcheck_err(&c, "must be a JSON object (an ECS CreateService request)");
		return -EINVAL;
	}
	check_names(&c, root);
	if (ecs_read_create_service(root, &f->req, &e) < 0) {
		errlist_add(errs, path, "%s", e.message);
		return -EINVAL;
	}
	/* what creation needs, required of the file even when the service exists */
	if (!f->req.service_name)
		jcheck_err_at(&c, "serviceName", "is required");
	if (!f->req.task_definition)
		jcheck_err_at(&c, "taskDefinition", "is required");
	if (!f->req.has_desired_count)
		jcheck_err_at(&c, "desiredCount", "is required");
	if (c.nomem)
		return -ENOMEM;
	return c.failed ? -EINVAL : 0;
}

/* -EIO for the orchestrator's "cannot be stored" (the disk's fault), else -EINVAL. */
static int orch_failed(const struct svc_file *f, const struct orch_error *e, struct errlist *errs)
{
	errlist_add(errs, f->path, "%s", e->message);
	return e->type && strcmp(e->type, "ServerException") == 0 ? -EIO : -EINVAL;
}

static const char *json_str(const json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	return s ? s : "";
}

/* What a file may change on an existing service, equal before and after. */
static bool same_settings(const json_t *a, const json_t *b)
{
	static const char *const keys[] = {"taskDefinition", "deploymentConfiguration",
					   "healthCheckGracePeriodSeconds"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const json_t *x = json_object_get(a, keys[i]), *y = json_object_get(b, keys[i]);
		if (!(x == y || (x && y && json_equal(x, y))))
			return false;
	}
	return true;
}

static int create(struct orch *o, const struct svc_file *f, struct errlist *errs)
{
	struct orch_error e = {NULL, ""};
	struct service *s = NULL;

	if (orch_create_service(o, &f->req, &s, &e) < 0)
		return orch_failed(f, &e, errs);
	json_t *j = orch_service_json(s);
	log_info("services", "%s: created %s with %lld desired tasks of %s", f->path, orch_service_arn(s),
		 (long long)f->req.desired_count, j ? json_str(j, "taskDefinition") : "?");
	json_decref(j);
	return 0;
}

static const char *launch_type_name(enum orch_launch_type lt)
{
	return lt == ORCH_LAUNCH_FARGATE ? "FARGATE" : lt == ORCH_LAUNCH_EXTERNAL ? "EXTERNAL" : "EC2";
}

/* An ACTIVE service: the file's settings, never its desired count. */
static int update(struct orch *o, const struct svc_file *f, struct service *s, json_t *before,
		  struct errlist *errs)
{
	struct update_service_request u = {
		.cluster = f->req.cluster,
		.service = f->req.service_name,
		.task_definition = f->req.task_definition,
		.config = f->req.config,
	};
	struct orch_error e = {NULL, ""};
	const char *want = launch_type_name(f->req.launch_type), *has = json_str(before, "launchType");

	if (strcmp(want, has) != 0) {
		errlist_add(errs, f->path, "launchType cannot change from %s to %s (UpdateService cannot "
			    "change it either): delete service %s to create it anew", has, want,
			    f->req.service_name);
		return -EINVAL;
	}
	if (orch_update_service(o, &u, &s, &e) < 0)
		return orch_failed(f, &e, errs);
	json_t *after = orch_service_json(s);
	if (!after)
		return -ENOMEM;
	if (same_settings(before, after))
		log_info("services", "%s: %s is current (desired count %lld)", f->path, orch_service_arn(s),
			 (long long)json_integer_value(json_object_get(after, "desiredCount")));
	else
		log_info("services", "%s: updated %s to %s (its desired count %lld is kept)", f->path,
			 orch_service_arn(s), json_str(after, "taskDefinition"),
			 (long long)json_integer_value(json_object_get(after, "desiredCount")));
	json_decref(after);
	return 0;
}

/* Second pass for one file. */
static int apply(struct orch *o, const struct svc_file *f, struct errlist *errs)
{
	const char *name = f->req.service_name;
	struct describe_services_request dreq = {f->req.cluster, &name, 1};
	struct describe_services_result found;
	struct orch_error e = {NULL, ""};

	if (!service_name_ok(name))
		return create(o, f, errs);   /* which says what is wrong with the name */
	if (orch_describe_services(o, &dreq, &found, &e) < 0)
		return orch_failed(f, &e, errs);
	if (found.n_services == 0)
		return create(o, f, errs);
	json_t *before = orch_service_json(found.services[0]);
	if (!before)
		return -ENOMEM;
	const char *status = json_str(before, "status");
	int r = 0;
	if (strcmp(status, "INACTIVE") == 0) {
		r = create(o, f, errs);
	} else if (strcmp(status, "ACTIVE") != 0) {
		log_warn("services", "%s: service %s is %s (being deleted): left alone; a start after it is "
			 "INACTIVE creates it again", f->path, name, status);
	} else {
		r = update(o, f, found.services[0], before, errs);
	}
	json_decref(before);
	return r;
}

/* Two files for one service: the second is refused. */
static int check_unique(const struct svc_file *files, size_t n, struct errlist *errs)
{
	int rc = 0;

	for (size_t i = 1; i < n; i++) {
		if (!service_name_ok(files[i].req.service_name))
			continue;
		for (size_t j = 0; j < i; j++) {
			if (files[j].req.service_name &&
			    strcmp(files[i].req.service_name, files[j].req.service_name) == 0) {
				errlist_add(errs, files[i].path, "service %s is already defined by %s",
					    files[i].req.service_name, files[j].path);
				rc = -EINVAL;
				break;
			}
		}
	}
	return rc;
}

int services_load_paths(const struct tripline_config *cfg, struct orch *o, struct errlist *errs)
{
	struct dirwalk_list list = DIRWALK_LIST_INIT;
	struct svc_file *files = NULL;
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < cfg->services.n && rc != -ENOMEM; i++) {
		int r = dirwalk_expand(cfg->services.v[i], &list, errs);
		if (r != 0)
			rc = r < 0 ? r : -EINVAL;
	}
	if (rc == 0 && list.n && !(files = calloc(list.n, sizeof(*files))))
		rc = -ENOMEM;
	for (; files && n < list.n && rc != -ENOMEM; n++) {
		int r = read_file(list.paths[n], &files[n], errs);
		rc = rc ? rc : r;
		if (r == -ENOMEM)
			rc = r;
	}
	if (rc != -ENOMEM) {
		int r = check_unique(files, n, errs);
		rc = rc ? rc : r;
	}
	if (rc == 0) {
		for (size_t i = 0; i < n; i++) {
			int r = apply(o, &files[i], errs);
			if (r == -ENOMEM) {
				rc = r;
				break;
			}
			if (r < 0 && rc != -EIO)
				rc = r;
		}
	}
	if (rc == 0 && cfg->services.n && list.n == 0)
		for (size_t i = 0; i < cfg->services.n; i++)
			log_warn("services", "%s: no *.json files found", cfg->services.v[i]);
	for (size_t i = 0; files && i < n; i++)
		jdoc_free(files[i].doc);
	free(files);
	dirwalk_list_clear(&list);
	return rc;
}
