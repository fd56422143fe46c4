/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "http_cache.h"
#include "http_config.h"
#include "http_parse.h"
#include "hunch.h"

/* File bodies up to this size are read into the out buffer behind the
 * head and sent with it in one send(); larger ones go by sendfile().
 * Measured (W = 2, wrk -t1 -c2 keep-alive, six interleaved rounds, builds
 * that differ only here): a 32 KiB file went 1.13x faster (median of the
 * per-round ratios, 5 of 6 rounds ahead) read and sent than by sendfile;
 * at 64 KiB the two were within the noise (server CPU per request lower
 * with sendfile in half the rounds), and the out buffer, which a worker
 * dirties as far as its files reach, would double. */
#define HTTP_SMALL_FILE_MAX (32U * 1024U)

/* Everything one worker process of an http service keeps between
 * connections. Set up once by the handler's init() after the privilege
 * drop; the buffers are allocated but only touched as far as requests use
 * them, so an idle worker stays small. */
typedef struct HttpWorker {
        const ServiceConfig *svc;
        const HttpConfig *cfg;
        int root_fd;                 /* O_PATH, every lookup starts here */
        HttpCache *cache;            /* open files; NULL when open_file_cache = 0 */
        HttpParseLimits limits;
        char *in;                    /* request bytes, cfg->max_header_size */
        size_t in_size;
        char *out;                   /* one response head, and a small file's body */
        size_t out_size;
        char *path;                  /* normalized path (+ index name) */
        size_t path_size;
        char *scratch;               /* a percent-encoded Location */
        size_t scratch_size;
        char *log;                   /* one access log record, NULL without access_log */
        size_t log_size;
        char server_field[64];       /* "Server: preforkd/x.y.z\r\n" */
        size_t server_field_len;
        size_t index_max;            /* longest index name */
        /* Whether the next request of a keep-alive connection is read
         * before waiting for it (see wait_next_request()). */
        Hunch read_first;
} HttpWorker;

/* One accepted connection. */
typedef struct HttpConn {
        HttpWorker *w;
        int fd;
        char remote[64];             /* "192.0.2.1:1234", "[::1]:80", "unix" */
        const struct sockaddr *peer; /* NULL when unknown; travels with a parked connection */
        socklen_t peer_len;
        size_t in_len;               /* bytes of w->in in use */
        uint64_t n_requests;         /* answered so far */
        uint64_t start_usec;         /* when the current request began */
        uint64_t held_since_usec;    /* when this worker took the connection (accepted or handed back) */
        bool keep_alive;             /* decided for the current response */
        bool linger;                 /* unread input may follow: close gently */
        bool corked;                 /* the last response waits for the FIN (http_send_all()) */
        bool nodelay;                /* TCP_NODELAY is set */
        bool is_tcp;
        bool park_send;              /* the rest of this response may go to the front stage */
        /* outcome of the current request, for the access log */
        unsigned status;
        uint64_t body_bytes;
} HttpConn;
