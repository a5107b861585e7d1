/*
 * The configuration: loaded from YAML with libyaml's document API, validated
 * against one table of known keys, `${VAR}` / `${VAR:-default}` expanded
 * from the environment. Errors name file:line:column and the key.
 */
#ifndef SFB_CONFIG_H
#define SFB_CONFIG_H

#include <stdio.h>
#include <stddef.h>

enum auth_flow {
        AUTH_PASSWORD,
        AUTH_JWT,
        AUTH_REFRESH_TOKEN,
        AUTH_CLIENT_CREDENTIALS
};

enum delivery { DELIVERY_EXACTLY_ONCE, DELIVERY_AT_LEAST_ONCE };

enum invalid_replay {
        INVALID_REPLAY_ALL,  /* resubscribe with -2: everything still retained */
        INVALID_REPLAY_NEW,  /* resubscribe with -1: only new events */
        INVALID_REPLAY_FAIL  /* stop, exit 3 */
};

enum route_error {
        ROUTE_ERROR_QUARANTINE, /* set the route aside, retry it alone, the others flow */
        ROUTE_ERROR_FAIL        /* stop, exit 3 */
};

/* Stored replay positions written while logged in to another org. */
enum org_change {
        ORG_CHANGE_FAIL,  /* stop, exit 3, naming both orgs */
        ORG_CHANGE_START  /* ignore them: each route uses its start */
};

enum route_key { ROUTE_KEY_REPLAY_ID, ROUTE_KEY_RECORD_ID, ROUTE_KEY_NONE, ROUTE_KEY_EVENT_UUID };
enum route_value { ROUTE_VALUE_DATA, ROUTE_VALUE_PAYLOAD, ROUTE_VALUE_MESSAGE };
/* Which bytes choose an event's partition (murmur2, as Kafka's Java clients). */
enum route_partition {
        ROUTE_PARTITION_CHANNEL,   /* the event's channel: the whole channel in one partition */
        ROUTE_PARTITION_RECORD_ID, /* the record ID (else the channel): one record in one partition */
        ROUTE_PARTITION_KEY,       /* the record key, by librdkafka's partitioner (as before) */
        ROUTE_PARTITION_ENTITY     /* a change event's entityName: every record of an entity,
                                    * merged changes included, in one partition */
};

/* Salesforce's replay sentinels, used as route start values. */
#define REPLAY_NEW (-1LL)
#define REPLAY_ALL (-2LL)

struct config_route {
        char *channel;          /* as configured, e.g. /topic/X?Type=A */
        char *topic;            /* may contain {entity} */
        enum route_key key;
        enum route_value value;
        enum route_partition partition_by; /* default record_id on /data/, else channel */
        long long start;        /* REPLAY_NEW (default) or REPLAY_ALL */
        int max_topics;         /* distinct topics a {entity} template may write to in a run */
        enum invalid_replay on_invalid_replay; /* route's own, else global */
        int line;               /* 1-based line of the route in the file */
        char *unit;             /* routes[].unit as written, or NULL */
        size_t org;             /* index into cfg->orgs of the org it belongs to */
        size_t unit_index;      /* index into cfg->units of its unit */
        char *label;            /* the channel as metrics label it: the channel itself, or
                                 * "<org>:<channel>" when the config has orgs: (metrics.c
                                 * renders that as org="…",channel="…") */
};

/* The salesforce: block of one org (the top level's, or an orgs[] entry's). */
struct config_sf {
        char *login_url;        /* default https://login.salesforce.com */
        char *api_version;      /* default "59.0" */
        enum auth_flow flow;
        char *client_id;
        char *client_secret;    /* secret */
        char *username;
        char *password;         /* secret */
        char *private_key_file;
        char *refresh_token;    /* secret */
        char *refresh_token_file; /* NULL: a rotated refresh token lives in memory only */
        char *audience;         /* JWT aud; set by the loader for every config */
        char *ca_file;          /* NULL: system trust store only */
        char *proxy;            /* NULL: none */
        char *allowed_hosts;    /* salesforce.allowed_hosts as written, or NULL: more hosts
                                 * instance_url may name (trust_instance_url()) */
        int stall_timeout_s;    /* default 150 */
        int limit_backoff_s;    /* salesforce.limit_backoff_s, default 60: first wait after
                                 * "too busy" or an org limit, doubling to 8x */
        int limits_poll_s;      /* salesforce.limits_poll_s, default 300; 0: off */
        size_t max_response_bytes; /* salesforce.max_response_bytes, default 10 MiB:
                                    * the ceiling of one HTTP response body */
};

