/* SPDX-License-Identifier: MIT */
/* Command line, -t and exit codes (sysexits). */
#include <string.h>
#include <sysexits.h>

#include "build-config.h"
#include "itest.h"

static const char good_config[] =
        "services = (\n"
        "  { name = \"echo\"; listen = [ \"127.0.0.1:0\", \"unix:@DIR@/echo.sock\" ];\n"
        "    workers = 3; handler = \"echo\"; }\n"
        ");\n";

static size_t count_lines(const char *s) {
        size_t n = 0;

        for (; *s; s++)
                if (*s == '\n')
                        n++;
        return n;
}

START_TEST(test_version) {
        _cleanup_free_ char *out = NULL, *so = NULL;
        int code = -1;

        TD_OK(NULL, td_run(NULL, (const char *const[]) { "-V", NULL }, TD_TIMEOUT, &code, &out, &so));
        ck_assert_int_eq(code, EX_OK);
        ck_assert_msg(strstr(so, PACKAGE_VERSION), "-V printed '%s', no version %s on stdout", out,
                      PACKAGE_VERSION);
        ck_assert_msg(strstr(so, "preforkd"), "-V printed '%s'", out);
}
END_TEST

START_TEST(test_help) {
        _cleanup_free_ char *out = NULL, *so = NULL;
        int code = -1;

        TD_OK(NULL, td_run(NULL, (const char *const[]) { "-h", NULL }, TD_TIMEOUT, &code, &out, &so));
        ck_assert_int_eq(code, EX_OK);
        ck_assert_msg(strstr(so, "-c FILE") && strstr(so, "-t") && strstr(so, "-V") && strstr(so, "-h"),
                      "-h printed '%s' (expected every option on stdout)", out);
}
END_TEST

START_TEST(test_bad_usage) {
        static const char *const cases[][3] = {
                { "-Z", NULL, NULL },           /* unknown flag */
                { "-c", NULL, NULL },           /* missing argument */
                { "extra-arg", NULL, NULL },    /* positional argument */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *out = NULL;
                int code = -1;

                TD_OK(NULL, td_run(NULL, cases[i], TD_TIMEOUT, &code, &out, NULL));
                ck_assert_msg(code == EX_USAGE, "'preforkd %s' exited %d, expected %d (usage); output: %s",
                              cases[i][0], code, EX_USAGE, out);
                ck_assert_msg(strstr(out, "Usage") || strstr(out, "usage"), "no usage text for '%s': %s",
                              cases[i][0], out);
        }
}
END_TEST

START_TEST(test_check_good) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *out = NULL, *so = NULL, *sock = NULL;
        int code = -1;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, good_config));
        TD_OK(d, td_run(d, (const char *const[]) { "-t", "-c", "@DIR@/preforkd.conf", NULL }, TD_TIMEOUT, &code,
                        &out, &so));
        ck_assert_msg(code == EX_OK, "-t exited %d: %s", code, out);
        ck_assert_msg(count_lines(out) == 1, "-t should print exactly one line, got: '%s'", out);
        ck_assert_msg(strstr(so, "OK"), "no OK in '%s'", out);
        ck_assert_msg(strstr(so, "1 service") && strstr(so, "2 listeners") && strstr(so, "3 workers"),
                      "summary should count services, listeners and workers: '%s'", out);
        /* -t checks, it does not bind. */
        sock = td_subst(d, "@DIR@/echo.sock");
        ck_assert_ptr_nonnull(sock);
        ck_assert_msg(access(sock, F_OK) < 0, "-t created %s", sock);
}
END_TEST

START_TEST(test_check_bad) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *out = NULL, *e1 = NULL, *e2 = NULL, *e3 = NULL;
        int code = -1;

        TD_OK(NULL, td_new(&d));
        /* Three errors, on lines 4, 5 and 6. */
        TD_OK(d, td_write_config(d,
                                 "services = (\n"
                                 "  { name = \"echo\";\n"
                                 "    listen = [ \"127.0.0.1:0\" ];\n"
                                 "    workers = 0;\n"
                                 "    handler = \"echo\";\n"
                                 "    wrokers = 2;\n"
                                 "    idle_timeout = \"long\";\n"
                                 "  }\n"
                                 ");\n"));
        TD_OK(d, td_run(d, (const char *const[]) { "-t", "-c", "@DIR@/preforkd.conf", NULL }, TD_TIMEOUT, &code,
                        &out, NULL));
        ck_assert_msg(code == EX_CONFIG, "-t on a bad config exited %d, expected %d: %s", code, EX_CONFIG, out);
        e1 = td_subst(d, "@DIR@/preforkd.conf:4: services.[0].workers: must be between 1 and ");
        e2 = td_subst(d, "@DIR@/preforkd.conf:6: services.[0].wrokers: ");
        e3 = td_subst(d, "@DIR@/preforkd.conf:7: services.[0].idle_timeout: ");
        ck_assert_ptr_nonnull(e1);
        ck_assert_ptr_nonnull(e2);
        ck_assert_ptr_nonnull(e3);
        ck_assert_msg(strstr(out, e1), "expected '%s...' in: %s", e1, out);
        ck_assert_msg(strstr(out, e2), "expected '%s...' (unknown key) in: %s", e2, out);
        ck_assert_msg(strstr(out, e3), "expected '%s...' (wrong type) in: %s", e3, out);
        ck_assert_msg(!strstr(out, "OK"), "a bad config must not say OK: %s", out);
}
END_TEST

