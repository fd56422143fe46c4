/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <string.h>

#include "cidr.h"
#include "macros.h"

int cidr_parse(const char *s, Cidr *ret, const char **ret_why) {
        char addr[INET6_ADDRSTRLEN];
        const char *slash;
        Cidr c = { 0 };
        size_t n, bits;

        assert(s);
        assert(ret);

        slash = strchr(s, '/');
        n = slash ? (size_t) (slash - s) : strlen(s);
        if (n == 0 || n >= sizeof addr) {
                *ret_why = "expected an IPv4 or IPv6 address, optionally followed by /PREFIX";
                return -EINVAL;
        }
        memcpy(addr, s, n);
        addr[n] = 0;
        if (inet_pton(AF_INET, addr, c.addr) == 1)
                c.family = AF_INET;
        else if (inet_pton(AF_INET6, addr, c.addr) == 1)
                c.family = AF_INET6;
        else {
                *ret_why = "not an IPv4 or IPv6 address";
                return -EINVAL;
        }
        bits = c.family == AF_INET ? 32 : 128;
        c.prefix = (unsigned) bits;
        if (slash) {
                const char *p = slash + 1;
                unsigned v = 0;

                if (!*p || strlen(p) > 3 || strspn(p, "0123456789") != strlen(p) || (p[0] == '0' && p[1])) {
                        *ret_why = "the prefix length after '/' must be a decimal number";
                        return -EINVAL;
                }
                for (; *p; p++)
                        v = v * 10 + (unsigned) (*p - '0');
                if (v > bits) {
                        *ret_why = c.family == AF_INET ? "an IPv4 prefix length must be 0-32"
                                                       : "an IPv6 prefix length must be 0-128";
                        return -EINVAL;
                }
                c.prefix = v;
        }
        for (size_t i = c.prefix; i < bits; i++)
                if (c.addr[i / 8] & (0x80 >> (i % 8))) {
                        *ret_why = "the address has bits set past the prefix length (write the network address)";
                        return -EINVAL;
                }
        *ret = c;
        return 0;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix) {
        unsigned whole = prefix / 8, rest = prefix % 8;

        if (memcmp(a, b, whole) != 0)
                return false;
        if (rest == 0)
                return true;
        return ((a[whole] ^ b[whole]) & (uint8_t) (0xFF << (8 - rest))) == 0;
}

bool cidr_match(const Cidr *c, const struct sockaddr *sa, socklen_t len) {
        const uint8_t *a;
        int family;

        assert(c);
        if (!sa)
                return false;
        if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
                family = AF_INET;
                a = (const uint8_t *) &((const struct sockaddr_in *) sa)->sin_addr;
        } else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
                const struct in6_addr *a6 = &((const struct sockaddr_in6 *) sa)->sin6_addr;

                if (IN6_IS_ADDR_V4MAPPED(a6)) {
                        family = AF_INET;
                        a = a6->s6_addr + 12;
                } else {
                        family = AF_INET6;
                        a = a6->s6_addr;
                }
        } else
                return false;
        return family == c->family && prefix_equal(a, c->addr, c->prefix);
}

bool cidr_match_any(const Cidr *list, size_t n, const struct sockaddr *sa, socklen_t len) {
        for (size_t i = 0; i < n; i++)
                if (cidr_match(&list[i], sa, len))
                        return true;
        return false;
}
