/* SPDX-License-Identifier: MIT */
#include <check.h>

#include "testlib.h"
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"
#include "macros.h"

static void assert_canonical(const char *in, ListenType type, const char *out) {
        ListenAddress a;
        const char *why = NULL;
        char buf[256];

        ck_assert_msg(listen_parse(in, &a, &why) == 0, "%s: %s", in, why ? why : "?");
        ck_assert_int_eq(a.type, type);
        ck_assert_int_eq(listen_format(&a, buf, sizeof buf), 0);
        ck_assert_str_eq(buf, out);
}

static void assert_invalid(const char *in, const char *why_part) {
        ListenAddress a;
        const char *why = NULL;

        ck_assert_msg(listen_parse(in, &a, &why) == -EINVAL, "%s parsed", in);
        ck_assert_ptr_nonnull(why);
        ck_assert_msg(strstr(why, why_part), "%s: '%s' lacks '%s'", in, why, why_part);
}

START_TEST(test_parse_valid) {
        assert_canonical("127.0.0.1:7007", LISTEN_INET, "127.0.0.1:7007");
        assert_canonical("0.0.0.0:80", LISTEN_INET, "0.0.0.0:80");
        assert_canonical("[::1]:7007", LISTEN_INET, "[::1]:7007");
        assert_canonical("[0:0::1]:1", LISTEN_INET, "[::1]:1");
        assert_canonical("*:8080", LISTEN_ANY, "*:8080");
        assert_canonical("127.0.0.1:0", LISTEN_INET, "127.0.0.1:0");
        assert_canonical("unix:/run/x.sock", LISTEN_UNIX, "unix:/run/x.sock");
        assert_canonical("systemd:web", LISTEN_SYSTEMD, "systemd:web");
        /* A host name resolves to its first address, 127.0.0.1 or ::1
         * depending on /etc/hosts (Debian's lists ::1 localhost too). */
        ListenAddress a;
        const char *why = NULL;
        char buf[128];
        ck_assert_int_eq(listen_parse("localhost:65535", &a, &why), 0);
        ck_assert_int_eq(a.type, LISTEN_INET);
        ck_assert_int_eq(listen_format(&a, buf, sizeof buf), 0);
        ck_assert_msg(strcmp(buf, "127.0.0.1:65535") == 0 || strcmp(buf, "[::1]:65535") == 0, "localhost: %s", buf);
}
END_TEST

START_TEST(test_parse_invalid) {
        assert_invalid("", "expected");
        assert_invalid("7007", "expected");
        assert_invalid(":7007", "missing host");
        assert_invalid("127.0.0.1:", "port");
        assert_invalid("127.0.0.1:65536", "port");
        assert_invalid("127.0.0.1:-1", "port");
        assert_invalid("127.0.0.1:80x", "port");
        assert_invalid("::1:80", "brackets");
        assert_invalid("[::1]80", "[IPv6]:PORT");
        assert_invalid("[zz::1]:80", "IPv6");
        assert_invalid("[127.0.0.1]:80", "IPv6");
        assert_invalid("unix:relative.sock", "absolute");
        assert_invalid("unix:", "absolute");
        assert_invalid("systemd:", "systemd socket name");
        assert_invalid("systemd:a b", "systemd socket name");
        assert_invalid("no-such-host.invalid:80", "resolve");

        char longpath[200] = "unix:/";
        memset(longpath + 6, 'a', 150);
        longpath[156] = 0;
        assert_invalid(longpath, "longer than");
}
END_TEST

START_TEST(test_port_zero) {
        ListenAddress a;
        const char *why;
        char buf[64];
        int fd;

        ck_assert_int_eq(listen_parse("127.0.0.1:0", &a, &why), 0);
        ck_assert(listen_is_port_zero(&a));
        ck_assert_int_eq(listen_open(&a, 16, false, &fd), 0);
        ck_assert_int_eq(listen_format_fd(fd, buf, sizeof buf), 0);
        ck_assert_str_ne(buf, "127.0.0.1:0");
        ck_assert(strncmp(buf, "127.0.0.1:", 10) == 0);
        close(fd);
        ck_assert_int_eq(listen_parse("unix:/x", &a, &why), 0);
        ck_assert(!listen_is_port_zero(&a));
}
END_TEST

START_TEST(test_bind_conflict) {
        ListenAddress a, b;
        const char *why;
        char buf[64], spec[80];
        int fd, fd2 = -1;

        ck_assert_int_eq(listen_parse("127.0.0.1:0", &a, &why), 0);
        ck_assert_int_eq(listen_open(&a, 16, false, &fd), 0);
        ck_assert_int_eq(listen_format_fd(fd, buf, sizeof buf), 0);
        snprintf(spec, sizeof spec, "%s", buf);
        ck_assert_int_eq(listen_parse(spec, &b, &why), 0);
        ck_assert_int_eq(listen_open(&b, 16, false, &fd2), -EADDRINUSE);
        ck_assert_int_eq(fd2, -1);
        close(fd);
}
END_TEST

static void make_path(char *buf, size_t size, const char *name) {
        char dir[] = "/tmp/preforkd-test-XXXXXX";
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(buf, size, "%s/%s", dir, name);
}

START_TEST(test_unix_stale_live_and_file) {
        char path[128], spec[160];
        ListenAddress a;
        const char *why;
        int fd, fd2, r;

        make_path(path, sizeof path, "s.sock");
        snprintf(spec, sizeof spec, "unix:%s", path);
        ck_assert_int_eq(listen_parse(spec, &a, &why), 0);

        /* Live socket: refused. */
        ck_assert_int_eq(listen_open(&a, 16, false, &fd), 0);
        ck_assert_int_eq(listen_open(&a, 16, false, &fd2), -EADDRINUSE);
        /* Stale socket (nobody listens any more): replaced. */
        close(fd);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_int_eq(listen_open(&a, 16, false, &fd), 0);
        close(fd);
        listen_unlink(&a);
        ck_assert_int_eq(access(path, F_OK), -1);

        /* A regular file is never removed. */
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs("data", f);
        fclose(f);
        r = listen_open(&a, 16, false, &fd);
        ck_assert_int_eq(r, -EEXIST);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        unlink(path);
}
END_TEST

START_TEST(test_dual_stack_any) {
        ListenAddress a;
        const char *why;
        int fd, v6only = -1;
        socklen_t l = sizeof v6only;

        ck_assert_int_eq(listen_parse("*:0", &a, &why), 0);
        ck_assert_int_eq(listen_open(&a, 16, false, &fd), 0);
        ck_assert_int_eq(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &l), 0);
        ck_assert_int_eq(v6only, 0);
        close(fd);
}
END_TEST

int main(void) {
        Suite *s = suite_create("listen");
        TCase *tc = tcase_create("listen");

        tcase_add_test(tc, test_parse_valid);
        tcase_add_test(tc, test_parse_invalid);
        tcase_add_test(tc, test_port_zero);
        tcase_add_test(tc, test_bind_conflict);
        tcase_add_test(tc, test_unix_stale_live_and_file);
        tcase_add_test(tc, test_dual_stack_any);
        suite_add_tcase(s, tc);
        return td_run_suite(s);
}
