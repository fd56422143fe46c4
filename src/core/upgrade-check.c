/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sysexits.h>

#include "config.h"
#include "fd-util.h"
#include "log.h"
#include "serialize.h"
#include "state-live.h"
#include "time-util.h"
#include "upgrade-check.h"
#include "version.h"

/* What is kept of the child's stdout: the answer is a few hundred bytes;
 * anything past this is not an answer. */
#define ANSWER_MAX 4096
/* The state a master hands over: a few hundred bytes per worker. */
#define STATE_MAX (64U * 1024U * 1024U)

struct UpgradeCheck {
        sd_event_source *child;
        sd_event_source *output;
        sd_event_source *timer;
        pid_t pid;
        int out_fd;
        char answer[ANSWER_MAX + 1];
        size_t n_answer;
        bool timed_out;
        char *binary;
        upgrade_check_fn callback;
        void *userdata;
};

UpgradeCheck *upgrade_check_free(UpgradeCheck *c) {
        if (!c)
                return NULL;
        if (c->pid > 0) {
                /* A check that is abandoned is not waited for: SIGKILL
                 * ends it at once, and the reap cannot block for long. */
                (void) kill(c->pid, SIGKILL);
                (void) waitpid(c->pid, NULL, 0);
        }
        sd_event_source_disable_unref(c->child);
        sd_event_source_disable_unref(c->output);
        sd_event_source_disable_unref(c->timer);
        safe_close(c->out_fd);
        free(c->binary);
        free(c);
        return NULL;
}

/* Reads what the child wrote so far; keeps the first ANSWER_MAX bytes. */
static void check_drain(UpgradeCheck *c) {
        char buf[4096];

        for (;;) {
                ssize_t n = read(c->out_fd, buf, sizeof buf);

                if (n <= 0)
                        break;
                if (c->n_answer < ANSWER_MAX) {
                        size_t k = MIN((size_t) n, ANSWER_MAX - c->n_answer);
                        memcpy(c->answer + c->n_answer, buf, k);
                        c->n_answer += k;
                }
        }
        c->answer[c->n_answer] = 0;
}

/* The verdict on a child that ended as si says. */
static int check_verdict(UpgradeCheck *c, const siginfo_t *si, char *why, size_t size, BinaryIdentity *ret_id) {
        _cleanup_(serialize_file_freep) SerializeFile *f = NULL;
        _cleanup_free_ char *err = NULL;
        const char *v;

        if (c->timed_out) {
                (void) snprintf(why, size, "%s did not answer --check-upgrade within %.0fs", c->binary,
                                (double) UPGRADE_CHECK_TIMEOUT_USEC / 1e6);
                return -ETIMEDOUT;
        }
        if (si->si_code != CLD_EXITED) {
                const char *name = sigabbrev_np(si->si_status);
                (void) snprintf(why, size, "%s crashed in --check-upgrade: killed by signal SIG%s", c->binary,
                                name ? name : "?");
                return -ECHILD;
        }
        if (serialize_parse(c->answer, c->n_answer, STATE_FORMAT_MAJOR, &f, &err) < 0 || f->n_records != 1) {
                if (si->si_status == 0)
                        (void) snprintf(why, size, "%s is not preforkd: it did not answer --check-upgrade", c->binary);
                else
                        (void) snprintf(why, size, "%s failed --check-upgrade: exited with status %d", c->binary,
                                        si->si_status);
                return -EMEDIUMTYPE;
        }
        if (strcmp(f->records[0].type, "check-failed") == 0) {
                v = serialize_get(&f->records[0], "reason");
                (void) snprintf(why, size, "%s %s", c->binary, v ? v : "failed its check");
                return -EBADMSG;
        }
        if (si->si_status != 0 || strcmp(f->records[0].type, "check") != 0) {
                (void) snprintf(why, size, "%s failed --check-upgrade: exited with status %d", c->binary,
                                si->si_status);
                return -EBADMSG;
        }
        *ret_id = (BinaryIdentity) { .version = "" };
        v = serialize_get(&f->records[0], "version");
        (void) snprintf(ret_id->version, sizeof ret_id->version, "%s", v ? v : "unknown");
        v = serialize_get(&f->records[0], "build-id");
        (void) snprintf(ret_id->build_id, sizeof ret_id->build_id, "%s", v ? v : "unknown");
        return 0;
}

