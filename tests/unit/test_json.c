/*
 * json.c: the pull scanner behind the event path. Every grammar error is
 * refused with its text and byte offset, spans cover exactly the bytes of a
 * value, strings decode (escapes, surrogate pairs) only when asked, and
 * integers are read exactly up to INT64_MAX.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json.h"

/* Scan one whole value of text; returns json_skip's answer. */
static int scan(struct json_scanner *js, const char *text, struct json_span *span)
{
        json_init(js, text, strlen(text));
        return json_skip(js, span);
}

/* A span compared with a C string, byte for byte. */
static void assert_span(const struct json_span *sp, const char *expect)
{
        if (sp->len != strlen(expect) || memcmp(sp->p, expect, sp->len) != 0)
                fail_msg("span \"%.*s\" (%zu bytes) is not \"%s\"", (int)sp->len, sp->p, sp->len,
                         expect);
}

/* ------------------------------------------------------------- grammar */

static void test_peek_types(void **state)
{
        static const struct {
                const char *text;
                enum json_type type;
        } cases[] = {
                { "{}", JSON_OBJECT },     { "[]", JSON_ARRAY },  { "\"s\"", JSON_STRING },
                { "0", JSON_NUMBER },      { "-1", JSON_NUMBER }, { "9", JSON_NUMBER },
                { "true", JSON_TRUE },     { "false", JSON_FALSE }, { "null", JSON_NULL },
                { " \t\r\n{", JSON_OBJECT }, { "", JSON_NONE },   { "   ", JSON_NONE },
                { "x", JSON_NONE },        { "+1", JSON_NONE },   { ".5", JSON_NONE },
                { "]", JSON_NONE },        { "'s'", JSON_NONE },
        };
        struct json_scanner js;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                json_init(&js, cases[i].text, strlen(cases[i].text));
                if (json_peek(&js) != cases[i].type)
                        fail_msg("json_peek(\"%s\") = %d, expected %d", cases[i].text,
                                 json_peek(&js), cases[i].type);
                /* Peeking consumes blanks only, and sets no error. */
                assert_null(js.error);
        }
}

/* Every value form of RFC 8259 is accepted whole, with its exact span. */
static void test_valid_values(void **state)
{
        static const char *const values[] = {
                "0", "-0", "-0.0", "1", "123456789012345678", "9007199254740993",
                "3.14159265358979323846", "1e400", "1E+2", "1e-2", "-1.5e-300", "0.5",
                "\"\"", "\"a\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u00e9\\uD83D\\ude00\"",
                "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", "\"\x7f\"",
                "true", "false", "null", "{}", "[]", "[[]]", "{\"a\":{}}",
                "{\"a\":1,\"b\":[true,false,null],\"c\":\"d\"}", "[1,\"2\",[3],{\"4\":4}]",
                "{ \"a\" : [ 1 , 2 ] }",
        };
        struct json_scanner js;
        struct json_span sp;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                char text[128];

                /* Blanks around the value are not part of its span. */
                snprintf(text, sizeof(text), " \n%s\t ", values[i]);
                if (scan(&js, text, &sp) != 0)
                        fail_msg("\"%s\" refused: %s at %zu", values[i], js.error, js.error_at);
                assert_ptr_equal(sp.p, text + 2);
                assert_span(&sp, values[i]);
                assert_null(js.error);
                assert_int_equal(js.depth, 0);
                /* The scanner stops right after the value. */
                assert_ptr_equal(js.p, text + 2 + strlen(values[i]));
                assert_int_equal(json_peek(&js), JSON_NONE);
                assert_ptr_equal(js.p, js.end);
        }
}

