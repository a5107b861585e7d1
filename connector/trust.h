/*
 * What the bridge accepts from a token endpoint before it sends the bearer
 * token anywhere or puts a value into a request header: the instance_url
 * (scheme, host, port) and the values that end up in headers. Pure: no I/O,
 * no allocation; the session logs and recovers.
 */
#ifndef SFB_TRUST_H
#define SFB_TRUST_H

#include <stddef.h>

/* Why an instance URL was refused: the cause= of instance_url_rejected. */
enum trust_verdict {
        TRUST_OK,
        TRUST_SYNTAX,      /* not scheme://host[:port][/], userinfo, query, fragment, odd bytes */
        TRUST_SCHEME,      /* neither https nor http */
        TRUST_PLAIN_HTTP,  /* http while salesforce.login_url is https */
        TRUST_HOST         /* not a Salesforce domain, not the login host, not allowed */
};

/** @returns the verdict's name as the log's cause= says it ("syntax", "host", …), static. */
const char *trust_verdict_name(enum trust_verdict v);

/**
 * @brief Decide whether @p url, the instance_url a token endpoint answered,
 *        may receive the bearer token. Accepted: https (http only when
 *        @p login_url is http, i.e. an emulator), no userinfo, query or
 *        fragment, no path but "/", a port in 1..65535, and a host that ends
 *        in a Salesforce domain, equals @p login_url's host, or is listed in
 *        @p allowed_hosts.
 * @param allowed_hosts  salesforce.allowed_hosts: names separated by commas
 *        or blanks, each an exact host or ".suffix" (any host below it); NULL: none.
 * @param host  receives the URL's host, lower-cased, for the log: only host
 *        bytes ([a-z0-9.:[]-]), anything else shown as '?', "" when there is
 *        none; may be NULL.
 * @returns TRUST_OK or the first reason to refuse (syntax, scheme, plain_http, host).
 */
enum trust_verdict trust_instance_url(const char *url, const char *login_url,
                                      const char *allowed_hosts, char *host, size_t host_size);

/**
 * @returns 1 when @p s may go into an HTTP request header (or a header line
 *          built from it): no CR, LF or other byte below 0x20 but tab, no
 *          DEL (0x7f); else 0. NULL is refused.
 */
int trust_header_value(const char *s);

#endif
