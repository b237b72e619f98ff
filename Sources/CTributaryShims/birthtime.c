#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>

#include "tributary_birthtime.h"

int64_t tributary_birth_time_ms(int fd) {
    struct statx info;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &info) != 0 || !(info.stx_mask & STATX_BTIME)) return -1;
    return (int64_t)info.stx_btime.tv_sec * 1000 + info.stx_btime.tv_nsec / 1000000;
}
