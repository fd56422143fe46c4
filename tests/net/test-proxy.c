/* SPDX-License-Identifier: MIT */
/* The PROXY protocol parser (src/net/proxy.c) and reader (proxy-read.c):
 * the spec's examples, every prefix of a header being "need more", and
 * every kind of malformed header being refused with its reason. */
#include <arpa/inet.h>
#include <check.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "testlib.h"
#include "macros.h"
#include "proxy-read.h"
#include "proxy.h"

static const uint8_t sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };

/* A v2 header: signature, ver_cmd, fam, then len bytes of block. */
static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const void *block, size_t len) {
        memcpy(out, sig, 12);
        out[12] = ver_cmd;
        out[13] = fam;
        out[14] = (uint8_t) (len >> 8);
        out[15] = (uint8_t) len;
        if (len > 0)
                memcpy(out + 16, block, len);
        return 16 + len;
}

/* The IPv4 block of 192.168.0.1:56324 -> 192.168.0.11:443. */
static size_t block4(uint8_t *b) {
        static const uint8_t x[12] = { 192, 168, 0, 1, 192, 168, 0, 11, 0xDC, 0x04, 0x01, 0xBB };
        memcpy(b, x, sizeof x);
        return sizeof x;
}

static void assert_addr(const struct sockaddr_storage *ss, socklen_t len, const char *want_ip, unsigned want_port) {
        char ip[INET6_ADDRSTRLEN];
        unsigned port;

        if (ss->ss_family == AF_INET) {
                const struct sockaddr_in *s = (const struct sockaddr_in *) ss;
                ck_assert_uint_eq(len, sizeof *s);
                inet_ntop(AF_INET, &s->sin_addr, ip, sizeof ip);
                port = ntohs(s->sin_port);
        } else {
                const struct sockaddr_in6 *s = (const struct sockaddr_in6 *) ss;
                ck_assert_int_eq(ss->ss_family, AF_INET6);
                ck_assert_uint_eq(len, sizeof *s);
                inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof ip);
                port = ntohs(s->sin6_port);
        }
        ck_assert_str_eq(ip, want_ip);
        ck_assert_uint_eq(port, want_port);
}

/* buf (n bytes) holds a complete header of hlen bytes, maybe followed by
 * more: every shorter prefix is "need more", the whole is hlen. */
static void assert_complete(const void *buf, size_t n, size_t hlen, ProxyMode mode, ProxyHeader *ret) {
        const char *why = NULL;

        for (size_t k = 0; k < hlen; k++) {
                int r = proxy_parse(buf, k, mode, ret, &why);
                ck_assert_msg(r == 0, "prefix of %zu of %zu bytes: %d (%s)", k, hlen, r, r < 0 ? why : "");
                ck_assert_uint_gt(proxy_header_bound(buf, k), k);
        }
        ck_assert_int_eq(proxy_parse(buf, n, mode, ret, &why), (int) hlen);
        ck_assert_uint_eq(ret->length, hlen);
}

static void assert_bad(const void *buf, size_t n, ProxyMode mode, const char *why_part) {
        ProxyHeader h;
        const char *why = NULL;
        int r = proxy_parse(buf, n, mode, &h, &why);

        ck_assert_msg(r == -EBADMSG, "accepted (%d): %.*s", r, (int) MIN(n, (size_t) 60), (const char *) buf);
        ck_assert_ptr_nonnull(why);
        ck_assert_msg(strstr(why, why_part), "'%s' lacks '%s'", why, why_part);
}

static void assert_bad_v1(const char *line, const char *why_part) {
        assert_bad(line, strlen(line), PROXY_V1, why_part);
        assert_bad(line, strlen(line), PROXY_ANY, why_part);
}

START_TEST(test_modes) {
        ck_assert_int_eq(proxy_mode_from_string("off"), PROXY_OFF);
        ck_assert_int_eq(proxy_mode_from_string("v1"), PROXY_V1);
        ck_assert_int_eq(proxy_mode_from_string("v2"), PROXY_V2);
        ck_assert_int_eq(proxy_mode_from_string("any"), PROXY_ANY);
        ck_assert_int_eq(proxy_mode_from_string("V1"), -EINVAL);
        ck_assert_int_eq(proxy_mode_from_string(NULL), -EINVAL);
        ck_assert_str_eq(proxy_mode_to_string(PROXY_ANY), "any");
        ck_assert_ptr_null(proxy_mode_to_string(_PROXY_MODE_MAX));
}
END_TEST

