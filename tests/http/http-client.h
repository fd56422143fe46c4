/* SPDX-License-Identifier: MIT */
#pragma once

/* A minimal HTTP/1.1 client and site fixture for the http integration
 * suites: enough to send raw bytes, read responses framed by
 * Content-Length, and look at status, fields and body. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

#define BIG_SIZE (1024 * 1024)

/* One connection with its unread bytes. */
typedef struct Client {
        int fd;
        char *buf;
        size_t len, size;
} Client;

typedef struct Response {
        unsigned status;
        char *head;          /* status line and fields, NUL-terminated */
        char *body;
        size_t body_len;
} Response;

static inline void response_done(Response *r) {
        free(r->head);
        free(r->body);
        *r = (Response) { .status = 0 };
}

static inline void client_close(Client *c) {
        safe_close(c->fd);
        free(c->buf);
        *c = (Client) { .fd = -EBADF };
}

static inline void client_open(Client *c, uint16_t port) {
        *c = (Client) { .fd = td_connect_tcp("127.0.0.1", port) };
        ck_assert_int_ge(c->fd, 0);
}

static inline void client_send(Client *c, const char *s) {
        ck_assert_int_ge(td_write_all(c->fd, s, strlen(s), TD_TIMEOUT), 0);
}

/* Reads more bytes into the buffer. Returns the number read, 0 on EOF, or
 * a negative errno. The socket has a receive timeout (testlib). */
static inline ssize_t client_fill(Client *c) {
        if (c->size - c->len < 65536) {
                c->size = c->size * 2 + 65536;
                c->buf = realloc(c->buf, c->size + 1);
                ck_assert_ptr_nonnull(c->buf);
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->size - c->len, 0);
        if (n < 0)
                return -errno;
        c->len += (size_t) n;
        c->buf[c->len] = '\0';
        return n;
}

/* The value of field name in a response head (a static copy), or NULL. */
static inline const char *response_field(const Response *r, const char *name) {
        static char value[1024];
        size_t n = strlen(name);

        for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
                if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
                        const char *v = p + 3 + n;
                        while (*v == ' ')
                                v++;
                        const char *e = strstr(v, "\r\n");
                        size_t l = e ? (size_t) (e - v) : strlen(v);
                        if (l >= sizeof(value))
                                l = sizeof(value) - 1;
                        memcpy(value, v, l);
                        value[l] = '\0';
                        return value;
                }
        }
        return NULL;
}

/* Reads one response. A body is read by Content-Length unless the request
 * was HEAD or the status has none (1xx, 204, 304). Returns 0, or -EPIPE
 * when the connection ended first (no response at all: -ENODATA). */
static inline int client_read_response(Client *c, bool head_request, Response *ret) {
        char *end;

        *ret = (Response) { .status = 0 };
        while (!c->buf || !(end = strstr(c->buf, "\r\n\r\n"))) {
                ssize_t n = client_fill(c);
                if (n == 0)
                        return c->len == 0 ? -ENODATA : -EPIPE;
                if (n < 0)
                        return (int) n;
        }
        size_t head_len = (size_t) (end - c->buf) + 4;
        ret->head = strndup(c->buf, head_len - 2);
        ck_assert_ptr_nonnull(ret->head);
        ck_assert_int_eq(sscanf(ret->head, "HTTP/1.1 %u ", &ret->status), 1);

        size_t body_len = 0;
        const char *cl = response_field(ret, "Content-Length");
        if (cl && !head_request && ret->status != 304 && ret->status >= 200 && ret->status != 204)
                body_len = strtoull(cl, NULL, 10);
        while (c->len < head_len + body_len) {
                ssize_t n = client_fill(c);
                if (n == 0)
                        return -EPIPE;
                if (n < 0)
                        return (int) n;
        }
        ret->body = malloc(body_len + 1);
        ck_assert_ptr_nonnull(ret->body);
        memcpy(ret->body, c->buf + head_len, body_len);
        ret->body[body_len] = '\0';
        ret->body_len = body_len;
        c->len -= head_len + body_len;
        memmove(c->buf, c->buf + head_len + body_len, c->len);
        c->buf[c->len] = '\0';
        return 0;
}

/* True when the server closes the connection with nothing more to read. */
static inline bool client_sees_eof(Client *c) {
        if (c->len > 0)
                return false;
        ssize_t n = client_fill(c);
        return n == 0 || n == -ECONNRESET;
}

/* One request on a fresh connection, one response. */
static inline void http_get(uint16_t port, const char *request, bool head_request, Response *ret) {
        Client c;
        client_open(&c, port);
        client_send(&c, request);
        ck_assert_int_eq(client_read_response(&c, head_request, ret), 0);
        client_close(&c);
}

static inline void site_file(TestDaemon *d, const char *name, const char *content) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", td_dir(d), name);
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fwrite(content, 1, strlen(content), f), strlen(content));
        ck_assert_int_eq(fclose(f), 0);
}

