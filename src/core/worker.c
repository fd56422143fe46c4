/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>

#include "handler.h"
#include "hunch.h"
#include "log.h"
#include "park.h"
#include "readiness.h"
#include "version.h"
#include "worker.h"

/* Set by the SIGTERM handler; read by the accept loop and worker_wait(). */
static volatile sig_atomic_t stop_requested;

/* Seconds after the first SIGTERM at which the worker ends itself. */
static unsigned term_alarm_secs;

/* The signal mask outside the few places where SIGTERM may be delivered. */
static sigset_t mask_blocked;
static sigset_t mask_open;

bool worker_stop_requested(void) {
        return stop_requested;
}

/* This worker's listening fds and the fd on_term() points them at. Set
 * once before the handler is installed and never changed afterwards. */
static const int *term_listen_fds;
static size_t term_n_listen_fds;
static int term_standin_fd = -EBADF;

/* SIGTERM is blocked everywhere but inside the worker's waits (ppoll and
 * epoll_pwait unblock it atomically), so it interrupts a wait and is never
 * lost between the stop check and the wait. A worker busy with a long
 * connection must not keep the listening sockets open meanwhile, or the
 * kernel would go on queueing connections that nobody will accept after a
 * stop: the handler points the listening fds at a stand-in, the worker's
 * end of the readiness socket, which every worker holds anyway (opening a
 * /dev/null for it would cost each new worker a system call before its
 * first accept). Only this process's fd table changes (the master and the
 * other workers keep the sockets) and the fd numbers stay taken; nothing
 * accepts on them again, since the accept loop checks stop_requested
 * first. dup2() is async-signal-safe. */
static void on_term(int sig) {
        /* The master SIGKILLs a worker that overstays shutdown_timeout. A
         * TERM that came from PR_SET_PDEATHSIG has no master behind it, so
         * the worker bounds its own graceful exit the same way: SIGALRM
         * (on_alarm()) a second after that deadline. */
        if (!stop_requested)
                (void) alarm(term_alarm_secs);
        stop_requested = 1;
        for (size_t i = 0; i < term_n_listen_fds && term_standin_fd >= 0; i++)
                (void) dup2(term_standin_fd, term_listen_fds[i]);
}

static void on_quit(int sig) {
        _exit(0);
}

/* The end of on_term()'s bound. A worker that leads a process group of its
 * own (its service's handler asks for one: exec's, whose connection-mode
 * workers run a program per connection) takes that group with it, since
 * what the worker started would otherwise outlive it: the master does the
 * same to a worker that overstays shutdown_timeout, but this alarm fires
 * only when no master did. Any other worker is in the master's group and
 * ends alone, as SIGALRM's default action would end it. kill(), getpgrp(),
 * getpid(), sigaction() and raise() are async-signal-safe. */
