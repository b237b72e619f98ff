import Foundation

/// The tests' own minimal TCP client on 127.0.0.1, independent of the
/// daemon's HTTP code: it sends bytes and reads until the server closes.
public enum LoopbackClient {
    /// Connects to 127.0.0.1:`port`, sends `request` (if any), and returns
    /// everything the server sent before closing the connection.
    /// - Throws: `SocketFailure` if the server keeps the connection open
    ///   without a byte for `timeoutSeconds`, so a test fails instead of hanging.
    public static func exchange(port: Int, request: String, timeoutSeconds: Int = 30) throws -> String {
        let descriptor = try connect(port: port)
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(request.utf8)
        if !bytes.isEmpty, send(descriptor, bytes, bytes.count, 0) != bytes.count {
            throw SocketFailure(call: "send", errno: errno)
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count > 0 {
                response += buffer[..<count]
            } else if count == 0 {
                break
            } else if errno != EINTR {
                throw SocketFailure(call: "recv", errno: errno)
            }
        }
        return String(decoding: response, as: UTF8.self)
    }

    /// A TCP connection to 127.0.0.1:`port`; the caller closes the descriptor.
    public static func connect(port: Int) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            let failure = SocketFailure(call: "connect", errno: errno)
            close(descriptor)
            throw failure
        }
        return descriptor
    }

    /// `GET path` with HTTP/1.0: the status code and the body.
    public static func get(port: Int, path: String) throws -> (status: Int, body: String) {
        let text = try exchange(port: port, request: "GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        guard let split = text.range(of: "\r\n\r\n"),
              let status = Int(text.split(separator: " ").dropFirst().first ?? "")
        else { throw SocketFailure(call: "parse", errno: 0) }
        return (status, String(text[split.upperBound...]))
    }
}

/// Runs blocking calls (waiting for a process, socket I/O) on a thread of
/// their own: on the cooperative pool they would hold up every other test's tasks.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

public enum FreePort {
    /// A TCP port on 127.0.0.1 that nothing listens on now.
    public static func find() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw SocketFailure(call: "bind", errno: errno) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
