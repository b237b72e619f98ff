/// What one retention pass deleted.
public struct RetentionReport: Sendable, Equatable {
    public var deletedSegments = 0
    public var freedBytes: Int64 = 0
    /// Readings deleted before every consumer had read them.
    public var droppedUnconsumedReadings: Int64 = 0
}

extension Log {
    /// Deletes whole sealed segments, oldest first, by age
    /// (`retentionMilliseconds`, against each segment's newest timestamp) and
    /// by topic size (`retentionBytes`, taking the topic's oldest segment
    /// across its partitions each time), whether or not consumers have read
    /// them (readings no consumer had read are counted in the report). The
    /// active segment is never deleted. Call it periodically (the daemon does,
    /// every minute). The disk budget is not enforced here: a partition makes
    /// room for each new segment when it rolls, deleting consumed segments
    /// first (`PartitionState.makeRoom`, `DiskBudget.reclaim`).
    @discardableResult
    public func enforceRetention(now: Int64? = nil) throws -> RetentionReport {
        precondition(!isReadOnly, "retention on a log opened read-only")
        let now = now ?? SystemClock.wallMilliseconds()
        var report = RetentionReport()
        for topic in topics {
            guard let partitions = partitions(of: topic) else { continue }
            let settings = configuration.topic(topic)
            if let age = settings.retentionMilliseconds {
                // Saturating, so a huge age cannot trap: past the clock's range
                // it keeps everything.
                let (difference, overflow) = now.subtractingReportingOverflow(age)
                let cutoff = overflow ? (age > 0 ? Int64.min : Int64.max) : difference
                for partition in partitions {
                    try partition.deleteOldest(into: &report) { state in
                        state.segments[0].maxTimestamp < cutoff
                    }
                }
            }
            if let limit = settings.retentionBytes {
                // Oldest data of the topic first, whichever partition holds it.
                while partitions.reduce(0, { $0 + $1.diskBytes }) > limit {
                    let candidates = partitions.compactMap { partition in
                        partition.oldestSealedTimestamp.map { (partition, $0) }
                    }
                    guard let (oldest, _) = candidates.min(by: { $0.1 < $1.1 }) else { break }
                    let before = report.deletedSegments
                    try oldest.deleteOldest(into: &report, limit: 1) { _ in true }
                    if report.deletedSegments == before { break }
                }
            }
        }
        return report
    }
}

extension Partition {
    /// The newest timestamp of the oldest sealed segment, if there is one.
    var oldestSealedTimestamp: Int64? {
        let segments = view.readableSegments
        return segments.count > 1 ? segments[0].maxTimestamp : nil
    }

    /// Deletes oldest sealed segments while `condition` holds (at most `limit`).
    func deleteOldest(into report: inout RetentionReport, limit: Int = .max,
                      while condition: (PartitionState) -> Bool) throws {
        let (deleted, freed, dropped) = try mutate { state -> (Int, Int64, Int64) in
            var deleted = 0
            var freed: Int64 = 0
            let droppedBefore = state.statistics.droppedUnconsumedReadings
            while deleted < limit, state.segments.count > 1, condition(state) {
                freed += try state.deleteOldestSegment(directory: directory)
                deleted += 1
            }
            return (deleted, freed, state.statistics.droppedUnconsumedReadings - droppedBefore)
        }
        report.deletedSegments += deleted
        report.freedBytes += freed
        report.droppedUnconsumedReadings += dropped
    }
}
