/*
 * dlq.h — dead letters: the line that records one undeliverable dispatch,
 * and writing it to its destination (a rule target's DeadLetterConfig.Arn).
 *
 * The line (the contract is engine/README.md, "Dispatch and dead letters")
 * is one compact JSON object per line: the original envelope, verbatim, as "event";
 * EventBridge's dead-letter message attributes RULE_ARN, TARGET_ARN,
 * ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION (only when retries
 * were exhausted) and RETRY_ATTEMPTS (a number); and tripline's "rule",
 * "target_id", "bus" (what a redrive needs) and "time" (when it was
 * dead-lettered, RFC 3339 with milliseconds, UTC).
 *
 * Destinations: file:PATH and file:///ABSOLUTE/PATH (appended with O_APPEND
 * in one write, then fsync'd, on the libuv threadpool; a relative PATH is
 * the daemon's working directory's) and http(s):// URLs (the line POSTed as
 * application/json through curl_uv; a 2xx answer is success). kafka: is not
 * implemented yet: dlq_arn_problem() says so, so a rule naming it is refused
 * when it loads instead of losing its dead letters.
 */
#ifndef TRIPLINE_ENGINE_DLQ_H
#define TRIPLINE_ENGINE_DLQ_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define DLQ_HTTP_TIMEOUT_MS 10000u

struct curl_uv;
struct dlq_write;

/* What goes into a dead-letter line; strings borrowed for the call. */
struct dlq_record {
	const char *event_json;      /* the envelope, compact JSON */
	size_t event_len;
	const char *rule_arn;
	const char *target_arn;
	const char *error_code;
	const char *error_message;
	const char *exhausted;       /* "MaximumRetryAttempts", "MaximumEventAgeInSeconds", or NULL */
	uint32_t retry_attempts;
	const char *rule;
	const char *target_id;
	const char *bus;
	uint64_t time_wall_ms;
};

/* The line, "\n"-terminated, malloc'd in *ret. 0 or -ENOMEM. */
int dlq_line(const struct dlq_record *r, char **ret, size_t *ret_len);

/* NULL when arn is a dead-letter destination this build can write to, else
 * a sentence saying why not. */
const char *dlq_arn_problem(const char *arn);

/* result: 0 written (and fsync'd), or -errno; why: a text for a person
 * ("" on success). Called on the loop. */
typedef void (*dlq_done_fn)(void *arg, int result, const char *why);

/*
 * Writes line[0..len) (copied) to arn. 0: done() follows from the loop,
 * never from inside this call; *ret identifies the write for dlq_cancel().
 * -EINVAL (arn not writable here: see dlq_arn_problem), -ENOMEM, or
 * curl_uv_start()'s errors (-EAGAIN too many requests running): no
 * callback. http needs cu (else -EINVAL).
 */
int dlq_write(uv_loop_t *loop, struct curl_uv *cu, const char *arn, const char *line, size_t len,
	      unsigned http_timeout_ms, dlq_done_fn done, void *arg, struct dlq_write **ret);
/* No callback follows; a file write already running finishes on its own. */
void dlq_cancel(struct dlq_write *w);

#endif
