/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_autoindex.h"
#include "http_cache.h"
#include "http_cond.h"
#include "http_date.h"
#include "http_encoding.h"
#include "http_mime.h"
#include "http_path.h"
#include "http_response.h"
#include "http_serve.h"
#include "log.h"
#include "time-util.h"

static int send_status(HttpConn *c, const HttpRequest *req, unsigned status) {
        return http_send_error(c, status, req->method == HTTP_METHOD_HEAD, req->version, NULL, 0);
}

/* How every path of a request is opened: the file, its index names and
 * its precompressed variants alike. */
static HttpPathFlags path_flags(const HttpConfig *cfg) {
        return (cfg->follow_symlinks ? HTTP_PATH_FOLLOW_SYMLINKS : 0) |
               (cfg->dotfiles == HTTP_DOTFILES_DENY ? HTTP_PATH_DENY_DOTFILES : 0) |
               (cfg->dotfiles == HTTP_DOTFILES_HIDE ? HTTP_PATH_HIDE_DOTFILES : 0);
}

/* Maps a failed lookup to a status. Only what points at the server itself
 * (out of fds, an unexpected errno) is logged; a client asking for a
 * missing or forbidden file is routine. */
static unsigned status_for_open_error(const HttpConn *c, int error) {
        switch (error) {
        case -ENOENT:
        case -ENOTDIR:
        case -ENAMETOOLONG:
                return 404;
        case -EACCES:
        case -EPERM:
        case -ELOOP:  /* a symlink where none may be followed */
        case -EXDEV:  /* a ".." or symlink that would leave the root */
        case -ENXIO:  /* neither a regular file nor a directory */
                return 403;
        case -EAGAIN: /* renames kept racing with the lookup */
                return 503;
        default:
                log_warning_errno(error, "%s: cannot open %s below %s: %s", c->w->svc->name, c->w->path,
                                  c->w->cfg->root, STRERROR(error));
                return error == -EMFILE || error == -ENFILE ? 503 : 500;
        }
}

/* Whether a media type gets the configured charset parameter: the textual
 * types a browser would otherwise have to guess for. */
static bool type_takes_charset(const char *type) {
        return strncmp(type, "text/", 5) == 0 || strcmp(type, "application/javascript") == 0 ||
               strcmp(type, "application/json") == 0 || strcmp(type, "application/xml") == 0;
}

/* The media type of a file named name, remembered with its cache entry. */
static const char *file_type(const HttpConfig *cfg, const HttpFile *f, const char *name, size_t len) {
        if (f->entry && f->entry->type)
                return f->entry->type;
        const char *type = http_mime_lookup(cfg->mime, name, len);
        if (!type)
                type = cfg->default_type;
        if (f->entry)
                f->entry->type = type;
        return type;
}

static void add_content_type(HttpHead *h, const HttpConfig *cfg, const char *type) {
        http_head_add(h, "Content-Type: ", 14);
        http_head_add_str(h, type);
        if (cfg->charset && type_takes_charset(type)) {
                http_head_add(h, "; charset=", 10);
                http_head_add_str(h, cfg->charset);
        }
        http_head_add(h, "\r\n", 2);
}

/* Last-Modified text of the most recent file: consecutive requests mostly
 * ask for files of the same age, so one entry saves most conversions. */
static const char *last_modified(time_t mtime) {
        static time_t cached_sec = (time_t) -1;
        static char cached[HTTP_DATE_SIZE];

        if (mtime != cached_sec) {
                if (http_date_format(mtime, cached) < 0)
                        return NULL;
                cached_sec = mtime;
        }
        return cached;
}

/* The entity tag of f, remembered with its cache entry; NULL when
 * entity tags are off. */
static const char *file_etag(const HttpConfig *cfg, const HttpFile *f, char buf[static HTTP_ETAG_SIZE]) {
        if (!cfg->etag)
                return NULL;
        if (f->entry && f->entry->etag[0])
                return f->entry->etag;
        if (http_etag_format(&f->st, buf, HTTP_ETAG_SIZE) <= 0)
                return NULL;
        if (f->entry)
                memcpy(f->entry->etag, buf, HTTP_ETAG_SIZE);
        return buf;
}

