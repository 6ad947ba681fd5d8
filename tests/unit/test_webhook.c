/*
 * test_webhook.c — the webhook source's pure parts (sources/webhook_internal.h):
 * GitHub, bearer and hmac checks (with and without a timestamp, at and past
 * the tolerance), the headers an event shows and hides, the client address
 * behind trusted proxies, the content type and path checks, and the whole
 * request path in its order with the event it builds. The signatures are
 * computed here with the digest module; GitHub's documented example pins
 * the format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "digest.h"
#include "event.h"
#include "webhook_internal.h"

#define SECRET "It's a Secret to Everybody"
#define NOW 1760000000
#define S(x) ((char[]){x})   /* the config structs hold char * */

/* ------------------------------------------------------------ helpers */

struct req {
	struct http_request r;
	struct http_header h[80];
};

static void req_init(struct req *q, const char *method, const char *path, const char *body)
{
	memset(q, 0, sizeof(*q));
	q->r.method = method;
	q->r.path = path;
	q->r.query = "";
	q->r.body = body;
	q->r.body_len = strlen(body);
	q->r.headers = q->h;
	q->r.remote_addr = "127.0.0.1";
}

static void add(struct req *q, const char *name, const char *value)
{
	assert_true(q->r.n_headers < sizeof(q->h) / sizeof(q->h[0]));
	q->h[q->r.n_headers].name = name;
	q->h[q->r.n_headers].value = value;
	q->r.n_headers++;
}

/* "<prefix><hex HMAC-SHA256(SECRET, msg)>" into out. */
static void sign(const char *prefix, const char *msg, char *out, size_t outlen)
{
	unsigned char mac[DIGEST_SHA256_LEN];
	char hex[DIGEST_SHA256_HEX_LEN + 1];

	assert_int_equal(digest_hmac_sha256(SECRET, strlen(SECRET), msg, strlen(msg), mac), 0);
	digest_hex(mac, sizeof(mac), hex);
	snprintf(out, outlen, "%s%s", prefix, hex);
}

static struct config_webhook github_cfg = {
	.name = S("gh"),
	.auth = CONFIG_WEBHOOK_AUTH_GITHUB,
	.detail_type_header = S("X-GitHub-Event"),
	.id_header = S("X-GitHub-Delivery"),
};

static void hook_init(struct webhook_hook *h, struct config_webhook *cfg)
{
	memset(h, 0, sizeof(*h));
	h->name = cfg->name;
	h->cfg = cfg;
	h->source = "webhook.gh";
	h->detail_type = "Webhook";
	h->bus = "default";
	assert_int_equal(webhook_auth_init(&h->auth, cfg, SECRET), 0);
}

/* ------------------------------------------------------------ auth */

static void test_github_signature(void **state)
{
	struct webhook_auth a;
	struct req q;
	char sig[128];

	(void)state;
	assert_int_equal(webhook_auth_init(&a, &github_cfg, SECRET), 0);
	/* GitHub's documented example: secret "It's a Secret to Everybody",
	 * payload "Hello, World!" */
	req_init(&q, "POST", "/hooks/gh", "Hello, World!");
	add(&q, "x-hub-signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), 0);
	/* the hex in upper case is the same digest */
	q.h[0].value = "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17";
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), 0);
	/* one digit off, one digit short, one too many, no prefix, another prefix, empty */
	q.h[0].value = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18";
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	q.h[0].value = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1";
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	q.h[0].value = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e170";
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	q.h[0].value = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	q.h[0].value = "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	q.h[0].value = "";
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	/* the body changed */
	q.h[0].value = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
	q.r.body = "Hello, World?";
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	/* missing: only the old SHA-1 header */
	req_init(&q, "POST", "/hooks/gh", "{}");
	sign("sha256=", "{}", sig, sizeof(sig));
	add(&q, "X-Hub-Signature", sig);
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	add(&q, "X-Hub-Signature-256", sig);
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), 0);
}

