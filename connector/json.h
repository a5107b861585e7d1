/*
 * A pull scanner for JSON text that never allocates and never rewrites:
 * values come back as spans of the input, so the bridge can forward the
 * bytes Salesforce sent. Strings are decoded only when asked
 * (json_unescape), numbers are read exactly only when asked (json_int64).
 * The whole grammar is checked (RFC 8259), so a malformed response is
 * refused, not half-read.
 */
#ifndef SFB_JSON_H
#define SFB_JSON_H

#include <stddef.h>

#define JSON_MAX_DEPTH 64  /* deeper nesting is refused: the stack stays bounded */

enum json_type {
        JSON_NONE,  /* end of input, or not the start of a value */
        JSON_OBJECT,
        JSON_ARRAY,
        JSON_STRING,
        JSON_NUMBER,
        JSON_TRUE,
        JSON_FALSE,
        JSON_NULL
};

/* Raw JSON text of one value: for a string, the literal with its quotes. */
struct json_span {
        const char *p;
        size_t len;
};

/* Start from json_init(); the fields are public so a caller can note
 * positions (p) and the whitespace count (ws) around a value. */
struct json_scanner {
        const char *start;
        const char *p;
        const char *end;
        size_t ws;          /* whitespace bytes skipped outside strings so far */
        unsigned depth;     /* containers opened and not yet closed */
        unsigned long long first; /* bit d-1: the container at depth d has no member yet */
        const char *error;  /* static text of the first error, or NULL */
        size_t error_at;    /* byte offset of that error */
};

void json_init(struct json_scanner *js, const char *text, size_t len);

/** @returns the type of the next value (blanks skipped), JSON_NONE at the end or on a byte that starts no value. */
enum json_type json_peek(struct json_scanner *js);

/**
 * @brief Consume the next value whole, checking its grammar.
 * @returns 0 with *span (may be NULL) covering it, -1 on bad JSON (js->error).
 */
int json_skip(struct json_scanner *js, struct json_span *span);

/** @brief Consume '{' (type JSON_OBJECT) or '[' (JSON_ARRAY). @returns 0 or -1. */
int json_open(struct json_scanner *js, enum json_type type);

/**
 * @brief Move to the next member of the object opened last: consumes the
 *        separator, the key and the colon.
 * @returns 1 with *key (the key's contents, without quotes, escapes as
 *          sent), 0 after consuming the closing '}', -1 on bad JSON.
 */
int json_member(struct json_scanner *js, struct json_span *key);

/** @brief Array counterpart of json_member(). @returns 1 when an item follows, 0 after ']', -1. */
int json_item(struct json_scanner *js);

/** @brief Consume the next value as a string. @returns 0 with *raw = the contents without quotes, or -1 (not a string). */
int json_string(struct json_scanner *js, struct json_span *raw);

/** @returns non-zero when the key's raw contents equal @p name (keys with escapes are decoded first). */
int json_key_is(const struct json_span *key, const char *name);

/**
 * @brief Decode string contents (escapes, \\uXXXX and surrogate pairs to
 *        UTF-8) into out, NUL-terminated.
 * @returns the decoded length, or -1 if out_size is too small (the decoded
 *          text is never longer than the raw contents) or an escape is bad.
 */
long json_unescape(const struct json_span *raw, char *out, size_t out_size);

/**
 * @brief Read a JSON integer exactly: digits only (no sign, fraction or
 *        exponent), at most INT64_MAX.
 * @returns 0, or -1 when the text is anything else.
 */
int json_int64(const char *p, size_t len, long long *out);

/**
 * @brief Append src to out without the whitespace outside strings.
 * @returns the number of bytes written (out_size >= src->len always suffices).
 */
size_t json_compact(const struct json_span *src, char *out);

#endif
