/* SPDX-License-Identifier: MIT */
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

#include "notify.h"

/* Bounds for the loops that wait: counts, never durations. */
#define MAX_ROUNDS 2000
#define ROUND_USEC (20 * USEC_PER_MSEC)
#define MAX_FILL 4096

/* The test's end of NOTIFY_SOCKET, with every datagram it has read. */
typedef struct Receiver {
        int fd;
        char dir[256];           /* "" for an abstract name */
        char path[300];
        struct sockaddr_un address;
        socklen_t address_len;
        char **got;
        size_t n_got;
} Receiver;

static void receiver_bind(Receiver *r) {
        ck_assert_int_ge(r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), 0);
        ck_assert_int_eq(bind(r->fd, (const struct sockaddr *) &r->address, r->address_len), 0);
}

/* Binds a socket at DIR/notify in a fresh temporary directory. */
static void receiver_new_path(Receiver *r) {
        const char *tmp = getenv("TMPDIR");

        *r = (Receiver) { .fd = -EBADF, .address = { .sun_family = AF_UNIX } };
        snprintf(r->dir, sizeof r->dir, "%s/test-notifier-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(r->dir));
        snprintf(r->path, sizeof r->path, "%s/notify", r->dir);
        ck_assert_uint_lt(strlen(r->path), sizeof r->address.sun_path);
        strcpy(r->address.sun_path, r->path);
        r->address_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(r->path) + 1);
        receiver_bind(r);
        ck_assert_int_eq(setenv("NOTIFY_SOCKET", r->path, 1), 0);
}

/* Binds a socket with an abstract name; NOTIFY_SOCKET spells it "@name". */
static void receiver_new_abstract(Receiver *r) {
        size_t l;

        *r = (Receiver) { .fd = -EBADF, .address = { .sun_family = AF_UNIX } };
        snprintf(r->path, sizeof r->path, "@preforkd-test-notifier-%d", (int) getpid());
        l = strlen(r->path);
        memcpy(r->address.sun_path + 1, r->path + 1, l - 1);
        r->address_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l);
        receiver_bind(r);
        ck_assert_int_eq(setenv("NOTIFY_SOCKET", r->path, 1), 0);
}

/* Forgets the datagrams read so far. */
static void receiver_forget(Receiver *r) {
        for (size_t i = 0; i < r->n_got; i++)
                free(r->got[i]);
        free(r->got);
        r->got = NULL;
        r->n_got = 0;
}

static void receiver_done(Receiver *r) {
        r->fd = safe_close(r->fd);
        if (r->dir[0]) {
                (void) unlink(r->path);
                (void) rmdir(r->dir);
        }
        receiver_forget(r);
}

/* Reads every datagram that is there now, without waiting. */
static void receiver_drain(Receiver *r) {
        char buf[4096];

        for (;;) {
                ssize_t l = recv(r->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);

                if (l < 0 && errno == EAGAIN)
                        return;
                ck_assert_int_ge(l, 0);
                ck_assert_int_lt(l, (ssize_t) sizeof buf);
                ck_assert_ptr_nonnull(r->got = realloc(r->got, (r->n_got + 1) * sizeof r->got[0]));
                ck_assert_ptr_nonnull(r->got[r->n_got++] = strndup(buf, (size_t) l));
        }
}

/* Reads what is there now, which must be exactly one datagram equal to s. */
static void receiver_expect_one(Receiver *r, const char *s) {
        receiver_forget(r);
        receiver_drain(r);
        ck_assert_uint_eq(r->n_got, 1);
        ck_assert_str_eq(r->got[0], s);
}

/* Datagrams read so far that equal s. */
static size_t receiver_count(const Receiver *r, const char *s) {
        size_t n = 0;

        for (size_t i = 0; i < r->n_got; i++)
                n += strcmp(r->got[i], s) == 0;
        return n;
}

/* Another sender that fills the receiver's queue until the kernel refuses,
 * so that the Notifier finds the socket full from its first send. */
static int fill_receiver(const Receiver *r, size_t *ret_n) {
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        size_t n = 0;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(connect(fd, (const struct sockaddr *) &r->address, r->address_len), 0);
        while (n < MAX_FILL && send(fd, "X_FILL=1", 8, MSG_DONTWAIT) >= 0)
                n++;
        ck_assert_int_eq(errno, EAGAIN);
        ck_assert_uint_gt(n, 0);
        *ret_n = n;
        return fd;
}

