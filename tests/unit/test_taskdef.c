/*
 * test_taskdef.c — task definitions: the parsed fields and normalised JSON of
 * valid definitions, every class of validation error with its exact message
 * and pointer, and the registry: revisions, describe by family / family:rev /
 * ARN, deregister, listings, and reopening from disk with revisions never
 * reused. Run from the repository root (reads tests/data/taskdefs/); state
 * goes to a fresh directory under /tmp.
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

#include "errlist.h"
#include "statefile.h"
#include "taskdef.h"

#define DATA "tests/data/taskdefs/"
#define MINIMAL "{\"family\":\"hello\",\"containerDefinitions\":[{\"name\":\"main\",\"command\":[\"/bin/true\"]}]}"

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void make_tmpdir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/tripline-taskdef-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(dir);
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Parses text expecting failure with exactly the messages given (NULL-terminated). */
static void expect_errors(const char *text, const char *const *want)
{
	struct errlist e = ERRLIST_INIT;
	struct taskdef *td = (struct taskdef *)1;
	size_t n = 0;

	assert_int_equal(taskdef_parse(text, strlen(text), NULL, &td, &e), -EINVAL);
	assert_null(td);
	while (want[n])
		n++;
	for (size_t i = 0; i < e.n; i++)
		if (i >= n || strcmp(e.msgs[i], want[i]))
			print_error("got[%zu]: %s\n", i, e.msgs[i]);
	assert_int_equal(e.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(e.msgs[i], want[i]);
	errlist_clear(&e);
}

#define EXPECT(text, ...) expect_errors(text, (const char *const[]){__VA_ARGS__, NULL})
#define C1(members) "{\"family\":\"f\",\"containerDefinitions\":[{\"name\":\"c\",\"command\":[\"x\"]," members "}]}"

static void test_minimal(void **state)
{
	struct errlist e = ERRLIST_INIT;
	struct taskdef *td;
	char *text = read_text(DATA "minimal.json");
	const struct taskdef_container *c;

	(void)state;
	assert_int_equal(taskdef_parse(text, strlen(text), DATA "minimal.json", &td, &e), 0);
	assert_int_equal(e.n, 0);
	assert_string_equal(td->family, "hello");
	assert_int_equal(td->revision, 0);
	assert_null(td->arn);
	assert_int_equal(td->n_containers, 1);
	c = &td->containers[0];
	assert_string_equal(c->name, "main");
	assert_null(c->image);
	assert_int_equal(c->n_argv, 2);
	assert_int_equal(c->n_entry_point, 0);
	assert_string_equal(c->argv[0], "/bin/echo");
	assert_string_equal(c->argv[1], "hello");
	assert_null(c->argv[2]);
	assert_true(c->essential);
	assert_int_equal(c->stop_timeout, 30);
	assert_false(c->health.present);
	assert_int_equal(td->cpu, 0);
	assert_int_equal(td->memory, 0);
	taskdef_free(td);
	taskdef_free(NULL);
	free(text);
}

static void test_full(void **state)
{
	struct errlist e = ERRLIST_INIT;
	struct taskdef *td;
	char *text = read_text(DATA "full.json");
	const struct taskdef_container *db, *web;

	(void)state;
	assert_int_equal(taskdef_parse(text, strlen(text), "full.json", &td, &e), 0);
	assert_int_equal(td->cpu, 512);
	assert_int_equal(td->memory, 1024);
	assert_string_equal(td->network_mode, "host");
	assert_int_equal(td->compat, TASKDEF_COMPAT_EC2 | TASKDEF_COMPAT_EXTERNAL);
	assert_int_equal(td->n_volumes, 2);
	assert_string_equal(td->volumes[0].source_path, "/srv/shared");
	assert_null(td->volumes[1].source_path);
	db = &td->containers[0];
	web = &td->containers[1];
	assert_false(db->essential);
	assert_int_equal(db->memory, 256);
	assert_int_equal(db->memory_reservation, 128);
	assert_true(db->health.present);
	assert_int_equal(db->health.interval, 10);
	assert_int_equal(db->health.timeout, 5);
	assert_int_equal(db->health.retries, 3);
	assert_int_equal(db->health.start_period, 0);
	assert_string_equal(db->health.command[1], "true");
	assert_int_equal(db->n_argv, 0);
	assert_string_equal(db->image, "busybox:latest");
	assert_int_equal(web->n_argv, 4);
	assert_int_equal(web->n_entry_point, 1);
	assert_string_equal(web->argv[0], "/usr/bin/env");
	assert_string_equal(web->argv[3], "8080");
	assert_int_equal(web->n_environment, 2);
	assert_string_equal(web->environment[1].value, "");
	assert_int_equal(web->n_secrets, 1);
	assert_string_equal(web->secrets[0].value, "db/password");
	assert_int_equal(web->cpu, 256);
	assert_int_equal(web->stop_timeout, 10);
	assert_string_equal(web->user, "nobody");
	assert_string_equal(web->working_directory, "/srv");
	assert_true(web->mounts[0].read_only);
	assert_string_equal(web->depends[0].container_name, "db");
	assert_int_equal(web->depends[0].condition, TASKDEF_CONDITION_HEALTHY);
	taskdef_free(td);
	free(text);
}

static void test_invalid_file(void **state)
{
	char *text = read_text(DATA "invalid.json");

	(void)state;
	EXPECT(text,
	       "request: /family: must be 1 to 255 letters, digits, hyphens or underscores",
	       "request: /containerDefinitions/0: needs an image, a command or an entryPoint",
	       "request: /containerDefinitions/0/memory: must be an integer from 4 to 4194304",
	       "request: /volumes/0/host/sourcePath: must be an absolute path",
	       "request: /containerDefinitions/0/dependsOn: dependency cycle through container \"a\"");
	free(text);
}

static void test_errors_structure(void **state)
{
	(void)state;
	EXPECT("{\"family\":", "request: 1:11: unexpected end of input");
	EXPECT("[]", "request: /: must be an object");
	EXPECT("{}", "request: /family: is required", "request: /containerDefinitions: is required");
	EXPECT("{\"family\":\"f\",\"containerDefinitions\":[],\"extra\":1}",
	       "request: /extra: unknown key",
	       "request: /containerDefinitions: must hold 1 to 10 items");
	EXPECT("{\"family\":\"f\",\"family\":\"g\",\"containerDefinitions\":[{\"name\":\"c\",\"image\":\"i\"}]}",
	       "request: /family: duplicate key");
	EXPECT("{\"family\":7,\"containerDefinitions\":{}}",
	       "request: /family: must be a string",
	       "request: /containerDefinitions: must be an array");
	EXPECT("{\"family\":\"f\",\"revision\":3,\"containerDefinitions\":[{\"name\":\"c\",\"image\":\"i\"}]}",
	       "request: /revision: unknown key");
	EXPECT("{\"family\":\"f\",\"containerDefinitions\":[1,2,3,4,5,6,7,8,9,10,11]}",
	       "request: /containerDefinitions: must hold 1 to 10 items");
	EXPECT("{\"family\":\"f\",\"containerDefinitions\":[3]}",
	       "request: /containerDefinitions/0: must be an object");
}

static void test_errors_container(void **state)
{
	(void)state;
	EXPECT("{\"family\":\"f\",\"containerDefinitions\":[{\"image\":\"i\",\"bogus\":true}]}",
	       "request: /containerDefinitions/0/bogus: unknown key",
	       "request: /containerDefinitions/0/name: is required");
	EXPECT("{\"family\":\"f\",\"containerDefinitions\":[{\"name\":\"a b\",\"image\":\"\"}]}",
	       "request: /containerDefinitions/0/name: must be 1 to 255 letters, digits, hyphens or underscores",
	       "request: /containerDefinitions/0/image: must be a non-empty string without NUL characters");
	EXPECT("{\"family\":\"f\",\"containerDefinitions\":[{\"name\":\"a\",\"image\":\"i\"},{\"name\":\"a\",\"image\":\"i\"}]}",
	       "request: /containerDefinitions/1/name: duplicate container name \"a\"");
	EXPECT("{\"family\":\"f\",\"containerDefinitions\":[{\"name\":\"a\",\"command\":[]}]}",
	       "request: /containerDefinitions/0: without an image, entryPoint + command must not be empty");
	EXPECT(C1("\"entryPoint\":[\"ok\",2]"),
	       "request: /containerDefinitions/0/entryPoint/1: must be a string");
	EXPECT(C1("\"cpu\":-1,\"memory\":3.5,\"memoryReservation\":1e3"),
	       "request: /containerDefinitions/0/cpu: must be an integer from 0 to 262144",
	       "request: /containerDefinitions/0/memory: must be an integer from 4 to 4194304",
	       "request: /containerDefinitions/0/memoryReservation: must be an integer from 4 to 4194304");
	EXPECT(C1("\"memory\":64,\"memoryReservation\":128"),
	       "request: /containerDefinitions/0/memoryReservation: must not exceed memory (64 MiB)");
	EXPECT(C1("\"essential\":false"),
	       "request: /containerDefinitions: at least one container must be essential");
	EXPECT(C1("\"essential\":\"yes\",\"stopTimeout\":1"),
	       "request: /containerDefinitions/0/essential: must be a boolean",
	       "request: /containerDefinitions/0/stopTimeout: must be an integer from 2 to 120");
	EXPECT(C1("\"environment\":[{\"name\":\"A\"},{\"name\":\"B\",\"value\":1,\"x\":0},\"C\"]"),
	       "request: /containerDefinitions/0/environment/0/value: is required",
	       "request: /containerDefinitions/0/environment/1/x: unknown key",
	       "request: /containerDefinitions/0/environment/1/value: must be a string",
	       "request: /containerDefinitions/0/environment/2: must be an object");
	EXPECT(C1("\"secrets\":[{\"name\":\"PW\",\"value\":\"hunter2\"}]"),
	       "request: /containerDefinitions/0/secrets/0/value: unknown key",
	       "request: /containerDefinitions/0/secrets/0/valueFrom: is required");
	EXPECT(C1("\"workingDirectory\":1,\"user\":[],\"logConfiguration\":\"json\""),
	       "request: /containerDefinitions/0/workingDirectory: must be a string",
	       "request: /containerDefinitions/0/user: must be a string",
	       "request: /containerDefinitions/0/logConfiguration: must be an object");
}

static void test_errors_health_mounts_depends(void **state)
{
	(void)state;
	EXPECT(C1("\"healthCheck\":{\"interval\":4,\"timeout\":61,\"retries\":0,\"startPeriod\":301,\"x\":1}"),
	       "request: /containerDefinitions/0/healthCheck/x: unknown key",
	       "request: /containerDefinitions/0/healthCheck/command: is required",
	       "request: /containerDefinitions/0/healthCheck/interval: must be an integer from 5 to 300",
	       "request: /containerDefinitions/0/healthCheck/timeout: must be an integer from 2 to 60",
	       "request: /containerDefinitions/0/healthCheck/retries: must be an integer from 1 to 10",
	       "request: /containerDefinitions/0/healthCheck/startPeriod: must be an integer from 0 to 300");
	EXPECT(C1("\"healthCheck\":{\"command\":[]}"),
	       "request: /containerDefinitions/0/healthCheck/command: must hold 1 to 256 items");
	EXPECT(C1("\"mountPoints\":[{\"sourceVolume\":\"nope\",\"containerPath\":\"rel\",\"readOnly\":1}]"),
	       "request: /containerDefinitions/0/mountPoints/0/containerPath: must be an absolute path",
	       "request: /containerDefinitions/0/mountPoints/0/readOnly: must be a boolean",
	       "request: /containerDefinitions/0/mountPoints/0/sourceVolume: no volume named \"nope\" in /volumes");
	EXPECT(C1("\"dependsOn\":[{\"containerName\":\"c\",\"condition\":\"START\"},{\"containerName\":\"z\",\"condition\":\"DONE\"}]"),
	       "request: /containerDefinitions/0/dependsOn/1/condition: must be one of START, COMPLETE, SUCCESS, HEALTHY",
	       "request: /containerDefinitions/0/dependsOn/0/containerName: no other container named \"c\"",
	       "request: /containerDefinitions/0/dependsOn/1/containerName: no other container named \"z\"");
	EXPECT("{\"family\":\"f\",\"containerDefinitions\":["
	       "{\"name\":\"a\",\"image\":\"i\",\"dependsOn\":[{\"containerName\":\"b\",\"condition\":\"HEALTHY\"}]},"
	       "{\"name\":\"b\",\"image\":\"i\"}]}",
	       "request: /containerDefinitions/0/dependsOn/0/containerName: condition HEALTHY needs a healthCheck on container \"b\"");
	EXPECT("{\"family\":\"f\",\"containerDefinitions\":["
	       "{\"name\":\"a\",\"image\":\"i\",\"dependsOn\":[{\"containerName\":\"b\",\"condition\":\"START\"}]},"
	       "{\"name\":\"b\",\"image\":\"i\",\"dependsOn\":[{\"containerName\":\"c\",\"condition\":\"START\"}]},"
	       "{\"name\":\"c\",\"image\":\"i\",\"dependsOn\":[{\"containerName\":\"b\",\"condition\":\"COMPLETE\"}]}]}",
	       "request: /containerDefinitions/0/dependsOn: dependency cycle through container \"a\"");
}

static void test_errors_task_level(void **state)
{
	(void)state;
	EXPECT("{\"family\":\"f\",\"cpu\":\"1 vCPU\",\"memory\":\"3\",\"containerDefinitions\":[{\"name\":\"c\",\"image\":\"i\"}]}",
	       "request: /cpu: must be an integer or a string of digits from 128 to 262144",
	       "request: /memory: must be an integer or a string of digits from 4 to 4194304");
	EXPECT("{\"family\":\"f\",\"networkMode\":\"nat\",\"requiresCompatibilities\":[\"EC2\",\"MANAGED\"],"
	       "\"containerDefinitions\":[{\"name\":\"c\",\"image\":\"i\"}]}",
	       "request: /networkMode: must be one of none, bridge, host, awsvpc",
	       "request: /requiresCompatibilities/1: must be one of EC2, FARGATE, EXTERNAL");
	EXPECT("{\"family\":\"f\",\"volumes\":[{\"name\":\"v\",\"efsVolumeConfiguration\":{}},{\"name\":\"v\"},{\"host\":{}}],"
	       "\"containerDefinitions\":[{\"name\":\"c\",\"image\":\"i\"}]}",
	       "request: /volumes/0/efsVolumeConfiguration: unknown key",
	       "request: /volumes/1/name: duplicate volume name \"v\"",
	       "request: /volumes/2/name: is required");
	EXPECT("{\"family\":\"f\",\"tags\":[{\"value\":\"x\"},{\"key\":\"k\",\"value\":2}],"
	       "\"containerDefinitions\":[{\"name\":\"c\",\"image\":\"i\"}]}",
	       "request: /tags/0/key: is required",
	       "request: /tags/1/value: must be a string");
}

static void test_normalised_json(void **state)
{
	struct taskdef_registry *reg;
	struct errlist e = ERRLIST_INIT;
	const struct taskdef *td;
	char *text = read_text(DATA "full.json");

	(void)state;
	assert_int_equal(taskdef_registry_open(NULL, "eu-west-1", "123456789012", &reg, &e), 0);
	assert_int_equal(taskdef_register(reg, text, strlen(text), "full.json", &td, &e), 0);
	assert_string_equal(td->arn, "arn:aws:ecs:eu-west-1:123456789012:task-definition/web-app_2:1");
	assert_non_null(strstr(td->json, "\"taskDefinitionArn\":\"arn:aws:ecs:eu-west-1:123456789012:task-definition/web-app_2:1\""));
	assert_non_null(strstr(td->json, "\"revision\":1"));
	assert_non_null(strstr(td->json, "\"status\":\"ACTIVE\""));
	assert_non_null(strstr(td->json, "\"registeredAt\":"));
	assert_non_null(strstr(td->json, "\"cpu\":\"512\""));
	assert_non_null(strstr(td->json, "\"memory\":\"1024\""));
	assert_non_null(strstr(td->json, "\"essential\":false"));
	assert_non_null(strstr(td->json, "\"healthCheck\":{\"command\":[\"CMD\",\"true\"],\"interval\":10,\"timeout\":5,\"retries\":3,\"startPeriod\":0}"));
	assert_non_null(strstr(td->json, "\"logConfiguration\":{\"logDriver\":\"json-file\",\"options\":{\"max-size\":\"10m\"}}"));
	assert_non_null(strstr(td->json, "\"secrets\":[{\"name\":\"DB_PASSWORD\",\"valueFrom\":\"db/password\"}]"));
	assert_null(strstr(td->json, "\"tags\""));
	assert_null(strstr(td->json, "deregisteredAt"));
	assert_string_equal(td->tags_json, "[{\"key\":\"team\",\"value\":\"ops\"}]");
	taskdef_registry_free(reg);
	taskdef_registry_free(NULL);
	free(text);
}

static int collect(const struct taskdef *td, void *userdata)
{
	char *buf = userdata;
	char item[300];

	snprintf(item, sizeof(item), "%s%s:%u", *buf ? " " : "", td->family, td->revision);
	strcat(buf, item);
	return 0;
}

static int collect_family(const char *family, void *userdata)
{
	char *buf = userdata;

	if (*buf)
		strcat(buf, " ");
	strcat(buf, family);
	return 0;
}

static int stop_after_first(const struct taskdef *td, void *userdata)
{
	(void)td;
	(*(int *)userdata)++;
	return 7;
}

static void test_registry(void **state)
{
	char dir[64], buf[512], *cmp;
	struct taskdef_registry *reg;
	struct errlist e = ERRLIST_INIT;
	const struct taskdef *td, *got;
	int n = 0;

	(void)state;
	make_tmpdir(dir, sizeof(dir));
	assert_int_equal(taskdef_registry_open(dir, NULL, NULL, &reg, &e), 0);
	for (unsigned i = 1; i <= 3; i++) {
		assert_int_equal(taskdef_register(reg, MINIMAL, strlen(MINIMAL), NULL, &td, &e), 0);
		assert_int_equal(td->revision, i);
		assert_int_equal(td->status, TASKDEF_STATUS_ACTIVE);
	}
	assert_int_equal(taskdef_register(reg, "{\"family\":\"other\",\"containerDefinitions\":[{\"name\":\"c\",\"image\":\"i\"}]}",
					  strlen("{\"family\":\"other\",\"containerDefinitions\":[{\"name\":\"c\",\"image\":\"i\"}]}"),
					  NULL, &td, &e), 0);
	assert_int_equal(td->revision, 1);
	assert_int_equal(e.n, 0);
	assert_int_equal(count_files(dir), 4);

	assert_int_equal(taskdef_describe(reg, "hello", &got), 0);
	assert_int_equal(got->revision, 3);
	assert_int_equal(taskdef_describe(reg, "hello:2", &got), 0);
	assert_int_equal(got->revision, 2);
	assert_int_equal(taskdef_describe(reg, "arn:aws:ecs:local:000000000000:task-definition/hello:1", &got), 0);
	assert_int_equal(got->revision, 1);
	assert_string_equal(got->arn, "arn:aws:ecs:local:000000000000:task-definition/hello:1");
	assert_int_equal(taskdef_describe(reg, "arn:aws:ecs:local:000000000000:task-definition/hello", &got), 0);
	assert_int_equal(got->revision, 3);
	assert_int_equal(taskdef_describe(reg, "arn:aws:ecs:us-east-1:000000000000:task-definition/hello:1", &got), -ENOENT);
	assert_null(got);
	assert_int_equal(taskdef_describe(reg, "hello:4", &got), -ENOENT);
	assert_int_equal(taskdef_describe(reg, "nope", &got), -ENOENT);
	assert_int_equal(taskdef_describe(reg, "hello:0", &got), -EINVAL);
	assert_int_equal(taskdef_describe(reg, "hello:x", &got), -EINVAL);
	assert_int_equal(taskdef_describe(reg, "", &got), -EINVAL);
	assert_int_equal(taskdef_describe(reg, "he llo", &got), -EINVAL);

	/* deregister → INACTIVE; the bare family gives the latest ACTIVE */
	assert_int_equal(taskdef_deregister(reg, "hello", &got), -EINVAL);
	assert_int_equal(taskdef_deregister(reg, "hello:9", &got), -ENOENT);
	assert_int_equal(taskdef_deregister(reg, "hello:3", &got), 0);
	assert_int_equal(got->status, TASKDEF_STATUS_INACTIVE);
	assert_true(got->deregistered_at > 0);
	assert_non_null(strstr(got->json, "\"status\":\"INACTIVE\""));
	assert_non_null(strstr(got->json, "\"deregisteredAt\":"));
	assert_int_equal(taskdef_deregister(reg, "hello:3", &got), 0);
	assert_int_equal(taskdef_describe(reg, "hello", &got), 0);
	assert_int_equal(got->revision, 2);
	assert_int_equal(taskdef_describe(reg, "hello:3", &got), 0);
	assert_int_equal(got->status, TASKDEF_STATUS_INACTIVE);
	assert_int_equal(taskdef_deregister(reg, "other:1", NULL), 0);
	assert_int_equal(taskdef_describe(reg, "other", &got), -ENOENT);

	/* listings */
	buf[0] = '\0';
	assert_int_equal(taskdef_list(reg, NULL, TASKDEF_FILTER_ALL, false, NULL, 0, collect, buf), 0);
	assert_string_equal(buf, "hello:1 hello:2 hello:3 other:1");
	buf[0] = '\0';
	assert_int_equal(taskdef_list(reg, "he", TASKDEF_FILTER_ACTIVE, false, NULL, 0, collect, buf), 0);
	assert_string_equal(buf, "hello:1 hello:2");
	buf[0] = '\0';
	assert_int_equal(taskdef_list(reg, NULL, TASKDEF_FILTER_INACTIVE, false, NULL, 0, collect, buf), 0);
	assert_string_equal(buf, "hello:3 other:1");
	assert_int_equal(taskdef_list(reg, NULL, TASKDEF_FILTER_ALL, false, NULL, 0, stop_after_first, &n), 7);
	assert_int_equal(n, 1);
	buf[0] = '\0';
	assert_int_equal(taskdef_list_families(reg, NULL, TASKDEF_FILTER_ALL, NULL, collect_family, buf), 0);
	assert_string_equal(buf, "hello other");
	buf[0] = '\0';
	assert_int_equal(taskdef_list_families(reg, NULL, TASKDEF_FILTER_ACTIVE, NULL, collect_family, buf), 0);
	assert_string_equal(buf, "hello");
	buf[0] = '\0';
	assert_int_equal(taskdef_list_families(reg, "o", TASKDEF_FILTER_INACTIVE, NULL, collect_family, buf), 0);
	assert_string_equal(buf, "other");
	buf[0] = '\0';
	assert_int_equal(taskdef_list_families(reg, "x", TASKDEF_FILTER_ALL, NULL, collect_family, buf), 0);
	assert_string_equal(buf, "");

	/* invalid input registers nothing and consumes no revision */
	assert_int_equal(taskdef_register(reg, "{\"family\":\"hello\"}", 18, NULL, &td, &e), -EINVAL);
	assert_null(td);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.msgs[0], "request: /containerDefinitions: is required");
	errlist_clear(&e);
	assert_int_equal(taskdef_describe(reg, "hello:3", &got), 0);
	cmp = strdup(got->json);
	taskdef_registry_free(reg);

	/* reopen: everything is back, and revisions continue after the highest */
	assert_int_equal(taskdef_registry_open(dir, NULL, NULL, &reg, &e), 0);
	assert_int_equal(e.n, 0);
	buf[0] = '\0';
	assert_int_equal(taskdef_list(reg, NULL, TASKDEF_FILTER_INACTIVE, false, NULL, 0, collect, buf), 0);
	assert_string_equal(buf, "hello:3 other:1");
	assert_int_equal(taskdef_describe(reg, "hello", &got), 0);
	assert_int_equal(got->revision, 2);
	assert_int_equal(taskdef_describe(reg, "hello:3", &got), 0);
	assert_string_equal(got->json, cmp);
	free(cmp);
	assert_int_equal(taskdef_register(reg, MINIMAL, strlen(MINIMAL), NULL, &td, &e), 0);
	assert_int_equal(td->revision, 4);
	assert_int_equal(taskdef_register(reg, "{\"family\":\"other\",\"containerDefinitions\":[{\"name\":\"c\",\"image\":\"i\"}]}",
					  strlen("{\"family\":\"other\",\"containerDefinitions\":[{\"name\":\"c\",\"image\":\"i\"}]}"),
					  NULL, &td, &e), 0);
	assert_int_equal(td->revision, 2);
	assert_int_equal(count_files(dir), 6);
	taskdef_registry_free(reg);
	remove_tree(dir);
}

