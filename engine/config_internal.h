/*
 * config_internal.h — what the parts of the configuration parser share:
 * config.c (the document, most sections, defaults, loading),
 * config_sources.c (sources, trusted_proxies) and config_delivery.c (the
 * event loop's sections: buses, services, connections, journal, delivery,
 * the bus limits). Not for other callers:
 * config.h is the configuration's interface.
 *
 * The getters follow common/jcheck.h: each checks one member, reports what
 * is wrong at its pointer, and changes the config only when the value is
 * good (replacing the default, which it frees).
 */
#ifndef TRIPLINE_ENGINE_CONFIG_INTERNAL_H
#define TRIPLINE_ENGINE_CONFIG_INTERNAL_H

#include "config.h"
#include "jcheck.h"
#include "json.h"

#define CONFIG_MAX_PATHS 256u
#define CONFIG_MAX_ITEMS 256u     /* clusters, auth keys, connections, buses, sources of each kind */

/* Replaces *dst (a default or NULL) with a copy of s[0..n). */
void config_set_str(struct jcheck *c, char **dst, const char *s, size_t n);
/* Sets *ret when present and an integer in [lo, hi]; reported otherwise. */
void config_take_int(struct jcheck *c, const struct jnode *obj, const char *key, int64_t lo,
		     int64_t hi, uint64_t *ret);
/* Copies a secret reference member over *dst when present and well-formed. */
void config_take_secret_ref(struct jcheck *c, const struct jnode *obj, const char *key,
			    unsigned flags, char **dst);
/* Items of the path lists (rules, task_definitions, services): non-empty, without NUL. */
bool config_path_ok(const char *s, size_t n);
/* A string array member of min to max items passing item_ok, copied over *dst. */
void config_take_string_array(struct jcheck *c, const struct jnode *obj, const char *key,
			      unsigned flags, size_t min, size_t max,
			      bool (*item_ok)(const char *s, size_t n), const char *item_sentence,
			      struct config_strv *dst);
/* An optional object member: its fields checked against known, then handed
 * to each_fn with the pointer at it. */
void config_with_object(struct jcheck *c, const struct jnode *obj, const char *key,
			const char *const *known, struct tripline_config *cfg,
			void (*each_fn)(struct jcheck *c, const struct jnode *o,
					struct tripline_config *cfg));
/* Copies a non-empty string member over *dst when present and good. */
void config_take_string(struct jcheck *c, const struct jnode *obj, const char *key, unsigned flags, char **dst);
/* Index of the string member in names, dflt when absent or bad (reported). */
int config_get_enum(struct jcheck *c, const struct jnode *obj, const char *key, const char *const *names,
		    int dflt);
/* The items of an optional array of objects under obj's key: NULL when
 * absent or not an array (reported); at most CONFIG_MAX_ITEMS. */
const struct jnode *config_object_array(struct jcheck *c, const struct jnode *obj, const char *key);
/* Whether m is the last member of obj with its key (earlier ones are duplicates). */
bool config_is_last(const struct jnode *obj, const struct jmember *m);
void config_strv_free(struct config_strv *v);
/* free() after wiping: secret references may hold a value: literally. */
void config_free_secret(char *s);

/* config_sources.c */
/* The sources object (config_with_object's each_fn). */
void config_sources_fn(struct jcheck *c, const struct jnode *o, struct tripline_config *cfg);
/* The root's trusted_proxies. */
void config_trusted_proxies(struct jcheck *c, const struct jnode *root, struct tripline_config *cfg);
void config_sources_free(struct tripline_config *cfg);

/* config_delivery.c */
#define CONFIG_DELIVERY_ROOT_FIELDS "buses", "services", "connections", "journal", "delivery"
#define CONFIG_DELIVERY_LIMITS_FIELDS "bus_queue", "max_event_depth"

void config_delivery_defaults(struct tripline_config *cfg);
/* limits.bus_queue and limits.max_event_depth, with the pointer at /limits. */
void config_delivery_limits(struct jcheck *c, const struct jnode *limits, struct tripline_config *cfg);
/* The root's buses, services, connections, journal and delivery; runs after
 * the limits (journal.max_bytes is checked against limits.max_event_bytes). */
void config_delivery_check(struct jcheck *c, const struct jnode *root, struct tripline_config *cfg);
void config_delivery_free(struct tripline_config *cfg);

#endif
