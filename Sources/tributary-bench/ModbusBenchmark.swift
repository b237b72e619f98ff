#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import TributaryCore
import TributaryHardware
import TributaryLog

/// `tributary-bench modbus`: whether polling keeps its schedule. 10 slaves of
/// 10 registers each, polled every second on one line:
///
/// - simulated: the source's `PollSchedule` over 10 minutes of simulated
///   time, each poll taking what its frames take at 9600 baud, with every
///   slave answering and with one that stopped answering (a timeout each
///   second);
/// - real: `tributary run` polling pymodbus's slaves over socat's
///   pseudo-terminal pair for `seconds`, the poll times read back from the log.
///
/// A poll's lateness is its start minus (first poll + n x interval); drift
/// is how much later the last minute's polls are than the first minute's.
enum ModbusBenchmark {
    static let slaves = 10
    static let registers = 10
    static let interval = Duration.seconds(1)
    /// No drift: the last minute's polls at most this much later than the first minute's.
    static let driftTargetMilliseconds = 5.0

    static func run(seconds: Int, json: Bool) throws {
        say("tributary-bench modbus: \(slaves) slaves x \(registers) registers every \(interval)")
        say("target: no drift (the last minute's polls within \(Format.fixed(driftTargetMilliseconds, 0)) ms of the "
            + "first minute's against start + n x interval), no poll missed")
        var report = BenchReport()
        for failing in [false, true] {
            let result = simulate(minutes: 10, failingSlave: failing)
            let label = failing ? "simulated, slave 10 not answering" : "simulated, all answering"
            say(result.line(label))
            result.add(to: &report, prefix: failing ? "simulated_failing" : "simulated")
        }
        let real = try measure(seconds: seconds)
        say(real.line("tributary run on pymodbus, \(seconds) s"))
        real.add(to: &report, prefix: "real")
        if json { say(report.json) }
    }

    /// Each device's polls: how late each was against its slot, and how many slots had none.
    struct Result {
        var latenessMilliseconds: [[Double]] = []
        var missed = 0

        /// Records a device's poll start times: a poll's slot is the device's first poll + n x interval,
        /// n rounded, so a missed slot does not shift the ones after it.
        mutating func add(_ starts: [Duration]) {
            guard let first = starts.first else { return }
            var slots = 0
            latenessMilliseconds.append(starts.map { start in
                let slot = Int(((start - first) / interval).rounded())
                slots = slot + 1
                return (start - first - interval * slot) / .milliseconds(1)
            })
            missed += slots - starts.count
        }

        var polls: Int { latenessMilliseconds.reduce(0) { $0 + $1.count } }
        var maximum: Double { latenessMilliseconds.joined().max() ?? 0 }
        /// The mean lateness of the last minute's polls minus the first minute's (or sixths, when shorter), at most.
        var drift: Double {
            let drifts = latenessMilliseconds.map { polls in
                let window = min(60, polls.count / 6)
                return mean(polls.suffix(window)) - mean(polls.prefix(window))
            }
            return drifts.max() ?? 0
        }
        var met: Bool { polls > 0 && drift <= ModbusBenchmark.driftTargetMilliseconds && missed == 0 }

        private func mean(_ values: ArraySlice<Double>) -> Double { values.reduce(0, +) / Double(max(1, values.count)) }

        func line(_ label: String) -> String {
            "\(label): drift \(Format.fixed(drift, 2)) ms, latest poll \(Format.fixed(maximum, 1)) ms after its slot, "
                + "\(Format.grouped(Int64(polls))) polls, \(missed) missed   [\(Format.verdict(met))]"
        }

        func add(to report: inout BenchReport, prefix: String) {
            report.add(prefix + "_drift_ms", drift, digits: 2)
            report.add(prefix + "_max_lateness_ms", maximum, digits: 1)
            report.add(prefix + "_polls", Double(polls), digits: 0)
            report.add(prefix + "_missed_polls", Double(missed), digits: 0)
            report.add(prefix + "_target_met", met)
        }
    }

