/* SPDX-License-Identifier: MIT */
/* Unit tests of the chunked body decoder: what RFC 9112 §7.1 accepts,
 * every malformed form it must refuse, the size limit, and that the
 * outcome does not depend on how the body is split into reads. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http_chunked.h"
#include "testlib.h"

#define LIMIT 4096

typedef struct Outcome {
        int r;          /* 1 done, 0 needs more, or the error */
        size_t used;    /* bytes of the body, when done */
        uint64_t data;
} Outcome;

/* Feeds s (n bytes) in two pieces split at cut (n: in one piece). */
static Outcome decode_split(const char *s, size_t n, size_t cut, uint64_t max) {
        HttpChunked d;
        Outcome o = { 0 };
        size_t used;
        const char *why = NULL;

        http_chunked_init(&d, max);
        o.r = http_chunked_feed(&d, s, cut, &used, &why);
        o.used = used;
        if (o.r == 0 && cut < n) {
                o.r = http_chunked_feed(&d, s + cut, n - cut, &used, &why);
                o.used += used;
        }
        if (o.r < 0)
                ck_assert_ptr_nonnull(why);
        ck_assert_int_eq(http_chunked_done(&d), o.r == 1);
        o.data = d.data;
        return o;
}

/* Decodes s at once, then split at every point and a byte at a time, and
 * checks that all agree. */
static Outcome decode(const char *s, uint64_t max) {
        size_t n = strlen(s);
        Outcome whole = decode_split(s, n, n, max);

        for (size_t cut = 0; cut < n; cut++) {
                Outcome o = decode_split(s, n, cut, max);
                ck_assert_msg(o.r == whole.r && (o.r != 1 || o.used == whole.used),
                              "split at %zu of \"%s\": %d/%zu, at once %d/%zu", cut, s, o.r, o.used, whole.r,
                              whole.used);
        }

        HttpChunked d;
        size_t used, total = 0;
        int r = 0;
        http_chunked_init(&d, max);
        for (size_t i = 0; i < n && r == 0; i++) {
                r = http_chunked_feed(&d, s + i, 1, &used, NULL);
                total += used;
        }
        ck_assert_msg(r == whole.r && (r != 1 || total == whole.used), "byte by byte \"%s\": %d, at once %d", s, r,
                      whole.r);
        return whole;
}

static const struct {
        const char *body;
        size_t len;        /* of the body proper: anything after it is the next request */
        uint64_t data;
} good[] = {
        { "0\r\n\r\n", 5, 0 },
        { "5\r\nhello\r\n0\r\n\r\n", 15, 5 },
        { "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", 15, 5 },
        { "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n", 35, 20 },
        { "000005\r\nhello\r\n00\r\n\r\n", 21, 5 },
        { "5;a\r\nhello\r\n0\r\n\r\n", 17, 5 },
        { "5;a=b\r\nhello\r\n0\r\n\r\n", 19, 5 },
        { "5 ;a=b\r\nhello\r\n0\r\n\r\n", 20, 5 },                      /* BWS before ";" */
        { "5; a = b ;c\r\nhello\r\n0\r\n\r\n", 25, 5 },
        { "5;a=\"q \\\" ;\"\r\nhello\r\n0\r\n\r\n", 26, 5 },              /* quoted, with a pair */
        { "5;a=\"\xc3\xa9\"\r\nhello\r\n0\r\n\r\n", 22, 5 },              /* obs-text in quotes */
        { "5;!#$%&'*+-.^_`|~=x\r\nhello\r\n0\r\n\r\n", 33, 5 },
        { "0;last\r\n\r\n", 10, 0 },
        { "0\r\nX-Trailer: v\r\nEmpty:\r\nY:  spaced value\t\r\n\r\n", 46, 0 },
        { "2\r\n\r\n\r\n0\r\n\r\n", 12, 2 },                             /* data may hold CRLF */
        { "3\r\n\0\x01\xff\r\n0\r\n\r\n", 13, 3 },
};

