/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <inttypes.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sysexits.h>

#include "frontstage.h"
#include "handler.h"
#include "log.h"
#include "park.h"
#include "proxy-read.h"
#include "time-util.h"
#include "worker.h"

/* One connection held by the front stage. Small on purpose: thousands of
 * idle keep-alive connections are what it is for. The gathered bytes are
 * allocated only once the client sends some. */
typedef struct Held {
        int fd;
        int file_fd;                  /* SENDING: the file being sent */
        size_t heap_index;            /* SIZE_MAX: not in the deadline heap */
        struct Held *next_ready;      /* in the queue of connections waiting to be handed back */
        char *buf;                    /* st.n_bytes gathered, room for st.gather_max */
        ParkState st;
} Held;

typedef struct FrontStage {
        const WorkerSpawn *sp;
        const HandlerVTable *handler;
        ServiceScore *score;
        int epfd;
        int channel;
        Held **heap;                  /* a binary min-heap by st.deadline_usec */
        size_t n_heap, heap_size;
        Held *ready_head, *ready_tail; /* handed back, but the channel was full */
        uint64_t n_held, n_kind[_PARK_KIND_MAX];
        bool stopping;                /* a graceful stop: finish, hand back, close */
        bool channel_gone;            /* the workers' end of the channel is closed: stop */
        char *bytes;                  /* PARK_BYTES_MAX: what a parked connection brings */
} FrontStage;

static void heap_swap(FrontStage *f, size_t a, size_t b) {
        Held *t = f->heap[a];

        f->heap[a] = f->heap[b];
        f->heap[b] = t;
        f->heap[a]->heap_index = a;
        f->heap[b]->heap_index = b;
}

static void heap_up(FrontStage *f, size_t i) {
        while (i > 0 && f->heap[(i - 1) / 2]->st.deadline_usec > f->heap[i]->st.deadline_usec) {
                heap_swap(f, i, (i - 1) / 2);
                i = (i - 1) / 2;
        }
}

static void heap_down(FrontStage *f, size_t i) {
        for (;;) {
                size_t l = 2 * i + 1, r = l + 1, m = i;

                if (l < f->n_heap && f->heap[l]->st.deadline_usec < f->heap[m]->st.deadline_usec)
                        m = l;
                if (r < f->n_heap && f->heap[r]->st.deadline_usec < f->heap[m]->st.deadline_usec)
                        m = r;
                if (m == i)
                        return;
                heap_swap(f, i, m);
                i = m;
        }
}

static int heap_push(FrontStage *f, Held *h) {
        if (f->n_heap == f->heap_size) {
                size_t n = f->heap_size ? f->heap_size * 2 : 256;
                Held **p = realloc(f->heap, n * sizeof(Held *));
                if (!p)
                        return -ENOMEM;
                f->heap = p;
                f->heap_size = n;
        }
        h->heap_index = f->n_heap;
        f->heap[f->n_heap++] = h;
        heap_up(f, h->heap_index);
        return 0;
}

static void heap_remove(FrontStage *f, Held *h) {
        size_t i = h->heap_index;

        if (i == SIZE_MAX)
                return;
        heap_swap(f, i, f->n_heap - 1);
        f->n_heap--;
        h->heap_index = SIZE_MAX;
        if (i < f->n_heap) {
                heap_up(f, i);
                heap_down(f, i);
        }
}

static void frontstage_publish(FrontStage *f) {
        atomic_store_explicit(&f->score->parked, f->n_held, memory_order_relaxed);
        atomic_store_explicit(&f->score->parked_idle, f->n_kind[PARK_IDLE], memory_order_relaxed);
        atomic_store_explicit(&f->score->parked_head, f->n_kind[PARK_HEAD], memory_order_relaxed);
        atomic_store_explicit(&f->score->parked_sending, f->n_kind[PARK_SENDING], memory_order_relaxed);
}

static void held_count(FrontStage *f, const Held *h, int delta) {
        f->n_held += (uint64_t) (int64_t) delta;
        f->n_kind[h->st.kind] += (uint64_t) (int64_t) delta;
}

/* What epoll waits for on a held connection of a kind. */
static uint32_t held_events(ParkKind kind) {
        return kind == PARK_SENDING ? EPOLLOUT | EPOLLRDHUP : EPOLLIN | EPOLLRDHUP;
}

