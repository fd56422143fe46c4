/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "http_date.h"

static const char day_names[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const day_names_long[7] = {
        "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
};
static const char month_names[12][4] = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static void put2(char *p, int v) {
        p[0] = (char) ('0' + v / 10 % 10);
        p[1] = (char) ('0' + v % 10);
}

int http_date_format(time_t t, char *buf) {
        struct tm tm;

        if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
                return -EINVAL;

        int year = tm.tm_year + 1900;
        memcpy(buf, day_names[tm.tm_wday], 3);
        memcpy(buf + 3, ", ", 2);
        put2(buf + 5, tm.tm_mday);
        buf[7] = ' ';
        memcpy(buf + 8, month_names[tm.tm_mon], 3);
        buf[11] = ' ';
        put2(buf + 12, year / 100);
        put2(buf + 14, year % 100);
        buf[16] = ' ';
        put2(buf + 17, tm.tm_hour);
        buf[19] = ':';
        put2(buf + 20, tm.tm_min);
        buf[22] = ':';
        put2(buf + 23, tm.tm_sec);
        memcpy(buf + 25, " GMT", 5);
        return 29;
}

const char *http_date_now(void) {
        static time_t cached_sec = (time_t) -1;
        static char cached[HTTP_DATE_SIZE];

        /* time() is a vDSO call: no system call per response. */
        time_t now = time(NULL);
        if (now != cached_sec) {
                if (http_date_format(now, cached) < 0)
                        memcpy(cached, "Thu, 01 Jan 1970 00:00:00 GMT", HTTP_DATE_SIZE);
                cached_sec = now;
        }
        return cached;
}

/* Reads exactly n digits. */
static bool get_num(const char *p, size_t n, int *ret) {
        int v = 0;
        for (size_t i = 0; i < n; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return false;
                v = v * 10 + (p[i] - '0');
        }
        *ret = v;
        return true;
}

static bool get_month(const char *p, int *ret) {
        for (int i = 0; i < 12; i++)
                if (memcmp(p, month_names[i], 3) == 0) {
                        *ret = i;
                        return true;
                }
        return false;
}

/* "08:49:37" */
static bool get_time(const char *p, struct tm *tm) {
        return get_num(p, 2, &tm->tm_hour) && p[2] == ':' && get_num(p + 3, 2, &tm->tm_min) && p[5] == ':' &&
               get_num(p + 6, 2, &tm->tm_sec);
}

static bool get_day_name(const char *p, size_t n) {
        for (int i = 0; i < 7; i++)
                if (n == 3 ? memcmp(p, day_names[i], 3) == 0
                           : (strlen(day_names_long[i]) == n && memcmp(p, day_names_long[i], n) == 0))
                        return true;
        return false;
}

int http_date_parse(const char *p, size_t n, time_t *ret) {
        struct tm tm = { .tm_isdst = 0 };
        const char *comma = memchr(p, ',', n);

        if (n == 29 && comma == p + 3) {
                /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
                if (!get_day_name(p, 3) || p[4] != ' ' || !get_num(p + 5, 2, &tm.tm_mday) || p[7] != ' ' ||
                    !get_month(p + 8, &tm.tm_mon) || p[11] != ' ' || !get_num(p + 12, 4, &tm.tm_year) ||
                    p[16] != ' ' || !get_time(p + 17, &tm) || memcmp(p + 25, " GMT", 4) != 0)
                        return -EINVAL;
                tm.tm_year -= 1900;
        } else if (comma && comma > p + 3) {
                /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
                size_t d = (size_t) (comma - p);
                const char *q = comma + 1;
                if (n != d + 24 || !get_day_name(p, d) || q[0] != ' ' || !get_num(q + 1, 2, &tm.tm_mday) ||
                    q[3] != '-' || !get_month(q + 4, &tm.tm_mon) || q[7] != '-' ||
                    !get_num(q + 8, 2, &tm.tm_year) || q[10] != ' ' || !get_time(q + 11, &tm) ||
                    memcmp(q + 19, " GMT", 4) != 0)
                        return -EINVAL;
                /* Two-digit years: 70-99 are 19xx, the rest 20xx. */
                if (tm.tm_year < 70)
                        tm.tm_year += 100;
        } else if (n == 24 && !comma) {
                /* asctime: "Sun Nov  6 08:49:37 1994" */
                if (!get_day_name(p, 3) || p[3] != ' ' || !get_month(p + 4, &tm.tm_mon) || p[7] != ' ' ||
                    !get_num(p + 9, 1, &tm.tm_mday) || p[19] != ' ' || !get_time(p + 11, &tm) ||
                    p[10] != ' ' || !get_num(p + 20, 4, &tm.tm_year))
                        return -EINVAL;
                if (p[8] != ' ') {
                        int tens;
                        if (!get_num(p + 8, 1, &tens))
                                return -EINVAL;
                        tm.tm_mday += tens * 10;
                }
                tm.tm_year -= 1900;
        } else
                return -EINVAL;

        if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
                return -EINVAL;

        time_t t = timegm(&tm);
        if (t == (time_t) -1)
                return -EINVAL;
        *ret = t;
        return 0;
}
