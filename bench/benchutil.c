/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

void closep(int *fd) {
        safe_close(*fd);
}

int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

bool bench_addr_is_loopback(const struct sockaddr *sa) {
        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
                return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        }
        if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
                if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
                        return true;
                if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
                        return in6->sin6_addr.s6_addr[12] == 127;
        }
        return false;
}

int bench_addr_parse(const char *s, bool allow_port0, BenchAddr *ret) {
        char host[INET6_ADDRSTRLEN + 1];
        const char *port_str;
        size_t hl;

        if (!s || !ret)
                return -EINVAL;

        if (s[0] == '[') {
                const char *e = strchr(s, ']');
                if (!e || e[1] != ':')
                        return -EINVAL;
                hl = (size_t) (e - s - 1);
                if (hl == 0 || hl >= sizeof(host))
                        return -EINVAL;
                memcpy(host, s + 1, hl);
                host[hl] = 0;
                port_str = e + 2;
        } else {
                const char *c = strrchr(s, ':');
                if (!c)
                        return -EINVAL;
                hl = (size_t) (c - s);
                if (hl == 0 || hl >= sizeof(host))
                        return -EINVAL;
                memcpy(host, s, hl);
                host[hl] = 0;
                port_str = c + 1;
        }

        uint64_t port;
        if (bench_parse_uint(port_str, allow_port0 ? 0 : 1, 65535, &port) < 0)
                return -EINVAL;

        memset(ret, 0, sizeof(*ret));
        if (strcmp(host, "localhost") == 0)
                strcpy(host, "127.0.0.1");

        struct sockaddr_in *in = (struct sockaddr_in *) &ret->sa;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ret->sa;
        if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons((uint16_t) port);
                ret->sa_len = sizeof(*in);
                snprintf(ret->text, sizeof(ret->text), "%s:%" PRIu64, host, port);
        } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                ret->sa_len = sizeof(*in6);
                snprintf(ret->text, sizeof(ret->text), "[%s]:%" PRIu64, host, port);
        } else
                return -EINVAL;

        if (!bench_addr_is_loopback((const struct sockaddr *) &ret->sa))
                return -EPERM;
        return 0;
}

uint64_t bench_now_ns(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

void bench_sleep_usec(uint64_t usec) {
        struct timespec ts = {
                .tv_sec = (time_t) (usec / USEC_PER_SEC),
                .tv_nsec = (long) ((usec % USEC_PER_SEC) * NSEC_PER_USEC),
        };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

int bench_parse_seconds(const char *s, uint64_t *ret_ns) {
        char *end;
        double d;

        if (!s || !*s)
                return -EINVAL;
        errno = 0;
        d = strtod(s, &end);
        if (errno != 0 || *end || !isfinite(d) || d < 0 || d > 86400.0 * 365)
                return -EINVAL;
        *ret_ns = (uint64_t) llround(d * 1e9);
        return 0;
}

int bench_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (!s || !*s || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end)
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

void bench_sort_u64(uint64_t *v, size_t n) {
        if (n > 1)
                qsort(v, n, sizeof(*v), cmp_u64);
}

uint64_t bench_percentile_sorted(const uint64_t *v, size_t n, double p) {
        if (n == 0)
                return 0;
        /* nearest rank: the smallest value with at least p% at or below */
        double r = ceil(p / 100.0 * (double) n);
        size_t i = r < 1 ? 0 : (size_t) r - 1;
        return v[MIN(i, n - 1)];
}

static inline uint8_t pattern_byte(size_t i) {
        return (uint8_t) ((i * 131u + (i >> 8)) & 0xff);
}

void bench_fill_pattern(uint8_t *buf, size_t len, size_t offset) {
        for (size_t i = 0; i < len; i++)
                buf[i] = pattern_byte(offset + i);
}

bool bench_check_pattern(const uint8_t *buf, size_t len, size_t offset) {
        for (size_t i = 0; i < len; i++)
                if (buf[i] != pattern_byte(offset + i))
                        return false;
        return true;
}

int bench_children(pid_t pid, pid_t *ret, size_t max) {
        char path[64];
        size_t n = 0;
        int count = 0;

        snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
        DIR *d = opendir(path);
        if (!d)
                return negative_errno();

        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char cpath[320];
                snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", (int) pid, de->d_name);
                FILE *f = fopen(cpath, "re");
                if (!f)
                        continue;
                int c;
                while (fscanf(f, "%d", &c) == 1) {
                        if (n < max)
                                ret[n++] = (pid_t) c;
                        count++;
                }
                fclose(f);
        }
        closedir(d);
        return count;
}
