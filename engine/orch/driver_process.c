/*
 * driver_process.c — the process driver: a container is an argv exec'd
 * directly on the host, in its own session and process group, with limits
 * through cgroups when the host lets us write them.
 *
 * Launch: everything that can fail slowly or allocate happens in the parent
 * before fork(): the PATH lookup (in spec->env's PATH, never a shell), the
 * user ("name", "uid", "uid:gid", "name:group") through getpwnam_r and
 * getgrnam_r, the log file (O_APPEND, 0600), /dev/null for stdin and the
 * cgroup.procs files to join. The child then makes only async-signal-safe
 * calls: default signal dispositions, setsid(), join the cgroups (write "0"),
 * dup2 stdio, chdir, setgroups/setresgid/setresuid, mark every other fd
 * close-on-exec, unblock signals, execve each PATH candidate. What goes wrong
 * in the child is written as {step, errno} to a close-on-exec pipe; the
 * parent reads it until EOF (EOF alone = exec succeeded), which blocks for
 * the millisecond an exec takes. `started` is delivered from a 0 ms timer.
 *
 * Watching: a pidfd (pidfd_open) polled by the loop. When the leader exits,
 * the rest of its process group is SIGKILLed (before the leader is reaped, so
 * the group id cannot have been reused) and so is every pid left in its
 * cgroup, like a container whose PID 1 exits; `exited` comes once the cgroup
 * is empty (or after SWEEP_TRIES sweeps). Exit codes follow Docker: 128+N for
 * signal N. An OOM kill is read from memory.oom_control (v1) or
 * memory.events (v2).
 *
 * Cgroups are detected once in init(), never assumed: v2 when the root
 * (cfg->cgroup_root, else /sys/fs/cgroup) is cgroup2 with the memory
 * controller, tasks under <root>/tripline/<task_id>-<container>; else v1,
 * under the daemon's own cgroup of the memory (and cpu) hierarchy as
 * /proc/self/cgroup and /proc/self/mountinfo say; else none. A limit that
 * cannot be applied is one warning per container through events->log, never
 * a failure. A cgroup that cannot be removed yet (EBUSY) is retried from a
 * timer a bounded number of times.
 *
 * Restart: save() records pid, start time (field 22 of /proc/<pid>/stat),
 * boot id and cgroup; adopt() accepts the process only when all three still
 * match, and then watches it through a pidfd too. A process that is not our
 * child has an unknown exit code (-1); one that is (a re-exec'd daemon) is
 * reaped and its code reported.
 *
 * Choices, documented: empty PATH entries (the current directory) are
 * skipped; a file without a #! line is an exec error (ENOEXEC), never handed
 * to a shell; a numeric uid missing from the passwd database gets gid = uid,
 * not root's group; changing user needs root unless it changes nothing. A
 * container always gets a memory cgroup when one is usable (it is what
 * catches processes that leave the process group), a v1 cpu cgroup only when
 * cpu_units is set; cpu_units become a CFS quota (1024 = one CPU per 100 ms
 * period, at least 1 ms). No swap limit is written. Probes join the
 * container's cgroups and log file, in a process group of their own; forget()
 * and release() kill probes still running (never calling their done).
 * Callbacks may release, forget or stop the handle they are about.
 *
 * Contract (driver.h): callbacks only from the loop, never from inside the
 * call that caused them; `started` once for launch(), `exited` once;
 * spec->env is copied for probes, wiped when freed, never logged. Not
 * thread-safe: call from the loop thread.
 */
#include "driver.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/magic.h>

#include "logger.h"

#define COMPONENT "driver.process"
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define MAX_LIST 4096                  /* argv / env entries */
#define MAX_STRING ((size_t)128 << 10) /* one argv or env string (MAX_ARG_STRLEN) */
#define MAX_CANDIDATES 64              /* PATH entries tried */
#define MAX_PROBES 8                   /* concurrent probes per container */
#define MAX_GROUPS 65536               /* NGROUPS_MAX */
#define PW_BUF_MAX ((size_t)1 << 20)
#define MAX_PENDING_LOGS 4
#define LOG_LINE 1536
#define REASON_LEN 512
#define SWEEP_INTERVAL_MS 20
#define SWEEP_TRIES 100                /* 2 s for a cgroup to empty */
#define RMDIR_RETRY_MS 500
#define RMDIR_TRIES 20
#define MAX_PENDING_RMDIR 256
#define CFS_PERIOD_US 100000ull
#define CFS_MIN_QUOTA_US 1000ull
#define CGROUP_PROCS_READ ((size_t)64 << 10)

#define REASON_OOM "OutOfMemoryError: container killed for exceeding its memory limit"
#define REASON_ADOPTED_EXIT "exit code unknown: the process was started before tripline restarted"
#define REASON_GONE "exited while the daemon was down; exit code unknown"

enum cg_mode {
	CG_NONE,
	CG_V1,
	CG_V2,
};

/* What the child reports through the status pipe. */
enum spawn_step {
	STEP_SETSID = 1,
	STEP_CGROUP,   /* not fatal: the process runs without that cgroup */
	STEP_STDIO,
	STEP_CHDIR,
	STEP_GROUPS,
	STEP_GID,
	STEP_UID,
	STEP_EXEC,
};

struct spawn_report {
	int32_t step;
	int32_t err;
};

/* What a process runs with, kept for probes: copies, freed with the handle. */
struct run_ctx {
	char **env;            /* NULL-terminated; wiped when freed */
	char *cwd;
	char *log_path;
	char *user;            /* as given, for messages; NULL: the daemon's */
	bool set_user;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	int user_err;          /* resolution failed: -errno, user_why says why */
	char user_why[256];
};

struct rmdir_pending {
	struct rmdir_pending *next;
	unsigned tries;
	char path[];
};

struct probe;

struct driver {
	uv_loop_t *loop;
	const struct drv_events *ev;
	enum cg_mode cg;
	bool cg_cpu;                    /* a cpu controller we can write */
	char cg_base[PATH_MAX];         /* v2: <root>/tripline; v1: memory's <own>/tripline */
	char cg_cpu_base[PATH_MAX];     /* v1 only: cpu's <own>/tripline */
	char cg_why[1100];              /* why limits cannot be applied (CG_NONE) */
	char cg_cpu_why[256];           /* why cpu limits cannot be applied */
	char boot_id[64];
	size_t n_handles;
	struct probe *orphans;          /* probes of released handles, until reaped */
	struct rmdir_pending *pending;
	size_t n_pending;
	uv_timer_t rmdir_timer;
};

