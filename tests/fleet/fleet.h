/* SPDX-License-Identifier: MIT */
#pragma once

/* The pieces of the fleet test: HAProxy run in the foreground with a
 * listening socket the test made (so that no port is guessed), its stats
 * socket read for server states and weights, and HTTP load threads that
 * go through it, counting answers by the host that gave them. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define FLEET_HOSTS 3

/* ---- HAProxy ---- */

typedef struct Haproxy {
        pid_t pid;
        int listen_fd;                /* the frontend's socket: 127.0.0.1, port 0 */
        uint16_t port;
        char dir[256];
        char stats[300];              /* its stats socket */
} Haproxy;

/* Starts haproxy -f DIR/haproxy.cfg -db (foreground) with the frontend's
 * listening socket as its fd 3 ("bind fd@3"), its output in
 * DIR/haproxy.log, and a SIGKILL when the test process dies. cfg has
 * "@STATS@" replaced by the stats socket's path and "@DIR@" by dir. */
static inline int haproxy_start(Haproxy *h, const char *dir, const char *cfg) {
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof sin;
        char path[320], logpath[320];
        FILE *f;

        *h = (Haproxy) { .pid = -1, .listen_fd = -EBADF };
        snprintf(h->dir, sizeof h->dir, "%s", dir);
        snprintf(h->stats, sizeof h->stats, "%s/haproxy.sock", dir);
        h->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (h->listen_fd < 0 || bind(h->listen_fd, (struct sockaddr *) &sin, sizeof sin) < 0 ||
            listen(h->listen_fd, 512) < 0 || getsockname(h->listen_fd, (struct sockaddr *) &sin, &l) < 0)
                return -errno;
        h->port = ntohs(sin.sin_port);

        snprintf(path, sizeof path, "%s/haproxy.cfg", dir);
        f = fopen(path, "we");
        if (!f)
                return -errno;
        for (const char *p = cfg; *p; p++) {
                if (strncmp(p, "@STATS@", 7) == 0) {
                        fputs(h->stats, f);
                        p += 6;
                } else if (strncmp(p, "@DIR@", 5) == 0) {
                        fputs(dir, f);
                        p += 4;
                } else
                        fputc(*p, f);
        }
        if (fclose(f) != 0)
                return -errno;
        snprintf(logpath, sizeof logpath, "%s/haproxy.log", dir);

        h->pid = fork();
        if (h->pid < 0)
                return -errno;
        if (h->pid == 0) {
                int out = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (out < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0 ||
                    dup2(h->listen_fd, 3) < 0)
                        _exit(127);
                (void) setpgid(0, 0);
                execlp("haproxy", "haproxy", "-f", path, "-db", (char *) NULL);
                _exit(127);
        }
        return 0;
}

static inline void haproxy_stop(Haproxy *h) {
        if (h->pid > 0) {
                (void) kill(h->pid, SIGKILL);
                (void) waitpid(h->pid, NULL, 0);
                h->pid = -1;
        }
        h->listen_fd = safe_close(h->listen_fd);
}

/* Sends one command to the stats socket; *ret is the whole answer. */
static inline int haproxy_command(const Haproxy *h, const char *cmd, char **ret) {
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = 5 };
        _cleanup_close_ int fd = -EBADF;
        size_t len;

        if (strlen(h->stats) >= sizeof un.sun_path)
                return -ENAMETOOLONG;
        memcpy(un.sun_path, h->stats, strlen(h->stats) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (connect(fd, (struct sockaddr *) &un, sizeof un) < 0)
                return -errno;
        if (td_write_all(fd, cmd, strlen(cmd), TD_SEC(5)) < 0 || td_write_all(fd, "\n", 1, TD_SEC(5)) < 0)
                return -EIO;
        return td_read_all(fd, 1 << 20, TD_SEC(5), ret, &len);
}

typedef struct ServerStat {
        char status[32];              /* "UP", "DOWN", "DRAIN", "MAINT", "no check", ... */
        int weight;
} ServerStat;

