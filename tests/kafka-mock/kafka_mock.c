/*
 * kafka-mock: a local Kafka for tests and `make demo`. Starts librdkafka's
 * mock cluster (librdkafka 2.0.2) with N brokers on 127.0.0.1, prints the
 * bootstrap servers, takes brokers down and up on command, and stops on
 * SIGTERM. A second mode, --produce-txn, is the transactional producer the
 * integration tests need, since kcat 1.7.1 cannot produce in a transaction.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define KMOCK_DEFAULT_BROKERS 3
#define KMOCK_MAX_BROKERS 32
/* Same count as the mock's automatic topic creation (which 2.0.2 offers no
 * way to change), so named and auto-created topics look alike. */
#define KMOCK_DEFAULT_PARTITIONS 4
#define KMOCK_MAX_PARTITIONS 1000
#define KMOCK_MAX_TOPICS 64
#define KMOCK_DEFAULT_LIFETIME_S 1800
/* A control line longer than this is rejected and skipped up to its newline;
 * no command needs more. */
#define KMOCK_LINE_MAX 512
#define KMOCK_TOPIC_NAME_MAX 249
#define KMOCK_TXN_TIMEOUT_MS 30000
#define KMOCK_MAX_PRODUCE 10000 /* under the producer queue limit */

#define KMOCK_EXIT_OK 0
#define KMOCK_EXIT_FAIL 1
#define KMOCK_EXIT_USAGE 2
#define KMOCK_EXIT_LIFETIME 3

static const char kmock_usage[] =
    "usage: kafka-mock [--brokers N] [--partitions N] [--topic NAME[:PARTITIONS]]...\n"
    "                  [--max-lifetime-s N] [--control FIFO]\n"
    "       kafka-mock --produce-txn BOOTSTRAP TOPIC N [--abort]\n"
    "                  [--transactional-id ID] [--key-prefix P]\n"
    "       kafka-mock --help\n"
    "\n"
    "Starts librdkafka's mock Kafka cluster on 127.0.0.1 (ephemeral ports) and\n"
    "prints, as its first stdout line once ready:\n"
    "    kafka-mock bootstrap 127.0.0.1:P1,127.0.0.1:P2,...\n"
    "\n"
    "Options:\n"
    "  --brokers N          brokers, ids 1..N (default 3, at most 32); three\n"
    "                       lets a fault take down a partition leader or the\n"
    "                       transaction coordinator alone\n"
    "  --partitions N       partitions of each --topic without :PARTITIONS\n"
    "                       (default 4: the mock's own automatic topic creation\n"
    "                       uses 4, so every topic looks alike)\n"
    "  --topic NAME[:P]     create a topic at start (repeatable, at most 64);\n"
    "                       replication factor min(3, brokers)\n"
    "  --max-lifetime-s N   stop after N seconds, exit 3 (default 1800), so a\n"
    "                       forgotten instance cannot linger\n"
    "  --control FIFO       read commands from FIFO (created mode 0600 if\n"
    "                       missing, removed at exit if created here); stdin is\n"
    "                       read too when it is a pipe\n"
    "\n"
    "Commands, one per line; each is answered on stdout by\n"
    "\"kafka-mock ok: CMD\" or \"kafka-mock error: CMD: reason\":\n"
    "  down ID|all            disconnect broker(s), refuse new connections\n"
    "                         (no leader change: its partitions are unavailable)\n"
    "  up ID|all              accept connections again\n"
    "  rtt ID|all MS          add MS of round-trip delay\n"
    "  error API COUNT ERR    fail the next COUNT requests of API (name such as\n"
    "                         Produce, EndTxn, or number) with ERR (name such as\n"
    "                         NOT_LEADER_FOR_PARTITION, or number)\n"
    "  clear-errors API       drop the errors still queued for API\n"
    "  topic NAME PARTITIONS  create a topic\n"
    "  topic-error NAME ERR   answer Metadata for topic NAME with ERR (such as\n"
    "                         TOPIC_AUTHORIZATION_FAILED for a missing Write\n"
    "                         ACL, UNKNOWN_TOPIC_OR_PART for a topic that does\n"
    "                         not exist where auto.create.topics.enable=false);\n"
    "                         NO_ERROR clears it\n"
    "  bootstrap              print the bootstrap line again\n"
    "  quit                   stop, exit 0\n"
    "Signals: SIGUSR1 = down all, SIGUSR2 = up all, SIGTERM/SIGINT = stop, exit 0.\n"
    "\n"
    "Limits of librdkafka 2.0.2's mock cluster (know them before testing):\n"
    "  - each partition keeps at most 5 MiB and 100000 produce batches;\n"
    "    beyond that the oldest batches are dropped (the log start offset\n"
    "    moves up), so a test that needs every record must stay under it or\n"
    "    spread the records over more partitions;\n"
    "  - topics are auto-created on any Metadata request, 4 partitions;\n"
    "  - no CreateTopics, DescribeConfigs or other Admin API: Metadata reports\n"
    "    controller id 0, which no broker has, so admin calls time out with\n"
    "    \"Failed while waiting for controller\"; topic configs (such as\n"
    "    cleanup.policy=compact) do not exist and nothing is ever compacted;\n"
    "  - transactions are accepted (InitProducerId, AddPartitionsToTxn, EndTxn)\n"
    "    but write no commit/abort markers and report no aborted transactions:\n"
    "    an isolation.level=read_committed reader also sees messages of aborted\n"
    "    and of still-open transactions;\n"
    "  - a second producer with the same transactional.id gets a new producer\n"
    "    id: the first one is not fenced.\n"
    "\n"
    "--produce-txn produces N messages (key P-i, value P-i:committed or\n"
    "P-i:aborted, header txn=commit|abort; P defaults to \"txn\") in one\n"
    "transaction, flushes them to the log, then commits (or aborts with\n"
    "--abort). Exit 0 when the commit or abort succeeded, 1 otherwise.\n"
    "\n"
    "Exit codes: 0 clean stop, 1 failure, 2 bad usage, 3 max lifetime reached.\n";

