/*
 * remote.c — running one of the commands that talk to a daemon's API
 * (`tripline task|service|taskdef SUB ...`): the command line, the endpoint
 * and credentials, the client, and the subcommand.
 *
 * How a command runs: the subcommand is the first word that is neither a
 * common option (--endpoint, --config, --output, --cluster) nor its value,
 * so those may come before or after it; then every option is checked
 * against the subcommand's own (struct remote_subcmd), "--" ends the
 * options (for `task run` it starts the command), --help or -h prints the
 * group's help text. The endpoint, credentials and region are worked out
 * (precedence in REMOTE_COMMON_HELP and engine/README.md, "CLI over the
 * API"), the client is made, and the subcommand runs.
 *
 * What it promises: the exit codes of cli.h, with every usage error on
 * stderr as "tripline GROUP SUB: message" and a pointer to the help; stdout
 * flushed and checked; a closed standard descriptor never taken by the
 * connection; the secret read from a configuration file wiped after use
 * and never printed.
 */
#include "remote.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "errlist.h"

static const char prog[] = "tripline";

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
	[OPT_SOURCE] = {"source", true, false},
	[OPT_DETAIL_TYPE] = {"detail-type", true, false},
	[OPT_DETAIL] = {"detail", true, false},
	[OPT_BUS] = {"bus", true, false},
	[OPT_RESOURCES] = {"resources", true, true},
	[OPT_NAME_PREFIX] = {"name-prefix", true, false},
	[OPT_RULE] = {"rule", true, false},
};

/* ------------------------------------------------------------ messages */

void remote_say_prefix(const struct remote *rc)
{
	fprintf(stderr, "%s %s%s%s: ", prog, rc->group, rc->sub ? " " : "", rc->sub ? rc->sub : "");
}

static void vsay(const struct remote *rc, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void vsay(const struct remote *rc, const char *fmt, va_list ap)
{
	remote_say_prefix(rc);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void remote_say(const struct remote *rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(rc, fmt, ap);
	va_end(ap);
}

int remote_usage(const struct remote *rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(rc, fmt, ap);
	va_end(ap);
	fprintf(stderr, "run 'tripline help %s' for the options\n", rc->group);
	return CLI_EXIT_BADINPUT;
}

int remote_nomem(const struct remote *rc)
{
	remote_say(rc, "out of memory");
	return CLI_EXIT_FAILURE;
}

/* ------------------------------------------------------------ the command line */

static bool is_help(const char *t)
{
	return strcmp(t, "--help") == 0 || strcmp(t, "-h") == 0;
}

/* The option named by t ("--name" or "--name=value") among allowed, or -1. */
static int find_opt(const char *t, uint64_t allowed)
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
static const struct remote_subcmd *parse_stop(int *ret_exit, int code)
{
	*ret_exit = code;
	return NULL;
}

/*
 * Parses argv (argv[0] is the group's name) into *a, sets rc->sub and
 * returns the subcommand; or returns NULL with the exit code in *ret_exit
 * (0 after --help, 2 after a usage error, with the message printed).
 * a->pos and a->env have room for argc entries.
 */
static const struct remote_subcmd *parse_args(const struct remote_group *g, struct remote *rc, int argc,
					      char **argv, struct remote_args *a, int *ret_exit)
{
	const struct remote_subcmd *sub = NULL;
	int sub_at = 0;

	/* the subcommand: the first word that is neither a common option nor its value;
	 * a group that is a command has none */
	for (int i = 1; i < argc && g->subs[0].name; i++) {
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
						  remote_usage(rc, "unknown option '%s' before the subcommand", t));
			if (opt_defs[id].has_arg && !strchr(t, '='))
				i++;
			continue;
		}
		sub_at = i;
		break;
	}
	if (!g->subs[0].name) {
		sub = &g->subs[0];
	} else if (!sub_at) {
		char names[256];
		size_t off = 0;
		for (size_t k = 0; k < g->nsubs && off < sizeof(names); k++) {
			int w = snprintf(names + off, sizeof(names) - off, "%s%s", k ? ", " : "", g->subs[k].name);
			off += w > 0 ? (size_t)w : 0;
		}
		return parse_stop(ret_exit, remote_usage(rc, "a subcommand is needed: %s", names));
	}
	for (size_t k = 0; !sub && k < g->nsubs; k++)
		if (strcmp(g->subs[k].name, argv[sub_at]) == 0)
			sub = &g->subs[k];
	if (!sub)
		return parse_stop(ret_exit, remote_usage(rc, "unknown subcommand '%s'", argv[sub_at]));
	rc->sub = sub->name;

	uint64_t allowed = OPTS_COMMON | sub->opts;
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
			return parse_stop(ret_exit, remote_usage(rc, "unknown option '%s'", t));
		const struct opt_def *d = &opt_defs[id];
		const char *eq = strchr(t, '='), *v;
		if (d->has_arg) {
			if (eq)
				v = eq + 1;
			else if (i + 1 < argc)
				v = argv[++i];
			else
				return parse_stop(ret_exit, remote_usage(rc, "--%s needs a value", d->name));
		} else {
			if (eq)
				return parse_stop(ret_exit, remote_usage(rc, "--%s takes no value", d->name));
			v = "";
		}
		if (d->repeat) {
			a->env[a->nenv++] = v;
		} else {
			if (a->val[id])
				return parse_stop(ret_exit, remote_usage(rc, "--%s is given twice", d->name));
			a->val[id] = v;
		}
	}
	if (a->npos < sub->min_pos)
		return parse_stop(ret_exit, remote_usage(rc, "%s is needed", sub->pos_name));
	if (a->npos > sub->max_pos)
		return parse_stop(ret_exit, remote_usage(rc, "unexpected argument '%s'", a->pos[sub->max_pos]));
	if (a->dashdash && !a->ncmd)
		return parse_stop(ret_exit, remote_usage(rc, "a command is needed after '--'"));
	return sub;
}

