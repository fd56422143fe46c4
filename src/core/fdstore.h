/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Listening sockets kept in systemd's file descriptor store
 * (FileDescriptorStoreMax= in the unit), so that a plain `systemctl
 * restart` refuses no connection even without socket units: the master
 * hands every listener it bound itself to the service manager with
 * FDSTORE=1 and an FDNAME= made from the listener's canonical address;
 * systemd holds a copy through the restart, where the kernel queues what
 * arrives, and passes it back with the other sockets (LISTEN_FDS,
 * LISTEN_FDNAMES); the next master takes the one its name says for the
 * address, instead of binding anew. A reload that drops a listener drops
 * it from the store too (FDSTOREREMOVE=1); a stop does not, which is what
 * keeps it across the restart.
 *
 * A name is FDSTORE_PREFIX and the listener's key (listener.h) with '%',
 * ':' (the separator of LISTEN_FDNAMES) and every byte outside '!'..'~'
 * written as %XX; at most 255 bytes, as systemd allows. */

#define FDSTORE_PREFIX "preforkd-listen."
#define FDSTORE_NAME_MAX 255

/* Whether to store listeners: $FDSTORE is a number above 0. systemd 254
 * and later set it from FileDescriptorStoreMax= (unset when 0); for older
 * ones the unit sets it along with FileDescriptorStoreMax= (the shipped
 * preforkd.service does). Without it nothing is stored: a manager that
 * stores nothing would log a warning for every listener, and a stored
 * unix socket's file is left in place at a stop. */
bool fdstore_enabled(void);

/* The store name of the listener with key; -ENAMETOOLONG past
 * FDSTORE_NAME_MAX (such a listener is not stored). */
int fdstore_name(const char *key, char *buf, size_t size);
/* Whether a passed socket's name is one of the store's. */
bool fdstore_is_name(const char *name);
