/* SPDX-License-Identifier: MIT */
/*
 * respawn: measures how long preforkd takes to put a new worker in place of
 * one killed with SIGKILL, as seen from outside.
 *
 *   respawn -p MASTER_PID -a ADDR:PORT [-n KILLS] [-i MS] [-s BYTES] [-T MS] [-R] [-v]
 *
 * The service behind ADDR:PORT must have exactly one worker (workers = 1),
 * so that nobody but the replacement can answer. For each kill:
 *
 *   1. find the only child of the master (the worker) and check that it
 *      answers an echo round trip (its time is the baseline RTT), then wait
 *      2 ms so that it is back in accept();
 *   2. t0; kill(worker, SIGKILL);
 *   3. wait until the old worker has exited (a pidfd turns readable; t_exit),
 *      then connect() and write the payload: the kernel completes the
 *      handshake and queues the connection in the listen backlog, which the
 *      master keeps open while no worker is there;
 *   4. wait for the echo; t1 = when the last byte arrived. The latency is
 *      t1 - t0: kill -> exit -> SIGCHLD to the master -> reap -> fork ->
 *      worker setup -> the worker's first accept() -> echo;
 *   5. check that a new pid took the slot; wait INTERVAL ms before the next
 *      kill (it must exceed the service's respawn.min_uptime, else the kills
 *      count as crashes and the slot backs off).
 *
 * Why connect only after the exit: a worker with SIGKILL pending that is
 * still asleep in accept() can, when it gets to run, take a connection that
 * was queued meanwhile (inet_csk_wait_for_connect() looks at the accept queue
 * before it looks at pending signals) and die with it: the client is reset.
 * Connecting after the exit costs nothing in accuracy, since the master
 * cannot learn of the death (SIGCHLD) before the exit either.
 *
 * Bias: t1 - t0 over-estimates "kill to the new worker's first accept" by
 * the time the new worker needs to read and echo the payload and for the
 * reply to reach us (a few tens of us; the baseline RTT, connect included,
 * is reported as an upper bound of it), and, if the new worker is already
 * in accept() before the connection arrives, by the connect that starts at
 * t_exit. It includes the kernel's tear-down of the old worker (reported
 * apart as "exit", t_exit - t0). The client runs on the same 2 cores.
 *
 * The last line is parseable:
 * With -R the connection is made right after kill(), before the exit; the
 * kills whose connection was reset are counted as failed, which measures
 * how often that race hits rather than the respawn time.
 *
 *   RESULT kills=N ok=N failed=F median_us=.. p90_us=.. p99_us=.. max_us=..
 *          min_us=.. exit_median_us=.. rtt_median_us=..
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "benchutil.h"

#define MAX_CHILDREN 64

static struct {
        pid_t master;
        BenchAddr addr;
        unsigned kills;
        uint64_t interval_usec;
        uint64_t timeout_ns;
        size_t size;
        bool verbose;
        bool racy;
} arg = {
        .kills = 50,
        .interval_usec = 100 * USEC_PER_MSEC,
        .timeout_ns = 5 * UINT64_C(1000000000),
        .size = 16,
};

static int pidfd_open_(pid_t pid) {
        return (int) syscall(SYS_pidfd_open, pid, 0);
}

/* A service's front stage (comm "preforkd-front") is a child too, but not
 * a worker. */
static bool is_front_stage(pid_t pid) {
        char path[64], comm[32] = "";
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/comm", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        if (!fgets(comm, sizeof comm, f))
                comm[0] = 0;
        fclose(f);
        return strncmp(comm, "preforkd-front", 14) == 0;
}

/* Waits until the master has exactly one worker child, other than not_pid. */
static int find_worker(pid_t not_pid, uint64_t timeout_ns, pid_t *ret) {
        uint64_t end = bench_now_ns() + timeout_ns;
        pid_t kids[MAX_CHILDREN];
        int n;

        for (;;) {
                n = bench_children(arg.master, kids, ELEMENTSOF(kids));
                if (n < 0)
                        return n;
                int k = 0;
                for (int i = 0; i < n; i++)
                        if (!is_front_stage(kids[i]))
                                kids[k++] = kids[i];
                n = k;
                if (n == 1 && kids[0] != not_pid) {
                        *ret = kids[0];
                        return 0;
                }
                if (bench_now_ns() >= end)
                        return n > 1 ? -ENOTUNIQ : -ESRCH;
                bench_sleep_usec(200);
        }
}

static int wait_fd(int fd, short events, uint64_t deadline_ns) {
        for (;;) {
                uint64_t now = bench_now_ns();
                if (now >= deadline_ns)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = fd, .events = events };
                int ms = (int) ((deadline_ns - now + 999999) / 1000000);
                int r = poll(&p, 1, ms);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return negative_errno();
                if (r > 0)
                        return p.revents;
        }
}

