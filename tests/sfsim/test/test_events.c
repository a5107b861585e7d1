/*
 * sfsim's event shapes (PushTopic, platform event, Change Data Capture,
 * generic), replay IDs (strictly increasing, with gaps, deterministic per
 * channel), padding to a requested size, retention by count and by age, and
 * the publish endpoint's input checks.
 */
#include "harness.h"

#include <math.h>

/* Publish @p query, subscribe with -2 on a fresh client, return the connect answer. */
static cJSON *publish_and_fetch(struct fixture *fx, const char *channel, const char *query,
                                uint64_t *ids, size_t max, size_t *n)
{
        char q[512];

        snprintf(q, sizeof(q), "channel=%s%s%s", channel, query[0] ? "&" : "", query);
        *n = publish(&fx->sim, q, ids, max);
        tclient_init(&fx->tc, &fx->sim, fx->token);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, channel, "-2");
        return bx_connect(&fx->tc);
}

static int is_iso_millis(const char *s)
{
        /* 2024-01-31T12:00:00.000Z */
        static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddZ";
        size_t i;

        if (!s || strlen(s) != sizeof(pattern) - 1)
                return 0;
        for (i = 0; pattern[i]; i++) {
                if (pattern[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pattern[i])
                        return 0;
        }
        return 1;
}

static int is_uuid4(const char *s)
{
        size_t i;

        if (!s || strlen(s) != 36 || s[14] != '4' || !strchr("89ab", s[19]))
                return 0;
        for (i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return 0;
                } else if (!strchr("0123456789abcdef", s[i])) {
                        return 0;
                }
        }
        return 1;
}

static const cJSON *member(const cJSON *obj, const char *name)
{
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

        assert_non_null(item);
        return item;
}

static void test_pushtopic_shape(void **state)
{
        struct fixture *fx = *state;
        const cJSON *ev, *data, *event, *sobject;
        uint64_t ids[2];
        size_t n;
        cJSON *arr;

        arr = publish_and_fetch(fx, "/topic/AccountUpdates", "count=2", ids, 2, &n);
        assert_int_equal(n_events(arr), 2);
        ev = cJSON_GetArrayItem(arr, 0);
        assert_members(ev, "data,channel");
        assert_string_equal(json_str(ev, "channel"), "/topic/AccountUpdates");
        data = member(ev, "data");
        assert_members(data, "event,sobject");
        event = member(data, "event");
        assert_members(event, "createdDate,replayId,type");
        assert_true(is_iso_millis(json_str(event, "createdDate")));
        assert_int_equal(event_replay_id(ev), ids[0]);
        assert_string_equal(json_str(event, "type"), "created");
        sobject = member(data, "sobject");
        assert_members(sobject, "Id,Name,Description");
        assert_int_equal(strlen(json_str(sobject, "Id")), 18);
        assert_int_equal(strncmp(json_str(sobject, "Id"), "001", 3), 0);
        /* Another record each time. */
        assert_string_not_equal(json_str(sobject, "Id"),
                                json_str(member(member(cJSON_GetArrayItem(arr, 1), "data"), "sobject"), "Id"));
        cJSON_Delete(arr);
        /* change_type gives the PushTopic event type. */
        arr = publish_and_fetch(fx, "/topic/AccountUpdates", "change_type=UPDATE", ids, 2, &n);
        assert_string_equal(json_str(member(member(cJSON_GetArrayItem(arr, n_events(arr) - 1), "data"), "event"),
                                     "type"),
                            "updated");
        cJSON_Delete(arr);
}