/* Each error is refused with its text and the offset of the offending byte. */
static void test_grammar_errors(void **state)
{
        static const struct {
                const char *text;
                const char *error;
                size_t at;
        } cases[] = {
                /* strings */
                { "\"abc", "unterminated string", 4 },
                { "\"abc\\", "unterminated string", 4 },
                { "[\"a\\q\"]", "bad escape in a string", 3 },
                { "\"a\\x41\"", "bad escape in a string", 2 },
                { "\"a\\'\"", "bad escape in a string", 2 },
                { "\"a\\u12g4\"", "bad \\u escape in a string", 2 },
                { "\"a\\u12\"", "bad \\u escape in a string", 2 },
                { "\"a\\u", "bad \\u escape in a string", 2 },
                { "\"a\x01z\"", "control character in a string", 2 },
                { "\"a\tb\"", "control character in a string", 2 },
                { "\"a\nb\"", "control character in a string", 2 },
                { "{\"k\x1f\":1}", "control character in a string", 3 },
                /* numbers */
                { "[01]", "expected ',' or ']'", 2 },
                { "{\"a\":-01}", "expected ',' or '}'", 7 },
                { "1.", "bad number", 1 },
                { "[1.]", "bad number", 2 },
                { "1.e5", "bad number", 1 },
                { ".5", "expected a value", 0 },
                { "[.5]", "expected a value", 1 },
                { "-", "bad number", 1 },
                { "[-]", "bad number", 2 },
                { "-a", "bad number", 1 },
                { "+1", "expected a value", 0 },
                { "1e", "bad number", 2 },
                { "1e+", "bad number", 3 },
                { "[1E-]", "bad number", 4 },
                { "[0x10]", "expected ',' or ']'", 2 },
                { "[1 2]", "expected ',' or ']'", 3 },
                /* literals */
                { "tru", "bad literal (expected true, false or null)", 0 },
                { "[nul]", "bad literal (expected true, false or null)", 1 },
                { "True", "expected a value", 0 },
                { "[fals e]", "bad literal (expected true, false or null)", 1 },
                /* objects */
                { "{\"a\":1,}", "expected a string key", 7 },
                { "{,\"a\":1}", "expected a string key", 1 },
                { "{\"a\":1,,\"b\":2}", "expected a string key", 7 },
                { "{\"a\" 1}", "expected ':' after a key", 5 },
                { "{\"a\"}", "expected ':' after a key", 4 },
                { "{\"a\"::1}", "expected a value", 5 },
                { "{\"a\":}", "expected a value", 5 },
                { "{\"a\":1 \"b\":2}", "expected ',' or '}'", 7 },
                { "{\"a\":1]", "expected ',' or '}'", 6 },
                { "{1:2}", "expected a string key", 1 },
                { "{'a':2}", "expected a string key", 1 },
                { "{", "unterminated object", 1 },
                { "{\"a\":1", "unterminated object", 6 },
                { "{\"a\":1 ,", "expected a string key", 8 },
                { "{\"a\":", "unexpected end of input", 5 },
                { "{\"a", "unterminated string", 3 },
                /* arrays */
                { "[1,]", "expected a value", 3 },
                { "[,1]", "expected a value", 1 },
                { "[1,,2]", "expected a value", 3 },
                { "[", "unterminated array", 1 },
                { "[1,2", "unterminated array", 4 },
                { "[1,2, ", "unexpected end of input", 6 },
                { "[{\"a\":[1,2}]", "expected ',' or ']'", 10 },
                { "[1}", "expected ',' or ']'", 2 },
                /* nothing */
                { "", "unexpected end of input", 0 },
                { "  \n", "unexpected end of input", 3 },
                { "}", "expected a value", 0 },
                { "  x", "expected a value", 2 },
        };
        struct json_scanner js;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                if (scan(&js, cases[i].text, NULL) != -1)
                        fail_msg("\"%s\" accepted", cases[i].text);
                if (!js.error || strcmp(js.error, cases[i].error) != 0 ||
                    js.error_at != cases[i].at)
                        fail_msg("\"%s\": \"%s\" at %zu, expected \"%s\" at %zu", cases[i].text,
                                 js.error ? js.error : "(none)", js.error_at, cases[i].error,
                                 cases[i].at);
        }
}

/* A whole document: one value, then only blanks. What follows the value is
 * not the scanner's to refuse: it stops there and the caller checks. */
static void test_garbage_after_value(void **state)
{
        static const struct {
                const char *text;
                const char *value;
                size_t next;
        } cases[] = {
                { "[1] x", "[1]", 4 },
                { "{\"a\":1}}", "{\"a\":1}", 7 },
                { "01", "0", 1 },
                { "truex", "true", 4 },
                { "\"a\"\"b\"", "\"a\"", 3 },
                { "1 2", "1", 2 },
        };
        struct json_scanner js;
        struct json_span sp;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                assert_int_equal(scan(&js, cases[i].text, &sp), 0);
                assert_span(&sp, cases[i].value);
                json_peek(&js);
                if ((size_t)(js.p - js.start) != cases[i].next || js.p == js.end)
                        fail_msg("\"%s\": stopped at %zu, expected %zu", cases[i].text,
                                 (size_t)(js.p - js.start), cases[i].next);
        }
}

