/* SPDX-License-Identifier: MIT */
/* The control socket's tests that need root or other programs: mutating
 * commands refused to another user (preforkctl run as nobody), the status
 * JSON against the schema in the tree (python3-jsonschema), the metrics
 * through promtool's check, and a real Prometheus server scraping
 * metrics_listen, in a network namespace of the test's own so that its
 * fixed port cannot clash with a parallel test. Skipped (77) without root
 * or without those programs, so that a package build without them passes;
 * CI has them all. */
#include <pwd.h>
#include <sys/stat.h>

#include "ctl.h"

#define PROMETHEUS_PORT 9090

static void start(TestDaemon **ret, unsigned workers, const char *top_extra, uint16_t *ret_port) {
        _cleanup_free_ char *top = NULL;

        ck_assert(asprintf(&top, CTL_TOP "\n%s", top_extra ? top_extra : "") >= 0);
        start_echo(ret, workers, NULL, top, ret_port);
}

START_TEST(test_other_user_is_read_only) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *before = NULL, *after = NULL;
        const struct passwd *pw = getpwnam("nobody");
        static const char *const mutating[][4] = {
                { "reload", NULL },
                { "scale", "echo", "3", NULL },
                { "drain", NULL },
                { "undrain", "echo", NULL },
        };
        CtlRun r;
        uint16_t port;
        int n;

        ck_assert_msg(pw, "no user nobody");
        start(&d, 2, NULL, &port);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &before));
        /* nobody must reach the socket: the directory decides that. */
        TD_ASSERT(d, chmod(td_dir(d), 0755) == 0);

        ctl_as(d, pw->pw_uid, &r, (const char *const[]) { "status", NULL });
        CTL_EXPECT(d, &r, 0);
        TD_ASSERT_MSG(d, strstr(r.out, "echo"), "status as nobody:\n%s", r.out);
        ctl_run_done(&r);
        ctl_as(d, pw->pw_uid, &r, (const char *const[]) { "metrics", NULL });
        CTL_EXPECT(d, &r, 0);
        ctl_run_done(&r);

        for (size_t i = 0; i < ELEMENTSOF(mutating); i++) {
                _cleanup_free_ char *want = NULL;

                ctl_as(d, pw->pw_uid, &r, mutating[i]);
                CTL_EXPECT(d, &r, 4);
                ck_assert(asprintf(&want, "preforkctl: denied: permission denied: \"%s\" is only for root\n",
                                   mutating[i][0]) >= 0);
                TD_ASSERT_MSG(d, strcmp(r.err, want) == 0, "as nobody, %s: %s", mutating[i][0], r.err);
                ctl_run_done(&r);
        }
        TD_OK(d, td_wait_log(d, "Control socket: refused \"undrain\" from uid", TD_TIMEOUT, NULL));

        /* Nothing changed: same workers, not drained, no reload. */
        TD_ASSERT(d, !td_log_contains(d, "Reloading configuration"));
        TD_ASSERT(d, td_wait_workers(d, 2, TD_TIMEOUT, &after) == n);
        for (int i = 0; i < n; i++)
                TD_ASSERT(d, pid_in(before[i], after, n));
        CTL(d, &r, "--json", "status");
        TD_ASSERT_MSG(d, strstr(r.out, "\"drained\":false"), "JSON: %s", r.out);
        ctl_run_done(&r);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 1, TD_TIMEOUT));

        /* Root may. */
        CTL(d, &r, "scale", "echo", "3");
        CTL_EXPECT(d, &r, 0);
        ctl_run_done(&r);
        TD_OK(d, td_wait_workers(d, 3, TD_TIMEOUT, NULL));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Prometheus scrapes metrics_listen every 200 ms; its query API must soon
 * have a preforkd series with the service's label. */
