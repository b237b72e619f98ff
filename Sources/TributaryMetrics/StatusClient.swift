import FoundationEssentials
import NIOCore
import NIOHTTP1
import NIOPosix
import TributaryCore

#if canImport(Glibc)
import Glibc
#endif

/// Asks a running daemon for its `/status`, as `tributary status` does.
public enum StatusClient {
    /// Fetches and decodes `http://host:port/status`, giving up after `timeout`.
    /// - Throws: `MetricsError.noDaemon` when nothing answers, `.badResponse`
    ///   when something other than a tributary daemon does.
    public static func fetch(host: String, port: Int, timeout: Duration = .seconds(5)) async throws
        -> PipelineSnapshot {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let snapshot = try await fetch(on: group, host: host, port: port, timeout: timeout)
            try? await group.shutdownGracefully()
            return snapshot
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func fetch(on group: MultiThreadedEventLoopGroup, host: String, port: Int,
                              timeout: Duration) async throws -> PipelineSnapshot {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let connection: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            connection = try await ClientBootstrap(group: group)
                .connectTimeout(.milliseconds(Int64(timeout.components.seconds * 1000)))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                            wrappingChannelSynchronously: channel)
                    }
                }
        } catch let error as NIOConnectionError {
            let reason = error.connectionErrors.first.map { failure -> String in
                (failure.error as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "\(failure.error)"
            }
            throw MetricsError.noDaemon(address: address, reason: reason ?? "\(error)")
        } catch {
            throw MetricsError.noDaemon(address: address, reason: "\(error)")
        }
        let (status, body) = try await withThrowingTaskGroup(of: (HTTPResponseStatus, [UInt8])?.self) { tasks in
            tasks.addTask { try await exchange(connection, host: address) }
            tasks.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { tasks.cancelAll() }
            guard let result = try await tasks.next(), let answer = result else {
                throw MetricsError.badResponse(address: address, reason: "no answer within \(timeout)")
            }
            return answer
        }
        guard status == .ok else {
            throw MetricsError.badResponse(address: address, reason: "HTTP \(status.code) for /status")
        }
        do {
            return try JSONDecoder().decode(PipelineSnapshot.self, from: Data(body))
        } catch {
            throw MetricsError.badResponse(address: address, reason: "not a tributary status: \(error)")
        }
    }

    private static func exchange(_ connection: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>,
                                 host: String) async throws -> (HTTPResponseStatus, [UInt8]) {
        try await connection.executeThenClose { responses, requests in
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: host)
            headers.add(name: "Connection", value: "close")
            try await requests.write(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/status",
                                                           headers: headers)))
            try await requests.write(.end(nil))
            var status = HTTPResponseStatus.ok
            var body: [UInt8] = []
            for try await part in responses {
                switch part {
                case let .head(head): status = head.status
                case let .body(buffer): body += buffer.readableBytesView
                case .end: return (status, body)
                }
            }
            throw MetricsError.badResponse(address: host, reason: "the connection closed mid-answer")
        }
    }
}
