/* SPDX-License-Identifier: MIT */
/* Handler "exec": any program as the service's workers. In pool mode each
 * worker becomes the program, started with the service's listening
 * sockets the way systemd's socket activation passes them
 * (sd_listen_fds(3)) and the variables einhorn and Server::Starter
 * programs look for; in connection mode each worker accepts and runs the
 * program once per connection with the socket as its stdin and stdout,
 * like inetd. How the core supervises these workers (readiness, watchdog,
 * stop signal, output) is their WorkerPolicy (exec_config_policy()). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "exec-child.h"
#include "exec-config.h"
#include "exec-connection.h"
#include "exec-env.h"
#include "exec-guard.h"
#include "handler.h"
#include "listen.h"
#include "log.h"
#include "readiness.h"
#include "worker.h"

/* Appends "NAME=value" (formatted) to l (n entries, room for max). */
static void env_add(char **l, size_t *n, size_t max, const char *fmt, ...) _printf_(4, 5);
static void env_add(char **l, size_t *n, size_t max, const char *fmt, ...) {
        va_list ap;
        char *e;

        if (*n >= max)
                return;
        va_start(ap, fmt);
        if (vasprintf(&e, fmt, ap) < 0)
                e = NULL;
        va_end(ap);
        if (e)
                l[(*n)++] = e;
}

/* What sd_listen_fds() and friends expect, and where the program reports. */
static char **exec_pool_variables(const WorkerSpawn *sp, pid_t pid) {
        const ServiceConfig *svc = sp->svc;
        size_t max = 16, n = 0, k = 0;
        char **l = calloc(max + 1, sizeof(char *));
        char names[4096] = "", fds[512] = "", ports[4096] = "";

        if (!l)
                return NULL;
        for (size_t i = 0; i < sp->n_listen_fds; i++) {
                char addr[256];
                const char *a = addr;

                k = strlen(names);
                (void) snprintf(names + k, sizeof names - k, "%s%s", i ? ":" : "",
                                svc->listen[i].type == LISTEN_SYSTEMD ? svc->listen[i].name : svc->name);
                k = strlen(fds);
                (void) snprintf(fds + k, sizeof fds - k, "%s%zu", i ? " " : "", 3 + i);
                /* Server::Starter's form: ADDRESS=FD, a unix socket as its path. */
                if (listen_format_fd(sp->listen_fds[i], addr, sizeof addr) < 0)
                        continue;
                if (strncmp(a, "unix:", 5) == 0)
                        a += 5;
                k = strlen(ports);
                (void) snprintf(ports + k, sizeof ports - k, "%s%s=%zu", k ? ";" : "", a, 3 + i);
        }
        env_add(l, &n, max, "LISTEN_FDS=%zu", sp->n_listen_fds);
        env_add(l, &n, max, "LISTEN_PID=%d", (int) pid);
        env_add(l, &n, max, "LISTEN_FDNAMES=%s", names);
        env_add(l, &n, max, "EINHORN_FDS=%s", fds);
        env_add(l, &n, max, "EINHORN_FD_COUNT=%zu", sp->n_listen_fds);
        env_add(l, &n, max, "SERVER_STARTER_PORT=%s", ports);
        env_add(l, &n, max, "PREFORKD_SERVICE=%s", svc->name);
        env_add(l, &n, max, "PREFORKD_SLOT=%u", sp->slot);
        env_add(l, &n, max, "PREFORKD_GENERATION=%u", sp->generation);
        if (sp->notify_socket)
                env_add(l, &n, max, "NOTIFY_SOCKET=%s", sp->notify_socket);
        if (svc->policy.watchdog_usec > 0) {
                env_add(l, &n, max, "WATCHDOG_USEC=%" PRIu64, svc->policy.watchdog_usec);
                env_add(l, &n, max, "WATCHDOG_PID=%d", (int) pid);
        }
        return l;
}

/* A pool worker becomes the program. Runs in the child after
 * worker_prepare() dropped privileges and set no_new_privs; setpgid()
 * happened at the fork. Every failure ends the child with a logged
 * reason, which the master counts as a failed start. */
