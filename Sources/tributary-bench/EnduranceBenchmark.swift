#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import TributaryCore
import TributaryLog

/// `tributary-bench endurance`: `tributary run` (built beside this binary) killed
/// with SIGKILL at random moments, round after round on one data directory,
/// while it ingests simulated sensors and forwards them to its stdout sink,
/// whose lines are what the sink acknowledged. After each kill the log is
/// opened read-only and checked (`EnduranceRun.round`); a last run stops
/// cleanly and everything in the log must have been delivered.
enum EnduranceBenchmark {
    static func run(rounds: Int, seed: UInt64?, json: Bool) throws {
        let seed = seed ?? UInt64.random(in: 1...UInt64.max)
        say("tributary-bench endurance: \(rounds) kill -9 rounds of tributary run, seed \(seed) (replay with --seed \(seed))")
        let run = try EnduranceRun(seed: seed)
        defer { run.remove() }
        let stopwatch = Stopwatch()
        for round in 0..<rounds {
            try run.round()
            if (round + 1) % 100 == 0 || !run.violations.isEmpty {
                say("  \(round + 1) rounds, \(Int(stopwatch.elapsedSeconds)) s: \(run.summary)")
            }
            if !run.violations.isEmpty { break }
        }
        if run.violations.isEmpty { try run.finish() }
        var report = BenchReport()
        report.add("rounds", Double(run.statistics.rounds), digits: 0)
        report.add("killed_before_delivering", Double(run.statistics.killedBeforeDelivering), digits: 0)
        report.add("lines_delivered", Double(run.statistics.lines), digits: 0)
        report.add("redelivered", Double(run.statistics.redelivered), digits: 0)
        report.add("readings_in_log", Double(run.statistics.readingsInLog), digits: 0)
        report.add("violations", Double(run.violations.count), digits: 0)
        report.add("target_met", run.violations.isEmpty)
        say("  \(run.summary); \(Int(stopwatch.elapsedSeconds)) s")
        for violation in run.violations.prefix(20) { say("  VIOLATION: \(violation)") }
        say("  lost or corrupted: \(run.violations.isEmpty ? "none (target met)" : "\(run.violations.count) violations (MISSED)")")
        if json { say(report.json) }
        if !run.violations.isEmpty { exit(1) }
    }
}

/// One data directory, killed over and over. What it holds between rounds is
/// what the test knows: per partition, how far deliveries reach (they must stay
/// contiguous from offset 0) and the last committed offset (it must never go back).
final class EnduranceRun {
    static let topic = "readings"
    static let partitions = 2
    static let consumer = "out"
    static let device = "endurance"

    let directory: String
    let executable: String
    private let config: String
    private let metricsPort: Int
    private var random: Xorshift64
    /// Per partition: every offset below this has been delivered at least once.
    private var deliveredEnd = [Int64](repeating: 0, count: EnduranceRun.partitions)
    private var committed = [Int64](repeating: 0, count: EnduranceRun.partitions)
    private(set) var violations: [String] = []
    private(set) var statistics = (rounds: 0, killedBeforeDelivering: 0, lines: 0, redelivered: 0, readingsInLog: Int64(0))

    var logDirectory: String { directory + "/log" }

    var summary: String {
        "\(statistics.rounds) kills (\(statistics.killedBeforeDelivering) before any delivery), "
            + "\(statistics.lines) lines delivered (\(statistics.redelivered) again after a kill), "
            + "\(deliveredEnd.reduce(0, +)) readings delivered, \(violations.count) violations"
    }

    init(seed: UInt64, executable: String = FileIO.besideThisExecutable("tributary")) throws {
        self.executable = executable
        random = Xorshift64(seed: seed)
        directory = try FileIO.makeTemporaryDirectory(prefix: "tributary-endurance-")
        metricsPort = try Loopback.freePort()
        config = directory + "/tributary.toml"
        // Small segments, so kills land in rolls too; an fsync every 100 ms.
        try FileIO.writeFile(config, Array("""
            [device]
            id = "\(Self.device)"
            [log]
            directory = "\(logDirectory)"
            segment_size = "256KiB"
            fsync = "interval"
            fsync_interval = "100ms"
            disk_budget = "4GiB"
            [topics.readings]
            partitions = \(Self.partitions)
            [[sources]]
            type = "sim"
            name = "sim"
            topic = "\(Self.topic)"
            sensors = 8
            rate = 200
            [[sinks]]
            type = "stdout"
            name = "\(Self.consumer)"
            topics = ["\(Self.topic)"]
            commit_interval = "200ms"
            [metrics]
            listen = "127.0.0.1:\(metricsPort)"
            """.utf8))
    }

    func remove() { FileIO.removeTree(directory) }

    /// Starts the daemon, lets it run 20 ms to 1.5 s, reads the durable offsets
    /// it reports, kills it with SIGKILL and checks what it left.
    func round() throws {
        let child = try start()
        var lines = child.readLines(for: random.integer(in: 20...1500))
        // What the log acknowledged (made durable), as the daemon reports it just before the kill.
        let durable = Loopback.get(port: metricsPort, path: "/metrics").map { metrics in
            (0..<Self.partitions).map { partition in
                Int64(Loopback.sample(metrics, "tributary_log_durable_offset{topic=\"\(Self.topic)\",partition=\"\(partition)\"}") ?? 0)
            }
        }
        child.send(SIGKILL)
        lines += child.readRemainingOutput()
        child.waitForExit()
        statistics.rounds += 1
        if lines.isEmpty { statistics.killedBeforeDelivering += 1 }
        try check(lines, durableBeforeKill: durable, killed: true)
    }

