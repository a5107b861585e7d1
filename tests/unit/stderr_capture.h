/*
 * stderr into a pipe for the length of one call under test, for the tests
 * that read back what the logger wrote. Header-only: each test binary
 * includes it once.
 */
#ifndef SFB_TEST_STDERR_CAPTURE_H
#define SFB_TEST_STDERR_CAPTURE_H

#include <unistd.h>

static char captured[65536];
static int saved_fd = -1, pipe_fd[2] = { -1, -1 };

/* Send stderr into a pipe until capture_end(). */
static void capture_begin(void)
{
        assert_int_equal(pipe(pipe_fd), 0);
        saved_fd = dup(2);
        assert_true(saved_fd >= 0);
        assert_int_equal(dup2(pipe_fd[1], 2), 2);
        close(pipe_fd[1]);
}

/* @returns what was written to stderr since capture_begin() (what a test
 * writes stays below the pipe's 64 KB, so writing never blocked). */
static const char *capture_end(void)
{
        ssize_t n;
        size_t len = 0;

        dup2(saved_fd, 2);
        close(saved_fd);
        while ((n = read(pipe_fd[0], captured + len, sizeof(captured) - 1 - len)) > 0)
                len += (size_t)n;
        close(pipe_fd[0]);
        captured[len] = '\0';
        return captured;
}

#endif
