#!/usr/bin/python3
"""A serial sensor on a pseudo-terminal, for tributary's tests and for people.

Opens a pseudo-terminal, links LINK to its device (as udev's
/dev/serial/by-id/... links an adapter), prints "ready LINK" and writes a
line every --interval seconds until killed:

  csv   a "temperature,humidity" header, then values like "21.53,40.12"
  nmea  GGA, RMC and VTG sentences of a slowly moving GPS, checksums right

--bad-checksum-every N spoils every Nth NMEA sentence's checksum;
--garbage-every N writes a line of random bytes before every Nth line.
--count N stops after N lines (the pseudo-terminal closes: an unplug).

  /usr/bin/python3 hardware/simulators/serial-sensor.py --format nmea --link /tmp/gps
  # then: [[sources]] type = "serial", device = "/tmp/gps", format = "nmea"
"""
import argparse
import functools
import math
import os
import random
import sys
import time
import tty


def nmea(body):
    checksum = functools.reduce(lambda total, char: total ^ ord(char), body, 0)
    return "$%s*%02X" % (body, checksum)


def position(degrees, positive, negative, width):
    hemisphere = positive if degrees >= 0 else negative
    degrees = abs(degrees)
    whole = int(degrees)
    return "%0*d%07.4f" % (width, whole, (degrees - whole) * 60), hemisphere


def nmea_lines(step):
    latitude = 48.1173 + step * 1e-5
    longitude = 11.5167 + step * 1e-5
    clock = time.strftime("%H%M%S", time.gmtime())
    lat, ns = position(latitude, "N", "S", 2)
    lon, ew = position(longitude, "E", "W", 3)
    yield nmea("GPGGA,%s,%s,%s,%s,%s,1,08,0.9,%.1f,M,46.9,M,," % (clock, lat, ns, lon, ew, 545.4 + step % 10))
    yield nmea("GPRMC,%s,A,%s,%s,%s,%s,022.4,084.4,%s,003.1,W" % (
        clock, lat, ns, lon, ew, time.strftime("%d%m%y", time.gmtime())))
    yield nmea("GPVTG,084.4,T,081.3,M,022.4,N,041.5,K")


def csv_lines(step):
    yield "%.2f,%.2f" % (21 + 2 * math.sin(step / 30), 40 + 5 * math.cos(step / 45))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", choices=["csv", "nmea"], default="csv")
    parser.add_argument("--link", required=True, help="the path to link to the pseudo-terminal")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between rounds of lines")
    parser.add_argument("--count", type=int, default=0, help="stop after this many lines (0: never)")
    parser.add_argument("--bad-checksum-every", type=int, default=0)
    parser.add_argument("--garbage-every", type=int, default=0)
    arguments = parser.parse_args()

    master, slave = os.openpty()
    tty.setraw(slave)
    if os.path.lexists(arguments.link):
        os.unlink(arguments.link)
    os.symlink(os.ttyname(slave), arguments.link)
    print("ready", arguments.link, flush=True)
    if arguments.format == "csv":
        os.write(master, b"temperature,humidity\r\n")
    written = 0
    step = 0
    try:
        while arguments.count == 0 or written < arguments.count:
            lines = nmea_lines(step) if arguments.format == "nmea" else csv_lines(step)
            for line in lines:
                written += 1
                if arguments.garbage_every and written % arguments.garbage_every == 0:
                    os.write(master, bytes(random.randrange(256) for _ in range(20)).replace(b"\n", b"") + b"\r\n")
                if arguments.bad_checksum_every and written % arguments.bad_checksum_every == 0 and "*" in line:
                    line = line[:-2] + "%02X" % (int(line[-2:], 16) ^ 0xFF)
                os.write(master, (line + "\r\n").encode())
                if arguments.count and written >= arguments.count:
                    break
            step += 1
            time.sleep(arguments.interval)
    except KeyboardInterrupt:
        pass
    finally:
        os.unlink(arguments.link)
        os.close(master)
        os.close(slave)


if __name__ == "__main__":
    sys.exit(main())