static void test_depth_limit(void **state)
{
        char text[2 * (JSON_MAX_DEPTH + 1) + 1];
        struct json_scanner js;
        struct json_span sp;
        int i;

        (void)state;
        /* JSON_MAX_DEPTH levels are fine... */
        for (i = 0; i < JSON_MAX_DEPTH; i++) {
                text[i] = '[';
                text[JSON_MAX_DEPTH + i] = ']';
        }
        text[2 * JSON_MAX_DEPTH] = '\0';
        assert_int_equal(scan(&js, text, &sp), 0);
        assert_int_equal(sp.len, 2 * JSON_MAX_DEPTH);

        /* ...one more is refused where it opens. */
        for (i = 0; i <= JSON_MAX_DEPTH; i++) {
                text[i] = '[';
                text[JSON_MAX_DEPTH + 1 + i] = ']';
        }
        text[2 * (JSON_MAX_DEPTH + 1)] = '\0';
        assert_int_equal(scan(&js, text, NULL), -1);
        assert_string_equal(js.error, "nested too deeply");
        assert_int_equal(js.error_at, JSON_MAX_DEPTH);

        /* Objects count the same way, and the "first member" bit of the
         * deepest level still works. */
        {
                char obj[12 * JSON_MAX_DEPTH + 16];
                size_t n = 0;

                for (i = 0; i < JSON_MAX_DEPTH; i++)
                        n += (size_t)sprintf(obj + n, "{\"a\":");
                n += (size_t)sprintf(obj + n, "1");
                for (i = 0; i < JSON_MAX_DEPTH; i++)
                        n += (size_t)sprintf(obj + n, ",\"b\":2}");
                assert_int_equal(scan(&js, obj, &sp), 0);
                assert_int_equal(sp.len, n);
        }
}

/* The first error stays: later calls do not overwrite its text or offset. */
static void test_first_error_sticks(void **state)
{
        struct json_scanner js;

        (void)state;
        json_init(&js, "[1,]  }", 7);
        assert_int_equal(json_skip(&js, NULL), -1);
        assert_string_equal(js.error, "expected a value");
        assert_int_equal(js.error_at, 3);
        assert_int_equal(json_open(&js, JSON_OBJECT), -1);
        assert_string_equal(js.error, "expected a value");
        assert_int_equal(js.error_at, 3);
        js.p = js.start + 6;  /* even at another byte */
        assert_int_equal(json_string(&js, NULL), -1);
        assert_string_equal(js.error, "expected a value");
        assert_int_equal(js.error_at, 3);
}

/* The length is the end: nothing past it is read (ASan sees an overread). */
static void test_respects_length(void **state)
{
        static const char *const texts[] = { "\"abc", "12", "tr", "{\"a\":1", "[1,", "\"a\\u00" };
        struct json_scanner js;
        struct json_span sp;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                size_t len = strlen(texts[i]);
                char *copy = malloc(len);
                int rc;

                assert_non_null(copy);
                memcpy(copy, texts[i], len); /* no NUL */
                json_init(&js, copy, len);
                rc = json_skip(&js, &sp);
                if (i == 1) {
                        assert_int_equal(rc, 0);
                        assert_int_equal(sp.len, 2);
                } else {
                        assert_int_equal(rc, -1);
                        assert_true(js.error_at <= len);
                }
                free(copy);
        }
}

/* ------------------------------------------------------- pulling values */

