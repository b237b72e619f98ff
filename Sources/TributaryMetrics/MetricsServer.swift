import FoundationEssentials
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import TributaryCore

/// Serves the pipeline's state over HTTP: Prometheus text on `GET /metrics`,
/// the `PipelineSnapshot` as JSON on `GET /status`, 404 for anything else.
///
/// `bind` opens the socket at once, so an address in use fails the daemon's
/// start with a clear error instead of a silent missing endpoint. `run`
/// serves until graceful shutdown. One event-loop thread, asleep while
/// nobody asks. Every response closes its connection; a connection that has
/// not been answered within 10 s is closed.
public final class MetricsServer: Service, Sendable {
    /// Where it listens, as bound (port 0 becomes the port the system chose).
    public let address: SocketAddress
    private let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let group: MultiThreadedEventLoopGroup
    private let exporter: PrometheusExporter
    private let snapshot: @Sendable () -> PipelineSnapshot
    private let logger: Logger
    /// A client gets this long to send its request and read the answer, so
    /// idle connections cannot pile up or hold up the daemon's stop.
    private let connectionTimeout: Duration

    private init(channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>,
                 group: MultiThreadedEventLoopGroup, connectionTimeout: Duration,
                 snapshot: @escaping @Sendable () -> PipelineSnapshot, logger: Logger) throws {
        guard let address = channel.channel.localAddress else { throw MetricsError.noLocalAddress }
        self.address = address
        self.channel = channel
        self.group = group
        self.exporter = PrometheusExporter()
        self.connectionTimeout = connectionTimeout
        self.snapshot = snapshot
        self.logger = logger
    }

    /// Listens on `host:port` (port 0: one the system picks, see `address`).
    /// - Parameter connectionTimeout: how long a connection may take to be answered.
    /// - Throws: `MetricsError.cannotListen` naming the address (in use, not local, ...).
    public static func bind(host: String, port: Int, connectionTimeout: Duration = .seconds(10), logger: Logger,
                            snapshot: @escaping @Sendable () -> PipelineSnapshot) async throws -> MetricsServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 16)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port) { child in
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.configureHTTPServerPipeline()
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                            wrappingChannelSynchronously: child)
                    }
                }
            return try MetricsServer(channel: channel, group: group, connectionTimeout: connectionTimeout,
                                     snapshot: snapshot, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw MetricsError.cannotListen(host: host, port: port, reason: "\(error)")
        }
    }

    public func run() async throws {
        do {
            try await withThrowingDiscardingTaskGroup { tasks in
                try await channel.executeThenClose { connections in
                    for try await connection in connections.cancelOnGracefulShutdown() {
                        tasks.addTask { await self.serve(connection) }
                    }
                }
            }
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try? await group.shutdownGracefully()
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        await withTaskGroup(of: Void.self) { race in
            race.addTask { await self.answer(connection) }
            race.addTask { try? await Task.sleep(for: self.connectionTimeout) }
            await race.next()
            race.cancelAll()
        }
    }

    private func answer(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        do {
            try await connection.executeThenClose { requests, responses in
                var head: HTTPRequestHead?
                for try await part in requests {
                    switch part {
                    case let .head(request): head = request
                    case .body: continue
                    case .end:
                        guard let head else { return }
                        let (status, type, body) = respond(to: head)
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: type)
                        headers.add(name: "Content-Length", value: "\(body.count)")
                        headers.add(name: "Connection", value: "close")
                        try await responses.write(.head(HTTPResponseHead(version: head.version, status: status,
                                                                          headers: headers)))
                        if head.method != .HEAD {
                            try await responses.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                        }
                        try await responses.write(.end(nil))
                        return
                    }
                }
            }
        } catch {
            logger.debug("metrics connection failed", metadata: ["error": "\(error)"])
        }
    }

    private func respond(to request: HTTPRequestHead) -> (HTTPResponseStatus, String, [UInt8]) {
        guard request.method == .GET || request.method == .HEAD else {
            return (.methodNotAllowed, "text/plain; charset=utf-8", Array("only GET and HEAD\n".utf8))
        }
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        switch path {
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", exporter.render(snapshot()))
        case "/status":
            do {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                return (.ok, "application/json", Array(try encoder.encode(snapshot())) + [UInt8(ascii: "\n")])
            } catch {
                return (.internalServerError, "text/plain; charset=utf-8", Array("\(error)\n".utf8))
            }
        default:
            return (.notFound, "text/plain; charset=utf-8", Array("not found; try /metrics or /status\n".utf8))
        }
    }
}

/// Errors of the metrics endpoint and its client.
public enum MetricsError: Error, CustomStringConvertible {
    case cannotListen(host: String, port: Int, reason: String)
    case noLocalAddress
    /// Nothing answered at the address: no daemon running, or another port.
    case noDaemon(address: String, reason: String)
    case badResponse(address: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotListen(host, port, reason):
            return "cannot serve metrics on \(host):\(port) (\(reason)); is another tributary running? "
                + "Choose another address ([metrics] listen; --listen for the demo) or turn metrics off"
        case .noLocalAddress:
            return "the metrics socket has no local address"
        case let .noDaemon(address, reason):
            return "no tributary daemon answers at \(address) (\(reason)). Is it running? "
                + "Try: systemctl status tributary"
        case let .badResponse(address, reason):
            return "unexpected answer from \(address): \(reason)"
        }
    }
}
