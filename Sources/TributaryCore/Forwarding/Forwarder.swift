import Logging
import ServiceLifecycle
import Synchronization
import TributaryLog

/// Reads one sink's topics from the log ahead and keeps the sink's window
/// of deliveries full, committing the sink's offsets only over what the
/// sink acknowledged (the rules are `ForwardingWindow`'s).
///
/// Guarantees:
/// - Per partition, deliveries go out in offset order, each up to
///   `limits` (many on-disk batches); partitions take turns.
/// - Live first: a partition more than one delivery behind when the link
///   is proven (the first acknowledgement after the start or after a
///   failure) starts a backfill (`ForwardingWindow.startBackfill`): its head
///   goes on from the durable end, so new readings go out at once, and the
///   backlog behind it goes out at `backfillRate` bytes a second (readings'
///   `approximateEncodedSize`), in deliveries of at most a second's worth,
///   never taking the window's last free place while there is more than one.
/// - A failed delivery (an error, a throwing `send`, `CancellationError`
///   included) sends its partition back to the delivery's first offset;
///   sending pauses after a failure (0.5 s doubling to 10 s, reset by an
///   acknowledgement). Nothing is skipped and nothing is committed early
///   (at-least-once).
/// - Committed offsets are written at most every `commitInterval` (each
///   commit is an fdatasync), and once more on stop; a restart resumes there.
/// - Idle, it sleeps until a partition makes new readings durable or an
///   outcome arrives: no polling.
/// - Reads and commits (blocking file I/O) run on a thread the forwarder
///   starts and stops in `run`.
/// - `run` starts the sink first and stops it last. On graceful shutdown it
///   goes on delivering what is durable while the upstream takes it and
///   waits for the outcomes in flight, `drainTime` in all (a sink's `send`
///   must not hold it longer), then stops the sink (its flush may
///   acknowledge more) and commits.
public final class Forwarder: Service, Sendable {
    public let sink: any Sink
    public let deviceID: String
    public let partitions: [Partition]
    public let limits: BatchLimits
    /// Bytes a second the backlog behind live readings goes out at; nil: unlimited.
    public let backfillRate: Int64?
    public let commitInterval: Duration
    private let worker: BlockingWorker
    private let readers: ReadAheads
    private let doorbell = Doorbell()
    private let outcomes: DeliveryOutcomes
    /// Per partition: made new readings durable since the forwarder last looked.
    private let fresh: Mutex<[Bool]>
    private let logger: Logger
    private let state: Mutex<State>

    private static let firstRetryDelay: Duration = .milliseconds(500)
    private static let maximumRetryDelay: Duration = .seconds(10)
    /// On stop, how long to keep delivering what the writers made durable last.
    static let drainTime: Duration = .seconds(3)

    private struct State {
        var window: ForwardingWindow
        /// Readings per delivery in flight, to count what was forwarded.
        var sizes: [UInt64: Int] = [:]
        var forwarded: Int64 = 0
        var failures: Int64 = 0
        /// Why the last delivery failed, until one succeeds.
        var lastError: String?
        var linkUp = true
        var lastUpload: Int64?
        var stopping = false
        var draining = false
        /// Whether an acknowledgement came since the start or the last failure.
        var linkProven = false
    }

    /// The read-aheads of each partition: its head, and its backfill while
    /// it has one. Not thread-safe; only the worker's thread touches them,
    /// one job at a time.
    private final class ReadAheads: @unchecked Sendable {
        var heads: [ReadAhead]
        var backfills: [ReadAhead?]
        init(_ heads: [ReadAhead]) {
            self.heads = heads
            self.backfills = Array(repeating: nil, count: heads.count)
        }

        func reader(_ index: Int, _ cursor: ForwardingWindow.Cursor) -> ReadAhead? {
            cursor == .head ? heads[index] : backfills[index]
        }
    }

    /// Registers the sink as a consumer of each partition (so retention
    /// counts what it has not read) and positions it at its committed offsets.
    public init(sink: any Sink, deviceID: String, partitions: [Partition], limits: BatchLimits = BatchLimits(),
                backfillRate: Int64? = nil,
                commitInterval: Duration = .milliseconds(SinkConfiguration.defaultCommitMilliseconds),
                logger: Logger) throws {
        precondition(backfillRate.map { $0 > 0 } ?? true, "a backfill rate is positive")
        self.sink = sink
        self.deviceID = deviceID
        self.partitions = partitions
        self.limits = limits
        self.backfillRate = backfillRate
        self.commitInterval = commitInterval
        var logger = logger
        logger[metadataKey: "sink"] = "\(sink.name)"
        self.logger = logger
        let committed = try partitions.map { try $0.register(consumer: sink.name) }
        self.readers = ReadAheads(zip(partitions, committed).map { ReadAhead(partition: $0, from: $1) })
        self.state = Mutex(State(window: ForwardingWindow(committed: committed, window: max(1, sink.window))))
        self.fresh = Mutex(Array(repeating: true, count: partitions.count))
        self.outcomes = DeliveryOutcomes(doorbell: doorbell)
        self.worker = BlockingWorker(name: "forward-\(sink.name)")
    }

