/* SPDX-License-Identifier: MIT */
/* libFuzzer entry point for the parser of the workers' sd_notify messages
 * (notify-listen.c), which reads what any program of a service sends.
 * Besides memory safety, it checks that a parsed STATUS= lies inside the
 * message, and that a message with a NUL byte is refused. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "notify-listen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *buf = (const char *) data;
        NotifyMessage m;
        int r;

        if (size > NOTIFY_MESSAGE_MAX)
                return 0;
        r = notify_message_parse(buf, size, &m);
        if (r < 0) {
                assert(r == -EBADMSG);
                return 0;
        }
        assert(!memchr(buf, '\0', size));
        if (m.status) {
                assert(m.status >= buf && m.status + m.status_len <= buf + size);
                assert(!memchr(m.status, '\n', m.status_len));
        }
        return 0;
}