static void test_platform_event_shape(void **state)
{
        struct fixture *fx = *state;
        const cJSON *ev, *data, *event, *payload;
        const char *uuid0;
        uint64_t ids[2];
        size_t n;
        cJSON *arr;

        arr = publish_and_fetch(fx, "/event/Low_Ink__e", "count=2", ids, 2, &n);
        assert_int_equal(n_events(arr), 2);
        ev = cJSON_GetArrayItem(arr, 0);
        assert_members(ev, "data,channel");
        assert_string_equal(json_str(ev, "channel"), "/event/Low_Ink__e");
        data = member(ev, "data");
        assert_members(data, "schema,payload,event");
        assert_int_equal(strlen(json_str(data, "schema")), 22);
        event = member(data, "event");
        assert_members(event, "EventUuid,replayId");
        assert_true(is_uuid4(json_str(event, "EventUuid")));
        assert_int_equal(event_replay_id(ev), ids[0]);
        payload = member(data, "payload");
        assert_members(payload, "CreatedDate,CreatedById,Message__c");
        assert_true(is_iso_millis(json_str(payload, "CreatedDate")));
        assert_string_equal(json_str(payload, "CreatedById"), T_USER_ID);
        /* Each event its own UUID; the schema is the channel's. */
        uuid0 = json_str(event, "EventUuid");
        data = member(cJSON_GetArrayItem(arr, 1), "data");
        assert_string_not_equal(uuid0, json_str(member(data, "event"), "EventUuid"));
        assert_string_equal(json_str(member(cJSON_GetArrayItem(arr, 0), "data"), "schema"),
                            json_str(data, "schema"));
        cJSON_Delete(arr);
}

static const cJSON *cdc_header(const cJSON *ev)
{
        return member(member(member(ev, "data"), "payload"), "ChangeEventHeader");
}

/* The header's recordIds as "A,B,C" (at most @p size bytes). */
static const char *cdc_ids(const cJSON *ev, char *out, size_t size)
{
        const cJSON *id;
        size_t len = 0;

        out[0] = '\0';
        cJSON_ArrayForEach(id, member(cdc_header(ev), "recordIds")) {
                assert_true(cJSON_IsString(id));
                len += (size_t)snprintf(out + len, size - len, "%s%s", len ? "," : "", id->valuestring);
                assert_true(len < size);
        }
        return out;
}

/* changedFields as JSON text, e.g. ["Name","Phone"]. */
static void assert_changed_fields(const cJSON *ev, const char *want)
{
        char *text = cJSON_PrintUnformatted(member(cdc_header(ev), "changedFields"));

        assert_non_null(text);
        assert_string_equal(text, want);
        free(text);
}

static void check_cdc(const cJSON *ev, const char *channel, const char *entity, const char *change_type,
                      const char *id_prefix, int header_only)
{
        const cJSON *data, *payload, *header, *ids, *id;

        assert_members(ev, "data,channel");
        assert_string_equal(json_str(ev, "channel"), channel);
        data = member(ev, "data");
        assert_members(data, "schema,payload,event");
        assert_members(member(data, "event"), "replayId");
        payload = member(data, "payload");
        header = member(payload, "ChangeEventHeader");
        assert_members(header, "entityName,recordIds,changeType,changedFields,changeOrigin,transactionKey,"
                               "sequenceNumber,isTransactionEnd,commitTimestamp,commitNumber,commitUser");
        assert_string_equal(json_str(header, "entityName"), entity);
        assert_string_equal(json_str(header, "changeType"), change_type);
        assert_string_equal(json_str(header, "commitUser"), T_USER_ID);
        assert_true(is_uuid4(json_str(header, "transactionKey")));
        assert_true(cJSON_IsNumber(member(header, "sequenceNumber")));
        assert_true(cJSON_IsNumber(member(header, "commitNumber")));
        assert_true(fabs(member(header, "commitTimestamp")->valuedouble / 1000.0 - (double)time(NULL)) < 60);
        ids = member(header, "recordIds");
        assert_true(cJSON_GetArraySize(ids) >= 1);
        cJSON_ArrayForEach(id, ids) {
                assert_int_equal(strlen(id->valuestring), 18);
                assert_int_equal(strncmp(id->valuestring, id_prefix, 3), 0);
        }
        if (header_only)
                assert_members(payload, "ChangeEventHeader");
        else
                assert_true(cJSON_GetArraySize(payload) > 1);
}

