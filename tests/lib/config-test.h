/* SPDX-License-Identifier: MIT */
#pragma once

/* The tests of config_load(): a config text written to test.conf in a
 * temporary directory of the test's own, loaded as the daemon loads it, and
 * its errors checked as the user reads them, "PATH:LINE: SETTING: ...". The
 * directory is per test (a check fixture); relative paths in a config
 * resolve against it, so the files a test's config names go there too.
 * (td_conf_*, as td_config_* are TestDaemon's, in daemon.h.) */

#include <sys/types.h>

#include "config.h"

/* For tcase_add_checked_fixture(): td_conf_setup() creates the directory
 * (preforkd-config-XXXXXX under $TMPDIR, or /tmp) and clears the frame;
 * td_conf_teardown() removes the directory and all in it. A suite with
 * files of its own calls td_conf_setup() first in its own setup. */
void td_conf_setup(void);
void td_conf_teardown(void);

/* The directory, and the config file in it. */
const char *td_conf_dir(void);
const char *td_conf_path(void);

/* Creates the file name in the directory, holding text, with mode. */
void td_conf_write_file(const char *name, const char *text, mode_t mode);
/* Creates the directory name in the directory. */
void td_conf_mkdir(const char *name);

/* Sets what td_conf_load() writes before and after each text until the
 * next td_conf_setup(): for a suite whose texts all are one part of a
 * config (a service's body, say), so that its line numbers count from
 * head's. head and tail must outlive the test. */
void td_conf_frame(const char *head, const char *tail);

/* Writes the (framed) text to td_conf_path() and returns config_load()'s
 * result, *ret and *ret_errors as config_load() leaves them. */
int td_conf_load(const char *text, Config **ret, char ***ret_errors);

/* Asserts that the (framed) text fails to load with -EINVAL, no Config,
 * and an error that starts "PATH:LINE: SETTING: " (td_errors_have()) and
 * contains what. */
void td_conf_assert_error(const char *text, unsigned line, const char *setting, const char *what);
