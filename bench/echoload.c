/* SPDX-License-Identifier: MIT */
/*
 * echoload: a new-connection echo load client for loopback benchmarks.
 *
 * Every connection: nonblocking connect, write SIZE bytes, read SIZE bytes
 * back (checked against the pattern written), close. CONCURRENCY such
 * connections are kept in flight, spread over THREADS threads, each thread
 * running its own epoll loop. The run stops starting new connections after
 * DURATION or after MAX connections were started, whichever comes first, and
 * lets the ones in flight finish (or time out).
 *
 * Latency is measured per connection from just before connect() to the
 * last echoed byte read. The rate counts connections that completed
 * successfully and started after the warm-up, divided by the time from the
 * end of the warm-up to the last completion.
 *
 * The last line of output is always one parseable line:
 *   RESULT ok=N secs=S rate=R p50_us=.. p90_us=.. p99_us=.. max_us=.. err=E
 *          refused=.. reset=.. timeout=.. eof=.. mismatch=.. addrnotavail=..
 *          other=.. [ok_by_addr=a,b,..]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benchutil.h"

#define MAX_EVENTS 256
#define SCAN_INTERVAL_NS (10 * UINT64_C(1000000))
#define READ_BUF_SIZE (64 * 1024)

typedef enum ErrClass {
        ERR_REFUSED,
        ERR_RESET,
        ERR_TIMEOUT,
        ERR_EOF,
        ERR_MISMATCH,
        ERR_ADDRNOTAVAIL,
        ERR_OTHER,
        _ERR_MAX,
} ErrClass;

static const char *const err_names[_ERR_MAX] = {
        [ERR_REFUSED] = "refused",
        [ERR_RESET] = "reset",
        [ERR_TIMEOUT] = "timeout",
        [ERR_EOF] = "eof",
        [ERR_MISMATCH] = "mismatch",
        [ERR_ADDRNOTAVAIL] = "addrnotavail",
        [ERR_OTHER] = "other",
};

typedef struct Conn {
        int fd;              /* < 0: slot free */
        uint32_t events;     /* current epoll interest */
        size_t written, nread;
        uint64_t start_ns, deadline_ns;
        uint64_t connect_ns;  /* connect() returned */
        uint64_t written_ns;  /* the whole payload was written */
        unsigned addr;
} Conn;

typedef struct Worker {
        pthread_t thread;
        unsigned id;
        int epfd;
        Conn *conns;
        unsigned n_conns;
        unsigned active;
        uint8_t *rbuf;
        uint64_t *lat;       /* ns, measured connections only */
        size_t n_lat, cap_lat;
        uint64_t errors[_ERR_MAX];
        uint64_t *ok_by_addr; /* measured connections only */
        uint64_t last_finish_ns;
        uint64_t last_scan_ns;
        int fatal;           /* negative errno that stopped this thread */
} Worker;

static struct {
        BenchAddr *addrs;
        size_t n_addrs;
        unsigned concurrency;
        unsigned threads;
        uint64_t duration_ns;
        uint64_t warmup_ns;
        uint64_t timeout_ns;
        uint64_t max_conns;   /* 0: unlimited */
        size_t size;
        uint64_t slow_ns;     /* report connections slower than this (0: off) */
        unsigned n_sources;   /* IPv4: bind to 127.0.0.1..n, round-robin */
        bool nodelay;
        bool verify;
        bool quiet;
        uint8_t *payload;
        uint64_t t_start, t_measure, t_end;
        atomic_uint_fast64_t tickets;
} arg = {
        .concurrency = 8,
        .threads = 1,
        .duration_ns = 5 * UINT64_C(1000000000),
        .timeout_ns = 2 * UINT64_C(1000000000),
        .size = 64,
        .n_sources = 16,
        .verify = true,
};

static ErrClass classify(int err) {
        switch (err) {
        case ECONNREFUSED:
                return ERR_REFUSED;
        case ECONNRESET:
        case EPIPE:
        case ECONNABORTED:
                return ERR_RESET;
        case ETIMEDOUT:
                return ERR_TIMEOUT;
        case EADDRNOTAVAIL:
                return ERR_ADDRNOTAVAIL;
        default:
                return ERR_OTHER;
        }
}

