/*
 * test_config.c — the daemon's configuration file (engine/config.c).
 *
 * The example config (deploy/tripline.example.json) and the files under
 * tests/data/config/ are loaded by their path relative to the source tree, so
 * the messages asserted are the ones a user sees: "<file>: /pointer: message".
 * The program changes into TRIPLINE_SOURCE_DIR first (the environment
 * variable, else the macro of that name, else the current directory).
 *
 * Every error class is asserted with its complete list of messages, in
 * order, from a small in-memory document named "t.json". Secret references
 * are resolved against the real environment and real files made in a fresh
 * temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#ifndef TRIPLINE_SOURCE_DIR
#define TRIPLINE_SOURCE_DIR "."
#endif

#define DATA "tests/data/config/"
#define EXAMPLE "deploy/tripline.example.json"
#define MSGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ------------------------------------------------------------ helpers */

static const char *current_text;   /* printed when messages differ */

static void print_messages(const struct errlist *e)
{
	if (current_text)
		print_message("config: %s\n", current_text);
	for (size_t i = 0; i < e->n; i++)
		print_message("  got: %s\n", e->msgs[i]);
}

static void expect_messages(const struct errlist *e, const char *const *want)
{
	size_t n = 0;

	while (want[n])
		n++;
	if (e->dropped || e->n != n)
		print_messages(e);
	assert_int_equal(e->dropped, 0);
	assert_int_equal(e->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(e->msgs[i], want[i]);
}

/* Loads text as "t.json"; expects -EINVAL and exactly want. */
static void expect_errors(const char *text, const char *const *want)
{
	struct tripline_config *c = (struct tripline_config *)1;
	struct errlist e = ERRLIST_INIT;

	current_text = text;
	assert_int_equal(config_from_text("t.json", text, strlen(text), &c, &e), -EINVAL);
	assert_null(c);
	expect_messages(&e, want);
	errlist_clear(&e);
	current_text = NULL;
}

/* Loads text as "t.json"; expects success. */
static struct tripline_config *load_ok(const char *text)
{
	struct tripline_config *c = NULL;
	struct errlist e = ERRLIST_INIT;
	int r = config_from_text("t.json", text, strlen(text), &c, &e);

	if (r != 0) {
		current_text = text;
		print_messages(&e);
	}
	assert_int_equal(r, 0);
	assert_false(errlist_any(&e));
	assert_non_null(c);
	return c;
}

static uint64_t host_cpu_units(void)
{
	return 1024u * (uint64_t)sysconf(_SC_NPROCESSORS_ONLN);
}

static uint64_t host_memory_mib(void)
{
	return (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) >> 20;
}

/* ------------------------------------------------------------ good configs */

/* The defaults of the listener's and registry's limits and of task privileges. */
static void assert_hardening_defaults(const struct tripline_config *c)
{
	assert_int_equal(c->limits.max_connections, 256);
	assert_int_equal(c->limits.max_connections_per_client, 32);
	assert_int_equal(c->limits.request_head_timeout_s, 10);
	assert_int_equal(c->limits.max_task_definition_bytes, 65536);
	assert_int_equal(c->limits.max_task_definition_families, 1000);
	assert_int_equal(c->limits.max_task_definition_revisions, 1000);
	assert_int_equal(c->drivers.process_uid_min, 61184);
	assert_int_equal(c->drivers.process_uid_max, 65519);
	assert_null(c->drivers.process_default_user);
	assert_false(c->drivers.process_allow_root);
	assert_int_equal(c->drivers.docker_allowed_host_paths.n, 0);
	assert_int_equal(c->secrets_env_allow.n, 0);
}

/* The defaults of the keys for events and their delivery (services aside). */
static void assert_delivery_defaults(const struct tripline_config *c)
{
	assert_int_equal(c->buses.n, 0);
	assert_int_equal(c->n_connections, 0);
	assert_true(c->journal.fsync);
	assert_int_equal(c->journal.max_bytes, 268435456);
	assert_int_equal(c->delivery.max_concurrency, 64);
	assert_int_equal(c->delivery.http_timeout_s, 10);
	assert_false(c->delivery.file_fsync);
	assert_int_equal(c->delivery.max_client_tokens, 100000);
	assert_int_equal(c->limits.bus_queue, 10000);
	assert_int_equal(c->limits.max_event_depth, 8);
}

static void test_empty_is_all_defaults(void **state)
{
	struct tripline_config *c;

	(void)state;
	c = load_ok("{}");
	assert_string_equal(c->data_dir, "./var");
	assert_string_equal(c->listen, "127.0.0.1:8088");
	assert_string_equal(c->listen_host, "127.0.0.1");
	assert_int_equal(c->listen_port, 8088);
	assert_true(config_listen_is_loopback(c));
	assert_string_equal(c->region, "local");
	assert_string_equal(c->account, "000000000000");
	assert_int_equal(c->log_level, CONFIG_LOG_INFO);
	assert_int_equal(c->log_format, CONFIG_LOG_FORMAT_TEXT);
	assert_int_equal(c->rules.n, 1);
	assert_string_equal(c->rules.v[0], "./rules");
	assert_int_equal(c->task_definitions.n, 1);
	assert_string_equal(c->task_definitions.v[0], "./taskdefs");
	assert_string_equal(c->cluster.name, "default");
	assert_int_equal(c->cluster.cpu, host_cpu_units());
	assert_int_equal(c->cluster.memory_mib, host_memory_mib());
	assert_true(c->cluster.cpu >= 1024);
	assert_null(c->drivers.process_cgroup_root);
	assert_string_equal(c->drivers.docker_socket, "/var/run/docker.sock");
	assert_int_equal(c->n_clusters, 0);
	assert_null(c->state_redis);
	assert_null(c->secrets_file);
	assert_int_equal(c->n_auth_keys, 0);
	assert_int_equal(c->sources.n_files, 0);
	assert_int_equal(c->sources.n_kafka, 0);
	assert_int_equal(c->sources.n_webhooks, 0);
	assert_int_equal(c->limits.max_request_bytes, 1048576);
	assert_int_equal(c->limits.max_event_bytes, 262144);
	assert_int_equal(c->limits.max_tasks, 1000);
	assert_int_equal(c->limits.shutdown_timeout_s, 30);
	assert_hardening_defaults(c);
	config_free(c);

	/* empty sections are defaults too */
	c = load_ok("{\"cluster\": {}, \"drivers\": {\"process\": {}, \"docker\": {}}, "
		    "\"sources\": {}, \"limits\": {}, \"state\": {}, \"clusters\": {}}");
	assert_string_equal(c->cluster.name, "default");
	assert_string_equal(c->drivers.docker_socket, "/var/run/docker.sock");
	assert_null(c->state_redis);
	assert_int_equal(c->limits.max_event_bytes, 262144);
	config_free(c);
}

static void test_example_loads(void **state)
{
	struct tripline_config *c = NULL;
	struct errlist e = ERRLIST_INIT;

	(void)state;
	assert_int_equal(config_load_file(EXAMPLE, &c, &e), 0);
	print_messages(&e);
	assert_false(errlist_any(&e));
	/* the keys with a fixed default hold it in the example */
	assert_string_equal(c->data_dir, "./var");
	assert_string_equal(c->listen, "127.0.0.1:8088");
	assert_int_equal(c->listen_port, 8088);
	assert_string_equal(c->region, "local");
	assert_string_equal(c->account, "000000000000");
	assert_int_equal(c->log_level, CONFIG_LOG_INFO);
	assert_int_equal(c->log_format, CONFIG_LOG_FORMAT_TEXT);
	/* the example runs from the repository root as shipped */
	assert_string_equal(c->rules.v[0], "deploy/examples/rules");
	assert_string_equal(c->task_definitions.v[0], "deploy/examples/taskdefs");
	assert_int_equal(c->services.n, 1);
	assert_string_equal(c->services.v[0], "deploy/examples/services");
	assert_string_equal(c->cluster.name, "default");
	assert_int_equal(c->cluster.cpu, 2048);
	assert_int_equal(c->cluster.memory_mib, 4096);
	assert_string_equal(c->drivers.docker_socket, "/var/run/docker.sock");
	assert_int_equal(c->limits.max_request_bytes, 1048576);
	assert_int_equal(c->limits.max_event_bytes, 262144);
	assert_int_equal(c->limits.max_tasks, 1000);
	assert_int_equal(c->limits.shutdown_timeout_s, 30);
	assert_hardening_defaults(c);
	/* nothing that needs a secret, a broker or a file the clone lacks */
	assert_int_equal(c->n_clusters, 0);
	assert_null(c->state_redis);
	assert_null(c->secrets_file);
	assert_int_equal(c->n_auth_keys, 0);
	assert_int_equal(c->sources.n_files + c->sources.n_kafka + c->sources.n_webhooks, 0);
	/* the event keys are written out at their defaults */
	assert_delivery_defaults(c);
	config_free(c);
	errlist_clear(&e);
}

/* The optional sections as deploy/CONFIG.md shows them. */
static void test_optional_sections(void **state)
{
	struct tripline_config *c = NULL;
	struct errlist e = ERRLIST_INIT;

	(void)state;
	assert_int_equal(config_load_file("tests/data/config/optional-sections.json", &c, &e), 0);
	print_messages(&e);
	assert_false(errlist_any(&e));
	assert_int_equal(c->n_clusters, 1);
	assert_string_equal(c->clusters[0].name, "prod");
	assert_string_equal(c->clusters[0].endpoint, "https://ecs.eu-west-1.amazonaws.com");
	assert_string_equal(c->clusters[0].region, "eu-west-1");
	assert_string_equal(c->clusters[0].credentials, "env:AWS");
	assert_string_equal(c->state_redis, "redis://127.0.0.1:6379/0");
	assert_string_equal(c->secrets_file, "./secrets.json");
	assert_int_equal(c->secrets_env_allow.n, 1);
	assert_string_equal(c->secrets_env_allow.v[0], "APP_");
	assert_int_equal(c->n_auth_keys, 1);
	assert_string_equal(c->auth_keys[0].access_key_id, "AKIDEXAMPLE");
	assert_string_equal(c->auth_keys[0].secret_ref, "env:TRIPLINE_SECRET_KEY");
	assert_int_equal(c->sources.n_files, 1);
	assert_string_equal(c->sources.files[0].name, "uploads");
	assert_string_equal(c->sources.files[0].path, "./inbox");
	assert_true(c->sources.files[0].recursive);
	assert_string_equal(c->sources.files[0].source, "aws.s3");
	assert_int_equal(c->sources.files[0].include.n, 2);
	assert_int_equal(c->sources.files[0].exclude.n, 2);
	assert_int_equal(c->sources.n_webhooks, 2);
	assert_int_equal(c->sources.webhooks[1].auth, CONFIG_WEBHOOK_AUTH_HMAC);
	assert_string_equal(c->sources.webhooks[1].timestamp_header, "X-Timestamp");
	assert_int_equal(c->trusted_proxies.n, 1);
	assert_int_equal(c->sources.n_kafka, 1);
	assert_string_equal(c->sources.kafka[0].name, "metrics");
	assert_string_equal(c->sources.kafka[0].brokers, "127.0.0.1:9092");
	assert_string_equal(c->sources.kafka[0].group, "tripline");
	assert_int_equal(c->sources.kafka[0].topics.n, 1);
	assert_string_equal(c->sources.kafka[0].topics.v[0], "metrics");
	assert_int_equal(c->sources.n_webhooks, 2);
	assert_string_equal(c->sources.webhooks[0].name, "github");
	assert_int_equal(c->sources.webhooks[0].auth, CONFIG_WEBHOOK_AUTH_GITHUB);
	assert_string_equal(c->sources.webhooks[0].secret_ref, "env:GITHUB_WEBHOOK_SECRET");
	assert_string_equal(c->sources.webhooks[0].detail_type_header, "X-GitHub-Event");
	assert_string_equal(c->sources.webhooks[0].id_header, "X-GitHub-Delivery");
	assert_int_equal(c->n_connections, 3);
	assert_string_equal(c->connections[0].name, "ops");
	assert_int_equal(c->connections[0].auth, CONFIG_CONNECTION_BEARER);
	assert_string_equal(c->connections[0].secret_ref, "env:OPS_HOOK_TOKEN");
	assert_string_equal(c->connections[1].name, "crm");
	assert_int_equal(c->connections[1].auth, CONFIG_CONNECTION_BASIC);
	assert_string_equal(c->connections[1].username, "tripline");
	assert_string_equal(c->connections[1].secret_ref, "file:/etc/tripline/crm-password");
	assert_string_equal(c->connections[2].name, "metrics");
	assert_int_equal(c->connections[2].auth, CONFIG_CONNECTION_API_KEY);
	assert_string_equal(c->connections[2].header, "X-Api-Key");
	assert_string_equal(c->connections[2].secret_ref, "env:METRICS_API_KEY");
	config_free(c);
	errlist_clear(&e);
}

static void test_values(void **state)
{
	struct tripline_config *c;

	(void)state;
	c = load_ok("{\"data_dir\": \"/srv/tripline\", \"log_level\": \"debug\", \"log_format\": \"json\","
		    " \"rules\": [], \"task_definitions\": [\"a\", \"b/c.json\"],"
		    " \"region\": \"eu-west-1\", \"account\": \"123456789012\","
		    " \"cluster\": {\"name\": \"edge_1-a\", \"cpu\": 1, \"memory\": 1},"
		    " \"drivers\": {\"process\": {\"cgroup_root\": \"/sys/fs/cgroup/tripline\"},"
		    " \"docker\": {\"socket\": \"/run/podman/podman.sock\"}},"
		    " \"state\": {\"redis\": \"redis://[::1]\"},"
		    " \"limits\": {\"max_request_bytes\": 2048}}");
	assert_string_equal(c->data_dir, "/srv/tripline");
	assert_int_equal(c->log_level, CONFIG_LOG_DEBUG);
	assert_int_equal(c->log_format, CONFIG_LOG_FORMAT_JSON);
	assert_int_equal(c->rules.n, 0);
	assert_int_equal(c->task_definitions.n, 2);
	assert_string_equal(c->task_definitions.v[1], "b/c.json");
	assert_string_equal(c->region, "eu-west-1");
	assert_string_equal(c->account, "123456789012");
	assert_string_equal(c->cluster.name, "edge_1-a");
	assert_int_equal(c->cluster.cpu, 1);
	assert_int_equal(c->cluster.memory_mib, 1);
	assert_string_equal(c->drivers.process_cgroup_root, "/sys/fs/cgroup/tripline");
	assert_string_equal(c->drivers.docker_socket, "/run/podman/podman.sock");
	assert_string_equal(c->state_redis, "redis://[::1]");
	/* the event limit's default shrinks to fit a smaller request limit */
	assert_int_equal(c->limits.max_request_bytes, 2048);
	assert_int_equal(c->limits.max_event_bytes, 2048);
	config_free(c);

	/* other redis URL forms */
	c = load_ok("{\"state\": {\"redis\": \"redis://cache.internal:6380\"}}");
	config_free(c);
	c = load_ok("{\"state\": {\"redis\": \"redis://10.0.0.1/3\"}}");
	config_free(c);

	/* kafka names default to kafka-<index>; webhooks default to auth none */
	c = load_ok("{\"sources\": {\"kafka\": [{\"brokers\": \"k:9092\", \"topics\": [\"a\"]},"
		    " {\"brokers\": \"k:9092\", \"group\": \"g2\", \"topics\": [\"b.c\", \"d_e-f\"]}],"
		    " \"webhooks\": [{\"name\": \"plain\"}, {\"name\": \"tok\", \"auth\": \"bearer\","
		    " \"secret\": \"value:s3cret\"}],"
		    " \"files\": [{\"name\": \"in\", \"path\": \"/in\"}]}}");
	assert_string_equal(c->sources.kafka[0].name, "kafka-0");
	assert_string_equal(c->sources.kafka[0].group, "tripline");
	assert_string_equal(c->sources.kafka[1].name, "kafka-1");
	assert_string_equal(c->sources.kafka[1].group, "g2");
	assert_int_equal(c->sources.kafka[1].topics.n, 2);
	assert_int_equal(c->sources.webhooks[0].auth, CONFIG_WEBHOOK_AUTH_NONE);
	assert_null(c->sources.webhooks[0].secret_ref);
	assert_null(c->sources.webhooks[0].id_header);
	assert_int_equal(c->sources.webhooks[1].auth, CONFIG_WEBHOOK_AUTH_BEARER);
	/* a watch: S3's defaults (DESIGN.md §3) */
	const struct config_file_source *fs = &c->sources.files[0];
	assert_true(fs->recursive);
	assert_string_equal(fs->source, "aws.s3");
	assert_string_equal(fs->bus, "default");
	assert_int_equal(fs->include.n, 0);
	assert_int_equal(fs->exclude.n, 5);
	assert_string_equal(fs->exclude.v[0], ".*");
	assert_string_equal(fs->exclude.v[4], "*~");
	assert_int_equal(fs->events, CONFIG_FS_CREATED | CONFIG_FS_DELETED);
	assert_int_equal(fs->on_start, CONFIG_FS_ON_START_RECONCILE);
	assert_int_equal(fs->etag_max_bytes, 16 << 20);
	assert_int_equal(fs->max_watches, 8192);
	/* a webhook's source, detail-type and bus */
	assert_string_equal(c->sources.webhooks[0].source, "webhook.plain");
	assert_string_equal(c->sources.webhooks[0].detail_type, "Webhook");
	assert_string_equal(c->sources.webhooks[0].bus, "default");
	assert_int_equal(c->trusted_proxies.n, 0);
	config_free(c);

	/* every key of a watch and of an hmac webhook */
	c = load_ok("{\"trusted_proxies\": [\"10.0.0.0/8\", \"::1\", \"192.168.1.7\"],"
		    " \"sources\": {\"files\": [{\"name\": \"in\", \"path\": \"/in\", \"recursive\": false,"
		    " \"source\": \"my.files\", \"include\": [\"*.jpg\", \"raw/*.png\"], \"exclude\": [],"
		    " \"events\": [\"deleted\"], \"on_start\": \"ignore\", \"etag_max_bytes\": 0,"
		    " \"max_watches\": 10, \"bus\": \"uploads\"}],"
		    " \"webhooks\": [{\"name\": \"stripe\", \"auth\": \"hmac\", \"secret\": \"env:S\","
		    " \"signature_header\": \"Stripe-Signature\", \"signature_prefix\": \"v1=\","
		    " \"timestamp_header\": \"X-Ts\", \"tolerance_s\": 60, \"source\": \"stripe\","
		    " \"detail_type\": \"Payment\"}]}}");
	fs = &c->sources.files[0];
	assert_false(fs->recursive);
	assert_string_equal(fs->source, "my.files");
	assert_int_equal(fs->include.n, 2);
	assert_string_equal(fs->include.v[1], "raw/*.png");
	assert_int_equal(fs->exclude.n, 0);
	assert_int_equal(fs->events, CONFIG_FS_DELETED);
	assert_int_equal(fs->on_start, CONFIG_FS_ON_START_IGNORE);
	assert_int_equal(fs->etag_max_bytes, 0);
	assert_int_equal(fs->max_watches, 10);
	assert_string_equal(fs->bus, "uploads");
	const struct config_webhook *w = &c->sources.webhooks[0];
	assert_int_equal(w->auth, CONFIG_WEBHOOK_AUTH_HMAC);
	assert_string_equal(w->signature_header, "Stripe-Signature");
	assert_string_equal(w->signature_prefix, "v1=");
	assert_string_equal(w->timestamp_header, "X-Ts");
	assert_int_equal(w->tolerance_s, 60);
	assert_string_equal(w->source, "stripe");
	assert_string_equal(w->detail_type, "Payment");
	assert_int_equal(c->trusted_proxies.n, 3);
	config_free(c);

	/* a remote cluster's credentials default to env:AWS */
	c = load_ok("{\"clusters\": {\"b\": {\"endpoint\": \"http://10.0.0.2:8088/\", \"region\": \"local\"}}}");
	assert_string_equal(c->clusters[0].credentials, "env:AWS");
	config_free(c);
}

static void test_listen_forms(void **state)
{
	static const struct {
		const char *listen;
		const char *host;
		unsigned port;
		bool loopback;
	} cases[] = {
		{"127.0.0.1:8088", "127.0.0.1", 8088, true},
		{"127.1.2.3:1", "127.1.2.3", 1, true},
		{"localhost:65535", "localhost", 65535, true},
		{"[::1]:8088", "::1", 8088, true},
		{"[::ffff:127.0.0.1]:80", "::ffff:127.0.0.1", 80, true},
		{"0.0.0.0:8088", "0.0.0.0", 8088, false},
		{"[::]:8088", "::", 8088, false},
		{"10.1.2.3:443", "10.1.2.3", 443, false},
		{"tripline.example.com:8088", "tripline.example.com", 8088, false},
	};
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text),
			 "{\"listen\": \"%s\", \"auth\": {\"keys\": {\"AK\": \"env:K\"}}}", cases[i].listen);
		struct tripline_config *c = load_ok(text);
		assert_string_equal(c->listen, cases[i].listen);
		assert_string_equal(c->listen_host, cases[i].host);
		assert_int_equal(c->listen_port, cases[i].port);
		assert_int_equal(config_listen_is_loopback(c), cases[i].loopback);
		config_free(c);
	}
}

