/*
 * `${VAR}` / `${VAR:-default}` expansion into a bounded buffer. The config
 * loader runs every value through it; it is pure so the unit tests and the
 * fuzzer can drive it with their own lookup.
 */
#include "expand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define EXPAND_NAME_MAX 255

const char *expand_getenv(const char *name, void *opaque)
{
        (void)opaque;
        return getenv(name);
}

static int is_name_start(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_name_char(char c)
{
        return is_name_start(c) || (c >= '0' && c <= '9');
}

/*
 * Appends; on failure says why. A refused append means either the ceiling
 * (toobig) or memory, and the message must tell the two apart because only
 * the first is the user's to fix.
 */
static int out_append(struct buf *out, const char *p, size_t n, char *errstr, size_t errstr_size)
{
        if (buf_append(out, p, n) == 0)
                return 0;
        if (out->toobig)
                snprintf(errstr, errstr_size, "expanded value is longer than %zu bytes", out->max);
        else
                snprintf(errstr, errstr_size, "out of memory expanding a value");
        return -1;
}

/*
 * Expands the `${…}` that starts at in[*pos] (pointing at '$'), advancing
 * *pos past the closing '}'.
 */
static int expand_one(const char *in, size_t in_len, size_t *pos, struct buf *out,
                      expand_lookup_fn *lookup, void *opaque, char *errstr, size_t errstr_size)
{
        char name[EXPAND_NAME_MAX + 1];
        const char *value;
        size_t i = *pos + 2; /* past "${" */
        size_t name_len = 0;
        size_t def_start, def_end;
        int has_default = 0;

        while (i < in_len && is_name_char(in[i])) {
                if (name_len < EXPAND_NAME_MAX)
                        name[name_len] = in[i];
                name_len++;
                i++;
        }
        if (i >= in_len) {
                snprintf(errstr, errstr_size, "unterminated \"${\" (no closing \"}\")");
                return -1;
        }
        if (name_len == 0 && in[i] == '}') {
                snprintf(errstr, errstr_size, "empty variable name in \"${}\"");
                return -1;
        }
        if (name_len == 0 || !is_name_start(in[*pos + 2]) || name_len > EXPAND_NAME_MAX) {
                /* Not quoting the text: it may be part of a secret. */
                snprintf(errstr, errstr_size,
                         "bad variable name in \"${...}\": use letters, digits and _ "
                         "(not starting with a digit), at most %d characters",
                         EXPAND_NAME_MAX);
                return -1;
        }
        name[name_len] = '\0';

        def_start = def_end = i;
        if (in[i] == ':' && i + 1 < in_len && in[i + 1] == '-') {
                has_default = 1;
                def_start = i + 2;
                for (def_end = def_start; def_end < in_len && in[def_end] != '}'; def_end++) {
                        if (in[def_end] == '$' && def_end + 1 < in_len && in[def_end + 1] == '{') {
                                snprintf(errstr, errstr_size,
                                         "\"${\" inside a ${VAR:-default} default is not supported");
                                return -1;
                        }
                }
                if (def_end >= in_len) {
                        snprintf(errstr, errstr_size, "unterminated \"${\" (no closing \"}\")");
                        return -1;
                }
                i = def_end;
        } else if (in[i] != '}') {
                /* The name is not quoted: with a stray character after it,
                 * it may be literal text of a secret rather than a name. */
                snprintf(errstr, errstr_size,
                         "unsupported \"${...}\" form: use ${VAR} or ${VAR:-default} (and $$ for a literal $)");
                return -1;
        }
        *pos = i + 1; /* past '}' */

        value = lookup(name, opaque);
        if (value && (*value || !has_default))
                return out_append(out, value, strlen(value), errstr, errstr_size);
        if (!has_default) {
                snprintf(errstr, errstr_size, "environment variable %s is not set", name);
                return -1;
        }
        /* The default: literal, with `$$` standing for `$` as outside. */
        for (i = def_start; i < def_end; i++) {
                if (in[i] == '$' && i + 1 < def_end && in[i + 1] == '$')
                        i++;
                if (out_append(out, in + i, 1, errstr, errstr_size) == -1)
                        return -1;
        }
        return 0;
}

char *expand_vars(const char *in, size_t in_len, size_t max,
                  expand_lookup_fn *lookup, void *opaque, size_t *out_len,
                  char *errstr, size_t errstr_size)
{
        struct buf out;
        size_t pos = 0, run;

        if (!lookup)
                lookup = expand_getenv;
        buf_init(&out, max);
        /* Makes out.data non-NULL even for an empty result. */
        if (out_append(&out, "", 0, errstr, errstr_size) == -1)
                goto fail;

        while (pos < in_len) {
                /* Copy the literal run up to the next '$' in one append. */
                for (run = pos; run < in_len && in[run] != '$'; run++)
                        ;
                if (run > pos && out_append(&out, in + pos, run - pos, errstr, errstr_size) == -1)
                        goto fail;
                pos = run;
                if (pos >= in_len)
                        break;
                if (pos + 1 < in_len && in[pos + 1] == '$') {
                        if (out_append(&out, "$", 1, errstr, errstr_size) == -1)
                                goto fail;
                        pos += 2;
                } else if (pos + 1 < in_len && in[pos + 1] == '{') {
                        if (expand_one(in, in_len, &pos, &out, lookup, opaque, errstr, errstr_size) == -1)
                                goto fail;
                } else {
                        if (out_append(&out, "$", 1, errstr, errstr_size) == -1)
                                goto fail;
                        pos++;
                }
        }
        if (out_len)
                *out_len = out.len;
        return out.data; /* ownership passes to the caller */

fail:
        buf_free(&out);
        return NULL;
}
