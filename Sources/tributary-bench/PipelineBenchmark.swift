import Logging
import ServiceLifecycle
import SystemPackage
import TributaryCore
import TributaryLog

/// `tributary-bench pipeline`: the daemon's data path in this process, the
/// same `Pipeline` services `tributary run` starts (simulated source ->
/// router -> partition writer -> log -> forwarder -> stdout sink writing
/// JSON lines to /dev/null), against appending the same readings straight to
/// a partition in one thread, measured in the same run.
enum PipelineBenchmark {
    static let target = 0.8
    static let sensors = 1000

    static func run(seconds: Double, json: Bool) async throws {
        let root = try FileIO.makeTemporaryDirectory(prefix: "tributary-bench-pipeline-")
        defer { FileIO.removeTree(root) }
        say("tributary-bench pipeline: \(sensors) simulated sensors as fast as the log takes them, "
            + "\(Format.fixed(seconds, 0)) s per measurement, one partition, fsync at most every 100 ms; "
            + "data in \(root), removed at the end")
        say("target: the pipeline >= \(target) of the raw append rate of the same readings")
        say("")
        let (raw, rawWithGeneration) = try rawAppend(directory: root + "/raw", seconds: seconds)
        say("raw append         \(Format.millions(raw)) readings/s: rounds of \(sensors) simulated readings appended "
            + "to a partition in one thread, timing append and sync only (\(Format.millions(rawWithGeneration)) "
            + "counting the generation too)")
        let measured = try await pipeline(directory: root + "/stdout", seconds: seconds, discard: false)
        let ratio = measured.stored / raw
        say("stdout sink:")
        say("  stored           \(Format.millions(measured.stored)) readings/s made durable through the daemon's "
            + "services; \(Format.fixed(ratio, 2)) of raw   [target >= \(target): \(Format.verdict(ratio >= target))]")
        say("  forwarded        \(Format.millions(measured.forwarded)) readings/s as JSON lines to /dev/null at the "
            + "same time, \(Format.fixed(measured.forwarded / raw, 3)) of raw (backlog at the end: "
            + "\(Format.grouped(measured.backlog)))")
        let bare = try await pipeline(directory: root + "/discard", seconds: seconds, discard: true)
        say("sink that acknowledges without output (the data path alone):")
        say("  stored           \(Format.millions(bare.stored)) readings/s, \(Format.fixed(bare.stored / raw, 2)) of raw")
        say("  forwarded        \(Format.millions(bare.forwarded)) readings/s, \(Format.fixed(bare.forwarded / raw, 2)) "
            + "of raw, \(Format.fixed(bare.forwarded / rawWithGeneration, 2)) of raw counting the generation "
            + "(backlog at the end: \(Format.grouped(bare.backlog)))")
        say("peak RSS           \(bare.peakMB.map { Format.fixed($0, 1) } ?? "unknown") MB (VmHWM of this process)")
        if json {
            var report = BenchReport()
            report.add("raw_append_readings_per_s", raw, digits: 0)
            report.add("raw_append_with_generation_readings_per_s", rawWithGeneration, digits: 0)
            report.add("pipeline_stored_readings_per_s", measured.stored, digits: 0)
            report.add("pipeline_forwarded_readings_per_s", measured.forwarded, digits: 0)
            report.add("ratio_to_raw", ratio)
            report.add("forwarded_ratio_to_raw", measured.forwarded / raw)
            report.add("bare_stored_readings_per_s", bare.stored, digits: 0)
            report.add("bare_forwarded_readings_per_s", bare.forwarded, digits: 0)
            report.add("bare_forwarded_ratio_to_raw_with_generation", bare.forwarded / rawWithGeneration)
            report.add("target_met", ratio >= target)
            report.add("peak_rss_mb", bare.peakMB, digits: 1)
            say(report.json)
        }
    }