/* Sends one regular file (encoding: its content coding when it is a
 * precompressed variant, else NULL) as type. */
static int serve_file(HttpConn *c, const HttpRequest *req, const HttpFile *f, const char *type,
                      const char *encoding) {
        const HttpConfig *cfg = c->w->cfg;
        char etag_buf[HTTP_ETAG_SIZE];
        const char *etag = file_etag(cfg, f, etag_buf);
        uint64_t size = (uint64_t) f->st.st_size, first = 0, last = 0;
        unsigned status = 200;
        HttpHead h;
        int r;

        time_t mtime = f->st.st_mtim.tv_sec;

        unsigned cond = http_cond_evaluate(req, etag, mtime);
        if (cond == 412)
                return send_status(c, req, 412);
        if (cond == 304)
                status = 304;
        else if (req->method == HTTP_METHOD_GET && http_span_isset(req->range) &&
                 http_if_range_matches(req->if_range, etag, mtime)) {
                r = http_range_parse(req->range, size, &first, &last);
                if (r == -ERANGE) {
                        char cr[64];
                        int n = snprintf(cr, sizeof(cr), "Content-Range: bytes */%" PRIu64 "\r\n", size);
                        return http_send_error(c, 416, false, req->version, cr, (size_t) n);
                }
                if (r > 0)
                        status = 206;
        }

        uint64_t body_len = status == 304 ? 0 : status == 206 ? last - first + 1 : size;

        http_head_start(&h, c, status);
        if (status != 304) {
                add_content_type(&h, cfg, type);
                http_head_field_u64(&h, "Content-Length", body_len);
        }
        if (encoding)
                http_head_field(&h, "Content-Encoding", encoding);
        if (cfg->precompressed)
                http_head_add_str(&h, "Vary: Accept-Encoding\r\n");
        const char *lm = last_modified(mtime);
        if (lm)
                http_head_field(&h, "Last-Modified", lm);
        if (etag)
                http_head_field(&h, "ETag", etag);
        if (status != 304)
                http_head_add_str(&h, "Accept-Ranges: bytes\r\n");
        if (cfg->cache_control)
                http_head_field(&h, "Cache-Control", cfg->cache_control);
        if (cfg->extra_headers)
                http_head_add(&h, cfg->extra_headers, cfg->extra_headers_len);
        if (status == 206) {
                http_head_add_str(&h, "Content-Range: bytes ");
                http_head_add_u64(&h, first);
                http_head_add(&h, "-", 1);
                http_head_add_u64(&h, last);
                http_head_add(&h, "/", 1);
                http_head_add_u64(&h, size);
                http_head_add(&h, "\r\n", 2);
        }
        r = http_head_finish(&h, c, req->version);
        if (r < 0)
                return send_status(c, req, 500);

        c->status = status;
        bool body = req->method != HTTP_METHOD_HEAD && body_len > 0;
        if (body && body_len <= HTTP_SMALL_FILE_MAX && body_len <= h.size - h.len) {
                /* A small body goes behind the head in the same buffer and
                 * out with it in one send: one system call for the
                 * response instead of a send and a sendfile (and no read
                 * at all when the cache keeps the file's contents). */
                r = http_file_read(c->w->cache, f, h.buf + h.len, first, (size_t) body_len);
                if (r < 0)
                        return r;
                r = http_send_all(c, h.buf, h.len + (size_t) body_len, false);
                if (r >= 0)
                        c->body_bytes += body_len;
                return r;
        }
        r = http_send_all(c, h.buf, h.len, body);
        if (r < 0 || !body)
                return r;
        return http_send_file(c, f->fd, first, body_len);
}

/* A regular file, or its precompressed variant (FILE.br, FILE.gz next to
 * it, as nginx's gzip_static) when that is on and the client accepts the
 * coding. The variant is looked up like any path below the root. w->path
 * holds the file's path, path_len long, with room for the suffix. */
