/*
 * journal_read.c — the journal's record codec: CRC32C, the writers of the
 * segment header and of the three records, and the reader that checks them
 * (journal_int.h; the format is in journal.c's opening comment).
 *
 * The reader trusts nothing: a length is checked against what is left of
 * the buffer and against JOURNAL_MAX_PAYLOAD before anything is read past
 * it, the CRC before any field, then the type, the zero padding, the
 * sequence number (never 0) and, inside an EVENT or DONE payload, that the
 * lengths add up to the payload's and that every string ends with its NUL
 * where its length says (id, bus and the DONE key hold no other NUL). The
 * first record failing any check ends the scan. Pure code: the fuzz target
 * feeds it arbitrary bytes.
 */
#include <pthread.h>
#include <string.h>

#include "journal_int.h"

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

/* Slicing by 8: eight table look-ups per eight bytes. */
#if defined(__x86_64__)
#include <nmmintrin.h>

/* The same CRC with SSE4.2's crc32 instruction (the CRC32C polynomial),
 * eight bytes at a time: about ten times the tables' speed. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = ~crc;

	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#endif

uint32_t journal_crc32c(uint32_t crc, const void *buf, size_t len)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return crc32c_sse42(crc, buf, len);
#endif
	return journal_crc32c_tables(crc, buf, len);
}

uint32_t journal_crc32c_tables(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (len >= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;

		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^
		      crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		      crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

size_t journal_rec_event_size(const struct journal_event *ev)
{
	size_t id_len = strlen(ev->id), bus_len = strlen(ev->bus);

	if (id_len > JOURNAL_MAX_NAME || bus_len > JOURNAL_MAX_NAME ||
	    ev->len > JOURNAL_MAX_PAYLOAD - JOURNAL_EVENT_FIXED - 2 * JOURNAL_MAX_NAME - 3)
		return 0;
	return JOURNAL_REC_HDR + JOURNAL_EVENT_FIXED + id_len + 1 + bus_len + 1 + ev->len + 1;
}

size_t journal_rec_done_size(size_t key_len)
{
	return key_len > JOURNAL_MAX_NAME ? 0 : JOURNAL_REC_HDR + key_len + 1;
}

void journal_put_seg_header(uint8_t dst[JOURNAL_SEG_HDR], uint64_t base_seq)
{
	memcpy(dst, JOURNAL_SEG_MAGIC, 8);
	put64(dst + 8, base_seq);
	put32(dst + 16, 0);
	put32(dst + 20, journal_crc32c(0, dst, 20));
}

/* The header of a record whose payload is already at dst + JOURNAL_REC_HDR. */
static void put_rec_header(uint8_t *dst, enum journal_rec_type type, uint64_t seq, size_t payload)
{
	put32(dst + 4, (uint32_t)payload);
	dst[8] = (uint8_t)type;
	dst[9] = dst[10] = dst[11] = 0;
	put64(dst + 12, seq);
	put32(dst, journal_crc32c(0, dst + 4, JOURNAL_REC_HDR - 4 + payload));
}

void journal_put_event(uint8_t *dst, uint64_t seq, const struct journal_event *ev)
{
	size_t id_len = strlen(ev->id), bus_len = strlen(ev->bus);
	uint8_t *p = dst + JOURNAL_REC_HDR;

	put32(p, ev->depth);
	put64(p + 4, ev->ingest_wall_ms);
	put32(p + 12, (uint32_t)id_len);
	put32(p + 16, (uint32_t)bus_len);
	put32(p + 20, (uint32_t)ev->len);
	p += JOURNAL_EVENT_FIXED;
	memcpy(p, ev->id, id_len + 1);
	p += id_len + 1;
	memcpy(p, ev->bus, bus_len + 1);
	p += bus_len + 1;
	if (ev->len)
		memcpy(p, ev->json, ev->len);
	p[ev->len] = '\0';
	put_rec_header(dst, JOURNAL_REC_EVENT, seq, (size_t)(p + ev->len + 1 - dst) - JOURNAL_REC_HDR);
}

void journal_put_done(uint8_t *dst, uint64_t seq, const char *key, size_t key_len)
{
	memcpy(dst + JOURNAL_REC_HDR, key, key_len);
	dst[JOURNAL_REC_HDR + key_len] = '\0';
	put_rec_header(dst, JOURNAL_REC_DONE, seq, key_len + 1);
}

