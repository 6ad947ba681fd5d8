/*
 * cli_remote.c — the commands that talk to a daemon's API: `tripline task`,
 * `tripline service` and `tripline taskdef`, each with subcommands, over the
 * client in client.c (ECS's AWS JSON 1.1 operations, plus tripline's own
 * Tripline.GetTaskLogs).
 *
 * How a command runs: the arguments are parsed (the common options
 * --endpoint, --config, --output, --cluster may come before or after the
 * subcommand; "--" ends the options, and for `task run` starts the command);
 * the endpoint, credentials and region are worked out (precedence in the help
 * text below and in engine/README.md, "CLI over the API"); the request is
 * built in ECS's shape and sent; the answer is printed as a table of aligned
 * columns or, with --output json, as the daemon's JSON (indented; list
 * commands merge every page, describe commands every batch).
 *
 * Exit codes (cli.h): 0 ok; 1 the answer lists failures (a task or service
 * not found, a task that could not be placed); 2 a usage error, bad input or
 * a request the daemon refused with a 4xx (its error type and message go to
 * stderr); 3 no answer (connection refused, timeout), a 5xx or an answer that
 * is not what ECS would send. Secrets are never printed. Table cells are
 * stripped of control characters, so a daemon's answer cannot drive the
 * terminal; logs are printed as they are, like `docker logs` does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "client.h"
#include "config.h"
#include "errlist.h"

#define REMOTE_DEFAULT_ENDPOINT "http://127.0.0.1:8088"
#define REMOTE_MAX_PAGES 1000          /* list pages followed through nextToken */
#define REMOTE_DESCRIBE_TASKS_BATCH 100   /* ECS's DescribeTasks limit */
#define REMOTE_DESCRIBE_SERVICES_BATCH 10 /* ECS's DescribeServices limit */
#define REMOTE_EVENTS_SHOWN 5          /* latest service events in a table */
#define REMOTE_MAX_INT 2147483647LL    /* ECS's integers are 32-bit */
#define ECS(op) CLIENT_ECS_PREFIX op
#define TARGET_GET_TASK_LOGS "Tripline.GetTaskLogs"

static const char prog[] = "tripline";

/* ------------------------------------------------------------ help texts */

#define COMMON_HELP \
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
	"\n" COMMON_HELP;

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
	"\n" COMMON_HELP;

const char cli_remote_taskdef_usage[] =
	"usage: tripline taskdef register FILE|-\n"
	"       tripline taskdef list [--family-prefix P] [--status ACTIVE|INACTIVE|ALL]\n"
	"       tripline taskdef describe TASKDEF\n"
	"\n"
	"Task definitions through the daemon's ECS API.\n"
	"\n"
	"  register  RegisterTaskDefinition: FILE (or stdin for -) is the request, a\n"
	"            JSON object in ECS's shape ({\"family\", \"containerDefinitions\": […]});\n"
	"            prints the new revision.\n"
	"  list      ListTaskDefinitions (default status ACTIVE): FAMILY, REVISION, ARN.\n"
	"  describe  DescribeTaskDefinition: TASKDEF is a family (its latest ACTIVE\n"
	"            revision), family:revision or an ARN.\n"
	"\n" COMMON_HELP;

/* ------------------------------------------------------------ options */

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
	OPT__N,
};

struct opt_def {
	const char *name;   /* without the leading "--" */
	bool has_arg;
	bool repeat;        /* may be given more than once: every value is kept */
};

static const struct opt_def opt_defs[OPT__N] = {
	[OPT_ENDPOINT] = {"endpoint", true, false},
	[OPT_CONFIG] = {"config", true, false},
	[OPT_OUTPUT] = {"output", true, false},
	[OPT_CLUSTER] = {"cluster", true, false},
	[OPT_COUNT] = {"count", true, false},
	[OPT_GROUP] = {"group", true, false},
	[OPT_STARTED_BY] = {"started-by", true, false},
	[OPT_CLIENT_TOKEN] = {"client-token", true, false},
	[OPT_CONTAINER] = {"container", true, false},
	[OPT_ENV] = {"env", true, true},
	[OPT_REASON] = {"reason", true, false},
	[OPT_FAMILY] = {"family", true, false},
	[OPT_SERVICE_NAME] = {"service-name", true, false},
	[OPT_DESIRED_STATUS] = {"desired-status", true, false},
	[OPT_TAIL] = {"tail", true, false},
	[OPT_TASK_DEFINITION] = {"task-definition", true, false},
	[OPT_DESIRED_COUNT] = {"desired-count", true, false},
	[OPT_MIN_HEALTHY] = {"minimum-healthy-percent", true, false},
	[OPT_MAX_PERCENT] = {"maximum-percent", true, false},
	[OPT_CIRCUIT_BREAKER] = {"circuit-breaker", false, false},
	[OPT_ROLLBACK] = {"rollback", false, false},
	[OPT_GRACE] = {"health-check-grace-period", true, false},
	[OPT_FORCE_NEW_DEPLOYMENT] = {"force-new-deployment", false, false},
	[OPT_FORCE] = {"force", false, false},
	[OPT_FAMILY_PREFIX] = {"family-prefix", true, false},
	[OPT_STATUS] = {"status", true, false},
};

#define OPTBIT(o) ((uint32_t)1 << (o))
#define OPTS_COMMON (OPTBIT(OPT_ENDPOINT) | OPTBIT(OPT_CONFIG) | OPTBIT(OPT_OUTPUT) | OPTBIT(OPT_CLUSTER))
#define OPTS_DEPLOYMENT (OPTBIT(OPT_MIN_HEALTHY) | OPTBIT(OPT_MAX_PERCENT) | OPTBIT(OPT_CIRCUIT_BREAKER) | \
			 OPTBIT(OPT_ROLLBACK) | OPTBIT(OPT_GRACE))

/* The parsed command line; every pointer points into argv. */
struct args {
	const char *val[OPT__N];   /* the option's value, "" for a flag, NULL when absent */
	const char **env;          /* every --env value */
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
	const char *sub;
	enum remote_output output;
	const char *cluster;
	struct client *client;
};

struct subcmd {
	const char *name;
	int (*run)(struct remote *rc, const struct args *a);
	uint32_t opts;          /* besides the common ones */
	size_t min_pos, max_pos;
	bool takes_command;     /* "-- COMMAND ARGS..." */
	const char *pos_name;   /* for "missing ..." messages */
};

struct group {
	const char *name;
	const char *usage;
	const struct subcmd *subs;
	size_t nsubs;
};

static int usage_error(const struct group *g, const char *sub, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int usage_error(const struct group *g, const char *sub, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s %s%s%s: ", prog, g->name, sub ? " " : "", sub ? sub : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nrun 'tripline help %s' for the options\n", g->name);
	return CLI_EXIT_BADINPUT;
}

static bool is_help(const char *t)
{
	return strcmp(t, "--help") == 0 || strcmp(t, "-h") == 0;
}

