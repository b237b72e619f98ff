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
    /// The forwarded rate with a sink that only acknowledges, against raw appends.
    static let target = 0.7
    static let sensors = 1000

    /// Raw appends and the bare pipeline are measured in turn this many
    /// times; the ratio reported is the median of each round's ratio, so a
    /// noisy neighbour during one measurement does not decide the verdict.
    static let rounds = 3

    static func run(seconds: Double, json: Bool) async throws {
        let root = try FileIO.makeTemporaryDirectory(prefix: "tributary-bench-pipeline-")
        defer { FileIO.removeTree(root) }
        say("tributary-bench pipeline: \(sensors) simulated sensors as fast as the log takes them, "
            + "\(Format.fixed(seconds, 0)) s per measurement, one partition, fsync at most every 100 ms; "
            + "data in \(root), removed at the end")
        say("target: readings forwarded through the pipeline to a sink that only acknowledges >= \(target) of the "
            + "raw append rate of the same readings (median of \(rounds) rounds of raw, then pipeline)")
        say("")
        var rawRates: [Double] = []
        var bareRuns: [Measured] = []
        var ratios: [Double] = []
        for round in 1...rounds {
            let (raw, rawWithGeneration) = try rawAppend(directory: root + "/raw-\(round)", seconds: seconds)
            let bare = try await pipeline(directory: root + "/discard-\(round)", seconds: seconds, discard: true)
            rawRates.append(raw)
            bareRuns.append(bare)
            ratios.append(bare.forwarded / raw)
            say("round \(round): raw append \(Format.millions(raw)) readings/s (\(Format.millions(rawWithGeneration)) "
                + "counting the generation); pipeline to a sink that only acknowledges: stored "
                + "\(Format.millions(bare.stored)), forwarded \(Format.millions(bare.forwarded)) readings/s = "
                + "\(Format.fixed(bare.forwarded / raw, 2)) of raw (backlog at the end: \(Format.grouped(bare.backlog)))")
        }
        let raw = median(rawRates)
        let bareRatio = median(ratios)
        let bare = bareRuns[ratios.firstIndex(of: bareRatio) ?? 0]
        let each = ratios.map { Format.fixed($0, 2) }.joined(separator: ", ")
        say("forwarded / raw    \(Format.fixed(bareRatio, 2)) (median of \(each))   "
            + "[target >= \(target): \(Format.verdict(bareRatio >= target))]")
        let measured = try await pipeline(directory: root + "/stdout", seconds: seconds, discard: false)
        let ratio = measured.stored / raw
        say("stdout sink (JSON lines to /dev/null), once:")
        say("  stored           \(Format.millions(measured.stored)) readings/s made durable through the daemon's "
            + "services; \(Format.fixed(ratio, 2)) of the median raw")
        say("  forwarded        \(Format.millions(measured.forwarded)) readings/s as JSON lines at the same time, "
            + "\(Format.fixed(measured.forwarded / raw, 3)) of raw (backlog at the end: "
            + "\(Format.grouped(measured.backlog)))")
        say("peak RSS           \(measured.peakMB.map { Format.fixed($0, 1) } ?? "unknown") MB (VmHWM of this process)")
        if json {
            var report = BenchReport()
            report.add("raw_append_readings_per_s", raw, digits: 0)
            report.add("pipeline_stored_readings_per_s", measured.stored, digits: 0)
            report.add("pipeline_forwarded_readings_per_s", measured.forwarded, digits: 0)
            report.add("ratio_to_raw", ratio)
            report.add("forwarded_ratio_to_raw", measured.forwarded / raw)
            report.add("bare_stored_readings_per_s", bare.stored, digits: 0)
            report.add("bare_forwarded_readings_per_s", bare.forwarded, digits: 0)
            report.add("bare_forwarded_ratio_to_raw", bareRatio)
            report.add("target_met", bareRatio >= target)
            report.add("peak_rss_mb", measured.peakMB, digits: 1)
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

    /// Readings per second appended straight to a partition in one thread, in groups of 8,000,
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
        // Groups of 8 rounds, as the sim source hands them over when it runs behind: the
        // log's fastest path (whole batches encoded in place), so the baseline is not handicapped.
        var group: [Reading] = []
        while wall.elapsedSeconds < seconds {
            group.removeAll(keepingCapacity: true)
            for _ in 0..<8 {
                sensors.appendRound(at: timestamp, to: &group)
                timestamp += 10
            }
            let start = Stopwatch.nanoseconds()
            try partition.append(group)
            appending += Stopwatch.nanoseconds() - start
        }
        let start = Stopwatch.nanoseconds()
        try partition.sync()
        appending += Stopwatch.nanoseconds() - start
        let readings = Double(partition.durableOffset)
        return (readings / (Double(appending) / 1e9), readings / wall.elapsedSeconds)
    }

    private static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

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
