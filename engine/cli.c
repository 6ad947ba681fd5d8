/*
 * cli.c — the `tripline` command line: subcommand dispatch, help texts, and
 * the commands that work on rules without a daemon (test-pattern, match,
 * validate, transform). The commands that talk to a daemon's API (task, service,
 * taskdef) are in engine/cli/.
 *
 * Contract (users and scripts rely on it):
 *   exit 0  success, or a positive answer (the pattern matches);
 *   exit 1  a negative answer (no match, not found);
 *   exit 2  bad input: a usage error, an invalid pattern, event or rule file,
 *           a request the daemon refused (4xx), with a message on stderr;
 *   exit 3  any other failure (I/O, out of memory, no answer from the
 *           daemon, a server error).
 * Answers go to stdout, diagnostics to stderr. Nothing here reads event data
 * into a shell or a format string.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_local.h"
#include "lines.h"
#include "matcher.h"
#include "pattern.h"
#include "readfile.h"
#include "ruleset.h"
#include "serve.h"

#define EXIT_NEGATIVE CLI_EXIT_NEGATIVE
#define EXIT_BADINPUT CLI_EXIT_BADINPUT
#define EXIT_FAILURE_OTHER CLI_EXIT_FAILURE
/* Longest event line `match` reads: the matcher's default event limit. */
#define CLI_MAX_EVENT_LINE ((size_t)1 << 20)
/* What `match` reads from stdin at once, the blocks in flight, and the output it gathers before a write. */
#define CLI_MATCH_READ_BLOCK ((size_t)256 << 10)
#define CLI_MATCH_BLOCKS 3u
/* Newlines the reader indexes per block (beyond, the main thread searches). */
#define CLI_MATCH_BLOCK_LINES 8192u
#define CLI_MATCH_OUT_BLOCK ((size_t)64 << 10)

const char *const cli_prog = "tripline";

/* ------------------------------------------------------------ input */

int cli_read_input(const char *path, char **ret, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int r = 0;

	if (strcmp(path, "-") != 0) {
		r = readfile(path, CLI_MAX_INPUT, NULL, ret, ret_len);
		return r == -EFBIG ? -E2BIG : r;
	}
	for (;;) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 65536;
			if (cap > CLI_MAX_INPUT + 65536)
				cap = CLI_MAX_INPUT + 65536;
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				r = -ENOMEM;
				break;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, stdin);
		len += n;
		if (len > CLI_MAX_INPUT) {
			r = -E2BIG;
			break;
		}
		if (n == 0) {
			if (ferror(stdin))
				r = -EIO;
			break;
		}
	}
	if (r < 0) {
		free(buf);
		return r;
	}
	if (!buf && !(buf = malloc(1)))
		return -ENOMEM;
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* A command-line argument that is JSON text, or @path for a file's content. */
int cli_load_arg(const char *what, const char *arg, char **ret, size_t *ret_len)
{
	if (arg[0] == '@') {
		int r = cli_read_input(arg + 1, ret, ret_len);
		if (r < 0) {
			fprintf(stderr, "%s: %s: %s: %s\n", cli_prog, what, arg + 1,
				r == -E2BIG ? "larger than " CLI_MAX_INPUT_TEXT : readfile_strerror(r));
			return EXIT_BADINPUT;
		}
		return 0;
	}
	*ret_len = strlen(arg);
	*ret = strdup(arg);
	return *ret ? 0 : EXIT_FAILURE_OTHER;
}

/* ------------------------------------------------------------ help */

