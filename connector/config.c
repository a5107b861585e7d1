/*
 * The configuration loader. Reads the YAML routing file with libyaml's
 * document API, checks every key against one static table (type, default,
 * the auth flows that need it, secret flag, doc) and fills a struct config.
 * Every error names file:line:column and the key, and echoes the offending
 * line with secret values hidden. The same table prints the key reference.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "expand.h"

/* A routing file is a few kilobytes; a megabyte is a wrong path. */
#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_ROUTES_MAX 1000
#define CONFIG_PROPERTIES_MAX 1000
#define CONFIG_NAME_MAX 128
#define KAFKA_TOPIC_MAX 249
#define API_VERSION_MIN 37   /* durable streaming (replay) needs 37.0 */
#define ECHO_MAX 160         /* characters of the offending line echoed */
#define PRESCAN_DEPTH_MAX 16 /* deeper than any known key; only unknown keys go there */
#define PATH_MAX_LEN 256
#define MSG_MAX 512

enum key_type {
        KEY_STRING,
        KEY_INT,
        KEY_ENUM,
        KEY_MAP,
        KEY_LIST,       /* routes: a sequence of mappings of routes[] keys */
        KEY_PROPERTIES  /* a mapping of name -> scalar, names free */
};

#define FLOW(f) (1u << (f))
#define FLOWS_ALL (FLOW(AUTH_PASSWORD) | FLOW(AUTH_JWT) | FLOW(AUTH_REFRESH_TOKEN) | \
                   FLOW(AUTH_CLIENT_CREDENTIALS))
#define REQUIRED (1u << 15) /* required whatever the flow */

struct enum_value {
        const char *name;
        long long value;
};

static const struct enum_value flow_values[] = {
        { "password", AUTH_PASSWORD },
        { "jwt", AUTH_JWT },
        { "refresh_token", AUTH_REFRESH_TOKEN },
        { "client_credentials", AUTH_CLIENT_CREDENTIALS },
        { NULL, 0 }
};

static const struct enum_value delivery_values[] = {
        { "exactly_once", DELIVERY_EXACTLY_ONCE },
        { "at_least_once", DELIVERY_AT_LEAST_ONCE },
        { NULL, 0 }
};

static const struct enum_value invalid_replay_values[] = {
        { "all", INVALID_REPLAY_ALL },
        { "new", INVALID_REPLAY_NEW },
        { "fail", INVALID_REPLAY_FAIL },
        { NULL, 0 }
};

static const struct enum_value route_key_values[] = {
        { "replay_id", ROUTE_KEY_REPLAY_ID },
        { "record_id", ROUTE_KEY_RECORD_ID },
        { "none", ROUTE_KEY_NONE },
        { NULL, 0 }
};

static const struct enum_value route_value_values[] = {
        { "data", ROUTE_VALUE_DATA },
        { "payload", ROUTE_VALUE_PAYLOAD },
        { "message", ROUTE_VALUE_MESSAGE },
        { NULL, 0 }
};

static const struct enum_value start_values[] = {
        { "new", REPLAY_NEW },
        { "all", REPLAY_ALL },
        { NULL, 0 }
};

/*
 * One known key. Keys under "routes[]." live in struct config_route, the
 * others in struct config; offset/size locate the field.
 */
struct key_def {
        const char *path;
        enum key_type type;
        const char *def;        /* default, as a user would write it; NULL: none */
        const char *inherit;    /* default is the value of this key instead */
        unsigned required;      /* REQUIRED, or the FLOW() bits of the flows that need it */
        int secret;             /* the value never appears in a message or echo */
        int must_read;          /* a file that must be readable at load time */
        const struct enum_value *values;
        long long min, max;     /* KEY_INT range */
        size_t offset, size;
        int (*check)(const char *value, char *msg, size_t msg_size);
        const char *doc;
};

#define IN_CFG(m) .offset = offsetof(struct config, m), .size = sizeof(((struct config *)0)->m)
#define IN_ROUTE(m) .offset = offsetof(struct config_route, m), \
                    .size = sizeof(((struct config_route *)0)->m)

static int check_name(const char *v, char *msg, size_t msg_size);
static int check_url(const char *v, char *msg, size_t msg_size);
static int check_api_version(const char *v, char *msg, size_t msg_size);
static int check_topic_name(const char *v, char *msg, size_t msg_size);
static int check_listen(const char *v, char *msg, size_t msg_size);
static int check_channel(const char *v, char *msg, size_t msg_size);

/* The table. Order matters twice: a parent comes before its children (so a
 * missing parent is reported before its missing children), and it is the
 * order of the printed reference. */
