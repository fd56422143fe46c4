/* SPDX-License-Identifier: MIT */
/* handler = "exec", mode = "pool", with programs of the test's own: the C
 * server in apps/notify-server.c (sd_listen_fds + sd_notify) and shell
 * programs. Traffic through every worker, kill -9 and replacement, a
 * reload under load, READY=1 gating a reload, the watchdog, ready_timeout,
 * a program that exits at once, the stop signal, what a killed master
 * leaves (nothing: the guard), and exactly what a program starts with
 * (environment, fds, signals, process group). */
#include <signal.h>
#include <sys/stat.h>

#include "exec-test.h"

static char *notify_group(const char *extra) {
        char *s;

        ck_assert_int_ge(asprintf(&s, "command = [ \"%s\" ]; ready = \"notify\"; %s", notify_server_path(),
                                  extra ? extra : ""), 0);
        return s;
}

static uint16_t start_notify(TestDaemon **d, unsigned workers, const char *extra) {
        _cleanup_free_ char *group = notify_group(extra), *conf = exec_config(workers, group, NULL);

        ck_assert_ptr_nonnull(conf);
        return exec_start(d, conf);
}

START_TEST(test_traffic_through_every_worker_and_kill_replaced) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *line = NULL;
        uint16_t port = start_notify(&d, 2, NULL);
        long pids[2], after[2];
        HttpLoad *load;
        char what[64];

        expect_all_slots(d, port, 2, 1000, pids);
        TD_ASSERT(d, pids[0] != pids[1]);

        /* A client keeps asking while one program is killed. */
        load = http_load_start(port, 100000, TD_SEC(60));
        http_load_wait_ok(load, 20);
        td_log_mark(d);
        TD_ASSERT(d, kill((pid_t) pids[0], SIGKILL) == 0);
        snprintf(what, sizeof what, "worker %ld killed by signal KILL", pids[0]);
        TD_OK(d, td_wait_log(d, what, TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "app[slot 0]: started worker", TD_TIMEOUT, &line));
        TD_OK(d, td_wait_log(d, "app[slot 0]: worker", TD_TIMEOUT, NULL));
        http_load_wait_ok(load, atomic_load(&load->ok) + 20);
        http_load_stop(load);
        TD_ASSERT_MSG(d, atomic_load(&load->refused) == 0, "%lu connections refused", atomic_load(&load->refused));
        /* The request the killed program had accepted is lost with it, at
         * most that one. */
        TD_ASSERT_MSG(d, atomic_load(&load->failed) <= 1, "%lu requests failed (first: %s)", atomic_load(&load->failed),
                      strerror(-atomic_load(&load->first_error)));
        free(load);

        expect_all_slots(d, port, 2, 1000, after);
        TD_ASSERT(d, after[0] != pids[0] && after[1] == pids[1]);
        TD_ASSERT(d, td_log_contains(d, "notify-server[") && td_log_contains(d, "notify-server: 1 socket"));
        stop_and_expect(d, SIGTERM, 0);
        TD_OK(d, td_wait_pid_gone((pid_t) after[0], TD_TIMEOUT));
        TD_OK(d, td_wait_pid_gone((pid_t) after[1], TD_TIMEOUT));
}
END_TEST

START_TEST(test_reload_under_load_zero_failures) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port = start_notify(&d, 2, NULL);
        HttpLoad *load;

        load = http_load_start(port, 100000, TD_SEC(60));
        http_load_wait_ok(load, 50);
        hup_expect_applied(d, 2);
        /* The old programs leave on TERM; the new ones answer. */
        TD_OK(d, td_wait_log(d, "of generation 1 exited with status 0", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "of generation 1 exited with status 0", TD_TIMEOUT, NULL));
        http_load_wait_ok(load, atomic_load(&load->ok) + 50);
        http_load_stop(load);
        TD_ASSERT_MSG(d, atomic_load(&load->failed) + atomic_load(&load->refused) == 0,
                      "%lu failed, %lu refused (first: %s)", atomic_load(&load->failed), atomic_load(&load->refused),
                      strerror(-atomic_load(&load->first_error)));
        TD_ASSERT(d, atomic_load(&load->max_generation) == 2);
        free(load);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* The new generation's programs say READY=1 only after two seconds; until
 * then the old ones serve every request, and the reload is applied after
 * both new programs' READY=1. */
