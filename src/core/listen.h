/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

typedef enum ListenType {
        LISTEN_INET,     /* "127.0.0.1:80", "[::1]:80", "localhost:80" */
        LISTEN_ANY,      /* "*:80": one dual-stack IPv6 socket, IPV6_V6ONLY off */
        LISTEN_UNIX,     /* "unix:/run/x.sock" */
        LISTEN_SYSTEMD,  /* "systemd:NAME" */
        _LISTEN_TYPE_MAX,
} ListenType;

typedef struct ListenAddress {
        ListenType type;
        struct sockaddr_storage sa; /* INET, ANY, UNIX */
        socklen_t sa_len;
        char name[108];             /* SYSTEMD: the FileDescriptorName */
} ListenAddress;

/* Parses a listen string. Host names are resolved (first address). Returns
 * 0, or -EINVAL with a static explanation in *ret_why. */
int listen_parse(const char *s, ListenAddress *ret, const char **ret_why);

/* Canonical form, used to match listeners across reloads and to find
 * duplicates: "127.0.0.1:80", "[::1]:80", "*:80", "unix:/x", "systemd:n". */
int listen_format(const ListenAddress *a, char *buf, size_t size);

/* True for a TCP address with port 0 (the kernel picks the port). */
bool listen_is_port_zero(const ListenAddress *a);

/* Formats a bound socket's local address (for port 0 and logs). */
int listen_format_fd(int fd, char *buf, size_t size);

/* Opens, binds and listens, non-blocking: workers always wait for a
 * connection in epoll and never block in accept(), so that no flag of a
 * socket that running workers share ever has to change. A stale unix socket file (nobody answers on it)
 * is replaced; a live one or a non-socket file is an error. */
int listen_open(const ListenAddress *a, int backlog, bool defer_accept, int *ret_fd);

/* Removes a unix socket file that listen_open() created. */
void listen_unlink(const ListenAddress *a);

typedef struct SystemdSockets {
        int *fds;
        char **names;
        size_t n;
        bool *used;
} SystemdSockets;

/* Takes the sockets systemd passed (sd_listen_fds_with_names) and clears
 * the LISTEN_* variables so that workers do not see them. */
int listen_adopt_systemd(SystemdSockets *ret);
int systemd_sockets_find(const SystemdSockets *s, const char *name);
/* The index of an unused passed socket that listens on exactly address a
 * (TCP or unix; never for port 0), or -ENOENT. */
int systemd_sockets_match(const SystemdSockets *s, const ListenAddress *a);
void systemd_sockets_done(SystemdSockets *s);