void journal_put_complete(uint8_t *dst, uint64_t seq)
{
	put_rec_header(dst, JOURNAL_REC_COMPLETE, seq, 0);
}

/* A string of len bytes at p followed by its NUL, and (text) no NUL inside. */
static bool string_ok(const uint8_t *p, size_t len, bool text)
{
	return p[len] == '\0' && (!text || memchr(p, '\0', len) == NULL);
}

static bool decode_event(const uint8_t *p, size_t len, struct journal_event *ev)
{
	uint64_t id_len, bus_len, json_len;

	if (len < JOURNAL_EVENT_FIXED)
		return false;
	ev->depth = get32(p);
	ev->ingest_wall_ms = get64(p + 4);
	id_len = get32(p + 12);
	bus_len = get32(p + 16);
	json_len = get32(p + 20);
	/* 64-bit sums of 32-bit lengths cannot overflow */
	if (id_len > JOURNAL_MAX_NAME || bus_len > JOURNAL_MAX_NAME ||
	    JOURNAL_EVENT_FIXED + id_len + 1 + bus_len + 1 + json_len + 1 != len)
		return false;
	p += JOURNAL_EVENT_FIXED;
	if (!string_ok(p, id_len, true))
		return false;
	ev->id = (const char *)p;
	p += id_len + 1;
	if (!string_ok(p, bus_len, true))
		return false;
	ev->bus = (const char *)p;
	p += bus_len + 1;
	if (!string_ok(p, json_len, false))
		return false;
	ev->json = (const char *)p;
	ev->len = json_len;
	return true;
}

size_t journal_rec_decode(const uint8_t *buf, size_t avail, struct journal_rec *rec)
{
	uint32_t len;
	const uint8_t *payload = buf + JOURNAL_REC_HDR;

	if (avail < JOURNAL_REC_HDR)
		return 0;
	len = get32(buf + 4);
	if (len > JOURNAL_MAX_PAYLOAD || len > avail - JOURNAL_REC_HDR)
		return 0;
	if (journal_crc32c(0, buf + 4, JOURNAL_REC_HDR - 4 + (size_t)len) != get32(buf))
		return 0;
	if (buf[9] || buf[10] || buf[11])
		return 0;
	memset(rec, 0, sizeof(*rec));
	rec->seq = get64(buf + 12);
	rec->size = JOURNAL_REC_HDR + (size_t)len;
	if (rec->seq == 0)
		return 0;
	switch (buf[8]) {
	case JOURNAL_REC_EVENT:
		rec->type = JOURNAL_REC_EVENT;
		if (!decode_event(payload, len, &rec->ev))
			return 0;
		break;
	case JOURNAL_REC_DONE:
		rec->type = JOURNAL_REC_DONE;
		if (len < 1 || len - 1 > JOURNAL_MAX_NAME || !string_ok(payload, len - 1, true))
			return 0;
		rec->key = (const char *)payload;
		rec->key_len = len - 1;
		break;
	case JOURNAL_REC_COMPLETE:
		rec->type = JOURNAL_REC_COMPLETE;
		if (len != 0)
			return 0;
		break;
	default:
		return 0;
	}
	return rec->size;
}

int journal_scan_buffer(const uint8_t *buf, size_t len, uint64_t *base_seq, size_t *valid_len,
			journal_rec_fn fn, void *arg)
{
	size_t off = JOURNAL_SEG_HDR;

	*base_seq = 0;
	*valid_len = 0;
	if (len < JOURNAL_SEG_HDR || memcmp(buf, JOURNAL_SEG_MAGIC, 8) != 0 || get32(buf + 16) != 0 ||
	    journal_crc32c(0, buf, 20) != get32(buf + 20))
		return 0;
	*base_seq = get64(buf + 8);
	*valid_len = off;
	while (off < len) {
		struct journal_rec rec;
		size_t n = journal_rec_decode(buf + off, len - off, &rec);
		int r;

		if (n == 0)
			break;
		rec.off = off;
		if (fn != NULL && (r = fn(arg, &rec)) != 0)
			return r;
		off += n;
		*valid_len = off;
	}
	return 0;
}