/* The receiver reads again: runs the loop until nothing waits, reading
 * between the rounds. */
static void deliver_all(sd_event *e, Notifier *n, Receiver *r) {
        for (unsigned i = 0; i < MAX_ROUNDS && notifier_queued(n) > 0; i++) {
                receiver_drain(r);
                ck_assert_int_ge(sd_event_run(e, ROUND_USEC), 0);
        }
        receiver_drain(r);
        ck_assert_uint_eq(notifier_queued(n), 0);
}

/* Binds the receiver (an abstract name or a path) and creates the loop and
 * the Notifier; with watchdog_pid ("" for this process), a watchdog of
 * WATCHDOG_USEC=20 ms for that pid first. */
static void start(Receiver *r, bool abstract, const char *watchdog_pid, sd_event **ret_e, Notifier **ret_n) {
        char pid[32];

        if (abstract)
                receiver_new_abstract(r);
        else
                receiver_new_path(r);
        if (watchdog_pid) {
                snprintf(pid, sizeof pid, "%d", (int) getpid());
                ck_assert_int_eq(setenv("WATCHDOG_PID", *watchdog_pid ? watchdog_pid : pid, 1), 0);
                ck_assert_int_eq(setenv("WATCHDOG_USEC", "20000", 1), 0);
        }
        ck_assert_int_eq(sd_event_new(ret_e), 0);
        ck_assert_int_eq(notifier_new(*ret_e, ret_n), 0);
}

static void clean_environment(void) {
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
}

START_TEST(test_unset_is_a_noop) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(notifier_freep) Notifier *n = NULL;

        ck_assert_int_eq(setenv("WATCHDOG_USEC", "20000", 1), 0);
        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_eq(notifier_new(e, &n), 0);
        ck_assert_int_eq(notifier_send(n, "READY=1", "up"), 0);
        ck_assert_int_eq(notifier_status(n, "still up"), 0);
        ck_assert_int_eq(notifier_send(n, "STOPPING=1", NULL), 0);
        ck_assert_uint_eq(notifier_queued(n), 0);
        /* No source was added: nothing to dispatch, not even a watchdog. */
        ck_assert_int_eq(sd_event_run(e, 0), 0);
        ck_assert_ptr_null(notifier_free(TAKE_PTR(n)));
        ck_assert_ptr_null(notifier_free(NULL));
}
END_TEST

START_TEST(test_refuses_other_addresses) {
        static const struct {
                const char *name;
                int error;
        } cases[] = {
                { "relative/notify", -EAFNOSUPPORT },
                { "vsock:2:1234", -EAFNOSUPPORT },
                { "@", -EINVAL },
        };
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        Notifier *sentinel = (Notifier *) &sentinel, *n = sentinel;
        char longname[200];

        ck_assert_int_eq(sd_event_new(&e), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ck_assert_int_eq(setenv("NOTIFY_SOCKET", cases[i].name, 1), 0);
                ck_assert_int_eq(notifier_new(e, &n), cases[i].error);
                ck_assert_ptr_eq(n, sentinel);
        }
        memset(longname, 'a', sizeof longname - 1);
        longname[0] = '/';
        longname[sizeof longname - 1] = '\0';
        ck_assert_int_eq(setenv("NOTIFY_SOCKET", longname, 1), 0);
        ck_assert_int_eq(notifier_new(e, &n), -ENAMETOOLONG);
        ck_assert_ptr_eq(n, sentinel);
}
END_TEST

