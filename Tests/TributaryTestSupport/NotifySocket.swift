#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A unix datagram socket standing in for systemd's notification socket.
public final class NotifySocket {
    public let path: String
    private let descriptor: Int32

    public init() throws {
        path = "/tmp/tributary-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw SocketFailure(call: "socket", errno: errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            precondition(bytes.count < raw.count, "socket path too long")
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            let failure = SocketFailure(call: "bind", errno: errno)
            close(descriptor)
            throw failure
        }
    }

    deinit {
        close(descriptor)
        unlink(path)
    }

    /// The next datagram, waiting at most `timeout` without blocking a thread.
    public func receive(within timeout: Duration) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let message = receiveNow() { return message }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// A datagram already queued, or nil.
    public func receiveNow() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }

    /// Throws away everything queued; returns how many datagrams that was.
    @discardableResult
    public func drain() -> Int {
        var count = 0
        while receiveNow() != nil { count += 1 }
        return count
    }
}

public struct SocketFailure: Error {
    public var call: String
    public var errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }
}
