/* SPDX-License-Identifier: MIT */
/* log.c's journal client against a journald stand-in the test binds
 * (PREFORKD_JOURNAL_SOCKET): the exact fields of a record, the binary form
 * for values with newlines, the memfd for records larger than a datagram,
 * the fallback to stderr when journald cannot take a record (queue full,
 * nobody listening, invalid field), log_forget_fds() in a child whose fd
 * numbers were reused, and the max level. Sending is synchronous on a local
 * datagram socket, so a record is queued (or not) when the log call returns:
 * nothing here waits or sleeps. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/journal-reader.h"
#include "log.h"
#include "testlib.h"

/* Made by main() before the suite runs and removed after it, so that a test
 * that fails half-way (its forked child _exit()s) leaves nothing behind. */
static char test_dir[PATH_MAX];

/* Binds DIR/name, points log.c at it in journal mode (as the daemon's
 * environment would) and returns the receiving end. Also undoes what an
 * earlier test did to log.c's state, for CK_FORK=no. */
/* DIR/name into path (PATH_MAX bytes). */
static void test_path(char *path, const char *name) {
        ck_assert_int_lt(snprintf(path, PATH_MAX, "%s/%s", test_dir, name), PATH_MAX);
}

static void reset_log(void) {
        safe_close(log_journal_fd());
        log_forget_fds();
        log_set_max_level(LOG_INFO);
}

/* The daemon's environment for journal records to socket, read by
 * log_setup(). */
static void setup_env(const char *socket) {
        reset_log();
        ck_assert_int_eq(setenv("PREFORKD_JOURNAL_SOCKET", socket, 1), 0);
        ck_assert_int_eq(setenv("PREFORKD_LOG_TARGET", "journal", 1), 0);
        log_setup();
}

static int setup_journal(const char *name) {
        char path[PATH_MAX];
        int fd;

        test_path(path, name);
        fd = jr_bind(path);
        ck_assert_msg(fd >= 0, "binding %s: %s", path, strerror(-fd));
        setup_env(path);
        ck_assert_int_eq(log_get_target(), LOG_TARGET_JOURNAL);
        return fd;
}

/* stderr redirected into DIR/name while a test runs, to see the fallback
 * lines. */
typedef struct Capture {
        int saved;
        int fd;
} Capture;

static Capture capture_stderr(const char *name) {
        char path[PATH_MAX];
        Capture c;

        test_path(path, name);
        c.fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(c.fd, 0);
        c.saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        ck_assert_int_ge(c.saved, 0);
        ck_assert_int_eq(dup2(c.fd, STDERR_FILENO), STDERR_FILENO);
        return c;
}

/* Bytes written to the captured stderr so far. */
static off_t captured_size(const Capture *c) {
        struct stat st;

        ck_assert_int_eq(fstat(c->fd, &st), 0);
        return st.st_size;
}

/* Restores stderr and returns what was written meanwhile (free()). */
static char *capture_end(Capture *c) {
        off_t size = captured_size(c);
        char *buf = malloc((size_t) size + 1);

        ck_assert_ptr_nonnull(buf);
        ck_assert_int_eq(dup2(c->saved, STDERR_FILENO), STDERR_FILENO);
        ck_assert_int_eq(pread(c->fd, buf, (size_t) size, 0), size);
        buf[size] = '\0';
        c->saved = safe_close(c->saved);
        c->fd = safe_close(c->fd);
        return buf;
}

static void dump_record(const JrRecord *r) {
        for (size_t i = 0; i < r->n; i++)
                fprintf(stderr, "  %s%s%s\n", r->fields[i].key, r->fields[i].binary ? " (binary) " : "=",
                        r->fields[i].value);
}

/* Asserts that r has exactly the fields listed ("KEY=value", NULL-terminated;
 * any order), each once, a value with a newline in the binary form and every
 * other one as KEY=value. */
