/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_mime.h"

/* A mime.types file bigger than this is not one. */
#define MIME_FILE_MAX (4U * 1024U * 1024U)
#define MIME_EXT_MAX 32

typedef struct MimeEntry {
        const char *ext;   /* lower case */
        const char *type;
        size_t order;      /* position in the file: the first mention wins */
} MimeEntry;

struct HttpMimeTable {
        char *text;        /* the file, with NULs written over separators */
        MimeEntry *entries;
        size_t n_entries;
};

/* The fallback for systems without /etc/mime.types (containers, minimal
 * installs): the types a static web site needs. Sorted by extension. */
static const MimeEntry builtin[] = {
        { "avif", "image/avif", 0 },
        { "bmp", "image/bmp", 0 },
        { "css", "text/css", 0 },
        { "csv", "text/csv", 0 },
        { "gif", "image/gif", 0 },
        { "gz", "application/gzip", 0 },
        { "htm", "text/html", 0 },
        { "html", "text/html", 0 },
        { "ico", "image/vnd.microsoft.icon", 0 },
        { "jpeg", "image/jpeg", 0 },
        { "jpg", "image/jpeg", 0 },
        { "js", "text/javascript", 0 },
        { "json", "application/json", 0 },
        { "map", "application/json", 0 },
        { "md", "text/markdown", 0 },
        { "mjs", "text/javascript", 0 },
        { "mp3", "audio/mpeg", 0 },
        { "mp4", "video/mp4", 0 },
        { "oga", "audio/ogg", 0 },
        { "ogg", "audio/ogg", 0 },
        { "ogv", "video/ogg", 0 },
        { "otf", "font/otf", 0 },
        { "pdf", "application/pdf", 0 },
        { "png", "image/png", 0 },
        { "svg", "image/svg+xml", 0 },
        { "tar", "application/x-tar", 0 },
        { "ttf", "font/ttf", 0 },
        { "txt", "text/plain", 0 },
        { "wasm", "application/wasm", 0 },
        { "webm", "video/webm", 0 },
        { "webmanifest", "application/manifest+json", 0 },
        { "webp", "image/webp", 0 },
        { "woff", "font/woff", 0 },
        { "woff2", "font/woff2", 0 },
        { "xhtml", "application/xhtml+xml", 0 },
        { "xml", "application/xml", 0 },
        { "zip", "application/zip", 0 },
};

HttpMimeTable *http_mime_free(HttpMimeTable *t) {
        if (!t)
                return NULL;
        free(t->text);
        free(t->entries);
        free(t);
        return NULL;
}

size_t http_mime_size(const HttpMimeTable *t) {
        return t ? t->n_entries : 0;
}

static int entry_cmp(const void *a, const void *b) {
        const MimeEntry *x = a, *y = b;
        int c = strcmp(x->ext, y->ext);
        if (c != 0)
                return c;
        return x->order < y->order ? -1 : x->order > y->order;
}

static int read_all(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t n = 0;

        /* O_NONBLOCK: opening a FIFO must not hang -t or a reload; its type
         * is refused right after. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((uint64_t) st.st_size > MIME_FILE_MAX)
                return -EFBIG;

        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (n < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + n, (size_t) st.st_size - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Splits the next word off *p (within a line) and NUL-terminates it. */
static char *next_word(char **p) {
        char *s = *p;
        while (is_space(*s))
                s++;
        if (*s == '\0')
                return NULL;
        char *e = s;
        while (*e && !is_space(*e))
                e++;
        *p = *e ? e + 1 : e;
        *e = '\0';
        return s;
}

int http_mime_load(const char *path, HttpMimeTable **ret, unsigned *ret_line) {
        _cleanup_(http_mime_freep) HttpMimeTable *t = NULL;
        size_t size, allocated = 0;
        unsigned line_no = 0;
        int r;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;

        r = read_all(path, &t->text, &size);
        if (r < 0)
                return r;

        for (char *line = t->text; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                line_no++;

                char *hash = strchr(line, '#');
                if (hash)
                        *hash = '\0';

                char *p = line, *type = next_word(&p);
                if (type) {
                        if (!strchr(type, '/') || strlen(type) > 255) {
                                if (ret_line)
                                        *ret_line = line_no;
                                return -EINVAL;
                        }
                        for (char *ext; (ext = next_word(&p));) {
                                if (strlen(ext) >= MIME_EXT_MAX)
                                        continue;
                                for (char *c = ext; *c; c++)
                                        if (*c >= 'A' && *c <= 'Z')
                                                *c = (char) (*c - 'A' + 'a');
                                if (t->n_entries == allocated) {
                                        size_t n = allocated ? allocated * 2 : 256;
                                        MimeEntry *e = reallocarray(t->entries, n, sizeof(MimeEntry));
                                        if (!e)
                                                return -ENOMEM;
                                        t->entries = e;
                                        allocated = n;
                                }
                                t->entries[t->n_entries] = (MimeEntry) {
                                        .ext = ext,
                                        .type = type,
                                        .order = t->n_entries,
                                };
                                t->n_entries++;
                        }
                }
                line = nl ? nl + 1 : NULL;
        }

        if (t->n_entries > 0) {
                qsort(t->entries, t->n_entries, sizeof(MimeEntry), entry_cmp);
                size_t o = 1;
                for (size_t i = 1; i < t->n_entries; i++)
                        if (strcmp(t->entries[i].ext, t->entries[o - 1].ext) != 0)
                                t->entries[o++] = t->entries[i];
                t->n_entries = o;
        }

        *ret = TAKE_PTR(t);
        return 0;
}

static int ext_cmp(const void *key, const void *elem) {
        return strcmp(key, ((const MimeEntry *) elem)->ext);
}

const char *http_mime_lookup(const HttpMimeTable *t, const char *name, size_t len) {
        char ext[MIME_EXT_MAX];
        size_t i = len;

        while (i > 0 && name[i - 1] != '.' && name[i - 1] != '/')
                i--;
        if (i == 0 || name[i - 1] != '.')
                return NULL;

        size_t n = len - i;
        if (n == 0 || n >= sizeof(ext))
                return NULL;
        for (size_t k = 0; k < n; k++) {
                char c = name[i + k];
                ext[k] = c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
        }
        ext[n] = '\0';

        const MimeEntry *e = NULL;
        if (t && t->n_entries > 0)
                e = bsearch(ext, t->entries, t->n_entries, sizeof(MimeEntry), ext_cmp);
        if (!e)
                e = bsearch(ext, builtin, ELEMENTSOF(builtin), sizeof(MimeEntry), ext_cmp);
        return e ? e->type : NULL;
}
