/*
 * Lasting faults (see fault.h): counters under the sim lock.
 */
#include "fault.h"

#include <string.h>

static const char *const fault_names[FAULT_COUNT] = {
        [FAULT_TOO_BUSY] = "too-busy",
        [FAULT_CONCURRENT_LIMIT] = "concurrent-limit",
        [FAULT_STALL] = "stall",
        [FAULT_CLOSE_MID_POLL] = "close-mid-poll",
        [FAULT_HTTP_503] = "http-503",
        [FAULT_MALFORMED] = "malformed",
        [FAULT_RESTRICTED_CHANNEL] = "restricted-channel",
        [FAULT_SUBSCRIBE_DENIED] = "subscribe-denied",
        [FAULT_DAILY_LIMIT] = "daily-limit",
        [FAULT_SERVER_LIMIT] = "server-limit",
        [FAULT_REDELIVER] = "redeliver",
        [FAULT_FORGET_AFTER_FIRST_CONNECT] = "forget-after-first-connect",
        [FAULT_CONNECT_UNKNOWN_CHANNEL] = "connect-unknown-channel",
};

int fault_parse(const char *name)
{
        int i;

        for (i = 0; i < FAULT_COUNT; i++)
                if (!strcmp(name, fault_names[i]))
                        return i;
        return -1;
}

const char *fault_name(enum fault_kind kind)
{
        return fault_names[kind];
}

void faults_arm(struct faults *faults, enum fault_kind kind, long count)
{
        faults->f[kind].armed = count != 0;
        faults->f[kind].left = count;
}

int faults_take(struct faults *faults, enum fault_kind kind)
{
        if (!faults->f[kind].armed)
                return 0;
        if (faults->f[kind].left > 0 && --faults->f[kind].left == 0)
                faults->f[kind].armed = 0;
        return 1;
}

int faults_armed(const struct faults *faults, enum fault_kind kind)
{
        return faults->f[kind].armed;
}

void faults_clear(struct faults *faults)
{
        int i;

        for (i = 0; i < FAULT_COUNT; i++) {
                faults->f[i].armed = 0;
                faults->f[i].left = 0;
        }
        faults->channel[0] = '\0';
        faults->denied[0] = '\0';
        faults->unknown_advice = NULL;
        faults->unknown_advice_set = 0;
        faults->disconnect_advice = NULL;
        faults->unknown_status = 0;
        faults->auth_status = 0;
        faults->clear_gen++;
}

int faults_parse_advice(const char *value, int allow_absent, const char **out)
{
        if (!strcmp(value, "none"))
                *out = "none";
        else if (!strcmp(value, "handshake"))
                *out = "handshake";
        else if (allow_absent && !strcmp(value, "absent"))
                *out = NULL;
        else
                return -1;
        return 0;
}
