/*
 * api.c — the AWS JSON 1.1 entry point: POST / with an X-Amz-Target of
 * "AmazonEC2ContainerServiceV20141113.<Op>" (ECS) or "AWSEvents.<Op>"
 * (EventBridge), so that the AWS CLI and SDKs work with --endpoint-url.
 *
 * A request goes through, in order: the method and target check, SigV4
 * authentication when access keys are configured (sigv4.c; the keys' secrets
 * are resolved once, at start), the JSON body (the project's strict reader),
 * and the operation. Errors use AWS's shape, {"__type": "...", "message":
 * "..."}, with 400 for the client's mistakes, 403 for authentication and
 * 5xx only for our own faults.
 *
 * Operations so far: ECS ListClusters and DescribeClusters (the embedded
 * cluster) and the task-definition operations (orch/taskdef.c). The rest of
 * the ECS and EventBridge operations are added with the orchestration core;
 * until then they answer UnknownOperationException.
 */
#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "json.h"
#include "logger.h"
#include "orch.h"
#include "sigv4.h"
#include "taskdef.h"

#define ECS_PREFIX "AmazonEC2ContainerServiceV20141113."
#define EVENTS_PREFIX "AWSEvents."
#define TRIPLINE_PREFIX "Tripline."

struct api_key {
	char *akid;
	char *secret;
};

/* requests by operation and status, for /metrics */
struct api_count {
	unsigned status;
	uint64_t n;
};
#define API_STATUS_SLOTS 8   /* distinct statuses counted per operation */

struct api {
	const struct tripline_config *cfg;
	struct taskdef_registry *taskdefs;   /* borrowed */
	struct orch *orch;                   /* borrowed; NULL: no task operations */
	struct api_key *keys;
	size_t nkeys;
	struct api_count (*counts)[API_STATUS_SLOTS];   /* [op index + 1]; [0]: unknown */
};

static void api_key_wipe(struct api_key *k)
{
	if (k->secret) {
		explicit_bzero(k->secret, strlen(k->secret));
		free(k->secret);
	}
	free(k->akid);
}

static size_t n_ops(void);

int api_new(const struct tripline_config *cfg, struct taskdef_registry *taskdefs, struct orch *orch,
	    struct api **ret, char *err, size_t errlen)
{
	struct api *a = calloc(1, sizeof(*a));

	*ret = NULL;
	if (!a)
		return -ENOMEM;
	a->cfg = cfg;
	a->taskdefs = taskdefs;
	a->orch = orch;
	a->counts = calloc(n_ops() + 1, sizeof(*a->counts));
	if (!a->counts) {
		free(a);
		return -ENOMEM;
	}
	if (cfg->n_auth_keys) {
		a->keys = calloc(cfg->n_auth_keys, sizeof(*a->keys));
		if (!a->keys) {
			free(a);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < cfg->n_auth_keys; i++) {
		const struct config_auth_key *k = &cfg->auth_keys[i];
		char why[256];
		a->nkeys = i + 1;
		a->keys[i].akid = strdup(k->access_key_id);
		int r = config_resolve_secret(k->secret_ref, &a->keys[i].secret, why, sizeof(why));
		if (!a->keys[i].akid || r < 0) {
			snprintf(err, errlen, "auth key %s: %s", k->access_key_id,
				 a->keys[i].akid ? why : "out of memory");
			api_free(a);
			return r < 0 ? r : -ENOMEM;
		}
	}
	*ret = a;
	return 0;
}

void api_free(struct api *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nkeys; i++)
		api_key_wipe(&a->keys[i]);
	free(a->keys);
	free(a->counts);
	free(a);
}

static int lookup_secret(void *ctx, const char *akid, const char **ret_secret)
{
	const struct api *a = ctx;
	for (size_t i = 0; i < a->nkeys; i++) {
		if (strcmp(a->keys[i].akid, akid) == 0) {
			*ret_secret = a->keys[i].secret;
			return 0;
		}
	}
	return -ENOENT;
}

/* Fills resp with a JSON document (takes j). */
static void reply(struct http_response *resp, unsigned status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	resp->status = text ? status : 500;
	resp->content_type = "application/x-amz-json-1.1";
	resp->body = text ? text : strdup("{\"__type\":\"ServerException\",\"message\":\"out of memory\"}");
	resp->body_len = resp->body ? strlen(resp->body) : 0;
}

static void reply_error(struct http_response *resp, unsigned status, const char *type, const char *msg)
{
	reply(resp, status, json_pack("{s:s,s:s}", "__type", type, "message", msg));
}

