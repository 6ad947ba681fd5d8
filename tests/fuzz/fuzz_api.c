/*
 * fuzz_api.c — libFuzzer target for the AWS JSON request path: api_handle()
 * (engine/api.h) with requests built from the input, on an api made with
 * api_new() over a minimal configuration, a fresh in-memory task-definition
 * registry (holding one definition, "seed") and no orchestrator.
 *
 * The input is up to 8 requests separated by "\n--\n"; each is a selector
 * byte (the X-Amz-Target among the known operations, one no operation has,
 * none, or the body's first line as it is), a flags byte (low three bits
 * all set: GET instead of POST) and the body. Bit 3 of the first request's flags picks, for the whole input,
 * the api that requires SigV4 (access key AKIDEXAMPLE); each request then
 * carries its body's first line as the Authorization header. Requests to
 * one api share its registry, so a definition registered by one is there
 * for the next.
 *
 * Every answer must be what an AWS SDK can read: a status from 200 to 599,
 * the application/x-amz-json-1.1 content type, a body that is one JSON
 * object — with "__type" and "message" strings for an error, without
 * "__type" for a success. With no orchestrator, the task and service
 * operations answer 503 (or 400 for a body that is not a JSON object); a
 * request to the api that requires SigV4 answers 403 (none is validly
 * signed: the clock is the real one). A GET answers 405, a request without
 * X-Amz-Target 400, and one whose X-Amz-Target names no operation 400 (or
 * 403 on the api that requires SigV4). Nothing may crash, leak or trip the sanitizers.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "api_op.h"
#include "config.h"
#include "errlist.h"
#include "logger.h"
#include "taskdef.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ECS "AmazonEC2ContainerServiceV20141113."
#define MAX_REQUESTS 8
#define SEPARATOR "\n--\n"

static const struct {
	const char *target;
	bool needs_orch;
} targets[] = {
	{ ECS "ListClusters", false },
	{ ECS "DescribeClusters", false },
	{ ECS "RegisterTaskDefinition", false },
	{ ECS "DescribeTaskDefinition", false },
	{ ECS "DeregisterTaskDefinition", false },
	{ ECS "ListTaskDefinitions", false },
	{ ECS "ListTaskDefinitionFamilies", false },
	{ ECS "RunTask", true },
	{ ECS "StopTask", true },
	{ ECS "DescribeTasks", true },
	{ ECS "ListTasks", true },
	{ ECS "CreateService", true },
	{ ECS "UpdateService", true },
	{ ECS "DeleteService", true },
	{ ECS "DescribeServices", true },
	{ ECS "ListServices", true },
	{ "Tripline.GetTaskLogs", true },
	{ "AWSEvents.PutEvents", false },           /* no ingest here: answered 503 */
	{ ECS "FlyToTheMoon", false },
	{ ECS "DeleteTaskDefinitions", false },     /* last: the indices above are the corpus's */
};
#define N_TARGETS (sizeof(targets) / sizeof(targets[0]))

static struct tripline_config *cfg_open, *cfg_auth;

static struct tripline_config *load_config(const char *text)
{
	struct errlist errs = ERRLIST_INIT;
	struct tripline_config *c = NULL;

	if (config_from_text("fuzz.json", text, strlen(text), &c, &errs) != 0)
		abort();
	errlist_clear(&errs);
	return c;
}

static void init(void)
{
	logger_setup(LOG_LEVEL_ERROR, false);   /* no line per registered definition */
	cfg_open = load_config("{\"rules\": [], \"task_definitions\": []}");
	cfg_auth = load_config("{\"rules\": [], \"task_definitions\": [],"
			       " \"auth\": {\"keys\": {\"AKIDEXAMPLE\": \"value:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\"}}}");
}

static const char *str_member(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Whether the API serves the operation: the daemon's own tables (a raw
 * target the fuzzer spells out, "AWSEvents.ListEventBuses", is one). */
static bool known_target(const char *target)
{
	static const struct {
		const struct api_op *ops;
		const size_t *n;
	} tables[] = {{api_ecs_ops, &api_ecs_n_ops}, {api_events_ops, &api_events_n_ops}, {api_dlq_ops, &api_dlq_n_ops}};

	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (size_t i = 0; i < *tables[t].n; i++)
			if (strcmp(tables[t].ops[i].target, target) == 0)
				return true;
	return false;
}

