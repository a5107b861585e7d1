/*
 * Address lists in CIDR notation ("10.0.0.0/8, 192.168.1.7, fd00::/8"):
 * parsed once from configuration, matched against a peer's address. Pure: no
 * I/O, no globals. Used by the operations listener's metrics.allow.
 */
#ifndef SFB_CIDR_H
#define SFB_CIDR_H

#include <stddef.h>
#include <sys/socket.h>

#define CIDR_LIST_MAX 64 /* entries in one list */

struct cidr {
        int family;             /* AF_INET or AF_INET6 */
        unsigned char addr[16]; /* network byte order; the first 4 for AF_INET */
        unsigned prefix;        /* 0-32 or 0-128 */
};

/**
 * @brief Parse a list of networks separated by commas and/or blanks; an
 *        address without "/n" is one host (/32 or /128).
 * @param out  NULL to validate only; else receives a new array, free with free().
 * @param n    entries in *out (may be NULL when out is).
 * @returns 0, or -1 with errstr quoting the offending entry (a network is
 *          not a secret) or saying the list is empty or too long.
 * @remark Host bits set below the prefix ("10.1.2.3/8") are an error: such a
 *         typo would otherwise allow a different network than meant.
 */
int cidr_list_parse(const char *text, struct cidr **out, size_t *n, char *errstr,
                    size_t errstr_size);

/**
 * @returns 1 when @p sa (AF_INET or AF_INET6) is inside one of the @p n
 *          networks, else 0. An IPv4-mapped IPv6 peer (::ffff:a.b.c.d, what a
 *          listener on [::] sees) matches the IPv4 networks.
 */
int cidr_list_match(const struct cidr *list, size_t n, const struct sockaddr *sa);

#endif