    public func run() async throws {
        try worker.start()
        defer { worker.stop() }
        try await sink.start()
        let tokens = partitions.indices.map { index in
            partitions[index].addDurableListener { [self] _ in
                fresh.withLock { $0[index] = true }
                doorbell.ring()
            }
        }
        defer { for (partition, token) in zip(partitions, tokens) { partition.removeDurableListener(token) } }
        await withGracefulShutdownHandler {
            await forward()
            state.withLock { $0.draining = false }
        } onGracefulShutdown: { [self] in
            state.withLock { state in
                state.draining = !state.stopping
                state.stopping = true
            }
            doorbell.ring()
        }
        await sink.stop()
        // Not cancelled with this task: a forced stop still records what was acknowledged.
        await Task.detached { [self] in
            _ = applyOutcomes()
            await commit()
        }.value
    }

    private func forward() async {
        let clock = ContinuousClock()
        var caughtUp = Array(repeating: false, count: partitions.count)
        // Partitions to look at for a backfill once the link is proven: all at the start and after a failure.
        var backfillArmed = Array(repeating: true, count: partitions.count)
        var pacer = backfillRate.map { BackfillPacer(bytesPerSecond: $0, now: clock.now) }
        var turn = 0
        var backfillTurn = 0
        var lastCommit = clock.now
        var pausedUntil: ContinuousClock.Instant?
        var retryDelay = Self.firstRetryDelay
        var drainDeadline: ContinuousClock.Instant?
        while !Task.isCancelled {
            let settled = applyOutcomes()
            for rewind in settled.rewinds {
                if rewind.cursor == .head { caughtUp[rewind.partition] = false }
                let readers = self.readers
                _ = try? await worker.perform { readers.reader(rewind.partition, rewind.cursor)?.rewind(to: rewind.offset) }
            }
            if settled.failed {
                pausedUntil = clock.now + retryDelay
                retryDelay = min(retryDelay * 2, Self.maximumRetryDelay)
                backfillArmed = backfillArmed.map { _ in true }
            } else if settled.acknowledged {
                retryDelay = Self.firstRetryDelay
            }
            for index in takeFresh() { caughtUp[index] = false }
            let (hasRoom, outstanding, window, stopping, linkProven) = state.withLock {
                ($0.window.hasRoom, $0.window.outstanding, $0.window.window, $0.stopping, $0.linkProven)
            }
            if stopping, drainDeadline == nil { drainDeadline = clock.now + Self.drainTime }
            if let drainDeadline {
                // Draining: deliver what is durable while the upstream takes it; no retries, no backfill.
                let done = !caughtUp.contains(false) && outstanding == 0
                if done || settled.failed || pausedUntil != nil || clock.now >= drainDeadline { return }
            }
            if clock.now - lastCommit >= commitInterval, hasUncommitted {
                await commit()
                lastCommit = clock.now
            }
            if let until = pausedUntil, clock.now >= until { pausedUntil = nil }
            if hasRoom, pausedUntil == nil {
                // Live first: heads, then backfills, each partition in turn.
                var next: (index: Int, cursor: ForwardingWindow.Cursor)?
                if let index = (0..<partitions.count).lazy.map({ (turn + $0) % self.partitions.count })
                    .first(where: { !caughtUp[$0] }) {
                    turn = index + 1
                    if linkProven, backfillArmed[index], drainDeadline == nil {
                        backfillArmed[index] = false
                        await startBackfillIfBehind(index)
                    }
                    next = (index, .head)
                } else if drainDeadline == nil, window == 1 || outstanding < window - 1,
                          pacer?.allows(at: clock.now) ?? true,
                          let index = nextBackfill(from: backfillTurn) {
                    backfillTurn = index + 1
                    next = (index, .backfill)
                }
                if let (index, cursor) = next {
                    switch await send(from: index, cursor, pacer: &pacer, now: clock.now) {
                    case .sent: break
                    case .caughtUp: if cursor == .head { caughtUp[index] = true }
                    case .readFailed:
                        // Read again from where the window stands, whatever the reader got past.
                        let readers = self.readers
                        let offset = state.withLock { cursor == .head ? $0.window.nextOffset(index) : $0.window.backfill(index)?.next }
                        if let offset { _ = try? await worker.perform { readers.reader(index, cursor)?.rewind(to: offset) } }
                        pausedUntil = clock.now + retryDelay
                    }
                    continue
                }
            }
            // Nothing to do until an outcome, new readings, a stop, or a deadline.
            var wake = drainDeadline ?? pausedUntil
            if let until = pausedUntil, let current = wake { wake = min(current, until) }
            if hasUncommitted {
                let due = lastCommit + commitInterval
                wake = wake.map { min($0, due) } ?? due
            }
            if hasRoom, pausedUntil == nil, drainDeadline == nil, let pacer, nextBackfill(from: 0) != nil {
                let due = pacer.nextAllowed
                wake = wake.map { min($0, due) } ?? due
            }
            if let wake {
                await doorbell.wait(timeout: max(.zero, clock.now.duration(to: wake)))
            } else {
                await doorbell.wait()
            }
        }
    }

