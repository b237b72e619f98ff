#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import TributaryLog

/// `tributary-bench power-cut`: power cuts at the block layer, in the manner
/// of xfstests' dm-log-writes tests and CrashMonkey.
///
/// Record, for each fsync policy, inside ../shared/tools/hwsim.sh (Debian's
/// kernel under qemu, which has the dm-log-writes target): a fresh ext4
/// (data=ordered, the default) on a log-writes mapping, `crash-writer`
/// appending to it, paced, and after each acknowledgement that advanced a
/// mark in the block log naming the partition and durable offset. The
/// block log then holds every write, flush and FUA the kernel issued, in
/// completion order, with the acknowledgements in their places.
///
/// Replay, on this machine: the writes are applied to an image of the disk
/// as it was before, in order; at every flush or FUA (a crash point: what a
/// power cut at that moment leaves on the medium) a copy of the image is
/// mounted (ext4 replays its journal), the log is opened (recovery) and
/// checked against every acknowledgement marked before that point
/// (CrashLogCheck), `tributary log verify` must pass and `tributary run`
/// must start. At a random quarter of the points a second state is checked
/// too: the image plus a random subset of the writes that completed before
/// the next flush (a disk cache that kept some of them).
enum PowerCutBenchmark {
    static let diskBytes = 32 << 20
    static let logDeviceBytes = 512 << 20
    static let modes = ["every-batch", "interval"]

    static func run(appends: Int, seed: UInt64, hwsim: String, json: Bool) throws {
        guard geteuid() == 0 else { fail("power-cut needs root (loop devices, mount, the VM)") }
        signal(SIGPIPE, SIG_IGN)
        let executable = FileIO.besideThisExecutable("tributary")
        let root = try FileIO.makeTemporaryDirectory(prefix: "tributary-power-cut-")
        defer { FileIO.removeTree(root) }
        say("tributary-bench power-cut: \(appends) paced appends per fsync policy recorded with dm-log-writes in "
            + "\(hwsim) (ext4, data=ordered), replayed here to every flush and FUA; seed \(seed)")
        var report = BenchReport()
        var total = Outcome()
        for mode in modes {
            let scratch = root + "/" + mode
            try FileIO.check(Int(mkdir(scratch, 0o755)), "mkdir", scratch)
            let stopwatch = Stopwatch()
            let recorder = try ChildProcess(executable: hwsim, arguments: [
                "--modules", "loop dm-log-writes", "--mem", "2048", "--timeout", "3600", "--scratch", scratch, "--",
                FileIO.besideThisExecutable("tributary-bench"), "power-cut-record", "--fsync", mode,
                // An interval syncs once per several appends: 4 times the appends give about as many syncs.
                "--appends", String(mode == "interval" ? 4 * appends : appends), "--seed", String(seed), "--out", scratch])
            for line in recorder.readRemainingOutput() { say("  [vm] " + line) }
            guard recorder.waitForExit() == 0 else { fail("recording \(mode) in the VM failed") }
            let recorded = stopwatch.elapsedSeconds
            let outcome = try replay(directory: scratch, mode: mode, seed: seed, executable: executable, root: root)
            say("  fsync \(mode): \(outcome.points) crash points (\(outcome.flushPoints) at flushes, \(outcome.subsetPoints) "
                + "with a random subset of the unflushed writes), \(outcome.acknowledged) readings acknowledged at the end; "
                + "\(outcome.violations.count) violations; recovery cut \(outcome.truncatedTails) torn tails, skipped "
                + "\(outcome.damagedRanges) damaged ranges, moved \(outcome.quarantinedFiles) files aside; "
                + "recorded in \(Format.fixed(recorded, 0)) s, replayed in \(Format.fixed(stopwatch.elapsedSeconds - recorded, 0)) s")
            for violation in outcome.violations.prefix(20) { say("    VIOLATION " + violation) }
            report.add("\(mode)_crash_points", Double(outcome.points), digits: 0)
            report.add("\(mode)_violations", Double(outcome.violations.count), digits: 0)
            total.add(outcome)
        }
        say("  total: \(total.points) crash points checked, \(total.violations.count) violations "
            + "(acknowledged readings lost, corrupt readings served, refusals to open, verify or daemon failures)")
        report.add("crash_points", Double(total.points), digits: 0)
        report.add("violations", Double(total.violations.count), digits: 0)
        if json { say(report.json) }
        if !total.violations.isEmpty {
            FileIO.removeTree(root)
            exit(1)
        }
    }

    struct Outcome {
        var flushPoints = 0
        var subsetPoints = 0
        var points: Int { flushPoints + subsetPoints }
        var acknowledged: Int64 = 0
        var violations: [String] = []
        var truncatedTails = 0
        var damagedRanges = 0
        var quarantinedFiles = 0

