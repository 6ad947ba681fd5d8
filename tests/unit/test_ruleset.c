/*
 * test_ruleset.c — loading and validating rule files (rules/ruleset.c).
 *
 * The files under tests/data/rules/ (see its README.md) are loaded by their
 * path relative to the source tree, so the messages asserted here are the
 * ones a user sees: "tests/data/rules/bad/x.json: /pointer: message". The
 * program changes into TRIPLINE_SOURCE_DIR first (the environment variable,
 * else the macro of that name, else the current directory).
 *
 * Every bad file's complete list of messages is asserted, in order, and a
 * test checks that every bad/ JSON file has an entry. Other cases (limits, I/O
 * errors, directory loops, in-memory documents) build their input here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orch.h"
#include "ruleset.h"
#include "transform.h"

/* rules/ may not include the core's headers, so it keeps its own copy of
 * the core's service size limit: they must agree. */
_Static_assert(RULESET_MAX_DESIRED_COUNT == ORCH_MAX_SERVICE_DESIRED,
	       "RULESET_MAX_DESIRED_COUNT (rules/ruleset.h) must equal ORCH_MAX_SERVICE_DESIRED (engine/orch/orch.h)");

#ifndef TRIPLINE_SOURCE_DIR
#define TRIPLINE_SOURCE_DIR "."
#endif

#define GOOD "tests/data/rules/good/"
#define BAD "tests/data/rules/bad/"
#define MSGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ------------------------------------------------------------ helpers */

static bool same_messages(const struct errlist *e, const char *const *want)
{
	size_t n = 0;

	while (want[n])
		n++;
	if (e->dropped || e->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(e->msgs[i], want[i]) != 0)
			return false;
	return true;
}

static void show_difference(const struct errlist *e, const char *const *want)
{
	print_error("expected:\n");
	for (size_t i = 0; want[i]; i++)
		print_error("  %s\n", want[i]);
	print_error("got (%zu, %zu dropped):\n", e->n, e->dropped);
	for (size_t i = 0; i < e->n; i++)
		print_error("  %s\n", e->msgs[i]);
}

/* Loads paths and asserts rejection with exactly the messages want. */
static void expect_rejected(const char *const *paths, size_t npaths,
			    const struct ruleset_options *opt, const char *const *want)
{
	struct errlist e = ERRLIST_INIT;
	struct ruleset *rs = NULL;
	int r = ruleset_load(paths, npaths, opt, &rs, &e);
	bool same = same_messages(&e, want);

	if (!same)
		show_difference(&e, want);
	assert_int_equal(r, -EINVAL);
	assert_null(rs);
	assert_true(same);
	errlist_clear(&e);
}

static void expect_text_rejected(const char *text, const struct ruleset_options *opt,
				 const char *const *want)
{
	struct errlist e = ERRLIST_INIT;
	struct ruleset *rs = NULL;
	int r = ruleset_from_text("mem.json", text, strlen(text), opt, &rs, &e);
	bool same = same_messages(&e, want);

	if (!same)
		show_difference(&e, want);
	assert_int_equal(r, -EINVAL);
	assert_null(rs);
	assert_true(same);
	errlist_clear(&e);
}

static struct ruleset *load_ok(const char *const *paths, size_t npaths)
{
	struct errlist e = ERRLIST_INIT;
	struct ruleset *rs = NULL;
	int r = ruleset_load(paths, npaths, NULL, &rs, &e);

	if (r != 0)
		show_difference(&e, MSGS(""));
	assert_int_equal(r, 0);
	assert_int_equal(e.n, 0);
	assert_non_null(rs);
	errlist_clear(&e);
	return rs;
}

static struct ruleset *text_ok(const char *text)
{
	struct errlist e = ERRLIST_INIT;
	struct ruleset *rs = NULL;
	int r = ruleset_from_text("mem.json", text, strlen(text), NULL, &rs, &e);

	if (r != 0)
		show_difference(&e, MSGS(""));
	assert_int_equal(r, 0);
	assert_non_null(rs);
	errlist_clear(&e);
	return rs;
}

static const struct rule_target *find_target(const struct rule *r, const char *id)
{
	for (size_t i = 0; i < r->ntargets; i++)
		if (strcmp(r->targets[i].id, id) == 0)
			return &r->targets[i];
	fail_msg("no target %s in rule %s", id, r->name);
	return NULL;
}

