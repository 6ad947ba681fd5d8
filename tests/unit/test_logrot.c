/*
 * test_logrot.c — the size-bounded log file (logrot.h) on a real directory:
 * no file ever passes the bound (a write straddling it is split, and one
 * many times the bound fills every kept file exactly), rotation renames
 * .log → .1 → … → .keep and drops the oldest, the bytes stay in order
 * across the files, someone else's appends are counted, keep 0 drops the
 * old file, max 0 never rotates, a dropped file can be left open for
 * another thread to close, and a path too long is refused.
 * (That the current file never goes missing is tests/orch/test_logs.py's:
 * it reads it while a burst rotates it.)
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

#include "logrot.h"

static char root[64];
static char path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/tripline-logrot-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(path, sizeof(path), "%s/c.log", root);
	return 0;
}

static int teardown(void **state)
{
	char p[160];
	(void)state;
	unlink(path);
	for (int k = 1; k <= 5; k++) {
		snprintf(p, sizeof(p), "%s.%d", path, k);
		unlink(p);
	}
	return rmdir(root);
}

/* Size of path.k (k 0: path), -1 when it does not exist. */
static long long size_of(int k)
{
	char p[160];
	struct stat st;

	if (k)
		snprintf(p, sizeof(p), "%s.%d", path, k);
	else
		snprintf(p, sizeof(p), "%s", path);
	return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

/* The whole of path.k into buf; its length. */
static size_t read_all(int k, char *buf, size_t cap)
{
	char p[160];
	snprintf(p, sizeof(p), k ? "%s.%d" : "%s", path, k);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, cap);
	assert_true(n >= 0);
	close(fd);
	return (size_t)n;
}

static void test_within_the_bound_no_rotation(void **state)
{
	struct logrot l;
	(void)state;
	assert_int_equal(logrot_open(&l, path, 100, 3), 0);
	assert_int_equal(logrot_write(&l, "hello\n", 6), 6);
	assert_int_equal(logrot_write(&l, "world\n", 6), 6);
	logrot_close(&l);
	assert_int_equal(size_of(0), 12);
	assert_int_equal(size_of(1), -1);
	assert_int_equal(l.rotations, 0);
	/* reopened, it appends */
	assert_int_equal(logrot_open(&l, path, 100, 3), 0);
	assert_int_equal(logrot_write(&l, "again\n", 6), 6);
	logrot_close(&l);
	assert_int_equal(size_of(0), 18);
}

static void test_a_straddling_write_is_split_at_the_bound(void **state)
{
	struct logrot l;
	char buf[64];
	(void)state;
	assert_int_equal(logrot_open(&l, path, 10, 3), 0);
	assert_int_equal(logrot_write(&l, "0123456", 7), 7);
	assert_int_equal(logrot_write(&l, "789abcdef", 9), 9);
	logrot_close(&l);
	assert_int_equal(size_of(1), 10);
	assert_int_equal(size_of(0), 6);
	assert_int_equal(read_all(1, buf, sizeof(buf)), 10);
	assert_memory_equal(buf, "0123456789", 10);
	assert_int_equal(read_all(0, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "abcdef", 6);
	/* exactly at the bound: the next byte rotates first */
	assert_int_equal(logrot_open(&l, path, 6, 3), 0);
	assert_int_equal(logrot_write(&l, "X", 1), 1);
	logrot_close(&l);
	assert_int_equal(size_of(0), 1);
	assert_int_equal(size_of(1), 6);
	assert_int_equal(size_of(2), 10);
}

static void test_one_huge_write_fills_every_kept_file(void **state)
{
	struct logrot l;
	char big[1000], buf[128];
	(void)state;
	/* 1000 bytes, bound 100, keep 3: .3 .2 .1 .log hold the last 400 */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('A' + i / 100);   /* 'A' × 100, 'B' × 100, … 'J' */
	assert_int_equal(logrot_open(&l, path, 100, 3), 0);
	assert_int_equal(logrot_write(&l, big, sizeof(big)), (ssize_t)sizeof(big));
	logrot_close(&l);
	assert_int_equal(l.rotations, 9);
	const char want[] = {'J', 'I', 'H', 'G'};   /* .log, .1, .2, .3 */
	for (int k = 0; k <= 3; k++) {
		assert_int_equal(read_all(k, buf, sizeof(buf)), 100);
		for (int i = 0; i < 100; i++)
			assert_int_equal(buf[i], want[k]);
	}
	assert_int_equal(size_of(4), -1);
	char fresh[160];
	snprintf(fresh, sizeof(fresh), "%s.new", path);
	assert_int_equal(access(fresh, F_OK), -1);   /* the new file took the path's place */
}

static void test_another_writer_is_counted(void **state)
{
	struct logrot l;
	(void)state;
	assert_int_equal(logrot_open(&l, path, 10, 3), 0);
	/* a probe appends through its own descriptor */
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "probe!!", 7), 7);
	close(fd);
	assert_int_equal(logrot_write(&l, "abcdef", 6), 6);
	logrot_close(&l);
	assert_int_equal(size_of(1), 10);
	assert_int_equal(size_of(0), 3);
}

