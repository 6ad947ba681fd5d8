/*
 * logmon_main.c — tripline-logmon, the log monitor as a program of its own
 * (logmon.h): `tripline-logmon log-monitor PATH MAX_BYTES KEEP`, the same
 * argv as the tripline binary's hidden mode, with nothing linked but libc.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "logmon.h"

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], LOGMON_ARG) != 0) {
		fprintf(stderr, "tripline-logmon: started by tripline serve for each container "
				"(%s PATH MAX_BYTES KEEP); not for use by hand\n", LOGMON_ARG);
		return EINVAL;
	}
	return logmon_main(argc - 1, argv + 1);
}