static void test_walk_members_and_items(void **state)
{
        static const char text[] = " { \"a\" : [ 1 , {\"b\":true} ] , \"c\\u0064\" : \"x\\\"y\" , \"n\":null } ";
        struct json_scanner js;
        struct json_span key, sp;

        (void)state;
        json_init(&js, text, strlen(text));
        assert_int_equal(json_peek(&js), JSON_OBJECT);
        assert_int_equal(json_open(&js, JSON_OBJECT), 0);
        assert_int_equal(js.depth, 1);

        assert_int_equal(json_member(&js, &key), 1);
        assert_span(&key, "a");
        assert_int_equal(json_peek(&js), JSON_ARRAY);
        assert_int_equal(json_open(&js, JSON_ARRAY), 0);
        assert_int_equal(js.depth, 2);
        assert_int_equal(json_item(&js), 1);
        assert_int_equal(json_skip(&js, &sp), 0);
        assert_span(&sp, "1");
        assert_int_equal(json_item(&js), 1);
        assert_int_equal(json_skip(&js, &sp), 0);
        assert_span(&sp, "{\"b\":true}");
        assert_int_equal(json_item(&js), 0);
        assert_int_equal(js.depth, 1);

        /* Keys come back as sent; json_key_is decodes them. */
        assert_int_equal(json_member(&js, &key), 1);
        assert_span(&key, "c\\u0064");
        assert_true(json_key_is(&key, "cd"));
        assert_false(json_key_is(&key, "c\\u0064"));
        assert_int_equal(json_string(&js, &sp), 0);
        assert_span(&sp, "x\\\"y");

        assert_int_equal(json_member(&js, &key), 1);
        assert_true(json_key_is(&key, "n"));
        assert_false(json_key_is(&key, "nn"));
        assert_false(json_key_is(&key, ""));
        assert_int_equal(json_peek(&js), JSON_NULL);
        assert_int_equal(json_skip(&js, NULL), 0);
        assert_int_equal(json_member(&js, &key), 0);
        assert_int_equal(js.depth, 0);
        assert_null(js.error);
        assert_int_equal(json_peek(&js), JSON_NONE);
        assert_ptr_equal(js.p, js.end);
        /* Sixteen blanks outside strings, the last one consumed by json_peek. */
        assert_int_equal(js.ws, 16);
}

static void test_misuse_refused(void **state)
{
        struct json_scanner js;
        struct json_span sp;

        (void)state;
        json_init(&js, "[1]", 3);
        assert_int_equal(json_member(&js, &sp), -1);
        assert_string_equal(js.error, "no object open");
        assert_int_equal(js.error_at, 0);

        json_init(&js, "{}", 2);
        assert_int_equal(json_item(&js), -1);
        assert_string_equal(js.error, "no array open");

        json_init(&js, " [1]", 4);
        assert_int_equal(json_open(&js, JSON_OBJECT), -1);
        assert_string_equal(js.error, "expected an object");
        assert_int_equal(js.error_at, 1);

        json_init(&js, "{}", 2);
        assert_int_equal(json_open(&js, JSON_ARRAY), -1);
        assert_string_equal(js.error, "expected an array");

        json_init(&js, "  12", 4);
        assert_int_equal(json_string(&js, &sp), -1);
        assert_string_equal(js.error, "expected a string");
        assert_int_equal(js.error_at, 2);
}

/* The whitespace count is what callers use to know a value needs compacting. */
static void test_whitespace_count(void **state)
{
        static const struct {
                const char *text;
                size_t ws;
        } cases[] = {
                { "{\"a\":[1,2]}", 0 },
                { "{\"a b\":\" \\t \"}", 0 },  /* inside strings only */
                { "{ \"a\":1}", 1 },
                { "{\"a\" :1}", 1 },
                { "{\"a\":1 }", 1 },
                { "[1,\r\n\t2]", 3 },
                { "  7  ", 2 },                /* trailing blanks are not reached */
        };
        struct json_scanner js;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                assert_int_equal(scan(&js, cases[i].text, NULL), 0);
                if (js.ws != cases[i].ws)
                        fail_msg("\"%s\": ws %zu, expected %zu", cases[i].text, js.ws, cases[i].ws);
        }
}

/* ------------------------------------------------------------- unescape */

