/*
 * The configuration's messages: errors as file:line:column: key: message
 * with the offending line echoed (secret values hidden, found by a prescan
 * of the document before anything can be reported), warnings, "did you
 * mean", libyaml's failures, and the key reference printed from the table.
 */
#include "config_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ECHO_MAX 160         /* characters of the offending line echoed */
#define PRESCAN_DEPTH_MAX 16 /* deeper than any known key; only unknown keys go there */

/*
 * Echoing the offending line
 */

/* Counts UTF-8 characters: libyaml's columns are characters, not bytes. */
static int is_utf8_lead(unsigned char c)
{
        return (c & 0xC0) != 0x80;
}

/* Finds the 0-based line @p line0 of the text; returns 0 when it has none. */
static int find_line(const struct loader *ld, size_t line0, const char **start, size_t *len)
{
        const char *p = ld->text, *end;
        size_t line = 0;

        if (!p)
                return 0;
        end = p + ld->len;
        while (line < line0) {
                while (p < end && *p != '\n' && *p != '\r')
                        p++;
                if (p >= end)
                        return 0;
                if (*p == '\r' && p + 1 < end && p[1] == '\n')
                        p++;
                p++;
                line++;
        }
        *start = p;
        while (p < end && *p != '\n' && *p != '\r')
                p++;
        *len = (size_t)(p - *start);
        return 1;
}

static int line_is_blank(const struct loader *ld, size_t line0)
{
        const char *s;
        size_t len, i;

        if (!find_line(ld, line0, &s, &len))
                return 1;
        for (i = 0; i < len; i++)
                if (s[i] != ' ' && s[i] != '\t')
                        return 0;
        return 1;
}

static int is_hidden(const struct loader *ld, size_t line, size_t col)
{
        size_t i;

        for (i = 0; i < ld->nhidden; i++) {
                const struct hidden *h = &ld->hidden[i];

                if ((line > h->line0 || (line == h->line0 && col >= h->col0)) &&
                    (line < h->line1 || (line == h->line1 && col < h->col1)))
                        return 1;
        }
        return 0;
}

/*
 * Without a document (a YAML syntax error) there are no node spans, so a line
 * that mentions a secret-looking key loses everything after its first ':'.
 */
static size_t text_secret_cut(const char *s, size_t len)
{
        const char *colon;

        if (!config_text_mentions_secret(s, len))
                return len;
        colon = memchr(s, ':', len);
        return colon ? (size_t)(colon - s) + 1 : 0;
}

static size_t indent_of(const char *s, size_t len)
{
        size_t i = 0;

        while (i < len && (s[i] == ' ' || s[i] == '\t'))
                i++;
        return i;
}

/* A line that starts a mapping key: blanks, "- " markers, a word, ':' then a blank or the end. */
static int starts_key(const char *s, size_t len)
{
        size_t i = indent_of(s, len);

        while (i + 1 < len && s[i] == '-' && (s[i + 1] == ' ' || s[i + 1] == '\t'))
                i = i + 1 + indent_of(s + i + 1, len - i - 1);
        if (i >= len || strchr("#:[{]}\"'|>&*!%@`,?-", s[i]))
                return 0;
        for (; i < len; i++)
                if (s[i] == ':' && (i + 1 == len || s[i + 1] == ' ' || s[i + 1] == '\t'))
                        return 1;
        return 0;
}

/*
 * Follows quotes and flow brackets along one line, so that a secret's value
 * is known to go on past the end of the line ("abc, 'abc, [abc).
 */
static void scan_value(const char *s, size_t len, char *quote, int *depth)
{
        size_t i;

        for (i = 0; i < len; i++) {
                char c = s[i], prev = i ? s[i - 1] : ' ';

                if (*quote == '"') {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                *quote = 0;
                } else if (*quote == '\'') {
                        if (c == '\'' && i + 1 < len && s[i + 1] == '\'')
                                i++;
                        else if (c == '\'')
                                *quote = 0;
                } else if (c == '#' && (prev == ' ' || prev == '\t')) {
                        return;
                } else if ((c == '"' || c == '\'') && strchr(" \t[{,:", prev)) {
                        *quote = c;
                } else if (c == '[' || c == '{') {
                        (*depth)++;
                } else if ((c == ']' || c == '}') && *depth > 0) {
                        (*depth)--;
                }
        }
}