/* The option named by t ("--name" or "--name=value") among allowed, or -1. */
static int find_opt(const char *t, uint32_t allowed)
{
	const char *name = t + 2, *eq = strchr(name, '=');
	size_t n = eq ? (size_t)(eq - name) : strlen(name);

	for (int i = 0; i < OPT__N; i++)
		if ((allowed & OPTBIT(i)) && strlen(opt_defs[i].name) == n &&
		    memcmp(opt_defs[i].name, name, n) == 0)
			return i;
	return -1;
}

/* Ends parse_args() with an exit code. */
static const struct subcmd *parse_stop(int *ret_exit, int code)
{
	*ret_exit = code;
	return NULL;
}

/*
 * Parses argv (argv[0] is the group's name) into *a and returns the
 * subcommand; or returns NULL with the exit code in *ret_exit (0 after
 * --help, 2 after a usage error, with the message printed).
 */
static const struct subcmd *parse_args(const struct group *g, int argc, char **argv, struct args *a,
				       int *ret_exit)
{
	const struct subcmd *sub = NULL;
	int sub_at = 0;

	/* the subcommand: the first word that is neither a common option nor its value */
	for (int i = 1; i < argc; i++) {
		const char *t = argv[i];
		if (strcmp(t, "--") == 0)
			break;
		if (is_help(t)) {
			fputs(g->usage, stdout);
			return parse_stop(ret_exit, 0);
		}
		if (t[0] == '-' && t[1]) {
			int id = t[1] == '-' ? find_opt(t, OPTS_COMMON) : -1;
			if (id < 0)
				return parse_stop(ret_exit,
						  usage_error(g, NULL, "unknown option '%s' before the subcommand", t));
			if (opt_defs[id].has_arg && !strchr(t, '='))
				i++;
			continue;
		}
		sub_at = i;
		break;
	}
	if (!sub_at) {
		char names[256];
		size_t off = 0;
		for (size_t k = 0; k < g->nsubs && off < sizeof(names); k++) {
			int w = snprintf(names + off, sizeof(names) - off, "%s%s", k ? ", " : "", g->subs[k].name);
			off += w > 0 ? (size_t)w : 0;
		}
		return parse_stop(ret_exit, usage_error(g, NULL, "a subcommand is needed: %s", names));
	}
	for (size_t k = 0; k < g->nsubs; k++)
		if (strcmp(g->subs[k].name, argv[sub_at]) == 0)
			sub = &g->subs[k];
	if (!sub)
		return parse_stop(ret_exit, usage_error(g, NULL, "unknown subcommand '%s'", argv[sub_at]));

	uint32_t allowed = OPTS_COMMON | sub->opts;
	for (int i = 1; i < argc; i++) {
		const char *t = argv[i];
		if (i == sub_at)
			continue;
		if (strcmp(t, "--") == 0) {
			if (sub->takes_command) {
				a->dashdash = true;
				a->cmd = argv + i + 1;
				a->ncmd = (size_t)(argc - i - 1);
			} else {
				for (int k = i + 1; k < argc; k++)
					a->pos[a->npos++] = argv[k];
			}
			break;
		}
		if (is_help(t)) {
			fputs(g->usage, stdout);
			return parse_stop(ret_exit, 0);
		}
		if (t[0] != '-' || !t[1]) {
			a->pos[a->npos++] = argv[i];
			continue;
		}
		int id = t[1] == '-' ? find_opt(t, allowed) : -1;
		if (id < 0)
			return parse_stop(ret_exit, usage_error(g, sub->name, "unknown option '%s'", t));
		const struct opt_def *d = &opt_defs[id];
		const char *eq = strchr(t, '='), *v;
		if (d->has_arg) {
			if (eq)
				v = eq + 1;
			else if (i + 1 < argc)
				v = argv[++i];
			else
				return parse_stop(ret_exit, usage_error(g, sub->name, "--%s needs a value", d->name));
		} else {
			if (eq)
				return parse_stop(ret_exit, usage_error(g, sub->name, "--%s takes no value", d->name));
			v = "";
		}
		if (d->repeat) {
			a->env[a->nenv++] = v;
		} else {
			if (a->val[id])
				return parse_stop(ret_exit, usage_error(g, sub->name, "--%s is given twice", d->name));
			a->val[id] = v;
		}
	}
	if (a->npos < sub->min_pos)
		return parse_stop(ret_exit, usage_error(g, sub->name, "%s is needed", sub->pos_name));
	if (a->npos > sub->max_pos)
		return parse_stop(ret_exit,
				  usage_error(g, sub->name, "unexpected argument '%s'", a->pos[sub->max_pos]));
	if (a->dashdash && !a->ncmd)
		return parse_stop(ret_exit, usage_error(g, sub->name, "a command is needed after '--'"));
	return sub;
}

/* A non-negative integer of at most max, in decimal, nothing else. */
static bool parse_int(const char *s, long long max, long long *ret)
{
	long long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (*s - '0');
		if (v > max)
			return false;
	}
	*ret = v;
	return true;
}

static int remote_usage(const struct remote *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A usage error found after parsing: the message, a pointer to the help; returns 2. */
static int remote_usage(const struct remote *rc, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s %s %s: ", prog, rc->group, rc->sub);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nrun 'tripline help %s' for the options\n", rc->group);
	return CLI_EXIT_BADINPUT;
}

/* --NAME's value as an integer from min to max into *ret (untouched when absent).
 * Returns -1 to go on, or 2 after a usage error. */
static int opt_int(const struct remote *rc, const struct args *a, enum opt_id id, long long min, long long max,
		   long long *ret)
{
	const char *v = a->val[id];
	long long n;

	if (!v)
		return -1;
	if (!parse_int(v, max, &n) || n < min)
		return remote_usage(rc, "--%s must be a whole number from %lld to %lld, not '%s'",
				    opt_defs[id].name, min, max, v);
	*ret = n;
	return -1;
}

/* ------------------------------------------------------------ output */

