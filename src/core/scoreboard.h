/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "macros.h"

/* What a worker is doing, as it tells the master through its score. The
 * core sets STARTING, IDLE, BUSY and EXITING; a handler that knows more
 * refines BUSY into READING, WRITING and KEEPALIVE (http). */
typedef enum WorkerState {
        WORKER_STARTING,  /* forked, not yet waiting for connections */
        WORKER_IDLE,      /* waiting for a connection */
        WORKER_BUSY,      /* serving a connection */
        WORKER_READING,   /* reading a request */
        WORKER_WRITING,   /* answering a request */
        WORKER_KEEPALIVE, /* between two requests of one connection */
        WORKER_EXITING,   /* leaving its loop */
        _WORKER_STATE_MAX,
        _WORKER_STATE_INVALID = -EINVAL,
} WorkerState;

const char *worker_state_to_string(WorkerState s) _const_;

/* Whether a worker in this state is working for a client (request_timeout
 * applies): waiting for a connection or for the next request is not. */
static inline bool worker_state_is_busy(WorkerState s) {
        return IN_SET(s, WORKER_BUSY, WORKER_READING, WORKER_WRITING);
}

#define SCORE_REQUEST_MAX 256U

/* A peer address as the score keeps it: raw, so that the hot path copies
 * bytes and never formats; readers format it. */
typedef union ScorePeer {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
} ScorePeer;

/* One worker's entry in its service's shared-memory scoreboard. The master
 * fills generation and slot before the fork; after it only the worker
 * writes (but for the recycle flag), and the master reads without taking
 * a lock.
 *
 * The counters are single atomics, each consistent on its own. What must
 * be read as a whole (the current peer, request line and when the work on
 * it began) sits behind a sequence counter: the writer makes seq odd,
 * writes, and makes it even again; a reader copies and retries when seq
 * was odd or changed meanwhile (score_snapshot()). Only one process ever
 * writes an entry, so writers need no lock either, and the hot path pays
 * two stores and a vDSO clock read, no system call.
 *
 * Entries are cache-line aligned so that two workers never write the same
 * line. */
typedef struct WorkerScore {
        _Alignas(64) _Atomic int state;
        _Atomic int pid;
        _Atomic unsigned generation;
        _Atomic unsigned slot;
        _Atomic uint64_t state_since_usec; /* CLOCK_MONOTONIC, when state last changed */
        _Atomic uint64_t connections;
        _Atomic uint64_t requests;         /* http: requests answered; 0 for handlers without requests */
        _Atomic uint64_t bytes_in;
        _Atomic uint64_t bytes_out;
        _Atomic int last_status;           /* http: the last response's status; 0 for none */
        _Atomic uint64_t wakeups;          /* returns from waiting for a connection */
        _Atomic uint64_t spurious_wakeups; /* ... that found no connection to accept */
        /* The one field the master writes after the fork: set when the
         * worker is to leave after its current connection (max_memory,
         * recycle.c); the worker reads it between connections. */
        _Atomic int recycle;

        _Atomic unsigned seq;
        /* Behind seq: */
        uint64_t busy_since_usec;          /* CLOCK_MONOTONIC; 0 when not on a request */
        ScorePeer peer;                    /* sa_family AF_UNSPEC when unknown */
        uint16_t request_len;
        char request[SCORE_REQUEST_MAX];   /* http: the request line; not NUL-terminated */
} WorkerScore;

/* A consistent copy of a WorkerScore, for readers. */
typedef struct WorkerSnapshot {
        WorkerState state;
        pid_t pid;
        unsigned generation;
        unsigned slot;
        uint64_t state_since_usec;
        uint64_t connections;
        uint64_t requests;
        uint64_t bytes_in;
        uint64_t bytes_out;
        int last_status;
        uint64_t busy_since_usec;
        ScorePeer peer;
        char request[SCORE_REQUEST_MAX + 1]; /* NUL-terminated */
} WorkerSnapshot;

/* Writer side: called only by the worker that owns s; s may be NULL (no
 * scoreboard, as in unit tests), which makes each a no-op. */
void score_set_state(WorkerScore *s, WorkerState state);
/* Work on a connection begins (fresh, or handed back by the front stage):
 * its peer (may be NULL), and the time; the request line is cleared. The
 * caller counts connections. */
