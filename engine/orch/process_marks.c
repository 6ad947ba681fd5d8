/*
 * process_marks.c — the process driver after a restart: a container's
 * processes found by the mark in their environment, and the sweep of what
 * this data directory started and nobody took back.
 *
 * Every container's environment holds TRIPLINE_TASK_MARK=<instance>/<task
 * id>/<container> (the orchestrator puts it last, so a definition cannot
 * change it; spec->mark). A daemon killed between a spawn and the write of
 * the process's identity leaves a task whose state names no pid: adopt()
 * then asks process_marks_leader() for the container's leader — of the
 * processes carrying exactly that mark, those that lead their session (the
 * child's setsid()), the one started first (probes lead sessions too, but
 * start later). /proc is read once, on the first question, and kept until
 * the sweep.
 *
 * process_sweep(), once every task was loaded and before anything is
 * launched: every process carrying a mark of this instance that no adopted
 * container claimed (its mark, or its mark + "/…" — a helper process of the
 * container, never taken for its leader) is SIGKILLed, and every cgroup below this instance's
 * (cgroup_sweep) that no adopted container holds is emptied and removed;
 * each is one warning line. Processes and cgroups of other data directories
 * carry another instance id and are never touched.
 *
 * Processes in another pid namespace than the daemon's are a container
 * runtime's (docker's containers carry the mark as well) and are left to
 * their driver. Limits: a process that emptied its environment (env -i) carries no mark;
 * its cgroup still holds it where cgroups are usable. A process between its
 * clone and its execve shows the daemon's environment, not the mark: it has
 * joined its cgroup by then. Loop thread only; reading /proc costs one read
 * of each process's environ, once per start.
 */
#include "process_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logger.h"

#define MARK_VAR "TRIPLINE_TASK_MARK="
#define ENVIRON_MAX ((size_t)4 << 20)   /* an environ is read up to this much */

struct marked {
	pid_t pid;
	pid_t sid;
	unsigned long long start_time;
	bool claimed;
	char *mark;            /* the whole value, "<instance>/<task>/<container>" */
};

struct marks {
	struct marked *v;
	size_t n, cap;
	char **cgroups;        /* cgroup names claimed by adopted containers */
	size_t n_cg, cap_cg;
};

