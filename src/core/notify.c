/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"
#include "time-util.h"

/* How many datagrams wait at most besides a WATCHDOG=1. Each one stands for
 * a state change of the daemon (start, reload, stop), so 64 means the
 * receiver has missed dozens of them; the bound only keeps a receiver that
 * never reads from costing unbounded memory. */
#define NOTIFY_QUEUE_MAX 64
/* At most one STATUS-only datagram per this interval. */
#define STATUS_INTERVAL_USEC (250 * USEC_PER_MSEC)
/* Retries after the socket refused: 10 ms, doubling while the receiver
 * takes nothing, up to 1 s (or the watchdog interval, when shorter). */
#define RETRY_INITIAL_USEC (10 * USEC_PER_MSEC)
#define RETRY_MAX_USEC (1 * USEC_PER_SEC)
#define RETRY_ACCURACY_USEC (1 * USEC_PER_MSEC)

/* One datagram to send: message, then "STATUS=" status when status is set. */
typedef struct NotifyEntry {
        char *message;  /* NULL: a STATUS-only update, which may be coalesced */
        char *status;   /* NULL: no STATUS= */
        bool has_fd;    /* fd goes along (SCM_RIGHTS): the entry's own copy */
        int fd;
} NotifyEntry;

struct Notifier {
        sd_event *event;
        int fd;                          /* -EBADF: NOTIFY_SOCKET unset, every call is a no-op */
        char *socket_name;               /* NOTIFY_SOCKET as given, for logs */
        struct sockaddr_un address;
        socklen_t address_len;
        bool connected;
        bool failure_logged;             /* a failed send was logged; cleared by the next success */

        /* Oldest first. Only the newest entry can be STATUS-only: see
         * notifier_send() and notifier_status(). */
        NotifyEntry queue[NOTIFY_QUEUE_MAX];
        size_t n_queue;
        bool watchdog_pending;           /* a WATCHDOG=1 waits (at most one) */

        sd_event_source *retry_timer;
        uint64_t retry_usec;             /* the next retry's delay */
        uint64_t retry_max_usec;
        bool status_sent;
        /* now_usec() when the last datagram with STATUS= went out. Not
         * sd_event_now(): outside a dispatch that returns the time of the
         * last iteration, and the retry timer is armed with absolute times. */
        uint64_t status_last_usec;

        sd_event_source *watchdog_timer;
        uint64_t watchdog_interval_usec;
};

static int notifier_parse_address(const char *name, struct sockaddr_un *ret, socklen_t *ret_len) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t l = strlen(name);

        if (name[0] != '/' && name[0] != '@')
                return -EAFNOSUPPORT;
        if (l < 2)
                return -EINVAL;
        /* A path needs its terminating NUL in sun_path, an abstract name
         * does not: its length is given by the address length alone. */
        if (l >= sizeof sa.sun_path + (name[0] == '@'))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, name, l);
        if (name[0] == '@')
                sa.sun_path[0] = '\0';
        *ret = sa;
        *ret_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + (name[0] == '/'));
        return 0;
}

/* A copy of a STATUS= text that cannot add fields: the protocol separates
 * fields by newlines, so a newline in the text becomes a space. */
static char *status_dup(const char *status) {
        char *s = strdup(status);

        for (char *p = s; p && *p; p++)
                if (*p == '\n')
                        *p = ' ';
        return s;
}

static void notify_entry_done(NotifyEntry *e) {
        free(e->message);
        free(e->status);
        if (e->has_fd)
                safe_close(e->fd);
        *e = (NotifyEntry) { .message = NULL };
}

static void notifier_pop(Notifier *n) {
        assert(n->n_queue > 0);
        notify_entry_done(&n->queue[0]);
        memmove(n->queue, n->queue + 1, (n->n_queue - 1) * sizeof n->queue[0]);
        n->queue[--n->n_queue] = (NotifyEntry) { .message = NULL };
}

/* Logs the first failure of a streak; the datagram is dropped. */
static int notifier_dropped(Notifier *n, int error) {
        if (!n->failure_logged) {
                /* The receiver went away (it closed its socket or the path is
                 * gone): nobody can take the message, so this is no fault of
                 * ours. Keep going; the next send connects again. */
                if (IN_SET(error, -ECONNREFUSED, -ENOENT, -ENOTCONN, -ECONNRESET))
                        log_debug_errno(error, "Notify socket %s has no receiver (%s); dropping notifications "
                                        "until one is back", n->socket_name, STRERROR(error));
                else
                        log_warning_errno(error, "Failed to send to notify socket %s (%s); dropping the "
                                          "notification", n->socket_name, STRERROR(error));
                n->failure_logged = true;
        }
        return error;
}

