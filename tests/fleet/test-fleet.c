/* SPDX-License-Identifier: MIT */
/* A fleet of three preforkd "hosts" (one instance each, bound to
 * 127.0.1.1-3) behind Debian's HAProxy with send-proxy-v2, health checks
 * (which send PROXY LOCAL) and agent checks, under HTTP load through
 * HAProxy for the whole test (keep-alive and close clients, each from
 * its own address, bounded in count and time):
 *
 *   - every host's access log shows the clients' own addresses;
 *   - each host in turn is drained (preforkctl drain: its agent says
 *     "drain" and HAProxy sends it nothing new), reloaded and undrained,
 *     with zero failed requests;
 *   - one host's agent reports it busy (its workers held): HAProxy's
 *     weight for it drops and so does its share of the traffic;
 *   - one host's master is killed with -9 and not restarted: its workers
 *     leave with it, HAProxy routes around it, and the failed requests
 *     are counted (at most one in flight per client).
 *
 * The figures (shares, failures per step) go to stderr ("fleet: ...").
 * Needs haproxy (Debian package haproxy; .ci/run installs it). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "../integration/itest.h"
#include "fleet.h"

#define WORKERS 4
/* Load: clients of each kind, and the bounds of the whole run. */
#define N_KEEPALIVE 2
#define N_CLOSE 2
#define MAX_REQUESTS_PER_CLIENT 20000UL
#define MAX_LOAD_TIME TD_SEC(50)
/* Answers per measuring window. */
#define WINDOW 300UL

typedef struct Host {
        TestDaemon *d;
        unsigned n;                   /* 1-3 */
        unsigned generation;
        uint16_t port, agent_port;
        bool dead;
} Host;

static Host hosts[FLEET_HOSTS];
static Haproxy haproxy = { .pid = -1, .listen_fd = -EBADF };
static FleetLoad load;

/* park: with a front stage; without one (the busy phase), an idle
 * keep-alive connection holds its worker, for at most 1 s. */
/* preforkctl from the build (PREFORKCTL_BINARY): the suite always has it. */
static const char *preforkctl(void) {
        const char *p = getenv("PREFORKCTL_BINARY");
        ck_assert_msg(p && *p, "PREFORKCTL_BINARY is not set");
        return p;
}

static char *host_config(const Host *h, bool park) {
        char *s;

        if (asprintf(&s,
                     "log_level = \"info\";\n"
                     "shutdown_timeout = 5.0;\n"
                     "%s\n"
                     "services = ( { name = \"web\"; listen = [ \"127.0.1.%u:0\" ]; workers = %u; handler = \"http\";\n"
                     "  proxy_protocol = \"v2\"; proxy_from = [ \"127.0.0.1\" ];\n"
                     "  agent_listen = \"127.0.1.%u:0\";\n"
                     "  park = { enabled = %s; };\n"
                     "  http = { root = \".\"; access_log = true; keepalive_timeout = %s; }; } );\n",
                     "control_socket = \"@DIR@/control\";", h->n, WORKERS, h->n,
                     park ? "true" : "false", park ? "30.0" : "1.0") < 0)
                return NULL;
        return s;
}

static void host_start(Host *h, unsigned n) {
        _cleanup_free_ char *conf = NULL;
        char id[8];

        *h = (Host) { .n = n, .generation = 1 };
        TD_OK(NULL, td_new(&h->d));
        snprintf(id, sizeof id, "h%u\n", n);
        TD_OK(h->d, td_write_file(h->d, "id.txt", id));
        conf = host_config(h, true);
        TD_ASSERT(h->d, conf);
        TD_OK(h->d, td_write_config(h->d, conf));
        TD_OK(h->d, td_start(h->d, NULL));
        TD_OK(h->d, td_wait_ready(h->d, TD_TIMEOUT));
        TD_OK(h->d, td_find_port(h->d, "web", 0, &h->port));
        TD_OK(h->d, td_find_port(h->d, "web agent check", 0, &h->agent_port));
}

/* preforkctl -s DIR/control COMMAND web on host h. */
static void host_ctl(const Host *h, const char *command) {
        char sock[512];
        int r;

        snprintf(sock, sizeof sock, "%s/control", td_dir(h->d));
        r = fleet_run((const char *const[]) { preforkctl(), "-s", sock, command, "web", NULL }, TD_TIMEOUT);
        TD_ASSERT_MSG(h->d, r == 0, "preforkctl %s web on host %u: %d", command, h->n, r);
}

