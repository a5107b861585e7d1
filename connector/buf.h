/*
 * A bounded growable byte buffer: HTTP bodies, JSON request bodies. Every
 * buffer has a ceiling set at init so nothing fed by the network grows
 * without bound, and a defined state after a failed append.
 */
#ifndef SFB_BUF_H
#define SFB_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
        char *data;    /* always NUL-terminated when non-NULL */
        size_t len;
        size_t cap;
        size_t max;    /* ceiling on len */
        int toobig;    /* an append was refused because of max */
};

/** @brief Initialise an empty buffer that will never hold more than @p max bytes. */
void buf_init(struct buf *b, size_t max);

/**
 * @brief Append @p n bytes.
 * @returns 0, or -1 when the ceiling would be passed (toobig set, contents
 *          unchanged) or memory ran out (contents unchanged).
 */
int buf_append(struct buf *b, const void *p, size_t n);

/** @brief Append a formatted string; same contract as buf_append(). */
int buf_printf(struct buf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/**
 * @brief Make room for @p need bytes of contents (and the NUL).
 * @returns 0, or -1 past the ceiling (toobig set) or out of memory; the
 *          contents are unchanged either way.
 */
int buf_reserve(struct buf *b, size_t need);

/**
 * @brief Give the memory back when it grew past @p keep bytes (after a rare
 *        large body), and ask the allocator to hand the freed pages to the
 *        system (buf_release_memory()); empties the buffer then.
 * @returns 1 when memory was released, else 0 (the buffer is left as it was).
 */
int buf_trim(struct buf *b, size_t keep);

/**
 * @brief Return the allocator's free pages to the system (glibc
 *        malloc_trim(0)): after a large answer was freed, RSS falls back
 *        instead of staying at its peak. Costs a walk of the heap: call it
 *        after a rare large release, never per request.
 */
void buf_release_memory(void);

/** @brief Empty the buffer, keep its memory and ceiling; clears toobig. */
void buf_reset(struct buf *b);

/** @brief Release the memory; the buffer may be reused after buf_init(). */
void buf_free(struct buf *b);

#endif
