/*
 * service.c — `tripline service create|update|scale|describe|list|delete`:
 * services through the daemon's ECS API (CreateService, UpdateService,
 * DescribeServices, ListServices, DeleteService).
 *
 * How it works: each subcommand builds its request in ECS's shape from the
 * parsed command line (remote.c), sends it (call.c) and prints the answer:
 * a table of services (NAME, STATUS, DESIRED, RUNNING, PENDING,
 * DEFINITION), for create, update and describe followed by each service's
 * deployments and latest events; or with --output json the daemon's
 * answer. The deployment options (--minimum-healthy-percent,
 * --maximum-percent, --circuit-breaker, --rollback,
 * --health-check-grace-period) become deploymentConfiguration and
 * healthCheckGracePeriodSeconds.
 *
 * What it promises: exit 1 when DescribeServices lists failures (a service
 * not found), printed after the services; at most SERVICE_EVENTS_SHOWN
 * events per service in a table (ECS lists them newest first).
 */
#include "remote.h"

#include <stdio.h>

#include "cli.h"

#define SERVICE_DESCRIBE_BATCH 10   /* ECS's DescribeServices limit */
#define SERVICE_EVENTS_SHOWN 5      /* latest service events in a table */
#define OPTS_DEPLOYMENT (OPTBIT(OPT_MIN_HEALTHY) | OPTBIT(OPT_MAX_PERCENT) | OPTBIT(OPT_CIRCUIT_BREAKER) | \
			 OPTBIT(OPT_ROLLBACK) | OPTBIT(OPT_GRACE))

const char cli_remote_service_usage[] =
	"usage: tripline service create NAME --task-definition TD [--desired-count N]\n"
	"                        [--minimum-healthy-percent P] [--maximum-percent P]\n"
	"                        [--circuit-breaker [--rollback]]\n"
	"                        [--health-check-grace-period SECONDS]\n"
	"       tripline service update NAME [--task-definition TD] [--desired-count N]\n"
	"                        [--force-new-deployment] [the deployment options above]\n"
	"       tripline service scale NAME N\n"
	"       tripline service describe NAME...\n"
	"       tripline service list\n"
	"       tripline service delete NAME [--force]\n"
	"\n"
	"Services through the daemon's ECS API: a desired count of tasks of one task\n"
	"definition, kept running and replaced by rolling deployments.\n"
	"\n"
	"  create    CreateService (desired count default 1). --minimum-healthy-percent\n"
	"            and --maximum-percent bound a rolling deployment;\n"
	"            --circuit-breaker stops a deployment whose tasks keep failing,\n"
	"            --rollback then returns to the last good one.\n"
	"  update    UpdateService: a new task definition (a rolling deployment), a\n"
	"            new desired count, new deployment settings; --force-new-deployment\n"
	"            replaces the tasks even with nothing changed.\n"
	"  scale     UpdateService with only the desired count N.\n"
	"  describe  DescribeServices: status, desired/running/pending counts,\n"
	"            definition, deployments and the latest events; exits 1 when one\n"
	"            is not found.\n"
	"  list      ListServices (the table describes them).\n"
	"  delete    DeleteService; --force deletes a service that still has a\n"
	"            desired count (its tasks are stopped).\n"
	"\n" REMOTE_COMMON_HELP;

/* ------------------------------------------------------------ tables */

static void service_row(struct table *t, const json_t *s)
{
	char d[32], r[32], p[32];
	const char *row[] = {
		cell_str(s, "serviceName") ? cell_str(s, "serviceName") : cell_arn_tail(cell_str(s, "serviceArn")),
		cell_str(s, "status"),
		cell_num(s, "desiredCount", d, sizeof(d)),
		cell_num(s, "runningCount", r, sizeof(r)),
		cell_num(s, "pendingCount", p, sizeof(p)),
		cell_taskdef(cell_str(s, "taskDefinition")),
	};
	table_add(t, row);
}

