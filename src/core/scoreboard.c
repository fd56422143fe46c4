/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "scoreboard.h"
#include "time-util.h"

static const char *const worker_state_table[_WORKER_STATE_MAX] = {
        [WORKER_STARTING] = "starting",
        [WORKER_IDLE] = "idle",
        [WORKER_BUSY] = "busy",
        [WORKER_READING] = "reading",
        [WORKER_WRITING] = "writing",
        [WORKER_KEEPALIVE] = "keepalive",
        [WORKER_EXITING] = "exiting",
};

const char *worker_state_to_string(WorkerState s) {
        if (s < 0 || s >= _WORKER_STATE_MAX)
                return NULL;
        return worker_state_table[s];
}

/* The entries follow the ServiceScore in one mapping. */
_Static_assert(sizeof(ServiceScore) % _Alignof(WorkerScore) == 0, "scoreboard entries would be misaligned");

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
        assert((uintptr_t) b->scores % _Alignof(WorkerScore) == 0);
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
                atomic_store(&s->state_since_usec, now_usec());
                atomic_store(&s->connections, 0);
                atomic_store(&s->requests, 0);
                atomic_store(&s->bytes_in, 0);
                atomic_store(&s->bytes_out, 0);
                atomic_store(&s->last_status, 0);
                atomic_store(&s->wakeups, 0);
                atomic_store(&s->spurious_wakeups, 0);
                atomic_store(&s->recycle, 0);
                /* The worker is not forked yet: nobody reads or writes the
                 * guarded part now. */
                atomic_store(&s->seq, 0);
                s->busy_since_usec = 0;
                s->peer.sa.sa_family = AF_UNSPEC;
                s->request_len = 0;
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

void score_set_state(WorkerScore *s, WorkerState state) {
        if (!s)
                return;
        assert(state >= 0 && state < _WORKER_STATE_MAX);
        /* since first: a reader that sees the new state sees at worst a
         * since a moment too new, never the old state's age. */
        atomic_store_explicit(&s->state_since_usec, now_usec(), memory_order_relaxed);
        atomic_store_explicit(&s->state, state, memory_order_release);
}

/* The sequence counter's write side. The release fence after making seq
 * odd keeps the guarded writes from moving above it; the release store
 * that makes it even keeps them from moving below. Only the owning worker
 * writes, so a plain load of seq is its own last value. */
static void score_write_begin(WorkerScore *s) {
        unsigned q = atomic_load_explicit(&s->seq, memory_order_relaxed);

        atomic_store_explicit(&s->seq, q + 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
}

static void score_write_end(WorkerScore *s) {
        unsigned q = atomic_load_explicit(&s->seq, memory_order_relaxed);

        atomic_store_explicit(&s->seq, q + 1, memory_order_release);
}

void score_begin_connection(WorkerScore *s, const struct sockaddr *peer, socklen_t peer_len) {
        if (!s)
                return;
        score_write_begin(s);
        s->busy_since_usec = now_usec();
        if (peer && peer_len > 0 && (size_t) peer_len <= sizeof s->peer &&
            IN_SET(peer->sa_family, AF_INET, AF_INET6))
                memcpy(&s->peer, peer, peer_len);
        else
                s->peer.sa.sa_family = peer ? peer->sa_family : AF_UNSPEC;
        s->request_len = 0;
        score_write_end(s);
}

void score_begin_request(WorkerScore *s, const char *line, size_t n) {
        if (!s)
                return;
        assert(line || n == 0);
        n = MIN(n, (size_t) SCORE_REQUEST_MAX);
        score_write_begin(s);
        s->busy_since_usec = now_usec();
        memcpy(s->request, line, n);
        s->request_len = (uint16_t) n;
        score_write_end(s);
}

void score_begin_work(WorkerScore *s) {
        if (!s)
                return;
        score_write_begin(s);
        s->busy_since_usec = now_usec();
        score_write_end(s);
}

void score_end_request(WorkerScore *s, int status, uint64_t bytes_out) {
        if (!s)
                return;
        atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->bytes_out, bytes_out, memory_order_relaxed);
        atomic_store_explicit(&s->last_status, status, memory_order_relaxed);
}

