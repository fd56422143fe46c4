/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "generation.h"
#include "listening-probe.h"
#include "log.h"
#include "notify-listen.h"
#include "programs.h"
#include "time-util.h"

/* How often a starting "listening" worker is looked at. */
#define PROBE_INTERVAL_USEC (20 * USEC_PER_MSEC)
/* Notifications read per event loop iteration: a program that floods the
 * socket cannot hold the loop. */
#define NOTIFY_BUDGET 64

void programs_init(Programs *p, sd_event *e, Supervisor *supervisor, void (*changed)(void *userdata),
                   void *userdata) {
        assert(p);
        *p = (Programs) {
                .event = e,
                .supervisor = supervisor,
                .changed = changed,
                .userdata = userdata,
                .notify_fd = -EBADF,
                .output = { .event = e },
        };
}

void programs_done(Programs *p) {
        output_set_done(&p->output);
        p->notify_source = sd_event_source_disable_unref(p->notify_source);
        p->probe_timer = sd_event_source_disable_unref(p->probe_timer);
        p->notify_fd = safe_close(p->notify_fd);
}

/* The slot a notification from pid speaks for: the worker pid itself, or
 * the worker that leads pid's process group (a program's own children,
 * such as gunicorn's workers, speak for it). */
static Slot *programs_sender_slot(Programs *p, pid_t pid) {
        Slot *slot = supervisor_find_slot(p->supervisor, pid);
        pid_t pgid;

        if (slot)
                return slot->pool ? slot : NULL;
        pgid = getpgid(pid);
        if (pgid <= 0)
                return NULL;
        slot = supervisor_find_slot(p->supervisor, pgid);
        return slot && slot->pool && slot->pool->svc->policy.own_process_group ? slot : NULL;
}

static void programs_on_message(Programs *p, const char *buf, size_t len, pid_t pid) {
        Slot *slot = programs_sender_slot(p, pid);
        uint64_t now = now_usec();
        NotifyMessage m;
        char label[128];

        if (!slot) {
                log_debug("Ignoring a notification from pid %d: no worker of ours", (int) pid);
                return;
        }
        (void) slot_label(slot, label, sizeof label);
        if (notify_message_parse(buf, len, &m) < 0) {
                log_debug("%s: ignoring a malformed notification from pid %d", label, (int) pid);
                return;
        }
        if (m.status)
                (void) supervisor_worker_status(p->supervisor, slot->pid, m.status, m.status_len);
        /* Only a worker that is to report this way: READY=1 from a program
         * declared "immediate" or "listening" changes nothing. */
        if (m.ready && slot->pool->svc->policy.ready == WORKER_READY_NOTIFY) {
                log_debug("%s: worker %d sent READY=1", label, (int) slot->pid);
                supervisor_worker_ready(p->supervisor, slot->pid, slot_generation(slot), slot->index, now);
        }
        if (m.watchdog || m.watchdog_trigger)
                supervisor_worker_watchdog(p->supervisor, slot->pid, m.watchdog_trigger, now);
}

static int programs_on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Programs *p = userdata;
        char buf[NOTIFY_MESSAGE_MAX + 1];

        for (unsigned i = 0; i < NOTIFY_BUDGET; i++) {
                size_t len;
                pid_t pid;
                int r = notify_listen_receive(fd, buf, sizeof buf, &len, &pid);

                if (r < 0)
                        log_warning_errno(r, "Cannot read the workers' notifications: %s", STRERROR(r));
                if (r <= 0)
                        break;
                programs_on_message(p, buf, len, pid);
        }
        p->changed(p->userdata);
        return 0;
}

/* The notification socket is made when the first program is started, so a
 * master without one holds no socket. */
