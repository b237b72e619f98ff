import Logging
import ServiceLifecycle
import TributaryCore
import TributaryLog

/// Waits (at most `seconds`) until `condition` holds.
public func eventually(seconds: Double = 60, _ condition: () -> Bool) async throws {
    for _ in 0..<Int(seconds * 100) {
        if condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// Runs `forwarder` until `done` holds (at most `seconds`), then stops it gracefully.
public func forward(_ forwarder: Forwarder, seconds: Double = 60, until done: @escaping () -> Bool) async throws {
    let group = ServiceGroup(services: [forwarder], logger: Logger(label: "test"))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        try await eventually(seconds: seconds, done)
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

extension PartitionWriter {
    /// A writer with its thread started; the test stops it.
    public static func started(partition: Partition, capacity: Int = 16_384, logger: Logger) throws -> PartitionWriter {
        let writer = PartitionWriter(partition: partition, capacity: capacity, logger: logger)
        try writer.start()
        return writer
    }
}

extension Log {
    /// A log in `scratch` with `readings` readings of 10 sensors (`s0`...`s9`)
    /// spread over the 2 partitions of topic `readings`, reading `n` in
    /// partition `n % 2` with the value `n`.
    public static func sample(_ scratch: Scratch, readings: Int) throws -> (Log, [Partition]) {
        var configuration = LogConfiguration(directory: scratch.path("log"))
        configuration.flush = .everyBatch
        let log = try Log.open(configuration)
        let partitions = try log.topic("readings", creatingWith: 2)
        for first in stride(from: 0, to: readings, by: 50) {
            for (index, partition) in partitions.enumerated() {
                try partition.append((first..<min(first + 50, readings)).filter { $0 % 2 == index }.map {
                    Reading(sensor: "s\($0 % 5 * 2 + index)", timestamp: 1_767_225_600_000 + Int64($0),
                            value: .int(Int64($0)))
                })
            }
        }
        return (log, partitions)
    }
}

extension TributaryConfiguration {
    /// A configuration of device `box-1` and topic `readings`, then `pipeline`
    /// (a `[[sources]]` or `[[sinks]]` table's lines), which starts on line 4.
    public static func parse(pipeline: String, file: String = "t.toml", plugins: PluginRegistry)
        throws(ConfigurationErrors) -> TributaryConfiguration {
        try parse("""
            [device]
            id = "box-1"
            [topics.readings]
            \(pipeline)
            """, file: file, plugins: plugins)
    }
}

/// A source's way into a log of its own: topics `readings` and `dead` (the
/// dead-letter topic) of one partition each, their writers started.
public struct SourceTestLog {
    public let log: Log
    public let readings: PartitionWriter
    public let dead: PartitionWriter
    public let output: SourceOutput

    public init(directory: String, source: String) throws {
        var configuration = LogConfiguration(directory: directory)
        configuration.flush = .everyBatch
        log = try Log.open(configuration)
        let logger = Logger(label: "test")
        readings = try PartitionWriter.started(partition: try log.topic("readings", creatingWith: 1)[0], logger: logger)
        dead = try PartitionWriter.started(partition: try log.topic("dead", creatingWith: 1)[0], logger: logger)
        output = SourceOutput(source: source, topic: "readings", deadLetterTopic: "dead",
                              router: Router(writers: ["readings": [readings], "dead": [dead]]), logger: logger)
    }

    /// Stops the writers (everything sent is durable) and returns what each topic holds.
    public func finish() async throws -> (readings: [Reading], dead: [Reading]) {
        await readings.stop()
        await dead.stop()
        defer { try? log.close() }
        return (try readings.partition.readAll(from: 0).readings.map(\.reading),
                try dead.partition.readAll(from: 0).readings.map(\.reading))
    }
}
