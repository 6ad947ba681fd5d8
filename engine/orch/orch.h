/*
 * orch.h — the orchestration core: tasks and services on one host, with
 * ECS's semantics (DESIGN.md §5), behind a typed C API.
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
 * The operations are ECS's (RunTask, StopTask, …) with C request and result
 * structs; the JSON forms live at the API edge (engine/api_ecs.c), in events
 * and in state files (orch_json.h). Request members keep ECS's names in the
 * comments and in the error messages, so a message reads the same whichever
 * way a request came in.
 *
 * Error convention, for every operation: 0, or -1 with *e filled: e->type is
 * an AWS error type ("InvalidParameterException", "ClientException",
 * "ServiceNotFoundException", …, for the caller's mistakes) or
 * "ServerException" for the core's own faults (out of memory). Setup and
 * teardown (orch_new) return 0 or a negative errno, as elsewhere.
 *
 * Ownership: request structs and everything they point to are the caller's
 * and are only read during the call. Results point at tasks and services
 * the orchestrator owns: valid until control returns to the loop (tasks are
 * freed only from the loop, never during a call). Results with allocated
 * parts have a _clear() function.
 *
 * Time: timestamps users see (createdAt, stoppedAt, events' time) use the
 * wall clock; every duration (backoff, grace periods, health checks,
 * retention, client-token lifetime, launch latency) uses the monotonic
 * clock. Both are read through struct orch_clock, which tests replace.
 *
 * Everything runs on the loop thread. Secrets named by a task definition are
 * resolved only when a container is launched and go only into that
 * container's environment: never into a log line, an answer, an event or a
 * state file.
 *
 * State on disk, under data_dir:
 *   tasks/<id>.json       one file per task (written on every change; temp
 *                         file + rename, see task_state.c for why without fsync)
 *   services/<name>.json  one file per service (temp file + fsync + rename)
 *   logs/<id>/<container>.log[.1…]   container output, size-capped, rotated
 */
#ifndef TRIPLINE_ORCH_ORCH_H
#define TRIPLINE_ORCH_ORCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

struct taskdef;
struct taskdef_registry;
struct task;
struct service;
struct metrics;

#define ORCH_MAX_RUN_COUNT 10u
#define ORCH_MAX_CONTAINERS 10u          /* per task, as TASKDEF_MAX_CONTAINERS */
#define ORCH_MAX_DESCRIBE_TASKS 100u
#define ORCH_MAX_DESCRIBE_SERVICES 10u
#define ORCH_MAX_SERVICES 1000u
#define ORCH_MAX_SERVICE_DESIRED 1000u
#define ORCH_MAX_SERVICE_EVENTS 100u     /* events[] kept per service */
#define ORCH_STOPPED_TASK_TTL_S 3600     /* STOPPED tasks stay describable this long */
#define ORCH_MAX_STOPPED_TASKS 10000u    /* and at most this many of them */
#define ORCH_CLIENT_TOKEN_TTL_S 3600
#define ORCH_UID_MIN 61184u              /* dynamic uids by default, as systemd's */
#define ORCH_UID_MAX 65519u
#define ORCH_MAX_CLIENT_TOKEN 64         /* bytes, as ECS */
#define ORCH_MAX_CLIENT_TOKENS 100000u   /* remembered at once, by default (orch_config) */
#define ORCH_LOG_MAX_BYTES ((uint64_t)10 << 20)  /* per container log file before rotation */
#define ORCH_LOG_KEEP 3u                 /* rotated files kept: .1 … .3 */
#define ORCH_MAX_TAIL_BYTES ((size_t)1 << 20)
#define ORCH_DEFAULT_TAIL_BYTES ((size_t)64 << 10)

/* Longest request strings, in bytes (ECS's limits where it has them). */
#define ORCH_MAX_REF 1600u               /* a task, task definition or service name or ARN */
#define ORCH_MAX_GROUP 255u
#define ORCH_MAX_STARTED_BY 128u
#define ORCH_MAX_REASON 255u
#define ORCH_MAX_NAME 255u               /* family, container and service names */
#define ORCH_MAX_STATUS 16u              /* launchType, desiredStatus */
#define ORCH_MAX_NEXT_TOKEN 32u
#define ORCH_MAX_OVERRIDE_ITEMS 1024u    /* command words and environment entries per container */
#define ORCH_MAX_OVERRIDE_CPU (1 << 20)
#define ORCH_MAX_OVERRIDE_MEMORY (1 << 24)

/* Where a request went wrong, in AWS's terms. */
struct orch_error {
	const char *type;   /* static: "InvalidParameterException", … */
	char message[512];
};

