/* SPDX-License-Identifier: MIT */
/* The "exec" group of a service: defaults, the policy the core gets, every
 * error with file, line and setting; the program's environment; and the
 * parsing of a stop signal. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "exec-config.h"
#include "exec-env.h"
#include "testlib.h"

static char dir[64];
static char path[128];

static void setup(void) {
        const char *tmp = getenv("TMPDIR");
        char p[256];
        FILE *f;

        snprintf(dir, sizeof(dir), "%s/preforkd-cexec-XXXXXX", tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/test.conf", dir);
        snprintf(p, sizeof(p), "%s/run.sh", dir);
        f = fopen(p, "we");
        ck_assert_ptr_nonnull(f);
        fputs("#!/bin/sh\nexit 0\n", f);
        fclose(f);
        ck_assert_int_eq(chmod(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/data.txt", dir);
        f = fopen(p, "we");
        ck_assert_ptr_nonnull(f);
        fclose(f);
        snprintf(p, sizeof(p), "%s/sub", dir);
        ck_assert_int_eq(mkdir(p, 0755), 0);
}

static void teardown(void) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

/* Line 5 is the first line of exec_body. */
static int load(const char *exec_body, Config **ret, char ***ret_errors) {
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f,
                "services = ( {\n"
                "  name = \"app\";\n"
                "  listen = [ \"127.0.0.1:0\" ];\n"
                "  handler = \"exec\"; workers = 2;\n"
                "%s"
                "} );\n",
                exec_body);
        fclose(f);
        return config_load(path, ret, ret_errors);
}

