#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TributaryLog
import TributaryTestSupport

/// Mounting for tests: a small tmpfs to fill up, and read-only remounts.
enum TestMount {
    /// True when this process may mount: root with CAP_SYS_ADMIN, which a
    /// container may withhold even from root, so it is probed once.
    static let isAvailable: Bool = {
        guard geteuid() == 0 else { return false }
        var template = Array("/tmp/tributary-test-mount-probe-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { return false }
        let path = String(cString: made)
        defer { rmdir(path) }
        guard Glibc.mount("tmpfs", path, "tmpfs", 0, "size=64k") == 0 else { return false }
        umount2(path, 0)
        return true
    }()

    static func tmpfs(at path: String, bytes: Int) throws {
        guard Glibc.mount("tmpfs", path, "tmpfs", 0, "size=\(bytes)") == 0 else {
            throw TestFailure("mount tmpfs on \(path): errno \(errno)")
        }
    }

    static func remount(_ path: String, readOnly: Bool, bytes: Int) throws {
        let flags = UInt(MS_REMOUNT) | (readOnly ? UInt(MS_RDONLY) : 0)
        guard Glibc.mount("tmpfs", path, "tmpfs", flags, "size=\(bytes)") == 0 else {
            throw TestFailure("remount \(path) \(readOnly ? "ro" : "rw"): errno \(errno)")
        }
    }

    /// Mounts `path` over itself, read-only: new opens through the path fail with
    /// EROFS while descriptors opened before keep working, as when a filesystem
    /// turns read-only under a running process (the kernel refuses a plain
    /// read-only remount while files are open for writing).
    static func readOnlyBind(_ path: String) throws {
        guard Glibc.mount(path, path, nil, UInt(MS_BIND), nil) == 0 else {
            throw TestFailure("bind mount \(path): errno \(errno)")
        }
        guard Glibc.mount(nil, path, nil, UInt(MS_REMOUNT) | UInt(MS_BIND) | UInt(MS_RDONLY), nil) == 0 else {
            let code = errno
            umount2(path, Int32(MNT_DETACH))
            throw TestFailure("remount bind read-only \(path): errno \(code)")
        }
    }

    static func unmount(_ path: String) {
        if umount2(path, 0) != 0 { umount2(path, Int32(MNT_DETACH)) }
    }
}

/// Disk-full and read-only filesystems need mounts, so they run only where the
/// tests may mount (root with CAP_SYS_ADMIN, as in CI); elsewhere they are
/// reported as skipped with this reason.
@Suite("Disk full and read-only filesystems",
       .enabled(if: TestMount.isAvailable, "needs root with permission to mount a tmpfs (run the tests as root)"))
struct DiskFullTests {
    @Test("a full filesystem fails appends with .diskFull, loses nothing durable, and the log recovers",
          arguments: [true, false])
    func diskFull(preallocate: Bool) throws {
        try withTemporaryDirectory("disk-full") { directory in
            let mountPoint = directory + "/fs"
            mkdir(mountPoint, 0o755)
            try TestMount.tmpfs(at: mountPoint, bytes: 1 << 20)
            defer { TestMount.unmount(mountPoint) }
            let filler = mountPoint + "/filler"
            let spare = mountPoint + "/spare"
            try Files.write([UInt8](repeating: 1, count: 200 << 10), to: filler)
            try Files.write([UInt8](repeating: 2, count: 200 << 10), to: spare)
            var configuration = testConfiguration(mountPoint + "/log")
            configuration.preallocate = preallocate
            var acknowledged: [Reading] = []

            func fillUntilFull(_ partition: Partition) throws {
                for _ in 0..<10_000 {
                    let readings = bulkyReadings(40, first: acknowledged.count)
                    do {
                        try partition.append(readings)
                        acknowledged += readings
                    } catch let error as LogError {
                        guard case .diskFull = error else {
                            Issue.record("expected .diskFull, got \(error)")
                            return
                        }
                        #expect(partition.durableOffset == Int64(acknowledged.count))
                        return
                    }
                }
                Issue.record("the filesystem never filled up")
            }

            do {
                let log = try openLog(configuration)
                let partition = try log.topic("t", creatingWith: 1)[0]
                try fillUntilFull(partition)
                #expect(partition.statistics.failedReadings > 0)
                // Retrying, with more or with fewer readings, fails the same way or succeeds: never worse.
                for count in [40, 1] {
                    let readings = bulkyReadings(count, first: acknowledged.count)
                    do {
                        try partition.append(readings)
                        acknowledged += readings
                    } catch let error as LogError {
                        if case .diskFull = error {} else { Issue.record("retry: \(error)") }
                    }
                }
                #expect(try partition.readAll().readings.map(\.reading) == acknowledged)
                // No close: the process dies with the disk full.
            }
            do {
                // Recovery on a full disk must start, and lose nothing.
                let log = try openLog(configuration)
                let partition = try log.partition("t", 0)
                #expect(partition.endOffset == Int64(acknowledged.count))
                let (read, reader) = try partition.readAll()
                #expect(read.map(\.reading) == acknowledged)
                #expect(reader.skippedReadings == 0)
                let verification = try log.verify()
                #expect(verification.isIntact, "\(verification.problems)")
                // Space comes back: appends work again.
                try Files.remove(filler)
                let more = bulkyReadings(40, first: acknowledged.count)
                try partition.append(more)
                acknowledged += more
                try fillUntilFull(partition)
            }
            // Full again and died again; then space comes back for good.
            try Files.remove(spare)
            let log = try openLog(configuration)
            let partition = try log.partition("t", 0)
            #expect(try partition.readAll().readings.map(\.reading) == acknowledged)
            let last = bulkyReadings(40, first: acknowledged.count)
            try partition.append(last)
            acknowledged += last
            try log.close()
            let reopened = try openLog(configuration)
            #expect(try reopened.partition("t", 0).readAll().readings.map(\.reading) == acknowledged)
            #expect(try reopened.verify().isIntact)
        }
    }

