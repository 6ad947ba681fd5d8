/*
 * match_process.c — the whole `tripline match` process on the stream, for
 * match_bench's set mode with --tripline.
 *
 * mb_proc_init() makes a temporary directory and writes the stream there
 * once, plain; mb_proc_write_rules() writes each set beside it as a rule
 * file. mb_proc_run() forks and execs `tripline match --rules <set>.json`
 * with the stream file on stdin and stdout to /dev/null (a timed run) or to
 * a pipe read into memory (the untimed check run), timing it from before
 * fork() to after waitpid(): startup, loading the rules, reading stdin and
 * writing the answers are all in it. mb_proc_check() reads the check run's
 * answers back and compares them with the rules' expected counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "match_bench.h"

#define MAX_PROCESS_OUTPUT ((size_t)1 << 30)   /* what --tripline's check run may print */

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Makes the directory and writes the stream into it as plain text. */
int mb_proc_init(struct proc_bench *pb, const char *tripline, const struct event_stream *es)
{
	const char *tmp = getenv("TMPDIR");
	int fd, r;

	memset(pb, 0, sizeof(*pb));
	pb->tripline = tripline;
	if (access(tripline, X_OK) != 0) {
		fprintf(stderr, "match_bench: --tripline %s: %s\n", tripline, strerror(errno));
		return -ENOENT;
	}
	if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(pb->dir, sizeof(pb->dir), "%s/match_bench.XXXXXX", tmp);
	if (mkdtemp(pb->dir) == NULL) {
		fprintf(stderr, "match_bench: making a directory in %s: %s\n", tmp, strerror(errno));
		pb->dir[0] = '\0';
		return -errno;
	}
	snprintf(pb->events, sizeof(pb->events), "%s/events.jsonl", pb->dir);
	fd = open(pb->events, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "match_bench: %s: %s\n", pb->events, strerror(errno));
		return -errno;
	}
	pb->events_written = true;
	r = write_all(fd, es->buf, es->buf_len);
	if (close(fd) != 0 && r == 0)
		r = -errno;
	if (r < 0)
		fprintf(stderr, "match_bench: %s: %s\n", pb->events, strerror(-r));
	return r;
}

void mb_proc_cleanup(struct proc_bench *pb)
{
	if (pb->rules_written)
		unlink(pb->rules);
	if (pb->events_written)
		unlink(pb->events);
	if (pb->dir[0] != '\0')
		rmdir(pb->dir);
	pb->dir[0] = '\0';
	pb->events_written = pb->rules_written = false;
}

/*
 * Writes the set as one rule file, {"Rules": [{"Name": "<SET>.<rule>",
 * "EventPattern": <the pattern text as written>}, ...]}, so that the
 * process matches exactly the patterns the in-process run matched.
 */
int mb_proc_write_rules(struct proc_bench *pb, const char *label,
			const struct citylots_rule *const *rules, size_t n)
{
	FILE *f;
	size_t i;
	int r = 0;

	if (pb->rules_written)
		unlink(pb->rules);
	pb->rules_written = false;
	snprintf(pb->rules, sizeof(pb->rules), "%s/%s.json", pb->dir, label);
	f = fopen(pb->rules, "wxe");
	if (f == NULL) {
		fprintf(stderr, "match_bench: %s: %s\n", pb->rules, strerror(errno));
		return -errno;
	}
	pb->rules_written = true;
	fputs("{\"Rules\": [\n", f);
	for (i = 0; i < n; i++)
		fprintf(f, "{\"Name\": \"%s.%s\", \"EventPattern\": %s}%s\n", rules[i]->set,
			rules[i]->name, rules[i]->text, i + 1 < n ? "," : "");
	fputs("]}\n", f);
	if (ferror(f))
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r < 0)
		fprintf(stderr, "match_bench: %s: %s\n", pb->rules, strerror(-r));
	return r;
}

/*
 * Runs `tripline match --rules <set file> < events`, stdout to /dev/null or,
 * with ret_out, into a buffer. *ret_s is the wall time from before fork() to
 * after waitpid(). A run that does not exit 0 marks pb->failed.
 */