static int cmd_serve(int argc, char **argv);
static int cmd_test_pattern(int argc, char **argv);
static int cmd_match(int argc, char **argv);
static int cmd_validate(int argc, char **argv);
static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct command commands[] = {
	{"serve", cmd_serve, "run the daemon",
	 "usage: tripline serve --config FILE [--log-level LEVEL] [--log-format text|json]\n"
	 "\n"
	 "Runs the daemon with the configuration FILE (see deploy/CONFIG.md) until\n"
	 "SIGTERM or SIGINT (exit 0). SIGHUP reloads the rules; the new set replaces\n"
	 "the old one only when every rule file is valid. An invalid configuration or\n"
	 "rule set is reported in full and the daemon exits 2 without listening.\n"
	 "\n"
	 "  --config FILE        the JSON configuration file\n"
	 "  --log-level LEVEL    debug, info, warn or error (overrides log_level)\n"
	 "  --log-format FORMAT  text or json lines (overrides log_format)\n"},
	{"test-pattern", cmd_test_pattern, "test one event against one event pattern",
	 "usage: tripline test-pattern --pattern PATTERN --event EVENT [--eventbridge]\n"
	 "\n"
	 "PATTERN and EVENT are JSON text, or @FILE for a file's content (@- for stdin).\n"
	 "Prints \"true\" and exits 0 when the event matches, prints \"false\" and exits 1\n"
	 "when it does not, and exits 2 with a message when either is invalid.\n"
	 "\n"
	 "  --pattern P     the event pattern (EventBridge syntax, plus {\"regex\": ...})\n"
	 "  --event E       the event: any JSON object\n"
	 "  --eventbridge   accept exactly EventBridge's pattern language (reject\n"
	 "                  tripline's extensions such as regex)\n"},
	{"match", cmd_match, "match JSON-lines events from stdin against rule files",
	 "usage: tripline match --rules PATH [--rules PATH ...] [--eventbridge]\n"
	 "\n"
	 "Loads the rule files (a file, or a directory of *.json files) and reads one\n"
	 "event per line from stdin. For each input line writes one JSON line:\n"
	 "  {\"line\": N, \"matched\": [\"rule-name\", ...]}   (names sorted)\n"
	 "  {\"line\": N, \"error\": \"...\"}                    (invalid line; processing goes on)\n"
	 "Rules that are DISABLED or have only a ScheduleExpression never match.\n"
	 "Exits 2 when a rule file is invalid (every error is printed), 0 otherwise.\n"},
	{"validate", cmd_validate, "check rule files",
	 "usage: tripline validate [--eventbridge] PATH...\n"
	 "\n"
	 "Checks every rule file (a file, or a directory of *.json files). Prints a\n"
	 "one-line summary and exits 0 when all are valid; otherwise prints every\n"
	 "error as FILE: /json/pointer: message and exits 2.\n"},
	{"transform", cli_cmd_transform, "preview what a rule target receives for an event",
	 "usage: tripline transform --event EVENT [--input JSON | --input-path PATH |\n"
	 "                          --input-paths-map JSON --input-template TEMPLATE]\n"
	 "                          [--rule-name NAME] [--rule-arn ARN]\n"
	 "\n"
	 "Prints the input a rule target would receive for EVENT, exactly as the\n"
	 "target receives it, followed by one newline: the event itself (no option),\n"
	 "the constant Input, the value at InputPath, or the InputTemplate filled in\n"
	 "from the InputPathsMap (see \"Input transformation\" in rules/README.md).\n"
	 "EVENT, --input and --input-paths-map are JSON text, or @FILE for a file's\n"
	 "content (@- for stdin). --input-template may stand alone when it uses only\n"
	 "the reserved variables. Exits 0 with the output, 2 with a message for a\n"
	 "usage error, an invalid transformer or an invalid event.\n"
	 "\n"
	 "  --event E             the event (JSON)\n"
	 "  --input JSON          Input: a constant JSON text\n"
	 "  --input-path P        InputPath: a JSONPath such as $.detail\n"
	 "  --input-paths-map M   InputPathsMap: a JSON object of names to JSONPaths\n"
	 "  --input-template T    InputTemplate: JSON or plain text with <name> placeholders\n"
	 "  --rule-name NAME      <aws.events.rule-name>; default \"" CLI_TRANSFORM_RULE "\"\n"
	 "  --rule-arn ARN        <aws.events.rule-arn>; default\n"
	 "                        arn:aws:events:local:000000000000:rule/NAME\n"
	 "<aws.events.event.ingestion-time> is the current time (UTC, in seconds).\n"},
	{"schedule", cli_cmd_schedule, "the next fire times of a schedule expression",
	 "usage: tripline schedule next EXPR [--tz TZ] [--after TIME] [--count N] [--anchor TIME]\n"
	 "\n"
	 "Prints the fire times of EXPR (rate(…), cron(…), at(…), as a rule's\n"
	 "ScheduleExpression) strictly after --after (default now), one RFC 3339 UTC\n"
	 "instant per line.\n"
	 "  --tz TZ          ScheduleExpressionTimezone (an IANA name); default UTC\n"
	 "  --after TIME     ISO 8601 with a zone, e.g. 2026-12-07T09:00:00Z; default now\n"
	 "  --count N        how many, 1 to 1000; default 5\n"
	 "  --anchor TIME    rate(): when the rule was created (not a fire: the fires\n"
	 "                   are anchor + k·period, k >= 1); default --after\n"
	 "Exit: 0 fire times printed; 1 none left (an at() in the past); 2 an invalid\n"
	 "expression, zone, time or option.\n"},
	{"task", cli_remote_task, "run, stop, list and inspect tasks, read their logs (daemon API)",
	 cli_remote_task_usage},
	{"service", cli_remote_service, "create, update, scale, describe, list, delete services (daemon API)",
	 cli_remote_service_usage},
	{"taskdef", cli_remote_taskdef, "register, list, describe task definitions (daemon API)",
	 cli_remote_taskdef_usage},
	{"put-events", cli_remote_put_events, "put an event on a bus of the daemon (EventBridge API)",
	 cli_remote_put_events_usage},
	{"rules", cli_remote_rules, "list and describe the daemon's rules (EventBridge API)",
	 cli_remote_rules_usage},
	{"dlq", cli_remote_dlq, "list a dead-letter file, redrive its dead letters (daemon API)",
	 cli_remote_dlq_usage},
	{"help", cmd_help, "show help for tripline or one command",
	 "usage: tripline help [COMMAND]\n"},
	{"version", cmd_version, "print the version", "usage: tripline version\n"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

const struct command *cli_find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_overview(FILE *f)
{
	fprintf(f, "tripline %s — an event-driven task runner: EventBridge rules and ECS tasks you run yourself\n\n"
		   "usage: tripline [--version] [--help] COMMAND [ARGS]\n\ncommands:\n",
		TRIPLINE_VERSION);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'tripline help COMMAND' or 'tripline COMMAND --help' for a command's options.\n"
		   "Exit codes: 0 ok, 1 a negative answer, 2 bad input, 3 other failures.\n");
}

int cli_usage_error(const struct command *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s %s: ", cli_prog, c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", c->usage);
	return EXIT_BADINPUT;
}

