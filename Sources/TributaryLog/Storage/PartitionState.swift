/// A partition's mutable core, only ever touched under `Partition.state`'s lock.
struct PartitionState {
    var segments: [Segment]
    /// Files recovery moved aside, oldest name first: counted against the
    /// budget, and deleted before any segment when room is needed.
    private(set) var movedAside: [MovedAsideFile]
    var consumers: ConsumerRegistry
    var statistics = PartitionStatistics()
    var durableOffset: Int64
    /// Bytes of the active segment that are durable; readers read no further.
    var durableLength: Int64
    var lastSync: Int64
    let budget: DiskBudget
    let topic: String
    /// The partition this state belongs to, for `DiskBudget.reclaim`.
    weak var owner: Partition?
    /// The disk bytes last reported to `budget`.
    private var accountedBytes: Int64 = 0
    private var encoder = BatchEncoder()
    private var pending: [Reading] = []
    /// `approximateEncodedSize` summed over `pending`.
    private var pendingBytes = 0
    private var scratch: [UInt8] = []
    private var unsyncedBytes = 0
    /// Set when unsynced data could not be discarded after a failed fdatasync.
    private var unusable: String?

    init(topic: String, segments: [Segment], movedAside: [MovedAsideFile], consumers: ConsumerRegistry,
         lastSync: Int64, budget: DiskBudget) {
        self.topic = topic
        self.segments = segments
        self.movedAside = movedAside
        self.budget = budget
        self.consumers = consumers
        self.lastSync = lastSync
        self.durableOffset = segments.last?.nextOffset ?? 0
        self.durableLength = segments.last?.length ?? 0
        account()
    }

    /// Reports the change in disk bytes since the last call to the budget.
    private mutating func account() {
        let now = segments.reduce(0) { $0 + $1.budgetBytes } + movedAside.reduce(0) { $0 + $1.bytes }
        budget.add(now - accountedBytes)
        accountedBytes = now
    }

    /// The segments as readers may see them: the active one cut at the durable watermark.
    var readableSegments: [SegmentSnapshot] {
        var snapshots = segments.map(\.snapshot)
        if !snapshots.isEmpty {
            snapshots[snapshots.count - 1].length = durableLength
            snapshots[snapshots.count - 1].nextOffset = durableOffset
        }
        return snapshots
    }

    /// What the partition publishes for readers and observers.
    var view: PartitionView {
        PartitionView(startOffset: segments.first?.baseOffset ?? 0, endOffset: endOffset,
                      durableOffset: durableOffset, readableSegments: readableSegments, statistics: statistics,
                      diskBytes: diskBytes, consumers: consumers.offsets)
    }

    var endOffset: Int64 { (segments.last?.nextOffset ?? 0) + Int64(pending.count) }
    var diskBytes: Int64 { segments.reduce(0) { $0 + $1.diskBytes } }

    mutating func append(_ readings: ArraySlice<Reading>, configuration: LogConfiguration,
                         directory: String) throws {
        if let unusable {
            statistics.failedReadings += Int64(readings.count)
            throw LogError.unusable(path: unusable)
        }
        var remaining = readings
        var oversized: LogError?
        while !remaining.isEmpty {
            let room = configuration.maxBatchReadings - pending.count
            let chunk = remaining.prefix(room)
            remaining = remaining.dropFirst(chunk.count)
            do {
                if pending.isEmpty, chunk.count == configuration.maxBatchReadings, Self.fitsOneBatch(chunk) {
                    // A whole batch of ordinary readings: encode it from where it is, not from a copy.
                    try write(chunk, configuration: configuration, directory: directory)
                    continue
                }
                for reading in chunk {
                    // A reading too large for any batch is refused alone; the others go on.
                    let size = reading.approximateEncodedSize
                    guard size <= Self.largestReading else {
                        statistics.rejectedReadings += 1
                        oversized = .readingTooLarge(sensor: reading.sensor, bytes: size)
                        continue
                    }
                    pending.append(reading)
                    pendingBytes += size
                }
                if pending.count >= configuration.maxBatchReadings || pendingBytes >= Self.batchBytes {
                    try writePending(configuration: configuration, directory: directory)
                }
            } catch {
                // The readings not yet handed to a batch share its fate.
                if case .budgetExhausted(let topic, let rejected) = error as? LogError {
                    statistics.rejectedReadings += Int64(remaining.count)
                    throw LogError.budgetExhausted(topic: topic, rejectedReadings: rejected + remaining.count)
                }
                statistics.failedReadings += Int64(remaining.count)
                throw error
            }
        }
        if let oversized { throw oversized }
    }

