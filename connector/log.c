/*
 * The logger. Every line is built in one stack buffer and written with one
 * write(2), so lines from librdkafka's threads never interleave with ours.
 * Call sites pass a printf format of logfmt pairs; the logger reads that
 * format itself, takes each value from the va_list by its conversion's
 * type and escapes it for the chosen format, so no value (a server's error
 * text with quotes, a newline, invalid UTF-8) can break a line's syntax.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096
/* Room kept at the end of a line for the closing quote, the truncation
 * marker, the closing brace and the newline. */
#define LOG_RESERVE 40

static enum log_format log_fmt = LOG_FORMAT_LOGFMT;
static enum log_level log_min = LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_setup(enum log_format fmt, enum log_level min_level)
{
        log_fmt = fmt;
        log_min = min_level;
}

int log_enabled(enum log_level lvl)
{
        return lvl >= log_min;
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

/* A small appender that never overflows. Pairs stop at limit, so a cut
 * line still has room to close its quote and object. */
struct line {
        char *p;
        size_t len;
        size_t cap;
        size_t limit;
        int cut;        /* a value or pair did not fit: the line says truncated */
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

/* @returns the length of the well-formed UTF-8 sequence at s (1..4), or 0
 * when it is invalid: a stray continuation byte, an overlong form, a
 * surrogate, a code point above U+10FFFF or a truncated sequence. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
        unsigned char c = s[0], lo = 0x80, hi = 0xbf;
        size_t len, i;

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                len = 2;
        else if (c >= 0xe0 && c <= 0xef)
                len = 3;
        else if (c >= 0xf0 && c <= 0xf4)
                len = 4;
        else
                return 0;
        if (c == 0xe0)
                lo = 0xa0;
        else if (c == 0xed)
                hi = 0x9f;
        else if (c == 0xf0)
                lo = 0x90;
        else if (c == 0xf4)
                hi = 0x8f;
        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        for (i = 2; i < len; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return len;
}

enum esc_mode {
        ESC_BARE,       /* logfmt unquoted: nothing needs escaping */
        ESC_QUOTED,     /* logfmt between quotes */
        ESC_JSON        /* a JSON string body */
};

/* Encode the character at s into out. @returns its encoded length; *adv
 * is the number of input bytes it used. Invalid UTF-8 becomes U+FFFD, so
 * every line is valid UTF-8 whatever a server sent. */
static size_t esc_unit(const unsigned char *s, size_t n, enum esc_mode mode, char *out,
                       size_t *adv)
{
        static const char hex[] = "0123456789abcdef";
        unsigned char c = s[0];
        size_t len = utf8_len(s, n);

        *adv = len ? len : 1;
        if (!len) {
                memcpy(out, "\xef\xbf\xbd", 3);
                return 3;
        }
        if (len > 1) {
                memcpy(out, s, len);
                return len;
        }
        if (mode == ESC_BARE) {
                out[0] = (char)c;
                return 1;
        }
        out[0] = '\\';
        switch (c) {
        case '"': out[1] = '"'; return 2;
        case '\\': out[1] = '\\'; return 2;
        case '\n': out[1] = 'n'; return 2;
        case '\r': out[1] = 'r'; return 2;
        case '\t': out[1] = 't'; return 2;
        }
        if (c >= 0x20 && c != 0x7f) {
                out[0] = (char)c;
                return 1;
        }
        if (mode == ESC_JSON) {
                memcpy(out, "\\u00", 4);
                out[4] = hex[c >> 4];
                out[5] = hex[c & 15];
                return 6;
        }
        out[1] = 'x';
        out[2] = hex[c >> 4];
        out[3] = hex[c & 15];
        return 4;
}

/* Append s escaped, stopping before the unit that would pass the limit.
 * @returns 0, or -1 when s was cut. */
static int put_escaped(struct line *ln, const char *s, size_t n, enum esc_mode mode)
{
        const unsigned char *u = (const unsigned char *)s;
        char enc[8];
        size_t i = 0;

        while (i < n) {
                size_t adv, k = esc_unit(u + i, n - i, mode, enc, &adv);

                if (ln->len + k > ln->limit) {
                        ln->cut = 1;
                        return -1;
                }
                memcpy(ln->p + ln->len, enc, k);
                ln->len += k;
                i += adv;
        }
        return 0;
}

/* logfmt quotes a value that is empty or holds a blank, '=', a quote, a
 * backslash or a control byte: anything a logfmt reader would split on. */
static int logfmt_needs_quotes(const char *s, size_t n)
{
        size_t i;

        if (!n)
                return 1;
        for (i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c <= 0x20 || c == 0x7f || c == '=' || c == '"' || c == '\\')
                        return 1;
        }
        return 0;
}