    @Test("a read-only filesystem refuses a writer with .readOnly and still serves readers")
    func readOnlyFilesystem() throws {
        try withTemporaryDirectory("ro-fs") { directory in
            let mountPoint = directory + "/fs"
            mkdir(mountPoint, 0o755)
            try TestMount.tmpfs(at: mountPoint, bytes: 4 << 20)
            defer { TestMount.unmount(mountPoint) }
            let configuration = testConfiguration(mountPoint + "/log")
            let written = bulkyReadings(2000)
            do {
                let log = try openLog(configuration)
                let partition = try log.topic("t", creatingWith: 1)[0]
                try append(written, to: partition, batch: 40)
                try partition.commit(1000, for: "sink")
                try log.close()
            }
            try TestMount.remount(mountPoint, readOnly: true, bytes: 4 << 20)
            #expect(throws: LogError.readOnly(path: mountPoint + "/log/.lock")) { try openLog(configuration) }
            do {
                let inspector = try openLog(configuration, readOnly: true)
                let partition = try inspector.partition("t", 0)
                #expect(try partition.readAll().readings.map(\.reading) == written)
                #expect(partition.committedOffset(for: "sink") == 1000)
                #expect(try inspector.verify().isIntact)
            }
            try TestMount.remount(mountPoint, readOnly: false, bytes: 4 << 20)
            let log = try openLog(configuration)
            let partition = try log.partition("t", 0)
            #expect(partition.recovery.isClean, "\(partition.recovery)")
            try partition.append(bulkyReadings(10, first: 2000))
            #expect(try partition.readAll().readings.count == 2010)
            #expect(try log.verify().isIntact)
        }
    }

    @Test("a filesystem turning read-only under a running log fails appends with .readOnly, without damage")
    func filesystemTurnsReadOnly() throws {
        try withTemporaryDirectory("turns-ro") { directory in
            let configuration = testConfiguration(directory + "/log")
            var acknowledged: [Reading] = []
            do {
                let log = try openLog(configuration)
                let partition = try log.topic("t", creatingWith: 1)[0]
                try append(bulkyReadings(500), to: partition, batch: 40)
                acknowledged = bulkyReadings(500)
                try TestMount.readOnlyBind(directory + "/log/t-0")
                var failure: LogError?
                // Appends into the open segment still work; the next segment cannot be created.
                for _ in 0..<200 {
                    let readings = bulkyReadings(40, first: acknowledged.count)
                    do {
                        try partition.append(readings)
                        acknowledged += readings
                    } catch let error as LogError {
                        failure = error
                        break
                    }
                }
                if case .readOnly = failure {} else { Issue.record("expected .readOnly, got \(String(describing: failure))") }
                #expect(partition.durableOffset == Int64(acknowledged.count))
                #expect(try partition.readAll().readings.map(\.reading) == acknowledged)
                TestMount.unmount(directory + "/log/t-0")
                // Writable again: the same partition carries on.
                let more = bulkyReadings(40, first: acknowledged.count)
                try partition.append(more)
                acknowledged += more
                try log.close()
            }
            let log = try openLog(configuration)
            let partition = try log.partition("t", 0)
            #expect(partition.recovery.isClean, "\(partition.recovery)")
            #expect(try partition.readAll().readings.map(\.reading) == acknowledged)
            #expect(try log.verify().isIntact)
        }
    }
}
