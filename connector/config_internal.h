/*
 * Private to the configuration module (config.c, config_keys.c,
 * config_diag.c): the key table's types, the loader's state, and what each
 * of the three files offers the other two. Nothing outside connector/config*.c
 * includes this; everyone else uses config.h.
 */
#ifndef SFB_CONFIG_INTERNAL_H
#define SFB_CONFIG_INTERNAL_H

#include <stddef.h>
#include <yaml.h>

#include "config.h"

#define PATH_MAX_LEN 256 /* a key path as shown in messages, e.g. routes[3].topic */
#define MSG_MAX      512 /* one message, before file:line:column and the echo */
#define CONFIG_DEPTH_MAX 64 /* flow nesting ([ {): the deepest key is 5 levels down */

/* The number of entries in config_keys[]; config_keys.c checks it. */
#define CONFIG_NKEYS 59

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

/*
 * The key table
 */

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
        int is_size;            /* KEY_INT stored in a size_t (else int or long long, by size) */
        size_t offset, size;
        int (*check)(const char *value, char *msg, size_t msg_size);
        /* must_read files: what run would make of the contents; msg names the file */
        int (*check_file)(const char *path, char *msg, size_t msg_size);
        const char *doc;
};

/* The path prefix of a route's keys in the table: "routes[].topic". */
#define ROUTE_PREFIX "routes[]"
/* An orgs[] entry's keys: "orgs[].id"; its salesforce: block and routes use
 * the top level's keys ("salesforce.*", "routes[].*"). */
#define ORG_PREFIX "orgs[]"

/*
 * The loader's state, shared with config_diag.c (which reports against the
 * text and the hidden spans).
 */

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
        struct seen seen[CONFIG_NKEYS];
        struct seen *route_seen;        /* nroutes * CONFIG_NKEYS, only routes[] keys used */
        yaml_mark_t *route_marks;       /* where each route's mapping starts */
        char (*route_names)[32];        /* how messages name each route: routes[2], orgs[1].routes[0] */
        size_t routes_cap;
        /* orgs[]: each entry's salesforce: block is walked into a scratch config
         * (the salesforce.* keys live in struct config) and moved to its org. */
        struct seen *org_seen;          /* norgs_seen * CONFIG_NKEYS */
        yaml_mark_t *org_marks;
        struct config *org_scratch;     /* one per orgs[] entry */
        size_t norg_entries;
        struct config_org *org_cur;     /* the entry being walked */
        size_t org_cur_index;           /* its index in cfg->orgs, counting "default" as 0 */
        int top_routes;                 /* the top level has routes: */
        size_t top_routes_n;            /* ... this many */
        struct hidden *hidden;
        size_t nhidden, hidden_cap;
        unsigned char *visited;         /* prescan: NODE_* flags per document node */
        /* The config file's own mode (config_load), for the warning on a
         * literal secret that other users can read; 0: not a file. */
        unsigned file_mode;
        int literal_secret;             /* a secret key's value is written in the file */
        yaml_mark_t literal_mark;
        char literal_key[PATH_MAX_LEN];
};

#define NODE_SHOWN  1                   /* reached under a key that is not secret */
#define NODE_HIDDEN 2                   /* reached under an unknown key (never echoed) */
#define NODE_SECRET 4                   /* reached under a secret key */

/*
 * config_keys.c: the table of known keys and what a valid value is.
 * Needs nothing else of the module (kafka_conf links it for the secret list).
 */

/** The table, in reference order: a parent before its children. */
extern const struct key_def config_keys[CONFIG_NKEYS];

/** @returns the key whose path is @p path ("routes[].topic" for a route's), or NULL. */
const struct key_def *config_key_find(const char *path);
/** @returns the index of @p kd in config_keys[] (for struct seen arrays). */
size_t config_key_index(const struct key_def *kd);
/** @returns 1 for the keys of one route (routes[].*). */
int config_key_is_route(const struct key_def *kd);
/** @returns the last component of a key path ("topic" for "routes[].topic"). */
const char *config_key_leaf(const char *path);
/** @returns 1 when @p path is a direct child of @p parent ("" for the top level). */
int config_key_is_child(const char *path, const char *parent);

