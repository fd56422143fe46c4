/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <systemd/sd-daemon.h>

#include "config-loader.h"
#include "log.h"
#include "master.h"
#include "worker.h"

/* How long a reload waits for every new worker to reach accept(). */
#define PENDING_TIMEOUT_USEC (30 * USEC_PER_SEC)
/* How often STATUS= is refreshed for the connection counters. */
#define STATUS_INTERVAL_USEC (5 * USEC_PER_SEC)
/* How long a fast stop waits for workers to act on SIGQUIT. */
#define FAST_STOP_USEC (1 * USEC_PER_SEC)

static void master_send_status(Master *m, bool ready);
static void master_prune_listeners(Master *m);
static int master_reload(Master *m);

/* Listeners are matched across reloads by their canonical address. Port 0
 * is the exception: every such entry is its own socket, so its key also
 * names the service and position, and a reload keeps the port it got. */
static int listener_key(const ServiceConfig *svc, size_t k, char *buf, size_t size) {
        int r = listen_format(&svc->listen[k], buf, size);
        size_t n;

        if (r < 0 || !listen_is_port_zero(&svc->listen[k]))
                return r;
        n = strlen(buf);
        if (snprintf(buf + n, size - n, "#%s/%zu", svc->name, k) >= (int) (size - n))
                return -ENOBUFS;
        return 0;
}

int master_listener_fd(const Master *m, const ServiceConfig *svc, size_t k) {
        char key[256];

        if (listener_key(svc, k, key, sizeof key) < 0)
                return -EINVAL;
        for (size_t i = 0; i < m->n_listeners; i++)
                if (m->listeners[i].fd >= 0 && strcmp(m->listeners[i].key, key) == 0)
                        return m->listeners[i].fd;
        return -ENOENT;
}

static void listener_close(Listener *l) {
        if (l->from_systemd)
                return;
        l->fd = safe_close(l->fd);
        listen_unlink(&l->addr);
}

/* Checks that every "systemd:NAME" in c was passed. Runs before anything is
 * opened, so a refused config changes nothing. */
static int master_check_systemd_names(Master *m, const Config *c) {
        int r = 0;

        for (size_t i = 0; i < c->n_services; i++)
                for (size_t k = 0; k < c->services[i].n_listen; k++) {
                        const ListenAddress *a = &c->services[i].listen[k];
                        if (a->type != LISTEN_SYSTEMD || systemd_sockets_find(&m->systemd, a->name) >= 0)
                                continue;
                        log_error("%s:%u: services.[%zu].listen: systemd socket \"%s\" was not passed by systemd "
                                  "(FileDescriptorName=%s in the .socket unit)",
                                  c->path, c->services[i].listen_line[k], i, a->name, a->name);
                        r = -ENOENT;
                }
        return r;
}

/* Workers switch to user/group themselves; that needs root unless the
 * master already runs as them. Checked before a config is used, so a
 * config that cannot work is refused instead of crash-looping workers. */
static int master_check_privileges(const Config *c) {
        if (geteuid() == 0)
                return 0;
        if ((c->user && geteuid() != c->uid) || ((c->user || c->group) && getegid() != c->gid)) {
                log_error("%s: user/group: switching workers to %s%s%s needs preforkd to be started as root "
                          "(running as uid %u)",
                          c->path, c->user ? c->user : "", c->user && c->group ? ":" : "", c->group ? c->group : "",
                          (unsigned) geteuid());
                return -EPERM;
        }
        return 0;
}