static void assert_fields(const JrRecord *r, const char *const *expected) {
        size_t n = 0;

        for (; expected[n]; n++) {
                const char *e = expected[n], *eq = strchr(e, '=');
                size_t key_len = (size_t) (eq - e), found = 0;

                for (size_t i = 0; i < r->n; i++) {
                        const JrField *f = &r->fields[i];
                        if (strlen(f->key) != key_len || memcmp(f->key, e, key_len) != 0)
                                continue;
                        found++;
                        if (f->size != strlen(eq + 1) || memcmp(f->value, eq + 1, f->size) != 0 ||
                            f->binary != (strchr(eq + 1, '\n') != NULL)) {
                                dump_record(r);
                                ck_abort_msg("field %s is '%s'%s", f->key, f->value, f->binary ? " (binary)" : "");
                        }
                }
                if (found != 1) {
                        dump_record(r);
                        ck_abort_msg("field %.*s occurs %zu times", (int) key_len, e, found);
                }
        }
        if (r->n != n) {
                dump_record(r);
                ck_abort_msg("%zu fields, expected %zu", r->n, n);
        }
}

/* The value of r's field key, which must be there. */
static const char *value_of(const JrRecord *r, const char *key) {
        const JrField *f = jr_get(r, key);

        if (!f) {
                dump_record(r);
                ck_abort_msg("no field %s", key);
        }
        return f->value;
}

static void recv_record(int fd, JrRecord *r) {
        int k = jr_recv(fd, 0, r);
        ck_assert_msg(k == 0, "no record received: %s", strerror(-k));
}

static void assert_nothing_queued(int fd) {
        JrRecord r;
        int k = jr_recv(fd, 0, &r);

        if (k == 0) {
                dump_record(&r);
                jr_record_done(&r);
        }
        ck_assert_msg(k == -EAGAIN, "expected no record, got %s", k == 0 ? "one" : strerror(-k));
}

static char *identifier_field(void) {
        char *s;

        ck_assert_int_ge(asprintf(&s, "SYSLOG_IDENTIFIER=%s", program_invocation_short_name), 0);
        return s;
}

/* Every PREFORKD_* field of LogFields, by its documented name, with the
 * caller's extra fields after them. */
START_TEST(test_fields_of_a_worker_exit) {
        _cleanup_close_ int j = setup_journal("fields");
        _cleanup_free_ char *ident = identifier_field();
        const char *const extra[] = { "PREFORKD_TEST_EXTRA=hello world", NULL };
        LogFields f = LOG_FIELDS_INIT;
        JrRecord r;

        f.service = "web";
        f.slot = 3;
        f.worker_pid = 4242;
        f.generation = 7;
        f.exit_signal = SIGKILL;
        f.uptime_usec = 1500000;
        f.extra = extra;
        ck_assert_int_eq(log_internal(LOG_WARNING, 0, &f, "web[slot %d]: worker %d killed by signal KILL", 3, 4242), 0);
        recv_record(j, &r);
        ck_assert(!r.memfd);
        assert_fields(&r, (const char *const[]) {
                "MESSAGE=web[slot 3]: worker 4242 killed by signal KILL",
                "PRIORITY=4",
                ident,
                "PREFORKD_SERVICE=web",
                "PREFORKD_SLOT=3",
                "PREFORKD_WORKER_PID=4242",
                "PREFORKD_GENERATION=7",
                "PREFORKD_EXIT_SIGNAL=SIGKILL",
                "PREFORKD_UPTIME_USEC=1500000",
                "PREFORKD_TEST_EXTRA=hello world",
                NULL,
        });
        jr_record_done(&r);

        /* Exit status 0 is set (only < 0 is unset); slot 0 likewise. */
        f = (LogFields) LOG_FIELDS_INIT;
        f.service = "web";
        f.slot = 0;
        f.exit_status = 0;
        ck_assert_int_eq(log_internal(LOG_ERR, -EIO, &f, "exited"), -EIO);
        recv_record(j, &r);
        assert_fields(&r, (const char *const[]) {
                "MESSAGE=exited", "PRIORITY=3", ident, "PREFORKD_SERVICE=web", "PREFORKD_SLOT=0",
                "PREFORKD_EXIT_STATUS=0", NULL,
        });
        jr_record_done(&r);

        /* Without LogFields: no PREFORKD_* field at all. */
        log_info("plain");
        recv_record(j, &r);
        assert_fields(&r, (const char *const[]) { "MESSAGE=plain", "PRIORITY=6", ident, NULL });
        jr_record_done(&r);
        assert_nothing_queued(j);
}
END_TEST

/* log_record(), the HTTP access log's way in: a preformatted message and
 * the caller's fields, passed on as they are. */