    /// The next partition backfilling, taking turns from `turn`; nil when none is.
    private func nextBackfill(from turn: Int) -> Int? {
        let backfilling = state.withLock { state in partitions.indices.filter { state.window.backfill($0) != nil } }
        return backfilling.first { $0 >= turn } ?? backfilling.first
    }

    /// Starts a backfill of partition `index` if it is more than one delivery behind its durable end.
    private func startBackfillIfBehind(_ index: Int) async {
        let durable = partitions[index].view.durableOffset
        let started = state.withLock { state -> Int64? in
            let next = state.window.nextOffset(index)
            guard state.window.backfill(index) == nil, durable - next > Int64(limits.readings) else { return nil }
            state.window.startBackfill(index, at: durable)
            return next
        }
        guard let from = started else { return }
        // The head's reader, at the backlog's start, carries on as the backfill's; the head starts afresh.
        let (readers, partition) = (self.readers, partitions[index])
        _ = try? await worker.perform {
            readers.backfills[index] = readers.heads[index]
            readers.heads[index] = ReadAhead(partition: partition, from: durable)
        }
        logger.notice("backfilling behind live readings", metadata: [
            "topic": "\(partitions[index].topic)", "partition": "\(partitions[index].id)",
            "backlog": "\(durable - from)", "rate": "\(backfillRate.map { "\($0) B/s" } ?? "unlimited")",
        ])
    }

    /// The partitions that made readings durable since the last call.
    private func takeFresh() -> [Int] {
        fresh.withLock { fresh in
            let indices = fresh.indices.filter { fresh[$0] }
            for index in indices { fresh[index] = false }
            return indices
        }
    }

    private enum SendOutcome { case sent, caughtUp, readFailed }

    /// Reads the cursor's next delivery and hands it to the sink.
    private func send(from index: Int, _ cursor: ForwardingWindow.Cursor, pacer: inout BackfillPacer?,
                      now: ContinuousClock.Instant) async -> SendOutcome {
        let readers = self.readers
        var limits = self.limits
        let stop = state.withLock { cursor == .backfill ? $0.window.backfill(index)?.end : nil } ?? .max
        if cursor == .backfill, let pacer { limits.bytes = min(limits.bytes, pacer.deliveryBytes) }
        let read: (readings: [StoredReading], end: Int64)
        do {
            read = try await worker.perform { [limits] in
                guard let reader = readers.reader(index, cursor) else { return ([], 0) }
                return try reader.next(within: limits, before: stop)
            }
        } catch is CancellationError {
            return .readFailed
        } catch {
            logger.error("cannot read the log", metadata: [
                "topic": "\(partitions[index].topic)", "partition": "\(partitions[index].id)", "error": "\(error)",
            ])
            return .readFailed
        }
        enum Next: Equatable { case nothing, skipped, deliver(UInt64) }
        let next = state.withLock { state -> Next in
            let start = cursor == .head ? state.window.nextOffset(index) : state.window.backfill(index)?.next
            guard let start, read.end > start else { return .nothing }
            guard !read.readings.isEmpty else {
                state.window.skipped(index, cursor, upTo: read.end)
                return .skipped
            }
            let id = state.window.read(index, cursor, upTo: read.end)
            state.sizes[id] = read.readings.count
            return .deliver(id)
        }
        if cursor == .backfill {
            if state.withLock({ $0.window.backfill(index) == nil }) { await finishBackfill(index) }
            if next == .nothing { return .readFailed }  // the log holds less than the backfill expected
        }
        guard case let .deliver(id) = next else { return next == .nothing ? .caughtUp : .sent }
        if cursor == .backfill {
            pacer?.spend(read.readings.reduce(0) { $0 + $1.reading.approximateEncodedSize }, at: now)
        }
        let partition = partitions[index]
        let delivery = Delivery(id: id, batch: SinkBatch(deviceID: deviceID, topic: partition.topic,
                                                         partition: partition.id, readings: read.readings),
                                isBackfill: cursor == .backfill, outcomes: outcomes)
        do {
            try await sink.send(delivery)
        } catch {
            delivery.fail(error)
        }
        return .sent
    }