/* ------------------------------------------------------------ bad configs */

static void test_document_errors(void **state)
{
	(void)state;
	expect_errors("[]", MSGS("t.json: must be a JSON object"));
	expect_errors("{\"a\": 1,}", MSGS("t.json: invalid JSON at line 1, column 9: expected a string key in object"));
	expect_errors("", MSGS("t.json: invalid JSON at line 1, column 1: unexpected end of input"));
}

static void test_unknown_and_duplicate(void **state)
{
	(void)state;
	expect_errors("{\"clustr\": {}}", MSGS("t.json: /clustr: unknown field"));
	expect_errors("{\"Listen\": \"127.0.0.1:1\"}",
		      MSGS("t.json: /Listen: unknown field (did you mean \"listen\"?)"));
	expect_errors("{\"region\": \"a\", \"region\": \"b\"}", MSGS("t.json: /region: duplicate field"));
	expect_errors("{\"cluster\": {\"nmae\": \"x\"}}", MSGS("t.json: /cluster/nmae: unknown field"));
	expect_errors("{\"drivers\": {\"process\": {\"cgroups\": \"/x\"}, \"lxc\": {}}}",
		      MSGS("t.json: /drivers/lxc: unknown field",
			   "t.json: /drivers/process/cgroups: unknown field"));
	expect_errors("{\"auth\": {\"keys\": {\"AK\": \"env:A\", \"AK\": \"env:B\"}}}",
		      MSGS("t.json: /auth/keys/AK: duplicate field"));
	expect_errors("{\"clusters\": {\"x\": {\"endpoint\": \"http://a\", \"region\": \"r\", \"extra\": 1}}}",
		      MSGS("t.json: /clusters/x/extra: unknown field"));
	expect_errors("{\"sources\": {\"files\": [{\"name\": \"a\", \"path\": \"/p\", \"glob\": \"*\"}]}}",
		      MSGS("t.json: /sources/files/0/glob: unknown field"));
	expect_errors("{\"limits\": {\"max_body\": 1}}", MSGS("t.json: /limits/max_body: unknown field"));
	/* pointers escape ~ and / (RFC 6901) */
	expect_errors("{\"a/b~c\": 1}", MSGS("t.json: /a~1b~0c: unknown field"));
}

