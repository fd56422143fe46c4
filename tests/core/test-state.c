/* SPDX-License-Identifier: MIT */
/* The state a master hands to the binary it executes (state.h): the line
 * format (serialize.h), its version rules, the checks of a parsed state,
 * and a round trip of a live supervisor through it. */
#include <check.h>

#include "testlib.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "generation.h"
#include "listener.h"
#include "serialize.h"
#include "state-live.h"
#include "state.h"
#include "supervisor-fake.h"
#include "supervisor.h"
#include "time-util.h"

static SerializeFile *parse_ok(const char *text) {
        _cleanup_free_ char *err = NULL;
        SerializeFile *f = NULL;
        int r = serialize_parse(text, strlen(text), 1, &f, &err);

        ck_assert_msg(r == 0, "parse failed: %s (%s)", strerror(-r), err ? err : "");
        return f;
}

static void parse_fails(const char *text, int want, const char *message) {
        _cleanup_free_ char *err = NULL;
        SerializeFile *f = NULL;
        int r = serialize_parse(text, strlen(text), 1, &f, &err);

        ck_assert_msg(r == want, "parse of %s: %d, expected %d", text, r, want);
        ck_assert_ptr_null(f);
        ck_assert_msg(err && strstr(err, message), "error \"%s\" does not say \"%s\"", err ? err : "(none)", message);
}

START_TEST(test_escaping_round_trip) {
        static const char *const values[] = {
                "", "plain", "two words", "a=b", "100%", "line\nbreak\ttab", "caf\xc3\xa9", "\x01\x7f~!",
        };
        _cleanup_(serialize_file_freep) SerializeFile *f = NULL;
        _cleanup_free_ char *text = NULL;
        SerializeWriter w;
        char key[8];

        ck_assert_int_eq(serialize_writer_init(&w, 1, 7), 0);
        serialize_record(&w, "thing");
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                snprintf(key, sizeof key, "k%zu", i);
                serialize_str(&w, key, values[i]);
        }
        serialize_record(&w, "numbers");
        serialize_u64(&w, "big", UINT64_MAX);
        serialize_usec(&w, "never", USEC_INFINITY);
        serialize_bool(&w, "yes", true);
        ck_assert_int_eq(serialize_finish(&w, &text, NULL), 0);
        /* One record per line, no blank inside a value. */
        ck_assert_ptr_null(strstr(text, "two words"));
        ck_assert_ptr_nonnull(strstr(text, "two%20words"));

        f = parse_ok(text);
        ck_assert_uint_eq(f->major, 1);
        ck_assert_uint_eq(f->minor, 7);
        ck_assert_uint_eq(f->n_records, 2);
        ck_assert_str_eq(f->records[0].type, "thing");
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                snprintf(key, sizeof key, "k%zu", i);
                ck_assert_str_eq(serialize_get(&f->records[0], key), values[i]);
        }
        uint64_t u = 0, t = 0;
        bool b = false;
        ck_assert_int_eq(serialize_get_u64(&f->records[1], "big", &u), 0);
        ck_assert_uint_eq(u, UINT64_MAX);
        ck_assert_int_eq(serialize_get_usec(&f->records[1], "never", &t), 0);
        ck_assert_uint_eq(t, USEC_INFINITY);
        ck_assert_int_eq(serialize_get_bool(&f->records[1], "yes", &b), 0);
        ck_assert(b);
        ck_assert_int_eq(serialize_get_u64(&f->records[1], "missing", &u), -ENOENT);
        ck_assert_int_eq(serialize_get_bool(&f->records[0], "k1", &b), -EINVAL);
}
END_TEST