/* @returns 1 when s is a JSON number (RFC 8259): "007", "inf", " 7" are not. */
static int json_number_ok(const char *s, size_t n)
{
        size_t i = 0, d;

        if (i < n && s[i] == '-')
                i++;
        if (i < n && s[i] == '0')
                i++;
        else if (i < n && s[i] >= '1' && s[i] <= '9')
                while (i < n && s[i] >= '0' && s[i] <= '9')
                        i++;
        else
                return 0;
        if (i < n && s[i] == '.') {
                for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
                        ;
                if (i == d)
                        return 0;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < n && (s[i] == '+' || s[i] == '-'))
                        i++;
                for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
                        ;
                if (i == d)
                        return 0;
        }
        return i == n;
}

/* A value rendered from its piece of the format, before escaping. */
struct value {
        char buf[LOG_LINE_MAX];
        size_t len;
        int nconv;      /* conversions in the piece */
        int ntext;      /* conversions that are not %d %u %g ... */
};

static void value_add(struct value *v, const char *s, size_t n)
{
        if (n > sizeof(v->buf) - 1 - v->len)
                n = sizeof(v->buf) - 1 - v->len;
        memcpy(v->buf + v->len, s, n);
        v->len += n;
}

enum len_mod { LM_NONE, LM_HH, LM_H, LM_L, LM_LL, LM_Z, LM_J, LM_T, LM_BIG_L };

/* One printf call with a format built at run time: the conversion was read
 * from the caller's format, which gcc checked against its arguments. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/*
 * Read the conversion at f (which points at '%'), take its arguments from
 * ap by type and append the text to v.
 * @returns the first byte after the conversion.
 */
static const char *render_conv(const char *f, va_list *ap, struct value *v)
{
        char spec[48], tmp[512];
        const char *start = f++;
        size_t sl = 0;
        enum len_mod lm = LM_NONE;
        int n = -1, numeric = 0;
        char conv;

        spec[sl++] = '%';
        if (*f == '%') {
                value_add(v, "%", 1);
                return f + 1;
        }
        while (*f && strchr("-+ #0", *f) && sl < 8)
                spec[sl++] = *f++;
        if (*f == '*') {
                sl += (size_t)snprintf(spec + sl, 16, "%d", va_arg(*ap, int));
                f++;
        } else {
                while (*f >= '0' && *f <= '9' && sl < 20)
                        spec[sl++] = *f++;
        }
        if (*f == '.') {
                f++;
                if (*f == '*') {
                        int prec = va_arg(*ap, int);
                        /* A negative precision is taken as if it were omitted. */
                        if (prec >= 0)
                                sl += (size_t)snprintf(spec + sl, 16, ".%d", prec);
                        f++;
                } else {
                        spec[sl++] = '.';
                        while (*f >= '0' && *f <= '9' && sl < 32)
                                spec[sl++] = *f++;
                }
        }
        switch (*f) {
        case 'h': lm = LM_H; f++; if (*f == 'h') { lm = LM_HH; f++; } break;
        case 'l': lm = LM_L; f++; if (*f == 'l') { lm = LM_LL; f++; } break;
        case 'z': lm = LM_Z; f++; break;
        case 'j': lm = LM_J; f++; break;
        case 't': lm = LM_T; f++; break;
        case 'L': lm = LM_BIG_L; f++; break;
        }
        conv = *f;
        if (!conv) {
                /* A lone '%' at the end: keep it as text. */
                value_add(v, start, (size_t)(f - start));
                return f;
        }
        f++;
        switch (conv) {
        case 'd':
        case 'i': {
                long long x;

                switch (lm) {
                case LM_HH: x = (signed char)va_arg(*ap, int); break;
                case LM_H: x = (short)va_arg(*ap, int); break;
                case LM_L: x = va_arg(*ap, long); break;
                case LM_LL: x = va_arg(*ap, long long); break;
                case LM_Z: x = va_arg(*ap, ssize_t); break;
                case LM_J: x = va_arg(*ap, intmax_t); break;
                case LM_T: x = va_arg(*ap, ptrdiff_t); break;
                default: x = va_arg(*ap, int); break;
                }
                memcpy(spec + sl, "lld", 4);
                n = snprintf(tmp, sizeof(tmp), spec, x);
                numeric = 1;
                break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
                unsigned long long x;

                switch (lm) {
                case LM_HH: x = (unsigned char)va_arg(*ap, unsigned); break;
                case LM_H: x = (unsigned short)va_arg(*ap, unsigned); break;
                case LM_L: x = va_arg(*ap, unsigned long); break;
                case LM_LL: x = va_arg(*ap, unsigned long long); break;
                case LM_Z: x = va_arg(*ap, size_t); break;
                case LM_J: x = va_arg(*ap, uintmax_t); break;
                case LM_T: x = (unsigned long long)va_arg(*ap, ptrdiff_t); break;
                default: x = va_arg(*ap, unsigned); break;
                }
                spec[sl++] = 'l';
                spec[sl++] = 'l';
                spec[sl++] = conv;
                spec[sl] = '\0';
                n = snprintf(tmp, sizeof(tmp), spec, x);
                numeric = conv == 'u';
                break;
        }
        case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A':
                if (lm == LM_BIG_L) {
                        long double x = va_arg(*ap, long double);
                        spec[sl++] = 'L';
                        spec[sl++] = conv;
                        spec[sl] = '\0';
                        n = snprintf(tmp, sizeof(tmp), spec, x);
                } else {
                        double x = va_arg(*ap, double);
                        spec[sl++] = conv;
                        spec[sl] = '\0';
                        n = snprintf(tmp, sizeof(tmp), spec, x);
                }
                numeric = conv != 'a' && conv != 'A';
                break;
        case 'c':
                spec[sl++] = 'c';
                spec[sl] = '\0';
                n = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, int));
                break;
        case 'p':
                spec[sl++] = 'p';
                spec[sl] = '\0';
                n = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, void *));
                break;
        case 's': {
                const char *s = va_arg(*ap, const char *);

                if (!s)
                        s = "(null)";
                if (sl == 1) {
                        /* The common case, with no length limit but the line's. */
                        value_add(v, s, strlen(s));
                        v->nconv++;
                        v->ntext++;
                        return f;
                }
                spec[sl++] = 's';
                spec[sl] = '\0';
                n = snprintf(tmp, sizeof(tmp), spec, s);
                break;
        }
        case 'm': {
                /* glibc's %m: the text of errno, no argument. */
                const char *s = strerror(errno);
                value_add(v, s, strlen(s));
                v->nconv++;
                v->ntext++;
                return f;
        }
        default:
                /* Not a conversion we know (gcc would have said): keep it as text. */
                value_add(v, start, (size_t)(f - start));
                return f;
        }
        if (n > 0)
                value_add(v, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
        v->nconv++;
        v->ntext += !numeric;
        return f;
}

