/*
 * serve.h — `tripline serve`, the daemon (see serve.c).
 */
#ifndef TRIPLINE_ENGINE_SERVE_H
#define TRIPLINE_ENGINE_SERVE_H

struct serve_options {
	const char *config_path;
	int log_level;    /* enum log_level, or -1: the configuration's */
	int log_format;   /* 0 text, 1 json, or -1: the configuration's */
};

/* Runs the daemon until SIGTERM/SIGINT; returns the process exit code
 * (0 clean stop, 2 invalid configuration or rules, 3 other failures). */
int serve_main(const struct serve_options *opt);

#endif
