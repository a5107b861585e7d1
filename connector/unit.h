/*
 * One unit of work (HA.md §2.2) and everything that runs it: a Salesforce
 * session, a Kafka producer with the unit's own transactional.id, the
 * replay store of its org and its owner record. Each /meta/connect batch
 * goes router -> sink -> replay commit -> next connect. A single instance
 * runs one unit made of the whole config; a replica of a group runs the
 * units the group assigned to it (bridge.c).
 */
#ifndef SFB_UNIT_H
#define SFB_UNIT_H

#include <signal.h>
#include <stddef.h>
#include "config.h"
#include "http.h"

/* What a step of a unit came to. */
enum unit_status {
        UNIT_OK = 0,
        UNIT_STOPPED = 1,  /* a stop was asked for while a start step waited */
        UNIT_FAILED = -1,  /* cannot go on (errstr): exit 3, or FAILED in a group */
        UNIT_LOST = -2,    /* group mode: a newer owner claimed it, or the broker fenced its
                            * producer (unit_lost_cause()); it must never commit again */
        UNIT_RETRY = -3    /* group mode claim: Kafka did not answer; try again later */
};

struct unit_env {
        struct http *http;            /* shared by every unit: one multi handle */
        int wake_fd;                  /* readable when a signal arrived, or -1 */
        volatile sig_atomic_t *stop;  /* a start step gives up once set */
        size_t slot;                  /* metrics slot: the unit's index in cfg->units */
        int group_mode;               /* a replica group's unit (see unit_claim()) */
        const char *member_id;        /* group mode: named in the owner records */
};

struct unit;

/**
 * @returns a new unit running @p cfg (a unit's view, or a whole config in
 *          single-instance mode), free with unit_destroy(); NULL with errstr.
 * @remark cfg and env->http are borrowed and must outlive the unit.
 */
struct unit *unit_new(const struct config *cfg, const struct unit_env *env, char *errstr,
                      size_t errstr_size);
void unit_destroy(struct unit *u);

/**
 * @brief Single-instance start: prove the start (log in, subscribe every
 *        route from -1, Kafka reachable) before disturbing a running
 *        instance, then take the transactional.id, claim the name, wait for
 *        a live previous owner's release, read the replay IDs and start the
 *        session. Retries transient trouble with backoff.
 * @returns UNIT_OK, UNIT_STOPPED or UNIT_FAILED (errstr).
 */
int unit_start(struct unit *u, char *errstr, size_t errstr_size);

/**
 * @brief Group mode start, one call per try: init_transactions (fences the
 *        previous owner on a real broker), write the owner record, wait
 *        coordination.claim_grace_ms, read the replay IDs; the session
 *        then logs in and subscribes (no probe: the group chose this owner).
 *        Each Kafka step waits at most 5 s.
 * @returns UNIT_OK (claimed: unit_turn() from now on), UNIT_RETRY (call
 *          again after a backoff), UNIT_FAILED or UNIT_LOST (errstr).
 */
int unit_claim(struct unit *u, char *errstr, size_t errstr_size);

/**
 * @brief One turn of the run loop: Kafka callbacks, a held commit's retry,
 *        the owner-record watch, then the session and every batch it holds.
 * @param took  set non-zero when a batch was taken (poll again at once).
 * @returns UNIT_OK, UNIT_FAILED or UNIT_LOST (errstr).
 */
int unit_turn(struct unit *u, int *took, char *errstr, size_t errstr_size);

/** @returns how long the loop may wait for the network before the unit's next turn, at most cap_ms. */
int unit_timeout_ms(const struct unit *u, int cap_ms);

/** @returns 1 once handshaken with every route's subscribe answered. */
int unit_subscribed(const struct unit *u);

/** @returns after UNIT_LOST: "owner_record" or "producer". */
const char *unit_lost_cause(const struct unit *u);

/** @brief SIGHUP changed the credentials: a login refused with the old ones is retried now. */
void unit_credentials_changed(struct unit *u);

/**
 * @brief Planned stop (SIGTERM, a revoked unit): no new /meta/connect;
 *        commit the open batch if Kafka takes it within 2 s, else abort;
 *        flush (at_least_once); /meta/disconnect (1 s); release the owner
 *        record. Bounded (about 7 s when Kafka is down).
 */
void unit_drain(struct unit *u);

/**
 * @brief After UNIT_FAILED: abort the open batch and release the owner
 *        record (nothing else of this unit will commit), /meta/disconnect.
 */
void unit_fail(struct unit *u);

/**
 * @brief Give the unit up without a word to Kafka (lost assignment, pause,
 *        fenced): never commit again, drop what is queued, best-effort
 *        /meta/disconnect (1 s) so Salesforce frees the client.
 */
void unit_abandon(struct unit *u);

#endif
