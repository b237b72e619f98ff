import Logging
import ServiceLifecycle
import TributaryLog

/// The whole data path of one daemon, assembled from its configuration:
/// sources -> router -> partition writers -> log -> forwarders -> sinks,
/// with retention running beside them.
///
/// `services` are the long-running parts, in start order, for one
/// `ServiceGroup`; shutting down in reverse order stops the sources first,
/// then drains the writers into the log (fsync), then lets every forwarder
/// finish its delivery and commit, all at once. `close` then leaves the log
/// clean.
public final class Pipeline: Sendable {
    public let deviceID: String
    public let log: Log
    /// Per topic, its partitions' writers in partition order.
    public let writers: [String: [PartitionWriter]]
    private let sources: [(source: any Source, output: SourceOutput)]
    public let forwarders: [Forwarder]
    private let retentionInterval: Duration
    /// Per partition directory: the durable offset when the pipeline started.
    private let initialDurable: [String: Int64]
    private let started = ContinuousClock.now
    private let logger: Logger

    /// Opens (and recovers) the log, which creates the configured topics,
    /// makes every configured source and sink through its plug-in, and
    /// registers every sink as a consumer.
    public convenience init(configuration: TributaryConfiguration, context: PluginContext) throws {
        try self.init(configuration: configuration,
                      sources: try configuration.sources.map { (try $0.makeSource(context: context), $0) },
                      sinks: try configuration.sinks.map { (try $0.makeSink(context: context), $0) },
                      logger: context.logger)
    }

    /// Opens (and recovers) the log, which creates the configured topics, and
    /// registers every sink as a consumer; no thread starts before `services` run.
    /// - Parameters:
    ///   - sources: each configured source with the `Source` that runs it.
    ///   - sinks: each configured sink with the `Sink` that delivers for it.
    public init(configuration: TributaryConfiguration, sources: [(Source, SourceConfiguration)],
                sinks: [(Sink, SinkConfiguration)], logger: Logger) throws {
        self.deviceID = configuration.deviceID
        self.logger = logger
        self.retentionInterval = .milliseconds(configuration.log.retentionCheckMilliseconds)
        let log = try Log.open(configuration.logConfiguration())
        self.log = log
        var writers: [String: [PartitionWriter]] = [:]
        var initialDurable: [String: Int64] = [:]
        do {
            for name in configuration.topics.keys.sorted() {
                let partitions = try Self.partitions(of: name, in: log)
                writers[name] = partitions.map { PartitionWriter(partition: $0, logger: logger) }
                for partition in partitions { initialDurable[partition.directory] = partition.durableOffset }
            }
            let router = Router(writers: writers)
            self.sources = sources.map { source, settings in
                (source, SourceOutput(source: source.name, topic: settings.topic,
                                      deadLetterTopic: settings.deadLetterTopic, router: router, logger: logger))
            }
            self.forwarders = try sinks.map { sink, settings in
                try Forwarder(sink: sink, deviceID: configuration.deviceID,
                              partitions: try settings.topics.flatMap { try Self.partitions(of: $0, in: log) },
                              limits: settings.limits, backfillRate: settings.backfillRate,
                              commitInterval: .milliseconds(settings.commitMilliseconds), logger: logger)
            }
        } catch {
            try? log.close()
            throw error
        }
        self.writers = writers
        self.initialDurable = initialDurable
    }

    /// A configured topic's partitions; `Log.open` created the topic if it was new.
    private static func partitions(of topic: String, in log: Log) throws -> [Partition] {
        guard let partitions = log.partitions(of: topic), !partitions.isEmpty else {
            throw PipelineError.unknownTopic(topic)
        }
        return partitions
    }

    /// The long-running parts in start order: forwarders, retention, the writers, the sources.
    public var services: [any Service] {
        [ForwardersService(forwarders: forwarders),
         RetentionService(log: log, interval: retentionInterval, logger: logger),
         WritersService(writers: writers.values.flatMap { $0 })]
            + sources.map { SourceService(source: $0.source, output: $0.output, logger: logger) }
    }

    /// Syncs and closes the log. Call after the services have stopped.
    public func close() throws {
        try log.close()
    }

    /// What the pipeline has done and where it stands, now. Reads what the
    /// partitions publish: never waits for a writer's fdatasync.
    public func snapshot() -> PipelineSnapshot {
        let topics = writers.keys.sorted().map { topic in
            TopicStatus(name: topic, partitions: (writers[topic] ?? []).map { writer in
                let partition = writer.partition
                let view = partition.view
                let statistics = view.statistics
                return PartitionStatus(
                    id: partition.id, startOffset: view.startOffset, durableOffset: view.durableOffset,
                    stored: view.durableOffset - (initialDurable[partition.directory] ?? 0),
                    dropped: statistics.droppedUnconsumedReadings + statistics.rejectedReadings
                        + statistics.failedReadings,
                    deletedSegments: statistics.deletedSegments,
                    queueDepth: writer.backlog, diskBytes: view.diskBytes)
            })
        }
        return PipelineSnapshot(
            deviceID: deviceID, timestamp: SystemClock.wallMilliseconds(),
            uptimeSeconds: (ContinuousClock.now - started).seconds,
            sources: sources.map(\.output.status),
            topics: topics, sinks: forwarders.map(\.status),
            disk: DiskStatus(usedBytes: log.diskBytes, budgetBytes: log.configuration.diskBudget))
    }
}

/// Runs one source until graceful shutdown; a source that fails or ends is
/// logged and the rest of the daemon goes on.
struct SourceService: Service {
    let source: any Source
    let output: SourceOutput
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { [source, output] in try await source.run(output: output) }
            if !Task.isShuttingDownGracefully { output.reportError("stopped") }
        } catch is CancellationError {
            return
        } catch {
            guard !Task.isShuttingDownGracefully else { return }
            output.reportError("stopped: \(error)")
            logger.error("source stopped", metadata: ["source": "\(source.name)", "error": "\(error)"])
        }
        // Stay in the group until the daemon stops: a service returning early would stop the others.
        try? await gracefulShutdown()
    }
}

/// Starts the partition writers' threads, keeps them until graceful
/// shutdown, then drains their queues into the log, syncs and ends them.
struct WritersService: Service {
    let writers: [PartitionWriter]

    func run() async throws {
        do {
            for writer in writers { try writer.start() }
        } catch {
            // The daemon cannot run without all its writers: end the ones started, refuse the rest.
            await stop()
            throw error
        }
        try? await gracefulShutdown()
        await stop()
    }

    private func stop() async {
        await withTaskGroup(of: Void.self) { group in
            for writer in writers { group.addTask { await writer.stop() } }
        }
    }
}

/// Runs every sink's forwarder side by side, so that on graceful shutdown
/// they all drain at once, inside the one stop bound.
struct ForwardersService: Service {
    let forwarders: [Forwarder]

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for forwarder in forwarders { group.addTask { try await forwarder.run() } }
            try await group.waitForAll()
        }
        // With no sinks there is nothing to run; a service returning early would stop the others.
        try? await gracefulShutdown()
    }
}
