/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "exec-env.h"
#include "macros.h"

/* Name prefixes (ending in '_') and whole names. */
static const char *const private_prefixes[] = { "WATCHDOG_", "LISTEN_", "PREFORKD_", "EINHORN_", NULL };
static const char *const private_names[] = {
        "NOTIFY_SOCKET", "SERVER_STARTER_PORT", "REMOTE_ADDR", "REMOTE_PORT", "LOCAL_ADDR", "LOCAL_PORT",
        "TCPREMOTEIP", "TCPREMOTEPORT", "TCPLOCALIP", "TCPLOCALPORT", "PROTO", NULL,
};

static size_t name_len(const char *entry) {
        const char *eq = strchr(entry, '=');
        return eq ? (size_t) (eq - entry) : strlen(entry);
}

static bool name_is(const char *entry, size_t len, const char *name) {
        return strlen(name) == len && memcmp(entry, name, len) == 0;
}

bool exec_env_is_private(const char *entry, bool keep_journal_stream) {
        size_t len = name_len(entry);

        assert(entry);

        for (const char *const *p = private_prefixes; *p; p++)
                if (len >= strlen(*p) && strncmp(entry, *p, strlen(*p)) == 0)
                        return true;
        for (const char *const *n = private_names; *n; n++)
                if (name_is(entry, len, *n))
                        return true;
        return !keep_journal_stream && name_is(entry, len, "JOURNAL_STREAM");
}

/* Sets entry in l (n entries, room for one more and the NULL), replacing
 * one of the same name. Takes entry. */
static void env_set(char **l, size_t *n, char *entry) {
        size_t len = name_len(entry);

        for (size_t i = 0; i < *n; i++)
                if (name_len(l[i]) == len && memcmp(l[i], entry, len) == 0) {
                        free(l[i]);
                        l[i] = entry;
                        return;
                }
        l[(*n)++] = entry;
        l[*n] = NULL;
}

int exec_env_build(char *const *base, bool keep_journal_stream, char *const *const *layers, size_t n_layers,
                   char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t max = 1, n = 0;

        assert(layers || n_layers == 0);
        assert(ret);

        for (size_t i = 0; base && base[i]; i++)
                max++;
        for (size_t k = 0; k < n_layers; k++)
                for (size_t i = 0; layers[k] && layers[k][i]; i++)
                        max++;
        l = calloc(max, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; base && base[i]; i++) {
                char *e;

                /* An entry without '=' is no variable: dropped. */
                if (!strchr(base[i], '=') || exec_env_is_private(base[i], keep_journal_stream))
                        continue;
                e = strdup(base[i]);
                if (!e)
                        return -ENOMEM;
                env_set(l, &n, e);
        }
        for (size_t k = 0; k < n_layers; k++)
                for (size_t i = 0; layers[k] && layers[k][i]; i++) {
                        char *e;

                        if (!strchr(layers[k][i], '='))
                                continue;
                        e = strdup(layers[k][i]);
                        if (!e)
                                return -ENOMEM;
                        env_set(l, &n, e);
                }
        *ret = TAKE_PTR(l);
        return 0;
}
