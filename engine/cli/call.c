/*
 * call.c — the remote commands' requests: one call to the daemon with its
 * answer turned into an exit code, a listing followed page by page, a
 * description sent in batches, and the two command shapes built on them
 * that tasks and services share (list, describe).
 *
 * How it works: a request is a jansson object sent with client_call(); a
 * 2xx answer that is a JSON object is the result, anything else is reported
 * once, here, and becomes an exit code (cli.h): 2 for a 4xx (the daemon's
 * error type and message), 3 for no answer, a 5xx or an answer that is not
 * a JSON object.
 *
 * What it promises: at most REMOTE_MAX_PAGES pages are followed (past that
 * the listing is cut short, with a message); a batch never holds more ids
 * than the operation takes; text from the daemon reaches stderr stripped
 * of control characters.
 */
#include "remote.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int remote_call(const struct remote *rc, const char *target, const json_t *req, json_t **ret)
{
	struct client_reply rep;
	char err[640];

	*ret = NULL;
	int r = client_call(rc->client, target, req, &rep, err, sizeof(err));
	if (r < 0) {
		remote_say(rc, "%s", err);
		if (r == -ECONNREFUSED || r == -EHOSTUNREACH)
			fputs("tripline: is `tripline serve` running there? --endpoint, $TRIPLINE_ENDPOINT "
			      "or --config name the daemon\n", stderr);
		return CLI_EXIT_FAILURE;
	}
	if (rep.status >= 200 && rep.status < 300 && json_is_object(rep.body)) {
		*ret = rep.body;
		rep.body = NULL;
		client_reply_clear(&rep);
		return 0;
	}

	const char *type = client_error_type(&rep), *msg = client_error_message(&rep);
	int code = rep.status >= 400 && rep.status < 500 ? CLI_EXIT_BADINPUT : CLI_EXIT_FAILURE;
	remote_say_prefix(rc);
	if (rep.status >= 500)
		fprintf(stderr, "server error (HTTP %ld) from %s: ", rep.status, client_endpoint(rc->client));
	else if (code == CLI_EXIT_FAILURE)
		fprintf(stderr, "unexpected answer (HTTP %ld) from %s: ", rep.status, client_endpoint(rc->client));
	if (type) {
		remote_put_clean(stderr, type);
		if (msg) {
			fputs(": ", stderr);
			remote_put_clean(stderr, msg);
		}
	} else {
		if (code == CLI_EXIT_BADINPUT)
			fprintf(stderr, "HTTP %ld from %s: ", rep.status, client_endpoint(rc->client));
		fputs(rep.text ? rep.text : "the answer is not a JSON object", stderr);
	}
	fputc('\n', stderr);
	client_reply_clear(&rep);
	return code;
}

bool remote_put_str(json_t *o, const char *key, const char *v)
{
	return !v || json_object_set_new(o, key, json_string(v)) == 0;
}

bool remote_put_int(json_t *o, const char *key, long long v)
{
	return json_object_set_new(o, key, json_integer((json_int_t)v)) == 0;
}

