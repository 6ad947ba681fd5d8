/*
 * config_secret.c — secret references turned into secrets (config.h's
 * config_resolve_secret()): an environment variable, a file held to the
 * 0600 rule, or the value written in the config — one at a time, or every
 * connection's at once (config_resolve_connection_secrets(), at the
 * daemon's start). Messages name the reference, never the secret. Nothing
 * here logs.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readfile.h"

#define FORMAT(a, b) __attribute__((format(printf, a, b)))

static void set_err(char *err, size_t errlen, const char *fmt, ...) FORMAT(3, 4);

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Owned by us or root, and nothing for group or others. */
static int secret_file_check(const struct stat *st)
{
	if (st->st_uid != geteuid() && st->st_uid != 0)
		return -EPERM;
	if (st->st_mode & 077)
		return -EACCES;
	return 0;
}

static int secret_from_file(const char *ref, const char *path, char **ret, char *err,
			    size_t errlen)
{
	struct stat st;
	char *text;
	size_t len = 0;
	int r = readfile(path, CONFIG_MAX_SECRET_BYTES, secret_file_check, &text, &len);

	switch (r) {
	case 0:
		break;
	case -EACCES:
		/* the mode is safe to show; stat again only for the message */
		if (stat(path, &st) == 0 && (st.st_mode & 077)) {
			set_err(err, errlen,
				"%s: the file is readable or writable by group or others (mode %04o); "
				"it must be 0600 or stricter (chmod 600 %s)",
				ref, (unsigned)(st.st_mode & 07777), path);
			return -EACCES;
		}
		set_err(err, errlen, "%s: %s", ref, strerror(EACCES));
		return -EACCES;
	case -EPERM:
		set_err(err, errlen, "%s: the file must be owned by the daemon's user or by root", ref);
		return -EACCES;
	case -EFBIG:
		set_err(err, errlen, "%s: the file is larger than %zu bytes", ref, CONFIG_MAX_SECRET_BYTES);
		return r;
	case -EISDIR:
		set_err(err, errlen, "%s: not a regular file", ref);
		return -EINVAL;
	default:
		set_err(err, errlen, "%s: %s", ref, strerror(-r));
		return r;
	}
	if (len && text[len - 1] == '\n')
		text[--len] = '\0';
	if (len && text[len - 1] == '\r')
		text[--len] = '\0';
	if (len == 0 || memchr(text, '\0', len)) {
		set_err(err, errlen, "%s: the file is empty or holds NUL bytes", ref);
		free(text);
		return -EINVAL;
	}
	*ret = text;
	return 0;
}

int config_resolve_secret(const char *ref, char **ret, char *err, size_t errlen)
{
	const char *v;

	*ret = NULL;
	if (!config_secret_ref_valid(ref)) {
		set_err(err, errlen, "secret reference must be env:NAME, file:PATH or value:SECRET");
		return -EINVAL;
	}
	if (strncmp(ref, "file:", 5) == 0)
		return secret_from_file(ref, ref + 5, ret, err, errlen);
	if (strncmp(ref, "env:", 4) == 0) {
		v = getenv(ref + 4);
		if (!v) {
			set_err(err, errlen, "%s: environment variable %s is not set", ref, ref + 4);
			return -ENOENT;
		}
		if (!*v) {
			set_err(err, errlen, "%s: environment variable %s is empty", ref, ref + 4);
			return -EINVAL;
		}
	} else {
		v = ref + 6;   /* value: */
	}
	if (!(*ret = strdup(v))) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void config_secrets_free(char **secrets, size_t n)
{
	for (size_t i = 0; secrets && i < n; i++) {
		if (secrets[i])
			explicit_bzero(secrets[i], strlen(secrets[i]));
		free(secrets[i]);
	}
	free(secrets);
}

int config_resolve_connection_secrets(const struct tripline_config *c, char ***ret,
				      struct errlist *errs)
{
	char **v;
	int rc = 0;

	*ret = NULL;
	if (c->n_connections == 0)
		return 0;
	if (!(v = calloc(c->n_connections, sizeof(*v))))
		return -ENOMEM;
	for (size_t i = 0; i < c->n_connections; i++) {
		char why[512];
		int r = config_resolve_secret(c->connections[i].secret_ref, &v[i], why, sizeof(why));
		if (r == -ENOMEM) {
			rc = r;
			break;
		}
		if (r < 0) {
			errlist_add(errs, NULL, "connection %s: %s", c->connections[i].name, why);
			rc = -EINVAL;
		}
	}
	if (rc < 0) {
		config_secrets_free(v, c->n_connections);
		return rc;
	}
	*ret = v;
	return 0;
}
