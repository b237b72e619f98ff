#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Loop devices, ext4 and mounts for the benchmarks that measure what reaches
/// a block device (flash, power-cut). Needs root and util-linux, e2fsprogs
/// and, for device-mapper, dmsetup.
enum BlockDevices {
    /// The path of a system tool, looked up on $PATH and in the sbin directories.
    static func tool(_ name: String) -> String {
        guard let path = ChildProcess.find(name) ?? ["/usr/sbin/" + name, "/sbin/" + name].first(where: { access($0, X_OK) == 0 })
        else { fail("\(name) is not installed") }
        return path
    }

    /// A system tool that exited with a failure.
    struct ToolFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs a system tool; throws, naming `what`, unless it exits 0.
    static func run(_ name: String, _ arguments: [String], _ what: @autoclosure () -> String) throws {
        guard try ChildProcess.run(tool(name), arguments) == 0 else {
            throw ToolFailure(description: "\(what()) failed: \(name) \(arguments.joined(separator: " "))")
        }
    }

    /// A new sparse file of `bytes` at `path`, to attach as a disk.
    static func createImage(_ path: String, bytes: Int) throws {
        let fd = try FileIO.createForWriting(path)
        defer { close(fd) }
        try FileIO.check(Int(ftruncate(fd, off_t(bytes))), "ftruncate", path)
    }

    /// Attaches `image` (a file) to a free loop device and returns the device's path.
    static func attachLoop(_ image: String) throws -> String {
        let attach = try ChildProcess(executable: tool("losetup"), arguments: ["--find", "--show", image])
        guard let device = attach.readRemainingOutput().first, attach.waitForExit() == 0 else { fail("losetup failed on \(image)") }
        return device
    }

    static func detachLoop(_ device: String) {
        _ = try? ChildProcess.run(tool("losetup"), ["--detach", device])
    }

    /// A fresh ext4 on `device` with inode tables and journal written now
    /// (no lazy initialisation writing later) and no discard at mkfs;
    /// mke2fs picks the block size unless `blockSize` says.
    static func makeExt4(_ device: String, blockSize: Int? = nil) throws {
        try run("mkfs.ext4", ["-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard"]
                    + (blockSize.map { ["-b", String($0)] } ?? []) + [device], "mkfs.ext4 on \(device)")
    }

    static func mount(_ device: String, at mountPoint: String, options: String? = nil) throws {
        try run("mount", (options.map { ["-o", $0] } ?? []) + [device, mountPoint], "mounting \(device)")
    }

    static func unmount(_ mountPoint: String) {
        _ = try? ChildProcess.run(tool("umount"), [mountPoint])
    }
}
