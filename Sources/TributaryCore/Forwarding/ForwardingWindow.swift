/// The bookkeeping of one sink's deliveries: which offsets are in flight,
/// which are acknowledged, where each partition's readers must go next, and
/// what may be committed.
///
/// Inputs: `read` (a delivery of the next offsets of a partition is about
/// to be sent), `skipped` (offsets with nothing to send), `delivered`
/// (acknowledged by the upstream), `failed`, `committed`, and
/// `startBackfill`. Outputs: `hasRoom` (whether another delivery may go
/// out), `nextOffset` and `backfill` (where each partition's next
/// deliveries start), a rewind when a failure sends a reader back, and
/// `commits`.
///
/// Live first: a partition far behind may split into two cursors.
/// `startBackfill(at:)` moves the head cursor to the durable end, so new
/// readings go out at once, while the backfill cursor goes on from where
/// the head was, up to that point; when it gets there the partition has one
/// cursor again. The commit rule below does not change: offsets the
/// backfill has not covered are a hole the acknowledged offset cannot pass,
/// so a crash during a backfill repeats readings, never skips them.
///
/// Guarantees:
/// - Per partition, `acknowledgedOffset` is the end of the contiguous run of
///   acknowledged deliveries from the committed offset: an acknowledgement
///   out of order waits for the ones before it, and nothing at or after an
///   unacknowledged offset is ever offered for commit.
/// - A failed delivery rewinds its cursor to the delivery's first offset.
///   Deliveries of that cursor at later offsets are abandoned: their
///   outcomes, whenever they come, move nothing (their readings go out
///   again). Deliveries before it stay in flight and may still be
///   acknowledged; if one of them fails, the cursor rewinds further. A
///   failure below the head's start (while backfilling) is the backfill's;
///   any other is the head's.
/// - At most `window` deliveries are outstanding, abandoned ones included
///   until their outcome arrives: what the sink holds is bounded.
/// - Pure value logic: no clocks, threads or I/O.
struct ForwardingWindow: Sendable {
    /// Deliveries the sink may hold at once.
    let window: Int
    /// Deliveries sent whose outcome has not arrived, abandoned ones included.
    private(set) var outstanding = 0
    private var lanes: [Lane]
    /// The partition of each delivery still in its lane.
    private var partitionOf: [UInt64: Int] = [:]
    private var abandoned: Set<UInt64> = []
    private var nextID: UInt64 = 0

    /// An offset of one partition: what may be committed.
    struct PartitionOffset: Equatable, Sendable {
        var partition: Int
        var offset: Int64
    }

    /// Which of a partition's readers.
    enum Cursor: Equatable, Sendable {
        /// The newest readings (the only cursor when not backfilling).
        case head
        /// The backlog behind the head, while backfilling.
        case backfill
    }

    /// Where a failure sends one of a partition's readers back to.
    struct Rewind: Equatable, Sendable {
        var partition: Int
        var cursor: Cursor
        var offset: Int64
    }

    private struct Span {
        /// nil for offsets skipped with nothing to send.
        var id: UInt64?
        var offsets: Range<Int64>
        var isAcknowledged: Bool
    }

    private struct Lane {
        var committed: Int64
        /// Everything below is acknowledged.
        var acknowledged: Int64
        /// Where the head's next delivery starts.
        var next: Int64
        /// While backfilling: where the backfill's next delivery starts, and
        /// where the backfill ends (where the head started).
        var backfill: (next: Int64, end: Int64)?
        /// Deliveries after `acknowledged`, ascending; contiguous but for
        /// the offsets the backfill has not read yet.
        var spans: [Span] = []

        /// Puts a new span in offset order.
        mutating func insert(_ span: Span) {
            let index = spans.lastIndex { $0.offsets.lowerBound < span.offsets.lowerBound }.map { $0 + 1 } ?? 0
            spans.insert(span, at: index)
        }
    }

    /// - Parameters:
    ///   - committed: each partition's committed offset, where forwarding starts.
    ///   - window: deliveries in flight at most (at least 1).
    init(committed: [Int64], window: Int) {
        precondition(window >= 1, "a sink's window holds at least one delivery")
        self.window = window
        self.lanes = committed.map { Lane(committed: $0, acknowledged: $0, next: $0) }
    }

    var partitions: Int { lanes.count }
    /// Whether another delivery may be sent now.
    var hasRoom: Bool { outstanding < window }
    /// Where the partition's next (head) delivery starts.
    func nextOffset(_ partition: Int) -> Int64 { lanes[partition].next }
    /// While the partition backfills: where the backfill's next delivery
    /// starts and where the backfill ends; nil otherwise.
    func backfill(_ partition: Int) -> (next: Int64, end: Int64)? { lanes[partition].backfill }
    /// Everything of the partition below this offset is acknowledged.
    func acknowledgedOffset(_ partition: Int) -> Int64 { lanes[partition].acknowledged }
    func committedOffset(_ partition: Int) -> Int64 { lanes[partition].committed }