/* Sends one datagram without blocking. Returns 0 when it went out, -EAGAIN
 * when the socket refused it for now (keep it, retry later), and another
 * negative errno when it was dropped for good. */
static int notifier_transmit(Notifier *n, const char *message, const char *status, int fd) {
        union {
                struct cmsghdr cmsg;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = { .buf = { 0 } };
        struct iovec iov[3];
        struct msghdr mh = { .msg_iov = iov };
        int r;

        if (fd >= 0) {
                mh.msg_control = &control;
                mh.msg_controllen = sizeof control;
                control.cmsg.cmsg_level = SOL_SOCKET;
                control.cmsg.cmsg_type = SCM_RIGHTS;
                control.cmsg.cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(&control.cmsg), &fd, sizeof(int));
        }

        if (message)
                iov[mh.msg_iovlen++] = (struct iovec) { .iov_base = (char *) message, .iov_len = strlen(message) };
        if (status) {
                const char *key = message ? "\nSTATUS=" : "STATUS=";

                iov[mh.msg_iovlen++] = (struct iovec) { .iov_base = (char *) key, .iov_len = strlen(key) };
                iov[mh.msg_iovlen++] = (struct iovec) { .iov_base = (char *) status, .iov_len = strlen(status) };
        }

        if (!n->connected) {
                if (connect(n->fd, (const struct sockaddr *) &n->address, n->address_len) < 0)
                        return notifier_dropped(n, -errno);
                n->connected = true;
        }
        for (;;) {
                if (sendmsg(n->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
                        if (n->failure_logged)
                                log_debug("Notify socket %s takes notifications again", n->socket_name);
                        n->failure_logged = false;
                        return 0;
                }
                if (errno != EINTR)
                        break;
        }
        r = -errno;
        if (IN_SET(r, -EAGAIN, -ENOBUFS, -ENOMEM))
                return -EAGAIN;
        /* The kernel disconnects a datagram socket whose peer was closed
         * (ECONNREFUSED, then ENOTCONN): connect again next time, which
         * also finds a receiver that bound the same name anew. */
        if (IN_SET(r, -ECONNREFUSED, -ENOTCONN, -ECONNRESET))
                n->connected = false;
        return notifier_dropped(n, r);
}

static bool notifier_status_due(const Notifier *n, uint64_t now) {
        return !n->status_sent || now >= n->status_last_usec + STATUS_INTERVAL_USEC;
}

/* Sends what waits, oldest first, until the socket refuses. Returns true
 * when it refused (-EAGAIN); *ret_progress says whether anything left the
 * queue (sent or dropped). */
static bool notifier_flush(Notifier *n, bool *ret_progress) {
        bool progress = false, blocked = false;
        uint64_t now = now_usec();
        int r;

        /* WATCHDOG=1 goes ahead of the queue. It changes no state that the
         * other messages depend on (the manager takes it in any state), it
         * is the one message whose delay gets the daemon killed, and it
         * tells the truth only when it is sent now: the loop is running. */
        if (n->watchdog_pending) {
                r = notifier_transmit(n, "WATCHDOG=1", NULL, -EBADF);
                if (r == -EAGAIN)
                        blocked = true;
                else {
                        n->watchdog_pending = false;
                        progress = true;
                }
        }
        /* The rest strictly in the order it was queued: the manager acts on
         * READY=1, RELOADING=1 and STOPPING=1 as transitions of its state
         * machine, so sending them out of order would leave it in the wrong
         * state (a READY=1 that overtook an older RELOADING=1 would leave it
         * waiting for the end of a reload that has ended already). */
        while (!blocked && n->n_queue > 0) {
                NotifyEntry *e = &n->queue[0];

                /* Only a STATUS-only entry waits for its interval, and it is
                 * always the newest, so it delays nothing behind it. */
                if (!e->message && !notifier_status_due(n, now))
                        break;
                r = notifier_transmit(n, e->message, e->status, e->has_fd ? e->fd : -EBADF);
                if (r == -EAGAIN) {
                        blocked = true;
                        break;
                }
                if (r >= 0 && e->status) {
                        n->status_sent = true;
                        n->status_last_usec = now;
                }
                notifier_pop(n);
                progress = true;
        }
        *ret_progress = progress;
        return blocked;
}

/* Arms the retry timer for what still waits: after the backoff delay when
 * the socket refused, else at the time the STATUS-only entry is due. An
 * armed timer that fires sooner is left alone. */
static void notifier_arm(Notifier *n, bool blocked) {
        uint64_t when, armed;
        int r;

        if (n->n_queue == 0 && !n->watchdog_pending) {
                n->retry_usec = RETRY_INITIAL_USEC;
                (void) sd_event_source_set_enabled(n->retry_timer, SD_EVENT_OFF);
                return;
        }
        if (blocked)
                when = now_usec() + n->retry_usec;
        else
                when = n->status_last_usec + STATUS_INTERVAL_USEC;
        if (sd_event_source_get_enabled(n->retry_timer, NULL) > 0 &&
            sd_event_source_get_time(n->retry_timer, &armed) >= 0 && armed <= when)
                return;
        r = sd_event_source_set_time(n->retry_timer, when);
        if (r >= 0)
                r = sd_event_source_set_enabled(n->retry_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_debug_errno(r, "Failed to arm the notify retry timer: %s", STRERROR(r));
}

/* Tries to send now; the delay between retries doubles only when a retry
 * of the timer found the socket still full, so that calls from the daemon
 * do not push retries further out. */
static void notifier_kick(Notifier *n, bool from_timer) {
        bool progress, blocked;

        blocked = notifier_flush(n, &progress);
        if (progress)
                n->retry_usec = RETRY_INITIAL_USEC;
        else if (blocked && from_timer)
                n->retry_usec = MIN(n->retry_usec * 2, n->retry_max_usec);
        notifier_arm(n, blocked);
}

static int notifier_on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        notifier_kick(userdata, true);
        return 0;
}

static int notifier_on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        Notifier *n = userdata;
        int r;

        /* One pending ping says all that ten would: coalesce. */
        n->watchdog_pending = true;
        notifier_kick(n, false);
        r = sd_event_source_set_time_relative(s, n->watchdog_interval_usec);
        if (r < 0)
                log_warning_errno(r, "Failed to re-arm the watchdog timer: %s", STRERROR(r));
        return 0;
}

