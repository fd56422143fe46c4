/* SPDX-License-Identifier: MIT */
#pragma once

#include "daemon-view.h"
#include "textbuf.h"

/* The Prometheus text exposition (format 0.0.4) of the daemon's counters
 * and gauges: the daemon's, one sample per service of the serving
 * generation (label service=), and one per slot of its pools (service=,
 * slot=). `preforkctl metrics` and metrics_listen's GET /metrics serve the
 * same text. The families are declared in tables in metrics.c, which is
 * where a new one goes. Returns 0 or -ENOMEM. */
int metrics_format(const DaemonView *v, TextBuf *out);
