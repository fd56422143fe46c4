/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "metrics-parse.h"

size_t metrics_http_request_end(const char *buf, size_t n) {
        for (size_t i = 3; i < n; i++)
                if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
                        return i + 1;
        return 0;
}

int metrics_http_parse_request_line(const char *req, size_t n, bool *ret_head, const char **ret_status) {
        const char *eol = memchr(req, '\r', n), *sp1, *sp2;
        size_t line;

        assert(req);
        assert(ret_head);
        assert(ret_status);

        if (!eol || (size_t) (eol - req) + 1 >= n || eol[1] != '\n') {
                *ret_status = "400 Bad Request";
                return -EINVAL;
        }
        line = (size_t) (eol - req);
        for (size_t i = 0; i < line; i++)
                if ((unsigned char) req[i] < 0x20 || (unsigned char) req[i] > 0x7e) {
                        *ret_status = "400 Bad Request";
                        return -EINVAL;
                }
        sp1 = memchr(req, ' ', line);
        sp2 = sp1 ? memchr(sp1 + 1, ' ', line - (size_t) (sp1 + 1 - req)) : NULL;
        if (!sp1 || !sp2 || memchr(sp2 + 1, ' ', line - (size_t) (sp2 + 1 - req))) {
                *ret_status = "400 Bad Request";
                return -EINVAL;
        }
        if ((size_t) (req + line - (sp2 + 1)) != 8 ||
            (memcmp(sp2 + 1, "HTTP/1.1", 8) != 0 && memcmp(sp2 + 1, "HTTP/1.0", 8) != 0)) {
                *ret_status = "400 Bad Request";
                return -EINVAL;
        }
        if ((size_t) (sp1 - req) == 3 && memcmp(req, "GET", 3) == 0)
                *ret_head = false;
        else if ((size_t) (sp1 - req) == 4 && memcmp(req, "HEAD", 4) == 0)
                *ret_head = true;
        else {
                *ret_status = "405 Method Not Allowed";
                return -EINVAL;
        }
        /* /metrics, with or without a query (Prometheus sends none, but
         * people paste URLs). */
        size_t target = (size_t) (sp2 - sp1 - 1);
        if (target < 8 || memcmp(sp1 + 1, "/metrics", 8) != 0 || (target > 8 && sp1[9] != '?')) {
                *ret_status = "404 Not Found";
                return -ENOENT;
        }
        *ret_status = "200 OK";
        return 0;
}
