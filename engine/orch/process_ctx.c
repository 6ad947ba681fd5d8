/*
 * process_ctx.c — the run context of a process-driver container: what its
 * processes (the container's and its probes') run with, resolved once in
 * the daemon before anything is started.
 *
 * The environment is copied exactly as given (nothing of the daemon's is
 * inherited) and wiped when freed: it holds secrets. The working directory
 * is spec->working_directory, else the task's scratch directory. The
 * context is refcounted: a spawn in flight keeps it alive after its
 * container is gone, and nothing changes it once made. The user
 * ("name", "uid", "uid:gid", "name:group") is resolved here with
 * getpwnam_r/getgrnam_r into uid, gid and supplementary groups, because the
 * child may not call into NSS between clone and execve; a numeric uid
 * missing from the passwd database gets gid = uid (a private group, never
 * root's), and changing identity needs root unless it changes nothing. A
 * dynamic uid (spec->dynamic_uid, privilege.h) runs with gid = uid and no
 * supplementary groups; a named user gets its groups (initgroups). With
 * either, the task's scratch directory is made theirs (process_spawn.c). A
 * user that cannot be resolved is not an error here: it is kept, and the
 * launch reports it through `started`. The executable is looked up in the
 * PATH of the container's environment (DEFAULT_PATH without one), never
 * the daemon's; empty PATH entries (the current directory) are skipped.
 * Every list and string is bounded (PROCESS_MAX_LIST, PROCESS_MAX_STRING,
 * MAX_CANDIDATES, MAX_GROUPS).
 */
#include "process_internal.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define MAX_CANDIDATES 64              /* PATH entries tried */
#define MAX_GROUPS 65536               /* NGROUPS_MAX */
#define PW_BUF_MAX ((size_t)1 << 20)

void process_strv_free(char **v, bool wipe)
{
	if (!v)
		return;
	for (char **p = v; *p; p++) {
		if (wipe)
			explicit_bzero(*p, strlen(*p));
		free(*p);
	}
	free(v);
}

int process_strv_copy(char *const *src, char ***ret)
{
	size_t n = 0;

	if (src)
		while (src[n]) {
			if (++n > PROCESS_MAX_LIST || strnlen(src[n - 1], PROCESS_MAX_STRING + 1) > PROCESS_MAX_STRING)
				return -E2BIG;
		}
	char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(v[i] = strdup(src[i]))) {
			process_strv_free(v, true);
			return -ENOMEM;
		}
	*ret = v;
	return 0;
}

static void ctx_free(struct run_ctx *x)
{
	process_strv_free(x->env, true);
	free(x->cwd);
	free(x->log_path);
	free(x->scratch_dir);
	free(x->user);
	free(x->groups);
	explicit_bzero(x, sizeof(*x));
	free(x);
}

struct run_ctx *process_ctx_ref(struct run_ctx *x)
{
	x->refs++;
	return x;
}

void process_ctx_unref(struct run_ctx *x)
{
	if (x && --x->refs == 0)
		ctx_free(x);
}

