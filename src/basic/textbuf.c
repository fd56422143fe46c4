/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "textbuf.h"

static bool textbuf_reserve(TextBuf *b, size_t n) {
        size_t want;
        char *d;

        if (b->oom)
                return false;
        /* Room for n bytes and the NUL. */
        if (b->size > 0 && n < b->size - b->len)
                return true;
        if (n > SIZE_MAX / 2 - b->len) {
                b->oom = true;
                return false;
        }
        want = MAX(b->size * 2, b->len + n + 1);
        want = MAX(want, (size_t) 256);
        d = realloc(b->data, want);
        if (!d) {
                b->oom = true;
                return false;
        }
        b->data = d;
        b->size = want;
        return true;
}

void textbuf_append(TextBuf *b, const char *s, size_t n) {
        assert(b);
        assert(s || n == 0);
        if (!textbuf_reserve(b, n))
                return;
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = 0;
}

void textbuf_puts(TextBuf *b, const char *s) {
        textbuf_append(b, s, strlen(s));
}

void textbuf_printf(TextBuf *b, const char *fmt, ...) {
        va_list ap;
        int l;

        assert(b);
        va_start(ap, fmt);
        l = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (l < 0) {
                b->oom = true;
                return;
        }
        if (!textbuf_reserve(b, (size_t) l))
                return;
        va_start(ap, fmt);
        (void) vsnprintf(b->data + b->len, b->size - b->len, fmt, ap);
        va_end(ap);
        b->len += (size_t) l;
}

void textbuf_json_string(TextBuf *b, const char *s) {
        assert(s);
        textbuf_append(b, "\"", 1);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\') {
                        char e[2] = { '\\', (char) *p };
                        textbuf_append(b, e, 2);
                } else if (*p < 0x20 || *p > 0x7e)
                        textbuf_printf(b, "\\u%04x", *p);
                else
                        textbuf_append(b, (const char *) p, 1);
        }
        textbuf_append(b, "\"", 1);
}

char *textbuf_steal(TextBuf *b, size_t *ret_len) {
        char *d;

        assert(b);
        if (b->oom) {
                textbuf_done(b);
                return NULL;
        }
        if (!b->data) {
                d = strdup("");
                if (ret_len)
                        *ret_len = 0;
                return d;
        }
        d = TAKE_PTR(b->data);
        if (ret_len)
                *ret_len = b->len;
        *b = (TextBuf) { 0 };
        return d;
}

void textbuf_done(TextBuf *b) {
        if (!b)
                return;
        free(b->data);
        *b = (TextBuf) { 0 };
}
