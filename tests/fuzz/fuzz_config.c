/*
 * fuzz_config.c — libFuzzer target for the daemon's configuration file
 * (engine/config.h), parsed from the input as the file's text.
 *
 * The input either loads or is rejected with every message naming the file
 * ("fuzz.json: …"). A loaded configuration must hold what deploy/CONFIG.md
 * promises of every key: defaults filled in, names and numbers within their
 * documented ranges, every secret a well-formed reference, auth keys
 * whenever the listener is not a loopback address, names unique where they
 * must be. Nothing may crash, leak or trip the sanitizers. Secrets are
 * never resolved here (a file: reference would read the fuzzer's choice of
 * file).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool chars_in(const char *s, size_t min, size_t max, const char *extra, bool upper, bool lower,
		     bool digits)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (upper && c >= 'A' && c <= 'Z') || (lower && c >= 'a' && c <= 'z') ||
			  (digits && c >= '0' && c <= '9') || (c != '\0' && strchr(extra, c));
		if (!ok)
			return false;
	}
	return true;
}

static void check_unique(char *const *names, size_t stride, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			const char *a = *(char *const *)((const char *)names + i * stride);
			const char *b = *(char *const *)((const char *)names + j * stride);
			if (strcmp(a, b) == 0)
				abort();
		}
}

static void check_config(const struct tripline_config *c)
{
	if (!c->data_dir || !c->listen || !c->listen_host || !c->listen_host[0] || c->listen_port == 0)
		abort();
	if (!chars_in(c->region, 1, 32, "-", false, true, true) || !chars_in(c->account, 12, 12, "", false, false, true))
		abort();
	if (!chars_in(c->cluster.name, 1, 255, "_-", true, true, true) || c->cluster.cpu < 1 ||
	    c->cluster.cpu > 67108864 || c->cluster.memory_mib < 1 || c->cluster.memory_mib > 1073741824)
		abort();
	if (!c->drivers.docker_socket || c->log_level > CONFIG_LOG_ERROR || c->log_format > CONFIG_LOG_FORMAT_JSON)
		abort();
	for (size_t i = 0; i < c->rules.n; i++)
		if (!c->rules.v[i])
			abort();
	for (size_t i = 0; i < c->task_definitions.n; i++)
		if (!c->task_definitions.v[i])
			abort();

	/* auth: 1-256 keys with [A-Za-z0-9]{1,128} ids and valid references;
	 * required off loopback */
	if (c->n_auth_keys > 256 || (!config_listen_is_loopback(c) && c->n_auth_keys == 0))
		abort();
	for (size_t i = 0; i < c->n_auth_keys; i++)
		if (!chars_in(c->auth_keys[i].access_key_id, 1, 128, "", true, true, true) ||
		    !config_secret_ref_valid(c->auth_keys[i].secret_ref))
			abort();
	if (c->n_auth_keys)
		check_unique(&c->auth_keys[0].access_key_id, sizeof(c->auth_keys[0]), c->n_auth_keys);

	/* remote clusters: a name like cluster.name's, other than it */
	for (size_t i = 0; i < c->n_clusters; i++) {
		const struct config_remote_cluster *rc = &c->clusters[i];
		if (!chars_in(rc->name, 1, 255, "_-", true, true, true) || strcmp(rc->name, c->cluster.name) == 0 ||
		    !rc->endpoint || !rc->credentials || !chars_in(rc->region, 1, 32, "-", false, true, true) ||
		    (strncmp(rc->endpoint, "http://", 7) != 0 && strncmp(rc->endpoint, "https://", 8) != 0) ||
		    (strncmp(rc->credentials, "env:", 4) != 0 && strncmp(rc->credentials, "file:", 5) != 0))
			abort();
	}
	if (c->n_clusters)
		check_unique(&c->clusters[0].name, sizeof(c->clusters[0]), c->n_clusters);

	/* sources: names [A-Za-z0-9_.-]{1,64}, unique per kind */
	for (size_t i = 0; i < c->sources.n_files; i++) {
		const struct config_file_source *f = &c->sources.files[i];
		if (!chars_in(f->name, 1, 64, "_.-", true, true, true) || !f->path || !f->source)
			abort();
	}
	if (c->sources.n_files)
		check_unique(&c->sources.files[0].name, sizeof(c->sources.files[0]), c->sources.n_files);
	for (size_t i = 0; i < c->sources.n_kafka; i++) {
		const struct config_kafka_source *k = &c->sources.kafka[i];
		if (!chars_in(k->name, 1, 64, "_.-", true, true, true) || !k->brokers || !k->group ||
		    k->topics.n < 1 || k->topics.n > 100)
			abort();
		for (size_t t = 0; t < k->topics.n; t++)
			if (!chars_in(k->topics.v[t], 1, 249, "._-", true, true, true))
				abort();
	}
	if (c->sources.n_kafka)
		check_unique(&c->sources.kafka[0].name, sizeof(c->sources.kafka[0]), c->sources.n_kafka);
	for (size_t i = 0; i < c->sources.n_webhooks; i++) {
		const struct config_webhook *w = &c->sources.webhooks[i];
		if (!chars_in(w->name, 1, 64, "_.-", true, true, true))
			abort();
		if (w->auth == CONFIG_WEBHOOK_AUTH_NONE ? w->secret_ref != NULL
							: !config_secret_ref_valid(w->secret_ref))
			abort();
	}
	if (c->sources.n_webhooks)
		check_unique(&c->sources.webhooks[0].name, sizeof(c->sources.webhooks[0]), c->sources.n_webhooks);

	/* limits */
	if (c->limits.max_request_bytes < 1024 || c->limits.max_request_bytes > 67108864 ||
	    c->limits.max_event_bytes < 1024 || c->limits.max_event_bytes > c->limits.max_request_bytes ||
	    c->limits.max_tasks < 1 || c->limits.max_tasks > 100000 || c->limits.shutdown_timeout_s < 1 ||
	    c->limits.shutdown_timeout_s > 3600)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errlist errs = ERRLIST_INIT;
	struct tripline_config *cfg = NULL;
	int r = config_from_text("fuzz.json", (const char *)data, size, &cfg, &errs);

	if (r == 0) {
		if (!cfg || errs.n != 0)
			abort();
		check_config(cfg);
	} else if (r == -EINVAL) {
		if (cfg || (errs.n == 0 && errs.dropped == 0))
			abort();   /* a rejection says why */
		for (size_t i = 0; i < errs.n; i++)
			if (strncmp(errs.msgs[i], "fuzz.json: ", 11) != 0)
				abort();   /* every message names the file */
	} else if (r != -ENOMEM) {
		abort();
	}
	config_free(cfg);
	errlist_clear(&errs);
	return 0;
}
