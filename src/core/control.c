/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "control-proto.h"
#include "control-status.h"
#include "control.h"
#include "listen-queue.h"
#include "log.h"
#include "metrics.h"
#include "request-server.h"
#include "textbuf.h"
#include "supervisor-scale.h"
#include "time-util.h"

#define CONTROL_DEFAULT_PATH "/run/preforkd/control"
#define CONTROL_MAX_CONNECTIONS 64
#define CONTROL_REQUEST_TIMEOUT_USEC (5 * USEC_PER_SEC)
/* A status of thousands of workers is a few hundred KiB: a client has
 * this long to read it. */
#define CONTROL_ANSWER_TIMEOUT_USEC (30 * USEC_PER_SEC)

/* Reload requests waiting for an outcome. */
typedef struct Waiters {
        RequestConn **conns;
        size_t n;
} Waiters;

struct Control {
        char *path;
        char *lock_path;
        int lock_fd;
        int listen_fd;     /* the server's; for control_fds() */
        RequestServer *server;
        DaemonView *view;
        Supervisor *supervisor;
        const ControlOps *ops;
        void *userdata;
        Waiters running;   /* wait for the reload under way */
        Waiters next;      /* arrived since it began: wait for the next one */
};

int control_socket_path(const Config *c, char **ret, bool *ret_default) {
        const char *rd = getenv("RUNTIME_DIRECTORY");
        char *p;

        assert(c);
        assert(ret);
        assert(ret_default);

        if (rd && rd[0] == '/') {
                size_t l = strcspn(rd, ":");

                if (c->control_socket)
                        log_notice("control_socket = \"%s\" is not used under systemd: the control socket is in "
                                   "$RUNTIME_DIRECTORY",
                                   c->control_socket);
                if (asprintf(&p, "%.*s/control", (int) l, rd) < 0)
                        return -ENOMEM;
                *ret_default = false;
                *ret = p;
                return 0;
        }
        if (c->control_socket && !c->control_socket[0]) {
                *ret = NULL;
                *ret_default = false;
                return 0;
        }
        p = strdup(c->control_socket ? c->control_socket : CONTROL_DEFAULT_PATH);
        if (!p)
                return -ENOMEM;
        *ret_default = !c->control_socket;
        *ret = p;
        return 0;
}

const char *control_path(const Control *c) {
        return c ? c->path : NULL;
}

/* ---- answers ---- */

static char *answer_new(ControlStatus st, const char *message, const char *body, size_t body_len, size_t *ret_len) {
        TextBuf b = { 0 };

        textbuf_puts(&b, control_status_to_string(st));
        if (message && message[0]) {
                textbuf_puts(&b, " ");
                textbuf_puts(&b, message);
        }
        textbuf_puts(&b, "\n");
        if (body)
                textbuf_append(&b, body, body_len);
        return textbuf_steal(&b, ret_len);
}

static void reply(RequestConn *c, ControlStatus st, const char *message) {
        size_t n = 0;
        char *a = answer_new(st, message, NULL, 0, &n);

        request_conn_reply(c, a, n);
}

static void reply_body(RequestConn *c, TextBuf *body) {
        size_t n = 0, len = 0;
        _cleanup_free_ char *text = textbuf_steal(body, &len);
        char *a = text ? answer_new(CONTROL_OK, NULL, text, len, &n) : NULL;

        request_conn_reply(c, a, n);
}

/* ---- reload waiters ---- */

static int waiters_add(Waiters *w, RequestConn *c) {
        RequestConn **n = reallocarray(w->conns, w->n + 1, sizeof(RequestConn *));

        if (!n)
                return -ENOMEM;
        w->conns = n;
        w->conns[w->n++] = c;
        return 0;
}

static bool waiters_remove(Waiters *w, RequestConn *c) {
        for (size_t i = 0; i < w->n; i++)
                if (w->conns[i] == c) {
                        w->conns[i] = w->conns[--w->n];
                        return true;
                }
        return false;
}

