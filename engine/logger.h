/*
 * logger.h — the daemon's structured log: one record per line on stderr,
 * as text for a terminal ("2026-11-28T06:12:00.123Z info  serve: listening on
 * 127.0.0.1:8088") or as JSON lines ({"time": …, "level": …, "component": …,
 * "msg": …}) for a collector.
 *
 * Records below the configured level cost one comparison. Messages are
 * formatted by the caller's format string only: event data must be passed as
 * an argument, never as the format. Writes are whole lines (one write(2) per
 * record), so records from several threads never interleave.
 */
#ifndef TRIPLINE_ENGINE_LOGGER_H
#define TRIPLINE_ENGINE_LOGGER_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/* Sets the threshold and the format; the default is info, text. */
void logger_setup(enum log_level level, bool json);
bool logger_enabled(enum log_level level);
void logger_write(enum log_level level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(comp, ...) \
	do { if (logger_enabled(LOG_LEVEL_DEBUG)) logger_write(LOG_LEVEL_DEBUG, comp, __VA_ARGS__); } while (0)
#define log_info(comp, ...) logger_write(LOG_LEVEL_INFO, comp, __VA_ARGS__)
#define log_warn(comp, ...) logger_write(LOG_LEVEL_WARN, comp, __VA_ARGS__)
#define log_error(comp, ...) logger_write(LOG_LEVEL_ERROR, comp, __VA_ARGS__)

#endif
