/* SPDX-License-Identifier: MIT */
/* user/group as root: workers switch after the sockets are open, the master
 * keeps its privileges (so that a reload can still bind), and a reload whose
 * new workers cannot start as that user is refused. These need root and
 * the users nobody and nogroup: without them the executable exits 77, so
 * that meson reports a skip instead of a pass. test-privileges.c has what
 * runs without root. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "itest.h"

START_TEST(test_workers_drop_privileges) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        _cleanup_free_ char *sock = NULL;
        struct passwd *pw;
        struct group *gr;
        char want_uid[64], want_gid[64];
        uint16_t port, added;
        int n;

        pw = getpwnam("nobody");
        gr = getgrnam("nogroup");
        TD_ASSERT(NULL, pw && gr);
        snprintf(want_uid, sizeof(want_uid), "%u\t%u\t%u\t%u", (unsigned) pw->pw_uid, (unsigned) pw->pw_uid,
                 (unsigned) pw->pw_uid, (unsigned) pw->pw_uid);
        snprintf(want_gid, sizeof(want_gid), "%u\t%u\t%u\t%u", (unsigned) gr->gr_gid, (unsigned) gr->gr_gid,
                 (unsigned) gr->gr_gid, (unsigned) gr->gr_gid);

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d,
                                 "user = \"nobody\";\n"
                                 "group = \"nogroup\";\n"
                                 "services = (\n"
                                 "  { name = \"echo\"; listen = [ \"127.0.0.1:0\", \"unix:@DIR@/echo.sock\" ];\n"
                                 "    workers = 2; handler = \"echo\"; }\n"
                                 ");\n"));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 0, &port));
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *uid = td_proc_status(w[i], "Uid"), *gid = td_proc_status(w[i], "Gid"),
                                    *groups = td_proc_status(w[i], "Groups"), *nnp = td_proc_status(w[i], "NoNewPrivs");

                TD_ASSERT_MSG(d, uid && strcmp(uid, want_uid) == 0, "worker %d Uid: %s, expected %s", (int) w[i],
                              uid, want_uid);
                TD_ASSERT_MSG(d, gid && strcmp(gid, want_gid) == 0, "worker %d Gid: %s, expected %s", (int) w[i],
                              gid, want_gid);
                TD_ASSERT_MSG(d, groups && strspn(groups, "0123456789 ") == strlen(groups) && !strstr(groups, "0 ") &&
                                         strcmp(groups, "0") != 0,
                              "worker %d still has root's groups: '%s'", (int) w[i], groups);
                TD_ASSERT_MSG(d, nnp && strcmp(nnp, "1") == 0, "worker %d NoNewPrivs: %s", (int) w[i], nnp);
        }
        {
                _cleanup_free_ char *uid = td_proc_status(td_pid(d), "Uid");

                TD_ASSERT_MSG(d, uid && strncmp(uid, "0\t", 2) == 0, "the master dropped its privileges: Uid %s", uid);
        }
        sock = td_subst(d, "@DIR@/echo.sock");
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 100000, 1, TD_TIMEOUT));
        TD_OK(d, td_echo_roundtrip_unix(sock, 100000, 2, TD_TIMEOUT));

        /* A reload can still bind (a port only root could bind would prove
         * more, but any new listener needs the master to bind it). The new
         * one is on port 0 too, and the daemon tells its port: a port
         * picked beforehand could be taken by a parallel test. */
        TD_OK(d, td_write_config(d,
                                 "user = \"nobody\";\n"
                                 "group = \"nogroup\";\n"
                                 "services = (\n"
                                 "  { name = \"echo\"; listen = [ \"127.0.0.1:0\", \"127.0.0.1:0\" ];\n"
                                 "    workers = 2; handler = \"echo\"; }\n"
                                 ");\n"));
        TD_OK(d, td_kill(d, SIGHUP));
        TD_OK(d, td_wait_notify(d, "RELOADING=1", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_notify(d, "READY=1", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "Reloaded", TD_TIMEOUT, NULL));
        /* echo's third "Listening on" line: the TCP listener and echo.sock
         * were the first two, and the kept one is not logged again. */
        TD_OK(d, td_find_port(d, "echo", 2, &added));
        TD_ASSERT(d, added != port);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", added, 1000, 3, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* A reload whose new workers cannot start (here: the document root is
 * readable by the master, which validates the config as root, but not by
 * the user the workers switch to) must be refused once those workers die
 * before accepting, and the old generation must keep serving. */
