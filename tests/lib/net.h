/* SPDX-License-Identifier: MIT */
#pragma once

/* Sockets on the test's side: clients that connect, write, read and check
 * echoes, and a listening socket that keeps a port busy. */

#include <stddef.h>
#include <stdint.h>

typedef struct TestDaemon TestDaemon;

/* A listening TCP socket on 127.0.0.1 port 0 (for "address in use"); its
 * port in *ret_port. The port is only the test's while the socket is open:
 * there is on purpose no helper that picks a free port and closes it,
 * since a parallel test could take the number before the daemon binds it.
 * A daemon's own listeners use port 0 and the test learns the port from
 * the daemon (td_find_port()). */
int td_listen_tcp(uint16_t *ret_port);

/* Client sockets returned are blocking, CLOEXEC, with SO_RCVTIMEO/SO_SNDTIMEO of
 * 10 s so that a test never hangs forever on one. All I/O uses MSG_NOSIGNAL
 * (and SIGPIPE is ignored in the test process). */

int td_connect_tcp(const char *host, uint16_t port);  /* host: IPv4/IPv6 literal */
int td_connect_unix(const char *path);
/* Connects to the nth listener of service (127.0.0.1 or [::1] from the log). */
int td_connect_service(TestDaemon *d, const char *service, unsigned nth);

int td_write_all(int fd, const void *buf, size_t len, uint64_t timeout);
/* Reads until EOF (or max bytes). *ret is NUL-terminated (free()). Returns
 * -ECONNRESET etc. on errors, -ETIMEDOUT when EOF did not come in time. */
int td_read_all(int fd, size_t max, uint64_t timeout, char **ret, size_t *ret_len);
/* Reads exactly len bytes (or fails: -EPIPE on early EOF). */
int td_read_exact(int fd, void *buf, size_t len, uint64_t timeout);
/* Waits for EOF: returns 0 on EOF, -EPROTO if data arrived, -ECONNRESET,
 * -ETIMEDOUT... */
int td_wait_eof(int fd, uint64_t timeout);

/* Sends data and reads back the same number of bytes concurrently (poll, no
 * deadlock however large), then compares. -EPROTO on mismatch, -EPIPE on
 * early EOF. The socket stays open. */
int td_echo_exchange(int fd, const void *data, size_t len, uint64_t timeout);
/* connect, td_echo_exchange() of len pseudo-random bytes (seeded by seed),
 * shutdown(SHUT_WR), expect EOF, close. */
int td_echo_roundtrip_tcp(const char *host, uint16_t port, size_t len, unsigned seed, uint64_t timeout);
int td_echo_roundtrip_unix(const char *path, size_t len, unsigned seed, uint64_t timeout);
/* Fills buf with deterministic pseudo-random bytes. */
void td_random_fill(void *buf, size_t len, unsigned seed);
