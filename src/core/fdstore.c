/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdstore.h"
#include "macros.h"

int fdstore_name(const char *key, char *buf, size_t size) {
        size_t n;

        assert(key);
        assert(buf);

        n = (size_t) snprintf(buf, size, "%s", FDSTORE_PREFIX);
        for (const unsigned char *p = (const unsigned char *) key; *p; p++) {
                int k;

                if (*p < '!' || *p > '~' || *p == '%' || *p == ':')
                        k = snprintf(buf + MIN(n, size), n < size ? size - n : 0, "%%%02X", *p);
                else
                        k = snprintf(buf + MIN(n, size), n < size ? size - n : 0, "%c", *p);
                n += (size_t) k;
        }
        if (n >= size || n > FDSTORE_NAME_MAX)
                return -ENAMETOOLONG;
        return 0;
}

bool fdstore_enabled(void) {
        const char *e = getenv("FDSTORE");
        char *end;
        unsigned long n;

        if (!e || !*e)
                return false;
        errno = 0;
        n = strtoul(e, &end, 10);
        return errno == 0 && !*end && n > 0;
}

bool fdstore_is_name(const char *name) {
        return name && strncmp(name, FDSTORE_PREFIX, strlen(FDSTORE_PREFIX)) == 0;
}
