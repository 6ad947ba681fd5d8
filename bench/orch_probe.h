/*
 * orch_probe.h — the one datagram orch_probe sends to orch_bench: "I am
 * running", with the CLOCK_MONOTONIC time its main() started. Both programs
 * are built from this tree for the same machine, so the struct travels as
 * is (fixed-width members, no padding).
 */
#ifndef TRIPLINE_BENCH_ORCH_PROBE_H
#define TRIPLINE_BENCH_ORCH_PROBE_H

#include <stdint.h>

#define PROBE_MAGIC 0x4f504231u   /* "OPB1" */

struct probe_msg {
	uint32_t magic;
	uint32_t tag;       /* which part of the bench launched it */
	int32_t pid;
	int32_t pad;        /* zero */
	int64_t mono_ns;    /* CLOCK_MONOTONIC at the start of main() */
};

#endif