/* A reload of host h with park on or off, applied. */
static void host_reload(Host *h, bool park) {
        _cleanup_free_ char *conf = host_config(h, park);

        TD_ASSERT(h->d, conf);
        TD_OK(h->d, td_write_config(h->d, conf));
        hup_expect_applied(h->d, ++h->generation);
}

static void haproxy_up(void) {
        char cfg[4096], servers[1024] = "";
        size_t n = 0;

        for (unsigned i = 0; i < FLEET_HOSTS; i++)
                n += (size_t) snprintf(servers + n, sizeof servers - n,
                                       "    server h%u 127.0.1.%u:%u agent-check agent-port %u\n", hosts[i].n,
                                       hosts[i].n, hosts[i].port, hosts[i].agent_port);
        /* The recipe of conf/examples/haproxy-fleet, with short check
         * intervals. Checks send the PROXY header too (check-send-proxy:
         * LOCAL), which the hosts require on every connection. */
        snprintf(cfg, sizeof cfg,
                 "global\n"
                 "    maxconn 1000\n"
                 "    nbthread 1\n"
                 "    stats socket @STATS@ mode 600 level admin\n"
                 "defaults\n"
                 "    mode http\n"
                 "    timeout connect 2s\n"
                 "    timeout client 30s\n"
                 "    timeout server 30s\n"
                 "    timeout http-keep-alive 30s\n"
                 "    retries 3\n"
                 "    option redispatch 1\n"
                 "    retry-on conn-failure empty-response\n"
                 "frontend fe\n"
                 "    bind fd@3\n"
                 "    default_backend web\n"
                 "backend web\n"
                 "    balance roundrobin\n"
                 "    option httpchk GET /id.txt\n"
                 "    default-server send-proxy-v2 check check-send-proxy inter 200ms fall 1 rise 1 weight 100 "
                 "agent-inter 200ms source 127.0.0.1\n"
                 "%s",
                 servers);
        TD_OK(NULL, haproxy_start(&haproxy, td_dir(hosts[0].d), cfg));
        for (unsigned i = 0; i < FLEET_HOSTS; i++) {
                char name[8];
                snprintf(name, sizeof name, "h%u", i + 1);
                TD_OK(NULL, haproxy_wait_server(&haproxy, name, "UP", 100, false, TD_TIMEOUT));
        }
}

static void teardown(void) {
        fleet_load_stop(&load);
        haproxy_stop(&haproxy);
        for (unsigned i = 0; i < FLEET_HOSTS; i++)
                hosts[i].d = td_free(hosts[i].d);
}

static double share(const FleetSnapshot *a, const FleetSnapshot *b, unsigned host) {
        unsigned long total = 0;

        for (unsigned i = 0; i < FLEET_HOSTS; i++)
                total += b->by_host[i] - a->by_host[i];
        return total ? 100.0 * (double) (b->by_host[host] - a->by_host[host]) / (double) total : 0;
}

static void report_shares(const char *what, const FleetSnapshot *a, const FleetSnapshot *b) {
        fprintf(stderr, "fleet: %s: %lu answers, h1 %.1f%%, h2 %.1f%%, h3 %.1f%%, %lu failed\n", what,
                (b->ok - a->ok), share(a, b, 0), share(a, b, 1), share(a, b, 2), b->failed - a->failed);
}

/* One more request on each held connection: a worker of host 3 keeps
 * each, as busy as a client that keeps asking; paced at 200 ms. */
static void keep_held(const int *held, size_t n) {
        for (size_t i = 0; i < n; i++) {
                bool close_after;
                TD_ASSERT(hosts[2].d, fleet_request(held[i], true, &close_after) == 3);
        }
        td_sleep(TD_MSEC(200));
}

/* Waits until host h has answered n more requests through HAProxy than
 * in from. */
