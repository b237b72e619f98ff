#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CTributaryShims
import SystemPackage

/// The system calls swift-system does not wrap, in its style: retry EINTR,
/// throw `LogError` naming the path. Everything the engine does to the disk
/// goes through `FileDescriptor` or this file.
enum Syscalls {
    static func check(_ operation: String, _ path: String, _ body: () -> Int32) throws {
        while true {
            if body() != -1 { return }
            let code = Errno(rawValue: errno)
            if code == .interrupted { continue }
            throw LogError.from(code, operation: operation, path: path)
        }
    }

    static func open(_ path: String, _ mode: FileDescriptor.AccessMode,
                     options: FileDescriptor.OpenOptions = []) throws -> FileDescriptor {
        do {
            return try FileDescriptor.open(FilePath(path), mode, options: options.union(.closeOnExec),
                                           permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch let error as Errno {
            throw LogError.from(error, operation: "open", path: path)
        }
    }

    /// Flushes the file's data and the metadata needed to read it back.
    static func dataSync(_ fd: FileDescriptor, path: String) throws {
        try check("fdatasync", path) { fdatasync(fd.rawValue) }
    }

    static func fullSync(_ fd: FileDescriptor, path: String) throws {
        try check("fsync", path) { fsync(fd.rawValue) }
    }

    /// Makes a create, rename or unlink inside `directory` durable.
    static func syncDirectory(_ directory: String) throws {
        let fd = try open(directory, .readOnly, options: [.directory])
        defer { try? fd.close() }
        try fullSync(fd, path: directory)
    }

    /// Reserves `length` bytes so later appends need no allocation (and no
    /// file-size metadata commit) on each fdatasync. Returns false where the
    /// filesystem cannot preallocate; the file then grows as it is written.
    static func preallocate(_ fd: FileDescriptor, length: Int64, path: String) throws -> Bool {
        while true {
            if tributary_fallocate(fd.rawValue, length) == 0 { return true }
            let code = Errno(rawValue: errno)
            if code == .interrupted { continue }
            if code == .notSupported || code == .invalidArgument || code == .noFunction { return false }
            throw LogError.from(code, operation: "fallocate", path: path)
        }
    }

    static func write(_ fd: FileDescriptor, at offset: Int64, _ bytes: UnsafeRawBufferPointer,
                      path: String) throws {
        do {
            _ = try fd.writeAll(toAbsoluteOffset: offset, bytes)
        } catch let error as Errno {
            throw LogError.from(error, operation: "pwrite", path: path)
        }
    }

    /// Reads up to `buffer.count` bytes; fewer only at the end of the file.
    static func read(_ fd: FileDescriptor, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer,
                     path: String) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n: Int
            do {
                n = try fd.read(fromAbsoluteOffset: offset + Int64(done),
                                into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
            } catch let error as Errno {
                throw LogError.from(error, operation: "pread", path: path)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    static func truncate(_ fd: FileDescriptor, to size: Int64, path: String) throws {
        do { try fd.resize(to: size) } catch let error as Errno {
            throw LogError.from(error, operation: "ftruncate", path: path)
        }
    }

    /// When the file was created (ms since the epoch), where the filesystem
    /// records it (ext4, XFS, Btrfs do); nil elsewhere.
    static func creationTime(_ fd: FileDescriptor) -> Int64? {
        let milliseconds = tributary_birth_time_ms(fd.rawValue)
        return milliseconds >= 0 ? milliseconds : nil
    }

    static func fileSize(_ fd: FileDescriptor, path: String) throws -> Int64 {
        var info = stat()
        try check("fstat", path) { fstat(fd.rawValue, &info) }
        return Int64(info.st_size)
    }

    static func rename(_ from: String, _ to: String) throws {
        try check("rename", from) { Glibc.rename(from, to) }
    }

    static func unlink(_ path: String) throws {
        try check("unlink", path) { Glibc.unlink(path) }
    }

    /// Creates `path`, and its missing parents, if it does not exist. A new
    /// directory's entry lives in its parent, so the parent is fsynced:
    /// otherwise a power cut could lose a new partition directory and
    /// everything later written into it.
    static func makeDirectory(_ path: String) throws {
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        let parent = trimmed.lastIndex(of: "/").map { String(trimmed[..<$0]) } ?? "."
        while mkdir(path, 0o755) == -1 {
            let code = Errno(rawValue: errno)
            if code == .interrupted { continue }
            if code == .fileExists { return }
            if code == .noSuchFileOrDirectory, !parent.isEmpty, parent != trimmed, !exists(parent) {
                try makeDirectory(parent)
                continue
            }
            throw LogError.from(code, operation: "mkdir", path: path)
        }
        try syncDirectory(parent.isEmpty ? "/" : parent)
    }

    /// The size of the file at `path`; nil if it cannot be read.
    static func fileSize(atPath path: String) -> Int64? {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : nil
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Names in `directory`, without "." and "..", sorted.
    static func listDirectory(_ directory: String) throws -> [String] {
        guard let dir = opendir(directory) else {
            throw LogError.from(Errno(rawValue: errno), operation: "opendir", path: directory)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Takes an exclusive advisory lock on `path` (created if needed) for the
    /// life of the returned descriptor; throws `.locked` if another process has it.
    static func lockExclusively(_ path: String) throws -> FileDescriptor {
        let fd = try open(path, .readWrite, options: [.create])
        while flock(fd.rawValue, LOCK_EX | LOCK_NB) == -1 {
            let code = Errno(rawValue: errno)
            if code == .interrupted { continue }
            try? fd.close()
            if code == .wouldBlock { throw LogError.locked(path: path) }
            throw LogError.from(code, operation: "flock", path: path)
        }
        return fd
    }
}

/// The system clocks, in milliseconds.
public enum SystemClock {
    /// Milliseconds since the Unix epoch (CLOCK_REALTIME).
    public static func wallMilliseconds() -> Int64 { read(CLOCK_REALTIME) }
    /// Milliseconds since an arbitrary point, never going back (CLOCK_MONOTONIC).
    public static func monotonicMilliseconds() -> Int64 { read(CLOCK_MONOTONIC) }

    private static func read(_ clock: clockid_t) -> Int64 {
        var now = timespec()
        clock_gettime(clock, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
