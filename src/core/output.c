/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "output.h"
#include "time-util.h"

/* How many of the last stderr lines an exit record quotes, and how much of
 * each. */
#define OUTPUT_TAIL_LINES 3
#define OUTPUT_TAIL_LINE_MAX 160
/* The pause after journald refused a line for a full queue: short at
 * first (journald is usually only busy, and its queue may be as short as
 * 10 datagrams), doubling while it stays full. */
#define OUTPUT_RETRY_MIN_USEC (1 * USEC_PER_MSEC)
#define OUTPUT_RETRY_MAX_USEC (64 * USEC_PER_MSEC)
/* Below every source of the master's own (priority 0 and higher). */
#define OUTPUT_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 10)
/* What output_set_flush_pid() reads at most: a full pipe and more. */
#define OUTPUT_FLUSH_BUDGET (1024 * 1024)

struct OutputReader {
        OutputSet *set;
        OutputReader *prev, *next;
        int fd;
        sd_event_source *io;
        sd_event_source *retry;
        char *service, *identifier;
        unsigned slot, generation;
        pid_t pid;
        bool is_stderr;
        bool eof;
        /* Its process's exit was handled (output_set_flush_pid()): at end
         * of file nothing waits for its last lines any more. */
        bool exited;
        uint64_t retry_usec;          /* the next pause; 0 after a line went through */
        char buf[OUTPUT_LINE_MAX];
        size_t n;                     /* bytes in buf, no complete line among them once flushed */
        char tail[OUTPUT_TAIL_LINES][OUTPUT_TAIL_LINE_MAX];
        unsigned n_tail;              /* lines kept so far; the newest is at (n_tail - 1) % OUTPUT_TAIL_LINES */
};

static void reader_free(OutputReader *r) {
        if (!r)
                return;
        if (r->prev)
                r->prev->next = r->next;
        else
                r->set->readers = r->next;
        if (r->next)
                r->next->prev = r->prev;
        sd_event_source_disable_unref(r->io);
        sd_event_source_disable_unref(r->retry);
        safe_close(r->fd);
        free(r->service);
        free(r->identifier);
        free(r);
}

int output_set_foreach(const OutputSet *set, output_reader_fn f, void *userdata) {
        assert(set);
        assert(f);

        for (const OutputReader *r = set->readers; r; r = r->next) {
                OutputSource src = {
                        .service = r->service,
                        .slot = r->slot,
                        .generation = r->generation,
                        .pid = r->pid,
                        .identifier = r->identifier,
                        .is_stderr = r->is_stderr,
                };
                int k;

                if (r->eof || r->fd < 0)
                        continue;
                k = f(r->fd, &src, userdata);
                if (k < 0)
                        return k;
        }
        return 0;
}

static void reader_keep_tail(OutputReader *r, const char *line, size_t len) {
        char *t = r->tail[r->n_tail % OUTPUT_TAIL_LINES];

        len = MIN(len, (size_t) OUTPUT_TAIL_LINE_MAX - 1);
        memcpy(t, line, len);
        t[len] = '\0';
        r->n_tail++;
}

/* One line as one record. A "<N>" prefix (N 0..7) sets its priority, as
 * sd-daemon(3) defines it for programs under systemd; otherwise it is
 * LOG_INFO, for stdout and stderr alike, as journald's stream default. */
static int reader_emit(OutputReader *r, const char *line, size_t len) {
        LogFields f = {
                .service = r->service,
                .slot = (int) r->slot,
                .worker_pid = r->pid,
                .generation = r->generation,
                .exit_status = -1,
                .uptime_usec = -1,
        };
        int level = LOG_INFO, k;

        if (len > 0 && line[len - 1] == '\r')
                len--;
        if (len >= 3 && line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>') {
                level = line[1] - '0';
                line += 3;
                len -= 3;
        }
        k = log_forward(level, r->identifier, r->pid, &f, line, len);
        if (k < 0)
                return k;
        if (r->is_stderr)
                reader_keep_tail(r, line, len);
        return 0;
}

/* Sends every complete line in the buffer, and the rest too when final
 * (end of file) or when the buffer is full without a newline (a line too
 * long: split). -EAGAIN when journald refused one: it stays for the next
 * try. */
static int reader_flush(OutputReader *r, bool final) {
        size_t done = 0;
        int k = 0;

        while (done < r->n) {
                const char *nl = memchr(r->buf + done, '\n', r->n - done);
                size_t len;

                if (nl)
                        len = (size_t) (nl - (r->buf + done));
                else if (final || r->n == sizeof r->buf)
                        len = r->n - done;
                else
                        break;
                k = reader_emit(r, r->buf + done, len);
                if (k < 0)
                        break;
                r->retry_usec = 0;
                done += len + (nl ? 1 : 0);
        }
        memmove(r->buf, r->buf + done, r->n - done);
        r->n -= done;
        return k == -EAGAIN ? k : 0;
}

static int reader_on_retry(sd_event_source *s, uint64_t usec, void *userdata);

/* journald's queue is full: stop reading (the program's writes block once
 * the pipe is full) and try again after a pause. */
