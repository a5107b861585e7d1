/*
 * Channel names as Salesforce accepts them: /topic/X, /event/X__e,
 * /event/X__chn (custom channel), /event/<Standard> (LoginEventStream and
 * the other standard platform events: an API name without __ suffix),
 * /data/ChangeEvents, /data/<Object>ChangeEvent, /data/X__chn (custom
 * channel) and /u/X. Names are limited to [A-Za-z0-9_] after the prefix so
 * that they can be written into event JSON without escaping. The rules are
 * sfbridge's (connector/config_keys.c), written again here so that the
 * emulator does not share the code it tests.
 */
#include "channel.h"

#include <stdio.h>
#include <string.h>

static int is_word(const char *s, size_t n)
{
        size_t i;

        if (n == 0)
                return 0;
        for (i = 0; i < n; i++) {
                char c = s[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '_'))
                        return 0;
        }
        return 1;
}

int channel_entity_valid(const char *s)
{
        size_t n = strlen(s);

        return n < CHANNEL_ENTITY_MAX && is_word(s, n);
}

int channel_base(const char *subscription, char *out, size_t out_size)
{
        size_t n = strcspn(subscription, "?");

        if (n >= out_size)
                return -1;
        memcpy(out, subscription, n);
        out[n] = '\0';
        return 0;
}

static int has_prefix(const char *s, const char *prefix, const char **rest)
{
        size_t n = strlen(prefix);

        if (strncmp(s, prefix, n))
                return 0;
        *rest = s + n;
        return 1;
}

static int has_suffix(const char *s, size_t n, const char *suffix)
{
        size_t m = strlen(suffix);

        return n > m && !memcmp(s + n - m, suffix, m);
}

enum channel_kind channel_classify(const char *name, char *entity, size_t entity_size)
{
        const char *rest;
        size_t n;

        if (entity && entity_size)
                entity[0] = '\0';
        if (strlen(name) >= CHANNEL_NAME_MAX)
                return CHANNEL_INVALID;
        if (has_prefix(name, "/topic/", &rest))
                return is_word(rest, strlen(rest)) ? CHANNEL_TOPIC : CHANNEL_INVALID;
        if (has_prefix(name, "/u/", &rest))
                return is_word(rest, strlen(rest)) ? CHANNEL_GENERIC : CHANNEL_INVALID;
        if (has_prefix(name, "/event/", &rest)) {
                n = strlen(rest);
                if (!is_word(rest, n))
                        return CHANNEL_INVALID;
                if (has_suffix(rest, n, "__e"))
                        return CHANNEL_EVENT;
                if (has_suffix(rest, n, "__chn"))
                        return CHANNEL_EVENT_CHN;
                /* A standard event: starts with a letter, no "__", no trailing _. */
                if (strstr(rest, "__") || rest[n - 1] == '_' ||
                    !((rest[0] >= 'a' && rest[0] <= 'z') || (rest[0] >= 'A' && rest[0] <= 'Z')))
                        return CHANNEL_INVALID;
                return CHANNEL_EVENT_STD;
        }
        if (has_prefix(name, "/data/", &rest)) {
                n = strlen(rest);
                if (!strcmp(rest, "ChangeEvents"))
                        return CHANNEL_CDC_ALL;
                if (is_word(rest, n) && has_suffix(rest, n, "__chn"))
                        return CHANNEL_CDC_CHN;
                if (!is_word(rest, n) || !has_suffix(rest, n, "ChangeEvent"))
                        return CHANNEL_INVALID;
                n -= strlen("ChangeEvent");
                if (entity && entity_size) {
                        /* Custom objects: Custom__ChangeEvent carries Custom__c. */
                        int custom = n > 2 && rest[n - 1] == '_' && rest[n - 2] == '_';

                        snprintf(entity, entity_size, "%.*s%s", (int)n, rest, custom ? "c" : "");
                }
                return CHANNEL_CDC_ENTITY;
        }
        return CHANNEL_INVALID;
}
