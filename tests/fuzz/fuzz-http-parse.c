/* SPDX-License-Identifier: MIT */
/* libFuzzer entry point for the HTTP request parser and what consumes its
 * output: head framing, request parsing, path normalization, entity tag
 * lists, dates and ranges. Besides memory safety (ASan/UBSan), it checks
 * properties: spans stay inside the head, incremental head search agrees
 * with a search from the start, a normalized path has no dot-segment. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "http_cond.h"
#include "http_date.h"
#include "http_encoding.h"
#include "http_parse.h"
#include "http_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void span_inside(HttpSpan s, const char *buf, size_t len) {
        if (!s.p || s.n == 0)
                return;
        /* "/" for an empty absolute-form path is a static string. */
        if (s.n == 1 && s.p[0] == '/' && (s.p < buf || s.p >= buf + len))
                return;
        assert(s.p >= buf && s.p + s.n <= buf + len);
}

static void exercise(const HttpRequest *req, const char *buf, size_t end) {
        span_inside(req->method_name, buf, end);
        span_inside(req->target, buf, end);
        span_inside(req->path, buf, end);
        span_inside(req->query, buf, end);
        span_inside(req->host, buf, end);
        span_inside(req->range, buf, end);
        assert(req->version == 10 || req->version == 11);
        assert(req->head_len == end);
        assert(!(req->chunked && req->has_content_length));

        if (req->path.n > 0 && req->path.p[0] == '/') {
                size_t out_size = req->path.n + 2, len;
                char *out = malloc(out_size);
                assert(out);
                if (http_path_normalize(req->path.p, req->path.n, out, out_size, &len) >= 0) {
                        assert(len == strlen(out) && out[0] == '/');
                        assert(!strstr(out, "/../") && !strstr(out, "/./") && !strstr(out, "//"));
                        assert(!(len >= 3 && strcmp(out + len - 3, "/..") == 0));
                        assert(!strchr(out, '\\'));
                        (void) http_path_has_dotfile(out, len);
                        char enc[512];
                        (void) http_path_encode(out, len, enc, sizeof(enc));
                }
                free(out);
        }

        struct stat st = { .st_ino = 1, .st_size = 100 };
        char etag[HTTP_ETAG_SIZE];
        assert(http_etag_format(&st, etag, sizeof(etag)) > 0);
        (void) http_cond_evaluate(req, etag, 784111777);
        (void) http_cond_evaluate(req, NULL, 0);
        (void) http_if_range_matches(req->if_range, etag, 784111777);

        static const uint64_t sizes[] = { 0, 1, 100, UINT64_MAX / 2 };
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                uint64_t first, last;
                if (http_range_parse(req->range, sizes[i], &first, &last) > 0)
                        assert(first <= last && last < sizes[i]);
        }

        HttpSpan v, e;
        size_t state = 0;
        while (http_parse_next_field(req->head, req->head_len, "if-none-match", &state, &v)) {
                span_inside(v, buf, end);
                size_t ls = 0;
                while (http_list_next(v, &ls, &e))
                        span_inside(e, buf, end);
        }
        (void) http_encoding_accepts(req->accept_encoding, "gzip");
        (void) http_encoding_accepts(req->accept_encoding, "br");
        if (req->user_agent.p) {
                time_t t;
                (void) http_date_parse(req->user_agent.p, req->user_agent.n, &t);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const HttpParseLimits limits = { .max_head = 8192, .max_target = 2048 };
        const char *why;

        /* An exact-size copy, so that ASan sees any read past the end. */
        char *buf = malloc(size ? size : 1);
        assert(buf);
        memcpy(buf, data, size);

        size_t end = http_parse_find_head_end(buf, size, 0);
        /* The search resumed from any earlier length finds the same end. */
        size_t half = size / 2;
        if (http_parse_find_head_end(buf, half, 0) == 0)
                assert(http_parse_find_head_end(buf, size, half) == end);

        if (end == 0) {
                int r = http_parse_check_partial(buf, size, &limits, &why);
                assert(r == 0 || http_parse_error_status(r) >= 400);
        } else {
                HttpRequest req;
                int r = http_parse_request(buf, end, &limits, &req, &why);
                if (r >= 0)
                        exercise(&req, buf, end);
                else
                        assert(why && http_parse_error_status(r) >= 400);
        }

        free(buf);
        return 0;
}