static void test_secrets_never_persisted_as_values(void **state)
{
	char dir[64], path[128], *file;
	struct taskdef_registry *reg;
	struct errlist e = ERRLIST_INIT;
	const struct taskdef *td;
	char *text = read_text(DATA "full.json");

	(void)state;
	make_tmpdir(dir, sizeof(dir));
	assert_int_equal(taskdef_registry_open(dir, NULL, NULL, &reg, &e), 0);
	assert_int_equal(taskdef_register(reg, text, strlen(text), "full.json", &td, &e), 0);
	snprintf(path, sizeof(path), "%s/web-app_2.1.json", dir);
	file = read_text(path);
	assert_non_null(strstr(file, "\"valueFrom\": \"db/password\""));
	assert_null(strstr(file, "\"value\": \"db"));
	assert_non_null(strstr(file, "\"tags\""));
	assert_null(strstr(td->json, "\"value\":\"db"));
	free(file);
	taskdef_registry_free(reg);
	remove_tree(dir);
	free(text);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* ECS allows families of 255 characters: every length registers, persists
 * and opens again (a long family's file keeps a prefix and a digest). */
static void test_long_family_names(void **state)
{
	char dir[64], fam[256], text[512];
	struct taskdef_registry *reg;
	struct errlist e = ERRLIST_INIT;
	const struct taskdef *td;
	static const size_t lengths[] = {1, 200, 201, 240, 247, 255};

	(void)state;
	make_tmpdir(dir, sizeof(dir));
	assert_int_equal(taskdef_registry_open(dir, NULL, NULL, &reg, &e), 0);
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		memset(fam, 'a' + (int)i, lengths[i]);
		fam[lengths[i]] = '\0';
		snprintf(text, sizeof(text), "{\"family\":\"%s\",\"containerDefinitions\":[{\"name\":\"c\",\"image\":\"i\"}]}", fam);
		for (unsigned rev = 1; rev <= 2; rev++) {
			if (taskdef_register(reg, text, strlen(text), NULL, &td, &e) < 0)
				fail_msg("family of %zu characters: %s", lengths[i], e.n ? e.msgs[0] : "not stored");
			assert_int_equal(td->revision, rev);
		}
	}
	taskdef_registry_free(reg);
	assert_int_equal(taskdef_registry_open(dir, NULL, NULL, &reg, &e), 0);
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		memset(fam, 'a' + (int)i, lengths[i]);
		fam[lengths[i]] = '\0';
		assert_int_equal(taskdef_describe(reg, fam, &td), 0);
		assert_int_equal(td->revision, 2);
		assert_string_equal(td->family, fam);
	}
	assert_int_equal(count_files(dir), 12);
	taskdef_registry_free(reg);
	remove_tree(dir);
}

