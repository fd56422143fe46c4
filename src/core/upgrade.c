/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "serialize.h"
#include "time-util.h"
#include "upgrade-check.h"
#include "upgrade.h"

#define STATE_MAX (64U * 1024U * 1024U)
#define WAITER_FD_NAME "upgrade-waiter"

typedef enum UpgradePhase {
        UPGRADE_IDLE,
        UPGRADE_CHECKING,             /* old binary: the new one's --check-upgrade runs */
        UPGRADE_STARTING,             /* new binary: its generation is coming up */
} UpgradePhase;

/* What the next loop iteration does (upgrader_on_defer()). */
typedef enum UpgradeStep {
        UPGRADE_STEP_NONE,
        UPGRADE_STEP_EXEC,            /* old binary: execute the checked new one */
        UPGRADE_STEP_FINISH,          /* new binary: done, or go back */
} UpgradeStep;

struct Upgrader {
        sd_event *event;
        Notifier *notifier;
        const UpgradeOps *ops;
        void *userdata;
        char *config_path;
        UpgradePhase phase;
        UpgradeCheck *check;
        char *binary;                 /* CHECKING: the path being checked */
        BinaryIdentity self;
        BinaryIdentity other;         /* STARTING: the old binary */
        int rollback_fd;              /* STARTING: the old binary, O_PATH */
        int *waiters;
        size_t n_waiters;
        upgrade_reply_fn reply;
        void *reply_userdata;
        unsigned n_upgrades;
        char status[512];
        uint64_t started_usec;
        /* An exec never runs from inside another event source's callback:
         * sd-event reaps a child after its exit callback returns, and an
         * exec before that would leave the zombie to a process image that
         * does not know it. So the steps that execute run from a defer
         * source, at the start of an iteration of their own. */
        sd_event_source *defer;
        UpgradeStep step;
        BinaryIdentity checked;       /* STEP_EXEC: the new binary */
        bool finish_ok;               /* STEP_FINISH */
        char *finish_why;
};

static int upgrader_on_defer(sd_event_source *s, void *userdata);

int upgrader_new(sd_event *e, Notifier *notifier, const char *config_path, const UpgradeOps *ops, void *userdata,
                 Upgrader **ret) {
        Upgrader *u;
        int r;

        assert(e);
        assert(notifier);
        assert(config_path);
        assert(ops);
        assert(ret);

        u = calloc(1, sizeof(Upgrader));
        if (!u)
                return -ENOMEM;
        u->config_path = strdup(config_path);
        if (!u->config_path) {
                free(u);
                return -ENOMEM;
        }
        u->event = sd_event_ref(e);
        u->notifier = notifier;
        u->ops = ops;
        u->userdata = userdata;
        u->rollback_fd = -EBADF;
        binary_identity_self(&u->self);
        r = sd_event_add_defer(e, &u->defer, upgrader_on_defer, u);
        if (r >= 0)
                r = sd_event_source_set_enabled(u->defer, SD_EVENT_OFF);
        if (r < 0) {
                upgrader_free(u);
                return r;
        }
        *ret = u;
        return 0;
}

Upgrader *upgrader_free(Upgrader *u) {
        if (!u)
                return NULL;
        upgrade_check_free(u->check);
        sd_event_source_disable_unref(u->defer);
        free(u->finish_why);
        for (size_t i = 0; i < u->n_waiters; i++)
                safe_close(u->waiters[i]);
        free(u->waiters);
        safe_close(u->rollback_fd);
        free(u->binary);
        free(u->config_path);
        sd_event_unref(u->event);
        free(u);
        return NULL;
}

void upgrader_set_reply(Upgrader *u, upgrade_reply_fn reply, void *userdata) {
        assert(u);
        u->reply = reply;
        u->reply_userdata = userdata;
}

bool upgrader_busy(const Upgrader *u) {
        return u && u->phase != UPGRADE_IDLE;
}

bool upgrader_starting(const Upgrader *u) {
        return u && u->phase == UPGRADE_STARTING;
}

const char *upgrader_status(const Upgrader *u) {
        return u ? u->status : "";
}

static int upgrader_add_waiter(Upgrader *u, int fd) {
        int *n;

        if (fd < 0)
                return 0;
        n = realloc(u->waiters, (u->n_waiters + 1) * sizeof(int));
        if (!n) {
                safe_close(fd);
                return -ENOMEM;
        }
        u->waiters = n;
        u->waiters[u->n_waiters++] = fd;
        return 0;
}