json_t *remote_request_new(const struct remote *rc)
{
	json_t *o = json_object();
	if (o && !remote_put_str(o, "cluster", rc->cluster)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *remote_string_array(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

int remote_call_all_pages(const struct remote *rc, const char *target, json_t *req, const char *key,
			  json_t **ret)
{
	json_t *all = json_array(), *page = NULL;
	int rc_;

	*ret = NULL;
	if (!all)
		return remote_nomem(rc);
	for (int n = 0;; n++) {
		if ((rc_ = remote_call(rc, target, req, &page)) != 0)
			goto out_free;
		json_t *items = json_object_get(page, key);
		if (items && !json_is_array(items)) {
			remote_say(rc, "unexpected answer: %s is not a list", key);
			rc_ = CLI_EXIT_FAILURE;
			goto out_free;
		}
		if (items && json_array_extend(all, items) < 0) {
			rc_ = remote_nomem(rc);
			goto out_free;
		}
		const char *next = json_string_value(json_object_get(page, "nextToken"));
		if (!next || !*next)
			break;
		if (n + 1 >= REMOTE_MAX_PAGES) {
			remote_say(rc, "more than %d pages: the listing is cut short", REMOTE_MAX_PAGES);
			break;
		}
		if (!remote_put_str(req, "nextToken", next)) {
			rc_ = remote_nomem(rc);
			goto out_free;
		}
		json_decref(page);
		page = NULL;
	}
	if (!(*ret = json_pack("{s:O}", key, all)))
		rc_ = remote_nomem(rc);
out_free:
	json_decref(page);
	json_decref(all);
	return rc_;
}

/*
 * Calls k's describe operation for ids in batches of at most k->batch;
 * *ret is {k->key: [every item], "failures": [...]}.
 */
static int call_batched(const struct remote *rc, const struct remote_kind *k, const json_t *ids, json_t **ret)
{
	json_t *items = json_array(), *failures = json_array(), *req = NULL, *page = NULL;
	int rc_ = 0;

	*ret = NULL;
	if (!items || !failures)
		goto out_nomem;
	for (size_t off = 0; off < json_array_size(ids); off += k->batch) {
		json_t *part = json_array();
		for (size_t i = off; part && i < off + k->batch && i < json_array_size(ids); i++)
			if (json_array_append(part, json_array_get(ids, i)) < 0) {
				json_decref(part);
				part = NULL;
			}
		if (!part || !(req = remote_request_new(rc)) || json_object_set_new(req, k->key, part) < 0) {
			if (!req)
				json_decref(part);
			goto out_nomem;
		}
		if ((rc_ = remote_call(rc, k->describe_target, req, &page)) != 0)
			goto out_free;
		json_t *got = json_object_get(page, k->key), *failed = json_object_get(page, "failures");
		if ((got && !json_is_array(got)) || (failed && !json_is_array(failed))) {
			remote_say(rc, "unexpected answer: %s or failures is not a list", k->key);
			rc_ = CLI_EXIT_FAILURE;
			goto out_free;
		}
		if ((got && json_array_extend(items, got) < 0) || (failed && json_array_extend(failures, failed) < 0))
			goto out_nomem;
		json_decref(req);
		json_decref(page);
		req = page = NULL;
	}
	if (!(*ret = json_pack("{s:O,s:O}", k->key, items, "failures", failures)))
		goto out_nomem;
	goto out_free;
out_nomem:
	rc_ = remote_nomem(rc);
out_free:
	json_decref(req);
	json_decref(page);
	json_decref(items);
	json_decref(failures);
	return rc_;
}

int remote_list(const struct remote *rc, const struct remote_kind *k, json_t *req)
{
	json_t *arns = NULL, *described = NULL;
	int rc_;

	if ((rc_ = remote_call_all_pages(rc, k->list_target, req, k->arns_key, &arns)) != 0)
		goto out_free;
	if (rc->output == OUTPUT_JSON) {
		remote_print_json(arns);
		goto out_free;
	}
	/* the table describes them; one gone since is left out */
	if ((rc_ = call_batched(rc, k, json_object_get(arns, k->arns_key), &described)) != 0)
		goto out_free;
	rc_ = k->print(rc, json_object_get(described, k->key), false);
out_free:
	json_decref(arns);
	json_decref(described);
	return rc_;
}

int remote_describe(const struct remote *rc, const struct remote_kind *k, char *const *ids, size_t n)
{
	json_t *idv = remote_string_array(ids, n), *resp = NULL;
	int rc_;

	if (!idv)
		return remote_nomem(rc);
	if ((rc_ = call_batched(rc, k, idv, &resp)) != 0)
		goto out_free;
	const json_t *items = json_object_get(resp, k->key), *failures = json_object_get(resp, "failures");
	if (rc->output == OUTPUT_JSON) {
		remote_print_json(resp);
	} else {
		if (json_array_size(items))
			rc_ = k->print(rc, items, true);
		remote_print_failures(rc, failures, json_array_size(items) > 0, &rc_);
	}
	if (!rc_ && json_array_size(failures))
		rc_ = CLI_EXIT_NEGATIVE;
out_free:
	json_decref(idv);
	json_decref(resp);
	return rc_;
}
