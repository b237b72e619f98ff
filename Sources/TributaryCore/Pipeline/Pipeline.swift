import Logging
import ServiceLifecycle
import TributaryLog

/// The whole data path of one daemon, assembled from its configuration:
/// sources -> router -> partition writers -> log -> forwarders -> sinks.
///
/// `services` are the long-running parts, in start order, for one
/// `ServiceGroup`; shutting down in reverse order stops the sources first,
/// then drains the writers into the log (fsync), then lets each forwarder
/// finish its delivery and commit. `close` then leaves the log clean.
public final class Pipeline: Sendable {
    public let deviceID: String
    public let log: Log
    /// Per topic, its partitions' writers in partition order.
    public let writers: [String: [PartitionWriter]]
    private let sources: [(source: any Source, output: SourceOutput)]
    public let forwarders: [Forwarder]
    /// Per partition directory: the durable offset when the pipeline started.
    private let initialDurable: [String: Int64]
    private let started = ContinuousClock.now
    private let logger: Logger

    /// Opens (and recovers) the log, creates the configured topics, starts
    /// the writers' threads and registers every sink as a consumer.
    /// - Parameters:
    ///   - sources: each configured source made into a `Source` (the executable does this).
    ///   - sinks: each configured sink made into a `Sink`, with the topics it forwards.
    public init(configuration: TributaryConfiguration, sources: [(Source, SourceConfiguration)],
                sinks: [(Sink, SinkConfiguration)], logger: Logger) throws {
        self.deviceID = configuration.deviceID
        self.logger = logger
        let log = try Log.open(configuration.logConfiguration())
        self.log = log
        var writers: [String: [PartitionWriter]] = [:]
        var initialDurable: [String: Int64] = [:]
        do {
            for (name, topic) in configuration.topics.sorted(by: { $0.key < $1.key }) {
                let partitions = try log.topic(name, creatingWith: topic.partitions)
                writers[name] = try partitions.map { try PartitionWriter(partition: $0, logger: logger) }
                for partition in partitions { initialDurable[partition.directory] = partition.durableOffset }
            }
            let router = Router(writers: writers)
            self.sources = sources.map { source, settings in
                (source, SourceOutput(source: source.name, topic: settings.topic,
                                      deadLetterTopic: settings.deadLetterTopic, router: router, logger: logger))
            }
            self.forwarders = try sinks.map { sink, settings in
                try Forwarder(sink: sink, deviceID: configuration.deviceID,
                              partitions: settings.topics.flatMap { log.partitions(of: $0) ?? [] }, logger: logger)
            }
        } catch {
            try? log.close()
            throw error
        }
        self.writers = writers
        self.initialDurable = initialDurable
    }

    /// The long-running parts in start order: forwarders, the writers, the sources.
    public var services: [any Service] {
        forwarders + [WritersService(writers: writers.values.flatMap { $0 })]
            + sources.map { SourceService(source: $0.source, output: $0.output, logger: logger) }
    }

    /// Syncs and closes the log. Call after the services have stopped.
    public func close() throws {
        try log.close()
    }

    /// What the pipeline has done and where it stands, now.
    public func snapshot() -> PipelineSnapshot {
        let topics = writers.keys.sorted().map { topic in
            TopicStatus(name: topic, partitions: (writers[topic] ?? []).map { writer in
                let partition = writer.partition
                let statistics = partition.statistics
                let durable = partition.durableOffset
                return PartitionStatus(
                    id: partition.id, startOffset: partition.startOffset, durableOffset: durable,
                    stored: durable - (initialDurable[partition.directory] ?? 0),
                    dropped: statistics.droppedUnconsumedReadings + statistics.rejectedReadings
                        + statistics.failedReadings,
                    queueDepth: writer.backlog, diskBytes: partition.diskBytes)
            })
        }
        return PipelineSnapshot(
            deviceID: deviceID, timestamp: SystemClock.wallMilliseconds(),
            uptimeSeconds: (ContinuousClock.now - started).seconds,
            sources: sources.map {
                SourceStatus(name: $0.source.name, topic: $0.output.topic, received: $0.output.received,
                             malformed: $0.output.malformed)
            },
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
        } catch is CancellationError {
            return
        } catch {
            logger.error("source stopped", metadata: ["source": "\(source.name)", "error": "\(error)"])
        }
        // Stay in the group until the daemon stops: a service returning early would stop the others.
        try? await gracefulShutdown()
    }
}

/// Keeps the partition writers until graceful shutdown, then drains their
/// queues into the log and syncs.
struct WritersService: Service {
    let writers: [PartitionWriter]

    func run() async throws {
        try? await gracefulShutdown()
        await withTaskGroup(of: Void.self) { group in
            for writer in writers { group.addTask { await writer.stop() } }
        }
    }
}