static void test_change_event_shapes(void **state)
{
        struct fixture *fx = *state;
        uint64_t ids[2];
        size_t n;
        cJSON *arr;

        arr = publish_and_fetch(fx, "/data/ChangeEvents", "", ids, 2, &n);
        check_cdc(cJSON_GetArrayItem(arr, 0), "/data/ChangeEvents", "Account", "CREATE", "001", 0);
        /* One record unless asked otherwise; changedFields empty but on UPDATE. */
        assert_int_equal(cJSON_GetArraySize(member(cdc_header(cJSON_GetArrayItem(arr, 0)), "recordIds")), 1);
        assert_changed_fields(cJSON_GetArrayItem(arr, 0), "[]");
        assert_int_equal(event_replay_id(cJSON_GetArrayItem(arr, 0)), ids[0]);
        cJSON_Delete(arr);
        arr = publish_and_fetch(fx, "/data/ChangeEvents", "entity=Contact&change_type=UPDATE", ids, 2, &n);
        check_cdc(cJSON_GetArrayItem(arr, 1), "/data/ChangeEvents", "Contact", "UPDATE", "003", 0);
        cJSON_Delete(arr);
        arr = publish_and_fetch(fx, "/data/AccountChangeEvent", "change_type=DELETE", ids, 2, &n);
        check_cdc(cJSON_GetArrayItem(arr, 0), "/data/AccountChangeEvent", "Account", "DELETE", "001", 1);
        cJSON_Delete(arr);
        /* Custom objects: Custom__ChangeEvent carries Custom__c; entity= is ignored there. */
        arr = publish_and_fetch(fx, "/data/Invoice__ChangeEvent", "entity=Lead", ids, 2, &n);
        check_cdc(cJSON_GetArrayItem(arr, 0), "/data/Invoice__ChangeEvent", "Invoice__c", "CREATE", "a00", 0);
        cJSON_Delete(arr);
        /* record_id= sets recordIds[0] of every event of the publish (the third
         * event on /data/ChangeEvents, after the two above). */
        arr = publish_and_fetch(fx, "/data/ChangeEvents", "record_id=001xx000003DGb2AAG", ids, 2, &n);
        check_cdc(cJSON_GetArrayItem(arr, 2), "/data/ChangeEvents", "Account", "CREATE", "001", 0);
        assert_string_equal(cJSON_GetArrayItem(member(member(member(member(cJSON_GetArrayItem(arr, 2),
                "data"), "payload"), "ChangeEventHeader"), "recordIds"), 0)->valuestring,
                "001xx000003DGb2AAG");
        cJSON_Delete(arr);
        /* Gap events carry the header only. */
        arr = publish_and_fetch(fx, "/data/OpportunityChangeEvent", "change_type=GAP_CREATE&size=2000", ids, 2, &n);
        check_cdc(cJSON_GetArrayItem(arr, 0), "/data/OpportunityChangeEvent", "Opportunity", "GAP_CREATE", "006", 1);
        cJSON_Delete(arr);
}

/*
 * Change events as Salesforce sends them (CDC guide: "ChangeEventHeader
 * Fields", "Merged Change Events", "Overflow Events"): a merged change with
 * several recordIds, the events of one transaction sharing transactionKey
 * with sequenceNumber 1..n and isTransactionEnd only on the last,
 * changedFields on UPDATE (empty otherwise), and an overflow event with no
 * record ID and no record fields.
 */