static _noreturn_ void exec_pool_main(const WorkerSpawn *sp) {
        const ExecConfig *c = sp->svc->handler_config;
        _cleanup_strv_free_ char **ours = NULL, **env = NULL;
        int fds[3 + 61];
        size_t n = 3 + sp->n_listen_fds;
        char label[128];
        int r;

        (void) snprintf(label, sizeof label, "%s[slot %u]", sp->svc->name, sp->slot);
        if (n > ELEMENTSOF(fds))
                fatal(EX_CONFIG, "%s: too many listeners to pass", label);
        ours = exec_pool_variables(sp, getpid());
        if (!ours)
                fatal(EX_OSERR, "%s: out of memory", label);
        r = exec_env_build(environ, c->output[0] == WORKER_OUTPUT_INHERIT && c->output[1] == WORKER_OUTPUT_INHERIT,
                           (char *const *const[]) { c->environment, ours }, 2, &env);
        if (r < 0)
                fatal(EX_OSERR, "%s: cannot build the environment: %s", label, STRERROR(r));
        if (chdir(c->working_directory) < 0)
                fatal(EX_OSERR, "%s: cannot change to working_directory %s: %s", label, c->working_directory,
                      STRERROR(errno));

        /* Before the readiness report: a program that is ready has its
         * guard. Without one (no fork left, say) the program still runs,
         * as it did before guards existed, and the operator is told. */
        r = exec_guard_start(sp->master_pid, c->stop_signal, sp->config->shutdown_timeout_usec + USEC_PER_SEC);
        if (r < 0)
                log_warning_errno(r, "%s: cannot start the guard that stops the program should the master die: %s",
                                  label, STRERROR(r));

        /* "immediate": ready as it executes. The report goes before the
         * fds move, while the readiness socket is still open; an exec that
         * fails after it is a worker that died at once, a quick crash. */
        if (c->ready == WORKER_READY_IMMEDIATE) {
                r = readiness_send(sp->ready_fd, sp->generation, sp->slot);
                if (r < 0)
                        log_warning_errno(r, "%s: cannot report readiness: %s", label, STRERROR(r));
        }

        fds[0] = -EBADF;
        for (size_t i = 0; i < 2; i++)
                fds[1 + i] = c->output[i] == WORKER_OUTPUT_JOURNAL   ? sp->output_fds[i]
                             : c->output[i] == WORKER_OUTPUT_INHERIT ? (int) (1 + i)
                                                                     : -EBADF;
        for (size_t i = 0; i < sp->n_listen_fds; i++)
                fds[3 + i] = sp->listen_fds[i];
        r = exec_child_place_fds(fds, n);
        if (r < 0)
                fatal(EX_OSERR, "%s: cannot pass the file descriptors: %s", label, STRERROR(r));
        exec_child_reset();
        exec_child_execve(c, env, label);
}

static int exec_config_parse_group(ConfigParser *p, const config_setting_t *service, const config_setting_t *group,
                                   void **ret) {
        ExecConfig *c = NULL;
        int r = exec_config_parse(p, service, group, &c);

        if (r < 0)
                return r;
        *ret = c;
        return 0;
}

static void exec_config_free_group(void *c) {
        exec_config_free(c);
}

static void exec_worker_policy(const void *c, WorkerPolicy *policy) {
        exec_config_policy(c, policy);
}

/* One entry point for both modes: a pool worker never reaches the accept
 * loop, a connection worker goes on to it. */
static void exec_worker_main(const WorkerSpawn *sp) {
        const ExecConfig *c = sp->svc->handler_config;

        if (c->mode == EXEC_MODE_POOL)
                exec_pool_main(sp);
}

const HandlerVTable handler_exec = {
        .name = "exec",
        .config_group = "exec",
        .uses_idle_timeout = false,
        .idle_timeout_hint = "the program times its own connections",
        .config_parse = exec_config_parse_group,
        .config_free = exec_config_free_group,
        .worker_policy = exec_worker_policy,
        .worker_main = exec_worker_main,
        .serve = exec_connection_serve,
};
