/* SPDX-License-Identifier: MIT */
/* The control socket's wire protocol (control-proto.c): what a request
 * line may be, how preforkctl writes one, and the answer's first line. */
#include <check.h>
#include <string.h>

#include "control-proto.h"
#include "testlib.h"

static int parse(const char *line, ControlRequest *ret, const char **ret_why) {
        return control_request_parse(line, strlen(line), ret, ret_why);
}

/* line is refused, and the explanation contains what. */
static void expect_refused(const char *line, const char *what) {
        ControlRequest req = { .command = CONTROL_STATUS, .count = 77 };
        const char *why = NULL;

        ck_assert_msg(parse(line, &req, &why) == -EINVAL, "\"%s\" was accepted", line);
        ck_assert_msg(why && strstr(why, what), "\"%s\": \"%s\" does not say \"%s\"", line, why ? why : "(null)", what);
        /* untouched on failure */
        ck_assert_int_eq(req.command, CONTROL_STATUS);
        ck_assert_uint_eq(req.count, 77);
}

START_TEST(test_request_commands) {
        ControlRequest r;
        const char *why;

        ck_assert_int_eq(parse("status", &r, &why), 0);
        ck_assert_int_eq(r.command, CONTROL_STATUS);
        ck_assert(!r.json);
        ck_assert_str_eq(r.service, "");

        ck_assert_int_eq(parse("--json status web-2_a", &r, &why), 0);
        ck_assert_int_eq(r.command, CONTROL_STATUS);
        ck_assert(r.json);
        ck_assert_str_eq(r.service, "web-2_a");

        ck_assert_int_eq(parse("metrics", &r, &why), 0);
        ck_assert_int_eq(r.command, CONTROL_METRICS);
        ck_assert_int_eq(parse("reload", &r, &why), 0);
        ck_assert_int_eq(r.command, CONTROL_RELOAD);
        ck_assert_int_eq(parse("drain", &r, &why), 0);
        ck_assert_int_eq(r.command, CONTROL_DRAIN);
        ck_assert_str_eq(r.service, "");
        ck_assert_int_eq(parse("undrain echo", &r, &why), 0);
        ck_assert_int_eq(r.command, CONTROL_UNDRAIN);
        ck_assert_str_eq(r.service, "echo");
        ck_assert_int_eq(parse("upgrade", &r, &why), 0);
        ck_assert_int_eq(r.command, CONTROL_UPGRADE);
        ck_assert_int_eq(parse("upgrade now", &r, &why), -EINVAL);

        ck_assert_int_eq(parse("scale web 4096", &r, &why), 0);
        ck_assert_int_eq(r.command, CONTROL_SCALE);
        ck_assert_str_eq(r.service, "web");
        ck_assert_uint_eq(r.count, 4096);
        ck_assert_int_eq(parse("scale web 1", &r, &why), 0);
        ck_assert_uint_eq(r.count, 1);
}
END_TEST

START_TEST(test_request_mutating) {
        ck_assert(!control_command_is_mutating(CONTROL_STATUS));
        ck_assert(!control_command_is_mutating(CONTROL_METRICS));
        ck_assert(control_command_is_mutating(CONTROL_RELOAD));
        ck_assert(control_command_is_mutating(CONTROL_SCALE));
        ck_assert(control_command_is_mutating(CONTROL_DRAIN));
        ck_assert(control_command_is_mutating(CONTROL_UNDRAIN));
        ck_assert(control_command_is_mutating(CONTROL_UPGRADE));
}
END_TEST

