/* SPDX-License-Identifier: MIT */
/* The open-file cache with a clock of the test's own: hits, misses,
 * eviction, and every way a cached file can go stale (modified, replaced
 * by a rename, removed, made unreadable, turned into a symlink out of the
 * root or to a dotfile), each served as cached within the validity window
 * and as it is now once the window has passed. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http_cache.h"
#include "testlib.h"
#include "time-util.h"

#define VALID (1 * USEC_PER_SEC)
#define F (HTTP_PATH_FOLLOW_SYMLINKS | HTTP_PATH_DENY_DOTFILES)

typedef struct Root {
        char dir[PATH_MAX];
        int fd;             /* DIR/root, O_PATH */
} Root;

static void put(const Root *t, const char *name, const char *content) {
        char p[PATH_MAX + 64];
        snprintf(p, sizeof(p), "%s/%s", t->dir, name);
        FILE *f = fopen(p, "we");
        ck_assert_ptr_nonnull(f);
        fputs(content, f);
        ck_assert_int_eq(fclose(f), 0);
}

/* DIR/name, in a buffer that the next call reuses. */
static const char *at(const Root *t, const char *name) {
        static char p[PATH_MAX + 64];
        snprintf(p, sizeof(p), "%s/%s", t->dir, name);
        return p;
}