    /// The backfill of partition `index` met its head: its reader goes.
    private func finishBackfill(_ index: Int) async {
        let readers = self.readers
        _ = try? await worker.perform { readers.backfills[index] = nil }
        logger.notice("backfill done", metadata: [
            "topic": "\(partitions[index].topic)", "partition": "\(partitions[index].id)",
        ])
    }

    /// Applies the outcomes reported since the last call to the window.
    private func applyOutcomes() -> (rewinds: [ForwardingWindow.Rewind], acknowledged: Bool, failed: Bool) {
        let reported = outcomes.take()
        guard !reported.isEmpty else { return ([], false, false) }
        let now = SystemClock.wallMilliseconds()
        var rewinds: [ForwardingWindow.Rewind] = []
        var firstError: (any Error)?
        var acknowledged = false
        let (wasUp, isUp) = state.withLock { state in
            let wasUp = state.linkUp
            for (id, outcome) in reported {
                let size = state.sizes.removeValue(forKey: id) ?? 0
                switch outcome {
                case .acknowledged:
                    acknowledged = true
                    if state.window.delivered(id) { state.forwarded += Int64(size) }
                    state.linkUp = true
                    state.linkProven = true
                    state.lastError = nil
                    state.lastUpload = now
                case let .failed(error):
                    state.failures += 1
                    state.linkUp = false
                    state.linkProven = false
                    if !(error is CancellationError) { state.lastError = "\(error)" }
                    firstError = firstError ?? error
                    if let rewind = state.window.failed(id) { rewinds.append(rewind) }
                }
            }
            return (wasUp, state.linkUp)
        }
        if wasUp, let firstError, !(firstError is CancellationError) {
            logger.warning("delivery failed; retrying until the upstream acknowledges", metadata: [
                "error": "\(firstError)",
            ])
        } else if !wasUp, isUp {
            logger.notice("delivery works again")
        }
        // Rewinds of one cursor: the earliest offset wins.
        var earliest: [ForwardingWindow.Rewind] = []
        for rewind in rewinds {
            if let index = earliest.firstIndex(where: { $0.partition == rewind.partition && $0.cursor == rewind.cursor }) {
                earliest[index].offset = min(earliest[index].offset, rewind.offset)
            } else {
                earliest.append(rewind)
            }
        }
        return (earliest, acknowledged, firstError != nil)
    }

    /// Between the stop request and the end of the last deliveries.
    var isDraining: Bool { state.withLock { $0.draining } }

    private var hasUncommitted: Bool { state.withLock { !$0.window.commits.isEmpty } }

    /// Commits every partition's acknowledged offset that is not committed yet.
    private func commit() async {
        let commits = state.withLock { $0.window.commits }
        let partitions = self.partitions
        let name = sink.name
        for commit in commits {
            do {
                try await worker.perform { try partitions[commit.partition].commit(commit.offset, for: name) }
                state.withLock { $0.window.committed(commit.partition, offset: commit.offset) }
            } catch {
                logger.error("cannot commit the sink's offset; it will be retried", metadata: [
                    "topic": "\(partitions[commit.partition].topic)", "partition": "\(partitions[commit.partition].id)",
                    "error": "\(error)",
                ])
            }
        }
    }

    /// The sink's position, progress and link state now.
    public var status: SinkStatus {
        let views = partitions.map(\.view)
        let statistics = sink.statistics
        let problem = sink.problem
        return state.withLock { state in
            let rows = partitions.indices.map { index in
                let acknowledged = state.window.acknowledgedOffset(index)
                return SinkPartitionStatus(
                    topic: partitions[index].topic, partition: partitions[index].id,
                    acknowledgedOffset: acknowledged, committedOffset: state.window.committedOffset(index),
                    lag: max(0, views[index].durableOffset - max(acknowledged, views[index].startOffset)),
                    backfillLag: state.window.backfill(index).map { max(0, $0.end - acknowledged) } ?? 0)
            }
            return SinkStatus(name: sink.name, forwarded: state.forwarded, failures: state.failures,
                              lag: rows.reduce(0) { $0 + $1.lag }, linkUp: state.linkUp && problem == nil,
                              lastUpload: state.lastUpload, inFlight: state.window.outstanding, partitions: rows,
                              statistics: statistics, error: state.lastError ?? problem)
        }
    }
}