static void assert_error(const char *exec_body, unsigned line, const char *setting, const char *what) {
        Config *c = NULL;
        char **errors = NULL;

        ck_assert_int_eq(load(exec_body, &c, &errors), -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_msg(td_errors_have(errors, path, line, setting, what), "no error '%s:%u: %s: ...%s'", path, line,
                      setting, what);
        strv_free(errors);
}

START_TEST(test_defaults_and_policy) {
        _cleanup_(config_freep) Config *c = NULL;
        const ExecConfig *e;
        const WorkerPolicy *p;

        ck_assert_int_eq(load("  exec = { command = [ \"cat\", \"-u\" ]; };\n", &c, NULL), 0);
        e = c->services[0].handler_config;
        ck_assert_str_eq(e->command[0], "cat");
        ck_assert_str_eq(e->command[1], "-u");
        ck_assert_ptr_null(e->command[2]);
        /* Found in PATH now, so that every worker runs the same file. */
        ck_assert_msg(e->path[0] == '/' && strstr(e->path, "/cat"), "%s", e->path);
        ck_assert_ptr_null(e->environment[0]);
        ck_assert_str_eq(e->working_directory, "/");
        ck_assert_int_eq(e->mode, EXEC_MODE_POOL);
        ck_assert_int_eq(e->ready, WORKER_READY_IMMEDIATE);
        ck_assert_uint_eq(e->ready_timeout_usec, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(e->watchdog_usec, 0);
        ck_assert_int_eq(e->stop_signal, SIGTERM);
        ck_assert_str_eq(e->identifier, "cat");

        p = &c->services[0].policy;
        ck_assert_int_eq(p->ready, WORKER_READY_IMMEDIATE);
        ck_assert(p->own_process_group && p->stop_signal_to_group);
        ck_assert_int_eq(p->output[0], WORKER_OUTPUT_JOURNAL);
        ck_assert_int_eq(p->output[1], WORKER_OUTPUT_JOURNAL);
        ck_assert_str_eq(p->identifier, "cat");
}
END_TEST

START_TEST(test_every_key) {
        _cleanup_(config_freep) Config *c = NULL;
        const ExecConfig *e;
        const WorkerPolicy *p;

        ck_assert_int_eq(load("  exec = { command = [ \"./run.sh\", \"x\" ]; environment = [ \"A=1\", \"B=\" ];\n"
                              "           working_directory = \"sub\"; mode = \"pool\"; ready = \"notify\";\n"
                              "           ready_timeout = 2.5; watchdog_timeout = 4; stop_signal = \"SIGQUIT\";\n"
                              "           stdout = \"null\"; stderr = \"inherit\"; };\n",
                              &c, NULL),
                         0);
        e = c->services[0].handler_config;
        ck_assert(strstr(e->path, dir) == e->path && strstr(e->path, "/run.sh"));
        ck_assert_str_eq(e->environment[0], "A=1");
        ck_assert_str_eq(e->environment[1], "B=");
        ck_assert(strstr(e->working_directory, dir) == e->working_directory);
        ck_assert_str_eq(e->identifier, "run.sh");
        p = &c->services[0].policy;
        ck_assert_int_eq(p->ready, WORKER_READY_NOTIFY);
        ck_assert_uint_eq(p->ready_timeout_usec, 2500 * USEC_PER_MSEC);
        ck_assert_uint_eq(p->watchdog_usec, 4 * USEC_PER_SEC);
        ck_assert_int_eq(p->stop_signal, SIGQUIT);
        ck_assert_int_eq(p->output[0], WORKER_OUTPUT_NULL);
        ck_assert_int_eq(p->output[1], WORKER_OUTPUT_INHERIT);
}
END_TEST

START_TEST(test_connection_mode_policy) {
        _cleanup_(config_freep) Config *c = NULL;
        const WorkerPolicy *p;

        ck_assert_int_eq(load("  exec = { command = [ \"cat\" ]; mode = \"connection\"; stderr = \"null\"; };\n", &c, NULL),
                         0);
        p = &c->services[0].policy;
        /* Our accept loop reports; TERM lets it finish its connection; the
         * group takes its programs with it. */
        ck_assert_int_eq(p->ready, WORKER_READY_ACCEPT_LOOP);
        ck_assert_int_eq(p->stop_signal, SIGTERM);
        ck_assert(p->own_process_group && !p->stop_signal_to_group);
        ck_assert_int_eq(p->output[0], WORKER_OUTPUT_INHERIT);
        ck_assert_int_eq(p->output[1], WORKER_OUTPUT_NULL);
        /* Not parked: no handler of the front stage's. */
        ck_assert(!c->services[0].park);
}
END_TEST

START_TEST(test_errors) {
        assert_error("", 1, "services.[0].exec", "missing required group");
        assert_error("  exec = { };\n", 5, "services.[0].exec.command", "missing");
        assert_error("  exec = { command = [ ]; };\n", 5, "services.[0].exec.command", "must name the program");
        assert_error("  exec = { command = \"cat\"; };\n", 5, "services.[0].exec.command", "must be an array of strings");
        assert_error("  exec = { command = [ \"no-such-program-here\" ]; };\n", 5, "services.[0].exec.command.[0]",
                     "program \"no-such-program-here\" not found");
        assert_error("  exec = { command = [ \"./data.txt\" ]; };\n", 5, "services.[0].exec.command.[0]",
                     "Permission denied");
        assert_error("  exec = { command = [ \"./nothing\" ]; };\n", 5, "services.[0].exec.command.[0]",
                     "No such file or directory");
        assert_error("  exec = { command = [ \"./sub\" ]; };\n", 5, "services.[0].exec.command.[0]", "Is a directory");
        assert_error("  exec = { command = [ \"cat\" ];\n  environment = [ \"A=1\", \"JUSTNAME\" ]; };\n", 6,
                     "services.[0].exec.environment.[1]", "\"JUSTNAME\" is not an assignment NAME=value");
        assert_error("  exec = { command = [ \"cat\" ]; environment = [ \"=x\" ]; };\n", 5,
                     "services.[0].exec.environment.[0]", "not an assignment");
        assert_error("  exec = { command = [ \"cat\" ]; mode = \"inetd\"; };\n", 5, "services.[0].exec.mode",
                     "must be one of \"pool\", \"connection\"");
        assert_error("  exec = { command = [ \"cat\" ]; ready = \"yes\"; };\n", 5, "services.[0].exec.ready",
                     "must be one of \"notify\", \"listening\", \"immediate\"");
        assert_error("  exec = { command = [ \"cat\" ]; stdout = \"file\"; };\n", 5, "services.[0].exec.stdout",
                     "must be one of \"inherit\", \"journal\", \"null\"");
        assert_error("  exec = { command = [ \"cat\" ]; stderr = 1; };\n", 5, "services.[0].exec.stderr", "must be one of");
        assert_error("  exec = { command = [ \"cat\" ]; stop_signal = \"KILL\"; };\n", 5, "services.[0].exec.stop_signal",
                     "not a signal that can be caught");
        assert_error("  exec = { command = [ \"cat\" ]; stop_signal = \"SIGFOO\"; };\n", 5,
                     "services.[0].exec.stop_signal", "not a signal");
        assert_error("  exec = { command = [ \"cat\" ]; working_directory = \"nowhere\"; };\n", 5,
                     "services.[0].exec.working_directory", "No such file or directory");
        assert_error("  exec = { command = [ \"cat\" ]; working_directory = \"data.txt\"; };\n", 5,
                     "services.[0].exec.working_directory", "is not a directory");
        assert_error("  exec = { command = [ \"cat\" ]; mode = \"connection\"; stdout = \"null\"; };\n", 5,
                     "services.[0].exec.stdout", "only valid with mode = \"pool\"");
        assert_error("  exec = { command = [ \"cat\" ]; mode = \"connection\"; ready = \"notify\"; };\n", 5,
                     "services.[0].exec.ready", "only valid with mode = \"pool\"");
        assert_error("  exec = { command = [ \"cat\" ]; mode = \"connection\"; watchdog_timeout = 1; };\n", 5,
                     "services.[0].exec.watchdog_timeout", "only valid with mode = \"pool\"");
        assert_error("  exec = { command = [ \"cat\" ]; ready_timeout = 0; };\n", 5, "services.[0].exec.ready_timeout",
                     "");
        assert_error("  exec = { command = [ \"cat\" ]; colour = 1; };\n", 5, "services.[0].exec.colour", "unknown");
        assert_error("  exec = { command = [ \"cat\" ]; };\n  idle_timeout = 5;\n", 6, "services.[0].idle_timeout",
                     "the program times its own connections");
        assert_error("  exec = { command = [ \"cat\" ]; };\n  park = { enabled = true; };\n", 6,
                     "services.[0].park.enabled", "cannot park");
}
END_TEST

START_TEST(test_signal_names) {
        ck_assert_int_eq(exec_signal_from_string("TERM"), SIGTERM);
        ck_assert_int_eq(exec_signal_from_string("SIGINT"), SIGINT);
        ck_assert_int_eq(exec_signal_from_string("USR2"), SIGUSR2);
        ck_assert_int_eq(exec_signal_from_string("3"), SIGQUIT);
        ck_assert_int_eq(exec_signal_from_string("KILL"), -EINVAL);
        ck_assert_int_eq(exec_signal_from_string("19"), -EINVAL);
        ck_assert_int_eq(exec_signal_from_string("0"), -EINVAL);
        ck_assert_int_eq(exec_signal_from_string("term"), -EINVAL);
        ck_assert_int_eq(exec_signal_from_string(""), -EINVAL);
}
END_TEST

START_TEST(test_environment) {
        char *base[] = {
                "PATH=/bin",          "NOTIFY_SOCKET=/run/systemd/notify", "WATCHDOG_USEC=1", "WATCHDOG_PID=2",
                "LISTEN_FDS=3",       "LISTEN_PID=4",  "LISTEN_FDNAMES=x", "JOURNAL_STREAM=1:2", "PREFORKD_LOG_TARGET=x",
                "EINHORN_FDS=9",      "REMOTE_ADDR=1.2.3.4", "HOME=/root", "NOEQUALS", "LISTEN=kept", NULL,
        };
        char *user[] = { "HOME=/srv", "GREETING=hi", NULL };
        char *ours[] = { "LISTEN_FDS=1", "GREETING=ours", NULL };
        _cleanup_strv_free_ char **env = NULL, **js = NULL;
        char all[1024] = "";

        ck_assert_int_eq(exec_env_build(base, false, (char *const *const[]) { user, NULL, ours }, 3, &env), 0);
        for (char **e = env; *e; e++) {
                strcat(all, *e);
                strcat(all, ";");
        }
        ck_assert_str_eq(all, "PATH=/bin;HOME=/srv;LISTEN=kept;GREETING=ours;LISTEN_FDS=1;");
        ck_assert_int_eq(exec_env_build(base, true, NULL, 0, &js), 0);
        ck_assert(js[2] && strcmp(js[1], "JOURNAL_STREAM=1:2") == 0);
        ck_assert(exec_env_is_private("WATCHDOG_PID", false));
        ck_assert(!exec_env_is_private("WATCHDOGX=1", false));
        ck_assert(exec_env_is_private("PROTO=TCP", true));
}
END_TEST

int main(void) {
        Suite *s = suite_create("exec-config");
        TCase *tc = tcase_create("config");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_defaults_and_policy);
        tcase_add_test(tc, test_every_key);
        tcase_add_test(tc, test_connection_mode_policy);
        tcase_add_test(tc, test_errors);
        suite_add_tcase(s, tc);
        TD_ADD_TEST(s, test_signal_names);
        TD_ADD_TEST(s, test_environment);
        return td_run_suite(s);
}
