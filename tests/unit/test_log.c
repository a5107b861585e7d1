/*
 * log: one line per call, logfmt and JSON renderings of the same pairs, and
 * both valid whatever a value holds: quotes, backslashes, control bytes,
 * '=', blanks, nothing, invalid UTF-8, or more than a line can take. Each
 * logfmt line is read back by a small logfmt parser, each JSON line by
 * json.c's grammar check and cJSON, and every line is checked to be UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "stderr_capture.h"

#define FFFD "\xef\xbf\xbd"

/* ----------------------------------------------------------- checkers */

static int utf8_valid(const unsigned char *s, size_t n)
{
        size_t i = 0;

        while (i < n) {
                unsigned char c = s[i];
                size_t len, k;
                unsigned long cp;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0) {
                        len = 2;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4;
                        cp = c & 0x07;
                } else {
                        return 0;
                }
                if (i + len > n)
                        return 0;
                for (k = 1; k < len; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return 0;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return 0;
                i += len;
        }
        return 1;
}

/* One line: ends in its only newline, at most 4096 bytes, valid UTF-8. */
static void assert_one_line(const char *out)
{
        size_t n = strlen(out);

        if (n == 0 || out[n - 1] != '\n' || strchr(out, '\n') != out + n - 1)
                fail_msg("not exactly one line: [%s]", out);
        if (n > 4096)
                fail_msg("line of %zu bytes", n);
        if (!utf8_valid((const unsigned char *)out, n))
                fail_msg("line is not valid UTF-8: [%s]", out);
}

/* A logfmt line read back: at most 64 pairs. */
struct kv {
        char key[64];
        char val[4096];
        int quoted;
};
static struct kv kvs[64];
static size_t nkv;

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Parse a logfmt line the way a logfmt reader does; fails the test on any
 * syntax error (a stray quote, an unknown escape, an unclosed string). */
static void logfmt_parse(const char *s)
{
        nkv = 0;
        while (*s && *s != '\n') {
                struct kv *kv;
                size_t k = 0, v = 0;

                if (*s == ' ') {
                        s++;
                        continue;
                }
                assert_true(nkv < 64);
                kv = &kvs[nkv++];
                memset(kv, 0, sizeof(*kv));
                while (*s && *s != '=' && *s != ' ' && *s != '\n') {
                        if (*s == '"')
                                fail_msg("quote in a key at [%s]", s);
                        kv->key[k++] = *s++;
                        assert_true(k < sizeof(kv->key));
                }
                if (*s != '=')
                        continue; /* a bare word */
                s++;
                if (*s == '"') {
                        kv->quoted = 1;
                        s++;
                        while (*s != '"') {
                                char c = *s;

                                if (!c || c == '\n')
                                        fail_msg("unclosed quoted value for %s", kv->key);
                                if ((unsigned char)c < 0x20)
                                        fail_msg("raw control byte in %s", kv->key);
                                if (c == '\\') {
                                        s++;
                                        switch (*s) {
                                        case '"': c = '"'; break;
                                        case '\\': c = '\\'; break;
                                        case 'n': c = '\n'; break;
                                        case 'r': c = '\r'; break;
                                        case 't': c = '\t'; break;
                                        case 'x':
                                                if (hexval(s[1]) < 0 || hexval(s[2]) < 0)
                                                        fail_msg("bad \\x escape in %s", kv->key);
                                                c = (char)(hexval(s[1]) * 16 + hexval(s[2]));
                                                s += 2;
                                                break;
                                        default:
                                                fail_msg("unknown escape \\%c in %s", *s, kv->key);
                                        }
                                }
                                kv->val[v++] = c;
                                assert_true(v < sizeof(kv->val));
                                s++;
                        }
                        s++;
                        if (*s && *s != ' ' && *s != '\n')
                                fail_msg("text right after the closing quote of %s", kv->key);
                } else {
                        while (*s && *s != ' ' && *s != '\n') {
                                if (*s == '"' || *s == '=')
                                        fail_msg("'%c' in the unquoted value of %s", *s, kv->key);
                                kv->val[v++] = *s++;
                                assert_true(v < sizeof(kv->val));
                        }
                }
        }
}

static const struct kv *kv_get(const char *key)
{
        size_t i;

        for (i = 0; i < nkv; i++)
                if (!strcmp(kvs[i].key, key))
                        return &kvs[i];
        return NULL;
}

static void assert_kv(const char *key, const char *want)
{
        const struct kv *kv = kv_get(key);

        if (!kv)
                fail_msg("no %s in the logfmt line", key);
        if (strcmp(kv->val, want))
                fail_msg("%s read back as [%s], not [%s]", key, kv->val, want);
}

