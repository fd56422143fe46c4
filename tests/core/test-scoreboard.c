/* SPDX-License-Identifier: MIT */
/* The scoreboard's reader/writer protocol: a reader running beside a
 * writer never sees a torn entry, gives up (bounded) on an entry held in
 * the middle of a write, and the writer's calls record what they say. The
 * writer is a second process, as in the daemon (a worker), writing the
 * shared mapping the master reads. */
#include <check.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#include "scoreboard.h"
#include "time-util.h"

#define LINE_A_LEN 40U
#define LINE_B_LEN 200U

static void writer_loop(WorkerScore *s) {
        char a[LINE_A_LEN], b[LINE_B_LEN];

        memset(a, 'a', sizeof a);
        memset(b, 'b', sizeof b);
        /* Bounded: the parent kills it long before, but a lost parent
         * must not leave a spinning process behind. */
        for (unsigned long i = 0; i < 200000000UL && getppid() != 1; i++) {
                if (i & 1)
                        score_begin_request(s, a, sizeof a);
                else
                        score_begin_request(s, b, sizeof b);
        }
        _exit(0);
}

/* A torn copy would mix the two lines' bytes, or pair one line's length
 * with the other's bytes. */
static bool snapshot_is_whole(const WorkerSnapshot *w) {
        size_t n = strlen(w->request);
        char c = w->request[0];

        if (n == 0)
                return true; /* before the writer's first request */
        if (!((c == 'a' && n == LINE_A_LEN) || (c == 'b' && n == LINE_B_LEN)))
                return false;
        for (size_t i = 0; i < n; i++)
                if (w->request[i] != c)
                        return false;
        return true;
}