#pragma GCC diagnostic pop

/*
 * Render the piece of format at f up to its end: for a quoted piece, the
 * closing quote followed by a blank or the end; else the next blank.
 * @returns the first byte after the piece (after its closing quote).
 */
static const char *render_piece(const char *f, int quoted, va_list *ap, struct value *v)
{
        v->len = 0;
        v->nconv = 0;
        v->ntext = 0;
        while (*f) {
                if (quoted && *f == '"' && (f[1] == ' ' || f[1] == '\0'))
                        return f + 1;
                if (!quoted && *f == ' ')
                        return f;
                if (*f == '%') {
                        f = render_conv(f, ap, v);
                        continue;
                }
                value_add(v, f, 1);
                f++;
        }
        return f;
}

/* @returns the length of the key at f when f starts "key=", else 0. */
static size_t key_len(const char *f)
{
        size_t n = 0;

        while ((f[n] >= 'a' && f[n] <= 'z') || (f[n] >= 'A' && f[n] <= 'Z') ||
               (f[n] >= '0' && f[n] <= '9') || f[n] == '_' || f[n] == '.' || f[n] == '-')
                n++;
        return (n && f[n] == '=') ? n : 0;
}

/* One key=value in the line's format; -1 when it did not fit whole. */
static int put_pair(struct line *ln, const char *key, size_t kn, const struct value *v,
                    int typed_number)
{
        /* A number is written whole or not at all: "n": alone is no JSON. */
        if (ln->len + kn + 6 + (typed_number ? v->len : 0) > ln->limit) {
                ln->cut = 1;
                return -1;
        }
        if (log_fmt == LOG_FORMAT_JSON) {
                puts_(ln, ",\"");
                put(ln, key, kn);
                puts_(ln, "\":");
                if (typed_number) {
                        return put_escaped(ln, v->buf, v->len, ESC_BARE);
                }
                puts_(ln, "\"");
                if (put_escaped(ln, v->buf, v->len, ESC_JSON) == -1) {
                        puts_(ln, "\"");
                        return -1;
                }
                puts_(ln, "\"");
                return 0;
        }
        puts_(ln, " ");
        put(ln, key, kn);
        puts_(ln, "=");
        if (!logfmt_needs_quotes(v->buf, v->len))
                return put_escaped(ln, v->buf, v->len, ESC_BARE);
        puts_(ln, "\"");
        if (put_escaped(ln, v->buf, v->len, ESC_QUOTED) == -1) {
                puts_(ln, "\"");
                return -1;
        }
        puts_(ln, "\"");
        return 0;
}

