import Synchronization

/// One topic-partition: an ordered, append-only sequence of readings with
/// offsets from 0 that are never reused, stored as segments in
/// `<log>/<topic>-<partition>/`.
///
/// Thread-safe: every method may be called from any thread; appends, syncs,
/// commits and retention are serialised by one lock, which the writer holds
/// across fdatasync. Readers and observers never take it (only `segments`,
/// for inspection, does): after each change
/// the partition publishes a `PartitionView` (offsets, statistics, the
/// segments as far as they are durable) under a lock of its own that is only
/// held to copy it, so a slow disk cannot stall a reader or the metrics.
/// Readers see only durable readings: the durable watermark is the offset
/// after the last batch made durable by fdatasync.
public final class Partition: Sendable {
    public let topic: String
    public let id: Int
    public let directory: String
    public let isReadOnly: Bool
    /// What opening the partition found and repaired.
    public let recovery: RecoveryReport
    /// The settings the partition was opened with (flush policy, sizes).
    public let configuration: LogConfiguration
    /// The writer's state; only `mutate` and `mutateIfAvailable` touch it.
    private let state: Mutex<PartitionState>
    /// What readers and observers see, republished by every `mutate`.
    private let published: Mutex<PartitionView>
    private let durableListeners = Mutex<(next: Int, listeners: [Int: @Sendable (Int64) -> Void])>((0, [:]))

    init(topic: String, id: Int, directory: String, configuration: LogConfiguration, readOnly: Bool,
         log: Log) throws {
        self.topic = topic
        self.id = id
        self.directory = directory
        self.configuration = configuration
        self.isReadOnly = readOnly
        let now = SystemClock.wallMilliseconds()
        let loaded = try PartitionLoader.load(directory: directory, topic: topic, partition: id,
                                              configuration: configuration, readOnly: readOnly, now: now)
        var report = loaded.report
        let consumers = try ConsumerRegistry.load(directory: directory, segments: loaded.segments,
                                                  readOnly: readOnly, report: &report)
        self.recovery = report
        let initial = PartitionState(topic: topic, segments: loaded.segments, movedAside: loaded.movedAside,
                                     consumers: consumers, lastSync: SystemClock.monotonicMilliseconds(),
                                     budget: log.budget)
        self.published = Mutex(initial.view)
        self.state = Mutex(initial)
        mutate { $0.owner = self }
        log.budget.register(self)
    }

    /// Runs `body` under the writer's lock and publishes the resulting view
    /// before releasing it (also when `body` throws), so views appear in the
    /// order of the changes.
    func mutate<T: Sendable>(_ body: (inout sending PartitionState) throws -> sending T) rethrows -> sending T {
        try state.withLock { state in
            defer { publish(state.view) }
            return try body(&state)
        }
    }

    /// Like `mutate`, but returns nil at once if another thread holds the lock.
    func mutateIfAvailable<T: Sendable>(_ body: (inout sending PartitionState) throws -> sending T) rethrows
        -> sending T? {
        try state.withLockIfAvailable { state in
            defer { publish(state.view) }
            return try body(&state)
        }
    }

    private func publish(_ view: PartitionView) {
        published.withLock { $0 = view }
    }

    // MARK: Offsets

    /// The partition as of its last change; never waits for the writer.
    public var view: PartitionView { published.withLock { $0 } }
    /// The first offset still in the log (retention moves it forward).
    public var startOffset: Int64 { published.withLock { $0.startOffset } }
    /// The offset the next appended reading gets.
    public var endOffset: Int64 { published.withLock { $0.endOffset } }
    /// Readings below this offset are durable; readers see nothing at or above it.
    public var durableOffset: Int64 { published.withLock { $0.durableOffset } }
    /// Every segment, the active one with all it holds, durable or not.
    public var segments: [SegmentSnapshot] { state.withLock { $0.segments.map(\.snapshot) } }
    public var statistics: PartitionStatistics { published.withLock { $0.statistics } }
    /// Bytes the partition takes on disk, preallocated space included.
    public var diskBytes: Int64 { published.withLock { $0.diskBytes } }

    // MARK: Writing