static const struct key_def key_defs[] = {
        { .path = "name", .type = KEY_STRING, .def = "sfbridge", IN_CFG(name),
          .check = check_name,
          .doc = "Bridge id: part of the Kafka transactional.id and of every replay key "
                 "(name:channel), so two instances with the same name fence each other. "
                 "Letters, digits, '.', '_' and '-', at most 128." },
        { .path = "salesforce", .type = KEY_MAP, .required = REQUIRED,
          .doc = "The Salesforce org: login endpoint, API version, credentials, trust, timeouts." },
        { .path = "salesforce.login_url", .type = KEY_STRING,
          .def = "https://login.salesforce.com", IN_CFG(sf.login_url), .check = check_url,
          .doc = "OAuth login endpoint, http:// or https://: https://test.salesforce.com for a "
                 "sandbox, the org's My Domain URL for client_credentials, the emulator's URL in tests." },
        { .path = "salesforce.api_version", .type = KEY_STRING, .def = "59.0",
          IN_CFG(sf.api_version), .check = check_api_version,
          .doc = "Salesforce API version of the CometD endpoint (/cometd/<version>), like \"59.0\"; "
                 "37.0 or later, since replay needs it. Quote it so it stays text." },
        { .path = "salesforce.auth", .type = KEY_MAP, .required = REQUIRED,
          .doc = "OAuth credentials; which keys are required depends on flow." },
        { .path = "salesforce.auth.flow", .type = KEY_ENUM, .required = REQUIRED,
          .values = flow_values, IN_CFG(sf.flow),
          .doc = "OAuth flow: password (username-password), jwt (JWT bearer, RS256), "
                 "refresh_token, client_credentials." },
        { .path = "salesforce.auth.client_id", .type = KEY_STRING, .required = FLOWS_ALL,
          IN_CFG(sf.client_id),
          .doc = "Connected app consumer key." },
        { .path = "salesforce.auth.client_secret", .type = KEY_STRING, .secret = 1,
          .required = FLOW(AUTH_PASSWORD) | FLOW(AUTH_REFRESH_TOKEN) | FLOW(AUTH_CLIENT_CREDENTIALS),
          IN_CFG(sf.client_secret),
          .doc = "Connected app consumer secret. Secret: never logged; use ${VAR}." },
        { .path = "salesforce.auth.username", .type = KEY_STRING,
          .required = FLOW(AUTH_PASSWORD) | FLOW(AUTH_JWT), IN_CFG(sf.username),
          .doc = "Salesforce user name: the user who logs in (password), the JWT subject (jwt)." },
        { .path = "salesforce.auth.password", .type = KEY_STRING, .secret = 1,
          .required = FLOW(AUTH_PASSWORD), IN_CFG(sf.password),
          .doc = "The user's password followed by the security token. Secret: never logged; use ${VAR}." },
        { .path = "salesforce.auth.private_key_file", .type = KEY_STRING, .must_read = 1,
          .required = FLOW(AUTH_JWT), IN_CFG(sf.private_key_file),
          .doc = "PEM RSA private key that signs the JWT assertion (the connected app holds its "
                 "certificate); must be readable when the config loads." },
        { .path = "salesforce.auth.refresh_token", .type = KEY_STRING, .secret = 1,
          .required = FLOW(AUTH_REFRESH_TOKEN), IN_CFG(sf.refresh_token),
          .doc = "OAuth refresh token of the connected app. Secret: never logged; use ${VAR}." },
        { .path = "salesforce.ca_file", .type = KEY_STRING, .must_read = 1, IN_CFG(sf.ca_file),
          .doc = "Extra PEM CA bundle to trust for Salesforce (a TLS-inspecting proxy, the test "
                 "emulator); must be readable. Unset: the system trust store only." },
        { .path = "salesforce.proxy", .type = KEY_STRING, IN_CFG(sf.proxy),
          .doc = "Proxy for Salesforce traffic, as libcurl takes it (http://host:port). Unset: none." },
        { .path = "salesforce.stall_timeout_s", .type = KEY_INT, .def = "150", .min = 1,
          .max = 86400, IN_CFG(sf.stall_timeout_s),
          .doc = "Seconds without an answer to a /meta/connect before sfbridge aborts it, "
                 "re-handshakes and resubscribes. Keep it above Salesforce's 110 s long-poll." },
        { .path = "salesforce.limit_backoff_s", .type = KEY_INT, .def = "60", .min = 1,
          .max = 3600, IN_CFG(sf.limit_backoff_s),
          .doc = "First wait, in seconds, after Salesforce says it is too busy or an org limit "
                 "is reached (concurrent clients, daily events); doubles up to 8 times this, "
                 "with jitter. Never a re-login loop." },
        { .path = "kafka", .type = KEY_MAP, .required = REQUIRED,
          .doc = "The Kafka producer." },
        { .path = "kafka.bootstrap_servers", .type = KEY_STRING, .required = REQUIRED,
          IN_CFG(kafka.bootstrap_servers),
          .doc = "Comma-separated host:port list of Kafka brokers." },
        { .path = "kafka.delivery", .type = KEY_ENUM, .def = "exactly_once",
          .values = delivery_values, IN_CFG(kafka.delivery),
          .doc = "exactly_once: one Kafka transaction per /meta/connect batch holds its events and "
                 "replay records; at_least_once: idempotent producer, acks=all, a channel's replay "
                 "record written once its earlier events are acknowledged." },
        { .path = "kafka.replay_topic", .type = KEY_STRING, .def = "sfbridge.replay",
          IN_CFG(kafka.replay_topic), .check = check_topic_name,
          .doc = "Compacted topic holding each channel's last replay ID (key name:channel); "
                 "created if missing." },
        { .path = "kafka.max_in_flight", .type = KEY_INT, .def = "10000", .min = 1, .max = 1000000,
          IN_CFG(kafka.max_in_flight),
          .doc = "Events awaiting Kafka acknowledgement beyond which no new /meta/connect is sent "
                 "(bounds memory)." },
        { .path = "kafka.properties", .type = KEY_PROPERTIES,
          .doc = "librdkafka properties handed over unchanged (numbers and booleans as text), e.g. "
                 "security.protocol: SASL_SSL. Values of names holding password, secret, key.pem, "
                 "jaas or oauthbearer.config are never logged." },
        { .path = "on_invalid_replay", .type = KEY_ENUM, .def = "all",
          .values = invalid_replay_values, IN_CFG(on_invalid_replay),
          .doc = "When Salesforce no longer retains a stored replay ID: all (resubscribe with -2, "
                 "everything retained), new (-1, new events only), fail (stop, exit code 3). "
                 "The gap is logged and counted either way." },
        { .path = "metrics", .type = KEY_MAP,
          .doc = "The HTTP listener for /metrics (Prometheus), /healthz and /readyz." },
        { .path = "metrics.listen", .type = KEY_STRING, .def = "127.0.0.1:9464",
          IN_CFG(metrics_listen), .check = check_listen,
          .doc = "host:port to listen on; [addr]:port for IPv6; port 0 picks a free port." },
        { .path = "routes", .type = KEY_LIST, .required = REQUIRED,
          .doc = "Channel to topic mappings, at least one; each channel at most once." },
        { .path = "routes[].channel", .type = KEY_STRING, .required = REQUIRED,
          IN_ROUTE(channel), .check = check_channel,
          .doc = "Streaming channel: /topic/<PushTopic>[?filter], /event/<Name>__e, "
                 "/data/ChangeEvents or /data/<Entity>ChangeEvent, /u/<generic>. A ?filter "
                 "suffix does not make a channel distinct." },
        { .path = "routes[].topic", .type = KEY_STRING, .required = REQUIRED, IN_ROUTE(topic),
          .doc = "Kafka topic: a-z A-Z 0-9 . _ -, at most 249 characters. {entity} (on /data/ "
                 "channels only) becomes the change event's entityName." },
        { .path = "routes[].key", .type = KEY_ENUM, .def = "replay_id", .values = route_key_values,
          IN_ROUTE(key),
          .doc = "Kafka record key: replay_id (the replay ID in decimal), record_id (the first "
                 "record ID of the change), none." },
        { .path = "routes[].value", .type = KEY_ENUM, .def = "data", .values = route_value_values,
          IN_ROUTE(value),
          .doc = "Kafka record value: data (the message's data object), payload (data.payload, "
                 "or data.sobject for a PushTopic), message (the whole Bayeux message)." },
        { .path = "routes[].start", .type = KEY_ENUM, .def = "new", .values = start_values,
          IN_ROUTE(start),
          .doc = "Where to start when no replay ID is stored: new (-1, events from now on) or "
                 "all (-2, everything Salesforce still retains)." },
        { .path = "routes[].on_invalid_replay", .type = KEY_ENUM, .inherit = "on_invalid_replay",
          .values = invalid_replay_values, IN_ROUTE(on_invalid_replay),
          .doc = "This route's own on_invalid_replay." },
};

#define NKEYS (sizeof(key_defs) / sizeof(key_defs[0]))
#define ROUTE_PREFIX "routes[]"

/* Where a key was met in the file and whether it holds a value. */
struct seen {
        int present;            /* the key appeared */
        int has_value;          /* ... with a value that is neither null nor empty */
        int empty;              /* ... with an empty string (after expansion) */
        yaml_mark_t key_mark;
        yaml_mark_t value_mark;
};

/* A span of the file (0-based line and column, end exclusive) never echoed. */
struct hidden {
        size_t line0, col0, line1, col1;
};

struct loader {
        const char *path;
        const char *text;
        size_t len;
        yaml_document_t doc;
        int have_doc;
        int prescanned;                 /* hidden[] is complete */
        yaml_mark_t root_mark;
        struct config *cfg;
        char *errstr;
        size_t errstr_size;
        int failed;
        struct seen seen[NKEYS];
        struct seen *route_seen;        /* nroutes * NKEYS, only routes[] keys used */
        yaml_mark_t *route_marks;       /* where each route's mapping starts */
        struct hidden *hidden;
        size_t nhidden, hidden_cap;
        unsigned char *visited;         /* prescan: one flag per document node */
};

/*
 * Messages
 */

static int key_is_route(const struct key_def *kd)
{
        return strncmp(kd->path, ROUTE_PREFIX ".", sizeof(ROUTE_PREFIX)) == 0;
}

static const char *key_leaf(const char *path)
{
        const char *dot = strrchr(path, '.');

        return dot ? dot + 1 : path;
}

/* Counts UTF-8 characters: libyaml's columns are characters, not bytes. */
static int is_utf8_lead(unsigned char c)
{
        return (c & 0xC0) != 0x80;
}

/* Finds the 0-based line @p line0 of the text; returns 0 when it has none. */
static int find_line(const struct loader *ld, size_t line0, const char **start, size_t *len)
{
        const char *p = ld->text, *end;
        size_t line = 0;

        if (!p)
                return 0;
        end = p + ld->len;
        while (line < line0) {
                while (p < end && *p != '\n' && *p != '\r')
                        p++;
                if (p >= end)
                        return 0;
                if (*p == '\r' && p + 1 < end && p[1] == '\n')
                        p++;
                p++;
                line++;
        }
        *start = p;
        while (p < end && *p != '\n' && *p != '\r')
                p++;
        *len = (size_t)(p - *start);
        return 1;
}

static int line_is_blank(const struct loader *ld, size_t line0)
{
        const char *s;
        size_t len, i;

        if (!find_line(ld, line0, &s, &len))
                return 1;
        for (i = 0; i < len; i++)
                if (s[i] != ' ' && s[i] != '\t')
                        return 0;
        return 1;
}

static int is_hidden(const struct loader *ld, size_t line, size_t col)
{
        size_t i;

        for (i = 0; i < ld->nhidden; i++) {
                const struct hidden *h = &ld->hidden[i];

                if ((line > h->line0 || (line == h->line0 && col >= h->col0)) &&
                    (line < h->line1 || (line == h->line1 && col < h->col1)))
                        return 1;
        }
        return 0;
}

static int contains_ci(const char *s, size_t len, const char *needle)
{
        size_t n = strlen(needle), i, j;

        for (i = 0; i + n <= len; i++) {
                for (j = 0; j < n; j++) {
                        char c = s[i + j];

                        if (c >= 'A' && c <= 'Z')
                                c = (char)(c - 'A' + 'a');
                        if (c != needle[j])
                                break;
                }
                if (j == n)
                        return 1;
        }
        return 0;
}

/*
 * Without a document (a YAML syntax error) there are no node spans, so a line
 * that mentions a secret-looking key loses everything after its first ':'.
 */
static size_t text_secret_cut(const char *s, size_t len)
{
        static const char *const words[] = { "secret", "passw", "token", "key.pem", "jaas",
                                             "oauthbearer" };
        const char *colon;
        size_t i;

        for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
                if (contains_ci(s, len, words[i])) {
                        colon = memchr(s, ':', len);
                        return colon ? (size_t)(colon - s) + 1 : 0;
                }
        }
        return len;
}

