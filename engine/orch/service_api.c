/*
 * service_api.c — the service operations of orch.h: CreateService,
 * UpdateService, DeleteService, DescribeServices and ListServices.
 *
 * Each checks its request in ECS's words and changes nothing when a check
 * fails. A change is written to the service's state file before the call
 * returns and the scheduler converges at the end of the loop turn (a
 * deletion converges at once, so its answer shows DRAINING tasks stopping).
 * UpdateService with a clientToken (tripline's: a rule's relative change)
 * applies once: a token remembered (client_token.c, across restarts) answers
 * with the service as it is and changes nothing; one remembered for another
 * kind of call or service is a ConflictException.
 */
#include "service_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch_state.h"
#include "privilege.h"

#define LIST_SERVICES_DEFAULT 10
#define LIST_MAX 100

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SERVICE_MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* deploymentConfiguration and healthCheckGracePeriodSeconds into s (only
 * what the request sets); nothing changes when a value is refused. */
static bool apply_config(struct service *s, const struct orch_deployment_config *dc, struct orch_error *e)
{
	int64_t min = dc->has_minimum_healthy_percent ? dc->minimum_healthy_percent : s->min_pct;
	int64_t max = dc->has_maximum_percent ? dc->maximum_percent : s->max_pct;
	int64_t grace = dc->has_health_check_grace_period ? dc->health_check_grace_period_s : s->grace_s;

	if (!orch_check_int("minimumHealthyPercent", min, 0, 100, e) ||
	    !orch_check_int("maximumPercent", max, 100, 200, e) ||
	    (dc->has_health_check_grace_period &&
	     !orch_check_int("healthCheckGracePeriodSeconds", grace, 0, 2147483647, e)))
		return false;
	if (max <= min) {
		orch_set_error(e, "InvalidParameterException",
			       "maximumPercent (%lld) must be above minimumHealthyPercent (%lld), or no deployment could make progress",
			       (long long)max, (long long)min);
		return false;
	}
	s->min_pct = (unsigned)min;
	s->max_pct = (unsigned)max;
	if (dc->has_circuit_breaker) {
		s->cb_enable = dc->circuit_breaker_enable;
		s->cb_rollback = dc->circuit_breaker_rollback;
	}
	s->grace_s = (int)grace;
	return true;
}

int orch_create_service(struct orch *o, const struct create_service_request *req, struct service **ret_service,
			struct orch_error *e)
{
	const struct taskdef *td;

	*ret_service = NULL;
	if (!orch_check_cluster(o, req->cluster, e) ||
	    !orch_check_string("serviceName", req->service_name, ORCH_MAX_REF, e) ||
	    !orch_check_string("taskDefinition", req->task_definition, ORCH_MAX_REF, e) ||
	    (req->has_desired_count &&
	     !orch_check_int("desiredCount", req->desired_count, 0, ORCH_MAX_SERVICE_DESIRED, e)))
		return -1;
	if (!req->service_name || !valid_name(req->service_name)) {
		orch_set_error(e, "InvalidParameterException",
			       "serviceName is required: up to 255 letters, digits, hyphens and underscores");
		return -1;
	}
	if (!req->task_definition) {
		orch_set_error(e, "InvalidParameterException", "taskDefinition is required");
		return -1;
	}
	if (!req->has_desired_count) {
		orch_set_error(e, "InvalidParameterException", "desiredCount is required");
		return -1;
	}
	if (!orch_active_taskdef(o, req->task_definition, &td, e) ||
	    !orch_taskdef_allowed(o, td, req->launch_type, e))
		return -1;
	struct service *old = service_find(o, req->service_name);
	if (old && old->status != SVC_INACTIVE) {
		orch_set_error(e, "InvalidParameterException", "Creation of service was not idempotent.");
		return -1;
	}
	if (!old && o->n_services >= ORCH_MAX_SERVICES) {
		orch_set_error(e, "ClientException", "too many services (at most %u)", ORCH_MAX_SERVICES);
		return -1;
	}
	struct service *s = service_alloc(o, req->service_name);
	if (!s) {
		orch_set_error(e, "ServerException", "out of memory");
		return -1;
	}
	if (!apply_config(s, &req->config, e)) {
		service_free(s);
		return -1;
	}
	if (old)
		service_unlink_free(o, old);   /* an INACTIVE service of that name */
	s->desired = (unsigned)req->desired_count;
	s->created_wall_ms = orch_wall_ms(o);
	/* EC2 is the default: the definition decides, as for a service without one */
	s->launch_type = req->launch_type == ORCH_LAUNCH_EC2 ? ORCH_LAUNCH_DEFAULT : req->launch_type;
	service_link(o, s);
	service_deployment_new(s, td);
	service_add_event(s, "(service %s) was created with %u desired tasks of %s.", s->name, s->desired, td->arn);
	int r = service_write(s);
	if (r < 0) {
		/* not on disk, so not created: a restart would not know it */
		service_unlink_free(o, s);
		orch_set_error(e, "ServerException", "cannot store the service: %s", strerror(-r));
		return -1;
	}
	orch_want_converge(o);
	*ret_service = s;
	return 0;
}

