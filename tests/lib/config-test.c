/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "config-test.h"
#include "macros.h"
#include "run.h"

static char dir[256];
static char path[512];
static const char *frame_head = "", *frame_tail = "";

void td_conf_setup(void) {
        const char *tmp = getenv("TMPDIR");

        snprintf(dir, sizeof(dir), "%s/preforkd-config-XXXXXX", tmp ? tmp : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/test.conf", dir);
        frame_head = frame_tail = "";
}

void td_conf_teardown(void) {
        char cmd[512];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

const char *td_conf_dir(void) {
        return dir;
}

const char *td_conf_path(void) {
        return path;
}

void td_conf_write_file(const char *name, const char *text, mode_t mode) {
        char p[512];
        FILE *f;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        f = fopen(p, "we");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(p, mode), 0);
}

void td_conf_mkdir(const char *name) {
        char p[512];

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        ck_assert_int_eq(mkdir(p, 0755), 0);
}

void td_conf_frame(const char *head, const char *tail) {
        assert(head);
        assert(tail);
        frame_head = head;
        frame_tail = tail;
}

int td_conf_load(const char *text, Config **ret, char ***ret_errors) {
        FILE *f = fopen(path, "we");

        ck_assert_ptr_nonnull(f);
        fputs(frame_head, f);
        fputs(text, f);
        fputs(frame_tail, f);
        ck_assert_int_eq(fclose(f), 0);
        return config_load(path, ret, ret_errors);
}

void td_conf_assert_error(const char *text, unsigned line, const char *setting, const char *what) {
        Config *c = NULL;
        char **errors = NULL;

        ck_assert_int_eq(td_conf_load(text, &c, &errors), -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_msg(td_errors_have(errors, path, line, setting, what), "no error '%s:%u: %s: ...%s'", path, line,
                      setting, what);
        strv_free(errors);
}
