import SystemPackage

/// One segment: a file of record batches named by its base offset, plus its
/// sparse index. The last segment of a partition is active (open for appends,
/// preallocated); the others are sealed (trimmed to their batches, indexed,
/// read-only). Not thread-safe: the owning `Partition` serialises access.
final class Segment {
    let baseOffset: Int64
    let path: String
    let indexPath: String
    /// Bytes holding batches; appends go here.
    private(set) var length: Int64
    private(set) var nextOffset: Int64
    private(set) var minTimestamp: Int64
    private(set) var maxTimestamp: Int64
    private(set) var entries: [IndexEntry]
    /// Bytes the file takes on disk (the preallocated size while active).
    private(set) var diskBytes: Int64
    /// The size an active segment may grow to before it rolls. The disk budget
    /// counts an active segment at this size even where the filesystem could
    /// not preallocate it, or the partitions' growing files would overrun it.
    var capacity: Int64 = 0
    /// Bytes counted against the disk budget.
    var budgetBytes: Int64 {
        // A sealed segment's index file counts too (the active one has none).
        isSealed ? diskBytes + Int64(SegmentIndex.headerSize + entries.count * SegmentIndex.entrySize + 4)
            : max(diskBytes, capacity)
    }
    /// Wall-clock milliseconds when the segment was created, for rolling by
    /// age (after a restart, the file's creation time where the filesystem
    /// records it, else the restart's).
    let openedAt: Int64
    private(set) var descriptor: FileDescriptor?

    var isSealed: Bool { descriptor == nil }
    var isEmpty: Bool { nextOffset == baseOffset }

    init(baseOffset: Int64, directory: String, length: Int64, nextOffset: Int64, minTimestamp: Int64,
         maxTimestamp: Int64, entries: [IndexEntry], diskBytes: Int64, openedAt: Int64,
         descriptor: FileDescriptor?) {
        self.baseOffset = baseOffset
        self.path = directory + "/" + LogFileNames.segment(baseOffset: baseOffset)
        self.indexPath = directory + "/" + LogFileNames.index(baseOffset: baseOffset)
        self.length = length
        self.nextOffset = nextOffset
        self.minTimestamp = minTimestamp
        self.maxTimestamp = maxTimestamp
        self.entries = entries
        self.diskBytes = diskBytes
        self.openedAt = openedAt
        self.descriptor = descriptor
    }

    deinit { try? descriptor?.close() }

    /// Creates an empty active segment, preallocated to `capacity` bytes when
    /// `preallocate` is set and the filesystem allows it.
    static func create(baseOffset: Int64, directory: String, capacity: Int64, preallocate: Bool,
                       now: Int64) throws -> Segment {
        let path = directory + "/" + LogFileNames.segment(baseOffset: baseOffset)
        // Never truncate: a file with this name would hold offsets we still need.
        let fd = try Syscalls.open(path, .readWrite, options: [.create, .exclusiveCreate])
        do {
            let reserved = preallocate ? try Syscalls.preallocate(fd, length: capacity, path: path) : false
            try Syscalls.syncDirectory(directory)
            let segment = Segment(baseOffset: baseOffset, directory: directory, length: 0, nextOffset: baseOffset,
                                  minTimestamp: .max, maxTimestamp: .min, entries: [],
                                  diskBytes: reserved ? capacity : 0, openedAt: now, descriptor: fd)
            segment.capacity = capacity
            return segment
        } catch {
            try? fd.close()
            try? Syscalls.unlink(path)
            throw error
        }
    }

    /// Appends one complete batch. On failure nothing is recorded as appended
    /// (bytes past `length` are garbage that the next append overwrites, and
    /// that recovery would find torn).
    func append(_ batch: UnsafeRawBufferPointer, header: BatchHeader) throws {
        guard let fd = descriptor else { preconditionFailure("append to a sealed segment") }
        try Syscalls.write(fd, at: length, batch, path: path)
        record(header, at: length)
    }

    /// Records a batch that is already in the file at `position` (appends and recovery).
    func record(_ header: BatchHeader, at position: Int64) {
        if header.isKey {
            entries.append(IndexEntry(offset: header.baseOffset, position: position,
                                      maxTimestampBefore: maxTimestamp))
        }
        length = position + Int64(header.length)
        nextOffset = header.nextOffset
        minTimestamp = min(minTimestamp, header.minTimestamp)
        maxTimestamp = max(maxTimestamp, header.maxTimestamp)
        diskBytes = max(diskBytes, length)
    }

    /// Forgets every batch after `length` (their fdatasync failed), cutting
    /// the file there and reserving the space again.
    func discard(after length: Int64, nextOffset: Int64, capacity: Int64, preallocate: Bool) throws {
        guard let fd = descriptor else { return }
        try Syscalls.truncate(fd, to: length, path: path)
        if preallocate { _ = try? Syscalls.preallocate(fd, length: capacity, path: path) }
        self.length = length
        self.nextOffset = nextOffset
        entries.removeAll { $0.position >= length }
    }

    /// Makes every appended batch durable.
    func sync() throws {
        guard let fd = descriptor else { return }
        try Syscalls.dataSync(fd, path: path)
    }

    /// Trims the preallocated tail, makes the segment durable, writes its index
    /// (temporary file, fsync, rename, directory fsync) and closes it.
    func seal() throws {
        guard let fd = descriptor else { return }
        let directory = String(path[..<path.lastIndex(of: "/")!])
        try Syscalls.truncate(fd, to: length, path: path)
        try Syscalls.fullSync(fd, path: path)
        diskBytes = length
        try writeIndex(directory: directory)
        // Forget the descriptor before closing: close releases it even when it
        // reports an error, and deinit must not close that number again.
        descriptor = nil
        try fd.close()
    }

    var index: SegmentIndex {
        SegmentIndex(baseOffset: baseOffset, nextOffset: nextOffset, length: length,
                     minTimestamp: minTimestamp, maxTimestamp: maxTimestamp, entries: entries)
    }

    func writeIndex(directory: String) throws {
        let temporary = indexPath + LogFileNames.temporarySuffix
        let fd = try Syscalls.open(temporary, .writeOnly, options: [.create, .truncate])
        do {
            let bytes = index.serialized()
            try bytes.withUnsafeBytes { try Syscalls.write(fd, at: 0, $0, path: temporary) }
            try Syscalls.fullSync(fd, path: temporary)
        } catch {
            try? fd.close()
            throw error
        }
        // Outside the `do`: a failed close has released the descriptor all the same.
        try fd.close()
        try Syscalls.rename(temporary, indexPath)
        try Syscalls.syncDirectory(directory)
    }

    /// The immutable view readers work from.
    var snapshot: SegmentSnapshot {
        SegmentSnapshot(baseOffset: baseOffset, path: path, length: length, nextOffset: nextOffset,
                        minTimestamp: minTimestamp, maxTimestamp: maxTimestamp, entries: entries,
                        diskBytes: diskBytes, isSealed: isSealed)
    }
}

/// A segment as it was when a reader or an inspector looked at it.
public struct SegmentSnapshot: Sendable, Equatable {
    public var baseOffset: Int64
    public var path: String
    public var length: Int64
    public var nextOffset: Int64
    public var minTimestamp: Int64
    public var maxTimestamp: Int64
    public var entries: [IndexEntry]
    public var diskBytes: Int64
    public var isSealed: Bool
}
