/* SPDX-License-Identifier: MIT */
/* Why a thread and not a helper child: config_load() builds a Config full
 * of pointers (services, listen addresses, the http handler's tables). A
 * child would have to serialize all of it back to the master through a pipe,
 * a second format for every setting that would have to be kept in step with
 * the parser. A thread shares the address space, so the Config it builds is
 * handed over as it is, and the loop gets it through an eventfd.
 *
 * Why fork() in the master stays safe while the thread runs: fork() copies
 * only the calling thread, and every lock the loader thread holds at that
 * moment stays locked forever in the child. glibc makes malloc and stdio safe
 * across fork(), but not the internals of NSS and the resolver: a worker
 * forked while the thread is inside getaddrinfo() or getpwnam_r() would
 * deadlock on its first NSS call. So a forked worker must never call into
 * NSS: config_load() computes everything a worker needs from NSS up front
 * (uid, gid and the supplementary groups for setgroups(), instead of
 * initgroups() in the worker), and the thread runs nothing but config_load(),
 * which logs nothing and touches no state of the loop.
 *
 * A load cannot be interrupted (getaddrinfo() has no cancellation point that
 * would leave its locks in order), so cancelling only detaches: the thread
 * and the loader share the job by reference count, and whichever lets go
 * last frees it together with a result nobody took. */
#include <assert.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "config-loader.h"

typedef struct LoadJob {
        atomic_uint n_ref;
        int event_fd;           /* the thread writes 1 once the result is set */
        char *path;
        /* Written by the thread before it sets done (release), read by the
         * loop only after it saw done (acquire). */
        atomic_bool done;
        int r;
        Config *config;
        char **errors;
} LoadJob;

struct ConfigLoader {
        LoadJob *job;
        sd_event_source *source;
        config_loaded_fn callback;
        void *userdata;
};

static LoadJob *load_job_unref(LoadJob *j) {
        if (!j)
                return NULL;
        /* acq_rel: the last one to let go sees every write the other one
         * made before letting go (a result taken, or one stored). */
        if (atomic_fetch_sub_explicit(&j->n_ref, 1, memory_order_acq_rel) > 1)
                return NULL;
        config_free(j->config);
        strv_free(j->errors);
        free(j->path);
        safe_close(j->event_fd);
        free(j);
        return NULL;
}

static void *load_thread(void *userdata) {
        LoadJob *j = userdata;
        const uint64_t one = 1;
        ssize_t k;

        j->r = config_load(j->path, &j->config, &j->errors);
        atomic_store_explicit(&j->done, true, memory_order_release);
        /* Cannot fail: the counter is written once, so it never overflows,
         * and every signal is blocked in this thread, so no EINTR. */
        k = write(j->event_fd, &one, sizeof one);
        assert(k == (ssize_t) sizeof one);
        (void) k;
        load_job_unref(j);
        return NULL;
}

static int loader_on_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ConfigLoader *l = userdata;
        LoadJob *j = l->job;
        uint64_t n;
        Config *config;
        char **errors;
        int r;

        if (read(fd, &n, sizeof n) != (ssize_t) sizeof n ||
            !atomic_load_explicit(&j->done, memory_order_acquire))
                return 0;
        /* One result, one callback. */
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        r = j->r;
        config = TAKE_PTR(j->config);
        errors = TAKE_PTR(j->errors);
        assert(r < 0 || config);
        /* The callback may free l: nothing touches it afterwards. */
        l->callback(l, r < 0 ? r : 0, config, errors, l->userdata);
        return 0;
}

int config_loader_start(sd_event *e, const char *path, config_loaded_fn cb, void *userdata, ConfigLoader **ret) {
        _cleanup_(config_loader_freep) ConfigLoader *l = NULL;
        pthread_attr_t attr;
        sigset_t all, saved;
        pthread_t thread;
        int r;

        assert(e);
        assert(path);
        assert(cb);
        assert(ret);

        l = calloc(1, sizeof(ConfigLoader));
        if (!l)
                return -ENOMEM;
        l->callback = cb;
        l->userdata = userdata;
        l->job = calloc(1, sizeof(LoadJob));
        if (!l->job)
                return -ENOMEM;
        atomic_init(&l->job->n_ref, 1);
        atomic_init(&l->job->done, false);
        l->job->event_fd = -EBADF;
        l->job->path = strdup(path);
        if (!l->job->path)
                return -ENOMEM;
        l->job->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (l->job->event_fd < 0)
                return negative_errno();
        r = sd_event_add_io(e, &l->source, l->job->event_fd, EPOLLIN, loader_on_event, l);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(l->source, "config-loader");

        r = -pthread_attr_init(&attr);
        if (r < 0)
                return r;
        r = -pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (r < 0) {
                (void) pthread_attr_destroy(&attr);
                return r;
        }
        /* Signals must keep going to the master's signalfd: a signal that
         * is not blocked in every thread may be delivered to this one and
         * then never reaches the loop. A new thread inherits the mask of
         * its creator, so blocking everything around pthread_create()
         * covers the thread from its first instruction on. */
        sigfillset(&all);
        (void) pthread_sigmask(SIG_SETMASK, &all, &saved);
        /* The thread's reference, taken before it can run and drop it. */
        atomic_store(&l->job->n_ref, 2);
        r = -pthread_create(&thread, &attr, load_thread, l->job);
        if (r < 0)
                atomic_store(&l->job->n_ref, 1);
        (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);
        (void) pthread_attr_destroy(&attr);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(l);
        return 0;
}

ConfigLoader *config_loader_free(ConfigLoader *l) {
        if (!l)
                return NULL;
        /* Out of the event loop before the job (and with it the eventfd)
         * may be freed. */
        l->source = sd_event_source_disable_unref(l->source);
        load_job_unref(l->job);
        free(l);
        return NULL;
}
