/// Appends bits most-significant first to a byte array.
struct BitWriter {
    private(set) var bytes: [UInt8] = []
    private var pending: UInt64 = 0
    private var pendingCount = 0

    init() { bytes.reserveCapacity(4096) }

    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        pending = 0
        pendingCount = 0
    }

    /// Writes the low `bits` bits of `value` (which must have no higher bits set).
    @inline(__always)
    mutating func write(_ value: UInt64, bits: Int) {
        // The wide case lives apart: a function that calls itself cannot be
        // inlined, and this one runs several times per reading.
        if bits > 32 { return writeWide(value, bits: bits) }
        pending = (pending << UInt64(bits)) | value
        pendingCount += bits
        if pendingCount >= 32 {
            pendingCount -= 32
            let word = UInt32(truncatingIfNeeded: pending >> UInt64(pendingCount))
            // One append of four bytes: one capacity check instead of four.
            withUnsafeBytes(of: word.bigEndian) { bytes.append(contentsOf: $0) }
        }
    }

    @inline(never)
    private mutating func writeWide(_ value: UInt64, bits: Int) {
        write(value >> 32, bits: bits - 32)
        write(value & 0xFFFF_FFFF, bits: 32)
    }

    @inline(__always)
    mutating func writeBit(_ bit: Bool) { write(bit ? 1 : 0, bits: 1) }

    /// Writes `value` with the universal code (see FORMAT.md, "numbers in the
    /// bit stream"): 1 bit for 0, 3 for 1-2, 5 for 3-6, and so on.
    @inline(__always)
    mutating func writeCode(_ value: UInt64) {
        switch value {
        case 0: write(0, bits: 1)
        case 1..<3: write(0b10 << 1 | (value - 1), bits: 3)
        case 3..<7: write(0b110 << 2 | (value - 3), bits: 5)
        case 7..<23: write(0b1110 << 4 | (value - 7), bits: 8)
        case 23..<279: write(0b11110 << 8 | (value - 23), bits: 13)
        case 279..<65815: write(0b111110 << 16 | (value - 279), bits: 22)
        case 65815..<(65815 + (1 << 32)): write(0b1111110 << 32 | (value - 65815), bits: 39)
        default:
            write(0b1111_1110, bits: 8)
            write(value, bits: 64)
        }
    }

    /// The escape: eight one bits, a prefix no number's code starts with.
    @inline(__always)
    mutating func writeEscape() { write(0xFF, bits: 8) }

    @inline(__always)
    mutating func writeSigned(_ value: Int64) { writeCode(ZigZag.encode(value)) }

    /// Pads to a whole byte and returns the bytes written.
    mutating func finish() -> [UInt8] {
        if pendingCount > 0 {
            var tail = pending << UInt64(64 - pendingCount)
            while pendingCount > 0 {
                bytes.append(UInt8(truncatingIfNeeded: tail >> 56))
                tail <<= 8
                pendingCount -= min(8, pendingCount)
            }
        }
        pending = 0
        return bytes
    }
}

enum ZigZag {
    @inline(__always)
    static func encode(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }

    @inline(__always)
    static func decode(_ value: UInt64) -> Int64 {
        Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1)
    }
}
