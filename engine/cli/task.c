/*
 * task.c — `tripline task run|stop|list|describe|logs`: tasks through the
 * daemon's ECS API (RunTask, StopTask, ListTasks, DescribeTasks) and
 * tripline's own Tripline.GetTaskLogs.
 *
 * How it works: each subcommand builds its request in ECS's shape from the
 * parsed command line (remote.c), sends it (call.c) and prints the answer:
 * a table of tasks (TASK ID, DEFINITION, LAST, DESIRED, STOP CODE,
 * STARTED; `describe` adds STOPPED REASON and a table of containers), the
 * failures after it, or with --output json the daemon's answer. `task run`
 * with --env or a command but no --container names the definition's first
 * container, learnt with DescribeTaskDefinition.
 *
 * What it promises: exit 1 when the answer lists failures (a task not
 * found, a task that could not be placed), printed after the tasks. Logs
 * are printed as they are, like `docker logs` does; only the container
 * names around them are stripped of control characters.
 */
#include "remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define TASK_DESCRIBE_BATCH 100   /* ECS's DescribeTasks limit */
#define TARGET_GET_TASK_LOGS "Tripline.GetTaskLogs"

const char cli_remote_task_usage[] =
	"usage: tripline task run TASKDEF [--count N] [--group G] [--started-by S]\n"
	"                     [--client-token T] [--container NAME] [--env NAME=VALUE]...\n"
	"                     [-- COMMAND ARGS...]\n"
	"       tripline task stop TASK [--reason TEXT]\n"
	"       tripline task list [--family F] [--service-name S] [--started-by S]\n"
	"                      [--desired-status RUNNING|PENDING|STOPPED]\n"
	"       tripline task describe TASK...\n"
	"       tripline task logs TASK [--container NAME] [--tail BYTES]\n"
	"\n"
	"Tasks through the daemon's ECS API. TASKDEF is a family, family:revision or\n"
	"an ARN; TASK is a task id or ARN.\n"
	"\n"
	"  run       RunTask: starts N copies (default 1) of TASKDEF. --env and a\n"
	"            command after \"--\" override the container --container names\n"
	"            (default: the definition's first container). Prints the tasks,\n"
	"            then the failures, if any (and exits 1).\n"
	"  stop      StopTask: SIGTERM, then SIGKILL after the stopTimeout; prints it.\n"
	"  list      ListTasks (ECS's default: desired status RUNNING); the table\n"
	"            shows TASK ID, DEFINITION, LAST, DESIRED, STOP CODE, STARTED.\n"
	"  describe  DescribeTasks: the tasks and their containers; exits 1 when one\n"
	"            is not found.\n"
	"  logs      the output of the task's containers, as it is; with several\n"
	"            containers, each after a \"==> NAME <==\" line. --tail BYTES\n"
	"            keeps the last BYTES bytes of each.\n"
	"\n" REMOTE_COMMON_HELP;

/* ------------------------------------------------------------ tables */

/* A task row: TASK ID, DEFINITION, LAST, DESIRED, STOP CODE, STARTED, STOPPED
 * REASON (a table of six columns leaves the last one out). */
static void task_row(struct table *t, const json_t *task)
{
	char started[32];
	const char *row[] = {
		cell_arn_tail(cell_str(task, "taskArn")),
		cell_taskdef(cell_str(task, "taskDefinitionArn")),
		cell_str(task, "lastStatus"),
		cell_str(task, "desiredStatus"),
		cell_str(task, "stopCode"),
		cell_time(task, "startedAt", started, sizeof(started)),
		cell_str(task, "stoppedReason"),
	};
	table_add(t, row);
}

/* Prints tasks as a table; with details, the stopped reason and a table of
 * their containers too. 0 or 3. */
static int print_tasks(const struct remote *rc, const json_t *tasks, bool details)
{
	static const char *const header[] = {"TASK ID", "DEFINITION", "LAST", "DESIRED", "STOP CODE", "STARTED",
					     "STOPPED REASON"};
	static const char *const cheader[] = {"TASK ID", "CONTAINER", "LAST", "EXIT CODE", "REASON"};
	struct table t;
	const json_t *task, *c;
	size_t i, k;
	int rc_;

	table_init(&t, details ? 7 : 6, header);
	json_array_foreach(tasks, i, task)
		task_row(&t, task);
	if ((rc_ = table_flush(rc, &t)) != 0 || !details)
		return rc_;

	bool any = false;
	json_array_foreach(tasks, i, task)
		any |= json_array_size(json_object_get(task, "containers")) > 0;
	if (!any)
		return 0;
	fputc('\n', stdout);
	table_init(&t, 5, cheader);
	json_array_foreach(tasks, i, task) {
		json_array_foreach(json_object_get(task, "containers"), k, c) {
			char code[32];
			const char *row[] = {cell_arn_tail(cell_str(task, "taskArn")), cell_str(c, "name"),
					     cell_str(c, "lastStatus"), cell_num(c, "exitCode", code, sizeof(code)),
					     cell_str(c, "reason")};
			table_add(&t, row);
		}
	}
	return table_flush(rc, &t);
}

