/*
 * logger.c — see logger.h. A record is built in a stack buffer (messages
 * longer than it are cut, and say so) and written with one write(2).
 */
#include "logger.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static enum log_level threshold = LOG_LEVEL_INFO;
static bool as_json;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void logger_setup(enum log_level level, bool json)
{
	threshold = level;
	as_json = json;
}

bool logger_enabled(enum log_level level)
{
	return level >= threshold;
}

/* Appends s as the inside of a JSON string. */
static size_t put_escaped(char *out, size_t cap, size_t o, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s && o + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			out[o++] = '\\';
			out[o++] = 'u';
			out[o++] = '0';
			out[o++] = '0';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	return o;
}

void logger_write(enum log_level level, const char *component, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX / 2], line[LOG_LINE_MAX], stamp[80];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t o;
	int n;

	if (level < threshold)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		memcpy(msg + sizeof(msg) - 5, "...", 4);   /* cut, and visibly so */

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(ts.tv_nsec / 1000000) % 1000);

	if (as_json) {
		n = snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",\"component\":\"", stamp,
			     level_names[level]);
		o = n > 0 ? (size_t)n : 0;
		o = put_escaped(line, sizeof(line), o, component);
		o += (size_t)snprintf(line + o, sizeof(line) - o, "\",\"msg\":\"");
		o = put_escaped(line, sizeof(line), o, msg);
		o += (size_t)snprintf(line + o, sizeof(line) - o, "\"}\n");
	} else {
		n = snprintf(line, sizeof(line), "%s %-5s %s: %s\n", stamp, level_names[level], component, msg);
		o = n < 0 ? 0 : (size_t)n >= sizeof(line) ? sizeof(line) - 1 : (size_t)n;
		if ((size_t)n >= sizeof(line))
			line[sizeof(line) - 2] = '\n';
	}
	if (o > sizeof(line))
		o = sizeof(line);
	ssize_t w = write(STDERR_FILENO, line, o);
	(void)w;   /* nowhere to report a failed log write */
}