static void say(const struct remote *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(const struct remote *rc, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s %s %s: ", prog, rc->group, rc->sub);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Writes text from a daemon: line breaks and tabs kept, other control bytes shown as '?'. */
static void put_clean(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		fputc((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : c, f);
	}
}

static int out_of_memory(const struct remote *rc)
{
	say(rc, "out of memory");
	return CLI_EXIT_FAILURE;
}

static void print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
}

/* A table of text cells printed in aligned columns under a header row. */
struct table {
	size_t ncols;
	size_t nrows;    /* the header included */
	size_t cap;      /* rows */
	char **cells;    /* nrows * ncols, owned */
	bool nomem;
};

/* Adds a row of t->ncols cells (NULL or "" shows as "-"); control bytes become spaces.
 * On allocation failure the row is dropped and t->nomem set. */
static void table_add(struct table *t, const char *const *row)
{
	if (t->nomem)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
		if (!c) {
			t->nomem = true;
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	char **dst = t->cells + t->nrows * t->ncols;
	for (size_t i = 0; i < t->ncols; i++) {
		const char *v = row[i] && row[i][0] ? row[i] : "-";
		char *s = strdup(v);
		if (!s) {
			for (size_t k = 0; k < i; k++)
				free(dst[k]);
			t->nomem = true;
			return;
		}
		for (char *p = s; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		dst[i] = s;
	}
	t->nrows++;
}

static void table_init(struct table *t, size_t ncols, const char *const *header)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	table_add(t, header);
}

/* Characters on screen, counting a UTF-8 sequence as one. */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* Prints and frees the table; 0, or 3 when a row could not be kept. */
static int table_flush(const struct remote *rc, struct table *t)
{
	size_t width[16] = {0};
	int rc_ = 0;

	if (t->nomem || t->ncols > sizeof(width) / sizeof(width[0]))
		rc_ = out_of_memory(rc);
	for (size_t r = 0; !rc_ && r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t w = text_width(t->cells[r * t->ncols + c]);
			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = 0; !rc_ && r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			fputs(s, stdout);
			if (c + 1 < t->ncols)
				for (size_t pad = text_width(s); pad < width[c] + 2; pad++)
					fputc(' ', stdout);
		}
		fputc('\n', stdout);
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
	return rc_;
}

/* A string member, or NULL. */
static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A number member as text into buf, or NULL when absent or not a number. */
static const char *jnum(const json_t *o, const char *key, char *buf, size_t len)
{
	const json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%g", json_real_value(v));
	else
		return NULL;
	return buf;
}

/* A bool member as "yes"/"no", or NULL. */
static const char *jbool(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_boolean(v) ? (json_is_true(v) ? "yes" : "no") : NULL;
}

/* A timestamp member (epoch seconds, as ECS sends them) as UTC ISO 8601 into
 * buf; a string is shown as it is; NULL when absent. */
static const char *jtime(const json_t *o, const char *key, char *buf, size_t len)
{
	const json_t *v = json_object_get(o, key);
	struct tm tm;
	double d;

	if (json_is_string(v))
		return json_string_value(v);
	if (!json_is_number(v))
		return NULL;
	d = json_number_value(v);
	if (!(d >= 0 && d < 253402300800.0))   /* up to the year 9999 */
		return NULL;
	time_t t = (time_t)d;
	if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return NULL;
	return buf;
}

/* What follows the last '/' of an ARN (a task id, a service name), or s itself. */
static const char *arn_tail(const char *s)
{
	const char *slash = s ? strrchr(s, '/') : NULL;
	return slash ? slash + 1 : s;
}

/* "family:revision" out of a task definition ARN, or s itself. */
static const char *taskdef_short(const char *s)
{
	const char *p = s ? strstr(s, ":task-definition/") : NULL;
	return p ? p + strlen(":task-definition/") : s;
}

/* Prints failures[] ({arn, reason, detail}), if there are any, after a blank
 * line when gap; sets *ret_rc to 3 when the table could not be printed. */
static void print_failures(const struct remote *rc, const json_t *failures, bool gap, int *ret_rc)
{
	static const char *const header[] = {"FAILED", "REASON", "DETAIL"};
	struct table t;
	size_t n = json_array_size(failures);
	const json_t *f;
	size_t i;

	if (!n)
		return;
	if (gap)
		fputc('\n', stdout);
	table_init(&t, 3, header);
	json_array_foreach(failures, i, f) {
		const char *row[] = {jstr(f, "arn"), jstr(f, "reason"), jstr(f, "detail")};
		table_add(&t, row);
	}
	if (table_flush(rc, &t))
		*ret_rc = CLI_EXIT_FAILURE;
}

/* ------------------------------------------------------------ the connection */

/* Reads an environment variable; empty counts as unset. */
static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* Picks an access key pair from the environment: 0 (maybe none found) or 2. */
static int env_key_pair(const struct remote *rc, const char *id_var, const char *secret_var,
			const char **ret_id, const char **ret_secret)
{
	const char *id = env(id_var), *secret = env(secret_var);

	if (!id != !secret) {
		say(rc, "$%s is set but $%s is not: set both or neither", id ? id_var : secret_var,
		    id ? secret_var : id_var);
		return CLI_EXIT_BADINPUT;
	}
	*ret_id = id;
	*ret_secret = secret;
	return 0;
}

/* The endpoint of a daemon's listen address: a wildcard address becomes loopback. */
static char *endpoint_of_listen(const struct tripline_config *cfg)
{
	const char *host = cfg->listen_host;
	char *s = NULL;

	if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0')
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	bool v6 = strchr(host, ':') != NULL;
	if (asprintf(&s, "http://%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", (unsigned)cfg->listen_port) < 0)
		return NULL;
	return s;
}

/* Works out the endpoint, credentials and region (see the help text) and
 * makes rc->client. 0, or the exit code with a message printed. */
static int remote_connect(struct remote *rc, const struct args *a)
{
	struct tripline_config *cfg = NULL;
	struct errlist errs = ERRLIST_INIT;
	struct client_options co;
	char *cfg_endpoint = NULL, *cfg_secret = NULL;
	char why[512];
	int rc_ = 0;

	memset(&co, 0, sizeof(co));
	if (a->val[OPT_CONFIG]) {
		int r = config_load_file(a->val[OPT_CONFIG], &cfg, &errs);
		if (r < 0) {
			for (size_t i = 0; i < errs.n; i++)
				fprintf(stderr, "%s\n", errs.msgs[i]);
			if (!errs.n)
				say(rc, "%s: %s", a->val[OPT_CONFIG], strerror(-r));
			rc_ = r == -ENOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_BADINPUT;
			goto out_free;
		}
	}

	co.endpoint = a->val[OPT_ENDPOINT] ? a->val[OPT_ENDPOINT] : env("TRIPLINE_ENDPOINT");
	if (!co.endpoint && cfg) {
		if (!(cfg_endpoint = endpoint_of_listen(cfg))) {
			rc_ = out_of_memory(rc);
			goto out_free;
		}
		co.endpoint = cfg_endpoint;
	}
	if (!co.endpoint)
		co.endpoint = REMOTE_DEFAULT_ENDPOINT;

	if ((rc_ = env_key_pair(rc, "TRIPLINE_ACCESS_KEY_ID", "TRIPLINE_SECRET_ACCESS_KEY", &co.access_key_id,
				&co.secret_access_key)) != 0)
		goto out_free;
	if (!co.access_key_id) {
		if ((rc_ = env_key_pair(rc, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", &co.access_key_id,
					&co.secret_access_key)) != 0)
			goto out_free;
		if (co.access_key_id)
			co.session_token = env("AWS_SESSION_TOKEN");
	}
	if (!co.access_key_id && cfg && cfg->n_auth_keys) {
		const struct config_auth_key *k = &cfg->auth_keys[0];
		int r = config_resolve_secret(k->secret_ref, &cfg_secret, why, sizeof(why));
		if (r < 0) {
			say(rc, "%s: auth key %s: %s", a->val[OPT_CONFIG], k->access_key_id, why);
			rc_ = r == -ENOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_BADINPUT;
			goto out_free;
		}
		co.access_key_id = k->access_key_id;
		co.secret_access_key = cfg_secret;
	}
	co.region = env("AWS_REGION");
	if (!co.region)
		co.region = cfg ? cfg->region : "local";
	co.service = "ecs";

	int r = client_new(&co, &rc->client, why, sizeof(why));
	if (r < 0) {
		say(rc, "%s", why);
		rc_ = r == -EINVAL ? CLI_EXIT_BADINPUT : CLI_EXIT_FAILURE;
	}
out_free:
	if (cfg_secret) {
		explicit_bzero(cfg_secret, strlen(cfg_secret));
		free(cfg_secret);
	}
	free(cfg_endpoint);
	config_free(cfg);
	errlist_clear(&errs);
	return rc_;
}

/*
 * Sends req to target. 0 with *ret the answer (a JSON object, owned by the
 * caller), or the exit code with a message printed: 2 for a 4xx (the
 * daemon's error type and message), 3 for no answer, a 5xx or an answer
 * that is not a JSON object.
 */
static int call(const struct remote *rc, const char *target, const json_t *req, json_t **ret)
{
	struct client_reply rep;
	char err[640];

	*ret = NULL;
	int r = client_call(rc->client, target, req, &rep, err, sizeof(err));
	if (r < 0) {
		say(rc, "%s", err);
		if (r == -ECONNREFUSED || r == -EHOSTUNREACH)
			fprintf(stderr, "%s: is `tripline serve` running there? --endpoint, $TRIPLINE_ENDPOINT "
					"or --config name the daemon\n", prog);
		return CLI_EXIT_FAILURE;
	}
	if (rep.status >= 200 && rep.status < 300 && json_is_object(rep.body)) {
		*ret = rep.body;
		rep.body = NULL;
		client_reply_clear(&rep);
		return 0;
	}

	const char *type = client_error_type(&rep), *msg = client_error_message(&rep);
	int code = rep.status >= 400 && rep.status < 500 ? CLI_EXIT_BADINPUT : CLI_EXIT_FAILURE;
	fprintf(stderr, "%s %s %s: ", prog, rc->group, rc->sub);
	if (rep.status >= 500)
		fprintf(stderr, "server error (HTTP %ld) from %s: ", rep.status, client_endpoint(rc->client));
	else if (code == CLI_EXIT_FAILURE)
		fprintf(stderr, "unexpected answer (HTTP %ld) from %s: ", rep.status, client_endpoint(rc->client));
	if (type) {
		put_clean(stderr, type);
		if (msg) {
			fputs(": ", stderr);
			put_clean(stderr, msg);
		}
	} else {
		if (code == CLI_EXIT_BADINPUT)
			fprintf(stderr, "HTTP %ld from %s: ", rep.status, client_endpoint(rc->client));
		fputs(rep.text ? rep.text : "the answer is not a JSON object", stderr);
	}
	fputc('\n', stderr);
	client_reply_clear(&rep);
	return code;
}

/* Sets key to a new string (when v is not NULL); false when out of memory. */
static bool put_str(json_t *o, const char *key, const char *v)
{
	return !v || json_object_set_new(o, key, json_string(v)) == 0;
}

static bool put_int(json_t *o, const char *key, long long v)
{
	return json_object_set_new(o, key, json_integer((json_int_t)v)) == 0;
}

/* A request object with "cluster" when --cluster was given; NULL when out of memory. */
static json_t *request_new(const struct remote *rc, bool with_cluster)
{
	json_t *o = json_object();
	if (o && with_cluster && !put_str(o, "cluster", rc->cluster)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * Calls a list operation page by page, following nextToken (at most
 * REMOTE_MAX_PAGES pages); *ret is {key: [every item]}. req is borrowed and
 * gets nextToken set.
 */
static int call_all_pages(const struct remote *rc, const char *target, json_t *req, const char *key,
			  json_t **ret)
{
	json_t *all = json_array(), *page = NULL;
	int rc_;

	*ret = NULL;
	if (!all)
		return out_of_memory(rc);
	for (int n = 0;; n++) {
		if ((rc_ = call(rc, target, req, &page)) != 0)
			goto out_free;
		json_t *items = json_object_get(page, key);
		if (items && !json_is_array(items)) {
			say(rc, "unexpected answer: %s is not a list", key);
			rc_ = CLI_EXIT_FAILURE;
			goto out_free;
		}
		if (items && json_array_extend(all, items) < 0) {
			rc_ = out_of_memory(rc);
			goto out_free;
		}
		const char *next = jstr(page, "nextToken");
		if (!next || !*next)
			break;
		if (n + 1 >= REMOTE_MAX_PAGES) {
			say(rc, "more than %d pages: the listing is cut short", REMOTE_MAX_PAGES);
			break;
		}
		if (!put_str(req, "nextToken", next)) {
			rc_ = out_of_memory(rc);
			goto out_free;
		}
		json_decref(page);
		page = NULL;
	}
	if (!(*ret = json_pack("{s:O}", key, all)))
		rc_ = out_of_memory(rc);
out_free:
	json_decref(page);
	json_decref(all);
	return rc_;
}

/*
 * Calls a describe operation (DescribeTasks, DescribeServices) for ids in
 * batches of at most `batch`; *ret is {out_key: [every item], "failures": [...]}.
 */
static int call_batched(const struct remote *rc, const char *target, const char *in_key, const char *out_key,
			const json_t *ids, size_t batch, json_t **ret)
{
	json_t *items = json_array(), *failures = json_array(), *req = NULL, *page = NULL;
	int rc_ = 0;

	*ret = NULL;
	if (!items || !failures)
		goto out_nomem;
	for (size_t off = 0; off < json_array_size(ids); off += batch) {
		json_t *part = json_array();
		for (size_t i = off; part && i < off + batch && i < json_array_size(ids); i++)
			if (json_array_append(part, json_array_get(ids, i)) < 0) {
				json_decref(part);
				part = NULL;
			}
		if (!part || !(req = request_new(rc, true)) || json_object_set_new(req, in_key, part) < 0) {
			if (!req)
				json_decref(part);
			goto out_nomem;
		}
		if ((rc_ = call(rc, target, req, &page)) != 0)
			goto out_free;
		json_t *got = json_object_get(page, out_key), *failed = json_object_get(page, "failures");
		if ((got && !json_is_array(got)) || (failed && !json_is_array(failed))) {
			say(rc, "unexpected answer: %s or failures is not a list", out_key);
			rc_ = CLI_EXIT_FAILURE;
			goto out_free;
		}
		if ((got && json_array_extend(items, got) < 0) || (failed && json_array_extend(failures, failed) < 0))
			goto out_nomem;
		json_decref(req);
		json_decref(page);
		req = page = NULL;
	}
	if (!(*ret = json_pack("{s:O,s:O}", out_key, items, "failures", failures)))
		goto out_nomem;
	goto out_free;
out_nomem:
	rc_ = out_of_memory(rc);
out_free:
	json_decref(req);
	json_decref(page);
	json_decref(items);
	json_decref(failures);
	return rc_;
}

/* An array of the strings in v[0..n). */
static json_t *string_array(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* ------------------------------------------------------------ tasks: tables */

/* A task row: TASK ID, DEFINITION, LAST, DESIRED, STOP CODE, STARTED, STOPPED
 * REASON (a table of six columns leaves the last one out). */
static void task_row(struct table *t, const json_t *task)
{
	char started[32];
	const char *row[] = {
		arn_tail(jstr(task, "taskArn")),
		taskdef_short(jstr(task, "taskDefinitionArn")),
		jstr(task, "lastStatus"),
		jstr(task, "desiredStatus"),
		jstr(task, "stopCode"),
		jtime(task, "startedAt", started, sizeof(started)),
		jstr(task, "stoppedReason"),
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
			const char *row[] = {arn_tail(jstr(task, "taskArn")), jstr(c, "name"), jstr(c, "lastStatus"),
					     jnum(c, "exitCode", code, sizeof(code)), jstr(c, "reason")};
			table_add(&t, row);
		}
	}
	return table_flush(rc, &t);
}

/* ------------------------------------------------------------ task run */

/* The name of the first container of a task definition, learnt from the
 * daemon; *ret owned by the caller. 0 or the exit code. */
static int first_container(const struct remote *rc, const char *taskdef, char **ret)
{
	json_t *req = json_pack("{s:s}", "taskDefinition", taskdef), *resp = NULL;
	int rc_;

	*ret = NULL;
	if (!req)
		return out_of_memory(rc);
	if ((rc_ = call(rc, ECS("DescribeTaskDefinition"), req, &resp)) == 0) {
		const json_t *defs = json_object_get(json_object_get(resp, "taskDefinition"), "containerDefinitions");
		const char *name = jstr(json_array_get(defs, 0), "name");
		if (!name) {
			say(rc, "the task definition %s names no container (use --container)", taskdef);
			rc_ = CLI_EXIT_FAILURE;
		} else if (!(*ret = strdup(name))) {
			rc_ = out_of_memory(rc);
		}
	}
	json_decref(req);
	json_decref(resp);
	return rc_;
}

/* overrides: {containerOverrides: [{name, command, environment}]} */
static int run_overrides(const struct remote *rc, const struct args *a, const char *taskdef, json_t *req)
{
	char *first = NULL;
	int rc_ = 0;

	if (!a->val[OPT_CONTAINER] && (rc_ = first_container(rc, taskdef, &first)) != 0)
		return rc_;
	json_t *co = json_object(), *envs = a->nenv ? json_array() : NULL;
	const char *name = a->val[OPT_CONTAINER] ? a->val[OPT_CONTAINER] : first;
	bool ok = co && (!a->nenv || envs) && put_str(co, "name", name);
	if (ok && a->dashdash)
		ok = json_object_set_new(co, "command", string_array(a->cmd, a->ncmd)) == 0;
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
	return ok ? 0 : out_of_memory(rc);
}

static int task_run(struct remote *rc, const struct args *a)
{
	const char *taskdef = a->pos[0];
	long long count = 1;
	json_t *req = NULL, *resp = NULL;
	int rc_;

	if ((rc_ = opt_int(rc, a, OPT_COUNT, 1, REMOTE_MAX_INT, &count)) >= 0)
		return rc_;
	for (size_t i = 0; i < a->nenv; i++) {
		const char *eq = strchr(a->env[i], '=');
		if (!eq || eq == a->env[i] || eq - a->env[i] > 255)
			return remote_usage(rc, "--env needs NAME=VALUE, not '%s'", a->env[i]);
	}
	if (a->val[OPT_CONTAINER] && !a->nenv && !a->dashdash)
		return remote_usage(rc, "--container goes with --env or a command after '--'");

	if (!(req = request_new(rc, true)) || !put_str(req, "taskDefinition", taskdef) ||
	    !put_int(req, "count", count) || !put_str(req, "group", a->val[OPT_GROUP]) ||
	    !put_str(req, "startedBy", a->val[OPT_STARTED_BY]) ||
	    !put_str(req, "clientToken", a->val[OPT_CLIENT_TOKEN])) {
		rc_ = out_of_memory(rc);
		goto out_free;
	}
	if ((a->nenv || a->dashdash) && (rc_ = run_overrides(rc, a, taskdef, req)) != 0)
		goto out_free;
	if ((rc_ = call(rc, ECS("RunTask"), req, &resp)) != 0)
		goto out_free;
	if (rc->output == OUTPUT_JSON) {
		print_json(resp);
	} else {
		rc_ = print_tasks(rc, json_object_get(resp, "tasks"), false);
		print_failures(rc, json_object_get(resp, "failures"), true, &rc_);
	}
	if (!rc_ && json_array_size(json_object_get(resp, "failures")))
		rc_ = CLI_EXIT_NEGATIVE;
out_free:
	json_decref(req);
	json_decref(resp);
	return rc_;
}

/* ------------------------------------------------------------ task stop, list, describe, logs */

static int task_stop(struct remote *rc, const struct args *a)
{
	json_t *req = request_new(rc, true), *resp = NULL;
	int rc_;

	if (!req || !put_str(req, "task", a->pos[0]) || !put_str(req, "reason", a->val[OPT_REASON])) {
		rc_ = out_of_memory(rc);
	} else if ((rc_ = call(rc, ECS("StopTask"), req, &resp)) == 0) {
		if (rc->output == OUTPUT_JSON) {
			print_json(resp);
		} else {
			json_t *one = json_pack("[O]", json_object_get(resp, "task"));
			rc_ = one ? print_tasks(rc, one, false) : out_of_memory(rc);
			json_decref(one);
		}
	}
	json_decref(req);
	json_decref(resp);
	return rc_;
}

static int task_list(struct remote *rc, const struct args *a)
{
	static const char *const statuses[] = {"RUNNING", "PENDING", "STOPPED"};
	const char *ds = a->val[OPT_DESIRED_STATUS];
	json_t *req = NULL, *arns = NULL, *tasks = NULL;
	int rc_;

	if (ds && strcmp(ds, statuses[0]) != 0 && strcmp(ds, statuses[1]) != 0 && strcmp(ds, statuses[2]) != 0)
		return remote_usage(rc, "--desired-status must be RUNNING, PENDING or STOPPED, not '%s'", ds);
	if (!(req = request_new(rc, true)) || !put_str(req, "family", a->val[OPT_FAMILY]) ||
	    !put_str(req, "serviceName", a->val[OPT_SERVICE_NAME]) ||
	    !put_str(req, "startedBy", a->val[OPT_STARTED_BY]) || !put_str(req, "desiredStatus", ds)) {
		rc_ = out_of_memory(rc);
		goto out_free;
	}
	if ((rc_ = call_all_pages(rc, ECS("ListTasks"), req, "taskArns", &arns)) != 0)
		goto out_free;
	if (rc->output == OUTPUT_JSON) {
		print_json(arns);
		goto out_free;
	}
	/* the table describes them; a task gone since is left out */
	if ((rc_ = call_batched(rc, ECS("DescribeTasks"), "tasks", "tasks", json_object_get(arns, "taskArns"),
				REMOTE_DESCRIBE_TASKS_BATCH, &tasks)) != 0)
		goto out_free;
	rc_ = print_tasks(rc, json_object_get(tasks, "tasks"), false);
out_free:
	json_decref(req);
	json_decref(arns);
	json_decref(tasks);
	return rc_;
}

static int task_describe(struct remote *rc, const struct args *a)
{
	json_t *ids = string_array(a->pos, a->npos), *resp = NULL;
	int rc_;

	if (!ids)
		return out_of_memory(rc);
	if ((rc_ = call_batched(rc, ECS("DescribeTasks"), "tasks", "tasks", ids, REMOTE_DESCRIBE_TASKS_BATCH,
				&resp)) != 0)
		goto out_free;
	if (rc->output == OUTPUT_JSON) {
		print_json(resp);
	} else {
		size_t n = json_array_size(json_object_get(resp, "tasks"));
		if (n)
			rc_ = print_tasks(rc, json_object_get(resp, "tasks"), true);
		print_failures(rc, json_object_get(resp, "failures"), n > 0, &rc_);
	}
	if (!rc_ && json_array_size(json_object_get(resp, "failures")))
		rc_ = CLI_EXIT_NEGATIVE;
out_free:
	json_decref(ids);
	json_decref(resp);
	return rc_;
}

static int task_logs(struct remote *rc, const struct args *a)
{
	long long tail = -1;
	json_t *req = NULL, *resp = NULL;
	int rc_;

	if ((rc_ = opt_int(rc, a, OPT_TAIL, 0, REMOTE_MAX_INT, &tail)) >= 0)
		return rc_;
	/* tripline's own operation: {"task", "container"?, "tailBytes"?} */
	if (!(req = json_object()) || !put_str(req, "task", a->pos[0]) ||
	    !put_str(req, "container", a->val[OPT_CONTAINER]) || (tail >= 0 && !put_int(req, "tailBytes", tail))) {
		rc_ = out_of_memory(rc);
		goto out_free;
	}
	if ((rc_ = call(rc, TARGET_GET_TASK_LOGS, req, &resp)) != 0)
		goto out_free;
	if (rc->output == OUTPUT_JSON) {
		print_json(resp);
		goto out_free;
	}
	const json_t *containers = json_object_get(resp, "containers"), *c;
	size_t i, n = json_array_size(containers);
	if (!json_is_array(containers)) {
		say(rc, "unexpected answer: containers is not a list");
		rc_ = CLI_EXIT_FAILURE;
		goto out_free;
	}
	json_array_foreach(containers, i, c) {
		const json_t *log = json_object_get(c, "log");
		const char *name = jstr(c, "name");
		size_t len = json_string_length(log);
		if (n > 1) {
			fputs(i ? "\n==> " : "==> ", stdout);
			put_clean(stdout, name ? name : "?");
			fputs(" <==\n", stdout);
		}
		fwrite(json_string_value(log) ? json_string_value(log) : "", 1, len, stdout);
		if (n > 1 && len && json_string_value(log)[len - 1] != '\n')
			fputc('\n', stdout);
		if (json_is_true(json_object_get(c, "truncated")))
			say(rc, "%s: only the end of the log is shown", name ? name : "?");
	}
out_free:
	json_decref(req);
	json_decref(resp);
	return rc_;
}

/* ------------------------------------------------------------ services */

static void service_row(struct table *t, const json_t *s)
{
	char d[32], r[32], p[32];
	const char *row[] = {
		jstr(s, "serviceName") ? jstr(s, "serviceName") : arn_tail(jstr(s, "serviceArn")),
		jstr(s, "status"),
		jnum(s, "desiredCount", d, sizeof(d)),
		jnum(s, "runningCount", r, sizeof(r)),
		jnum(s, "pendingCount", p, sizeof(p)),
		taskdef_short(jstr(s, "taskDefinition")),
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
		const char *name = jstr(s, "serviceName") ? jstr(s, "serviceName") : "?";
		const json_t *deps = json_object_get(s, "deployments"), *events = json_object_get(s, "events");
		if (json_array_size(deps)) {
			printf("\n%s: deployments\n", name);
			table_init(&t, 9, dheader);
			json_array_foreach(deps, k, x) {
				char d[32], r[32], p[32], f[32], u[32];
				const char *row[] = {
					jstr(x, "id"), jstr(x, "status"), taskdef_short(jstr(x, "taskDefinition")),
					jnum(x, "desiredCount", d, sizeof(d)), jnum(x, "runningCount", r, sizeof(r)),
					jnum(x, "pendingCount", p, sizeof(p)), jnum(x, "failedTasks", f, sizeof(f)),
					jstr(x, "rolloutState"), jtime(x, "updatedAt", u, sizeof(u)),
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
				if (k >= REMOTE_EVENTS_SHOWN)
					break;
				const char *row[] = {jtime(x, "createdAt", when, sizeof(when)), jstr(x, "message")};
				table_add(&t, row);
			}
			if ((rc_ = table_flush(rc, &t)) != 0)
				return rc_;
		}
	}
	return 0;
}

/* Prints the {"service": …} answer of create, update, scale and delete. */
static int print_one_service(const struct remote *rc, const json_t *resp, bool details)
{
	if (rc->output == OUTPUT_JSON) {
		print_json(resp);
		return 0;
	}
	json_t *one = json_pack("[O]", json_object_get(resp, "service"));
	int rc_ = one ? print_services(rc, one, details) : out_of_memory(rc);
	json_decref(one);
	return rc_;
}

/* Adds deploymentConfiguration and healthCheckGracePeriodSeconds from the
 * options. -1 to go on, or the exit code. */
static int deployment_options(const struct remote *rc, const struct args *a, json_t *req)
{
	long long minh = -1, maxp = -1, grace = -1;
	int rc_;

	if ((rc_ = opt_int(rc, a, OPT_MIN_HEALTHY, 0, REMOTE_MAX_INT, &minh)) >= 0 ||
	    (rc_ = opt_int(rc, a, OPT_MAX_PERCENT, 0, REMOTE_MAX_INT, &maxp)) >= 0 ||
	    (rc_ = opt_int(rc, a, OPT_GRACE, 0, REMOTE_MAX_INT, &grace)) >= 0)
		return rc_;
	if (a->val[OPT_ROLLBACK] && !a->val[OPT_CIRCUIT_BREAKER])
		return remote_usage(rc, "--rollback goes with --circuit-breaker");
	bool ok = true;
	if (minh >= 0 || maxp >= 0 || a->val[OPT_CIRCUIT_BREAKER]) {
		json_t *dc = json_object();
		ok = dc != NULL;
		if (ok && minh >= 0)
			ok = put_int(dc, "minimumHealthyPercent", minh);
		if (ok && maxp >= 0)
			ok = put_int(dc, "maximumPercent", maxp);
		if (ok && a->val[OPT_CIRCUIT_BREAKER])
			ok = json_object_set_new(dc, "deploymentCircuitBreaker",
						 json_pack("{s:b,s:b}", "enable", 1, "rollback",
							   a->val[OPT_ROLLBACK] != NULL)) == 0;
		ok = ok && json_object_set(req, "deploymentConfiguration", dc) == 0;
		json_decref(dc);
	}
	if (ok && grace >= 0)
		ok = put_int(req, "healthCheckGracePeriodSeconds", grace);
	return ok ? -1 : out_of_memory(rc);
}

static int service_create(struct remote *rc, const struct args *a)
{
	long long desired = 1;
	json_t *req = NULL, *resp = NULL;
	int rc_;

	if (!a->val[OPT_TASK_DEFINITION])
		return remote_usage(rc, "--task-definition TD is needed");
	if ((rc_ = opt_int(rc, a, OPT_DESIRED_COUNT, 0, REMOTE_MAX_INT, &desired)) >= 0)
		return rc_;
	if (!(req = request_new(rc, true)) || !put_str(req, "serviceName", a->pos[0]) ||
	    !put_str(req, "taskDefinition", a->val[OPT_TASK_DEFINITION]) || !put_int(req, "desiredCount", desired)) {
		rc_ = out_of_memory(rc);
		goto out_free;
	}
	if ((rc_ = deployment_options(rc, a, req)) >= 0)
		goto out_free;
	if ((rc_ = call(rc, ECS("CreateService"), req, &resp)) == 0)
		rc_ = print_one_service(rc, resp, true);
out_free:
	json_decref(req);
	json_decref(resp);
	return rc_;
}

static int service_update(struct remote *rc, const struct args *a)
{
	long long desired = -1;
	json_t *req = NULL, *resp = NULL;
	int rc_;

	if ((rc_ = opt_int(rc, a, OPT_DESIRED_COUNT, 0, REMOTE_MAX_INT, &desired)) >= 0)
		return rc_;
	if (!(req = request_new(rc, true)) || !put_str(req, "service", a->pos[0]) ||
	    !put_str(req, "taskDefinition", a->val[OPT_TASK_DEFINITION]) ||
	    (desired >= 0 && !put_int(req, "desiredCount", desired)) ||
	    (a->val[OPT_FORCE_NEW_DEPLOYMENT] && json_object_set_new(req, "forceNewDeployment", json_true()) < 0)) {
		rc_ = out_of_memory(rc);
		goto out_free;
	}
	if ((rc_ = deployment_options(rc, a, req)) >= 0)
		goto out_free;
	if ((rc_ = call(rc, ECS("UpdateService"), req, &resp)) == 0)
		rc_ = print_one_service(rc, resp, true);
out_free:
	json_decref(req);
	json_decref(resp);
	return rc_;
}

static int service_scale(struct remote *rc, const struct args *a)
{
	long long desired;
	json_t *req = NULL, *resp = NULL;
	int rc_;

	if (!parse_int(a->pos[1], REMOTE_MAX_INT, &desired))
		return remote_usage(rc, "N must be a whole number from 0 to %lld, not '%s'", REMOTE_MAX_INT,
				    a->pos[1]);
	if (!(req = request_new(rc, true)) || !put_str(req, "service", a->pos[0]) ||
	    !put_int(req, "desiredCount", desired)) {
		rc_ = out_of_memory(rc);
		goto out_free;
	}
	if ((rc_ = call(rc, ECS("UpdateService"), req, &resp)) == 0)
		rc_ = print_one_service(rc, resp, false);
out_free:
	json_decref(req);
	json_decref(resp);
	return rc_;
}

static int service_describe(struct remote *rc, const struct args *a)
{
	json_t *names = string_array(a->pos, a->npos), *resp = NULL;
	int rc_;

	if (!names)
		return out_of_memory(rc);
	if ((rc_ = call_batched(rc, ECS("DescribeServices"), "services", "services", names,
				REMOTE_DESCRIBE_SERVICES_BATCH, &resp)) != 0)
		goto out_free;
	if (rc->output == OUTPUT_JSON) {
		print_json(resp);
	} else {
		size_t n = json_array_size(json_object_get(resp, "services"));
		if (n)
			rc_ = print_services(rc, json_object_get(resp, "services"), true);
		print_failures(rc, json_object_get(resp, "failures"), n > 0, &rc_);
	}
	if (!rc_ && json_array_size(json_object_get(resp, "failures")))
		rc_ = CLI_EXIT_NEGATIVE;
out_free:
	json_decref(names);
	json_decref(resp);
	return rc_;
}

static int service_list(struct remote *rc, const struct args *a)
{
	json_t *req = request_new(rc, true), *arns = NULL, *resp = NULL;
	int rc_;

	(void)a;
	if (!req)
		return out_of_memory(rc);
	if ((rc_ = call_all_pages(rc, ECS("ListServices"), req, "serviceArns", &arns)) != 0)
		goto out_free;
	if (rc->output == OUTPUT_JSON) {
		print_json(arns);
		goto out_free;
	}
	if ((rc_ = call_batched(rc, ECS("DescribeServices"), "services", "services",
				json_object_get(arns, "serviceArns"), REMOTE_DESCRIBE_SERVICES_BATCH, &resp)) != 0)
		goto out_free;
	rc_ = print_services(rc, json_object_get(resp, "services"), false);
out_free:
	json_decref(req);
	json_decref(arns);
	json_decref(resp);
	return rc_;
}

static int service_delete(struct remote *rc, const struct args *a)
{
	json_t *req = request_new(rc, true), *resp = NULL;
	int rc_;

	if (!req || !put_str(req, "service", a->pos[0]) ||
	    (a->val[OPT_FORCE] && json_object_set_new(req, "force", json_true()) < 0)) {
		rc_ = out_of_memory(rc);
	} else if ((rc_ = call(rc, ECS("DeleteService"), req, &resp)) == 0) {
		rc_ = print_one_service(rc, resp, false);
	}
	json_decref(req);
	json_decref(resp);
	return rc_;
}

/* ------------------------------------------------------------ task definitions */

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

/* Prints a {"taskDefinition": …} answer: the definition, then its containers. */
static int print_taskdef(const struct remote *rc, const json_t *resp)
{
	static const char *const header[] = {"DEFINITION", "STATUS", "CPU", "MEMORY", "REGISTERED", "ARN"};
	static const char *const cheader[] = {"CONTAINER", "IMAGE", "CPU", "MEMORY", "ESSENTIAL", "COMMAND"};
	const json_t *td = json_object_get(resp, "taskDefinition"), *c;
	struct table t;
	char cpu[32], mem[32], when[32];
	size_t i;
	int rc_;

	if (!json_is_object(td)) {
		say(rc, "unexpected answer: no taskDefinition");
		return CLI_EXIT_FAILURE;
	}
	const char *row[] = {taskdef_short(jstr(td, "taskDefinitionArn")), jstr(td, "status"),
			     jstr(td, "cpu") ? jstr(td, "cpu") : jnum(td, "cpu", cpu, sizeof(cpu)),
			     jstr(td, "memory") ? jstr(td, "memory") : jnum(td, "memory", mem, sizeof(mem)),
			     jtime(td, "registeredAt", when, sizeof(when)), jstr(td, "taskDefinitionArn")};
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
		const char *crow[] = {jstr(c, "name"), jstr(c, "image"), jnum(c, "cpu", ccpu, sizeof(ccpu)),
				      jnum(c, "memory", cmem, sizeof(cmem)),
				      ess ? jbool(c, "essential") : "yes", cmd};
		table_add(&t, crow);
	}
	return table_flush(rc, &t);
}

static int taskdef_register(struct remote *rc, const struct args *a)
{
	const char *path = a->pos[0];
	json_t *req = NULL, *resp = NULL;
	json_error_t je;
	char *text = NULL;
	size_t len;
	int rc_;

	int r = cli_read_input(path, &text, &len);
	if (r < 0) {
		say(rc, "%s: %s", strcmp(path, "-") == 0 ? "stdin" : path,
		    r == -E2BIG ? "larger than 16 MiB" : strerror(-r));
		return r == -ENOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_BADINPUT;
	}
	req = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!req || !json_is_object(req)) {
		if (req)
			say(rc, "%s: must be a JSON object (a RegisterTaskDefinition request)", path);
		else
			say(rc, "%s: invalid JSON at line %d, column %d: %s", path, je.line, je.column, je.text);
		rc_ = CLI_EXIT_BADINPUT;
		goto out_free;
	}
	if ((rc_ = call(rc, ECS("RegisterTaskDefinition"), req, &resp)) != 0)
		goto out_free;
	if (rc->output == OUTPUT_JSON)
		print_json(resp);
	else
		rc_ = print_taskdef(rc, resp);
out_free:
	free(text);
	json_decref(req);
	json_decref(resp);
	return rc_;
}

static int taskdef_list(struct remote *rc, const struct args *a)
{
	static const char *const header[] = {"FAMILY", "REVISION", "ARN"};
	const char *st = a->val[OPT_STATUS];
	json_t *req = NULL, *arns = NULL;
	const json_t *v;
	struct table t;
	size_t i;
	int rc_;

	if (st && strcmp(st, "ACTIVE") != 0 && strcmp(st, "INACTIVE") != 0 && strcmp(st, "ALL") != 0)
		return remote_usage(rc, "--status must be ACTIVE, INACTIVE or ALL, not '%s'", st);
	if (!(req = json_object()) || !put_str(req, "familyPrefix", a->val[OPT_FAMILY_PREFIX]) ||
	    !put_str(req, "status", st)) {
		rc_ = out_of_memory(rc);
		goto out_free;
	}
	if ((rc_ = call_all_pages(rc, ECS("ListTaskDefinitions"), req, "taskDefinitionArns", &arns)) != 0)
		goto out_free;
	if (rc->output == OUTPUT_JSON) {
		print_json(arns);
		goto out_free;
	}
	table_init(&t, 3, header);
	json_array_foreach(json_object_get(arns, "taskDefinitionArns"), i, v) {
		const char *arn = json_string_value(v), *fr = taskdef_short(arn);
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

static int taskdef_describe(struct remote *rc, const struct args *a)
{
	json_t *req = json_pack("{s:s}", "taskDefinition", a->pos[0]), *resp = NULL;
	int rc_;

	if (!req)
		return out_of_memory(rc);
	if ((rc_ = call(rc, ECS("DescribeTaskDefinition"), req, &resp)) == 0) {
		if (rc->output == OUTPUT_JSON)
			print_json(resp);
		else
			rc_ = print_taskdef(rc, resp);
	}
	json_decref(req);
	json_decref(resp);
	return rc_;
}

/* ------------------------------------------------------------ dispatch */

static const struct subcmd task_subs[] = {
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

static const struct subcmd service_subs[] = {
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

static const struct subcmd taskdef_subs[] = {
	{"register", taskdef_register, 0, 1, 1, false, "FILE (or - for stdin)"},
	{"list", taskdef_list, OPTBIT(OPT_FAMILY_PREFIX) | OPTBIT(OPT_STATUS), 0, 0, false, ""},
	{"describe", taskdef_describe, 0, 1, 1, false, "TASKDEF"},
};

/* A closed standard descriptor would be taken by the connection's socket,
 * and the answer written into it: stdin and stderr get /dev/null, a closed
 * stdout is an error. 0 or 3. */
static int check_std_fds(const struct group *g)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (fd == STDOUT_FILENO) {
			fprintf(stderr, "%s %s: stdout is closed\n", prog, g->name);
			return CLI_EXIT_FAILURE;
		}
		int nfd = open("/dev/null", O_RDWR);
		if (nfd != fd) {
			if (nfd >= 0)
				close(nfd);
			return CLI_EXIT_FAILURE;
		}
	}
	return 0;
}

static int run_group(const struct group *g, int argc, char **argv)
{
	struct args a;
	struct remote rc;
	const struct subcmd *sub = NULL;
	int r;

	memset(&a, 0, sizeof(a));
	memset(&rc, 0, sizeof(rc));
	if ((r = check_std_fds(g)) != 0)
		return r;
	a.pos = calloc((size_t)argc + 1, sizeof(*a.pos));
	a.env = calloc((size_t)argc + 1, sizeof(*a.env));
	if (!a.pos || !a.env) {
		fprintf(stderr, "%s %s: out of memory\n", prog, g->name);
		r = CLI_EXIT_FAILURE;
		goto out_free;
	}
	if (!(sub = parse_args(g, argc, argv, &a, &r)))
		goto out_free;
	rc.group = g->name;
	rc.sub = sub->name;
	rc.cluster = a.val[OPT_CLUSTER];
	const char *out = a.val[OPT_OUTPUT];
	if (!out || strcmp(out, "table") == 0) {
		rc.output = OUTPUT_TABLE;
	} else if (strcmp(out, "json") == 0) {
		rc.output = OUTPUT_JSON;
	} else {
		r = usage_error(g, sub->name, "--output must be table or json, not '%s'", out);
		goto out_free;
	}
	if (rc.cluster && !rc.cluster[0]) {
		r = usage_error(g, sub->name, "--cluster needs a name");
		goto out_free;
	}
	if ((r = remote_connect(&rc, &a)) != 0)
		goto out_free;
	r = sub->run(&rc, &a);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s %s %s: writing the output: %s\n", prog, g->name, sub->name, strerror(errno));
		r = CLI_EXIT_FAILURE;
	}
out_free:
	client_free(rc.client);
	free(a.pos);
	free(a.env);
	return r;
}

#define NSUBS(a) (sizeof(a) / sizeof((a)[0]))

int cli_remote_task(int argc, char **argv)
{
	static const struct group g = {"task", cli_remote_task_usage, task_subs, NSUBS(task_subs)};
	return run_group(&g, argc, argv);
}

int cli_remote_service(int argc, char **argv)
{
	static const struct group g = {"service", cli_remote_service_usage, service_subs, NSUBS(service_subs)};
	return run_group(&g, argc, argv);
}

int cli_remote_taskdef(int argc, char **argv)
{
	static const struct group g = {"taskdef", cli_remote_taskdef_usage, taskdef_subs, NSUBS(taskdef_subs)};
	return run_group(&g, argc, argv);
}