/*
 * Writes the offending line into out, Redis style (">>> line"): secret
 * values replaced by ***, control characters by '?', long lines cut.
 */
static void echo_line(const struct loader *ld, size_t line0, char *out, size_t out_size)
{
        const char *s;
        size_t len, i, col = 0, o = 0, cut;
        int in_hidden = 0;

        out[0] = '\0';
        if (out_size < 16 || line_is_blank(ld, line0) || !find_line(ld, line0, &s, &len))
                return;
        cut = ld->prescanned ? len : text_secret_cut(s, len);
        memcpy(out, ">>> ", 4);
        o = 4;
        for (i = 0; i < len && o + 8 < out_size; i++) {
                unsigned char c = (unsigned char)s[i];
                int lead = is_utf8_lead(c);

                if (lead && i > 0)
                        col++;
                if (i >= cut || is_hidden(ld, line0, col)) {
                        if (!in_hidden) {
                                memcpy(out + o, i >= cut ? " ***" : "***", i >= cut ? 4 : 3);
                                o += i >= cut ? 4 : 3;
                        }
                        in_hidden = 1;
                        if (i >= cut)
                                break;
                        continue;
                }
                in_hidden = 0;
                if (col >= ECHO_MAX) {
                        memcpy(out + o, "...", 3);
                        o += 3;
                        break;
                }
                out[o++] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
        }
        out[o] = '\0';
}

