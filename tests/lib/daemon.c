/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon-internal.h"
#include "daemon.h"
#include "proc.h"
#include "spawn-internal.h"

/* Daemons that a test did not free (check's no-fork mode goes on after a
 * failed assertion): killed at exit, so that none outlives the test. */
static void daemons_atexit(void);
static TdiRegistry live_daemons = TDI_REGISTRY_INIT(daemons_atexit);

/* ---- lifecycle ---- */

static void daemon_free_void(void *d) {
        td_free(d);
}

static void daemons_atexit(void) {
        tdi_registry_free_all(&live_daemons, daemon_free_void);
}

char *td_subst(const TestDaemon *d, const char *s) {
        return tdi_str_replace(s, "@DIR@", d ? d->dir : "");
}

static int write_file_at(const char *path, const char *contents) {
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(contents);

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        for (size_t off = 0; off < len;) {
                ssize_t k = write(fd, contents + off, len - off);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                off += (size_t) k;
        }
        return 0;
}

/* The janitor: a child that outlives a test process killed before it could
 * clean up (check's fork mode _exit()s on a failed assertion and SIGKILLs on
 * a timeout; neither runs atexit()). It waits for EOF on a pipe whose write
 * end only the test process holds, then SIGKILLs the daemon's process group
 * (whose pid it was told) and removes the temp dir. It runs in its own
 * process group, out of reach of check's killpg(), and only makes
 * async-signal-safe calls before exec'ing rm. */
_noreturn_ static void janitor_main(int rfd, char *const *rm_argv) {
        static char *const empty_env[] = { NULL };
        pid_t pid = 0;
        int null_fd;

        (void) setpgid(0, 0);
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0 || dup2(rfd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0)
                _exit(1);
        (void) close_range(3, ~0U, 0);

        for (;;) {
                pid_t v;
                ssize_t k = read(0, &v, sizeof(v));

                if (k == (ssize_t) sizeof(v)) {
                        pid = v;
                        continue;
                }
                if (k < 0 && errno == EINTR)
                        continue;
                break;
        }
        if (pid > 0) {
                (void) kill(-pid, SIGKILL);
                (void) kill(pid, SIGKILL);
        }
        execve("/bin/rm", rm_argv, empty_env);
        _exit(1);
}

static int janitor_start(TestDaemon *d) {
        char *argv[] = { (char *) "rm", (char *) "-rf", (char *) "--", d->dir, NULL };
        int p[2];
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                safe_close(p[0]);
                safe_close(p[1]);
                return -errno;
        }
        if (pid == 0)
                janitor_main(p[0], argv);
        safe_close(p[0]);
        d->janitor_fd = p[1];
        d->janitor_pid = pid;
        return 0;
}

static void janitor_tell(TestDaemon *d, pid_t pid) {
        if (d->janitor_fd >= 0)
                (void) !write(d->janitor_fd, &pid, sizeof(pid));
}

static void janitor_stop(TestDaemon *d) {
        if (d->janitor_pid <= 0)
                return;
        /* Everything is cleaned up already: nothing to kill any more (the
         * pid may even be reused by now). */
        janitor_tell(d, 0);
        d->janitor_fd = safe_close(d->janitor_fd);
        (void) waitpid(d->janitor_pid, NULL, 0);
        d->janitor_pid = 0;
}

int td_new(TestDaemon **ret) {
        _cleanup_free_ char *tmpl = NULL;
        const char *tmp = getenv("TMPDIR");
        pthread_condattr_t ca;
        TestDaemon *d;
        int r;

        tdi_ignore_sigpipe();

        if (!tmp || !*tmp)
                tmp = "/tmp";
        if (asprintf(&tmpl, "%s/preforkd-test.XXXXXX", tmp) < 0)
                return -ENOMEM;
        if (!mkdtemp(tmpl))
                return -errno;

        d = calloc(1, sizeof(*d));
        if (!d) {
                (void) rmdir(tmpl);
                return -ENOMEM;
        }
        d->dir = TAKE_PTR(tmpl);
        d->notify_fd = d->out_fd = d->janitor_fd = d->pidfd = -EBADF;
        d->wake_pipe[0] = d->wake_pipe[1] = -EBADF;
        pthread_mutex_init(&d->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&d->cond, &ca);
        pthread_condattr_destroy(&ca);

        tdi_registry_add(&live_daemons, d);

        r = janitor_start(d);
        if (r < 0) {
                td_free(d);
                return r;
        }

        if (asprintf(&d->config_path, "%s/preforkd.conf", d->dir) < 0) {
                d->config_path = NULL;
                td_free(d);
                return -ENOMEM;
        }
        r = tdi_notify_open(d);
        if (r < 0) {
                td_free(d);
                return r;
        }
        if (pipe2(d->wake_pipe, O_CLOEXEC) < 0) {
                r = -errno;
                td_free(d);
                return r;
        }

        *ret = d;
        return 0;
}

