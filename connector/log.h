/*
 * The single logger: one line per event of note on stderr, logfmt
 * (`ts=… level=… msg=… key=value`) or JSON lines. Secrets never reach it:
 * callers pass no token, password or key material, ever.
 */
#ifndef SFB_LOG_H
#define SFB_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_LOGFMT, LOG_FORMAT_JSON };

/** @brief Choose the format and the lowest level written. @locality main thread, before other threads start. */
void log_setup(enum log_format fmt, enum log_level min_level);

/** @returns 0 and sets *fmt for "logfmt"/"json", else -1. */
int log_format_parse(const char *s, enum log_format *fmt);
/** @returns 0 and sets *lvl for "debug"/"info"/"warn"/"error", else -1. */
int log_level_parse(const char *s, enum log_level *lvl);

/**
 * @brief Write one line.
 * @param msg  a short fixed event name, e.g. "reauth", "handshake".
 * @param fmt  printf format of logfmt pairs: `cause=%s channel=%s`. A value
 *             that may hold spaces is quoted: `err="%s"`. The logger escapes
 *             newlines and renders the same pairs as JSON members in JSON mode.
 *             May be NULL for no pairs.
 * @locality any thread (one write(2) per line).
 */
void log_msg(enum log_level lvl, const char *msg, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
