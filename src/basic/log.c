/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>

#include "log.h"

static int log_max_level = LOG_INFO;
static LogTarget log_target = LOG_TARGET_STDERR;

/* journald's native protocol socket. We speak the protocol ourselves instead
 * of calling sd_journal_sendv(): libsystemd keeps its socket in a private
 * static that nobody can put on a worker's keep-list or forget after the
 * worker closed its inherited fds, and a datagram sent through a number that
 * meanwhile names a client connection would go to that client. This fd is
 * opened on the first journal record (so a process that never logs to the
 * journal holds no socket) and is reachable through log_journal_fd() and
 * log_forget_fds(). It is accessed atomically because opening it lazily must
 * not leak a socket should a second thread ever log. */
static int journal_fd = -EBADF;
#define JOURNAL_SOCKET_DEFAULT "/run/systemd/journal/socket"
static struct sockaddr_un journal_addr = {
        .sun_family = AF_UNIX,
        .sun_path = JOURNAL_SOCKET_DEFAULT,
};
/* 0 when PREFORKD_JOURNAL_SOCKET was unusable: every record goes to stderr. */
static socklen_t journal_addr_len = offsetof(struct sockaddr_un, sun_path) + sizeof JOURNAL_SOCKET_DEFAULT;

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert", [LOG_CRIT] = "crit", [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

const char *log_level_to_string(int level) {
        if (level < 0 || (size_t) level >= ELEMENTSOF(level_names))
                return NULL;
        return level_names[level];
}

int log_level_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (strcmp(s, level_names[i]) == 0)
                        return (int) i;
        return -EINVAL;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

LogTarget log_get_target(void) {
        return log_target;
}

void log_set_target(LogTarget t) {
        log_target = t;
}

/* systemd sets JOURNAL_STREAM to "DEV:INODE" of the stream it connected to
 * stderr. Only when stderr still is that stream do we talk to the journal
 * directly; a redirected stderr (2>file) keeps plain lines. */
static int stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return 0;
        if (fstat(STDERR_FILENO, &st) < 0)
                return 0;
        return st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

static void write_stderr_as(int level, const char *identifier, pid_t pid, const char *message, size_t len) {
        char ts[64];
        struct timespec t;
        struct tm tm;

        (void) clock_gettime(CLOCK_REALTIME, &t);
        (void) localtime_r(&t.tv_sec, &tm);
        size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        (void) snprintf(ts + n, sizeof ts - n, ".%03ld", t.tv_nsec / 1000000);

        /* One fprintf() per record: stderr is unbuffered, and a single write
         * keeps lines from master and workers from interleaving. */
        (void) fprintf(stderr, "%s %s[%d]: <%s> %.*s\n", ts, identifier, (int) pid, log_level_to_string(level),
                       (int) MIN(len, (size_t) INT_MAX), message);
}

static void write_stderr(int level, const char *message) {
        write_stderr_as(level, program_invocation_short_name, getpid(), message, strlen(message));
}

/* PREFORKD_JOURNAL_SOCKET=PATH names the socket journald's native protocol is
 * sent to instead of /run/systemd/journal/socket: an absolute path, or
 * "@NAME" for a socket in the abstract namespace. For the tests, which bind
 * a socket of their own, and for running under a journald listening
 * elsewhere (a container's, say). Returns 0 or -EINVAL. */
static int journal_address_from(const char *path) {
        size_t l = strlen(path);

        if (l < 2 || (path[0] != '/' && path[0] != '@') || l > sizeof journal_addr.sun_path - (path[0] == '/'))
                return -EINVAL;
        memset(journal_addr.sun_path, 0, sizeof journal_addr.sun_path);
        memcpy(journal_addr.sun_path, path, l);
        if (path[0] == '@') {
                /* Abstract names are not NUL-terminated: the length counts. */
                journal_addr.sun_path[0] = '\0';
                journal_addr_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l);
        } else
                journal_addr_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + 1);
        return 0;
}