static const struct rule *must_find(const struct ruleset *rs, const char *name)
{
	const struct rule *r = ruleset_find(rs, name);

	if (!r)
		fail_msg("no rule %s", name);
	return r;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* ------------------------------------------------------------ bad files */

struct bad_case {
	const char *file;   /* under BAD */
	const char *const *msgs;
};

static const struct bad_case bad_cases[] = {
	{"target-count.json", MSGS(
		BAD "target-count.json: /Targets/0/EcsParameters/TaskCount: must be an integer from 1 to 10")},
	{"not-json.json", MSGS(
		BAD "not-json.json: invalid JSON at line 1, column 48: expected a string key in object")},
	{"not-object.json", MSGS(
		BAD "not-object.json: must be a rule object or {\"Rules\": [...]}")},
	{"rules-container.json", MSGS(
		BAD "rules-container.json: /Version: unknown field",
		BAD "rules-container.json: /Rules/0: must be a rule object")},
	{"rules-not-array.json", MSGS(
		BAD "rules-not-array.json: /Rules: must be an array")},
	{"name.json", MSGS(
		BAD "name.json: /Rules/0/Name: is required",
		BAD "name.json: /Rules/1/Name: must be 1 to 64 characters of A-Z a-z 0-9 . - _",
		BAD "name.json: /Rules/2/Name: must be a string",
		BAD "name.json: /Rules/3/Name: must be 1 to 64 characters of A-Z a-z 0-9 . - _",
		BAD "name.json: /Rules/4/Name: must be 1 to 64 characters of A-Z a-z 0-9 . - _")},
	{"description.json", MSGS(
		BAD "description.json: /Description: must be at most 512 characters")},
	{"state.json", MSGS(
		BAD "state.json: /State: must be one of ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")},
	{"unknown-field.json", MSGS(
		BAD "unknown-field.json: /name: unknown field (did you mean \"Name\"?)",
		BAD "unknown-field.json: /Foo: unknown field",
		BAD "unknown-field.json: /Name: duplicate field")},
	{"no-pattern-or-schedule.json", MSGS(
		BAD "no-pattern-or-schedule.json: a rule needs an EventPattern, a ScheduleExpression or both")},
	{"pattern-invalid.json", MSGS(
		BAD "pattern-invalid.json: /Rules/0/EventPattern/source: \"source\" must be an object or an array",
		BAD "pattern-invalid.json: /Rules/1/EventPattern: must be an object, or a string holding one",
		BAD "pattern-invalid.json: /Rules/2/EventPattern/detail/n/0/numeric: Value of > must be numeric")},
	{"pattern-string-invalid.json", MSGS(
		BAD "pattern-string-invalid.json: /Rules/0/EventPattern: invalid JSON at line 1, column 18: expected a string key in object",
		BAD "pattern-string-invalid.json: /Rules/1/EventPattern/detail/key/0/prefix: prefix match pattern must be a string",
		BAD "pattern-string-invalid.json: /Rules/2/EventPattern: an event pattern must be a JSON object, not array")},
	{"schedule.json", MSGS(
		BAD "schedule.json: /Rules/0/ScheduleExpression: schedule expression must be rate(...), cron(...) or at(...)",
		BAD "schedule.json: /Rules/1/ScheduleExpression: must be a string",
		BAD "schedule.json: /Rules/1/CatchUp: must be one of NONE, LATEST, ALL",
		BAD "schedule.json: /Rules/2/ScheduleExpression: rate: value must be a positive integer",
		BAD "schedule.json: /Rules/3/ScheduleExpression: cron: one of day-of-month and day-of-week must be \"?\"",
		BAD "schedule.json: /Rules/4/ScheduleExpression: at: month 13 out of range 1-12")},
	{"timezone.json", MSGS(
		BAD "timezone.json: /Rules/0/ScheduleExpressionTimezone: unknown time zone \"Mars/Olympus_Mons\"",
		BAD "timezone.json: /Rules/1/ScheduleExpressionTimezone: must be an IANA time zone name such as Europe/Paris")},
	{"dates.json", MSGS(
		BAD "dates.json: /Rules/0/StartDate: must be a date and time such as 2027-01-01T09:00:00, optionally followed by Z or an offset such as +02:00",
		BAD "dates.json: /Rules/0/EndDate: must be a date and time such as 2027-01-01T09:00:00, optionally followed by Z or an offset such as +02:00",
		BAD "dates.json: /Rules/1/EndDate: must be after StartDate",
		BAD "dates.json: /Rules/2/StartDate: must be a date and time such as 2027-01-01T09:00:00, optionally followed by Z or an offset such as +02:00")},
	{"flexible-window.json", MSGS(
		BAD "flexible-window.json: /Rules/0/FlexibleTimeWindow/MaximumWindowInMinutes: is required when Mode is FLEXIBLE",
		BAD "flexible-window.json: /Rules/1/FlexibleTimeWindow/MaximumWindowInMinutes: only allowed when Mode is FLEXIBLE",
		BAD "flexible-window.json: /Rules/2/FlexibleTimeWindow/MaximumWindowInMinutes: must be an integer from 1 to 1440",
		BAD "flexible-window.json: /Rules/3/FlexibleTimeWindow/Jitter: unknown field",
		BAD "flexible-window.json: /Rules/3/FlexibleTimeWindow/Mode: must be OFF or FLEXIBLE",
		BAD "flexible-window.json: /Rules/4/FlexibleTimeWindow/Mode: is required")},
	{"catch-up.json", MSGS(
		BAD "catch-up.json: /CatchUp: must be one of NONE, LATEST, ALL")},
	{"schedule-only-fields.json", MSGS(
		BAD "schedule-only-fields.json: /ScheduleExpressionTimezone: only allowed with ScheduleExpression",
		BAD "schedule-only-fields.json: /StartDate: only allowed with ScheduleExpression",
		BAD "schedule-only-fields.json: /EndDate: only allowed with ScheduleExpression",
		BAD "schedule-only-fields.json: /FlexibleTimeWindow: only allowed with ScheduleExpression",
		BAD "schedule-only-fields.json: /CatchUp: only allowed with ScheduleExpression")},
	{"event-bus.json", MSGS(
		BAD "event-bus.json: /Rules/0/EventBusName: must be an event bus name (1 to 256 characters of A-Z a-z 0-9 / . - _) or an event bus ARN",
		BAD "event-bus.json: /Rules/1/EventBusName: must be an event bus name (1 to 256 characters of A-Z a-z 0-9 / . - _) or an event bus ARN")},
	{"types.json", MSGS(
		BAD "types.json: /Description: must be a string",
		BAD "types.json: /State: must be one of ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
		BAD "types.json: /EventBusName: must be a string",
		BAD "types.json: /RoleArn: must be a string",
		BAD "types.json: /Targets: must be an array")},
	{"target-id.json", MSGS(
		BAD "target-id.json: /Targets/2/Id: is required",
		BAD "target-id.json: /Targets/3/Id: must be 1 to 64 characters of A-Z a-z 0-9 . - _",
		BAD "target-id.json: /Targets/5: must be an object",
		BAD "target-id.json: /Targets/1/Id: duplicate target Id \"x\" (also /Targets/0/Id)",
		BAD "target-id.json: /Targets/4/Id: duplicate target Id \"x\" (also /Targets/0/Id)")},
	{"target-arn.json", MSGS(
		BAD "target-arn.json: /Targets/0/Arn: is required",
		BAD "target-arn.json: /Targets/1/Arn: unsupported ARN: tripline targets are ECS clusters, event buses, http(s):// URLs, kafka:TOPIC and file:PATH",
		BAD "target-arn.json: /Targets/2/Arn: invalid ARN: the account must be 12 digits",
		BAD "target-arn.json: /Targets/3/Arn: an ECS target ARN must name a cluster: arn:aws:ecs:REGION:ACCOUNT:cluster/NAME",
		BAD "target-arn.json: /Targets/4/Arn: invalid ECS cluster name: must be 1 to 255 characters of A-Z a-z 0-9 - _",
		BAD "target-arn.json: /Targets/5/Arn: an events target ARN must name an event bus: arn:aws:events:REGION:ACCOUNT:event-bus/NAME",
		BAD "target-arn.json: /Targets/6/Arn: invalid URL: no host",
		BAD "target-arn.json: /Targets/7/Arn: invalid URL: the port must be a number from 1 to 65535",
		BAD "target-arn.json: /Targets/8/Arn: invalid Kafka topic: must be 1 to 249 characters of A-Z a-z 0-9 . _ -",
		BAD "target-arn.json: /Targets/9/Arn: a file target needs a path: file:PATH or file:///ABSOLUTE/PATH",
		BAD "target-arn.json: /Targets/10/Arn: a file URL must have no host: file:///ABSOLUTE/PATH",
		BAD "target-arn.json: /Targets/11/Arn: unsupported target: the Arn must be an ECS cluster ARN or cluster/NAME, an http(s):// URL, kafka:TOPIC, file:PATH or an event bus ARN",
		BAD "target-arn.json: /Targets/12/Arn: invalid ARN: expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE",
		BAD "target-arn.json: /Targets/13/Arn: invalid URL: spaces and control characters must be percent-encoded",
		BAD "target-arn.json: /Targets/14/Arn: invalid Kafka topic: \".\" and \"..\" are not allowed",
		BAD "target-arn.json: /Targets/15/Arn: invalid event bus name: must be 1 to 256 characters of A-Z a-z 0-9 / . - _")},
	{"target-input.json", MSGS(
		BAD "target-input.json: /Targets/0/Input: invalid JSON at line 1, column 7: invalid number",
		BAD "target-input.json: /Targets/1/InputPath: invalid JSONPath: must start with \"$\"",
		BAD "target-input.json: /Targets/2/InputPath: invalid JSONPath: empty name after '.'",
		BAD "target-input.json: /Targets/3/InputPath: invalid JSONPath: '[' must hold an array index, as in [0]",
		BAD "target-input.json: /Targets/4/InputPath: cannot be used together with Input",
		BAD "target-input.json: /Targets/4/InputTransformer: cannot be used together with Input",
		BAD "target-input.json: /Targets/5/Input: must be a string")},
	{"input-transformer.json", MSGS(
		BAD "input-transformer.json: /Targets/0/InputTransformer/InputPathsMap/aws.events.rule-name: names starting with \"aws.\" are reserved for the predefined placeholders",
		BAD "input-transformer.json: /Targets/0/InputTransformer/InputPathsMap/bad name: a name must be letters, digits, '_' and '-'",
		BAD "input-transformer.json: /Targets/0/InputTransformer/InputPathsMap/key: invalid JSONPath: must start with \"$\"",
		BAD "input-transformer.json: /Targets/0/InputTransformer/InputPathsMap/n: must be a string",
		BAD "input-transformer.json: /Targets/0/InputTransformer/InputTemplate: placeholder <missing> is not defined in InputPathsMap",
		BAD "input-transformer.json: /Targets/1/InputTransformer/InputTemplate: is required",
		BAD "input-transformer.json: /Targets/2/InputTransformer/Extra: unknown field",
		BAD "input-transformer.json: /Targets/2/InputTransformer/InputTemplate: placeholder <k> is not defined in InputPathsMap")},
	{"input-template-length.json", MSGS(
		BAD "input-template-length.json: /Targets/0/InputTransformer/InputTemplate: must be 1 to 8192 characters",
		BAD "input-template-length.json: /Targets/1/InputTransformer/InputTemplate: must be 1 to 8192 characters")},
	{"retry-policy.json", MSGS(
		BAD "retry-policy.json: /Targets/0/RetryPolicy/MaximumRetryAttempts: must be an integer from 0 to 185",
		BAD "retry-policy.json: /Targets/0/RetryPolicy/MaximumEventAgeInSeconds: must be an integer from 60 to 86400",
		BAD "retry-policy.json: /Targets/1/RetryPolicy/MaximumRetryAttempts: must be an integer from 0 to 185",
		BAD "retry-policy.json: /Targets/1/RetryPolicy/MaximumEventAgeInSeconds: must be an integer from 60 to 86400",
		BAD "retry-policy.json: /Targets/2/RetryPolicy/MaximumRetryAttempts: must be an integer from 0 to 185",
		BAD "retry-policy.json: /Targets/2/RetryPolicy/MaximumEventAgeInSeconds: must be an integer from 60 to 86400",
		BAD "retry-policy.json: /Targets/3/RetryPolicy: must be an object")},
	{"dead-letter.json", MSGS(
		BAD "dead-letter.json: /Targets/0/DeadLetterConfig/Arn: a dead-letter destination must be file:PATH or an http(s):// URL",
		BAD "dead-letter.json: /Targets/1/DeadLetterConfig/Arn: is required",
		BAD "dead-letter.json: /Targets/2/DeadLetterConfig/Arn: unsupported ARN: tripline targets are ECS clusters, event buses, http(s):// URLs, kafka:TOPIC and file:PATH",
		BAD "dead-letter.json: /Targets/3/DeadLetterConfig/Arn: a dead-letter destination must be file:PATH or an http(s):// URL")},
	{"ecs-required.json", MSGS(
		BAD "ecs-required.json: /Targets/0/EcsParameters: is required for an ECS cluster target",
		BAD "ecs-required.json: /Targets/1/EcsParameters: only allowed for an ECS cluster target",
		BAD "ecs-required.json: /Targets/2/EcsParameters/TaskDefinitionArn: is required",
		BAD "ecs-required.json: /Targets/3/EcsParameters/TaskDefinitionArn: must be a task definition family, family:revision or task definition ARN",
		BAD "ecs-required.json: /Targets/4/EcsParameters/TaskDefinitionArn: must be a task definition family, family:revision or task definition ARN",
		BAD "ecs-required.json: /Targets/5/EcsParameters/TaskDefinitionArn: must be a task definition family, family:revision or task definition ARN",
		BAD "ecs-required.json: /Targets/6/EcsParameters: must be an object")},
	{"ecs-fields.json", MSGS(
		BAD "ecs-fields.json: /Targets/0/EcsParameters/Memory: unknown field",
		BAD "ecs-fields.json: /Targets/0/EcsParameters/TaskCount: must be an integer from 1 to 10",
		BAD "ecs-fields.json: /Targets/0/EcsParameters/LaunchType: must be one of EC2, FARGATE, EXTERNAL",
		BAD "ecs-fields.json: /Targets/0/EcsParameters/PlatformVersion: must be a string",
		BAD "ecs-fields.json: /Targets/0/EcsParameters/EnableECSManagedTags: must be true or false",
		BAD "ecs-fields.json: /Targets/0/EcsParameters/EnableExecuteCommand: must be true or false",
		BAD "ecs-fields.json: /Targets/0/EcsParameters/PropagateTags: must be TASK_DEFINITION",
		BAD "ecs-fields.json: /Targets/0/EcsParameters/Tags/0/Key: is required",
		BAD "ecs-fields.json: /Targets/0/EcsParameters/Tags/1/Colour: unknown field",
		BAD "ecs-fields.json: /Targets/0/EcsParameters/Tags/2: must be an object",
		BAD "ecs-fields.json: /Targets/0/EcsParameters/NetworkConfiguration/AwsVpcConfiguration/Subnets: is required",
		BAD "ecs-fields.json: /Targets/0/EcsParameters/NetworkConfiguration/AwsVpcConfiguration/SecurityGroups/1: must be a non-empty string",
		BAD "ecs-fields.json: /Targets/0/EcsParameters/NetworkConfiguration/AwsVpcConfiguration/AssignPublicIp: must be ENABLED or DISABLED",
		BAD "ecs-fields.json: /Targets/0/EcsParameters/PlacementConstraints/0/Type: must be distinctInstance or memberOf",
		BAD "ecs-fields.json: /Targets/0/EcsParameters/PlacementStrategy/0/Field: must be a string",
		BAD "ecs-fields.json: /Targets/0/EcsParameters/Group: must be 1 to 255 characters",
		BAD "ecs-fields.json: /Targets/1/EcsParameters/CapacityProviderStrategy: cannot be used together with LaunchType",
		BAD "ecs-fields.json: /Targets/1/EcsParameters/NetworkConfiguration/AwsVpcConfiguration: is required",
		BAD "ecs-fields.json: /Targets/1/EcsParameters/CapacityProviderStrategy/0/CapacityProvider: is required",
		BAD "ecs-fields.json: /Targets/1/EcsParameters/CapacityProviderStrategy/0/Weight: must be an integer from 0 to 1000")},
	{"ecs-actions.json", MSGS(
		BAD "ecs-actions.json: /Targets/0/EcsParameters/Action: must be one of RunTask, StopTask, UpdateService",
		BAD "ecs-actions.json: /Targets/1/EcsParameters: Action StopTask needs TaskId, Group or StartedBy",
		BAD "ecs-actions.json: /Targets/2/EcsParameters/TaskCount: cannot be used with Action StopTask",
		BAD "ecs-actions.json: /Targets/2/EcsParameters/Group: cannot be used together with TaskId",
		BAD "ecs-actions.json: /Targets/3/EcsParameters/TaskId: must be a JSONPath into the event (such as $.detail.taskArn), a task id or a task ARN",
		BAD "ecs-actions.json: /Targets/4/EcsParameters/StartedBy: must be 1 to 128 characters of A-Z a-z 0-9 - _ /",
		BAD "ecs-actions.json: /Targets/5/EcsParameters/Service: is required",
		BAD "ecs-actions.json: /Targets/5/EcsParameters/DesiredCount: is required",
		BAD "ecs-actions.json: /Targets/6/EcsParameters/DesiredCount: must be an integer from 0 to 1000, a change such as \"+2\" or \"-1\", or a JSONPath such as \"$.detail.count\"",
		BAD "ecs-actions.json: /Targets/7/EcsParameters/DesiredCount: must be an integer from 0 to 1000, a change such as \"+2\" or \"-1\", or a JSONPath such as \"$.detail.count\"",
		BAD "ecs-actions.json: /Targets/8/EcsParameters/DesiredCount: must be an integer from 0 to 1000, a change such as \"+2\" or \"-1\", or a JSONPath such as \"$.detail.count\"",
		BAD "ecs-actions.json: /Targets/9/EcsParameters/DesiredCount: invalid JSONPath: empty name after '.'",
		BAD "ecs-actions.json: /Targets/10/EcsParameters/TaskDefinitionArn: cannot be used with Action UpdateService",
		BAD "ecs-actions.json: /Targets/10/EcsParameters/Service: must be 1 to 255 characters of A-Z a-z 0-9 - _",
		BAD "ecs-actions.json: /Targets/11/EcsParameters/Service: cannot be used with Action RunTask",
		BAD "ecs-actions.json: /Targets/11/EcsParameters/StartedBy: cannot be used with Action RunTask")},
	{"http-parameters.json", MSGS(
		BAD "http-parameters.json: /Targets/0/HttpParameters: only allowed for an http(s):// target",
		BAD "http-parameters.json: /Targets/1/HttpParameters/Body: unknown field",
		BAD "http-parameters.json: /Targets/1/HttpParameters/HeaderParameters/Bad Header: not a valid HTTP header name",
		BAD "http-parameters.json: /Targets/1/HttpParameters/HeaderParameters/X-Inject: must not contain CR, LF or NUL characters",
		BAD "http-parameters.json: /Targets/1/HttpParameters/HeaderParameters/X-Num: must be a string",
		BAD "http-parameters.json: /Targets/1/HttpParameters/QueryStringParameters/q: must be a string",
		BAD "http-parameters.json: /Targets/1/HttpParameters/PathParameterValues/1: must be a string")},
	{"kafka-parameters.json", MSGS(
		BAD "kafka-parameters.json: /Targets/0/KafkaParameters: only allowed for a kafka: target",
		BAD "kafka-parameters.json: /Targets/1/KafkaParameters/Partition: unknown field",
		BAD "kafka-parameters.json: /Targets/1/KafkaParameters/Key: invalid JSONPath: empty name after '.'")},
	{"dedup.json", MSGS(
		BAD "dedup.json: /Targets/0/Dedup/Key: is required",
		BAD "dedup.json: /Targets/1/Dedup/Key: invalid JSONPath: must start with \"$\"",
		BAD "dedup.json: /Targets/1/Dedup/WindowSeconds: must be an integer from 1 to 604800",
		BAD "dedup.json: /Targets/2/Dedup/WindowSeconds: must be an integer from 1 to 604800")},
	{"rate-limit.json", MSGS(
		BAD "rate-limit.json: /Targets/0/RateLimit/PerSecond: is required",
		BAD "rate-limit.json: /Targets/1/RateLimit/PerSecond: must be a number greater than 0 and at most 1000000",
		BAD "rate-limit.json: /Targets/2/RateLimit/PerSecond: must be a number greater than 0 and at most 1000000",
		BAD "rate-limit.json: /Targets/3/RateLimit/PerSecond: must be a number greater than 0 and at most 1000000",
		BAD "rate-limit.json: /Targets/4/RateLimit/Burst: must be an integer from 1 to 1000000000",
		BAD "rate-limit.json: /Targets/5/RateLimit/Burst: must be an integer from 1 to 1000000000",
		BAD "rate-limit.json: /Targets/6/RateLimit/PerSecond: must be a number greater than 0 and at most 1000000")},
	{"target-unknown.json", MSGS(
		BAD "target-unknown.json: /Targets/0/SqsParameters: not supported by tripline",
		BAD "target-unknown.json: /Targets/0/Retry: unknown field",
		BAD "target-unknown.json: /Targets/0/id: unknown field (did you mean \"Id\"?)",
		BAD "target-unknown.json: /Targets/0/Id: duplicate field")},
	{"several-errors.json", MSGS(
		BAD "several-errors.json: /Rules/0/Name: must be 1 to 64 characters of A-Z a-z 0-9 . - _",
		BAD "several-errors.json: /Rules/0/State: must be one of ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
		BAD "several-errors.json: /Rules/0/EventPattern/source: \"source\" must be an object or an array",
		BAD "several-errors.json: /Rules/0/Targets/0/EcsParameters/TaskCount: must be an integer from 1 to 10",
		BAD "several-errors.json: /Rules/1/CatchUp: must be one of NONE, LATEST, ALL",
		BAD "several-errors.json: /Rules/1/Targets/0/Arn: invalid Kafka topic: must be 1 to 249 characters of A-Z a-z 0-9 . _ -",
		BAD "several-errors.json: /Rules/1/Targets/0/RetryPolicy/MaximumRetryAttempts: must be an integer from 0 to 185")},
	{"duplicate-in-file.json", MSGS(
		BAD "duplicate-in-file.json: /Rules/1/Name: duplicate rule name \"same\" (also " BAD "duplicate-in-file.json: /Rules/0/Name)")},
};

#define NBAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

static void test_bad_files(void **state)
{
	(void)state;
	for (size_t i = 0; i < NBAD; i++) {
		char path[256];
		snprintf(path, sizeof(path), BAD "%s", bad_cases[i].file);
		const char *paths[] = {path};
		print_message("  %s\n", bad_cases[i].file);
		expect_rejected(paths, 1, NULL, bad_cases[i].msgs);
	}
}

/* Every JSON file in bad/ has an entry above, so no data file goes unchecked. */
static void test_bad_files_all_listed(void **state)
{
	DIR *d = opendir(BAD);
	struct dirent *de;
	size_t seen = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		bool listed = false;
		if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		for (size_t i = 0; i < NBAD; i++)
			listed |= strcmp(bad_cases[i].file, de->d_name) == 0;
		if (!listed)
			fail_msg("%s%s has no expected messages in bad_cases[]", BAD, de->d_name);
		seen++;
	}
	closedir(d);
	assert_int_equal(seen, NBAD);
}