static int cmd_help(int argc, char **argv)
{
	if (argc > 2) {
		fprintf(stderr, "%s help: too many arguments\nusage: tripline help [COMMAND]\n", cli_prog);
		return EXIT_BADINPUT;
	}
	if (argc == 2) {
		const struct command *c = cli_find_command(argv[1]);
		if (!c) {
			fprintf(stderr, "%s help: unknown command '%s'\n", cli_prog, argv[1]);
			return EXIT_BADINPUT;
		}
		fputs(c->usage, stdout);
		return 0;
	}
	print_overview(stdout);
	return 0;
}

static int cmd_version(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "%s version: takes no arguments\n", cli_prog);
		return EXIT_BADINPUT;
	}
	printf("tripline %s\n", TRIPLINE_VERSION);
	return 0;
}

/* Handles --help/-h for a command; returns -1 when absent. */
int cli_maybe_help(const struct command *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(c->usage, stdout);
			return 0;
		}
	}
	return -1;
}

/* ------------------------------------------------------------ test-pattern */

static int cmd_test_pattern(int argc, char **argv)
{
	const struct command *c = cli_find_command("test-pattern");
	static const struct option opts[] = {
		{"pattern", required_argument, NULL, 'p'},
		{"event", required_argument, NULL, 'e'},
		{"eventbridge", no_argument, NULL, 'E'},
		{NULL, 0, NULL, 0},
	};
	const char *pattern_arg = NULL, *event_arg = NULL;
	enum pattern_dialect dialect = PATTERN_DIALECT_TRIPLINE;
	char *ptext = NULL, *etext = NULL;
	size_t plen, elen;
	struct errlist errs = ERRLIST_INIT;
	struct pattern *pat = NULL;
	struct matcher *m = NULL;
	struct match_scratch *s = NULL;
	int opt, rc;

	if ((rc = cli_maybe_help(c, argc, argv)) >= 0)
		return rc;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': pattern_arg = optarg; break;
		case 'e': event_arg = optarg; break;
		case 'E': dialect = PATTERN_DIALECT_EVENTBRIDGE; break;
		default: return cli_usage_error(c, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
	if (!pattern_arg || !event_arg)
		return cli_usage_error(c, "%s", "both --pattern and --event are required");

	if ((rc = cli_load_arg("pattern", pattern_arg, &ptext, &plen)) != 0 ||
	    (rc = cli_load_arg("event", event_arg, &etext, &elen)) != 0)
		goto out;

	if (pattern_parse(ptext, plen, dialect, NULL, &pat, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s: invalid pattern: %s\n", cli_prog, errs.msgs[i]);
		if (!errs.n)
			fprintf(stderr, "%s: invalid pattern (out of memory)\n", cli_prog);
		rc = errs.n ? EXIT_BADINPUT : EXIT_FAILURE_OTHER;
		goto out;
	}
	struct matcher_builder *b = matcher_builder_new(NULL);
	if (!b || matcher_builder_add(b, 0, pat) < 0 || matcher_build(b, &m) < 0 ||
	    !(s = match_scratch_new())) {
		if (!b)
			pattern_free(pat);
		fprintf(stderr, "%s: out of memory\n", cli_prog);
		rc = EXIT_FAILURE_OTHER;
		goto out;
	}
	const uint32_t *ids;
	int n = matcher_match(m, etext, elen, s, &ids);
	if (n < 0) {
		fprintf(stderr, "%s: invalid event: %s\n", cli_prog,
			n == -ENOMEM ? "out of memory" : match_scratch_error(s));
		rc = n == -ENOMEM ? EXIT_FAILURE_OTHER : EXIT_BADINPUT;
		goto out;
	}
	puts(n ? "true" : "false");
	rc = n ? 0 : EXIT_NEGATIVE;
out:
	match_scratch_free(s);
	matcher_free(m);
	errlist_clear(&errs);
	free(ptext);
	free(etext);
	return rc;
}

/* ------------------------------------------------------------ rules loading */

static int load_rules(const char *const *paths, size_t n, enum pattern_dialect dialect,
		      struct ruleset **ret)
{
	struct ruleset_options opt = {0};
	struct errlist errs = ERRLIST_INIT;

	opt.dialect = dialect;
	int r = ruleset_load(paths, n, &opt, ret, &errs);
	if (r < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		if (errs.dropped)
			fprintf(stderr, "%s: %zu more errors not shown (out of memory)\n", cli_prog, errs.dropped);
		if (r == -ENOMEM && !errs.n)
			fprintf(stderr, "%s: out of memory\n", cli_prog);
	}
	errlist_clear(&errs);
	return r;
}

/* ------------------------------------------------------------ match */

/*
 * match's output: whole lines gathered in one buffer and written in blocks
 * of CLI_MATCH_OUT_BLOCK, or line by line when stdout is a terminal. The
 * buffer holds at most one block plus one line (a line names each matching
 * rule once, so it is bounded by the rule set).
 */
struct match_out {
	char *buf;
	size_t len, cap;
	bool per_line;
	int err;           /* -ENOMEM or a write error: stop */
};

static bool match_out_reserve(struct match_out *o, size_t n)
{
	if (o->cap - o->len >= n)
		return true;
	size_t cap = o->cap ? o->cap : CLI_MATCH_OUT_BLOCK * 2;
	while (cap - o->len < n)
		cap *= 2;
	char *nb = realloc(o->buf, cap);
	if (!nb) {
		o->err = -ENOMEM;
		return false;
	}
	o->buf = nb;
	o->cap = cap;
	return true;
}

static void match_out_put(struct match_out *o, const char *s, size_t n)
{
	if (match_out_reserve(o, n)) {
		memcpy(o->buf + o->len, s, n);
		o->len += n;
	}
}

static void match_out_u64(struct match_out *o, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	match_out_put(o, tmp + i, sizeof(tmp) - i);
}

/*
 * The line number as decimal text, counted up in place: cheaper than
 * formatting it for every line. Digits are right-aligned in digits[].
 */
struct match_lineno {
	char digits[24];
	size_t len;
};

static void match_lineno_next(struct match_lineno *n)
{
	char *end = n->digits + sizeof(n->digits);
	char *p = end;

	for (;;) {
		if (p == end - n->len) {
			*--p = '1';   /* a carry out of the top digit: one more digit */
			n->len++;
			return;
		}
		if (*--p != '9') {
			(*p)++;
			return;
		}
		*p = '0';
	}
}

static void match_out_lineno(struct match_out *o, const struct match_lineno *n)
{
	match_out_put(o, n->digits + sizeof(n->digits) - n->len, n->len);
}

/* Appends s as a JSON string literal (quotes included). */
static void match_out_json_string(struct match_out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	/* the longest escape is \u00XX: 6 bytes per input byte */
	if (!match_out_reserve(o, 6 * n + 2))
		return;
	char *w = o->buf + o->len;
	*w++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			if (c < 0x20) {
				memcpy(w, "\\u00", 4);
				w[4] = hex[c >> 4];
				w[5] = hex[c & 15];
				w += 6;
			} else {
				*w++ = (char)c;
			}
			continue;
		}
		*w++ = esc[0];
		*w++ = esc[1];
	}
	*w++ = '"';
	o->len = (size_t)(w - o->buf);
}

