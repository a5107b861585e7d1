/*
 * Trust rules for what a token endpoint answers (see trust.h). A token
 * endpoint the bridge was pointed at by mistake, a proxy, or a hostile
 * server could otherwise name any URL as instance_url and receive the
 * bearer token there, over any protocol libcurl speaks.
 */
#include "trust.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/*
 * The domains Salesforce serves an org's API from, as instance_url names
 * them. Kept short on purpose: every entry is a domain whose hosts get the
 * bearer token without asking the operator.
 *   .salesforce.com  instanced (na1.salesforce.com) and My Domain hosts
 *                    (acme.my.salesforce.com, acme--uat.sandbox.my.salesforce.com)
 *   .force.com       legacy My Domain and site hosts (acme.my.force.com)
 *   .cloudforce.com  the oldest My Domain format (acme.cloudforce.com)
 *   .salesforce.mil  Government Cloud Plus - Defense (acme.my.salesforce.mil)
 * Anything else (another sovereign cloud, an emulator, a test proxy) goes
 * into salesforce.allowed_hosts, where an operator chose it.
 */
static const char *const trust_sf_domains[] = {
        ".salesforce.com", ".force.com", ".cloudforce.com", ".salesforce.mil",
};

#define TRUST_HOST_MAX 253 /* RFC 1035 */

struct url_parts {
        const char *scheme;
        size_t scheme_len;
        const char *host;   /* as written: a name, an IPv4 or a [bracketed] IPv6 literal */
        size_t host_len;
};

const char *trust_verdict_name(enum trust_verdict v)
{
        switch (v) {
        case TRUST_OK: return "ok";
        case TRUST_SYNTAX: return "syntax";
        case TRUST_SCHEME: return "scheme";
        case TRUST_PLAIN_HTTP: return "plain_http";
        case TRUST_HOST: return "host";
        }
        return "syntax";
}

