/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <strings.h>

#include "http_encoding.h"

/* Parses the weight of one element ("gzip;q=0.5"): 1000 for q=1 (or none),
 * 0 for q=0, -1 when it is malformed (then the element is ignored). */
static int element_weight(HttpSpan params) {
        const char *p = params.p, *end = params.p + params.n;

        while (p < end) {
                while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
                        p++;
                if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
                        p += 2;
                        int w = 0, digits = 0;
                        if (p < end && (*p == '0' || *p == '1'))
                                w = (*p++ - '0') * 1000;
                        else
                                return -1;
                        if (p < end && *p == '.') {
                                p++;
                                for (int scale = 100; p < end && *p >= '0' && *p <= '9' && digits < 3;
                                     scale /= 10, digits++)
                                        w += (*p++ - '0') * scale;
                        }
                        return w > 1000 ? -1 : w;
                }
                while (p < end && *p != ';')
                        p++;
        }
        return 1000;
}

bool http_encoding_accepts(HttpSpan accept_encoding, const char *coding) {
        size_t n = strlen(coding), state = 0;
        int named = -1, star = -1;
        HttpSpan e;

        while (http_list_next(accept_encoding, &state, &e)) {
                const char *semi = memchr(e.p, ';', e.n);
                size_t name_len = semi ? (size_t) (semi - e.p) : e.n;
                while (name_len > 0 && (e.p[name_len - 1] == ' ' || e.p[name_len - 1] == '\t'))
                        name_len--;
                HttpSpan params = { .p = e.p + name_len, .n = e.n - name_len };
                int w = element_weight(params);
                if (w < 0)
                        continue;
                if (name_len == n && strncasecmp(e.p, coding, n) == 0)
                        named = w;
                else if (name_len == 1 && e.p[0] == '*')
                        star = w;
        }
        return named >= 0 ? named > 0 : star > 0;
}