START_TEST(test_prometheus_scrapes) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *yml = NULL, *cmd = NULL;
        CtlRun r;

        start(&d, 2, "metrics_listen = \"127.0.0.1:9100\";", NULL);
        ck_assert(asprintf(&yml,
                           "global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\n"
                           "scrape_configs:\n  - job_name: preforkd\n    static_configs:\n"
                           "      - targets: ['127.0.0.1:9100']\n") >= 0);
        TD_OK(d, td_write_file(d, "prometheus.yml", yml));
        /* Started, asked until the series shows (20 s at most), stopped. */
        ck_assert(asprintf(&cmd,
                           "cd %s || exit 1\n"
                           "prometheus --config.file=prometheus.yml --storage.tsdb.path=tsdb "
                           "--web.listen-address=127.0.0.1:%d > prometheus.log 2>&1 &\n"
                           "pid=$!\n"
                           "found=\n"
                           "for i in $(seq 100); do\n"
                           "  if curl -s 'http://127.0.0.1:%d/api/v1/query?query=preforkd_pool_size' > q.json &&\n"
                           "     grep -q '\"service\":\"echo\"' q.json; then found=1; break; fi\n"
                           "  sleep 0.2\n"
                           "done\n"
                           "kill $pid; wait $pid\n"
                           "cat q.json; echo\n"
                           "[ -n \"$found\" ] || { tail -20 prometheus.log; exit 1; }\n"
                           "echo scraped\n",
                           td_dir(d), PROMETHEUS_PORT, PROMETHEUS_PORT) >= 0);
        ctl_sh(d, cmd, &r);
        TD_ASSERT_MSG(d, r.code == 0 && strstr(r.out, "scraped") && strstr(r.out, "\"value\":["),
                      "Prometheus did not get preforkd's series:\n%s\n%s", r.out, r.err);
        ctl_run_done(&r);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* The status JSON, with a busy and an idle worker, is
 * valid by doc/status.schema.json. */
START_TEST(test_status_json_schema) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_close_ int held = -EBADF;
        _cleanup_free_ char *cmd = NULL;
        CtlRun r;
        uint16_t port;

        start(&d, 2, NULL, &port);
        held = TD_OK(d, td_connect_tcp("127.0.0.1", port));
        TD_OK(d, td_echo_exchange(held, "hold", 4, TD_TIMEOUT));
        CTL(d, &r, "--json", "status");
        CTL_EXPECT(d, &r, 0);
        TD_OK(d, td_write_file(d, "status.json", r.out));
        ctl_run_done(&r);
        ck_assert(asprintf(&cmd,
                           "/usr/bin/python3 -c 'import json, sys, jsonschema; "
                           "jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1]))); "
                           "print(\"valid\")' %s/doc/status.schema.json %s/status.json",
                           getenv("PREFORKD_SOURCE_ROOT"), td_dir(d)) >= 0);
        ctl_sh(d, cmd, &r);
        TD_ASSERT_MSG(d, r.code == 0 && strstr(r.out, "valid"), "the status JSON does not match the schema:\n%s%s",
                      r.out, r.err);
        ctl_run_done(&r);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* `preforkctl metrics` and GET /metrics pass promtool's check. */
START_TEST(test_promtool_check) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *cmd = NULL;
        CtlRun r;
        uint16_t port;

        start(&d, 2, "metrics_listen = \"127.0.0.1:9100\";", &port);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100, 1, TD_TIMEOUT));
        CTL(d, &r, "metrics");
        CTL_EXPECT(d, &r, 0);
        TD_OK(d, td_write_file(d, "ctl.prom", r.out));
        ctl_run_done(&r);
        ck_assert(asprintf(&cmd,
                           "set -e; cd %s; promtool check metrics < ctl.prom\n"
                           "curl -sS --fail -o http.prom http://127.0.0.1:9100/metrics\n"
                           "promtool check metrics < http.prom; echo checked",
                           td_dir(d)) >= 0);
        ctl_sh(d, cmd, &r);
        TD_ASSERT_MSG(d, r.code == 0 && strstr(r.out, "checked"), "promtool check metrics:\n%s%s", r.out, r.err);
        ctl_run_done(&r);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("ctl-root");
        CtlRun run;
        int r;

        if (geteuid() != 0) {
                fprintf(stderr, "not root: skipping\n");
                return TD_EXIT_SKIP;
        }
        if (ctl_exec((const char *[]) { "/bin/sh", "-c",
                                         "command -v promtool && command -v prometheus && command -v curl && "
                                         "/usr/bin/python3 -c 'import jsonschema'",
                                         NULL },
                     (uid_t) -1, (gid_t) -1, TD_SEC(30), &run) < 0 ||
            run.code != 0) {
                fprintf(stderr, "needs promtool, prometheus, curl and python3-jsonschema: skipping\n");
                return TD_EXIT_SKIP;
        }
        ctl_run_done(&run);
        r = td_unshare_network();
        if (r < 0) {
                fprintf(stderr, "cannot make a network namespace: %s\n", strerror(-r));
                return TD_EXIT_SKIP;
        }
        TD_ADD_TEST(s, test_other_user_is_read_only);
        TD_ADD_TEST(s, test_status_json_schema);
        TD_ADD_TEST(s, test_promtool_check);
        TD_ADD_TEST(s, test_prometheus_scrapes);
        return td_run_suite(s);
}
