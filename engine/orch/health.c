/*
 * health.c — container health checks, as ECS runs them: the first probe 1 s
 * after the container starts, then one every `interval` seconds; a probe
 * that fails during `startPeriod` does not count; `retries` failures in a
 * row make the container UNHEALTHY, one success makes it HEALTHY again. The
 * task is HEALTHY when every essential container with a check is, UNHEALTHY
 * when one of them is.
 *
 * CMD probes are exec'd from the definition's argv; CMD-SHELL runs
 * /bin/sh -c with the definition author's text (never event data). The
 * driver runs the probe in the container's context (driver.h's probe()).
 */
#include "orch_internal.h"

#include <stdlib.h>
#include <string.h>

static void on_probe(void *arg, int code)
{
	struct tcontainer *c = arg;
	const struct taskdef_health *hc = &c->def->health;
	c->probing = false;
	if (c->status != TS_RUNNING)
		return;
	uint64_t age = orch_mono_ms(c->task->orch) - c->started_mono_ms;
	if (code == 0) {
		c->health_failures = 0;
		c->health = HEALTH_HEALTHY;
	} else if (age >= (uint64_t)hc->start_period * 1000u || c->health == HEALTH_HEALTHY) {
		if (++c->health_failures >= (unsigned)hc->retries)
			c->health = HEALTH_UNHEALTHY;
	}
	orch_health_update_task(c->task);
	orch_health_schedule(c, (uint64_t)hc->interval * 1000u);
}

static void on_health_timer(uv_timer_t *h)
{
	struct tcontainer *c = h->data;
	const struct taskdef_health *hc = &c->def->health;
	char *argv[130];
	size_t n = 0;

	if (c->status != TS_RUNNING || !c->h || c->probing)
		return;
	const char *kind = hc->command[0];
	if (strcmp(kind, "CMD-SHELL") == 0) {
		/* the definition author's shell text, never event data */
		static char sh[] = "/bin/sh", dash_c[] = "-c";
		argv[n++] = sh;
		argv[n++] = dash_c;
		argv[n++] = hc->command[1];
	} else {
		size_t first = strcmp(kind, "CMD") == 0 ? 1 : 0;
		for (size_t i = first; i < hc->n_command && n < 128; i++)
			argv[n++] = hc->command[i];
	}
	argv[n] = NULL;
	if (n == 0 || c->task->drv->ops->probe(c->h, argv, (unsigned)hc->timeout, on_probe, c) < 0) {
		on_probe(c, -1);
		return;
	}
	c->probing = true;
}

void orch_health_schedule(struct tcontainer *c, uint64_t delay_ms)
{
	if (!c->health_timer) {
		c->health_timer = malloc(sizeof(*c->health_timer));
		if (!c->health_timer)
			return;
		uv_timer_init(c->task->orch->loop, c->health_timer);
		c->health_timer->data = c;
	}
	uv_timer_start(c->health_timer, on_health_timer, delay_ms, 0);
}

void orch_health_update_task(struct task *t)
{
	enum health h = HEALTH_UNKNOWN;
	bool any = false, all_healthy = true;
	for (size_t i = 0; i < t->nc; i++) {
		const struct tcontainer *c = &t->c[i];
		if (!c->def->essential || !c->def->health.present)
			continue;
		any = true;
		if (c->health == HEALTH_UNHEALTHY) {
			h = HEALTH_UNHEALTHY;
			all_healthy = false;
			break;
		}
		if (c->health != HEALTH_HEALTHY)
			all_healthy = false;
	}
	if (h != HEALTH_UNHEALTHY && any && all_healthy)
		h = HEALTH_HEALTHY;
	if (h == t->health)
		return;
	t->health = h;
	orch_task_mark(t);
	if (t->service)
		orch_want_converge(t->orch);
}
