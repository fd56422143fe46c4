/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "http_cond.h"
#include "http_path.h"

/* The open-file cache of one worker (nginx's open_file_cache): a
 * normalized path, looked up with given flags, maps to the regular file it
 * opened, with its stat, its entity tag and media type once computed. A
 * bounded LRU; every entry holds one fd.
 *
 * An entry is trusted for valid_usec after its lookup. Once older, the next
 * request for it redoes the whole lookup (http_path_open(): RESOLVE_BENEATH,
 * the dotfiles rule on the resolved path) and compares what it finds
 * (dev, ino, size, mtime, ctime) with the entry: a file that was modified,
 * replaced by a rename, removed, made unreadable or turned into a symlink
 * out of the root is thus served stale for at most valid_usec, and a lookup
 * that fails now fails as if nothing had been cached. Only successful
 * lookups of regular files are kept: directories and errors are looked up
 * every time.
 *
 * The contents of a small file (HTTP_CACHE_BODY_MAX) are kept with its
 * entry once read (http_file_read()), within HTTP_CACHE_BODY_BUDGET bytes
 * per cache, so that a small response costs no read at all; they go with
 * the entry whenever a lookup finds the file changed. A write shows in
 * ctime only at the resolution of the kernel's coarse clock, so contents
 * are kept only from a file whose ctime and mtime are HTTP_CACHE_BODY_SETTLE
 * older than the time of reading ("racily clean", as git calls it): a write
 * in the same clock tick as the read could otherwise leave the kept bytes
 * stale for as long as the file stays unchanged afterwards. */
typedef struct HttpCache HttpCache;

typedef struct HttpCacheEntry {
        /* Memos for the caller, cleared when the file changes: the entity
         * tag ("" until computed) and the media type (NULL until looked
         * up; it depends on the name only and survives a change). */
        char etag[HTTP_ETAG_SIZE];
        const char *type;
} HttpCacheEntry;

/* An opened file: fd and its stat. With entry set, the fd belongs to the
 * cache (valid until the next http_cache_begin()); else to the caller. */
typedef struct HttpFile {
        int fd;
        struct stat st;
        HttpCacheEntry *entry;
} HttpFile;

#define HTTP_FILE_NULL ((HttpFile) { .fd = -EBADF })

#define HTTP_CACHE_BODY_MAX (16U * 1024U)
#define HTTP_CACHE_BODY_BUDGET (2U * 1024U * 1024U)
#define HTTP_CACHE_BODY_SETTLE_USEC (1000U * 1000U)

/* max_entries 0: NULL, no cache (every lookup opens). */
int http_cache_new(size_t max_entries, uint64_t valid_usec, HttpCache **ret);
HttpCache *http_cache_free(HttpCache *cache);

/* Starts a request at now (CLOCK_MONOTONIC µs) and now_real (CLOCK_REALTIME
 * µs, for the files' times; tests pass their own clocks). Entries used
 * since the last call are kept from eviction and revalidation until the
 * next one: the fds they handed out stay open. */
void http_cache_begin(HttpCache *cache, uint64_t now, uint64_t now_real);

/* http_path_open() through the cache (cache may be NULL). Returns 0 with
 * *ret filled, or what http_path_open() returns. */
int http_cache_open(HttpCache *cache, int root_fd, const char *path, HttpPathFlags flags, HttpFile *ret);

/* Reads len bytes of f from offset into buf: from the contents kept with
 * its entry when there are some, else from the file (and then keeps them,
 * when the file is small, settled and within the budget). A file that
 * shrank since its stat: -ENODATA. */
int http_file_read(HttpCache *cache, const HttpFile *f, char *buf, uint64_t offset, size_t len);

/* Closes f's fd unless the cache owns it. */
void http_file_close(HttpFile *f);

typedef struct HttpCacheStats {
        size_t entries;
        uint64_t hits;          /* served from an entry within its validity */
        uint64_t revalidated;   /* an old entry looked up again and still current */
        uint64_t replaced;      /* an old entry whose file had changed */
        uint64_t dropped;       /* an old entry whose lookup now fails */
        uint64_t misses;        /* lookups of paths with no entry */
        uint64_t evictions;
        size_t body_bytes;      /* file contents kept now */
        uint64_t body_hits;     /* reads served from kept contents */
} HttpCacheStats;

void http_cache_get_stats(const HttpCache *cache, HttpCacheStats *ret);
