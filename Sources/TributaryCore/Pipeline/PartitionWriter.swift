import Dispatch
import Logging
import Synchronization
import TributaryLog

/// Appends readings to one partition from a thread of its own, so appends
/// and their fdatasyncs never block Swift's cooperative pool.
///
/// Senders hand readings over with `send`, which returns once they are queued
/// (not yet durable: a reading is acknowledged when the partition's
/// `durableOffset` passes it). The queue holds at most `capacity` readings;
/// a sender that finds it full suspends until the writer has taken what is
/// queued (backpressure), in the order the senders arrived. The writer takes
/// everything queued in one append and applies the log's flush policy,
/// waking for an `.interval` sync even when no readings arrive. Readings the
/// partition refuses (disk full, budget exhausted) are counted by the
/// partition's statistics and logged, at most once a second.
///
/// Thread-safe.
public final class PartitionWriter: Sendable {
    public let partition: Partition
    public let capacity: Int
    private let logger: Logger
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    private struct State {
        var queue: [Reading] = []
        /// Senders waiting for room, first come first served.
        var waiting: [(readings: [Reading], continuation: CheckedContinuation<Void, Error>)] = []
        var stopping = false
        var stopped = false
        var whenStopped: [CheckedContinuation<Void, Never>] = []
        var failureLog = LogRateLimit()
    }

    /// Starts the writer's thread.
    public init(partition: Partition, capacity: Int = 16_384, logger: Logger) throws {
        precondition(capacity > 0, "a writer's queue holds at least one reading")
        self.partition = partition
        self.capacity = capacity
        var logger = logger
        logger[metadataKey: "topic"] = "\(partition.topic)"
        logger[metadataKey: "partition"] = "\(partition.id)"
        self.logger = logger
        try DedicatedThread.start(name: "w-\(partition.topic)-\(partition.id)") { [self] in run() }
    }

    /// Queues `readings`, suspending while the queue is full. Throws
    /// `.writerStopped` once `stop` has been called.
    public func send(_ readings: [Reading]) async throws {
        guard !readings.isEmpty else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let accepted: Bool? = state.withLock { state in
                if state.stopping { return nil }
                // An empty queue takes any group, however large, so nothing waits forever.
                if state.waiting.isEmpty, state.queue.isEmpty || state.queue.count + readings.count <= capacity {
                    state.queue += readings
                    return true
                }
                state.waiting.append((readings, continuation))
                return false
            }
            switch accepted {
            case nil: continuation.resume(throwing: PipelineError.writerStopped(topic: partition.topic,
                                                                                 partition: partition.id))
            case true?: continuation.resume(); wake.signal()
            case false?: wake.signal()
            }
        }
    }

    /// Readings queued or waiting to be queued: the writer's backlog.
    public var backlog: Int {
        state.withLock { state in state.queue.count + state.waiting.reduce(0) { $0 + $1.readings.count } }
    }

    /// Refuses new readings, appends everything already sent, syncs, and
    /// returns once the writer's thread has finished.
    public func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                state.stopping = true
                if state.stopped { return true }
                state.whenStopped.append(continuation)
                return false
            }
            if done { continuation.resume() } else { wake.signal() }
        }
    }

    /// The writer thread's loop.
    private func run() {
        while true {
            // Sleep until readings arrive, or until an interval sync is due.
            if case let .interval(delay, _) = partition.configuration.flush,
               partition.endOffset > partition.durableOffset {
                _ = wake.wait(timeout: .now() + .milliseconds(Int(clamping: max(1, delay))))
            } else {
                wake.wait()
            }
            let (batch, admitted, stopping) = state.withLock { state in
                let batch = state.queue
                state.queue.removeAll(keepingCapacity: true)
                var admitted: [CheckedContinuation<Void, Error>] = []
                while let first = state.waiting.first,
                      state.queue.isEmpty || state.queue.count + first.readings.count <= capacity {
                    state.queue += first.readings
                    admitted.append(first.continuation)
                    state.waiting.removeFirst()
                }
                return (batch, admitted, state.stopping)
            }
            for continuation in admitted { continuation.resume() }
            if !admitted.isEmpty { wake.signal() }
            if !batch.isEmpty { perform("append") { try partition.append(batch) } }
            perform("sync") { try partition.syncIfDue() }
            if stopping, batch.isEmpty, admitted.isEmpty {
                perform("sync") { try partition.sync() }
                let waiters = state.withLock { state in
                    state.stopped = true
                    // Senders still waiting when the writer stops are refused.
                    let refused = state.waiting.map(\.continuation)
                    state.waiting.removeAll()
                    return (state.whenStopped, refused)
                }
                for refused in waiters.1 {
                    refused.resume(throwing: PipelineError.writerStopped(topic: partition.topic, partition: partition.id))
                }
                for continuation in waiters.0 { continuation.resume() }
                return
            }
        }
    }

    /// Runs a partition call; a failure is already counted by the partition's
    /// statistics, and is logged here at most once a second.
    private func perform(_ operation: String, _ body: () throws -> Void) {
        do {
            try body()
        } catch {
            let now = ContinuousClock.now
            if let suppressed = state.withLock({ $0.failureLog.admit(at: now) }) {
                logger.warning("partition write failed", metadata: [
                    "operation": "\(operation)", "error": "\(error)", "failures.suppressed": "\(suppressed)",
                ])
            }
        }
    }
}
