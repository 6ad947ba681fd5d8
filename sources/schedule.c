/*
 * schedule.c — placeholder while the schedule source is being built: starts nothing.
 */
#include "source.h"

static int start(const struct source_env *env, struct source **ret, char *err, size_t errlen)
{
	(void)env;
	(void)err;
	(void)errlen;
	*ret = NULL;
	return 0;
}

static void nop(struct source *s)
{
	(void)s;
}

const struct source_ops source_schedule = {
	.kind = "schedule",
	.start = start,
	.stop = nop,
	.destroy = nop,
};