START_TEST(test_record_with_extra_fields) {
        _cleanup_close_ int j = setup_journal("record");
        _cleanup_free_ char *ident = identifier_field();
        const char *const fields[] = {
                "PREFORKD_HTTP_STATUS=200",
                "PREFORKD_SERVICE=web",
                "PREFORKD_HTTP_TARGET=/a=b?c=d",
        };
        JrRecord r;

        log_record(LOG_INFO, "127.0.0.1:5 - - \"GET /a=b?c=d HTTP/1.1\" 200 5", fields, ELEMENTSOF(fields));
        recv_record(j, &r);
        assert_fields(&r, (const char *const[]) {
                "MESSAGE=127.0.0.1:5 - - \"GET /a=b?c=d HTTP/1.1\" 200 5",
                "PRIORITY=6",
                ident,
                "PREFORKD_HTTP_STATUS=200",
                "PREFORKD_SERVICE=web",
                "PREFORKD_HTTP_TARGET=/a=b?c=d",
                NULL,
        });
        jr_record_done(&r);
}
END_TEST

/* A value with a newline goes in the binary form, byte for byte as the
 * protocol has it (the size little-endian); the others stay KEY=value. */
START_TEST(test_multiline_values_in_binary_form) {
        _cleanup_close_ int j = setup_journal("binary");
        _cleanup_free_ char *ident = identifier_field();
        const char *const extra[] = { "PREFORKD_TEST_BLOCK=a\nb\n", "PREFORKD_TEST_PLAIN=c", NULL };
        static const char message_bytes[] = "MESSAGE\n\x16\0\0\0\0\0\0\0first line\nsecond line\n";
        static const char block_bytes[] = "PREFORKD_TEST_BLOCK\n\x04\0\0\0\0\0\0\0a\nb\n\n";
        LogFields f = LOG_FIELDS_INIT;
        JrRecord r;

        f.extra = extra;
        log_internal(LOG_INFO, 0, &f, "first line\nsecond line");
        recv_record(j, &r);
        assert_fields(&r, (const char *const[]) {
                "MESSAGE=first line\nsecond line",
                "PRIORITY=6",
                ident,
                "PREFORKD_TEST_BLOCK=a\nb\n",
                "PREFORKD_TEST_PLAIN=c",
                NULL,
        });
        ck_assert_ptr_nonnull(memmem(r.raw, r.raw_size, message_bytes, sizeof message_bytes - 1));
        ck_assert_ptr_nonnull(memmem(r.raw, r.raw_size, block_bytes, sizeof block_bytes - 1));
        ck_assert_ptr_nonnull(memmem(r.raw, r.raw_size, "PRIORITY=6\n", strlen("PRIORITY=6\n")));
        jr_record_done(&r);
}
END_TEST

/* A record larger than the socket's send buffer (EMSGSIZE) travels in a
 * sealed memfd instead of being lost. */
START_TEST(test_large_record_in_memfd) {
        _cleanup_close_ int j = setup_journal("memfd");
        _cleanup_free_ char *ident = identifier_field();
        _cleanup_free_ char *big = malloc(32 * 1024);
        int tiny = 1, fd;
        JrRecord r;

        ck_assert_ptr_nonnull(big);
        log_info("opens the socket");
        recv_record(j, &r);
        ck_assert(!r.memfd);
        jr_record_done(&r);

        /* The kernel rounds this up to its minimum, a few KiB. */
        fd = log_journal_fd();
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &tiny, sizeof tiny), 0);
        strcpy(big, "PREFORKD_TEST_BIG=");
        memset(big + strlen(big), 'x', 32 * 1024 - strlen(big) - 1);
        big[32 * 1024 - 1] = '\0';

        log_record(LOG_INFO, "big", (const char *const[]) { big }, 1);
        recv_record(j, &r);
        ck_assert(r.memfd);
        assert_fields(&r, (const char *const[]) { "MESSAGE=big", "PRIORITY=6", ident, big, NULL });
        jr_record_done(&r);
        assert_nothing_queued(j);
}
END_TEST

/* A child that closed its inherited fds calls log_forget_fds(): the number
 * the journal socket had may now be a client's TCP connection, on which a
 * sendmsg() would ignore the address and deliver the record to the client.
 * The next record must open a socket of its own instead. */
