/*
 * ruleset.h — rule files loaded, validated and compiled into one immutable,
 * refcounted set.
 *
 * A rule file (DESIGN.md §4) holds one rule object — the AWS::Events::Rule
 * Properties shape — or {"Rules": [ … ]}. ruleset_load() reads files and
 * directories, validates every field of every rule the way EventBridge does
 * (plus tripline's extensions: CatchUp, the task target's Action, Dedup,
 * RateLimit, {"regex"} in patterns), and compiles the EventPattern of every
 * enabled rule into one matcher.
 *
 * Errors are for a person to fix and all of them are reported, each as
 *
 *     <file>: <json pointer>: <message>
 *     rules/upload.json: /Targets/0/EcsParameters/TaskCount: must be an integer from 1 to 10
 *
 * An error about the document as a whole (the RFC 6901 pointer "") is written
 * right after the file name: `<file>: <message>`; JSON syntax errors say
 * `<file>: invalid JSON at line L, column C: <reason>`; I/O errors say
 * `<file>: <strerror>`. A pointer into an EventPattern given as a string
 * continues into the JSON held by that string (/EventPattern/detail/key).
 * Loading is all-or-nothing: a file with any error is rejected whole, and
 * when any file was rejected ruleset_load() returns -EINVAL and no ruleset,
 * so a reloading caller keeps the set it has.
 *
 * Lifecycle: a loaded ruleset starts with one reference; ruleset_ref() adds
 * one (in-flight events hold one each), ruleset_unref() drops one and frees
 * the set at zero. References may be taken and dropped from any thread; the
 * set itself is never modified after loading. Nothing here logs.
 */
#ifndef TRIPLINE_RULES_RULESET_H
#define TRIPLINE_RULES_RULESET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errlist.h"
#include "matcher.h"
#include "pattern.h"

struct schedule;
struct transform;

#define RULESET_DEFAULT_MAX_RULES 100000u
#define RULESET_DEFAULT_MAX_TARGETS 100u
#define RULESET_DEFAULT_MAX_PATTERN_BYTES ((size_t)64 << 10)
#define RULESET_DEFAULT_MAX_FILE_BYTES ((size_t)16 << 20)
/* UpdateService's DesiredCount, MinCapacity and MaxCapacity: at most the
 * core's ORCH_MAX_SERVICE_DESIRED (engine/orch/orch.h; a unit test checks). */
#define RULESET_MAX_DESIRED_COUNT 1000u

/* Loading options; a zeroed struct (or NULL) means the defaults. */
struct ruleset_options {
	enum pattern_dialect dialect;   /* default PATTERN_DIALECT_TRIPLINE */
	size_t max_rules;               /* in the whole set; 0 = 100,000 */
	size_t max_targets_per_rule;    /* 0 = 100 */
	size_t max_pattern_bytes;       /* EventPattern, compact text; 0 = 64 KiB */
	size_t max_file_bytes;          /* one rule file; 0 = 16 MiB */
	struct matcher_limits matcher;  /* limits on events, see matcher.h */
};

/* Picked by the target's Arn (DESIGN.md §4). */
enum target_kind {
	TARGET_TASK,   /* arn:aws:ecs:REGION:ACCOUNT:cluster/NAME or cluster/NAME */
	TARGET_HTTP,   /* http://… or https://… */
	TARGET_KAFKA,  /* kafka:TOPIC */
	TARGET_FILE,   /* file:PATH or file:///ABSOLUTE/PATH */
	TARGET_BUS,    /* arn:aws:events:REGION:ACCOUNT:event-bus/NAME */
};

/* What the target receives: the event, or Input / InputPath / InputTransformer. */
enum target_input {
	TARGET_INPUT_EVENT,
	TARGET_INPUT_CONSTANT,
	TARGET_INPUT_PATH,
	TARGET_INPUT_TRANSFORMER,
};

/* EcsParameters.Action, a tripline extension; RUN_TASK for non-task targets. */
enum target_action {
	TARGET_ACTION_RUN_TASK,
	TARGET_ACTION_STOP_TASK,
	TARGET_ACTION_UPDATE_SERVICE,
};

/*
 * CatchUp (tripline extension, schedules only): what a schedule does about
 * fire times missed while no replica was running. NONE skips them, LATEST
 * fires once for the most recent missed time, ALL fires once for each missed
 * time (bounded by the dispatcher's own limits).
 */
enum rule_catch_up {
	RULE_CATCH_UP_NONE,
	RULE_CATCH_UP_LATEST,
	RULE_CATCH_UP_ALL,
};

