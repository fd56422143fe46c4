/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "scoreboard.h"

static int scoreboard_map(int fd, size_t capacity, Scoreboard **ret) {
        _cleanup_(scoreboard_freep) Scoreboard *b = NULL;
        void *map;

        b = calloc(1, sizeof(Scoreboard));
        if (!b)
                return -ENOMEM;
        b->fd = -EBADF;
        b->used = calloc(capacity, sizeof(bool));
        if (!b->used)
                return -ENOMEM;
        /* MAP_NORESERVE: a large capacity costs address space only; a page
         * becomes memory when an entry on it is first used (the memfd is
         * sparse until then). */
        b->map_size = sizeof(ServiceScore) + capacity * sizeof(WorkerScore);
        map = mmap(NULL, b->map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
        if (map == MAP_FAILED)
                return negative_errno();
        b->service = map;
        b->scores = (WorkerScore *) (b->service + 1);
        b->capacity = capacity;
        b->fd = fd;
        *ret = TAKE_PTR(b);
        return 0;
}

int scoreboard_new(size_t capacity, Scoreboard **ret) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        assert(capacity > 0);
        assert(ret);

        fd = memfd_create("preforkd-scoreboard", MFD_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (ftruncate(fd, (off_t) (sizeof(ServiceScore) + capacity * sizeof(WorkerScore))) < 0)
                return negative_errno();
        r = scoreboard_map(fd, capacity, ret);
        if (r >= 0)
                TAKE_FD(fd);
        return r;
}

int scoreboard_adopt(int fd, size_t capacity, Scoreboard **ret) {
        struct stat st;

        assert(fd >= 0);
        assert(capacity > 0);
        assert(ret);

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size < sizeof(ServiceScore) + capacity * sizeof(WorkerScore))
                return -EBADMSG;
        return scoreboard_map(fd, capacity, ret);
}

int scoreboard_take(Scoreboard *b, size_t index, WorkerScore **ret) {
        assert(b);
        assert(ret);

        if (index >= b->capacity)
                return -ERANGE;
        if (b->used[index])
                return -EBUSY;
        b->used[index] = true;
        *ret = &b->scores[index];
        return 0;
}

size_t scoreboard_index(const Scoreboard *b, const WorkerScore *s) {
        assert(s >= b->scores && s < b->scores + b->capacity);
        return (size_t) (s - b->scores);
}

Scoreboard *scoreboard_free(Scoreboard *b) {
        if (!b)
                return NULL;
        if (b->service)
                (void) munmap(b->service, b->map_size);
        safe_close(b->fd);
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
