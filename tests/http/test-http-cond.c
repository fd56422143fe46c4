/* SPDX-License-Identifier: MIT */
/* Entity tags, preconditions (RFC 9110 §13), Range and If-Range (§14), and
 * HTTP dates. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "http_cond.h"
#include "http_date.h"
#include "http_encoding.h"
#include "http_parse.h"
#include "testlib.h"

static const HttpParseLimits limits = { .max_head = 4096, .max_target = 1024 };

/* Keeps the head alive for the spans of the request. */
static char head[4096];

static HttpRequest request(const char *fields) {
        HttpRequest req;
        snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: h\r\n%s\r\n", fields);
        size_t end = http_parse_find_head_end(head, strlen(head), 0);
        ck_assert_uint_gt(end, 0);
        ck_assert_int_eq(http_parse_request(head, end, &limits, &req, NULL), 0);
        return req;
}

static HttpSpan span(const char *s) {
        return (HttpSpan) { .p = s, .n = strlen(s) };
}

/* 1994-11-06 08:49:37 UTC */
#define T0 ((time_t) 784111777)
#define ETAG "\"abc-1\""

START_TEST(test_etag_format) {
        struct stat st = { .st_ino = 0x1234, .st_size = 1024 };
        char buf[HTTP_ETAG_SIZE];

        st.st_mtim.tv_sec = 1;
        st.st_mtim.tv_nsec = 5;
        ck_assert_int_eq(http_etag_format(&st, buf, sizeof(buf)), (int) strlen("\"1234-400-3b9aca05\""));
        ck_assert_str_eq(buf, "\"1234-400-3b9aca05\"");
        /* A rewrite within the same second changes it. */
        st.st_mtim.tv_nsec = 6;
        ck_assert_int_gt(http_etag_format(&st, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "\"1234-400-3b9aca06\"");
        st.st_ino = UINT64_MAX;
        st.st_size = INT64_MAX;
        st.st_mtim.tv_sec = INT32_MAX;
        ck_assert_int_gt(http_etag_format(&st, buf, sizeof(buf)), 0);
        ck_assert_int_eq(http_etag_format(&st, buf, 10), -ENOBUFS);
}
END_TEST

START_TEST(test_if_none_match) {
        HttpRequest r;
        r = request("If-None-Match: " ETAG "\r\n");
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 304);
        r = request("If-None-Match: W/" ETAG "\r\n");   /* weak comparison */
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 304);
        r = request("If-None-Match: \"x\", " ETAG "\r\n");
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 304);
        r = request("If-None-Match: *\r\n");
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 304);
        r = request("If-None-Match: \"x\"\r\n");
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 0);
        r = request("If-None-Match: \"x\"\r\nIf-None-Match: " ETAG "\r\n");
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 304);
        /* If-None-Match wins over If-Modified-Since. */
        r = request("If-None-Match: \"x\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 0);
        /* Without entity tags only "*" matches. */
        r = request("If-None-Match: " ETAG "\r\n");
        ck_assert_uint_eq(http_cond_evaluate(&r, NULL, T0), 0);
}
END_TEST

START_TEST(test_if_modified_since) {
        HttpRequest r;
        r = request("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 304);
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0 - 1), 304);
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0 + 1), 0);
        r = request("If-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT\r\n");
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 304);
        r = request("If-Modified-Since: Sun Nov  6 08:49:37 1994\r\n");
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 304);
        r = request("If-Modified-Since: yesterday\r\n");     /* invalid: ignored */
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 0);
}
END_TEST

START_TEST(test_if_match) {
        HttpRequest r;
        r = request("If-Match: " ETAG "\r\n");
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 0);
        r = request("If-Match: *\r\n");
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 0);
        r = request("If-Match: \"other\"\r\n");
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 412);
        r = request("If-Match: W/" ETAG "\r\n");            /* strong comparison */
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 412);
        r = request("If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0), 0);
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0 + 1), 412);
        /* If-Match takes precedence over If-Unmodified-Since. */
        r = request("If-Match: " ETAG "\r\nIf-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
        ck_assert_uint_eq(http_cond_evaluate(&r, ETAG, T0 + 1), 0);
}
END_TEST

