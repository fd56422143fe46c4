/* SPDX-License-Identifier: MIT */
/* libFuzzer entry point for what the master parses from clients it does
 * not trust: control socket request lines (control-proto.c), the answer's
 * first line as preforkctl reads it, and the metrics endpoint's HTTP
 * request head (metrics-parse.c). Besides memory safety, it checks
 * properties: an accepted request formats to a line that parses back to
 * the same request, an accepted one contains only printable ASCII, and
 * every offset of a parsed answer lies inside it. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "control-proto.h"
#include "metrics-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void request(const char *buf, size_t n) {
        ControlRequest a, b;
        char line[CONTROL_REQUEST_MAX + 1];
        const char *why = NULL;
        int k;

        if (control_request_parse(buf, n, &a, &why) < 0) {
                assert(why && why[0]);
                return;
        }
        for (size_t i = 0; i < n; i++)
                assert(buf[i] >= 0x20 && buf[i] <= 0x7e);
        assert((unsigned) a.command < _CONTROL_COMMAND_MAX);
        assert(a.command != CONTROL_SCALE || (a.count >= 1 && a.count <= CONTROL_SCALE_MAX));
        assert(!a.service[0] || control_service_name_is_valid(a.service, strlen(a.service)));
        k = control_request_format(&a, line, sizeof line);
        assert(k > 0 && line[k - 1] == '\n');
        assert(control_request_parse(line, (size_t) k - 1, &b, &why) == 0);
        assert(memcmp(&a, &b, sizeof a) == 0);
}

static void reply(const char *buf, size_t n) {
        size_t msg, len, body;
        ControlStatus st;

        if (control_reply_parse(buf, n, &st, &msg, &len, &body) < 0)
                return;
        assert((unsigned) st < _CONTROL_STATUS_MAX);
        assert(msg + len < body && body <= n);
        assert(buf[body - 1] == '\n');
}

static void metrics_head(const char *buf, size_t n) {
        size_t end = metrics_http_request_end(buf, n);
        const char *status = NULL;
        bool head;

        assert(end <= n);
        if (end == 0)
                return;
        assert(end >= 4 && memcmp(buf + end - 4, "\r\n\r\n", 4) == 0);
        if (metrics_http_parse_request_line(buf, end, &head, &status) == 0)
                assert(strcmp(status, "200 OK") == 0 && memcmp(buf, head ? "HEAD " : "GET ", head ? 5 : 4) == 0);
        else
                assert(status && strncmp(status, "200", 3) != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *buf = (const char *) data;

        request(buf, size);
        reply(buf, size);
        metrics_head(buf, size);
        return 0;
}
