/*
 * taskdef_registry.c — the task definition registry: families of numbered
 * revisions, their files, lookup by reference, listings, limits, deletion.
 *
 * How: families are kept sorted by name (binary search); a family holds
 * revs[r - 1] up to the highest revision ever assigned, and counts the
 * revisions present. Registering checks the size of the text, validates
 * with taskdef_parse(), checks the family and revision limits, takes the
 * family's next revision, renders the ARN, the registry's members and the
 * JSON texts into the definition, writes its file and only then adds it to
 * memory; deregistering and deleting flip the status, rewrite the file and
 * put everything back when that fails. A sweep frees the DELETE_IN_PROGRESS
 * revisions nothing holds (the in-use callback says) and removes their
 * files. Opening reads every `*.json` of the directory through
 * taskdef_parse_stored(), checks that the file's name matches the family
 * and revision it holds, and recomputes taskDefinitionArn from the
 * configured region and account; a file that fails is moved to corrupt/
 * beside the directory.
 *
 * Contract: never logs (problems go to the caller's error list); the
 * registry owns its definitions; revision numbers only grow within a
 * family that has revisions.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* asprintf */
#endif
#include "taskdef_internal.h"
#include "statefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errlist.h"
#include "readfile.h"

struct family {
	char *name;
	struct taskdef **revs;  /* revs[r - 1]; NULL for a revision not on disk */
	unsigned n_revs;        /* the highest revision ever assigned */
	unsigned n_present;     /* revisions in revs */
};

struct taskdef_registry {
	char *dir;
	char *region;
	char *account;
	struct family *families;  /* sorted by name; each with a revision, but
				   * for a moment while one is registered */
	size_t n_families;
	size_t cap_families;
	struct taskdef_limits limits;
	bool sweeping;            /* taskdef_registry_set_in_use() was called */
	taskdef_in_use_fn in_use;
	void *in_use_data;
};

/* Fills arn, revision members, json and tags_json from td->doc; and, when
 * ret_file is non-NULL, the text to persist (response shape + tags). */
