/*
 * test_cgroup.c — the process driver's cgroups (cgroup.c) with real
 * processes on a real libuv loop: cgroup limits (v2 or v1) written and the
 * process in its cgroup, an OOM kill, limits not applied when cgroups are
 * off, a cgroup catching a child that left the process group. The fixture
 * is process_fixture.h.
 *
 * Every wait is a loop turn with a deadline (run_until); nothing sleeps for a
 * fixed time. The tests that set limits need a writable memory cgroup and
 * fail, with the driver's own explanation, when the driver finds none.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "driver.h"
#include "process_fixture.h"

/* ---- helpers ------------------------------------------------------------ */

static bool has_log(const struct rec *r, const char *part)
{
	for (int i = 0; i < r->n_logs; i++)
		if (strstr(r->logs[i], part))
			return true;
	return false;
}

static void assert_limits_applied(const struct rec *r)
{
	for (int i = 0; i < r->n_logs; i++)
		if (strstr(r->logs[i], "not applied"))
			fail_msg("the driver found no usable cgroup on this machine: %s", r->logs[i]);
}

static void read_cg_file(const char *dir, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= sizeof(path))
		fail_msg("path too long: %s/%s", dir, file);
	if (read_text(path, buf, size) < 0)
		fail_msg("cannot read %s", path);
	buf[strcspn(buf, "\n")] = '\0';
}

/* ---- limits ------------------------------------------------------------- */

static void test_limits_written(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("sleep", "100");
	struct drv_spec s = spec_of(f, "web", argv);
	struct rec r;
	char buf[256], tail[128], line[512];

	s.memory_limit = 64 * MIB;
	s.memory_reservation = 16 * MIB;
	s.cpu_units = 512;
	struct drv_container *c = start(f, &s, &r);
	assert_limits_applied(&r);
	json_t *st = driver_process_ops.save(c);
	const char *cg = json_string_value(json_object_get(st, "cgroup"));
	assert_non_null(cg);
	char cgdir[PATH_MAX];
	snprintf(cgdir, sizeof(cgdir), "%s", cg);
	json_decref(st);
	snprintf(tail, sizeof(tail), "/tripline/%s-web", f->task_id);
	assert_true(strlen(cgdir) > strlen(tail) && !strcmp(cgdir + strlen(cgdir) - strlen(tail), tail));

	/* the process is in that cgroup */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid_of(c));
	FILE *pf = fopen(path, "r");
	assert_non_null(pf);
	bool in_memory = false;
	char cpu_rel[sizeof(line)] = "";
	while (fgets(line, sizeof(line), pf)) {
		line[strcspn(line, "\n")] = '\0';
		char *ctrl = strchr(line, ':'), *rel = ctrl ? strchr(ctrl + 1, ':') : NULL;
		if (!rel)
			continue;
		*rel++ = '\0';
		ctrl++;
		size_t rl = strlen(rel);
		bool ours = rl >= strlen(tail) && !strcmp(rel + rl - strlen(tail), tail);
		if (ours && (strstr(ctrl, "memory") || !ctrl[0]))
			in_memory = true;
		if (ours && !strcmp(ctrl, "cpu"))
			snprintf(cpu_rel, sizeof(cpu_rel), "%s", rel);
	}
	fclose(pf);
	assert_true(in_memory);

	char probe_path[PATH_MAX + 16];
	snprintf(probe_path, sizeof(probe_path), "%s/memory.max", cgdir);
	if (access(probe_path, F_OK) == 0) {   /* v2 */
		read_cg_file(cgdir, "memory.max", buf, sizeof(buf));
		assert_string_equal(buf, "67108864");
		read_cg_file(cgdir, "memory.low", buf, sizeof(buf));
		assert_string_equal(buf, "16777216");
		read_cg_file(cgdir, "cpu.max", buf, sizeof(buf));
		assert_string_equal(buf, "50000 100000");
	} else {                                /* v1 */
		read_cg_file(cgdir, "memory.limit_in_bytes", buf, sizeof(buf));
		assert_string_equal(buf, "67108864");
		read_cg_file(cgdir, "memory.soft_limit_in_bytes", buf, sizeof(buf));
		assert_string_equal(buf, "16777216");
		assert_true(cpu_rel[0]);   /* in a cpu cgroup of its own */
		char cpudir[PATH_MAX];
		snprintf(cpudir, sizeof(cpudir), "/sys/fs/cgroup/cpu%s", cpu_rel);
		read_cg_file(cpudir, "cpu.cfs_quota_us", buf, sizeof(buf));
		assert_string_equal(buf, "50000");
		read_cg_file(cpudir, "cpu.cfs_period_us", buf, sizeof(buf));
		assert_string_equal(buf, "100000");
	}
	assert_int_equal(driver_process_ops.stop(c, 5), 0);
	assert_true(run_until(f, is_exited, &r, 10000));
	assert_int_equal(r.exit_code, 143);
	assert_false(r.oom);
	driver_process_ops.release(c);
	assert_true(run_until(f, dir_gone, cgdir, 15000));
}

