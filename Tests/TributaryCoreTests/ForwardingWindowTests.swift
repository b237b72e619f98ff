import Testing
@testable import TributaryCore

@Suite("Forwarding window")
struct ForwardingWindowTests {
    private typealias Offset = ForwardingWindow.PartitionOffset
    private typealias Rewind = ForwardingWindow.Rewind

    @Test("acknowledgements in order move the acknowledged offset and offer it for commit")
    func inOrder() {
        var window = ForwardingWindow(committed: [5], window: 3)
        let a = window.read(0, upTo: 10)
        let b = window.read(0, upTo: 20)
        #expect(window.nextOffset(0) == 20 && window.outstanding == 2)
        #expect(window.commits.isEmpty, "nothing acknowledged yet")
        let movedA = window.delivered(a)
        #expect(movedA && window.acknowledgedOffset(0) == 10)
        #expect(window.commits == [Offset(partition: 0, offset: 10)])
        let movedB = window.delivered(b)
        #expect(movedB && window.acknowledgedOffset(0) == 20 && window.outstanding == 0)
        window.committed(0, offset: 20)
        #expect(window.commits.isEmpty && window.committedOffset(0) == 20)
    }

    @Test("an acknowledgement out of order waits for the ones before it")
    func outOfOrder() {
        var window = ForwardingWindow(committed: [0], window: 4)
        let a = window.read(0, upTo: 10)
        let b = window.read(0, upTo: 20)
        let c = window.read(0, upTo: 30)
        _ = window.delivered(c)
        _ = window.delivered(b)
        #expect(window.acknowledgedOffset(0) == 0 && window.commits.isEmpty, "offset 0 is not acknowledged")
        #expect(window.outstanding == 1 && window.hasRoom)
        _ = window.delivered(a)
        #expect(window.acknowledgedOffset(0) == 30 && window.commits == [Offset(partition: 0, offset: 30)])
    }

    @Test("a failure in the middle of the window rewinds to its first offset and abandons what came after it")
    func failureInTheMiddle() {
        var window = ForwardingWindow(committed: [0], window: 4)
        let a = window.read(0, upTo: 10)
        let b = window.read(0, upTo: 20)
        let c = window.read(0, upTo: 30)
        let d = window.read(0, upTo: 40)
        _ = window.delivered(d)  // acknowledged before the failure
        let rewind = window.failed(b)
        #expect(rewind == Rewind(partition: 0, cursor: .head, offset: 10))
        #expect(window.nextOffset(0) == 10, "the next delivery starts at the failed one")
        #expect(window.outstanding == 2, "a and the abandoned c are still held by the sink")
        let movedC = window.delivered(c)
        #expect(!movedC, "an abandoned delivery moves nothing")
        #expect(window.outstanding == 1)
        _ = window.delivered(a)
        #expect(window.acknowledgedOffset(0) == 10, "only a's offsets: b, c and d go out again")
        let again = window.read(0, upTo: 40)
        _ = window.delivered(again)
        #expect(window.acknowledgedOffset(0) == 40 && window.outstanding == 0)
    }

    @Test("an earlier failure after a later one rewinds further")
    func earlierFailureRewindsFurther() {
        var window = ForwardingWindow(committed: [0], window: 4)
        let a = window.read(0, upTo: 10)
        let b = window.read(0, upTo: 20)
        let c = window.read(0, upTo: 30)
        let first = window.failed(c)
        let second = window.failed(a)
        let third = window.failed(b)
        #expect(first == Rewind(partition: 0, cursor: .head, offset: 20))
        #expect(second == Rewind(partition: 0, cursor: .head, offset: 0))
        #expect(third == nil, "b was abandoned by a's failure")
        #expect(window.nextOffset(0) == 0 && window.outstanding == 0 && window.acknowledgedOffset(0) == 0)
        #expect(window.commits.isEmpty)
    }

    @Test("abandoned deliveries hold their place in the window until their outcome arrives")
    func abandonedCountAgainstTheWindow() {
        var window = ForwardingWindow(committed: [0], window: 2)
        let a = window.read(0, upTo: 1)
        let b = window.read(0, upTo: 2)
        #expect(!window.hasRoom)
        _ = window.failed(a)
        #expect(window.outstanding == 1 && window.hasRoom, "b, abandoned, is still held by the sink")
        _ = window.read(0, upTo: 1)
        #expect(!window.hasRoom)
        let rewind = window.failed(b)
        #expect(rewind == nil && window.hasRoom)
    }

    @Test("partitions keep their own runs")
    func partitionsAreIndependent() {
        var window = ForwardingWindow(committed: [0, 100], window: 4)
        let a = window.read(0, upTo: 10)
        let b = window.read(1, upTo: 110)
        let rewind = window.failed(a)
        _ = window.delivered(b)
        #expect(rewind == Rewind(partition: 0, cursor: .head, offset: 0))
        #expect(window.commits == [Offset(partition: 1, offset: 110)])
        #expect(window.nextOffset(0) == 0 && window.nextOffset(1) == 110)
    }