static int master_add_listener(Master *m, const ServiceConfig *svc, const ListenAddress *a, const char *key) {
        Listener l = { .addr = *a, .fd = -EBADF, .wanted = true };
        char shown[256];
        Listener *n;
        int r;

        strcpy(l.key, key);
        if (a->type != LISTEN_SYSTEMD && (r = systemd_sockets_match(&m->systemd, a)) >= 0) {
                /* systemd already holds a socket on this very address: use
                 * it rather than fail to bind, so one config file serves in
                 * the foreground and under preforkd.socket alike. */
                l.fd = m->systemd.fds[r];
                l.from_systemd = true;
                m->systemd.used[r] = true;
        } else if (a->type == LISTEN_SYSTEMD) {
                int i = systemd_sockets_find(&m->systemd, a->name);
                if (i < 0)
                        return log_error_errno(ENOENT, "Socket systemd:%s was not passed by systemd", a->name);
                l.fd = m->systemd.fds[i];
                l.from_systemd = true;
                m->systemd.used[i] = true;
        } else {
                r = listen_open(a, svc->backlog, svc->defer_accept, &l.fd);
                if (r == -EEXIST)
                        return log_error_errno(r, "Failed to listen on %s (service %s): a file that is not a socket "
                                                  "is in the way",
                                               key, svc->name);
                if (r < 0)
                        return log_error_errno(r, "Failed to listen on %s (service %s): %s", key, svc->name, STRERROR(r));
        }

        n = realloc(m->listeners, (m->n_listeners + 1) * sizeof(Listener));
        if (!n) {
                listener_close(&l);
                return log_error_errno(ENOMEM, "Failed to listen on %s: %s", key, STRERROR(ENOMEM));
        }
        m->listeners = n;
        m->listeners[m->n_listeners++] = l;

        if (listen_format_fd(l.fd, shown, sizeof shown) < 0)
                strcpy(shown, key);
        if (l.from_systemd)
                log_info("Listening on %s (service %s, socket passed by systemd as %s)", shown, svc->name, key);
        else
                log_info("Listening on %s (service %s)", shown, svc->name);
        return 0;
}

/* Makes sure every address of c has a listener: those already open (same
 * canonical address) are reused, so their queues and connections carry
 * over a reload untouched. New ones are opened. On failure the ones opened
 * by this call are closed again by the next prune. */