static int range(const char *s, uint64_t size, uint64_t *first, uint64_t *last) {
        return http_range_parse(span(s), size, first, last);
}

START_TEST(test_range) {
        uint64_t f, l;

        ck_assert_int_eq(range("bytes=0-9", 100, &f, &l), 1);
        ck_assert_uint_eq(f, 0);
        ck_assert_uint_eq(l, 9);
        ck_assert_int_eq(range("bytes=90-", 100, &f, &l), 1);
        ck_assert_uint_eq(f, 90);
        ck_assert_uint_eq(l, 99);
        ck_assert_int_eq(range("bytes=-10", 100, &f, &l), 1);
        ck_assert_uint_eq(f, 90);
        ck_assert_uint_eq(l, 99);
        ck_assert_int_eq(range("bytes=-1000", 100, &f, &l), 1);   /* suffix longer than the file */
        ck_assert_uint_eq(f, 0);
        ck_assert_uint_eq(l, 99);
        ck_assert_int_eq(range("bytes=50-1000", 100, &f, &l), 1); /* last clamped */
        ck_assert_uint_eq(l, 99);
        ck_assert_int_eq(range("BYTES=0-0", 100, &f, &l), 1);
        ck_assert_int_eq(range("bytes= 5-6 ", 100, &f, &l), 1);
        ck_assert_uint_eq(f, 5);
        ck_assert_int_eq(range("bytes=0-99999999999999999999999", 100, &f, &l), 1);
        ck_assert_uint_eq(l, 99);

        /* Unsatisfiable: 416. */
        ck_assert_int_eq(range("bytes=100-", 100, &f, &l), -ERANGE);
        ck_assert_int_eq(range("bytes=100-200", 100, &f, &l), -ERANGE);
        ck_assert_int_eq(range("bytes=-0", 100, &f, &l), -ERANGE);
        ck_assert_int_eq(range("bytes=99999999999999999999999-", 100, &f, &l), -ERANGE);

        /* Ignored (whole file): other units, bad syntax, several ranges,
         * an empty file. */
        ck_assert_int_eq(range("items=0-1", 100, &f, &l), 0);
        ck_assert_int_eq(range("bytes=", 100, &f, &l), 0);
        ck_assert_int_eq(range("bytes=a-b", 100, &f, &l), 0);
        ck_assert_int_eq(range("bytes=5-1", 100, &f, &l), 0);
        ck_assert_int_eq(range("bytes=-", 100, &f, &l), 0);
        ck_assert_int_eq(range("bytes=1-2-3", 100, &f, &l), 0);
        ck_assert_int_eq(range("bytes=0-1,5-6", 100, &f, &l), 0);
        ck_assert_int_eq(range("bytes=0-1", 0, &f, &l), 0);
        ck_assert_int_eq(range("bytes 0-1", 100, &f, &l), 0);
}
END_TEST

START_TEST(test_if_range) {
        HttpSpan none = { .p = NULL };
        ck_assert(http_if_range_matches(none, ETAG, T0));
        ck_assert(http_if_range_matches(span(ETAG), ETAG, T0));
        ck_assert(!http_if_range_matches(span("\"other\""), ETAG, T0));
        ck_assert(!http_if_range_matches(span("W/" ETAG), ETAG, T0));
        ck_assert(!http_if_range_matches(span(ETAG), NULL, T0));
        ck_assert(http_if_range_matches(span("Sun, 06 Nov 1994 08:49:37 GMT"), ETAG, T0));
        ck_assert(!http_if_range_matches(span("Sun, 06 Nov 1994 08:49:37 GMT"), ETAG, T0 + 1));
        ck_assert(!http_if_range_matches(span("garbage"), ETAG, T0));
}
END_TEST

