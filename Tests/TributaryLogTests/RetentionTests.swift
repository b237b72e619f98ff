#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
import Testing
@testable import TributaryLog
import TributaryTestSupport

/// Sum of the sizes of the `.log` files under `directory` (one level of partition directories).
func segmentBytesOnDisk(_ directory: String) -> Int64 {
    Files.list(directory).reduce(0) { total, partition in
        total + segmentFiles(in: directory + "/" + partition).reduce(0) { $0 + Files.size($1) }
    }
}

@Suite("Retention and the disk budget")
struct RetentionTests {
    @Test("segments whose newest reading is older than the retention age are deleted, oldest first")
    func ageRetention() throws {
        try withTemporaryDirectory("age") { directory in
            var configuration = testConfiguration(directory)
            configuration.topics["t"] = TopicConfiguration(retentionMilliseconds: 60_000)
            let log = try openLog(configuration)
            let partition = try log.partition("t", 0)
            // Timestamps advance 250 ms per reading: 3000 readings span 750 s.
            let written = bulkyReadings(3000)
            try append(written, to: partition, batch: 40)
            let segments = partition.segments
            #expect(segments.count >= 3)
            try partition.commit(100, for: "sink")
            // Keep whatever is newer than segment 1's newest reading.
            let now = segments[1].maxTimestamp + 60_000 + 1
            let report = try log.enforceRetention(now: now)
            #expect(report.deletedSegments == 2)
            #expect(report.freedBytes == segments[0].diskBytes + segments[1].diskBytes)
            #expect(report.droppedUnconsumedReadings == segments[1].nextOffset - 100)
            #expect(partition.statistics.droppedUnconsumedReadings == segments[1].nextOffset - 100)
            #expect(partition.startOffset == segments[2].baseOffset)
            #expect(partition.statistics.deletedSegments == 2)
            #expect(!Files.exists(segments[0].path) && !Files.exists(indexPath(of: segments[0].path)))
            #expect(!Files.exists(segments[1].path) && !Files.exists(indexPath(of: segments[1].path)))
            let (read, reader) = try partition.readAll()
            #expect(read.map(\.reading) == Array(written[Int(segments[2].baseOffset)...]))
            #expect(reader.skippedReadings == 0, "a reader asked for an offset before the start begins at the start")
            // Far in the future: everything sealed goes, the active segment never does.
            try log.enforceRetention(now: .max / 2)
            #expect(partition.segments.count == 1)
            #expect(partition.endOffset == 3000)
            #expect(try log.verify().isIntact)
        }
    }

    @Test("a reader overtaken by retention skips to the new start and counts what it lost")
    func readerOvertakenByRetention() throws {
        try withTemporaryDirectory("overtaken") { directory in
            var configuration = testConfiguration(directory)
            configuration.topics["t"] = TopicConfiguration(retentionMilliseconds: 1)
            let log = try openLog(configuration)
            let partition = try log.partition("t", 0)
            let written = bulkyReadings(3000)
            try append(written, to: partition, batch: 40)
            let reader = partition.reader(from: 0)
            let first = try reader.next()
            #expect(first.map(\.offset) == Array(0..<40))
            try log.enforceRetention(now: .max / 2)
            let start = partition.startOffset
            #expect(start > 40)
            var rest: [StoredReading] = []
            while true {
                let batch = try reader.next()
                if batch.isEmpty { break }
                rest += batch
            }
            #expect(rest.first?.offset == start)
            #expect(rest.map(\.reading) == Array(written[Int(start)...]))
            #expect(reader.skippedReadings == start - 40)
            #expect(reader.damage.last?.lostOffsets == 40..<start)
        }
    }

