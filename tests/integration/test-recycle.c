/* SPDX-License-Identifier: MIT */
/* Recycling with the real daemon (preforkd-testing, whose "testing"
 * handler grows on request): a worker above max_memory finishes its
 * connection and is replaced, with PREFORKD_KILL_REASON=memory, and an idle
 * one too; max_requests_jitter gives each worker its own limit, which it
 * keeps. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "journal-itest.h"
#include "proc-util.h"

/* What a fresh worker uses, in MiB, and the limit for it: room for its
 * own start (sanitizer builds need far more) plus 24 MiB, which GROW 48
 * crosses whatever the baseline. */
static unsigned long limit_above(TestDaemon *d, pid_t worker) {
        uint64_t base;

        TD_OK(d, proc_private_memory(worker, &base));
        return (unsigned long) (base >> 20) + 24;
}

/* Reads records until one whose MESSAGE starts with prefix: the queue of
 * the journal stand-in is short, and a record that finds it full goes to
 * stderr instead. */
static void wait_message(TestDaemon *d, int j, const char *prefix) {
        for (unsigned i = 0; i < 1000; i++) {
                JrRecord r = { .n = 0 };
                const JrField *f;
                bool found;

                TD_OK(d, jr_recv(j, TD_TIMEOUT, &r));
                f = jr_get(&r, "MESSAGE");
                found = f && strncmp(f->value, prefix, strlen(prefix)) == 0;
                jr_record_done(&r);
                if (found)
                        return;
        }
        ck_abort_msg("no record '%s...'", prefix);
}

/* GROW 48 on a connection of its own; returns it, the answer read. */
static int grow(TestDaemon *d, uint16_t port, pid_t *ret_owner) {
        char got[16] = "";
        int c = TD_OK(d, td_connect_tcp("127.0.0.1", port));

        TD_OK(d, td_write_all(c, "GROW 48\n", 8, TD_TIMEOUT));
        TD_OK(d, td_read_exact(c, got, 8, TD_TIMEOUT));
        TD_ASSERT_MSG(d, memcmp(got, "GREW 48\n", 8) == 0, "answer '%s'", got);
        TD_OK(d, td_conn_owner(d, c, ret_owner));
        return c;
}

/* The journal records of a max_memory recycle of worker pid: the decision
 * (PREFORKD_KILL_REASON=memory), then its exit with status 0, named a
 * recycle. */
static void expect_memory_recycle(TestDaemon *d, int j, pid_t pid, bool busy) {
        JrRecord r = { .n = 0 };
        const JrField *f;
        char pid_s[16];

        snprintf(pid_s, sizeof pid_s, "%d", (int) pid);
        wait_record(d, j, "PREFORKD_KILL_REASON", "memory", NULL, &r);
        expect_fields(d, &r, (const char *const[]) { "PREFORKD_WORKER_PID", "PREFORKD_SERVICE", NULL },
                      (const char *const[]) { pid_s, "t" });
        f = jr_get(&r, "MESSAGE");
        TD_ASSERT_MSG(d, f && strstr(f->value, "of private memory, above max_memory (") &&
                                 strstr(f->value, "recycling it after its connection"),
                      "MESSAGE=%s", f ? f->value : "-");
        jr_record_done(&r);
        if (busy)
                /* Flagged, not ended: still there to finish. */
                TD_ASSERT(d, td_pid_alive(pid));
}

static void expect_memory_exit(TestDaemon *d, int j, pid_t pid) {
        JrRecord r = { .n = 0 };
        const JrField *f;
        char pid_s[16];

        snprintf(pid_s, sizeof pid_s, "%d", (int) pid);
        wait_record(d, j, "PREFORKD_WORKER_PID", pid_s, "PREFORKD_EXIT_STATUS", &r);
        expect_fields(d, &r, (const char *const[]) { "PREFORKD_EXIT_STATUS", "PREFORKD_KILL_REASON", NULL },
                      (const char *const[]) { "0", "memory" });
        f = jr_get(&r, "MESSAGE");
        TD_ASSERT_MSG(d, f && strstr(f->value, "recycled for memory, replacing it"), "MESSAGE=%s", f ? f->value : "-");
        jr_record_done(&r);
}

