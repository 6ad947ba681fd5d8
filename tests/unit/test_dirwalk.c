/*
 * test_dirwalk.c — what a configured path means, on a real directory tree
 * in a temporary directory: a file is itself; a directory gives its *.json
 * files recursively in byte order, hidden names and other files skipped,
 * symbolic links followed; a link loop, a missing path, a dangling link, a
 * FIFO or device named *.json and too deep a nesting are errors that name
 * the path, and the walk goes on past them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirwalk.h"
#include "statefile.h"

static char root[64];

static void touch(const char *rel)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{}", 2), 2);
	close(fd);
}

static void mkd(const char *rel)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(mkdir(p, 0700), 0);
}

static const char *rel(const char *path)
{
	size_t n = strlen(root);
	assert_memory_equal(path, root, n);
	return path + n + 1;
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/tripline-dirwalk-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	mkd("rules");
	mkd("rules/b");
	mkd("rules/a");
	mkd("rules/.hidden");
	mkd("rules/a/deep");
	touch("rules/z.json");
	touch("rules/m.json");
	touch("rules/notes.txt");
	touch("rules/.x.json");
	touch("rules/.hidden/h.json");
	touch("rules/a/1.json");
	touch("rules/a/deep/2.json");
	touch("rules/b/B.json");
	touch("rules/b/a.json");
	touch("rules/.json");   /* hidden, and no name before .json */
	touch("single.json");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return statefile_remove_tree(root) == 0 ? 0 : -1;
}