START_TEST(test_reader_never_sees_a_torn_entry) {
        _cleanup_(scoreboard_freep) Scoreboard *b = NULL;
        WorkerScore *s;
        unsigned long whole = 0, torn = 0, changed = 0;
        char last = 0;
        pid_t pid;

        ck_assert_int_eq(scoreboard_new(4, &b), 0);
        ck_assert_int_eq(scoreboard_acquire(b, 1, 0, &s), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                writer_loop(s);

        /* Bounded in count and time; on a busy machine the writer may get
         * a core only now and then, so the reader goes on until it has
         * seen the entry change often, not for a fixed number of reads. */
        uint64_t end = now_usec() + 20 * USEC_PER_SEC;
        for (unsigned long i = 0; i < 100000000UL && (i < 300000 || changed < 1000) && now_usec() < end; i++) {
                WorkerSnapshot w;

                if (score_snapshot(s, &w) < 0)
                        continue;
                if (snapshot_is_whole(&w))
                        whole++;
                else
                        torn++;
                if (w.request[0] != last) {
                        changed++;
                        last = w.request[0];
                }
        }
        kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        ck_assert_uint_eq(torn, 0);
        ck_assert_uint_gt(whole, 0);
        /* The reader really ran beside a writer. */
        ck_assert_uint_gt(changed, 2);
}
END_TEST

START_TEST(test_reader_gives_up_on_an_entry_held_mid_write) {
        _cleanup_(scoreboard_freep) Scoreboard *b = NULL;
        WorkerScore *s;
        WorkerSnapshot w;

        ck_assert_int_eq(scoreboard_new(1, &b), 0);
        ck_assert_int_eq(scoreboard_acquire(b, 1, 0, &s), 0);
        /* A writer stopped between its two stores of seq (killed, or
         * preempted for good) leaves it odd. */
        atomic_store(&s->seq, 7);
        ck_assert_int_eq(score_snapshot(s, &w), -EBUSY);
        atomic_store(&s->seq, 8);
        ck_assert_int_eq(score_snapshot(s, &w), 0);
}
END_TEST

START_TEST(test_writer_calls_are_recorded) {
        _cleanup_(scoreboard_freep) Scoreboard *b = NULL;
        struct sockaddr_in6 peer = { .sin6_family = AF_INET6, .sin6_port = htons(4242), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        char text[64], long_line[SCORE_REQUEST_MAX + 50];
        WorkerScore *s;
        WorkerSnapshot w;

        ck_assert_int_eq(scoreboard_new(2, &b), 0);
        ck_assert_int_eq(scoreboard_acquire(b, 3, 1, &s), 0);
        ck_assert_int_eq(score_snapshot(s, &w), 0);
        ck_assert_int_eq(w.state, WORKER_STARTING);
        ck_assert_uint_eq(w.generation, 3);
        ck_assert_uint_eq(w.slot, 1);
        ck_assert_uint_eq(w.busy_since_usec, 0);
        score_peer_format(&w.peer, text, sizeof text);
        ck_assert_str_eq(text, "-");

        score_set_state(s, WORKER_BUSY);
        score_begin_connection(s, (const struct sockaddr *) &peer, sizeof peer);
        score_begin_request(s, "GET /x HTTP/1.1", 15);
        score_add_bytes(s, 100, 7);
        score_end_request(s, 404, 20);
        ck_assert_int_eq(score_snapshot(s, &w), 0);
        ck_assert_int_eq(w.state, WORKER_BUSY);
        ck_assert_str_eq(w.request, "GET /x HTTP/1.1");
        ck_assert_uint_gt(w.busy_since_usec, 0);
        ck_assert_uint_eq(w.requests, 1);
        ck_assert_uint_eq(w.bytes_in, 100);
        ck_assert_uint_eq(w.bytes_out, 27);
        ck_assert_int_eq(w.last_status, 404);
        score_peer_format(&w.peer, text, sizeof text);
        ck_assert_str_eq(text, "[::1]:4242");

        /* The end of the work keeps the record of what it was. */
        score_end_work(s);
        ck_assert_int_eq(score_snapshot(s, &w), 0);
        ck_assert_uint_eq(w.busy_since_usec, 0);
        ck_assert_str_eq(w.request, "GET /x HTTP/1.1");

        /* A request line longer than the entry is cut, not overrun. */
        memset(long_line, 'x', sizeof long_line);
        score_begin_request(s, long_line, sizeof long_line);
        ck_assert_int_eq(score_snapshot(s, &w), 0);
        ck_assert_uint_eq(strlen(w.request), SCORE_REQUEST_MAX);

        /* A reused entry starts clean. */
        scoreboard_release(b, s);
        ck_assert_int_eq(scoreboard_acquire(b, 4, 0, &s), 0);
        ck_assert_int_eq(score_snapshot(s, &w), 0);
        ck_assert_uint_eq(w.requests, 0);
        ck_assert_str_eq(w.request, "");
        ck_assert_int_eq(w.last_status, 0);

        /* NULL (no scoreboard) is a no-op for every writer call. */
        score_set_state(NULL, WORKER_IDLE);
        score_begin_connection(NULL, NULL, 0);
        score_begin_request(NULL, "x", 1);
        score_begin_work(NULL);
        score_end_request(NULL, 200, 1);
        score_end_work(NULL);
        score_add_bytes(NULL, 1, 1);
}
END_TEST

START_TEST(test_state_names) {
        ck_assert_str_eq(worker_state_to_string(WORKER_STARTING), "starting");
        ck_assert_str_eq(worker_state_to_string(WORKER_IDLE), "idle");
        ck_assert_str_eq(worker_state_to_string(WORKER_READING), "reading");
        ck_assert_str_eq(worker_state_to_string(WORKER_WRITING), "writing");
        ck_assert_str_eq(worker_state_to_string(WORKER_KEEPALIVE), "keepalive");
        ck_assert_str_eq(worker_state_to_string(WORKER_EXITING), "exiting");
        ck_assert_ptr_null(worker_state_to_string(_WORKER_STATE_MAX));
        ck_assert(worker_state_is_busy(WORKER_READING));
        ck_assert(worker_state_is_busy(WORKER_BUSY));
        ck_assert(!worker_state_is_busy(WORKER_KEEPALIVE));
        ck_assert(!worker_state_is_busy(WORKER_IDLE));
}
END_TEST

int main(void) {
        Suite *s = suite_create("scoreboard");
        TCase *torn = tcase_create("torn");
        TCase *held = tcase_create("held");
        TCase *calls = tcase_create("calls");

        tcase_add_test(torn, test_reader_never_sees_a_torn_entry);
        tcase_add_test(held, test_reader_gives_up_on_an_entry_held_mid_write);
        tcase_add_test(calls, test_writer_calls_are_recorded);
        tcase_add_test(calls, test_state_names);
        suite_add_tcase(s, torn);
        suite_add_tcase(s, held);
        suite_add_tcase(s, calls);
        return td_run_suite(s);
}
