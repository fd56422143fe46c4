/* SPDX-License-Identifier: MIT */
/* The config loader: results come back through the event loop, the loop
 * runs while a load blocks, the thread blocks every signal, and a cancelled
 * load never calls back and cleans up after itself. A FIFO as the config
 * file holds the loader thread in fopen() for as long as a test wants. */
#include <check.h>

#include "testlib.h"
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-loader.h"
#include "macros.h"

#define GOOD_CONFIG "services = ( { name = \"e\"; listen = [\"127.0.0.1:0\"]; workers = 2; handler = \"echo\"; } );\n"

static char dir[] = "/tmp/preforkd-loader-XXXXXX";
static char path[256];

static void setup(void) {
        strcpy(dir, "/tmp/preforkd-loader-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/test.conf", dir);
}

static void teardown(void) {
        char cmd[512];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

static void write_config(const char *text) {
        FILE *f = fopen(path, "we");

        ck_assert_ptr_nonnull(f);
        ck_assert_int_ge(fputs(text, f), 0);
        ck_assert_int_eq(fclose(f), 0);
}

/* Opens the FIFO at path for writing (which waits for the loader thread to
 * open it for reading), writes text and closes it. */
static void feed_fifo(const char *text) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        safe_close(fd);
}

/* The threads of this process other than the calling one. */
static int other_threads(pid_t *ret_tid) {
        DIR *d = opendir("/proc/self/task");
        struct dirent *de;
        int n = 0;

        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && (pid_t) atoi(de->d_name) != gettid()) {
                        if (ret_tid)
                                *ret_tid = (pid_t) atoi(de->d_name);
                        n++;
                }
        closedir(d);
        return n;
}

/* Waits until the loader thread has ended: a detached thread cannot be
 * joined, and nothing else tells when it is gone (a pidfd is for whole
 * processes on the kernels this runs on), but it leaves /proc/self/task. */
static void wait_thread_gone(void) {
        for (unsigned i = 0; other_threads(NULL) > 0; i++) {
                ck_assert_msg(i < TD_TIMEOUT / TD_MSEC(2), "the loader thread did not end");
                td_poll_pause();
        }
}

static uint64_t blocked_signals(pid_t tid) {
        char file[64], line[256];
        uint64_t mask = 0;
        bool found = false;
        FILE *f;

        snprintf(file, sizeof file, "/proc/self/task/%d/status", (int) tid);
        f = fopen(file, "re");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "SigBlk: %" SCNx64, &mask) == 1) {
                        found = true;
                        break;
                }
        fclose(f);
        ck_assert_msg(found, "no SigBlk in %s", file);
        return mask;
}

static bool sig_in(uint64_t mask, int sig) {
        return mask & (UINT64_C(1) << (sig - 1));
}

typedef struct Result {
        sd_event *event;
        ConfigLoader *loader;
        unsigned calls;
        int r;
        Config *config;
        char **errors;
} Result;

static void on_loaded(ConfigLoader *l, int r, Config *config, char **errors, void *userdata) {
        Result *res = userdata;

        ck_assert_ptr_eq(l, res->loader);
        res->calls++;
        res->r = r;
        res->config = config;
        res->errors = errors;
        /* Freeing the loader from its own callback is allowed. */
        res->loader = config_loader_free(res->loader);
        (void) sd_event_exit(res->event, 0);
}

static int on_too_long(sd_event_source *s, uint64_t usec, void *userdata) {
        ck_abort_msg("the loader did not call back");
        return 0;
}

static void result_done(Result *res) {
        res->loader = config_loader_free(res->loader);
        config_free(res->config);
        strv_free(res->errors);
        sd_event_unref(res->event);
}

/* Starts a loader on path and runs the loop until it calls back. */
static void load_and_wait(Result *res) {
        ck_assert_int_ge(sd_event_new(&res->event), 0);
        ck_assert_int_ge(sd_event_add_time_relative(res->event, NULL, CLOCK_MONOTONIC, TD_TIMEOUT, 0, on_too_long, NULL), 0);
        ck_assert_int_eq(config_loader_start(res->event, path, on_loaded, res, &res->loader), 0);
        ck_assert_ptr_nonnull(res->loader);
        ck_assert_int_ge(sd_event_loop(res->event), 0);
        ck_assert_uint_eq(res->calls, 1);
}

START_TEST(test_loads_valid_config) {
        Result res = { 0 };

        write_config(GOOD_CONFIG);
        load_and_wait(&res);
        ck_assert_int_eq(res.r, 0);
        ck_assert_ptr_nonnull(res.config);
        ck_assert_ptr_null(res.errors);
        ck_assert_uint_eq(res.config->n_services, 1);
        ck_assert_str_eq(res.config->services[0].name, "e");
        ck_assert_str_eq(res.config->path, path);
        result_done(&res);
        wait_thread_gone();
}
END_TEST

