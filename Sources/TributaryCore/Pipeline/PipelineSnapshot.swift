/// Everything the running pipeline can tell about itself at one moment: what
/// `/status` serves as JSON, what `/metrics` exports, what `tributary status`
/// prints and what the demo's progress line shows.
///
/// Counters count since the daemon started; offsets and lags are the log's own.
public struct PipelineSnapshot: Sendable, Codable, Equatable {
    public var deviceID: String
    /// Milliseconds since the epoch when the snapshot was taken.
    public var timestamp: Int64
    public var uptimeSeconds: Double
    public var sources: [SourceStatus]
    public var topics: [TopicStatus]
    public var sinks: [SinkStatus]
    public var disk: DiskStatus

    public init(deviceID: String, timestamp: Int64, uptimeSeconds: Double, sources: [SourceStatus],
                topics: [TopicStatus], sinks: [SinkStatus], disk: DiskStatus) {
        self.deviceID = deviceID
        self.timestamp = timestamp
        self.uptimeSeconds = uptimeSeconds
        self.sources = sources
        self.topics = topics
        self.sinks = sinks
        self.disk = disk
    }
}

/// One source: what it produced, what of it was unusable, and its health.
public struct SourceStatus: Sendable, Codable, Equatable {
    public var name: String
    public var topic: String
    /// Readings the source handed to the log.
    public var received: Int64
    /// Inputs that could not be turned into readings (counted, logged, maybe dead-lettered).
    public var malformed: Int64
    /// `malformed` by reason ("invalid-json", "oversize", ...).
    public var malformedByReason: [String: Int64]
    /// Readings the log did not take (the daemon was stopping).
    public var refused: Int64
    /// Reconnections to the device or broker.
    public var reconnects: Int64
    /// Milliseconds since the epoch when the log last took a reading from it.
    public var lastReading: Int64?
    /// Why the source cannot read now; nil while it is healthy.
    public var error: String?
    /// Errors of the devices behind the source (Modbus slaves), by device and kind ("timeout", "crc", "exception").
    public var deviceErrors: [String: [String: Int64]]

    public init(name: String, topic: String, received: Int64, malformed: Int64,
                malformedByReason: [String: Int64] = [:], refused: Int64 = 0,
                reconnects: Int64 = 0, lastReading: Int64? = nil, error: String? = nil,
                deviceErrors: [String: [String: Int64]] = [:]) {
        self.name = name
        self.topic = topic
        self.received = received
        self.malformed = malformed
        self.malformedByReason = malformedByReason
        self.refused = refused
        self.reconnects = reconnects
        self.lastReading = lastReading
        self.error = error
        self.deviceErrors = deviceErrors
    }
}

/// One topic and its partitions.
public struct TopicStatus: Sendable, Codable, Equatable {
    public var name: String
    public var partitions: [PartitionStatus]

    public init(name: String, partitions: [PartitionStatus]) {
        self.name = name
        self.partitions = partitions
    }

    /// Readings made durable, summed over partitions.
    public var stored: Int64 { partitions.reduce(0) { $0 + $1.stored } }
    /// Readings lost to retention, refusal or failed writes, summed over partitions.
    public var dropped: Int64 { partitions.reduce(0) { $0 + $1.dropped } }
}

/// One partition: its offsets, its writer's queue, and what it lost.
public struct PartitionStatus: Sendable, Codable, Equatable {
    public var id: Int
    public var startOffset: Int64
    /// Readings below this offset are durable.
    public var durableOffset: Int64
    /// Readings appended since the daemon started (durable or about to be).
    public var stored: Int64
    /// Readings deleted by retention before every sink had them, refused under
    /// reject-new, or discarded by a failed write, since the daemon started.
    public var dropped: Int64
    /// Segments deleted by retention or the disk budget since the daemon started.
    public var deletedSegments: Int64
    /// Readings waiting in the partition writer's queue.
    public var queueDepth: Int
    public var diskBytes: Int64

    public init(id: Int, startOffset: Int64, durableOffset: Int64, stored: Int64, dropped: Int64,
                deletedSegments: Int64 = 0, queueDepth: Int, diskBytes: Int64) {
        self.id = id
        self.startOffset = startOffset
        self.durableOffset = durableOffset
        self.stored = stored
        self.dropped = dropped
        self.deletedSegments = deletedSegments
        self.queueDepth = queueDepth
        self.diskBytes = diskBytes
    }
}

/// One sink: what it forwarded, how far behind it is, and whether its link is up.
public struct SinkStatus: Sendable, Codable, Equatable {
    public var name: String
    /// Readings the upstream acknowledged since the daemon started.
    public var forwarded: Int64
    /// Deliveries that failed (the batch is sent again).
    public var failures: Int64
    /// Durable readings not yet acknowledged, over all the sink's partitions.
    public var lag: Int64
    /// Whether the last attempt to deliver succeeded.
    public var linkUp: Bool
    /// Milliseconds since the epoch of the last acknowledged delivery, if any.
    public var lastUpload: Int64?
    /// Deliveries sent and not yet acknowledged or failed.
    public var inFlight: Int
    /// Per forwarded partition: its committed offset and lag.
    public var partitions: [SinkPartitionStatus]
    /// Backlog readings still to be acknowledged behind live ones, over all partitions.
    public var backfillLag: Int64 { partitions.reduce(0) { $0 + $1.backfillLag } }
    /// The sink's own figures (`Sink.statistics`).
    public var statistics: [SinkStatistic]
    /// Why the last delivery failed; nil once one succeeds.
    public var error: String?

    public init(name: String, forwarded: Int64, failures: Int64, lag: Int64, linkUp: Bool, lastUpload: Int64?,
                inFlight: Int, partitions: [SinkPartitionStatus], statistics: [SinkStatistic] = [],
                error: String? = nil) {
        self.name = name
        self.forwarded = forwarded
        self.failures = failures
        self.lag = lag
        self.linkUp = linkUp
        self.lastUpload = lastUpload
        self.inFlight = inFlight
        self.partitions = partitions
        self.statistics = statistics
        self.error = error
    }
}

/// A sink's position in one partition.
public struct SinkPartitionStatus: Sendable, Codable, Equatable {
    public var topic: String
    public var partition: Int
    /// The offset the sink's forwarder will send next (acknowledged below it).
    public var acknowledgedOffset: Int64
    /// The offset committed to disk (a restart resumes here).
    public var committedOffset: Int64
    public var lag: Int64
    /// While live readings go out ahead of a backlog: the backlog's
    /// readings not acknowledged yet (0 when not backfilling).
    public var backfillLag: Int64

    public init(topic: String, partition: Int, acknowledgedOffset: Int64, committedOffset: Int64, lag: Int64,
                backfillLag: Int64 = 0) {
        self.topic = topic
        self.partition = partition
        self.acknowledgedOffset = acknowledgedOffset
        self.committedOffset = committedOffset
        self.lag = lag
        self.backfillLag = backfillLag
    }
}

/// The log's disk use against its budget.
public struct DiskStatus: Sendable, Codable, Equatable {
    public var usedBytes: Int64
    /// nil when no budget is set.
    public var budgetBytes: Int64?

    public init(usedBytes: Int64, budgetBytes: Int64?) {
        self.usedBytes = usedBytes
        self.budgetBytes = budgetBytes
    }
}
