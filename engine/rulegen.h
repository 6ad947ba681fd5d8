/*
 * rulegen.h — a generation of rules: the loaded ruleset and, for each of its
 * targets, the target kind's prepared state (targets/target.h), built
 * together off the loop thread and swapped in whole.
 *
 * rulegen_build() runs on any thread (a reload uses uv_queue_work): it loads
 * and compiles the rule files, then prepares every target of every enabled
 * rule; any error (a rule file's, or a target's, e.g. a kind that is not
 * implemented) rejects the whole generation, each error as
 * `file: /json/pointer: message`.
 *
 * References are taken and dropped on the loop thread only: the bus holds
 * one for the current generation, every dispatch in flight one for the
 * generation it started with.
 */
#ifndef TRIPLINE_ENGINE_RULEGEN_H
#define TRIPLINE_ENGINE_RULEGEN_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "errlist.h"
#include "ruleset.h"

struct target_ops;
struct tripline_config;

struct rulegen {
	struct ruleset *rs;
	size_t *first;                    /* rules[i]'s targets are slots first[i] … first[i+1]-1 */
	const struct target_ops **ops;    /* per slot; NULL: a disabled rule's target */
	void **state;                     /* per slot: the ops' prepare() result */
	char **arns;                      /* each rule's ARN (rulegen_rule_arn()) */
	char **buses;                     /* the rules' EventBusNames, sorted, unique */
	size_t n_buses;
	unsigned refs;                    /* private */
	uv_loop_t *loop;                  /* private: where the last unref frees it */
};

/* Loads the rule paths (files or directories, as ruleset_load()) with cfg's
 * limits. 0 and *ret (one reference); -EINVAL with every error in errs;
 * -ENOMEM. */
int rulegen_build(const struct tripline_config *cfg, const char *const *paths, size_t npaths,
		  struct rulegen **ret, struct errlist *errs);
/* The same from a ruleset already loaded (its reference is taken over, also
 * on failure). */
int rulegen_from_ruleset(const struct tripline_config *cfg, struct ruleset *rs, struct rulegen **ret,
			 struct errlist *errs);

struct rulegen *rulegen_ref(struct rulegen *g);
/* NULL is fine. The last reference frees the generation — a large one
 * takes long to free, so with a loop set (rulegen_free_on()) that happens
 * on the loop's threadpool, not on the loop thread. */
void rulegen_unref(struct rulegen *g);
void rulegen_free_on(struct rulegen *g, uv_loop_t *loop);

/* The slot of rules[rule]'s target number target. */
static inline size_t rulegen_slot(const struct rulegen *g, uint32_t rule, uint32_t target)
{
	return g->first[rule] + target;
}

/* "arn:aws:events:REGION:ACCOUNT:rule/NAME" ("rule/BUS/NAME" off the default bus). */
int rulegen_rule_arn(const struct tripline_config *cfg, const struct rule *r, char *buf, size_t len);

#endif
