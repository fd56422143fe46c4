/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util-internal.h"

uint64_t td_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

void td_sleep(uint64_t usec) {
        struct timespec ts = {
                .tv_sec = (time_t) (usec / USEC_PER_SEC),
                .tv_nsec = (long) ((usec % USEC_PER_SEC) * NSEC_PER_USEC),
        };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

const char *td_binary(void) {
        const char *b = getenv("PREFORKD_BINARY");

        return b && *b ? b : "preforkd";
}

void td_lines_free(TdLine *l, size_t n) {
        if (!l)
                return;
        for (size_t i = 0; i < n; i++)
                free(l[i].text);
        free(l);
}

int tdi_remaining_ms(uint64_t deadline) {
        uint64_t n = td_now();

        if (n >= deadline)
                return 0;
        return (int) MIN((deadline - n + 999) / 1000, (uint64_t) 60000);
}

uint64_t tdi_deadline(uint64_t timeout) {
        uint64_t n = td_now();

        return timeout > UINT64_MAX - n ? UINT64_MAX : n + timeout;
}

int tdi_grow(void **p, size_t *alloc, size_t need, size_t elem) {
        size_t n;
        void *q;

        if (need <= *alloc)
                return 0;
        n = MAX(need, *alloc * 2);
        n = MAX(n, (size_t) 64);
        q = realloc(*p, n * elem);
        if (!q)
                return -ENOMEM;
        *p = q;
        *alloc = n;
        return 0;
}

int tdi_strndup_ret(char **ret, const char *s, size_t n) {
        if (!ret)
                return 0;
        *ret = strndup(s, n);
        return *ret ? 0 : -ENOMEM;
}

char *tdi_str_replace(const char *s, const char *what, const char *with) {
        size_t wl = strlen(what), nl = strlen(with), n = 0, len;
        const char *p;
        char *out, *o;

        for (p = s; (p = strstr(p, what)); p += wl)
                n++;
        len = strlen(s) + n * nl + 1;
        out = malloc(len);
        if (!out)
                return NULL;
        o = out;
        for (p = s;;) {
                const char *q = strstr(p, what);

                if (!q) {
                        strcpy(o, p);
                        break;
                }
                memcpy(o, p, (size_t) (q - p));
                o += q - p;
                memcpy(o, with, nl);
                o += nl;
                p = q + wl;
        }
        return out;
}

bool tdi_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, uint64_t deadline) {
        struct timespec ts;

        if (td_now() >= deadline)
                return false;
        /* Wake up at least every 100 ms to re-check the clock. */
        deadline = MIN(deadline, td_now() + TD_MSEC(100));
        ts.tv_sec = (time_t) (deadline / USEC_PER_SEC);
        ts.tv_nsec = (long) ((deadline % USEC_PER_SEC) * NSEC_PER_USEC);
        (void) pthread_cond_timedwait(cond, lock, &ts);
        return true;
}

int tdi_pidfd_open(pid_t pid) {
        int fd;

        if (pid <= 0)
                return -ESRCH;
        fd = (int) syscall(SYS_pidfd_open, pid, 0);
        return fd < 0 ? -errno : fd;
}

int tdi_wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                int k;

                if (td_now() >= deadline)
                        return -ETIMEDOUT;
                k = poll(&p, 1, tdi_remaining_ms(deadline));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k > 0)
                        return p.revents;
        }
}

void td_poll_pause(void) {
        td_sleep(TD_MSEC(2));
}

void tdi_ignore_sigpipe(void) {
        (void) signal(SIGPIPE, SIG_IGN);
}

/* Replaces the first entry equal to old by new. */
static void registry_set(TdiRegistry *reg, void *old, void *new) {
        pthread_mutex_lock(&reg->lock);
        for (size_t i = 0; i < TDI_MAX_LIVE; i++)
                if (reg->live[i] == old) {
                        reg->live[i] = new;
                        break;
                }
        pthread_mutex_unlock(&reg->lock);
}

void tdi_registry_add(TdiRegistry *reg, void *p) {
        pthread_mutex_lock(&reg->lock);
        if (!reg->atexit_done) {
                atexit(reg->atexit_fn);
                reg->atexit_done = true;
        }
        pthread_mutex_unlock(&reg->lock);
        registry_set(reg, NULL, p);
}

void tdi_registry_remove(TdiRegistry *reg, void *p) {
        registry_set(reg, p, NULL);
}

void tdi_registry_free_all(TdiRegistry *reg, void (*free_fn)(void *)) {
        for (size_t i = 0; i < TDI_MAX_LIVE; i++) {
                void *p;

                pthread_mutex_lock(&reg->lock);
                p = reg->live[i];
                pthread_mutex_unlock(&reg->lock);
                if (p)
                        free_fn(p);
        }
}