START_TEST(test_ready_gates_the_reload) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *slow_group = NULL, *conf = NULL, *log = NULL, *body = NULL;
        uint16_t port = start_notify(&d, 2, NULL);
        unsigned answered = 0, ready_before = 0;
        const char *applied;

        ck_assert_int_ge(asprintf(&slow_group, "command = [ \"%s\", \"--ready-delay\", \"2000\" ]; ready = \"notify\";",
                                  notify_server_path()), 0);
        conf = exec_config(2, slow_group, NULL);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_kill(d, SIGHUP));
        TD_OK(d, td_wait_notify(d, "RELOADING=1", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "(generation 2)", TD_TIMEOUT, NULL));
        /* The new programs run and are not ready: the old ones answer. */
        while (answered < 2000) {
                _cleanup_free_ char *b = NULL;

                TD_OK(d, http_get(port, "/", &b));
                if (td_log_contains(d, "Reloaded: generation 2"))
                        break;
                TD_ASSERT_MSG(d, body_field(b, "generation") == 1, "answer before the reload was applied: %s", b);
                answered++;
        }
        TD_ASSERT_MSG(d, answered > 0, "no request was answered while the new programs were not ready");
        TD_OK(d, td_wait_notify(d, "READY=1", TD_TIMEOUT, NULL));

        /* Two READY=1 of generation 1, then the two of generation 2, then
         * the switch. */
        log = td_log(d);
        applied = strstr(log, "Reloaded: generation 2");
        TD_ASSERT(d, applied);
        for (const char *p = strstr(log, "sent READY=1"); p && p < applied; p = strstr(p + 1, "sent READY=1"))
                ready_before++;
        TD_ASSERT_MSG(d, ready_before == 4, "%u READY=1 before the reload was applied", ready_before);
        /* An old program may still take a connection or two before it
         * acts on its TERM; once both are gone, the new ones answer. */
        TD_OK(d, td_wait_log(d, "of generation 1 exited", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "of generation 1 exited", TD_TIMEOUT, NULL));
        TD_OK(d, http_get(port, "/", &body));
        TD_ASSERT_MSG(d, body_field(body, "generation") == 2, "after the reload: %s", body);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

START_TEST(test_watchdog_kills_a_silent_worker) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *body = NULL, *line = NULL;
        uint16_t port = start_notify(&d, 2, "watchdog_timeout = 1.0;");
        char what[96];
        long pid;

        /* Pings keep it alive for several intervals. */
        td_log_mark(d);
        TD_OK(d, http_get(port, "/hang", &body));
        pid = body_field(body, "pid");
        snprintf(what, sizeof what, "worker %ld sent no WATCHDOG=1 for 1.0s, killing it", pid);
        TD_OK(d, td_wait_log(d, what, TD_TIMEOUT, NULL));
        snprintf(what, sizeof what, "worker %ld killed by signal KILL", pid);
        TD_OK(d, td_wait_log(d, what, TD_TIMEOUT, &line));
        TD_ASSERT_MSG(d, strstr(line, "(killed: watchdog)"), "%s", line);
        /* Replaced at once: it had been up and ready. */
        TD_OK(d, td_wait_log(d, "started worker", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "sent READY=1", TD_TIMEOUT, NULL));
        TD_ASSERT(d, !td_log_contains(d, "quick crash"));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* A program that never says READY=1 is killed after ready_timeout and
 * counts as a failed start: backoff. */
START_TEST(test_ready_timeout_is_a_failed_start) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = exec_config(1, "command = [ \"sleep\", \"600\" ]; ready = \"notify\"; ready_timeout = 0.3;",
                                                "respawn = { backoff_initial = 0.2; backoff_max = 0.2; };");
        _cleanup_free_ char *line = NULL;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_log(d, "did not get ready within 0.3s, killing it", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "killed by signal KILL", TD_TIMEOUT, &line));
        TD_ASSERT_MSG(d, strstr(line, "before it was ready") && strstr(line, "(killed: ready_timeout)"), "%s", line);
        TD_OK(d, td_wait_log(d, "1 quick crash in a row", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "2 quick crashes in a row", TD_TIMEOUT, NULL));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