static void wait_host_serves(const Host *h, const FleetSnapshot *from, unsigned long n) {
        uint64_t deadline = td_now() + TD_TIMEOUT;
        FleetSnapshot s;

        for (;;) {
                fleet_snapshot(&load, &s);
                if (s.by_host[h->n - 1] >= from->by_host[h->n - 1] + n)
                        return;
                TD_ASSERT_MSG(h->d, td_now() < deadline, "host %u takes no requests", h->n);
                td_sleep(TD_MSEC(20));
        }
}

START_TEST(test_fleet) {
        FleetSnapshot s0, s1, s2;
        unsigned long failed_rolling, failed_kill;
        double busy_share, fair_share;
        int held[WORKERS - 1];
        ServerStat st;

        for (unsigned i = 0; i < FLEET_HOSTS; i++)
                host_start(&hosts[i], i + 1);
        haproxy_up();
        TD_OK(NULL, fleet_load_start(&load, haproxy.port, N_KEEPALIVE, N_CLOSE, MAX_REQUESTS_PER_CLIENT,
                                     MAX_LOAD_TIME));

        /* Every host serves, and logs the clients' own addresses (the
         * load's, 127.0.9.x), not HAProxy's. */
        fleet_snapshot(&load, &s0);
        for (unsigned i = 0; i < FLEET_HOSTS; i++)
                wait_host_serves(&hosts[i], &s0, 20);
        TD_OK(NULL, fleet_wait_answers(&load, &s0, WINDOW, TD_TIMEOUT));
        fleet_snapshot(&load, &s1);
        report_shares("all three hosts", &s0, &s1);
        fair_share = share(&s0, &s1, 2);
        for (unsigned i = 0; i < FLEET_HOSTS; i++) {
                TD_OK(hosts[i].d, td_wait_log(hosts[i].d, "127.0.9.", TD_TIMEOUT, NULL));
                /* HAProxy's health checks send LOCAL: its own address. */
                TD_ASSERT_MSG(hosts[i].d, td_log_contains(hosts[i].d, "<info> 127.0.0.1:"),
                              "no health check logged with HAProxy's address");
        }

        /* Each host in turn: reloaded under load, and serving again
         * before the next. */
        for (unsigned i = 0; i < FLEET_HOSTS; i++) {
                char name[8];

                snprintf(name, sizeof name, "h%u", i + 1);
                fleet_snapshot(&load, &s1);
                {
                        FleetSnapshot d0, d1;

                        host_ctl(&hosts[i], "drain");
                        TD_OK(NULL, haproxy_wait_server(&haproxy, name, "DRAIN", -1, false, TD_TIMEOUT));
                        /* Drained: nothing new for it but what was on its
                         * way, at most one request per client. */
                        fleet_snapshot(&load, &d0);
                        host_reload(&hosts[i], true);
                        fleet_snapshot(&load, &d1);
                        TD_ASSERT_MSG(NULL, d1.by_host[i] - d0.by_host[i] <= N_KEEPALIVE + N_CLOSE,
                                      "host %u answered %lu requests while drained", i + 1,
                                      d1.by_host[i] - d0.by_host[i]);
                        host_ctl(&hosts[i], "undrain");
                }
                TD_OK(NULL, haproxy_wait_server(&haproxy, name, "UP", 100, false, TD_TIMEOUT));
                wait_host_serves(&hosts[i], &s1, 20);
                fleet_snapshot(&load, &s2);
                fprintf(stderr, "fleet: host %u %s under load: %lu answers meanwhile, %lu failed\n", i + 1,
                        "drained, reloaded and undrained",
                        s2.ok - s1.ok, s2.failed - s1.failed);
        }
        fleet_snapshot(&load, &s2);
        failed_rolling = s2.failed - s0.failed;
        TD_ASSERT_MSG(NULL, failed_rolling == 0, "%lu requests failed while the hosts were upgraded in turn (first: %s)",
                      failed_rolling, strerror(-atomic_load(&load.first_error)));

        /* Host 3 busy: without a front stage, keep-alive connections held
         * on it (each asking again every 200 ms, within the 1 s keep-alive)
         * pin all its workers but one; its agent reports the idle share,
         * and HAProxy weights it down. */
        host_reload(&hosts[2], false);
        for (unsigned i = 0; i < ELEMENTSOF(held); i++) {
                /* PROXY v2 from 192.0.2.9:12345, straight to the host. */
                static const uint8_t h[28] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49,
                                               0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C, 192,  0,    2,    9,
                                               127,  0,    1,    3,    0x30, 0x39, 0x00, 0x50 };
                bool close_after;

                held[i] = TD_OK(hosts[2].d, fleet_connect("127.0.0.1", "127.0.1.3", hosts[2].port));
                TD_OK(hosts[2].d, td_write_all(held[i], h, sizeof h, TD_TIMEOUT));
                TD_ASSERT(hosts[2].d, fleet_request(held[i], true, &close_after) == 3);
        }
        /* At most one worker of four idle: 25%, so weight 25 or less once
         * HAProxy has heard it. */
        for (uint64_t deadline = td_now() + TD_TIMEOUT;;) {
                if (haproxy_server(&haproxy, "web", "h3", &st) == 0 && st.weight <= 25)
                        break;
                TD_ASSERT_MSG(NULL, td_now() < deadline, "HAProxy kept host 3's weight");
                keep_held(held, ELEMENTSOF(held));
        }
        fleet_snapshot(&load, &s1);
        do {
                keep_held(held, ELEMENTSOF(held));
                fleet_snapshot(&load, &s2);
        } while (s2.ok + s2.failed < s1.ok + s1.failed + WINDOW && td_now() < load.deadline);
        busy_share = share(&s1, &s2, 2);
        fprintf(stderr, "fleet: host 3 busy (%zu of %u workers held), HAProxy weight %d: ", ELEMENTSOF(held), WORKERS,
                st.weight);
        report_shares("shares", &s1, &s2);
        TD_ASSERT_MSG(NULL, busy_share < fair_share / 2, "host 3's share did not drop: %.1f%% busy, %.1f%% before",
                      busy_share, fair_share);
        for (unsigned i = 0; i < ELEMENTSOF(held); i++)
                safe_close(held[i]);
        host_reload(&hosts[2], true);
        TD_OK(NULL, haproxy_wait_server(&haproxy, "h3", "UP", 100, false, TD_TIMEOUT));
        fleet_snapshot(&load, &s2);
        TD_ASSERT_MSG(NULL, s2.failed == failed_rolling, "%lu requests failed while host 3 was busy",
                      s2.failed - failed_rolling);

        /* Host 2's master killed with -9, not restarted: its workers and
         * front stage leave with it, and HAProxy routes around it. */
        fleet_snapshot(&load, &s1);
        TD_OK(hosts[1].d, td_kill(hosts[1].d, SIGKILL));
        TD_OK(hosts[1].d, td_wait_exit(hosts[1].d, TD_TIMEOUT, NULL));
        TD_OK(hosts[1].d, td_wait_group_gone(hosts[1].d, TD_TIMEOUT));
        hosts[1].dead = true;
        TD_OK(NULL, haproxy_wait_server(&haproxy, "h2", "DOWN", -1, false, TD_TIMEOUT));
        fleet_snapshot(&load, &s2);
        TD_OK(NULL, fleet_wait_answers(&load, &s2, WINDOW, TD_TIMEOUT));
        fleet_snapshot(&load, &s2);
        failed_kill = s2.failed - s1.failed;
        report_shares("host 2 killed with -9", &s1, &s2);
        TD_ASSERT_MSG(NULL, failed_kill <= N_KEEPALIVE + N_CLOSE,
                      "%lu requests failed when host 2 was killed: more than were in flight", failed_kill);

        fleet_load_stop(&load);
        fleet_snapshot(&load, &s2);
        fprintf(stderr, "fleet: in all %lu answers, %lu failed (%lu while reloading, %lu when host 2 was killed)\n",
                s2.ok, s2.failed, failed_rolling, failed_kill);
        haproxy_stop(&haproxy);
        stop_and_expect(hosts[0].d, SIGTERM, 0);
        stop_and_expect(hosts[2].d, SIGTERM, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("fleet");
        TCase *tc = tcase_create("fleet");

        if (system("command -v haproxy >/dev/null 2>&1") != 0) {
                fprintf(stderr, "fleet: haproxy is not installed (apt-get install haproxy)\n");
                return TD_EXIT_SKIP;
        }
        tcase_add_test(tc, test_fleet);
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 120);
        suite_add_tcase(s, tc);
        return td_run_suite(s);
}
