/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared parts of the exec handler's integration suites: a config of one
 * exec service, the test programs, an HTTP GET, and a background client
 * that GETs in a loop and counts what it got. */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "integration/ctl.h"
#include "integration/itest.h"
#include "testlib.h"

/* The C program built with the tests (apps/notify-server.c). */
static inline const char *notify_server_path(void) {
        static char path[1024];
        const char *b = getenv("PREFORKD_BUILD_ROOT");

        snprintf(path, sizeof path, "%s/tests/exec/notify-server", b ? b : ".");
        return path;
}

/* The directory of the test programs (apps/). */
static inline const char *apps_dir(void) {
        static char path[1024];
        const char *s = getenv("PREFORKD_SOURCE_ROOT");

        snprintf(path, sizeof path, "%s/tests/exec/apps", s ? s : ".");
        return path;
}

/* Returns a copy of s with every from replaced by to (free()). */
static inline char *str_replace_all(const char *s, const char *from, const char *to) {
        size_t n = 0, lf = strlen(from), lt = strlen(to);
        char *r, *w;

        for (const char *p = strstr(s, from); p; p = strstr(p + lf, from))
                n++;
        r = malloc(strlen(s) + n * lt + 1);
        ck_assert_ptr_nonnull(r);
        w = r;
        for (const char *p; (p = strstr(s, from)); s = p + lf) {
                memcpy(w, s, (size_t) (p - s));
                w += p - s;
                memcpy(w, to, lt);
                w += lt;
        }
        strcpy(w, s);
        return r;
}

/* conf/examples/NAME as the suite runs it: its listen address (listen,
 * as written there) on port 0, and /srv/app as the test programs'
 * directory. Free the result. */
static inline char *example_config(const char *name, const char *listen) {
        _cleanup_free_ char *path = NULL, *text = NULL, *moved = NULL;
        const char *src = getenv("PREFORKD_SOURCE_ROOT");
        size_t len;
        FILE *f;

        ck_assert_int_ge(asprintf(&path, "%s/conf/examples/%s", src ? src : ".", name), 0);
        f = fopen(path, "re");
        ck_assert_msg(f, "cannot read %s", path);
        text = calloc(1, 65536);
        ck_assert_ptr_nonnull(text);
        len = fread(text, 1, 65535, f);
        fclose(f);
        ck_assert_uint_gt(len, 0);
        ck_assert_msg(strstr(text, listen), "%s does not listen on %s", path, listen);
        moved = str_replace_all(text, listen, "127.0.0.1:0");
        return str_replace_all(moved, "/srv/app", apps_dir());
}

/* A config with one exec service "app" on 127.0.0.1:0; exec_group is the
 * inside of its exec group. Free the result. */
static inline char *exec_config(unsigned workers, const char *exec_group, const char *service_extra) {
        char *s;

        if (asprintf(&s,
                     "shutdown_timeout = 10.0;\n"
                     "log_level = \"debug\";\n"
                     "control_socket = \"@DIR@/control\";\n"
                     "services = ( {\n"
                     "  name = \"app\";\n"
                     "  listen = [ \"127.0.0.1:0\" ];\n"
                     "  workers = %u;\n"
                     "  handler = \"exec\";\n"
                     "  %s\n"
                     "  exec = { %s };\n"
                     "} );\n",
                     workers, service_extra ? service_extra : "", exec_group) < 0)
                return NULL;
        return s;
}

/* Starts the daemon with conf, waits for READY=1, returns the port. */
static inline uint16_t exec_start(TestDaemon **ret, const char *conf) {
        TestDaemon *d = NULL;
        uint16_t port;

        TD_OK(NULL, td_new(&d));
        *ret = d;
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "app", 0, &port));
        return port;
}

/* GET path on 127.0.0.1:port (HTTP/1.0, the server closes); the body in
 * *ret (free()). 0, or a negative errno (-ECONNREFUSED, -ECONNRESET,
 * -EPROTO for an answer that is not 200 with a body). */