/* Writes what is gathered to stdout and flushes it. */
static void match_out_flush(struct match_out *o)
{
	if (o->err)
		return;
	if ((o->len && fwrite(o->buf, 1, o->len, stdout) != o->len) || fflush(stdout) != 0)
		o->err = errno ? -errno : -EIO;
	o->len = 0;
}

/* After each output line: write a full block, or the line on a terminal. */
static void match_out_line_done(struct match_out *o)
{
	if (o->per_line || o->len >= CLI_MATCH_OUT_BLOCK)
		match_out_flush(o);
}

/*
 * Every rule's name as a JSON string literal, made once so that an output
 * line is a few copies: names[id] points into one arena.
 */
struct match_names {
	char *arena;
	const char **name;
	size_t *len;
};

static int match_names_make(const struct ruleset *rs, struct match_names *ret)
{
	struct match_out o = {0};
	size_t *off = calloc(rs->n ? rs->n : 1, sizeof(*off));

	memset(ret, 0, sizeof(*ret));
	ret->name = calloc(rs->n ? rs->n : 1, sizeof(*ret->name));
	ret->len = calloc(rs->n ? rs->n : 1, sizeof(*ret->len));
	if (!off || !ret->name || !ret->len)
		goto out_nomem;
	for (size_t i = 0; i < rs->n; i++) {
		off[i] = o.len;
		match_out_json_string(&o, rs->rules[i].name, strlen(rs->rules[i].name));
		ret->len[i] = o.len - off[i];
	}
	if (o.err)
		goto out_nomem;
	ret->arena = o.buf;
	for (size_t i = 0; i < rs->n; i++)
		ret->name[i] = ret->arena + off[i];
	free(off);
	return 0;

out_nomem:
	free(o.buf);
	free(off);
	free(ret->name);
	free(ret->len);
	memset(ret, 0, sizeof(*ret));
	return -ENOMEM;
}

