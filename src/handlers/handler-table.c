/* SPDX-License-Identifier: MIT */
/* The one list of handlers. The core finds them here by name; each one is
 * declared here rather than through its header, so that no handler's
 * header is visible to anything but the handler itself. */
#include <string.h>

#include "handler.h"

extern const HandlerVTable handler_echo;
extern const HandlerVTable handler_exec;
extern const HandlerVTable handler_http;

const HandlerVTable *const handler_table[] = {
        &handler_echo,
        &handler_exec,
        &handler_http,
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
