/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <systemd/sd-event.h>

#include "agent.h"
#include "config-loader.h"
#include "control.h"
#include "daemon-view.h"
#include "fd-util.h"
#include "fdstore.h"
#include "listen-queue.h"
#include "listener.h"
#include "log.h"
#include "master-internal.h"
#include "master.h"
#include "metrics-http.h"
#include "notify.h"
#include "park.h"
#include "proc-util.h"
#include "programs.h"
#include "random-util.h"
#include "readiness.h"
#include "reload-outcome.h"
#include "spawn.h"
#include "supervisor-scale.h"
#include "supervisor.h"
#include "time-util.h"
#include "upgrade.h"

/* How often STATUS= is refreshed for the connection counters. */
#define STATUS_INTERVAL_USEC (5 * USEC_PER_SEC)
/* How often the listen queues are sampled for their peak. */
#define SAMPLE_INTERVAL_USEC (1 * USEC_PER_SEC)


static void master_reload(Master *m);

const Config *master_current_config(const Master *m) {
        return m->supervisor->current ? m->supervisor->current->config : NULL;
}

/* STATUS=: one summary per service of the current generation, the reload
 * in progress, and "reload #N applied|refused|rolled back" once a reload
 * has been handled. With ready,
 * READY=1 goes in the same datagram, so both are seen together. Nothing
 * here blocks: the notifier queues what the manager cannot take yet
 * (defect 10), and plain STATUS= updates are coalesced. */
void master_send_status(Master *m, bool ready) {
        const Supervisor *s = m->supervisor;
        char buf[2048];
        size_t n;

        if (!s->current || IN_SET(s->state, SUPERVISOR_STOPPING, SUPERVISOR_STOPPED)) {
                if (ready)
                        (void) notifier_send(m->notifier, "READY=1", NULL);
                return;
        }
        (void) supervisor_format_status(s, buf, sizeof buf);
        n = strlen(buf);
        if (s->state == SUPERVISOR_RELOADING && s->pending && n < sizeof buf)
                n += (size_t) snprintf(buf + n, sizeof buf - n, "; reloading to generation %u", s->pending->number);
        if (m->n_reloads > 0 && n < sizeof buf)
                n += (size_t) snprintf(buf + n, sizeof buf - n, "; reload #%u %s", m->n_reloads,
                                       reload_outcome_to_string(m->last_reload));
        if (upgrader_status(m->upgrader)[0] && n < sizeof buf)
                (void) snprintf(buf + n, sizeof buf - n, "; %s", upgrader_status(m->upgrader));
        if (ready)
                (void) notifier_send(m->notifier, "READY=1", buf);
        else
                (void) notifier_status(m->notifier, buf);
}

/* Closes the master's copy of every listener that neither the current nor
 * a starting generation uses. */
void master_prune_listeners(Master *m) {
        const Supervisor *s = m->supervisor;
        /* A stop closes them all at once, even while the workers still
         * finish (or take back from the front stage) what is in progress. */
        bool stopping = IN_SET(s->state, SUPERVISOR_STOPPING, SUPERVISOR_STOPPED);
        const Config *keep[] = {
                s->current && !stopping ? s->current->config : NULL,
                s->pending && !stopping ? s->pending->config : NULL,
        };

        listener_set_prune(&m->listeners, keep, ELEMENTSOF(keep), s->state == SUPERVISOR_STOPPING);
        /* Agent checks go on during a stop: they answer "down". */
        if (!stopping)
                agent_set_prune(m->agents, keep, ELEMENTSOF(keep));
}

/* Every reload ends here, once: STATUS= and READY=1, the counters, and
 * the answer to `preforkctl reload`. */
static void master_reload_done(Master *m, ReloadOutcome outcome, const char *message, char *const *details) {
        if (upgrader_starting(m->upgrader)) {
                /* The new binary's first generation: the upgrade's to
                 * finish (from an iteration of its own). */
                upgrader_finish(m->upgrader, outcome == RELOAD_APPLIED, message);
                return;
        }
        m->n_reloads++;
        m->last_reload = outcome;
        m->view.reloads[outcome]++;
        master_prune_listeners(m);
        master_send_status(m, true);
        control_reload_finished(m->control, outcome, message, details);
}

