/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "logs.h"
#include "net.h"
#include "util-internal.h"

#define TD_IO_TIMEOUT_SEC 10

/* ---- servers ---- */

int td_listen_tcp(uint16_t *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        _cleanup_close_ int fd = -EBADF;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &l) < 0)
                return -errno;
        *ret_port = ntohs(sa.sin_port);
        return TAKE_FD(fd);
}

/* ---- clients ---- */

static void set_io_timeouts(int fd) {
        struct timeval tv = { .tv_sec = TD_IO_TIMEOUT_SEC };

        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int td_connect_tcp(const char *host, uint16_t port) {
        struct sockaddr_storage ss = { .ss_family = AF_UNSPEC };
        socklen_t len;
        _cleanup_close_ int fd = -EBADF;
        char h[INET6_ADDRSTRLEN + 2];

        tdi_ignore_sigpipe();

        if (host[0] == '[') {
                size_t l = strlen(host);

                if (l < 3 || host[l - 1] != ']' || l - 2 >= sizeof(h))
                        return -EINVAL;
                memcpy(h, host + 1, l - 2);
                h[l - 2] = 0;
        } else {
                if (strlen(host) >= sizeof(h))
                        return -EINVAL;
                strcpy(h, host);
        }

        if (inet_pton(AF_INET, h, &((struct sockaddr_in *) &ss)->sin_addr) == 1) {
                struct sockaddr_in *in = (struct sockaddr_in *) &ss;

                in->sin_family = AF_INET;
                in->sin_port = htons(port);
                len = sizeof(*in);
        } else if (inet_pton(AF_INET6, h, &((struct sockaddr_in6 *) &ss)->sin6_addr) == 1) {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;

                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                len = sizeof(*in6);
        } else
                return -EINVAL;

        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        set_io_timeouts(fd);
        while (connect(fd, (struct sockaddr *) &ss, len) < 0)
                if (errno != EINTR)
                        return -errno;
        return TAKE_FD(fd);
}

int td_connect_unix(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;

        tdi_ignore_sigpipe();

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        set_io_timeouts(fd);
        while (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                if (errno != EINTR)
                        return -errno;
        return TAKE_FD(fd);
}

int td_connect_service(TestDaemon *d, const char *service, unsigned nth) {
        char addr[256], *colon;
        uint16_t port;
        int r;

        r = td_find_listen(d, service, nth, addr, sizeof(addr), &port);
        if (r < 0)
                return r;
        if (strncmp(addr, "unix:", 5) == 0)
                return td_connect_unix(addr + 5);
        colon = strrchr(addr, ':');
        if (!colon)
                return -EBADMSG;
        *colon = 0;
        if (strcmp(addr, "*") == 0 || strcmp(addr, "0.0.0.0") == 0)
                return td_connect_tcp("127.0.0.1", port);
        if (strcmp(addr, "[::]") == 0)
                return td_connect_tcp("::1", port);
        return td_connect_tcp(addr, port);
}

int td_write_all(int fd, const void *buf, size_t len, uint64_t timeout) {
        uint64_t deadline = tdi_deadline(timeout);
        const char *p = buf;

        while (len > 0) {
                ssize_t k;
                int r;

                r = tdi_wait_fd(fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
                k = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        if (errno == ENOTSOCK) {
                                k = write(fd, p, len);
                                if (k < 0) {
                                        if (errno == EINTR || errno == EAGAIN)
                                                continue;
                                        return -errno;
                                }
                        } else
                                return -errno;
                }
                p += k;
                len -= (size_t) k;
        }
        return 0;
}

static ssize_t read_some(int fd, void *buf, size_t len, uint64_t deadline) {
        for (;;) {
                ssize_t k;
                int r;

                r = tdi_wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        return r;
                k = recv(fd, buf, len, MSG_DONTWAIT);
                if (k < 0 && errno == ENOTSOCK)
                        k = read(fd, buf, len);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                return k;
        }
}

int td_read_all(int fd, size_t max, uint64_t timeout, char **ret, size_t *ret_len) {
        uint64_t deadline = tdi_deadline(timeout);
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, alloc = 0;

        for (;;) {
                ssize_t k;

                if (tdi_grow((void **) &buf, &alloc, len + 65536 + 1, 1) < 0)
                        return -ENOMEM;
                k = read_some(fd, buf + len, MIN((size_t) 65536, max - len), deadline);
                if (k < 0)
                        return (int) k;
                if (k == 0)
                        break;
                len += (size_t) k;
                if (len >= max)
                        break;
        }
        buf[len] = 0;
        if (ret)
                *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int td_read_exact(int fd, void *buf, size_t len, uint64_t timeout) {
        uint64_t deadline = tdi_deadline(timeout);
        char *p = buf;

        while (len > 0) {
                ssize_t k = read_some(fd, p, len, deadline);

                if (k < 0)
                        return (int) k;
                if (k == 0)
                        return -EPIPE;
                p += k;
                len -= (size_t) k;
        }
        return 0;
}

int td_wait_eof(int fd, uint64_t timeout) {
        char c[256];
        ssize_t k = read_some(fd, c, sizeof(c), tdi_deadline(timeout));

        if (k < 0)
                return (int) k;
        return k == 0 ? 0 : -EPROTO;
}

void td_random_fill(void *buf, size_t len, unsigned seed) {
        uint64_t x = seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
        unsigned char *p = buf;

        for (size_t i = 0; i < len; i++) {
                /* xorshift64* */
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                p[i] = (unsigned char) ((x * UINT64_C(0x2545F4914F6CDD1D)) >> 56);
        }
}

int td_echo_exchange(int fd, const void *data, size_t len, uint64_t timeout) {
        uint64_t deadline = tdi_deadline(timeout);
        const unsigned char *src = data;
        size_t sent = 0, got = 0;
        unsigned char *buf;
        int r = 0;

        buf = malloc(65536);
        if (!buf)
                return -ENOMEM;

        while (got < len) {
                struct pollfd p = { .fd = fd, .events = POLLIN | (sent < len ? POLLOUT : 0) };
                int ms = tdi_remaining_ms(deadline), k;

                if (ms == 0) {
                        r = -ETIMEDOUT;
                        break;
                }
                k = poll(&p, 1, ms);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (k == 0)
                        continue;
                if ((p.revents & POLLOUT) && sent < len) {
                        ssize_t w = send(fd, src + sent, MIN(len - sent, (size_t) 262144),
                                         MSG_NOSIGNAL | MSG_DONTWAIT);

                        if (w < 0 && errno != EAGAIN && errno != EINTR) {
                                r = -errno;
                                break;
                        }
                        if (w > 0)
                                sent += (size_t) w;
                }
                if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t n = recv(fd, buf, MIN(len - got, (size_t) 65536), MSG_DONTWAIT);

                        if (n < 0) {
                                if (errno == EAGAIN || errno == EINTR)
                                        continue;
                                r = -errno;
                                break;
                        }
                        if (n == 0) {
                                r = -EPIPE;
                                break;
                        }
                        if (n > (ssize_t) (sent - got) || memcmp(buf, src + got, (size_t) n) != 0) {
                                r = -EPROTO;
                                break;
                        }
                        got += (size_t) n;
                }
        }

        free(buf);
        return r;
}

static int echo_roundtrip_fd(int fd, size_t len, unsigned seed, uint64_t timeout) {
        uint64_t deadline = tdi_deadline(timeout);
        _cleanup_free_ unsigned char *data = NULL;
        int r;

        data = malloc(MAX(len, (size_t) 1));
        if (!data)
                return -ENOMEM;
        td_random_fill(data, len, seed);
        r = td_echo_exchange(fd, data, len, timeout);
        if (r < 0)
                return r;
        if (shutdown(fd, SHUT_WR) < 0)
                return -errno;
        return td_wait_eof(fd, deadline > td_now() ? deadline - td_now() : 0);
}

int td_echo_roundtrip_tcp(const char *host, uint16_t port, size_t len, unsigned seed, uint64_t timeout) {
        _cleanup_close_ int fd = td_connect_tcp(host, port);

        if (fd < 0)
                return fd;
        return echo_roundtrip_fd(fd, len, seed, timeout);
}

int td_echo_roundtrip_unix(const char *path, size_t len, unsigned seed, uint64_t timeout) {
        _cleanup_close_ int fd = td_connect_unix(path);

        if (fd < 0)
                return fd;
        return echo_roundtrip_fd(fd, len, seed, timeout);
}
