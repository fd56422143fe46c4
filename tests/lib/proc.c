/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon-internal.h"
#include "proc.h"

static int cmp_pid(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;

        return (x > y) - (x < y);
}

/* Reads state, ppid and process group from /proc/PID/stat. */
static int proc_stat(pid_t pid, char *ret_state, pid_t *ret_ppid, pid_t *ret_pgrp) {
        char path[64], buf[1024], *p;
        _cleanup_close_ int fd = -EBADF;
        ssize_t k;
        char state;
        int ppid, pgrp;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        k = read(fd, buf, sizeof(buf) - 1);
        if (k < 0)
                return -errno;
        buf[k] = 0;
        /* The command name in parentheses may hold anything, spaces and
         * parentheses too: the fields that follow start after the last ')'. */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) != 3)
                return -EBADMSG;
        if (ret_state)
                *ret_state = state;
        if (ret_ppid)
                *ret_ppid = (pid_t) ppid;
        if (ret_pgrp)
                *ret_pgrp = (pid_t) pgrp;
        return 0;
}

static bool state_alive(char state) {
        return state != 'Z' && state != 'X' && state != 'x';
}

/* The live (not zombie) processes whose parent is ppid or, when ppid is 0,
 * whose process group is pgrp; sorted ascending. */
static int proc_find(pid_t ppid, pid_t pgrp, pid_t **ret, size_t *ret_n) {
        _cleanup_free_ pid_t *l = NULL;
        size_t n = 0, alloc = 0;
        DIR *dir;
        struct dirent *de;

        dir = opendir("/proc");
        if (!dir)
                return -errno;
        while ((de = readdir(dir))) {
                char *e, state;
                long v;
                pid_t pp, pg;

                errno = 0;
                v = strtol(de->d_name, &e, 10);
                if (errno != 0 || *e || v <= 0)
                        continue;
                if (proc_stat((pid_t) v, &state, &pp, &pg) < 0 || !state_alive(state))
                        continue;
                if (ppid > 0 ? pp != ppid : pg != pgrp)
                        continue;
                if (tdi_grow((void **) &l, &alloc, n + 1, sizeof(pid_t)) < 0) {
                        closedir(dir);
                        return -ENOMEM;
                }
                l[n++] = (pid_t) v;
        }
        closedir(dir);
        if (n > 0)
                qsort(l, n, sizeof(pid_t), cmp_pid);
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

int td_proc_entries(pid_t pid, const char *sub) {
        char path[64];
        struct dirent *e;
        DIR *dir;
        int n = 0;

        (void) snprintf(path, sizeof path, "/proc/%d/%s", (int) pid, sub);
        dir = opendir(path);
        if (!dir)
                return -errno;
        while ((e = readdir(dir)))
                if (e->d_name[0] != '.')
                        n++;
        closedir(dir);
        return n;
}

bool td_pid_alive(pid_t pid) {
        char state;

        if (pid <= 0)
                return false;
        if (proc_stat(pid, &state, NULL, NULL) < 0)
                return false;
        return state_alive(state);
}

int td_wait_pid_gone(pid_t pid, uint64_t timeout) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        /* The pidfd turns readable when the process exits, zombie or not. */
        fd = tdi_pidfd_open(pid);
        if (fd == -ESRCH)
                return 0;
        if (fd < 0)
                return fd;
        r = tdi_wait_fd(fd, POLLIN, tdi_deadline(timeout));
        return r < 0 ? r : 0;
}

int td_children(pid_t pid, pid_t **ret) {
        _cleanup_free_ pid_t *l = NULL;
        size_t n = 0;
        int r;

        if (pid > 0) {
                r = proc_find(pid, 0, &l, &n);
                if (r < 0)
                        return r;
        }
        if (ret)
                *ret = TAKE_PTR(l);
        return (int) n;
}