/* The status and current weight of backend/server from "show stat". */
static inline int haproxy_server(const Haproxy *h, const char *backend, const char *server, ServerStat *ret) {
        _cleanup_free_ char *out = NULL;
        int status_col = -1, weight_col = -1, r;
        char *save = NULL;

        r = haproxy_command(h, "show stat", &out);
        if (r < 0)
                return r;
        for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *fields[64];
                int n = 0;

                for (char *p = line;; p++) {
                        if (n < 64 && (p == line || p[-1] == '\0'))
                                fields[n++] = p;
                        if (*p == '\0')
                                break;
                        if (*p == ',')
                                *p = '\0';
                }
                if (line[0] == '#') {
                        for (int i = 0; i < n; i++) {
                                if (strcmp(fields[i], "status") == 0)
                                        status_col = i;
                                if (strcmp(fields[i], "weight") == 0)
                                        weight_col = i;
                        }
                        continue;
                }
                if (status_col < 0 || weight_col < 0 || n <= MAX(status_col, weight_col))
                        continue;
                if (strcmp(fields[0], backend) == 0 && strcmp(fields[1], server) == 0) {
                        snprintf(ret->status, sizeof ret->status, "%s", fields[status_col]);
                        ret->weight = atoi(fields[weight_col]);
                        return 0;
                }
        }
        return -ENOENT;
}

/* Waits until server's status begins with status (and, when weight >= 0,
 * its weight is weight; weight_below: below it). */
static inline int haproxy_wait_server(const Haproxy *h, const char *server, const char *status, int weight,
                                      bool weight_below, uint64_t timeout) {
        uint64_t deadline = td_now() + timeout;
        ServerStat st;

        for (;;) {
                /* HAProxy tells nothing when a check changes a state; its
                 * stats socket is the only place to look. */
                if (haproxy_server(h, "web", server, &st) == 0 && strncmp(st.status, status, strlen(status)) == 0 &&
                    (weight < 0 || (weight_below ? st.weight < weight : st.weight == weight)))
                        return 0;
                if (td_now() >= deadline)
                        return -ETIMEDOUT;
                td_sleep(TD_MSEC(50));
        }
}

/* Runs argv (argv[0] a path) and waits for it, at most timeout; its
 * output goes to ours. Returns its exit status, or a negative errno. */
static inline int fleet_run(const char *const *argv, uint64_t timeout) {
        uint64_t deadline = td_now() + timeout;
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);

                if (r == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                if (r < 0)
                        return -errno;
                if (td_now() >= deadline) {
                        (void) kill(pid, SIGKILL);
                        (void) waitpid(pid, NULL, 0);
                        return -ETIMEDOUT;
                }
                td_sleep(TD_MSEC(10));
        }
}

/* ---- load through HAProxy ---- */

/* Counters of one kind of client, summed over its threads. */
typedef struct FleetCount {
        atomic_ulong ok;
        atomic_ulong failed;
        atomic_ulong by_host[FLEET_HOSTS];
} FleetCount;

typedef struct FleetLoad {
        uint16_t port;                /* HAProxy's frontend */
        atomic_bool stop;
        uint64_t deadline;            /* no request starts after it */
        unsigned long max_requests;   /* per thread */
        FleetCount count;
        atomic_int first_error;
        pthread_t threads[8];
        unsigned n_threads;
        unsigned n_keepalive;         /* threads 0..n_keepalive-1 keep connections alive */
} FleetLoad;

typedef struct FleetSnapshot {
        unsigned long ok, failed, by_host[FLEET_HOSTS];
} FleetSnapshot;

static inline void fleet_snapshot(FleetLoad *l, FleetSnapshot *ret) {
        ret->ok = atomic_load(&l->count.ok);
        ret->failed = atomic_load(&l->count.failed);
        for (unsigned i = 0; i < FLEET_HOSTS; i++)
                ret->by_host[i] = atomic_load(&l->count.by_host[i]);
}

/* A client of dst:port from src, with 5 s timeouts. */
static inline int fleet_connect(const char *src, const char *dst, uint16_t port) {
        struct sockaddr_in a = { .sin_family = AF_INET }, b = { .sin_family = AF_INET, .sin_port = htons(port) };
        struct timeval tv = { .tv_sec = 5 };
        int fd, r;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        inet_pton(AF_INET, src, &a.sin_addr);
        inet_pton(AF_INET, dst, &b.sin_addr);
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
            bind(fd, (struct sockaddr *) &a, sizeof a) < 0 || connect(fd, (struct sockaddr *) &b, sizeof b) < 0) {
                r = -errno;
                safe_close(fd);
                return r;
        }
        return fd;
}

/* One GET /id.txt on fd and its answer: the host number (1-3) it came
 * from, with *ret_close when the connection is not to be reused; or a
 * negative errno. */