static void test_type_errors(void **state)
{
	(void)state;
	expect_errors("{\"data_dir\": 1, \"listen\": 8088, \"region\": null, \"account\": 0,"
		      " \"rules\": \"./rules\", \"cluster\": [], \"drivers\": true, \"auth\": \"on\","
		      " \"sources\": [], \"limits\": 1, \"state\": \"redis\", \"secrets\": \"f\", \"clusters\": []}",
		      MSGS("t.json: /data_dir: must be a string",
			   "t.json: /listen: must be a string",
			   "t.json: /region: must be a string",
			   "t.json: /account: must be a string",
			   "t.json: /rules: must be an array",
			   "t.json: /cluster: must be an object",
			   "t.json: /drivers: must be an object",
			   "t.json: /clusters: must be an object",
			   "t.json: /state: must be an object",
			   "t.json: /secrets: must be an object",
			   "t.json: /auth: must be an object",
			   "t.json: /sources: must be an object",
			   "t.json: /limits: must be an object"));
	expect_errors("{\"data_dir\": \"\", \"rules\": [\"\", 1, \"ok\"], \"task_definitions\": [null]}",
		      MSGS("t.json: /data_dir: must be a non-empty string without NUL characters",
			   "t.json: /rules/0: must be a non-empty string",
			   "t.json: /rules/1: must be a non-empty string",
			   "t.json: /task_definitions/0: must be a non-empty string"));
	expect_errors("{\"sources\": {\"files\": [{\"name\": \"a\", \"path\": \"/p\", \"recursive\": \"yes\"}, 3]}}",
		      MSGS("t.json: /sources/files/0/recursive: must be true or false",
			   "t.json: /sources/files/1: must be an object"));
}