enum c_state {
	C_RUNNING,
	C_DRAINING,    /* leader gone; emptying the cgroup before `exited` */
	C_DONE,        /* `exited` (or a failed `started`) delivered */
};

enum dispose {
	DISPOSE_NONE,
	DISPOSE_RELEASE,
	DISPOSE_FORGET,
};

struct drv_container {
	struct driver *d;
	void *owner;
	char name[256];
	char runtime_id[16];
	struct run_ctx ctx;
	enum c_state state;
	bool started_due;                /* launch(): `started` not delivered yet */
	pid_t pid;                       /* 0: no process */
	unsigned long long start_time;
	char boot_id[64];
	int pidfd;
	bool adopted;
	bool poll_init;
	uv_poll_t poll;
	uv_timer_t kill_timer;           /* stop(): SIGKILL after the timeout */
	uv_timer_t defer;                /* deferred callbacks and cgroup sweeps */
	int start_err;
	char start_reason[REASON_LEN];
	int exit_code;
	char exit_reason[128];           /* "" none */
	unsigned sweeps;
	bool stopping;
	bool warned_memory, warned_cpu;
	char logs[MAX_PENDING_LOGS][LOG_LINE];
	size_t n_logs;
	char cg_path[PATH_MAX];          /* v2 or v1 memory; "" none */
	char cg_cpu_path[PATH_MAX];      /* v1 cpu; "" none */
	struct probe *probes;
	unsigned n_probes;
	unsigned in_cb;                  /* inside a callback to the orchestrator */
	enum dispose dispose;
	unsigned closing;                /* uv handles not closed yet */
};

struct probe {
	struct probe *next, **pprev;     /* in c->probes or d->orphans */
	struct driver *d;
	struct drv_container *c;         /* NULL once orphaned */
	drv_probe_fn done;               /* NULL once delivered or orphaned */
	void *arg;
	pid_t pid;
	int pidfd;
	bool poll_init;
	uv_poll_t poll;
	uv_timer_t timer;                /* timeout, or a deferred failure */
	bool failed;                     /* could not run: done(-1) from the timer */
	unsigned closing;
};

/* ---- small file helpers ------------------------------------------------- */

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

/* Moves fd above stdin/stdout/stderr (the daemon may have closed those) so
 * the child's dup2 onto 0–2 never clobbers it. */
static int fd_above_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int e = errno;
	close(fd);
	if (n < 0)
		errno = e;
	return n;
}

static int pidfd_open_pid(pid_t pid)
{
	long r = syscall(SYS_pidfd_open, pid, 0u);
	return r < 0 ? -errno : (int)r;
}

/* Field 22 of /proc/<pid>/stat: the start time in clock ticks since boot. */
static int proc_start_time(pid_t pid, unsigned long long *ret)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ssize_t n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	/* comm (field 2) may hold spaces and parentheses: fields resume after the last ')' */
	char *p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	p++;
	for (int field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
		if (!*p)
			return -EIO;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno || end == p)
		return -EIO;
	*ret = v;
	return 0;
}

static void trim_newline(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

/* ---- cgroups: detection ------------------------------------------------ */

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
static int v2_setup(struct driver *d, const char *root, char *why, size_t whylen)
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

	if (join_path(d->cg_base, sizeof(d->cg_base), root, "tripline") < 0) {
		snprintf(why, whylen, "%s: path too long", root);
		return -ENAMETOOLONG;
	}
	if (mkdir(d->cg_base, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(why, whylen, "cannot create %.400s: %s", d->cg_base, strerror(errno));
		return r;
	}
	if (join_path(path, sizeof(path), d->cg_base, "cgroup.controllers") < 0 ||
	    read_small(path, buf, sizeof(buf)) < 0 || !has_token(buf, "memory", " \n")) {
		snprintf(why, whylen, "the memory controller is not enabled below %s", root);
		return -ENOTSUP;
	}
	cpu = has_token(buf, "cpu", " \n");
	r = write_in(d->cg_base, "cgroup.subtree_control", cpu ? "+memory +cpu" : "+memory");
	if (r < 0) {
		snprintf(why, whylen, "cannot enable controllers in %.400s: %s", d->cg_base, strerror(-r));
		return r;
	}
	d->cg_cpu = cpu;
	if (!cpu)
		snprintf(d->cg_cpu_why, sizeof(d->cg_cpu_why), "the cpu controller is not offered in %s",
			 root);
	return 0;
}

/* Decides once how limits are applied; logs what it found. */
static void cgroup_detect(struct driver *d, const char *cfg_root)
{
	char why2[512] = "", why1[512] = "";

	if (cfg_root && !cfg_root[0]) {
		d->cg = CG_NONE;
		snprintf(d->cg_why, sizeof(d->cg_why), "cgroups are disabled by configuration");
		log_info(COMPONENT, "cgroups: not used (disabled by configuration)");
		return;
	}
	const char *root = cfg_root ? cfg_root : "/sys/fs/cgroup";
	if (v2_setup(d, root, why2, sizeof(why2)) == 0) {
		d->cg = CG_V2;
		log_info(COMPONENT, "cgroups: v2, tasks under %s (memory%s)", d->cg_base,
			 d->cg_cpu ? ", cpu" : "; no cpu controller");
		return;
	}
	if (v1_base("memory", "memory.limit_in_bytes", d->cg_base, sizeof(d->cg_base), why1,
		    sizeof(why1)) == 0) {
		d->cg = CG_V1;
		d->cg_cpu = v1_base("cpu", "cpu.cfs_quota_us", d->cg_cpu_base, sizeof(d->cg_cpu_base),
				    d->cg_cpu_why, sizeof(d->cg_cpu_why)) == 0;
		if (d->cg_cpu)
			log_info(COMPONENT, "cgroups: v1, memory under %s, cpu under %s (v2: %s)",
				 d->cg_base, d->cg_cpu_base, why2);
		else
			log_info(COMPONENT, "cgroups: v1, memory under %s; cpu limits off: %s (v2: %s)",
				 d->cg_base, d->cg_cpu_why, why2);
		return;
	}
	d->cg = CG_NONE;
	d->cg_base[0] = '\0';
	snprintf(d->cg_why, sizeof(d->cg_why), "no usable cgroup (v2: %s; v1: %s)", why2, why1);
	log_info(COMPONENT, "cgroups: none, limits cannot be applied: v2: %s; v1: %s", why2, why1);
}

/* ---- cgroups: per container -------------------------------------------- */

/* "<task_id>-<container>" when both are plain names. */
static int cgroup_name(const struct drv_spec *spec, char *buf, size_t size)
{
	const char *parts[2] = {spec->task_id, spec->container_name};
	for (size_t i = 0; i < 2; i++) {
		const char *s = parts[i];
		if (!s || !s[0])
			return -EINVAL;
		for (; *s; s++)
			if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
				return -EINVAL;
	}
	int n = snprintf(buf, size, "%s-%s", spec->task_id, spec->container_name);
	return n < 0 || (size_t)n >= size || n > 255 ? -ENAMETOOLONG : 0;
}

/* Kills every pid listed in dir/cgroup.procs; how many there were, or -errno. */
static int cgroup_sweep(const char *dir)
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

static void cgroup_remove(struct driver *d, const char *dir);

/* ---- the run context --------------------------------------------------- */

static void free_strv(char **v, bool wipe)
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

static int copy_strv(char *const *src, char ***ret)
{
	size_t n = 0;

	if (src)
		while (src[n]) {
			if (++n > MAX_LIST || strnlen(src[n - 1], MAX_STRING + 1) > MAX_STRING)
				return -E2BIG;
		}
	char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(v[i] = strdup(src[i]))) {
			free_strv(v, true);
			return -ENOMEM;
		}
	*ret = v;
	return 0;
}