    /// Whether `readings` are one ordinary batch: none too large for a batch,
    /// together within `batchBytes`.
    private static func fitsOneBatch(_ readings: ArraySlice<Reading>) -> Bool {
        var bytes = 0
        for reading in readings {
            let size = reading.approximateEncodedSize
            guard size <= largestReading else { return false }
            bytes += size
        }
        return bytes < batchBytes
    }

    /// The largest reading a batch can hold, with room for its header and codes.
    static let largestReading = BatchHeader.maximumLength - 4096
    /// A batch is written once its readings may take this much, so memory for
    /// collected readings stays bounded however large the values are.
    static let batchBytes = 1 << 20

    func isSyncDue(maxDelay: Int64, maxBytes: Int) -> Bool {
        guard !pending.isEmpty || unsyncedBytes > 0 else { return false }
        return unsyncedBytes >= maxBytes
            || SystemClock.monotonicMilliseconds() - lastSync >= maxDelay
    }

    /// Writes the collected readings, rolling first if the segment is too old.
    private mutating func writePending(configuration: LogConfiguration, directory: String) throws {
        guard !pending.isEmpty else { return }
        defer {
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
        }
        try write(pending[...], configuration: configuration, directory: directory)
    }

    /// Writes `readings` as a batch (or two, or into a new segment, as
    /// `writeBatch` decides), rolling first if the segment is too old. On
    /// failure the readings not written are counted as rejected (budget) or
    /// failed, and the error is thrown.
    private mutating func write(_ readings: ArraySlice<Reading>, configuration: LogConfiguration,
                                directory: String) throws {
        let appendedBefore = statistics.appendedReadings
        do {
            if let active = segments.last, active.isSealed || (!active.isEmpty
                && SystemClock.wallMilliseconds() - active.openedAt >= configuration.segmentMilliseconds) {
                try roll(configuration: configuration, directory: directory)
            }
            try writeBatch(readings, configuration: configuration, directory: directory)
        } catch {
            // The encoder's state now includes readings that never reached the
            // disk: the next batch must not depend on it.
            encoder.startKeyBatch()
            account()
            let lost = readings.count - Int(statistics.appendedReadings - appendedBefore)
            if case .budgetExhausted = error as? LogError {
                statistics.rejectedReadings += Int64(lost)
                throw LogError.budgetExhausted(topic: topic, rejectedReadings: lost)
            }
            statistics.failedReadings += Int64(lost)
            throw error
        }
    }

    /// Appends `readings` as one batch; as two halves if that batch would pass
    /// the batch size limit (very large values); into a new segment if it would
    /// overflow the active one.
    private mutating func writeBatch(_ readings: ArraySlice<Reading>, configuration: LogConfiguration,
                                     directory: String) throws {
        let active = segments[segments.count - 1]
        scratch.removeAll(keepingCapacity: true)
        encoder.encode(readings, baseOffset: active.nextOffset, keyInterval: configuration.keyInterval,
                       into: &scratch)
        if scratch.count > BatchHeader.maximumLength, readings.count > 1 {
            // Never written, so the state it left behind must not be used.
            encoder.startKeyBatch()
            let half = readings.count / 2
            try writeBatch(readings.prefix(half), configuration: configuration, directory: directory)
            try writeBatch(readings.dropFirst(half), configuration: configuration, directory: directory)
            return
        }
        if !active.isEmpty, active.length + Int64(scratch.count) > configuration.segmentBytes {
            try roll(configuration: configuration, directory: directory)
            return try writeBatch(readings, configuration: configuration, directory: directory)
        }
        // A batch larger than the segment (very large values, in an empty
        // segment) grows the file past what the budget counted for it: room
        // for the excess first, released once the segment counts it.
        let excess = active.length + Int64(scratch.count) - active.capacity
        if excess > 0 { try makeRoom(excess, configuration: configuration, directory: directory) }
        defer { if excess > 0 { budget.add(-excess) } }
        try scratch.withUnsafeBytes { bytes in
            try active.append(bytes, header: try BatchHeader.parse(bytes).get())
        }
        unsyncedBytes += scratch.count
        statistics.appendedReadings += Int64(readings.count)
        account()
    }