static int parse_id(const char *s, uint32_t *ret)
{
	if (!s[0] || strlen(s) > 10)
		return -EINVAL;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
	unsigned long long v = strtoull(s, NULL, 10);
	if (v >= UINT32_MAX)   /* (uid_t)-1 means "unchanged" to the kernel */
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

static size_t pw_buf_size(void)
{
	long n = sysconf(_SC_GETPW_R_SIZE_MAX);
	return n > 0 && (size_t)n <= PW_BUF_MAX ? (size_t)n : 16384;
}

/* getpwnam_r / getpwuid_r with a growing, bounded buffer; 0 found, -ENOENT
 * not found, other -errno. *ret_buf holds the strings, freed by the caller. */
static int lookup_passwd(const char *name, uid_t uid, struct passwd *pw, char **ret_buf)
{
	size_t size = pw_buf_size();

	for (;;) {
		struct passwd *res = NULL;
		char *buf = malloc(size);
		if (!buf)
			return -ENOMEM;
		int e = name ? getpwnam_r(name, pw, buf, size, &res) : getpwuid_r(uid, pw, buf, size, &res);
		if (e == ERANGE && size < PW_BUF_MAX) {
			free(buf);
			size *= 2;
			continue;
		}
		if (e || !res) {
			free(buf);
			return e ? -e : -ENOENT;
		}
		*ret_buf = buf;
		return 0;
	}
}

static int lookup_group(const char *name, gid_t *ret)
{
	size_t size = pw_buf_size();

	for (;;) {
		struct group gr, *res = NULL;
		char *buf = malloc(size);
		if (!buf)
			return -ENOMEM;
		int e = getgrnam_r(name, &gr, buf, size, &res);
		if (e == ERANGE && size < PW_BUF_MAX) {
			free(buf);
			size *= 2;
			continue;
		}
		if (!e && res)
			*ret = gr.gr_gid;
		free(buf);
		return e ? -e : res ? 0 : -ENOENT;
	}
}

/* Resolves spec->user in the parent: uid, gid and supplementary groups. A
 * numeric uid that is not in the passwd database gets gid = uid (a private
 * group, never root's). Changing identity needs root, or must be a no-op. */
static int resolve_user(struct run_ctx *x, const char *user)
{
	char buf[256], *group = NULL, *pwbuf = NULL;
	struct passwd pw;
	uint32_t id;
	int r;

	if (strlen(user) >= sizeof(buf)) {
		snprintf(x->user_why, sizeof(x->user_why), "user: too long");
		return -EINVAL;
	}
	memcpy(buf, user, strlen(user) + 1);
	if ((group = strchr(buf, ':')))
		*group++ = '\0';
	if (!buf[0] || (group && !group[0])) {
		snprintf(x->user_why, sizeof(x->user_why),
			 "user %.200s: expected name, uid, uid:gid or name:group", user);
		return -EINVAL;
	}

	bool have_pw;
	if (parse_id(buf, &id) == 0) {
		x->uid = (uid_t)id;
		r = lookup_passwd(NULL, x->uid, &pw, &pwbuf);
		have_pw = r == 0;
		x->gid = have_pw ? pw.pw_gid : (gid_t)id;
	} else {
		r = lookup_passwd(buf, 0, &pw, &pwbuf);
		if (r < 0) {
			snprintf(x->user_why, sizeof(x->user_why), "user %s: %s", user,
				 r == -ENOENT ? "no such user" : strerror(-r));
			return r;
		}
		have_pw = true;
		x->uid = pw.pw_uid;
		x->gid = pw.pw_gid;
	}
	if (r < 0 && r != -ENOENT) {
		snprintf(x->user_why, sizeof(x->user_why), "user %s: %s", user, strerror(-r));
		goto out_free;
	}
	r = 0;

	if (group) {
		if (parse_id(group, &id) == 0) {
			x->gid = (gid_t)id;
		} else if ((r = lookup_group(group, &x->gid)) < 0) {
			snprintf(x->user_why, sizeof(x->user_why), "user %s: %s", user,
				 r == -ENOENT ? "no such group" : strerror(-r));
			goto out_free;
		}
	}

	if (!group && have_pw) {
		int n = 64;
		for (int attempt = 0; attempt < 2; attempt++) {
			gid_t *g = calloc((size_t)n, sizeof(*g));
			if (!g) {
				r = -ENOMEM;
				goto out_free;
			}
			int want = n;
			if (getgrouplist(pw.pw_name, x->gid, g, &want) >= 0) {
				x->groups = g;
				x->n_groups = (size_t)want;
				break;
			}
			free(g);
			if (want <= n || want > MAX_GROUPS)
				break;
			n = want;
		}
	}
	if (!x->groups) {
		if (!(x->groups = malloc(sizeof(*x->groups)))) {
			r = -ENOMEM;
			goto out_free;
		}
		x->groups[0] = x->gid;
		x->n_groups = 1;
	}

	if (geteuid() == 0) {
		x->set_user = true;
	} else if (x->uid == geteuid() && x->gid == getegid()) {
		x->set_user = false;   /* already who we are */
	} else {
		snprintf(x->user_why, sizeof(x->user_why),
			 "user %s: running as uid %u gid %u needs root (tripline runs as uid %u)", user,
			 (unsigned)x->uid, (unsigned)x->gid, (unsigned)geteuid());
		r = -EPERM;
	}
out_free:
	free(pwbuf);
	return r;
}

int process_ctx_new(const struct drv_spec *spec, struct run_ctx **ret)
{
	const char *cwd = spec->working_directory ? spec->working_directory
			  : spec->scratch_dir ? spec->scratch_dir : "/";
	struct run_ctx *x = calloc(1, sizeof(*x));
	int r;

	if (!x)
		return -ENOMEM;
	x->refs = 1;
	if ((r = process_strv_copy(spec->env, &x->env)) < 0)
		goto out_free;
	r = -ENOMEM;
	if (!(x->cwd = strdup(cwd)) || !(x->log_path = strdup(spec->log_path)) ||
	    (spec->scratch_dir && !(x->scratch_dir = strdup(spec->scratch_dir))))
		goto out_free;
	if (spec->user && spec->user[0]) {
		if (!(x->user = strdup(spec->user)))
			goto out_free;
		x->user_err = resolve_user(x, spec->user);
		if (x->user_err == -ENOMEM)
			goto out_free;
	} else if (spec->dynamic_uid) {
		/* the task's own uid and gid, no supplementary groups (DynamicUser=) */
		if (!(x->user = malloc(32)))
			goto out_free;
		snprintf(x->user, 32, "%" PRIu32 " (dynamic)", spec->dynamic_uid);
		x->uid = (uid_t)spec->dynamic_uid;
		x->gid = (gid_t)spec->dynamic_uid;
		x->n_groups = 0;
		x->set_user = geteuid() == 0;
		if (!x->set_user && x->uid != geteuid()) {
			snprintf(x->user_why, sizeof(x->user_why), "dynamic uid %" PRIu32 ": needs root",
				 spec->dynamic_uid);
			x->user_err = -EPERM;
		}
	}
	x->own_scratch = x->set_user && x->scratch_dir;
	x->cwd_as_user = x->set_user && spec->working_directory;
	*ret = x;
	return 0;
out_free:
	ctx_free(x);
	return r;
}

/* Executables to try for argv0: itself when it has a '/', else each
 * non-empty entry of env's PATH (empty entries, "the current directory",
 * are skipped on purpose). */
int process_exec_candidates(const char *argv0, char *const *env, char ***ret)
{
	size_t n = 0;
	char **v = calloc(MAX_CANDIDATES + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	if (strchr(argv0, '/')) {
		if (!(v[0] = strdup(argv0)))
			goto out_nomem;
		*ret = v;
		return 0;
	}
	const char *path = DEFAULT_PATH;
	for (char *const *e = env; e && *e; e++)
		if (!strncmp(*e, "PATH=", 5)) {
			path = *e + 5;
			break;
		}
	for (const char *p = path; *p && n < MAX_CANDIDATES; ) {
		size_t len = strcspn(p, ":");
		if (len > 0 && len + 1 + strlen(argv0) < PATH_MAX) {
			size_t total = len + 1 + strlen(argv0) + 1;
			if (!(v[n] = malloc(total)))
				goto out_nomem;
			snprintf(v[n], total, "%.*s/%s", (int)len, p, argv0);
			n++;
		}
		p += len;
		if (*p == ':')
			p++;
	}
	*ret = v;
	return 0;
out_nomem:
	process_strv_free(v, false);
	return -ENOMEM;
}
