/* SPDX-License-Identifier: MIT */
#pragma once

#include <libconfig.h>
#include <stdint.h>

#include "conf-parser.h"
#include "handler.h"
#include "macros.h"

typedef enum ExecMode {
        EXEC_MODE_POOL,        /* every worker is the program, with the listeners as fds 3.. */
        EXEC_MODE_CONNECTION,  /* every worker accepts and runs the program once per connection */
        _EXEC_MODE_MAX,
} ExecMode;

/* A service's exec group, parsed and checked. */
typedef struct ExecConfig {
        char **command;            /* argv as written (NULL-terminated) */
        char *path;                /* command[0] resolved: absolute, executable */
        char **environment;        /* "NAME=value" entries, NULL-terminated, may be empty */
        char *working_directory;   /* absolute */
        ExecMode mode;
        WorkerReady ready;         /* pool mode */
        uint64_t ready_timeout_usec;
        uint64_t watchdog_usec;    /* 0: off */
        int stop_signal;
        WorkerOutput output[2];    /* stdout (pool mode only), stderr */
        char identifier[64];       /* basename of command[0] */
} ExecConfig;

/* Parses group (NULL when the service has none: an error, command is
 * required) into *ret; every problem is recorded in p with its file and
 * line. Returns 0 or -EINVAL / -ENOMEM. */
int exec_config_parse(ConfigParser *p, const config_setting_t *service, const config_setting_t *group,
                      ExecConfig **ret);
ExecConfig *exec_config_free(ExecConfig *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(ExecConfig *, exec_config_free)

/* The core's view: readiness, watchdog, stop and output. */
void exec_config_policy(const ExecConfig *c, WorkerPolicy *policy);

/* "TERM", "SIGTERM" or a number (1..64) as a signal number, or -EINVAL. */
int exec_signal_from_string(const char *s);
