#define _GNU_SOURCE
#include <fcntl.h>

#include "tributary_fallocate.h"

int tributary_fallocate(int fd, int64_t length) {
    return fallocate(fd, 0, 0, (off_t)length);
}