static int programs_open_notify(Programs *p) {
        int r;

        if (p->notify_fd >= 0)
                return 0;
        r = notify_listen_open(&p->notify_fd, p->notify_address, sizeof p->notify_address);
        if (r < 0)
                return log_error_errno(r, "Cannot create the workers' notification socket: %s", STRERROR(r));
        r = sd_event_add_io(p->event, &p->notify_source, p->notify_fd, EPOLLIN, programs_on_notify, p);
        if (r < 0) {
                p->notify_fd = safe_close(p->notify_fd);
                return log_error_errno(r, "Cannot watch the workers' notification socket: %s", STRERROR(r));
        }
        /* Like the readiness socket: a READY=1 is read before the exit of
         * the same iteration. */
        (void) sd_event_source_set_priority(p->notify_source, SD_EVENT_PRIORITY_IMPORTANT);
        log_debug("Workers notify on %s", p->notify_address);
        return 0;
}

int programs_adopt_notify(Programs *p, int fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        socklen_t len = sizeof sa;
        size_t name_len;
        int r;

        assert(p);
        assert(p->notify_fd < 0);

        if (getsockname(fd, (struct sockaddr *) &sa, &len) < 0) {
                r = negative_errno();
                safe_close(fd);
                return r;
        }
        name_len = len > offsetof(struct sockaddr_un, sun_path) + 1 ? len - offsetof(struct sockaddr_un, sun_path) - 1 : 0;
        if (name_len == 0 || sa.sun_path[0] != '\0' || name_len + 2 > sizeof p->notify_address ||
            memchr(sa.sun_path + 1, '\0', name_len)) {
                safe_close(fd);
                return -EADDRNOTAVAIL;
        }
        p->notify_address[0] = '@';
        memcpy(p->notify_address + 1, sa.sun_path + 1, name_len);
        p->notify_address[name_len + 1] = '\0';
        p->notify_fd = fd;
        r = sd_event_add_io(p->event, &p->notify_source, p->notify_fd, EPOLLIN, programs_on_notify, p);
        if (r < 0) {
                p->notify_fd = safe_close(p->notify_fd);
                return r;
        }
        (void) sd_event_source_set_priority(p->notify_source, SD_EVENT_PRIORITY_IMPORTANT);
        log_debug("Workers notify on %s (taken over)", p->notify_address);
        return 0;
}

int programs_prepare_spawn(Programs *p, const Slot *slot, WorkerSpawn *sp, int ret_read_fds[2]) {
        const WorkerPolicy *policy = slot->pool ? &slot->pool->svc->policy : NULL;
        int r;

        ret_read_fds[0] = ret_read_fds[1] = -EBADF;
        sp->output_fds[0] = sp->output_fds[1] = -EBADF;
        sp->notify_socket = NULL;
        if (!policy)
                return 0;
        if (policy->ready != WORKER_READY_ACCEPT_LOOP) {
                r = programs_open_notify(p);
                if (r < 0)
                        return r;
                sp->notify_socket = p->notify_address;
        }
        for (size_t i = 0; i < 2; i++) {
                int fds[2];

                if (policy->output[i] != WORKER_OUTPUT_JOURNAL)
                        continue;
                if (pipe2(fds, O_CLOEXEC) < 0) {
                        r = negative_errno();
                        for (size_t j = 0; j < i; j++) {
                                ret_read_fds[j] = safe_close(ret_read_fds[j]);
                                sp->output_fds[j] = safe_close(sp->output_fds[j]);
                        }
                        return log_error_errno(r, "Cannot create an output pipe: %s", STRERROR(r));
                }
                ret_read_fds[i] = fds[0];
                sp->output_fds[i] = fds[1];
        }
        return 0;
}

