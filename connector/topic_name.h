/*
 * Kafka's rules for a topic name, in one place: 1 to 249 bytes of
 * [A-Za-z0-9._-], and neither "." nor "..". The router checks every topic
 * it renders (a {entity} expansion may break them); config checks templates.
 */
#ifndef SFB_TOPIC_NAME_H
#define SFB_TOPIC_NAME_H

#include <stddef.h>

#define TOPIC_NAME_MAX 249 /* bytes: Kafka's limit */

/** @returns non-zero when c may appear in a Kafka topic name. */
int topic_name_char_ok(char c);

/**
 * @brief Check the @p len bytes at @p name against Kafka's rules.
 * @returns 0 when legal, else -1 with errstr saying which rule is broken
 *          (empty, longer than 249 bytes, "." or "..", the first
 *          forbidden byte and its offset).
 */
int topic_name_check(const char *name, size_t len, char *errstr, size_t errstr_size);

#endif
