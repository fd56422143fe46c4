/* SPDX-License-Identifier: MIT */
/* Path resolution: normalization of request paths (a corpus of traversal
 * attempts) and opening below the root, including symlinks that lead out
 * and symlinks or directories swapped while lookups run. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "http_cache.h"
#include "http_path.h"
#include "open-watch.h"
#include "testlib.h"

/* Lookups per race test: enough for the swapping thread to interleave
 * thousands of times, bounded so the test stays short. */
#define RACE_ROUNDS 20000

static int normalize(const char *raw, char *out, size_t size) {
        size_t len;
        int r = http_path_normalize(raw, strlen(raw), out, size, &len);
        if (r >= 0)
                ck_assert_uint_eq(len, strlen(out));
        return r;
}

static const struct {
        const char *raw, *want;
} good_paths[] = {
        { "/", "/" },
        { "/a", "/a" },
        { "/a/b", "/a/b" },
        { "/a/", "/a/" },
        { "//a///b//", "/a/b/" },
        { "/a/./b", "/a/b" },
        { "/./", "/" },
        { "/.", "/" },
        { "/a/b/../c", "/a/c" },
        { "/a/b/..", "/a/" },
        { "/a/b/../", "/a/" },
        { "/a/..", "/" },
        { "/a/.", "/a/" },
        { "/%61%62c", "/abc" },
        { "/a/%2e%2e/b", "/b" },
        { "/a/%2E/b", "/a/b" },
        { "/a/.%2e/b", "/b" },
        { "/%252e%252e/x", "/%2e%2e/x" },    /* double encoding stays literal */
        { "/%25", "/%" },
        { "/caf%C3%A9", "/caf\xc3\xa9" },
        { "/a%20b", "/a b" },
        { "/...", "/..." },                  /* not a dot-segment */
        { "/..a/b", "/..a/b" },
        { "/a..", "/a.." },
        { "/a+b", "/a+b" },
};

/* Refused outright (400): traversal above the root, encoded separators,
 * NUL, backslashes, broken escapes. */
static const char *const bad_paths[] = {
        "",
        "a",
        "/..",
        "/../",
        "/../etc/passwd",
        "/a/../..",
        "/a/../../b",
        "/%2e%2e",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/.%2e/",
        "/%2E%2E/",
        "/a%2fb",
        "/a%2F..%2F..%2Fetc",
        "/%2f",
        "/%00",
        "/a%00.html",
        "/a\\b",
        "/..\\..\\windows",
        "/a%5cb",
        "/a%5C..%5C..",
        "/%",
        "/%4",
        "/%zz",
        "/%g0",
        "/a/%",
        "/./../a",
        "//..//..",
};

START_TEST(test_normalize_good) {
        char out[256];

        for (size_t i = 0; i < ELEMENTSOF(good_paths); i++) {
                int r = normalize(good_paths[i].raw, out, sizeof(out));
                ck_assert_msg(r == 0, "%s refused", good_paths[i].raw);
                ck_assert_msg(strcmp(out, good_paths[i].want) == 0, "%s -> %s, want %s", good_paths[i].raw, out,
                              good_paths[i].want);
        }
}
END_TEST

START_TEST(test_normalize_bad) {
        char out[256];

        for (size_t i = 0; i < ELEMENTSOF(bad_paths); i++)
                ck_assert_msg(normalize(bad_paths[i], out, sizeof(out)) == -EINVAL, "%s accepted as %s", bad_paths[i],
                              out);
}
END_TEST

START_TEST(test_normalize_buffer) {
        char out[8];
        size_t len;
        /* out must hold raw_len + 2 bytes. */
        ck_assert_int_eq(http_path_normalize("/abcdef", 7, out, 8, &len), -EINVAL);
        ck_assert_int_eq(http_path_normalize("/abcde", 6, out, 8, &len), 0);
        ck_assert_str_eq(out, "/abcde");
}
END_TEST

