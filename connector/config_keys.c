/*
 * The configuration's key table: every known key with its type, default,
 * the auth flows that need it, secret flag and doc, and the checks that say
 * what a valid value is. The loader (config.c) and the messages and key
 * reference (config_diag.c) read it; nothing here knows YAML.
 */
#include "config_internal.h"
#include "cidr.h"
#include "jwt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_NAME_MAX 128
#define KAFKA_TOPIC_MAX 249
#define API_VERSION_MIN 37 /* durable streaming (replay) needs 37.0 */

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

static const struct enum_value route_error_values[] = {
        { "quarantine", ROUTE_ERROR_QUARANTINE },
        { "fail", ROUTE_ERROR_FAIL },
        { NULL, 0 }
};

static const struct enum_value org_change_values[] = {
        { "fail", ORG_CHANGE_FAIL },
        { "start", ORG_CHANGE_START },
        { NULL, 0 }
};

static const struct enum_value route_key_values[] = {
        { "replay_id", ROUTE_KEY_REPLAY_ID },
        { "record_id", ROUTE_KEY_RECORD_ID },
        { "none", ROUTE_KEY_NONE },
        { "event_uuid", ROUTE_KEY_EVENT_UUID },
        { NULL, 0 }
};

static const struct enum_value route_value_values[] = {
        { "data", ROUTE_VALUE_DATA },
        { "payload", ROUTE_VALUE_PAYLOAD },
        { "message", ROUTE_VALUE_MESSAGE },
        { NULL, 0 }
};

static const struct enum_value route_partition_values[] = {
        { "channel", ROUTE_PARTITION_CHANNEL },
        { "record_id", ROUTE_PARTITION_RECORD_ID },
        { "key", ROUTE_PARTITION_KEY },
        { "entity", ROUTE_PARTITION_ENTITY },
        { NULL, 0 }
};

static const struct enum_value start_values[] = {
        { "new", REPLAY_NEW },
        { "all", REPLAY_ALL },
        { NULL, 0 }
};

#define IN_CFG(m) .offset = offsetof(struct config, m), .size = sizeof(((struct config *)0)->m)
#define IN_ORG(m) .offset = offsetof(struct config_org, m), \
                  .size = sizeof(((struct config_org *)0)->m)
#define IN_ROUTE(m) .offset = offsetof(struct config_route, m), \
                    .size = sizeof(((struct config_route *)0)->m)

static int check_name(const char *v, char *msg, size_t msg_size);
static int check_url(const char *v, char *msg, size_t msg_size);
static int check_api_version(const char *v, char *msg, size_t msg_size);
static int check_topic_name(const char *v, char *msg, size_t msg_size);
static int check_listen(const char *v, char *msg, size_t msg_size);
static int check_allowed_hosts(const char *v, char *msg, size_t msg_size);
static int check_channel(const char *v, char *msg, size_t msg_size);
static int check_group(const char *v, char *msg, size_t msg_size);
static int check_metrics_token(const char *v, char *msg, size_t msg_size);
static int check_metrics_allow(const char *v, char *msg, size_t msg_size);

/* The table. Order matters twice: a parent comes before its children (so a
 * missing parent is reported before its missing children), and it is the
 * order of the printed reference. */
