#ifndef TRIBUTARY_BIRTHTIME_H
#define TRIBUTARY_BIRTHTIME_H

#include <stdint.h>

/// The file's creation (birth) time in milliseconds since the epoch, from
/// statx(STATX_BTIME), which Glibc only declares under _GNU_SOURCE; -1 when
/// the filesystem does not record it (or statx fails).
int64_t tributary_birth_time_ms(int fd);

#endif