/*
 * Without a document, whether line @p line0 may hold part of a secret's
 * value: a line after one naming a secret key, up to the next line that
 * starts a key at the same or a lower indentation outside any quote or flow
 * collection the secret's line opened. Conservative: a value on the next
 * line, a block scalar (| >), a multi-line quoted or flow scalar, all are.
 */
static int in_secret_text(const struct loader *ld, size_t line0)
{
        size_t line, key_indent = 0, len;
        const char *s, *colon;
        int active = 0, depth = 0;
        char quote = 0;

        for (line = 0; line <= line0 && find_line(ld, line, &s, &len); line++) {
                if (active) {
                        int ends = !quote && depth == 0 && starts_key(s, len) &&
                                   indent_of(s, len) <= key_indent;

                        if (line == line0)
                                return !ends;
                        if (!ends) {
                                scan_value(s, len, &quote, &depth);
                                continue;
                        }
                        active = 0;
                }
                if (line == line0 || !config_text_mentions_secret(s, len))
                        continue;
                active = 1;
                key_indent = indent_of(s, len);
                quote = 0;
                depth = 0;
                if ((colon = memchr(s, ':', len)))
                        scan_value(colon + 1, len - (size_t)(colon + 1 - s), &quote, &depth);
        }
        return 0;
}

/* @returns the length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s, size_t len)
{
        size_t n, i;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xC2 && s[0] <= 0xDF)
                n = 2;
        else if (s[0] >= 0xE0 && s[0] <= 0xEF)
                n = 3;
        else if (s[0] >= 0xF0 && s[0] <= 0xF4)
                n = 4;
        else
                return 0;
        if (n > len)
                return 0;
        for (i = 1; i < n; i++)
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
        return n;
}

/*
 * Writes the offending line into out, Redis style (">>> line"): secret
 * values replaced by ***, control characters and bytes that are not UTF-8
 * by '?', long lines cut.
 */
static void echo_line(const struct loader *ld, size_t line0, char *out, size_t out_size)
{
        const char *s;
        size_t len, i, col = 0, o = 0, cut, n;
        int in_hidden = 0;

        out[0] = '\0';
        if (out_size < 16 || line_is_blank(ld, line0) || !find_line(ld, line0, &s, &len))
                return;
        if (ld->prescanned)
                cut = len;
        else if (in_secret_text(ld, line0))
                cut = indent_of(s, len);
        else
                cut = text_secret_cut(s, len);
        memcpy(out, ">>> ", 4);
        o = 4;
        for (i = 0; i < len && o + 8 < out_size; i += n, col++) {
                unsigned char c = (unsigned char)s[i];

                n = utf8_len((const unsigned char *)s + i, len - i);
                if (i >= cut || is_hidden(ld, line0, col)) {
                        if (!in_hidden) {
                                memcpy(out + o, i >= cut ? " ***" : "***", i >= cut ? 4 : 3);
                                o += i >= cut ? 4 : 3;
                        }
                        in_hidden = 1;
                        if (i >= cut)
                                break;
                        if (!n)
                                n = 1;
                        continue;
                }
                in_hidden = 0;
                if (col >= ECHO_MAX) {
                        memcpy(out + o, "...", 3);
                        o += 3;
                        break;
                }
                if (n > 1 && o + n + 8 < out_size) {
                        memcpy(out + o, s + i, n);
                        o += n;
                        continue;
                }
                if (!n)
                        n = 1;
                out[o++] = (c < 0x20 && c != '\t') || c >= 0x7f ? '?' : (char)c;
        }
        out[o] = '\0';
}

/*
 * Errors and warnings
 */

