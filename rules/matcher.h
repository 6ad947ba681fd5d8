/*
 * matcher.h — all enabled patterns compiled into one structure.
 *
 * A matcher answers "which of these patterns match this event?" for JSON
 * text, without building a DOM of the event: a streaming scanner visits only
 * the subtrees some pattern mentions (validating, but not materialising, the
 * rest), and the work per event is proportional to the fields some pattern
 * mentions and the matches found, not to the number of patterns. See
 * matcher_internal.h for how, and which file does what.
 *
 * Lifecycle: matcher_builder_new() → matcher_builder_add()… →
 * matcher_build() (consumes the builder) → matcher_match()… → matcher_free().
 * A built matcher is immutable and may be shared by threads, each with its
 * own struct match_scratch.
 */
#ifndef TRIPLINE_RULES_MATCHER_H
#define TRIPLINE_RULES_MATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "pattern.h"

struct matcher;
struct matcher_builder;
struct match_scratch;

/* Limits on an event; 0 means the default. */
struct matcher_limits {
	size_t max_event_bytes;   /* default 1 MiB (EventBridge: 256 KiB) */
	uint32_t max_depth;       /* default 128 */
	size_t max_leaves;        /* leaf values recorded per event; default 100,000 */
};

struct matcher_builder *matcher_builder_new(const struct matcher_limits *lim);
/*
 * Adds pattern p under id (any value; several patterns may share an id). The
 * builder takes ownership of p, also on failure. 0 or -ENOMEM.
 */
int matcher_builder_add(struct matcher_builder *b, uint32_t id, struct pattern *p);
/* Compiles; consumes b whatever happens. 0 or -ENOMEM. */
int matcher_build(struct matcher_builder *b, struct matcher **ret);
void matcher_builder_free(struct matcher_builder *b);
void matcher_free(struct matcher *m);

/* Figures about the compiled structure, for benchmarks and `explain`. */
struct matcher_stats {
	size_t patterns;
	size_t branches;
	size_t states;
	size_t paths;
	size_t bytes;             /* heap held by the compiled structure, approximately */
};
void matcher_get_stats(const struct matcher *m, struct matcher_stats *ret);

struct match_scratch *match_scratch_new(void);
void match_scratch_free(struct match_scratch *s);

/*
 * Matches one event (JSON text of an object). On success returns the number
 * of distinct matching ids and points *ret_ids at them in ascending order
 * (valid until the next call with the same scratch). Returns -EINVAL when the
 * event is not valid JSON or not an object, -E2BIG when it exceeds a limit;
 * match_scratch_error() then says why, with the byte offset.
 */
int matcher_match(const struct matcher *m, const char *json, size_t len,
		  struct match_scratch *s, const uint32_t **ret_ids);
const char *match_scratch_error(const struct match_scratch *s);

#endif