START_TEST(test_check_syntax_error) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *out = NULL, *e = NULL;
        int code = -1;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d,
                                 "services = (\n"
                                 "  { name = \"echo\";\n"
                                 "    listen = [ \"127.0.0.1:0\" \n"
                                 "    workers = 1;\n"
                                 "  }\n"
                                 ");\n"));
        TD_OK(d, td_run(d, (const char *const[]) { "-t", "-c", "@DIR@/preforkd.conf", NULL }, TD_TIMEOUT, &code,
                        &out, NULL));
        ck_assert_msg(code == EX_CONFIG, "exited %d, expected %d: %s", code, EX_CONFIG, out);
        e = td_subst(d, "@DIR@/preforkd.conf:4: ");
        ck_assert_msg(strstr(out, e), "expected '%s...' in: %s", e, out);
}
END_TEST

START_TEST(test_check_missing_file) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *out = NULL, *e = NULL;
        int code = -1;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_run(d, (const char *const[]) { "-t", "-c", "@DIR@/missing.conf", NULL }, TD_TIMEOUT, &code,
                        &out, NULL));
        ck_assert_msg(code == EX_CONFIG, "-t on a missing file exited %d, expected %d: %s", code, EX_CONFIG, out);
        e = td_subst(d, "@DIR@/missing.conf");
        ck_assert_msg(strstr(out, e), "the message should name the file: %s", out);
}
END_TEST

START_TEST(test_run_missing_file) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *out = NULL, *e = NULL;
        int code = -1;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_run(d, (const char *const[]) { "-c", "@DIR@/missing.conf", NULL }, TD_TIMEOUT, &code, &out,
                        NULL));
        ck_assert_msg(code == EX_CONFIG, "a missing config file exited %d, expected %d: %s", code, EX_CONFIG, out);
        e = td_subst(d, "@DIR@/missing.conf");
        ck_assert_msg(strstr(out, e), "the message should name the file: %s", out);
}
END_TEST

/* Starting (not -t) on a bad config: exit 78 and the line is named, and
 * nothing was started (no READY=1). */
START_TEST(test_run_bad_config) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *e = NULL;
        int code = -1;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d,
                                 "services = (\n"
                                 "  { name = \"echo\";\n"
                                 "    listen = [ \"127.0.0.1:0\" ];\n"
                                 "    workers = 1;\n"
                                 "    handler = \"nope\";\n"
                                 "  }\n"
                                 ");\n"));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        TD_ASSERT_MSG(d, code == EX_CONFIG, "exited %d, expected %d", code, EX_CONFIG);
        TD_OK(d, td_wait_output_closed(d, TD_TIMEOUT));
        e = td_subst(d, "@DIR@/preforkd.conf:5: services.[0].handler: ");
        TD_OK(d, td_wait_log(d, e, TD_TIMEOUT, NULL));
        TD_ASSERT_MSG(d, td_wait_notify(d, "READY=1", 0, NULL) < 0, "READY=1 sent for a config that was refused");
        TD_ASSERT(d, !td_log_contains(d, "Listening on"));
}
END_TEST

/* An address that does not parse is a config error with its line. */
START_TEST(test_check_bad_address) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *out = NULL, *e = NULL;
        int code = -1;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d,
                                 "services = (\n"
                                 "  { name = \"echo\";\n"
                                 "    workers = 1;\n"
                                 "    listen = [ \"127.0.0.1:0\",\n"
                                 "               \"127.0.0.1:99999\" ];\n"
                                 "    handler = \"echo\";\n"
                                 "  }\n"
                                 ");\n"));
        TD_OK(d, td_run(d, (const char *const[]) { "-t", "-c", "@DIR@/preforkd.conf", NULL }, TD_TIMEOUT, &code,
                        &out, NULL));
        ck_assert_msg(code == EX_CONFIG, "exited %d, expected %d: %s", code, EX_CONFIG, out);
        e = td_subst(d, "@DIR@/preforkd.conf:5: services.[0].listen");
        ck_assert_msg(strstr(out, e), "expected '%s...' in: %s", e, out);
}
END_TEST

static Suite *cli_suite(void) {
        Suite *s = suite_create("cli");

        TD_ADD_TEST(s, test_version);
        TD_ADD_TEST(s, test_help);
        TD_ADD_TEST(s, test_bad_usage);
        TD_ADD_TEST(s, test_check_good);
        TD_ADD_TEST(s, test_check_bad);
        TD_ADD_TEST(s, test_check_syntax_error);
        TD_ADD_TEST(s, test_check_bad_address);
        TD_ADD_TEST(s, test_check_missing_file);
        TD_ADD_TEST(s, test_run_missing_file);
        TD_ADD_TEST(s, test_run_bad_config);
        return s;
}

int main(void) {
        return td_run_suite(cli_suite());
}
