/*
 * libFuzzer target for replay_record_decode(): whatever a replay topic holds
 * (another tool's records, a truncated write, garbage) must decode or be
 * refused with an errstr, never crash or leak. A decoded record must also
 * survive encode -> decode unchanged, so what we read is what we would write.
 *
 *   make fuzz && build-fuzz/fuzz_replay -max_total_time=60 /tmp/corpus tests/fuzz/corpus/fuzz_replay
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "replay_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct replay_entry entry, again;
        struct buf key, value;
        char errstr[256];

        errstr[0] = '\0';
        if (replay_record_decode((const char *)data, size, &entry, errstr, sizeof(errstr)) != 0) {
                if (!errstr[0] || entry.channel)
                        abort(); /* a refusal always says why and owns nothing */
                return 0;
        }
        /* IDs are read exactly from their text, up to 2^63 (not cJSON's 2^53). */
        if (!entry.channel || !entry.channel[0] || entry.replay_id < -2 ||
            strlen(entry.event_time) >= sizeof(entry.event_time) ||
            strlen(entry.committed_at) >= sizeof(entry.committed_at))
                abort();

        buf_init(&key, 1 << 20);
        buf_init(&value, 1 << 20);
        if (replay_record_encode("fuzz", entry.channel, entry.replay_id, entry.event_time,
                                 entry.committed_at, &key, &value) != 0)
                abort();
        if (replay_record_decode(value.data, value.len, &again, errstr, sizeof(errstr)) != 0 ||
            strcmp(again.channel, entry.channel) || again.replay_id != entry.replay_id ||
            strcmp(again.event_time, entry.event_time) ||
            strcmp(again.committed_at, entry.committed_at))
                abort();
        free(again.channel);
        free(entry.channel);
        buf_free(&key);
        buf_free(&value);
        return 0;
}
