/*
 * dynuser.h — dynamic uids for a root daemon's process-driver tasks, as
 * systemd's DynamicUser= gives them: each task its own uid (its gid the
 * same number) from a configured range, so that no task can read another's
 * environment (/proc/PID/environ) or files.
 *
 * A uid is handed out only when it is in the range, not held by a live
 * task of this daemon, and neither a user (getpwuid) nor a group
 * (getgrgid) the host knows. The search goes round the range from the one
 * after the last uid handed out, so a released uid is reused as late as
 * possible. Everything runs on the loop thread; the lookups go through NSS
 * (fast with files, may block with a remote NSS, as resolving `user` does).
 */
#ifndef TRIPLINE_ORCH_DYNUSER_H
#define TRIPLINE_ORCH_DYNUSER_H

#include <stdbool.h>
#include <stdint.h>

struct dynuser;

/* An allocator for [min, max] (1 <= min <= max). 0, -EINVAL or -ENOMEM. */
int dynuser_new(uint32_t min, uint32_t max, struct dynuser **ret);
void dynuser_free(struct dynuser *u);
/* A free uid, now held: 0, or -EAGAIN when none is left. */
int dynuser_alloc(struct dynuser *u, uint32_t *ret);
/* Marks uid held (a task re-adopted after a restart). False when uid is
 * outside the range (it is still the task's; nothing else can be handed it). */
bool dynuser_hold(struct dynuser *u, uint32_t uid);
/* Gives uid back; outside the range or not held: nothing. */
void dynuser_release(struct dynuser *u, uint32_t uid);
/* How many are held. */
uint32_t dynuser_held(const struct dynuser *u);

#endif
