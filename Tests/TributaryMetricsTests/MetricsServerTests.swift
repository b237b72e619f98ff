import Foundation
import Logging
import ServiceLifecycle
import Testing
import TributaryCore
@testable import TributaryMetrics

@Suite("Metrics server")
struct MetricsServerTests {
    private static let snapshot = PipelineSnapshot(
        deviceID: "box", timestamp: 0, uptimeSeconds: 1, sources: [], topics: [], sinks: [],
        disk: DiskStatus(usedBytes: 0, budgetBytes: nil))

    /// Connects to 127.0.0.1:port, sends `request`, and reads until the server closes.
    private static func exchange(port: Int, request: String) throws -> String {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { throw ConnectFailed() }
        let bytes = Array(request.utf8)
        if !bytes.isEmpty { _ = send(descriptor, bytes, bytes.count, 0) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while case let count = recv(descriptor, &buffer, buffer.count, 0), count > 0 { response += buffer[..<count] }
        return String(decoding: response, as: UTF8.self)
    }

    /// Runs blocking socket calls on a thread of their own: on the cooperative
    /// pool they could take every thread the server's tasks need.
    private static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    private struct ConnectFailed: Error {}

    private func withServer(_ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let server = try await MetricsServer.bind(host: "127.0.0.1", port: 0, connectionTimeout: .milliseconds(500),
                                                  logger: Logger(label: "test")) { Self.snapshot }
        let port = try #require(server.address.port)
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await body(port)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test("answers /status with the snapshot as JSON and anything else but GET with 405")
    func answersRequests() async throws {
        try await withServer { port in
            let status = try await Self.offPool {
                try Self.exchange(port: port, request: "GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
            }
            #expect(status.hasPrefix("HTTP/1.1 200 OK"))
            #expect(status.contains("\"deviceID\":\"box\""))
            let post = try await Self.offPool {
                try Self.exchange(port: port, request: "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            }
            #expect(post.hasPrefix("HTTP/1.1 405"))
        }
    }

    @Test("a client that sends nothing is disconnected after the connection timeout")
    func idleConnectionsAreClosed() async throws {
        try await withServer { port in
            let start = ContinuousClock.now
            let response = try await Self.offPool { try Self.exchange(port: port, request: "") }
            #expect(response.isEmpty)
            #expect(ContinuousClock.now - start < .seconds(5), "closed after about 0.5 s, not held open")
        }
    }
}
