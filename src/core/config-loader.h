/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-event.h>

#include "config.h"
#include "macros.h"

/* Loads a configuration off the event loop: config_load() resolves host
 * names (getaddrinfo()) and looks up users and groups (NSS), and either can
 * block for as long as a DNS or NSS server does not answer. A loader runs
 * config_load() in a thread of its own and calls back from the event loop
 * once it is done, so that the loop keeps supervising workers and feeding
 * the watchdog meanwhile. */
typedef struct ConfigLoader ConfigLoader;

/* r: 0 and config set, or negative with errors (NULL-terminated strv, as
 * config_load() gives). Ownership of config and errors passes to the
 * callback. Called once, from the event loop; the callback may free l. */
typedef void (*config_loaded_fn)(ConfigLoader *l, int r, Config *config, char **errors, void *userdata);

/* Starts loading path in the background. Returns 0 and the loader in *ret,
 * or a negative errno (and *ret untouched) when nothing could be started,
 * in which case cb is never called. */
int config_loader_start(sd_event *e, const char *path, config_loaded_fn cb, void *userdata, ConfigLoader **ret);

/* Cancels: the callback is never called; the thread, if still running,
 * finishes on its own and frees its result. Accepts NULL. */
ConfigLoader *config_loader_free(ConfigLoader *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(ConfigLoader *, config_loader_free)
