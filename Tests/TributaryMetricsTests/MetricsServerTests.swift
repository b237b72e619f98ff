import Logging
import ServiceLifecycle
import Testing
import TributaryCore
import TributaryTestSupport
@testable import TributaryMetrics

@Suite("Metrics server")
struct MetricsServerTests {
    private static let snapshot = PipelineSnapshot(
        deviceID: "box", timestamp: 0, uptimeSeconds: 1, sources: [], topics: [], sinks: [],
        disk: DiskStatus(usedBytes: 0, budgetBytes: nil))

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
            let status = try await offPool {
                try LoopbackClient.exchange(port: port, request: "GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
            }
            #expect(status.hasPrefix("HTTP/1.1 200 OK"))
            #expect(status.contains("\"deviceID\":\"box\""))
            let post = try await offPool {
                try LoopbackClient.exchange(port: port, request: "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            }
            #expect(post.hasPrefix("HTTP/1.1 405"))
        }
    }

    @Test("a client that sends nothing is disconnected after the connection timeout (0.5 s here), not held open")
    func idleConnectionsAreClosed() async throws {
        try await withServer { port in
            // Throws if the connection is still open, silent, after 30 s.
            let response = try await offPool { try LoopbackClient.exchange(port: port, request: "") }
            #expect(response.isEmpty)
        }
    }
}
