/* SPDX-License-Identifier: MIT */
#pragma once

/* Helpers shared by the files of tests/lib, not meant for tests (which is
 * why they are not in util.h and carry the tdi_ prefix). */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* now + timeout, saturating, for "until" loops. */
uint64_t tdi_deadline(uint64_t timeout);
/* Milliseconds left until deadline, rounded up and capped at a minute, for
 * poll(); 0 once it passed. */
int tdi_remaining_ms(uint64_t deadline);
/* Makes room for need elements of size elem in *p (capacity *alloc),
 * growing geometrically. */
int tdi_grow(void **p, size_t *alloc, size_t need, size_t elem);
/* Stores a copy of at most n bytes of s (NUL-terminated) in *ret, unless
 * ret is NULL. 0 or -ENOMEM. */
int tdi_strndup_ret(char **ret, const char *s, size_t n);
/* A new copy of s with every what replaced by with, or NULL on OOM. */
char *tdi_str_replace(const char *s, const char *what, const char *with);
/* Waits on cond (whose clock is CLOCK_MONOTONIC) with lock held, until
 * deadline at the latest. Returns false when the deadline has passed. */
bool tdi_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, uint64_t deadline);
/* pidfd_open(2) (no libc wrapper in Debian 12): an fd that polls readable
 * (POLLIN) once pid has exited, whether or not it has been reaped yet; the
 * event that every "wait until this process is gone" waits on. A negative
 * errno on failure, -ESRCH when there is no such process (any more). */
int tdi_pidfd_open(pid_t pid);
/* Waits until fd has one of events (or an error/hangup) and returns the
 * revents (> 0), -ETIMEDOUT once deadline has passed, or a negative errno. */
int tdi_wait_fd(int fd, short events, uint64_t deadline);
/* Ignores SIGPIPE in the test process: every write to a socket the daemon
 * may have closed must fail with EPIPE, not kill the test. */
void tdi_ignore_sigpipe(void);

/* Objects (daemons, load threads) that an atexit() handler must still free
 * when a test ends without freeing them, so that a daemon or a thread never
 * outlives the test process. One registry per kind of object, each with its
 * own handler: atexit() runs handlers in reverse order of registration, so
 * the kind first used last (load threads, which need a daemon to talk to)
 * is cleaned up first. */
#define TDI_MAX_LIVE 32
typedef struct TdiRegistry {
        pthread_mutex_t lock;
        void (*atexit_fn)(void);
        bool atexit_done;
        void *live[TDI_MAX_LIVE];
} TdiRegistry;
#define TDI_REGISTRY_INIT(fn) { .lock = PTHREAD_MUTEX_INITIALIZER, .atexit_fn = (fn) }

/* Adds p; the first call registers reg->atexit_fn with atexit(). */
void tdi_registry_add(TdiRegistry *reg, void *p);
void tdi_registry_remove(TdiRegistry *reg, void *p);
/* For the atexit_fn: calls free_fn on each live object, without the lock
 * held (free_fn is expected to remove it). */
void tdi_registry_free_all(TdiRegistry *reg, void (*free_fn)(void *));