const struct key_def config_keys[] = {
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
          .check_file = jwt_check_key_file,
          .required = FLOW(AUTH_JWT), IN_CFG(sf.private_key_file),
          .doc = "PEM RSA private key that signs the JWT assertion (the connected app holds its "
                 "certificate); must be readable when the config loads." },
        { .path = "salesforce.auth.refresh_token", .type = KEY_STRING, .secret = 1,
          .required = FLOW(AUTH_REFRESH_TOKEN), IN_CFG(sf.refresh_token),
          .doc = "OAuth refresh token of the connected app. Secret: never logged; use ${VAR}." },
        { .path = "salesforce.auth.refresh_token_file", .type = KEY_STRING,
          IN_CFG(sf.refresh_token_file),
          .doc = "refresh_token flow: file that keeps the refresh token when the connected app "
                 "rotates it (each refresh answers with a new one and the old one is refused, "
                 "revoking the lot). Written mode 0600 through a temporary file and an atomic "
                 "rename; read at start in preference to refresh_token, and again before each "
                 "refresh (check --online or another instance may have rotated it). Unset: a "
                 "rotated token lives in memory only, and sfbridge logs an error when that "
                 "happens." },
        { .path = "salesforce.auth.audience", .type = KEY_STRING, IN_CFG(sf.audience),
          .check = check_url,
          .doc = "jwt flow: the assertion's aud, the authorization server: "
                 "https://login.salesforce.com, https://test.salesforce.com, or an Experience "
                 "Cloud site's URL; never the My Domain URL. Default: https://test.salesforce.com "
                 "when login_url is test.salesforce.com or a sandbox My Domain "
                 "(*.sandbox.my.salesforce.com), else https://login.salesforce.com." },
        { .path = "salesforce.ca_file", .type = KEY_STRING, .must_read = 1, IN_CFG(sf.ca_file),
          .doc = "Extra PEM CA bundle to trust for Salesforce (a TLS-inspecting proxy, the test "
                 "emulator); must be readable. Unset: the system trust store only." },
        { .path = "salesforce.proxy", .type = KEY_STRING, IN_CFG(sf.proxy),
          .doc = "Proxy for Salesforce traffic, as libcurl takes it (http://host:port). Unset: none." },
        { .path = "salesforce.allowed_hosts", .type = KEY_STRING, IN_CFG(sf.allowed_hosts),
          .check = check_allowed_hosts,
          .doc = "More hosts the token endpoint's instance_url may name, comma-separated: an "
                 "exact host name, or .domain for any host below it (.corp.example). The bearer "
                 "token goes only to https hosts under .salesforce.com, .force.com, "
                 ".cloudforce.com or .salesforce.mil, to the login_url's host, or to these; "
                 "plain http only when login_url is http. Unset: none more." },
        { .path = "salesforce.stall_timeout_s", .type = KEY_INT, .def = "150", .min = 1,
          .max = 86400, IN_CFG(sf.stall_timeout_s),
          .doc = "Longest wait, in seconds, for an answer to a /meta/connect (the wait is the "
                 "server's advice.timeout + 10 s when that is shorter); then sfbridge aborts it "
                 "and connects again on the same client, or re-handshakes and resubscribes "
                 "after 30 s of failures. Keep it above Salesforce's 110 s long-poll." },
        { .path = "salesforce.limit_backoff_s", .type = KEY_INT, .def = "60", .min = 1,
          .max = 3600, IN_CFG(sf.limit_backoff_s),
          .doc = "First wait, in seconds, after Salesforce says it is too busy or an org limit "
                 "is reached (concurrent clients, daily events); doubles up to 8 times this, "
                 "with jitter. Never a re-login loop." },
        { .path = "salesforce.limits_poll_s", .type = KEY_INT, .def = "300", .min = 0,
          .max = 86400, IN_CFG(sf.limits_poll_s),
          .doc = "Seconds between reads of the org's streaming allocations (GET "
                 "/services/data/vNN.N/limits on the instance, beside the long-poll, never "
                 "delaying it): gauges sfbridge_sf_limit_max and _remaining, a warning below "
                 "20% remaining and an error below 5%; below 5%, on_invalid_replay: all "
                 "resubscribes with -1. 0: off." },
        { .path = "salesforce.max_response_bytes", .type = KEY_INT, .def = "10485760",
          .min = 65536, .max = 1073741824, IN_CFG(sf.max_response_bytes), .is_size = 1,
          .doc = "Ceiling, in bytes, of one Salesforce HTTP response body (decoded): a larger "
                 "answer is refused (error response_too_large), the session rebuilt with "
                 "backoff from the committed replay IDs, nothing lost; Salesforce sends the "
                 "same batch again, so raise this. An event is at most 1 MB (platform and "
                 "change events) and one /meta/connect answer carries several: Salesforce's "
                 "EMP-Connector reads up to 10 MB, so does the default, 10 MiB. One answer "
                 "costs about 2x its size plus ~1 KB per event of memory at peak, given "
                 "back after its batch." },
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
        { .path = "kafka.dead_letter_topic", .type = KEY_STRING, IN_CFG(kafka.dead_letter_topic),
          .check = check_topic_name,
          .doc = "Topic for events that can never be produced (too large, an illegal {entity} "
                 "topic, unreadable): each goes there in its batch, as Salesforce sent it, with "
                 "headers sf.channel, sf.replay_id, sf.error, sf.topic. Unset: the event's route "
                 "stops just before it." },
        { .path = "kafka.max_in_flight", .type = KEY_INT, .def = "10000", .min = 1, .max = 1000000,
          IN_CFG(kafka.max_in_flight),
          .doc = "Events awaiting Kafka acknowledgement beyond which no new /meta/connect is sent "
                 "(bounds memory)." },
        { .path = "kafka.max_in_flight_bytes", .type = KEY_INT, .def = "67108864",
          .min = 1048576, .max = 4294967296LL, IN_CFG(kafka.max_in_flight_bytes), .is_size = 1,
          .doc = "Bytes (value, key and headers) of the events awaiting Kafka (acknowledgement; "
                 "exactly_once: their commit) beyond which no new /meta/connect is sent, "
                 "alongside max_in_flight: whichever is reached first pauses. The default, "
                 "64 MiB, fits the shipped 256Mi memory limit; keep it under librdkafka's "
                 "queue.buffering.max.kbytes." },
        { .path = "kafka.properties", .type = KEY_PROPERTIES,
          .doc = "librdkafka properties handed over unchanged (numbers and booleans as text), e.g. "
                 "security.protocol: SASL_SSL. Values of names holding password, secret, key.pem, "
                 "jaas, oauthbearer or ssl.key are never logged." },
        { .path = "on_invalid_replay", .type = KEY_ENUM, .def = "all",
          .values = invalid_replay_values, IN_CFG(on_invalid_replay),
          .doc = "When Salesforce no longer retains a stored replay ID: all (resubscribe with -2, "
                 "everything retained), new (-1, new events only), fail (stop, exit code 3). "
                 "The gap is logged and counted either way." },
        { .path = "on_route_error", .type = KEY_ENUM, .def = "quarantine",
          .values = route_error_values, IN_CFG(on_route_error),
          .doc = "When Salesforce refuses one route's subscribe mid-run (403 no access, channel "
                 "gone): quarantine (retry that route alone from its committed replay ID, 5 s "
                 "doubling to 5 min, readiness false naming it, the others flow) or fail (stop, "
                 "exit code 3; at start, before the name is claimed). At start a channel that "
                 "does not exist always exits 3." },
        { .path = "on_org_change", .type = KEY_ENUM, .def = "fail",
          .values = org_change_values, IN_CFG(on_org_change),
          .doc = "When the stored replay IDs were written while logged in to another org than "
                 "the one logged in to now (a sandbox refresh, a test -> prod move): fail (exit "
                 "code 3 naming both orgs, nothing produced) or start (ignore them: each route "
                 "begins at its start). Logged and counted either way." },
        { .path = "metrics", .type = KEY_MAP,
          .doc = "The HTTP listener for /metrics (Prometheus), /healthz and /readyz." },
        { .path = "metrics.listen", .type = KEY_STRING, .def = "127.0.0.1:9464",
          IN_CFG(metrics_listen), .check = check_listen,
          .doc = "host:port to listen on; [addr]:port for IPv6; port 0 picks a free port. "
                 "0.0.0.0 or [::] listens on every address: then "
                 "consider metrics.allow and metrics.token." },
        { .path = "metrics.token", .type = KEY_STRING, .secret = 1, IN_CFG(metrics_token),
          .check = check_metrics_token,
          .doc = "Bearer token /metrics requires (Authorization: Bearer <token>), else 401; "
                 "/healthz and /readyz stay open for probes. 16 to 256 printable characters, "
                 "no spaces. Secret: never logged; use ${VAR}. Unset: /metrics is open." },
        { .path = "metrics.allow", .type = KEY_STRING, IN_CFG(metrics_allow),
          .check = check_metrics_allow,
          .doc = "Networks allowed to connect, comma-separated CIDRs (10.0.0.0/8, "
                 "127.0.0.1, fd00::/8; at most 64): a connection from elsewhere is closed "
                 "unanswered, probes included. Unset: every address." },
        { .path = "metrics.max_series_per_family", .type = KEY_INT, .def = "200", .min = 1,
          .max = 3584, IN_CFG(metrics_max_series),
          .doc = "Label sets each metric family whose labels come from data (channel, topic, "
                 "dead-letter reason) may hold, never fewer than the routes; beyond it new ones "
                 "add to the family's series labelled \"__overflow__\". Recovery, re-auth and "
                 "other series are never crowded out." },
        { .path = "coordination", .type = KEY_MAP,
          .doc = "Present: this instance is one member of a replica group (see \"Running several "
                 "replicas\"): a Kafka consumer group on the coordination topic gives each unit "
                 "(routes[].unit, orgs[]) to exactly one member, fenced by the unit's "
                 "transactional.id. Absent: a single instance, as before." },
        { .path = "coordination.topic", .type = KEY_STRING, IN_CFG(coord.topic),
          .check = check_topic_name,
          .doc = "The coordination topic: one partition stands for a unit (FNV-1a-32 of the "
                 "unit id modulo the partition count, or coordination.partitions); created when "
                 "missing with one partition per unit. Default: sfbridge.<name>.units." },
        { .path = "coordination.group", .type = KEY_STRING, IN_CFG(coord.group),
          .check = check_group,
          .doc = "Kafka consumer group id of the replicas; every replica of one routing file "
                 "uses the same. Default: sfbridge-<name>-units." },
        { .path = "coordination.session_timeout_ms", .type = KEY_INT, .def = "6000", .min = 1000,
          .max = 3600000, IN_CFG(coord.session_timeout_ms),
          .doc = "Group session timeout: a member silent this long loses its units to the others "
                 "(the crash failover time is about this plus a rebalance). Brokers refuse less "
                 "than their group.min.session.timeout.ms, 6000 by default (check warns)." },
        { .path = "coordination.heartbeat_interval_ms", .type = KEY_INT, .def = "1000", .min = 1,
          .max = 3600000, IN_CFG(coord.heartbeat_interval_ms),
          .doc = "Group heartbeat interval; keep it below a third of session_timeout_ms (check "
                 "warns)." },
        { .path = "coordination.max_poll_interval_ms", .type = KEY_INT, .def = "30000", .min = 1,
          .max = 86400000, IN_CFG(coord.max_poll_interval_ms),
          .doc = "Longest gap between two polls of the group consumer before the member leaves "
                 "the group; at least session_timeout_ms (librdkafka refuses less)." },
        { .path = "coordination.claim_grace_ms", .type = KEY_INT, .def = "0", .min = 0,
          .max = 60000, IN_CFG(coord.claim_grace_ms),
          .doc = "Wait after writing a unit's owner record before reading the replay topic, for "
                 "an older owner that still runs to see the claim (single-instance mode always "
                 "waits 2000). In a group an older owner has revoked, died or lost its session "
                 "before the unit is assigned, so 0." },
        { .path = "coordination.partitions", .type = KEY_PROPERTIES,
          .doc = "Optional overrides of the unit -> partition mapping, unit id: partition "
                 "(an integer >= 0), e.g. to give a busy org a partition of its own; every id "
                 "must be a configured unit." },
        { .path = "routes", .type = KEY_LIST, .required = REQUIRED,
          .doc = "Channel to topic mappings, at least one; each channel at most once. Optional "
                 "when orgs: is given (then the top-level routes and salesforce: are the org "
                 "\"default\")." },
        { .path = "routes[].channel", .type = KEY_STRING, .required = REQUIRED,
          IN_ROUTE(channel), .check = check_channel,
          .doc = "Streaming channel: /topic/<PushTopic>[?filter]; /event/<Name>__e (custom "
                 "platform event), /event/<Name>__chn (custom channel) or /event/<Standard> (a "
                 "standard event such as LoginEventStream, no __ suffix); /data/ChangeEvents, "
                 "/data/<Entity>ChangeEvent, /data/<Custom>__ChangeEvent or /data/<Name>__chn "
                 "(custom channel: change events of several entities); /u/<generic>. A ?filter "
                 "suffix does not make a channel distinct." },
        { .path = "routes[].topic", .type = KEY_STRING, .required = REQUIRED, IN_ROUTE(topic),
          .doc = "Kafka topic: a-z A-Z 0-9 . _ -, at most 249 characters. {entity} (on /data/ "
                 "channels only) becomes the change event's entityName." },
        { .path = "routes[].max_topics", .type = KEY_INT, .def = "100", .min = 1, .max = 100000,
          IN_ROUTE(max_topics),
          .doc = "With {entity} in topic: how many distinct topics the route may write to while "
                 "it runs (each one Kafka creates, or must hold). An event whose entity would "
                 "need one more is poison (reason too_many_topics): dead-lettered, or its route "
                 "stops before it." },
        { .path = "routes[].key", .type = KEY_ENUM, .def = "replay_id", .values = route_key_values,
          IN_ROUTE(key),
          .doc = "Kafka record key: replay_id (the replay ID in decimal), record_id (the first "
                 "record ID of the change; an overflow event's entityName), event_uuid (a "
                 "platform event's EventUuid, for idempotent consumers), none." },
        { .path = "routes[].partition_by", .type = KEY_ENUM, .values = route_partition_values,
          IN_ROUTE(partition_by),
          .doc = "What picks the partition, with the murmur2 hash of Kafka's Java clients: "
                 "channel (the whole channel in one partition), record_id (every event of a "
                 "record in one partition, in Salesforce's order; a merged change by its first "
                 "record ID, an overflow event by its entity, another event without one by its "
                 "channel), key (the record key; an event without one goes by its channel), "
                 "entity (/data/ only: every change of an entity in one partition, so each "
                 "record's order holds across merged changes too). "
                 "Default: record_id on /data/ channels, channel on the others." },
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
        { .path = "routes[].unit", .type = KEY_STRING, IN_ROUTE(unit), .check = config_check_unit_id,
          .doc = "Group mode (needs coordination:): the unit this route belongs to; the routes "
                 "of one unit run together on one replica. Letters, digits, _ and -; \"default\" "
                 "is the name of the routes without unit:. A top-level route's unit id is this "
                 "name; an org's is <org>.<unit>." },
        { .path = "orgs", .type = KEY_LIST,
          .doc = "Group mode (needs coordination:): several Salesforce orgs in one routing file, "
                 "each a unit (or several, with routes[].unit) spread over the replicas. Replay "
                 "keys become <name>:<org>:<channel>, records get the header sf.org, topic "
                 "templates may use {org}." },
        { .path = "orgs[].id", .type = KEY_STRING, .required = REQUIRED, IN_ORG(id),
          .check = config_check_unit_id,
          .doc = "The org's id in unit ids, replay keys, the sf.org header, {org} and metric "
                 "labels: letters, digits, _ and -, unique, not \"default\" (the top level's)." },
        { .path = "orgs[].salesforce", .type = KEY_MAP, .required = REQUIRED,
          .doc = "The org's salesforce: block: every salesforce.* key, with the same defaults "
                 "and rules as at the top level." },
        { .path = "orgs[].routes", .type = KEY_LIST, .required = REQUIRED,
          .doc = "The org's routes, at least one, with the keys of routes[]; a channel at most "
                 "once per org." },
};