bool remote_parse_int(const char *s, long long max, long long *ret)
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

int remote_opt_int(const struct remote *rc, const struct remote_args *a, enum opt_id id, long long min,
		   long long max, long long *ret)
{
	const char *v = a->val[id];
	long long n;

	if (!v)
		return -1;
	if (!remote_parse_int(v, max, &n) || n < min)
		return remote_usage(rc, "--%s must be a whole number from %lld to %lld, not '%s'", opt_defs[id].name,
				    min, max, v);
	*ret = n;
	return -1;
}

int remote_opt_choice(const struct remote *rc, const struct remote_args *a, enum opt_id id,
		      const char *const *choices, size_t n, size_t *ret)
{
	const char *v = a->val[id];
	char list[256];
	size_t off = 0;

	if (!v)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, choices[i]) == 0) {
			if (ret)
				*ret = i;
			return -1;
		}
	/* "A, B or C" */
	list[0] = '\0';
	for (size_t i = 0; i < n && off < sizeof(list); i++) {
		int w = snprintf(list + off, sizeof(list) - off, "%s%s", i == 0 ? "" : i + 1 < n ? ", " : " or ",
				 choices[i]);
		off += w > 0 ? (size_t)w : 0;
	}
	return remote_usage(rc, "--%s must be %s, not '%s'", opt_defs[id].name, list, v);
}

/* ------------------------------------------------------------ endpoint and credentials */

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
		remote_say(rc, "$%s is set but $%s is not: set both or neither", id ? id_var : secret_var,
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

/* Works out the endpoint, credentials and region (see REMOTE_COMMON_HELP)
 * and makes rc->client. 0, or the exit code with a message printed. */
static int connect_client(struct remote *rc, const struct remote_args *a)
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
				remote_say(rc, "%s: %s", a->val[OPT_CONFIG], strerror(-r));
			rc_ = r == -ENOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_BADINPUT;
			goto out_free;
		}
	}

	co.endpoint = a->val[OPT_ENDPOINT] ? a->val[OPT_ENDPOINT] : env("TRIPLINE_ENDPOINT");
	if (!co.endpoint && cfg) {
		if (!(cfg_endpoint = endpoint_of_listen(cfg))) {
			rc_ = remote_nomem(rc);
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
			remote_say(rc, "%s: auth key %s: %s", a->val[OPT_CONFIG], k->access_key_id, why);
			rc_ = r == -ENOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_BADINPUT;
			goto out_free;
		}
		co.access_key_id = k->access_key_id;
		co.secret_access_key = cfg_secret;
	}
	co.region = env("AWS_REGION");
	if (!co.region)
		co.region = cfg ? cfg->region : "local";
	co.service = rc->service;

	int r = client_new(&co, &rc->client, why, sizeof(why));
	if (r < 0) {
		remote_say(rc, "%s", why);
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

/* ------------------------------------------------------------ running a group */

/* A closed standard descriptor would be taken by the connection's socket,
 * and the answer written into it: stdin and stderr get /dev/null, a closed
 * stdout is an error. 0 or 3. */
static int check_std_fds(const struct remote *rc)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (fd == STDOUT_FILENO) {
			remote_say(rc, "stdout is closed");
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

int remote_run_group(const struct remote_group *g, int argc, char **argv)
{
	static const char *const outputs[] = {[OUTPUT_TABLE] = "table", [OUTPUT_JSON] = "json"};
	struct remote_args a;
	struct remote rc;
	const struct remote_subcmd *sub = NULL;
	size_t output = OUTPUT_TABLE;
	int r;

	memset(&a, 0, sizeof(a));
	memset(&rc, 0, sizeof(rc));
	rc.group = g->name;
	rc.service = g->service ? g->service : "ecs";
	if ((r = check_std_fds(&rc)) != 0)
		return r;
	a.pos = calloc((size_t)argc + 1, sizeof(*a.pos));
	a.env = calloc((size_t)argc + 1, sizeof(*a.env));
	if (!a.pos || !a.env) {
		r = remote_nomem(&rc);
		goto out_free;
	}
	if (!(sub = parse_args(g, &rc, argc, argv, &a, &r)))
		goto out_free;
	rc.cluster = a.val[OPT_CLUSTER];
	if ((r = remote_opt_choice(&rc, &a, OPT_OUTPUT, outputs, REMOTE_NELEMS(outputs), &output)) >= 0)
		goto out_free;
	rc.output = (enum remote_output)output;
	if (rc.cluster && !rc.cluster[0]) {
		r = remote_usage(&rc, "--cluster needs a name");
		goto out_free;
	}
	if ((r = connect_client(&rc, &a)) != 0)
		goto out_free;
	r = sub->run(&rc, &a);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		remote_say(&rc, "writing the output: %s", strerror(errno));
		r = CLI_EXIT_FAILURE;
	}
out_free:
	client_free(rc.client);
	free(a.pos);
	free(a.env);
	return r;
}
