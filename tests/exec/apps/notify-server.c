/* SPDX-License-Identifier: MIT */
/* A small server for the exec handler's tests and benchmark, written the
 * way a C service under systemd is: sockets from sd_listen_fds(), readiness
 * and liveness through sd_notify(). It answers every connection with one
 * HTTP/1.0 response naming its pid and slot, then closes it.
 *
 *   notify-server [--ready-delay MS] [--status TEXT]
 *
 * --ready-delay: READY=1 only that long after the start (before it, the
 * sockets are not served). With WATCHDOG_USEC set it sends WATCHDOG=1 at a
 * third of the interval, until a request for /hang stops the pings (the
 * server keeps answering: hung as far as its watchdog can tell). A request
 * for /exit makes it exit with status 3 after answering. SIGTERM ends it
 * after it writes "notify-server: stopping" to stderr. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig) {
        stop = 1;
}

static unsigned long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (unsigned long long) ts.tv_sec * 1000 + (unsigned long long) ts.tv_nsec / 1000000;
}

/* Reads the request head (up to a blank line or 4 KiB), answers, closes.
 * Returns 1 for /hang, 2 for /exit, else 0. */
static int serve(int fd) {
        char req[4096], body[256], resp[512];
        size_t n = 0;
        int what = 0, l;
        struct pollfd p = { .fd = fd, .events = POLLIN };

        while (n < sizeof req - 1 && poll(&p, 1, 5000) > 0) {
                ssize_t k = read(fd, req + n, sizeof req - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t) k;
                req[n] = 0;
                if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
                        break;
        }
        req[n] = 0;
        if (strncmp(req, "GET /hang ", 10) == 0)
                what = 1;
        else if (strncmp(req, "GET /exit ", 10) == 0)
                what = 2;
        l = snprintf(body, sizeof body, "pid=%d slot=%s generation=%s\n", (int) getpid(),
                     getenv("PREFORKD_SLOT") ? getenv("PREFORKD_SLOT") : "?",
                     getenv("PREFORKD_GENERATION") ? getenv("PREFORKD_GENERATION") : "?");
        l = snprintf(resp, sizeof resp, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
                     l, body);
        (void) write(fd, resp, (size_t) l);
        close(fd);
        return what;
}

int main(int argc, char **argv) {
        unsigned long long ready_at, watchdog_ms = 0, next_ping = 0;
        uint64_t watchdog_usec = 0;
        struct pollfd fds[16];
        const char *status = NULL;
        long delay = 0;
        bool ready = false, hung = false;
        int n;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--ready-delay") == 0 && i + 1 < argc)
                        delay = strtol(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--status") == 0 && i + 1 < argc)
                        status = argv[++i];
                else {
                        fprintf(stderr, "notify-server: unknown argument %s\n", argv[i]);
                        return 2;
                }
        }
        signal(SIGTERM, on_term);
        n = sd_listen_fds(1);
        if (n <= 0 || n > 16) {
                fprintf(stderr, "notify-server: no sockets passed (LISTEN_FDS)\n");
                return 1;
        }
        for (int i = 0; i < n; i++)
                fds[i] = (struct pollfd) { .fd = SD_LISTEN_FDS_START + i, .events = POLLIN };
        if (sd_watchdog_enabled(0, &watchdog_usec) > 0)
                watchdog_ms = watchdog_usec / 3000;
        fprintf(stderr, "notify-server: %d socket%s, watchdog %llu ms\n", n, n == 1 ? "" : "s", watchdog_ms * 3);
        ready_at = now_ms() + (unsigned long long) delay;

        while (!stop) {
                unsigned long long now = now_ms();
                int timeout = 100;

                if (!ready && now >= ready_at) {
                        sd_notifyf(0, "READY=1\nSTATUS=%s", status ? status : "serving");
                        ready = true;
                }
                if (watchdog_ms > 0 && !hung && now >= next_ping) {
                        sd_notify(0, "WATCHDOG=1");
                        next_ping = now + watchdog_ms;
                }
                if (!ready) {
                        usleep(10000);
                        continue;
                }
                /* The sockets are non-blocking and shared with the other
                 * workers: wait, then try; another may have taken it. */
                if (poll(fds, (nfds_t) n, timeout) <= 0)
                        continue;
                for (int i = 0; i < n; i++) {
                        int c, what;

                        if (!(fds[i].revents & POLLIN))
                                continue;
                        c = accept4(fds[i].fd, NULL, NULL, SOCK_CLOEXEC);
                        if (c < 0)
                                continue;
                        what = serve(c);
                        if (what == 1) {
                                fprintf(stderr, "notify-server: no more watchdog pings\n");
                                hung = true;
                        } else if (what == 2) {
                                fprintf(stderr, "notify-server: exiting with status 3 as asked\n");
                                return 3;
                        }
                }
        }
        fprintf(stderr, "notify-server: stopping\n");
        return 0;
}
