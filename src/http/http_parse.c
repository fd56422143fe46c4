/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http_parse.h"
#include "macros.h"

/* Longest method name we wait for; the longest registered one is 17. */
#define HTTP_METHOD_MAX 32

/* Character classes, one bit each, indexed by byte. */
enum {
        CC_TCHAR = 1 << 0,  /* token, RFC 9110 §5.6.2 */
        CC_VALUE = 1 << 1,  /* field-vchar / SP / HTAB (obs-text included) */
        CC_HOST = 1 << 2,   /* uri-host and port: unreserved, sub-delims, pct, ':', '[', ']' */
};

static unsigned char char_class[256];

/* Fills the table on first use; it is written once per process, before any
 * request, so workers share it copy-on-write with nothing to synchronise. */
static void char_class_init(void) {
        static bool done = false;
        if (_likely_(done))
                return;

        for (unsigned c = 0; c < 256; c++) {
                unsigned char m = 0;
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

                if (alnum || (c != 0 && strchr("!#$%&'*+-.^_`|~", (int) c)))
                        m |= CC_TCHAR;
                if (c == '\t' || (c >= 0x20 && c != 0x7f))
                        m |= CC_VALUE;
                if (alnum || (c != 0 && strchr("-._~!$&'()*+,;=%:[]", (int) c)))
                        m |= CC_HOST;
                char_class[c] = m;
        }
        done = true;
}

bool http_is_tchar(unsigned char c) {
        char_class_init();
        return char_class[c] & CC_TCHAR;
}

static bool is_ows(char c) {
        return c == ' ' || c == '\t';
}

static HttpSpan span_trim(const char *p, size_t n) {
        while (n > 0 && is_ows(p[0])) {
                p++;
                n--;
        }
        while (n > 0 && is_ows(p[n - 1]))
                n--;
        return (HttpSpan) { .p = p, .n = n };
}

bool http_span_equal_nocase(HttpSpan s, const char *word) {
        size_t n = strlen(word);
        return s.p && s.n == n && strncasecmp(s.p, word, n) == 0;
}

static bool span_has_prefix_nocase(const char *p, size_t n, const char *prefix) {
        size_t k = strlen(prefix);
        return n >= k && strncasecmp(p, prefix, k) == 0;
}

size_t http_parse_find_head_end(const char *buf, size_t len, size_t from) {
        size_t start = 0;

        /* Leading empty lines are not the end of a head. */
        while (start + 1 < len && buf[start] == '\r' && buf[start + 1] == '\n')
                start += 2;

        /* Step back so that a CRLF CRLF split across two reads is found. */
        size_t i = from > 3 ? from - 3 : 0;
        if (i < start)
                i = start;

        while (i + 4 <= len) {
                const char *cr = memchr(buf + i, '\r', len - i);
                if (!cr)
                        return 0;
                i = (size_t) (cr - buf);
                if (i + 4 > len)
                        return 0;
                if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
                        return i + 4;
                i++;
        }
        return 0;
}

/* Checks a request-line that may be incomplete. Returns 0 when all of p
 * seen so far is a valid prefix, 1 when the line is complete and valid
 * (storing its length including CRLF, the method, target and version), or a
 * negative errno. */