static void errorv(struct loader *ld, const yaml_mark_t *mark, const char *key, int echo,
                   const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

/* The first error wins; later ones are the consequences of the first. */
static void errorv(struct loader *ld, const yaml_mark_t *mark, const char *key, int echo,
                   const char *fmt, va_list ap)
{
        char msg[MSG_MAX], line[ECHO_MAX + 32];

        if (ld->failed)
                return;
        ld->failed = 1;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        line[0] = '\0';
        if (mark && echo)
                echo_line(ld, mark->line, line, sizeof(line));
        if (mark)
                snprintf(ld->errstr, ld->errstr_size, "%s:%zu:%zu: %s%s%s%s%s", ld->path,
                         mark->line + 1, mark->column + 1, key ? key : "", key ? ": " : "", msg,
                         line[0] ? "\n" : "", line);
        else
                snprintf(ld->errstr, ld->errstr_size, "%s: %s%s%s", ld->path, key ? key : "",
                         key ? ": " : "", msg);
}

void config_error(struct loader *ld, const yaml_mark_t *mark, const char *key, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        errorv(ld, mark, key, 1, fmt, ap);
        va_end(ap);
}

void config_error_noecho(struct loader *ld, const yaml_mark_t *mark, const char *key,
                         const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        errorv(ld, mark, key, 0, fmt, ap);
        va_end(ap);
}

void config_oom(struct loader *ld)
{
        config_error(ld, NULL, NULL, "out of memory");
}

/* Warnings are one line each (the caller logs them through log_msg). */
void config_warn(struct loader *ld, const yaml_mark_t *mark, const char *key, const char *fmt, ...)
{
        struct config *cfg = ld->cfg;
        char msg[MSG_MAX], line[MSG_MAX + PATH_MAX_LEN + 64];
        char **warnings;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(line, sizeof(line), "%s:%zu:%zu: %s: %s", ld->path, mark->line + 1,
                 mark->column + 1, key, msg);
        warnings = realloc(cfg->warnings, (cfg->nwarnings + 1) * sizeof(*warnings));
        if (!warnings) {
                config_oom(ld);
                return;
        }
        cfg->warnings = warnings;
        if (!(warnings[cfg->nwarnings] = strdup(line))) {
                config_oom(ld);
                return;
        }
        cfg->nwarnings++;
}

/*
 * Unknown keys
 */

/* Optimal string alignment distance, case-insensitive; both at most 64. */
static size_t edit_distance(const char *a, const char *b)
{
        size_t d[65][65], la = strlen(a), lb = strlen(b), i, j;

        if (la > 64 || lb > 64)
                return 99;
        for (i = 0; i <= la; i++)
                d[i][0] = i;
        for (j = 0; j <= lb; j++)
                d[0][j] = j;
        for (i = 1; i <= la; i++) {
                for (j = 1; j <= lb; j++) {
                        char ca = a[i - 1], cb = b[j - 1];
                        size_t best;

                        if (ca >= 'A' && ca <= 'Z')
                                ca = (char)(ca - 'A' + 'a');
                        if (cb >= 'A' && cb <= 'Z')
                                cb = (char)(cb - 'A' + 'a');
                        best = d[i - 1][j - 1] + (ca != cb);
                        if (d[i - 1][j] + 1 < best)
                                best = d[i - 1][j] + 1;
                        if (d[i][j - 1] + 1 < best)
                                best = d[i][j - 1] + 1;
                        if (i > 1 && j > 1 && ca == b[j - 2] && a[i - 2] == cb &&
                            d[i - 2][j - 2] + 1 < best)
                                best = d[i - 2][j - 2] + 1;
                        d[i][j] = best;
                }
        }
        return d[la][lb];
}

/*
 * "unknown key; did you mean X?" with X the closest sibling (distance <= 2),
 * else a key of that exact name elsewhere, else the list of keys allowed here.
 */
void config_unknown_key(struct loader *ld, const yaml_mark_t *mark, const char *display,
                        const char *key, const char *parent)
{
        const struct key_def *best = NULL;
        size_t best_d = 3, i, o = 0, d;
        char list[MSG_MAX];

        for (i = 0; i < CONFIG_NKEYS; i++) {
                if (!config_key_is_child(config_keys[i].path, parent))
                        continue;
                d = edit_distance(key, config_key_leaf(config_keys[i].path));
                if (d < best_d) {
                        best_d = d;
                        best = &config_keys[i];
                }
        }
        if (best) {
                config_error(ld, mark, display, "unknown key; did you mean %s?",
                             config_key_leaf(best->path));
                return;
        }
        for (i = 0; i < CONFIG_NKEYS; i++) {
                if (strcmp(config_key_leaf(config_keys[i].path), key) == 0) {
                        config_error(ld, mark, display, "unknown key here; did you mean %s?",
                                     config_keys[i].path);
                        return;
                }
        }
        list[0] = '\0';
        for (i = 0; i < CONFIG_NKEYS && o < sizeof(list); i++)
                if (config_key_is_child(config_keys[i].path, parent))
                        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "",
                                              config_key_leaf(config_keys[i].path));
        config_error(ld, mark, display, "unknown key (known here: %s)", list);
}

