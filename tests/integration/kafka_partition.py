"""Kafka's default partitioner, as its Java clients compute it (Utils.murmur2,
seed 0x9747b28c, then & 0x7fffffff, % partitions): the tests' independent
check of where the bridge put each record. 0013 checks murmur2 against
Kafka's own UtilsTest vectors."""


def murmur2(data):
    m, h = 0x5bd1e995, (0x9747b28c ^ len(data)) & 0xffffffff
    for i in range(len(data) // 4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xffffffff
        k ^= k >> 24
        k = (k * m) & 0xffffffff
        h = ((h * m) & 0xffffffff) ^ k
    tail, base = len(data) & 3, len(data) & ~3
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h = ((h ^ data[base]) * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    return h ^ (h >> 15)


def java_partition(key, n):
    return (murmur2(key.encode()) & 0x7fffffff) % n
