/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "daemon-view.h"
#include "textbuf.h"

/* The body of `preforkctl status [SERVICE]`: a table for people, or JSON
 * (the schema is doc/status.schema.json). service NULL or "" means every
 * service of the serving generation. Reads the scoreboard lock-free, so a
 * busy pool is never held up by it. Returns 0, or -ENOENT when no service
 * of the serving generation is called service, or -ENOMEM. */
int control_status_format(const DaemonView *v, const char *service, bool json, TextBuf *out);
