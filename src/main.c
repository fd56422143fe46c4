/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <sysexits.h>

#include "build-config.h"
#include "config.h"
#include "log.h"
#include "master.h"
#include "upgrade-check.h"
#include "version.h"

#define DEFAULT_CONFIG PKGSYSCONFDIR "/preforkd.conf"

static void help(FILE *f) {
        fprintf(f,
                "Usage: %s [-c FILE] [-t] [-V] [-h]\n"
                "Prefork process-pool network daemon.\n\n"
                "  -c FILE   configuration file (default: %s)\n"
                "  -t        check the configuration and exit\n"
                "  -V        print the version and exit\n"
                "  -h        show this help and exit\n"
                "Used by a binary upgrade (SIGUSR2), not by hand:\n"
                "  --check-upgrade=FD  check that this binary can take over the state in FD\n"
                "  --deserialize=FD    resume from the state in FD\n"
                "  --rollback=FD       with --deserialize: go back to the binary FD on failure\n",
                program_invocation_short_name, DEFAULT_CONFIG);
}

enum {
        ARG_CHECK_UPGRADE = 0x100,
        ARG_DESERIALIZE,
        ARG_ROLLBACK,
};

/* An fd named on the command line by the master that executed us. */
static int parse_fd(const char *s, const char *option) {
        char *end;
        long fd;

        errno = 0;
        fd = strtol(s, &end, 10);
        if (errno != 0 || *end || end == s || fd < 3 || fd > INT_MAX) {
                fprintf(stderr, "%s: %s: not a file descriptor: '%s'\n", program_invocation_short_name, option, s);
                return -EINVAL;
        }
        return (int) fd;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "check-upgrade", required_argument, NULL, ARG_CHECK_UPGRADE },
                { "deserialize", required_argument, NULL, ARG_DESERIALIZE },
                { "rollback", required_argument, NULL, ARG_ROLLBACK },
                { NULL, 0, NULL, 0 },
        };
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        const char *path = DEFAULT_CONFIG;
        int check_fd = -EBADF, state_fd = -EBADF, rollback_fd = -EBADF;
        bool test = false;
        int opt, r;

        log_setup();
        while ((opt = getopt_long(argc, argv, "c:tVh", options, NULL)) >= 0)
                switch (opt) {
                case 'c':
                        path = optarg;
                        break;
                case 't':
                        test = true;
                        break;
                case ARG_CHECK_UPGRADE:
                case ARG_DESERIALIZE:
                case ARG_ROLLBACK:
                        r = parse_fd(optarg, opt == ARG_CHECK_UPGRADE ? "--check-upgrade"
                                             : opt == ARG_DESERIALIZE ? "--deserialize"
                                                                      : "--rollback");
                        if (r < 0)
                                return EX_USAGE;
                        *(opt == ARG_CHECK_UPGRADE ? &check_fd : opt == ARG_DESERIALIZE ? &state_fd : &rollback_fd) = r;
                        break;
                case 'V':
                        printf("preforkd %s\n", PREFORKD_VERSION);
                        return EX_OK;
                case 'h':
                        help(stdout);
                        return EX_OK;
                default:
                        help(stderr);
                        return EX_USAGE;
                }
        if (optind < argc) {
                fprintf(stderr, "%s: unexpected argument '%s'\n", program_invocation_short_name, argv[optind]);
                help(stderr);
                return EX_USAGE;
        }
        if ((rollback_fd >= 0 && state_fd < 0) || (check_fd >= 0 && (state_fd >= 0 || test))) {
                fprintf(stderr, "%s: --rollback needs --deserialize, and --check-upgrade goes alone\n",
                        program_invocation_short_name);
                return EX_USAGE;
        }
        if (check_fd >= 0)
                return upgrade_check_main(path, check_fd);
        if (state_fd >= 0)
                return master_resume(path, state_fd, rollback_fd);

        r = config_load(path, &c, &errors);
        if (r < 0) {
                for (char **e = errors; e && *e; e++)
                        if (test)
                                fprintf(stderr, "%s\n", *e);
                        else
                                log_error("%s", *e);
                if (!test)
                        log_error("Not starting: the configuration in %s is not valid", path);
                return EX_CONFIG;
        }
        if (test) {
                char summary[128];
                (void) config_summary(c, summary, sizeof summary);
                printf("%s: configuration OK: %s\n", path, summary);
                return EX_OK;
        }

        log_set_max_level(c->log_level);
        return master_run(path, TAKE_PTR(c));
}
