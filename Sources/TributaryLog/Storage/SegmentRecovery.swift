/// Validates a segment batch by batch (Kafka's `LogSegment.recover`): records
/// every valid batch into `segment`, skips damage that valid batches follow,
/// and stops at the first invalid bytes that nothing valid follows (a torn
/// tail, or the unwritten preallocated space).
enum SegmentRecovery {
    struct Outcome {
        var damage: [RecoveryReport.Damage] = []
        /// Where the valid data ends and whether non-zero bytes follow it.
        var end: Int64 = 0
        var tornTail: InvalidBatch?
        /// Where the non-zero bytes after `end` end (`end` when none follow):
        /// the preallocated zeros past a torn tail were never data.
        var tailEnd: Int64 = 0
        var fileSize: Int64 = 0
    }

    static func scan(_ segment: Segment, expectedOffset: Int64) throws -> Outcome {
        let scanner = try BatchScanner(path: segment.path)
        var outcome = Outcome()
        outcome.fileSize = scanner.limit
        var expected = expectedOffset
        /// Where the non-zero bytes end, once a zeroed block has been looked past.
        var dataEnd: Int64?
        scanning: while true {
            let step = try scanner.next()
            switch step {
            case let .batch(header, _, position):
                if header.baseOffset < expected {
                    // A stale batch (offsets already seen): damage, not data.
                    if try skip(scanner, from: position, reason: .staleOffsets, expected: &expected,
                                segment: segment, outcome: &outcome) { continue scanning }
                    outcome.end = position
                    outcome.tornTail = .staleOffsets
                    break scanning
                }
                if header.baseOffset > expected {
                    outcome.damage.append(.init(file: segment.path, position: position, reason: .offsetGap,
                                                lostOffsets: expected..<header.baseOffset))
                }
                segment.record(header, at: position)
                expected = header.nextOffset
            case let .end(position):
                outcome.end = position
                // Zeroes to the end: the unwritten rest of a preallocated segment.
                let end = try scanner.endOfData(from: position)
                dataEnd = end
                guard end > position else { break scanning }
                // Zeroes, but valid batches may follow a zeroed block.
                if try skip(scanner, from: position, reason: .header(.zeroes), expected: &expected,
                            segment: segment, outcome: &outcome) {
                    continue scanning
                }
                // Zeroes, then bytes that are no batch: a tail like any other.
                outcome.tornTail = .header(.zeroes)
                break scanning
            case let .invalid(position, reason):
                if try skip(scanner, from: position, reason: reason, expected: &expected,
                            segment: segment, outcome: &outcome) { continue scanning }
                outcome.end = position
                outcome.tornTail = reason
                break scanning
            }
        }
        outcome.tailEnd = outcome.tornTail == nil ? outcome.end : try dataEnd ?? scanner.endOfData(from: outcome.end)
        return outcome
    }

    /// Finds a valid batch after damage at `from`; records the damage and
    /// returns true if there is one.
    private static func skip(_ scanner: BatchScanner, from: Int64, reason: InvalidBatch, expected: inout Int64,
                             segment: Segment, outcome: inout Outcome) throws -> Bool {
        guard let next = try scanner.resynchronize(from: from, minimumOffset: expected) else { return false }
        guard case let .batch(header, _, _) = try scanner.next() else { return false }
        outcome.damage.append(.init(file: segment.path, position: from, reason: reason,
                                    lostOffsets: expected..<header.baseOffset))
        segment.record(header, at: next)
        expected = header.nextOffset
        return true
    }
}