/* Check the JSON grammar with json.c, then parse with cJSON. */
static cJSON *json_line(const char *out)
{
        struct json_scanner js;
        cJSON *obj;

        assert_one_line(out);
        json_init(&js, out, strlen(out) - 1);
        if (json_skip(&js, NULL) != 0 || json_peek(&js) != JSON_NONE || js.p != js.end)
                fail_msg("not one JSON value (%s at %zu): %s", js.error ? js.error : "trailing text",
                         js.error_at, out);
        obj = cJSON_Parse(out);
        assert_non_null(obj);
        assert_true(cJSON_IsObject(obj));
        return obj;
}

static const char *json_str(const cJSON *obj, const char *key)
{
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

        if (!cJSON_IsString(it))
                fail_msg("member %s is not a string", key);
        return it->valuestring;
}

/* ------------------------------------------------------------- values */

static const struct {
        const char *key;
        const char *in;
        const char *out;        /* what a reader gets back */
} values[] = {
        { "quote", "say \"hi\"", "say \"hi\"" },
        { "lonequote", "\"", "\"" },
        { "backslash", "C:\\dir\\", "C:\\dir\\" },
        { "newline", "one\ntwo", "one\ntwo" },
        { "cr", "one\r\ntwo", "one\r\ntwo" },
        { "tab", "a\tb", "a\tb" },
        { "ctrl", "bell\x07 esc\x1b del\x7f", "bell\x07 esc\x1b del\x7f" },
        { "equals", "a=b", "a=b" },
        { "space", "two words", "two words" },
        { "empty", "", "" },
        { "plain", "plain_value-1.2", "plain_value-1.2" },
        { "lone_ff", "x\xffy", "x" FFFD "y" },
        { "truncated_seq", "euro\xe2\x82", "euro" FFFD FFFD },
        { "overlong", "slash\xc0\xaf", "slash" FFFD FFFD },
        { "surrogate", "\xed\xa0\x80", FFFD FFFD FFFD },
        { "stray_cont", "\x80z", FFFD "z" },
        { "multibyte", "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80" },
        { "fake_pair", "x\" injected=1 y=\"", "x\" injected=1 y=\"" },
};
#define NVALUES (sizeof(values) / sizeof(values[0]))

static size_t cur;

/* Each value in each of the three spellings: bare, quoted, inside text. */
static void emit_value(void)
{
        log_msg(LOG_WARN, "value", "k=%s q=\"%s\" t=\"before %s after\" n=%d", values[cur].in,
                values[cur].in, values[cur].in, 7);
}

static void every_value_logfmt(void **state)
{
        char want[256];

        (void)state;
        log_setup(LOG_FORMAT_LOGFMT, LOG_INFO);
        for (cur = 0; cur < NVALUES; cur++) {
                const char *out;

                capture_begin();
                emit_value();
                out = capture_end();
                assert_one_line(out);
                assert_int_equal(strncmp(out, "ts=", 3), 0);
                logfmt_parse(out);
                assert_kv("level", "warn");
                assert_kv("msg", "value");
                assert_kv("k", values[cur].out);
                assert_kv("q", values[cur].out);
                snprintf(want, sizeof(want), "before %s after", values[cur].out);
                assert_kv("t", want);
                assert_kv("n", "7");
                assert_null(kv_get("injected"));
                /* Quoted only when a reader needs it. */
                if (!strcmp(values[cur].key, "plain"))
                        assert_false(kv_get("k")->quoted);
        }
}

static void every_value_json(void **state)
{
        char want[256];

        (void)state;
        log_setup(LOG_FORMAT_JSON, LOG_INFO);
        for (cur = 0; cur < NVALUES; cur++) {
                cJSON *obj;

                capture_begin();
                emit_value();
                obj = json_line(capture_end());
                assert_string_equal(json_str(obj, "level"), "warn");
                assert_string_equal(json_str(obj, "msg"), "value");
                if (strcmp(json_str(obj, "k"), values[cur].out))
                        fail_msg("%s: k=[%s]", values[cur].key, json_str(obj, "k"));
                assert_string_equal(json_str(obj, "q"), values[cur].out);
                snprintf(want, sizeof(want), "before %s after", values[cur].out);
                assert_string_equal(json_str(obj, "t"), want);
                assert_true(cJSON_IsNumber(cJSON_GetObjectItem(obj, "n")));
                assert_null(cJSON_GetObjectItem(obj, "injected"));
                cJSON_Delete(obj);
        }
}

/* ------------------------------------------------------------ numbers */

