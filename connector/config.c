/*
 * The configuration loader. Reads the YAML routing file with libyaml's
 * document API, checks every key against the table of config_keys.c (type,
 * default, the auth flows that need it) and fills a struct config. Every
 * error goes through config_diag.c, which names file:line:column and the
 * key and echoes the offending line with secret values hidden.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config_internal.h"
#include "expand.h"
#include "kafka_conf.h"

/* A routing file is a few kilobytes; a megabyte is a wrong path. */
#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_ROUTES_MAX 1000
#define CONFIG_PROPERTIES_MAX 1000

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

static const char *flow_name_of(unsigned flow)
{
        return config_flow_name((enum auth_flow)flow);
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

        if (kd->is_size)
                *(size_t *)p = (size_t)v;
        else if (kd->size == sizeof(long long))
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
                        config_error(ld, mark, display, "%s", msg);
                        return -1;
                }
                if (!(copy = strdup(text))) {
                        config_oom(ld);
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
                        config_error(ld, mark, display, "expected an integer, found %s", config_quote(text, q, sizeof(q)));
                        return -1;
                }
                if (errno == ERANGE || v < kd->min || v > kd->max) {
                        config_error(ld, mark, display, "must be between %lld and %lld, found %s",
                                     kd->min, kd->max, config_quote(text, q, sizeof(q)));
                        return -1;
                }
                store_int(base, kd, v);
                return 0;
        case KEY_ENUM:
                if (!(ev = enum_find(kd->values, text))) {
                        config_enum_list(kd->values, list, sizeof(list));
                        config_error(ld, mark, display, "unknown value %s; allowed: %s",
                                     config_quote(text, q, sizeof(q)), list);
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
                config_error(ld, &node->start_mark, display, "%s", msg);
                return NULL;
        }
        if (strlen(s) != len) {
                config_error(ld, &node->start_mark, display, "holds a NUL character");
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
                        config_enum_list(kd->values, list, sizeof(list));
                        config_error(ld, type_mark(key, value), display, "expected one of: %s; found %s",
                                     list, node_kind(value));
                } else {
                        config_error(ld, type_mark(key, value), display, "expected %s, found %s",
                                     config_type_name(kd->type), node_kind(value));
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
                        config_error(ld, &value->start_mark, display, "must not be empty%s",
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
        rd_kafka_conf_t *scratch = NULL;
        yaml_node_pair_t *pair;
        size_t n, i;

        if (map->type != YAML_MAPPING_NODE) {
                if (!is_null(map))
                        config_error(ld, type_mark(key, map), display,
                                     "expected a mapping of name: value, found %s", node_kind(map));
                return;
        }
        n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
        if (n > CONFIG_PROPERTIES_MAX) {
                config_error(ld, &map->start_mark, display, "more than %d properties", CONFIG_PROPERTIES_MAX);
                return;
        }
        /* Each property goes through librdkafka's own rd_kafka_conf_set(), in
         * file order, as kafka_conf_new() will hand it over at run time: a
         * misspelled name or a bad value fails here, at its line, in `check`
         * as in `run`. */
        if (n && (!(cfg->kafka.properties = calloc(n, sizeof(*cfg->kafka.properties))) ||
                  !(scratch = rd_kafka_conf_new()))) {
                config_oom(ld);
                goto out;
        }
        for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
                yaml_node_t *k = yaml_document_get_node(&ld->doc, pair->key);
                yaml_node_t *v = yaml_document_get_node(&ld->doc, pair->value);
                struct config_property *prop = &cfg->kafka.properties[cfg->kafka.nproperties];
                char path[PATH_MAX_LEN], msg[MSG_MAX];
                rd_kafka_conf_res_t res;
                const char *name;

                if (k->type != YAML_SCALAR_NODE || !k->data.scalar.length ||
                    strlen((const char *)k->data.scalar.value) != k->data.scalar.length) {
                        config_error(ld, &k->start_mark, display, "property names must be non-empty strings");
                        goto out;
                }
                name = (const char *)k->data.scalar.value;
                snprintf(path, sizeof(path), "%.100s.%.150s", display, name);
                for (i = 0; i < cfg->kafka.nproperties; i++) {
                        if (strcmp(cfg->kafka.properties[i].name, name) == 0) {
                                yaml_node_t *first = yaml_document_get_node(
                                        &ld->doc, map->data.mapping.pairs.start[i].key);

                                config_error(ld, &k->start_mark, path, "duplicate key (first at line %zu)",
                                             first->start_mark.line + 1);
                                goto out;
                        }
                }
                if (v->type != YAML_SCALAR_NODE) {
                        config_error(ld, type_mark(k, v), path,
                                     "expected a single value (text, number or boolean), found %s",
                                     node_kind(v));
                        goto out;
                }
                if (is_null(v)) {
                        config_error(ld, &k->start_mark, path, "has no value");
                        goto out;
                }
                if (!(prop->name = strdup(name))) {
                        config_oom(ld);
                        goto out;
                }
                cfg->kafka.nproperties++;
                if (!(prop->value = expand_node(ld, v, path)))
                        goto out;
                if (kafka_conf_check_managed(prop->name, prop->value, msg, sizeof(msg)) == -1) {
                        config_error(ld, &v->start_mark, path, "%s", msg);
                        goto out;
                }
                res = kafka_conf_try(scratch, prop->name, prop->value, msg, sizeof(msg));
                if (res != RD_KAFKA_CONF_OK) {
                        /* Say whose words these are, once. */
                        config_error(ld, res == RD_KAFKA_CONF_UNKNOWN ? &k->start_mark : &v->start_mark,
                                     path, "%s%s", strstr(msg, "librdkafka") ? "" : "librdkafka: ", msg);
                        goto out;
                }
        }
out:
        if (scratch)
                rd_kafka_conf_destroy(scratch);
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
                        config_error(ld, type_mark(key, list), display,
                                     "expected a list of routes (- channel: ..., topic: ...), found %s",
                                     node_kind(list));
                return;
        }
        n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
        if (n > CONFIG_ROUTES_MAX) {
                config_error(ld, &list->start_mark, display, "more than %d routes",
                             CONFIG_ROUTES_MAX);
                return;
        }
        if (n == 0)
                return;
        cfg->routes = calloc(n, sizeof(*cfg->routes));
        ld->route_seen = calloc(n * CONFIG_NKEYS, sizeof(*ld->route_seen));
        ld->route_marks = calloc(n, sizeof(*ld->route_marks));
        if (!cfg->routes || !ld->route_seen || !ld->route_marks) {
                config_oom(ld);
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
                        config_error(ld, &node->start_mark, path,
                                     "expected a mapping (channel: ..., topic: ...), found %s",
                                     is_null(node) ? "nothing" : node_kind(node));
                        return;
                }
                walk_map(ld, node, ROUTE_PREFIX, path, rt, ld->route_seen + (cfg->nroutes - 1) * CONFIG_NKEYS);
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
                        config_error(ld, &k->start_mark, display_parent[0] ? display_parent : NULL,
                                     "keys must be plain words, found %s", node_kind(k));
                        return;
                }
                key = (const char *)k->data.scalar.value;
                snprintf(path, sizeof(path), "%.100s%s%.150s", parent, parent[0] ? "." : "", key);
                snprintf(display, sizeof(display), "%.100s%s%.150s", display_parent,
                         display_parent[0] ? "." : "", key);
                if (!(kd = config_key_find(path))) {
                        config_unknown_key(ld, &k->start_mark, display, key, parent);
                        return;
                }
                sn = &seen[config_key_index(kd)];
                if (sn->present) {
                        config_error(ld, &k->start_mark, display,
                                     "duplicate key (first at line %zu)", sn->key_mark.line + 1);
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
                                config_error(ld, type_mark(k, v), display, "expected a mapping, found %s",
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
                if ((kd = config_key_find(parent)) && ld->seen[config_key_index(kd)].present)
                        return &ld->seen[config_key_index(kd)].key_mark;
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
                config_error(ld, &sn->value_mark, kd->path, "cannot read %s: %s", file, strerror(errno));
                return -1;
        }
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
                config_error(ld, &sn->value_mark, kd->path, "cannot read %s: %s", file, strerror(EISDIR));
                rc = -1;
        } else if (read(fd, &byte, 1) == -1) {
                config_error(ld, &sn->value_mark, kd->path, "cannot read %s: %s", file, strerror(errno));
                rc = -1;
        }
        close(fd);
        return rc;
}

