/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "fdstore.h"
#include "listener.h"
#include "log.h"

int listener_key(const ServiceConfig *svc, size_t k, char *buf, size_t size) {
        int r = listen_format(&svc->listen[k], buf, size);
        size_t n;

        if (r < 0 || !listen_is_port_zero(&svc->listen[k]))
                return r;
        n = strlen(buf);
        if (snprintf(buf + n, size - n, "#%s/%zu", svc->name, k) >= (int) (size - n))
                return -ENOBUFS;
        return 0;
}

/* Whether l serves svc->listen[k]: the same canonical address, or a
 * listener that asked for port 0 and got exactly the port now written in
 * the config. The latter lets an operator pin the port a first start
 * picked without the reload failing to bind it a second time. */
static bool listener_matches(const Listener *l, const ServiceConfig *svc, size_t k) {
        char key[256];

        if (l->fd < 0 || listener_key(svc, k, key, sizeof key) < 0)
                return false;
        if (strcmp(l->key, key) == 0)
                return true;
        return !listen_is_port_zero(&svc->listen[k]) && l->bound[0] && strcmp(l->bound, key) == 0;
}

static int listener_set_find(const ListenerSet *set, const ServiceConfig *svc, size_t k) {
        for (size_t i = 0; i < set->n_listeners; i++)
                if (listener_matches(&set->listeners[i], svc, k))
                        return (int) i;
        return -ENOENT;
}

/* Closes l (unless systemd passed it: kept until exit). With forget, a
 * stored listener leaves the store too; without, a stored unix socket's
 * file stays, since the store keeps the socket for the next start. */
static void listener_close(ListenerSet *set, Listener *l, bool forget) {
        char name[FDSTORE_NAME_MAX + 1];

        if (l->from_systemd)
                return;
        if (l->stored && forget && set->store && fdstore_name(l->key, name, sizeof name) >= 0)
                (void) set->store(set->store_userdata, l->fd, name, true);
        l->fd = safe_close(l->fd);
        if (!l->stored || forget)
                listen_unlink(&l->addr);
}

/* A listener that systemd's fd store kept for this very key, from before a
 * restart: the index of the passed socket, or -ENOENT. */
static int listener_find_stored(const ListenerSet *set, const char *key) {
        char name[FDSTORE_NAME_MAX + 1];
        int i;

        if (fdstore_name(key, name, sizeof name) < 0)
                return -ENOENT;
        i = systemd_sockets_find(&set->systemd, name);
        return i >= 0 && !set->systemd.used[i] ? i : -ENOENT;
}

int listener_set_adopt(ListenerSet *set, const char *key, const char *bound, const char *address, int fd,
                       bool from_systemd, bool stored) {
        Listener l = { .fd = fd, .from_systemd = from_systemd, .stored = stored };
        const char *why = NULL;
        Listener *n;
        int r;

        assert(key);
        assert(address);
        assert(fd >= 0);

        if (strlen(key) >= sizeof l.key || (bound && strlen(bound) >= sizeof l.bound))
                return -ENAMETOOLONG;
        r = listen_parse(address, &l.addr, &why);
        if (r < 0)
                return r;
        strcpy(l.key, key);
        if (bound)
                strcpy(l.bound, bound);
        n = realloc(set->listeners, (set->n_listeners + 1) * sizeof(Listener));
        if (!n)
                return -ENOMEM;
        set->listeners = n;
        set->listeners[set->n_listeners++] = l;
        return 0;
}

int listener_set_adopt_systemd(ListenerSet *set) {
        return listen_adopt_systemd(&set->systemd);
}

int listener_set_check_systemd_names(const ListenerSet *set, const Config *c) {
        int r = 0;

        for (size_t i = 0; i < c->n_services; i++)
                for (size_t k = 0; k < c->services[i].n_listen; k++) {
                        const ListenAddress *a = &c->services[i].listen[k];
                        if (a->type != LISTEN_SYSTEMD || systemd_sockets_find(&set->systemd, a->name) >= 0)
                                continue;
                        log_error("%s:%u: services.[%zu].listen: systemd socket \"%s\" was not passed by systemd "
                                  "(FileDescriptorName=%s in the .socket unit)",
                                  c->path, c->services[i].listen_line[k], i, a->name, a->name);
                        r = -ENOENT;
                }
        return r;
}

