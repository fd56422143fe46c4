/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The PROXY protocol, versions 1 and 2 (HAProxy's doc/proxy-protocol.txt):
 * the header a load balancer puts in front of every connection it relays,
 * naming the client it relays for. Pure: bytes in, a parsed header, "need
 * more" or an error with its reason out. */

typedef enum ProxyMode {
        PROXY_OFF,            /* no header: the connection is the client's */
        PROXY_V1,             /* the text header is required */
        PROXY_V2,             /* the binary header is required */
        PROXY_ANY,            /* either is required */
        _PROXY_MODE_MAX,
} ProxyMode;

/* The longest v1 line the spec allows, CRLF included (section 2.1). */
#define PROXY_V1_MAX 107U
/* The fixed part of a v2 header: signature, version and command, family,
 * length. The whole header is this plus the length it announces. */
#define PROXY_V2_FIXED 16U
/* The longest header of either version. */
#define PROXY_HEADER_MAX (PROXY_V2_FIXED + 65535U)

/* A complete header. */
typedef struct ProxyHeader {
        unsigned version;                  /* 1 or 2 */
        /* The header says to keep the connection's real endpoints: v2 LOCAL
         * (a balancer's health check), v1 UNKNOWN, or a v2 family or
         * protocol that a stream connection cannot carry (UNSPEC, DGRAM).
         * source and destination are then unset. */
        bool local;
        struct sockaddr_storage source;    /* the client */
        socklen_t source_len;
        struct sockaddr_storage destination; /* the address the client connected to */
        socklen_t destination_len;
        size_t length;                     /* the header's bytes on the wire */
} ProxyHeader;

const char *proxy_mode_to_string(ProxyMode m);
/* The mode named s ("off", "v1", "v2", "any"), or -EINVAL. */
int proxy_mode_from_string(const char *s);

/* Parses the header at the start of buf, of n bytes, as mode requires
 * (not PROXY_OFF). Returns the header's length (> 0, at most n) with *ret
 * filled; 0 when buf is a valid but incomplete beginning of a header (every
 * one of its n bytes belongs to the header: they may be taken off the
 * socket, and the call repeated with more); or -EBADMSG with *ret_why
 * saying what is wrong. A header is only ever judged whole: the bytes
 * after it are not looked at. */
int proxy_parse(const void *buf, size_t n, ProxyMode mode, ProxyHeader *ret, const char **ret_why);

/* The most bytes the header that buf (n bytes, which proxy_parse() found
 * incomplete) begins can have in all: what to read next without reading
 * past it. Larger than n, at most PROXY_HEADER_MAX. */
size_t proxy_header_bound(const void *buf, size_t n);