static void match_names_free(struct match_names *n)
{
	free(n->arena);
	free(n->name);
	free(n->len);
}

/*
 * match's reader thread: it fills blocks from stdin while the main thread
 * answers the lines of the block before, so that the copy out of the page
 * cache (a good part of the time on a file) overlaps the matching. Blocks go
 * round a ring of CLI_MATCH_BLOCKS: the reader fills block `fill` when it is
 * not full, and also notes where its newlines are; the main thread takes
 * block `take` when it is full, and gives it back once its lines are
 * answered (common/lines.c keeps the one line that runs into the next
 * block). The reader stops at the end of input or on a read
 * error; if the main thread stops first, it says so through `stop` and a
 * pipe the reader polls beside stdin, so that a reader waiting for a slow
 * producer wakes up too.
 */
struct match_reader {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *block[CLI_MATCH_BLOCKS];
	size_t len[CLI_MATCH_BLOCKS];
	uint32_t *nl[CLI_MATCH_BLOCKS];   /* offsets of the block's newlines */
	size_t nnl[CLI_MATCH_BLOCKS];
	bool nl_all[CLI_MATCH_BLOCKS];    /* every newline is in nl */
	bool full[CLI_MATCH_BLOCKS];
	unsigned fill, take;
	bool done;           /* end of input or an error: no blocks after the full ones */
	int err;             /* the read error, as a negative errno */
	bool stop;           /* the main thread has stopped reading */
	int stop_pipe[2];    /* written when it does */
	bool started;
};

