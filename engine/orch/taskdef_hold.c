/*
 * taskdef_hold.c — whether the core still holds a task definition: the
 * registry's in-use test (taskdef_registry_set_in_use()), so that a deleted
 * revision (DELETE_IN_PROGRESS) is freed only once no task — running or
 * STOPPED and not yet reaped — and no service deployment points at it.
 */
#include "service_internal.h"

bool orch_holds_taskdef(const struct taskdef *td, void *orch)
{
	const struct orch *o = orch;

	for (const struct task *t = o->tasks_head; t; t = t->next)
		if (t->td == td)
			return true;
	for (const struct service *s = o->services; s; s = s->next) {
		if (s->last_completed == td)
			return true;
		for (const struct deployment *d = s->deps; d; d = d->next)
			if (d->td == td)
				return true;
	}
	return false;
}