int notifier_new(sd_event *e, Notifier **ret) {
        _cleanup_(notifier_freep) Notifier *n = NULL;
        const char *name;
        uint64_t watchdog_usec = 0;
        int r;

        assert(e);
        assert(ret);

        n = calloc(1, sizeof *n);
        if (!n)
                return -ENOMEM;
        n->fd = -EBADF;
        n->event = sd_event_ref(e);
        n->retry_usec = RETRY_INITIAL_USEC;
        n->retry_max_usec = RETRY_MAX_USEC;

        name = getenv("NOTIFY_SOCKET");
        if (!name || !*name) {
                log_debug("NOTIFY_SOCKET is not set: no notifications to a service manager");
                *ret = TAKE_PTR(n);
                return 0;
        }
        r = notifier_parse_address(name, &n->address, &n->address_len);
        if (r < 0)
                return r;
        n->socket_name = strdup(name);
        if (!n->socket_name)
                return -ENOMEM;
        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (n->fd < 0)
                return -errno;
        /* Connected once, so that each send skips the name lookup; a
         * receiver that is not there yet is looked up again on send. */
        if (connect(n->fd, (const struct sockaddr *) &n->address, n->address_len) >= 0)
                n->connected = true;
        else
                log_debug_errno(errno, "Notify socket %s is not there yet: %s", name, STRERROR(errno));

        r = sd_event_add_time(e, &n->retry_timer, CLOCK_MONOTONIC, 0, RETRY_ACCURACY_USEC, notifier_on_retry, n);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(n->retry_timer, SD_EVENT_OFF);
        if (r < 0)
                return r;

        r = sd_watchdog_enabled(false, &watchdog_usec);
        if (r < 0)
                return r;
        if (r > 0) {
                /* A quarter of the interval leaves room for an iteration of
                 * the loop that takes a while and for retries of a ping the
                 * socket refused, which never wait longer than one interval. */
                n->watchdog_interval_usec = MAX(watchdog_usec / 4, (uint64_t) 1);
                n->retry_max_usec = MAX(MIN(RETRY_MAX_USEC, n->watchdog_interval_usec), RETRY_INITIAL_USEC);
                r = sd_event_add_time_relative(e, &n->watchdog_timer, CLOCK_MONOTONIC, n->watchdog_interval_usec,
                                               MAX(n->watchdog_interval_usec / 8, (uint64_t) 1),
                                               notifier_on_watchdog, n);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_enabled(n->watchdog_timer, SD_EVENT_ON);
        }

        log_debug("Notifying %s%s", name, n->watchdog_timer ? ", with watchdog pings" : "");
        *ret = TAKE_PTR(n);
        return 0;
}

