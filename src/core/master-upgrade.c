/* SPDX-License-Identifier: MIT */
/* The master's side of a binary upgrade (upgrade.h): starting one, the
 * state it hands over, and the master that resumes from such a state
 * after the exec (the new binary, or the old one back). */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sysexits.h>

#include "fd-util.h"
#include "fdstore.h"
#include "log.h"
#include "master-internal.h"
#include "master.h"
#include "state-live.h"
#include "time-util.h"
#include "version.h"

int master_upgrade(Master *m, int waiter_fd) {
        assert(m);

        if (IN_SET(m->supervisor->state, SUPERVISOR_STOPPING, SUPERVISOR_STOPPED))
                return upgrader_reject(m->upgrader, waiter_fd, "the daemon is stopping");
        if (!upgrader_busy(m->upgrader) && (m->supervisor->state != SUPERVISOR_RUNNING || m->loader))
                return upgrader_reject(m->upgrader, waiter_fd, "a start or reload is under way; try again after it");
        return upgrader_start(m->upgrader, waiter_fd);
}

#define PROGRAMS_NOTIFY_FD_NAME "programs-notify"
/* "control:" and "control-lock:" and the control socket's path. */
#define CONTROL_FD_PREFIX "control:"
#define CONTROL_LOCK_FD_PREFIX "control-lock:"
/* "agent:" and the agent check socket's key (agent.c). */
#define AGENT_FD_PREFIX "agent:"

static int master_capture_agent(const char *key, int fd, void *userdata) {
        _cleanup_free_ char *name = NULL;

        if (asprintf(&name, AGENT_FD_PREFIX "%s", key) < 0)
                return -ENOMEM;
        return master_state_add_fd(userdata, name, fd);
}

static int master_capture_output(int fd, const OutputSource *src, void *userdata) {
        StateOutput *o = master_state_add_output(userdata);

        if (!o)
                return -ENOMEM;
        o->fd = fd;
        o->slot = src->slot;
        o->generation = src->generation;
        o->pid = src->pid;
        o->is_stderr = src->is_stderr;
        o->service = strdup(src->service ? src->service : "");
        o->identifier = strdup(src->identifier ? src->identifier : "");
        return o->service && o->identifier ? 0 : -ENOMEM;
}

static int master_op_capture(void *userdata, MasterState *st) {
        Master *m = userdata;
        int r;

        if (m->supervisor->state != SUPERVISOR_RUNNING || m->loader)
                return -EBUSY;
        st->config_path = strdup(m->config_path);
        if (!st->config_path)
                return -ENOMEM;
        st->n_reloads = m->n_reloads;
        st->last_reload = m->n_reloads > 0 ? (int) m->last_reload : -1;
        memcpy(st->reloads_by_outcome, m->view.reloads, sizeof st->reloads_by_outcome);
        st->start_realtime_usec = m->view.start_realtime_usec;
        st->reload_queued = m->reload_queued;
        st->ready_fd = m->ready_fd;
        st->ready_worker_fd = m->ready_worker_fd;
        /* The programs' side: the socket their NOTIFY_SOCKET names and
         * the pipes their output comes through stay theirs. */
        if (m->programs.notify_fd >= 0) {
                r = master_state_add_fd(st, PROGRAMS_NOTIFY_FD_NAME, m->programs.notify_fd);
                if (r < 0)
                        return r;
        }
        r = output_set_foreach(&m->programs.output, master_capture_output, st);
        if (r < 0)
                return r;
        /* The control socket and its lock stay open across the exec: no
         * preforkctl is refused meanwhile, and no process forked in the
         * moment of the exec (which shares the lock until it closes its
         * fds) can keep the next image from the path. */
        {
                int cfd, lfd;

                if (control_fds(m->control, &cfd, &lfd) >= 0) {
                        _cleanup_free_ char *n1 = NULL, *n2 = NULL;

                        if (asprintf(&n1, CONTROL_FD_PREFIX "%s", control_path(m->control)) < 0 ||
                            asprintf(&n2, CONTROL_LOCK_FD_PREFIX "%s", control_path(m->control)) < 0)
                                return -ENOMEM;
                        r = master_state_add_fd(st, n1, cfd);
                        if (r >= 0)
                                r = master_state_add_fd(st, n2, lfd);
                        if (r < 0)
                                return r;
                }
        }
        /* The agent check sockets stay open across the exec: HAProxy's
         * checks are never refused, and a port-0 one keeps its port. */
        r = agent_set_foreach_fd(m->agents, master_capture_agent, st);
        if (r < 0)
                return r;
        return state_live_capture(m->supervisor, &m->listeners, st);
}

