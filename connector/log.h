/*
 * The single logger: one line per event of note on stderr, logfmt
 * (`ts=… level=… msg=… key=value`) or JSON lines. Secrets never reach it:
 * callers pass no token, password or key material, ever.
 */
#ifndef SFB_LOG_H
#define SFB_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_LOGFMT, LOG_FORMAT_JSON };

/** @brief Choose the format and the lowest level written. @locality main thread, before other threads start. */
void log_setup(enum log_format fmt, enum log_level min_level);

/** @returns 0 and sets *fmt for "logfmt"/"json", else -1. */
int log_format_parse(const char *s, enum log_format *fmt);
/** @returns 0 and sets *lvl for "debug"/"info"/"warn"/"error", else -1. */
int log_level_parse(const char *s, enum log_level *lvl);

/**
 * @returns non-zero when a line at @p lvl would be written: check it before
 *          building anything for a debug line on a hot path.
 */
int log_enabled(enum log_level lvl);

/**
 * @brief Write one line.
 * @param msg  a short fixed event name, e.g. "reauth", "handshake".
 * @param fmt  printf format of logfmt pairs: `cause=%s channel=%s n=%d`.
 *             The logger reads the format itself: each pair's value (one
 *             conversion, or text with conversions, optionally in quotes:
 *             `err="cannot read %s: %s"`) is taken from the arguments by
 *             type and escaped, so any value is safe: logfmt quotes it when
 *             it holds a blank, '=', a quote, a backslash or a control byte
 *             (escaped \" \\ \n \r \t \xNN); JSON mode renders the same
 *             pairs as members, a lone unquoted %d/%u/%g as a number.
 *             Invalid UTF-8 becomes U+FFFD. Text that is no pair is kept
 *             (JSON: a "text" member). A line longer than 4096 bytes is cut
 *             at a character and marked truncated=true. May be NULL.
 * @locality any thread (one write(2) per line).
 */
void log_msg(enum log_level lvl, const char *msg, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/** @brief log_msg() with a va_list, for wrappers that add pairs of their own. */
void log_vmsg(enum log_level lvl, const char *msg, const char *fmt, va_list ap);

#endif