/* Signal handlers only set these and write a byte to the self-pipe. */
static volatile sig_atomic_t kmock_sig_stop;
static volatile sig_atomic_t kmock_sig_down;
static volatile sig_atomic_t kmock_sig_up;
static int kmock_wake_fd = -1;

struct kmock_topic {
        const char *name; /* points into argv */
        int partitions;   /* -1: use --partitions */
};

struct kmock_opts {
        int brokers;
        int partitions;
        int lifetime_s;
        const char *control_path; /* points into argv, or NULL */
        struct kmock_topic topics[KMOCK_MAX_TOPICS];
        int topic_cnt;
};

/* One line-oriented input (the control FIFO or stdin). */
struct kmock_input {
        int fd;        /* -1 when closed */
        int keep_fd;   /* FIFO only: our own writer, so we never see EOF */
        char line[KMOCK_LINE_MAX + 1];
        size_t len;
        int overflow;  /* discarding the rest of a too-long line */
};

struct kmock {
        rd_kafka_t *rk;                 /* dummy handle the cluster needs */
        rd_kafka_mock_cluster_t *mcluster;
        int brokers;
        int wake_pipe[2];
        struct kmock_input fifo_in;
        struct kmock_input stdin_in;
        char *fifo_created;             /* path to unlink at exit, owned */
        int quit;
};

static void kmock_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * @brief Print one line on stdout and flush it: tests wait on these lines.
 */
