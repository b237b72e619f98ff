#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `tributary-bench soak`: a day of a busy box compressed into `duration`
/// seconds. `tributary run` (built beside this binary) ingests simulated
/// sensors at `rate` readings/s into a log with small segments and a small
/// disk budget, so retention deletes segments all the time, and forwards them
/// to the stdout sink (/dev/null). Every 5 s it samples the daemon's resident
/// memory, open file descriptors and threads (/proc/PID), and the bytes the
/// log directory really takes on disk (allocated blocks) beside what the
/// daemon counts against its budget. Flat means: the last
/// quarter's resident memory at most 10 % above the second quarter's (the
/// first is warm-up), descriptors and threads never above their second-quarter
/// maximum, and the disk never above the budget.
enum SoakBenchmark {
    static let budgetBytes: Int64 = 1 << 20
    /// What a day means: a box with 10 sensors at 10 readings/s each.
    static let readingsPerDay = 100.0 * 86_400

    struct Sample {
        var residentBytes: Int64
        var descriptors: Int
        var threads: Int
        var diskBytes: Int64
        /// What the daemon counts against the budget (tributary_disk_used_bytes).
        var accountedBytes: Int64
    }

    static func run(seconds: Int, rate: Int, json: Bool) throws {
        let executable = FileIO.besideThisExecutable("tributary")
        let root = try FileIO.makeTemporaryDirectory(prefix: "tributary-bench-soak-")
        defer { FileIO.removeTree(root) }
        say("tributary-bench soak: \(executable) run for \(seconds) s at \(Format.grouped(Int64(rate))) readings/s "
            + "(20 simulated sensors), 64 KiB segments, disk budget \(budgetBytes >> 20) MiB, stdout sink to /dev/null; "
            + "sampled every 5 s; data in \(root)")
        let daemon = try Daemon(executable: executable, directory: root, diskBudget: "\(budgetBytes >> 20)MiB",
                                log: "segment_size = \"64KiB\"", body: """
            [[sources]]
            type = "sim"
            topic = "readings"
            sensors = 20
            rate = \(Double(rate) / 20)
            [[sinks]]
            type = "stdout"
            topics = ["readings"]
            """)
        guard daemon.waitFor(seconds: 30, { $0.contains("tributary_log_readings_stored_total") }) else {
            fail("tributary run did not start")
        }
        var samples: [Sample] = []
        let stopwatch = Stopwatch()
        while stopwatch.elapsedSeconds < Double(seconds) {
            sleep(5)
            let accounted = Loopback.sum(daemon.metrics() ?? "", "tributary_disk_used_bytes")
            samples.append(Sample(residentBytes: daemon.residentBytes(),
                                  descriptors: (try? FileIO.list("/proc/\(daemon.pid)/fd").count) ?? 0,
                                  threads: Int(daemon.status("Threads:")), diskBytes: (try? allocatedBytes(under: root + "/log")) ?? 0,
                                  accountedBytes: accounted))
        }
        let metrics = daemon.metrics(seconds: 10) ?? ""
        let stored = Loopback.sum(metrics, "tributary_log_readings_stored_total{")
        let deleted = Loopback.sum(metrics, "tributary_log_segments_deleted_total{")
        let forwarded = Loopback.sum(metrics, "tributary_sink_readings_forwarded_total{")
        daemon.stop()
        guard samples.count >= 8 else { fail("too few samples: run for at least 40 s") }

        let quarter = samples.count / 4
        let settled = Array(samples[quarter..<(2 * quarter)])
        let last = Array(samples[(samples.count - quarter)...])
        let averageRSS = { (part: [Sample]) in Double(part.map(\.residentBytes).reduce(0, +)) / Double(part.count) }
        let growth = averageRSS(last) / averageRSS(settled)
        let descriptorsFlat = last.map(\.descriptors).max()! <= settled.map(\.descriptors).max()!
        let threadsFlat = last.map(\.threads).max()! <= settled.map(\.threads).max()!
        let maxDisk = samples.map(\.diskBytes).max()!
        let maxAccounted = samples.map(\.accountedBytes).max()!
        let days = Double(stored) / readingsPerDay
        let megabytes = { (bytes: Double) in Format.fixed(bytes / 1e6, 2) }
        say("  \(Format.grouped(stored)) readings stored (\(Format.fixed(days * 24, 1)) hours of 10 sensors at 10 readings/s), "
            + "\(Format.grouped(forwarded)) forwarded, \(Format.grouped(deleted)) segments deleted by retention")
        let quarters = (0..<4).map { averageRSS(Array(samples[($0 * quarter)..<($0 == 3 ? samples.count : ($0 + 1) * quarter)])) }
        say("  RSS: \(megabytes(averageRSS(settled))) MB in the second quarter, \(megabytes(averageRSS(last))) MB in the last "
            + "(x\(Format.fixed(growth, 3)); at most x1.10; by quarter \(quarters.map(megabytes).joined(separator: " / ")) MB)"
            + "   [\(Format.verdict(growth <= 1.10))]")
        say("  descriptors: \(settled.map(\.descriptors).min()!)-\(settled.map(\.descriptors).max()!) then "
            + "\(last.map(\.descriptors).min()!)-\(last.map(\.descriptors).max()!)   [\(Format.verdict(descriptorsFlat))]")
        say("  threads: \(settled.map(\.threads).min()!)-\(settled.map(\.threads).max()!) then "
            + "\(last.map(\.threads).min()!)-\(last.map(\.threads).max()!)   [\(Format.verdict(threadsFlat))]")
        say("  disk: at most \(megabytes(Double(maxDisk))) MB allocated under the log (\(megabytes(Double(maxAccounted))) MB "
            + "as the daemon counts it), budget \(megabytes(Double(budgetBytes))) MB   [\(Format.verdict(maxDisk <= budgetBytes))]")
        if json {
            var report = BenchReport()
            report.add("readings_stored", Double(stored), digits: 0)
            report.add("hours_equivalent", days * 24, digits: 1)
            report.add("segments_deleted", Double(deleted), digits: 0)
            report.add("rss_settled_mb", averageRSS(settled) / 1e6, digits: 1)
            report.add("rss_last_mb", averageRSS(last) / 1e6, digits: 1)
            report.add("rss_growth", growth, digits: 3)
            report.add("descriptors_flat", descriptorsFlat)
            report.add("threads_flat", threadsFlat)
            report.add("disk_max_mb", Double(maxDisk) / 1e6, digits: 2)
            report.add("disk_accounted_max_mb", Double(maxAccounted) / 1e6, digits: 2)
            report.add("disk_within_budget", maxDisk <= budgetBytes)
            say(report.json)
        }
    }

    /// Bytes of blocks allocated to the files under `directory` (st_blocks, preallocation included).
    private static func allocatedBytes(under directory: String) throws -> Int64 {
        try FileIO.files(under: directory).reduce(0) { total, path in
            var info = stat()
            return stat(path, &info) == 0 ? total + Int64(info.st_blocks) * 512 : total
        }
    }
}