START_TEST(test_reports_errors) {
        Result res = { 0 }, missing = { 0 };

        write_config("services = ( { name = \"e\"; listen = [\"127.0.0.1:0\"]; workers = 0; handler = \"echo\"; } );\n");
        load_and_wait(&res);
        ck_assert_int_eq(res.r, -EINVAL);
        ck_assert_ptr_null(res.config);
        ck_assert(td_errors_have(res.errors, path, 1, "services.[0].workers", "must be between"));
        result_done(&res);

        ck_assert_int_eq(unlink(path), 0);
        load_and_wait(&missing);
        ck_assert_int_eq(missing.r, -ENOENT);
        ck_assert_ptr_null(missing.config);
        ck_assert_ptr_nonnull(missing.errors);
        ck_assert_ptr_nonnull(strstr(missing.errors[0], "cannot read configuration"));
        result_done(&missing);
        wait_thread_gone();
}
END_TEST

typedef struct Blocked {
        Result *res;
        unsigned ticks;
} Blocked;

/* Runs in the loop while the loader thread waits in fopen() on the FIFO. */
static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Blocked *b = userdata;
        sigset_t mine;
        uint64_t mask;
        pid_t tid = 0;

        ck_assert_uint_eq(b->res->calls, 0);
        if (++b->ticks < 3) {
                ck_assert_int_ge(sd_event_source_set_time_relative(s, TD_MSEC(10)), 0);
                return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }

        /* The thread blocks every signal the master handles, and the
         * loop's own mask is as it was. */
        ck_assert_int_eq(other_threads(&tid), 1);
        mask = blocked_signals(tid);
        ck_assert_msg(sig_in(mask, SIGHUP) && sig_in(mask, SIGTERM) && sig_in(mask, SIGINT) &&
                              sig_in(mask, SIGQUIT) && sig_in(mask, SIGCHLD) && sig_in(mask, SIGUSR1) &&
                              sig_in(mask, SIGUSR2) && sig_in(mask, SIGPIPE) && sig_in(mask, SIGALRM),
                      "the loader thread's SigBlk is %016" PRIx64, mask);
        ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &mine), 0);
        ck_assert(!sigismember(&mine, SIGUSR1));

        feed_fifo(GOOD_CONFIG);
        return 0;
}

START_TEST(test_loop_runs_while_loading) {
        Result res = { 0 };
        Blocked b = { .res = &res };

        ck_assert_int_eq(mkfifo(path, 0600), 0);
        ck_assert_int_ge(sd_event_new(&res.event), 0);
        ck_assert_int_ge(sd_event_add_time_relative(res.event, NULL, CLOCK_MONOTONIC, TD_MSEC(10), 0, on_tick, &b), 0);
        ck_assert_int_ge(sd_event_add_time_relative(res.event, NULL, CLOCK_MONOTONIC, TD_TIMEOUT, 0, on_too_long, NULL), 0);
        ck_assert_int_eq(config_loader_start(res.event, path, on_loaded, &res, &res.loader), 0);
        ck_assert_int_ge(sd_event_loop(res.event), 0);

        ck_assert_uint_eq(b.ticks, 3);
        ck_assert_uint_eq(res.calls, 1);
        ck_assert_int_eq(res.r, 0);
        ck_assert_ptr_nonnull(res.config);
        result_done(&res);
        wait_thread_gone();
}
END_TEST

static void on_loaded_never(ConfigLoader *l, int r, Config *config, char **errors, void *userdata) {
        ck_abort_msg("a cancelled loader called back");
}

/* Cancelled while the thread is still loading: the thread finishes on its
 * own and frees what it loaded (LeakSanitizer checks that in the sanitizer
 * build), and the loop never hears of it. */
START_TEST(test_cancel_while_loading) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        ConfigLoader *l = NULL;

        ck_assert_int_eq(mkfifo(path, 0600), 0);
        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(config_loader_start(e, path, on_loaded_never, NULL, &l), 0);
        l = config_loader_free(l);
        ck_assert_ptr_null(l);

        feed_fifo(GOOD_CONFIG);
        wait_thread_gone();
        ck_assert_int_eq(sd_event_run(e, 0), 0);
}
END_TEST

/* Cancelled after the thread is done but before the loop took the result:
 * the loader frees it. */
START_TEST(test_cancel_after_loading) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        ConfigLoader *l = NULL;

        write_config(GOOD_CONFIG);
        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(config_loader_start(e, path, on_loaded_never, NULL, &l), 0);
        wait_thread_gone();
        l = config_loader_free(l);
        ck_assert_int_eq(sd_event_run(e, 0), 0);
        ck_assert_ptr_null(config_loader_free(NULL));
}
END_TEST

int main(void) {
        Suite *s = suite_create("config-loader");
        TCase *tc = tcase_create("config-loader");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_loads_valid_config);
        tcase_add_test(tc, test_reports_errors);
        tcase_add_test(tc, test_loop_runs_while_loading);
        tcase_add_test(tc, test_cancel_while_loading);
        tcase_add_test(tc, test_cancel_after_loading);
        suite_add_tcase(s, tc);
        return td_run_suite(s);
}