    /// A last run, stopped with SIGTERM after a second: it forwards everything
    /// durable before it exits, so every reading in the log has been delivered.
    func finish() throws {
        let child = try start()
        var lines = child.readLines(for: 1000)
        child.send(SIGTERM)
        lines += child.readRemainingOutput()
        let status = child.waitForExit()
        if status != 0 { violations.append("the last run exited with status \(status) after SIGTERM") }
        try check(lines, durableBeforeKill: nil, killed: false)
        let log = try Log.open(LogConfiguration(directory: logDirectory), readOnly: true)
        for (p, partition) in (log.partitions(of: Self.topic) ?? []).enumerated() {
            statistics.readingsInLog += partition.endOffset
            if deliveredEnd[p] != partition.endOffset {
                violations.append("partition \(p): \(partition.endOffset) readings in the log, \(deliveredEnd[p]) delivered")
            }
        }
        let report = try log.verify()
        violations += report.problems.map { "verify: \($0)" }
    }

    private func start() throws -> ChildProcess {
        try ChildProcess(executable: executable, arguments: ["run", "--config", config, "--log-level", "error"])
    }

    /// After a run: every line is a reading of the log, byte for byte as the log
    /// holds it; each partition's lines go on from at most where deliveries had
    /// reached, without a gap; the committed offset never goes back nor past
    /// what was delivered; the log holds at least what it had acknowledged.
    private func check(_ lines: [String], durableBeforeKill durable: [Int64]?, killed: Bool) throws {
        let log = try Log.open(LogConfiguration(directory: logDirectory), readOnly: true)
        let partitions = log.partitions(of: Self.topic) ?? []
        var byPartition = [[(offset: Int64, line: String)]](repeating: [], count: Self.partitions)
        for (i, line) in lines.enumerated() {
            guard let (partition, offset) = Self.position(of: line), (0..<Self.partitions).contains(partition) else {
                // A kill can cut the last line short.
                if !(killed && i == lines.count - 1) { violations.append("round \(statistics.rounds): not a reading line: \(line)") }
                continue
            }
            byPartition[partition].append((offset, line))
        }
        statistics.lines += lines.count
        for p in 0..<Self.partitions {
            let delivered = byPartition[p]
            guard p < partitions.count else {
                if !delivered.isEmpty { violations.append("partition \(p): lines delivered but no partition in the log") }
                continue
            }
            let partition = partitions[p]
            if let durable, partition.durableOffset < durable[p] {
                violations.append("round \(statistics.rounds): partition \(p) ends at \(partition.durableOffset), "
                                  + "\(durable[p]) were acknowledged durable")
            }
            if let first = delivered.first {
                if first.offset > deliveredEnd[p] {
                    violations.append("round \(statistics.rounds): partition \(p) delivered \(first.offset) after \(deliveredEnd[p] - 1): a gap")
                }
                if first.offset != committed[p] {
                    violations.append("round \(statistics.rounds): partition \(p) resumed at \(first.offset), committed \(committed[p])")
                }
                for (previous, next) in zip(delivered, delivered.dropFirst()) where next.offset != previous.offset + 1 {
                    violations.append("round \(statistics.rounds): partition \(p) delivered \(next.offset) after \(previous.offset)")
                }
                statistics.redelivered += Int(max(0, min(deliveredEnd[p], delivered.last!.offset + 1) - first.offset))
                try compare(delivered, with: partition, p)
                deliveredEnd[p] = max(deliveredEnd[p], delivered.last!.offset + 1)
            }
            let commit = partition.committedOffset(for: Self.consumer) ?? 0
            if commit < committed[p] {
                violations.append("round \(statistics.rounds): partition \(p) committed offset went back from \(committed[p]) to \(commit)")
            }
            if commit > deliveredEnd[p] {
                violations.append("round \(statistics.rounds): partition \(p) committed \(commit), only \(deliveredEnd[p]) delivered")
            }
            committed[p] = max(committed[p], commit)
        }
    }

    /// Each delivered line is the log's reading at its offset, written as the stdout sink writes it.
    private func compare(_ delivered: [(offset: Int64, line: String)], with partition: Partition, _ p: Int) throws {
        let reader = partition.reader(from: delivered[0].offset)
        var expected: [Int64: [UInt8]] = [:]
        while expected.count < delivered.count {
            let batch = try reader.next()
            if batch.isEmpty { break }
            for stored in batch {
                var line: [UInt8] = []
                ReadingJSON.writeLine(stored, partition: p, to: &line, origin: (device: Self.device, topic: Self.topic))
                expected[stored.offset] = Array(line.dropLast())
            }
        }
        for (offset, line) in delivered where expected[offset] != Array(line.utf8) {
            violations.append("round \(statistics.rounds): partition \(p) offset \(offset) delivered as \(line), "
                              + "the log holds \(expected[offset].map { String(decoding: $0, as: UTF8.self) } ?? "nothing")")
        }
    }

    /// The partition and offset a line names; nil if it is not a reading line.
    private static func position(of line: String) -> (Int, Int64)? {
        guard case let .object(fields)? = try? JSONParser.parse(Array(line.utf8)) else { return nil }
        var partition: Int?
        var offset: Int64?
        for (key, value) in fields {
            guard case let .number(text) = value else { continue }
            if key == "partition" { partition = Int(text) }
            if key == "offset" { offset = Int64(text) }
        }
        guard let partition, let offset else { return nil }
        return (partition, offset)
    }
}
