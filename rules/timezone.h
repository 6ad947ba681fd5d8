/*
 * timezone.h — what schedule.c uses of timezone.c besides the
 * schedule_zone_*() functions schedule.h declares. Private to rules/.
 */
#ifndef TRIPLINE_RULES_TIMEZONE_H
#define TRIPLINE_RULES_TIMEZONE_H

#include <stdbool.h>
#include <stdint.h>

#include "schedule.h"

/*
 * Maps wall-clock seconds to UTC in zone z (NULL: UTC). Returns true with the
 * first instant at which the clock shows `wall`; false when it never does (a
 * gap), with the instant `wall` would be had the clock not jumped, i.e.
 * `wall` moved later by the length of the gap.
 */
bool timezone_resolve(const struct schedule_zone *z, int64_t wall, int64_t *ret_t);

#endif
