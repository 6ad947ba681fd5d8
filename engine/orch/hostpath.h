/*
 * hostpath.h — whether a host path may be bind-mounted into a container:
 * only below one of the configured roots (drivers.docker.allowed_host_paths).
 *
 * The path and each root are resolved with realpath(3), so a symlink that
 * leads out of a root is refused, and they are compared on path-component
 * boundaries ("/srv/data" allows "/srv/data" and "/srv/data/x", never
 * "/srv/database"). A path that does not exist is refused (Docker would
 * create it, as root). The resolved path is what should be mounted: it is
 * the one that was checked. Whatever the roots, a mount must not expose
 * one of the `deny` paths (the Docker socket — access to it is root on the
 * host — and the daemon's data_dir): neither the path itself nor a
 * directory above it.
 */
#ifndef TRIPLINE_ORCH_HOSTPATH_H
#define TRIPLINE_ORCH_HOSTPATH_H

#include <stddef.h>

/* 0 with the resolved path in out (PATH_MAX bytes); -EPERM (not below a
 * root, or exposing a deny path), or -errno from resolving it; why says
 * which, for a person, and names the configuration key that allows it.
 * deny holds n_deny paths; NULL entries are skipped. */
int hostpath_resolve(const char *path, char *const *roots, size_t n_roots, const char *const *deny,
		     size_t n_deny, char *out, char *why, size_t whylen);

#endif
