/* SPDX-License-Identifier: MIT */
/* handler = "exec" pooling the programs users pool: Debian's gunicorn
 * (systemd socket activation through LISTEN_FDS, READY=1 of its own),
 * uvicorn with --fd 3 and a Node server on listen({fd: 3}) (both ready =
 * "listening"). Each with two workers: traffic through both, kill -9 of
 * one is replaced without a refused connection, and a reload under load
 * fails no request. */
#include <signal.h>

#include "exec-test.h"

typedef struct Program {
        const char *binary;        /* what must be installed */
        const char *package;       /* ... from which Debian package */
        const char *exec_group;    /* run in the apps directory */
} Program;

static const Program gunicorn = {
        "/usr/bin/gunicorn", "gunicorn",
        "command = [ \"/usr/bin/gunicorn\", \"--workers\", \"1\", \"--graceful-timeout\", \"5\", \"wsgi_app:application\" ];"
        " ready = \"notify\";",
};
static const Program uvicorn = {
        "/usr/lib/python3/dist-packages/uvicorn/__init__.py", "python3-uvicorn",
        "command = [ \"/usr/bin/python3\", \"-m\", \"uvicorn\", \"--fd\", \"3\", \"asgi_app:app\" ];"
        " ready = \"listening\";",
};
static const Program node = {
        "/usr/bin/node", "nodejs",
        "command = [ \"node\", \"server.js\" ]; ready = \"listening\";",
};

static uint16_t start_program(TestDaemon **d, const Program *p) {
        _cleanup_free_ char *group = NULL, *conf = NULL;

        ck_assert_int_ge(asprintf(&group, "%s working_directory = \"%s\";", p->exec_group, apps_dir()), 0);
        conf = exec_config(2, group, NULL);
        ck_assert_ptr_nonnull(conf);
        return exec_start(d, conf);
}

/* Both slots answer; one program is SIGKILLed under load and replaced;
 * no connection is refused meanwhile. */
static void traffic_and_kill(const Program *p) {
        _cleanup_(td_freep) TestDaemon *d = NULL;
        uint16_t port = start_program(&d, p);
        long pids[2], after[2];
        HttpLoad *load;

        expect_all_slots(d, port, 2, 1000, pids);

        load = http_load_start(port, 100000, TD_SEC(60));
        http_load_wait_ok(load, 20);
        td_log_mark(d);
        /* The worker of slot 0: the master's log names it. */
        {
                _cleanup_free_ char *line = NULL;
                _cleanup_free_ char *log = td_log(d);
                const char *w = strstr(log, "app[slot 0]: started worker ");
                long pid;

                TD_ASSERT(d, w && sscanf(w, "app[slot 0]: started worker %ld", &pid) == 1);
                TD_ASSERT(d, kill((pid_t) pid, SIGKILL) == 0);
                TD_OK(d, td_wait_log(d, "killed by signal KILL", TD_TIMEOUT, &line));
                TD_OK(d, td_wait_pid_gone((pid_t) pid, TD_TIMEOUT));
        }
        TD_OK(d, td_wait_log(d, "app[slot 0]: started worker", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, strcmp(p->package, "gunicorn") == 0 ? "sent READY=1" : "waits for connections",
                             TD_TIMEOUT, NULL));
        http_load_wait_ok(load, atomic_load(&load->ok) + 20);
        http_load_stop(load);
        TD_ASSERT_MSG(d, atomic_load(&load->refused) == 0, "%lu connections refused", atomic_load(&load->refused));
        /* What the killed program had accepted is lost with it. */
        TD_ASSERT_MSG(d, atomic_load(&load->failed) <= 2, "%lu requests failed (first: %s)", atomic_load(&load->failed),
                      strerror(-atomic_load(&load->first_error)));
        free(load);
        expect_all_slots(d, port, 2, 1000, after);

        load = http_load_start(port, 100000, TD_SEC(60));
        http_load_wait_ok(load, 20);
        hup_expect_applied(d, 2);
        TD_OK(d, td_wait_log(d, "of generation 1 exited", TD_TIMEOUT, NULL));
        TD_OK(d, td_wait_log(d, "of generation 1 exited", TD_TIMEOUT, NULL));
        http_load_wait_ok(load, atomic_load(&load->ok) + 20);
        http_load_stop(load);
        TD_ASSERT_MSG(d, atomic_load(&load->failed) + atomic_load(&load->refused) == 0,
                      "reload: %lu failed, %lu refused (first: %s)", atomic_load(&load->failed),
                      atomic_load(&load->refused), strerror(-atomic_load(&load->first_error)));
        TD_ASSERT(d, atomic_load(&load->max_generation) == 2);
        free(load);
        stop_and_expect(d, SIGTERM, 0);
        TD_OK(d, td_wait_pid_gone((pid_t) after[0], TD_TIMEOUT));
        TD_OK(d, td_wait_pid_gone((pid_t) after[1], TD_TIMEOUT));
}

START_TEST(test_gunicorn) {
        traffic_and_kill(&gunicorn);
}
END_TEST

START_TEST(test_uvicorn) {
        traffic_and_kill(&uvicorn);
}
END_TEST

START_TEST(test_node) {
        traffic_and_kill(&node);
}
END_TEST

/* The cookbook's configs (conf/examples/) serve as written. */
START_TEST(test_examples) {
        static const struct {
                const char *file, *service;
        } examples[] = {
                { "gunicorn.conf", "wsgi" },
                { "uvicorn.conf", "asgi" },
                { "node.conf", "node" },
        };

        for (size_t i = 0; i < ELEMENTSOF(examples); i++) {
                _cleanup_(td_freep) TestDaemon *d = NULL;
                _cleanup_free_ char *conf = example_config(examples[i].file, "127.0.0.1:8000"), *body = NULL;
                uint16_t port;

                TD_OK(NULL, td_new(&d));
                TD_OK(d, td_write_config(d, conf));
                TD_OK(d, td_start(d, NULL));
                TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
                TD_OK(d, td_find_port(d, examples[i].service, 0, &port));
                TD_OK(d, http_get(port, "/", &body));
                TD_ASSERT_MSG(d, body_field(body, "pid") > 0, "%s: %s", examples[i].file, body);
                stop_and_expect(d, SIGTERM, 0);
        }
}
END_TEST

int main(void) {
        const Program *all[] = { &gunicorn, &uvicorn, &node };
        Suite *s = suite_create("exec-real");

        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                if (access(all[i]->binary, F_OK) < 0) {
                        fprintf(stderr, "%s is missing: apt-get install %s\n", all[i]->binary, all[i]->package);
                        return TD_EXIT_SKIP;
                }
        TD_ADD_TEST(s, test_gunicorn);
        TD_ADD_TEST(s, test_uvicorn);
        TD_ADD_TEST(s, test_node);
        TD_ADD_TEST(s, test_examples);
        return td_run_suite(s);
}