/* Answers every waiter (each connection is gone afterwards). */
static void waiters_answer(Waiters *w, ControlStatus st, const char *message, char *const *details) {
        _cleanup_free_ RequestConn **conns = TAKE_PTR(w->conns);
        size_t n = w->n;
        TextBuf body = { 0 };
        _cleanup_free_ char *text = NULL;
        size_t len = 0;

        w->n = 0;
        for (char *const *d = details; d && *d; d++) {
                textbuf_puts(&body, *d);
                textbuf_puts(&body, "\n");
        }
        text = textbuf_steal(&body, &len);
        for (size_t i = 0; i < n; i++) {
                size_t k = 0;
                char *a = answer_new(st, message, text, text ? len : 0, &k);

                request_conn_reply(conns[i], a, k);
        }
}

void control_reload_started(Control *c) {
        if (!c)
                return;
        /* Requests that came while no reload ran now wait for this one;
         * those already waiting for one under way stay with it. */
        for (size_t i = 0; i < c->next.n; i++)
                if (waiters_add(&c->running, c->next.conns[i]) < 0)
                        reply(c->next.conns[i], CONTROL_ERROR, "out of memory");
        c->next.n = 0;
}

void control_reload_finished(Control *c, ReloadOutcome outcome, const char *message, char *const *details) {
        static const ControlStatus status[_RELOAD_OUTCOME_MAX] = {
                [RELOAD_APPLIED] = CONTROL_OK,
                [RELOAD_REFUSED] = CONTROL_REFUSED,
                [RELOAD_ROLLED_BACK] = CONTROL_ROLLED_BACK,
        };

        assert((unsigned) outcome < _RELOAD_OUTCOME_MAX);
        if (!c)
                return;
        waiters_answer(&c->running, status[outcome], message, details);
}

void control_stopping(Control *c) {
        if (!c)
                return;
        waiters_answer(&c->running, CONTROL_REFUSED, "the daemon is stopping", NULL);
        waiters_answer(&c->next, CONTROL_REFUSED, "the daemon is stopping", NULL);
}

/* ---- commands ---- */

static void control_status(Control *ctl, RequestConn *c, const ControlRequest *req) {
        TextBuf body = { 0 };
        char msg[128];
        int r;

        listen_queue_sample(ctl->supervisor);
        r = req->command == CONTROL_METRICS ? metrics_format(ctl->view, &body)
                                            : control_status_format(ctl->view, req->service, req->json, &body);
        if (r < 0) {
                textbuf_done(&body);
                (void) snprintf(msg, sizeof msg, r == -ENOENT ? "no such service: %s" : "cannot answer: %s",
                                r == -ENOENT ? req->service : STRERROR(r));
                reply(c, r == -ENOENT ? CONTROL_REFUSED : CONTROL_ERROR, msg);
                return;
        }
        reply_body(c, &body);
}

static void control_reload(Control *ctl, RequestConn *c) {
        int r;

        if (waiters_add(&ctl->next, c) < 0) {
                reply(c, CONTROL_ERROR, "out of memory");
                return;
        }
        /* May answer c (and free it) before it returns. */
        r = ctl->ops->reload(ctl->userdata);
        if (r < 0 && waiters_remove(&ctl->next, c))
                reply(c, CONTROL_REFUSED, r == -ESHUTDOWN ? "the daemon is stopping" : "cannot start a reload");
}

/* The answer comes when the upgrade is over, maybe from the new binary:
 * the connection leaves the request server, and its fd travels with the
 * upgrade (upgrade.h) to control_upgrade_reply(). */
static void control_upgrade(Control *ctl, RequestConn *c) {
        int fd = request_conn_detach(c);

        if (fd < 0)
                return;
        (void) ctl->ops->upgrade(ctl->userdata, fd);
}