START_TEST(test_dotfiles) {
        ck_assert(http_path_has_dotfile("/.env", 5));
        ck_assert(http_path_has_dotfile("/a/.git/config", 14));
        ck_assert(http_path_has_dotfile("/a/.htpasswd", 12));
        ck_assert(!http_path_has_dotfile("/a.b/c.d", 8));
        ck_assert(!http_path_has_dotfile("/", 1));
        ck_assert(!http_path_has_dotfile("/.well-known/acme-challenge/x", 29));
        ck_assert(!http_path_has_dotfile("/.well-known", 12));
        ck_assert(!http_path_has_dotfile("/.well-known/", 13));
        ck_assert(http_path_has_dotfile("/.well-knownx", 13));
        ck_assert(http_path_has_dotfile("/.well-known/.x", 15));
        ck_assert(http_path_has_dotfile("/a/.well-known/x", 16));
}
END_TEST

START_TEST(test_encode) {
        char out[64];
        ck_assert_int_eq(http_path_encode("/a b/caf\xc3\xa9?#%", 13, out, sizeof(out)), 25);
        ck_assert_str_eq(out, "/a%20b/caf%C3%A9%3F%23%25");
        ck_assert_int_eq(http_path_encode("/x", 2, out, 3), 2);
        ck_assert_int_eq(http_path_encode("/x", 2, out, 2), -ENOBUFS);
        ck_assert_int_eq(http_path_encode(" ", 1, out, 3), -ENOBUFS);
}
END_TEST

/* The test tree:
 *   DIR/outside.txt           "outside"
 *   DIR/outdir/secret.txt     "outside"
 *   DIR/root/file.txt         "inside"
 *   DIR/root/sub/inner.txt    "inner"
 *   DIR/root/link_in     -> file.txt
 *   DIR/root/link_sub    -> sub
 *   DIR/root/link_out    -> ../outside.txt
 *   DIR/root/link_up     -> ..
 *   DIR/root/link_abs    -> /etc/passwd
 *   DIR/root/link_abs_in -> DIR/root/file.txt (absolute, so refused)
 *   DIR/root/fifo             a FIFO
 *   DIR/root/sock             a unix socket
 * and for the dotfiles rule:
 *   DIR/root/.env             "env"
 *   DIR/root/.dotdir/f.txt    "dotdir"
 *   DIR/root/.well-known/x.txt "wk"
 *   DIR/root/sub/deep/        a directory
 *   DIR/root/link_env    -> .env
 *   DIR/root/sub/link_secret -> ../.env
 *   DIR/root/link_dotdir -> .dotdir
 *   DIR/root/link_wk     -> .well-known/x.txt
 *   DIR/root/link_via    -> .dotdir/../file.txt
 *   DIR/root/link_chain  -> link_in
 *   DIR/root/link_loop   -> link_loop
 *   DIR/root/jump        -> sub/deep
 *   DIR/root/link_dotdot -> jump/../inner.txt (sub/inner.txt, not inner.txt)
 *   DIR/root/link_dotdot_env -> jump/../../.env
 *   DIR/root/link_fifo   -> fifo
 */
typedef struct Tree {
        char dir[PATH_MAX];
        int root_fd;
} Tree;

static void write_file(const char *path, const char *content) {
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs(content, f);
        ck_assert_int_eq(fclose(f), 0);
}