    @Test("offsets skipped with nothing to send count as acknowledged once everything before them is")
    func skippedOffsets() {
        var window = ForwardingWindow(committed: [0], window: 2)
        window.skipped(0, upTo: 5)
        #expect(window.acknowledgedOffset(0) == 5 && window.outstanding == 0)
        let a = window.read(0, upTo: 10)
        window.skipped(0, upTo: 20)
        #expect(window.acknowledgedOffset(0) == 5, "waits for a")
        _ = window.delivered(a)
        #expect(window.acknowledgedOffset(0) == 20)
    }

    @Test("live first: the head goes on from the durable end while the backfill fills the hole behind it")
    func backfill() {
        var window = ForwardingWindow(committed: [0], window: 8)
        let a = window.read(0, upTo: 10)
        window.startBackfill(0, at: 100)
        #expect(window.nextOffset(0) == 100 && window.backfill(0)! == (10, 100))
        let head = window.read(0, upTo: 110)
        let b = window.read(0, .backfill, upTo: 50)
        _ = window.delivered(head)
        _ = window.delivered(a)
        #expect(window.acknowledgedOffset(0) == 10, "the head's acknowledgement waits for the hole behind it")
        _ = window.delivered(b)
        #expect(window.acknowledgedOffset(0) == 50)
        let c = window.read(0, .backfill, upTo: 100)
        #expect(window.backfill(0) == nil, "the backfill met the head: one cursor again")
        _ = window.delivered(c)
        #expect(window.acknowledgedOffset(0) == 110 && window.commits == [Offset(partition: 0, offset: 110)])
    }

    @Test("a failure behind the head rewinds the backfill only; one at the head rewinds the head only")
    func backfillFailures() {
        var window = ForwardingWindow(committed: [0], window: 8)
        window.startBackfill(0, at: 100)
        let b1 = window.read(0, .backfill, upTo: 30)
        let b2 = window.read(0, .backfill, upTo: 60)
        let h1 = window.read(0, upTo: 120)
        let h2 = window.read(0, upTo: 140)
        #expect(window.failed(b1) == Rewind(partition: 0, cursor: .backfill, offset: 0))
        #expect(window.backfill(0)! == (0, 100) && window.nextOffset(0) == 140, "the head goes on")
        #expect(window.failed(b2) == nil, "abandoned by b1's failure")
        #expect(window.failed(h1) == Rewind(partition: 0, cursor: .head, offset: 100))
        #expect(window.failed(h2) == nil && window.nextOffset(0) == 100 && window.backfill(0)! == (0, 100))
        #expect(window.outstanding == 0)
        window.skipped(0, .backfill, upTo: 100)
        #expect(window.backfill(0) == nil && window.acknowledgedOffset(0) == 100)
    }

    /// A random mix of reads, acknowledgements, failures and commits across
    /// two partitions; after every step the acknowledged offset of each
    /// partition is covered by deliveries acknowledged since its last rewind.
    @Test("random outcomes never acknowledge an offset no live delivery covered", arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func randomOutcomes(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var window = ForwardingWindow(committed: [0, 0], window: 5)
        var pending: [(id: UInt64, partition: Int, offsets: Range<Int64>)] = []
        // Per partition, the offsets some delivery's acknowledgement covered, whether or not it was abandoned.
        var covered: [Set<Int64>] = [[], []]
        for step in 0..<2000 {
            let choice = random.next() % 4
            let partition = Int(random.next() % 2)
            if random.next() % 50 == 0, window.backfill(partition) == nil {
                // Live first: the head jumps ahead, leaving a hole for the backfill.
                window.startBackfill(partition, at: window.nextOffset(partition) + Int64(1 + random.next() % 20))
            } else if choice == 0 || pending.isEmpty, window.hasRoom {
                let backfill = window.backfill(partition).flatMap { random.next() % 2 == 0 ? $0 : nil }
                let start = backfill?.next ?? window.nextOffset(partition)
                let end = min(start + Int64(1 + random.next() % 5), backfill?.end ?? .max)
                pending.append((window.read(partition, backfill == nil ? .head : .backfill, upTo: end), partition,
                                start..<end))
            } else if !pending.isEmpty {
                let delivery = pending.remove(at: Int(random.next() % UInt64(pending.count)))
                if choice == 3 {
                    if let rewind = window.failed(delivery.id) {
                        #expect(rewind.offset == delivery.offsets.lowerBound, "seed \(seed) step \(step)")
                        #expect(rewind.offset >= window.acknowledgedOffset(delivery.partition))
                    }
                } else if window.delivered(delivery.id) {
                    covered[delivery.partition].formUnion(delivery.offsets)
                }
            }
            for partition in 0..<2 {
                let acknowledged = window.acknowledgedOffset(partition)
                #expect((0..<acknowledged).allSatisfy { covered[partition].contains($0) },
                        "seed \(seed) step \(step): partition \(partition) acknowledged \(acknowledged) with a hole")
                #expect(window.nextOffset(partition) >= acknowledged)
            }
            #expect(window.outstanding == pending.count, "seed \(seed) step \(step)")
            if random.next() % 10 == 0 {
                for commit in window.commits { window.committed(commit.partition, offset: commit.offset) }
            }
        }
    }
}
