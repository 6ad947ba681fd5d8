/*
 * main.c — the tripline binary: one program for the CLI and the daemon
 * (`tripline serve`), dispatched by subcommand in cli.c; and, hidden, a
 * container's log monitor (`tripline log-monitor …`, logmon.h), which the
 * process driver execs and which needs nothing else of the program.
 */
#include <locale.h>
#include <string.h>

#include "cli.h"
#include "logmon.h"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], LOGMON_ARG) == 0)
		return logmon_main(argc - 1, argv + 1);
	/* messages and JSON are bytes; keep the C locale's number formatting */
	setlocale(LC_CTYPE, "C.UTF-8");
	return cli_main(argc, argv);
}