/* sel: an index into targets[], or N_TARGETS for none, N_TARGETS + 1 for raw. */
static void check_answer(const struct http_response *resp, size_t sel, const char *raw, bool authed, bool get)
{
	bool has_target = sel < N_TARGETS || (sel == N_TARGETS + 1 && raw);
	json_t *j;
	const char *type;

	if (resp->status < 200 || resp->status > 599 || !resp->content_type ||
	    strcmp(resp->content_type, "application/x-amz-json-1.1") != 0 || !resp->body)
		abort();
	j = json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j))
		abort();   /* one JSON object */
	type = str_member(j, "__type");
	if (resp->status >= 400 ? !type || !type[0] || !str_member(j, "message") : type != NULL)
		abort();   /* errors in AWS's shape, successes without it */
	if (get && resp->status != 405)
		abort();
	if (!get && !has_target && resp->status != 400)
		abort();
	if (!get && has_target && authed && resp->status != 403)
		abort();   /* nothing here is validly signed */
	if (!get && sel < N_TARGETS && !authed && targets[sel].needs_orch && resp->status != 503 &&
	    !(resp->status == 400 && strcmp(type, "SerializationException") == 0))
		abort();   /* no orchestrator */
	if (!get && sel == N_TARGETS + 1 && raw && !authed && !known_target(raw) &&
	    (resp->status != 400 || strcmp(type, "UnknownOperationException") != 0))
		abort();   /* no such operation */
	json_decref(j);
}

/* A copy of body's first line (up to a NUL, as a header value ends there). */
static char *first_line(const char *body, size_t len)
{
	const char *nl = memchr(body, '\n', len);
	char *s = strndup(body, nl ? (size_t)(nl - body) : len);

	if (!s)
		abort();
	return s;
}

static void handle(struct api *a, bool authed, const uint8_t *req, size_t len)
{
	struct http_header headers[4];
	struct http_request r;
	struct http_response resp = {.status = 500};
	size_t sel, n = 0, body_len;
	bool get;
	char *body, *auth = NULL, *raw = NULL;

	if (len < 2)
		return;
	sel = req[0] % (N_TARGETS + 2);
	get = (req[1] & 7) == 7;
	body_len = len - 2;
	body = malloc(body_len + 1);   /* NUL-terminated, as the server hands it over */
	if (!body)
		abort();
	memcpy(body, req + 2, body_len);
	body[body_len] = '\0';

	headers[n++] = (struct http_header){ "Host", "127.0.0.1:8088" };
	headers[n++] = (struct http_header){ "Content-Type", "application/x-amz-json-1.1" };
	if (sel < N_TARGETS) {
		headers[n++] = (struct http_header){ "X-Amz-Target", targets[sel].target };
	} else if (sel == N_TARGETS + 1) {
		raw = first_line(body, body_len);
		headers[n++] = (struct http_header){ "X-Amz-Target", raw };
	}
	if (authed) {
		auth = first_line(body, body_len);
		headers[n++] = (struct http_header){ "Authorization", auth };
	}
	r = (struct http_request){ get ? "GET" : "POST", "/", "", body, body_len, headers, n, "127.0.0.1" };
	api_handle(a, &r, &resp);
	check_answer(&resp, sel, raw, authed, get);
	free(resp.body);
	free(raw);
	free(auth);
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char seed_td[] =
		"{\"family\":\"seed\",\"containerDefinitions\":[{\"name\":\"main\",\"command\":[\"/bin/true\"]}]}";
	struct errlist errs = ERRLIST_INIT;
	struct taskdef_registry *reg = NULL;
	struct api *api = NULL;
	char why[256];
	bool authed = size > 1 && (data[1] & 8);
	const uint8_t *p = data, *end = data + size;

	if (!cfg_open)
		init();
	if (taskdef_registry_open(NULL, NULL, NULL, &reg, &errs) != 0 ||
	    taskdef_register(reg, seed_td, sizeof(seed_td) - 1, "seed", NULL, &errs) != 0 ||
	    api_new(authed ? cfg_auth : cfg_open, reg, NULL, &api, why, sizeof(why)) != 0)
		abort();
	taskdef_registry_set_in_use(reg, NULL, NULL);   /* deleted revisions are freed at once */
	for (int i = 0; i < MAX_REQUESTS && p < end; i++) {
		const uint8_t *sep = memmem(p, (size_t)(end - p), SEPARATOR, strlen(SEPARATOR));
		size_t len = sep ? (size_t)(sep - p) : (size_t)(end - p);
		handle(api, authed, p, len);
		p = sep ? sep + strlen(SEPARATOR) : end;
	}
	api_free(api);
	taskdef_registry_free(reg);
	errlist_clear(&errs);
	return 0;
}
