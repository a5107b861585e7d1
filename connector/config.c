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
#include "secure_file.h"

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

/*
 * A value that is a secret's and another key's at once (`password: &pw x`
 * then `username: *pw`) would be shown as the other key's: in an error, in
 * `check`'s plan, in the log. Refused, at the key, without the value.
 */
static int refuse_shared_secret(struct loader *ld, const yaml_node_t *key, const yaml_node_t *value,
                                int secret, const char *display)
{
        /* Secret keys may share one (two orgs, one password): the other key is refused. */
        if (secret || !config_node_shares_secret(ld, value))
                return 0;
        config_error(ld, key ? &key->start_mark : NULL, display,
                     "shares its value with a secret key (anchor & and alias *); only secret keys "
                     "may share a secret: write the value out");
        return -1;
}

/* Remembers the first secret written in the file itself rather than as ${VAR}. */
static void note_literal_secret(struct loader *ld, const yaml_node_t *value, const char *display)
{
        if (ld->literal_secret || strstr((const char *)value->data.scalar.value, "${"))
                return;
        ld->literal_secret = 1;
        ld->literal_mark = value->start_mark;
        snprintf(ld->literal_key, sizeof(ld->literal_key), "%s", display);
}

static void set_scalar(struct loader *ld, void *base, const struct key_def *kd, struct seen *sn,
                       const yaml_node_t *key, const yaml_node_t *value, const char *display)
{
        char *text;

        sn->value_mark = value->start_mark;
        if (refuse_shared_secret(ld, key, value, kd->secret, display) == -1)
                return;
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
        if (kd->secret)
                note_literal_secret(ld, value, display);
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
                if (refuse_shared_secret(ld, k, v, config_property_is_secret(name), path) == -1)
                        goto out;
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
                if (config_property_is_secret(name))
                        note_literal_secret(ld, v, path);
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

/* Room for @p more routes (every list appends to cfg->routes). @returns 0 or -1 (reported). */
static int routes_grow(struct loader *ld, size_t more)
{
        struct config *cfg = ld->cfg;
        size_t cap = cfg->nroutes + more;
        void *p;

        if (cap <= ld->routes_cap)
                return 0;
        if (!(p = realloc(cfg->routes, cap * sizeof(*cfg->routes)))) {
                config_oom(ld);
                return -1;
        }
        cfg->routes = p;
        if (!(p = realloc(ld->route_seen, cap * CONFIG_NKEYS * sizeof(*ld->route_seen)))) {
                config_oom(ld);
                return -1;
        }
        ld->route_seen = p;
        if (!(p = realloc(ld->route_marks, cap * sizeof(*ld->route_marks)))) {
                config_oom(ld);
                return -1;
        }
        ld->route_marks = p;
        if (!(p = realloc(ld->route_names, cap * sizeof(*ld->route_names)))) {
                config_oom(ld);
                return -1;
        }
        ld->route_names = p;
        memset(cfg->routes + cfg->nroutes, 0, more * sizeof(*cfg->routes));
        memset(ld->route_seen + cfg->nroutes * CONFIG_NKEYS, 0,
               more * CONFIG_NKEYS * sizeof(*ld->route_seen));
        ld->routes_cap = cap;
        return 0;
}

/*
 * A list of routes: the top level's (@p org 0, "default") or an orgs[]
 * entry's (@p org its index counting "default" as 0). Routes of every list
 * go to cfg->routes in file order; build_units() groups them later.
 */
static void set_routes(struct loader *ld, const yaml_node_t *key, const yaml_node_t *list,
                       const char *display, size_t org)
{
        struct config *cfg = ld->cfg;
        yaml_node_item_t *item;
        size_t n, k = 0;

        if (list->type != YAML_SEQUENCE_NODE) {
                if (!is_null(list))
                        config_error(ld, type_mark(key, list), display,
                                     "expected a list of routes (- channel: ..., topic: ...), found %s",
                                     node_kind(list));
                return;
        }
        n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
        if (n > CONFIG_ROUTES_MAX || cfg->nroutes + n > CONFIG_ROUTES_MAX) {
                config_error(ld, &list->start_mark, display, "more than %d routes",
                             CONFIG_ROUTES_MAX);
                return;
        }
        if (n == 0 || routes_grow(ld, n) == -1)
                return;
        for (item = list->data.sequence.items.start; item < list->data.sequence.items.top; item++, k++) {
                yaml_node_t *node = yaml_document_get_node(&ld->doc, *item);
                struct config_route *rt = &cfg->routes[cfg->nroutes];
                char *path = ld->route_names[cfg->nroutes];

                snprintf(path, sizeof(ld->route_names[0]), "%.20s[%zu]", display, k);
                rt->line = (int)node->start_mark.line + 1;
                ld->route_marks[cfg->nroutes] = node->start_mark;
                rt->start = REPLAY_NEW;
                rt->org = org;
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
 * orgs: each entry is walked with the orgs[] keys (id), its salesforce:
 * block into a scratch config of its own (the salesforce.* keys live in
 * struct config) and its routes into cfg->routes. cfg->orgs[0] is kept for
 * "default" until the whole file is read.
 */
static void set_orgs(struct loader *ld, const yaml_node_t *key, const yaml_node_t *list,
                     const char *display)
{
        struct config *cfg = ld->cfg;
        yaml_node_item_t *item;
        size_t n, i = 0;

        if (list->type != YAML_SEQUENCE_NODE) {
                if (!is_null(list))
                        config_error(ld, type_mark(key, list), display,
                                     "expected a list of orgs (- id: ..., salesforce: ..., routes: ...), "
                                     "found %s", node_kind(list));
                return;
        }
        n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
        if (n > CONFIG_ROUTES_MAX) {
                config_error(ld, &list->start_mark, display, "more than %d orgs", CONFIG_ROUTES_MAX);
                return;
        }
        cfg->has_orgs = 1;
        if (n == 0)
                return;
        cfg->orgs = calloc(n + 1, sizeof(*cfg->orgs));
        ld->org_seen = calloc(n * CONFIG_NKEYS, sizeof(*ld->org_seen));
        ld->org_marks = calloc(n, sizeof(*ld->org_marks));
        ld->org_scratch = calloc(n, sizeof(*ld->org_scratch));
        if (!cfg->orgs || !ld->org_seen || !ld->org_marks || !ld->org_scratch) {
                config_oom(ld);
                return;
        }
        cfg->norgs = 1;
        for (item = list->data.sequence.items.start; item < list->data.sequence.items.top; item++, i++) {
                yaml_node_t *node = yaml_document_get_node(&ld->doc, *item);
                char path[PATH_MAX_LEN];

                snprintf(path, sizeof(path), "orgs[%zu]", i);
                ld->org_marks[i] = node->start_mark;
                ld->norg_entries++;
                ld->org_cur = &cfg->orgs[cfg->norgs];
                ld->org_cur_index = cfg->norgs;
                ld->org_cur->line = (int)node->start_mark.line + 1;
                cfg->norgs++;
                if (node->type != YAML_MAPPING_NODE) {
                        config_error(ld, &node->start_mark, path,
                                     "expected a mapping (id: ..., salesforce: ..., routes: ...), found %s",
                                     is_null(node) ? "nothing" : node_kind(node));
                        return;
                }
                walk_map(ld, node, ORG_PREFIX, path, ld->org_cur, ld->org_seen + i * CONFIG_NKEYS);
                if (ld->failed)
                        return;
        }
        ld->org_cur = NULL;
}

/* coordination.partitions: unit id -> partition; the ids are checked against the units later. */
static void set_partitions(struct loader *ld, const yaml_node_t *key, const yaml_node_t *map,
                           const char *display)
{
        struct config_coordination *co = &ld->cfg->coord;
        yaml_node_pair_t *pair;
        size_t n, i;

        if (map->type != YAML_MAPPING_NODE) {
                if (!is_null(map))
                        config_error(ld, type_mark(key, map), display,
                                     "expected a mapping of unit: partition, found %s", node_kind(map));
                return;
        }
        n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
        if (n > CONFIG_PROPERTIES_MAX) {
                config_error(ld, &map->start_mark, display, "more than %d entries", CONFIG_PROPERTIES_MAX);
                return;
        }
        if (n && !(co->partitions = calloc(n, sizeof(*co->partitions)))) {
                config_oom(ld);
                return;
        }
        for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
                yaml_node_t *k = yaml_document_get_node(&ld->doc, pair->key);
                yaml_node_t *v = yaml_document_get_node(&ld->doc, pair->value);
                struct config_property *prop = &co->partitions[co->npartitions];
                char path[PATH_MAX_LEN], q[96], *end;
                const char *name;
                long long p;

                if (k->type != YAML_SCALAR_NODE || !k->data.scalar.length ||
                    strlen((const char *)k->data.scalar.value) != k->data.scalar.length) {
                        config_error(ld, &k->start_mark, display, "unit ids must be non-empty strings");
                        return;
                }
                name = (const char *)k->data.scalar.value;
                snprintf(path, sizeof(path), "%.100s.%.150s", display, name);
                for (i = 0; i < co->npartitions; i++) {
                        if (strcmp(co->partitions[i].name, name) == 0) {
                                config_error(ld, &k->start_mark, path, "duplicate key");
                                return;
                        }
                }
                if (refuse_shared_secret(ld, k, v, 0, path) == -1)
                        return;
                if (v->type != YAML_SCALAR_NODE || is_null(v)) {
                        config_error(ld, type_mark(k, v), path, "expected a partition number, found %s",
                                     v->type == YAML_SCALAR_NODE ? "nothing" : node_kind(v));
                        return;
                }
                if (!(prop->name = strdup(name))) {
                        config_oom(ld);
                        return;
                }
                co->npartitions++;
                if (!(prop->value = expand_node(ld, v, path)))
                        return;
                errno = 0;
                p = strtoll(prop->value, &end, 10);
                if (end == prop->value || *end || prop->value[0] < '0' || prop->value[0] > '9' ||
                    errno == ERANGE || p > 9999) {
                        config_error(ld, &v->start_mark, path, "expected a partition number "
                                     "between 0 and 9999, found %s",
                                     config_quote(prop->value, q, sizeof(q)));
                        return;
                }
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
                        if (v->type == YAML_MAPPING_NODE && strcmp(path, ORG_PREFIX ".salesforce") == 0) {
                                /* The org's block holds the top level's keys, in its own config. */
                                struct seen *top = &seen[config_key_index(config_key_find("salesforce"))];

                                sn->has_value = 1;
                                *top = *sn;
                                walk_map(ld, v, "salesforce", display,
                                         &ld->org_scratch[ld->org_cur_index - 1], seen);
                        } else if (v->type == YAML_MAPPING_NODE) {
                                sn->has_value = 1;
                                walk_map(ld, v, path, display, base, seen);
                        } else if (!is_null(v)) {
                                config_error(ld, type_mark(k, v), display, "expected a mapping, found %s",
                                             node_kind(v));
                        }
                        break;
                case KEY_LIST:
                        if (strcmp(path, "orgs") == 0) {
                                set_orgs(ld, k, v, display);
                        } else if (strcmp(path, ORG_PREFIX ".routes") == 0) {
                                sn->has_value = v->type == YAML_SEQUENCE_NODE &&
                                                v->data.sequence.items.top > v->data.sequence.items.start;
                                set_routes(ld, k, v, display, ld->org_cur_index);
                        } else {
                                ld->top_routes = 1;
                                set_routes(ld, k, v, display, 0);
                        }
                        break;
                case KEY_PROPERTIES:
                        if (strcmp(path, "coordination.partitions") == 0)
                                set_partitions(ld, k, v, display);
                        else
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

/*
 * Where one set of the table's keys lives: the top level (cfg, ld->seen), or
 * an orgs[] entry (its scratch config for salesforce.*, the org for
 * orgs[].*, its own seen array). display is what messages put before a
 * key's path ("" or "orgs[1].").
 */
struct scope {
        struct config *cfg;
        struct config_org *org;         /* NULL at the top level */
        struct seen *seen;
        const yaml_mark_t *fallback;    /* where a key missing with its parents is reported */
        char display[32];
};

static void scope_name(const struct scope *sc, const char *path, char *out, size_t out_size)
{
        if (sc->org && strncmp(path, ORG_PREFIX ".", sizeof(ORG_PREFIX)) == 0)
                path += sizeof(ORG_PREFIX);
        snprintf(out, out_size, "%s%s", sc->display, path);
}

/* The mark of the nearest present ancestor key, where a missing key is reported. */
static const yaml_mark_t *parent_mark(const struct scope *sc, const char *path)
{
        char parent[PATH_MAX_LEN];
        const struct key_def *kd;
        char *dot;

        snprintf(parent, sizeof(parent), "%s", path);
        while ((dot = strrchr(parent, '.'))) {
                *dot = '\0';
                if ((kd = config_key_find(parent)) && sc->seen[config_key_index(kd)].present)
                        return &sc->seen[config_key_index(kd)].key_mark;
        }
        return sc->fallback;
}

static int check_file_readable(struct loader *ld, const char *key, const char *file,
                               const struct seen *sn)
{
        char msg[MSG_MAX], byte;
        struct stat st;
        int fd, rc = 0;

        /* Never blocks: a FIFO or a device is refused before anything is read. */
        fd = secure_file_open(file, NULL, &st, msg, sizeof(msg));
        if (fd == -1) {
                if (errno == EINVAL && !S_ISDIR(st.st_mode))
                        config_error(ld, &sn->value_mark, key, "%s", msg);
                else
                        config_error(ld, &sn->value_mark, key, "cannot read %s: %s", file,
                                     strerror(errno == EINVAL ? EISDIR : errno));
                return -1;
        }
        if (read(fd, &byte, 1) == -1) {
                config_error(ld, &sn->value_mark, key, "cannot read %s: %s", file, strerror(errno));
                rc = -1;
        }
        close(fd);
        return rc;
}

/* Keys naming a file whose contents are a secret (the CA bundle is not one). */
static int is_secret_file(const struct key_def *kd)
{
        return strcmp(kd->path, "salesforce.auth.private_key_file") == 0 ||
               strcmp(kd->path, "salesforce.auth.refresh_token_file") == 0;
}

/*
 * A key or token file: a regular file (the token file may not exist yet: the
 * first rotation writes it, mode 0600), and a warning when other users can
 * read it.
 */
static int check_secret_file(struct loader *ld, const char *key, const char *file,
                             const struct seen *sn)
{
        char msg[MSG_MAX];
        struct stat st;
        int fd;

        fd = secure_file_open(file, NULL, &st, msg, sizeof(msg));
        if (fd == -1) {
                if (errno == ENOENT)
                        return 0;
                if (errno == EINVAL)
                        config_error(ld, &sn->value_mark, key, "%s", msg);
                else
                        config_error(ld, &sn->value_mark, key, "cannot read %s: %s", file, strerror(errno));
                return -1;
        }
        close(fd);
        if (secure_file_exposed(&st))
                config_warn(ld, &sn->value_mark, key,
                            "%s holds a secret and is readable by group or others (mode %04o); "
                            "chmod 600 it", file, (unsigned)(st.st_mode & 07777));
        return 0;
}

/* The file's contents as run will read them (a JWT key is loaded, never shown). */
static int check_file_contents(struct loader *ld, const struct key_def *kd, const char *key,
                               const char *file, const struct seen *sn)
{
        char msg[MSG_MAX];

        if (kd->check_file(file, msg, sizeof(msg)) == 0)
                return 0;
        config_error(ld, &sn->value_mark, key, "%s", msg);
        return -1;
}

static int apply_default(struct loader *ld, void *base, const struct key_def *kd)
{
        if (!kd->def || kd->type == KEY_MAP || kd->type == KEY_LIST || kd->type == KEY_PROPERTIES)
                return 0;
        return store_value(ld, base, kd, kd->def, NULL, kd->path);
}

static int is_sf_key(const struct key_def *kd)
{
        return strncmp(kd->path, "salesforce", 10) == 0 && (!kd->path[10] || kd->path[10] == '.');
}

static int is_org_key(const struct key_def *kd)
{
        return strncmp(kd->path, ORG_PREFIX ".", sizeof(ORG_PREFIX)) == 0;
}

/*
 * Required keys, flows, defaults and files for one scope. At the top level
 * the salesforce.* keys are skipped when @p with_sf is 0 (orgs: without
 * top-level routes); in an org only they (and orgs[].id) are looked at.
 */
static void check_globals(struct loader *ld, const struct scope *sc, int with_sf)
{
        struct config *cfg = sc->cfg;
        const struct seen *flow_seen = &sc->seen[config_key_index(config_key_find("salesforce.auth.flow"))];
        char key[PATH_MAX_LEN];
        size_t i;

        for (i = 0; i < CONFIG_NKEYS && !ld->failed; i++) {
                const struct key_def *kd = &config_keys[i];
                struct seen *sn = &sc->seen[i];
                unsigned flow = (unsigned)cfg->sf.flow;
                void *base = sc->org && is_org_key(kd) ? (void *)sc->org : (void *)cfg;
                int need, used;

                if (config_key_is_route(kd) || kd->type == KEY_LIST)
                        continue;
                if (sc->org ? !(is_sf_key(kd) || (is_org_key(kd) && kd->type != KEY_MAP))
                            : (is_org_key(kd) || (!with_sf && is_sf_key(kd))))
                        continue;
                scope_name(sc, kd->path, key, sizeof(key));
                need = (kd->required & REQUIRED) ||
                       (flow_seen->has_value && (kd->required & FLOW(flow)));
                used = !(kd->required & FLOWS_ALL) || (kd->required & FLOW(flow));
                if (need && !sn->present) {
                        const yaml_mark_t *mark = parent_mark(sc, kd->path);

                        /* At the top level there is no line to show. */
                        if (mark == &ld->root_mark)
                                config_error_noecho(ld, mark, key, "required but missing");
                        else if (kd->required & REQUIRED)
                                config_error(ld, mark, key, "required but missing");
                        else
                                config_error(ld, mark, key, "required by flow %s but missing",
                                             flow_name_of(flow));
                        return;
                }
                if (need && !sn->has_value) {
                        if (kd->required & REQUIRED)
                                config_error(ld, &sn->key_mark, key, "%s",
                                             sn->empty ? "is empty" : "has no value");
                        else
                                config_error(ld, &sn->key_mark, key,
                                             "required by flow %s but %s", flow_name_of(flow),
                                             sn->empty ? "empty" : "has no value");
                        return;
                }
                if (!used && sn->has_value) {
                        config_warn(ld, &sn->key_mark, key, "not used by flow %s (ignored)",
                                    flow_name_of(flow));
                        store_string(base, kd, NULL);
                        sn->has_value = 0;
                        continue;
                }
                if (!sn->has_value && apply_default(ld, base, kd) == -1)
                        return;
                if (kd->must_read && sn->has_value &&
                    check_file_readable(ld, key, *(char **)field_at(base, kd), sn) == -1)
                        return;
                if (kd->check_file && sn->has_value &&
                    check_file_contents(ld, kd, key, *(char **)field_at(base, kd), sn) == -1)
                        return;
                if (is_secret_file(kd) && sn->has_value &&
                    check_secret_file(ld, key, *(char **)field_at(base, kd), sn) == -1)
                        return;
        }
}

/*
 * What Salesforce's login hosts allow: the JWT audience follows the login
 * URL unless given, and client_credentials is served by a My Domain only
 * (login and test answer "request not supported on this domain").
 */
static void check_auth(struct loader *ld, const struct scope *sc)
{
        struct config *cfg = sc->cfg;
        const struct seen *url_seen = &sc->seen[config_key_index(config_key_find("salesforce.login_url"))];
        const struct seen *flow_seen = &sc->seen[config_key_index(config_key_find("salesforce.auth.flow"))];
        char key[PATH_MAX_LEN];

        scope_name(sc, "salesforce.login_url", key, sizeof(key));
        if (cfg->sf.flow == AUTH_CLIENT_CREDENTIALS && config_login_is_generic(cfg->sf.login_url)) {
                const char *what = "client_credentials needs the org's My Domain login URL "
                                   "(https://<MyDomain>.my.salesforce.com): Salesforce answers "
                                   "\"request not supported on this domain\" on login.salesforce.com "
                                   "and test.salesforce.com";

                if (url_seen->has_value)
                        config_error(ld, &url_seen->value_mark, key, "%s", what);
                else
                        config_error(ld, &flow_seen->value_mark, key,
                                     "is %s by default; %s", cfg->sf.login_url, what);
                return;
        }
        /* Every flow sends a credential to the login URL: a password, a
         * client secret, a refresh token or a signed assertion. Only a
         * warning: the emulator listens on plain http. */
        if (url_seen->has_value && strncasecmp(cfg->sf.login_url, "http://", 7) == 0)
                config_warn(ld, &url_seen->value_mark, key,
                            "http:// sends the %s in clear; use https://",
                            cfg->sf.flow == AUTH_PASSWORD ? "password and client secret" :
                            cfg->sf.flow == AUTH_JWT ? "signed assertion and the access token" :
                            cfg->sf.flow == AUTH_REFRESH_TOKEN ? "refresh token and client secret" :
                                                                  "client secret");
        if (!cfg->sf.audience && !(cfg->sf.audience = strdup(config_default_audience(cfg->sf.login_url))))
                config_oom(ld);
}

/* The org ids: unique, and each org's salesforce: block checked as the top level's. */
static void check_orgs(struct loader *ld)
{
        struct config *cfg = ld->cfg;
        size_t i, j, idx = config_key_index(config_key_find("orgs[].id"));

        if (cfg->has_orgs && ld->norg_entries == 0) {
                config_error(ld, &ld->seen[config_key_index(config_key_find("orgs"))].key_mark, "orgs",
                             "no orgs: add at least one (- id: ..., salesforce: ..., routes: ...)");
                return;
        }
        for (i = 0; i < ld->norg_entries && !ld->failed; i++) {
                struct scope sc = { .cfg = &ld->org_scratch[i], .org = &cfg->orgs[i + 1],
                                    .seen = ld->org_seen + i * CONFIG_NKEYS,
                                    .fallback = &ld->org_marks[i] };
                struct seen *routes = &sc.seen[config_key_index(config_key_find("orgs[].routes"))];

                snprintf(sc.display, sizeof(sc.display), "orgs[%zu].", i);
                check_globals(ld, &sc, 1);
                if (!ld->failed)
                        check_auth(ld, &sc);
                if (ld->failed)
                        return;
                for (j = 0; j < i; j++) {
                        if (strcmp(cfg->orgs[j + 1].id, sc.org->id) == 0) {
                                char key[PATH_MAX_LEN];

                                snprintf(key, sizeof(key), "orgs[%zu].id", i);
                                config_error(ld, &sc.seen[idx].value_mark, key,
                                             "duplicate org id %s (first at line %d)", sc.org->id,
                                             cfg->orgs[j + 1].line);
                                return;
                        }
                }
                if (!routes->present) {
                        char key[PATH_MAX_LEN];

                        snprintf(key, sizeof(key), "orgs[%zu].routes", i);
                        config_error(ld, &ld->org_marks[i], key, "required but missing");
                        return;
                }
                if (!routes->has_value) {
                        char key[PATH_MAX_LEN];

                        snprintf(key, sizeof(key), "orgs[%zu].routes", i);
                        config_error(ld, &routes->key_mark, key,
                                     "no routes: add at least one (- channel: ..., topic: ...)");
                        return;
                }
                /* The org owns what its scratch config held. */
                sc.org->sf = sc.cfg->sf;
                memset(&sc.cfg->sf, 0, sizeof(sc.cfg->sf));
        }
}

static void check_routes(struct loader *ld)
{
        struct config *cfg = ld->cfg;
        const struct seen *routes_seen = &ld->seen[config_key_index(config_key_find("routes"))];
        size_t r, i;
        char msg[MSG_MAX];

        if (!routes_seen->present && !cfg->has_orgs) {
                config_error_noecho(ld, &ld->root_mark, "routes", "required but missing");
                return;
        }
        if (routes_seen->present && !ld->top_routes_n) {
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
                const char *name = ld->route_names[r];
                char display[PATH_MAX_LEN];

                for (i = 0; i < CONFIG_NKEYS; i++) {
                        const struct key_def *kd = &config_keys[i];

                        if (!config_key_is_route(kd))
                                continue;
                        snprintf(display, sizeof(display), "%s.%s", name, config_key_leaf(kd->path));
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
                i = config_key_index(config_key_find("routes[].unit"));
                if (rt->unit && !cfg->coord.enabled) {
                        snprintf(display, sizeof(display), "%s.unit", name);
                        config_error(ld, &seen[i].value_mark, display,
                                     "needs coordination: (units are what the replicas of a group "
                                     "share out); add a coordination: block or remove unit:");
                        return;
                }
                snprintf(display, sizeof(display), "%s.topic", name);
                if (config_check_topic_template(rt->topic, rt->channel, cfg->has_orgs, msg,
                                                sizeof(msg)) == -1) {
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
                /* One org subscribes to a channel once; two orgs may share its name. */
                for (i = 0; i < r; i++) {
                        if (cfg->routes[i].org == rt->org &&
                            config_channel_same(cfg->routes[i].channel, rt->channel)) {
                                snprintf(display, sizeof(display), "%s.channel", name);
                                config_error(ld, &seen[config_key_index(config_key_find("routes[].channel"))].value_mark,
                                             display, "duplicate channel %.*s (first at line %d)",
                                             (int)config_channel_base_len(rt->channel), rt->channel,
                                             cfg->routes[i].line);
                                return;
                        }
                }
                if (config_channel_unknown_standard(rt->channel)) {
                        snprintf(display, sizeof(display), "%s.channel", name);
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
                        snprintf(display, sizeof(display), "%s.partition_by", name);
                        config_error(ld, &seen[i].value_mark, display,
                                     "key needs a record key, and this route has key: none "
                                     "(use channel or record_id)");
                        return;
                } else if (rt->partition_by == ROUTE_PARTITION_ENTITY &&
                           strncmp(rt->channel, "/data/", 6) != 0) {
                        snprintf(display, sizeof(display), "%s.partition_by", name);
                        config_error(ld, &seen[i].value_mark, display,
                                     "entity needs change events, which only /data/ channels carry "
                                     "(use channel, record_id or key)");
                        return;
                }
                if (rt->key == ROUTE_KEY_EVENT_UUID && strncmp(rt->channel, "/event/", 7) != 0) {
                        snprintf(display, sizeof(display), "%s.key", name);
                        config_warn(ld, &seen[config_key_index(config_key_find("routes[].key"))].value_mark,
                                    display,
                                    "only platform events (/event/) carry an EventUuid; the "
                                    "records of %.*s will have no key",
                                    (int)config_channel_base_len(rt->channel), rt->channel);
                }
                if (rt->key == ROUTE_KEY_RECORD_ID &&
                    (strncmp(rt->channel, "/event/", 7) == 0 || strncmp(rt->channel, "/u/", 3) == 0)) {
                        snprintf(display, sizeof(display), "%s.key", name);
                        config_warn(ld, &seen[config_key_index(config_key_find("routes[].key"))].value_mark,
                                    display,
                                    "%s events carry no record ID; their records will have no key",
                                    rt->channel[1] == 'e' ? "platform" : "generic");
                }
        }
}

/*
 * coordination: what librdkafka and brokers accept, and the names that
 * default from the bridge's name.
 */
static void check_coordination(struct loader *ld)
{
        struct config *cfg = ld->cfg;
        struct config_coordination *co = &cfg->coord;
        const struct seen *seen_of_orgs = &ld->seen[config_key_index(config_key_find("orgs"))];
        const struct seen *sess = &ld->seen[config_key_index(config_key_find("coordination.session_timeout_ms"))];
        const struct seen *hb = &ld->seen[config_key_index(config_key_find("coordination.heartbeat_interval_ms"))];
        const struct seen *mp = &ld->seen[config_key_index(config_key_find("coordination.max_poll_interval_ms"))];
        const struct seen *co_seen = &ld->seen[config_key_index(config_key_find("coordination"))];
        char buf[PATH_MAX_LEN + 32];

        co->enabled = co_seen->present;
        if (!co->enabled) {
                if (seen_of_orgs->present)
                        config_error(ld, &seen_of_orgs->key_mark, "orgs",
                                     "needs coordination: (the orgs' units are shared out by a "
                                     "replica group); add a coordination: block");
                return;
        }
        if (!co->topic) {
                snprintf(buf, sizeof(buf), "sfbridge.%s.units", cfg->name);
                if (!(co->topic = strdup(buf))) {
                        config_oom(ld);
                        return;
                }
        }
        if (!co->group) {
                snprintf(buf, sizeof(buf), "sfbridge-%s-units", cfg->name);
                if (!(co->group = strdup(buf))) {
                        config_oom(ld);
                        return;
                }
        }
        if (co->max_poll_interval_ms < co->session_timeout_ms) {
                config_error(ld, mp->present ? &mp->value_mark : &sess->value_mark,
                             mp->present ? "coordination.max_poll_interval_ms" :
                                           "coordination.session_timeout_ms",
                             "max_poll_interval_ms (%d) must be at least session_timeout_ms (%d): "
                             "librdkafka refuses the group consumer otherwise",
                             co->max_poll_interval_ms, co->session_timeout_ms);
                return;
        }
        if (co->session_timeout_ms < 6000)
                config_warn(ld, &sess->value_mark, "coordination.session_timeout_ms",
                            "%d is below 6000, brokers' default group.min.session.timeout.ms: "
                            "the group join fails unless the broker allows it",
                            co->session_timeout_ms);
        if (co->heartbeat_interval_ms >= co->session_timeout_ms / 3)
                config_warn(ld, hb->present ? &hb->value_mark : &sess->value_mark,
                            "coordination.heartbeat_interval_ms",
                            "%d is not below a third of session_timeout_ms (%d): one late "
                            "heartbeat or two can cost the member its units",
                            co->heartbeat_interval_ms, co->session_timeout_ms);
}

/*
 * The units: each route's unit id ("default", the top-level unit name, the
 * org id or "<org>.<unit>"), cfg->units in order of first appearance, the
 * routes grouped by unit (stable), labels, and the partition overrides.
 */
static void build_units(struct loader *ld)
{
        struct config *cfg = ld->cfg;
        struct config_route *sorted = NULL;
        char **ids = NULL;
        size_t r, u, k, n = 0;

        if (!(ids = calloc(cfg->nroutes ? cfg->nroutes : 1, sizeof(*ids))) ||
            !(cfg->units = calloc(cfg->nroutes ? cfg->nroutes : 1, sizeof(*cfg->units))) ||
            !(sorted = calloc(cfg->nroutes ? cfg->nroutes : 1, sizeof(*sorted)))) {
                config_oom(ld);
                goto out;
        }
        for (r = 0; r < cfg->nroutes; r++) {
                struct config_route *rt = &cfg->routes[r];
                const char *org = cfg->orgs[rt->org].id;
                int is_default = strcmp(org, "default") == 0;
                char id[160], label[600];

                if (rt->unit && is_default)
                        snprintf(id, sizeof(id), "%s", rt->unit);
                else if (rt->unit)
                        snprintf(id, sizeof(id), "%s.%s", org, rt->unit);
                else
                        snprintf(id, sizeof(id), "%s", org);
                if (cfg->has_orgs)
                        snprintf(label, sizeof(label), "%s:%s", org, rt->channel);
                else
                        snprintf(label, sizeof(label), "%s", rt->channel);
                if (!(rt->label = strdup(label))) {
                        config_oom(ld);
                        goto out;
                }
                for (u = 0; u < n && strcmp(cfg->units[u].id, id); u++)
                        ;
                if (u == n) {
                        /* A top-level unit may not take an org's name: both would be unit "emea". */
                        for (k = 1; is_default && rt->unit && k < cfg->norgs; k++) {
                                if (strcmp(cfg->orgs[k].id, id) == 0) {
                                        char key[PATH_MAX_LEN];

                                        snprintf(key, sizeof(key), "%s.unit", ld->route_names[r]);
                                        config_error(ld, &ld->route_seen[r * CONFIG_NKEYS +
                                                     config_key_index(config_key_find("routes[].unit"))].value_mark,
                                                     key, "unit %s is also an org id (line %d): "
                                                     "both would be unit %s; name it differently",
                                                     id, cfg->orgs[k].line, id);
                                        goto out;
                                }
                        }
                        if (!(cfg->units[n].id = strdup(id))) {
                                config_oom(ld);
                                goto out;
                        }
                        cfg->units[n].org = rt->org;
                        cfg->units[n].partition = -1;
                        n++;
                        cfg->nunits = n;
                }
                rt->unit_index = u;
                cfg->units[u].nroutes++;
        }
        /* Stable grouping: units in order of first appearance, file order within. */
        for (u = 0, k = 0; u < n; u++) {
                cfg->units[u].first_route = k;
                for (r = 0; r < cfg->nroutes; r++)
                        if (cfg->routes[r].unit_index == u)
                                sorted[k++] = cfg->routes[r];
        }
        memcpy(cfg->routes, sorted, cfg->nroutes * sizeof(*sorted));
        for (k = 0; k < cfg->coord.npartitions; k++) {
                const struct config_property *prop = &cfg->coord.partitions[k];

                for (u = 0; u < n && strcmp(cfg->units[u].id, prop->name); u++)
                        ;
                if (u == n) {
                        const struct seen *sn = &ld->seen[config_key_index(config_key_find("coordination.partitions"))];
                        char key[PATH_MAX_LEN], list[MSG_MAX];
                        size_t o = 0;

                        list[0] = '\0';
                        for (u = 0; u < n && o < sizeof(list); u++)
                                o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", u ? ", " : "",
                                                      cfg->units[u].id);
                        snprintf(key, sizeof(key), "coordination.partitions.%.100s", prop->name);
                        config_error(ld, &sn->key_mark, key, "no unit %s in this file (units: %s)",
                                     prop->name, list);
                        goto out;
                }
                cfg->units[u].partition = atoi(prop->value);
        }
out:
        free(sorted);
        free(ids);
}

/*
 * The orgs: "default" (the top level's salesforce:, pointers shared with
 * cfg->sf) when the file has top-level routes or no orgs:, then the orgs[]
 * entries.
 */
static void settle_orgs(struct loader *ld)
{
        struct config *cfg = ld->cfg;
        const struct seen *sf_seen = &ld->seen[config_key_index(config_key_find("salesforce"))];
        size_t r;

        if (!cfg->orgs) {
                if (!(cfg->orgs = calloc(1, sizeof(*cfg->orgs)))) {
                        config_oom(ld);
                        return;
                }
                cfg->norgs = 1;
        }
        if (!ld->top_routes_n) {
                /* orgs: only: the top level has no org. */
                if (sf_seen->present) {
                        config_error(ld, &sf_seen->key_mark, "salesforce",
                                     "the top level's org has no routes: with orgs:, move this "
                                     "block into an orgs[] entry, or add top-level routes:");
                        return;
                }
                memmove(cfg->orgs, cfg->orgs + 1, (cfg->norgs - 1) * sizeof(*cfg->orgs));
                cfg->norgs--;
                for (r = 0; r < cfg->nroutes; r++)
                        cfg->routes[r].org--;
                return;
        }
        if (!(cfg->orgs[0].id = strdup("default"))) {
                config_oom(ld);
                return;
        }
        cfg->orgs[0].sf = cfg->sf;
}

/*
 * Loading
 */

static void load_document(struct loader *ld)
{
        yaml_parser_t parser;
        yaml_document_t extra;
        yaml_node_t *root, *extra_root;
        struct scope sc = { 0 };
        size_t i;

        if (config_check_depth(ld) == -1)
                return;
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
        if (ld->failed)
                return;
        for (i = 0; i < ld->cfg->nroutes; i++)
                ld->top_routes_n += ld->cfg->routes[i].org == 0;
        sc.cfg = ld->cfg;
        sc.seen = ld->seen;
        sc.fallback = &ld->root_mark;
        check_globals(ld, &sc, ld->top_routes_n || !ld->cfg->has_orgs ||
                               ld->seen[config_key_index(config_key_find("routes"))].present);
        if (!ld->failed && (ld->top_routes_n || !ld->cfg->has_orgs))
                check_auth(ld, &sc);
        if (!ld->failed)
                check_coordination(ld);
        if (!ld->failed)
                check_orgs(ld);
        if (!ld->failed)
                check_routes(ld);
        if (!ld->failed)
                settle_orgs(ld);
        if (!ld->failed)
                build_units(ld);
        if (!ld->failed && ld->literal_secret && (ld->file_mode & (S_IRGRP | S_IROTH)))
                config_warn(ld, &ld->literal_mark, ld->literal_key,
                            "a secret written in %s, which group or others can read (mode %04o); "
                            "chmod 600 the file, or use ${VAR}", ld->path, ld->file_mode & 07777);
}

static void config_sf_free(struct config_sf *sf);

static struct config *load_text(const char *path, const char *text, size_t len, unsigned mode,
                                char *errstr, size_t errstr_size)
{
        struct loader ld;
        struct config *cfg;

        memset(&ld, 0, sizeof(ld));
        ld.path = path;
        ld.file_mode = mode;
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
        free(ld.route_names);
        free(ld.org_seen);
        free(ld.org_marks);
        for (size_t i = 0; i < ld.norg_entries; i++)
                config_sf_free(&ld.org_scratch[i].sf);
        free(ld.org_scratch);
        if (ld.failed) {
                config_destroy(cfg);
                return NULL;
        }
        return cfg;
}

struct config *config_load_string(const char *path, const char *text, size_t len,
                                  char *errstr, size_t errstr_size)
{
        return load_text(path, text, len, 0, errstr, errstr_size);
}

struct config *config_load(const char *path, char *errstr, size_t errstr_size)
{
        struct config *cfg;
        struct stat st;
        char *text;
        size_t len = 0;
        ssize_t n;
        int fd, flags;

        /* A pipe is fine (`-c <(envsubst < f)`, /dev/stdin), but the open must
         * not wait for a FIFO's writer: one without any reads as empty. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd == -1) {
                snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
                return NULL;
        }
        if ((flags = fcntl(fd, F_GETFL)) != -1)
                fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
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
        cfg = load_text(path, text, len, S_ISREG(st.st_mode) ? (unsigned)st.st_mode : 0, errstr,
                        errstr_size);
        free(text);
        return cfg;
}

static void config_sf_free(struct config_sf *sf)
{
        free(sf->login_url);
        free(sf->api_version);
        free(sf->client_id);
        free(sf->client_secret);
        free(sf->username);
        free(sf->password);
        free(sf->private_key_file);
        free(sf->refresh_token);
        free(sf->refresh_token_file);
        free(sf->audience);
        free(sf->ca_file);
        free(sf->proxy);
        free(sf->allowed_hosts);
        memset(sf, 0, sizeof(*sf));
}

void config_destroy(struct config *cfg)
{
        size_t i;

        if (!cfg)
                return;
        free(cfg->path);
        free(cfg->name);
        config_sf_free(&cfg->sf);
        free(cfg->kafka.bootstrap_servers);
        free(cfg->kafka.replay_topic);
        free(cfg->kafka.dead_letter_topic);
        for (i = 0; i < cfg->kafka.nproperties; i++) {
                free(cfg->kafka.properties[i].name);
                free(cfg->kafka.properties[i].value);
        }
        free(cfg->kafka.properties);
        free(cfg->metrics_listen);
        free(cfg->metrics_token);
        free(cfg->metrics_allow);
        for (i = 0; i < cfg->nroutes; i++) {
                free(cfg->routes[i].channel);
                free(cfg->routes[i].topic);
                free(cfg->routes[i].unit);
                free(cfg->routes[i].label);
        }
        free(cfg->routes);
        free(cfg->coord.topic);
        free(cfg->coord.group);
        for (i = 0; i < cfg->coord.npartitions; i++) {
                free(cfg->coord.partitions[i].name);
                free(cfg->coord.partitions[i].value);
        }
        free(cfg->coord.partitions);
        /* The "default" org's sf is cfg->sf's (freed above); the others own theirs. */
        for (i = 0; i < cfg->norgs; i++) {
                if (cfg->orgs[i].line)
                        config_sf_free(&cfg->orgs[i].sf);
                free(cfg->orgs[i].id);
        }
        free(cfg->orgs);
        for (i = 0; i < cfg->nunits; i++)
                free(cfg->units[i].id);
        free(cfg->units);
        for (i = 0; i < cfg->nwarnings; i++)
                free(cfg->warnings[i]);
        free(cfg->warnings);
        free(cfg);
}

void config_unit_view(const struct config *cfg, size_t unit, struct config *view)
{
        const struct config_unit *u = &cfg->units[unit];
        const struct config_org *org = &cfg->orgs[u->org];

        *view = *cfg;
        view->sf = org->sf;
        view->routes = cfg->routes + u->first_route;
        view->nroutes = u->nroutes;
        view->unit = u->id;
        view->org_id = strcmp(org->id, "default") == 0 ? NULL : org->id;
        /* A view's warnings belong to cfg: nobody logs them twice. */
        view->warnings = NULL;
        view->nwarnings = 0;
}

const struct config_route *config_find_route(const struct config *cfg, const char *channel)
{
        size_t i;

        for (i = 0; i < cfg->nroutes; i++)
                if (config_channel_same(cfg->routes[i].channel, channel))
                        return &cfg->routes[i];
        return NULL;
}
