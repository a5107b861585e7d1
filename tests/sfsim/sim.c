/*
 * The emulator's shared state (see sim.h): construction, the clock, the
 * condition variable, and the stats document.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "channel.h"
#include "clients.h"
#include "oauth.h"
#include "store.h"

int64_t sim_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sim_wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct sim *sim_new(const struct sim_config *cfg, const char *url, char *errstr,
                    size_t errstr_size)
{
        pthread_condattr_t attr;
        struct sim *sim = calloc(1, sizeof(*sim));

        if (!sim) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        sim->cfg = *cfg;
        snprintf(sim->url, sizeof(sim->url), "%s", url);
        /* The user ID shares the org ID's 12 middle digits: 005 + … + AAA. */
        snprintf(sim->user_id, sizeof(sim->user_id), "005%.12sAAA", cfg->org_id + 3);
        pthread_mutex_init(&sim->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&sim->cond, &attr);
        pthread_condattr_destroy(&attr);

        sim->store = store_new(cfg->retention, cfg->retention_age_s, sim->user_id,
                               cfg->first_replay_id);
        sim->clients = clients_new(cfg->client_expiry_ms, cfg->max_clients);
        limits_init(&sim->limits, cfg->daily_delivery_limit);
        if (!sim->store || !sim->clients) {
                snprintf(errstr, errstr_size, "out of memory");
                sim_destroy(sim);
                return NULL;
        }
        sim->oauth = oauth_new(cfg, sim->url, sim->user_id, errstr, errstr_size);
        if (!sim->oauth) {
                sim_destroy(sim);
                return NULL;
        }
        /* Until sfsim.c opens instance hosts, the login URL serves everything. */
        snprintf(sim->instance_url[0], sizeof(sim->instance_url[0]), "%s", sim->url);
        sim->ninstances = 1;
        return sim;
}

void sim_set_instances(struct sim *sim, char urls[][256], int n)
{
        int i;

        for (i = 0; i < n && i < SIM_INSTANCES; i++)
                snprintf(sim->instance_url[i], sizeof(sim->instance_url[i]), "%s", urls[i]);
        sim->ninstances = i;
        sim->instance = 0;
        oauth_set_instance_url(sim->oauth, sim->instance_url[0]);
}

void sim_move_instance_locked(struct sim *sim)
{
        if (sim->ninstances < 2)
                return;
        sim->instance = (sim->instance + 1) % sim->ninstances;
        sim->instance_gen++;
        oauth_set_instance_url(sim->oauth, sim->instance_url[sim->instance]);
        /* The org's sessions lived on the instance it left: a client between
         * long-polls would otherwise hold a slot of the org's cap until it
         * expired, as no request of it reaches the CometD code again. A held
         * poll still answers with the revocation (see connect's loop). */
        clients_forget_all_locked(sim->clients);
        sim_pollers_changed_locked(sim);
        sim_wake_all_locked(sim);
}

int sim_instance_current_locked(const struct sim *sim, int index)
{
        return index == sim->instance;
}

void sim_destroy(struct sim *sim)
{
        if (!sim)
                return;
        oauth_destroy(sim->oauth);
        clients_destroy(sim->clients);
        store_destroy(sim->store);
        pthread_cond_destroy(&sim->cond);
        pthread_mutex_destroy(&sim->lock);
        free(sim);
}

void sim_wake_all_locked(struct sim *sim)
{
        pthread_cond_broadcast(&sim->cond);
}

void sim_wait_locked(struct sim *sim, int64_t deadline_ms)
{
        struct timespec ts;

        ts.tv_sec = (time_t)(deadline_ms / 1000);
        ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000;
        pthread_cond_timedwait(&sim->cond, &sim->lock, &ts);
}

int sim_channel_exists(const struct sim *sim, const char *name)
{
        size_t i;

        if (channel_classify(name, NULL, 0) == CHANNEL_INVALID)
                return 0;
        for (i = 0; i < sim->cfg.nmissing; i++)
                if (!strcmp(sim->cfg.missing[i], name))
                        return 0;
        return 1;
}

