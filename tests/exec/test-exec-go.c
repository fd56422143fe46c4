/* SPDX-License-Identifier: MIT */
/* handler = "exec" pooling a Go server that uses github.com/coreos/go-systemd
 * (Debian's golang-github-coreos-go-systemd-dev, built with golang-go into
 * tests/exec/goserver): activation.Listeners() for its socket,
 * daemon.SdNotify for READY=1 and its watchdog pings. Two workers:
 * traffic through both, kill -9 replaced without a refused connection, a
 * reload under load without a failed request; and the cookbook's go.conf
 * as written. */
#include "exec-test.h"

static const char *goserver_path(void) {
        static char path[1024];
        const char *b = getenv("PREFORKD_BUILD_ROOT");

        snprintf(path, sizeof path, "%s/tests/exec/goserver", b ? b : ".");
        return path;
}

START_TEST(test_go) {
        _cleanup_free_ char *group = NULL;
        Program go = { .binary = goserver_path(), .package = "golang-go" };

        /* The watchdog too: pings at a third of the interval keep it. */
        ck_assert_int_ge(asprintf(&group, "command = [ \"%s\" ]; ready = \"notify\"; watchdog_timeout = 3.0;",
                                  goserver_path()),
                         0);
        go.exec_group = group;
        traffic_and_kill(&go);
}
END_TEST

START_TEST(test_go_example) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *text = example_config("go.conf", "127.0.0.1:8000"), *conf = NULL, *body = NULL;
        uint16_t port;

        /* The example's binary is /srv/app/server, now in the apps
         * directory: the one built here. */
        _cleanup_free_ char *server = NULL;
        ck_assert_int_ge(asprintf(&server, "%s/server", apps_dir()), 0);
        conf = str_replace_all(text, server, goserver_path());
        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "go", 0, &port));
        TD_OK(d, http_get(port, "/", &body));
        TD_ASSERT_MSG(d, body_field(body, "pid") > 0, "%s", body);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("exec-go");

        if (access(goserver_path(), X_OK) < 0) {
                fprintf(stderr, "%s was not built: apt-get install golang-go golang-github-coreos-go-systemd-dev\n",
                        goserver_path());
                return TD_EXIT_SKIP;
        }
        TD_ADD_TEST(s, test_go);
        TD_ADD_TEST(s, test_go_example);
        return td_run_suite(s);
}
