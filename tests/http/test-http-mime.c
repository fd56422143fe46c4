/* SPDX-License-Identifier: MIT */
/* Media types from a mime.types file, with the built-in fallback. The
 * system's /etc/mime.types is read in test-http-mime-system.c. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_mime.h"
#include "testlib.h"

static char *write_temp(const char *content) {
        const char *tmp = getenv("TMPDIR");
        char *path;
        ck_assert_int_ge(asprintf(&path, "%s/preforkd-mime-XXXXXX", tmp ? tmp : "/tmp"), 0);
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t) strlen(content));
        safe_close(fd);
        return path;
}

static const char *lookup(const HttpMimeTable *t, const char *name) {
        return http_mime_lookup(t, name, strlen(name));
}

START_TEST(test_load) {
        _cleanup_(http_mime_freep) HttpMimeTable *t = NULL;
        _cleanup_free_ char *path = write_temp("# comment\n"
                                               "text/html\t\thtml htm\n"
                                               "\n"
                                               "application/x-first   dup\r\n"
                                               "application/x-second  dup Dup\n"
                                               "image/x-upper PNG # trailing comment\n"
                                               "application/x-noext\n"
                                               "text/plain txt");
        unsigned line = 0;

        ck_assert_int_eq(http_mime_load(path, &t, &line), 0);
        unlink(path);
        ck_assert_str_eq(lookup(t, "index.html"), "text/html");
        ck_assert_str_eq(lookup(t, "/a/b/INDEX.HTM"), "text/html");
        ck_assert_str_eq(lookup(t, "x.dup"), "application/x-first");  /* the first mention wins */
        ck_assert_str_eq(lookup(t, "x.png"), "image/x-upper");        /* the file overrides built-ins */
        ck_assert_str_eq(lookup(t, "notes.txt"), "text/plain");       /* last line without newline */
        /* Not in the file: the built-in table. */
        ck_assert_str_eq(lookup(t, "app.wasm"), "application/wasm");
        ck_assert_str_eq(lookup(t, "font.woff2"), "font/woff2");
        /* Nothing known. */
        ck_assert_ptr_null(lookup(t, "README"));
        ck_assert_ptr_null(lookup(t, "x.unknownext"));
        ck_assert_ptr_null(lookup(t, "dir.d/file"));
        ck_assert_ptr_null(lookup(t, "trailingdot."));
        ck_assert_uint_eq(http_mime_size(t), 5); /* html htm dup png txt */
}
END_TEST

START_TEST(test_builtin_only) {
        ck_assert_str_eq(lookup(NULL, "a.html"), "text/html");
        ck_assert_str_eq(lookup(NULL, "a.CSS"), "text/css");
        ck_assert_str_eq(lookup(NULL, "a.js"), "text/javascript");
        ck_assert_str_eq(lookup(NULL, "a.svg"), "image/svg+xml");
        ck_assert_str_eq(lookup(NULL, "a.json"), "application/json");
        ck_assert_ptr_null(lookup(NULL, "a.exe"));
        ck_assert_ptr_null(lookup(NULL, ".bashrc.averyveryveryveryverylongextensionthatisnotreal"));
}
END_TEST

START_TEST(test_errors) {
        HttpMimeTable *t = NULL;
        unsigned line = 0;
        _cleanup_free_ char *path = write_temp("text/html html\nnot-a-type foo\n");

        ck_assert_int_eq(http_mime_load(path, &t, &line), -EINVAL);
        ck_assert_uint_eq(line, 2);
        ck_assert_ptr_null(t);
        unlink(path);
        ck_assert_int_eq(http_mime_load("/nonexistent/mime.types", &t, &line), -ENOENT);
        /* Not a regular file (a directory here, a FIFO in test-config-http). */
        ck_assert_int_eq(http_mime_load("/", &t, &line), -EBADFD);
}
END_TEST

int main(void) {
        Suite *s = suite_create("http-mime");

        TD_ADD_TEST(s, test_load);
        TD_ADD_TEST(s, test_builtin_only);
        TD_ADD_TEST(s, test_errors);
        return td_run_suite(s);
}