START_TEST(test_program_that_exits_at_once) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = exec_config(1,
                                                "command = [ \"/bin/sh\", \"-c\", \"echo first words >&2; echo last words >&2; exit 3\" ];",
                                                "respawn = { backoff_initial = 0.2; backoff_max = 0.4; };");
        _cleanup_free_ char *line = NULL;

        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_log(d, "exited with status 3", TD_TIMEOUT, &line));
        TD_ASSERT_MSG(d, strstr(line, "its last output: first words | last words"), "%s", line);
        TD_OK(d, td_wait_log(d, "quick crash in a row", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "exited with status 3", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "2 quick crashes in a row", TD_TIMEOUT, NULL));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* stop_signal goes to the program's whole group: the shell and its sleep
 * both get INT. */
START_TEST(test_stop_signal_to_the_group) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = exec_config(1,
                                                "command = [ \"/bin/sh\", \"-c\", \"trap 'echo got INT >&2; exit 0' INT; "
                                                "trap 'echo got TERM >&2; exit 7' TERM; echo up >&2; "
                                                "while :; do sleep 0.05; done\" ]; stop_signal = \"SIGINT\";",
                                                NULL);

        exec_start(&d, conf);
        TD_OK(d, td_wait_log(d, "sh[", TD_TIMEOUT, NULL));
        TD_OK(d, td_kill(d, SIGTERM));
        TD_OK(d, td_wait_log(d, "got INT", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "exited with status 0", TD_TIMEOUT, NULL));
        TD_ASSERT(d, !td_log_contains(d, "got TERM"));
        stop_and_expect(d, 0, 0);
}
END_TEST

/* What the program starts with. It writes it to stderr, which reaches the
 * log as its own lines. */
START_TEST(test_environment_fds_and_signals) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = NULL, *line = NULL;
        const char *script =
                "echo \\\"pid=$$ LISTEN_PID=$LISTEN_PID LISTEN_FDS=$LISTEN_FDS LISTEN_FDNAMES=$LISTEN_FDNAMES\\\" >&2; "
                "echo \\\"EINHORN_FDS=$EINHORN_FDS EINHORN_FD_COUNT=$EINHORN_FD_COUNT SERVER_STARTER_PORT=$SERVER_STARTER_PORT\\\" >&2; "
                "echo \\\"svc=$PREFORKD_SERVICE slot=$PREFORKD_SLOT gen=$PREFORKD_GENERATION GREETING=$GREETING\\\" >&2; "
                "echo \\\"notify=${NOTIFY_SOCKET:-none} wd=${WATCHDOG_USEC:-none} js=${JOURNAL_STREAM:-none} cwd=$(pwd)\\\" >&2; "
                "echo \\\"fds=$(ls /proc/$$/fd | tr '\\\\n' ,)\\\" >&2; "
                "echo \\\"pgid=$(cut -d' ' -f5 /proc/$$/stat)\\\" >&2; "
                "grep -E '^(SigBlk|SigIgn|NoNewPrivs)' /proc/$$/status | tr -s '\\\\t' ' ' >&2; "
                "echo done >&2; exec sleep 600";
        char want[128];
        long pid;

        /* log_level is the daemon's verbosity: the program's lines (at
         * info) pass all the same. */
        ck_assert_int_ge(asprintf(&conf,
                                  "log_level = \"warning\";\n"
                                  "services = ( { name = \"app\"; listen = [ \"127.0.0.1:0\" ]; workers = 1; handler = \"exec\";\n"
                                  "  exec = { command = [ \"/bin/sh\", \"-c\", \"%s\" ];\n"
                                  "           environment = [ \"GREETING=hello world\", \"LISTEN_FDS=99\" ];\n"
                                  "           working_directory = \"/tmp\"; }; } );\n",
                                  script),
                         0);
        TD_OK(NULL, td_new(&d));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, &(TdStartOptions) {
                                     .env = (const char *const[]) { "WATCHDOG_USEC=100000000", "WATCHDOG_PID=@PID@",
                                                                    "JOURNAL_STREAM=1:2", "LISTEN_FDNAMES=bogus", NULL },
                             }));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_OK(d, td_wait_log(d, "pid=", TD_TIMEOUT, &line));
        TD_OK(d, td_wait_log(d, "done", TD_TIMEOUT, NULL));
        TD_ASSERT(d, sscanf(strstr(line, "pid="), "pid=%ld", &pid) == 1);
        snprintf(want, sizeof want, "pid=%ld LISTEN_PID=%ld LISTEN_FDS=1 LISTEN_FDNAMES=app", pid, pid);
        TD_ASSERT_MSG(d, strstr(line, want), "%s", line);
        TD_ASSERT(d, td_log_contains(d, "EINHORN_FDS=3 EINHORN_FD_COUNT=1 SERVER_STARTER_PORT=127.0.0.1:"));
        TD_ASSERT(d, td_log_contains(d, "svc=app slot=0 gen=1 GREETING=hello world"));
        TD_ASSERT(d, td_log_contains(d, "notify=@"));
        TD_ASSERT(d, td_log_contains(d, "wd=none js=none cwd=/tmp"));
        /* 0, 1, 2, the listener, and the fd ls itself opens. */
        TD_ASSERT_MSG(d, td_log_contains(d, "fds=0,1,2,3,4,"), "other fds were passed");
        snprintf(want, sizeof want, "pgid=%ld", pid);
        TD_ASSERT(d, td_log_contains(d, want));
        TD_ASSERT(d, td_log_contains(d, "SigBlk: 0000000000000000"));
        TD_ASSERT(d, td_log_contains(d, "SigIgn: 0000000000000000"));
        TD_ASSERT(d, td_log_contains(d, "NoNewPrivs: 1"));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* ready = "listening": a program blocked in accept() on its listener is
 * ready. The python one below sleeps first, then marks a file and
 * accepts: by the time the daemon is ready, the file is there. */
