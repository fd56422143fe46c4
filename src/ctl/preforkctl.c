/* SPDX-License-Identifier: MIT */
/* preforkctl: asks a running preforkd over its control socket
 * (control-proto.h) and prints the answer. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "build-config.h"
#include "control-proto.h"
#include "macros.h"
#include "textbuf.h"
#include "time-util.h"

#define DEFAULT_SOCKET "/run/preforkd/control"
/* Commands other than reload and upgrade answer at once; a daemon that
 * does not within this is stuck or not a preforkd. */
#define DEFAULT_TIMEOUT_SEC 30.0
/* An answer is never larger: 4096 workers' status is well below. */
#define ANSWER_MAX (64U << 20)

enum {
        EXIT_OK = 0,
        EXIT_REFUSED = 1,    /* refused, rolled back, or the daemon's error */
        EXIT_USAGE = 2,
        EXIT_NO_DAEMON = 3,  /* cannot connect, no or a broken answer in time */
        EXIT_DENIED = 4,     /* a mutating command from a user who may not */
};

static void help(FILE *f) {
        fprintf(f,
                "Usage: %s [-s SOCKET] [--json] [-t SECONDS] COMMAND [ARGUMENT...]\n"
                "Controls a running preforkd.\n\n"
                "Commands:\n"
                "  status [SERVICE]       services and their workers (--json: as JSON)\n"
                "  metrics                the counters, in Prometheus's text format\n"
                "  reload                 reload the configuration; waits for the outcome\n"
                "  scale SERVICE N        run N workers for SERVICE until the next reload\n"
                "  drain [SERVICE]        tell load balancers' agent checks \"drain\"\n"
                "  undrain [SERVICE]      ... and \"up\" again\n"
                "  upgrade                run the preforkd binary now on disk in place (same PID);\n"
                "                         waits: 0 when it serves, 1 when the old one still does\n\n"
                "Options:\n"
                "  -s, --socket SOCKET    the control socket (default: $RUNTIME_DIRECTORY/control,\n"
                "                         else %s)\n"
                "  -j, --json             JSON output (status)\n"
                "  -t, --timeout SECONDS  give up after this long (default: %.0f; reload, upgrade: none)\n"
                "  -V, --version          print the version and exit\n"
                "  -h, --help             show this help and exit\n\n"
                "Exit status: 0 done, 1 refused or rolled back, 2 usage, 3 no daemon answered,\n"
                "4 permission denied.\n",
                program_invocation_short_name, DEFAULT_SOCKET, DEFAULT_TIMEOUT_SEC);
}

static const char *default_socket(char *buf, size_t size) {
        const char *rd = getenv("RUNTIME_DIRECTORY");

        if (rd && rd[0] == '/') {
                (void) snprintf(buf, size, "%.*s/control", (int) strcspn(rd, ":"), rd);
                return buf;
        }
        return DEFAULT_SOCKET;
}

/* Milliseconds left until deadline, for poll(); -1 for no deadline. */
static int remaining_ms(uint64_t deadline) {
        uint64_t now = now_usec();

        if (deadline == USEC_INFINITY)
                return -1;
        return now >= deadline ? 0 : (int) MIN((deadline - now + 999) / 1000, (uint64_t) 1 << 30);
}

static int wait_fd(int fd, short events, uint64_t deadline) {
        struct pollfd p = { .fd = fd, .events = events };
        int r;

        do
                r = poll(&p, 1, remaining_ms(deadline));
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        return r == 0 ? -ETIMEDOUT : 0;
}

static int connect_socket(const char *path, uint64_t deadline, int *ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        int err = 0;
        socklen_t l = sizeof err;

        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                if (errno != EAGAIN && errno != EINPROGRESS)
                        return -errno;
                /* The daemon's listen queue is full: wait for room. */
                int r = wait_fd(fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                        return -errno;
                if (err != 0)
                        return -err;
        }
        *ret = TAKE_FD(fd);
        return 0;
}