    @Test("partitions appending from several threads under one budget keep it and lose nothing unaccounted")
    func concurrentAppendsUnderABudget() throws {
        try withTemporaryDirectory("concurrent") { directory in
            var configuration = testConfiguration(directory)
            let budget: Int64 = 6 * (64 << 10)
            configuration.diskBudget = budget
            configuration.topics["t"] = TopicConfiguration(partitions: 4)
            let log = try openLog(configuration)
            let partitions = try #require(log.partitions(of: "t"))
            let overruns = Mutex<[Int64]>([])
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: partitions.count + 1) { worker in
                do {
                    if worker == partitions.count {
                        // A reader following partition 0 while the others write and delete.
                        let reader = partitions[0].reader(from: 0)
                        for _ in 0..<2000 { _ = try reader.next() }
                        return
                    }
                    for round in 0..<150 {
                        try partitions[worker].append(bulkyReadings(40, first: round * 40))
                        let used = log.diskBytes
                        if used > budget { overruns.withLock { $0.append(used) } }
                    }
                } catch {
                    failures.withLock { $0.append("worker \(worker): \(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
            #expect(overruns.withLock { $0 }.isEmpty, "budget \(budget) overrun: \(overruns.withLock { $0.prefix(5) })")
            #expect(log.diskBytes <= budget && segmentBytesOnDisk(directory) <= budget)
            let written = bulkyReadings(6000)
            for partition in partitions {
                #expect(partition.endOffset == 6000)
                #expect(partition.startOffset > 0)
                let (read, reader) = try partition.readAll(from: partition.startOffset)
                expectAllMatch(read, written)
                #expect(read.count == 6000 - Int(partition.startOffset))
                #expect(reader.skippedReadings == 0)
            }
            #expect(try log.verify().isIntact)
        }
    }

    @Test("a topic over its byte limit loses its oldest segments across partitions")
    func topicByteRetention() throws {
        try withTemporaryDirectory("bytes") { directory in
            var configuration = testConfiguration(directory)
            configuration.preallocate = false
            let limit: Int64 = 200 << 10
            configuration.topics["t"] = TopicConfiguration(partitions: 2, retentionBytes: limit)
            configuration.topics["other"] = TopicConfiguration(partitions: 1)
            let log = try openLog(configuration)
            let partitions = try #require(log.partitions(of: "t"))
            let other = try log.partition("other", 0)
            // Interleave so both partitions have old and new segments.
            for round in 0..<6 {
                try append(bulkyReadings(500, first: round * 1000), to: partitions[0], batch: 40)
                try append(bulkyReadings(500, first: round * 1000 + 500), to: partitions[1], batch: 40)
            }
            try append(bulkyReadings(3000), to: other, batch: 40)
            let before = partitions.map(\.segments)
            let otherBefore = other.segments
            #expect(partitions.reduce(0) { $0 + $1.diskBytes } > limit)
            let report = try log.enforceRetention()
            #expect(report.deletedSegments > 0)
            #expect(partitions.reduce(0) { $0 + $1.diskBytes } <= limit)
            #expect(other.segments == otherBefore, "other topics are not touched")
            // What was deleted is older than everything kept.
            let deleted = zip(before, partitions.map(\.segments)).flatMap { old, new in
                old.filter { segment in !new.contains { $0.baseOffset == segment.baseOffset } }
            }
            let kept = partitions.flatMap { $0.segments.dropLast() }
            #expect(deleted.count == report.deletedSegments)
            #expect((deleted.map(\.maxTimestamp).max() ?? .min) <= (kept.map(\.maxTimestamp).min() ?? .max))
            #expect(try log.verify().isIntact)
        }
    }

    @Test("the disk budget is never exceeded while appending many times more than it",
          arguments: [true, false])
    func diskBudgetHolds(preallocate: Bool) throws {
        try withTemporaryDirectory("budget") { directory in
            var configuration = testConfiguration(directory)
            configuration.preallocate = preallocate
            configuration.diskBudget = 4 * (64 << 10)
            configuration.topics["a"] = TopicConfiguration(partitions: 2)
            configuration.topics["b"] = TopicConfiguration(partitions: 1)
            let log = try openLog(configuration)
            let partitions = log.allPartitions
            var next = [Int64](repeating: 0, count: partitions.count)
            var writtenBytes = 0
            var round = 0
            while writtenBytes < 3 << 20 {
                let p = round % partitions.count
                let readings = bulkyReadings(40, first: Int(next[p]))
                try partitions[p].append(readings)
                next[p] += 40
                writtenBytes += readings.reduce(0) { $0 + $1.approximateEncodedSize }
                let accounted = log.diskBytes
                let onDisk = segmentBytesOnDisk(directory)
                if accounted > configuration.diskBudget! || onDisk > configuration.diskBudget! {
                    Issue.record("round \(round): \(accounted) bytes accounted, \(onDisk) on disk, budget \(configuration.diskBudget!)")
                    break
                }
                round += 1
            }
            #expect(partitions.allSatisfy { $0.startOffset > 0 }, "every partition had to give up old segments")
            #expect(partitions.reduce(0) { $0 + $1.statistics.deletedSegments } > 10)
            for (p, partition) in partitions.enumerated() {
                #expect(partition.endOffset == next[p], "offsets go on: nothing reused")
                let (read, _) = try partition.readAll(from: partition.startOffset)
                #expect(read.first?.offset == partition.startOffset)
                #expect(read.last?.offset == next[p] - 1)
            }
            #expect(try log.verify().isIntact)
        }
    }

    @Test("consumed segments of other partitions go before unconsumed ones")
    func consumedSegmentsGoFirst() throws {
        try withTemporaryDirectory("consumed-first") { directory in
            var configuration = testConfiguration(directory)
            configuration.diskBudget = 6 * (64 << 10)
            configuration.topics["fast"] = TopicConfiguration()
            configuration.topics["slow"] = TopicConfiguration()
            let log = try openLog(configuration)
            let fast = try log.partition("fast", 0)
            let slow = try log.partition("slow", 0)
            try slow.commit(0, for: "sink")
            try append(bulkyReadings(4000), to: fast, batch: 40)
            try fast.commit(fast.durableOffset, for: "sink")
            let fastSegments = fast.segments.count
            #expect(fastSegments >= 3)
            // Fill the slow topic until the fast one has nothing consumed left to give.
            var appended = 0
            while fast.segments.count > 1 {
                try append(bulkyReadings(40, first: appended), to: slow, batch: 40)
                appended += 40
                #expect(slow.statistics.droppedUnconsumedReadings == 0,
                        "slow dropped unconsumed readings while fast still had consumed segments")
                if appended > 20_000 { break }
            }
            #expect(fast.segments.count == 1, "the consumed segments were reclaimed")
            #expect(fast.statistics.droppedUnconsumedReadings == 0)
            #expect(slow.startOffset == 0)
            // From now on the slow topic has to drop its own unconsumed data, and counts it.
            for _ in 0..<100 {
                try append(bulkyReadings(40, first: appended), to: slow, batch: 40)
                appended += 40
            }
            #expect(slow.startOffset > 0)
            #expect(slow.statistics.droppedUnconsumedReadings == slow.startOffset)
            #expect(log.diskBytes <= configuration.diskBudget!)
        }
    }

    @Test("drop-oldest counts exactly the readings no consumer had read")
    func dropOldestCountsExactly() throws {
        try withTemporaryDirectory("drop-count") { directory in
            var configuration = testConfiguration(directory)
            configuration.diskBudget = 3 * (64 << 10)
            let log = try openLog(configuration)
            let partition = try log.topic("t", creatingWith: 1)[0]
            try partition.commit(0, for: "slow")
            try partition.commit(0, for: "fast")
            var expectedDropped: Int64 = 0
            var appended = 0
            for round in 0..<300 {
                let before = partition.segments
                let slowest = partition.consumers.values.min()!
                try partition.append(bulkyReadings(40, first: appended))
                appended += 40
                for gone in before where !partition.segments.contains(where: { $0.baseOffset == gone.baseOffset }) {
                    expectedDropped += max(0, gone.nextOffset - max(slowest, gone.baseOffset))
                }
                // "fast" keeps up, "slow" lags far behind: "slow" decides what is unconsumed.
                if round % 10 == 0 { try partition.commit(partition.durableOffset, for: "fast") }
                if round % 100 == 0 {
                    try partition.commit(max(partition.startOffset, partition.durableOffset - 1000), for: "slow")
                }
            }
            #expect(partition.statistics.deletedSegments > 5)
            #expect(expectedDropped > 0)
            #expect(partition.statistics.droppedUnconsumedReadings == expectedDropped)
            #expect(partition.endOffset == Int64(appended))
        }
    }

    @Test("reject-new refuses appends once the budget is used up, counts them, and keeps the old data")
    func rejectNew() throws {
        try withTemporaryDirectory("reject-new") { directory in
            var configuration = testConfiguration(directory)
            configuration.diskBudget = 3 * (64 << 10)
            configuration.topics["t"] = TopicConfiguration(fullPolicy: .rejectNew)
            let log = try openLog(configuration)
            let partition = try log.partition("t", 0)
            try partition.commit(0, for: "sink")
            var written: [Reading] = []
            var rejected: Int64 = 0
            var refusals = 0
            for _ in 0..<400 {
                let readings = bulkyReadings(40, first: written.count + Int(rejected))
                do {
                    try partition.append(readings)
                    written += readings
                } catch let LogError.budgetExhausted(topic, count) {
                    #expect(topic == "t")
                    #expect(count == 40)
                    rejected += Int64(count)
                    refusals += 1
                    if refusals == 5 { break }
                }
            }
            #expect(refusals == 5)
            #expect(partition.statistics.rejectedReadings == rejected)
            #expect(partition.statistics.droppedUnconsumedReadings == 0)
            #expect(partition.startOffset == 0, "nothing unconsumed was deleted")
            #expect(log.diskBytes <= configuration.diskBudget!)
            // Smaller appends are refused too, without harm.
            #expect(throws: LogError.self) { try partition.append([written[0]]) }
            #expect(partition.statistics.rejectedReadings == rejected + 1)
            let (read, _) = try partition.readAll()
            #expect(read.map(\.reading) == written)
            #expect(partition.endOffset == Int64(written.count), "refused readings took no offsets")
            // Once the sink catches up, its segments make room again.
            try partition.commit(partition.durableOffset, for: "sink")
            let more = bulkyReadings(40, first: 100_000)
            try partition.append(more)
            #expect(partition.startOffset > 0)
            #expect(try partition.readAll(from: Int64(written.count)).readings.map(\.reading) == more)
            #expect(try log.verify().isIntact)
        }
    }

    @Test("offsets survive retention and reopening: the start moves, offsets are never reused")
    func offsetsSurviveRetention() throws {
        try withTemporaryDirectory("offsets") { directory in
            var configuration = testConfiguration(directory)
            configuration.topics["t"] = TopicConfiguration(retentionMilliseconds: 1)
            let written = bulkyReadings(3000)
            do {
                let log = try openLog(configuration)
                let partition = try log.partition("t", 0)
                try append(written, to: partition, batch: 40)
                try log.close()
            }
            do {
                // Reopened, the closed active segment becomes a sealed one retention can delete.
                // An old active segment rolls before the next batch.
                var rolling = configuration
                rolling.segmentMilliseconds = 1
                let log = try openLog(rolling)
                let partition = try log.partition("t", 0)
                usleep(5000)
                try partition.append(bulkyReadings(1, first: 3000))
                try log.enforceRetention(now: .max / 2)
                #expect(partition.startOffset == 3000)
                #expect(partition.endOffset == 3001)
                try log.close()
            }
            let log = try openLog(configuration)
            let partition = try log.partition("t", 0)
            #expect(partition.recovery.isClean, "\(partition.recovery)")
            #expect(partition.startOffset == 3000)
            #expect(partition.endOffset == 3001)
            try partition.append(bulkyReadings(2, first: 3001))
            let (read, reader) = try partition.readAll()
            #expect(read.map(\.offset) == [3000, 3001, 3002])
            #expect(reader.skippedReadings == 0)
            #expect(try log.verify().isIntact)
        }
    }

    @Test("creating a topic whose segments would not fit the disk budget is refused")
    func topicCreationRespectsTheBudget() throws {
        try withTemporaryDirectory("topic-budget") { directory in
            var configuration = testConfiguration(directory)
            configuration.diskBudget = 3 * (64 << 10)
            let log = try openLog(configuration)
            _ = try log.topic("a", creatingWith: 1)
            #expect(throws: LogError.self) { try log.topic("b", creatingWith: 4) }
            #expect(log.diskBytes <= configuration.diskBudget!)
            #expect(log.partitions(of: "b") == nil)
            _ = try log.topic("c", creatingWith: 1)
            #expect(log.diskBytes <= configuration.diskBudget!)
        }
    }

    @Test("a disk budget too small for the configured partitions is refused at open")
    func budgetTooSmall() throws {
        try withTemporaryDirectory("small-budget") { directory in
            var configuration = testConfiguration(directory)
            configuration.topics["t"] = TopicConfiguration(partitions: 4)
            configuration.diskBudget = 4 * (64 << 10)
            #expect(throws: LogError.self) { try openLog(configuration) }
            configuration.diskBudget = 5 * (64 << 10)
            _ = try openLog(configuration)
        }
    }
}

extension RetentionTests {
    @Test("a segment's age counts from its file's creation, across a restart")
    func segmentAgeSurvivesARestart() throws {
        try withTemporaryDirectory("segment-age") { directory in
            var configuration = testConfiguration(directory)
            configuration.topics["t"] = TopicConfiguration(partitions: 1)
            configuration.segmentMilliseconds = 1000
            let log = try openLog(configuration)
            try log.partition("t", 0).append(bulkyReadings(10))
            let created = SystemClock.wallMilliseconds() // the file is no younger
            try log.close()
            // Older than the segment age now, though it is about to be reopened.
            while SystemClock.wallMilliseconds() < created + configuration.segmentMilliseconds { usleep(20_000) }
            let reopened = try openLog(configuration)
            let partition = try reopened.partition("t", 0)
            try partition.append(bulkyReadings(10, first: 10))
            #expect(partition.segments.count == 2, "the first append after the restart rolled the old segment")
        }
    }
}
