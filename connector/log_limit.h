/*
 * Repeated identical errors, written once and then counted: a server that
 * sends 50,000 unroutable events in one answer gets one line, then one
 * `msg=log_suppressed` line per window with how many were held back, never
 * 50,000 lines. The caller counts every occurrence in its metrics itself.
 */
#ifndef SFB_LOG_LIMIT_H
#define SFB_LOG_LIMIT_H

#include "log.h"

#define LOG_LIMIT_WINDOW_MS 10000 /* at most one full line and one summary per kind per window */
#define LOG_LIMIT_KINDS 32        /* kinds followed at once; the oldest is summarised and dropped */

/**
 * @brief log_vmsg() for a line that may repeat: written when its kind
 *        (@p msg plus @p key, e.g. "poison_event" + "too_large") was not
 *        written within the window, else counted. When a window closes with
 *        lines held back, `msg=log_suppressed event=MSG key=KEY count=N
 *        window_s=S` says so before the next full line.
 * @returns 1 when the line was written, 0 when it was held back.
 * @locality main thread only (the table has no lock).
 */
int log_vmsg_limited(const char *key, enum log_level lvl, const char *msg, const char *fmt,
                     va_list ap);

/** @brief log_vmsg_limited() with arguments. */
int log_msg_limited(const char *key, enum log_level lvl, const char *msg, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/**
 * @brief Write the summary of every kind whose window closed with lines held
 *        back (all of them with @p all, e.g. at exit), so a burst that
 *        stopped is still reported. Cheap when nothing is held: call it once
 *        per batch. @locality main thread only.
 */
void log_limit_flush(int all);

#endif
