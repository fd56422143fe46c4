/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"

/* The version this binary reports: -V, and its identity in an upgrade
 * (upgrade.h). Builds for the upgrade tests (tests/upgrade/, compiled with
 * PREFORKD_TEST_FAULTS) carry a version of their own and faults to inject,
 * so that the tests have a second binary to upgrade to and broken ones to
 * roll back from. The faults are those the executable names in
 * preforkd_test_faults plus those in $PREFORKD_TEST_FAULT; the daemon's
 * own build compiles none of it. */
#ifdef PREFORKD_TEST_FAULTS
extern const char preforkd_test_version[];
extern const char preforkd_test_faults[];
#define PREFORKD_VERSION preforkd_test_version
static inline bool test_fault(const char *name) {
        const char *env = getenv("PREFORKD_TEST_FAULT");

        return strstr(preforkd_test_faults, name) || (env && strstr(env, name));
}
#else
#define PREFORKD_VERSION PACKAGE_VERSION
static inline bool test_fault(const char *name) {
        return false;
}
#endif
