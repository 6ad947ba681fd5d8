/*
 * process_fixture.h — what the process driver's tests share
 * (test_driver_process.c, test_process_spawn.c, test_cgroup.c): a recorder
 * of the driver's callbacks, a fixture holding a real libuv loop, a driver
 * and a scratch directory, and the helpers that launch real processes and
 * wait for them.
 *
 * Every wait is a loop turn with a deadline (run_until); nothing sleeps for
 * a fixed time. Helpers fail the running cmocka test on anything unexpected.
 */
#ifndef TRIPLINE_TESTS_PROCESS_FIXTURE_H
#define TRIPLINE_TESTS_PROCESS_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "driver.h"

#define MIB ((uint64_t)1 << 20)

/* What the driver told one owner. */
struct rec {
	int n_started;
	int start_err;
	char start_reason[512];
	int n_exited;
	int exit_code;
	bool oom;
	char exit_reason[256];
	bool exited_before_started;
	int n_logs;
	char logs[8][1536];
	struct drv_container *release_in_cb;   /* release from `exited` / a failed `started` */
};

/* The driver's callbacks, recording into the struct rec that is the owner;
 * they release rec->release_in_cb when it is set. */
extern const struct drv_events rec_events;

/* An argv or env array from literals (which -Wwrite-strings makes const),
 * freed by teardown(); use V("a", "b"). */
char *const *make_strv(const char *first, ...);
#define V(...) make_strv(__VA_ARGS__, (const char *)NULL)

struct fx {
	uv_loop_t loop;
	uv_timer_t tick;
	struct driver *d;
	char dir[64];        /* scratch directory */
	char log[128];       /* scratch/out.log */
	char task_id[33];
};

/* ---- loop helpers ------------------------------------------------------- */

typedef bool (*cond_fn)(void *arg);

/* Turns the loop until cond holds or ms have passed; whether it held. */
bool run_until(struct fx *f, cond_fn cond, void *arg, unsigned ms);

/* Conditions on a struct rec: `started` came; `exited` came. */
bool is_started(void *arg);
bool is_exited(void *arg);

/* Whether pid is gone: no such process, or a zombie. */
bool pid_gone(pid_t pid);

/* Whether the directory (or file) arg no longer exists. */
bool dir_gone(void *arg);

/* ---- files -------------------------------------------------------------- */

/* Reads at most size - 1 bytes of path into buf, NUL-terminated; the length,
 * or -1 if it cannot be opened. */
ssize_t read_text(const char *path, char *buf, size_t size);

/* Waits (turning the loop) for path, written by a test's process, and
 * returns the pid in it. */
pid_t read_pid_file(struct fx *f, const char *path);

/* Fails unless the file at path holds exactly want. */
void assert_log(const char *path, const char *want);

/* ---- fixture ------------------------------------------------------------ */

/* A new loop and process driver in f; cgroup_root NULL: the default, "":
 * cgroups off. */
void open_driver(struct fx *f, const char *cgroup_root);

/* Shuts the driver down and closes the loop (waiting for what is in flight). */
void close_driver(struct fx *f);

/* cmocka's per-test setup and teardown: a struct fx with its scratch
 * directory, a unique task id and an open driver; all of it removed after. */
int setup(void **state);
int teardown(void **state);

/* ---- launching ---------------------------------------------------------- */

/* A spec for container name running argv: PATH=/usr/bin:/bin only, the log
 * file f->log, the scratch directory f->dir. */
struct drv_spec spec_of(struct fx *f, const char *name, char *const *argv);

/* launch() returns a handle and calls nothing before it returns. */
struct drv_container *launch(struct fx *f, const struct drv_spec *s, struct rec *r);

/* Launches, waits for a successful `started`. */
struct drv_container *start(struct fx *f, const struct drv_spec *s, struct rec *r);

/* Runs s to its end: the exit code, after `started` ok. */
int run_to_exit(struct fx *f, const struct drv_spec *s, struct rec *r);

/* The pid of a started container (its runtime id). */
pid_t pid_of(const struct drv_container *c);

/* ---- probes ------------------------------------------------------------- */

/* What a probe's done callback got. */
struct probe_res {
	int calls;
	int code;
};

/* A probe's done callback; arg is a struct probe_res. */
void on_probe(void *arg, int code);

#endif
