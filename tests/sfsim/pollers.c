/*
 * Long-poll overlap per channel (see pollers.h).
 */
#include "pollers.h"

void pollers_init(struct pollers *p)
{
        p->now = 0;
        p->max = 0;
        p->overlap_ms = 0;
        p->since_ms = -1;
}

void pollers_set(struct pollers *p, long n, int64_t now_ms)
{
        if (n >= 2 && p->since_ms < 0)
                p->since_ms = now_ms;
        if (n < 2 && p->since_ms >= 0) {
                p->overlap_ms += now_ms - p->since_ms;
                p->since_ms = -1;
        }
        p->now = n;
        if (n > p->max)
                p->max = n;
}

int64_t pollers_overlap_ms(const struct pollers *p, int64_t now_ms)
{
        return p->overlap_ms + (p->since_ms >= 0 ? now_ms - p->since_ms : 0);
}

void pollers_reset(struct pollers *p, int64_t now_ms)
{
        p->max = p->now;
        p->overlap_ms = 0;
        p->since_ms = p->now >= 2 ? now_ms : -1;
}
