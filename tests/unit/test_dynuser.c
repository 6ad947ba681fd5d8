/*
 * test_dynuser.c — the dynamic-uid allocator (engine/orch/dynuser.h) and
 * the bind-mount check (engine/orch/hostpath.h), on this host's real user
 * database and a real directory tree: uids come from the range only, never
 * one the host knows, each once until released, round the range from the
 * last one; a host path is allowed below a root on component boundaries
 * only, after symlinks are resolved.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dynuser.h"
#include "hostpath.h"
#include "statefile.h"

static bool known(uint32_t uid)
{
	return getpwuid((uid_t)uid) != NULL;
}

/* A run of n uids the host does not know, at or above from. */
static uint32_t unknown_run(uint32_t from, uint32_t n)
{
	for (uint32_t start = from; start < from + 100000; start++) {
		uint32_t i = 0;
		while (i < n && !known(start + i))
			i++;
		if (i == n)
			return start;
		start += i;
	}
	fail_msg("no run of %u unknown uids", n);
	return 0;
}

static void test_range_validation(void **state)
{
	struct dynuser *u = NULL;
	(void)state;
	assert_int_equal(dynuser_new(0, 10, &u), -EINVAL);
	assert_int_equal(dynuser_new(10, 9, &u), -EINVAL);
	assert_int_equal(dynuser_new(1, (1u << 24) + 1, &u), -EINVAL);
	assert_int_equal(dynuser_new(61184, 65519, &u), 0);
	assert_int_equal(dynuser_held(u), 0);
	dynuser_free(u);
}

static void test_each_uid_once_until_released(void **state)
{
	struct dynuser *u;
	uint32_t a, b, c, d, base = unknown_run(61184, 3);
	(void)state;

	assert_int_equal(dynuser_new(base, base + 2, &u), 0);
	assert_int_equal(dynuser_alloc(u, &a), 0);
	assert_int_equal(dynuser_alloc(u, &b), 0);
	assert_int_equal(dynuser_alloc(u, &c), 0);
	assert_int_equal(a, base);
	assert_int_equal(b, base + 1);
	assert_int_equal(c, base + 2);
	assert_int_equal(dynuser_alloc(u, &d), -EAGAIN);
	assert_int_equal(dynuser_held(u), 3);

	/* released: handed out again, the search going on from the last one */
	dynuser_release(u, b);
	dynuser_release(u, b);   /* twice: nothing more */
	assert_int_equal(dynuser_held(u), 2);
	assert_int_equal(dynuser_alloc(u, &d), 0);
	assert_int_equal(d, b);
	dynuser_release(u, a);
	dynuser_release(u, c);
	assert_int_equal(dynuser_alloc(u, &d), 0);
	assert_int_equal(d, c);   /* after b, the last one handed out: c before a */
	dynuser_free(u);
}

static void test_hold_after_a_restart(void **state)
{
	struct dynuser *u;
	uint32_t x, base = unknown_run(61184, 2);
	(void)state;

	assert_int_equal(dynuser_new(base, base + 1, &u), 0);
	assert_true(dynuser_hold(u, base));
	assert_true(dynuser_hold(u, base));   /* idempotent */
	assert_false(dynuser_hold(u, base + 2));   /* outside: not counted */
	assert_int_equal(dynuser_held(u), 1);
	assert_int_equal(dynuser_alloc(u, &x), 0);
	assert_int_equal(x, base + 1);
	assert_int_equal(dynuser_alloc(u, &x), -EAGAIN);
	dynuser_release(u, base + 5);   /* outside: nothing */
	assert_int_equal(dynuser_held(u), 2);
	dynuser_free(u);
}

static void test_host_users_are_never_handed_out(void **state)
{
	struct dynuser *u;
	uint32_t x;
	(void)state;

	/* uid 1 is a system user (daemon) on every Debian */
	assert_true(known(1));
	assert_int_equal(dynuser_new(1, 1, &u), 0);
	assert_int_equal(dynuser_alloc(u, &x), -EAGAIN);
	dynuser_free(u);

	uint32_t free_uid = unknown_run(2, 1);
	assert_int_equal(dynuser_new(1, free_uid, &u), 0);
	assert_int_equal(dynuser_alloc(u, &x), 0);
	assert_int_equal(x, free_uid);
	assert_false(known(x));
	dynuser_free(u);
}

/* ---- hostpath ---------------------------------------------------------- */

static char tree[64];

static void path_of(char *out, const char *rel)
{
	snprintf(out, PATH_MAX, "%s/%s", tree, rel);
}

