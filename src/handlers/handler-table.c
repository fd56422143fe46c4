/* SPDX-License-Identifier: MIT */
/* The one list of handlers. The core finds them here by name; each one is
 * declared here rather than through its header, so that no handler's
 * header is visible to anything but the handler itself. */
#include <string.h>

#include "handler.h"

extern const HandlerVTable handler_echo;
extern const HandlerVTable handler_exec;
extern const HandlerVTable handler_http;
/* "testing" (tests/handlers/testing.c) exists only in preforkd-testing,
 * the test suite's build of the daemon, which links it; here it is weak,
 * so that in preforkd its address is NULL and ends the table. It must stay
 * the last entry. */
extern const HandlerVTable handler_testing __attribute__((weak));

const HandlerVTable *const handler_table[] = {
        &handler_echo,
        &handler_exec,
        &handler_http,
        &handler_testing,
        NULL,
};

const HandlerVTable *handler_find(const char *name) {
        if (!name)
                return NULL;
        for (const HandlerVTable *const *h = handler_table; *h; h++)
                if (strcmp((*h)->name, name) == 0)
                        return *h;
        return NULL;
}
