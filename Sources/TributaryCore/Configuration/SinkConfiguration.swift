/// One `[[sinks]]` entry: where stored readings are forwarded, and of which topics.
public struct SinkConfiguration: Sendable, Equatable {
    /// Unique among sinks; it names the sink's committed offsets on disk.
    public var name: String
    /// The topics it forwards, each defined under `[topics]`.
    public var topics: [String]
    /// `max_batch` and `max_batch_bytes`: how much one delivery carries at most.
    public var limits: BatchLimits
    /// `backfill_rate`: bytes a second a backlog goes out at behind live
    /// readings (as `max_batch_bytes` counts them); nil: unlimited.
    public var backfillRate: Int64?
    /// `commit_interval`: how often, at most, the sink's acknowledged offsets
    /// are committed (an fdatasync each). They only bound what a crash repeats.
    public var commitMilliseconds: Int64
    /// The settings of its kind (`type`), read by that kind's plug-in.
    public var settings: any SinkSettings

    /// A sink with `settings` named `name` forwarding `topics`.
    public init(name: String, topics: [String], settings: any SinkSettings, limits: BatchLimits = BatchLimits(),
                backfillRate: Int64? = nil, commitMilliseconds: Int64 = Self.defaultCommitMilliseconds) {
        self.name = name
        self.topics = topics
        self.settings = settings
        self.limits = limits
        self.backfillRate = backfillRate
        self.commitMilliseconds = commitMilliseconds
    }

    /// Every 5 s, as Kafka consumers commit by default: a crash repeats at most
    /// about 5 s of readings, and the commits cost a flash page every 5 s, not every second.
    public static let defaultCommitMilliseconds: Int64 = 5000

    /// The `type` of the sink.
    public var type: String { Swift.type(of: settings).type }

    /// The sink, ready to start.
    public func makeSink(context: PluginContext) throws -> any Sink {
        try settings.makeSink(name: name, context: context)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.name == rhs.name && lhs.topics == rhs.topics && lhs.limits == rhs.limits
            && lhs.backfillRate == rhs.backfillRate && lhs.commitMilliseconds == rhs.commitMilliseconds
            && lhs.settings.isEqual(to: rhs.settings)
    }

    /// The range `max_batch` accepts.
    static let batchReadings = 1...1_000_000
    /// The range `max_batch_bytes` accepts.
    static let batchBytes: ClosedRange<Int64> = 1 << 10 ... 256 << 20

    static func read(_ table: TableReader, index: Int, topics: Set<String>,
                     plugins: PluginRegistry) -> SinkConfiguration? {
        guard let kind = readType(table, supported: plugins.sinks, planned: PluginRegistry.plannedSinks,
                                  what: "sinks") else { return nil }
        let name = table.string("name", expected: "a name for the sink") ?? "\(kind.type)-\(index)"
        if !TopicSettings.isValidName(name) {
            table.report("name", "expected 1 to 64 of A-Z a-z 0-9 . _ - (it names a directory), found \"\(name)\"")
        }
        let expected = "a list of topics defined under [topics], like [\"readings\"]"
        var forwarded: [String]?
        if !table.contains("topics") {
            table.reportMissing("topics", expected: expected)
        } else if let names = table.strings("topics", expected: expected) {
            if names.isEmpty { table.report("topics", "expected \(expected), found []") }
            for (position, topic) in names.enumerated() where !topics.contains(topic) {
                table.report("topics", index: position, unknownTopicMessage(topic, topics: topics))
            }
            forwarded = names
        }
        var limits = BatchLimits()
        limits.readings = table.integer("max_batch", in: batchReadings, expected:
            "a number of readings per delivery from \(batchReadings.lowerBound) to \(batchReadings.upperBound)")
            ?? limits.readings
        if let bytes = table.bytes("max_batch_bytes", atLeast: batchBytes.lowerBound) {
            if bytes <= batchBytes.upperBound {
                limits.bytes = Int(bytes)
            } else {
                table.report("max_batch_bytes", "expected at most \(batchBytes.upperBound) bytes (256MiB), found \(bytes)")
            }
        }
        let backfillRate = table.bytes("backfill_rate", atLeast: 1)
        let commitMilliseconds = table.milliseconds("commit_interval", atLeast: 100) ?? defaultCommitMilliseconds
        let settings = kind.read(table)
        table.finish()
        guard let forwarded, let settings else { return nil }
        return SinkConfiguration(name: name, topics: forwarded, settings: settings, limits: limits,
                                 backfillRate: backfillRate, commitMilliseconds: commitMilliseconds)
    }
}