static char *cluster_arn(const struct tripline_config *cfg)
{
	char *s = NULL;
	if (asprintf(&s, "arn:aws:ecs:%s:%s:cluster/%s", cfg->region, cfg->account, cfg->cluster.name) < 0)
		return NULL;
	return s;
}

static json_t *cluster_json_static(const struct tripline_config *cfg)
{
	char *arn = cluster_arn(cfg);
	json_t *j = arn ? json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i}", "clusterArn", arn, "clusterName",
				    cfg->cluster.name, "status", "ACTIVE", "registeredContainerInstancesCount", 1,
				    "runningTasksCount", 0, "pendingTasksCount", 0, "activeServicesCount", 0)
			: NULL;
	free(arn);
	return j;
}

static void op_list_clusters(struct api *a, const struct jnode *in, struct http_response *resp)
{
	(void)in;
	char *arn = cluster_arn(a->cfg);
	reply(resp, 200, arn ? json_pack("{s:[s]}", "clusterArns", arn) : NULL);
	free(arn);
}

static json_t *cluster_json(const struct api *a)
{
	return a->orch ? orch_cluster_json(a->orch) : cluster_json_static(a->cfg);
}

/* Whether a name or ARN in a request names the embedded cluster. */
static bool is_our_cluster(const struct tripline_config *cfg, const char *s, size_t n)
{
	char *arn = cluster_arn(cfg);
	bool ok = (strlen(cfg->cluster.name) == n && memcmp(s, cfg->cluster.name, n) == 0) ||
		  (arn && strlen(arn) == n && memcmp(s, arn, n) == 0);
	free(arn);
	return ok;
}

static void op_describe_clusters(struct api *a, const struct jnode *in, struct http_response *resp)
{
	const struct jnode *names = jnode_get(in, "clusters");
	json_t *clusters = json_array(), *failures = json_array();

	if (!clusters || !failures)
		goto nomem;
	if (!names) {
		json_array_append_new(clusters, cluster_json(a));   /* the default cluster */
	} else if (names->type != JNODE_ARRAY) {
		json_decref(clusters);
		json_decref(failures);
		reply_error(resp, 400, "InvalidParameterException", "clusters must be a list of names or ARNs");
		return;
	} else {
		for (size_t i = 0; i < names->len; i++) {
			const struct jnode *n = names->u.items[i];
			if (n->type != JNODE_STRING) {
				json_decref(clusters);
				json_decref(failures);
				reply_error(resp, 400, "InvalidParameterException", "clusters must be a list of names or ARNs");
				return;
			}
			if (is_our_cluster(a->cfg, n->u.str, n->len))
				json_array_append_new(clusters, cluster_json(a));
			else
				json_array_append_new(failures, json_pack("{s:s#,s:s}", "arn", n->u.str, (int)n->len,
									  "reason", "MISSING"));
		}
	}
	reply(resp, 200, json_pack("{s:o,s:o}", "clusters", clusters, "failures", failures));
	return;
nomem:
	json_decref(clusters);
	json_decref(failures);
	reply(resp, 500, NULL);
}

/* ------------------------------------------------------------ task definitions */