/* One EventBridge event as compact JSON text (valid during the call). */
typedef void (*orch_event_fn)(void *userdata, const char *event, size_t len);

/* The clocks the core reads; a NULL function uses the default. */
struct orch_clock {
	uint64_t (*wall_ms)(void *userdata);   /* default: CLOCK_REALTIME, ms since the epoch */
	uint64_t (*mono_ms)(void *userdata);   /* default: the loop's uv_now() */
	void *userdata;
};

struct orch_config {
	const char *cluster_name;
	const char *region;
	const char *account;
	uint64_t cpu_units;        /* offered by the cluster */
	uint64_t memory_mib;
	const char *data_dir;      /* must exist */
	uint32_t max_tasks;        /* not yet STOPPED */
	const char *secrets_file;  /* NULL: only env: references resolve */
	/* valueFrom "env:NAME": the prefixes NAME may start with besides
	 * "TRIPLINE_TASK_" (always allowed), and the names never given out
	 * whatever the prefixes say (the daemon's own secrets). Borrowed: they
	 * must outlive the orchestrator. */
	const char *const *secrets_env_allow;
	size_t n_secrets_env_allow;
	const char *const *secrets_env_deny;
	size_t n_secrets_env_deny;
	const char *cgroup_root;   /* process driver: NULL detect, "" never */
	const char *docker_socket; /* NULL: no docker driver */
	/* a root daemon's process tasks (privilege.h): dynamic uids from
	 * [process_uid_min, process_uid_max] (0, 0: 61184–65519), or
	 * process_default_user; root only with process_allow_root */
	uint32_t process_uid_min, process_uid_max;
	const char *process_default_user;
	bool process_allow_root;
	char *const *docker_allowed_host_paths;   /* bind-mount roots; none: no host path */
	size_t n_docker_allowed_host_paths;
	uint64_t log_max_bytes;    /* 0: ORCH_LOG_MAX_BYTES */
	const char *log_monitor;   /* process driver: the log monitor's program (logmon.h;
				      the daemon's: logmon_program()); NULL: none, each
				      container writes its file unbounded (unit tests) */
	uint32_t max_client_tokens;   /* clientTokens remembered at once (RunTask, UpdateService);
					 0: ORCH_MAX_CLIENT_TOKENS; when full a new one is refused
					 (LimitExceededException), none forgotten early */
	unsigned backoff_base_ms;  /* service restart backoff; 0: 1000 */
	unsigned backoff_max_ms;   /* 0: 300000 */
	struct orch_clock clock;
	orch_event_fn on_event;    /* NULL: events are only counted */
	void *userdata;
};

/* ------------------------------------------------------------ requests */

enum orch_launch_type {
	ORCH_LAUNCH_DEFAULT,       /* the task definition (or the service) decides */
	ORCH_LAUNCH_EC2,
	ORCH_LAUNCH_FARGATE,
	ORCH_LAUNCH_EXTERNAL,
};

/* A name/value pair of an environment override. */
struct orch_kv {
	const char *name;
	const char *value;
};

/* One entry of overrides.containerOverrides. */
struct orch_container_override {
	const char *name;                   /* required: a container of the definition */
	const char *const *command;         /* replaces the definition's command */
	size_t n_command;
	bool has_command;
	const struct orch_kv *environment;  /* added to the definition's, later ones winning */
	size_t n_environment;
	bool has_environment;
	bool has_cpu;
	int64_t cpu;                        /* 0 … ORCH_MAX_OVERRIDE_CPU; 0 as if not set */
	bool has_memory;
	int64_t memory;                     /* MiB, 1 … ORCH_MAX_OVERRIDE_MEMORY */
};

/* RunTask's overrides (ECS's TaskOverride); the order is kept for the echo. */
struct orch_overrides {
	const struct orch_container_override *containers;
	size_t n_containers;
};

struct run_task_request {
	const char *cluster;               /* NULL: the embedded cluster */
	const char *task_definition;       /* required: family, family:revision or ARN */
	bool has_count;                    /* absent: 1 */
	int64_t count;                     /* 1 … ORCH_MAX_RUN_COUNT */
	const char *group;                 /* NULL: none */
	const char *started_by;
	const char *client_token;          /* idempotency for ORCH_CLIENT_TOKEN_TTL_S, across restarts;
					      other parameters: ConflictException */
	uint32_t client_token_ttl_s;       /* keep the token this long when longer than
					      ORCH_CLIENT_TOKEN_TTL_S (a rule: its MaximumEventAgeInSeconds) */
	enum orch_launch_type launch_type;
	struct orch_overrides overrides;
};