static void on_alarm(int sig) {
        struct sigaction dfl = { .sa_handler = SIG_DFL };

        if (getpgrp() == getpid())
                (void) kill(0, SIGKILL);
        (void) sigaction(SIGALRM, &dfl, NULL);
        (void) raise(SIGALRM);
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
                         alrm = { .sa_handler = on_alarm }, ign = { .sa_handler = SIG_IGN },
                         dfl = { .sa_handler = SIG_DFL };

        term_alarm_secs = (unsigned) ((sp->config->shutdown_timeout_usec + USEC_PER_SEC - 1) / USEC_PER_SEC) + 1;
        term_listen_fds = sp->listen_fds;
        term_n_listen_fds = sp->n_listen_fds;
        term_standin_fd = sp->ready_fd;
        if (term_n_listen_fds > 0 && term_standin_fd < 0)
                fatal(EX_SOFTWARE, "%s[slot %u]: a worker without a readiness socket", sp->svc->name, sp->slot);

        /* No SA_RESTART on TERM: a wait must return EINTR. */
        (void) sigaction(SIGTERM, &term, NULL);
        (void) sigaction(SIGQUIT, &quit, NULL);
        /* The master coordinates Ctrl-C and reloads; a worker ignores them. */
        (void) sigaction(SIGINT, &ign, NULL);
        (void) sigaction(SIGHUP, &ign, NULL);
        (void) sigaction(SIGPIPE, &ign, NULL);
        (void) sigaction(SIGCHLD, &dfl, NULL);
        (void) sigaction(SIGALRM, &alrm, NULL);
        (void) sigaction(SIGUSR1, &ign, NULL);
        (void) sigaction(SIGUSR2, &ign, NULL);
        /* The master's pool-size signals; their default action would stop
         * a worker that an operator's kill to the process group reached. */
        (void) sigaction(SIGTTIN, &ign, NULL);
        (void) sigaction(SIGTTOU, &ign, NULL);

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
        /* Not root: the master's startup and reload checks only let this
         * config through when the master already runs as the wanted user
         * and group, and then there is nothing to change (setgroups()
         * would fail without CAP_SETGID). */
        if (geteuid() != 0 && (!c->user || geteuid() == c->uid) && getegid() == c->gid)
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

/* How often a worker that runs out of file descriptors says so. */
#define EMFILE_LOG_INTERVAL_USEC (10 * USEC_PER_SEC)
/* How long it stops accepting after running out, so that a worker with
 * room takes the connection instead. */
#define EMFILE_PAUSE_USEC (100 * USEC_PER_MSEC)

/* epoll data of the park channel; listeners are numbered from 0. */
#define ACCEPTOR_PARK UINT32_MAX

typedef struct Acceptor {
        const WorkerSpawn *sp;
        int epfd;                     /* made before the first wait, else -EBADF */
        int park_fd;                  /* the park channel while it works, else -EBADF */
        bool park_readable;           /* the last wait said so: look at the channel next */
        bool accept_first;            /* the last connection was handed back: a new one's turn */
        size_t next;                  /* the listener to try first */
        int reserve_fd;               /* accept_reserve: one fd kept free for a connection */
        bool reserve_spent;           /* given up for a connection: open it again before the next accept */
        uint64_t emfile_count;        /* failures since the last log line */
        uint64_t emfile_logged_usec;
        char *park_bytes;             /* PARK_BYTES_MAX, mapped with the first hand-back */
        /* The connection being served: its peer, or its state and bytes
         * when it came back from the front stage. */
        struct sockaddr_storage peer;
        ParkState parked;
        Hunch look_first;             /* whether to look for a connection before waiting */
} Acceptor;

/* Static rather than on the stack: a new worker runs on the deep stack of
 * the master that forked it, and every stack page it writes below what the
 * master had written is one more private page per worker. */
static Acceptor acceptor;

/* Nothing here makes a system call: a new worker's first accept comes
 * before anything it only needs to wait (acceptor_prepare_wait()), so that
 * a respawned worker takes the connection that queued while it was
 * replaced as early as it can. */
static void acceptor_init(Acceptor *a, const WorkerSpawn *sp) {
        *a = (Acceptor) { .sp = sp, .epfd = -EBADF, .reserve_fd = -EBADF, .park_fd = sp->park_fd };
}

/* Before the worker first sleeps: every listener is non-blocking and in
 * one epoll set with EPOLLEXCLUSIVE, so that one connection wakes one (or
 * a few) of the idle workers, and handed-back connections wake one idle
 * worker, like new ones. The accept reserve is (re)opened here too: once
 * the worker is idle, not before its first connection. */
static void acceptor_prepare_wait(Acceptor *a) {
        const WorkerSpawn *sp = a->sp;

        if (a->reserve_fd < 0)
                a->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (a->epfd >= 0)
                return;
        a->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (a->epfd < 0)
                fatal(EX_OSERR, "%s[slot %u]: epoll_create1: %s", sp->svc->name, sp->slot, STRERROR(errno));
        for (size_t i = 0; i < sp->n_listen_fds; i++) {
                struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = (uint32_t) i };
                if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, sp->listen_fds[i], &ev) < 0)
                        fatal(EX_OSERR, "%s[slot %u]: epoll_ctl: %s", sp->svc->name, sp->slot, STRERROR(errno));
        }
        if (a->park_fd >= 0) {
                struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = ACCEPTOR_PARK };
                if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->park_fd, &ev) < 0)
                        fatal(EX_OSERR, "%s[slot %u]: epoll_ctl: %s", sp->svc->name, sp->slot, STRERROR(errno));
        }
}

