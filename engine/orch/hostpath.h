/*
 * hostpath.h — whether a host path may be bind-mounted into a container:
 * only below one of the configured roots (drivers.docker.allowed_host_paths).
 *
 * The path and each root are resolved with realpath(3), so a symlink that
 * leads out of a root is refused, and they are compared on path-component
 * boundaries ("/srv/data" allows "/srv/data" and "/srv/data/x", never
 * "/srv/database"). A path that does not exist is refused (Docker would
 * create it, as root). The resolved path is what should be mounted: it is
 * the one that was checked.
 */
#ifndef TRIPLINE_ORCH_HOSTPATH_H
#define TRIPLINE_ORCH_HOSTPATH_H

#include <stddef.h>

/* 0 with the resolved path in out (PATH_MAX bytes); -EPERM (not below a
 * root), or -errno from resolving it; why says which, for a person, and
 * names the configuration key that allows it. */
int hostpath_resolve(const char *path, char *const *roots, size_t n_roots, char *out, char *why,
		     size_t whylen);

#endif
