/* SPDX-License-Identifier: MIT */
/* The daemon's journal records outside the end-to-end run: preforkd logs
 * with PREFORKD_LOG_TARGET=journal to a journald stand-in the test binds
 * (PREFORKD_JOURNAL_SOCKET), and its records carry the fields DESIGN.md and
 * the README promise, so that `journalctl PREFORKD_SERVICE=echo`,
 * `PREFORKD_EXIT_SIGNAL=SIGKILL` or `PREFORKD_HTTP_STATUS=404` find them: a
 * worker killed by a signal, a worker that exited with a status, and an
 * HTTP request. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "journal-itest.h"

START_TEST(test_worker_exit_record_in_journal) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = echo_config(2, NULL, NULL), *text = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_close_ int j = -EBADF;
        char pid[16], slot_in_message[16];
        JrRecord r = { .n = 0 };
        const JrField *f;
        unsigned slot;

        uint16_t port;

        ck_assert_ptr_nonnull(conf);
        j = start_journal(&d, conf, &port);
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));

        snprintf(pid, sizeof pid, "%d", (int) w[0]);
        TD_ASSERT(d, kill(w[0], SIGKILL) == 0);
        wait_record(d, j, "PREFORKD_WORKER_PID", pid, "PREFORKD_EXIT_SIGNAL", &r);

        f = jr_get(&r, "MESSAGE");
        TD_ASSERT(d, f);
        TD_ASSERT(d, asprintf(&text, "worker %s killed by signal KILL", pid) >= 0);
        TD_ASSERT_MSG(d, strstr(f->value, text), "MESSAGE=%s", f->value);
        TD_ASSERT_MSG(d, sscanf(f->value, "echo[slot %u]", &slot) == 1, "MESSAGE=%s", f->value);
        snprintf(slot_in_message, sizeof slot_in_message, "%u", slot);
        expect_fields(d, &r,
                      (const char *const[]) { "PREFORKD_SERVICE", "PREFORKD_SLOT", "PREFORKD_GENERATION",
                                              "PREFORKD_EXIT_SIGNAL", "PRIORITY", "SYSLOG_IDENTIFIER", NULL },
                      (const char *const[]) { "echo", slot_in_message, "1", "SIGKILL", "4", "preforkd" });
        TD_ASSERT_MSG(d, slot < 2, "PREFORKD_SLOT=%u of 2 workers", slot);
        TD_ASSERT(d, jr_get(&r, "PREFORKD_UPTIME_USEC"));
        TD_ASSERT(d, !jr_get(&r, "PREFORKD_EXIT_STATUS"));
        jr_record_done(&r);

        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* A worker recycled by max_requests exits with status 0: PREFORKD_EXIT_STATUS=0,
 * no signal, at info priority (a planned exit is no warning). */
START_TEST(test_worker_exit_status_in_journal) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = echo_config(1, "max_requests = 1;", NULL);
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_close_ int j = -EBADF;
        JrRecord r = { .n = 0 };
        uint16_t port;
        char pid[16];

        ck_assert_ptr_nonnull(conf);
        j = start_journal(&d, conf, &port);
        TD_OK(d, td_wait_workers(d, 1, TD_TIMEOUT, &w));
        snprintf(pid, sizeof pid, "%d", (int) w[0]);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
        wait_record(d, j, "PREFORKD_WORKER_PID", pid, "PREFORKD_EXIT_STATUS", &r);
        expect_fields(d, &r,
                      (const char *const[]) { "PREFORKD_SERVICE", "PREFORKD_SLOT", "PREFORKD_GENERATION",
                                              "PREFORKD_EXIT_STATUS", "PRIORITY", NULL },
                      (const char *const[]) { "echo", "0", "1", "0", "6" });
        TD_ASSERT(d, !jr_get(&r, "PREFORKD_EXIT_SIGNAL"));
        TD_ASSERT(d, jr_get(&r, "PREFORKD_UPTIME_USEC"));
        TD_ASSERT_MSG(d, strstr(jr_get(&r, "MESSAGE")->value, "exited with status 0"), "MESSAGE=%s",
                      jr_get(&r, "MESSAGE")->value);
        jr_record_done(&r);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* An HTTP request's access record: the combined log line as MESSAGE and
 * each part as a field (journalctl PREFORKD_HTTP_STATUS=404 ...). */
START_TEST(test_http_access_record_in_journal) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int j = -EBADF, c = -EBADF;
        _cleanup_free_ char *resp = NULL;
        JrRecord r = { .n = 0 };
        const JrField *f;
        uint16_t port;
        static const char req[] = "GET /missing?x=1 HTTP/1.0\r\nUser-Agent: tester/1\r\nReferer: http://r/\r\n\r\n";

        /* The document root is the temp dir, where /missing is missing. */
        j = start_journal(&d, "services = ( { name = \"web\"; listen = [ \"127.0.0.1:0\" ]; workers = 1;\n"
                              "  handler = \"http\"; http = { root = \".\"; access_log = true; }; } );\n", &port);
        c = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_write_all(c, req, strlen(req), TD_TIMEOUT));
        TD_OK(d, td_read_all(c, 65536, TD_TIMEOUT, &resp, NULL));
        TD_ASSERT_MSG(d, strncmp(resp, "HTTP/1.1 404 ", 13) == 0, "%s", resp);

        wait_record(d, j, "PREFORKD_HTTP_STATUS", "404", NULL, &r);
        expect_fields(d, &r,
                      (const char *const[]) { "PREFORKD_SERVICE", "PREFORKD_HTTP_METHOD", "PREFORKD_HTTP_TARGET",
                                              "PREFORKD_HTTP_VERSION", "PREFORKD_HTTP_REFERER",
                                              "PREFORKD_HTTP_USER_AGENT", "PRIORITY", NULL },
                      (const char *const[]) { "web", "GET", "/missing?x=1", "HTTP/1.0", "http://r/", "tester/1", "6" });
        f = jr_get(&r, "PREFORKD_REMOTE");
        TD_ASSERT_MSG(d, f && strncmp(f->value, "127.0.0.1:", 10) == 0, "PREFORKD_REMOTE=%s", f ? f->value : "-");
        TD_ASSERT(d, jr_get(&r, "PREFORKD_HTTP_BYTES") && jr_get(&r, "PREFORKD_HTTP_DURATION_US"));
        f = jr_get(&r, "MESSAGE");
        TD_ASSERT_MSG(d, f && strstr(f->value, "\"GET /missing?x=1 HTTP/1.0\" 404 ") &&
                                 strstr(f->value, "\"http://r/\" \"tester/1\""),
                      "MESSAGE=%s", f ? f->value : "-");
        jr_record_done(&r);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("journal");

        TD_ADD_TEST(s, test_worker_exit_record_in_journal);
        TD_ADD_TEST(s, test_worker_exit_status_in_journal);
        TD_ADD_TEST(s, test_http_access_record_in_journal);
        return td_run_suite(s);
}