static void ctx_free(struct run_ctx *x)
{
	free_strv(x->env, true);
	free(x->cwd);
	free(x->log_path);
	free(x->user);
	free(x->groups);
	memset(x, 0, sizeof(*x));
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

/* Copies what probes need. 0, or -errno for a malformed spec/ENOMEM; a user
 * that cannot be resolved is kept in x->user_err, not returned. */
static int ctx_init(struct run_ctx *x, const struct drv_spec *spec)
{
	const char *cwd = spec->working_directory ? spec->working_directory
			  : spec->scratch_dir ? spec->scratch_dir : "/";
	int r = copy_strv(spec->env, &x->env);

	if (r < 0)
		return r;
	if (!(x->cwd = strdup(cwd)) || !(x->log_path = strdup(spec->log_path)))
		return -ENOMEM;
	if (spec->user && spec->user[0]) {
		if (!(x->user = strdup(spec->user)))
			return -ENOMEM;
		x->user_err = resolve_user(x, spec->user);
		if (x->user_err == -ENOMEM)
			return -ENOMEM;
	}
	return 0;
}

/* Executables to try for argv0: itself when it has a '/', else each
 * non-empty entry of env's PATH (empty entries, "the current directory",
 * are skipped on purpose). */
static int exec_candidates(const char *argv0, char *const *env, char ***ret)
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
	free_strv(v, false);
	return -ENOMEM;
}

/* ---- spawning ---------------------------------------------------------- */

struct spawn_req {
	char *const *argv;
	char *const *env;
	char **candidates;
	const char *cwd;
	const struct run_ctx *ctx;
	int log_fd, null_fd;
	int cg_fds[2];
	size_t n_cg;
};

static void child_report(int fd, enum spawn_step step, int err)
{
	struct spawn_report rep = {(int32_t)step, (int32_t)err};
	ssize_t n;
	do
		n = write(fd, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
}

/* Between fork() and execve(): async-signal-safe calls only (no malloc, no
 * stdio, no locks); every failure goes to the status pipe. */
static _Noreturn void child_exec(const struct spawn_req *r, int status_fd)
{
	struct sigaction dfl;
	sigset_t none;
	enum spawn_step step;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void)sigaction(s, &dfl, NULL);

	step = STEP_SETSID;
	if (setsid() < 0)
		goto fail;
	for (size_t i = 0; i < r->n_cg; i++) {
		ssize_t n;
		do
			n = write(r->cg_fds[i], "0", 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			child_report(status_fd, STEP_CGROUP, n < 0 ? errno : EIO);
	}
	step = STEP_STDIO;
	if (dup2(r->null_fd, 0) < 0 || dup2(r->log_fd, 1) < 0 || dup2(r->log_fd, 2) < 0)
		goto fail;
	step = STEP_CHDIR;
	if (chdir(r->cwd) < 0)
		goto fail;
	if (r->ctx->set_user) {
		/* raw system calls: glibc's wrappers may try to synchronise threads */
		step = STEP_GROUPS;
		if (syscall(SYS_setgroups, r->ctx->n_groups, r->ctx->groups) < 0)
			goto fail;
		step = STEP_GID;
		if (syscall(SYS_setresgid, r->ctx->gid, r->ctx->gid, r->ctx->gid) < 0)
			goto fail;
		step = STEP_UID;
		if (syscall(SYS_setresuid, r->ctx->uid, r->ctx->uid, r->ctx->uid) < 0)
			goto fail;
	}
	/* every fd the daemon opened should be close-on-exec already; make sure */
	if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) < 0) {
		/* before Linux 5.11: one fcntl per possible fd, bounded */
		struct rlimit rl;
		rlim_t max = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
		for (int fd = 3; (rlim_t)fd < max && fd < 65536; fd++)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	step = STEP_EXEC;
	int err = ENOENT;
	bool eacces = false;
	for (char **c = r->candidates; *c; c++) {
		execve(*c, r->argv, r->env);
		err = errno;
		if (err == EACCES)
			eacces = true;
		else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV &&
			 err != ETIMEDOUT)
			break;
	}
	errno = eacces && (err == ENOENT || err == ENOTDIR) ? EACCES : err;
fail:
	child_report(status_fd, step, errno);
	_exit(127);
}

/* Forks and execs. 0: *ret_pid runs r->argv; or *fatal holds what failed in
 * the child, which is already reaped (*ret_pid 0). *cg_err: joining a cgroup
 * failed (errno), the process runs regardless. -errno: fork failed. */
static int spawn(const struct spawn_req *r, pid_t *ret_pid, struct spawn_report *fatal, int *cg_err)
{
	int pfd[2];
	sigset_t all, old;

	*ret_pid = 0;
	fatal->step = 0;
	*cg_err = 0;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	if ((pfd[0] = fd_above_stdio(pfd[0])) < 0 || (pfd[1] = fd_above_stdio(pfd[1])) < 0) {
		int e = errno;
		if (pfd[0] >= 0)
			close(pfd[0]);
		if (pfd[1] >= 0)
			close(pfd[1]);
		return -e;
	}
	/* no handler of the daemon may run in the child before it resets them */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		child_exec(r, pfd[1]);
	}
	int fork_err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return -fork_err;
	}

	/* EOF when execve closed the pipe (or the child died); blocks for as long
	 * as the child takes to get there, which makes no blocking call */
	struct spawn_report rep[4];
	size_t got = 0;
	for (;;) {
		char *dst = (char *)rep + got;
		char scratch[sizeof(rep)];
		size_t room = sizeof(rep) - got;
		ssize_t n = read(pfd[0], room ? dst : scratch, room ? room : sizeof(scratch));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (room)
			got += (size_t)n;
	}
	close(pfd[0]);
	for (size_t i = 0; i < got / sizeof(rep[0]); i++) {
		if (rep[i].step == STEP_CGROUP)
			*cg_err = rep[i].err;
		else
			*fatal = rep[i];
	}
	if (fatal->step) {
		/* the child _exit()s right after its report */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return 0;
	}
	*ret_pid = pid;
	return 0;
}

