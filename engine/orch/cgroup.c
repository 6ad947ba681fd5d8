/*
 * cgroup.c — cgroups for the process driver: detection of v2 or v1, one
 * cgroup per container with its memory and cpu limits, killing what is left
 * in it, its OOM count, and removal.
 *
 * Detection happens once, in cgroup_host_open(), and is never assumed: v2
 * when the root (the configured one, else /sys/fs/cgroup) is cgroup2 with
 * the memory controller, containers under
 * <root>/tripline/<instance>/<task_id>-<name> with memory (and cpu when
 * offered) enabled for them; else v1, under tripline/<instance> in the
 * daemon's own cgroup of the memory (and cpu) hierarchy, as
 * /proc/self/cgroup and /proc/self/mountinfo say; else none. <instance> is
 * the data directory's identity, so that daemons of different data
 * directories never touch each other's cgroups (cgroup_sweep() removes
 * those of this one that no container claims). What was found is one info
 * line in the daemon's log.
 *
 * Limits: memory_limit → memory.max (v2) / memory.limit_in_bytes (v1);
 * memory_reservation → memory.low / memory.soft_limit_in_bytes; cpu_units
 * → a CFS quota, 1024 units = one CPU per 100 ms period, at least 1 ms
 * (cpu.max / cpu.cfs_quota_us). No swap limit is written. A limit that
 * cannot be applied is reported to the caller with the reason, never a
 * failure: the container runs without it.
 *
 * Removal: the cgroup is emptied (cgroup.kill on v2 with Linux 5.14+, else
 * SIGKILL to every pid in cgroup.procs) and removed; while the kernel still
 * says EBUSY, a timer retries every RMDIR_RETRY_MS, RMDIR_TRIES times, for
 * at most MAX_PENDING_RMDIR directories at once. Promises: every buffer is
 * bounded, only directories this host made (or would make) are touched,
 * nothing here blocks on anything but cgroupfs. Loop thread only.
 */
#include "cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "logger.h"

#define COMPONENT "driver.process"
#define RMDIR_RETRY_MS 500
#define RMDIR_TRIES 20
#define MAX_PENDING_RMDIR 256
#define CFS_PERIOD_US 100000ull
#define CFS_MIN_QUOTA_US 1000ull
#define CGROUP_PROCS_READ ((size_t)64 << 10)

struct rmdir_pending {
	struct rmdir_pending *next;
	unsigned tries;
	char path[];
};

struct cgroup_host {
	enum cgroup_mode mode;
	bool cpu;                       /* a cpu controller we can write */
	char base[PATH_MAX];            /* v2: <root>/tripline; v1: memory's <own>/tripline */
	char cpu_base[PATH_MAX];        /* v1 only: cpu's <own>/tripline */
	char why[CGROUP_WHY_LEN];       /* why limits cannot be applied (CGROUP_NONE) */
	char cpu_why[256];              /* why cpu limits cannot be applied */
	struct rmdir_pending *pending;
	size_t n_pending;
	uv_timer_t rmdir_timer;
};

/* ---- cgroupfs files ------------------------------------------------------ */

/* Reads at most size-1 bytes of path, NUL-terminated; bytes read or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	while (got + 1 < size) {
		ssize_t n = read(fd, buf + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

static int write_text(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	do
		n = write(fd, text, len);
	while (n < 0 && errno == EINTR);
	int e = n < 0 ? errno : 0;
	close(fd);
	if (e)
		return -e;
	return (size_t)n == len ? 0 : -EIO;
}

static int join_path(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s/%s", a, b);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int write_in(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX];
	int r = join_path(path, sizeof(path), dir, file);
	return r < 0 ? r : write_text(path, text);
}

static void trim_newline(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

/* ---- detection ----------------------------------------------------------- */

static bool has_token(const char *list, const char *word, const char *seps)
{
	size_t wl = strlen(word);
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, seps);
		if (n == wl && !strncmp(p, word, wl))
			return true;
		p += n;
		if (*p)
			p++;
	}
	return false;
}

static bool is_fs(const char *path, unsigned long magic)
{
	struct statfs st;
	return statfs(path, &st) == 0 && (unsigned long)st.f_type == magic;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r; ) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* Where the v1 hierarchy holding `controller` is mounted, and its root. */
