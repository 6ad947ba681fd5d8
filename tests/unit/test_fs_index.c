/*
 * test_fs_index.c — the fs source's index file (sources/fs_index.c): the
 * records written and read back (keys with newlines and spaces, negative
 * mtimes, the largest numbers), every torn or malformed tail stopping the
 * reader before it, and the log on disk: a torn tail cut at open, a file
 * that is not an index moved aside, appends, and the snapshot replacing it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_internal.h"
#include "statefile.h"

/* What the sink saw, as text: "P seq inode size mtime key|" … */
struct seen {
	char text[8192];
	size_t len;
	int fail_after;   /* put returns -ENOMEM after this many calls (0: never) */
	int calls;
};

static void add(struct seen *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct seen *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	s->len += (size_t)vsnprintf(s->text + s->len, sizeof(s->text) - s->len, fmt, ap);
	va_end(ap);
}

static int put(void *arg, const char *key, size_t len, uint64_t seq, const struct fs_stat *st)
{
	struct seen *s = arg;

	assert_int_equal(strlen(key), len);
	if (s->fail_after && ++s->calls > s->fail_after)
		return -ENOMEM;
	add(s, "P %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 " %s|", seq, st->inode, st->size, st->mtime_ns, key);
	return 0;
}

static int del(void *arg, const char *key, size_t len, uint64_t seq)
{
	struct seen *s = arg;

	assert_int_equal(strlen(key), len);
	add(s, "D %" PRIu64 " %s|", seq, key);
	return 0;
}

static int seq(void *arg, uint64_t next)
{
	add(arg, "S %" PRIu64 "|", next);
	return 0;
}

static ssize_t parse(const char *buf, size_t len, struct seen *s)
{
	struct fs_index_sink sink = {.put = put, .del = del, .seq = seq, .arg = s};

	s->len = 0;
	s->text[0] = '\0';
	return fs_index_parse(buf, len, &sink);
}

static void test_round_trip(void **state)
{
	struct fs_buf b = {0};
	struct seen s = {0};
	struct fs_stat a = {.inode = 12, .size = 0, .mtime_ns = -1500000000};
	struct fs_stat big = {.inode = UINT64_MAX, .size = UINT64_MAX, .mtime_ns = INT64_MIN};
	struct fs_stat top = {.inode = 1, .size = 2, .mtime_ns = INT64_MAX};

	(void)state;
	assert_int_equal(fs_index_header(&b), 0);
	assert_int_equal(fs_index_seq(&b, 4096), 0);
	assert_int_equal(fs_index_put(&b, "raw/2026/cat.jpg", 7, &a), 0);
	assert_int_equal(fs_index_put(&b, "two words\nand a newline", 8, &big), 0);
	assert_int_equal(fs_index_put(&b, "top", UINT64_MAX, &top), 0);
	assert_int_equal(fs_index_del(&b, "raw/2026/cat.jpg", 9), 0);
	assert_int_equal(parse(b.p, b.len, &s), (ssize_t)b.len);
	assert_string_equal(s.text,
			    "S 4096|P 7 12 0 -1500000000 raw/2026/cat.jpg|"
			    "P 8 18446744073709551615 18446744073709551615 -9223372036854775808 two words\nand a newline|"
			    "P 18446744073709551615 1 2 9223372036854775807 top|D 9 raw/2026/cat.jpg|");
	/* a header alone is an empty index */
	assert_int_equal(parse("tripline-fs-index 1\n", 20, &s), 20);
	assert_string_equal(s.text, "");
	fs_buf_free(&b);
}

/* Every prefix of a valid index applies whole records only, and says so. */
static void test_every_torn_tail(void **state)
{
	struct fs_buf b = {0};
	struct seen s = {0};
	struct fs_stat st = {.inode = 3, .size = 4, .mtime_ns = 5};
	size_t ends[8], n_ends = 0;

	(void)state;
	fs_index_header(&b);
	ends[n_ends++] = b.len;
	fs_index_seq(&b, 100);
	ends[n_ends++] = b.len;
	fs_index_put(&b, "a", 1, &st);
	ends[n_ends++] = b.len;
	fs_index_del(&b, "a", 2);
	ends[n_ends++] = b.len;
	fs_index_put(&b, "bb\n", 3, &st);
	ends[n_ends++] = b.len;
	for (size_t len = 0; len <= b.len; len++) {
		ssize_t got = parse(b.p, len, &s);
		if (len < ends[0]) {
			assert_int_equal(got, -EINVAL);
			continue;
		}
		size_t want = 0;
		for (size_t i = 0; i < n_ends; i++)
			if (ends[i] <= len)
				want = ends[i];
		assert_int_equal(got, (ssize_t)want);
	}
	fs_buf_free(&b);
}

static void test_malformed_records_stop_the_reader(void **state)
{
	static const char *const bad[] = {
		"X 1\n",                            /* unknown record */
		"S\n",                              /* no number */
		"S 01\n",                           /* a leading zero */
		"S -1\n",                           /* negative where it cannot be */
		"S 18446744073709551616\n",         /* past 2^64 - 1 */
		"S 1 \n",                           /* trailing space */
		"P 1 2 3 4 0 \n",                   /* an empty key */
		"P 1 2 3 4 5 abc\n",                /* shorter than its length */
		"P 1 2 3 4 3 abcd\n",               /* no newline after the key */
		"P 1 2 3 9223372036854775808 1 a\n",   /* mtime past INT64_MAX */
		"P 1 2 3 -9223372036854775809 1 a\n",  /* mtime below INT64_MIN */
		"P 1 2 3 4 1025 a\n",               /* longer than a key may be */
		"D 1 1 \0\n",                       /* a NUL in the key */
		"D 1 1 a",                          /* torn */
	};
	static const size_t bad_len[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0};
	char buf[256];
	struct seen s = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t rec = bad_len[i] ? bad_len[i] : strlen(bad[i]);
		int head = snprintf(buf, sizeof(buf), "tripline-fs-index 1\nD 1 1 z\n");
		memcpy(buf + head, bad[i], rec);
		memcpy(buf + head + rec, "S 5\n", 4);   /* never reached */
		assert_int_equal(parse(buf, (size_t)head + rec + 4, &s), head);
		assert_string_equal(s.text, "D 1 z|");
	}
	/* not an index at all */
	assert_int_equal(parse("tripline-fs-index 2\n", 20, &s), -EINVAL);
	assert_int_equal(parse("", 0, &s), -EINVAL);
	/* the sink's error stops it */
	s.fail_after = 1;
	const char *two = "tripline-fs-index 1\nP 1 1 1 1 1 a\nP 2 1 1 1 1 b\n";
	assert_int_equal(parse(two, strlen(two), &s), -ENOMEM);
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/test_fs_index.XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	static char buf[1 << 16];

	assert_non_null(f);
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

static void spit(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void test_log_on_disk(void **state)
{
	char *dir = tmpdir(), sub[300], path[400], err[256];
	struct fs_log lg;
	struct seen s = {0};
	struct fs_index_sink sink = {.put = put, .del = del, .seq = seq, .arg = &s};
	struct fs_stat st = {.inode = 1, .size = 2, .mtime_ns = 3};
	size_t len;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/sources/fs", dir);
	snprintf(path, sizeof(path), "%s/uploads.index", sub);
	/* a new index: created with its header */
	assert_int_equal(fs_log_open(&lg, sub, "uploads", &sink, err, sizeof(err)), 0);
	assert_string_equal(slurp(path, &len), "tripline-fs-index 1\n");
	assert_int_equal(fs_index_put(&lg.out, "k", 1, &st), 0);
	assert_int_equal(fs_log_flush(&lg), 0);
	assert_int_equal(lg.out.len, 0);
	fs_log_close(&lg);
	/* a torn tail is cut at open, and appends follow the last whole record */
	FILE *f = fopen(path, "ab");
	fputs("P 2 1 2 3 1", f);
	fclose(f);
	s.len = 0;
	assert_int_equal(fs_log_open(&lg, sub, "uploads", &sink, err, sizeof(err)), 0);
	assert_string_equal(s.text, "P 1 1 2 3 k|");
	assert_int_equal(fs_index_del(&lg.out, "k", 2), 0);
	assert_int_equal(fs_log_flush(&lg), 0);
	assert_string_equal(slurp(path, &len), "tripline-fs-index 1\nP 1 1 2 3 1 k\nD 2 1 k\n");
	/* a snapshot replaces the file */
	struct fs_buf snap = {0};
	fs_index_header(&snap);
	fs_index_seq(&snap, 8192);
	assert_int_equal(fs_log_replace(&lg, &snap), 0);
	fs_index_put(&lg.out, "after", 5, &st);
	assert_int_equal(fs_log_flush(&lg), 0);
	assert_string_equal(slurp(path, &len), "tripline-fs-index 1\nS 8192\nP 5 1 2 3 5 after\n");
	assert_false(fs_log_wants_snapshot(&lg));
	fs_buf_free(&snap);
	fs_log_close(&lg);
	/* not an index: moved aside under corrupt/, and a new one begun */
	spit(path, "garbage\n", 8);
	s.len = 0;
	s.text[0] = '\0';
	assert_int_equal(fs_log_open(&lg, sub, "uploads", &sink, err, sizeof(err)), 0);
	assert_string_equal(s.text, "");
	assert_string_equal(slurp(path, &len), "tripline-fs-index 1\n");
	fs_log_close(&lg);
	char corrupt[400];
	snprintf(corrupt, sizeof(corrupt), "%s/corrupt", sub);
	struct stat sb;
	assert_int_equal(stat(corrupt, &sb), 0);
	assert_int_equal(statefile_remove_tree(dir), 0);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_every_torn_tail),
		cmocka_unit_test(test_malformed_records_stop_the_reader),
		cmocka_unit_test(test_log_on_disk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