START_TEST(test_request_malformed) {
        char longline[CONTROL_REQUEST_MAX + 8];
        ControlRequest r;
        const char *why;

        ck_assert_int_eq(control_request_parse("", 0, &r, &why), -EINVAL);
        ck_assert_str_eq(why, "empty request");
        expect_refused("stats", "unknown command");
        expect_refused("STATUS", "unknown command");
        expect_refused("--json", "no command");
        expect_refused("--xml status", "unknown command");
        expect_refused("status  web", "empty word");
        expect_refused(" status", "empty word");
        expect_refused("status ", "empty word");
        expect_refused("status\tweb", "not printable");
        expect_refused("status\r", "not printable");
        expect_refused("status w\xc3\xa9" "b", "not printable");
        expect_refused("status web extra", "at most one argument");
        expect_refused("reload now", "no argument");
        expect_refused("metrics web", "no argument");
        expect_refused("status Web", "not a valid service name");
        expect_refused("drain web.1", "not a valid service name");
        expect_refused("status aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "not a valid service");
        expect_refused("scale web", "usage: scale SERVICE N");
        expect_refused("scale", "usage: scale SERVICE N");
        expect_refused("scale web 0", "between 1 and 4096");
        expect_refused("scale web 4097", "between 1 and 4096");
        expect_refused("scale web 99999999999", "between 1 and 4096");
        expect_refused("scale web -1", "not a decimal number");
        expect_refused("scale web +1", "not a decimal number");
        expect_refused("scale web 012", "not a decimal number");
        expect_refused("scale web 1x", "not a decimal number");
        expect_refused("scale 4 web", "not a decimal number");
        expect_refused("status a b c d e", "too many arguments");

        /* A NUL inside the line is a byte like any other: refused. */
        ck_assert_int_eq(control_request_parse("status\0web", 10, &r, &why), -EINVAL);

        memset(longline, 'a', sizeof longline);
        ck_assert_int_eq(control_request_parse(longline, CONTROL_REQUEST_MAX, &r, &why), -EINVAL);
        ck_assert_str_eq(why, "request too long");
}
END_TEST

/* What preforkctl writes is what the daemon reads back. */
START_TEST(test_request_format_roundtrip) {
        static const char *const lines[] = {
                "status", "--json status web", "metrics", "reload", "scale web 12", "drain", "undrain echo",
        };

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                ControlRequest a, b;
                const char *why;
                char buf[CONTROL_REQUEST_MAX + 1];
                int n;

                ck_assert_int_eq(parse(lines[i], &a, &why), 0);
                n = control_request_format(&a, buf, sizeof buf);
                ck_assert_int_gt(n, 0);
                ck_assert_int_eq(buf[n - 1], '\n');
                ck_assert_int_eq((size_t) n - 1, strlen(lines[i]));
                ck_assert(memcmp(buf, lines[i], (size_t) n - 1) == 0);
                ck_assert_int_eq(control_request_parse(buf, (size_t) n - 1, &b, &why), 0);
                ck_assert(memcmp(&a, &b, sizeof a) == 0);
        }
}
END_TEST

START_TEST(test_reply_parse) {
        ControlStatus st;
        size_t msg, len, body;
        const char *a;

        a = "ok\nbody\n";
        ck_assert_int_eq(control_reply_parse(a, strlen(a), &st, &msg, &len, &body), 0);
        ck_assert_int_eq(st, CONTROL_OK);
        ck_assert_uint_eq(len, 0);
        ck_assert_str_eq(a + body, "body\n");

        a = "refused the configuration has errors\n/x.conf:3: bad\n";
        ck_assert_int_eq(control_reply_parse(a, strlen(a), &st, &msg, &len, &body), 0);
        ck_assert_int_eq(st, CONTROL_REFUSED);
        ck_assert(len == strlen("the configuration has errors") && memcmp(a + msg, "the configuration", 17) == 0);
        ck_assert_str_eq(a + body, "/x.conf:3: bad\n");

        a = "rolled-back batch 2 did not start\n";
        ck_assert_int_eq(control_reply_parse(a, strlen(a), &st, &msg, &len, &body), 0);
        ck_assert_int_eq(st, CONTROL_ROLLED_BACK);
        a = "denied permission denied\n";
        ck_assert_int_eq(control_reply_parse(a, strlen(a), &st, &msg, &len, &body), 0);
        ck_assert_int_eq(st, CONTROL_DENIED);

        a = "ok";
        ck_assert_int_eq(control_reply_parse(a, strlen(a), &st, &msg, &len, &body), -EAGAIN);
        a = "okay\n";
        ck_assert_int_eq(control_reply_parse(a, strlen(a), &st, &msg, &len, &body), -EBADMSG);
        a = "HTTP/1.1 200 OK\r\n";
        ck_assert_int_eq(control_reply_parse(a, strlen(a), &st, &msg, &len, &body), -EBADMSG);
}
END_TEST

int main(void) {
        Suite *s = suite_create("control-proto");

        TD_ADD_TEST(s, test_request_commands);
        TD_ADD_TEST(s, test_request_mutating);
        TD_ADD_TEST(s, test_request_malformed);
        TD_ADD_TEST(s, test_request_format_roundtrip);
        TD_ADD_TEST(s, test_reply_parse);
        return td_run_suite(s);
}
