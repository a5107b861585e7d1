/*
 * Bounded growable buffer. Growth doubles up to the ceiling; a refused
 * append leaves the contents as they were.
 */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>   /* malloc_trim() */
#endif

void buf_init(struct buf *b, size_t max)
{
        memset(b, 0, sizeof(*b));
        b->max = max;
}

int buf_reserve(struct buf *b, size_t need)
{
        size_t cap;
        char *p;

        if (need > b->max) {
                b->toobig = 1;
                return -1;
        }
        if (need + 1 <= b->cap)
                return 0;
        cap = b->cap ? b->cap : 256;
        while (cap < need + 1)
                cap *= 2;
        if (cap > b->max + 1)
                cap = b->max + 1;
        p = realloc(b->data, cap);
        if (!p)
                return -1;
        b->data = p;
        b->cap = cap;
        return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
        if (n > b->max - b->len) {
                b->toobig = 1;
                return -1;
        }
        if (buf_reserve(b, b->len + n) == -1)
                return -1;
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (buf_reserve(b, b->len) == -1)
                return -1;
        va_start(ap, fmt);
        n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
                b->data[b->len] = '\0';
                return -1;
        }
        if ((size_t)n >= b->cap - b->len) {
                if (buf_reserve(b, b->len + (size_t)n) == -1) {
                        b->data[b->len] = '\0';
                        return -1;
                }
                va_start(ap, fmt);
                vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
                va_end(ap);
        }
        b->len += (size_t)n;
        return 0;
}

void buf_reset(struct buf *b)
{
        b->len = 0;
        b->toobig = 0;
        if (b->data)
                b->data[0] = '\0';
}

void buf_free(struct buf *b)
{
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
        b->toobig = 0;
}

int buf_trim(struct buf *b, size_t keep)
{
        if (b->cap <= keep + 1)
                return 0;
        buf_free(b);
        buf_release_memory();
        return 1;
}

void buf_release_memory(void)
{
#ifdef __GLIBC__
        /* Freed blocks below the heap top, and the arenas of librdkafka's
         * threads, stay resident without this: a one-off 10 MiB answer
         * would hold its peak RSS for the life of the process. */
        malloc_trim(0);
#endif
}
