/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#define USEC_INFINITY UINT64_MAX

/* CLOCK_MONOTONIC in microseconds. */
uint64_t now_usec(void);
/* CLOCK_REALTIME in microseconds: for times shown to people. */
uint64_t now_realtime_usec(void);
