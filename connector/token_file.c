/*
 * A refresh token kept in a file (see token_file.h): read at start,
 * replaced atomically after each rotation.
 */
#include "token_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secure_file.h"

int token_file_read(const char *path, char **token, char *errstr, size_t errstr_size)
{
        char buf[TOKEN_FILE_MAX + 2];
        size_t n = 0, start = 0, i;
        ssize_t r;
        int fd;

        *token = NULL;
        /* Not blocking on a FIFO, and only a regular file. */
        fd = secure_file_open(path, NULL, NULL, errstr, errstr_size);
        if (fd == -1) {
                if (errno == ENOENT)
                        return 0;
                if (errno != EINVAL)
                        snprintf(errstr, errstr_size, "%s: cannot read: %s", path, strerror(errno));
                return -1;
        }
        while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) != 0) {
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        snprintf(errstr, errstr_size, "%s: cannot read: %s", path, strerror(errno));
                        close(fd);
                        memset(buf, 0, sizeof(buf));
                        return -1;
                }
                n += (size_t)r;
        }
        close(fd);
        buf[n] = '\0';
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
                buf[--n] = '\0';
        while (start < n && (buf[start] == ' ' || buf[start] == '\t'))
                start++;
        if (start == n) {
                snprintf(errstr, errstr_size, "%s: empty: it should hold the refresh token "
                         "(delete it to start from salesforce.auth.refresh_token)", path);
                return -1;
        }
        if (n > TOKEN_FILE_MAX) {
                snprintf(errstr, errstr_size, "%s: longer than %d bytes: not a refresh token", path,
                         TOKEN_FILE_MAX);
                memset(buf, 0, sizeof(buf));
                return -1;
        }
        for (i = start; i < n; i++) {
                if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
                        snprintf(errstr, errstr_size, "%s: holds %s at byte %zu: not one refresh token",
                                 path, buf[i] == '\n' ? "a second line" : "a control character", i + 1);
                        memset(buf, 0, sizeof(buf));
                        return -1;
                }
        }
        *token = strdup(buf + start);
        memset(buf, 0, sizeof(buf));
        if (!*token) {
                snprintf(errstr, errstr_size, "%s: out of memory", path);
                return -1;
        }
        return 1;
}

/* fsync the directory holding @p path, so the rename itself is durable. */
static int sync_dir(const char *path)
{
        char *copy = strdup(path);
        int fd, rc = -1;

        if (!copy)
                return -1;
        fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd != -1) {
                rc = fsync(fd);
                close(fd);
        }
        free(copy);
        return rc;
}

int token_file_write(const char *path, const char *token, char *errstr, size_t errstr_size)
{
        char tmp[4096];
        size_t len = strlen(token), off = 0;
        ssize_t w;
        int fd;

        if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
                snprintf(errstr, errstr_size, "%s: path too long", path);
                return -1;
        }
        /* A leftover of a crash mid-write holds nothing we need. */
        unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd == -1) {
                snprintf(errstr, errstr_size, "%s: cannot create: %s", tmp, strerror(errno));
                return -1;
        }
        while (off < len + 1) {
                w = off < len ? write(fd, token + off, len - off) : write(fd, "\n", 1);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        goto fail;
                }
                off += (size_t)w;
        }
        if (fsync(fd) == -1)
                goto fail;
        if (close(fd) == -1) {
                fd = -1;
                goto fail;
        }
        fd = -1;
        if (rename(tmp, path) == -1) {
                snprintf(errstr, errstr_size, "%s: cannot rename %s over it: %s", path, tmp,
                         strerror(errno));
                unlink(tmp);
                return -1;
        }
        if (sync_dir(path) == -1) {
                snprintf(errstr, errstr_size, "%s: written, but its directory cannot be synced: %s",
                         path, strerror(errno));
                return -1;
        }
        return 0;
fail:
        snprintf(errstr, errstr_size, "%s: cannot write: %s", tmp, strerror(errno));
        if (fd != -1)
                close(fd);
        unlink(tmp);
        return -1;
}