static void ld_errorv(struct loader *ld, const yaml_mark_t *mark, const char *key, int echo,
                      const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

/* The first error wins; later ones are the consequences of the first. */
static void ld_errorv(struct loader *ld, const yaml_mark_t *mark, const char *key, int echo,
                      const char *fmt, va_list ap)
{
        char msg[MSG_MAX], line[ECHO_MAX + 32];

        if (ld->failed)
                return;
        ld->failed = 1;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        line[0] = '\0';
        if (mark && echo)
                echo_line(ld, mark->line, line, sizeof(line));
        if (mark)
                snprintf(ld->errstr, ld->errstr_size, "%s:%zu:%zu: %s%s%s%s%s", ld->path,
                         mark->line + 1, mark->column + 1, key ? key : "", key ? ": " : "", msg,
                         line[0] ? "\n" : "", line);
        else
                snprintf(ld->errstr, ld->errstr_size, "%s: %s%s%s", ld->path, key ? key : "",
                         key ? ": " : "", msg);
}

static void ld_error(struct loader *ld, const yaml_mark_t *mark, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void ld_error(struct loader *ld, const yaml_mark_t *mark, const char *key, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        ld_errorv(ld, mark, key, 1, fmt, ap);
        va_end(ap);
}

static void ld_error_noecho(struct loader *ld, const yaml_mark_t *mark, const char *key,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void ld_error_noecho(struct loader *ld, const yaml_mark_t *mark, const char *key,
                            const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        ld_errorv(ld, mark, key, 0, fmt, ap);
        va_end(ap);
}

static void ld_oom(struct loader *ld)
{
        ld_error(ld, NULL, NULL, "out of memory");
}

static void ld_warn(struct loader *ld, const yaml_mark_t *mark, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Warnings are one line each (the caller logs them through log_msg). */
static void ld_warn(struct loader *ld, const yaml_mark_t *mark, const char *key, const char *fmt, ...)
{
        struct config *cfg = ld->cfg;
        char msg[MSG_MAX], line[MSG_MAX + PATH_MAX_LEN + 64];
        char **warnings;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(line, sizeof(line), "%s:%zu:%zu: %s: %s", ld->path, mark->line + 1,
                 mark->column + 1, key, msg);
        warnings = realloc(cfg->warnings, (cfg->nwarnings + 1) * sizeof(*warnings));
        if (!warnings) {
                ld_oom(ld);
                return;
        }
        cfg->warnings = warnings;
        if (!(warnings[cfg->nwarnings] = strdup(line))) {
                ld_oom(ld);
                return;
        }
        cfg->nwarnings++;
}

/* Quotes a (non-secret) value for a message: escaped, cut at 64 characters. */
static const char *quote(const char *v, char *out, size_t out_size)
{
        size_t o = 0, i;

        out[o++] = '"';
        for (i = 0; v[i] && o + 8 < out_size; i++) {
                unsigned char c = (unsigned char)v[i];

                if (i >= 64) {
                        memcpy(out + o, "...", 3);
                        o += 3;
                        break;
                }
                if (c == '"' || c == '\\') {
                        out[o++] = '\\';
                } else if (c < 0x20 || c == 0x7f) {
                        o += (size_t)snprintf(out + o, out_size - o, "\\x%02x", c);
                        continue;
                }
                out[o++] = (char)c;
        }
        out[o++] = '"';
        out[o] = '\0';
        return out;
}

/* Names one byte of a value for a message: 'c', or '\xNN' when unprintable. */
static const char *byte_name(unsigned char c, char *out, size_t out_size)
{
        if (c < 0x20 || c >= 0x7f || c == '\'')
                snprintf(out, out_size, "'\\x%02x'", c);
        else
                snprintf(out, out_size, "'%c'", c);
        return out;
}

static const char *node_kind(const yaml_node_t *node)
{
        switch (node->type) {
        case YAML_MAPPING_NODE:
                return "a mapping";
        case YAML_SEQUENCE_NODE:
                return "a list";
        default:
                return "a single value";
        }
}

static const char *type_name(enum key_type t)
{
        switch (t) {
        case KEY_STRING:
                return "a string";
        case KEY_INT:
                return "an integer";
        case KEY_ENUM:
                return "a word";
        case KEY_MAP:
                return "a mapping";
        case KEY_LIST:
                return "a list";
        case KEY_PROPERTIES:
                return "a mapping of name: value";
        }
        return "?";
}

static void enum_list(const struct enum_value *values, char *out, size_t out_size)
{
        size_t o = 0, i;

        out[0] = '\0';
        for (i = 0; values[i].name && o < out_size; i++)
                o += (size_t)snprintf(out + o, out_size - o, "%s%s", i ? ", " : "", values[i].name);
}

static const char *flow_name_of(unsigned flow)
{
        return config_flow_name((enum auth_flow)flow);
}

/*
 * The table
 */

static const struct key_def *key_find(const char *path)
{
        size_t i;

        for (i = 0; i < NKEYS; i++)
                if (strcmp(key_defs[i].path, path) == 0)
                        return &key_defs[i];
        return NULL;
}

static size_t key_index(const struct key_def *kd)
{
        return (size_t)(kd - key_defs);
}

/* Is @p path a direct child of @p parent ("" for the top level)? */
static int key_is_child(const char *path, const char *parent)
{
        size_t n = strlen(parent);

        if (n == 0)
                return strchr(path, '.') == NULL;
        return strncmp(path, parent, n) == 0 && path[n] == '.' && !strchr(path + n + 1, '.');
}

/* Optimal string alignment distance, case-insensitive; both at most 64. */
static size_t edit_distance(const char *a, const char *b)
{
        size_t d[65][65], la = strlen(a), lb = strlen(b), i, j;

        if (la > 64 || lb > 64)
                return 99;
        for (i = 0; i <= la; i++)
                d[i][0] = i;
        for (j = 0; j <= lb; j++)
                d[0][j] = j;
        for (i = 1; i <= la; i++) {
                for (j = 1; j <= lb; j++) {
                        char ca = a[i - 1], cb = b[j - 1];
                        size_t best;

                        if (ca >= 'A' && ca <= 'Z')
                                ca = (char)(ca - 'A' + 'a');
                        if (cb >= 'A' && cb <= 'Z')
                                cb = (char)(cb - 'A' + 'a');
                        best = d[i - 1][j - 1] + (ca != cb);
                        if (d[i - 1][j] + 1 < best)
                                best = d[i - 1][j] + 1;
                        if (d[i][j - 1] + 1 < best)
                                best = d[i][j - 1] + 1;
                        if (i > 1 && j > 1 && ca == b[j - 2] && a[i - 2] == cb &&
                            d[i - 2][j - 2] + 1 < best)
                                best = d[i - 2][j - 2] + 1;
                        d[i][j] = best;
                }
        }
        return d[la][lb];
}

/*
 * "unknown key; did you mean X?" with X the closest sibling (distance <= 2),
 * else a key of that exact name elsewhere, else the list of keys allowed here.
 */
static void unknown_key(struct loader *ld, const yaml_mark_t *mark, const char *display,
                        const char *key, const char *parent)
{
        const struct key_def *best = NULL;
        size_t best_d = 3, i, o = 0, d;
        char list[MSG_MAX];

        for (i = 0; i < NKEYS; i++) {
                if (!key_is_child(key_defs[i].path, parent))
                        continue;
                d = edit_distance(key, key_leaf(key_defs[i].path));
                if (d < best_d) {
                        best_d = d;
                        best = &key_defs[i];
                }
        }
        if (best) {
                ld_error(ld, mark, display, "unknown key; did you mean %s?", key_leaf(best->path));
                return;
        }
        for (i = 0; i < NKEYS; i++) {
                if (strcmp(key_leaf(key_defs[i].path), key) == 0) {
                        ld_error(ld, mark, display, "unknown key here; did you mean %s?",
                                 key_defs[i].path);
                        return;
                }
        }
        list[0] = '\0';
        for (i = 0; i < NKEYS && o < sizeof(list); i++)
                if (key_is_child(key_defs[i].path, parent))
                        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "",
                                              key_leaf(key_defs[i].path));
        ld_error(ld, mark, display, "unknown key (known here: %s)", list);
}

/*
 * Validators for single values: 0, or -1 with a message (the value is not
 * secret for any of them, so they may quote it).
 */

static int is_topic_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
}

static int check_name(const char *v, char *msg, size_t msg_size)
{
        char b[16];
        size_t i;

        for (i = 0; v[i]; i++) {
                if (!is_topic_char(v[i])) {
                        snprintf(msg, msg_size, "character %s is not allowed (it becomes part of the "
                                 "transactional.id and the replay keys): use a-z A-Z 0-9 . _ -",
                                 byte_name((unsigned char)v[i], b, sizeof(b)));
                        return -1;
                }
        }
        if (i > CONFIG_NAME_MAX) {
                snprintf(msg, msg_size, "is longer than %d characters", CONFIG_NAME_MAX);
                return -1;
        }
        return 0;
}

static int check_url(const char *v, char *msg, size_t msg_size)
{
        char q[96];
        size_t n = 0;

        if (strncasecmp(v, "https://", 8) == 0)
                n = 8;
        else if (strncasecmp(v, "http://", 7) == 0)
                n = 7;
        if (n == 0 || !v[n] || v[n] == '/' || strpbrk(v, " \t\r\n")) {
                snprintf(msg, msg_size, "must be an http:// or https:// URL, found %s",
                         quote(v, q, sizeof(q)));
                return -1;
        }
        return 0;
}

static int check_api_version(const char *v, char *msg, size_t msg_size)
{
        char q[96];
        size_t i = 0, major_digits, minor_digits;

        while (v[i] >= '0' && v[i] <= '9')
                i++;
        major_digits = i;
        if (v[i] == '.')
                i++;
        minor_digits = i;
        while (v[i] >= '0' && v[i] <= '9')
                i++;
        minor_digits = i - minor_digits;
        if (major_digits == 0 || major_digits > 4 || v[major_digits] != '.' || minor_digits == 0 ||
            v[i]) {
                snprintf(msg, msg_size, "must be an API version like \"59.0\", found %s",
                         quote(v, q, sizeof(q)));
                return -1;
        }
        if (atoi(v) < API_VERSION_MIN) {
                snprintf(msg, msg_size, "must be %d.0 or later (replay needs it), found %s",
                         API_VERSION_MIN, quote(v, q, sizeof(q)));
                return -1;
        }
        return 0;
}

static int check_kafka_topic(const char *v, size_t literal_len, char *msg, size_t msg_size)
{
        if (literal_len > KAFKA_TOPIC_MAX) {
                snprintf(msg, msg_size, "is longer than %d characters, Kafka's limit for a topic name",
                         KAFKA_TOPIC_MAX);
                return -1;
        }
        if (strcmp(v, ".") == 0 || strcmp(v, "..") == 0) {
                snprintf(msg, msg_size, "\".\" and \"..\" are not valid Kafka topic names");
                return -1;
        }
        return 0;
}

static int bad_topic_char(unsigned char c, char *msg, size_t msg_size)
{
        char b[16];

        snprintf(msg, msg_size, "character %s is not allowed in a Kafka topic name "
                 "(allowed: a-z A-Z 0-9 . _ -)", byte_name(c, b, sizeof(b)));
        return -1;
}

static int check_topic_name(const char *v, char *msg, size_t msg_size)
{
        size_t i;

        for (i = 0; v[i]; i++)
                if (!is_topic_char(v[i]))
                        return bad_topic_char((unsigned char)v[i], msg, msg_size);
        return check_kafka_topic(v, i, msg, msg_size);
}

static int check_listen(const char *v, char *msg, size_t msg_size)
{
        const char *colon = strrchr(v, ':'), *p;
        char q[96];
        size_t host_len;
        long port = 0;

        if (!colon || colon == v || !colon[1] || strlen(colon + 1) > 5)
                goto bad;
        for (p = colon + 1; *p; p++) {
                if (*p < '0' || *p > '9')
                        goto bad;
                port = port * 10 + (*p - '0');
        }
        if (port > 65535) {
                snprintf(msg, msg_size, "port must be between 0 and 65535, found %s",
                         quote(v, q, sizeof(q)));
                return -1;
        }
        host_len = (size_t)(colon - v);
        if (v[0] == '[') {
                if (host_len < 3 || v[host_len - 1] != ']')
                        goto bad;
        } else if (memchr(v, ':', host_len)) {
                snprintf(msg, msg_size, "an IPv6 address goes in brackets, like [::1]:9464; found %s",
                         quote(v, q, sizeof(q)));
                return -1;
        }
        for (p = v; p < colon; p++)
                if ((unsigned char)*p <= ' ' || *p == '/')
                        goto bad;
        return 0;
bad:
        snprintf(msg, msg_size, "must be host:port, like 127.0.0.1:9464, found %s", quote(v, q, sizeof(q)));
        return -1;
}

static const char *const channel_prefixes[] = { "/topic/", "/event/", "/data/", "/u/" };

static size_t channel_base_len(const char *ch)
{
        const char *q = strchr(ch, '?');

        return q ? (size_t)(q - ch) : strlen(ch);
}

static int check_channel(const char *v, char *msg, size_t msg_size)
{
        size_t i, n = 0, base = channel_base_len(v);
        const char *name = NULL;
        char q[96], b[16];

        for (i = 0; i < sizeof(channel_prefixes) / sizeof(channel_prefixes[0]); i++) {
                n = strlen(channel_prefixes[i]);
                if (strncmp(v, channel_prefixes[i], n) == 0) {
                        name = v + n;
                        break;
                }
        }
        if (!name) {
                snprintf(msg, msg_size, "must start with /topic/, /event/, /data/ or /u/, found %s",
                         quote(v, q, sizeof(q)));
                return -1;
        }
        if (base == n) {
                snprintf(msg, msg_size, "names no channel after %s", channel_prefixes[i]);
                return -1;
        }
        for (; n < base; n++) {
                char c = v[n];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_')) {
                        snprintf(msg, msg_size, "character %s is not allowed in a channel name "
                                 "(letters, digits and _; a filter goes after ?)",
                                 byte_name((unsigned char)c, b, sizeof(b)));
                        return -1;
                }
        }
        if (strncmp(v, "/event/", 7) == 0 &&
            (base < 7 + 4 || strncmp(v + base - 3, "__e", 3) != 0)) {
                snprintf(msg, msg_size, "a platform event channel ends in __e, like "
                         "/event/Order_Placed__e; found %s", quote(v, q, sizeof(q)));
                return -1;
        }
        if (v[base] == '?' && !v[base + 1]) {
                snprintf(msg, msg_size, "has an empty filter after ?");
                return -1;
        }
        return 0;
}

/* The topic template of a route; needs the route's channel for {entity}. */
static int check_topic_template(const char *topic, const char *channel, char *msg, size_t msg_size)
{
        size_t i, literal = 0, j;
        int entity = 0;

        for (i = 0; topic[i]; i++) {
                if (topic[i] == '{') {
                        for (j = i + 1; topic[j] && topic[j] != '}' && topic[j] != '{'; j++)
                                ;
                        if (topic[j] != '}') {
                                snprintf(msg, msg_size, "unbalanced braces: \"{\" without \"}\"");
                                return -1;
                        }
                        if (j - i - 1 != 6 || strncmp(topic + i + 1, "entity", 6) != 0) {
                                char name[40];
                                size_t k, n = j - i - 1 < 32 ? j - i - 1 : 32;

                                for (k = 0; k < n; k++) {
                                        unsigned char c = (unsigned char)topic[i + 1 + k];

                                        name[k] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
                                }
                                name[n] = '\0';
                                snprintf(msg, msg_size, "unknown placeholder {%s%s}; the only one is {entity}",
                                         name, j - i - 1 > n ? "..." : "");
                                return -1;
                        }
                        entity = 1;
                        i = j;
                } else if (topic[i] == '}') {
                        snprintf(msg, msg_size, "unbalanced braces: \"}\" without \"{\"");
                        return -1;
                } else if (!is_topic_char(topic[i])) {
                        return bad_topic_char((unsigned char)topic[i], msg, msg_size);
                } else {
                        literal++;
                }
        }
        if (entity && strncmp(channel, "/data/", 6) != 0) {
                snprintf(msg, msg_size, "{entity} is only known on /data/ (Change Data Capture) "
                         "channels, not on %.*s", (int)strcspn(channel + 1, "/") + 2, channel);
                return -1;
        }
        return check_kafka_topic(topic, literal, msg, msg_size);
}

/*
 * Storing values
 */

static void *field_at(void *base, const struct key_def *kd)
{
        return (char *)base + kd->offset;
}

static void store_int(void *base, const struct key_def *kd, long long v)
{
        void *p = field_at(base, kd);

        if (kd->size == sizeof(long long))
                *(long long *)p = v;
        else
                *(int *)p = (int)v;
}

static void store_string(void *base, const struct key_def *kd, char *s)
{
        char **p = field_at(base, kd);

        free(*p);
        *p = s;
}

static const struct enum_value *enum_find(const struct enum_value *values, const char *s)
{
        size_t i;

        for (i = 0; values[i].name; i++)
                if (strcmp(values[i].name, s) == 0)
                        return &values[i];
        return NULL;
}

/*
 * Converts and stores @p text (already expanded) into the field of @p kd.
 * Also used for defaults, which are known to be valid.
 */
static int store_value(struct loader *ld, void *base, const struct key_def *kd, const char *text,
                       const yaml_mark_t *mark, const char *display)
{
        char msg[MSG_MAX], q[96], list[MSG_MAX];
        const struct enum_value *ev;
        char *end, *copy;
        long long v;

        switch (kd->type) {
        case KEY_STRING:
                if (kd->check && kd->check(text, msg, sizeof(msg)) == -1) {
                        ld_error(ld, mark, display, "%s", msg);
                        return -1;
                }
                if (!(copy = strdup(text))) {
                        ld_oom(ld);
                        return -1;
                }
                store_string(base, kd, copy);
                return 0;
        case KEY_INT:
                errno = 0;
                v = strtoll(text, &end, 10);
                /* strtoll() would also take leading blanks: a number it is or not. */
                if (end == text || *end || !(text[0] == '-' || text[0] == '+' ||
                                             (text[0] >= '0' && text[0] <= '9'))) {
                        ld_error(ld, mark, display, "expected an integer, found %s", quote(text, q, sizeof(q)));
                        return -1;
                }
                if (errno == ERANGE || v < kd->min || v > kd->max) {
                        ld_error(ld, mark, display, "must be between %lld and %lld, found %s",
                                 kd->min, kd->max, quote(text, q, sizeof(q)));
                        return -1;
                }
                store_int(base, kd, v);
                return 0;
        case KEY_ENUM:
                if (!(ev = enum_find(kd->values, text))) {
                        enum_list(kd->values, list, sizeof(list));
                        ld_error(ld, mark, display, "unknown value %s; allowed: %s",
                                 quote(text, q, sizeof(q)), list);
                        return -1;
                }
                store_int(base, kd, ev->value);
                return 0;
        default:
                return 0;
        }
}

/* A plain `key:` with nothing, `~` or `null`: the key is there, unset. */
static int is_null(const yaml_node_t *node)
{
        const char *v = (const char *)node->data.scalar.value;

        if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return 0;
        return node->data.scalar.length == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
               strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/*
 * Expands a scalar node's value. The error keeps the node's mark: the
 * message says what is wrong, never the value (it may be a secret).
 */
static char *expand_node(struct loader *ld, const yaml_node_t *node, const char *display)
{
        char msg[MSG_MAX];
        size_t len;
        char *s;

        s = expand_vars((const char *)node->data.scalar.value, node->data.scalar.length, EXPAND_MAX,
                        NULL, NULL, &len, msg, sizeof(msg));
        if (!s) {
                ld_error(ld, &node->start_mark, display, "%s", msg);
                return NULL;
        }
        if (strlen(s) != len) {
                ld_error(ld, &node->start_mark, display, "holds a NUL character");
                free(s);
                return NULL;
        }
        return s;
}

/*
 * Where a wrong-type value is reported: the value itself when it starts on
 * its key's line (`key: [a, b]`), else the key (a block mapping's own mark
 * is its first child's, which would point at the wrong line).
 */
static const yaml_mark_t *type_mark(const yaml_node_t *key, const yaml_node_t *value)
{
        return key && value->start_mark.line != key->start_mark.line ? &key->start_mark :
                                                                        &value->start_mark;
}

static void set_scalar(struct loader *ld, void *base, const struct key_def *kd, struct seen *sn,
                       const yaml_node_t *key, const yaml_node_t *value, const char *display)
{
        char *text;

        sn->value_mark = value->start_mark;
        if (value->type != YAML_SCALAR_NODE) {
                char list[MSG_MAX];

                if (kd->type == KEY_ENUM) {
                        enum_list(kd->values, list, sizeof(list));
                        ld_error(ld, type_mark(key, value), display, "expected one of: %s; found %s",
                                 list, node_kind(value));
                } else {
                        ld_error(ld, type_mark(key, value), display, "expected %s, found %s",
                                 type_name(kd->type), node_kind(value));
                }
                return;
        }
        if (is_null(value))
                return;
        if (!(text = expand_node(ld, value, display)))
                return;
        if (!text[0]) {
                /* Empty means unset for an optional key without a default
                 * (`ca_file: ${CA_FILE:-}`); required keys are checked later. */
                if (kd->def) {
                        ld_error(ld, &value->start_mark, display, "must not be empty%s",
                                 strstr((const char *)value->data.scalar.value, "${") ?
                                 " (after ${} expansion)" : "");
                } else {
                        sn->empty = 1;
                }
                free(text);
                return;
        }
        if (store_value(ld, base, kd, text, &value->start_mark, display) == 0)
                sn->has_value = 1;
        free(text);
}

static void set_properties(struct loader *ld, const yaml_node_t *key, const yaml_node_t *map,
                           const char *display)
{
        struct config *cfg = ld->cfg;
        yaml_node_pair_t *pair;
        size_t n, i;

        if (map->type != YAML_MAPPING_NODE) {
                if (!is_null(map))
                        ld_error(ld, type_mark(key, map), display,
                                 "expected a mapping of name: value, found %s", node_kind(map));
                return;
        }
        n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
        if (n > CONFIG_PROPERTIES_MAX) {
                ld_error(ld, &map->start_mark, display, "more than %d properties", CONFIG_PROPERTIES_MAX);
                return;
        }
        if (n && !(cfg->kafka.properties = calloc(n, sizeof(*cfg->kafka.properties)))) {
                ld_oom(ld);
                return;
        }
        for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
                yaml_node_t *k = yaml_document_get_node(&ld->doc, pair->key);
                yaml_node_t *v = yaml_document_get_node(&ld->doc, pair->value);
                struct config_property *prop = &cfg->kafka.properties[cfg->kafka.nproperties];
                char path[PATH_MAX_LEN];
                const char *name;

                if (k->type != YAML_SCALAR_NODE || !k->data.scalar.length ||
                    strlen((const char *)k->data.scalar.value) != k->data.scalar.length) {
                        ld_error(ld, &k->start_mark, display, "property names must be non-empty strings");
                        return;
                }
                name = (const char *)k->data.scalar.value;
                snprintf(path, sizeof(path), "%.100s.%.150s", display, name);
                for (i = 0; i < cfg->kafka.nproperties; i++) {
                        if (strcmp(cfg->kafka.properties[i].name, name) == 0) {
                                yaml_node_t *first = yaml_document_get_node(
                                        &ld->doc, map->data.mapping.pairs.start[i].key);

                                ld_error(ld, &k->start_mark, path, "duplicate key (first at line %zu)",
                                         first->start_mark.line + 1);
                                return;
                        }
                }
                if (v->type != YAML_SCALAR_NODE) {
                        ld_error(ld, type_mark(k, v), path,
                                 "expected a single value (text, number or boolean), found %s",
                                 node_kind(v));
                        return;
                }
                if (is_null(v)) {
                        ld_error(ld, &k->start_mark, path, "has no value");
                        return;
                }
                if (!(prop->name = strdup(name))) {
                        ld_oom(ld);
                        return;
                }
                cfg->kafka.nproperties++;
                if (!(prop->value = expand_node(ld, v, path)))
                        return;
        }
}

static void walk_map(struct loader *ld, const yaml_node_t *map, const char *parent,
                     const char *display_parent, void *base, struct seen *seen);

static void set_routes(struct loader *ld, const yaml_node_t *key, const yaml_node_t *list,
                       const char *display)
{
        struct config *cfg = ld->cfg;
        yaml_node_item_t *item;
        size_t n;

        if (list->type != YAML_SEQUENCE_NODE) {
                if (!is_null(list))
                        ld_error(ld, type_mark(key, list), display,
                                 "expected a list of routes (- channel: ..., topic: ...), found %s",
                                 node_kind(list));
                return;
        }
        n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
        if (n > CONFIG_ROUTES_MAX) {
                ld_error(ld, &list->start_mark, display, "more than %d routes", CONFIG_ROUTES_MAX);
                return;
        }
        if (n == 0)
                return;
        cfg->routes = calloc(n, sizeof(*cfg->routes));
        ld->route_seen = calloc(n * NKEYS, sizeof(*ld->route_seen));
        ld->route_marks = calloc(n, sizeof(*ld->route_marks));
        if (!cfg->routes || !ld->route_seen || !ld->route_marks) {
                ld_oom(ld);
                return;
        }
        for (item = list->data.sequence.items.start; item < list->data.sequence.items.top; item++) {
                yaml_node_t *node = yaml_document_get_node(&ld->doc, *item);
                struct config_route *rt = &cfg->routes[cfg->nroutes];
                char path[PATH_MAX_LEN];

                snprintf(path, sizeof(path), "routes[%zu]", cfg->nroutes);
                rt->line = (int)node->start_mark.line + 1;
                ld->route_marks[cfg->nroutes] = node->start_mark;
                rt->start = REPLAY_NEW;
                cfg->nroutes++;
                if (node->type != YAML_MAPPING_NODE) {
                        ld_error(ld, &node->start_mark, path,
                                 "expected a mapping (channel: ..., topic: ...), found %s",
                                 is_null(node) ? "nothing" : node_kind(node));
                        return;
                }
                walk_map(ld, node, ROUTE_PREFIX, path, rt, ld->route_seen + (cfg->nroutes - 1) * NKEYS);
                if (ld->failed)
                        return;
        }
}

/*
 * Walks one mapping of known keys, in file order: unknown and duplicate keys,
 * types and values are checked here; what depends on other keys (flows,
 * defaults, duplicate channels) waits for check_all().
 */
static void walk_map(struct loader *ld, const yaml_node_t *map, const char *parent,
                     const char *display_parent, void *base, struct seen *seen)
{
        yaml_node_pair_t *pair;

        for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top && !ld->failed;
             pair++) {
                yaml_node_t *k = yaml_document_get_node(&ld->doc, pair->key);
                yaml_node_t *v = yaml_document_get_node(&ld->doc, pair->value);
                char path[PATH_MAX_LEN], display[PATH_MAX_LEN];
                const struct key_def *kd;
                const char *key;
                struct seen *sn;

                if (k->type != YAML_SCALAR_NODE ||
                    strlen((const char *)k->data.scalar.value) != k->data.scalar.length) {
                        ld_error(ld, &k->start_mark, display_parent[0] ? display_parent : NULL,
                                 "keys must be plain words, found %s", node_kind(k));
                        return;
                }
                key = (const char *)k->data.scalar.value;
                snprintf(path, sizeof(path), "%.100s%s%.150s", parent, parent[0] ? "." : "", key);
                snprintf(display, sizeof(display), "%.100s%s%.150s", display_parent,
                         display_parent[0] ? "." : "", key);
                if (!(kd = key_find(path))) {
                        unknown_key(ld, &k->start_mark, display, key, parent);
                        return;
                }
                sn = &seen[key_index(kd)];
                if (sn->present) {
                        ld_error(ld, &k->start_mark, display, "duplicate key (first at line %zu)",
                                 sn->key_mark.line + 1);
                        return;
                }
                sn->present = 1;
                sn->key_mark = k->start_mark;
                sn->value_mark = v->start_mark;
                switch (kd->type) {
                case KEY_MAP:
                        if (v->type == YAML_MAPPING_NODE) {
                                sn->has_value = 1;
                                walk_map(ld, v, path, display, base, seen);
                        } else if (!is_null(v)) {
                                ld_error(ld, type_mark(k, v), display, "expected a mapping, found %s",
                                         node_kind(v));
                        }
                        break;
                case KEY_LIST:
                        set_routes(ld, k, v, display);
                        break;
                case KEY_PROPERTIES:
                        set_properties(ld, k, v, display);
                        break;
                default:
                        set_scalar(ld, base, kd, sn, k, v, display);
                        break;
                }
        }
}

