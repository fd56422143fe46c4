/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>

#include "handler.h"
#include "log.h"
#include "worker.h"

/* Set by the SIGTERM handler; read by the accept loop and worker_wait(). */
static volatile sig_atomic_t stop_requested;

/* The listening fds of this worker and a /dev/null fd, for on_term(). Set
 * once before the handler is installed and never changed afterwards. */
static const int *term_listen_fds;
static size_t term_n_listen_fds;
static int term_devnull_fd = -EBADF;
/* Seconds after the first SIGTERM at which the worker ends itself. */
static unsigned term_alarm_secs;

/* The signal mask outside the few places where SIGTERM may be delivered. */
static sigset_t mask_blocked;
static sigset_t mask_open;

uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

bool worker_stop_requested(void) {
        return stop_requested;
}

/* A blocking accept() has no variant that unblocks signals atomically, so a
 * SIGTERM that lands between the loop's stop check and the accept() call
 * would be lost and the worker would sleep until the next connection. To
 * close that window the handler points this worker's listening fds at
 * /dev/null: an accept() that has not started yet then fails at once with
 * ENOTSOCK, one that is blocked returns EINTR (no SA_RESTART), and one that
 * already returned a connection keeps it, so no connection is ever lost.
 * Only this process's fd table changes; the master and the other workers
 * keep the socket. dup2() is async-signal-safe. */
static void on_term(int sig) {
        /* The master SIGKILLs a worker that overstays shutdown_timeout. A
         * TERM that came from PR_SET_PDEATHSIG has no master behind it, so
         * the worker bounds its own graceful exit the same way: SIGALRM
         * (default action: terminate) a second after that deadline. */
        if (!stop_requested)
                (void) alarm(term_alarm_secs);
        stop_requested = 1;
        for (size_t i = 0; i < term_n_listen_fds; i++)
                (void) dup2(term_devnull_fd, term_listen_fds[i]);
}

static void on_quit(int sig) {
        _exit(0);
}

int worker_wait(int fd, short events, uint64_t timeout_usec, bool stop_interrupts) {
        uint64_t deadline = timeout_usec == UINT64_MAX ? UINT64_MAX : now_usec() + timeout_usec;

        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = events };
                struct timespec ts, *tsp = NULL;
                int r;

                if (stop_interrupts && stop_requested)
                        return -ECANCELED;
                if (deadline != UINT64_MAX) {
                        uint64_t now = now_usec();
                        if (now >= deadline)
                                return 0;
                        ts.tv_sec = (time_t) ((deadline - now) / USEC_PER_SEC);
                        ts.tv_nsec = (long) ((deadline - now) % USEC_PER_SEC * NSEC_PER_USEC);
                        tsp = &ts;
                }
                r = ppoll(&pfd, 1, tsp, &mask_open);
                if (r > 0)
                        return pfd.revents;
                if (r == 0)
                        return 0;
                if (errno != EINTR)
                        return negative_errno();
        }
}