    /// The schedule driven by a simulated clock: a poll takes its frames' time on the line
    /// (request and answer, 11 bits a character at 9600 baud, 3.5 characters of silence after each)
    /// and 5 ms for the slave to answer; a slave that does not answer takes the 500 ms timeout.
    static func simulate(minutes: Int, failingSlave: Bool) -> Result {
        let character: Duration = .nanoseconds(11 * 1_000_000_000 / 9600)
        let request: Double = 8 + 3.5
        let answer: Double = Double(5 + 2 * registers) + 3.5
        let answered: Duration = character * (request + answer) + .milliseconds(5)
        let timedOut: Duration = character * request + .milliseconds(500)
        let start = ContinuousClock.now
        var schedule = PollSchedule(intervals: Array(repeating: interval, count: slaves), start: start)
        var now = start
        var polls = Array(repeating: [Duration](), count: slaves)
        let end = start + .seconds(60 * minutes)
        while true {
            let next = schedule.next
            guard next.at < end else { break }
            now = max(now, next.at)
            polls[next.device].append(now - start)
            let fails = failingSlave && next.device == slaves - 1
            now += fails ? timedOut : answered
            schedule.polled(next.device, finishedAt: now, failed: fails)
        }
        var result = Result()
        for starts in polls { result.add(starts) }
        return result
    }

    /// `tributary run` polling pymodbus's slaves for `seconds`; each poll's time is its readings' timestamp.
    static func measure(seconds: Int) throws -> Result {
        guard let socatPath = ChildProcess.find("socat") else { fail("socat is not installed") }
        let root = try FileIO.makeTemporaryDirectory(prefix: "tributary-bench-modbus-")
        defer { FileIO.removeTree(root) }
        let bus = root + "/bus"
        let socat = try ChildProcess(executable: socatPath,
                                     arguments: ["pty,raw,echo=0,link=\(bus)", "pty,raw,echo=0,link=\(bus)-slave"])
        let stopwatch = Stopwatch()
        while access(bus + "-slave", F_OK) != 0 {
            guard stopwatch.elapsedSeconds < 10 else { fail("socat made no pseudo-terminals") }
            usleep(10_000)
        }
        let simulator = String(#filePath.dropLast("Sources/tributary-bench/ModbusBenchmark.swift".count))
            + "hardware/simulators/modbus-slave.py"
        let slave = try ChildProcess(executable: "/usr/bin/python3",
                                     arguments: [simulator, bus + "-slave", "--slaves"] + (1...slaves).map(String.init))
        let devices = (1...slaves).map { id in
            """
            [[sources.devices]]
            name = "slave\(id)"
            slave = \(id)
            interval = "1s"
            """ + (0..<registers).map { "\n[[sources.devices.registers]]\nname = \"r\($0)\"\naddress = \($0)" }.joined()
        }.joined(separator: "\n")
        let daemon = try Daemon(executable: FileIO.besideThisExecutable("tributary"), directory: root + "/daemon", body: """
            [[sources]]
            type = "modbus"
            name = "plant"
            topic = "readings"
            device = "\(bus)"
            \(devices)
            """)
        let received = "tributary_source_readings_received_total{source=\"plant\",topic=\"readings\"}"
        guard daemon.waitFor(seconds: 30, { (Loopback.sample($0, received) ?? 0) > 0 }) else {
            fail("tributary read nothing from the Modbus slaves")
        }
        sleep(UInt32(seconds))
        daemon.stop()
        withExtendedLifetime((socat, slave)) {}
        let log = try Log.open(LogConfiguration(directory: root + "/daemon/log"), readOnly: true)
        defer { try? log.close() }
        var timestamps: [String: Set<Int64>] = [:]
        for partition in log.partitions(of: "readings") ?? [] {
            let reader = partition.reader(from: 0)
            while case let batch = try reader.next(), !batch.isEmpty {
                for stored in batch {
                    let device = stored.reading.sensor.split(separator: ".")[1]
                    timestamps["\(device)", default: []].insert(stored.reading.timestamp)
                }
            }
        }
        var result = Result()
        // The first seconds are not the schedule's: slots were missed while pymodbus started.
        let settled = (timestamps.values.compactMap { $0.min() }.min() ?? 0) + 5000
        for id in 1...slaves {
            result.add((timestamps["slave\(id)"] ?? []).filter { $0 >= settled }.sorted().map { .milliseconds($0) })
        }
        return result
    }
}
