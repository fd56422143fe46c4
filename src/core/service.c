/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <string.h>

#include "config.h"
#include "park.h"
#include "service.h"

/* Every worker of the service has its own entry, and during a reload two
 * generations (and any still retiring) are alive at once. Entries are
 * 64 bytes and untouched pages cost nothing, so room for the largest pool
 * twice over plus stragglers is cheap. */
#define SCOREBOARD_CAPACITY (3 * 4096)

int service_new_adopted(const char *name, Scoreboard *b, Service **ret) {
        Service *s;

        assert(name);
        assert(b);
        assert(ret);

        s = calloc(1, sizeof(Service));
        if (!s)
                return -ENOMEM;
        s->n_refs = 1;
        s->park_fds[0] = s->park_fds[1] = -EBADF;
        s->front = (Slot) { .service = s, .state = SLOT_DEAD };
        s->front_kill_usec = UINT64_MAX;
        s->name = strdup(name);
        if (!s->name) {
                free(s);
                return -ENOMEM;
        }
        s->scoreboard = b;
        *ret = s;
        return 0;
}

int service_new(const char *name, Service **ret) {
        Scoreboard *b;
        int r;

        assert(name);
        assert(ret);

        r = scoreboard_new(SCOREBOARD_CAPACITY, &b);
        if (r < 0)
                return r;
        r = service_new_adopted(name, b, ret);
        if (r < 0)
                scoreboard_free(b);
        return r;
}

Service *service_ref(Service *s) {
        assert(s);
        s->n_refs++;
        return s;
}

Service *service_unref(Service *s) {
        if (!s)
                return NULL;
        assert(s->n_refs > 0);
        if (--s->n_refs > 0)
                return NULL;
        scoreboard_free(s->scoreboard);
        safe_close(s->park_fds[0]);
        safe_close(s->park_fds[1]);
        free(s->name);
        free(s);
        return NULL;
}

void service_account_exit(Service *s, const WorkerScore *score) {
        assert(s);
        if (!score)
                return;
        s->connections_done += atomic_load(&score->connections);
        s->requests_done += atomic_load(&score->requests);
        s->bytes_in_done += atomic_load(&score->bytes_in);
        s->bytes_out_done += atomic_load(&score->bytes_out);
}

int service_open_park(Service *s) {
        assert(s);
        if (s->park_fds[0] >= 0)
                return 0;
        return park_socketpair(s->park_fds);
}
