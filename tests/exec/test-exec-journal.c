/* SPDX-License-Identifier: MIT */
/* A program's output in the journal: preforkd logs with
 * PREFORKD_LOG_TARGET=journal to a journald stand-in the test binds
 * (PREFORKD_JOURNAL_SOCKET). Every line of the program's stdout and stderr
 * is a record of its own with the slot's fields and the program's name; a
 * watchdog kill says so in PREFORKD_KILL_REASON; and a program that floods
 * its output while journald takes nothing neither blocks the master nor
 * loses a line. */
#include <signal.h>
#include <sys/un.h>

#include "basic/journal-reader.h"
#include "exec-test.h"

static const char *const journal_env[] = {
        "PREFORKD_LOG_TARGET=journal",
        "PREFORKD_JOURNAL_SOCKET=@DIR@/journal",
        NULL,
};

/* Binds the stand-in, starts the daemon with conf and waits for READY=1. */
static int start_journal(TestDaemon **ret, const char *conf) {
        _cleanup_free_ char *path = NULL;
        TestDaemon *d;
        int j;

        TD_OK(NULL, td_new(ret));
        d = *ret;
        path = td_subst(d, "@DIR@/journal");
        TD_ASSERT(d, path);
        j = TD_OK(d, jr_bind(path));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, &(TdStartOptions) { .env = journal_env }));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        return j;
}

/* Reads records until one has key=value (value NULL: any) and, unless
 * NULL, key2=value2. Bounded in number and in each wait. */
static void wait_record(TestDaemon *d, int j, const char *key, const char *value, const char *key2,
                        const char *value2, JrRecord *ret) {
        for (unsigned i = 0; i < 5000; i++) {
                const JrField *f, *g;
                int k = jr_recv(j, TD_TIMEOUT, ret);

                if (k == -EBADMSG)
                        continue;
                TD_ASSERT_MSG(d, k != -EAGAIN, "no journal record with %s=%s", key, value ? value : "*");
                TD_OK(d, k);
                f = jr_get(ret, key);
                g = key2 ? jr_get(ret, key2) : NULL;
                if (f && (!value || strcmp(f->value, value) == 0) && (!key2 || (g && strcmp(g->value, value2) == 0)))
                        return;
                jr_record_done(ret);
        }
        ck_abort_msg("no journal record with %s=%s", key, value ? value : "*");
}

static const char *field(TestDaemon *d, const JrRecord *r, const char *key) {
        const JrField *f = jr_get(r, key);

        TD_ASSERT_MSG(d, f, "no %s= in the record", key);
        return f->value;
}

START_TEST(test_program_output_fields) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *group = NULL, *conf = NULL, *body = NULL;
        _cleanup_close_ int j = -EBADF;
        JrRecord r = { .n = 0 };
        uint16_t port = 0;
        char pid[32];
        long slot;

        ck_assert_int_ge(asprintf(&group, "command = [ \"%s\" ]; ready = \"notify\"; watchdog_timeout = 1.0;",
                                  notify_server_path()),
                         0);
        conf = exec_config(2, group, NULL);
        j = start_journal(&d, conf);

        /* Nothing goes to stderr: the port is in the master's record. */
        for (unsigned i = 0; i < 100 && port == 0; i++) {
                unsigned p;

                TD_OK(d, jr_recv(j, TD_TIMEOUT, &r));
                if (jr_get(&r, "MESSAGE") && sscanf(jr_get(&r, "MESSAGE")->value, "Listening on 127.0.0.1:%u ", &p) == 1)
                        port = (uint16_t) p;
                jr_record_done(&r);
        }
        TD_ASSERT(d, port > 0);
        wait_record(d, j, "SYSLOG_IDENTIFIER", "notify-server", NULL, NULL, &r);
        TD_ASSERT_MSG(d, strncmp(field(d, &r, "MESSAGE"), "notify-server: 1 socket", 23) == 0, "MESSAGE=%s",
                      field(d, &r, "MESSAGE"));
        TD_ASSERT(d, strcmp(field(d, &r, "PREFORKD_SERVICE"), "app") == 0);
        slot = strtol(field(d, &r, "PREFORKD_SLOT"), NULL, 10);
        TD_ASSERT(d, slot == 0 || slot == 1);
        TD_ASSERT(d, strcmp(field(d, &r, "PREFORKD_GENERATION"), "1") == 0);
        TD_ASSERT(d, strcmp(field(d, &r, "PRIORITY"), "6") == 0);
        /* The program's own pid, as journald's _PID would be under systemd. */
        TD_ASSERT(d, strcmp(field(d, &r, "PREFORKD_WORKER_PID"), field(d, &r, "SYSLOG_PID")) == 0);
        jr_record_done(&r);

        /* A watchdog kill says why in its exit record. */
        TD_OK(d, http_get(port, "/hang", &body));
        snprintf(pid, sizeof pid, "%ld", body_field(body, "pid"));
        wait_record(d, j, "PREFORKD_WORKER_PID", pid, "PREFORKD_EXIT_SIGNAL", "SIGKILL", &r);
        TD_ASSERT(d, strcmp(field(d, &r, "PREFORKD_KILL_REASON"), "watchdog") == 0);
        TD_ASSERT(d, strcmp(field(d, &r, "SYSLOG_IDENTIFIER"), "preforkd") == 0);
        jr_record_done(&r);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Whether the stand-in's queue is full: a datagram sent to it now would
 * wait (EAGAIN). A record that fits is a probe of its own, skipped when
 * read. */