static int v1_mount(const char *controller, char *mnt, size_t mntlen, char *root, size_t rootlen)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *dash = strstr(line, " - ");
		if (!dash)
			continue;
		char fstype[64], source[256], opts[1024];
		if (sscanf(dash + 3, "%63s %255s %1023s", fstype, source, opts) != 3)
			continue;
		if (strcmp(fstype, "cgroup") || !has_token(opts, controller, ","))
			continue;
		char f_root[PATH_MAX], f_mnt[PATH_MAX];
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", f_root, f_mnt) != 2)
			continue;
		unescape_octal(f_root);
		unescape_octal(f_mnt);
		if (strlen(f_mnt) >= mntlen || strlen(f_root) >= rootlen) {
			r = -ENAMETOOLONG;
			continue;
		}
		memcpy(mnt, f_mnt, strlen(f_mnt) + 1);
		memcpy(root, f_root, strlen(f_root) + 1);
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

/* The daemon's own cgroup in the v1 hierarchy of `controller`. */
static int v1_own_cgroup(const char *controller, char *path, size_t size)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		trim_newline(line);
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		if (!has_token(c1 + 1, controller, ","))
			continue;
		if (strlen(c2 + 1) >= size) {
			r = -ENAMETOOLONG;
			break;
		}
		memcpy(path, c2 + 1, strlen(c2 + 1) + 1);
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

