/*
 * Renders one event as the Bayeux message Salesforce delivers on /meta/connect
 * (PushTopic, platform event, Change Data Capture or generic shape), as JSON
 * text. Pure: no state but a caller-owned random generator.
 */
#ifndef SFSIM_RENDER_H
#define SFSIM_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "sbuf.h"

/** A small fast generator for EventUuid and transactionKey; not for secrets. */
struct render_rng {
        uint64_t s;
};

/** @brief Seed a generator (any value; 0 is replaced). */
void render_rng_seed(struct render_rng *rng, uint64_t seed);

/** @returns the next 64 random bits. */
uint64_t render_rng_next(struct render_rng *rng);

/** What one event looks like, apart from its replay ID and time. */
struct render_params {
        enum channel_kind kind;
        const char *channel;      /* bare channel name */
        const char *entity;       /* CDC entity name (CDC kinds only) */
        const char *change_type;  /* CREATE, UPDATE, DELETE, UNDELETE, GAP_* */
        const char *record_ids;   /* CDC: the recordIds, comma-separated, each 15..18
                                   * of [A-Za-z0-9] (checked by the caller); NULL:
                                   * made from the event's sequence number */
        unsigned records;         /* CDC without record_ids: this many made-up IDs
                                   * (a merged change); 0 or 1: one */
        const char *changed_fields; /* CDC UPDATE: the members of changedFields as JSON
                                   * text ("Name","Phone"); NULL: those of the default
                                   * payload. Other change types send [] */
        const char *transaction_key; /* CDC: shared by every event of a transaction;
                                   * NULL: a transaction of this event alone */
        unsigned sequence;        /* CDC sequenceNumber in the transaction; 0: 1 */
        int mid_transaction;      /* CDC: isTransactionEnd false (more events follow) */
        const char *schema;       /* 22-character schema ID (PE and CDC) */
        const char *user_id;      /* CreatedById, commitUser */
        size_t size;              /* pad a text field so the JSON is about this
                                   * long; 0 for the natural size */
        const char *fields;       /* NULL, or the text of one JSON object written
                                   * verbatim as data.payload (data.sobject for
                                   * PushTopic; merged after ChangeEventHeader
                                   * for CDC); size is then ignored */
        int pretty;               /* add insignificant whitespace between tokens */
};

/** @returns 1 when @p s is a change type Salesforce sends (CREATE … GAP_OVERFLOW). */
int render_change_type_valid(const char *s);

/**
 * @brief Pick the change type of the @p index th event of a publish from
 *        @p list (comma-separated, checked): one per event, the last one
 *        repeating.
 * @param out receives it (16 bytes; every valid type fits).
 */
void render_change_type_at(const char *list, size_t index, char out[16]);

/** @brief A version 4 UUID (EventUuid, transactionKey) into @p out (37 bytes). */
void render_uuid(struct render_rng *rng, char out[37]);

/**
 * @brief Derive the schema ID of a channel (+ entity): 22 base64url
 *        characters, stable for a given name.
 * @param out receives 23 bytes (NUL-terminated).
 */
void render_schema_id(const char *channel, const char *entity, char out[23]);

/**
 * @brief Append one event message to @p sb.
 * @remark rp->fields must already be checked to be one JSON object (and, for
 *         CDC, to hold no ChangeEventHeader): it is copied, not parsed.
 * @param seq        a per-channel counter used to make record IDs and names.
 * @param now_ms     wall-clock time of the event, epoch milliseconds.
 * @returns 0, or -1 when @p sb refused the append (ceiling or memory).
 */
int render_event(struct sbuf *sb, const struct render_params *rp, uint64_t replay_id,
                 uint64_t seq, int64_t now_ms, struct render_rng *rng);

/** @brief Format epoch milliseconds as 2024-01-31T12:00:00.000Z into @p out (32 bytes). */
void render_iso_time(int64_t ms, char out[32]);

#endif
