#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import TributaryLog

/// The backlog the sink benchmarks drain: readings of 10 sensors in a log of its own.
enum Backlog {
    /// Reading `index` of the backlog: 10 sensors, alternating partitions as the router would not (it does not matter here).
    static func reading(_ index: Int) -> Reading {
        Reading(sensor: "s\(index % 10)", timestamp: 1_767_225_600_000 + Int64(index), value: .double(Double(index % 1000) / 10))
    }

    /// A log in `directory` whose `readings` topic holds `readings` readings over 2 partitions.
    static func fill(_ directory: String, readings: Int) throws {
        try FileIO.check(Int(mkdir(directory, 0o755)), "mkdir", directory)
        var configuration = LogConfiguration(directory: directory + "/log")
        configuration.flush = .interval(maxDelayMilliseconds: 60_000, maxBytes: 1 << 30)
        let log = try Log.open(configuration)
        let partitions = try log.topic("readings", creatingWith: 2)
        for first in stride(from: 0, to: readings, by: 20_000) {
            let group = (first..<min(first + 20_000, readings)).map(reading)
            try partitions[0].append(group.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
            try partitions[1].append(group.enumerated().filter { $0.offset % 2 == 1 }.map(\.element))
        }
        for partition in partitions { try partition.sync() }
        try log.close()
    }
}

/// `tributary run` with `[device]`, `[log]`, `[topics.readings]` and `[metrics]` set up and `body` after them.
final class Daemon {
    private let process: ChildProcess
    private let metricsPort: Int

    /// `log`: more `[log]` settings.
    init(executable: String, directory: String, diskBudget: String = "8GiB", partitions: Int = 2, log: String = "",
         body: String) throws {
        if access(directory, F_OK) != 0 { try FileIO.check(Int(mkdir(directory, 0o755)), "mkdir", directory) }
        metricsPort = try Loopback.freePort()
        let config = directory + "/tributary.toml"
        let text = """
            [device]
            id = "bench"
            [log]
            directory = "\(directory)/log"
            disk_budget = "\(diskBudget)"
            \(log)
            [topics.readings]
            partitions = \(partitions)
            [metrics]
            listen = "127.0.0.1:\(metricsPort)"
            \(body)
            """
        try FileIO.writeFile(config, Array(text.utf8))
        process = try ChildProcess(executable: "/bin/sh", arguments: ["-c", """
            exec '\(executable)' run --config '\(config)' --log-level warning > /dev/null
            """])
    }

    /// The daemon's /metrics, asked again for up to `seconds` while it does not answer; nil if it never does.
    func metrics(seconds: Double = 5) -> String? {
        var body: String?
        _ = waitFor(seconds: seconds) { metrics in
            body = metrics
            return true
        }
        return body
    }

    /// Polls the metrics every 50 ms (more often costs the daemon measurably) until `condition` holds for them;
    /// false after `seconds`.
    func waitFor(seconds: Double, _ condition: (String) -> Bool) -> Bool {
        let stopwatch = Stopwatch()
        while stopwatch.elapsedSeconds < seconds {
            if let metrics = Loopback.get(port: metricsPort, path: "/metrics"), condition(metrics) { return true }
            usleep(50_000)
        }
        return false
    }

    var pid: pid_t { process.pid }

    /// The CPU the daemon has used so far, in clock ticks.
    func cpuTicks() -> Int64 { (try? ProcessStats.cpuTicks(process.pid)) ?? 0 }

    /// The most memory the daemon has had resident (VmHWM).
    func peakResidentBytes() -> Int64 { status("VmHWM:") * 1024 }

    /// The memory the daemon has resident now (VmRSS).
    func residentBytes() -> Int64 { status("VmRSS:") * 1024 }

    /// A field of the daemon's /proc/PID/status as the kernel writes it (sizes in kB), 0 if missing.
    func status(_ name: String) -> Int64 {
        let status = (try? FileIO.readSmallFile("/proc/\(process.pid)/status")) ?? ""
        return ProcessStats.field(name, inText: status) ?? 0
    }

    func stop() {
        guard terminate() == 0 else { fail("tributary run did not stop cleanly") }
    }

    /// Stops the daemon with SIGTERM and returns its exit status.
    func terminate() -> Int32 {
        process.send(SIGTERM)
        _ = process.readRemainingOutput()
        return process.waitForExit()
    }
}