/* Makes <own cgroup of controller>/tripline; 0 with *base, or -errno and why. */
static int v1_base(const char *controller, const char *probe_file, char *base, size_t size,
		   char *why, size_t whylen)
{
	char mnt[PATH_MAX], root[PATH_MAX], own[PATH_MAX], dir[PATH_MAX];
	int r = v1_mount(controller, mnt, sizeof(mnt), root, sizeof(root));

	if (r < 0) {
		snprintf(why, whylen, "no cgroup v1 %s hierarchy is mounted", controller);
		return r;
	}
	r = v1_own_cgroup(controller, own, sizeof(own));
	if (r < 0) {
		snprintf(why, whylen, "/proc/self/cgroup names no %s cgroup", controller);
		return r;
	}
	/* /proc/self/cgroup is relative to the hierarchy's root; the mount may
	 * show only a subtree of it (root != "/") */
	const char *rel = own;
	size_t rl = strlen(root);
	if (strcmp(root, "/") && !strncmp(own, root, rl) && (own[rl] == '/' || own[rl] == '\0'))
		rel = own + rl;
	while (rel[0] == '/')
		rel++;
	int n = rel[0] ? snprintf(dir, sizeof(dir), "%s/%s", mnt, rel)
		       : snprintf(dir, sizeof(dir), "%s", mnt);
	if (n < 0 || (size_t)n >= sizeof(dir) || join_path(base, size, dir, "tripline") < 0) {
		snprintf(why, whylen, "the %s cgroup path is too long", controller);
		return -ENAMETOOLONG;
	}
	if (mkdir(base, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(why, whylen, "cannot create %.400s: %s", base, strerror(errno));
		return r;
	}
	char probe[PATH_MAX];
	if (join_path(probe, sizeof(probe), base, probe_file) < 0 || access(probe, W_OK) < 0) {
		r = -errno;
		snprintf(why, whylen, "%.400s is not writable: %s", probe, strerror(errno));
		return r;
	}
	return 0;
}

/* v2: root is cgroup2 with the memory controller; <root>/tripline gets
 * memory (and cpu when offered) enabled for its children. */
static int v2_setup(struct cgroup_host *h, const char *root, char *why, size_t whylen)
{
	char buf[1024], path[PATH_MAX];
	int r;

	if (!is_fs(root, CGROUP2_SUPER_MAGIC)) {
		snprintf(why, whylen, "%s is not a cgroup2 file system", root);
		return -ENOTSUP;
	}
	if (join_path(path, sizeof(path), root, "cgroup.controllers") < 0 ||
	    read_small(path, buf, sizeof(buf)) < 0 || !has_token(buf, "memory", " \n")) {
		snprintf(why, whylen, "%s is cgroup2 without the memory controller", root);
		return -ENOTSUP;
	}
	bool cpu = has_token(buf, "cpu", " \n");
	/* the root's children must have the controllers; enabling them fails
	 * harmlessly when they already are or cannot be */
	if (join_path(path, sizeof(path), root, "cgroup.subtree_control") < 0 ||
	    read_small(path, buf, sizeof(buf)) < 0) {
		snprintf(why, whylen, "%s/cgroup.subtree_control is not readable", root);
		return -ENOTSUP;
	}
	if (!has_token(buf, "memory", " \n"))
		(void)write_text(path, "+memory");
	if (cpu && !has_token(buf, "cpu", " \n"))
		(void)write_text(path, "+cpu");

	if (join_path(h->base, sizeof(h->base), root, "tripline") < 0) {
		snprintf(why, whylen, "%s: path too long", root);
		return -ENAMETOOLONG;
	}
	if (mkdir(h->base, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(why, whylen, "cannot create %.400s: %s", h->base, strerror(errno));
		return r;
	}
	if (join_path(path, sizeof(path), h->base, "cgroup.controllers") < 0 ||
	    read_small(path, buf, sizeof(buf)) < 0 || !has_token(buf, "memory", " \n")) {
		snprintf(why, whylen, "the memory controller is not enabled below %s", root);
		return -ENOTSUP;
	}
	cpu = has_token(buf, "cpu", " \n");
	r = write_in(h->base, "cgroup.subtree_control", cpu ? "+memory +cpu" : "+memory");
	if (r < 0) {
		snprintf(why, whylen, "cannot enable controllers in %.400s: %s", h->base, strerror(-r));
		return r;
	}
	h->cpu = cpu;
	if (!cpu)
		snprintf(h->cpu_why, sizeof(h->cpu_why), "the cpu controller is not offered in %s", root);
	return 0;
}

/* One level more for this data directory (instance): base/<instance>, with
 * the controllers enabled for its children (v2). 0 or -errno with why. */
static int descend(char *base, size_t size, const char *instance, bool v2, bool cpu, char *why,
		   size_t whylen)
{
	char dir[PATH_MAX];
	int r;

	if (!instance || !instance[0])
		return 0;
	if (join_path(dir, sizeof(dir), base, instance) < 0 || strlen(dir) >= size) {
		snprintf(why, whylen, "%.400s: path too long", base);
		return -ENAMETOOLONG;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(why, whylen, "cannot create %.400s: %s", dir, strerror(errno));
		return r;
	}
	if (v2 && (r = write_in(dir, "cgroup.subtree_control", cpu ? "+memory +cpu" : "+memory")) < 0) {
		snprintf(why, whylen, "cannot enable controllers in %.400s: %s", dir, strerror(-r));
		return r;
	}
	memcpy(base, dir, strlen(dir) + 1);
	return 0;
}

/* Decides once how limits are applied; logs what it found. */
static void detect(struct cgroup_host *h, const char *cfg_root, const char *instance)
{
	char why2[512] = "", why1[512] = "";

	if (cfg_root && !cfg_root[0]) {
		h->mode = CGROUP_NONE;
		snprintf(h->why, sizeof(h->why), "cgroups are disabled by configuration");
		log_info(COMPONENT, "cgroups: not used (disabled by configuration)");
		return;
	}
	const char *root = cfg_root ? cfg_root : "/sys/fs/cgroup";
	if (v2_setup(h, root, why2, sizeof(why2)) == 0 &&
	    descend(h->base, sizeof(h->base), instance, true, h->cpu, why2, sizeof(why2)) == 0) {
		h->mode = CGROUP_V2;
		log_info(COMPONENT, "cgroups: v2, tasks under %s (memory%s)", h->base,
			 h->cpu ? ", cpu" : "; no cpu controller");
		return;
	}
	h->cpu = false;
	h->cpu_why[0] = '\0';
	if (v1_base("memory", "memory.limit_in_bytes", h->base, sizeof(h->base), why1,
		    sizeof(why1)) == 0 &&
	    descend(h->base, sizeof(h->base), instance, false, false, why1, sizeof(why1)) == 0) {
		h->mode = CGROUP_V1;
		h->cpu = v1_base("cpu", "cpu.cfs_quota_us", h->cpu_base, sizeof(h->cpu_base), h->cpu_why,
				 sizeof(h->cpu_why)) == 0 &&
			 descend(h->cpu_base, sizeof(h->cpu_base), instance, false, false, h->cpu_why,
				 sizeof(h->cpu_why)) == 0;
		if (h->cpu)
			log_info(COMPONENT, "cgroups: v1, memory under %s, cpu under %s (v2: %s)", h->base,
				 h->cpu_base, why2);
		else
			log_info(COMPONENT, "cgroups: v1, memory under %s; cpu limits off: %s (v2: %s)",
				 h->base, h->cpu_why, why2);
		return;
	}
	h->mode = CGROUP_NONE;
	h->base[0] = '\0';
	snprintf(h->why, sizeof(h->why), "no usable cgroup (v2: %s; v1: %s)", why2, why1);
	log_info(COMPONENT, "cgroups: none, limits cannot be applied: v2: %s; v1: %s", why2, why1);
}

/* ---- per container -------------------------------------------------------- */

int cgroup_name(const char *task_id, const char *container, char *buf, size_t size)
{
	const char *parts[2] = {task_id, container};
	for (size_t i = 0; i < 2; i++) {
		const char *s = parts[i];
		if (!s || !s[0])
			return -EINVAL;
		for (; *s; s++)
			if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
				return -EINVAL;
	}
	int n = snprintf(buf, size, "%s-%s", task_id, container);
	return n < 0 || (size_t)n >= size || n > 255 ? -ENAMETOOLONG : 0;
}

static void warn(char *slot, const char *why)
{
	if (!slot[0])
		snprintf(slot, CGROUP_WHY_LEN, "%.*s", CGROUP_WHY_LEN - 1, why);   /* may truncate */
}

void cgroup_create(struct cgroup_host *h, const char *name, const struct cgroup_limits *lim,
		   struct cgroup_set *ret, struct cgroup_warnings *w)
{
	bool want_mem = lim->memory_limit || lim->memory_reservation;
	bool want_cpu = lim->cpu_units > 0;
	char why[PATH_MAX + 64], val[64];
	int r;

	ret->path[0] = ret->cpu_path[0] = '\0';
	w->memory[0] = w->cpu[0] = '\0';
	if (h->mode == CGROUP_NONE) {
		if (want_mem)
			warn(w->memory, h->why);
		if (want_cpu)
			warn(w->cpu, h->why);
		return;
	}
	if (!name) {
		if (want_mem)
			warn(w->memory, "the task id and container name do not make a cgroup name");
		if (want_cpu)
			warn(w->cpu, "the task id and container name do not make a cgroup name");
		return;
	}
	if (join_path(ret->path, sizeof(ret->path), h->base, name) < 0 ||
	    (mkdir(ret->path, 0755) < 0 && errno != EEXIST)) {
		snprintf(why, sizeof(why), "cannot create cgroup %s: %s", ret->path, strerror(errno));
		ret->path[0] = '\0';
		if (want_mem)
			warn(w->memory, why);
		if (want_cpu && h->mode == CGROUP_V2)
			warn(w->cpu, why);
	}

	const char *fmax = h->mode == CGROUP_V2 ? "memory.max" : "memory.limit_in_bytes";
	const char *flow = h->mode == CGROUP_V2 ? "memory.low" : "memory.soft_limit_in_bytes";
	if (ret->path[0] && lim->memory_limit) {
		snprintf(val, sizeof(val), "%" PRIu64, lim->memory_limit);
		if ((r = write_in(ret->path, fmax, val)) < 0) {
			snprintf(why, sizeof(why), "writing %s/%s: %s", ret->path, fmax, strerror(-r));
			warn(w->memory, why);
		}
	}
	if (ret->path[0] && lim->memory_reservation) {
		snprintf(val, sizeof(val), "%" PRIu64, lim->memory_reservation);
		if ((r = write_in(ret->path, flow, val)) < 0) {
			snprintf(why, sizeof(why), "writing %s/%s: %s", ret->path, flow, strerror(-r));
			warn(w->memory, why);
		}
	}
	if (!want_cpu)
		return;
	if (!h->cpu) {
		warn(w->cpu, h->cpu_why);
		return;
	}
	unsigned long long quota = (unsigned long long)lim->cpu_units * CFS_PERIOD_US / 1024;
	if (quota < CFS_MIN_QUOTA_US)
		quota = CFS_MIN_QUOTA_US;
	if (h->mode == CGROUP_V2) {
		if (!ret->path[0])
			return;
		snprintf(val, sizeof(val), "%llu %llu", quota, CFS_PERIOD_US);
		if ((r = write_in(ret->path, "cpu.max", val)) < 0) {
			snprintf(why, sizeof(why), "writing %s/cpu.max: %s", ret->path, strerror(-r));
			warn(w->cpu, why);
		}
		return;
	}
	if (join_path(ret->cpu_path, sizeof(ret->cpu_path), h->cpu_base, name) < 0 ||
	    (mkdir(ret->cpu_path, 0755) < 0 && errno != EEXIST)) {
		snprintf(why, sizeof(why), "cannot create cgroup %s: %s", ret->cpu_path, strerror(errno));
		ret->cpu_path[0] = '\0';
		warn(w->cpu, why);
		return;
	}
	snprintf(val, sizeof(val), "%llu", CFS_PERIOD_US);
	r = write_in(ret->cpu_path, "cpu.cfs_period_us", val);
	snprintf(val, sizeof(val), "%llu", quota);
	if (r == 0)
		r = write_in(ret->cpu_path, "cpu.cfs_quota_us", val);
	if (r < 0) {
		snprintf(why, sizeof(why), "writing %s/cpu.cfs_*_us: %s", ret->cpu_path, strerror(-r));
		warn(w->cpu, why);
	}
}

void cgroup_adopt(const struct cgroup_host *h, const char *name, const char *saved, bool unrecorded,
		  struct cgroup_set *ret)
{
	char path[PATH_MAX];
	struct stat st;

	ret->path[0] = ret->cpu_path[0] = '\0';
	if (h->mode == CGROUP_NONE || !name)
		return;
	if (join_path(path, sizeof(path), h->base, name) == 0 && ((unrecorded && !saved) || (saved && !strcmp(path, saved))) &&
	    stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		memcpy(ret->path, path, strlen(path) + 1);
	if (h->mode == CGROUP_V1 && h->cpu && join_path(path, sizeof(path), h->cpu_base, name) == 0 &&
	    stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		memcpy(ret->cpu_path, path, strlen(path) + 1);
}

size_t cgroup_open_procs(const struct cgroup_set *s, int fds[2])
{
	const char *dirs[2] = {s->path, s->cpu_path};
	size_t n = 0;

	for (size_t i = 0; i < 2; i++) {
		char path[PATH_MAX];
		if (!dirs[i][0] || join_path(path, sizeof(path), dirs[i], "cgroup.procs") < 0)
			continue;
		int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0)
			fds[n++] = fd;
	}
	return n;
}

/* Kills every pid listed in dir/cgroup.procs; how many there were, or -errno. */
static int kill_dir(const char *dir)
{
	char path[PATH_MAX];
	int found = 0;

	if (!dir[0])
		return 0;
	(void)write_in(dir, "cgroup.kill", "1");  /* v2, Linux 5.14+: the kernel does it */
	if (join_path(path, sizeof(path), dir, "cgroup.procs") < 0)
		return -ENAMETOOLONG;
	char *buf = malloc(CGROUP_PROCS_READ);
	if (!buf)
		return -ENOMEM;
	ssize_t n = read_small(path, buf, CGROUP_PROCS_READ);
	if (n < 0) {
		free(buf);
		return n == -ENOENT ? 0 : (int)n;
	}
	pid_t self = getpid();
	for (char *p = buf; *p; ) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (v > 1 && v <= INT_MAX && (pid_t)v != self) {
			kill((pid_t)v, SIGKILL);
			found++;
		}
		p = end;
		while (*p == '\n')
			p++;
	}
	free(buf);
	return found;
}

int cgroup_kill(const struct cgroup_set *s)
{
	int a = kill_dir(s->path);
	int b = kill_dir(s->cpu_path);

	if (a < 0 && b <= 0)
		return a;
	if (b < 0 && a <= 0)
		return b;
	return (a > 0 ? a : 0) + (b > 0 ? b : 0);
}

bool cgroup_oom_killed(const struct cgroup_host *h, const struct cgroup_set *s)
{
	char path[PATH_MAX], buf[2048];
	bool v2 = h->mode == CGROUP_V2;

	if (!s->path[0] ||
	    join_path(path, sizeof(path), s->path, v2 ? "memory.events" : "memory.oom_control") < 0 ||
	    read_small(path, buf, sizeof(buf)) < 0)
		return false;
	for (char *line = buf; line && *line; ) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!strncmp(line, "oom_kill ", 9))
			return strtoull(line + 9, NULL, 10) > 0;
		line = next;
	}
	return false;
}

