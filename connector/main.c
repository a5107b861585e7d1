/*
 * sfbridge: parses the command line, maps outcomes to exit codes, installs
 * signal handlers, and hands off to bridge_run() or the cli_ commands.
 * SIGHUP's reload (re-read the config, apply changed credentials to the
 * next login) lives here too, run from the bridge loop, never the handler.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bridge.h"
#include "cli.h"
#include "config.h"
#include "jwt.h"
#include "log.h"
#include "secure_file.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;
static int wake_pipe[2] = { -1, -1 };

static void wake_loop(void)
{
        if (wake_pipe[1] >= 0 && write(wake_pipe[1], "x", 1) < 0) {
                /* The pipe is full: the loop is already awake. */
        }
}

static void on_signal(int sig)
{
        int saved = errno;

        /* A second Ctrl-C means "now": the operator has waited enough. */
        if (sig == SIGINT && stop_requested)
                _exit(EXIT_FATAL);
        stop_requested = 1;
        wake_loop();
        errno = saved;
}

/* SIGHUP: only a flag; the loop reloads (reload_config()), never the handler. */
static void on_hup(int sig)
{
        int saved = errno;

        (void)sig;
        reload_requested = 1;
        wake_loop();
        errno = saved;
}

/*
 * No core dumps: one held the password, the client secret and 13 access
 * tokens. PR_SET_DUMPABLE 0 also keeps other users (root aside) from
 * attaching a debugger or reading /proc/PID/environ, mem and maps.
 * SFBRIDGE_CORE_DUMPS=1 keeps both as they were, for debugging.
 * @returns 1 when core dumps were left allowed.
 */
static int harden_process(void)
{
        const char *opt = getenv("SFBRIDGE_CORE_DUMPS");
        struct rlimit none = { 0, 0 };

        if (opt && strcmp(opt, "1") == 0)
                return 1;
        setrlimit(RLIMIT_CORE, &none);
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        return 0;
}

/* What the kernel says now, not what was asked: the log line is the proof. */
static void log_hardening(int allowed)
{
        struct rlimit rl;
        int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);

        if (getrlimit(RLIMIT_CORE, &rl) == -1)
                rl.rlim_cur = RLIM_INFINITY;
        log_msg(allowed ? LOG_WARN : LOG_INFO, "hardening",
                "core_dumps=%s dumpable=%d core_limit=%s%s",
                allowed ? "allowed" : (dumpable == 0 && rl.rlim_cur == 0 ? "disabled" : "failed"),
                dumpable, rl.rlim_cur == RLIM_INFINITY ? "unlimited" : rl.rlim_cur == 0 ? "0" : "set",
                allowed ? " by=SFBRIDGE_CORE_DUMPS" : "");
}

static int core_dumps_allowed;

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
        sa.sa_handler = on_hup;
        sigaction(SIGHUP, &sa, NULL);
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
                "       sfbridge units -c FILE\n"
                "       sfbridge --version | --help\n"
                "\n"
                "Subscribes to Salesforce Streaming API channels and produces every event to Kafka.\n"
                "Exit codes: 0 clean stop, 1 bad config, 2 bad usage, 3 fatal at run time.\n");
        if (fp == stdout) {
                fputc('\n', fp);
                config_print_reference(fp);
        }
}

/*
 * SIGHUP: what the running bridge holds, so a reload can tell what changed.
 * Credentials (salesforce.auth.*) and the JWT key file's contents apply to
 * the next login; the session and its token keep running.
 */
struct reload_ctx {
        const char *path;
        struct config *cfg;             /* the running config; credentials swapped in place */
        unsigned char key_digest[EVP_MAX_MD_SIZE]; /* SHA-256 of the key file last checked */
        unsigned key_digest_len;
};

/* Names of the keys that differ, comma-separated, split by kind. */
struct reload_diff {
        char cred[512];
        char other[512];
};

static void list_add(char *list, size_t size, const char *name)
{
        size_t n = strlen(list);

        snprintf(list + n, size - n, "%s%s", n ? "," : "", name);
}

static void note_diff(const char *path, void *arg)
{
        struct reload_diff *d = arg;

        if (config_key_is_credential(path))
                list_add(d->cred, sizeof(d->cred), path);
        else
                list_add(d->other, sizeof(d->other), path);
}

/* SHA-256 of a file, to tell a rotated key from the same one. @returns 0 or -1. */
static int file_digest(const char *path, unsigned char *md, unsigned *md_len)
{
        unsigned char buf[4096];
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        char err[256];
        int fd = secure_file_open(path, "salesforce.auth.private_key_file", NULL, err, sizeof(err));
        FILE *fp = fd == -1 ? NULL : fdopen(fd, "rb"); /* a FIFO must not hang a reload */
        size_t n;
        int rc = -1;

        if (fd != -1 && !fp)
                close(fd);

        if (ctx && fp && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
                while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
                        EVP_DigestUpdate(ctx, buf, n);
                if (!ferror(fp) && EVP_DigestFinal_ex(ctx, md, md_len) == 1)
                        rc = 0;
        }
        OPENSSL_cleanse(buf, sizeof(buf));
        if (fp)
                fclose(fp);
        EVP_MD_CTX_free(ctx);
        return rc;
}

/*
 * The JWT flow's key: sign a throwaway assertion exactly as the next login
 * will, so a file that is unreadable, not PEM, encrypted or not RSA is
 * reported now rather than at the next login. @returns 0 or -1 with errstr
 * (naming the file, never its contents).
 */