START_TEST(test_forget_fds_never_uses_the_old_number) {
        _cleanup_close_ int j = setup_journal("forget");
        _cleanup_close_ int l = -EBADF, server = -EBADF;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof sa;
        int old, client, type;
        socklen_t tl = sizeof type;
        char buf[256];
        JrRecord r;

        ck_assert_int_eq(log_journal_fd(), -EBADF); /* opened on first use only */
        log_info("in the master");
        recv_record(j, &r);
        jr_record_done(&r);
        old = log_journal_fd();
        ck_assert_int_ge(old, 0);
        ck_assert_int_ne(fcntl(old, F_GETFD) & FD_CLOEXEC, 0);
        ck_assert_int_eq(getsockopt(old, SOL_SOCKET, SO_TYPE, &type, &tl), 0);
        ck_assert_int_eq(type, SOCK_DGRAM);

        log_forget_fds();
        ck_assert_int_eq(log_journal_fd(), -EBADF);
        ck_assert_int_ge(fcntl(old, F_GETFD), 0); /* forgotten, not closed */

        /* What close_range() and the next accept() do in a worker. */
        l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(l, 0);
        ck_assert_int_eq(bind(l, (struct sockaddr *) &sa, sizeof sa), 0);
        ck_assert_int_eq(listen(l, 1), 0);
        ck_assert_int_eq(getsockname(l, (struct sockaddr *) &sa, &sl), 0);
        client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(client, 0);
        ck_assert_int_eq(connect(client, (struct sockaddr *) &sa, sizeof sa), 0);
        server = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(server, 0);
        ck_assert_int_eq(dup2(client, old), old);
        safe_close(client);

        log_info("in the worker");
        recv_record(j, &r);
        ck_assert_str_eq(value_of(&r, "MESSAGE"), "in the worker");
        jr_record_done(&r);
        ck_assert_int_ge(log_journal_fd(), 0);
        ck_assert_int_ne(log_journal_fd(), old);
        ck_assert_int_eq(recv(server, buf, sizeof buf, MSG_DONTWAIT), -1);
        ck_assert_int_eq(errno, EAGAIN);
        safe_close(old);
}
END_TEST

/* journald's queue full (the receiver reads nothing): the log call returns
 * at once (a blocking send would hang here until check's timeout fails the
 * test) and the record is a plain stderr line instead; each record lands in
 * exactly one place, and the journal is used again once there is room. */
START_TEST(test_full_queue_falls_back_to_stderr) {
        _cleanup_close_ int j = setup_journal("full");
        _cleanup_free_ char *err = NULL;
        Capture c = capture_stderr("full.stderr");
        char line[64];
        int first_fallback = -1, total, i;
        JrRecord r;

        /* net.unix.max_dgram_qlen (10 by default) or the send buffer ends
         * it; the bound only keeps a broken fallback from looping on. */
        for (i = 0; i < 100000 && first_fallback < 0; i++) {
                log_info("record %d", i);
                if (captured_size(&c) > 0)
                        first_fallback = i;
        }
        for (total = i + 5; i < total; i++)
                log_info("record %d", i);
        err = capture_end(&c);
        ck_assert_msg(first_fallback > 0, "no record fell back to stderr (first: %d)", first_fallback);

        for (i = 0; i < first_fallback; i++) {
                recv_record(j, &r);
                snprintf(line, sizeof line, "record %d", i);
                ck_assert_str_eq(value_of(&r, "MESSAGE"), line);
                jr_record_done(&r);
        }
        assert_nothing_queued(j);
        for (i = 0; i < total; i++) {
                snprintf(line, sizeof line, "<info> record %d\n", i);
                ck_assert_msg((strstr(err, line) != NULL) == (i >= first_fallback), "record %d: %s on stderr", i,
                              i >= first_fallback ? "not" : "also");
        }

        log_info("room again");
        recv_record(j, &r);
        ck_assert_str_eq(value_of(&r, "MESSAGE"), "room again");
        jr_record_done(&r);
}
END_TEST

/* Nobody bound at the path (journald stopped): stderr, not silence. */
START_TEST(test_no_journald_falls_back_to_stderr) {
        _cleanup_close_ int j = setup_journal("gone");
        _cleanup_free_ char *err = NULL;
        char path[PATH_MAX];
        Capture c;

        test_path(path, "gone");
        ck_assert_int_eq(unlink(path), 0);
        c = capture_stderr("gone.stderr");
        log_warning("nobody listens");
        err = capture_end(&c);
        ck_assert_ptr_nonnull(strstr(err, "<warning> nobody listens\n"));
}
END_TEST

/* A field without "=" (or with an empty key) is a bug of the caller:
 * the record shows up on stderr instead of being sent half. */