const char *td_binary_variant(const char *which) {
        const char *p = getenv(strcmp(which, "b") == 0 ? "PREFORKD_TEST_BINARY_B" : "PREFORKD_TEST_BINARY_C");

        ck_assert_msg(p && *p, "PREFORKD_TEST_BINARY_%s is not set (run through meson test)", which);
        return p;
}

const char *td_dir(const TestDaemon *d) {
        return d->dir;
}

const char *td_config_path(const TestDaemon *d) {
        return d->config_path;
}

pid_t td_pid(const TestDaemon *d) {
        return d->reaped ? 0 : d->pid;
}

int td_write_config(TestDaemon *d, const char *text) {
        _cleanup_free_ char *s = td_subst(d, text);
        _cleanup_free_ char *tmp = NULL;
        int r;

        if (!s)
                return -ENOMEM;
        /* Write and rename, so that a reload never sees half a file. */
        if (asprintf(&tmp, "%s.tmp", d->config_path) < 0)
                return -ENOMEM;
        r = write_file_at(tmp, s);
        if (r < 0)
                return r;
        if (rename(tmp, d->config_path) < 0)
                return -errno;
        return 0;
}

int td_write_file(TestDaemon *d, const char *name, const char *contents) {
        _cleanup_free_ char *s = td_subst(d, contents);
        _cleanup_free_ char *path = NULL;

        if (!s)
                return -ENOMEM;
        if (asprintf(&path, "%s/%s", d->dir, name) < 0)
                return -ENOMEM;
        return write_file_at(path, s);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) ftw;
        if (flag == FTW_DP)
                (void) rmdir(path);
        else
                (void) unlink(path);
        return 0;
}

static void kill_daemon(TestDaemon *d) {
        _cleanup_free_ pid_t *workers = NULL;
        int n;

        if (!d->started || d->reaped)
                return;

        /* Collect the workers first: once the master is gone they are
         * reparented and can no longer be found through it. */
        n = td_children(d->pid, &workers);
        (void) kill(-d->pid, SIGKILL);
        (void) kill(d->pid, SIGKILL);
        for (int i = 0; i < n; i++)
                (void) kill(workers[i], SIGKILL);
        (void) td_wait_exit(d, TD_SEC(10), NULL);
        for (int i = 0; i < n; i++)
                (void) td_wait_pid_gone(workers[i], TD_SEC(2));
}

TestDaemon *td_free(TestDaemon *d) {
        if (!d)
                return NULL;

        tdi_registry_remove(&live_daemons, d);

        kill_daemon(d);

        if (d->thread_started) {
                char c = 'x';

                (void) !write(d->wake_pipe[1], &c, 1);
                pthread_join(d->thread, NULL);
                d->thread_started = false;
        }

        {
                const char *v = getenv("TD_VERBOSE");

                if (v && *v && strcmp(v, "0") != 0)
                        td_dump(d);
        }

        safe_close(d->out_fd);
        safe_close(d->pidfd);
        safe_close(d->wake_pipe[0]);
        safe_close(d->wake_pipe[1]);

        if (d->dir)
                (void) nftw(d->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        janitor_stop(d);

        tdi_notify_free(d);
        tdi_log_free(d);
        free(d->config_path);
        free(d->dir);
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->cond);
        free(d);
        return NULL;
}

/* ---- reader thread ---- */

