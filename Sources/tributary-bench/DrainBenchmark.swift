import Dispatch
import Logging
import ServiceLifecycle
import Synchronization
import TributaryCore
import TributaryLog

/// `tributary-bench drain`: how fast a sink's forwarder works off a backlog
/// when every acknowledgement takes a round trip. A log holds 1 M readings
/// written the way a quiet sensor writes them (10 readings/s, one fsync a
/// second: on-disk batches of 10 readings); a sink acknowledges each
/// delivery 40 ms after it was sent, up to its window in flight. Before the
/// read-ahead and the window, every on-disk batch was one round trip.
enum DrainBenchmark {
    static let target = 1_000_000.0
    static let readings = 1_000_000
    static let readingsPerBatch = 10
    static let roundTripMilliseconds = 40
    static let window = 8

    static func run(json: Bool) async throws {
        let root = try FileIO.makeTemporaryDirectory(prefix: "tributary-bench-drain-")
        defer { FileIO.removeTree(root) }
        say("tributary-bench drain: \(Format.grouped(Int64(readings))) readings in on-disk batches of "
            + "\(readingsPerBatch) (10 readings/s, fsync every second), a sink acknowledging each delivery "
            + "\(roundTripMilliseconds) ms after it is sent, \(window) deliveries in flight; data in \(root), removed at the end")
        say("target: >= \(Format.millions(target)) readings/s")
        var configuration = LogConfiguration(directory: root)
        configuration.maxBatchReadings = readingsPerBatch
        configuration.flush = .interval(maxDelayMilliseconds: 60_000, maxBytes: 1 << 30)
        let log = try Log.open(configuration)
        let partition = try log.topic("backlog", creatingWith: 1)[0]
        var timestamp: Int64 = 1_767_225_600_000
        for _ in 0..<(readings / 10_000) {
            try partition.append((0..<10_000).map { index in
                defer { timestamp += 100 }
                return Reading(sensor: "boiler/temperature", timestamp: timestamp, value: .double(20 + Double(index % 97) / 10))
            })
        }
        try partition.sync()
        let sink = DelayedSink(name: "upstream", window: window, delayMilliseconds: roundTripMilliseconds)
        let limits = BatchLimits()
        let quiet = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let forwarder = try Forwarder(sink: sink, deviceID: "bench", partitions: [partition], limits: limits,
                                      logger: quiet)
        let stopwatch = Stopwatch()
        let group = ServiceGroup(services: [forwarder], logger: quiet)
        var seconds = 0.0
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while forwarder.status.partitions[0].acknowledgedOffset < Int64(readings) {
                try await Task.sleep(for: .milliseconds(5))
            }
            seconds = stopwatch.elapsedSeconds
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        try log.close()
        let rate = Double(readings) / seconds
        let before = Double(readingsPerBatch) * 1000 / Double(roundTripMilliseconds)
        say("drained            \(Format.millions(rate)) readings/s: \(Format.grouped(Int64(readings))) in "
            + "\(Format.fixed(seconds, 2)) s, \(sink.deliveries) deliveries of up to \(Format.grouped(Int64(limits.readings))) "
            + "readings   [target >= \(Format.millions(target)): \(Format.verdict(rate >= target))]")
        say("one round trip per on-disk batch (before): \(Format.fixed(before, 0)) readings/s, "
            + "\(Format.fixed(Double(readings) / before / 3600, 1)) h for this backlog; \(Format.fixed(rate / before, 0))x faster")
        if json {
            var report = BenchReport()
            report.add("drain_readings_per_s", rate, digits: 0)
            report.add("drain_seconds", seconds)
            report.add("deliveries", Double(sink.deliveries), digits: 0)
            report.add("one_round_trip_per_batch_readings_per_s", before, digits: 0)
            report.add("target_met", rate >= target)
            say(report.json)
        }
    }
}

/// Acknowledges each delivery `delay` after it was sent, from a timer
/// thread, as a remote upstream's acknowledgements arrive.
private final class DelayedSink: Sink, Sendable {
    let name: String
    let window: Int
    private let delayMilliseconds: Int
    private let counter = Mutex(0)

    init(name: String, window: Int, delayMilliseconds: Int) {
        self.name = name
        self.window = window
        self.delayMilliseconds = delayMilliseconds
    }

    var deliveries: Int { counter.withLock { $0 } }

    func send(_ delivery: Delivery) async throws {
        counter.withLock { $0 += 1 }
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delayMilliseconds)) { delivery.acknowledge() }
    }
}
