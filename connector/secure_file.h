/*
 * Opening the files the configuration names (the config file, the JWT key,
 * the CA bundle, the refresh token file) so that none of them can hang the
 * process or be something other than a file, and telling when one holding a
 * secret can be read by other users.
 *
 * Header-only on purpose: it is the one helper of config.c, jwt.c and
 * token_file.c, which are linked into many test binaries and fuzz targets
 * each with its own object list; a new object would have to be added to
 * every one of them.
 */
#ifndef SFB_SECURE_FILE_H
#define SFB_SECURE_FILE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "a FIFO", "a directory", ... for "is not a regular file (%s)". */
static inline const char *secure_file_kind(mode_t mode)
{
        if (S_ISFIFO(mode))
                return "a FIFO";
        if (S_ISDIR(mode))
                return "a directory";
        if (S_ISCHR(mode))
                return "a character device";
        if (S_ISBLK(mode))
                return "a block device";
        if (S_ISSOCK(mode))
                return "a socket";
        return "not a file";
}

/**
 * @brief Opens @p path read-only, refusing anything but a regular file.
 *
 * O_NONBLOCK makes the open itself return at once for a FIFO without a
 * writer (a plain open() waits forever, and `check` with it); fstat() then
 * looks at what was opened, not at the name, which may have changed in
 * between. The descriptor is put back to blocking mode for the reads.
 *
 * @param what how messages name the file ("salesforce.ca_file"), or NULL
 * @param st   receives the file's status (mode, size) once known, also for
 *             one that is not regular; may be NULL
 * @returns the descriptor (close-on-exec), or -1 with @p errstr naming
 *          @p what and @p path and errno set (ENOENT for a missing file,
 *          EINVAL for one that is not regular).
 */
static inline int secure_file_open(const char *path, const char *what, struct stat *st,
                                   char *errstr, size_t errstr_size)
{
        struct stat sb;
        int fd, flags, saved;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd == -1) {
                saved = errno;
                snprintf(errstr, errstr_size, "%s%s%s: cannot open: %s", what ? what : "",
                         what ? ": " : "", path, strerror(saved));
                errno = saved;
                return -1;
        }
        if (fstat(fd, &sb) == -1) {
                saved = errno;
                snprintf(errstr, errstr_size, "%s%s%s: cannot read: %s", what ? what : "",
                         what ? ": " : "", path, strerror(saved));
                close(fd);
                errno = saved;
                return -1;
        }
        if (st)
                *st = sb;
        if (!S_ISREG(sb.st_mode)) {
                snprintf(errstr, errstr_size, "%s%s%s is not a regular file (%s)", what ? what : "",
                         what ? ": " : "", path, secure_file_kind(sb.st_mode));
                close(fd);
                errno = EINVAL;
                return -1;
        }
        if ((flags = fcntl(fd, F_GETFL)) != -1)
                fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        return fd;
}

/** @returns 1 when the group or others may read a file of status @p st. */
static inline int secure_file_exposed(const struct stat *st)
{
        return (st->st_mode & (S_IRGRP | S_IROTH)) != 0;
}

#endif
