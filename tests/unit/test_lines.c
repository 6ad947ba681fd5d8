/*
 * test_lines.c — the line splitter: lines in order, the last line without a
 * newline, empty lines, '\r' and NUL kept, the same lines whatever the block
 * boundaries, lines over the maximum reported once in their place while the
 * buffer stays bounded, reading from a descriptor to the end, and all of it
 * again with blocks handed over in place.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lines.h"

/* What lines_next() gave, one entry per call that returned non-zero. */
struct got {
	char text[64][32];
	size_t len[64];
	int kind[64];      /* 1 a line, -E2BIG too long */
	size_t n;
};

static void drain(struct lines *l, struct got *g)
{
	const char *line;
	size_t len;
	int k;

	while ((k = lines_next(l, &line, &len)) != 0) {
		assert_true(g->n < 64);
		g->kind[g->n] = k;
		g->len[g->n] = 0;
		if (k == 1) {
			assert_true(len < sizeof(g->text[0]));
			memcpy(g->text[g->n], line, len);
			g->len[g->n] = len;
		} else {
			assert_int_equal(k, -E2BIG);
		}
		g->n++;
	}
}

/* How split() hands the blocks over: copied, or in place with no index, all
 * '\n's indexed, or only the first half of them indexed. */
static bool in_place;
static int index_mode;

/*
 * Splits text fed in blocks of `block` bytes (0: all at once), copied in
 * with lines_feed(), or, when in_place, handed over with lines_take() in a
 * block of exactly that size that is scribbled over once it is given back.
 */
static void split(const char *text, size_t n, size_t block, size_t max_line, struct got *g)
{
	struct lines l;

	memset(g, 0, sizeof(*g));
	lines_init(&l, max_line);
	for (size_t off = 0; off < n;) {
		size_t b = block && n - off > block ? block : n - off;
		if (in_place) {
			char *blk = malloc(b);
			assert_non_null(blk);
			memcpy(blk, text + off, b);
			uint32_t nl[64];
			size_t nnl = 0;
			for (size_t i = 0; i < b && nnl < 64; i++)
				if (blk[i] == '\n')
					nl[nnl++] = (uint32_t)i;
			if (index_mode == 0)
				lines_take(&l, blk, b);
			else if (index_mode == 1)
				lines_take_indexed(&l, blk, b, nl, nnl, true);
			else
				lines_take_indexed(&l, blk, b, nl, nnl / 2, false);
			drain(&l, g);
			memset(blk, '#', b);
			free(blk);
		} else {
			assert_int_equal(lines_feed(&l, text + off, b), 0);
			drain(&l, g);
		}
		off += b;
	}
	lines_finish(&l);
	assert_true(lines_finished(&l));
	drain(&l, g);
	/* exhausted: stays so */
	const char *line;
	size_t len;
	assert_int_equal(lines_next(&l, &line, &len), 0);
	lines_free(&l);
}

static void assert_line(const struct got *g, size_t i, const char *want, size_t want_len)
{
	assert_true(i < g->n);
	assert_int_equal(g->kind[i], 1);
	assert_int_equal(g->len[i], want_len);
	assert_memory_equal(g->text[i], want, want_len);
}

static void test_lines_in_order(void **state)
{
	static const char text[] = "a\nbb\n\nccc";
	struct got g;

	(void)state;
	split(text, sizeof(text) - 1, 0, 100, &g);
	assert_int_equal(g.n, 4);
	assert_line(&g, 0, "a", 1);
	assert_line(&g, 1, "bb", 2);
	assert_line(&g, 2, "", 0);          /* an empty line is a line */
	assert_line(&g, 3, "ccc", 3);       /* the last one has no newline */
}

static void test_ends(void **state)
{
	struct got g;

	(void)state;
	split("x\n", 2, 0, 100, &g);        /* no empty line after the last newline */
	assert_int_equal(g.n, 1);
	assert_line(&g, 0, "x", 1);
	split("", 0, 0, 100, &g);
	assert_int_equal(g.n, 0);
	split("\n", 1, 0, 100, &g);
	assert_int_equal(g.n, 1);
	assert_line(&g, 0, "", 0);
	split("\n\n", 2, 1, 100, &g);
	assert_int_equal(g.n, 2);
}

static void test_bytes_kept(void **state)
{
	static const char text[] = "a\r\nb\0c\n\r";
	struct got g;

	(void)state;
	split(text, sizeof(text) - 1, 0, 100, &g);
	assert_int_equal(g.n, 3);
	assert_line(&g, 0, "a\r", 2);       /* '\r' is the caller's business */
	assert_line(&g, 1, "b\0c", 3);
	assert_line(&g, 2, "\r", 1);
}

static void test_any_block_size(void **state)
{
	static const char text[] = "{\"a\":1}\n\nxyz\nlonger line here\nq";
	struct got whole, part;

	(void)state;
	split(text, sizeof(text) - 1, 0, 100, &whole);
	assert_int_equal(whole.n, 5);
	for (size_t block = 1; block < sizeof(text); block++) {
		split(text, sizeof(text) - 1, block, 100, &part);
		assert_int_equal(part.n, whole.n);
		for (size_t i = 0; i < whole.n; i++)
			assert_line(&part, i, whole.text[i], whole.len[i]);
	}
}