static void *reader_thread(void *userdata) {
        TestDaemon *d = userdata;
        const size_t size = 65536;
        char *buf;
        bool out_open = true;

        buf = malloc(size);
        if (!buf)
                return NULL;

        for (;;) {
                struct pollfd p[3] = {
                        { .fd = d->wake_pipe[0], .events = POLLIN },
                        { .fd = d->notify_fd, .events = POLLIN },
                        { .fd = out_open ? d->out_fd : -1, .events = POLLIN },
                };

                if (poll(p, ELEMENTSOF(p), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[0].revents)
                        break;
                /* The datagrams first, into a batch nobody sees yet; then the
                 * output, which by then holds every line the daemon wrote
                 * before them (it logs before it notifies); then the batch.
                 * So a log line written before a notify message is always
                 * captured before that message becomes visible to
                 * td_wait_notify(). (Draining the output first would not
                 * do: a message sent after that drain, with its lines still
                 * in the pipe, would be picked up with the earlier ones.) */
                NotifyBatch batch = { .n = 0 };

                if (p[1].revents)
                        tdi_notify_receive(d, &batch);
                if (out_open && (p[1].revents || p[2].revents))
                        out_open = tdi_log_drain(d, buf, size);
                /* Every writer is gone: what they sent is queued now. */
                if (!out_open)
                        tdi_notify_receive(d, &batch);
                tdi_notify_publish(d, &batch);
                /* ... so waits may give up now. */
                if (!out_open)
                        tdi_log_close(d);
        }

        free(buf);
        return NULL;
}

/* ---- starting ---- */

/* opts->env followed by the LISTEN_* variables of opts->listen_fds, as
 * one NULL-terminated list (the strings of opts->env are borrowed). */
static int start_env(const TdStartOptions *opts, const char ***ret, char **ret_fds, char **ret_names) {
        _cleanup_free_ const char **env = NULL;
        _cleanup_free_ char *fds = NULL, *names = NULL;
        size_t n = 0, k = 0;

        for (const char *const *e = opts ? opts->env : NULL; e && *e; e++)
                n++;
        env = calloc(n + 4, sizeof(char *));
        if (!env)
                return -ENOMEM;
        for (; k < n; k++)
                env[k] = opts->env[k];
        if (opts && opts->n_listen_fds > 0) {
                if (opts->n_listen_fds > TD_MAX_PASSED_FDS)
                        return -E2BIG;
                if (asprintf(&fds, "LISTEN_FDS=%zu", opts->n_listen_fds) < 0) {
                        fds = NULL;
                        return -ENOMEM;
                }
                env[k++] = fds;
                env[k++] = "LISTEN_PID=@PID@";
                if (opts->listen_names) {
                        size_t len = strlen("LISTEN_FDNAMES=") + 1;

                        for (size_t i = 0; i < opts->n_listen_fds; i++)
                                len += strlen(opts->listen_names[i]) + 1;
                        names = malloc(len);
                        if (!names)
                                return -ENOMEM;
                        strcpy(names, "LISTEN_FDNAMES=");
                        for (size_t i = 0; i < opts->n_listen_fds; i++) {
                                if (i > 0)
                                        strcat(names, ":");
                                strcat(names, opts->listen_names[i]);
                        }
                        env[k++] = names;
                }
        }
        *ret = TAKE_PTR(env);
        *ret_fds = TAKE_PTR(fds);
        *ret_names = TAKE_PTR(names);
        return 0;
}

/* A daemon that runs as another user needs to read its config in the temp
 * dir and to send to the notify socket. */
static int open_up_for(TestDaemon *d) {
        if (chmod(d->dir, 0755) < 0 || chmod(d->config_path, 0644) < 0 || chmod(d->notify_path, 0666) < 0)
                return -errno;
        return 0;
}

int td_start(TestDaemon *d, const TdStartOptions *opts) {
        const char *const default_args[] = { "-c", d->config_path, NULL };
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
        _cleanup_free_ const char **env = NULL;
        _cleanup_free_ char *env_fds = NULL, *env_names = NULL;
        TdiChildSetup setup = { .n_fds = 0 };
        ExecPlan plan;
        int pipefd[2], r;
        pid_t parent = getpid(), pid;

        if (d->started)
                return -EALREADY;

        if (opts) {
                setup = (TdiChildSetup) {
                        .fds = opts->listen_fds,
                        .n_fds = opts->n_listen_fds,
                        .set_user = opts->set_user,
                        .uid = opts->uid,
                        .gid = opts->gid,
                };
                if (opts->set_user) {
                        r = open_up_for(d);
                        if (r < 0)
                                return r;
                }
        }
        r = start_env(opts, &env, &env_fds, &env_names);
        if (r < 0)
                return r;
        r = tdi_exec_plan_build(&plan, d->dir, opts ? opts->binary : NULL, opts && opts->args ? opts->args : default_args,
                                env, opts && opts->no_notify ? NULL : d->notify_path);
        if (r < 0) {
                tdi_exec_plan_done(&plan);
                return r;
        }

        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                r = -errno;
                tdi_exec_plan_done(&plan);
                return r;
        }
        rfd = pipefd[0];
        wfd = pipefd[1];
        (void) fcntl(wfd, F_SETPIPE_SZ, 1 << 20);

        pid = fork();
        if (pid < 0) {
                r = -errno;
                tdi_exec_plan_done(&plan);
                return r;
        }
        if (pid == 0)
                tdi_exec_child(&plan, d->dir, wfd, wfd, parent, &setup);

        /* Same in the parent, so that kill(-pid) works at once. */
        (void) setpgid(pid, pid);
        tdi_exec_plan_done(&plan);

        d->pid = pid;
        d->started = true;
        janitor_tell(d, pid);
        /* The child is not reaped before td_wait_exit() does it, so pid is
         * still this process and cannot have been reused. */
        d->pidfd = tdi_pidfd_open(pid);
        if (d->pidfd < 0)
                return d->pidfd;
        d->out_fd = TAKE_FD(rfd);
        (void) fcntl(d->out_fd, F_SETFL, O_NONBLOCK);

        r = pthread_create(&d->thread, NULL, reader_thread, d);
        if (r != 0)
                return -r;
        d->thread_started = true;
        return 0;
}

