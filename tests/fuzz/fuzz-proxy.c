/* SPDX-License-Identifier: MIT */
/* libFuzzer entry point for the PROXY protocol parser, in each mode.
 * Besides memory safety (ASan/UBSan), it checks properties: a complete
 * header is judged by its own bytes only (the same result without what
 * follows it), every shorter prefix of it is "need more", "need more"
 * always leaves room to read, and a parsed address is of a family the
 * connection can have. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "macros.h"
#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_address(const struct sockaddr_storage *ss, socklen_t len) {
        assert(len > 0 && len <= sizeof *ss);
        assert(IN_SET(ss->ss_family, AF_INET, AF_INET6, AF_UNIX));
}

static void check_mode(const uint8_t *buf, size_t size, ProxyMode mode) {
        ProxyHeader h, again;
        const char *why = NULL;
        int r = proxy_parse(buf, size, mode, &h, &why);

        if (r < 0) {
                assert(r == -EBADMSG && why && *why);
                return;
        }
        if (r == 0) {
                size_t bound = proxy_header_bound(buf, size);
                assert(bound > size && bound <= PROXY_HEADER_MAX);
                return;
        }
        assert((size_t) r <= size && h.length == (size_t) r);
        assert(h.version == 1 || h.version == 2);
        assert(mode == PROXY_ANY || (mode == PROXY_V1) == (h.version == 1));
        assert(h.version != 1 || h.length <= PROXY_V1_MAX);
        if (!h.local) {
                check_address(&h.source, h.source_len);
                check_address(&h.destination, h.destination_len);
                assert(h.source.ss_family == h.destination.ss_family);
        }
        assert(proxy_parse(buf, (size_t) r, mode, &again, &why) == r);
        assert(again.local == h.local && again.source_len == h.source_len &&
               memcmp(&again.source, &h.source, h.source_len) == 0);
        assert(proxy_parse(buf, (size_t) r - 1, mode, &again, &why) == 0);
        assert(proxy_parse(buf, (size_t) r / 2, mode, &again, &why) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* An exact-size copy, so that ASan sees any read past the end. */
        uint8_t *buf = malloc(size ? size : 1);

        assert(buf);
        memcpy(buf, data, size);
        check_mode(buf, size, PROXY_V1);
        check_mode(buf, size, PROXY_V2);
        check_mode(buf, size, PROXY_ANY);
        free(buf);
        return 0;
}