_Static_assert(sizeof(config_keys) / sizeof(config_keys[0]) == CONFIG_NKEYS,
               "CONFIG_NKEYS in config_internal.h must count config_keys[]");

/*
 * Lookups
 */

const struct key_def *config_key_find(const char *path)
{
        size_t i;

        for (i = 0; i < CONFIG_NKEYS; i++)
                if (strcmp(config_keys[i].path, path) == 0)
                        return &config_keys[i];
        return NULL;
}

const struct key_def *config_key_find_any(const char *path)
{
        static const char org[] = ORG_PREFIX ".";
        char inner[PATH_MAX_LEN];

        if (strncmp(path, org, sizeof(org) - 1) == 0 &&
            (strncmp(path + sizeof(org) - 1, "salesforce", 10) == 0 ||
             strncmp(path + sizeof(org) - 1, ROUTE_PREFIX ".", sizeof(ROUTE_PREFIX)) == 0) &&
            strcmp(path + sizeof(org) - 1, "salesforce") != 0) {
                snprintf(inner, sizeof(inner), "%s", path + sizeof(org) - 1);
                return config_key_find(inner);
        }
        return config_key_find(path);
}

size_t config_key_index(const struct key_def *kd)
{
        return (size_t)(kd - config_keys);
}

int config_key_is_route(const struct key_def *kd)
{
        return strncmp(kd->path, ROUTE_PREFIX ".", sizeof(ROUTE_PREFIX)) == 0;
}