START_TEST(test_good) {
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                /* Bodies with a NUL are given with their length. */
                const char *s = good[i].body;
                if (memchr(s, '\0', good[i].len)) {
                        HttpChunked d;
                        size_t used;
                        http_chunked_init(&d, LIMIT);
                        ck_assert_int_eq(http_chunked_feed(&d, s, good[i].len, &used, NULL), 1);
                        ck_assert_uint_eq(used, good[i].len);
                        ck_assert_uint_eq(d.data, good[i].data);
                        continue;
                }
                Outcome o = decode(s, LIMIT);
                ck_assert_msg(o.r == 1, "case %zu (%s): %d", i, s, o.r);
                ck_assert_uint_eq(o.used, good[i].len);
                ck_assert_uint_eq(o.data, good[i].data);
        }
}
END_TEST

/* Each of these must be refused with 400. */
static const char *const bad[] = {
        "\r\n\r\n",                                  /* no size */
        ";\r\n\r\n",                                 /* bare ";" */
        "5;\r\nhello\r\n0\r\n\r\n",                  /* ";" without a name */
        "5; \r\nhello\r\n0\r\n\r\n",
        "5;=b\r\nhello\r\n0\r\n\r\n",
        "5;a=\r\nhello\r\n0\r\n\r\n",                /* "=" without a value */
        "5;a@b\r\nhello\r\n0\r\n\r\n",               /* invalid extension token */
        "5;a=b@\r\nhello\r\n0\r\n\r\n",
        "5;a=b c\r\nhello\r\n0\r\n\r\n",
        "5;a b\r\nhello\r\n0\r\n\r\n",
        "5;a=\"x\"y\r\nhello\r\n0\r\n\r\n",
        "5;a=\"x\r\nhello\r\n0\r\n\r\n",           /* CR in a quoted extension */
        "5;a=\"x\ry\"\r\nhello\r\n0\r\n\r\n",
        "5;a=\"x\x01y\"\r\nhello\r\n0\r\n\r\n",     /* control characters in extensions */
        "5;a=\"x\\\x01\"\r\nhello\r\n0\r\n\r\n",
        "5;a\x01\r\nhello\r\n0\r\n\r\n",
        "5;a=b\x7f\r\nhello\r\n0\r\n\r\n",
        "5;a=b \r\nhello\r\n0\r\n\r\n",             /* trailing whitespace */
        "5;a \r\nhello\r\n0\r\n\r\n",
        "_5\r\nhello\r\n0\r\n\r\n",                  /* not hexadecimal */
        "5_\r\nhello\r\n0\r\n\r\n",
        "1_0\r\n0123456789012345\r\n0\r\n\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "+5\r\nhello\r\n0\r\n\r\n",
        "-5\r\nhello\r\n0\r\n\r\n",                  /* negative */
        "g\r\n",
        " 5\r\nhello\r\n0\r\n\r\n",                  /* leading whitespace */
        "\t5\r\nhello\r\n0\r\n\r\n",
        "5 \r\nhello\r\n0\r\n\r\n",                  /* trailing whitespace */
        "5\t\r\nhello\r\n0\r\n\r\n",
        "10000000000000000\r\n",                     /* 2^64: overflows */
        "000000000000000000010000000000000000\r\n",
        "5\rhello\r\n0\r\n\r\n",                     /* bare CR terminators */
        "5\r\nhello\r0\r\n\r\n",
        "5\r\nhello\r\n0\r\r\n",
        "5\r\nhello\r\n0\r\n\r\r\n",
        "5\nhello\r\n0\r\n\r\n",                     /* bare LF */
        "5\r\nhello\n0\r\n\r\n",
        "5\r\nhello\r\n0\r\n\n",
        "5\r\nhelloX\r\n0\r\n\r\n",                  /* data spilling past the chunk */
        "5\r\nhello0\r\n\r\n",
        "3\r\nhello\r\n0\r\n\r\n",
        "0\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",    /* missing final CRLF */
        "0\r\nX : v\r\n\r\n",                        /* trailers checked like fields */
        "0\r\n v\r\n\r\n",
        "0\r\nX: a\r\n folded\r\n\r\n",
        "0\r\n: v\r\n\r\n",
        "0\r\nNoColon\r\n\r\n",
        "0\r\nBad(Name): v\r\n\r\n",
        "0\r\nX: a\x01z\r\n\r\n",
        "0\r\nX: a\rb\r\n\r\n",
        "0\r\nX: a\nY: b\r\n\r\n",
        NULL,
};