static int parse_request_line(const char *p, size_t n, const HttpParseLimits *lim, HttpRequest *req,
                              size_t *ret_len, const char **ret_why) {
        size_t i = 0;

        char_class_init();

        while (i < n && (char_class[(unsigned char) p[i]] & CC_TCHAR) && i <= HTTP_METHOD_MAX)
                i++;
        if (i > HTTP_METHOD_MAX) {
                *ret_why = "method too long";
                return -EBADMSG;
        }
        if (i == n)
                return 0;
        if (i == 0 || p[i] != ' ') {
                *ret_why = "malformed method";
                return -EBADMSG;
        }
        size_t method_len = i++;

        size_t target_start = i;
        while (i < n && (unsigned char) p[i] > 0x20 && (unsigned char) p[i] < 0x7f) {
                if (i - target_start >= lim->max_target) {
                        *ret_why = "request target too long";
                        return -ENAMETOOLONG;
                }
                i++;
        }
        if (i == n)
                return 0;
        size_t target_len = i - target_start;
        if (target_len == 0) {
                *ret_why = "empty request target";
                return -EBADMSG;
        }
        if (p[i] != ' ') {
                *ret_why = p[i] == '\r' ? "missing HTTP version" : "invalid character in request target";
                return -EBADMSG;
        }
        i++;

        /* "HTTP/" DIGIT "." DIGIT CRLF, checked as far as it has arrived. */
        static const char pattern[] = "HTTP/0.0\r\n";
        for (size_t k = 0; k < sizeof(pattern) - 1; k++) {
                if (i + k >= n)
                        return 0;
                char c = p[i + k], want = pattern[k];
                bool ok = want == '0' ? (c >= '0' && c <= '9') : c == want;
                if (!ok) {
                        *ret_why = k >= 8 ? "request line not terminated by CRLF" : "malformed HTTP version";
                        return -EBADMSG;
                }
        }

        unsigned major = (unsigned) (p[i + 5] - '0'), minor = (unsigned) (p[i + 7] - '0');
        if (major != 1) {
                *ret_why = "unsupported HTTP version";
                return -EPROTONOSUPPORT;
        }

        if (req) {
                req->method_name = (HttpSpan) { .p = p, .n = method_len };
                req->target = (HttpSpan) { .p = p + target_start, .n = target_len };
                req->version = minor == 0 ? 10 : 11;
                if (method_len == 3 && memcmp(p, "GET", 3) == 0)
                        req->method = HTTP_METHOD_GET;
                else if (method_len == 4 && memcmp(p, "HEAD", 4) == 0)
                        req->method = HTTP_METHOD_HEAD;
                else if (method_len == 7 && memcmp(p, "OPTIONS", 7) == 0)
                        req->method = HTTP_METHOD_OPTIONS;
                else
                        req->method = HTTP_METHOD_OTHER;
        }
        *ret_len = i + sizeof(pattern) - 1;
        return 1;
}