int worker_send_all(int fd, const void *buf, size_t len, int flags, uint64_t timeout_usec) {
        const char *p = buf;

        while (len > 0) {
                ssize_t n = send(fd, p, len, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
                int r;

                if (n >= 0) {
                        p += n;
                        len -= (size_t) n;
                        continue;
                }
                if (errno == EINTR)
                        continue;
                if (!IN_SET(errno, EAGAIN, EWOULDBLOCK))
                        return negative_errno();
                r = worker_wait(fd, POLLOUT, timeout_usec, false);
                if (r == 0)
                        return -ETIMEDOUT;
                if (r < 0)
                        return r;
        }
        return 0;
}

static void worker_set_signals(const WorkerSpawn *sp) {
        struct sigaction term = { .sa_handler = on_term }, quit = { .sa_handler = on_quit },
                         ign = { .sa_handler = SIG_IGN }, dfl = { .sa_handler = SIG_DFL };

        term_alarm_secs = (unsigned) ((sp->config->shutdown_timeout_usec + USEC_PER_SEC - 1) / USEC_PER_SEC) + 1;
        term_listen_fds = sp->listen_fds;
        term_n_listen_fds = sp->n_listen_fds;
        term_devnull_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (term_devnull_fd < 0)
                fatal(EX_OSERR, "%s[slot %u]: cannot open /dev/null: %s", sp->svc->name, sp->slot, STRERROR(errno));

        /* No SA_RESTART on TERM: a blocking accept() must return EINTR. */
        (void) sigaction(SIGTERM, &term, NULL);
        (void) sigaction(SIGQUIT, &quit, NULL);
        /* The master coordinates Ctrl-C and reloads; a worker ignores them. */
        (void) sigaction(SIGINT, &ign, NULL);
        (void) sigaction(SIGHUP, &ign, NULL);
        (void) sigaction(SIGPIPE, &ign, NULL);
        (void) sigaction(SIGCHLD, &dfl, NULL);
        (void) sigaction(SIGALRM, &dfl, NULL);
        (void) sigaction(SIGUSR1, &ign, NULL);
        (void) sigaction(SIGUSR2, &ign, NULL);

        /* TERM stays blocked except while the worker waits, so that a stop
         * request is only ever acted on between connections or requests. */
        sigemptyset(&mask_open);
        sigemptyset(&mask_blocked);
        sigaddset(&mask_blocked, SIGTERM);
        (void) sigprocmask(SIG_SETMASK, &mask_blocked, NULL);
}

static void worker_drop_privileges(const WorkerSpawn *sp) {
        const Config *c = sp->config;

        if (!c->user && !c->group)
                return;
        if (c->user && geteuid() == c->uid && getegid() == c->gid)
                return;
        if (c->user) {
                /* Not initgroups(): no NSS call after fork() (config-loader.c). */
                if (setgroups(c->n_supplementary_gids, c->supplementary_gids) < 0)
                        fatal(EX_NOPERM, "%s[slot %u]: cannot set supplementary groups of user %s: %s",
                              sp->svc->name, sp->slot, c->user, STRERROR(errno));
        } else if (setgroups(0, NULL) < 0)
                fatal(EX_NOPERM, "%s[slot %u]: cannot drop supplementary groups: %s", sp->svc->name, sp->slot, STRERROR(errno));
        if (setresgid(c->gid, c->gid, c->gid) < 0)
                fatal(EX_NOPERM, "%s[slot %u]: cannot change to group %u: %s", sp->svc->name, sp->slot,
                      (unsigned) c->gid, STRERROR(errno));
        if (c->user && setresuid(c->uid, c->uid, c->uid) < 0)
                fatal(EX_NOPERM, "%s[slot %u]: cannot change to user %s: %s", sp->svc->name, sp->slot, c->user, STRERROR(errno));
}

/* Waits for one connection. Single listener: a plain blocking accept(),
 * which the kernel hands to exactly one waiting worker. Several listeners:
 * an epoll set with EPOLLEXCLUSIVE per listener (so one connection wakes
 * one or few workers), non-blocking accept on the ready one. */
static int worker_accept(const WorkerSpawn *sp, int epfd, WorkerScore *score, struct sockaddr_storage *peer,
                         socklen_t *peer_len) {
        int fd;

        if (sp->n_listen_fds == 1) {
                (void) sigprocmask(SIG_SETMASK, &mask_open, NULL);
                if (stop_requested)
                        fd = -1, errno = ECANCELED;
                else
                        fd = accept4(sp->listen_fds[0], (struct sockaddr *) peer, peer_len, SOCK_CLOEXEC | SOCK_NONBLOCK);
                int saved = errno;
                (void) sigprocmask(SIG_SETMASK, &mask_blocked, NULL);
                atomic_fetch_add_explicit(&score->wakeups, 1, memory_order_relaxed);
                errno = saved;
                return fd < 0 ? negative_errno() : fd;
        }

        struct epoll_event ev;
        int n = epoll_pwait(epfd, &ev, 1, -1, &mask_open);
        if (n < 0)
                return negative_errno();
        atomic_fetch_add_explicit(&score->wakeups, 1, memory_order_relaxed);
        if (n == 0)
                return -EAGAIN;
        fd = accept4(sp->listen_fds[ev.data.u32], (struct sockaddr *) peer, peer_len, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
                if (IN_SET(errno, EAGAIN, EWOULDBLOCK))
                        atomic_fetch_add_explicit(&score->spurious_wakeups, 1, memory_order_relaxed);
                return negative_errno();
        }
        return fd;
}

static int worker_setup_epoll(const WorkerSpawn *sp) {
        int epfd;

        if (sp->n_listen_fds <= 1)
                return -EBADF;
        epfd = epoll_create1(EPOLL_CLOEXEC);
        if (epfd < 0)
                fatal(EX_OSERR, "%s[slot %u]: epoll_create1: %s", sp->svc->name, sp->slot, STRERROR(errno));
        for (size_t i = 0; i < sp->n_listen_fds; i++) {
                struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = (uint32_t) i };
                if (epoll_ctl(epfd, EPOLL_CTL_ADD, sp->listen_fds[i], &ev) < 0)
                        fatal(EX_OSERR, "%s[slot %u]: epoll_ctl: %s", sp->svc->name, sp->slot, STRERROR(errno));
        }
        return epfd;
}