/* What the programs of exec services had with the earlier image: their
 * notification socket and their output pipes. A pipe that cannot be read
 * any more is logged (the program's output is lost, the program goes on). */
static void master_take_programs(Master *m, const MasterState *st) {
        int fd = master_state_find_fd(st, PROGRAMS_NOTIFY_FD_NAME), r;

        if (fd >= 0) {
                r = programs_adopt_notify(&m->programs, fd);
                if (r < 0)
                        log_error_errno(r, "Cannot take the programs' notification socket over: %s", STRERROR(r));
        }
        for (size_t i = 0; i < st->n_outputs; i++) {
                const StateOutput *o = &st->outputs[i];
                OutputSource src = {
                        .service = o->service,
                        .slot = o->slot,
                        .generation = o->generation,
                        .pid = o->pid,
                        .identifier = o->identifier,
                        .is_stderr = o->is_stderr,
                };

                r = output_reader_add(&m->programs.output, o->fd, &src);
                if (r < 0)
                        log_warning_errno(r, "%s[slot %u]: cannot read the output of worker %d any more: %s",
                                          o->service, o->slot, (int) o->pid, STRERROR(r));
        }
        programs_probe_soon(&m->programs);
}

static void master_op_changed(void *userdata, bool ready) {
        Master *m = userdata;

        /* An upgrade that ended may leave listeners the new generation
         * dropped, as a reload does. */
        if (ready)
                master_prune_listeners(m);
        master_send_status(m, ready);
        master_sync(m);
}

const UpgradeOps master_upgrade_ops = {
        .capture = master_op_capture,
        .changed = master_op_changed,
};

int master_listener_store(void *userdata, int fd, const char *name, bool remove) {
        Master *m = userdata;
        char message[FDSTORE_NAME_MAX + 64];

        (void) snprintf(message, sizeof message, "%s\nFDNAME=%s", remove ? "FDSTOREREMOVE=1" : "FDSTORE=1", name);
        if (remove)
                return notifier_send(m->notifier, message, NULL);
        return notifier_send_fd(m->notifier, message, NULL, fd);
}

/* Takes the state over: the listeners, the supervisor with every running
 * worker, the counters. On failure *ret_why says why, and m holds part of
 * the state's fds, which it must not close: the caller hands the state
 * back or exits, without master_done(). */
