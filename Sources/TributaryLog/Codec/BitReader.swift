/// Reads bits most-significant first; every read is bounds-checked, so a
/// malformed stream throws instead of reading past its end.
struct BitReader {
    struct Overrun: Error {}

    private let bytes: UnsafeRawBufferPointer
    private let bitCount: Int
    private var position = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.bitCount = bytes.count * 8
    }

    /// The next 64 bits from `position`, zero past the end.
    @inline(__always)
    private func window() -> UInt64 {
        let index = position >> 3
        var word: UInt64
        if index + 8 <= bytes.count {
            word = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
        } else {
            word = 0
            for i in 0..<8 {
                word <<= 8
                if index + i < bytes.count { word |= UInt64(bytes[index + i]) }
            }
        }
        return word << UInt64(position & 7)
    }

    /// Reads `bits` bits (0...64).
    @inline(__always)
    mutating func read(bits: Int) throws -> UInt64 {
        if bits == 0 { return 0 }
        if bits > 56 {
            let high = try read(bits: bits - 32)
            return high << 32 | (try read(bits: 32))
        }
        guard position + bits <= bitCount else { throw Overrun() }
        let value = window() >> UInt64(64 - bits)
        position += bits
        return value
    }

    @inline(__always)
    mutating func readBit() throws -> Bool { try read(bits: 1) == 1 }

    /// Reads a number written by `BitWriter.writeCode`; nil for the escape.
    @inline(__always)
    mutating func readCode() throws -> UInt64? {
        guard position < bitCount else { throw Overrun() }
        let ones = min(8, (~window()).leadingZeroBitCount)
        switch ones {
        case 0: position += 1; return 0
        case 1: position += 2; return 1 + (try read(bits: 1))
        case 2: position += 3; return 3 + (try read(bits: 2))
        case 3: position += 4; return 7 + (try read(bits: 4))
        case 4: position += 5; return 23 + (try read(bits: 8))
        case 5: position += 6; return 279 + (try read(bits: 16))
        case 6: position += 7; return 65815 + (try read(bits: 32))
        case 7: position += 8; return try read(bits: 64)
        default:
            position += 8
            guard position <= bitCount else { throw Overrun() }
            return nil
        }
    }

    /// A code where an escape is not allowed.
    @inline(__always)
    mutating func readNumber() throws -> UInt64 {
        guard let value = try readCode() else { throw Overrun() }
        return value
    }

    @inline(__always)
    mutating func readSigned() throws -> Int64 { ZigZag.decode(try readNumber()) }
}