Notifier *notifier_free(Notifier *n) {
        if (!n)
                return NULL;
        for (size_t i = 0; i < n->n_queue; i++)
                notify_entry_done(&n->queue[i]);
        sd_event_source_disable_unref(n->retry_timer);
        sd_event_source_disable_unref(n->watchdog_timer);
        sd_event_unref(n->event);
        safe_close(n->fd);
        free(n->socket_name);
        free(n);
        return NULL;
}

int notifier_send(Notifier *n, const char *message, const char *status) {
        return notifier_send_fd(n, message, status, -EBADF);
}

int notifier_send_fd(Notifier *n, const char *message, const char *status, int fd) {
        _cleanup_free_ char *m = NULL, *s = NULL;
        _cleanup_close_ int copy = -EBADF;

        assert(n);
        assert(message);

        if (n->fd < 0)
                return 0;
        /* A copy of its own: the caller may close fd before the datagram
         * leaves the queue. */
        if (fd >= 0) {
                copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (copy < 0)
                        return -errno;
        }
        m = strdup(message);
        if (!m)
                return -ENOMEM;
        if (status) {
                s = status_dup(status);
                if (!s)
                        return -ENOMEM;
        }

        /* A STATUS-only update still waiting (for its interval or for the
         * socket) is older than this message. Sent in the same datagram it
         * reaches the manager no later than it would on its own, and the
         * message need not wait for the STATUS interval. When the message
         * brings its own STATUS=, the older text is outdated and dropped. */
        if (n->n_queue > 0 && !n->queue[n->n_queue - 1].message) {
                NotifyEntry *tail = &n->queue[n->n_queue - 1];

                if (!s)
                        s = TAKE_PTR(tail->status);
                notify_entry_done(tail);
                n->n_queue--;
        }

        /* Full of messages that must not be lost (STATUS-only entries never
         * take a place: they were merged above). The receiver has taken
         * nothing for NOTIFY_QUEUE_MAX state changes, so one of them has to
         * go: the oldest, because the manager acts on the latest state once
         * it reads again (the reload or stop it waits for now is the one
         * announced last), while the oldest transitions are long over. The
         * manager may then see a READY=1 without the RELOADING=1 before it,
         * which it takes as "running", the truth by then. */
        if (n->n_queue == NOTIFY_QUEUE_MAX) {
                log_warning("Notify socket %s has taken nothing for %d messages; dropping the oldest: %.*s",
                            n->socket_name, NOTIFY_QUEUE_MAX, (int) strcspn(n->queue[0].message, "\n"),
                            n->queue[0].message);
                notifier_pop(n);
        }

        n->queue[n->n_queue++] = (NotifyEntry) {
                .message = TAKE_PTR(m),
                .status = TAKE_PTR(s),
                .has_fd = copy >= 0,
                .fd = copy,
        };
        copy = -EBADF;
        notifier_kick(n, false);
        return 0;
}

int notifier_status(Notifier *n, const char *status) {
        _cleanup_free_ char *s = NULL;

        assert(n);
        assert(status);

        if (n->fd < 0)
                return 0;
        s = status_dup(status);
        if (!s)
                return -ENOMEM;

        /* While anything waits, the text joins the newest waiting datagram,
         * replacing the STATUS= it had. A message that must not be lost
         * keeps its place, and the newer text reaches the manager in the
         * same datagram as that message, never before it: the manager must
         * not show a status that belongs after a READY=1 while it still
         * thinks the daemon is starting or reloading. Only the latest text
         * counts, so the replaced one is not missed. */
        if (n->n_queue > 0) {
                NotifyEntry *tail = &n->queue[n->n_queue - 1];

                free(tail->status);
                tail->status = TAKE_PTR(s);
        } else
                n->queue[n->n_queue++] = (NotifyEntry) { .status = TAKE_PTR(s) };
        notifier_kick(n, false);
        return 0;
}

size_t notifier_queued(const Notifier *n) {
        assert(n);

        return n->n_queue + (n->watchdog_pending ? 1 : 0);
}
