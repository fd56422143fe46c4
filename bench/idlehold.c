/* SPDX-License-Identifier: MIT */
/*
 * idlehold: holds N idle HTTP/1.1 keep-alive connections to a loopback
 * server and measures what a fresh client sees meanwhile (issue 9: "10,000
 * idle keep-alive connections held plus a fresh client").
 *
 *   1. open: N connections, at most -b in flight at once (nonblocking
 *      connect, one "GET PATH" with keep-alive, its whole response read),
 *      each then left open and idle. A connection whose response says
 *      "Connection: close", or that fails, is closed and counted.
 *      Prints "HELD held=.. failed=.. close=.. secs=.." and, unless -g,
 *      waits for a line (or EOF) on standard input: the caller measures
 *      the server meanwhile.
 *   2. probe: -p fresh clients one after the other, -i microseconds
 *      apart, each a blocking connect, the same GET with "Connection:
 *      close", the whole response, close; latency from before connect()
 *      to the response's last byte. Prints "PROBE ok=.. failed=.. p50_us=..
 *      p90_us=.. p99_us=.. max_us=..".
 *   3. check: a second GET on every held connection (at most -b in flight),
 *      which must be answered 200. Prints "CHECK ok=.. failed=..".
 * The last line is always "RESULT held=.. failed=.. close=.. probe_ok=..
 * probe_failed=.. p50_us=.. p90_us=.. p99_us=.. max_us=.. check_ok=..
 * check_failed=..". Every wait is bounded: each connection by -T ms, the
 * whole run by -m seconds (then it exits 1). Loopback addresses only;
 * IPv4 connections are spread over the source addresses 127.0.0.1..-S
 * (so that 10,000 connections and the TIME_WAITs of earlier runs do not
 * exhaust one address's ephemeral ports). RLIMIT_NOFILE is raised to fit.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benchutil.h"

#define HEAD_MAX 4096

typedef enum Phase { PH_CONNECTING, PH_SENDING, PH_READING, PH_DONE } Phase;

typedef struct Conn {
        int fd;
        Phase phase;
        size_t sent, head_len;
        uint64_t body_left, deadline_ns;
        int status;
        bool close;
        bool failed;
        bool reading; /* epoll waits for EPOLLIN only */
        char *head; /* HEAD_MAX, only while a request is in flight */
} Conn;

static struct {
        BenchAddr addr;
        const char *path;
        unsigned n, batch, probes, sources;
        uint64_t interval_us, timeout_ms, max_secs;
        bool go;
} arg = { .path = "/1k.bin", .n = 10000, .batch = 256, .probes = 1000, .sources = 16, .interval_us = 2000,
          .timeout_ms = 10000, .max_secs = 300 };

static char request_ka[512], request_close[512];

static void on_alarm(int sig) {
        static const char msg[] = "idlehold: -m time limit reached\nRESULT failed=timeout\n";
        (void) sig;
        (void) !write(STDOUT_FILENO, msg, sizeof msg - 1);
        _exit(1);
}

static int raise_nofile(rlim_t want) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        if (rl.rlim_cur >= want)
                return 0;
        if (rl.rlim_max < want)
                rl.rlim_max = want; /* works as root */
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
                if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                        return -errno;
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
                        return -EMFILE;
        }
        return 0;
}