/*
 * Prescan: records the span of every value that must never be echoed (the
 * values of secret keys, of kafka.properties with secret names, and of
 * unknown keys, which may be a misspelt secret) before any error can be
 * reported, since the first error may sit on a line after the secret's.
 */
static int add_hidden(struct loader *ld, const yaml_node_t *node)
{
        struct hidden *h;

        if (ld->nhidden == ld->hidden_cap) {
                size_t cap = ld->hidden_cap ? ld->hidden_cap * 2 : 16;

                if (!(h = realloc(ld->hidden, cap * sizeof(*h))))
                        return -1;
                ld->hidden = h;
                ld->hidden_cap = cap;
        }
        h = &ld->hidden[ld->nhidden++];
        h->line0 = node->start_mark.line;
        h->col0 = node->start_mark.column;
        h->line1 = node->end_mark.line;
        h->col1 = node->end_mark.column;
        /* An empty plain value still hides the rest of its line. */
        if (h->line1 == h->line0 && h->col1 <= h->col0)
                h->col1 = (size_t)-1;
        return 0;
}

static int prescan(struct loader *ld, yaml_node_t *node, const char *path, int depth, int hide)
{
        size_t id = (size_t)(node - ld->doc.nodes.start);
        yaml_node_pair_t *pair;
        yaml_node_item_t *item;

        /* Aliases make a graph of the tree: visit each node once. */
        if (ld->visited[id] || depth > PRESCAN_DEPTH_MAX)
                return 0;
        ld->visited[id] = 1;
        if (node->type == YAML_SEQUENCE_NODE) {
                char child[PATH_MAX_LEN];

                snprintf(child, sizeof(child), "%.200s[]", path);
                for (item = node->data.sequence.items.start; item < node->data.sequence.items.top; item++)
                        if (prescan(ld, yaml_document_get_node(&ld->doc, *item), child, depth + 1, hide) == -1)
                                return -1;
        } else if (node->type == YAML_MAPPING_NODE) {
                for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
                        yaml_node_t *k = yaml_document_get_node(&ld->doc, pair->key);
                        yaml_node_t *v = yaml_document_get_node(&ld->doc, pair->value);
                        char child[PATH_MAX_LEN];
                        const struct key_def *kd;
                        int h = hide;

                        if (k->type == YAML_SCALAR_NODE) {
                                snprintf(child, sizeof(child), "%.100s%s%.150s", path, path[0] ? "." : "",
                                         (const char *)k->data.scalar.value);
                                kd = key_find(child);
                                if (strcmp(path, "kafka.properties") == 0)
                                        h |= config_property_is_secret((const char *)k->data.scalar.value);
                                else if (!kd || kd->secret)
                                        h = 1;
                        } else {
                                snprintf(child, sizeof(child), "?");
                                h = 1;
                        }
                        /* A visited value is an alias (`*name`): its span is the
                         * anchor's, elsewhere, and the alias text is no secret. */
                        if (h && !hide && !ld->visited[v - ld->doc.nodes.start] &&
                            add_hidden(ld, v) == -1)
                                return -1;
                        if (prescan(ld, k, "?", depth + 1, hide) == -1 ||
                            prescan(ld, v, child, depth + 1, h) == -1)
                                return -1;
                }
        }
        return 0;
}