/*
 * Prescan: records the span of every value that must never be echoed (the
 * values of secret keys, of kafka.properties with secret names, and of
 * unknown keys, which may be a misspelt secret) before any error can be
 * reported, since the first error may sit on a line after the secret's.
 */
static int add_hidden(struct loader *ld, const yaml_node_t *node)
{
        struct hidden *h;

        if (ld->nhidden == ld->hidden_cap) {
                size_t cap = ld->hidden_cap ? ld->hidden_cap * 2 : 16;

                if (!(h = realloc(ld->hidden, cap * sizeof(*h))))
                        return -1;
                ld->hidden = h;
                ld->hidden_cap = cap;
        }
        h = &ld->hidden[ld->nhidden++];
        h->line0 = node->start_mark.line;
        h->col0 = node->start_mark.column;
        h->line1 = node->end_mark.line;
        h->col1 = node->end_mark.column;
        /* An empty plain value still hides the rest of its line. */
        if (h->line1 == h->line0 && h->col1 <= h->col0)
                h->col1 = (size_t)-1;
        return 0;
}

/*
 * @p hide: 0 shown, 1 hidden (an unknown key's value, maybe a misspelt
 * secret), 2 a secret's; ld->visited[] holds 1 << hide for each way a node
 * was reached.
 */
static int prescan(struct loader *ld, yaml_node_t *node, const char *path, int depth, int hide)
{
        size_t id = (size_t)(node - ld->doc.nodes.start);
        yaml_node_pair_t *pair;
        yaml_node_item_t *item;

        /* Aliases make a graph of the tree: visit each node once per way
         * (at most three times), which also tells a node reached both as a
         * secret and as not (an anchor & and an alias * across a secret key
         * and another key) from the others. */
        if ((ld->visited[id] & (1u << hide)) || depth > PRESCAN_DEPTH_MAX)
                return 0;
        ld->visited[id] |= (unsigned char)(1u << hide);
        if (node->type == YAML_SEQUENCE_NODE) {
                char child[PATH_MAX_LEN];

                snprintf(child, sizeof(child), "%.200s[]", path);
                for (item = node->data.sequence.items.start; item < node->data.sequence.items.top; item++)
                        if (prescan(ld, yaml_document_get_node(&ld->doc, *item), child, depth + 1, hide) == -1)
                                return -1;
        } else if (node->type == YAML_MAPPING_NODE) {
                for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
                        yaml_node_t *k = yaml_document_get_node(&ld->doc, pair->key);
                        yaml_node_t *v = yaml_document_get_node(&ld->doc, pair->value);
                        char child[PATH_MAX_LEN];
                        const struct key_def *kd;
                        unsigned char vf;
                        int h = hide;

                        if (k->type == YAML_SCALAR_NODE) {
                                snprintf(child, sizeof(child), "%.100s%s%.150s", path, path[0] ? "." : "",
                                         (const char *)k->data.scalar.value);
                                kd = config_key_find_any(child);
                                if (strcmp(path, "kafka.properties") == 0) {
                                        if (config_property_is_secret((const char *)k->data.scalar.value))
                                                h = 2;
                                } else if (strcmp(path, "coordination.partitions") == 0) {
                                        ; /* unit ids and partition numbers */
                                } else if (kd && kd->secret) {
                                        h = 2;
                                } else if (!kd && h < 1) {
                                        h = 1;
                                }
                        } else {
                                snprintf(child, sizeof(child), "?");
                                if (h < 1)
                                        h = 1;
                        }
                        /* An alias (`*name`) has the anchor's span, elsewhere: a
                         * secret reached through an alias hides the anchor's
                         * value where it is written (the alias text is no secret). */
                        vf = ld->visited[v - ld->doc.nodes.start];
                        if (((h && !hide && !vf) || (h == 2 && vf && !(vf & NODE_SECRET))) &&
                            add_hidden(ld, v) == -1)
                                return -1;
                        if (prescan(ld, k, "?", depth + 1, hide) == -1 ||
                            prescan(ld, v, child, depth + 1, h) == -1)
                                return -1;
                }
        }
        return 0;
}