/* Tells every waiter the outcome: through the reply function, else by
 * closing its fd. */
static void upgrader_answer(Upgrader *u, bool ok, const char *message) {
        for (size_t i = 0; i < u->n_waiters; i++) {
                if (u->reply)
                        u->reply(u->waiters[i], ok, message, u->reply_userdata);
                else
                        safe_close(u->waiters[i]);
        }
        free(u->waiters);
        u->waiters = NULL;
        u->n_waiters = 0;
}

/* One journal record per outcome, with both identities in
 * PREFORKD_UPGRADE= ("OLD -> NEW") and how it ended in
 * PREFORKD_UPGRADE_RESULT= (done, refused, rolled-back). */
static void upgrade_log(int level, const BinaryIdentity *from, const BinaryIdentity *to, const char *result,
                        const char *fmt, ...) _printf_(5, 6);
static void upgrade_log(int level, const BinaryIdentity *from, const BinaryIdentity *to, const char *result,
                        const char *fmt, ...) {
        char a[256], b[256], upgrade[600], res[64], message[2048];
        const char *extra[] = { upgrade, res, NULL };
        LogFields f = LOG_FIELDS_INIT;
        va_list ap;

        (void) snprintf(upgrade, sizeof upgrade, "PREFORKD_UPGRADE=%s -> %s",
                        binary_identity_format(from, a, sizeof a),
                        to ? binary_identity_format(to, b, sizeof b) : "?");
        (void) snprintf(res, sizeof res, "PREFORKD_UPGRADE_RESULT=%s", result);
        f.extra = extra;
        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof message, fmt, ap);
        va_end(ap);
        log_internal(level, 0, &f, "%s", message);
}

/* The upgrade ends without an exec (or the exec failed): the old binary
 * keeps serving as it was. */
static void upgrader_refuse(Upgrader *u, const BinaryIdentity *from, const BinaryIdentity *to, const char *why) {
        char running[256];

        u->n_upgrades++;
        (void) snprintf(u->status, sizeof u->status, "upgrade #%u refused: %s", u->n_upgrades, why);
        upgrade_log(LOG_ERR, from, to, "refused", "Upgrade refused: %s; still running %s", why,
                    binary_identity_format(&u->self, running, sizeof running));
        u->phase = UPGRADE_IDLE;
        u->check = upgrade_check_free(u->check);
        free(u->binary);
        u->binary = NULL;
        upgrader_answer(u, false, why);
}

/* The binary on disk at the path this one was started from: after a
 * package upgrade replaced the file, /proc/self/exe names the old inode as
 * "PATH (deleted)", and PATH is the new binary. */
