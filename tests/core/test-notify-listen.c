/* SPDX-License-Identifier: MIT */
/* The workers' side of sd_notify(3) as the master receives it: the parse
 * of a message, and the socket (autobound, credentials required, passed
 * fds refused). */
#include <check.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify-listen.h"
#include "testlib.h"

static NotifyMessage parse_ok(const char *s, size_t n) {
        NotifyMessage m;

        ck_assert_int_eq(notify_message_parse(s, n, &m), 0);
        return m;
}

#define PARSE(s) parse_ok((s), sizeof(s) - 1)

START_TEST(test_parse) {
        NotifyMessage m;

        m = PARSE("READY=1");
        ck_assert(m.ready && !m.watchdog && !m.watchdog_trigger && !m.stopping && !m.status);
        m = PARSE("READY=1\nSTATUS=serving 3 clients\n");
        ck_assert(m.ready);
        ck_assert_uint_eq(m.status_len, strlen("serving 3 clients"));
        ck_assert(memcmp(m.status, "serving 3 clients", m.status_len) == 0);
        m = PARSE("STATUS=a\nSTATUS=second\n");
        ck_assert_uint_eq(m.status_len, 6);
        ck_assert(memcmp(m.status, "second", 6) == 0);
        m = PARSE("STATUS=");
        ck_assert(m.status && m.status_len == 0);
        m = PARSE("\n\nWATCHDOG=1\n\n");
        ck_assert(m.watchdog && !m.watchdog_trigger && !m.ready);
        m = PARSE("WATCHDOG=trigger");
        ck_assert(m.watchdog_trigger && !m.watchdog);
        m = PARSE("STOPPING=1\nMAINPID=7\nERRNO=2\nX_OTHER=y");
        ck_assert(m.stopping && !m.ready);
        /* Only "1" means ready, as for systemd. */
        m = PARSE("READY=0\nREADY=yes");
        ck_assert(!m.ready);
        m = PARSE("READY=1x");
        ck_assert(!m.ready);

        ck_assert_int_eq(notify_message_parse("", 0, &m), -EBADMSG);
        ck_assert_int_eq(notify_message_parse("READY", 5, &m), -EBADMSG);
        ck_assert_int_eq(notify_message_parse("READY=1\nbogus\n", 14, &m), -EBADMSG);
        ck_assert_int_eq(notify_message_parse("=1", 2, &m), -EBADMSG);
        ck_assert_int_eq(notify_message_parse("READY=1\0STATUS=x", 16, &m), -EBADMSG);
}
END_TEST

static int send_to(const char *address, const void *buf, size_t n, int pass_fd) {
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t l = strlen(address);
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = { .buf = { 0 } };
        struct iovec iov = { (void *) buf, n };
        struct msghdr mh = { .msg_name = &sa, .msg_iov = &iov, .msg_iovlen = 1 };

        ck_assert_int_ge(fd, 0);
        ck_assert(address[0] == '@' && l < sizeof sa.sun_path);
        memcpy(sa.sun_path, address, l);
        sa.sun_path[0] = '\0';
        mh.msg_namelen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l);
        if (pass_fd >= 0) {
                struct cmsghdr *c;

                mh.msg_control = &control;
                mh.msg_controllen = sizeof control;
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        return sendmsg(fd, &mh, 0) < 0 ? -errno : 0;
}

START_TEST(test_socket) {
        _cleanup_close_ int fd = -EBADF, other = -EBADF;
        char address[64], other_address[64], buf[NOTIFY_MESSAGE_MAX + 1];
        _cleanup_free_ char *big = malloc(NOTIFY_MESSAGE_MAX + 10);
        size_t len;
        pid_t pid;

        ck_assert_int_eq(notify_listen_open(&fd, address, sizeof address), 0);
        ck_assert_int_eq(notify_listen_open(&other, other_address, sizeof other_address), 0);
        /* Autobind: "@" and five hex digits, each socket its own. */
        ck_assert_uint_eq(strlen(address), 6);
        ck_assert_str_ne(address, other_address);
        ck_assert_int_eq(notify_listen_receive(fd, buf, sizeof buf, &len, &pid), 0);

        ck_assert_int_eq(send_to(address, "READY=1", 7, -EBADF), 0);
        ck_assert_int_eq(notify_listen_receive(fd, buf, sizeof buf, &len, &pid), 1);
        ck_assert_str_eq(buf, "READY=1");
        ck_assert_uint_eq(len, 7);
        ck_assert_int_eq(pid, getpid());

        /* A message with a file descriptor is dropped; so is one too long. */
        ck_assert_int_eq(send_to(address, "READY=1", 7, STDIN_FILENO), 0);
        ck_assert_ptr_nonnull(big);
        memset(big, 'x', NOTIFY_MESSAGE_MAX + 10);
        memcpy(big, "STATUS=", 7);
        ck_assert_int_eq(send_to(address, big, NOTIFY_MESSAGE_MAX + 10, -EBADF), 0);
        ck_assert_int_eq(send_to(address, "STATUS=last", 11, -EBADF), 0);
        ck_assert_int_eq(notify_listen_receive(fd, buf, sizeof buf, &len, &pid), 1);
        ck_assert_str_eq(buf, "STATUS=last");
        ck_assert_int_eq(notify_listen_receive(fd, buf, sizeof buf, &len, &pid), 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("notify-listen");

        TD_ADD_TEST(s, test_parse);
        TD_ADD_TEST(s, test_socket);
        return td_run_suite(s);
}