int td_kill(TestDaemon *d, int sig) {
        if (!d->started || d->reaped)
                return -ESRCH;
        if (kill(d->pid, sig) < 0)
                return -errno;
        return 0;
}

static int try_reap(TestDaemon *d) {
        int status;
        pid_t p;

        if (d->reaped)
                return 1;
        p = waitpid(d->pid, &status, WNOHANG);
        if (p < 0)
                return -errno;
        if (p == 0)
                return 0;
        d->reaped = true;
        d->exit_code = tdi_status_to_code(status);
        return 1;
}

bool td_running(TestDaemon *d) {
        if (!d->started)
                return false;
        return try_reap(d) == 0;
}

int td_wait_exit(TestDaemon *d, uint64_t timeout, int *ret_code) {
        uint64_t deadline = tdi_deadline(timeout);
        int r;

        if (!d->started)
                return -ESRCH;
        if (!d->reaped) {
                /* The pidfd turns readable when the master exits. */
                r = tdi_wait_fd(d->pidfd, POLLIN, deadline);
                if (r < 0)
                        return r;
                r = try_reap(d);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -EIO; /* readable, yet not reapable: cannot happen */
        }
        if (ret_code)
                *ret_code = d->exit_code;
        return 0;
}

int td_wait_output_closed(TestDaemon *d, uint64_t timeout) {
        uint64_t deadline = tdi_deadline(timeout);
        int r = 0;

        if (!d->started)
                return -ESRCH;
        pthread_mutex_lock(&d->lock);
        while (!d->out_eof)
                if (!tdi_cond_wait_until(&d->cond, &d->lock, deadline)) {
                        r = -ETIMEDOUT;
                        break;
                }
        pthread_mutex_unlock(&d->lock);
        return r;
}

void td_dump(TestDaemon *d) {
        if (!d)
                return;
        pthread_mutex_lock(&d->lock);
        fprintf(stderr, "---- preforkd log (%s, pid %d) ----\n", d->dir, (int) d->pid);
        if (d->log)
                fwrite(d->log, 1, d->log_len, stderr);
        fprintf(stderr, "---- notify messages ----\n");
        for (size_t i = 0; i < d->n_notify; i++)
                fprintf(stderr, "%s\n", d->notify[i].text);
        fprintf(stderr, "---- end ----\n");
        pthread_mutex_unlock(&d->lock);
        fflush(stderr);
}

void td_fail_dump(TestDaemon *d) {
        td_dump(d);
}