static void test_duplicate_names_across_files(void **state)
{
	(void)state;
	expect_rejected(MSGS(BAD "dup-names"), 1, NULL, MSGS(
		BAD "dup-names/b.json: /Name: duplicate rule name \"shared\" (also " BAD "dup-names/a.json: /Rules/0/Name)"));
	/* the same file named twice is a duplicate of itself */
	expect_rejected(MSGS(GOOD "single.json", GOOD "single.json"), 2, NULL, MSGS(
		GOOD "single.json: /Name: duplicate rule name \"orders.created\" (also " GOOD "single.json: /Name)"));
}

/* A bad file rejects the whole load; the good file's rules are not kept. */
static void test_all_or_nothing(void **state)
{
	(void)state;
	expect_rejected(MSGS(GOOD "single.json", BAD "target-count.json", GOOD "rules-list.json"), 3,
			NULL, MSGS(BAD "target-count.json: /Targets/0/EcsParameters/TaskCount: must be an integer from 1 to 10"));
}

/* ------------------------------------------------------------ good files */

static void test_design_example(void **state)
{
	struct ruleset *rs = load_ok(MSGS(GOOD "design-example.json"), 1);
	const struct rule *r;
	const struct rule_target *t;

	(void)state;
	assert_int_equal(rs->n, 1);
	r = &rs->rules[0];
	assert_string_equal(r->name, "thumbnail-on-upload");
	assert_string_equal(r->file, GOOD "design-example.json");
	assert_string_equal(r->description, "Run the thumbnailer for every new .jpg in uploads/");
	assert_true(r->enabled);
	assert_string_equal(r->event_bus, "default");
	assert_string_equal(r->pattern_text,
		"{\"source\":[\"aws.s3\"],\"detail-type\":[\"Object Created\"],"
		"\"detail\":{\"bucket\":{\"name\":[\"uploads\"]},"
		"\"object\":{\"key\":[{\"suffix\":\".jpg\"},{\"regex\":\"^raw/[0-9]{4}/\"}]}}}");
	assert_int_equal(r->pattern_len, strlen(r->pattern_text));
	assert_null(r->schedule_text);
	assert_null(r->schedule);
	assert_int_equal(r->ntargets, 1);
	t = &r->targets[0];
	assert_string_equal(t->id, "thumbnailer");
	assert_int_equal(t->kind, TARGET_TASK);
	assert_string_equal(t->resource, "default");
	assert_string_equal(t->arn, "arn:aws:ecs:local:000000000000:cluster/default");
	assert_int_equal(t->input, TARGET_INPUT_TRANSFORMER);
	assert_int_equal(t->action, TARGET_ACTION_RUN_TASK);
	assert_int_equal(t->task_count, 1);
	assert_int_equal(t->retry.max_attempts, 10);
	assert_int_equal(t->retry.max_age_s, 3600);
	assert_string_equal(t->dead_letter_arn, "file:///var/lib/tripline/dlq.jsonl");
	assert_string_equal(t->dedup.key, "$.detail.object.etag");
	assert_int_equal(t->dedup.window_s, 600);
	assert_true(t->rate.per_second == 5.0);
	assert_int_equal(t->rate.burst, 10);
	/* the target's exact source text, for the dispatch stage */
	assert_true(t->json[0] == '{' && t->json[t->json_len - 1] == '}');
	assert_int_equal(strlen(t->json), t->json_len);
	assert_non_null(strstr(t->json, "\n    \"Id\": \"thumbnailer\",\n"));
	assert_non_null(strstr(t->json, "\"RateLimit\": {\"PerSecond\": 5, \"Burst\": 10}"));
	ruleset_unref(rs);
}

