/* SPDX-License-Identifier: MIT */
/* The directory listing: what a rendered page holds, and that a failure
 * while writing it releases everything it took. The test binary is linked
 * with -Wl,--wrap=open_memstream, so that the listing's memory stream can be
 * replaced by one whose writes fail, which a real memory stream only does
 * when malloc() fails. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_autoindex.h"
#include "testlib.h"

FILE *__real_open_memstream(char **ptr, size_t *sizeloc);
FILE *__wrap_open_memstream(char **ptr, size_t *sizeloc);

/* What the next open_memstream() call does. */
static enum {
        STREAM_REAL,
        STREAM_FAIL_OPEN,   /* returns NULL, as when malloc() fails */
        STREAM_FAIL_WRITE,  /* a stream whose every write fails */
} stream_mode = STREAM_REAL;

/* Failing streams not yet closed. */
static unsigned failing_streams_open;

static ssize_t failing_write(void *cookie _unused_, const char *buf _unused_, size_t size _unused_) {
        errno = ENOMEM;
        return -1;
}

static int failing_close(void *cookie _unused_) {
        failing_streams_open--;
        return 0;
}

FILE *__wrap_open_memstream(char **ptr, size_t *sizeloc) {
        switch (stream_mode) {
        case STREAM_FAIL_OPEN:
                errno = ENOMEM;
                return NULL;
        case STREAM_FAIL_WRITE: {
                FILE *f = fopencookie(NULL, "w",
                                      (cookie_io_functions_t) { .write = failing_write, .close = failing_close });
                ck_assert_ptr_nonnull(f);
                /* Unbuffered, so that the first write fails at once and
                 * sets the error indicator before the stream is closed, as
                 * a memory stream does when it cannot grow. */
                ck_assert_int_eq(setvbuf(f, NULL, _IONBF, 0), 0);
                failing_streams_open++;
                *ptr = NULL;
                *sizeloc = 0;
                return f;
        }
        case STREAM_REAL:
        default:
                return __real_open_memstream(ptr, sizeloc);
        }
}

/* DIR holds "b.txt" (3 bytes), "a<&>.txt", ".hidden" and the directory
 * "sub"; returns an fd of DIR opened with open_flags. */
static int make_dir(char *dir, size_t size, int open_flags) {
        char p[PATH_MAX + 32];

        const char *tmp = getenv("TMPDIR");
        snprintf(dir, size, "%s/preforkd-autoindex-XXXXXX", tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        static const char *const files[] = { "b.txt", "a<&>.txt", ".hidden" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
                FILE *f = fopen(p, "we");
                ck_assert_ptr_nonnull(f);
                fputs("abc", f);
                ck_assert_int_eq(fclose(f), 0);
        }
        snprintf(p, sizeof(p), "%s/sub", dir);
        ck_assert_int_eq(mkdir(p, 0755), 0);

        int fd = open(dir, open_flags | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        return fd;
}

static void remove_dir(const char *dir) {
        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_render) {
        char dir[PATH_MAX];
        _cleanup_close_ int fd = make_dir(dir, sizeof(dir), O_RDONLY);
        _cleanup_free_ char *body = NULL;
        size_t len;

        ck_assert_int_eq(http_autoindex_render(fd, "/x/<y>/", false, &body, &len), 0);
        ck_assert_uint_eq(len, strlen(body));
        ck_assert_ptr_nonnull(strstr(body, "<title>Index of /x/&lt;y&gt;/</title>"));
        ck_assert_ptr_nonnull(strstr(body, "<a href=\"../\">../</a>"));
        /* Directories first, then files by name; names escaped. */
        const char *sub = strstr(body, "<a href=\"./sub/\">sub/</a>");
        const char *a = strstr(body, "<a href=\"./a%3C&amp;%3E.txt\">a&lt;&amp;&gt;.txt</a>");
        const char *b = strstr(body, "<a href=\"./b.txt\">b.txt</a></td><td>");
        ck_assert(sub && a && b && sub < a && a < b);
        ck_assert_ptr_nonnull(strstr(b, "</td><td>3</td></tr>"));
        ck_assert_ptr_null(strstr(body, ".hidden"));
        free(TAKE_PTR(body));

        ck_assert_int_eq(http_autoindex_render(fd, "/", true, &body, &len), 0);
        ck_assert_ptr_nonnull(strstr(body, "<a href=\"./.hidden\">.hidden</a>"));
        ck_assert_ptr_null(strstr(body, "href=\"../\""));
        free(TAKE_PTR(body));

        /* The directory comes as O_PATH from the lookup, and is listed
         * again and again from its start. */
        _cleanup_close_ int path_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(path_fd, 0);
        for (int i = 0; i < 2; i++) {
                ck_assert_int_eq(http_autoindex_render(path_fd, "/", false, &body, &len), 0);
                ck_assert_ptr_nonnull(strstr(body, "<a href=\"./b.txt\">b.txt</a>"));
                free(TAKE_PTR(body));
        }
        remove_dir(dir);
}
END_TEST

/* A write error while rendering must close the stream and free what was
 * written: before the fix the FILE was leaked whenever its error indicator
 * was set, because fclose() was skipped. */
START_TEST(test_write_error) {
        char dir[PATH_MAX];
        _cleanup_close_ int fd = make_dir(dir, sizeof(dir), O_RDONLY);
        char *body = NULL;
        size_t len = 0;

        stream_mode = STREAM_FAIL_WRITE;
        ck_assert_int_eq(http_autoindex_render(fd, "/", false, &body, &len), -ENOMEM);
        stream_mode = STREAM_REAL;
        ck_assert_msg(failing_streams_open == 0, "the listing's stream was not closed");
        ck_assert_ptr_null(body);

        stream_mode = STREAM_FAIL_OPEN;
        ck_assert_int_eq(http_autoindex_render(fd, "/", false, &body, &len), -ENOMEM);
        stream_mode = STREAM_REAL;
        ck_assert_ptr_null(body);
        remove_dir(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("http-autoindex");

        TD_ADD_TEST(s, test_render);
        TD_ADD_TEST(s, test_write_error);
        return td_run_suite(s);
}