/* Connects and writes the payload. Returns the fd or a negative errno. */
static int echo_send(const uint8_t *payload) {
        _cleanup_close_ int fd = socket(arg.addr.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (const struct sockaddr *) &arg.addr.sa, arg.addr.sa_len) < 0)
                return negative_errno();
        if (write(fd, payload, arg.size) != (ssize_t) arg.size)
                return -EIO;
        int r = fd;
        fd = -EBADF;
        return r;
}

/* Reads the whole echo. Returns 0 or a negative errno. */
static int echo_recv(int fd, uint8_t *buf, uint64_t deadline_ns) {
        size_t got = 0;
        while (got < arg.size) {
                int r = wait_fd(fd, POLLIN, deadline_ns);
                if (r < 0)
                        return r;
                ssize_t n = read(fd, buf + got, arg.size - got);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return -ECONNRESET;
                got += (size_t) n;
        }
        return bench_check_pattern(buf, arg.size, 0) ? 0 : -EBADMSG;
}

static int parse_args(int argc, char *argv[]) {
        bool have_addr = false;
        uint64_t v;
        int c;

        while ((c = getopt(argc, argv, "p:a:n:i:s:T:Rvh")) >= 0) {
                switch (c) {
                case 'p':
                        if (bench_parse_uint(optarg, 2, INT32_MAX, &v) < 0)
                                goto bad;
                        arg.master = (pid_t) v;
                        break;
                case 'a': {
                        int r = bench_addr_parse(optarg, false, &arg.addr);
                        if (r == -EPERM) {
                                fprintf(stderr, "respawn: %s is not a loopback address, refusing\n", optarg);
                                return r;
                        }
                        if (r < 0)
                                goto bad;
                        have_addr = true;
                        break;
                }
                case 'n':
                        if (bench_parse_uint(optarg, 1, 100000, &v) < 0)
                                goto bad;
                        arg.kills = (unsigned) v;
                        break;
                case 'i':
                        if (bench_parse_uint(optarg, 0, 600000, &v) < 0)
                                goto bad;
                        arg.interval_usec = v * USEC_PER_MSEC;
                        break;
                case 's':
                        if (bench_parse_uint(optarg, 1, 65536, &v) < 0)
                                goto bad;
                        arg.size = (size_t) v;
                        break;
                case 'T':
                        if (bench_parse_uint(optarg, 1, 600000, &v) < 0)
                                goto bad;
                        arg.timeout_ns = v * UINT64_C(1000000);
                        break;
                case 'R':
                        arg.racy = true;
                        break;
                case 'v':
                        arg.verbose = true;
                        break;
                case 'h':
                        printf("Usage: respawn -p MASTER_PID -a ADDR:PORT [-n KILLS] [-i MS] [-s BYTES] [-T MS] [-R] [-v]\n"
                               "Kills the only worker of a workers=1 service with SIGKILL, KILLS times, and\n"
                               "measures kill -> echo answered by the replacement (see the source for the method).\n"
                               "  -n KILLS  default 50      -i MS  pause between kills, default 100\n"
                               "  -s BYTES  payload, 16     -T MS  timeout per kill, default 5000\n"
                               "  -R        connect right after kill(), without waiting for the old worker to\n"
                               "            exit: shows connections lost to a dying worker (counted as failed)\n");
                        exit(EXIT_SUCCESS);
                default:
                        return -EINVAL;
                }
                continue;
        bad:
                fprintf(stderr, "respawn: invalid argument for -%c: %s\n", c, optarg);
                return -EINVAL;
        }
        if (arg.master <= 1 || !have_addr) {
                fprintf(stderr, "respawn: -p MASTER_PID and -a ADDR:PORT are required (try -h)\n");
                return -EINVAL;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        uint8_t payload[65536], buf[65536];
        int r;

        if (parse_args(argc, argv) < 0)
                return 64;
        (void) signal(SIGPIPE, SIG_IGN);
        bench_fill_pattern(payload, arg.size, 0);

        uint64_t *lat = calloc(arg.kills, sizeof(uint64_t));
        uint64_t *exit_lat = calloc(arg.kills, sizeof(uint64_t));
        uint64_t *rtt = calloc(arg.kills, sizeof(uint64_t));
        if (!lat || !exit_lat || !rtt)
                return 71;

        unsigned ok = 0, failed = 0;
        pid_t worker = 0;

        for (unsigned k = 0; k < arg.kills; k++) {
                r = find_worker(0, 5 * UINT64_C(1000000000), &worker);
                if (r < 0) {
                        fprintf(stderr, "respawn: no single worker under pid %d: %s\n", (int) arg.master,
                                r == -ENOTUNIQ ? "more than one child (use workers = 1)" : strerror(-r));
                        return 1;
                }

                /* Baseline: the worker answers. */
                uint64_t b0 = bench_now_ns();
                _cleanup_close_ int bfd = echo_send(payload);
                if (bfd < 0 || echo_recv(bfd, buf, b0 + arg.timeout_ns) < 0) {
                        fprintf(stderr, "respawn: worker %d does not answer before the kill\n", (int) worker);
                        return 1;
                }
                rtt[k] = bench_now_ns() - b0;
                bfd = safe_close(bfd);
                bench_sleep_usec(2000);

                _cleanup_close_ int pidfd = pidfd_open_(worker);
                if (pidfd < 0) {
                        fprintf(stderr, "respawn: pidfd_open(%d): %s\n", (int) worker, strerror(errno));
                        return 1;
                }

                uint64_t t0 = bench_now_ns(), t_exit = 0;
                if (kill(worker, SIGKILL) < 0) {
                        fprintf(stderr, "respawn: kill(%d): %s\n", (int) worker, strerror(errno));
                        return 1;
                }
                /* Connect only once the old worker is gone: a worker that
                 * has SIGKILL pending but is still in accept() can take a
                 * connection that was queued before it got to run and die
                 * (inet_csk_wait_for_connect() checks the queue before
                 * pending signals), and that connection is then reset. */
                uint64_t deadline = t0 + arg.timeout_ns;
                _cleanup_close_ int fd = -EBADF;
                if (arg.racy) {
                        /* -R: connect at once, while the old worker may
                         * still be in accept() with SIGKILL pending. */
                        fd = echo_send(payload);
                        r = fd < 0 ? fd : echo_recv(fd, buf, deadline);
                        if (wait_fd(pidfd, POLLIN, deadline) > 0)
                                t_exit = bench_now_ns();
                } else {
                        r = wait_fd(pidfd, POLLIN, deadline);
                        if (r > 0) {
                                t_exit = bench_now_ns();
                                fd = echo_send(payload);
                                r = fd < 0 ? fd : echo_recv(fd, buf, deadline);
                        } else if (r == 0)
                                r = -ETIMEDOUT;
                }
                uint64_t t1 = bench_now_ns();

                /* A new pid must have taken the slot. */
                pid_t next = 0;
                int rn = find_worker(worker, arg.timeout_ns, &next);

                if (r < 0 || !t_exit || rn < 0) {
                        failed++;
                        fprintf(stderr, "respawn: kill %u of %d: %s%s%s\n", k + 1, (int) worker,
                                r < 0 ? strerror(-r) : "ok", !t_exit ? " (old worker still alive)" : "",
                                rn < 0 ? " (no new worker)" : "");
                } else {
                        exit_lat[ok] = t_exit - t0;
                        lat[ok++] = t1 - t0;
                        if (arg.verbose)
                                printf("kill %u: worker %d -> %d: echo after %.1f us, exit after %.1f us (baseline rtt %.1f us)\n",
                                       k + 1, (int) worker, (int) next, (double) (t1 - t0) / 1e3,
                                       (double) (t_exit - t0) / 1e3, (double) rtt[k] / 1e3);
                }
                fd = safe_close(fd);
                pidfd = safe_close(pidfd);
                bench_sleep_usec(arg.interval_usec);
        }

        bench_sort_u64(lat, ok);
        bench_sort_u64(exit_lat, ok);
        bench_sort_u64(rtt, arg.kills);

        double med = (double) bench_percentile_sorted(lat, ok, 50) / 1e3;
        double p90 = (double) bench_percentile_sorted(lat, ok, 90) / 1e3;
        double p99 = (double) bench_percentile_sorted(lat, ok, 99) / 1e3;
        double max = ok ? (double) lat[ok - 1] / 1e3 : 0;
        double min = ok ? (double) lat[0] / 1e3 : 0;
        double rtt_med = (double) bench_percentile_sorted(rtt, arg.kills, 50) / 1e3;
        double exit_med = (double) bench_percentile_sorted(exit_lat, ok, 50) / 1e3;

        printf("respawn: %u kills, %u answered by a new worker, %u failed\n", arg.kills, ok, failed);
        printf("kill -> echo from the new worker: median=%.1fus p90=%.1fus p99=%.1fus min=%.1fus max=%.1fus\n",
               med, p90, p99, min, max);
        printf("kill -> old worker exited (pidfd readable): median=%.1fus\n", exit_med);
        printf("baseline echo rtt (connect+echo, live worker): median=%.1fus\n", rtt_med);
        printf("RESULT kills=%u ok=%u failed=%u median_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f min_us=%.1f exit_median_us=%.1f rtt_median_us=%.1f\n",
               arg.kills, ok, failed, med, p90, p99, max, min, exit_med, rtt_med);

        free(lat);
        free(exit_lat);
        free(rtt);
        return failed == 0 ? 0 : 1;
}
