/* SPDX-License-Identifier: MIT */
#include "handler.h"

const Handler *handler_get(HandlerType type) {
        switch (type) {
        case HANDLER_ECHO:
                return &handler_echo;
        case HANDLER_HTTP:
                return &handler_http;
        case _HANDLER_TYPE_MAX:
                break;
        }
        abort();
}