static size_t skip_empty_lines(const char *buf, size_t len) {
        size_t i = 0;
        while (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n')
                i += 2;
        return i;
}

int http_parse_check_partial(const char *buf, size_t len, const HttpParseLimits *lim, const char **ret_why) {
        const char *why = NULL;
        size_t line_len;
        int r;

        size_t start = skip_empty_lines(buf, len);
        if (start < len && buf[start] == '\r' && start + 1 == len)
                r = 0;
        else
                r = parse_request_line(buf + start, len - start, lim, NULL, &line_len, &why);
        if (r >= 0 && len >= lim->max_head) {
                why = "request head too large";
                r = -EMSGSIZE;
        }
        if (r < 0) {
                if (ret_why)
                        *ret_why = why;
                return r;
        }
        return 0;
}

static bool host_valid(HttpSpan h) {
        for (size_t i = 0; i < h.n; i++)
                if (!(char_class[(unsigned char) h.p[i]] & CC_HOST))
                        return false;
        return true;
}

/* Splits the request-target into path and query by its form (RFC 9112
 * §3.2): origin-form, absolute-form (http and https, whose authority then
 * stands for Host), asterisk-form (OPTIONS only) and authority-form
 * (CONNECT only). */
static int parse_target(HttpRequest *req, const char **ret_why) {
        const char *p = req->target.p;
        size_t n = req->target.n;

        if (memchr(p, '#', n)) {
                *ret_why = "fragment in request target";
                return -EBADMSG;
        }

        if (p[0] != '/') {
                if (n == 1 && p[0] == '*') {
                        if (req->method != HTTP_METHOD_OPTIONS) {
                                *ret_why = "asterisk-form target with a method other than OPTIONS";
                                return -EBADMSG;
                        }
                        req->path = (HttpSpan) { .p = p, .n = 0 };
                        return 0;
                }

                size_t skip;
                if (span_has_prefix_nocase(p, n, "http://"))
                        skip = 7;
                else if (span_has_prefix_nocase(p, n, "https://"))
                        skip = 8;
                else if (req->method_name.n == 7 && memcmp(req->method_name.p, "CONNECT", 7) == 0) {
                        req->path = (HttpSpan) { .p = p, .n = 0 };
                        return 0;
                } else {
                        *ret_why = "request target is neither origin-form nor absolute-form";
                        return -EBADMSG;
                }

                size_t a = skip;
                while (a < n && p[a] != '/' && p[a] != '?')
                        a++;
                HttpSpan authority = { .p = p + skip, .n = a - skip };
                if (authority.n == 0 || !host_valid(authority) || memchr(authority.p, '@', authority.n)) {
                        *ret_why = "invalid authority in absolute-form target";
                        return -EBADMSG;
                }
                p += a;
                n -= a;
                if (n == 0 || p[0] == '?') {
                        /* An empty path stands for "/" (RFC 9112 §3.2.1). */
                        req->path = (HttpSpan) { .p = "/", .n = 1 };
                        if (n > 0)
                                req->query = (HttpSpan) { .p = p + 1, .n = n - 1 };
                        return 0;
                }
        }

        const char *q = memchr(p, '?', n);
        if (q) {
                req->path = (HttpSpan) { .p = p, .n = (size_t) (q - p) };
                req->query = (HttpSpan) { .p = q + 1, .n = n - (size_t) (q - p) - 1 };
        } else
                req->path = (HttpSpan) { .p = p, .n = n };
        return 0;
}

static int parse_uint64(HttpSpan s, uint64_t *ret) {
        uint64_t v = 0;

        if (s.n == 0 || s.n > 18)
                return -EINVAL;
        for (size_t i = 0; i < s.n; i++) {
                if (s.p[i] < '0' || s.p[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (s.p[i] - '0');
        }
        *ret = v;
        return 0;
}

/* Transfer-Encoding, possibly over several lines. Tracks whether chunked
 * is the last coding, whether it appeared before (applying chunked twice is
 * invalid) and whether some coding is unknown. */
typedef struct TransferCodings {
        bool seen;
        bool last_chunked;
        bool chunked_twice;
        bool unknown;
} TransferCodings;

static void parse_transfer_encoding(HttpSpan v, TransferCodings *tc) {
        HttpSpan e;
        size_t state = 0;

        tc->seen = true;
        while (http_list_next(v, &state, &e)) {
                const char *semi = memchr(e.p, ';', e.n);
                HttpSpan name = semi ? span_trim(e.p, (size_t) (semi - e.p)) : e;

                if (tc->last_chunked)
                        tc->chunked_twice = true;
                tc->last_chunked = http_span_equal_nocase(name, "chunked");
                if (!tc->last_chunked && !http_span_equal_nocase(name, "gzip") &&
                    !http_span_equal_nocase(name, "x-gzip") && !http_span_equal_nocase(name, "deflate") &&
                    !http_span_equal_nocase(name, "compress") && !http_span_equal_nocase(name, "x-compress"))
                        tc->unknown = true;
        }
}

static bool name_is(const char *name, size_t n, const char *lower) {
        return strlen(lower) == n && strncasecmp(name, lower, n) == 0;
}

/* Stores a single-valued field; a second line makes it invalid, which the
 * caller decides how to treat. Returns false on a duplicate. */
static bool set_once(HttpSpan *slot, HttpSpan v) {
        if (slot->p)
                return false;
        *slot = v;
        return true;
}

/* Applies one field line to req. Fields this server does not use are
 * validated by the caller and otherwise ignored. */
static int apply_field(HttpRequest *req, const char *name, size_t name_len, HttpSpan v, TransferCodings *tc,
                       bool *dup_ims, bool *dup_ius, bool *dup_range, const char **ret_why) {
        switch (name_len) {
        case 4:
                if (name_is(name, name_len, "host")) {
                        if (req->host.p) {
                                *ret_why = "more than one Host field";
                                return -EBADMSG;
                        }
                        /* An empty value is only meant for a target
                         * URI without authority (RFC 9110 §7.2), which an
                         * http(s) URI never is: its host must not be
                         * empty (§4.2.1), so the field is invalid (RFC
                         * 9112 §3.2: 400), also in absolute-form. */
                        if (v.n == 0) {
                                *ret_why = "empty Host field";
                                return -EBADMSG;
                        }
                        if (!host_valid(v)) {
                                *ret_why = "invalid Host field";
                                return -EBADMSG;
                        }
                        req->host = v;
                }
                break;
        case 5:
                if (name_is(name, name_len, "range") && !set_once(&req->range, v))
                        *dup_range = true;
                break;
        case 6:
                if (name_is(name, name_len, "expect")) {
                        if (http_span_equal_nocase(v, "100-continue"))
                                req->expect_continue = true;
                        else
                                req->expect_unknown = true;
                }
                break;
        case 7:
                if (name_is(name, name_len, "referer"))
                        req->referer = v;
                break;
        case 8:
                if (name_is(name, name_len, "if-match")) {
                        if (req->n_if_match++ == 0)
                                req->if_match = v;
                } else if (name_is(name, name_len, "if-range") && !set_once(&req->if_range, v))
                        *dup_range = true;
                break;
        case 10:
                if (name_is(name, name_len, "connection")) {
                        HttpSpan e;
                        size_t state = 0;
                        while (http_list_next(v, &state, &e)) {
                                if (http_span_equal_nocase(e, "close"))
                                        req->conn_close = true;
                                else if (http_span_equal_nocase(e, "keep-alive"))
                                        req->conn_keep_alive = true;
                        }
                } else if (name_is(name, name_len, "user-agent"))
                        req->user_agent = v;
                break;
        case 13:
                if (name_is(name, name_len, "if-none-match")) {
                        if (req->n_if_none_match++ == 0)
                                req->if_none_match = v;
                }
                break;
        case 14:
                if (name_is(name, name_len, "content-length")) {
                        if (req->has_content_length) {
                                *ret_why = "more than one Content-Length field";
                                return -EBADMSG;
                        }
                        if (parse_uint64(v, &req->content_length) < 0) {
                                *ret_why = "invalid Content-Length";
                                return -EBADMSG;
                        }
                        req->has_content_length = true;
                }
                break;
        case 15:
                /* Several lines are rare; the first one decides. */
                if (name_is(name, name_len, "accept-encoding") && !req->accept_encoding.p)
                        req->accept_encoding = v;
                break;
        case 17:
                if (name_is(name, name_len, "if-modified-since") && !set_once(&req->if_modified_since, v))
                        *dup_ims = true;
                else if (name_is(name, name_len, "transfer-encoding"))
                        parse_transfer_encoding(v, tc);
                break;
        case 19:
                if (name_is(name, name_len, "if-unmodified-since") && !set_once(&req->if_unmodified_since, v))
                        *dup_ius = true;
                break;
        default:
                break;
        }
        return 0;
}

/* Message framing per RFC 9112 §6.1 and §6.3: a Transfer-Encoding the
 * server cannot follow makes the stream untrustworthy. */
static int check_framing(HttpRequest *req, const TransferCodings *tc, const char **ret_why) {
        if (!tc->seen)
                return 0;
        if (req->version == 10) {
                *ret_why = "Transfer-Encoding in an HTTP/1.0 request";
                return -EBADMSG;
        }
        if (req->has_content_length) {
                *ret_why = "both Transfer-Encoding and Content-Length";
                return -EBADMSG;
        }
        if (!tc->last_chunked || tc->chunked_twice) {
                *ret_why = "Transfer-Encoding does not end with a single chunked";
                return -EBADMSG;
        }
        if (tc->unknown) {
                *ret_why = "unknown transfer coding";
                return -EOPNOTSUPP;
        }
        req->chunked = true;
        return 0;
}

int http_parse_request(const char *buf, size_t len, const HttpParseLimits *lim, HttpRequest *ret,
                       const char **ret_why) {
        HttpRequest req = { .head = NULL };
        TransferCodings tc = { .seen = false };
        bool dup_ims = false, dup_ius = false, dup_range = false;
        const char *why = NULL;
        size_t line_len;
        int r;

        char_class_init();

        size_t start = skip_empty_lines(buf, len);
        size_t end = http_parse_find_head_end(buf, len, 0);
        if (end == 0) {
                why = "incomplete request head";
                r = -EBADMSG;
                goto fail;
        }
        if (end > lim->max_head) {
                why = "request head too large";
                r = -EMSGSIZE;
                goto fail;
        }

        r = parse_request_line(buf + start, end - start, lim, &req, &line_len, &why);
        if (r == 0) {
                why = "malformed request line";
                r = -EBADMSG;
        }
        if (r < 0)
                goto fail;

        r = parse_target(&req, &why);
        if (r < 0)
                goto fail;

        size_t i = start + line_len;
        for (;;) {
                const char *line = buf + i;
                const char *lf = memchr(line, '\n', end - i);
                /* The head ends with CRLF CRLF, so a LF is always found. */
                size_t n = (size_t) (lf - line);

                if (n == 0 || line[n - 1] != '\r') {
                        why = "line not terminated by CRLF";
                        r = -EBADMSG;
                        goto fail;
                }
                n--;
                i += n + 2;
                if (n == 0)
                        break;

                if (is_ows(line[0])) {
                        why = "obsolete line folding or whitespace before a field name";
                        r = -EBADMSG;
                        goto fail;
                }

                size_t k = 0;
                while (k < n && (char_class[(unsigned char) line[k]] & CC_TCHAR))
                        k++;
                if (k == 0 || k == n || line[k] != ':') {
                        why = "malformed field name";
                        r = -EBADMSG;
                        goto fail;
                }

                for (size_t j = k + 1; j < n; j++)
                        if (!(char_class[(unsigned char) line[j]] & CC_VALUE)) {
                                why = line[j] == '\r' ? "bare CR in field" : "control character in field value";
                                r = -EBADMSG;
                                goto fail;
                        }

                r = apply_field(&req, line, k, span_trim(line + k + 1, n - k - 1), &tc, &dup_ims, &dup_ius,
                                &dup_range, &why);
                if (r < 0)
                        goto fail;
        }

        if (req.version == 11 && !req.host.p) {
                why = "HTTP/1.1 request without Host";
                r = -EBADMSG;
                goto fail;
        }

        r = check_framing(&req, &tc, &why);
        if (r < 0)
                goto fail;

        /* A single-valued field sent twice is invalid, and an invalid
         * precondition or Range is ignored (RFC 9110 §13.1.3, §14.2). */
        if (dup_ims)
                req.if_modified_since = (HttpSpan) { .p = NULL };
        if (dup_ius)
                req.if_unmodified_since = (HttpSpan) { .p = NULL };
        if (dup_range)
                req.range = req.if_range = (HttpSpan) { .p = NULL };
        if (req.version == 10)
                req.expect_continue = req.expect_unknown = false;

        req.head = buf;
        req.head_len = end;
        *ret = req;
        return 0;

fail:
        if (ret_why)
                *ret_why = why;
        return r;
}

unsigned http_parse_error_status(int error) {
        switch (error) {
        case -ENAMETOOLONG:
                return 414;
        case -EMSGSIZE:
                return 431;
        case -EOPNOTSUPP:
                return 501;
        case -EPROTONOSUPPORT:
                return 505;
        default:
                return 400;
        }
}

bool http_parse_next_field(const char *head, size_t head_len, const char *name, size_t *state,
                           HttpSpan *ret_value) {
        size_t name_len = strlen(name);
        size_t i = *state;

        if (i == 0) {
                /* Skip the empty lines and the request-line. */
                i = skip_empty_lines(head, head_len);
                const char *lf = memchr(head + i, '\n', head_len - i);
                if (!lf)
                        return false;
                i = (size_t) (lf - head) + 1;
        }

        while (i < head_len) {
                const char *line = head + i;
                const char *lf = memchr(line, '\n', head_len - i);
                if (!lf)
                        break;
                size_t n = (size_t) (lf - line);
                i += n + 1;
                if (n <= 1)
                        break;
                n--;
                if (n > name_len && line[name_len] == ':' && strncasecmp(line, name, name_len) == 0) {
                        *state = i;
                        *ret_value = span_trim(line + name_len + 1, n - name_len - 1);
                        return true;
                }
        }
        *state = head_len;
        return false;
}

bool http_list_next(HttpSpan list, size_t *state, HttpSpan *ret_element) {
        size_t i = *state;

        while (list.p && i < list.n) {
                size_t start = i;
                bool quoted = false;

                for (; i < list.n; i++) {
                        char c = list.p[i];
                        if (quoted && c == '\\' && i + 1 < list.n)
                                i++;
                        else if (c == '"')
                                quoted = !quoted;
                        else if (c == ',' && !quoted)
                                break;
                }
                HttpSpan e = span_trim(list.p + start, i - start);
                if (i < list.n)
                        i++;
                if (e.n > 0) {
                        *state = i;
                        *ret_element = e;
                        return true;
                }
        }
        *state = list.n;
        return false;
}
