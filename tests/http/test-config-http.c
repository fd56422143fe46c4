/* SPDX-License-Identifier: MIT */
/* The "http" group of a service: defaults, every key, and errors that name
 * file, line and setting. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "http_config.h"
#include "testlib.h"

/* Every text of these tests is the http group of service "web", or what
 * goes with it: line 6 is its first. The files they name are in the
 * directory. */
static void setup(void) {
        char fifo[512];

        td_conf_setup();
        td_conf_frame("services = ( {\n"
                      "  name = \"web\";\n"
                      "  listen = [ \"127.0.0.1:0\" ];\n"
                      "  workers = 1;\n"
                      "  handler = \"http\";\n",
                      "} );\n");
        td_conf_mkdir("site");
        td_conf_write_file("file", "", 0644);
        td_conf_write_file("my.types", "application/x-mine mine\n", 0644);
        /* A FIFO as mime_types must be refused, not hang -t or a reload. */
        snprintf(fifo, sizeof(fifo), "%s/fifo.types", td_conf_dir());
        ck_assert_int_eq(mkfifo(fifo, 0644), 0);
        td_conf_write_file("bad.types", "text/plain txt\nbroken\n", 0644);
}

START_TEST(test_defaults) {
        _cleanup_(config_freep) Config *c = NULL;
        char **errors = NULL, want[256];

        ck_assert_int_eq(td_conf_load("  http = { root = \"site\"; };\n", &c, &errors), 0);
        ck_assert_ptr_null(errors);
        const HttpConfig *h = c->services[0].handler_config;
        ck_assert_ptr_nonnull(h);
        snprintf(want, sizeof(want), "%s/site", td_conf_dir());
        ck_assert_str_eq(h->root, want);
        ck_assert_str_eq(h->index[0], "index.html");
        ck_assert_ptr_null(h->index[1]);
        ck_assert(!h->autoindex);
        ck_assert_uint_eq(h->keepalive_timeout_usec, 5 * USEC_PER_SEC);
        ck_assert_uint_eq(h->keepalive_requests, 1000);
        ck_assert_uint_eq(h->header_timeout_usec, 10 * USEC_PER_SEC);
        ck_assert_uint_eq(h->send_timeout_usec, 30 * USEC_PER_SEC);
        /* RFC 9112 §3: request lines of at least 8000 octets. */
        ck_assert_uint_eq(h->max_header_size, 16384);
        ck_assert_uint_eq(h->max_target_size, 8192);
        ck_assert(h->access_log);
        ck_assert(h->server_tokens);
        ck_assert_int_eq(h->dotfiles, HTTP_DOTFILES_DENY);
        ck_assert(h->follow_symlinks);
        ck_assert(h->etag);
        ck_assert_str_eq(h->default_type, "application/octet-stream");
        ck_assert_ptr_null(h->charset);
        ck_assert_ptr_null(h->cache_control);
        ck_assert(!h->precompressed);
        ck_assert_ptr_null(h->extra_headers);
        ck_assert_uint_eq(h->open_file_cache, 4096);
        ck_assert_uint_eq(h->open_file_cache_valid_usec, USEC_PER_SEC);
        /* http's own park.delay (echo's is longer, see test-config). */
        ck_assert_uint_eq(c->services[0].park_delay_usec, 2000);
        /* TCP_DEFER_ACCEPT is on for http unless turned off. */
        ck_assert(c->services[0].defer_accept);
        config_free(TAKE_PTR(c));
        ck_assert_int_eq(td_conf_load("  defer_accept = false;\n  http = { root = \"site\"; };\n", &c, &errors), 0);
        ck_assert(!c->services[0].defer_accept);
        h = c->services[0].handler_config;
        if (access("/etc/mime.types", R_OK) == 0) {
                ck_assert_str_eq(h->mime_types, "/etc/mime.types");
                ck_assert_ptr_nonnull(h->mime);
        }
}
END_TEST

