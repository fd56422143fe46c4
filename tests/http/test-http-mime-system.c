/* SPDX-License-Identifier: MIT */
/* The system's /etc/mime.types (Debian: package media-types), the default
 * of http.mime_types, loads and maps what it should. Without the file the
 * executable exits 77, so that meson reports a skip instead of a pass. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "http_mime.h"
#include "testlib.h"

START_TEST(test_system_table) {
        _cleanup_(http_mime_freep) HttpMimeTable *t = NULL;

        ck_assert_int_eq(http_mime_load("/etc/mime.types", &t, NULL), 0);
        ck_assert_uint_gt(http_mime_size(t), 100);
        ck_assert_str_eq(http_mime_lookup(t, "index.html", strlen("index.html")), "text/html");
        ck_assert_str_eq(http_mime_lookup(t, "a.PNG", strlen("a.PNG")), "image/png");
}
END_TEST

int main(void) {
        Suite *s;

        if (access("/etc/mime.types", R_OK) < 0) {
                fprintf(stderr, "SKIP: no /etc/mime.types (package media-types)\n");
                return TD_EXIT_SKIP;
        }
        s = suite_create("http-mime-system");
        TD_ADD_TEST(s, test_system_table);
        return td_run_suite(s);
}