static void test_change_event_merged_transaction_overflow(void **state)
{
        struct fixture *fx = *state;
        const char *want_ids = "001xx000003DGb2AAG,001xx000003DGb3AAG,001xx000003DGb4AAG";
        char got[1024], key[40];
        const cJSON *ev, *h;
        uint64_t ids[8];
        size_t n;
        int i;
        cJSON *arr;

        /* record_ids=: every event names all of them, in order. */
        arr = publish_and_fetch(fx, "/data/AccountChangeEvent",
                                "count=2&change_type=UPDATE&record_ids=001xx000003DGb2AAG,"
                                "001xx000003DGb3AAG,001xx000003DGb4AAG",
                                ids, 8, &n);
        assert_int_equal(n_events(arr), 2);
        for (i = 0; i < 2; i++) {
                ev = cJSON_GetArrayItem(arr, i);
                assert_string_equal(cdc_ids(ev, got, sizeof(got)), want_ids);
                assert_changed_fields(ev, "[\"LastModifiedDate\",\"Description\"]");
        }
        cJSON_Delete(arr);

        /* records=N: N distinct made-up IDs of the entity. */
        arr = publish_and_fetch(fx, "/data/ContactChangeEvent", "records=5", ids, 8, &n);
        h = cdc_header(cJSON_GetArrayItem(arr, 0));
        assert_int_equal(cJSON_GetArraySize(member(h, "recordIds")), 5);
        for (i = 0; i < 5; i++) {
                const char *a = cJSON_GetArrayItem(member(h, "recordIds"), i)->valuestring;
                int j;

                assert_int_equal(strlen(a), 18);
                assert_int_equal(strncmp(a, "003", 3), 0);
                for (j = 0; j < i; j++)
                        assert_string_not_equal(a, cJSON_GetArrayItem(member(h, "recordIds"), j)->valuestring);
        }
        assert_changed_fields(cJSON_GetArrayItem(arr, 0), "[]"); /* CREATE */
        cJSON_Delete(arr);

        /* One transaction: an UPDATE of 2 records, a DELETE, then the overflow. */
        arr = publish_and_fetch(fx, "/data/ChangeEvents",
                                "count=4&transaction=1&change_type=UPDATE,DELETE,GAP_OVERFLOW&"
                                "record_ids=001xx000003DGb2AAG,001xx000003DGb3AAG",
                                ids, 8, &n);
        assert_int_equal(n, 4);
        assert_int_equal(n_events(arr), 4);
        snprintf(key, sizeof(key), "%s", json_str(cdc_header(cJSON_GetArrayItem(arr, 0)), "transactionKey"));
        assert_true(is_uuid4(key));
        for (i = 0; i < 4; i++) {
                ev = cJSON_GetArrayItem(arr, i);
                h = cdc_header(ev);
                assert_int_equal(event_replay_id(ev), ids[i]);
                assert_string_equal(json_str(h, "transactionKey"), key);
                assert_int_equal(member(h, "sequenceNumber")->valueint, i + 1);
                assert_true(cJSON_IsBool(member(h, "isTransactionEnd")));
                assert_int_equal(cJSON_IsTrue(member(h, "isTransactionEnd")), i == 3);
        }
        check_cdc(cJSON_GetArrayItem(arr, 0), "/data/ChangeEvents", "Account", "UPDATE", "001", 0);
        assert_string_equal(json_str(cdc_header(cJSON_GetArrayItem(arr, 0)), "changeType"), "UPDATE");
        assert_string_equal(json_str(cdc_header(cJSON_GetArrayItem(arr, 1)), "changeType"), "DELETE");
        assert_string_equal(cdc_ids(cJSON_GetArrayItem(arr, 1), got, sizeof(got)),
                            "001xx000003DGb2AAG,001xx000003DGb3AAG");
        assert_changed_fields(cJSON_GetArrayItem(arr, 1), "[]");
        for (i = 2; i < 4; i++) {
                /* The overflow: header only, recordIds [] whatever record_ids said. */
                ev = cJSON_GetArrayItem(arr, i);
                h = cdc_header(ev);
                assert_string_equal(json_str(h, "changeType"), "GAP_OVERFLOW");
                assert_string_equal(json_str(h, "entityName"), "Account");
                assert_true(cJSON_IsArray(member(h, "recordIds")));
                assert_int_equal(cJSON_GetArraySize(member(h, "recordIds")), 0);
                assert_changed_fields(ev, "[]");
                assert_members(member(member(ev, "data"), "payload"), "ChangeEventHeader");
        }
        cJSON_Delete(arr);

        /* Without transaction=1 each event is a transaction of its own. */
        arr = publish_and_fetch(fx, "/data/LeadChangeEvent", "count=2&change_type=GAP_OVERFLOW", ids, 8, &n);
        for (i = 0; i < 2; i++) {
                h = cdc_header(cJSON_GetArrayItem(arr, i));
                assert_int_equal(member(h, "sequenceNumber")->valueint, 1);
                assert_true(cJSON_IsTrue(member(h, "isTransactionEnd")));
                assert_int_equal(cJSON_GetArraySize(member(h, "recordIds")), 0);
        }
        assert_string_not_equal(json_str(cdc_header(cJSON_GetArrayItem(arr, 0)), "transactionKey"),
                                json_str(cdc_header(cJSON_GetArrayItem(arr, 1)), "transactionKey"));
        cJSON_Delete(arr);

        /* fields= on an UPDATE: changedFields names its members, escapes kept. */
        arr = publish_and_fetch(fx, "/data/CaseChangeEvent",
                                "change_type=UPDATE&fields=%7B%22Status%22%3A%22Closed%22%2C%22Q%5C%22__c%22"
                                "%3Anull%7D",
                                ids, 8, &n);
        assert_changed_fields(cJSON_GetArrayItem(arr, 0), "[\"Status\",\"Q\\\"__c\"]");
        cJSON_Delete(arr);
}

