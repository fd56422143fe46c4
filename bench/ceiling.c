/* SPDX-License-Identifier: MIT */
/*
 * ceiling: the reference echo server for the benchmarks. One process, one
 * thread, one blocking accept() loop that serves each connection to its end
 * before accepting the next: what a single preforkd worker does, without a
 * master, a scoreboard, signals or logging. Its rate is the "ceiling" the
 * daemon's new-connection echo rate is compared with, measured in the same
 * run on the same machine.
 *
 *   ceiling [-a ADDR:PORT] [-b BACKLOG]
 *
 * Binds (default 127.0.0.1:0: the kernel picks the port), then prints
 *   PORT <n>
 *   Listening on 127.0.0.1:<n>
 * on stdout and serves until killed (SIGTERM/SIGINT: exits 0, printing the
 * number of connections served).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "benchutil.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
        (void) sig;
        stop = 1;
}

static void serve(int fd, char *buf, size_t size) {
        for (;;) {
                ssize_t n = read(fd, buf, size);
                if (n < 0 && errno == EINTR && !stop)
                        continue;
                if (n <= 0)
                        return;
                for (ssize_t off = 0; off < n;) {
                        ssize_t m = write(fd, buf + off, (size_t) (n - off));
                        if (m < 0 && errno == EINTR && !stop)
                                continue;
                        if (m <= 0)
                                return;
                        off += m;
                }
        }
}

int main(int argc, char *argv[]) {
        const char *addr_str = "127.0.0.1:0";
        uint64_t backlog = 511;
        BenchAddr a;
        int c, r;

        while ((c = getopt(argc, argv, "a:b:h")) >= 0) {
                switch (c) {
                case 'a':
                        addr_str = optarg;
                        break;
                case 'b':
                        if (bench_parse_uint(optarg, 1, 65535, &backlog) < 0) {
                                fprintf(stderr, "ceiling: invalid backlog %s\n", optarg);
                                return 64;
                        }
                        break;
                case 'h':
                        printf("Usage: ceiling [-a ADDR:PORT] [-b BACKLOG]\n"
                               "Single-process blocking accept loop echo server (loopback only).\n");
                        return 0;
                default:
                        return 64;
                }
        }

        r = bench_addr_parse(addr_str, true, &a);
        if (r < 0) {
                fprintf(stderr, "ceiling: %s: %s\n", addr_str,
                        r == -EPERM ? "not a loopback address, refusing" : "cannot parse");
                return 64;
        }

        /* No SA_RESTART: TERM/INT must interrupt the blocking accept(). */
        struct sigaction sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGTERM, &sa, NULL);
        (void) sigaction(SIGINT, &sa, NULL);
        (void) signal(SIGPIPE, SIG_IGN);

        _cleanup_close_ int lfd = socket(a.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0) {
                perror("ceiling: socket");
                return 71;
        }
        int one = 1;
        (void) setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        /* A client that stalls must not wedge the benchmark forever: the
         * accepted sockets inherit this receive timeout from the listener,
         * which saves a setsockopt() per connection. */
        struct timeval tv = { .tv_sec = 10 };
        (void) setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (bind(lfd, (const struct sockaddr *) &a.sa, a.sa_len) < 0 ||
            listen(lfd, (int) backlog) < 0) {
                fprintf(stderr, "ceiling: bind/listen %s: %s\n", a.text, strerror(errno));
                return 71;
        }

        struct sockaddr_storage bound;
        socklen_t bl = sizeof(bound);
        if (getsockname(lfd, (struct sockaddr *) &bound, &bl) < 0) {
                perror("ceiling: getsockname");
                return 71;
        }
        unsigned port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *) &bound)->sin_port
                                                         : ((struct sockaddr_in6 *) &bound)->sin6_port);
        char host[INET6_ADDRSTRLEN] = "?";
        if (bound.ss_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *) &bound)->sin_addr, host, sizeof(host));
        else
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &bound)->sin6_addr, host, sizeof(host));
        printf("PORT %u\n", port);
        printf(bound.ss_family == AF_INET ? "Listening on %s:%u\n" : "Listening on [%s]:%u\n", host, port);
        fflush(stdout);

        static char buf[64 * 1024];
        uint64_t served = 0;

        while (!stop) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
                                continue;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                bench_sleep_usec(10000);
                                continue;
                        }
                        fprintf(stderr, "ceiling: accept: %s\n", strerror(errno));
                        return 71;
                }
                serve(fd, buf, sizeof(buf));
                close(fd);
                served++;
        }

        fprintf(stderr, "ceiling: served %" PRIu64 " connections\n", served);
        return 0;
}