const char *config_key_leaf(const char *path)
{
        const char *dot = strrchr(path, '.');

        return dot ? dot + 1 : path;
}

int config_key_is_child(const char *path, const char *parent)
{
        size_t n = strlen(parent);

        if (n == 0)
                return strchr(path, '.') == NULL;
        return strncmp(path, parent, n) == 0 && path[n] == '.' && !strchr(path + n + 1, '.');
}

/*
 * Naming values in messages
 */


const char *config_quote(const char *v, char *out, size_t out_size)
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

const char *config_type_name(enum key_type t)
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

void config_enum_list(const struct enum_value *values, char *out, size_t out_size)
{
        size_t o = 0, i;

        out[0] = '\0';
        for (i = 0; values[i].name && o < out_size; i++)
                o += (size_t)snprintf(out + o, out_size - o, "%s%s", i ? ", " : "", values[i].name);
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

/* A consumer group id: any text Kafka takes, kept to the name's characters. */
static int check_group(const char *v, char *msg, size_t msg_size)
{
        char b[16];
        size_t i;

        for (i = 0; v[i]; i++) {
                if (!is_topic_char(v[i])) {
                        snprintf(msg, msg_size, "character %s is not allowed in a group id: use "
                                 "a-z A-Z 0-9 . _ -", byte_name((unsigned char)v[i], b, sizeof(b)));
                        return -1;
                }
        }
        if (i > CONFIG_NAME_MAX + 16) {
                snprintf(msg, msg_size, "is longer than %d characters", CONFIG_NAME_MAX + 16);
                return -1;
        }
        return 0;
}

/*
 * Unit and org ids become part of transactional.ids ("sfbridge-<name>-<unit>"),
 * replay keys ("<name>:<org>:<channel>") and "<org>.<unit>": no '.', no ':'.
 */
#define UNIT_ID_MAX 64

int config_check_unit_id(const char *v, char *msg, size_t msg_size)
{
        char b[16];
        size_t i;

        for (i = 0; v[i]; i++) {
                char c = v[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-')) {
                        snprintf(msg, msg_size, "character %s is not allowed (it becomes part of "
                                 "unit ids, transactional.ids and replay keys): use a-z A-Z 0-9 _ -",
                                 byte_name((unsigned char)c, b, sizeof(b)));
                        return -1;
                }
        }
        if (i > UNIT_ID_MAX) {
                snprintf(msg, msg_size, "is longer than %d characters", UNIT_ID_MAX);
                return -1;
        }
        if (strcmp(v, "default") == 0) {
                snprintf(msg, msg_size, "\"default\" is reserved: it names the top level's "
                         "org and the routes without unit:");
                return -1;
        }
        return 0;
}

/* The host of an http(s) URL, lowercased, into @p out ("" when there is none). */
static void url_host(const char *url, char *out, size_t out_size)
{
        const char *p = strstr(url, "://");
        size_t n = 0;

        p = p ? p + 3 : url;
        while (p[n] && p[n] != '/' && p[n] != ':' && p[n] != '?' && n + 1 < out_size) {
                out[n] = (char)tolower((unsigned char)p[n]);
                n++;
        }
        out[n] = '\0';
}

static int host_ends_with(const char *host, const char *suffix)
{
        size_t h = strlen(host), s = strlen(suffix);

        return h > s && !strcmp(host + h - s, suffix);
}

const char *config_default_audience(const char *login_url)
{
        char host[256];

        url_host(login_url ? login_url : "", host, sizeof(host));
        if (!strcmp(host, "test.salesforce.com") || host_ends_with(host, ".sandbox.my.salesforce.com"))
                return "https://test.salesforce.com";
        return "https://login.salesforce.com";
}

int config_login_is_generic(const char *login_url)
{
        char host[256];

        url_host(login_url ? login_url : "", host, sizeof(host));
        return !strcmp(host, "login.salesforce.com") || !strcmp(host, "test.salesforce.com");
}

/* salesforce.allowed_hosts: host names or .domains, separated by commas or
 * blanks. A .domain needs two labels: ".com" would hand the token to half
 * the Internet. */
static int check_allowed_hosts(const char *v, char *msg, size_t msg_size)
{
        const char *s = v;
        char q[96];
        int n_entries = 0;

        while (*s) {
                size_t n, i, label = 0, dots = 0;
                const char *e;
                int ok = 1;

                s += strspn(s, ", \t");
                n = strcspn(s, ", \t");
                if (!n)
                        break;
                e = s;
                if (e[0] == '.') {
                        e++;
                        n--;
                }
                for (i = 0; i < n && ok; i++) {
                        char c = e[i];

                        if (c == '.') {
                                ok = label > 0 && e[i - 1] != '-';
                                label = 0;
                                dots++;
                        } else if (isalnum((unsigned char)c) || (c == '-' && label > 0)) {
                                ok = ++label <= 63;
                        } else {
                                ok = 0;
                        }
                }
                ok = ok && n > 0 && n <= 253 && label > 0 && e[n - 1] != '-' &&
                     (e == s || dots > 0);
                if (!ok) {
                        char entry[96];

                        snprintf(entry, sizeof(entry), "%.*s", (int)strcspn(s, ", \t"), s);
                        snprintf(msg, msg_size, "%s is not a host name or a .domain of two labels or "
                                 "more (list entries are separated by commas)",
                                 config_quote(entry, q, sizeof(q)));
                        return -1;
                }
                s = e + n;
                n_entries++;
        }
        if (!n_entries) {
                snprintf(msg, msg_size, "lists no host (give host names or .domains, comma-separated)");
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
                         config_quote(v, q, sizeof(q)));
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
                         config_quote(v, q, sizeof(q)));
                return -1;
        }
        if (atoi(v) < API_VERSION_MIN) {
                snprintf(msg, msg_size, "must be %d.0 or later (replay needs it), found %s",
                         API_VERSION_MIN, config_quote(v, q, sizeof(q)));
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

/* The value is a secret: the message never quotes it. */
static int check_metrics_token(const char *v, char *msg, size_t msg_size)
{
        size_t n = strlen(v), i;

        if (n < 16 || n > 256) {
                snprintf(msg, msg_size, "must be 16 to 256 characters long, found %zu", n);
                return -1;
        }
        for (i = 0; i < n; i++) {
                if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f) {
                        snprintf(msg, msg_size, "must be printable ASCII without spaces "
                                 "(character %zu is not)", i + 1);
                        return -1;
                }
        }
        return 0;
}

