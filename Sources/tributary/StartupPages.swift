#if canImport(Glibc)
import Glibc
#endif
import TributaryCore

/// Gives back the executable's code that starting up touched and running does not use.
///
/// Starting up (the Swift runtime's first scans of its conformance records,
/// argument parsing, reading and checking the configuration, opening the log)
/// maps about 13 MB of the statically linked executable's code, which would
/// stay counted in the daemon's resident memory for good; the idle daemon
/// touches about 7.6 MB of it again. Dropping the mapping's pages once everything
/// has started lets the kernel map back only what is used again. Only the
/// executable's read-and-execute mapping is dropped: its pages are the file's,
/// never written, so they come back as they were (from the page cache, as
/// minor faults); the relocated and writable mappings are left alone.
enum StartupPages {
    static func release() {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0, let maps = try? TextFile.read("/proc/self/maps") else { return }
        let executable = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // 5650aff2a000-5650b140d000 r-xp 00000000 fd:01 1234 /usr/bin/tributary
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "r-xp", fields[5...].joined(separator: " ") == executable else { continue }
            let bounds = fields[0].split(separator: "-").compactMap { UInt(String($0), radix: 16) }
            guard bounds.count == 2, bounds[1] > bounds[0], let start = UnsafeMutableRawPointer(bitPattern: bounds[0]) else {
                continue
            }
            _ = madvise(start, Int(bounds[1] - bounds[0]), MADV_DONTNEED)
        }
    }
}
