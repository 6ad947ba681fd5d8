/*
 * privilege.c — the checks of privilege.h. A `user` is read as the process
 * driver reads it ("name", "uid", "uid:gid", "name:group"; a name through
 * getpwnam_r/getgrnam_r, on the loop, as the launch itself does): it is
 * root when its uid or its gid is 0 ("root", "0", "0:0", "root:root",
 * "nobody:root", or any other name whose uid is 0). A name the host does
 * not know is not root here; its launch reports it.
 */
#include "privilege.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostpath.h"

#define LOOKUP_BUF 16384

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Whether a numeric id is 0 ("0", "00"). */
static bool zero_id(const char *s)
{
	return strspn(s, "0") == strlen(s);
}

/* Whether user names uid 0 or gid 0. */
static bool user_is_root(const char *user)
{
	char name[256], buf[LOOKUP_BUF];
	const char *colon = strchr(user, ':');
	size_t n = colon ? (size_t)(colon - user) : strlen(user);

	if (n >= sizeof(name))
		return false;
	memcpy(name, user, n);
	name[n] = '\0';
	if (all_digits(name)) {
		if (zero_id(name))
			return true;
	} else {
		struct passwd pw, *res = NULL;
		if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) == 0 && res &&
		    (pw.pw_uid == 0 || (!colon && pw.pw_gid == 0)))
			return true;
	}
	if (!colon)
		return false;
	const char *group = colon + 1;
	if (all_digits(group))
		return zero_id(group);
	struct group gr, *gres = NULL;
	return getgrnam_r(group, &gr, buf, sizeof(buf), &gres) == 0 && gres && gr.gr_gid == 0;
}

static bool process_allowed(const struct orch *o, const struct taskdef *td, struct orch_error *e)
{
	if (geteuid() != 0)
		return true;   /* a daemon that is not root cannot make anyone root */
	for (size_t i = 0; i < td->n_containers; i++) {
		const char *user = td->containers[i].user;
		const char *dflt = o->cfg.process_default_user;
		if ((!user || !user[0]) && dflt && user_is_root(dflt)) {
			orch_set_error(e, "ClientException",
				       "container %.255s: drivers.process.default_user (%.255s) is root; tasks that "
				       "must run as root say \"user\": \"root\"", td->containers[i].name, dflt);
			return false;
		}
		if (!user || !user[0] || o->cfg.process_allow_root || !user_is_root(user))
			continue;
		orch_set_error(e, "ClientException",
			       "container %.255s: running as root (user %.255s) needs "
			       "drivers.process.allow_root: true in the daemon's configuration",
			       td->containers[i].name, user);
		return false;
	}
	return true;
}

static bool docker_allowed(const struct orch *o, const struct taskdef *td, struct orch_error *e)
{
	char resolved[PATH_MAX], why[sizeof(e->message)];
	const char *deny[] = {o->cfg.docker_socket, o->data_dir};

	for (size_t i = 0; i < td->n_volumes; i++) {
		const char *path = td->volumes[i].source_path;
		if (path && hostpath_resolve(path, o->cfg.docker_allowed_host_paths,
					     o->cfg.n_docker_allowed_host_paths, deny, 2, resolved, why,
					     sizeof(why)) < 0) {
			orch_set_error(e, "ClientException", "volume %.255s: %s", td->volumes[i].name, why);
			return false;
		}
	}
	return true;
}

bool orch_task_allowed(struct orch *o, const struct taskdef *td, const struct orch_driver *drv,
		       struct orch_error *e)
{
	if (drv->ops == &driver_process_ops)
		return process_allowed(o, td, e);
	if (drv->ops == &driver_docker_ops)
		return docker_allowed(o, td, e);
	return true;
}

bool orch_taskdef_allowed(struct orch *o, const struct taskdef *td, enum orch_launch_type lt,
			  struct orch_error *e)
{
	struct orch_error ignored;
	const char *lt_name;
	const struct orch_driver *drv = orch_driver_for(o, td, lt, &lt_name, &ignored);

	return !drv || orch_task_allowed(o, td, drv, e);
}

bool orch_task_wants_uid(const struct orch *o, const struct taskdef *td, const struct orch_driver *drv)
{
	if (drv->ops != &driver_process_ops || geteuid() != 0 || o->cfg.process_default_user)
		return false;
	for (size_t i = 0; i < td->n_containers; i++)
		if (!td->containers[i].user || !td->containers[i].user[0])
			return true;
	return false;
}