static const char *step_name(int step)
{
	switch (step) {
	case STEP_SETSID: return "setsid";
	case STEP_CGROUP: return "joining the cgroup";
	case STEP_STDIO: return "redirecting stdio";
	case STEP_CHDIR: return "chdir";
	case STEP_GROUPS: return "setgroups";
	case STEP_GID: return "setgid";
	case STEP_UID: return "setuid";
	case STEP_EXEC: return "exec";
	default: return "start";
	}
}

/* Opens what a spawn needs in the parent: the log (append), /dev/null and
 * the cgroup.procs of c's cgroups. Returns 0 or -errno with why. */
static int spawn_open(struct drv_container *c, struct spawn_req *r, char *why, size_t whylen)
{
	const char *dirs[2] = {c->cg_path, c->cg_cpu_path};

	r->log_fd = fd_above_stdio(open(c->ctx.log_path,
					O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600));
	if (r->log_fd < 0) {
		snprintf(why, whylen, "log file %s: %s", c->ctx.log_path, strerror(errno));
		return -errno;
	}
	r->null_fd = fd_above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY));
	if (r->null_fd < 0) {
		snprintf(why, whylen, "/dev/null: %s", strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < 2; i++) {
		char path[PATH_MAX];
		if (!dirs[i][0] || join_path(path, sizeof(path), dirs[i], "cgroup.procs") < 0)
			continue;
		int fd = fd_above_stdio(open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY));
		if (fd >= 0)
			r->cg_fds[r->n_cg++] = fd;
	}
	return 0;
}

static void spawn_close(struct spawn_req *r)
{
	if (r->log_fd >= 0)
		close(r->log_fd);
	if (r->null_fd >= 0)
		close(r->null_fd);
	for (size_t i = 0; i < r->n_cg; i++)
		close(r->cg_fds[i]);
	free_strv(r->candidates, false);
	r->candidates = NULL;
	r->log_fd = r->null_fd = -1;
	r->n_cg = 0;
}

/* ---- handles ----------------------------------------------------------- */