/* ---- removal ---------------------------------------------------------------- */

static void on_rmdir_timer(uv_timer_t *t)
{
	struct cgroup_host *h = t->data;

	for (struct rmdir_pending **pp = &h->pending; *pp; ) {
		struct rmdir_pending *e = *pp;
		kill_dir(e->path);
		if (rmdir(e->path) < 0 && errno == EBUSY && ++e->tries < RMDIR_TRIES) {
			pp = &e->next;
			continue;
		}
		if (e->tries >= RMDIR_TRIES)
			log_warn(COMPONENT, "cgroup %s: not removed, still busy", e->path);
		*pp = e->next;
		free(e);
		h->n_pending--;
	}
	if (h->pending)
		uv_timer_start(t, on_rmdir_timer, RMDIR_RETRY_MS, 0);
}

/* rmdir now, or from a timer while its last processes finish dying. */
static void remove_dir(struct cgroup_host *h, const char *dir)
{
	if (!dir[0] || rmdir(dir) == 0 || errno == ENOENT)
		return;
	if (errno != EBUSY || h->n_pending >= MAX_PENDING_RMDIR) {
		log_warn(COMPONENT, "cgroup %s: not removed: %s", dir, strerror(errno));
		return;
	}
	size_t len = strlen(dir) + 1;
	struct rmdir_pending *e = malloc(sizeof(*e) + len);
	if (!e)
		return;
	e->tries = 0;
	memcpy(e->path, dir, len);
	e->next = h->pending;
	h->pending = e;
	h->n_pending++;
	if (!uv_is_active((uv_handle_t *)&h->rmdir_timer))
		uv_timer_start(&h->rmdir_timer, on_rmdir_timer, RMDIR_RETRY_MS, 0);
}

