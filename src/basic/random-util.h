/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/* 64 random bits from getrandom(2), or from the clock and a counter when
 * the kernel has none to give yet: for spreading things out (jitter),
 * never for secrets. */
uint64_t random_u64(void);
