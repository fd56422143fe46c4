/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_cache.h"
#include "macros.h"

typedef struct Entry {
        HttpCacheEntry pub;          /* first: the caller's pointer is the entry's */
        struct Entry *hash_next;
        struct Entry *lru_prev, *lru_next; /* lru_prev: more recently used */
        uint64_t hash;
        uint64_t checked_usec;       /* when the lookup last ran */
        uint64_t used;               /* the request (http_cache_begin()) it was last handed out in */
        int fd;
        struct stat st;
        char *body;                  /* the whole file, st.st_size bytes, or NULL */
        HttpPathFlags flags;
        size_t path_len;
        char path[];
} Entry;

struct HttpCache {
        size_t max_entries;
        uint64_t valid_usec;
        uint64_t now;
        uint64_t now_real;
        uint64_t request;            /* counts http_cache_begin() calls */
        Entry **buckets;             /* allocated at the first insert, grown with the entries */
        size_t n_buckets;            /* a power of two */
        size_t max_buckets;          /* the last size: a power of two, at least 2 * max_entries */
        Entry *lru_head, *lru_tail;  /* head: the most recently used */
        HttpCacheStats stats;
};

int http_cache_new(size_t max_entries, uint64_t valid_usec, HttpCache **ret) {
        HttpCache *c;

        *ret = NULL;
        if (max_entries == 0)
                return 0;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->max_entries = max_entries;
        c->valid_usec = valid_usec;
        c->n_buckets = 16;
        c->max_buckets = 16;
        while (c->max_buckets < 2 * max_entries)
                c->max_buckets *= 2;
        /* Request 0 would match a fresh entry's "used". */
        c->request = 1;
        *ret = c;
        return 0;
}

static Entry **bucket_of(HttpCache *c, uint64_t hash) {
        return &c->buckets[hash & (c->n_buckets - 1)];
}

/* Doubles the bucket array once there are as many entries as buckets, up
 * to max_buckets: a worker that serves a few files keeps a table of a few
 * hundred bytes instead of one sized for the most it may ever hold (64 KiB
 * with the default open_file_cache), which would be private memory of
 * every worker once its pages are touched. Without memory for the larger
 * array the chains just get longer. */
static void grow(HttpCache *c) {
        size_t n = c->n_buckets * 2;
        Entry **b;

        if (n > c->max_buckets)
                return;
        b = calloc(n, sizeof(Entry *));
        if (!b)
                return;
        for (size_t i = 0; i < c->n_buckets; i++)
                for (Entry *e = c->buckets[i], *next; e; e = next) {
                        Entry **to = &b[e->hash & (n - 1)];

                        next = e->hash_next;
                        e->hash_next = *to;
                        *to = e;
                }
        free(c->buckets);
        c->buckets = b;
        c->n_buckets = n;
}

static void lru_unlink(HttpCache *c, Entry *e) {
        if (e->lru_prev)
                e->lru_prev->lru_next = e->lru_next;
        else
                c->lru_head = e->lru_next;
        if (e->lru_next)
                e->lru_next->lru_prev = e->lru_prev;
        else
                c->lru_tail = e->lru_prev;
        e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(HttpCache *c, Entry *e) {
        e->lru_prev = NULL;
        e->lru_next = c->lru_head;
        if (c->lru_head)
                c->lru_head->lru_prev = e;
        c->lru_head = e;
        if (!c->lru_tail)
                c->lru_tail = e;
}

static void entry_drop_body(HttpCache *c, Entry *e) {
        if (!e->body)
                return;
        c->stats.body_bytes -= (size_t) e->st.st_size;
        e->body = mfree(e->body);
}

static void entry_remove(HttpCache *c, Entry *e) {
        Entry **p = bucket_of(c, e->hash);

        while (*p != e)
                p = &(*p)->hash_next;
        *p = e->hash_next;
        lru_unlink(c, e);
        entry_drop_body(c, e);
        safe_close(e->fd);
        free(e);
        c->stats.entries--;
}

HttpCache *http_cache_free(HttpCache *c) {
        if (!c)
                return NULL;
        while (c->lru_head)
                entry_remove(c, c->lru_head);
        free(c->buckets);
        free(c);
        return NULL;
}

void http_cache_begin(HttpCache *c, uint64_t now, uint64_t now_real) {
        if (!c)
                return;
        c->now = now;
        c->now_real = now_real;
        c->request++;
}

/* FNV-1a over the path and the flags, which change what a lookup finds. */
static uint64_t hash_path(const char *path, size_t len, HttpPathFlags flags) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char) path[i]) * UINT64_C(0x100000001b3);
        return (h ^ (uint64_t) flags) * UINT64_C(0x100000001b3);
}

