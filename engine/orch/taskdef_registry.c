/*
 * taskdef_registry.c — the task definition registry: families of numbered
 * revisions, their files, lookup by reference, listings.
 *
 * How: families are kept sorted by name (binary search); a family holds
 * revs[r - 1] up to the highest revision ever assigned. Registering
 * validates with taskdef_parse(), takes the family's next revision, renders
 * the ARN, the registry's members and the JSON texts into the definition,
 * writes its file and only then adds it to memory; deregistering flips the
 * status, rewrites the file and puts everything back when that fails.
 * Opening reads every `*.json` of the directory through
 * taskdef_parse_stored(), checks that the file's name matches the
 * family and revision it holds, and recomputes taskDefinitionArn from the
 * configured region and account.
 *
 * Contract: never logs; the registry owns its definitions; revision numbers
 * only grow; an open that meets an invalid file loads nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* asprintf */
#endif
#include "taskdef_internal.h"
#include "statefile.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "digest.h"
#include "errlist.h"
#include "readfile.h"

struct family {
	char *name;
	struct taskdef **revs;  /* revs[r - 1]; NULL for a revision not on disk */
	unsigned n_revs;        /* the highest revision ever assigned */
};

struct taskdef_registry {
	char *dir;
	char *region;
	char *account;
	struct family *families;  /* sorted by name */
	size_t n_families;
	size_t cap_families;
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

/* A revision's file name: <family>.<revision>.json. A family too long for
 * that to fit in a file name (ECS allows 255 characters) keeps its first
 * FILE_FAMILY_MAX characters and a digest of the whole name:
 * <prefix>~<16 hex digits>.<revision>.json. */
#define FILE_FAMILY_MAX 200u
#define FILE_NAME_MAX (FILE_FAMILY_MAX + 1 + 16 + 1 + 10 + 5 + 1)

static int file_name(const char *family, unsigned revision, char name[FILE_NAME_MAX])
{
	size_t n = strlen(family);
	unsigned char h[DIGEST_SHA256_LEN];
	char hex[DIGEST_SHA256_HEX_LEN + 1];

	if (n <= FILE_FAMILY_MAX) {
		snprintf(name, FILE_NAME_MAX, "%s.%u.json", family, revision);
		return 0;
	}
	int r = digest_sha256(family, n, h);
	if (r < 0)
		return r;
	digest_hex(h, sizeof(h), hex);
	snprintf(name, FILE_NAME_MAX, "%.*s~%.16s.%u.json", (int)FILE_FAMILY_MAX, family, hex, revision);
	return 0;
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

static int load_file(struct taskdef_registry *reg, const char *name, struct errlist *errs)
{
	char *path = NULL, *text = NULL, *expect = NULL;
	struct taskdef *td = NULL;
	struct family *f;
	size_t len = 0;
	int r = -ENOMEM;

	if (asprintf(&path, "%s/%s", reg->dir, name) < 0) {
		path = NULL;
		goto out_free;
	}
	r = readfile(path, TASKDEF_MAX_FILE_BYTES, NULL, &text, &len);
	if (r < 0) {
		if (r == -EFBIG)
			errlist_add(errs, path, "larger than %zu bytes", TASKDEF_MAX_FILE_BYTES);
		else if (r != -ENOMEM)
			errlist_add(errs, path, "cannot read: %s", r == -EISDIR ? "not a regular file" : strerror(-r));
		if (r == -EFBIG || r == -EISDIR)
			r = -EINVAL;
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
	td = NULL;
	r = 0;
out_free:
	taskdef_free(td);
	free(expect);
	free(text);
	free(path);
	return r;
}

int taskdef_registry_open(const char *dir, const char *region, const char *account,
			  struct taskdef_registry **ret_reg, struct errlist *errs)
{
	struct taskdef_registry *reg;
	struct dirent *de;
	DIR *d = NULL;
	int r = -ENOMEM, first_err = 0;

	*ret_reg = NULL;
	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
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

			if (de->d_name[0] == '.' || n < 5 || strcmp(de->d_name + n - 5, ".json"))
				continue;
			r = load_file(reg, de->d_name, errs);
			if (r == -ENOMEM)
				goto out_free;
			if (r < 0 && !first_err)
				first_err = r;
		}
		if (first_err) {
			r = first_err;
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

int taskdef_register(struct taskdef_registry *reg, const char *text, size_t len,
		     const char *where, const struct taskdef **ret_td, struct errlist *errs)
{
	struct taskdef *td = NULL;
	struct family *f;
	char *file = NULL;
	int r;

	if (ret_td)
		*ret_td = NULL;
	r = taskdef_parse(text, len, where, &td, errs);
	if (r < 0)
		return r;
	f = get_family(reg, td->family);
	if (!f) {
		r = -ENOMEM;
		goto out_free;
	}
	if (f->n_revs >= TASKDEF_MAX_REVISIONS) {
		errlist_add(errs, where ? where : "request", "/family: %s already has %u revisions",
			    td->family, TASKDEF_MAX_REVISIONS);
		r = -ENOSPC;
		goto out_free;
	}
	td->revision = f->n_revs + 1;
	td->status = TASKDEF_STATUS_ACTIVE;
	td->registered_at = (int64_t)time(NULL);
	r = render(reg, td, &file);
	if (r < 0)
		goto out_free;
	r = persist(reg, td, file);
	if (r < 0)
		goto out_free;
	r = reserve_rev(f, td->revision);
	if (r < 0)
		goto out_free;  /* on disk but not in memory: the next open has it */
	f->revs[td->revision - 1] = td;
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

int taskdef_deregister(struct taskdef_registry *reg, const char *ref,
		       const struct taskdef **ret_td)
{
	struct taskdef *td;
	char *file = NULL;
	int r = lookup(reg, ref, true, &td);

	if (ret_td)
		*ret_td = NULL;
	if (r < 0)
		return r;
	if (td->status == TASKDEF_STATUS_ACTIVE) {
		td->status = TASKDEF_STATUS_INACTIVE;
		td->deregistered_at = (int64_t)time(NULL);
		r = render(reg, td, &file);
		if (r == 0)
			r = persist(reg, td, file);
		free(file);
		if (r < 0) {
			td->status = TASKDEF_STATUS_ACTIVE;
			td->deregistered_at = 0;
			json_object_del(td->doc, "deregisteredAt");
			render(reg, td, NULL);
			return r;
		}
	}
	if (ret_td)
		*ret_td = td;
	return 0;
}

static bool passes(const struct taskdef *td, enum taskdef_filter filter)
{
	return filter == TASKDEF_FILTER_ALL ||
	       (filter == TASKDEF_FILTER_ACTIVE) == (td->status == TASKDEF_STATUS_ACTIVE);
}

static bool has_prefix(const char *s, const char *prefix)
{
	return !prefix || !strncmp(s, prefix, strlen(prefix));
}

int taskdef_list(const struct taskdef_registry *reg, const char *family_prefix,
		 enum taskdef_filter filter, taskdef_list_fn fn, void *userdata)
{
	for (size_t i = 0; i < reg->n_families; i++) {
		const struct family *f = &reg->families[i];

		if (!has_prefix(f->name, family_prefix))
			continue;
		for (unsigned k = 0; k < f->n_revs; k++) {
			int r;

			if (!f->revs[k] || !passes(f->revs[k], filter))
				continue;
			r = fn(f->revs[k], userdata);
			if (r)
				return r;
		}
	}
	return 0;
}

int taskdef_list_families(const struct taskdef_registry *reg, const char *family_prefix,
			  enum taskdef_filter filter, taskdef_family_fn fn, void *userdata)
{
	for (size_t i = 0; i < reg->n_families; i++) {
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