/* After every event: the one timer follows the supervisor's next deadline,
 * and a reload that was asked for meanwhile starts once nothing else is. */
void master_sync(Master *m) {
        uint64_t next = supervisor_next_deadline(m->supervisor);

        if (next == USEC_INFINITY)
                (void) sd_event_source_set_enabled(m->timer_source, SD_EVENT_OFF);
        else {
                (void) sd_event_source_set_time(m->timer_source, next);
                (void) sd_event_source_set_enabled(m->timer_source, SD_EVENT_ONESHOT);
        }
        if (m->supervisor->state == SUPERVISOR_RUNNING && m->reload_queued && !m->loader &&
            !upgrader_busy(m->upgrader)) {
                m->reload_queued = false;
                master_reload(m);
        }
}

int master_on_child(sd_event_source *es, const siginfo_t *si, void *userdata) {
        Master *m = userdata;
        char tail[512];
        ExitStatus st = { .code = si->si_code, .status = si->si_status, .output_tail = tail };

        /* First what a program left in its pipes: its last lines belong
         * before its exit record, which quotes them. */
        programs_exited(&m->programs, supervisor_find_slot(m->supervisor, si->si_pid), si->si_pid, tail, sizeof tail);
        supervisor_worker_exited(m->supervisor, si->si_pid, &st, now_usec());
        master_send_status(m, false);
        master_sync(m);
        return 0;
}

static int master_op_spawn(void *userdata, Slot *s) {
        Master *m = userdata;
        const Pool *p = s->pool;
        Service *service = s->service;
        WorkerSpawn sp = {
                .config = p ? p->gen->config : service->config,
                .svc = p ? p->svc : service->svc,
                .slot = s->index,
                .generation = slot_generation(s),
                .score = s->score,
                .listen_fds = p ? p->listen_fds : NULL,
                .n_listen_fds = p ? p->n_listen_fds : 0,
                /* A front stage reports no readiness. */
                .ready_fd = p ? m->ready_worker_fd : -EBADF,
                .park_fd = service->park_fds[p ? 1 : 0],
                .service_score = service->scoreboard->service,
                .front_stage = !p,
                .master_pid = getpid(),
                .max_requests = s->max_requests,
        };
        char label[128];
        sd_event_source *watch = NULL;
        int output[2];
        pid_t pid;
        int r;

        r = programs_prepare_spawn(&m->programs, s, &sp, output);
        if (r < 0)
                return r;
        r = spawn_worker(&sp, &pid);
        programs_spawned(&m->programs, s, &sp, r < 0 ? 0 : pid, output);
        if (r < 0)
                return r;
        r = sd_event_add_child(m->event, &watch, pid, WEXITED, master_on_child, m);
        if (r < 0) {
                /* A worker we cannot watch could never be respawned or
                 * reaped: take it down rather than run blind. */
                char tail[1];

                log_error_errno(r, "%s: cannot watch process %d, killing it: %s",
                                slot_label(s, label, sizeof label), (int) pid, STRERROR(r));
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                programs_exited(&m->programs, s, pid, tail, sizeof tail);
                return r;
        }
        s->pid = pid;
        s->watch = watch;
        return 0;
}

static void master_op_forget(void *userdata, Slot *s) {
        s->watch = sd_event_source_disable_unref(s->watch);
}

/* pid < 0: the process group -pid. */
static void master_op_kill(void *userdata, pid_t pid, int sig) {
        if (pid > 0 || pid < -1)
                (void) kill(pid, sig);
}

static int master_op_memory(void *userdata, pid_t pid, uint64_t *ret_bytes) {
        return proc_private_memory(pid, ret_bytes);
}

static uint64_t master_op_random(void *userdata) {
        return random_u64();
}