static int check_on_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        UpgradeCheck *c = userdata;
        BinaryIdentity id;
        char why[512] = "";
        int r;

        /* sd-event has reaped it. */
        c->pid = 0;
        check_drain(c);
        r = check_verdict(c, si, why, sizeof why, &id);
        c->child = sd_event_source_disable_unref(c->child);
        c->output = sd_event_source_disable_unref(c->output);
        c->timer = sd_event_source_disable_unref(c->timer);
        c->callback(c, r, r < 0 ? why : NULL, r < 0 ? NULL : &id, c->userdata);
        return 0;
}

static int check_on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        UpgradeCheck *c = userdata;

        check_drain(c);
        /* At the end of the output (the child closed stdout, or exited)
         * only the exit is left to wait for. */
        if (revents & (EPOLLHUP | EPOLLERR))
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

static int check_on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        UpgradeCheck *c = userdata;

        c->timed_out = true;
        if (c->pid > 0)
                (void) kill(c->pid, SIGKILL);
        return 0;
}

/* The environment of the check: the master's, without what would let the
 * child talk to systemd as if it were the service. */
static char **check_environment(void) {
        static const char *const drop[] = {
                "NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=", "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=",
        };
        size_t n = 0, k = 0;
        char **env;

        while (environ[n])
                n++;
        env = calloc(n + 1, sizeof(char *));
        if (!env)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                bool skip = false;

                for (size_t j = 0; j < ELEMENTSOF(drop); j++)
                        skip = skip || strncmp(environ[i], drop[j], strlen(drop[j])) == 0;
                if (!skip)
                        env[k++] = environ[i];
        }
        return env;
}

int upgrade_check_start(sd_event *e, const char *binary, const char *config_path, const char *state, size_t size,
                        upgrade_check_fn cb, void *userdata, UpgradeCheck **ret) {
        _cleanup_(upgrade_check_freep) UpgradeCheck *c = NULL;
        _cleanup_close_ int state_fd = -EBADF, out_w = -EBADF;
        _cleanup_free_ char **env = NULL;
        _cleanup_free_ char *arg = NULL;
        int pipefd[2], r;
        sigset_t all;

        assert(e);
        assert(binary);
        assert(config_path);
        assert(cb);
        assert(ret);

        c = calloc(1, sizeof(UpgradeCheck));
        if (!c)
                return -ENOMEM;
        c->out_fd = -EBADF;
        c->callback = cb;
        c->userdata = userdata;
        c->binary = strdup(binary);
        env = check_environment();
        if (!c->binary || !env)
                return -ENOMEM;
        r = memfd_new_with_data("preforkd-state-check", state, size, true, &state_fd);
        if (r < 0)
                return r;
        if (asprintf(&arg, "--check-upgrade=%d", state_fd) < 0)
                return -ENOMEM;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return negative_errno();
        c->out_fd = pipefd[0];
        out_w = pipefd[1];
        if (fcntl(c->out_fd, F_SETFL, O_NONBLOCK) < 0)
                return negative_errno();

        char *argv[] = { c->binary, arg, (char *) "-c", (char *) config_path, NULL };
        c->pid = fork();
        if (c->pid < 0)
                return negative_errno();
        if (c->pid == 0) {
                int keep[] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, state_fd };

                /* Only async-signal-safe calls from here: another thread
                 * of the master may have held a lock at the fork. */
                if (dup2(out_w, STDOUT_FILENO) < 0 || close_all_fds_except(keep, ELEMENTSOF(keep)) < 0 ||
                    fd_set_cloexec(state_fd, false) < 0)
                        _exit(EX_OSERR);
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                (void) signal(SIGPIPE, SIG_DFL);
                sigemptyset(&all);
                (void) sigprocmask(SIG_SETMASK, &all, NULL);
                execve(binary, argv, env);
                _exit(EX_OSERR);
        }
        out_w = safe_close(out_w);

        r = sd_event_add_child(e, &c->child, c->pid, WEXITED, check_on_exit, c);
        if (r >= 0)
                r = sd_event_add_io(e, &c->output, c->out_fd, EPOLLIN, check_on_output, c);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &c->timer, CLOCK_MONOTONIC, UPGRADE_CHECK_TIMEOUT_USEC,
                                               USEC_PER_SEC / 10, check_on_timeout, c);
        if (r < 0)
                return r;
        /* Its output first, so that the answer is read before the exit. */
        (void) sd_event_source_set_priority(c->output, SD_EVENT_PRIORITY_IMPORTANT);
        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- the child's side ---- */