static void emit_numbers(void)
{
        size_t zu = 123456789012ULL;
        long long ll = -9007199254740993LL;
        unsigned char hh = 255;

        log_msg(LOG_INFO, "numbers", "d=%d u=%u ld=%ld zu=%zu ll=%lld hhu=%hhu g=%g f=%.2f "
                "pad=%03d hex=%x quoted=\"%d\" with_text=%dms inf=%g str=%s c=%c "
                "prec=%.*s star=%*d",
                -5, 4000000000U, 1234567890123L, zu, ll, hh, 1.5, 3.14159, 7, 255, 42, 10,
                1.0 / 0.0, "12", 'Z', 3, "abcdef", 4, 9);
}

static void numbers_json(void **state)
{
        cJSON *obj;

        (void)state;
        log_setup(LOG_FORMAT_JSON, LOG_INFO);
        capture_begin();
        emit_numbers();
        obj = json_line(capture_end());
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(obj, "d")));
        assert_int_equal(cJSON_GetObjectItem(obj, "d")->valueint, -5);
        assert_true(cJSON_GetObjectItem(obj, "u")->valuedouble == 4000000000.0);
        assert_true(cJSON_GetObjectItem(obj, "ld")->valuedouble == 1234567890123.0);
        assert_true(cJSON_GetObjectItem(obj, "zu")->valuedouble == 123456789012.0);
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(obj, "ll")));
        assert_int_equal(cJSON_GetObjectItem(obj, "hhu")->valueint, 255);
        assert_true(cJSON_GetObjectItem(obj, "g")->valuedouble == 1.5);
        assert_true(cJSON_GetObjectItem(obj, "f")->valuedouble == 3.14);
        /* Not JSON numbers as printed: kept as strings, never broken JSON. */
        assert_string_equal(json_str(obj, "pad"), "007");
        assert_string_equal(json_str(obj, "hex"), "ff");
        assert_string_equal(json_str(obj, "quoted"), "42");
        assert_string_equal(json_str(obj, "with_text"), "10ms");
        assert_string_equal(json_str(obj, "inf"), "inf");
        assert_string_equal(json_str(obj, "str"), "12");
        assert_string_equal(json_str(obj, "c"), "Z");
        assert_string_equal(json_str(obj, "prec"), "abc");
        assert_string_equal(json_str(obj, "star"), "   9");
        cJSON_Delete(obj);
}

static void numbers_logfmt(void **state)
{
        (void)state;
        log_setup(LOG_FORMAT_LOGFMT, LOG_INFO);
        capture_begin();
        emit_numbers();
        logfmt_parse(capture_end());
        assert_kv("d", "-5");
        assert_kv("u", "4000000000");
        assert_kv("zu", "123456789012");
        assert_kv("ll", "-9007199254740993");
        assert_kv("hhu", "255");
        assert_kv("f", "3.14");
        assert_kv("pad", "007");
        assert_kv("with_text", "10ms");
        assert_kv("prec", "abc");
        assert_kv("star", "   9");
        assert_true(kv_get("star")->quoted);
}

/* ----------------------------------------------------- text, truncation */

static void emit_literal(void)
{
        log_msg(LOG_INFO, "literal", "hello n=%d world 100%% err=\"cannot read %s: %s\"", 1,
                "/etc/k\"ey", "No such file");
}

static void literal_text_kept(void **state)
{
        const char *out;
        cJSON *obj;

        (void)state;
        log_setup(LOG_FORMAT_LOGFMT, LOG_INFO);
        capture_begin();
        emit_literal();
        out = capture_end();
        assert_non_null(strstr(out, " msg=literal hello n=1 world 100% err="));
        logfmt_parse(out);
        assert_kv("err", "cannot read /etc/k\"ey: No such file");

        log_setup(LOG_FORMAT_JSON, LOG_INFO);
        capture_begin();
        emit_literal();
        obj = json_line(capture_end());
        assert_string_equal(json_str(obj, "text"), "hello world 100%");
        assert_int_equal(cJSON_GetObjectItem(obj, "n")->valueint, 1);
        assert_string_equal(json_str(obj, "err"), "cannot read /etc/k\"ey: No such file");
        cJSON_Delete(obj);
}

static char big[10000];

static void emit_huge(void)
{
        log_msg(LOG_ERROR, "huge", "a=1 err=\"%s\" b=2", big);
}

/* Fill big with a repeated unit, which escapes to several bytes each. */
static void fill_big(const char *unit)
{
        size_t n = strlen(unit), i;

        for (i = 0; i + n < sizeof(big); i += n)
                memcpy(big + i, unit, n);
        big[i] = '\0';
}

