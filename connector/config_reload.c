/*
 * Two loads of one configuration file compared key by key, from the key
 * table, and credentials moved from the new load into the running one:
 * what SIGHUP needs to apply rotated secrets without a restart. Driven by
 * the table, so a key added later is compared without touching this file.
 */
#include "config_internal.h"

#include <stddef.h>
#include <string.h>

static int str_differs(const char *a, const char *b)
{
        if (!a || !b)
                return a != b;
        return strcmp(a, b) != 0;
}

/* @returns 1 when key kd differs between the two structs it lives in. */
static int field_differs(const struct key_def *kd, const void *a, const void *b)
{
        const char *pa = (const char *)a + kd->offset, *pb = (const char *)b + kd->offset;

        if (kd->type == KEY_STRING)
                return str_differs(*(char *const *)(const void *)pa, *(char *const *)(const void *)pb);
        return memcmp(pa, pb, kd->size) != 0;
}

static int routes_differ(const struct config *a, const struct config *b)
{
        size_t i, k;

        if (a->nroutes != b->nroutes)
                return 1;
        for (i = 0; i < a->nroutes; i++)
                for (k = 0; k < CONFIG_NKEYS; k++)
                        if (config_key_is_route(&config_keys[k]) && config_keys[k].size &&
                            field_differs(&config_keys[k], &a->routes[i], &b->routes[i]))
                                return 1;
        return 0;
}

static int props_differ(const struct config_property *a, size_t na,
                        const struct config_property *b, size_t nb)
{
        size_t i;

        if (na != nb)
                return 1;
        for (i = 0; i < na; i++)
                if (str_differs(a[i].name, b[i].name) || str_differs(a[i].value, b[i].value))
                        return 1;
        return 0;
}

static int properties_differ(const struct config *a, const struct config *b)
{
        return props_differ(a->kafka.properties, a->kafka.nproperties, b->kafka.properties,
                            b->kafka.nproperties);
}

/* The salesforce.* keys are at offsetof(struct config, sf.X); an org's at sf.X of its own. */
static int sf_differs(const struct config_sf *a, const struct config_sf *b)
{
        size_t k, base = offsetof(struct config, sf);

        for (k = 0; k < CONFIG_NKEYS; k++) {
                struct key_def kd = config_keys[k];

                if (strncmp(kd.path, "salesforce.", 11) != 0 || kd.type == KEY_MAP || !kd.size)
                        continue;
                kd.offset -= base;
                if (field_differs(&kd, a, b))
                        return 1;
        }
        return 0;
}

/* orgs: ids, order and every org's salesforce: block (the default org is cfg->sf, compared as such). */
static int orgs_differ(const struct config *a, const struct config *b)
{
        size_t i;

        if (a->norgs != b->norgs || a->has_orgs != b->has_orgs || a->nunits != b->nunits)
                return 1;
        for (i = 0; i < a->norgs; i++) {
                if (str_differs(a->orgs[i].id, b->orgs[i].id))
                        return 1;
                if (a->orgs[i].line && sf_differs(&a->orgs[i].sf, &b->orgs[i].sf))
                        return 1;
        }
        for (i = 0; i < a->nunits; i++)
                if (str_differs(a->units[i].id, b->units[i].id) ||
                    a->units[i].partition != b->units[i].partition)
                        return 1;
        return 0;
}

size_t config_diff(const struct config *a, const struct config *b,
                   void (*fn)(const char *path, void *arg), void *arg)
{
        size_t k, n = 0;

        int group = a->coord.enabled || b->coord.enabled, auth_noted = 0;

        for (k = 0; k < CONFIG_NKEYS; k++) {
                const struct key_def *kd = &config_keys[k];
                const char *path = kd->path;
                int differs = 0;

                if (config_key_is_route(kd) || !strncmp(kd->path, ORG_PREFIX ".", sizeof(ORG_PREFIX)))
                        continue;
                if (kd->type == KEY_LIST && !strcmp(kd->path, "orgs"))
                        differs = orgs_differ(a, b);
                else if (kd->type == KEY_LIST)
                        differs = routes_differ(a, b);
                else if (kd->type == KEY_PROPERTIES && !strcmp(kd->path, "coordination.partitions"))
                        differs = props_differ(a->coord.partitions, a->coord.npartitions,
                                               b->coord.partitions, b->coord.npartitions);
                else if (kd->type == KEY_PROPERTIES)
                        differs = properties_differ(a, b);
                else if (kd->type == KEY_MAP && !strcmp(kd->path, "coordination"))
                        differs = a->coord.enabled != b->coord.enabled;
                else if (kd->type != KEY_MAP && kd->size)
                        differs = field_differs(kd, a, b);
                /* In group mode each unit's view holds its own copy of the org's
                 * credentials: none moves in place, so they are named by their
                 * block ("salesforce.auth"), which is not a credential key. */
                if (differs && group && config_key_is_credential(path)) {
                        if (auth_noted)
                                continue;
                        auth_noted = 1;
                        path = "salesforce.auth";
                }
                if (differs) {
                        n++;
                        if (fn)
                                fn(path, arg);
                }
        }
        return n;
}

int config_key_is_credential(const char *path)
{
        return !strncmp(path, "salesforce.auth.", strlen("salesforce.auth."));
}

int config_swap_value(struct config *a, struct config *b, const char *path)
{
        const struct key_def *kd = config_key_find(path);
        char tmp[64];

        if (!kd || config_key_is_route(kd) || !kd->size || kd->size > sizeof(tmp) ||
            kd->type == KEY_MAP || kd->type == KEY_LIST || kd->type == KEY_PROPERTIES ||
            !strncmp(kd->path, ORG_PREFIX ".", sizeof(ORG_PREFIX)) || !strncmp(kd->path, "coordination", 12))
                return -1;
        /* Group mode: units run on views holding copies of the org's strings,
         * which a swap would leave pointing at the freed ones. */
        if (a->coord.enabled || b->coord.enabled)
                return -1;
        /* A string moves as its pointer: each config still owns what it holds. */
        memcpy(tmp, (char *)a + kd->offset, kd->size);
        memcpy((char *)a + kd->offset, (char *)b + kd->offset, kd->size);
        memcpy((char *)b + kd->offset, tmp, kd->size);
        /* The default org shares cfg->sf's pointers. */
        if (a->norgs && a->orgs[0].line == 0)
                a->orgs[0].sf = a->sf;
        if (b->norgs && b->orgs[0].line == 0)
                b->orgs[0].sf = b->sf;
        return 0;
}
