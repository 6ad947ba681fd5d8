/*
 * dlq.c — `tripline dlq list FILE` and `tripline dlq redrive FILE`: a
 * dead-letter file (engine/dlq.h; its line format is in engine/README.md,
 * "Dispatch and dead letters") read locally, and its dead letters dispatched
 * through the daemon's Tripline.RedriveDeadLetter, each to its own rule and
 * target only, with its original event id.
 *
 * What was redriven is recorded next to the file, in FILE.redriven: one
 * line per redriven dead letter, the hex SHA-256 of its line (without the
 * line break), appended and fsync'd as soon as the daemon accepted it, so a
 * second redrive (or one interrupted half-way and run again) skips it. A
 * dead letter whose redrive fails again is written as a new line, which is
 * redriven by the next run. Lines that do not parse (a torn last line) are
 * reported on stderr and skipped.
 *
 * Exit codes (cli.h): list: 0, 2 (the file cannot be read); redrive: 0
 * every dead letter tried was accepted, 1 the daemon refused some (an
 * unknown rule or target: printed), 2 usage or file errors, 3 no answer.
 */
#include "remote.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "digest.h"
#include "json.h"
#include "strmap.h"

#define DLQ_MAX_LINE ((size_t)4 << 20)   /* a line longer than this is skipped */

const char cli_remote_dlq_usage[] =
	"usage: tripline dlq list FILE [--output table|json]\n"
	"       tripline dlq redrive FILE [--rule NAME]\n"
	"\n"
	"A dead-letter file (a target's DeadLetterConfig \"file:PATH\": one JSON line\n"
	"per dead letter; the format is in engine/README.md, \"Dispatch and dead\n"
	"letters\").\n"
	"\n"
	"  list     prints the dead letters (read locally, no daemon): TIME, RULE,\n"
	"           TARGET, EVENT ID, ERROR CODE, RETRIES, EXHAUSTED, REDRIVEN,\n"
	"           MESSAGE; --output json prints {\"DeadLetters\": [the lines, each\n"
	"           with \"redriven\": true|false]}.\n"
	"  redrive  dispatches each dead letter not redriven yet again, to its own\n"
	"           rule and target only (Tripline.RedriveDeadLetter), keeping its\n"
	"           event id; --rule NAME only that rule's. What was redriven is\n"
	"           recorded in FILE.redriven, so it is not redriven twice.\n"
	"\n" REMOTE_COMMON_HELP;

/* ------------------------------------------------------------ reading the file */

struct key {
	struct strmap_node node;
	char hex[DIGEST_SHA256_HEX_LEN + 1];
};

struct dlq_file {
	const char *path;
	char *redriven_path;
	struct strmap redriven;      /* keys already redriven */
	struct key **keys;
	size_t nkeys, cap;
};

static void line_key(const char *line, size_t len, char hex[DIGEST_SHA256_HEX_LEN + 1])
{
	unsigned char md[DIGEST_SHA256_LEN];

	if (digest_sha256(line, len, md) < 0)
		memset(md, 0, sizeof(md));
	digest_hex(md, sizeof(md), hex);
}