/* An UpdateService token: 1 remembered (nothing to do), 0 new (params set),
 * -1 with e filled (a token of another call, the store full). */
static int token_check(struct orch *o, const struct service *s, const char *token,
		       char params[CLIENT_TOKEN_PARAMS_LEN + 1], struct orch_error *e)
{
	char text[ORCH_MAX_NAME + 32], ids[1][33];
	size_t n;
	bool mismatch;
	int len = snprintf(text, sizeof(text), "UpdateService\n%s", s->name);

	if (!orch_check_string("clientToken", token, ORCH_MAX_CLIENT_TOKEN, e))
		return -1;
	if (client_token_digest(text, (size_t)len, params) < 0) {
		orch_set_error(e, "ServerException", "out of memory");
		return -1;
	}
	if (client_tokens_get(o->tokens, token, params, orch_mono_ms(o), ids, 0, &n, &mismatch)) {
		if (!mismatch)
			return 1;
		orch_set_error(e, "ConflictException",
			       "The provided clientToken is already in use with a different request. "
			       "Use a unique clientToken.");
		return -1;
	}
	return orch_client_token_room(o, e) ? 0 : -1;
}

int orch_update_service(struct orch *o, const struct update_service_request *req, struct service **ret_service,
			struct orch_error *e)
{
	const struct taskdef *td = NULL;

	*ret_service = NULL;
	if (!orch_check_cluster(o, req->cluster, e) || !orch_check_string("service", req->service, ORCH_MAX_REF, e) ||
	    !orch_check_string("taskDefinition", req->task_definition, ORCH_MAX_REF, e) ||
	    (req->has_desired_count &&
	     !orch_check_int("desiredCount", req->desired_count, 0, ORCH_MAX_SERVICE_DESIRED, e)))
		return -1;
	if (!req->service) {
		orch_set_error(e, "InvalidParameterException", "service is required");
		return -1;
	}
	struct service *s = service_find(o, req->service);
	if (!s) {
		orch_set_error(e, "ServiceNotFoundException", "Service not found.");
		return -1;
	}
	if (s->status != SVC_ACTIVE) {
		orch_set_error(e, "ServiceNotActiveException", "Service was not ACTIVE.");
		return -1;
	}
	char params[CLIENT_TOKEN_PARAMS_LEN + 1];
	if (req->client_token) {
		int k = token_check(o, s, req->client_token, params, e);
		if (k < 0)
			return -1;
		if (k > 0) {
			*ret_service = s;   /* applied already */
			return 0;
		}
	}
	if (req->task_definition && (!orch_active_taskdef(o, req->task_definition, &td, e) ||
				     !orch_taskdef_allowed(o, td, s->launch_type, e)))
		return -1;
	unsigned min = s->min_pct, max = s->max_pct;
	bool en = s->cb_enable, rb = s->cb_rollback;
	int grace = s->grace_s;
	if (!apply_config(s, &req->config, e))
		return -1;
	if (min != s->min_pct || max != s->max_pct || en != s->cb_enable || rb != s->cb_rollback || grace != s->grace_s)
		s->dirty = true;
	if (req->has_desired_count && (unsigned)req->desired_count != s->desired) {
		service_add_event(s, "(service %s) desired count changed from %u to %lld.", s->name, s->desired,
				  (long long)req->desired_count);
		s->desired = (unsigned)req->desired_count;
		s->steady = false;
		s->consecutive_failures = 0;
		s->next_launch_mono_ms = 0;
	}
	if ((td && td != s->deps->td) || req->force_new_deployment) {
		struct deployment *d = service_deployment_new(s, td ? td : s->deps->td);
		if (!d) {
			orch_set_error(e, "ServerException", "out of memory");
			return -1;
		}
		service_add_event(s, "(service %s) started deployment %s of %s.", s->name, d->id, d->td->arn);
	}
	if (req->client_token) {   /* written with the change (service_internal.h) */
		if (!s->applied_tokens)
			s->applied_tokens = json_array();
		json_array_append_new(s->applied_tokens,
				      json_pack("{s:s,s:s,s:I,s:I}", "token", req->client_token, "params", params,
						"ttl", (json_int_t)req->client_token_ttl_s, "at",
						(json_int_t)orch_wall_ms(o)));
		while (json_array_size(s->applied_tokens) > SERVICE_MAX_APPLIED_TOKENS)
			json_array_remove(s->applied_tokens, 0);
	}
	int r = service_write(s);
	orch_want_converge(o);
	if (req->client_token)
		client_tokens_put(o->tokens, req->client_token, params, orch_mono_ms(o), orch_wall_ms(o),
				  req->client_token_ttl_s, NULL, 0);
	if (r < 0) {
		/* in effect, and written once the disk allows (the tick retries) */
		orch_set_error(e, "ServerException", "the update is in effect but cannot be stored yet: %s",
			       strerror(-r));
		return -1;
	}
	*ret_service = s;
	return 0;
}

