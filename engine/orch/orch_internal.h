/*
 * orch_internal.h — what orch.c (tasks, placement, state, events) and
 * service.c (the service scheduler) share. Not a public interface.
 *
 * Ownership: struct orch owns every task and service. A task points at its
 * service (weak: a service is only freed once no task refers to it) and at a
 * struct taskdef owned by the registry. Tasks live in one list, newest last;
 * services in another. STOPPED tasks are freed by the reaper after
 * ORCH_STOPPED_TASK_TTL_S.
 */
#ifndef TRIPLINE_ORCH_INTERNAL_H
#define TRIPLINE_ORCH_INTERNAL_H

#include "driver.h"
#include "orch.h"
#include "taskdef.h"

enum task_status {
	TS_PROVISIONING,
	TS_PENDING,
	TS_RUNNING,
	TS_DEPROVISIONING,
	TS_STOPPED,
};

enum stop_code {
	SC_NONE,
	SC_TASK_FAILED_TO_START,
	SC_ESSENTIAL_CONTAINER_EXITED,
	SC_USER_INITIATED,
	SC_SERVICE_SCHEDULER_INITIATED,
};

enum health {
	HEALTH_UNKNOWN,
	HEALTH_HEALTHY,
	HEALTH_UNHEALTHY,
};

struct task;

struct tcontainer {
	struct task *task;
	const struct taskdef_container *def;
	char *name;
	enum task_status status;       /* PENDING (not launched / launching), RUNNING, STOPPED */
	bool launched;                 /* launch() was called */
	struct drv_container *h;       /* while launched and not released */
	char *runtime_id;
	int exit_code;                 /* -1: none / unknown */
	bool has_exit_code;
	char *reason;
	enum health health;
	unsigned health_failures;
	uv_timer_t *health_timer;      /* heap; closed asynchronously */
	bool probing;
	char **cmd_override;           /* NULL-terminated, or NULL */
	json_t *env_override;          /* [{name, value}] or NULL */
	int cpu_override, memory_override;   /* 0: none */
	uint64_t started_ms;
};

struct service;
struct deployment;

struct task {
	struct orch *orch;
	struct task *prev, *next;
	char id[33];
	char *arn;
	const struct taskdef *td;
	char *group, *started_by;
	struct service *service;       /* NULL for a standalone task */
	char *deployment_id;           /* the service deployment it belongs to */
	enum task_status last, desired;
	enum stop_code stop_code;
	char *stopped_reason;
	enum health health;
	uint64_t version;
	uint64_t created_ms, started_ms, stopping_ms, stopped_ms, healthy_ms;
	uint32_t cpu;                  /* reserved while not STOPPED */
	uint64_t memory_mib;
	const struct driver_ops *drv;
	char *launch_type;             /* "EC2", "FARGATE", "EXTERNAL" */
	json_t *overrides;             /* as requested, echoed by DescribeTasks */
	struct tcontainer *c;
	size_t nc;
	bool ever_healthy;             /* for the service scheduler */
	bool counted_failure;
	bool dirty;                    /* to be written */
	bool gone;                     /* removed from the list, freed at the end of the turn */
};

struct orch_event_list;

struct orch {
	uv_loop_t *loop;
	struct orch_config cfg;        /* strings copied below */
	char *cluster_name, *region, *account, *data_dir, *secrets_file, *cluster_arn;
	char *instance_arn;
	struct taskdef_registry *taskdefs;
	struct driver *drv_process, *drv_docker;
	struct drv_events drv_events;
	struct task *tasks_head, *tasks_tail;
	size_t n_tasks, n_active;      /* all; not STOPPED */
	struct service *services;      /* singly linked, creation order */
	size_t n_services;
	json_t *client_tokens;         /* token → {"at": ms, "tasks": [ids]} */
	uint64_t cpu_used, memory_used;
	uv_timer_t tick;               /* 1 s: reaper, log rotation, service convergence */
	uv_check_t flush;              /* writes dirty state at the end of each loop turn */
	bool converge_pending;
	bool any_dirty;                /* some task has dirty set */
	struct orch_metrics m;
	uint64_t event_seq;
	int closing;                   /* handles still closing in orch_free() */
};

/* orch.c */
uint64_t orch_now_ms(void);
void orch_emit(struct orch *o, const char *detail_type, json_t *resources, json_t *detail);
void orch_task_mark(struct task *t);   /* state changed: persist + event */
void orch_task_dirty(struct task *t);  /* to be written at the end of this loop turn */
void orch_task_stop(struct task *t, enum stop_code code, const char *reason);
void orch_want_converge(struct orch *o);
struct task *orch_launch_task(struct orch *o, const struct taskdef *td, const char *group,
			      const char *started_by, struct service *svc, const char *deployment_id,
			      const json_t *overrides, const char *launch_type, struct orch_error *e,
			      const char **ret_failure);
void orch_set_error(struct orch_error *e, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
json_t *orch_task_json(const struct task *t);
/* Request checks; each fills e and returns false on a bad member. */
bool orch_check_cluster(struct orch *o, const json_t *req, struct orch_error *e);
bool orch_opt_string(const json_t *req, const char *key, size_t max, const char **ret, struct orch_error *e);
bool orch_opt_int(const json_t *req, const char *key, json_int_t lo, json_int_t hi, json_int_t *ret,
		  struct orch_error *e);
const char *orch_task_status_name(enum task_status s);

/* service.c */
void service_task_stopped(struct service *s, struct task *t);
void service_task_started(struct service *s, struct task *t);
void service_converge_all(struct orch *o);
int service_load_all(struct orch *o, char *err, size_t errlen);
struct service *service_find(struct orch *o, const char *name_or_arn);
void service_free_all(struct orch *o);
void service_metrics(const struct orch *o, struct orch_metrics *m);
void service_metrics_text(const struct orch *o, FILE *f);
const char *service_name(const struct service *s);
const char *service_arn(const struct service *s);

#endif
