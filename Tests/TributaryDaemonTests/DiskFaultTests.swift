import Foundation
import Testing
import TributaryLog
import TributaryTestSupport
// Loop devices, ext4 and mounts, as the flash and power-cut benchmarks use them.
@testable import tributary_bench

/// Disk faults on a real kernel: only inside `../shared/tools/hwsim.sh`
/// (HWSIM=1, root, Debian's kernel with loop and device-mapper; CI runs it
/// with `--modules "loop dm-mod"`). Each test makes a small ext4 of its own.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["HWSIM"] == "1"))
struct DiskFaultTests {
    /// fsyncgate: an fdatasync that fails with EIO (the segment's blocks
    /// mapped to dm's `error` target) fails the append, and the log then cuts
    /// what it had not synced and writes the next readings over it. What is
    /// on disk afterwards, read back cold, is exactly the readings synced
    /// before and after, never the failed ones.
    @Test func aFailedFdatasyncCutsTheUnsyncedTailAndTheNextAppendRewritesIt() throws {
        let scratch = try Scratch()
        let disk = try SmallDisk(scratch: scratch, megabytes: 64, mapped: true)
        defer { disk.remove() }
        var configuration = LogConfiguration(directory: disk.mountPoint + "/log")
        configuration.flush = .everyBatch
        configuration.segmentBytes = 1 << 20
        let before = (0..<500).map { Self.reading($0) }
        let failed = (500..<800).map { Self.reading($0) }
        // Stored at offsets 500..<700, where the failed readings were written.
        let after = (800..<1000).map { Self.reading($0) }

        let log = try Log.open(configuration)
        let partition = try log.topic("t", creatingWith: 1)[0]
        try partition.append(before)
        let segment = try #require(partition.segments.last?.path)
        try disk.failWrites(to: segment)
        #expect(throws: LogError.self) { try partition.append(failed) }
        #expect(partition.durableOffset == 500)
        #expect(partition.statistics.failedReadings == 300)
        try disk.healWrites()
        // Cutting the tail dirties the page it shares with synced readings; its writeback
        // failed too (before the heal), and the kernel reports that to the next fdatasync
        // once: that append fails and is cut in turn, and the one after it succeeds.
        var failures = 0
        while true {
            do {
                try partition.append(after)
                break
            } catch {
                failures += 1
                if failures == 2 { throw error }
            }
        }
        #expect(partition.durableOffset == 700)
        #expect(partition.statistics.failedReadings == 300 + Int64(failures * after.count))
        try log.close()

        try disk.dropCaches()
        let reopened = try Log.open(configuration)
        defer { try? reopened.close() }
        let readings = try #require(reopened.partitions(of: "t")?.first).readAll().readings
        #expect(readings.map(\.offset) == Array(0..<700))
        #expect(readings.map(\.reading) == before + after, "a reading of the failed append, or a stale byte, was served")
        #expect(try reopened.verify().isIntact)
    }