int config_prescan(struct loader *ld, yaml_node_t *root)
{
        size_t nnodes = (size_t)(ld->doc.nodes.top - ld->doc.nodes.start);

        if (!(ld->visited = calloc(nnodes ? nnodes : 1, 1)))
                return -1;
        if (prescan(ld, root, "", 0, 0) == -1)
                return -1;
        ld->prescanned = 1;
        return 0;
}

int config_node_shares_secret(const struct loader *ld, const yaml_node_t *node)
{
        unsigned char f;

        if (!ld->visited)
                return 0;
        f = ld->visited[node - ld->doc.nodes.start];
        return (f & NODE_SECRET) && (f & (NODE_SHOWN | NODE_HIDDEN));
}

/*
 * Reading failures
 */

/*
 * libyaml's scanner keeps a possible simple key per flow level and looks at
 * every one of them for each token, before the parser hands out the first
 * event: 100,000 nested '[' take 44 s. So the raw text is measured first.
 * Quotes and comments end with their line here: a wrong guess can only
 * count more brackets, never hide some.
 */
int config_check_depth(struct loader *ld)
{
        size_t i, line = 0, col = 0, depth = 0;
        char quote = 0, prev = '\n';
        int comment = 0;

        for (i = 0; i < ld->len; i++) {
                char c = ld->text[i];
                size_t here = col;

                if (is_utf8_lead((unsigned char)c))
                        col++;
                if (c == '\n' || c == '\r') {
                        if (c == '\n' || i + 1 == ld->len || ld->text[i + 1] != '\n')
                                line++;
                        col = 0;
                        quote = 0;
                        comment = 0;
                        prev = c;
                        continue;
                }
                if (comment)
                        continue;
                if (quote == '"') {
                        if (c == '\\' && i + 1 < ld->len && ld->text[i + 1] != '\n') {
                                i++;
                                col++;
                        } else if (c == '"') {
                                quote = 0;
                        }
                } else if (quote == '\'') {
                        if (c == '\'' && i + 1 < ld->len && ld->text[i + 1] == '\'') {
                                i++;
                                col++;
                        } else if (c == '\'') {
                                quote = 0;
                        }
                } else if (c == '#' && strchr(" \t\r\n", prev)) {
                        comment = 1;
                } else if ((c == '"' || c == '\'') && strchr(" \t\r\n[{,:", prev)) {
                        quote = c;
                } else if ((c == '[' || c == '{') && (depth || strchr(" \t\r\n-:?,", prev))) {
                        /* In block context only where a value starts: a[b is a plain scalar. */
                        if (++depth > CONFIG_DEPTH_MAX) {
                                yaml_mark_t mark = { .index = i, .line = line, .column = here };

                                config_error(ld, &mark, NULL, "nesting deeper than %d levels of [ and {",
                                             CONFIG_DEPTH_MAX);
                                return -1;
                        }
                } else if ((c == ']' || c == '}') && depth) {
                        depth--;
                }
                prev = c;
        }
        return 0;
}

