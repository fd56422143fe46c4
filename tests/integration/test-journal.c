/* SPDX-License-Identifier: MIT */
/* The daemon's journal records outside the end-to-end run: preforkd logs
 * with PREFORKD_LOG_TARGET=journal to a journald stand-in the test binds
 * (PREFORKD_JOURNAL_SOCKET), and a worker killed with SIGKILL is reported
 * with the fields DESIGN.md promises, so that
 * `journalctl PREFORKD_SERVICE=echo` finds it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "basic/journal-reader.h"
#include "itest.h"

START_TEST(test_worker_exit_record_in_journal) {
        static const char *const env[] = {
                "PREFORKD_LOG_TARGET=journal",
                "PREFORKD_JOURNAL_SOCKET=@DIR@/journal",
                NULL,
        };
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = echo_config(2, NULL, NULL), *path = NULL, *text = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_close_ int j = -EBADF;
        char pid[16], slot_in_message[16];
        JrRecord r = { .n = 0 };
        const JrField *f;
        pid_t victim;
        unsigned slot;

        ck_assert_ptr_nonnull(conf);
        TD_OK(NULL, td_new(&d));
        path = td_subst(d, "@DIR@/journal");
        TD_ASSERT(d, path);
        j = TD_OK(d, jr_bind(path));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, &(TdStartOptions) { .env = env }));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));

        /* The startup records went to the journal, not to stderr; reading
         * them makes room in the socket's queue (net.unix.max_dgram_qlen
         * datagrams, as few as 10) for what follows. */
        TD_ASSERT_MSG(d, TD_OK(d, jr_drain(j)) > 0, "no startup record reached the journal socket");

        victim = w[0];
        snprintf(pid, sizeof pid, "%d", (int) victim);
        TD_ASSERT(d, kill(victim, SIGKILL) == 0);
        for (uint64_t deadline = td_now() + TD_TIMEOUT;;) {
                uint64_t now = td_now();
                int k;

                TD_ASSERT_MSG(d, now < deadline, "no journal record of worker %s's exit", pid);
                k = jr_recv(j, deadline - now, &r);
                if (k == -EAGAIN)
                        continue;
                TD_OK(d, k);
                f = jr_get(&r, "PREFORKD_WORKER_PID");
                if (f && strcmp(f->value, pid) == 0 && jr_get(&r, "PREFORKD_EXIT_SIGNAL"))
                        break;
                jr_record_done(&r);
        }

        f = jr_get(&r, "MESSAGE");
        TD_ASSERT(d, f);
        TD_ASSERT(d, asprintf(&text, "worker %s killed by signal KILL", pid) >= 0);
        TD_ASSERT_MSG(d, strstr(f->value, text), "MESSAGE=%s", f->value);
        TD_ASSERT_MSG(d, sscanf(f->value, "echo[slot %u]", &slot) == 1, "MESSAGE=%s", f->value);
        snprintf(slot_in_message, sizeof slot_in_message, "%u", slot);

        static const char *const keys[] = {
                "PREFORKD_SERVICE", "PREFORKD_SLOT", "PREFORKD_GENERATION", "PREFORKD_EXIT_SIGNAL",
                "PRIORITY", "SYSLOG_IDENTIFIER",
        };
        const char *const expected[] = { "echo", slot_in_message, "1", "SIGKILL", "4", "preforkd" };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                f = jr_get(&r, keys[i]);
                TD_ASSERT_MSG(d, f && strcmp(f->value, expected[i]) == 0, "%s=%s, expected %s", keys[i],
                              f ? f->value : "(missing)", expected[i]);
        }
        TD_ASSERT_MSG(d, slot < 2, "PREFORKD_SLOT=%u of 2 workers", slot);
        TD_ASSERT(d, jr_get(&r, "PREFORKD_UPTIME_USEC"));
        TD_ASSERT(d, !jr_get(&r, "PREFORKD_EXIT_STATUS"));
        jr_record_done(&r);

        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("journal");

        TD_ADD_TEST(s, test_worker_exit_record_in_journal);
        return td_run_suite(s);
}