/* A front stage names itself "preforkd-front" (PR_SET_NAME). */
static bool is_front_stage(pid_t pid) {
        char path[64], comm[32] = "";
        FILE *f;

        (void) snprintf(path, sizeof path, "/proc/%d/comm", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        if (!fgets(comm, sizeof comm, f))
                comm[0] = 0;
        fclose(f);
        return strncmp(comm, "preforkd-front", 14) == 0;
}

/* The master's children, front stages left out (with front, only them). */
static int master_children(TestDaemon *d, bool front, pid_t **ret) {
        _cleanup_free_ pid_t *l = NULL;
        int n, k = 0;

        if (!d->started || d->reaped) {
                if (ret)
                        *ret = NULL;
                return 0;
        }
        n = td_children(d->pid, &l);
        if (n < 0)
                return n;
        for (int i = 0; i < n; i++)
                if (is_front_stage(l[i]) == front)
                        l[k++] = l[i];
        if (ret)
                *ret = TAKE_PTR(l);
        return k;
}

int td_workers(TestDaemon *d, pid_t **ret) {
        return master_children(d, false, ret);
}

int td_front_stages(TestDaemon *d, pid_t **ret) {
        return master_children(d, true, ret);
}

/* The kernel tells no one but the parent when a process forks, and no one
 * when a process takes a new name, so the master's children are counted
 * in /proc, again and again; the exits that the callers wait for are
 * waited on through pidfds before. Waits until the master has exactly n
 * children that are front stages (front) or workers (!front), none of
 * them in gone[]. */
static int wait_master_children(TestDaemon *d, bool front, size_t n, const pid_t *gone, size_t n_gone,
                                uint64_t timeout, pid_t **ret) {
        uint64_t deadline = tdi_deadline(timeout);

        for (size_t i = 0; i < n_gone; i++) {
                int r = td_wait_pid_gone(gone[i], deadline > td_now() ? deadline - td_now() : 0);

                if (r < 0)
                        return r;
        }
        for (;;) {
                _cleanup_free_ pid_t *l = NULL;
                bool stale = false;
                int r = master_children(d, front, &l);

                if (r < 0)
                        return r;
                for (int i = 0; i < r && !stale; i++)
                        for (size_t k = 0; k < n_gone && !stale; k++)
                                stale = l[i] == gone[k];
                if ((size_t) r == n && !stale) {
                        if (ret)
                                *ret = TAKE_PTR(l);
                        return r;
                }
                if (td_now() >= deadline)
                        return -ETIMEDOUT;
                td_poll_pause();
        }
}

int td_wait_front_stages(TestDaemon *d, size_t n, uint64_t timeout, pid_t **ret) {
        return wait_master_children(d, true, n, NULL, 0, timeout, ret);
}

int td_wait_workers_without(TestDaemon *d, size_t n, const pid_t *gone, size_t n_gone, uint64_t timeout,
                            pid_t **ret) {
        return wait_master_children(d, false, n, gone, n_gone, timeout, ret);
}

int td_wait_workers(TestDaemon *d, size_t n, uint64_t timeout, pid_t **ret) {
        return td_wait_workers_without(d, n, NULL, 0, timeout, ret);
}

int td_pgrp_pids(pid_t pgrp, pid_t **ret) {
        size_t n = 0;
        int r;

        r = proc_find(0, pgrp, ret, &n);
        return r < 0 ? r : (int) n;
}

/* The pids of the live (not zombie) processes in the daemon's process
 * group: the master, its workers, and any worker that outlived it. */
static int group_pids(TestDaemon *d, pid_t **ret, size_t *ret_n) {
        return proc_find(0, d->pid, ret, ret_n);
}

int td_wait_group_gone(TestDaemon *d, uint64_t timeout) {
        uint64_t deadline = tdi_deadline(timeout);

        if (!d->started)
                return 0;
        /* Each live member's exit is an event (its pidfd); a member forked
         * meanwhile shows up in the next scan. */
        for (;;) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0;
                int r = group_pids(d, &pids, &n);

                if (r < 0)
                        return r;
                if (n == 0)
                        return 0;
                for (size_t i = 0; i < n; i++) {
                        r = td_wait_pid_gone(pids[i], deadline > td_now() ? deadline - td_now() : 0);
                        if (r < 0)
                                return r;
                }
        }
}

int td_group_count(TestDaemon *d) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r;

        if (!d->started)
                return 0;
        r = group_pids(d, &pids, &n);
        return r < 0 ? r : (int) n;
}

/* Finds the socket whose local address is local and remote address remote
 * in /proc/net/tcp or tcp6 (addresses as the kernel prints them, hex), and
 * returns its inode and the bytes in its receive queue that its owner has
 * not read yet. */