static int open_socket(unsigned i, bool nonblock) {
        int fd = socket(arg.addr.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
        int one = 1;

        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (arg.addr.sa.ss_family == AF_INET && arg.sources > 1) {
                struct sockaddr_in src = {
                        .sin_family = AF_INET,
                        .sin_addr.s_addr = htonl(UINT32_C(0x7f000001) + i % arg.sources),
                };
                (void) setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
                if (bind(fd, (const struct sockaddr *) &src, sizeof src) < 0) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
        }
        if (connect(fd, (const struct sockaddr *) &arg.addr.sa, arg.addr.sa_len) < 0 && errno != EINPROGRESS) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* Parses the head in c->head[0..c->head_len) once it is complete: 1 when
 * it is (status, close and body_left set, the body bytes already read
 * taken off), 0 when more is needed, -1 when it is malformed. */
static int parse_head(Conn *c) {
        char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
        uint64_t len = 0;
        bool have_len = false;
        size_t hl;

        if (!end)
                return c->head_len >= HEAD_MAX - 1 ? -1 : 0;
        *end = '\0';
        hl = (size_t) (end - c->head) + 4;
        if (strncmp(c->head, "HTTP/1.", 7) != 0 || strlen(c->head) < 12)
                return -1;
        c->status = atoi(c->head + 9);
        for (char *l = strstr(c->head, "\r\n"); l; l = strstr(l, "\r\n")) {
                l += 2;
                if (strncasecmp(l, "content-length:", 15) == 0) {
                        len = strtoull(l + 15, NULL, 10);
                        have_len = true;
                } else if (strncasecmp(l, "connection:", 11) == 0) {
                        char *e = strstr(l, "\r\n");
                        size_t n = e ? (size_t) (e - l) : strlen(l);
                        if (memmem(l, n, "close", 5))
                                c->close = true;
                }
        }
        if (!have_len)
                return -1;
        if (c->head_len - hl > len)
                return -1; /* more than the body: we never pipeline */
        c->body_left = len - (c->head_len - hl);
        return 1;
}

static void conn_finish(Conn *c, bool failed) {
        free(c->head);
        c->head = NULL;
        c->phase = PH_DONE;
        c->failed = failed || c->status != 200;
}

/* Drives c as far as it goes without waiting. Returns true once it is
 * done (c->failed tells how). */
static bool conn_step(Conn *c, const char *req, size_t req_len) {
        for (;;) {
                switch (c->phase) {
                case PH_CONNECTING: {
                        int err = 0;
                        socklen_t l = sizeof err;
                        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err != 0) {
                                conn_finish(c, true);
                                return true;
                        }
                        c->phase = PH_SENDING;
                        break;
                }
                case PH_SENDING: {
                        ssize_t n = send(c->fd, req + c->sent, req_len - c->sent, MSG_NOSIGNAL);
                        if (n < 0) {
                                if (errno == EAGAIN || errno == ENOTCONN)
                                        return false;
                                conn_finish(c, true);
                                return true;
                        }
                        c->sent += (size_t) n;
                        if (c->sent == req_len)
                                c->phase = PH_READING;
                        break;
                }
                case PH_READING: {
                        char scratch[16384];
                        ssize_t n;
                        if (c->status == 0) {
                                n = recv(c->fd, c->head + c->head_len, HEAD_MAX - 1 - c->head_len, 0);
                        } else {
                                n = recv(c->fd, scratch, MIN(sizeof scratch, c->body_left), 0);
                        }
                        if (n < 0 && errno == EAGAIN)
                                return false;
                        if (n <= 0) {
                                conn_finish(c, true);
                                return true;
                        }
                        if (c->status == 0) {
                                c->head_len += (size_t) n;
                                int r = parse_head(c);
                                if (r < 0) {
                                        conn_finish(c, true);
                                        return true;
                                }
                                if (r == 0)
                                        break;
                        } else {
                                c->body_left -= (uint64_t) n;
                        }
                        if (c->body_left == 0) {
                                conn_finish(c, false);
                                return true;
                        }
                        break;
                }
                case PH_DONE:
                        return true;
                }
        }
}

static int conn_start(Conn *c) {
        c->head = malloc(HEAD_MAX);
        if (!c->head)
                return -ENOMEM;
        c->head_len = 0;
        c->sent = 0;
        c->status = 0;
        c->close = false;
        c->failed = false;
        c->reading = false;
        c->body_left = 0;
        c->deadline_ns = bench_now_ns() + arg.timeout_ms * 1000000ULL;
        return 0;
}

/* Runs one request on every connection in idx[0..n) (those with fd < 0 are
 * opened first), at most arg.batch in flight. */
static void run_requests(int epfd, Conn *conns, const unsigned *idx, unsigned n) {
        size_t req_len = strlen(request_ka);
        unsigned next = 0, active = 0, first_open = 0;
        uint64_t last_scan = bench_now_ns();
        struct epoll_event evs[256];

        while (next < n || active > 0) {
                while (next < n && active < arg.batch) {
                        Conn *c = &conns[idx[next]];
                        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c };
                        next++;
                        if (conn_start(c) < 0) {
                                conn_finish(c, true);
                                continue;
                        }
                        if (c->fd < 0) {
                                c->fd = open_socket((unsigned) (c - conns), true);
                                c->phase = PH_CONNECTING;
                                if (c->fd < 0) {
                                        conn_finish(c, true);
                                        continue;
                                }
                        } else {
                                c->phase = PH_SENDING;
                        }
                        if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
                                conn_finish(c, true);
                                continue;
                        }
                        active++;
                }
                int k = epoll_wait(epfd, evs, (int) ELEMENTSOF(evs), 10);
                for (int i = 0; i < k; i++) {
                        Conn *c = evs[i].data.ptr;
                        if (c->phase == PH_DONE)
                                continue;
                        if (conn_step(c, request_ka, req_len)) {
                                (void) epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
                                active--;
                        } else if (c->phase == PH_READING && !c->reading) {
                                struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
                                (void) epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
                                c->reading = true;
                        }
                }
                /* Deadlines, every 100 ms: a scan of what was started. */
                uint64_t now = bench_now_ns();
                if (now - last_scan < 100000000ULL)
                        continue;
                last_scan = now;
                for (unsigned j = first_open; j < next; j++) {
                        Conn *c = &conns[idx[j]];
                        if (c->phase == PH_DONE) {
                                if (j == first_open)
                                        first_open++;
                                continue;
                        }
                        if (now > c->deadline_ns) {
                                (void) epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
                                conn_finish(c, true);
                                active--;
                        }
                }
        }
}