    /// Writes the readings collected for the next batch, without syncing.
    mutating func writeCollected(configuration: LogConfiguration, directory: String) throws {
        try checkUsable()
        try writePending(configuration: configuration, directory: directory)
    }

    mutating func sync(configuration: LogConfiguration, directory: String) throws {
        try checkUsable()
        try writePending(configuration: configuration, directory: directory)
        do {
            try segments.last?.sync()
        } catch {
            discardUnsynced(configuration: configuration)
            throw error
        }
        durableOffset = segments.last?.nextOffset ?? durableOffset
        durableLength = segments.last?.length ?? 0
        unsyncedBytes = 0
        lastSync = SystemClock.monotonicMilliseconds()
        statistics.syncs += 1
    }

    /// Seals the active segment (making it durable) and starts the next one.
    /// If making room or creating the segment fails, the partition is left
    /// with its last segment sealed, and the next write tries again.
    private mutating func roll(configuration: LogConfiguration, directory: String) throws {
        let old = segments[segments.count - 1]
        do {
            try old.seal()
        } catch {
            discardUnsynced(configuration: configuration)
            throw error
        }
        durableOffset = old.nextOffset
        durableLength = old.length
        unsyncedBytes = 0
        account()
        try makeRoom(configuration.segmentBytes, configuration: configuration, directory: directory)
        let next: Segment
        do {
            next = try Segment.create(baseOffset: old.nextOffset, directory: directory,
                                      capacity: configuration.segmentBytes,
                                      preallocate: configuration.preallocate, now: SystemClock.wallMilliseconds())
        } catch {
            budget.add(-configuration.segmentBytes)
            throw error
        }
        segments.append(next)
        durableLength = 0
        encoder.startKeyBatch()
        // Counted as the new segment first, then released as a reservation:
        // never both absent, for a moment another partition could use.
        account()
        budget.add(-configuration.segmentBytes)
    }

    /// Frees disk until `bytes` more fit the budget: consumed segments first
    /// (this partition's, then others'), then, if the topic's policy is
    /// drop-oldest, unconsumed ones (counted as dropped). On return the bytes
    /// are reserved in the budget (the caller releases them); throws
    /// `.budgetExhausted` when that is not enough.
    private mutating func makeRoom(_ bytes: Int64, configuration: LogConfiguration, directory: String) throws {
        if budget.reserve(bytes) { return }
        try deleteMovedAside(directory: directory, toFit: bytes)
        while !budget.fits(bytes), segments.count > 1, isConsumed(segments[0]) {
            _ = try deleteOldestSegment(directory: directory)
        }
        if let owner { budget.reclaim(bytes, excluding: owner, includeUnconsumed: false) }
        if configuration.topic(topic).fullPolicy == .dropOldest {
            while !budget.fits(bytes), segments.count > 1 {
                _ = try deleteOldestSegment(directory: directory)
            }
            if let owner { budget.reclaim(bytes, excluding: owner, includeUnconsumed: true) }
        }
        guard budget.reserve(bytes) else { throw LogError.budgetExhausted(topic: topic, rejectedReadings: 0) }
    }