void log_setup(void) {
        const char *e = getenv("PREFORKD_LOG_TARGET");
        const char *j = getenv("PREFORKD_JOURNAL_SOCKET");

        if (e && strcmp(e, "journal") == 0)
                log_target = LOG_TARGET_JOURNAL;
        else if (e && strcmp(e, "stderr") == 0)
                log_target = LOG_TARGET_STDERR;
        else
                log_target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;

        /* Empty counts as unset, as systemd's Environment=NAME= reads. */
        if (journal_address_from(j && *j ? j : JOURNAL_SOCKET_DEFAULT) < 0) {
                /* Say so once rather than dropping to stderr record by
                 * record without a word. */
                journal_addr_len = 0;
                log_target = LOG_TARGET_STDERR;
                write_stderr(LOG_WARNING, "PREFORKD_JOURNAL_SOCKET: not an absolute path or @NAME that fits "
                                          "a unix socket address, logging to stderr");
        }
}

int log_journal_fd(void) {
        int fd = __atomic_load_n(&journal_fd, __ATOMIC_ACQUIRE);
        return fd >= 0 ? fd : -EBADF;
}

void log_forget_fds(void) {
        __atomic_store_n(&journal_fd, -EBADF, __ATOMIC_RELEASE);
}

/* Returns the journal socket, opening it on first use. Unconnected on
 * purpose: every record names the address, so a restarted journald (a new
 * socket inode at the same path) is found again without reconnecting. */
