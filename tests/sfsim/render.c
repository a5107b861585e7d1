/*
 * Event shapes, copied from the Salesforce samples in
 * shared/reference/salesforce-streaming.md §5: the replay ID always sits at
 * data.event.replayId; PushTopic adds createdDate and type and carries the
 * record in data.sobject; platform events carry data.schema, data.payload and
 * data.event.EventUuid; CDC carries data.payload.ChangeEventHeader. A text
 * field is padded so that benchmarks can ask for events of a given size.
 */
#include "render.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void render_rng_seed(struct render_rng *rng, uint64_t seed)
{
        rng->s = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

uint64_t render_rng_next(struct render_rng *rng)
{
        /* xorshift64*: plenty for UUIDs that only need to differ. */
        rng->s ^= rng->s >> 12;
        rng->s ^= rng->s << 25;
        rng->s ^= rng->s >> 27;
        return rng->s * 0x2545f4914f6cdd1dULL;
}

static const char *const change_types[] = {
        "CREATE", "UPDATE", "DELETE", "UNDELETE",
        "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW",
};

int render_change_type_valid(const char *s)
{
        size_t i;

        for (i = 0; i < sizeof(change_types) / sizeof(change_types[0]); i++)
                if (!strcmp(s, change_types[i]))
                        return 1;
        return 0;
}

void render_change_type_at(const char *list, size_t index, char out[16])
{
        const char *p = list, *comma;
        size_t len;

        /* The index th member, or the last one when the list is shorter. */
        while (index-- && (comma = strchr(p, ',')))
                p = comma + 1;
        len = strcspn(p, ",");
        snprintf(out, 16, "%.*s", (int)(len < 15 ? len : 15), p);
}

static uint64_t fnv1a(const char *s, uint64_t h)
{
        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 0x100000001b3ULL;
        }
        return h;
}

void render_schema_id(const char *channel, const char *entity, char out[23])
{
        static const char b64[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        struct render_rng rng;
        int i;

        render_rng_seed(&rng, fnv1a(entity ? entity : "", fnv1a(channel, 0xcbf29ce484222325ULL)));
        for (i = 0; i < 22; i++)
                out[i] = b64[render_rng_next(&rng) >> 58];
        out[22] = '\0';
}

void render_iso_time(int64_t ms, char out[32])
{
        time_t secs = (time_t)(ms / 1000);
        unsigned millis = (unsigned)(ms % 1000) % 1000u;
        struct tm tm;
        size_t n;

        gmtime_r(&secs, &tm);
        n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out + n, 32 - n, ".%03uZ", millis);
}

void render_uuid(struct render_rng *rng, char out[37])
{
        uint64_t hi = render_rng_next(rng), lo = render_rng_next(rng);

        /* Version 4, variant 10xx, as java.util.UUID.randomUUID() makes them. */
        hi = (hi & ~0xf000ULL) | 0x4000ULL;
        lo = (lo & ~(3ULL << 62)) | (2ULL << 62);
        snprintf(out, 37, "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
                 hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48,
                 lo & (uint64_t)0xffffffffffffULL);
}

