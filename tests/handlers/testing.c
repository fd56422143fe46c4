/* SPDX-License-Identifier: MIT */
/* handler = "testing": echo, plus a few ways to misbehave on purpose, for
 * the integration tests of supervision (request_timeout, max_memory,
 * rolling reloads). It is linked only into preforkd-testing, a build of
 * the daemon for the test suite (tests/meson.build); the handler table
 * names it weakly, so that preforkd itself has no trace of it.
 *
 * A connection whose first line is a command does what it says:
 *   HANG\n       names "HANG" as its request and never answers (SIGTERM
 *                does not reach it either: a real hang)
 *   GROW N\n     allocates and touches N MiB that stay allocated, answers
 *                "GREW N\n", then echoes like any connection
 * Anything else is echoed until the client closes.
 *
 * Its group, testing { fail_init_from_slot = N; }, makes the init of the
 * workers in slots N and above fail (exit status 78), for a rolling reload
 * whose second batch cannot start. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "handler.h"
#include "log.h"
#include "worker.h"

typedef struct TestingConfig {
        int64_t fail_init_from_slot;  /* -1: never */
} TestingConfig;

static const char *const testing_keys[] = { "fail_init_from_slot", NULL };

static char testing_buf[16384];
/* What GROW allocated, chained through the first bytes of each MiB: kept
 * reachable, so that it is growth and not a leak. */
static void *testing_grown;

static int testing_config_parse(ConfigParser *p, const config_setting_t *service, const config_setting_t *group,
                                void **ret) {
        TestingConfig *c = calloc(1, sizeof(TestingConfig));

        if (!c)
                return -ENOMEM;
        c->fail_init_from_slot = -1;
        if (group) {
                config_check_keys(p, group, testing_keys);
                if (config_get_int(p, group, "fail_init_from_slot", false, 0, 4096, -1, &c->fail_init_from_slot) < 0) {
                        free(c);
                        return -EINVAL;
                }
        }
        *ret = c;
        return 0;
}

static void testing_config_free(void *c) {
        free(c);
}

static int testing_init(const ServiceConfig *svc) {
        const TestingConfig *c = svc->handler_config;
        const WorkerScore *score = worker_score();
        unsigned slot = score ? atomic_load(&score->slot) : 0;

        if (c && c->fail_init_from_slot >= 0 && slot >= (unsigned) c->fail_init_from_slot) {
                log_error("%s[slot %u]: testing: failing init on purpose (fail_init_from_slot = %u)", svc->name, slot,
                          (unsigned) c->fail_init_from_slot);
                return -EIO;
        }
        return 0;
}

/* Never returns: the master's SIGABRT or SIGKILL ends it. */
_noreturn_ static void testing_hang(void) {
        score_begin_request(worker_score(), "HANG", 4);
        for (;;)
                (void) pause();
}

/* Allocates n MiB for good: the worker's private memory grows. */
static int testing_grow(int fd, unsigned long mib, uint64_t timeout) {
        char answer[64];
        int l;

        score_begin_request(worker_score(), "GROW", 4);
        for (unsigned long i = 0; i < mib; i++) {
                char *m = malloc(1 << 20);

                if (!m)
                        return -ENOMEM;
                memset(m, 0x5a, 1 << 20);
                *(void **) m = testing_grown;
                testing_grown = m;
        }
        l = snprintf(answer, sizeof answer, "GREW %lu\n", mib);
        return worker_send_all(fd, answer, (size_t) l, 0, timeout);
}

static int testing_serve(const ServiceConfig *svc, const Conn *c) {
        uint64_t deadline = now_usec() + svc->idle_timeout_usec;
        bool first = true;
        int r;

        for (;;) {
                ssize_t n = recv(c->fd, testing_buf, sizeof testing_buf - 1, MSG_DONTWAIT);
                char *data = testing_buf;
                uint64_t now;

                if (n > 0) {
                        unsigned long mib;

                        data[n] = 0;
                        if (first && strncmp(data, "HANG\n", 5) == 0)
                                testing_hang();
                        if (first && sscanf(data, "GROW %lu\n", &mib) == 1) {
                                first = false;
                                r = testing_grow(c->fd, mib, svc->idle_timeout_usec);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        first = false;
                        r = worker_send_all(c->fd, data, (size_t) n, 0, svc->idle_timeout_usec);
                        if (r < 0)
                                return r;
                        deadline = now_usec() + svc->idle_timeout_usec;
                        continue;
                }
                if (n == 0)
                        return 0;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                        return -errno;
                now = now_usec();
                r = now < deadline ? worker_wait(c->fd, POLLIN, deadline - now, false) : 0;
                if (r <= 0)
                        return r;
        }
}

const HandlerVTable handler_testing = {
        .name = "testing",
        .config_group = "testing",
        .uses_idle_timeout = true,
        .config_parse = testing_config_parse,
        .config_free = testing_config_free,
        .init = testing_init,
        .serve = testing_serve,
};
