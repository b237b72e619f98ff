#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import TributaryCore
import TributaryLog

/// `tributary-bench mqtt`: tributary's MQTT source and sink against the
/// same local mosquitto, beside mosquitto's own clients doing the same job.
///
/// - Ingest: N small JSON messages published at QoS 1 (mosquitto_pub -l, in
///   runs of 50,000 lines: it loses messages beyond 65,535 in one run) are
///   received once by mosquitto_sub and once by `tributary run` with an MQTT
///   source, both subscribed at QoS 1; rate = N over the time from the
///   first publish to the last message received (tributary: logged).
/// - Upstream: a backlog of readings in the log is published by `tributary
///   run` with an MQTT sink (a JSON message per reading, QoS 1) until the
///   broker has acknowledged them all; mosquitto_pub publishes the same JSON
///   lines at QoS 1 for comparison.
/// - Memory: the daemon's peak RSS (VmHWM) while draining the backlog, and
///   while draining one ten times larger.
///
/// Ingest and upstream run `rounds` times, tributary and the reference
/// client in turn, and the median of the ratios is the figure: one round on
/// a 2-core machine varies by 10 to 20%.
enum MQTTBenchmark {
    static let ingestTarget = 0.9
    static let publishTarget = 0.9
    static let memoryTolerance = 0.10
    /// mosquitto_pub -l's mids wrap past 65,535 in one run and it stops early: runs of this many lines.
    static let linesPerRun = 50_000

    static let rounds = 3

    static func run(messages: Int, backlog: Int, largeBacklog: Int, json: Bool) throws {
        let executable = FileIO.besideThisExecutable("tributary")
        let root = try FileIO.makeTemporaryDirectory(prefix: "tributary-bench-mqtt-")
        defer { FileIO.removeTree(root) }
        let broker = try Broker(directory: root)
        say("tributary-bench mqtt: mosquitto on 127.0.0.1:\(broker.port); \(executable); data in \(root), removed at the end")
        say("targets: ingest >= \(ingestTarget) x mosquitto_sub, upstream >= \(publishTarget) x mosquitto_pub (QoS 1), "
            + "peak RSS draining \(Format.grouped(Int64(largeBacklog))) within \(Int(memoryTolerance * 100))% of "
            + "\(Format.grouped(Int64(backlog)))")
        var report = BenchReport()

        // Ingest.
        let small = try writeRuns(directory: root, name: "small", count: messages) { index in
            "{\"sensor\":\"s\(index % 10)\",\"v\":\(Double(index % 1000) / 10)}"
        }
        var ingest: [(reference: Double, tributary: Double)] = []
        for round in 0..<rounds {
            let subscriberRate = try receiveWithMosquittoSub(broker, runs: small, count: messages)
            let ingestRate = try receiveWithTributary(broker, executable: executable, round: round,
                                                      directory: root + "/ingest-\(round)", runs: small, count: messages)
            ingest.append((subscriberRate, ingestRate))
            say("  ingest round \(round + 1): mosquitto_sub \(Format.grouped(Int64(subscriberRate))) msg/s, tributary "
                + "\(Format.grouped(Int64(ingestRate))) readings/s: \(Format.fixed(ingestRate / subscriberRate, 2)) x")
        }
        let (subscriberRate, ingestRate) = median(ingest)
        let ingestRatio = ingestRate / subscriberRate
        say("ingest             mosquitto_sub \(Format.grouped(Int64(subscriberRate))) msg/s, tributary "
            + "\(Format.grouped(Int64(ingestRate))) readings/s: \(Format.fixed(ingestRatio, 2)) x (median of \(rounds))   "
            + "[target >= \(ingestTarget): \(Format.verdict(ingestRatio >= ingestTarget))]")
        report.add("ingest_mosquitto_sub_per_s", subscriberRate, digits: 0)
        report.add("ingest_tributary_per_s", ingestRate, digits: 0)
        report.add("ingest_ratio", ingestRatio)
        report.add("ingest_target_met", ingestRatio >= ingestTarget)

        // Upstream.
        let lines = try writeRuns(directory: root, name: "backlog", count: backlog) { index in
            var line: [UInt8] = []
            ReadingJSON.writeLine(StoredReading(offset: Int64(index / 2), reading: Backlog.reading(index)), partition: index % 2,
                                  to: &line, origin: (device: "bench", topic: "readings"))
            return String(decoding: line.dropLast(), as: UTF8.self)
        }
        try Backlog.fill(root + "/drain", readings: backlog)
        var upstream: [(reference: Double, tributary: Double)] = []
        var drained: (rate: Double, seconds: Double, peakBytes: Int64) = (0, 0, 0)
        for round in 0..<rounds {
            let publisherRate = try publishWithMosquittoPub(broker, runs: lines, count: backlog)
            // A sink of another name each round: the same backlog, all of it unforwarded.
            drained = try drain(broker, executable: executable, directory: root + "/drain", sink: "central-\(round)",
                                readings: backlog)
            upstream.append((publisherRate, drained.rate))
            say("  upstream round \(round + 1): mosquitto_pub \(Format.grouped(Int64(publisherRate))) msg/s, tributary "
                + "\(Format.grouped(Int64(drained.rate))) readings/s: \(Format.fixed(drained.rate / publisherRate, 2)) x")
        }
        for path in lines { unlink(path) }
        let (publisherRate, tributaryRate) = median(upstream)
        let publishRatio = tributaryRate / publisherRate
        say("upstream           mosquitto_pub \(Format.grouped(Int64(publisherRate))) msg/s, tributary "
            + "\(Format.grouped(Int64(tributaryRate))) readings/s (\(Format.grouped(Int64(backlog))) a round): "
            + "\(Format.fixed(publishRatio, 2)) x (median of \(rounds))   "
            + "[target >= \(publishTarget): \(Format.verdict(publishRatio >= publishTarget))]")
        report.add("upstream_mosquitto_pub_per_s", publisherRate, digits: 0)
        report.add("upstream_tributary_per_s", tributaryRate, digits: 0)
        report.add("upstream_ratio", publishRatio)
        report.add("upstream_target_met", publishRatio >= publishTarget)

        // Memory against the backlog's size.
        try Backlog.fill(root + "/drain-large", readings: largeBacklog)
        let large = try drain(broker, executable: executable, directory: root + "/drain-large", sink: "central",
                              readings: largeBacklog)
        let growth = Double(large.peakBytes) / Double(drained.peakBytes) - 1
        say("peak RSS draining  \(Format.mebibytes(drained.peakBytes)) for \(Format.grouped(Int64(backlog))), "
            + "\(Format.mebibytes(large.peakBytes)) for \(Format.grouped(Int64(largeBacklog))) "
            + "(\(Format.grouped(Int64(large.rate))) readings/s): \(growth >= 0 ? "+" : "")\(Format.fixed(growth * 100, 1))%   "
            + "[target within \(Int(memoryTolerance * 100))%: \(Format.verdict(abs(growth) <= memoryTolerance))]")
        report.add("peak_rss_mb", Double(drained.peakBytes) / 1e6, digits: 1)
        report.add("peak_rss_large_mb", Double(large.peakBytes) / 1e6, digits: 1)
        report.add("peak_rss_growth", growth)
        report.add("memory_target_met", abs(growth) <= memoryTolerance)
        if json { say(report.json) }
    }

