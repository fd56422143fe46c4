/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The control socket's wire protocol, shared by the daemon (control.c) and
 * preforkctl. Pure: no I/O, no allocation, so that it can be fuzzed.
 *
 * A client connects, sends one request line and reads the answer until the
 * daemon closes the connection. The request is
 *
 *     [--json ]COMMAND[ ARGUMENT]...\n
 *
 * at most CONTROL_REQUEST_MAX bytes with the newline, words separated by
 * one space, each word printable ASCII. The answer's first line is
 *
 *     STATUS[ MESSAGE]\n
 *
 * where STATUS is one of "ok", "refused", "rolled-back", "denied" and
 * "error"; what follows the first line is the body (status table, JSON,
 * metrics), empty for most commands. */

#define CONTROL_REQUEST_MAX 512U
#define CONTROL_SERVICE_MAX 64U
/* scale's upper bound: the workers setting's (config.h). */
#define CONTROL_SCALE_MAX 4096U

typedef enum ControlCommand {
        CONTROL_STATUS,   /* status [SERVICE] */
        CONTROL_METRICS,  /* metrics */
        CONTROL_RELOAD,   /* reload */
        CONTROL_SCALE,    /* scale SERVICE N */
        CONTROL_DRAIN,    /* drain [SERVICE] */
        CONTROL_UNDRAIN,  /* undrain [SERVICE] */
        CONTROL_UPGRADE,  /* upgrade */
        _CONTROL_COMMAND_MAX,
        _CONTROL_COMMAND_INVALID = -1,
} ControlCommand;

typedef struct ControlRequest {
        ControlCommand command;
        bool json;                              /* --json */
        char service[CONTROL_SERVICE_MAX + 1];  /* "" when none was given */
        unsigned count;                         /* scale: the new size */
} ControlRequest;

typedef enum ControlStatus {
        CONTROL_OK,           /* done */
        CONTROL_REFUSED,      /* understood, but it cannot be done (a reload's config error, no such service) */
        CONTROL_ROLLED_BACK,  /* a reload was started and undone */
        CONTROL_DENIED,       /* a mutating command from a user who may not */
        CONTROL_ERROR,        /* malformed request, or the daemon could not answer */
        _CONTROL_STATUS_MAX,
        _CONTROL_STATUS_INVALID = -1,
} ControlStatus;

const char *control_command_to_string(ControlCommand c);
/* Whether the command changes the daemon's state: only for the daemon's
 * own uid and root. */
bool control_command_is_mutating(ControlCommand c);
const char *control_status_to_string(ControlStatus s);

/* Parses one request line of n bytes (the newline not included). Returns
 * 0 and fills *ret, or -EINVAL with a static, one-line explanation in
 * *ret_why; *ret is untouched on failure. */
int control_request_parse(const char *line, size_t n, ControlRequest *ret, const char **ret_why);

/* Writes req as a request line with its newline (NUL-terminated). Returns
 * its length, or -ENOBUFS. The request must be valid (as parsed). */
int control_request_format(const ControlRequest *req, char *buf, size_t size);

/* Parses the answer's first line: buf holds n bytes of the answer. On
 * success returns 0 with the status, where the message starts and its
 * length (without the newline), and where the body starts. -EAGAIN when
 * no whole first line is there yet, -EBADMSG when it is not one. */
int control_reply_parse(const char *buf, size_t n, ControlStatus *ret_status, size_t *ret_message,
                        size_t *ret_message_len, size_t *ret_body);

/* Whether name could be a service's name (config.c's rule: 1-64 of a-z,
 * 0-9, '_' and '-'). */
bool control_service_name_is_valid(const char *name, size_t n);
