/*
 * taskdef_internal.h — what taskdef.c (validation) and taskdef_registry.c
 * (revisions, files, lookup) share. Private to engine/orch/; taskdef.h is
 * the public header.
 */
#ifndef TRIPLINE_ORCH_TASKDEF_INTERNAL_H
#define TRIPLINE_ORCH_TASKDEF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "taskdef.h"

#define TASKDEF_NAME_MAX 255                      /* family, container and volume names */
#define TASKDEF_MAX_FILE_BYTES ((size_t)1 << 20)  /* a definition's text, request or file */

/* 1 to TASKDEF_NAME_MAX letters, digits, hyphens or underscores. */
bool taskdef_valid_name(const char *s, size_t len);

/* Integer text only ("-"? digits); false for fractions, exponents, overflow. */
bool taskdef_parse_int(const char *s, long long *ret);

/*
 * taskdef_parse() for a registry file named path: additionally accepts and
 * reads the registry's own members (taskDefinitionArn, revision, status and
 * registeredAt required; deregisteredAt optional).
 */
int taskdef_parse_stored(const char *text, size_t len, const char *path, struct taskdef **ret_td,
			 struct errlist *errs);

#endif
