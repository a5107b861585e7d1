/*
 * The JSON scanner behind the event path. It checks the grammar as it goes
 * and hands back spans of the input: the bridge forwards those bytes, so no
 * number is ever rounded and no escape rewritten. Cold paths (OAuth, replay
 * records, config) keep using cJSON.
 */
#include "json.h"

#include <stdint.h>
#include <string.h>

static int json_fail(struct json_scanner *js, const char *what)
{
        if (!js->error) {
                js->error = what;
                js->error_at = (size_t)(js->p - js->start);
        }
        return -1;
}

static void json_blanks(struct json_scanner *js)
{
        const char *p = js->p;

        while (p < js->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
                p++;
        js->ws += (size_t)(p - js->p);
        js->p = p;
}

void json_init(struct json_scanner *js, const char *text, size_t len)
{
        memset(js, 0, sizeof(*js));
        js->start = text;
        js->p = text;
        js->end = text + len;
}

enum json_type json_peek(struct json_scanner *js)
{
        json_blanks(js);
        if (js->p >= js->end)
                return JSON_NONE;
        switch (*js->p) {
        case '{': return JSON_OBJECT;
        case '[': return JSON_ARRAY;
        case '"': return JSON_STRING;
        case 't': return JSON_TRUE;
        case 'f': return JSON_FALSE;
        case 'n': return JSON_NULL;
        case '-': return JSON_NUMBER;
        default:
                return *js->p >= '0' && *js->p <= '9' ? JSON_NUMBER : JSON_NONE;
        }
}

static int json_hex(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* A string literal starting at js->p; raw gets the contents. Bytes >= 0x20
 * other than '"' and '\\' pass unexamined: this is the hot loop. */
static int json_scan_string(struct json_scanner *js, struct json_span *raw)
{
        const char *p = js->p + 1, *end = js->end;

        for (;;) {
                while (p < end && (unsigned char)*p >= 0x20 && *p != '"' && *p != '\\')
                        p++;
                if (p >= end) {
                        js->p = p;
                        return json_fail(js, "unterminated string");
                }
                if (*p == '"')
                        break;
                if (*p != '\\') {
                        js->p = p;
                        return json_fail(js, "control character in a string");
                }
                if (p + 1 >= end) {
                        js->p = p;
                        return json_fail(js, "unterminated string");
                }
                switch (p[1]) {
                case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                        p += 2;
                        break;
                case 'u':
                        if (end - p < 6 || json_hex(p[2]) < 0 || json_hex(p[3]) < 0 ||
                            json_hex(p[4]) < 0 || json_hex(p[5]) < 0) {
                                js->p = p;
                                return json_fail(js, "bad \\u escape in a string");
                        }
                        p += 6;
                        break;
                default:
                        js->p = p;
                        return json_fail(js, "bad escape in a string");
                }
        }
        if (raw) {
                raw->p = js->p + 1;
                raw->len = (size_t)(p - js->p - 1);
        }
        js->p = p + 1;
        return 0;
}

static const char *json_digits(const char *p, const char *end)
{
        while (p < end && *p >= '0' && *p <= '9')
                p++;
        return p;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int json_scan_number(struct json_scanner *js)
{
        const char *p = js->p, *end = js->end, *q;

        if (p < end && *p == '-')
                p++;
        if (p < end && *p == '0')
                p++;
        else if (p < end && *p >= '1' && *p <= '9')
                p = json_digits(p, end);
        else
                goto bad;
        if (p < end && *p == '.') {
                q = json_digits(p + 1, end);
                if (q == p + 1)
                        goto bad;
                p = q;
        }
        if (p < end && (*p == 'e' || *p == 'E')) {
                p++;
                if (p < end && (*p == '+' || *p == '-'))
                        p++;
                q = json_digits(p, end);
                if (q == p)
                        goto bad;
                p = q;
        }
        js->p = p;
        return 0;
bad:
        js->p = p;
        return json_fail(js, "bad number");
}

static int json_scan_literal(struct json_scanner *js, const char *lit, size_t n)
{
        if ((size_t)(js->end - js->p) < n || memcmp(js->p, lit, n) != 0)
                return json_fail(js, "bad literal (expected true, false or null)");
        js->p += n;
        return 0;
}

int json_open(struct json_scanner *js, enum json_type type)
{
        char want = type == JSON_OBJECT ? '{' : '[';

        json_blanks(js);
        if (js->p >= js->end || *js->p != want)
                return json_fail(js, type == JSON_OBJECT ? "expected an object"
                                                         : "expected an array");
        if (js->depth >= JSON_MAX_DEPTH)
                return json_fail(js, "nested too deeply");
        js->p++;
        js->depth++;
        js->first |= 1ULL << (js->depth - 1);
        return 0;
}

/* Before the next member or item: the closing byte (returns 0), else the
 * separator unless this is the first one (returns 1). A closing byte right
 * after a separator is caught by the caller, which then finds no key or
 * value. */
static int json_next(struct json_scanner *js, char close)
{
        unsigned long long bit = 1ULL << (js->depth - 1);

        json_blanks(js);
        if (js->p >= js->end)
                return json_fail(js, close == '}' ? "unterminated object" : "unterminated array");
        if (*js->p == close) {
                js->p++;
                js->first &= ~bit;
                js->depth--;
                return 0;
        }
        if (!(js->first & bit)) {
                if (*js->p != ',')
                        return json_fail(js, close == '}' ? "expected ',' or '}'"
                                                          : "expected ',' or ']'");
                js->p++;
        }
        js->first &= ~bit;
        return 1;
}

int json_member(struct json_scanner *js, struct json_span *key)
{
        int rc;

        if (js->depth == 0)
                return json_fail(js, "no object open");
        rc = json_next(js, '}');
        if (rc <= 0)
                return rc;
        json_blanks(js);
        if (js->p >= js->end || *js->p != '"')
                return json_fail(js, "expected a string key");
        if (json_scan_string(js, key) == -1)
                return -1;
        json_blanks(js);
        if (js->p >= js->end || *js->p != ':')
                return json_fail(js, "expected ':' after a key");
        js->p++;
        return 1;
}

int json_item(struct json_scanner *js)
{
        if (js->depth == 0)
                return json_fail(js, "no array open");
        return json_next(js, ']');
}

int json_skip(struct json_scanner *js, struct json_span *span)
{
        enum json_type type = json_peek(js);
        const char *start = js->p;
        struct json_span key;
        int rc;

        switch (type) {
        case JSON_STRING:
                rc = json_scan_string(js, NULL);
                break;
        case JSON_NUMBER:
                rc = json_scan_number(js);
                break;
        case JSON_TRUE:
                rc = json_scan_literal(js, "true", 4);
                break;
        case JSON_FALSE:
                rc = json_scan_literal(js, "false", 5);
                break;
        case JSON_NULL:
                rc = json_scan_literal(js, "null", 4);
                break;
        case JSON_OBJECT:
                if ((rc = json_open(js, JSON_OBJECT)) == -1)
                        break;
                while ((rc = json_member(js, &key)) == 1)
                        if ((rc = json_skip(js, NULL)) == -1)
                                break;
                break;
        case JSON_ARRAY:
                if ((rc = json_open(js, JSON_ARRAY)) == -1)
                        break;
                while ((rc = json_item(js)) == 1)
                        if ((rc = json_skip(js, NULL)) == -1)
                                break;
                break;
        default:
                rc = json_fail(js, js->p >= js->end ? "unexpected end of input" : "expected a value");
        }
        if (rc == -1)
                return -1;
        if (span) {
                span->p = start;
                span->len = (size_t)(js->p - start);
        }
        return 0;
}

int json_string(struct json_scanner *js, struct json_span *raw)
{
        if (json_peek(js) != JSON_STRING)
                return json_fail(js, "expected a string");
        return json_scan_string(js, raw);
}

int json_key_is(const struct json_span *key, const char *name)
{
        size_t n = strlen(name);
        char tmp[128];
        long len;

        if (!memchr(key->p, '\\', key->len))
                return key->len == n && memcmp(key->p, name, n) == 0;
        len = json_unescape(key, tmp, sizeof(tmp));
        return len >= 0 && (size_t)len == n && memcmp(tmp, name, n) == 0;
}

static size_t json_put_utf8(char *out, unsigned long cp)
{
        if (cp < 0x80) {
                out[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char)(0xC0 | (cp >> 6));
                out[1] = (char)(0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char)(0xE0 | (cp >> 12));
                out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[2] = (char)(0x80 | (cp & 0x3F));
                return 3;
        }
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
}

/* Four hex digits, or -1 if any is not one. */
static long json_u4(const char *p)
{
        int a = json_hex(p[0]), b = json_hex(p[1]), c = json_hex(p[2]), d = json_hex(p[3]);

        if (a < 0 || b < 0 || c < 0 || d < 0)
                return -1;
        return ((long)a << 12) | ((long)b << 8) | ((long)c << 4) | (long)d;
}

long json_unescape(const struct json_span *raw, char *out, size_t out_size)
{
        const char *p = raw->p, *end = raw->p + raw->len;
        size_t n = 0;

        /* Every escape decodes to no more bytes than it takes, so the raw
         * length plus the NUL is always enough. */
        if (out_size < raw->len + 1)
                return -1;
        while (p < end) {
                unsigned long cp;

                if (*p != '\\') {
                        out[n++] = *p++;
                        continue;
                }
                if (end - p < 2)
                        return -1;
                switch (p[1]) {
                case '"': out[n++] = '"'; break;
                case '\\': out[n++] = '\\'; break;
                case '/': out[n++] = '/'; break;
                case 'b': out[n++] = '\b'; break;
                case 'f': out[n++] = '\f'; break;
                case 'n': out[n++] = '\n'; break;
                case 'r': out[n++] = '\r'; break;
                case 't': out[n++] = '\t'; break;
                case 'u':
                        if (end - p < 6 || json_u4(p + 2) < 0)
                                return -1;
                        cp = (unsigned long)json_u4(p + 2);
                        p += 6;
                        if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' &&
                            p[1] == 'u' && json_u4(p + 2) >= 0xDC00 && json_u4(p + 2) <= 0xDFFF) {
                                cp = 0x10000 + ((cp - 0xD800) << 10) +
                                     ((unsigned long)json_u4(p + 2) - 0xDC00);
                                p += 6;
                        } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                                cp = 0xFFFD; /* a lone surrogate is no character */
                        }
                        n += json_put_utf8(out + n, cp);
                        continue;
                default:
                        return -1;
                }
                p += 2;
        }
        out[n] = '\0';
        return (long)n;
}

int json_int64(const char *p, size_t len, long long *out)
{
        unsigned long long v = 0;
        size_t i;

        if (len == 0)
                return -1;
        for (i = 0; i < len; i++) {
                unsigned d = (unsigned)(p[i] - '0');

                if (d > 9 || v > ((unsigned long long)INT64_MAX - d) / 10)
                        return -1;
                v = v * 10 + d;
        }
        *out = (long long)v;
        return 0;
}

size_t json_compact(const struct json_span *src, char *out)
{
        const char *p = src->p, *end = src->p + src->len;
        size_t n = 0;
        int in_string = 0;

        for (; p < end; p++) {
                char c = *p;

                if (in_string) {
                        out[n++] = c;
                        if (c == '\\' && p + 1 < end)
                                out[n++] = *++p;
                        else if (c == '"')
                                in_string = 0;
                } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                        continue;
                } else {
                        if (c == '"')
                                in_string = 1;
                        out[n++] = c;
                }
        }
        return n;
}