static void test_bearer(void **state)
{
	struct config_webhook cfg = {.name = S("b"), .auth = CONFIG_WEBHOOK_AUTH_BEARER};
	struct webhook_auth a;
	struct req q;

	(void)state;
	assert_int_equal(webhook_auth_init(&a, &cfg, SECRET), 0);
	req_init(&q, "POST", "/hooks/b", "{}");
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	add(&q, "Authorization", "Bearer " SECRET);
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), 0);
	q.h[0].value = "bearer " SECRET;   /* the scheme in any case */
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), 0);
	q.h[0].value = "Bearer " SECRET "x";
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	q.h[0].value = "Bearer It's a Secret to Everybod";
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	q.h[0].value = "Basic " SECRET;
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	q.h[0].value = "Bearer ";
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	q.h[0].value = SECRET;
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
}

static void test_hmac_timestamp(void **state)
{
	struct config_webhook cfg = {.name = S("s"), .auth = CONFIG_WEBHOOK_AUTH_HMAC, .signature_header = S("X-Sig"),
				     .signature_prefix = S("v1="), .timestamp_header = S("X-Ts"), .tolerance_s = 60};
	struct webhook_auth a;
	struct req q;
	char sig[128], msg[128], ts[32];
	const char *body = "{\"a\":1}";

	(void)state;
	assert_int_equal(webhook_auth_init(&a, &cfg, SECRET), 0);
	/* fresh, at both ends of the tolerance, and past them */
	for (int delta = -61; delta <= 61; delta++) {
		if (delta > -59 && delta < 59 && delta != 0)
			continue;
		snprintf(ts, sizeof(ts), "%d", NOW + delta);
		snprintf(msg, sizeof(msg), "%s.%s", ts, body);
		sign("v1=", msg, sig, sizeof(sig));
		req_init(&q, "POST", "/hooks/s", body);
		add(&q, "X-Sig", sig);
		add(&q, "X-Ts", ts);
		assert_int_equal(webhook_auth_check(&a, &q.r, NOW), delta < -60 || delta > 60 ? -EACCES : 0);
	}
	/* the signature of another timestamp, of the body alone, no timestamp,
	 * a timestamp that is not whole seconds */
	snprintf(msg, sizeof(msg), "%d.%s", NOW, body);
	sign("v1=", msg, sig, sizeof(sig));
	req_init(&q, "POST", "/hooks/s", body);
	add(&q, "X-Sig", sig);
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	add(&q, "X-Ts", "1760000001");
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	q.h[1].value = "1760000000.0";
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	q.h[1].value = "-1760000000";
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
	q.h[1].value = "1760000000";
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), 0);
	sign("v1=", body, sig, sizeof(sig));
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);

	/* without a timestamp header the body alone is signed; no prefix by default */
	struct config_webhook plain = {.name = S("p"), .auth = CONFIG_WEBHOOK_AUTH_HMAC, .signature_header = S("X-Sig")};
	assert_int_equal(webhook_auth_init(&a, &plain, SECRET), 0);
	assert_int_equal(a.tolerance_s, CONFIG_WEBHOOK_DEFAULT_TOLERANCE_S);
	sign("", body, sig, sizeof(sig));
	req_init(&q, "POST", "/hooks/p", body);
	add(&q, "x-sig", sig);
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), 0);
	sign("v1=", body, sig, sizeof(sig));
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), -EACCES);
}

static void test_none(void **state)
{
	struct config_webhook cfg = {.name = S("n"), .auth = CONFIG_WEBHOOK_AUTH_NONE};
	struct webhook_auth a;
	struct req q;

	(void)state;
	assert_int_equal(webhook_auth_init(&a, &cfg, NULL), 0);
	req_init(&q, "POST", "/hooks/n", "{}");
	assert_int_equal(webhook_auth_check(&a, &q.r, NOW), 0);
}

/* ------------------------------------------------------------ headers */