    // MARK: The reference clients

    private static func receiveWithMosquittoSub(_ broker: Broker, runs: [String], count: Int) throws -> Double {
        // -d prints the SUBACK, through grep so the per-message lines do not fill the pipe.
        let subscriber = try ChildProcess(executable: "/bin/sh", arguments: ["-c", """
            stdbuf -oL mosquitto_sub -h 127.0.0.1 -p \(broker.port) -t 'bench/#' -q 1 -C \(count) -d | grep --line-buffered SUBACK
            """])
        guard subscriber.readLine(timeoutMilliseconds: 10_000) != nil else { fail("mosquitto_sub did not subscribe") }
        let stopwatch = Stopwatch()
        try publish(broker, runs: runs, topic: "bench/a")
        _ = subscriber.readRemainingOutput()
        guard subscriber.waitForExit() == 0 else { fail("mosquitto_sub failed") }
        return Double(count) / stopwatch.elapsedSeconds
    }

    private static func publishWithMosquittoPub(_ broker: Broker, runs: [String], count: Int) throws -> Double {
        let stopwatch = Stopwatch()
        try publish(broker, runs: runs, topic: "devices/bench/readings")
        return Double(count) / stopwatch.elapsedSeconds
    }

    /// mosquitto_pub -l at QoS 1, one run a file, one after another.
    private static func publish(_ broker: Broker, runs: [String], topic: String) throws {
        let script = runs.map { "mosquitto_pub -h 127.0.0.1 -p \(broker.port) -t '\(topic)' -q 1 -l < '\($0)' || exit 1" }
            .joined(separator: "\n")
        let publisher = try ChildProcess(executable: "/bin/sh", arguments: ["-c", script])
        _ = publisher.readRemainingOutput()
        guard publisher.waitForExit() == 0 else { fail("mosquitto_pub failed") }
    }

