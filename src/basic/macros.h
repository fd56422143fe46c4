/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define _noreturn_ __attribute__((__noreturn__))
#define _printf_(a, b) __attribute__((__format__(printf, a, b)))
#define _unused_ __attribute__((__unused__))
#define _noinline_ __attribute__((__noinline__))
#define _const_ __attribute__((__const__))
#define _cleanup_(f) __attribute__((__cleanup__(f)))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))

/* True if x equals one of the listed values. */
#define IN_SET(x, ...)                                                          \
        __extension__ ({                                                                      \
                const __typeof__(x) _in_x_ = (x);                               \
                const __typeof__(x) _in_a_[] = { __VA_ARGS__ };                 \
                bool _in_f_ = false;                                            \
                for (size_t _in_i_ = 0; _in_i_ < ELEMENTSOF(_in_a_); _in_i_++)  \
                        if (_in_a_[_in_i_] == _in_x_) {                         \
                                _in_f_ = true;                                  \
                                break;                                          \
                        }                                                       \
                _in_f_;                                                         \
        })

/* For switch cases that an invariant rules out. */
#define assert_not_reached() abort()

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hand ownership of a pointer or fd on: the variable is reset so that its
 * cleanup attribute no longer frees or closes it. */
#define TAKE_PTR(p)                             \
        __extension__ ({                                      \
                __typeof__(p) _tp_ = (p);       \
                (p) = NULL;                     \
                _tp_;                           \
        })
#define TAKE_FD(fd)                             \
        __extension__ ({                                      \
                int _tf_ = (fd);                \
                (fd) = -EBADF;                  \
                _tf_;                           \
        })

/* free() for "p = mfree(p);". */
static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* close() that keeps errno intact and ignores negative fds, so that it can
 * run on every error path. Returns -EBADF to allow "fd = safe_close(fd)". */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Defines func##p(type **p) that calls func(*p), for _cleanup_(func##p).
 * func must accept NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)         \
        static inline void func##p(type *p) {           \
                if (*p)                                 \
                        func(*p);                       \
        }

static inline void strv_free(char **l) {
        if (!l)
                return;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* errno as a negative value, never 0: for "return negative_errno();" after a
 * libc call that failed but might not have set errno. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

#define USEC_PER_SEC ((uint64_t) 1000000ULL)
#define USEC_PER_MSEC ((uint64_t) 1000ULL)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)
