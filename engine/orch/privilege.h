/*
 * privilege.h — what a task may ask of the host, decided before it is
 * launched (RunTask, CreateService, UpdateService and every service launch):
 *
 *   process driver, daemon running as root: a container runs as its `user`,
 *   else drivers.process.default_user, else the task's dynamic uid
 *   (dynuser.h). uid 0 or gid 0 needs both the definition's `user` and
 *   drivers.process.allow_root.
 *   docker driver: every `volumes[].host.sourcePath` must resolve below one
 *   of drivers.docker.allowed_host_paths (hostpath.h) and must not expose
 *   the Docker socket or data_dir (a directory above them included).
 *
 * Refusals are ClientException with a message saying how to allow it.
 */
#ifndef TRIPLINE_ORCH_PRIVILEGE_H
#define TRIPLINE_ORCH_PRIVILEGE_H

#include <stdbool.h>

#include "orch_internal.h"

/* Whether td may run on drv; false with e filled. */
bool orch_task_allowed(struct orch *o, const struct taskdef *td, const struct orch_driver *drv,
		       struct orch_error *e);
/* The same for the driver lt picks; true when none can be picked (the
 * launch reports that). */
bool orch_taskdef_allowed(struct orch *o, const struct taskdef *td, enum orch_launch_type lt,
			  struct orch_error *e);
/* Whether a task of td on drv gets a dynamic uid: process driver, daemon
 * root, no default_user, and a container without `user`. */
bool orch_task_wants_uid(const struct orch *o, const struct taskdef *td, const struct orch_driver *drv);

#endif