static void root_setup(Root *t) {
        const char *tmp = getenv("TMPDIR");
        snprintf(t->dir, sizeof(t->dir), "%s/preforkd-cache-XXXXXX", tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(t->dir));
        ck_assert_int_eq(chmod(t->dir, 0755), 0);
        put(t, "outside.txt", "outside");
        ck_assert_int_eq(mkdir(at(t, "root"), 0755), 0);
        put(t, "root/a.txt", "aaa");
        put(t, "root/b.txt", "bbb");
        put(t, "root/c.txt", "ccc");
        put(t, "root/.env", "env");
        t->fd = open(at(t, "root"), O_PATH | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(t->fd, 0);
}

static void root_teardown(Root *t) {
        char cmd[PATH_MAX + 32];
        safe_close(t->fd);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
        ck_assert_int_eq(system(cmd), 0);
}

/* One request at now for path: what the file says (read with pread, as the
 * fd may be the cache's), or the negative errno as text. */
static const char *get(HttpCache *c, const Root *t, uint64_t now, const char *path, HttpPathFlags flags,
                       HttpFile *ret) {
        static char buf[64];
        HttpFile f;
        int r;

        http_cache_begin(c, now, 0);
        r = http_cache_open(c, t->fd, path, flags, &f);
        if (r < 0) {
                snprintf(buf, sizeof(buf), "%s", strerrorname_np(-r));
                return buf;
        }
        ssize_t n = S_ISDIR(f.st.st_mode) ? 0 : pread(f.fd, buf, sizeof(buf) - 1, 0);
        ck_assert_int_ge(n, 0);
        buf[n] = '\0';
        /* The stat handed out is the cached one: within the window it may
         * be older than the file, never of another file than the fd's. */
        struct stat st;
        ck_assert_int_eq(fstat(f.fd, &st), 0);
        ck_assert(st.st_ino == f.st.st_ino && st.st_dev == f.st.st_dev);
        if (ret)
                *ret = f;
        else
                http_file_close(&f);
        return buf;
}

static HttpCacheStats stats(const HttpCache *c) {
        HttpCacheStats s;
        http_cache_get_stats(c, &s);
        return s;
}

START_TEST(test_off) {
        HttpCache *c = (HttpCache *) 1;
        ck_assert_int_eq(http_cache_new(0, VALID, &c), 0);
        ck_assert_ptr_null(c);

        Root t;
        root_setup(&t);
        HttpFile f;
        ck_assert_str_eq(get(NULL, &t, 0, "/a.txt", F, &f), "aaa");
        ck_assert_ptr_null(f.entry);
        http_file_close(&f);
        ck_assert_int_eq(f.fd, -EBADF);
        root_teardown(&t);
}
END_TEST

START_TEST(test_hit_miss) {
        HttpCache *c;
        HttpFile f1, f2;
        Root t;

        root_setup(&t);
        ck_assert_int_eq(http_cache_new(8, VALID, &c), 0);

        ck_assert_str_eq(get(c, &t, 0, "/a.txt", F, &f1), "aaa");
        ck_assert_ptr_nonnull(f1.entry);
        ck_assert_str_eq(get(c, &t, 10, "/a.txt", F, &f2), "aaa");
        ck_assert_ptr_eq(f1.entry, f2.entry);
        ck_assert_int_eq(f1.fd, f2.fd);
        http_file_close(&f2);
        /* The cache's fd is not closed by its user. */
        ck_assert_int_ge(fcntl(f1.fd, F_GETFD), 0);
        ck_assert_uint_eq(stats(c).hits, 1);
        ck_assert_uint_eq(stats(c).misses, 1);
        ck_assert_uint_eq(stats(c).entries, 1);

        /* Other flags are another lookup. */
        ck_assert_str_eq(get(c, &t, 20, "/a.txt", HTTP_PATH_FOLLOW_SYMLINKS, NULL), "aaa");
        ck_assert_uint_eq(stats(c).entries, 2);

        /* Errors and directories are not kept. */
        ck_assert_str_eq(get(c, &t, 30, "/nope", F, NULL), "ENOENT");
        ck_assert_str_eq(get(c, &t, 30, "/.env", F, NULL), "EACCES");
        ck_assert_str_eq(get(c, &t, 30, "/", F, &f1), "");
        ck_assert_ptr_null(f1.entry);
        http_file_close(&f1);
        put(&t, "root/nope", "now");
        ck_assert_str_eq(get(c, &t, 40, "/nope", F, NULL), "now");
        ck_assert_uint_eq(stats(c).entries, 3);

        /* The memos stay with the entry. */
        ck_assert_str_eq(get(c, &t, 50, "/a.txt", F, &f1), "aaa");
        strcpy(f1.entry->etag, "\"x\"");
        f1.entry->type = "text/plain";
        ck_assert_str_eq(get(c, &t, 60, "/a.txt", F, &f1), "aaa");
        ck_assert_str_eq(f1.entry->etag, "\"x\"");
        ck_assert_str_eq(f1.entry->type, "text/plain");

        http_cache_free(c);
        root_teardown(&t);
}
END_TEST

START_TEST(test_eviction) {
        HttpCache *c;
        HttpFile a, b;
        Root t;

        root_setup(&t);
        ck_assert_int_eq(http_cache_new(2, VALID, &c), 0);
        ck_assert_str_eq(get(c, &t, 0, "/a.txt", F, NULL), "aaa");
        ck_assert_str_eq(get(c, &t, 1, "/b.txt", F, NULL), "bbb");
        ck_assert_str_eq(get(c, &t, 2, "/a.txt", F, NULL), "aaa"); /* b is now the least recently used */
        ck_assert_str_eq(get(c, &t, 3, "/c.txt", F, NULL), "ccc");
        ck_assert_uint_eq(stats(c).evictions, 1);
        ck_assert_uint_eq(stats(c).entries, 2);
        ck_assert_str_eq(get(c, &t, 4, "/a.txt", F, NULL), "aaa");
        ck_assert_uint_eq(stats(c).hits, 2);
        ck_assert_str_eq(get(c, &t, 5, "/b.txt", F, NULL), "bbb"); /* a miss again: evicts c */
        ck_assert_uint_eq(stats(c).misses, 4);
        ck_assert_uint_eq(stats(c).evictions, 2);
        http_cache_free(c);

        /* What one request was handed is not evicted within it (a file
         * and its .gz variant with room for one): the second comes
         * uncached, and the first's fd stays open. */
        ck_assert_int_eq(http_cache_new(1, VALID, &c), 0);
        http_cache_begin(c, 10, 0);
        ck_assert_int_eq(http_cache_open(c, t.fd, "/a.txt", F, &a), 0);
        ck_assert_int_eq(http_cache_open(c, t.fd, "/b.txt", F, &b), 0);
        ck_assert_ptr_nonnull(a.entry);
        ck_assert_ptr_null(b.entry);
        ck_assert_int_ge(fcntl(a.fd, F_GETFD), 0);
        http_file_close(&b);
        http_file_close(&a);
        ck_assert_uint_eq(stats(c).evictions, 0);
        /* The next request may evict it. */
        ck_assert_str_eq(get(c, &t, 11, "/b.txt", F, &b), "bbb");
        ck_assert_ptr_nonnull(b.entry);
        ck_assert_uint_eq(stats(c).evictions, 1);
        http_cache_free(c);
        root_teardown(&t);
}
END_TEST

/* Within the window the cached file, after it the file as it is now. */
/* Many entries: the bucket array grows with them (from 16 buckets), and
 * every entry is still found afterwards, each file its own. */
START_TEST(test_many_entries) {
        HttpCache *c;
        Root t;

        root_setup(&t);
        ck_assert_int_eq(http_cache_new(4096, VALID, &c), 0);
        for (unsigned i = 0; i < 300; i++) {
                char name[64], content[16];

                snprintf(name, sizeof name, "root/m%u.txt", i);
                snprintf(content, sizeof content, "m%u", i);
                put(&t, name, content);
        }
        for (unsigned pass = 0; pass < 2; pass++)
                for (unsigned i = 0; i < 300; i++) {
                        char path[64], content[16];

                        snprintf(path, sizeof path, "/m%u.txt", i);
                        snprintf(content, sizeof content, "m%u", i);
                        ck_assert_str_eq(get(c, &t, 1 + pass, path, F, NULL), content);
                }
        ck_assert_uint_eq(stats(c).entries, 300);
        ck_assert_uint_eq(stats(c).misses, 300);
        ck_assert_uint_eq(stats(c).hits, 300);
        ck_assert_uint_eq(stats(c).evictions, 0);
        http_cache_free(c);
        root_teardown(&t);
}
END_TEST

START_TEST(test_modified) {
        HttpCache *c;
        HttpFile f;
        Root t;

        root_setup(&t);
        ck_assert_int_eq(http_cache_new(8, VALID, &c), 0);
        ck_assert_str_eq(get(c, &t, 0, "/a.txt", F, &f), "aaa");
        strcpy(f.entry->etag, "\"old\"");
        off_t old_size = f.st.st_size;

        put(&t, "root/a.txt", "aaaa"); /* in place: the same inode */
        ck_assert_str_eq(get(c, &t, VALID - 1, "/a.txt", F, &f), "aaaa");
        ck_assert_int_eq(f.st.st_size, old_size); /* the stat is the cached one */
        ck_assert_str_eq(f.entry->etag, "\"old\"");
        ck_assert_str_eq(get(c, &t, VALID, "/a.txt", F, &f), "aaaa");
        ck_assert_int_eq(f.st.st_size, 4);
        ck_assert_str_eq(f.entry->etag, ""); /* to be computed again */
        ck_assert_uint_eq(stats(c).replaced, 1);

        /* Unchanged after the window: looked up, kept. */
        ck_assert_str_eq(get(c, &t, 2 * VALID, "/a.txt", F, NULL), "aaaa");
        ck_assert_uint_eq(stats(c).revalidated, 1);
        http_cache_free(c);
        root_teardown(&t);
}
END_TEST

START_TEST(test_renamed) {
        HttpCache *c;
        HttpFile f;
        Root t;

        root_setup(&t);
        ck_assert_int_eq(http_cache_new(8, VALID, &c), 0);
        ck_assert_str_eq(get(c, &t, 0, "/a.txt", F, &f), "aaa");
        ino_t old_ino = f.st.st_ino;

        put(&t, "root/a.txt.new", "new");
        char from[PATH_MAX + 64];
        snprintf(from, sizeof(from), "%s", at(&t, "root/a.txt.new"));
        ck_assert_int_eq(rename(from, at(&t, "root/a.txt")), 0);
        ck_assert_str_eq(get(c, &t, VALID / 2, "/a.txt", F, NULL), "aaa");
        ck_assert_str_eq(get(c, &t, VALID / 2 + VALID, "/a.txt", F, &f), "new");
        ck_assert(f.st.st_ino != old_ino);
        http_cache_free(c);
        root_teardown(&t);
}
END_TEST

START_TEST(test_removed) {
        HttpCache *c;
        Root t;

        root_setup(&t);
        ck_assert_int_eq(http_cache_new(8, VALID, &c), 0);
        ck_assert_str_eq(get(c, &t, 0, "/a.txt", F, NULL), "aaa");
        ck_assert_int_eq(unlink(at(&t, "root/a.txt")), 0);
        ck_assert_str_eq(get(c, &t, VALID - 1, "/a.txt", F, NULL), "aaa");
        ck_assert_str_eq(get(c, &t, VALID, "/a.txt", F, NULL), "ENOENT");
        ck_assert_uint_eq(stats(c).dropped, 1);
        ck_assert_uint_eq(stats(c).entries, 0);
        /* And stays a miss. */
        ck_assert_str_eq(get(c, &t, VALID + 1, "/a.txt", F, NULL), "ENOENT");
        ck_assert_uint_eq(stats(c).misses, 2);
        http_cache_free(c);
        root_teardown(&t);
}
END_TEST

/* Made a symlink out of the root, or to a dotfile: refused once the window
 * has passed, exactly as without the cache. */
START_TEST(test_symlinked) {
        HttpCache *c;
        Root t;

        root_setup(&t);
        ck_assert_int_eq(http_cache_new(8, VALID, &c), 0);
        ck_assert_str_eq(get(c, &t, 0, "/a.txt", F, NULL), "aaa");
        ck_assert_str_eq(get(c, &t, 0, "/b.txt", F, NULL), "bbb");
        ck_assert_str_eq(get(c, &t, 0, "/c.txt", HTTP_PATH_DENY_DOTFILES, NULL), "ccc");

        ck_assert_int_eq(unlink(at(&t, "root/a.txt")), 0);
        ck_assert_int_eq(symlink("../outside.txt", at(&t, "root/a.txt")), 0);
        ck_assert_int_eq(unlink(at(&t, "root/b.txt")), 0);
        ck_assert_int_eq(symlink(".env", at(&t, "root/b.txt")), 0);
        ck_assert_int_eq(unlink(at(&t, "root/c.txt")), 0);
        ck_assert_int_eq(symlink("b.txt", at(&t, "root/c.txt")), 0);

        ck_assert_str_eq(get(c, &t, VALID, "/a.txt", F, NULL), "EXDEV");
        ck_assert_str_eq(get(c, &t, VALID, "/b.txt", F, NULL), "EACCES");
        ck_assert_str_eq(get(c, &t, VALID, "/c.txt", HTTP_PATH_DENY_DOTFILES, NULL), "ELOOP");
        ck_assert_uint_eq(stats(c).dropped, 3);
        http_cache_free(c);
        root_teardown(&t);
}
END_TEST

/* Run where permissions apply: as nobody when the test runs as root
 * (whose CAP_DAC_OVERRIDE reads a mode 000 file), in a child of its own. */
static int chmod_case(Root *t) {
        HttpCache *c;
        HttpFile f;

        if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                               setresuid(65534, 65534, 65534) < 0))
                return 10;
        if (http_cache_new(8, VALID, &c) < 0)
                return 11;
        http_cache_begin(c, 0, 0);
        if (http_cache_open(c, t->fd, "/a.txt", F, &f) < 0 || !f.entry)
                return 12;
        if (chmod(at(t, "root/a.txt"), 0) < 0)
                return 13;
        http_cache_begin(c, VALID - 1, 0);
        if (http_cache_open(c, t->fd, "/a.txt", F, &f) < 0)
                return 14; /* within the window: the open fd still reads */
        http_cache_begin(c, VALID, 0);
        if (http_cache_open(c, t->fd, "/a.txt", F, &f) != -EACCES)
                return 15;
        http_cache_free(c);
        return 0;
}

