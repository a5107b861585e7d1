/*
 * Kafka's murmur2 (MurmurHash2 by Austin Appleby, with the seed and the
 * little-endian word order of Kafka's Utils.murmur2). Java's int arithmetic
 * wraps; uint32_t arithmetic wraps the same way, and Java's >>> is an
 * unsigned shift, so every step maps one to one.
 */
#include "murmur2.h"

#define MURMUR2_SEED 0x9747b28cu
#define MURMUR2_M    0x5bd1e995u
#define MURMUR2_R    24

uint32_t murmur2_hash(const void *data, size_t len)
{
        const unsigned char *p = data;
        /* Java takes the length as an int: keys here are far below 2^31. */
        uint32_t h = MURMUR2_SEED ^ (uint32_t)len;
        size_t i, words = len / 4;

        for (i = 0; i < words; i++, p += 4) {
                uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24;

                k *= MURMUR2_M;
                k ^= k >> MURMUR2_R;
                k *= MURMUR2_M;
                h *= MURMUR2_M;
                h ^= k;
        }
        switch (len % 4) {
        case 3:
                h ^= (uint32_t)p[2] << 16;
                /* fall through */
        case 2:
                h ^= (uint32_t)p[1] << 8;
                /* fall through */
        case 1:
                h ^= (uint32_t)p[0];
                h *= MURMUR2_M;
                break;
        default: break;
        }
        h ^= h >> 13;
        h *= MURMUR2_M;
        h ^= h >> 15;
        return h;
}

int32_t murmur2_positive(const void *data, size_t len)
{
        return (int32_t)(murmur2_hash(data, len) & 0x7fffffffu);
}