/*
 * Checks that need the whole file
 */

/* The mark of the nearest present ancestor key, where a missing key is reported. */
static const yaml_mark_t *parent_mark(struct loader *ld, const char *path)
{
        char parent[PATH_MAX_LEN];
        const struct key_def *kd;
        char *dot;

        snprintf(parent, sizeof(parent), "%s", path);
        while ((dot = strrchr(parent, '.'))) {
                *dot = '\0';
                if ((kd = key_find(parent)) && ld->seen[key_index(kd)].present)
                        return &ld->seen[key_index(kd)].key_mark;
        }
        return &ld->root_mark;
}

static int check_file_readable(struct loader *ld, const struct key_def *kd, const char *file,
                               const struct seen *sn)
{
        struct stat st;
        char byte;
        int fd, rc = 0;

        fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd == -1) {
                ld_error(ld, &sn->value_mark, kd->path, "cannot read %s: %s", file, strerror(errno));
                return -1;
        }
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
                ld_error(ld, &sn->value_mark, kd->path, "cannot read %s: %s", file, strerror(EISDIR));
                rc = -1;
        } else if (read(fd, &byte, 1) == -1) {
                ld_error(ld, &sn->value_mark, kd->path, "cannot read %s: %s", file, strerror(errno));
                rc = -1;
        }
        close(fd);
        return rc;
}

