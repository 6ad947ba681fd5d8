/*
 * events.c — `tripline put-events` and `tripline rules list|describe`:
 * EventBridge's operations of the daemon's API (PutEvents, ListRules,
 * DescribeRule, ListTargetsByRule), signed for the service "events".
 *
 * How it works: put-events sends one entry (--source, --detail-type,
 * --detail as JSON text or @FILE, optional --bus and --resources) and
 * prints the answer as the AWS CLI does (indented JSON); `rules list`
 * follows every NextToken page; `rules describe` asks for the rule and its
 * targets and prints both (a table each, or with --output json the
 * DescribeRule answer with a "Targets" member holding ListTargetsByRule's).
 *
 * What it promises: the exit codes of cli.h; put-events exits 0 when its
 * entry was accepted and 1 when the answer lists a failed entry, and a
 * --detail that is not a JSON object is a usage error (exit 2) found
 * before anything is sent.
 */
#include "remote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "readfile.h"

#define EVENTS(op) "AWSEvents." op
#define EVENTS_HELP_SIGNING \
	"These commands speak EventBridge's API: requests are signed for the service\n" \
	"\"events\"; --cluster is not used.\n\n"

const char cli_remote_put_events_usage[] =
	"usage: tripline put-events --source S --detail-type T --detail JSON|@FILE\n"
	"                           [--bus NAME] [--resources ARN [ARN...]]\n"
	"\n"
	"PutEvents: puts one event on a bus of the daemon (default \"default\") and\n"
	"prints the answer, {\"FailedEntryCount\", \"Entries\": [{\"EventId\"} or\n"
	"{\"ErrorCode\", \"ErrorMessage\"}]}. Exits 0 when the event was accepted\n"
	"(journalled and queued for the rules), 1 when its entry failed.\n"
	"\n"
	"  --source S           the event's source, e.g. com.example.orders\n"
	"  --detail-type T      its detail-type\n"
	"  --detail JSON|@FILE  its detail: a JSON object, or @FILE for a file's\n"
	"                       content (@- for stdin)\n"
	"  --bus NAME           the event bus (a name or an event bus ARN)\n"
	"  --resources ARN...   the event's resources (one or more ARNs)\n"
	"\n" EVENTS_HELP_SIGNING REMOTE_COMMON_HELP;

const char cli_remote_rules_usage[] =
	"usage: tripline rules list [--bus NAME] [--name-prefix P]\n"
	"       tripline rules describe NAME [--bus NAME]\n"
	"\n"
	"The daemon's rules (loaded from its rule files) through EventBridge's API.\n"
	"\n"
	"  list      ListRules of a bus (default \"default\"): NAME, STATE, BUS,\n"
	"            PATTERN OR SCHEDULE, DESCRIPTION.\n"
	"  describe  DescribeRule and ListTargetsByRule: the rule, then its targets\n"
	"            (ID, ARN, INPUT); exit 1 when there is no such rule.\n"
	"\n" EVENTS_HELP_SIGNING REMOTE_COMMON_HELP;

/* ------------------------------------------------------------ put-events */