/* The members every standard (Real-Time Event Monitoring) stream carries in sfsim. */
#define STD_FIELDS "EventDate,EventIdentifier,EventUuid,UserId,Username,SessionKey,LoginKey,SourceIp,CreatedDate"

/* Checks a standard event; @returns its payload. */
static const cJSON *check_standard(const cJSON *ev, const char *channel, const char *fields)
{
        const cJSON *data, *event, *payload;
        cJSON *info;

        assert_members(ev, "data,channel");
        assert_string_equal(json_str(ev, "channel"), channel);
        data = member(ev, "data");
        assert_members(data, "schema,payload,event");
        assert_int_equal(strlen(json_str(data, "schema")), 22);
        event = member(data, "event");
        assert_members(event, "EventUuid,replayId");
        payload = member(data, "payload");
        assert_members(payload, fields);
        assert_true(is_uuid4(json_str(payload, "EventUuid")));
        assert_string_equal(json_str(payload, "EventUuid"), json_str(event, "EventUuid"));
        assert_true(is_uuid4(json_str(payload, "EventIdentifier")));
        assert_string_not_equal(json_str(payload, "EventIdentifier"), json_str(payload, "EventUuid"));
        assert_true(is_iso_millis(json_str(payload, "EventDate")));
        assert_true(is_iso_millis(json_str(payload, "CreatedDate")));
        assert_string_equal(json_str(payload, "UserId"), T_USER_ID);
        assert_non_null(strchr(json_str(payload, "Username"), '@'));
        assert_int_equal(strlen(json_str(payload, "SessionKey")), 16);
        assert_int_equal(strncmp(json_str(payload, "SourceIp"), "203.0.113.", 10), 0);
        /* AdditionalInfo is the JSON text of one object. */
        info = cJSON_Parse(json_str(payload, "AdditionalInfo"));
        assert_true(cJSON_IsObject(info));
        cJSON_Delete(info);
        return payload;
}

static void test_standard_event_shapes(void **state)
{
        struct fixture *fx = *state;
        const cJSON *payload;
        uint64_t ids[2];
        size_t n;
        cJSON *arr;

        arr = publish_and_fetch(fx, "/event/LoginEventStream", "count=2", ids, 2, &n);
        assert_int_equal(n_events(arr), 2);
        payload = check_standard(cJSON_GetArrayItem(arr, 0), "/event/LoginEventStream",
                                 STD_FIELDS ",LoginUrl,LoginType,Application,Browser,Platform,Status,"
                                            "UserType,SessionLevel,CountryIso,TlsProtocol,CipherSuite,"
                                            "ApiType,ApiVersion,AdditionalInfo");
        assert_string_equal(json_str(payload, "Status"), "Success");
        assert_int_equal(event_replay_id(cJSON_GetArrayItem(arr, 0)), ids[0]);
        assert_int_equal(event_replay_id(cJSON_GetArrayItem(arr, 1)), ids[1]);
        /* Each event its own EventUuid and EventIdentifier. */
        assert_string_not_equal(json_str(payload, "EventUuid"),
                                json_str(member(member(cJSON_GetArrayItem(arr, 1), "data"), "payload"),
                                         "EventUuid"));
        assert_string_not_equal(json_str(payload, "EventIdentifier"),
                                json_str(member(member(cJSON_GetArrayItem(arr, 1), "data"), "payload"),
                                         "EventIdentifier"));
        cJSON_Delete(arr);
        /* The other streams carry the common fields only. */
        arr = publish_and_fetch(fx, "/event/LogoutEventStream", "pretty=1", ids, 2, &n);
        check_standard(cJSON_GetArrayItem(arr, 0), "/event/LogoutEventStream", STD_FIELDS ",AdditionalInfo");
        cJSON_Delete(arr);
}

