/*
 * lines.h — a line splitter for byte streams: blocks go in as they come
 * (read() from a descriptor, a Kafka message, a decompressor's output),
 * complete lines come out, without copying a line once it is buffered.
 *
 * A line is the bytes before a '\n' (a '\r' before it is kept: callers
 * decide). After lines_finish() (end of input), the bytes after the last
 * '\n', if any, are one more line; an input ending in '\n' has no empty
 * line after it. A line longer than max_line bytes is reported once, in its
 * place, as -E2BIG, and its bytes are dropped as they arrive, so the buffer
 * never holds more than max_line + 1 bytes of one line plus one block.
 *
 * Lifecycle: lines_init() → (lines_read() or lines_feed() or
 * lines_space()/lines_commit(), then lines_next() until it returns 0)… →
 * lines_finish() → lines_next() until 0 → lines_free(). A line returned by
 * lines_next() points into the splitter's buffer and stays valid until the
 * next call that adds input. Nothing here logs; lines_read() is the only
 * function that does I/O.
 *
 * In place: blocks the caller owns (filled by another thread, say) go in
 * with lines_take() instead; lines point into the block, except a line that
 * began in an earlier block, which is put together in the splitter's buffer.
 * The caller may reuse a block once lines_next() has returned 0 for it. One
 * splitter uses one way of adding input.
 */
#ifndef TRIPLINE_COMMON_LINES_H
#define TRIPLINE_COMMON_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Largest block lines_space(), lines_feed() and lines_read() take at once. */
#define LINES_MAX_BLOCK ((size_t)16 << 20)

struct lines {
	char *buf;
	size_t cap;
	size_t start;        /* first byte not yet returned */
	size_t scanned;      /* bytes [start, scanned) hold no '\n' */
	size_t end;          /* bytes [start, end) are buffered input */
	size_t max_line;     /* longest line returned, '\n' excluded */
	bool dropping;       /* inside a line longer than max_line */
	bool finished;       /* lines_finish() was called */
	/* lines_take(): the caller's block, and where the next line starts in it */
	const char *blk;
	size_t blk_pos, blk_len;
	bool joined_out;     /* the last line returned was put together in buf */
	/* lines_take_indexed(): where the block's '\n's are, if the caller knows */
	const uint32_t *nls;
	size_t nnls, nls_pos;
	bool nls_all;        /* nls lists every '\n' of the block, not only the first nnls */
};

/* Sets up an empty splitter for lines of at most max_line bytes. Allocates nothing. */
void lines_init(struct lines *l, size_t max_line);
/* Frees the buffer; l may be reused after lines_init(). Accepts a zeroed struct. */
void lines_free(struct lines *l);

/*
 * Room for at least want (1..LINES_MAX_BLOCK) more bytes of input: returns
 * where to write them and, in *ret_n, how many fit (>= want); lines_commit()
 * then says how many were written. Invalidates lines returned before. NULL
 * on ENOMEM or a want out of range.
 */
char *lines_space(struct lines *l, size_t want, size_t *ret_n);
void lines_commit(struct lines *l, size_t n);

/* Copies n (at most LINES_MAX_BLOCK) bytes of input in. 0, -ENOMEM or -EINVAL. */
int lines_feed(struct lines *l, const void *data, size_t n);

/*
 * Reads up to block (1..LINES_MAX_BLOCK) bytes from fd into the splitter,
 * retrying on EINTR. Returns the bytes read; 0 at end of input, which also
 * calls lines_finish(); or a negative errno (-EAGAIN from a non-blocking fd).
 */
ssize_t lines_read(struct lines *l, int fd, size_t block);

/*
 * In place: the next n bytes of input are block[0..n), which must stay as
 * they are until lines_next() returns 0; only after lines_next() has
 * returned 0 for the previous block.
 */
void lines_take(struct lines *l, const char *block, size_t n);
/*
 * The same, with the offsets of the block's '\n's in ascending order as
 * found by the caller (on another thread, say): all of them when all is
 * set, else the first nnl, the rest being searched for. nl must stay as it
 * is as long as the block.
 */
void lines_take_indexed(struct lines *l, const char *block, size_t n, const uint32_t *nl, size_t nnl,
			bool all);

/* End of input: what follows the last '\n' becomes the last line. */
void lines_finish(struct lines *l);
static inline bool lines_finished(const struct lines *l)
{
	return l->finished;
}

/*
 * The next complete line: returns 1 with *ret_line, *ret_len set (the '\n'
 * excluded); -E2BIG for a line longer than max_line (dropped; the next call
 * goes on after it); 0 when no complete line is buffered — add input, or,
 * after lines_finish(), the input is exhausted; -ENOMEM (lines_take() only)
 * when a line that spans blocks cannot be put together.
 */
int lines_next(struct lines *l, const char **ret_line, size_t *ret_len);

#endif
