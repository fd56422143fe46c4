/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "log.h"

static int log_max_level = LOG_INFO;
static LogTarget log_target = LOG_TARGET_STDERR;

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

void log_setup(void) {
        const char *e = getenv("PREFORKD_LOG_TARGET");

        if (e && strcmp(e, "journal") == 0)
                log_target = LOG_TARGET_JOURNAL;
        else if (e && strcmp(e, "stderr") == 0)
                log_target = LOG_TARGET_STDERR;
        else
                log_target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
}

static void write_stderr(int level, const char *message) {
        char ts[64];
        struct timespec t;
        struct tm tm;

        (void) clock_gettime(CLOCK_REALTIME, &t);
        (void) localtime_r(&t.tv_sec, &tm);
        size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        (void) snprintf(ts + n, sizeof ts - n, ".%03ld", t.tv_nsec / 1000000);

        /* One fprintf() per record: stderr is unbuffered, and a single write
         * keeps lines from master and workers from interleaving. */
        (void) fprintf(stderr, "%s %s[%d]: <%s> %s\n", ts, program_invocation_short_name, (int) getpid(),
                       log_level_to_string(level), message);
}

/* Field buffers for one journal record; sized for the fixed PREFORKD_*
 * fields plus the caller's extras. */
#define LOG_MAX_FIELDS 32

static void write_journal(int level, const char *message, const LogFields *f, const char *const *extra,
                          size_t n_extra) {
        char buf[LOG_MAX_FIELDS][96];
        struct iovec iov[LOG_MAX_FIELDS + 4];
        _cleanup_free_ char *msg = NULL;
        size_t n = 0, b = 0;

#define ADDF(...)                                                                       \
        do {                                                                            \
                if (b < ELEMENTSOF(buf)) {                                              \
                        int _l = snprintf(buf[b], sizeof buf[b], __VA_ARGS__);          \
                        if (_l > 0)                                                     \
                                iov[n++] = (struct iovec) { buf[b], MIN((size_t) _l, sizeof buf[b] - 1) }; \
                        b++;                                                            \
                }                                                                       \
        } while (0)

        if (asprintf(&msg, "MESSAGE=%s", message) < 0)
                return;
        iov[n++] = (struct iovec) { msg, strlen(msg) };
        ADDF("PRIORITY=%d", level);
        ADDF("SYSLOG_IDENTIFIER=%s", program_invocation_short_name);
        if (f) {
                if (f->service)
                        ADDF("PREFORKD_SERVICE=%s", f->service);
                if (f->slot >= 0)
                        ADDF("PREFORKD_SLOT=%d", f->slot);
                if (f->worker_pid > 0)
                        ADDF("PREFORKD_WORKER_PID=%d", (int) f->worker_pid);
                if (f->generation > 0)
                        ADDF("PREFORKD_GENERATION=%u", f->generation);
                if (f->exit_status >= 0)
                        ADDF("PREFORKD_EXIT_STATUS=%d", f->exit_status);
                if (f->exit_signal > 0) {
                        const char *sig = sigabbrev_np(f->exit_signal);
                        if (sig)
                                ADDF("PREFORKD_EXIT_SIGNAL=SIG%s", sig);
                        else
                                ADDF("PREFORKD_EXIT_SIGNAL=%d", f->exit_signal);
                }
                if (f->uptime_usec >= 0)
                        ADDF("PREFORKD_UPTIME_USEC=%" PRIi64, f->uptime_usec);
        }
#undef ADDF
        for (size_t i = 0; i < n_extra && n < ELEMENTSOF(iov); i++)
                iov[n++] = (struct iovec) { (void *) extra[i], strlen(extra[i]) };

        if (sd_journal_sendv(iov, (int) n) < 0)
                write_stderr(level, message);
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