START_TEST(test_all_keys) {
        _cleanup_(config_freep) Config *c = NULL;
        char **errors = NULL;

        ck_assert_int_eq(td_conf_load("  http = {\n"
                                      "    root = \"site\";\n"
                                      "    index = [ \"index.htm\", \"default.html\" ];\n"
                                      "    autoindex = true;\n"
                                      "    keepalive_timeout = 0;\n"
                                      "    keepalive_requests = 1;\n"
                                      "    header_timeout = 2.5;\n"
                                      "    send_timeout = 7;\n"
                                      "    max_header_size = 16384;\n"
                                      "    max_target_size = 2048;\n"
                                      "    access_log = false;\n"
                                      "    server_tokens = false;\n"
                                      "    dotfiles = \"hide\";\n"
                                      "    follow_symlinks = false;\n"
                                      "    etag = false;\n"
                                      "    mime_types = \"my.types\";\n"
                                      "    default_type = \"text/plain\";\n"
                                      "    charset = \"utf-8\";\n"
                                      "    cache_control = \"public, max-age=3600\";\n"
                                      "    precompressed = true;\n"
                                      "    headers = [ \"X-Frame-Options:DENY\", \"Strict-Transport-Security:  max-age=60\" ];\n"
                                      "    open_file_cache = 0;\n"
                                      "    open_file_cache_valid = 0;\n"
                                      "  };\n",
                                      &c, &errors),
                         0);
        const HttpConfig *h = c->services[0].handler_config;
        ck_assert_str_eq(h->index[0], "index.htm");
        ck_assert_str_eq(h->index[1], "default.html");
        ck_assert_ptr_null(h->index[2]);
        ck_assert(h->autoindex);
        ck_assert_uint_eq(h->keepalive_timeout_usec, 0);
        ck_assert_uint_eq(h->keepalive_requests, 1);
        ck_assert_uint_eq(h->header_timeout_usec, 2500 * USEC_PER_MSEC);
        ck_assert_uint_eq(h->send_timeout_usec, 7 * USEC_PER_SEC);
        ck_assert_uint_eq(h->max_header_size, 16384);
        ck_assert_uint_eq(h->max_target_size, 2048);
        ck_assert(!h->access_log);
        ck_assert(!h->server_tokens);
        ck_assert_int_eq(h->dotfiles, HTTP_DOTFILES_HIDE);
        ck_assert(!h->follow_symlinks);
        ck_assert(!h->etag);
        ck_assert_uint_eq(http_mime_size(h->mime), 1);
        ck_assert_str_eq(http_mime_lookup(h->mime, "a.mine", 6), "application/x-mine");
        ck_assert_str_eq(h->default_type, "text/plain");
        ck_assert_str_eq(h->charset, "utf-8");
        ck_assert_str_eq(h->cache_control, "public, max-age=3600");
        ck_assert(h->precompressed);
        ck_assert_str_eq(h->extra_headers, "X-Frame-Options: DENY\r\nStrict-Transport-Security: max-age=60\r\n");
        ck_assert_uint_eq(h->extra_headers_len, strlen(h->extra_headers));
        ck_assert_uint_eq(h->open_file_cache, 0);
        ck_assert_uint_eq(h->open_file_cache_valid_usec, 0);
}
END_TEST

START_TEST(test_empty_index_list) {
        _cleanup_(config_freep) Config *c = NULL;
        char **errors = NULL;

        ck_assert_int_eq(td_conf_load("  http = { root = \"site\"; index = []; };\n", &c, &errors), 0);
        ck_assert_ptr_null(((const HttpConfig *) c->services[0].handler_config)->index[0]);
}
END_TEST

/* Without max_target_size, a smaller max_header_size (such as the 8192 of
 * earlier defaults) brings the target limit down with it instead of
 * becoming a config error. */
START_TEST(test_target_follows_header) {
        _cleanup_(config_freep) Config *c = NULL;
        char **errors = NULL;

        ck_assert_int_eq(td_conf_load("  http = { root = \"site\"; max_header_size = 8192; };\n", &c, &errors), 0);
        ck_assert_ptr_null(errors);
        const HttpConfig *h = c->services[0].handler_config;
        ck_assert_uint_eq(h->max_header_size, 8192);
        ck_assert_uint_eq(h->max_target_size, 8192 - 32);
        c = config_free(c);

        ck_assert_int_eq(td_conf_load("  http = { root = \"site\"; max_header_size = 65536; };\n", &c, &errors), 0);
        ck_assert_ptr_null(errors);
        h = c->services[0].handler_config;
        ck_assert_uint_eq(h->max_target_size, 8192);
}
END_TEST

