/*
 * remote.h — what the files of engine/cli/ share: the commands that talk to
 * a daemon's API (`tripline task`, `service`, `taskdef`). Not a public
 * interface; cli.h is the one cli.c sees.
 *
 * A command group (task.c, service.c, taskdef.c) is a table of subcommands
 * and a help text; remote.c parses its command line into struct remote_args,
 * makes the client and runs the subcommand with a struct remote; call.c
 * sends requests and follows pages and batches; table.c prints.
 *
 * Conventions: a function returning int returns 0 to go on or the exit code
 * (cli.h) with its message already on stderr, except where it says "-1 to go
 * on". Messages start "tripline GROUP SUB: ". Every pointer in struct
 * remote_args points into argv.
 */
#ifndef TRIPLINE_ENGINE_CLI_REMOTE_H
#define TRIPLINE_ENGINE_CLI_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "client.h"

#define REMOTE_DEFAULT_ENDPOINT "http://127.0.0.1:8088"
#define REMOTE_MAX_PAGES 1000          /* list pages followed through nextToken */
#define REMOTE_MAX_INT 2147483647LL    /* ECS's integers are 32-bit */
#define ECS(op) CLIENT_ECS_PREFIX op

/* The end of every group's help text. */
#define REMOTE_COMMON_HELP \
	"Common options (before or after the subcommand):\n" \
	"  --endpoint URL       the daemon's API; default $TRIPLINE_ENDPOINT, else the\n" \
	"                       listen address of --config, else " REMOTE_DEFAULT_ENDPOINT "\n" \
	"  --config FILE        the daemon's configuration file: the endpoint (listen),\n" \
	"                       the region and the credentials (its first auth key)\n" \
	"  --output table|json  aligned columns (default), or the daemon's answer as\n" \
	"                       indented JSON (list and describe: every page merged)\n" \
	"  --cluster NAME       the cluster, sent as \"cluster\" (default: the daemon's)\n" \
	"\n" \
	"Requests are signed (AWS SigV4, service \"ecs\") with $TRIPLINE_ACCESS_KEY_ID and\n" \
	"$TRIPLINE_SECRET_ACCESS_KEY, else $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY\n" \
	"(and $AWS_SESSION_TOKEN), else the first auth key of --config; with none of\n" \
	"them they go unsigned. Region: $AWS_REGION, else the config's, else \"local\".\n" \
	"\n" \
	"Exit codes: 0 ok; 1 not found, or failures in the answer (printed); 2 a usage\n" \
	"error or a request the daemon refused (4xx: its error type and message go to\n" \
	"stderr); 3 no answer (connection refused, timeout) or a server error (5xx).\n"

/* ------------------------------------------------------------ running a command (remote.c) */

/* Every option of every subcommand; opt_defs in remote.c names them. */
enum opt_id {
	OPT_ENDPOINT,
	OPT_CONFIG,
	OPT_OUTPUT,
	OPT_CLUSTER,
	OPT_COUNT,
	OPT_GROUP,
	OPT_STARTED_BY,
	OPT_CLIENT_TOKEN,
	OPT_CONTAINER,
	OPT_ENV,
	OPT_REASON,
	OPT_FAMILY,
	OPT_SERVICE_NAME,
	OPT_DESIRED_STATUS,
	OPT_TAIL,
	OPT_TASK_DEFINITION,
	OPT_DESIRED_COUNT,
	OPT_MIN_HEALTHY,
	OPT_MAX_PERCENT,
	OPT_CIRCUIT_BREAKER,
	OPT_ROLLBACK,
	OPT_GRACE,
	OPT_FORCE_NEW_DEPLOYMENT,
	OPT_FORCE,
	OPT_FAMILY_PREFIX,
	OPT_STATUS,
	OPT_SOURCE,
	OPT_DETAIL_TYPE,
	OPT_DETAIL,
	OPT_BUS,
	OPT_RESOURCES,
	OPT_NAME_PREFIX,
	OPT_RULE,
	OPT__N,
};

