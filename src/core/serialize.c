/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#include "serialize.h"
#include "time-util.h"

static bool name_is_valid(const char *s, size_t n) {
        if (n == 0 || n >= SERIALIZE_KEY_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

int serialize_writer_init(SerializeWriter *w, unsigned major, unsigned minor) {
        assert(w);

        *w = (SerializeWriter) { .error = 0 };
        w->f = open_memstream(&w->buf, &w->size);
        if (!w->f)
                return negative_errno();
        if (fprintf(w->f, "%s %u %u", SERIALIZE_MAGIC, major, minor) < 0)
                w->error = -EIO;
        w->in_record = true;
        return 0;
}

void serialize_writer_done(SerializeWriter *w) {
        if (w->f)
                (void) fclose(w->f);
        free(w->buf);
        *w = (SerializeWriter) { .error = 0 };
}

void serialize_record(SerializeWriter *w, const char *type) {
        assert(w->f);
        assert(name_is_valid(type, strlen(type)));

        if (fprintf(w->f, "\n%s", type) < 0)
                w->error = -EIO;
        w->in_record = true;
}

void serialize_str(SerializeWriter *w, const char *key, const char *value) {
        assert(w->f);
        assert(w->in_record);
        assert(name_is_valid(key, strlen(key)));
        assert(value);

        if (fprintf(w->f, " %s=", key) < 0)
                w->error = -EIO;
        for (const unsigned char *p = (const unsigned char *) value; *p; p++) {
                int r;

                if (*p < '!' || *p > '~' || *p == '%' || *p == '=')
                        r = fprintf(w->f, "%%%02X", *p);
                else
                        r = fputc(*p, w->f);
                if (r < 0)
                        w->error = -EIO;
        }
}

void serialize_u64(SerializeWriter *w, const char *key, uint64_t value) {
        char buf[32];

        (void) snprintf(buf, sizeof buf, "%" PRIu64, value);
        serialize_str(w, key, buf);
}

void serialize_usec(SerializeWriter *w, const char *key, uint64_t value) {
        if (value == USEC_INFINITY)
                serialize_str(w, key, "infinity");
        else
                serialize_u64(w, key, value);
}

void serialize_bool(SerializeWriter *w, const char *key, bool value) {
        serialize_str(w, key, value ? "1" : "0");
}

int serialize_finish(SerializeWriter *w, char **ret, size_t *ret_size) {
        int r;

        assert(w->f);
        assert(ret);

        if (fputs("\nend\n", w->f) < 0)
                w->error = -EIO;
        r = fclose(w->f) != 0 ? -EIO : 0;
        w->f = NULL;
        if (w->error < 0)
                r = w->error;
        if (r < 0) {
                serialize_writer_done(w);
                return r;
        }
        *ret = TAKE_PTR(w->buf);
        if (ret_size)
                *ret_size = w->size;
        serialize_writer_done(w);
        return 0;
}

static int fail(char **ret_error, int r, unsigned line, const char *fmt, ...) _printf_(4, 5);
static int fail(char **ret_error, int r, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;

        if (!ret_error)
                return r;
        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        if (!what || (line > 0 ? asprintf(ret_error, "line %u: %s", line, what)
                               : asprintf(ret_error, "%s", what)) < 0)
                *ret_error = NULL;
        return r;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Unescapes n bytes of s into a new string; NULL with errno EINVAL for a
 * bad escape or an escaped NUL. */
static char *unescape(const char *s, size_t n) {
        char *out = malloc(n + 1), *o = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                int hi, lo;

                if (s[i] != '%') {
                        *o++ = s[i];
                        continue;
                }
                if (i + 2 >= n) {
                        free(out);
                        errno = EINVAL;
                        return NULL;
                }
                hi = hexval(s[i + 1]);
                lo = hexval(s[i + 2]);
                if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                        free(out);
                        errno = EINVAL;
                        return NULL;
                }
                *o++ = (char) (hi * 16 + lo);
                i += 2;
        }
        *o = 0;
        return out;
}

static void record_done(SerializeRecord *r) {
        for (size_t i = 0; i < r->n_fields; i++)
                free(r->fields[i].value);
        free(r->fields);
}

SerializeFile *serialize_file_free(SerializeFile *f) {
        if (!f)
                return NULL;
        for (size_t i = 0; i < f->n_records; i++)
                record_done(&f->records[i]);
        free(f->records);
        free(f);
        return NULL;
}

/* Parses one record line (not the header, not "end"). */
static int parse_record(const char *s, size_t n, unsigned line, SerializeRecord *ret, char **ret_error) {
        SerializeRecord r = { .line = line };
        const char *blank = memchr(s, ' ', n);
        size_t i = blank ? (size_t) (blank - s) : n;

        /* The line is not NUL-terminated: every search is bounded by n. */
        if (!name_is_valid(s, i))
                return fail(ret_error, -EINVAL, line, "bad record type \"%.*s\"", (int) MIN(i, (size_t) 40), s);
        memcpy(r.type, s, i);
        while (i < n) {
                const char *f, *eq, *end;
                SerializeField *nf;

                if (s[i] != ' ') {
                        record_done(&r);
                        return fail(ret_error, -EINVAL, line, "expected a blank before a field");
                }
                i++;
                f = s + i;
                end = memchr(f, ' ', n - i);
                if (!end)
                        end = s + n;
                eq = memchr(f, '=', (size_t) (end - f));
                if (!eq || !name_is_valid(f, (size_t) (eq - f))) {
                        record_done(&r);
                        return fail(ret_error, -EINVAL, line, "malformed field \"%.*s\"",
                                    (int) MIN((size_t) (end - f), (size_t) 40), f);
                }
                nf = realloc(r.fields, (r.n_fields + 1) * sizeof(SerializeField));
                if (!nf) {
                        record_done(&r);
                        return -ENOMEM;
                }
                r.fields = nf;
                nf[r.n_fields] = (SerializeField) { .value = unescape(eq + 1, (size_t) (end - eq - 1)) };
                memcpy(nf[r.n_fields].key, f, (size_t) (eq - f));
                if (!nf[r.n_fields].value) {
                        int e = errno == ENOMEM ? -ENOMEM : -EINVAL;
                        record_done(&r);
                        return fail(ret_error, e, line, "bad escape in the value of %.*s", (int) (eq - f), f);
                }
                r.n_fields++;
                i = (size_t) (end - s);
        }
        *ret = r;
        return 0;
}

static int parse_header(const char *s, size_t n, unsigned want, unsigned *ret_major, unsigned *ret_minor,
                        char **ret_error) {
        char head[64];
        unsigned major, minor;
        int k = 0;

        if (n >= sizeof head || n == 0)
                return fail(ret_error, -EINVAL, 1, "not a preforkd state (no \"%s\" header)", SERIALIZE_MAGIC);
        memcpy(head, s, n);
        head[n] = 0;
        if (sscanf(head, SERIALIZE_MAGIC " %u %u%n", &major, &minor, &k) != 2 || (size_t) k != n)
                return fail(ret_error, -EINVAL, 1, "not a preforkd state (no \"%s\" header)", SERIALIZE_MAGIC);
        if (major != want)
                return fail(ret_error, -EPROTONOSUPPORT, 0,
                            "state format version %u.%u is %s than this binary's (%u): it cannot be read here", major,
                            minor, major > want ? "newer" : "older", want);
        *ret_major = major;
        *ret_minor = minor;
        return 0;
}

int serialize_parse(const char *text, size_t size, unsigned major, SerializeFile **ret, char **ret_error) {
        _cleanup_(serialize_file_freep) SerializeFile *f = NULL;
        bool ended = false;
        unsigned line = 0;
        size_t pos = 0;
        int r;

        assert(text || size == 0);
        assert(ret);

        if (ret_error)
                *ret_error = NULL;
        f = calloc(1, sizeof(SerializeFile));
        if (!f)
                return -ENOMEM;
        while (pos < size) {
                const char *s = text + pos, *nl = memchr(s, '\n', size - pos);
                size_t n = nl ? (size_t) (nl - s) : size - pos;
                SerializeRecord *nr;

                line++;
                pos += n + (nl ? 1 : 0);
                if (memchr(s, 0, n))
                        return fail(ret_error, -EINVAL, line, "NUL byte");
                if (line == 1) {
                        r = parse_header(s, n, major, &f->major, &f->minor, ret_error);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (ended)
                        return fail(ret_error, -EINVAL, line, "text after \"end\"");
                if (n == 3 && memcmp(s, "end", 3) == 0) {
                        ended = true;
                        continue;
                }
                nr = realloc(f->records, (f->n_records + 1) * sizeof(SerializeRecord));
                if (!nr)
                        return -ENOMEM;
                f->records = nr;
                r = parse_record(s, n, line, &f->records[f->n_records], ret_error);
                if (r < 0)
                        return r;
                f->n_records++;
        }
        if (line == 0)
                return fail(ret_error, -EINVAL, 0, "empty state");
        if (!ended)
                return fail(ret_error, -EINVAL, 0, "state cut short (no \"end\" line)");
        *ret = TAKE_PTR(f);
        return 0;
}

const char *serialize_get(const SerializeRecord *r, const char *key) {
        assert(r);
        assert(key);

        /* The last one wins, like a later assignment. */
        for (size_t i = r->n_fields; i > 0; i--)
                if (strcmp(r->fields[i - 1].key, key) == 0)
                        return r->fields[i - 1].value;
        return NULL;
}

int serialize_get_u64(const SerializeRecord *r, const char *key, uint64_t *ret) {
        const char *v = serialize_get(r, key);
        unsigned long long u;
        char *end;

        if (!v)
                return -ENOENT;
        if (*v < '0' || *v > '9')
                return -EINVAL;
        errno = 0;
        u = strtoull(v, &end, 10);
        if (errno != 0 || *end)
                return -EINVAL;
        *ret = (uint64_t) u;
        return 0;
}

int serialize_get_unsigned(const SerializeRecord *r, const char *key, unsigned *ret) {
        uint64_t u;
        int k = serialize_get_u64(r, key, &u);

        if (k < 0)
                return k;
        if (u > UINT_MAX)
                return -EINVAL;
        *ret = (unsigned) u;
        return 0;
}

int serialize_get_int(const SerializeRecord *r, const char *key, int *ret) {
        uint64_t u;
        int k = serialize_get_u64(r, key, &u);

        if (k < 0)
                return k;
        if (u > INT_MAX)
                return -EINVAL;
        *ret = (int) u;
        return 0;
}

int serialize_get_usec(const SerializeRecord *r, const char *key, uint64_t *ret) {
        const char *v = serialize_get(r, key);

        if (v && strcmp(v, "infinity") == 0) {
                *ret = USEC_INFINITY;
                return 0;
        }
        return serialize_get_u64(r, key, ret);
}

int serialize_get_bool(const SerializeRecord *r, const char *key, bool *ret) {
        const char *v = serialize_get(r, key);

        if (!v)
                return -ENOENT;
        if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
                return -EINVAL;
        *ret = v[0] == '1';
        return 0;
}
