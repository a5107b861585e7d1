/*
 * The repeat limiter behind log_msg_limited(): a small table of kinds, each
 * with the start of its window and how many lines it held back. Lookups are
 * a linear scan of 32 short keys, made only on error paths.
 */
#include "log_limit.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

struct log_kind {
        char msg[48];
        char key[80];
        long long since_ms; /* the window's start: when the last full line was written */
        unsigned long held;
        unsigned long long touched; /* log_touches when last met: the least recent goes first */
        int used;
};

static struct log_kind log_kinds[LOG_LIMIT_KINDS];
static unsigned long long log_touches;

static long long mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_kind_summary(struct log_kind *k, long long now)
{
        if (!k->held)
                return;
        log_msg(LOG_WARN, "log_suppressed", "event=%s key=%s count=%lu window_s=%lld", k->msg, k->key,
                k->held, (now - k->since_ms + 999) / 1000);
        k->held = 0;
}

static struct log_kind *log_kind_find(const char *msg, const char *key, long long now)
{
        struct log_kind *k, *oldest = &log_kinds[0];
        size_t i;

        for (i = 0; i < LOG_LIMIT_KINDS; i++) {
                k = &log_kinds[i];
                if (!k->used) {
                        oldest = k;
                        break;
                }
                if (!strncmp(k->msg, msg, sizeof(k->msg) - 1) &&
                    !strncmp(k->key, key, sizeof(k->key) - 1)) {
                        k->touched = ++log_touches;
                        return k;
                }
                if (k->touched < oldest->touched)
                        oldest = k;
        }
        if (oldest->used)
                log_kind_summary(oldest, now);
        memset(oldest, 0, sizeof(*oldest));
        snprintf(oldest->msg, sizeof(oldest->msg), "%s", msg);
        snprintf(oldest->key, sizeof(oldest->key), "%s", key);
        oldest->since_ms = now - LOG_LIMIT_WINDOW_MS; /* a new kind writes at once */
        oldest->used = 1;
        oldest->touched = ++log_touches;
        return oldest;
}

int log_vmsg_limited(const char *key, enum log_level lvl, const char *msg, const char *fmt,
                     va_list ap)
{
        long long now = mono_ms();
        struct log_kind *k;

        if (!log_enabled(lvl))
                return 0;
        k = log_kind_find(msg, key ? key : "", now);
        if (now - k->since_ms < LOG_LIMIT_WINDOW_MS) {
                k->held++;
                return 0;
        }
        log_kind_summary(k, now);
        k->since_ms = now;
        log_vmsg(lvl, msg, fmt, ap);
        return 1;
}

int log_msg_limited(const char *key, enum log_level lvl, const char *msg, const char *fmt, ...)
{
        va_list ap;
        int wrote;

        va_start(ap, fmt);
        wrote = log_vmsg_limited(key, lvl, msg, fmt, ap);
        va_end(ap);
        return wrote;
}

void log_limit_flush(int all)
{
        long long now = mono_ms();
        size_t i;

        for (i = 0; i < LOG_LIMIT_KINDS; i++) {
                struct log_kind *k = &log_kinds[i];

                if (k->used && k->held && (all || now - k->since_ms >= LOG_LIMIT_WINDOW_MS)) {
                        log_kind_summary(k, now);
                        k->since_ms = now;
                }
        }
}