static void test_memory_limit_oom(void **state)
{
	struct fx *f = *state;
	/* dd reads 100 MiB of zeroes into one buffer: every page is touched */
	char *const *argv = V("dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;

	s.memory_limit = 32 * MIB;
	struct drv_container *c = launch(f, &s, &r);
	assert_true(run_until(f, is_started, &r, 5000));
	assert_limits_applied(&r);
	assert_int_equal(r.start_err, 0);
	json_t *st = driver_process_ops.save(c);
	assert_non_null(st);
	const char *cg = json_string_value(json_object_get(st, "cgroup"));
	if (!cg)
		fail_msg("no cgroup in the saved state although no warning was logged");
	char cgdir[PATH_MAX];
	snprintf(cgdir, sizeof(cgdir), "%s", cg);
	json_decref(st);

	assert_true(run_until(f, is_exited, &r, 20000));
	assert_int_equal(r.exit_code, 137);
	assert_true(r.oom);
	assert_string_equal(r.exit_reason,
			    "OutOfMemoryError: container killed for exceeding its memory limit");
	assert_limits_applied(&r);
	driver_process_ops.release(c);
	/* release removes the container's cgroup */
	assert_true(run_until(f, dir_gone, cgdir, 15000));
}

static void test_limits_not_applied(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("true");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;

	close_driver(f);
	open_driver(f, "");   /* cgroups off */
	s.memory_limit = 32 * MIB;
	s.memory_reservation = 16 * MIB;
	s.cpu_units = 256;
	assert_int_equal(run_to_exit(f, &s, &r), 0);   /* runs regardless */
	assert_int_equal(r.n_logs, 2);   /* once per kind, not per limit */
	assert_true(has_log(&r, "main: memory limit not applied: cgroups are disabled by configuration"));
	assert_true(has_log(&r, "main: cpu limit not applied"));
}

/* ---- the process group is not enough ------------------------------------ */

/* A child that left the process group (setsid) is still in the cgroup. */
static void test_cgroup_catches_escapee(void **state)
{
	struct fx *f = *state;
	char childfile[128], script[512];
	struct rec r;

	snprintf(childfile, sizeof(childfile), "%s/child.pid", f->dir);
	snprintf(script, sizeof(script), "setsid sleep 100 & echo $! > %s.tmp; mv %s.tmp %s; exit 0",
		 childfile, childfile, childfile);
	char *const *argv = V("/bin/sh", "-c", script);
	struct drv_spec s = spec_of(f, "main", argv);

	s.memory_limit = 256 * MIB;   /* also: a warning here means no cgroup */
	struct drv_container *c = start(f, &s, &r);
	assert_limits_applied(&r);
	pid_t child = read_pid_file(f, childfile);
	assert_true(run_until(f, is_exited, &r, 10000));
	assert_int_equal(r.exit_code, 0);
	/* `exited` waits for the cgroup to be empty */
	assert_true(pid_gone(child));
	driver_process_ops.release(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_limits_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_limit_oom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_not_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_catches_escapee, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