void worker_main(const WorkerSpawn *sp) {
        const Handler *h = handler_get(sp->svc->handler);
        WorkerScore *score = sp->score;
        ReadyMessage ready = { .pid = getpid(), .generation = sp->generation, .slot = sp->slot };
        uint64_t served = 0;
        int epfd, r;

        worker_set_signals(sp);
        for (size_t i = 0; i < sp->n_close_fds; i++)
                safe_close(sp->close_fds[i]);

        /* Die with the master. The parent may already be gone by the time
         * the request is made, hence the check right after it. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != sp->master_pid)
                _exit(0);

        worker_drop_privileges(sp);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                fatal(EX_OSERR, "%s[slot %u]: cannot set no_new_privs: %s", sp->svc->name, sp->slot, STRERROR(errno));

        epfd = worker_setup_epoll(sp);
        if (h->init) {
                r = h->init(sp->svc);
                if (r < 0)
                        _exit(EX_CONFIG);
        }

        atomic_store(&score->state, WORKER_IDLE);
        if (write(sp->ready_fd, &ready, sizeof ready) != (ssize_t) sizeof ready)
                log_debug_errno(errno, "%s[slot %u]: cannot report readiness: %s", sp->svc->name, sp->slot, STRERROR(errno));

        while (!stop_requested) {
                struct sockaddr_storage peer;
                socklen_t peer_len = sizeof peer;
                int fd = worker_accept(sp, epfd, score, &peer, &peer_len);

                if (fd < 0) {
                        if (IN_SET(fd, -EINTR, -EAGAIN, -EWOULDBLOCK, -ECANCELED, -ECONNABORTED, -ENOTSOCK))
                                continue;
                        if (IN_SET(fd, -EMFILE, -ENFILE, -ENOBUFS, -ENOMEM)) {
                                /* Out of resources: pause instead of spinning. */
                                log_warning_errno(fd, "%s[slot %u]: accept failed, pausing 10ms: %s", sp->svc->name,
                                                  sp->slot, STRERROR(fd));
                                (void) worker_wait(-1, 0, 10 * USEC_PER_MSEC, true);
                                continue;
                        }
                        fatal(EX_OSERR, "%s[slot %u]: accept failed: %s", sp->svc->name, sp->slot, strerror(-fd));
                }
                atomic_store_explicit(&score->state, WORKER_BUSY, memory_order_relaxed);
                atomic_fetch_add_explicit(&score->connections, 1, memory_order_relaxed);
                (void) h->serve(sp->svc, fd, peer_len ? (struct sockaddr *) &peer : NULL, peer_len);
                safe_close(fd);
                atomic_store_explicit(&score->state, WORKER_IDLE, memory_order_relaxed);

                served++;
                if (sp->svc->max_requests > 0 && served >= sp->svc->max_requests)
                        break;
        }

        atomic_store(&score->state, WORKER_EXITING);
        log_debug("%s[slot %u]: worker leaving after %" PRIu64 " connections, %" PRIu64 " wakeups, %" PRIu64
                  " spurious",
                  sp->svc->name, sp->slot, served, atomic_load(&score->wakeups), atomic_load(&score->spurious_wakeups));
        _exit(0);
}