/* A file that is not a valid definition of its name is moved to corrupt/
 * beside the registry's directory, and the registry opens without it. */
static void test_reopen_moves_bad_files_aside(void **state)
{
	char top[64], dir[128], path[200], want[400];
	struct taskdef_registry *reg = NULL;
	const struct taskdef *td;
	struct errlist e = ERRLIST_INIT;

	(void)state;
	make_tmpdir(top, sizeof(top));
	snprintf(dir, sizeof(dir), "%s/taskdefs", top);
	assert_int_equal(taskdef_registry_open(dir, NULL, NULL, &reg, &e), 0);
	assert_int_equal(taskdef_register(reg, MINIMAL, strlen(MINIMAL), NULL, NULL, &e), 0);
	assert_int_equal(taskdef_register(reg, MINIMAL, strlen(MINIMAL), NULL, NULL, &e), 0);
	taskdef_registry_free(reg);

	/* a leftover temp file is removed; a renamed file, bad JSON and a FIFO are moved aside */
	snprintf(path, sizeof(path), "%s/.hello.2.json.abc123", dir);
	write_file(path, "{");
	snprintf(path, sizeof(path), "%s/hello.1.json", dir);
	assert_int_equal(rename(path, (snprintf(want, sizeof(want), "%s/hello.7.json", dir), want)), 0);
	snprintf(path, sizeof(path), "%s/broken.1.json", dir);
	write_file(path, "{\"family\":");
	snprintf(path, sizeof(path), "%s/fifo.1.json", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(taskdef_registry_open(dir, NULL, NULL, &reg, &e), 0);
	assert_non_null(reg);
	snprintf(want, sizeof(want), "%s/hello.7.json: holds hello:1, so it must be named hello.1.json", dir);
	bool named = false, moved = false;
	for (size_t i = 0; i < e.n; i++) {
		named |= strcmp(e.msgs[i], want) == 0;
		moved |= strstr(e.msgs[i], "hello.7.json: not loaded: moved to ") != NULL &&
			 strstr(e.msgs[i], "/corrupt/hello.7.json.") != NULL;
	}
	assert_true(named);
	assert_true(moved);
	assert_int_equal(e.n, 6);   /* a problem and where the file went, for each */
	assert_int_equal(taskdef_describe(reg, "hello:2", &td), 0);
	assert_int_equal(taskdef_describe(reg, "hello:1", &td), -ENOENT);
	taskdef_registry_free(reg);
	errlist_clear(&e);
	snprintf(path, sizeof(path), "%s/corrupt", top);
	assert_int_equal(count_files(path), 3);
	assert_int_equal(count_files(dir), 1);   /* hello.2.json */
	snprintf(path, sizeof(path), "%s/.hello.2.json.abc123", dir);
	assert_int_equal(access(path, F_OK), -1);

	/* what is left opens cleanly */
	assert_int_equal(taskdef_registry_open(dir, NULL, NULL, &reg, &e), 0);
	assert_int_equal(e.n, 0);
	taskdef_registry_free(reg);
	assert_int_equal(statefile_remove_tree(top), 0);
}

#define FAM(name) "{\"family\":\"" name "\",\"containerDefinitions\":[{\"name\":\"main\",\"command\":[\"/bin/true\"]}]}"

static bool has_msg(const struct errlist *e, const char *part)
{
	for (size_t i = 0; i < e->n; i++)
		if (strstr(e->msgs[i], part))
			return true;
	return false;
}

/* The size of a registration, the families and the revisions per family
 * are bounded; a refusal leaves no empty family behind. */
static void test_limits(void **state)
{
	struct taskdef_registry *reg = NULL;
	struct errlist e = ERRLIST_INIT;
	const struct taskdef *td;
	char buf[256] = "";

	(void)state;
	assert_int_equal(taskdef_registry_open(NULL, NULL, NULL, &reg, &e), 0);
	taskdef_registry_set_limits(reg, &(struct taskdef_limits){.max_bytes = 100, .max_families = 2,
								   .max_revisions = 2});
	assert_int_equal(taskdef_register(reg, FAM("a"), strlen(FAM("a")), NULL, NULL, &e), 0);
	assert_int_equal(taskdef_register(reg, FAM("a"), strlen(FAM("a")), NULL, NULL, &e), 0);
	assert_int_equal(taskdef_register(reg, FAM("a"), strlen(FAM("a")), NULL, NULL, &e), -EINVAL);
	assert_true(has_msg(&e, "request: /family: a already has 2 revisions (limits.max_task_definition_revisions)"));
	errlist_clear(&e);
	assert_int_equal(taskdef_register(reg, FAM("b"), strlen(FAM("b")), NULL, NULL, &e), 0);
	assert_int_equal(taskdef_register(reg, FAM("c"), strlen(FAM("c")), NULL, NULL, &e), -EINVAL);
	assert_true(has_msg(&e, "(limits.max_task_definition_families)"));
	errlist_clear(&e);
	assert_int_equal(taskdef_list_families(reg, NULL, TASKDEF_FILTER_ALL, NULL, collect_family, buf), 0);
	assert_string_equal(buf, "a b");
	char big[200];
	snprintf(big, sizeof(big), "{\"family\":\"b\",\"containerDefinitions\":[{\"name\":\"main\",\"command\":[\"%080d\"]}]}", 0);
	assert_int_equal(taskdef_register(reg, big, strlen(big), NULL, NULL, &e), -EINVAL);
	assert_true(has_msg(&e, "more than the 100 allowed (limits.max_task_definition_bytes)"));
	errlist_clear(&e);

	/* a deleted revision makes room once nothing holds it */
	taskdef_registry_set_in_use(reg, NULL, NULL);
	assert_int_equal(taskdef_delete(reg, "a:1", &td), -EBUSY);
	assert_int_equal(taskdef_deregister(reg, "a:1", &td), 0);
	assert_int_equal(taskdef_delete(reg, "a:1", &td), 0);
	assert_int_equal(td->status, TASKDEF_STATUS_DELETE_IN_PROGRESS);
	assert_int_equal(taskdef_register(reg, FAM("a"), strlen(FAM("a")), NULL, &td, &e), 0);
	assert_int_equal(td->revision, 3);
	assert_int_equal(taskdef_describe(reg, "a:1", &td), -ENOENT);
	taskdef_registry_free(reg);
}

static bool held(const struct taskdef *td, void *userdata)
{
	return td == *(const struct taskdef **)userdata;
}

/* DeleteTaskDefinitions: only INACTIVE revisions; a held one stays
 * DELETE_IN_PROGRESS (file and all) until it is let go; a family with no
 * revision left is gone. */
static void test_delete_and_sweep(void **state)
{
	char top[64], dir[128];
	struct taskdef_registry *reg = NULL;
	struct errlist e = ERRLIST_INIT;
	const struct taskdef *td, *hold = NULL;
	char buf[256] = "";

	(void)state;
	make_tmpdir(top, sizeof(top));
	snprintf(dir, sizeof(dir), "%s/taskdefs", top);
	assert_int_equal(taskdef_registry_open(dir, NULL, NULL, &reg, &e), 0);
	assert_int_equal(taskdef_register(reg, MINIMAL, strlen(MINIMAL), NULL, &hold, &e), 0);
	assert_int_equal(taskdef_register(reg, MINIMAL, strlen(MINIMAL), NULL, NULL, &e), 0);
	assert_int_equal(taskdef_delete(reg, "hello", &td), -EINVAL);
	assert_int_equal(taskdef_delete(reg, "hello:9", &td), -ENOENT);
	assert_int_equal(taskdef_deregister(reg, "hello:1", NULL), 0);
	assert_int_equal(taskdef_deregister(reg, "hello:2", NULL), 0);
	assert_int_equal(taskdef_delete(reg, "hello:1", &td), 0);
	assert_int_equal(taskdef_delete(reg, "hello:2", &td), 0);
	assert_int_equal(taskdef_registry_sweep(reg), 0);   /* not turned on yet */
	taskdef_registry_set_in_use(reg, held, &hold);
	/* hello:1 is held; hello:2, the highest, stays while hello:1 does */
	assert_int_equal(taskdef_registry_sweep(reg), 0);
	assert_int_equal(count_files(dir), 2);
	assert_int_equal(taskdef_describe(reg, "hello:1", &td), 0);
	assert_string_equal(taskdef_status_name(td->status), "DELETE_IN_PROGRESS");
	assert_int_equal(taskdef_list(reg, NULL, TASKDEF_FILTER_DELETE_IN_PROGRESS, false, NULL, 0, collect, buf), 0);
	assert_string_equal(buf, "hello:1 hello:2");
	/* a newer revision lets the old highest go; the numbers go on */
	assert_int_equal(taskdef_register(reg, MINIMAL, strlen(MINIMAL), NULL, &td, &e), 0);
	assert_int_equal(td->revision, 3);
	assert_int_equal(taskdef_deregister(reg, "hello:3", NULL), 0);
	assert_int_equal(taskdef_delete(reg, "hello:3", &td), 0);
	assert_int_equal(taskdef_registry_sweep(reg), 1);
	assert_int_equal(taskdef_describe(reg, "hello:2", &td), -ENOENT);
	taskdef_registry_free(reg);

	/* the status survives a restart; once let go, the family is gone */
	assert_int_equal(taskdef_registry_open(dir, NULL, NULL, &reg, &e), 0);
	assert_int_equal(taskdef_describe(reg, "hello:1", &td), 0);
	assert_int_equal(td->status, TASKDEF_STATUS_DELETE_IN_PROGRESS);
	assert_int_equal(taskdef_describe(reg, "hello:3", &td), 0);
	assert_int_equal(td->status, TASKDEF_STATUS_DELETE_IN_PROGRESS);
	hold = NULL;
	taskdef_registry_set_in_use(reg, held, &hold);
	assert_int_equal(taskdef_registry_sweep(reg), 2);
	assert_int_equal(count_files(dir), 0);
	buf[0] = '\0';
	assert_int_equal(taskdef_list_families(reg, NULL, TASKDEF_FILTER_ALL, NULL, collect_family, buf), 0);
	assert_string_equal(buf, "");
	taskdef_registry_free(reg);
	assert_int_equal(statefile_remove_tree(top), 0);
}

/* Listings continue after a given item: the pages of the API. */
static void test_list_after(void **state)
{
	struct taskdef_registry *reg = NULL;
	struct errlist e = ERRLIST_INIT;
	char buf[256] = "";

	(void)state;
	assert_int_equal(taskdef_registry_open(NULL, NULL, NULL, &reg, &e), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(taskdef_register(reg, FAM("a"), strlen(FAM("a")), NULL, NULL, &e), 0);
		assert_int_equal(taskdef_register(reg, FAM("c"), strlen(FAM("c")), NULL, NULL, &e), 0);
	}
	assert_int_equal(taskdef_list(reg, NULL, TASKDEF_FILTER_ALL, false, "a", 1, collect, buf), 0);
	assert_string_equal(buf, "a:2 c:1 c:2");
	buf[0] = '\0';
	assert_int_equal(taskdef_list(reg, NULL, TASKDEF_FILTER_ALL, false, "b", 7, collect, buf), 0);
	assert_string_equal(buf, "c:1 c:2");
	buf[0] = '\0';
	assert_int_equal(taskdef_list(reg, NULL, TASKDEF_FILTER_ALL, true, NULL, 0, collect, buf), 0);
	assert_string_equal(buf, "c:2 c:1 a:2 a:1");
	buf[0] = '\0';
	assert_int_equal(taskdef_list(reg, NULL, TASKDEF_FILTER_ALL, true, "c", 2, collect, buf), 0);
	assert_string_equal(buf, "c:1 a:2 a:1");
	buf[0] = '\0';
	assert_int_equal(taskdef_list(reg, NULL, TASKDEF_FILTER_ALL, true, "b", 1, collect, buf), 0);
	assert_string_equal(buf, "a:2 a:1");
	buf[0] = '\0';
	assert_int_equal(taskdef_list(reg, NULL, TASKDEF_FILTER_ALL, true, "a", 1, collect, buf), 0);
	assert_string_equal(buf, "");
	buf[0] = '\0';
	assert_int_equal(taskdef_list_families(reg, NULL, TASKDEF_FILTER_ALL, "a", collect_family, buf), 0);
	assert_string_equal(buf, "c");
	taskdef_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_invalid_file),
		cmocka_unit_test(test_errors_structure),
		cmocka_unit_test(test_errors_container),
		cmocka_unit_test(test_errors_health_mounts_depends),
		cmocka_unit_test(test_errors_task_level),
		cmocka_unit_test(test_normalised_json),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_secrets_never_persisted_as_values),
		cmocka_unit_test(test_long_family_names),
		cmocka_unit_test(test_reopen_moves_bad_files_aside),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_delete_and_sweep),
		cmocka_unit_test(test_list_after),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