void sim_pollers_changed_locked(struct sim *sim)
{
        store_pollers_tally_begin_locked(sim->store);
        clients_tally_pollers_locked(sim->clients);
        store_pollers_tally_end_locked(sim->store, sim_now_ms());
}

char *sim_clients_json(struct sim *sim)
{
        cJSON *root = cJSON_CreateObject(), *arr;
        char *text = NULL;
        int rc;

        if (!root)
                return NULL;
        arr = cJSON_AddArrayToObject(root, "clients");
        pthread_mutex_lock(&sim->lock);
        rc = arr ? clients_json_locked(sim->clients, arr, sim_now_ms()) : -1;
        pthread_mutex_unlock(&sim->lock);
        if (rc == 0)
                text = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        return text;
}

char *sim_pollers_reset(struct sim *sim)
{
        char text[64];
        size_t n;

        pthread_mutex_lock(&sim->lock);
        n = store_pollers_reset_locked(sim->store, sim_now_ms());
        pthread_mutex_unlock(&sim->lock);
        snprintf(text, sizeof(text), "{\"reset\":%zu}", n);
        return strdup(text);
}

static int add_count(cJSON *obj, const char *name, uint64_t n)
{
        return cJSON_AddNumberToObject(obj, name, (double)n) ? 0 : -1;
}

char *sim_stats_json(struct sim *sim)
{
        cJSON *root = cJSON_CreateObject(), *channels, *faults, *deliveries, *pollers;
        char *text = NULL;
        int rc = 0, i;

        if (!root)
                return NULL;
        pthread_mutex_lock(&sim->lock);
        rc |= add_count(root, "handshakes", sim->stats.handshakes);
        rc |= add_count(root, "handshakes_denied", sim->stats.handshakes_denied);
        rc |= add_count(root, "clients_refused", sim->stats.clients_refused);
        rc |= add_count(root, "connects", sim->stats.connects);
        rc |= add_count(root, "subscribes", sim->stats.subscribes);
        rc |= add_count(root, "unsubscribes", sim->stats.unsubscribes);
        rc |= add_count(root, "disconnects", sim->stats.disconnects);
        rc |= add_count(root, "events_delivered", sim->stats.events_delivered);
        rc |= add_count(root, "http_requests", sim->stats.http_requests);
        rc |= add_count(root, "wrong_host", sim->stats.wrong_host);
        rc |= add_count(root, "lb_refused", sim->stats.lb_refused);
        rc |= add_count(root, "tokens_issued", oauth_tokens_issued(sim->oauth));
        rc |= add_count(root, "clients", clients_count_locked(sim->clients, sim_now_ms()));
        rc |= add_count(root, "clients_peak", clients_peak_locked(sim->clients));
        deliveries = cJSON_AddObjectToObject(root, "deliveries");
        for (i = 0; deliveries && i < LIMITS_NKINDS; i++)
                rc |= add_count(deliveries, limits_kind_name((enum limits_kind)i), sim->limits.used[i]);
        if (!deliveries)
                rc = -1;
        rc |= cJSON_AddStringToObject(root, "instance_url", sim->instance_url[sim->instance]) ? 0 : -1;
        faults = cJSON_AddObjectToObject(root, "faults");
        for (i = 0; faults && i < FAULT_COUNT; i++) {
                if (faults_armed(&sim->faults, (enum fault_kind)i))
                        rc |= cJSON_AddNumberToObject(faults, fault_name((enum fault_kind)i),
                                                      (double)sim->faults.f[i].left)
                                      ? 0
                                      : -1;
        }
        channels = cJSON_AddObjectToObject(root, "channels");
        if (!faults || !channels || store_stats_locked(sim->store, channels) == -1)
                rc = -1;
        pollers = cJSON_AddObjectToObject(root, "pollers");
        if (!pollers || store_pollers_stats_locked(sim->store, pollers, sim_now_ms()) == -1)
                rc = -1;
        pthread_mutex_unlock(&sim->lock);
        if (rc == 0)
                text = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        return text;
}