static void test_single_rule_target_kinds(void **state)
{
	struct ruleset *rs = load_ok(MSGS(GOOD "single.json"), 1);
	const struct rule *r = must_find(rs, "orders.created");
	const struct rule_target *t;

	(void)state;
	assert_int_equal(r->ntargets, 5);
	t = find_target(r, "notify");
	assert_int_equal(t->kind, TARGET_HTTP);
	assert_string_equal(t->resource, "https://hooks.example.com:8443/orders?src=tripline");
	assert_int_equal(t->input, TARGET_INPUT_EVENT);
	/* defaults */
	assert_int_equal(t->retry.max_attempts, 185);
	assert_int_equal(t->retry.max_age_s, 86400);
	assert_null(t->dead_letter_arn);
	assert_null(t->dedup.key);
	assert_true(t->rate.per_second == 0.0);
	t = find_target(r, "audit");
	assert_int_equal(t->kind, TARGET_KAFKA);
	assert_string_equal(t->resource, "orders.audit");
	assert_int_equal(t->input, TARGET_INPUT_PATH);
	t = find_target(r, "log");
	assert_int_equal(t->kind, TARGET_FILE);
	assert_string_equal(t->resource, "var/orders.jsonl");
	assert_int_equal(t->input, TARGET_INPUT_CONSTANT);
	t = find_target(r, "forward");
	assert_int_equal(t->kind, TARGET_BUS);
	assert_string_equal(t->resource, "audit");
	t = find_target(r, "short-cluster");
	assert_int_equal(t->kind, TARGET_TASK);
	assert_string_equal(t->resource, "batch");
	assert_string_equal(t->json, "{\"Id\": \"short-cluster\", \"Arn\": \"cluster/batch\", "
				     "\"EcsParameters\": {\"TaskDefinitionArn\": \"report:3\"}}");
	assert_string_equal(target_kind_name(TARGET_TASK), "task");
	assert_string_equal(target_kind_name(TARGET_BUS), "bus");
	ruleset_unref(rs);
}