    /// `count` lines made by `line`, in files of `linesPerRun`.
    private static func writeRuns(directory: String, name: String, count: Int, _ line: (Int) -> String) throws -> [String] {
        var paths: [String] = []
        for first in stride(from: 0, to: count, by: linesPerRun) {
            let path = "\(directory)/\(name)-\(paths.count).lines"
            var text: [UInt8] = []
            for index in first..<min(first + linesPerRun, count) {
                text += line(index).utf8
                text.append(UInt8(ascii: "\n"))
            }
            try FileIO.writeFile(path, text)
            paths.append(path)
        }
        return paths
    }

    // MARK: tributary

    /// Each round under a client id of its own, whose session the broker forgets a second after it ends:
    /// what the reference round publishes must not wait in the broker for the next round.
    private static func receiveWithTributary(_ broker: Broker, executable: String, round: Int, directory: String,
                                             runs: [String], count: Int) throws -> Double {
        let daemon = try Daemon(executable: executable, directory: directory, body: """
            [[sources]]
            type = "mqtt"
            name = "local"
            topic = "readings"
            url = "mqtt://127.0.0.1:\(broker.port)"
            client_id = "bench-ingest-\(round)"
            session_expiry = "1s"
            [[sources.subscriptions]]
            filter = "bench/#"
            sensor_field = "sensor"
            value_field = "v"
            """)
        let up = "tributary_source_up{source=\"local\",topic=\"readings\"}"
        guard daemon.waitFor(seconds: 20, { Loopback.sample($0, up) == 1 }) else { fail("the MQTT source did not connect") }
        let stopwatch = Stopwatch()
        try publish(broker, runs: runs, topic: "bench/a")
        let received = "tributary_source_readings_received_total{source=\"local\",topic=\"readings\"}"
        guard daemon.waitFor(seconds: 600, { (Loopback.sample($0, received) ?? 0) >= Double(count) }) else {
            fail("tributary did not receive every message")
        }
        let seconds = stopwatch.elapsedSeconds
        daemon.stop()
        return Double(count) / seconds
    }

    /// The round whose ratio is the median.
    private static func median(_ rounds: [(reference: Double, tributary: Double)]) -> (Double, Double) {
        let sorted = rounds.sorted { $0.tributary / $0.reference < $1.tributary / $1.reference }
        return (sorted[sorted.count / 2].reference, sorted[sorted.count / 2].tributary)
    }

    /// Runs `tributary run` on the log in `directory` with an MQTT sink named `sink` until it has forwarded `readings`.
    private static func drain(_ broker: Broker, executable: String, directory: String, sink: String, readings: Int)
        throws -> (rate: Double, seconds: Double, peakBytes: Int64) {
        let stopwatch = Stopwatch()
        let daemon = try Daemon(executable: executable, directory: directory, body: """
            [[sinks]]
            type = "mqtt"
            name = "\(sink)"
            topics = ["readings"]
            url = "mqtt://127.0.0.1:\(broker.port)"
            """)
        let forwarded = "tributary_sink_readings_forwarded_total{sink=\"\(sink)\"}"
        guard daemon.waitFor(seconds: 3600, { (Loopback.sample($0, forwarded) ?? 0) >= Double(readings) }) else {
            fail("tributary did not forward the backlog")
        }
        let seconds = stopwatch.elapsedSeconds
        let peak = daemon.peakResidentBytes()
        daemon.stop()
        return (Double(readings) / seconds, seconds, peak)
    }
}

/// Debian's mosquitto on a free port, quiet, killed when released.
private final class Broker {
    let port: Int
    private let process: ChildProcess

    init(directory: String) throws {
        port = try Loopback.freePort()
        let config = directory + "/mosquitto.conf"
        let text = """
            listener \(port) 127.0.0.1
            allow_anonymous true
            persistence false
            log_dest none
            max_queued_messages 1000000
            """
        try FileIO.writeFile(config, Array(text.utf8))
        process = try ChildProcess(executable: "/usr/sbin/mosquitto", arguments: ["-c", config])
        guard Loopback.waitForListener(port) else { fail("mosquitto did not start on port \(port)") }
    }
}
