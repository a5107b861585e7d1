/*
 * The logger. Every line is built in one stack buffer and written with one
 * write(2), so lines from librdkafka's threads never interleave with ours.
 * JSON mode re-reads the logfmt pairs the caller formatted, so call sites are
 * the same in both modes.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static enum log_format log_fmt = LOG_FORMAT_LOGFMT;
static enum log_level log_min = LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_setup(enum log_format fmt, enum log_level min_level)
{
        log_fmt = fmt;
        log_min = min_level;
}

int log_format_parse(const char *s, enum log_format *fmt)
{
        if (!strcmp(s, "logfmt"))
                *fmt = LOG_FORMAT_LOGFMT;
        else if (!strcmp(s, "json"))
                *fmt = LOG_FORMAT_JSON;
        else
                return -1;
        return 0;
}

int log_level_parse(const char *s, enum log_level *lvl)
{
        size_t i;

        for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
                if (!strcasecmp(s, level_names[i])) {
                        *lvl = (enum log_level)i;
                        return 0;
                }
        }
        return -1;
}

/* A small appender that never overflows: once full it drops the rest. */
struct line {
        char *p;
        size_t len;
        size_t cap;
};

static void put(struct line *ln, const char *s, size_t n)
{
        if (n > ln->cap - 1 - ln->len)
                n = ln->cap - 1 - ln->len;
        memcpy(ln->p + ln->len, s, n);
        ln->len += n;
}

static void puts_(struct line *ln, const char *s)
{
        put(ln, s, strlen(s));
}

/* JSON string body: escape quotes, backslashes and control characters. */
static void put_json_str(struct line *ln, const char *s, size_t n)
{
        char esc[8];
        size_t i;

        for (i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '"' || c == '\\') {
                        esc[0] = '\\';
                        esc[1] = (char)c;
                        put(ln, esc, 2);
                } else if (c < 0x20) {
                        snprintf(esc, sizeof(esc), "\\u%04x", c);
                        put(ln, esc, 6);
                } else {
                        put(ln, (const char *)&s[i], 1);
                }
        }
}

static int is_number(const char *s, size_t n)
{
        size_t i = 0;
        int digits = 0, dot = 0;

        if (n && s[0] == '-')
                i++;
        if (i < n && s[i] == '0' && i + 1 < n && s[i + 1] != '.')
                return 0; /* JSON forbids leading zeros: keep "007" a string */
        for (; i < n; i++) {
                if (s[i] >= '0' && s[i] <= '9')
                        digits++;
                else if (s[i] == '.' && !dot && digits)
                        dot = 1;
                else
                        return 0;
        }
        return digits > 0 && s[n - 1] != '.';
}

/* Re-emit "k=v k2=\"v w\"" as JSON members. */
static void pairs_to_json(struct line *ln, const char *s)
{
        while (*s) {
                const char *k, *v;
                size_t kn, vn;
                int quoted = 0;

                while (*s == ' ')
                        s++;
                if (!*s)
                        break;
                k = s;
                while (*s && *s != '=' && *s != ' ')
                        s++;
                kn = (size_t)(s - k);
                if (*s != '=') {
                        /* A bare word: keep it rather than lose it. */
                        puts_(ln, ",\"text\":\"");
                        put_json_str(ln, k, kn);
                        puts_(ln, "\"");
                        continue;
                }
                s++;
                if (*s == '"') {
                        quoted = 1;
                        v = ++s;
                        while (*s && !(*s == '"' && (s[1] == ' ' || s[1] == '\0'))) {
                                if (*s == '\\' && s[1])
                                        s++;
                                s++;
                        }
                        vn = (size_t)(s - v);
                        if (*s == '"')
                                s++;
                } else {
                        v = s;
                        while (*s && *s != ' ')
                                s++;
                        vn = (size_t)(s - v);
                }
                puts_(ln, ",\"");
                put_json_str(ln, k, kn);
                puts_(ln, "\":");
                if (!quoted && is_number(v, vn)) {
                        put(ln, v, vn);
                } else if (quoted) {
                        /* Undo logfmt's \" and \\ escapes, then JSON-escape. */
                        size_t i;
                        puts_(ln, "\"");
                        for (i = 0; i < vn; i++) {
                                if (v[i] == '\\' && i + 1 < vn && (v[i + 1] == '"' || v[i + 1] == '\\'))
                                        i++;
                                put_json_str(ln, &v[i], 1);
                        }
                        puts_(ln, "\"");
                } else {
                        puts_(ln, "\"");
                        put_json_str(ln, v, vn);
                        puts_(ln, "\"");
                }
        }
}

void log_msg(enum log_level lvl, const char *msg, const char *fmt, ...)
{
        char pairs[LOG_LINE_MAX / 2];
        char out[LOG_LINE_MAX];
        char ts[96];
        struct line ln = { out, 0, sizeof(out) };
        struct timespec now;
        struct tm tm;
        size_t i, before_pairs;

        if (lvl < log_min)
                return;

        pairs[0] = '\0';
        if (fmt) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(pairs, sizeof(pairs), fmt, ap);
                va_end(ap);
        }
        /* One event, one line: a newline from a server message must not split it. */
        for (i = 0; pairs[i]; i++)
                if (pairs[i] == '\n' || pairs[i] == '\r')
                        pairs[i] = ' ';

        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (long)((unsigned long)now.tv_nsec / 1000000UL % 1000UL));

        if (log_fmt == LOG_FORMAT_JSON) {
                puts_(&ln, "{\"ts\":\"");
                puts_(&ln, ts);
                puts_(&ln, "\",\"level\":\"");
                puts_(&ln, level_names[lvl]);
                puts_(&ln, "\",\"msg\":\"");
                put_json_str(&ln, msg, strlen(msg));
                puts_(&ln, "\"");
                before_pairs = ln.len;
                pairs_to_json(&ln, pairs);
                if (ln.len >= ln.cap - 2) {
                        /* Cut mid-member the object would not parse: keep
                         * the pairs as one text member sized to fit, since
                         * each byte escapes to at most six. */
                        size_t budget;

                        ln.len = before_pairs;
                        puts_(&ln, ",\"truncated\":true,\"text\":\"");
                        budget = (ln.cap - 1 - ln.len - 3) / 6;
                        put_json_str(&ln, pairs, strlen(pairs) < budget ? strlen(pairs) : budget);
                        puts_(&ln, "\"");
                }
                puts_(&ln, "}");
        } else {
                puts_(&ln, "ts=");
                puts_(&ln, ts);
                puts_(&ln, " level=");
                puts_(&ln, level_names[lvl]);
                puts_(&ln, " msg=");
                puts_(&ln, msg);
                if (pairs[0]) {
                        puts_(&ln, " ");
                        puts_(&ln, pairs);
                }
        }
        out[ln.len++] = '\n';
        if (write(STDERR_FILENO, out, ln.len) < 0) {
                /* Nowhere left to report it. */
        }
}