static void master_op_event(void *userdata, SupervisorEvent event, const char *why) {
        Master *m = userdata;

        switch (event) {
        case SUPERVISOR_EVENT_STARTED:
                master_send_status(m, true);
                break;
        case SUPERVISOR_EVENT_RELOAD_APPLIED: {
                char applied[64];

                log_set_max_level(master_current_config(m)->log_level);
                (void) snprintf(applied, sizeof applied, "applied: generation %u", m->supervisor->current->number);
                master_reload_done(m, RELOAD_APPLIED, applied, NULL);
                break;
        }
        case SUPERVISOR_EVENT_RELOAD_REFUSED:
                master_reload_done(m, RELOAD_REFUSED, why, NULL);
                break;
        case SUPERVISOR_EVENT_RELOAD_ROLLED_BACK:
                master_reload_done(m, RELOAD_ROLLED_BACK, why, NULL);
                break;
        case SUPERVISOR_EVENT_STOPPED:
                (void) sd_event_exit(m->event, m->exit_code);
                break;
        case SUPERVISOR_EVENT_STOP_TIMEOUT:
                (void) sd_event_exit(m->event, EX_SOFTWARE);
                break;
        case _SUPERVISOR_EVENT_MAX:
                abort();
        }
}

/* The master holds both ends of a service's park channel. Messages that
 * workers sent towards a front stage that has left are read from its end
 * and sent on from it, which puts them in the workers' queue: they are
 * connections a worker parked in the moment before it saw the stop. */
static void master_op_park_reclaim(void *userdata, Service *service) {
        _cleanup_free_ char *bytes = NULL;
        unsigned n = 0, lost = 0;
        ParkState st;
        int fd, file_fd;

        if (service->park_fds[0] < 0)
                return;
        /* Not a static buffer: it would be in every worker's address
         * space, and its pages among those the workers write. */
        bytes = malloc(PARK_BYTES_MAX);
        if (!bytes) {
                log_warning("%s: out of memory: connections parked during the stop are not handed back", service->name);
                return;
        }
        while (park_receive(service->park_fds[0], &fd, &file_fd, &st, bytes, PARK_BYTES_MAX) > 0) {
                /* A file transfer cannot go to a worker; its client loses
                 * the rest, as at any stop of the one sending it. */
                if (st.kind == PARK_SENDING ||
                    park_hand_back(service->park_fds[0], &service->scoreboard->service->handback_queued, fd, &st,
                                   bytes, st.n_bytes) < 0)
                        lost++;
                else
                        n++;
                safe_close(fd);
                safe_close(file_fd);
        }
        if (n + lost > 0)
                log_debug("%s: %u parked connection%s handed back to the workers, %u lost", service->name, n,
                          n == 1 ? "" : "s", lost);
}

const SupervisorOps master_ops = {
        .spawn = master_op_spawn,
        .forget = master_op_forget,
        .kill = master_op_kill,
        .memory = master_op_memory,
        .random = master_op_random,
        .park_reclaim = master_op_park_reclaim,
        .event = master_op_event,
};

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

/* Checks c against this machine and opens its listeners; then hands it to
 * start (first generation) or reload. On failure nothing changed but
 * listeners opened on the way, which the caller prunes; *ret_exit says
 * which sysexits code a failed start ends with. */
static int master_apply(Master *m, Config *c, bool first, int *ret_exit) {
        int **fds = NULL;
        int r;

        *ret_exit = EX_CONFIG;
        r = master_check_privileges(c);
        if (r >= 0)
                r = listener_set_check_systemd_names(&m->listeners, c);
        if (r < 0)
                return r;
        *ret_exit = EX_OSERR;
        r = listener_set_open(&m->listeners, c);
        if (r >= 0)
                r = agent_set_open(m->agents, c);
        if (r < 0)
                return r;
        if (first)
                /* only now are the passed sockets that a listener took marked used */
                listener_set_warn_unused_systemd(&m->listeners);
        r = listener_set_fds(&m->listeners, c, &fds);
        if (r >= 0)
                r = first ? supervisor_start(m->supervisor, c, fds, now_usec())
                          : supervisor_reload(m->supervisor, c, fds, now_usec());
        listen_fds_free(fds, c->n_services);
        if (r < 0)
                log_error_errno(r, "Failed to set up the worker pools: %s", STRERROR(r));
        return r;
}

