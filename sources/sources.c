/*
 * sources.c — the source kinds, driven together (sources.h).
 */
#include "sources.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static const struct source_ops *const kinds[] = {&source_fs, &source_schedule, &source_webhook};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

struct sources {
	struct source *state[N_KINDS];   /* NULL: none of that kind configured */
	bool stopped;
};

int sources_start(const struct source_env *env, struct sources **ret, char *err, size_t errlen)
{
	struct sources *ss = calloc(1, sizeof(*ss));
	char why[512];

	*ret = NULL;
	if (!ss)
		return -ENOMEM;
	for (size_t i = 0; i < N_KINDS; i++) {
		why[0] = '\0';
		int r = kinds[i]->start(env, &ss->state[i], why, sizeof(why));
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", kinds[i]->kind, why[0] ? why : strerror(-r));
			/* the kinds started so far are stopped; their memory goes
			 * with sources_free() once the loop has closed their handles */
			sources_stop(ss);
			*ret = ss;
			return r;
		}
	}
	*ret = ss;
	return 0;
}

void sources_rules_changed(struct sources *ss, struct rulegen *gen)
{
	for (size_t i = 0; ss && !ss->stopped && i < N_KINDS; i++)
		if (ss->state[i] && kinds[i]->rules_changed)
			kinds[i]->rules_changed(ss->state[i], gen);
}

bool sources_http(struct sources *ss, const struct http_request *req, struct http_response *resp)
{
	for (size_t i = 0; ss && i < N_KINDS; i++) {
		const char *prefix = kinds[i]->http_prefix;
		if (!prefix || strncmp(req->path, prefix, strlen(prefix)) != 0)
			continue;
		if (ss->state[i] && !ss->stopped) {
			kinds[i]->http(ss->state[i], req, resp);
			return true;
		}
		return false;   /* the kind is not configured: the caller's 404 */
	}
	return false;
}

bool sources_health(struct sources *ss, json_t *components)
{
	bool ok = true;

	for (size_t i = 0; ss && i < N_KINDS; i++)
		if (ss->state[i] && kinds[i]->health && !kinds[i]->health(ss->state[i], components))
			ok = false;
	return ok;
}

void sources_metrics(struct sources *ss, struct metrics *m)
{
	for (size_t i = 0; ss && i < N_KINDS; i++)
		if (ss->state[i] && kinds[i]->metrics)
			kinds[i]->metrics(ss->state[i], m);
}

void sources_stop(struct sources *ss)
{
	if (!ss || ss->stopped)
		return;
	ss->stopped = true;
	for (size_t i = 0; i < N_KINDS; i++)
		if (ss->state[i])
			kinds[i]->stop(ss->state[i]);
}

void sources_free(struct sources *ss)
{
	if (!ss)
		return;
	sources_stop(ss);
	for (size_t i = 0; i < N_KINDS; i++)
		if (ss->state[i])
			kinds[i]->destroy(ss->state[i]);
	free(ss);
}
