/*
 * sfbridge: parses the command line, maps outcomes to exit codes, installs
 * signal handlers, and hands off to bridge_run() or the cli_ commands.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"
#include "cli.h"
#include "config.h"
#include "log.h"

static volatile sig_atomic_t stop_requested;
static int wake_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
        int saved = errno;

        /* A second Ctrl-C means "now": the operator has waited enough. */
        if (sig == SIGINT && stop_requested)
                _exit(EXIT_FATAL);
        stop_requested = 1;
        if (wake_pipe[1] >= 0 && write(wake_pipe[1], "x", 1) < 0) {
                /* The pipe is full: the loop is already awake. */
        }
        errno = saved;
}

static int install_signals(void)
{
        struct sigaction sa;

        if (pipe(wake_pipe) == -1)
                return -1;
        fcntl(wake_pipe[0], F_SETFL, O_NONBLOCK);
        fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK);
        fcntl(wake_pipe[0], F_SETFD, FD_CLOEXEC);
        fcntl(wake_pipe[1], F_SETFD, FD_CLOEXEC);
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
        return 0;
}

static void usage(FILE *fp)
{
        fprintf(fp,
                "usage: sfbridge [run] -c FILE [--log-format logfmt|json] [--log-level LEVEL]\n"
                "       sfbridge check -c FILE [--online]\n"
                "       sfbridge replay list -c FILE\n"
                "       sfbridge replay set -c FILE --channel CH (--id N | --new | --all)\n"
                "       sfbridge --version | --help\n"
                "\n"
                "Subscribes to Salesforce Streaming API channels and produces every event to Kafka.\n"
                "Exit codes: 0 clean stop, 1 bad config, 2 bad usage, 3 fatal at run time.\n");
        if (fp == stdout) {
                fputc('\n', fp);
                config_print_reference(fp);
        }
}

static int run(const char *path)
{
        char err[2048];
        struct config *cfg = config_load(path, err, sizeof(err));
        char routes[1024] = "";
        size_t i, off = 0;
        int rc;

        if (!cfg) {
                log_msg(LOG_ERROR, "config", "err=\"%s\"", err);
                fprintf(stderr, "%s\n", err);
                return EXIT_CONFIG;
        }
        for (i = 0; i < cfg->nwarnings; i++)
                log_msg(LOG_WARN, "config", "err=\"%s\"", cfg->warnings[i]);
        for (i = 0; i < cfg->nroutes && off < sizeof(routes); i++) {
                int n = snprintf(routes + off, sizeof(routes) - off, "%s%s->%s", i ? "," : "",
                                 cfg->routes[i].channel, cfg->routes[i].topic);
                if (n < 0)
                        break;
                off += (size_t)n;
        }
        if (install_signals() == -1) {
                log_msg(LOG_ERROR, "startup", "err=\"cannot create the signal pipe: %s\"", strerror(errno));
                config_destroy(cfg);
                return EXIT_FATAL;
        }
        log_msg(LOG_INFO, "starting", "version=%s config=\"%s\" name=%s delivery=%s flow=%s routes=\"%s\"",
                SFBRIDGE_VERSION, path, cfg->name, config_delivery_name(cfg->kafka.delivery),
                config_flow_name(cfg->sf.flow), routes);
        rc = bridge_run(cfg, wake_pipe[0], &stop_requested, err, sizeof(err));
        if (rc != EXIT_CLEAN)
                log_msg(LOG_ERROR, "fatal", "exit=%d err=\"%s\"", rc, err);
        config_destroy(cfg);
        return rc;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "online", no_argument, NULL, 'o' },
                { "log-format", required_argument, NULL, 'f' },
                { "log-level", required_argument, NULL, 'l' },
                { "channel", required_argument, NULL, 'C' },
                { "id", required_argument, NULL, 'i' },
                { "new", no_argument, NULL, 'n' },
                { "all", no_argument, NULL, 'a' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { NULL, 0, NULL, 0 }
        };
        const char *cmd = "run", *sub = NULL, *path = NULL, *channel = NULL;
        enum log_format lfmt = LOG_FORMAT_LOGFMT;
        enum log_level llvl = LOG_INFO;
        long long replay_id = 0;
        int online = 0, nid = 0, opt;

        if (argc > 1 && argv[1][0] != '-') {
                cmd = argv[1];
                argv++;
                argc--;
                if (!strcmp(cmd, "replay") && argc > 1 && argv[1][0] != '-') {
                        sub = argv[1];
                        argv++;
                        argc--;
                }
        }
        while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                char *end;

                switch (opt) {
                case 'c': path = optarg; break;
                case 'o': online = 1; break;
                case 'C': channel = optarg; break;
                case 'n': replay_id = -1; nid++; break;
                case 'a': replay_id = -2; nid++; break;
                case 'i':
                        errno = 0;
                        replay_id = strtoll(optarg, &end, 10);
                        if (errno || *end || replay_id < 0) {
                                fprintf(stderr, "sfbridge: --id wants a replay ID (a non-negative integer), not '%s'\n", optarg);
                                return EXIT_USAGE;
                        }
                        nid++;
                        break;
                case 'f':
                        if (log_format_parse(optarg, &lfmt) == -1) {
                                fprintf(stderr, "sfbridge: --log-format is logfmt or json, not '%s'\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'l':
                        if (log_level_parse(optarg, &llvl) == -1) {
                                fprintf(stderr, "sfbridge: --log-level is debug, info, warn or error, not '%s'\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'h': usage(stdout); return EXIT_CLEAN;
                case 'V': printf("sfbridge %s\n", SFBRIDGE_VERSION); return EXIT_CLEAN;
                default: usage(stderr); return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "sfbridge: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return EXIT_USAGE;
        }
        log_setup(lfmt, llvl);
        if (!path) {
                fprintf(stderr, "sfbridge: -c FILE is required\n");
                usage(stderr);
                return EXIT_USAGE;
        }
        if (!strcmp(cmd, "run"))
                return run(path);
        if (!strcmp(cmd, "check"))
                return cli_check(path, online);
        if (!strcmp(cmd, "replay") && sub && !strcmp(sub, "list"))
                return cli_replay_list(path);
        if (!strcmp(cmd, "replay") && sub && !strcmp(sub, "set")) {
                if (!channel || nid != 1) {
                        fprintf(stderr, "sfbridge: replay set wants --channel CH and one of --id N, --new, --all\n");
                        return EXIT_USAGE;
                }
                return cli_replay_set(path, channel, replay_id);
        }
        fprintf(stderr, "sfbridge: unknown command '%s%s%s'\n", cmd, sub ? " " : "", sub ? sub : "");
        usage(stderr);
        return EXIT_USAGE;
}
