/*
 * hostpath.c — bind-mount sources checked against the allowed roots
 * (hostpath.h). Runs on the loop: realpath is a few lstat calls on local
 * paths. A deny path that does not exist (a socket not yet made) exposes
 * nothing and is skipped.
 */
#include "hostpath.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HINT "add it (or a directory above it) to drivers.docker.allowed_host_paths in the daemon's configuration"

/* Whether path is root or below it, on component boundaries. */
static bool below(const char *path, const char *root)
{
	size_t n = strlen(root);

	if (n == 1 && root[0] == '/')
		return true;
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int hostpath_resolve(const char *path, char *const *roots, size_t n_roots, const char *const *deny,
		     size_t n_deny, char *out, char *why, size_t whylen)
{
	char root[PATH_MAX];

	if (!realpath(path, out)) {
		int e = errno;
		snprintf(why, whylen, "host path %.300s: %s", path, strerror(e));
		return -e;
	}
	for (size_t i = 0; i < n_deny; i++)
		if (deny[i] && realpath(deny[i], root) && below(root, out)) {
			snprintf(why, whylen, "host path %.300s may not be mounted: it holds %.300s, which only "
				 "the daemon may use", path, deny[i]);
			return -EPERM;
		}
	for (size_t i = 0; i < n_roots; i++)
		if (realpath(roots[i], root) && below(out, root))
			return 0;
	if (n_roots == 0)
		snprintf(why, whylen, "host path %.300s may not be mounted: no host path is allowed; to allow it, %s",
			 path, HINT);
	else if (strcmp(path, out) != 0)
		snprintf(why, whylen, "host path %.300s (%.300s) is not below an allowed host path; to allow it, %s",
			 path, out, HINT);
	else
		snprintf(why, whylen, "host path %.300s is not below an allowed host path; to allow it, %s", path,
			 HINT);
	return -EPERM;
}