START_TEST(test_reload_refused_when_new_workers_fail) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *before = NULL, *after = NULL;
        _cleanup_free_ char *priv = NULL, *site = NULL;
        uint16_t port;
        int n, m;

        TD_OK(NULL, td_new(&d));
        /* Only private/ may stand in the way, not the test's own dir. */
        TD_ASSERT(d, chmod(td_dir(d), 0755) == 0);
        priv = td_subst(d, "@DIR@/private");
        site = td_subst(d, "@DIR@/private/site");
        TD_ASSERT(d, priv && site && mkdir(priv, 0700) == 0 && mkdir(site, 0755) == 0);
        TD_OK(d, td_write_file(d, "private/site/index.html", "hello\n"));
        TD_OK(d, td_write_config(d, "user = \"nobody\";\n"
                                    "services = (\n"
                                    "  { name = \"echo\"; listen = [ \"127.0.0.1:0\" ]; workers = 2; handler = \"echo\"; }\n"
                                    ");\n"));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 0, &port));
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &before));

        TD_OK(d, td_write_config(d, "user = \"nobody\";\n"
                                    "services = (\n"
                                    "  { name = \"echo\"; listen = [ \"127.0.0.1:0\" ]; workers = 2; handler = \"echo\"; },\n"
                                    "  { name = \"web\"; listen = [ \"127.0.0.1:0\" ]; workers = 1; handler = \"http\";\n"
                                    "    http = { root = \"private/site\"; }; }\n"
                                    ");\n"));
        TD_ASSERT(d, kill(td_pid(d), SIGHUP) == 0);
        TD_OK(d, td_wait_log(d, "before accepting; still serving generation 1", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_notify(d, "READY=1", TD_TIMEOUT, NULL));

        /* The old workers were never told to stop and still answer. */
        m = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &after));
        TD_ASSERT(d, n == 2 && m == 2);
        for (int i = 0; i < n; i++)
                TD_ASSERT_MSG(d, before[i] == after[0] || before[i] == after[1], "worker %d was replaced",
                              (int) before[i]);
        for (unsigned i = 0; i < 5; i++)
                TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, i, TD_TIMEOUT));
        TD_ASSERT(d, td_log_contains(d, "cannot open document root"));

        /* And a later good reload still works. */
        TD_ASSERT(d, chmod(priv, 0755) == 0);
        TD_ASSERT(d, kill(td_pid(d), SIGHUP) == 0);
        TD_OK(d, td_wait_log(d, "Reloaded: generation 3", TD_TIMEOUT, NULL));
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 7, TD_TIMEOUT));
        TD_ASSERT(d, kill(td_pid(d), SIGTERM) == 0);
        int code = -1;
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        TD_ASSERT(d, code == 0);
}
END_TEST

int main(void) {
        Suite *s;

        if (geteuid() != 0) {
                fprintf(stderr, "SKIP: not root: workers cannot switch users\n");
                return TD_EXIT_SKIP;
        }
        if (!getpwnam("nobody") || !getgrnam("nogroup")) {
                fprintf(stderr, "SKIP: no user nobody or no group nogroup\n");
                return TD_EXIT_SKIP;
        }
        s = suite_create("privileges-root");
        TD_ADD_TEST(s, test_workers_drop_privileges);
        TD_ADD_TEST(s, test_reload_refused_when_new_workers_fail);
        return td_run_suite(s);
}
