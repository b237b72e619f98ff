import SystemPackage

/// A consumer's committed offset for one partition, in a file of two slots
/// written in turn (FORMAT.md, "Consumer offset file"). A commit overwrites only
/// the older slot and fdatasyncs; loading takes the valid slot with the higher
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
    private(set) var offset: Int64

    private init(consumer: String, path: String, fd: FileDescriptor, sequence: UInt64, offset: Int64) {
        self.consumer = consumer
        self.path = path
        self.fd = fd
        self.sequence = sequence
        self.offset = offset
    }

    deinit { try? fd.close() }

    /// Opens (creating with offset `initial` if missing) a consumer's offset file.
    static func open(consumer: String, path: String, initial: Int64) throws -> ConsumerOffsetFile {
        let existed = Syscalls.exists(path)
        let fd = try Syscalls.open(path, .readWrite, options: [.create])
        do {
            if existed, let (sequence, offset) = try read(fd, path: path) {
                return ConsumerOffsetFile(consumer: consumer, path: path, fd: fd, sequence: sequence, offset: offset)
            }
        } catch {
            try? fd.close()
            throw error
        }
        // From here `file` owns the descriptor and closes it when released:
        // closing it here too could close a descriptor another thread has
        // since been given the same number for.
        let file = ConsumerOffsetFile(consumer: consumer, path: path, fd: fd, sequence: 0, offset: initial)
        try file.commit(initial)
        if !existed { try Syscalls.syncDirectory(String(path[..<path.lastIndex(of: "/")!])) }
        return file
    }

    /// Reads a file without opening it for writing; nil if no slot is valid.
    static func peek(path: String) throws -> Int64? {
        let fd = try Syscalls.open(path, .readOnly)
        defer { try? fd.close() }
        return try read(fd, path: path)?.1
    }

    private static func read(_ fd: FileDescriptor, path: String) throws -> (UInt64, Int64)? {
        var best: (UInt64, Int64)?
        var slot = [UInt8](repeating: 0, count: 24)
        for index in 0..<2 {
            let count = try slot.withUnsafeMutableBytes {
                try Syscalls.read(fd, at: Int64(index * slotSize), into: $0, path: path)
            }
            guard count == 24, let parsed = parse(slot) else { continue }
            if best == nil || parsed.0 > best!.0 { best = parsed }
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

    /// Durably records `offset` (the next offset the consumer will read).
    func commit(_ offset: Int64) throws {
        // Wrapping: 2^64 commits never happen, but a damaged slot that passed
        // its checksum could hold any sequence, and must not trap.
        let next = sequence &+ 1
        var slot: [UInt8] = []
        slot.reserveCapacity(24)
        withUnsafeBytes(of: Self.magic.littleEndian) { slot.append(contentsOf: $0) }
        withUnsafeBytes(of: next.littleEndian) { slot.append(contentsOf: $0) }
        withUnsafeBytes(of: offset.littleEndian) { slot.append(contentsOf: $0) }
        withUnsafeBytes(of: CRC32C.checksum(slot).littleEndian) { slot.append(contentsOf: $0) }
        try slot.withUnsafeBytes {
            try Syscalls.write(fd, at: Int64(Int(next % 2) * Self.slotSize), $0, path: path)
        }
        try Syscalls.dataSync(fd, path: path)
        sequence = next
        self.offset = offset
    }
}