/* The spec's example (section 2.1): the header ends at its CRLF, the
 * request after it is not part of it. */
START_TEST(test_v1_spec_example) {
        static const char in[] = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
                                 "GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n";
        size_t hlen = strlen("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
        ProxyHeader h;

        assert_complete(in, strlen(in), hlen, PROXY_V1, &h);
        ck_assert_uint_eq(h.version, 1);
        ck_assert(!h.local);
        assert_addr(&h.source, h.source_len, "192.168.0.1", 56324);
        assert_addr(&h.destination, h.destination_len, "192.168.0.11", 443);
        assert_complete(in, strlen(in), hlen, PROXY_ANY, &h);
}
END_TEST

START_TEST(test_v1_forms) {
        ProxyHeader h;
        const char *l;

        l = "PROXY TCP6 2001:db8::1 ::1 0 65535\r\n";
        assert_complete(l, strlen(l), strlen(l), PROXY_V1, &h);
        assert_addr(&h.source, h.source_len, "2001:db8::1", 0);
        assert_addr(&h.destination, h.destination_len, "::1", 65535);

        l = "PROXY TCP6 FFFF:ffff:ffff:ffff:ffff:ffff:ffff:ffff 0000:0:0:0:0:0:0:1 1 2\r\n";
        assert_complete(l, strlen(l), strlen(l), PROXY_V1, &h);
        assert_addr(&h.source, h.source_len, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1);

        l = "PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n";
        assert_complete(l, strlen(l), strlen(l), PROXY_V1, &h);
        assert_addr(&h.source, h.source_len, "255.255.255.255", 65535);

        /* UNKNOWN: the real endpoints; anything up to the CRLF ignored. */
        l = "PROXY UNKNOWN\r\n";
        assert_complete(l, strlen(l), strlen(l), PROXY_V1, &h);
        ck_assert(h.local);
        l = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
        ck_assert_uint_eq(strlen(l), PROXY_V1_MAX);
        assert_complete(l, strlen(l), strlen(l), PROXY_V1, &h);
        ck_assert(h.local);
}
END_TEST

START_TEST(test_v1_malformed) {
        char longline[200];

        /* Over 107 bytes without a CRLF: refused at byte 107, whatever follows. */
        memset(longline, 0, sizeof longline);
        memcpy(longline, "PROXY UNKNOWN ", 14);
        memset(longline + 14, 'a', 120);
        assert_bad(longline, PROXY_V1_MAX, PROXY_V1, "107");
        assert_bad(longline, 134, PROXY_V1, "107");
        strcpy(longline + 106, "\r\n");
        assert_bad(longline, 108, PROXY_V1, "107");

        assert_bad_v1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "LF without CR");
        assert_bad_v1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", "CR not followed by LF");
        /* A CR at the end of what came so far is judged with the next byte. */
        ck_assert_int_eq(proxy_parse("PROXY TCP4 1.2.3.4\r", 19, PROXY_V1, &(ProxyHeader) { 0 }, NULL), 0);
        assert_bad_v1("PROXY TCP4 1.2.3.4\r ", "CR not followed by LF");
        assert_bad_v1("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "TCP4, TCP6 or UNKNOWN");
        assert_bad_v1("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "TCP4, TCP6 or UNKNOWN");
        assert_bad_v1("PROXY UNKNOWNX\r\n", "TCP4, TCP6 or UNKNOWN");
        assert_bad_v1("PROXY TCP4\r\n", "TCP4, TCP6 or UNKNOWN");
        assert_bad_v1("PROXY X", "TCP4, TCP6 or UNKNOWN");
        assert_bad_v1("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "TCP4, TCP6 or UNKNOWN");
        assert_bad_v1("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "fewer than four");
        assert_bad_v1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "more than four");
        assert_bad_v1("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", "empty field");
        assert_bad_v1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "more than four");
        assert_bad_v1("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "IPv4");
        assert_bad_v1("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", "IPv4");
        assert_bad_v1("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", "IPv4");
        assert_bad_v1("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", "IPv4");
        assert_bad_v1("PROXY TCP4 1.2..4 5.6.7.8 1 2\r\n", "IPv4");
        assert_bad_v1("PROXY TCP4 1.2.3.1234 5.6.7.8 1 2\r\n", "IPv4");
        assert_bad_v1("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "IPv4");
        assert_bad_v1("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "IPv6");
        assert_bad_v1("PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n", "IPv6");
        assert_bad_v1("PROXY TCP6 1::2::3 ::1 1 2\r\n", "IPv6");
        assert_bad_v1("PROXY TCP6 12345::1 ::1 1 2\r\n", "IPv6");
        assert_bad_v1("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "port");
        assert_bad_v1("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "port");
        assert_bad_v1("PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n", "port");
        assert_bad_v1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2x\r\n", "port");
        assert_bad_v1("PROXY TCP4 1.2.3.4 5.6.7.8 1 100000\r\n", "port");

        /* Not a header at all, or the other version's. */
        assert_bad("GET / HTTP/1.1\r\n\r\n", 18, PROXY_V1, "no PROXY header");
        assert_bad("G", 1, PROXY_V1, "no PROXY header");
        assert_bad("PROXX", 5, PROXY_ANY, "no PROXY header");
        assert_bad(sig, sizeof sig, PROXY_V1, "PROXY v2 header, but proxy_protocol is \"v1\"");
}
END_TEST

START_TEST(test_v2_tcp4_and_tlvs) {
        uint8_t buf[512], block[256];
        size_t n = block4(block), hlen;
        ProxyHeader h;

        hlen = v2(buf, 0x21, 0x11, block, n);
        memcpy(buf + hlen, "GET / HTTP/1.1\r\n\r\n", 18);
        assert_complete(buf, hlen + 18, hlen, PROXY_V2, &h);
        ck_assert_uint_eq(h.version, 2);
        ck_assert(!h.local);
        assert_addr(&h.source, h.source_len, "192.168.0.1", 56324);
        assert_addr(&h.destination, h.destination_len, "192.168.0.11", 443);
        assert_complete(buf, hlen + 18, hlen, PROXY_ANY, &h);

        /* TLVs (ALPN "h2", NOOP of 0 bytes, a custom one) are skipped. */
        memcpy(block + n, "\x01\x00\x02h2\x04\x00\x00\xE0\x00\x03xyz", 14);
        hlen = v2(buf, 0x21, 0x11, block, n + 14);
        assert_complete(buf, hlen, hlen, PROXY_V2, &h);
        assert_addr(&h.source, h.source_len, "192.168.0.1", 56324);
}
END_TEST

START_TEST(test_v2_tcp6_unix_local) {
        uint8_t buf[512], block[300] = { 0 };
        size_t hlen;
        ProxyHeader h;

        /* 2001:db8::1 port 1 -> ::1 port 2 */
        inet_pton(AF_INET6, "2001:db8::1", block);
        inet_pton(AF_INET6, "::1", block + 16);
        block[33] = 1;
        block[35] = 2;
        hlen = v2(buf, 0x21, 0x21, block, 36);
        assert_complete(buf, hlen, hlen, PROXY_V2, &h);
        assert_addr(&h.source, h.source_len, "2001:db8::1", 1);
        assert_addr(&h.destination, h.destination_len, "::1", 2);

        /* UNIX stream: two 108-byte paths. */
        memset(block, 0, sizeof block);
        strcpy((char *) block, "/run/client.sock");
        strcpy((char *) block + 108, "/run/server.sock");
        hlen = v2(buf, 0x21, 0x31, block, 216);
        assert_complete(buf, hlen, hlen, PROXY_V2, &h);
        ck_assert(!h.local);
        ck_assert_int_eq(h.source.ss_family, AF_UNIX);
        ck_assert_str_eq(((struct sockaddr_un *) &h.source)->sun_path, "/run/client.sock");
        ck_assert_uint_eq(h.source_len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/client.sock") + 1);

        /* LOCAL (a health check): the real endpoints, and any address
         * block skipped, whatever the family says. */
        hlen = v2(buf, 0x20, 0x00, NULL, 0);
        assert_complete(buf, hlen, hlen, PROXY_V2, &h);
        ck_assert(h.local);
        hlen = v2(buf, 0x20, 0x11, block, 12);
        assert_complete(buf, hlen, hlen, PROXY_V2, &h);
        ck_assert(h.local);
        hlen = v2(buf, 0x20, 0xFF, block, 5);
        assert_complete(buf, hlen, hlen, PROXY_V2, &h);
        ck_assert(h.local);

        /* PROXY with UNSPEC, or a datagram family: fall back to the real
         * endpoints (section 2.2). */
        hlen = v2(buf, 0x21, 0x00, block, 7);
        assert_complete(buf, hlen, hlen, PROXY_V2, &h);
        ck_assert(h.local);
        hlen = v2(buf, 0x21, 0x12, block, 12);
        assert_complete(buf, hlen, hlen, PROXY_V2, &h);
        ck_assert(h.local);
}
END_TEST

START_TEST(test_v2_malformed) {
        uint8_t buf[512], block[300] = { 0 };
        size_t n = block4(block), hlen;

        /* Wrong version (0x1_, 0x3_): refused at the 13th byte already. */
        hlen = v2(buf, 0x11, 0x11, block, n);
        assert_bad(buf, 13, PROXY_V2, "wrong version");
        assert_bad(buf, hlen, PROXY_ANY, "wrong version");
        hlen = v2(buf, 0x31, 0x11, block, n);
        assert_bad(buf, hlen, PROXY_V2, "wrong version");
        /* Unknown command. */
        hlen = v2(buf, 0x22, 0x11, block, n);
        assert_bad(buf, hlen, PROXY_V2, "unknown command");
        /* Unknown family or protocol. */
        hlen = v2(buf, 0x21, 0x41, block, n);
        assert_bad(buf, 16, PROXY_V2, "unknown address family");
        hlen = v2(buf, 0x21, 0x13, block, n);
        assert_bad(buf, hlen, PROXY_V2, "unknown address family");
        hlen = v2(buf, 0x21, 0x01, block, n);
        assert_bad(buf, hlen, PROXY_V2, "unknown address family");
        /* A length that lies short of the family's addresses. */
        hlen = v2(buf, 0x21, 0x11, block, 11);
        assert_bad(buf, 16, PROXY_V2, "too short for the address family");
        hlen = v2(buf, 0x21, 0x21, block, 12);
        assert_bad(buf, hlen, PROXY_V2, "too short for the address family");
        hlen = v2(buf, 0x21, 0x31, block, 215);
        assert_bad(buf, hlen, PROXY_V2, "too short for the address family");
        /* A length that lies long: the request that follows is read as
         * TLVs, which do not fit. */
        hlen = v2(buf, 0x21, 0x11, block, n);
        buf[15] = (uint8_t) (n + 20);
        memcpy(buf + hlen, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
        assert_bad(buf, hlen + 27, PROXY_V2, "TLV is longer");
        /* TLV framing. */
        memcpy(block + n, "\x01\x00\x05h2", 5);
        hlen = v2(buf, 0x21, 0x11, block, n + 5);
        assert_bad(buf, hlen, PROXY_V2, "TLV is longer");
        hlen = v2(buf, 0x21, 0x11, block, n + 2);
        assert_bad(buf, hlen, PROXY_V2, "truncated TLV");

        /* A broken signature, and the other version's header. */
        hlen = v2(buf, 0x21, 0x11, block, n);
        buf[11] = 0x0B;
        assert_bad(buf, hlen, PROXY_V2, "no PROXY header");
        buf[11] = 0x0A;
        buf[4] = 'x';
        assert_bad(buf, 5, PROXY_ANY, "no PROXY header");
        assert_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 32, PROXY_V2, "PROXY v1 header, but proxy_protocol is \"v2\"");
        assert_bad("\r\n\r\n\r", 5, PROXY_V2, "no PROXY header");
}
END_TEST

START_TEST(test_bound) {
        uint8_t buf[600], block[600] = { 0 };
        size_t hlen;

        ck_assert_uint_eq(proxy_header_bound("", 0), PROXY_V1_MAX);
        ck_assert_uint_eq(proxy_header_bound("PROXY", 5), PROXY_V1_MAX);
        hlen = v2(buf, 0x21, 0x11, block, 500);
        ck_assert_uint_eq(proxy_header_bound(buf, 12), PROXY_V1_MAX);
        ck_assert_uint_eq(proxy_header_bound(buf, 16), hlen);
        ck_assert_uint_eq(proxy_header_bound(buf, 200), hlen);
}
END_TEST

/* The reader takes exactly the header off the socket however it arrives,
 * and leaves what follows. */
START_TEST(test_read_split) {
        static const char hdr[] = "PROXY TCP4 10.1.2.3 10.0.0.1 4000 80\r\n";
        _cleanup_close_ int a = -EBADF, b = -EBADF;
        uint8_t buf[PROXY_HEADER_MAX];
        const char *why = NULL;
        ProxyHeader h;
        size_t n = 0;
        char rest[16] = "";
        int fds[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
        a = fds[0];
        b = fds[1];
        for (size_t i = 0; i < strlen(hdr) - 1; i++) {
                ck_assert_int_eq(send(a, hdr + i, 1, 0), 1);
                ck_assert_int_eq(proxy_read(b, PROXY_ANY, buf, sizeof buf, &n, &h, &why), 0);
                ck_assert_uint_eq(n, i + 1);
        }
        ck_assert_int_eq(send(a, "\nhello", 6, 0), 6);
        ck_assert_int_eq(proxy_read(b, PROXY_ANY, buf, sizeof buf, &n, &h, &why), 1);
        ck_assert_uint_eq(n, strlen(hdr));
        assert_addr(&h.source, h.source_len, "10.1.2.3", 4000);
        ck_assert_int_eq(recv(b, rest, sizeof rest, MSG_DONTWAIT), 5);
        ck_assert_str_eq(rest, "hello");
}
END_TEST

START_TEST(test_read_v2_large_and_errors) {
        _cleanup_close_ int a = -EBADF, b = -EBADF;
        uint8_t hdr[700], block[700] = { 0 }, small[200];
        uint8_t buf[PROXY_HEADER_MAX];
        const char *why = NULL;
        ProxyHeader h;
        size_t n = 0, hlen;
        int fds[2];

        /* A header longer than the first look-ahead, with a TLV of 600
         * bytes: the reader asks for room, then takes it all. */
        block4(block);
        block[12] = 0xE0;
        block[13] = 600 >> 8;
        block[14] = 600 & 0xFF;
        hlen = v2(hdr, 0x21, 0x11, block, 12 + 3 + 600);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
        a = fds[0];
        b = fds[1];
        ck_assert_int_eq(send(a, hdr, 100, 0), 100);
        ck_assert_int_eq(proxy_read(b, PROXY_V2, small, sizeof small, &n, &h, &why), -ENOBUFS);
        ck_assert_uint_eq(n, 100);
        ck_assert_uint_eq(proxy_header_bound(small, n), hlen);
        memcpy(buf, small, n);
        ck_assert_int_eq(proxy_read(b, PROXY_V2, buf, sizeof buf, &n, &h, &why), 0);
        ck_assert_uint_eq(n, 100);
        ck_assert_int_eq(send(a, hdr + 100, hlen - 100, 0), (ssize_t) (hlen - 100));
        ck_assert_int_eq(send(a, "X", 1, 0), 1);
        ck_assert_int_eq(proxy_read(b, PROXY_V2, buf, sizeof buf, &n, &h, &why), 1);
        ck_assert_uint_eq(n, hlen);
        ck_assert_int_eq(recv(b, small, sizeof small, MSG_DONTWAIT), 1);
        ck_assert_int_eq(small[0], 'X');

        /* Garbage: refused with the parser's reason. */
        n = 0;
        ck_assert_int_eq(send(a, "GET / HTTP/1.0\r\n\r\n", 18, 0), 18);
        ck_assert_int_eq(proxy_read(b, PROXY_ANY, buf, sizeof buf, &n, &h, &why), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(why, "no PROXY header"));
        ck_assert_int_eq(recv(b, small, sizeof small, MSG_DONTWAIT), 18);

        /* A truncated header: the peer closes in its middle. */
        n = 0;
        ck_assert_int_eq(send(a, "PROXY TCP4 1.2", 14, 0), 14);
        ck_assert_int_eq(proxy_read(b, PROXY_ANY, buf, sizeof buf, &n, &h, &why), 0);
        ck_assert_int_eq(shutdown(a, SHUT_WR), 0);
        ck_assert_int_eq(proxy_read(b, PROXY_ANY, buf, sizeof buf, &n, &h, &why), -ECONNRESET);
        ck_assert_ptr_nonnull(strstr(why, "middle of the PROXY header"));
}
END_TEST

int main(void) {
        Suite *s = suite_create("proxy");
        TCase *tc = tcase_create("proxy");

        tcase_add_test(tc, test_modes);
        tcase_add_test(tc, test_v1_spec_example);
        tcase_add_test(tc, test_v1_forms);
        tcase_add_test(tc, test_v1_malformed);
        tcase_add_test(tc, test_v2_tcp4_and_tlvs);
        tcase_add_test(tc, test_v2_tcp6_unix_local);
        tcase_add_test(tc, test_v2_malformed);
        tcase_add_test(tc, test_bound);
        tcase_add_test(tc, test_read_split);
        tcase_add_test(tc, test_read_v2_large_and_errors);
        suite_add_tcase(s, tc);
        return td_run_suite(s);
}