static bool streq_null(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The control socket and the metrics endpoint stay as they were started:
 * a reload that changes them says so. */
static void master_check_observability(const Config *old, const Config *new) {
        if (!streq_null(old->control_socket, new->control_socket))
                log_notice("control_socket changed: it takes effect when preforkd is started again");
        if (!streq_null(old->metrics_listen, new->metrics_listen))
                log_notice("metrics_listen changed: it takes effect when preforkd is started again");
}

/* The part of a reload that runs once its config is loaded: refuse it, or
 * open its listeners and start its generation. */
static void master_on_config_loaded(ConfigLoader *l, int r, Config *config, char **errors, void *userdata) {
        _cleanup_(config_freep) Config *c = config;
        _cleanup_strv_free_ char **e = errors;
        Master *m = userdata;
        int ignored;

        /* A load only starts while RUNNING, and a stop cancels it. */
        assert(m->supervisor->state == SUPERVISOR_RUNNING);
        m->loader = config_loader_free(m->loader);
        if (r >= 0)
                master_check_observability(master_current_config(m), c);
        if (r < 0) {
                char why[128];

                for (char **i = e; i && *i; i++)
                        log_error("%s", *i);
                (void) snprintf(why, sizeof why, "the configuration has %s; still serving generation %u",
                                e && e[0] && e[1] ? "errors" : "an error", m->supervisor->current->number);
                log_error("Reload failed: %s with the old configuration", why);
                master_reload_done(m, RELOAD_REFUSED, why, e);
        } else if (master_apply(m, c, false, &ignored) < 0) {
                char why[160];

                (void) snprintf(why, sizeof why, "the new configuration cannot be set up (see the log); still "
                                "serving generation %u", m->supervisor->current->number);
                log_error("Reload failed; still serving generation %u with the old configuration",
                          m->supervisor->current->number);
                master_reload_done(m, RELOAD_REFUSED, why, NULL);
        } else {
                TAKE_PTR(c);
                master_send_status(m, false);
        }
        master_sync(m);
}

/* Starts a reload. The config is loaded in a thread (config-loader.c): host
 * names and users are looked up through DNS and NSS, which can block far
 * longer than WatchdogSec, and the loop must go on supervising (and
 * pinging the watchdog) meanwhile (defect 6). */
static void master_reload(Master *m) {
        char reloading[64];

        switch (m->supervisor->state) {
        case SUPERVISOR_STOPPING:
        case SUPERVISOR_STOPPED:
                log_info("Ignoring reload request: stopping");
                return;
        case SUPERVISOR_IDLE:
        case SUPERVISOR_STARTING:
        case SUPERVISOR_RELOADING:
                log_info("Reload requested while workers are starting; it will follow");
                m->reload_queued = true;
                return;
        case SUPERVISOR_RUNNING:
                break;
        case _SUPERVISOR_STATE_MAX:
                abort();
        }
        if (m->loader || upgrader_busy(m->upgrader)) {
                log_info("Reload requested while the configuration is being loaded%s; it will follow",
                         m->loader ? "" : " for an upgrade");
                m->reload_queued = true;
                return;
        }

        (void) snprintf(reloading, sizeof reloading, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_usec());
        (void) notifier_send(m->notifier, reloading, "Reloading configuration");
        log_info("Reloading configuration from %s", m->config_path);
        /* Before anything can end it: the requests so far wait for it. */
        control_reload_started(m->control);
        master_load_config(m);
}

/* Loads the file on disk for a new generation: a reload's, or an
 * upgrade's in the new binary. */
void master_load_config(Master *m) {
        int r;

        r = config_loader_start(m->event, m->config_path, master_on_config_loaded, m, &m->loader);
        if (r < 0) {
                log_error_errno(r, "Reload failed: cannot start loading the configuration: %s; still serving "
                                   "generation %u with the old configuration",
                                STRERROR(r), m->supervisor->current->number);
                master_reload_done(m, RELOAD_REFUSED, "cannot start loading the configuration", NULL);
        }
}

static void master_stop(Master *m, bool fast) {
        bool was_stopping = IN_SET(m->supervisor->state, SUPERVISOR_STOPPING, SUPERVISOR_STOPPED);

        m->reload_queued = false;
        /* A load's result would only be thrown away. */
        m->loader = config_loader_free(m->loader);
        upgrader_cancel(m->upgrader, "the daemon is stopping");
        if (!was_stopping)
                (void) notifier_send(m->notifier, "STOPPING=1", "Stopping");
        control_stopping(m->control);
        supervisor_stop(m->supervisor, fast, now_usec());
        /* Listeners close at the start of a stop: the kernel refuses new
         * connections while the workers finish theirs. */
        if (!was_stopping)
                master_prune_listeners(m);
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
                master_reload(m);
                break;
        case SIGTTIN:
        case SIGTTOU:
                log_info("Received SIG%s", sigabbrev_np((int) si->ssi_signo));
                if (supervisor_scale_all(m->supervisor, si->ssi_signo == SIGTTIN ? 1 : -1, now_usec()) >= 0)
                        master_send_status(m, false);
                break;
        case SIGUSR2:
                log_info("Received SIGUSR2");
                (void) master_upgrade(m, -EBADF);
                break;
        default:
                log_notice("Ignoring SIG%s (TERM/INT stop, QUIT stops fast, HUP reloads, TTIN/TTOU add/remove "
                           "a worker, USR2 upgrades)",
                           sigabbrev_np((int) si->ssi_signo));
                break;
        }
        master_sync(m);
        return 0;
}