static inline int http_get(uint16_t port, const char *path, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *resp = NULL;
        char req[256];
        const char *body;
        size_t len;
        int r;

        fd = td_connect_tcp("127.0.0.1", port);
        if (fd < 0)
                return fd;
        snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: test\r\n\r\n", path);
        r = td_write_all(fd, req, strlen(req), TD_TIMEOUT);
        if (r < 0)
                return r;
        r = td_read_all(fd, 65536, TD_TIMEOUT, &resp, &len);
        if (r < 0)
                return r;
        body = strstr(resp, "\r\n\r\n");
        if (strncmp(resp, "HTTP/1.", 7) != 0 || strncmp(resp + 8, " 200", 4) != 0 || !body || !body[4])
                return -EPROTO;
        if (ret) {
                *ret = strdup(body + 4);
                if (!*ret)
                        return -ENOMEM;
        }
        return 0;
}

/* The number after "key=" in body, or -1. */
static inline long body_field(const char *body, const char *key) {
        char k[64];
        const char *p;

        snprintf(k, sizeof k, "%s=", key);
        p = strstr(body, k);
        if (!p || (p != body && p[-1] != ' '))
                return -1;
        return strtol(p + strlen(k), NULL, 10);
}

/* GETs until every one of the n slots has answered (at most max_requests
 * GETs); asserts that they did and returns the pid that answered for
 * each slot in pids (the "pid=" of its last answer). Which idle program
 * wins the race for a connection is up to the scheduler, and on a busy
 * machine one won 400 sequential connects in a row: every tenth miss the
 * client pauses 5 ms, so that the programs' wake-ups fall differently. */
static inline void expect_all_slots(TestDaemon *d, uint16_t port, unsigned n, unsigned max_requests, long *pids) {
        unsigned seen = 0;

        for (unsigned i = 0; i < n; i++)
                pids[i] = -1;
        for (unsigned i = 0; i < max_requests && seen < n; i++) {
                _cleanup_free_ char *body = NULL;
                long slot;

                TD_OK(d, http_get(port, "/", &body));
                slot = body_field(body, "slot");
                TD_ASSERT_MSG(d, slot >= 0 && slot < (long) n, "answer from no slot of ours: %s", body);
                if (pids[slot] < 0)
                        seen++;
                else if (i % 10 == 9)
                        td_sleep(TD_MSEC(5));
                pids[slot] = body_field(body, "pid");
        }
        TD_ASSERT_MSG(d, seen == n, "only %u of %u slots answered in %u requests", seen, n, max_requests);
}

/* A client GETting "/" in a loop in a thread, one connection per request. */
typedef struct HttpLoad {
        pthread_t thread;
        uint16_t port;
        unsigned long max_rounds;
        uint64_t deadline;
        atomic_bool stop;
        atomic_ulong ok, refused, failed;
        atomic_long max_generation;   /* the highest generation= answered */
        atomic_int first_error;
} HttpLoad;

static inline void *http_load_run(void *userdata) {
        HttpLoad *l = userdata;

        for (unsigned long i = 0; i < l->max_rounds && !atomic_load(&l->stop) && td_now() < l->deadline; i++) {
                _cleanup_free_ char *body = NULL;
                int r = http_get(l->port, "/", &body);

                if (r < 0) {
                        int zero = 0;
                        atomic_compare_exchange_strong(&l->first_error, &zero, r);
                        atomic_fetch_add(r == -ECONNREFUSED ? &l->refused : &l->failed, 1);
                        continue;
                }
                atomic_fetch_add(&l->ok, 1);
                long g = body_field(body, "generation");
                if (g > atomic_load(&l->max_generation))
                        atomic_store(&l->max_generation, g);
        }
        return NULL;
}

/* At most max_rounds requests, for at most max_time. */
static inline HttpLoad *http_load_start(uint16_t port, unsigned long max_rounds, uint64_t max_time) {
        HttpLoad *l = calloc(1, sizeof(HttpLoad));

        ck_assert_ptr_nonnull(l);
        l->port = port;
        l->max_rounds = max_rounds;
        l->deadline = td_now() + max_time;
        ck_assert_int_eq(pthread_create(&l->thread, NULL, http_load_run, l), 0);
        return l;
}

