/* SPDX-License-Identifier: MIT */
/* libFuzzer entry point for the configuration parser and validator: the
 * input is written as a config file and loaded as preforkd -t would. */
#include <dlfcn.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Listen addresses may name hosts, which the parser resolves. A fuzzer
 * must not wait on DNS for every random name, so inside this harness only
 * numeric hosts resolve: the same getaddrinfo() with AI_NUMERICHOST. */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
        typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
        static getaddrinfo_fn real;
        struct addrinfo h = { 0 };

        if (!real)
                *(void **) &real = dlsym(RTLD_NEXT, "getaddrinfo");
        if (!real)
                return EAI_SYSTEM;
        if (hints)
                h = *hints;
        h.ai_flags |= AI_NUMERICHOST;
        return real(node, service, &h, res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char path[64];
        Config *c = NULL;
        char **errors = NULL;
        FILE *f;

        if (size > 65536)
                return 0;
        if (!path[0]) {
                char dir[] = "/tmp/preforkd-fuzz-config.XXXXXX";
                if (!mkdtemp(dir))
                        abort();
                snprintf(path, sizeof path, "%s/fuzz.conf", dir);
        }
        f = fopen(path, "we");
        if (!f)
                abort();
        if (size > 0 && fwrite(data, 1, size, f) != size)
                abort();
        fclose(f);

        if (config_load(path, &c, &errors) >= 0) {
                char summary[128];
                if (config_summary(c, summary, sizeof summary) < 0 || errors)
                        abort();
                config_free(c);
        } else if (!errors || !errors[0])
                /* Every refusal must say why. */
                abort();
        strv_free(errors);
        return 0;
}
