/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
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
        for (size_t i = 0; i < d->n_store; i++) {
                safe_close(d->store_fds[i]);
                free(d->store_names[i]);
        }
        free(d->store_fds);
        free(d->store_names);
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

/* The value of "key=" in the datagram's lines (a pointer into data and its
 * length), or NULL. */
static const char *datagram_field(const NotifyDatagram *dg, const char *key, size_t *ret_len) {
        size_t l = strlen(key);

        for (const char *p = dg->data, *end = dg->data + dg->len; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p)), *e = nl ? nl : end;

                if ((size_t) (e - p) >= l && memcmp(p, key, l) == 0) {
                        *ret_len = (size_t) (e - p) - l;
                        return p + l;
                }
                p = e + 1;
        }
        return NULL;
}

/* Called with the lock held: what a service manager does with
 * FDSTORE=1 and FDSTOREREMOVE=1, for td_fdstore(). The datagram's fds are
 * taken or closed. */
static void store_apply(TestDaemon *d, NotifyDatagram *dg) {
        size_t nl = 0, l;
        const char *name = datagram_field(dg, "FDNAME=", &nl);
        bool store = datagram_field(dg, "FDSTORE=1", &l), remove = datagram_field(dg, "FDSTOREREMOVE=1", &l);

        for (size_t i = 0; remove && name && i < d->n_store;) {
                if (strlen(d->store_names[i]) != nl || memcmp(d->store_names[i], name, nl) != 0) {
                        i++;
                        continue;
                }
                safe_close(d->store_fds[i]);
                free(d->store_names[i]);
                d->n_store--;
                d->store_fds[i] = d->store_fds[d->n_store];
                d->store_names[i] = d->store_names[d->n_store];
        }
        for (size_t k = 0; k < dg->n_fds; k++) {
                char *n = store ? strndup(name ? name : "stored", name ? nl : 6) : NULL;

                if (!n || tdi_grow((void **) &d->store_fds, &d->store_alloc, d->n_store + 1, sizeof(int)) < 0) {
                        free(n);
                        safe_close(dg->fds[k]);
                        continue;
                }
                /* store_names grows with store_fds: same capacity. */
                char **names = realloc(d->store_names, d->store_alloc * sizeof(char *));
                if (!names) {
                        free(n);
                        safe_close(dg->fds[k]);
                        continue;
                }
                d->store_names = names;
                d->store_fds[d->n_store] = dg->fds[k];
                d->store_names[d->n_store++] = n;
        }
        dg->n_fds = 0;
}

int td_fdstore(TestDaemon *d, int **ret_fds, char ***ret_names) {
        _cleanup_free_ int *fds = NULL;
        char **names = NULL;
        size_t n;
        int r = 0;

        pthread_mutex_lock(&d->lock);
        n = d->n_store;
        fds = calloc(n + 1, sizeof(int));
        names = calloc(n + 1, sizeof(char *));
        for (size_t i = 0; fds && names && i < n; i++) {
                fds[i] = fcntl(d->store_fds[i], F_DUPFD_CLOEXEC, 3);
                names[i] = strdup(d->store_names[i]);
                if (fds[i] < 0 || !names[i]) {
                        r = -ENOMEM;
                        for (size_t k = 0; k <= i; k++)
                                safe_close(fds[k]);
                        break;
                }
        }
        pthread_mutex_unlock(&d->lock);
        if (!fds || !names || r < 0) {
                strv_free(names);
                return -ENOMEM;
        }
        *ret_fds = TAKE_PTR(fds);
        *ret_names = names;
        return (int) n;
}

void tdi_notify_receive(TestDaemon *d, NotifyBatch *b) {
        for (;;) {
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * TDI_NOTIFY_FDS_MAX)];
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
                int fds[TDI_NOTIFY_FDS_MAX];
                size_t n_fds = 0;

                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                            c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
                                struct ucred uc;

                                memcpy(&uc, CMSG_DATA(c), sizeof(uc));
                                pid = uc.pid;
                        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                                size_t m = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

                                for (size_t i = 0; i < m; i++) {
                                        int fd;

                                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                                        if (n_fds < TDI_NOTIFY_FDS_MAX)
                                                fds[n_fds++] = fd;
                                        else
                                                safe_close(fd);
                                }
                        }
                if (tdi_grow((void **) &b->dg, &b->alloc, b->n + 1, sizeof(NotifyDatagram)) < 0) {
                        for (size_t i = 0; i < n_fds; i++)
                                safe_close(fds[i]);
                        continue; /* dropped, as a full queue would */
                }
                dg = &b->dg[b->n];
                dg->data = malloc((size_t) k);
                if (!dg->data) {
                        for (size_t i = 0; i < n_fds; i++)
                                safe_close(fds[i]);
                        continue;
                }
                memcpy(dg->fds, fds, n_fds * sizeof(int));
                dg->n_fds = n_fds;
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
                for (size_t i = 0; i < b->n; i++) {
                        notify_append(d, b->dg[i].data, b->dg[i].len, b->dg[i].usec, b->dg[i].pid);
                        store_apply(d, &b->dg[i]);
                }
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