/* Out of file descriptors (EMFILE: this worker; ENFILE: the system). The
 * reserve fd is given up so that this one connection can still be taken;
 * if even that fails, the worker pauses accepting briefly so that another
 * worker takes the connection, and says so once per interval with a count
 * instead of once per failure. */
static int acceptor_out_of_fds(Acceptor *a, int listen_fd, int error, struct sockaddr_storage *peer,
                               socklen_t *peer_len) {
        const WorkerSpawn *sp = a->sp;
        uint64_t now = now_usec();
        int fd = -EBADF;

        if (a->reserve_fd >= 0) {
                a->reserve_fd = safe_close(a->reserve_fd);
                a->reserve_spent = true;
                fd = accept4(listen_fd, (struct sockaddr *) peer, peer_len, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd >= 0)
                        return fd;
        }
        a->emfile_count++;
        if (a->emfile_logged_usec == 0 || now - a->emfile_logged_usec >= EMFILE_LOG_INTERVAL_USEC) {
                log_warning_errno(error, "%s[slot %u]: out of file descriptors, accept failed %" PRIu64
                                  " time%s; pausing accepts: %s",
                                  sp->svc->name, sp->slot, a->emfile_count, a->emfile_count == 1 ? "" : "s",
                                  STRERROR(error));
                a->emfile_logged_usec = now;
                a->emfile_count = 0;
        }
        (void) worker_wait(-1, 0, EMFILE_PAUSE_USEC, true);
        return -EAGAIN;
}

/* Takes a handed-back connection from the channel if one is there: 1 with
 * *c filled, 0 when there is none. A broken channel (its other end is gone
 * with the master) is no longer watched, or its readable end of file would
 * spin. */
static int acceptor_take_parked(Acceptor *a, Conn *c) {
        const WorkerSpawn *sp = a->sp;
        ParkState *st = &a->parked;
        int fd, file_fd = -EBADF, r;

        /* A mapping of its own rather than the heap: the worker's private
         * memory grows only by the pages that a hand-back's bytes reach
         * (none for echo, whose connections bring none), not by the heap
         * pages malloc() writes around a block of this size. */
        if (!a->park_bytes) {
                void *p = mmap(NULL, PARK_BYTES_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        fatal(EX_OSERR, "%s[slot %u]: cannot map a buffer for parked connections: %s", sp->svc->name,
                              sp->slot, STRERROR(errno));
                a->park_bytes = p;
        }
        r = park_receive(a->park_fd, &fd, &file_fd, st, a->park_bytes, PARK_BYTES_MAX);
        /* The front stage finishes a file itself: it never hands one back. */
        safe_close(file_fd);
        if (r < 0) {
                log_debug_errno(r, "%s[slot %u]: park channel: %s", sp->svc->name, sp->slot, STRERROR(r));
                if (a->epfd >= 0)
                        (void) epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->park_fd, NULL);
                a->park_fd = -EBADF;
                return 0;
        }
        if (r == 0)
                return 0;
        atomic_fetch_sub_explicit(&sp->service_score->handback_queued, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&sp->service_score->handed_back, 1, memory_order_relaxed);
        *c = (Conn) {
                .fd = fd,
                .peer = st->peer_len > 0 ? (const struct sockaddr *) &st->peer : NULL,
                .peer_len = st->peer_len,
                .parked = st,
                .bytes = a->park_bytes,
        };
        return 1;
}

/* Whether a handed-back connection may be queued. It is read from the
 * service's count (park_hand_back()), not asked of the channel, which
 * would cost a system call per accepted connection. The count is only a
 * hint; the channel's own readiness in the epoll set is the guarantee: a
 * connection handed back while the count said none is taken as soon as
 * the listeners have nothing (at the latest when the worker would sleep,
 * since the channel wakes it), so an error in the count can only change
 * the order, never lose a connection. */
