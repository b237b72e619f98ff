#ifndef TRIBUTARY_FALLOCATE_H
#define TRIBUTARY_FALLOCATE_H

#include <stdint.h>

/// Linux fallocate(fd, 0, 0, length), which Glibc only declares under
/// _GNU_SOURCE. Returns 0 or -1 with errno set (EOPNOTSUPP where the
/// filesystem cannot preallocate: unlike posix_fallocate it never falls back
/// to writing zeroes, which would double the writes to flash).
int tributary_fallocate(int fd, int64_t length);

#endif