/* The --detail text: JSON, or @FILE's content. 0 and *ret (malloc'd), or the exit code. */
static int read_detail(const struct remote *rc, const char *arg, char **ret)
{
	json_error_t je;
	json_t *j;
	size_t len;
	int r;

	if (arg[0] != '@') {
		*ret = strdup(arg);
		if (!*ret)
			return remote_nomem(rc);
	} else if ((r = cli_read_input(arg + 1, ret, &len)) < 0) {
		remote_say(rc, "--detail %s: %s", arg,
			   r == -E2BIG ? "larger than " CLI_MAX_INPUT_TEXT : readfile_strerror(r));
		return r == -ENOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_BADINPUT;
	}
	j = json_loads(*ret, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		if (j)
			remote_say(rc, "--detail must be a JSON object");
		else
			remote_say(rc, "--detail: invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
		json_decref(j);
		free(*ret);
		*ret = NULL;
		return CLI_EXIT_BADINPUT;
	}
	json_decref(j);
	return 0;
}

static int put_events(struct remote *rc, const struct remote_args *a)
{
	json_t *entry = NULL, *req = NULL, *resp = NULL, *res;
	char *detail = NULL;
	int rc_;

	if (!a->val[OPT_SOURCE] || !a->val[OPT_DETAIL_TYPE] || !a->val[OPT_DETAIL])
		return remote_usage(rc, "--source, --detail-type and --detail are needed");
	if (a->npos && !a->nenv)
		return remote_usage(rc, "unexpected argument '%s'", a->pos[0]);
	if ((rc_ = read_detail(rc, a->val[OPT_DETAIL], &detail)) != 0)
		return rc_;
	/* --resources A B: the first value, then the words after it */
	res = json_array();
	for (size_t i = 0; res && i < a->nenv; i++)
		if (json_array_append_new(res, json_string(a->env[i])) < 0)
			res = NULL;
	for (size_t i = 0; res && i < a->npos; i++)
		if (json_array_append_new(res, json_string(a->pos[i])) < 0)
			res = NULL;
	entry = json_pack("{s:s,s:s,s:s}", "Source", a->val[OPT_SOURCE], "DetailType", a->val[OPT_DETAIL_TYPE],
			  "Detail", detail);
	free(detail);
	if (!entry || !res || (a->nenv && json_object_set(entry, "Resources", res) < 0) ||
	    (a->val[OPT_BUS] && !remote_put_str(entry, "EventBusName", a->val[OPT_BUS])) ||
	    !(req = json_pack("{s:[O]}", "Entries", entry))) {
		rc_ = remote_nomem(rc);
		goto out_free;
	}
	if ((rc_ = remote_call(rc, EVENTS("PutEvents"), req, &resp)) != 0)
		goto out_free;
	remote_print_json(resp);
	if (!json_is_integer(json_object_get(resp, "FailedEntryCount"))) {
		remote_say(rc, "unexpected answer: no FailedEntryCount");
		rc_ = CLI_EXIT_FAILURE;
	} else if (json_integer_value(json_object_get(resp, "FailedEntryCount")) > 0) {
		rc_ = CLI_EXIT_NEGATIVE;
	}
out_free:
	json_decref(res);
	json_decref(entry);
	json_decref(req);
	json_decref(resp);
	return rc_;
}

static const struct remote_subcmd put_events_subs[] = {
	{NULL, put_events,
	 OPTBIT(OPT_SOURCE) | OPTBIT(OPT_DETAIL_TYPE) | OPTBIT(OPT_DETAIL) | OPTBIT(OPT_BUS) | OPTBIT(OPT_RESOURCES),
	 0, SIZE_MAX, false, ""},
};

int cli_remote_put_events(int argc, char **argv)
{
	static const struct remote_group g = {"put-events", cli_remote_put_events_usage, put_events_subs,
					      REMOTE_NELEMS(put_events_subs), "events"};
	return remote_run_group(&g, argc, argv);
}

/* ------------------------------------------------------------ rules */

/* A request with EventBusName when --bus was given; NULL when out of memory. */
static json_t *bus_request(const struct remote_args *a)
{
	json_t *req = json_object();

	if (req && a->val[OPT_BUS] && !remote_put_str(req, "EventBusName", a->val[OPT_BUS])) {
		json_decref(req);
		return NULL;
	}
	return req;
}

/* Calls a listing of EventBridge's, following NextToken; *ret is {key: [every item]}. */
static int call_all_pages(const struct remote *rc, const char *target, json_t *req, const char *key, json_t **ret)
{
	json_t *all = json_array(), *resp = NULL;
	int rc_ = 0, pages = 0;

	*ret = NULL;
	if (!all)
		return remote_nomem(rc);
	for (;;) {
		const char *next;

		if ((rc_ = remote_call(rc, target, req, &resp)) != 0)
			break;
		if (json_array_extend(all, json_object_get(resp, key)) < 0 && json_object_get(resp, key)) {
			rc_ = remote_nomem(rc);
			break;
		}
		next = json_string_value(json_object_get(resp, "NextToken"));
		if (!next)
			break;
		if (++pages == REMOTE_MAX_PAGES) {
			remote_say(rc, "more than %d pages: the listing is cut short", REMOTE_MAX_PAGES);
			break;
		}
		if (!remote_put_str(req, "NextToken", next)) {
			rc_ = remote_nomem(rc);
			break;
		}
		json_decref(resp);
		resp = NULL;
	}
	json_decref(resp);
	if (rc_ == 0 && !(*ret = json_pack("{s:O}", key, all)))
		rc_ = remote_nomem(rc);
	json_decref(all);
	return rc_;
}

static void add_rule_row(struct table *t, const json_t *r)
{
	const char *what = cell_str(r, "EventPattern") ? cell_str(r, "EventPattern") : cell_str(r, "ScheduleExpression");
	const char *row[] = {cell_str(r, "Name"), cell_str(r, "State"), cell_str(r, "EventBusName"), what,
			     cell_str(r, "Description")};

	table_add(t, row);
}

static const char *const rule_header[] = {"NAME", "STATE", "BUS", "PATTERN OR SCHEDULE", "DESCRIPTION"};

static int rules_list(struct remote *rc, const struct remote_args *a)
{
	json_t *req = bus_request(a), *all = NULL;
	const json_t *r;
	struct table t;
	size_t i;
	int rc_;

	if (!req || (a->val[OPT_NAME_PREFIX] && !remote_put_str(req, "NamePrefix", a->val[OPT_NAME_PREFIX]))) {
		json_decref(req);
		return remote_nomem(rc);
	}
	rc_ = call_all_pages(rc, EVENTS("ListRules"), req, "Rules", &all);
	json_decref(req);
	if (rc_ != 0)
		return rc_;
	if (rc->output == OUTPUT_JSON) {
		remote_print_json(all);
	} else {
		table_init(&t, 5, rule_header);
		json_array_foreach(json_object_get(all, "Rules"), i, r)
			add_rule_row(&t, r);
		rc_ = table_flush(rc, &t);
	}
	json_decref(all);
	return rc_;
}

/* The input a target gets, for the table. */
static const char *target_input(const json_t *t)
{
	if (json_object_get(t, "Input"))
		return "Input";
	if (json_object_get(t, "InputPath"))
		return cell_str(t, "InputPath");
	if (json_object_get(t, "InputTransformer"))
		return "InputTransformer";
	return "the event";
}

static int rules_describe(struct remote *rc, const struct remote_args *a)
{
	static const char *const theader[] = {"ID", "ARN", "INPUT"};
	json_t *req = bus_request(a), *rule = NULL, *targets = NULL;
	const json_t *t;
	struct table tab;
	size_t i;
	int rc_;

	if (!req || !remote_put_str(req, "Name", a->pos[0])) {
		json_decref(req);
		return remote_nomem(rc);
	}
	rc_ = remote_call(rc, EVENTS("DescribeRule"), req, &rule);
	json_object_del(req, "Name");
	if (rc_ == CLI_EXIT_BADINPUT) {
		rc_ = CLI_EXIT_NEGATIVE; /* the message (ResourceNotFoundException) is printed */
		goto out_free;
	}
	if (rc_ != 0 || !remote_put_str(req, "Rule", a->pos[0]) ||
	    (rc_ = call_all_pages(rc, EVENTS("ListTargetsByRule"), req, "Targets", &targets)) != 0) {
		rc_ = rc_ ? rc_ : remote_nomem(rc);
		goto out_free;
	}
	if (rc->output == OUTPUT_JSON) {
		if (json_object_set(rule, "Targets", json_object_get(targets, "Targets")) < 0) {
			rc_ = remote_nomem(rc);
			goto out_free;
		}
		remote_print_json(rule);
		goto out_free;
	}
	table_init(&tab, 5, rule_header);
	add_rule_row(&tab, rule);
	if ((rc_ = table_flush(rc, &tab)) != 0)
		goto out_free;
	fputc('\n', stdout);
	table_init(&tab, 3, theader);
	json_array_foreach(json_object_get(targets, "Targets"), i, t) {
		const char *row[] = {cell_str(t, "Id"), cell_str(t, "Arn"), target_input(t)};

		table_add(&tab, row);
	}
	rc_ = table_flush(rc, &tab);
out_free:
	json_decref(req);
	json_decref(rule);
	json_decref(targets);
	return rc_;
}

static const struct remote_subcmd rules_subs[] = {
	{"list", rules_list, OPTBIT(OPT_BUS) | OPTBIT(OPT_NAME_PREFIX), 0, 0, false, ""},
	{"describe", rules_describe, OPTBIT(OPT_BUS), 1, 1, false, "NAME"},
};

int cli_remote_rules(int argc, char **argv)
{
	static const struct remote_group g = {"rules", cli_remote_rules_usage, rules_subs, REMOTE_NELEMS(rules_subs),
					      "events"};
	return remote_run_group(&g, argc, argv);
}
