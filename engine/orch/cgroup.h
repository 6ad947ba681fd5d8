/*
 * cgroup.h — the process driver's cgroups: which version the host offers,
 * one cgroup per container with its limits, killing what is left in one,
 * reading its OOM count and removing it (cgroup.c).
 *
 * Lifecycle: cgroup_host_open() detects once, never assumes (v2, else v1,
 * else none) and logs what it found; the host then makes, adopts and
 * removes container cgroups; cgroup_host_close() frees it once its retry
 * timer has closed (the loop must run once more). A limit that cannot be
 * applied is never an error: the caller gets one reason per kind of limit
 * (memory, cpu) to tell a person. Everything runs on the loop thread.
 */
#ifndef TRIPLINE_ORCH_CGROUP_H
#define TRIPLINE_ORCH_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define CGROUP_WHY_LEN 1100

enum cgroup_mode {
	CGROUP_NONE,
	CGROUP_V1,
	CGROUP_V2,
};

struct cgroup_host;

/* One container's cgroups; "" when it has none of that kind. */
struct cgroup_set {
	char path[PATH_MAX];       /* v2, or the v1 memory hierarchy's */
	char cpu_path[PATH_MAX];   /* v1 only: the cpu hierarchy's */
};

struct cgroup_limits {
	uint64_t memory_limit;         /* bytes, hard; 0 none */
	uint64_t memory_reservation;   /* bytes, soft; 0 none */
	uint32_t cpu_units;            /* 1024 = one CPU; 0 none */
};

/* Why a kind of limit was not applied: the first reason, "" when it was. */
struct cgroup_warnings {
	char memory[CGROUP_WHY_LEN];
	char cpu[CGROUP_WHY_LEN];
};

/* Detects how limits can be applied under cfg_root (NULL: /sys/fs/cgroup;
 * "": never use cgroups) and logs it; containers' cgroups go one level
 * below tripline/<instance> (NULL: directly in tripline/). 0, or -ENOMEM. */
int cgroup_host_open(uv_loop_t *loop, const char *cfg_root, const char *instance, struct cgroup_host **ret);
/* Removes what is still waiting to be removed (once) and frees h when its
 * timer has closed. NULL is fine. */
void cgroup_host_close(struct cgroup_host *h);
enum cgroup_mode cgroup_host_mode(const struct cgroup_host *h);

/* "<task_id>-<container>" when both are plain names ([A-Za-z0-9_-]);
 * 0, -EINVAL or -ENAMETOOLONG. */
int cgroup_name(const char *task_id, const char *container, char *buf, size_t size);

/* Makes the cgroups named `name` and writes lim into them. A memory cgroup
 * is made whenever one is usable (it catches processes that leave the
 * process group), a v1 cpu cgroup only for cpu_units. What could not be
 * applied is in *w (for the kinds lim asks for); what was made in *ret. */
void cgroup_create(struct cgroup_host *h, const char *name, const struct cgroup_limits *lim,
		   struct cgroup_set *ret, struct cgroup_warnings *w);

/* The cgroups of a container re-adopted after a restart: where this host
 * puts `name`, when it exists and saved (its memory/v2 path as recorded) is
 * that very path — or, with unrecorded (no state was saved), whatever is
 * there — so that a state file never makes us kill or remove anything
 * else. saved NULL without unrecorded: the container had none. */
void cgroup_adopt(const struct cgroup_host *h, const char *name, const char *saved, bool unrecorded,
		  struct cgroup_set *ret);

/* Opens the cgroup.procs files of s for writing (close-on-exec), for a
 * child to join with write("0"): at most 2 into fds; how many. */
size_t cgroup_open_procs(const struct cgroup_set *s, int fds[2]);

/* SIGKILLs every process in s (cgroup.kill where the kernel has it); how
 * many were listed, or -errno. */
int cgroup_kill(const struct cgroup_set *s);

/* Whether the OOM killer struck in s's memory cgroup; false when unknown. */
bool cgroup_oom_killed(const struct cgroup_host *h, const struct cgroup_set *s);

/* After a restart: kills what is in each container cgroup of this host that
 * keep(name) does not claim and removes it; how many. */
size_t cgroup_sweep(struct cgroup_host *h, bool (*keep)(const char *name, void *arg), void *arg);

/* Kills what is left and removes s's directories, now or from a timer
 * while the last processes finish dying (bounded retries); clears s. */
void cgroup_remove(struct cgroup_host *h, struct cgroup_set *s);

#endif
