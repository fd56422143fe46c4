/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec-config.h"

/* What a program searched in PATH is found with when the master has no
 * PATH: systemd's default for services. */
#define EXEC_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *const exec_keys[] = {
        "command", "environment", "working_directory", "mode", "ready", "ready_timeout",
        "watchdog_timeout", "stop_signal", "stdout", "stderr", NULL,
};

static const char *const mode_names[] = {
        [EXEC_MODE_POOL] = "pool",
        [EXEC_MODE_CONNECTION] = "connection",
        NULL,
};

/* In the order of WorkerReady after WORKER_READY_ACCEPT_LOOP. */
static const char *const ready_names[] = { "notify", "listening", "immediate", NULL };
static const WorkerReady ready_values[] = { WORKER_READY_NOTIFY, WORKER_READY_LISTENING, WORKER_READY_IMMEDIATE };

/* In the order of WorkerOutput. */
static const char *const output_names[] = {
        [WORKER_OUTPUT_INHERIT] = "inherit",
        [WORKER_OUTPUT_JOURNAL] = "journal",
        [WORKER_OUTPUT_NULL] = "null",
        NULL,
};

ExecConfig *exec_config_free(ExecConfig *c) {
        if (!c)
                return NULL;
        strv_free(c->command);
        free(c->path);
        strv_free(c->environment);
        free(c->working_directory);
        free(c);
        return NULL;
}

int exec_signal_from_string(const char *s) {
        char *end;
        long v;

        if (!s || !*s)
                return -EINVAL;
        v = strtol(s, &end, 10);
        if (*end == '\0')
                return v >= 1 && v < _NSIG && v != SIGKILL && v != SIGSTOP ? (int) v : -EINVAL;
        if (strncmp(s, "SIG", 3) == 0)
                s += 3;
        for (int sig = 1; sig < SIGRTMIN; sig++) {
                const char *name = sigabbrev_np(sig);
                if (name && strcmp(name, s) == 0)
                        return IN_SET(sig, SIGKILL, SIGSTOP) ? -EINVAL : sig;
        }
        return -EINVAL;
}

/* An array of strings (an empty one allowed) as a NULL-terminated list;
 * each element that is not a string is an error of its own. */