static int check_metrics_allow(const char *v, char *msg, size_t msg_size)
{
        return cidr_list_parse(v, NULL, NULL, msg, msg_size);
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
                         config_quote(v, q, sizeof(q)));
                return -1;
        }
        host_len = (size_t)(colon - v);
        if (v[0] == '[') {
                if (host_len < 3 || v[host_len - 1] != ']')
                        goto bad;
        } else if (memchr(v, ':', host_len)) {
                snprintf(msg, msg_size, "an IPv6 address goes in brackets, like [::1]:9464; found %s",
                         config_quote(v, q, sizeof(q)));
                return -1;
        }
        for (p = v; p < colon; p++)
                if ((unsigned char)*p <= ' ' || *p == '/')
                        goto bad;
        return 0;
bad:
        snprintf(msg, msg_size, "must be host:port, like 127.0.0.1:9464, found %s", config_quote(v, q, sizeof(q)));
        return -1;
}

static const char *const channel_prefixes[] = { "/topic/", "/event/", "/data/", "/u/" };

size_t config_channel_base_len(const char *ch)
{
        const char *q = strchr(ch, '?');

        return q ? (size_t)(q - ch) : strlen(ch);
}

/* @returns 1 when the @p n bytes at @p s end in @p suffix with a name before it. */
static int name_ends_in(const char *s, size_t n, const char *suffix)
{
        size_t m = strlen(suffix);

        return n > m && strncmp(s + n - m, suffix, m) == 0;
}

