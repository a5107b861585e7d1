/*
 * Bounded growable string buffer (see sbuf.h). Growth doubles, so building a
 * megabyte response from a thousand events costs a handful of reallocs.
 */
#include "sbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbuf_init(struct sbuf *sb, size_t max)
{
        sb->data = NULL;
        sb->len = 0;
        sb->cap = 0;
        sb->max = max;
        sb->toobig = 0;
}

int sbuf_reserve(struct sbuf *sb, size_t n)
{
        size_t need, cap;
        char *p;

        if (n > sb->max - sb->len) {
                sb->toobig = 1;
                return -1;
        }
        need = sb->len + n + 1;
        if (need <= sb->cap)
                return 0;
        cap = sb->cap ? sb->cap : 256;
        while (cap < need)
                cap *= 2;
        if (cap > sb->max + 1)
                cap = sb->max + 1;
        p = realloc(sb->data, cap);
        if (!p)
                return -1;
        if (!sb->data)
                p[0] = '\0';
        sb->data = p;
        sb->cap = cap;
        return 0;
}

int sbuf_append(struct sbuf *sb, const void *p, size_t n)
{
        if (sbuf_reserve(sb, n) == -1)
                return -1;
        memcpy(sb->data + sb->len, p, n);
        sb->len += n;
        sb->data[sb->len] = '\0';
        return 0;
}

int sbuf_puts(struct sbuf *sb, const char *s)
{
        return sbuf_append(sb, s, strlen(s));
}

int sbuf_printf(struct sbuf *sb, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (sbuf_reserve(sb, 64) == -1)
                return -1;
        va_start(ap, fmt);
        n = vsnprintf(sb->data + sb->len, sb->cap - sb->len, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -1;
        if ((size_t)n >= sb->cap - sb->len) {
                if (sbuf_reserve(sb, (size_t)n) == -1) {
                        sb->data[sb->len] = '\0';
                        return -1;
                }
                va_start(ap, fmt);
                vsnprintf(sb->data + sb->len, sb->cap - sb->len, fmt, ap);
                va_end(ap);
        }
        sb->len += (size_t)n;
        return 0;
}

void sbuf_reset(struct sbuf *sb)
{
        sb->len = 0;
        sb->toobig = 0;
        if (sb->data)
                sb->data[0] = '\0';
}

char *sbuf_steal(struct sbuf *sb, size_t *lenp)
{
        char *p = sb->data;

        if (!p) {
                p = malloc(1);
                if (!p)
                        return NULL;
                p[0] = '\0';
        }
        if (lenp)
                *lenp = sb->len;
        sb->data = NULL;
        sb->len = 0;
        sb->cap = 0;
        sb->toobig = 0;
        return p;
}

void sbuf_free(struct sbuf *sb)
{
        free(sb->data);
        sb->data = NULL;
        sb->len = 0;
        sb->cap = 0;
}