static int add_key(struct dlq_file *f, const char *hex)
{
	struct key *k;

	if (strmap_find(&f->redriven, hex))
		return 0;
	if (f->nkeys == f->cap) {
		size_t nc = f->cap ? 2 * f->cap : 64;
		struct key **v = realloc(f->keys, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		f->keys = v;
		f->cap = nc;
	}
	if (!(k = calloc(1, sizeof(*k))))
		return -ENOMEM;
	snprintf(k->hex, sizeof(k->hex), "%s", hex);
	if (strmap_insert(&f->redriven, &k->node, k->hex) < 0) {
		free(k);
		return -ENOMEM;
	}
	f->keys[f->nkeys++] = k;
	return 0;
}

static void file_clear(struct dlq_file *f)
{
	for (size_t i = 0; i < f->nkeys; i++)
		free(f->keys[i]);
	free(f->keys);
	strmap_clear(&f->redriven);
	free(f->redriven_path);
}

static FILE *open_letters(const struct remote *rc, struct dlq_file *f, const char *path, int *rc_)
{
	FILE *in, *rd;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	memset(f, 0, sizeof(*f));
	f->path = path;
	if (asprintf(&f->redriven_path, "%s.redriven", path) < 0) {
		f->redriven_path = NULL;
		*rc_ = remote_nomem(rc);
		return NULL;
	}
	if (!(in = fopen(path, "re"))) {
		remote_say(rc, "%s: %s", path, strerror(errno));
		*rc_ = CLI_EXIT_BADINPUT;
		return NULL;
	}
	if ((rd = fopen(f->redriven_path, "re"))) {
		while ((n = getline(&line, &cap, rd)) > 0) {
			if (line[n - 1] == '\n')
				line[--n] = '\0';
			if (n == DIGEST_SHA256_HEX_LEN && add_key(f, line) < 0) {
				*rc_ = remote_nomem(rc);
				fclose(rd);
				fclose(in);
				free(line);
				return NULL;
			}
		}
		fclose(rd);
	} else if (errno != ENOENT) {
		remote_say(rc, "%s: %s", f->redriven_path, strerror(errno));
		*rc_ = CLI_EXIT_BADINPUT;
		fclose(in);
		return NULL;
	}
	free(line);
	return in;
}

/* Opens the file and reads FILE.redriven. The stream, or NULL with the exit
 * code in *rc_ (f then cleared). */
static FILE *file_open(const struct remote *rc, struct dlq_file *f, const char *path, int *rc_)
{
	FILE *in = open_letters(rc, f, path, rc_);

	if (!in)
		file_clear(f);
	return in;
}

/* One dead letter as read. */
struct letter {
	size_t lineno;
	const char *line;            /* without its line break */
	size_t len;
	json_t *j;                   /* the parsed line */
	char key[DIGEST_SHA256_HEX_LEN + 1];
	bool redriven;
};

/*
 * Calls fn for every dead letter of in, in order; lines that do not parse
 * are reported and skipped. fn returns 0 to go on, else the exit code to
 * stop with. Returns 0 or that code.
 */
static int each_letter(const struct remote *rc, struct dlq_file *f, FILE *in,
		       int (*fn)(const struct remote *rc, struct dlq_file *f, const struct letter *l, void *arg),
		       void *arg)
{
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int r = 0;

	while (!r && (n = getline(&line, &cap, in)) > 0) {
		struct letter l = {.lineno = ++lineno, .line = line};
		json_error_t je;

		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0)
			continue;
		l.len = (size_t)n;
		if ((size_t)n > DLQ_MAX_LINE || !(l.j = json_loadb(line, (size_t)n, 0, &je)) || !json_is_object(l.j) ||
		    !json_is_object(json_object_get(l.j, "event")) ||
		    !json_is_string(json_object_get(l.j, "rule")) || !json_is_string(json_object_get(l.j, "target_id"))) {
			fprintf(stderr, "tripline dlq %s: %s:%zu: not a dead-letter line, skipped\n", rc->sub, f->path,
				lineno);
			json_decref(l.j);
			continue;
		}
		line_key(line, (size_t)n, l.key);
		l.redriven = strmap_find(&f->redriven, l.key) != NULL;
		r = fn(rc, f, &l, arg);
		json_decref(l.j);
	}
	if (!r && ferror(in)) {
		remote_say(rc, "%s: %s", f->path, strerror(errno));
		r = CLI_EXIT_FAILURE;
	}
	free(line);
	return r;
}

/* ------------------------------------------------------------ list */

struct list_out {
	struct table t;
	json_t *all;
};

static int list_one(const struct remote *rc, struct dlq_file *f, const struct letter *l, void *arg)
{
	struct list_out *o = arg;
	char retries[32];

	(void)f;
	if (o->all) {
		json_t *c = json_deep_copy(l->j);
		if (!c || json_object_set_new(c, "redriven", json_boolean(l->redriven)) < 0 ||
		    json_array_append_new(o->all, c) < 0)
			return remote_nomem(rc);
		return 0;
	}
	const json_t *ev = json_object_get(l->j, "event");
	const char *row[] = {
		cell_str(l->j, "time"),
		cell_str(l->j, "rule"),
		cell_str(l->j, "target_id"),
		cell_str(ev, "id"),
		cell_str(l->j, "ERROR_CODE"),
		cell_num(l->j, "RETRY_ATTEMPTS", retries, sizeof(retries)),
		cell_str(l->j, "EXHAUSTED_RETRY_CONDITION"),
		l->redriven ? "yes" : "no",
		cell_str(l->j, "ERROR_MESSAGE"),
	};
	table_add(&o->t, row);
	return 0;
}

static int dlq_list(struct remote *rc, const struct remote_args *a)
{
	static const char *const header[] = {"TIME", "RULE", "TARGET", "EVENT ID", "ERROR CODE", "RETRIES",
					     "EXHAUSTED", "REDRIVEN", "MESSAGE"};
	struct list_out o = {0};
	struct dlq_file f;
	int rc_ = 0;
	FILE *in = file_open(rc, &f, a->pos[0], &rc_);

	if (!in)
		return rc_;
	if (rc->output == OUTPUT_JSON) {
		if (!(o.all = json_array())) {
			rc_ = remote_nomem(rc);
			goto out;
		}
	} else {
		table_init(&o.t, REMOTE_NELEMS(header), header);
	}
	rc_ = each_letter(rc, &f, in, list_one, &o);
	if (o.all) {
		json_t *top = json_pack("{s:O}", "DeadLetters", o.all);
		if (!rc_ && top)
			remote_print_json(top);
		else if (!rc_)
			rc_ = remote_nomem(rc);
		json_decref(top);
		json_decref(o.all);
	} else {
		int r = table_flush(rc, &o.t);
		if (!rc_)
			rc_ = r;
	}
out:
	fclose(in);
	file_clear(&f);
	return rc_;
}

