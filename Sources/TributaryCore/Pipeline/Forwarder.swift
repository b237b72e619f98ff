import Logging
import ServiceLifecycle
import Synchronization
import TributaryLog

/// Reads one sink's topics from the log and delivers them to the sink, one
/// batch per partition in turn, committing the sink's offsets only for what
/// the sink acknowledged.
///
/// Guarantees:
/// - Per partition, batches go out in offset order, each only after the one
///   before it was acknowledged; a failed delivery is retried from the first
///   unacknowledged offset after a pause (0.5 s doubling to 10 s), so nothing
///   is skipped and nothing is committed early (at-least-once).
/// - Committed offsets are written at most about once a second (each commit
///   is an fdatasync), and once more on stop; a restart resumes there.
/// - Idle, it sleeps until a partition makes new readings durable: no polling.
/// - Reads and commits (blocking file I/O) run on a thread of the forwarder's own.
/// - On graceful shutdown it goes on delivering while the upstream takes
///   batches, for up to 3 s (so a clean stop with the link up leaves no
///   backlog), then commits and returns.
public final class Forwarder: Service, Sendable {
    public let sink: any Sink
    public let deviceID: String
    public let partitions: [Partition]
    private let readers: Readers
    private let worker: BlockingWorker
    private let doorbell = Doorbell()
    private let logger: Logger
    private let state: Mutex<State>

    private static let commitInterval: Duration = .seconds(1)
    private static let firstRetryDelay: Duration = .milliseconds(500)
    private static let maximumRetryDelay: Duration = .seconds(10)
    /// On stop, how long to keep delivering what the writers made durable last.
    private static let drainTime: Duration = .seconds(3)

    private struct State {
        /// Per partition: everything below is acknowledged by the sink.
        var acknowledged: [Int64]
        /// Per partition: what is committed on disk.
        var committed: [Int64]
        var forwarded: Int64 = 0
        var failures: Int64 = 0
        var linkUp = true
        var lastUpload: Int64?
        var stopping = false
    }

    /// The log readers, one per partition. They are not thread-safe; only the
    /// worker's thread touches them, one job at a time.
    private final class Readers: @unchecked Sendable {
        var readers: [PartitionReader]
        init(_ readers: [PartitionReader]) { self.readers = readers }
    }

    /// Registers the sink as a consumer of each partition (so retention
    /// counts what it has not read) and positions it at its committed offsets.
    public init(sink: any Sink, deviceID: String, partitions: [Partition], logger: Logger) throws {
        self.sink = sink
        self.deviceID = deviceID
        self.partitions = partitions
        var logger = logger
        logger[metadataKey: "sink"] = "\(sink.name)"
        self.logger = logger
        let committed = try partitions.map { try $0.register(consumer: sink.name) }
        self.readers = Readers(zip(partitions, committed).map { $0.reader(from: $1) })
        self.state = Mutex(State(acknowledged: committed, committed: committed))
        self.worker = try BlockingWorker(name: "forward-\(sink.name)")
    }

    public func run() async throws {
        let tokens = partitions.map { partition in
            partition.addDurableListener { [doorbell] _ in doorbell.ring() }
        }
        defer { for (partition, token) in zip(partitions, tokens) { partition.removeDurableListener(token) } }
        await withGracefulShutdownHandler {
            await forward()
        } onGracefulShutdown: { [self] in
            state.withLock { $0.stopping = true }
            doorbell.ring()
        }
        // Not cancelled with this task: a forced stop still records what was acknowledged.
        await Task.detached { [self] in await commit() }.value
        worker.stop()
    }

    private var isStopping: Bool { state.withLock { $0.stopping } }

