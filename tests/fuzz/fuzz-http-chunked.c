/* SPDX-License-Identifier: MIT */
/* libFuzzer entry point for the chunked body decoder. Besides memory
 * safety (ASan/UBSan), it checks properties: the outcome (done, needing
 * more, or which error) and where the body ends do not depend on how the
 * input is split into reads; a body never takes more than it was given or
 * than the limit; data is never more than what was consumed. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small enough that the fuzzer reaches the limit too. */
#define LIMIT 4096

typedef struct Outcome {
        int r;
        size_t used;
        uint64_t data;
} Outcome;

/* Feeds buf in pieces of at most step bytes (0: all at once). */
static Outcome run(const char *buf, size_t n, size_t step) {
        HttpChunked d;
        Outcome o = { 0 };
        size_t i = 0;

        http_chunked_init(&d, LIMIT);
        do {
                size_t k = step == 0 || step > n - i ? n - i : step, used;
                const char *why = NULL;

                o.r = http_chunked_feed(&d, buf + i, k, &used, &why);
                assert(used <= k);
                o.used += used;
                if (o.r < 0) {
                        assert(why);
                        assert(o.r == -EBADMSG || o.r == -EFBIG);
                } else if (o.r == 0)
                        assert(used == k);
                i += k;
        } while (o.r == 0 && i < n);

        assert(http_chunked_done(&d) == (o.r == 1));
        assert(d.data <= d.fed && d.fed <= LIMIT);
        if (o.r == 1)
                assert(d.fed == o.used);
        o.data = d.data;
        return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        /* The first byte picks the size of the reads; the rest is the body. */
        size_t step = data[0] % 17 + 1;
        size -= 1;

        /* An exact-size copy, so that ASan sees any read past the end. */
        char *buf = malloc(size ? size : 1);
        assert(buf);
        memcpy(buf, data + 1, size);

        Outcome whole = run(buf, size, 0);
        Outcome split = run(buf, size, step);
        assert(whole.r == split.r);
        if (whole.r == 1) {
                assert(whole.used == split.used && whole.data == split.data);
                assert(whole.used <= size);
        }

        free(buf);
        return 0;
}