static Entry *find(HttpCache *c, const char *path, size_t len, HttpPathFlags flags, uint64_t hash) {
        if (!c->buckets)
                return NULL;
        for (Entry *e = *bucket_of(c, hash); e; e = e->hash_next)
                if (e->hash == hash && e->flags == flags && e->path_len == len && memcmp(e->path, path, len) == 0)
                        return e;
        return NULL;
}

/* Whether two stats describe the same unchanged file. ctime catches what
 * the others may not: a chmod, a link count change, a write that kept
 * size and mtime (utimensat() afterwards). */
static bool same_file(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
               a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void hand_out(HttpCache *c, Entry *e, HttpFile *ret) {
        e->used = c->request;
        lru_unlink(c, e);
        lru_push_front(c, e);
        *ret = (HttpFile) { .fd = e->fd, .st = e->st, .entry = &e->pub };
}

/* Makes room for one more entry by evicting the least recently used one,
 * unless that one was handed out during this request (then all were: the
 * caller may still use their fds). Returns whether there is room. */
static bool make_room(HttpCache *c) {
        if (c->stats.entries < c->max_entries)
                return true;
        if (!c->lru_tail || c->lru_tail->used == c->request)
                return false;
        entry_remove(c, c->lru_tail);
        c->stats.evictions++;
        return true;
}

/* The lookup itself. Out of fds, the cache gives back the least recently
 * used one and tries again: its fds are counted against the worker's limit,
 * and a cached file is never worth a request that fails. */
static int lookup(HttpCache *c, int root_fd, const char *path, HttpPathFlags flags, HttpFile *f) {
        for (;;) {
                int r = http_path_open(root_fd, path, flags, &f->fd, &f->st);
                if (!IN_SET(r, -EMFILE, -ENFILE) || !c->lru_tail || c->lru_tail->used == c->request)
                        return r;
                entry_remove(c, c->lru_tail);
                c->stats.evictions++;
        }
}

/* Looks an entry older than valid_usec up again. */
static int revalidate(HttpCache *c, Entry *e, int root_fd, const char *path, HttpPathFlags flags, HttpFile *ret) {
        HttpFile f = HTTP_FILE_NULL;
        int r;

        r = lookup(c, root_fd, path, flags, &f);
        if (r < 0 || !S_ISREG(f.st.st_mode)) {
                /* Gone, refused now, or no longer a regular file: answered
                 * as without the cache. */
                entry_remove(c, e);
                c->stats.dropped++;
                if (r >= 0)
                        *ret = f;
                return r;
        }
        e->checked_usec = c->now;
        if (same_file(&e->st, &f.st)) {
                safe_close(f.fd);
                c->stats.revalidated++;
        } else {
                /* The fd of what is at the path now, however it changed. */
                entry_drop_body(c, e);
                safe_close(e->fd);
                e->fd = f.fd;
                e->st = f.st;
                e->pub.etag[0] = '\0';
                c->stats.replaced++;
        }
        hand_out(c, e, ret);
        return 0;
}

int http_cache_open(HttpCache *c, int root_fd, const char *path, HttpPathFlags flags, HttpFile *ret) {
        HttpFile f = HTTP_FILE_NULL;
        size_t len = strlen(path);
        int r;

        *ret = HTTP_FILE_NULL;
        if (!c)
                return http_path_open(root_fd, path, flags, &ret->fd, &ret->st);

        uint64_t hash = hash_path(path, len, flags);
        Entry *e = find(c, path, len, flags, hash);
        if (e) {
                /* An entry handed out in this request stays as it is: its
                 * fd may be in use. */
                if (e->used != c->request && c->now - e->checked_usec >= c->valid_usec)
                        return revalidate(c, e, root_fd, path, flags, ret);
                c->stats.hits++;
                hand_out(c, e, ret);
                return 0;
        }

        c->stats.misses++;
        r = lookup(c, root_fd, path, flags, &f);
        if (r < 0)
                return r;
        if (!S_ISREG(f.st.st_mode) || !make_room(c)) {
                *ret = f;
                return 0;
        }
        if (!c->buckets) {
                c->buckets = calloc(c->n_buckets, sizeof(Entry *));
                if (!c->buckets) {
                        *ret = f;
                        return 0;
                }
        }
        if (c->stats.entries >= c->n_buckets)
                grow(c);
        e = malloc(sizeof(Entry) + len + 1);
        if (!e) {
                *ret = f;
                return 0;
        }
        *e = (Entry) {
                .hash = hash,
                .checked_usec = c->now,
                .fd = f.fd,
                .st = f.st,
                .flags = flags,
                .path_len = len,
        };
        memcpy(e->path, path, len + 1);
        Entry **b = bucket_of(c, hash);
        e->hash_next = *b;
        *b = e;
        lru_push_front(c, e);
        c->stats.entries++;
        hand_out(c, e, ret);
        return 0;
}

/* Reads len bytes of fd from offset into buf. */
static int read_at(int fd, char *buf, uint64_t offset, size_t len) {
        while (len > 0) {
                ssize_t n = pread(fd, buf, len, (off_t) offset);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -ENODATA;
                buf += n;
                len -= (size_t) n;
                offset += (uint64_t) n;
        }
        return 0;
}

static uint64_t timespec_usec(const struct timespec *ts) {
        return ts->tv_sec < 0 ? 0 : (uint64_t) ts->tv_sec * 1000000U + (uint64_t) ts->tv_nsec / 1000U;
}

/* Whether the contents of e may be kept: small, within the budget, and
 * settled (see HTTP_CACHE_BODY_SETTLE_USEC in the header). */
static bool body_keepable(const HttpCache *c, const Entry *e) {
        uint64_t changed = MAX(timespec_usec(&e->st.st_ctim), timespec_usec(&e->st.st_mtim));

        return e->st.st_size > 0 && (uint64_t) e->st.st_size <= HTTP_CACHE_BODY_MAX &&
               c->stats.body_bytes + (size_t) e->st.st_size <= HTTP_CACHE_BODY_BUDGET &&
               c->now_real >= changed + HTTP_CACHE_BODY_SETTLE_USEC;
}

int http_file_read(HttpCache *c, const HttpFile *f, char *buf, uint64_t offset, size_t len) {
        Entry *e = f->entry ? (Entry *) f->entry : NULL;
        int r;

        assert(f);
        assert(buf || len == 0);
        if (!c || !e || e->fd != f->fd)
                return read_at(f->fd, buf, offset, len);
        if (offset > (uint64_t) e->st.st_size || len > (uint64_t) e->st.st_size - offset)
                return -ENODATA;
        if (e->body) {
                memcpy(buf, e->body + offset, len);
                c->stats.body_hits++;
                return 0;
        }
        if (!body_keepable(c, e))
                return read_at(f->fd, buf, offset, len);

        char *body = malloc((size_t) e->st.st_size);
        if (!body)
                return read_at(f->fd, buf, offset, len);
        r = read_at(f->fd, body, 0, (size_t) e->st.st_size);
        if (r < 0) {
                free(body);
                return r;
        }
        e->body = body;
        c->stats.body_bytes += (size_t) e->st.st_size;
        memcpy(buf, body + offset, len);
        return 0;
}

void http_file_close(HttpFile *f) {
        if (!f->entry)
                f->fd = safe_close(f->fd);
        f->entry = NULL;
        f->fd = -EBADF;
}

void http_cache_get_stats(const HttpCache *c, HttpCacheStats *ret) {
        *ret = c ? c->stats : (HttpCacheStats) { .entries = 0 };
}