/* The file's contents as run will read them (a JWT key is loaded, never shown). */
static int check_file_contents(struct loader *ld, const struct key_def *kd, const char *file,
                               const struct seen *sn)
{
        char msg[MSG_MAX];

        if (kd->check_file(file, msg, sizeof(msg)) == 0)
                return 0;
        config_error(ld, &sn->value_mark, kd->path, "%s", msg);
        return -1;
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
        const struct seen *flow_seen =
                &ld->seen[config_key_index(config_key_find("salesforce.auth.flow"))];
        size_t i;

        for (i = 0; i < CONFIG_NKEYS && !ld->failed; i++) {
                const struct key_def *kd = &config_keys[i];
                struct seen *sn = &ld->seen[i];
                unsigned flow = (unsigned)cfg->sf.flow;
                int need, used;

                if (config_key_is_route(kd) || kd->type == KEY_LIST)
                        continue;
                need = (kd->required & REQUIRED) ||
                       (flow_seen->has_value && (kd->required & FLOW(flow)));
                used = !(kd->required & FLOWS_ALL) || (kd->required & FLOW(flow));
                if (need && !sn->present) {
                        const yaml_mark_t *mark = parent_mark(ld, kd->path);

                        /* At the top level there is no line to show. */
                        if (mark == &ld->root_mark)
                                config_error_noecho(ld, mark, kd->path, "required but missing");
                        else if (kd->required & REQUIRED)
                                config_error(ld, mark, kd->path, "required but missing");
                        else
                                config_error(ld, mark, kd->path, "required by flow %s but missing",
                                             flow_name_of(flow));
                        return;
                }
                if (need && !sn->has_value) {
                        if (kd->required & REQUIRED)
                                config_error(ld, &sn->key_mark, kd->path, "%s",
                                             sn->empty ? "is empty" : "has no value");
                        else
                                config_error(ld, &sn->key_mark, kd->path,
                                             "required by flow %s but %s", flow_name_of(flow),
                                             sn->empty ? "empty" : "has no value");
                        return;
                }
                if (!used && sn->has_value) {
                        config_warn(ld, &sn->key_mark, kd->path, "not used by flow %s (ignored)",
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
                if (kd->check_file && sn->has_value &&
                    check_file_contents(ld, kd, *(char **)field_at(cfg, kd), sn) == -1)
                        return;
        }
}

/*
 * What Salesforce's login hosts allow: the JWT audience follows the login
 * URL unless given, and client_credentials is served by a My Domain only
 * (login and test answer "request not supported on this domain").
 */
static void check_auth(struct loader *ld)
{
        struct config *cfg = ld->cfg;
        const struct seen *url_seen = &ld->seen[config_key_index(config_key_find("salesforce.login_url"))];
        const struct seen *flow_seen = &ld->seen[config_key_index(config_key_find("salesforce.auth.flow"))];

        if (cfg->sf.flow == AUTH_CLIENT_CREDENTIALS && config_login_is_generic(cfg->sf.login_url)) {
                const char *what = "client_credentials needs the org's My Domain login URL "
                                   "(https://<MyDomain>.my.salesforce.com): Salesforce answers "
                                   "\"request not supported on this domain\" on login.salesforce.com "
                                   "and test.salesforce.com";

                if (url_seen->has_value)
                        config_error(ld, &url_seen->value_mark, "salesforce.login_url", "%s", what);
                else
                        config_error(ld, &flow_seen->value_mark, "salesforce.login_url",
                                     "is %s by default; %s", cfg->sf.login_url, what);
                return;
        }
        if (!cfg->sf.audience && !(cfg->sf.audience = strdup(config_default_audience(cfg->sf.login_url))))
                config_oom(ld);
}

static void check_routes(struct loader *ld)
{
        struct config *cfg = ld->cfg;
        const struct seen *routes_seen = &ld->seen[config_key_index(config_key_find("routes"))];
        size_t r, i;
        char msg[MSG_MAX];

        if (!routes_seen->present) {
                config_error_noecho(ld, &ld->root_mark, "routes", "required but missing");
                return;
        }
        if (cfg->nroutes == 0) {
                config_error(ld, &routes_seen->key_mark, "routes",
                             "no routes: add at least one (- channel: ..., topic: ...)");
                return;
        }
        /* The replay topic is compacted and read back as replay records: an
         * event or a dead letter written there would be read as one. */
        i = config_key_index(config_key_find("kafka.dead_letter_topic"));
        if (cfg->kafka.dead_letter_topic && cfg->kafka.replay_topic &&
            !strcmp(cfg->kafka.dead_letter_topic, cfg->kafka.replay_topic)) {
                config_error(ld, &ld->seen[i].value_mark, "kafka.dead_letter_topic",
                             "is the replay topic (kafka.replay_topic); use a topic of its own");
                return;
        }
        for (r = 0; r < cfg->nroutes && !ld->failed; r++) {
                struct config_route *rt = &cfg->routes[r];
                struct seen *seen = ld->route_seen + r * CONFIG_NKEYS;
                char display[PATH_MAX_LEN];

                for (i = 0; i < CONFIG_NKEYS; i++) {
                        const struct key_def *kd = &config_keys[i];

                        if (!config_key_is_route(kd))
                                continue;
                        snprintf(display, sizeof(display), "routes[%zu].%s", r,
                                 config_key_leaf(kd->path));
                        if ((kd->required & REQUIRED) && !seen[i].has_value) {
                                if (!seen[i].present) {
                                        config_error(ld, &ld->route_marks[r], display, "required but missing");
                                } else {
                                        config_error(ld, &seen[i].key_mark, display, "%s",
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
                if (config_check_topic_template(rt->topic, rt->channel, msg, sizeof(msg)) == -1) {
                        config_error(ld, &seen[config_key_index(config_key_find("routes[].topic"))].value_mark, display,
                                     "%s", msg);
                        return;
                }
                if (cfg->kafka.replay_topic && !strcmp(rt->topic, cfg->kafka.replay_topic)) {
                        config_error(ld, &seen[config_key_index(config_key_find("routes[].topic"))].value_mark,
                                     display, "is the replay topic (kafka.replay_topic); events need "
                                     "a topic of their own");
                        return;
                }
                for (i = 0; i < r; i++) {
                        if (config_channel_same(cfg->routes[i].channel, rt->channel)) {
                                snprintf(display, sizeof(display), "routes[%zu].channel", r);
                                config_error(ld, &seen[config_key_index(config_key_find("routes[].channel"))].value_mark,
                                             display, "duplicate channel %.*s (first at line %d)",
                                             (int)config_channel_base_len(rt->channel), rt->channel,
                                             cfg->routes[i].line);
                                return;
                        }
                }
                if (config_channel_unknown_standard(rt->channel)) {
                        snprintf(display, sizeof(display), "routes[%zu].channel", r);
                        config_warn(ld, &seen[config_key_index(config_key_find("routes[].channel"))].value_mark,
                                    display,
                                    "%.*s is not a standard platform event sfbridge knows; a custom "
                                    "platform event ends in __e, a custom channel in __chn",
                                    (int)config_channel_base_len(rt->channel), rt->channel);
                }
                /* partition_by's default depends on the channel: a change event
                 * stream is ordered per record, every other stream as a whole. */
                i = config_key_index(config_key_find("routes[].partition_by"));
                if (!seen[i].has_value)
                        rt->partition_by = strncmp(rt->channel, "/data/", 6) == 0
                                                   ? ROUTE_PARTITION_RECORD_ID
                                                   : ROUTE_PARTITION_CHANNEL;
                else if (rt->partition_by == ROUTE_PARTITION_KEY && rt->key == ROUTE_KEY_NONE) {
                        snprintf(display, sizeof(display), "routes[%zu].partition_by", r);
                        config_error(ld, &seen[i].value_mark, display,
                                     "key needs a record key, and this route has key: none "
                                     "(use channel or record_id)");
                        return;
                } else if (rt->partition_by == ROUTE_PARTITION_ENTITY &&
                           strncmp(rt->channel, "/data/", 6) != 0) {
                        snprintf(display, sizeof(display), "routes[%zu].partition_by", r);
                        config_error(ld, &seen[i].value_mark, display,
                                     "entity needs change events, which only /data/ channels carry "
                                     "(use channel, record_id or key)");
                        return;
                }
                if (rt->key == ROUTE_KEY_EVENT_UUID && strncmp(rt->channel, "/event/", 7) != 0) {
                        snprintf(display, sizeof(display), "routes[%zu].key", r);
                        config_warn(ld, &seen[config_key_index(config_key_find("routes[].key"))].value_mark,
                                    display,
                                    "only platform events (/event/) carry an EventUuid; the "
                                    "records of %.*s will have no key",
                                    (int)config_channel_base_len(rt->channel), rt->channel);
                }
                if (rt->key == ROUTE_KEY_RECORD_ID &&
                    (strncmp(rt->channel, "/event/", 7) == 0 || strncmp(rt->channel, "/u/", 3) == 0)) {
                        snprintf(display, sizeof(display), "routes[%zu].key", r);
                        config_warn(ld, &seen[config_key_index(config_key_find("routes[].key"))].value_mark,
                                    display,
                                    "%s events carry no record ID; their records will have no key",
                                    rt->channel[1] == 'e' ? "platform" : "generic");
                }
        }
}

/*
 * Loading
 */

static void load_document(struct loader *ld)
{
        yaml_parser_t parser;
        yaml_document_t extra;
        yaml_node_t *root, *extra_root;

        if (!yaml_parser_initialize(&parser)) {
                config_oom(ld);
                return;
        }
        yaml_parser_set_input_string(&parser, (const unsigned char *)ld->text, ld->len);
        if (!yaml_parser_load(&parser, &ld->doc)) {
                config_yaml_failure(ld, &parser);
                yaml_parser_delete(&parser);
                return;
        }
        ld->have_doc = 1;
        root = yaml_document_get_root_node(&ld->doc);
        if (!root) {
                yaml_mark_t start = { 0, 0, 0 };

                config_error_noecho(ld, &start, NULL, "the file is empty; expected a mapping with "
                                    "salesforce, kafka and routes");
                yaml_parser_delete(&parser);
                return;
        }
        /* A second document is almost always a stray "---". */
        if (!yaml_parser_load(&parser, &extra)) {
                config_yaml_failure(ld, &parser);
                yaml_parser_delete(&parser);
                return;
        }
        extra_root = yaml_document_get_root_node(&extra);
        if (extra_root)
                config_error(ld, &extra_root->start_mark, NULL,
                             "a second YAML document: the file must hold exactly one");
        yaml_document_delete(&extra);
        yaml_parser_delete(&parser);
        if (ld->failed)
                return;

        ld->root_mark = root->start_mark;
        if (config_prescan(ld, root) == -1) {
                config_oom(ld);
                return;
        }
        if (root->type != YAML_MAPPING_NODE) {
                config_error(ld, &root->start_mark, NULL,
                             "the top level must be a mapping (name, salesforce, kafka, on_invalid_replay, "
                             "metrics, routes), found %s", node_kind(root));
                return;
        }
        walk_map(ld, root, "", "", ld->cfg, ld->seen);
        if (!ld->failed)
                check_globals(ld);
        if (!ld->failed)
                check_auth(ld);
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
        free(cfg->sf.refresh_token_file);
        free(cfg->sf.audience);
        free(cfg->sf.ca_file);
        free(cfg->sf.proxy);
        free(cfg->kafka.bootstrap_servers);
        free(cfg->kafka.replay_topic);
        free(cfg->kafka.dead_letter_topic);
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

const struct config_route *config_find_route(const struct config *cfg, const char *channel)
{
        size_t i;

        for (i = 0; i < cfg->nroutes; i++)
                if (config_channel_same(cfg->routes[i].channel, channel))
                        return &cfg->routes[i];
        return NULL;
}