int mb_proc_run(struct proc_bench *pb, double *ret_s, char **ret_out, size_t *ret_len)
{
	int pipefd[2] = {-1, -1};
	char *out = NULL;
	size_t len = 0, cap = 0;
	int status, in_fd, out_fd, r = 0;
	double t0;
	pid_t pid;

	in_fd = open(pb->events, O_RDONLY | O_CLOEXEC);
	if (in_fd < 0)
		return -errno;
	if (ret_out != NULL) {
		if (pipe2(pipefd, O_CLOEXEC) != 0) {
			r = -errno;
			goto out_close_in;
		}
		out_fd = pipefd[1];
	} else {
		out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (out_fd < 0) {
			r = -errno;
			goto out_close_in;
		}
	}
	fflush(stdout);
	t0 = mb_now_s();
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out_close_out;
	}
	if (pid == 0) {
		char arg0[] = "tripline", arg1[] = "match", arg2[] = "--rules";
		char *argv[] = {arg0, arg1, arg2, pb->rules, NULL};

		if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0)
			_exit(127);
		execv(pb->tripline, argv);
		_exit(127);
	}
	if (ret_out != NULL) {
		close(pipefd[1]);
		pipefd[1] = -1;
		for (;;) {
			ssize_t got;

			if (cap - len < 65536) {
				size_t ncap = cap ? cap * 2 : ((size_t)8 << 20);
				char *nb;

				if (ncap > MAX_PROCESS_OUTPUT) {
					r = -EFBIG;
					break;
				}
				nb = realloc(out, ncap);
				if (nb == NULL) {
					r = -ENOMEM;
					break;
				}
				out = nb;
				cap = ncap;
			}
			got = read(pipefd[0], out + len, cap - len);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				r = -errno;
				break;
			}
			if (got == 0)
				break;
			len += (size_t)got;
		}
		close(pipefd[0]);
		pipefd[0] = -1;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			r = -errno;
			goto out_close_out;
		}
	}
	*ret_s = mb_now_s() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		pb->failed = true;
		if (WIFEXITED(status))
			snprintf(pb->failure, sizeof(pb->failure), "tripline match exited %d",
				 WEXITSTATUS(status));
		else
			snprintf(pb->failure, sizeof(pb->failure), "tripline match killed by signal %d",
				 WTERMSIG(status));
	}
	if (r == 0 && ret_out != NULL) {
		*ret_out = out;
		*ret_len = len;
		out = NULL;
	}

out_close_out:
	free(out);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	else if (ret_out == NULL)
		close(out_fd);
out_close_in:
	close(in_fd);
	return r;
}

/*
 * Checks the output of the check run: one line per input line, in order,
 * each {"line": N, "matched": [...]}, and per rule as many lines naming it
 * as the rule's expected count. Describes the first problem in why.
 */
bool mb_proc_check(const char *out, size_t len, const struct citylots_rule *const *rules, size_t n,
		   size_t lines, char *why, size_t whycap)
{
	uint64_t *counts = calloc(n ? n : 1, sizeof(*counts));
	size_t line = 0, pos = 0, i;
	bool ok = true;

	if (counts == NULL) {
		snprintf(why, whycap, "out of memory");
		return false;
	}
	while (pos < len && ok) {
		const char *p = out + pos, *nl = memchr(p, '\n', len - pos);
		char head[40];
		int hl;

		if (nl == NULL) {
			snprintf(why, whycap, "output line %zu has no newline", line + 1);
			ok = false;
			break;
		}
		line++;
		hl = snprintf(head, sizeof(head), "{\"line\": %zu, \"matched\": [", line);
		if ((size_t)(nl - p) < (size_t)hl + 2 || memcmp(p, head, (size_t)hl) != 0 ||
		    memcmp(nl - 2, "]}", 2) != 0) {
			snprintf(why, whycap, "output line %zu is not {\"line\": %zu, \"matched\": [...]}",
				 line, line);
			ok = false;
			break;
		}
		/* the names: "SET.rule" separated by ", " */
		for (const char *q = p + hl; q < nl - 2;) {
			const char *e;

			if (*q != '"' || (e = memchr(q + 1, '"', (size_t)(nl - q - 1))) == NULL) {
				snprintf(why, whycap, "output line %zu: cannot read the names", line);
				ok = false;
				break;
			}
			for (i = 0; i < n; i++) {
				size_t sl = strlen(rules[i]->set), nml = strlen(rules[i]->name);

				if ((size_t)(e - q - 1) == sl + 1 + nml && memcmp(q + 1, rules[i]->set, sl) == 0 &&
				    q[1 + sl] == '.' && memcmp(q + 2 + sl, rules[i]->name, nml) == 0)
					break;
			}
			if (i == n) {
				snprintf(why, whycap, "output line %zu names a rule not in the set", line);
				ok = false;
				break;
			}
			counts[i]++;
			q = e + 1;
			if (q < nl - 2 && (nl - 2 - q < 2 || memcmp(q, ", ", 2) != 0)) {
				snprintf(why, whycap, "output line %zu: cannot read the names", line);
				ok = false;
				break;
			}
			q += q < nl - 2 ? 2 : 0;
		}
		pos = (size_t)(nl - out) + 1;
	}
	if (ok && line != lines) {
		snprintf(why, whycap, "%zu output lines for %zu input lines", line, lines);
		ok = false;
	}
	for (i = 0; ok && i < n; i++) {
		if (counts[i] != rules[i]->expected) {
			snprintf(why, whycap, "%s/%s expected %" PRIu64 " got %" PRIu64, rules[i]->set,
				 rules[i]->name, rules[i]->expected, counts[i]);
			ok = false;
		}
	}
	free(counts);
	return ok;
}