struct stop_task_request {
	const char *cluster;
	const char *task;                  /* required: id or ARN */
	const char *reason;                /* NULL: "Task stopped by the user" */
};

struct describe_tasks_request {
	const char *cluster;
	const char *const *tasks;          /* ids or ARNs, at most ORCH_MAX_DESCRIBE_TASKS */
	size_t n_tasks;
};

enum orch_desired_status {
	ORCH_DESIRED_RUNNING,
	ORCH_DESIRED_PENDING,              /* never a task's desired status: lists nothing, as ECS */
	ORCH_DESIRED_STOPPED,
};

struct list_tasks_request {
	const char *cluster;
	const char *family;
	const char *service_name;
	const char *started_by;
	enum orch_desired_status desired_status;
	bool has_max_results;              /* absent: 100 */
	int64_t max_results;               /* 1 … 100 */
	const char *next_token;            /* NULL: from the start */
};

struct get_task_logs_request {
	const char *cluster;
	const char *task;                  /* required */
	const char *container;             /* NULL: every container */
	bool has_tail_bytes;               /* absent: ORCH_DEFAULT_TAIL_BYTES */
	int64_t tail_bytes;                /* 1 … ORCH_MAX_TAIL_BYTES */
};

/* deploymentConfiguration and healthCheckGracePeriodSeconds: only what is
 * set changes. */
struct orch_deployment_config {
	bool has_minimum_healthy_percent;
	int64_t minimum_healthy_percent;   /* 0 … 100 */
	bool has_maximum_percent;
	int64_t maximum_percent;           /* 100 … 200 */
	bool has_circuit_breaker;
	bool circuit_breaker_enable, circuit_breaker_rollback;
	bool has_health_check_grace_period;
	int64_t health_check_grace_period_s;   /* 0 … INT32_MAX */
};

struct create_service_request {
	const char *cluster;
	const char *service_name;          /* required: up to 255 of [A-Za-z0-9_-] */
	const char *task_definition;       /* required */
	enum orch_launch_type launch_type;
	bool has_desired_count;            /* required */
	int64_t desired_count;             /* 0 … ORCH_MAX_SERVICE_DESIRED */
	struct orch_deployment_config config;
};

struct update_service_request {
	const char *cluster;
	const char *service;               /* required: name or ARN */
	const char *task_definition;       /* NULL: unchanged */
	bool has_desired_count;
	int64_t desired_count;
	bool force_new_deployment;
	struct orch_deployment_config config;
	/* tripline's: applied once per token (a rule's relative change); a known
	 * token changes nothing and answers with the service as it is */
	const char *client_token;
	uint32_t client_token_ttl_s;       /* as RunTask's */
};

struct delete_service_request {
	const char *cluster;
	const char *service;               /* required */
	bool force;
};

struct describe_services_request {
	const char *cluster;
	const char *const *services;       /* names or ARNs, at most ORCH_MAX_DESCRIBE_SERVICES */
	size_t n_services;
};

struct list_services_request {
	const char *cluster;
	bool has_max_results;              /* absent: 10 */
	int64_t max_results;               /* 1 … 100 */
	const char *next_token;
};

/* ------------------------------------------------------------ results */

/* ECS's failures[] entry; the strings are the orchestrator's or the request's. */
struct orch_failure {
	const char *arn;
	const char *reason;                /* "RESOURCE:CPU", "MISSING", … */
	const char *detail;                /* NULL: none */
};

struct run_task_result {
	struct task *tasks[ORCH_MAX_RUN_COUNT];
	size_t n_tasks;
	struct orch_failure failures[ORCH_MAX_RUN_COUNT];
	size_t n_failures;
};

struct describe_tasks_result {
	struct task *tasks[ORCH_MAX_DESCRIBE_TASKS];
	size_t n_tasks;
	struct orch_failure failures[ORCH_MAX_DESCRIBE_TASKS];
	size_t n_failures;
};

struct describe_services_result {
	struct service *services[ORCH_MAX_DESCRIBE_SERVICES];
	size_t n_services;
	struct orch_failure failures[ORCH_MAX_DESCRIBE_SERVICES];
	size_t n_failures;
};

/* A page of ARNs (ListTasks, ListServices). */
struct orch_arn_page {
	const char **arns;                 /* malloc'd array of the orchestrator's strings */
	size_t n;
	char next_token[24];               /* "" on the last page */
};

/* One container's output (GetTaskLogs). */
struct orch_task_log {
	const char *name;                  /* the container's */
	char *text;                        /* malloc'd, valid UTF-8 (invalid bytes → U+FFFD) */
	size_t len;
	bool truncated;                    /* older output exists that is not returned */
};

struct get_task_logs_result {
	struct orch_task_log containers[ORCH_MAX_CONTAINERS];
	size_t n;
};