static void test_listen_errors(void **state)
{
	static const char *const port = "must be HOST:PORT with a port from 1 to 65535";
	static const char *const host =
		"must be HOST:PORT with HOST an IPv4 address, a host name or [an IPv6 address]";
	static const struct {
		const char *listen;
		const char *msg;
	} cases[] = {
		{"127.0.0.1", NULL}, {"127.0.0.1:", NULL}, {"127.0.0.1:0", NULL},
		{"127.0.0.1:65536", NULL}, {"127.0.0.1:80a", NULL}, {"127.0.0.1:-1", NULL},
		{"localhost", NULL}, {"", NULL}, {"[::1]", NULL}, {"[::1]8088", NULL},
		{":8088", "h"}, {"::1:8088", "h"}, {"[::1:8088", "h"}, {"[127.0.0.1]:80", "h"},
		{"256.0.0.1:80", "h"}, {"my host:80", "h"}, {"-bad.example:80", "h"},
		{"a..b:80", "h"},
	};
	char text[256], want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "{\"listen\": \"%s\"}", cases[i].listen);
		snprintf(want, sizeof(want), "t.json: /listen: %s", cases[i].msg ? host : port);
		expect_errors(text, MSGS(want));
	}
}

static void test_value_errors(void **state)
{
	(void)state;
	expect_errors("{\"region\": \"EU\"}", MSGS("t.json: /region: must be 1 to 32 characters of a-z, 0-9 and -"));
	expect_errors("{\"region\": \"\"}", MSGS("t.json: /region: must be 1 to 32 characters of a-z, 0-9 and -"));
	expect_errors("{\"region\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		      MSGS("t.json: /region: must be 1 to 32 characters of a-z, 0-9 and -"));
	expect_errors("{\"account\": \"12345678901\"}", MSGS("t.json: /account: must be 12 digits"));
	expect_errors("{\"account\": \"12345678901x\"}", MSGS("t.json: /account: must be 12 digits"));
	expect_errors("{\"log_level\": \"verbose\"}",
		      MSGS("t.json: /log_level: must be one of debug, info, warn, error"));
	expect_errors("{\"log_level\": 1}", MSGS("t.json: /log_level: must be one of debug, info, warn, error"));
	expect_errors("{\"log_format\": \"yaml\"}", MSGS("t.json: /log_format: must be text or json"));
	expect_errors("{\"cluster\": {\"name\": \"a/b\", \"cpu\": 0, \"memory\": 1.0}}",
		      MSGS("t.json: /cluster/name: must be 1 to 255 characters of A-Z, a-z, 0-9, _ and -",
			   "t.json: /cluster/cpu: must be an integer from 1 to 67108864",
			   "t.json: /cluster/memory: must be an integer from 1 to 1073741824"));
	expect_errors("{\"cluster\": {\"cpu\": \"2048\", \"memory\": 1e3}}",
		      MSGS("t.json: /cluster/cpu: must be an integer from 1 to 67108864",
			   "t.json: /cluster/memory: must be an integer from 1 to 1073741824"));
	expect_errors("{\"drivers\": {\"docker\": {\"socket\": \"\"}}}",
		      MSGS("t.json: /drivers/docker/socket: must be a non-empty string without NUL characters"));
	expect_errors("{\"state\": {\"redis\": \"127.0.0.1:6379\"}}",
		      MSGS("t.json: /state/redis: must be redis://HOST[:PORT][/DB]"));
	expect_errors("{\"state\": {\"redis\": \"redis://:pw@host:6379/0\"}}",
		      MSGS("t.json: /state/redis: must be redis://HOST[:PORT][/DB]"));
	expect_errors("{\"state\": {\"redis\": \"redis://host:6379/x\"}}",
		      MSGS("t.json: /state/redis: must be redis://HOST[:PORT][/DB]"));
	expect_errors("{\"limits\": {\"max_request_bytes\": 1023, \"max_event_bytes\": 67108865,"
		      " \"max_tasks\": 0, \"shutdown_timeout_s\": 3601}}",
		      MSGS("t.json: /limits/max_request_bytes: must be an integer from 1024 to 67108864",
			   "t.json: /limits/max_event_bytes: must be an integer from 1024 to 67108864",
			   "t.json: /limits/max_tasks: must be an integer from 1 to 100000",
			   "t.json: /limits/shutdown_timeout_s: must be an integer from 1 to 3600"));
	expect_errors("{\"limits\": {\"max_request_bytes\": 4096, \"max_event_bytes\": 8192}}",
		      MSGS("t.json: /limits/max_event_bytes: must not be more than max_request_bytes (4096)"));
}

/* The keys that keep the API from being root for every local user, and the
 * listener's and the registry's limits. */
static void test_privilege_and_limit_keys(void **state)
{
	struct tripline_config *c;

	(void)state;
	c = load_ok("{\"drivers\": {\"process\": {\"uid_range\": \"70000-70009\", \"default_user\": \"nobody\","
		    " \"allow_root\": true}, \"docker\": {\"allowed_host_paths\": [\"/srv/data/\", \"/\"]}},"
		    " \"secrets\": {\"env_allow\": [\"APP_\", \"DB_PASSWORD\"]},"
		    " \"limits\": {\"max_connections\": 64, \"max_connections_per_client\": 8,"
		    " \"request_head_timeout_s\": 3, \"max_task_definition_bytes\": 2048,"
		    " \"max_task_definition_families\": 5, \"max_task_definition_revisions\": 7}}");
	assert_int_equal(c->drivers.process_uid_min, 70000);
	assert_int_equal(c->drivers.process_uid_max, 70009);
	assert_string_equal(c->drivers.process_default_user, "nobody");
	assert_true(c->drivers.process_allow_root);
	assert_int_equal(c->drivers.docker_allowed_host_paths.n, 2);
	assert_string_equal(c->drivers.docker_allowed_host_paths.v[0], "/srv/data");
	assert_string_equal(c->drivers.docker_allowed_host_paths.v[1], "/");
	assert_null(c->secrets_file);
	assert_int_equal(c->secrets_env_allow.n, 2);
	assert_string_equal(c->secrets_env_allow.v[1], "DB_PASSWORD");
	assert_int_equal(c->limits.max_connections, 64);
	assert_int_equal(c->limits.max_connections_per_client, 8);
	assert_int_equal(c->limits.request_head_timeout_s, 3);
	assert_int_equal(c->limits.max_task_definition_bytes, 2048);
	assert_int_equal(c->limits.max_task_definition_families, 5);
	assert_int_equal(c->limits.max_task_definition_revisions, 7);
	config_free(c);
	c = load_ok("{\"drivers\": {\"process\": {\"default_user\": \"1000:1000\"}}, \"secrets\": {}}");
	assert_string_equal(c->drivers.process_default_user, "1000:1000");
	config_free(c);

	expect_errors("{\"drivers\": {\"process\": {\"uid_range\": \"65519-61184\"}}}",
		      MSGS("t.json: /drivers/process/uid_range: must be \"START-END\": two uids from 1 to 2147483647, START <= END"));
	expect_errors("{\"drivers\": {\"process\": {\"uid_range\": \"0-10\", \"allow_root\": 1}}}",
		      MSGS("t.json: /drivers/process/uid_range: must be \"START-END\": two uids from 1 to 2147483647, START <= END",
			   "t.json: /drivers/process/allow_root: must be true or false"));
	expect_errors("{\"drivers\": {\"process\": {\"default_user\": \"root\"}}}",
		      MSGS("t.json: /drivers/process/default_user: must not be root: tasks that must run as root"
			   " say \"user\": \"root\" and need allow_root"));
	expect_errors("{\"drivers\": {\"process\": {\"default_user\": \"0:0\"}}}",
		      MSGS("t.json: /drivers/process/default_user: must not be root: tasks that must run as root"
			   " say \"user\": \"root\" and need allow_root"));
	expect_errors("{\"drivers\": {\"process\": {\"default_user\": \"a b\"}}}",
		      MSGS("t.json: /drivers/process/default_user: must be a user: NAME, UID, NAME:GROUP or UID:GID"));
	expect_errors("{\"drivers\": {\"docker\": {\"allowed_host_paths\": [\"srv\", \"/a/../etc\", \"/a/./b\"]}}}",
		      MSGS("t.json: /drivers/docker/allowed_host_paths/0: must be an absolute path without \".\" or \"..\" parts",
			   "t.json: /drivers/docker/allowed_host_paths/1: must be an absolute path without \".\" or \"..\" parts",
			   "t.json: /drivers/docker/allowed_host_paths/2: must be an absolute path without \".\" or \"..\" parts"));
	expect_errors("{\"secrets\": {\"env_allow\": [\"1X\", \"A-B\", \"\"]}}",
		      MSGS("t.json: /secrets/env_allow/0: must be a prefix of environment variable names: A-Z, a-z, 0-9 and _, not starting with a digit",
			   "t.json: /secrets/env_allow/1: must be a prefix of environment variable names: A-Z, a-z, 0-9 and _, not starting with a digit",
			   "t.json: /secrets/env_allow/2: must be a prefix of environment variable names: A-Z, a-z, 0-9 and _, not starting with a digit"));
	expect_errors("{\"limits\": {\"max_connections\": 3, \"request_head_timeout_s\": 0,"
		      " \"max_task_definition_bytes\": 1048577, \"max_task_definition_families\": 0,"
		      " \"max_task_definition_revisions\": 1000001}}",
		      MSGS("t.json: /limits/max_connections: must be an integer from 4 to 65536",
			   "t.json: /limits/request_head_timeout_s: must be an integer from 1 to 3600",
			   "t.json: /limits/max_task_definition_bytes: must be an integer from 1024 to 1048576",
			   "t.json: /limits/max_task_definition_families: must be an integer from 1 to 1000000",
			   "t.json: /limits/max_task_definition_revisions: must be an integer from 1 to 1000000"));
	expect_errors("{\"limits\": {\"max_connections\": 16, \"max_connections_per_client\": 17}}",
		      MSGS("t.json: /limits/max_connections_per_client: must not be more than max_connections (16)"));
}

static void test_clusters_errors(void **state)
{
	(void)state;
	expect_errors("{\"clusters\": {\"prod\": {}}}",
		      MSGS("t.json: /clusters/prod/endpoint: is required",
			   "t.json: /clusters/prod/region: is required"));
	expect_errors("{\"clusters\": {\"prod\": {\"endpoint\": \"ftp://x\", \"region\": \"EU\","
		      " \"credentials\": \"AKIA:secret\"}}}",
		      MSGS("t.json: /clusters/prod/endpoint: must be an http:// or https:// URL",
			   "t.json: /clusters/prod/region: must be 1 to 32 characters of a-z, 0-9 and -",
			   "t.json: /clusters/prod/credentials: must be env:PREFIX or file:PATH"));
	expect_errors("{\"clusters\": {\"p\": {\"endpoint\": \"http://x\", \"region\": \"r\","
		      " \"credentials\": \"value:AKIA\"}}}",
		      MSGS("t.json: /clusters/p/credentials: must be env:PREFIX or file:PATH"));
	expect_errors("{\"clusters\": {\"a b\": {\"endpoint\": \"http://x\", \"region\": \"r\"}, \"c\": 1}}",
		      MSGS("t.json: /clusters/a b: a cluster name must be 1 to 255 characters of A-Z, a-z, 0-9, _ and -",
			   "t.json: /clusters/c: must be an object"));
	expect_errors("{\"cluster\": {\"name\": \"edge\"},"
		      " \"clusters\": {\"edge\": {\"endpoint\": \"http://x\", \"region\": \"r\"}}}",
		      MSGS("t.json: /clusters/edge: must not have the local cluster's name (cluster.name)"));
}

static void test_auth_errors(void **state)
{
	(void)state;
	expect_errors("{\"auth\": {}}", MSGS("t.json: /auth/keys: is required"));
	expect_errors("{\"auth\": {\"keys\": {}}}", MSGS("t.json: /auth/keys: must have 1 to 256 access keys"));
	expect_errors("{\"auth\": {\"keys\": {\"AK\": \"secret\", \"AK2\": \"env:\", \"AK3\": \"env:1X\","
		      " \"AK4\": \"file:\", \"AK5\": \"value:\", \"AK6\": 7, \"AK-7\": \"env:OK\"}}}",
		      MSGS("t.json: /auth/keys/AK: must be env:NAME, file:PATH or value:SECRET",
			   "t.json: /auth/keys/AK2: must be env:NAME, file:PATH or value:SECRET",
			   "t.json: /auth/keys/AK3: must be env:NAME, file:PATH or value:SECRET",
			   "t.json: /auth/keys/AK4: must be env:NAME, file:PATH or value:SECRET",
			   "t.json: /auth/keys/AK5: must be env:NAME, file:PATH or value:SECRET",
			   "t.json: /auth/keys/AK6: must be env:NAME, file:PATH or value:SECRET",
			   "t.json: /auth/keys/AK-7: an access key id must be 1 to 128 characters of A-Z, a-z and 0-9"));
	/* a key id holding NUL is refused, never dropped (which would leave a
	 * public listener without auth keys) */
	expect_errors("{\"listen\": \"0.0.0.0:8088\", \"auth\": {\"keys\": {\"A\\u0000\": \"value:x\"}}}",
		      MSGS("t.json: /auth/keys/A\\u0000: an access key id must be 1 to 128 characters of A-Z, a-z and 0-9"));
}

static void test_auth_required_off_loopback(void **state)
{
	struct tripline_config *c = NULL;
	struct errlist e = ERRLIST_INIT;

	(void)state;
	assert_int_equal(config_load_file(DATA "public_noauth.json", &c, &e), -EINVAL);
	assert_null(c);
	expect_messages(&e, MSGS(DATA "public_noauth.json: /auth: required when listen is not a loopback address"));
	errlist_clear(&e);

	expect_errors("{\"listen\": \"[::]:8088\"}",
		      MSGS("t.json: /auth: required when listen is not a loopback address"));
	expect_errors("{\"listen\": \"my-host:8088\"}",
		      MSGS("t.json: /auth: required when listen is not a loopback address"));
	/* auth with bad keys reports the keys, not "required" */
	expect_errors("{\"listen\": \"0.0.0.0:1\", \"auth\": {\"keys\": {}}}",
		      MSGS("t.json: /auth/keys: must have 1 to 256 access keys"));

	assert_int_equal(config_load_file(DATA "public_auth.json", &c, &e), 0);
	assert_false(errlist_any(&e));
	assert_false(config_listen_is_loopback(c));
	assert_int_equal(c->n_auth_keys, 1);
	assert_string_equal(c->auth_keys[0].secret_ref, "file:/etc/tripline/secret");
	config_free(c);
}

static void test_sources_errors(void **state)
{
	(void)state;
	expect_errors("{\"sources\": {\"files\": [{}], \"kafka\": [{}], \"webhooks\": [{}]}}",
		      MSGS("t.json: /sources/files/0/name: is required",
			   "t.json: /sources/files/0/path: is required",
			   "t.json: /sources/kafka/0/brokers: is required",
			   "t.json: /sources/kafka/0/topics: is required",
			   "t.json: /sources/webhooks/0/name: is required"));
	expect_errors("{\"sources\": {\"files\": [{\"name\": \"a b\", \"path\": \"/p\", \"source\": \"\"}],"
		      " \"kafka\": [{\"brokers\": \"b\", \"topics\": []}, {\"brokers\": \"b\", \"topics\": [\"a/b\"]}]}}",
		      MSGS("t.json: /sources/files/0/name: must be 1 to 64 characters of A-Z, a-z, 0-9, _, . and -",
			   "t.json: /sources/files/0/source: must be 1 to 256 characters",
			   "t.json: /sources/kafka/0/topics: must have 1 to 100 items",
			   "t.json: /sources/kafka/1/topics/0: must be a topic name: 1 to 249 characters of A-Z, a-z, 0-9, ., _ and -"));
	expect_errors("{\"sources\": {\"webhooks\": [{\"name\": \"gh\", \"auth\": \"github\"},"
		      " {\"name\": \"x\", \"secret\": \"env:S\"}, {\"name\": \"y\", \"auth\": \"basic\"},"
		      " {\"name\": \"z\", \"detail_type_header\": \"X Event\", \"id_header\": \"\"}]}}",
		      MSGS("t.json: /sources/webhooks/0/secret: is required when auth is github",
			   "t.json: /sources/webhooks/1/secret: is only used when auth is github, bearer or hmac",
			   "t.json: /sources/webhooks/2/auth: must be one of none, github, bearer, hmac",
			   "t.json: /sources/webhooks/3/detail_type_header: must be an HTTP header name",
			   "t.json: /sources/webhooks/3/id_header: must be an HTTP header name"));
	/* the new keys of watches and webhooks */
	expect_errors("{\"trusted_proxies\": [\"10.0.0.0/33\", \"nope\"],"
		      " \"sources\": {\"files\": [{\"name\": \"a\", \"path\": \"/p\", \"include\": [\"/abs\"],"
		      " \"events\": [\"created\", \"renamed\"], \"on_start\": \"later\", \"max_watches\": 0,"
		      " \"bus\": \"a b\"}, {\"name\": \"b\", \"path\": \"/q\", \"events\": []}],"
		      " \"webhooks\": [{\"name\": \"h\", \"auth\": \"hmac\", \"secret\": \"env:S\"},"
		      " {\"name\": \"g\", \"auth\": \"github\", \"secret\": \"env:S\", \"signature_header\": \"X-S\"},"
		      " {\"name\": \"t\", \"auth\": \"hmac\", \"secret\": \"env:S\", \"signature_header\": \"X-S\","
		      " \"tolerance_s\": 5}]}}",
		      MSGS("t.json: /sources/files/0/include/0: must be a glob of 1 to 1024 characters, not starting or ending with /",
			   "t.json: /sources/files/0/events/1: must be \"created\" or \"deleted\"",
			   "t.json: /sources/files/0/on_start: must be reconcile or ignore",
			   "t.json: /sources/files/0/max_watches: must be an integer from 1 to 1000000",
			   "t.json: /sources/files/0/bus: must be an event bus name: 1 to 256 characters of A-Z, a-z, 0-9, /, ., _ and -",
			   "t.json: /sources/files/1/events: must name at least one of \"created\" and \"deleted\"",
			   "t.json: /sources/webhooks/0/signature_header: is required when auth is hmac",
			   "t.json: /sources/webhooks/1/signature_header: is only used when auth is hmac",
			   "t.json: /sources/webhooks/2/tolerance_s: is only used with timestamp_header",
			   "t.json: /trusted_proxies/0: must be an IPv4 or IPv6 address, or a CIDR block such as \"10.0.0.0/8\"",
			   "t.json: /trusted_proxies/1: must be an IPv4 or IPv6 address, or a CIDR block such as \"10.0.0.0/8\""));
	/* auth none only on a loopback listener */
	expect_errors("{\"listen\": \"0.0.0.0:8088\", \"auth\": {\"keys\": {\"AK\": \"env:K\"}},"
		      " \"sources\": {\"webhooks\": [{\"name\": \"open\"}]}}",
		      MSGS("t.json: /sources/webhooks/0/auth: none is refused when listen is not a loopback address: "
			   "anyone who can reach the port could send events (use github, bearer or hmac)"));
	/* names are unique per kind, not across kinds */
	expect_errors("{\"sources\": {\"files\": [{\"name\": \"a\", \"path\": \"/1\"}, {\"name\": \"b\", \"path\": \"/2\"},"
		      " {\"name\": \"a\", \"path\": \"/3\"}],"
		      " \"kafka\": [{\"name\": \"kafka-1\", \"brokers\": \"b\", \"topics\": [\"t\"]},"
		      " {\"brokers\": \"b\", \"topics\": [\"t\"]}],"
		      " \"webhooks\": [{\"name\": \"a\"}, {\"name\": \"a\"}]}}",
		      MSGS("t.json: /sources/files/2/name: duplicate name \"a\"",
			   "t.json: /sources/kafka/1/name: duplicate name \"kafka-1\"",
			   "t.json: /sources/webhooks/1/name: duplicate name \"a\""));
}

static void test_many_errors_at_once(void **state)
{
	struct tripline_config *c = NULL;
	struct errlist e = ERRLIST_INIT;

	(void)state;
	assert_int_equal(config_load_file(DATA "many.json", &c, &e), -EINVAL);
	assert_null(c);
	expect_messages(&e, MSGS(DATA "many.json: /clustr: unknown field",
				 DATA "many.json: /log_level: duplicate field",
				 DATA "many.json: /listen: must be HOST:PORT with a port from 1 to 65535",
				 DATA "many.json: /region: must be 1 to 32 characters of a-z, 0-9 and -",
				 DATA "many.json: /rules: must be an array",
				 DATA "many.json: /cluster/name: must be 1 to 255 characters of A-Z, a-z, 0-9, _ and -",
				 DATA "many.json: /cluster/cpu: must be an integer from 1 to 67108864",
				 DATA "many.json: /cluster/memory: must be an integer from 1 to 1073741824"));
	errlist_clear(&e);
}

static void test_file_errors(void **state)
{
	struct tripline_config *c = NULL;
	struct errlist e = ERRLIST_INIT;

	(void)state;
	assert_int_equal(config_load_file(DATA "syntax.json", &c, &e), -EINVAL);
	expect_messages(&e, MSGS(DATA "syntax.json: invalid JSON at line 1, column 29: expected a string key in object"));
	errlist_clear(&e);
	assert_int_equal(config_load_file(DATA "not_object.json", &c, &e), -EINVAL);
	expect_messages(&e, MSGS(DATA "not_object.json: must be a JSON object"));
	errlist_clear(&e);
	assert_int_equal(config_load_file(DATA "missing.json", &c, &e), -ENOENT);
	assert_null(c);
	expect_messages(&e, MSGS(DATA "missing.json: No such file or directory"));
	errlist_clear(&e);
	assert_int_equal(config_load_file(DATA, &c, &e), -EISDIR);
	expect_messages(&e, MSGS(DATA ": not a regular file"));
	errlist_clear(&e);
}

/* Every truncation of the example is rejected with a message (or, for the
 * whole text, accepted), and nothing leaks on any error path (ASan). */
static void test_example_prefixes(void **state)
{
	FILE *f = fopen(EXAMPLE, "rb");
	char buf[8192];
	size_t len;

	(void)state;
	assert_non_null(f);
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(len > 0 && len < sizeof(buf));
	for (size_t n = 0; n <= len; n++) {
		struct tripline_config *c = NULL;
		struct errlist e = ERRLIST_INIT;
		int r = config_from_text("x.json", buf, n, &c, &e);

		if (r == 0) {
			assert_non_null(c);
			assert_false(errlist_any(&e));
		} else {
			assert_int_equal(r, -EINVAL);
			assert_null(c);
			assert_true(e.n >= 1);
			assert_memory_equal(e.msgs[0], "x.json: ", 8);
		}
		config_free(c);
		errlist_clear(&e);
	}
	config_free(NULL);
}

/* ------------------------------------------------------------ events and delivery */

static void test_delivery_defaults(void **state)
{
	struct tripline_config *c;

	(void)state;
	c = load_ok("{}");
	assert_delivery_defaults(c);
	assert_int_equal(c->services.n, 0);
	config_free(c);
	c = load_ok("{\"buses\": [], \"services\": [], \"connections\": {}, \"journal\": {},"
		    " \"delivery\": {}, \"limits\": {}}");
	assert_delivery_defaults(c);
	assert_int_equal(c->services.n, 0);
	config_free(c);
}

static void test_delivery_values(void **state)
{
	struct tripline_config *c;

	(void)state;
	c = load_ok("{\"buses\": [\"orders\", \"a.b_c-D9\"], \"services\": [\"svc\", \"more/one.json\"],"
		    " \"journal\": {\"fsync\": false, \"max_bytes\": 1048576},"
		    " \"delivery\": {\"max_concurrency\": 1, \"http_timeout_s\": 300, \"file_fsync\": true,"
		    " \"max_client_tokens\": 1},"
		    " \"limits\": {\"bus_queue\": 10, \"max_event_depth\": 64},"
		    " \"connections\": {\"ops\": {\"auth\": \"basic\", \"username\": \"bot user\", \"secret\": \"env:OPS_PW\"},"
		    " \"tok.en_1-x\": {\"auth\": \"bearer\", \"secret\": \"file:/etc/tripline/token\"},"
		    " \"key\": {\"auth\": \"api_key\", \"header\": \"X-Api-Key\", \"secret\": \"value:k\"}}}");
	assert_int_equal(c->buses.n, 2);
	assert_string_equal(c->buses.v[0], "orders");
	assert_string_equal(c->buses.v[1], "a.b_c-D9");
	assert_int_equal(c->services.n, 2);
	assert_string_equal(c->services.v[1], "more/one.json");
	assert_false(c->journal.fsync);
	assert_int_equal(c->journal.max_bytes, 1048576);
	assert_int_equal(c->delivery.max_concurrency, 1);
	assert_int_equal(c->delivery.http_timeout_s, 300);
	assert_true(c->delivery.file_fsync);
	assert_int_equal(c->delivery.max_client_tokens, 1);
	assert_int_equal(c->limits.bus_queue, 10);
	assert_int_equal(c->limits.max_event_depth, 64);
	assert_int_equal(c->n_connections, 3);
	assert_string_equal(c->connections[0].name, "ops");
	assert_int_equal(c->connections[0].auth, CONFIG_CONNECTION_BASIC);
	assert_string_equal(c->connections[0].username, "bot user");
	assert_null(c->connections[0].header);
	assert_string_equal(c->connections[0].secret_ref, "env:OPS_PW");
	assert_string_equal(c->connections[1].name, "tok.en_1-x");
	assert_int_equal(c->connections[1].auth, CONFIG_CONNECTION_BEARER);
	assert_null(c->connections[1].username);
	assert_null(c->connections[1].header);
	assert_string_equal(c->connections[1].secret_ref, "file:/etc/tripline/token");
	assert_int_equal(c->connections[2].auth, CONFIG_CONNECTION_API_KEY);
	assert_string_equal(c->connections[2].header, "X-Api-Key");
	config_free(c);

	/* the other ends of the ranges */
	c = load_ok("{\"journal\": {\"max_bytes\": 1099511627776},"
		    " \"delivery\": {\"max_concurrency\": 10000, \"http_timeout_s\": 1, \"max_client_tokens\": 10000000},"
		    " \"limits\": {\"bus_queue\": 1000000, \"max_event_depth\": 1}}");
	assert_int_equal(c->journal.max_bytes, 1099511627776ull);
	assert_int_equal(c->delivery.max_concurrency, 10000);
	assert_int_equal(c->delivery.http_timeout_s, 1);
	assert_int_equal(c->delivery.max_client_tokens, 10000000);
	assert_int_equal(c->limits.bus_queue, 1000000);
	assert_int_equal(c->limits.max_event_depth, 1);
	config_free(c);
}

static void test_delivery_errors(void **state)
{
	(void)state;
	expect_errors("{\"buses\": \"orders\", \"services\": {}, \"connections\": [], \"journal\": true,"
		      " \"delivery\": 1}",
		      MSGS("t.json: /buses: must be an array",
			   "t.json: /services: must be an array",
			   "t.json: /connections: must be an object",
			   "t.json: /journal: must be an object",
			   "t.json: /delivery: must be an object"));
	expect_errors("{\"journal\": {\"fsync\": 1, \"max_bytes\": 1048575, \"sync\": true},"
		      " \"delivery\": {\"max_concurrency\": 0, \"http_timeout_s\": 301, \"file_fsync\": \"no\","
		      " \"max_client_tokens\": 10000001, \"concurrency\": 1},"
		      " \"limits\": {\"bus_queue\": 9, \"max_event_depth\": 65, \"queue\": 1}}",
		      MSGS("t.json: /limits/queue: unknown field",
			   "t.json: /limits/bus_queue: must be an integer from 10 to 1000000",
			   "t.json: /limits/max_event_depth: must be an integer from 1 to 64",
			   "t.json: /journal/sync: unknown field",
			   "t.json: /journal/fsync: must be true or false",
			   "t.json: /journal/max_bytes: must be an integer from 1048576 to 1099511627776",
			   "t.json: /delivery/concurrency: unknown field",
			   "t.json: /delivery/max_concurrency: must be an integer from 1 to 10000",
			   "t.json: /delivery/http_timeout_s: must be an integer from 1 to 300",
			   "t.json: /delivery/file_fsync: must be true or false",
			   "t.json: /delivery/max_client_tokens: must be an integer from 1 to 10000000"));
	expect_errors("{\"limits\": {\"max_event_depth\": 0, \"bus_queue\": 1e4}, \"journal\": {\"max_bytes\": 2.5e6}}",
		      MSGS("t.json: /limits/bus_queue: must be an integer from 10 to 1000000",
			   "t.json: /limits/max_event_depth: must be an integer from 1 to 64",
			   "t.json: /journal/max_bytes: must be an integer from 1048576 to 1099511627776"));
	/* the journal holds at least the largest event */
	expect_errors("{\"limits\": {\"max_request_bytes\": 4194304, \"max_event_bytes\": 2097152},"
		      " \"journal\": {\"max_bytes\": 1048576}}",
		      MSGS("t.json: /journal/max_bytes: must be at least limits.max_event_bytes (2097152)"));
	expect_errors("{\"services\": [\"\", 2], \"journal\": {\"fsync\": true, \"fsync\": false}}",
		      MSGS("t.json: /services/0: must be a non-empty string",
			   "t.json: /services/1: must be a non-empty string",
			   "t.json: /journal/fsync: duplicate field"));
}

static void test_buses_errors(void **state)
{
	char text[400], want[200];

	(void)state;
	expect_errors("{\"buses\": [\"default\", \"a/b\", \"\", 7, \"ok\"]}",
		      MSGS("t.json: /buses/1: must be an event bus name: 1 to 256 characters of A-Z, a-z, 0-9, ., _ and -",
			   "t.json: /buses/2: must be an event bus name: 1 to 256 characters of A-Z, a-z, 0-9, ., _ and -",
			   "t.json: /buses/3: must be an event bus name: 1 to 256 characters of A-Z, a-z, 0-9, ., _ and -"));
	expect_errors("{\"buses\": [\"default\", \"orders\", \"x\", \"orders\"]}",
		      MSGS("t.json: /buses/0: must not be \"default\": the default bus always exists",
			   "t.json: /buses/3: duplicate name \"orders\""));
	/* 256 characters are a name, 257 are not */
	snprintf(text, sizeof(text), "{\"buses\": [\"%0256d\"]}", 0);
	config_free(load_ok(text));
	snprintf(text, sizeof(text), "{\"buses\": [\"%0257d\"]}", 0);
	snprintf(want, sizeof(want),
		 "t.json: /buses/0: must be an event bus name: 1 to 256 characters of A-Z, a-z, 0-9, ., _ and -");
	expect_errors(text, MSGS(want));
}

static void test_connections_errors(void **state)
{
	(void)state;
	expect_errors("{\"connections\": {\"a\": {}, \"b\": {\"auth\": \"oauth\", \"secret\": \"env:S\"},"
		      " \"c\": {\"auth\": \"bearer\", \"secret\": \"plain\", \"user\": \"u\"}}}",
		      MSGS("t.json: /connections/a/auth: is required",
			   "t.json: /connections/a/secret: is required",
			   "t.json: /connections/b/auth: must be one of basic, bearer, api_key",
			   "t.json: /connections/c/user: unknown field",
			   "t.json: /connections/c/secret: must be env:NAME, file:PATH or value:SECRET"));
	expect_errors("{\"connections\": {\"basic\": {\"auth\": \"basic\", \"secret\": \"env:S\", \"header\": \"X-K\"},"
		      " \"bearer\": {\"auth\": \"bearer\", \"secret\": \"env:S\", \"username\": \"u\"},"
		      " \"key\": {\"auth\": \"api_key\", \"secret\": \"env:S\", \"username\": \"u\"}}}",
		      MSGS("t.json: /connections/basic/username: is required when auth is basic",
			   "t.json: /connections/basic/header: is only used when auth is api_key",
			   "t.json: /connections/bearer/username: is only used when auth is basic",
			   "t.json: /connections/key/username: is only used when auth is basic",
			   "t.json: /connections/key/header: is required when auth is api_key"));
	expect_errors("{\"connections\": {\"u\": {\"auth\": \"basic\", \"username\": \"a:b\", \"secret\": \"env:S\"},"
		      " \"v\": {\"auth\": \"basic\", \"username\": 1, \"secret\": \"env:S\"},"
		      " \"h\": {\"auth\": \"api_key\", \"header\": \"X Key\", \"secret\": 3}}}",
		      MSGS("t.json: /connections/u/username: must be 1 to 512 characters without \":\" or control characters",
			   "t.json: /connections/v/username: must be a string",
			   "t.json: /connections/h/header: must be an HTTP header name",
			   "t.json: /connections/h/secret: must be a string"));
	expect_errors("{\"connections\": {\"a b\": {\"auth\": \"bearer\", \"secret\": \"env:S\"}, \"ok\": [],"
		      " \"ok\": {\"auth\": \"bearer\", \"secret\": \"env:S\"}}}",
		      MSGS("t.json: /connections/ok: duplicate field",
			   "t.json: /connections/a b: a connection name must be 1 to 64 characters of A-Z, a-z, 0-9, ., _ and -"));
	expect_errors("{\"connections\": {\"x\": 1}}", MSGS("t.json: /connections/x: must be an object"));
}

/* Connection secrets are resolved all at once when the daemon starts:
 * each one that fails is named; a config validates without them. */
static void test_connection_secrets(void **state)
{
	struct tripline_config *c;
	struct errlist e = ERRLIST_INIT;
	char **v = (char **)1;

	(void)state;
	c = load_ok("{}");
	assert_int_equal(config_resolve_connection_secrets(c, &v, &e), 0);
	assert_null(v);
	config_free(c);

	unsetenv("TRIPLINE_TEST_CONN");
	c = load_ok("{\"connections\": {\"a\": {\"auth\": \"bearer\", \"secret\": \"value:tok\"},"
		    " \"b\": {\"auth\": \"basic\", \"username\": \"u\", \"secret\": \"env:TRIPLINE_TEST_CONN\"},"
		    " \"c\": {\"auth\": \"bearer\", \"secret\": \"file:/nonexistent/tripline-secret\"}}}");
	assert_int_equal(config_resolve_connection_secrets(c, &v, &e), -EINVAL);
	assert_null(v);
	expect_messages(&e, MSGS("connection b: env:TRIPLINE_TEST_CONN: environment variable TRIPLINE_TEST_CONN is not set",
				 "connection c: file:/nonexistent/tripline-secret: No such file or directory"));
	errlist_clear(&e);
	config_free(c);

	assert_int_equal(setenv("TRIPLINE_TEST_CONN", "pw", 1), 0);
	c = load_ok("{\"connections\": {\"a\": {\"auth\": \"bearer\", \"secret\": \"value:tok\"},"
		    " \"b\": {\"auth\": \"basic\", \"username\": \"u\", \"secret\": \"env:TRIPLINE_TEST_CONN\"}}}");
	assert_int_equal(config_resolve_connection_secrets(c, &v, &e), 0);
	assert_false(errlist_any(&e));
	assert_string_equal(v[0], "tok");
	assert_string_equal(v[1], "pw");
	config_secrets_free(v, c->n_connections);
	config_free(c);
	unsetenv("TRIPLINE_TEST_CONN");
}

/* ------------------------------------------------------------ secrets */

static char tmpdir[64];

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_secret_refs(void **state)
{
	char *s = (char *)1;
	char err[256];

	(void)state;
	assert_true(config_secret_ref_valid("env:A_1"));
	assert_true(config_secret_ref_valid("file:/x"));
	assert_true(config_secret_ref_valid("value:x"));
	assert_false(config_secret_ref_valid("env:1A"));
	assert_false(config_secret_ref_valid("env:A-B"));
	assert_false(config_secret_ref_valid("plain"));
	assert_false(config_secret_ref_valid(NULL));

	assert_int_equal(config_resolve_secret("nope", &s, err, sizeof(err)), -EINVAL);
	assert_null(s);
	assert_string_equal(err, "secret reference must be env:NAME, file:PATH or value:SECRET");

	assert_int_equal(config_resolve_secret("value:lit eral", &s, err, sizeof(err)), 0);
	assert_string_equal(s, "lit eral");
	free(s);
}

static void test_secret_env(void **state)
{
	char *s = NULL;
	char err[256];

	(void)state;
	assert_int_equal(setenv("TRIPLINE_TEST_SECRET", "shh", 1), 0);
	assert_int_equal(config_resolve_secret("env:TRIPLINE_TEST_SECRET", &s, err, sizeof(err)), 0);
	assert_string_equal(s, "shh");
	free(s);

	assert_int_equal(unsetenv("TRIPLINE_TEST_SECRET"), 0);
	assert_int_equal(config_resolve_secret("env:TRIPLINE_TEST_SECRET", &s, err, sizeof(err)), -ENOENT);
	assert_null(s);
	assert_string_equal(err, "env:TRIPLINE_TEST_SECRET: environment variable TRIPLINE_TEST_SECRET is not set");

	assert_int_equal(setenv("TRIPLINE_TEST_SECRET", "", 1), 0);
	assert_int_equal(config_resolve_secret("env:TRIPLINE_TEST_SECRET", &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "env:TRIPLINE_TEST_SECRET: environment variable TRIPLINE_TEST_SECRET is empty");
	unsetenv("TRIPLINE_TEST_SECRET");
	/* err may be omitted */
	assert_int_equal(config_resolve_secret("env:TRIPLINE_TEST_SECRET", &s, NULL, 0), -ENOENT);
}

static void test_secret_file(void **state)
{
	char path[128], ref[160], want[512];
	char *s = NULL;
	char err[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/secret", tmpdir);
	snprintf(ref, sizeof(ref), "file:%s", path);

	write_file(path, "hunter2\n", 0600);
	assert_int_equal(config_resolve_secret(ref, &s, err, sizeof(err)), 0);
	assert_string_equal(s, "hunter2");
	free(s);

	write_file(path, "two\r\nlines\r\n", 0400);
	assert_int_equal(config_resolve_secret(ref, &s, err, sizeof(err)), 0);
	assert_string_equal(s, "two\r\nlines");
	free(s);

	write_file(path, "hunter2\n", 0644);
	assert_int_equal(config_resolve_secret(ref, &s, err, sizeof(err)), -EACCES);
	assert_null(s);
	snprintf(want, sizeof(want),
		 "%s: the file is readable or writable by group or others (mode 0644); "
		 "it must be 0600 or stricter (chmod 600 %s)", ref, path);
	assert_string_equal(err, want);

	write_file(path, "x", 0620);
	assert_int_equal(config_resolve_secret(ref, &s, err, sizeof(err)), -EACCES);

	write_file(path, "\n", 0600);
	assert_int_equal(config_resolve_secret(ref, &s, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: the file is empty or holds NUL bytes", ref);
	assert_string_equal(err, want);
	unlink(path);

	assert_int_equal(config_resolve_secret(ref, &s, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", ref);
	assert_string_equal(err, want);

	snprintf(ref, sizeof(ref), "file:%s", tmpdir);
	assert_int_equal(config_resolve_secret(ref, &s, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: not a regular file", ref);
	assert_string_equal(err, want);
}

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/secret", tmpdir);
	unlink(path);
	return rmdir(tmpdir);
}

int main(void)
{
	const char *src = getenv("TRIPLINE_SOURCE_DIR");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_is_all_defaults),
		cmocka_unit_test(test_example_loads),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_listen_forms),
		cmocka_unit_test(test_document_errors),
		cmocka_unit_test(test_unknown_and_duplicate),
		cmocka_unit_test(test_type_errors),
		cmocka_unit_test(test_listen_errors),
		cmocka_unit_test(test_value_errors),
		cmocka_unit_test(test_clusters_errors),
		cmocka_unit_test(test_auth_errors),
		cmocka_unit_test(test_auth_required_off_loopback),
		cmocka_unit_test(test_sources_errors),
		cmocka_unit_test(test_many_errors_at_once),
		cmocka_unit_test(test_optional_sections),
		cmocka_unit_test(test_privilege_and_limit_keys),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_example_prefixes),
		cmocka_unit_test(test_secret_refs),
		cmocka_unit_test(test_secret_env),
		cmocka_unit_test(test_secret_file),
		cmocka_unit_test(test_delivery_defaults),
		cmocka_unit_test(test_delivery_values),
		cmocka_unit_test(test_delivery_errors),
		cmocka_unit_test(test_buses_errors),
		cmocka_unit_test(test_connections_errors),
		cmocka_unit_test(test_connection_secrets),
	};

	if (chdir(src && *src ? src : TRIPLINE_SOURCE_DIR) != 0) {
		perror("test_config: chdir to the source directory");
		return 1;
	}
	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