static bool acceptor_parked_queued(Acceptor *a) {
        return a->park_fd >= 0 &&
               (a->park_readable ||
                atomic_load_explicit(&a->sp->service_score->handback_queued, memory_order_relaxed) > 0);
}

/* Takes a handed-back connection when one may be queued (the epoll wait
 * said so, or the service's count does): 1 with *c filled, else 0. */
static int acceptor_take_queued(Acceptor *a, Conn *c) {
        if (!acceptor_parked_queued(a))
                return 0;
        a->park_readable = false;
        return acceptor_take_parked(a, c);
}

/* Accepts a new connection on one of the listeners, trying the one that
 * last had one first: the fd, -EAGAIN when none is queued (or the worker
 * paused for want of fds), or another negative errno. */
static int acceptor_accept(Acceptor *a, Conn *c) {
        const WorkerSpawn *sp = a->sp;

        for (size_t k = 0; k < sp->n_listen_fds; k++) {
                size_t i = (a->next + k) % sp->n_listen_fds;
                socklen_t peer_len = sizeof a->peer;
                int fd;

                fd = accept4(sp->listen_fds[i], (struct sockaddr *) &a->peer, &peer_len, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0 && IN_SET(errno, EMFILE, ENFILE))
                        fd = acceptor_out_of_fds(a, sp->listen_fds[i], errno, &a->peer, &peer_len);
                if (fd >= 0) {
                        a->next = i;
                        *c = (Conn) {
                                .fd = fd,
                                .peer = peer_len > 0 ? (const struct sockaddr *) &a->peer : NULL,
                                .peer_len = peer_len,
                        };
                        return fd;
                }
                if (fd == -EAGAIN)
                        return fd;
                if (!IN_SET(errno, EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO, ENOBUFS, ENOMEM))
                        return negative_errno();
        }
        return -EAGAIN;
}

/* Takes a connection if one is ready, without waiting: the fd, -EAGAIN
 * when there is none, or another negative errno. When both a handed-back
 * connection and a new one wait, the worker takes them in turn, one of
 * each: both clients have a request ready, and a worker that always
 * preferred one kind would starve the other (hot keep-alive connections
 * that yield their worker after their time slice come back through the
 * front stage, and must not keep new clients in the accept queue for
 * ever, nor the reverse). */
static int acceptor_take(Acceptor *a, Conn *c) {
        int fd;

        if (!a->accept_first && acceptor_take_queued(a, c) > 0) {
                a->accept_first = true;
                return c->fd;
        }
        fd = acceptor_accept(a, c);
        if (fd >= 0) {
                a->accept_first = false;
                return fd;
        }
        if (fd != -EAGAIN || !a->accept_first)
                return fd;
        /* Nothing new: the handed-back one, if any. */
        a->accept_first = false;
        return acceptor_take_queued(a, c) > 0 ? c->fd : -EAGAIN;
}

/* Waits for one connection. Whether to look before the first wait is
 * learned (a Hunch): under load a connection is usually queued when the
 * worker comes back, and the wait would be a wasted system call; at a
 * lower rate the look finds nothing and is the wasted one, and measured
 * it costs more than that call: with two workers and two wrk threads
 * closing every connection, waiting first served 12% more connections
 * at 9% less CPU each (bench/README.md). After a wake the worker always
 * looks, and a new worker looks before anything else, so that it takes
 * the connection that queued while it was being replaced. */
static int acceptor_next(Acceptor *a, WorkerScore *score, Conn *c) {
        bool woken = a->epfd < 0;

        for (;;) {
                struct epoll_event ev;
                int fd, n;

                if (stop_requested)
                        return -ECANCELED;
                if (a->reserve_spent) {
                        a->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                        a->reserve_spent = a->reserve_fd < 0;
                }
                if (woken || hunch_try_first(&a->look_first)) {
                        fd = acceptor_take(a, c);
                        if (!woken)
                                hunch_learn(&a->look_first, fd >= 0);
                        if (fd != -EAGAIN)
                                return fd;
                }

                acceptor_prepare_wait(a);
                n = epoll_pwait(a->epfd, &ev, 1, -1, &mask_open);
                atomic_fetch_add_explicit(&score->wakeups, 1, memory_order_relaxed);
                if (n < 0 && errno != EINTR)
                        return negative_errno();
                if (n > 0 && ev.data.u32 == ACCEPTOR_PARK)
                        a->park_readable = true;
                else if (n > 0)
                        a->next = ev.data.u32;
                woken = true;
        }
}

