/// When appended readings are made durable (fdatasync). A reading is
/// acknowledged only once it is durable, whatever the policy.
public enum FlushPolicy: Sendable, Equatable {
    /// Every `append` call ends with its readings durable.
    case everyBatch
    /// Readings collect into a batch and are made durable when `maxDelayMilliseconds`
    /// have passed since the last sync or `maxBytes` are waiting, whichever is
    /// first (checked on each `append` and on `syncIfDue`).
    case interval(maxDelayMilliseconds: Int64, maxBytes: Int)
}

/// What to do when the disk budget can only be kept by deleting readings no
/// consumer has read yet.
public enum FullPolicy: String, Sendable, Equatable {
    /// Delete the oldest segment anyway and count the readings lost (telemetry default).
    case dropOldest = "drop-oldest"
    /// Keep the old data and refuse new readings for the topic, counting them.
    case rejectNew = "reject-new"
}

/// Retention and overflow settings for one topic.
public struct TopicConfiguration: Sendable, Equatable {
    public var partitions: Int
    /// Segments whose newest reading is older than this are deleted.
    public var retentionMilliseconds: Int64?
    /// Segments are deleted, oldest first, while the topic holds more than this.
    public var retentionBytes: Int64?
    public var fullPolicy: FullPolicy

    /// How many partitions a topic may have.
    public static let partitionRange = 1...1024

    public init(partitions: Int = 1, retentionMilliseconds: Int64? = nil, retentionBytes: Int64? = nil,
                fullPolicy: FullPolicy = .dropOldest) {
        self.partitions = partitions
        self.retentionMilliseconds = retentionMilliseconds
        self.retentionBytes = retentionBytes
        self.fullPolicy = fullPolicy
    }
}

extension TopicConfiguration {
    static func checkPartitions(_ count: Int, topic: String) throws {
        guard partitionRange.contains(count) else {
            throw LogError.invalidConfiguration(
                "topic \(topic): partitions must be \(partitionRange.lowerBound) to \(partitionRange.upperBound)")
        }
    }
}

/// How a log directory is written and bounded.
public struct LogConfiguration: Sendable, Equatable {
    public var directory: String
    /// A segment is rolled when the next batch would take it past this size.
    public var segmentBytes: Int64 = 16 << 20
    /// A segment is rolled once it has been open this long (so age retention can work).
    public var segmentMilliseconds: Int64 = 24 * 3_600_000
    public var flush: FlushPolicy = .interval(maxDelayMilliseconds: 1000, maxBytes: 4 << 20)
    /// Reserve each segment's full size when it is created, so fdatasync has
    /// no size metadata to commit.
    public var preallocate = true
    /// Readings per batch at most.
    public var maxBatchReadings = 4096
    /// A key batch (decodable on its own, indexed) at least every this many readings.
    public var keyInterval = 65_536
    /// Bytes the whole log may take on disk, preallocated space included.
    public var diskBudget: Int64?
    /// Settings for topics not listed in `topics`.
    public var defaultTopic = TopicConfiguration()
    public var topics: [String: TopicConfiguration] = [:]

    public init(directory: String) { self.directory = directory }

    public func topic(_ name: String) -> TopicConfiguration { topics[name] ?? defaultTopic }

    /// The smallest segment size the log accepts.
    public static let minimumSegmentBytes: Int64 = 64 << 10

    /// The smallest disk budget for `partitions` partitions: every partition
    /// needs its active segment, and the log room to roll one more. nil when
    /// the product does not fit an Int64 (no budget can be that large).
    public static func minimumDiskBudget(partitions: Int, segmentBytes: Int64) -> Int64? {
        let (needed, overflow) = Int64(max(partitions, 1) + 1).multipliedReportingOverflow(by: segmentBytes)
        return overflow ? nil : needed
    }

    func validate() throws {
        guard segmentBytes >= Self.minimumSegmentBytes else {
            throw LogError.invalidConfiguration("segment size \(segmentBytes) is below the minimum of 64 KiB")
        }
        guard segmentMilliseconds > 0 else {
            throw LogError.invalidConfiguration("segment age must be positive")
        }
        guard (1...65_535).contains(maxBatchReadings) else {
            throw LogError.invalidConfiguration("batch size must be 1 to 65535 readings")
        }
        guard keyInterval >= 1 else { throw LogError.invalidConfiguration("key interval must be positive") }
        if case let .interval(delay, bytes) = flush, delay < 0 || bytes < 0 {
            throw LogError.invalidConfiguration("flush interval and bytes must not be negative")
        }
        for (name, topic) in topics {
            guard LogFileNames.isValidName(name) else { throw LogError.invalidName(name) }
            try TopicConfiguration.checkPartitions(topic.partitions, topic: name)
        }
        if let budget = diskBudget {
            let partitions = topics.values.reduce(0) { $0 + $1.partitions }
            let needed = Self.minimumDiskBudget(partitions: partitions, segmentBytes: segmentBytes)
            guard let needed, budget >= needed else {
                throw LogError.invalidConfiguration(
                    "disk budget \(budget) bytes is below \(needed.map(String.init) ?? "Int64.max"): "
                        + "(partitions + 1) x segment size")
            }
        }
    }
}
