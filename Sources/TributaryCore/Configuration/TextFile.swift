#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads small text files (the configuration, secrets, /etc/machine-id)
/// whole, and replaces a plug-in's small state files.
public enum TextFile {
    /// Why a file could not be read or written, in words for an error message.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The file's contents as UTF-8 (invalid bytes replaced).
    /// - Throws: `Failure` with strerror's words, or when the file is larger than `limit`.
    public static func read(_ path: String, limit: Int = 1 << 20) throws(Failure) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(description: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(description: String(cString: strerror(errno)))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= limit else { throw Failure(description: "larger than \(limit) bytes") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Replaces the file at `path` with `text` as one step (a temporary file
    /// synced and renamed over it), creating its directory if need be.
    /// - Throws: `Failure` with strerror's words.
    public static func replace(_ path: String, with text: String) throws(Failure) {
        func failure(_ operation: String) -> Failure {
            Failure(description: "\(operation): \(String(cString: strerror(errno)))")
        }
        if let slash = path.lastIndex(of: "/") {
            let directory = String(path[..<slash])
            guard mkdir(directory, 0o755) == 0 || errno == EEXIST else { throw failure("mkdir \(directory)") }
        }
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure("open \(temporary)") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let synced = written == bytes.count && fsync(descriptor) == 0
        close(descriptor)
        guard synced else { throw failure("write \(temporary)") }
        guard rename(temporary, path) == 0 else { throw failure("rename \(temporary)") }
    }
}

/// Reads secrets (passwords, keys) kept in their own files, so the main
/// configuration can be world-readable while the secret is not.
public enum SecretFile {
    /// The secret in the file at `path`, without its trailing newline (`\n` or `\r\n`).
    /// - Throws: an error whose description says why the file could not be read.
    public static func read(_ path: String) throws -> String {
        var text = try TextFile.read(path, limit: 64 << 10)
        // "\r\n" is one Character in Swift: removeLast takes it whole.
        if text.hasSuffix("\r\n") || text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
