/*
 * target_fixture.h — what the target tests share: a rule with one target
 * made by hand (the way the rule loader leaves it), an event, and one
 * attempt of a target run on a real loop until it is done.
 */
#ifndef TRIPLINE_TESTS_TARGET_FIXTURE_H
#define TRIPLINE_TESTS_TARGET_FIXTURE_H

#include <stdbool.h>

#include <uv.h>

#include "event.h"
#include "ruleset.h"
#include "target.h"

/* A string literal where the config's and the rule's structs hold char *. */
static inline char *tf_mut(const char *s)
{
	union {
		const char *c;
		char *m;
	} u = {.c = s};
	return u.m;
}

struct tf_rule {
	struct rule rule;
	struct rule_target target;
};

/* A rule "name" in file "rules.json" whose one target (Id "t") is json. */
void tf_rule_init(struct tf_rule *r, const char *name, enum target_kind kind, const char *resource,
		  const char *json, enum target_input input);

/* An event from the test's envelope text, depth as given. */
struct event *tf_event(const char *json, uint32_t depth);

struct tf_result {
	bool done;
	enum target_outcome outcome;
	char code[64];
	char message[1024];
};

/* Prepares (must succeed), invokes once with input (NULL: the event) and
 * token, runs the loop until done (20 s at most), releases. */
void tf_run(const struct target_env *env, struct tf_rule *r, struct event *ev, const char *input,
	    const char *token, struct tf_result *res);
/* The same with a state prepared already. */
void tf_invoke(const struct target_env *env, struct tf_rule *r, void *state, struct event *ev, const char *input,
	       const char *token, struct tf_result *res);

/* Runs loop until cond(arg) or 20 s pass; false on the deadline. The loop
 * must have a repeating timer of its own (the fixture's guard) so that a
 * deadline is noticed. */
bool tf_wait(uv_loop_t *loop, bool (*cond)(void *arg), void *arg);

#endif
