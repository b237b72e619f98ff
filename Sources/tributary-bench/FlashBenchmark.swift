#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import TributaryLog

/// `tributary-bench flash`: the bytes `tributary run` (built beside this binary)
/// makes reach the block device per stored reading, file system journal
/// included, as an SD card would see them. Each case gets a fresh ext4 on a
/// loop device (inode tables and journal initialised at mkfs, so no lazy
/// initialisation writes during the run), runs the default configuration (one
/// partition, simulated sensors, the stdout sink to /dev/null, or no sink)
/// and counts the sectors written (/sys/block/loopN/stat) and journal commits
/// (/proc/fs/jbd2) over `seconds` after a 3 s start. Needs root, losetup and
/// mkfs.ext4. `mountOptions` (like "lazytime") go to mount -o.
enum FlashBenchmark {
    struct Case {
        var readingsPerSecond: Int
        var sink: Bool
        var everyBatch = false
        var label: String {
            "\(readingsPerSecond) readings/s, \(sink ? "stdout sink" : "no sink"), fsync \(everyBatch ? "every-batch" : "interval 1s")"
        }
        var key: String { "\(readingsPerSecond)_per_s_\(sink ? "sink" : "log")\(everyBatch ? "_every_batch" : "")" }
    }

    static func run(seconds: Int, mountOptions: String?, json: Bool) throws {
        guard geteuid() == 0 else { fail("flash needs root (loop devices and mount)") }
        let executable = FileIO.besideThisExecutable("tributary")
        say("tributary-bench flash: \(executable) run on a fresh ext4 loop device per case (mounted "
            + "\(mountOptions.map { "-o " + $0 } ?? "with the defaults")), \(seconds) s each; "
            + "default configuration (fsync every 1 s), 10 simulated sensors, one partition")
        var report = BenchReport()
        let cases = [10, 100, 1000].flatMap { rate in
            [Case(readingsPerSecond: rate, sink: false), Case(readingsPerSecond: rate, sink: true),
             Case(readingsPerSecond: rate, sink: true, everyBatch: true)]
        }
        for test in cases {
            let measured = try measure(test, executable: executable, seconds: seconds, mountOptions: mountOptions)
            let perReading = Double(measured.bytes) / Double(measured.readings)
            let pagesPerCommit = Double(measured.bytes) / 4096 / Double(seconds)
            say("  \(test.label): \(Format.grouped(measured.bytes)) B written for \(Format.grouped(measured.readings)) readings "
                + "(\(Format.fixed(measured.encodedPerReading, 2)) B encoded each): \(Format.fixed(perReading, 1)) B per reading, "
                + (test.everyBatch ? "" : "\(Format.fixed(pagesPerCommit, 2)) pages per 1 s group commit, ")
                + "\(measured.journalCommits) journal commits, "
                + "\(Format.fixed(Double(measured.bytes) / Double(seconds) * 86_400 / 1e6, 0)) MB a day")
            let key = test.key
            report.add("\(key)_bytes_per_reading", perReading, digits: 1)
            if !test.everyBatch { report.add("\(key)_pages_per_commit", pagesPerCommit, digits: 2) }
            report.add("\(key)_mb_per_day", Double(measured.bytes) / Double(seconds) * 86_400 / 1e6, digits: 0)
        }
        if json { say(report.json) }
    }

    struct Measured {
        var bytes: Int64
        var readings: Int64
        var encodedPerReading: Double
        var journalCommits: Int
    }

    private static func measure(_ test: Case, executable: String, seconds: Int, mountOptions: String?) throws -> Measured {
        let root = try FileIO.makeTemporaryDirectory(prefix: "tributary-flash-")
        defer { FileIO.removeTree(root) }
        let image = root + "/disk.img"
        let mountPoint = root + "/mnt"
        try FileIO.check(Int(mkdir(mountPoint, 0o755)), "mkdir", mountPoint)
        try BlockDevices.createImage(image, bytes: 512 << 20)
        let device = try BlockDevices.attachLoop(image)
        defer { BlockDevices.detachLoop(device) }
        try BlockDevices.makeExt4(device)
        try BlockDevices.mount(device, at: mountPoint, options: mountOptions)
        defer { BlockDevices.unmount(mountPoint) }
        let name = String(device.split(separator: "/").last!)
        let daemon = try Daemon(executable: executable, directory: mountPoint + "/tributary", diskBudget: "256MiB",
                                partitions: 1, log: test.everyBatch ? "fsync = \"every-batch\"" : "", body: """
            [[sources]]
            type = "sim"
            topic = "readings"
            sensors = 10
            rate = \(Double(test.readingsPerSecond) / 10)
            \(test.sink ? "[[sinks]]\ntype = \"stdout\"\ntopics = [\"readings\"]" : "")
            """)
        sleep(3)
        let (sectorsBefore, commitsBefore, storedBefore) = (try sectorsWritten(name), try journalCommits(name), stored(daemon))
        sleep(UInt32(seconds))
        let (sectorsAfter, commitsAfter, storedAfter) = (try sectorsWritten(name), try journalCommits(name), stored(daemon))
        daemon.stop()
        // The bytes of batches, without the active segment's preallocated space.
        let log = try Log.open(LogConfiguration(directory: mountPoint + "/tributary/log"), readOnly: true)
        let logBytes = (log.partitions(of: "readings") ?? []).flatMap(\.segments).reduce(Int64(0)) { $0 + $1.length }
        try log.close()
        return Measured(bytes: (sectorsAfter - sectorsBefore) * 512, readings: storedAfter - storedBefore,
                        encodedPerReading: Double(logBytes) / Double(max(1, storedAfter)),
                        journalCommits: commitsAfter - commitsBefore)
    }

    /// Sectors written to the device: the seventh field of /sys/block/NAME/stat.
    private static func sectorsWritten(_ device: String) throws -> Int64 {
        let fields = try FileIO.readSmallFile("/sys/block/\(device)/stat").split(separator: " ")
        return Int64(fields[6]) ?? 0
    }

    /// Journal commits so far: the first number of /proc/fs/jbd2/NAME-8/info.
    private static func journalCommits(_ device: String) throws -> Int {
        Int(try FileIO.readSmallFile("/proc/fs/jbd2/\(device)-8/info").split(separator: " ").first ?? "") ?? 0
    }

    /// Readings the log has stored, from the daemon's metrics.
    private static func stored(_ daemon: Daemon) -> Int64 {
        Loopback.sum(daemon.metrics() ?? "", "tributary_log_readings_stored_total{")
    }
}