void programs_spawned(Programs *p, const Slot *slot, WorkerSpawn *sp, pid_t pid, int read_fds[2]) {
        for (size_t i = 0; i < 2; i++) {
                OutputSource src = {
                        .service = slot->service->name,
                        .slot = slot->index,
                        .generation = slot_generation(slot),
                        .pid = pid,
                        .identifier = slot->pool ? slot->pool->svc->policy.identifier : "",
                        .is_stderr = i == 1,
                };
                int r;

                /* The child has its copy; with ours closed, the pipe ends
                 * when the last process holding it does. */
                sp->output_fds[i] = safe_close(sp->output_fds[i]);
                if (read_fds[i] < 0)
                        continue;
                if (pid <= 0) {
                        read_fds[i] = safe_close(read_fds[i]);
                        continue;
                }
                r = output_reader_add(&p->output, TAKE_FD(read_fds[i]), &src);
                if (r < 0)
                        log_warning_errno(r, "%s[slot %u]: cannot read the output of worker %d, it is lost: %s",
                                          slot->service->name, slot->index, (int) pid, STRERROR(r));
        }
        if (pid > 0 && slot->pool && slot->pool->svc->policy.ready == WORKER_READY_LISTENING)
                programs_probe_soon(p);
}

void programs_exited(Programs *p, const Slot *slot, pid_t pid, char *tail, size_t size) {
        output_set_flush_pid(&p->output, pid, tail, size);
        /* What the worker started dies with it: nothing may go on holding
         * the service's listeners, or serve, without its supervisor. The
         * group's number stays taken while any member lives, so this
         * cannot hit a stranger. */
        if (slot && slot->pool && slot->pool->svc->policy.own_process_group)
                (void) kill(-pid, SIGKILL);
}

/* The socket inodes of a pool's listeners, for the probe. */
static size_t pool_listener_inodes(const Pool *pool, ino_t *ret, size_t max) {
        size_t n = 0;

        for (size_t i = 0; i < pool->n_listen_fds && n < max; i++) {
                struct stat st;
                if (fstat(pool->listen_fds[i], &st) >= 0)
                        ret[n++] = st.st_ino;
        }
        return n;
}

static bool probe_generation(Programs *p, Generation *g, uint64_t now) {
        bool waiting = false;

        if (!g)
                return false;
        GENERATION_FOREACH_SLOT(g, pool, slot) {
                ino_t inodes[64];
                size_t n;

                if (slot->state != SLOT_STARTING || pool->svc->policy.ready != WORKER_READY_LISTENING)
                        continue;
                n = pool_listener_inodes(pool, inodes, ELEMENTSOF(inodes));
                if (listening_probe(slot->pid, inodes, n) > 0) {
                        log_debug("%s[slot %u]: worker %d waits for connections", pool->svc->name, slot->index,
                                  (int) slot->pid);
                        supervisor_worker_ready(p->supervisor, slot->pid, g->number, slot->index, now);
                        /* That may have moved g (a reload applied): look
                         * at the rest on the next round. */
                        return true;
                }
                waiting = true;
        }
        return waiting;
}

static int programs_on_probe(sd_event_source *s, uint64_t usec, void *userdata) {
        Programs *p = userdata;
        uint64_t now = now_usec();
        bool waiting;

        /* Each may change the supervisor's generations: look them up anew. */
        waiting = probe_generation(p, p->supervisor->current, now);
        waiting = probe_generation(p, p->supervisor->pending, now) || waiting;
        if (waiting) {
                (void) sd_event_source_set_time_relative(s, PROBE_INTERVAL_USEC);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        p->changed(p->userdata);
        return 0;
}

void programs_probe_soon(Programs *p) {
        if (!p->probe_timer) {
                if (sd_event_add_time_relative(p->event, &p->probe_timer, CLOCK_MONOTONIC, PROBE_INTERVAL_USEC,
                                               PROBE_INTERVAL_USEC / 4, programs_on_probe, p) < 0) {
                        log_warning("Cannot arm the listening probe: workers with ready = \"listening\" will "
                                    "time out");
                        return;
                }
        } else if (sd_event_source_get_enabled(p->probe_timer, NULL) > 0)
                return;
        else
                (void) sd_event_source_set_time_relative(p->probe_timer, PROBE_INTERVAL_USEC);
        (void) sd_event_source_set_enabled(p->probe_timer, SD_EVENT_ONESHOT);
}
