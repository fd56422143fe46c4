/* SPDX-License-Identifier: MIT */
#include <check.h>

#include "testlib.h"
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor-fake.h"

Fake fake;


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
        ck_assert_ptr_eq(userdata, &fake);
        ck_assert_int_eq(s->pid, 0);
        ck_assert_ptr_null(s->watch);
        /* the scoreboard entry is the supervisor's to take, before the spawn */
        ck_assert_ptr_nonnull(s->score);
        if (fake.fail_spawns > 0) {
                fake.fail_spawns--;
                if (s->pool)
                        note("spawn g%u %s[%u] failed", s->pool->gen->number, s->service->name, s->index);
                else
                        note("spawn %s[front] failed", s->service->name);
                return -EAGAIN;
        }
        s->pid = fake.next_pid++;
        s->watch = &fake;
        if (s->pool)
                note("spawn g%u %s[%u] = %d", s->pool->gen->number, s->service->name, s->index, (int) s->pid);
        else
                note("spawn %s[front] = %d", s->service->name, (int) s->pid);
        return 0;
}

static void fake_forget(void *userdata, Slot *s) {
        ck_assert_ptr_eq(s->watch, &fake);
        s->watch = NULL;
        fake.forgets++;
}

/* A negative pid is the process group of a worker that leads one. */
static void fake_kill(void *userdata, pid_t pid, int sig) {
        ck_assert(pid > 0 || pid < -1);
        note("kill %d %s", (int) pid, sigabbrev_np(sig));
}

static void fake_event(void *userdata, SupervisorEvent event, const char *why) {
        static const char *const names[_SUPERVISOR_EVENT_MAX] = {
                [SUPERVISOR_EVENT_STARTED] = "STARTED",
                [SUPERVISOR_EVENT_RELOAD_APPLIED] = "RELOAD_APPLIED",
                [SUPERVISOR_EVENT_RELOAD_REFUSED] = "RELOAD_REFUSED",
                [SUPERVISOR_EVENT_RELOAD_ROLLED_BACK] = "RELOAD_ROLLED_BACK",
                [SUPERVISOR_EVENT_STOPPED] = "STOPPED",
                [SUPERVISOR_EVENT_STOP_TIMEOUT] = "STOP_TIMEOUT",
        };

        ck_assert_uint_lt(event, _SUPERVISOR_EVENT_MAX);
        note("event %s%s%s", names[event], why ? ": " : "", why ? why : "");
}

static int fake_memory(void *userdata, pid_t pid, uint64_t *ret_bytes) {
        ck_assert_int_gt(pid, 100);
        ck_assert_int_lt(pid, 101 + (int) ELEMENTSOF(fake.memory));
        *ret_bytes = fake.memory[pid - 101];
        return 0;
}

static uint64_t fake_random(void *userdata) {
        return fake.random++;
}

static const SupervisorOps fake_ops = {
        .spawn = fake_spawn,
        .forget = fake_forget,
        .kill = fake_kill,
        .memory = fake_memory,
        .random = fake_random,
        .event = fake_event,
};

/* Another supervisor on the same fake spawner, clock and transcript: for
 * a test that hands the workers of one over to the next. */
Supervisor *new_supervisor(void) {
        Supervisor *s = NULL;

        ck_assert_int_eq(supervisor_new(&fake_ops, &fake, &s), 0);
        return s;
}

void setup(void) {
        fake = (Fake) { .now = T0, .next_pid = 101 };
        fake.sup = new_supervisor();
}

void teardown(void) {
        fake.sup = supervisor_free(fake.sup);
}

/* Asserts that the transcript since the last call is exactly these lines. */
void expect_(int line, const char *first, ...) {
        char want[sizeof fake.log];
        size_t n = 0;
        va_list ap;

        want[0] = 0;
        va_start(ap, first);
        for (const char *l = first; l; l = va_arg(ap, const char *)) {
                ck_assert(strlen(l) + 2 < sizeof want - n);
                n += (size_t) sprintf(want + n, "%s\n", l);
        }
        va_end(ap);
        ck_assert_msg(strcmp(fake.log, want) == 0, "line %d: effects differ.\nwant:\n%sgot:\n%s", line, want,
                      fake.log);
        fake.n_log = 0;
        fake.log[0] = 0;
}