/* Prints services; with details, each one's deployments and latest events. 0 or 3. */
static int print_services(const struct remote *rc, const json_t *services, bool details)
{
	static const char *const header[] = {"NAME", "STATUS", "DESIRED", "RUNNING", "PENDING", "DEFINITION"};
	static const char *const dheader[] = {"DEPLOYMENT", "STATUS", "DEFINITION", "DESIRED", "RUNNING",
					      "PENDING", "FAILED", "ROLLOUT", "UPDATED"};
	static const char *const eheader[] = {"TIME", "MESSAGE"};
	struct table t;
	const json_t *s, *x;
	size_t i, k;
	int rc_;

	table_init(&t, 6, header);
	json_array_foreach(services, i, s)
		service_row(&t, s);
	if ((rc_ = table_flush(rc, &t)) != 0 || !details)
		return rc_;
	json_array_foreach(services, i, s) {
		const char *name = cell_str(s, "serviceName") ? cell_str(s, "serviceName") : "?";
		const json_t *deps = json_object_get(s, "deployments"), *events = json_object_get(s, "events");
		if (json_array_size(deps)) {
			printf("\n%s: deployments\n", name);
			table_init(&t, 9, dheader);
			json_array_foreach(deps, k, x) {
				char d[32], r[32], p[32], f[32], u[32];
				const char *row[] = {
					cell_str(x, "id"),
					cell_str(x, "status"),
					cell_taskdef(cell_str(x, "taskDefinition")),
					cell_num(x, "desiredCount", d, sizeof(d)),
					cell_num(x, "runningCount", r, sizeof(r)),
					cell_num(x, "pendingCount", p, sizeof(p)),
					cell_num(x, "failedTasks", f, sizeof(f)),
					cell_str(x, "rolloutState"),
					cell_time(x, "updatedAt", u, sizeof(u)),
				};
				table_add(&t, row);
			}
			if ((rc_ = table_flush(rc, &t)) != 0)
				return rc_;
		}
		if (json_array_size(events)) {
			/* ECS lists events newest first */
			printf("\n%s: latest events\n", name);
			table_init(&t, 2, eheader);
			json_array_foreach(events, k, x) {
				char when[32];
				if (k >= SERVICE_EVENTS_SHOWN)
					break;
				const char *row[] = {cell_time(x, "createdAt", when, sizeof(when)),
						     cell_str(x, "message")};
				table_add(&t, row);
			}
			if ((rc_ = table_flush(rc, &t)) != 0)
				return rc_;
		}
	}
	return 0;
}

static const struct remote_kind service_kind = {
	.list_target = ECS("ListServices"),
	.arns_key = "serviceArns",
	.describe_target = ECS("DescribeServices"),
	.key = "services",
	.batch = SERVICE_DESCRIBE_BATCH,
	.print = print_services,
};

/* Sends req (borrowed) to target and prints the {"service": …} answer of
 * create, update, scale and delete; with details, the deployments and
 * events too. 0 or the exit code. */
static int service_call(const struct remote *rc, const char *target, const json_t *req, bool details)
{
	json_t *resp = NULL, *one = NULL;
	int rc_;

	if ((rc_ = remote_call(rc, target, req, &resp)) != 0)
		return rc_;
	if (rc->output == OUTPUT_JSON)
		remote_print_json(resp);
	else if (!(one = json_pack("[O]", json_object_get(resp, "service"))))
		rc_ = remote_nomem(rc);
	else
		rc_ = print_services(rc, one, details);
	json_decref(one);
	json_decref(resp);
	return rc_;
}

/* ------------------------------------------------------------ subcommands */

/* Adds deploymentConfiguration and healthCheckGracePeriodSeconds from the
 * options. -1 to go on, or the exit code. */
static int deployment_options(const struct remote *rc, const struct remote_args *a, json_t *req)
{
	long long minh = -1, maxp = -1, grace = -1;
	int rc_;

	if ((rc_ = remote_opt_int(rc, a, OPT_MIN_HEALTHY, 0, REMOTE_MAX_INT, &minh)) >= 0 ||
	    (rc_ = remote_opt_int(rc, a, OPT_MAX_PERCENT, 0, REMOTE_MAX_INT, &maxp)) >= 0 ||
	    (rc_ = remote_opt_int(rc, a, OPT_GRACE, 0, REMOTE_MAX_INT, &grace)) >= 0)
		return rc_;
	if (a->val[OPT_ROLLBACK] && !a->val[OPT_CIRCUIT_BREAKER])
		return remote_usage(rc, "--rollback goes with --circuit-breaker");
	bool ok = true;
	if (minh >= 0 || maxp >= 0 || a->val[OPT_CIRCUIT_BREAKER]) {
		json_t *dc = json_object();
		ok = dc != NULL;
		if (ok && minh >= 0)
			ok = remote_put_int(dc, "minimumHealthyPercent", minh);
		if (ok && maxp >= 0)
			ok = remote_put_int(dc, "maximumPercent", maxp);
		if (ok && a->val[OPT_CIRCUIT_BREAKER])
			ok = json_object_set_new(dc, "deploymentCircuitBreaker",
						 json_pack("{s:b,s:b}", "enable", 1, "rollback",
							   a->val[OPT_ROLLBACK] != NULL)) == 0;
		ok = ok && json_object_set(req, "deploymentConfiguration", dc) == 0;
		json_decref(dc);
	}
	if (ok && grace >= 0)
		ok = remote_put_int(req, "healthCheckGracePeriodSeconds", grace);
	return ok ? -1 : remote_nomem(rc);
}