static void test_unescape(void **state)
{
        static const struct {
                const char *raw;
                const char *text;
                size_t len;
        } cases[] = {
                { "plain", "plain", 5 },
                { "", "", 0 },
                { "caf\\u00e9", "caf\xc3\xa9", 5 },
                { "caf\\u00E9", "caf\xc3\xa9", 5 },
                { "\\u0041\\u07ff\\u0800\\uffff", "A\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf", 9 },
                { "\\ud83d\\ude00", "\xf0\x9f\x98\x80", 4 },
                { "\\uD83D\\uDE00!", "\xf0\x9f\x98\x80!", 5 },
                { "\\udbff\\udfff", "\xf4\x8f\xbf\xbf", 4 },  /* U+10FFFF */
                /* A lone surrogate is no character: U+FFFD. */
                { "\\ud83d", "\xef\xbf\xbd", 3 },
                { "\\ud83dx", "\xef\xbf\xbdx", 4 },
                { "\\ude00", "\xef\xbf\xbd", 3 },
                { "\\ude00\\ud83d", "\xef\xbf\xbd\xef\xbf\xbd", 6 },
                { "\\ud83d\\u0041", "\xef\xbf\xbd" "A", 4 },
                { "\\ud83d\\ud83d\\ude00", "\xef\xbf\xbd\xf0\x9f\x98\x80", 7 },
                { "\\\"\\\\\\/\\b\\f\\n\\r\\t", "\"\\/\b\f\n\r\t", 8 },
                { "a\\/b", "a/b", 3 },
                { "x\\u0000y", "x\0y", 3 },
                { "caf\xc3\xa9", "caf\xc3\xa9", 5 },  /* UTF-8 passes as it is */
        };
        char out[64];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct json_span raw = { cases[i].raw, strlen(cases[i].raw) };
                long n;

                memset(out, 'Z', sizeof(out));
                n = json_unescape(&raw, out, sizeof(out));
                if (n != (long)cases[i].len || memcmp(out, cases[i].text, cases[i].len) != 0)
                        fail_msg("unescape \"%s\": %ld bytes, expected %zu", cases[i].raw, n,
                                 cases[i].len);
                assert_int_equal(out[n], '\0');
                /* The raw length plus the NUL is always enough... */
                memset(out, 'Z', sizeof(out));
                assert_int_equal(json_unescape(&raw, out, raw.len + 1), n);
                assert_memory_equal(out, cases[i].text, cases[i].len);
                /* ...and one byte less is refused, even when the text would fit. */
                assert_int_equal(json_unescape(&raw, out, raw.len), -1);
        }
}

static void test_unescape_refuses_bad_escapes(void **state)
{
        static const char *const bad[] = { "a\\", "\\q", "\\u12", "\\U0041", "\\x41", "\\u" };
        char out[32];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct json_span raw = { bad[i], strlen(bad[i]) };

                if (json_unescape(&raw, out, sizeof(out)) != -1)
                        fail_msg("unescape \"%s\" accepted", bad[i]);
        }
}

/*
 * A \u escape with a byte that is not hex is refused, also as the second
 * half of a pair. The scanner never hands such text to json_unescape, but a
 * caller may: it must get -1, and nothing undefined on the way (UBSan).
 */
static void test_unescape_refuses_bad_hex(void **state)
{
        static const char *const bad[] = { "\\u12g4", "\\uZZZZ", "\\u00e\"", "\\ud83d\\u12g4" };
        char out[32];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct json_span raw = { bad[i], strlen(bad[i]) };

                if (json_unescape(&raw, out, sizeof(out)) != -1)
                        fail_msg("unescape \"%s\" accepted", bad[i]);
        }
}

/* Keys sent with escapes compare by their decoded text. */
static void test_key_is_escaped(void **state)
{
        static const char esc[] = "\\u0069d";
        struct json_span key = { esc, strlen(esc) };
        struct json_span plain = { "Id", 2 };

        (void)state;
        assert_true(json_key_is(&key, "id"));
        assert_false(json_key_is(&key, "Id"));
        assert_false(json_key_is(&key, "i"));
        assert_false(json_key_is(&key, "idx"));
        assert_true(json_key_is(&plain, "Id"));
        assert_false(json_key_is(&plain, "I"));
        assert_false(json_key_is(&plain, "Idd"));
}

/* ---------------------------------------------------------------- int64 */

static void test_int64(void **state)
{
        static const struct {
                const char *text;
                int rc;
                long long value;
        } cases[] = {
                { "0", 0, 0 },
                { "7", 0, 7 },
                { "6421", 0, 6421 },
                { "9007199254740993", 0, 9007199254740993LL },
                { "123456789012345678", 0, 123456789012345678LL },
                { "9223372036854775806", 0, 9223372036854775806LL },
                { "9223372036854775807", 0, INT64_MAX },
                { "9223372036854775808", -1, 0 },
                { "9223372036854775810", -1, 0 },
                { "18446744073709551615", -1, 0 },
                { "18446744073709551616", -1, 0 },
                { "99999999999999999999", -1, 0 },
                { "", -1, 0 },
                { "-1", -1, 0 },
                { "-0", -1, 0 },
                { "+1", -1, 0 },
                { "1.5", -1, 0 },
                { "1.0", -1, 0 },
                { "1e3", -1, 0 },
                { "1E3", -1, 0 },
                { " 1", -1, 0 },
                { "1 ", -1, 0 },
                { "12a", -1, 0 },
                { "0x1", -1, 0 },
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                long long v = -42;
                int rc = json_int64(cases[i].text, strlen(cases[i].text), &v);

                if (rc != cases[i].rc || (rc == 0 && v != cases[i].value))
                        fail_msg("json_int64(\"%s\") = %d, %lld", cases[i].text, rc, v);
        }
}