static void queue_log(struct drv_container *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Log lines wait for the loop like every other callback. */
static void queue_log(struct drv_container *c, const char *fmt, ...)
{
	va_list ap;

	if (c->n_logs >= MAX_PENDING_LOGS)
		return;
	va_start(ap, fmt);
	vsnprintf(c->logs[c->n_logs++], LOG_LINE, fmt, ap);
	va_end(ap);
}

static void warn_memory(struct drv_container *c, const char *why)
{
	if (!c->warned_memory)
		queue_log(c, "%s: memory limit not applied: %s", c->name, why);
	c->warned_memory = true;
}

static void warn_cpu(struct drv_container *c, const char *why)
{
	if (!c->warned_cpu)
		queue_log(c, "%s: cpu limit not applied: %s", c->name, why);
	c->warned_cpu = true;
}

static void cgroup_create(struct drv_container *c, const struct drv_spec *spec)
{
	struct driver *d = c->d;
	bool want_mem = spec->memory_limit || spec->memory_reservation;
	bool want_cpu = spec->cpu_units > 0;
	char name[256], why[PATH_MAX + 64], val[64];
	int r;

	if (d->cg == CG_NONE) {
		if (want_mem)
			warn_memory(c, d->cg_why);
		if (want_cpu)
			warn_cpu(c, d->cg_why);
		return;
	}
	if (cgroup_name(spec, name, sizeof(name)) < 0) {
		if (want_mem)
			warn_memory(c, "the task id and container name do not make a cgroup name");
		if (want_cpu)
			warn_cpu(c, "the task id and container name do not make a cgroup name");
		return;
	}
	if (join_path(c->cg_path, sizeof(c->cg_path), d->cg_base, name) < 0 ||
	    (mkdir(c->cg_path, 0755) < 0 && errno != EEXIST)) {
		snprintf(why, sizeof(why), "cannot create cgroup %s: %s", c->cg_path, strerror(errno));
		c->cg_path[0] = '\0';
		if (want_mem)
			warn_memory(c, why);
		if (want_cpu && d->cg == CG_V2)
			warn_cpu(c, why);
	}

	const char *fmax = d->cg == CG_V2 ? "memory.max" : "memory.limit_in_bytes";
	const char *flow = d->cg == CG_V2 ? "memory.low" : "memory.soft_limit_in_bytes";
	if (c->cg_path[0] && spec->memory_limit) {
		snprintf(val, sizeof(val), "%" PRIu64, spec->memory_limit);
		if ((r = write_in(c->cg_path, fmax, val)) < 0) {
			snprintf(why, sizeof(why), "writing %s/%s: %s", c->cg_path, fmax, strerror(-r));
			warn_memory(c, why);
		}
	}
	if (c->cg_path[0] && spec->memory_reservation) {
		snprintf(val, sizeof(val), "%" PRIu64, spec->memory_reservation);
		if ((r = write_in(c->cg_path, flow, val)) < 0) {
			snprintf(why, sizeof(why), "writing %s/%s: %s", c->cg_path, flow, strerror(-r));
			warn_memory(c, why);
		}
	}
	if (!want_cpu)
		return;
	if (!d->cg_cpu) {
		warn_cpu(c, d->cg_cpu_why);
		return;
	}
	unsigned long long quota = (unsigned long long)spec->cpu_units * CFS_PERIOD_US / 1024;
	if (quota < CFS_MIN_QUOTA_US)
		quota = CFS_MIN_QUOTA_US;
	if (d->cg == CG_V2) {
		if (!c->cg_path[0])
			return;
		snprintf(val, sizeof(val), "%llu %llu", quota, CFS_PERIOD_US);
		if ((r = write_in(c->cg_path, "cpu.max", val)) < 0) {
			snprintf(why, sizeof(why), "writing %s/cpu.max: %s", c->cg_path, strerror(-r));
			warn_cpu(c, why);
		}
		return;
	}
	if (join_path(c->cg_cpu_path, sizeof(c->cg_cpu_path), d->cg_cpu_base, name) < 0 ||
	    (mkdir(c->cg_cpu_path, 0755) < 0 && errno != EEXIST)) {
		snprintf(why, sizeof(why), "cannot create cgroup %s: %s", c->cg_cpu_path, strerror(errno));
		c->cg_cpu_path[0] = '\0';
		warn_cpu(c, why);
		return;
	}
	snprintf(val, sizeof(val), "%llu", CFS_PERIOD_US);
	r = write_in(c->cg_cpu_path, "cpu.cfs_period_us", val);
	snprintf(val, sizeof(val), "%llu", quota);
	if (r == 0)
		r = write_in(c->cg_cpu_path, "cpu.cfs_quota_us", val);
	if (r < 0) {
		snprintf(why, sizeof(why), "writing %s/cpu.cfs_*_us: %s", c->cg_cpu_path, strerror(-r));
		warn_cpu(c, why);
	}
}

/* The OOM killer's count in c's memory cgroup; false when unknown. */
static bool cgroup_oom_killed(const struct drv_container *c)
{
	char path[PATH_MAX], buf[2048];
	bool v2 = c->d->cg == CG_V2;

	if (!c->cg_path[0] ||
	    join_path(path, sizeof(path), c->cg_path, v2 ? "memory.events" : "memory.oom_control") < 0 ||
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

/* The container's whole process group; the leader alone when it is not a
 * group leader (a state file from elsewhere), through its pidfd. */
static void signal_group(struct drv_container *c, int sig)
{
	if (kill(-c->pid, sig) < 0 && errno == ESRCH && c->pidfd >= 0)
		(void)syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0u);
}

static void container_closed(uv_handle_t *h)
{
	struct drv_container *c = h->data;

	if (--c->closing)
		return;
	if (c->pidfd >= 0)
		close(c->pidfd);
	ctx_free(&c->ctx);
	free(c);
}

static void probe_orphan(struct probe *p);

/* Frees c now (no callback is running): release also kills what is left and
 * removes the cgroups; forget leaves the process alone. */
static void dispose_now(struct drv_container *c)
{
	struct driver *d = c->d;
	bool release = c->dispose == DISPOSE_RELEASE;

	d->n_handles--;
	while (c->probes)
		probe_orphan(c->probes);
	if (release && c->pid && c->state == C_RUNNING) {
		/* released while running (not the contract's order): do not leak it */
		signal_group(c, SIGKILL);
		if (!c->adopted)
			(void)waitpid(c->pid, NULL, WNOHANG);
	}
	if (release) {
		cgroup_sweep(c->cg_path);
		cgroup_sweep(c->cg_cpu_path);
		cgroup_remove(d, c->cg_cpu_path);
		cgroup_remove(d, c->cg_path);
	}
	c->closing = 2;
	uv_close((uv_handle_t *)&c->kill_timer, container_closed);
	uv_close((uv_handle_t *)&c->defer, container_closed);
	if (c->poll_init) {
		c->closing++;
		uv_close((uv_handle_t *)&c->poll, container_closed);
	}
}

/* After a callback into the orchestrator: false when it disposed of c. */
static bool leave_cb(struct drv_container *c)
{
	if (--c->in_cb == 0 && c->dispose != DISPOSE_NONE) {
		dispose_now(c);
		return false;
	}
	return true;
}

static void request_dispose(struct drv_container *c, enum dispose how)
{
	if (!c || c->dispose != DISPOSE_NONE)
		return;
	c->dispose = how;
	if (c->in_cb == 0)
		dispose_now(c);
}

static bool flush_logs(struct drv_container *c)
{
	const struct drv_events *ev = c->d->ev;
	size_t n = c->n_logs;

	c->n_logs = 0;
	for (size_t i = 0; i < n && ev->log; i++) {
		c->in_cb++;
		ev->log(c->owner, LOG_LEVEL_WARN, c->logs[i]);
		if (!leave_cb(c))
			return false;
	}
	return true;
}

/* Delivers `started` if it is still due; false when c was disposed of. */
static bool deliver_started(struct drv_container *c)
{
	if (!c->started_due)
		return true;
	c->started_due = false;
	if (!flush_logs(c))
		return false;
	c->in_cb++;
	c->d->ev->started(c->owner, c->start_err, c->start_err ? c->start_reason : NULL);
	return leave_cb(c);
}

static void finish_exit(struct drv_container *c)
{
	struct drv_exit e;
	bool oom = cgroup_oom_killed(c);

	uv_timer_stop(&c->kill_timer);
	uv_timer_stop(&c->defer);
	c->state = C_DONE;
	e.exit_code = c->exit_code;
	e.oom_killed = oom;
	e.reason = oom ? REASON_OOM : c->exit_reason[0] ? c->exit_reason : NULL;
	if (!flush_logs(c))
		return;
	c->in_cb++;
	c->d->ev->exited(c->owner, &e);
	leave_cb(c);
}

static void on_defer(uv_timer_t *t);

/* Empties the cgroup before `exited`, a sweep every SWEEP_INTERVAL_MS. */
static void drain_continue(struct drv_container *c)
{
	int left = cgroup_sweep(c->cg_path);
	int left_cpu = cgroup_sweep(c->cg_cpu_path);

	if ((left > 0 || left_cpu > 0) && ++c->sweeps < SWEEP_TRIES) {
		uv_timer_start(&c->defer, on_defer, SWEEP_INTERVAL_MS, 0);
		return;
	}
	finish_exit(c);
}

static void on_defer(uv_timer_t *t)
{
	struct drv_container *c = t->data;

	if (!deliver_started(c))
		return;
	if (c->state == C_DRAINING)
		drain_continue(c);
}

/* The leader is gone (pidfd readable): kill the rest, learn the exit code. */
static void on_container_exit(uv_poll_t *h, int status, int events)
{
	struct drv_container *c = h->data;
	siginfo_t si;

	(void)status;
	(void)events;
	if (c->state != C_RUNNING)
		return;
	memset(&si, 0, sizeof(si));
	int w = waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT);
	bool child = w == 0;
	if (child && si.si_pid == 0)
		return;  /* still running: a spurious wake-up */
	uv_poll_stop(&c->poll);
	/* a child of ours is a zombie until reaped below, so its id still names
	 * its group; a non-child's group id stays reserved while members remain */
	kill(-c->pid, SIGKILL);
	c->exit_code = -1;
	if (child) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid == c->pid)
			c->exit_code = si.si_code == CLD_EXITED ? si.si_status & 0xff : 128 + si.si_status;
	}
	if (c->exit_code < 0)
		snprintf(c->exit_reason, sizeof(c->exit_reason), "%s",
			 c->adopted ? REASON_ADOPTED_EXIT : "exit code unknown");
	c->state = C_DRAINING;
	c->sweeps = 0;
	if (!deliver_started(c))
		return;
	drain_continue(c);
}

