/* SPDX-License-Identifier: MIT */
#pragma once

/* A journald stand-in for the tests: a datagram socket the test binds, and a
 * reader for the records of journald's native protocol that arrive on it,
 * whether inline in the datagram or in a sealed memfd passed with an empty
 * one. The parser is strict where journald is lenient (every field must end
 * in a newline, keys must not be empty, a binary field's size must fit), so
 * that a malformed record fails the test instead of being half-read. */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "macros.h"

/* Largest inline datagram read; larger ones come in a memfd. */
#define JR_DATAGRAM_MAX (256 * 1024)

typedef struct JrField {
        char *key;      /* NUL-terminated */
        char *value;    /* NUL-terminated copy, size bytes before the NUL */
        size_t size;
        bool binary;    /* sent as KEY\n + le64 size + value + \n */
} JrField;

typedef struct JrRecord {
        JrField *fields;
        size_t n;
        char *raw;      /* the record's bytes as sent */
        size_t raw_size;
        bool memfd;     /* it came in a memfd */
} JrRecord;

static inline void jr_record_done(JrRecord *r) {
        for (size_t i = 0; i < r->n; i++) {
                free(r->fields[i].key);
                free(r->fields[i].value);
        }
        free(r->fields);
        free(r->raw);
        *r = (JrRecord) { .n = 0 };
}

/* Binds a non-blocking SOCK_DGRAM socket at path (which must not exist;
 * "@NAME" for the abstract namespace) and returns it, or a negative errno. */
static inline int jr_bind(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t l = strlen(path);
        _cleanup_close_ int fd = -EBADF;

        if (l >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, l);
        if (path[0] == '@')
                sa.sun_path[0] = '\0';
        else
                l++;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        if (bind(fd, (const struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l)) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

static inline int jr_add(JrRecord *r, const char *key, size_t key_len, const char *value, size_t size,
                         bool binary) {
        JrField *n = realloc(r->fields, (r->n + 1) * sizeof *n);
        JrField *f;

        if (!n)
                return -ENOMEM;
        r->fields = n;
        f = &r->fields[r->n];
        f->key = strndup(key, key_len);
        f->value = malloc(size + 1);
        if (!f->key || !f->value) {
                free(f->key);
                free(f->value);
                return -ENOMEM;
        }
        memcpy(f->value, value, size);
        f->value[size] = '\0';
        f->size = size;
        f->binary = binary;
        r->n++;
        return 0;
}

/* Splits the record's bytes into fields: "KEY=value\n", or "KEY\n", a
 * little-endian uint64 size, the value and "\n". -EBADMSG when malformed. */
static inline int jr_parse(const char *p, size_t len, JrRecord *r) {
        size_t i = 0;
        int k;

        while (i < len) {
                const char *line = p + i, *nl = memchr(line, '\n', len - i), *eq;
                uint64_t size;

                if (!nl || nl == line)
                        return -EBADMSG;
                eq = memchr(line, '=', (size_t) (nl - line));
                i = (size_t) (nl - p) + 1;
                if (eq) {
                        if (eq == line)
                                return -EBADMSG;
                        k = jr_add(r, line, (size_t) (eq - line), eq + 1, (size_t) (nl - eq - 1), false);
                } else {
                        if (len - i < sizeof size)
                                return -EBADMSG;
                        memcpy(&size, p + i, sizeof size);
                        size = le64toh(size);
                        i += sizeof size;
                        if (size >= len - i || p[i + size] != '\n')
                                return -EBADMSG;
                        k = jr_add(r, line, (size_t) (nl - line), p + i, (size_t) size, true);
                        i += (size_t) size + 1;
                }
                if (k < 0)
                        return k;
        }
        return 0;
}

/* Reads the whole content of a memfd journald would accept: sealed against
 * writing, growing and shrinking. */
static inline int jr_read_memfd(int mfd, char **ret, size_t *ret_size) {
        int seals = fcntl(mfd, F_GET_SEALS);
        struct stat st;
        char *buf;

        if (seals < 0)
                return negative_errno();
        if ((seals & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK)) != (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK))
                return -EPERM;
        if (fstat(mfd, &st) < 0)
                return negative_errno();
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        for (size_t off = 0; off < (size_t) st.st_size;) {
                ssize_t n = pread(mfd, buf + off, (size_t) st.st_size - off, (off_t) off);
                if (n <= 0) {
                        free(buf);
                        return n < 0 ? negative_errno() : -EIO;
                }
                off += (size_t) n;
        }
        *ret = buf;
        *ret_size = (size_t) st.st_size;
        return 0;
}

/* Receives and parses one record, waiting up to timeout_usec for it (0:
 * only what is already queued). -EAGAIN when none came, -EBADMSG when it
 * is malformed (a datagram with both payload and fds, or more than one
 * fd, counts as malformed, as journald sees it). */
static inline int jr_recv(int fd, uint64_t timeout_usec, JrRecord *ret) {
        union {
                struct cmsghdr h;
                uint8_t buf[CMSG_SPACE(sizeof(int) * 4)];
        } control;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        _cleanup_close_ int mfd = -EBADF;
        _cleanup_free_ char *buf = malloc(JR_DATAGRAM_MAX);
        struct iovec iov = { buf, JR_DATAGRAM_MAX };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control };
        JrRecord r = { .n = 0 };
        int n_fds = 0, k;
        ssize_t n;

        if (!buf)
                return -ENOMEM;
        k = poll(&p, 1, (int) ((timeout_usec + 999) / 1000));
        if (k < 0)
                return negative_errno();
        if (k == 0)
                return -EAGAIN;
        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return negative_errno();
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                        for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
                                int x;
                                memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof x);
                                if (n_fds++ == 0)
                                        mfd = x;
                                else
                                        safe_close(x);
                        }
        if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC) || n_fds > 1 || (n_fds == 1 && n > 0))
                return -EBADMSG;
        if (mfd >= 0) {
                k = jr_read_memfd(mfd, &r.raw, &r.raw_size);
                if (k < 0)
                        return k;
                r.memfd = true;
        } else {
                r.raw = TAKE_PTR(buf);
                r.raw_size = (size_t) n;
        }
        k = jr_parse(r.raw, r.raw_size, &r);
        if (k < 0) {
                jr_record_done(&r);
                return k;
        }
        *ret = r;
        return 0;
}

/* The record's first field named key, or NULL. */
static inline const JrField *jr_get(const JrRecord *r, const char *key) {
        for (size_t i = 0; i < r->n; i++)
                if (strcmp(r->fields[i].key, key) == 0)
                        return &r->fields[i];
        return NULL;
}

/* Drops every record already queued on fd; returns how many. */
static inline int jr_drain(int fd) {
        JrRecord r;
        int n = 0, k;

        while ((k = jr_recv(fd, 0, &r)) >= 0) {
                jr_record_done(&r);
                n++;
        }
        return k == -EAGAIN ? n : k;
}