/* This worker's spawn, for the park functions below. */
static const WorkerSpawn *worker_spawn;

const WorkerSpawn *worker_get_spawn(void) {
        return worker_spawn;
}

static bool park_on(const WorkerSpawn *sp) {
        return sp && sp->park_fd >= 0 && sp->svc->park &&
               !atomic_load_explicit(&sp->service_score->stopping, memory_order_relaxed);
}

bool worker_park_possible(void) {
        const WorkerSpawn *sp = worker_spawn;

        return park_on(sp) &&
               atomic_load_explicit(&sp->service_score->parked, memory_order_relaxed) < sp->svc->max_parked;
}

bool worker_park_full(void) {
        const WorkerSpawn *sp = worker_spawn;

        if (!park_on(sp) ||
            atomic_load_explicit(&sp->service_score->parked, memory_order_relaxed) < sp->svc->max_parked)
                return false;
        atomic_fetch_add_explicit(&sp->service_score->park_refused, 1, memory_order_relaxed);
        return true;
}

bool worker_others_waiting(void) {
        const WorkerSpawn *sp = worker_spawn;
        struct pollfd pfds[16];
        size_t n;

        if (!sp)
                return false;
        if (atomic_load_explicit(&sp->service_score->handback_queued, memory_order_relaxed) > 0)
                return true;
        /* Services with more listeners than this are asked about their
         * first ones only: the answer is a hint for when to yield. */
        n = MIN(sp->n_listen_fds, ELEMENTSOF(pfds));
        for (size_t i = 0; i < n; i++)
                pfds[i] = (struct pollfd) { .fd = sp->listen_fds[i], .events = POLLIN };
        return n > 0 && poll(pfds, n, 0) > 0;
}

int worker_park(int fd, int file_fd, const ParkState *st, const void *bytes, size_t n) {
        const WorkerSpawn *sp = worker_spawn;
        int r;

        if (!sp || sp->park_fd < 0)
                return -EOPNOTSUPP;
        /* Checked again right before the send: once a stop has begun,
         * nothing may be parked with a front stage that is leaving. */
        if (atomic_load(&sp->service_score->stopping))
                return -ESHUTDOWN;
        r = park_send(sp->park_fd, fd, file_fd, st, bytes, n, true);
        /* Test builds only (version.h): the worker keeps its copy of a
         * parked connection open a while, as one that is slow to get to
         * its close() would, while the front stage already has it. */
        if (r >= 0 && test_fault("park-close-late"))
                (void) usleep(300 * 1000);
        if (r == -EAGAIN)
                atomic_fetch_add_explicit(&sp->service_score->park_refused, 1, memory_order_relaxed);
        else if (r < 0)
                log_debug_errno(r, "%s[slot %u]: cannot park a connection: %s", sp->svc->name, sp->slot, STRERROR(r));
        return r;
}

const sigset_t *worker_wait_mask(void) {
        return &mask_open;
}