static void test_keep_zero_and_no_bound(void **state)
{
	struct logrot l;
	char buf[4096];
	(void)state;
	assert_int_equal(logrot_open(&l, path, 4, 0), 0);
	assert_int_equal(logrot_write(&l, "abcdefghij", 10), 10);
	logrot_close(&l);
	assert_int_equal(size_of(1), -1);
	assert_int_equal(read_all(0, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "ij", 2);
	unlink(path);

	memset(buf, 'z', sizeof(buf));
	assert_int_equal(logrot_open(&l, path, 0, 3), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(logrot_write(&l, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	logrot_close(&l);
	assert_int_equal(size_of(0), 10 * 4096);
	assert_int_equal(size_of(1), -1);
}

static void test_the_dropped_file_can_be_closed_elsewhere(void **state)
{
	struct logrot l;
	char buf[16];
	(void)state;
	assert_int_equal(logrot_open(&l, path, 4, 1), 0);
	l.defer_drop = true;
	assert_int_equal(logrot_write(&l, "aaaabbbb", 8), 8);   /* .1 = aaaa, .log = bbbb */
	assert_int_equal(logrot_take_dropped(&l), -1);          /* nothing dropped yet */
	assert_int_equal(logrot_write(&l, "cc", 2), 2);         /* aaaa dropped */
	int fd = logrot_take_dropped(&l);
	assert_true(fd >= 0);
	assert_int_equal(logrot_take_dropped(&l), -1);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), 4);    /* still open, unlinked */
	assert_memory_equal(buf, "aaaa", 4);
	close(fd);
	assert_int_equal(read_all(1, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "bbbb", 4);
	assert_int_equal(read_all(0, buf, sizeof(buf)), 2);
	/* one not taken is closed with the writer */
	assert_int_equal(logrot_write(&l, "dddd", 4), 4);
	logrot_close(&l);
	assert_int_equal(l.dropped_fd, -1);
}

static void test_bad_paths(void **state)
{
	struct logrot l;
	char longp[LOGROT_PATH_MAX + 8];
	char p[160];
	(void)state;
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(logrot_open(&l, longp, 10, 3), -EINVAL);
	assert_int_equal(l.fd, -1);
	logrot_close(&l);
	snprintf(p, sizeof(p), "%s/missing/c.log", root);
	assert_int_equal(logrot_open(&l, p, 10, 3), -ENOENT);
	/* a writer that could not open tries again on its next write */
	assert_int_equal(logrot_write(&l, "x", 1), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_within_the_bound_no_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_straddling_write_is_split_at_the_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_huge_write_fills_every_kept_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_another_writer_is_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_zero_and_no_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_the_dropped_file_can_be_closed_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_paths, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