static const struct remote_kind task_kind = {
	.list_target = ECS("ListTasks"),
	.arns_key = "taskArns",
	.describe_target = ECS("DescribeTasks"),
	.key = "tasks",
	.batch = TASK_DESCRIBE_BATCH,
	.print = print_tasks,
};

/* ------------------------------------------------------------ task run */

/* The name of the first container of a task definition, learnt from the
 * daemon; *ret owned by the caller. 0 or the exit code. */
static int first_container(const struct remote *rc, const char *taskdef, char **ret)
{
	json_t *resp = NULL;
	int rc_;

	*ret = NULL;
	if ((rc_ = remote_describe_taskdef(rc, taskdef, &resp)) == 0) {
		const json_t *defs = json_object_get(json_object_get(resp, "taskDefinition"), "containerDefinitions");
		const char *name = json_string_value(json_object_get(json_array_get(defs, 0), "name"));
		if (!name) {
			remote_say(rc, "the task definition %s names no container (use --container)", taskdef);
			rc_ = CLI_EXIT_FAILURE;
		} else if (!(*ret = strdup(name))) {
			rc_ = remote_nomem(rc);
		}
	}
	json_decref(resp);
	return rc_;
}

/* overrides: {containerOverrides: [{name, command, environment}]} */
static int run_overrides(const struct remote *rc, const struct remote_args *a, const char *taskdef, json_t *req)
{
	char *first = NULL;
	int rc_ = 0;

	if (!a->val[OPT_CONTAINER] && (rc_ = first_container(rc, taskdef, &first)) != 0)
		return rc_;
	json_t *co = json_object(), *envs = a->nenv ? json_array() : NULL;
	const char *name = a->val[OPT_CONTAINER] ? a->val[OPT_CONTAINER] : first;
	bool ok = co && (!a->nenv || envs) && remote_put_str(co, "name", name);
	if (ok && a->dashdash)
		ok = json_object_set_new(co, "command", remote_string_array(a->cmd, a->ncmd)) == 0;
	for (size_t i = 0; ok && i < a->nenv; i++) {
		const char *eq = strchr(a->env[i], '=');
		ok = json_array_append_new(envs, json_pack("{s:s#,s:s}", "name", a->env[i], (int)(eq - a->env[i]),
							   "value", eq + 1)) == 0;
	}
	if (ok && envs) {
		ok = json_object_set_new(co, "environment", envs) == 0;
		envs = NULL;
	}
	if (ok) {
		ok = json_object_set_new(req, "overrides", json_pack("{s:[O]}", "containerOverrides", co)) == 0;
	}
	json_decref(co);
	json_decref(envs);
	free(first);
	return ok ? 0 : remote_nomem(rc);
}

static int task_run(struct remote *rc, const struct remote_args *a)
{
	const char *taskdef = a->pos[0];
	long long count = 1;
	json_t *req = NULL, *resp = NULL;
	int rc_;

	if ((rc_ = remote_opt_int(rc, a, OPT_COUNT, 1, REMOTE_MAX_INT, &count)) >= 0)
		return rc_;
	for (size_t i = 0; i < a->nenv; i++) {
		const char *eq = strchr(a->env[i], '=');
		if (!eq || eq == a->env[i] || eq - a->env[i] > 255)
			return remote_usage(rc, "--env needs NAME=VALUE, not '%s'", a->env[i]);
	}
	if (a->val[OPT_CONTAINER] && !a->nenv && !a->dashdash)
		return remote_usage(rc, "--container goes with --env or a command after '--'");

	if (!(req = remote_request_new(rc)) || !remote_put_str(req, "taskDefinition", taskdef) ||
	    !remote_put_int(req, "count", count) || !remote_put_str(req, "group", a->val[OPT_GROUP]) ||
	    !remote_put_str(req, "startedBy", a->val[OPT_STARTED_BY]) ||
	    !remote_put_str(req, "clientToken", a->val[OPT_CLIENT_TOKEN])) {
		rc_ = remote_nomem(rc);
		goto out_free;
	}
	if ((a->nenv || a->dashdash) && (rc_ = run_overrides(rc, a, taskdef, req)) != 0)
		goto out_free;
	if ((rc_ = remote_call(rc, ECS("RunTask"), req, &resp)) != 0)
		goto out_free;
	if (rc->output == OUTPUT_JSON) {
		remote_print_json(resp);
	} else {
		rc_ = print_tasks(rc, json_object_get(resp, "tasks"), false);
		remote_print_failures(rc, json_object_get(resp, "failures"), true, &rc_);
	}
	if (!rc_ && json_array_size(json_object_get(resp, "failures")))
		rc_ = CLI_EXIT_NEGATIVE;
out_free:
	json_decref(req);
	json_decref(resp);
	return rc_;
}

/* ------------------------------------------------------------ task stop, list, describe, logs */