static void test_rules_list_and_order(void **state)
{
	struct ruleset *rs = load_ok(MSGS(GOOD "rules-list.json", GOOD "pattern-string.json"), 2);
	static const char *const names[] = {"cloudtrail", "from-put-rule", "nightly-report",
					    "no-targets", "paused"};
	const struct rule *r;

	(void)state;
	assert_int_equal(rs->n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(rs->rules[i].name, names[i]);
	assert_null(ruleset_find(rs, "nope"));
	assert_ptr_equal(ruleset_find(rs, "paused"), &rs->rules[4]);

	r = must_find(rs, "nightly-report");
	assert_null(r->pattern_text);
	assert_string_equal(r->schedule_text, "cron(0 2 * * ? *)");
	assert_non_null(r->schedule);
	assert_string_equal(r->timezone, "Europe/Paris");
	assert_int_equal(r->catch_up, RULE_CATCH_UP_NONE);
	assert_int_equal(r->flexible_window_min, 0);
	assert_false(must_find(rs, "paused")->enabled);
	assert_true(must_find(rs, "cloudtrail")->enabled);
	assert_int_equal(must_find(rs, "no-targets")->ntargets, 0);
	assert_null(must_find(rs, "no-targets")->targets);

	/* the string pattern's text is the compact form of the string's JSON */
	r = must_find(rs, "from-put-rule");
	assert_string_equal(r->pattern_text,
			    "{\"source\":[\"aws.s3\"],\"detail\":{\"object\":{\"key\":[{\"prefix\":\"in box/\"}]}}}");
	assert_string_equal(r->file, GOOD "pattern-string.json");
	ruleset_unref(rs);
}

static void test_all_fields(void **state)
{
	struct ruleset *rs = load_ok(MSGS(GOOD "all-fields.json"), 1);
	const struct rule *r = must_find(rs, "every-field_1.0");
	const struct rule_target *t;

	(void)state;
	assert_string_equal(r->event_bus, "ops");
	assert_string_equal(r->timezone, "America/New_York");
	assert_true(r->has_start_date && r->has_end_date);
	assert_int_equal(r->start_date, 1798761600);            /* 2027-01-01T00:00:00Z */
	assert_int_equal(r->end_date, 1814392799);              /* 2027-06-30T23:59:59+02:00 */
	assert_int_equal(r->flexible_window_min, 15);
	assert_int_equal(r->catch_up, RULE_CATCH_UP_LATEST);
	assert_int_equal(r->ntargets, 10);

	t = find_target(r, "run");
	assert_int_equal(t->task_count, 10);
	assert_int_equal(t->retry.max_attempts, 0);
	assert_int_equal(t->retry.max_age_s, 60);
	assert_string_equal(t->dead_letter_arn, "file:dlq/run.jsonl");
	assert_int_equal(t->dedup.window_s, 600);
	assert_true(t->rate.per_second == 0.5);
	assert_int_equal(t->rate.burst, 1);
	assert_int_equal(find_target(r, "stop-one")->action, TARGET_ACTION_STOP_TASK);
	assert_int_equal(find_target(r, "stop-group")->action, TARGET_ACTION_STOP_TASK);
	assert_int_equal(find_target(r, "scale-rel")->action, TARGET_ACTION_UPDATE_SERVICE);
	t = find_target(r, "hook");
	assert_int_equal(t->kind, TARGET_HTTP);
	assert_int_equal(t->input, TARGET_INPUT_TRANSFORMER);
	assert_true(t->rate.per_second == 2.5);
	assert_int_equal(t->rate.burst, 1);
	t = find_target(r, "stream");
	assert_string_equal(t->dedup.key, "$.detail.items[0][1].id");
	assert_int_equal(t->dedup.window_s, 604800);

	r = must_find(rs, "at-once");
	assert_int_equal(r->catch_up, RULE_CATCH_UP_ALL);
	assert_int_equal(r->flexible_window_min, 0);
	assert_int_equal(r->start_date, 1798761600);            /* no zone: UTC */
	assert_int_equal(r->end_date, 1798761601);
	assert_null(r->timezone);
	ruleset_unref(rs);
}

static void test_directory(void **state)
{
	struct ruleset *rs = load_ok(MSGS(GOOD "dir"), 1);

	(void)state;
	assert_int_equal(rs->n, 3);
	assert_string_equal(rs->rules[0].name, "dir-a");
	assert_string_equal(rs->rules[0].file, GOOD "dir/a.json");
	assert_string_equal(rs->rules[1].name, "dir-b");
	assert_string_equal(rs->rules[1].file, GOOD "dir/sub/b.json");
	assert_string_equal(rs->rules[2].name, "dir-c");
	ruleset_unref(rs);

	/* a trailing slash gives the same paths */
	rs = load_ok(MSGS(GOOD "dir/"), 1);
	assert_string_equal(rs->rules[1].file, GOOD "dir/sub/b.json");
	ruleset_unref(rs);

	/* every good file and directory together */
	rs = load_ok(MSGS(GOOD "design-example.json", GOOD "single.json", GOOD "rules-list.json",
			  GOOD "pattern-string.json", GOOD "all-fields.json", GOOD "dir"), 6);
	assert_int_equal(rs->n, 12);
	for (size_t i = 1; i < rs->n; i++)
		assert_true(strcmp(rs->rules[i - 1].name, rs->rules[i].name) < 0);
	ruleset_unref(rs);
}

static void test_refcount(void **state)
{
	struct ruleset *rs = load_ok(MSGS(GOOD "single.json"), 1);

	(void)state;
	assert_ptr_equal(ruleset_ref(rs), rs);
	ruleset_unref(rs);
	assert_string_equal(rs->rules[0].name, "orders.created");  /* still alive */
	ruleset_unref(rs);
	ruleset_unref(NULL);
	assert_null(ruleset_ref(NULL));
}

/* ------------------------------------------------------------ matching */

static int match(const struct ruleset *rs, struct match_scratch *s, const char *event,
		 const uint32_t **ids)
{
	return ruleset_match(rs, event, strlen(event), s, ids);
}

static void test_match(void **state)
{
	struct ruleset *rs = load_ok(MSGS(GOOD "rules-list.json", GOOD "dir", GOOD "design-example.json"), 3);
	struct match_scratch *s = match_scratch_new();
	const uint32_t *ids;
	int n;

	(void)state;
	assert_non_null(s);
	uint32_t no_targets = (uint32_t)(must_find(rs, "no-targets") - rs->rules);
	uint32_t dir_b = (uint32_t)(must_find(rs, "dir-b") - rs->rules);
	uint32_t cloudtrail = (uint32_t)(must_find(rs, "cloudtrail") - rs->rules);
	uint32_t thumb = (uint32_t)(must_find(rs, "thumbnail-on-upload") - rs->rules);

	/* "paused" (DISABLED, source shop) must not match; "no-targets" does */
	n = match(rs, s, "{\"source\":\"shop\",\"detail-type\":\"Order Cancelled\",\"detail\":{}}", &ids);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], no_targets);
	n = match(rs, s, "{\"source\":\"shop\",\"detail-type\":\"Order Created\",\"detail\":{}}", &ids);
	assert_int_equal(n, 0);
	n = match(rs, s, "{\"source\":\"b\"}", &ids);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], dir_b);
	n = match(rs, s, "{\"source\":\"aws.cloudtrail\"}", &ids);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], cloudtrail);

	/* DESIGN.md §4's example: suffix or regex on the key, in bucket "uploads" */
	static const char *const s3[] = {
		"{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{\"bucket\":{\"name\":\"uploads\"},\"object\":{\"key\":\"a/photo.jpg\"}}}",
		"{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{\"bucket\":{\"name\":\"uploads\"},\"object\":{\"key\":\"raw/2024/x.png\"}}}",
		"{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{\"bucket\":{\"name\":\"uploads\"},\"object\":{\"key\":\"raw/24/x.png\"}}}",
		"{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{\"bucket\":{\"name\":\"other\"},\"object\":{\"key\":\"a/photo.jpg\"}}}",
		"{\"source\":\"aws.s3\",\"detail-type\":\"Object Deleted\",\"detail\":{\"bucket\":{\"name\":\"uploads\"},\"object\":{\"key\":\"a/photo.jpg\"}}}",
	};
	static const int want[] = {1, 1, 0, 0, 0};
	for (size_t i = 0; i < 5; i++) {
		n = match(rs, s, s3[i], &ids);
		assert_int_equal(n, want[i]);
		if (n == 1)
			assert_int_equal(ids[0], thumb);
	}

	/* several matches come back in name order */
	struct ruleset *rs2 = text_ok(
		"{\"Rules\": [{\"Name\": \"z\", \"EventPattern\": {\"source\": [\"x\"]}},"
		"{\"Name\": \"a\", \"EventPattern\": \"{\\\"source\\\": [{\\\"prefix\\\": \\\"x\\\"}]}\"},"
		"{\"Name\": \"m\", \"EventPattern\": {\"source\": [{\"exists\": true}]}}]}");
	n = match(rs2, s, "{\"source\":\"x\"}", &ids);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], 0);
	assert_int_equal(ids[1], 1);
	assert_int_equal(ids[2], 2);
	assert_string_equal(rs2->rules[ids[0]].name, "a");

	/* not an event */
	assert_int_equal(match(rs, s, "[1]", &ids), -EINVAL);
	assert_int_equal(match(rs, s, "{\"source\":", &ids), -EINVAL);

	match_scratch_free(s);
	ruleset_unref(rs2);
	ruleset_unref(rs);
}