START_TEST(test_unreadable) {
        Root t;
        int status;

        root_setup(&t);
        if (geteuid() == 0)
                ck_assert_int_eq(chown(at(&t, "root/a.txt"), 65534, 65534), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                _exit(chmod_case(&t));
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "chmod case failed: status %#x", status);
        root_teardown(&t);
}
END_TEST

/* What http_file_read() gives for [offset, offset + len) of path at now,
 * with the files' clock at now_real. */
static const char *read_via(HttpCache *c, const Root *t, uint64_t now, uint64_t now_real, const char *path,
                            uint64_t offset, size_t len) {
        static char buf[HTTP_CACHE_BODY_MAX + 64];
        HttpFile f;
        int r;

        ck_assert_uint_le(len, sizeof(buf) - 1);
        http_cache_begin(c, now, now_real);
        r = http_cache_open(c, t->fd, path, F, &f);
        if (r >= 0) {
                r = http_file_read(c, &f, buf, offset, len);
                http_file_close(&f);
        }
        if (r < 0)
                snprintf(buf, sizeof(buf), "%s", strerrorname_np(-r));
        else
                buf[len] = '\0';
        return buf;
}

/* The contents of small files are kept with their entries: served from
 * memory, stale within the validity window at most, dropped with any
 * change a lookup sees, and never kept from a file changed too recently
 * for its ctime to show a later write, nor past the size limit. */