/*
 * An org: the top level's salesforce: block is org "default" (index 0 when
 * the file has top-level routes); each orgs[] entry is one more.
 */
struct config_org {
        char *id;               /* "default" for the top level; orgs[].id */
        struct config_sf sf;    /* for "default" a copy of cfg->sf's pointers (not owned) */
        int line;               /* 1-based line of the orgs[] entry; 0 for "default" */
};

/*
 * A unit of work: the routes one replica owns together. Its id is the org
 * id ("default" for the top level), or "<org>.<unit>" for routes that name
 * a unit (top-level routes with unit: U give unit id U). Its routes are
 * contiguous in cfg->routes (the loader groups them, keeping file order
 * within a unit and units in order of first appearance).
 */
struct config_unit {
        char *id;
        size_t org;             /* index into cfg->orgs */
        size_t first_route;     /* index into cfg->routes */
        size_t nroutes;
        int partition;          /* coordination.partitions override, else -1 */
};

/* coordination: present = this instance is one member of a replica group (HA.md). */
struct config_coordination {
        int enabled;                /* the block is present */
        char *topic;                /* default "sfbridge.<name>.units" */
        char *group;                /* default "sfbridge-<name>-units" */
        int session_timeout_ms;     /* default 6000 */
        int heartbeat_interval_ms;  /* default 1000 */
        int max_poll_interval_ms;   /* default 30000 */
        int claim_grace_ms;         /* default 0 */
        struct config_property *partitions; /* unit id -> partition overrides, as written */
        size_t npartitions;
};

struct config_property {
        char *name;
        char *value;
};

struct config {
        char *path;             /* the file it was loaded from */
        char *name;             /* default "sfbridge" */
        struct config_sf sf;
        struct {
                char *bootstrap_servers;
                enum delivery delivery;         /* default exactly_once */
                char *replay_topic;             /* default "sfbridge.replay" */
                char *dead_letter_topic;        /* NULL: a poison event stops its route */
                int max_in_flight;              /* default 10000 */
                size_t max_in_flight_bytes;     /* default 64 MiB: bytes awaiting Kafka */
                struct config_property *properties;
                size_t nproperties;
        } kafka;
        enum invalid_replay on_invalid_replay;  /* default all */
        enum route_error on_route_error;        /* default quarantine */
        enum org_change on_org_change;          /* default fail */
        char *metrics_listen;   /* host:port; default 127.0.0.1:9464 */
        char *metrics_token;    /* secret: bearer token /metrics requires; NULL: none */
        char *metrics_allow;    /* CIDR list of peers let in; NULL: every peer */
        int metrics_max_series; /* label sets per data-derived metric family; default 200 */
        struct config_route *routes;  /* every org's, grouped by unit */
        size_t nroutes;
        struct config_coordination coord;
        struct config_org *orgs;      /* at least one; orgs[0] is "default" when the file has
                                       * top-level salesforce:/routes: */
        size_t norgs;
        int has_orgs;                 /* the file has an orgs: list: sf.org headers, {org},
                                       * org-qualified replay keys and metric labels */
        struct config_unit *units;    /* at least one */
        size_t nunits;
        /* Set only in a unit's view (config_unit_view()), NULL in a loaded config. */
        const char *unit;             /* the unit's id */
        const char *org_id;           /* its org's id; NULL for the default org */
        char **warnings;        /* file:line:column: key: message, for the caller to log */
        size_t nwarnings;
};

