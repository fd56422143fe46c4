/* SPDX-License-Identifier: MIT */
/* The "exec" group of a service: defaults, the policy the core gets, every
 * error with file, line and setting; the program's environment; and the
 * parsing of a stop signal. */
#include <check.h>
#include <signal.h>
#include <string.h>

#include "config.h"
#include "exec-config.h"
#include "exec-env.h"
#include "testlib.h"

/* Every text of the config tests is the body of service "app": line 5 is
 * its first. The programs and files they name are in the directory. */
static void setup(void) {
        td_conf_setup();
        td_conf_frame("services = ( {\n"
                      "  name = \"app\";\n"
                      "  listen = [ \"127.0.0.1:0\" ];\n"
                      "  handler = \"exec\"; workers = 2;\n",
                      "} );\n");
        td_conf_write_file("run.sh", "#!/bin/sh\nexit 0\n", 0755);
        td_conf_write_file("data.txt", "", 0644);
        td_conf_mkdir("sub");
}

START_TEST(test_defaults_and_policy) {
        _cleanup_(config_freep) Config *c = NULL;
        const ExecConfig *e;
        const WorkerPolicy *p;

        ck_assert_int_eq(td_conf_load("  exec = { command = [ \"cat\", \"-u\" ]; };\n", &c, NULL), 0);
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

        ck_assert_int_eq(td_conf_load("  exec = { command = [ \"./run.sh\", \"x\" ]; environment = [ \"A=1\", \"B=\" ];\n"
                                      "           working_directory = \"sub\"; mode = \"pool\"; ready = \"notify\";\n"
                                      "           ready_timeout = 2.5; watchdog_timeout = 4; stop_signal = \"SIGQUIT\";\n"
                                      "           stdout = \"null\"; stderr = \"inherit\"; };\n",
                                      &c, NULL),
                         0);
        e = c->services[0].handler_config;
        ck_assert(strstr(e->path, td_conf_dir()) == e->path && strstr(e->path, "/run.sh"));
        ck_assert_str_eq(e->environment[0], "A=1");
        ck_assert_str_eq(e->environment[1], "B=");
        ck_assert(strstr(e->working_directory, td_conf_dir()) == e->working_directory);
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

        ck_assert_int_eq(td_conf_load("  exec = { command = [ \"cat\" ]; mode = \"connection\"; stderr = \"null\"; };\n", &c, NULL),
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
        td_conf_assert_error("", 1, "services.[0].exec", "missing required group");
        td_conf_assert_error("  exec = { };\n", 5, "services.[0].exec.command", "missing");
        td_conf_assert_error("  exec = { command = [ ]; };\n", 5, "services.[0].exec.command", "must name the program");
        td_conf_assert_error("  exec = { command = \"cat\"; };\n", 5, "services.[0].exec.command",
                             "must be an array of strings");
        td_conf_assert_error("  exec = { command = [ \"no-such-program-here\" ]; };\n", 5,
                             "services.[0].exec.command.[0]", "program \"no-such-program-here\" not found");
        td_conf_assert_error("  exec = { command = [ \"./data.txt\" ]; };\n", 5, "services.[0].exec.command.[0]",
                             "Permission denied");
        td_conf_assert_error("  exec = { command = [ \"./nothing\" ]; };\n", 5, "services.[0].exec.command.[0]",
                             "No such file or directory");
        td_conf_assert_error("  exec = { command = [ \"./sub\" ]; };\n", 5, "services.[0].exec.command.[0]",
                             "Is a directory");
        td_conf_assert_error("  exec = { command = [ \"cat\" ];\n  environment = [ \"A=1\", \"JUSTNAME\" ]; };\n", 6,
                             "services.[0].exec.environment.[1]", "\"JUSTNAME\" is not an assignment NAME=value");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; environment = [ \"=x\" ]; };\n", 5,
                             "services.[0].exec.environment.[0]", "not an assignment");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; mode = \"inetd\"; };\n", 5, "services.[0].exec.mode",
                             "must be one of \"pool\", \"connection\"");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; ready = \"yes\"; };\n", 5, "services.[0].exec.ready",
                             "must be one of \"notify\", \"listening\", \"immediate\"");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; stdout = \"file\"; };\n", 5, "services.[0].exec.stdout",
                             "must be one of \"inherit\", \"journal\", \"null\"");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; stderr = 1; };\n", 5, "services.[0].exec.stderr",
                             "must be one of");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; stop_signal = \"KILL\"; };\n", 5,
                             "services.[0].exec.stop_signal", "not a signal that can be caught");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; stop_signal = \"SIGFOO\"; };\n", 5,
                             "services.[0].exec.stop_signal", "not a signal");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; working_directory = \"nowhere\"; };\n", 5,
                             "services.[0].exec.working_directory", "No such file or directory");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; working_directory = \"data.txt\"; };\n", 5,
                             "services.[0].exec.working_directory", "is not a directory");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; mode = \"connection\"; stdout = \"null\"; };\n", 5,
                             "services.[0].exec.stdout", "only valid with mode = \"pool\"");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; mode = \"connection\"; ready = \"notify\"; };\n", 5,
                             "services.[0].exec.ready", "only valid with mode = \"pool\"");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; mode = \"connection\"; watchdog_timeout = 1; };\n", 5,
                             "services.[0].exec.watchdog_timeout", "only valid with mode = \"pool\"");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; ready_timeout = 0; };\n", 5,
                             "services.[0].exec.ready_timeout", "");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; colour = 1; };\n", 5, "services.[0].exec.colour",
                             "unknown");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; };\n  idle_timeout = 5;\n", 6,
                             "services.[0].idle_timeout", "the program times its own connections");
        td_conf_assert_error("  exec = { command = [ \"cat\" ]; };\n  park = { enabled = true; };\n", 6,
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

        tcase_add_checked_fixture(tc, setup, td_conf_teardown);
        tcase_add_test(tc, test_defaults_and_policy);
        tcase_add_test(tc, test_every_key);
        tcase_add_test(tc, test_connection_mode_policy);
        tcase_add_test(tc, test_errors);
        suite_add_tcase(s, tc);
        TD_ADD_TEST(s, test_signal_names);
        TD_ADD_TEST(s, test_environment);
        return td_run_suite(s);
}
