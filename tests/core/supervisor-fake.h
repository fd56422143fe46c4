/* SPDX-License-Identifier: MIT */
#pragma once

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "listener.h"
#include "supervisor.h"
#include "time-util.h"

/* The supervisor driven by a fake spawner and a fake clock: no fork, no
 * sleep, no event loop. Every effect (spawn, kill, event) is written to one
 * transcript in the order it happened, and each step asserts the exact
 * lines it produced. Pids are handed out from 101 up. */

#define T0 (1000 * USEC_PER_SEC)
#define MS(x) ((uint64_t) (x) * USEC_PER_MSEC)
#define SEC(x) ((uint64_t) (x) * USEC_PER_SEC)

/* burst = 0: no crash budget, every crash before serving backs off at
 * once; the budget has tests of its own (SVC_B). */
#define SVC_XB(name, workers, min_uptime, backoff_initial, backoff_max, burst, extra)                    \
        "{ name = \"" name "\"; listen = [\"127.0.0.1:0\"]; workers = " #workers "; handler = \"echo\";" \
        " respawn = { min_uptime = " min_uptime "; backoff_initial = " backoff_initial "; backoff_max = "   \
        backoff_max "; burst = " #burst "; interval = 10; }; park = { enabled = false; }; " extra " }"
#define SVC_X(name, workers, min_uptime, backoff_initial, backoff_max) \
        SVC_XB(name, workers, min_uptime, backoff_initial, backoff_max, 0, "")
/* A crash budget of burst crashes per 10 s. */
#define SVC_B(name, workers, burst) SVC_XB(name, workers, "1", "0.1", "0.5", burst, "")
/* Extra keys in the service group. */
#define SVC_E(name, workers, extra) SVC_XB(name, workers, "1", "0.1", "0.5", 0, extra)
/* Backoff delays 0.1, 0.2, 0.4, 0.5, 0.5 ... */
#define SVC_R(name, workers, min_uptime) SVC_X(name, workers, min_uptime, "0.1", "0.5")
#define SVC(name, workers) SVC_R(name, workers, "1")
#define CONF(shutdown_timeout, ...) "shutdown_timeout = " shutdown_timeout ";\nservices = ( " __VA_ARGS__ " );\n"

typedef struct Fake {
        Supervisor *sup;
        uint64_t now;
        pid_t next_pid;
        unsigned fail_spawns;  /* the next this many spawns fail with -EAGAIN */
        unsigned forgets;
        uint64_t memory[512];  /* what the memory op reports for pid 101 + i */
        uint64_t random;       /* what the random op returns; it adds 1 after each call */
        /* if set, start_or_reload opens the config's real listeners in it */
        ListenerSet *listeners;
        char log[8192];        /* the transcript since the last expect */
        size_t n_log;
} Fake;

extern Fake fake;

/* The fixture; then the steps of a test (supervisor-fake.c says what each
 * does). */
Supervisor *new_supervisor(void);
void setup(void);
void teardown(void);
void expect_(int line, const char *first, ...);
void advance_to(uint64_t t);
void advance(uint64_t usec);
void settle(void);
Config *load(const char *text);
int start_or_reload(bool reload, const char *text);
void start(const char *text);
int reload(const char *text);
void stop(bool fast);
void report_ready(pid_t pid, unsigned generation, unsigned index);
void ready(pid_t pid);
void ready_all(unsigned generation);
void exited(pid_t pid, int code, int status);
void crash(pid_t pid);
void quit(pid_t pid, int status);
Generation *gen(unsigned number);
Pool *pool(unsigned generation, const char *service);
Slot *slot(unsigned generation, const char *service, unsigned index);
void assert_slot_(int line, unsigned generation, const char *service, unsigned index, SlotState state, pid_t pid);
void assert_backoff_(int line, unsigned generation, const char *service, unsigned index, unsigned crashes, uint64_t delay);
const char *status(void);
Service *service(const char *name);
uint64_t start_two_ready(uint64_t up);

#define EXPECT(...) expect_(__LINE__, __VA_ARGS__, NULL)
#define EXPECT_NONE() expect_(__LINE__, NULL)
#define ASSERT_SLOT(g, service, index, state, pid) assert_slot_(__LINE__, g, service, index, state, pid)
#define ASSERT_BACKOFF(g, service, index, crashes, delay) assert_backoff_(__LINE__, g, service, index, crashes, delay)
#define ASSERT_STATE(st) ck_assert_str_eq(supervisor_state_to_string(fake.sup->state), supervisor_state_to_string(st))

/* Adds test tf to suite s in a test case of its own named like it (so
 * that CK_RUN_CASE=tf runs just that one), with the fixture. */
#define SUPERVISOR_ADD_TEST(s, tf)                                                              \
        do {                                                                                    \
                TCase *_tc_ = tcase_create(#tf);                                                \
                tcase_add_checked_fixture(_tc_, setup, teardown);                               \
                tcase_add_test(_tc_, tf);                                                       \
                suite_add_tcase((s), _tc_);                                                     \
        } while (0)