static json_t *extension(const struct webhook_hook *h, const struct http_request *r, const char *ip)
{
	char *text = NULL;
	size_t len = 0;
	json_t *j, *w;

	assert_int_equal(webhook_extension(h, r, ip, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	j = json_loads(text, 0, NULL);
	free(text);
	assert_non_null(j);
	w = json_incref(json_object_get(j, "webhook"));
	json_decref(j);
	assert_non_null(w);
	return w;
}

static void test_extension_headers(void **state)
{
	struct config_webhook cfg = {.name = S("s"), .auth = CONFIG_WEBHOOK_AUTH_HMAC, .signature_header = S("X-Sig"),
				     .timestamp_header = S("X-Ts")};
	struct webhook_hook h;
	struct req q;
	json_t *w, *hd;

	(void)state;
	hook_init(&h, &cfg);
	req_init(&q, "POST", "/hooks/s", "{}");
	q.r.query = "a=1&b=%20";
	add(&q, "X-GitHub-Event", "push");
	add(&q, "Authorization", "Bearer abc");
	add(&q, "Cookie", "session=1");
	add(&q, "Proxy-Authorization", "Basic x");
	add(&q, "X-Hub-Signature", "sha1=00");
	add(&q, "X-Hub-Signature-256", "sha256=00");
	add(&q, "X-SIG", "deadbeef");
	add(&q, "X-Ts", "1760000000");
	add(&q, "X-Gitlab-Token", "tok");
	add(&q, "Stripe-Signature", "t=1,v1=2");
	add(&q, "X-Api-Key", "k");
	add(&q, "X-Echo", "prefix " SECRET " suffix");   /* holds the secret */
	add(&q, "X-" SECRET, "v");                        /* names it */
	add(&q, "Accept", "a/b");
	add(&q, "accept", "c/d");                         /* a repeat: joined */
	add(&q, "X-Bad", "\xff\xfe");                      /* not UTF-8: dropped */
	w = extension(&h, &q.r, "10.1.2.3");
	assert_string_equal(json_string_value(json_object_get(w, "name")), "s");
	assert_string_equal(json_string_value(json_object_get(w, "query")), "a=1&b=%20");
	assert_string_equal(json_string_value(json_object_get(w, "source_ip")), "10.1.2.3");
	assert_int_equal(json_integer_value(json_object_get(w, "headers_dropped")), 1);
	hd = json_object_get(w, "headers");
	assert_int_equal(json_object_size(hd), 3);
	assert_string_equal(json_string_value(json_object_get(hd, "x-github-event")), "push");
	assert_string_equal(json_string_value(json_object_get(hd, "x-ts")), "1760000000");
	assert_string_equal(json_string_value(json_object_get(hd, "accept")), "a/b, c/d");
	json_decref(w);

	/* at most 64 headers, values of at most 1 KiB: the rest counted */
	static char names[70][16];
	static char big[WEBHOOK_MAX_HEADER_VALUE + 2];
	memset(big, 'v', sizeof(big) - 1);
	req_init(&q, "POST", "/hooks/s", "{}");
	add(&q, "X-Big", big);
	for (int i = 0; i < 70; i++) {
		snprintf(names[i], sizeof(names[i]), "X-H%d", i);
		add(&q, names[i], "v");
	}
	w = extension(&h, &q.r, "");
	assert_int_equal(json_object_size(json_object_get(w, "headers")), WEBHOOK_MAX_HEADERS);
	assert_int_equal(json_integer_value(json_object_get(w, "headers_dropped")), 1 + 70 - 64);
	assert_null(json_object_get(json_object_get(w, "headers"), "x-big"));
	assert_non_null(json_object_get(json_object_get(w, "headers"), "x-h63"));
	assert_null(json_object_get(json_object_get(w, "headers"), "x-h64"));
	json_decref(w);
	big[WEBHOOK_MAX_HEADER_VALUE] = '\0';   /* exactly 1 KiB is kept */
	req_init(&q, "POST", "/hooks/s", "{}");
	add(&q, "X-Big", big);
	w = extension(&h, &q.r, "");
	assert_int_equal(json_string_length(json_object_get(json_object_get(w, "headers"), "x-big")),
			 WEBHOOK_MAX_HEADER_VALUE);
	assert_null(json_object_get(w, "headers_dropped"));
	json_decref(w);

	/* a query that holds the secret is left out */
	q.r.query = "token=" SECRET;
	w = extension(&h, &q.r, "");
	assert_string_equal(json_string_value(json_object_get(w, "query")), "");
	json_decref(w);

	/* a query that is not UTF-8 */
	q.r.query = "a=\xff";
	char *text = NULL;
	size_t len;
	assert_int_equal(webhook_extension(&h, &q.r, "", &text, &len), -EINVAL);
	assert_null(text);
}

/* ------------------------------------------------------------ addresses */

static void client(const struct webhook_proxies *p, const char *peer, const char *xff1, const char *xff2,
		   const char *want)
{
	struct req q;
	char out[WEBHOOK_ADDR_MAX];

	req_init(&q, "POST", "/hooks/x", "{}");
	q.r.remote_addr = peer;
	if (xff1)
		add(&q, "X-Forwarded-For", xff1);
	add(&q, "X-Other", "1.1.1.1");
	if (xff2)
		add(&q, "x-forwarded-for", xff2);
	webhook_client_addr(p, &q.r, out);
	assert_string_equal(out, want);
}

static void test_forwarded_for(void **state)
{
	char *list[] = {S("127.0.0.1"), S("10.0.0.0/8"), S("fd00::/8"), S("192.0.2.7/32")};
	struct config_strv strv = {.n = 4, .v = list};
	struct webhook_proxies p, none = {0};
	char err[256];

	(void)state;
	assert_int_equal(webhook_proxies_parse(&strv, &p, err, sizeof(err)), 0);
	assert_int_equal(p.n, 4);
	/* no proxies, or an untrusted peer: the header is ignored */
	client(&none, "127.0.0.1", "203.0.113.9", NULL, "127.0.0.1");
	client(&p, "127.0.0.2", "203.0.113.9", NULL, "127.0.0.2");
	client(&p, "::1", "203.0.113.9", NULL, "::1");
	/* a trusted peer: the right-most untrusted entry */
	client(&p, "127.0.0.1", "203.0.113.9", NULL, "203.0.113.9");
	client(&p, "127.0.0.1", "198.51.100.1, 203.0.113.9, 10.1.1.1", NULL, "203.0.113.9");
	client(&p, "192.0.2.7", "198.51.100.1,10.0.0.1 , 10.2.2.2", NULL, "198.51.100.1");
	client(&p, "127.0.0.1", "198.51.100.1", "10.0.0.5", "198.51.100.1");   /* two headers, in order */
	client(&p, "127.0.0.1", "10.0.0.9, 10.0.0.8", NULL, "10.0.0.9");       /* every one trusted: left-most */
	client(&p, "127.0.0.1", "198.51.100.1, unknown, 10.0.0.8", NULL, "10.0.0.8");   /* not an address */
	client(&p, "127.0.0.1", "[2001:db8::1]:443", NULL, "2001:db8::1");
	client(&p, "127.0.0.1", "203.0.113.9:5555", NULL, "203.0.113.9");
	client(&p, "127.0.0.1", "::ffff:203.0.113.9", NULL, "203.0.113.9");
	client(&p, "127.0.0.1", "fd00::1, 2001:db8::2", NULL, "2001:db8::2");
	client(&p, "127.0.0.1", "", NULL, "127.0.0.1");
	client(&p, "127.0.0.1", NULL, NULL, "127.0.0.1");
	client(&p, "", "203.0.113.9", NULL, "");
	client(&p, "not-an-address", "203.0.113.9", NULL, "");
	webhook_proxies_free(&p);

	char *bad[] = {S("10.0.0.0/33")};
	strv = (struct config_strv){.n = 1, .v = bad};
	assert_int_equal(webhook_proxies_parse(&strv, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "10.0.0.0/33"));
	char *host[] = {S("proxy.example")};
	strv = (struct config_strv){.n = 1, .v = host};
	assert_int_equal(webhook_proxies_parse(&strv, &p, err, sizeof(err)), -EINVAL);
}

/* ------------------------------------------------------------ small checks */

static void test_small_checks(void **state)
{
	char name[64];

	(void)state;
	assert_true(webhook_content_type_json("application/json"));
	assert_true(webhook_content_type_json("Application/JSON; charset=utf-8"));
	assert_true(webhook_content_type_json(" application/json ;charset=UTF-8"));
	assert_true(webhook_content_type_json("application/vnd.github+json"));
	assert_true(webhook_content_type_json("application/merge-patch+json"));
	assert_false(webhook_content_type_json(NULL));
	assert_false(webhook_content_type_json(""));
	assert_false(webhook_content_type_json("text/plain"));
	assert_false(webhook_content_type_json("application/x-www-form-urlencoded"));
	assert_false(webhook_content_type_json("application/jsonx"));
	assert_false(webhook_content_type_json("application/+json"));
	assert_false(webhook_content_type_json("text/json"));
	assert_false(webhook_content_type_json("application/a b+json"));

	assert_int_equal(webhook_path_name("/hooks/github", "/hooks/", name, sizeof(name)), 0);
	assert_string_equal(name, "github");
	assert_int_equal(webhook_path_name("/hooks/git%2dhub", "/hooks/", name, sizeof(name)), 0);
	assert_string_equal(name, "git-hub");
	assert_int_equal(webhook_path_name("/hooks/", "/hooks/", name, sizeof(name)), -ENOENT);
	assert_int_equal(webhook_path_name("/hooks/a/b", "/hooks/", name, sizeof(name)), -ENOENT);
	assert_int_equal(webhook_path_name("/hooks/a%2fb", "/hooks/", name, sizeof(name)), -ENOENT);
	assert_int_equal(webhook_path_name("/hooks/a%00", "/hooks/", name, sizeof(name)), -ENOENT);
	assert_int_equal(webhook_path_name("/hooks/a%2", "/hooks/", name, sizeof(name)), -ENOENT);
	assert_int_equal(webhook_path_name("/hooks/a%zz", "/hooks/", name, sizeof(name)), -ENOENT);
	assert_int_equal(webhook_path_name("/hook/a", "/hooks/", name, sizeof(name)), -ENOENT);
	assert_int_equal(webhook_path_name("/hooks/abcdefgh", "/hooks/", name, 8), -ENOENT);
	assert_int_equal(webhook_path_name("/hooks/abcdefg", "/hooks/", name, 8), 0);

	assert_true(webhook_printable("push", 128, true));
	assert_true(webhook_printable("pull request", 128, true));
	assert_false(webhook_printable("pull request", 128, false));
	assert_false(webhook_printable("", 128, true));
	assert_false(webhook_printable("a\tb", 128, true));
	assert_false(webhook_printable("caf\xc3\xa9", 128, true));
	assert_true(webhook_printable("abcd", 4, false));
	assert_false(webhook_printable("abcde", 4, false));

	struct webhook_auth a = {.signature_header = S("X-Custom-Sig")};
	assert_true(webhook_header_hidden(&a, "x-custom-sig"));
	assert_true(webhook_header_hidden(&a, "AUTHORIZATION"));
	assert_true(webhook_header_hidden(&a, "X-Auth-Token"));
	assert_true(webhook_header_hidden(&a, "Set-Cookie"));
	assert_false(webhook_header_hidden(&a, "X-GitHub-Delivery"));
	assert_false(webhook_header_hidden(&a, "Content-Type"));
}

/* ------------------------------------------------------------ the request path */

struct fixture {
	struct webhook_hook hooks[1];
	struct webhook_proxies proxies;
	struct webhook_set set;
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	hook_init(&f->hooks[0], &github_cfg);
	f->set = (struct webhook_set){.hooks = f->hooks, .n = 1, .proxies = &f->proxies, .prefix = "/hooks/",
				      .account = "000000000000", .region = "local", .max_event_bytes = 4096};
}

/* A signed GitHub delivery of body. */
static void github_req(struct req *q, const char *method, const char *path, const char *body, char *sig,
		       size_t siglen)
{
	req_init(q, method, path, body);
	sign("sha256=", body, sig, siglen);
	add(q, "Content-Type", "application/json");
	add(q, "X-GitHub-Event", "push");
	add(q, "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
	add(q, "X-Hub-Signature-256", sig);
}

static void expect(const struct webhook_set *set, const struct http_request *r, unsigned status,
		   const char *reason)
{
	struct webhook_verdict v;

	webhook_request(set, r, NOW, &v);
	assert_int_equal(v.status, status);
	assert_null(v.ev);
	assert_string_equal(v.reason, reason);
	assert_true(v.message[0] != '\0');
	assert_null(strstr(v.message, SECRET));
}

static void test_request_order(void **state)
{
	struct fixture f;
	struct req q;
	char sig[128];

	(void)state;
	fixture_init(&f);
	/* the method first, even for a name that does not exist */
	github_req(&q, "GET", "/hooks/nope", "{}", sig, sizeof(sig));
	expect(&f.set, &q.r, 405, "method");
	github_req(&q, "PUT", "/hooks/gh", "{}", sig, sizeof(sig));
	expect(&f.set, &q.r, 405, "method");
	/* then the name, before the signature */
	github_req(&q, "POST", "/hooks/nope", "{}", sig, sizeof(sig));
	q.h[3].value = "sha256=00";
	expect(&f.set, &q.r, 404, "not_found");
	/* the content type before the signature */
	github_req(&q, "POST", "/hooks/gh", "{}", sig, sizeof(sig));
	q.h[0].value = "text/plain";
	q.h[3].value = "sha256=00";
	expect(&f.set, &q.r, 415, "content_type");
	/* the signature before the body */
	github_req(&q, "POST", "/hooks/gh", "not json", sig, sizeof(sig));
	q.h[3].value = "sha256=00";
	expect(&f.set, &q.r, 401, "signature");
	github_req(&q, "POST", "/hooks/gh", "{}", sig, sizeof(sig));
	q.r.n_headers = 3;   /* no signature */
	expect(&f.set, &q.r, 401, "signature");
	/* the body: not JSON, not an object */
	github_req(&q, "POST", "/hooks/gh", "not json", sig, sizeof(sig));
	expect(&f.set, &q.r, 400, "json");
	github_req(&q, "POST", "/hooks/gh", "[1,2]", sig, sizeof(sig));
	expect(&f.set, &q.r, 400, "json");
	github_req(&q, "POST", "/hooks/gh", "{\"a\":1} x", sig, sizeof(sig));
	expect(&f.set, &q.r, 400, "json");
	/* the body before the id header and the query */
	github_req(&q, "POST", "/hooks/gh", "[1]", sig, sizeof(sig));
	q.h[2].value = "has space";
	expect(&f.set, &q.r, 400, "json");
	github_req(&q, "POST", "/hooks/gh", "{", sig, sizeof(sig));
	q.r.query = "a=\xff";
	expect(&f.set, &q.r, 400, "json");
	github_req(&q, "POST", "/hooks/gh", "{}", sig, sizeof(sig));
	q.r.query = "a=\xff";
	expect(&f.set, &q.r, 400, "query");
	/* the id header: present but not an id */
	github_req(&q, "POST", "/hooks/gh", "{}", sig, sizeof(sig));
	q.h[2].value = "has space";
	expect(&f.set, &q.r, 400, "id");
	static char long_id[EVENT_MAX_ID + 2];
	memset(long_id, 'a', EVENT_MAX_ID + 1);
	q.h[2].value = long_id;
	expect(&f.set, &q.r, 400, "id");
	/* the envelope over max_event_bytes */
	static char big[5000];
	snprintf(big, sizeof(big), "{\"pad\":\"%04000d\"}", 0);
	github_req(&q, "POST", "/hooks/gh", big, sig, sizeof(sig));
	expect(&f.set, &q.r, 413, "too_large");
}

static void test_request_event(void **state)
{
	struct webhook_verdict v;
	struct fixture f;
	struct req q;
	char sig[128];
	json_t *e, *w;

	(void)state;
	fixture_init(&f);
	github_req(&q, "POST", "/hooks/gh", "{ \"ref\": \"refs/heads/main\",\n \"n\": [1, 2] }", sig, sizeof(sig));
	q.r.query = "x=1";
	q.r.remote_addr = "127.0.0.1";
	add(&q, "Authorization", "Bearer " SECRET);
	webhook_request(&f.set, &q.r, NOW, &v);
	assert_int_equal(v.status, 0);
	assert_ptr_equal(v.hook, &f.hooks[0]);
	assert_non_null(v.ev);
	assert_string_equal(v.ev->id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
	assert_string_equal(v.ev->bus, "default");
	assert_null(strstr(v.ev->json, SECRET));
	assert_null(strstr(v.ev->json, sig + 7));
	e = json_loadb(v.ev->json, v.ev->len, 0, NULL);
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "id")), "72d3162e-cc78-11e3-81ab-4c9367dc0958");
	assert_string_equal(json_string_value(json_object_get(e, "detail-type")), "push");
	assert_string_equal(json_string_value(json_object_get(e, "source")), "webhook.gh");
	assert_string_equal(json_string_value(json_object_get(e, "time")), "2025-10-09T08:53:20Z");
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "detail"), "ref")), "refs/heads/main");
	assert_int_equal(json_array_size(json_object_get(e, "resources")), 0);
	w = json_object_get(json_object_get(e, "tripline"), "webhook");
	assert_string_equal(json_string_value(json_object_get(w, "name")), "gh");
	assert_string_equal(json_string_value(json_object_get(w, "query")), "x=1");
	assert_string_equal(json_string_value(json_object_get(w, "source_ip")), "127.0.0.1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(w, "headers"), "x-github-event")), "push");
	assert_null(json_object_get(json_object_get(w, "headers"), "authorization"));
	assert_null(json_object_get(json_object_get(w, "headers"), "x-hub-signature-256"));
	json_decref(e);
	event_unref(v.ev);

	/* no id header: a random id; a detail-type header that is not one: the default */
	github_req(&q, "POST", "/hooks/gh", "{}", sig, sizeof(sig));
	q.h[1].value = "\x01push";
	q.h[2].name = S("X-Other");
	webhook_request(&f.set, &q.r, NOW, &v);
	assert_int_equal(v.status, 0);
	assert_int_equal(strlen(v.ev->id), 36);
	assert_non_null(strstr(v.ev->json, "\"detail-type\":\"Webhook\""));
	event_unref(v.ev);
}

static void test_ingest_answers(void **state)
{
	static const struct {
		int result;
		unsigned status;
		const char *reason;
		bool retry_after;
	} cases[] = {
		{0, 202, NULL, false},
		{-EAGAIN, 503, "bus_full", true},
		{-ENOSPC, 503, "journal", false},
		{-EIO, 503, "journal", false},
		{-ECANCELED, 503, "stopping", false},
		{-ENOENT, 500, "no_bus", false},
		{-ENOMEM, 500, "internal", false},
	};
	struct webhook_verdict v;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		webhook_ingested(cases[i].result, &v);
		assert_int_equal(v.status, cases[i].status);
		assert_int_equal(v.retry_after, cases[i].retry_after);
		if (cases[i].reason) {
			assert_string_equal(v.reason, cases[i].reason);
			assert_true(v.message[0] != '\0');
		} else {
			assert_null(v.reason);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_github_signature),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_hmac_timestamp),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_extension_headers),
		cmocka_unit_test(test_forwarded_for),
		cmocka_unit_test(test_small_checks),
		cmocka_unit_test(test_request_order),
		cmocka_unit_test(test_request_event),
		cmocka_unit_test(test_ingest_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
