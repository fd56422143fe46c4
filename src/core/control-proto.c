/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control-proto.h"
#include "macros.h"

/* Which arguments a command takes. */
typedef enum ControlArgs {
        ARGS_NONE,
        ARGS_OPTIONAL_SERVICE,
        ARGS_SERVICE_COUNT,
} ControlArgs;

static const struct {
        const char *name;
        bool mutating;
        ControlArgs args;
} control_commands[_CONTROL_COMMAND_MAX] = {
        [CONTROL_STATUS] = { "status", false, ARGS_OPTIONAL_SERVICE },
        [CONTROL_METRICS] = { "metrics", false, ARGS_NONE },
        [CONTROL_RELOAD] = { "reload", true, ARGS_NONE },
        [CONTROL_SCALE] = { "scale", true, ARGS_SERVICE_COUNT },
        [CONTROL_DRAIN] = { "drain", true, ARGS_OPTIONAL_SERVICE },
        [CONTROL_UNDRAIN] = { "undrain", true, ARGS_OPTIONAL_SERVICE },
        [CONTROL_UPGRADE] = { "upgrade", true, ARGS_NONE },
};

static const char *const control_status_names[_CONTROL_STATUS_MAX] = {
        [CONTROL_OK] = "ok",
        [CONTROL_REFUSED] = "refused",
        [CONTROL_ROLLED_BACK] = "rolled-back",
        [CONTROL_DENIED] = "denied",
        [CONTROL_ERROR] = "error",
};

const char *control_command_to_string(ControlCommand c) {
        return (unsigned) c < _CONTROL_COMMAND_MAX ? control_commands[c].name : NULL;
}

bool control_command_is_mutating(ControlCommand c) {
        assert((unsigned) c < _CONTROL_COMMAND_MAX);
        return control_commands[c].mutating;
}

const char *control_status_to_string(ControlStatus s) {
        return (unsigned) s < _CONTROL_STATUS_MAX ? control_status_names[s] : NULL;
}

bool control_service_name_is_valid(const char *name, size_t n) {
        if (n == 0 || n > CONTROL_SERVICE_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
                      name[i] == '-'))
                        return false;
        return true;
}

static bool word_is(const char *w, size_t n, const char *s) {
        return strlen(s) == n && memcmp(w, s, n) == 0;
}

