import SystemPackage

/// A consumer's committed offset for one partition, in a file of two slots
/// written in turn (FORMAT.md, "Consumer offset file"). A commit overwrites only
/// the older slot and fdatasyncs; loading takes the valid slot with the newer
/// sequence number. A torn write can therefore only damage the slot being
/// written, and the other still holds the previous commit: progress is never
/// invented, and only the commit that was in flight (not yet acknowledged to
/// the caller) can be lost. The slots sit 4096 bytes apart, each in its own
/// filesystem block and flash page, so that a torn or lost page write never
/// touches both. Overwrites in place: no file-size or rename metadata commits.
final class ConsumerOffsetFile {
    static let slotSize = 4096
    static let magic: UInt32 = 0x4F43_4254 // "TBCO"

    let consumer: String
    let path: String
    private let fd: FileDescriptor
    private var sequence: UInt64
    /// The slot holding `offset`: the next commit overwrites the other one.
    private var slot: Int
    private(set) var offset: Int64

    private init(consumer: String, path: String, fd: FileDescriptor, loaded: Loaded) {
        self.consumer = consumer
        self.path = path
        self.fd = fd
        self.sequence = loaded.sequence
        self.slot = loaded.slot
        self.offset = loaded.offset
    }

    /// What a file holds: the newer valid slot.
    private struct Loaded {
        var sequence: UInt64
        var offset: Int64
        var slot: Int
    }

    deinit { try? fd.close() }

    /// Opens (creating with offset `initial` if missing) a consumer's offset file.
    static func open(consumer: String, path: String, initial: Int64) throws -> ConsumerOffsetFile {
        let existed = Syscalls.exists(path)
        let fd = try Syscalls.open(path, .readWrite, options: [.create])
        do {
            if existed, let loaded = try read(fd, path: path) {
                return ConsumerOffsetFile(consumer: consumer, path: path, fd: fd, loaded: loaded)
            }
        } catch {
            try? fd.close()
            throw error
        }
        // From here `file` owns the descriptor and closes it when released:
        // closing it here too could close a descriptor another thread has
        // since been given the same number for.
        let file = ConsumerOffsetFile(consumer: consumer, path: path, fd: fd,
                                      loaded: Loaded(sequence: 0, offset: initial, slot: 0))
        try file.commit(initial)
        if !existed { try Syscalls.syncDirectory(String(path[..<path.lastIndex(of: "/")!])) }
        return file
    }

    /// Reads a file without opening it for writing; nil if no slot is valid.
    static func peek(path: String) throws -> Int64? {
        let fd = try Syscalls.open(path, .readOnly)
        defer { try? fd.close() }
        return try read(fd, path: path)?.offset
    }

    /// The newer valid slot. Sequences compare as serial numbers (RFC 1982):
    /// `a` is newer than `b` when `a - b`, wrapping, is below 2^63, so the
    /// commit after sequence 2^64 - 1 (which wraps to 0) is still the newer.
    private static func read(_ fd: FileDescriptor, path: String) throws -> Loaded? {
        var best: Loaded?
        var bytes = [UInt8](repeating: 0, count: 24)
        for index in 0..<2 {
            let count = try bytes.withUnsafeMutableBytes {
                try Syscalls.read(fd, at: Int64(index * slotSize), into: $0, path: path)
            }
            guard count == 24, let (sequence, offset) = parse(bytes) else { continue }
            if best.map({ Int64(bitPattern: sequence &- $0.sequence) > 0 }) ?? true {
                best = Loaded(sequence: sequence, offset: offset, slot: index)
            }
        }
        return best
    }

    private static func parse(_ slot: [UInt8]) -> (UInt64, Int64)? {
        slot.withUnsafeBytes { raw in
            guard UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == magic,
                  CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<20]))
                    == UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
            else { return nil }
            return (UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt64.self)),
                    Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 12, as: Int64.self)))
        }
    }

    /// Durably records `offset` (the next offset the consumer will read) in
    /// the slot not holding the current one. In a file the log wrote that is
    /// slot `sequence mod 2`; in one whose slots were damaged into any other
    /// pair of sequences, it still leaves two adjacent sequences, the newer one
    /// the commit.
    func commit(_ offset: Int64) throws {
        // Wrapping: 2^64 commits never happen, but a damaged slot that passed
        // its checksum could hold any sequence, and must not trap.
        let next = sequence &+ 1
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        withUnsafeBytes(of: Self.magic.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: next.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: offset.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: CRC32C.checksum(bytes).littleEndian) { bytes.append(contentsOf: $0) }
        try bytes.withUnsafeBytes {
            try Syscalls.write(fd, at: Int64((1 - slot) * Self.slotSize), $0, path: path)
        }
        try Syscalls.dataSync(fd, path: path)
        sequence = next
        slot = 1 - slot
        self.offset = offset
    }
}