/* What the master's timer does: every deadline up to t fires, each at its
 * own time; then the clock reads t. A deadline that stays due after it
 * fired would be a busy loop in the master. */
void advance_to(uint64_t t) {
        ck_assert_uint_ge(t, fake.now);
        for (unsigned i = 0;; i++) {
                uint64_t d = supervisor_next_deadline(fake.sup);

                if (d > t)
                        break;
                ck_assert_msg(i < 1000, "deadline %" PRIu64 " stays due", d);
                fake.now = MAX(fake.now, d);
                supervisor_run_timers(fake.sup, fake.now);
        }
        fake.now = t;
}

void advance(uint64_t usec) {
        advance_to(fake.now + usec);
}

/* The master runs what fell due after every call into the supervisor. */
void settle(void) {
        advance_to(fake.now);
}

Config *load(const char *text) {
        char path[] = "/tmp/preforkd-supervisor-XXXXXX";
        _cleanup_strv_free_ char **errors = NULL;
        Config *c = NULL;
        FILE *f;
        int fd, r;

        fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        f = fdopen(fd, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
        r = config_load(path, &c, &errors);
        (void) unlink(path);
        for (char **e = errors; e && *e; e++)
                fprintf(stderr, "config: %s\n", *e);
        ck_assert_int_eq(r, 0);
        return c;
}

/* Calls supervisor_start() or _reload() with fake listener fds: 100 + 10 *
 * service + listener; or, when fake.listeners is set, with the config's
 * listeners opened in that set, for a test that needs real sockets. The
 * config is freed if it was not taken. */
int start_or_reload(bool reload, const char *text) {
        Config *c = load(text);
        int store[4][4], *fake_fds[4], **fds = fake_fds;
        int r;

        if (fake.listeners) {
                ck_assert_int_eq(listener_set_open(fake.listeners, c), 0);
                ck_assert_int_eq(listener_set_fds(fake.listeners, c, &fds), 0);
        } else {
                ck_assert_uint_le(c->n_services, ELEMENTSOF(fake_fds));
                for (size_t i = 0; i < c->n_services; i++) {
                        ck_assert_uint_le(c->services[i].n_listen, ELEMENTSOF(store[i]));
                        for (size_t j = 0; j < c->services[i].n_listen; j++)
                                store[i][j] = (int) (100 + 10 * i + j);
                        fake_fds[i] = store[i];
                }
        }
        r = reload ? supervisor_reload(fake.sup, c, fds, fake.now) : supervisor_start(fake.sup, c, fds, fake.now);
        if (fds != fake_fds)
                listen_fds_free(fds, c->n_services);
        if (r < 0)
                config_free(c);
        settle();
        return r;
}

void start(const char *text) {
        ck_assert_int_eq(start_or_reload(false, text), 0);
}

int reload(const char *text) {
        return start_or_reload(true, text);
}

void stop(bool fast) {
        supervisor_stop(fake.sup, fast, fake.now);
        settle();
}

/* A readiness report as the worker would send it. */
void report_ready(pid_t pid, unsigned generation, unsigned index) {
        supervisor_worker_ready(fake.sup, pid, generation, index, fake.now);
        settle();
}

/* pid reports ready, with its own generation and slot. */
void ready(pid_t pid) {
        const Slot *s = supervisor_find_slot(fake.sup, pid);

        ck_assert_msg(s, "no worker %d", (int) pid);
        report_ready(pid, s->pool->gen->number, s->index);
}

void exited(pid_t pid, int code, int status) {
        bool known = supervisor_find_slot(fake.sup, pid);
        unsigned forgets = fake.forgets;

        supervisor_worker_exited(fake.sup, pid, &(ExitStatus) { .code = code, .status = status }, fake.now);
        /* every reaped worker is forgotten once, an unknown one never */
        ck_assert_uint_eq(fake.forgets, forgets + known);
        settle();
}

void crash(pid_t pid) {
        exited(pid, CLD_KILLED, SIGSEGV);
}

void quit(pid_t pid, int status) {
        exited(pid, CLD_EXITED, status);
}

Generation *gen(unsigned number) {
        const Supervisor *s = fake.sup;

        if (s->current && s->current->number == number)
                return s->current;
        if (s->pending && s->pending->number == number)
                return s->pending;
        for (Generation *g = s->retiring; g; g = g->next)
                if (g->number == number)
                        return g;
        return NULL;
}

Pool *pool(unsigned generation, const char *service) {
        Generation *g = gen(generation);
        Pool *p;

        ck_assert_msg(g, "no generation %u", generation);
        p = generation_find_pool(g, service);
        ck_assert_msg(p, "no service %s in generation %u", service, generation);
        return p;
}

Slot *slot(unsigned generation, const char *service, unsigned index) {
        Pool *p = pool(generation, service);

        ck_assert_uint_lt(index, p->n_slots);
        return &p->slots[index];
}

/* Every worker of the generation that is still starting reports ready. */
void ready_all(unsigned generation) {
        Generation *g = gen(generation);

        ck_assert_msg(g, "no generation %u", generation);
        GENERATION_FOREACH_SLOT(g, p, s)
                if (s->state == SLOT_STARTING)
                        report_ready(s->pid, generation, s->index);
}

void assert_slot_(int line, unsigned generation, const char *service, unsigned index, SlotState state,
                         pid_t pid) {
        const Slot *s = slot(generation, service, index);

        ck_assert_msg(s->state == state && s->pid == pid, "line %d: g%u %s[%u] is %s with pid %d, want %s with pid %d",
                      line, generation, service, index, slot_state_to_string(s->state), (int) s->pid,
                      slot_state_to_string(state), (int) pid);
        /* A pool that grew or shrank moved its slots: each must still know where it is. */
        ck_assert_msg(s->index == index && s->pool == pool(generation, service),
                      "line %d: g%u %s[%u] thinks it is slot %u of another pool", line, generation, service, index,
                      s->index);
        ck_assert_msg((s->pid > 0) == (s->score != NULL), "line %d: a scoreboard entry without a process", line);
}

void assert_backoff_(int line, unsigned generation, const char *service, unsigned index, unsigned crashes,
                            uint64_t delay) {
        const Slot *s = slot(generation, service, index);

        assert_slot_(line, generation, service, index, SLOT_BACKOFF, 0);
        ck_assert_msg(s->crashes == crashes && s->backoff_usec == delay && s->backoff_until_usec == fake.now + delay,
                      "line %d: g%u %s[%u] backs off %" PRIu64 "us until %+" PRId64 "us after %u crashes, want %"
                      PRIu64 "us after %u", line, generation, service, index, s->backoff_usec,
                      (int64_t) (s->backoff_until_usec - fake.now), s->crashes, delay, crashes);
}
/* The slot has just entered backoff: delay from now, after crashes. */


const char *status(void) {
        static char buf[512];

        ck_assert_int_eq(supervisor_format_status(fake.sup, buf, sizeof buf), 0);
        return buf;
}

Service *service(const char *name) {
        for (size_t i = 0; i < fake.sup->n_services; i++)
                if (strcmp(fake.sup->services[i]->name, name) == 0)
                        return fake.sup->services[i];
        return NULL;
}

/* echo with two workers, both ready; then the clock reads T0 + up, which
 * is returned. */
uint64_t start_two_ready(uint64_t up) {
        start(CONF("2", SVC("echo", 2)));
        ready(101);
        ready(102);
        EXPECT("spawn g1 echo[0] = 101", "spawn g1 echo[1] = 102", "event STARTED");
        advance(up);
        return fake.now;
}