/* Record IDs look like Salesforce's 18-character IDs with the object's key prefix. */
static void record_id(const char *entity, uint64_t seq, char out[19])
{
        static const struct {
                const char *entity, *prefix;
        } prefixes[] = {
                { "Account", "001" }, { "Contact", "003" }, { "Opportunity", "006" },
                { "Lead", "00Q" },    { "Case", "500" },    { "User", "005" },
        };
        const char *prefix = "a00";
        size_t i;

        for (i = 0; entity && i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
                if (!strcmp(entity, prefixes[i].entity))
                        prefix = prefixes[i].prefix;
        snprintf(out, 19, "%s%012" PRIu64 "AAA", prefix, seq % (uint64_t)1000000000000ULL);
}

/*
 * ChangeEventHeader.recordIds' members. Salesforce merges the same change of
 * several records of one entity in one transaction into one event with all
 * their IDs (CDC guide, "Merged Change Events"); an overflow event
 * (GAP_OVERFLOW) names no record at all, so the caller sends [] for it.
 */
static int append_record_ids(struct sbuf *sb, const struct render_params *rp, uint64_t seq)
{
        const char *p = rp->record_ids;
        unsigned k, n = rp->records > 1 ? rp->records : 1;
        char id[19];

        if (p) {
                for (;;) {
                        size_t len = strcspn(p, ",");

                        if (sbuf_printf(sb, "%s\"%.*s\"", p == rp->record_ids ? "" : ",", (int)len,
                                        p) == -1)
                                return -1;
                        if (!p[len])
                                return 0;
                        p += len + 1;
                }
        }
        for (k = 0; k < n; k++) {
                /* A merged change's IDs differ from each other and from the
                 * single-record events' (numbered by seq alone). */
                record_id(rp->entity, n == 1 ? seq : seq * 1000 + 1000000000 + k, id);
                if (sbuf_printf(sb, "%s\"%s\"", k ? "," : "", id) == -1)
                        return -1;
        }
        return 0;
}

/* The padding pattern: readable, cheap to copy, no JSON escaping needed. */
static const char pad_pattern[] =
        " Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod"
        " tempor incididunt ut labore et dolore magna aliqua.";

static int append_pad(struct sbuf *sb, size_t n)
{
        size_t chunk, plen = sizeof(pad_pattern) - 1;

        if (sbuf_reserve(sb, n) == -1)
                return -1;
        while (n) {
                chunk = n < plen ? n : plen;
                memcpy(sb->data + sb->len, pad_pattern, chunk);
                sb->len += chunk;
                n -= chunk;
        }
        sb->data[sb->len] = '\0';
        return 0;
}

static const char *topic_type(const char *change_type)
{
        const char *ct = change_type;

        if (!strncmp(ct, "GAP_", 4))
                ct += 4;
        if (!strcmp(ct, "UPDATE"))
                return "updated";
        if (!strcmp(ct, "DELETE"))
                return "deleted";
        if (!strcmp(ct, "UNDELETE"))
                return "undeleted";
        return "created";
}

/* CR LF and @p depth tabs; with the spaces around ':', every whitespace JSON allows. */
static int newline(struct sbuf *sb, size_t depth)
{
        if (sbuf_puts(sb, "\r\n") == -1 || sbuf_reserve(sb, depth) == -1)
                return -1;
        memset(sb->data + sb->len, '\t', depth);
        sb->len += depth;
        sb->data[sb->len] = '\0';
        return 0;
}

/*
 * Change events: the given members follow the header inside data.payload,
 * copied as they are (whitespace included); an empty object adds nothing.
 */
static int append_cdc_fields(struct sbuf *sb, const char *fields)
{
        const char *open = strchr(fields, '{'), *close = strrchr(fields, '}'), *p;

        for (p = open + 1; p < close && strchr(" \t\r\n", *p); p++)
                ;
        if (p < close && sbuf_puts(sb, ",") == -1)
                return -1;
        if (sbuf_append(sb, open + 1, (size_t)(close - open - 1)) == -1)
                return -1;
        return sbuf_puts(sb, "}");
}

/*
 * Re-emit the message that starts at @p start with insignificant whitespace
 * of every kind JSON allows (CR LF, tabs, spaces) around the structural
 * characters, outside strings; every token stays as it was.
 */
static int prettify(struct sbuf *sb, size_t start)
{
        size_t len = sb->len - start, i, depth = 0;
        char *text = malloc(len + 1);
        int in_string = 0, escaped = 0, rc = 0;

        if (!text)
                return -1;
        memcpy(text, sb->data + start, len + 1);
        sb->len = start;
        sb->data[start] = '\0';
        for (i = 0; i < len && rc == 0; i++) {
                char c = text[i];

                if (in_string) {
                        if (escaped)
                                escaped = 0;
                        else if (c == '\\')
                                escaped = 1;
                        else if (c == '"')
                                in_string = 0;
                        rc = sbuf_append(sb, &c, 1);
                        continue;
                }
                switch (c) {
                case '{':
                case '[':
                        rc = sbuf_append(sb, &c, 1);
                        depth++;
                        rc |= newline(sb, depth);
                        break;
                case '}':
                case ']':
                        depth -= depth > 0;
                        rc = newline(sb, depth);
                        rc |= sbuf_append(sb, &c, 1);
                        break;
                case ',':
                        rc = sbuf_append(sb, &c, 1);
                        rc |= newline(sb, depth);
                        break;
                case ':':
                        rc = sbuf_puts(sb, " : ");
                        break;
                default:
                        in_string = c == '"';
                        rc = sbuf_append(sb, &c, 1);
                }
        }
        free(text);
        return rc ? -1 : 0;
}

/*
 * Standard platform events of Real-Time Event Monitoring (LoginEventStream,
 * LogoutEventStream, ApiEventStream, ...). Every stream carries the fields
 * all of them document (Platform Events Developer Guide, the object pages
 * of LoginEventStream, LogoutEventStream, ApiEventStream): EventDate,
 * EventIdentifier, EventUuid (also in data.event, as for custom events),
 * UserId, Username, SessionKey, LoginKey, SourceIp, CreatedDate.
 * LoginEventStream adds a chosen subset of its documented fields: LoginUrl,
 * LoginType, Application, Browser, Platform, Status, UserType, SessionLevel,
 * CountryIso, TlsProtocol, CipherSuite, ApiType and ApiVersion. Salesforce also
 * sends the fields it has no value for as null; sfsim leaves them out. The
 * last field is AdditionalInfo, the JSON text of extra HTTP headers
 * (documented for LoginEventStream; on the other streams it is sfsim's own),
 * whose one string grows with size=; it is left open for the caller.
 */
static int standard_payload(struct sbuf *sb, const struct render_params *rp, uint64_t seq,
                            const char *when, const char *uid, struct render_rng *rng)
{
        char ident[37], session[17], login[17];
        uint64_t r = render_rng_next(rng);

        render_uuid(rng, ident);
        snprintf(session, sizeof(session), "%016" PRIx64, render_rng_next(rng));
        snprintf(login, sizeof(login), "%016" PRIx64, render_rng_next(rng));
        if (sbuf_printf(sb,
                        "{\"EventDate\":\"%s\",\"EventIdentifier\":\"%s\",\"EventUuid\":\"%s\","
                        "\"UserId\":\"%s\",\"Username\":\"integration.user@sfsim.example\","
                        "\"SessionKey\":\"%s\",\"LoginKey\":\"%s\",\"SourceIp\":\"203.0.113.%u\","
                        "\"CreatedDate\":\"%s\"",
                        when, ident, uid, rp->user_id, session, login, (unsigned)(r % 254 + 1),
                        when) == -1)
                return -1;
        if (!strcmp(rp->channel, "/event/LoginEventStream") &&
            sbuf_puts(sb,
                      ",\"LoginUrl\":\"login.salesforce.com\",\"LoginType\":\"Remote Access 2.0\","
                      "\"Application\":\"sfsim\",\"Browser\":\"Unknown\",\"Platform\":\"Unknown\","
                      "\"Status\":\"Success\",\"UserType\":\"Standard\",\"SessionLevel\":\"STANDARD\","
                      "\"CountryIso\":\"US\",\"TlsProtocol\":\"TLS 1.3\","
                      "\"CipherSuite\":\"TLS_AES_256_GCM_SHA384\",\"ApiType\":\"REST API\","
                      "\"ApiVersion\":\"59.0\"") == -1)
                return -1;
        return sbuf_printf(sb, ",\"AdditionalInfo\":\"{\\\"sfsim\\\":\\\"Event %" PRIu64, seq);
}

int render_event(struct sbuf *sb, const struct render_params *rp, uint64_t replay_id,
                 uint64_t seq, int64_t now_ms, struct render_rng *rng)
{
        char when[32], id[19], uid[37], tail[768];
        const char *ct = rp->change_type ? rp->change_type : "CREATE";
        const char *close = "\"}"; /* ends the default payload after its text */
        size_t start = sb->len, tail_len, pad;
        int padded = 1, n = 0, cdc = 0;

        render_iso_time(now_ms, when);
        /*
         * Each shape is written as head + payload + tail. The default payload
         * ends with a text field that padding grows, closed by close; tail is
         * formatted first so the pad length is known before anything is
         * appended. Given fields replace the default payload.
         */
        switch (rp->kind) {
        case CHANNEL_TOPIC:
                record_id("Account", seq, id);
                if (sbuf_printf(sb,
                                "{\"data\":{\"event\":{\"createdDate\":\"%s\",\"replayId\":%" PRIu64
                                ",\"type\":\"%s\"},\"sobject\":",
                                when, replay_id, topic_type(ct)) == -1 ||
                    (!rp->fields && sbuf_printf(sb,
                                                "{\"Id\":\"%s\",\"Name\":\"Account %" PRIu64
                                                "\",\"Description\":\"Event %" PRIu64,
                                                id, seq, seq) == -1))
                        goto fail;
                n = snprintf(tail, sizeof(tail), "},\"channel\":\"%s\"}", rp->channel);
                break;
        case CHANNEL_EVENT_STD:
                render_uuid(rng, uid);
                if (sbuf_printf(sb, "{\"data\":{\"schema\":\"%s\",\"payload\":", rp->schema) == -1 ||
                    (!rp->fields && standard_payload(sb, rp, seq, when, uid, rng) == -1))
                        goto fail;
                close = "\\\"}\"}"; /* ends the string inside AdditionalInfo's JSON text */
                n = snprintf(tail, sizeof(tail),
                             ",\"event\":{\"EventUuid\":\"%s\",\"replayId\":%" PRIu64
                             "}},\"channel\":\"%s\"}",
                             uid, replay_id, rp->channel);
                break;
        case CHANNEL_EVENT:
        case CHANNEL_EVENT_CHN:
                render_uuid(rng, uid);
                if (sbuf_printf(sb, "{\"data\":{\"schema\":\"%s\",\"payload\":",
                                rp->schema) == -1 ||
                    (!rp->fields && sbuf_printf(sb,
                                                "{\"CreatedDate\":\"%s\",\"CreatedById\":\"%s\","
                                                "\"Message__c\":\"Event %" PRIu64,
                                                when, rp->user_id, seq) == -1))
                        goto fail;
                n = snprintf(tail, sizeof(tail),
                             ",\"event\":{\"EventUuid\":\"%s\",\"replayId\":%" PRIu64
                             "}},\"channel\":\"%s\"}",
                             uid, replay_id, rp->channel);
                break;
        case CHANNEL_CDC_ALL:
        case CHANNEL_CDC_ENTITY:
        case CHANNEL_CDC_CHN:
                cdc = 1;
                render_uuid(rng, uid);
                /*
                 * The header as the CometD API sends it (the CDC guide's
                 * examples): changedFields lists an UPDATE's changed fields
                 * and is empty for other types; diffFields and nulledFields
                 * are Pub/Sub API only (a nulled field comes as "F":null in
                 * CometD). Events of one transaction share transactionKey,
                 * count sequenceNumber from 1, and only the last has
                 * isTransactionEnd true.
                 */
                if (sbuf_printf(sb,
                                "{\"data\":{\"schema\":\"%s\",\"payload\":{\"ChangeEventHeader\":{"
                                "\"entityName\":\"%s\",\"recordIds\":[",
                                rp->schema, rp->entity) == -1 ||
                    (strcmp(ct, "GAP_OVERFLOW") && append_record_ids(sb, rp, seq) == -1) ||
                    sbuf_printf(sb, "],\"changeType\":\"%s\",\"changedFields\":[%s],", ct,
                                strcmp(ct, "UPDATE")  ? ""
                                : rp->changed_fields ? rp->changed_fields
                                : rp->fields          ? ""
                                                      : "\"LastModifiedDate\",\"Description\"") == -1 ||
                    sbuf_printf(sb,
                                "\"changeOrigin\":\"com/salesforce/api/soap/59.0;client=sfsim\","
                                "\"transactionKey\":\"%s\",\"sequenceNumber\":%u,\"isTransactionEnd\":%s,"
                                "\"commitTimestamp\":%" PRId64 ",\"commitNumber\":%" PRIu64
                                ",\"commitUser\":\"%s\"}",
                                rp->transaction_key ? rp->transaction_key : uid,
                                rp->sequence ? rp->sequence : 1u,
                                rp->mid_transaction ? "false" : "true", now_ms,
                                replay_id * 1000 + 7, rp->user_id) == -1)
                        goto fail;
                n = snprintf(tail, sizeof(tail),
                             ",\"event\":{\"replayId\":%" PRIu64 "}},\"channel\":\"%s\"}",
                             replay_id, rp->channel);
                if (rp->fields)
                        break;
                /* DELETE and gap events carry the header only, as Salesforce sends them. */
                if (!strcmp(ct, "DELETE") || !strncmp(ct, "GAP_", 4)) {
                        padded = 0;
                        close = "}";
                        break;
                }
                if (!strcmp(ct, "UPDATE") || !strcmp(ct, "GAP_UPDATE")) {
                        if (sbuf_printf(sb, ",\"LastModifiedDate\":\"%s\",\"Description\":\"Change %" PRIu64,
                                        when, seq) == -1)
                                goto fail;
                } else if (sbuf_printf(sb,
                                       ",\"Name\":\"%s %" PRIu64 "\",\"OwnerId\":\"%s\",\"CreatedDate\":\"%s\","
                                       "\"CreatedById\":\"%s\",\"LastModifiedDate\":\"%s\","
                                       "\"LastModifiedById\":\"%s\",\"Description\":\"Change %" PRIu64,
                                       rp->entity, seq, rp->user_id, when, rp->user_id, when,
                                       rp->user_id, seq) == -1) {
                        goto fail;
                }
                break;
        case CHANNEL_GENERIC:
                if (sbuf_printf(sb,
                                "{\"data\":{\"event\":{\"createdDate\":\"%s\",\"replayId\":%" PRIu64
                                "},\"payload\":",
                                when, replay_id) == -1 ||
                    (!rp->fields && sbuf_printf(sb, "\"Event %" PRIu64, seq) == -1))
                        goto fail;
                close = "\"";
                n = snprintf(tail, sizeof(tail), "},\"channel\":\"%s\"}", rp->channel);
                break;
        default:
                return -1;
        }
        if (n < 0 || (size_t)n >= sizeof(tail))
                goto fail;
        tail_len = (size_t)n;
        if (rp->fields) {
                if ((cdc ? append_cdc_fields(sb, rp->fields) : sbuf_puts(sb, rp->fields)) == -1)
                        goto fail;
        } else {
                pad = 0;
                if (padded && rp->size > sb->len - start + strlen(close) + tail_len)
                        pad = rp->size - (sb->len - start) - strlen(close) - tail_len;
                if (append_pad(sb, pad) == -1 || sbuf_puts(sb, close) == -1)
                        goto fail;
        }
        if (sbuf_append(sb, tail, tail_len) == -1 || (rp->pretty && prettify(sb, start) == -1))
                goto fail;
        return 0;
fail:
        sb->len = start;
        if (sb->data)
                sb->data[start] = '\0';
        return -1;
}
