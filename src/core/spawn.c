/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <sysexits.h>

#include "fd-util.h"
#include "frontstage.h"
#include "log.h"
#include "spawn.h"
#include "worker.h"

/* stdio, the readiness socket, the park channel, the output pipes and the
 * listeners. */
#define KEEP_MAX 64

int spawn_worker(const WorkerSpawn *sp, pid_t *ret_pid) {
        int keep[KEEP_MAX];
        size_t n = 0;
        pid_t pid;

        assert(sp);
        assert(ret_pid);

        /* Built before the fork, so that a failure is the master's to
         * report; the child only acts on it. */
        if (sp->n_listen_fds + 7 > KEEP_MAX)
                return -E2BIG;
        keep[n++] = STDIN_FILENO;
        keep[n++] = STDOUT_FILENO;
        keep[n++] = STDERR_FILENO;
        keep[n++] = sp->ready_fd;
        keep[n++] = sp->park_fd;
        keep[n++] = sp->output_fds[0];
        keep[n++] = sp->output_fds[1];
        for (size_t i = 0; i < sp->n_listen_fds; i++)
                keep[n++] = sp->listen_fds[i];

        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid > 0 && !sp->front_stage && sp->svc->policy.own_process_group)
                (void) setpgid(pid, pid);
        if (pid == 0) {
                int r;

                /* Before anything can go wrong: the master signals the
                 * group as soon as fork() returned, and calls setpgid() on
                 * its side too, so whichever runs first makes it. */
                if (!sp->front_stage && sp->svc->policy.own_process_group)
                        (void) setpgid(0, 0);
                r = close_all_fds_except(keep, n);
                /* The journal socket, if the master had one, is gone now. */
                log_forget_fds();
                if (r < 0)
                        fatal(EX_OSERR, "%s[slot %u]: cannot close inherited file descriptors: %s", sp->svc->name,
                              sp->slot, STRERROR(r));
                if (sp->front_stage)
                        frontstage_main(sp);
                worker_main(sp);
        }
        *ret_pid = pid;
        return 0;
}