/*
 * /event/ names (letters, digits and _ already checked): a custom platform
 * event <Name>__e, a custom channel <Name>__chn, or a standard platform event
 * such as LoginEventStream or BatchApexErrorEvent, whose API name carries no
 * __ suffix. Standard events are accepted by that rule, not from a list:
 * Salesforce adds some every release (Platform Events Developer Guide,
 * "Standard Platform Event Object List").
 */
static int check_event_name(const char *v, size_t base, char *msg, size_t msg_size)
{
        const char *name = v + 7;
        size_t n = base - 7, i;
        char q[96];

        if (name_ends_in(name, n, "__e") || name_ends_in(name, n, "__chn"))
                return 0;
        for (i = 0; i + 1 < n; i++) {
                if (name[i] == '_' && name[i + 1] == '_') {
                        snprintf(msg, msg_size, "unknown suffix: a custom platform event ends in __e "
                                 "(/event/Order_Placed__e), a custom channel in __chn "
                                 "(/event/MyChannel__chn); found %s", config_quote(v, q, sizeof(q)));
                        return -1;
                }
        }
        if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')) ||
            name[n - 1] == '_') {
                snprintf(msg, msg_size, "a platform event channel is /event/<Name>__e, "
                         "/event/<Name>__chn or a standard event like /event/LoginEventStream "
                         "(starts with a letter, does not end in _); found %s",
                         config_quote(v, q, sizeof(q)));
                return -1;
        }
        return 0;
}

