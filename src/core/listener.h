/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "listen.h"

/* One open listening socket, matched across reloads by its key. */
typedef struct Listener {
        char key[256];                /* listener_key(), stable across reloads */
        char bound[256];              /* the address it is bound to, as listen_format() writes it */
        ListenAddress addr;
        int fd;
        bool from_systemd;            /* never closed before exit, never unlinked */
        bool stored;                  /* also in systemd's fd store (fdstore.h) */
} Listener;

/* Hands a listener to systemd's fd store (remove false) or takes it out
 * again (fdstore.h): fd and its store name. Returns 0 when the message is
 * on its way. */
typedef int (*listener_store_fn)(void *userdata, int fd, const char *name, bool remove);

/* The master's open listeners and the sockets systemd passed. A listener
 * is shared by address, not by service: a reload may move an address from
 * one service to another without closing it, so the set is keyed by the
 * canonical address and each generation takes the fds its services name.
 * With store set, every listener the master binds itself goes to
 * systemd's fd store, and one that comes back from it is taken by name. */
typedef struct ListenerSet {
        Listener *listeners;
        size_t n_listeners;
        SystemdSockets systemd;
        listener_store_fn store;
        void *store_userdata;
} ListenerSet;

/* The canonical address of svc->listen[k]; port 0 also names the service
 * and position, since every such entry is a socket of its own. */
int listener_key(const ServiceConfig *svc, size_t k, char *buf, size_t size);

/* Takes an open listener over from an earlier process image of the
 * master (state.h): its key, the address it is bound to and its
 * canonical address as the state names them. */
int listener_set_adopt(ListenerSet *set, const char *key, const char *bound, const char *address, int fd,
                       bool from_systemd, bool stored);
/* Takes the sockets systemd passed. */
int listener_set_adopt_systemd(ListenerSet *set);
/* Checks that every "systemd:NAME" of c was passed; logs each one that was
 * not. Opens nothing, so a refused config changes nothing. */
int listener_set_check_systemd_names(const ListenerSet *set, const Config *c);
/* Makes sure every address of c has a listener: those already open are
 * reused (their queues carry over a reload untouched), new ones opened.
 * On failure the new ones stay until the next listener_set_prune(). */
int listener_set_open(ListenerSet *set, const Config *c);
/* ret[i][k]: the fd of c->services[i].listen[k]; free with listen_fds_free(). */
int listener_set_fds(const ListenerSet *set, const Config *c, int ***ret);
void listen_fds_free(int **fds, size_t n);
/* Closes every listener that none of the n configs uses (NULLs are
 * skipped); passed sockets are kept for a later reload. A stop (quiet)
 * leaves the fd store alone and a stored unix socket's file in place, so
 * that the next start takes them over; a reload takes what it closes out
 * of the store. */
void listener_set_prune(ListenerSet *set, const Config *const *configs, size_t n, bool quiet);
/* Warns about passed sockets no listener took; those from the fd store
 * that no listener took are closed and taken out of the store. */
void listener_set_warn_unused_systemd(ListenerSet *set);
/* Closes everything (passed sockets too: at exit). */
void listener_set_done(ListenerSet *set);
