/// What opening a partition found and did. Recovery never refuses to start;
/// this says what it cost.
public struct RecoveryReport: Sendable, Equatable {
    /// A place where bytes were not valid batches and were skipped.
    public struct Damage: Sendable, Equatable, CustomStringConvertible {
        public var file: String
        public var position: Int64
        public var reason: InvalidBatch
        /// Offsets that the damage made unreadable (the gap before the next valid batch).
        public var lostOffsets: Range<Int64>

        public var description: String {
            let lost = lostOffsets.isEmpty ? "no offsets lost"
                : "offsets \(lostOffsets.lowerBound)..<\(lostOffsets.upperBound) lost (\(lostOffsets.count) readings)"
            return "\(file) at byte \(position): \(reason); \(lost)"
        }
    }

    public var topic: String
    public var partition: Int
    /// Damaged places skipped inside the log (valid data after them was kept).
    public var damage: [Damage] = []
    /// The torn tail cut from the active segment, if any: file, position, bytes.
    public var truncatedTail: (file: String, position: Int64, bytes: Int64)?
    /// Index files rebuilt because they were missing, damaged or disagreed.
    public var rebuiltIndexes: [String] = []
    /// Files moved aside (renamed with ".corrupt") because nothing in them was readable.
    public var quarantined: [String] = []
    /// Consumers whose committed offset was outside the log and was clamped.
    public var clampedConsumers: [(consumer: String, from: Int64, to: Int64)] = []

    /// True when nothing was wrong.
    public var isClean: Bool {
        damage.isEmpty && truncatedTail == nil && rebuiltIndexes.isEmpty && quarantined.isEmpty
            && clampedConsumers.isEmpty
    }

    /// Readings lost to damage (torn, unacknowledged tails are not counted: they were never durable).
    public var lostReadings: Int64 { damage.reduce(0) { $0 + Int64($1.lostOffsets.count) } }

    public static func == (lhs: RecoveryReport, rhs: RecoveryReport) -> Bool {
        lhs.topic == rhs.topic && lhs.partition == rhs.partition && lhs.damage == rhs.damage
            && lhs.truncatedTail?.file == rhs.truncatedTail?.file
            && lhs.truncatedTail?.position == rhs.truncatedTail?.position
            && lhs.rebuiltIndexes == rhs.rebuiltIndexes && lhs.quarantined == rhs.quarantined
            && lhs.clampedConsumers.map(\.consumer) == rhs.clampedConsumers.map(\.consumer)
    }
}