/* Moves h to another kind: counts, deadline, and what epoll waits for
 * (changed only when it differs: an idle connection whose request begins
 * waits for more input as before). */
static void held_become(FrontStage *f, Held *h, ParkKind kind, uint64_t deadline) {
        struct epoll_event ev = { .events = held_events(kind), .data.ptr = h };
        bool same_events = held_events(h->st.kind) == ev.events;

        held_count(f, h, -1);
        h->st.kind = kind;
        held_count(f, h, +1);
        h->st.deadline_usec = deadline;
        heap_up(f, h->heap_index);
        heap_down(f, h->heap_index);
        if (!same_events)
                (void) epoll_ctl(f->epfd, EPOLL_CTL_MOD, h->fd, &ev);
}

/* Forgets h, which is out of the epoll set already: out of the heap and
 * the counts, its fd closed (the front stage never has unread data it
 * cares about, so close() sends a FIN). held_hand_back() takes h out of
 * the set itself, before it sends the connection to a worker. */
static void held_forget(FrontStage *f, Held *h) {
        heap_remove(f, h);
        held_count(f, h, -1);
        safe_close(h->fd);
        safe_close(h->file_fd);
        free(h->buf);
        free(h);
}

/* Forgets h, out of epoll first, explicitly: close() removes an fd from
 * an epoll set only once no descriptor of its file is left anywhere, and
 * the worker that parked the connection may not have closed its own copy
 * yet. A registration that outlived h would go on reporting the socket
 * (level-triggered, at its end of file for ever) with h as its data, after
 * h is freed. */
static void held_close(FrontStage *f, Held *h) {
        (void) epoll_ctl(f->epfd, EPOLL_CTL_DEL, h->fd, NULL);
        held_forget(f, h);
}

/* Hands h to whichever worker reads the channel first. When the channel
 * is full (every worker busy and the queue long), h waits in order in the
 * ready queue and is tried again every millisecond: poll() cannot tell
 * when a socket pair's peer has room again (see park.h). */
static void held_hand_back(FrontStage *f, Held *h) {
        int r;

        heap_remove(f, h);
        (void) epoll_ctl(f->epfd, EPOLL_CTL_DEL, h->fd, NULL);
        if (!f->ready_head) {
                r = park_hand_back(f->channel, &f->score->handback_queued, h->fd, &h->st, h->buf, h->st.n_bytes);
                if (r >= 0) {
                        held_forget(f, h);
                        return;
                }
                if (r != -EAGAIN) {
                        log_debug_errno(r, "%s front stage: cannot hand a connection back: %s", f->sp->svc->name,
                                        STRERROR(r));
                        held_forget(f, h);
                        return;
                }
        }
        h->next_ready = NULL;
        if (f->ready_tail)
                f->ready_tail->next_ready = h;
        else
                f->ready_head = h;
        f->ready_tail = h;
}

static void frontstage_flush_ready(FrontStage *f) {
        while (f->ready_head) {
                Held *h = f->ready_head;
                int r = park_hand_back(f->channel, &f->score->handback_queued, h->fd, &h->st, h->buf, h->st.n_bytes);

                if (r == -EAGAIN)
                        return;
                f->ready_head = h->next_ready;
                if (!f->ready_head)
                        f->ready_tail = NULL;
                held_forget(f, h);
        }
}

static void frontstage_stop_one(FrontStage *f, Held *h);
static void frontstage_begin_stop(FrontStage *f);

/* Takes a connection a worker parked. */
static void frontstage_take(FrontStage *f, int fd, int file_fd, const ParkState *st, const char *bytes) {
        struct epoll_event ev = { .events = held_events(st->kind) };
        Held *h = calloc(1, sizeof(Held));

        if (!h) {
                safe_close(fd);
                safe_close(file_fd);
                return;
        }
        h->fd = fd;
        h->file_fd = file_fd;
        h->st = *st;
        h->heap_index = SIZE_MAX;
        if (h->st.gather_max > PARK_BYTES_MAX)
                h->st.gather_max = PARK_BYTES_MAX;
        if (st->n_bytes > 0) {
                h->buf = malloc(MAX(h->st.gather_max, st->n_bytes));
                if (!h->buf) {
                        safe_close(fd);
                        safe_close(file_fd);
                        free(h);
                        return;
                }
                memcpy(h->buf, bytes, st->n_bytes);
        }
        held_count(f, h, +1);
        ev.data.ptr = h;
        if (heap_push(f, h) < 0 || epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                held_close(f, h);
                return;
        }
        /* Parked just before the stop reached its worker. */
        if (f->stopping)
                frontstage_stop_one(f, h);
}

