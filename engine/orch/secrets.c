/*
 * secrets.c — the secrets a task definition names (valueFrom), resolved at
 * each launch and for that launch only.
 *
 * The store is secrets.file: a JSON object of name → string, mode 0600 or
 * stricter (checked on the open file, config.c's rule). A reference is
 * looked up as written, then as the name inside a Secrets Manager ARN
 * (…:secret:NAME) or an SSM parameter ARN (…:parameter/NAME); env:NAME
 * reads the daemon's environment, but only for a NAME the configuration
 * allows (a prefix of secrets.env_allow, or TRIPLINE_TASK_…) and never a
 * variable that holds one of the daemon's own secrets (orch_config's deny
 * list: auth keys, webhook secrets, cluster credentials), whatever the
 * prefixes say. The file is read when a container with
 * secrets is launched and wiped from memory right after, so a changed file
 * takes effect at the next launch and no secret lingers in the daemon.
 * Nothing here logs; a reason never quotes the file.
 */
#include "orch_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"

struct secret_store {
	json_t *root;   /* NULL: no secrets.file */
};

/* The name a valueFrom refers to in the secrets file: the whole reference,
 * or for an ARN the Secrets Manager secret name / SSM parameter name. */
static const char *secret_key_of(const char *ref)
{
	const char *p;
	if (strncmp(ref, "arn:", 4) != 0)
		return ref;
	if ((p = strstr(ref, ":secret:")))
		return p + 8;
	if ((p = strstr(ref, ":parameter/")))
		return p + 11;
	return ref;
}

bool orch_secret_ref_allowed(const struct orch *o, const char *ref, char *why, size_t whylen)
{
	const char *name;

	if (strncmp(ref, "env:", 4) != 0)
		return true;
	name = ref + 4;
	for (size_t i = 0; i < o->cfg.n_secrets_env_deny; i++) {
		if (strcmp(name, o->cfg.secrets_env_deny[i]) == 0) {
			snprintf(why, whylen,
				 "%s: %s holds one of the daemon's own secrets (an auth key, a webhook secret or "
				 "cluster credentials) and is never given to a task",
				 ref, name);
			return false;
		}
	}
	if (strncmp(name, CONFIG_ENV_ALLOW_ALWAYS, strlen(CONFIG_ENV_ALLOW_ALWAYS)) == 0)
		return true;
	for (size_t i = 0; i < o->cfg.n_secrets_env_allow; i++) {
		const char *p = o->cfg.secrets_env_allow[i];
		if (strncmp(name, p, strlen(p)) == 0)
			return true;
	}
	snprintf(why, whylen,
		 "%s: the daemon's environment variable %s is not allowed: only names starting with "
		 CONFIG_ENV_ALLOW_ALWAYS " or a prefix listed in the config's secrets.env_allow may be read",
		 ref, name);
	return false;
}

int orch_secrets_open(const struct orch *o, struct secret_store **ret, char *why, size_t whylen)
{
	char *text = NULL, ref[4200];
	json_error_t je;
	struct secret_store *st = calloc(1, sizeof(*st));

	*ret = NULL;
	if (!st)
		return -ENOMEM;
	if (!o->secrets_file) {
		*ret = st;
		return 0;
	}
	snprintf(ref, sizeof(ref), "file:%s", o->secrets_file);
	int r = config_resolve_secret(ref, &text, why, whylen);
	if (r < 0) {
		free(st);
		return r;
	}
	st->root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	explicit_bzero(text, strlen(text));
	free(text);
	if (!st->root || !json_is_object(st->root)) {
		/* the parser's message may quote the file: do not pass it on */
		snprintf(why, whylen, "the secrets store %s is not a JSON object of names to strings",
			 o->secrets_file);
		orch_secrets_close(st);
		return -EINVAL;
	}
	*ret = st;
	return 0;
}

int orch_secrets_resolve(const struct orch *o, const struct secret_store *st, const char *ref, char **ret,
			 char *why, size_t whylen)
{
	*ret = NULL;
	if (strncmp(ref, "env:", 4) == 0) {
		if (!orch_secret_ref_allowed(o, ref, why, whylen))
			return -EPERM;
		return config_resolve_secret(ref, ret, why, whylen);
	}
	json_t *v = st->root ? json_object_get(st->root, ref) : NULL;
	if (!v && st->root)
		v = json_object_get(st->root, secret_key_of(ref));
	if (!v || !json_is_string(v)) {
		snprintf(why, whylen, "secret %s is not in the secrets store%s", ref,
			 o->secrets_file ? "" : " (no secrets.file is configured)");
		return -ENOENT;
	}
	*ret = strdup(json_string_value(v));
	return *ret ? 0 : -ENOMEM;
}

void orch_secrets_close(struct secret_store *st)
{
	const char *k;
	json_t *v;

	if (!st)
		return;
	json_object_foreach(st->root, k, v) {
		if (json_is_string(v)) {
			/* jansson keeps the text in place; wipe it before the free */
			char *s = (char *)(uintptr_t)json_string_value(v);
			explicit_bzero(s, json_string_length(v));
		}
	}
	json_decref(st->root);
	free(st);
}