START_TEST(test_versions_and_damage) {
        /* A newer major is refused with both versions named. */
        parse_fails("preforkd-state 2 0\nend\n", -EPROTONOSUPPORT,
                    "state format version 2.0 is newer than this binary's (1)");
        parse_fails("preforkd-state 0 9\nend\n", -EPROTONOSUPPORT, "is older than this binary's (1)");
        parse_fails("", -EINVAL, "empty state");
        parse_fails("something else\nend\n", -EINVAL, "not a preforkd state");
        parse_fails("preforkd-state 1 0\nservice name=x\n", -EINVAL, "cut short");
        parse_fails("preforkd-state 1 0\nend\nservice name=x\n", -EINVAL, "line 3: text after \"end\"");
        parse_fails("preforkd-state 1 0\nservice name=%zz\nend\n", -EINVAL, "line 2: bad escape in the value of name");
        parse_fails("preforkd-state 1 0\nservice name=a%00b\nend\n", -EINVAL, "bad escape");
        parse_fails("preforkd-state 1 0\nservice name=a%4\nend\n", -EINVAL, "bad escape");
        parse_fails("preforkd-state 1 0\nservice novalue\nend\n", -EINVAL, "line 2: malformed field");
        parse_fails("preforkd-state 1 0\nService name=x\nend\n", -EINVAL, "line 2: bad record type");
        parse_fails("preforkd-state 1 0\nservice  name=x\nend\n", -EINVAL, "malformed field");
}
END_TEST

/* A minimal state of one service, one generation and one worker; extra
 * is pasted before "end". */
static char *minimal_state(const char *extra) {
        char *s;

        ck_assert_int_ge(asprintf(&s,
                                  "preforkd-state 1 0\n"
                                  "identity version=0.1.0 build-id=abc\n"
                                  "master config=/etc/p.conf reloads=2 last-generation=3 ready-fd=5 ready-worker-fd=6\n"
                                  "compat worker-score=64 service-score=64 park=1 readiness=1\n"
                                  "service name=echo scoreboard-fd=7 capacity=10\n"
                                  "generation number=3 current=1 shutdown-timeout=10000000 config=x\n"
                                  "pool generation=3 service=echo workers=2\n"
                                  "slot generation=3 service=echo index=1 state=running pid=42 score=0\n"
                                  "%s"
                                  "end\n",
                                  extra),
                         0);
        return s;
}

START_TEST(test_unknown_records_and_keys_are_skipped) {
        _cleanup_(master_state_freep) MasterState *st = NULL;
        _cleanup_free_ char *text = minimal_state("gadget colour=blue\nfd name=control fd=9 since=1\n");
        _cleanup_free_ char *err = NULL;

        /* A later minor version's record and key: read past, not refused. */
        ck_assert_msg(master_state_parse(text, strlen(text), &st, &err) == 0, "%s", err);
        ck_assert_uint_eq(st->n_reloads, 2);
        ck_assert_uint_eq(st->n_slots, 1);
        ck_assert_int_eq(st->slots[0].pid, 42);
        ck_assert_int_eq(master_state_find_fd(st, "control"), 9);
        ck_assert_int_eq(master_state_find_fd(st, "other"), -ENOENT);
}
END_TEST

static void state_fails(const char *extra, const char *message) {
        _cleanup_(master_state_freep) MasterState *st = NULL;
        _cleanup_free_ char *text = minimal_state(extra), *err = NULL;
        int r = master_state_parse(text, strlen(text), &st, &err);

        ck_assert_msg(r < 0, "a state with \"%s\" was taken", extra);
        ck_assert_ptr_null(st);
        ck_assert_msg(err && strstr(err, message), "error \"%s\" does not say \"%s\"", err ? err : "(none)", message);
}

START_TEST(test_inconsistent_states_are_refused) {
        state_fails("slot generation=3 service=web index=0 state=running pid=43\n",
                    "a slot names service web, which is not there");
        state_fails("slot generation=2 service=echo index=0 state=running pid=43\n",
                    "slot 0 names generation 2 of service echo, which has no pool");
        state_fails("slot generation=3 service=echo index=5 state=running pid=43\n", "the pool has 2 workers");
        state_fails("slot generation=3 service=echo index=1 state=running pid=44\n", "is there twice");
        state_fails("slot generation=3 service=echo index=0 state=dead pid=44\n",
                    "a slot in state dead cannot have a process");
        state_fails("slot generation=3 service=echo index=0 state=running pid=0\n",
                    "a slot in state running must have a process");
        state_fails("slot generation=3 service=echo index=0 state=nap pid=44\n", "state: missing or unknown");
        state_fails("slot generation=3 service=echo index=0 state=running pid=44 score=10\n",
                    "beyond the capacity 10");
        state_fails("generation number=2 current=1 shutdown-timeout=1 config=y\n", "2 current generations");
        state_fails("generation number=4 current=0 shutdown-timeout=1\n", "above last-generation 3");
        state_fails("listener key=a address=127.0.0.1:1 fd=7\n", "fd 7 is named twice");
        state_fails("listener key=a address=127.0.0.1:1 fd=1\n", "fd 1 is one of stdin, stdout and stderr");
        state_fails("service name=web scoreboard-fd=8 capacity=0\n", "capacity: 0 is out of range");
        state_fails("service name=echo scoreboard-fd=8 capacity=1\n", "service echo is there twice");
        state_fails("pool generation=3 service=echo workers=2\n", "two pools of service echo");
        state_fails("pool generation=3 service=echo workers=lots\n", "pool workers: not a valid value");
}
END_TEST