static void kmock_say(const char *fmt, ...) {
        va_list ap;

        fputs("kafka-mock ", stdout);
        va_start(ap, fmt);
        vfprintf(stdout, fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
        fflush(stdout);
}

static void kmock_on_signal(int sig) {
        int saved_errno = errno;
        char c = 0;

        if (sig == SIGUSR1)
                kmock_sig_down = 1;
        else if (sig == SIGUSR2)
                kmock_sig_up = 1;
        else
                kmock_sig_stop = 1;
        if (kmock_wake_fd != -1 && write(kmock_wake_fd, &c, 1) < 0) {
                /* Pipe full: the loop is awake anyway. */
        }
        errno = saved_errno;
}

/**
 * @brief Parse a decimal integer in [min, max] from the whole of str.
 * @returns 0, or -1 with the reason in errstr.
 */
static int kmock_parse_int(const char *what, const char *str, long min,
                           long max, long *valp, char *errstr,
                           size_t errstr_size) {
        char *end;
        long val;

        errno = 0;
        val = strtol(str, &end, 10);
        if (errno || end == str || *end != '\0' || val < min || val > max) {
                snprintf(errstr, errstr_size,
                         "%s: \"%s\" is not an integer in %ld..%ld", what, str,
                         min, max);
                return -1;
        }
        *valp = val;
        return 0;
}

/**
 * @brief Check a topic name the way Kafka does: 1..249 of [a-zA-Z0-9._-],
 *        not "." or "..".
 */
static int kmock_topic_name_ok(const char *name, size_t len, char *errstr,
                               size_t errstr_size) {
        size_t i;

        if (len == 0 || len > KMOCK_TOPIC_NAME_MAX ||
            (len == 1 && name[0] == '.') ||
            (len == 2 && name[0] == '.' && name[1] == '.')) {
                snprintf(errstr, errstr_size,
                         "topic \"%.*s\": a name is 1..%d characters and not "
                         "\".\" or \"..\"",
                         (int)(len > 300 ? 300 : len), name,
                         KMOCK_TOPIC_NAME_MAX);
                return -1;
        }
        for (i = 0; i < len; i++) {
                unsigned char c = (unsigned char)name[i];

                if (!isalnum(c) && c != '.' && c != '_' && c != '-') {
                        snprintf(errstr, errstr_size,
                                 "topic \"%.*s\": character %zu is not one of "
                                 "a-z A-Z 0-9 . _ -",
                                 (int)len, name, i + 1);
                        return -1;
                }
        }
        return 0;
}

/**
 * @brief Parse NAME[:PARTITIONS] of --topic into tp.
 * @remark tp->name points into arg, which is modified (the colon is cut).
 */
static int kmock_parse_topic(char *arg, struct kmock_topic *tp, char *errstr,
                             size_t errstr_size) {
        char *colon = strrchr(arg, ':');
        long partitions = -1;

        if (colon) {
                *colon = '\0';
                if (kmock_parse_int("--topic partitions", colon + 1, 1,
                                    KMOCK_MAX_PARTITIONS, &partitions, errstr,
                                    errstr_size) == -1)
                        return -1;
        }
        if (kmock_topic_name_ok(arg, strlen(arg), errstr, errstr_size) == -1)
                return -1;
        tp->name = arg;
        tp->partitions = (int)partitions;
        return 0;
}

static int kmock_parse_opts(int argc, char **argv, struct kmock_opts *opts,
                            char *errstr, size_t errstr_size) {
        int i;
        long val;

        opts->brokers = KMOCK_DEFAULT_BROKERS;
        opts->partitions = KMOCK_DEFAULT_PARTITIONS;
        opts->lifetime_s = KMOCK_DEFAULT_LIFETIME_S;
        opts->control_path = NULL;
        opts->topic_cnt = 0;

        for (i = 1; i < argc; i++) {
                const char *opt = argv[i];

                if (i + 1 >= argc) {
                        snprintf(errstr, errstr_size,
                                 "%s: unknown option or missing value", opt);
                        return -1;
                }
                if (!strcmp(opt, "--brokers")) {
                        if (kmock_parse_int(opt, argv[++i], 1,
                                            KMOCK_MAX_BROKERS, &val, errstr,
                                            errstr_size) == -1)
                                return -1;
                        opts->brokers = (int)val;
                } else if (!strcmp(opt, "--partitions")) {
                        if (kmock_parse_int(opt, argv[++i], 1,
                                            KMOCK_MAX_PARTITIONS, &val, errstr,
                                            errstr_size) == -1)
                                return -1;
                        opts->partitions = (int)val;
                } else if (!strcmp(opt, "--max-lifetime-s")) {
                        if (kmock_parse_int(opt, argv[++i], 1, 7 * 24 * 3600,
                                            &val, errstr, errstr_size) == -1)
                                return -1;
                        opts->lifetime_s = (int)val;
                } else if (!strcmp(opt, "--control")) {
                        opts->control_path = argv[++i];
                        if (!*opts->control_path) {
                                snprintf(errstr, errstr_size,
                                         "--control: empty path");
                                return -1;
                        }
                } else if (!strcmp(opt, "--topic")) {
                        if (opts->topic_cnt == KMOCK_MAX_TOPICS) {
                                snprintf(errstr, errstr_size,
                                         "--topic: at most %d topics",
                                         KMOCK_MAX_TOPICS);
                                return -1;
                        }
                        if (kmock_parse_topic(argv[++i],
                                              &opts->topics[opts->topic_cnt],
                                              errstr, errstr_size) == -1)
                                return -1;
                        opts->topic_cnt++;
                } else {
                        snprintf(errstr, errstr_size, "%s: unknown option",
                                 opt);
                        return -1;
                }
        }
        return 0;
}

/*
 * Control input.
 */

static void kmock_input_init(struct kmock_input *in) {
        in->fd = -1;
        in->keep_fd = -1;
        in->len = 0;
        in->overflow = 0;
}

static void kmock_input_close(struct kmock_input *in) {
        if (in->fd != -1)
                close(in->fd);
        if (in->keep_fd != -1)
                close(in->keep_fd);
        kmock_input_init(in);
}

/**
 * @brief Open (creating when missing) the control FIFO.
 * @param createdp set to 1 when this call created the FIFO.
 */
static int kmock_fifo_open(struct kmock_input *in, const char *path,
                           int *createdp, char *errstr, size_t errstr_size) {
        struct stat st;

        *createdp = 0;
        if (mkfifo(path, 0600) == 0) {
                *createdp = 1;
        } else if (errno != EEXIST) {
                snprintf(errstr, errstr_size, "--control %s: mkfifo: %s", path,
                         strerror(errno));
                return -1;
        }
        if (stat(path, &st) == -1 || !S_ISFIFO(st.st_mode)) {
                snprintf(errstr, errstr_size, "--control %s: not a FIFO", path);
                return -1;
        }
        /* Reader first (non-blocking, so it does not wait for a writer),
         * then our own writer: with one writer always open, a client that
         * writes a command and closes never makes us read EOF. */
        in->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (in->fd == -1) {
                snprintf(errstr, errstr_size, "--control %s: open: %s", path,
                         strerror(errno));
                return -1;
        }
        in->keep_fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (in->keep_fd == -1) {
                snprintf(errstr, errstr_size, "--control %s: open: %s", path,
                         strerror(errno));
                kmock_input_close(in);
                return -1;
        }
        return 0;
}

/*
 * The cluster and its commands.
 */

/* ApiKeys a fault test may want to fail, by their protocol names. */
static const struct {
        const char *name;
        int16_t key;
} kmock_apis[] = {
    {"Produce", 0},           {"Fetch", 1},
    {"ListOffsets", 2},       {"Metadata", 3},
    {"OffsetCommit", 8},      {"OffsetFetch", 9},
    {"FindCoordinator", 10},  {"JoinGroup", 11},
    {"Heartbeat", 12},        {"LeaveGroup", 13},
    {"SyncGroup", 14},        {"ApiVersion", 18},
    {"InitProducerId", 22},   {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25},  {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
};

static int kmock_parse_api(const char *str, int16_t *keyp, char *errstr,
                           size_t errstr_size) {
        size_t i;
        long val;

        for (i = 0; i < sizeof(kmock_apis) / sizeof(kmock_apis[0]); i++) {
                if (!strcmp(str, kmock_apis[i].name)) {
                        *keyp = kmock_apis[i].key;
                        return 0;
                }
        }
        if (kmock_parse_int("API", str, 0, 1000, &val, errstr, errstr_size) ==
            -1) {
                snprintf(errstr, errstr_size,
                         "unknown API \"%s\" (a name such as Produce, EndTxn, "
                         "InitProducerId, or an ApiKey number)",
                         str);
                return -1;
        }
        *keyp = (int16_t)val;
        return 0;
}

/**
 * @brief Map an error name (as rd_kafka_err2name() spells it, without the
 *        RD_KAFKA_RESP_ERR_ prefix) or number to its code.
 */
static int kmock_parse_err(const char *str, rd_kafka_resp_err_t *errp,
                           char *errstr, size_t errstr_size) {
        const struct rd_kafka_err_desc *descs;
        size_t cnt, i;
        long val;

        rd_kafka_get_err_descs(&descs, &cnt);
        for (i = 0; i < cnt; i++) {
                if (descs[i].name && !strcmp(descs[i].name, str)) {
                        *errp = descs[i].code;
                        return 0;
                }
        }
        if (kmock_parse_int("ERR", str, -200, 1000, &val, errstr,
                            errstr_size) == -1) {
                snprintf(errstr, errstr_size,
                         "unknown error \"%s\" (a name such as "
                         "NOT_LEADER_FOR_PARTITION, or a number)",
                         str);
                return -1;
        }
        *errp = (rd_kafka_resp_err_t)val;
        return 0;
}

/**
 * @brief Parse a broker id (1..brokers) or "all" (-1).
 */
static int kmock_parse_broker(const struct kmock *kmock, const char *str,
                              int32_t *idp, char *errstr, size_t errstr_size) {
        long val;

        if (!strcmp(str, "all")) {
                *idp = -1;
                return 0;
        }
        if (kmock_parse_int("broker id", str, 1, kmock->brokers, &val, errstr,
                            errstr_size) == -1)
                return -1;
        *idp = (int32_t)val;
        return 0;
}

static int kmock_err_check(rd_kafka_resp_err_t err, char *errstr,
                           size_t errstr_size) {
        if (!err)
                return 0;
        snprintf(errstr, errstr_size, "%s", rd_kafka_err2str(err));
        return -1;
}

static int kmock_topic_create(struct kmock *kmock, const char *name,
                              int partitions, char *errstr,
                              size_t errstr_size) {
        int replication = kmock->brokers < 3 ? kmock->brokers : 3;

        return kmock_err_check(rd_kafka_mock_topic_create(kmock->mcluster,
                                                          name, partitions,
                                                          replication),
                               errstr, errstr_size);
}

/**
 * @brief Run one control command (already split into words).
 * @returns 0, or -1 with the reason in errstr.
 */
static int kmock_command(struct kmock *kmock, char **argv, int argc,
                         char *errstr, size_t errstr_size) {
        const char *cmd = argv[0];
        int32_t id;
        long val;

        if (!strcmp(cmd, "down") || !strcmp(cmd, "up")) {
                if (argc != 2) {
                        snprintf(errstr, errstr_size, "usage: %s ID|all", cmd);
                        return -1;
                }
                if (kmock_parse_broker(kmock, argv[1], &id, errstr,
                                       errstr_size) == -1)
                        return -1;
                return kmock_err_check(
                    !strcmp(cmd, "down")
                        ? rd_kafka_mock_broker_set_down(kmock->mcluster, id)
                        : rd_kafka_mock_broker_set_up(kmock->mcluster, id),
                    errstr, errstr_size);
        }
        if (!strcmp(cmd, "rtt")) {
                if (argc != 3) {
                        snprintf(errstr, errstr_size, "usage: rtt ID|all MS");
                        return -1;
                }
                if (kmock_parse_broker(kmock, argv[1], &id, errstr,
                                       errstr_size) == -1 ||
                    kmock_parse_int("MS", argv[2], 0, 600000, &val, errstr,
                                    errstr_size) == -1)
                        return -1;
                return kmock_err_check(rd_kafka_mock_broker_set_rtt(
                                           kmock->mcluster, id, (int)val),
                                       errstr, errstr_size);
        }
        if (!strcmp(cmd, "error")) {
                rd_kafka_resp_err_t errs[64];
                rd_kafka_resp_err_t err;
                int16_t api;
                long i;

                if (argc != 4) {
                        snprintf(errstr, errstr_size,
                                 "usage: error API COUNT ERR");
                        return -1;
                }
                if (kmock_parse_api(argv[1], &api, errstr, errstr_size) ==
                        -1 ||
                    kmock_parse_int("COUNT", argv[2], 1,
                                    (long)(sizeof(errs) / sizeof(errs[0])),
                                    &val, errstr, errstr_size) == -1 ||
                    kmock_parse_err(argv[3], &err, errstr, errstr_size) == -1)
                        return -1;
                for (i = 0; i < val; i++)
                        errs[i] = err;
                rd_kafka_mock_push_request_errors_array(kmock->mcluster, api,
                                                        (size_t)val, errs);
                return 0;
        }
        if (!strcmp(cmd, "clear-errors")) {
                int16_t api;

                if (argc != 2) {
                        snprintf(errstr, errstr_size, "usage: clear-errors API");
                        return -1;
                }
                if (kmock_parse_api(argv[1], &api, errstr, errstr_size) == -1)
                        return -1;
                rd_kafka_mock_clear_request_errors(kmock->mcluster, api);
                return 0;
        }
        if (!strcmp(cmd, "topic")) {
                if (argc != 3) {
                        snprintf(errstr, errstr_size,
                                 "usage: topic NAME PARTITIONS");
                        return -1;
                }
                if (kmock_topic_name_ok(argv[1], strlen(argv[1]), errstr,
                                        errstr_size) == -1 ||
                    kmock_parse_int("PARTITIONS", argv[2], 1,
                                    KMOCK_MAX_PARTITIONS, &val, errstr,
                                    errstr_size) == -1)
                        return -1;
                return kmock_topic_create(kmock, argv[1], (int)val, errstr,
                                          errstr_size);
        }
        if (!strcmp(cmd, "topic-error")) {
                rd_kafka_resp_err_t err;

                if (argc != 3) {
                        snprintf(errstr, errstr_size,
                                 "usage: topic-error NAME ERR");
                        return -1;
                }
                if (kmock_topic_name_ok(argv[1], strlen(argv[1]), errstr,
                                        errstr_size) == -1 ||
                    kmock_parse_err(argv[2], &err, errstr, errstr_size) == -1)
                        return -1;
                /* The mock creates the topic if needed and from then on
                 * reports err for it in Metadata (and AddPartitionsToTxn). */
                rd_kafka_mock_topic_set_error(kmock->mcluster, argv[1], err);
                return 0;
        }
        if (!strcmp(cmd, "bootstrap") && argc == 1) {
                kmock_say("bootstrap %s",
                          rd_kafka_mock_cluster_bootstraps(kmock->mcluster));
                return 0;
        }
        if (!strcmp(cmd, "quit") && argc == 1) {
                kmock->quit = 1;
                return 0;
        }
        snprintf(errstr, errstr_size,
                 "unknown command (down, up, rtt, error, clear-errors, topic, "
                 "topic-error, bootstrap, quit; see --help)");
        return -1;
}

/**
 * @brief Split one control line into words, run it, and acknowledge it.
 */
static void kmock_line(struct kmock *kmock, char *line) {
        char errstr[512];
        char echo[KMOCK_LINE_MAX + 1];
        char *argv[8];
        int argc = 0;
        char *save = NULL;
        char *word;
        size_t i;

        /* Surrounding blanks (and a CRLF's CR) are not part of the command,
         * so the acknowledgement echoes exactly what a client compares. */
        while (*line == ' ' || *line == '\t')
                line++;
        i = strlen(line);
        while (i > 0 && (line[i - 1] == ' ' || line[i - 1] == '\t' ||
                         line[i - 1] == '\r'))
                line[--i] = '\0';
        /* kmock_input_read() already replaced control bytes but tabs. */
        for (i = 0; line[i] && i < KMOCK_LINE_MAX; i++)
                echo[i] = line[i] == '\t' ? ' ' : line[i];
        echo[i] = '\0';

        for (word = strtok_r(line, " \t\r", &save); word;
             word = strtok_r(NULL, " \t\r", &save)) {
                if (argc == (int)(sizeof(argv) / sizeof(argv[0]))) {
                        kmock_say("error: %s: too many words", echo);
                        return;
                }
                argv[argc++] = word;
        }
        if (argc == 0 || argv[0][0] == '#')
                return; /* blank line or comment: nothing to acknowledge */

        if (kmock_command(kmock, argv, argc, errstr, sizeof(errstr)) == -1)
                kmock_say("error: %s: %s", echo, errstr);
        else
                kmock_say("ok: %s", echo);
}

/**
 * @brief Read what is available on in and run every complete line.
 */
static void kmock_input_read(struct kmock *kmock, struct kmock_input *in) {
        char chunk[1024];
        ssize_t n;
        ssize_t i;

        n = read(in->fd, chunk, sizeof(chunk));
        if (n == -1) {
                if (errno == EAGAIN || errno == EINTR)
                        return;
                fprintf(stderr, "kafka-mock: control input: %s\n",
                        strerror(errno));
                kmock_input_close(in);
                return;
        }
        if (n == 0) {
                /* stdin closed: keep running, stop reading it. */
                kmock_input_close(in);
                return;
        }
        for (i = 0; i < n; i++) {
                char c = chunk[i];

                if (c == '\n') {
                        in->line[in->len] = '\0';
                        if (in->overflow)
                                kmock_say("error: line longer than %d bytes "
                                          "ignored",
                                          KMOCK_LINE_MAX);
                        else
                                kmock_line(kmock, in->line);
                        in->len = 0;
                        in->overflow = 0;
                } else if (in->len == KMOCK_LINE_MAX) {
                        in->overflow = 1;
                } else if (!in->overflow) {
                        /* A stray control byte must not reach the command
                         * words or garble an acknowledgement line. */
                        in->line[in->len++] =
                            isprint((unsigned char)c) || c == '\t' ||
                                    c == '\r'
                                ? c
                                : '?';
                }
        }
}

static void kmock_destroy(struct kmock *kmock) {
        if (!kmock)
                return;
        /* The cluster must go before the handle it was created on. */
        if (kmock->mcluster)
                rd_kafka_mock_cluster_destroy(kmock->mcluster);
        if (kmock->rk)
                rd_kafka_destroy(kmock->rk);
        kmock_input_close(&kmock->fifo_in);
        kmock_input_close(&kmock->stdin_in);
        if (kmock->fifo_created) {
                unlink(kmock->fifo_created);
                free(kmock->fifo_created);
        }
        kmock_wake_fd = -1;
        if (kmock->wake_pipe[0] != -1)
                close(kmock->wake_pipe[0]);
        if (kmock->wake_pipe[1] != -1)
                close(kmock->wake_pipe[1]);
        free(kmock);
}

/**
 * @brief Start the cluster, create the --topic topics, open the inputs.
 * @returns a new instance, free with kmock_destroy(), or NULL with errstr.
 * @remark librdkafka's threads start with the control signals blocked, so
 *         the signals always reach the main thread's poll().
 */
static struct kmock *kmock_new(const struct kmock_opts *opts, char *errstr,
                               size_t errstr_size) {
        struct kmock *kmock;
        rd_kafka_conf_t *conf;
        struct stat st;
        int i;

        kmock = calloc(1, sizeof(*kmock));
        if (!kmock) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        kmock->brokers = opts->brokers;
        kmock->wake_pipe[0] = kmock->wake_pipe[1] = -1;
        kmock_input_init(&kmock->fifo_in);
        kmock_input_init(&kmock->stdin_in);

        if (pipe(kmock->wake_pipe) == -1) {
                snprintf(errstr, errstr_size, "pipe: %s", strerror(errno));
                goto fail;
        }
        for (i = 0; i < 2; i++) {
                fcntl(kmock->wake_pipe[i], F_SETFL, O_NONBLOCK);
                fcntl(kmock->wake_pipe[i], F_SETFD, FD_CLOEXEC);
        }
        kmock_wake_fd = kmock->wake_pipe[1];

        conf = rd_kafka_conf_new();
        /* The dummy handle never connects anywhere; level 4 hides its
         * notice that no bootstrap.servers is set, and keeps warnings. */
        if (rd_kafka_conf_set(conf, "log_level", "4", errstr, errstr_size) !=
            RD_KAFKA_CONF_OK) {
                rd_kafka_conf_destroy(conf);
                goto fail;
        }
        /* The mock's broker sockets inherit this. Without it a second
         * pipelined response waits ~40 ms for the client's delayed ACK,
         * as a real broker (TCP_NODELAY) never makes it wait. */
        if (rd_kafka_conf_set(conf, "socket.nagle.disable", "true", errstr, errstr_size) !=
            RD_KAFKA_CONF_OK) {
                rd_kafka_conf_destroy(conf);
                goto fail;
        }
        kmock->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
        if (!kmock->rk) {
                rd_kafka_conf_destroy(conf); /* not taken over on failure */
                goto fail;
        }
        kmock->mcluster = rd_kafka_mock_cluster_new(kmock->rk, opts->brokers);
        if (!kmock->mcluster) {
                snprintf(errstr, errstr_size,
                         "could not start the mock cluster (see the "
                         "librdkafka log above)");
                goto fail;
        }
        for (i = 0; i < opts->topic_cnt; i++) {
                const struct kmock_topic *tp = &opts->topics[i];
                char why[256];

                if (kmock_topic_create(kmock, tp->name,
                                       tp->partitions > 0 ? tp->partitions
                                                          : opts->partitions,
                                       why, sizeof(why)) == -1) {
                        snprintf(errstr, errstr_size, "--topic %s: %s",
                                 tp->name, why);
                        goto fail;
                }
        }

        if (opts->control_path) {
                int created;

                if (kmock_fifo_open(&kmock->fifo_in, opts->control_path,
                                    &created, errstr, errstr_size) == -1) {
                        if (created)
                                unlink(opts->control_path);
                        goto fail;
                }
                if (created) {
                        kmock->fifo_created = strdup(opts->control_path);
                        if (!kmock->fifo_created) {
                                unlink(opts->control_path);
                                snprintf(errstr, errstr_size, "out of memory");
                                goto fail;
                        }
                }
        }
        if (fstat(STDIN_FILENO, &st) == 0 && S_ISFIFO(st.st_mode))
                kmock->stdin_in.fd = STDIN_FILENO;
        return kmock;

fail:
        kmock_destroy(kmock);
        return NULL;
}

static int64_t kmock_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void kmock_signal_updown(struct kmock *kmock, int down) {
        rd_kafka_resp_err_t err;

        err = down ? rd_kafka_mock_broker_set_down(kmock->mcluster, -1)
                   : rd_kafka_mock_broker_set_up(kmock->mcluster, -1);
        if (err)
                kmock_say("error: %s all (%s): %s", down ? "down" : "up",
                          down ? "SIGUSR1" : "SIGUSR2", rd_kafka_err2str(err));
        else
                kmock_say("ok: %s all (%s)", down ? "down" : "up",
                          down ? "SIGUSR1" : "SIGUSR2");
}

/**
 * @brief The loop: wait on the self-pipe and the control inputs until a
 *        stop signal, `quit`, or the lifetime ends.
 * @returns the exit code.
 */
static int kmock_run(struct kmock *kmock, int lifetime_s) {
        int64_t deadline = kmock_now_ms() + (int64_t)lifetime_s * 1000;

        while (!kmock_sig_stop && !kmock->quit) {
                struct pollfd pfds[3];
                struct kmock_input *ins[3];
                int nfds = 0;
                int64_t left = deadline - kmock_now_ms();
                int i;

                if (left <= 0) {
                        kmock_say("stopping: max lifetime of %d s reached",
                                  lifetime_s);
                        return KMOCK_EXIT_LIFETIME;
                }
                pfds[nfds].fd = kmock->wake_pipe[0];
                pfds[nfds].events = POLLIN;
                ins[nfds++] = NULL;
                if (kmock->fifo_in.fd != -1) {
                        pfds[nfds].fd = kmock->fifo_in.fd;
                        pfds[nfds].events = POLLIN;
                        ins[nfds++] = &kmock->fifo_in;
                }
                if (kmock->stdin_in.fd != -1) {
                        pfds[nfds].fd = kmock->stdin_in.fd;
                        pfds[nfds].events = POLLIN;
                        ins[nfds++] = &kmock->stdin_in;
                }

                if (poll(pfds, (nfds_t)nfds,
                         left > 1000 ? 1000 : (int)left) == -1) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "kafka-mock: poll: %s\n",
                                strerror(errno));
                        return KMOCK_EXIT_FAIL;
                }

                if (pfds[0].revents & POLLIN) {
                        char drain[64];

                        while (read(kmock->wake_pipe[0], drain,
                                    sizeof(drain)) > 0)
                                ;
                }
                if (kmock_sig_down) {
                        kmock_sig_down = 0;
                        kmock_signal_updown(kmock, 1);
                }
                if (kmock_sig_up) {
                        kmock_sig_up = 0;
                        kmock_signal_updown(kmock, 0);
                }
                for (i = 1; i < nfds && !kmock->quit; i++) {
                        if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR))
                                kmock_input_read(kmock, ins[i]);
                }
        }
        return KMOCK_EXIT_OK;
}