static void test_empty_set_matches_nothing(void **state)
{
	struct ruleset *rs = text_ok("{\"Rules\": []}");
	struct match_scratch *s = match_scratch_new();
	const uint32_t *ids;

	(void)state;
	assert_int_equal(rs->n, 0);
	assert_int_equal(match(rs, s, "{\"source\":\"x\"}", &ids), 0);
	match_scratch_free(s);
	ruleset_unref(rs);
}

/* ------------------------------------------------------------ in memory, limits, I/O */

static void test_from_text(void **state)
{
	(void)state;
	/* integers must be written as integers; NUL is refused in strings */
	expect_text_rejected(
		"{\"Name\": \"n\\u0000m\", \"ScheduleExpression\": \"rate(1 minute)\","
		" \"FlexibleTimeWindow\": {\"Mode\": \"FLEXIBLE\", \"MaximumWindowInMinutes\": 1e1}}",
		NULL, MSGS("mem.json: /Name: must not contain NUL characters",
			   "mem.json: /FlexibleTimeWindow/MaximumWindowInMinutes: must be an integer from 1 to 1440"));
	/* keys with '/' and '~' are escaped in pointers (RFC 6901) */
	expect_text_rejected("{\"Name\": \"x\", \"EventPattern\": {\"a\": [1]}, \"a/b~c\": 1}", NULL,
			     MSGS("mem.json: /a~1b~0c: unknown field"));
	/* an empty document */
	expect_text_rejected("", NULL,
			     MSGS("mem.json: invalid JSON at line 1, column 1: unexpected end of input"));
	/* the EventBridge dialect refuses tripline's regex operator */
	struct ruleset_options eb = {.dialect = PATTERN_DIALECT_EVENTBRIDGE};
	expect_text_rejected("{\"Name\": \"x\", \"EventPattern\": {\"k\": [{\"regex\": \"^a\"}]}}", &eb,
			     MSGS("mem.json: /EventPattern/k/0: Unrecognized match type regex (a tripline extension, not EventBridge)"));
}

static void test_limits(void **state)
{
	struct ruleset_options o = {0};

	(void)state;
	o.max_pattern_bytes = 20;
	/* measured without whitespace: this pretty-printed pattern is 20 bytes */
	struct ruleset *rs;
	struct errlist e = ERRLIST_INIT;
	static const char fits[] = "{\"Name\": \"x\", \"EventPattern\": {\n  \"source\" : [ \"abcde\" ]\n}}";
	assert_int_equal(ruleset_from_text("mem.json", fits, sizeof(fits) - 1, &o, &rs, &e), 0);
	assert_string_equal(rs->rules[0].pattern_text, "{\"source\":[\"abcde\"]}");
	ruleset_unref(rs);
	expect_text_rejected("{\"Name\": \"x\", \"EventPattern\": {\"source\": [\"a-long-source\"]}}", &o,
			     MSGS("mem.json: /EventPattern: pattern is 28 bytes, more than the limit of 20"));
	expect_text_rejected("{\"Name\": \"x\", \"EventPattern\": \"{\\\"source\\\": [\\\"a-long-source\\\"]}\"}", &o,
			     MSGS("mem.json: /EventPattern: pattern is 28 bytes, more than the limit of 20"));

	memset(&o, 0, sizeof(o));
	o.max_targets_per_rule = 2;
	expect_text_rejected("{\"Name\": \"x\", \"EventPattern\": {\"a\": [1]}, \"Targets\": ["
			     "{\"Id\": \"a\", \"Arn\": \"file:a\"}, {\"Id\": \"b\", \"Arn\": \"file:a\"},"
			     "{\"Id\": \"c\", \"Arn\": \"file:a\"}]}", &o,
			     MSGS("mem.json: /Targets: has 3 targets, more than the limit of 2"));

	memset(&o, 0, sizeof(o));
	o.max_rules = 2;
	expect_text_rejected("{\"Rules\": [{\"Name\": \"a\", \"EventPattern\": {\"a\": [1]}},"
			     "{\"Name\": \"b\", \"EventPattern\": {\"a\": [1]}},"
			     "{\"Name\": \"c\", \"EventPattern\": {\"a\": [1]}}]}", &o,
			     MSGS("mem.json: too many rules: the limit is 2 in all"));
	expect_rejected(MSGS(GOOD "dir/a.json", GOOD "dir/sub/b.json"), 2, &o,
			MSGS(GOOD "dir/sub/b.json: too many rules: the limit is 2 in all"));

	memset(&o, 0, sizeof(o));
	o.max_file_bytes = 100;
	expect_rejected(MSGS(GOOD "dir/a.json", GOOD "single.json"), 2, &o,
			MSGS(GOOD "single.json: file is larger than the limit of 100 bytes"));
	static const char big[] = "{\"Name\": \"x\", \"EventPattern\": {\"source\": "
		"[\"0123456789012345678901234567890123456789012345678901234567890123456789\"]}}";
	char want[96];
	snprintf(want, sizeof(want), "mem.json: file is %zu bytes, more than the limit of 100",
		 sizeof(big) - 1);
	expect_text_rejected(big, &o, MSGS(want));
}

