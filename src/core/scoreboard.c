/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <string.h>
#include <sys/mman.h>

#include "scoreboard.h"

int scoreboard_new(size_t capacity, Scoreboard **ret) {
        _cleanup_(scoreboard_freep) Scoreboard *b = NULL;
        void *map;

        assert(capacity > 0);
        assert(ret);

        b = calloc(1, sizeof(Scoreboard));
        if (!b)
                return -ENOMEM;
        b->used = calloc(capacity, sizeof(bool));
        if (!b->used)
                return -ENOMEM;
        /* MAP_NORESERVE: a large capacity costs address space only; a page
         * becomes memory when an entry on it is first used. */
        b->map_size = sizeof(ServiceScore) + capacity * sizeof(WorkerScore);
        map = mmap(NULL, b->map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (map == MAP_FAILED)
                return negative_errno();
        b->service = map;
        b->scores = (WorkerScore *) (b->service + 1);
        b->capacity = capacity;
        *ret = TAKE_PTR(b);
        return 0;
}

Scoreboard *scoreboard_free(Scoreboard *b) {
        if (!b)
                return NULL;
        if (b->service)
                (void) munmap(b->service, b->map_size);
        free(b->used);
        free(b);
        return NULL;
}

int scoreboard_acquire(Scoreboard *b, unsigned generation, unsigned slot, WorkerScore **ret) {
        assert(b);
        assert(ret);

        /* Lowest free entry first, so that the pages in use stay few. */
        for (size_t i = 0; i < b->capacity; i++) {
                WorkerScore *s = &b->scores[i];

                if (b->used[i])
                        continue;
                b->used[i] = true;
                atomic_store(&s->state, WORKER_STARTING);
                atomic_store(&s->pid, 0);
                atomic_store(&s->generation, generation);
                atomic_store(&s->slot, slot);
                atomic_store(&s->connections, 0);
                atomic_store(&s->wakeups, 0);
                atomic_store(&s->spurious_wakeups, 0);
                *ret = s;
                return 0;
        }
        return -ENOSPC;
}

void scoreboard_release(Scoreboard *b, WorkerScore *s) {
        if (!b || !s)
                return;
        assert(s >= b->scores && s < b->scores + b->capacity);
        b->used[s - b->scores] = false;
}
