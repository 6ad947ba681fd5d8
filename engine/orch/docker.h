/*
 * docker.h — what the docker driver's files share. Private to them: the
 * driver is known to the rest of tripline only as driver_docker_ops
 * (driver.h), and these files are the only ones besides tests that use
 * curl_uv.h.
 *
 *   driver_docker.c  the ops table and a container's life: create, start,
 *                    logs, wait, stop, exit, adopt, release;
 *   docker_api.c     one Engine API request on the daemon's socket
 *                    (asynchronous, or blocking for init) and reading its
 *                    answer; the bounded formatting the files use;
 *   docker_create.c  what launch() accepts and the create request's body;
 *   docker_probe.c   health probes as execs in the container.
 */
#ifndef TRIPLINE_ORCH_DOCKER_H
#define TRIPLINE_ORCH_DOCKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "curl_uv.h"
#include "driver.h"
#include "logrot.h"

#define DOCKER_API "/v1.41"
#define DOCKER_URL_BASE "http://localhost" DOCKER_API
#define DC_ID_MAX 128
#define DC_NAME_MAX 255
#define DC_PATH_MAX 1024
#define DC_REASON_MAX 512

struct driver {
	uv_loop_t *loop;
	struct curl_uv *cu;
	const struct drv_events *ev;
	char *socket;
	uint64_t max_nano_cpus;            /* the daemon's CPUs; 0 unknown */
	char *const *allowed_host_paths;   /* borrowed: drv_config's */
	size_t n_allowed_host_paths;
	struct drv_container *containers;  /* launched or adopted, not yet released */
};

enum dc_phase {
	DC_CREATING,     /* create request in flight */
	DC_STARTING,     /* start request in flight */
	DC_ADOPTING,     /* first inspect of adopt() in flight */
	DC_RUNNING,      /* logs and wait in flight (or a wait retry pending) */
	DC_ENDING,       /* stopped: the inspect after the wait in flight */
	DC_DRAINING,     /* exit known: waiting for the log stream to end */
	DC_DONE,         /* `started` failed or `exited` delivered */
};

struct dc_probe {
	struct drv_container *c;
	struct dc_probe *prev, *next;
	uv_timer_t timer;
	struct curl_uv_req *req;
	char exec_id[DC_ID_MAX + 1];
	uint64_t deadline;                  /* uv_now() ms */
	uint64_t interval;                  /* next poll delay */
	drv_probe_fn done;
	void *arg;
};

struct drv_container {
	struct driver *d;
	struct drv_container *prev, *next;
	void *owner;
	enum dc_phase phase;
	char id[DC_ID_MAX + 1];             /* "" until created */
	char name[DC_NAME_MAX + 1];         /* tripline-<task_id>-<container> */
	struct logrot log;         /* spec->log_path, bounded (logrot.h) */
	bool tty;
	uv_timer_t timer;                   /* the log drain, a wait retry, an OOM recheck */

	struct curl_uv_req *req;            /* create, start or inspect */
	struct curl_uv_req *wait_req;
	struct curl_uv_req *logs_req;
	struct curl_uv_req *stop_req;
	bool stop_requested;                /* before it ran: do not start it */
	bool stop_sent;
	unsigned stop_timeout;
	bool waited;                        /* wait answered with exit_code */
	int wait_retries;
	int oom_rechecks;                   /* inspects again after a 137 exit without OOMKilled */
	char since[48];                     /* logs after adopt: "sec.nsec" */

	unsigned char frame_hdr[8];         /* log demultiplexing */
	size_t frame_hdr_len;
	uint32_t frame_left;
	bool log_write_failed;

	int exit_code;
	bool oom_killed;
	char reason[DC_REASON_MAX];

	struct dc_probe *probes;
	int n_probes;
};

/* --- docker_api.c --------------------------------------------------------- */

/* snprintf into buf: 0, or -ENAMETOOLONG when it does not fit (for paths and names). */
int docker_fmt(char *buf, size_t size, const char *f, ...) __attribute__((format(printf, 3, 4)));
/* Formats into dst, cut to size - 1 bytes: for texts meant for a person. */
void docker_textf(char *dst, size_t size, const char *f, ...) __attribute__((format(printf, 3, 4)));
void docker_set_text(char *dst, size_t size, const char *src);

/* Docker names and ids: [A-Za-z0-9_.-], 1..max bytes. */
bool docker_valid_token(const char *s, size_t max);

/* The answer's body as JSON (a new reference), or NULL. */
json_t *docker_parse_body(const struct curl_uv_result *res);
/* What went wrong, for a person: Docker's {"message"}, else the transport error. */
void docker_message(const struct curl_uv_result *res, char *buf, size_t size);
/* The answer's error as -errno: the transport's, else from the HTTP status. */
int docker_status_errno(const struct curl_uv_result *res);

/* One Engine API request on the driver's socket; path starts with '/'. body,
 * when set, is JSON. With on_data the body is streamed (see curl_uv.h). */
int docker_request(struct driver *d, const char *method, const char *path, const char *body,
		   unsigned timeout_ms, curl_uv_data_fn on_data, curl_uv_done_fn done, void *arg,
		   struct curl_uv_req **ret);

/* The answer of docker_sync_get(): json (to json_decref()) on a 200, else msg. */
struct docker_sync_answer {
	int err;
	unsigned status;
	char msg[DC_REASON_MAX];
	json_t *json;
};

/* A blocking GET against the local socket, for init only: a->err. */
int docker_sync_get(const char *socket, const char *path, struct docker_sync_answer *a);

/* --- driver_docker.c ------------------------------------------------------ */

/* A line about c for the daemon's log, through the orchestrator's `log` event. */
void docker_log(struct drv_container *c, int level, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

/* --- docker_create.c ------------------------------------------------------ */

/* What launch() accepts: 0 or -EINVAL. */
int docker_check_spec(const struct drv_spec *s);
/* The body of POST /containers/create for s, in *ret (to free, after wiping:
 * it holds the environment). 0 or -EINVAL. */
int docker_build_create(struct driver *d, struct drv_container *c, const struct drv_spec *s,
			char **ret);
/* A JSON array of the NULL-terminated strings v (NULL: empty), or NULL. */
json_t *docker_string_array(char *const *v);

/* --- docker_probe.c ------------------------------------------------------- */

/* driver_ops.probe */
int docker_probe(struct drv_container *c, char *const *argv, unsigned timeout_s, drv_probe_fn done,
		 void *arg);
/* Unlinks p from its container and frees it once its timer is closed; no callback. */
void docker_probe_discard(struct dc_probe *p);

#endif