int orch_delete_service(struct orch *o, const struct delete_service_request *req, struct service **ret_service,
			struct orch_error *e)
{
	*ret_service = NULL;
	if (!orch_check_cluster(o, req->cluster, e) || !orch_check_string("service", req->service, ORCH_MAX_REF, e))
		return -1;
	if (!req->service) {
		orch_set_error(e, "InvalidParameterException", "service is required");
		return -1;
	}
	struct service *s = service_find(o, req->service);
	if (!s || s->status == SVC_INACTIVE) {
		orch_set_error(e, "ServiceNotFoundException", "Service not found.");
		return -1;
	}
	if (s->desired > 0 && !req->force) {
		orch_set_error(e, "InvalidParameterException",
			       "The service cannot be stopped while it is scaled above 0.");
		return -1;
	}
	s->status = SVC_DRAINING;
	s->desired = 0;
	service_add_event(s, "(service %s) is being deleted.", s->name);
	service_converge(s);
	int r = service_write(s);
	if (r < 0) {
		orch_set_error(e, "ServerException", "the deletion is in effect but cannot be stored yet: %s",
			       strerror(-r));
		return -1;
	}
	*ret_service = s;
	return 0;
}

int orch_describe_services(struct orch *o, const struct describe_services_request *req,
			   struct describe_services_result *ret, struct orch_error *e)
{
	memset(ret, 0, sizeof(*ret));
	if (!orch_check_cluster(o, req->cluster, e))
		return -1;
	if (req->n_services > ORCH_MAX_DESCRIBE_SERVICES) {
		orch_set_error(e, "InvalidParameterException", "services must be a list of 1 to 10 names or ARNs");
		return -1;
	}
	for (size_t i = 0; i < req->n_services; i++) {
		const char *ref = req->services[i] ? req->services[i] : "";
		struct service *s = service_find(o, ref);
		if (s)
			ret->services[ret->n_services++] = s;
		else
			ret->failures[ret->n_failures++] = (struct orch_failure){ref, "MISSING", NULL};
	}
	return 0;
}

int orch_list_services(struct orch *o, const struct list_services_request *req, struct orch_arn_page *ret,
		       struct orch_error *e)
{
	int64_t max = req->has_max_results ? req->max_results : LIST_SERVICES_DEFAULT;
	size_t start = 0, idx = 0;

	memset(ret, 0, sizeof(*ret));
	if (!orch_check_cluster(o, req->cluster, e) || !orch_check_int("maxResults", max, 1, LIST_MAX, e) ||
	    !orch_check_string("nextToken", req->next_token, ORCH_MAX_REF, e))
		return -1;
	if (!orch_page_start(req->next_token, o->n_services, &start, e))
		return -1;
	ret->arns = calloc((size_t)max, sizeof(*ret->arns));
	if (!ret->arns) {
		orch_set_error(e, "ServerException", "out of memory");
		return -1;
	}
	const struct service *s;
	for (s = o->services; s; s = s->next, idx++) {
		if (idx < start || s->status == SVC_INACTIVE)
			continue;
		if (ret->n >= (size_t)max)
			break;
		ret->arns[ret->n++] = s->arn;
	}
	if (s)
		snprintf(ret->next_token, sizeof(ret->next_token), "%zu", idx);
	return 0;
}