/* A decimal count without sign, leading zero or overflow, in 1..max. */
static int parse_count(const char *w, size_t n, unsigned max, unsigned *ret) {
        unsigned v = 0;

        if (n == 0 || (w[0] == '0' && n > 1))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (w[i] < '0' || w[i] > '9')
                        return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (v > (max - (unsigned) (w[i] - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (unsigned) (w[i] - '0');
        }
        if (v == 0)
                return -ERANGE;
        *ret = v;
        return 0;
}

#define MAX_WORDS 4

int control_request_parse(const char *line, size_t n, ControlRequest *ret, const char **ret_why) {
        ControlRequest req = { .command = _CONTROL_COMMAND_INVALID };
        const char *words[MAX_WORDS];
        size_t lens[MAX_WORDS], n_words = 0, first = 0, start = 0;
        int k = -1;

        assert(line || n == 0);
        assert(ret);
        assert(ret_why);

        if (n == 0) {
                *ret_why = "empty request";
                return -EINVAL;
        }
        if (n >= CONTROL_REQUEST_MAX) {
                *ret_why = "request too long";
                return -EINVAL;
        }
        /* Split on single spaces; anything but printable ASCII is refused
         * here, so that no word can carry a control character or a second
         * line into a log message or the answer. */
        for (size_t i = 0; i <= n; i++) {
                if (i < n && line[i] != ' ') {
                        if ((unsigned char) line[i] < 0x21 || (unsigned char) line[i] > 0x7e) {
                                *ret_why = "request contains a character that is not printable ASCII";
                                return -EINVAL;
                        }
                        continue;
                }
                if (i == start) {
                        *ret_why = "empty word (words are separated by one space)";
                        return -EINVAL;
                }
                if (n_words == MAX_WORDS) {
                        *ret_why = "too many arguments";
                        return -EINVAL;
                }
                words[n_words] = line + start;
                lens[n_words++] = i - start;
                start = i + 1;
        }

        if (word_is(words[0], lens[0], "--json")) {
                req.json = true;
                first = 1;
        }
        if (first >= n_words) {
                *ret_why = "no command";
                return -EINVAL;
        }
        for (size_t c = 0; c < _CONTROL_COMMAND_MAX; c++)
                if (word_is(words[first], lens[first], control_commands[c].name))
                        k = (int) c;
        if (k < 0) {
                *ret_why = "unknown command (status, metrics, reload, scale, drain, undrain, upgrade)";
                return -EINVAL;
        }
        req.command = (ControlCommand) k;

        size_t n_args = n_words - first - 1;
        const char *const *args = words + first + 1;
        const size_t *arg_lens = lens + first + 1;

        switch (control_commands[k].args) {
        case ARGS_NONE:
                if (n_args > 0) {
                        *ret_why = "this command takes no argument";
                        return -EINVAL;
                }
                break;
        case ARGS_OPTIONAL_SERVICE:
                if (n_args > 1) {
                        *ret_why = "this command takes at most one argument, a service name";
                        return -EINVAL;
                }
                break;
        case ARGS_SERVICE_COUNT:
                if (n_args != 2) {
                        *ret_why = "usage: scale SERVICE N";
                        return -EINVAL;
                }
                switch (parse_count(args[1], arg_lens[1], CONTROL_SCALE_MAX, &req.count)) {
                case 0:
                        break;
                case -ERANGE:
                        *ret_why = "the number of workers must be between 1 and 4096";
                        return -EINVAL;
                default:
                        *ret_why = "the number of workers is not a decimal number";
                        return -EINVAL;
                }
                break;
        }
        if (n_args > 0) {
                if (!control_service_name_is_valid(args[0], arg_lens[0])) {
                        *ret_why = "not a valid service name (1-64 characters of a-z, 0-9, _ and -)";
                        return -EINVAL;
                }
                memcpy(req.service, args[0], arg_lens[0]);
                req.service[arg_lens[0]] = 0;
        }
        *ret = req;
        return 0;
}

int control_request_format(const ControlRequest *req, char *buf, size_t size) {
        const char *name = control_command_to_string(req->command);
        int l;

        assert(name);
        assert(buf);

        if (req->command == CONTROL_SCALE)
                l = snprintf(buf, size, "%s%s %s %u\n", req->json ? "--json " : "", name, req->service, req->count);
        else
                l = snprintf(buf, size, "%s%s%s%s\n", req->json ? "--json " : "", name, req->service[0] ? " " : "",
                             req->service);
        if (l < 0 || (size_t) l >= size)
                return -ENOBUFS;
        return l;
}

int control_reply_parse(const char *buf, size_t n, ControlStatus *ret_status, size_t *ret_message,
                        size_t *ret_message_len, size_t *ret_body) {
        const char *nl = memchr(buf, '\n', n);
        size_t line, word;

        assert(buf || n == 0);

        if (!nl)
                return n >= CONTROL_REQUEST_MAX * 8 ? -EBADMSG : -EAGAIN;
        line = (size_t) (nl - buf);
        for (word = 0; word < line && buf[word] != ' '; word++)
                ;
        for (size_t s = 0; s < _CONTROL_STATUS_MAX; s++) {
                if (!word_is(buf, word, control_status_names[s]))
                        continue;
                *ret_status = (ControlStatus) s;
                *ret_message = word < line ? word + 1 : line;
                *ret_message_len = line - *ret_message;
                *ret_body = line + 1;
                return 0;
        }
        return -EBADMSG;
}