/** @returns @p out holding @p v quoted for a message, escaped, cut at 64 characters; never a secret. */
const char *config_quote(const char *v, char *out, size_t out_size);
/** @returns "a string", "an integer", ... for "expected X" messages. */
const char *config_type_name(enum key_type t);
/** @brief Writes the names of @p values as "a, b, c" into @p out. */
void config_enum_list(const struct enum_value *values, char *out, size_t out_size);

/**
 * @brief Checks a route's topic template, which needs the route's channel
 *        for {entity}. @returns 0, or -1 with @p msg.
 */
int config_check_topic_template(const char *topic, const char *channel, int allow_org, char *msg,
                                size_t msg_size);
/**
 * @returns the key of @p path as config_key_find(), also for the keys inside
 *          an orgs[] entry: "orgs[].salesforce.auth.flow" is
 *          "salesforce.auth.flow", "orgs[].routes[].topic" is "routes[].topic".
 */
const struct key_def *config_key_find_any(const char *path);
/** @returns 0 for a unit or org id ([a-zA-Z0-9_-], 1..64, not "default"), else -1 with @p msg. */
int config_check_unit_id(const char *v, char *msg, size_t msg_size);
/** @returns the length of @p ch without its "?filter" suffix. */
size_t config_channel_base_len(const char *ch);
/**
 * @returns 1 when @p ch is an /event/ channel without the __e or __chn
 *          suffix whose name is not a standard event sfbridge knows.
 */
int config_channel_unknown_standard(const char *ch);
/** @returns 1 when @p a and @p b name the same channel (filters ignored). */
int config_channel_same(const char *a, const char *b);

/**
 * @returns 1 when @p len bytes of text (a line of a file that libyaml could
 *          not parse) mention a secret-looking key: a secret kafka.properties
 *          name (the list of config_property_is_secret()) or one of the
 *          table's secret keys.
 */
int config_text_mentions_secret(const char *s, size_t len);

/*
 * config_diag.c: every message of the loader. Errors are
 * "file:line:column: key: message" plus the offending line echoed with
 * secrets hidden; the first error wins and sets ld->failed.
 */

void config_error(struct loader *ld, const yaml_mark_t *mark, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/** @brief As config_error(), without the echo (where the line would say nothing). */
void config_error_noecho(struct loader *ld, const yaml_mark_t *mark, const char *key,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void config_oom(struct loader *ld);
/** @brief Appends "file:line:column: key: message" to cfg->warnings (one line, no echo). */
void config_warn(struct loader *ld, const yaml_mark_t *mark, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/** @brief "unknown key; did you mean X?" for @p key met under @p parent. */
void config_unknown_key(struct loader *ld, const yaml_mark_t *mark, const char *display,
                        const char *key, const char *parent);
/** @brief Reports why libyaml's parser failed, at the most useful line. */
void config_yaml_failure(struct loader *ld, yaml_parser_t *parser);

/**
 * @brief Records the span of every value that must never be echoed, before
 *        any error can be reported; sets ld->prescanned.
 * @returns 0, or -1 when out of memory (nothing reported yet).
 */
int config_prescan(struct loader *ld, yaml_node_t *root);

/**
 * @returns 1 when @p node is the value of a secret key and of one that is
 *          not (an anchor & under one, an alias * under the other): its
 *          value would be shown as the other key's. Needs config_prescan().
 */
int config_node_shares_secret(const struct loader *ld, const yaml_node_t *node);

/**
 * @brief Refuses YAML nested deeper than CONFIG_DEPTH_MAX flow levels ([ {)
 *        by a cheap scan of the raw text, before libyaml (whose scanner is
 *        quadratic in the nesting: 100,000 levels take 44 s) sees it.
 * @returns 0, or -1 with the error reported at the line and column.
 */
int config_check_depth(struct loader *ld);

#endif
