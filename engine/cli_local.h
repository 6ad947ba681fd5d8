/*
 * cli_local.h — what cli.c shares with the local commands kept in files of
 * their own (cli_transform.c): the command table's entry and the helpers
 * every command uses for help, usage errors and @FILE arguments.
 */
#ifndef TRIPLINE_ENGINE_CLI_LOCAL_H
#define TRIPLINE_ENGINE_CLI_LOCAL_H

#include <stddef.h>

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *usage;
};

/* "tripline", the start of every diagnostic. */
extern const char *const cli_prog;

/* `transform`'s rule name when --rule-name is not given. */
#define CLI_TRANSFORM_RULE "transform-preview"

const struct command *cli_find_command(const char *name);
/* --help or -h before "--": the usage on stdout and 0; else -1. */
int cli_maybe_help(const struct command *c, int argc, char **argv);
/* The message and the usage on stderr: CLI_EXIT_BADINPUT. */
int cli_usage_error(const struct command *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A command-line argument that is JSON text, or @path for a file's content
 * (@- stdin): 0 and *ret (malloc'd), or an exit code with the message
 * written. */
int cli_load_arg(const char *what, const char *arg, char **ret, size_t *ret_len);

/* cli_transform.c, cli_schedule.c */
int cli_cmd_transform(int argc, char **argv);
int cli_cmd_schedule(int argc, char **argv);

#endif