    /// Splits the partition into a head cursor that goes on from `headStart`
    /// and a backfill cursor from the head's current position up to it.
    mutating func startBackfill(_ partition: Int, at headStart: Int64) {
        precondition(lanes[partition].backfill == nil, "one backfill at a time")
        precondition(headStart > lanes[partition].next, "a backfill covers at least one offset")
        lanes[partition].backfill = (lanes[partition].next, headStart)
        lanes[partition].next = headStart
    }

    /// Records that the cursor's offsets from its next one up to `end` go
    /// out as one delivery, and returns the delivery's id.
    mutating func read(_ partition: Int, _ cursor: Cursor = .head, upTo end: Int64) -> UInt64 {
        precondition(hasRoom, "no room in the window for another delivery")
        let id = nextID
        nextID += 1
        advance(partition, cursor, to: end, span: id)
        partitionOf[id] = partition
        outstanding += 1
        return id
    }

    /// Records that the cursor's offsets from its next one up to `end` hold
    /// nothing to send (lost to damage or deleted by retention): they count
    /// as acknowledged once everything before them is.
    mutating func skipped(_ partition: Int, _ cursor: Cursor = .head, upTo end: Int64) {
        guard end > (cursor == .head ? lanes[partition].next : lanes[partition].backfill?.next ?? .max) else { return }
        advance(partition, cursor, to: end, span: nil)
        settle(partition)
    }

    /// Moves the cursor to `end` over a new span (a delivery, or skipped offsets).
    private mutating func advance(_ partition: Int, _ cursor: Cursor, to end: Int64, span id: UInt64?) {
        switch cursor {
        case .head:
            precondition(end > lanes[partition].next, "a delivery holds at least one offset")
            lanes[partition].spans.append(Span(id: id, offsets: lanes[partition].next..<end, isAcknowledged: id == nil))
            lanes[partition].next = end
        case .backfill:
            guard let backfill = lanes[partition].backfill else { preconditionFailure("not backfilling") }
            precondition(end > backfill.next && end <= backfill.end, "a backfill delivery lies within the backfill")
            lanes[partition].insert(Span(id: id, offsets: backfill.next..<end, isAcknowledged: id == nil))
            // Done when it meets the head: one cursor again.
            lanes[partition].backfill = end == backfill.end ? nil : (end, backfill.end)
        }
    }

    /// Records the upstream's acknowledgement of delivery `id`. Returns
    /// false when the delivery had been abandoned (or is unknown): it moves
    /// nothing.
    @discardableResult
    mutating func delivered(_ id: UInt64) -> Bool {
        if abandoned.remove(id) != nil {
            outstanding -= 1
            return false
        }
        guard let partition = partitionOf[id],
              let index = lanes[partition].spans.firstIndex(where: { $0.id == id }) else { return false }
        lanes[partition].spans[index].isAcknowledged = true
        outstanding -= 1
        settle(partition)
        return true
    }

    /// Records that delivery `id` failed. Returns where one of its
    /// partition's readers must go back to, or nil when the delivery had
    /// been abandoned (or is unknown).
    mutating func failed(_ id: UInt64) -> Rewind? {
        if abandoned.remove(id) != nil {
            outstanding -= 1
            return nil
        }
        guard let partition = partitionOf.removeValue(forKey: id),
              let index = lanes[partition].spans.firstIndex(where: { $0.id == id }) else { return nil }
        outstanding -= 1
        let start = lanes[partition].spans[index].offsets.lowerBound
        // Below the head's start while backfilling, the backfill's; otherwise the head's.
        let backfillEnd = lanes[partition].backfill?.end
        let cursor: Cursor = backfillEnd.map { start < $0 } == true ? .backfill : .head
        let end = cursor == .backfill ? backfillEnd ?? .max : .max
        let dropped = lanes[partition].spans[index...].indices.filter { lanes[partition].spans[$0].offsets.lowerBound < end }
        for later in dropped.dropFirst().map({ lanes[partition].spans[$0] }) {
            guard let laterID = later.id else { continue }
            partitionOf[laterID] = nil
            if !later.isAcknowledged { abandoned.insert(laterID) }
        }
        lanes[partition].spans.removeSubrange(dropped.first!...dropped.last!)
        if cursor == .backfill, let backfillEnd {
            lanes[partition].backfill = (start, backfillEnd)
        } else {
            lanes[partition].next = start
        }
        return Rewind(partition: partition, cursor: cursor, offset: start)
    }

    /// Partitions whose acknowledged offset is not committed yet, with that offset.
    var commits: [PartitionOffset] {
        lanes.indices.compactMap { partition in
            let lane = lanes[partition]
            return lane.acknowledged != lane.committed ? PartitionOffset(partition: partition, offset: lane.acknowledged) : nil
        }
    }

    /// Records that `offset` of `partition` is committed on disk.
    mutating func committed(_ partition: Int, offset: Int64) {
        lanes[partition].committed = offset
    }

    /// Moves the acknowledged offset over the acknowledged run at the front
    /// (up to a hole the backfill has not covered yet).
    private mutating func settle(_ partition: Int) {
        while let first = lanes[partition].spans.first, first.isAcknowledged,
              first.offsets.lowerBound == lanes[partition].acknowledged {
            lanes[partition].acknowledged = first.offsets.upperBound
            if let id = first.id { partitionOf[id] = nil }
            lanes[partition].spans.removeFirst()
        }
    }
}