static int serve_regular(HttpConn *c, const HttpRequest *req, const HttpFile *f, const char *name,
                         size_t name_len, size_t path_len) {
        static const struct {
                const char *coding, *suffix;
        } variants[] = {
                { "br", ".br" },
                { "gzip", ".gz" },
        };
        HttpWorker *w = c->w;
        const char *type = file_type(w->cfg, f, name, name_len);

        if (!w->cfg->precompressed || !req->accept_encoding.p)
                return serve_file(c, req, f, type, NULL);

        for (size_t i = 0; i < ELEMENTSOF(variants); i++) {
                _cleanup_(http_file_close) HttpFile v = HTTP_FILE_NULL;
                int r;

                if (!http_encoding_accepts(req->accept_encoding, variants[i].coding))
                        continue;
                memcpy(w->path + path_len, variants[i].suffix, 4);
                r = http_cache_open(w->cache, w->root_fd, w->path, path_flags(w->cfg), &v);
                w->path[path_len] = '\0';
                if (r >= 0 && S_ISREG(v.st.st_mode))
                        return serve_file(c, req, &v, type, variants[i].coding);
        }
        return serve_file(c, req, f, type, NULL);
}

/* A directory asked for without its trailing slash: send the client to the
 * slash form, so that relative links in its index resolve. The Location is
 * built from the normalized path, never from the raw target, so it cannot
 * become "//host" (an open redirect to another site). */
static int redirect_to_slash(HttpConn *c, const HttpRequest *req, size_t len) {
        HttpWorker *w = c->w;
        char *o = w->scratch;
        size_t size = w->scratch_size;

        static const char prefix[] = "Location: ";
        memcpy(o, prefix, sizeof(prefix) - 1);
        int n = http_path_encode(w->path, len, o + sizeof(prefix) - 1, size - sizeof(prefix) + 1);
        if (n < 0)
                return send_status(c, req, 500);
        size_t l = sizeof(prefix) - 1 + (size_t) n;
        if (l + 4 + (req->query.p ? req->query.n + 1 : 0) > size)
                return send_status(c, req, 500);
        o[l++] = '/';
        if (req->query.p) {
                o[l++] = '?';
                memcpy(o + l, req->query.p, req->query.n);
                l += req->query.n;
        }
        o[l++] = '\r';
        o[l++] = '\n';
        return http_send_error(c, 301, req->method == HTTP_METHOD_HEAD, req->version, o, l);
}

static int serve_autoindex(HttpConn *c, const HttpRequest *req, int dir_fd) {
        _cleanup_free_ char *body = NULL;
        size_t body_len;
        HttpHead h;
        int r;

        r = http_autoindex_render(dir_fd, c->w->path, c->w->cfg->dotfiles == HTTP_DOTFILES_ALLOW, &body,
                                  &body_len);
        /* A directory that may be searched (its index files are served)
         * but not read. */
        if (r == -EACCES || r == -EPERM)
                return send_status(c, req, 403);
        if (r < 0) {
                log_warning_errno(r, "%s: cannot list %s below %s: %s", c->w->svc->name, c->w->path,
                                  c->w->cfg->root, STRERROR(r));
                return send_status(c, req, 500);
        }

        http_head_start(&h, c, 200);
        http_head_add_str(&h, "Content-Type: text/html; charset=utf-8\r\n");
        http_head_field_u64(&h, "Content-Length", body_len);
        http_head_add_str(&h, "Cache-Control: no-cache\r\n");
        if (c->w->cfg->extra_headers)
                http_head_add(&h, c->w->cfg->extra_headers, c->w->cfg->extra_headers_len);
        r = http_head_finish(&h, c, req->version);
        if (r < 0)
                return send_status(c, req, 500);

        c->status = 200;
        bool send_body = req->method != HTTP_METHOD_HEAD;
        r = http_send_all(c, h.buf, h.len, send_body);
        if (r < 0 || !send_body)
                return r;
        r = http_send_all(c, body, body_len, false);
        if (r >= 0)
                c->body_bytes += body_len;
        return r;
}

