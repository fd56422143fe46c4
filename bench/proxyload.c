/* SPDX-License-Identifier: MIT */
/*
 * proxyload: an HTTP/1.1 GET load client that can begin each connection
 * with a PROXY protocol header (issue 14: "HTTP Connection: close rate
 * with and without the PROXY v2 header"; wrk cannot send one).
 *
 *   proxyload [-c CONNS] [-d SECS] [-n MAX] [-k] [-1|-2] [-p PATH] [-T MS] [-q] HOST:PORT
 *
 * -c clients, each a thread with one blocking connection at a time; -d
 * the run's length; -n the most requests per client; -k keep the
 * connection alive (default: "Connection: close", a new connection per
 * request); -1/-2 a PROXY v1/v2 header (TCP over IPv4 from
 * 198.18.0.N:40000+N to the server) at the start of every connection;
 * -p the path (default /1k.bin); -T each request's timeout. The last line
 * is always "RESULT ok=N secs=S rate=R err=E status=S timeout=T reset=R
 * refused=F" (status: answers other than 200). Loopback addresses only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "benchutil.h"

#define MAX_CLIENTS 256
#define BUF_SIZE 65536

typedef struct Options {
        unsigned clients;
        uint64_t duration_ns;
        uint64_t max_requests;
        bool keepalive;
        int proxy;                    /* 0, 1 or 2 */
        const char *path;
        unsigned timeout_ms;
        bool quiet;
        BenchAddr addr;
} Options;

static Options opt = { .clients = 4, .duration_ns = 3 * 1000000000ULL, .max_requests = UINT64_MAX, .path = "/1k.bin",
                       .timeout_ms = 5000 };
static uint64_t deadline_ns;
static atomic_ulong n_ok, n_status, n_timeout, n_reset, n_refused, n_other;

/* The PROXY header of client i. */
static size_t proxy_header(unsigned i, char *buf, size_t size) {
        const struct sockaddr_in *dst = (const struct sockaddr_in *) &opt.addr.sa;
        uint16_t sport = (uint16_t) (40000 + i);

        if (opt.proxy == 1) {
                char d[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &dst->sin_addr, d, sizeof d);
                return (size_t) snprintf(buf, size, "PROXY TCP4 198.18.%u.%u %s %u %u\r\n", i / 250, i % 250 + 1, d,
                                         sport, ntohs(dst->sin_port));
        }
        static const uint8_t sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };
        uint8_t *b = (uint8_t *) buf;
        memcpy(b, sig, 12);
        b[12] = 0x21;
        b[13] = 0x11;
        b[14] = 0;
        b[15] = 12;
        b[16] = 198;
        b[17] = 18;
        b[18] = (uint8_t) (i / 250);
        b[19] = (uint8_t) (i % 250 + 1);
        memcpy(b + 20, &dst->sin_addr, 4);
        b[24] = (uint8_t) (sport >> 8);
        b[25] = (uint8_t) sport;
        memcpy(b + 26, &dst->sin_port, 2);
        return 28;
}

static void count_error(int e) {
        if (e == ETIMEDOUT || e == EAGAIN)
                atomic_fetch_add(&n_timeout, 1);
        else if (e == ECONNRESET || e == EPIPE)
                atomic_fetch_add(&n_reset, 1);
        else if (e == ECONNREFUSED)
                atomic_fetch_add(&n_refused, 1);
        else
                atomic_fetch_add(&n_other, 1);
}

static int client_connect(void) {
        struct timeval tv = { .tv_sec = opt.timeout_ms / 1000, .tv_usec = (opt.timeout_ms % 1000) * 1000 };
        int fd = socket(opt.addr.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return negative_errno();
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
            connect(fd, (const struct sockaddr *) &opt.addr.sa, opt.addr.sa_len) < 0) {
                int r = negative_errno();
                safe_close(fd);
                return r;
        }
        return fd;
}

/* Sends req on fd (after the PROXY header hdr, hdr_len bytes, when not 0:
 * in the same send(), as HAProxy writes them) and reads one response: 0
 * (and *ret_status), or a negative errno. *ret_close when the connection
 * cannot be reused. */
static int client_request(int fd, const char *hdr, size_t hdr_len, const char *req, size_t req_len, char *buf,
                          unsigned *ret_status, bool *ret_close) {
        size_t len = 0, head = 0, body = 0;

        if (hdr_len > 0) {
                if (hdr_len + req_len > BUF_SIZE)
                        return -EMSGSIZE;
                memcpy(buf, hdr, hdr_len);
                memcpy(buf + hdr_len, req, req_len);
                req = buf;
                req_len += hdr_len;
        }
        for (size_t sent = 0; sent < req_len;) {
                ssize_t n = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);
                if (n < 0)
                        return negative_errno();
                sent += (size_t) n;
        }
        for (;;) {
                ssize_t n;

                if (head > 0 && len >= head + body)
                        return 0;
                if (head > 0) {
                        /* The body is not kept. */
                        n = recv(fd, buf, MIN((size_t) BUF_SIZE, head + body - len), 0);
                        if (n <= 0)
                                return n == 0 ? -ECONNRESET : negative_errno();
                        len += (size_t) n;
                        continue;
                }
                if (len == BUF_SIZE - 1)
                        return -EMSGSIZE;
                n = recv(fd, buf + len, BUF_SIZE - 1 - len, 0);
                if (n <= 0)
                        return n == 0 ? -ECONNRESET : negative_errno();
                len += (size_t) n;
                buf[len] = 0;
                char *end = strstr(buf, "\r\n\r\n"), *cl;
                if (!end)
                        continue;
                head = (size_t) (end - buf) + 4;
                if (sscanf(buf, "HTTP/1.%*u %u", ret_status) != 1)
                        return -EPROTO;
                cl = strcasestr(buf, "\r\ncontent-length:");
                body = cl && cl < end ? strtoull(cl + 17, NULL, 10) : 0;
                *ret_close = !opt.keepalive || strcasestr(buf, "\r\nconnection: close") != NULL;
        }
}