static int master_take_state(Master *m, const MasterState *st, char **ret_why) {
        int r;

        m->ready_fd = st->ready_fd;
        m->ready_worker_fd = st->ready_worker_fd;
        r = master_setup_event(m);
        if (r >= 0)
                r = supervisor_new(&master_ops, m, &m->supervisor);
        if (r >= 0)
                r = agent_set_new(m->event, m->supervisor, &m->agents);
        if (r < 0)
                return asprintf(ret_why, "cannot set up the event loop: %s", STRERROR(r)) < 0 ? -ENOMEM : r;
        programs_init(&m->programs, m->event, m->supervisor, master_on_programs_changed, m);
        r = upgrade_take_over(st, m->supervisor, &m->listeners, m->event, master_on_child, m, ret_why);
        if (r < 0)
                return r;
        log_set_max_level(master_current_config(m)->log_level);
        master_take_programs(m, st);

        /* The metrics endpoint is bound anew (its socket does not cross
         * the exec): a scrape in the moment of the exec is refused. The
         * control socket and the agent check sockets came with the state. */
        for (size_t i = 0; i < st->n_fds; i++) {
                const char *name = st->fds[i].name;

                if (st->fds[i].fd < 0)
                        continue;
                if (strncmp(name, CONTROL_FD_PREFIX, strlen(CONTROL_FD_PREFIX)) == 0 && !m->control_adopt_path) {
                        m->control_adopt_path = strdup(name + strlen(CONTROL_FD_PREFIX));
                        if (!m->control_adopt_path)
                                return -ENOMEM;
                        m->control_adopt_fd = st->fds[i].fd;
                } else if (strncmp(name, CONTROL_LOCK_FD_PREFIX, strlen(CONTROL_LOCK_FD_PREFIX)) == 0)
                        m->control_adopt_lock_fd = st->fds[i].fd;
        }
        if (m->control_adopt_fd < 0 || m->control_adopt_lock_fd < 0) {
                /* Half a pair is no use: bound anew. */
                m->control_adopt_fd = safe_close(m->control_adopt_fd);
                m->control_adopt_lock_fd = safe_close(m->control_adopt_lock_fd);
                m->control_adopt_path = mfree(m->control_adopt_path);
        }
        for (size_t i = 0; i < st->n_fds; i++)
                if (strncmp(st->fds[i].name, AGENT_FD_PREFIX, strlen(AGENT_FD_PREFIX)) == 0 && st->fds[i].fd >= 0) {
                        r = agent_set_adopt(m->agents, st->fds[i].name + strlen(AGENT_FD_PREFIX), st->fds[i].fd);
                        if (r < 0)
                                return asprintf(ret_why, "cannot take the agent check sockets over: %s",
                                                STRERROR(r)) < 0
                                               ? -ENOMEM
                                               : r;
                }
        r = master_setup_observability(m, master_current_config(m));
        if (r < 0)
                return asprintf(ret_why, "cannot set up the control socket or metrics: %s", STRERROR(r)) < 0
                                       ? -ENOMEM
                                       : r;
        (void) agent_set_open(m->agents, master_current_config(m));

        m->view.start_realtime_usec = st->start_realtime_usec;
        memcpy(m->view.reloads, st->reloads_by_outcome, sizeof m->view.reloads);
        m->n_reloads = st->n_reloads;
        if (st->last_reload >= 0)
                m->last_reload = (ReloadOutcome) st->last_reload;
        m->reload_queued = st->reload_queued;
        return 0;
}

int master_resume(const char *config_path, int state_fd, int rollback_fd) {
        _cleanup_(master_state_freep) MasterState *st = NULL;
        _cleanup_free_ char *why = NULL;
        Master m = {
                .ready_fd = -EBADF,
                .ready_worker_fd = -EBADF,
                .control_adopt_fd = -EBADF,
                .control_adopt_lock_fd = -EBADF,
                .config_path = config_path,
                .programs = { .notify_fd = -EBADF },
        };
        int r;

        /* Executed through an fd (the way back), a kernel before 6.14 names
         * the process after the fd's number: ps, top and pgrep would no
         * longer find it by name. */
        (void) prctl(PR_SET_NAME, program_invocation_short_name, 0, 0, 0);
        r = rlimit_nofile_raise();
        if (r < 0)
                log_warning_errno(r, "Cannot raise the file descriptor limit: %s", STRERROR(r));
        if (test_fault("deserialize-crash"))
                abort();
        r = upgrade_read_state(state_fd, &st, &why);
        if (r >= 0 && rollback_fd >= 0 && test_fault("deserialize-fail")) {
                why = strdup("test fault deserialize-fail");
                r = -EINVAL;
        }
        if (r >= 0)
                r = master_take_state(&m, st, &why);
        if (r < 0) {
                if (!why)
                        why = strdup(STRERROR(r));
                if (rollback_fd >= 0) {
                        r = upgrade_hand_back(rollback_fd, state_fd, config_path, why ? why : "out of memory");
                        log_error_errno(r, "Cannot go back to the old binary: %s", STRERROR(r));
                }
                log_error("Cannot resume from the state handed over: %s", why ? why : "out of memory");
                return EX_SOFTWARE;
        }
        safe_close(state_fd);

        upgrader_resume(m.upgrader, st, rollback_fd);
        if (upgrader_starting(m.upgrader))
                master_load_config(&m);
        else {
                /* Back from a failed upgrade: listeners that only the new
                 * binary's generation used go, as after a refused reload. */
                master_prune_listeners(&m);
                master_send_status(&m, true);
        }
        r = master_loop(&m);
        master_done(&m);
        return r;
}