/* Custom channels: /event/X__chn carries platform events, /data/X__chn change events of several entities. */
static void test_custom_channel_shapes(void **state)
{
        struct fixture *fx = *state;
        const cJSON *ev, *data;
        uint64_t ids[4];
        size_t n;
        cJSON *arr;

        arr = publish_and_fetch(fx, "/event/Orders__chn", "", ids, 1, &n);
        ev = cJSON_GetArrayItem(arr, 0);
        assert_string_equal(json_str(ev, "channel"), "/event/Orders__chn");
        data = member(ev, "data");
        assert_members(data, "schema,payload,event");
        assert_members(member(data, "event"), "EventUuid,replayId");
        assert_members(member(data, "payload"), "CreatedDate,CreatedById,Message__c");
        assert_int_equal(event_replay_id(ev), ids[0]);
        cJSON_Delete(arr);

        assert_int_equal(publish(&fx->sim, "channel=/data/Sales__chn&entity=Account", ids, 1), 1);
        assert_int_equal(publish(&fx->sim, "channel=/data/Sales__chn&entity=Contact&change_type=UPDATE",
                                 ids + 1, 1), 1);
        arr = publish_and_fetch(fx, "/data/Sales__chn", "", ids + 2, 1, &n);
        assert_int_equal(n_events(arr), 3);
        check_cdc(cJSON_GetArrayItem(arr, 0), "/data/Sales__chn", "Account", "CREATE", "001", 0);
        check_cdc(cJSON_GetArrayItem(arr, 1), "/data/Sales__chn", "Contact", "UPDATE", "003", 0);
        check_cdc(cJSON_GetArrayItem(arr, 2), "/data/Sales__chn", "Account", "CREATE", "001", 0);
        assert_int_equal(event_replay_id(cJSON_GetArrayItem(arr, 1)), ids[1]);
        cJSON_Delete(arr);
}

static void test_generic_shape(void **state)
{
        struct fixture *fx = *state;
        const cJSON *ev, *data;
        uint64_t ids[1];
        size_t n;
        cJSON *arr;

        arr = publish_and_fetch(fx, "/u/Notifications", "", ids, 1, &n);
        ev = cJSON_GetArrayItem(arr, 0);
        assert_members(ev, "data,channel");
        assert_string_equal(json_str(ev, "channel"), "/u/Notifications");
        data = member(ev, "data");
        assert_members(data, "event,payload");
        assert_members(member(data, "event"), "createdDate,replayId");
        assert_true(is_iso_millis(json_str(member(data, "event"), "createdDate")));
        assert_int_equal(event_replay_id(ev), ids[0]);
        assert_true(cJSON_IsString(member(data, "payload")));
        cJSON_Delete(arr);
}

static void test_event_size(void **state)
{
        struct fixture *fx = *state;
        const char *channels[] = { "/topic/S", "/event/S__e", "/data/ChangeEvents", "/u/S",
                                   "/event/LoginEventStream", "/event/LogoutEventStream",
                                   "/event/S__chn", "/data/S__chn" };
        char body[256], query[256];
        struct hres res;
        cJSON *arr;
        char *reply;
        size_t i, event_len;

        for (i = 0; i < sizeof(channels) / sizeof(channels[0]); i++) {
                snprintf(query, sizeof(query), "channel=%s&size=1024", channels[i]);
                publish(&fx->sim, query, NULL, 0);
                tclient_init(&fx->tc, &fx->sim, fx->token);
                bx_handshake(&fx->tc);
                bx_subscribe_ok(&fx->tc, channels[i], "-2");
                bx_connect_body(&fx->tc, body, sizeof(body));
                bx_raw(&fx->tc, NULL, body, 0, &res);
                assert_int_equal(res.status, 200);
                arr = cJSON_Parse(res.body);
                assert_int_equal(n_events(arr), 1);
                /* body = "[" event "," reply "]": the event is exactly 1,024 bytes. */
                reply = cJSON_PrintUnformatted(cJSON_GetArrayItem(arr, 1));
                event_len = res.len - strlen(reply) - 3;
                assert_int_equal(event_len, 1024);
                free(reply);
                cJSON_Delete(arr);
                hres_free(&res);
        }
}

