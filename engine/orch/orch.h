/*
 * orch.h — the orchestration core: tasks and services on one host, with
 * ECS's semantics (DESIGN.md §5).
 *
 * The orchestrator owns every task and service of the embedded cluster. It
 * runs containers through drivers (driver.h), places tasks against the
 * cluster's CPU units and memory, keeps services at their desired count
 * (replacement with backoff, rolling deployments within minimumHealthyPercent
 * and maximumPercent, a deployment circuit breaker), persists its state under
 * data_dir and takes running tasks back after a restart. Every task, service
 * and deployment state change is handed to the event callback as an
 * EventBridge event in ECS's shape ("ECS Task State Change", "ECS Service
 * Action", "ECS Deployment State Change"; source "aws.ecs").
 *
 * Requests come as jansson objects in ECS's request shape (camelCase members,
 * as the AWS CLI sends them); answers are built in ECS's response shape. A
 * request error is reported as an AWS error type ("InvalidParameterException",
 * "ClientException", "ServiceNotFoundException", …) and a message: struct
 * orch_error. Unknown request members are ignored, as AWS services do.
 *
 * Everything runs on the loop thread. Secrets named by a task definition are
 * resolved only when a container is launched and go only into that
 * container's environment: never into a log line, an answer, an event or a
 * state file.
 *
 * State on disk, under data_dir:
 *   tasks/<id>.json       one file per task (written on every change; temp
 *                         file + rename, see orch.c for why without fsync)
 *   services/<name>.json  one file per service (temp file + fsync + rename)
 *   logs/<id>/<container>.log[.1…]   container output, size-capped, rotated
 */
#ifndef TRIPLINE_ORCH_ORCH_H
#define TRIPLINE_ORCH_ORCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <uv.h>

struct taskdef_registry;
struct driver_ops;

#define ORCH_MAX_RUN_COUNT 10u
#define ORCH_MAX_SERVICES 1000u
#define ORCH_MAX_SERVICE_DESIRED 1000u
#define ORCH_MAX_SERVICE_EVENTS 100u     /* events[] kept per service */
#define ORCH_STOPPED_TASK_TTL_S 3600     /* STOPPED tasks stay describable this long */
#define ORCH_MAX_STOPPED_TASKS 10000u    /* and at most this many of them */
#define ORCH_CLIENT_TOKEN_TTL_S 3600
#define ORCH_MAX_CLIENT_TOKEN 64         /* bytes, as ECS */
#define ORCH_MAX_CLIENT_TOKENS 100000u   /* remembered at once (each for ORCH_CLIENT_TOKEN_TTL_S) */
#define ORCH_LOG_MAX_BYTES ((uint64_t)10 << 20)  /* per container log file before rotation */
#define ORCH_LOG_KEEP 3u                 /* rotated files kept: .1 … .3 */
#define ORCH_MAX_TAIL_BYTES ((size_t)1 << 20)

/* Where a request went wrong, in AWS's terms. */
struct orch_error {
	const char *type;   /* static: "InvalidParameterException", … */
	char message[512];
};

/* One EventBridge event (a JSON object); the orchestrator keeps ownership. */
typedef void (*orch_event_fn)(void *userdata, const json_t *event);

struct orch_config {
	const char *cluster_name;
	const char *region;
	const char *account;
	uint64_t cpu_units;        /* offered by the cluster */
	uint64_t memory_mib;
	const char *data_dir;      /* must exist */
	uint32_t max_tasks;        /* not yet STOPPED */
	const char *secrets_file;  /* NULL: only env: references resolve */
	const char *cgroup_root;   /* process driver: NULL detect, "" never */
	const char *docker_socket; /* NULL: no docker driver */
	uint64_t log_max_bytes;    /* 0: ORCH_LOG_MAX_BYTES */
	unsigned backoff_base_ms;  /* service restart backoff; 0: 1000 */
	unsigned backoff_max_ms;   /* 0: 300000 */
	orch_event_fn on_event;
	void *userdata;
};

/* Counters and gauges for /metrics. */
struct orch_metrics {
	uint64_t tasks_by_state[5];     /* PROVISIONING, PENDING, RUNNING, DEPROVISIONING, STOPPED */
	uint64_t task_starts, task_stops, task_failures;  /* failures: TaskFailedToStart */
	uint64_t services, services_desired, services_running, services_pending;
	uint64_t events_emitted;
	/* launch latency (RunTask accepted → every container running), seconds */
	uint64_t launch_bucket[12];     /* cumulative counts for ORCH_LAUNCH_BUCKETS */
	uint64_t launch_count;
	double launch_sum;
	uint64_t cpu_used, memory_used_mib;
};
#define ORCH_LAUNCH_BUCKETS {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

struct orch;

/*
 * Creates the orchestrator, starts its drivers and loads the state kept in
 * data_dir: running tasks are re-adopted, tasks that ended meanwhile are
 * marked STOPPED, services converge again. taskdefs is borrowed and must
 * outlive it. 0, or -errno with a reason in err.
 */
int orch_new(uv_loop_t *loop, const struct orch_config *cfg, struct taskdef_registry *taskdefs,
	     struct orch **ret, char *err, size_t errlen);

/* Leaves every task running (a restart re-adopts them) and frees everything;
 * the loop must run once more to close handles. */
void orch_free(struct orch *o);

/* The ECS operations. Each returns 0 with *ret the response object (a new
 * reference), or -1 with *e filled (a 4xx for the client; e->type
 * "ServerException" for our own faults). */
int orch_run_task(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e);
int orch_stop_task(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e);
int orch_describe_tasks(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e);
int orch_list_tasks(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e);
int orch_create_service(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e);
int orch_update_service(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e);
int orch_delete_service(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e);
int orch_describe_services(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e);
int orch_list_services(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e);
/* tripline's own: {"task", "container"?, "tailBytes"?} → {"containers": [{name, log, truncated}]} */
int orch_get_task_logs(struct orch *o, const json_t *req, json_t **ret, struct orch_error *e);

/* Containers asked to start whose driver has not yet said whether they did
 * (a docker create in flight); a clean shutdown waits for these. */
size_t orch_launches_in_flight(const struct orch *o);

/* The cluster as DescribeClusters shows it (counts included); a new reference. */
json_t *orch_cluster_json(const struct orch *o);
/* Whether s (a name or an ARN) names this cluster. */
bool orch_is_cluster(const struct orch *o, const char *s);

void orch_metrics(const struct orch *o, struct orch_metrics *m);
/* The same in Prometheus text format: tripline_tasks{state}, tripline_services,
 * tripline_service_tasks{kind="desired|running|pending"} (all services) and
 * tripline_service_task_count{service, kind} (each one),
 * tripline_task_{starts,stops,failures}_total, tripline_task_launch_seconds
 * (histogram), tripline_cluster_cpu_units / _memory_mib{kind="offered|reserved"},
 * tripline_ecs_events_total. */
void orch_metrics_text(const struct orch *o, FILE *f);

#endif