static int find_tcp_socket(const char *file, const char *local, const char *remote, unsigned long *ret_inode,
                           unsigned long *ret_unread) {
        FILE *f;
        char line[512];
        int r = -ENOENT;

        f = fopen(file, "re");
        if (!f)
                return -errno;
        /* As few read()s as possible: the kernel walks its socket table
         * again for each one, and entries that go meanwhile (TIME_WAIT
         * ones expire all the time) shift the rest, so that one may be
         * skipped (see find_server_socket()). */
        (void) setvbuf(f, NULL, _IOFBF, 1 << 20);
        while (fgets(line, sizeof(line), f)) {
                char l[64], rem[64];
                unsigned long inode = 0, rx = 0;

                /* sl local rem st tx_queue:rx_queue tr:when retrnsmt uid timeout inode */
                if (sscanf(line, " %*s %63s %63s %*s %*x:%lx %*s %*s %*s %*s %lu", l, rem, &rx, &inode) != 4)
                        continue;
                if (strcasecmp(l, local) == 0 && strcasecmp(rem, remote) == 0 && inode != 0) {
                        if (ret_inode)
                                *ret_inode = inode;
                        if (ret_unread)
                                *ret_unread = rx;
                        r = 0;
                        break;
                }
        }
        fclose(f);
        return r;
}

static void format_proc_addr(const struct sockaddr_storage *ss, char *buf, size_t size) {
        if (ss->ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) ss;

                /* The kernel prints the raw 32-bit word in host order. */
                snprintf(buf, size, "%08X:%04X", in->sin_addr.s_addr, ntohs(in->sin_port));
        } else {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) ss;
                uint32_t w[4];

                memcpy(w, &in6->sin6_addr, sizeof(w));
                snprintf(buf, size, "%08X%08X%08X%08X:%04X", w[0], w[1], w[2], w[3], ntohs(in6->sin6_port));
        }
}

/* True if pid has an fd of a socket with one of the n inodes. */
static bool proc_holds_inode(pid_t pid, const unsigned long *inodes, size_t n) {
        char path[64];
        DIR *dir;
        struct dirent *de;
        bool found = false;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
        dir = opendir(path);
        if (!dir)
                return false;
        while (!found && (de = readdir(dir))) {
                char link[128];
                unsigned long inode;
                ssize_t k;

                if (de->d_name[0] == '.')
                        continue;
                k = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);
                if (k <= 0)
                        continue;
                link[k] = 0;
                if (sscanf(link, "socket:[%lu]", &inode) != 1)
                        continue;
                for (size_t i = 0; i < n; i++)
                        found = found || inodes[i] == inode;
        }
        closedir(dir);
        return found;
}

/* The server side of the connected TCP socket client_fd, as find_tcp_socket()
 * finds it. */
static int find_server_socket(int client_fd, unsigned long *ret_inode, unsigned long *ret_unread) {
        struct sockaddr_storage me, peer;
        socklen_t ml = sizeof(me), pl = sizeof(peer);
        char local[64], remote[64];

        if (getsockname(client_fd, (struct sockaddr *) &me, &ml) < 0 ||
            getpeername(client_fd, (struct sockaddr *) &peer, &pl) < 0)
                return -errno;
        if (me.ss_family != AF_INET && me.ss_family != AF_INET6)
                return -EAFNOSUPPORT;
        /* The server side: local = our peer, remote = us. */
        format_proc_addr(&peer, local, sizeof(local));
        format_proc_addr(&me, remote, sizeof(remote));
        /* It exists while our side is connected, but a read of the table
         * can miss an entry that moved while it was read: look again. */
        for (unsigned i = 0;; i++) {
                int r = find_tcp_socket(me.ss_family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6", local, remote,
                                        ret_inode, ret_unread);

                if (r != -ENOENT || i == 9)
                        return r;
        }
}

int td_conn_owner(TestDaemon *d, int client_fd, pid_t *ret) {
        _cleanup_free_ pid_t *pids = NULL;
        unsigned long inode = 0;
        int n, r;

        r = find_server_socket(client_fd, &inode, NULL);
        if (r < 0)
                return r;

        n = td_workers(d, &pids);
        if (n < 0)
                return n;
        for (int i = 0; i < n; i++)
                if (proc_holds_inode(pids[i], &inode, 1)) {
                        *ret = pids[i];
                        return 0;
                }
        return -ENOENT;
}

