#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
import Testing
@testable import TributaryLog

/// What the disk budget counts beyond ordinary segments, and when it applies:
/// files recovery moved aside, a batch larger than its segment, topics created
/// at once, and a log already over its budget when it is opened.
@Suite("The disk budget's edges")
struct DiskBudgetEdgeTests {
    static let segment: Int64 = 64 << 10

    @Test("files moved aside count against the budget and are the first deleted for room")
    func movedAsideFilesCount() throws {
        try withTemporaryDirectory("budget-corrupt") { directory in
            var configuration = testConfiguration(directory)
            configuration.topics["t"] = TopicConfiguration(partitions: 1)
            try openLog(configuration).close()
            let corrupt = directory + "/t-0/00000000000000000000.log.corrupt"
            try Files.write([UInt8](repeating: 0xA5, count: Int(2 * Self.segment)), to: corrupt)
            configuration.diskBudget = 5 * Self.segment
            let log = try openLog(configuration)
            let partition = try log.partition("t", 0)
            #expect(log.diskBytes == 3 * Self.segment, "the active segment and the moved-aside file")
            // Roll until room is needed: the moved-aside file goes, the oldest segment stays.
            var next = 0
            while Files.size(corrupt) > 0, next < 20_000 {
                try partition.append(bulkyReadings(40, first: next))
                next += 40
                #expect(log.diskBytes <= configuration.diskBudget!)
            }
            #expect(!Syscalls.exists(corrupt), "the moved-aside file was deleted")
            #expect(partition.startOffset == 0, "before any segment")
            #expect(partition.statistics.deletedSegments == 1)
            #expect(log.diskBytes <= configuration.diskBudget!)
        }
    }

    @Test("a batch larger than its segment is written only if the budget has room for all of it")
    func oversizedBatch() throws {
        try withTemporaryDirectory("budget-oversized") { directory in
            var configuration = testConfiguration(directory)
            configuration.topics["t"] = TopicConfiguration(partitions: 1)
            configuration.diskBudget = 3 * Self.segment
            let log = try openLog(configuration)
            let partition = try log.partition("t", 0)
            // A batch of 3 segments' worth: more than the whole budget.
            let huge = Reading(sensor: "camera", timestamp: 1, value: .bytes([UInt8](repeating: 7, count: Int(3 * Self.segment))))
            #expect(throws: LogError.self) { try partition.append([huge]) }
            #expect(partition.statistics.rejectedReadings == 1)
            #expect(log.diskBytes <= configuration.diskBudget!)
            #expect(segmentBytesOnDisk(directory) <= configuration.diskBudget!)
            // 1.5 segments fit.
            let large = Reading(sensor: "camera", timestamp: 2, value: .bytes([UInt8](repeating: 8, count: Int(3 * Self.segment / 2))))
            try partition.append([large])
            #expect(partition.endOffset == 1)
            #expect(log.diskBytes <= configuration.diskBudget!)
            #expect(segmentBytesOnDisk(directory) <= configuration.diskBudget!)
            #expect(try partition.readAll().readings.map(\.reading) == [large])
        }
    }

    @Test("topics created at once never take more than the budget has free")
    func concurrentTopicCreation() throws {
        for round in 0..<20 {
            try withTemporaryDirectory("budget-topics") { directory in
                var configuration = testConfiguration(directory)
                configuration.diskBudget = 4 * Self.segment
                let log = try openLog(configuration)
                let created = Atomic<Int>(0)
                DispatchQueue.concurrentPerform(iterations: 8) { i in
                    if (try? log.topic("topic\(i)", creatingWith: 1)) != nil { created.add(1, ordering: .relaxed) }
                }
                #expect(created.load(ordering: .relaxed) == 4, "round \(round)")
                #expect(log.diskBytes <= configuration.diskBudget!, "round \(round): \(log.diskBytes)")
            }
        }
    }

    @Test("a log over its budget at open gives up what its policies allow, at once")
    func budgetAppliedAtOpen() throws {
        try withTemporaryDirectory("budget-open") { directory in
            var configuration = testConfiguration(directory)
            configuration.topics["kept"] = TopicConfiguration(partitions: 1, fullPolicy: .rejectNew)
            configuration.topics["dropped"] = TopicConfiguration(partitions: 1, fullPolicy: .dropOldest)
            let log = try openLog(configuration)
            for topic in ["kept", "dropped"] {
                let partition = try log.partition(topic, 0)
                _ = try partition.register(consumer: "uplink")
                for first in stride(from: 0, to: 8000, by: 40) { try partition.append(bulkyReadings(40, first: first)) }
                #expect(partition.segments.count > 6)
            }
            // "kept": half consumed; "dropped": nothing consumed.
            let kept = try log.partition("kept", 0)
            try kept.commit(kept.segments[kept.segments.count / 2].baseOffset, for: "uplink")
            try log.close()

            configuration.diskBudget = 6 * Self.segment
            let reopened = try openLog(configuration)
            #expect(reopened.diskBytes <= configuration.diskBudget!)
            #expect(segmentBytesOnDisk(directory) <= configuration.diskBudget!)
            let keptAgain = try reopened.partition("kept", 0)
            #expect(keptAgain.startOffset > 0 && keptAgain.startOffset <= keptAgain.committedOffset(for: "uplink")!,
                    "consumed segments went, unconsumed ones stayed")
            let dropped = try reopened.partition("dropped", 0)
            #expect(dropped.statistics.droppedUnconsumedReadings > 0, "drop-oldest dropped, and counted it")
        }
    }
}
