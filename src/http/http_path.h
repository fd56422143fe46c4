/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Turns the raw (percent-encoded) path of a request-target into the path
 * that is looked up: percent-decoded, then dot-segments removed (RFC 3986
 * §5.2.4) and repeated slashes merged. The result starts with '/', keeps a
 * trailing '/' (a request for a directory) and holds no "." or ".."
 * segment. out must hold raw_len + 2 bytes; it is NUL-terminated.
 *
 * Returns 0 and the length in *ret_len, or -EINVAL for what is refused
 * rather than looked up (400): a path not starting with '/', a malformed
 * percent escape, an encoded NUL or slash, a backslash (raw or encoded),
 * a ".." that would climb above the root. */
int http_path_normalize(const char *raw, size_t raw_len, char *out, size_t out_size, size_t *ret_len);

/* True when a segment of a normalized path starts with '.', except for a
 * leading "/.well-known/" (RFC 8615), which must stay reachable for ACME
 * and friends even when dotfiles are denied. */
bool http_path_has_dotfile(const char *path, size_t len);

/* Opens a normalized path below root_fd so that nothing outside the root is
 * ever opened: openat2() with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, plus
 * RESOLVE_NO_SYMLINKS when follow_symlinks is false. Symlinks are followed
 * only while they stay below the root, at the moment of the lookup, so a
 * symlink swapped during the request cannot lead outside either. The file
 * is opened O_RDONLY | O_NONBLOCK (a FIFO must not block the worker).
 *
 * Returns 0 and the fd, or a negative errno: -ENOENT, -ENOTDIR (404),
 * -EACCES (403), -EXDEV (the path would leave the root), -ELOOP (a symlink
 * where none may be followed), others. */
int http_path_open(int root_fd, const char *path, bool follow_symlinks, int *ret_fd);

/* The same guarantee without openat2(), for kernels before 5.6 or seccomp
 * filters that refuse it: walks the path one component at a time with
 * O_NOFOLLOW, so that no symlink is followed at all. Exposed for tests. */
int http_path_open_walk(int root_fd, const char *path, int *ret_fd);

/* Probes whether openat2() works here. Returns 1 if it does, 0 if
 * http_path_open() must use the component walk (and does from now on), or
 * a negative errno when root_fd itself is unusable. */
int http_path_probe_openat2(int root_fd);

/* Percent-encodes a normalized path for a Location field: every byte
 * outside unreserved, sub-delims, ':', '@' and '/' becomes %XX. Writes at
 * most size - 1 bytes and a NUL; returns the length, or -ENOBUFS. */
int http_path_encode(const char *path, size_t len, char *out, size_t size);
