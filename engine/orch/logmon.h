/*
 * logmon.h — the log monitor: one small process per process-driver
 * container that owns the read end of the pipe the container's stdout and
 * stderr go to, and writes what it reads to the container's log file,
 * bounded and rotated by rename (logrot.h), so the container neither
 * blocks nor gets EPIPE while the daemon is down or restarting, and its
 * log stays bounded meanwhile. The program is `tripline-logmon`, a small
 * executable (libc only: ~0.2 MB of private memory a container) installed
 * next to `tripline`; where it is missing, the tripline binary itself in a
 * hidden mode (~1.3 MB, its libraries' relocations). Either is exec'd from
 * argv as `PROGRAM log-monitor PATH MAX_BYTES KEEP`.
 *
 * The monitor lives in a session of its own, with an empty environment,
 * stdin the pipe, stdout and stderr /dev/null, fd 3 the write end of a
 * "done" pipe and no other descriptor (no lock of the daemon's, no other
 * container's pipe). It forks once after opening the log file, so it is
 * never a child the daemon has to reap (init, or the nearest subreaper,
 * adopts it). It exits when the pipe reaches end-of-file — every process
 * holding the write end (the container and its children) is gone — after
 * writing everything it read; the done pipe then reads end-of-file, which
 * is how the driver knows the log is complete.
 */
#ifndef TRIPLINE_LOGMON_H
#define TRIPLINE_LOGMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGMON_ARG "log-monitor"   /* argv[1] that selects the mode */
#define LOGMON_PROGRAM "tripline-logmon"
#define LOGMON_BUFFER ((size_t)64 << 10)   /* one read from the pipe, one write */

/* The hidden mode: argv[0] is LOGMON_ARG. Never returns to a caller that
 * goes on as something else: its value is the process's exit status (an
 * errno value when the log file could not be opened, before the fork). */
int logmon_main(int argc, char **argv);

/* The monitor's program for a daemon: LOGMON_PROGRAM in the directory of
 * the running executable when it is there and executable, else
 * "/proc/self/exe" (the running tripline, which has the hidden mode). The
 * path is written into buf. */
const char *logmon_program(char *buf, size_t cap);

/* Starts a monitor of program (the tripline binary; "/proc/self/exe" is
 * fine) for the log file path: *ret_out is the pipe's write end for the
 * container's stdout and stderr, *ret_done the read end of the done pipe;
 * both close-on-exec and above 2. Blocks until the monitor has opened the
 * file and forked (a few ms: call it off the loop). 0, or -errno with a
 * reason in why. */
int logmon_start(const char *program, const char *path, uint64_t max_bytes, unsigned keep,
		 int *ret_out, int *ret_done, char *why, size_t whylen);

/* Whether the monitor behind done (from logmon_start) has exited: its log
 * file then holds all of the container's output. Never blocks. */
bool logmon_done(int done_fd);

#endif
