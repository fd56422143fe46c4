/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "http_parse.h"

/* Whether an Accept-Encoding field value (RFC 9110 §12.5.3) accepts the
 * content coding named coding: listed with a q-value above 0, or covered
 * by "*" without being refused by name. An absent field accepts nothing
 * here: without it a precompressed variant is never chosen. */
bool http_encoding_accepts(HttpSpan accept_encoding, const char *coding);