static void conn_close(Worker *w, Conn *c) {
        c->fd = safe_close(c->fd);
        w->active--;
}

static void conn_fail(Worker *w, Conn *c, ErrClass e) {
        w->errors[e]++;
        conn_close(w, c);
}

static int record_latency(Worker *w, uint64_t ns) {
        if (w->n_lat == w->cap_lat) {
                size_t cap = w->cap_lat ? w->cap_lat * 2 : 65536;
                uint64_t *n = realloc(w->lat, cap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                w->lat = n;
                w->cap_lat = cap;
        }
        w->lat[w->n_lat++] = ns;
        return 0;
}

static void conn_done(Worker *w, Conn *c) {
        uint64_t now = bench_now_ns();

        if (arg.slow_ns > 0 && now - c->start_ns >= arg.slow_ns)
                fprintf(stderr, "slow connection (thread %u): at +%.3fs, total %.1fus: connect() %.1fus, "
                        "then payload written after %.1fus, then echo after %.1fus\n",
                        w->id, (double) (c->start_ns - arg.t_start) / 1e9, (double) (now - c->start_ns) / 1e3,
                        (double) (c->connect_ns - c->start_ns) / 1e3, (double) (c->written_ns - c->connect_ns) / 1e3,
                        (double) (now - c->written_ns) / 1e3);

        if (c->start_ns >= arg.t_measure) {
                if (record_latency(w, now - c->start_ns) < 0)
                        w->fatal = -ENOMEM;
                w->ok_by_addr[c->addr]++;
                if (now > w->last_finish_ns)
                        w->last_finish_ns = now;
        }
        conn_close(w, c);
}

static int conn_set_events(Worker *w, Conn *c, uint32_t events) {
        if (c->events == events)
                return 0;
        struct epoll_event ev = { .events = events, .data.u32 = (uint32_t) (c - w->conns) };
        if (epoll_ctl(w->epfd, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) < 0)
                return negative_errno();
        c->events = events;
        return 0;
}

/* Writes what it can. Returns 0, or a negative errno on a fatal socket
 * error (-EAGAIN is not returned). */
static int conn_write(Conn *c) {
        if (c->written == arg.size)
                return 0;
        while (c->written < arg.size) {
                ssize_t n = write(c->fd, arg.payload + c->written, arg.size - c->written);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return negative_errno();
                }
                c->written += (size_t) n;
        }
        c->written_ns = bench_now_ns();
        return 0;
}

/* Reads what is there. Returns 1 when the whole echo arrived, 0 when more
 * is expected, or the negative of an ErrClass-mapped errno; *ret_err is set
 * on failure. */
static int conn_read(Worker *w, Conn *c, ErrClass *ret_err) {
        for (;;) {
                ssize_t n = read(c->fd, w->rbuf, READ_BUF_SIZE);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        *ret_err = classify(errno);
                        return -1;
                }
                if (n == 0) {
                        *ret_err = ERR_EOF;
                        return -1;
                }
                if (c->nread + (size_t) n > c->written ||
                    (arg.verify && !bench_check_pattern(w->rbuf, (size_t) n, c->nread))) {
                        *ret_err = ERR_MISMATCH;
                        return -1;
                }
                c->nread += (size_t) n;
                if (c->nread == arg.size)
                        return 1;
        }
}

/* Starts a new connection in slot c if the run allows one. Returns 1 when
 * a connection is now in flight, 0 when no more may be started, -1 when it
 * failed at once (counted; the caller may try again). */
