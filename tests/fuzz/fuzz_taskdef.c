/*
 * fuzz_taskdef.c — libFuzzer target for task definitions (engine/orch/taskdef.h):
 * RegisterTaskDefinition text registered into a registry persisted in a
 * temporary directory (on /dev/shm when there is one, so that fsync is cheap).
 *
 * Each input gets a fresh, empty registry. The text is either rejected with
 * every message naming where it came from ("fuzz: …"), or it is a valid
 * definition, which must then register (validation said it was valid, so
 * storing it must not fail) as revision 1 of its family, with its ARN, and
 * a `taskDefinition` JSON object that names the same family and revision.
 * It is found by family, by family:1 and by its ARN, listed once, then
 * deregistered (INACTIVE, no longer the family's latest ACTIVE). A second
 * registry opened on the same directory must load the stored file without
 * error and describe the same JSON. Nothing may crash, leak or trip the
 * sanitizers.
 */
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "errlist.h"
#include "taskdef.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void make_dir(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	snprintf(dir, sizeof(dir), "%s/fuzz_taskdef.XXXXXX", base);
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
}

static void empty_dir(void)
{
	cleanup();
	if (mkdir(dir, 0700) != 0)
		abort();
}

static int count_td(const struct taskdef *td, void *userdata)
{
	(void)td;
	++*(int *)userdata;
	return 0;
}

static int count_family(const char *family, void *userdata)
{
	(void)family;
	++*(int *)userdata;
	return 0;
}

static void check_registered(struct taskdef_registry *reg, const struct taskdef *td)
{
	char ref[600], arn[700];
	const struct taskdef *found = NULL;
	json_t *j;
	int n = 0;

	if (!td || td->revision != 1 || td->status != TASKDEF_STATUS_ACTIVE || !td->family || !td->json ||
	    !td->tags_json || td->n_containers < 1 || td->n_containers > TASKDEF_MAX_CONTAINERS)
		abort();
	snprintf(arn, sizeof(arn), "arn:aws:ecs:local:000000000000:task-definition/%s:1", td->family);
	if (!td->arn || strcmp(td->arn, arn) != 0)
		abort();
	for (size_t i = 0; i < td->n_containers; i++) {
		const struct taskdef_container *c = &td->containers[i];
		if (!c->name || (c->n_argv && !c->argv) || (c->argv && c->argv[c->n_argv] != NULL) ||
		    c->n_entry_point > c->n_argv)
			abort();
	}
	j = json_loads(td->json, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j) || !json_is_string(json_object_get(j, "family")) ||
	    strcmp(json_string_value(json_object_get(j, "family")), td->family) != 0 ||
	    json_integer_value(json_object_get(j, "revision")) != 1 ||
	    !json_is_array(json_object_get(j, "containerDefinitions")))
		abort();
	json_decref(j);
	j = json_loads(td->tags_json, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_array(j))
		abort();
	json_decref(j);

	snprintf(ref, sizeof(ref), "%s:1", td->family);
	if (taskdef_describe(reg, td->family, &found) != 0 || found != td ||
	    taskdef_describe(reg, ref, &found) != 0 || found != td || taskdef_describe(reg, arn, &found) != 0 ||
	    found != td)
		abort();
	if (taskdef_list(reg, NULL, TASKDEF_FILTER_ALL, false, NULL, 0, count_td, &n) != 0 || n != 1)
		abort();
	n = 0;
	if (taskdef_list_families(reg, td->family, TASKDEF_FILTER_ACTIVE, NULL, count_family, &n) != 0 || n != 1)
		abort();
	if (taskdef_deregister(reg, ref, &found) != 0 || found != td || td->status != TASKDEF_STATUS_INACTIVE ||
	    taskdef_describe(reg, td->family, &found) != -ENOENT)
		abort();
}

/* The stored file loads again, as the same definition. */
static void check_reopen(const struct taskdef *td)
{
	struct errlist errs = ERRLIST_INIT;
	struct taskdef_registry *again = NULL;
	const struct taskdef *found = NULL;
	char ref[600];

	if (taskdef_registry_open(dir, NULL, NULL, &again, &errs) != 0)
		abort();
	snprintf(ref, sizeof(ref), "%s:1", td->family);
	if (taskdef_describe(again, ref, &found) != 0 || found->status != TASKDEF_STATUS_INACTIVE ||
	    strcmp(found->json, td->json) != 0 || strcmp(found->tags_json, td->tags_json) != 0)
		abort();
	taskdef_registry_free(again);
	errlist_clear(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errlist errs = ERRLIST_INIT;
	struct taskdef_registry *reg = NULL;
	struct taskdef *parsed = NULL;
	const struct taskdef *td = NULL;
	int valid, r;

	if (!dir[0])
		make_dir();
	empty_dir();
	if (taskdef_registry_open(dir, NULL, NULL, &reg, &errs) != 0)
		abort();

	valid = taskdef_parse((const char *)data, size, "fuzz", &parsed, &errs);
	taskdef_free(parsed);
	errlist_clear(&errs);
	r = taskdef_register(reg, (const char *)data, size, "fuzz", &td, &errs);
	if (r == -ENOMEM || valid == -ENOMEM)
		goto out;
	if ((r == 0) != (valid == 0))
		abort();   /* parse and register disagree, or a valid definition could not be stored */
	if (r == 0) {
		check_registered(reg, td);
		check_reopen(td);
	} else {
		if (r != -EINVAL || (errs.n == 0 && errs.dropped == 0))
			abort();   /* a rejection says why */
		for (size_t i = 0; i < errs.n; i++)
			if (strncmp(errs.msgs[i], "fuzz: ", 6) != 0)
				abort();   /* every message names where the text came from */
	}
out:
	taskdef_registry_free(reg);
	errlist_clear(&errs);
	return 0;
}
