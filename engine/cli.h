/*
 * cli.h — the `tripline` command line (see cli.c for the exit-code contract).
 *
 * cli.c dispatches the commands and holds the ones that need no daemon;
 * engine/cli/ holds the commands that talk to a daemon's API (task,
 * service, taskdef). This header is what the two share.
 */
#ifndef TRIPLINE_ENGINE_CLI_H
#define TRIPLINE_ENGINE_CLI_H

#include <stddef.h>

/* Exit codes: the contract users and scripts rely on. */
#define CLI_EXIT_NEGATIVE 1   /* a negative answer: no match, not found */
#define CLI_EXIT_BADINPUT 2   /* a usage error, invalid input, a request refused (4xx) */
#define CLI_EXIT_FAILURE 3    /* anything else: I/O, no answer, a server error (5xx) */

/* Largest input (pattern, event, task definition…) read from a file or stdin. */
#define CLI_MAX_INPUT ((size_t)16 << 20)
#define CLI_MAX_INPUT_TEXT "16 MiB"

/* Runs the command in argv[1..] and returns the process exit code. */
int cli_main(int argc, char **argv);

/* Reads a whole file, or stdin for "-", of at most CLI_MAX_INPUT bytes into
 * *ret (malloc'd, NUL-terminated; *ret_len excludes the NUL). 0, -E2BIG,
 * -EISDIR (not a regular file: readfile_strerror() says so), -ENOMEM or
 * another -errno. */
int cli_read_input(const char *path, char **ret, size_t *ret_len);

/* The commands over the API (engine/cli/): argv[0] is the command's name;
 * each returns the exit code. Their help texts follow. */
int cli_remote_task(int argc, char **argv);
int cli_remote_service(int argc, char **argv);
int cli_remote_taskdef(int argc, char **argv);
int cli_remote_put_events(int argc, char **argv);
int cli_remote_rules(int argc, char **argv);
int cli_remote_dlq(int argc, char **argv);
extern const char cli_remote_task_usage[];
extern const char cli_remote_service_usage[];
extern const char cli_remote_taskdef_usage[];
extern const char cli_remote_put_events_usage[];
extern const char cli_remote_rules_usage[];
extern const char cli_remote_dlq_usage[];

#endif
