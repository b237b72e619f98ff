#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What the kernel's dm-log-writes target recorded on its log device: every
/// write to the device it maps, in the order the writes completed, with
/// flushes (FLUSH), forced unit accesses (FUA), discards and the marks
/// `dmsetup message NAME 0 mark TEXT` adds. Format (the kernel's
/// Documentation/admin-guide/device-mapper/log-writes.rst and
/// drivers/md/dm-log-writes.c): block 0 is the superblock (magic, version,
/// entry count, block size, little endian); each entry is one block holding
/// sector, block count, flags and data length (a mark's text follows in the
/// same block), then, unless it is a discard, the written blocks.
struct WriteLog {
    struct Entry {
        /// Where the write lands on the mapped device, and how many bytes, in blocks of `blockSize`.
        var block: Int64
        var blocks: Int64
        var flags: UInt64
        /// Where the written bytes are in the log file.
        var dataPosition: Int64
        var mark: String?

        var isFlush: Bool { flags & (WriteLog.flush | WriteLog.forcedUnitAccess) != 0 }
        var isDiscard: Bool { flags & WriteLog.discard != 0 }
        var isWrite: Bool { mark == nil && !isDiscard && blocks > 0 }
    }

    static let magic: UInt64 = 0x6A_7366_7773_6872
    static let flush: UInt64 = 1 << 0
    static let forcedUnitAccess: UInt64 = 1 << 1
    static let discard: UInt64 = 1 << 2
    static let markFlag: UInt64 = 1 << 3

    let path: String
    let blockSize: Int
    let entries: [Entry]
    /// The bytes of the log file that hold entries: what is worth copying out.
    let usedBytes: Int64

    init(path: String) throws {
        self.path = path
        let fd = try FileIO.openForReading(path)
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 32)
        let got = try header.withUnsafeMutableBytes { try FileIO.readFully(fd, at: 0, into: $0, path: path) }
        guard got == 32, Self.integer(header, 0) == Self.magic, Self.integer(header, 8) == 1 else {
            throw FileIO.Failure(operation: "not a dm-log-writes log (magic or version)", path: path, code: EINVAL)
        }
        let count = Self.integer(header, 16)
        blockSize = Int(UInt32(header[24]) | UInt32(header[25]) << 8 | UInt32(header[26]) << 16 | UInt32(header[27]) << 24)
        guard [512, 1024, 2048, 4096].contains(blockSize) else {
            throw FileIO.Failure(operation: "dm-log-writes block size \(blockSize)", path: path, code: EINVAL)
        }
        var entries: [Entry] = []
        var position = Int64(blockSize)
        var block = [UInt8](repeating: 0, count: blockSize)
        for _ in 0..<count {
            let n = try block.withUnsafeMutableBytes { try FileIO.readFully(fd, at: position, into: $0, path: path) }
            guard n == blockSize else {
                throw FileIO.Failure(operation: "dm-log-writes log ends inside entry \(entries.count) of \(count)", path: path, code: EINVAL)
            }
            var entry = Entry(block: Int64(Self.integer(block, 0)), blocks: Int64(Self.integer(block, 8)),
                              flags: Self.integer(block, 16), dataPosition: position + Int64(blockSize))
            let dataLength = Int(min(Self.integer(block, 24), UInt64(blockSize - 32)))
            if entry.flags & Self.markFlag != 0 {
                entry.mark = String(decoding: block[32..<(32 + dataLength)], as: UTF8.self)
            }
            position += Int64(blockSize) * (1 + (entry.isDiscard || entry.mark != nil ? 0 : entry.blocks))
            entries.append(entry)
        }
        self.entries = entries
        usedBytes = position
    }

    /// Applies entry `entry` (a write or discard) to `image`, the mapped device's bytes.
    func apply(_ entry: Entry, to image: inout [UInt8], reading fd: Int32) throws {
        let start = Int(entry.block) * blockSize
        let length = Int(entry.blocks) * blockSize
        guard start >= 0, length >= 0, start + length <= image.count else {
            throw FileIO.Failure(operation: "dm-log-writes entry past the device's end", path: path, code: EINVAL)
        }
        if entry.isDiscard {
            // Discarded blocks read back as zeros on the devices this replays (loop devices over files).
            for i in start..<(start + length) { image[i] = 0 }
            return
        }
        guard entry.isWrite else { return }
        let n = try image.withUnsafeMutableBytes {
            try FileIO.readFully(fd, at: entry.dataPosition, into: UnsafeMutableRawBufferPointer(rebasing: $0[start..<(start + length)]), path: path)
        }
        guard n == length else { throw FileIO.Failure(operation: "dm-log-writes data cut short", path: path, code: EINVAL) }
    }

    private static func integer(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }
}
