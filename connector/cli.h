/*
 * The commands that are not the daemon: `check`, `replay list/set` and `units`.
 * Each returns an exit code of DESIGN.md "Command line".
 */
#ifndef SFB_CLI_H
#define SFB_CLI_H

/** @brief `sfbridge check -c FILE [--online]`: 0 when valid (and reachable), else 1. */
int cli_check(const char *path, int online);

/** @brief `sfbridge replay list -c FILE`. */
int cli_replay_list(const char *path);

/** @brief `sfbridge replay set -c FILE --channel CH (--id N | --new | --all)`; replay_id may be REPLAY_NEW/REPLAY_ALL. */
int cli_replay_set(const char *path, const char *channel, long long replay_id);

/**
 * @brief `sfbridge units -c FILE`: per unit its coordination partition,
 *        transactional.id and current owner, from the owner records on the
 *        replay topic. @returns 0, 1 (bad config) or 3 (Kafka unreadable).
 */
int cli_units(const char *path);

#endif
