/*
 * cli_transform.c — `tripline transform`: what a rule's target would
 * receive for an event, printed exactly (rules/transform.h), so a user can
 * try a transformer before trusting it, as in EventBridge's console
 * sandbox. A local command: no daemon is needed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_local.h"
#include "json.h"
#include "transform.h"

#define EXIT_BADINPUT CLI_EXIT_BADINPUT
#define EXIT_FAILURE_OTHER CLI_EXIT_FAILURE

/* Parses an InputPathsMap into names[] and paths[] (pointers into doc); 0,
 * or EXIT_BADINPUT with a message. */
static int transform_map(const char *text, size_t len, struct jdoc **ret_doc,
			 const char ***ret_names, const char ***ret_paths, size_t *ret_n)
{
	const struct jnode *root;
	struct json_error je;
	const char *why;

	if (jdoc_parse(text, len, NULL, ret_doc, &je) < 0) {
		fprintf(stderr, "%s transform: invalid --input-paths-map: invalid JSON at line %u, column %u: %s\n",
			cli_prog, je.line, je.column, je.message);
		return EXIT_BADINPUT;
	}
	root = jdoc_root(*ret_doc);
	if (root->type != JNODE_OBJECT) {
		fprintf(stderr, "%s transform: invalid --input-paths-map: must be a JSON object of names to JSONPaths\n",
			cli_prog);
		return EXIT_BADINPUT;
	}
	*ret_names = calloc(root->len + 1, sizeof(**ret_names));
	*ret_paths = calloc(root->len + 1, sizeof(**ret_paths));
	if (!*ret_names || !*ret_paths) {
		fprintf(stderr, "%s: out of memory\n", cli_prog);
		return EXIT_FAILURE_OTHER;
	}
	for (size_t i = 0; i < root->len; i++) {
		const struct jmember *m = &root->u.members[i];
		const char *what = "";
		/* checked here, with their lengths, in case one holds U+0000 */
		if (!(why = transform_name_problem(m->key, m->key_len))) {
			if (m->value->type != JNODE_STRING)
				why = "must be a string";
			else if ((why = transform_path_problem(m->value->u.str, m->value->len)))
				what = "invalid JSONPath: ";
		}
		if (why) {
			fprintf(stderr, "%s transform: invalid transformer: InputPathsMap: %.*s: %s%s\n",
				cli_prog, (int)m->key_len, m->key, what, why);
			return EXIT_BADINPUT;
		}
		(*ret_names)[i] = m->key;
		(*ret_paths)[i] = m->value->u.str;
	}
	*ret_n = root->len;
	return 0;
}

int cli_cmd_transform(int argc, char **argv)
{
	const struct command *c = cli_find_command("transform");
	static const struct option opts[] = {
		{"event", required_argument, NULL, 'e'},
		{"input", required_argument, NULL, 'i'},
		{"input-path", required_argument, NULL, 'p'},
		{"input-paths-map", required_argument, NULL, 'm'},
		{"input-template", required_argument, NULL, 't'},
		{"rule-name", required_argument, NULL, 'n'},
		{"rule-arn", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	const char *event_arg = NULL, *input_arg = NULL, *map_arg = NULL;
	const char *rule_name = CLI_TRANSFORM_RULE, *rule_arn = NULL;
	struct transform_spec spec = {0};
	char *etext = NULL, *itext = NULL, *mtext = NULL, *out = NULL, arn[512], now[32], why[256];
	size_t elen, ilen, mlen, olen;
	const char **names = NULL, **paths = NULL;
	struct jdoc *map_doc = NULL, *event_doc = NULL;
	struct transform *t = NULL;
	struct json_error je;
	int opt, rc, r;

	if ((rc = cli_maybe_help(c, argc, argv)) >= 0)
		return rc;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'e': event_arg = optarg; break;
		case 'i': input_arg = optarg; break;
		case 'p': spec.input_path = optarg; break;
		case 'm': map_arg = optarg; break;
		case 't':
			spec.template_text = optarg;
			spec.template_len = strlen(optarg);
			break;
		case 'n': rule_name = optarg; break;
		case 'a': rule_arn = optarg; break;
		default: return cli_usage_error(c, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
	if (!event_arg)
		return cli_usage_error(c, "%s", "--event is required");
	if (!!input_arg + !!spec.input_path + !!(map_arg || spec.template_text) > 1)
		return cli_usage_error(c, "%s", "use one of --input, --input-path, or --input-paths-map with --input-template");
	if (map_arg && !spec.template_text)
		return cli_usage_error(c, "%s", "--input-paths-map needs --input-template");

	if ((rc = cli_load_arg("event", event_arg, &etext, &elen)) != 0 ||
	    (input_arg && (rc = cli_load_arg("input", input_arg, &itext, &ilen)) != 0) ||
	    (map_arg && (rc = cli_load_arg("input-paths-map", map_arg, &mtext, &mlen)) != 0))
		goto out;
	if (mtext && (rc = transform_map(mtext, mlen, &map_doc, &names, &paths, &spec.n_paths)) != 0)
		goto out;
	spec.names = names;
	spec.paths = paths;
	spec.input = itext;
	spec.input_len = itext ? ilen : 0;
	if ((r = transform_compile(&spec, &t, why, sizeof(why))) < 0) {
		bool tpl = spec.template_text && strncmp(why, "Input", 5) != 0;
		fprintf(stderr, "%s transform: invalid transformer: %s%s\n", cli_prog,
			tpl ? "InputTemplate: " : "", why);
		rc = r == -ENOMEM ? EXIT_FAILURE_OTHER : EXIT_BADINPUT;
		goto out;
	}
	/* a precise place for what is wrong with the event */
	if ((r = jdoc_parse(etext, elen, NULL, &event_doc, &je)) < 0) {
		if (r == -ENOMEM)
			fprintf(stderr, "%s: out of memory\n", cli_prog);
		else
			fprintf(stderr, "%s transform: invalid event: invalid JSON at line %u, column %u: %s\n",
				cli_prog, je.line, je.column, je.message);
		rc = r == -ENOMEM ? EXIT_FAILURE_OTHER : EXIT_BADINPUT;
		goto out;
	}
	if (!rule_arn) {
		snprintf(arn, sizeof(arn), "arn:aws:events:local:000000000000:rule/%s", rule_name);
		rule_arn = arn;
	}
	time_t tnow = time(NULL);
	struct tm tm;
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tnow, &tm));
	struct transform_ctx ctx = {
		.event = etext, .event_len = elen, .rule_name = rule_name, .rule_arn = rule_arn,
		.ingestion_time = now,
	};
	if ((r = transform_render(t, &ctx, &out, &olen)) < 0) {
		fprintf(stderr, "%s transform: %s\n", cli_prog,
			r == -E2BIG ? "the output would be larger than the limit (1 MiB, or twice the event)"
			: r == -ENOMEM ? "out of memory" : "invalid event");
		rc = r == -ENOMEM ? EXIT_FAILURE_OTHER : EXIT_BADINPUT;
		goto out;
	}
	fwrite(out, 1, olen, stdout);
	putchar('\n');
	rc = fflush(stdout) == 0 ? 0 : EXIT_FAILURE_OTHER;
out:
	free(out);
	transform_free(t);
	jdoc_free(event_doc);
	jdoc_free(map_doc);
	free(names);
	free(paths);
	free(etext);
	free(itext);
	free(mtext);
	return rc;
}