/*
 * --produce-txn: the transactional producer of the integration tests.
 */

struct kmock_dr_state {
        int delivered;
        int failed;
        char first_error[256];
};

static void kmock_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkmessage,
                        void *opaque) {
        struct kmock_dr_state *dr = opaque;

        (void)rk;
        if (rkmessage->err) {
                if (!dr->failed)
                        snprintf(dr->first_error, sizeof(dr->first_error),
                                 "%s", rd_kafka_err2str(rkmessage->err));
                dr->failed++;
        } else {
                dr->delivered++;
        }
}

/**
 * @brief Report a transactional API error.
 * @remark destroys error.
 */
static void kmock_txn_fail(const char *what, rd_kafka_error_t *error) {
        fprintf(stderr, "kafka-mock: --produce-txn: %s: %s%s\n", what,
                rd_kafka_error_string(error),
                rd_kafka_error_is_fatal(error) ? " (fatal)" : "");
        rd_kafka_error_destroy(error);
}

static int kmock_produce_txn(const char *bootstrap, const char *topic,
                             int count, int abort_txn, const char *txn_id,
                             const char *key_prefix) {
        char errstr[512];
        struct kmock_dr_state dr;
        rd_kafka_conf_t *conf;
        rd_kafka_error_t *error;
        rd_kafka_t *rk;
        const char *outcome = abort_txn ? "aborted" : "committed";
        int rc = -1;
        int i;

        memset(&dr, 0, sizeof(dr));
        conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "transactional.id", txn_id, errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "message.timeout.ms", "20000", errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "kafka-mock: --produce-txn: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        rd_kafka_conf_set_dr_msg_cb(conf, kmock_dr_cb);
        rd_kafka_conf_set_opaque(conf, &dr);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "kafka-mock: --produce-txn: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return -1;
        }

        if ((error = rd_kafka_init_transactions(rk, KMOCK_TXN_TIMEOUT_MS))) {
                kmock_txn_fail("init_transactions", error);
                goto out;
        }
        if ((error = rd_kafka_begin_transaction(rk))) {
                kmock_txn_fail("begin_transaction", error);
                goto out;
        }
        for (i = 0; i < count; i++) {
                char key[128];
                char value[160];
                rd_kafka_resp_err_t err;

                snprintf(key, sizeof(key), "%s-%d", key_prefix, i);
                snprintf(value, sizeof(value), "%s:%s", key, outcome);
                err = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                    RD_KAFKA_V_VALUE(value, strlen(value)),
                    RD_KAFKA_V_HEADER("txn", abort_txn ? "abort" : "commit",
                                      -1),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                if (err) {
                        fprintf(stderr,
                                "kafka-mock: --produce-txn: produce %s: %s\n",
                                key, rd_kafka_err2str(err));
                        error = rd_kafka_abort_transaction(
                            rk, KMOCK_TXN_TIMEOUT_MS);
                        if (error)
                                kmock_txn_fail("abort_transaction", error);
                        goto out;
                }
        }
        /* Flush before ending the transaction, so an aborted batch is really
         * in the partition log and a reader's isolation level decides
         * whether it is seen; abort without flush would just drop it. */
        rd_kafka_flush(rk, KMOCK_TXN_TIMEOUT_MS);
        if (dr.failed || dr.delivered != count) {
                fprintf(stderr,
                        "kafka-mock: --produce-txn: %d of %d delivered "
                        "before %s: %s\n",
                        dr.delivered, count, abort_txn ? "abort" : "commit",
                        dr.failed ? dr.first_error : "flush timed out");
                error = rd_kafka_abort_transaction(rk, KMOCK_TXN_TIMEOUT_MS);
                if (error)
                        kmock_txn_fail("abort_transaction", error);
                goto out;
        }
        if (abort_txn)
                error = rd_kafka_abort_transaction(rk, KMOCK_TXN_TIMEOUT_MS);
        else
                error = rd_kafka_commit_transaction(rk, KMOCK_TXN_TIMEOUT_MS);
        if (error) {
                kmock_txn_fail(abort_txn ? "abort_transaction"
                                         : "commit_transaction",
                               error);
                goto out;
        }
        kmock_say("produce-txn: %d messages %s to %s", count, outcome, topic);
        rc = 0;
