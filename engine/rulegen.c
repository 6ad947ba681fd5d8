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
	free(g->first);
	free(g->ops);
	free(g->state);
	ruleset_unref(g->rs);
	free(g);
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
				errlist_add(errs, ru->file, "/Targets/%zu/Arn: %s targets are not implemented yet",
					    t, target_kind_name(ru->targets[t].kind));
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

void rulegen_unref(struct rulegen *g)
{
	if (g && --g->refs == 0)
		gen_free(g);
}

int rulegen_rule_arn(const struct tripline_config *cfg, const struct rule *r, char *buf, size_t len)
{
	bool dflt = !r->event_bus || strcmp(r->event_bus, "default") == 0;
	int n = snprintf(buf, len, "arn:aws:events:%s:%s:rule/%s%s%s", cfg->region, cfg->account,
			 dflt ? "" : r->event_bus, dflt ? "" : "/", r->name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