        mutating func add(_ other: Outcome) {
            flushPoints += other.flushPoints
            subsetPoints += other.subsetPoints
            acknowledged += other.acknowledged
            violations += other.violations
            truncatedTails += other.truncatedTails
            damagedRanges += other.damagedRanges
            quarantinedFiles += other.quarantinedFiles
        }
    }

    // MARK: Record (inside the VM)

    /// `power-cut-record`: run by `run` inside the VM as root; leaves the block log in `out`/writes.log.
    static func record(fsync: String, appends: Int, seed: UInt64, out: String) throws {
        signal(SIGPIPE, SIG_IGN)
        let work = try FileIO.makeTemporaryDirectory(prefix: "power-cut-")
        let (dataImage, logImage, mountPoint) = (work + "/data.img", work + "/log.img", work + "/mnt")
        try FileIO.check(Int(mkdir(mountPoint, 0o755)), "mkdir", mountPoint)
        try BlockDevices.createImage(dataImage, bytes: diskBytes)
        try BlockDevices.createImage(logImage, bytes: logDeviceBytes)
        let (data, blockLog) = (try BlockDevices.attachLoop(dataImage), try BlockDevices.attachLoop(logImage))
        let name = "tributary-power-cut"
        try BlockDevices.run("dmsetup", ["create", name, "--table", "0 \(diskBytes / 512) log-writes \(data) \(blockLog)"],
                             "creating the log-writes mapping")
        try BlockDevices.run("dmsetup", ["mknodes"], "dmsetup mknodes")
        let device = "/dev/mapper/" + name
        try BlockDevices.makeExt4(device)
        try BlockDevices.mount(device, at: mountPoint)
        try mark(name, "start")
        let writer = try ChildProcess(executable: FileIO.besideThisExecutable("tributary-bench"), arguments: [
            "crash-writer", "--data", mountPoint + "/log", "--seed", String(seed), "--content-seed", String(seed),
            "--fsync", fsync, "--paced"], withInput: true)
        guard writer.readLine(timeoutMilliseconds: 120_000)?.hasPrefix("open ") == true else { fail("crash-writer did not open its log") }
        // Marks only what advanced: with an interval, most appends acknowledge nothing new.
        var marked = [Int64](repeating: 0, count: CrashWorkload.partitions)
        for _ in 0..<appends {
            guard let line = writer.readLine(timeoutMilliseconds: 120_000), case let words = line.split(separator: " "),
                  words.count == 3, words[0] == "ack", let partition = Int(words[1]), let offset = Int64(words[2]),
                  marked.indices.contains(partition) else {
                fail("crash-writer stopped acknowledging")
            }
            if offset > marked[partition] {
                try mark(name, "ack:\(partition):\(offset)")
                marked[partition] = offset
            }
            writer.writeLine("")
        }
        writer.send(SIGKILL)
        writer.waitForExit()
        BlockDevices.unmount(mountPoint)
        try BlockDevices.run("dmsetup", ["remove", name], "removing the log-writes mapping")
        BlockDevices.detachLoop(data)
        BlockDevices.detachLoop(blockLog)
        let log = try WriteLog(path: logImage)
        try copy(logImage, to: out + "/writes.log", bytes: log.usedBytes)
        say("recorded \(log.entries.count) block log entries (\(Format.grouped(log.usedBytes)) B), "
            + "\(log.entries.filter(\.isFlush).count) flushes or FUAs, \(appends) acknowledgements")
        FileIO.removeTree(work)
    }

    private static func mark(_ mapping: String, _ text: String) throws {
        try BlockDevices.run("dmsetup", ["message", mapping, "0", "mark", text], "marking the block log")
    }

    private static func copy(_ source: String, to destination: String, bytes: Int64) throws {
        let input = try FileIO.openForReading(source)
        defer { close(input) }
        let output = try FileIO.createForWriting(destination)
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var done: Int64 = 0
        while done < bytes {
            let n = try buffer.withUnsafeMutableBytes { try FileIO.readFully(input, at: done, into: $0, path: source) }
            guard n > 0 else { break }
            let keep = Int(min(Int64(n), bytes - done))
            try buffer.withUnsafeBytes { try FileIO.writeAll(output, UnsafeRawBufferPointer(rebasing: $0[..<keep]), path: destination) }
            done += Int64(keep)
        }
    }

    // MARK: Replay (here)