out:
        rd_kafka_destroy(rk);
        return rc;
}

static int kmock_produce_txn_main(int argc, char **argv) {
        const char *txn_id = "kafka-mock-txn";
        const char *key_prefix = "txn";
        int abort_txn = 0;
        char errstr[256];
        long count;
        int i;

        if (argc < 5) {
                fprintf(stderr, "kafka-mock: --produce-txn needs BOOTSTRAP "
                                "TOPIC N (see kafka-mock --help)\n");
                return KMOCK_EXIT_USAGE;
        }
        if (kmock_topic_name_ok(argv[3], strlen(argv[3]), errstr,
                                sizeof(errstr)) == -1 ||
            kmock_parse_int("--produce-txn N", argv[4], 1, KMOCK_MAX_PRODUCE,
                            &count, errstr, sizeof(errstr)) == -1) {
                fprintf(stderr, "kafka-mock: %s\n", errstr);
                return KMOCK_EXIT_USAGE;
        }
        for (i = 5; i < argc; i++) {
                if (!strcmp(argv[i], "--abort")) {
                        abort_txn = 1;
                } else if (!strcmp(argv[i], "--transactional-id") &&
                           i + 1 < argc && argv[i + 1][0]) {
                        txn_id = argv[++i];
                } else if (!strcmp(argv[i], "--key-prefix") && i + 1 < argc &&
                           strlen(argv[i + 1]) < 100) {
                        key_prefix = argv[++i];
                } else {
                        fprintf(stderr,
                                "kafka-mock: --produce-txn: %s: unknown "
                                "option, missing or bad value\n",
                                argv[i]);
                        return KMOCK_EXIT_USAGE;
                }
        }
        return kmock_produce_txn(argv[2], argv[3], (int)count, abort_txn,
                                 txn_id, key_prefix) == 0
                   ? KMOCK_EXIT_OK
                   : KMOCK_EXIT_FAIL;
}

