#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What Linux says about this process: bytes it sent to storage and its peak
/// memory. Both come from /proc, so they count everything the process did,
/// the Swift runtime included.
enum ProcessStats {
    /// `write_bytes` of /proc/self/io: bytes this process caused to be sent to
    /// the block layer (page-cache writeback it triggered, fdatasync included),
    /// not the bytes it passed to write(). Nil where /proc is missing.
    static func writeBytes() -> Int64? {
        field("write_bytes:", in: "/proc/self/io")
    }

    /// VmHWM of /proc/self/status: the peak resident set size, in bytes.
    static func peakResidentBytes() -> Int64? {
        field("VmHWM:", in: "/proc/self/status").map { $0 * 1024 }
    }

    /// The first number after `key` at the start of a line of a small /proc file.
    private static func field(_ key: String, in path: String) -> Int64? {
        guard let text = try? FileIO.readSmallFile(path) else { return nil }
        return field(key, inText: text)
    }

    /// The first number after `key` at the start of a line of `text` (a /proc file's contents).
    static func field(_ key: String, inText text: String) -> Int64? {
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            let digits = line.dropFirst(key.count).drop(while: { $0 == " " || $0 == "\t" })
                .prefix(while: { $0.isNumber })
            return Int64(digits)
        }
        return nil
    }

    /// utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
    static func cpuTicks(_ pid: pid_t) throws -> Int64 {
        let stat = try FileIO.readSmallFile("/proc/\(pid)/stat")
        // The command name (field 2) may contain spaces; count fields after its closing parenthesis.
        guard let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so field N is fields[N - 3].
        return (Int64(fields[11]) ?? 0) + (Int64(fields[12]) ?? 0)
    }
}

/// Monotonic time for measuring intervals.
struct Stopwatch {
    private let start = Stopwatch.nanoseconds()

    static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    var elapsedSeconds: Double { Double(Self.nanoseconds() - start) / 1e9 }
}
