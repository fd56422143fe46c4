/* SPDX-License-Identifier: MIT */
/* The identity and the built-in faults of a test build of preforkd
 * (src/core/version.h), set by tests/upgrade/meson.build. */
const char preforkd_test_version[] = VARIANT_VERSION;
const char preforkd_test_faults[] = VARIANT_FAULTS;