START_TEST(test_kept_contents) {
        uint64_t settled = now_realtime_usec() + 10 * USEC_PER_SEC;
        HttpCache *c;
        Root t;

        root_setup(&t);
        ck_assert_int_eq(http_cache_new(8, VALID, &c), 0);
        ck_assert_str_eq(read_via(c, &t, 0, settled, "/a.txt", 0, 3), "aaa");
        ck_assert_uint_eq(stats(c).body_bytes, 3);
        ck_assert_uint_eq(stats(c).body_hits, 0);
        ck_assert_str_eq(read_via(c, &t, 1, settled, "/a.txt", 1, 2), "aa");
        ck_assert_uint_eq(stats(c).body_hits, 1);
        ck_assert_str_eq(read_via(c, &t, 1, settled, "/a.txt", 2, 2), "ENODATA");

        /* Changed in place: the kept bytes until the window ends (the
         * same staleness as a cached stat), then the file as it is. */
        put(&t, "root/a.txt", "xyz");
        ck_assert_str_eq(read_via(c, &t, VALID - 1, settled, "/a.txt", 0, 3), "aaa");
        ck_assert_str_eq(read_via(c, &t, VALID, settled, "/a.txt", 0, 3), "xyz");
        ck_assert_uint_eq(stats(c).replaced, 1);
        ck_assert_uint_eq(stats(c).body_bytes, 3);
        ck_assert_str_eq(read_via(c, &t, VALID + 1, settled, "/a.txt", 0, 3), "xyz");
        ck_assert_uint_eq(stats(c).body_hits, 3);

        /* Removed: the entry and its bytes go. */
        ck_assert_int_eq(unlink(at(&t, "root/a.txt")), 0);
        ck_assert_str_eq(read_via(c, &t, 3 * VALID, settled, "/a.txt", 0, 3), "ENOENT");
        ck_assert_uint_eq(stats(c).body_bytes, 0);
        http_cache_free(c);

        /* Just written: read from the file every time, never kept. */
        ck_assert_int_eq(http_cache_new(8, VALID, &c), 0);
        put(&t, "root/b.txt", "new");
        ck_assert_str_eq(read_via(c, &t, 0, now_realtime_usec(), "/b.txt", 0, 3), "new");
        ck_assert_str_eq(read_via(c, &t, 1, now_realtime_usec(), "/b.txt", 0, 3), "new");
        ck_assert_uint_eq(stats(c).body_bytes, 0);
        ck_assert_uint_eq(stats(c).body_hits, 0);

        /* Past the size limit: not kept. */
        static char big[HTTP_CACHE_BODY_MAX + 2];
        memset(big, 'x', sizeof(big) - 1);
        put(&t, "root/big.txt", big);
        ck_assert_str_eq(read_via(c, &t, 2, settled, "/big.txt", 0, HTTP_CACHE_BODY_MAX + 1), big);
        ck_assert_uint_eq(stats(c).body_bytes, 0);

        /* An evicted entry takes its bytes along. */
        http_cache_free(c);
        ck_assert_int_eq(http_cache_new(1, VALID, &c), 0);
        ck_assert_str_eq(read_via(c, &t, 0, settled, "/c.txt", 0, 3), "ccc");
        ck_assert_uint_eq(stats(c).body_bytes, 3);
        ck_assert_str_eq(read_via(c, &t, 1, settled, "/b.txt", 0, 2), "ne");
        ck_assert_uint_eq(stats(c).evictions, 1);
        ck_assert_uint_eq(stats(c).body_bytes, 3);
        http_cache_free(c);
        root_teardown(&t);
}
END_TEST