/* A directory: its index file if one exists, else the listing when
 * autoindex is on, else 403 (a directory's contents are not for the
 * asking). */
static int serve_directory(HttpConn *c, const HttpRequest *req, int dir_fd, size_t len) {
        HttpWorker *w = c->w;
        int r;

        if (w->path[len - 1] != '/')
                return redirect_to_slash(c, req, len);

        for (char **i = w->cfg->index; *i; i++) {
                _cleanup_(http_file_close) HttpFile f = HTTP_FILE_NULL;
                size_t n = strlen(*i);

                memcpy(w->path + len, *i, n + 1);
                r = http_cache_open(w->cache, w->root_fd, w->path, path_flags(w->cfg), &f);
                if (r >= 0 && S_ISREG(f.st.st_mode)) {
                        r = serve_regular(c, req, &f, *i, n, len + n);
                        w->path[len] = '\0';
                        return r;
                }
                w->path[len] = '\0';
                /* A missing (or hidden) index, and one that is a directory
                 * or no file at all (a FIFO, a socket), gives way to the
                 * next one; a denied dotfile is 403. */
                if (r < 0 && r != -ENOENT && r != -ENOTDIR && r != -ENXIO)
                        return send_status(c, req, status_for_open_error(c, r));
        }

        if (w->cfg->autoindex)
                return serve_autoindex(c, req, dir_fd);
        return send_status(c, req, 403);
}

/* The methods every resource allows, for 405 and OPTIONS alike. */
#define ALLOW_FIELD "Allow: GET, HEAD, OPTIONS\r\n"

/* OPTIONS, for the server ("*") or any path: what a static file server
 * allows does not depend on the resource, so no lookup is made. 204 has
 * no content, hence neither Content-Length nor Content-Type (RFC 9110
 * §8.6, §9.3.7). */
static int serve_options(HttpConn *c, const HttpRequest *req) {
        HttpHead h;
        int r;

        http_head_start(&h, c, 204);
        http_head_add_str(&h, ALLOW_FIELD);
        r = http_head_finish(&h, c, req->version);
        if (r < 0)
                return send_status(c, req, 500);
        c->status = 204;
        return http_send_all(c, h.buf, h.len, false);
}

int http_serve_request(HttpConn *c, const HttpRequest *req) {
        HttpWorker *w = c->w;
        const HttpConfig *cfg = w->cfg;
        _cleanup_(http_file_close) HttpFile f = HTTP_FILE_NULL;
        size_t len;
        int r;

        if (req->expect_unknown)
                return send_status(c, req, 417);
        if (req->method == HTTP_METHOD_OPTIONS)
                return serve_options(c, req);
        if (req->method == HTTP_METHOD_OTHER)
                return http_send_error(c, 405, false, req->version, ALLOW_FIELD, sizeof(ALLOW_FIELD) - 1);

        r = http_path_normalize(req->path.p, req->path.n, w->path, w->path_size - w->index_max - 4, &len);
        if (r < 0)
                return send_status(c, req, 400);
        /* A dotfile, as asked or as resolved, comes back as -EACCES (403)
         * or, hidden, -ENOENT (404); what is not a regular file or a
         * directory was refused without being opened for reading (-ENXIO,
         * 403). */
        http_cache_begin(w->cache, now_usec(), now_realtime_usec());
        r = http_cache_open(w->cache, w->root_fd, w->path, path_flags(cfg), &f);
        if (r < 0)
                return send_status(c, req, status_for_open_error(c, r));
        if (S_ISDIR(f.st.st_mode))
                return serve_directory(c, req, f.fd, len);

        /* The name for the media type: the last segment. */
        const char *slash = memrchr(w->path, '/', len);
        const char *name = slash ? slash + 1 : w->path;
        return serve_regular(c, req, &f, name, len - (size_t) (name - w->path), len);
}
