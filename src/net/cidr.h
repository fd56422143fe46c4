/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An IPv4 or IPv6 address range in CIDR notation: who may send a PROXY
 * header (proxy_from). */
typedef struct Cidr {
        int family;                   /* AF_INET or AF_INET6 */
        uint8_t addr[16];             /* network byte order; the bits past prefix are zero */
        unsigned prefix;              /* 0-32 or 0-128 */
} Cidr;

/* Parses "10.0.0.0/8", "192.0.2.7" (one address: /32), "fd00::/8" or
 * "::1" (/128). Returns 0, or -EINVAL with a static explanation in
 * *ret_why. An address with bits set past its prefix ("10.1.2.3/8") is
 * refused: it is a typo more often than not. */
int cidr_parse(const char *s, Cidr *ret, const char **ret_why);

/* Whether the address sa (of len bytes) is in c. An IPv4-mapped IPv6
 * address (an IPv4 client of a dual-stack listener) is the IPv4 address
 * it maps. Any other family matches nothing. */
bool cidr_match(const Cidr *c, const struct sockaddr *sa, socklen_t len);

/* Whether sa is in one of the n ranges of list. */
bool cidr_match_any(const Cidr *list, size_t n, const struct sockaddr *sa, socklen_t len);
