#!/usr/bin/python3
"""Modbus RTU slaves on a serial line, for tributary's tests and for people.

Serves slave ids 1 and 2 (and any given with --slaves) on PORT (a serial
port, or one end of `socat pty,raw,echo=0,link=/tmp/a pty,raw,echo=0,link=/tmp/b`)
through pymodbus, each with the same register map, addresses from 0:

  holding 0       int16    -1234
  holding 1       uint16   50000
  holding 2-3     int32    -100000        (big-endian words)
  holding 4-5     uint32   3000000000
  holding 6-7     float32  21.5
  holding 8-11    float64  1234.5678
  holding 12-13   float32  21.5           (little-endian words: low word first)
  holding 14-15   float32  21.5           (bytes swapped in each word)
  input 0         uint16   230            (23.0 at scale 0.1)
  coil 0          on;  discrete input 0   off

Slaves given with --corrupt answer with their CRC's last byte flipped, as a
noisy line would deliver them.

  /usr/bin/python3 hardware/simulators/modbus-slave.py /tmp/b --baud 9600
"""
import argparse
import struct

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartSerialServer
from pymodbus.transaction import ModbusRtuFramer


def words(fmt, value):
    data = struct.pack(">" + fmt, value)
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def holding():
    registers = words("h", -1234) + words("H", 50000) + words("i", -100000) + words("I", 3000000000)
    registers += words("f", 21.5) + words("d", 1234.5678)
    registers += list(reversed(words("f", 21.5)))
    registers += [((word & 0xFF) << 8) | (word >> 8) for word in words("f", 21.5)]
    return registers + [0] * 100


class CorruptingFramer(ModbusRtuFramer):
    """RTU framing that damages the CRC of the answers of some slaves."""

    corrupt = set()

    def buildPacket(self, message):
        packet = super().buildPacket(message)
        if message.unit_id in self.corrupt:
            packet = packet[:-1] + bytes([packet[-1] ^ 0xFF])
        return packet


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("port")
    parser.add_argument("--baud", type=int, default=9600)
    parser.add_argument("--slaves", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--corrupt", type=int, nargs="*", default=[], help="slaves whose answers have a bad CRC")
    arguments = parser.parse_args()
    CorruptingFramer.corrupt = set(arguments.corrupt)
    slaves = {
        slave: ModbusSlaveContext(
            hr=ModbusSequentialDataBlock(0, holding()),
            ir=ModbusSequentialDataBlock(0, [230] + [0] * 100),
            co=ModbusSequentialDataBlock(0, [1] + [0] * 100),
            di=ModbusSequentialDataBlock(0, [0] * 101),
            zero_mode=True)
        for slave in set(arguments.slaves) | CorruptingFramer.corrupt
    }
    context = ModbusServerContext(slaves=slaves, single=False)
    StartSerialServer(context=context, framer=CorruptingFramer, port=arguments.port, baudrate=arguments.baud,
                      timeout=0.01)


if __name__ == "__main__":
    main()