static int setup_tree(void **state)
{
	char p[PATH_MAX];
	(void)state;
	snprintf(tree, sizeof(tree), "/tmp/test_hostpath.XXXXXX");
	assert_non_null(mkdtemp(tree));
	const char *dirs[] = {"data", "data/sub", "database", "other", NULL};
	for (size_t i = 0; dirs[i]; i++) {
		path_of(p, dirs[i]);
		assert_int_equal(mkdir(p, 0700), 0);
	}
	path_of(p, "data/escape");
	assert_int_equal(symlink("/etc", p), 0);
	path_of(p, "data/inside");
	assert_int_equal(symlink("sub", p), 0);
	path_of(p, "link-to-data");
	char target[PATH_MAX];
	path_of(target, "data");
	assert_int_equal(symlink(target, p), 0);
	return 0;
}

static int teardown_tree(void **state)
{
	(void)state;
	statefile_remove_tree(tree);
	return 0;
}

static int check(const char *rel, const char *root_rel, char *out, char *why)
{
	char path[PATH_MAX], root[PATH_MAX] = "";
	char *roots[] = {root};
	if (rel[0] == '/')
		snprintf(path, sizeof(path), "%s", rel);
	else
		path_of(path, rel);
	if (root_rel)
		path_of(root, root_rel);
	return hostpath_resolve(path, roots, root_rel ? 1 : 0, NULL, 0, out, why, 600);
}

static void test_hostpath_roots(void **state)
{
	char out[PATH_MAX], why[600], want[PATH_MAX];
	(void)state;

	assert_int_equal(check("data", "data", out, why), 0);
	path_of(want, "data");
	assert_string_equal(out, want);
	assert_int_equal(check("data/sub", "data", out, why), 0);
	assert_int_equal(check("data/inside", "data", out, why), 0);   /* a link that stays inside */
	path_of(want, "data/sub");
	assert_string_equal(out, want);                                /* the resolved path is mounted */

	/* a sibling sharing the prefix is not below it */
	assert_int_equal(check("database", "data", out, why), -EPERM);
	assert_non_null(strstr(why, "drivers.docker.allowed_host_paths"));
	/* a symlink out of the root is refused */
	assert_int_equal(check("data/escape", "data", out, why), -EPERM);
	assert_non_null(strstr(why, "/etc"));
	assert_int_equal(check("/etc", "data", out, why), -EPERM);
	/* a root given through a symlink is resolved too */
	assert_int_equal(check("data/sub", "link-to-data", out, why), 0);
	/* no roots: nothing is allowed, and the message says how to allow it */
	assert_int_equal(check("data", NULL, out, why), -EPERM);
	assert_non_null(strstr(why, "no host path is allowed"));
	assert_non_null(strstr(why, "drivers.docker.allowed_host_paths"));
	/* a path that does not exist is refused (Docker would create it as root) */
	assert_int_equal(check("data/missing", "data", out, why), -ENOENT);
	assert_non_null(strstr(why, "No such file"));
}

static void test_hostpath_slash_allows_everything(void **state)
{
	char out[PATH_MAX], why[600];
	char slash[] = "/";
	char *roots[] = {slash};
	(void)state;
	assert_int_equal(hostpath_resolve("/etc", roots, 1, NULL, 0, out, why, sizeof(why)), 0);
	assert_string_equal(out, "/etc");
}

/* Whatever the roots, a deny path (the Docker socket, data_dir) is never
 * exposed: not itself, not through a directory above it. */
static void test_hostpath_deny(void **state)
{
	char out[PATH_MAX], why[600], path[PATH_MAX], sock[PATH_MAX];
	char slash[] = "/";
	char *roots[] = {slash};
	(void)state;

	path_of(sock, "data/sub");
	const char *deny[] = {NULL, sock};
	assert_int_equal(hostpath_resolve(sock, roots, 1, deny, 2, out, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "only the daemon may use"));
	path_of(path, "data");
	assert_int_equal(hostpath_resolve(path, roots, 1, deny, 2, out, why, sizeof(why)), -EPERM);
	assert_int_equal(hostpath_resolve("/", roots, 1, deny, 2, out, why, sizeof(why)), -EPERM);
	path_of(path, "link-to-data");   /* through a symlink */
	assert_int_equal(hostpath_resolve(path, roots, 1, deny, 2, out, why, sizeof(why)), -EPERM);
	path_of(path, "database");       /* beside it: fine */
	assert_int_equal(hostpath_resolve(path, roots, 1, deny, 2, out, why, sizeof(why)), 0);
	const char *missing[] = {"/nonexistent/docker.sock"};
	assert_int_equal(hostpath_resolve(path, roots, 1, missing, 1, out, why, sizeof(why)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_validation),
		cmocka_unit_test(test_each_uid_once_until_released),
		cmocka_unit_test(test_hold_after_a_restart),
		cmocka_unit_test(test_host_users_are_never_handed_out),
		cmocka_unit_test_setup_teardown(test_hostpath_roots, setup_tree, teardown_tree),
		cmocka_unit_test(test_hostpath_slash_allows_everything),
		cmocka_unit_test_setup_teardown(test_hostpath_deny, setup_tree, teardown_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
