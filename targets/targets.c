/*
 * targets.c — the target kinds by the kind a rule's Arn names
 * (target.h). Kafka has no ops yet: a rule naming it is refused when it
 * loads.
 */
#include "target.h"

#include <stddef.h>

const struct target_ops *target_ops_for(enum target_kind kind)
{
	switch (kind) {
	case TARGET_TASK:
		return &target_task_ops;
	case TARGET_HTTP:
		return &target_http_ops;
	case TARGET_FILE:
		return &target_file_ops;
	case TARGET_BUS:
		return &target_bus_ops;
	case TARGET_KAFKA:
		return NULL;
	}
	return NULL;
}
