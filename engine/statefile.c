/*
 * statefile.c — crash-safe state files, their names, and moving a file that
 * cannot be loaded out of the way; see statefile.h.
 */
#include "statefile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int statefile_write(const char *dir, const char *name, const char *data, size_t len, bool sync)
{
	char path[4096], tmp[4096];
	int fd, r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%.200s.XXXXXX", dir, name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = write_all(fd, data, len);
	if (r == 0 && sync && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	if (sync) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -errno;
		if (fsync(dfd) < 0)
			r = -errno;
		close(dfd);
	}
	return r;
}

bool statefile_is_temp(const char *name)
{
	size_t n = strlen(name);

	if (n < 9 || name[0] != '.' || name[n - 7] != '.')
		return false;
	for (size_t i = n - 6; i < n; i++)
		if (!isalnum((unsigned char)name[i]))
			return false;
	return true;
}

int statefile_name(const char *key, const char *suffix, char name[STATEFILE_NAME_MAX])
{
	size_t n = strlen(key);
	unsigned char h[DIGEST_SHA256_LEN];
	char hex[DIGEST_SHA256_HEX_LEN + 1];
	int r;

	if (strlen(suffix) > 24)
		return -ENAMETOOLONG;
	if (n <= STATEFILE_KEY_MAX) {
		snprintf(name, STATEFILE_NAME_MAX, "%s%s", key, suffix);
		return 0;
	}
	if ((r = digest_sha256(key, n, h)) < 0)
		return r;
	digest_hex(h, sizeof(h), hex);
	snprintf(name, STATEFILE_NAME_MAX, "%.*s~%.16s%s", (int)STATEFILE_KEY_MAX, key, hex, suffix);
	return 0;
}

int statefile_move_aside(const char *path, const char *corrupt_dir, char *dest, size_t dest_len)
{
	const char *base = strrchr(path, '/');
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	int r;

	base = base ? base + 1 : path;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if ((r = statefile_make_dirs(corrupt_dir)) < 0)
		return r;
	for (unsigned i = 0; i < 1000; i++) {
		int n = i ? snprintf(dest, dest_len, "%s/%.200s.%s.%u", corrupt_dir, base, stamp, i)
			  : snprintf(dest, dest_len, "%s/%.200s.%s", corrupt_dir, base, stamp);
		if (n < 0 || (size_t)n >= dest_len)
			return -ENAMETOOLONG;
		/* never over an earlier file moved aside */
		if (link(path, dest) == 0)
			return unlink(path) < 0 ? -errno : 0;
		if (errno == EEXIST)
			continue;
		if (errno != EPERM && errno != EXDEV)
			return -errno;
		/* no hard links here: a rename (the name was free a moment ago) */
		if (access(dest, F_OK) == 0)
			continue;
		return rename(path, dest) < 0 ? -errno : 0;
	}
	return -EEXIST;
}

int statefile_make_dir(const char *path, bool parent)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	if (parent) {
		char *slash = strrchr(buf, '/');
		if (!slash || slash == buf)
			return 0;   /* the current directory or / */
		*slash = '\0';
	}
	return mkdir(buf, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

int statefile_make_dirs(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);
	struct stat st;

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = c;
	}
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -errno : 0;
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int statefile_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}