static void on_kill_timer(uv_timer_t *t)
{
	struct drv_container *c = t->data;

	if (c->state != C_RUNNING)
		return;
	signal_group(c, SIGKILL);
	cgroup_sweep(c->cg_path);
	cgroup_sweep(c->cg_cpu_path);
}

static struct drv_container *container_new(struct driver *d, const struct drv_spec *spec,
					   void *owner)
{
	struct drv_container *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->d = d;
	c->owner = owner;
	c->pidfd = -1;
	snprintf(c->name, sizeof(c->name), "%s", spec->container_name ? spec->container_name : "?");
	uv_timer_init(d->loop, &c->kill_timer);
	uv_timer_init(d->loop, &c->defer);
	c->kill_timer.data = c;
	c->defer.data = c;
	memcpy(c->boot_id, d->boot_id, sizeof(c->boot_id));
	d->n_handles++;
	return c;
}

static int watch(struct drv_container *c)
{
	int r = uv_poll_init(c->d->loop, &c->poll, c->pidfd);
	if (r < 0)
		return r;
	c->poll_init = true;
	c->poll.data = c;
	return uv_poll_start(&c->poll, UV_READABLE, on_container_exit);
}

/* ---- the ops ----------------------------------------------------------- */

static void fail_start(struct drv_container *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail_start(struct drv_container *c, int err, const char *fmt, ...)
{
	va_list ap;

	c->start_err = err;
	c->state = C_DONE;
	va_start(ap, fmt);
	vsnprintf(c->start_reason, sizeof(c->start_reason), fmt, ap);
	va_end(ap);
}

static int process_launch(struct driver *d, const struct drv_spec *spec, void *owner,
			  struct drv_container **ret)
{
	struct spawn_req req = {.log_fd = -1, .null_fd = -1};
	struct spawn_report fatal;
	char why[REASON_LEN];
	pid_t pid;
	int cg_err, r;

	if (!d || !spec || !ret || !spec->argv || !spec->argv[0] || !spec->argv[0][0] ||
	    !spec->log_path || !spec->container_name)
		return -EINVAL;
	for (size_t i = 0; spec->argv[i]; i++)
		if (i >= MAX_LIST || strnlen(spec->argv[i], MAX_STRING + 1) > MAX_STRING)
			return -E2BIG;

	struct drv_container *c = container_new(d, spec, owner);
	if (!c)
		return -ENOMEM;
	if ((r = ctx_init(&c->ctx, spec)) < 0)
		goto out_free;
	if ((r = exec_candidates(spec->argv[0], c->ctx.env, &req.candidates)) < 0)
		goto out_free;

	c->state = C_RUNNING;
	c->started_due = true;
	if (spec->n_mounts)
		queue_log(c, "%s: the process driver does not mount volumes; %zu mount point(s) ignored",
			  c->name, spec->n_mounts);
	if (c->ctx.user_err) {
		fail_start(c, c->ctx.user_err, "%s", c->ctx.user_why);
		goto out_deferred;
	}
	cgroup_create(c, spec);
	if ((r = spawn_open(c, &req, why, sizeof(why))) < 0) {
		fail_start(c, r, "%s", why);
		goto out_deferred;
	}
	req.argv = spec->argv;
	req.env = c->ctx.env;
	req.cwd = c->ctx.cwd;
	req.ctx = &c->ctx;
	if ((r = spawn(&req, &pid, &fatal, &cg_err)) < 0) {
		fail_start(c, r, "fork: %s", strerror(-r));
		goto out_deferred;
	}
	if (cg_err) {
		snprintf(why, sizeof(why), "joining the cgroup: %s", strerror(cg_err));
		if (spec->memory_limit || spec->memory_reservation)
			warn_memory(c, why);
		if (spec->cpu_units)
			warn_cpu(c, why);
	}
	if (fatal.step) {
		if (fatal.step == STEP_EXEC)
			fail_start(c, -fatal.err, "exec %s: %s", spec->argv[0], strerror(fatal.err));
		else if (fatal.step == STEP_CHDIR)
			fail_start(c, -fatal.err, "chdir %s: %s", c->ctx.cwd, strerror(fatal.err));
		else if (fatal.step >= STEP_GROUPS && fatal.step <= STEP_UID)
			fail_start(c, -fatal.err, "user %s: %s: %s", c->ctx.user, step_name(fatal.step),
				   strerror(fatal.err));
		else
			fail_start(c, -fatal.err, "%s: %s", step_name(fatal.step), strerror(fatal.err));
		goto out_deferred;
	}
	c->pid = pid;
	snprintf(c->runtime_id, sizeof(c->runtime_id), "%d", (int)pid);
	(void)proc_start_time(pid, &c->start_time);
	r = pidfd_open_pid(pid);
	c->pidfd = r < 0 ? -1 : r;
	if (r < 0 || (r = watch(c)) < 0) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		c->pid = 0;
		fail_start(c, r, "watching the process: %s", strerror(-r));
	}
out_deferred:
	spawn_close(&req);
	uv_timer_start(&c->defer, on_defer, 0, 0);
	*ret = c;
	return 0;
out_free:
	spawn_close(&req);
	c->dispose = DISPOSE_FORGET;
	dispose_now(c);
	return r;
}

static int process_stop(struct drv_container *c, unsigned timeout_s)
{
	if (!c)
		return -EINVAL;
	if (!c->pid || c->state != C_RUNNING || c->stopping)
		return 0;
	c->stopping = true;
	signal_group(c, SIGTERM);
	uv_timer_start(&c->kill_timer, on_kill_timer, (uint64_t)timeout_s * 1000, 0);
	return 0;
}

static const char *process_runtime_id(const struct drv_container *c)
{
	return c ? c->runtime_id : "";
}