/* Render every pair of fmt. Text that is no pair (rare) is kept: in
 * logfmt where it stands, in JSON gathered into one "text" member. */
static void put_pairs(struct line *ln, const char *fmt, va_list *ap)
{
        struct value v;
        char text[512];
        size_t tlen = 0;

        while (*fmt) {
                size_t kn;
                const char *key;
                int quoted;

                while (*fmt == ' ')
                        fmt++;
                if (!*fmt)
                        break;
                key = fmt;
                kn = key_len(fmt);
                if (!kn) {
                        fmt = render_piece(fmt, 0, ap, &v);
                        if (log_fmt == LOG_FORMAT_JSON) {
                                if (tlen && tlen < sizeof(text))
                                        text[tlen++] = ' ';
                                if (v.len > sizeof(text) - tlen)
                                        v.len = sizeof(text) - tlen;
                                memcpy(text + tlen, v.buf, v.len);
                                tlen += v.len;
                        } else if (!logfmt_needs_quotes(v.buf, v.len)) {
                                if (ln->len + 1 + v.len > ln->limit) {
                                        ln->cut = 1;
                                        return;
                                }
                                puts_(ln, " ");
                                put_escaped(ln, v.buf, v.len, ESC_BARE);
                        } else if (put_pair(ln, "text", 4, &v, 0) == -1) {
                                return;
                        }
                        continue;
                }
                fmt += kn + 1;
                quoted = *fmt == '"';
                if (quoted)
                        fmt++;
                fmt = render_piece(fmt, quoted, ap, &v);
                /* A number in JSON when unquoted, no text conversion made
                 * it, and it reads as one: "n=%d", "n=1"; not "%03d", "%s". */
                if (put_pair(ln, key, kn, &v,
                             !quoted && !v.ntext && json_number_ok(v.buf, v.len)) == -1)
                        return;
        }
        if (tlen) {
                v.len = tlen;
                memcpy(v.buf, text, tlen);
                put_pair(ln, "text", 4, &v, 0);
        }
}

void log_vmsg(enum log_level lvl, const char *msg, const char *fmt, va_list ap)
{
        char out[LOG_LINE_MAX];
        char ts[96];
        struct line ln = { out, 0, sizeof(out), sizeof(out) - LOG_RESERVE, 0 };
        struct timespec now;
        struct tm tm;
        va_list aq;

        if (lvl < log_min)
                return;

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
                put_escaped(&ln, msg, strlen(msg), ESC_JSON);
                puts_(&ln, "\"");
        } else {
                puts_(&ln, "ts=");
                puts_(&ln, ts);
                puts_(&ln, " level=");
                puts_(&ln, level_names[lvl]);
                puts_(&ln, " msg=");
                if (logfmt_needs_quotes(msg, strlen(msg))) {
                        puts_(&ln, "\"");
                        put_escaped(&ln, msg, strlen(msg), ESC_QUOTED);
                        puts_(&ln, "\"");
                } else {
                        put_escaped(&ln, msg, strlen(msg), ESC_BARE);
                }
        }
        if (fmt) {
                va_copy(aq, ap);
                put_pairs(&ln, fmt, &aq);
                va_end(aq);
        }
        if (ln.cut)
                puts_(&ln, log_fmt == LOG_FORMAT_JSON ? ",\"truncated\":true" : " truncated=true");
        if (log_fmt == LOG_FORMAT_JSON)
                puts_(&ln, "}");
        out[ln.len++] = '\n';
        if (write(STDERR_FILENO, out, ln.len) < 0) {
                /* Nowhere left to report it. */
        }
}

void log_msg(enum log_level lvl, const char *msg, const char *fmt, ...)
{
        va_list ap;

        if (lvl < log_min)
                return;
        va_start(ap, fmt);
        log_vmsg(lvl, msg, fmt, ap);
        va_end(ap);
}
