/*
 * journal_int.h — the journal's on-disk records (journal.c's opening comment
 * has the format), shared by the writer (journal.c), the reader
 * (journal_read.c), the metrics glue, the unit test, the fuzz target and the
 * benchmark. Not for the rest of the daemon: it uses journal.h.
 *
 * journal_scan_buffer() reads a segment's bytes as they are on disk: the
 * segment header, then records, each checked (length, CRC32C, type, the
 * fields inside) before it is handed over; the first one that fails ends
 * the valid prefix, whose length it returns — what follows is a torn or
 * corrupt tail, to be cut, never read. Pure code: no I/O, no allocation.
 */
#ifndef TRIPLINE_ENGINE_JOURNAL_INT_H
#define TRIPLINE_ENGINE_JOURNAL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"

#define JOURNAL_SEG_MAGIC "TRPLJNL1"
#define JOURNAL_SEG_HDR 24u          /* magic[8], base_seq u64, reserved u32 (0), crc u32 */
#define JOURNAL_REC_HDR 20u          /* crc u32, len u32, type u8, 3 zero bytes, seq u64 */
#define JOURNAL_EVENT_FIXED 24u      /* depth u32, wall_ms u64, id_len, bus_len, json_len u32 */
#define JOURNAL_MAX_PAYLOAD (64u << 20) /* a longer record is refused (writer) or corrupt (reader) */
#define JOURNAL_MAX_NAME 4096u       /* id, bus, and DONE keys */

enum journal_rec_type {
	JOURNAL_REC_EVENT = 1,
	JOURNAL_REC_DONE = 2,
	JOURNAL_REC_COMPLETE = 3,
};

/* One decoded record; pointers into the scanned buffer, each string
 * NUL-terminated there. */
struct journal_rec {
	enum journal_rec_type type;
	uint64_t seq;
	size_t off;                  /* where the record starts in the buffer */
	size_t size;                 /* header + payload */
	struct journal_event ev;     /* EVENT */
	const char *key;             /* DONE: "RULE\nTARGET" */
	size_t key_len;
};

/* CRC32C (Castagnoli), the usual initial value and final xor; crc is the
 * value of the bytes before (0 to start). */
uint32_t journal_crc32c(uint32_t crc, const void *buf, size_t len);
/* The same from tables (slicing by 8), what journal_crc32c() uses without SSE4.2. */
uint32_t journal_crc32c_tables(uint32_t crc, const void *buf, size_t len);

/* Record sizes, 0 when a field is over its limit. */
size_t journal_rec_event_size(const struct journal_event *ev);
size_t journal_rec_done_size(size_t key_len);
#define JOURNAL_REC_COMPLETE_SIZE JOURNAL_REC_HDR

/* Writers: each fills exactly the size above at dst. */
void journal_put_seg_header(uint8_t dst[JOURNAL_SEG_HDR], uint64_t base_seq);
void journal_put_event(uint8_t *dst, uint64_t seq, const struct journal_event *ev);
void journal_put_done(uint8_t *dst, uint64_t seq, const char *key, size_t key_len);
void journal_put_complete(uint8_t *dst, uint64_t seq);

/* Decodes the record at buf[0..avail): its size (> 0) and *rec (off 0), or
 * 0 when it is torn, corrupt or not a record. */
size_t journal_rec_decode(const uint8_t *buf, size_t avail, struct journal_rec *rec);

/* Called for each valid record in order; non-zero stops the scan. */
typedef int (*journal_rec_fn)(void *arg, const struct journal_rec *rec);

/*
 * Scans a segment image. *valid_len: the length of the valid prefix (0 when
 * the header itself is bad; a header alone is JOURNAL_SEG_HDR); *base_seq:
 * the header's first sequence number (0 with a bad header). Returns 0, or
 * what fn returned to stop (then *valid_len is where it stopped).
 */
int journal_scan_buffer(const uint8_t *buf, size_t len, uint64_t *base_seq, size_t *valid_len,
			journal_rec_fn fn, void *arg);

/* What the journal has done, for its metrics, tests and the benchmark. */
struct journal_stats {
	uint64_t fsyncs;             /* completed fsyncs (none with no_fsync) */
	uint64_t fsync_failures;
	uint64_t synced_seq;         /* the highest sequence a completed fsync covered */
	uint64_t written_seq;        /* the highest sequence written */
	uint64_t appended_ok;        /* events durable */
	uint64_t appended_full;      /* events refused: -ENOSPC */
	uint64_t appended_error;     /* events refused or not durable: -EIO, -ENOMEM */
	uint64_t cut_bytes;          /* torn or corrupt bytes cut at open */
	uint64_t copied_events;      /* events copied forward by compaction */
	uint64_t segments;           /* segment files now */
	uint64_t disk_bytes;         /* their bytes */
	uint64_t fsync_ns_last;      /* duration of the last fsync (all its files) */
};
void journal_get_stats(const struct journal *j, struct journal_stats *ret);

#endif