int main(int argc, char **argv) {
        static struct kmock_opts opts;
        struct sigaction sa;
        sigset_t ctl_set, old_set;
        struct kmock *kmock;
        char errstr[512];
        int rc;

        if (argc >= 2 &&
            (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
                fputs(kmock_usage, stdout);
                return KMOCK_EXIT_OK;
        }
        if (argc >= 2 && !strcmp(argv[1], "--produce-txn"))
                return kmock_produce_txn_main(argc, argv);

        if (kmock_parse_opts(argc, argv, &opts, errstr, sizeof(errstr)) == -1) {
                fprintf(stderr, "kafka-mock: %s (see kafka-mock --help)\n",
                        errstr);
                return KMOCK_EXIT_USAGE;
        }

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = kmock_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGUSR1, &sa, NULL);
        sigaction(SIGUSR2, &sa, NULL);
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);

        /* librdkafka's threads inherit this mask: block the control signals
         * while they start, so only the main thread ever takes them. */
        sigemptyset(&ctl_set);
        sigaddset(&ctl_set, SIGTERM);
        sigaddset(&ctl_set, SIGINT);
        sigaddset(&ctl_set, SIGUSR1);
        sigaddset(&ctl_set, SIGUSR2);
        pthread_sigmask(SIG_BLOCK, &ctl_set, &old_set);
        kmock = kmock_new(&opts, errstr, sizeof(errstr));
        pthread_sigmask(SIG_SETMASK, &old_set, NULL);
        if (!kmock) {
                fprintf(stderr, "kafka-mock: %s\n", errstr);
                return KMOCK_EXIT_FAIL;
        }

        kmock_say("bootstrap %s",
                  rd_kafka_mock_cluster_bootstraps(kmock->mcluster));
        rc = kmock_run(kmock, opts.lifetime_s);
        kmock_destroy(kmock);
        if (rc == KMOCK_EXIT_OK)
                kmock_say("stopped");
        return rc;
}
