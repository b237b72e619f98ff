import Foundation
import TributaryLog
import TributaryTestSupport

/// A configuration for `tributary run` in a scratch directory: simulated
/// sensors into a two-partition topic, a stdout sink, metrics on a free port.
struct DaemonFixture {
    let scratch: Scratch
    let port: Int
    let configPath: String
    var dataDirectory: String { scratch.path("log") }

    /// - Parameters:
    ///   - segmentSize: `segment_size`.
    ///   - log: more `[log]` settings, one per line.
    ///   - pipeline: `[[sources]]` and `[[sinks]]` tables instead of the simulated sensors and stdout sink.
    init(scratch: Scratch, sensors: Int = 4, rate: Double = 50, segmentSize: String = "1MiB", log: String = "",
         pipeline: String? = nil) throws {
        self.scratch = scratch
        self.port = try FreePort.find()
        self.configPath = scratch.path("tributary.toml")
        let simulated = """
            [[sources]]
            type = "sim"
            name = "sim"
            topic = "readings"
            sensors = \(sensors)
            rate = \(rate)
            seed = 7

            [[sinks]]
            type = "stdout"
            name = "out"
            topics = ["readings"]
            """
        let text = """
            [device]
            id = "test-box"

            [log]
            directory = "\(scratch.path("log"))"
            segment_size = "\(segmentSize)"
            fsync = "interval"
            fsync_interval = "50ms"
            disk_budget = "64MiB"
            \(log)

            [topics.readings]
            partitions = 2

            \(pipeline ?? simulated)

            [metrics]
            listen = "127.0.0.1:\(port)"
            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: configPath))
    }

    /// Starts `tributary run` with `NOTIFY_SOCKET` (and `WATCHDOG_USEC` if
    /// given) in its environment only.
    func start(notify: NotifySocket?, watchdogMicroseconds: Int? = nil, standardOutput: Pipe? = nil) throws
        -> TributaryProcess {
        var environment = ProcessEnvironment.reading { ProcessInfo.processInfo.environment }
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"] {
            environment[name] = nil
        }
        if let notify { environment["NOTIFY_SOCKET"] = notify.path }
        if let watchdogMicroseconds { environment["WATCHDOG_USEC"] = "\(watchdogMicroseconds)" }
        return try TributaryProcess(["run", "--config", configPath], environment: environment,
                                    standardOutput: standardOutput, scratch: scratch)
    }

    /// The durable end offset of each partition of `readings`, read from the log on disk.
    func durableOffsets() throws -> [Int64] {
        try partitions().map(\.durableOffset)
    }

    /// The partitions of `readings` as on disk now (opened read-only).
    func partitions() throws -> [Partition] {
        let log = try Log.open(LogConfiguration(directory: dataDirectory), readOnly: true)
        return log.partitions(of: "readings") ?? []
    }
}

/// One JSON line of the stdout sink.
struct ForwardedLine: Decodable, Equatable {
    var device: String
    var topic: String
    var partition: Int
    var offset: Int64
    var sensor: String
    var timestamp: Int64

    /// Every complete line of `output` (a last line without its newline, cut
    /// short by a kill, is left out).
    static func parse(_ output: String) throws -> [ForwardedLine] {
        var lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()  // after the last newline: empty, or a line cut short
        return try lines.map { try JSONDecoder().decode(Self.self, from: Data($0.utf8)) }
    }

    /// The offsets forwarded per partition, in the order they came.
    static func offsets(_ lines: [ForwardedLine], partitions: Int) -> [[Int64]] {
        var offsets = Array(repeating: [Int64](), count: partitions)
        for line in lines { offsets[line.partition].append(line.offset) }
        return offsets
    }
}

/// Waits for the daemon's process to end, at most `seconds`; nil if it did not.
func exitStatus(of daemon: TributaryProcess, within seconds: Double) async -> Int32? {
    nonisolated(unsafe) let daemon = daemon  // only the waiting thread touches it meanwhile
    let status = try? await offPool { () -> Int32? in
        let exited = daemon.wait(seconds: seconds) { !$0.process.isRunning }
        return exited ? daemon.process.terminationStatus : nil
    }
    return status ?? nil
}

/// `GET path` on 127.0.0.1:port with HTTP/1.0: the status code and the body.
func httpGet(port: Int, path: String) async throws -> (status: Int, body: String) {
    try await offPool { try LoopbackClient.get(port: port, path: path) }
}

/// The value of a Prometheus sample line `name{labels} value`, matched by
/// the name with its labels exactly as the daemon prints them.
func sample(_ metrics: String, _ series: String) -> Double? {
    for line in metrics.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}