void score_end_work(WorkerScore *s) {
        if (!s)
                return;
        score_write_begin(s);
        s->busy_since_usec = 0;
        score_write_end(s);
}

void score_add_bytes(WorkerScore *s, uint64_t in, uint64_t out) {
        if (!s)
                return;
        if (in > 0)
                atomic_fetch_add_explicit(&s->bytes_in, in, memory_order_relaxed);
        if (out > 0)
                atomic_fetch_add_explicit(&s->bytes_out, out, memory_order_relaxed);
}

/* A reader copies the guarded part between two reads of seq: the acquire
 * load keeps the copy from moving above the first read, the acquire fence
 * keeps it from moving below the second. An odd or changed seq means a
 * write overlapped: try again, a bounded number of times (the writer holds
 * seq odd for a few stores, so one retry nearly always does). */
#define SNAPSHOT_TRIES 1000

int score_snapshot(const WorkerScore *s, WorkerSnapshot *ret) {
        assert(s);
        assert(ret);

        for (unsigned i = 0; i < SNAPSHOT_TRIES; i++) {
                WorkerSnapshot w = { .state = WORKER_IDLE };
                unsigned q1, q2;
                size_t n;

                q1 = atomic_load_explicit(&s->seq, memory_order_acquire);
                if (q1 & 1U)
                        continue;
                w.busy_since_usec = s->busy_since_usec;
                memcpy(&w.peer, &s->peer, sizeof w.peer);
                n = MIN((size_t) s->request_len, (size_t) SCORE_REQUEST_MAX);
                memcpy(w.request, s->request, n);
                atomic_thread_fence(memory_order_acquire);
                q2 = atomic_load_explicit(&s->seq, memory_order_relaxed);
                if (q1 != q2)
                        continue;
                w.request[n] = 0;
                w.state = atomic_load_explicit(&s->state, memory_order_acquire);
                if (w.state < 0 || w.state >= _WORKER_STATE_MAX)
                        w.state = WORKER_EXITING;
                w.pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
                w.generation = atomic_load_explicit(&s->generation, memory_order_relaxed);
                w.slot = atomic_load_explicit(&s->slot, memory_order_relaxed);
                w.state_since_usec = atomic_load_explicit(&s->state_since_usec, memory_order_relaxed);
                w.connections = atomic_load_explicit(&s->connections, memory_order_relaxed);
                w.requests = atomic_load_explicit(&s->requests, memory_order_relaxed);
                w.bytes_in = atomic_load_explicit(&s->bytes_in, memory_order_relaxed);
                w.bytes_out = atomic_load_explicit(&s->bytes_out, memory_order_relaxed);
                w.last_status = atomic_load_explicit(&s->last_status, memory_order_relaxed);
                *ret = w;
                return 0;
        }
        return -EBUSY;
}

void score_peer_format(const ScorePeer *p, char *buf, size_t size) {
        char a[INET6_ADDRSTRLEN];

        assert(p);
        assert(buf);
        assert(size > 0);

        switch (p->sa.sa_family) {
        case AF_INET:
                if (inet_ntop(AF_INET, &p->in.sin_addr, a, sizeof a))
                        (void) snprintf(buf, size, "%s:%u", a, ntohs(p->in.sin_port));
                else
                        (void) snprintf(buf, size, "-");
                return;
        case AF_INET6:
                if (inet_ntop(AF_INET6, &p->in6.sin6_addr, a, sizeof a))
                        (void) snprintf(buf, size, "[%s]:%u", a, ntohs(p->in6.sin6_port));
                else
                        (void) snprintf(buf, size, "-");
                return;
        case AF_UNIX:
                (void) snprintf(buf, size, "unix");
                return;
        default:
                (void) snprintf(buf, size, "-");
                return;
        }
}