static int task_stop(struct remote *rc, const struct remote_args *a)
{
	json_t *req = remote_request_new(rc), *resp = NULL;
	int rc_;

	if (!req || !remote_put_str(req, "task", a->pos[0]) || !remote_put_str(req, "reason", a->val[OPT_REASON])) {
		rc_ = remote_nomem(rc);
	} else if ((rc_ = remote_call(rc, ECS("StopTask"), req, &resp)) == 0) {
		if (rc->output == OUTPUT_JSON) {
			remote_print_json(resp);
		} else {
			json_t *one = json_pack("[O]", json_object_get(resp, "task"));
			rc_ = one ? print_tasks(rc, one, false) : remote_nomem(rc);
			json_decref(one);
		}
	}
	json_decref(req);
	json_decref(resp);
	return rc_;
}

static int task_list(struct remote *rc, const struct remote_args *a)
{
	static const char *const statuses[] = {"RUNNING", "PENDING", "STOPPED"};
	json_t *req = NULL;
	int rc_;

	if ((rc_ = remote_opt_choice(rc, a, OPT_DESIRED_STATUS, statuses, REMOTE_NELEMS(statuses), NULL)) >= 0)
		return rc_;
	if (!(req = remote_request_new(rc)) || !remote_put_str(req, "family", a->val[OPT_FAMILY]) ||
	    !remote_put_str(req, "serviceName", a->val[OPT_SERVICE_NAME]) ||
	    !remote_put_str(req, "startedBy", a->val[OPT_STARTED_BY]) ||
	    !remote_put_str(req, "desiredStatus", a->val[OPT_DESIRED_STATUS]))
		rc_ = remote_nomem(rc);
	else
		rc_ = remote_list(rc, &task_kind, req);
	json_decref(req);
	return rc_;
}

static int task_describe(struct remote *rc, const struct remote_args *a)
{
	return remote_describe(rc, &task_kind, a->pos, a->npos);
}

static int task_logs(struct remote *rc, const struct remote_args *a)
{
	long long tail = -1;
	json_t *req = NULL, *resp = NULL;
	int rc_;

	if ((rc_ = remote_opt_int(rc, a, OPT_TAIL, 0, REMOTE_MAX_INT, &tail)) >= 0)
		return rc_;
	/* tripline's own operation: {"task", "container"?, "tailBytes"?} */
	if (!(req = json_object()) || !remote_put_str(req, "task", a->pos[0]) ||
	    !remote_put_str(req, "container", a->val[OPT_CONTAINER]) ||
	    (tail >= 0 && !remote_put_int(req, "tailBytes", tail))) {
		rc_ = remote_nomem(rc);
		goto out_free;
	}
	if ((rc_ = remote_call(rc, TARGET_GET_TASK_LOGS, req, &resp)) != 0)
		goto out_free;
	if (rc->output == OUTPUT_JSON) {
		remote_print_json(resp);
		goto out_free;
	}
	const json_t *containers = json_object_get(resp, "containers"), *c;
	size_t i, n = json_array_size(containers);
	if (!json_is_array(containers)) {
		remote_say(rc, "unexpected answer: containers is not a list");
		rc_ = CLI_EXIT_FAILURE;
		goto out_free;
	}
	json_array_foreach(containers, i, c) {
		const json_t *log = json_object_get(c, "log");
		const char *name = cell_str(c, "name");
		size_t len = json_string_length(log);
		if (n > 1) {
			fputs(i ? "\n==> " : "==> ", stdout);
			remote_put_clean(stdout, name ? name : "?");
			fputs(" <==\n", stdout);
		}
		fwrite(json_string_value(log) ? json_string_value(log) : "", 1, len, stdout);
		if (n > 1 && len && json_string_value(log)[len - 1] != '\n')
			fputc('\n', stdout);
		if (json_is_true(json_object_get(c, "truncated")))
			remote_say(rc, "%s: only the end of the log is shown", name ? name : "?");
	}
out_free:
	json_decref(req);
	json_decref(resp);
	return rc_;
}

/* ------------------------------------------------------------ the group */

static const struct remote_subcmd task_subs[] = {
	{"run", task_run,
	 OPTBIT(OPT_COUNT) | OPTBIT(OPT_GROUP) | OPTBIT(OPT_STARTED_BY) | OPTBIT(OPT_CLIENT_TOKEN) |
		 OPTBIT(OPT_CONTAINER) | OPTBIT(OPT_ENV),
	 1, 1, true, "TASKDEF"},
	{"stop", task_stop, OPTBIT(OPT_REASON), 1, 1, false, "TASK"},
	{"list", task_list,
	 OPTBIT(OPT_FAMILY) | OPTBIT(OPT_SERVICE_NAME) | OPTBIT(OPT_STARTED_BY) | OPTBIT(OPT_DESIRED_STATUS), 0, 0,
	 false, ""},
	{"describe", task_describe, 0, 1, SIZE_MAX, false, "TASK"},
	{"logs", task_logs, OPTBIT(OPT_CONTAINER) | OPTBIT(OPT_TAIL), 1, 1, false, "TASK"},
};

int cli_remote_task(int argc, char **argv)
{
	static const struct remote_group g = {"task", cli_remote_task_usage, task_subs, REMOTE_NELEMS(task_subs), NULL};
	return remote_run_group(&g, argc, argv);
}
