/*
 * cli_schedule.c — `tripline schedule next`: the next fire times of a
 * ScheduleExpression, so a user can check a cron() before trusting it.
 *
 *   tripline schedule next EXPR [--tz TZ] [--after TIME] [--count N] [--anchor TIME]
 *
 * prints the fire times strictly after --after (default now), one RFC 3339
 * UTC instant per line, at most --count (default 5, 1 to 1000). For rate()
 * the fires are anchor + k·period for k ≥ 1 — the anchor is when the rule
 * was created, not a fire — and the anchor defaults to --after. TIME is ISO
 * 8601 with a zone (2026-12-07T09:00:00Z, …+01:00) or a date alone. Exit
 * codes: 0 at least one fire time printed; 1 none left (an at() in the
 * past), nothing printed; 2 an invalid expression, zone, time or option,
 * with a message. A local command: no daemon is needed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calendar.h"
#include "cli.h"
#include "cli_local.h"
#include "event.h"
#include "schedule.h"

#define SCHEDULE_CLI_MAX_COUNT 1000

static int parse_instant(const struct command *c, const char *opt, const char *arg, int64_t *ret)
{
	if (calendar_parse_iso8601(arg, ret) < 0)
		return cli_usage_error(c, "%s: not an RFC 3339 time with a zone (2026-12-07T09:00:00Z): '%s'", opt,
				       arg);
	return 0;
}

int cli_cmd_schedule(int argc, char **argv)
{
	static const struct option opts[] = {
		{"tz", required_argument, NULL, 'z'},
		{"after", required_argument, NULL, 'a'},
		{"count", required_argument, NULL, 'n'},
		{"anchor", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	const struct command *c = cli_find_command("schedule");
	const char *tz = NULL;
	int64_t after = (int64_t)time(NULL), anchor = 0;
	bool has_anchor = false;
	long count = 5;
	char err[256];
	int opt, rc;

	if ((rc = cli_maybe_help(c, argc, argv)) >= 0)
		return rc;
	if (argc < 2 || strcmp(argv[1], "next") != 0)
		return cli_usage_error(c, argc < 2 ? "a subcommand is required" : "unknown subcommand '%s'",
				       argc < 2 ? "" : argv[1]);
	argc--;
	argv++;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		switch (opt) {
		case 'z': tz = optarg; break;
		case 'a':
			if ((rc = parse_instant(c, "--after", optarg, &after)) != 0)
				return rc;
			break;
		case 'r':
			if ((rc = parse_instant(c, "--anchor", optarg, &anchor)) != 0)
				return rc;
			has_anchor = true;
			break;
		case 'n':
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || count < 1 || count > SCHEDULE_CLI_MAX_COUNT)
				return cli_usage_error(c, "--count: must be a number from 1 to %d", SCHEDULE_CLI_MAX_COUNT);
			break;
		default: return cli_usage_error(c, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error(c, optind >= argc ? "an expression is required" : "too many arguments");
	const char *expr = argv[optind];
	if (tz && !schedule_tz_valid(tz)) {
		fprintf(stderr, "%s schedule: invalid time zone '%s': not an IANA zone name found in %s\n", cli_prog, tz,
			SCHEDULE_ZONEINFO_DIR);
		return CLI_EXIT_BADINPUT;
	}
	struct schedule *s = NULL;
	if (strlen(expr) > SCHEDULE_MAX_EXPR || schedule_parse(expr, strlen(expr), &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s schedule: invalid expression '%s': %s\n", cli_prog, expr,
			strlen(expr) > SCHEDULE_MAX_EXPR ? "longer than 256 bytes" : err);
		return CLI_EXIT_BADINPUT;
	}
	if (!has_anchor)
		anchor = after;
	/* rate(): the anchor is not a fire, so the first one is strictly after it */
	int64_t t = schedule_get_kind(s) == SCHEDULE_RATE && anchor > after ? anchor : after;
	long printed = 0;
	int r = 0;
	for (; printed < count; printed++) {
		int64_t next;
		char text[32];
		if ((r = schedule_next(s, tz, anchor, t, &next)) < 0)
			break;
		event_time_text(next, text);
		printf("%s\n", text);
		t = next;
	}
	schedule_free(s);
	if (r < 0 && r != -ENOENT) {
		fprintf(stderr, "%s schedule: %s\n", cli_prog,
			r == -ERANGE ? "the times are out of range" : strerror(-r));
		return CLI_EXIT_BADINPUT;
	}
	if (fflush(stdout) != 0)
		return CLI_EXIT_FAILURE;
	return printed ? 0 : CLI_EXIT_NEGATIVE;
}
