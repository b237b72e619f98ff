#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `tributary-bench idle`: the resident memory and CPU time of a running
/// `tributary run` (the binary beside this one) with little or nothing to do,
/// read from the daemon's own /proc counters over a measured interval.
enum IdleBenchmark {
    static let targetRSSMB = 12.0
    static let targetCPUPercent = 1.0

    struct Case {
        var name: String
        var sensors: Int
        var rate: Double
    }

    static let cases = [
        Case(name: "idle (4 sensors, one round at start, then nothing)", sensors: 4, rate: 0.001),
        Case(name: "quiet box (4 sensors at 1 reading/s each)", sensors: 4, rate: 1),
    ]

    static func run(seconds: Int, json: Bool) throws {
        let executable = FileIO.besideThisExecutable("tributary")
        let root = try FileIO.makeTemporaryDirectory(prefix: "tributary-bench-idle-")
        defer { FileIO.removeTree(root) }
        say("tributary-bench idle: \(executable) run, measured over \(seconds) s after a 3 s start; "
            + "data in \(root), removed at the end")
        say("targets: RSS < \(targetRSSMB) MB, CPU < \(targetCPUPercent)% (utime + stime of /proc/PID/stat)")
        var report = BenchReport()
        for (index, test) in cases.enumerated() {
            let measured = try measure(test, executable: executable, directory: "\(root)/\(index)", seconds: seconds)
            let met = measured.rssMB < targetRSSMB && measured.cpuPercent < targetCPUPercent
            say("\(test.name): RSS \(Format.fixed(measured.rssMB, 1)) MB (peak \(Format.fixed(measured.peakMB, 1)); "
                + "\(Format.fixed(measured.anonymousMB, 1)) MB anonymous, \(Format.fixed(measured.fileMB, 1)) MB pages of "
                + "the executable and libraries), CPU \(Format.fixed(measured.cpuPercent, 3))%, "
                + "\(measured.threads) threads   [\(Format.verdict(met))]")
            let key = index == 0 ? "idle" : "quiet"
            report.add("\(key)_rss_mb", measured.rssMB, digits: 1)
            report.add("\(key)_peak_rss_mb", measured.peakMB, digits: 1)
            report.add("\(key)_rss_anonymous_mb", measured.anonymousMB, digits: 1)
            report.add("\(key)_rss_file_mb", measured.fileMB, digits: 1)
            report.add("\(key)_cpu_percent", measured.cpuPercent, digits: 3)
            report.add("\(key)_target_met", met)
        }
        if json { say(report.json) }
    }

    private struct Measured {
        var rssMB: Double
        var peakMB: Double
        /// RssAnon: the heap and stacks, what the daemon itself allocated.
        var anonymousMB: Double
        /// RssFile: mapped pages of the executable and shared libraries.
        var fileMB: Double
        var cpuPercent: Double
        var threads: Int
    }

    private static func measure(_ test: Case, executable: String, directory: String, seconds: Int) throws
        -> Measured {
        let daemon = try Daemon(executable: executable, directory: directory, diskBudget: "256MiB", body: """
            [[sources]]
            type = "sim"
            topic = "readings"
            sensors = \(test.sensors)
            rate = \(test.rate)
            [[sinks]]
            type = "stdout"
            topics = ["readings"]
            """)
        sleep(3)
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let before = daemon.cpuTicks()
        let stopwatch = Stopwatch()
        sleep(UInt32(seconds))
        let after = daemon.cpuTicks()
        let elapsed = stopwatch.elapsedSeconds
        let megabytes = { (field: String) in Double(daemon.status(field)) * 1024 / 1e6 }
        let measured = Measured(rssMB: megabytes("VmRSS:"), peakMB: megabytes("VmHWM:"),
                                anonymousMB: megabytes("RssAnon:"), fileMB: megabytes("RssFile:"),
                                cpuPercent: Double(after - before) / ticks / elapsed * 100,
                                threads: Int(daemon.status("Threads:")))
        daemon.stop()
        return measured
    }
}