static int conn_start(Worker *w, Conn *c) {
        uint64_t now = bench_now_ns();
        if (now >= arg.t_end || w->fatal < 0)
                return 0;
        uint64_t t = atomic_fetch_add(&arg.tickets, 1);
        if (arg.max_conns > 0 && t >= arg.max_conns)
                return 0;

        const BenchAddr *a = &arg.addrs[t % arg.n_addrs];
        *c = (Conn) { .fd = -EBADF, .addr = (unsigned) (t % arg.n_addrs) };

        c->fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
                        w->fatal = negative_errno();
                        return 0;
                }
                w->errors[ERR_OTHER]++;
                return -1;
        }
        w->active++;
        if (arg.nodelay) {
                int one = 1;
                (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }

        c->start_ns = bench_now_ns();
        c->deadline_ns = c->start_ns + arg.timeout_ns;
        if (a->sa.ss_family == AF_INET && arg.n_sources > 1) {
                /* Spread the connections over several loopback source
                 * addresses: one source address can only reuse a port that
                 * sits in TIME_WAIT about once a second, which caps a
                 * single one at roughly (ephemeral ports / 2) connections
                 * per second to one destination. The port is still picked
                 * at connect() time (IP_BIND_ADDRESS_NO_PORT). */
                struct sockaddr_in src = {
                        .sin_family = AF_INET,
                        .sin_addr.s_addr = htonl(UINT32_C(0x7f000001) + (uint32_t) (t / arg.n_addrs % arg.n_sources)),
                };
                int one = 1;
                (void) setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
                if (bind(c->fd, (const struct sockaddr *) &src, sizeof(src)) < 0) {
                        conn_fail(w, c, classify(errno));
                        return -1;
                }
        }
        if (connect(c->fd, (const struct sockaddr *) &a->sa, a->sa_len) < 0 && errno != EINPROGRESS) {
                conn_fail(w, c, classify(errno));
                return -1;
        }
        c->connect_ns = bench_now_ns();

        /* On loopback the handshake has usually completed by now: try to
         * write at once and save a wakeup. A socket still connecting
         * answers EAGAIN. */
        int r = conn_write(c);
        if (r < 0) {
                conn_fail(w, c, classify(-r));
                return -1;
        }
        r = conn_set_events(w, c, c->written < arg.size ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
        if (r < 0) {
                w->fatal = r;
                conn_fail(w, c, ERR_OTHER);
                return 0;
        }
        return 1;
}

static void slot_refill(Worker *w, Conn *c) {
        while (conn_start(w, c) < 0)
                ;
}

static void conn_event(Worker *w, Conn *c, uint32_t revents) {
        ErrClass e;
        int r;

        if ((revents & EPOLLERR) && c->written == 0 && c->nread == 0) {
                int err = 0;
                socklen_t l = sizeof(err);
                if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                        err = errno;
                if (err != 0) {
                        conn_fail(w, c, classify(err));
                        return;
                }
        }

        if (c->written < arg.size && (revents & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                r = conn_write(c);
                if (r < 0) {
                        conn_fail(w, c, classify(-r));
                        return;
                }
        }

        if (revents & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                r = conn_read(w, c, &e);
                if (r < 0) {
                        conn_fail(w, c, e);
                        return;
                }
                if (r > 0) {
                        conn_done(w, c);
                        return;
                }
        }

        r = conn_set_events(w, c, c->written < arg.size ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
        if (r < 0) {
                w->fatal = r;
                conn_fail(w, c, ERR_OTHER);
        }
}

static void scan_timeouts(Worker *w, uint64_t now) {
        for (unsigned i = 0; i < w->n_conns; i++) {
                Conn *c = &w->conns[i];
                if (c->fd >= 0 && now >= c->deadline_ns) {
                        conn_fail(w, c, ERR_TIMEOUT);
                        slot_refill(w, c);
                }
        }
        w->last_scan_ns = now;
}

static void *worker_run(void *p) {
        Worker *w = p;
        struct epoll_event evs[MAX_EVENTS];

        for (unsigned i = 0; i < w->n_conns; i++)
                slot_refill(w, &w->conns[i]);

        while (w->active > 0) {
                int n = epoll_wait(w->epfd, evs, MAX_EVENTS, 10);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        w->fatal = negative_errno();
                        break;
                }
                for (int i = 0; i < n; i++) {
                        Conn *c = &w->conns[evs[i].data.u32];
                        if (c->fd < 0)
                                continue;
                        conn_event(w, c, evs[i].events);
                        if (c->fd < 0)
                                slot_refill(w, c);
                }
                uint64_t now = bench_now_ns();
                if (now - w->last_scan_ns >= SCAN_INTERVAL_NS)
                        scan_timeouts(w, now);
        }

        /* Anything left after a fatal error is closed uncounted. */
        for (unsigned i = 0; i < w->n_conns; i++)
                w->conns[i].fd = safe_close(w->conns[i].fd);
        return NULL;
}

static void help(void) {
        printf("Usage: echoload [OPTIONS] ADDR:PORT [ADDR:PORT...]\n"
               "New-connection echo load on loopback: connect, write, read back, close.\n"
               "Several addresses are used round-robin, one per connection.\n\n"
               "  -c N     connections in flight (default %u)\n"
               "  -t N     threads, each with its own epoll loop (default 1, 0: one per CPU)\n"
               "  -d SEC   stop starting connections after SEC seconds (default 5)\n"
               "  -n N     stop after N connections were started (default: no limit)\n"
               "  -w SEC   warm-up: connections started in the first SEC seconds are not measured\n"
               "  -s B     payload bytes per connection (default %zu)\n"
               "  -S N     IPv4: bind to N source addresses 127.0.0.1..N round-robin (default %u;\n"
               "           one source address caps the rate near (local ports / 2) per second)\n"
               "  -T MS    per-connection timeout in ms (default 2000)\n"
               "  -D MS    report each connection slower than MS on stderr, by phase\n"
               "  -N       set TCP_NODELAY\n"
               "  -V       do not verify the echoed bytes\n"
               "  -q       print only the RESULT line\n"
               "  -h       this help\n",
               arg.concurrency, arg.size, arg.n_sources);
}

static int parse_args(int argc, char *argv[]) {
        uint64_t v;
        int c;

        while ((c = getopt(argc, argv, "c:t:d:n:w:s:S:T:D:NVqh")) >= 0) {
                switch (c) {
                case 'c':
                        if (bench_parse_uint(optarg, 1, 100000, &v) < 0)
                                goto bad;
                        arg.concurrency = (unsigned) v;
                        break;
                case 't':
                        if (bench_parse_uint(optarg, 0, 1024, &v) < 0)
                                goto bad;
                        arg.threads = (unsigned) v;
                        break;
                case 'd':
                        if (bench_parse_seconds(optarg, &arg.duration_ns) < 0)
                                goto bad;
                        break;
                case 'n':
                        if (bench_parse_uint(optarg, 0, UINT64_MAX / 2, &arg.max_conns) < 0)
                                goto bad;
                        break;
                case 'w':
                        if (bench_parse_seconds(optarg, &arg.warmup_ns) < 0)
                                goto bad;
                        break;
                case 's':
                        if (bench_parse_uint(optarg, 1, 1024 * 1024 * 1024, &v) < 0)
                                goto bad;
                        arg.size = (size_t) v;
                        break;
                case 'S':
                        if (bench_parse_uint(optarg, 1, 65534, &v) < 0)
                                goto bad;
                        arg.n_sources = (unsigned) v;
                        break;
                case 'T':
                        if (bench_parse_uint(optarg, 1, 3600 * 1000, &v) < 0)
                                goto bad;
                        arg.timeout_ns = v * UINT64_C(1000000);
                        break;
                case 'D':
                        if (bench_parse_uint(optarg, 1, 3600 * 1000, &v) < 0)
                                goto bad;
                        arg.slow_ns = v * UINT64_C(1000000);
                        break;
                case 'N':
                        arg.nodelay = true;
                        break;
                case 'V':
                        arg.verify = false;
                        break;
                case 'q':
                        arg.quiet = true;
                        break;
                case 'h':
                        help();
                        exit(EXIT_SUCCESS);
                default:
                        return -EINVAL;
                }
                continue;
        bad:
                fprintf(stderr, "echoload: invalid argument for -%c: %s\n", c, optarg);
                return -EINVAL;
        }

        if (optind >= argc) {
                fprintf(stderr, "echoload: no address given (try -h)\n");
                return -EINVAL;
        }
        arg.n_addrs = (size_t) (argc - optind);
        arg.addrs = calloc(arg.n_addrs, sizeof(*arg.addrs));
        if (!arg.addrs)
                return -ENOMEM;
        for (size_t i = 0; i < arg.n_addrs; i++) {
                int r = bench_addr_parse(argv[optind + (int) i], false, &arg.addrs[i]);
                if (r == -EPERM) {
                        fprintf(stderr, "echoload: %s is not a loopback address, refusing\n", argv[optind + (int) i]);
                        return r;
                }
                if (r < 0) {
                        fprintf(stderr, "echoload: cannot parse address %s (want A.B.C.D:PORT or [V6]:PORT)\n",
                                argv[optind + (int) i]);
                        return r;
                }
        }

        if (arg.threads == 0) {
                long n = sysconf(_SC_NPROCESSORS_ONLN);
                arg.threads = n > 0 ? (unsigned) n : 1;
        }
        arg.threads = MIN(arg.threads, arg.concurrency);
        if (arg.duration_ns == 0 && arg.max_conns == 0) {
                fprintf(stderr, "echoload: -d 0 needs -n\n");
                return -EINVAL;
        }
        if (arg.duration_ns == 0)
                arg.duration_ns = UINT64_C(3600) * 1000000000;
        if (arg.warmup_ns >= arg.duration_ns) {
                fprintf(stderr, "echoload: the warm-up must be shorter than the duration\n");
                return -EINVAL;
        }
        return 0;
}

static double us(uint64_t ns) {
        return (double) ns / 1000.0;
}

int main(int argc, char *argv[]) {
        int r;

        r = parse_args(argc, argv);
        if (r < 0)
                return 64; /* EX_USAGE */

        (void) signal(SIGPIPE, SIG_IGN);

        arg.payload = malloc(arg.size);
        if (!arg.payload)
                return 71;
        bench_fill_pattern(arg.payload, arg.size, 0);

        Worker *workers = calloc(arg.threads, sizeof(*workers));
        if (!workers)
                return 71;

        for (unsigned i = 0; i < arg.threads; i++) {
                Worker *w = &workers[i];
                w->id = i;
                w->n_conns = arg.concurrency / arg.threads + (i < arg.concurrency % arg.threads);
                w->conns = calloc(w->n_conns, sizeof(*w->conns));
                w->rbuf = malloc(READ_BUF_SIZE);
                w->ok_by_addr = calloc(arg.n_addrs, sizeof(*w->ok_by_addr));
                w->epfd = epoll_create1(EPOLL_CLOEXEC);
                if (!w->conns || !w->rbuf || !w->ok_by_addr || w->epfd < 0) {
                        fprintf(stderr, "echoload: setup failed: %s\n", strerror(errno));
                        return 71;
                }
                for (unsigned j = 0; j < w->n_conns; j++)
                        w->conns[j].fd = -EBADF;
        }

        arg.t_start = bench_now_ns();
        arg.t_measure = arg.t_start + arg.warmup_ns;
        arg.t_end = arg.t_start + arg.duration_ns;
        for (unsigned i = 0; i < arg.threads; i++)
                workers[i].last_scan_ns = arg.t_start;

        for (unsigned i = 1; i < arg.threads; i++) {
                r = pthread_create(&workers[i].thread, NULL, worker_run, &workers[i]);
                if (r != 0) {
                        fprintf(stderr, "echoload: pthread_create: %s\n", strerror(r));
                        return 71;
                }
        }
        worker_run(&workers[0]);
        for (unsigned i = 1; i < arg.threads; i++)
                (void) pthread_join(workers[i].thread, NULL);

        /* Merge. */
        size_t n_lat = 0;
        uint64_t errors[_ERR_MAX] = {0}, err_total = 0, last = 0;
        int fatal = 0;
        for (unsigned i = 0; i < arg.threads; i++) {
                n_lat += workers[i].n_lat;
                last = MAX(last, workers[i].last_finish_ns);
                for (int e = 0; e < _ERR_MAX; e++)
                        errors[e] += workers[i].errors[e];
                if (workers[i].fatal < 0 && fatal == 0)
                        fatal = workers[i].fatal;
        }
        for (int e = 0; e < _ERR_MAX; e++)
                err_total += errors[e];

        uint64_t *lat = malloc(MAX(n_lat, (size_t) 1) * sizeof(*lat));
        uint64_t *ok_by_addr = calloc(arg.n_addrs, sizeof(*ok_by_addr));
        if (!lat || !ok_by_addr)
                return 71;
        for (unsigned i = 0, k = 0; i < arg.threads; i++) {
                memcpy(lat + k, workers[i].lat, workers[i].n_lat * sizeof(*lat));
                k += (unsigned) workers[i].n_lat;
                for (size_t a = 0; a < arg.n_addrs; a++)
                        ok_by_addr[a] += workers[i].ok_by_addr[a];
        }
        bench_sort_u64(lat, n_lat);

        double secs = last > arg.t_measure ? (double) (last - arg.t_measure) / 1e9 : 0.0;
        double rate = secs > 0 ? (double) n_lat / secs : 0.0;
        uint64_t p50 = bench_percentile_sorted(lat, n_lat, 50);
        uint64_t p90 = bench_percentile_sorted(lat, n_lat, 90);
        uint64_t p99 = bench_percentile_sorted(lat, n_lat, 99);
        uint64_t pmax = n_lat > 0 ? lat[n_lat - 1] : 0;

        if (!arg.quiet) {
                printf("echoload: %zu address(es) %s%s sources=%u c=%u t=%u size=%zu duration=%.2fs warmup=%.2fs max=%" PRIu64 "\n",
                       arg.n_addrs, arg.addrs[0].text, arg.n_addrs > 1 ? ",..." : "", arg.n_sources,
                       arg.concurrency, arg.threads, arg.size,
                       (double) arg.duration_ns / 1e9, (double) arg.warmup_ns / 1e9, arg.max_conns);
                printf("connections: %zu ok in %.3f s = %.1f conn/s\n", n_lat, secs, rate);
                printf("latency (connect to last echoed byte): p50=%.1fus p90=%.1fus p99=%.1fus max=%.1fus\n",
                       us(p50), us(p90), us(p99), us(pmax));
                printf("errors: %" PRIu64, err_total);
                for (int e = 0; e < _ERR_MAX; e++)
                        printf(" %s=%" PRIu64, err_names[e], errors[e]);
                printf("\n");
                if (arg.n_addrs > 1)
                        for (size_t a = 0; a < arg.n_addrs; a++)
                                printf("  %s: %" PRIu64 " ok\n", arg.addrs[a].text, ok_by_addr[a]);
                if (fatal < 0)
                        printf("stopped early: %s\n", strerror(-fatal));
        }

        printf("RESULT ok=%zu secs=%.3f rate=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f err=%" PRIu64,
               n_lat, secs, rate, us(p50), us(p90), us(p99), us(pmax), err_total);
        for (int e = 0; e < _ERR_MAX; e++)
                printf(" %s=%" PRIu64, err_names[e], errors[e]);
        if (arg.n_addrs > 1) {
                printf(" ok_by_addr=");
                for (size_t a = 0; a < arg.n_addrs; a++)
                        printf("%s%" PRIu64, a ? "," : "", ok_by_addr[a]);
        }
        if (fatal < 0)
                printf(" fatal=%d", -fatal);
        printf("\n");
        fflush(stdout);

        for (unsigned i = 0; i < arg.threads; i++) {
                safe_close(workers[i].epfd);
                free(workers[i].conns);
                free(workers[i].rbuf);
                free(workers[i].lat);
                free(workers[i].ok_by_addr);
        }
        free(workers);
        free(lat);
        free(ok_by_addr);
        free(arg.payload);
        free(arg.addrs);

        return n_lat > 0 && fatal == 0 ? 0 : 1;
}
