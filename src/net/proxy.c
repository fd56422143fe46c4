/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <assert.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#include "macros.h"
#include "proxy.h"

static const uint8_t v2_signature[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };
static const char v1_signature[] = "PROXY ";
#define V1_SIGNATURE_LEN (sizeof v1_signature - 1)

/* v2, the 14th byte: address family (high nibble) and transport protocol. */
enum {
        V2_UNSPEC = 0x00,
        V2_TCP4 = 0x11,
        V2_UDP4 = 0x12,
        V2_TCP6 = 0x21,
        V2_UDP6 = 0x22,
        V2_UNIX_STREAM = 0x31,
        V2_UNIX_DGRAM = 0x32,
};

enum {
        V2_CMD_LOCAL = 0x0,
        V2_CMD_PROXY = 0x1,
};

#define V2_UNIX_PATH 108U

static const char *const mode_names[_PROXY_MODE_MAX] = {
        [PROXY_OFF] = "off",
        [PROXY_V1] = "v1",
        [PROXY_V2] = "v2",
        [PROXY_ANY] = "any",
};

const char *proxy_mode_to_string(ProxyMode m) {
        return (unsigned) m < _PROXY_MODE_MAX ? mode_names[m] : NULL;
}

int proxy_mode_from_string(const char *s) {
        for (size_t i = 0; s && i < _PROXY_MODE_MAX; i++)
                if (strcmp(s, mode_names[i]) == 0)
                        return (int) i;
        return -EINVAL;
}

static int fail(const char **ret_why, const char *why) {
        if (ret_why)
                *ret_why = why;
        return -EBADMSG;
}

/* Whether the n bytes of buf could begin sig (or do, when n is longer). */
static bool begins(const uint8_t *buf, size_t n, const void *sig, size_t sig_len) {
        return memcmp(buf, sig, MIN(n, sig_len)) == 0;
}

/* The size of the v2 address block that the family and protocol byte
 * announces; 0 for UNSPEC; SIZE_MAX for a byte the spec does not define. */
static size_t v2_address_size(uint8_t fam) {
        switch (fam) {
        case V2_UNSPEC:
                return 0;
        case V2_TCP4:
        case V2_UDP4:
                return 2 * 4 + 2 * 2;
        case V2_TCP6:
        case V2_UDP6:
                return 2 * 16 + 2 * 2;
        case V2_UNIX_STREAM:
        case V2_UNIX_DGRAM:
                return 2 * V2_UNIX_PATH;
        default:
                return SIZE_MAX;
        }
}

static void set_inet(struct sockaddr_storage *ss, socklen_t *len, const uint8_t *addr, const uint8_t *port) {
        struct sockaddr_in *sin = (struct sockaddr_in *) ss;

        *sin = (struct sockaddr_in) { .sin_family = AF_INET };
        memcpy(&sin->sin_addr, addr, 4);
        memcpy(&sin->sin_port, port, 2);
        *len = sizeof *sin;
}

static void set_inet6(struct sockaddr_storage *ss, socklen_t *len, const uint8_t *addr, const uint8_t *port) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;

        *sin6 = (struct sockaddr_in6) { .sin6_family = AF_INET6 };
        memcpy(&sin6->sin6_addr, addr, 16);
        memcpy(&sin6->sin6_port, port, 2);
        *len = sizeof *sin6;
}

/* A v2 unix address: 108 bytes, the path NUL-padded (or not terminated at
 * all when it takes all 108). */
static void set_unix(struct sockaddr_storage *ss, socklen_t *len, const uint8_t *path) {
        struct sockaddr_un *un = (struct sockaddr_un *) ss;
        size_t n = strnlen((const char *) path, V2_UNIX_PATH);

        *un = (struct sockaddr_un) { .sun_family = AF_UNIX };
        memcpy(un->sun_path, path, n);
        *len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + (n < sizeof un->sun_path ? 1 : 0));
}

