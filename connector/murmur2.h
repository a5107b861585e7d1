/*
 * The murmur2 hash exactly as Kafka's Java clients compute it for a record
 * key (org.apache.kafka.common.utils.Utils.murmur2, seed 0x9747b28c), so a
 * partition sfbridge picks for a key is the one a Java producer or a Kafka
 * Streams job picks for the same bytes.
 */
#ifndef SFB_MURMUR2_H
#define SFB_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

/**
 * @returns Kafka's murmur2 of @p len bytes at @p data, as the 32 bits of
 *          Java's int (cast to int32_t to compare with Java's value).
 * @remark Pure; no allocation.
 */
uint32_t murmur2_hash(const void *data, size_t len);

/**
 * @returns murmur2_hash() made positive as Kafka's Utils.toPositive does
 *          (& 0x7fffffff): the value whose remainder by a topic's partition
 *          count is the partition Java's default partitioner picks for a key.
 */
int32_t murmur2_positive(const void *data, size_t len);

#endif
