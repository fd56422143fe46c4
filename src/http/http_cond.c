/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http_cond.h"
#include "http_date.h"

static size_t put_hex(char *o, uint64_t v) {
        static const char hex[] = "0123456789abcdef";
        char tmp[16];
        size_t n = 0;

        do {
                tmp[n++] = hex[v & 15];
                v >>= 4;
        } while (v > 0);
        for (size_t i = 0; i < n; i++)
                o[i] = tmp[n - 1 - i];
        return n;
}

int http_etag_format(const struct stat *st, char *buf, size_t size) {
        uint64_t ns = (uint64_t) st->st_mtim.tv_sec * 1000000000ULL + (uint64_t) st->st_mtim.tv_nsec;
        size_t n = 0;

        /* Three 64-bit numbers in hex, two dashes, two quotes, a NUL. */
        if (size < 3 * 16 + 5)
                return -ENOBUFS;
        buf[n++] = '"';
        n += put_hex(buf + n, (uint64_t) st->st_ino);
        buf[n++] = '-';
        n += put_hex(buf + n, (uint64_t) st->st_size);
        buf[n++] = '-';
        n += put_hex(buf + n, ns);
        buf[n++] = '"';
        buf[n] = '\0';
        return (int) n;
}

/* Whether one list element (an entity tag or "*") matches etag. Weak
 * comparison ignores the W/ prefix; strong comparison fails on it. */
static bool etag_element_matches(HttpSpan e, const char *etag, bool weak) {
        if (e.n == 1 && e.p[0] == '*')
                return true;
        if (!etag)
                return false;
        if (e.n >= 2 && e.p[0] == 'W' && e.p[1] == '/') {
                if (!weak)
                        return false;
                e.p += 2;
                e.n -= 2;
        }
        return e.n == strlen(etag) && memcmp(e.p, etag, e.n) == 0;
}

/* Matches against every field line of name: a client may split the list
 * over several lines, which together mean one list (RFC 9110 §5.3). */
static bool etag_list_matches(const HttpRequest *req, const char *name, HttpSpan first, unsigned n_lines,
                              const char *etag, bool weak) {
        HttpSpan v = first, e;
        size_t field_state = 0;

        for (unsigned line = 0; line < n_lines; line++) {
                if (n_lines > 1 && !http_parse_next_field(req->head, req->head_len, name, &field_state, &v))
                        break;
                size_t state = 0;
                while (http_list_next(v, &state, &e))
                        if (etag_element_matches(e, etag, weak))
                                return true;
        }
        return false;
}

unsigned http_cond_evaluate(const HttpRequest *req, const char *etag, time_t mtime) {
        time_t t;

        if (req->n_if_match > 0) {
                if (!etag_list_matches(req, "if-match", req->if_match, req->n_if_match, etag, false))
                        return 412;
        } else if (http_span_isset(req->if_unmodified_since) &&
                   http_date_parse(req->if_unmodified_since.p, req->if_unmodified_since.n, &t) >= 0 &&
                   mtime > t)
                return 412;

        if (req->n_if_none_match > 0) {
                if (etag_list_matches(req, "if-none-match", req->if_none_match, req->n_if_none_match, etag,
                                      true))
                        return 304;
        } else if (http_span_isset(req->if_modified_since) &&
                   http_date_parse(req->if_modified_since.p, req->if_modified_since.n, &t) >= 0 && mtime <= t)
                return 304;

        return 0;
}

/* Reads a run of digits, saturating at UINT64_MAX: a number too big for
 * 64 bits is still "bigger than the file". Returns the digits read. */
static size_t get_u64(const char *p, size_t n, uint64_t *ret) {
        uint64_t v = 0;
        size_t i = 0;

        for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
                unsigned d = (unsigned) (p[i] - '0');
                v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
        }
        *ret = v;
        return i;
}

int http_range_parse(HttpSpan range, uint64_t size, uint64_t *ret_first, uint64_t *ret_last) {
        uint64_t first, last;
        HttpSpan spec, other;
        size_t state = 0;

        if (!range.p || range.n < 6 || strncasecmp(range.p, "bytes=", 6) != 0)
                return 0;
        HttpSpan set = { .p = range.p + 6, .n = range.n - 6 };
        if (!http_list_next(set, &state, &spec))
                return 0;
        /* Several ranges: the whole file is a valid answer and spares a
         * multipart body. */
        if (http_list_next(set, &state, &other))
                return 0;
        /* An empty file has no byte to select; sending it whole (nothing)
         * is simpler for clients than a 416. */
        if (size == 0)
                return 0;

        const char *p = spec.p;
        size_t n = spec.n;
        if (p[0] == '-') {
                uint64_t suffix;
                if (get_u64(p + 1, n - 1, &suffix) != n - 1 || n == 1)
                        return 0;
                if (suffix == 0)
                        return -ERANGE;
                first = suffix >= size ? 0 : size - suffix;
                last = size - 1;
        } else {
                size_t k = get_u64(p, n, &first);
                if (k == 0 || k == n || p[k] != '-')
                        return 0;
                k++;
                if (k == n)
                        last = size - 1;
                else {
                        if (get_u64(p + k, n - k, &last) != n - k)
                                return 0;
                        if (last < first)
                                return 0;
                        if (last >= size)
                                last = size - 1;
                }
                if (first >= size)
                        return -ERANGE;
        }

        *ret_first = first;
        *ret_last = last;
        return 1;
}

bool http_if_range_matches(HttpSpan if_range, const char *etag, time_t mtime) {
        time_t t;

        if (!if_range.p)
                return true;
        if (if_range.n > 0 && (if_range.p[0] == '"' || if_range.p[0] == 'W'))
                return etag && if_range.p[0] == '"' && if_range.n == strlen(etag) &&
                       memcmp(if_range.p, etag, if_range.n) == 0;
        return http_date_parse(if_range.p, if_range.n, &t) >= 0 && t == mtime;
}
