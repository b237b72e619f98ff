import Dispatch
import Logging
import Synchronization
import TributaryLog

/// Appends readings to one partition from a thread of its own, so appends
/// and their fdatasyncs never block Swift's cooperative pool.
///
/// Senders hand readings over with `send` (async) or `handOver` (blocking
/// the calling thread, for C libraries' callback threads), which return once
/// the readings are queued (not yet durable: a reading is acknowledged when
/// the partition's `durableOffset` passes it; `handOver(_:whenWritten:)`
/// also tells when the writer has appended them). The queue holds at most
/// `capacity` readings; a sender that finds it full waits until the writer
/// has taken what is queued (backpressure), in the order the senders
/// arrived. A waiting `send` gives up when its task is cancelled. The writer
/// takes everything queued in one append and applies the log's flush policy,
/// waking for an `.interval` sync even when no readings arrive. Readings the
/// partition refuses (disk full, budget exhausted) are counted by the
/// partition's statistics and logged, at most once a second.
///
/// Thread-safe. Whoever calls `start` (the pipeline's writers service) calls
/// `stop`; readings sent before `start` wait in the queue.
public final class PartitionWriter: Sendable {
    public let partition: Partition
    public let capacity: Int
    private let logger: Logger
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    /// A sender waiting for room; `admit` is called once, with nil when the
    /// readings were queued or with the reason they were not.
    private struct Waiter {
        var id: UInt64
        var readings: [Reading]
        var written: (@Sendable () -> Void)?
        var admit: @Sendable ((any Error)?) -> Void
    }

    private struct State {
        var queue: [Reading] = []
        /// Called once the writer has appended what is in `queue`.
        var whenWritten: [@Sendable () -> Void] = []
        /// Senders waiting for room, first come first served.
        var waiting: [Waiter] = []
        var nextWaiter: UInt64 = 0
        var started = false
        var stopping = false
        var stopped = false
        var whenStopped: [CheckedContinuation<Void, Never>] = []
        var failureLog = LogRateLimit()

        /// Queues `readings` if there is room and nobody is waiting before them.
        mutating func enqueue(_ readings: [Reading], written: (@Sendable () -> Void)?, capacity: Int) -> Bool {
            guard waiting.isEmpty, hasRoom(for: readings.count, capacity: capacity) else { return false }
            take(readings, written: written)
            return true
        }

        /// Whether `count` more readings fit. An empty queue takes any group,
        /// however large, so nothing waits forever.
        func hasRoom(for count: Int, capacity: Int) -> Bool {
            queue.isEmpty || queue.count + count <= capacity
        }

        /// A new id for a sender that may have to wait.
        mutating func waiterID() -> UInt64 {
            defer { nextWaiter += 1 }
            return nextWaiter
        }

        /// Adds to the queue; an empty queue adopts the array instead of copying it.
        mutating func take(_ readings: [Reading], written: (@Sendable () -> Void)?) {
            if queue.isEmpty { queue = readings } else { queue += readings }
            if let written { whenWritten.append(written) }
        }
    }

    public init(partition: Partition, capacity: Int = 16_384, logger: Logger) {
        precondition(capacity > 0, "a writer's queue holds at least one reading")
        self.partition = partition
        self.capacity = capacity
        var logger = logger
        logger[metadataKey: "topic"] = "\(partition.topic)"
        logger[metadataKey: "partition"] = "\(partition.id)"
        self.logger = logger
    }

    /// Starts the writer's thread. If the system cannot start one, the
    /// writer refuses readings from then on, and `stop` returns at once.
    public func start() throws {
        state.withLock { $0.started = true }
        do {
            try DedicatedThread.start(name: "w-\(partition.topic)-\(partition.id)") { [self] in run() }
        } catch {
            state.withLock { $0.started = false }
            stopWithoutThread()
            throw error
        }
    }

    private var stoppedError: PipelineError { .writerStopped(topic: partition.topic, partition: partition.id) }

