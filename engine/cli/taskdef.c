/*
 * taskdef.c — `tripline taskdef register|list|describe|delete`: task
 * definitions through the daemon's ECS API (RegisterTaskDefinition,
 * ListTaskDefinitions, DescribeTaskDefinition, DeleteTaskDefinitions).
 *
 * How it works: `register` sends a file (or stdin) as the request, as it
 * is, after checking that it is a JSON object of at most CLI_MAX_INPUT
 * bytes; `list` follows every page; `describe` asks for one definition.
 * A definition is printed as a table (DEFINITION, STATUS, CPU, MEMORY,
 * REGISTERED, ARN) followed by a table of its containers with their
 * commands quoted as a shell would need; with --output json, the daemon's
 * answer.
 *
 * What it promises: task-definition requests carry no "cluster" (ECS's
 * operations take none); an unreadable or invalid file is a usage error
 * (exit 2) found before anything is sent.
 */
#include "remote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "readfile.h"

const char cli_remote_taskdef_usage[] =
	"usage: tripline taskdef register FILE|-\n"
	"       tripline taskdef list [--family-prefix P] [--status ACTIVE|INACTIVE|ALL]\n"
	"       tripline taskdef describe TASKDEF\n"
	"       tripline taskdef delete TASKDEF...\n"
	"\n"
	"Task definitions through the daemon's ECS API.\n"
	"\n"
	"  register  RegisterTaskDefinition: FILE (or stdin for -) is the request, a\n"
	"            JSON object in ECS's shape ({\"family\", \"containerDefinitions\": […]});\n"
	"            prints the new revision.\n"
	"  list      ListTaskDefinitions (default status ACTIVE): FAMILY, REVISION, ARN.\n"
	"  describe  DescribeTaskDefinition: TASKDEF is a family (its latest ACTIVE\n"
	"            revision), family:revision or an ARN.\n"
	"  delete    DeleteTaskDefinitions: up to 10 INACTIVE revisions (family:revision\n"
	"            or ARN) become DELETE_IN_PROGRESS and are removed once no task or\n"
	"            service uses them; exit 1 when one could not be deleted.\n"
	"\n" REMOTE_COMMON_HELP;

int remote_describe_taskdef(const struct remote *rc, const char *taskdef, json_t **ret)
{
	json_t *req = json_pack("{s:s}", "taskDefinition", taskdef);
	int rc_;

	*ret = NULL;
	if (!req)
		return remote_nomem(rc);
	rc_ = remote_call(rc, ECS("DescribeTaskDefinition"), req, ret);
	json_decref(req);
	return rc_;
}

/* A command line as text: arguments that need it in single quotes. */
static void command_text(const json_t *argv, char *buf, size_t len)
{
	const json_t *v;
	size_t i, off = 0;

	buf[0] = '\0';
	json_array_foreach(argv, i, v) {
		const char *s = json_string_value(v);
		if (!s || off >= len)
			break;
		bool plain = *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
					    "-_./=:,+@%") == strlen(s);
		const char *q = plain ? "" : "'";
		int w = snprintf(buf + off, len - off, "%s%s%s%s", i ? " " : "", q, s, q);
		off += w > 0 ? (size_t)w : 0;
	}
}

/* Prints a {"taskDefinition": …} answer: the definition, then its
 * containers; or with --output json the answer. 0 or 3. */
static int print_taskdef(const struct remote *rc, const json_t *resp)
{
	static const char *const header[] = {"DEFINITION", "STATUS", "CPU", "MEMORY", "REGISTERED", "ARN"};
	static const char *const cheader[] = {"CONTAINER", "IMAGE", "CPU", "MEMORY", "ESSENTIAL", "COMMAND"};
	const json_t *td = json_object_get(resp, "taskDefinition"), *c;
	struct table t;
	char cpu[32], mem[32], when[32];
	size_t i;
	int rc_;

	if (rc->output == OUTPUT_JSON) {
		remote_print_json(resp);
		return 0;
	}
	if (!json_is_object(td)) {
		remote_say(rc, "unexpected answer: no taskDefinition");
		return CLI_EXIT_FAILURE;
	}
	const char *row[] = {cell_taskdef(cell_str(td, "taskDefinitionArn")), cell_str(td, "status"),
			     cell_str(td, "cpu") ? cell_str(td, "cpu") : cell_num(td, "cpu", cpu, sizeof(cpu)),
			     cell_str(td, "memory") ? cell_str(td, "memory") : cell_num(td, "memory", mem, sizeof(mem)),
			     cell_time(td, "registeredAt", when, sizeof(when)), cell_str(td, "taskDefinitionArn")};
	table_init(&t, 6, header);
	table_add(&t, row);
	if ((rc_ = table_flush(rc, &t)) != 0)
		return rc_;
	fputc('\n', stdout);
	table_init(&t, 6, cheader);
	json_array_foreach(json_object_get(td, "containerDefinitions"), i, c) {
		char ccpu[32], cmem[32], cmd[1024];
		command_text(json_object_get(c, "command"), cmd, sizeof(cmd));
		const json_t *ess = json_object_get(c, "essential");
		const char *crow[] = {cell_str(c, "name"), cell_str(c, "image"), cell_num(c, "cpu", ccpu, sizeof(ccpu)),
				      cell_num(c, "memory", cmem, sizeof(cmem)),
				      ess ? cell_bool(c, "essential") : "yes", cmd};
		table_add(&t, crow);
	}
	return table_flush(rc, &t);
}

