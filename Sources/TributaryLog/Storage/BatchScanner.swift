import SystemPackage

/// Reads a segment file batch by batch through a window, checking each batch's
/// header and checksum. Memory stays at the window size (1 MiB, less for a
/// shorter segment, or one batch if larger) however long the segment is.
/// Not thread-safe.
final class BatchScanner {
    /// What lies at the scanner's position.
    enum Step {
        /// A batch that passed its checksum; `bytes` (header included) is valid
        /// until the next call.
        case batch(BatchHeader, bytes: UnsafeRawBufferPointer, position: Int64)
        /// Nothing more: the limit, or zeroes (unwritten preallocated space).
        case end(position: Int64)
        /// Bytes at `position` are not a valid batch.
        case invalid(position: Int64, reason: InvalidBatch)
    }

    let path: String
    private let fd: FileDescriptor
    private let ownsDescriptor: Bool
    /// Bytes past this position are not read (the segment's durable or valid end).
    var limit: Int64
    private(set) var position: Int64 = 0
    private var window: UnsafeMutableRawBufferPointer
    private var windowStart: Int64 = 0
    private var windowCount = 0
    /// Bytes whose checksum was computed: the scanner's work, bounded while resynchronising.
    private(set) var checksummedBytes: Int64 = 0

    static let windowSize = 1 << 20

    init(path: String, limit: Int64? = nil) throws {
        self.path = path
        self.fd = try Syscalls.open(path, .readOnly)
        self.ownsDescriptor = true
        // Allocated by the first read, at the size it needs: recovery and
        // verify open a scanner on every segment, and most are short.
        self.window = .allocate(byteCount: 0, alignment: 16)
        do {
            self.limit = try limit ?? Syscalls.fileSize(fd, path: path)
        } catch {
            window.deallocate()
            try? fd.close()
            throw error
        }
    }

    deinit {
        window.deallocate()
        if ownsDescriptor { try? fd.close() }
    }

    func seek(to position: Int64) { self.position = position }

    /// Makes `count` bytes at `at` available in the window; false past the limit.
    private func load(_ at: Int64, _ count: Int) throws -> UnsafeRawBufferPointer? {
        guard at + Int64(count) <= limit else { return nil }
        if at >= windowStart, at + Int64(count) <= windowStart + Int64(windowCount) {
            return UnsafeRawBufferPointer(rebasing: window[Int(at - windowStart)..<(Int(at - windowStart) + count)])
        }
        // The window holds a whole window's worth, or what is left before the
        // limit, or the batch if that is larger; it grows at least twofold, as
        // the limit of a growing active segment moves on.
        let size = max(count, Int(min(Int64(Self.windowSize), limit - at)))
        if size > window.count {
            window.deallocate()
            window = .allocate(byteCount: max(size, min(Self.windowSize, 2 * window.count)), alignment: 16)
        }
        let wanted = Int(min(Int64(window.count), limit - at))
        windowStart = at
        windowCount = try Syscalls.read(fd, at: at, into: UnsafeMutableRawBufferPointer(rebasing: window[..<wanted]),
                                        path: path)
        guard windowCount >= count else { return nil }
        return UnsafeRawBufferPointer(rebasing: window[0..<count])
    }

    /// Reads the batch at the current position and, if it is valid, moves past it.
    func next() throws -> Step {
        let at = position
        if at >= limit { return .end(position: at) }
        guard let head = try load(at, min(BatchHeader.size, Int(limit - at))), head.count == BatchHeader.size else {
            return .invalid(position: at, reason: .truncated)
        }
        let header: BatchHeader
        switch BatchHeader.parse(head) {
        case let .success(parsed): header = parsed
        case .failure(.zeroes): return .end(position: at)
        case let .failure(problem): return .invalid(position: at, reason: .header(problem))
        }
        guard let bytes = try load(at, header.length) else {
            return .invalid(position: at, reason: .truncated)
        }
        checksummedBytes += Int64(header.length)
        guard BatchHeader.verify(bytes, checksum: header.checksum) else {
            return .invalid(position: at, reason: .checksum)
        }
        position = at + Int64(header.length)
        return .batch(header, bytes: bytes, position: at)
    }

    /// Where the non-zero bytes from `from` to the limit end: `from` when they
    /// are all zero (unwritten preallocated space), else just past the last
    /// non-zero byte.
    func endOfData(from: Int64) throws -> Int64 {
        var end = from
        var at = from
        while at < limit {
            let chunk = Int(min(Int64(Self.windowSize), limit - at))
            guard let bytes = try load(at, chunk) else { break }
            if let last = bytes.lastIndex(where: { $0 != 0 }) { end = at + Int64(last) + 1 }
            at += Int64(chunk)
        }
        return end
    }

    /// Looks for the next valid batch after damage at `from`: the first position
    /// holding the batch magic whose header parses, whose checksum holds and
    /// whose base offset is at least `minimumOffset`. Leaves the scanner there.
    ///
    /// Checking a candidate costs the length its header claims, and crafted
    /// bytes can claim a long batch at every other byte (hours of checksums in
    /// one segment). So the bytes checksummed stay within one largest batch
    /// plus `workPerByte` times the bytes searched: a candidate beyond that is
    /// passed over. Damage that is not crafted holds few headers that parse and
    /// never comes near; after crafted bytes, at most the first valid batch
    /// can be passed over (the next is checked: searching past it earns its length).
    func resynchronize(from: Int64, minimumOffset: Int64) throws -> Int64? {
        let startingChecksums = checksummedBytes
        var at = from + 1
        scanning: while at + Int64(BatchHeader.size) <= limit {
            let chunk = Int(min(Int64(Self.windowSize / 2), limit - at))
            guard let bytes = try load(at, chunk) else { return nil }
            var i = 0
            while i + 1 < bytes.count {
                guard bytes[i] == 0x42, bytes[i + 1] == 0x54 else { i += 1; continue }
                let candidate = at + Int64(i)
                guard i + BatchHeader.size <= bytes.count else {
                    // The header runs past this chunk: search on from a chunk starting here.
                    at = candidate
                    continue scanning
                }
                let allowed = Int64(BatchHeader.maximumLength) + Self.workPerByte * (candidate - from)
                    - (checksummedBytes - startingChecksums)
                guard case let .success(header) = BatchHeader.parse(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + BatchHeader.size)])),
                      header.baseOffset >= minimumOffset, Int64(header.length) <= allowed else {
                    i += 1
                    continue
                }
                position = candidate
                if case .batch = try next() {
                    position = candidate
                    return candidate
                }
                // `next` may have moved the window: search on from just past the candidate.
                at = candidate + 1
                continue scanning
            }
            at += Int64(max(1, chunk - 1))
        }
        return nil
    }

    /// Checksummed bytes allowed per byte searched while resynchronising.
    static let workPerByte: Int64 = 8
}

/// Why bytes in a segment are not a valid batch.
public enum InvalidBatch: Sendable, Equatable, CustomStringConvertible {
    /// The header claims more bytes than the segment holds: a torn write.
    case truncated
    case header(BatchHeader.Problem)
    case checksum
    /// A valid batch whose base offset repeats offsets already seen.
    case staleOffsets
    /// A valid batch after a gap in offsets: batches before it are missing.
    case offsetGap

    public var description: String {
        switch self {
        case .truncated: return "batch cut short (torn write)"
        case let .header(problem): return "invalid batch header (\(problem))"
        case .checksum: return "checksum mismatch"
        case .staleOffsets: return "batch repeats earlier offsets"
        case .offsetGap: return "batches missing before this one"
        }
    }
}
