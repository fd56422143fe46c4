/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <stddef.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "listen.h"
#include "log.h"
#include "macros.h"

static int parse_port(const char *s, uint16_t *ret) {
        char *end;
        unsigned long v;

        if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
                return -EINVAL;
        v = strtoul(s, &end, 10);
        if (v > 65535)
                return -ERANGE;
        *ret = (uint16_t) v;
        return 0;
}

static int parse_unix(const char *path, ListenAddress *a, const char **ret_why) {
        struct sockaddr_un *un = (struct sockaddr_un *) &a->sa;

        if (path[0] != '/') {
                *ret_why = "unix socket path must be absolute";
                return -EINVAL;
        }
        if (strlen(path) >= sizeof un->sun_path) {
                *ret_why = "unix socket path is longer than 107 bytes";
                return -EINVAL;
        }
        a->type = LISTEN_UNIX;
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, path);
        a->sa_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
        return 0;
}

static int parse_systemd(const char *name, ListenAddress *a, const char **ret_why) {
        size_t n = strlen(name);

        if (n == 0 || n > 255 || n >= sizeof a->name) {
                *ret_why = "systemd socket name must be 1 to 107 characters";
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++)
                if (name[i] <= ' ' || name[i] >= 127 || name[i] == ':') {
                        *ret_why = "systemd socket name must be printable ASCII without ':' or spaces";
                        return -EINVAL;
                }
        a->type = LISTEN_SYSTEMD;
        strcpy(a->name, name);
        return 0;
}

/* Host part: a numeric address (v6 in brackets) or a name resolved now.
 * Names resolve to their first address: a listener is one socket. */
static int parse_host(const char *host, bool v6_brackets, uint16_t port, ListenAddress *a, const char **ret_why) {
        struct addrinfo hints = {
                .ai_socktype = SOCK_STREAM,
                .ai_flags = AI_PASSIVE | (v6_brackets ? AI_NUMERICHOST : 0),
                .ai_family = v6_brackets ? AF_INET6 : AF_UNSPEC,
        };
        struct addrinfo *res = NULL;
        int r;

        if (!*host) {
                *ret_why = "missing host (use \"*:PORT\" for any address)";
                return -EINVAL;
        }
        r = getaddrinfo(host, NULL, &hints, &res);
        if (r != 0 || !res) {
                *ret_why = v6_brackets ? "not a valid IPv6 address" : "host name does not resolve";
                return -EINVAL;
        }
        memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
        a->sa_len = res->ai_addrlen;
        freeaddrinfo(res);

        if (a->sa.ss_family == AF_INET)
                ((struct sockaddr_in *) &a->sa)->sin_port = htons(port);
        else
                ((struct sockaddr_in6 *) &a->sa)->sin6_port = htons(port);
        a->type = LISTEN_INET;
        return 0;
}

int listen_parse(const char *s, ListenAddress *ret, const char **ret_why) {
        ListenAddress a = { 0 };
        const char *colon, *why = NULL;
        char host[256];
        uint16_t port;
        bool brackets = false;
        int r;

        if (strncmp(s, "unix:", 5) == 0)
                r = parse_unix(s + 5, &a, &why);
        else if (strncmp(s, "systemd:", 8) == 0)
                r = parse_systemd(s + 8, &a, &why);
        else {
                if (s[0] == '[') {
                        const char *close = strchr(s, ']');
                        if (!close || close[1] != ':') {
                                *ret_why = "expected \"[IPv6]:PORT\"";
                                return -EINVAL;
                        }
                        brackets = true;
                        colon = close + 1;
                } else {
                        colon = strrchr(s, ':');
                        if (!colon) {
                                *ret_why = "expected \"HOST:PORT\", \"[IPv6]:PORT\", \"*:PORT\", \"unix:/PATH\" or \"systemd:NAME\"";
                                return -EINVAL;
                        }
                        if (memchr(s, ':', (size_t) (colon - s))) {
                                *ret_why = "IPv6 addresses must be in brackets: \"[::1]:PORT\"";
                                return -EINVAL;
                        }
                }
                if (parse_port(colon + 1, &port) < 0) {
                        *ret_why = "port must be a number between 0 and 65535";
                        return -EINVAL;
                }
                size_t hl = (size_t) (colon - s) - (brackets ? 2 : 0);
                if (hl >= sizeof host) {
                        *ret_why = "host name too long";
                        return -EINVAL;
                }
                memcpy(host, s + (brackets ? 1 : 0), hl);
                host[hl] = 0;

                if (strcmp(host, "*") == 0 && !brackets) {
                        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &a.sa;
                        a.type = LISTEN_ANY;
                        in6->sin6_family = AF_INET6;
                        in6->sin6_addr = in6addr_any;
                        in6->sin6_port = htons(port);
                        a.sa_len = sizeof *in6;
                        r = 0;
                } else
                        r = parse_host(host, brackets, port, &a, &why);
        }
        if (r < 0) {
                *ret_why = why;
                return r;
        }
        *ret = a;
        return 0;
}

