/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "macros.h"

/* Extension → media type, from a mime.types file (the format of
 * /etc/mime.types: "type ext ext ..." per line, '#' comments). */
typedef struct HttpMimeTable HttpMimeTable;

/* Reads path. Returns 0 and the table, -ENOENT when the file is absent, or
 * another negative errno (-EINVAL for a file that is not a mime.types file
 * at all: a line whose type has no '/'; -EBADFD for something that is
 * not a regular file), with the line number in *ret_line when the caller
 * wants to say where. */
int http_mime_load(const char *path, HttpMimeTable **ret, unsigned *ret_line);
HttpMimeTable *http_mime_free(HttpMimeTable *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpMimeTable *, http_mime_free)

size_t http_mime_size(const HttpMimeTable *t);

/* The media type for a file name: from t (may be NULL) by the extension
 * after the last '.', case-insensitively; then from a built-in table of
 * the common web types; NULL when neither knows it. */
const char *http_mime_lookup(const HttpMimeTable *t, const char *name, size_t len);
