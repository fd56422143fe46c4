/* SPDX-License-Identifier: MIT */
/* supervisor-scale.c driven by a fake spawner and a fake clock, as in
 * test-supervisor.c: every effect (spawn, kill, event) goes to a
 * transcript, and each step asserts the exact lines it produced. Pids are
 * handed out from 101 up. */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "supervisor-scale.h"
#include "supervisor.h"
#include "testlib.h"
#include "time-util.h"

#define T0 (1000 * USEC_PER_SEC)

typedef struct Fake {
        Supervisor *sup;
        uint64_t now;
        pid_t next_pid;
        char log[8192];
        size_t n_log;
} Fake;

static Fake fake;

static void note(const char *fmt, ...) _printf_(1, 2);
static void note(const char *fmt, ...) {
        va_list ap;
        int l;

        va_start(ap, fmt);
        l = vsnprintf(fake.log + fake.n_log, sizeof fake.log - fake.n_log, fmt, ap);
        va_end(ap);
        ck_assert(l >= 0 && (size_t) l + 1 < sizeof fake.log - fake.n_log);
        fake.n_log += (size_t) l;
        fake.log[fake.n_log++] = '\n';
        fake.log[fake.n_log] = 0;
}

static int fake_spawn(void *userdata, Slot *s) {
        ck_assert_int_eq(s->pid, 0);
        ck_assert_ptr_nonnull(s->score);
        s->pid = fake.next_pid++;
        s->watch = &fake;
        note("spawn g%u %s[%u] = %d", s->pool->gen->number, s->service->name, s->index, (int) s->pid);
        return 0;
}

static void fake_forget(void *userdata, Slot *s) {
        ck_assert_ptr_eq(s->watch, &fake);
        s->watch = NULL;
}

static void fake_kill(void *userdata, pid_t pid, int sig) {
        note("kill %d %s", (int) pid, sigabbrev_np(sig));
}

static void fake_event(void *userdata, SupervisorEvent event, const char *why) {
        static const char *const names[_SUPERVISOR_EVENT_MAX] = {
                [SUPERVISOR_EVENT_STARTED] = "STARTED",
                [SUPERVISOR_EVENT_RELOAD_APPLIED] = "RELOAD_APPLIED",
                [SUPERVISOR_EVENT_RELOAD_REFUSED] = "RELOAD_REFUSED",
                [SUPERVISOR_EVENT_STOPPED] = "STOPPED",
                [SUPERVISOR_EVENT_STOP_TIMEOUT] = "STOP_TIMEOUT",
        };

        note("event %s", names[event]);
}

static const SupervisorOps fake_ops = {
        .spawn = fake_spawn,
        .forget = fake_forget,
        .kill = fake_kill,
        .event = fake_event,
};

static void setup(void) {
        fake = (Fake) { .now = T0, .next_pid = 101 };
        ck_assert_int_eq(supervisor_new(&fake_ops, &fake, &fake.sup), 0);
}

static void teardown(void) {
        fake.sup = supervisor_free(fake.sup);
}

static void expect_(int line, const char *first, ...) {
        char want[sizeof fake.log];
        size_t n = 0;
        va_list ap;

        want[0] = 0;
        va_start(ap, first);
        for (const char *l = first; l; l = va_arg(ap, const char *))
                n += (size_t) snprintf(want + n, sizeof want - n, "%s\n", l);
        va_end(ap);
        ck_assert_msg(strcmp(fake.log, want) == 0, "line %d: effects differ.\nwant:\n%sgot:\n%s", line, want,
                      fake.log);
        fake.n_log = 0;
        fake.log[0] = 0;
}
#define EXPECT(...) expect_(__LINE__, __VA_ARGS__, NULL)
#define EXPECT_NONE() expect_(__LINE__, NULL)