    private static func replay(directory: String, mode: String, seed: UInt64, executable: String, root: String) throws -> Outcome {
        let log = try WriteLog(path: directory + "/writes.log")
        let fd = try FileIO.openForReading(log.path)
        defer { close(fd) }
        let flush = CrashWriter.flushPolicies[mode]!
        // The disk as it was when recording began: zeros.
        var image = [UInt8](repeating: 0, count: diskBytes)
        var acknowledged = [Int64](repeating: 0, count: CrashWorkload.partitions)
        var random = Xorshift64(seed: CrashWorkload.mix(seed ^ 0x504F_5745_52))
        var started = false
        var outcome = Outcome()
        let checker = PointChecker(root: root, executable: executable, flush: flush, seed: seed)
        for (index, entry) in log.entries.enumerated() {
            if let mark = entry.mark {
                let words = mark.split(separator: ":")
                if mark == "start" { started = true }
                if words.count == 3, words[0] == "ack", let partition = Int(words[1]), let offset = Int64(words[2]),
                   acknowledged.indices.contains(partition) {
                    acknowledged[partition] = max(acknowledged[partition], offset)
                }
                continue
            }
            try log.apply(entry, to: &image, reading: fd)
            guard started, entry.isFlush else { continue }
            outcome.flushPoints += 1
            checker.check(image, acknowledged: acknowledged, point: "entry \(index)", into: &outcome)
            guard random.uniform() < 0.25 else { continue }
            let unflushed = log.entries[(index + 1)...].prefix { !$0.isFlush }.filter(\.isWrite)
            guard !unflushed.isEmpty else { continue }
            var torn = image
            for write in unflushed where random.uniform() < 0.5 { try log.apply(write, to: &torn, reading: fd) }
            outcome.subsetPoints += 1
            checker.check(torn, acknowledged: acknowledged, point: "entry \(index) + a subset of the next writes", into: &outcome)
        }
        outcome.acknowledged = acknowledged.reduce(0, +)
        return outcome
    }

    /// Mounts one crash state and checks it.
    private struct PointChecker {
        let root: String
        let executable: String
        let flush: FlushPolicy
        let seed: UInt64

        func check(_ image: [UInt8], acknowledged: [Int64], point: String, into outcome: inout Outcome) {
            do {
                try checkMounted(image, acknowledged: acknowledged, point: point, into: &outcome)
            } catch {
                outcome.violations.append("\(point): \(error)")
            }
        }

        private func checkMounted(_ image: [UInt8], acknowledged: [Int64], point: String, into outcome: inout Outcome) throws {
            // Thousands of 32 MiB states: in memory (/dev/shm) where there is one, not on the disk.
            let path = access("/dev/shm", W_OK) == 0 ? "/dev/shm/tributary-power-cut-\(getpid()).img" : root + "/point.img"
            defer { unlink(path) }
            let fd = try FileIO.createForWriting(path)
            try image.withUnsafeBytes { try FileIO.writeAll(fd, $0, path: path) }
            close(fd)
            let mountPoint = root + "/mnt"
            if access(mountPoint, F_OK) != 0 { try FileIO.check(Int(mkdir(mountPoint, 0o755)), "mkdir", mountPoint) }
            let device = try BlockDevices.attachLoop(path)
            defer { BlockDevices.detachLoop(device) }
            guard (try? BlockDevices.mount(device, at: mountPoint)) != nil else {
                outcome.violations.append("\(point): ext4 does not mount")
                return
            }
            defer { BlockDevices.unmount(mountPoint) }
            let logDirectory = mountPoint + "/log"
            let result = CrashLogCheck(directory: logDirectory, flush: flush, contentSeed: seed, acknowledged: acknowledged)
            outcome.violations += result.violations.map { "\(point): \($0)" }
            outcome.truncatedTails += result.truncatedTails
            outcome.damagedRanges += result.damagedRanges
            outcome.quarantinedFiles += result.quarantinedFiles
            guard access(logDirectory, F_OK) == 0 else { return }
            if try ChildProcess.run(executable, ["log", "verify", "--data", logDirectory]) != 0 {
                outcome.violations.append("\(point): tributary log verify fails after recovery")
            }
            let daemon = try Daemon(executable: executable, directory: mountPoint, diskBudget: "16MiB",
                                partitions: 1, log: "segment_size = \"1MiB\"", body: """
                [[sources]]
                type = "sim"
                topic = "readings"
                sensors = 1
                rate = 10.0
                """)
            if !daemon.waitFor(seconds: 20, { $0.contains("tributary_log_readings_stored_total") }) {
                outcome.violations.append("\(point): tributary run does not start on the recovered log")
            }
            if daemon.terminate() != 0 { outcome.violations.append("\(point): tributary run did not stop cleanly") }
        }
    }
}
