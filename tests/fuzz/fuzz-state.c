/* SPDX-License-Identifier: MIT */
/* libFuzzer entry point for the state a master hands to the binary it
 * executes (src/core/state.h): the line format and the checks of a parsed
 * state. What parses must format again into text that parses to the same
 * text: the round trip an upgrade and its rollback make. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        MasterState *st = NULL, *again = NULL;
        char *err = NULL, *text = NULL, *text2 = NULL;
        size_t n, n2;

        if (size > 1024 * 1024)
                return 0;
        if (master_state_parse((const char *) data, size, &st, &err) < 0) {
                free(err);
                return 0;
        }
        assert(!err);
        if (master_state_format(st, &text, &n) >= 0) {
                int r = master_state_parse(text, n, &again, &err);
                assert(r >= 0);
                assert(master_state_format(again, &text2, &n2) >= 0);
                assert(n == n2 && memcmp(text, text2, n) == 0);
        }
        free(text);
        free(text2);
        master_state_free(again);
        master_state_free(st);
        return 0;
}