static int journal_full(TestDaemon *d) {
        _cleanup_free_ char *path = td_subst(d, "@DIR@/journal");
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        static const char probe[] = "MESSAGE=probe\n";
        size_t l = strlen(path);

        TD_ASSERT(d, l < sizeof sa.sun_path);
        memcpy(sa.sun_path, path, l);
        if (sendto(fd, probe, sizeof probe - 1, MSG_DONTWAIT, (struct sockaddr *) &sa,
                   (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + 1)) >= 0)
                return 0;
        return errno == EAGAIN ? 1 : -errno;
}

#define FLOOD_LINES 5000

START_TEST(test_flood_blocks_nothing_and_loses_nothing) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = NULL;
        _cleanup_close_ int j = -EBADF;
        unsigned next = 1, bad_priority = 0;
        int full = 0;

        ck_assert_int_ge(asprintf(&conf, "services = ( { name = \"app\"; listen = [ \"127.0.0.1:0\" ]; workers = 1;\n"
                                         "  handler = \"exec\"; exec = { command = [ \"/bin/sh\", \"-c\",\n"
                                         "  \"echo '<3>about to flood' >&2; seq 1 %d; exec sleep 600\" ]; }; } );\n",
                                  FLOOD_LINES),
                         0);
        j = start_journal(&d, conf);

        /* Nothing reads the stand-in: the flood fills it. (Its filling has
         * no event of its own to wait for.) */
        for (unsigned i = 0; i < 3000 && full == 0; i++) {
                full = journal_full(d);
                if (full == 0)
                        td_poll_pause();
        }
        TD_ASSERT_MSG(d, full == 1, "the journal stand-in never filled: %s", full < 0 ? strerror(-full) : "");
        /* The master goes on: its own record, refused by the full
         * journal, reaches stderr. */
        TD_OK(d, td_barrier(d, TD_TIMEOUT));

        /* Now read: every line comes, in order, the first at its own
         * priority. */
        while (next <= FLOOD_LINES) {
                JrRecord r = { .n = 0 };
                const JrField *id, *m, *pr;
                int k = jr_recv(j, TD_TIMEOUT, &r);

                TD_ASSERT_MSG(d, k != -EAGAIN, "line %u of the flood never came", next);
                if (k == -EBADMSG)
                        continue;
                TD_OK(d, k);
                id = jr_get(&r, "SYSLOG_IDENTIFIER");
                m = jr_get(&r, "MESSAGE");
                pr = jr_get(&r, "PRIORITY");
                if (id && m && strcmp(id->value, "sh") == 0) {
                        if (strcmp(m->value, "about to flood") == 0)
                                bad_priority += strcmp(pr->value, "3") != 0;
                        else if (strcmp(id->value, "sh") == 0) {
                                TD_ASSERT_MSG(d, strtoul(m->value, NULL, 10) == next, "line %s where %u was due",
                                              m->value, next);
                                next++;
                        }
                }
                jr_record_done(&r);
        }
        TD_ASSERT(d, bad_priority == 0);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("exec-journal");

        TD_ADD_TEST(s, test_program_output_fields);
        TD_ADD_TEST(s, test_flood_blocks_nothing_and_loses_nothing);
        return td_run_suite(s);
}
