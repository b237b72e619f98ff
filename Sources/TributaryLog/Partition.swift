import Synchronization

/// One topic-partition: an ordered, append-only sequence of readings with
/// offsets from 0 that are never reused, stored as segments in
/// `<log>/<topic>-<partition>/`.
///
/// Thread-safe: every method may be called from any thread; appends, syncs,
/// commits and reader refreshes are serialised by one lock (a reader waits at
/// most for one fdatasync). Readers see only durable readings: the durable
/// watermark is the offset after the last batch made durable by fdatasync.
public final class Partition: Sendable {
    public let topic: String
    public let id: Int
    public let directory: String
    public let isReadOnly: Bool
    /// What opening the partition found and repaired.
    public let recovery: RecoveryReport
    /// The settings the partition was opened with (flush policy, sizes).
    public let configuration: LogConfiguration
    let state: Mutex<PartitionState>
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
        self.state = Mutex(PartitionState(topic: topic, segments: loaded.segments, consumers: consumers,
                                          lastSync: SystemClock.monotonicMilliseconds(), budget: log.budget))
        state.withLock { $0.owner = self }
        log.budget.register(self)
    }

    // MARK: Offsets

    /// The first offset still in the log (retention moves it forward).
    public var startOffset: Int64 { state.withLock { $0.segments.first?.baseOffset ?? 0 } }
    /// The offset the next appended reading gets.
    public var endOffset: Int64 { state.withLock { $0.endOffset } }
    /// Readings below this offset are durable; readers see nothing at or above it.
    public var durableOffset: Int64 { state.withLock { $0.durableOffset } }
    public var segments: [SegmentSnapshot] { state.withLock { $0.segments.map(\.snapshot) } }
    public var statistics: PartitionStatistics { state.withLock { $0.statistics } }
    /// Bytes the partition takes on disk, preallocated space included.
    public var diskBytes: Int64 { state.withLock { $0.diskBytes } }

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
            try state.append(readings, configuration: configuration, directory: directory)
            switch configuration.flush {
            case .everyBatch:
                try state.sync(configuration: configuration, directory: directory)
            case let .interval(delay, bytes):
                if state.isSyncDue(maxDelay: delay, maxBytes: bytes) {
                    try state.sync(configuration: configuration, directory: directory)
                }
            }
        }
    }

    /// Writes any collected readings and makes everything appended durable.
    public func sync() throws {
        guard !isReadOnly else { return }
        try advancingDurable { try $0.sync(configuration: configuration, directory: directory) }
    }

    /// Syncs if the `.interval` policy says it is time; call it from a timer.
    public func syncIfDue() throws {
        guard !isReadOnly, case let .interval(delay, bytes) = configuration.flush else { return }
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
        try state.withLock { state in
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
        return try state.withLock { state in
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

    public var consumers: [String: Int64] { state.withLock { $0.consumers.offsets } }

    /// The consumer's committed offset (the next offset it will read), or nil
    /// if it has never committed here.
    public func committedOffset(for consumer: String) -> Int64? {
        state.withLock { $0.consumers.offsets[consumer] }
    }

    /// Durably records that `consumer` has processed everything below `offset`.
    /// The offset must not pass the durable watermark: a commit never runs
    /// ahead of what the log itself has made durable. An offset below the
    /// start (retention deleted what the consumer was reading) is recorded as
    /// the start.
    public func commit(_ offset: Int64, for consumer: String) throws {
        precondition(!isReadOnly, "commit on a log opened read-only")
        guard LogFileNames.isValidName(consumer) else { throw LogError.invalidName(consumer) }
        try state.withLock { state in
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
        return try state.withLock { state in
            if let committed = state.consumers.offsets[consumer] { return committed }
            let start = state.segments.first?.baseOffset ?? 0
            try state.consumers.commit(start, for: consumer, directory: directory)
            return start
        }
    }
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