START_TEST(test_in_order_and_status_in_the_same_datagram) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(notifier_freep) Notifier *n = NULL;
        Receiver r;

        start(&r, false, NULL, &e, &n);

        ck_assert_int_eq(notifier_send(n, "READY=1", "web: 2/2 up"), 0);
        ck_assert_int_eq(notifier_send(n, "RELOADING=1\nMONOTONIC_USEC=123", "Reloading\nconfiguration"), 0);
        ck_assert_int_eq(notifier_send(n, "READY=1", NULL), 0);
        ck_assert_int_eq(notifier_send(n, "STOPPING=1", "Stopping"), 0);
        ck_assert_uint_eq(notifier_queued(n), 0);
        receiver_drain(&r);
        ck_assert_uint_eq(r.n_got, 4);
        ck_assert_str_eq(r.got[0], "READY=1\nSTATUS=web: 2/2 up");
        /* A newline in the text cannot start a field of its own. */
        ck_assert_str_eq(r.got[1], "RELOADING=1\nMONOTONIC_USEC=123\nSTATUS=Reloading configuration");
        ck_assert_str_eq(r.got[2], "READY=1");
        ck_assert_str_eq(r.got[3], "STOPPING=1\nSTATUS=Stopping");

        /* A STATUS-only update goes out now or after its interval, from
         * the loop; either way it is the last datagram. */
        ck_assert_int_eq(notifier_status(n, "web: 1/2 up"), 0);
        ck_assert_int_eq(notifier_status(n, "web: 2/2 up"), 0);
        deliver_all(e, n, &r);
        ck_assert_str_eq(r.got[r.n_got - 1], "STATUS=web: 2/2 up");
        ck_assert_uint_le(r.n_got, 6);
        receiver_done(&r);
}
END_TEST

START_TEST(test_abstract_name) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(notifier_freep) Notifier *n = NULL;
        Receiver r;

        start(&r, true, NULL, &e, &n);
        ck_assert_int_eq(notifier_send(n, "READY=1", "abstract"), 0);
        receiver_expect_one(&r, "READY=1\nSTATUS=abstract");
        receiver_done(&r);
}
END_TEST

/* The receiver does not read: sends return at once (the test would hang
 * in a blocking send otherwise, until check's timeout), the Notifier keeps
 * what the socket refuses, and once the receiver reads again every message
 * arrives in order, with only the latest STATUS=. */
START_TEST(test_full_socket_queues_and_delivers_in_order) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(notifier_freep) Notifier *n = NULL;
        size_t sent, first, total;
        Receiver r;
        char buf[64];

        start(&r, false, NULL, &e, &n);

        /* The kernel queues net.unix.max_dgram_qlen datagrams (10 unless
         * changed); send until the Notifier has to keep one. */
        for (sent = 0; sent < MAX_FILL && notifier_queued(n) == 0; sent++) {
                snprintf(buf, sizeof buf, "READY=1\nX_SEQ=%zu", sent);
                ck_assert_int_eq(notifier_send(n, buf, sent == 0 ? "first" : NULL), 0);
        }
        ck_assert_uint_eq(notifier_queued(n), 1);
        first = sent;
        total = first + 20;
        for (; sent < total; sent++) {
                snprintf(buf, sizeof buf, "%s\nX_SEQ=%zu", sent % 2 ? "RELOADING=1" : "READY=1", sent);
                ck_assert_int_eq(notifier_send(n, buf, NULL), 0);
        }
        ck_assert_uint_eq(notifier_queued(n), 21);
        /* Coalesced into the newest queued message, never sent before it. */
        for (unsigned i = 1; i <= 5; i++) {
                snprintf(buf, sizeof buf, "status %u", i);
                ck_assert_int_eq(notifier_status(n, buf), 0);
        }
        ck_assert_uint_eq(notifier_queued(n), 21);
        /* The loop runs while the receiver still reads nothing. */
        for (unsigned i = 0; i < 3; i++)
                ck_assert_int_ge(sd_event_run(e, ROUND_USEC), 0);
        ck_assert_uint_eq(notifier_queued(n), 21);

        deliver_all(e, n, &r);
        ck_assert_uint_eq(r.n_got, total);
        for (size_t i = 0; i < total; i++) {
                snprintf(buf, sizeof buf, "%s\nX_SEQ=%zu%s", i >= first && i % 2 ? "RELOADING=1" : "READY=1", i,
                         i == 0 ? "\nSTATUS=first" : i == total - 1 ? "\nSTATUS=status 5" : "");
                ck_assert_str_eq(r.got[i], buf);
        }
        receiver_done(&r);
}
END_TEST

/* What happens when even the bounded queue is full of messages that must
 * not be lost: the oldest goes, so that the latest state arrives. */