/* The registry's view of a definition as ECS returns it: {"taskDefinition": …, "tags": […]}. */
static json_t *taskdef_out(const struct taskdef *td, bool with_tags)
{
	json_error_t je;
	json_t *t = json_loads(td->json, 0, &je);
	if (!t)
		return NULL;
	json_t *out = json_pack("{s:o}", "taskDefinition", t);
	if (out && with_tags) {
		json_t *tags = json_loads(td->tags_json, 0, &je);
		if (!tags || json_object_set_new(out, "tags", tags) < 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

static void op_register_task_definition(struct api *a, const struct http_request *req,
					 const struct jnode *in, struct http_response *resp)
{
	struct errlist errs = ERRLIST_INIT;
	const struct taskdef *td;
	(void)in;
	int r = taskdef_register(a->taskdefs, req->body, req->body_len, "request", &td, &errs);

	if (r == -EINVAL) {
		/* every problem, one per line, as the rest of tripline reports them */
		char *msg = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&msg, &len);
		for (size_t i = 0; f && i < errs.n; i++)
			fprintf(f, "%s%s", i ? "\n" : "", errs.msgs[i]);
		if (f)
			fclose(f);
		reply_error(resp, 400, "ClientException", msg ? msg : "invalid task definition");
		free(msg);
	} else if (r == -ENOSPC) {
		reply_error(resp, 400, "ClientException", "too many revisions of this family");
	} else if (r < 0) {
		log_error("api", "RegisterTaskDefinition: %s", strerror(-r));
		reply_error(resp, 500, "ServerException", "the task definition could not be stored");
	} else {
		log_info("api", "registered %s", td->arn);
		reply(resp, 200, taskdef_out(td, true));
	}
	errlist_clear(&errs);
}

/* The string member key of in, or NULL (with a 400 written) when missing or not a string. */
static const char *required_string(const struct jnode *in, const char *key, struct http_response *resp)
{
	const struct jnode *n = jnode_get(in, key);
	if (!n || n->type != JNODE_STRING || memchr(n->u.str, '\0', n->len)) {
		char msg[128];
		snprintf(msg, sizeof(msg), "%s is required and must be a string", key);
		reply_error(resp, 400, "ClientException", msg);
		return NULL;
	}
	return n->u.str;
}

static void taskdef_lookup_reply(int r, const struct taskdef *td, bool tags, struct http_response *resp)
{
	if (r == -EINVAL)
		reply_error(resp, 400, "ClientException", "Invalid revision number or task definition reference.");
	else if (r == -ENOENT)
		reply_error(resp, 400, "ClientException", "Unable to describe task definition.");
	else if (r < 0)
		reply_error(resp, 500, "ServerException", "the task definition could not be stored");
	else
		reply(resp, 200, taskdef_out(td, tags));
}

static void op_describe_task_definition(struct api *a, const struct http_request *req,
					 const struct jnode *in, struct http_response *resp)
{
	const struct taskdef *td = NULL;
	(void)req;
	const char *ref = required_string(in, "taskDefinition", resp);
	if (!ref)
		return;
	const struct jnode *inc = jnode_get(in, "include");
	bool tags = false;
	for (size_t i = 0; inc && inc->type == JNODE_ARRAY && i < inc->len; i++)
		tags |= jnode_streq(inc->u.items[i], "TAGS");
	int r = taskdef_describe(a->taskdefs, ref, &td);
	taskdef_lookup_reply(r, td, tags, resp);
}

static void op_deregister_task_definition(struct api *a, const struct http_request *req,
					   const struct jnode *in, struct http_response *resp)
{
	const struct taskdef *td = NULL;
	(void)req;
	const char *ref = required_string(in, "taskDefinition", resp);
	if (!ref)
		return;
	int r = taskdef_deregister(a->taskdefs, ref, &td);
	taskdef_lookup_reply(r, td, false, resp);
}

static enum taskdef_filter status_filter(const struct jnode *in, bool *ok)
{
	const struct jnode *s = jnode_get(in, "status");
	*ok = true;
	if (!s || jnode_streq(s, "ACTIVE"))
		return TASKDEF_FILTER_ACTIVE;
	if (jnode_streq(s, "INACTIVE"))
		return TASKDEF_FILTER_INACTIVE;
	if (jnode_streq(s, "ALL"))
		return TASKDEF_FILTER_ALL;
	*ok = false;
	return TASKDEF_FILTER_ALL;
}

static int add_arn(const struct taskdef *td, void *ud)
{
	return json_array_append_new(ud, json_string(td->arn)) < 0 ? -ENOMEM : 0;
}

static int add_family(const char *family, void *ud)
{
	return json_array_append_new(ud, json_string(family)) < 0 ? -ENOMEM : 0;
}

/* ListTaskDefinitions and ListTaskDefinitionFamilies: the same request
 * members (status, familyPrefix), a list of names under `member`. */
static void list_reply(struct api *a, const struct jnode *in, bool families, const char *member,
		       struct http_response *resp)
{
	bool ok;
	enum taskdef_filter f = status_filter(in, &ok);
	const struct jnode *prefix = jnode_get(in, "familyPrefix");
	if (!ok || (prefix && prefix->type != JNODE_STRING)) {
		reply_error(resp, 400, "ClientException", "status must be ACTIVE, INACTIVE or ALL; familyPrefix a string");
		return;
	}
	const char *p = prefix ? prefix->u.str : NULL;
	json_t *list = json_array();
	int r = !list ? -ENOMEM
	    : families ? taskdef_list_families(a->taskdefs, p, f, add_family, list)
		       : taskdef_list(a->taskdefs, p, f, add_arn, list);
	if (r < 0) {
		json_decref(list);
		reply(resp, 500, NULL);
		return;
	}
	reply(resp, 200, json_pack("{s:o}", member, list));
}

static void op_list_task_definitions(struct api *a, const struct http_request *req,
				      const struct jnode *in, struct http_response *resp)
{
	(void)req;
	list_reply(a, in, false, "taskDefinitionArns", resp);
}

static void op_list_task_definition_families(struct api *a, const struct http_request *req,
					      const struct jnode *in, struct http_response *resp)
{
	(void)req;
	list_reply(a, in, true, "families", resp);
}

/* ------------------------------------------------------------ tasks and services */

typedef int (*orch_op_fn)(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e);

/* The strict reader has accepted the body; jansson gives the orchestrator
 * its tree (duplicates were already allowed by the strict reader's rules:
 * the last one wins, as with every AWS service). */
static void orch_call(struct api *a, const struct http_request *req, orch_op_fn fn, struct http_response *resp)
{
	json_error_t je;
	struct orch_error e = {NULL, ""};
	json_t *out = NULL;
	json_t *in = req->body_len ? json_loadb(req->body, req->body_len, JSON_ALLOW_NUL, &je) : json_object();

	if (!a->orch) {
		json_decref(in);
		reply_error(resp, 503, "ServerException", "the orchestrator is not running");
		return;
	}
	if (!in) {
		reply_error(resp, 400, "SerializationException", je.text);
		return;
	}
	if (fn(a->orch, in, &out, &e) == 0) {
		reply(resp, 200, out);
	} else {
		bool ours = e.type && strcmp(e.type, "ServerException") == 0;
		if (ours)
			log_error("api", "%s", e.message);
		reply_error(resp, ours ? 500 : 400, e.type ? e.type : "ServerException", e.message);
	}
	json_decref(in);
}

#define ORCH_OP(fname, orchfn)                                                                      \
	static void fname(struct api *a, const struct http_request *req, const struct jnode *in,   \
			  struct http_response *resp)                                              \
	{                                                                                           \
		(void)in;                                                                           \
		orch_call(a, req, orchfn, resp);                                                    \
	}
ORCH_OP(op_run_task, orch_run_task)
ORCH_OP(op_stop_task, orch_stop_task)
ORCH_OP(op_describe_tasks, orch_describe_tasks)
ORCH_OP(op_list_tasks, orch_list_tasks)
ORCH_OP(op_create_service, orch_create_service)
ORCH_OP(op_update_service, orch_update_service)
ORCH_OP(op_delete_service, orch_delete_service)
ORCH_OP(op_describe_services, orch_describe_services)
ORCH_OP(op_list_services, orch_list_services)
ORCH_OP(op_get_task_logs, orch_get_task_logs)

/* ------------------------------------------------------------ dispatch */

static void op_list_clusters_req(struct api *a, const struct http_request *req, const struct jnode *in,
				 struct http_response *resp)
{
	(void)req;
	op_list_clusters(a, in, resp);
}

static void op_describe_clusters_req(struct api *a, const struct http_request *req,
				     const struct jnode *in, struct http_response *resp)
{
	(void)req;
	op_describe_clusters(a, in, resp);
}

struct op {
	const char *target;
	void (*run)(struct api *a, const struct http_request *req, const struct jnode *in,
		    struct http_response *resp);
};

static const struct op ops[] = {
	{ECS_PREFIX "ListClusters", op_list_clusters_req},
	{ECS_PREFIX "DescribeClusters", op_describe_clusters_req},
	{ECS_PREFIX "RegisterTaskDefinition", op_register_task_definition},
	{ECS_PREFIX "DescribeTaskDefinition", op_describe_task_definition},
	{ECS_PREFIX "DeregisterTaskDefinition", op_deregister_task_definition},
	{ECS_PREFIX "ListTaskDefinitions", op_list_task_definitions},
	{ECS_PREFIX "ListTaskDefinitionFamilies", op_list_task_definition_families},
	{ECS_PREFIX "RunTask", op_run_task},
	{ECS_PREFIX "StopTask", op_stop_task},
	{ECS_PREFIX "DescribeTasks", op_describe_tasks},
	{ECS_PREFIX "ListTasks", op_list_tasks},
	{ECS_PREFIX "CreateService", op_create_service},
	{ECS_PREFIX "UpdateService", op_update_service},
	{ECS_PREFIX "DeleteService", op_delete_service},
	{ECS_PREFIX "DescribeServices", op_describe_services},
	{ECS_PREFIX "ListServices", op_list_services},
	{TRIPLINE_PREFIX "GetTaskLogs", op_get_task_logs},
};

static size_t n_ops(void)
{
	return sizeof(ops) / sizeof(ops[0]);
}

static void count(struct api *a, size_t slot, unsigned status)
{
	struct api_count *c = a->counts[slot];
	for (size_t i = 0; i < API_STATUS_SLOTS; i++) {
		if (c[i].status == status || c[i].status == 0) {
			c[i].status = status;
			c[i].n++;
			return;
		}
	}
	c[API_STATUS_SLOTS - 1].n++;   /* more statuses than slots: lumped into the last */
}

void api_metrics(const struct api *a, FILE *f)
{
	fprintf(f, "# HELP tripline_api_requests_total API requests by operation and HTTP status.\n"
		   "# TYPE tripline_api_requests_total counter\n");
	for (size_t op = 0; op <= n_ops(); op++) {
		const char *name = op ? strchr(ops[op - 1].target, '.') + 1 : "unknown";
		for (size_t i = 0; i < API_STATUS_SLOTS && a->counts[op][i].status; i++)
			fprintf(f, "tripline_api_requests_total{operation=\"%s\",code=\"%u\"} %" PRIu64 "\n", name,
				a->counts[op][i].status, a->counts[op][i].n);
	}
}

static bool authenticate(struct api *a, const struct http_request *req, const char *service,
			 struct http_response *resp)
{
	struct sigv4_header hv[64];
	struct sigv4_request sr;
	struct sigv4_result res;
	const char *code = NULL;
	char why[256];

	if (!a->nkeys)
		return true;   /* no keys: allowed on loopback only, which the configuration enforces */
	if (req->n_headers > sizeof(hv) / sizeof(hv[0])) {
		reply_error(resp, 400, "ClientException", "too many request headers");
		return false;
	}
	for (size_t i = 0; i < req->n_headers; i++) {
		hv[i].name = req->headers[i].name;
		hv[i].name_len = strlen(req->headers[i].name);
		hv[i].value = req->headers[i].value;
		hv[i].value_len = strlen(req->headers[i].value);
	}
	memset(&sr, 0, sizeof(sr));
	sr.method = req->method;
	sr.path = req->path;
	sr.query = req->query;
	sr.headers = hv;
	sr.nheaders = req->n_headers;
	sr.body = req->body;
	sr.body_len = req->body_len;
	int r = sigv4_verify(&sr, time(NULL), service, lookup_secret, a, &res, &code, why, sizeof(why));
	if (r == 0)
		return true;
	if (code)
		reply_error(resp, 403, code, why);
	else
		reply_error(resp, 500, "ServerException", "authentication failed to complete");
	return false;
}

static void handle(struct api *a, const struct http_request *req, struct http_response *resp, size_t *slot)
{
	const char *target = http_request_header(req, "X-Amz-Target");
	const char *service;

	if (strcmp(req->method, "POST") != 0) {
		reply_error(resp, 405, "ClientException", "the AWS JSON API takes POST requests");
		return;
	}
	if (!target) {
		reply_error(resp, 400, "MissingTargetException", "the X-Amz-Target header is required");
		return;
	}
	if (strncmp(target, ECS_PREFIX, strlen(ECS_PREFIX)) == 0 ||
	    strncmp(target, TRIPLINE_PREFIX, strlen(TRIPLINE_PREFIX)) == 0)
		service = "ecs";
	else if (strncmp(target, EVENTS_PREFIX, strlen(EVENTS_PREFIX)) == 0)
		service = "events";
	else
		service = NULL;
	if (!authenticate(a, req, service, resp))
		return;

	const struct op *op = NULL;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(ops[i].target, target) == 0) {
			op = &ops[i];
			*slot = i + 1;
		}
	}
	if (!op) {
		char msg[300];
		snprintf(msg, sizeof(msg), "unknown operation %.200s", target);
		reply_error(resp, 400, "UnknownOperationException", msg);
		return;
	}

	struct jdoc *doc = NULL;
	struct json_error je;
	const char *body = req->body_len ? req->body : "{}";
	size_t len = req->body_len ? req->body_len : 2;
	int r = jdoc_parse(body, len, NULL, &doc, &je);
	if (r < 0 || jdoc_root(doc)->type != JNODE_OBJECT) {
		char msg[200];
		if (r < 0)
			snprintf(msg, sizeof(msg), "malformed JSON at line %u, column %u: %s", je.line, je.column,
				 je.message);
		else
			snprintf(msg, sizeof(msg), "the request body must be a JSON object");
		jdoc_free(doc);
		reply_error(resp, 400, "SerializationException", msg);
		return;
	}
	op->run(a, req, jdoc_root(doc), resp);
	jdoc_free(doc);
}

void api_handle(struct api *a, const struct http_request *req, struct http_response *resp)
{
	size_t slot = 0;
	handle(a, req, resp, &slot);
	count(a, slot, resp->status);
}
