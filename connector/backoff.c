/*
 * Exponential backoff with equal jitter. The delays only depend on the
 * attempt count and the random source, so a test that injects rand_fn sees
 * exact values.
 */
#include "backoff.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>

/* splitmix64: small, fast, good enough to spread retries. */
static unsigned backoff_prng(struct backoff *bo)
{
        unsigned long long z = (bo->state += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return (unsigned)((z ^ (z >> 31)) >> 32);
}

static unsigned backoff_rand(struct backoff *bo)
{
        return bo->rand_fn ? bo->rand_fn(bo->rand_ctx) : backoff_prng(bo);
}

void backoff_init(struct backoff *bo, long base_ms, long cap_ms)
{
        struct timespec ts;

        if (base_ms < 1)
                base_ms = 1;
        if (cap_ms < base_ms)
                cap_ms = base_ms;
        bo->base_ms = base_ms;
        bo->cap_ms = cap_ms;
        bo->attempt = 0;
        bo->rand_fn = NULL;
        bo->rand_ctx = NULL;
        /* Different per process and per object, so that two bridges that
         * lose Salesforce at the same moment do not retry in step. */
        clock_gettime(CLOCK_REALTIME, &ts);
        bo->state = (unsigned long long)ts.tv_sec * 1000000007ULL ^ (unsigned long long)ts.tv_nsec ^
                    ((unsigned long long)getpid() << 32) ^ (unsigned long long)(uintptr_t)bo;
}

long backoff_next_ms(struct backoff *bo)
{
        unsigned k = bo->attempt;
        unsigned long long ceiling, lo, span, r;

        if (bo->attempt < ~0u)
                bo->attempt++;
        if (k == 0)
                return 0;
        /* ceiling = min(cap, base * 2^(k-1)) without ever shifting out bits. */
        ceiling = (unsigned long long)bo->cap_ms;
        if (k - 1 < 62 && (unsigned long long)bo->base_ms <= (ceiling >> (k - 1)))
                ceiling = (unsigned long long)bo->base_ms << (k - 1);
        lo = ceiling - ceiling / 2;  /* ceil(ceiling / 2) >= 1 as ceiling >= 1 */
        span = ceiling - lo + 1;
        r = backoff_rand(bo);
        if (span > 0xffffffffULL)
                r = (r << 32) | backoff_rand(bo);
        return (long)(lo + r % span);
}

void backoff_reset(struct backoff *bo)
{
        bo->attempt = 0;
}