static inline int fleet_request(int fd, bool keepalive, bool *ret_close) {
        const char *req = keepalive ? "GET /id.txt HTTP/1.1\r\nHost: fleet\r\n\r\n"
                                    : "GET /id.txt HTTP/1.1\r\nHost: fleet\r\nConnection: close\r\n\r\n";
        char buf[4096];
        size_t len = 0;
        char *end = NULL, *cl;
        unsigned status = 0;
        size_t body_len = 0;

        if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t) strlen(req))
                return -EPIPE;
        for (;;) {
                ssize_t n;

                if (end) {
                        size_t head = (size_t) (end - buf) + 4;
                        if (len >= head + body_len)
                                break;
                }
                if (len == sizeof buf - 1)
                        return -EMSGSIZE;
                n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
                if (n < 0)
                        return errno == EAGAIN ? -ETIMEDOUT : -errno;
                if (n == 0)
                        return -ECONNRESET;
                len += (size_t) n;
                buf[len] = 0;
                if (!end && (end = strstr(buf, "\r\n\r\n"))) {
                        if (sscanf(buf, "HTTP/1.1 %u", &status) != 1)
                                return -EPROTO;
                        cl = strcasestr(buf, "\r\ncontent-length:");
                        if (!cl || cl > end)
                                return -EPROTO;
                        body_len = strtoul(cl + 17, NULL, 10);
                        *ret_close = !keepalive || strcasestr(buf, "\r\nconnection: close");
                }
        }
        if (status != 200)
                return -EBADMSG;
        char *body = end + 4;
        if (body[0] != 'h' || body[1] < '1' || body[1] > '0' + FLEET_HOSTS)
                return -EPROTO;
        return body[1] - '0';
}

typedef struct FleetThread {
        FleetLoad *load;
        unsigned index;
} FleetThread;

static inline void *fleet_thread(void *userdata) {
        FleetThread *t = userdata;
        FleetLoad *l = t->load;
        bool keepalive = t->index < l->n_keepalive;
        char src[32];
        int fd = -EBADF;

        /* Each client its own address, for the hosts' access logs. */
        snprintf(src, sizeof src, "127.0.9.%u", t->index + 1);
        for (unsigned long i = 0; i < l->max_requests && !atomic_load(&l->stop) && td_now() < l->deadline; i++) {
                bool close_after = true;
                int r;

                if (fd < 0)
                        fd = fleet_connect(src, "127.0.0.1", l->port);
                r = fd < 0 ? fd : fleet_request(fd, keepalive, &close_after);
                if (r > 0) {
                        atomic_fetch_add(&l->count.ok, 1);
                        atomic_fetch_add(&l->count.by_host[r - 1], 1);
                } else {
                        int zero = 0;
                        atomic_fetch_add(&l->count.failed, 1);
                        (void) atomic_compare_exchange_strong(&l->first_error, &zero, r);
                        close_after = true;
                }
                if (close_after)
                        fd = safe_close(fd);
                /* Paced: the machine is shared, and this measures
                 * failures, not speed. */
                td_sleep(TD_MSEC(2));
        }
        safe_close(fd);
        free(t);
        return NULL;
}

static inline int fleet_load_start(FleetLoad *l, uint16_t port, unsigned n_keepalive, unsigned n_close,
                                   unsigned long max_requests, uint64_t max_time) {
        *l = (FleetLoad) { .port = port, .n_keepalive = n_keepalive, .max_requests = max_requests,
                           .deadline = td_now() + max_time };
        for (unsigned i = 0; i < n_keepalive + n_close && i < ELEMENTSOF(l->threads); i++) {
                FleetThread *t = malloc(sizeof *t);

                if (!t)
                        return -ENOMEM;
                *t = (FleetThread) { .load = l, .index = i };
                if (pthread_create(&l->threads[i], NULL, fleet_thread, t) != 0) {
                        free(t);
                        return -EAGAIN;
                }
                l->n_threads++;
        }
        return 0;
}

static inline void fleet_load_stop(FleetLoad *l) {
        atomic_store(&l->stop, true);
        for (unsigned i = 0; i < l->n_threads; i++)
                pthread_join(l->threads[i], NULL);
        l->n_threads = 0;
}

/* Waits until the load has had n more answers (ok or failed) than in
 * from. */
static inline int fleet_wait_answers(FleetLoad *l, const FleetSnapshot *from, unsigned long n, uint64_t timeout) {
        uint64_t deadline = td_now() + timeout;
        FleetSnapshot s;

        for (;;) {
                fleet_snapshot(l, &s);
                if (s.ok + s.failed >= from->ok + from->failed + n)
                        return 0;
                if (td_now() >= deadline)
                        return -ETIMEDOUT;
                td_sleep(TD_MSEC(20));
        }
}