void control_upgrade_reply(int fd, bool ok, const char *message, void *userdata) {
        _cleanup_free_ char *a = NULL;
        size_t n = 0;

        if (fd < 0)
                return;
        a = answer_new(ok ? CONTROL_OK : CONTROL_REFUSED, message, NULL, 0, &n);
        /* One short line into a socket whose client waits for it: the
         * buffer takes it whole; a client that left gets nothing. */
        if (a)
                (void) send(fd, a, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        safe_close(fd);
}

static void control_scale(Control *ctl, RequestConn *c, const ControlRequest *req) {
        char msg[192];
        int r;

        r = supervisor_scale(ctl->supervisor, req->service, req->count, now_usec());
        switch (r) {
        case 0:
                (void) snprintf(msg, sizeof msg, "%s: %u worker%s until the next reload", req->service, req->count,
                                req->count == 1 ? "" : "s");
                ctl->ops->changed(ctl->userdata);
                reply(c, CONTROL_OK, msg);
                return;
        case -ENOENT:
                (void) snprintf(msg, sizeof msg, "no such service: %s", req->service);
                break;
        case -EBUSY:
                (void) snprintf(msg, sizeof msg, "cannot scale while the daemon is %s",
                                supervisor_state_to_string(ctl->supervisor->state));
                break;
        default:
                (void) snprintf(msg, sizeof msg, "cannot scale %s: %s", req->service, STRERROR(r));
                break;
        }
        reply(c, CONTROL_REFUSED, msg);
}

static void control_drain(Control *ctl, RequestConn *c, const ControlRequest *req, const struct ucred *cred) {
        bool drain = req->command == CONTROL_DRAIN;
        const Generation *g = ctl->supervisor->current;
        TextBuf names = { 0 };
        _cleanup_free_ char *list = NULL;
        char msg[256];
        size_t n = 0;

        for (size_t i = 0; g && i < g->n_pools; i++) {
                Service *s = g->pools[i].service;

                if (req->service[0] && strcmp(s->name, req->service) != 0)
                        continue;
                if (s->drained != drain)
                        log_info("%s: %s by uid %u (pid %d)", s->name, drain ? "drained" : "undrained",
                                 (unsigned) cred->uid, (int) cred->pid);
                s->drained = drain;
                textbuf_printf(&names, "%s%s", n++ > 0 ? ", " : "", s->name);
        }
        list = textbuf_steal(&names, NULL);
        if (n == 0) {
                (void) snprintf(msg, sizeof msg, "no such service: %s", req->service[0] ? req->service : "(none)");
                reply(c, CONTROL_REFUSED, msg);
                return;
        }
        ctl->ops->changed(ctl->userdata);
        (void) snprintf(msg, sizeof msg, "%s: %s", drain ? "drained" : "undrained", list ? list : "");
        reply(c, CONTROL_OK, msg);
}

static size_t control_request_end(const char *buf, size_t n) {
        const char *nl = memchr(buf, '\n', n);

        return nl ? (size_t) (nl - buf) + 1 : 0;
}

static void control_handle(RequestConn *c, const char *request, size_t n, void *userdata) {
        Control *ctl = userdata;
        struct ucred cred = { .pid = 0, .uid = (uid_t) -1, .gid = (gid_t) -1 };
        ControlRequest req;
        const char *why;
        char msg[256];

        assert(n > 0 && request[n - 1] == '\n');
        if (control_request_parse(request, n - 1, &req, &why) < 0) {
                log_debug("Control socket: malformed request: %s", why);
                (void) snprintf(msg, sizeof msg, "malformed request: %s", why);
                reply(c, CONTROL_ERROR, msg);
                return;
        }
        (void) request_conn_peer(c, &cred);
        if (control_command_is_mutating(req.command) && cred.uid != 0 && cred.uid != geteuid()) {
                log_notice("Control socket: refused \"%s\" from uid %u (pid %d): only uid %u and root may",
                           control_command_to_string(req.command), (unsigned) cred.uid, (int) cred.pid,
                           (unsigned) geteuid());
                if (geteuid() == 0)
                        (void) snprintf(msg, sizeof msg, "permission denied: \"%s\" is only for root",
                                        control_command_to_string(req.command));
                else
                        (void) snprintf(msg, sizeof msg, "permission denied: \"%s\" is only for uid %u and root",
                                        control_command_to_string(req.command), (unsigned) geteuid());
                reply(c, CONTROL_DENIED, msg);
                return;
        }
        if (control_command_is_mutating(req.command))
                log_info("Control socket: \"%s%s%s\" from uid %u (pid %d)", control_command_to_string(req.command),
                         req.service[0] ? " " : "", req.service, (unsigned) cred.uid, (int) cred.pid);

        switch (req.command) {
        case CONTROL_STATUS:
        case CONTROL_METRICS:
                control_status(ctl, c, &req);
                break;
        case CONTROL_RELOAD:
                control_reload(ctl, c);
                break;
        case CONTROL_SCALE:
                control_scale(ctl, c, &req);
                break;
        case CONTROL_DRAIN:
        case CONTROL_UNDRAIN:
                control_drain(ctl, c, &req, &cred);
                break;
        case CONTROL_UPGRADE:
                control_upgrade(ctl, c);
                break;
        case _CONTROL_COMMAND_MAX:
        case _CONTROL_COMMAND_INVALID:
                assert_not_reached();
        }
}

static void control_bad_request(RequestConn *c, const char *why, void *userdata) {
        char msg[128];

        log_debug("Control socket: %s", why);
        (void) snprintf(msg, sizeof msg, "malformed request: %s", why);
        reply(c, CONTROL_ERROR, msg);
}

static void control_abandoned(RequestConn *c, void *userdata) {
        Control *ctl = userdata;

        if (!waiters_remove(&ctl->running, c))
                (void) waiters_remove(&ctl->next, c);
}

static const RequestServerOps control_server_ops = {
        .request_end = control_request_end,
        .handle = control_handle,
        .bad_request = control_bad_request,
        .abandoned = control_abandoned,
};

/* ---- the socket ---- */

/* The default path's directory is made when missing (root can); if that
 * is not possible there is just no socket. */
static int control_make_dir(const char *path, bool is_default) {
        _cleanup_free_ char *copy = strdup(path);
        const char *dir;

        if (!copy)
                return -ENOMEM;
        dir = dirname(copy);
        if (mkdir(dir, 0755) >= 0 || errno == EEXIST)
                return 0;
        if (is_default)
                log_info("No control socket: cannot create %s: %s (set control_socket to choose another place)",
                         dir, STRERROR(errno));
        else
                log_error("No control socket: cannot create %s: %s", dir, STRERROR(errno));
        return 0 - errno;
}

static int control_bind(Control *c, bool is_default) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (strlen(c->path) >= sizeof sa.sun_path) {
                log_error("No control socket: the path %s is too long for a unix socket", c->path);
                return -ENAMETOOLONG;
        }
        strcpy(sa.sun_path, c->path);
        r = control_make_dir(c->path, is_default);
        if (r < 0)
                return r;
        c->lock_fd = open(c->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (c->lock_fd < 0) {
                r = negative_errno();
                log_full_errno(is_default ? LOG_INFO : LOG_ERR, r, "No control socket: cannot open %s: %s",
                               c->lock_path, STRERROR(r));
                return r;
        }
        if (flock(c->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                r = negative_errno();
                log_full_errno(is_default ? LOG_NOTICE : LOG_ERR, r,
                               "No control socket: %s is held by another running preforkd%s", c->path,
                               is_default ? " (set control_socket to give this one its own)" : "");
                c->lock_fd = safe_close(c->lock_fd);
                return r;
        }
        /* The lock is ours, so a socket file there was left by a daemon
         * that is gone. */
        if (unlink(c->path) < 0 && errno != ENOENT) {
                r = negative_errno();
                log_error_errno(r, "No control socket: cannot remove the old %s: %s", c->path, STRERROR(r));
                return r;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "No control socket: %s", STRERROR(errno));
        if (bind(fd, (const struct sockaddr *) &sa, sizeof sa) < 0) {
                r = negative_errno();
                log_error_errno(r, "No control socket: cannot bind %s: %s", c->path, STRERROR(r));
                return r;
        }
        /* Who may connect is the directory's business (RuntimeDirectoryMode=
         * or the mode of control_socket's directory); whoever can, may
         * read, and SO_PEERCRED decides about the rest. */
        if (chmod(c->path, 0666) < 0 || listen(fd, CONTROL_MAX_CONNECTIONS) < 0) {
                r = negative_errno();
                (void) unlink(c->path);
                log_error_errno(r, "No control socket: cannot set up %s: %s", c->path, STRERROR(r));
                return r;
        }
        return TAKE_FD(fd);
}

static const RequestServerLimits control_limits = {
        .max_request = CONTROL_REQUEST_MAX,
        .max_connections = CONTROL_MAX_CONNECTIONS,
        .request_timeout_usec = CONTROL_REQUEST_TIMEOUT_USEC,
        .answer_timeout_usec = CONTROL_ANSWER_TIMEOUT_USEC,
        .busy_answer = "error busy: too many control connections, try again\n",
};

static int control_alloc(const char *path, DaemonView *view, Supervisor *supervisor, const ControlOps *ops,
                         void *userdata, Control **ret) {
        _cleanup_(control_freep) Control *c = NULL;

        c = calloc(1, sizeof(Control));
        if (!c)
                return -ENOMEM;
        c->lock_fd = -EBADF;
        c->listen_fd = -EBADF;
        c->view = view;
        c->supervisor = supervisor;
        c->ops = ops;
        c->userdata = userdata;
        c->path = strdup(path);
        if (!c->path || asprintf(&c->lock_path, "%s.lock", path) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

static int control_serve(Control *c, sd_event *e, int fd, bool adopted) {
        int r;

        c->listen_fd = fd;
        r = request_server_new(e, fd, &control_server_ops, &control_limits, c, &c->server);
        if (r < 0) {
                c->listen_fd = -EBADF;
                return log_error_errno(r, "Cannot serve the control socket: %s", STRERROR(r));
        }
        log_info("Control socket on %s%s", c->path, adopted ? " (kept across the upgrade)" : "");
        return 0;
}

int control_new(sd_event *e, const char *path, bool is_default, DaemonView *view, Supervisor *supervisor,
                const ControlOps *ops, void *userdata, Control **ret) {
        _cleanup_(control_freep) Control *c = NULL;
        int fd, r;

        assert(e);
        assert(path);
        assert(view);
        assert(supervisor);
        assert(ops);
        assert(ret);

        r = control_alloc(path, view, supervisor, ops, userdata, &c);
        if (r < 0)
                return r;
        fd = control_bind(c, is_default);
        if (fd < 0) {
                if (fd == -ENOMEM)
                        return fd;
                /* Logged: the daemon runs without a control socket. */
                c->lock_fd = safe_close(c->lock_fd);
                c->path = mfree(c->path);
                *ret = NULL;
                return 0;
        }
        r = control_serve(c, e, fd, false);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

int control_adopt(sd_event *e, const char *path, int listen_fd, int lock_fd, DaemonView *view,
                  Supervisor *supervisor, const ControlOps *ops, void *userdata, Control **ret) {
        _cleanup_close_ int fd = listen_fd, lock = lock_fd;
        _cleanup_(control_freep) Control *c = NULL;
        int r;

        assert(e);
        assert(path);
        assert(listen_fd >= 0);
        assert(lock_fd >= 0);
        assert(ret);

        r = control_alloc(path, view, supervisor, ops, userdata, &c);
        if (r < 0)
                return r;
        c->lock_fd = TAKE_FD(lock);
        r = control_serve(c, e, TAKE_FD(fd), true);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

int control_fds(const Control *c, int *ret_listen, int *ret_lock) {
        assert(ret_listen);
        assert(ret_lock);

        if (!c || c->listen_fd < 0 || c->lock_fd < 0)
                return -ENOENT;
        *ret_listen = c->listen_fd;
        *ret_lock = c->lock_fd;
        return 0;
}

Control *control_free(Control *c) {
        if (!c)
                return NULL;
        c->server = request_server_free(c->server);
        free(c->running.conns);
        free(c->next.conns);
        /* The socket file first, while the lock still keeps another daemon
         * from binding the path; then the lock. */
        if (c->path && c->lock_fd >= 0) {
                (void) unlink(c->path);
                (void) unlink(c->lock_path);
        }
        safe_close(c->lock_fd);
        free(c->path);
        free(c->lock_path);
        free(c);
        return NULL;
}