static int master_on_ready(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Master *m = userdata;
        ReadinessReport rep;
        int r;

        while ((r = readiness_receive(fd, &rep)) > 0)
                supervisor_worker_ready(m->supervisor, rep.pid, rep.generation, rep.slot, now_usec());
        if (r < 0)
                log_warning_errno(r, "Cannot read readiness reports: %s", STRERROR(r));
        master_send_status(m, false);
        master_sync(m);
        return 0;
}

static int master_on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        Master *m = userdata;

        supervisor_run_timers(m->supervisor, now_usec());
        master_send_status(m, false);
        master_sync(m);
        return 0;
}

static int master_on_status_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        Master *m = userdata;

        master_send_status(m, false);
        return sd_event_source_set_time_relative(es, STATUS_INTERVAL_USEC);
}

static int master_on_sample_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        Master *m = userdata;

        listen_queue_sample(m->supervisor);
        return sd_event_source_set_time_relative(es, SAMPLE_INTERVAL_USEC);
}

static int master_op_control_reload(void *userdata) {
        Master *m = userdata;

        if (IN_SET(m->supervisor->state, SUPERVISOR_STOPPING, SUPERVISOR_STOPPED))
                return -ESHUTDOWN;
        master_reload(m);
        master_sync(m);
        return 0;
}

static void master_op_control_changed(void *userdata) {
        Master *m = userdata;

        master_send_status(m, false);
        master_sync(m);
}

static int master_op_control_upgrade(void *userdata, int fd) {
        return master_upgrade(userdata, fd);
}

static const ControlOps master_control_ops = {
        .reload = master_op_control_reload,
        .upgrade = master_op_control_upgrade,
        .changed = master_op_control_changed,
};

/* The control socket and the metrics endpoint, once the first
 * configuration is known. A control socket that cannot be had is logged
 * and done without; metrics_listen is asked for explicitly, so a start
 * without it fails like one without a listener. */