/* Reads /proc/<pid>/environ whole (up to ENVIRON_MAX) into *buf; bytes or -errno. */
static ssize_t read_environ(pid_t pid, char **buf, size_t *cap)
{
	char path[64];
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (n + 1 >= *cap) {
			size_t nc = *cap ? *cap * 2 : 65536;
			char *b = nc <= ENVIRON_MAX ? realloc(*buf, nc) : NULL;
			if (!b)
				break;
			*buf = b;
			*cap = nc;
		}
		ssize_t r = read(fd, *buf + n, *cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (*buf)
		(*buf)[n] = '\0';
	return (ssize_t)n;
}

/* The value of TRIPLINE_TASK_MARK in an environ block of n bytes, or NULL. */
static const char *find_mark(const char *env, size_t n)
{
	const size_t vl = strlen(MARK_VAR);
	for (size_t i = 0; i < n; i += strlen(env + i) + 1)
		if (n - i > vl && memcmp(env + i, MARK_VAR, vl) == 0)
			return env + i + vl;
	return NULL;
}

/* Field 6 of /proc/<pid>/stat: the session id; 0 when unknown. */
static pid_t session_of(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (process_read_proc(path, buf, sizeof(buf)) < 0)
		return 0;
	char *p = strrchr(buf, ')');
	int ppid, pgrp, sid;
	char state;
	if (!p || sscanf(p + 1, " %c %d %d %d", &state, &ppid, &pgrp, &sid) != 4 || state == 'Z')
		return 0;
	return (pid_t)sid;
}

static int add(struct marks *m, pid_t pid, const char *mark)
{
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 64;
		struct marked *v = realloc(m->v, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = nc;
	}
	struct marked *e = &m->v[m->n];
	memset(e, 0, sizeof(*e));
	e->pid = pid;
	e->sid = session_of(pid);
	if (!e->sid || process_start_time(pid, &e->start_time) < 0)
		return 0;   /* gone meanwhile, or a zombie */
	if (!(e->mark = strdup(mark)))
		return -ENOMEM;
	m->n++;
	return 0;
}

/* Whether pid lives in another pid namespace than the daemon: a container
 * runtime's (docker's containers carry the mark too), never a process
 * driver's container, which runs in the daemon's. */
static bool foreign_pid_ns(pid_t pid, const char *own)
{
	char path[64], ns[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	if (!own[0] || (n = readlink(path, ns, sizeof(ns) - 1)) <= 0)
		return false;
	ns[n] = '\0';
	return strcmp(ns, own) != 0;
}

/* Reads /proc once: every process carrying a mark of this instance, in the
 * daemon's pid namespace. */
static struct marks *scan(struct driver *d)
{
	if (d->marks)
		return d->marks;
	struct marks *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	d->marks = m;
	char prefix[80];
	int pl = snprintf(prefix, sizeof(prefix), "%s/", d->instance);
	if (!d->instance[0])
		return m;
	DIR *dir = opendir("/proc");
	if (!dir) {
		log_warn(PROCESS_COMPONENT, "/proc: %s; processes cannot be found by their mark", strerror(errno));
		return m;
	}
	pid_t self = getpid();
	char *buf = NULL, own_ns[64] = "";
	size_t cap = 0;
	struct dirent *de;
	ssize_t ol = readlink("/proc/self/ns/pid", own_ns, sizeof(own_ns) - 1);
	own_ns[ol > 0 ? ol : 0] = '\0';
	while ((de = readdir(dir))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 1 || pid > INT_MAX || pid == self)
			continue;
		ssize_t n = read_environ((pid_t)pid, &buf, &cap);
		const char *mark = n > 0 ? find_mark(buf, (size_t)n) : NULL;
		if (mark && strncmp(mark, prefix, (size_t)pl) == 0 && !foreign_pid_ns((pid_t)pid, own_ns) &&
		    add(m, (pid_t)pid, mark) < 0)
			break;
	}
	free(buf);
	closedir(dir);
	return m;
}

int process_marks_leader(struct driver *d, const char *mark, pid_t *pid, unsigned long long *start_time)
{
	struct marks *m = mark ? scan(d) : NULL;
	const struct marked *best = NULL;

	for (size_t i = 0; m && i < m->n; i++) {
		const struct marked *e = &m->v[i];
		if (e->pid == e->sid && strcmp(e->mark, mark) == 0 &&
		    (!best || e->start_time < best->start_time))
			best = e;
	}
	if (!best)
		return -ESRCH;
	*pid = best->pid;
	*start_time = best->start_time;
	return 0;
}

void process_marks_claim(struct driver *d, const char *mark, const char *cgroup_name)
{
	struct marks *m = scan(d);

	if (!m)
		return;
	size_t ml = mark ? strlen(mark) : 0;
	for (size_t i = 0; mark && i < m->n; i++)
		if (strncmp(m->v[i].mark, mark, ml) == 0 && (!m->v[i].mark[ml] || m->v[i].mark[ml] == '/'))
			m->v[i].claimed = true;
	if (!cgroup_name)
		return;
	if (m->n_cg == m->cap_cg) {
		size_t nc = m->cap_cg ? m->cap_cg * 2 : 64;
		char **v = realloc(m->cgroups, nc * sizeof(*v));
		if (!v)
			return;
		m->cgroups = v;
		m->cap_cg = nc;
	}
	if ((m->cgroups[m->n_cg] = strdup(cgroup_name)))
		m->n_cg++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool claimed_cgroup(const char *name, void *arg)
{
	const struct marks *m = arg;
	return m->n_cg && bsearch(&name, m->cgroups, m->n_cg, sizeof(*m->cgroups), cmp_str) != NULL;
}

static void marks_free(struct marks *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].mark);
	for (size_t i = 0; i < m->n_cg; i++)
		free(m->cgroups[i]);
	free(m->v);
	free(m->cgroups);
	free(m);
}

void process_sweep(struct driver *d)
{
	struct marks *m = d ? scan(d) : NULL;

	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		const struct marked *e = &m->v[i];
		unsigned long long now = 0;
		if (e->claimed)
			continue;
		/* the same process still (not a pid reused since the scan) */
		if (process_start_time(e->pid, &now) < 0 || now != e->start_time)
			continue;
		log_warn(PROCESS_COMPONENT, "process %d (%s) belongs to no running container of a known task: killed",
			 (int)e->pid, e->mark);
		kill(e->pid, SIGKILL);
	}
	if (m->n_cg)
		qsort(m->cgroups, m->n_cg, sizeof(*m->cgroups), cmp_str);
	cgroup_sweep(d->cg, claimed_cgroup, m);
	marks_free(m);
	d->marks = NULL;
}

void process_marks_free(struct driver *d)
{
	if (d->marks)
		marks_free(d->marks);
	d->marks = NULL;
}
