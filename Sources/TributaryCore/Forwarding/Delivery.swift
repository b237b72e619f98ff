import Synchronization

/// One batch handed to a sink, and the way back for its outcome.
///
/// The sink reports the outcome once, from any thread (a C library's
/// callback thread included): `acknowledge()` when the upstream has taken
/// every reading of the batch, `fail(_:)` when it will not. Reporting is a
/// lock and a wake-up, so a sink may report from a delivery-report callback
/// without a task per message. Later reports of the same delivery are
/// ignored. A delivery released without an outcome counts as failed, so a
/// sink that loses one can neither hold its window nor skip its readings.
public final class Delivery: Sendable {
    public let batch: SinkBatch
    /// Whether it carries backlog sent behind live readings (live first). A
    /// sink that queues messages of its own sends the others first, so a new
    /// reading does not wait behind the backlog there.
    public let isBackfill: Bool
    let id: UInt64
    private let outcomes: DeliveryOutcomes
    private let settled = Atomic(false)

    init(id: UInt64, batch: SinkBatch, isBackfill: Bool = false, outcomes: DeliveryOutcomes) {
        self.id = id
        self.batch = batch
        self.isBackfill = isBackfill
        self.outcomes = outcomes
    }

    deinit {
        if !settled.load(ordering: .acquiring) {
            outcomes.report(id, .failed(PipelineError.deliveryDropped))
        }
    }

    /// The upstream acknowledged every reading of the batch.
    public func acknowledge() { settle(.acknowledged) }

    /// The batch did not reach the upstream, or not all of it; the forwarder
    /// sends its readings again after a pause.
    public func fail(_ error: any Error) { settle(.failed(error)) }

    private func settle(_ outcome: DeliveryOutcomes.Outcome) {
        guard !settled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        outcomes.report(id, outcome)
    }
}

/// Where deliveries' outcomes wait for the forwarder: any thread reports,
/// the forwarder takes them all at once and is woken by its doorbell.
final class DeliveryOutcomes: Sendable {
    enum Outcome: Sendable {
        case acknowledged
        case failed(any Error)
    }

    private let reported = Mutex<[(id: UInt64, outcome: Outcome)]>([])
    private let doorbell: Doorbell

    init(doorbell: Doorbell) { self.doorbell = doorbell }

    func report(_ id: UInt64, _ outcome: Outcome) {
        reported.withLock { $0.append((id, outcome)) }
        doorbell.ring()
    }

    /// Every outcome reported since the last call, in the order reported.
    func take() -> [(id: UInt64, outcome: Outcome)] {
        reported.withLock { reported in
            defer { reported.removeAll(keepingCapacity: true) }
            return reported
        }
    }
}