static int send_all(int fd, const char *buf, size_t n, uint64_t deadline) {
        while (n > 0) {
                ssize_t k = send(fd, buf, n, MSG_NOSIGNAL);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return -errno;
                        int r = wait_fd(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                buf += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Reads the answer until the daemon closes the connection. */
static int read_answer(int fd, uint64_t deadline, TextBuf *ret) {
        char buf[65536];

        for (;;) {
                ssize_t k = recv(fd, buf, sizeof buf, 0);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return -errno;
                        int r = wait_fd(fd, POLLIN, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k == 0)
                        return ret->oom ? -ENOMEM : 0;
                if (ret->len + (size_t) k > ANSWER_MAX)
                        return -EFBIG;
                textbuf_append(ret, buf, (size_t) k);
        }
}

static int exit_for(ControlStatus st) {
        switch (st) {
        case CONTROL_OK:
                return EXIT_OK;
        case CONTROL_DENIED:
                return EXIT_DENIED;
        case CONTROL_REFUSED:
        case CONTROL_ROLLED_BACK:
        case CONTROL_ERROR:
        default:
                return EXIT_REFUSED;
        }
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "json", no_argument, NULL, 'j' },
                { "timeout", required_argument, NULL, 't' },
                { "version", no_argument, NULL, 'V' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        char line[CONTROL_REQUEST_MAX + 1], sockbuf[256];
        const char *path = NULL, *why;
        double timeout = -1;
        bool json = false;
        ControlRequest req;
        TextBuf answer = { 0 };
        _cleanup_close_ int fd = -EBADF;
        size_t msg, msg_len, body, n = 0;
        ControlStatus st;
        uint64_t deadline;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "+s:jt:Vh", options, NULL)) >= 0)
                switch (opt) {
                case 's':
                        path = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 't': {
                        char *end;

                        errno = 0;
                        timeout = strtod(optarg, &end);
                        if (errno != 0 || end == optarg || *end || !(timeout > 0) || timeout > 86400) {
                                fprintf(stderr, "%s: --timeout: \"%s\" is not a number of seconds (0 to 86400)\n",
                                        program_invocation_short_name, optarg);
                                return EXIT_USAGE;
                        }
                        break;
                }
                case 'V':
                        printf("preforkctl %s\n", PACKAGE_VERSION);
                        return EXIT_OK;
                case 'h':
                        help(stdout);
                        return EXIT_OK;
                default:
                        help(stderr);
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                fprintf(stderr, "%s: no command given\n", program_invocation_short_name);
                help(stderr);
                return EXIT_USAGE;
        }

        /* The command line becomes the request line, and the daemon's own
         * parser checks it first here, so that a mistake is a usage error
         * with the same words the daemon would use. */
        {
                TextBuf b = { 0 };
                _cleanup_free_ char *text = NULL;

                if (json)
                        textbuf_puts(&b, "--json ");
                for (int i = optind; i < argc; i++) {
                        textbuf_puts(&b, argv[i]);
                        if (i + 1 < argc)
                                textbuf_puts(&b, " ");
                }
                text = textbuf_steal(&b, &n);
                if (!text) {
                        fprintf(stderr, "%s: out of memory\n", program_invocation_short_name);
                        return EXIT_NO_DAEMON;
                }
                if (control_request_parse(text, n, &req, &why) < 0) {
                        fprintf(stderr, "%s: %s\n", program_invocation_short_name, why);
                        return EXIT_USAGE;
                }
        }
        r = control_request_format(&req, line, sizeof line);
        if (r < 0) {
                fprintf(stderr, "%s: the request is too long\n", program_invocation_short_name);
                return EXIT_USAGE;
        }
        n = (size_t) r;

        if (!path)
                path = default_socket(sockbuf, sizeof sockbuf);
        if (timeout < 0)
                timeout = IN_SET(req.command, CONTROL_RELOAD, CONTROL_UPGRADE) ? 0 : DEFAULT_TIMEOUT_SEC;
        deadline = timeout > 0 ? now_usec() + (uint64_t) (timeout * 1e6) : USEC_INFINITY;

        r = connect_socket(path, deadline, &fd);
        if (r < 0) {
                fprintf(stderr, "%s: cannot connect to %s: %s%s\n", program_invocation_short_name, path,
                        strerror(-r), IN_SET(r, -ENOENT, -ECONNREFUSED) ? " (is preforkd running? see -s)" : "");
                return EXIT_NO_DAEMON;
        }
        r = send_all(fd, line, n, deadline);
        if (r >= 0)
                r = read_answer(fd, deadline, &answer);
        if (r < 0) {
                fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, path,
                        r == -ETIMEDOUT ? "no answer in time" : strerror(-r));
                textbuf_done(&answer);
                return EXIT_NO_DAEMON;
        }
        r = answer.data ? control_reply_parse(answer.data, answer.len, &st, &msg, &msg_len, &body) : -EBADMSG;
        if (r < 0) {
                fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, path,
                        answer.len == 0 ? "the daemon closed the connection without an answer"
                                        : "the answer is not one of preforkd's");
                textbuf_done(&answer);
                return EXIT_NO_DAEMON;
        }
        if (st == CONTROL_OK) {
                if (msg_len > 0)
                        printf("%.*s\n", (int) msg_len, answer.data + msg);
                fwrite(answer.data + body, 1, answer.len - body, stdout);
        } else {
                fprintf(stderr, "%s: %s%s%.*s\n", program_invocation_short_name, control_status_to_string(st),
                        msg_len > 0 ? ": " : "", (int) msg_len, answer.data + msg);
                fwrite(answer.data + body, 1, answer.len - body, stderr);
        }
        textbuf_done(&answer);
        if (fflush(stdout) != 0) {
                fprintf(stderr, "%s: cannot write the answer: %s\n", program_invocation_short_name, strerror(errno));
                return EXIT_REFUSED;
        }
        return exit_for(st);
}