struct orch;

/*
 * Creates the orchestrator, starts its drivers and loads the state kept in
 * data_dir: running tasks are re-adopted, tasks that ended meanwhile are
 * marked STOPPED, services converge again. taskdefs is borrowed and must
 * outlive it. 0, or -errno with a reason in err.
 */
int orch_new(uv_loop_t *loop, const struct orch_config *cfg, struct taskdef_registry *taskdefs,
	     struct orch **ret, char *err, size_t errlen);

/* Whether a task or a service of the core (orch, a struct orch) points at
 * td: the registry's taskdef_in_use_fn, which keeps a deleted revision
 * while it is held. */
bool orch_holds_taskdef(const struct taskdef *td, void *orch);

/* Leaves every task running (a restart re-adopts them) and frees everything;
 * the loop must run once more to close handles. NULL is fine. */
void orch_free(struct orch *o);

/* The ECS operations (see the error convention above). */
int orch_run_task(struct orch *o, const struct run_task_request *req, struct run_task_result *ret,
		  struct orch_error *e);
int orch_stop_task(struct orch *o, const struct stop_task_request *req, struct task **ret_task,
		   struct orch_error *e);
int orch_describe_tasks(struct orch *o, const struct describe_tasks_request *req,
			struct describe_tasks_result *ret, struct orch_error *e);
int orch_list_tasks(struct orch *o, const struct list_tasks_request *req, struct orch_arn_page *ret,
		    struct orch_error *e);
int orch_create_service(struct orch *o, const struct create_service_request *req,
			struct service **ret_service, struct orch_error *e);
int orch_update_service(struct orch *o, const struct update_service_request *req,
			struct service **ret_service, struct orch_error *e);
int orch_delete_service(struct orch *o, const struct delete_service_request *req,
			struct service **ret_service, struct orch_error *e);
int orch_describe_services(struct orch *o, const struct describe_services_request *req,
			   struct describe_services_result *ret, struct orch_error *e);
int orch_list_services(struct orch *o, const struct list_services_request *req, struct orch_arn_page *ret,
		       struct orch_error *e);
/* tripline's own: the end of each container's output. */
int orch_get_task_logs(struct orch *o, const struct get_task_logs_request *req,
		       struct get_task_logs_result *ret, struct orch_error *e);

void orch_arn_page_clear(struct orch_arn_page *p);
void orch_task_logs_clear(struct get_task_logs_result *r);

/* What a task or service is, for callers of the typed API. */
const char *orch_task_arn(const struct task *t);
const char *orch_service_arn(const struct service *s);

/* Containers asked to start whose driver has not yet said whether they did
 * (a docker create in flight); a clean shutdown waits for these. */
size_t orch_launches_in_flight(const struct orch *o);

/* Whether s (a name or an ARN) names this cluster. */
bool orch_is_cluster(const struct orch *o, const char *s);

/* Counters and gauges for /metrics. */
struct orch_metrics {
	uint64_t tasks_by_state[5];     /* PROVISIONING, PENDING, RUNNING, DEPROVISIONING, STOPPED */
	uint64_t task_starts, task_stops, task_failures;  /* failures: TaskFailedToStart */
	uint64_t services, services_desired, services_running, services_pending;
	uint64_t events_emitted;
	uint64_t client_tokens, client_tokens_refused;   /* remembered now; refused: the store was full */
	uint64_t cpu_used, memory_used_mib;
};
#define ORCH_LAUNCH_BUCKETS {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

void orch_metrics(const struct orch *o, struct orch_metrics *m);

/* Whether a task definition's secret reference (valueFrom) may ever be
 * resolved here: true, or false with a reason for a person in why (it names
 * the reference and the rule, never a value). Only "env:NAME" references can
 * be refused: by secrets_env_allow and secrets_env_deny. */
bool orch_secret_ref_allowed(const struct orch *o, const char *ref, char *why, size_t whylen);
/* Registers the core's Prometheus families in m (the same on every call):
 * tripline_tasks{state}, tripline_services, tripline_service_tasks{kind=
 * "desired|running|pending"} (all services) and tripline_service_task_count
 * {service, kind} (each one), tripline_task_{starts,stops,failures}_total,
 * tripline_task_launch_seconds (histogram: RunTask accepted → every container
 * running), tripline_cluster_cpu_units / _memory_mib{kind="offered|reserved"},
 * tripline_ecs_events_total; with o, sets them from its state. From the
 * first call with o, o observes each launch into m's histogram: make it
 * before the loop runs. m must outlive o. */
void orch_metrics_update(struct orch *o, struct metrics *m);

#endif