/* The TLVs after the address block: each must fit, and together they
 * must fill the header exactly. Their contents are not used. A header
 * whose length lies (announces more than the sender wrote) usually ends
 * up here, reading the request after it as TLVs that do not fit. */
static int v2_check_tlvs(const uint8_t *b, size_t off, size_t total, const char **ret_why) {
        while (off < total) {
                size_t len;

                if (total - off < 3)
                        return fail(ret_why, "PROXY v2: truncated TLV after the addresses");
                len = (size_t) b[off + 1] << 8 | b[off + 2];
                if (len > total - off - 3)
                        return fail(ret_why, "PROXY v2: a TLV is longer than what is left of the header");
                off += 3 + len;
        }
        return 0;
}

static int parse_v2(const uint8_t *b, size_t n, ProxyHeader *ret, const char **ret_why) {
        ProxyHeader h = { .version = 2 };
        size_t need, total;
        uint8_t cmd, fam;

        /* The bytes are judged as they come, so that garbage is refused
         * at once rather than after the timeout. */
        if (n > 12 && b[12] >> 4 != 2)
                return fail(ret_why, "PROXY v2: wrong version (the 13th byte's high nibble is not 2)");
        if (n > 12 && (b[12] & 0x0F) > V2_CMD_PROXY)
                return fail(ret_why, "PROXY v2: unknown command (neither LOCAL nor PROXY)");
        if (n < PROXY_V2_FIXED)
                return 0;

        cmd = b[12] & 0x0F;
        fam = b[13];
        total = PROXY_V2_FIXED + ((size_t) b[14] << 8 | b[15]);
        need = v2_address_size(fam);
        /* LOCAL: the family is ignored, and so is the address block,
         * whatever its length. */
        if (cmd == V2_CMD_PROXY) {
                if (need == SIZE_MAX)
                        return fail(ret_why, "PROXY v2: unknown address family or transport protocol");
                if (total - PROXY_V2_FIXED < need)
                        return fail(ret_why, "PROXY v2: the length is too short for the address family");
        }
        if (n < total)
                return 0;

        if (cmd == V2_CMD_LOCAL)
                h.local = true;
        else {
                const uint8_t *a = b + PROXY_V2_FIXED;
                int r;

                switch (fam) {
                case V2_TCP4:
                        set_inet(&h.source, &h.source_len, a, a + 8);
                        set_inet(&h.destination, &h.destination_len, a + 4, a + 10);
                        break;
                case V2_TCP6:
                        set_inet6(&h.source, &h.source_len, a, a + 32);
                        set_inet6(&h.destination, &h.destination_len, a + 16, a + 34);
                        break;
                case V2_UNIX_STREAM:
                        set_unix(&h.source, &h.source_len, a);
                        set_unix(&h.destination, &h.destination_len, a + V2_UNIX_PATH);
                        break;
                default:
                        /* UNSPEC, or a datagram family on a stream
                         * connection: the spec lets a receiver fall back to
                         * the real endpoints. */
                        h.local = true;
                        break;
                }
                if (fam != V2_UNSPEC) {
                        r = v2_check_tlvs(b, PROXY_V2_FIXED + need, total, ret_why);
                        if (r < 0)
                                return r;
                }
        }
        h.length = total;
        *ret = h;
        return (int) total;
}

/* A v1 IPv4 address: exactly four decimal numbers 0-255 without leading
 * zeros, one dot between each. */
static bool v1_parse_ipv4(const char *s, size_t n, struct in_addr *ret) {
        uint8_t out[4];
        size_t i = 0;

        for (unsigned part = 0; part < 4; part++) {
                unsigned v = 0;
                size_t start = i;

                if (part > 0) {
                        if (i >= n || s[i] != '.')
                                return false;
                        start = ++i;
                }
                while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3)
                        v = v * 10 + (unsigned) (s[i++] - '0');
                if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
                        return false;
                out[part] = (uint8_t) v;
        }
        if (i != n)
                return false;
        memcpy(ret, out, 4);
        return true;
}

