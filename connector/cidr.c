/*
 * CIDR lists for allow-lists: parse "addr[/prefix]" entries with inet_pton
 * and compare a peer's address bit by bit up to each prefix.
 */
#include "cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse one entry of @p len bytes at @p s into @p c. */
static int cidr_parse_one(const char *s, size_t len, struct cidr *c, char *errstr,
                          size_t errstr_size)
{
        char text[64], *slash;
        unsigned long prefix;
        unsigned maxp, i;

        if (len >= sizeof(text)) {
                memcpy(text, s, 40);
                text[40] = '\0';
                snprintf(errstr, errstr_size, "\"%.40s...\": not an address or network", text);
                return -1;
        }
        memcpy(text, s, len);
        text[len] = '\0';
        memset(c, 0, sizeof(*c));
        slash = strchr(text, '/');
        if (slash)
                *slash = '\0';
        if (inet_pton(AF_INET, text, c->addr) == 1) {
                c->family = AF_INET;
                maxp = 32;
        } else if (inet_pton(AF_INET6, text, c->addr) == 1) {
                c->family = AF_INET6;
                maxp = 128;
        } else {
                if (slash)
                        *slash = '/';
                snprintf(errstr, errstr_size,
                         "\"%s\": not an address or network (like 10.0.0.0/8 or fd00::/8)", text);
                return -1;
        }
        prefix = maxp;
        if (slash) {
                char *end;

                *slash = '/';
                if (slash[1] < '0' || slash[1] > '9' ||
                    (prefix = strtoul(slash + 1, &end, 10), *end) || prefix > maxp) {
                        snprintf(errstr, errstr_size, "\"%s\": the prefix length must be 0 to %u",
                                 text, maxp);
                        return -1;
                }
        }
        c->prefix = (unsigned)prefix;
        for (i = c->prefix; i < maxp; i++) {
                if (c->addr[i / 8] & (0x80u >> (i % 8))) {
                        snprintf(errstr, errstr_size,
                                 "\"%s\": address bits set beyond the /%u prefix", text,
                                 c->prefix);
                        return -1;
                }
        }
        return 0;
}

int cidr_list_parse(const char *text, struct cidr **out, size_t *n, char *errstr,
                    size_t errstr_size)
{
        struct cidr list[CIDR_LIST_MAX], one;
        const char *p = text ? text : "";
        size_t count = 0;

        while (*p) {
                size_t len;

                p += strspn(p, ", \t\r\n");
                len = strcspn(p, ", \t\r\n");
                if (!len)
                        break;
                if (count == CIDR_LIST_MAX) {
                        snprintf(errstr, errstr_size, "more than %d networks", CIDR_LIST_MAX);
                        return -1;
                }
                if (cidr_parse_one(p, len, &one, errstr, errstr_size) == -1)
                        return -1;
                list[count++] = one;
                p += len;
        }
        if (!count) {
                snprintf(errstr, errstr_size, "lists no network (leave it unset to allow every "
                         "address)");
                return -1;
        }
        if (out) {
                *out = malloc(count * sizeof(**out));
                if (!*out) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
                memcpy(*out, list, count * sizeof(**out));
        }
        if (n)
                *n = count;
        return 0;
}

/* Do the first @p bits bits of @p a and @p b agree? */
static int prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
        unsigned whole = bits / 8, rest = bits % 8;

        if (memcmp(a, b, whole))
                return 0;
        if (!rest)
                return 1;
        return ((a[whole] ^ b[whole]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

int cidr_list_match(const struct cidr *list, size_t n, const struct sockaddr *sa)
{
        static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        unsigned char v4[4], v6[16];
        int has4 = 0, has6 = 0;
        size_t i;

        if (!sa)
                return 0;
        if (sa->sa_family == AF_INET) {
                memcpy(v4, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
                has4 = 1;
        } else if (sa->sa_family == AF_INET6) {
                memcpy(v6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
                has6 = 1;
                if (!memcmp(v6, v4mapped, sizeof(v4mapped))) {
                        memcpy(v4, v6 + 12, 4);
                        has4 = 1;
                }
        }
        for (i = 0; i < n; i++) {
                if (list[i].family == AF_INET && has4 &&
                    prefix_equal(list[i].addr, v4, list[i].prefix))
                        return 1;
                if (list[i].family == AF_INET6 && has6 &&
                    prefix_equal(list[i].addr, v6, list[i].prefix))
                        return 1;
        }
        return 0;
}
