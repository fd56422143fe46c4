/* SPDX-License-Identifier: MIT */
#include <sys/random.h>

#include "random-util.h"
#include "time-util.h"

uint64_t random_u64(void) {
        static uint64_t counter;
        uint64_t v;

        if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t) sizeof v)
                return v;
        /* splitmix64 of the clock and a counter. */
        v = now_usec() + ++counter * UINT64_C(0x9e3779b97f4a7c15);
        v = (v ^ (v >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        v = (v ^ (v >> 27)) * UINT64_C(0x94d049bb133111eb);
        return v ^ (v >> 31);
}