/* Only len bytes are read: the rest of the text is not part of the number. */
static void test_int64_respects_length(void **state)
{
        long long v = 0;

        (void)state;
        assert_int_equal(json_int64("123456", 3, &v), 0);
        assert_true(v == 123);
        assert_int_equal(json_int64("92233720368547758079", 19, &v), 0);
        assert_true(v == INT64_MAX);
        assert_int_equal(json_int64("1", 0, &v), -1);
}

/* -------------------------------------------------------------- compact */

static void test_compact(void **state)
{
        static const struct {
                const char *src;
                const char *out;
        } cases[] = {
                { "{\"a\":1}", "{\"a\":1}" },
                { " { \"a\" : [ 1 , 2 ] ,\r\n\t\"b\" : null } ", "{\"a\":[1,2],\"b\":null}" },
                /* Whitespace inside strings is data. */
                { "{ \"a b\" : \" x  y\\t \" }", "{\"a b\":\" x  y\\t \"}" },
                /* An escaped quote does not end the string... */
                { "[ \"say \\\"hi there\\\" \" , 1 ]", "[\"say \\\"hi there\\\" \",1]" },
                /* ...an escaped backslash before a quote does. */
                { "[ \"a\\\\\" , \" b \" ]", "[\"a\\\\\",\" b \"]" },
                { "[ \"\\\\\\\" \" ]", "[\"\\\\\\\" \"]" },
                /* Numbers and escapes are not touched. */
                { "[ 9007199254740993 , 3.14159265358979323846 , 1e400 , -0.0 ]",
                  "[9007199254740993,3.14159265358979323846,1e400,-0.0]" },
                { "{ \"e\" : \"caf\\u00e9 \\ud83d\\ude00 \\/\" }",
                  "{\"e\":\"caf\\u00e9 \\ud83d\\ude00 \\/\"}" },
                { "\" lone string \"", "\" lone string \"" },
                { "", "" },
        };
        char out[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct json_span src = { cases[i].src, strlen(cases[i].src) };
                size_t n, want = strlen(cases[i].out);

                memset(out, 'Z', sizeof(out));
                n = json_compact(&src, out);
                if (n != want || memcmp(out, cases[i].out, want) != 0)
                        fail_msg("compact \"%s\" gave \"%.*s\", expected \"%s\"", cases[i].src,
                                 (int)n, out, cases[i].out);
                /* Nothing is written past the result. */
                assert_int_equal(out[n], 'Z');
        }
}

/* Compacted text scans as the same value, with no whitespace left. */
static void test_compact_rescans(void **state)
{
        static const char src[] =
                "{\n  \"a\" : [ 1 , { \"b\" : \" c \" } ] ,\n  \"d\" : \"\\\" e \\\\\"\n}\n";
        struct json_span in = { src, strlen(src) };
        struct json_scanner js;
        struct json_span sp;
        char out[sizeof(src)];
        size_t n;

        (void)state;
        n = json_compact(&in, out);
        json_init(&js, out, n);
        assert_int_equal(json_skip(&js, &sp), 0);
        assert_int_equal(sp.len, n);
        assert_int_equal(js.ws, 0);
        assert_memory_equal(out, "{\"a\":[1,{\"b\":\" c \"}],\"d\":\"\\\" e \\\\\"}", n);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_peek_types),
                cmocka_unit_test(test_valid_values),
                cmocka_unit_test(test_grammar_errors),
                cmocka_unit_test(test_garbage_after_value),
                cmocka_unit_test(test_depth_limit),
                cmocka_unit_test(test_first_error_sticks),
                cmocka_unit_test(test_respects_length),
                cmocka_unit_test(test_walk_members_and_items),
                cmocka_unit_test(test_misuse_refused),
                cmocka_unit_test(test_whitespace_count),
                cmocka_unit_test(test_unescape),
                cmocka_unit_test(test_unescape_refuses_bad_escapes),
                cmocka_unit_test(test_key_is_escaped),
                cmocka_unit_test(test_int64),
                cmocka_unit_test(test_int64_respects_length),
                cmocka_unit_test(test_compact),
                cmocka_unit_test(test_compact_rescans),
                /* Last: under UBSan a failure here ends the run. */
                cmocka_unit_test(test_unescape_refuses_bad_hex),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
