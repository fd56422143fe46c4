/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <sys/socket.h>

#include "macros.h"
#include "proxy-read.h"

int proxy_read(int fd, ProxyMode mode, void *buf, size_t size, size_t *n, ProxyHeader *ret, const char **ret_why) {
        uint8_t *b = buf;

        assert(fd >= 0);
        assert(buf);
        assert(n);
        assert(*n <= size);
        assert(ret);

        for (;;) {
                size_t bound = proxy_header_bound(b, *n), take;
                ssize_t m, k;
                int r;

                if (bound > size)
                        return -ENOBUFS;
                m = recv(fd, b + *n, bound - *n, MSG_PEEK | MSG_DONTWAIT);
                if (m < 0) {
                        if (errno == EINTR)
                                continue;
                        if (IN_SET(errno, EAGAIN, EWOULDBLOCK))
                                return 0;
                        return negative_errno();
                }
                if (m == 0) {
                        if (ret_why)
                                *ret_why = *n > 0 ? "closed in the middle of the PROXY header"
                                                  : "closed before sending a PROXY header";
                        return -ECONNRESET;
                }
                r = proxy_parse(b, *n + (size_t) m, mode, ret, ret_why);
                if (r < 0)
                        return r;
                /* Complete: exactly the rest of the header. Incomplete:
                 * everything looked at, which all belongs to the header. */
                take = r > 0 ? (size_t) r - *n : (size_t) m;
                do
                        k = recv(fd, b + *n, take, MSG_DONTWAIT);
                while (k < 0 && errno == EINTR);
                if (k < 0)
                        return negative_errno();
                /* Nobody else reads this socket: what was peeked is there. */
                if ((size_t) k != take)
                        return -EIO;
                *n += take;
                if (r > 0)
                        return 1;
        }
}
