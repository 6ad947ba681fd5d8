/*
 * fuzz_fs_index.c — libFuzzer target for the fs source's index file
 * (sources/fs_internal.h: fs_index_parse, the record writers, fs_log_open).
 *
 * 1. The input as an index: fs_index_parse() reads only inside it (ASan)
 *    and says how long its valid prefix is (the header and whole records);
 *    parsing that prefix alone applies the same records and gives the same
 *    length.
 * 2. The records it applied, written again with the index's own writers,
 *    parse back to the same records and the whole buffer.
 * 3. The input as the index file of a watch (in a temp dir on /dev/shm when
 *    there is one): fs_log_open() applies the same records, leaves the file
 *    cut to the valid prefix (or, when the header is not the index's, moves
 *    it aside and begins a new one), and a second open applies the same.
 * Nothing may crash, leak or trip the sanitizers.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_internal.h"
#include "statefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rec {
	char kind;
	uint64_t seq;
	struct fs_stat st;
	char *key;
};

struct model {
	struct rec *v;
	size_t n, cap;
};

static int push(struct model *m, char kind, const char *key, uint64_t seq, const struct fs_stat *st)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 16;
		struct rec *v = realloc(m->v, cap * sizeof(*v));
		if (!v)
			abort();
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n++] = (struct rec){.kind = kind, .seq = seq, .st = st ? *st : (struct fs_stat){0},
				    .key = key ? strdup(key) : NULL};
	return 0;
}

static int on_put(void *arg, const char *key, size_t len, uint64_t seq, const struct fs_stat *st)
{
	if (strlen(key) != len || len == 0 || len > FS_KEY_MAX)
		abort();
	return push(arg, 'P', key, seq, st);
}

static int on_del(void *arg, const char *key, size_t len, uint64_t seq)
{
	if (strlen(key) != len || len == 0 || len > FS_KEY_MAX)
		abort();
	return push(arg, 'D', key, seq, NULL);
}

static int on_seq(void *arg, uint64_t next)
{
	return push(arg, 'S', NULL, next, NULL);
}

static void model_free(struct model *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].key);
	free(m->v);
	*m = (struct model){0};
}

static bool same(const struct model *a, const struct model *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct rec *x = &a->v[i], *y = &b->v[i];
		if (x->kind != y->kind || x->seq != y->seq || !fs_stat_eq(&x->st, &y->st) ||
		    (x->key == NULL) != (y->key == NULL) || (x->key && strcmp(x->key, y->key) != 0))
			return false;
	}
	return true;
}

static ssize_t parse(const char *buf, size_t len, struct model *m)
{
	struct fs_index_sink sink = {.put = on_put, .del = on_del, .seq = on_seq, .arg = m};

	return fs_index_parse(buf, len, &sink);
}

static void on_disk(const uint8_t *data, size_t size, ssize_t good, const struct model *want)
{
	char dir[] = "/dev/shm/fuzz_fs_index.XXXXXX", alt[] = "/tmp/fuzz_fs_index.XXXXXX";
	char *base = mkdtemp(dir) ? dir : mkdtemp(alt);
	char sub[128], path[192], err[256];

	if (!base)
		abort();
	snprintf(sub, sizeof(sub), "%s/fs", base);
	snprintf(path, sizeof(path), "%s/w.index", sub);
	if (statefile_make_dirs(sub) < 0)
		abort();
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	for (int round = 0; round < 2; round++) {
		struct model got = {0};
		struct fs_index_sink sink = {.put = on_put, .del = on_del, .seq = on_seq, .arg = &got};
		struct fs_log lg;
		if (fs_log_open(&lg, sub, "w", &sink, err, sizeof(err)) != 0)
			abort();
		fs_log_close(&lg);
		struct stat sb;
		if (stat(path, &sb) != 0)
			abort();
		if (good < 0) {
			/* moved aside: a new, empty index */
			if (got.n != 0 || (size_t)sb.st_size != strlen("tripline-fs-index 1\n"))
				abort();
		} else if (!same(&got, want) || (uint64_t)sb.st_size != (uint64_t)good) {
			abort();
		}
		model_free(&got);
		if (good < 0)
			break;
	}
	if (statefile_remove_tree(base) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model a = {0}, b = {0}, c = {0};
	ssize_t good = parse((const char *)data, size, &a);

	if (good >= 0) {
		if ((size_t)good > size)
			abort();
		/* 1. the valid prefix alone */
		if (parse((const char *)data, (size_t)good, &b) != good || !same(&a, &b))
			abort();
		/* 2. written again by the index's own writers */
		struct fs_buf out = {0};
		int r = fs_index_header(&out);
		for (size_t i = 0; r == 0 && i < a.n; i++) {
			const struct rec *x = &a.v[i];
			r = x->kind == 'S' ? fs_index_seq(&out, x->seq)
			    : x->kind == 'P' ? fs_index_put(&out, x->key, x->seq, &x->st)
			    : fs_index_del(&out, x->key, x->seq);
		}
		if (r != 0 || parse(out.p, out.len, &c) != (ssize_t)out.len || !same(&a, &c))
			abort();
		fs_buf_free(&out);
	}
	/* 3. as a watch's index file */
	on_disk(data, size, good, &a);
	model_free(&a);
	model_free(&b);
	model_free(&c);
	return 0;
}
