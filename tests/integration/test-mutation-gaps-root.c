/* SPDX-License-Identifier: MIT */
/* Privilege handling that the mutation check (tests/mutation) found
 * untested: workers that switch to user= still die with their master, and
 * they leave behind every supplementary group they inherited. Switching
 * users needs root: without it the executable exits 77 (skipped). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "itest.h"

#define EXIT_SKIP 77

static const char config[] =
        "user = \"nobody\";\n"
        "group = \"nogroup\";\n"
        "services = (\n"
        "  { name = \"echo\"; listen = [ \"127.0.0.1:0\" ]; workers = 2; handler = \"echo\"; }\n"
        ");\n";

/* The value of a "Key:\t..." line of /proc/PID/status, or NULL. */
static char *proc_status(pid_t pid, const char *key) {
        _cleanup_free_ char *all = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t kl = strlen(key);
        char path[64], *e;

        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || td_read_all(fd, 1 << 20, TD_TIMEOUT, &all, NULL) < 0)
                return NULL;
        for (char *p = all; p && *p; p = e ? e + 1 : NULL) {
                e = strchr(p, '\n');
                if (e)
                        *e = 0;
                if (strncmp(p, key, kl) == 0 && p[kl] == ':')
                        return strdup(p + kl + 1 + strspn(p + kl + 1, " \t"));
        }
        return NULL;
}

/* Starts the daemon on config and returns its two workers, checked to run
 * as nobody. */
static void start_as_nobody(TestDaemon **ret, pid_t **ret_workers) {
        const struct passwd *pw = getpwnam("nobody");
        TestDaemon *d = NULL;
        char want[64];
        int n;

        ck_assert_msg(pw && getgrnam("nogroup"), "no user nobody or group nogroup on this machine");
        snprintf(want, sizeof want, "%u\t%u\t%u\t%u", (unsigned) pw->pw_uid, (unsigned) pw->pw_uid,
                 (unsigned) pw->pw_uid, (unsigned) pw->pw_uid);
        TD_OK(NULL, td_new(&d));
        *ret = d;
        TD_OK(d, td_write_config(d, config));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        n = TD_OK(d, td_wait_workers(d, 2, TD_TIMEOUT, ret_workers));
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *uid = proc_status((*ret_workers)[i], "Uid");

                TD_ASSERT_MSG(d, uid && strcmp(uid, want) == 0, "worker %d Uid: %s, expected %s",
                              (int) (*ret_workers)[i], uid, want);
        }
}

/* mutation pdeathsig-after-privilege-drop: changing credentials clears
 * PR_SET_PDEATHSIG, so a worker must ask for it after switching to user=;
 * otherwise a SIGKILLed master leaves its workers serving, orphaned. */
START_TEST(test_workers_with_user_die_with_master) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        int code = -1;

        start_as_nobody(&d, &w);
        TD_OK(d, td_kill(d, SIGKILL));
        TD_OK(d, td_wait_exit(d, TD_TIMEOUT, &code));
        ck_assert_int_eq(code, 128 + SIGKILL);
        for (int i = 0; i < 2; i++)
                TD_ASSERT_MSG(d, td_wait_pid_gone(w[i], TD_TIMEOUT) == 0, "worker %d (user nobody) survived its master",
                              (int) w[i]);
        /* the front stage follows the master too, in its own time */
        TD_OK(d, td_wait_group_gone(d, TD_TIMEOUT));
}
END_TEST

/* mutation privileges-supplementary-groups: the daemon is started with
 * supplementary groups (root's 0 and one more, as a login shell or a unit
 * with SupplementaryGroups= would give it); the workers keep none of them,
 * only those of user nobody. */
START_TEST(test_workers_drop_inherited_groups) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ pid_t *w = NULL;
        const gid_t inherited[] = { 0, 4242 };

        ck_assert_int_eq(setgroups(ELEMENTSOF(inherited), inherited), 0);
        start_as_nobody(&d, &w);
        ck_assert_int_eq(setgroups(0, NULL), 0);
        {
                _cleanup_free_ char *master = proc_status(td_pid(d), "Groups");

                TD_ASSERT_MSG(d, master && strstr(master, "4242"), "the master did not inherit the groups: '%s'",
                              master);
        }
        for (int i = 0; i < 2; i++) {
                _cleanup_free_ char *groups = proc_status(w[i], "Groups");
                char *save = NULL;

                TD_ASSERT_MSG(d, groups, "no Groups: line for worker %d", (int) w[i]);
                for (char *g = strtok_r(groups, " ", &save); g; g = strtok_r(NULL, " ", &save))
                        TD_ASSERT_MSG(d, strcmp(g, "0") != 0 && strcmp(g, "4242") != 0,
                                      "worker %d (user nobody) kept the inherited group %s", (int) w[i], g);
        }
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

static Suite *gaps_root_suite(void) {
        Suite *s = suite_create("mutation-gaps-root");

        TD_ADD_TEST(s, test_workers_with_user_die_with_master);
        TD_ADD_TEST(s, test_workers_drop_inherited_groups);
        return s;
}

int main(void) {
        if (geteuid() != 0) {
                fprintf(stderr, "SKIP: switching workers to another user needs root\n");
                return EXIT_SKIP;
        }
        return td_run_suite(gaps_root_suite());
}