static int format_sockaddr(const struct sockaddr *sa, char *buf, size_t size) {
        char ip[INET6_ADDRSTRLEN];
        int n;

        switch (sa->sa_family) {
        case AF_INET: {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
                inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
                n = snprintf(buf, size, "%s:%u", ip, ntohs(in->sin_port));
                break;
        }
        case AF_INET6: {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
                inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
                n = snprintf(buf, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
                break;
        }
        case AF_UNIX:
                n = snprintf(buf, size, "unix:%s", ((const struct sockaddr_un *) sa)->sun_path);
                break;
        default:
                return -EAFNOSUPPORT;
        }
        return n < 0 || (size_t) n >= size ? -ENOBUFS : 0;
}

int listen_format(const ListenAddress *a, char *buf, size_t size) {
        int n;

        switch (a->type) {
        case LISTEN_INET:
        case LISTEN_UNIX:
                return format_sockaddr((const struct sockaddr *) &a->sa, buf, size);
        case LISTEN_ANY:
                n = snprintf(buf, size, "*:%u", ntohs(((const struct sockaddr_in6 *) &a->sa)->sin6_port));
                break;
        case LISTEN_SYSTEMD:
                n = snprintf(buf, size, "systemd:%s", a->name);
                break;
        default:
                return -EINVAL;
        }
        return n < 0 || (size_t) n >= size ? -ENOBUFS : 0;
}

bool listen_is_port_zero(const ListenAddress *a) {
        if (!IN_SET(a->type, LISTEN_INET, LISTEN_ANY))
                return false;
        if (a->sa.ss_family == AF_INET)
                return ((const struct sockaddr_in *) &a->sa)->sin_port == 0;
        return ((const struct sockaddr_in6 *) &a->sa)->sin6_port == 0;
}

int listen_format_fd(int fd, char *buf, size_t size) {
        struct sockaddr_storage ss;
        socklen_t l = sizeof ss;

        if (getsockname(fd, (struct sockaddr *) &ss, &l) < 0)
                return negative_errno();
        return format_sockaddr((const struct sockaddr *) &ss, buf, size);
}

/* A socket file at the path is replaced only if nobody answers on it: a
 * live socket means another daemon (or a second preforkd) owns it. */
static int unix_prepare_path(const char *path) {
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        strcpy(un.sun_path, path);
        if (connect(fd, (struct sockaddr *) &un, sizeof un) == 0)
                return -EADDRINUSE;
        if (errno != ECONNREFUSED)
                return negative_errno();
        if (unlink(path) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

int listen_open(const ListenAddress *a, int backlog, bool defer_accept, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        const int one = 1, zero = 0;
        int r;

        switch (a->type) {
        case LISTEN_INET:
        case LISTEN_ANY:
                fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0)
                        return negative_errno();
                if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                        return negative_errno();
                if (a->sa.ss_family == AF_INET6 &&
                    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, a->type == LISTEN_ANY ? &zero : &one, sizeof one) < 0)
                        return negative_errno();
                if (defer_accept) {
                        /* Seconds to wait for the first data before the
                         * kernel hands the connection to accept(). */
                        const int secs = 10;
                        if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs) < 0)
                                return negative_errno();
                }
                if (bind(fd, (const struct sockaddr *) &a->sa, a->sa_len) < 0)
                        return negative_errno();
                break;
        case LISTEN_UNIX: {
                const char *path = ((const struct sockaddr_un *) &a->sa)->sun_path;
                r = unix_prepare_path(path);
                if (r < 0)
                        return r;
                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0)
                        return negative_errno();
                if (bind(fd, (const struct sockaddr *) &a->sa, a->sa_len) < 0)
                        return negative_errno();
                /* Like nginx: the socket itself is open to everyone and the
                 * directory it is in decides who may reach it. Otherwise a
                 * strict umask (UMask=0077 in the unit) would leave it
                 * reachable by root only. */
                if (chmod(path, 0666) < 0) {
                        r = negative_errno();
                        listen_unlink(a);
                        return r;
                }
                break;
        }
        case LISTEN_SYSTEMD:
        default:
                return -EINVAL;
        }

        if (listen(fd, backlog) < 0) {
                r = negative_errno();
                if (a->type == LISTEN_UNIX)
                        listen_unlink(a);
                return r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

void listen_unlink(const ListenAddress *a) {
        if (a->type == LISTEN_UNIX)
                (void) unlink(((const struct sockaddr_un *) &a->sa)->sun_path);
}

int listen_adopt_systemd(SystemdSockets *ret) {
        SystemdSockets s = { 0 };
        char **names = NULL;
        int n;

        /* unset_environment=1: workers and anything they run must not think
         * the sockets are theirs. */
        n = sd_listen_fds_with_names(1, &names);
        if (n < 0)
                return log_error_errno(n, "Failed to read the sockets passed by systemd: %s", STRERROR(n));
        if (n == 0) {
                strv_free(names);
                *ret = s;
                return 0;
        }
        s.fds = calloc((size_t) n, sizeof(int));
        s.used = calloc((size_t) n, sizeof(bool));
        if (!s.fds || !s.used) {
                free(s.fds);
                free(s.used);
                strv_free(names);
                return log_error_errno(-ENOMEM, "Failed to adopt systemd sockets: %s", STRERROR(-ENOMEM));
        }
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                /* Keep them out of anything a worker might exec. */
                (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
                s.fds[i] = fd;
        }
        s.names = names;
        s.n = (size_t) n;
        *ret = s;
        return 0;
}

int systemd_sockets_find(const SystemdSockets *s, const char *name) {
        for (size_t i = 0; i < s->n; i++)
                if (s->names && s->names[i] && strcmp(s->names[i], name) == 0)
                        return (int) i;
        return -ENOENT;
}

int systemd_sockets_match(const SystemdSockets *s, const ListenAddress *a) {
        char want[256], have[256];

        if (a->type == LISTEN_SYSTEMD || listen_is_port_zero(a))
                return -ENOENT;
        if (a->type == LISTEN_ANY)
                (void) snprintf(want, sizeof want, "[::]:%u", ntohs(((const struct sockaddr_in6 *) &a->sa)->sin6_port));
        else if (listen_format(a, want, sizeof want) < 0)
                return -ENOENT;

        for (size_t i = 0; i < s->n; i++) {
                int v6only = 0;
                socklen_t l = sizeof v6only;

                if (s->used[i] || listen_format_fd(s->fds[i], have, sizeof have) < 0 || strcmp(want, have) != 0)
                        continue;
                /* "*:PORT" is dual-stack; an IPv6-only socket is not it. */
                if (a->type == LISTEN_ANY &&
                    (getsockopt(s->fds[i], IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &l) < 0 || v6only))
                        continue;
                return (int) i;
        }
        return -ENOENT;
}

void systemd_sockets_done(SystemdSockets *s) {
        free(s->fds);
        free(s->used);
        strv_free(s->names);
        *s = (SystemdSockets) { 0 };
}
