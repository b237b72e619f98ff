/// The bookkeeping of one sink's deliveries: which offsets are in flight,
/// which are acknowledged, where each partition's reader must go next, and
/// what may be committed.
///
/// Inputs: `read` (a delivery of the next offsets of a partition is about
/// to be sent), `skipped` (offsets with nothing to send), `delivered`
/// (acknowledged by the upstream), `failed`, `committed`. Outputs: `hasRoom`
/// (whether another delivery may go out), `nextOffset` (where each
/// partition's next delivery starts), a
/// rewind when a failure sends the reader back, and `commits`.
///
/// Guarantees:
/// - Per partition, `acknowledgedOffset` is the end of the contiguous run of
///   acknowledged deliveries from the committed offset: an acknowledgement
///   out of order waits for the ones before it, and nothing at or after an
///   unacknowledged offset is ever offered for commit.
/// - A failed delivery rewinds its partition to the delivery's first offset.
///   Deliveries of that partition sent after it are abandoned: their
///   outcomes, whenever they come, move nothing (their readings go out
///   again). Deliveries before it stay in flight and may still be
///   acknowledged; if one of them fails, the partition rewinds further.
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

    /// An offset of one partition: where a failure sends its reader back
    /// to, or what may be committed.
    struct PartitionOffset: Equatable, Sendable {
        var partition: Int
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
        /// Where the next delivery starts.
        var next: Int64
        /// Deliveries after `acknowledged`, ascending and contiguous.
        var spans: [Span] = []
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
    /// Where the partition's next delivery starts.
    func nextOffset(_ partition: Int) -> Int64 { lanes[partition].next }
    /// Everything of the partition below this offset is acknowledged.
    func acknowledgedOffset(_ partition: Int) -> Int64 { lanes[partition].acknowledged }
    func committedOffset(_ partition: Int) -> Int64 { lanes[partition].committed }

    /// Records that the partition's offsets from `next` up to `end` go out
    /// as one delivery, and returns the delivery's id.
    mutating func read(_ partition: Int, upTo end: Int64) -> UInt64 {
        precondition(hasRoom, "no room in the window for another delivery")
        precondition(end > lanes[partition].next, "a delivery holds at least one offset")
        let id = nextID
        nextID += 1
        lanes[partition].spans.append(Span(id: id, offsets: lanes[partition].next..<end, isAcknowledged: false))
        lanes[partition].next = end
        partitionOf[id] = partition
        outstanding += 1
        return id
    }

    /// Records that the partition's offsets from `next` up to `end` hold
    /// nothing to send (lost to damage or deleted by retention): they count
    /// as acknowledged once everything before them is.
    mutating func skipped(_ partition: Int, upTo end: Int64) {
        guard end > lanes[partition].next else { return }
        lanes[partition].spans.append(Span(id: nil, offsets: lanes[partition].next..<end, isAcknowledged: true))
        lanes[partition].next = end
        settle(partition)
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

    /// Records that delivery `id` failed. Returns where its partition's
    /// reader must go back to, or nil when the delivery had been abandoned
    /// (or is unknown).
    mutating func failed(_ id: UInt64) -> PartitionOffset? {
        if abandoned.remove(id) != nil {
            outstanding -= 1
            return nil
        }
        guard let partition = partitionOf.removeValue(forKey: id),
              let index = lanes[partition].spans.firstIndex(where: { $0.id == id }) else { return nil }
        outstanding -= 1
        for later in lanes[partition].spans[(index + 1)...] {
            guard let laterID = later.id else { continue }
            partitionOf[laterID] = nil
            if !later.isAcknowledged { abandoned.insert(laterID) }
        }
        let start = lanes[partition].spans[index].offsets.lowerBound
        lanes[partition].spans.removeSubrange(index...)
        lanes[partition].next = start
        return PartitionOffset(partition: partition, offset: start)
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

    /// Moves the acknowledged offset over the acknowledged run at the front.
    private mutating func settle(_ partition: Int) {
        while let first = lanes[partition].spans.first, first.isAcknowledged {
            lanes[partition].acknowledged = first.offsets.upperBound
            if let id = first.id { partitionOf[id] = nil }
            lanes[partition].spans.removeFirst()
        }
    }
}