/*
 * /data/ names: ChangeEvents, <Entity>ChangeEvent (Custom__ChangeEvent for
 * custom objects), or a custom channel <Name>__chn (Change Data Capture
 * Developer Guide, "Subscription Channels").
 */
static int check_data_name(const char *v, size_t base, char *msg, size_t msg_size)
{
        const char *name = v + 6;
        size_t n = base - 6;
        char q[96];

        if ((n == 12 && strncmp(name, "ChangeEvents", 12) == 0) ||
            name_ends_in(name, n, "ChangeEvent") || name_ends_in(name, n, "__chn"))
                return 0;
        snprintf(msg, msg_size, "a change event channel is /data/ChangeEvents, "
                 "/data/<Entity>ChangeEvent (like /data/AccountChangeEvent or "
                 "/data/Order__ChangeEvent) or a custom channel /data/<Name>__chn; found %s",
                 config_quote(v, q, sizeof(q)));
        return -1;
}

/*
 * Standard platform events documented for Streaming API (CometD) in the
 * Platform Events Developer Guide: "Real-Time Event Monitoring Objects" and
 * the "Standard Platform Event Object List". A name outside this list loads
 * with a warning (it may be newer than the list, or a custom event without
 * its __e).
 */
static const char *const standard_events[] = {
        "AIPredictionEvent", "AIUpdateRecordEvent", "ApiAnomalyEvent", "ApiEventStream",
        "AssetTokenEvent", "AsyncOperationEvent", "BatchApexErrorEvent", "BulkApiResultEvent",
        "CommerceDiagnosticEvent", "ConcurLongRunApexErrEvent", "ConsentEvent",
        "CredentialStuffingEvent", "FileEvent", "FlowExecutionErrorEvent", "FOStatusChangedEvent",
        "LightningUriEventStream", "ListViewEventStream", "LoginAsEventStream", "LoginEventStream",
        "LogoutEventStream", "MobileEmailEvent", "MobileEnforcedPolicyEvent", "MobileScreenshotEvent",
        "MobileTelephonyEvent", "OrderSummaryCreatedEvent", "OrderSumStatusChangedEvent",
        "PermissionSetEvent", "PlatformStatusAlertEvent", "ProcessExceptionEvent",
        "RemoteKeyCalloutEvent", "ReportAnomalyEvent", "ReportEventStream", "SessionHijackingEvent",
        "UriEventStream",
};

int config_channel_unknown_standard(const char *ch)
{
        size_t n = config_channel_base_len(ch), i;

        if (strncmp(ch, "/event/", 7) != 0 || name_ends_in(ch + 7, n - 7, "__e") ||
            name_ends_in(ch + 7, n - 7, "__chn"))
                return 0;
        for (i = 0; i < sizeof(standard_events) / sizeof(standard_events[0]); i++)
                if (strlen(standard_events[i]) == n - 7 && strncmp(ch + 7, standard_events[i], n - 7) == 0)
                        return 0;
        return 1;
}