/* valid 0: every request looks the path up again. */
START_TEST(test_valid_zero) {
        HttpCache *c;
        Root t;

        root_setup(&t);
        ck_assert_int_eq(http_cache_new(8, 0, &c), 0);
        ck_assert_str_eq(get(c, &t, 0, "/a.txt", F, NULL), "aaa");
        ck_assert_str_eq(get(c, &t, 0, "/a.txt", F, NULL), "aaa");
        ck_assert_uint_eq(stats(c).revalidated, 1);
        ck_assert_int_eq(unlink(at(&t, "root/a.txt")), 0);
        ck_assert_str_eq(get(c, &t, 0, "/a.txt", F, NULL), "ENOENT");
        http_cache_free(c);
        root_teardown(&t);
}
END_TEST

int main(void) {
        Suite *s = suite_create("http-cache");

        TD_ADD_TEST(s, test_off);
        TD_ADD_TEST(s, test_hit_miss);
        TD_ADD_TEST(s, test_eviction);
        TD_ADD_TEST(s, test_modified);
        TD_ADD_TEST(s, test_renamed);
        TD_ADD_TEST(s, test_removed);
        TD_ADD_TEST(s, test_symlinked);
        TD_ADD_TEST(s, test_unreadable);
        TD_ADD_TEST(s, test_valid_zero);
        TD_ADD_TEST(s, test_kept_contents);
        TD_ADD_TEST(s, test_many_entries);
        return td_run_suite(s);
}
