/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <time.h>

/* An IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT", plus the NUL. */
#define HTTP_DATE_SIZE 30

/* Formats t as an IMF-fixdate (RFC 9110 §5.6.7) into buf (HTTP_DATE_SIZE
 * bytes); locale-independent. Returns the length (29), or -EINVAL for a
 * time gmtime() cannot represent. */
int http_date_format(time_t t, char *buf);

/* The current time as an IMF-fixdate for the Date field. The text is
 * computed at most once per second and shared by every response in that
 * second. The pointer stays valid until the next call. */
const char *http_date_now(void);

/* Parses an HTTP-date in any of the three forms a recipient must accept
 * (IMF-fixdate, RFC 850, asctime). Returns 0 and the time, or -EINVAL. */
int http_date_parse(const char *p, size_t n, time_t *ret);
