/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macros.h"

/* A growing text buffer for answers built in one go (status tables, JSON,
 * metrics). Appending never fails visibly: an allocation failure marks
 * the buffer, and textbuf_steal() then returns NULL, so that a formatter
 * checks once at the end instead of after every line. */
typedef struct TextBuf {
        char *data;   /* NUL-terminated while not NULL */
        size_t len;
        size_t size;
        bool oom;
} TextBuf;

void textbuf_append(TextBuf *b, const char *s, size_t n);
void textbuf_puts(TextBuf *b, const char *s);
void textbuf_printf(TextBuf *b, const char *fmt, ...) _printf_(2, 3);
/* s as a JSON string, quotes included; bytes that are not printable ASCII
 * are escaped as \u00XX, so the result is ASCII whatever s holds. */
void textbuf_json_string(TextBuf *b, const char *s);
/* The text (the caller frees it) and its length, or NULL after an
 * allocation failure. The buffer is empty afterwards. */
char *textbuf_steal(TextBuf *b, size_t *ret_len);
void textbuf_done(TextBuf *b);