/* A v1 IPv6 address: hex groups and colons, at most one "::" (which
 * inet_pton() enforces); no embedded IPv4 dotted form. */
static bool v1_parse_ipv6(const char *s, size_t n, struct in6_addr *ret) {
        char tmp[INET6_ADDRSTRLEN];

        if (n == 0 || n > 39)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("0123456789abcdefABCDEF:", s[i]) || s[i] == 0)
                        return false;
        memcpy(tmp, s, n);
        tmp[n] = 0;
        return inet_pton(AF_INET6, tmp, ret) == 1;
}

/* A v1 port: decimal 0-65535 without leading zeros. */
static bool v1_parse_port(const char *s, size_t n, uint16_t *ret) {
        unsigned v = 0;

        if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        if (v > 65535)
                return false;
        *ret = htons((uint16_t) v);
        return true;
}

/* The fields after "PROXY TCP4 " / "PROXY TCP6 ", up to (not including)
 * the CRLF: source, destination, source port, destination port, exactly
 * one space between each. */
static int v1_parse_fields(const char *s, size_t n, int family, ProxyHeader *h, const char **ret_why) {
        const char *field[4];
        size_t len[4], f = 0, start = 0;
        uint16_t sport, dport;

        for (size_t i = 0; i <= n; i++) {
                if (i < n && s[i] != ' ')
                        continue;
                if (f == 4)
                        return fail(ret_why, "PROXY v1: more than four fields after the protocol");
                field[f] = s + start;
                len[f] = i - start;
                if (len[f] == 0)
                        return fail(ret_why, "PROXY v1: an empty field (exactly one space must separate fields)");
                f++;
                start = i + 1;
        }
        if (f != 4)
                return fail(ret_why, "PROXY v1: fewer than four fields after the protocol");
        if (!v1_parse_port(field[2], len[2], &sport) || !v1_parse_port(field[3], len[3], &dport))
                return fail(ret_why, "PROXY v1: a port is not a decimal number 0-65535 without leading zeros");

        if (family == AF_INET) {
                struct sockaddr_in *src = (struct sockaddr_in *) &h->source, *dst = (struct sockaddr_in *) &h->destination;

                *src = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = sport };
                *dst = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = dport };
                if (!v1_parse_ipv4(field[0], len[0], &src->sin_addr) || !v1_parse_ipv4(field[1], len[1], &dst->sin_addr))
                        return fail(ret_why, "PROXY v1: an address is not an IPv4 address in dotted decimal form");
                h->source_len = h->destination_len = sizeof(struct sockaddr_in);
        } else {
                struct sockaddr_in6 *src = (struct sockaddr_in6 *) &h->source,
                                    *dst = (struct sockaddr_in6 *) &h->destination;

                *src = (struct sockaddr_in6) { .sin6_family = AF_INET6, .sin6_port = sport };
                *dst = (struct sockaddr_in6) { .sin6_family = AF_INET6, .sin6_port = dport };
                if (!v1_parse_ipv6(field[0], len[0], &src->sin6_addr) || !v1_parse_ipv6(field[1], len[1], &dst->sin6_addr))
                        return fail(ret_why, "PROXY v1: an address is not an IPv6 address in hexadecimal form");
                h->source_len = h->destination_len = sizeof(struct sockaddr_in6);
        }
        return 0;
}

/* Whether the protocol token that begins at s (n bytes, maybe not all of
 * it yet) can still be one the spec allows. */
static bool v1_protocol_possible(const char *s, size_t n) {
        static const char *const protocols[] = { "TCP4 ", "TCP6 ", "UNKNOWN" };

        for (size_t i = 0; i < ELEMENTSOF(protocols); i++)
                if (memcmp(s, protocols[i], MIN(n, strlen(protocols[i]))) == 0)
                        return true;
        return false;
}