static int apply_default(struct loader *ld, void *base, const struct key_def *kd)
{
        if (!kd->def || kd->type == KEY_MAP || kd->type == KEY_LIST || kd->type == KEY_PROPERTIES)
                return 0;
        return store_value(ld, base, kd, kd->def, NULL, kd->path);
}

static void check_globals(struct loader *ld)
{
        struct config *cfg = ld->cfg;
        const struct seen *flow_seen = &ld->seen[key_index(key_find("salesforce.auth.flow"))];
        size_t i;

        for (i = 0; i < NKEYS && !ld->failed; i++) {
                const struct key_def *kd = &key_defs[i];
                struct seen *sn = &ld->seen[i];
                unsigned flow = (unsigned)cfg->sf.flow;
                int need, used;

                if (key_is_route(kd) || kd->type == KEY_LIST)
                        continue;
                need = (kd->required & REQUIRED) ||
                       (flow_seen->has_value && (kd->required & FLOW(flow)));
                used = !(kd->required & FLOWS_ALL) || (kd->required & FLOW(flow));
                if (need && !sn->present) {
                        const yaml_mark_t *mark = parent_mark(ld, kd->path);

                        /* At the top level there is no line to show. */
                        if (mark == &ld->root_mark)
                                ld_error_noecho(ld, mark, kd->path, "required but missing");
                        else if (kd->required & REQUIRED)
                                ld_error(ld, mark, kd->path, "required but missing");
                        else
                                ld_error(ld, mark, kd->path, "required by flow %s but missing",
                                         flow_name_of(flow));
                        return;
                }
                if (need && !sn->has_value) {
                        if (kd->required & REQUIRED)
                                ld_error(ld, &sn->key_mark, kd->path, "%s",
                                         sn->empty ? "is empty" : "has no value");
                        else
                                ld_error(ld, &sn->key_mark, kd->path, "required by flow %s but %s",
                                         flow_name_of(flow), sn->empty ? "empty" : "has no value");
                        return;
                }
                if (!used && sn->has_value) {
                        ld_warn(ld, &sn->key_mark, kd->path, "not used by flow %s (ignored)",
                                flow_name_of(flow));
                        store_string(cfg, kd, NULL);
                        sn->has_value = 0;
                        continue;
                }
                if (!sn->has_value && apply_default(ld, cfg, kd) == -1)
                        return;
                if (kd->must_read && sn->has_value &&
                    check_file_readable(ld, kd, *(char **)field_at(cfg, kd), sn) == -1)
                        return;
        }
}

static int channel_same(const char *a, const char *b)
{
        size_t la = channel_base_len(a), lb = channel_base_len(b);

        return la == lb && strncmp(a, b, la) == 0;
}

static void check_routes(struct loader *ld)
{
        struct config *cfg = ld->cfg;
        const struct seen *routes_seen = &ld->seen[key_index(key_find("routes"))];
        size_t r, i;
        char msg[MSG_MAX];

        if (!routes_seen->present) {
                ld_error_noecho(ld, &ld->root_mark, "routes", "required but missing");
                return;
        }
        if (cfg->nroutes == 0) {
                ld_error(ld, &routes_seen->key_mark, "routes",
                         "no routes: add at least one (- channel: ..., topic: ...)");
                return;
        }
        for (r = 0; r < cfg->nroutes && !ld->failed; r++) {
                struct config_route *rt = &cfg->routes[r];
                struct seen *seen = ld->route_seen + r * NKEYS;
                char display[PATH_MAX_LEN];

                for (i = 0; i < NKEYS; i++) {
                        const struct key_def *kd = &key_defs[i];

                        if (!key_is_route(kd))
                                continue;
                        snprintf(display, sizeof(display), "routes[%zu].%s", r, key_leaf(kd->path));
                        if ((kd->required & REQUIRED) && !seen[i].has_value) {
                                if (!seen[i].present) {
                                        ld_error(ld, &ld->route_marks[r], display, "required but missing");
                                } else {
                                        ld_error(ld, &seen[i].key_mark, display, "%s",
                                                 seen[i].empty ? "is empty" : "has no value");
                                }
                                return;
                        }
                        if (seen[i].has_value)
                                continue;
                        if (kd->inherit)
                                store_int(rt, kd, cfg->on_invalid_replay);
                        else if (apply_default(ld, rt, kd) == -1)
                                return;
                }
                snprintf(display, sizeof(display), "routes[%zu].topic", r);
                if (check_topic_template(rt->topic, rt->channel, msg, sizeof(msg)) == -1) {
                        ld_error(ld, &seen[key_index(key_find("routes[].topic"))].value_mark, display,
                                 "%s", msg);
                        return;
                }
                for (i = 0; i < r; i++) {
                        if (channel_same(cfg->routes[i].channel, rt->channel)) {
                                snprintf(display, sizeof(display), "routes[%zu].channel", r);
                                ld_error(ld, &seen[key_index(key_find("routes[].channel"))].value_mark,
                                         display, "duplicate channel %.*s (first at line %d)",
                                         (int)channel_base_len(rt->channel), rt->channel,
                                         cfg->routes[i].line);
                                return;
                        }
                }
                if (rt->key == ROUTE_KEY_RECORD_ID &&
                    (strncmp(rt->channel, "/event/", 7) == 0 || strncmp(rt->channel, "/u/", 3) == 0)) {
                        snprintf(display, sizeof(display), "routes[%zu].key", r);
                        ld_warn(ld, &seen[key_index(key_find("routes[].key"))].value_mark, display,
                                "%s events carry no record ID; their records will have no key",
                                rt->channel[1] == 'e' ? "platform" : "generic");
                }
        }
}

/*
 * Loading
 */

static void yaml_failure(struct loader *ld, yaml_parser_t *parser)
{
        yaml_mark_t mark = parser->problem_mark;
        char ctx[128] = "";

        /* libyaml 0.2.5 fails some allocations without recording an error. */
        if (parser->error == YAML_MEMORY_ERROR || parser->error == YAML_NO_ERROR) {
                ld_oom(ld);
                return;
        }
        if (parser->error == YAML_READER_ERROR) {
                /* The reader knows a byte offset, not a line. */
                size_t off = parser->problem_offset, i;

                memset(&mark, 0, sizeof(mark));
                for (i = 0; i < off && i < ld->len; i++) {
                        if (ld->text[i] == '\n') {
                                mark.line++;
                                mark.column = 0;
                        } else if (is_utf8_lead((unsigned char)ld->text[i])) {
                                mark.column++;
                        }
                }
                ld_error(ld, &mark, NULL, "not valid YAML text: %s at byte %zu",
                         parser->problem ? parser->problem : "unreadable", off);
                return;
        }
        if (parser->context) {
                snprintf(ctx, sizeof(ctx), " (%s at line %zu column %zu)", parser->context,
                         parser->context_mark.line + 1, parser->context_mark.column + 1);
                /* "found unexpected end of stream": the end of the file is
                 * no place to look; where the unclosed thing starts is. */
                if (line_is_blank(ld, mark.line)) {
                        mark = parser->context_mark;
                        snprintf(ctx, sizeof(ctx), " %s (which starts here)", parser->context);
                }
        }
        ld_error(ld, &mark, NULL, "YAML syntax error: %s%s",
                 parser->problem ? parser->problem : "unknown problem", ctx);
}

static void load_document(struct loader *ld)
{
        yaml_parser_t parser;
        yaml_document_t extra;
        yaml_node_t *root, *extra_root;
        size_t nnodes;

        if (!yaml_parser_initialize(&parser)) {
                ld_oom(ld);
                return;
        }
        yaml_parser_set_input_string(&parser, (const unsigned char *)ld->text, ld->len);
        if (!yaml_parser_load(&parser, &ld->doc)) {
                yaml_failure(ld, &parser);
                yaml_parser_delete(&parser);
                return;
        }
        ld->have_doc = 1;
        root = yaml_document_get_root_node(&ld->doc);
        if (!root) {
                yaml_mark_t start = { 0, 0, 0 };

                ld_error_noecho(ld, &start, NULL, "the file is empty; expected a mapping with "
                                "salesforce, kafka and routes");
                yaml_parser_delete(&parser);
                return;
        }
        /* A second document is almost always a stray "---". */
        if (!yaml_parser_load(&parser, &extra)) {
                yaml_failure(ld, &parser);
                yaml_parser_delete(&parser);
                return;
        }
        extra_root = yaml_document_get_root_node(&extra);
        if (extra_root)
                ld_error(ld, &extra_root->start_mark, NULL,
                         "a second YAML document: the file must hold exactly one");
        yaml_document_delete(&extra);
        yaml_parser_delete(&parser);
        if (ld->failed)
                return;

        ld->root_mark = root->start_mark;
        nnodes = (size_t)(ld->doc.nodes.top - ld->doc.nodes.start);
        if (!(ld->visited = calloc(nnodes ? nnodes : 1, 1))) {
                ld_oom(ld);
                return;
        }
        if (prescan(ld, root, "", 0, 0) == -1) {
                ld_oom(ld);
                return;
        }
        ld->prescanned = 1;
        if (root->type != YAML_MAPPING_NODE) {
                ld_error(ld, &root->start_mark, NULL,
                         "the top level must be a mapping (name, salesforce, kafka, on_invalid_replay, "
                         "metrics, routes), found %s", node_kind(root));
                return;
        }
        walk_map(ld, root, "", "", ld->cfg, ld->seen);
        if (!ld->failed)
                check_globals(ld);
        if (!ld->failed)
                check_routes(ld);
}

