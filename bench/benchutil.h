/* SPDX-License-Identifier: MIT */
#pragma once

/* Small helpers shared by the benchmark programs (echoload, ceiling,
 * respawn). Not part of the daemon. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The daemon's src/basic/macros.h is not included: at -Wpedantic its
 * DEFINE_TRIVIAL_CLEANUP_FUNC(...); and TAKE_FD's braced group warn. These
 * are the few systemd-style helpers the benchmarks use. */
#define _cleanup_(f) __attribute__((__cleanup__(f)))
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif
#define USEC_PER_SEC ((uint64_t) 1000000ULL)
#define USEC_PER_MSEC ((uint64_t) 1000ULL)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)

/* close() that keeps errno and ignores negative fds; returns -EBADF so that
 * "fd = safe_close(fd)" works. */
int safe_close(int fd);
void closep(int *fd);
#define _cleanup_close_ _cleanup_(closep)

/* errno as a negative value, never 0. */
int negative_errno(void);

typedef struct BenchAddr {
        struct sockaddr_storage sa;
        socklen_t sa_len;
        char text[64]; /* canonical "127.0.0.1:7007" or "[::1]:7007" */
} BenchAddr;

/* Parses "A.B.C.D:PORT" or "[V6]:PORT" (numeric only; "localhost" is taken
 * as 127.0.0.1). Returns 0, -EINVAL on a malformed string, -EPERM when the
 * address is not a loopback address (the benchmarks never leave the host). */
int bench_addr_parse(const char *s, bool allow_port0, BenchAddr *ret);

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool bench_addr_is_loopback(const struct sockaddr *sa);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* Sleeps for usec microseconds (restarting after signals). */
void bench_sleep_usec(uint64_t usec);

/* Parses a non-negative decimal number of seconds ("2", "0.5") into
 * nanoseconds. Returns 0 or -EINVAL. */
int bench_parse_seconds(const char *s, uint64_t *ret_ns);

/* Parses an unsigned integer in [min, max]. Returns 0 or -EINVAL/-ERANGE. */
int bench_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* Sorts v (n of them) and returns the nearest-rank percentile p (0..100).
 * Returns 0 for n == 0. */
void bench_sort_u64(uint64_t *v, size_t n);
uint64_t bench_percentile_sorted(const uint64_t *v, size_t n, double p);

/* Fills buf with the deterministic payload pattern for a byte offset. */
void bench_fill_pattern(uint8_t *buf, size_t len, size_t offset);
/* Checks that buf equals the pattern at offset. */
bool bench_check_pattern(const uint8_t *buf, size_t len, size_t offset);

/* Pids of the children of pid (all its threads), from
 * /proc/PID/task/TID/children. Returns the count (>= 0) or a negative errno;
 * at most max are stored. */
int bench_children(pid_t pid, pid_t *ret, size_t max);