/* ---- a live supervisor through the state and back ---- */

static char *capture(const Supervisor *s, const ListenerSet *set) {
        _cleanup_(master_state_freep) MasterState *st = master_state_new();
        char *text = NULL;

        ck_assert_ptr_nonnull(st);
        st->config_path = strdup("/etc/preforkd.conf");
        st->ready_fd = 98;
        st->ready_worker_fd = 99;
        ck_assert_int_eq(state_live_capture(s, set, st), 0);
        ck_assert_int_eq(master_state_format(st, &text, NULL), 0);
        return text;
}

#define CONF_A                                                                                              \
        "services = ( { name = \"echo\"; listen = [ \"127.0.0.1:0\" ]; workers = 2; handler = \"echo\";"  \
        "               park = { enabled = false; }; },"                                                   \
        "             { name = \"gone\"; listen = [ \"127.0.0.1:0\" ]; workers = 1; handler = \"echo\"; } );\n"
#define CONF_B                                                                                              \
        "shutdown_timeout = 7.5;\n"                                                                         \
        "services = ( { name = \"echo\"; listen = [ \"127.0.0.1:0\" ]; workers = 3; handler = \"echo\";"  \
        "               park = { enabled = false; }; respawn = { min_uptime = 2.0; burst = 0; }; } );\n"