static int taskdef_register(struct remote *rc, const struct remote_args *a)
{
	const char *path = a->pos[0];
	json_t *req = NULL, *resp = NULL;
	json_error_t je;
	char *text = NULL;
	size_t len;
	int rc_;

	int r = cli_read_input(path, &text, &len);
	if (r < 0) {
		remote_say(rc, "%s: %s", strcmp(path, "-") == 0 ? "stdin" : path,
			   r == -E2BIG ? "larger than " CLI_MAX_INPUT_TEXT : readfile_strerror(r));
		return r == -ENOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_BADINPUT;
	}
	req = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!req || !json_is_object(req)) {
		if (req)
			remote_say(rc, "%s: must be a JSON object (a RegisterTaskDefinition request)", path);
		else
			remote_say(rc, "%s: invalid JSON at line %d, column %d: %s", path, je.line, je.column, je.text);
		rc_ = CLI_EXIT_BADINPUT;
		goto out_free;
	}
	if ((rc_ = remote_call(rc, ECS("RegisterTaskDefinition"), req, &resp)) == 0)
		rc_ = print_taskdef(rc, resp);
out_free:
	free(text);
	json_decref(req);
	json_decref(resp);
	return rc_;
}

static int taskdef_list(struct remote *rc, const struct remote_args *a)
{
	static const char *const statuses[] = {"ACTIVE", "INACTIVE", "ALL"};
	static const char *const header[] = {"FAMILY", "REVISION", "ARN"};
	json_t *req = NULL, *arns = NULL;
	const json_t *v;
	struct table t;
	size_t i;
	int rc_;

	if ((rc_ = remote_opt_choice(rc, a, OPT_STATUS, statuses, REMOTE_NELEMS(statuses), NULL)) >= 0)
		return rc_;
	if (!(req = json_object()) || !remote_put_str(req, "familyPrefix", a->val[OPT_FAMILY_PREFIX]) ||
	    !remote_put_str(req, "status", a->val[OPT_STATUS])) {
		rc_ = remote_nomem(rc);
		goto out_free;
	}
	if ((rc_ = remote_call_all_pages(rc, ECS("ListTaskDefinitions"), req, "taskDefinitionArns", &arns)) != 0)
		goto out_free;
	if (rc->output == OUTPUT_JSON) {
		remote_print_json(arns);
		goto out_free;
	}
	table_init(&t, 3, header);
	json_array_foreach(json_object_get(arns, "taskDefinitionArns"), i, v) {
		const char *arn = json_string_value(v), *fr = cell_taskdef(arn);
		const char *colon = fr ? strrchr(fr, ':') : NULL;
		char family[256] = "";
		if (colon && (size_t)(colon - fr) < sizeof(family))
			snprintf(family, sizeof(family), "%.*s", (int)(colon - fr), fr);
		const char *row[] = {colon ? family : fr, colon ? colon + 1 : NULL, arn};
		table_add(&t, row);
	}
	rc_ = table_flush(rc, &t);
out_free:
	json_decref(req);
	json_decref(arns);
	return rc_;
}

static int taskdef_describe(struct remote *rc, const struct remote_args *a)
{
	json_t *resp = NULL;
	int rc_;

	if ((rc_ = remote_describe_taskdef(rc, a->pos[0], &resp)) == 0)
		rc_ = print_taskdef(rc, resp);
	json_decref(resp);
	return rc_;
}

/* DeleteTaskDefinitions: the deleted revisions as DEFINITION, STATUS, ARN,
 * then the failures (exit 1 when there are any). */
static int taskdef_delete(struct remote *rc, const struct remote_args *a)
{
	static const char *const header[] = {"DEFINITION", "STATUS", "ARN"};
	json_t *refs = remote_string_array(a->pos, a->npos), *req = NULL, *resp = NULL;
	const json_t *v, *failures, *deleted;
	struct table t;
	size_t i;
	int rc_;

	if (!refs || !(req = json_pack("{s:o}", "taskDefinitions", refs)))
		return remote_nomem(rc);
	if ((rc_ = remote_call(rc, ECS("DeleteTaskDefinitions"), req, &resp)) != 0)
		goto out_free;
	failures = json_object_get(resp, "failures");
	deleted = json_object_get(resp, "taskDefinitions");
	if (rc->output == OUTPUT_JSON) {
		remote_print_json(resp);
	} else {
		if (json_array_size(deleted)) {
			table_init(&t, 3, header);
			json_array_foreach(deleted, i, v) {
				const char *row[] = {cell_taskdef(cell_str(v, "taskDefinitionArn")), cell_str(v, "status"),
						     cell_str(v, "taskDefinitionArn")};
				table_add(&t, row);
			}
			rc_ = table_flush(rc, &t);
		}
		remote_print_failures(rc, failures, json_array_size(deleted) > 0, &rc_);
	}
	if (!rc_ && json_array_size(failures))
		rc_ = CLI_EXIT_NEGATIVE;
out_free:
	json_decref(req);
	json_decref(resp);
	return rc_;
}

static const struct remote_subcmd taskdef_subs[] = {
	{"register", taskdef_register, 0, 1, 1, false, "FILE (or - for stdin)"},
	{"list", taskdef_list, OPTBIT(OPT_FAMILY_PREFIX) | OPTBIT(OPT_STATUS), 0, 0, false, ""},
	{"describe", taskdef_describe, 0, 1, 1, false, "TASKDEF"},
	{"delete", taskdef_delete, 0, 1, 10, false, "TASKDEF (family:revision or ARN)"},
};

int cli_remote_taskdef(int argc, char **argv)
{
	static const struct remote_group g = {"taskdef", cli_remote_taskdef_usage, taskdef_subs,
					      REMOTE_NELEMS(taskdef_subs), NULL};
	return remote_run_group(&g, argc, argv);
}