static int master_open_listeners(Master *m, const Config *c) {
        int r;

        for (size_t i = 0; i < c->n_services; i++) {
                const ServiceConfig *svc = &c->services[i];
                for (size_t k = 0; k < svc->n_listen; k++) {
                        char key[256];

                        r = listener_key(svc, k, key, sizeof key);
                        if (r < 0)
                                return log_error_errno(r, "Cannot format listen address: %s", STRERROR(r));
                        if (master_listener_fd(m, svc, k) >= 0)
                                continue;
                        r = master_add_listener(m, svc, &svc->listen[k], key);
                        if (r < 0)
                                return r;
                }
                /* A listener shared by several workers through epoll must
                 * not block in accept(); a lone one must. O_NONBLOCK belongs
                 * to the socket, so set it per the service using it now. */
                for (size_t k = 0; k < svc->n_listen; k++) {
                        int fd = master_listener_fd(m, svc, k);
                        int fl = fcntl(fd, F_GETFL);
                        if (fl >= 0)
                                (void) fcntl(fd, F_SETFL, svc->n_listen > 1 ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
                }
        }
        return 0;
}

static bool config_uses(const Config *c, const Listener *l) {
        char key[256];

        for (size_t i = 0; c && i < c->n_services; i++)
                for (size_t k = 0; k < c->services[i].n_listen; k++)
                        if (listener_key(&c->services[i], k, key, sizeof key) >= 0 &&
                            strcmp(key, l->key) == 0)
                                return true;
        return false;
}

/* Closes the master's copy of every listener that neither the current nor
 * a starting generation uses. Retiring workers keep their own copies until
 * they exit. Sockets passed by systemd are kept for the next reload. */
static void master_prune_listeners(Master *m) {
        size_t j = 0;

        for (size_t i = 0; i < m->n_listeners; i++) {
                Listener *l = &m->listeners[i];
                if (l->from_systemd || (m->current && config_uses(m->current->config, l)) ||
                    (m->pending && config_uses(m->pending->config, l))) {
                        m->listeners[j++] = *l;
                        continue;
                }
                if (m->state != MASTER_STOPPING)
                        log_info("Closing listener %s", l->key);
                listener_close(l);
        }
        m->n_listeners = j;
}

static void master_free_retired(Master *m) {
        for (Generation **g = &m->retiring; *g;) {
                if (generation_live_workers(*g) > 0) {
                        g = &(*g)->next;
                        continue;
                }
                Generation *done = *g;
                *g = done->next;
                log_debug("Generation %u has finished", done->number);
                generation_free(done);
        }
}

static void master_retire(Master *m, Generation *g, uint64_t kill_after_usec) {
        generation_retire(g, kill_after_usec);
        g->next = m->retiring;
        m->retiring = g;
}

static unsigned master_live_workers(const Master *m) {
        unsigned n = 0;

        if (m->current)
                n += generation_live_workers(m->current);
        if (m->pending)
                n += generation_live_workers(m->pending);
        for (const Generation *g = m->retiring; g; g = g->next)
                n += generation_live_workers(g);
        return n;
}

static void master_notify_ready(Master *m) {
        /* READY=1 and the STATUS= that reports the reload in one datagram:
         * preforkd-reload (ExecReload=) waits for "reload #N". */
        master_send_status(m, true);
}

static void master_reload_done(Master *m, bool applied) {
        m->n_reloads++;
        m->last_reload_refused = !applied;
        master_notify_ready(m);
}

/* The one place that moves the master between states as workers come and
 * go: every worker exit and readiness report ends here. */
void master_workers_changed(Master *m) {
        switch (m->state) {
        case MASTER_STARTING:
                if (generation_is_ready(m->current, true)) {
                        char summary[128];
                        m->state = MASTER_RUNNING;
                        (void) config_summary(m->current->config, summary, sizeof summary);
                        log_info("Ready: generation %u, %s", m->current->number, summary);
                        master_notify_ready(m);
                }
                break;
        case MASTER_RELOADING:
                if (m->pending && generation_is_ready(m->pending, false)) {
                        char summary[128];
                        Generation *old = m->current;

                        /* Switch first, retire after: the new workers are
                         * already in accept() on the same sockets, so the
                         * old ones can leave without a connection refused. */
                        generation_inherit_counters(m->pending, old);
                        m->current = TAKE_PTR(m->pending);
                        m->pending_timer = sd_event_source_disable_unref(m->pending_timer);
                        log_set_max_level(m->current->config->log_level);
                        master_retire(m, old, m->current->config->shutdown_timeout_usec);
                        master_prune_listeners(m);
                        m->state = MASTER_RUNNING;
                        (void) config_summary(m->current->config, summary, sizeof summary);
                        log_info("Reloaded: generation %u, %s; generation %u is retiring", m->current->number,
                                 summary, old->number);
                        master_reload_done(m, true);
                }
                break;
        case MASTER_RUNNING:
                break;
        case MASTER_STOPPING:
                if (master_live_workers(m) == 0) {
                        log_info("All workers have exited");
                        (void) sd_event_exit(m->event, m->exit_code);
                }
                break;
        case _MASTER_STATE_MAX:
                abort();
        }
        master_free_retired(m);
        master_send_status(m, false);

        /* While a load runs, its callback starts the queued reload. */
        if (m->state == MASTER_RUNNING && m->reload_queued && !m->loader) {
                m->reload_queued = false;
                (void) master_reload(m);
        }
}

static void master_abandon_pending(Master *m, const char *why) {
        Generation *g = TAKE_PTR(m->pending);

        log_error("Reload failed: %s; still serving generation %u with the old configuration", why,
                  m->current->number);
        m->pending_timer = sd_event_source_disable_unref(m->pending_timer);
        master_retire(m, g, m->current->config->shutdown_timeout_usec);
        master_prune_listeners(m);
        m->state = MASTER_RUNNING;
        master_reload_done(m, false);
}

void master_pending_failed(Master *m, const Slot *s, const char *how) {
        char why[256];

        (void) snprintf(why, sizeof why, "a new worker of service %s (slot %u) %s before accepting",
                        s->pool->svc->name, s->index, how);
        master_abandon_pending(m, why);
        master_workers_changed(m);
}

static int master_on_pending_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        Master *m = userdata;

        master_abandon_pending(m, "the new workers did not start within 30s");
        master_workers_changed(m);
        return 0;
}

/* The part of a reload that runs once the config is loaded: refuse it, or
 * open its listeners and start its generation. */