    /// The disk fills (another file takes the space) while the daemon ingests
    /// and forwards at full rate: the readings it cannot store are counted as
    /// dropped, nothing it stored is lost, ingest resumes once the space comes
    /// back, and the sink delivered exactly the log.
    @Test func aFullDiskDropsAndCountsThenIngestResumesAndNothingStoredIsLost() throws {
        let scratch = try Scratch()
        // The fixture's 64 MiB disk budget is more than this disk holds: the disk fills before the budget does.
        // Small segments, so the full disk is met at the next roll, not after a 1 MiB preallocation.
        let fixture = try DaemonFixture(scratch: scratch, sensors: 20, rate: 500, segmentSize: "64KiB")
        let disk = try SmallDisk(scratch: scratch, megabytes: 48, at: fixture.dataDirectory)
        defer { disk.remove() }
        let daemon = try fixture.start(notify: nil)
        defer { daemon.process.terminate() }
        #expect(Self.waitForMetric(fixture, "tributary_log_readings_stored_total", above: 1000))

        let filler = disk.mountPoint + "/filler"
        try disk.fill(filler)
        #expect(Self.waitForMetric(fixture, "tributary_log_readings_dropped_total", above: 0, seconds: 60),
                "no drop counted with the disk full")
        let acknowledgedWhileFull = Self.durableOffsets(fixture)
        let storedWhileFull = Self.metric(fixture, "tributary_log_readings_stored_total") ?? 0
        #expect(unlink(filler) == 0)
        #expect(Self.waitForMetric(fixture, "tributary_log_readings_stored_total", above: storedWhileFull + 1000, seconds: 60),
                "ingest did not resume once space came back")
        let acknowledged = Self.durableOffsets(fixture)
        daemon.process.terminate()
        daemon.process.waitUntilExit()
        #expect(daemon.process.terminationStatus == 0, "\(daemon.stderr.suffix(2000))")
        #expect(daemon.stderr.contains("no space left"), "no error about the full disk logged")

        // Nothing acknowledged lost, offsets contiguous, and the sink (behind at this rate) delivered a prefix of the log.
        let log = try Log.open(LogConfiguration(directory: fixture.dataDirectory), readOnly: true)
        defer { try? log.close() }
        #expect(try log.verify().isIntact)
        let delivered = Self.deliveredOffsets(daemon.stdout)
        for partition in log.partitions(of: "readings") ?? [] {
            let offsets = try partition.readAll().readings.map(\.offset)
            #expect(offsets == Array(0..<partition.durableOffset), "partition \(partition.id): offsets not contiguous from 0")
            #expect(partition.durableOffset >= max(acknowledged[partition.id] ?? 0, acknowledgedWhileFull[partition.id] ?? 0),
                    "partition \(partition.id): acknowledged readings lost")
            let sent = Set(delivered[partition.id] ?? [])
            #expect(!sent.isEmpty && sent == Set(0..<Int64(sent.count)), "partition \(partition.id): the sink skipped offsets")
            #expect(sent.count <= offsets.count)
        }
    }

    /// The file system goes read-only under load (an ext4 error with
    /// errors=remount-ro): the daemon logs a clear error naming it, stays up,
    /// and keeps serving its metrics and forwarding what it had stored.
    @Test func aReadOnlyRemountIsLoggedAndTheDaemonKeepsServingWhatItHas() throws {
        let scratch = try Scratch()
        let fixture = try DaemonFixture(scratch: scratch, sensors: 10, rate: 200)
        let disk = try SmallDisk(scratch: scratch, megabytes: 48, at: fixture.dataDirectory, options: "errors=remount-ro")
        defer { disk.remove() }
        let daemon = try fixture.start(notify: nil)
        defer { daemon.process.terminate() }
        #expect(Self.waitForMetric(fixture, "tributary_log_readings_stored_total", above: 500))
        try disk.triggerError()
        #expect(daemon.wait(seconds: 30) { $0.stderr.contains("read-only") }, "no read-only error logged: \(daemon.stderr.suffix(2000))")
        // Still up, still answering, and every reading it had made durable reaches the sink
        // (what it wrote but could not sync was never acknowledged, and is not forwarded).
        #expect(daemon.wait(seconds: 60) { process in
            let durable = Self.durableOffsets(fixture)
            let delivered = Self.deliveredOffsets(process.stdout)
            return durable.count == 2 && durable.allSatisfy { partition, end in
                end > 0 && Set(delivered[partition] ?? []).isSuperset(of: 0..<end)
            }
        }, "the sink stopped forwarding what the log holds: durable \(Self.durableOffsets(fixture)), delivered \(Self.deliveredOffsets(daemon.stdout).mapValues { Set($0).count }); \(daemon.stderr.suffix(3000))")
        #expect(daemon.process.isRunning)
    }

    // MARK: Helpers

    private static func reading(_ i: Int) -> Reading {
        Reading(sensor: "s\(i % 7)", timestamp: 1_767_225_600_000 + Int64(i), value: .double(Double(i) / 4))
    }

    /// Sum over partitions of a `readings` topic counter from the daemon's metrics.
    private static func metric(_ fixture: DaemonFixture, _ name: String) -> Double? {
        guard let body = try? LoopbackClient.get(port: fixture.port, path: "/metrics").body else { return nil }
        let values = body.split(separator: "\n").filter { $0.hasPrefix(name + "{") && $0.contains("topic=\"readings\"") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }
        return values.isEmpty ? nil : values.reduce(0, +)
    }

    /// Partition -> the durable offset of `readings` the daemon reports.
    private static func durableOffsets(_ fixture: DaemonFixture) -> [Int: Int64] {
        guard let body = try? LoopbackClient.get(port: fixture.port, path: "/metrics").body else { return [:] }
        var offsets: [Int: Int64] = [:]
        for line in body.split(separator: "\n") where line.hasPrefix("tributary_log_durable_offset{") && line.contains("topic=\"readings\"") {
            guard let label = line.split(separator: "partition=\"").dropFirst().first?.split(separator: "\"").first,
                  let partition = Int(label), let value = Double(line.split(separator: " ").last ?? "") else { continue }
            offsets[partition] = Int64(value)
        }
        return offsets
    }

    private static func waitForMetric(_ fixture: DaemonFixture, _ name: String, above: Double, seconds: Double = 60) -> Bool {
        waitUntil(seconds: seconds) { (metric(fixture, name) ?? 0) > above }
    }

    /// Partition -> offsets the stdout sink printed, in order.
    private static func deliveredOffsets(_ output: String) -> [Int: [Int64]] {
        var delivered: [Int: [Int64]] = [:]
        for line in output.split(separator: "\n") {
            guard let data = line.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let offset = (object["offset"] as? NSNumber)?.int64Value,
                  let partition = (object["partition"] as? NSNumber)?.intValue else { continue }
            delivered[partition, default: []].append(offset)
        }
        return delivered
    }
}

