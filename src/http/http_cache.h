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
 * every time. */
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

/* max_entries 0: NULL, no cache (every lookup opens). */
int http_cache_new(size_t max_entries, uint64_t valid_usec, HttpCache **ret);
HttpCache *http_cache_free(HttpCache *cache);

/* Starts a request at now (CLOCK_MONOTONIC µs; tests pass their own
 * clock). Entries used since the last call are kept from eviction and
 * revalidation until the next one: the fds they handed out stay open. */
void http_cache_begin(HttpCache *cache, uint64_t now);

/* http_path_open() through the cache (cache may be NULL). Returns 0 with
 * *ret filled, or what http_path_open() returns. */
int http_cache_open(HttpCache *cache, int root_fd, const char *path, HttpPathFlags flags, HttpFile *ret);

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
} HttpCacheStats;

void http_cache_get_stats(const HttpCache *cache, HttpCacheStats *ret);
