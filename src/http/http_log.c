/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include "http_log.h"
#include "log.h"

/* Longest escaped piece of a request the log quotes; the rest is cut. */
#define LOG_PIECE_MAX 2048

void http_log_format_remote(const struct sockaddr *sa, socklen_t len, char *buf, size_t size) {
        char a[INET6_ADDRSTRLEN];

        if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
                (void) inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
                (void) snprintf(buf, size, "%s:%u", a, (unsigned) ntohs(in->sin_port));
        } else if (sa && sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
                (void) inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
                (void) snprintf(buf, size, "[%s]:%u", a, (unsigned) ntohs(in6->sin6_port));
        } else
                (void) snprintf(buf, size, "%s", sa && sa->sa_family == AF_UNIX ? "unix" : "-");
}

/* Appends s escaped for a quoted log string: '"', '\' and every byte
 * outside printable ASCII become \xHH, so a client cannot forge a line or
 * a field. Returns the new position (never past end - 1). */
static char *escape(char *o, char *end, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";

        if (n > LOG_PIECE_MAX)
                n = LOG_PIECE_MAX;
        for (size_t i = 0; i < n && end - o > 4; i++) {
                unsigned char ch = (unsigned char) s[i];
                if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
                        *o++ = (char) ch;
                else {
                        *o++ = '\\';
                        *o++ = 'x';
                        *o++ = hex[ch >> 4];
                        *o++ = hex[ch & 15];
                }
        }
        *o = '\0';
        return o;
}

/* Copies "KEY=" and the escaped value into the log buffer and returns the
 * field's start, moving *o past its NUL. */
static const char *field(char **o, char *end, const char *key, const char *s, size_t n) {
        char *start = *o;
        size_t k = strlen(key);

        if ((size_t) (end - *o) < k + 2) {
                *start = '\0';
                return start;
        }
        memcpy(*o, key, k);
        *o = escape(*o + k, end, s, n) + 1;
        return start;
}

void http_log_access(const HttpConn *c, const HttpRequest *req, uint64_t duration_usec) {
        const HttpWorker *w = c->w;
        char *o = w->log, *end = w->log + w->log_size;
        const char *fields[12];
        size_t n = 0;
        char num[4][48], ts[40];
        struct tm tm;

        time_t now = time(NULL);
        (void) gmtime_r(&now, &tm);
        (void) strftime(ts, sizeof(ts), "%d/%b/%Y:%H:%M:%S +0000", &tm);

        HttpSpan method = req ? req->method_name : (HttpSpan) { .p = "-", .n = 1 };
        HttpSpan target = req ? req->target : (HttpSpan) { .p = "-", .n = 1 };
        HttpSpan referer = req && req->referer.p ? req->referer : (HttpSpan) { .p = "-", .n = 1 };
        HttpSpan agent = req && req->user_agent.p ? req->user_agent : (HttpSpan) { .p = "-", .n = 1 };
        const char *version = !req ? "-" : req->version == 10 ? "HTTP/1.0" : "HTTP/1.1";

        /* Fields first, each NUL-terminated in the buffer. */
        (void) snprintf(num[0], sizeof(num[0]), "PREFORKD_HTTP_STATUS=%u", c->status);
        (void) snprintf(num[1], sizeof(num[1]), "PREFORKD_HTTP_BYTES=%" PRIu64, c->body_bytes);
        (void) snprintf(num[2], sizeof(num[2]), "PREFORKD_HTTP_DURATION_US=%" PRIu64, duration_usec);
        (void) snprintf(num[3], sizeof(num[3]), "PREFORKD_HTTP_VERSION=%s", version);
        fields[n++] = num[0];
        fields[n++] = num[1];
        fields[n++] = num[2];
        fields[n++] = num[3];
        fields[n++] = field(&o, end, "PREFORKD_SERVICE=", w->svc->name, strlen(w->svc->name));
        fields[n++] = field(&o, end, "PREFORKD_REMOTE=", c->remote, strlen(c->remote));
        /* The client: from the PROXY header when the service takes one. */
        fields[n++] = field(&o, end, "PREFORKD_CLIENT=", c->remote, strlen(c->remote));
        fields[n++] = field(&o, end, "PREFORKD_HTTP_METHOD=", method.p, method.n);
        fields[n++] = field(&o, end, "PREFORKD_HTTP_TARGET=", target.p, target.n);
        if (req && req->referer.p)
                fields[n++] = field(&o, end, "PREFORKD_HTTP_REFERER=", referer.p, referer.n);
        if (req && req->user_agent.p)
                fields[n++] = field(&o, end, "PREFORKD_HTTP_USER_AGENT=", agent.p, agent.n);

        /* Then the message, in the combined log format. */
        char *msg = o;
        if (end - o < 256)
                return;
        o += snprintf(o, (size_t) (end - o), "%s - - [%s] \"", c->remote, ts);
        if (req) {
                o = escape(o, end, method.p, method.n);
                *o++ = ' ';
                o = escape(o, end, target.p, target.n);
                o += snprintf(o, (size_t) (end - o), " %s", version);
        } else {
                /* The request line could not be parsed: quote what came. */
                const char *eol = memchr(w->in, '\r', c->in_len);
                o = escape(o, end, w->in, eol ? (size_t) (eol - w->in) : c->in_len);
        }
        if (end - o < 64)
                return;
        o += snprintf(o, (size_t) (end - o), "\" %u %" PRIu64 " \"", c->status, c->body_bytes);
        o = escape(o, end, referer.p, referer.n);
        if (end - o < 8)
                return;
        memcpy(o, "\" \"", 3);
        o = escape(o + 3, end, agent.p, agent.n);
        if (end - o >= 2)
                memcpy(o, "\"", 2);

        log_record(LOG_INFO, msg, fields, n);
}