static json_t *process_save(const struct drv_container *c)
{
	json_t *o;

	if (!c || !c->pid || !(o = json_object()))
		return NULL;
	if (json_object_set_new(o, "pid", json_integer(c->pid)) < 0 ||
	    json_object_set_new(o, "start_time", json_integer((json_int_t)c->start_time)) < 0 ||
	    json_object_set_new(o, "boot_id", json_string(c->boot_id)) < 0 ||
	    json_object_set_new(o, "cgroup", c->cg_path[0] ? json_string(c->cg_path) : json_null()) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A saved cgroup is used only when it is exactly where this driver would put
 * this container: a state file never makes us kill or remove anything else. */
static void adopt_cgroups(struct drv_container *c, const struct drv_spec *spec, const char *saved)
{
	struct driver *d = c->d;
	char name[256], path[PATH_MAX];
	struct stat st;

	if (d->cg == CG_NONE || cgroup_name(spec, name, sizeof(name)) < 0)
		return;
	if (saved && join_path(path, sizeof(path), d->cg_base, name) == 0 && !strcmp(path, saved) &&
	    stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		memcpy(c->cg_path, path, strlen(path) + 1);
	if (d->cg == CG_V1 && d->cg_cpu && join_path(path, sizeof(path), d->cg_cpu_base, name) == 0 &&
	    stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		memcpy(c->cg_cpu_path, path, strlen(path) + 1);
}

static int process_adopt(struct driver *d, const struct drv_spec *spec, const json_t *state,
			 void *owner, struct drv_container **ret)
{
	json_t *jpid = json_object_get(state, "pid");
	json_t *jstart = json_object_get(state, "start_time");
	json_t *jboot = json_object_get(state, "boot_id");
	json_t *jcg = json_object_get(state, "cgroup");
	unsigned long long now_start = 0;
	int r;

	if (!d || !spec || !ret || !json_is_object(state) || !json_is_integer(jpid) ||
	    !json_is_integer(jstart) || !json_is_string(jboot) || (jcg && !json_is_string(jcg) &&
								   !json_is_null(jcg)))
		return -EINVAL;
	json_int_t pid = json_integer_value(jpid), start = json_integer_value(jstart);
	const char *boot = json_string_value(jboot);
	if (pid <= 1 || pid > INT_MAX || start < 0 || strlen(boot) >= sizeof(d->boot_id))
		return -EINVAL;

	struct drv_container *c = container_new(d, spec, owner);
	if (!c)
		return -ENOMEM;
	if ((r = ctx_init(&c->ctx, spec)) < 0) {
		c->dispose = DISPOSE_FORGET;
		dispose_now(c);
		return r;
	}
	c->adopted = true;
	c->state = C_RUNNING;
	c->pid = (pid_t)pid;
	c->start_time = (unsigned long long)start;
	memcpy(c->boot_id, boot, strlen(boot) + 1);
	snprintf(c->runtime_id, sizeof(c->runtime_id), "%d", c->pid);
	adopt_cgroups(c, spec, jcg ? json_string_value(jcg) : NULL);

	/* open the pidfd before checking the start time: if it still matches
	 * afterwards, the pidfd names that very process */
	bool same = !strcmp(boot, d->boot_id);
	if (same && (r = pidfd_open_pid(c->pid)) < 0) {
		if (r != -ESRCH) {
			c->dispose = DISPOSE_FORGET;
			dispose_now(c);
			return r;
		}
		same = false;
	}
	c->pidfd = same ? r : -1;
	same = same && proc_start_time(c->pid, &now_start) == 0 && now_start == c->start_time;
	if (same) {
		if ((r = watch(c)) < 0) {
			c->dispose = DISPOSE_FORGET;
			dispose_now(c);
			return r;
		}
		*ret = c;
		return 0;
	}
	/* gone (or not ours any more): report it from the loop; leftovers in its
	 * cgroup are killed by the drain */
	if (c->pidfd >= 0) {
		close(c->pidfd);
		c->pidfd = -1;
	}
	c->exit_code = -1;
	snprintf(c->exit_reason, sizeof(c->exit_reason), "%s", REASON_GONE);
	c->state = C_DRAINING;
	uv_timer_start(&c->defer, on_defer, 0, 0);
	*ret = c;
	return 0;
}

static void process_release(struct drv_container *c)
{
	request_dispose(c, DISPOSE_RELEASE);
}

static void process_forget(struct drv_container *c)
{
	request_dispose(c, DISPOSE_FORGET);
}

/* ---- probes ------------------------------------------------------------ */

static void probe_closed(uv_handle_t *h)
{
	struct probe *p = h->data;

	if (--p->closing)
		return;
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p);
}

static void probe_link(struct probe *p, struct probe **head)
{
	p->next = *head;
	if (*head)
		(*head)->pprev = &p->next;
	*head = p;
	p->pprev = head;
}

static void probe_unlink(struct probe *p)
{
	if (!p->pprev)
		return;
	*p->pprev = p->next;
	if (p->next)
		p->next->pprev = p->pprev;
	p->next = NULL;
	p->pprev = NULL;
	if (p->c)
		p->c->n_probes--;
	p->c = NULL;
}

/* Unlinks p and closes its handles; freed on the loop's next turn. */
static void probe_close(struct probe *p)
{
	probe_unlink(p);
	p->done = NULL;
	p->closing = 1;
	uv_close((uv_handle_t *)&p->timer, probe_closed);
	if (p->poll_init) {
		p->closing++;
		uv_close((uv_handle_t *)&p->poll, probe_closed);
	}
}

/* Its container was released: kill it, never call done, reap it later. */
static void probe_orphan(struct probe *p)
{
	probe_unlink(p);
	p->done = NULL;
	if (!p->pid || !p->poll_init) {
		probe_close(p);
		return;
	}
	kill(-p->pid, SIGKILL);
	uv_timer_stop(&p->timer);
	probe_link(p, &p->d->orphans);
}

static void on_probe_exit(uv_poll_t *h, int status, int events)
{
	struct probe *p = h->data;
	siginfo_t si;
	int code = -1;

	(void)status;
	(void)events;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0)
		return;  /* spurious */
	uv_poll_stop(&p->poll);
	kill(-p->pid, SIGKILL);  /* whatever it left in its group */
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid == p->pid)
		code = si.si_code == CLD_EXITED ? si.si_status & 0xff : 128 + si.si_status;
	drv_probe_fn done = p->done;
	void *arg = p->arg;
	probe_close(p);
	if (done)
		done(arg, code);
}

static void on_probe_timer(uv_timer_t *t)
{
	struct probe *p = t->data;
	drv_probe_fn done = p->done;
	void *arg = p->arg;

	if (p->failed) {
		probe_close(p);
	} else {
		/* timed out: answer now, reap when the kill has landed */
		kill(-p->pid, SIGKILL);
		p->done = NULL;
	}
	if (done)
		done(arg, -1);
}

static int process_probe(struct drv_container *c, char *const *argv, unsigned timeout_s,
			 drv_probe_fn done, void *arg)
{
	struct spawn_req req = {.log_fd = -1, .null_fd = -1};
	struct spawn_report fatal;
	char why[REASON_LEN];
	int cg_err, r;
	pid_t pid;

	if (!c || !argv || !argv[0] || !argv[0][0] || !done)
		return -EINVAL;
	for (size_t i = 0; argv[i]; i++)
		if (i >= MAX_LIST || strnlen(argv[i], MAX_STRING + 1) > MAX_STRING)
			return -E2BIG;
	if (!c->pid || c->state != C_RUNNING)
		return -ESRCH;
	if (c->n_probes >= MAX_PROBES)
		return -EBUSY;

	struct probe *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->d = c->d;
	p->done = done;
	p->arg = arg;
	p->pidfd = -1;
	uv_timer_init(c->d->loop, &p->timer);
	p->timer.data = p;
	probe_link(p, &c->probes);
	p->c = c;
	c->n_probes++;

	p->failed = true;
	if (c->ctx.user_err || exec_candidates(argv[0], c->ctx.env, &req.candidates) < 0 ||
	    spawn_open(c, &req, why, sizeof(why)) < 0)
		goto out_timer;
	req.argv = argv;
	req.env = c->ctx.env;
	req.cwd = c->ctx.cwd;
	req.ctx = &c->ctx;
	if (spawn(&req, &pid, &fatal, &cg_err) < 0 || fatal.step)
		goto out_timer;
	if ((r = pidfd_open_pid(pid)) < 0) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto out_timer;
	}
	p->pid = pid;
	p->pidfd = r;
	if (uv_poll_init(c->d->loop, &p->poll, p->pidfd) == 0) {
		p->poll_init = true;
		p->poll.data = p;
		if (uv_poll_start(&p->poll, UV_READABLE, on_probe_exit) == 0)
			p->failed = false;
	}
	if (p->failed) {  /* cannot watch it: do not leave it running */
		kill(-pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
out_timer:
	spawn_close(&req);
	uv_timer_start(&p->timer, on_probe_timer, p->failed ? 0 : (uint64_t)timeout_s * 1000, 0);
	return 0;
}

/* ---- cgroup removal ---------------------------------------------------- */

static void on_rmdir_timer(uv_timer_t *t)
{
	struct driver *d = t->data;

	for (struct rmdir_pending **pp = &d->pending; *pp; ) {
		struct rmdir_pending *e = *pp;
		cgroup_sweep(e->path);
		if (rmdir(e->path) < 0 && errno == EBUSY && ++e->tries < RMDIR_TRIES) {
			pp = &e->next;
			continue;
		}
		if (e->tries >= RMDIR_TRIES)
			log_warn(COMPONENT, "cgroup %s: not removed, still busy", e->path);
		*pp = e->next;
		free(e);
		d->n_pending--;
	}
	if (d->pending)
		uv_timer_start(t, on_rmdir_timer, RMDIR_RETRY_MS, 0);
}

/* rmdir now, or from a timer while its last processes finish dying. */
static void cgroup_remove(struct driver *d, const char *dir)
{
	if (!dir[0] || rmdir(dir) == 0 || errno == ENOENT)
		return;
	if (errno != EBUSY || d->n_pending >= MAX_PENDING_RMDIR) {
		log_warn(COMPONENT, "cgroup %s: not removed: %s", dir, strerror(errno));
		return;
	}
	size_t len = strlen(dir) + 1;
	struct rmdir_pending *e = malloc(sizeof(*e) + len);
	if (!e)
		return;
	e->tries = 0;
	memcpy(e->path, dir, len);
	e->next = d->pending;
	d->pending = e;
	d->n_pending++;
	if (!uv_is_active((uv_handle_t *)&d->rmdir_timer))
		uv_timer_start(&d->rmdir_timer, on_rmdir_timer, RMDIR_RETRY_MS, 0);
}

/* ---- the driver -------------------------------------------------------- */

static int process_init(uv_loop_t *loop, const struct drv_config *cfg,
			const struct drv_events *events, struct driver **ret, char *err, size_t errlen)
{
	ssize_t n;

	if (!loop || !events || !events->started || !events->exited || !ret) {
		if (err && errlen)
			snprintf(err, errlen, "process driver: a loop and the started/exited callbacks are required");
		return -EINVAL;
	}
	struct driver *d = calloc(1, sizeof(*d));
	if (!d) {
		if (err && errlen)
			snprintf(err, errlen, "process driver: out of memory");
		return -ENOMEM;
	}
	d->loop = loop;
	d->ev = events;
	if ((n = read_small("/proc/sys/kernel/random/boot_id", d->boot_id, sizeof(d->boot_id))) <= 0) {
		if (err && errlen)
			snprintf(err, errlen, "process driver: reading /proc/sys/kernel/random/boot_id: %s",
				 n < 0 ? strerror((int)-n) : "empty");
		free(d);
		return n < 0 ? (int)n : -EIO;
	}
	trim_newline(d->boot_id);
	cgroup_detect(d, cfg ? cfg->cgroup_root : NULL);
	uv_timer_init(loop, &d->rmdir_timer);
	d->rmdir_timer.data = d;
	uv_unref((uv_handle_t *)&d->rmdir_timer);  /* retries never keep the loop alive */
	*ret = d;
	return 0;
}

static void driver_closed(uv_handle_t *h)
{
	free(h->data);
}

static void process_shutdown(struct driver *d)
{
	if (!d)
		return;
	if (d->n_handles)
		log_error(COMPONENT, "shutdown with %zu container handle(s) neither released nor forgotten",
			  d->n_handles);
	while (d->orphans) {
		struct probe *p = d->orphans;
		(void)waitpid(p->pid, NULL, WNOHANG);
		probe_close(p);
	}
	while (d->pending) {
		struct rmdir_pending *e = d->pending;
		if (rmdir(e->path) < 0 && errno != ENOENT)
			log_warn(COMPONENT, "cgroup %s: not removed: %s", e->path, strerror(errno));
		d->pending = e->next;
		free(e);
	}
	uv_close((uv_handle_t *)&d->rmdir_timer, driver_closed);
}

const struct driver_ops driver_process_ops = {
	.name = "process",
	.init = process_init,
	.shutdown = process_shutdown,
	.launch = process_launch,
	.stop = process_stop,
	.probe = process_probe,
	.save = process_save,
	.adopt = process_adopt,
	.runtime_id = process_runtime_id,
	.release = process_release,
	.forget = process_forget,
};
