/*
 * pattern.h — an EventBridge event pattern, parsed and validated.
 *
 * pattern_parse() turns the JSON text (or an already parsed jnode) of a
 * pattern into a flat, normalised form that the matcher compiles:
 *
 *   pattern  = OR of branches        ($or and mixed exists:false expanded)
 *   branch   = AND of fields, one per distinct path (keys joined with '.')
 *   field    = path + OR of conditions, or "absent" (exists: false)
 *   condition= one operator with its operand(s), possibly negated
 *              (anything-but), fully checked and pre-computed (numeric keys,
 *              folded case, compiled wildcard/regex/cidr)
 *
 * Validation reports every error it finds as "/json/pointer: message" into
 * a struct errlist, and a pattern with any error is rejected.
 *
 * The dialect decides whether tripline's extensions ({"regex": …}) are
 * accepted; PATTERN_DIALECT_EVENTBRIDGE rejects them as EventBridge does.
 *
 * Ownership: a struct pattern owns everything it points to; pattern_free()
 * releases it (NULL is fine). Nothing here logs.
 */
#ifndef TRIPLINE_RULES_PATTERN_H
#define TRIPLINE_RULES_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errlist.h"
#include "json.h"
#include "value.h"

enum pattern_dialect {
	PATTERN_DIALECT_TRIPLINE = 0,    /* EventBridge + {"regex": …} */
	PATTERN_DIALECT_EVENTBRIDGE = 1, /* exactly EventBridge's language */
};

/* What one condition tests against one event value. */
enum cond_kind {
	COND_EXACT,        /* a typed literal: string, number, true, false, null */
	COND_PREFIX,       /* strings only */
	COND_PREFIX_IC,    /* prefix with equals-ignore-case */
	COND_SUFFIX,
	COND_SUFFIX_IC,
	COND_EQUALS_IC,    /* equals-ignore-case */
	COND_WILDCARD,
	COND_REGEX,        /* tripline extension */
	COND_NUMERIC,      /* a range over numbers */
	COND_CIDR,         /* an IP range over strings that are IP addresses */
	COND_EXISTS,       /* exists: true — any leaf value */
};

/*
 * A condition. For a positive condition (negated == false) `n` is 1 and
 * operands[0] is the operand. For anything-but (negated == true) the
 * condition matches a value that none of the n operands matches; `kind` is
 * the operator applied to each operand (COND_EXACT for a plain value list).
 */
struct cond {
	enum cond_kind kind;
	bool negated;
	size_t n;
	struct operand *operands;
};

/* One operand, already prepared for matching. */
struct operand {
	/* COND_EXACT: the typed literal (see value.h). */
	struct literal lit;
	/* PREFIX/SUFFIX (bytes as written) and *_IC / EQUALS_IC (case-folded:
	 * the index key). */
	char *text;
	size_t text_len;
	/* *_IC / EQUALS_IC: the operand as written, which decides (ic_match());
	 * foldable: whether the folded text is an exact pre-filter for it. */
	char *raw;
	size_t raw_len;
	bool foldable;
	/* COND_NUMERIC: the range. */
	struct numrange range;
	/* COND_CIDR */
	struct cidr cidr;
	/* COND_WILDCARD */
	struct wildcard *wildcard;
	/* COND_REGEX */
	struct regex *regex;
};

struct field {
	char *path;        /* keys joined with '.', NUL-terminated */
	size_t path_len;
	bool absent;       /* exists: false — matches when the path has no leaf */
	size_t n;          /* conditions, OR'ed; 0 when absent */
	struct cond *conds;
};

struct branch {
	size_t n;
	struct field *fields;  /* sorted by path (bytewise), one per path */
};

struct pattern {
	size_t n;
	struct branch *branches;
};

/* EventBridge's limit on the branches one pattern may expand to. */
#define PATTERN_MAX_BRANCHES 1000u

struct pattern_limits {
	size_t max_bytes;        /* pattern text; default 64 KiB */
	size_t max_branches;     /* after $or expansion; default PATTERN_MAX_BRANCHES */
	uint32_t max_depth;      /* JSON nesting; default 32 */
};

/*
 * Parses pattern text. Returns 0 and *ret (owned by the caller) on success;
 * on failure returns -EINVAL, adds one entry per problem to errs (pointers
 * relative to the pattern root, "" for the root itself) and sets *ret = NULL.
 */
int pattern_parse(const char *text, size_t len, enum pattern_dialect dialect,
		  const struct pattern_limits *lim, struct pattern **ret,
		  struct errlist *errs);

/*
 * The same from a node of an already parsed document (a rule file's
 * EventPattern object). Pointers in errs are prefixed with base (which may be "").
 */
int pattern_from_node(const struct jnode *root, enum pattern_dialect dialect,
		      const struct pattern_limits *lim, const char *base,
		      struct pattern **ret, struct errlist *errs);

void pattern_free(struct pattern *p);

#endif
