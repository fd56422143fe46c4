/* NOTE TO THE HTTP ENGINEER (from the lead, 02:05): if you had already written
 * this file, the lead overwrote it by accident with this placeholder. Sorry!
 * Please rewrite it; all your other files are untouched. */
/* SPDX-License-Identifier: MIT */
#include "handler.h"
static int http_serve(const ServiceConfig *svc, int fd, const struct sockaddr *peer, socklen_t peer_len) {
        return -EOPNOTSUPP;
}
const Handler handler_http = { .name = "http", .serve = http_serve };
