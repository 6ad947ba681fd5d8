/*
 * readfile.c — see readfile.h. The size from fstat() is only a first guess
 * for the buffer: the file may change while it is read, and the limit is
 * enforced on what is actually read.
 */
#include "readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int readfile(const char *path, size_t max, readfile_check_fn st_check, char **ret, size_t *ret_len)
{
	struct stat st;
	size_t len = 0, cap;
	char *buf, *nb;
	int fd, r;

	*ret = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EISDIR;
		goto out_close;
	}
	if (st_check && (r = st_check(&st)) < 0)
		goto out_close;
	cap = ((uint64_t)st.st_size < max ? (size_t)st.st_size : max) + 1;
	buf = malloc(cap);
	if (!buf) {
		r = -ENOMEM;
		goto out_close;
	}
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				r = -EFBIG;
				goto out_free;
			}
			size_t nc = cap > max / 2 ? max + 1 : cap * 2;
			if (!(nb = realloc(buf, nc))) {
				r = -ENOMEM;
				goto out_free;
			}
			buf = nb;
			cap = nc;
		}
		ssize_t k = read(fd, buf + len, cap - len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out_free;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	if (len > max) {
		r = -EFBIG;
		goto out_free;
	}
	if (len == cap) {
		if (!(nb = realloc(buf, len + 1))) {
			r = -ENOMEM;
			goto out_free;
		}
		buf = nb;
	}
	buf[len] = '\0';
	close(fd);
	*ret = buf;
	*ret_len = len;
	return 0;

out_free:
	explicit_bzero(buf, cap);
	free(buf);
out_close:
	close(fd);
	return r;
}

const char *readfile_strerror(int r)
{
	return r == -EISDIR ? "not a regular file" : strerror(-r);
}