void config_yaml_failure(struct loader *ld, yaml_parser_t *parser)
{
        yaml_mark_t mark = parser->problem_mark;
        char ctx[128] = "";

        /* libyaml 0.2.5 fails some allocations without recording an error. */
        if (parser->error == YAML_MEMORY_ERROR || parser->error == YAML_NO_ERROR) {
                config_oom(ld);
                return;
        }
        if (parser->error == YAML_READER_ERROR) {
                /* The reader knows a byte offset, not a line. */
                size_t off = parser->problem_offset, i;

                memset(&mark, 0, sizeof(mark));
                for (i = 0; i < off && i < ld->len; i++) {
                        if (ld->text[i] == '\n') {
                                mark.line++;
                                mark.column = 0;
                        } else if (is_utf8_lead((unsigned char)ld->text[i])) {
                                mark.column++;
                        }
                }
                config_error(ld, &mark, NULL, "not valid YAML text: %s at byte %zu",
                             parser->problem ? parser->problem : "unreadable", off);
                return;
        }
        if (parser->context) {
                snprintf(ctx, sizeof(ctx), " (%s at line %zu column %zu)", parser->context,
                         parser->context_mark.line + 1, parser->context_mark.column + 1);
                /* "found unexpected end of stream": the end of the file is
                 * no place to look; where the unclosed thing starts is. */
                if (line_is_blank(ld, mark.line)) {
                        mark = parser->context_mark;
                        snprintf(ctx, sizeof(ctx), " %s (which starts here)", parser->context);
                }
        }
        config_error(ld, &mark, NULL, "YAML syntax error: %s%s",
                     parser->problem ? parser->problem : "unknown problem", ctx);
}

/*
 * The key reference
 */

/* Prints @p text indented by 4, wrapped at 78 columns on spaces. */
static void print_wrapped(FILE *fp, const char *text)
{
        const char *p = text, *space, *brk;

        while (*p) {
                if (strlen(p) <= 74) {
                        fprintf(fp, "    %s\n", p);
                        return;
                }
                brk = NULL;
                for (space = p; space && space - p <= 74; space = strchr(space + 1, ' '))
                        if (*space == ' ')
                                brk = space;
                if (!brk)
                        brk = strchr(p, ' ');
                if (!brk) {
                        fprintf(fp, "    %s\n", p);
                        return;
                }
                fprintf(fp, "    %.*s\n", (int)(brk - p), p);
                p = brk + 1;
        }
}

/*
 * The reference: one block per key, generated from the table so the README,
 * `--help` and the validation cannot drift apart.
 */
void config_print_reference(FILE *fp)
{
        char list[MSG_MAX];
        size_t i, f;
        int n;

        fprintf(fp, "Configuration keys (YAML). Every value may use ${VAR} or ${VAR:-default}\n"
                "from the environment; $$ is a literal $.\n");
        for (i = 0; i < CONFIG_NKEYS; i++) {
                const struct key_def *kd = &config_keys[i];

                fprintf(fp, "\n%s\n    ", kd->path);
                switch (kd->type) {
                case KEY_ENUM:
                        config_enum_list(kd->values, list, sizeof(list));
                        fprintf(fp, "one of: %s", list);
                        break;
                case KEY_INT:
                        fprintf(fp, "integer %lld..%lld", kd->min, kd->max);
                        break;
                case KEY_STRING:
                        fprintf(fp, "string");
                        break;
                case KEY_MAP:
                        fprintf(fp, "mapping");
                        break;
                case KEY_LIST:
                        fprintf(fp, "list of mappings");
                        break;
                case KEY_PROPERTIES:
                        fprintf(fp, "mapping of name: value");
                        break;
                }
                if (kd->secret)
                        fprintf(fp, ", secret");
                if (kd->required & REQUIRED) {
                        fprintf(fp, "; required");
                } else if ((kd->required & FLOWS_ALL) == FLOWS_ALL) {
                        fprintf(fp, "; required by every flow");
                } else if (kd->required & FLOWS_ALL) {
                        fprintf(fp, "; required by flow%s", (kd->required & (kd->required - 1)) ? "s" : "");
                        for (f = 0, n = 0; f <= AUTH_CLIENT_CREDENTIALS; f++)
                                if (kd->required & FLOW(f))
                                        fprintf(fp, "%s %s", n++ ? "," : "",
                                                config_flow_name((enum auth_flow)f));
                        fprintf(fp, "; ignored with a warning by the others");
                }
                if (kd->def)
                        fprintf(fp, "; default %s", kd->def);
                if (kd->inherit)
                        fprintf(fp, "; default: the value of %s", kd->inherit);
                fprintf(fp, "\n");
                print_wrapped(fp, kd->doc);
        }
}
