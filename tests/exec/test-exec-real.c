/* SPDX-License-Identifier: MIT */
/* handler = "exec" pooling the programs users pool: Debian's gunicorn
 * (systemd socket activation through LISTEN_FDS, READY=1 of its own),
 * uvicorn with --fd 3 and a Node server on listen({fd: 3}) (both ready =
 * "listening"). Each with two workers: traffic through both, kill -9 of
 * one is replaced without a refused connection, and a reload under load
 * fails no request. */
#include <signal.h>

#include "exec-test.h"

static const Program gunicorn = {
        "/usr/bin/gunicorn", "gunicorn",
        "command = [ \"/usr/bin/gunicorn\", \"--workers\", \"1\", \"--graceful-timeout\", \"5\", \"wsgi_app:application\" ];"
        " ready = \"notify\";",
        0,
};
/* uvicorn's graceful shutdown (Server.shutdown() in its server.py, as
 * Debian 12 ships it) stops accepting and then closes every connection
 * whose request it has not begun to parse: one it accepted a moment
 * before the stop signal, with the request still in its socket buffer,
 * is closed unanswered. No supervisor can close that window (the program
 * holds the listening socket), so a reload under load may lose one
 * request to it; preforkd.conf(5)'s cookbook says so. */
static const Program uvicorn = {
        "/usr/lib/python3/dist-packages/uvicorn/__init__.py", "python3-uvicorn",
        "command = [ \"/usr/bin/python3\", \"-m\", \"uvicorn\", \"--fd\", \"3\", \"asgi_app:app\" ];"
        " ready = \"listening\";",
        1,
};
static const Program node = {
        "/usr/bin/node", "nodejs",
        "command = [ \"node\", \"server.js\" ]; ready = \"listening\";",
        0,
};

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
