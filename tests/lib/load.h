/* SPDX-License-Identifier: MIT */
#pragma once

/* A background client hammering connect/echo/close on a TCP port (or unix
 * path) in a thread, counting successes and failures, until stopped or
 * max_rounds or max_time is reached. For "no connection is refused while
 * ..." tests. */

#include <stddef.h>
#include <stdint.h>

typedef struct TdLoadStats {
        unsigned long ok;
        unsigned long failed;      /* any failure */
        unsigned long refused;     /* ECONNREFUSED */
        unsigned long reset;       /* ECONNRESET / EPIPE / early EOF */
        int first_error;           /* negative errno of the first failure, 0 if none */
        char first_error_what[64]; /* which step failed first */
} TdLoadStats;
typedef struct TdLoad TdLoad;
int td_load_start_tcp(const char *host, uint16_t port, size_t payload, unsigned long max_rounds,
                      uint64_t max_time, TdLoad **ret);
int td_load_start_unix(const char *path, size_t payload, unsigned long max_rounds, uint64_t max_time,
                       TdLoad **ret);
/* Snapshot of the counters while it runs. */
void td_load_peek(TdLoad *l, TdLoadStats *ret);
/* Waits until at least n rounds completed successfully (or it ended). */
int td_load_wait_ok(TdLoad *l, unsigned long n, uint64_t timeout);
/* Stops the thread, joins it, frees l and returns the final counters. */
void td_load_stop(TdLoad *l, TdLoadStats *ret);