/* A passed socket becomes non-blocking when a listener first takes it. No
 * worker holds it yet (workers keep only their own service's listeners),
 * so no running accept loop sees its flags change. */
static int listener_take_passed(ListenerSet *set, int i, Listener *l) {
        int fl = fcntl(set->systemd.fds[i], F_GETFL);

        if (fl < 0 || fcntl(set->systemd.fds[i], F_SETFL, fl | O_NONBLOCK) < 0)
                return negative_errno();
        l->fd = set->systemd.fds[i];
        /* One from the fd store is the master's own again: the listener
         * owns the fd from now on. */
        l->stored = fdstore_is_name(set->systemd.names ? set->systemd.names[i] : NULL);
        l->from_systemd = !l->stored;
        if (l->stored)
                set->systemd.fds[i] = -EBADF;
        set->systemd.used[i] = true;
        return 0;
}

/* A listener the master bound itself goes to the fd store. */
static void listener_store(ListenerSet *set, Listener *l) {
        char name[FDSTORE_NAME_MAX + 1];

        if (l->from_systemd || l->stored || !set->store)
                return;
        if (fdstore_name(l->key, name, sizeof name) < 0) {
                log_debug("Listener %s has a name too long for the fd store; not storing it", l->key);
                return;
        }
        l->stored = set->store(set->store_userdata, l->fd, name, false) >= 0;
}