static void *match_reader_run(void *arg)
{
	struct match_reader *r = arg;

	for (;;) {
		pthread_mutex_lock(&r->mu);
		while (r->full[r->fill] && !r->stop)
			pthread_cond_wait(&r->cv, &r->mu);
		bool stop = r->stop;
		pthread_mutex_unlock(&r->mu);
		if (stop)
			return NULL;
		struct pollfd pf[2] = {{STDIN_FILENO, POLLIN, 0}, {r->stop_pipe[0], POLLIN, 0}};
		while (poll(pf, 2, -1) < 0 && errno == EINTR)
			;
		if (pf[1].revents)
			return NULL;
		unsigned i = r->fill;
		ssize_t n;
		do
			n = read(STDIN_FILENO, r->block[i], CLI_MATCH_READ_BLOCK);
		while (n < 0 && errno == EINTR);
		int err = n < 0 ? -errno : 0;
		if (n > 0) {
			const char *b = r->block[i], *p = b, *e = b + n;
			size_t k = 0;
			while (k < CLI_MATCH_BLOCK_LINES && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
				r->nl[i][k++] = (uint32_t)(p - b);
				p++;
			}
			r->nnl[i] = k;
			r->nl_all[i] = k < CLI_MATCH_BLOCK_LINES;
		}
		pthread_mutex_lock(&r->mu);
		if (n > 0) {
			r->len[i] = (size_t)n;
			r->full[i] = true;
			r->fill = (i + 1) % CLI_MATCH_BLOCKS;
		} else {
			r->done = true;
			r->err = err;
		}
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		if (n <= 0)
			return NULL;
	}
}

static int match_reader_start(struct match_reader *r)
{
	int e;

	memset(r, 0, sizeof(*r));
	r->stop_pipe[0] = r->stop_pipe[1] = -1;
	for (unsigned i = 0; i < CLI_MATCH_BLOCKS; i++)
		if (!(r->block[i] = malloc(CLI_MATCH_READ_BLOCK)) ||
		    !(r->nl[i] = malloc(CLI_MATCH_BLOCK_LINES * sizeof(*r->nl[i]))))
			return -ENOMEM;
	if (pipe2(r->stop_pipe, O_CLOEXEC) < 0)
		return -errno;
	if ((e = pthread_mutex_init(&r->mu, NULL)) != 0)
		return -e;
	if ((e = pthread_cond_init(&r->cv, NULL)) != 0)
		goto out_destroy_mutex;
	if ((e = pthread_create(&r->thread, NULL, match_reader_run, r)) != 0)
		goto out_destroy_cond;
	r->started = true;
	return 0;

out_destroy_cond:
	pthread_cond_destroy(&r->cv);
out_destroy_mutex:
	pthread_mutex_destroy(&r->mu);
	return -e;
}

/* Stops the reader (whatever it is doing) and frees what it had. Accepts one never started. */
static void match_reader_stop(struct match_reader *r)
{
	if (r->started) {
		pthread_mutex_lock(&r->mu);
		r->stop = true;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		if (write(r->stop_pipe[1], "", 1) < 0) {
			/* a full pipe has been written already */
		}
		pthread_join(r->thread, NULL);
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		r->started = false;
	}
	for (int i = 0; i < 2; i++)
		if (r->stop_pipe[i] >= 0)
			close(r->stop_pipe[i]);
	r->stop_pipe[0] = r->stop_pipe[1] = -1;
	for (unsigned i = 0; i < CLI_MATCH_BLOCKS; i++) {
		free(r->block[i]);
		free(r->nl[i]);
	}
	memset(r->block, 0, sizeof(r->block));
	memset(r->nl, 0, sizeof(r->nl));
}

/*
 * The next full block into lines (lines_take_indexed()): 1, or 0 at the end
 * of input, or a negative errno from read(), or, when it would have to wait
 * and may not, -EAGAIN.
 */
static int match_reader_next(struct match_reader *r, struct lines *in, bool wait)
{
	pthread_mutex_lock(&r->mu);
	if (!r->full[r->take] && !r->done && !wait) {
		pthread_mutex_unlock(&r->mu);
		return -EAGAIN;
	}
	while (!r->full[r->take] && !r->done)
		pthread_cond_wait(&r->cv, &r->mu);
	int res = 1;
	unsigned i = r->take;
	if (r->full[i]) {
		lines_take_indexed(in, r->block[i], r->len[i], r->nl[i], r->nnl[i], r->nl_all[i]);
	} else {
		res = r->err;
	}
	pthread_mutex_unlock(&r->mu);
	return res;
}