/**
 * @brief Load and validate @p path.
 * @returns a new config, free with config_destroy(), or NULL with the first
 *          error in errstr as "file:line:column: key: message" (line and
 *          column 1-based; the offending line echoed on a second line).
 */
struct config *config_load(const char *path, char *errstr, size_t errstr_size);

/**
 * @brief Load and validate YAML held in memory, exactly as config_load()
 *        would if @p path held @p text (used by tests and the fuzzer).
 * @param path  only used in messages and stored in cfg->path.
 * @returns a new config, free with config_destroy(), or NULL with errstr set.
 * @remark text is borrowed; it need not be NUL-terminated.
 */
struct config *config_load_string(const char *path, const char *text, size_t len,
                                  char *errstr, size_t errstr_size);

/**
 * @returns 1 when a kafka.properties entry named @p name holds a secret
 *          (sasl.password, ssl.key.password, sasl.oauthbearer.client.secret,
 *          ssl.key.pem, …), so its value must never be logged; else 0.
 * @remark The one list: the loader's echo, kafka_conf's errors and anything
 *         else that could show a property's value ask this.
 */
int config_property_is_secret(const char *name);

/** @brief Free everything; accepts NULL. */
void config_destroy(struct config *cfg);

/** @brief Print every known key with its type, default and one-line doc (README reference, `--help`). */
void config_print_reference(FILE *fp);

/** @returns the route's metrics label (rt->label, or the channel when the loader set none). */
static inline const char *config_route_label(const struct config_route *rt)
{
        return rt->label ? rt->label : rt->channel;
}

/**
 * @brief Fill *view with what one unit runs on: a shallow copy of cfg whose
 *        sf is the unit's org's, whose routes are the unit's slice of
 *        cfg->routes (the same objects: pointers into cfg->routes), and
 *        whose unit/org_id say which. Nothing is allocated: view lives as
 *        long as cfg and is never passed to config_destroy().
 * @remark With one unit "default" in the default org and no coordination:,
 *         the view equals cfg apart from unit ("default").
 */
void config_unit_view(const struct config *cfg, size_t unit, struct config *view);

/** @returns the route whose channel is @p channel (ignoring a `?filter` suffix on either side), or NULL. */
const struct config_route *config_find_route(const struct config *cfg, const char *channel);

const char *config_flow_name(enum auth_flow flow);

/**
 * @returns the JWT audience Salesforce expects for @p login_url (a static
 *          string): https://test.salesforce.com for test.salesforce.com and a
 *          sandbox My Domain (*.sandbox.my.salesforce.com), else
 *          https://login.salesforce.com.
 */
const char *config_default_audience(const char *login_url);

/**
 * @returns 1 when @p login_url is login.salesforce.com or test.salesforce.com,
 *          which serve no client_credentials flow (only a My Domain does).
 */
int config_login_is_generic(const char *login_url);
const char *config_delivery_name(enum delivery d);
const char *config_invalid_replay_name(enum invalid_replay p);
const char *config_route_error_name(enum route_error p);

/**
 * @brief Compare two loads key by key (the key table: a key added later is
 *        compared too). Routes count as one key, "routes", and so do
 *        "kafka.properties".
 * @param fn  called with the path of each key whose value differs; may be NULL.
 * @returns the number of keys that differ.
 * @remark names only: nothing here reads a value out, so secrets stay put.
 */
size_t config_diff(const struct config *a, const struct config *b,
                   void (*fn)(const char *path, void *arg), void *arg);

/** @returns 1 for the keys a login reads (salesforce.auth.*): the ones SIGHUP applies in place. */
int config_key_is_credential(const char *path);

/**
 * @brief Swap one scalar key's value between a and b (a string moves as its
 *        pointer, so each config keeps owning what it holds).
 * @returns 0, or -1 for an unknown key, a route key, routes or kafka.properties.
 */
int config_swap_value(struct config *a, struct config *b, const char *path);

#endif