static int master_apply_config(Master *m, int r, Config *loaded, char **loaded_errors) {
        _cleanup_(config_freep) Config *c = loaded;
        _cleanup_strv_free_ char **errors = loaded_errors;
        Generation *g = NULL;

        if (r < 0) {
                for (char **e = errors; e && *e; e++)
                        log_error("%s", *e);
                log_error("Reload failed: the configuration has %s; still serving generation %u with the old "
                          "configuration",
                          errors && errors[0] && errors[1] ? "errors" : "an error", m->current->number);
                master_reload_done(m, false);
                return r;
        }
        r = master_check_privileges(c);
        if (r >= 0)
                r = master_check_systemd_names(m, c);
        if (r >= 0)
                r = master_open_listeners(m, c);
        if (r >= 0)
                r = generation_new(m, c, m->last_generation + 1, &g);
        if (r < 0) {
                master_prune_listeners(m);
                log_error("Reload failed; still serving generation %u with the old configuration",
                          m->current->number);
                master_reload_done(m, false);
                return r;
        }
        TAKE_PTR(c);
        m->last_generation++;
        m->pending = g;
        m->state = MASTER_RELOADING;
        r = sd_event_add_time_relative(m->event, &m->pending_timer, CLOCK_MONOTONIC, PENDING_TIMEOUT_USEC, 0,
                                       master_on_pending_timeout, m);
        if (r < 0)
                log_warning_errno(r, "Cannot arm the reload timeout: %s", STRERROR(r));
        (void) generation_start(g);
        master_workers_changed(m);
        return 0;
}

static void master_on_config_loaded(ConfigLoader *l, int r, Config *config, char **errors, void *userdata) {
        Master *m = userdata;

        /* A load only runs in MASTER_RUNNING, and a stop cancels it. */
        assert(m->state == MASTER_RUNNING);
        m->loader = config_loader_free(m->loader);
        (void) master_apply_config(m, r, config, errors);
        /* A refused reload stays in MASTER_RUNNING, where no worker change
         * would pick up a reload queued meanwhile. */
        if (m->state == MASTER_RUNNING && m->reload_queued) {
                m->reload_queued = false;
                (void) master_reload(m);
        }
}

/* Starts a reload. The config is loaded in a thread (config-loader.c): host
 * names and users are looked up through DNS and NSS, which can block far
 * longer than WatchdogSec, and the loop must go on supervising meanwhile.
 * master_on_config_loaded() continues once the load is done. */
static int master_reload(Master *m) {
        int r;

        switch (m->state) {
        case MASTER_STOPPING:
                log_info("Ignoring reload request: stopping");
                return 0;
        case MASTER_STARTING:
        case MASTER_RELOADING:
                log_info("Reload requested while workers are starting; it will follow");
                m->reload_queued = true;
                return 0;
        case MASTER_RUNNING:
                break;
        case _MASTER_STATE_MAX:
                abort();
        }
        if (m->loader) {
                log_info("Reload requested while the configuration is being loaded; it will follow");
                m->reload_queued = true;
                return 0;
        }

        (void) sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=Reloading configuration", now_usec());
        log_info("Reloading configuration from %s", m->config_path);

        r = config_loader_start(m->event, m->config_path, master_on_config_loaded, m, &m->loader);
        if (r < 0) {
                log_error_errno(r, "Reload failed: cannot start loading the configuration: %s; still serving "
                                   "generation %u with the old configuration",
                                STRERROR(r), m->current->number);
                master_reload_done(m, false);
                return r;
        }
        return 0;
}

static int master_on_stop_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        Master *m = userdata;

        log_error("%u worker%s did not exit after SIGKILL; exiting anyway", master_live_workers(m),
                  master_live_workers(m) == 1 ? "" : "s");
        return sd_event_exit(m->event, EX_SOFTWARE);
}

static void master_stop(Master *m, bool fast) {
        const Generation *newest = m->current ? m->current : m->pending ? m->pending : m->retiring;
        uint64_t grace;

        if (m->state == MASTER_STOPPING && (!fast || m->fast_stop)) {
                log_info("Already stopping");
                return;
        }
        grace = fast ? FAST_STOP_USEC : newest ? newest->config->shutdown_timeout_usec : 0;
        if (m->state != MASTER_STOPPING) {
                (void) sd_notify(0, "STOPPING=1\nSTATUS=Stopping");
                m->state = MASTER_STOPPING;
                m->reload_queued = false;
                /* The load's result would only be thrown away. */
                m->loader = config_loader_free(m->loader);
                m->pending_timer = sd_event_source_disable_unref(m->pending_timer);
                if (m->current)
                        master_retire(m, TAKE_PTR(m->current), grace);
                if (m->pending)
                        master_retire(m, TAKE_PTR(m->pending), grace);
                master_prune_listeners(m);
        }
        if (fast) {
                m->fast_stop = true;
                log_info("Fast stop: telling workers to exit now");
                for (Generation *g = m->retiring; g; g = g->next)
                        generation_kill(g, SIGQUIT);
        } else
                log_info("Stopping gracefully: waiting up to %.1fs for workers to finish their connections",
                         (double) grace / 1e6);

        /* Every generation, also one still retiring from a reload, now
         * SIGKILLs its stragglers after grace; the stop timer is the last
         * resort should even that not end them. */
        for (Generation *g = m->retiring; g; g = g->next)
                generation_retire(g, grace);
        m->stop_timer = sd_event_source_disable_unref(m->stop_timer);
        if (sd_event_add_time_relative(m->event, &m->stop_timer, CLOCK_MONOTONIC, grace + 5 * USEC_PER_SEC, 0,
                                       master_on_stop_timeout, m) < 0)
                log_warning("Cannot arm the stop timer");
        master_workers_changed(m);
}