static Config *load(const char *text) {
        char path[] = "/tmp/preforkd-scale-XXXXXX";
        _cleanup_strv_free_ char **errors = NULL;
        Config *c = NULL;
        FILE *f;
        int fd;

        fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        f = fdopen(fd, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(config_load(path, &c, &errors), 0);
        (void) unlink(path);
        return c;
}

#define SVC(name, workers)                                                                                      \
        "{ name = \"" name "\"; listen = [\"127.0.0.1:0\"]; workers = " #workers "; handler = \"echo\";"        \
        " respawn = { min_uptime = 1; backoff_initial = 0.1; backoff_max = 0.5; burst = 0; };"                 \
        " park = { enabled = false; }; }"

static int start_or_reload(bool reload, const char *text) {
        Config *c = load(text);
        int store[4] = { 100, 110, 120, 130 }, *fds[4] = { &store[0], &store[1], &store[2], &store[3] };
        int r;

        r = reload ? supervisor_reload(fake.sup, c, fds, fake.now) : supervisor_start(fake.sup, c, fds, fake.now);
        if (r < 0)
                config_free(c);
        return r;
}

static void ready(pid_t pid) {
        const Slot *s = supervisor_find_slot(fake.sup, pid);

        ck_assert_msg(s, "no worker %d", (int) pid);
        supervisor_worker_ready(fake.sup, pid, s->pool->gen->number, s->index, fake.now);
}

static void exited(pid_t pid, int code, int status) {
        supervisor_worker_exited(fake.sup, pid, &(ExitStatus) { .code = code, .status = status }, fake.now);
}

static Pool *pool(const char *name) {
        Pool *p = generation_find_pool(fake.sup->current, name);

        ck_assert_ptr_nonnull(p);
        return p;
}

static void assert_slot_(int line, const char *service, unsigned index, SlotState state, pid_t pid) {
        const Pool *p = pool(service);
        const Slot *s;

        ck_assert_msg(index < p->n_slots, "line %d: %s has %u slots, no slot %u", line, service, p->n_slots, index);
        s = &p->slots[index];
        ck_assert_msg(s->state == state && s->pid == pid && s->index == index && s->pool == p,
                      "line %d: %s[%u] is %s with pid %d, want %s with pid %d", line, service, index,
                      slot_state_to_string(s->state), (int) s->pid, slot_state_to_string(state), (int) pid);
}
#define ASSERT_SLOT(service, index, state, pid) assert_slot_(__LINE__, service, index, state, pid)

static const char *status(void) {
        static char buf[512];

        ck_assert_int_eq(supervisor_format_status(fake.sup, buf, sizeof buf), 0);
        return buf;
}

/* web with 2 workers and echo with 1, all ready. */
static void start_ready(void) {
        ck_assert_int_eq(start_or_reload(false, "services = ( " SVC("web", 2) ", " SVC("echo", 1) " );\n"), 0);
        ready(101);
        ready(102);
        ready(103);
        EXPECT("spawn g1 web[0] = 101", "spawn g1 web[1] = 102", "spawn g1 echo[0] = 103", "event STARTED");
}

START_TEST(test_scale_up_starts_workers) {
        start_ready();
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 4, fake.now), 0);
        EXPECT("spawn g1 web[2] = 104", "spawn g1 web[3] = 105");
        ck_assert_uint_eq(pool("web")->size, 4);
        ck_assert_uint_eq(pool("web")->n_slots, 4);
        ASSERT_SLOT("web", 2, SLOT_STARTING, 104);
        ready(104);
        ready(105);
        ASSERT_SLOT("web", 3, SLOT_RUNNING, 105);
        ck_assert_str_eq(status(), "web 4/4 up, 0 conns, 0 restarts; echo 1/1 up, 0 conns, 0 restarts");

        /* The same size again changes nothing. */
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 4, fake.now), 0);
        EXPECT_NONE();
        /* A new slot is supervised like the others: a crash is respawned. */
        fake.now += 5 * USEC_PER_SEC;
        exited(105, CLD_KILLED, SIGSEGV);
        EXPECT("spawn g1 web[3] = 106");
}
END_TEST

START_TEST(test_scale_down_retires_the_highest_slots) {
        start_ready();
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 4, fake.now), 0);
        ready(104);
        ready(105);
        EXPECT("spawn g1 web[2] = 104", "spawn g1 web[3] = 105");

        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 1, fake.now), 0);
        EXPECT("kill 102 TERM", "kill 104 TERM", "kill 105 TERM");
        ck_assert_uint_eq(pool("web")->size, 1);
        ck_assert_uint_eq(pool("web")->service->kills[KILL_REASON_SCALE], 3);
        ASSERT_SLOT("web", 1, SLOT_RETIRING, 102);
        ck_assert_str_eq(status(), "web 1/1 up, 0 conns, 0 restarts; echo 1/1 up, 0 conns, 0 restarts");

        /* Each leaves when done; nothing is respawned, no restart counted,
         * and the slots go once their worker has: the highest first. */
        exited(104, CLD_EXITED, 0);
        EXPECT_NONE();
        ck_assert_uint_eq(pool("web")->n_slots, 4);
        exited(105, CLD_EXITED, 0);
        ck_assert_uint_eq(pool("web")->n_slots, 2);
        exited(102, CLD_EXITED, 0);
        EXPECT_NONE();
        ck_assert_uint_eq(pool("web")->n_slots, 1);
        ck_assert_uint_eq(pool("web")->service->restarts, 0);
        ASSERT_SLOT("web", 0, SLOT_RUNNING, 101);
        ck_assert_uint_eq(supervisor_live_workers(fake.sup), 2);
}
END_TEST

/* Grown back over a slot whose worker is still leaving: the slot gets a
 * new worker once the old one has gone, not two at once. */
START_TEST(test_scale_up_over_a_leaving_slot) {
        start_ready();
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 1, fake.now), 0);
        EXPECT("kill 102 TERM");
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 3, fake.now), 0);
        EXPECT("spawn g1 web[2] = 104");
        ASSERT_SLOT("web", 1, SLOT_RETIRING, 102);
        exited(102, CLD_EXITED, 0);
        EXPECT("spawn g1 web[1] = 105");
        ASSERT_SLOT("web", 1, SLOT_STARTING, 105);
        ck_assert_uint_eq(pool("web")->n_slots, 3);
}
END_TEST