static void frontstage_receive(FrontStage *f) {
        for (;;) {
                ParkState st;
                int fd, file_fd, r;

                r = park_receive(f->channel, &fd, &file_fd, &st, f->bytes, PARK_BYTES_MAX);
                if (r == -ECONNRESET) {
                        /* Nobody holds the workers' end any more: the
                         * master and its workers are gone. Stop watching
                         * the channel (its end of file would spin) and
                         * leave as after a stop. */
                        (void) epoll_ctl(f->epfd, EPOLL_CTL_DEL, f->channel, NULL);
                        /* Not here: this runs in the middle of a batch of
                         * events, and a stop closes held connections whose
                         * events may come later in that batch. The loop
                         * begins the stop before its next wait. */
                        f->channel_gone = true;
                        return;
                }
                if (r <= 0) {
                        if (r < 0)
                                log_debug_errno(r, "%s front stage: cannot receive: %s", f->sp->svc->name, STRERROR(r));
                        return;
                }
                frontstage_take(f, fd, file_fd, &st, f->bytes);
        }
}

/* Sendfile at most this much per call, so that one fast reader does not
 * hold up the others. */
#define SEND_CHUNK (256U * 1024U)

/* The slow reader of h can take more. Each stall may last send_timeout;
 * once the file is sent, the connection waits for its next request like
 * any idle one (or is closed when the response said so). */
static void held_send(FrontStage *f, Held *h, uint32_t events) {
        uint64_t now;

        if (!(events & EPOLLOUT)) {
                held_close(f, h);
                return;
        }
        while (h->st.file_remaining > 0) {
                off_t off = (off_t) h->st.file_offset;
                ssize_t n = sendfile(h->fd, h->file_fd, &off,
                                     (size_t) MIN(h->st.file_remaining, (uint64_t) SEND_CHUNK));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && IN_SET(errno, EAGAIN, EWOULDBLOCK))
                        break;
                if (n <= 0) {
                        held_close(f, h);
                        return;
                }
                h->st.file_offset += (uint64_t) n;
                h->st.file_remaining -= (uint64_t) n;
        }
        now = now_usec();
        if (h->st.file_remaining > 0) {
                h->st.deadline_usec = now + h->st.send_timeout_usec;
                heap_up(f, h->heap_index);
                heap_down(f, h->heap_index);
                return;
        }
        h->file_fd = safe_close(h->file_fd);
        if (!h->st.keep_alive) {
                (void) shutdown(h->fd, SHUT_WR);
                held_close(f, h);
                return;
        }
        held_become(f, h, PARK_IDLE, now + h->st.keepalive_usec);
}

static void held_log_close(const FrontStage *f, const Held *h, const char *why) {
        ScorePeer p = { .sa.sa_family = AF_UNSPEC };
        char peer[64];

        if (h->st.peer_len <= sizeof p)
                memcpy(&p, &h->st.peer, h->st.peer_len);
        score_peer_format(&p, peer, sizeof peer);
        log_debug("%s front stage: closing the connection from %s: %s", f->sp->svc->name, peer, why);
}

/* The rest of a PROXY header (PARK_PROXY), taken exactly: the bytes after
 * it stay in the socket. Once it is complete, the connection goes back to
 * a worker as a fresh one would, with the header's client as its peer
 * (the real one for LOCAL): an IDLE connection with nothing gathered. */