static void test_too_long(void **state)
{
	/* max 4: "abcd" fits, "abcde" does not; the line after goes on */
	static const char text[] = "abcd\nabcde\nok\nxxxxxxxxxxxxxxxx\n\nyy";
	struct got g;

	(void)state;
	for (size_t block = 0; block < 8; block++) {
		split(text, sizeof(text) - 1, block, 4, &g);
		assert_int_equal(g.n, 6);
		assert_line(&g, 0, "abcd", 4);
		assert_int_equal(g.kind[1], -E2BIG);
		assert_line(&g, 2, "ok", 2);
		assert_int_equal(g.kind[3], -E2BIG);   /* reported once, however many blocks */
		assert_line(&g, 4, "", 0);
		assert_line(&g, 5, "yy", 2);
	}
	/* a last line over the limit without a newline is reported at the end */
	split("ok\nabcdef", 9, 2, 4, &g);
	assert_int_equal(g.n, 2);
	assert_line(&g, 0, "ok", 2);
	assert_int_equal(g.kind[1], -E2BIG);
}

static void test_bounded_buffer(void **state)
{
	struct lines l;
	char block[1000];
	const char *line;
	size_t len;

	(void)state;
	memset(block, 'x', sizeof(block));
	lines_init(&l, 2000);
	/* a 1,000,000-byte line in 1000-byte blocks: dropped as it comes */
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(lines_feed(&l, block, sizeof(block)), 0);
		assert_int_equal(lines_next(&l, &line, &len), 0);
		assert_true(l.cap <= 4096 * 2);
	}
	assert_int_equal(lines_feed(&l, "\nnext\n", 6), 0);
	assert_int_equal(lines_next(&l, &line, &len), -E2BIG);
	assert_int_equal(lines_next(&l, &line, &len), 1);
	assert_int_equal(len, 4);
	assert_memory_equal(line, "next", 4);
	assert_int_equal(lines_next(&l, &line, &len), 0);
	lines_free(&l);
	lines_free(&l);   /* twice is fine */
}

static void test_space_and_limits(void **state)
{
	struct lines l;
	size_t room;
	char *p;
	const char *line;
	size_t len;

	(void)state;
	lines_init(&l, 100);
	assert_null(lines_space(&l, 0, &room));
	assert_null(lines_space(&l, LINES_MAX_BLOCK + 1, &room));
	assert_int_equal(lines_feed(&l, "x", LINES_MAX_BLOCK + 1), -EINVAL);
	assert_int_equal(lines_feed(&l, "", 0), 0);
	p = lines_space(&l, 10, &room);
	assert_non_null(p);
	assert_true(room >= 10);
	memcpy(p, "hi\nthere\n", 9);
	lines_commit(&l, 9);
	assert_int_equal(lines_next(&l, &line, &len), 1);
	assert_int_equal(len, 2);
	assert_int_equal(lines_next(&l, &line, &len), 1);
	assert_int_equal(len, 5);
	assert_memory_equal(line, "there", 5);
	assert_int_equal(lines_next(&l, &line, &len), 0);
	lines_free(&l);
}

static void test_read_fd(void **state)
{
	static const char text[] = "one\ntwo\n\nthree";
	struct lines l;
	int fds[2];
	const char *line;
	size_t len;
	size_t n = 0;
	ssize_t got;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fds[1]);
	lines_init(&l, 100);
	assert_int_equal(lines_read(&l, fds[0], 0), -EINVAL);
	/* small reads: lines cross block boundaries */
	do {
		got = lines_read(&l, fds[0], 3);
		assert_true(got >= 0);
		while (lines_next(&l, &line, &len) == 1)
			n++;
	} while (got > 0);
	assert_true(lines_finished(&l));
	assert_int_equal(n, 4);
	close(fds[0]);
	lines_free(&l);
	/* a read error comes back as a negative errno */
	lines_init(&l, 100);
	assert_int_equal(lines_read(&l, -1, 10), -EBADF);
	assert_false(lines_finished(&l));
	lines_free(&l);
}

/*
 * The same answers in place, whatever the block boundaries (the tests above,
 * again), with the newlines found by the splitter, all given, or some given.
 */
static void test_in_place(void **state)
{
	in_place = true;
	for (index_mode = 0; index_mode < 3; index_mode++) {
		test_lines_in_order(state);
		test_ends(state);
		test_bytes_kept(state);
		test_any_block_size(state);
		test_too_long(state);
	}
	index_mode = 0;
	in_place = false;
}

/* In place, a line longer than the limit spread over many blocks keeps the buffer small. */
static void test_in_place_bounded(void **state)
{
	struct lines l;
	char block[1000];
	const char *line;
	size_t len;

	(void)state;
	memset(block, 'x', sizeof(block));
	lines_init(&l, 2000);
	for (int i = 0; i < 1000; i++) {
		lines_take(&l, block, sizeof(block));
		assert_int_equal(lines_next(&l, &line, &len), 0);
		assert_true(l.cap <= 4096);
	}
	lines_take(&l, "\nnext\npart", 10);
	assert_int_equal(lines_next(&l, &line, &len), -E2BIG);
	assert_int_equal(lines_next(&l, &line, &len), 1);
	assert_int_equal(len, 4);
	assert_memory_equal(line, "next", 4);
	assert_int_equal(lines_next(&l, &line, &len), 0);
	lines_take(&l, "ial\n", 4);
	assert_int_equal(lines_next(&l, &line, &len), 1);   /* put together from two blocks */
	assert_int_equal(len, 7);
	assert_memory_equal(line, "partial", 7);
	assert_int_equal(lines_next(&l, &line, &len), 0);
	lines_finish(&l);
	assert_int_equal(lines_next(&l, &line, &len), 0);
	lines_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_in_order),
		cmocka_unit_test(test_ends),
		cmocka_unit_test(test_bytes_kept),
		cmocka_unit_test(test_any_block_size),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_bounded_buffer),
		cmocka_unit_test(test_space_and_limits),
		cmocka_unit_test(test_read_fd),
		cmocka_unit_test(test_in_place),
		cmocka_unit_test(test_in_place_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
