/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/wait.h>

#include "fd-util.h"
#include "generation.h"
#include "log.h"
#include "state-live.h"
#include "upgrade.h"

/* Watches a worker that an earlier process image of the master started:
 * still a child of this process, so its pidfd reports its exit here, also
 * one that exited while the exec was under way (a zombie until reaped). */
static int upgrade_watch(Slot *s, sd_event *e, sd_event_child_handler_t on_child, void *userdata) {
        sd_event_source *watch = NULL;
        int fd, r;

        if (!slot_has_process(s))
                return 0;
        fd = pidfd_open(s->pid, 0);
        if (fd < 0)
                return negative_errno();
        r = sd_event_add_child_pidfd(e, &watch, fd, WEXITED, on_child, userdata);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        (void) sd_event_source_set_child_pidfd_own(watch, true);
        s->watch = watch;
        return 0;
}

static int upgrade_watch_all(Supervisor *s, sd_event *e, sd_event_child_handler_t on_child, void *userdata) {
        int r = 0;

        for (size_t i = 0; r >= 0 && i < s->n_services; i++)
                r = upgrade_watch(&s->services[i]->front, e, on_child, userdata);
        GENERATION_FOREACH_SLOT(s->current, p, slot)
                if (r >= 0)
                        r = upgrade_watch(slot, e, on_child, userdata);
        for (Generation *g = s->retiring; g; g = g->next)
                GENERATION_FOREACH_SLOT(g, p, slot)
                        if (r >= 0)
                                r = upgrade_watch(slot, e, on_child, userdata);
        return r;
}

int upgrade_take_over(const MasterState *st, Supervisor *s, ListenerSet *set, sd_event *e,
                      sd_event_child_handler_t on_child, void *userdata, char **ret_why) {
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ int *fds = NULL;
        const char *snapshot = NULL;
        Config *current = NULL;
        size_t n;
        int r;

        assert(st);
        assert(s);
        assert(set);
        assert(ret_why);

        for (size_t i = 0; i < st->n_generations; i++)
                if (st->generations[i].current)
                        snapshot = st->generations[i].config;
        assert(snapshot);
        r = config_load_snapshot(st->config_path, snapshot, &current, &errors);
        if (r < 0)
                return asprintf(ret_why, "cannot rebuild the running configuration from its snapshot: %s",
                                errors && errors[0] ? errors[0] : STRERROR(r)) < 0 ? -ENOMEM : r;
        r = state_live_restore(st, current, s, set, ret_why);
        if (r < 0)
                return r;
        r = upgrade_watch_all(s, e, on_child, userdata);
        if (r < 0)
                return asprintf(ret_why, "cannot watch the running workers: %s", STRERROR(r)) < 0 ? -ENOMEM : r;

        /* Everything the state named is this image's now: none of it may
         * leak into what it executes next (a check, or the next upgrade's
         * binary, which gets a state of its own). */
        r = master_state_fds(st, &fds, &n);
        if (r < 0)
                return asprintf(ret_why, "out of memory") < 0 ? -ENOMEM : r;
        for (size_t i = 0; i < n; i++)
                (void) fd_set_cloexec(fds[i], true);
        return 0;
}