void score_begin_connection(WorkerScore *s, const struct sockaddr *peer, socklen_t peer_len);
/* A request begins (http): its line, as received (cut to
 * SCORE_REQUEST_MAX); the work on it begins now. */
void score_begin_request(WorkerScore *s, const char *line, size_t n);
/* Work resumes on the current connection now (the next request of a
 * keep-alive connection begins to arrive). */
void score_begin_work(WorkerScore *s);
/* The current request was answered; status 0 when there is none. */
void score_end_request(WorkerScore *s, int status, uint64_t bytes_out);
/* No request in progress any more (between requests, or the connection
 * ended); keeps the peer and request line for the record. */
void score_end_work(WorkerScore *s);
void score_add_bytes(WorkerScore *s, uint64_t in, uint64_t out);

/* Reader side: a consistent copy, or -EBUSY when the writer kept
 * changing the entry for the whole bounded number of tries. */
int score_snapshot(const WorkerScore *s, WorkerSnapshot *ret);
/* The peer as text ("192.0.2.1:1234", "[::1]:80", "-" when unknown). */
void score_peer_format(const ScorePeer *p, char *buf, size_t size);

/* The service-wide part of the scoreboard, at its start. The front stage
 * publishes what it holds; workers read it before parking; the master sets
 * stopping before it tells workers to stop, so that they close idle
 * connections instead of parking them. */
typedef struct ServiceScore {
        /* Aligned like a WorkerScore, so that the entries that follow it
         * in the mapping are aligned too. */
        _Alignas(64) _Atomic int stopping;
        _Atomic uint64_t parked;           /* held by the front stage now */
        _Atomic uint64_t parked_idle;      /* ... of which idle between requests */
        _Atomic uint64_t parked_head;      /* ... of which with a request arriving */
        _Atomic uint64_t parked_sending;   /* ... of which finishing a response to a slow reader */
        _Atomic uint64_t handed_back;      /* total handed back to workers */
        /* Handed back and not yet taken by a worker: a hint, counted up
         * before the send and down after the receive (park_hand_back()). */
        _Atomic int64_t handback_queued;
        _Atomic uint64_t park_refused;     /* total not parked: the front stage was full */
        _Atomic uint64_t park_expired;     /* total closed by the front stage at their deadline */
        /* CLOCK_REALTIME usec when a worker last finished a connection:
         * tells a draining host's operator when it went idle. */
        _Atomic uint64_t last_connection_end_usec;
        _Atomic uint64_t program_failures; /* total per-connection programs that failed (handler exec) */
} ServiceScore;

/* A service's scoreboard: one MAP_SHARED mapping of a memfd, made in the
 * master before any of the service's workers is forked, so that every
 * worker of every generation sees it, and it outlives reloads. The memfd
 * (close-on-exec, closed in every worker) lets the master map the same
 * memory again after it executed a new binary in its place (upgrade.h),
 * while the workers keep writing to their own mappings. Entries are
 * handed out per worker (not per slot), because during a reload the old
 * and the new generation's workers of one service are alive at once. */
typedef struct Scoreboard {
        ServiceScore *service;
        WorkerScore *scores;
        size_t capacity;
        size_t map_size;
        int fd;                  /* the memfd */
        bool *used;              /* master-private */
} Scoreboard;

/* capacity entries; pages are only touched as entries are used. */
int scoreboard_new(size_t capacity, Scoreboard **ret);
/* Maps the memfd of a scoreboard of capacity entries that an earlier
 * process image made (taking fd on success); no entry is in use until
 * scoreboard_take() says so. -EBADMSG when fd is smaller than that. */
int scoreboard_adopt(int fd, size_t capacity, Scoreboard **ret);
/* Marks entry index in use, as it was, and returns it untouched. -ERANGE
 * beyond the capacity, -EBUSY when it is in use already. */
int scoreboard_take(Scoreboard *b, size_t index, WorkerScore **ret);
/* The index of s in b. */
size_t scoreboard_index(const Scoreboard *b, const WorkerScore *s);
Scoreboard *scoreboard_free(Scoreboard *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Scoreboard *, scoreboard_free)

/* A zeroed entry, or -ENOSPC when every entry is in use. */
int scoreboard_acquire(Scoreboard *b, unsigned generation, unsigned slot, WorkerScore **ret);
/* Gives the entry back; NULL is ignored. */
void scoreboard_release(Scoreboard *b, WorkerScore *s);
