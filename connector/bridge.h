/*
 * The run loop: owns every object of a running bridge and moves each
 * /meta/connect batch through router -> sink -> replay commit -> next connect.
 */
#ifndef SFB_BRIDGE_H
#define SFB_BRIDGE_H

#include <signal.h>
#include <stddef.h>
#include "config.h"

/* Exit codes of DESIGN.md "Command line". */
#define EXIT_CLEAN 0
#define EXIT_CONFIG 1
#define EXIT_USAGE 2
#define EXIT_FATAL 3

/**
 * @brief Run until *stop becomes non-zero (graceful stop) or a fatal error.
 * @param wake_fd  readable when a signal arrived (self-pipe), or -1.
 * @returns EXIT_CLEAN, or EXIT_FATAL with errstr (credentials rejected at
 *          start, fenced, on_invalid_replay: fail, unknown channel, ...).
 * @locality main thread.
 */
int bridge_run(const struct config *cfg, int wake_fd, volatile sig_atomic_t *stop,
               char *errstr, size_t errstr_size);

/**
 * @brief Have bridge_run()'s loop call fn(arg) whenever *flag is set (the
 *        flag is cleared first): on the main thread, between two steps, so
 *        fn may change the credentials the next login reads. fn returns 1
 *        when it changed them (a login refused meanwhile is retried at
 *        once), else 0. SIGHUP's handler sets the flag and wakes the loop
 *        through wake_fd.
 * @locality main thread, before bridge_run().
 */
void bridge_on_reload(volatile sig_atomic_t *flag, int (*fn)(void *arg), void *arg);

#endif
