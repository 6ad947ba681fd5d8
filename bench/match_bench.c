/*
 * match_bench.c — single-thread throughput benchmark of the matcher on the
 * citylots2 stream, and a scaling run over generated rule sets.
 *
 * Set mode (the default) loads the rules file (bench/data/citylots2-rules.json)
 * and the whole events file (JSON lines, plain or gzip) into memory, then, for
 * every rule set of the file's "order" and for the combined sets PARTIAL_COMBO
 * and COMBO, compiles one matcher holding that set's rules, times full passes
 * over all events (best of --repeat) and counts the events each rule matched.
 * Each rule carries the number of events it must match, also inside a
 * combined set, so a pass is also a correctness check at scale. With
 * --tripline, each set is also written as a rule file and the whole process
 * `tripline match --rules <set>` is timed on the same stream (a plain file
 * on stdin, stdout to /dev/null), one run after each in-process pass; one
 * more, untimed run has its output checked line by line against the
 * expected counts.
 *
 * Scaling mode (--scaling) builds matchers of growing size from generated,
 * pairwise distinct rules (plus the citylots EXACT set, so that matches
 * happen) and reports compile time, resident memory growth per rule, the
 * matcher's own size figure and throughput over the first --events-limit
 * events, to show how per-event work depends on the number of rules.
 *
 * Contract: the program prints figures and never judges timings. It exits 0
 * when every count is right, 1 when a rule matched a different number of
 * events than expected (or the matcher rejected an event, or `tripline
 * match` failed or answered differently), and 2 on a usage
 * or setup error (unreadable file, invalid pattern, out of memory).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <zlib.h>

#include "bench_util.h"
#include "citylots_rules.h"
#include "errlist.h"
#include "matcher.h"
#include "pattern.h"

#define DEFAULT_RULES "bench/data/citylots2-rules.json"
#define DEFAULT_EVENTS "bench/data/citylots2.json.gz"
#define DEFAULT_SIZES "10,1000,100000"
#define DEFAULT_REPEAT 3u
#define DEFAULT_SCALING_EVENTS 50000u

#define MAX_EVENTS_BYTES ((size_t)4 << 30)
#define MAX_REPEAT 1000u
#define MAX_LIST 64u                 /* names in --sets, sizes in --sizes */
#define MAX_SCALING_RULES 1000000u   /* generators below stay distinct up to here */

#define MAX_PROCESS_OUTPUT ((size_t)1 << 30)   /* what --tripline's check run may print */

#define EXIT_WRONG 1
#define EXIT_SETUP 2

/* All events, one line each, held in one buffer. */
struct event_span {
	size_t off;
	size_t len;
};

struct event_stream {
	char *buf;
	size_t buf_len;
	size_t n;
	struct event_span *ev;
	size_t bytes;             /* sum of line lengths, newlines excluded */
	size_t lines_in_file;     /* may exceed n when a limit applies */
};

/* What one timed run of one matcher produced. */
struct run_result {
	double compile_s;
	double build_s;           /* the matcher_build() part of compile_s */
	double best_s;
	uint64_t *counts;         /* per rule id, from the first pass */
	uint64_t rejected;        /* events the matcher returned an error for */
	size_t first_rejected;    /* line index of the first one */
	char first_error[160];
	bool unstable;            /* a later pass counted differently */
	uint64_t total_matches;
	struct matcher_stats stats;
};

/* The combined sets, built from the file's sets. */
static const char *const partial_combo_sets[] = {
	"NUMERIC", "EXACT", "PREFIX", "ANYTHING_BUT", "ANYTHING_BUT_IGNORE_CASE",
	"ANYTHING_BUT_PREFIX", "ANYTHING_BUT_SUFFIX", "ANYTHING_BUT_WILDCARD",
};
static const char *const combo_sets[] = {
	"NUMERIC", "EXACT", "PREFIX", "ANYTHING_BUT", "ANYTHING_BUT_IGNORE_CASE",
	"ANYTHING_BUT_PREFIX", "ANYTHING_BUT_SUFFIX", "ANYTHING_BUT_WILDCARD",
	"COMPLEX_ARRAYS",
};
#define PARTIAL_COMBO_RULES 40u
#define COMBO_RULES 45u