START_TEST(test_ready_listening_blocking_accept) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = NULL, *mark = NULL;

        TD_OK(NULL, td_new(&d));
        mark = td_subst(d, "@DIR@/accepting");
        ck_assert_int_ge(asprintf(&conf,
                                  "services = ( { name = \"app\"; listen = [ \"127.0.0.1:0\" ]; workers = 1; handler = \"exec\";\n"
                                  "  exec = { command = [ \"/usr/bin/python3\", \"-c\", \"import socket, time; "
                                  "s = socket.socket(fileno=3); s.setblocking(True); time.sleep(0.5); "
                                  "open('%s', 'w').close(); c, a = s.accept(); c.sendall(b'hi'); c.close(); time.sleep(600)\" ];\n"
                                  "           ready = \"listening\"; }; } );\n",
                                  mark),
                         0);
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, NULL));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        TD_ASSERT_MSG(d, access(mark, F_OK) == 0, "READY=1 before the program waited in accept()");
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* What a program started goes with it: a child it left behind would go
 * on holding the service's sockets without a supervisor. */
START_TEST(test_program_group_dies_with_it) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *group = NULL, *conf = NULL, *line = NULL;
        long child, pid;

        ck_assert_int_ge(asprintf(&group,
                                  "command = [ \"/bin/sh\", \"-c\", \"sleep 600 & echo child=$! program=$$ >&2; exec %s\" ];"
                                  " ready = \"notify\";",
                                  notify_server_path()),
                         0);
        conf = exec_config(1, group, NULL);
        exec_start(&d, conf);
        TD_OK(d, td_wait_log(d, "child=", TD_TIMEOUT, &line));
        TD_ASSERT(d, sscanf(strstr(line, "child="), "child=%ld program=%ld", &child, &pid) == 2);
        TD_ASSERT(d, td_pid_alive((pid_t) child));
        TD_ASSERT(d, kill((pid_t) pid, SIGKILL) == 0);
        TD_OK(d, td_wait_pid_gone((pid_t) child, TD_TIMEOUT));
        TD_OK(d, td_wait_log(d, "killed by signal KILL", TD_TIMEOUT, NULL));
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

/* The guards in the program's process group: its members named
 * preforkd-guard. Returns how many, the first one in *ret_pid and its
 * parent in *ret_ppid. */
static int find_guards(pid_t pgid, pid_t *ret_pid, pid_t *ret_ppid) {
        _cleanup_free_ pid_t *members = NULL;
        int n = td_pgrp_pids(pgid, &members), found = 0;

        ck_assert_int_ge(n, 0);
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *name = td_proc_status(members[i], "Name"), *ppid = NULL;

                if (!name || strcmp(name, "preforkd-guard") != 0)
                        continue;
                ppid = td_proc_status(members[i], "PPid");
                if (found++ == 0) {
                        *ret_pid = members[i];
                        *ret_ppid = ppid ? (pid_t) atol(ppid) : 0;
                }
        }
        return found;
}

/* A master killed outright leaves no program behind. The program's guard
 * (not its child: a program that waits for all its children must not wait
 * for it) sends the group stop_signal, which the shell handles, and once
 * the shell has exited kills what is left: a child that ignores the stop
 * signal. The program itself ignores SIGTERM, the signal its parent's
 * death sends it. The guard holds nothing of the service's. */