    /// Adds readings in order. They are durable (acknowledged) once
    /// `durableOffset` passes their offsets: at the end of this call under
    /// `.everyBatch`, else after a `sync` (explicit, or due under `.interval`).
    /// If a write fails, the readings not yet written are discarded and
    /// counted in `statistics.failedReadings`, nothing already durable is
    /// touched, and the error (for example `.diskFull`) is thrown; the
    /// partition stays usable.
    public func append<C: Collection & Sendable>(_ readings: C) throws where C.Element == Reading {
        precondition(!isReadOnly, "append to a log opened read-only")
        // This generic entry point is not specialised for the caller's type
        // across modules, so every element copy would go through value
        // witnesses: hand the engine a concrete slice (arrays and slices cast
        // for free, anything else is copied once) so it runs specialised.
        switch readings {
        case let array as [Reading]: try append(slice: array[...])
        case let slice as ArraySlice<Reading>: try append(slice: slice)
        default: try append(slice: Array(readings)[...])
        }
    }

    private func append(slice readings: ArraySlice<Reading>) throws {
        try advancingDurable { state in
            let refused: LogError?
            do {
                try state.append(readings, configuration: configuration, directory: directory)
                refused = nil
            } catch let error as LogError {
                // A reading too large for any batch is refused alone: the
                // readings collected around it still get the flush they are due.
                guard case .readingTooLarge = error else { throw error }
                refused = error
            }
            switch configuration.flush {
            case .everyBatch:
                try state.sync(configuration: configuration, directory: directory)
            case let .interval(delay, bytes):
                if state.isSyncDue(maxDelay: delay, maxBytes: bytes) {
                    try state.sync(configuration: configuration, directory: directory)
                }
            }
            if let refused { throw refused }
        }
    }

    /// Writes any collected readings and makes everything appended durable.
    public func sync() throws {
        guard !isReadOnly else { return }
        try advancingDurable { try $0.sync(configuration: configuration, directory: directory) }
    }

    /// Writes the readings collected for the next batch to the active
    /// segment now, without syncing: from then on a killed process cannot
    /// lose them (a power cut still can, until the next sync). For senders
    /// that acknowledge their own peer once readings are written; the batch
    /// is smaller than it would have been.
    public func writeCollected() throws {
        guard !isReadOnly else { return }
        try mutate { try $0.writeCollected(configuration: configuration, directory: directory) }
    }

    /// Syncs if the `.interval` policy says it is time; call it from a timer.
    public func syncIfDue() throws {
        guard !isReadOnly, case let .interval(delay, bytes) = configuration.flush else { return }
        // Called at every wake-up of the writer: look first, so nothing is republished for nothing.
        guard state.withLock({ $0.isSyncDue(maxDelay: delay, maxBytes: bytes) }) else { return }
        try advancingDurable { state in
            if state.isSyncDue(maxDelay: delay, maxBytes: bytes) {
                try state.sync(configuration: configuration, directory: directory)
            }
        }
    }

    /// Syncs and leaves the active segment trimmed (no preallocated space
    /// left behind) and indexed, as a clean stop should leave a log for
    /// inspection or copying. The partition must not be used afterwards.
    func close() throws {
        guard !isReadOnly else { return }
        try mutate { state in
            try state.sync(configuration: configuration, directory: directory)
            try state.segments.last?.seal()
        }
    }

    /// Runs `body` under the lock and, if it moved the durable watermark,
    /// tells the listeners afterwards (outside the lock, so they may read the
    /// partition), even when `body` threw after part of its work was durable.
    private func advancingDurable<T: Sendable>(_ body: (inout sending PartitionState) throws -> sending T) throws -> T {
        var before: Int64 = 0
        var after: Int64 = 0
        defer {
            if after > before {
                let listeners = durableListeners.withLock { Array($0.listeners.values) }
                for listener in listeners { listener(after) }
            }
        }
        return try mutate { state in
            before = state.durableOffset
            defer { after = state.durableOffset }
            return try body(&state)
        }
    }

    // MARK: Waiting for readings

    /// Calls `listener` with the new durable offset each time readings become
    /// durable, on the thread that made them so, after the partition's lock
    /// is released. It must be quick (wake a waiter, not do the work). Lets
    /// consumers sleep until there is something to read instead of polling.
    /// - Returns: a token for `removeDurableListener`.
    public func addDurableListener(_ listener: @escaping @Sendable (Int64) -> Void) -> Int {
        durableListeners.withLock { table in
            defer { table.next += 1 }
            table.listeners[table.next] = listener
            return table.next
        }
    }