    private func forward() async {
        let clock = ContinuousClock()
        var lastCommit = clock.now
        var retryDelay = Self.firstRetryDelay
        var drainDeadline: ContinuousClock.Instant?
        while !Task.isCancelled {
            if drainDeadline == nil, isStopping { drainDeadline = clock.now + Self.drainTime }
            var delivered = false
            var failed = false
            for index in partitions.indices where !failed && !Task.isCancelled {
                switch await forwardBatch(from: index) {
                case .delivered: delivered = true
                case .nothingToSend: break
                case .failed: failed = true
                }
            }
            if let drainDeadline, !delivered || failed || clock.now >= drainDeadline { return }
            if clock.now - lastCommit >= Self.commitInterval, hasUncommitted {
                await commit()
                lastCommit = clock.now
            }
            if failed {
                await doorbell.wait(timeout: retryDelay)
                retryDelay = min(retryDelay * 2, Self.maximumRetryDelay)
                continue
            }
            retryDelay = Self.firstRetryDelay
            if !delivered, drainDeadline == nil {
                // Caught up: sleep until new readings are durable (or a commit is due).
                if hasUncommitted {
                    await doorbell.wait(timeout: Self.commitInterval)
                } else {
                    await doorbell.wait()
                }
            }
        }
    }

    private enum Outcome { case delivered, nothingToSend, failed }

    private func forwardBatch(from index: Int) async -> Outcome {
        let readers = self.readers
        let readings: [StoredReading]
        do {
            readings = try await worker.perform { try readers.readers[index].next() }
        } catch is CancellationError {
            return .failed
        } catch {
            logger.error("cannot read the log", metadata: [
                "topic": "\(partitions[index].topic)", "partition": "\(partitions[index].id)", "error": "\(error)",
            ])
            return .failed
        }
        guard let last = readings.last else { return .nothingToSend }
        let partition = partitions[index]
        do {
            try await sink.deliver(SinkBatch(deviceID: deviceID, topic: partition.topic, partition: partition.id,
                                             readings: readings))
        } catch is CancellationError {
            return .failed  // a forced stop: the batch stays unacknowledged, to go out at the next start
        } catch {
            let wasUp = state.withLock { state in
                defer { state.linkUp = false; state.failures += 1 }
                return state.linkUp
            }
            if wasUp {
                logger.warning("delivery failed; retrying until the upstream acknowledges", metadata: [
                    "topic": "\(partition.topic)", "partition": "\(partition.id)", "error": "\(error)",
                ])
            }
            // Read the unacknowledged batch again next time.
            let from = state.withLock { $0.acknowledged[index] }
            _ = try? await worker.perform { readers.readers[index] = partition.reader(from: from) }
            return .failed
        }
        let now = SystemClock.wallMilliseconds()
        let recovered = state.withLock { state in
            defer {
                state.acknowledged[index] = last.offset + 1
                state.forwarded += Int64(readings.count)
                state.linkUp = true
                state.lastUpload = now
            }
            return !state.linkUp
        }
        if recovered { logger.notice("delivery works again") }
        return .delivered
    }

    private var hasUncommitted: Bool { state.withLock { $0.acknowledged != $0.committed } }

    /// Commits every partition's acknowledged offset that is not committed yet.
    private func commit() async {
        let (acknowledged, committed) = state.withLock { ($0.acknowledged, $0.committed) }
        let partitions = self.partitions
        let name = sink.name
        var done = committed
        for index in partitions.indices where acknowledged[index] != committed[index] {
            do {
                try await worker.perform { try partitions[index].commit(acknowledged[index], for: name) }
                done[index] = acknowledged[index]
            } catch {
                logger.error("cannot commit the sink's offset; it will be retried", metadata: [
                    "topic": "\(partitions[index].topic)", "partition": "\(partitions[index].id)",
                    "error": "\(error)",
                ])
            }
        }
        state.withLock { $0.committed = done }
    }

    /// The sink's position, progress and link state now.
    public var status: SinkStatus {
        let positions = partitions.map { ($0.startOffset, $0.durableOffset) }
        return state.withLock { state in
            let rows = partitions.indices.map { index in
                let (start, durable) = positions[index]
                return SinkPartitionStatus(
                    topic: partitions[index].topic, partition: partitions[index].id,
                    acknowledgedOffset: state.acknowledged[index], committedOffset: state.committed[index],
                    lag: max(0, durable - max(state.acknowledged[index], start)))
            }
            return SinkStatus(name: sink.name, forwarded: state.forwarded, failures: state.failures,
                              lag: rows.reduce(0) { $0 + $1.lag }, linkUp: state.linkUp,
                              lastUpload: state.lastUpload, partitions: rows)
        }
    }
}
