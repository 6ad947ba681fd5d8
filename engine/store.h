/*
 * store.h — the delivery state store (DESIGN.md §7): what dispatches share
 * about the past, behind an ops table so a shared store (Redis) can replace
 * the embedded in-memory one (store_memory.c) without the dispatcher
 * knowing.
 *
 *   claim(key, window)        dedup: the first claim of a key within window
 *                             seconds wins (1); later ones see it taken (0);
 *   release(key)              forgets a claim (a dispatch that was not
 *                             delivered gives its key back, so a redelivery
 *                             or a redrive may try again);
 *   take(key, rate, burst)    a token bucket of `burst` tokens refilled at
 *                             `rate` per second: a token taken (wait 0), or
 *                             how many milliseconds until one will be there
 *                             (nothing taken, nothing reserved).
 *
 * Answers come through callbacks, so a store may ask a server: done runs
 * exactly once, from inside the call (the memory store always does) or later
 * from the loop — unless the store is freed first. Errors are -errno:
 * -ENOSPC when the store is full and refuses to remember more (it never
 * silently forgets a live entry), -ENOMEM, a server's -EIO.
 *
 * Lifecycle: a kind's constructor → calls… → store_free(). Loop thread only.
 */
#ifndef TRIPLINE_ENGINE_STORE_H
#define TRIPLINE_ENGINE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct metrics;
struct store;

/* result: 1 claimed, 0 already claimed (a duplicate), or -errno. */
typedef void (*store_claim_fn)(void *arg, int result);
/* result: 0 and wait_ms (0: a token was taken; else none was), or -errno. */
typedef void (*store_take_fn)(void *arg, int result, uint64_t wait_ms);

struct store_ops {
	const char *name;   /* "memory", "redis" */
	void (*claim)(struct store *s, const char *key, uint32_t window_s, store_claim_fn done, void *arg);
	void (*release)(struct store *s, const char *key);
	void (*take)(struct store *s, const char *key, double per_second, uint32_t burst, store_take_fn done,
		     void *arg);
	void (*free)(struct store *s);
};

/* Every store starts with this member; the rest is the kind's. */
struct store {
	const struct store_ops *ops;
};

static inline void store_claim(struct store *s, const char *key, uint32_t window_s, store_claim_fn done, void *arg)
{
	s->ops->claim(s, key, window_s, done, arg);
}

static inline void store_release(struct store *s, const char *key)
{
	s->ops->release(s, key);
}

static inline void store_take(struct store *s, const char *key, double per_second, uint32_t burst,
			      store_take_fn done, void *arg)
{
	s->ops->take(s, key, per_second, burst, done, arg);
}

/* NULL is fine. */
static inline void store_free(struct store *s)
{
	if (s)
		s->ops->free(s);
}

/* ------------------------------------------------------------ the in-memory store */

#define STORE_MEMORY_DEFAULT_MAX_ENTRIES 100000u

struct store_memory_config {
	uint32_t max_entries;        /* live claims and buckets; 0: STORE_MEMORY_DEFAULT_MAX_ENTRIES */
	struct metrics *metrics;     /* tripline_store_entries, tripline_store_refused_total{op};
					may be NULL */
	/* the clock, in monotonic milliseconds; NULL: uv_now(loop) (tests pass their own) */
	uint64_t (*now_ms)(void *arg);
	void *now_arg;
};

/*
 * The embedded store: everything in this process (so a restart forgets
 * claims and buckets). Entries expire on their own (a claim after its
 * window, a bucket once it would be full again) and the live ones are
 * capped: past max_entries a new claim or bucket is refused with -ENOSPC,
 * counted in tripline_store_refused_total{op}. Answers come from inside the
 * call. 0 and *ret, or -ENOMEM.
 */
int store_memory_new(uv_loop_t *loop, const struct store_memory_config *cfg, struct store **ret);
/* Live entries (tests, health). */
size_t store_memory_entries(const struct store *s);

#endif