START_TEST(test_bad) {
        for (size_t i = 0; bad[i]; i++) {
                Outcome o = decode(bad[i], LIMIT);
                ck_assert_msg(o.r == -EBADMSG, "case %zu (%s): %d, not 400", i, bad[i], o.r);
        }
        /* A NUL in an extension or a trailer. */
        static const char nul_ext[] = "5;a\0\r\nhello\r\n0\r\n\r\n", nul_trailer[] = "0\r\nX: \0\r\n\r\n";
        HttpChunked d;
        size_t used;
        http_chunked_init(&d, LIMIT);
        ck_assert_int_eq(http_chunked_feed(&d, nul_ext, sizeof(nul_ext) - 1, &used, NULL), -EBADMSG);
        http_chunked_init(&d, LIMIT);
        ck_assert_int_eq(http_chunked_feed(&d, nul_trailer, sizeof(nul_trailer) - 1, &used, NULL), -EBADMSG);
        /* Once refused, it stays refused. */
        ck_assert_int_eq(http_chunked_feed(&d, "0\r\n\r\n", 5, &used, NULL), -EBADMSG);
}
END_TEST

/* A body that stops early is not done: at EOF, that is no final chunk. */
START_TEST(test_incomplete) {
        static const char *const incomplete[] = {
                "", "5", "5\r", "5\r\n", "5\r\nhel", "5\r\nhello", "5\r\nhello\r\n", "5\r\nhello\r\n0\r\n",
                "0\r\nX: v\r\n", "0\r\n\r", "5;a=\"x", NULL,
        };
        for (size_t i = 0; incomplete[i]; i++) {
                Outcome o = decode(incomplete[i], LIMIT);
                ck_assert_msg(o.r == 0, "case %zu (%s): %d", i, incomplete[i], o.r);
        }
}
END_TEST

START_TEST(test_limit) {
        /* A chunk that cannot fit is refused at its size line. */
        ck_assert_int_eq(decode("FFFFFFFFFFFFFFFF\r\n", LIMIT).r, -EFBIG);
        ck_assert_int_eq(decode("1001\r\n", LIMIT).r, -EFBIG);
        /* Bytes past the limit, whatever they are: data, extensions,
         * leading zeros, trailers. */
        char *s = malloc(LIMIT + 64);
        ck_assert_ptr_nonnull(s);
        for (size_t i = 0; i < 4; i++) {
                static const char *const heads[] = { "", "1;", "", "0\r\n" };
                static const char fill[] = { '\0', 'a', '0', '\0' };
                size_t l = strlen(heads[i]);
                memcpy(s, heads[i], l);
                if (i == 0) {
                        /* 1-byte chunks until past the limit. */
                        for (l = 0; l + 6 <= LIMIT + 6;)
                                l += (size_t) sprintf(s + l, "1\r\nx\r\n");
                } else if (i == 3) {
                        for (; l + 6 <= LIMIT + 6;)
                                l += (size_t) sprintf(s + l, "X: y\r\n");
                } else {
                        memset(s + l, fill[i], LIMIT + 1 - l);
                        l = LIMIT + 1;
                }
                s[l] = '\0';
                HttpChunked d;
                size_t used;
                http_chunked_init(&d, LIMIT);
                ck_assert_msg(http_chunked_feed(&d, s, l, &used, NULL) == -EFBIG, "case %zu", i);
        }
        free(s);
        /* Exactly at the limit is fine. */
        ck_assert_int_eq(decode("5\r\nhello\r\n0\r\n\r\n", 15).r, 1);
        ck_assert_int_eq(decode("5\r\nhello\r\n0\r\n\r\n", 14).r, -EFBIG);
        /* Malformed before the limit is 400, not 413. */
        ck_assert_int_eq(decode("5\r\nhelloXXXXXXXXXXXXXXXXXXXX", 15).r, -EBADMSG);
}
END_TEST

int main(void) {
        Suite *s = suite_create("http-chunked");

        TD_ADD_TEST(s, test_good);
        TD_ADD_TEST(s, test_bad);
        TD_ADD_TEST(s, test_incomplete);
        TD_ADD_TEST(s, test_limit);
        return td_run_suite(s);
}
