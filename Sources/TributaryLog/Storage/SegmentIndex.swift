/// One sparse index entry: a key batch where decoding can start.
public struct IndexEntry: Sendable, Equatable {
    /// The key batch's base offset.
    public var offset: Int64
    /// The key batch's byte position in the segment.
    public var position: Int64
    /// The largest timestamp in the segment before this batch (the time index:
    /// readings from this entry on include every timestamp above it).
    public var maxTimestampBefore: Int64
}

/// A sealed segment's summary and its sparse offset and time index, written
/// next to it when it is sealed (FORMAT.md, "Index file"). Never trusted
/// blindly: a missing, damaged or disagreeing index is rebuilt from the segment.
struct SegmentIndex: Equatable {
    static let magic: UInt32 = 0x5849_4254 // "TBIX"
    static let version: UInt32 = 1
    static let headerSize = 56
    static let entrySize = 20

    var baseOffset: Int64
    var nextOffset: Int64
    /// Bytes of the segment that hold batches.
    var length: Int64
    var minTimestamp: Int64
    var maxTimestamp: Int64
    var entries: [IndexEntry]

    func serialized() -> [UInt8] {
        // An entry stores its offset relative to the base in 32 bits. A segment
        // with more than 2^32 - 1 readings (possible only with huge segments of
        // tiny readings) leaves its later key batches out: the index is sparse,
        // and readers start from an earlier entry instead. Entries are in offset
        // order, so the ones that fit are a prefix.
        let stored = entries.prefix { $0.offset - baseOffset <= Int64(UInt32.max) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.headerSize + stored.count * Self.entrySize + 4)
        func put<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        put(Self.magic)
        put(Self.version)
        put(baseOffset)
        put(nextOffset)
        put(length)
        put(minTimestamp)
        put(maxTimestamp)
        put(UInt32(stored.count))
        put(UInt32(0))
        for entry in stored {
            put(UInt32(entry.offset - baseOffset))
            put(UInt64(entry.position))
            put(entry.maxTimestampBefore)
        }
        put(CRC32C.checksum(bytes))
        return bytes
    }

    /// Parses an index file; nil when it is damaged in any way. Fields are
    /// range-checked so that no arithmetic on them can overflow, even for
    /// bytes that pass the checksum by chance (the same bounds as batch headers).
    static func parse(_ bytes: [UInt8]) -> SegmentIndex? {
        guard bytes.count >= headerSize + 4 else { return nil }
        return bytes.withUnsafeBytes { raw -> SegmentIndex? in
            func get<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
                T(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: T.self))
            }
            let body = UnsafeRawBufferPointer(rebasing: raw[..<(raw.count - 4)])
            guard get(0, UInt32.self) == magic, get(4, UInt32.self) == version,
                  CRC32C.checksum(body) == get(raw.count - 4, UInt32.self) else { return nil }
            let count = Int(get(48, UInt32.self))
            guard raw.count == headerSize + count * entrySize + 4 else { return nil }
            let base = get(8, Int64.self)
            let next = get(16, Int64.self)
            // A next offset past the largest base offset could start no segment.
            guard (0...BatchHeader.maximumBaseOffset).contains(base), (base...BatchHeader.maximumBaseOffset).contains(next),
                  get(24, Int64.self) >= 0 else { return nil }
            var entries: [IndexEntry] = []
            entries.reserveCapacity(count)
            for i in 0..<count {
                let at = headerSize + i * entrySize
                guard let position = Int64(exactly: get(at + 4, UInt64.self)) else { return nil }
                entries.append(IndexEntry(offset: base + Int64(get(at, UInt32.self)), position: position,
                                          maxTimestampBefore: get(at + 12, Int64.self)))
            }
            return SegmentIndex(baseOffset: base, nextOffset: next, length: get(24, Int64.self),
                                minTimestamp: get(32, Int64.self), maxTimestamp: get(40, Int64.self),
                                entries: entries)
        }
    }
}