/* A rule document with one target, the target object's members given. */
#define ONE_TARGET(members) \
	"{\"Name\": \"r\", \"EventPattern\": {\"source\": [\"s\"]}, \"Targets\": [{" members "}]}"
#define TASK_TARGET(ecs) ONE_TARGET("\"Id\": \"t\", \"Arn\": \"cluster/default\", \"EcsParameters\": {" ecs "}")

static void test_target_extensions(void **state)
{
	struct ruleset *rs;
	const struct rule_target *t;

	(void)state;
	/* MaxConcurrency: 1 to 1000, 0 (the config's) when absent */
	rs = text_ok(ONE_TARGET("\"Id\": \"t\", \"Arn\": \"file:/tmp/x\", \"MaxConcurrency\": 1000"));
	assert_int_equal(rs->rules[0].targets[0].max_concurrency, 1000);
	ruleset_unref(rs);
	rs = text_ok(ONE_TARGET("\"Id\": \"t\", \"Arn\": \"file:/tmp/x\""));
	assert_int_equal(rs->rules[0].targets[0].max_concurrency, 0);
	ruleset_unref(rs);
	expect_text_rejected(ONE_TARGET("\"Id\": \"t\", \"Arn\": \"file:/tmp/x\", \"MaxConcurrency\": 1001"), NULL,
			     MSGS("mem.json: /Targets/0/MaxConcurrency: must be an integer from 1 to 1000"));
	expect_text_rejected(ONE_TARGET("\"Id\": \"t\", \"Arn\": \"file:/tmp/x\", \"MaxConcurrency\": 0"), NULL,
			     MSGS("mem.json: /Targets/0/MaxConcurrency: must be an integer from 1 to 1000"));

	/* HttpParameters.Method */
	rs = text_ok(ONE_TARGET("\"Id\": \"t\", \"Arn\": \"http://localhost:1/x\", \"HttpParameters\": {\"Method\": \"PATCH\"}"));
	ruleset_unref(rs);
	expect_text_rejected(ONE_TARGET("\"Id\": \"t\", \"Arn\": \"http://localhost:1/x\", \"HttpParameters\": {\"Method\": \"post\"}"), NULL,
			     MSGS("mem.json: /Targets/0/HttpParameters/Method: must be one of POST, GET, PUT, PATCH, DELETE"));
	/* HttpParameters.Connection: a connection's name */
	rs = text_ok(ONE_TARGET("\"Id\": \"t\", \"Arn\": \"http://localhost:1/x\", \"HttpParameters\": {\"Connection\": \"ops.hook-1\"}"));
	ruleset_unref(rs);
	expect_text_rejected(ONE_TARGET("\"Id\": \"t\", \"Arn\": \"http://localhost:1/x\", \"HttpParameters\": {\"Connection\": \"a b\"}"), NULL,
			     MSGS("mem.json: /Targets/0/HttpParameters/Connection: must be a connection's name: 1 to 64 characters of A-Z a-z 0-9 . _ -"));

	/* StopTask's Reason */
	rs = text_ok(TASK_TARGET("\"Action\": \"StopTask\", \"Group\": \"g\", \"Reason\": \"rule said so\""));
	assert_int_equal(rs->rules[0].targets[0].action, TARGET_ACTION_STOP_TASK);
	ruleset_unref(rs);
	char text[1024], reason[300];
	memset(reason, 'x', 256);
	reason[256] = '\0';
	snprintf(text, sizeof(text), TASK_TARGET("\"Action\": \"StopTask\", \"Group\": \"g\", \"Reason\": \"%s\""), reason);
	expect_text_rejected(text, NULL, MSGS("mem.json: /Targets/0/EcsParameters/Reason: must be at most 255 characters"));
	expect_text_rejected(TASK_TARGET("\"TaskDefinitionArn\": \"hello\", \"Reason\": \"r\""), NULL,
			     MSGS("mem.json: /Targets/0/EcsParameters/Reason: cannot be used with Action RunTask"));

	/* UpdateService: MinCapacity, MaxCapacity, ForceNewDeployment; DesiredCount up to the core's limit */
	rs = text_ok(TASK_TARGET("\"Action\": \"UpdateService\", \"Service\": \"web\", \"DesiredCount\": \"+2\","
				 " \"MinCapacity\": 0, \"MaxCapacity\": 1000, \"ForceNewDeployment\": true"));
	ruleset_unref(rs);
	rs = text_ok(TASK_TARGET("\"Action\": \"UpdateService\", \"Service\": \"web\", \"DesiredCount\": 1000,"
				 " \"MinCapacity\": 3, \"MaxCapacity\": 3"));
	ruleset_unref(rs);
	expect_text_rejected(TASK_TARGET("\"Action\": \"UpdateService\", \"Service\": \"web\", \"DesiredCount\": 1001"), NULL,
			     MSGS("mem.json: /Targets/0/EcsParameters/DesiredCount: must be an integer from 0 to 1000, a change such as \"+2\" or \"-1\", or a JSONPath such as \"$.detail.count\""));
	expect_text_rejected(TASK_TARGET("\"Action\": \"UpdateService\", \"Service\": \"web\", \"DesiredCount\": \"+1001\""), NULL,
			     MSGS("mem.json: /Targets/0/EcsParameters/DesiredCount: must be an integer from 0 to 1000, a change such as \"+2\" or \"-1\", or a JSONPath such as \"$.detail.count\""));
	expect_text_rejected(TASK_TARGET("\"Action\": \"UpdateService\", \"Service\": \"web\", \"DesiredCount\": 1,"
					 " \"MinCapacity\": 5, \"MaxCapacity\": 4, \"ForceNewDeployment\": \"yes\""), NULL,
			     MSGS("mem.json: /Targets/0/EcsParameters/MinCapacity: must not be more than MaxCapacity (4)",
				  "mem.json: /Targets/0/EcsParameters/ForceNewDeployment: must be true or false"));
	expect_text_rejected(TASK_TARGET("\"Action\": \"UpdateService\", \"Service\": \"web\", \"DesiredCount\": 1,"
					 " \"MinCapacity\": -1, \"MaxCapacity\": 1001"), NULL,
			     MSGS("mem.json: /Targets/0/EcsParameters/MinCapacity: must be an integer from 0 to 1000",
				  "mem.json: /Targets/0/EcsParameters/MaxCapacity: must be an integer from 0 to 1000"));
	expect_text_rejected(TASK_TARGET("\"TaskDefinitionArn\": \"hello\", \"MinCapacity\": 1, \"ForceNewDeployment\": true"), NULL,
			     MSGS("mem.json: /Targets/0/EcsParameters/MinCapacity: cannot be used with Action RunTask",
				  "mem.json: /Targets/0/EcsParameters/ForceNewDeployment: cannot be used with Action RunTask"));

	/* dead letters: file and http(s) accepted, kafka refused until it is implemented */
	rs = text_ok(ONE_TARGET("\"Id\": \"t\", \"Arn\": \"file:/tmp/x\", \"DeadLetterConfig\": {\"Arn\": \"https://dlq.example/in\"}"));
	t = &rs->rules[0].targets[0];
	assert_string_equal(t->dead_letter_arn, "https://dlq.example/in");
	ruleset_unref(rs);
	expect_text_rejected(ONE_TARGET("\"Id\": \"t\", \"Arn\": \"file:/tmp/x\", \"DeadLetterConfig\": {\"Arn\": \"kafka:dlq\"}"), NULL,
			     MSGS("mem.json: /Targets/0/DeadLetterConfig/Arn: kafka dead-letter destinations are not implemented yet: use file:PATH or an http(s):// URL"));
	/* a kafka target still loads here (the daemon refuses it: no target ops) */
	rs = text_ok(ONE_TARGET("\"Id\": \"t\", \"Arn\": \"kafka:topic\""));
	assert_int_equal(rs->rules[0].targets[0].kind, TARGET_KAFKA);
	ruleset_unref(rs);
}

