/*
 * journal_open.c — opening a journal directory (journal.h): the segment
 * files are read in order (journal.c's opening comment has the format and
 * the rules), each through journal_scan_buffer(), into the index of live
 * events; a torn or corrupt tail is truncated and counted, a segment with a
 * bad header and every one left without a live record removed — after the
 * new active segment and the directory are fsync'd, so the next sequence
 * number (in its header) is durable first. Then every live event is read
 * back from its file (its checksum checked again) and handed to the
 * caller in sequence order with its done set.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal_state.h"
#include "logger.h"
#include "statefile.h"

struct open_scan {
	struct journal *j;
	struct jseg *seg;
};

static int scan_record(void *arg, const struct journal_rec *rec)
{
	struct open_scan *os = arg;
	struct journal *j = os->j;
	struct jlive *l;

	if (rec->seq >= j->next_seq)
		j->next_seq = rec->seq + 1;
	l = journal_index_find(j, rec->seq);
	switch (rec->type) {
	case JOURNAL_REC_EVENT:
		if (l != NULL) {
			journal_seg_unref(j, l->seg, l->size);
		} else {
			if (journal_index_reserve(j, 1) < 0 || (l = calloc(1, sizeof(*l))) == NULL)
				return -ENOMEM;
			l->seq = rec->seq;
			journal_index_insert(j, l);
		}
		l->seg = os->seg;
		l->off = rec->off;
		l->size = (uint32_t)rec->size;
		journal_seg_ref(j, os->seg, l->size);
		break;
	case JOURNAL_REC_DONE:
		if (l != NULL && journal_done_set(j, l, rec->key, os->seg, (uint32_t)rec->size) < 0)
			return -ENOMEM;
		break;
	case JOURNAL_REC_COMPLETE:
		if (l != NULL)
			journal_event_drop(j, l);
		break;
	}
	return 0;
}

/* Reads segment num into the journal; a bad one is removed, a torn tail cut. */
static int load_segment(struct journal *j, uint64_t num, char *err, size_t errlen)
{
	struct open_scan os = { .j = j };
	char name[32];
	struct stat st;
	uint8_t *buf = NULL;
	uint64_t base;
	size_t valid;
	int fd, r;

	journal_seg_name(name, sizeof(name), num);
	fd = openat(j->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "journal: %s: %s", name, strerror(-r));
		goto out;
	}
	if (st.st_size > 0 && (buf = malloc((size_t)st.st_size)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	r = journal_pread_all(fd, buf, (size_t)st.st_size, 0);
	if (r < 0) {
		snprintf(err, errlen, "journal: %s: %s", name, strerror(-r));
		goto out;
	}
	os.seg = calloc(1, sizeof(*os.seg));
	if (os.seg == NULL || journal_seg_push(j, os.seg) < 0) {
		free(os.seg);
		r = -ENOMEM;
		goto out;
	}
	os.seg->num = num;
	os.seg->fd = fd;
	fd = -1;
	r = journal_scan_buffer(buf, (size_t)st.st_size, &base, &valid, scan_record, &os);
	if (r < 0) {
		snprintf(err, errlen, "journal: %s: %s", name, strerror(-r));
		goto out;
	}
	if (base > j->next_seq)
		j->next_seq = base;
	os.seg->size = valid;
	j->stats.disk_bytes += valid;
	if (valid < (uint64_t)st.st_size) {
		j->stats.cut_bytes += (uint64_t)st.st_size - valid;
		log_warn("journal", "%s: torn or corrupt after byte %zu of %jd: cut there", name, valid,
			 (intmax_t)st.st_size);
		if (valid > 0 && ftruncate(os.seg->fd, (off_t)valid) < 0)
			log_warn("journal", "%s: cannot truncate: %s", name, strerror(errno));
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The numbers of the segment files in the directory, sorted. */
static int list_segments(struct journal *j, uint64_t **ret, size_t *n_ret)
{
	int fd = dup(j->dirfd);
	uint64_t *nums = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		char *end;
		uint64_t num;

		if (strlen(de->d_name) != 20 || strcmp(de->d_name + 16, ".seg") != 0 ||
		    strspn(de->d_name, "0123456789abcdef") != 16)
			continue;
		num = strtoull(de->d_name, &end, 16);
		if (n == cap) {
			uint64_t *more = realloc(nums, (cap = cap ? cap * 2 : 64) * sizeof(*nums));

			if (more == NULL) {
				free(nums);
				closedir(d);
				return -ENOMEM;
			}
			nums = more;
		}
		nums[n++] = num;
	}
	closedir(d);
	if (n)
		qsort(nums, n, sizeof(*nums), cmp_u64);
	*ret = nums;
	*n_ret = n;
	return 0;
}

static int cmp_live(const void *a, const void *b)
{
	return cmp_u64(&(*(struct jlive *const *)a)->seq, &(*(struct jlive *const *)b)->seq);
}

/* Calls fn for every live event in sequence order, each read back. */
static int replay(struct journal *j, void (*fn)(void *arg, const struct journal_replayed *ev), void *arg,
		  char *err, size_t errlen)
{
	struct jlive **all = NULL;
	const char **done = NULL;
	size_t n = 0, max_done = 0;
	int r = 0;

	if (j->n_live == 0 || fn == NULL)
		return 0;
	all = malloc(j->n_live * sizeof(*all));
	if (all == NULL)
		return -ENOMEM;
	for (size_t b = 0; b < j->n_buckets; b++)
		for (struct jlive *l = j->buckets[b]; l != NULL; l = l->next) {
			all[n++] = l;
			if (l->n_done > max_done)
				max_done = l->n_done;
		}
	qsort(all, n, sizeof(*all), cmp_live);
	done = calloc(max_done + 1, sizeof(*done));
	if (done == NULL)
		r = -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct jlive *l = all[i];
		struct journal_replayed ev = { .seq = l->seq, .done = done, .n_done = l->n_done };
		struct journal_rec rec;

		r = journal_buf_reserve(j, l->size);
		if (r == 0)
			r = journal_pread_all(l->seg->fd, j->buf, l->size, l->off);
		if (r == 0 && (journal_rec_decode(j->buf, l->size, &rec) != l->size || rec.seq != l->seq))
			r = -EIO;
		if (r < 0) {
			snprintf(err, errlen, "journal: cannot read back event %" PRIu64 " of segment %016" PRIx64,
				 l->seq, l->seg->num);
			break;
		}
		for (size_t k = 0; k < l->n_done; k++)
			done[k] = l->done[k].key;
		ev.ev = rec.ev;
		fn(arg, &ev);
	}
	free(done);
	free(all);
	return r;
}

int journal_open(uv_loop_t *loop, const struct journal_config *cfg,
		 void (*fn)(void *arg, const struct journal_replayed *ev), void *arg, struct journal **ret,
		 char *err, size_t errlen)
{
	struct journal *j;
	uint64_t *nums = NULL;
	size_t n_nums = 0;
	int r;

	snprintf(err, errlen, "journal: out of memory");
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -ENOMEM;
	j->loop = loop;
	j->max_bytes = cfg->max_bytes ? cfg->max_bytes : JOURNAL_DEFAULT_MAX_BYTES;
	j->segment_bytes = cfg->segment_bytes ? cfg->segment_bytes : JOURNAL_DEFAULT_SEGMENT_BYTES;
	j->no_fsync = cfg->no_fsync;
	j->next_seq = 1;
	j->wgen = 1;
	j->opening = true;
	j->wait_tail = &j->wait_head;
	j->dirfd = -1;
	r = journal_index_grow(j);
	if (r < 0)
		goto fail;
	r = statefile_make_dirs(cfg->dir);
	if (r == 0) {
		j->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (j->dirfd < 0)
			r = -errno;
	}
	if (r == 0)
		r = list_segments(j, &nums, &n_nums);
	if (r < 0) {
		snprintf(err, errlen, "journal: %s: %s", cfg->dir, strerror(-r));
		goto fail;
	}
	for (size_t i = 0; i < n_nums; i++) {
		r = load_segment(j, nums[i], err, errlen);
		if (r < 0)
			goto fail;
	}
	r = journal_seg_create(j, n_nums ? nums[n_nums - 1] + 1 : 1);
	if (r == 0 && !j->no_fsync && (fdatasync(journal_active(j)->fd) < 0 || fsync(j->dirfd) < 0))
		r = -errno;
	if (r < 0) {
		snprintf(err, errlen, "journal: %s: cannot make a segment: %s", cfg->dir, strerror(-r));
		goto fail;
	}
	journal_active(j)->dirty = false;
	j->dir_dirty = false;
	j->opening = false;
	/* what holds nothing live (or had a bad header) goes, now that the new
	 * segment is durable */
	for (size_t i = 0; i + 1 < j->n_segs; i++) {
		struct jseg *s = j->segs[i];

		if (s->live_refs == 0) {
			s->unlink_wgen = j->wgen;
			j->n_doomed++;
		}
	}
	journal_seg_reap(j, j->wgen);
	j->stats.written_seq = j->stats.synced_seq = j->next_seq - 1;
	r = replay(j, fn, arg, err, errlen);
	if (r == 0 && (r = journal_metrics_attach(j, cfg->metrics)) < 0)
		snprintf(err, errlen, "journal: metrics: %s", strerror(-r));
	if (r < 0)
		goto fail;
	free(nums);
	*ret = j;
	return 0;
fail:
	free(nums);
	journal_destroy(j);
	return r;
}
