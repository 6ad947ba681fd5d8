/*
 * orch_json.h — tasks, services and the cluster as ECS's JSON shows them
 * (DescribeTasks' task, DescribeServices' service, DescribeClusters'
 * cluster). The API edge (engine/api_ecs.c) answers with these; the core
 * uses the same forms for its events ("ECS Task State Change" carries the
 * task) and its state files, so the three never drift apart.
 *
 * Each returns a new reference, or NULL when out of memory.
 */
#ifndef TRIPLINE_ORCH_ORCH_JSON_H
#define TRIPLINE_ORCH_ORCH_JSON_H

#include <jansson.h>

#include "orch.h"

json_t *orch_task_json(const struct task *t);
json_t *orch_service_json(const struct service *s);
/* The cluster with its task and service counts. */
json_t *orch_cluster_json(const struct orch *o);

#endif