    private static func simulated() -> SimulatedSourceConfiguration {
        var sim = SimulatedSourceConfiguration()
        sim.sensors = sensors
        sim.readingsPerSecond = 100_000  // far more than the log takes: the source runs behind, at full speed
        sim.shapes = [.sine, .randomWalk, .square, .sawtooth]
        sim.seed = 1
        return sim
    }

    /// Readings per second appended straight to a partition in one thread,
    /// fsync at most every 100 ms, timing `append` and `sync` only (as the log
    /// benchmark does); the readings are the simulated sensors' own.
    private static func rawAppend(directory: String, seconds: Double) throws -> (appendOnly: Double, withGeneration: Double) {
        var configuration = LogConfiguration(directory: directory)
        configuration.flush = .interval(maxDelayMilliseconds: 100, maxBytes: 4 << 20)
        let log = try Log.open(configuration)
        defer { try? log.close() }
        let partition = try log.topic("bench", creatingWith: 1)[0]
        var sensors = SimulatedSensors(configuration: simulated(), prefix: "sim", seed: 1)
        let wall = Stopwatch()
        var appending: UInt64 = 0
        var timestamp: Int64 = 1_767_225_600_000
        while wall.elapsedSeconds < seconds {
            let round = sensors.round(at: timestamp)
            timestamp += 10
            let start = Stopwatch.nanoseconds()
            try partition.append(round)
            appending += Stopwatch.nanoseconds() - start
        }
        let start = Stopwatch.nanoseconds()
        try partition.sync()
        appending += Stopwatch.nanoseconds() - start
        let readings = Double(partition.durableOffset)
        return (readings / (Double(appending) / 1e9), readings / wall.elapsedSeconds)
    }

    private struct Measured {
        var stored: Double
        var forwarded: Double
        var backlog: Int64
        var peakMB: Double?
    }

    /// Runs the pipeline for `seconds`; `discard` replaces the stdout sink with one that acknowledges at once.
    private static func pipeline(directory: String, seconds: Double, discard: Bool) async throws -> Measured {
        var log = LogSettings()
        log.directory = directory
        log.flush = .interval(maxDelayMilliseconds: 100, maxBytes: 4 << 20)
        let configuration = TributaryConfiguration(
            deviceID: "bench", log: log, topics: ["bench": TopicSettings(partitions: 1)],
            sources: [SourceConfiguration(name: "sim", topic: "bench", settings: simulated())],
            sinks: [SinkConfiguration(name: "null", topics: ["bench"], settings: StdoutSinkSettings())])
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let devNull = try FileDescriptor.open("/dev/null", .writeOnly)
        defer { try? devNull.close() }
        let pipeline = try Pipeline(
            configuration: configuration,
            sources: configuration.sources.map { (SimulatedSource(name: $0.name, configuration: simulated()), $0) },
            sinks: configuration.sinks.map { sink -> (Sink, SinkConfiguration) in
                (discard ? DiscardingSink(name: sink.name) : StdoutSink(name: sink.name, output: devNull), sink)
            },
            logger: logger)
        let group = ServiceGroup(services: pipeline.services, logger: logger)
        var measured = Measured(stored: 0, forwarded: 0, backlog: 0)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Task.sleep(for: .seconds(1))  // past the start
            let first = pipeline.snapshot()
            let stopwatch = Stopwatch()
            try await Task.sleep(for: .seconds(seconds))
            let last = pipeline.snapshot()
            let elapsed = stopwatch.elapsedSeconds
            measured.stored = Double(last.topics[0].stored - first.topics[0].stored) / elapsed
            measured.forwarded = Double(last.sinks[0].forwarded - first.sinks[0].forwarded) / elapsed
            measured.backlog = last.sinks[0].lag
            measured.peakMB = ProcessStats.peakResidentBytes().map { Double($0) / 1e6 }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        try pipeline.close()
        return measured
    }
}

/// Acknowledges every delivery at once: measures the data path without a sink's own cost.
private struct DiscardingSink: Sink {
    let name: String

    func send(_ delivery: Delivery) async throws { delivery.acknowledge() }
}