#define OPTBIT(o) ((uint64_t)1 << (o))
#define OPTS_COMMON (OPTBIT(OPT_ENDPOINT) | OPTBIT(OPT_CONFIG) | OPTBIT(OPT_OUTPUT) | OPTBIT(OPT_CLUSTER))

/* The parsed command line; every pointer points into argv. */
struct remote_args {
	const char *val[OPT__N];   /* the option's value, "" for a flag, NULL when absent */
	const char **env;          /* every value of the repeatable option (--env, --resources) */
	size_t nenv;
	char **pos;                /* positional arguments */
	size_t npos;
	char **cmd;                /* after "--" (task run) */
	size_t ncmd;
	bool dashdash;
};

enum remote_output {
	OUTPUT_TABLE,
	OUTPUT_JSON,
};

/* One command's run: its names, how to print, and the client. */
struct remote {
	const char *group;
	const char *sub;           /* NULL until the subcommand is known */
	enum remote_output output;
	const char *cluster;
	const char *service;       /* SigV4's service: "ecs", or the group's */
	struct client *client;
};

struct remote_subcmd {
	const char *name;       /* NULL: the group is the command (`tripline put-events`), its only row */
	int (*run)(struct remote *rc, const struct remote_args *a);
	uint64_t opts;          /* OPTBITs besides the common ones */
	size_t min_pos, max_pos;
	bool takes_command;     /* "-- COMMAND ARGS..." */
	const char *pos_name;   /* for the "... is needed" message */
};

/* A command group: `tripline NAME SUB ...`. */
struct remote_group {
	const char *name;
	const char *usage;
	const struct remote_subcmd *subs;
	size_t nsubs;
	const char *service;    /* SigV4's service; NULL: "ecs" */
};

#define REMOTE_NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Runs `tripline GROUP ...` (argv[0] is the group's name): parses the
 * command line, connects, runs the subcommand; returns the exit code. */
int remote_run_group(const struct remote_group *g, int argc, char **argv);