static int master_on_signal(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
        Master *m = userdata;

        switch (si->ssi_signo) {
        case SIGTERM:
        case SIGINT:
                log_info("Received SIG%s", sigabbrev_np((int) si->ssi_signo));
                master_stop(m, false);
                break;
        case SIGQUIT:
                log_info("Received SIGQUIT");
                master_stop(m, true);
                break;
        case SIGHUP:
                log_info("Received SIGHUP");
                (void) master_reload(m);
                break;
        default:
                log_notice("Ignoring SIG%s (TERM/INT stop, QUIT stops fast, HUP reloads)",
                           sigabbrev_np((int) si->ssi_signo));
                break;
        }
        return 0;
}

static int master_on_ready_pipe(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Master *m = userdata;
        ReadyMessage msg;
        bool changed = false;

        while (read(fd, &msg, sizeof msg) == (ssize_t) sizeof msg) {
                if (m->current && generation_worker_ready(m->current, &msg))
                        changed = true;
                else if (m->pending && generation_worker_ready(m->pending, &msg))
                        changed = true;
        }
        if (changed)
                master_workers_changed(m);
        return 0;
}

static int master_on_status_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        Master *m = userdata;

        master_send_status(m, false);
        return sd_event_source_set_time_relative(es, STATUS_INTERVAL_USEC);
}

/* STATUS=: one summary per service of the current generation, the reload
 * in progress, and "reload #N applied|refused" once a reload has been
 * handled, which preforkd-reload (ExecReload=) waits for. With ready,
 * READY=1 goes in the same datagram, so both are seen together. */
static void master_send_status(Master *m, bool ready) {
        char buf[2048];
        size_t n = 0;

        if (!m->current || m->state == MASTER_STOPPING) {
                if (ready)
                        (void) sd_notify(0, "READY=1");
                return;
        }
        for (size_t i = 0; i < m->current->n_pools && n < sizeof buf - 1; i++) {
                if (i > 0)
                        n += (size_t) snprintf(buf + n, sizeof buf - n, "; ");
                if (n < sizeof buf && pool_format_status(&m->current->pools[i], buf + n, sizeof buf - n) >= 0)
                        n += strlen(buf + n);
        }
        if (m->state == MASTER_RELOADING && m->pending && n < sizeof buf)
                n += (size_t) snprintf(buf + n, sizeof buf - n, "; reloading to generation %u", m->pending->number);
        if (m->n_reloads > 0 && n < sizeof buf)
                (void) snprintf(buf + n, sizeof buf - n, "; reload #%u %s", m->n_reloads,
                                m->last_reload_refused ? "refused" : "applied");
        (void) sd_notifyf(0, "%sSTATUS=%s", ready ? "READY=1\n" : "", buf);
}

static void master_done(Master *m) {
        config_loader_free(m->loader);
        generation_free(m->current);
        generation_free(m->pending);
        while (m->retiring) {
                Generation *g = m->retiring;
                m->retiring = g->next;
                generation_free(g);
        }
        for (size_t i = 0; i < m->n_listeners; i++)
                listener_close(&m->listeners[i]);
        free(m->listeners);
        for (size_t i = 0; i < m->systemd.n; i++)
                safe_close(m->systemd.fds[i]);
        systemd_sockets_done(&m->systemd);
        sd_event_source_disable_unref(m->ready_source);
        sd_event_source_disable_unref(m->stop_timer);
        sd_event_source_disable_unref(m->pending_timer);
        sd_event_source_disable_unref(m->status_timer);
        safe_close(m->ready_pipe[0]);
        safe_close(m->ready_pipe[1]);
        sd_event_unref(m->event);
}