static void test_replay_ids_increase_with_gaps(void **state)
{
        struct fixture *fx = *state;
        uint64_t ids[200];
        int gaps = 0, i;

        assert_int_equal(publish(&fx->sim, "channel=/event/G__e&count=100", ids, 200), 100);
        assert_int_equal(publish(&fx->sim, "channel=/event/G__e&count=100", ids + 100, 100), 100);
        for (i = 1; i < 200; i++) {
                assert_true(ids[i] > ids[i - 1]);
                assert_true(ids[i] - ids[i - 1] <= 3);
                gaps += ids[i] - ids[i - 1] > 1;
        }
        assert_true(gaps > 20);
}

static void test_replay_ids_deterministic_per_channel(void **state)
{
        struct fixture *fx = *state;
        uint64_t a1[3], a2[3], b[3];

        publish(&fx->sim, "channel=/topic/Det&count=3", a1, 3);
        publish(&fx->sim, "channel=/topic/Other&count=3", b, 3);
        assert_true(a1[0] != b[0]);
        assert_int_equal(sim_start(&fx->sim2, NULL), 0);
        publish(&fx->sim2, "channel=/topic/Det&count=3", a2, 3);
        assert_memory_equal(a1, a2, sizeof(a1));
}

static void test_retention_count(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--retention", "5", NULL };
        uint64_t ids[8];
        char replay[32], expect[256];
        cJSON *arr, *st;

        fx_restart(fx, args);
        assert_int_equal(publish(&fx->sim, "channel=/topic/Keep&count=8", ids, 8), 8);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/topic/Keep", "-2");
        connect_expect_events(&fx->tc, ids + 3, 5, 110000);
        snprintf(replay, sizeof(replay), "%llu", (unsigned long long)ids[1]);
        arr = bx_subscribe(&fx->tc, "/topic/Keep", replay);
        snprintf(expect, sizeof(expect),
                 "400::The replayId {%s} you provided was invalid.  Please provide a valid ID, -2 to replay "
                 "all events, or -1 to replay only new events.",
                 replay);
        assert_string_equal(json_str(cJSON_GetArrayItem(arr, 0), "error"), expect);
        cJSON_Delete(arr);
        st = stats(&fx->sim);
        assert_int_equal((int)stat_num(st, "channels", "/topic/Keep", "retained"), 5);
        assert_int_equal((int)stat_num(st, "channels", "/topic/Keep", "published"), 8);
        assert_int_equal((uint64_t)stat_num(st, "channels", "/topic/Keep", "last_replay_id"), ids[7]);
        cJSON_Delete(st);
}

static void test_retention_age(void **state)
{
        struct fixture *fx = *state;
        const char *args[] = { "--retention-age-s", "1", "--connect-timeout-ms", "200", NULL };
        uint64_t ids[2];
        char replay[32], expect[256];
        cJSON *arr;

        fx_restart(fx, args);
        assert_int_equal(publish(&fx->sim, "channel=/event/Old__e&count=2", ids, 2), 2);
        sleep_ms(2100);
        bx_handshake(&fx->tc);
        snprintf(replay, sizeof(replay), "%llu", (unsigned long long)ids[0]);
        arr = bx_subscribe(&fx->tc, "/event/Old__e", replay);
        snprintf(expect, sizeof(expect),
                 "400::The replayId {%s} you provided was invalid.  Please provide a valid ID, -2 to replay "
                 "all events, or -1 to replay only new events.",
                 replay);
        assert_string_equal(json_str(cJSON_GetArrayItem(arr, 0), "error"), expect);
        cJSON_Delete(arr);
        bx_subscribe_ok(&fx->tc, "/event/Old__e", "-2");
        connect_expect_events(&fx->tc, ids, 0, 200);
}