START_TEST(test_errors) {
        td_conf_assert_error("", 1, "services.[0].http", "missing required group");
        td_conf_assert_error("  http = { index = \"x\"; };\n", 6, "services.[0].http.root", "missing");
        td_conf_assert_error("  http = { root = \"nope\"; };\n", 6, "services.[0].http.root",
                             "No such file or directory");
        td_conf_assert_error("  http = { root = \"file\"; };\n", 6, "services.[0].http.root", "not a directory");
        td_conf_assert_error("  http = { root = 5; };\n", 6, "services.[0].http.root", "must be a string");
        td_conf_assert_error("  http = {\n root = \"site\";\n roots = 1; };\n", 8, "services.[0].http.roots",
                             "unknown setting");
        td_conf_assert_error("  http = { root = \"site\";\n index = \"a/b\"; };\n", 7, "services.[0].http.index",
                             "plain file name");
        td_conf_assert_error("  http = { root = \"site\";\n index = [ \"ok\", \"..\" ]; };\n", 7,
                             "services.[0].http.index.[1]", "plain file name");
        td_conf_assert_error("  http = { root = \"site\";\n index = 3; };\n", 7, "services.[0].http.index",
                             "file name");
        td_conf_assert_error("  http = { root = \"site\";\n keepalive_timeout = -1; };\n", 7,
                             "services.[0].http.keepalive_timeout", "between 0 and 3600");
        td_conf_assert_error("  http = { root = \"site\";\n keepalive_requests = 0; };\n", 7,
                             "services.[0].http.keepalive_requests", "between 1 and");
        td_conf_assert_error("  http = { root = \"site\";\n header_timeout = 0; };\n", 7,
                             "services.[0].http.header_timeout", "between");
        td_conf_assert_error("  http = { root = \"site\";\n send_timeout = \"x\"; };\n", 7,
                             "services.[0].http.send_timeout", "number of seconds");
        td_conf_assert_error("  http = { root = \"site\";\n max_header_size = 100; };\n", 7,
                             "services.[0].http.max_header_size", "between 1024 and 1048576");
        td_conf_assert_error("  http = { root = \"site\";\n max_header_size = 2048;\n max_target_size = 2040; };\n", 8,
                             "services.[0].http.max_target_size", "less than max_header_size");
        td_conf_assert_error("  http = { root = \"site\";\n access_log = 1; };\n", 7, "services.[0].http.access_log",
                             "true or false");
        td_conf_assert_error("  http = { root = \"site\";\n dotfiles = \"show\"; };\n", 7, "services.[0].http.dotfiles",
                             "\"deny\", \"hide\", \"allow\"");
        td_conf_assert_error("  http = { root = \"site\";\n mime_types = \"none.types\"; };\n", 7,
                             "services.[0].http.mime_types", "No such file or directory");
        td_conf_assert_error("  http = { root = \"site\";\n mime_types = \"fifo.types\"; };\n", 7,
                             "services.[0].http.mime_types", "fifo.types: not a regular file");
        td_conf_assert_error("  http = { root = \"site\";\n mime_types = \"bad.types\"; };\n", 7,
                             "services.[0].http.mime_types", "bad.types:2: not a mime.types line");
        td_conf_assert_error("  http = { root = \"site\";\n default_type = \"text\"; };\n", 7,
                             "services.[0].http.default_type", "media type");
        td_conf_assert_error("  http = { root = \"site\";\n charset = \"utf 8\"; };\n", 7, "services.[0].http.charset",
                             "must be a token");
        td_conf_assert_error("  http = { root = \"site\";\n cache_control = \"a\\nb\"; };\n", 7,
                             "services.[0].http.cache_control", "printable ASCII");
        td_conf_assert_error("  http = { root = \"site\";\n headers = \"X: y\"; };\n", 7, "services.[0].http.headers",
                             "list of");
        td_conf_assert_error("  http = { root = \"site\";\n headers = [ \"X y\" ]; };\n", 7,
                             "services.[0].http.headers.[0]", "\"Name: value\"");
        td_conf_assert_error("  http = { root = \"site\";\n headers = [ \"X: ok\", \"Y:\" ]; };\n", 7,
                             "services.[0].http.headers.[1]", "\"Name: value\"");
        td_conf_assert_error("  http = { root = \"site\";\n headers = [ \"X: a\\r\\nY: b\" ]; };\n", 7,
                             "services.[0].http.headers.[0]", "\"Name: value\"");
        td_conf_assert_error("  http = { root = \"site\";\n headers = [ \"content-length: 5\" ]; };\n", 7,
                             "services.[0].http.headers.[0]", "set by the handler itself");
        td_conf_assert_error("  http = { root = \"site\";\n open_file_cache = -1; };\n", 7,
                             "services.[0].http.open_file_cache", "between 0 and 1000000");
        td_conf_assert_error("  http = { root = \"site\";\n open_file_cache = 1.5; };\n", 7,
                             "services.[0].http.open_file_cache", "integer");
        td_conf_assert_error("  http = { root = \"site\";\n open_file_cache_valid = -0.5; };\n", 7,
                             "services.[0].http.open_file_cache_valid", "between 0 and 3600");
        td_conf_assert_error("  http = { root = \"site\";\n open_file_cache_valid = \"1s\"; };\n", 7,
                             "services.[0].http.open_file_cache_valid", "number of seconds");
}
END_TEST

int main(void) {
        Suite *s = suite_create("config-http");
        TCase *tc = tcase_create("config-http");

        tcase_add_checked_fixture(tc, setup, td_conf_teardown);
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_all_keys);
        tcase_add_test(tc, test_empty_index_list);
        tcase_add_test(tc, test_target_follows_header);
        tcase_add_test(tc, test_errors);
        suite_add_tcase(s, tc);
        return td_run_suite(s);
}