static int service_create(struct remote *rc, const struct remote_args *a)
{
	long long desired = 1;
	json_t *req = NULL;
	int rc_;

	if (!a->val[OPT_TASK_DEFINITION])
		return remote_usage(rc, "--task-definition TD is needed");
	if ((rc_ = remote_opt_int(rc, a, OPT_DESIRED_COUNT, 0, REMOTE_MAX_INT, &desired)) >= 0)
		return rc_;
	if (!(req = remote_request_new(rc)) || !remote_put_str(req, "serviceName", a->pos[0]) ||
	    !remote_put_str(req, "taskDefinition", a->val[OPT_TASK_DEFINITION]) ||
	    !remote_put_int(req, "desiredCount", desired))
		rc_ = remote_nomem(rc);
	else if ((rc_ = deployment_options(rc, a, req)) < 0)
		rc_ = service_call(rc, ECS("CreateService"), req, true);
	json_decref(req);
	return rc_;
}

static int service_update(struct remote *rc, const struct remote_args *a)
{
	long long desired = -1;
	json_t *req = NULL;
	int rc_;

	if ((rc_ = remote_opt_int(rc, a, OPT_DESIRED_COUNT, 0, REMOTE_MAX_INT, &desired)) >= 0)
		return rc_;
	if (!(req = remote_request_new(rc)) || !remote_put_str(req, "service", a->pos[0]) ||
	    !remote_put_str(req, "taskDefinition", a->val[OPT_TASK_DEFINITION]) ||
	    (desired >= 0 && !remote_put_int(req, "desiredCount", desired)) ||
	    (a->val[OPT_FORCE_NEW_DEPLOYMENT] && json_object_set_new(req, "forceNewDeployment", json_true()) < 0))
		rc_ = remote_nomem(rc);
	else if ((rc_ = deployment_options(rc, a, req)) < 0)
		rc_ = service_call(rc, ECS("UpdateService"), req, true);
	json_decref(req);
	return rc_;
}

static int service_scale(struct remote *rc, const struct remote_args *a)
{
	long long desired;
	json_t *req = NULL;
	int rc_;

	if (!remote_parse_int(a->pos[1], REMOTE_MAX_INT, &desired))
		return remote_usage(rc, "N must be a whole number from 0 to %lld, not '%s'", REMOTE_MAX_INT,
				    a->pos[1]);
	if (!(req = remote_request_new(rc)) || !remote_put_str(req, "service", a->pos[0]) ||
	    !remote_put_int(req, "desiredCount", desired))
		rc_ = remote_nomem(rc);
	else
		rc_ = service_call(rc, ECS("UpdateService"), req, false);
	json_decref(req);
	return rc_;
}

static int service_describe(struct remote *rc, const struct remote_args *a)
{
	return remote_describe(rc, &service_kind, a->pos, a->npos);
}

static int service_list(struct remote *rc, const struct remote_args *a)
{
	json_t *req = remote_request_new(rc);
	int rc_;

	(void)a;
	rc_ = req ? remote_list(rc, &service_kind, req) : remote_nomem(rc);
	json_decref(req);
	return rc_;
}

static int service_delete(struct remote *rc, const struct remote_args *a)
{
	json_t *req = remote_request_new(rc);
	int rc_;

	if (!req || !remote_put_str(req, "service", a->pos[0]) ||
	    (a->val[OPT_FORCE] && json_object_set_new(req, "force", json_true()) < 0))
		rc_ = remote_nomem(rc);
	else
		rc_ = service_call(rc, ECS("DeleteService"), req, false);
	json_decref(req);
	return rc_;
}

/* ------------------------------------------------------------ the group */

static const struct remote_subcmd service_subs[] = {
	{"create", service_create, OPTBIT(OPT_TASK_DEFINITION) | OPTBIT(OPT_DESIRED_COUNT) | OPTS_DEPLOYMENT, 1, 1,
	 false, "NAME"},
	{"update", service_update,
	 OPTBIT(OPT_TASK_DEFINITION) | OPTBIT(OPT_DESIRED_COUNT) | OPTBIT(OPT_FORCE_NEW_DEPLOYMENT) | OPTS_DEPLOYMENT,
	 1, 1, false, "NAME"},
	{"scale", service_scale, 0, 2, 2, false, "NAME N"},
	{"describe", service_describe, 0, 1, SIZE_MAX, false, "NAME"},
	{"list", service_list, 0, 0, 0, false, ""},
	{"delete", service_delete, OPTBIT(OPT_FORCE), 1, 1, false, "NAME"},
};

int cli_remote_service(int argc, char **argv)
{
	static const struct remote_group g = {"service", cli_remote_service_usage, service_subs,
					      REMOTE_NELEMS(service_subs), NULL};
	return remote_run_group(&g, argc, argv);
}
