/*
 * reload.h — rules reloaded off the loop thread, on request (SIGHUP) and
 * when a rule file or directory changes (inotify, debounced); see reload.c.
 *
 * apply() runs on the loop with the new generation (borrowed: take a
 * reference to keep it) and 0, or with NULL, the error (-EINVAL, -ENOMEM)
 * and every problem in errs (`file: /pointer: message`): the caller keeps
 * its current rules then.
 */
#ifndef TRIPLINE_ENGINE_RELOAD_H
#define TRIPLINE_ENGINE_RELOAD_H

#include <stddef.h>

#include <uv.h>

#include "errlist.h"

#define RELOAD_DEBOUNCE_MS 200u

struct reload;
struct rulegen;
struct tripline_config;

typedef void (*reload_apply_fn)(void *arg, struct rulegen *gen, int result, const struct errlist *errs);

/* Watches paths (copied) and reloads them on request. cfg is borrowed. 0
 * and *ret, or -ENOMEM. debounce_ms 0: RELOAD_DEBOUNCE_MS. */
int reload_new(uv_loop_t *loop, const struct tripline_config *cfg, const char *const *paths, size_t n,
	       unsigned debounce_ms, reload_apply_fn apply, void *arg, struct reload **ret);
/* Builds a new generation (after the one running, if any). */
void reload_request(struct reload *rl, const char *why);
/* Stops watching; a build running finishes and is dropped. The loop must
 * run once more. NULL is fine. */
void reload_free(struct reload *rl);

#endif