static int parse_v1(const uint8_t *b, size_t n, ProxyHeader *ret, const char **ret_why) {
        const char *s = (const char *) b;
        ProxyHeader h = { .version = 1 };
        size_t end = 0, lim = MIN(n, (size_t) PROXY_V1_MAX);
        int r;

        /* Only CRLF ends the line: a lone CR or LF is an error, found as
         * soon as it arrives. */
        for (size_t i = 0; i < lim; i++) {
                if (s[i] == '\n')
                        return fail(ret_why, "PROXY v1: LF without CR");
                if (s[i] != '\r')
                        continue;
                if (i + 1 == n)
                        break;
                if (s[i + 1] != '\n')
                        return fail(ret_why, "PROXY v1: CR not followed by LF");
                end = i + 2;
                break;
        }
        if (n > V1_SIGNATURE_LEN && !v1_protocol_possible(s + V1_SIGNATURE_LEN, (end ? end - 2 : lim) - V1_SIGNATURE_LEN))
                return fail(ret_why, "PROXY v1: the protocol is not TCP4, TCP6 or UNKNOWN");
        if (end == 0) {
                if (n >= PROXY_V1_MAX)
                        return fail(ret_why, "PROXY v1: no CRLF within the first 107 bytes");
                return 0;
        }
        if (end > PROXY_V1_MAX)
                return fail(ret_why, "PROXY v1: no CRLF within the first 107 bytes");

        const char *p = s + V1_SIGNATURE_LEN;
        size_t left = end - 2 - V1_SIGNATURE_LEN;

        if (left >= 7 && memcmp(p, "UNKNOWN", 7) == 0) {
                /* What follows UNKNOWN up to the CRLF is to be ignored. */
                if (left > 7 && p[7] != ' ')
                        return fail(ret_why, "PROXY v1: the protocol is not TCP4, TCP6 or UNKNOWN");
                h.local = true;
        } else if (left >= 5 && (memcmp(p, "TCP4 ", 5) == 0 || memcmp(p, "TCP6 ", 5) == 0)) {
                r = v1_parse_fields(p + 5, left - 5, p[3] == '4' ? AF_INET : AF_INET6, &h, ret_why);
                if (r < 0)
                        return r;
        } else
                return fail(ret_why, "PROXY v1: the protocol is not TCP4, TCP6 or UNKNOWN");
        h.length = end;
        *ret = h;
        return (int) end;
}

int proxy_parse(const void *buf, size_t n, ProxyMode mode, ProxyHeader *ret, const char **ret_why) {
        const uint8_t *b = buf;
        bool v1 = IN_SET(mode, PROXY_V1, PROXY_ANY), v2 = IN_SET(mode, PROXY_V2, PROXY_ANY);

        assert(buf || n == 0);
        assert(ret);
        assert(IN_SET(mode, PROXY_V1, PROXY_V2, PROXY_ANY));

        if (n == 0)
                return 0;
        if (v2 && begins(b, n, v2_signature, sizeof v2_signature))
                return parse_v2(b, n, ret, ret_why);
        if (v1 && begins(b, n, v1_signature, V1_SIGNATURE_LEN))
                return parse_v1(b, n, ret, ret_why);
        /* The other version's complete signature: say so, it is a
         * misconfiguration on one side or the other. */
        if (mode == PROXY_V1 && n >= sizeof v2_signature && begins(b, n, v2_signature, sizeof v2_signature))
                return fail(ret_why, "a PROXY v2 header, but proxy_protocol is \"v1\"");
        if (mode == PROXY_V2 && n >= V1_SIGNATURE_LEN && begins(b, n, v1_signature, V1_SIGNATURE_LEN))
                return fail(ret_why, "a PROXY v1 header, but proxy_protocol is \"v2\"");
        return fail(ret_why, "no PROXY header (a PROXY header is required on this listener)");
}

size_t proxy_header_bound(const void *buf, size_t n) {
        const uint8_t *b = buf;

        if (n >= PROXY_V2_FIXED && begins(b, n, v2_signature, sizeof v2_signature))
                return MAX(PROXY_V2_FIXED + ((size_t) b[14] << 8 | b[15]), n + 1);
        return MAX((size_t) PROXY_V1_MAX, n + 1);
}