/* Gives the block match_reader_next() returned back to the reader. */
static void match_reader_done(struct match_reader *r)
{
	pthread_mutex_lock(&r->mu);
	r->full[r->take] = false;
	r->take = (r->take + 1) % CLI_MATCH_BLOCKS;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/*
 * Reads stdin in blocks of CLI_MATCH_READ_BLOCK on a reader thread (lines
 * found in place with memchr by common/lines.c) and answers each line.
 * Output goes out in blocks; when stdin is not a regular file, what is
 * gathered is also flushed before waiting for the next block, so a slow
 * producer (tail -f | tripline match) sees its answers without waiting for
 * a full block.
 */
static int cmd_match(int argc, char **argv)
{
	const struct command *c = cli_find_command("match");
	static const struct option opts[] = {
		{"rules", required_argument, NULL, 'r'},
		{"eventbridge", no_argument, NULL, 'E'},
		{NULL, 0, NULL, 0},
	};
	enum pattern_dialect dialect = PATTERN_DIALECT_TRIPLINE;
	const char **paths = calloc((size_t)argc, sizeof(*paths));
	size_t npaths = 0;
	struct ruleset *rs = NULL;
	struct matcher *empty = NULL;
	struct match_scratch *s = NULL;
	struct match_names names = {0};
	struct match_out out = {0};
	struct lines in;
	struct match_reader reader = {.stop_pipe = {-1, -1}};
	struct stat st;
	bool in_regular, have_block = false;
	int opt, rc;

	lines_init(&in, CLI_MAX_EVENT_LINE);
	if (!paths)
		return EXIT_FAILURE_OTHER;
	if ((rc = cli_maybe_help(c, argc, argv)) >= 0)
		goto out;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'r': paths[npaths++] = optarg; break;
		case 'E': dialect = PATTERN_DIALECT_EVENTBRIDGE; break;
		default:
			rc = cli_usage_error(c, "unknown or incomplete option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc) {
		rc = cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (!npaths) {
		rc = cli_usage_error(c, "%s", "at least one --rules PATH is required");
		goto out;
	}
	int r = load_rules(paths, npaths, dialect, &rs);
	if (r < 0) {
		rc = r == -ENOMEM ? EXIT_FAILURE_OTHER : EXIT_BADINPUT;
		goto out;
	}
	/* with no enabled pattern, lines are still checked to be events */
	const struct matcher *m = rs->matcher;
	if (!m) {
		struct matcher_builder *b = matcher_builder_new(NULL);
		if (!b || matcher_build(b, &empty) < 0) {
			rc = EXIT_FAILURE_OTHER;
			goto out;
		}
		m = empty;
	}
	if (!(s = match_scratch_new()) || match_names_make(rs, &names) < 0) {
		fprintf(stderr, "%s: out of memory\n", cli_prog);
		rc = EXIT_FAILURE_OTHER;
		goto out;
	}
	out.per_line = isatty(STDOUT_FILENO);
	in_regular = fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode);
	if ((r = match_reader_start(&reader)) < 0) {
		fprintf(stderr, "%s: starting the reader: %s\n", cli_prog, strerror(-r));
		rc = EXIT_FAILURE_OTHER;
		goto out;
	}

	struct match_lineno lineno = {.len = 0};
	for (;;) {
		const char *line;
		size_t n;
		int k;

		while ((k = lines_next(&in, &line, &n)) != 0) {
			if (k == -ENOMEM) {
				match_out_flush(&out);
				fprintf(stderr, "%s: out of memory\n", cli_prog);
				rc = EXIT_FAILURE_OTHER;
				goto out;
			}
			match_lineno_next(&lineno);
			match_out_put(&out, "{\"line\": ", 9);
			match_out_lineno(&out, &lineno);
			if (k == -E2BIG) {
				match_out_put(&out, ", \"error\": \"line longer than ", 29);
				match_out_u64(&out, CLI_MAX_EVENT_LINE);
				match_out_put(&out, " bytes\"}\n", 9);
				match_out_line_done(&out);
				continue;
			}
			if (n && line[n - 1] == '\r')
				n--;
			const uint32_t *ids;
			int nids = matcher_match(m, line, n, s, &ids);
			if (nids < 0) {
				const char *why = nids == -ENOMEM ? "out of memory" : match_scratch_error(s);
				match_out_put(&out, ", \"error\": ", 11);
				match_out_json_string(&out, why, strlen(why));
				match_out_put(&out, "}\n", 2);
			} else {
				match_out_put(&out, ", \"matched\": [", 14);
				for (int i = 0; i < nids; i++) {
					if (i)
						match_out_put(&out, ", ", 2);
					match_out_put(&out, names.name[ids[i]], names.len[ids[i]]);
				}
				match_out_put(&out, "]}\n", 3);
			}
			match_out_line_done(&out);
		}
		if (out.err || lines_finished(&in))
			break;
		if (have_block) {
			match_reader_done(&reader);
			have_block = false;
		}
		int got = match_reader_next(&reader, &in, false);
		if (got == -EAGAIN) {
			/* waiting for the producer: what is answered goes out first */
			if (!in_regular && out.len) {
				match_out_flush(&out);
				if (out.err)
					break;
			}
			got = match_reader_next(&reader, &in, true);
		}
		if (got < 0) {
			match_out_flush(&out);
			fprintf(stderr, "%s: reading stdin: %s\n", cli_prog, strerror(-got));
			rc = EXIT_FAILURE_OTHER;
			goto out;
		}
		if (got == 0)
			lines_finish(&in);
		else
			have_block = true;
	}
	match_out_flush(&out);
	if (out.err) {
		fprintf(stderr, "%s: writing the output: %s\n", cli_prog, strerror(-out.err));
		rc = EXIT_FAILURE_OTHER;
		goto out;
	}
	rc = 0;
out:
	match_reader_stop(&reader);
	lines_free(&in);
	free(out.buf);
	match_names_free(&names);
	match_scratch_free(s);
	matcher_free(empty);
	ruleset_unref(rs);
	free(paths);
	return rc;
}

/* ------------------------------------------------------------ validate */

static int cmd_validate(int argc, char **argv)
{
	const struct command *c = cli_find_command("validate");
	static const struct option opts[] = {
		{"eventbridge", no_argument, NULL, 'E'},
		{NULL, 0, NULL, 0},
	};
	enum pattern_dialect dialect = PATTERN_DIALECT_TRIPLINE;
	struct ruleset *rs = NULL;
	int opt, rc;

	if ((rc = cli_maybe_help(c, argc, argv)) >= 0)
		return rc;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'E': dialect = PATTERN_DIALECT_EVENTBRIDGE; break;
		default: return cli_usage_error(c, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error(c, "%s", "at least one PATH is required");
	int r = load_rules((const char *const *)argv + optind, (size_t)(argc - optind), dialect, &rs);
	if (r < 0)
		return r == -ENOMEM ? EXIT_FAILURE_OTHER : EXIT_BADINPUT;

	size_t enabled = 0, patterns = 0, schedules = 0, targets = 0;
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *ru = &rs->rules[i];
		enabled += ru->enabled;
		patterns += ru->pattern_text != NULL;
		schedules += ru->schedule_text != NULL;
		targets += ru->ntargets;
	}
	printf("ok: %zu rule%s valid (%zu enabled; %zu with an event pattern, %zu with a schedule; %zu target%s)\n",
	       rs->n, rs->n == 1 ? "" : "s", enabled, patterns, schedules, targets,
	       targets == 1 ? "" : "s");
	ruleset_unref(rs);
	return 0;
}

/* ------------------------------------------------------------ serve */

static int cmd_serve(int argc, char **argv)
{
	const struct command *c = cli_find_command("serve");
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"log-level", required_argument, NULL, 'l'},
		{"log-format", required_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	static const char *const levels[] = {"debug", "info", "warn", "error"};
	struct serve_options so = {NULL, -1, -1};
	int opt, rc;

	if ((rc = cli_maybe_help(c, argc, argv)) >= 0)
		return rc;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			so.config_path = optarg;
			break;
		case 'l':
			for (int i = 0; i < 4; i++)
				if (strcmp(optarg, levels[i]) == 0)
					so.log_level = i;
			if (so.log_level < 0)
				return cli_usage_error(c, "--log-level must be debug, info, warn or error, not '%s'", optarg);
			break;
		case 'f':
			if (strcmp(optarg, "text") == 0)
				so.log_format = 0;
			else if (strcmp(optarg, "json") == 0)
				so.log_format = 1;
			else
				return cli_usage_error(c, "--log-format must be text or json, not '%s'", optarg);
			break;
		default:
			return cli_usage_error(c, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
	if (!so.config_path)
		return cli_usage_error(c, "%s", "--config FILE is required");
	return serve_main(&so);
}

/* ------------------------------------------------------------ dispatch */

int cli_main(int argc, char **argv)
{
	if (argc < 2) {
		print_overview(stderr);
		return EXIT_BADINPUT;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		return cmd_version(1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(1, argv + 1);
	const struct command *c = cli_find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "%s: unknown command '%s' (try 'tripline help')\n", cli_prog, argv[1]);
		return EXIT_BADINPUT;
	}
	return c->run(argc - 1, argv + 1);
}