static int check_answer(const char *type, const char *key, const char *value) {
        SerializeWriter w;
        _cleanup_free_ char *text = NULL;
        int r;

        r = serialize_writer_init(&w, STATE_FORMAT_MAJOR, STATE_FORMAT_MINOR);
        if (r < 0)
                return r;
        serialize_record(&w, type);
        if (strcmp(type, "check") == 0) {
                BinaryIdentity id;

                binary_identity_self(&id);
                serialize_str(&w, "version", id.version);
                serialize_str(&w, "build-id", id.build_id);
        } else
                serialize_str(&w, key, value);
        r = serialize_finish(&w, &text, NULL);
        if (r < 0)
                return r;
        if (fputs(text, stdout) < 0 || fflush(stdout) != 0)
                return -EIO;
        return 0;
}

static int check_refuse(int code, const char *fmt, ...) _printf_(2, 3);
static int check_refuse(int code, const char *fmt, ...) {
        _cleanup_free_ char *why = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&why, fmt, ap) < 0)
                why = NULL;
        va_end(ap);
        log_error("Upgrade check failed: %s", why ? why : "out of memory");
        (void) check_answer("check-failed", "reason", why ? why : "out of memory");
        return code;
}

int upgrade_check_main(const char *config_path, int state_fd) {
        _cleanup_(master_state_freep) MasterState *st = NULL;
        _cleanup_(config_freep) Config *current = NULL, *next = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *text = NULL, *why = NULL;
        const StateGeneration *sg = NULL;
        size_t size;
        int r;

        r = fd_read_all(state_fd, STATE_MAX, &text, &size);
        if (r < 0)
                return check_refuse(EX_NOINPUT, "cannot read the state in fd %d: %s", state_fd, STRERROR(r));
        if (test_fault("deserialize-crash"))
                abort();
        r = master_state_parse(text, size, &st, &why);
        if (r < 0)
                return check_refuse(EX_DATAERR, "cannot read the running master's state: %s", why ? why : STRERROR(r));
        for (size_t i = 0; i < st->n_generations; i++)
                if (st->generations[i].current)
                        sg = &st->generations[i];
        r = config_load_snapshot(st->config_path, sg->config, &current, &errors);
        if (r < 0)
                return check_refuse(EX_CONFIG, "cannot rebuild the running configuration from its snapshot: %s",
                                    errors && errors[0] ? errors[0] : STRERROR(r));
        r = state_live_check(st, current, &why);
        if (r < 0)
                return check_refuse(EX_DATAERR, "cannot take over the running workers: %s", why ? why : STRERROR(r));
        strv_free(TAKE_PTR(errors));
        r = config_load(config_path, &next, &errors);
        if (r < 0) {
                for (char **e = errors; e && *e; e++)
                        log_error("%s", *e);
                return check_refuse(EX_CONFIG, "cannot use the configuration %s: %s%s", config_path,
                                    errors && errors[0] ? errors[0] : STRERROR(r),
                                    errors && errors[0] && errors[1] ? " (and more)" : "");
        }
        r = check_answer("check", NULL, NULL);
        if (r < 0) {
                log_error_errno(r, "Cannot answer the upgrade check: %s", STRERROR(r));
                return EX_IOERR;
        }
        return EX_OK;
}
