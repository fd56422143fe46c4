/* SPDX-License-Identifier: MIT */
/* Unit tests that the mutation check (tests/mutation) found missing: each
 * fails with the mutation named above it and passes without it. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "config.h"
#include "notify.h"

/* ---- the watchdog rate (mutation notify-watchdog-rate) ---- */

#define WATCHDOG_USEC (100 * USEC_PER_MSEC)
/* Reference ticks: each one ends an interval of half the watchdog timeout. */
#define TICKS 8
#define MAX_RUNS 10000

typedef struct Reference {
        int notify_fd;             /* the test's end of NOTIFY_SOCKET */
        unsigned ticks;
        unsigned pings;            /* WATCHDOG=1 read since the last tick */
        unsigned pings_per_tick[TICKS];
} Reference;

static unsigned read_pings(int fd) {
        unsigned n = 0;
        char buf[256];

        for (;;) {
                ssize_t l = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);

                if (l < 0 && errno == EAGAIN)
                        return n;
                ck_assert_int_ge(l, 0);
                buf[l] = 0;
                ck_assert_str_eq(buf, "WATCHDOG=1");
                n++;
        }
}

static int on_reference_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Reference *ref = userdata;

        ref->pings += read_pings(ref->notify_fd);
        if (ref->ticks > 0)
                ref->pings_per_tick[ref->ticks - 1] = ref->pings;
        ref->pings = 0;
        ref->ticks++;
        return sd_event_source_set_time_relative(s, WATCHDOG_USEC / 2);
}

/* systemd kills a service whose pings are WATCHDOG_USEC apart or more, and
 * sd_watchdog_enabled(3) asks for one every half of it. The notifier's
 * pings are measured against a second timer on the same loop that fires
 * every half interval, so that a loaded machine slows both alike: the
 * reference timer has the lowest priority, so when both are due the ping
 * goes first, and then every half interval holds at least one ping
 * whatever the load (the notifier pings every quarter). A notifier that
 * pinged once per interval would leave every other half interval empty. */
START_TEST(test_watchdog_pings_twice_per_interval) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(notifier_freep) Notifier *n = NULL;
        _cleanup_(sd_event_source_unrefp) sd_event_source *tick = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char name[64], pid[32], usec[32];
        Reference ref = { .notify_fd = -EBADF };
        socklen_t sa_len;

        /* An abstract socket: "@name" in NOTIFY_SOCKET. */
        snprintf(name, sizeof name, "@preforkd-test-core-gaps-%d", (int) getpid());
        memcpy(sa.sun_path + 1, name + 1, strlen(name) - 1);
        sa_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(name));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sa_len), 0);
        ref.notify_fd = fd;
        snprintf(pid, sizeof pid, "%d", (int) getpid());
        snprintf(usec, sizeof usec, "%llu", (unsigned long long) WATCHDOG_USEC);
        ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
        ck_assert_int_eq(setenv("WATCHDOG_PID", pid, 1), 0);
        ck_assert_int_eq(setenv("WATCHDOG_USEC", usec, 1), 0);

        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_eq(notifier_new(e, &n), 0);
        ck_assert_int_eq(sd_event_add_time_relative(e, &tick, CLOCK_MONOTONIC, WATCHDOG_USEC / 2, 1,
                                                    on_reference_tick, &ref),
                         0);
        ck_assert_int_eq(sd_event_source_set_priority(tick, SD_EVENT_PRIORITY_IDLE), 0);
        ck_assert_int_eq(sd_event_source_set_enabled(tick, SD_EVENT_ON), 0);

        /* Bounded by a count of loop iterations: each one dispatches a
         * timer, and the reference timer keeps coming. */
        for (unsigned i = 0; i < MAX_RUNS && ref.ticks <= TICKS; i++)
                ck_assert_int_ge(sd_event_run(e, UINT64_MAX), 0);
        ck_assert_uint_gt(ref.ticks, TICKS);
        for (unsigned t = 0; t < TICKS; t++)
                ck_assert_msg(ref.pings_per_tick[t] >= 1,
                              "no WATCHDOG=1 in half interval %u of %u (pings per half interval: %u %u %u %u ...)",
                              t + 1, TICKS, ref.pings_per_tick[0], ref.pings_per_tick[1], ref.pings_per_tick[2],
                              ref.pings_per_tick[3]);

        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_PID");
        unsetenv("WATCHDOG_USEC");
}
END_TEST

/* ---- durations above their range (mutation config-duration-range) ---- */

static char dir[256];

static void config_setup(void) {
        const char *tmp = getenv("TMPDIR");

        snprintf(dir, sizeof dir, "%s/preforkd-core-gaps-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void config_teardown(void) {
        char path[300];

        snprintf(path, sizeof path, "%s/test.conf", dir);
        (void) unlink(path);
        (void) rmdir(dir);
}

/* The config text fails to load with an error on line 1 at setting that
 * contains what. */
static void assert_refused(const char *text, const char *setting, const char *what) {
        _cleanup_(config_freep) Config *c = NULL;
        char path[300], **errors = NULL;
        FILE *f;

        snprintf(path, sizeof path, "%s/test.conf", dir);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_ge(fputs(text, f), 0);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(config_load(path, &c, &errors), -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_msg(td_errors_have(errors, path, 1, setting, what), "no error '%s:1: %s: ...%s'", path, setting,
                      what);
        strv_free(errors);
}

#define SVC(extra) "services = ( { name = \"e\"; listen = [\"127.0.0.1:0\"]; workers = 1; handler = \"echo\";" extra " } );\n"

/* The lower bounds have tests in test-config; these are the upper ones. */
START_TEST(test_durations_above_their_range) {
        assert_refused("shutdown_timeout = 86401.0; " SVC(""), "shutdown_timeout", "must be between 0 and 86400 seconds");
        assert_refused(SVC(" idle_timeout = 100000;"), "services.[0].idle_timeout", "must be between");
        assert_refused(SVC(" respawn = { backoff_max = 90000.0; };"), "services.[0].respawn.backoff_max",
                       "must be between");
        assert_refused(SVC(" respawn = { min_uptime = 3601.0; };"), "services.[0].respawn.min_uptime",
                       "must be between");
}
END_TEST

int main(void) {
        Suite *s = suite_create("core-gaps");
        TCase *tc;

        TD_ADD_TEST(s, test_watchdog_pings_twice_per_interval);
        tc = tcase_create("test_durations_above_their_range");
        tcase_add_checked_fixture(tc, config_setup, config_teardown);
        tcase_add_test(tc, test_durations_above_their_range);
        suite_add_tcase(s, tc);
        return td_run_suite(s);
}