    /// After a failed fdatasync the kernel may already have dropped the
    /// unsynced pages while reporting them clean, so a later fdatasync could
    /// succeed without them ("fsyncgate"): never trust them. Cut the active
    /// segment back to the durable watermark and count the readings after it
    /// as failed; they were never acknowledged. If even that fails, the
    /// partition refuses all writes until it is reopened (recovery then
    /// validates what is really on disk).
    private mutating func discardUnsynced(configuration: LogConfiguration) {
        encoder.startKeyBatch()
        unsyncedBytes = 0
        guard let active = segments.last, active.nextOffset > durableOffset else { return }
        statistics.failedReadings += active.nextOffset - durableOffset
        do {
            try active.discard(after: durableLength, nextOffset: durableOffset,
                               capacity: configuration.segmentBytes, preallocate: configuration.preallocate)
        } catch {
            unusable = active.path
        }
        account()
    }

    func checkUsable() throws {
        if let unusable { throw LogError.unusable(path: unusable) }
    }

    /// Deletes the oldest sealed segment, counting readings no consumer had read.
    /// Returns the bytes freed.
    mutating func deleteOldestSegment(directory: String) throws -> Int64 {
        guard segments.count > 1 else { return 0 }
        let oldest = segments[0]
        // The index goes first: a segment without its index is rebuilt, an
        // index without its segment would be an orphan. The segment leaves
        // the partition only once its file is gone.
        if Syscalls.exists(oldest.indexPath) { try Syscalls.unlink(oldest.indexPath) }
        try Syscalls.unlink(oldest.path)
        segments.removeFirst()
        statistics.droppedUnconsumedReadings += unconsumedReadings(in: oldest)
        statistics.deletedSegments += 1
        try Syscalls.syncDirectory(directory)
        account()
        return oldest.diskBytes
    }

    /// Deletes files moved aside, oldest first, until `bytes` more fit the
    /// budget. They count as deleted segments; nothing in them was readable.
    mutating func deleteMovedAside(directory: String, toFit bytes: Int64) throws {
        var deleted = false
        defer { if deleted { try? Syscalls.syncDirectory(directory) } }
        while !budget.fits(bytes), let file = movedAside.first {
            try Syscalls.unlink(file.path)
            movedAside.removeFirst()
            statistics.deletedSegments += 1
            deleted = true
            account()
        }
    }

    /// Readings in `segment` that some registered consumer has not yet read.
    func unconsumedReadings(in segment: Segment) -> Int64 {
        guard let slowest = consumers.offsets.values.min() else { return 0 }
        return max(0, segment.nextOffset - max(slowest, segment.baseOffset))
    }

    /// True when every registered consumer has read all of `segment`.
    func isConsumed(_ segment: Segment) -> Bool { unconsumedReadings(in: segment) == 0 }

    /// Read-only mode: rescans the directory for what the writer added.
    /// When the segment files are the ones already known, only the last
    /// segment's new batches are read (tail polls this several times a second).
    mutating func refreshReadOnly(directory: String, topic: String, id: Int,
                                  configuration: LogConfiguration) throws {
        let bases = try Syscalls.listDirectory(directory).compactMap(LogFileNames.parseSegment).sorted()
        if let last = segments.last, bases == segments.map(\.baseOffset) {
            let scanner = try BatchScanner(path: last.path)
            scanner.seek(to: last.length)
            while case let .batch(header, _, position) = try scanner.next(), header.baseOffset == last.nextOffset {
                last.record(header, at: position)
            }
        } else {
            segments = try PartitionLoader.load(directory: directory, topic: topic, partition: id,
                                                configuration: configuration, readOnly: true,
                                                now: SystemClock.wallMilliseconds()).segments
        }
        durableOffset = segments.last?.nextOffset ?? durableOffset
        durableLength = segments.last?.length ?? 0
        var report = RecoveryReport(topic: topic, partition: id)
        consumers = try ConsumerRegistry.load(directory: directory, segments: segments, readOnly: true,
                                              report: &report)
    }
}