/* One fresh client: returns its latency in ns, or 0 on failure. */
static uint64_t probe_once(unsigned i) {
        struct timeval tv = { .tv_sec = (time_t) (arg.timeout_ms / 1000), .tv_usec = (suseconds_t) (arg.timeout_ms % 1000) * 1000 };
        size_t req_len = strlen(request_close), sent = 0;
        uint64_t t0 = bench_now_ns();
        Conn c = { .phase = PH_SENDING };
        int fd = open_socket(i, false);
        bool ok = false;

        if (fd < 0)
                return 0;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        c.fd = fd;
        if (conn_start(&c) < 0) {
                close(fd);
                return 0;
        }
        while (sent < req_len) {
                ssize_t n = send(fd, request_close + sent, req_len - sent, MSG_NOSIGNAL);
                if (n <= 0)
                        break;
                sent += (size_t) n;
        }
        c.sent = sent;
        if (sent == req_len) {
                c.phase = PH_READING;
                (void) conn_step(&c, request_close, req_len);
                ok = c.phase == PH_DONE && !c.failed;
        }
        free(c.head);
        uint64_t t1 = bench_now_ns();
        close(fd);
        return ok ? MAX(t1 - t0, 1) : 0;
}

static void usage(void) {
        fprintf(stderr,
                "usage: idlehold [-n CONNS] [-b BATCH] [-p PROBES] [-i INTERVAL_US] [-P PATH] [-S SOURCES]\n"
                "                [-T TIMEOUT_MS] [-m MAX_SECS] [-g] ADDR:PORT\n"
                "  -n  idle keep-alive connections to hold (10000)   -b  at most this many opening at once (256)\n"
                "  -p  fresh-client probes (1000)                    -i  microseconds between probes (2000)\n"
                "  -P  path to GET (/1k.bin)                         -S  IPv4 source addresses 127.0.0.1..S (16)\n"
                "  -T  per-request timeout, ms (10000)               -m  whole run, seconds (300)\n"
                "  -g  go on at once after HELD (do not wait for a line on stdin)\n");
}