static void *client_main(void *userdata) {
        unsigned i = (unsigned) (uintptr_t) userdata;
        char *buf = malloc(BUF_SIZE), hdr[128], req[512];
        size_t hdr_len = opt.proxy ? proxy_header(i, hdr, sizeof hdr) : 0;
        int req_len, fd = -EBADF;

        req_len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: bench\r\n%s\r\n", opt.path,
                           opt.keepalive ? "" : "Connection: close\r\n");
        if (!buf || req_len < 0 || (size_t) req_len >= sizeof req)
                return NULL;
        for (uint64_t k = 0; k < opt.max_requests && bench_now_ns() < deadline_ns; k++) {
                unsigned status = 0;
                bool close_after = true;
                int r;

                bool fresh = fd < 0;

                if (fd < 0) {
                        fd = client_connect();
                        if (fd < 0) {
                                count_error(-fd);
                                continue;
                        }
                }
                r = client_request(fd, hdr, fresh ? hdr_len : 0, req, (size_t) req_len, buf, &status, &close_after);
                if (r < 0) {
                        count_error(-r);
                        close_after = true;
                } else if (status == 200)
                        atomic_fetch_add(&n_ok, 1);
                else
                        atomic_fetch_add(&n_status, 1);
                if (close_after)
                        fd = safe_close(fd);
        }
        safe_close(fd);
        free(buf);
        return NULL;
}

static void usage(FILE *f) {
        fprintf(f, "usage: proxyload [-c CONNS] [-d SECS] [-n MAX] [-k] [-1|-2] [-p PATH] [-T MS] [-q] HOST:PORT\n");
}

int main(int argc, char **argv) {
        pthread_t threads[MAX_CLIENTS];
        uint64_t v, start, secs_ns;
        unsigned long err;
        int c;

        while ((c = getopt(argc, argv, "c:d:n:k12p:T:qh")) >= 0) {
                switch (c) {
                case 'c':
                        if (bench_parse_uint(optarg, 1, MAX_CLIENTS, &v) < 0)
                                return usage(stderr), 64;
                        opt.clients = (unsigned) v;
                        break;
                case 'd':
                        if (bench_parse_seconds(optarg, &opt.duration_ns) < 0)
                                return usage(stderr), 64;
                        break;
                case 'n':
                        if (bench_parse_uint(optarg, 1, UINT64_MAX, &opt.max_requests) < 0)
                                return usage(stderr), 64;
                        break;
                case 'k':
                        opt.keepalive = true;
                        break;
                case '1':
                case '2':
                        opt.proxy = c - '0';
                        break;
                case 'p':
                        opt.path = optarg;
                        break;
                case 'T':
                        if (bench_parse_uint(optarg, 1, 600000, &v) < 0)
                                return usage(stderr), 64;
                        opt.timeout_ms = (unsigned) v;
                        break;
                case 'q':
                        opt.quiet = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 64;
                }
        }
        if (optind != argc - 1)
                return usage(stderr), 64;
        if (bench_addr_parse(argv[optind], false, &opt.addr) < 0 || opt.addr.sa.ss_family != AF_INET) {
                fprintf(stderr, "proxyload: %s: an IPv4 loopback address and port is needed\n", argv[optind]);
                return 64;
        }
        (void) signal(SIGPIPE, SIG_IGN);

        start = bench_now_ns();
        deadline_ns = start + opt.duration_ns;
        for (unsigned i = 0; i < opt.clients; i++)
                if (pthread_create(&threads[i], NULL, client_main, (void *) (uintptr_t) i) != 0) {
                        fprintf(stderr, "proxyload: cannot start client %u\n", i);
                        return 71;
                }
        for (unsigned i = 0; i < opt.clients; i++)
                pthread_join(threads[i], NULL);
        secs_ns = bench_now_ns() - start;

        err = atomic_load(&n_status) + atomic_load(&n_timeout) + atomic_load(&n_reset) + atomic_load(&n_refused) +
              atomic_load(&n_other);
        if (!opt.quiet)
                fprintf(stderr, "proxyload: %u clients, %s, %s\n", opt.clients, opt.keepalive ? "keep-alive" : "close",
                        opt.proxy == 2 ? "PROXY v2" : opt.proxy == 1 ? "PROXY v1" : "no PROXY header");
        printf("RESULT ok=%lu secs=%.3f rate=%.0f err=%lu status=%lu timeout=%lu reset=%lu refused=%lu\n",
               atomic_load(&n_ok), (double) secs_ns / 1e9, (double) atomic_load(&n_ok) * 1e9 / (double) secs_ns, err,
               atomic_load(&n_status), atomic_load(&n_timeout), atomic_load(&n_reset), atomic_load(&n_refused));
        return 0;
}