static void held_proxy(FrontStage *f, Held *h) {
        size_t n = h->st.n_bytes;
        const char *why = NULL;
        ProxyHeader hdr;
        int r;

        if (!IN_SET(h->st.proxy_mode, PROXY_V1, PROXY_V2, PROXY_ANY)) {
                held_log_close(f, h, "parked with an unknown PROXY mode");
                held_close(f, h);
                return;
        }
        for (;;) {
                if (!h->buf) {
                        h->buf = malloc(h->st.gather_max);
                        if (!h->buf) {
                                held_close(f, h);
                                return;
                        }
                }
                r = proxy_read(h->fd, h->st.proxy_mode, h->buf, h->st.gather_max, &n, &hdr, &why);
                if (r != -ENOBUFS)
                        break;
                /* A v2 header longer than what was allocated for. */
                size_t size = proxy_header_bound(h->buf, n);
                char *b = realloc(h->buf, size);
                if (!b) {
                        held_close(f, h);
                        return;
                }
                h->buf = b;
                h->st.gather_max = (uint32_t) size;
        }
        h->st.n_bytes = (uint32_t) n;
        if (r == 0)
                return;
        if (r < 0) {
                held_log_close(f, h, why ? why : STRERROR(r));
                held_close(f, h);
                return;
        }
        if (!hdr.local) {
                memcpy(&h->st.peer, &hdr.source, hdr.source_len);
                h->st.peer_len = hdr.source_len;
        }
        held_count(f, h, -1);
        h->st.kind = PARK_IDLE;
        held_count(f, h, +1);
        h->st.n_bytes = 0;
        h->st.gather_max = 0;
        held_hand_back(f, h);
}

/* The client of h sent something, or went away. */
static void held_on_event(FrontStage *f, Held *h, uint32_t events) {
        ssize_t n;

        if (h->st.kind == PARK_SENDING) {
                held_send(f, h, events);
                return;
        }
        if (h->st.kind == PARK_PROXY) {
                held_proxy(f, h);
                return;
        }
        if (h->st.gather_max == 0) {
                /* Nothing to gather (echo): readable means work. A client
                 * that only hung up is closed here. */
                if (events & EPOLLIN)
                        held_hand_back(f, h);
                else
                        held_close(f, h);
                return;
        }
        if (!h->buf) {
                h->buf = malloc(h->st.gather_max);
                if (!h->buf) {
                        held_close(f, h);
                        return;
                }
        }
        n = recv(h->fd, h->buf + h->st.n_bytes, h->st.gather_max - h->st.n_bytes, MSG_DONTWAIT);
        if (n < 0 && IN_SET(errno, EAGAIN, EWOULDBLOCK, EINTR))
                return;
        if (n <= 0) {
                held_close(f, h);
                return;
        }
        if (h->st.kind == PARK_IDLE)
                /* The next request has begun: from now on the whole head
                 * must arrive within header_timeout. */
                held_become(f, h, PARK_HEAD, now_usec() + h->st.head_timeout_usec);
        size_t scanned = h->st.n_bytes;
        h->st.n_bytes += (uint32_t) n;
        if (h->st.n_bytes >= h->st.gather_max ||
            f->handler->park_ready(h->buf, h->st.n_bytes, scanned, h->st.gather_max) > 0)
                held_hand_back(f, h);
}

/* Deadlines: an idle connection is closed quietly; one whose request was
 * still arriving gets the handler's last answer (HTTP 408) first. */
static void frontstage_expire(FrontStage *f, uint64_t now) {
        while (f->n_heap > 0 && f->heap[0]->st.deadline_usec <= now) {
                Held *h = f->heap[0];
                char answer[512];
                size_t len = 0;

                if (h->st.kind == PARK_HEAD && h->st.n_bytes > 0 && f->handler->park_timeout_answer)
                        len = f->handler->park_timeout_answer(answer, sizeof answer);
                if (len > 0) {
                        (void) send(h->fd, answer, len, MSG_DONTWAIT | MSG_NOSIGNAL);
                        (void) shutdown(h->fd, SHUT_WR);
                }
                if (h->st.kind == PARK_PROXY)
                        held_log_close(f, h, "PROXY header not complete within proxy_timeout");
                atomic_fetch_add_explicit(&f->score->park_expired, 1, memory_order_relaxed);
                held_close(f, h);
        }
}

