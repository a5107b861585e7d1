/*
 * Two loads of one configuration file compared key by key, from the key
 * table, and credentials moved from the new load into the running one:
 * what SIGHUP needs to apply rotated secrets without a restart. Driven by
 * the table, so a key added later is compared without touching this file.
 */
#include "config_internal.h"

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

static int properties_differ(const struct config *a, const struct config *b)
{
        size_t i;

        if (a->kafka.nproperties != b->kafka.nproperties)
                return 1;
        for (i = 0; i < a->kafka.nproperties; i++)
                if (str_differs(a->kafka.properties[i].name, b->kafka.properties[i].name) ||
                    str_differs(a->kafka.properties[i].value, b->kafka.properties[i].value))
                        return 1;
        return 0;
}

size_t config_diff(const struct config *a, const struct config *b,
                   void (*fn)(const char *path, void *arg), void *arg)
{
        size_t k, n = 0;

        for (k = 0; k < CONFIG_NKEYS; k++) {
                const struct key_def *kd = &config_keys[k];
                int differs = 0;

                if (config_key_is_route(kd))
                        continue;
                if (kd->type == KEY_LIST)
                        differs = routes_differ(a, b);
                else if (kd->type == KEY_PROPERTIES)
                        differs = properties_differ(a, b);
                else if (kd->type != KEY_MAP && kd->size)
                        differs = field_differs(kd, a, b);
                if (differs) {
                        n++;
                        if (fn)
                                fn(kd->path, arg);
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
            kd->type == KEY_MAP || kd->type == KEY_LIST || kd->type == KEY_PROPERTIES)
                return -1;
        /* A string moves as its pointer: each config still owns what it holds. */
        memcpy(tmp, (char *)a + kd->offset, kd->size);
        memcpy((char *)a + kd->offset, (char *)b + kd->offset, kd->size);
        memcpy((char *)b + kd->offset, tmp, kd->size);
        return 0;
}