static void test_target_transform(void **state)
{
	struct ruleset *rs;
	char *out;
	size_t len;
	static const char ev[] = "{\"id\":\"1\",\"detail\":{\"k\":\"v\",\"n\":3}}";
	struct transform_ctx ctx = {.event = ev, .event_len = sizeof(ev) - 1, .rule_name = "r"};

	(void)state;
	/* every loaded target has its input compiled, the event itself when none is given */
	rs = text_ok("{\"Name\": \"r\", \"EventPattern\": {\"source\": [\"s\"]}, \"Targets\": ["
		     "{\"Id\": \"a\", \"Arn\": \"file:/tmp/a\"},"
		     "{\"Id\": \"b\", \"Arn\": \"file:/tmp/a\", \"Input\": \"{ \\\"x\\\": [1, 2] }\"},"
		     "{\"Id\": \"c\", \"Arn\": \"file:/tmp/a\", \"InputPath\": \"$.detail.n\"},"
		     "{\"Id\": \"d\", \"Arn\": \"file:/tmp/a\", \"InputTransformer\": {\"InputPathsMap\": {\"k\": \"$.detail.k\"},"
		     " \"InputTemplate\": \"<aws.events.rule-name> saw <k>\"}}]}");
	static const char *const want[] = {ev, "{\"x\":[1,2]}", "3", "r saw v"};
	static const enum transform_shape shapes[] = {TRANSFORM_SHAPE_OBJECT, TRANSFORM_SHAPE_OBJECT,
						      TRANSFORM_SHAPE_DEPENDS, TRANSFORM_SHAPE_TEXT};
	for (size_t i = 0; i < 4; i++) {
		const struct rule_target *t = &rs->rules[0].targets[i];
		assert_non_null(t->transform);
		assert_int_equal(transform_shape(t->transform), shapes[i]);
		assert_int_equal(transform_render(t->transform, &ctx, &out, &len), 0);
		assert_string_equal(out, want[i]);
		free(out);
	}
	ruleset_unref(rs);

	/* what the compiler refuses is a rule-file error at the template */
	expect_text_rejected(ONE_TARGET("\"Id\": \"t\", \"Arn\": \"file:/tmp/x\", \"InputTransformer\": {"
					"\"InputPathsMap\": {\"k\": \"$.k\"}, \"InputTemplate\": \"{\\\"a\\\": <k> <k>}\"}"), NULL,
			     MSGS("mem.json: /Targets/0/InputTransformer/InputTemplate: starts with '{' but is not JSON: expected ',' or '}' in object at offset 10 (a placeholder may stand where a value can, or inside a string)"));
	expect_text_rejected(ONE_TARGET("\"Id\": \"t\", \"Arn\": \"file:/tmp/x\", \"InputTransformer\": {"
					"\"InputPathsMap\": {\"k\": \"$.k\"}, \"InputTemplate\": \"{<k>: 1}\"}"), NULL,
			     MSGS("mem.json: /Targets/0/InputTransformer/InputTemplate: starts with '{' but is not JSON: a placeholder cannot be used as an object key at offset 1 (a placeholder may stand where a value can, or inside a string)"));
	/* JSONPath wildcards are not followed: refused where they are written */
	expect_text_rejected(ONE_TARGET("\"Id\": \"t\", \"Arn\": \"file:/tmp/x\", \"InputPath\": \"$.detail.*\""), NULL,
			     MSGS("mem.json: /Targets/0/InputPath: invalid JSONPath: wildcards (*) are not supported: name each key, as in $.detail.key"));
	expect_text_rejected(ONE_TARGET("\"Id\": \"t\", \"Arn\": \"file:/tmp/x\", \"InputTransformer\": {"
					"\"InputPathsMap\": {\"k\": \"$.*.k\"}, \"InputTemplate\": \"<k>\"}"), NULL,
			     MSGS("mem.json: /Targets/0/InputTransformer/InputPathsMap/k: invalid JSONPath: wildcards (*) are not supported: name each key, as in $.detail.key"));
}

static void test_io_errors(void **state)
{
	(void)state;
	expect_rejected(MSGS("tests/data/rules/no-such-file.json", "/dev/null"), 2, NULL,
			MSGS("tests/data/rules/no-such-file.json: No such file or directory",
			     "/dev/null: not a regular file or directory (a device)"));
}

/* Directories: loops through symbolic links, unreadable entries, skipped names. */
static void test_directory_walk(void **state)
{
	char dir[] = "/tmp/test_ruleset.XXXXXX";
	char path[512], want1[600], want2[600];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/sub/r.json", dir);
	write_file(path, "{\"Name\": \"r\", \"EventPattern\": {\"a\": [1]}}");
	snprintf(path, sizeof(path), "%s/sub/up", dir);
	assert_int_equal(symlink("..", path), 0);
	snprintf(path, sizeof(path), "%s/dangling.json", dir);
	assert_int_equal(symlink("nowhere", path), 0);
	snprintf(path, sizeof(path), "%s/dangling.txt", dir);  /* not *.json: ignored */
	assert_int_equal(symlink("nowhere", path), 0);

	snprintf(want1, sizeof(want1), "%s/dangling.json: a symbolic link to nothing (dangling)", dir);
	snprintf(want2, sizeof(want2), "%s/sub/up: directory loop (a symbolic link to a parent directory)", dir);
	const char *paths[] = {dir};
	expect_rejected(paths, 1, NULL, MSGS(want1, want2));

	/* without the problems it loads */
	snprintf(path, sizeof(path), "%s/dangling.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub/up", dir);
	unlink(path);
	struct ruleset *rs = load_ok(paths, 1);
	assert_int_equal(rs->n, 1);
	ruleset_unref(rs);

	snprintf(path, sizeof(path), "%s/dangling.txt", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub/r.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

int main(void)
{
	const char *src = getenv("TRIPLINE_SOURCE_DIR");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_bad_files_all_listed),
		cmocka_unit_test(test_duplicate_names_across_files),
		cmocka_unit_test(test_all_or_nothing),
		cmocka_unit_test(test_design_example),
		cmocka_unit_test(test_single_rule_target_kinds),
		cmocka_unit_test(test_rules_list_and_order),
		cmocka_unit_test(test_all_fields),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_empty_set_matches_nothing),
		cmocka_unit_test(test_from_text),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_io_errors),
		cmocka_unit_test(test_target_extensions),
		cmocka_unit_test(test_target_transform),
		cmocka_unit_test(test_directory_walk),
	};

	if (chdir(src && *src ? src : TRIPLINE_SOURCE_DIR) != 0) {
		perror("test_ruleset: chdir to the source directory");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