    /// Queues `readings`, suspending while the queue is full.
    /// - Throws: `.writerStopped` once `stop` has been called;
    ///   `CancellationError` if the task is cancelled while it waits (the
    ///   readings are then not queued).
    public func send(_ readings: [Reading]) async throws {
        guard !readings.isEmpty else { return }
        let id = state.withLock { $0.waiterID() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                queue(readings, id: id, written: nil) { error in
                    if let error { continuation.resume(throwing: error) } else { continuation.resume() }
                }
                if Task.isCancelled { withdraw(id) }
            }
        } onCancel: {
            withdraw(id)
        }
    }

    /// Queues `readings`, blocking the calling thread while the queue is
    /// full: for a client library's own thread (never the cooperative pool),
    /// so that backpressure holds the client back. `whenWritten`, if given,
    /// is called on the writer's thread once the readings are written to
    /// the partition's file (`Partition.writeCollected`: in the page cache,
    /// so a kill -9 no longer loses them; synced too if the flush policy
    /// syncs then), or failed to be (counted by the partition's statistics);
    /// it is not called when this throws.
    /// - Throws: `.writerStopped` once `stop` has been called.
    public func handOver(_ readings: [Reading], whenWritten: (@Sendable () -> Void)? = nil) throws {
        guard !readings.isEmpty else { whenWritten?(); return }
        let admitted = DispatchSemaphore(value: 0)
        let outcome = Mutex<(any Error)?>(nil)
        let id = state.withLock { $0.waiterID() }
        queue(readings, id: id, written: whenWritten) { error in
            outcome.withLock { $0 = error }
            admitted.signal()
        }
        admitted.wait()
        if let error = outcome.withLock({ $0 }) { throw error }
    }

    /// Queues `readings` now if there is room, else makes the sender wait;
    /// calls `admit` once either way (outside the lock).
    private func queue(_ readings: [Reading], id: UInt64, written: (@Sendable () -> Void)?,
                       admit: @escaping @Sendable ((any Error)?) -> Void) {
        let accepted: Bool? = state.withLock { state in
            if state.stopping { return nil }
            if state.enqueue(readings, written: written, capacity: capacity) { return true }
            state.waiting.append(Waiter(id: id, readings: readings, written: written, admit: admit))
            return false
        }
        switch accepted {
        case nil: admit(stoppedError)
        case true?: admit(nil); wake.signal()
        case false?: wake.signal()
        }
    }

    /// Takes a waiting sender out of the line, refusing its readings.
    private func withdraw(_ id: UInt64) {
        let withdrawn = state.withLock { state -> Waiter? in
            guard let index = state.waiting.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiting.remove(at: index)
        }
        withdrawn?.admit(CancellationError())
    }

    /// Readings queued or waiting to be queued: the writer's backlog.
    public var backlog: Int {
        state.withLock { state in state.queue.count + state.waiting.reduce(0) { $0 + $1.readings.count } }
    }

    /// Refuses new readings, appends everything already queued (senders
    /// waiting for room when it is called included), syncs, and returns once
    /// the writer's thread has finished. A writer whose thread never started
    /// stops at once, refusing the senders waiting for room.
    public func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                state.stopping = true
                if state.stopped || !state.started { return true }
                state.whenStopped.append(continuation)
                return false
            }
            if done { stopWithoutThread(); continuation.resume() } else { wake.signal() }
        }
    }

    /// Ends a writer whose thread is not running: waiting senders are refused.
    private func stopWithoutThread() {
        let refused = state.withLock { state -> [Waiter] in
            guard !state.started else { return [] }
            state.stopping = true
            state.stopped = true
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for waiter in refused { waiter.admit(stoppedError) }
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
            let (batch, written, admitted, stopping) = state.withLock { state in
                let batch = state.queue
                let written = state.whenWritten
                state.queue = []
                state.whenWritten = []
                var admitted: [Waiter] = []
                while let first = state.waiting.first, state.hasRoom(for: first.readings.count, capacity: capacity) {
                    state.take(first.readings, written: first.written)
                    admitted.append(state.waiting.removeFirst())
                }
                return (batch, written, admitted, state.stopping)
            }
            for waiter in admitted { waiter.admit(nil) }
            if !admitted.isEmpty { wake.signal() }
            if !batch.isEmpty { perform("append") { try partition.append(batch) } }
            // Appended readings may wait in memory for a fuller batch; a sender waiting for them to be written may not.
            if !written.isEmpty { perform("write") { try partition.writeCollected() } }
            perform("sync") { try partition.syncIfDue() }
            for callback in written { callback() }
            // Stopping refuses new senders, so with nothing taken this turn nothing is left.
            if stopping, batch.isEmpty, admitted.isEmpty {
                perform("sync") { try partition.sync() }
                let whenStopped = state.withLock { state in
                    state.stopped = true
                    return state.whenStopped
                }
                for continuation in whenStopped { continuation.resume() }
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