/* A slot backing off above the new size just ends. */
START_TEST(test_scale_down_ends_a_backoff) {
        start_ready();
        exited(102, CLD_KILLED, SIGSEGV);
        EXPECT_NONE();
        ASSERT_SLOT("web", 1, SLOT_BACKOFF, 0);
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 1, fake.now), 0);
        EXPECT_NONE();
        ck_assert_uint_eq(pool("web")->n_slots, 1);
        ck_assert_uint_eq(supervisor_next_deadline(fake.sup), USEC_INFINITY);
}
END_TEST

START_TEST(test_scale_refused) {
        /* Not while starting. */
        ck_assert_int_eq(start_or_reload(false, "services = ( " SVC("web", 2) " );\n"), 0);
        EXPECT("spawn g1 web[0] = 101", "spawn g1 web[1] = 102");
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 3, fake.now), -EBUSY);
        ready(101);
        ready(102);
        EXPECT("event STARTED");

        ck_assert_int_eq(supervisor_scale(fake.sup, "nope", 3, fake.now), -ENOENT);
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 0, fake.now), -ERANGE);
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", WORKERS_MAX + 1, fake.now), -ERANGE);
        EXPECT_NONE();

        /* Not during a reload. */
        ck_assert_int_eq(start_or_reload(true, "services = ( " SVC("web", 2) " );\n"), 0);
        EXPECT("spawn g2 web[0] = 103", "spawn g2 web[1] = 104");
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 3, fake.now), -EBUSY);
        ck_assert_int_eq(supervisor_scale_all(fake.sup, 1, fake.now), -EBUSY);
        EXPECT_NONE();
}
END_TEST

/* A reload's generation has the file's size again. */
START_TEST(test_reload_resets_the_size) {
        start_ready();
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 3, fake.now), 0);
        ready(104);
        EXPECT("spawn g1 web[2] = 104");
        ck_assert_int_eq(start_or_reload(true, "services = ( " SVC("web", 2) ", " SVC("echo", 1) " );\n"), 0);
        ready(105);
        ready(106);
        ready(107);
        EXPECT("spawn g2 web[0] = 105", "spawn g2 web[1] = 106", "spawn g2 echo[0] = 107", "kill 101 TERM",
               "kill 102 TERM", "kill 104 TERM", "kill 103 TERM", "event RELOAD_APPLIED");
        ck_assert_uint_eq(pool("web")->size, 2);
        ck_assert_uint_eq(pool("web")->n_slots, 2);
}
END_TEST

/* SIGTTIN and SIGTTOU: every pool one larger or smaller, never below 1. */
START_TEST(test_scale_all) {
        start_ready();
        ck_assert_int_eq(supervisor_scale_all(fake.sup, 1, fake.now), 0);
        EXPECT("spawn g1 web[2] = 104", "spawn g1 echo[1] = 105");
        ready(104);
        ready(105);
        ck_assert_int_eq(supervisor_scale_all(fake.sup, -1, fake.now), 0);
        EXPECT("kill 104 TERM", "kill 105 TERM");
        ck_assert_int_eq(supervisor_scale_all(fake.sup, -1, fake.now), 0);
        /* echo is at 1: it keeps its worker. */
        EXPECT("kill 102 TERM");
        ck_assert_uint_eq(pool("web")->size, 1);
        ck_assert_uint_eq(pool("echo")->size, 1);
        ck_assert_int_eq(supervisor_scale_all(fake.sup, -1, fake.now), 0);
        EXPECT_NONE();
        ck_assert_uint_eq(pool("echo")->size, 1);
        ck_assert_uint_eq(pool("web")->size, 1);
}
END_TEST

/* During a stop nothing is started, even below the size. */
START_TEST(test_scale_stop) {
        start_ready();
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 1, fake.now), 0);
        EXPECT("kill 102 TERM");
        supervisor_stop(fake.sup, false, fake.now);
        EXPECT("kill 101 TERM", "kill 103 TERM");
        exited(101, CLD_EXITED, 0);
        exited(102, CLD_EXITED, 0);
        exited(103, CLD_EXITED, 0);
        EXPECT("event STOPPED");
        ck_assert_int_eq(supervisor_scale(fake.sup, "web", 2, fake.now), -EBUSY);
}
END_TEST

int main(void) {
        Suite *s = suite_create("supervisor-scale");
        const TTest *const tests[] = {
                test_scale_up_starts_workers,
                test_scale_down_retires_the_highest_slots,
                test_scale_up_over_a_leaving_slot,
                test_scale_down_ends_a_backoff,
                test_scale_refused,
                test_reload_resets_the_size,
                test_scale_all,
                test_scale_stop,
        };

        for (size_t i = 0; i < ELEMENTSOF(tests); i++) {
                TCase *tc = tcase_create(tests[i]->name);

                tcase_add_checked_fixture(tc, setup, teardown);
                tcase_add_test(tc, tests[i]);
                suite_add_tcase(s, tc);
        }
        return td_run_suite(s);
}