/* "tripline GROUP SUB: " and the message on stderr, then a line break. */
void remote_say(const struct remote *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The start of such a message, for one written piece by piece. */
void remote_say_prefix(const struct remote *rc);

/* A usage error found after parsing: the message and a pointer to the help; returns 2. */
int remote_usage(const struct remote *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "out of memory"; returns 3. */
int remote_nomem(const struct remote *rc);

/* A non-negative decimal integer of at most max, nothing else, into *ret. */
bool remote_parse_int(const char *s, long long max, long long *ret);

/* --NAME's value as an integer from min to max into *ret (untouched when
 * absent). Returns -1 to go on, or 2 after a usage error. */
int remote_opt_int(const struct remote *rc, const struct remote_args *a, enum opt_id id, long long min,
		   long long max, long long *ret);

/* --NAME's value as one of the n strings of choices: its index into *ret
 * (when ret is not NULL; untouched when the option is absent). Returns -1
 * to go on, or 2 after a usage error. */
int remote_opt_choice(const struct remote *rc, const struct remote_args *a, enum opt_id id,
		      const char *const *choices, size_t n, size_t *ret);

/* ------------------------------------------------------------ requests (call.c) */

/*
 * Sends req to target. 0 with *ret the answer (a JSON object, owned by the
 * caller), or the exit code with a message printed: 2 for a 4xx (the
 * daemon's error type and message), 3 for no answer, a 5xx or an answer
 * that is not a JSON object.
 */
int remote_call(const struct remote *rc, const char *target, const json_t *req, json_t **ret);

/* Calls a list operation page by page, following nextToken (at most
 * REMOTE_MAX_PAGES pages); *ret is {key: [every item]}. req is borrowed and
 * gets nextToken set. */
int remote_call_all_pages(const struct remote *rc, const char *target, json_t *req, const char *key,
			  json_t **ret);

/* A kind of ECS object that is listed by ARN and described in batches. */
struct remote_kind {
	const char *list_target;       /* ECS("ListTasks") */
	const char *arns_key;          /* "taskArns": the listing's items */
	const char *describe_target;   /* ECS("DescribeTasks") */
	const char *key;               /* "tasks": the ids sent, the objects answered */
	size_t batch;                  /* ids a describe call takes */
	/* prints the described objects; with details, everything known about them. 0 or 3 */
	int (*print)(const struct remote *rc, const json_t *items, bool details);
};

/* Lists with req (borrowed, gets nextToken set), then prints the table of
 * the described objects (one gone since is left out), or with --output
 * json the merged listing. */
int remote_list(const struct remote *rc, const struct remote_kind *k, json_t *req);

/* Describes the ids and prints them in detail, then the failures; 1 when
 * there are failures. With --output json, every batch merged. */
int remote_describe(const struct remote *rc, const struct remote_kind *k, char *const *ids, size_t n);

/* A request object with "cluster" when --cluster was given; NULL when out of memory. */
json_t *remote_request_new(const struct remote *rc);

/* Sets key to a new string (when v is not NULL) or integer; false when out of memory. */
bool remote_put_str(json_t *o, const char *key, const char *v);
bool remote_put_int(json_t *o, const char *key, long long v);

/* An array of the strings in v[0..n); NULL when out of memory. */
json_t *remote_string_array(char *const *v, size_t n);

/* ------------------------------------------------------------ task definitions (taskdef.c) */

/* DescribeTaskDefinition of taskdef (a family, family:revision or an ARN):
 * 0 with *ret the answer (owned by the caller), or the exit code. */
int remote_describe_taskdef(const struct remote *rc, const char *taskdef, json_t **ret);

/* ------------------------------------------------------------ output (table.c) */

/* A table of text cells printed in aligned columns under a header row. */
struct table {
	size_t ncols;
	size_t nrows;    /* the header included */
	size_t cap;      /* rows */
	char **cells;    /* nrows * ncols, owned */
	bool nomem;
};

#define TABLE_MAX_COLS 16

/* Starts a table of ncols (at most TABLE_MAX_COLS) columns with its header row. */
void table_init(struct table *t, size_t ncols, const char *const *header);

/* Adds a row of t->ncols cells (NULL or "" shows as "-"); control bytes become
 * spaces. On allocation failure the row is dropped and t->nomem set. */
void table_add(struct table *t, const char *const *row);

/* Prints and frees the table; 0, or 3 when a row could not be kept. */
int table_flush(const struct remote *rc, struct table *t);

/* Prints failures[] ({arn, reason, detail}), if there are any, after a blank
 * line when gap; sets *ret_rc to 3 when the table could not be printed. */
void remote_print_failures(const struct remote *rc, const json_t *failures, bool gap, int *ret_rc);

/* Prints j indented, then a line break. */
void remote_print_json(const json_t *j);

/* Writes text from a daemon: line breaks and tabs kept, other control bytes shown as '?'. */
void remote_put_clean(FILE *f, const char *s);

/* Cell text out of an answer's members; borrowed (from o, or written into
 * buf), or NULL when absent. A string; a number; a bool as "yes"/"no"; a
 * timestamp (epoch seconds, as ECS sends them) as UTC ISO 8601, a string
 * shown as it is. */
const char *cell_str(const json_t *o, const char *key);
const char *cell_num(const json_t *o, const char *key, char *buf, size_t len);
const char *cell_bool(const json_t *o, const char *key);
const char *cell_time(const json_t *o, const char *key, char *buf, size_t len);

/* What follows the last '/' of an ARN (a task id, a service name), or s itself. */
const char *cell_arn_tail(const char *s);

/* "family:revision" out of a task definition ARN, or s itself. */
const char *cell_taskdef(const char *s);

#endif
