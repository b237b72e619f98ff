import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Standard output went away (the reader of a pipe exited, as `head` does).
/// Not a failure: the command stops and exits 0.
struct OutputClosed: Error {}

/// Standard output with a buffer, so dumping millions of readings makes a
/// write(2) per 64 KiB rather than per line.
final class BufferedOutput {
    private var buffer: [UInt8] = []
    private let descriptor = FileDescriptor.standardOutput
    private static let flushThreshold = 64 << 10

    init() { buffer.reserveCapacity(Self.flushThreshold * 2) }

    /// Appends bytes with `body`; writes out once the buffer is large.
    func write(_ body: (inout [UInt8]) -> Void) throws {
        body(&buffer)
        if buffer.count >= Self.flushThreshold { try flush() }
    }

    func write(line: String) throws {
        try write { $0.append(contentsOf: line.utf8); $0.append(UInt8(ascii: "\n")) }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        defer { buffer.removeAll(keepingCapacity: true) }
        do {
            _ = try buffer.withUnsafeBytes { try descriptor.writeAll($0) }
        } catch Errno.brokenPipe {
            throw OutputClosed()
        }
    }

    /// True once the reader of a pipe on standard output has gone, found
    /// without writing (`tail` may have nothing to write for a long time).
    var isClosed: Bool {
        var watch = pollfd(fd: descriptor.rawValue, events: 0, revents: 0)
        guard poll(&watch, 1, 0) == 1 else { return false }
        return watch.revents & Int16(POLLERR | POLLHUP) != 0
    }
}

/// Writes a message line to standard error, unbuffered.
func printError(_ message: String) {
    _ = try? FileDescriptor.standardError.writeAll(Array((message + "\n").utf8))
}

/// Reads standard input line by line with memory bounded by the longest line
/// allowed; a longer line is an error, not an unbounded allocation.
struct LineReader {
    /// A line longer than `LineReader.maximumLineBytes`.
    struct LineTooLong: Error {}

    static let maximumLineBytes = 4 << 20
    private let descriptor = FileDescriptor.standardInput
    private var buffer: [UInt8] = []
    private var start = 0
    private var searched = 0
    private var atEnd = false

    /// The next line without its "\n" (and "\r" before it), or nil at the end of input.
    mutating func next() throws -> [UInt8]? {
        while true {
            if let newline = buffer[searched...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > start, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = Array(buffer[start..<end])
                start = newline + 1
                searched = start
                return line
            }
            searched = buffer.count
            if buffer.count - start > Self.maximumLineBytes { throw LineTooLong() }
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                start = buffer.count
                return line
            }
            try fill()
        }
    }

    private mutating func fill() throws {
        if start > 0 {
            buffer.removeFirst(start)
            searched -= start
            start = 0
        }
        let chunk = 64 << 10
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: chunk))
        let count = try buffer.withUnsafeMutableBytes { all in
            try descriptor.read(into: UnsafeMutableRawBufferPointer(rebasing: all[old...]))
        }
        buffer.removeLast(chunk - count)
        if count == 0 { atEnd = true }
    }
}