START_TEST(test_date) {
        char buf[HTTP_DATE_SIZE];
        time_t t;

        ck_assert_int_eq(http_date_format(T0, buf), 29);
        ck_assert_str_eq(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
        ck_assert_int_eq(http_date_format(0, buf), 29);
        ck_assert_str_eq(buf, "Thu, 01 Jan 1970 00:00:00 GMT");

        ck_assert_int_eq(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 29, &t), 0);
        ck_assert_int_eq(t, T0);
        ck_assert_int_eq(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30, &t), 0);
        ck_assert_int_eq(t, T0);
        ck_assert_int_eq(http_date_parse("Sun Nov  6 08:49:37 1994", 24, &t), 0);
        ck_assert_int_eq(t, T0);
        ck_assert_int_eq(http_date_parse("Thu Nov 26 08:49:37 1994", 24, &t), 0);
        ck_assert_int_eq(http_date_parse("Thursday, 01-Jan-26 00:00:00 GMT", 32, &t), 0);
        ck_assert_int_eq(t, 1767225600);

        static const char *const bad[] = {
                "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                "Sun, 06 Nov 1994 24:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
                "Sun Nov  6 08:49:37 94", "", "Sunday, 06-Nov-1994 08:49:37 GMT", "1994-11-06T08:49:37Z",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(http_date_parse(bad[i], strlen(bad[i]), &t) == -EINVAL, "accepted %s", bad[i]);

        /* The cached Date is a well-formed IMF-fixdate. */
        const char *now = http_date_now();
        ck_assert_uint_eq(strlen(now), 29);
        ck_assert_int_eq(http_date_parse(now, 29, &t), 0);
}
END_TEST

START_TEST(test_accept_encoding) {
        ck_assert(http_encoding_accepts(span("gzip"), "gzip"));
        ck_assert(http_encoding_accepts(span("deflate, GZIP;q=0.5"), "gzip"));
        ck_assert(http_encoding_accepts(span("gzip, deflate, br, zstd"), "br"));
        ck_assert(!http_encoding_accepts(span("gzip;q=0"), "gzip"));
        ck_assert(!http_encoding_accepts(span("gzip;q=0.000"), "gzip"));
        ck_assert(http_encoding_accepts(span("gzip;q=0.001"), "gzip"));
        ck_assert(http_encoding_accepts(span("gzip ; q=1.0"), "gzip"));
        ck_assert(!http_encoding_accepts(span("identity"), "gzip"));
        ck_assert(http_encoding_accepts(span("*"), "gzip"));
        ck_assert(!http_encoding_accepts(span("*, gzip;q=0"), "gzip"));
        ck_assert(!http_encoding_accepts(span("*;q=0"), "br"));
        ck_assert(!http_encoding_accepts(span("gzip;q=2"), "gzip"));     /* malformed: ignored */
        ck_assert(!http_encoding_accepts(span("gzip;q=x"), "gzip"));
        ck_assert(!http_encoding_accepts(span(""), "gzip"));
        ck_assert(!http_encoding_accepts((HttpSpan) { .p = NULL }, "gzip"));
        ck_assert(!http_encoding_accepts(span("gzipx"), "gzip"));
}
END_TEST

int main(void) {
        Suite *s = suite_create("http-cond");

        TD_ADD_TEST(s, test_etag_format);
        TD_ADD_TEST(s, test_if_none_match);
        TD_ADD_TEST(s, test_if_modified_since);
        TD_ADD_TEST(s, test_if_match);
        TD_ADD_TEST(s, test_range);
        TD_ADD_TEST(s, test_if_range);
        TD_ADD_TEST(s, test_date);
        TD_ADD_TEST(s, test_accept_encoding);
        return td_run_suite(s);
}
