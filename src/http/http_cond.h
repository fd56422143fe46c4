/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "http_parse.h"

/* A quoted entity tag and its NUL. */
#define HTTP_ETAG_SIZE 64

/* A strong entity tag for a file: inode, size and modification time in
 * nanoseconds. Unlike nginx's "mtime-size" it changes when a file is
 * rewritten within the same second, which a strong validator must. Returns
 * the length. */
int http_etag_format(const struct stat *st, char *buf, size_t size);

/* Evaluates the preconditions of a GET or HEAD in the order of RFC 9110
 * §13.2.2: If-Match, else If-Unmodified-Since (412 when they fail); then
 * If-None-Match, else If-Modified-Since (304 when the client's copy is
 * current). etag is NULL when entity tags are turned off. Returns 0 to go
 * on, 304 or 412. */
unsigned http_cond_evaluate(const HttpRequest *req, const char *etag, time_t mtime);

/* Parses a Range field for a representation of size bytes. Returns 1 and
 * the inclusive byte range for a single satisfiable range, 0 when the field
 * is to be ignored and the whole representation sent (other units, invalid
 * syntax, several ranges, an empty file), or -ERANGE when nothing of it can
 * be satisfied (416). */
int http_range_parse(HttpSpan range, uint64_t size, uint64_t *ret_first, uint64_t *ret_last);

/* If-Range (RFC 9110 §13.1.5): true when the Range may be honoured, that is
 * the entity tag matches strongly or the date equals the Last-Modified. */
bool http_if_range_matches(HttpSpan if_range, const char *etag, time_t mtime);
