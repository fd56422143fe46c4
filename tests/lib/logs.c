/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon-internal.h"
#include "daemon.h"
#include "logs.h"

/* ---- capture (the reader thread) ---- */

/* Called with the lock held. */
static void log_append(TestDaemon *d, const char *buf, size_t len, uint64_t now) {
        size_t old = d->log_len;

        if (tdi_grow((void **) &d->log, &d->log_alloc, d->log_len + len + 1, 1) < 0)
                return;
        memcpy(d->log + d->log_len, buf, len);
        d->log_len += len;
        d->log[d->log_len] = 0;

        for (size_t i = old; i < d->log_len; i++) {
                if (d->log[i] != '\n')
                        continue;
                if (tdi_grow((void **) &d->lines, &d->lines_alloc, d->n_lines + 1, sizeof(LineInfo)) < 0)
                        return;
                d->lines[d->n_lines++] = (LineInfo) {
                        .start = d->line_begin,
                        .len = i - d->line_begin,
                        .usec = now,
                };
                d->line_begin = i + 1;
        }
}

bool tdi_log_drain(TestDaemon *d, char *buf, size_t size) {
        for (;;) {
                ssize_t k = read(d->out_fd, buf, size);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        return true;
                if (k <= 0)
                        return false;
                pthread_mutex_lock(&d->lock);
                log_append(d, buf, (size_t) k, td_now());
                pthread_cond_broadcast(&d->cond);
                pthread_mutex_unlock(&d->lock);
        }
}

void tdi_log_close(TestDaemon *d) {
        pthread_mutex_lock(&d->lock);
        if (!d->out_eof) {
                /* A last line without its newline still counts as a line. */
                if (d->line_begin < d->log_len)
                        log_append(d, "\n", 1, td_now());
                d->out_eof = true;
                pthread_cond_broadcast(&d->cond);
        }
        pthread_mutex_unlock(&d->lock);
}

void tdi_log_free(TestDaemon *d) {
        free(d->lines);
        free(d->log);
}

/* ---- search ---- */

typedef struct LogFind {
        const char *substring;
        char **ret_line;
        bool own_cursor;        /* search from `from` and leave d->log_cursor alone */
        size_t from;
} LogFind;

static int log_find(TestDaemon *d, void *userdata) {
        const LogFind *f = userdata;
        size_t cursor = f->own_cursor ? f->from : d->log_cursor;

        /* Only complete lines count, so that the match cannot be cut. */
        for (size_t i = 0; i < d->n_lines; i++) {
                LineInfo *li = d->lines + i;
                char *m;

                if (li->start + li->len < cursor)
                        continue;
                /* Search the part of the line at or after the cursor. */
                {
                        size_t from = MAX(li->start, cursor);
                        char save = d->log[li->start + li->len];

                        d->log[li->start + li->len] = 0;
                        m = strstr(d->log + from, f->substring);
                        d->log[li->start + li->len] = save;
                }
                if (!m)
                        continue;
                if (!f->own_cursor)
                        d->log_cursor = li->start + li->len + 1;
                return tdi_strndup_ret(f->ret_line, d->log + li->start, li->len);
        }
        return -EAGAIN;
}

int td_wait_log(TestDaemon *d, const char *substring, uint64_t timeout, char **ret_line) {
        LogFind f = { .substring = substring, .ret_line = ret_line };

        return tdi_capture_wait_for(d, timeout, log_find, &f);
}

int td_barrier(TestDaemon *d, uint64_t timeout) {
        LogFind f = { .substring = "Ignoring SIGUSR1", .own_cursor = true };
        int r;

        pthread_mutex_lock(&d->lock);
        f.from = d->log_len;
        pthread_mutex_unlock(&d->lock);
        r = td_kill(d, SIGUSR1);
        if (r < 0)
                return r;
        return tdi_capture_wait_for(d, timeout, log_find, &f);
}

void td_log_mark(TestDaemon *d) {
        pthread_mutex_lock(&d->lock);
        d->log_cursor = d->log_len;
        pthread_mutex_unlock(&d->lock);
}

char *td_log(TestDaemon *d) {
        char *s;

        pthread_mutex_lock(&d->lock);
        s = d->log ? strndup(d->log, d->log_len) : strdup("");
        pthread_mutex_unlock(&d->lock);
        return s;
}

bool td_log_contains(TestDaemon *d, const char *substring) {
        bool b;

        pthread_mutex_lock(&d->lock);
        b = d->log && strstr(d->log, substring);
        pthread_mutex_unlock(&d->lock);
        return b;
}

