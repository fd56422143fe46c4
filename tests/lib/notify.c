/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon-internal.h"
#include "notify.h"

/* ---- the socket and its reader ---- */

int tdi_notify_open(TestDaemon *d) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int sz = 1 << 20, one = 1;

        if (asprintf(&d->notify_path, "%s/notify", d->dir) < 0) {
                d->notify_path = NULL;
                return -ENOMEM;
        }
        if (strlen(d->notify_path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, d->notify_path);

        d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (d->notify_fd < 0)
                return -errno;
        if (bind(d->notify_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        /* A large queue, so that the daemon is not slowed down by a test
         * that reads late, and the sender's credentials with every
         * datagram, so that tests can tell the master from a worker. */
        (void) setsockopt(d->notify_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
        (void) setsockopt(d->notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
        return 0;
}

void tdi_notify_free(TestDaemon *d) {
        d->notify_fd = safe_close(d->notify_fd);
        for (size_t i = 0; i < d->n_notify; i++)
                free(d->notify[i].text);
        free(d->notify);
        free(d->notify_path);
}

/* Called with the lock held. */
static void notify_append(TestDaemon *d, const char *buf, size_t len, uint64_t now, pid_t pid) {
        const char *p = buf, *end = buf + len;
        size_t msg = d->n_datagrams++;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *e = nl ? nl : end;

                if (e > p && tdi_grow((void **) &d->notify, &d->notify_alloc, d->n_notify + 1, sizeof(TdLine)) >= 0) {
                        char *t = strndup(p, (size_t) (e - p));

                        if (t)
                                d->notify[d->n_notify++] = (TdLine) {
                                        .text = t,
                                        .usec = now,
                                        .pid = pid,
                                        .msg = msg,
                                };
                }
                p = e + 1;
        }
}

void tdi_notify_receive(TestDaemon *d, NotifyBatch *b) {
        for (;;) {
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(struct ucred))];
                } control;
                char buf[8192];
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = &control,
                        .msg_controllen = sizeof(control),
                };
                NotifyDatagram *dg;
                pid_t pid = 0;
                ssize_t k;

                k = recvmsg(d->notify_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                            c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
                                struct ucred uc;

                                memcpy(&uc, CMSG_DATA(c), sizeof(uc));
                                pid = uc.pid;
                        }
                if (tdi_grow((void **) &b->dg, &b->alloc, b->n + 1, sizeof(NotifyDatagram)) < 0)
                        continue; /* dropped, as a full queue would */
                dg = &b->dg[b->n];
                dg->data = malloc((size_t) k);
                if (!dg->data)
                        continue;
                memcpy(dg->data, buf, (size_t) k);
                dg->len = (size_t) k;
                dg->pid = pid;
                dg->usec = td_now();
                b->n++;
        }
}

void tdi_notify_publish(TestDaemon *d, NotifyBatch *b) {
        if (b->n > 0) {
                pthread_mutex_lock(&d->lock);
                for (size_t i = 0; i < b->n; i++)
                        notify_append(d, b->dg[i].data, b->dg[i].len, b->dg[i].usec, b->dg[i].pid);
                pthread_cond_broadcast(&d->cond);
                pthread_mutex_unlock(&d->lock);
        }
        for (size_t i = 0; i < b->n; i++)
                free(b->dg[i].data);
        free(b->dg);
        *b = (NotifyBatch) { .n = 0 };
}

/* ---- waiting and reading ---- */

typedef struct NotifyFind {
        const char *prefix;
        char **ret_line;
} NotifyFind;

static int notify_find(TestDaemon *d, void *userdata) {
        const NotifyFind *f = userdata;
        size_t l = strlen(f->prefix);

        for (size_t i = d->notify_cursor; i < d->n_notify; i++)
                if (strncmp(d->notify[i].text, f->prefix, l) == 0) {
                        int r = tdi_strndup_ret(f->ret_line, d->notify[i].text, SIZE_MAX);

                        d->notify_cursor = i + 1;
                        return r < 0 ? r : (int) i;
                }
        return -EAGAIN;
}

int td_wait_notify(TestDaemon *d, const char *prefix, uint64_t timeout, char **ret_line) {
        NotifyFind f = { .prefix = prefix, .ret_line = ret_line };

        return tdi_capture_wait_for(d, timeout, notify_find, &f);
}