static void long_values_cut(void **state)
{
        static const char *const units[] = { "\"", "\x01", "\xe2\x82\xac", "ab\\", "\xff", "x" };
        size_t u;

        (void)state;
        for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
                const char *out;
                cJSON *obj;

                fill_big(units[u]);
                log_setup(LOG_FORMAT_LOGFMT, LOG_INFO);
                capture_begin();
                emit_huge();
                out = capture_end();
                assert_one_line(out);
                assert_true(strlen(out) > 3000);
                logfmt_parse(out);
                assert_kv("a", "1");
                assert_kv("truncated", "true");
                assert_non_null(kv_get("err"));
                assert_null(kv_get("b"));

                log_setup(LOG_FORMAT_JSON, LOG_INFO);
                capture_begin();
                emit_huge();
                obj = json_line(capture_end());
                assert_string_equal(json_str(obj, "msg"), "huge");
                assert_int_equal(cJSON_GetObjectItem(obj, "a")->valueint, 1);
                if (!cJSON_IsTrue(cJSON_GetObjectItem(obj, "truncated")))
                        fail_msg("unit %zu: no truncated member", u);
                assert_true(strlen(json_str(obj, "err")) > 300);
                cJSON_Delete(obj);
        }
}

/* Every cut position near the end of a line, across a string, a number
 * and a quoted value: each line still parses in both formats. */
static void every_cut_position(void **state)
{
        size_t len;

        (void)state;
        for (len = 3900; len < 4090; len++) {
                const char *out;
                cJSON *obj;

                memset(big, 'x', len);
                big[len] = '\0';
                log_setup(LOG_FORMAT_JSON, LOG_INFO);
                capture_begin();
                log_msg(LOG_INFO, "cut", "a=%s n=%lld q=\"%s\" m=%d", big, 1234567890123LL, "v w", -7);
                obj = json_line(capture_end());
                if (cJSON_GetObjectItem(obj, "n"))
                        assert_true(cJSON_GetObjectItem(obj, "n")->valuedouble == 1234567890123.0);
                cJSON_Delete(obj);

                log_setup(LOG_FORMAT_LOGFMT, LOG_INFO);
                capture_begin();
                log_msg(LOG_INFO, "cut", "a=%s n=%lld q=\"%s\" m=%d", big, 1234567890123LL, "v w", -7);
                out = capture_end();
                assert_one_line(out);
                logfmt_parse(out);
        }
}

/* ---------------------------------------------------- levels and names */

static void emit_debug(void)
{
        log_msg(LOG_DEBUG, "noise", "x=1");
}

static void level_filter(void **state)
{
        (void)state;
        log_setup(LOG_FORMAT_LOGFMT, LOG_INFO);
        assert_false(log_enabled(LOG_DEBUG));
        assert_true(log_enabled(LOG_INFO));
        assert_true(log_enabled(LOG_ERROR));
        capture_begin();
        emit_debug();
        assert_string_equal(capture_end(), "");
        log_setup(LOG_FORMAT_LOGFMT, LOG_DEBUG);
        assert_true(log_enabled(LOG_DEBUG));
        capture_begin();
        emit_debug();
        assert_non_null(strstr(capture_end(), " level=debug msg=noise x=1\n"));
        log_setup(LOG_FORMAT_LOGFMT, LOG_ERROR);
        assert_false(log_enabled(LOG_WARN));
}

static void no_pairs(void **state)
{
        const char *out;
        cJSON *obj;

        (void)state;
        log_setup(LOG_FORMAT_LOGFMT, LOG_INFO);
        capture_begin();
        log_msg(LOG_INFO, "stopping", NULL);
        out = capture_end();
        assert_one_line(out);
        assert_non_null(strstr(out, " level=info msg=stopping\n"));
        log_setup(LOG_FORMAT_JSON, LOG_INFO);
        capture_begin();
        log_msg(LOG_INFO, "stopping", NULL);
        obj = json_line(capture_end());
        assert_string_equal(json_str(obj, "msg"), "stopping");
        cJSON_Delete(obj);
}

static void parse_names(void **state)
{
        enum log_format f;
        enum log_level l;

        (void)state;
        assert_int_equal(log_format_parse("json", &f), 0);
        assert_int_equal(f, LOG_FORMAT_JSON);
        assert_int_equal(log_format_parse("xml", &f), -1);
        assert_int_equal(log_level_parse("WARN", &l), 0);
        assert_int_equal(l, LOG_WARN);
        assert_int_equal(log_level_parse("loud", &l), -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(every_value_logfmt),
                cmocka_unit_test(every_value_json),
                cmocka_unit_test(numbers_json),
                cmocka_unit_test(numbers_logfmt),
                cmocka_unit_test(literal_text_kept),
                cmocka_unit_test(long_values_cut),
                cmocka_unit_test(every_cut_position),
                cmocka_unit_test(level_filter),
                cmocka_unit_test(no_pairs),
                cmocka_unit_test(parse_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