void worker_prepare(const WorkerSpawn *sp) {
        /* The generation's own level: a reload's log_level reaches the
         * workers it starts even before the master applies it. */
        log_set_max_level(sp->config->log_level);
        worker_set_signals(sp);

        worker_drop_privileges(sp);
        /* Die with the master. After the privilege drop: changing
         * credentials clears PR_SET_PDEATHSIG. The parent may already be
         * gone by the time the request is made, hence the check after it. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != sp->master_pid)
                _exit(0);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                fatal(EX_OSERR, "%s[slot %u]: cannot set no_new_privs: %s", sp->svc->name, sp->slot, STRERROR(errno));
}

/* The score around one connection: the core knows when a connection's
 * work begins and ends; a handler refines the state in between (reading,
 * writing, keep-alive) and names the request. A connection handed back by
 * the front stage was counted when it was accepted. */
static void worker_score_begin(WorkerScore *score, const Conn *c) {
        if (!c->parked)
                atomic_fetch_add_explicit(&score->connections, 1, memory_order_relaxed);
        score_begin_connection(score, c->peer, c->peer_len);
        score_set_state(score, WORKER_BUSY);
}

static void worker_score_end(const WorkerSpawn *sp, WorkerScore *score) {
        score_end_work(score);
        score_set_state(score, WORKER_IDLE);
        atomic_store_explicit(&sp->service_score->last_connection_end_usec, now_realtime_usec(),
                              memory_order_relaxed);
}

/* Serves the connection c, whose fd it closes: its PROXY header first,
 * when the service wants one (or c was parked in the middle of it). */
static void worker_serve(const WorkerSpawn *sp, Conn *c) {
        struct sockaddr_storage client;

        worker_score_begin(sp->score, c);
        if (worker_proxy_take(sp, c, &client) > 0)
                (void) sp->svc->handler->serve(sp->svc, c);
        /* Test builds only (version.h): a worker slow to get from its
         * handler to the close, so that a client's bytes can arrive in
         * between (test-http-gaps). */
        if (test_fault("conn-close-late"))
                (void) usleep(150 * 1000);
        safe_close(c->fd);
        worker_score_end(sp, sp->score);
}

WorkerScore *worker_score(void) {
        return worker_spawn ? worker_spawn->score : NULL;
}

void worker_main(const WorkerSpawn *sp) {
        const HandlerVTable *h = sp->svc->handler;
        WorkerScore *score = sp->score;
        uint64_t served = 0;
        bool fresh;
        int r;

        worker_spawn = sp;
        worker_prepare(sp);
        /* Test builds only (version.h): a binary whose workers, and the
         * programs it would execute, never get ready, for the upgrade's
         * rollback. */
        if (test_fault("worker-exit"))
                _exit(EX_SOFTWARE);
        if (h->worker_main)
                h->worker_main(sp);
        acceptor_init(&acceptor, sp);
        if (h->init) {
                r = h->init(sp->svc);
                if (r < 0)
                        _exit(EX_CONFIG);
        }

        atomic_store(&score->pid, (int) getpid());
        score_set_state(score, WORKER_IDLE);
        /* Test builds only: a worker slow to get ready holds the master's
         * start open long enough for a signal to arrive inside it. */
        if (test_fault("ready-late"))
                (void) usleep(500 * 1000);
        r = readiness_send(sp->ready_fd, sp->generation, sp->slot);
        if (r < 0)
                log_warning_errno(r, "%s[slot %u]: cannot report readiness: %s", sp->svc->name, sp->slot, STRERROR(r));

        while (!stop_requested) {
                Conn c;
                int fd = acceptor_next(&acceptor, score, &c);

                if (fd < 0) {
                        if (IN_SET(fd, -EAGAIN, -ECANCELED))
                                continue;
                        fatal(EX_OSERR, "%s[slot %u]: accept failed: %s", sp->svc->name, sp->slot, STRERROR(fd));
                }
                fresh = !c.parked;
                worker_serve(sp, &c);

                /* max_requests counts connections: one that comes back
                 * from the front stage was counted when it was accepted. */
                if (fresh)
                        served++;
                if (sp->max_requests > 0 && served >= sp->max_requests)
                        break;
                /* The master found this worker above max_memory. */
                if (atomic_load_explicit(&score->recycle, memory_order_relaxed))
                        break;
        }

        /* A graceful stop: the front stage has handed back what was in
         * progress before the master told the workers to stop, so what is
         * still in the channel is served before leaving. (After a reload's
         * TERM the front stage lives on and the new generation takes it.) */
        if (stop_requested && acceptor.park_fd >= 0 && atomic_load(&sp->service_score->stopping)) {
                Conn c;

                while (acceptor_take_parked(&acceptor, &c) > 0)
                        worker_serve(sp, &c);
        }

        score_set_state(score, WORKER_EXITING);
        log_debug("%s[slot %u]: worker leaving after %" PRIu64 " connections, %" PRIu64 " wakeups", sp->svc->name,
                  sp->slot, served, atomic_load(&score->wakeups));
        _exit(0);
}