int main(int argc, char **argv) {
        uint64_t v;
        int opt, epfd;

        while ((opt = getopt(argc, argv, "n:b:p:i:P:S:T:m:gh")) >= 0) {
                switch (opt) {
                case 'n':
                        if (bench_parse_uint(optarg, 0, 1000000, &v) < 0)
                                goto bad;
                        arg.n = (unsigned) v;
                        break;
                case 'b':
                        if (bench_parse_uint(optarg, 1, 10000, &v) < 0)
                                goto bad;
                        arg.batch = (unsigned) v;
                        break;
                case 'p':
                        if (bench_parse_uint(optarg, 0, 1000000, &v) < 0)
                                goto bad;
                        arg.probes = (unsigned) v;
                        break;
                case 'i':
                        if (bench_parse_uint(optarg, 0, 10000000, &arg.interval_us) < 0)
                                goto bad;
                        break;
                case 'P':
                        if (optarg[0] != '/' || strlen(optarg) > 200 || strpbrk(optarg, " \r\n"))
                                goto bad;
                        arg.path = optarg;
                        break;
                case 'S':
                        if (bench_parse_uint(optarg, 1, 254, &v) < 0)
                                goto bad;
                        arg.sources = (unsigned) v;
                        break;
                case 'T':
                        if (bench_parse_uint(optarg, 1, 600000, &arg.timeout_ms) < 0)
                                goto bad;
                        break;
                case 'm':
                        if (bench_parse_uint(optarg, 1, 3600, &arg.max_secs) < 0)
                                goto bad;
                        break;
                case 'g':
                        arg.go = true;
                        break;
                default:
                        goto bad;
                }
        }
        if (optind != argc - 1)
                goto bad;
        int r = bench_addr_parse(argv[optind], false, &arg.addr);
        if (r == -EPERM) {
                fprintf(stderr, "idlehold: %s is not a loopback address, refusing\n", argv[optind]);
                return 1;
        }
        if (r < 0)
                goto bad;

        (void) snprintf(request_ka, sizeof request_ka, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", arg.path);
        (void) snprintf(request_close, sizeof request_close,
                        "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", arg.path);
        signal(SIGALRM, on_alarm);
        signal(SIGPIPE, SIG_IGN);
        alarm((unsigned) arg.max_secs);
        if (raise_nofile((rlim_t) arg.n + 256) < 0) {
                fprintf(stderr, "idlehold: cannot raise RLIMIT_NOFILE to %u\n", arg.n + 256);
                return 1;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);

        Conn *conns = calloc(MAX(arg.n, 1), sizeof(Conn));
        unsigned *idx = calloc(MAX(arg.n, 1), sizeof(unsigned));
        uint64_t *lat = calloc(MAX(arg.probes, 1), sizeof(uint64_t));
        epfd = epoll_create1(EPOLL_CLOEXEC);
        if (!conns || !idx || !lat || epfd < 0) {
                fprintf(stderr, "idlehold: out of memory\n");
                return 1;
        }

        /* 1. open and hold */
        uint64_t t0 = bench_now_ns();
        unsigned held = 0, failed = 0, closed = 0;
        for (unsigned i = 0; i < arg.n; i++) {
                conns[i].fd = -1;
                idx[i] = i;
        }
        run_requests(epfd, conns, idx, arg.n);
        for (unsigned i = 0; i < arg.n; i++) {
                Conn *c = &conns[i];
                if (!c->failed && !c->close) {
                        idx[held++] = i;
                        continue;
                }
                if (c->failed)
                        failed++;
                else
                        closed++;
                if (c->fd >= 0)
                        c->fd = safe_close(c->fd);
        }
        printf("HELD held=%u failed=%u close=%u secs=%.2f\n", held, failed, closed,
               (double) (bench_now_ns() - t0) / 1e9);
        if (!arg.go) {
                char line[64];
                (void) !fgets(line, sizeof line, stdin);
        }

        /* 2. fresh clients */
        unsigned probe_ok = 0, probe_failed = 0;
        for (unsigned i = 0; i < arg.probes; i++) {
                uint64_t l = probe_once(i);
                if (l)
                        lat[probe_ok++] = l;
                else
                        probe_failed++;
                if (arg.interval_us)
                        bench_sleep_usec(arg.interval_us);
        }
        bench_sort_u64(lat, probe_ok);
        double p50 = (double) bench_percentile_sorted(lat, probe_ok, 50) / 1e3,
               p90 = (double) bench_percentile_sorted(lat, probe_ok, 90) / 1e3,
               p99 = (double) bench_percentile_sorted(lat, probe_ok, 99) / 1e3,
               pmax = (double) bench_percentile_sorted(lat, probe_ok, 100) / 1e3;
        printf("PROBE ok=%u failed=%u p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f\n", probe_ok, probe_failed, p50,
               p90, p99, pmax);

        /* 3. every held connection still answers */
        run_requests(epfd, conns, idx, held);
        unsigned check_ok = 0, check_failed = 0;
        for (unsigned i = 0; i < held; i++) {
                if (conns[idx[i]].failed)
                        check_failed++;
                else
                        check_ok++;
        }
        printf("CHECK ok=%u failed=%u\n", check_ok, check_failed);
        for (unsigned i = 0; i < arg.n; i++)
                safe_close(conns[i].fd);
        printf("RESULT held=%u failed=%u close=%u probe_ok=%u probe_failed=%u p50_us=%.0f p90_us=%.0f p99_us=%.0f "
               "max_us=%.0f check_ok=%u check_failed=%u\n",
               held, failed, closed, probe_ok, probe_failed, p50, p90, p99, pmax, check_ok, check_failed);
        free(conns);
        free(idx);
        free(lat);
        return 0;
bad:
        usage();
        return 64;
}