int td_conn_holder(TestDaemon *d, int client_fd, pid_t *ret) {
        _cleanup_free_ pid_t *pids = NULL;
        unsigned long inode = 0;
        pid_t owner;
        int n, r;

        r = td_conn_owner(d, client_fd, &owner);
        if (r != -ENOENT) {
                if (r >= 0)
                        *ret = owner;
                return r;
        }
        r = find_server_socket(client_fd, &inode, NULL);
        if (r < 0)
                return r;
        n = td_front_stages(d, &pids);
        if (n < 0)
                return n;
        for (int i = 0; i < n; i++)
                if (proc_holds_inode(pids[i], &inode, 1)) {
                        *ret = pids[i];
                        return 0;
                }
        return -ENOENT;
}

/* Only /proc/net/tcp shows how much of what a peer received its process has
 * read; there is no event for it. */
int td_wait_conn_read(int client_fd, uint64_t timeout) {
        uint64_t deadline = tdi_deadline(timeout);

        for (;;) {
                unsigned long unread = 0;
                int unacked = 0, r;

                /* Sent but not acknowledged yet: not in the server's queue. */
                if (ioctl(client_fd, SIOCOUTQ, &unacked) < 0)
                        return -errno;
                r = find_server_socket(client_fd, NULL, &unread);
                if (r < 0)
                        return r;
                if (unacked == 0 && unread == 0)
                        return 0;
                if (td_now() >= deadline)
                        return -ETIMEDOUT;
                td_poll_pause();
        }
}

/* Adds the inodes of listening sockets on port found in file to *l. */
static int listening_inodes(const char *file, uint16_t port, unsigned long **l, size_t *n, size_t *alloc) {
        FILE *f;
        char line[512];

        f = fopen(file, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        while (fgets(line, sizeof(line), f)) {
                char local[64], *colon;
                unsigned st;
                unsigned long inode;

                if (sscanf(line, " %*s %63s %*s %x %*s %*s %*s %*s %*s %lu", local, &st, &inode) != 3)
                        continue;
                colon = strrchr(local, ':');
                if (st != 0x0A || !colon || strtoul(colon + 1, NULL, 16) != port || inode == 0)
                        continue;
                if (tdi_grow((void **) l, alloc, *n + 1, sizeof(unsigned long)) < 0) {
                        fclose(f);
                        return -ENOMEM;
                }
                (*l)[(*n)++] = inode;
        }
        fclose(f);
        return 0;
}

int td_tcp_listener_holders(TestDaemon *d, uint16_t port) {
        _cleanup_free_ unsigned long *inodes = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0, alloc = 0, n_pids = 0;
        int r, holders = 0;

        if (!d->started)
                return 0;
        r = listening_inodes("/proc/net/tcp", port, &inodes, &n, &alloc);
        if (r >= 0)
                r = listening_inodes("/proc/net/tcp6", port, &inodes, &n, &alloc);
        if (r < 0)
                return r;
        if (n == 0)
                return 0;

        r = group_pids(d, &pids, &n_pids);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_pids; i++)
                if (proc_holds_inode(pids[i], inodes, n))
                        holders++;
        return holders;
}

/* A listener is closed when the last process holding it closes it (the
 * master at the start of a stop, a worker in its SIGTERM handler); the
 * kernel tells nobody, so /proc is looked at again and again. */
int td_wait_tcp_listener_closed(TestDaemon *d, uint16_t port, uint64_t timeout) {
        uint64_t deadline = tdi_deadline(timeout);

        for (;;) {
                int h = td_tcp_listener_holders(d, port);

                if (h <= 0)
                        return h;
                if (td_now() >= deadline)
                        return -ETIMEDOUT;
                td_poll_pause();
        }
}

char *td_proc_status(pid_t pid, const char *key) {
        char path[64], line[1024];
        size_t kl = strlen(key);
        char *r = NULL;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return NULL;
        while (!r && fgets(line, sizeof(line), f))
                if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
                        char *v = line + kl + 1;

                        v += strspn(v, " \t");
                        v[strcspn(v, "\n")] = 0;
                        r = strdup(v);
                }
        fclose(f);
        return r;
}