START_TEST(test_program_group_stopped_when_master_killed) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        _cleanup_free_ char *conf = NULL, *fast = NULL, *line = NULL, *path = NULL;
        char got[16] = "";
        long child, pid;
        pid_t guard = 0, guard_parent = 0;
        FILE *f;

        conf = exec_config(1,
                           "command = [ \"/bin/sh\", \"-c\", \"(trap '' INT; exec sleep 600) & "
                           "echo child=$! program=$$ >&2; trap '' TERM; "
                           "trap 'echo INT > @DIR@/stopped; exit 0' INT; "
                           "while :; do sleep 0.05; done\" ]; stop_signal = \"INT\"; ready = \"immediate\";",
                           NULL);
        ck_assert_ptr_nonnull(conf);
        fast = str_replace_all(conf, "shutdown_timeout = 10.0;", "shutdown_timeout = 1.0;");
        exec_start(&d, fast);
        TD_OK(d, td_wait_log(d, "child=", TD_TIMEOUT, &line));
        TD_ASSERT(d, sscanf(strstr(line, "child="), "child=%ld program=%ld", &child, &pid) == 2);
        TD_ASSERT_MSG(d, find_guards((pid_t) pid, &guard, &guard_parent) == 1, "not one guard in the program's group");
        TD_ASSERT_MSG(d, guard_parent != (pid_t) pid, "the guard is the program's child");
        /* Its two pidfds and nothing else: no socket of the service's. */
        TD_ASSERT_MSG(d, td_proc_entries(guard, "fd") == 2, "the guard holds %d fds", td_proc_entries(guard, "fd"));

        TD_OK(d, td_kill(d, SIGKILL));
        TD_OK(d, td_wait_pid_gone((pid_t) pid, TD_TIMEOUT));
        TD_OK(d, td_wait_pid_gone((pid_t) child, TD_TIMEOUT));
        path = td_subst(d, "@DIR@/stopped");
        TD_ASSERT(d, path);
        f = fopen(path, "re");
        if (f) {
                (void) !fgets(got, sizeof got, f);
                fclose(f);
        }
        TD_ASSERT_MSG(d, strcmp(got, "INT\n") == 0, "the program did not get its stop_signal");
}
END_TEST

/* What a program says of itself (STATUS=) is its slot's in the daemon's
 * STATUS= and in preforkctl status; the state there is the master's (the
 * program writes no scoreboard entry). */
START_TEST(test_program_status_shown) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        CtlRun r;

        start_notify(&d, 1, NULL);
        TD_OK(d, td_wait_status(d, (const char *const[]) { "slot 0: serving", NULL }, TD_TIMEOUT, NULL));
        CTL(d, &r, "status");
        CTL_EXPECT(d, &r, 0);
        TD_ASSERT_MSG(d, strstr(r.out, " running ") && strstr(r.out, "  serving\n"), "%s", r.out);
        ctl_run_done(&r);
        CTL(d, &r, "--json", "status");
        CTL_EXPECT(d, &r, 0);
        TD_ASSERT_MSG(d, strstr(r.out, "\"worker_state\":null") && strstr(r.out, "\"program_status\":\"serving\""),
                      "%s", r.out);
        ctl_run_done(&r);
        stop_and_expect(d, SIGTERM, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("exec-pool");

        TD_ADD_TEST(s, test_traffic_through_every_worker_and_kill_replaced);
        TD_ADD_TEST(s, test_reload_under_load_zero_failures);
        TD_ADD_TEST(s, test_ready_gates_the_reload);
        TD_ADD_TEST(s, test_watchdog_kills_a_silent_worker);
        TD_ADD_TEST(s, test_ready_timeout_is_a_failed_start);
        TD_ADD_TEST(s, test_program_that_exits_at_once);
        TD_ADD_TEST(s, test_stop_signal_to_the_group);
        TD_ADD_TEST(s, test_environment_fds_and_signals);
        TD_ADD_TEST(s, test_ready_listening_blocking_accept);
        TD_ADD_TEST(s, test_program_group_dies_with_it);
        TD_ADD_TEST(s, test_program_group_stopped_when_master_killed);
        TD_ADD_TEST(s, test_program_status_shown);
        return td_run_suite(s);
}