static inline void site_mkdir(TestDaemon *d, const char *name) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", td_dir(d), name);
        ck_assert_int_eq(mkdir(path, 0755), 0);
}

static inline void site_symlink(TestDaemon *d, const char *target, const char *name) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", td_dir(d), name);
        ck_assert_int_eq(symlink(target, path), 0);
}

/* The test site below DIR/site, and DIR/outside.txt next to it. */
static inline void site_create(TestDaemon *d) {
        site_mkdir(d, "site");
        site_file(d, "site/index.html", "<html>home</html>\n");
        site_file(d, "site/a.txt", "hello world\n");
        site_file(d, "site/style.css", "body{}\n");
        site_file(d, "site/data.unknownext", "?");
        site_file(d, "site/empty.txt", "");
        site_file(d, "site/.secret", "secret\n");
        site_mkdir(d, "site/.well-known");
        site_file(d, "site/.well-known/acme.txt", "token\n");
        site_mkdir(d, "site/dir");
        site_file(d, "site/dir/index.html", "<html>dir</html>\n");
        site_mkdir(d, "site/noindex");
        site_file(d, "site/noindex/<b>&\"x'.txt", "x");
        site_file(d, "site/noindex/.hidden", "h");
        site_mkdir(d, "site/noindex/sub");
        site_mkdir(d, "site/evil.com");
        site_file(d, "outside.txt", "outside\n");
        site_symlink(d, "a.txt", "site/link_in");
        site_symlink(d, "../outside.txt", "site/link_out");

        char path[4096], *big = malloc(BIG_SIZE);
        ck_assert_ptr_nonnull(big);
        td_random_fill(big, BIG_SIZE, 42);
        snprintf(path, sizeof(path), "%s/site/big.bin", td_dir(d));
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fwrite(big, 1, BIG_SIZE, f), BIG_SIZE);
        ck_assert_int_eq(fclose(f), 0);
        free(big);
}

/* Starts one http service "web" with the given extra settings in its http
 * group (and service group), serving DIR/site, with td_start()'s options
 * (NULL: none); returns its port. */
static inline void start_web_opts(TestDaemon **ret, unsigned workers, const char *http_extra, const char *svc_extra,
                                  const TdStartOptions *opts, uint16_t *ret_port) {
        TestDaemon *d = NULL;
        char *conf;

        TD_OK(NULL, td_new(&d));
        *ret = d;
        site_create(d);
        ck_assert_int_ge(asprintf(&conf,
                                  "log_level = \"info\";\n"
                                  "services = ( {\n"
                                  "  name = \"web\";\n"
                                  "  listen = [ \"127.0.0.1:0\" ];\n"
                                  "  workers = %u;\n"
                                  "  handler = \"http\";\n"
                                  "  %s\n"
                                  "  http = {\n"
                                  "    root = \"site\";\n"
                                  "    %s\n"
                                  "    %s\n"
                                  "  };\n"
                                  "} );\n",
                                  workers, svc_extra ? svc_extra : "", http_extra ? http_extra : "",
                                  http_extra && strstr(http_extra, "access_log") ? "" : "access_log = false;"),
                         0);
        TD_OK(d, td_write_config(d, conf));
        free(conf);
        TD_OK(d, td_start(d, opts));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "web", 0, ret_port));
}

static inline void start_web(TestDaemon **ret, unsigned workers, const char *http_extra, const char *svc_extra,
                             uint16_t *ret_port) {
        start_web_opts(ret, workers, http_extra, svc_extra, NULL, ret_port);
}

/* One worker of start_web() run by the fault-injecting test build
 * (tests/upgrade/meson.build) with $PREFORKD_TEST_FAULT set to FAULT. */
static inline void start_web_with_fault(TestDaemon **ret, const char *fault, const char *http_extra,
                                        uint16_t *ret_port) {
        char var[128];
        const char *const env[] = { var, NULL };
        const TdStartOptions opts = { .env = env, .binary = td_binary_variant("b") };

        (void) snprintf(var, sizeof var, "PREFORKD_TEST_FAULT=%s", fault);
        start_web_opts(ret, 1, http_extra, NULL, &opts, ret_port);
}

/* Reads a response from C and asserts it is site/a.txt, whole. */
static inline void read_a_txt(Client *c) {
        Response r;

        ck_assert_int_eq(client_read_response(c, false, &r), 0);
        ck_assert_uint_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello world\n");
        response_done(&r);
}

static inline void assert_clean_log(TestDaemon *d) {
        TD_ASSERT_MSG(d, !td_log_contains(d, "AddressSanitizer"), "AddressSanitizer report");
        TD_ASSERT_MSG(d, !td_log_contains(d, "LeakSanitizer"), "LeakSanitizer report");
        TD_ASSERT_MSG(d, !td_log_contains(d, "runtime error:"), "UBSan report");
}
