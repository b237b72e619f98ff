// termios2 lives in <asm/termbits.h>, whose definitions clash with glibc's
// <termios.h>: this file includes only the kernel's.
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <errno.h>
#include <sys/ioctl.h>

#include "tributary_serial.h"

int tributary_serial_configure(int fd, unsigned baud, int data_bits, char parity, int stop_bits, int rtscts,
                               int xonxoff) {
    struct termios2 tio;
    if (ioctl(fd, TCGETS2, &tio) != 0) return -1;
    // Raw: no line editing, no echo, no signals, no translation of CR and NL.
    tio.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXOFF | IXANY);
    tio.c_oflag &= ~OPOST;
    tio.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    tio.c_cflag &= ~(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS | CBAUD);
    switch (data_bits) {
    case 5: tio.c_cflag |= CS5; break;
    case 6: tio.c_cflag |= CS6; break;
    case 7: tio.c_cflag |= CS7; break;
    case 8: tio.c_cflag |= CS8; break;
    default: errno = EINVAL; return -1;
    }
    if (parity == 'E') tio.c_cflag |= PARENB;
    else if (parity == 'O') tio.c_cflag |= PARENB | PARODD;
    else if (parity != 'N') { errno = EINVAL; return -1; }
    if (parity != 'N') tio.c_iflag |= INPCK;
    if (stop_bits == 2) tio.c_cflag |= CSTOPB;
    if (rtscts) tio.c_cflag |= CRTSCTS;
    if (xonxoff) tio.c_iflag |= IXON | IXOFF;
    tio.c_cflag |= CREAD | CLOCAL | BOTHER;
    tio.c_ispeed = baud;
    tio.c_ospeed = baud;
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    return ioctl(fd, TCSETS2, &tio);
}

int tributary_serial_exclusive(int fd) { return ioctl(fd, TIOCEXCL); }
