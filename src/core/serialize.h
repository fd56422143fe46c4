/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "macros.h"

/* The line format of the state a master hands to the binary it executes
 * (upgrade.h). Text, so that a state can be read by eye (`preforkd
 * --check-upgrade`, a test) and so that a newer binary can skip what it
 * does not know:
 *
 *     preforkd-state MAJOR MINOR
 *     TYPE KEY=VALUE KEY=VALUE ...
 *     ...
 *     end
 *
 * One record per line. TYPE and KEY are [a-z0-9-]+. A VALUE has every byte
 * outside '!'..'~', and '%' and '=', written as %XX (two upper-case hex
 * digits), so that it holds no blank and no newline; an empty value is
 * "KEY=". The last line is "end": a state without it was cut short and is
 * refused.
 *
 * Compatibility: MAJOR changes when a record or key that a reader needs
 * changes meaning; a reader refuses any MAJOR other than its own, naming
 * both. MINOR counts compatible additions (new record types, new keys): a
 * reader of the same MAJOR ignores record types and keys it does not know,
 * so an older binary can read what a newer one wrote, which a rollback
 * needs. */

#define SERIALIZE_MAGIC "preforkd-state"
#define SERIALIZE_KEY_MAX 32

typedef struct SerializeField {
        char key[SERIALIZE_KEY_MAX];
        char *value;                  /* unescaped, NUL-terminated (a NUL inside is refused) */
} SerializeField;

typedef struct SerializeRecord {
        char type[SERIALIZE_KEY_MAX];
        unsigned line;                /* 1-based, for errors */
        SerializeField *fields;
        size_t n_fields;
} SerializeRecord;

typedef struct SerializeFile {
        unsigned major, minor;
        SerializeRecord *records;
        size_t n_records;
} SerializeFile;

/* Writing. A writer collects the text in memory; serialize_finish() ends
 * it with "end" and returns it. Write errors are remembered and reported
 * once, by serialize_finish(). */
typedef struct SerializeWriter {
        FILE *f;
        char *buf;
        size_t size;
        bool in_record;
        int error;
} SerializeWriter;

int serialize_writer_init(SerializeWriter *w, unsigned major, unsigned minor);
void serialize_writer_done(SerializeWriter *w);
void serialize_record(SerializeWriter *w, const char *type);
void serialize_str(SerializeWriter *w, const char *key, const char *value);
void serialize_u64(SerializeWriter *w, const char *key, uint64_t value);
/* USEC_INFINITY is written as "infinity". */
void serialize_usec(SerializeWriter *w, const char *key, uint64_t value);
void serialize_bool(SerializeWriter *w, const char *key, bool value);
/* The text (NUL-terminated, *ret_size without the NUL), or a negative
 * errno. The writer is done either way. */
int serialize_finish(SerializeWriter *w, char **ret, size_t *ret_size);

/* Reading. Parses size bytes of text. On success *ret is the file; on
 * failure a negative errno, and *ret_error (may be NULL) says what is
 * wrong and where ("line 3: ..."), free()d by the caller. -EPROTONOSUPPORT
 * means a major version other than major. */
int serialize_parse(const char *text, size_t size, unsigned major, SerializeFile **ret, char **ret_error);
SerializeFile *serialize_file_free(SerializeFile *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(SerializeFile *, serialize_file_free)

/* The value of key in r, or NULL. */
const char *serialize_get(const SerializeRecord *r, const char *key);
/* Typed getters: 0, -ENOENT when the key is missing, -EINVAL when the
 * value is malformed. *ret is untouched on failure. */
int serialize_get_u64(const SerializeRecord *r, const char *key, uint64_t *ret);
int serialize_get_unsigned(const SerializeRecord *r, const char *key, unsigned *ret);
int serialize_get_int(const SerializeRecord *r, const char *key, int *ret);
int serialize_get_usec(const SerializeRecord *r, const char *key, uint64_t *ret);
int serialize_get_bool(const SerializeRecord *r, const char *key, bool *ret);