void cgroup_remove(struct cgroup_host *h, struct cgroup_set *s)
{
	kill_dir(s->path);
	kill_dir(s->cpu_path);
	remove_dir(h, s->cpu_path);
	remove_dir(h, s->path);
	s->path[0] = s->cpu_path[0] = '\0';
}

/* Kills and removes base's container cgroups that keep() does not claim. */
static size_t sweep_base(struct cgroup_host *h, const char *base, bool (*keep)(const char *, void *),
			 void *arg)
{
	char path[PATH_MAX];
	size_t n = 0;
	struct dirent *de;
	DIR *dir = base[0] ? opendir(base) : NULL;

	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.' || keep(de->d_name, arg) ||
		    join_path(path, sizeof(path), base, de->d_name) < 0)
			continue;
		log_warn(COMPONENT, "cgroup %s belongs to no task: its processes are killed and it is removed",
			 path);
		kill_dir(path);
		remove_dir(h, path);
		n++;
	}
	closedir(dir);
	return n;
}

size_t cgroup_sweep(struct cgroup_host *h, bool (*keep)(const char *name, void *arg), void *arg)
{
	if (h->mode == CGROUP_NONE)
		return 0;
	return sweep_base(h, h->base, keep, arg) + sweep_base(h, h->cpu_base, keep, arg);
}

/* ---- the host ----------------------------------------------------------------- */

int cgroup_host_open(uv_loop_t *loop, const char *cfg_root, const char *instance, struct cgroup_host **ret)
{
	struct cgroup_host *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	detect(h, cfg_root, instance);
	uv_timer_init(loop, &h->rmdir_timer);
	h->rmdir_timer.data = h;
	uv_unref((uv_handle_t *)&h->rmdir_timer);  /* retries never keep the loop alive */
	*ret = h;
	return 0;
}

static void host_closed(uv_handle_t *t)
{
	free(t->data);
}

void cgroup_host_close(struct cgroup_host *h)
{
	if (!h)
		return;
	while (h->pending) {
		struct rmdir_pending *e = h->pending;
		if (rmdir(e->path) < 0 && errno != ENOENT)
			log_warn(COMPONENT, "cgroup %s: not removed: %s", e->path, strerror(errno));
		h->pending = e->next;
		free(e);
	}
	uv_close((uv_handle_t *)&h->rmdir_timer, host_closed);
}

enum cgroup_mode cgroup_host_mode(const struct cgroup_host *h)
{
	return h->mode;
}
