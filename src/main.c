/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdio.h>
#include <sysexits.h>

#include "build-config.h"
#include "config.h"
#include "log.h"
#include "master.h"

#define DEFAULT_CONFIG PKGSYSCONFDIR "/preforkd.conf"

static void help(FILE *f) {
        fprintf(f,
                "Usage: %s [-c FILE] [-t] [-V] [-h]\n"
                "Prefork process-pool network daemon.\n\n"
                "  -c FILE   configuration file (default: %s)\n"
                "  -t        check the configuration and exit\n"
                "  -V        print the version and exit\n"
                "  -h        show this help and exit\n",
                program_invocation_short_name, DEFAULT_CONFIG);
}

int main(int argc, char *argv[]) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        const char *path = DEFAULT_CONFIG;
        bool test = false;
        int opt, r;

        log_setup();
        while ((opt = getopt(argc, argv, "c:tVh")) >= 0)
                switch (opt) {
                case 'c':
                        path = optarg;
                        break;
                case 't':
                        test = true;
                        break;
                case 'V':
                        printf("preforkd %s\n", PACKAGE_VERSION);
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