    /// Stops calling the listener `token` named.
    public func removeDurableListener(_ token: Int) {
        _ = durableListeners.withLock { $0.listeners.removeValue(forKey: token) }
    }

    // MARK: Reading

    /// A reader positioned at `offset` (clamped to the partition's start).
    public func reader(from offset: Int64) -> PartitionReader {
        PartitionReader(partition: self, from: .offset(offset))
    }

    /// A reader positioned at the first reading whose timestamp is at least
    /// `timestamp` (milliseconds since the epoch).
    public func reader(fromTimestamp timestamp: Int64) -> PartitionReader {
        PartitionReader(partition: self, from: .timestamp(timestamp))
    }

    /// For a read-only partition: picks up batches and segments another
    /// process has written since the last look.
    public func refresh() throws {
        guard isReadOnly else { return }
        try advancingDurable { try $0.refreshReadOnly(directory: directory, topic: topic, id: id,
                                                     configuration: configuration) }
    }

    // MARK: Consumers

    public var consumers: [String: Int64] { published.withLock { $0.consumers } }

    /// The consumer's committed offset (the next offset it will read), or nil
    /// if it has never committed here.
    public func committedOffset(for consumer: String) -> Int64? {
        published.withLock { $0.consumers[consumer] }
    }

    /// Durably records that `consumer` has processed everything below `offset`.
    /// The offset must not pass the durable watermark: a commit never runs
    /// ahead of what the log itself has made durable. An offset below the
    /// start (retention deleted what the consumer was reading) is recorded as
    /// the start.
    public func commit(_ offset: Int64, for consumer: String) throws {
        precondition(!isReadOnly, "commit on a log opened read-only")
        guard LogFileNames.isValidName(consumer) else { throw LogError.invalidName(consumer) }
        try mutate { state in
            let start = state.segments.first?.baseOffset ?? 0
            guard offset <= state.durableOffset else {
                throw LogError.offsetOutOfRange(requested: offset, start: start, end: state.durableOffset)
            }
            try state.consumers.commit(max(offset, start), for: consumer, directory: directory)
        }
    }

    /// Makes `consumer` known to the partition, at the log's start if it has
    /// never committed, and returns its committed offset. Retention counts
    /// (and under reject-new, keeps) only what registered consumers have not
    /// read, so a sink registers before its first send.
    @discardableResult
    public func register(consumer: String) throws -> Int64 {
        precondition(!isReadOnly, "register on a log opened read-only")
        guard LogFileNames.isValidName(consumer) else { throw LogError.invalidName(consumer) }
        return try mutate { state in
            if let committed = state.consumers.offsets[consumer] { return committed }
            let start = state.segments.first?.baseOffset ?? 0
            try state.consumers.commit(start, for: consumer, directory: directory)
            return start
        }
    }
}

/// A partition as readers and observers see it, as of its last change.
public struct PartitionView: Sendable, Equatable {
    /// The first offset still in the log.
    public var startOffset: Int64
    /// The offset the next appended reading gets.
    public var endOffset: Int64
    /// Readings below this offset are durable.
    public var durableOffset: Int64
    /// The segments, the active one cut at the durable watermark.
    public var readableSegments: [SegmentSnapshot]
    public var statistics: PartitionStatistics
    /// Bytes on disk, preallocated space included.
    public var diskBytes: Int64
    /// Committed offsets by consumer.
    public var consumers: [String: Int64]
}

/// Counters since the partition was opened. Every reading the log loses or
/// refuses is counted here.
public struct PartitionStatistics: Sendable, Equatable {
    /// Readings appended (written to a segment).
    public var appendedReadings: Int64 = 0
    public var syncs: Int64 = 0
    /// Readings deleted by retention before every registered consumer had
    /// read them (with no consumer registered, nothing counts as unread).
    public var droppedUnconsumedReadings: Int64 = 0
    /// Readings refused: the topic's policy is reject-new and the budget is
    /// used up, or a single reading was too large for a batch.
    public var rejectedReadings: Int64 = 0
    /// Readings discarded because a write failed (disk full, I/O error).
    public var failedReadings: Int64 = 0
    public var deletedSegments: Int64 = 0
}
