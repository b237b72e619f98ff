#ifndef TRIBUTARY_SERIAL_H
#define TRIBUTARY_SERIAL_H

/// Puts the serial port open on `fd` in raw mode with any baud rate (through
/// termios2 and BOTHER, so 250000 works as well as 115200): `data_bits` 5-8,
/// `parity` 'N', 'E' or 'O', `stop_bits` 1 or 2, hardware (RTS/CTS) and
/// software (XON/XOFF) flow control on or off; reads return what has
/// arrived (VMIN 1, VTIME 0). Returns 0, or -1 with errno set.
int tributary_serial_configure(int fd, unsigned baud, int data_bits, char parity, int stop_bits, int rtscts,
                               int xonxoff);

/// Takes the port for this process alone (TIOCEXCL): another open fails with EBUSY.
int tributary_serial_exclusive(int fd);

#endif