START_TEST(test_max_memory) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL, *w2 = NULL, *w3 = NULL;
        _cleanup_free_ char *conf = NULL;
        _cleanup_close_ int j = -EBADF, a = -EBADF, b = -EBADF;
        uint16_t port;
        pid_t owner;

        j = start_journal(&d,
                          "services = ( { name = \"t\"; listen = [ \"127.0.0.1:0\" ]; workers = 1;\n"
                          "  handler = \"testing\"; } );\n",
                          &port);
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, &w));
        /* The limit follows from what this build's worker needs. */
        TD_ASSERT(d, asprintf(&conf,
                              "services = ( { name = \"t\"; listen = [ \"127.0.0.1:0\" ]; workers = 1;\n"
                              "  handler = \"testing\"; max_memory = \"%luM\"; } );\n",
                              limit_above(d, w[0])) >= 0);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_kill(d, SIGHUP));
        wait_message(d, j, "Reloaded: generation 2,");
        TD_OK(d, td_wait_workers_without(d, 1, w, 1, TD_TIMEOUT, &w2));

        /* Above the limit with a connection open: it is finished. */
        a = grow(d, port, &owner);
        TD_ASSERT(d, owner == w2[0]);
        expect_memory_recycle(d, j, owner, true);
        TD_OK(d, td_echo_exchange(a, "still here", 10, TD_TIMEOUT));
        TD_ASSERT(d, shutdown(a, SHUT_WR) == 0);
        TD_OK(d, td_wait_eof(a, TD_TIMEOUT));
        expect_memory_exit(d, j, owner);
        TD_OK(d, td_wait_workers_without(d, 1, &owner, 1, TD_TIMEOUT, &w3));

        /* Above the limit and idle: told to leave all the same. */
        b = grow(d, port, &owner);
        TD_ASSERT(d, shutdown(b, SHUT_WR) == 0);
        TD_OK(d, td_wait_eof(b, TD_TIMEOUT));
        expect_memory_recycle(d, j, owner, false);
        expect_memory_exit(d, j, owner);
        TD_OK(d, td_wait_workers_without(d, 1, &owner, 1, TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Each worker announces its own max_requests, from max_requests to
 * max_requests + jitter, and leaves after exactly that many connections. */
START_TEST(test_jitter) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        TdLine *started = NULL, *exits = NULL;
        size_t n_started = 0, n_exits = 0;
        uint16_t port;

        start_echo(&d, 1, "max_requests = 2; max_requests_jitter = 3;", "log_level = \"debug\";", &port);
        for (unsigned i = 0; i < 30; i++)
                TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 10, i, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);

        TD_OK(d, td_log_lines(d, "]: started worker ", &started, &n_started));
        TD_OK(d, td_log_lines(d, "; replacing it", &exits, &n_exits));
        TD_ASSERT_MSG(d, n_exits >= 6 && n_started == n_exits + 1, "%zu workers started, %zu recycled", n_started,
                      n_exits);
        for (size_t i = 0; i < n_exits; i++) {
                unsigned long limit = 0, served = 0;
                int pid = 0, pid2 = 0;
                const char *p = strstr(started[i].text, "]: started worker "), *q = strstr(exits[i].text, "]: worker ");

                TD_ASSERT_MSG(d, p && sscanf(p, "]: started worker %d (generation 1, max_requests %lu)", &pid, &limit) == 2,
                              "'%s'", started[i].text);
                TD_ASSERT_MSG(d, q && sscanf(q, "]: worker %d exited with status 0 after %*fs, %lu connections", &pid2,
                                             &served) == 2,
                              "'%s'", exits[i].text);
                TD_ASSERT_MSG(d, pid == pid2 && limit >= 2 && limit <= 5 && served == limit,
                              "worker %d with max_requests %lu: worker %d left after %lu connections", pid, limit, pid2,
                              served);
        }
        td_lines_free(started, n_started);
        td_lines_free(exits, n_exits);
}
END_TEST

int main(void) {
        Suite *s = suite_create("recycle");

        TD_ADD_TEST(s, test_max_memory);
        TD_ADD_TEST(s, test_jitter);
        return td_run_suite(s);
}