static int journal_open(void) {
        int fd = __atomic_load_n(&journal_fd, __ATOMIC_ACQUIRE), expected = -EBADF;

        if (fd >= 0)
                return fd;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (!__atomic_compare_exchange_n(&journal_fd, &expected, fd, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                safe_close(fd);
                return expected;
        }
        return fd;
}

/* At most this many fields go into one journal record: the fixed ones
 * (MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and seven PREFORKD_* ones) plus the
 * caller's extras; extras beyond it are dropped, as before. */
#define LOG_MAX_FIELDS 32
/* A field takes 4 iovecs as "KEY" "=" value "\n" and 5 in the binary form
 * "KEY" "\n" le64-size value "\n", far below IOV_MAX. */
#define IOV_PER_FIELD 5

typedef struct JournalRecord {
        struct iovec iov[LOG_MAX_FIELDS * IOV_PER_FIELD];
        uint64_t size_le[LOG_MAX_FIELDS];
        size_t n_iov, n_fields;
        bool invalid;
} JournalRecord;

/* Appends one field. key and value are referenced, not copied: they must
 * live until the record is sent. A value that holds a newline cannot be sent
 * as KEY=value (journald ends a field at the newline), so it goes in the
 * protocol's binary form: the key, a newline, the value's size as a
 * little-endian 64-bit integer, the value and a newline. */
static void record_add(JournalRecord *r, const char *key, size_t key_len, const char *value, size_t value_len) {
        struct iovec *v = r->iov + r->n_iov;

        if (r->n_fields >= LOG_MAX_FIELDS)
                return;
        if (memchr(value, '\n', value_len)) {
                r->size_le[r->n_fields] = htole64((uint64_t) value_len);
                v[0] = (struct iovec) { (void *) key, key_len };
                v[1] = (struct iovec) { (void *) "\n", 1 };
                v[2] = (struct iovec) { &r->size_le[r->n_fields], sizeof r->size_le[0] };
                v[3] = (struct iovec) { (void *) value, value_len };
                v[4] = (struct iovec) { (void *) "\n", 1 };
                r->n_iov += 5;
        } else {
                v[0] = (struct iovec) { (void *) key, key_len };
                v[1] = (struct iovec) { (void *) "=", 1 };
                v[2] = (struct iovec) { (void *) value, value_len };
                v[3] = (struct iovec) { (void *) "\n", 1 };
                r->n_iov += 4;
        }
        r->n_fields++;
}

/* Appends a caller's "KEY=value" field. One without "=" or with an empty key
 * marks the record invalid, which sends it to stderr instead (what
 * sd_journal_sendv() refusing it used to do), so that the mistake shows. */
static void record_add_field(JournalRecord *r, const char *field) {
        const char *eq = strchr(field, '=');

        if (!eq || eq == field) {
                r->invalid = true;
                return;
        }
        record_add(r, field, (size_t) (eq - field), eq + 1, strlen(eq + 1));
}

#define RECORD_ADD(r, key, value) record_add((r), key, sizeof(key) - 1, (value), strlen(value))

/* Sends a record too large for one datagram the protocol's other way: the
 * record in a sealed memfd, the datagram carrying only that fd. journald
 * refuses an unsealed one, since the sender could change it while it is
 * read. */
static int journal_send_memfd(int fd, const JournalRecord *r) {
        union {
                struct cmsghdr cmsghdr;
                uint8_t buf[CMSG_SPACE(sizeof(int))];
        } control = { .buf = { 0 } };
        struct msghdr mh = {
                .msg_name = &journal_addr,
                .msg_namelen = journal_addr_len,
                .msg_control = &control,
                .msg_controllen = sizeof control,
        };
        _cleanup_close_ int mfd = memfd_create("preforkd-journal", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        if (mfd < 0)
                return negative_errno();
        for (size_t i = 0; i < r->n_iov; i++)
                for (size_t off = 0; off < r->iov[i].iov_len;) {
                        ssize_t k = write(mfd, (const char *) r->iov[i].iov_base + off, r->iov[i].iov_len - off);
                        if (k < 0) {
                                if (errno == EINTR)
                                        continue;
                                return negative_errno();
                        }
                        off += (size_t) k;
                }
        if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return negative_errno();

        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &mfd, sizeof(int));
        if (sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
                return negative_errno();
        return 0;
}

/* MSG_DONTWAIT: when journald's receive queue is full (net.unix.max_dgram_qlen
 * datagrams: 10 in the kernel, 512 where systemd raised it at boot; either is
 * reached while journald is stalled or busy) sendmsg() would otherwise sleep,
 * and the master must keep supervising instead; the record then goes to
 * stderr (see write_journal()). MSG_NOSIGNAL for symmetry with
 * every other send in this code: a datagram socket raises no SIGPIPE today. */
static int journal_send(const JournalRecord *r) {
        struct msghdr mh = {
                .msg_name = &journal_addr,
                .msg_namelen = journal_addr_len,
                .msg_iov = (struct iovec *) r->iov,
                .msg_iovlen = r->n_iov,
        };
        int fd;

        if (journal_addr_len == 0)
                return -EDESTADDRREQ;
        fd = journal_open();
        if (fd < 0)
                return fd;
        if (sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
                return 0;
        /* EMSGSIZE: larger than the socket's send buffer (about 200 KiB by
         * default; an HTTP access record with long escaped headers is the
         * only kind that comes near). ENOBUFS: the kernel could not allocate
         * a buffer that large right now. */
        if (!IN_SET(errno, EMSGSIZE, ENOBUFS))
                return negative_errno();
        return journal_send_memfd(fd, r);
}

/* The formatted numbers a record's fields point to. */
typedef struct RecordText {
        char priority[4], slot[16], pid[16], generation[16], status[16], sig[24], uptime[24], syslog_pid[16];
} RecordText;

/* MESSAGE (len bytes of message), PRIORITY, SYSLOG_IDENTIFIER and the
 * PREFORKD_* fields of f (may be NULL). */
static void record_add_common(JournalRecord *r, RecordText *t, int level, const char *identifier,
                              const char *message, size_t len, const LogFields *f) {
        record_add(r, "MESSAGE", strlen("MESSAGE"), message, len);
        (void) snprintf(t->priority, sizeof t->priority, "%d", level);
        RECORD_ADD(r, "PRIORITY", t->priority);
        RECORD_ADD(r, "SYSLOG_IDENTIFIER", identifier);
        if (!f)
                return;
        if (f->service)
                RECORD_ADD(r, "PREFORKD_SERVICE", f->service);
        if (f->slot >= 0) {
                (void) snprintf(t->slot, sizeof t->slot, "%d", f->slot);
                RECORD_ADD(r, "PREFORKD_SLOT", t->slot);
        }
        if (f->worker_pid > 0) {
                (void) snprintf(t->pid, sizeof t->pid, "%d", (int) f->worker_pid);
                RECORD_ADD(r, "PREFORKD_WORKER_PID", t->pid);
        }
        if (f->generation > 0) {
                (void) snprintf(t->generation, sizeof t->generation, "%u", f->generation);
                RECORD_ADD(r, "PREFORKD_GENERATION", t->generation);
        }
        if (f->exit_status >= 0) {
                (void) snprintf(t->status, sizeof t->status, "%d", f->exit_status);
                RECORD_ADD(r, "PREFORKD_EXIT_STATUS", t->status);
        }
        if (f->exit_signal > 0) {
                const char *abbrev = sigabbrev_np(f->exit_signal);
                if (abbrev)
                        (void) snprintf(t->sig, sizeof t->sig, "SIG%s", abbrev);
                else
                        (void) snprintf(t->sig, sizeof t->sig, "%d", f->exit_signal);
                RECORD_ADD(r, "PREFORKD_EXIT_SIGNAL", t->sig);
        }
        if (f->uptime_usec >= 0) {
                (void) snprintf(t->uptime, sizeof t->uptime, "%" PRIi64, f->uptime_usec);
                RECORD_ADD(r, "PREFORKD_UPTIME_USEC", t->uptime);
        }
}

static void write_journal(int level, const char *message, const LogFields *f, const char *const *extra,
                          size_t n_extra) {
        JournalRecord r = { .n_iov = 0 };
        RecordText t;

        record_add_common(&r, &t, level, program_invocation_short_name, message, strlen(message), f);
        for (size_t i = 0; i < n_extra; i++)
                record_add_field(&r, extra[i]);

        /* Whatever kept the record from journald (no journald, its queue
         * full, an invalid field), it goes to stderr as a plain line, which
         * under systemd reaches the journal too, only without the fields. */
        if (r.invalid || journal_send(&r) < 0)
                write_stderr(level, message);
}

int log_forward(int level, const char *identifier, pid_t pid, const LogFields *f, const char *line, size_t len) {
        JournalRecord r = { .n_iov = 0 };
        RecordText t;
        int k;

        assert(identifier);
        assert(line || len == 0);

        /* Not filtered by log_max_level: that is the daemon's own
         * verbosity, and a program's output is all there is of it. */
        if (log_target != LOG_TARGET_JOURNAL) {
                write_stderr_as(level, identifier, pid, line, len);
                return 0;
        }
        record_add_common(&r, &t, level, identifier, line, len, f);
        if (pid > 0) {
                (void) snprintf(t.syslog_pid, sizeof t.syslog_pid, "%d", (int) pid);
                RECORD_ADD(&r, "SYSLOG_PID", t.syslog_pid);
        }
        for (size_t i = 0; f && f->extra && f->extra[i]; i++)
                record_add_field(&r, f->extra[i]);
        k = r.invalid ? -EINVAL : journal_send(&r);
        if (IN_SET(k, -EAGAIN, -EWOULDBLOCK))
                return -EAGAIN;
        /* No journald at all (or a bad field): stderr, like our own. */
        if (k < 0)
                write_stderr_as(level, identifier, pid, line, len);
        return 0;
}

static size_t strv_length(const char *const *l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

static void log_dispatch(int level, const char *message, const LogFields *f, const char *const *extra,
                         size_t n_extra) {
        switch (log_target) {
        case LOG_TARGET_JOURNAL:
                write_journal(level, message, f, extra, n_extra);
                break;
        case LOG_TARGET_STDERR:
                write_stderr(level, message);
                break;
        case _LOG_TARGET_MAX:
                abort();
        }
}

int log_internal(int level, int error, const LogFields *f, const char *fmt, ...) {
        char message[2048];
        va_list ap;

        error = error < 0 ? -error : error;
        if (level > log_max_level)
                return -error;

        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof message, fmt, ap);
        va_end(ap);

        log_dispatch(level, message, f, f ? f->extra : NULL, f ? strv_length(f->extra) : 0);
        return -error;
}

void log_record(int level, const char *message, const char *const *fields, size_t n_fields) {
        if (level > log_max_level)
                return;
        log_dispatch(level, message, NULL, fields, n_fields);
}

void fatal(int exit_code, const char *fmt, ...) {
        char message[2048];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof message, fmt, ap);
        va_end(ap);
        log_dispatch(LOG_CRIT, message, NULL, NULL, 0);
        _exit(exit_code);
}