static void tree_setup(Tree *t) {
        char p[PATH_MAX + 64], q[PATH_MAX + 64];

        const char *tmp = getenv("TMPDIR");
        snprintf(t->dir, sizeof(t->dir), "%s/preforkd-path-XXXXXX", tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(t->dir));
#define P(...) (snprintf(p, sizeof(p), __VA_ARGS__), p)
        write_file(P("%s/outside.txt", t->dir), "outside");
        ck_assert_int_eq(mkdir(P("%s/outdir", t->dir), 0755), 0);
        write_file(P("%s/outdir/secret.txt", t->dir), "outside");
        ck_assert_int_eq(mkdir(P("%s/root", t->dir), 0755), 0);
        write_file(P("%s/root/file.txt", t->dir), "inside");
        ck_assert_int_eq(mkdir(P("%s/root/sub", t->dir), 0755), 0);
        write_file(P("%s/root/sub/inner.txt", t->dir), "inner");
        ck_assert_int_eq(symlink("file.txt", P("%s/root/link_in", t->dir)), 0);
        ck_assert_int_eq(symlink("sub", P("%s/root/link_sub", t->dir)), 0);
        ck_assert_int_eq(symlink("../outside.txt", P("%s/root/link_out", t->dir)), 0);
        ck_assert_int_eq(symlink("..", P("%s/root/link_up", t->dir)), 0);
        ck_assert_int_eq(symlink("/etc/passwd", P("%s/root/link_abs", t->dir)), 0);
        snprintf(q, sizeof(q), "%s/root/file.txt", t->dir);
        ck_assert_int_eq(symlink(q, P("%s/root/link_abs_in", t->dir)), 0);
        ck_assert_int_eq(mkfifo(P("%s/root/fifo", t->dir), 0644), 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        ck_assert_int_lt(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/root/sock", t->dir), sizeof(sa.sun_path));
        int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(sock, 0);
        ck_assert_int_eq(bind(sock, (struct sockaddr *) &sa, sizeof(sa)), 0);
        safe_close(sock);

        write_file(P("%s/root/.env", t->dir), "env");
        ck_assert_int_eq(mkdir(P("%s/root/.dotdir", t->dir), 0755), 0);
        write_file(P("%s/root/.dotdir/f.txt", t->dir), "dotdir");
        ck_assert_int_eq(mkdir(P("%s/root/.well-known", t->dir), 0755), 0);
        write_file(P("%s/root/.well-known/x.txt", t->dir), "wk");
        ck_assert_int_eq(mkdir(P("%s/root/sub/deep", t->dir), 0755), 0);
        static const char *const links[][2] = {
                { ".env", "link_env" },
                { "../.env", "sub/link_secret" },
                { ".dotdir", "link_dotdir" },
                { ".well-known/x.txt", "link_wk" },
                { ".dotdir/../file.txt", "link_via" },
                { "link_in", "link_chain" },
                { "link_loop", "link_loop" },
                { "sub/deep", "jump" },
                { "jump/../inner.txt", "link_dotdot" },
                { "jump/../../.env", "link_dotdot_env" },
                { "fifo", "link_fifo" },
        };
        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                ck_assert_int_eq(symlink(links[i][0], P("%s/root/%s", t->dir, links[i][1])), 0);
        t->root_fd = open(P("%s/root", t->dir), O_PATH | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(t->root_fd, 0);
#undef P
}

static void tree_teardown(Tree *t) {
        char cmd[PATH_MAX + 32];
        safe_close(t->root_fd);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
        ck_assert_int_eq(system(cmd), 0);
}

static void check_dotfiles(const Tree *tp);

/* When set, open_read() looks paths up through this open-file cache, one
 * request each, a clock tick apart: the corpus must come out the same. */
static HttpCache *cache;
static uint64_t cache_clock;

/* Opens path and returns what the file says ("" for a directory), or the
 * negative errno as text. A file comes opened for reading, a directory as
 * O_PATH, each with its own stat. */
static const char *open_read(int root_fd, const char *path, HttpPathFlags flags) {
        static char buf[64];
        struct stat st, fst;
        HttpFile f;
        int fd, r;

        http_cache_begin(cache, ++cache_clock, 0);
        r = http_cache_open(cache, root_fd, path, flags, &f);
        fd = f.fd;
        st = f.st;
        if (r < 0) {
                snprintf(buf, sizeof(buf), "%s", strerrorname_np(-r));
                return buf;
        }
        ck_assert_int_eq(fstat(fd, &fst), 0);
        ck_assert(fst.st_dev == st.st_dev && fst.st_ino == st.st_ino);
        int fl = fcntl(fd, F_GETFL);
        ck_assert_int_ge(fl, 0);
        ssize_t n = 0;
        if (S_ISREG(st.st_mode)) {
                ck_assert_int_eq(fl & (O_PATH | O_ACCMODE), O_RDONLY);
                n = pread(fd, buf, sizeof(buf) - 1, 0);
        } else {
                ck_assert(S_ISDIR(st.st_mode));
                ck_assert(fl & O_PATH);
        }
        ck_assert_int_ge(n, 0);
        buf[n] = '\0';
        http_file_close(&f);
        return buf;
}

#define FOLLOW HTTP_PATH_FOLLOW_SYMLINKS
#define WALK (HTTP_PATH_NO_OPENAT2 | HTTP_PATH_FOLLOW_SYMLINKS)

/* The lookups of test_open_openat2, with the extra flags D. */
static void check_openat2(const Tree *t, HttpPathFlags D) {
        bool rule = D & HTTP_PATH_DENY_DOTFILES;

        ck_assert_str_eq(open_read(t->root_fd, "/file.txt", FOLLOW | D), "inside");
        ck_assert_str_eq(open_read(t->root_fd, "/sub/inner.txt", FOLLOW | D), "inner");
        ck_assert_str_eq(open_read(t->root_fd, "/", FOLLOW | D), "");
        ck_assert_str_eq(open_read(t->root_fd, "/sub/", FOLLOW | D), "");
        ck_assert_str_eq(open_read(t->root_fd, "/nope", FOLLOW | D), "ENOENT");
        ck_assert_str_eq(open_read(t->root_fd, "/file.txt/", FOLLOW | D), "ENOTDIR");
        ck_assert_str_eq(open_read(t->root_fd, "/file.txt/x", FOLLOW | D), "ENOTDIR");

        /* Symlinks that stay below the root are followed when allowed. */
        ck_assert_str_eq(open_read(t->root_fd, "/link_in", FOLLOW | D), "inside");
        ck_assert_str_eq(open_read(t->root_fd, "/link_sub/inner.txt", FOLLOW | D), "inner");
        ck_assert_str_eq(open_read(t->root_fd, "/link_in", D), "ELOOP");
        ck_assert_str_eq(open_read(t->root_fd, "/link_sub/inner.txt", D), "ELOOP");

        /* Nothing outside, however it is reached. */
        ck_assert_str_eq(open_read(t->root_fd, "/link_out", FOLLOW | D), "EXDEV");
        ck_assert_str_eq(open_read(t->root_fd, "/link_up/outside.txt", FOLLOW | D), "EXDEV");
        ck_assert_str_eq(open_read(t->root_fd, "/link_abs", FOLLOW | D), "EXDEV");
        ck_assert_str_eq(open_read(t->root_fd, "/link_abs_in", FOLLOW | D), "EXDEV");
        /* Not a normalized path: under the rule its ".." reads as a dotfile. */
        ck_assert_str_eq(open_read(t->root_fd, "/../outside.txt", FOLLOW | D), rule ? "EACCES" : "EXDEV");
        ck_assert_str_eq(open_read(t->root_fd, "/link_out", D), "ELOOP");
        ck_assert_str_eq(open_read(t->root_fd, "/link_abs", D), "ELOOP");
        ck_assert_str_eq(open_read(t->root_fd, "/proc/self/root/etc/passwd", FOLLOW | D), "ENOENT");

        /* Neither a FIFO nor a socket is opened for reading. */
        ck_assert_str_eq(open_read(t->root_fd, "/fifo", FOLLOW | D), "ENXIO");
        ck_assert_str_eq(open_read(t->root_fd, "/sock", FOLLOW | D), "ENXIO");

        /* Chains, loops, ".." after a symlink (relative to where it
         * leads, as for the kernel), trailing slashes. */
        ck_assert_str_eq(open_read(t->root_fd, "/link_chain", FOLLOW | D), "inside");
        ck_assert_str_eq(open_read(t->root_fd, "/link_loop", FOLLOW | D), "ELOOP");
        ck_assert_str_eq(open_read(t->root_fd, "/link_dotdot", FOLLOW | D), "inner");
        ck_assert_str_eq(open_read(t->root_fd, "/link_in/", FOLLOW | D), "ENOTDIR");
        ck_assert_str_eq(open_read(t->root_fd, "/link_sub/", FOLLOW | D), "");
}

START_TEST(test_open_openat2) {
        Tree t;
        tree_setup(&t);
        ck_assert_int_eq(http_path_probe_openat2(t.root_fd), 1);

        /* Once as is and once with the dotfiles rule, under which a path
         * with a symlink is resolved by http_path.c itself: both must
         * resolve alike. */
        check_openat2(&t, 0);
        check_openat2(&t, HTTP_PATH_DENY_DOTFILES);
        tree_teardown(&t);
}
END_TEST

/* The corpus again through the cache, twice: looked up and cached, then
 * from the cache (valid forever, nothing changes); and once more with
 * every entry looked up again (valid 0). */
START_TEST(test_open_cached) {
        Tree t;
        tree_setup(&t);

        for (unsigned valid = 0; valid < 2; valid++) {
                ck_assert_int_eq(http_cache_new(4096, valid ? UINT64_MAX : 0, &cache), 0);
                for (unsigned pass = 0; pass < 2; pass++) {
                        check_openat2(&t, 0);
                        check_openat2(&t, HTTP_PATH_DENY_DOTFILES);
                        check_dotfiles(&t);
                }
                HttpCacheStats s;
                http_cache_get_stats(cache, &s);
                ck_assert_uint_gt(s.entries, 0);
                ck_assert_uint_gt(valid ? s.hits : s.revalidated, 0);
                cache = http_cache_free(cache);
        }
        tree_teardown(&t);
}
END_TEST

START_TEST(test_open_walk) {
        Tree t;
        tree_setup(&t);

        ck_assert_str_eq(open_read(t.root_fd, "/file.txt", WALK), "inside");
        ck_assert_str_eq(open_read(t.root_fd, "/sub/inner.txt", WALK), "inner");
        ck_assert_str_eq(open_read(t.root_fd, "/", WALK), "");
        ck_assert_str_eq(open_read(t.root_fd, "/sub/", WALK), "");
        ck_assert_str_eq(open_read(t.root_fd, "/nope", WALK), "ENOENT");
        ck_assert_str_eq(open_read(t.root_fd, "/file.txt/", WALK), "ENOTDIR");
        ck_assert_str_eq(open_read(t.root_fd, "/fifo", WALK), "ENXIO");
        ck_assert_str_eq(open_read(t.root_fd, "/sock", WALK), "ENXIO");
        /* The walk follows no symlink at all. */
        ck_assert_str_eq(open_read(t.root_fd, "/link_in", WALK), "ELOOP");
        ck_assert_str_eq(open_read(t.root_fd, "/link_out", WALK), "ELOOP");
        ck_assert_str_eq(open_read(t.root_fd, "/link_abs", WALK), "ELOOP");
        const char *r = open_read(t.root_fd, "/link_sub/inner.txt", WALK);
        ck_assert_msg(strcmp(r, "ENOTDIR") == 0 || strcmp(r, "ELOOP") == 0, "link_sub/inner.txt: %s", r);
        r = open_read(t.root_fd, "/link_up/outside.txt", WALK);
        ck_assert_msg(strcmp(r, "ENOTDIR") == 0 || strcmp(r, "ELOOP") == 0, "link_up/outside.txt: %s", r);
        tree_teardown(&t);
}
END_TEST

/* The dotfiles rule holds for the path a symlink leads to: before the fix
 * only the path asked for was checked, and every link below was served. */
static void check_dotfiles(const Tree *tp) {
        const Tree t = *tp;

        for (unsigned hide = 0; hide < 2; hide++) {
                const char *refused = hide ? "ENOENT" : "EACCES";
                const HttpPathFlags f = FOLLOW | (hide ? HTTP_PATH_HIDE_DOTFILES : HTTP_PATH_DENY_DOTFILES);

                ck_assert_str_eq(open_read(t.root_fd, "/.env", f), refused);
                ck_assert_str_eq(open_read(t.root_fd, "/.dotdir/f.txt", f), refused);
                ck_assert_str_eq(open_read(t.root_fd, "/link_env", f), refused);
                ck_assert_str_eq(open_read(t.root_fd, "/sub/link_secret", f), refused);
                ck_assert_str_eq(open_read(t.root_fd, "/link_dotdir/f.txt", f), refused);
                ck_assert_str_eq(open_read(t.root_fd, "/link_dotdir/", f), refused);
                ck_assert_str_eq(open_read(t.root_fd, "/link_dotdot_env", f), refused);
                /* Where a link ends up decides, not what it passes. */
                ck_assert_str_eq(open_read(t.root_fd, "/link_wk", f), "wk");
                ck_assert_str_eq(open_read(t.root_fd, "/.well-known/x.txt", f), "wk");
                ck_assert_str_eq(open_read(t.root_fd, "/link_via", f), "inside");
                ck_assert_str_eq(open_read(t.root_fd, "/link_dotdot", f), "inner");
                ck_assert_str_eq(open_read(t.root_fd, "/link_chain", f), "inside");
                ck_assert_str_eq(open_read(t.root_fd, "/sub/inner.txt", f), "inner");
        }

        /* Without the rule the same links are served. */
        ck_assert_str_eq(open_read(t.root_fd, "/link_env", FOLLOW), "env");
        ck_assert_str_eq(open_read(t.root_fd, "/link_dotdir/f.txt", FOLLOW), "dotdir");
        /* Not following symlinks, or the walk (which follows none): the
         * path asked for is the one opened, and a link is refused as one. */
        ck_assert_str_eq(open_read(t.root_fd, "/link_env", HTTP_PATH_DENY_DOTFILES), "ELOOP");
        ck_assert_str_eq(open_read(t.root_fd, "/link_env", WALK | HTTP_PATH_DENY_DOTFILES), "ELOOP");
        ck_assert_str_eq(open_read(t.root_fd, "/sub/link_secret", WALK | HTTP_PATH_DENY_DOTFILES), "ELOOP");
        ck_assert_str_eq(open_read(t.root_fd, "/.env", WALK | HTTP_PATH_DENY_DOTFILES), "EACCES");
        ck_assert_str_eq(open_read(t.root_fd, "/.env", WALK | HTTP_PATH_HIDE_DOTFILES), "ENOENT");
        ck_assert_str_eq(open_read(t.root_fd, "/.env", WALK), "env");
        ck_assert_str_eq(open_read(t.root_fd, "/file.txt", WALK | HTTP_PATH_DENY_DOTFILES), "inside");
}

START_TEST(test_open_dotfiles) {
        Tree t;
        tree_setup(&t);
        check_dotfiles(&t);
        tree_teardown(&t);
}
END_TEST

/* A FIFO is refused without ever being opened: an open for reading wakes a
 * writer waiting in open() and, without O_NONBLOCK, waits for one; the same
 * open of a device node runs its driver. Before the fix the FIFO was opened
 * O_RDONLY and then refused by type. */
START_TEST(test_special_not_opened) {
        char p[PATH_MAX + 32];
        Tree t;
        tree_setup(&t);

        _cleanup_close_ int ifd = open_watch_new();
        snprintf(p, sizeof(p), "%s/root/fifo", t.dir);
        open_watch_add(ifd, p);
        snprintf(p, sizeof(p), "%s/root/file.txt", t.dir);
        open_watch_add(ifd, p);

        static const HttpPathFlags modes[] = {
                FOLLOW, 0, WALK, FOLLOW | HTTP_PATH_DENY_DOTFILES,
        };
        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                ck_assert_str_eq(open_read(t.root_fd, "/fifo", modes[i]), "ENXIO");
                ck_assert_msg(open_watch_count(ifd) == 0, "the FIFO was opened (flags %#x)", (unsigned) modes[i]);
                /* Also through a symlink, resolved by the kernel or, under
                 * the dotfiles rule, by http_path.c. */
                const char *r = open_read(t.root_fd, "/link_fifo", modes[i]);
                ck_assert_str_eq(r, modes[i] & FOLLOW && !(modes[i] & HTTP_PATH_NO_OPENAT2) ? "ENXIO" : "ELOOP");
                ck_assert_msg(open_watch_count(ifd) == 0, "the FIFO was opened through a symlink (flags %#x)",
                              (unsigned) modes[i]);
                /* The watch does see an open: the regular file's, for
                 * reading, exactly once. */
                ck_assert_str_eq(open_read(t.root_fd, "/file.txt", modes[i]), "inside");
                ck_assert_uint_eq(open_watch_count(ifd), 1);
        }
        tree_teardown(&t);
}
END_TEST

typedef struct Swapper {
        const char *dir;
        atomic_bool stop;
        atomic_ulong swaps;
        int started_fd;         /* written to after the first swap */
} Swapper;

/* Exchanges a and b by atomic rename (so both always exist), as fast as it
 * can, until told to stop; says so on started_fd after the first swap. */
static void exchange_until_stopped(Swapper *s, const char *a, const char *b) {
        while (!atomic_load(&s->stop)) {
                ck_assert_int_eq(renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE), 0);
                if (atomic_fetch_add(&s->swaps, 1) == 0)
                        ck_assert_int_eq(write(s->started_fd, "x", 1), 1);
        }
}

/* Flips DIR/root/race between a symlink to a file inside and one to a file
 * outside, by atomic rename, as fast as it can. */
static void *swap_symlink(void *arg) {
        Swapper *s = arg;
        char in[PATH_MAX + 32], out[PATH_MAX + 32], race[PATH_MAX + 32];

        snprintf(in, sizeof(in), "%s/root/.race_in", s->dir);
        snprintf(out, sizeof(out), "%s/root/.race_out", s->dir);
        snprintf(race, sizeof(race), "%s/root/race", s->dir);
        ck_assert_int_eq(symlink("file.txt", in), 0);
        ck_assert_int_eq(symlink("../outside.txt", out), 0);
        ck_assert_int_eq(rename(in, race), 0);
        /* Now race -> file.txt and .race_in is gone; swap back and forth
         * with RENAME_EXCHANGE so race always exists. */
        exchange_until_stopped(s, out, race);
        return NULL;
}

/* Exchanges DIR/root/swap (a real directory holding secret.txt "inside")
 * with a symlink to ../outdir (whose secret.txt says "outside"). */
static void *swap_directory(void *arg) {
        Swapper *s = arg;
        char dir[PATH_MAX + 32], link[PATH_MAX + 32], file[PATH_MAX + 64];

        snprintf(dir, sizeof(dir), "%s/root/swap", s->dir);
        snprintf(link, sizeof(link), "%s/root/.swap_link", s->dir);
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        snprintf(file, sizeof(file), "%s/secret.txt", dir);
        write_file(file, "inside");
        ck_assert_int_eq(symlink("../outdir", link), 0);
        exchange_until_stopped(s, link, dir);
        return NULL;
}

/* Exchanges DIR/root/swapreg (a regular file, "inside") with a FIFO. */
static void *swap_fifo(void *arg) {
        Swapper *s = arg;
        char reg[PATH_MAX + 32], fifo[PATH_MAX + 32];

        snprintf(reg, sizeof(reg), "%s/root/swapreg", s->dir);
        snprintf(fifo, sizeof(fifo), "%s/root/.swap_fifo", s->dir);
        write_file(reg, "inside");
        ck_assert_int_eq(mkfifo(fifo, 0644), 0);
        exchange_until_stopped(s, fifo, reg);
        return NULL;
}

static void race(void *(*swapper)(void *), const char *path, HttpPathFlags flags) {
        bool walk = flags & HTTP_PATH_NO_OPENAT2;
        Tree t;
        Swapper s = { .stop = false };
        int started[2];
        pthread_t th;
        unsigned long inside = 0, refused = 0;

        tree_setup(&t);
        s.dir = t.dir;
        ck_assert_int_eq(pipe2(started, O_CLOEXEC), 0);
        s.started_fd = started[1];
        ck_assert_int_eq(pthread_create(&th, NULL, swapper, &s), 0);
        /* On a loaded machine the thread may start late: wait for its
         * first swap (bounded), then look up at least RACE_ROUNDS times
         * and on until both outcomes were seen. */
        {
                struct pollfd p = { .fd = started[0], .events = POLLIN };

                ck_assert_msg(poll(&p, 1, (int) (TD_TIMEOUT / 1000)) == 1, "the swapping thread did not start");
        }
        for (unsigned i = 0; i < RACE_ROUNDS || ((inside == 0 && !walk) || refused == 0); i++) {
                ck_assert_msg(i < 50 * RACE_ROUNDS, "only one outcome in %u lookups", i);
                const char *r = open_read(t.root_fd, path, flags);
                ck_assert_msg(strcmp(r, "outside") != 0, "%s opened a file outside the root (round %u)", path, i);
                if (strcmp(r, "inside") == 0)
                        inside++;
                else
                        refused++;
        }
        atomic_store(&s.stop, true);
        ck_assert_int_eq(pthread_join(th, NULL), 0);
        ck_assert_uint_gt(atomic_load(&s.swaps), 0);
        safe_close(started[0]);
        safe_close(started[1]);
        tree_teardown(&t);
}

START_TEST(test_race_symlink) {
        race(swap_symlink, "/race", FOLLOW);
}
END_TEST

START_TEST(test_race_symlink_walk) {
        race(swap_symlink, "/race", WALK);
}
END_TEST

START_TEST(test_race_symlink_dotfiles) {
        race(swap_symlink, "/race", FOLLOW | HTTP_PATH_DENY_DOTFILES);
}
END_TEST

START_TEST(test_race_directory_dotfiles) {
        race(swap_directory, "/swap/secret.txt", FOLLOW | HTTP_PATH_DENY_DOTFILES);
}
END_TEST

/* A regular file swapped for a FIFO while it is looked up: either the
 * file or a refusal, never a FIFO's fd (open_read() asserts the type) and
 * never a wait in open() (the test would time out). */
START_TEST(test_race_fifo) {
        race(swap_fifo, "/swapreg", FOLLOW);
}
END_TEST

START_TEST(test_race_fifo_walk) {
        race(swap_fifo, "/swapreg", WALK);
}
END_TEST

START_TEST(test_race_directory) {
        race(swap_directory, "/swap/secret.txt", FOLLOW);
}
END_TEST

START_TEST(test_race_directory_walk) {
        race(swap_directory, "/swap/secret.txt", WALK);
}
END_TEST

int main(void) {
        Suite *s = suite_create("http-path");

        TD_ADD_TEST(s, test_normalize_good);
        TD_ADD_TEST(s, test_normalize_bad);
        TD_ADD_TEST(s, test_normalize_buffer);
        TD_ADD_TEST(s, test_dotfiles);
        TD_ADD_TEST(s, test_encode);
        TD_ADD_TEST(s, test_open_openat2);
        TD_ADD_TEST(s, test_open_cached);
        TD_ADD_TEST(s, test_open_walk);
        TD_ADD_TEST(s, test_open_dotfiles);
        TD_ADD_TEST(s, test_special_not_opened);
        TD_ADD_TEST(s, test_race_symlink);
        TD_ADD_TEST(s, test_race_symlink_walk);
        TD_ADD_TEST(s, test_race_directory);
        TD_ADD_TEST(s, test_race_directory_walk);
        TD_ADD_TEST(s, test_race_symlink_dotfiles);
        TD_ADD_TEST(s, test_race_fifo);
        TD_ADD_TEST(s, test_race_fifo_walk);
        TD_ADD_TEST(s, test_race_directory_dotfiles);
        return td_run_suite(s);
}