static int listener_set_add(ListenerSet *set, const ServiceConfig *svc, const ListenAddress *a, const char *key) {
        Listener l = { .addr = *a, .fd = -EBADF };
        char shown[256];
        Listener *n;
        int r;

        (void) snprintf(l.key, sizeof l.key, "%s", key);
        if (a->type == LISTEN_SYSTEMD) {
                int i = systemd_sockets_find(&set->systemd, a->name);
                if (i < 0)
                        return log_error_errno(ENOENT, "Socket systemd:%s was not passed by systemd", a->name);
                r = listener_take_passed(set, i, &l);
        } else if ((r = listener_find_stored(set, key)) >= 0)
                /* Kept for us in systemd's fd store over a restart. */
                r = listener_take_passed(set, r, &l);
        else if ((r = systemd_sockets_match(&set->systemd, a)) >= 0)
                /* systemd already holds a socket on this very address: use
                 * it rather than fail to bind, so one config file serves in
                 * the foreground and under preforkd.socket alike. */
                r = listener_take_passed(set, r, &l);
        else {
                r = listen_open(a, svc->backlog, svc->defer_accept, &l.fd);
                if (r == -EEXIST)
                        return log_error_errno(r, "Failed to listen on %s (service %s): a file that is not a socket "
                                                  "is in the way",
                                               key, svc->name);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to listen on %s (service %s): %s", key, svc->name, STRERROR(r));

        n = realloc(set->listeners, (set->n_listeners + 1) * sizeof(Listener));
        if (!n) {
                listener_close(set, &l, false);
                return log_error_errno(ENOMEM, "Failed to listen on %s: %s", key, STRERROR(ENOMEM));
        }
        if (listen_format_fd(l.fd, shown, sizeof shown) < 0)
                (void) snprintf(shown, sizeof shown, "%s", key);
        else
                (void) snprintf(l.bound, sizeof l.bound, "%s", shown);
        if (l.from_systemd)
                log_info("Listening on %s (service %s, socket passed by systemd as %s)", shown, svc->name, key);
        else if (l.stored)
                log_info("Listening on %s (service %s), kept in systemd's fd store", shown, svc->name);
        else
                log_info("Listening on %s (service %s)", shown, svc->name);
        listener_store(set, &l);
        set->listeners = n;
        set->listeners[set->n_listeners++] = l;
        return 0;
}

int listener_set_open(ListenerSet *set, const Config *c) {
        int r;

        for (size_t i = 0; i < c->n_services; i++) {
                const ServiceConfig *svc = &c->services[i];
                for (size_t k = 0; k < svc->n_listen; k++) {
                        char key[256];

                        r = listener_key(svc, k, key, sizeof key);
                        if (r < 0)
                                return log_error_errno(r, "Cannot format listen address: %s", STRERROR(r));
                        if (listener_set_find(set, svc, k) >= 0)
                                continue;
                        r = listener_set_add(set, svc, &svc->listen[k], key);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

void listen_fds_free(int **fds, size_t n) {
        for (size_t i = 0; fds && i < n; i++)
                free(fds[i]);
        free(fds);
}

int listener_set_fds(const ListenerSet *set, const Config *c, int ***ret) {
        int **fds;

        assert(ret);

        fds = calloc(c->n_services, sizeof(int *));
        if (!fds)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_services; i++) {
                fds[i] = calloc(c->services[i].n_listen, sizeof(int));
                if (!fds[i]) {
                        listen_fds_free(fds, c->n_services);
                        return -ENOMEM;
                }
                for (size_t k = 0; k < c->services[i].n_listen; k++) {
                        int l = listener_set_find(set, &c->services[i], k);
                        if (l < 0) {
                                listen_fds_free(fds, c->n_services);
                                return l;
                        }
                        fds[i][k] = set->listeners[l].fd;
                }
        }
        *ret = fds;
        return 0;
}

static bool config_uses(const Config *c, const Listener *l) {
        for (size_t i = 0; c && i < c->n_services; i++)
                for (size_t k = 0; k < c->services[i].n_listen; k++)
                        if (listener_matches(l, &c->services[i], k))
                                return true;
        return false;
}

/* Retiring workers keep their own copies of a closed listener until they
 * exit; the master's copy goes now, so that a removed address stops taking
 * connections as soon as the last worker holding it leaves. */
void listener_set_prune(ListenerSet *set, const Config *const *configs, size_t n, bool quiet) {
        size_t j = 0;

        for (size_t i = 0; i < set->n_listeners; i++) {
                Listener *l = &set->listeners[i];
                bool used = l->from_systemd;

                for (size_t c = 0; c < n && !used; c++)
                        used = config_uses(configs[c], l);
                if (used) {
                        set->listeners[j++] = *l;
                        continue;
                }
                if (!quiet)
                        log_info("Closing listener %s", l->bound[0] ? l->bound : l->key);
                listener_close(set, l, !quiet);
        }
        set->n_listeners = j;
}

void listener_set_warn_unused_systemd(ListenerSet *set) {
        for (size_t i = 0; i < set->systemd.n; i++) {
                const char *name = set->systemd.names && set->systemd.names[i] ? set->systemd.names[i] : "?";

                if (set->systemd.used[i])
                        continue;
                if (!fdstore_is_name(name)) {
                        log_warning("Socket \"%s\" passed by systemd (fd %d) is not used by any service", name,
                                    set->systemd.fds[i]);
                        continue;
                }
                /* A listener from before a restart that the configuration
                 * no longer has: closed, and out of the store. */
                log_info("Closing listener %s kept in systemd's fd store: no service uses it",
                         name + strlen(FDSTORE_PREFIX));
                if (set->store)
                        (void) set->store(set->store_userdata, set->systemd.fds[i], name, true);
                set->systemd.fds[i] = safe_close(set->systemd.fds[i]);
                set->systemd.used[i] = true;
        }
}

void listener_set_done(ListenerSet *set) {
        for (size_t i = 0; i < set->n_listeners; i++)
                listener_close(set, &set->listeners[i], false);
        free(set->listeners);
        set->listeners = NULL;
        set->n_listeners = 0;
        for (size_t i = 0; i < set->systemd.n; i++)
                safe_close(set->systemd.fds[i]);
        systemd_sockets_done(&set->systemd);
}
