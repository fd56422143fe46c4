/* SPDX-License-Identifier: MIT */
#include <assert.h>

#include "hunch.h"
#include "macros.h"

bool hunch_try_first(Hunch *h) {
        assert(h);
        return h->score >= 0 || ++h->probe % HUNCH_PROBE == 0;
}

void hunch_learn(Hunch *h, bool found) {
        assert(h);
        if (found)
                h->score = MIN(h->score + 1, HUNCH_MAX);
        else
                h->score = MAX(h->score - 1, -HUNCH_MAX);
}