/* Waits until ok reaches n (or the load ended). */
static inline void http_load_wait_ok(HttpLoad *l, unsigned long n) {
        uint64_t end = td_now() + TD_TIMEOUT;

        /* The load's own progress has no event to wait for but itself;
         * its requests pace this loop. */
        while (atomic_load(&l->ok) < n && td_now() < end && td_now() < l->deadline)
                td_poll_pause();
}

static inline void http_load_stop(HttpLoad *l) {
        atomic_store(&l->stop, true);
        pthread_join(l->thread, NULL);
}

/* A real server program to pool, and what it needs installed. */
typedef struct Program {
        const char *binary;        /* what must be installed */
        const char *package;       /* ... from which Debian package */
        const char *exec_group;    /* run in the apps directory */
        /* Requests a graceful stop of the program itself may drop (its
         * own shutdown race, which no supervisor can close): 0 for all
         * but uvicorn, see test-exec-real.c. */
        unsigned long stop_may_drop;
} Program;

static inline uint16_t start_program(TestDaemon **d, const Program *p) {
        _cleanup_free_ char *group = NULL, *conf = NULL;

        ck_assert_int_ge(asprintf(&group, "%s working_directory = \"%s\";", p->exec_group, apps_dir()), 0);
        conf = exec_config(2, group, NULL);
        ck_assert_ptr_nonnull(conf);
        return exec_start(d, conf);
}

/* Both slots answer; one program is SIGKILLed under load and replaced;
 * no connection is refused meanwhile. */
static inline void traffic_and_kill(const Program *p) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port = start_program(&d, p);
        long pids[2], after[2];
        HttpLoad *load;

        expect_all_slots(d, port, 2, 1000, pids);

        load = http_load_start(port, 100000, TD_SEC(60));
        http_load_wait_ok(load, 20);
        td_log_mark(d);
        /* The worker of slot 0: the master's log names it. */
        {
                _cleanup_free_ char *line = NULL;
                _cleanup_free_ char *log = td_log(d);
                const char *w = strstr(log, "app[slot 0]: started worker ");
                long pid;

                TD_ASSERT(d, w && sscanf(w, "app[slot 0]: started worker %ld", &pid) == 1);
                TD_ASSERT(d, kill((pid_t) pid, SIGKILL) == 0);
                TD_OK(d, td_wait_log(d, "killed by signal KILL", TD_TIMEOUT, &line));
                TD_OK(d, td_wait_pid_gone((pid_t) pid, TD_TIMEOUT));
        }
        TD_OK(d, td_wait_log(d, "app[slot 0]: started worker", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, strstr(p->exec_group, "\"notify\"") ? "sent READY=1" : "waits for connections",
                             TD_TIMEOUT, NULL));
        http_load_wait_ok(load, atomic_load(&load->ok) + 20);
        http_load_stop(load);
        TD_ASSERT_MSG(d, atomic_load(&load->refused) == 0, "%lu connections refused", atomic_load(&load->refused));
        /* What the killed program had accepted is lost with it. */
        TD_ASSERT_MSG(d, atomic_load(&load->failed) <= 2, "%lu requests failed (first: %s)", atomic_load(&load->failed),
                      strerror(-atomic_load(&load->first_error)));
        free(load);
        expect_all_slots(d, port, 2, 1000, after);

        load = http_load_start(port, 100000, TD_SEC(60));
        http_load_wait_ok(load, 20);
        hup_expect_applied(d, 2);
        TD_OK(d, td_wait_log(d, "of generation 1 exited", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "of generation 1 exited", TD_TIMEOUT, NULL));
        http_load_wait_ok(load, atomic_load(&load->ok) + 20);
        http_load_stop(load);
        TD_ASSERT_MSG(d, atomic_load(&load->refused) == 0 && atomic_load(&load->failed) <= p->stop_may_drop,
                      "reload: %lu failed, %lu refused (first: %s)", atomic_load(&load->failed),
                      atomic_load(&load->refused), strerror(-atomic_load(&load->first_error)));
        TD_ASSERT(d, atomic_load(&load->max_generation) == 2);
        free(load);
        stop_and_expect(d, SIGTERM, 0);
        TD_OK(d, td_wait_pid_gone((pid_t) after[0], TD_TIMEOUT));
        TD_OK(d, td_wait_pid_gone((pid_t) after[1], TD_TIMEOUT));
}
