/* SPDX-License-Identifier: MIT */
#pragma once

/* The daemon logging to a journald stand-in that the test binds
 * (PREFORKD_JOURNAL_SOCKET), and the records that arrive there: for tests
 * of the journal fields. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "basic/journal-reader.h"
#include "itest.h"

static const char *const journal_env[] = {
        "PREFORKD_LOG_TARGET=journal",
        "PREFORKD_JOURNAL_SOCKET=@DIR@/journal",
        NULL,
};

/* Binds the journal stand-in, writes conf and starts the daemon logging to
 * it; returns the socket once READY=1 came. The startup records are read
 * up to "Ready: ...", which makes room in the socket's queue
 * (net.unix.max_dgram_qlen datagrams, as few as 10) for what follows; the
 * port of the first listener (from its "Listening on" record: nothing goes
 * to stderr) is stored in *ret_port. */
static inline int start_journal(TestDaemon **ret, const char *conf, uint16_t *ret_port) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int j = -EBADF;
        bool ready = false;
        TestDaemon *d;

        TD_OK(NULL, td_new(ret));
        d = *ret;
        path = td_subst(d, "@DIR@/journal");
        TD_ASSERT(d, path);
        j = TD_OK(d, jr_bind(path));
        TD_OK(d, td_write_config(d, conf));
        TD_OK(d, td_start(d, &(TdStartOptions) { .env = journal_env }));
        TD_OK(d, td_wait_ready(d, TD_TIMEOUT));
        *ret_port = 0;
        for (unsigned i = 0; i < 1000 && !ready; i++) {
                JrRecord r = { .n = 0 };
                const JrField *m;
                unsigned p;

                TD_OK(d, jr_recv(j, TD_TIMEOUT, &r));
                m = jr_get(&r, "MESSAGE");
                TD_ASSERT(d, m);
                if (*ret_port == 0 && sscanf(m->value, "Listening on 127.0.0.1:%u ", &p) == 1)
                        *ret_port = (uint16_t) p;
                ready = strncmp(m->value, "Ready: generation 1", 19) == 0;
                jr_record_done(&r);
        }
        TD_ASSERT_MSG(d, ready && *ret_port > 0, "no 'Listening on' and 'Ready' records");
        TD_ASSERT_MSG(d, !td_log_contains(d, "Listening on"), "records went to stderr instead");
        return TAKE_FD(j);
}

/* Reads records until one has key=value (and, unless NULL, a field named
 * also); the others are dropped. Each wait for the next record is bounded,
 * and so is their number: the daemon only logs what the test makes it. */
static inline void wait_record(TestDaemon *d, int j, const char *key, const char *value, const char *also, JrRecord *ret) {
        for (unsigned i = 0; i < 1000; i++) {
                const JrField *f;
                int k = jr_recv(j, TD_TIMEOUT, ret);

                TD_ASSERT_MSG(d, k != -EAGAIN, "no journal record with %s=%s", key, value);
                TD_OK(d, k);
                f = jr_get(ret, key);
                if (f && strcmp(f->value, value) == 0 && (!also || jr_get(ret, also)))
                        return;
                jr_record_done(ret);
        }
        ck_abort_msg("no journal record with %s=%s among a thousand", key, value);
}

static inline void expect_fields(TestDaemon *d, const JrRecord *r, const char *const *keys, const char *const *values) {
        for (size_t i = 0; keys[i]; i++) {
                const JrField *f = jr_get(r, keys[i]);

                TD_ASSERT_MSG(d, f && strcmp(f->value, values[i]) == 0, "%s=%s, expected %s", keys[i],
                              f ? f->value : "(missing)", values[i]);
        }
}