static int check_channel(const char *v, char *msg, size_t msg_size)
{
        size_t i, n = 0, base = config_channel_base_len(v);
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
                         config_quote(v, q, sizeof(q)));
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
        if (strncmp(v, "/event/", 7) == 0 && check_event_name(v, base, msg, msg_size) == -1)
                return -1;
        if (strncmp(v, "/data/", 6) == 0 && check_data_name(v, base, msg, msg_size) == -1)
                return -1;
        if (v[base] == '?' && !v[base + 1]) {
                snprintf(msg, msg_size, "has an empty filter after ?");
                return -1;
        }
        return 0;
}

int config_check_topic_template(const char *topic, const char *channel, int allow_org, char *msg,
                                size_t msg_size)
{
        size_t i, literal = 0, j;
        int entity = 0, org = 0;

        for (i = 0; topic[i]; i++) {
                if (topic[i] == '{') {
                        for (j = i + 1; topic[j] && topic[j] != '}' && topic[j] != '{'; j++)
                                ;
                        if (topic[j] != '}') {
                                snprintf(msg, msg_size, "unbalanced braces: \"{\" without \"}\"");
                                return -1;
                        }
                        if (j - i - 1 == 3 && strncmp(topic + i + 1, "org", 3) == 0) {
                                if (!allow_org) {
                                        snprintf(msg, msg_size, "{org} needs orgs: (several orgs "
                                                 "in one file); a top-level route has no org id");
                                        return -1;
                                }
                                /* An org id is at most 64 characters. */
                                literal += 64;
                                org = 1;
                                i = j;
                                continue;
                        }
                        if (j - i - 1 != 6 || strncmp(topic + i + 1, "entity", 6) != 0) {
                                char name[40];
                                size_t k, n = j - i - 1 < 32 ? j - i - 1 : 32;

                                for (k = 0; k < n; k++) {
                                        unsigned char c = (unsigned char)topic[i + 1 + k];

                                        name[k] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
                                }
                                name[n] = '\0';
                                snprintf(msg, msg_size, "unknown placeholder {%s%s}; %s", name,
                                         j - i - 1 > n ? "..." : "",
                                         allow_org ? "the only ones are {entity} and {org}"
                                                   : "the only one is {entity}");
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
        if (entity && literal >= KAFKA_TOPIC_MAX) {
                snprintf(msg, msg_size, "leaves no room for {entity}: %zu characters besides it, "
                         "Kafka's limit for a topic name is %d", literal, KAFKA_TOPIC_MAX);
                return -1;
        }
        if (entity && strncmp(channel, "/data/", 6) != 0) {
                snprintf(msg, msg_size, "{entity} is only known on /data/ (Change Data Capture) "
                         "channels, not on %.*s", (int)strcspn(channel + 1, "/") + 2, channel);
                return -1;
        }
        if (org && !entity)
                literal -= 64; /* checked as written; the rendered name is checked again */
        return check_kafka_topic(topic, literal, msg, msg_size);
}

int config_channel_same(const char *a, const char *b)
{
        size_t la = config_channel_base_len(a), lb = config_channel_base_len(b);

        return la == lb && strncmp(a, b, la) == 0;
}

/*
 * Secrets
 */

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
 * The one list of secret-looking kafka.properties names: the value of a
 * property whose name holds one of these words, in any case, is shown
 * nowhere: not in the loader's echo of a line, not in a librdkafka error
 * (kafka_conf.c). librdkafka's secrets are sasl.password, ssl.key.password,
 * ssl.keystore.password, ssl.key.pem, sasl.oauthbearer.config,
 * sasl.oauthbearer.client.secret; the rest (jaas, ssl.key.location) err on
 * the side of hiding.
 */
static const char *const secret_property_words[] = { "password", "secret", "key.pem", "jaas",
                                                     "oauthbearer", "ssl.key" };

static int mentions_secret_property(const char *s, size_t len)
{
        size_t i;

        for (i = 0; i < sizeof(secret_property_words) / sizeof(secret_property_words[0]); i++)
                if (contains_ci(s, len, secret_property_words[i]))
                        return 1;
        return 0;
}

int config_property_is_secret(const char *name)
{
        return mentions_secret_property(name, strlen(name));
}

int config_text_mentions_secret(const char *s, size_t len)
{
        /* The table's secret keys: client_secret, password, refresh_token. */
        static const char *const key_words[] = { "secret", "passw", "token" };
        size_t i;

        if (mentions_secret_property(s, len))
                return 1;
        for (i = 0; i < sizeof(key_words) / sizeof(key_words[0]); i++)
                if (contains_ci(s, len, key_words[i]))
                        return 1;
        return 0;
}

/*
 * Names of enum values
 */

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

const char *config_route_error_name(enum route_error p)
{
        return enum_name(route_error_values, p);
}
