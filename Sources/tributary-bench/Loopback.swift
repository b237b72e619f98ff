#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// TCP on 127.0.0.1 for the benchmarks that run brokers and the daemon:
/// a free port, whether something listens, and an HTTP GET of the metrics.
enum Loopback {
    private static func address(_ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        return address
    }

    private static func connected(_ port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = address(port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// A port nothing listens on now (the kernel's pick for a socket bound to port 0).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try FileIO.check(Int(fd), "socket", "127.0.0.1")
        defer { close(fd) }
        var address = address(0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try FileIO.check(Int(bound), "bind", "127.0.0.1:0")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits (at most `seconds`) until something accepts connections on `port`.
    static func waitForListener(_ port: Int, seconds: Double = 10) -> Bool {
        let stopwatch = Stopwatch()
        while stopwatch.elapsedSeconds < seconds {
            if let fd = connected(port) {
                close(fd)
                return true
            }
            usleep(10_000)
        }
        return false
    }

    /// The body of `GET path` on 127.0.0.1:port, nil if nothing answers.
    static func get(port: Int, path: String) -> String? {
        guard let fd = connected(port) else { return nil }
        defer { close(fd) }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { return nil }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += chunk[..<count]
        }
        let separator = Array("\r\n\r\n".utf8)
        guard response.count >= 4,
              let end = (0...(response.count - 4)).first(where: { Array(response[$0..<$0 + 4]) == separator })
        else { return nil }
        return String(decoding: response[(end + 4)...], as: UTF8.self)
    }

    /// The sum of the samples in `metrics` whose series starts with `prefix`
    /// (a counter over its label sets, for a prefix ending in "{").
    static func sum(_ metrics: String, _ prefix: String) -> Int64 {
        metrics.split(separator: "\n").filter { $0.hasPrefix(prefix) }
            .reduce(0) { $0 + Int64(Double($1.split(separator: " ").last ?? "") ?? 0) }
    }

    /// The value of the Prometheus sample `series` (name and labels exactly as printed) in `metrics`.
    static func sample(_ metrics: String, _ series: String) -> Double? {
        for line in metrics.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }
}
