/*
 * `${VAR}` and `${VAR:-default}` expansion for configuration values, from
 * the environment or any lookup function (so tests and the fuzzer need no
 * real environment). Pure: no I/O, no globals, a bounded output.
 */
#ifndef SFB_EXPAND_H
#define SFB_EXPAND_H

#include <stddef.h>

/* The longest expanded value: no config value needs more, and an
 * environment variable holding megabytes is a mistake worth reporting. */
#define EXPAND_MAX (64 * 1024)

/**
 * @brief Look up one variable.
 * @returns its value (borrowed, must stay valid until expand_vars() returns),
 *          or NULL when the variable is unset.
 */
typedef const char *expand_lookup_fn(const char *name, void *opaque);

/** @brief The default lookup: getenv(3); @p opaque is ignored. */
const char *expand_getenv(const char *name, void *opaque);

/**
 * @brief Expand @p in_len bytes of @p in.
 *
 * Syntax:
 *   `${NAME}`          the value of NAME; an error when NAME is unset
 *                      (set but empty gives the empty string).
 *   `${NAME:-default}` the value of NAME, or `default` when NAME is unset
 *                      or empty (the shell's rule). The default is literal
 *                      text up to the first `}`; `$$` in it is `$`, and a
 *                      `${` in it is an error (no nesting).
 *   `$$`               a literal `$`.
 *   `$` before anything else is kept as it is.
 * NAME is [A-Za-z_][A-Za-z0-9_]*, at most 255 characters.
 *
 * Error messages name the variable when its name is valid and never quote
 * any other part of @p in or any variable's value, so expanding a secret
 * cannot leak it into a log.
 *
 * @param lookup   variable lookup; NULL means expand_getenv().
 * @param max      ceiling on the expanded length in bytes (EXPAND_MAX is
 *                 the usual choice); passing it is an error.
 * @param out_len  if not NULL, receives the expanded length (the result may
 *                 hold NUL bytes when @p in does; callers that want a C
 *                 string check for that).
 * @returns a new NUL-terminated string, free with free(), or NULL with the
 *          reason in errstr (a message without a location: the caller knows
 *          where the text came from).
 */
char *expand_vars(const char *in, size_t in_len, size_t max,
                  expand_lookup_fn *lookup, void *opaque, size_t *out_len,
                  char *errstr, size_t errstr_size);

#endif