static int get_string_array(ConfigParser *p, const config_setting_t *s, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int n, r = 0;

        if (!IN_SET(config_setting_type(s), CONFIG_TYPE_ARRAY, CONFIG_TYPE_LIST)) {
                config_error(p, s, NULL, "must be an array of strings [ \"...\", ... ], not %s",
                             config_type_name(config_setting_type(s)));
                return -EINVAL;
        }
        n = config_setting_length(s);
        l = calloc((size_t) n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);

                if (config_setting_type(e) != CONFIG_TYPE_STRING) {
                        config_error(p, e, NULL, "must be a string, not %s", config_type_name(config_setting_type(e)));
                        r = -EINVAL;
                        continue;
                }
                l[i] = strdup(config_setting_get_string(e));
                if (!l[i])
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

/* Whether path names an executable regular file (for the master's user:
 * the workers' may differ, which the exec itself then reports). */
static int check_executable(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return negative_errno();
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EACCES;
        if (access(path, X_OK) < 0)
                return negative_errno();
        return 0;
}

/* command[0] as the program to execute: a name with a slash is a path
 * (relative to the configuration file's directory), one without is
 * looked up in PATH now, like a shell would, so that -t tells a missing
 * program and every worker executes the same file. */
static int resolve_command(ConfigParser *p, const config_setting_t *e, const char *name, char **ret) {
        _cleanup_free_ char *search = NULL;
        const char *path_env;
        int r;

        if (!*name) {
                config_error(p, e, NULL, "the program name must not be empty");
                return -EINVAL;
        }
        if (strchr(name, '/')) {
                _cleanup_free_ char *abs = config_resolve_path(p, name);

                if (!abs)
                        return -ENOMEM;
                r = check_executable(abs);
                if (r < 0) {
                        config_error(p, e, NULL, "cannot execute \"%s\": %s", abs, strerror(-r));
                        return -EINVAL;
                }
                *ret = TAKE_PTR(abs);
                return 0;
        }
        path_env = getenv("PATH");
        search = strdup(path_env && *path_env ? path_env : EXEC_DEFAULT_PATH);
        if (!search)
                return -ENOMEM;
        for (char *save = NULL, *dir = strtok_r(search, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *candidate = NULL;

                /* A relative PATH entry would mean whatever the worker's
                 * directory is: never searched. */
                if (dir[0] != '/')
                        continue;
                if (asprintf(&candidate, "%s/%s", dir, name) < 0)
                        return -ENOMEM;
                if (check_executable(candidate) >= 0) {
                        *ret = TAKE_PTR(candidate);
                        return 0;
                }
        }
        config_error(p, e, NULL, "program \"%s\" not found (or not executable) in PATH %s", name,
                     path_env && *path_env ? path_env : EXEC_DEFAULT_PATH);
        return -EINVAL;
}

static int parse_command(ConfigParser *p, const config_setting_t *g, ExecConfig *c) {
        const config_setting_t *s = config_lookup_member(p, g, "command", true);
        const char *base;
        int r;

        if (!s)
                return -EINVAL;
        r = get_string_array(p, s, &c->command);
        if (r < 0)
                return r;
        if (!c->command[0]) {
                config_error(p, s, NULL, "must name the program to run: [ \"program\", \"argument\", ... ]");
                return -EINVAL;
        }
        r = resolve_command(p, config_setting_get_elem(s, 0), c->command[0], &c->path);
        if (r < 0)
                return r;
        base = strrchr(c->command[0], '/');
        base = base ? base + 1 : c->command[0];
        (void) snprintf(c->identifier, sizeof c->identifier, "%s", *base ? base : c->command[0]);
        return 0;
}

static int parse_environment(ConfigParser *p, const config_setting_t *g, ExecConfig *c) {
        const config_setting_t *s = config_setting_get_member(g, "environment");
        int r = 0, k;

        if (!s) {
                c->environment = calloc(1, sizeof(char *));
                return c->environment ? 0 : -ENOMEM;
        }
        k = get_string_array(p, s, &c->environment);
        if (k < 0)
                return k;
        for (size_t i = 0; c->environment[i]; i++) {
                const char *eq = strchr(c->environment[i], '=');

                if (!eq || eq == c->environment[i]) {
                        config_error(p, config_setting_get_elem(s, (unsigned) i), NULL,
                                     "\"%s\" is not an assignment NAME=value", c->environment[i]);
                        r = -EINVAL;
                }
        }
        return r;
}

static int parse_working_directory(ConfigParser *p, const config_setting_t *g, ExecConfig *c) {
        _cleanup_free_ char *v = NULL;
        struct stat st;
        int r;

        r = config_get_string(p, g, "working_directory", false, "/", &v);
        if (r < 0)
                return r;
        c->working_directory = config_resolve_path(p, v);
        if (!c->working_directory)
                return -ENOMEM;
        if (stat(c->working_directory, &st) < 0) {
                config_error(p, config_setting_get_member(g, "working_directory"), NULL, "cannot use \"%s\": %s",
                             c->working_directory, strerror(errno));
                return -EINVAL;
        }
        if (!S_ISDIR(st.st_mode)) {
                config_error(p, config_setting_get_member(g, "working_directory"), NULL, "\"%s\" is not a directory",
                             c->working_directory);
                return -EINVAL;
        }
        return 0;
}

static int parse_ready(ConfigParser *p, const config_setting_t *g, ExecConfig *c) {
        int i = 2, r;

        r = config_get_enum(p, g, "ready", ready_names, 2, &i);
        if (r < 0)
                return r;
        c->ready = ready_values[i];
        return 0;
}

static int parse_stop_signal(ConfigParser *p, const config_setting_t *g, ExecConfig *c) {
        _cleanup_free_ char *v = NULL;
        int r;

        r = config_get_string(p, g, "stop_signal", false, "TERM", &v);
        if (r < 0)
                return r;
        c->stop_signal = exec_signal_from_string(v);
        if (c->stop_signal < 0) {
                config_error(p, config_setting_get_member(g, "stop_signal"), NULL,
                             "\"%s\" is not a signal that can be caught (\"TERM\", \"INT\", \"QUIT\", ...)", v);
                return -EINVAL;
        }
        return 0;
}

/* Keys that mean something in pool mode only. */
static int check_pool_only(ConfigParser *p, const config_setting_t *g, const ExecConfig *c) {
        static const char *const pool_only[] = { "ready", "ready_timeout", "watchdog_timeout", "stop_signal", "stdout", NULL };
        int r = 0;

        if (c->mode == EXEC_MODE_POOL)
                return 0;
        for (const char *const *k = pool_only; *k; k++) {
                const config_setting_t *s = config_setting_get_member(g, *k);
                if (!s)
                        continue;
                config_error(p, s, NULL, "only valid with mode = \"pool\"%s",
                             strcmp(*k, "stdout") == 0 ? ": in connection mode the program's stdout is the connection" : "");
                r = -EINVAL;
        }
        return r;
}

int exec_config_parse(ConfigParser *p, const config_setting_t *service, const config_setting_t *group,
                      ExecConfig **ret) {
        _cleanup_(exec_config_freep) ExecConfig *c = NULL;
        int mode = EXEC_MODE_POOL, out = WORKER_OUTPUT_JOURNAL, err = WORKER_OUTPUT_JOURNAL, r = 0, k;

        assert(p);
        assert(ret);

        if (!group) {
                config_error(p, service, "exec", "missing required group (at least command = [ \"...\" ])");
                return -EINVAL;
        }
        c = calloc(1, sizeof(ExecConfig));
        if (!c)
                return -ENOMEM;
        config_check_keys(p, group, exec_keys);

        k = parse_command(p, group, c);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                r = k;
        k = parse_environment(p, group, c);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                r = k;
        k = parse_working_directory(p, group, c);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                r = k;
        if (config_get_enum(p, group, "mode", mode_names, EXEC_MODE_POOL, &mode) < 0)
                r = -EINVAL;
        c->mode = (ExecMode) mode;
        if (parse_ready(p, group, c) < 0)
                r = -EINVAL;
        if (config_get_duration(p, group, "ready_timeout", 0.001, 3600, 30, &c->ready_timeout_usec) < 0)
                r = -EINVAL;
        if (config_get_duration(p, group, "watchdog_timeout", 0, 3600, 0, &c->watchdog_usec) < 0)
                r = -EINVAL;
        if (parse_stop_signal(p, group, c) < 0)
                r = -EINVAL;
        if (config_get_enum(p, group, "stdout", output_names, WORKER_OUTPUT_JOURNAL, &out) < 0)
                r = -EINVAL;
        if (config_get_enum(p, group, "stderr", output_names, WORKER_OUTPUT_JOURNAL, &err) < 0)
                r = -EINVAL;
        c->output[0] = (WorkerOutput) out;
        c->output[1] = (WorkerOutput) err;
        if (check_pool_only(p, group, c) < 0)
                r = -EINVAL;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

void exec_config_policy(const ExecConfig *c, WorkerPolicy *policy) {
        assert(policy);

        if (!c)
                return;
        policy->own_process_group = true;
        policy->output[1] = c->output[1];
        (void) snprintf(policy->identifier, sizeof policy->identifier, "%s", c->identifier);
        if (c->mode == EXEC_MODE_CONNECTION)
                /* The worker is our accept loop; a stop lets it finish the
                 * connection its program serves. Its programs are in its
                 * group, so the SIGKILL after shutdown_timeout takes them. */
                return;
        policy->ready = c->ready;
        policy->ready_timeout_usec = c->ready_timeout_usec;
        policy->watchdog_usec = c->watchdog_usec;
        policy->stop_signal = c->stop_signal;
        policy->stop_signal_to_group = true;
        policy->output[0] = c->output[0];
}
