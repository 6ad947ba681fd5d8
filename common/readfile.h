/*
 * readfile.h — whole-file reading with a hard size limit, for the files a
 * person hands tripline: rule files, the configuration, secrets, CLI inputs.
 *
 * Only regular files are read, so a FIFO or a device can neither stall nor
 * flood the reader; the file is opened non-blocking and close-on-exec. A
 * caller may vet the file (owner, mode) through a check called with the
 * status of the opened descriptor, so nothing can change between the check
 * and the read. A buffer dropped on error is wiped first (it may have held a
 * secret).
 */
#ifndef TRIPLINE_COMMON_READFILE_H
#define TRIPLINE_COMMON_READFILE_H

#include <stddef.h>
#include <sys/stat.h>

/* Vets a file before it is read: 0, or a negative errno that stops the read. */
typedef int (*readfile_check_fn)(const struct stat *st);

/*
 * Reads the regular file path, of at most max bytes, into *ret (malloc'd,
 * NUL-terminated; *ret_len excludes the NUL). check may be NULL. Returns 0,
 * -EFBIG (larger than max), -EISDIR (not a regular file), check's error,
 * -ENOMEM or -errno.
 */
int readfile(const char *path, size_t max, readfile_check_fn check, char **ret, size_t *ret_len);

/* A person's words for readfile()'s error r: "not a regular file" for
 * -EISDIR (a directory, a FIFO, a device), strerror() otherwise. */
const char *readfile_strerror(int r);

#endif
