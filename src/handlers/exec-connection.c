/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>

#include "exec-child.h"
#include "exec-config.h"
#include "exec-connection.h"
#include "exec-env.h"
#include "log.h"
#include "worker.h"

/* The numeric host and port of an IPv4 or IPv6 address (an IPv4-mapped
 * IPv6 one as IPv4, as ucspi-tcp's programs expect). 0 or -EAFNOSUPPORT. */
static int sockaddr_host_port(const struct sockaddr *sa, char *host, size_t size, unsigned *ret_port) {
        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
                (void) inet_ntop(AF_INET, &in->sin_addr, host, (socklen_t) size);
                *ret_port = ntohs(in->sin_port);
                return 0;
        }
        if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
                if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
                        (void) inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, (socklen_t) size);
                else
                        (void) inet_ntop(AF_INET6, &in6->sin6_addr, host, (socklen_t) size);
                *ret_port = ntohs(in6->sin6_port);
                return 0;
        }
        return -EAFNOSUPPORT;
}

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

/* The connection's variables, under ucspi-tcp's names (TCPREMOTEIP, ...)
 * and the CGI-like ones (REMOTE_ADDR, ...), and which worker runs it. */
static char **connection_variables(const WorkerSpawn *sp, const Conn *c) {
        size_t max = 16, n = 0;
        char **l = calloc(max + 1, sizeof(char *));
        struct sockaddr_storage local;
        socklen_t local_len = sizeof local;
        char host[INET6_ADDRSTRLEN];
        unsigned port;

        if (!l)
                return NULL;
        if (c->peer && sockaddr_host_port(c->peer, host, sizeof host, &port) >= 0) {
                env_add(l, &n, max, "PROTO=TCP");
                env_add(l, &n, max, "REMOTE_ADDR=%s", host);
                env_add(l, &n, max, "REMOTE_PORT=%u", port);
                env_add(l, &n, max, "TCPREMOTEIP=%s", host);
                env_add(l, &n, max, "TCPREMOTEPORT=%u", port);
        } else
                env_add(l, &n, max, "PROTO=UNIX");
        if (getsockname(c->fd, (struct sockaddr *) &local, &local_len) >= 0 &&
            sockaddr_host_port((const struct sockaddr *) &local, host, sizeof host, &port) >= 0) {
                env_add(l, &n, max, "LOCAL_ADDR=%s", host);
                env_add(l, &n, max, "LOCAL_PORT=%u", port);
                env_add(l, &n, max, "TCPLOCALIP=%s", host);
                env_add(l, &n, max, "TCPLOCALPORT=%u", port);
        }
        env_add(l, &n, max, "PREFORKD_SERVICE=%s", sp->svc->name);
        env_add(l, &n, max, "PREFORKD_SLOT=%u", sp->slot);
        env_add(l, &n, max, "PREFORKD_GENERATION=%u", sp->generation);
        return l;
}

/* The child: the connection as stdin and stdout, in blocking mode (a
 * program like cat expects it; the accepted socket's open file is this
 * connection's alone, so no one else sees the change). */
static _noreturn_ void connection_child(const WorkerSpawn *sp, const ExecConfig *ec, const Conn *c, char **env,
                                        const char *label) {
        int fds[3];
        int flags, r;

        if (chdir(ec->working_directory) < 0)
                fatal(EX_OSERR, "%s: cannot change to working_directory %s: %s", label, ec->working_directory,
                      STRERROR(errno));
        flags = fcntl(c->fd, F_GETFL);
        if (flags < 0 || fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
                fatal(EX_OSERR, "%s: cannot make the connection blocking: %s", label, STRERROR(errno));
        fds[0] = fds[1] = c->fd;
        fds[2] = ec->output[1] == WORKER_OUTPUT_JOURNAL ? sp->output_fds[1]
                 : ec->output[1] == WORKER_OUTPUT_INHERIT ? STDERR_FILENO
                                                          : -EBADF;
        r = exec_child_place_fds(fds, ELEMENTSOF(fds));
        if (r < 0)
                fatal(EX_OSERR, "%s: cannot pass the connection: %s", label, STRERROR(r));
        exec_child_reset();
        exec_child_execve(ec, env, label);
}

/* Waits for the program without blocking a stop request: SIGTERM is
 * taken while waiting (worker_wait()), so the worker lets go of the
 * listeners at once; the program's connection is finished all the same. */
static int connection_wait(pid_t pid, int *ret_status) {
        _cleanup_close_ int pidfd = pidfd_open(pid, 0);

        for (;;) {
                if (pidfd >= 0) {
                        int r = worker_wait(pidfd, POLLIN, UINT64_MAX, false);
                        if (r < 0 && r != -EINTR)
                                pidfd = safe_close(pidfd);
                }
                if (waitpid(pid, ret_status, pidfd >= 0 ? WNOHANG : 0) == pid)
                        return 0;
                if (errno == ECHILD)
                        return -ECHILD;
        }
}

int exec_connection_serve(const ServiceConfig *svc, const Conn *c) {
        const WorkerSpawn *sp = worker_get_spawn();
        const ExecConfig *ec = svc->handler_config;
        _cleanup_strv_free_ char **conn = NULL, **env = NULL;
        char label[128];
        int status, r;
        pid_t pid;

        assert(sp);
        (void) snprintf(label, sizeof label, "%s[slot %u]", svc->name, sp->slot);
        conn = connection_variables(sp, c);
        if (!conn)
                return log_error_errno(ENOMEM, "%s: out of memory", label);
        r = exec_env_build(environ, ec->output[1] == WORKER_OUTPUT_INHERIT,
                           (char *const *const[]) { ec->environment, conn }, 2, &env);
        if (r < 0)
                return log_error_errno(r, "%s: cannot build the environment: %s", label, STRERROR(r));

        pid = fork();
        if (pid < 0) {
                atomic_fetch_add_explicit(&sp->service_score->program_failures, 1, memory_order_relaxed);
                return log_error_errno(errno, "%s: cannot start %s for a connection: %s", label, ec->path,
                                       STRERROR(errno));
        }
        if (pid == 0)
                connection_child(sp, ec, c, env, label);

        r = connection_wait(pid, &status);
        if (r < 0)
                return log_error_errno(r, "%s: lost program %d: %s", label, (int) pid, STRERROR(r));
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                log_debug("%s: program %d exited with status 0", label, (int) pid);
                return 0;
        }
        atomic_fetch_add_explicit(&sp->service_score->program_failures, 1, memory_order_relaxed);
        if (WIFEXITED(status))
                log_debug("%s: program %d exited with status %d", label, (int) pid, WEXITSTATUS(status));
        else
                log_debug("%s: program %d killed by signal %s", label, (int) pid,
                          sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
        return 0;
}