struct rule_target {
	char *id;
	char *arn;                 /* as written */
	enum target_kind kind;
	char *resource;            /* TASK: cluster name; HTTP: the URL; KAFKA: topic;
				      FILE: the path; BUS: the bus name */
	char *json;                /* the whole target object's exact source text */
	size_t json_len;
	enum target_input input;
	struct transform *transform; /* the input compiled (transform.h); never NULL once loaded */
	enum target_action action;
	uint32_t task_count;       /* RunTask: EcsParameters.TaskCount (default 1) */
	struct {
		uint32_t max_attempts;  /* MaximumRetryAttempts, default 185 */
		uint32_t max_age_s;     /* MaximumEventAgeInSeconds, default 86400 */
	} retry;
	char *dead_letter_arn;     /* DeadLetterConfig.Arn, or NULL */
	struct {
		char *key;              /* Dedup.Key JSONPath, or NULL: no dedup */
		struct transform *path; /* the same compiled (an InputPath), or NULL */
		uint32_t window_s;      /* Dedup.WindowSeconds, default 600 */
	} dedup;
	uint32_t max_concurrency;  /* MaxConcurrency (extension): attempts in flight at once;
				      0: the config's delivery.max_concurrency */
	struct {
		double per_second;      /* RateLimit.PerSecond, or 0: no limit */
		uint32_t burst;         /* RateLimit.Burst, default ceil(per_second) */
	} rate;
};

struct rule {
	char *name;
	char *file;                /* the file (or name given to ruleset_from_text) */
	char *where;               /* its JSON pointer in the file: "" or "/Rules/N" */
	char *description;         /* or NULL */
	bool enabled;              /* State ENABLED (or ENABLED_WITH_ALL_…) */
	char *event_bus;           /* EventBusName's bus name; "default" when absent */
	char *pattern_text;        /* EventPattern, compact (whitespace outside strings
				      dropped, tokens as written), or NULL */
	size_t pattern_len;
	char *schedule_text;       /* ScheduleExpression as written, or NULL */
	struct schedule *schedule; /* parsed ScheduleExpression, or NULL */
	char *timezone;            /* ScheduleExpressionTimezone, or NULL (UTC) */
	uint32_t flexible_window_min; /* FlexibleTimeWindow: 0 = OFF */
	bool has_start_date, has_end_date;
	int64_t start_date, end_date; /* seconds since the epoch (UTC) */
	enum rule_catch_up catch_up;
	size_t ntargets;
	struct rule_target *targets;
};

struct ruleset {
	size_t n;
	struct rule *rules;        /* sorted by name, bytewise; names are unique */
	/* Every enabled rule with an EventPattern; id = index into rules[]. */
	struct matcher *matcher;
	atomic_size_t refs;        /* private: use ruleset_ref()/ruleset_unref() */
};

/*
 * Loads every path (a file, or a directory: every regular *.json file below
 * it, recursively, names starting with '.' skipped, in sorted order; a file
 * named explicitly is read whatever its name). 0 and *ret (one reference,
 * the caller's); -EINVAL when any file had an error, each appended to errs;
 * -ENOMEM. On failure *ret is NULL.
 */
int ruleset_load(const char *const *paths, size_t npaths, const struct ruleset_options *opt,
		 struct ruleset **ret, struct errlist *errs);

/* The same for one document held in memory; name stands for the file name. */
int ruleset_from_text(const char *name, const char *text, size_t len,
		      const struct ruleset_options *opt, struct ruleset **ret,
		      struct errlist *errs);

struct ruleset *ruleset_ref(struct ruleset *rs);
/* Drops one reference; frees the set at zero. NULL is fine. */
void ruleset_unref(struct ruleset *rs);

/* The rule named name, or NULL. */
const struct rule *ruleset_find(const struct ruleset *rs, const char *name);

/*
 * Matches one event (JSON text) against the enabled pattern rules: returns
 * the number of matching rules and points *ret_rule_indexes at their indexes
 * into rs->rules, ascending (so in name order), valid until the next call
 * with s. Errors as matcher_match(): -EINVAL, -E2BIG (see match_scratch_error()).
 */
int ruleset_match(const struct ruleset *rs, const char *json, size_t len,
		  struct match_scratch *s, const uint32_t **ret_rule_indexes);

/* "task", "http", "kafka", "file", "bus". */
const char *target_kind_name(enum target_kind k);

#endif