static int render(const struct taskdef_registry *reg, struct taskdef *td, char **ret_file)
{
	json_t *d = td->doc, *tags;
	char *arn = NULL, *json = NULL, *tags_json = NULL, *file = NULL;
	int r = -ENOMEM;

	if (asprintf(&arn, "arn:aws:ecs:%s:%s:task-definition/%s:%u", reg->region, reg->account,
		     td->family, td->revision) < 0) {
		arn = NULL;
		goto out_free;
	}
	tags = json_incref(json_object_get(d, "tags"));
	if (json_object_set_new(d, "taskDefinitionArn", json_string(arn)) < 0 ||
	    json_object_set_new(d, "revision", json_integer(td->revision)) < 0 ||
	    json_object_set_new(d, "status", json_string(taskdef_status_name(td->status))) < 0 ||
	    json_object_set_new(d, "registeredAt", json_integer(td->registered_at)) < 0)
		goto out_tags;
	if (td->deregistered_at &&
	    json_object_set_new(d, "deregisteredAt", json_integer(td->deregistered_at)) < 0)
		goto out_tags;
	if (ret_file && !(file = json_dumps(d, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
		goto out_tags;
	json_object_del(d, "tags");
	json = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
	tags_json = json_dumps(tags, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (json_object_set(d, "tags", tags) < 0 || !json || !tags_json)
		goto out_tags;
	free(td->arn);
	free(td->json);
	free(td->tags_json);
	td->arn = arn;
	td->json = json;
	td->tags_json = tags_json;
	arn = json = tags_json = NULL;
	if (ret_file) {
		*ret_file = file;
		file = NULL;
	}
	r = 0;
out_tags:
	json_decref(tags);
out_free:
	free(arn);
	free(json);
	free(tags_json);
	free(file);
	return r;
}

/* A revision's file name: <family>.<revision>.json, or for a family of more
 * than STATEFILE_KEY_MAX characters <prefix>~<16 hex digits>.<revision>.json
 * (statefile_name()). */
#define FILE_NAME_MAX STATEFILE_NAME_MAX

static int file_name(const char *family, unsigned revision, char name[FILE_NAME_MAX])
{
	char suffix[24];

	snprintf(suffix, sizeof(suffix), ".%u.json", revision);
	return statefile_name(family, suffix, name);
}

/* Crash-safe replace of the revision's file (fsync'd: a registration must
 * survive a power loss). */
static int persist(const struct taskdef_registry *reg, const struct taskdef *td, const char *text)
{
	char name[FILE_NAME_MAX];
	int r;

	if (!reg->dir)
		return 0;
	if ((r = file_name(td->family, td->revision, name)) < 0)
		return r;
	return statefile_write(reg->dir, name, text, strlen(text), true);
}

static struct family *find_family(const struct taskdef_registry *reg, const char *name,
				  size_t *ret_pos)
{
	size_t lo = 0, hi = reg->n_families;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(reg->families[mid].name, name);

		if (c == 0)
			return &reg->families[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (ret_pos)
		*ret_pos = lo;
	return NULL;
}

static struct family *get_family(struct taskdef_registry *reg, const char *name)
{
	size_t pos = 0;
	struct family *f = find_family(reg, name, &pos);

	if (f)
		return f;
	if (reg->n_families == reg->cap_families) {
		size_t cap = reg->cap_families ? reg->cap_families * 2 : 8;
		struct family *g = realloc(reg->families, cap * sizeof(*g));

		if (!g)
			return NULL;
		reg->families = g;
		reg->cap_families = cap;
	}
	f = &reg->families[pos];
	memmove(f + 1, f, (reg->n_families - pos) * sizeof(*f));
	memset(f, 0, sizeof(*f));
	f->name = strdup(name);
	if (!f->name) {
		memmove(f, f + 1, (reg->n_families - pos) * sizeof(*f));
		return NULL;
	}
	reg->n_families++;
	return f;
}

/* Removes f, which holds no revision, from the registry. */
static void drop_family(struct taskdef_registry *reg, struct family *f)
{
	size_t pos = (size_t)(f - reg->families);

	free(f->revs);
	free(f->name);
	memmove(f, f + 1, (reg->n_families - pos - 1) * sizeof(*f));
	reg->n_families--;
}

/* Makes room for revision rev in f (rev ≥ 1). */
static int reserve_rev(struct family *f, unsigned rev)
{
	struct taskdef **g;

	if (rev <= f->n_revs)
		return 0;
	g = realloc(f->revs, rev * sizeof(*g));
	if (!g)
		return -ENOMEM;
	memset(g + f->n_revs, 0, (rev - f->n_revs) * sizeof(*g));
	f->revs = g;
	f->n_revs = rev;
	return 0;
}

/* Loads one file: 0, -EINVAL when the file is not a valid definition of
 * this name (its problems in errs), or another negative errno. */
static int load_file(struct taskdef_registry *reg, const char *path, const char *name,
		     struct errlist *errs)
{
	char *text = NULL, *expect = NULL;
	struct taskdef *td = NULL;
	struct family *f;
	size_t len = 0;
	int r;

	r = readfile(path, TASKDEF_MAX_FILE_BYTES, NULL, &text, &len);
	if (r < 0) {
		if (r == -EFBIG)
			errlist_add(errs, path, "larger than %zu bytes", TASKDEF_MAX_FILE_BYTES);
		else if (r == -EISDIR)
			errlist_add(errs, path, "not a regular file");
		else if (r != -ENOMEM)
			errlist_add(errs, path, "cannot read: %s", strerror(-r));
		if (r == -EFBIG || r == -EISDIR || r == -ENOENT || r == -ELOOP)
			r = -EINVAL;   /* the file, not the disk: moved aside */
		goto out_free;
	}
	r = taskdef_parse_stored(text, len, path, &td, errs);
	if (r < 0)
		goto out_free;
	r = -ENOMEM;
	expect = malloc(FILE_NAME_MAX);
	if (!expect || file_name(td->family, td->revision, expect) < 0)
		goto out_free;
	if (strcmp(expect, name)) {
		errlist_add(errs, path, "holds %s:%u, so it must be named %s", td->family,
			    td->revision, expect);
		r = -EINVAL;
		goto out_free;
	}
	f = get_family(reg, td->family);
	if (!f || reserve_rev(f, td->revision) < 0 || render(reg, td, NULL) < 0)
		goto out_free;
	f->revs[td->revision - 1] = td;
	f->n_present++;
	td = NULL;
	r = 0;
out_free:
	taskdef_free(td);
	free(expect);
	free(text);
	return r;
}

/* Loads <dir>/<name>; a file that is not a valid definition goes to
 * <dir>/../corrupt. 0 or negative errno. */
static int load_or_move_aside(struct taskdef_registry *reg, const char *name, struct errlist *errs)
{
	char *path = NULL, *corrupt = NULL, dest[4096];
	const char *slash = strrchr(reg->dir, '/');
	int r = -ENOMEM;

	if (asprintf(&path, "%s/%s", reg->dir, name) < 0) {
		path = NULL;
		goto out_free;
	}
	if (asprintf(&corrupt, "%.*s%scorrupt", slash ? (int)(slash - reg->dir) : 0, reg->dir,
		     slash ? "/" : "") < 0) {
		corrupt = NULL;
		goto out_free;
	}
	r = load_file(reg, path, name, errs);
	if (r != -EINVAL)
		goto out_free;
	r = statefile_move_aside(path, corrupt, dest, sizeof(dest));
	if (r < 0)
		errlist_add(errs, path, "cannot be moved aside to %s: %s", corrupt, strerror(-r));
	else
		errlist_add(errs, path, "not loaded: moved to %s", dest);
out_free:
	free(corrupt);
	free(path);
	return r;
}

int taskdef_registry_open(const char *dir, const char *region, const char *account,
			  struct taskdef_registry **ret_reg, struct errlist *errs)
{
	struct taskdef_registry *reg;
	struct dirent *de;
	DIR *d = NULL;
	int r = -ENOMEM;

	*ret_reg = NULL;
	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	taskdef_registry_set_limits(reg, &(struct taskdef_limits){0});
	reg->region = strdup(region ? region : TASKDEF_DEFAULT_REGION);
	reg->account = strdup(account ? account : TASKDEF_DEFAULT_ACCOUNT);
	if (!reg->region || !reg->account || (dir && !(reg->dir = strdup(dir))))
		goto out_free;
	if (dir) {
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			errlist_add(errs, dir, "cannot create: %s", strerror(errno));
			goto out_free;
		}
		d = opendir(dir);
		if (!d) {
			r = -errno;
			errlist_add(errs, dir, "cannot open: %s", strerror(errno));
			goto out_free;
		}
		while ((de = readdir(d))) {
			size_t n = strlen(de->d_name);

			if (statefile_is_temp(de->d_name))
				unlinkat(dirfd(d), de->d_name, 0);   /* a write a crash cut short */
			if (de->d_name[0] == '.' || n < 5 || strcmp(de->d_name + n - 5, ".json"))
				continue;
			r = load_or_move_aside(reg, de->d_name, errs);
			if (r < 0)
				goto out_free;
		}
	}
	*ret_reg = reg;
	reg = NULL;
	r = 0;
out_free:
	if (d)
		closedir(d);
	taskdef_registry_free(reg);
	return r;
}

void taskdef_registry_free(struct taskdef_registry *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n_families; i++) {
		for (unsigned k = 0; k < reg->families[i].n_revs; k++)
			taskdef_free(reg->families[i].revs[k]);
		free(reg->families[i].revs);
		free(reg->families[i].name);
	}
	free(reg->families);
	free(reg->dir);
	free(reg->region);
	free(reg->account);
	free(reg);
}

void taskdef_registry_set_limits(struct taskdef_registry *reg, const struct taskdef_limits *lim)
{
	reg->limits.max_bytes = lim->max_bytes ? lim->max_bytes : TASKDEF_MAX_FILE_BYTES;
	reg->limits.max_families = lim->max_families ? lim->max_families : UINT32_MAX;
	reg->limits.max_revisions = lim->max_revisions && lim->max_revisions < TASKDEF_MAX_REVISIONS
					    ? lim->max_revisions
					    : TASKDEF_MAX_REVISIONS;
}

void taskdef_registry_set_in_use(struct taskdef_registry *reg, taskdef_in_use_fn fn, void *userdata)
{
	reg->sweeping = true;
	reg->in_use = fn;
	reg->in_use_data = userdata;
}

/* Whether another revision fits in family f (NULL: a new family); errs
 * says why not. */
static bool within_limits(const struct taskdef_registry *reg, const struct family *f, const char *family,
			  const char *where, struct errlist *errs)
{
	where = where ? where : "request";
	if (!f && reg->n_families >= reg->limits.max_families) {
		errlist_add(errs, where,
			    "/family: %s would be a new family, and there are already %u "
			    "(limits.max_task_definition_families); delete the revisions of one "
			    "(DeregisterTaskDefinition, DeleteTaskDefinitions) to make room",
			    family, reg->limits.max_families);
		return false;
	}
	if (f && f->n_present >= reg->limits.max_revisions) {
		errlist_add(errs, where,
			    "/family: %s already has %u revisions (limits.max_task_definition_revisions); "
			    "deregister and delete old ones (DeleteTaskDefinitions) to make room",
			    family, f->n_present);
		return false;
	}
	if (f && f->n_revs >= TASKDEF_MAX_REVISIONS) {
		errlist_add(errs, where, "/family: %s has used all %u revision numbers", family,
			    TASKDEF_MAX_REVISIONS);
		return false;
	}
	return true;
}

int taskdef_register(struct taskdef_registry *reg, const char *text, size_t len,
		     const char *where, const struct taskdef **ret_td, struct errlist *errs)
{
	struct taskdef *td = NULL;
	struct family *f;
	char *file = NULL;
	bool fresh;
	int r;

	if (ret_td)
		*ret_td = NULL;
	if (len > reg->limits.max_bytes) {
		errlist_add(errs, where ? where : "request",
			    "the task definition is %zu bytes, more than the %zu allowed "
			    "(limits.max_task_definition_bytes)",
			    len, reg->limits.max_bytes);
		return -EINVAL;
	}
	r = taskdef_parse(text, len, where, &td, errs);
	if (r < 0)
		return r;
	taskdef_registry_sweep(reg);
	f = find_family(reg, td->family, NULL);
	fresh = !f;
	if (!within_limits(reg, f, td->family, where, errs)) {
		r = -EINVAL;
		goto out_free;
	}
	f = get_family(reg, td->family);
	if (!f) {
		r = -ENOMEM;
		goto out_free;
	}
	td->revision = f->n_revs + 1;
	td->status = TASKDEF_STATUS_ACTIVE;
	td->registered_at = (int64_t)time(NULL);
	r = render(reg, td, &file);
	if (r == 0 && (r = persist(reg, td, file)) == -EINVAL)
		r = -EIO;   /* -EINVAL means the caller's definition */
	if (r == 0)
		r = reserve_rev(f, td->revision);   /* on failure, on disk but not in memory: the next open has it */
	if (r < 0) {
		if (fresh)
			drop_family(reg, f);
		goto out_free;
	}
	f->revs[td->revision - 1] = td;
	f->n_present++;
	if (ret_td)
		*ret_td = td;
	td = NULL;
out_free:
	free(file);
	taskdef_free(td);
	return r;
}

/* Splits a reference into family and revision (0 when none). */
static int parse_ref(const struct taskdef_registry *reg, const char *ref, char *family,
		     unsigned *ret_rev)
{
	char prefix[256];
	const char *colon, *name = ref;
	size_t flen;
	long long rev = 0;

	snprintf(prefix, sizeof(prefix), "arn:aws:ecs:%s:%s:task-definition/", reg->region,
		 reg->account);
	if (!strncmp(ref, "arn:", 4)) {
		if (strncmp(ref, prefix, strlen(prefix)))
			return -ENOENT;
		name = ref + strlen(prefix);
	}
	colon = strchr(name, ':');
	flen = colon ? (size_t)(colon - name) : strlen(name);
	if (!taskdef_valid_name(name, flen))
		return -EINVAL;
	if (colon &&
	    (!taskdef_parse_int(colon + 1, &rev) || rev < 1 || rev > TASKDEF_MAX_REVISIONS))
		return -EINVAL;
	memcpy(family, name, flen);
	family[flen] = '\0';
	*ret_rev = (unsigned)rev;
	return 0;
}

static int lookup(const struct taskdef_registry *reg, const char *ref, bool need_rev,
		  struct taskdef **ret_td)
{
	char family[TASKDEF_NAME_MAX + 1];
	unsigned rev;
	struct family *f;
	int r = parse_ref(reg, ref, family, &rev);

	*ret_td = NULL;
	if (r < 0)
		return r;
	if (need_rev && rev == 0)
		return -EINVAL;
	f = find_family(reg, family, NULL);
	if (!f)
		return -ENOENT;
	if (rev) {
		if (rev > f->n_revs || !f->revs[rev - 1])
			return -ENOENT;
		*ret_td = f->revs[rev - 1];
		return 0;
	}
	for (unsigned k = f->n_revs; k > 0; k--)
		if (f->revs[k - 1] && f->revs[k - 1]->status == TASKDEF_STATUS_ACTIVE) {
			*ret_td = f->revs[k - 1];
			return 0;
		}
	return -ENOENT;
}

int taskdef_describe(const struct taskdef_registry *reg, const char *ref,
		     const struct taskdef **ret_td)
{
	struct taskdef *td;
	int r = lookup(reg, ref, false, &td);

	*ret_td = td;
	return r;
}

/* Moves td from status from to status to, persisted; everything is put
 * back when the file cannot be written. */
static int change_status(struct taskdef_registry *reg, struct taskdef *td, enum taskdef_status to)
{
	enum taskdef_status from = td->status;
	int64_t dereg = td->deregistered_at;
	char *file = NULL;
	int r;

	td->status = to;
	if (!td->deregistered_at)
		td->deregistered_at = (int64_t)time(NULL);
	r = render(reg, td, &file);
	if (r == 0)
		r = persist(reg, td, file);
	free(file);
	if (r < 0) {
		td->status = from;
		td->deregistered_at = dereg;
		if (!dereg)
			json_object_del(td->doc, "deregisteredAt");
		render(reg, td, NULL);
	}
	return r;
}

int taskdef_deregister(struct taskdef_registry *reg, const char *ref,
		       const struct taskdef **ret_td)
{
	struct taskdef *td;
	int r = lookup(reg, ref, true, &td);

	if (ret_td)
		*ret_td = NULL;
	if (r < 0)
		return r;
	if (td->status == TASKDEF_STATUS_ACTIVE && (r = change_status(reg, td, TASKDEF_STATUS_INACTIVE)) < 0)
		return r;
	if (ret_td)
		*ret_td = td;
	return 0;
}

int taskdef_delete(struct taskdef_registry *reg, const char *ref, const struct taskdef **ret_td)
{
	struct taskdef *td;
	int r = lookup(reg, ref, true, &td);

	if (ret_td)
		*ret_td = NULL;
	if (r < 0)
		return r;
	if (td->status == TASKDEF_STATUS_ACTIVE)
		return -EBUSY;
	if (td->status == TASKDEF_STATUS_INACTIVE &&
	    (r = change_status(reg, td, TASKDEF_STATUS_DELETE_IN_PROGRESS)) < 0)
		return r;
	if (ret_td)
		*ret_td = td;
	return 0;
}

size_t taskdef_registry_sweep(struct taskdef_registry *reg)
{
	size_t removed = 0;

	if (!reg->sweeping)
		return 0;
	for (size_t i = reg->n_families; i-- > 0;) {
		struct family *f = &reg->families[i];

		for (unsigned k = 0; k < f->n_revs; k++) {
			struct taskdef *td = f->revs[k];
			char name[FILE_NAME_MAX], path[4096 + FILE_NAME_MAX];

			/* the family's highest revision stays while others do: its
			 * file is what carries the revision count across a restart */
			if (!td || td->status != TASKDEF_STATUS_DELETE_IN_PROGRESS ||
			    (k + 1 == f->n_revs && f->n_present > 1) ||
			    (reg->in_use && reg->in_use(td, reg->in_use_data)))
				continue;
			if (reg->dir) {
				if (file_name(td->family, td->revision, name) < 0)
					continue;
				snprintf(path, sizeof(path), "%s/%s", reg->dir, name);
				if (unlink(path) < 0 && errno != ENOENT)
					continue;
			}
			taskdef_free(td);
			f->revs[k] = NULL;
			f->n_present--;
			removed++;
		}
		if (f->n_present == 0)
			drop_family(reg, f);
	}
	return removed;
}

static bool passes(const struct taskdef *td, enum taskdef_filter filter)
{
	switch (filter) {
	case TASKDEF_FILTER_ACTIVE:
		return td->status == TASKDEF_STATUS_ACTIVE;
	case TASKDEF_FILTER_INACTIVE:
		return td->status == TASKDEF_STATUS_INACTIVE;
	case TASKDEF_FILTER_DELETE_IN_PROGRESS:
		return td->status == TASKDEF_STATUS_DELETE_IN_PROGRESS;
	case TASKDEF_FILTER_ALL:
		break;
	}
	return true;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return !prefix || !strncmp(s, prefix, strlen(prefix));
}

/* The index of family after (inclusive) or of the first one after it (NULL: 0). */
static size_t first_from(const struct taskdef_registry *reg, const char *after, bool inclusive)
{
	size_t pos = 0;
	const struct family *f = after ? find_family(reg, after, &pos) : NULL;

	return f ? (size_t)(f - reg->families) + !inclusive : pos;
}

/* Calls fn for f's revisions below index top (descending) or from index
 * from (ascending) that pass filter. */
static int list_revs(const struct family *f, enum taskdef_filter filter, bool descending, unsigned from,
		     taskdef_list_fn fn, void *userdata)
{
	for (unsigned n = from; n < f->n_revs; n++) {
		unsigned k = descending ? f->n_revs - 1 - n : n;
		int r;

		if (!f->revs[k] || !passes(f->revs[k], filter))
			continue;
		if ((r = fn(f->revs[k], userdata)))
			return r;
	}
	return 0;
}

int taskdef_list(const struct taskdef_registry *reg, const char *family_prefix,
		 enum taskdef_filter filter, bool descending, const char *after_family,
		 unsigned after_revision, taskdef_list_fn fn, void *userdata)
{
	size_t start = first_from(reg, after_family, true), n = reg->n_families;

	if (descending && after_family) {
		/* first_from() gives the family itself or the first one past it */
		const struct family *f = start < n ? &reg->families[start] : NULL;
		start = n - start - (f && !strcmp(f->name, after_family) ? 1 : 0);
	} else if (descending) {
		start = 0;
	}
	for (size_t i = start; i < n; i++) {
		const struct family *f = &reg->families[descending ? n - 1 - i : i];
		bool same = after_family && !strcmp(f->name, after_family);
		unsigned from = 0;
		int r;

		if (!has_prefix(f->name, family_prefix))
			continue;
		if (same)   /* the revisions after after_revision in this order */
			from = !descending ? after_revision
			       : after_revision <= f->n_revs ? f->n_revs - after_revision + 1 : 0;
		if ((r = list_revs(f, filter, descending, from, fn, userdata)))
			return r;
	}
	return 0;
}

int taskdef_list_families(const struct taskdef_registry *reg, const char *family_prefix,
			  enum taskdef_filter filter, const char *after_family, taskdef_family_fn fn,
			  void *userdata)
{
	for (size_t i = first_from(reg, after_family, false); i < reg->n_families; i++) {
		const struct family *f = &reg->families[i];
		bool active = false;
		int r;

		if (!has_prefix(f->name, family_prefix))
			continue;
		for (unsigned k = 0; k < f->n_revs; k++)
			active |= f->revs[k] && f->revs[k]->status == TASKDEF_STATUS_ACTIVE;
		if (filter != TASKDEF_FILTER_ALL && active != (filter == TASKDEF_FILTER_ACTIVE))
			continue;
		r = fn(f->name, userdata);
		if (r)
			return r;
	}
	return 0;
}
