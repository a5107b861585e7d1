/*
 * The file that keeps a rotating refresh token across restarts
 * (salesforce.auth.refresh_token_file). A connected app with refresh token
 * rotation answers each refresh with a new token and refuses the old one,
 * revoking every token of the family when it comes back: the newest one
 * must survive a restart or a crash at any instant, so it is written to a
 * temporary file in the same directory, fsync'd, renamed over the old file
 * and the directory fsync'd.
 *
 * The token is a secret: it never appears in errstr.
 */
#ifndef SFB_TOKEN_FILE_H
#define SFB_TOKEN_FILE_H

#include <stddef.h>

/* The longest token the file may hold; Salesforce's are under 200 bytes. */
#define TOKEN_FILE_MAX 4096

/**
 * @brief Read the token kept in @p path (one line; surrounding blanks and
 *        the line end are dropped).
 * @param token  receives a malloc'd string on 1 (clear and free it).
 * @returns 1 with the token, 0 when the file does not exist (nothing kept
 *          yet), or -1 with errstr naming the file and what is wrong
 *          (unreadable, empty, too long, more than one line, control bytes).
 */
int token_file_read(const char *path, char **token, char *errstr, size_t errstr_size);

/**
 * @brief Replace the token kept in @p path with @p token: mode 0600,
 *        written to "<path>.tmp", fsync'd, renamed over @p path, directory
 *        fsync'd. On failure the old file is left as it was.
 * @returns 0, or -1 with errstr naming the file and the system error.
 */
int token_file_write(const char *path, const char *token, char *errstr, size_t errstr_size);

#endif