static int frontstage_timeout_ms(const FrontStage *f, uint64_t now) {
        uint64_t d;

        if (f->ready_head)
                return 1;
        if (f->n_heap == 0)
                return -1;
        d = f->heap[0]->st.deadline_usec;
        if (d <= now)
                return 0;
        d = (d - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
        return d > INT32_MAX ? INT32_MAX : (int) d;
}

/* What a graceful stop does with a held connection: one idle between two
 * requests is closed (a FIN: nothing is left unread), unless the handler
 * has no such boundary (echo), and one that never sent a byte, or not yet
 * its whole PROXY header, likewise; a
 * head in progress goes back to a worker, which finishes the request
 * (the master stops the workers only once the front stage has left); a
 * file being sent is finished here. */
static void frontstage_stop_one(FrontStage *f, Held *h) {
        switch ((ParkKind) h->st.kind) {
        case PARK_IDLE:
                if (f->handler->park_idle_closes_on_stop)
                        held_close(f, h);
                else
                        held_hand_back(f, h);
                break;
        case PARK_HEAD:
                if (h->st.n_bytes == 0)
                        held_close(f, h);
                else
                        held_hand_back(f, h);
                break;
        case PARK_SENDING:
                break;
        case PARK_PROXY:
                /* Nothing of it has reached a handler yet. */
                held_close(f, h);
                break;
        case _PARK_KIND_MAX:
                abort();
        }
}

static void frontstage_begin_stop(FrontStage *f) {
        size_t n = f->n_heap;
        Held **all;

        f->stopping = true;
        log_debug("%s front stage: stopping with %" PRIu64 " held connection%s", f->sp->svc->name, f->n_held,
                  f->n_held == 1 ? "" : "s");
        /* frontstage_stop_one() reorders the heap: work on a copy. Without
         * memory for it, the connections are dealt with where they lie,
         * from the end, which removal never reorders past. */
        if (n == 0)
                return;
        all = malloc(n * sizeof(Held *));
        if (all) {
                memcpy(all, f->heap, n * sizeof(Held *));
                for (size_t i = 0; i < n; i++)
                        frontstage_stop_one(f, all[i]);
                free(all);
                return;
        }
        for (size_t i = n; i > 0; i--)
                if (i - 1 < f->n_heap)
                        frontstage_stop_one(f, f->heap[i - 1]);
}

void frontstage_main(const WorkerSpawn *sp) {
        FrontStage f = {
                .sp = sp,
                .handler = sp->svc->handler,
                .score = sp->service_score,
                .channel = sp->park_fd,
        };
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

        assert(sp->front_stage);
        /* Tells it apart from the workers in ps and top. */
        (void) prctl(PR_SET_NAME, "preforkd-front", 0, 0, 0);
        worker_prepare(sp);
        if (!f.handler->park_ready)
                fatal(EX_SOFTWARE, "%s front stage: handler %s cannot park", sp->svc->name, f.handler->name);
        /* Allocated, not static: a static buffer would lie among the
         * variables every worker writes, and cost them pages. */
        f.bytes = malloc(PARK_BYTES_MAX);
        if (!f.bytes)
                fatal(EX_OSERR, "%s front stage: out of memory", sp->svc->name);
        f.epfd = epoll_create1(EPOLL_CLOEXEC);
        if (f.epfd < 0 || epoll_ctl(f.epfd, EPOLL_CTL_ADD, f.channel, &ev) < 0)
                fatal(EX_OSERR, "%s front stage: epoll: %s", sp->svc->name, STRERROR(errno));
        atomic_store(&sp->score->pid, (int) getpid());
        score_set_state(sp->score, WORKER_IDLE);
        frontstage_publish(&f);

        for (;;) {
                struct epoll_event events[64];
                int n;

                if ((worker_stop_requested() || f.channel_gone) && !f.stopping)
                        frontstage_begin_stop(&f);
                if (f.stopping && f.n_kind[PARK_SENDING] == 0 && !f.ready_head) {
                        /* What a worker parked just before it saw the stop
                         * is still in the channel: deal with it too. */
                        frontstage_receive(&f);
                        if (f.n_kind[PARK_SENDING] > 0 || f.ready_head)
                                continue;
                        frontstage_publish(&f);
                        log_debug("%s front stage: leaving", sp->svc->name);
                        _exit(0);
                }
                n = epoll_pwait(f.epfd, events, (int) ELEMENTSOF(events), frontstage_timeout_ms(&f, now_usec()),
                                worker_wait_mask());
                if (n < 0 && errno != EINTR)
                        fatal(EX_OSERR, "%s front stage: epoll_pwait: %s", sp->svc->name, STRERROR(errno));
                for (int i = 0; i < n; i++) {
                        Held *h = events[i].data.ptr;

                        if (!h) {
                                frontstage_receive(&f);
                                continue;
                        }
                        held_on_event(&f, h, events[i].events);
                }
                frontstage_flush_ready(&f);
                frontstage_expire(&f, now_usec());
                frontstage_publish(&f);
        }
}