static int upgrade_binary_path(char **ret) {
        char buf[4096];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
        size_t l;

        if (n < 0)
                return negative_errno();
        buf[n] = 0;
        l = (size_t) n;
        if (l > strlen(" (deleted)") && strcmp(buf + l - strlen(" (deleted)"), " (deleted)") == 0)
                buf[l - strlen(" (deleted)")] = 0;
        if (access(buf, X_OK) < 0)
                return negative_errno();
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

/* Everything the state hands over, in the form the next image reads. */
static int upgrader_capture(Upgrader *u, MasterState **ret) {
        _cleanup_(master_state_freep) MasterState *st = master_state_new();
        int r;

        if (!st)
                return -ENOMEM;
        st->identity = u->self;
        st->n_upgrades = u->n_upgrades;
        if (u->status[0] && !(st->last_upgrade = strdup(u->status)))
                return -ENOMEM;
        r = u->ops->capture(u->userdata, st);
        if (r < 0)
                return r;
        for (size_t i = 0; i < u->n_waiters; i++) {
                r = master_state_add_fd(st, WAITER_FD_NAME, u->waiters[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(st);
        return 0;
}

/* Executes the next image with st: exe_fd (execveat) or path. FD_CLOEXEC
 * is cleared on exactly the fds st names, the state's memfd and keep (the
 * rollback fd, or -EBADF); if the exec fails, they get it back. Returns
 * only on failure. */
static int upgrade_exec(int exe_fd, const char *path, const char *config_path, const MasterState *st, int keep) {
        _cleanup_free_ char *text = NULL, *arg_state = NULL, *arg_rollback = NULL;
        _cleanup_close_ int state_fd = -EBADF;
        _cleanup_free_ int *fds = NULL;
        size_t size, n_fds;
        int r;

        r = master_state_format(st, &text, &size);
        if (r < 0)
                return r;
        r = master_state_fds(st, &fds, &n_fds);
        if (r < 0)
                return r;
        r = memfd_new_with_data("preforkd-state", text, size, true, &state_fd);
        if (r < 0)
                return r;
        if (asprintf(&arg_state, "--deserialize=%d", state_fd) < 0 ||
            (keep >= 0 && asprintf(&arg_rollback, "--rollback=%d", keep) < 0))
                return -ENOMEM;
        char *argv[] = { (char *) (path ? path : "preforkd"), (char *) "-c", (char *) config_path, arg_state,
                         arg_rollback, NULL };

        for (size_t i = 0; i < n_fds; i++)
                (void) fd_set_cloexec(fds[i], false);
        (void) fd_set_cloexec(state_fd, false);
        if (keep >= 0)
                (void) fd_set_cloexec(keep, false);
        /* stdio is flushed: what is buffered would be lost in the exec. */
        (void) fflush(stdout);
        (void) fflush(stderr);
        if (exe_fd >= 0)
                (void) execveat(exe_fd, "", argv, environ, AT_EMPTY_PATH);
        else
                (void) execve(path, argv, environ);
        r = negative_errno();
        for (size_t i = 0; i < n_fds; i++)
                (void) fd_set_cloexec(fds[i], true);
        if (keep >= 0)
                (void) fd_set_cloexec(keep, true);
        return r;
}

static void upgrader_schedule(Upgrader *u, UpgradeStep step) {
        u->step = step;
        (void) sd_event_source_set_enabled(u->defer, SD_EVENT_ONESHOT);
}

static void upgrader_on_checked(UpgradeCheck *c, int r, const char *why, const BinaryIdentity *id, void *userdata) {
        Upgrader *u = userdata;

        u->check = upgrade_check_free(u->check);
        if (r < 0) {
                upgrader_refuse(u, &u->self, NULL, why);
                u->ops->changed(u->userdata, false);
                return;
        }
        u->checked = *id;
        upgrader_schedule(u, UPGRADE_STEP_EXEC);
}

static void upgrader_exec_new(Upgrader *u) {
        _cleanup_(master_state_freep) MasterState *st = NULL;
        _cleanup_close_ int self_fd = -EBADF;
        const BinaryIdentity *id = &u->checked;
        char from[256], to[256], reloading[64], status[600], failed[1024];
        int r;

        (void) binary_identity_format(&u->self, from, sizeof from);
        (void) binary_identity_format(id, to, sizeof to);
        log_info("Upgrade: %s passed its check; executing it in place of %s", u->binary, from);

        /* The way back: this very binary, whatever happens to its path. */
        self_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
        if (self_fd < 0)
                r = negative_errno();
        else
                r = upgrader_capture(u, &st);
        if (r >= 0) {
                st->upgrading = true;
                st->upgrade_started_usec = u->started_usec;
                (void) snprintf(reloading, sizeof reloading, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_usec());
                (void) snprintf(status, sizeof status, "Upgrading to %s", to);
                (void) notifier_send(u->notifier, reloading, status);
                r = upgrade_exec(-EBADF, u->binary, u->config_path, st, self_fd);
        }
        /* Still here: nothing changed. */
        (void) snprintf(failed, sizeof failed, "cannot execute %s: %s", u->binary, STRERROR(r));
        upgrader_refuse(u, &u->self, id, failed);
        u->ops->changed(u->userdata, st != NULL);
}

int upgrader_reject(Upgrader *u, int waiter_fd, const char *why) {
        assert(u);

        log_notice("Upgrade requested, but %s; ignoring it", why);
        if (u->reply && waiter_fd >= 0)
                u->reply(waiter_fd, false, why, u->reply_userdata);
        else
                safe_close(waiter_fd);
        return -EBUSY;
}

int upgrader_start(Upgrader *u, int waiter_fd) {
        _cleanup_(master_state_freep) MasterState *st = NULL;
        _cleanup_free_ char *text = NULL;
        char why[512];
        size_t size;
        int r;

        assert(u);

        if (u->phase != UPGRADE_IDLE)
                return upgrader_reject(u, waiter_fd, "an upgrade is already under way");
        r = upgrader_add_waiter(u, waiter_fd);
        if (r < 0)
                return r;
        u->phase = UPGRADE_CHECKING;
        u->started_usec = now_usec();
        r = upgrade_binary_path(&u->binary);
        if (r < 0)
                (void) snprintf(why, sizeof why, "cannot find the binary to upgrade to: %s", STRERROR(r));
        else {
                r = upgrader_capture(u, &st);
                if (r >= 0)
                        r = master_state_format(st, &text, &size);
                if (r >= 0)
                        r = upgrade_check_start(u->event, u->binary, u->config_path, text, size, upgrader_on_checked,
                                                u, &u->check);
                if (r < 0)
                        (void) snprintf(why, sizeof why, "cannot start checking %s: %s", u->binary, STRERROR(r));
        }
        if (r < 0) {
                upgrader_refuse(u, &u->self, NULL, why);
                return r;
        }
        (void) snprintf(u->status, sizeof u->status, "upgrade #%u: checking %s", u->n_upgrades + 1, u->binary);
        log_info("Upgrade requested: checking %s", u->binary);
        return 0;
}

void upgrader_cancel(Upgrader *u, const char *why) {
        if (!u || u->phase == UPGRADE_IDLE)
                return;
        log_info("Upgrade cancelled: %s", why);
        u->step = UPGRADE_STEP_NONE;
        (void) sd_event_source_set_enabled(u->defer, SD_EVENT_OFF);
        u->check = upgrade_check_free(u->check);
        free(u->binary);
        u->binary = NULL;
        u->rollback_fd = safe_close(u->rollback_fd);
        u->phase = UPGRADE_IDLE;
        upgrader_answer(u, false, why);
}

void upgrader_resume(Upgrader *u, const MasterState *st, int rollback_fd) {
        char from[256], to[256];

        assert(u);
        assert(st);

        u->n_upgrades = st->n_upgrades;
        (void) snprintf(u->status, sizeof u->status, "%s", st->last_upgrade ? st->last_upgrade : "");
        for (size_t i = 0; i < st->n_fds; i++)
                if (strcmp(st->fds[i].name, WAITER_FD_NAME) == 0)
                        (void) upgrader_add_waiter(u, st->fds[i].fd);

        if (rollback_fd >= 0) {
                /* Kept open, not inherited: no worker or check needs it,
                 * and the exec back names it itself. */
                (void) fd_set_cloexec(rollback_fd, true);
                u->phase = UPGRADE_STARTING;
                u->rollback_fd = rollback_fd;
                u->other = st->identity;
                u->started_usec = st->upgrade_started_usec;
                (void) snprintf(u->status, sizeof u->status, "upgrade #%u: starting the workers of %s",
                                u->n_upgrades + 1, u->self.version);
                log_info("Upgrade: %s took over from %s; starting a new generation from %s",
                         binary_identity_format(&u->self, to, sizeof to),
                         binary_identity_format(&st->identity, from, sizeof from), u->config_path);
                return;
        }
        if (st->upgrade_refused) {
                u->n_upgrades++;
                (void) snprintf(u->status, sizeof u->status, "upgrade #%u refused: %s", u->n_upgrades,
                                st->upgrade_refused_reason);
                upgrade_log(LOG_ERR, &u->self, &st->upgrade_target, "rolled-back",
                            "Upgrade to %s failed: %s; rolled back to %s, the old workers kept serving",
                            binary_identity_format(&st->upgrade_target, to, sizeof to), st->upgrade_refused_reason,
                            binary_identity_format(&u->self, from, sizeof from));
                upgrader_answer(u, false, st->upgrade_refused_reason);
                return;
        }
        log_info("Resumed from the state of %s", binary_identity_format(&st->identity, from, sizeof from));
        upgrader_answer(u, false, "resumed without an upgrade");
}

void upgrader_finish(Upgrader *u, bool ok, const char *why) {
        assert(u);
        assert(u->phase == UPGRADE_STARTING);

        u->finish_ok = ok;
        free(u->finish_why);
        u->finish_why = strdup(why ? why : "the new generation failed");
        upgrader_schedule(u, UPGRADE_STEP_FINISH);
}

static void upgrader_finish_now(Upgrader *u) {
        _cleanup_(master_state_freep) MasterState *st = NULL;
        const char *why = u->finish_why ? u->finish_why : "out of memory";
        char from[256], to[256], message[1024];
        int r;

        if (u->finish_ok) {
                u->n_upgrades++;
                (void) snprintf(u->status, sizeof u->status, "upgrade #%u done: %s -> %s", u->n_upgrades,
                                u->other.version, u->self.version);
                upgrade_log(LOG_INFO, &u->other, &u->self, "done", "Upgraded from %s to %s in %.3fs",
                            binary_identity_format(&u->other, from, sizeof from),
                            binary_identity_format(&u->self, to, sizeof to),
                            (double) (now_usec() - u->started_usec) / 1e6);
                u->rollback_fd = safe_close(u->rollback_fd);
                u->phase = UPGRADE_IDLE;
                (void) snprintf(message, sizeof message, "upgraded from %s to %s", u->other.version, u->self.version);
                upgrader_answer(u, true, message);
                return;
        }

        log_error("Upgrade to %s failed: %s; going back to %s",
                  binary_identity_format(&u->self, to, sizeof to), why,
                  binary_identity_format(&u->other, from, sizeof from));
        r = upgrader_capture(u, &st);
        if (r >= 0) {
                st->upgrade_refused = true;
                st->upgrade_target = u->self;
                st->upgrade_refused_reason = strdup(why);
                if (!st->upgrade_refused_reason)
                        r = -ENOMEM;
        }
        if (r >= 0)
                r = upgrade_exec(u->rollback_fd, NULL, u->config_path, st, -EBADF);
        /* The old binary cannot be executed: this one keeps the old
         * generation serving, which the failed start left current. */
        (void) snprintf(message, sizeof message, "%s; and the old binary cannot be executed again (%s), so %s "
                        "serves the old generation", why, STRERROR(r), u->self.version);
        u->rollback_fd = safe_close(u->rollback_fd);
        upgrader_refuse(u, &u->other, &u->self, message);
}

static int upgrader_on_defer(sd_event_source *s, void *userdata) {
        Upgrader *u = userdata;
        UpgradeStep step = u->step;

        u->step = UPGRADE_STEP_NONE;
        switch (step) {
        case UPGRADE_STEP_EXEC:
                upgrader_exec_new(u);
                break;
        case UPGRADE_STEP_FINISH:
                upgrader_finish_now(u);
                u->ops->changed(u->userdata, true);
                break;
        case UPGRADE_STEP_NONE:
                break;
        }
        return 0;
}

int upgrade_read_state(int fd, MasterState **ret, char **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = fd_read_all(fd, STATE_MAX, &text, &size);
        if (r < 0) {
                if (ret_error && asprintf(ret_error, "cannot read the state in fd %d: %s", fd, STRERROR(r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        return master_state_parse(text, size, ret, ret_error);
}

int upgrade_hand_back(int rollback_fd, int state_fd, const char *config_path, const char *why) {
        _cleanup_free_ char *text = NULL, *record = NULL, *arg = NULL;
        _cleanup_close_ int fd = -EBADF;
        BinaryIdentity self;
        SerializeWriter w;
        size_t size, n;
        int r;

        assert(rollback_fd >= 0);
        assert(why);

        binary_identity_self(&self);
        log_error("Upgrade to %s failed: %s; going back to the old binary", self.version, why);
        r = fd_read_all(state_fd, STATE_MAX, &text, &size);
        if (r < 0)
                return r;
        /* The record goes in before the closing "end": the state is the
         * old binary's own, as it wrote it, plus why it is back. */
        if (size < 5 || strcmp(text + size - 5, "\nend\n") != 0)
                return -EBADMSG;
        r = serialize_writer_init(&w, STATE_FORMAT_MAJOR, STATE_FORMAT_MINOR);
        if (r < 0)
                return r;
        serialize_record(&w, "upgrade-refused");
        serialize_str(&w, "reason", why);
        serialize_str(&w, "version", self.version);
        serialize_str(&w, "build-id", self.build_id);
        r = serialize_finish(&w, &record, &n);
        if (r < 0)
                return r;
        /* Skip the new record's own header line. */
        const char *body = strchr(record, '\n');
        if (!body || asprintf(&arg, "%.*s%s", (int) (size - 4), text, body + 1) < 0)
                return -ENOMEM;
        r = memfd_new_with_data("preforkd-state", arg, strlen(arg), false, &fd);
        if (r < 0)
                return r;
        free(arg);
        if (asprintf(&arg, "--deserialize=%d", fd) < 0)
                return -ENOMEM;
        char *argv[] = { (char *) "preforkd", (char *) "-c", (char *) config_path, arg, NULL };
        /* The old state has been read; the exec must not leak it. */
        (void) fd_set_cloexec(state_fd, true);
        (void) fflush(stderr);
        (void) execveat(rollback_fd, "", argv, environ, AT_EMPTY_PATH);
        return negative_errno();
}