static void reader_pause(OutputReader *r) {
        r->retry_usec = r->retry_usec == 0 ? OUTPUT_RETRY_MIN_USEC : MIN(r->retry_usec * 2, OUTPUT_RETRY_MAX_USEC);
        (void) sd_event_source_set_enabled(r->io, SD_EVENT_OFF);
        if (!r->retry) {
                /* Accuracy 0 would be sd-event's default, 250 ms. */
                if (sd_event_add_time_relative(r->set->event, &r->retry, CLOCK_MONOTONIC, r->retry_usec,
                                               OUTPUT_RETRY_MIN_USEC / 4, reader_on_retry, r) < 0) {
                        /* Without a timer there is no later: drop what is held. */
                        r->n = 0;
                        (void) sd_event_source_set_enabled(r->io, SD_EVENT_ON);
                        return;
                }
                (void) sd_event_source_set_priority(r->retry, OUTPUT_PRIORITY);
        } else
                (void) sd_event_source_set_time_relative(r->retry, r->retry_usec);
        (void) sd_event_source_set_enabled(r->retry, SD_EVENT_ONESHOT);
}

/* Reads and sends up to budget bytes. Returns true when the reader is
 * done (end of file reached and everything sent): the caller frees it. */
static bool reader_pump(OutputReader *r, size_t budget) {
        for (;;) {
                ssize_t k;

                if (reader_flush(r, r->eof) == -EAGAIN) {
                        reader_pause(r);
                        return false;
                }
                if (r->eof)
                        return true;
                if (budget == 0)
                        return false;
                k = read(r->fd, r->buf + r->n, MIN(sizeof r->buf - r->n, budget));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (IN_SET(errno, EAGAIN, EWOULDBLOCK))
                                return false;
                        log_debug_errno(errno, "%s[slot %u]: cannot read the output of %d: %s", r->service, r->slot,
                                        (int) r->pid, STRERROR(errno));
                        r->eof = true;
                        continue;
                }
                if (k == 0)
                        r->eof = true;
                r->n += (size_t) k;
                budget -= (size_t) k;
        }
}

/* Everything is read and sent. The pipe may end before the master has
 * handled its process's exit (the two are separate events), and that
 * exit's record quotes the last lines: the reader stays, idle, until
 * then. */
static void reader_done(OutputReader *r) {
        if (r->exited) {
                reader_free(r);
                return;
        }
        r->io = sd_event_source_disable_unref(r->io);
        r->retry = sd_event_source_disable_unref(r->retry);
        r->fd = safe_close(r->fd);
}

static int reader_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        OutputReader *r = userdata;

        if (reader_pump(r, OUTPUT_READ_BUDGET))
                reader_done(r);
        return 0;
}

static int reader_on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        OutputReader *r = userdata;

        (void) sd_event_source_set_enabled(r->io, SD_EVENT_ON);
        if (reader_pump(r, OUTPUT_READ_BUDGET))
                reader_done(r);
        return 0;
}

int output_reader_add(OutputSet *set, int fd, const OutputSource *src) {
        _cleanup_close_ int fd_owned = fd;
        OutputReader *r;
        int k;

        assert(set);
        assert(fd >= 0);
        assert(src);

        if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
                return negative_errno();
        r = calloc(1, sizeof(OutputReader));
        if (!r)
                return -ENOMEM;
        *r = (OutputReader) {
                .set = set,
                .fd = TAKE_FD(fd_owned),
                .service = strdup(src->service),
                .identifier = strdup(src->identifier),
                .slot = src->slot,
                .generation = src->generation,
                .pid = src->pid,
                .is_stderr = src->is_stderr,
                .next = set->readers,
        };
        if (set->readers)
                set->readers->prev = r;
        set->readers = r;
        if (!r->service || !r->identifier) {
                reader_free(r);
                return -ENOMEM;
        }
        k = sd_event_add_io(set->event, &r->io, r->fd, EPOLLIN, reader_on_io, r);
        if (k < 0) {
                reader_free(r);
                return k;
        }
        (void) sd_event_source_set_priority(r->io, OUTPUT_PRIORITY);
        return 0;
}

void output_set_flush_pid(OutputSet *set, pid_t pid, char *buf, size_t size) {
        size_t n = 0;

        assert(set);
        assert(buf);
        assert(size > 0);

        buf[0] = '\0';
        for (OutputReader *r = set->readers, *next; r; r = next) {
                bool done;

                next = r->next;
                if (r->pid != pid)
                        continue;
                /* A paused reader waits for journald: reading on would
                 * only hold more. One that reached the end is done. */
                r->exited = true;
                if (r->fd < 0)
                        done = true;
                else
                        done = sd_event_source_get_enabled(r->io, NULL) > 0 && reader_pump(r, OUTPUT_FLUSH_BUDGET);
                if (r->is_stderr)
                        for (unsigned i = r->n_tail > OUTPUT_TAIL_LINES ? r->n_tail - OUTPUT_TAIL_LINES : 0;
                             i < r->n_tail && n + 1 < size; i++) {
                                int l = snprintf(buf + n, size - n, "%s%s", n > 0 ? " | " : "",
                                                 r->tail[i % OUTPUT_TAIL_LINES]);
                                if (l < 0)
                                        break;
                                n = MIN(n + (size_t) l, size - 1);
                        }
                if (done)
                        reader_free(r);
        }
}

void output_set_done(OutputSet *set) {
        while (set->readers)
                reader_free(set->readers);
}