struct config *config_load_string(const char *path, const char *text, size_t len,
                                  char *errstr, size_t errstr_size)
{
        struct loader ld;
        struct config *cfg;

        memset(&ld, 0, sizeof(ld));
        ld.path = path;
        ld.text = text ? text : ""; /* libyaml asserts on a NULL input */
        ld.len = text ? len : 0;
        ld.errstr = errstr;
        ld.errstr_size = errstr_size;
        if (errstr_size)
                errstr[0] = '\0';
        if (!(cfg = calloc(1, sizeof(*cfg))) || !(cfg->path = strdup(path))) {
                free(cfg);
                snprintf(errstr, errstr_size, "%s: out of memory", path);
                return NULL;
        }
        ld.cfg = cfg;
        load_document(&ld);
        if (ld.have_doc)
                yaml_document_delete(&ld.doc);
        free(ld.visited);
        free(ld.hidden);
        free(ld.route_seen);
        free(ld.route_marks);
        if (ld.failed) {
                config_destroy(cfg);
                return NULL;
        }
        return cfg;
}

struct config *config_load(const char *path, char *errstr, size_t errstr_size)
{
        struct config *cfg;
        struct stat st;
        char *text;
        size_t len = 0;
        ssize_t n;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd == -1) {
                snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
                return NULL;
        }
        if (fstat(fd, &st) == -1) {
                snprintf(errstr, errstr_size, "%s: cannot read: %s", path, strerror(errno));
                close(fd);
                return NULL;
        }
        if (S_ISDIR(st.st_mode)) {
                snprintf(errstr, errstr_size, "%s: cannot read: %s", path, strerror(EISDIR));
                close(fd);
                return NULL;
        }
        if (!(text = malloc(CONFIG_FILE_MAX + 1))) {
                snprintf(errstr, errstr_size, "%s: out of memory", path);
                close(fd);
                return NULL;
        }
        /* Read to EOF (a pipe or /dev/stdin has no size) up to the ceiling. */
        while (len <= CONFIG_FILE_MAX) {
                n = read(fd, text + len, CONFIG_FILE_MAX + 1 - len);
                if (n == 0)
                        break;
                if (n == -1) {
                        if (errno == EINTR)
                                continue;
                        snprintf(errstr, errstr_size, "%s: cannot read: %s", path, strerror(errno));
                        free(text);
                        close(fd);
                        return NULL;
                }
                len += (size_t)n;
        }
        close(fd);
        if (len > CONFIG_FILE_MAX) {
                snprintf(errstr, errstr_size, "%s: larger than %d bytes; is this the routing file?",
                         path, CONFIG_FILE_MAX);
                free(text);
                return NULL;
        }
        cfg = config_load_string(path, text, len, errstr, errstr_size);
        free(text);
        return cfg;
}

void config_destroy(struct config *cfg)
{
        size_t i;

        if (!cfg)
                return;
        free(cfg->path);
        free(cfg->name);
        free(cfg->sf.login_url);
        free(cfg->sf.api_version);
        free(cfg->sf.client_id);
        free(cfg->sf.client_secret);
        free(cfg->sf.username);
        free(cfg->sf.password);
        free(cfg->sf.private_key_file);
        free(cfg->sf.refresh_token);
        free(cfg->sf.ca_file);
        free(cfg->sf.proxy);
        free(cfg->kafka.bootstrap_servers);
        free(cfg->kafka.replay_topic);
        for (i = 0; i < cfg->kafka.nproperties; i++) {
                free(cfg->kafka.properties[i].name);
                free(cfg->kafka.properties[i].value);
        }
        free(cfg->kafka.properties);
        free(cfg->metrics_listen);
        for (i = 0; i < cfg->nroutes; i++) {
                free(cfg->routes[i].channel);
                free(cfg->routes[i].topic);
        }
        free(cfg->routes);
        for (i = 0; i < cfg->nwarnings; i++)
                free(cfg->warnings[i]);
        free(cfg->warnings);
        free(cfg);
}

int config_property_is_secret(const char *name)
{
        static const char *const words[] = { "password", "secret", "key.pem", "jaas",
                                             "oauthbearer.config" };
        size_t i;

        for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (contains_ci(name, strlen(name), words[i]))
                        return 1;
        return 0;
}

const struct config_route *config_find_route(const struct config *cfg, const char *channel)
{
        size_t i;

        for (i = 0; i < cfg->nroutes; i++)
                if (channel_same(cfg->routes[i].channel, channel))
                        return &cfg->routes[i];
        return NULL;
}

static const char *enum_name(const struct enum_value *values, long long v)
{
        size_t i;

        for (i = 0; values[i].name; i++)
                if (values[i].value == v)
                        return values[i].name;
        return "?";
}

const char *config_flow_name(enum auth_flow flow)
{
        return enum_name(flow_values, flow);
}

const char *config_delivery_name(enum delivery d)
{
        return enum_name(delivery_values, d);
}

const char *config_invalid_replay_name(enum invalid_replay p)
{
        return enum_name(invalid_replay_values, p);
}

/* Prints @p text indented by 4, wrapped at 78 columns on spaces. */
static void print_wrapped(FILE *fp, const char *text)
{
        const char *p = text, *space, *brk;

        while (*p) {
                if (strlen(p) <= 74) {
                        fprintf(fp, "    %s\n", p);
                        return;
                }
                brk = NULL;
                for (space = p; space && space - p <= 74; space = strchr(space + 1, ' '))
                        if (*space == ' ')
                                brk = space;
                if (!brk)
                        brk = strchr(p, ' ');
                if (!brk) {
                        fprintf(fp, "    %s\n", p);
                        return;
                }
                fprintf(fp, "    %.*s\n", (int)(brk - p), p);
                p = brk + 1;
        }
}

/*
 * The reference: one block per key, generated from the table so the README,
 * `--help` and the validation cannot drift apart.
 */
void config_print_reference(FILE *fp)
{
        char list[MSG_MAX];
        size_t i, f;
        int n;

        fprintf(fp, "Configuration keys (YAML). Every value may use ${VAR} or ${VAR:-default}\n"
                "from the environment; $$ is a literal $.\n");
        for (i = 0; i < NKEYS; i++) {
                const struct key_def *kd = &key_defs[i];

                fprintf(fp, "\n%s\n    ", kd->path);
                switch (kd->type) {
                case KEY_ENUM:
                        enum_list(kd->values, list, sizeof(list));
                        fprintf(fp, "one of: %s", list);
                        break;
                case KEY_INT:
                        fprintf(fp, "integer %lld..%lld", kd->min, kd->max);
                        break;
                case KEY_STRING:
                        fprintf(fp, "string");
                        break;
                case KEY_MAP:
                        fprintf(fp, "mapping");
                        break;
                case KEY_LIST:
                        fprintf(fp, "list of mappings");
                        break;
                case KEY_PROPERTIES:
                        fprintf(fp, "mapping of name: value");
                        break;
                }
                if (kd->secret)
                        fprintf(fp, ", secret");
                if (kd->required & REQUIRED) {
                        fprintf(fp, "; required");
                } else if ((kd->required & FLOWS_ALL) == FLOWS_ALL) {
                        fprintf(fp, "; required by every flow");
                } else if (kd->required & FLOWS_ALL) {
                        fprintf(fp, "; required by flow%s", (kd->required & (kd->required - 1)) ? "s" : "");
                        for (f = 0, n = 0; f <= AUTH_CLIENT_CREDENTIALS; f++)
                                if (kd->required & FLOW(f))
                                        fprintf(fp, "%s %s", n++ ? "," : "", flow_name_of((unsigned)f));
                        fprintf(fp, "; ignored with a warning by the others");
                }
                if (kd->def)
                        fprintf(fp, "; default %s", kd->def);
                if (kd->inherit)
                        fprintf(fp, "; default: the value of %s", kd->inherit);
                fprintf(fp, "\n");
                print_wrapped(fp, kd->doc);
        }
}
