/*
 * Delivery allocations and the REST limits resource (see limits.h).
 */
#include "limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clients.h"
#include "cometd.h"
#include "oauth.h"
#include "sim.h"

/* An Enterprise org's allocations (reference §6): what is reported when
 * --daily-delivery-limit does not set one. */
#define DEFAULT_PLATFORM 25000
#define DEFAULT_PUSHTOPIC 200000
#define DEFAULT_GENERIC 200000
#define DEFAULT_CLIENTS 1000

static const char *const kind_names[LIMITS_NKINDS] = {
        [LIMITS_PLATFORM] = "platform",
        [LIMITS_PUSHTOPIC] = "pushtopic",
        [LIMITS_GENERIC] = "generic",
};

void limits_init(struct limits *limits, uint64_t daily)
{
        memset(limits, 0, sizeof(*limits));
        limits->enforced = daily > 0;
        limits->max[LIMITS_PLATFORM] = daily ? daily : DEFAULT_PLATFORM;
        limits->max[LIMITS_PUSHTOPIC] = daily ? daily : DEFAULT_PUSHTOPIC;
        limits->max[LIMITS_GENERIC] = daily ? daily : DEFAULT_GENERIC;
}

enum limits_kind limits_kind_of(enum channel_kind kind)
{
        switch (kind) {
        case CHANNEL_TOPIC:
                return LIMITS_PUSHTOPIC;
        case CHANNEL_GENERIC:
                return LIMITS_GENERIC;
        default:
                return LIMITS_PLATFORM;
        }
}

size_t limits_room(const struct limits *limits, enum limits_kind kind)
{
        if (!limits->enforced)
                return SIZE_MAX;
        if (limits->used[kind] >= limits->max[kind])
                return 0;
        return (size_t)(limits->max[kind] - limits->used[kind]);
}

void limits_count(struct limits *limits, enum limits_kind kind, size_t n)
{
        limits->used[kind] += n;
}

const char *limits_kind_name(enum limits_kind kind)
{
        return kind_names[kind];
}

static int add_limit(cJSON *root, const char *name, uint64_t max, uint64_t used)
{
        cJSON *obj = cJSON_AddObjectToObject(root, name);

        if (!obj || !cJSON_AddNumberToObject(obj, "Max", (double)max) ||
            !cJSON_AddNumberToObject(obj, "Remaining", (double)(used < max ? max - used : 0)))
                return -1;
        return 0;
}

/* /services/data/v<digits>.<digits>/limits, with or without the final '/'. */
static int limits_path(const char *path)
{
        const char *p = path + strlen("/services/data/v");
        size_t n;

        if (strncmp(path, "/services/data/v", strlen("/services/data/v")))
                return 0;
        n = strspn(p, "0123456789");
        if (n == 0 || p[n] != '.')
                return 0;
        p += n + 1;
        n = strspn(p, "0123456789");
        if (n == 0)
                return 0;
        p += n;
        return !strcmp(p, "/limits") || !strcmp(p, "/limits/");
}

int limits_rest_handle(struct sim *sim, const char *method, const char *path,
                       const char *authorization, char **body)
{
        char token[256];
        uint64_t serial, used[LIMITS_NKINDS], max[LIMITS_NKINDS];
        size_t live, max_clients;
        cJSON *root;
        int rc = 0, i;

        *body = NULL;
        if (!limits_path(path)) {
                *body = strdup("[{\"errorCode\":\"NOT_FOUND\",\"message\":\"The requested resource does not exist\"}]");
                return 404;
        }
        if (cometd_token_of(authorization, token, sizeof(token)) == -1 ||
            oauth_check(sim->oauth, token, &serial) == -1) {
                memset(token, 0, sizeof(token));
                *body = strdup("[{\"message\":\"Session expired or invalid\",\"errorCode\":\"INVALID_SESSION_ID\"}]");
                return 401;
        }
        memset(token, 0, sizeof(token));
        if (strcmp(method, "GET")) {
                *body = strdup("[{\"errorCode\":\"METHOD_NOT_ALLOWED\",\"message\":\"Method not allowed\"}]");
                return 405;
        }
        pthread_mutex_lock(&sim->lock);
        for (i = 0; i < LIMITS_NKINDS; i++) {
                used[i] = sim->limits.used[i];
                max[i] = sim->limits.max[i];
        }
        live = clients_count_locked(sim->clients, sim_now_ms());
        pthread_mutex_unlock(&sim->lock);
        max_clients = sim->cfg.max_clients ? sim->cfg.max_clients : DEFAULT_CLIENTS;

        /* Salesforce lists its limits by name; these are the streaming ones. */
        root = cJSON_CreateObject();
        if (!root)
                return 500;
        rc |= add_limit(root, "DailyDeliveredPlatformEvents", max[LIMITS_PLATFORM], used[LIMITS_PLATFORM]);
        rc |= add_limit(root, "DailyDurableGenericStreamingApiEvents", max[LIMITS_GENERIC],
                        used[LIMITS_GENERIC]);
        rc |= add_limit(root, "DailyDurableStreamingApiEvents", max[LIMITS_PUSHTOPIC], used[LIMITS_PUSHTOPIC]);
        rc |= add_limit(root, "DurableStreamingApiConcurrentClients", max_clients, live);
        if (rc == 0)
                *body = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        return *body ? 200 : 500;
}
