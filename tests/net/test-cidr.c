/* SPDX-License-Identifier: MIT */
/* CIDR ranges (src/net/cidr.c): proxy_from's parser and matcher. */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>
#include <sys/un.h>

#include "testlib.h"
#include "cidr.h"

static struct sockaddr_storage addr(const char *ip, socklen_t *ret_len) {
        struct sockaddr_storage ss = { 0 };

        if (inet_pton(AF_INET, ip, &((struct sockaddr_in *) &ss)->sin_addr) == 1) {
                ss.ss_family = AF_INET;
                *ret_len = sizeof(struct sockaddr_in);
        } else {
                ck_assert_int_eq(inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *) &ss)->sin6_addr), 1);
                ss.ss_family = AF_INET6;
                *ret_len = sizeof(struct sockaddr_in6);
        }
        return ss;
}

static bool in(const char *range, const char *ip) {
        const char *why = NULL;
        Cidr c;
        socklen_t len;
        struct sockaddr_storage ss;

        ck_assert_msg(cidr_parse(range, &c, &why) == 0, "%s: %s", range, why);
        ss = addr(ip, &len);
        return cidr_match(&c, (struct sockaddr *) &ss, len);
}

static void assert_invalid(const char *s, const char *why_part) {
        const char *why = NULL;
        Cidr c;

        ck_assert_msg(cidr_parse(s, &c, &why) == -EINVAL, "%s parsed", s);
        ck_assert_msg(why && strstr(why, why_part), "%s: '%s' lacks '%s'", s, why ? why : "", why_part);
}

START_TEST(test_match) {
        ck_assert(in("10.0.0.0/8", "10.255.1.2"));
        ck_assert(!in("10.0.0.0/8", "11.0.0.1"));
        ck_assert(in("127.0.1.0/29", "127.0.1.7"));
        ck_assert(!in("127.0.1.0/29", "127.0.1.8"));
        ck_assert(in("192.0.2.7", "192.0.2.7"));
        ck_assert(!in("192.0.2.7", "192.0.2.6"));
        ck_assert(in("0.0.0.0/0", "203.0.113.9"));
        ck_assert(!in("0.0.0.0/0", "::1"));
        ck_assert(in("::/0", "2001:db8::1"));
        ck_assert(in("fd00::/8", "fdff::1"));
        ck_assert(!in("fd00::/8", "fe00::1"));
        ck_assert(in("::1", "::1"));
        ck_assert(in("2001:db8::/33", "2001:db8:7fff::1"));
        ck_assert(!in("2001:db8::/33", "2001:db8:8000::1"));
        /* An IPv4 client of a dual-stack listener. */
        ck_assert(in("127.0.0.0/8", "::ffff:127.0.0.1"));
        ck_assert(!in("::1", "::ffff:127.0.0.1"));
}
END_TEST

START_TEST(test_other_families) {
        struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "/x" };
        const char *why;
        Cidr c;

        ck_assert_int_eq(cidr_parse("0.0.0.0/0", &c, &why), 0);
        ck_assert(!cidr_match(&c, (struct sockaddr *) &un, sizeof un));
        ck_assert(!cidr_match(&c, NULL, 0));
        ck_assert(!cidr_match_any(&c, 0, (struct sockaddr *) &un, sizeof un));
}
END_TEST

START_TEST(test_invalid) {
        assert_invalid("", "expected");
        assert_invalid("/8", "expected");
        assert_invalid("10.0.0.0/", "prefix length");
        assert_invalid("10.0.0.0/08", "prefix length");
        assert_invalid("10.0.0.0/x", "prefix length");
        assert_invalid("10.0.0.0/33", "0-32");
        assert_invalid("::/129", "0-128");
        assert_invalid("10.1.0.0/8", "past the prefix");
        assert_invalid("fd00::1/8", "past the prefix");
        assert_invalid("10.0.0", "not an IPv4 or IPv6");
        assert_invalid("localhost", "not an IPv4 or IPv6");
        assert_invalid("10.0.0.0/8/8", "prefix length");
}
END_TEST

int main(void) {
        Suite *s = suite_create("cidr");
        TCase *tc = tcase_create("cidr");

        tcase_add_test(tc, test_match);
        tcase_add_test(tc, test_other_families);
        tcase_add_test(tc, test_invalid);
        suite_add_tcase(s, tc);
        return td_run_suite(s);
}