/* ------------------------------------------------------------ small helpers */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Returns freed heap to the kernel so that RSS differences mean something. */
static void trim_heap(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* ------------------------------------------------------------ the events */

/*
 * Reads the events file (gzip or plain: gzread passes plain files through)
 * and indexes its non-empty lines, up to `limit` of them (0: all). The whole
 * file is decompressed even under a limit, so lines_in_file is exact.
 */
static int events_load(const char *path, size_t limit, struct event_stream *ret)
{
	gzFile gz;
	char *buf = NULL;
	size_t len = 0, cap = 0, nev = 0, cap_ev = 0, lines = 0, bytes = 0;
	struct event_span *ev = NULL;
	size_t pos;
	int ret_code;

	errno = 0;
	gz = gzopen(path, "rb");
	if (gz == NULL) {
		fprintf(stderr, "match_bench: %s: %s\n", path, errno ? strerror(errno) : "cannot open");
		return -ENOENT;
	}
	gzbuffer(gz, 1u << 18);
	for (;;) {
		int got;
		size_t want;

		if (cap - len < ((size_t)1 << 20)) {
			size_t ncap = cap ? cap * 2 : ((size_t)64 << 20);
			char *nbuf;

			if (ncap > MAX_EVENTS_BYTES + 2)
				ncap = MAX_EVENTS_BYTES + 2;   /* room to notice one byte too many */
			if (ncap <= len + 1) {
				fprintf(stderr, "match_bench: %s: more than %zu bytes\n", path, MAX_EVENTS_BYTES);
				ret_code = -EFBIG;
				goto out_free;
			}
			nbuf = realloc(buf, ncap);
			if (nbuf == NULL) {
				fprintf(stderr, "match_bench: %s: out of memory\n", path);
				ret_code = -ENOMEM;
				goto out_free;
			}
			buf = nbuf;
			cap = ncap;
		}
		want = cap - len - 1;
		if (want > ((size_t)1 << 30))
			want = (size_t)1 << 30;
		got = gzread(gz, buf + len, (unsigned)want);
		if (got < 0) {
			int zerr;

			fprintf(stderr, "match_bench: %s: %s\n", path, gzerror(gz, &zerr));
			ret_code = -EIO;
			goto out_free;
		}
		if (got == 0)
			break;
		len += (size_t)got;
		if (len > MAX_EVENTS_BYTES) {
			fprintf(stderr, "match_bench: %s: more than %zu bytes\n", path, MAX_EVENTS_BYTES);
			ret_code = -EFBIG;
			goto out_free;
		}
	}
	buf[len] = '\0';

	for (pos = 0; pos < len;) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;
		size_t l = end - pos;

		if (l > 0 && buf[pos + l - 1] == '\r')
			l--;
		if (l > 0) {
			lines++;
			if (limit == 0 || nev < limit) {
				if (nev == cap_ev) {
					size_t ncap = cap_ev ? cap_ev * 2 : 262144;
					struct event_span *nv = realloc(ev, ncap * sizeof(*ev));

					if (nv == NULL) {
						fprintf(stderr, "match_bench: %s: out of memory\n", path);
						ret_code = -ENOMEM;
						goto out_free;
					}
					ev = nv;
					cap_ev = ncap;
				}
				ev[nev].off = pos;
				ev[nev].len = l;
				bytes += l;
				nev++;
			}
		}
		pos = end + 1;
	}
	gzclose(gz);
	if (nev == 0) {
		fprintf(stderr, "match_bench: %s: no events\n", path);
		free(ev);
		free(buf);
		return -EINVAL;
	}
	ret->buf = buf;
	ret->buf_len = len;
	ret->n = nev;
	ret->ev = ev;
	ret->bytes = bytes;
	ret->lines_in_file = lines;
	return 0;

out_free:
	free(ev);
	free(buf);
	gzclose(gz);
	return ret_code;
}

