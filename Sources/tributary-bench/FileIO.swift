#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The few file operations the benchmark needs beyond the log's own API: a
/// scratch directory, file sizes, and plain reads and writes for the raw
/// write ceiling. Failures are fatal: a benchmark that cannot touch its own
/// temporary files has nothing to report.
enum FileIO {
    struct Failure: Error, CustomStringConvertible {
        var operation: String
        var path: String
        var code: Int32
        var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
    }

    static func check(_ result: Int, _ operation: String, _ path: String) throws {
        if result < 0 { throw Failure(operation: operation, path: path, code: errno) }
    }

    /// A new empty directory under $TMPDIR (or /tmp).
    static func makeTemporaryDirectory(prefix: String) throws -> String {
        var base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        if base.isEmpty { base = "/tmp" }
        var template = Array((base + "/" + prefix + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let made else { throw Failure(operation: "mkdtemp", path: base, code: errno) }
        return String(cString: made)
    }

    /// Deletes `path` and everything under it (no symlinks are followed).
    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? list(path)) ?? [] { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    /// Names in `directory`, without "." and "..", sorted.
    static func list(_ directory: String) throws -> [String] {
        guard let dir = opendir(directory) else { throw Failure(operation: "opendir", path: directory, code: errno) }
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

    /// Every regular file under `directory`, recursively, sorted by path.
    static func files(under directory: String) throws -> [String] {
        var result: [String] = []
        for name in try list(directory) {
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                result += try files(under: path)
            } else if (info.st_mode & S_IFMT) == S_IFREG {
                result.append(path)
            }
        }
        return result
    }

    static func size(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }

    static func readSmallFile(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        try check(Int(fd), "open", path)
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            try check(n, "read", path)
            if n == 0 { break }
            bytes += buffer[..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func openForReading(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        try check(Int(fd), "open", path)
        return fd
    }

    static func createForWriting(_ path: String) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try check(Int(fd), "open", path)
        return fd
    }

    /// Creates (or truncates) the file at `path` holding `bytes`.
    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let fd = try createForWriting(path)
        defer { close(fd) }
        try bytes.withUnsafeBytes { try writeAll(fd, $0, path: path) }
    }

    /// The path of `name` beside this executable, as `swift build` puts them; exits if it is not there.
    static func besideThisExecutable(_ name: String) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let own = length > 0 ? String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        let path = own.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            + "/" + name
        guard access(path, X_OK) == 0 else {
            fail("no \(name) executable at \(path); build it first: swift build -c release")
        }
        return path
    }

    /// Reads up to `buffer.count` bytes at `offset`; fewer only at the end of the file.
    static func readFully(_ fd: Int32, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer,
                     path: String) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            try check(n, "pread", path)
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// write() until every byte is written (the plain write path of the raw ceiling).
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            try check(n, "write", path)
            done += n
        }
    }

    static func dataSync(_ fd: Int32, path: String) throws {
        while fdatasync(fd) != 0 {
            if errno == EINTR { continue }
            throw Failure(operation: "fdatasync", path: path, code: errno)
        }
    }

    /// Writes dirty pages of `path` back and drops it from the page cache, so
    /// the next read comes from the disk (a cold start after power-up).
    static func evictFromPageCache(_ path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        // Dirty pages cannot be dropped; the writer was killed, not synced.
        fdatasync(fd)
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
    }
}