typedef struct StatusFind {
        const char *const *needles;
        char **ret_line;
} StatusFind;

static int status_find(TestDaemon *d, void *userdata) {
        const StatusFind *f = userdata;

        for (size_t i = d->notify_cursor; i < d->n_notify; i++) {
                const char *t = d->notify[i].text;
                bool all = strncmp(t, "STATUS=", 7) == 0;
                int r;

                for (const char *const *n = f->needles; all && n && *n; n++)
                        all = strstr(t, *n);
                if (!all)
                        continue;
                r = tdi_strndup_ret(f->ret_line, t, SIZE_MAX);
                d->notify_cursor = i + 1;
                return r < 0 ? r : (int) i;
        }
        return -EAGAIN;
}

int td_wait_status(TestDaemon *d, const char *const *needles, uint64_t timeout, char **ret_line) {
        StatusFind f = { .needles = needles, .ret_line = ret_line };

        return tdi_capture_wait_for(d, timeout, status_find, &f);
}

int td_wait_ready(TestDaemon *d, uint64_t timeout) {
        int r = td_wait_notify(d, "READY=1", timeout, NULL);

        return r < 0 ? r : 0;
}

size_t td_notify_count(TestDaemon *d) {
        size_t n;

        pthread_mutex_lock(&d->lock);
        n = d->n_notify;
        pthread_mutex_unlock(&d->lock);
        return n;
}

int td_notify_lines(TestDaemon *d, char ***ret, uint64_t **ret_usec) {
        char **l;
        uint64_t *u = NULL;
        int r = 0;

        pthread_mutex_lock(&d->lock);
        l = calloc(d->n_notify + 1, sizeof(char *));
        if (ret_usec)
                u = calloc(d->n_notify + 1, sizeof(uint64_t));
        if (!l || (ret_usec && !u)) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < d->n_notify; i++) {
                l[i] = strdup(d->notify[i].text);
                if (!l[i]) {
                        r = -ENOMEM;
                        goto out;
                }
                if (u)
                        u[i] = d->notify[i].usec;
        }
out:
        pthread_mutex_unlock(&d->lock);
        if (r < 0) {
                strv_free(l);
                free(u);
                return r;
        }
        *ret = l;
        if (ret_usec)
                *ret_usec = u;
        return 0;
}

int td_notify_all(TestDaemon *d, TdLine **ret, size_t *ret_n) {
        TdLine *l;
        size_t n;
        int r = 0;

        pthread_mutex_lock(&d->lock);
        n = d->n_notify;
        l = calloc(MAX(n, (size_t) 1), sizeof(TdLine));
        if (!l)
                r = -ENOMEM;
        for (size_t i = 0; l && i < n; i++) {
                l[i] = d->notify[i];
                l[i].text = strdup(d->notify[i].text);
                if (!l[i].text) {
                        r = -ENOMEM;
                        break;
                }
        }
        pthread_mutex_unlock(&d->lock);
        if (r < 0) {
                td_lines_free(l, n);
                return r;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

int td_notify_datagram(TestDaemon *d, size_t index, char **ret) {
        char *s = NULL;
        size_t len = 0;
        int r = 0;

        pthread_mutex_lock(&d->lock);
        if (index >= d->n_notify) {
                r = -ENOENT;
                goto out;
        }
        for (size_t i = 0; i < d->n_notify; i++) {
                size_t l;
                char *q;

                if (d->notify[i].msg != d->notify[index].msg)
                        continue;
                l = strlen(d->notify[i].text);
                q = realloc(s, len + l + 2);
                if (!q) {
                        r = -ENOMEM;
                        goto out;
                }
                s = q;
                if (len > 0)
                        s[len++] = '\n';
                memcpy(s + len, d->notify[i].text, l + 1);
                len += l;
        }
out:
        pthread_mutex_unlock(&d->lock);
        if (r < 0) {
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

size_t td_notify_cursor(TestDaemon *d) {
        size_t n;

        pthread_mutex_lock(&d->lock);
        n = d->notify_cursor;
        pthread_mutex_unlock(&d->lock);
        return n;
}

void td_notify_set_cursor(TestDaemon *d, size_t pos) {
        pthread_mutex_lock(&d->lock);
        d->notify_cursor = pos;
        pthread_mutex_unlock(&d->lock);
}
