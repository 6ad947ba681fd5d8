/*
 * cli.h — the `tripline` command line (see cli.c for the exit-code contract).
 */
#ifndef TRIPLINE_ENGINE_CLI_H
#define TRIPLINE_ENGINE_CLI_H

/* Runs the command in argv[1..] and returns the process exit code. */
int cli_main(int argc, char **argv);

#endif