static void events_free(struct event_stream *s)
{
	free(s->ev);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------- measuring */

/*
 * Parses every pattern text (id = index) and builds one matcher; the time
 * from text to matcher goes to *ret_s, the part spent in matcher_build() to
 * *ret_build_s. `where` names the texts in errors.
 */
static int build_matcher(const char *const *texts, const size_t *lens, size_t n,
			 const char *const *where, struct matcher **ret, double *ret_s,
			 double *ret_build_s)
{
	double tb;
	struct matcher_limits lim;
	struct matcher_builder *b;
	struct errlist errs = ERRLIST_INIT;
	double t0 = now_s();
	size_t i;
	int r;

	memset(&lim, 0, sizeof(lim));
	b = matcher_builder_new(&lim);
	if (b == NULL) {
		fprintf(stderr, "match_bench: out of memory\n");
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct pattern *p = NULL;

		r = pattern_parse(texts[i], lens[i], PATTERN_DIALECT_TRIPLINE, NULL, &p, &errs);
		if (r < 0) {
			size_t k;

			fprintf(stderr, "match_bench: %s: invalid pattern (%s):\n", where[i], strerror(-r));
			for (k = 0; k < errs.n; k++)
				fprintf(stderr, "  %s\n", errs.msgs[k]);
			if (errs.dropped)
				fprintf(stderr, "  (%zu more messages dropped)\n", errs.dropped);
			goto out_free_builder;
		}
		r = matcher_builder_add(b, (uint32_t)i, p);
		if (r < 0) {
			fprintf(stderr, "match_bench: %s: adding to the matcher: %s\n", where[i], strerror(-r));
			goto out_free_builder;
		}
	}
	tb = now_s();
	r = matcher_build(b, ret);
	*ret_build_s = now_s() - tb;
	if (r < 0) {
		fprintf(stderr, "match_bench: building the matcher: %s\n", strerror(-r));
		goto out_clear;
	}
	*ret_s = now_s() - t0;
	errlist_clear(&errs);
	return 0;

out_free_builder:
	matcher_builder_free(b);
out_clear:
	errlist_clear(&errs);
	return r;
}

/* ------------------------------------------------------------ the whole process */

/*
 * `tripline match` as a user runs it: the stream as a plain file on stdin,
 * the set as a rule file, stdout to /dev/null (or, for the untimed check
 * run, to a pipe this program reads). The temporary directory holds both and
 * is removed at the end.
 */
struct proc_bench {
	const char *tripline;     /* the binary */
	char dir[64];             /* temporary directory, "" when not made */
	char events[96];          /* dir/events.jsonl */
	char rules[128];          /* dir/<set>.json, the current set */
	bool events_written;
	bool rules_written;
	double best_s;            /* best timed run of the current set, < 0 before one */
	bool failed;              /* a run exited non-zero or was killed */
	char failure[160];
};

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
static int proc_bench_init(struct proc_bench *pb, const char *tripline, const struct event_stream *es)
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

static void proc_bench_cleanup(struct proc_bench *pb)
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
static int proc_write_rules(struct proc_bench *pb, const char *label,
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
static int proc_run(struct proc_bench *pb, double *ret_s, char **ret_out, size_t *ret_len)
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
	t0 = now_s();
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
	*ret_s = now_s() - t0;
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
static bool proc_check(const char *out, size_t len, const struct citylots_rule *const *rules, size_t n,
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

/*
 * Times `repeat` full passes of m over the events and keeps the best. Counts
 * per id come from the first pass; later passes must agree. With pb, every
 * pass is followed by one timed run of the whole process (best kept in
 * pb->best_s), so that a slow spell of the machine hits both alike.
 */
static int run_passes(const struct matcher *m, size_t nrules, const struct event_stream *es,
		      unsigned repeat, struct proc_bench *pb, struct run_result *res)
{
	struct match_scratch *s = match_scratch_new();
	uint64_t *pass_counts = calloc(nrules ? nrules : 1, sizeof(uint64_t));
	unsigned pass;
	int r = 0;

	res->counts = calloc(nrules ? nrules : 1, sizeof(uint64_t));
	res->best_s = -1.0;
	if (s == NULL || pass_counts == NULL || res->counts == NULL) {
		fprintf(stderr, "match_bench: out of memory\n");
		r = -ENOMEM;
		goto out_free;
	}
	for (pass = 0; pass < repeat; pass++) {
		uint64_t rejected = 0, total = 0;
		double t0, dt;
		size_t i;

		memset(pass_counts, 0, nrules * sizeof(uint64_t));
		t0 = now_s();
		for (i = 0; i < es->n; i++) {
			const uint32_t *ids;
			int k = matcher_match(m, es->buf + es->ev[i].off, es->ev[i].len, s, &ids);
			int j;

			if (k < 0) {
				if (rejected++ == 0 && pass == 0) {
					res->first_rejected = i;
					snprintf(res->first_error, sizeof(res->first_error), "%s: %s",
						 strerror(-k), match_scratch_error(s) ? match_scratch_error(s) : "");
				}
				continue;
			}
			for (j = 0; j < k; j++)
				if (ids[j] < nrules)
					pass_counts[ids[j]]++;
			total += (uint64_t)k;
		}
		dt = now_s() - t0;
		if (res->best_s < 0 || dt < res->best_s)
			res->best_s = dt;
		if (pass == 0) {
			memcpy(res->counts, pass_counts, nrules * sizeof(uint64_t));
			res->rejected = rejected;
			res->total_matches = total;
		} else if (memcmp(res->counts, pass_counts, nrules * sizeof(uint64_t)) != 0 ||
			   rejected != res->rejected) {
			res->unstable = true;
		}
		if (pb != NULL) {
			r = proc_run(pb, &dt, NULL, NULL);
			if (r < 0) {
				fprintf(stderr, "match_bench: running %s: %s\n", pb->tripline, strerror(-r));
				goto out_free;
			}
			if (pb->best_s < 0 || dt < pb->best_s)
				pb->best_s = dt;
		}
	}
	matcher_get_stats(m, &res->stats);

out_free:
	free(pass_counts);
	match_scratch_free(s);
	return r;
}

/* ------------------------------------------------------------ set mode */

/* Runs one (possibly combined) set; prints its line. Returns 1 if wrong, 0 if right, <0 on error. */
static int bench_set(const char *label, const struct citylots_rule *const *rules, size_t n,
		     const struct event_stream *es, unsigned repeat, struct proc_bench *pb,
		     struct matcher_stats *ret_stats)
{
	char proc_why[160] = "";
	bool proc_ok = true;
	const char **texts = calloc(n, sizeof(*texts));
	size_t *lens = calloc(n, sizeof(*lens));
	char **where = calloc(n, sizeof(*where));
	struct run_result res;
	struct matcher *m = NULL;
	const char *sep;
	size_t i;
	bool wrong;
	int r;

	memset(&res, 0, sizeof(res));
	if (texts == NULL || lens == NULL || where == NULL) {
		fprintf(stderr, "match_bench: out of memory\n");
		r = -ENOMEM;
		goto out_free;
	}
	for (i = 0; i < n; i++) {
		size_t wl = strlen(rules[i]->set) + strlen(rules[i]->name) + 2;

		texts[i] = rules[i]->text;
		lens[i] = rules[i]->text_len;
		where[i] = malloc(wl);
		if (where[i] == NULL) {
			fprintf(stderr, "match_bench: out of memory\n");
			r = -ENOMEM;
			goto out_free;
		}
		snprintf(where[i], wl, "%s/%s", rules[i]->set, rules[i]->name);
	}
	r = build_matcher(texts, lens, n, (const char *const *)where, &m, &res.compile_s, &res.build_s);
	if (r < 0)
		goto out_free;
	if (pb != NULL) {
		/* the process's answers, checked once, untimed */
		char *out = NULL;
		size_t out_len = 0;
		double secs;

		r = proc_write_rules(pb, label, rules, n);
		if (r < 0)
			goto out_free;
		pb->best_s = -1.0;
		pb->failed = false;
		r = proc_run(pb, &secs, &out, &out_len);
		if (r < 0) {
			fprintf(stderr, "match_bench: running %s: %s\n", pb->tripline, strerror(-r));
			goto out_free;
		}
		proc_ok = !pb->failed && proc_check(out, out_len, rules, n, es->lines_in_file, proc_why,
						    sizeof(proc_why));
		free(out);
	}
	r = run_passes(m, n, es, repeat, pb, &res);
	if (r < 0)
		goto out_free;

	wrong = res.rejected > 0 || res.unstable;
	for (i = 0; i < n; i++)
		if (res.counts[i] != rules[i]->expected)
			wrong = true;
	if (pb != NULL && pb->failed)
		proc_ok = false;
	wrong |= !proc_ok;
	printf("%-26s %5zu %11.0f %9.1f %11.3f", label, n, (double)es->n / res.best_s,
	       (double)es->bytes / res.best_s / 1e6, res.compile_s * 1e3);
	if (pb != NULL)
		printf(" %11.0f %6.2f", (double)es->n / pb->best_s, res.best_s / pb->best_s);
	printf("  %s", wrong ? "counts WRONG" : "counts OK");
	sep = ":";
	if (!proc_ok) {
		printf("%s tripline match: %s", sep, pb->failed ? pb->failure : proc_why);
		sep = ";";
	}
	for (i = 0; i < n; i++) {
		if (res.counts[i] != rules[i]->expected) {
			printf("%s %s/%s expected %" PRIu64 " got %" PRIu64, sep,
			       rules[i]->set, rules[i]->name, rules[i]->expected, res.counts[i]);
			sep = ";";
		}
	}
	if (res.rejected > 0) {
		printf("%s rejected %" PRIu64 " events (first: line %zu: %s)", sep,
		       res.rejected, res.first_rejected + 1, res.first_error);
		sep = ";";
	}
	if (res.unstable)
		printf("%s passes disagree", sep);
	printf("\n");
	fflush(stdout);
	*ret_stats = res.stats;
	r = wrong ? 1 : 0;

out_free:
	matcher_free(m);
	free(res.counts);
	if (where != NULL)
		for (i = 0; i < n; i++)
			free(where[i]);
	free(where);
	free(lens);
	free(texts);
	return r;
}

/* The rules of the named sets, in order, as one list. */
static int collect(const struct citylots_rules *rf, const char *const *names, size_t nnames,
		   const struct citylots_rule ***ret, size_t *ret_n)
{
	const struct citylots_rule **list;
	size_t total = 0, i, j, k = 0;

	for (i = 0; i < nnames; i++) {
		const struct citylots_set *s = citylots_rules_find(rf, names[i]);

		if (s == NULL) {
			fprintf(stderr, "match_bench: rule set %s is not in the rules file\n", names[i]);
			return -ENOENT;
		}
		total += s->n;
	}
	list = calloc(total ? total : 1, sizeof(*list));
	if (list == NULL) {
		fprintf(stderr, "match_bench: out of memory\n");
		return -ENOMEM;
	}
	for (i = 0; i < nnames; i++) {
		const struct citylots_set *s = citylots_rules_find(rf, names[i]);

		for (j = 0; j < s->n; j++)
			list[k++] = &s->rules[j];
	}
	*ret = list;
	*ret_n = total;
	return 0;
}

static bool selected(const char *const *only, size_t nonly, const char *name)
{
	size_t i;

	if (nonly == 0)
		return true;
	for (i = 0; i < nonly; i++)
		if (strcmp(only[i], name) == 0)
			return true;
	return false;
}

struct stats_row {
	const char *name;
	struct matcher_stats st;
};

static int run_sets(const char *rules_path, const char *events_path, const char *const *only,
		    size_t nonly, unsigned repeat, const char *tripline)
{
	struct proc_bench pb;
	struct citylots_rules rf;
	struct event_stream es;
	struct stats_row *rows = NULL;
	size_t nrows = 0, i;
	bool all_ok = true;
	double t0;
	int r;

	r = citylots_rules_load(rules_path, &rf);
	if (r < 0)
		return EXIT_SETUP;
	for (i = 0; i < nonly; i++) {
		if (citylots_rules_find(&rf, only[i]) == NULL && strcmp(only[i], "PARTIAL_COMBO") != 0 &&
		    strcmp(only[i], "COMBO") != 0) {
			fprintf(stderr, "match_bench: --sets: no rule set named %s\n", only[i]);
			r = -EINVAL;
			goto out_free_rules;
		}
	}
	t0 = now_s();
	memset(&pb, 0, sizeof(pb));
	r = events_load(events_path, 0, &es);
	if (r < 0)
		goto out_free_rules;
	if (tripline != NULL && (r = proc_bench_init(&pb, tripline, &es)) < 0)
		goto out_free_events;
	printf("match_bench: %zu events, %.1f MB (%s, loaded in %.1f s); best of %u passes; "
	       "single thread; MB = 10^6 bytes of event text\n",
	       es.n, (double)es.bytes / 1e6, events_path, now_s() - t0, repeat);
	if ((uint64_t)es.n != rf.events)
		printf("match_bench: warning: the expected counts are for a stream of %" PRIu64
		       " events, this one has %zu\n", rf.events, es.n);
	if (tripline != NULL)
		printf("match_bench: 'match ev/s' is the whole process, %s match --rules <set>.json\n"
		       "match_bench: < the stream as a plain file > /dev/null; ratio = its events/s / events/s\n",
		       tripline);
	printf("%-26s %5s %11s %9s %11s", "set", "rules", "events/s", "MB/s", "compile ms");
	if (tripline != NULL)
		printf(" %11s %6s", "match ev/s", "ratio");
	printf("  %s\n", "result");

	rows = calloc(rf.n + 2, sizeof(*rows));
	if (rows == NULL) {
		fprintf(stderr, "match_bench: out of memory\n");
		r = -ENOMEM;
		goto out_free_events;
	}
	for (i = 0; i < rf.n + 2; i++) {
		const struct citylots_rule **list = NULL;
		size_t n = 0;
		const char *label;

		if (i < rf.n) {
			label = rf.sets[i].name;
			if (!selected(only, nonly, label))
				continue;
			r = collect(&rf, &label, 1, &list, &n);
		} else if (i == rf.n) {
			label = "PARTIAL_COMBO";
			if (!selected(only, nonly, label))
				continue;
			r = collect(&rf, partial_combo_sets,
				    sizeof(partial_combo_sets) / sizeof(partial_combo_sets[0]), &list, &n);
			if (r == 0 && n != PARTIAL_COMBO_RULES)
				printf("match_bench: warning: PARTIAL_COMBO has %zu rules, not %u\n",
				       n, PARTIAL_COMBO_RULES);
		} else {
			label = "COMBO";
			if (!selected(only, nonly, label))
				continue;
			r = collect(&rf, combo_sets, sizeof(combo_sets) / sizeof(combo_sets[0]), &list, &n);
			if (r == 0 && n != COMBO_RULES)
				printf("match_bench: warning: COMBO has %zu rules, not %u\n", n, COMBO_RULES);
		}
		if (r < 0)
			goto out_free_rows;
		r = bench_set(label, list, n, &es, repeat, tripline != NULL ? &pb : NULL, &rows[nrows].st);
		free(list);
		if (r < 0)
			goto out_free_rows;
		if (r > 0)
			all_ok = false;
		rows[nrows++].name = label;
	}
	printf("all counts correct: %s\n", all_ok ? "yes" : "no");

	printf("\nmatcher figures (matcher_get_stats)\n");
	printf("%-26s %9s %9s %9s %9s %12s\n", "set", "patterns", "branches", "states", "paths", "bytes");
	for (i = 0; i < nrows; i++)
		printf("%-26s %9zu %9zu %9zu %9zu %12zu\n", rows[i].name, rows[i].st.patterns,
		       rows[i].st.branches, rows[i].st.states, rows[i].st.paths, rows[i].st.bytes);
	r = all_ok ? 0 : EXIT_WRONG;

out_free_rows:
	free(rows);
out_free_events:
	proc_bench_cleanup(&pb);
	events_free(&es);
out_free_rules:
	citylots_rules_free(&rf);
	return r < 0 ? EXIT_SETUP : r;
}

/* ------------------------------------------------------------ scaling mode */

/* Street names of the citylots stream (gen_citylots2.py's fillers and planted ones). */
static const char *const streets[] = {
	"GEARY", "MARKET", "PINE", "BUSH", "SUTTER", "POST", "CALIFORNIA", "VALENCIA",
	"GUERRERO", "DOLORES", "CASTRO", "NOE", "SANCHEZ", "CHURCH", "FOLSOM", "HOWARD",
	"BRYANT", "POTRERO", "VERMONT", "KANSAS", "TARAVAL", "ULLOA", "VICENTE", "WAWONA",
	"SLOAT", "NORIEGA", "ORTEGA", "PACHECO", "QUINTARA", "JUDAH", "KIRKHAM", "MORAGA",
	"CLEMENT", "ANZA", "BALBOA", "CABRILLO", "FELL", "OAK", "PAGE", "HAIGHT", "WALLER",
	"DIVISADERO", "BRODERICK", "BAKER", "CENTRAL", "ASHBURY", "COLE", "SHRADER",
	"STANYAN", "ARGUELLO", "PARKER", "GREENWICH", "FILBERT", "GREEN", "VALLEJO",
	"BROADWAY", "PACIFIC", "CLAY", "SACRAMENTO", "OCTAVIA", "LAGUNA", "BUCHANAN",
	"WEBSTER", "FILLMORE", "STEINER", "PIERCE", "SCOTT", "LARKIN", "POLK", "VAN NESS",
	"FRANKLIN", "GOUGH", "NINETEENTH", "TWENTIETH", "ARMSTRONG", "BANCROFT", "CARROLL",
	"EVANS", "INGALLS", "JENNINGS", "KEITH", "LANE", "MENDELL", "NEWHALL", "OCEAN",
	"PERSIA", "RUSSIA", "FRANCE", "ITALY", "PARIS", "MADRID", "ATHENS", "VIENNA",
	"NAPLES", "MUNICH", "PRAGUE", "DUBLIN", "EDINBURGH", "ROLPH", "SEVILLE", "TERESITA",
	"PORTOLA", "OSHAUGHNESSY", "MYRA", "ELK", "CHENERY", "DIAMOND", "DOUGLASS", "EUREKA",
	"HOFFMAN", "GRAND VIEW", "CLIPPER", "ALVARADO", "ELIZABETH", "HILL", "LIBERTY",
	"CUMBERLAND", "SHOTWELL", "CAPP", "TREAT", "ALABAMA", "FLORIDA", "HAMPSHIRE", "YORK",
	"HARRIET", "NATOMA", "MINNA", "TEHAMA", "FULTON", "FUENTE", "MOULTON", "MASON",
	"MASONIC", "ACADIA", "BLANKEN", "BLYTHDALE", "DRUMM", "DRUMMOND", "RHODE ISLAND",
	"LAKE", "BURKE", "KING", "HARDING", "CHICAGO", "JEFFERSON", "WASHINGTON", "HARRISON",
	"JACKSON", "BEACH", "HYDE", "CHESTNUT",
};
#define NSTREETS (sizeof(streets) / sizeof(streets[0]))

/* splitmix64: a fixed seed makes every run generate the same rules. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Longitude in units of 1e-7 degree below zero, written without float noise. */
static int fmt_lon(char *out, size_t cap, uint64_t units)
{
	char frac[16];
	int l;

	l = snprintf(frac, sizeof(frac), "%07" PRIu64, units % 10000000u);
	while (l > 1 && frac[l - 1] == '0')
		frac[--l] = '\0';
	return snprintf(out, cap, "-%" PRIu64 ".%s", units / 10000000u, frac);
}

/*
 * Rule k of a scaling set of n rules: the citylots EXACT rules first, then a
 * fixed 10-step cycle of 5 exact, 3 prefix and 2 numeric rules. Each kind
 * enumerates its own counter through a bijection, so no two rules are equal:
 *   exact   (STREET, FROM_ST) = (streets[e % NSTREETS], 1 + e / NSTREETS)
 *   prefix  MAPBLKLOT prefix "%06u" of (p * 7919 + 12345) mod 10^6
 *   numeric firstCoordinates.x in (lo, lo + w), lo = XMIN + ((q * 7919) mod
 *           1579000) * 1e-7 (the citylots longitude span), w random in
 *           1e-7 .. 3e-5 degrees, so that ranges overlap little and
 *           matches per event stay few (about 2 at 100,000 rules)
 */
static int gen_rule(size_t k, size_t nexact, const struct citylots_set *exact_set,
		    uint64_t *rng, size_t *kind_counter, char *out, size_t cap)
{
	size_t g, c;
	int l;

	if (k < nexact) {
		l = snprintf(out, cap, "%s", exact_set->rules[k].text);
		return l < 0 || (size_t)l >= cap ? -ENOSPC : l;
	}
	g = k - nexact;
	switch (g % 10) {
	case 0: case 1: case 2: case 3: case 4:
		c = kind_counter[0]++;
		l = snprintf(out, cap, "{\"properties\":{\"STREET\":[\"%s\"],\"FROM_ST\":[\"%zu\"]}}",
			     streets[c % NSTREETS], 1 + c / NSTREETS);
		break;
	case 5: case 6: case 7:
		c = kind_counter[1]++;
		l = snprintf(out, cap, "{\"properties\":{\"MAPBLKLOT\":[{\"prefix\":\"%06u\"}]}}",
			     (unsigned)(((uint64_t)c * 7919u + 12345u) % 1000000u));
		break;
	default: {
		char lo[32], hi[32];
		uint64_t lo_units, w;

		c = kind_counter[2]++;
		/* XMIN = -122.5149 = -1225149000e-7; the span to XMAX is 1579000e-7 */
		lo_units = 1225149000u - ((uint64_t)c * 7919u) % 1579000u;
		w = 1 + rng_next(rng) % 300u;
		fmt_lon(lo, sizeof(lo), lo_units);
		fmt_lon(hi, sizeof(hi), lo_units - w);
		l = snprintf(out, cap, "{\"geometry\":{\"firstCoordinates\":{\"x\":"
			     "[{\"numeric\":[\">\",%s,\"<\",%s]}]}}}", lo, hi);
		break;
	}
	}
	return l < 0 || (size_t)l >= cap ? -ENOSPC : l;
}

struct scaling_row {
	size_t rules;
	double compile_s;
	double build_s;
	long long rss_growth;
	size_t matcher_bytes;
	double eps;
	double matches_per_event;
	uint64_t total_matches;
};

/*
 * One timed pass for the scaling rounds: the matcher's work only, so matches
 * are counted, not tallied per rule (a 100,000-entry histogram would add its
 * own cache misses to what is measured). *ret_matches lets the caller check
 * the pass against the untimed first one.
 */
static int time_pass(const struct matcher *m, const struct event_stream *es, struct match_scratch *s,
		     double *ret_s, uint64_t *ret_matches)
{
	uint64_t total = 0;
	double t0 = now_s();

	for (size_t i = 0; i < es->n; i++) {
		const uint32_t *ids;
		int k = matcher_match(m, es->buf + es->ev[i].off, es->ev[i].len, s, &ids);
		if (k > 0)
			total += (uint64_t)k;
	}
	*ret_s = now_s() - t0;
	*ret_matches = total;
	return 0;
}

/*
 * Builds the matcher of n generated rules (kept in *ret_m for the timed
 * rounds) and fills row with everything but events/s, from one untimed pass.
 */
static int scale_one(size_t n, const struct citylots_set *exact_set, const struct event_stream *es,
		     struct scaling_row *row, struct matcher **ret_m)
{
	const size_t slot = 160;
	size_t nexact = exact_set->n < n ? exact_set->n : n;
	size_t kind_counter[3] = {0, 0, 0};
	uint64_t rng = 20240901u;
	char *arena = malloc(n * slot);
	const char **texts = calloc(n, sizeof(*texts));
	size_t *lens = calloc(n, sizeof(*lens));
	const char **where = calloc(n, sizeof(*where));
	struct matcher *m = NULL;
	struct run_result res;
	long long before, after;
	size_t i;
	int r;

	memset(&res, 0, sizeof(res));
	if (arena == NULL || texts == NULL || lens == NULL || where == NULL) {
		r = -ENOMEM;
		goto out_free;
	}
	for (i = 0; i < n; i++) {
		int l = gen_rule(i, nexact, exact_set, &rng, kind_counter, arena + i * slot, slot);

		if (l < 0) {
			r = l;
			goto out_free;
		}
		texts[i] = arena + i * slot;
		lens[i] = (size_t)l;
		where[i] = texts[i];    /* a generated rule is named by its text */
	}
	/* RSS around the compile only: generated texts already exist */
	trim_heap();
	before = rss_of(0);
	r = build_matcher(texts, lens, n, where, &m, &res.compile_s, &res.build_s);
	if (r < 0)
		goto out_free;
	trim_heap();
	after = rss_of(0);
	r = run_passes(m, n, es, 1, NULL, &res);
	if (r < 0)
		goto out_free;
	if (res.rejected > 0)
		printf("match_bench: warning: %zu rules: the matcher rejected %" PRIu64
		       " events (first: line %zu: %s)\n", n, res.rejected, res.first_rejected + 1,
		       res.first_error);
	row->rules = n;
	row->compile_s = res.compile_s;
	row->build_s = res.build_s;
	row->rss_growth = before >= 0 && after >= 0 ? after - before : LLONG_MIN;
	row->matcher_bytes = res.stats.bytes;
	row->matches_per_event = (double)res.total_matches / (double)es->n;
	row->total_matches = res.total_matches;
	*ret_m = m;
	m = NULL;

out_free:
	matcher_free(m);
	free(res.counts);
	free(where);
	free(lens);
	free(texts);
	free(arena);
	if (r == -ENOMEM)
		fprintf(stderr, "match_bench: out of memory\n");
	else if (r == -ENOSPC)
		fprintf(stderr, "match_bench: a generated rule does not fit its buffer\n");
	return r;
}

static int run_scaling(const char *rules_path, const char *events_path, const size_t *sizes,
		       size_t nsizes, size_t limit, unsigned repeat)
{
	struct citylots_rules rf;
	struct event_stream es;
	struct scaling_row *rows;
	struct matcher **matchers = NULL;
	struct match_scratch *scratch = NULL;
	const struct citylots_set *exact;
	size_t i, smallest = 0, largest = 0;
	int r;

	r = citylots_rules_load(rules_path, &rf);
	if (r < 0)
		return EXIT_SETUP;
	exact = citylots_rules_find(&rf, "EXACT");
	if (exact == NULL) {
		fprintf(stderr, "match_bench: %s: no EXACT set to mix in\n", rules_path);
		citylots_rules_free(&rf);
		return EXIT_SETUP;
	}
	r = events_load(events_path, limit, &es);
	if (r < 0) {
		citylots_rules_free(&rf);
		return EXIT_SETUP;
	}
	rows = calloc(nsizes, sizeof(*rows));
	matchers = calloc(nsizes, sizeof(*matchers));
	if (rows == NULL || matchers == NULL) {
		fprintf(stderr, "match_bench: out of memory\n");
		r = -ENOMEM;
		goto out_free;
	}
	if (es.n < es.lines_in_file)
		printf("match_bench: scaling over the first %zu of %zu events (--events-limit; 0 = all), "
		       "%.1f MB; best of %u interleaved rounds; single thread\n",
		       es.n, es.lines_in_file, (double)es.bytes / 1e6, repeat);
	else
		printf("match_bench: scaling over all %zu events, %.1f MB; best of %u interleaved rounds; single thread\n",
		       es.n, (double)es.bytes / 1e6, repeat);
	printf("match_bench: rules = the first (up to %zu) citylots EXACT rules, then generated distinct rules "
	       "(5/10 STREET+FROM_ST exact, 3/10 MAPBLKLOT prefix, 2/10 firstCoordinates.x numeric range)\n",
	       exact->n);
	printf("%9s %11s %9s %13s %10s %13s %10s %11s %9s\n", "rules", "compile ms", "build ms",
	       "RSS growth B", "RSS B/rule", "matcher B", "B/rule", "events/s", "matches/ev");
	/*
	 * Every size is built first and then timed in interleaved rounds (one pass
	 * of each size per round, best of `repeat` rounds each), so that a slow
	 * spell of a shared machine hits all sizes alike and the ratio stays fair.
	 */
	for (i = 0; i < nsizes; i++) {
		r = scale_one(sizes[i], exact, &es, &rows[i], &matchers[i]);
		if (r < 0)
			goto out_free;
	}
	scratch = match_scratch_new();
	if (!scratch) {
		r = -ENOMEM;
		goto out_free;
	}
	for (unsigned round = 0; round < repeat; round++) {
		for (i = 0; i < nsizes; i++) {
			double secs;
			uint64_t matches;
			r = time_pass(matchers[i], &es, scratch, &secs, &matches);
			if (r < 0)
				goto out_free;
			if (matches != rows[i].total_matches) {
				fprintf(stderr, "match_bench: %zu rules: a timed pass matched %" PRIu64
					" ids, the first %" PRIu64 "\n", sizes[i], matches, rows[i].total_matches);
				r = -EINVAL;
				goto out_free;
			}
			double eps = (double)es.n / secs;
			if (eps > rows[i].eps)
				rows[i].eps = eps;
		}
	}
	for (i = 0; i < nsizes; i++) {
		struct scaling_row *w = &rows[i];

		printf("%9zu %11.3f %9.3f", w->rules, w->compile_s * 1e3, w->build_s * 1e3);
		if (w->rss_growth == LLONG_MIN)
			printf(" %13s %10s", "n/a", "n/a");
		else
			printf(" %13lld %10.1f", w->rss_growth, (double)w->rss_growth / (double)w->rules);
		printf(" %13zu %10.1f %11.0f %9.3f\n", w->matcher_bytes,
		       (double)w->matcher_bytes / (double)w->rules, w->eps, w->matches_per_event);
		fflush(stdout);
		if (sizes[i] < sizes[smallest])
			smallest = i;
		if (sizes[i] > sizes[largest])
			largest = i;
	}
	printf("events/s ratio, %zu rules / %zu rules: %.3f\n", sizes[largest], sizes[smallest],
	       rows[largest].eps / rows[smallest].eps);
	r = 0;

out_free:
	match_scratch_free(scratch);
	if (matchers)
		for (i = 0; i < nsizes; i++)
			matcher_free(matchers[i]);
	free(matchers);
	free(rows);
	events_free(&es);
	citylots_rules_free(&rf);
	return r < 0 ? EXIT_SETUP : 0;
}

/* ------------------------------------------------------------ main */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: match_bench [--rules FILE] [--events FILE] [--sets NAME,NAME...] [--repeat N]\n"
		"                   [--tripline PATH]\n"
		"       match_bench --scaling [--rules FILE] [--events FILE] [--sizes N,N...]\n"
		"                   [--events-limit N] [--repeat N]\n"
		"\n"
		"Single-thread matching benchmark on the citylots2 stream.\n"
		"\n"
		"  --rules FILE        rule sets with expected counts (default " DEFAULT_RULES ")\n"
		"  --events FILE       events, one JSON object per line, plain or gzip\n"
		"                      (default " DEFAULT_EVENTS ")\n"
		"  --sets LIST         only these sets, comma-separated (the file's sets,\n"
		"                      PARTIAL_COMBO, COMBO); default all\n"
		"  --repeat N          timed passes per matcher, best kept (1..%u, default %u)\n"
		"  --tripline PATH     also time the whole process, PATH match --rules <set>\n"
		"                      < events > /dev/null, once after each pass (and check\n"
		"                      its output once, untimed)\n"
		"  --scaling           generated rule sets of growing size instead of the citylots sets\n"
		"  --sizes LIST        rule counts for --scaling (1..%u each, default " DEFAULT_SIZES ")\n"
		"  --events-limit N    --scaling uses the first N events (default %u, 0 = all)\n"
		"  -h, --help          this text\n"
		"\n"
		"Prints figures; never judges timings. Exit 0 when every match count is as\n"
		"expected, 1 when one is not, 2 on a usage or setup error.\n",
		MAX_REPEAT, DEFAULT_REPEAT, MAX_SCALING_RULES, DEFAULT_SCALING_EVENTS);
}

/* Splits a comma-separated list in place. */
static int split_list(char *s, char **items, size_t max, size_t *ret_n)
{
	size_t n = 0;
	char *p = s;

	for (;;) {
		char *comma = strchr(p, ',');

		if (comma != NULL)
			*comma = '\0';
		if (*p == '\0' || n == max)
			return -EINVAL;
		items[n++] = p;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*ret_n = n;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"rules", required_argument, NULL, 'r'},
		{"events", required_argument, NULL, 'e'},
		{"sets", required_argument, NULL, 's'},
		{"repeat", required_argument, NULL, 'n'},
		{"scaling", no_argument, NULL, 'S'},
		{"sizes", required_argument, NULL, 'z'},
		{"events-limit", required_argument, NULL, 'l'},
		{"tripline", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *rules_path = DEFAULT_RULES, *events_path = DEFAULT_EVENTS, *tripline = NULL;
	char *set_names[MAX_LIST], *size_items[MAX_LIST];
	char default_sizes[] = DEFAULT_SIZES;
	char *sizes_arg = default_sizes;
	size_t nsets = 0, nsizes = 0, i;
	size_t sizes[MAX_LIST];
	unsigned long v, repeat = DEFAULT_REPEAT, limit = DEFAULT_SCALING_EVENTS;
	bool scaling = false, sets_given = false, scaling_opt = false;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rules_path = optarg;
			break;
		case 'e':
			events_path = optarg;
			break;
		case 's':
			if (split_list(optarg, set_names, MAX_LIST, &nsets) < 0) {
				fprintf(stderr, "match_bench: --sets: a comma-separated list of at most %u names\n",
					MAX_LIST);
				return EXIT_SETUP;
			}
			sets_given = true;
			break;
		case 'n':
			if (parse_uint(optarg, 1, MAX_REPEAT, &repeat) < 0) {
				fprintf(stderr, "match_bench: --repeat: an integer from 1 to %u\n", MAX_REPEAT);
				return EXIT_SETUP;
			}
			break;
		case 'S':
			scaling = true;
			break;
		case 'z':
			sizes_arg = optarg;
			scaling_opt = true;
			break;
		case 'l':
			if (parse_uint(optarg, 0, ULONG_MAX, &limit) < 0) {
				fprintf(stderr, "match_bench: --events-limit: a non-negative integer\n");
				return EXIT_SETUP;
			}
			scaling_opt = true;
			break;
		case 't':
			tripline = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_SETUP;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "match_bench: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return EXIT_SETUP;
	}
	if (scaling && (sets_given || tripline != NULL)) {
		fprintf(stderr, "match_bench: --sets and --tripline do not apply to --scaling\n");
		return EXIT_SETUP;
	}
	if (!scaling && scaling_opt) {
		fprintf(stderr, "match_bench: --sizes and --events-limit need --scaling\n");
		return EXIT_SETUP;
	}
	if (!scaling)
		return run_sets(rules_path, events_path, (const char *const *)set_names, nsets,
				(unsigned)repeat, tripline);

	if (split_list(sizes_arg, size_items, MAX_LIST, &nsizes) < 0) {
		fprintf(stderr, "match_bench: --sizes: a comma-separated list of at most %u counts\n", MAX_LIST);
		return EXIT_SETUP;
	}
	for (i = 0; i < nsizes; i++) {
		if (parse_uint(size_items[i], 1, MAX_SCALING_RULES, &v) < 0) {
			fprintf(stderr, "match_bench: --sizes: %s: each an integer from 1 to %u\n",
				size_items[i], MAX_SCALING_RULES);
			return EXIT_SETUP;
		}
		sizes[i] = v;
	}
	return run_scaling(rules_path, events_path, sizes, nsizes, limit, (unsigned)repeat);
}