static void test_directory_order(void **state)
{
	struct dirwalk_list l = DIRWALK_LIST_INIT;
	struct errlist e = ERRLIST_INIT;
	char p[512];

	(void)state;
	snprintf(p, sizeof(p), "%s/rules", root);
	assert_int_equal(dirwalk_expand(p, &l, &e), 0);
	assert_int_equal(e.n, 0);
	static const char *const want[] = {"rules/a/1.json", "rules/a/deep/2.json", "rules/b/B.json",
					   "rules/b/a.json", "rules/m.json", "rules/z.json"};
	assert_int_equal(l.n, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(rel(l.paths[i]), want[i]);
	dirwalk_list_clear(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.paths);
}

static void test_file_is_itself(void **state)
{
	struct dirwalk_list l = DIRWALK_LIST_INIT;
	struct errlist e = ERRLIST_INIT;
	char p[512];

	(void)state;
	snprintf(p, sizeof(p), "%s/single.json", root);
	assert_int_equal(dirwalk_expand(p, &l, &e), 0);
	/* a named file need not end in .json */
	snprintf(p, sizeof(p), "%s/rules/notes.txt", root);
	assert_int_equal(dirwalk_expand(p, &l, &e), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(rel(l.paths[0]), "single.json");
	assert_string_equal(rel(l.paths[1]), "rules/notes.txt");
	dirwalk_list_clear(&l);
}

static void test_errors_name_the_path(void **state)
{
	struct dirwalk_list l = DIRWALK_LIST_INIT;
	struct errlist e = ERRLIST_INIT;
	char p[512], want[600];

	(void)state;
	snprintf(p, sizeof(p), "%s/missing", root);
	assert_int_equal(dirwalk_expand(p, &l, &e), 1);
	assert_int_equal(e.n, 1);
	snprintf(want, sizeof(want), "%s: No such file or directory", p);
	assert_string_equal(e.msgs[0], want);
	errlist_clear(&e);

	snprintf(p, sizeof(p), "%s/fifo", root);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(dirwalk_expand(p, &l, &e), 1);
	snprintf(want, sizeof(want), "%s: not a regular file or directory (a FIFO)", p);
	assert_string_equal(e.msgs[0], want);
	assert_int_equal(l.n, 0);
	unlink(p);
	errlist_clear(&e);
}

static void test_link_loop_and_dangling(void **state)
{
	struct dirwalk_list l = DIRWALK_LIST_INIT;
	struct errlist e = ERRLIST_INIT;
	char p[512], target[512], want[600];

	(void)state;
	snprintf(p, sizeof(p), "%s/rules/a/up", root);
	snprintf(target, sizeof(target), "%s/rules", root);
	assert_int_equal(symlink(target, p), 0);
	snprintf(p, sizeof(p), "%s/rules/b/gone.json", root);
	assert_int_equal(symlink("/nonexistent/tripline", p), 0);
	snprintf(p, sizeof(p), "%s/rules/b/gone.txt", root);   /* not a .json: ignored */
	assert_int_equal(symlink("/nonexistent/tripline", p), 0);
	assert_int_equal(dirwalk_expand(target, &l, &e), 1);
	assert_int_equal(e.n, 2);
	snprintf(want, sizeof(want), "%s/rules/a/up: directory loop (a symbolic link to a parent directory)", root);
	assert_string_equal(e.msgs[0], want);
	snprintf(want, sizeof(want), "%s/rules/b/gone.json: a symbolic link to nothing (dangling)", root);
	assert_string_equal(e.msgs[1], want);
	assert_int_equal(l.n, 6);   /* every file the walk could reach */
	dirwalk_list_clear(&l);
	errlist_clear(&e);
	snprintf(p, sizeof(p), "%s/rules/a/up", root);
	unlink(p);
	snprintf(p, sizeof(p), "%s/rules/b/gone.json", root);
	unlink(p);
	snprintf(p, sizeof(p), "%s/rules/b/gone.txt", root);
	unlink(p);
}

/* A FIFO, a device or a socket named *.json in a directory is reported,
 * never skipped in silence; other names are not the walk's business. */
static void test_special_files_reported(void **state)
{
	struct dirwalk_list l = DIRWALK_LIST_INIT;
	struct errlist e = ERRLIST_INIT;
	char p[700], dir[128], want[800];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/special", root);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(p, sizeof(p), "%s/fifo.json", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	snprintf(p, sizeof(p), "%s/fifo.txt", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	snprintf(p, sizeof(p), "%s/null.json", dir);
	assert_int_equal(symlink("/dev/null", p), 0);
	snprintf(p, sizeof(p), "%s/ok.json", dir);
	assert_int_equal(symlink("../single.json", p), 0);
	assert_int_equal(dirwalk_expand(dir, &l, &e), 1);
	assert_int_equal(e.n, 2);
	snprintf(want, sizeof(want), "%s/fifo.json: not a regular file (a FIFO)", dir);
	assert_string_equal(e.msgs[0], want);
	snprintf(want, sizeof(want), "%s/null.json: not a regular file (a device)", dir);
	assert_string_equal(e.msgs[1], want);
	assert_int_equal(l.n, 1);
	dirwalk_list_clear(&l);
	errlist_clear(&e);
	assert_int_equal(statefile_remove_tree(dir), 0);
}

static void test_depth_limit(void **state)
{
	struct dirwalk_list l = DIRWALK_LIST_INIT;
	struct errlist e = ERRLIST_INIT;
	char p[4096];
	size_t n;

	(void)state;
	n = (size_t)snprintf(p, sizeof(p), "%s/deep", root);
	assert_int_equal(mkdir(p, 0700), 0);
	for (unsigned i = 1; i <= DIRWALK_MAX_DEPTH; i++) {
		n += (size_t)snprintf(p + n, sizeof(p) - n, "/d");
		assert_int_equal(mkdir(p, 0700), 0);
	}
	snprintf(p, sizeof(p), "%s/deep", root);
	assert_int_equal(dirwalk_expand(p, &l, &e), 1);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.msgs[0], "directories nested more than 64 deep"));
	errlist_clear(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_directory_order),
		cmocka_unit_test(test_file_is_itself),
		cmocka_unit_test(test_errors_name_the_path),
		cmocka_unit_test(test_link_loop_and_dangling),
		cmocka_unit_test(test_special_files_reported),
		cmocka_unit_test(test_depth_limit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
