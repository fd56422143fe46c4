/* SPDX-License-Identifier: MIT */
/* user/group without root: preforkd started as a user other than root can
 * run with user/group naming that very user (nothing to switch), and
 * refuses, at the start and on a reload, a config that asks for another
 * user or group (it could not switch its workers). As root the test runs
 * the daemon as nobody/nogroup; otherwise as the test's own user. An
 * unknown user is a config error either way. What needs root is in
 * test-privileges-root.c. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "itest.h"

/* Who the daemon runs as, and a group it is not in. */
static struct {
        uid_t uid;
        gid_t gid;
        char user[64], group[64], other_group[64];
} as;

static int pick_user(void) {
        const struct passwd *pw;
        const struct group *gr, *other;

        if (geteuid() == 0) {
                pw = getpwnam("nobody");
                gr = getgrnam("nogroup");
        } else {
                pw = getpwuid(geteuid());
                gr = getgrgid(getegid());
        }
        if (!pw || !gr)
                return -ENOENT;
        as.uid = pw->pw_uid;
        as.gid = gr->gr_gid;
        snprintf(as.user, sizeof(as.user), "%s", pw->pw_name);
        snprintf(as.group, sizeof(as.group), "%s", gr->gr_name);
        other = getgrgid(as.gid == 0 ? 65534 : 0);
        if (!other)
                return -ENOENT;
        snprintf(as.other_group, sizeof(as.other_group), "%s", other->gr_name);
        return 0;
}

static const TdStartOptions *as_user(void) {
        static TdStartOptions o;

        o = (TdStartOptions) { .set_user = geteuid() == 0, .uid = as.uid, .gid = as.gid };
        return &o;
}

static char *config_with(const char *user, const char *group) {
        char *s;

        if (asprintf(&s,
                     "%s%s%s%s%s%s"
                     "services = ( { name = \"echo\"; listen = [ \"127.0.0.1:0\" ]; workers = 2; handler = \"echo\"; } );\n",
                     user ? "user = \"" : "", user ? user : "", user ? "\";\n" : "", group ? "group = \"" : "",
                     group ? group : "", group ? "\";\n" : "") < 0)
                return NULL;
        return s;
}

/* user and group naming the user it runs as: it starts, master and workers
 * stay that user, and it serves. */
START_TEST(test_user_group_of_its_own) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = config_with(as.user, as.group), *uid = NULL;
        _cleanup_free_ pid_t *w = NULL;
        char want[64];
        uint16_t port;
        int n;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, as_user()));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 0, &port));
        snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", (unsigned) as.uid, (unsigned) as.uid, (unsigned) as.uid,
                 (unsigned) as.uid);
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &w));
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *u = td_proc_status(w[i], "Uid");

                TD_ASSERT_MSG(d, u && strcmp(u, want) == 0, "worker %d Uid: %s, expected %s", (int) w[i], u, want);
        }
        uid = td_proc_status(td_pid(d), "Uid");
        TD_ASSERT_MSG(d, uid && strcmp(uid, want) == 0, "master Uid: %s, expected %s", uid, want);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 1, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* Another user, or another group, at the start: a config error (78) that
 * says why, and no worker is ever started. */
static void refused_at_start(const char *user, const char *group) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = config_with(user, group), *msg = NULL;
        int code = -1;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, as_user()));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        TD_ASSERT_MSG(d, code == EX_CONFIG, "exit code %d, expected %d", code, EX_CONFIG);
        TD_OK(d, td_wait_output_closed(d, TD_TIMEOUT));
        TD_ASSERT(d, asprintf(&msg, "needs preforkd to be started as root (running as uid %u)", (unsigned) as.uid) >= 0);
        TD_ASSERT_MSG(d, td_log_contains(d, msg), "no '%s' in the log", msg);
        TD_ASSERT(d, td_wait_notify(d, "READY=1", 0, NULL) < 0);
        TD_ASSERT(d, td_group_count(d) == 0);
}

START_TEST(test_other_user_refused_at_start) {
        refused_at_start("root", NULL);
}
END_TEST

START_TEST(test_other_group_refused_at_start) {
        refused_at_start(NULL, as.other_group);
}
END_TEST

/* The same on a reload: refused, the workers it has keep serving. */
START_TEST(test_other_user_refused_at_reload) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = config_with(NULL, NULL), *other = config_with("root", NULL);
        _cleanup_free_ pid_t *before = NULL, *after = NULL;
        uint16_t port;
        int n, m;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, as_user()));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_find_port(d, "echo", 0, &port));
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &before));

        TD_OK(d, td_write_config(d, other));
        hup_and_wait(d);
        TD_ASSERT(d, td_log_contains(d, "needs preforkd to be started as root"));
        TD_ASSERT(d, td_log_contains(d, "Reload failed"));
        TD_OK(d, td_barrier(d, TD_TIMEOUT));
        m = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, &after));
        TD_ASSERT(d, n == m && memcmp(before, after, (size_t) n * sizeof(pid_t)) == 0);
        TD_OK(d, td_echo_roundtrip_tcp("127.0.0.1", port, 1000, 1, TD_TIMEOUT));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

START_TEST(test_unknown_user) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *out = NULL, *e = NULL;
        int code = -1;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d,
                                 "log_level = \"info\";\n"
                                 "user = \"no-such-user-preforkd\";\n"
                                 "services = (\n"
                                 "  { name = \"echo\"; listen = [ \"127.0.0.1:0\" ]; workers = 1; handler = \"echo\"; }\n"
                                 ");\n"));
        TD_OK(d, td_run(d, (const char *const[]) { "-t", "-c", "@DIR@/preforkd.conf", NULL }, TD_TIMEOUT, &code,
                        &out, NULL));
        ck_assert_msg(code == EX_CONFIG, "-t exited %d, expected %d: %s", code, EX_CONFIG, out);
        e = td_subst(d, "@DIR@/preforkd.conf:2: user: ");
        ck_assert_msg(strstr(out, e), "expected '%s...' in: %s", e, out);

        free(out);
        out = NULL;
        TD_OK(d, td_run(d, (const char *const[]) { "-c", "@DIR@/preforkd.conf", NULL }, TD_TIMEOUT, &code, &out,
                        NULL));
        ck_assert_msg(code == EX_CONFIG, "exited %d, expected %d: %s", code, EX_CONFIG, out);
        ck_assert_msg(strstr(out, e), "expected '%s...' in: %s", e, out);
}
END_TEST

int main(void) {
        Suite *s;

        if (pick_user() < 0) {
                fprintf(stderr, "SKIP: no user to run the daemon as (nobody/nogroup as root, else our own)\n");
                return TD_EXIT_SKIP;
        }
        s = suite_create("privileges");
        TD_ADD_TEST(s, test_user_group_of_its_own);
        TD_ADD_TEST(s, test_other_user_refused_at_start);
        TD_ADD_TEST(s, test_other_group_refused_at_start);
        TD_ADD_TEST(s, test_other_user_refused_at_reload);
        TD_ADD_TEST(s, test_unknown_user);
        return td_run_suite(s);
}
