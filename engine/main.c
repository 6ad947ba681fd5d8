/*
 * main.c — the tripline binary: one program for the CLI and the daemon
 * (`tripline serve`), dispatched by subcommand in cli.c.
 */
#include <locale.h>

#include "cli.h"

int main(int argc, char **argv)
{
	/* messages and JSON are bytes; keep the C locale's number formatting */
	setlocale(LC_CTYPE, "C.UTF-8");
	return cli_main(argc, argv);
}