static int master_setup_event(Master *m) {
        /* USR1/USR2 mean "reopen logs" and the like to other daemons; an
         * operator's habit must not kill this master (their default
         * action), so they are taken and logged as ignored. */
        static const int signals[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2 };
        sigset_t mask;
        int r;

        /* sd-event delivers signals and child exits through signalfd and
         * pidfds, which need them blocked; forked workers unblock them. */
        sigemptyset(&mask);
        for (size_t i = 0; i < ELEMENTSOF(signals); i++)
                sigaddset(&mask, signals[i]);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %s", STRERROR(errno));
        (void) signal(SIGPIPE, SIG_IGN);

        r = sd_event_new(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %s", STRERROR(r));
        for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
                r = sd_event_add_signal(m->event, NULL, signals[i], master_on_signal, m);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch signal %d: %s", signals[i], STRERROR(r));
        }

        if (pipe2(m->ready_pipe, O_CLOEXEC | O_DIRECT) < 0)
                return log_error_errno(errno, "Failed to create the ready pipe: %s", STRERROR(errno));
        if (fcntl(m->ready_pipe[0], F_SETFL, O_NONBLOCK) < 0)
                return log_error_errno(errno, "Failed to set up the ready pipe: %s", STRERROR(errno));
        r = sd_event_add_io(m->event, &m->ready_source, m->ready_pipe[0], EPOLLIN, master_on_ready_pipe, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the ready pipe: %s", STRERROR(r));
        /* Read readiness before child exits of the same iteration, so that
         * a worker that got ready and died at once counts as having started. */
        (void) sd_event_source_set_priority(m->ready_source, SD_EVENT_PRIORITY_IMPORTANT);

        r = sd_event_add_time_relative(m->event, &m->status_timer, CLOCK_MONOTONIC, STATUS_INTERVAL_USEC,
                                       USEC_PER_SEC, master_on_status_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the status timer: %s", STRERROR(r));
        (void) sd_event_source_set_enabled(m->status_timer, SD_EVENT_ON);

        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                return log_error_errno(r, "Failed to enable the watchdog: %s", STRERROR(r));
        return 0;
}

static void master_warn_unused_systemd(const Master *m) {
        for (size_t i = 0; i < m->systemd.n; i++)
                if (!m->systemd.used[i])
                        log_warning("Socket \"%s\" passed by systemd (fd %d) is not used by any service",
                                    m->systemd.names && m->systemd.names[i] ? m->systemd.names[i] : "?",
                                    m->systemd.fds[i]);
}

int master_run(const char *config_path, Config *config) {
        _cleanup_(config_freep) Config *c = config;
        Master m = { .ready_pipe = { -EBADF, -EBADF }, .state = MASTER_STARTING };
        int r, ret = EX_OSERR;

        m.config_path = (char *) config_path;
        r = master_setup_event(&m);
        if (r < 0)
                goto finish;

        r = listen_adopt_systemd(&m.systemd);
        if (r < 0)
                goto finish;
        if (master_check_privileges(c) < 0 || master_check_systemd_names(&m, c) < 0) {
                ret = EX_CONFIG;
                goto finish;
        }

        /* Every listener is open before the first fork; if one fails, the
         * ones already open are closed (unix socket files removed) and no
         * worker was ever started. */
        r = master_open_listeners(&m, c);
        if (r < 0)
                goto finish;
        /* only now are the passed sockets that a listener took marked used */
        master_warn_unused_systemd(&m);

        m.last_generation = 1;
        r = generation_new(&m, c, m.last_generation, &m.current);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the worker pools: %s", STRERROR(r));
                goto finish;
        }
        TAKE_PTR(c);
        (void) generation_start(m.current);
        master_workers_changed(&m);

        r = sd_event_loop(m.event);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %s", STRERROR(r));
                ret = EX_SOFTWARE;
        } else
                ret = r;
        if (ret == 0)
                log_info("Stopped");
finish:
        master_done(&m);
        return ret;
}
