/*
 * sfsim's bounded growable string buffer: response bodies, request bodies,
 * rendered events. Every buffer has a ceiling set at init; an append that
 * would pass it fails, sets toobig and leaves the contents unchanged.
 */
#ifndef SFSIM_SBUF_H
#define SFSIM_SBUF_H

#include <stdarg.h>
#include <stddef.h>

struct sbuf {
        char *data;    /* NUL-terminated when non-NULL; malloc'd */
        size_t len;
        size_t cap;
        size_t max;    /* ceiling on len */
        int toobig;    /* an append was refused because of max */
};

/** @brief Initialise an empty buffer that never holds more than @p max bytes. */
void sbuf_init(struct sbuf *sb, size_t max);

/**
 * @brief Make room for @p n more bytes without writing them.
 * @returns 0, or -1 (ceiling or out of memory; contents unchanged).
 */
int sbuf_reserve(struct sbuf *sb, size_t n);

/** @brief Append @p n bytes. @returns 0 or -1 as sbuf_reserve(). */
int sbuf_append(struct sbuf *sb, const void *p, size_t n);

/** @brief Append a NUL-terminated string. @returns 0 or -1. */
int sbuf_puts(struct sbuf *sb, const char *s);

/** @brief Append a formatted string. @returns 0 or -1. */
int sbuf_printf(struct sbuf *sb, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/** @brief Empty the buffer; keeps its memory and ceiling; clears toobig. */
void sbuf_reset(struct sbuf *sb);

/**
 * @brief Take the contents out of the buffer.
 * @returns the malloc'd NUL-terminated contents (caller frees; an empty
 *          string when nothing was appended), or NULL when out of memory.
 *          The buffer is left empty and reusable.
 */
char *sbuf_steal(struct sbuf *sb, size_t *lenp);

/** @brief Release the memory; the buffer may be reused after sbuf_init(). */
void sbuf_free(struct sbuf *sb);

#endif