int master_setup_observability(Master *m, const Config *c) {
        _cleanup_free_ char *path = NULL;
        bool is_default;
        int r;

        m->view = (DaemonView) {
                .supervisor = m->supervisor,
                .pid = getpid(),
                .start_realtime_usec = now_realtime_usec(),
        };
        r = control_socket_path(c, &path, &is_default);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the control socket: %s", STRERROR(r));
        if (path && m->control_adopt_path && strcmp(path, m->control_adopt_path) == 0) {
                /* The same socket as before the upgrade's exec: served on,
                 * not bound anew. */
                r = control_adopt(m->event, path, TAKE_FD(m->control_adopt_fd), TAKE_FD(m->control_adopt_lock_fd),
                                  &m->view, m->supervisor, &master_control_ops, m, &m->control);
                if (r < 0)
                        return r;
        } else if (path) {
                r = control_new(m->event, path, is_default, &m->view, m->supervisor, &master_control_ops, m,
                                &m->control);
                if (r < 0)
                        return r;
        } else
                log_info("No control socket (control_socket = \"\")");
        /* A handed-over socket the new configuration no longer names:
         * its file goes with it, as at exit. */
        if (m->control_adopt_fd >= 0 && m->control_adopt_path) {
                _cleanup_free_ char *lock = NULL;

                (void) unlink(m->control_adopt_path);
                if (asprintf(&lock, "%s.lock", m->control_adopt_path) >= 0)
                        (void) unlink(lock);
        }
        m->control_adopt_fd = safe_close(m->control_adopt_fd);
        m->control_adopt_lock_fd = safe_close(m->control_adopt_lock_fd);
        m->control_adopt_path = mfree(m->control_adopt_path);
        if (c->metrics_listen) {
                r = metrics_http_new(m->event, &c->metrics_address, &m->view, m->supervisor, &m->metrics);
                if (r < 0)
                        return r;
        }
        r = sd_event_add_time_relative(m->event, &m->sample_timer, CLOCK_MONOTONIC, SAMPLE_INTERVAL_USEC,
                                       100 * USEC_PER_MSEC, master_on_sample_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the sampling timer: %s", STRERROR(r));
        return sd_event_source_set_enabled(m->sample_timer, SD_EVENT_ON);
}

/* Sets up the loop, its signals, timers and the notifier. The readiness
 * socket pair is m's when already set (a master resumed after an exec
 * keeps the one its workers hold), else a new one. */
int master_setup_event(Master *m) {
        /* USR1 means "reopen logs" and the like to other daemons; an
         * operator's habit must not kill this master (its default
         * action), so it is taken and logged as ignored. TTIN/TTOU
         * (gunicorn's convention) grow and shrink every pool by one; USR2
         * upgrades the binary. */
        static const int signals[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU };
        sigset_t mask;
        int r;

        /* sd-event delivers signals and child exits through signalfd and
         * pidfds, which need them blocked; forked workers set their own. */
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

        if (m->ready_fd < 0) {
                r = readiness_open(&m->ready_fd, &m->ready_worker_fd);
                if (r < 0)
                        return log_error_errno(r, "Failed to create the readiness socket: %s", STRERROR(r));
        }
        r = sd_event_add_io(m->event, &m->ready_source, m->ready_fd, EPOLLIN, master_on_ready, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the readiness socket: %s", STRERROR(r));
        /* Read readiness before child exits of the same iteration, so that
         * a worker that got ready and died at once counts as having started. */
        (void) sd_event_source_set_priority(m->ready_source, SD_EVENT_PRIORITY_IMPORTANT);

        r = sd_event_add_time(m->event, &m->timer_source, CLOCK_MONOTONIC, USEC_INFINITY, 1000, master_on_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to create the supervisor timer: %s", STRERROR(r));
        (void) sd_event_source_set_enabled(m->timer_source, SD_EVENT_OFF);

        r = sd_event_add_time_relative(m->event, &m->status_timer, CLOCK_MONOTONIC, STATUS_INTERVAL_USEC,
                                       USEC_PER_SEC, master_on_status_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the status timer: %s", STRERROR(r));
        (void) sd_event_source_set_enabled(m->status_timer, SD_EVENT_ON);

        /* Also sends WATCHDOG=1 from a timer of this loop, so that pings
         * stop when the loop does (not sd_event_set_watchdog(): its pings
         * use the blocking sd_notify()). */
        r = notifier_new(m->event, &m->notifier);
        if (r < 0)
                return log_error_errno(r, "Failed to set up notifications to the service manager: %s", STRERROR(r));
        r = upgrader_new(m->event, m->notifier, m->config_path, &master_upgrade_ops, m, &m->upgrader);
        if (r < 0)
                return log_error_errno(r, "Failed to set up upgrades: %s", STRERROR(r));
        /* `preforkctl upgrade` hears the outcome from the control socket's
         * protocol, in this image or the next. */
        upgrader_set_reply(m->upgrader, control_upgrade_reply, NULL);
        if (fdstore_enabled()) {
                m->listeners.store = master_listener_store;
                m->listeners.store_userdata = m;
        }
        return 0;
}

/* Something a program reported changed the supervisor's state. */
void master_on_programs_changed(void *userdata) {
        Master *m = userdata;

        master_send_status(m, false);
        master_sync(m);
}

void master_done(Master *m) {
        safe_close(m->control_adopt_fd);
        safe_close(m->control_adopt_lock_fd);
        free(m->control_adopt_path);
        upgrader_free(m->upgrader);
        programs_done(&m->programs);
        control_free(m->control);
        metrics_http_free(m->metrics);
        sd_event_source_disable_unref(m->sample_timer);
        config_loader_free(m->loader);
        agent_set_free(m->agents);
        supervisor_free(m->supervisor);
        listener_set_done(&m->listeners);
        sd_event_source_disable_unref(m->ready_source);
        sd_event_source_disable_unref(m->timer_source);
        sd_event_source_disable_unref(m->status_timer);
        notifier_free(m->notifier);
        safe_close(m->ready_fd);
        safe_close(m->ready_worker_fd);
        sd_event_unref(m->event);
}

int master_loop(Master *m) {
        int r;

        master_sync(m);
        r = sd_event_loop(m->event);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %s", STRERROR(r));
                return EX_SOFTWARE;
        }
        if (r == 0)
                log_info("Stopped");
        return r;
}

int master_run(const char *config_path, Config *config) {
        _cleanup_(config_freep) Config *c = config;
        Master m = {
                .ready_fd = -EBADF,
                .ready_worker_fd = -EBADF,
                .control_adopt_fd = -EBADF,
                .control_adopt_lock_fd = -EBADF,
                .config_path = config_path,
                .programs = { .notify_fd = -EBADF },
        };
        int r, ret = EX_OSERR;

        /* Up to 4096 workers per service, each a pidfd here. */
        r = rlimit_nofile_raise();
        if (r < 0)
                log_warning_errno(r, "Cannot raise the file descriptor limit: %s", STRERROR(r));

        r = master_setup_event(&m);
        if (r < 0)
                goto finish;
        r = supervisor_new(&master_ops, &m, &m.supervisor);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the supervisor: %s", STRERROR(r));
                goto finish;
        }
        r = agent_set_new(m.event, m.supervisor, &m.agents);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the agent checks: %s", STRERROR(r));
                goto finish;
        }
        programs_init(&m.programs, m.event, m.supervisor, master_on_programs_changed, &m);
        r = listener_set_adopt_systemd(&m.listeners);
        if (r < 0)
                goto finish;

        /* Every listener is open before the first fork; if one fails, the
         * ones already open are closed (unix socket files removed) and no
         * worker was ever started. */
        r = master_setup_observability(&m, c);
        if (r < 0)
                goto finish;
        r = master_apply(&m, c, true, &ret);
        if (r < 0)
                goto finish;
        TAKE_PTR(c);
        ret = master_loop(&m);
finish:
        master_done(&m);
        return ret;
}