START_TEST(test_overflow_drops_the_oldest) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(notifier_freep) Notifier *n = NULL;
        size_t sent, in_kernel, extra = 3;
        Receiver r;
        char buf[64];

        start(&r, false, NULL, &e, &n);
        for (sent = 0; sent < MAX_FILL && notifier_queued(n) == 0; sent++) {
                snprintf(buf, sizeof buf, "READY=1\nX_SEQ=%zu", sent);
                ck_assert_int_eq(notifier_send(n, buf, NULL), 0);
        }
        in_kernel = sent - 1;
        for (; notifier_queued(n) < 64 && sent < MAX_FILL; sent++) {
                snprintf(buf, sizeof buf, "READY=1\nX_SEQ=%zu", sent);
                ck_assert_int_eq(notifier_send(n, buf, NULL), 0);
        }
        ck_assert_uint_eq(notifier_queued(n), 64);
        for (size_t i = 0; i < extra; i++, sent++) {
                snprintf(buf, sizeof buf, "READY=1\nX_SEQ=%zu", sent);
                ck_assert_int_eq(notifier_send(n, buf, NULL), 0);
                ck_assert_uint_eq(notifier_queued(n), 64);
        }

        deliver_all(e, n, &r);
        ck_assert_uint_eq(r.n_got, in_kernel + 64);
        for (size_t i = 0; i < r.n_got; i++) {
                snprintf(buf, sizeof buf, "READY=1\nX_SEQ=%zu", i < in_kernel ? i : i + extra);
                ck_assert_str_eq(r.got[i], buf);
        }
        receiver_done(&r);
}
END_TEST

/* A STATUS-only update the socket refused keeps only the latest text, and
 * a message that must not be lost takes it along or replaces it. */
START_TEST(test_status_coalesced_while_refused) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(notifier_freep) Notifier *n = NULL;
        _cleanup_close_ int filler = -EBADF, filler2 = -EBADF;
        size_t filled;
        Receiver r;

        start(&r, false, NULL, &e, &n);
        filler = fill_receiver(&r, &filled);

        ck_assert_int_eq(notifier_status(n, "a"), 0);
        ck_assert_uint_eq(notifier_queued(n), 1);
        ck_assert_int_eq(notifier_status(n, "b"), 0);
        ck_assert_int_eq(notifier_status(n, "c"), 0);
        ck_assert_uint_eq(notifier_queued(n), 1);
        /* Without a STATUS= of its own, the message carries the waiting one. */
        ck_assert_int_eq(notifier_send(n, "STOPPING=1", NULL), 0);
        ck_assert_uint_eq(notifier_queued(n), 1);
        deliver_all(e, n, &r);
        ck_assert_uint_eq(r.n_got, filled + 1);
        ck_assert_uint_eq(receiver_count(&r, "X_FILL=1"), filled);
        ck_assert_str_eq(r.got[filled], "STOPPING=1\nSTATUS=c");

        /* With a STATUS= of its own, the waiting one is outdated. */
        filler2 = fill_receiver(&r, &filled);
        ck_assert_int_eq(notifier_status(n, "old"), 0);
        ck_assert_int_eq(notifier_send(n, "READY=1", "new"), 0);
        ck_assert_int_eq(notifier_status(n, "newer"), 0);
        ck_assert_uint_eq(notifier_queued(n), 1);
        receiver_forget(&r);
        deliver_all(e, n, &r);
        ck_assert_str_eq(r.got[r.n_got - 1], "READY=1\nSTATUS=newer");
        ck_assert_uint_eq(receiver_count(&r, "READY=1\nSTATUS=newer"), 1);
        receiver_done(&r);
}
END_TEST

START_TEST(test_watchdog_pings_only_while_the_loop_runs) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(notifier_freep) Notifier *n = NULL;
        Receiver r;

        start(&r, true, "", &e, &n);

        for (unsigned i = 0; i < MAX_ROUNDS && r.n_got < 3; i++) {
                ck_assert_int_ge(sd_event_run(e, ROUND_USEC), 0);
                receiver_drain(&r);
        }
        ck_assert_uint_ge(r.n_got, 3);
        ck_assert_uint_eq(receiver_count(&r, "WATCHDOG=1"), r.n_got);

        /* A loop that does not run sends nothing, however long it stalls
         * (here twenty intervals of 5 ms), and then one ping, not one per
         * missed interval. The sleep is the stall under test, not a wait
         * for something. */
        receiver_forget(&r);
        td_sleep(TD_MSEC(100));
        receiver_drain(&r);
        ck_assert_uint_eq(r.n_got, 0);
        ck_assert_int_eq(sd_event_run(e, 0), 1);
        receiver_expect_one(&r, "WATCHDOG=1");
        receiver_done(&r);
}
END_TEST