START_TEST(test_live_round_trip) {
        _cleanup_(master_state_freep) MasterState *st = NULL;
        _cleanup_free_ char *text = NULL, *again = NULL, *err = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        ListenerSet set1 = { 0 }, set2 = { 0 };
        Supervisor *s1 = fake.sup, *s2 = NULL;
        uint64_t now = fake.now;
        Config *c = NULL;
        Slot *retiring, *backoff;

        fake.listeners = &set1;
        start(CONF_A);
        ready_all(1);
        ck_assert_int_eq(s1->state, SUPERVISOR_RUNNING);
        /* Generation 2: echo grows to 3, "gone" goes. Generation 1's
         * workers stay alive (retiring), and one of generation 2 crashes
         * into backoff. */
        advance(1);
        ck_assert_int_eq(reload(CONF_B), 0);
        advance(1);
        ready_all(2);
        ck_assert_uint_eq(s1->current->number, 2);
        backoff = &s1->current->pools[0].slots[1];
        advance(1);
        quit(backoff->pid, 1);
        ck_assert_int_eq(backoff->state, SLOT_BACKOFF);
        s1->services[0]->connections_done += 17;
        s1->services[0]->drained = true;
        atomic_store(&s1->current->pools[0].slots[0].score->connections, 5);

        text = capture(s1, &set1);
        ck_assert_ptr_nonnull(strstr(text, "\ngeneration number=2 current=1 kill=infinity shutdown-timeout=7500000 config="));
        ck_assert_ptr_nonnull(strstr(text, "\ngeneration number=1 current=0 kill="));
        ck_assert_ptr_nonnull(strstr(text, "\nslot generation=2 service=echo index=1 state=backoff pid=0 "));
        ck_assert_ptr_nonnull(strstr(text, "\nslot generation=1 service=gone index=0 state=retiring pid="));

        /* The next image: the same fds, mapped and adopted again. s1 lets
         * go of them without closing (they are s2's now). */
        ck_assert_msg(master_state_parse(text, strlen(text), &st, &err) == 0, "%s", err);
        for (size_t i = 0; i < st->n_generations; i++)
                if (st->generations[i].current)
                        ck_assert_int_eq(config_load_snapshot(st->config_path, st->generations[i].config, &c, &errors), 0);
        s2 = new_supervisor();
        ck_assert_msg(state_live_restore(st, c, s2, &set2, &err) == 0, "%s", err);
        ck_assert_int_eq(s2->state, SUPERVISOR_RUNNING);
        again = capture(s2, &set2);
        ck_assert_str_eq(again, text);

        /* The same shared memory: what a worker counts is seen by both. */
        ck_assert_uint_eq(atomic_load(&s2->current->pools[0].slots[0].score->connections), 5);
        atomic_store(&s1->current->pools[0].slots[0].score->connections, 6);
        ck_assert_uint_eq(atomic_load(&s2->current->pools[0].slots[0].score->connections), 6);
        ck_assert_uint_eq(s2->current->config->services[0].respawn.min_uptime_usec, 2 * USEC_PER_SEC);
        ck_assert_uint_eq(s2->services[0]->connections_done, 17);
        ck_assert(s2->services[0]->drained);
        ck_assert(!s2->services[1]->drained);

        /* And it supervises them: a retiring worker that exits is done,
         * the backoff slot respawns at its time. */
        for (size_t i = 0; i < s1->n_services; i++)
                s1->services[i]->scoreboard->fd = -EBADF;
        set1.n_listeners = 0;
        for (size_t i = 0; i < st->n_slots; i++)
                if (st->slots[i].pid > 0)
                        supervisor_find_slot(s2, st->slots[i].pid)->watch = &fake;
        retiring = NULL;
        for (Generation *g = s2->retiring; g; g = g->next)
                GENERATION_FOREACH_SLOT(g, p, slot)
                        if (slot_has_process(slot))
                                retiring = slot;
        ck_assert_ptr_nonnull(retiring);
        supervisor_worker_exited(s2, retiring->pid, &(ExitStatus) { .code = CLD_EXITED }, now + 4);
        ck_assert_int_eq(retiring->state, SLOT_DEAD);
        supervisor_run_timers(s2, supervisor_next_deadline(s2));
        ck_assert_int_eq(s2->current->pools[0].slots[1].state, SLOT_STARTING);

        s2 = supervisor_free(s2);
        listener_set_done(&set1);
        listener_set_done(&set2);
}
END_TEST

/* The configuration of the running generation must have the pools the
 * state says run. */
START_TEST(test_restore_refuses_another_shape) {
        _cleanup_(master_state_freep) MasterState *st = NULL;
        _cleanup_free_ char *text = NULL, *err = NULL;
        ListenerSet set1 = { 0 }, set2 = { 0 };
        Supervisor *s1 = fake.sup, *s2 = NULL;
        Config *other = load(CONF_B);

        fake.listeners = &set1;
        start(CONF_A);
        advance(1);
        ready_all(1);
        text = capture(s1, &set1);
        ck_assert_int_eq(master_state_parse(text, strlen(text), &st, &err), 0);
        s2 = new_supervisor();
        ck_assert_int_eq(state_live_restore(st, other, s2, &set2, &err), -EBADMSG);
        ck_assert_msg(strstr(err, "the configuration snapshot of generation 1 does not match its pools (service gone)"),
                      "%s", err);
        /* A layout this binary does not share is refused before anything. */
        free(err);
        err = NULL;
        st->worker_score_size++;
        ck_assert_int_eq(state_live_check(st, s1->current->config, &err), -EPROTO);
        ck_assert_msg(strstr(err, "the running workers share a scoreboard of"), "%s", err);
        s2 = supervisor_free(s2);
        listener_set_done(&set1);
}
END_TEST

static Suite *state_suite(void) {
        Suite *s = suite_create("state");

        TD_ADD_TEST(s, test_escaping_round_trip);
        TD_ADD_TEST(s, test_versions_and_damage);
        TD_ADD_TEST(s, test_unknown_records_and_keys_are_skipped);
        TD_ADD_TEST(s, test_inconsistent_states_are_refused);
        SUPERVISOR_ADD_TEST(s, test_live_round_trip);
        SUPERVISOR_ADD_TEST(s, test_restore_refuses_another_shape);
        return s;
}

int main(void) {
        return td_run_suite(state_suite());
}
