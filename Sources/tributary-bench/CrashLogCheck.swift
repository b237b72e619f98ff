import TributaryLog

/// Checks a log `crash-writer` wrote after it was cut off (by a power cut
/// replayed from the block layer): opening it runs recovery, then every
/// partition must read from offset 0 with contiguous offsets, each reading
/// exactly what `CrashWorkload` derives, nothing skipped, up to at least what
/// was acknowledged, and the recovered log must verify.
struct CrashLogCheck {
    /// What broke a promise: acknowledged readings missing, corrupt ones served, a refusal to open.
    var violations: [String] = []
    var truncatedTails = 0
    var damagedRanges = 0
    var quarantinedFiles = 0
    var readings: Int64 = 0

    init(directory: String, flush: FlushPolicy, contentSeed: UInt64, acknowledged: [Int64]) {
        do {
            try check(directory: directory, flush: flush, contentSeed: contentSeed, acknowledged: acknowledged)
        } catch {
            violations.append("recovery refused or failed: \(error)")
        }
    }

    private mutating func check(directory: String, flush: FlushPolicy, contentSeed: UInt64, acknowledged: [Int64]) throws {
        let log = try Log.open(CrashWriter.configuration(directory: directory, flush: flush))
        defer { try? log.close() }
        let partitions = log.partitions(of: CrashWorkload.topic) ?? []
        for id in 0..<CrashWorkload.partitions {
            guard id < partitions.count else {
                if acknowledged[id] > 0 { violations.append("partition \(id) is missing, \(acknowledged[id]) readings acknowledged") }
                continue
            }
            let partition = partitions[id]
            truncatedTails += partition.recovery.truncatedTail == nil ? 0 : 1
            damagedRanges += partition.recovery.damage.count
            quarantinedFiles += partition.recovery.quarantined.count
            try checkReadings(of: partition, id: id, contentSeed: contentSeed, acknowledged: acknowledged[id])
        }
        try log.close()
        let reopened = try Log.open(CrashWriter.configuration(directory: directory, flush: flush), readOnly: true)
        defer { try? reopened.close() }
        let report = try reopened.verify()
        if !report.isIntact { violations.append("verify after recovery: \(report.problems)") }
    }

    private mutating func checkReadings(of partition: Partition, id: Int, contentSeed: UInt64, acknowledged: Int64) throws {
        if partition.startOffset != 0 { violations.append("partition \(id) starts at \(partition.startOffset)") }
        let reader = partition.reader(from: 0)
        var expected: Int64 = 0
        while case let batch = try reader.next(), !batch.isEmpty {
            for stored in batch {
                guard stored.offset == expected else {
                    violations.append("partition \(id): offset \(stored.offset) follows \(expected - 1)")
                    return
                }
                let want = CrashWorkload.reading(seed: contentSeed, partition: id, offset: stored.offset)
                if stored.reading != want {
                    violations.append("partition \(id) offset \(stored.offset): served \(stored.reading), appended \(want)")
                    return
                }
                expected += 1
            }
        }
        readings += expected
        if reader.skippedReadings > 0 { violations.append("partition \(id): reader skipped \(reader.damage)") }
        if expected < acknowledged {
            violations.append("partition \(id): \(acknowledged - expected) acknowledged readings lost (\(expected) of \(acknowledged))")
        }
    }
}