START_TEST(test_watchdog_for_another_pid_is_off) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(notifier_freep) Notifier *n = NULL;
        Receiver r;

        start(&r, true, "1", &e, &n);
        /* Nothing to dispatch: the loop only waits out its timeout. */
        for (unsigned i = 0; i < 5; i++)
                ck_assert_int_eq(sd_event_run(e, ROUND_USEC), 0);
        receiver_drain(&r);
        ck_assert_uint_eq(r.n_got, 0);
        receiver_done(&r);
}
END_TEST

/* While the socket refuses, at most one WATCHDOG=1 waits; it goes out when
 * the receiver reads again. */
START_TEST(test_watchdog_coalesced_while_refused) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(notifier_freep) Notifier *n = NULL;
        _cleanup_close_ int filler = -EBADF;
        size_t filled;
        Receiver r;

        start(&r, false, "", &e, &n);
        filler = fill_receiver(&r, &filled);

        for (unsigned i = 0; i < MAX_ROUNDS && notifier_queued(n) == 0; i++)
                ck_assert_int_ge(sd_event_run(e, ROUND_USEC), 0);
        ck_assert_uint_eq(notifier_queued(n), 1);
        for (unsigned i = 0; i < 20; i++) {
                ck_assert_int_ge(sd_event_run(e, ROUND_USEC), 0);
                ck_assert_uint_eq(notifier_queued(n), 1);
        }

        receiver_drain(&r);
        ck_assert_uint_eq(r.n_got, filled);
        for (unsigned i = 0; i < MAX_ROUNDS && receiver_count(&r, "WATCHDOG=1") == 0; i++) {
                ck_assert_int_ge(sd_event_run(e, ROUND_USEC), 0);
                receiver_drain(&r);
        }
        ck_assert_uint_eq(r.n_got, filled + 1);
        ck_assert_str_eq(r.got[filled], "WATCHDOG=1");
        receiver_done(&r);
}
END_TEST

/* The receiver closes its socket and another binds the same path: messages
 * meanwhile are dropped without an error, then the new one receives. */
START_TEST(test_receiver_gone_and_back) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(notifier_freep) Notifier *n = NULL;
        Receiver r;

        start(&r, false, NULL, &e, &n);
        ck_assert_int_eq(notifier_send(n, "READY=1", NULL), 0);
        receiver_expect_one(&r, "READY=1");

        r.fd = safe_close(r.fd);
        ck_assert_int_eq(notifier_send(n, "RELOADING=1", NULL), 0);
        ck_assert_int_eq(notifier_send(n, "READY=1", NULL), 0);
        ck_assert_int_eq(notifier_status(n, "nobody reads this"), 0);
        ck_assert_uint_eq(notifier_queued(n), 0);

        ck_assert_int_eq(unlink(r.path), 0);
        receiver_bind(&r);
        ck_assert_int_eq(notifier_send(n, "STOPPING=1", "Stopping"), 0);
        ck_assert_uint_eq(notifier_queued(n), 0);
        receiver_expect_one(&r, "STOPPING=1\nSTATUS=Stopping");
        receiver_done(&r);
}
END_TEST

int main(void) {
        Suite *s = suite_create("notifier");
        TCase *tc = tcase_create("notifier");

        /* Each test sets the variables it needs (check forks per test). */
        tcase_add_checked_fixture(tc, clean_environment, NULL);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_unset_is_a_noop);
        tcase_add_test(tc, test_refuses_other_addresses);
        tcase_add_test(tc, test_in_order_and_status_in_the_same_datagram);
        tcase_add_test(tc, test_abstract_name);
        tcase_add_test(tc, test_full_socket_queues_and_delivers_in_order);
        tcase_add_test(tc, test_overflow_drops_the_oldest);
        tcase_add_test(tc, test_status_coalesced_while_refused);
        tcase_add_test(tc, test_watchdog_pings_only_while_the_loop_runs);
        tcase_add_test(tc, test_watchdog_for_another_pid_is_off);
        tcase_add_test(tc, test_watchdog_coalesced_while_refused);
        tcase_add_test(tc, test_receiver_gone_and_back);
        suite_add_tcase(s, tc);
        return td_run_suite(s);
}
