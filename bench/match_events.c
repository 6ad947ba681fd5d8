/*
 * match_events.c — match_bench's event stream: the events file read whole
 * into one buffer, one span per non-empty line.
 *
 * gzread() decompresses a gzip file and passes a plain one through, so both
 * are read the same way, into a buffer that doubles up to MAX_EVENTS_BYTES.
 * The lines are then indexed (a trailing '\r' dropped, empty lines skipped),
 * so that the timed passes only hand spans of the buffer to the matcher and
 * no I/O is timed. The whole file is read even under a limit, so
 * lines_in_file is exact.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "match_bench.h"

#define MAX_EVENTS_BYTES ((size_t)4 << 30)

/*
 * Reads the events file (gzip or plain: gzread passes plain files through)
 * and indexes its non-empty lines, up to `limit` of them (0: all). The whole
 * file is decompressed even under a limit, so lines_in_file is exact.
 */
int mb_events_load(const char *path, size_t limit, struct event_stream *ret)
{
	gzFile gz;
	char *buf = NULL;
	size_t len = 0, cap = 0, nev = 0, cap_ev = 0, lines = 0, bytes = 0;
	struct event_span *ev = NULL;
	size_t pos;
	int ret_code;

	errno = 0;
	gz = gzopen(path, "rb");
	if (gz == NULL) {
		fprintf(stderr, "match_bench: %s: %s\n", path, errno ? strerror(errno) : "cannot open");
		return -ENOENT;
	}
	gzbuffer(gz, 1u << 18);
	for (;;) {
		int got;
		size_t want;

		if (cap - len < ((size_t)1 << 20)) {
			size_t ncap = cap ? cap * 2 : ((size_t)64 << 20);
			char *nbuf;

			if (ncap > MAX_EVENTS_BYTES + 2)
				ncap = MAX_EVENTS_BYTES + 2;   /* room to notice one byte too many */
			if (ncap <= len + 1) {
				fprintf(stderr, "match_bench: %s: more than %zu bytes\n", path, MAX_EVENTS_BYTES);
				ret_code = -EFBIG;
				goto out_free;
			}
			nbuf = realloc(buf, ncap);
			if (nbuf == NULL) {
				fprintf(stderr, "match_bench: %s: out of memory\n", path);
				ret_code = -ENOMEM;
				goto out_free;
			}
			buf = nbuf;
			cap = ncap;
		}
		want = cap - len - 1;
		if (want > ((size_t)1 << 30))
			want = (size_t)1 << 30;
		got = gzread(gz, buf + len, (unsigned)want);
		if (got < 0) {
			int zerr;

			fprintf(stderr, "match_bench: %s: %s\n", path, gzerror(gz, &zerr));
			ret_code = -EIO;
			goto out_free;
		}
		if (got == 0)
			break;
		len += (size_t)got;
		if (len > MAX_EVENTS_BYTES) {
			fprintf(stderr, "match_bench: %s: more than %zu bytes\n", path, MAX_EVENTS_BYTES);
			ret_code = -EFBIG;
			goto out_free;
		}
	}
	buf[len] = '\0';

	for (pos = 0; pos < len;) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;
		size_t l = end - pos;

		if (l > 0 && buf[pos + l - 1] == '\r')
			l--;
		if (l > 0) {
			lines++;
			if (limit == 0 || nev < limit) {
				if (nev == cap_ev) {
					size_t ncap = cap_ev ? cap_ev * 2 : 262144;
					struct event_span *nv = realloc(ev, ncap * sizeof(*ev));

					if (nv == NULL) {
						fprintf(stderr, "match_bench: %s: out of memory\n", path);
						ret_code = -ENOMEM;
						goto out_free;
					}
					ev = nv;
					cap_ev = ncap;
				}
				ev[nev].off = pos;
				ev[nev].len = l;
				bytes += l;
				nev++;
			}
		}
		pos = end + 1;
	}
	gzclose(gz);
	if (nev == 0) {
		fprintf(stderr, "match_bench: %s: no events\n", path);
		free(ev);
		free(buf);
		return -EINVAL;
	}
	ret->buf = buf;
	ret->buf_len = len;
	ret->n = nev;
	ret->ev = ev;
	ret->bytes = bytes;
	ret->lines_in_file = lines;
	return 0;

out_free:
	free(ev);
	free(buf);
	gzclose(gz);
	return ret_code;
}

void mb_events_free(struct event_stream *s)
{
	free(s->ev);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}