static void test_publish_without_subscriber_is_kept(void **state)
{
        struct fixture *fx = *state;
        uint64_t ids[3];

        /* Nobody listens while these are published: a -2 subscriber still gets them. */
        assert_int_equal(publish(&fx->sim, "channel=/u/Quiet&count=3", ids, 3), 3);
        bx_handshake(&fx->tc);
        bx_subscribe_ok(&fx->tc, "/u/Quiet", "-2");
        connect_expect_events(&fx->tc, ids, 3, 110000);
}

static void test_publish_input_checks(void **state)
{
        struct fixture *fx = *state;
        const char *bad[] = {
                "/admin/publish",
                "/admin/publish?channel=/foo/bar",
                "/admin/publish?channel=/event/NoSuffix__x",
                "/admin/publish?channel=/data/Account",
                "/admin/publish?channel=/topic/T&count=0",
                "/admin/publish?channel=/topic/T&count=abc",
                "/admin/publish?channel=/topic/T&count=1000001",
                "/admin/publish?channel=/topic/T&size=-1",
                "/admin/publish?channel=/topic/T&size=2000000",
                "/admin/publish?channel=/data/ChangeEvents&change_type=BOGUS",
                "/admin/publish?channel=/data/ChangeEvents&entity=Bad%20Name",
                "/admin/publish?channel=/data/ChangeEvents&record_id=short",
                "/admin/publish?channel=/data/ChangeEvents&record_id=001xx000003DGb2A%22A",
                "/admin/publish?channel=/topic/T&record_id=001xx000003DGb2AAG",
                "/admin/publish?channel=/data/ChangeEvents&change_type=UPDATE,BOGUS",
                "/admin/publish?channel=/data/ChangeEvents&change_type=UPDATE,",
                "/admin/publish?channel=/data/ChangeEvents&record_ids=001xx000003DGb2AAG,short",
                "/admin/publish?channel=/data/ChangeEvents&record_ids=001xx000003DGb2AAG,",
                "/admin/publish?channel=/topic/T&record_ids=001xx000003DGb2AAG",
                "/admin/publish?channel=/data/ChangeEvents&records=0",
                "/admin/publish?channel=/data/ChangeEvents&records=201",
                "/admin/publish?channel=/event/E__e&records=2",
                "/admin/publish?channel=/data/ChangeEvents&records=2&record_id=001xx000003DGb2AAG",
                "/admin/publish?channel=/data/ChangeEvents&transaction=2",
                "/admin/publish?channel=/topic/T&transaction=1",
        };
        const char *words[] = { "'channel' is required", "does not exist", "does not exist",
                                "does not exist", "'count'",
                                "'count'", "'count'", "'size'", "'size'", "'change_type'", "'entity'",
                                "'record_id'", "'record_id'", "'record_id'", "'change_type'",
                                "'change_type'", "'record_ids'", "'record_ids'", "'record_ids'",
                                "'records'", "'records'", "'records'", "give one of", "'transaction'",
                                "'transaction'" };
        cJSON *json;
        size_t i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                json = admin_call(&fx->sim, "POST", bad[i], 400);
                assert_members(json, "error");
                if (!strstr(json_str(json, "error"), words[i])) {
                        print_error("%s: error '%s' does not mention %s\n", bad[i], json_str(json, "error"),
                                    words[i]);
                        fail();
                }
                cJSON_Delete(json);
        }
        /* Defaults: one event. */
        assert_int_equal(publish(&fx->sim, "channel=/topic/T", NULL, 0), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_pushtopic_shape, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_platform_event_shape, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_change_event_shapes, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_change_event_merged_transaction_overflow, fx_setup,
                                                fx_teardown),
                cmocka_unit_test_setup_teardown(test_standard_event_shapes, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_custom_channel_shapes, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_generic_shape, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_event_size, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_replay_ids_increase_with_gaps, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_replay_ids_deterministic_per_channel, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_retention_count, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_retention_age, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_publish_without_subscriber_is_kept, fx_setup, fx_teardown),
                cmocka_unit_test_setup_teardown(test_publish_input_checks, fx_setup, fx_teardown),
        };

        return RUN("sfsim events", tests);
}
