import TributaryLog

/// The `[log]` section: where and how readings are stored, and how much may be kept.
public struct LogSettings: Sendable, Equatable {
    /// The log directory.
    public var directory = "/var/lib/tributary/log"
    /// `segment_size`: a segment is rolled before it grows past this.
    public var segmentBytes: Int64 = 16 << 20
    /// `segment_age`: a segment is rolled once it has been open this long.
    public var segmentMilliseconds: Int64 = 24 * 3_600_000
    /// `retention_age`: segments whose newest reading is older are deleted.
    public var retentionMilliseconds: Int64?
    /// `retention_bytes`: per topic, the oldest segments are deleted beyond this.
    public var retentionBytes: Int64?
    /// `retention_check_interval`: how often retention runs (and once at start).
    public var retentionCheckMilliseconds: Int64 = 60_000
    /// `disk_budget`: bytes the whole log may take.
    public var diskBudget: Int64?
    /// `fsync`, `fsync_interval`, `fsync_bytes`.
    public var flush: FlushPolicy = .interval(maxDelayMilliseconds: 1000, maxBytes: 4 << 20)
    /// `full_policy`: what gives when the budget is reached with unforwarded data.
    public var fullPolicy: FullPolicy = .dropOldest

    /// The defaults documented in packaging/CONFIGURATION.md.
    public init() {}

    /// `fsync = "every-batch"` or `"interval"`.
    enum FsyncMode: String, CaseIterable {
        case everyBatch = "every-batch"
        case interval
    }

    static func read(_ table: TableReader?) -> LogSettings {
        var settings = LogSettings()
        guard let table else { return settings }
        if let directory = table.string("directory", expected: "the path of the log directory") {
            if directory.isEmpty { table.report("directory", "expected the path of the log directory, found \"\"") }
            settings.directory = directory
        }
        settings.segmentBytes = table.bytes("segment_size", atLeast: LogConfiguration.minimumSegmentBytes) ?? settings.segmentBytes
        settings.segmentMilliseconds = table.milliseconds("segment_age") ?? settings.segmentMilliseconds
        settings.retentionMilliseconds = table.milliseconds("retention_age") ?? settings.retentionMilliseconds
        settings.retentionBytes = table.bytes("retention_bytes", atLeast: 1)
        settings.retentionCheckMilliseconds = table.milliseconds("retention_check_interval", atLeast: 100)
            ?? settings.retentionCheckMilliseconds
        settings.diskBudget = table.bytes("disk_budget", atLeast: 1)
        settings.fullPolicy = table.choice("full_policy", among: FullPolicy.choices) ?? settings.fullPolicy
        let mode = table.choice("fsync", among: FsyncMode.allCases) ?? .interval
        let interval = table.milliseconds("fsync_interval")
        let bytes = table.bytes("fsync_bytes")
        switch mode {
        case .everyBatch:
            settings.flush = .everyBatch
            for key in ["fsync_interval", "fsync_bytes"] where table.value(key) != nil {
                table.report(key, "only meaningful with fsync = \"interval\"; remove it or change fsync")
            }
        case .interval:
            settings.flush = .interval(maxDelayMilliseconds: interval ?? 1000, maxBytes: Int(bytes ?? 4 << 20))
        }
        table.finish()
        return settings
    }
}

extension FullPolicy {
    static let choices: [FullPolicy] = [.dropOldest, .rejectNew]
}

/// One `[topics.NAME]` table: partitions and overrides of the `[log]` retention.
public struct TopicSettings: Sendable, Equatable {
    /// Partitions (`TopicConfiguration.partitionRange`); readings of one sensor always go to the same one.
    public var partitions = 1
    /// Overrides `log.retention_age` for this topic.
    public var retentionMilliseconds: Int64?
    /// Overrides `log.retention_bytes` for this topic.
    public var retentionBytes: Int64?
    /// Overrides `log.full_policy` for this topic.
    public var fullPolicy: FullPolicy?

    /// One partition, every retention setting taken from `[log]`.
    public init(partitions: Int = 1) { self.partitions = partitions }

    static func read(_ table: TableReader) -> TopicSettings {
        var topic = TopicSettings()
        let range = TopicConfiguration.partitionRange
        topic.partitions = table.integer("partitions", in: range, expected:
            "a number of partitions from \(range.lowerBound) to \(range.upperBound)") ?? 1
        topic.retentionMilliseconds = table.milliseconds("retention_age")
        topic.retentionBytes = table.bytes("retention_bytes", atLeast: 1)
        topic.fullPolicy = table.choice("full_policy", among: FullPolicy.choices)
        table.finish()
        return topic
    }

    /// Whether `name` can name a topic (and its directories): 1-64 of
    /// A-Z a-z 0-9 . _ - and not "." or "..", as the log requires.
    static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), name != ".", name != ".." else { return false }
        return name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }
}
