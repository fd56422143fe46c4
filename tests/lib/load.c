/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "load.h"
#include "net.h"
#include "util-internal.h"

/* Registered when the first load starts, which is after the daemon it
 * talks to was created: so the atexit() handler stops the load threads
 * before the daemons' handler kills their target. */
static void loads_atexit(void);
static TdiRegistry live_loads = TDI_REGISTRY_INIT(loads_atexit);

struct TdLoad {
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;          /* broadcast after every round and at the end, under lock */
        bool done;
        char *host;
        char *path;
        uint16_t port;
        size_t payload;
        unsigned long max_rounds;
        uint64_t deadline;
        atomic_bool stop;
        TdLoadStats stats;
};

static void load_stop_void(void *l) {
        td_load_stop(l, NULL);
}

static void loads_atexit(void) {
        tdi_registry_free_all(&live_loads, load_stop_void);
}

static void load_fail(TdLoad *l, int r, const char *what) {
        pthread_mutex_lock(&l->lock);
        l->stats.failed++;
        if (r == -ECONNREFUSED)
                l->stats.refused++;
        else if (r == -ECONNRESET || r == -EPIPE)
                l->stats.reset++;
        if (l->stats.first_error == 0) {
                l->stats.first_error = r;
                snprintf(l->stats.first_error_what, sizeof(l->stats.first_error_what), "%s", what);
        }
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->lock);
}

static void load_end(TdLoad *l) {
        pthread_mutex_lock(&l->lock);
        l->done = true;
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->lock);
}

static void *load_thread(void *userdata) {
        TdLoad *l = userdata;
        _cleanup_free_ unsigned char *data = NULL;
        unsigned long round = 0;

        data = malloc(MAX(l->payload, (size_t) 1));
        if (!data) {
                load_fail(l, -ENOMEM, "malloc");
                load_end(l);
                return NULL;
        }

        while (!atomic_load(&l->stop) && round < l->max_rounds && td_now() < l->deadline) {
                _cleanup_close_ int fd = -EBADF;
                int r;

                round++;
                fd = l->path ? td_connect_unix(l->path) : td_connect_tcp(l->host, l->port);
                if (fd < 0) {
                        load_fail(l, fd, "connect");
                        continue;
                }
                td_random_fill(data, l->payload, (unsigned) round);
                r = td_echo_exchange(fd, data, l->payload, TD_SEC(10));
                if (r < 0) {
                        load_fail(l, r, "echo");
                        continue;
                }
                if (shutdown(fd, SHUT_WR) < 0) {
                        load_fail(l, -errno, "shutdown");
                        continue;
                }
                r = td_wait_eof(fd, TD_SEC(10));
                if (r < 0) {
                        load_fail(l, r, "eof");
                        continue;
                }
                pthread_mutex_lock(&l->lock);
                l->stats.ok++;
                pthread_cond_broadcast(&l->cond);
                pthread_mutex_unlock(&l->lock);
        }
        load_end(l);
        return NULL;
}

static void load_free(TdLoad *l) {
        pthread_mutex_destroy(&l->lock);
        pthread_cond_destroy(&l->cond);
        free(l->host);
        free(l->path);
        free(l);
}

static int load_start(const char *host, const char *path, uint16_t port, size_t payload, unsigned long max_rounds,
                      uint64_t max_time, TdLoad **ret) {
        pthread_condattr_t ca;
        TdLoad *l;
        int r;

        tdi_ignore_sigpipe();

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        pthread_mutex_init(&l->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&l->cond, &ca);
        pthread_condattr_destroy(&ca);
        l->host = host ? strdup(host) : NULL;
        l->path = path ? strdup(path) : NULL;
        if ((host && !l->host) || (path && !l->path)) {
                load_free(l);
                return -ENOMEM;
        }
        l->port = port;
        l->payload = payload;
        l->max_rounds = max_rounds;
        l->deadline = tdi_deadline(max_time);
        atomic_init(&l->stop, false);

        r = pthread_create(&l->thread, NULL, load_thread, l);
        if (r != 0) {
                load_free(l);
                return -r;
        }
        tdi_registry_add(&live_loads, l);
        *ret = l;
        return 0;
}

int td_load_start_tcp(const char *host, uint16_t port, size_t payload, unsigned long max_rounds,
                      uint64_t max_time, TdLoad **ret) {
        return load_start(host, NULL, port, payload, max_rounds, max_time, ret);
}

int td_load_start_unix(const char *path, size_t payload, unsigned long max_rounds, uint64_t max_time,
                       TdLoad **ret) {
        return load_start(NULL, path, 0, payload, max_rounds, max_time, ret);
}

void td_load_peek(TdLoad *l, TdLoadStats *ret) {
        pthread_mutex_lock(&l->lock);
        *ret = l->stats;
        pthread_mutex_unlock(&l->lock);
}

int td_load_wait_ok(TdLoad *l, unsigned long n, uint64_t timeout) {
        uint64_t deadline = tdi_deadline(timeout);
        int r = 0;

        pthread_mutex_lock(&l->lock);
        while (l->stats.ok < n) {
                if (l->done || !tdi_cond_wait_until(&l->cond, &l->lock, deadline)) {
                        r = -ETIMEDOUT;
                        break;
                }
        }
        pthread_mutex_unlock(&l->lock);
        return r;
}

void td_load_stop(TdLoad *l, TdLoadStats *ret) {
        if (!l)
                return;
        tdi_registry_remove(&live_loads, l);
        atomic_store(&l->stop, true);
        pthread_join(l->thread, NULL);
        if (ret)
                *ret = l->stats;
        load_free(l);
}
