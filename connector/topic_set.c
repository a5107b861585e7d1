/*
 * Open addressing over a table of twice the cap (a power of two), so a
 * probe ends at an empty slot; FNV-1a over the topic name.
 */
#include "topic_set.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct topic_set {
        size_t max, len, mask;
        const char *last;  /* the topic admitted last (one of slots[]) */
        char **slots;
};

static uint32_t topic_hash(const char *s)
{
        uint32_t h = 2166136261u;

        while (*s)
                h = (h ^ (unsigned char)*s++) * 16777619u;
        return h;
}

struct topic_set *topic_set_new(size_t max)
{
        struct topic_set *set = calloc(1, sizeof(*set));
        size_t cap = 4;

        if (!set)
                return NULL;
        while (cap < 2 * max)
                cap *= 2;
        set->slots = calloc(cap, sizeof(*set->slots));
        if (!set->slots) {
                free(set);
                return NULL;
        }
        set->max = max;
        set->mask = cap - 1;
        return set;
}

int topic_set_admit(struct topic_set *set, const char *topic)
{
        size_t i;

        if (set->last && !strcmp(set->last, topic))
                return 1;
        for (i = topic_hash(topic) & set->mask; set->slots[i]; i = (i + 1) & set->mask) {
                if (!strcmp(set->slots[i], topic)) {
                        set->last = set->slots[i];
                        return 1;
                }
        }
        if (set->len >= set->max)
                return 0;
        if (!(set->slots[i] = strdup(topic)))
                return -1;
        set->len++;
        set->last = set->slots[i];
        return 1;
}

size_t topic_set_size(const struct topic_set *set)
{
        return set->len;
}

void topic_set_free(struct topic_set *set)
{
        size_t i;

        if (!set)
                return;
        for (i = 0; i <= set->mask; i++)
                free(set->slots[i]);
        free(set->slots);
        free(set);
}