/* ------------------------------------------------------------ redrive */

struct redrive_state {
	const char *rule;            /* --rule, or NULL */
	size_t redriven, skipped, failed;
	int record_fd;
};

/* The envelope's own text out of the line (the bytes that were dispatched). */
static int event_text(const struct letter *l, char **ret)
{
	struct jdoc *doc = NULL;
	const struct jnode *ev;
	int r = -EINVAL;

	*ret = NULL;
	if (jdoc_parse(l->line, l->len, NULL, &doc, NULL) == 0 && (ev = jnode_get(jdoc_root(doc), "event")) &&
	    ev->type == JNODE_OBJECT) {
		r = (*ret = strndup(l->line + ev->offset, ev->end - ev->offset)) ? 0 : -ENOMEM;
	}
	jdoc_free(doc);
	return r;
}

static int record(const struct remote *rc, struct dlq_file *f, struct redrive_state *st, const char *key)
{
	char buf[DIGEST_SHA256_HEX_LEN + 2];
	int n = snprintf(buf, sizeof(buf), "%s\n", key);

	if (st->record_fd < 0 &&
	    (st->record_fd = open(f->redriven_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0) {
		remote_say(rc, "%s: %s", f->redriven_path, strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	if (write(st->record_fd, buf, (size_t)n) != n || fsync(st->record_fd) < 0) {
		remote_say(rc, "%s: %s", f->redriven_path, strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	return 0;
}

static int redrive_one(const struct remote *rc, struct dlq_file *f, const struct letter *l, void *arg)
{
	struct redrive_state *st = arg;
	const char *rule = json_string_value(json_object_get(l->j, "rule"));
	const char *target = json_string_value(json_object_get(l->j, "target_id"));
	const char *bus = json_string_value(json_object_get(l->j, "bus"));
	const char *id = json_string_value(json_object_get(json_object_get(l->j, "event"), "id"));
	json_t *req = NULL, *resp = NULL;
	char *text = NULL;
	int r;

	if (st->rule && strcmp(st->rule, rule) != 0)
		return 0;
	if (l->redriven || strmap_find(&f->redriven, l->key)) {
		st->skipped++;
		return 0;
	}
	if ((r = event_text(l, &text)) < 0) {
		if (r == -ENOMEM)
			return remote_nomem(rc);
		fprintf(stderr, "tripline dlq redrive: %s:%zu: not a dead-letter line, skipped\n", f->path, l->lineno);
		return 0;
	}
	req = json_pack("{s:s, s:s, s:s}", "Event", text, "RuleName", rule, "TargetId", target);
	free(text);
	if (!req || (bus && json_object_set_new(req, "EventBusName", json_string(bus)) < 0)) {
		json_decref(req);
		return remote_nomem(rc);
	}
	r = remote_call(rc, "Tripline.RedriveDeadLetter", req, &resp);
	json_decref(req);
	json_decref(resp);
	if (r == CLI_EXIT_BADINPUT) {   /* refused (printed): this one only */
		st->failed++;
		return 0;
	}
	if (r)
		return r;
	if ((r = record(rc, f, st, l->key)) != 0 || (r = add_key(f, l->key)) < 0)
		return r < 0 ? remote_nomem(rc) : r;
	st->redriven++;
	printf("redriven: event %s to rule %s target %s\n", id ? id : "-", rule, target);
	return 0;
}

static int dlq_redrive(struct remote *rc, const struct remote_args *a)
{
	struct redrive_state st = {.rule = a->val[OPT_RULE], .record_fd = -1};
	struct dlq_file f;
	int rc_ = 0;
	FILE *in = file_open(rc, &f, a->pos[0], &rc_);

	if (!in)
		return rc_;
	rc_ = each_letter(rc, &f, in, redrive_one, &st);
	fclose(in);
	if (st.record_fd >= 0)
		close(st.record_fd);
	file_clear(&f);
	printf("%zu redriven, %zu already redriven, %zu refused\n", st.redriven, st.skipped, st.failed);
	if (!rc_ && st.failed)
		rc_ = CLI_EXIT_NEGATIVE;
	return rc_;
}

static const struct remote_subcmd dlq_subs[] = {
	{"list", dlq_list, 0, 1, 1, false, "FILE"},
	{"redrive", dlq_redrive, OPTBIT(OPT_RULE), 1, 1, false, "FILE"},
};

int cli_remote_dlq(int argc, char **argv)
{
	static const struct remote_group g = {"dlq", cli_remote_dlq_usage, dlq_subs, REMOTE_NELEMS(dlq_subs), NULL};
	return remote_run_group(&g, argc, argv);
}