static int is_alpha(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static int is_hex(char c)
{
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A DNS name (or IPv4 dotted quad): labels of 1..63 letters, digits and
 * inner '-', no empty label (so no trailing dot, which would slip past a
 * suffix comparison). */
static int valid_name(const char *s, size_t len)
{
        size_t i, label = 0;

        if (len == 0 || len > TRUST_HOST_MAX)
                return 0;
        for (i = 0; i < len; i++) {
                char c = s[i];

                if (c == '.') {
                        if (label == 0 || s[i - 1] == '-')
                                return 0;
                        label = 0;
                        continue;
                }
                if (!is_alpha(c) && !is_digit(c) && c != '-')
                        return 0;
                if (c == '-' && label == 0)
                        return 0;
                if (++label > 63)
                        return 0;
        }
        return label > 0 && s[len - 1] != '-';
}

/* "[v6]" with hex digits, ':' and '.' (an embedded IPv4) inside. */
static int valid_v6(const char *s, size_t len)
{
        size_t i;
        int colons = 0;

        if (len < 4 || s[0] != '[' || s[len - 1] != ']')
                return 0;
        for (i = 1; i < len - 1; i++) {
                if (s[i] == ':')
                        colons++;
                else if (!is_hex(s[i]) && s[i] != '.')
                        return 0;
        }
        return colons >= 2;
}

/*
 * Split @p url into scheme and host. Strict on purpose: what libcurl would
 * read differently from us (a backslash, userinfo, blanks, bytes outside
 * printable ASCII, a query or fragment) is refused rather than interpreted.
 * @param with_path  accept a path, query and fragment (the configured login URL).
 * @returns 0 when the URL has the shape scheme://host[:port][/], else -1;
 *          p->host is set whenever an authority could be found (for the log).
 */
static int url_split(const char *url, int with_path, struct url_parts *p)
{
        const char *s, *auth, *end, *at, *colon, *rest;
        int bad = 0;

        memset(p, 0, sizeof(*p));
        if (!url)
                return -1;
        for (s = url; *s; s++)
                if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '\\')
                        bad = 1;
        s = url;
        if (!is_alpha(*s))
                return -1;
        while (is_alpha(*s) || is_digit(*s) || *s == '+' || *s == '-' || *s == '.')
                s++;
        if (strncmp(s, "://", 3) != 0)
                return -1;
        p->scheme = url;
        p->scheme_len = (size_t)(s - url);
        auth = s + 3;
        end = auth + strcspn(auth, "/?#\\");
        /* userinfo: the host is what follows the last '@' */
        at = NULL;
        for (s = auth; s < end; s++)
                if (*s == '@')
                        at = s;
        if (at) {
                bad = 1;
                auth = at + 1;
        }
        if (auth[0] == '[') {
                const char *close = memchr(auth, ']', (size_t)(end - auth));

                p->host = auth;
                p->host_len = close ? (size_t)(close + 1 - auth) : (size_t)(end - auth);
                colon = close ? close + 1 : end;
                if (!close || !valid_v6(p->host, p->host_len))
                        bad = 1;
                if (colon < end && *colon != ':')
                        bad = 1;
        } else {
                colon = memchr(auth, ':', (size_t)(end - auth));
                if (!colon)
                        colon = end;
                p->host = auth;
                p->host_len = (size_t)(colon - auth);
                if (!valid_name(p->host, p->host_len))
                        bad = 1;
        }
        if (colon < end) {
                /* ":port": 1 to 5 digits, 1..65535 */
                const char *d = colon + 1;
                long port = 0;
                size_t n = (size_t)(end - d);

                if (n == 0 || n > 5)
                        bad = 1;
                for (; d < end; d++) {
                        if (!is_digit(*d)) {
                                bad = 1;
                                break;
                        }
                        port = port * 10 + (*d - '0');
                }
                if (port < 1 || port > 65535)
                        bad = 1;
        }
        /* Nothing after the authority but slashes: the bridge appends its
         * own paths (/cometd/59.0, /services/data/…). */
        for (rest = end; *rest && !with_path; rest++)
                if (*rest != '/')
                        bad = 1;
        return bad ? -1 : 0;
}

static int host_is(const char *host, size_t len, const char *name, size_t name_len)
{
        return len == name_len && strncasecmp(host, name, len) == 0;
}

/* @p suffix starts with '.': a host below it, never the domain itself. */
static int host_below(const char *host, size_t len, const char *suffix, size_t suffix_len)
{
        return len > suffix_len && strncasecmp(host + len - suffix_len, suffix, suffix_len) == 0;
}

static int host_allowed(const char *host, size_t len, const char *allowed)
{
        const char *s = allowed;

        while (s && *s) {
                size_t n;

                s += strspn(s, ", \t");
                n = strcspn(s, ", \t");
                if (n && ((s[0] == '.' && n > 1 && host_below(host, len, s, n)) ||
                          host_is(host, len, s, n)))
                        return 1;
                s += n;
        }
        return 0;
}

static void host_for_log(const struct url_parts *p, char *out, size_t out_size)
{
        size_t i, n = 0;

        if (!out || !out_size)
                return;
        for (i = 0; p->host && i < p->host_len && n + 1 < out_size && i < TRUST_HOST_MAX; i++) {
                char c = p->host[i];

                if (c >= 'A' && c <= 'Z')
                        c = (char)(c - 'A' + 'a');
                if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '-' && c != ':' && c != '[' &&
                    c != ']')
                        c = '?';
                out[n++] = c;
        }
        out[n] = '\0';
}

enum trust_verdict trust_instance_url(const char *url, const char *login_url,
                                      const char *allowed_hosts, char *host, size_t host_size)
{
        struct url_parts p, login;
        int login_ok;
        size_t i;

        if (host && host_size)
                host[0] = '\0';
        if (url_split(url, 0, &p) == -1) {
                host_for_log(&p, host, host_size);
                return TRUST_SYNTAX;
        }
        host_for_log(&p, host, host_size);
        login_ok = url_split(login_url, 1, &login) == 0;
        if (!host_is(p.scheme, p.scheme_len, "https", 5)) {
                if (!host_is(p.scheme, p.scheme_len, "http", 4))
                        return TRUST_SCHEME;
                /* Plain http only where the login itself is plain http (an
                 * emulator): the token must never leave TLS it came in. */
                if (!login_ok || !host_is(login.scheme, login.scheme_len, "http", 4))
                        return TRUST_PLAIN_HTTP;
        }
        for (i = 0; i < sizeof(trust_sf_domains) / sizeof(trust_sf_domains[0]); i++)
                if (host_below(p.host, p.host_len, trust_sf_domains[i], strlen(trust_sf_domains[i])))
                        return TRUST_OK;
        if (login_ok && host_is(p.host, p.host_len, login.host, login.host_len))
                return TRUST_OK;
        if (host_allowed(p.host, p.host_len, allowed_hosts))
                return TRUST_OK;
        return TRUST_HOST;
}

int trust_header_value(const char *s)
{
        if (!s)
                return 0;
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;

                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return 0;
        }
        return 1;
}