/// A small ext4 on a loop device over a file in the scratch directory,
/// mounted for one test; optionally through a device-mapper mapping whose
/// blocks can be switched to fail writes.
private final class SmallDisk {
    let mountPoint: String
    private let device: String
    private let loop: String
    private let mapping: String?
    private let sectors: Int

    init(scratch: Scratch, megabytes: Int, at mountPoint: String? = nil, mapped: Bool = false, options: String? = nil) throws {
        let image = scratch.path("disk.img")
        sectors = megabytes << 11
        try BlockDevices.createImage(image, bytes: megabytes << 20)
        loop = try BlockDevices.attachLoop(image)
        if mapped {
            let name = "tributary-fault-\(getpid())"
            try BlockDevices.run("dmsetup", ["create", name, "--table", "0 \(sectors) linear \(loop) 0"], "dmsetup create")
            try BlockDevices.run("dmsetup", ["mknodes"], "dmsetup mknodes")
            mapping = name
            device = "/dev/mapper/" + name
        } else {
            mapping = nil
            device = loop
        }
        try BlockDevices.makeExt4(device, blockSize: 4096)
        self.mountPoint = mountPoint ?? scratch.path("mnt")
        try FileManager.default.createDirectory(atPath: self.mountPoint, withIntermediateDirectories: true)
        try BlockDevices.mount(device, at: self.mountPoint, options: options)
    }

    /// Maps the blocks `file` occupies now (as `filefrag` reports them) to dm's `error` target.
    func failWrites(to file: String) throws {
        let report = try ChildProcess(executable: BlockDevices.tool("filefrag"), arguments: ["-v", "-b4096", file])
        var failing: [(start: Int, count: Int)] = []
        for line in report.readRemainingOutput() {
            // "   0:        0..     255:      34816..     35071:    256: ..." (4 KiB blocks)
            let fields = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 4, Int(fields[0]) != nil else { continue }
            let physical = fields[2].components(separatedBy: "..").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard physical.count == 2 else { continue }
            failing.append((physical[0] * 8, (physical[1] - physical[0] + 1) * 8))
        }
        report.waitForExit()
        #expect(!failing.isEmpty, "filefrag found no blocks for \(file)")
        var table: [String] = []
        var next = 0
        for range in failing.sorted(by: { $0.start < $1.start }) {
            if range.start > next { table.append("\(next) \(range.start - next) linear \(loop) \(next)") }
            table.append("\(range.start) \(range.count) error")
            next = range.start + range.count
        }
        if next < sectors { table.append("\(next) \(sectors - next) linear \(loop) \(next)") }
        try reload(table)
    }

    /// Maps every block straight to the loop device again.
    func healWrites() throws {
        try reload(["0 \(sectors) linear \(loop) 0"])
    }

    private func reload(_ table: [String]) throws {
        let mapping = try #require(mapping)
        let file = mountPoint + ".table"
        try table.joined(separator: "\n").appending("\n").write(toFile: file, atomically: false, encoding: .utf8)
        try BlockDevices.run("dmsetup", ["suspend", mapping], "dmsetup suspend")
        try BlockDevices.run("dmsetup", ["reload", mapping, file], "dmsetup reload")
        try BlockDevices.run("dmsetup", ["resume", mapping], "dmsetup resume")
    }

    /// Writes dirty pages back and drops the page cache, so reads come from the device.
    func dropCaches() throws {
        sync()
        try "3\n".write(toFile: "/proc/sys/vm/drop_caches", atomically: false, encoding: .utf8)
    }

    /// Takes all the free space with a file of zeros' reservation.
    func fill(_ path: String) throws {
        var stats = statvfs()
        #expect(statvfs(mountPoint, &stats) == 0)
        // f_bfree, not f_bavail: the daemon runs as root here and may use the blocks reserved for root.
        let free = Int64(stats.f_bfree) * Int64(stats.f_frsize)
        let fd = try FileIO.createForWriting(path)
        defer { close(fd) }
        // Allocate as much as fits: the daemon takes space concurrently.
        var length = free
        while length > 0, posix_fallocate(fd, 0, off_t(length)) != 0 { length -= 1 << 20 }
    }

    /// An ext4 error (the kernel's trigger_fs_error): with errors=remount-ro the file system goes read-only.
    func triggerError() throws {
        let name = String(device.split(separator: "/").last!)
        try "1\n".write(toFile: "/sys/fs/ext4/\(name)/trigger_fs_error", atomically: false, encoding: .utf8)
    }

    func remove() {
        BlockDevices.unmount(mountPoint)
        if let mapping { _ = try? ChildProcess.run(BlockDevices.tool("dmsetup"), ["remove", mapping]) }
        BlockDevices.detachLoop(loop)
    }
}
