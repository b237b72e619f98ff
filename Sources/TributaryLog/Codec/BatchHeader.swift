/// The fixed 40-byte header in front of every record batch (FORMAT.md,
/// "Record batch"). Little-endian.
///
/// | at | size | field |
/// | -- | ---- | ----- |
/// | 0  | 2 | magic 0x5442 ("BT" on disk) |
/// | 2  | 1 | format version (1) |
/// | 3  | 1 | flags: bit 0 = key batch (codec state starts empty) |
/// | 4  | 4 | length of the whole batch, header included |
/// | 8  | 4 | CRC-32C of byte 3 (flags), then bytes 12 ..< length |
/// | 12 | 8 | base offset (0 ... 2^62 - 1) |
/// | 20 | 4 | reading count |
/// | 24 | 8 | minimum timestamp (ms) |
/// | 32 | 8 | maximum timestamp (ms) |
public struct BatchHeader: Sendable, Equatable {
    public static let size = 40
    public static let magic: UInt16 = 0x5442
    public static let version: UInt8 = 1
    /// Larger lengths are treated as damage, so a corrupt length cannot make
    /// recovery allocate or skip gigabytes.
    public static let maximumLength = 16 << 20
    /// The largest valid base offset (2^62 - 1). With at most 2^32 - 1
    /// readings per batch, `nextOffset` then cannot overflow, whatever bytes
    /// pass the checksum.
    public static let maximumBaseOffset = Int64.max >> 1

    public var isKey: Bool
    public var length: Int
    public var checksum: UInt32
    public var baseOffset: Int64
    public var count: Int
    public var minTimestamp: Int64
    public var maxTimestamp: Int64

    /// The offset after this batch's last reading.
    public var nextOffset: Int64 { baseOffset + Int64(count) }

    public init(isKey: Bool, length: Int, checksum: UInt32, baseOffset: Int64, count: Int,
                minTimestamp: Int64, maxTimestamp: Int64) {
        self.isKey = isKey
        self.length = length
        self.checksum = checksum
        self.baseOffset = baseOffset
        self.count = count
        self.minTimestamp = minTimestamp
        self.maxTimestamp = maxTimestamp
    }

    /// Why bytes are not a valid batch header.
    public enum Problem: Error, Equatable, Sendable {
        /// Every byte is zero: the end of written data in a preallocated segment.
        case zeroes
        case truncated
        case badMagic
        case unsupportedVersion(UInt8)
        case badLength(Int)
        /// No readings, or more than the payload has bits (each takes at least one).
        case badCount
        /// The base offset is negative or above `maximumBaseOffset`.
        case badOffset(Int64)
    }

    /// Parses a header without checking the checksum.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<BatchHeader, Problem> {
        guard bytes.count >= size else { return .failure(.truncated) }
        let magic = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt16.self))
        guard magic == Self.magic else {
            return bytes.prefix(size).allSatisfy({ $0 == 0 }) ? .failure(.zeroes) : .failure(.badMagic)
        }
        let version = bytes[2]
        guard version == Self.version else { return .failure(.unsupportedVersion(version)) }
        let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        guard length > size, length <= maximumLength else { return .failure(.badLength(length)) }
        let count = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 20, as: UInt32.self)))
        // Every reading takes at least one bit of the payload: a larger count
        // is damage (and would have readers reserve room for billions).
        guard count > 0, count <= 8 * (length - size) else { return .failure(.badCount) }
        let baseOffset = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: Int64.self))
        guard (0...maximumBaseOffset).contains(baseOffset) else { return .failure(.badOffset(baseOffset)) }
        return .success(BatchHeader(
            isKey: bytes[3] & 1 == 1,
            length: length,
            checksum: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)),
            baseOffset: baseOffset,
            count: count,
            minTimestamp: Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 24, as: Int64.self)),
            maxTimestamp: Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 32, as: Int64.self))))
    }

    /// Writes the header into the first 40 bytes of `batch` and fills in the
    /// checksum over the rest, which must already hold the payload.
    static func seal(_ batch: UnsafeMutableRawBufferPointer, isKey: Bool, baseOffset: Int64, count: Int,
                     minTimestamp: Int64, maxTimestamp: Int64) {
        batch.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: UInt16.self)
        batch[2] = version
        batch[3] = isKey ? 1 : 0
        batch.storeBytes(of: UInt32(batch.count).littleEndian, toByteOffset: 4, as: UInt32.self)
        batch.storeBytes(of: baseOffset.littleEndian, toByteOffset: 12, as: Int64.self)
        batch.storeBytes(of: UInt32(count).littleEndian, toByteOffset: 20, as: UInt32.self)
        batch.storeBytes(of: minTimestamp.littleEndian, toByteOffset: 24, as: Int64.self)
        batch.storeBytes(of: maxTimestamp.littleEndian, toByteOffset: 32, as: Int64.self)
        let crc = checksum(of: UnsafeRawBufferPointer(batch))
        batch.storeBytes(of: crc.littleEndian, toByteOffset: 8, as: UInt32.self)
    }

    /// True when the checksum matches `batch` (the whole batch, header included).
    static func verify(_ batch: UnsafeRawBufferPointer, checksum: UInt32) -> Bool {
        self.checksum(of: batch) == checksum
    }

    /// The CRC-32C of the flags byte followed by bytes 12 ..< length. The flags
    /// are covered because a flipped key bit would make a reader decode the
    /// batch against the wrong codec state and serve wrong readings; magic,
    /// version and length are checked exactly, and the checksum cannot cover itself.
    private static func checksum(of batch: UnsafeRawBufferPointer) -> UInt32 {
        let flags = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: batch[3..<4]))
        return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: batch[12...]), continuing: flags)
    }
}
