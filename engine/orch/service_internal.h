/*
 * service_internal.h — what the service files share (service.c: the
 * scheduler and deployments; service_api.c: the operations;
 * service_state.c: JSON, events and the state file). Private to engine/orch/.
 *
 * A service owns its deployments (the primary first) and its events (newest
 * first, at most ORCH_MAX_SERVICE_EVENTS). Tasks point at their service;
 * a service is freed only with the orchestrator, or when a new service
 * takes the name of an INACTIVE one (its tasks are unlinked first).
 */
#ifndef TRIPLINE_ORCH_SERVICE_INTERNAL_H
#define TRIPLINE_ORCH_SERVICE_INTERNAL_H

#include "orch_internal.h"

#define SERVICE_DEFAULT_GRACE_S 2
#define SERVICE_IMPAIRED_AFTER 3u
#define SERVICE_MAX_NAME 255

enum dep_status { DEP_PRIMARY, DEP_ACTIVE };
enum svc_status { SVC_ACTIVE, SVC_DRAINING, SVC_INACTIVE };
extern const char *const service_status_names[];

struct deployment {
	struct deployment *next;
	char id[40];
	const struct taskdef *td;
	enum dep_status status;
	const char *rollout;        /* "IN_PROGRESS", "COMPLETED", "FAILED" */
	char *rollout_reason;
	uint64_t created_wall_ms, updated_wall_ms;
	unsigned failed_tasks;
};

/* One entry of the service's events[], as DescribeServices shows it. */
struct service_event {
	char id[37];
	uint64_t created_wall_ms;
	char *message;
};

struct service {
	struct orch *o;
	struct service *next;
	char *name, *arn;
	enum svc_status status;
	unsigned desired;
	unsigned min_pct, max_pct;
	bool cb_enable, cb_rollback;
	int grace_s;                 /* -1: not set */
	enum orch_launch_type launch_type;   /* DEFAULT: the definition decides */
	struct deployment *deps;     /* the primary first */
	const struct taskdef *last_completed;
	struct service_event *events;        /* newest first */
	size_t n_events;
	uint64_t created_wall_ms;
	unsigned consecutive_failures;
	uint64_t next_launch_mono_ms;        /* 0: now */
	bool impaired_reported;
	char *placement_failure;     /* the last one reported */
	bool steady;
	bool dirty;
	/* the clientTokens of the updates applied (tripline's, for rules'
	 * relative changes), the newest SERVICE_MAX_APPLIED_TOKENS: kept in the
	 * service's state file with the change itself, so a crash between that
	 * file and the token's own file cannot apply a change twice;
	 * [{token, params, ttl, at}] */
	struct json_t *applied_tokens;
};
#define SERVICE_MAX_APPLIED_TOKENS 64u

/* service.c */
struct service_counts {
	unsigned pending, running;   /* desired RUNNING */
};
void service_count_deployment(const struct service *s, const struct deployment *d, struct service_counts *c);
struct deployment *service_deployment_new(struct service *s, const struct taskdef *td);
void service_deployment_free(struct deployment *d);
struct service *service_alloc(struct orch *o, const char *name);
void service_link(struct orch *o, struct service *s);
void service_unlink_free(struct orch *o, struct service *s);
void service_free(struct service *s);

/* service_state.c */
void service_add_event(struct service *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void service_emit_action(struct service *s, const char *event_name, const char *type, const char *reason);
void service_emit_deployment(struct service *s, const struct deployment *d, const char *event_name,
			     const char *reason);
/* service_write() is in orch_state.h */

#endif