static int check_key_file(const struct config *cfg, char *errstr, size_t errstr_size)
{
        char *jwt = jwt_build_assertion(cfg->sf.private_key_file, cfg->sf.client_id,
                                        cfg->sf.username, cfg->sf.login_url, 0, errstr,
                                        errstr_size);

        if (!jwt)
                return -1;
        OPENSSL_cleanse(jwt, strlen(jwt));
        free(jwt);
        return 0;
}

/* @returns 1 when the credentials changed or the key file is good (see
 * bridge_on_reload()), else 0. */
static int reload_config(void *arg)
{
        struct reload_ctx *rc = arg;
        struct reload_diff d = { "", "" };
        struct config *fresh;
        char err[2048], *p, *next;
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        int key_changed = 0, key_ok = 0;

        log_msg(LOG_INFO, "reload", "config=%s", rc->path);
        fresh = config_load(rc->path, err, sizeof(err));
        if (!fresh) {
                log_msg(LOG_ERROR, "reload", "config=%s err=\"%s\" action=keep_running_unchanged",
                        rc->path, err);
                return 0;
        }
        config_diff(rc->cfg, fresh, note_diff, &d);
        if (fresh->sf.flow == AUTH_JWT) {
                if (check_key_file(fresh, err, sizeof(err)) == -1) {
                        /* The running session keeps its token; no credential changes. */
                        log_msg(LOG_ERROR, "reload", "file=%s err=\"%s\" action=keep_old_credentials",
                                fresh->sf.private_key_file, err);
                        config_destroy(fresh);
                        return 0;
                }
                key_ok = 1;
                if (file_digest(fresh->sf.private_key_file, md, &md_len) == 0 &&
                    (md_len != rc->key_digest_len || memcmp(md, rc->key_digest, md_len))) {
                        key_changed = rc->key_digest_len != 0;
                        memcpy(rc->key_digest, md, md_len);
                        rc->key_digest_len = md_len;
                }
        }
        if (d.other[0])
                log_msg(LOG_WARN, "reload", "keys=%s err=\"changed keys apply only at a restart; "
                        "running with their old values\" action=restart_to_apply", d.other);
        /* Credentials move into the running config: the next login reads them. */
        for (p = d.cred; *p; p = next) {
                next = strchr(p, ',');
                if (next)
                        *next++ = '\0';
                else
                        next = p + strlen(p);
                config_swap_value(rc->cfg, fresh, p);
                if (*next)
                        next[-1] = ',';
        }
        if (key_changed)
                list_add(d.cred, sizeof(d.cred), "salesforce.auth.private_key_file.contents");
        log_msg(LOG_INFO, "reloaded", "changed=%s restart_needed=%s applies=next_login",
                d.cred[0] ? d.cred : "none", d.other[0] ? d.other : "none");
        config_destroy(fresh);
        /* A good key file counts too: a login that failed on the broken
         * one is retried now rather than at the end of its backoff. */
        return d.cred[0] != '\0' || key_ok;
}

static int run(const char *path)
{
        static struct reload_ctx rctx;
        char err[2048];
        struct config *cfg = config_load(path, err, sizeof(err));
        const struct config_sf *sf0;
        char routes[1024] = "";
        size_t i, off = 0;
        int rc;

        if (!cfg) {
                log_msg(LOG_ERROR, "config", "err=\"%s\"", err);
                fprintf(stderr, "%s\n", err);
                return EXIT_CONFIG;
        }
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
        /* A file of orgs: only has no top-level salesforce: block; its first org speaks for it. */
        sf0 = cfg->norgs ? &cfg->orgs[0].sf : &cfg->sf;
        log_msg(LOG_INFO, "starting", "version=%s config=\"%s\" name=%s delivery=%s flow=%s routes=\"%s\"",
                SFBRIDGE_VERSION, path, cfg->name, config_delivery_name(cfg->kafka.delivery),
                config_flow_name(sf0->flow), routes);
        log_hardening(core_dumps_allowed);
        /* After the startup line, which comes first. */
        for (i = 0; i < cfg->nwarnings; i++)
                log_msg(LOG_WARN, "config", "err=\"%s\"", cfg->warnings[i]);
        for (i = 0; i < (cfg->norgs ? cfg->norgs : 1); i++) {
                const struct config_sf *sf = cfg->norgs ? &cfg->orgs[i].sf : &cfg->sf;
                static const char why[] = "Salesforce blocks the username-password flow by default "
                        "in new orgs (the login then fails with 'authentication failure'), and it "
                        "keeps a password in the config; prefer the jwt flow";

                if (sf->flow != AUTH_PASSWORD)
                        continue;
                if (cfg->has_orgs)
                        log_msg(LOG_WARN, "password_flow", "org=%s err=\"%s\"", cfg->orgs[i].id, why);
                else
                        log_msg(LOG_WARN, "password_flow", "err=\"%s\"", why);
        }
        rctx.path = path;
        rctx.cfg = cfg;
        if (cfg->sf.flow == AUTH_JWT &&
            file_digest(cfg->sf.private_key_file, rctx.key_digest, &rctx.key_digest_len) == -1)
                rctx.key_digest_len = 0;
        bridge_on_reload(&reload_requested, reload_config, &rctx);
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

        /* First, before a secret is read from anywhere but the environment. */
        core_dumps_allowed = harden_process();

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
        if (!strcmp(cmd, "units"))
                return cli_units(path);
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
