/*
 * rulegen.c — a generation of rules: the ruleset and its targets' prepared
 * states (rulegen.h).
 *
 * Building touches nothing shared (the configuration is read-only), so it
 * runs on a threadpool thread during a reload; reference counts are only
 * touched on the loop thread.
 */
#include "rulegen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "target.h"

static void gen_free(struct rulegen *g)
{
	if (!g)
		return;
	if (g->rs && g->first) {
		size_t slots = g->first[g->rs->n];
		for (size_t i = 0; i < slots; i++)
			if (g->ops && g->ops[i] && g->ops[i]->release && g->state[i])
				g->ops[i]->release(g->state[i]);
	}
	for (size_t i = 0; g->arns && g->rs && i < g->rs->n; i++)
		free(g->arns[i]);
	free(g->arns);
	for (size_t i = 0; i < g->n_buses; i++)
		free(g->buses[i]);
	free(g->buses);
	free(g->first);
	free(g->ops);
	free(g->state);
	ruleset_unref(g->rs);
	free(g);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rules' bus names, sorted and unique: done here, off the loop. */
static int collect_buses(struct rulegen *g)
{
	const struct ruleset *rs = g->rs;
	const char **all = calloc(rs->n ? rs->n : 1, sizeof(*all));
	size_t u = 0;

	if (!all || !(g->buses = calloc(rs->n ? rs->n : 1, sizeof(*g->buses)))) {
		free(all);
		return -ENOMEM;
	}
	for (size_t i = 0; i < rs->n; i++)
		all[i] = rs->rules[i].event_bus ? rs->rules[i].event_bus : "default";
	qsort(all, rs->n, sizeof(*all), cmp_str);
	for (size_t i = 0; i < rs->n; i++) {
		if (u && strcmp(g->buses[u - 1], all[i]) == 0)
			continue;
		if (!(g->buses[u] = strdup(all[i]))) {
			free(all);
			g->n_buses = u;
			return -ENOMEM;
		}
		u++;
	}
	g->n_buses = u;
	free(all);
	return 0;
}

int rulegen_from_ruleset(const struct tripline_config *cfg, struct ruleset *rs, struct rulegen **ret,
			 struct errlist *errs)
{
	struct rulegen *g = calloc(1, sizeof(*g));
	size_t slots = 0;
	int rc = 0;

	*ret = NULL;
	if (!g) {
		ruleset_unref(rs);
		return -ENOMEM;
	}
	g->refs = 1;
	g->rs = rs;
	if (!(g->first = calloc(rs->n + 1, sizeof(*g->first)))) {
		gen_free(g);
		return -ENOMEM;
	}
	for (size_t i = 0; i < rs->n; i++) {
		g->first[i] = slots;
		slots += rs->rules[i].ntargets;
	}
	g->first[rs->n] = slots;
	g->ops = calloc(slots ? slots : 1, sizeof(*g->ops));
	g->state = calloc(slots ? slots : 1, sizeof(*g->state));
	if (!g->ops || !g->state) {
		gen_free(g);
		return -ENOMEM;
	}
	for (size_t i = 0; i < rs->n && rc != -ENOMEM; i++) {
		const struct rule *ru = &rs->rules[i];
		if (!ru->enabled)
			continue;
		for (size_t t = 0; t < ru->ntargets && rc != -ENOMEM; t++) {
			const struct target_ops *ops = target_ops_for(ru->targets[t].kind);
			size_t slot = g->first[i] + t;
			if (!ops) {
				errlist_add(errs, ru->file, "%s/Targets/%zu/Arn: %s targets are not implemented yet",
					    ru->where ? ru->where : "", t, target_kind_name(ru->targets[t].kind));
				rc = -EINVAL;
				continue;
			}
			g->ops[slot] = ops;
			if (ops->prepare) {
				int r = ops->prepare(cfg, ru, t, &g->state[slot], errs);
				if (r < 0)
					rc = rc == -ENOMEM ? rc : r;
			}
		}
	}
	if (rc == 0)
		rc = collect_buses(g);
	if (rc == 0 && !(g->arns = calloc(rs->n ? rs->n : 1, sizeof(*g->arns))))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < rs->n; i++) {
		char arn[2048];
		if (!cfg)
			snprintf(arn, sizeof(arn), "rule/%s", rs->rules[i].name);
		else if (rulegen_rule_arn(cfg, &rs->rules[i], arn, sizeof(arn)) < 0)
			snprintf(arn, sizeof(arn), "rule/%.64s", rs->rules[i].name);
		if (!(g->arns[i] = strdup(arn)))
			rc = -ENOMEM;
	}
	if (rc < 0) {
		gen_free(g);
		return rc;
	}
	*ret = g;
	return 0;
}

int rulegen_build(const struct tripline_config *cfg, const char *const *paths, size_t npaths,
		  struct rulegen **ret, struct errlist *errs)
{
	struct ruleset_options opt = {0};
	struct ruleset *rs = NULL;
	int r;

	*ret = NULL;
	opt.matcher.max_event_bytes = (size_t)cfg->limits.max_event_bytes;
	if ((r = ruleset_load(paths, npaths, &opt, &rs, errs)) < 0)
		return r;
	return rulegen_from_ruleset(cfg, rs, ret, errs);
}

struct rulegen *rulegen_ref(struct rulegen *g)
{
	g->refs++;
	return g;
}

static void free_work(uv_work_t *w)
{
	gen_free(w->data);
}

static void free_done(uv_work_t *w, int status)
{
	(void)status;
	free(w);
}

void rulegen_unref(struct rulegen *g)
{
	if (!g || --g->refs > 0)
		return;
	uv_work_t *w = g->loop ? calloc(1, sizeof(*w)) : NULL;
	if (w) {
		w->data = g;
		if (uv_queue_work(g->loop, w, free_work, free_done) == 0)
			return;
		free(w);
	}
	gen_free(g);
}

void rulegen_free_on(struct rulegen *g, uv_loop_t *loop)
{
	g->loop = loop;
}

int rulegen_rule_arn(const struct tripline_config *cfg, const struct rule *r, char *buf, size_t len)
{
	bool dflt = !r->event_bus || strcmp(r->event_bus, "default") == 0;
	int n = snprintf(buf, len, "arn:aws:events:%s:%s:rule/%s%s%s", cfg->region, cfg->account,
			 dflt ? "" : r->event_bus, dflt ? "" : "/", r->name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
