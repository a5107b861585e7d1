/* Kafka's topic name rules (see topic_name.h). */
#include "topic_name.h"

#include <stdio.h>

int topic_name_char_ok(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
}

int topic_name_check(const char *name, size_t len, char *errstr, size_t errstr_size)
{
        size_t i;

        if (len == 0) {
                snprintf(errstr, errstr_size, "topic name is empty");
                return -1;
        }
        if (len > TOPIC_NAME_MAX) {
                snprintf(errstr, errstr_size, "topic name is %zu bytes, longer than Kafka's limit of %d",
                         len, TOPIC_NAME_MAX);
                return -1;
        }
        if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.'))) {
                snprintf(errstr, errstr_size, "\"%.*s\" is not a valid Kafka topic name", (int)len,
                         name);
                return -1;
        }
        for (i = 0; i < len; i++) {
                if (!topic_name_char_ok(name[i])) {
                        snprintf(errstr, errstr_size,
                                 "byte 0x%02x at offset %zu is not allowed in a Kafka topic name "
                                 "(allowed: a-z A-Z 0-9 . _ -)",
                                 (unsigned char)name[i], i);
                        return -1;
                }
        }
        return 0;
}
