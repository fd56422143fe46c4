/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

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

typedef enum HttpPathFlags {
        /* Follow symlinks while they stay below the root. */
        HTTP_PATH_FOLLOW_SYMLINKS = 1 << 0,
        /* Refuse a path with a dotfile (http_path_has_dotfile()), as asked
         * and as resolved: -EACCES (403), or -ENOENT (404) as if missing. */
        HTTP_PATH_DENY_DOTFILES = 1 << 1,
        HTTP_PATH_HIDE_DOTFILES = 1 << 2,
        /* For tests: look up as where openat2() is missing (the walk). */
        HTTP_PATH_NO_OPENAT2 = 1 << 3,
} HttpPathFlags;

/* Opens a normalized path below root_fd so that nothing outside the root is
 * ever opened: openat2() with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, plus
 * RESOLVE_NO_SYMLINKS without HTTP_PATH_FOLLOW_SYMLINKS. Symlinks are
 * followed only while they stay below the root, at the moment of the
 * lookup, so that a symlink swapped during the request cannot lead outside
 * either. Where openat2() does not work (http_path_probe_openat2()), the
 * path is walked one component at a time with O_NOFOLLOW, and no symlink is
 * followed at all.
 *
 * With HTTP_PATH_DENY_DOTFILES or _HIDE_DOTFILES the dotfiles rule holds
 * for the path asked for and for the path it resolves to, the one actually
 * opened: a symlink "link -> .env", or an index or .gz variant that is one,
 * is refused like ".env" itself, and a symlink to "/.well-known/..." is
 * not. When a path holds a symlink to follow, it is then resolved one
 * component at a time below the root (no ".." is ever looked up), as
 * openat2() would resolve it. The walk follows no symlink, so the path
 * asked for is the one opened.
 *
 * Nothing is opened for reading before its type is known. A path that
 * fstatat() shows to be a regular file is opened for reading (the common
 * case: one stat more than opening blindly); anything else is looked up
 * O_PATH, which runs no driver's open and does not wait for a FIFO's
 * writer, and fstat()ed: a directory is returned as its O_PATH fd (enough
 * to look up names below it; http_autoindex_render() opens it for reading
 * itself), a regular file is then opened for reading, a FIFO, socket or
 * device is refused unopened. Should a rename put something else at the
 * path between the look and the open, the open is non-blocking and what
 * it returns is refused unless it is a regular file.
 *
 * Returns 0 with the fd and its stat in *ret_st, or a negative errno:
 * -ENOENT, -ENOTDIR (404), -EACCES (403), -EXDEV (the path would leave the
 * root), -ELOOP (a symlink where none may be followed), -ENXIO (neither a
 * regular file nor a directory), -EAGAIN (renames kept racing with the
 * lookup), others. A refused dotfile is -EACCES, or -ENOENT when hidden. */
int http_path_open(int root_fd, const char *path, HttpPathFlags flags, int *ret_fd, struct stat *ret_st);

/* Probes whether openat2() works here. Returns 1 if it does, 0 if
 * http_path_open() must use the component walk (and does from now on), or
 * a negative errno when root_fd itself is unusable. */
int http_path_probe_openat2(int root_fd);

/* Percent-encodes a normalized path for a Location field: every byte
 * outside unreserved, sub-delims, ':', '@' and '/' becomes %XX. Writes at
 * most size - 1 bytes and a NUL; returns the length, or -ENOBUFS. */
int http_path_encode(const char *path, size_t len, char *out, size_t size);
