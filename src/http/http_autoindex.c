/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "http_autoindex.h"
#include "http_path.h"
#include "macros.h"

typedef struct Entry {
        char *name;
        bool dir;
        uint64_t size;
        time_t mtime;
} Entry;

typedef struct Listing {
        Entry *entries;
        size_t n, allocated;
} Listing;

static void listing_done(Listing *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->entries[i].name);
        free(l->entries);
}

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

static void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}

static int entry_cmp(const void *a, const void *b) {
        return strcmp(((const Entry *) a)->name, ((const Entry *) b)->name);
}

static int listing_read(int dir_fd, bool show_dotfiles, Listing *l) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        /* dir_fd may be O_PATH, which cannot be read: open the directory
         * itself through it (".", so no name is looked up again), which
         * also gives the listing a file position of its own. fdopendir()
         * takes the new fd over. */
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }

        while ((errno = 0, de = readdir(d))) {
                struct stat st;

                if (de->d_name[0] == '.' && (!show_dotfiles || strcmp(de->d_name, ".") == 0 ||
                                             strcmp(de->d_name, "..") == 0))
                        continue;
                /* Symlinks are listed as themselves: following one could
                 * reveal the size and age of a file outside the root. */
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;

                if (l->n == l->allocated) {
                        size_t n = l->allocated ? l->allocated * 2 : 64;
                        Entry *e = reallocarray(l->entries, n, sizeof(Entry));
                        if (!e)
                                return -ENOMEM;
                        l->entries = e;
                        l->allocated = n;
                }
                char *name = strdup(de->d_name);
                if (!name)
                        return -ENOMEM;
                l->entries[l->n++] = (Entry) {
                        .name = name,
                        .dir = S_ISDIR(st.st_mode),
                        .size = (uint64_t) st.st_size,
                        .mtime = st.st_mtim.tv_sec,
                };
        }
        if (errno != 0)
                return -errno;

        if (l->n > 0)
                qsort(l->entries, l->n, sizeof(Entry), entry_cmp);
        return 0;
}

static void html_escape(FILE *f, const char *s) {
        for (; *s; s++)
                switch (*s) {
                case '&':
                        fputs("&amp;", f);
                        break;
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                case '\'':
                        fputs("&#39;", f);
                        break;
                default:
                        fputc(*s, f);
                }
}

static void render_entry(FILE *f, const Entry *e) {
        char href[3 * NAME_MAX + 8], date[32];
        struct tm tm;

        /* "./" keeps a name with a ':' from reading as a URI scheme; the
         * encoded name is HTML-escaped too, for the '&' and '\'' that
         * percent-encoding leaves. */
        if (http_path_encode(e->name, strlen(e->name), href, sizeof(href)) < 0)
                return;
        (void) gmtime_r(&e->mtime, &tm);
        (void) strftime(date, sizeof(date), "%Y-%m-%d %H:%M", &tm);

        fputs("<tr><td><a href=\"./", f);
        html_escape(f, href);
        fprintf(f, "%s\">", e->dir ? "/" : "");
        html_escape(f, e->name);
        fprintf(f, "%s</a></td><td>%s</td><td>", e->dir ? "/" : "", date);
        if (e->dir)
                fputs("-", f);
        else
                fprintf(f, "%" PRIu64, e->size);
        fputs("</td></tr>\n", f);
}

int http_autoindex_render(int dir_fd, const char *path, bool show_dotfiles, char **ret_body, size_t *ret_len) {
        _cleanup_(listing_done) Listing l = { .n = 0 };
        /* Declared before f: cleanups run in reverse order, and the
         * stream's fclose() may still move the buffer body points to. */
        _cleanup_free_ char *body = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        size_t len = 0;
        int r;

        r = listing_read(dir_fd, show_dotfiles, &l);
        if (r < 0)
                return r;

        f = open_memstream(&body, &len);
        if (!f)
                return -ENOMEM;

        fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ", f);
        html_escape(f, path);
        fputs("</title></head>\n<body><h1>Index of ", f);
        html_escape(f, path);
        fputs("</h1>\n<table>\n<tr><th>Name</th><th>Modified (UTC)</th><th>Size</th></tr>\n", f);
        if (strcmp(path, "/") != 0)
                fputs("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n", f);
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < l.n; i++)
                        if (l.entries[i].dir == (pass == 0))
                                render_entry(f, &l.entries[i]);
        fputs("</table>\n</body></html>\n", f);

        /* The stream is closed whatever happened: only fclose() makes body
         * and len final, and a write error earlier must not skip it. A
         * memory stream's writes fail only when it cannot grow. */
        bool failed = ferror(f);
        if (fclose(TAKE_PTR(f)) != 0 || failed)
                return -ENOMEM;
        *ret_body = TAKE_PTR(body);
        *ret_len = len;
        return 0;
}