static bool line_has(const TestDaemon *d, const LineInfo *li, const char *substring) {
        size_t l = strlen(substring);

        if (l > li->len)
                return false;
        for (size_t i = 0; i + l <= li->len; i++)
                if (memcmp(d->log + li->start + i, substring, l) == 0)
                        return true;
        return false;
}

size_t td_log_count(TestDaemon *d, const char *substring) {
        size_t n = 0;

        pthread_mutex_lock(&d->lock);
        for (size_t i = 0; i < d->n_lines; i++)
                if (line_has(d, d->lines + i, substring))
                        n++;
        pthread_mutex_unlock(&d->lock);
        return n;
}

int td_log_lines(TestDaemon *d, const char *substring, TdLine **ret, size_t *ret_n) {
        TdLine *l = NULL;
        size_t n = 0, alloc = 0;
        int r = 0;

        pthread_mutex_lock(&d->lock);
        for (size_t i = 0; i < d->n_lines; i++) {
                const LineInfo *li = d->lines + i;
                char *t;

                if (!line_has(d, li, substring))
                        continue;
                if (tdi_grow((void **) &l, &alloc, n + 1, sizeof(TdLine)) < 0) {
                        r = -ENOMEM;
                        break;
                }
                t = strndup(d->log + li->start, li->len);
                if (!t) {
                        r = -ENOMEM;
                        break;
                }
                l[n++] = (TdLine) { .text = t, .usec = li->usec };
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

/* ---- "Listening on" lines ---- */

typedef struct ListenFind {
        char *tail; /* " (service NAME)" */
        unsigned nth;
        char *addr;
        size_t addr_size;
        uint16_t *ret_port;
} ListenFind;

/* With d->lock held. -EAGAIN while there is no such line (yet). */
static int listen_find(TestDaemon *d, void *userdata) {
        const ListenFind *f = userdata;
        unsigned seen = 0;

        for (size_t i = 0; i < d->n_lines; i++) {
                const LineInfo *li = d->lines + i;
                const char *line = d->log + li->start, *end = line + li->len, *a, *t, *colon;
                char buf[256];
                size_t al;

                a = memmem(line, li->len, "Listening on ", strlen("Listening on "));
                if (!a)
                        continue;
                a += strlen("Listening on ");
                t = memmem(a, (size_t) (end - a), f->tail, strlen(f->tail));
                if (!t)
                        continue;
                if (seen++ < f->nth)
                        continue;
                al = (size_t) (t - a);
                if (al >= sizeof(buf))
                        return -ENAMETOOLONG;
                memcpy(buf, a, al);
                buf[al] = 0;
                if (f->addr) {
                        if (al >= f->addr_size)
                                return -ENOBUFS;
                        strcpy(f->addr, buf);
                }
                if (f->ret_port) {
                        *f->ret_port = 0;
                        colon = strrchr(buf, ':');
                        if (strncmp(buf, "unix:", 5) != 0 && colon) {
                                char *e;
                                unsigned long v;

                                errno = 0;
                                v = strtoul(colon + 1, &e, 10);
                                if (errno != 0 || *e || v == 0 || v > 65535)
                                        return -EBADMSG;
                                *f->ret_port = (uint16_t) v;
                        }
                }
                return 0;
        }
        return -EAGAIN;
}

int td_find_listen(TestDaemon *d, const char *service, unsigned nth, char *addr, size_t addr_size,
                   uint16_t *ret_port) {
        ListenFind f = { .nth = nth, .addr = addr, .addr_size = addr_size, .ret_port = ret_port };
        int r;

        if (asprintf(&f.tail, " (service %s)", service) < 0)
                return -ENOMEM;
        pthread_mutex_lock(&d->lock);
        r = listen_find(d, &f);
        pthread_mutex_unlock(&d->lock);
        free(f.tail);
        return r == -EAGAIN ? -ENOENT : r;
}

int td_find_port(TestDaemon *d, const char *service, unsigned nth, uint16_t *ret_port) {
        return td_find_listen(d, service, nth, NULL, 0, ret_port);
}

int td_wait_port(TestDaemon *d, const char *service, unsigned nth, uint64_t timeout, uint16_t *ret_port) {
        ListenFind f = { .nth = nth, .ret_port = ret_port };
        int r;

        if (asprintf(&f.tail, " (service %s)", service) < 0)
                return -ENOMEM;
        r = tdi_capture_wait_for(d, timeout, listen_find, &f);
        free(f.tail);
        return r;
}
