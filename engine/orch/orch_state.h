/*
 * orch_state.h — the core's JSON side, private to engine/orch/: events put
 * on the bus and the state files kept under data_dir. Only the files that
 * trade in JSON include it (and jansson with it).
 */
#ifndef TRIPLINE_ORCH_STATE_H
#define TRIPLINE_ORCH_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "orch_internal.h"

/* An "aws.ecs" event onto the bus (takes resources and detail). */
void orch_emit(struct orch *o, const char *detail_type, json_t *resources, json_t *detail);

/* "2026-12-07T03:53:31.123Z" */
void orch_iso_time(uint64_t wall_ms, char buf[32]);

/* Epoch seconds with the milliseconds as a fraction, as ECS answers. */
json_t *orch_epoch_json(uint64_t wall_ms);

/* The task as DescribeTasks shows it; iso: timestamps as ISO 8601 strings
 * and an updatedAt, as "ECS Task State Change" events carry them. */
json_t *orch_task_json_as(const struct task *t, bool iso);

/* RunTask's overrides as ECS echoes them ({"containerOverrides": […]}). */
json_t *orch_overrides_json(const struct orch_overrides *ov);
/* The same read back from a state file into an owned copy. */
int orch_overrides_from_json(const json_t *j, struct orch_overrides *ret);

/* Largest state file read back (a service with its events is a few KiB). */
#define ORCH_STATE_FILE_MAX ((size_t)4 << 20)

/* A state file's JSON, or NULL: with *ret_err a negative errno when it
 * cannot be read (the disk), else with why saying what is wrong with the
 * file (not a regular file, too large, not JSON). */
json_t *orch_state_read(const char *path, int *ret_err, char *why, size_t whylen);

/* A state file under data_dir that cannot be loaded (why says how): an
 * error log line, and the file moved to data_dir/corrupt/ so that the
 * daemon starts without it and a person can look at it. */
void orch_state_set_aside(struct orch *o, const char *path, const char *why);

/* A service's state file is service_state.c's; these are its users'. */
struct service;
/* Writes s's state file (removes it once INACTIVE): 0, or -errno with an
 * error logged and s left dirty, so that the tick tries again. */
int service_write(struct service *s);

#endif