START_TEST(test_invalid_field_falls_back_to_stderr) {
        _cleanup_close_ int j = setup_journal("invalid");
        _cleanup_free_ char *err = NULL;
        Capture c = capture_stderr("invalid.stderr");

        log_record(LOG_INFO, "no equals sign", (const char *const[]) { "PREFORKD_OK=1", "NOT_A_FIELD" }, 2);
        log_record(LOG_INFO, "empty key", (const char *const[]) { "=value" }, 1);
        err = capture_end(&c);
        assert_nothing_queued(j);
        ck_assert_ptr_nonnull(strstr(err, "<info> no equals sign\n"));
        ck_assert_ptr_nonnull(strstr(err, "<info> empty key\n"));
}
END_TEST

/* Records above the max level are dropped, from both entry points, and
 * neither reach the journal nor stderr. */
START_TEST(test_records_above_max_level_are_dropped) {
        _cleanup_close_ int j = setup_journal("level");
        _cleanup_free_ char *err = NULL;
        Capture c = capture_stderr("level.stderr");
        LogFields f = LOG_FIELDS_INIT;
        JrRecord r;

        log_set_max_level(LOG_NOTICE);
        f.service = "web";
        log_info("dropped info");
        log_debug("dropped debug");
        ck_assert_int_eq(log_internal(LOG_INFO, EIO, &f, "dropped with fields"), -EIO);
        log_record(LOG_INFO, "dropped access record", (const char *const[]) { "PREFORKD_HTTP_STATUS=200" }, 1);
        log_notice("kept notice");
        err = capture_end(&c);

        recv_record(j, &r);
        ck_assert_str_eq(value_of(&r, "MESSAGE"), "kept notice");
        ck_assert_str_eq(value_of(&r, "PRIORITY"), "5");
        jr_record_done(&r);
        assert_nothing_queued(j);
        ck_assert_str_eq(err, "");
}
END_TEST

/* PREFORKD_JOURNAL_SOCKET=@NAME: the abstract namespace, as journald in a
 * container might listen. */
START_TEST(test_abstract_socket_name) {
        _cleanup_close_ int j = -EBADF;
        char name[64];
        JrRecord r;

        snprintf(name, sizeof name, "@preforkd-test-log-%d", (int) getpid());
        j = jr_bind(name);
        ck_assert_int_ge(j, 0);
        setup_env(name);
        log_info("abstract");
        recv_record(j, &r);
        ck_assert_str_eq(value_of(&r, "MESSAGE"), "abstract");
        jr_record_done(&r);
}
END_TEST

/* A value that is no socket address is said once, and logging stays on
 * stderr rather than failing record by record. */
START_TEST(test_bad_socket_variable_is_reported) {
        _cleanup_free_ char *err = NULL;
        Capture c = capture_stderr("bad.stderr");

        setup_env("relative/socket");
        ck_assert_int_eq(log_get_target(), LOG_TARGET_STDERR);
        log_info("still logged");
        err = capture_end(&c);
        ck_assert_ptr_nonnull(strstr(err, "<warning> PREFORKD_JOURNAL_SOCKET: "));
        ck_assert_ptr_nonnull(strstr(err, "<info> still logged\n"));
}
END_TEST

static void remove_test_dir(void) {
        DIR *d = opendir(test_dir);
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                        (void) unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
        (void) rmdir(test_dir);
}

int main(void) {
        const char *tmp = getenv("TMPDIR");
        Suite *s = suite_create("log");
        int r;

        snprintf(test_dir, sizeof test_dir, "%s/preforkd-test-log.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(test_dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        TD_ADD_TEST(s, test_fields_of_a_worker_exit);
        TD_ADD_TEST(s, test_record_with_extra_fields);
        TD_ADD_TEST(s, test_multiline_values_in_binary_form);
        TD_ADD_TEST(s, test_large_record_in_memfd);
        TD_ADD_TEST(s, test_forget_fds_never_uses_the_old_number);
        TD_ADD_TEST(s, test_full_queue_falls_back_to_stderr);
        TD_ADD_TEST(s, test_no_journald_falls_back_to_stderr);
        TD_ADD_TEST(s, test_invalid_field_falls_back_to_stderr);
        TD_ADD_TEST(s, test_records_above_max_level_are_dropped);
        TD_ADD_TEST(s, test_abstract_socket_name);
        TD_ADD_TEST(s, test_bad_socket_variable_is_reported);
        r = td_run_suite(s);
        remove_test_dir();
        return r;
}
