#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import Synchronization
import Testing
@testable import TributaryLog
import TributaryTestSupport

@Suite("Durability, readers and the write lock")
struct DurabilityTests {
    @Test("readers see nothing past the durable watermark until a sync")
    func readersStopAtTheDurableWatermark() throws {
        try withTemporaryDirectory("watermark") { directory in
            var configuration = testConfiguration(directory)
            configuration.flush = .interval(maxDelayMilliseconds: 3_600_000, maxBytes: 1 << 30)
            let log = try openLog(configuration)
            let partition = try log.topic("t", creatingWith: 1)[0]
            let written = bulkyReadings(2000)
            // Enough for whole batches to be written (and a segment to roll) without any sync.
            try append(written, to: partition, batch: 30)
            #expect(partition.endOffset == 2000)
            let durable = partition.durableOffset
            #expect(durable < 2000)
            #expect(partition.statistics.appendedReadings > durable, "batches were written but not synced")
            let reader = partition.reader(from: 0)
            var seen: [StoredReading] = []
            while true {
                let batch = try reader.next()
                if batch.isEmpty { break }
                seen += batch
            }
            #expect(seen.count == Int(durable))
            #expect(seen.allSatisfy { $0.offset < durable })
            #expect(try partition.readAll(from: durable).readings.isEmpty)
            try partition.sync()
            #expect(partition.durableOffset == 2000)
            // The same reader continues where it stopped.
            while true {
                let batch = try reader.next()
                if batch.isEmpty { break }
                seen += batch
            }
            #expect(seen.map(\.reading) == written)
            #expect(partition.statistics.syncs >= 1)
        }
    }

    @Test("the interval policy syncs once enough bytes are waiting")
    func intervalPolicyBytes() throws {
        try withTemporaryDirectory("interval-bytes") { directory in
            var configuration = testConfiguration(directory)
            configuration.flush = .interval(maxDelayMilliseconds: 3_600_000, maxBytes: 8 << 10)
            let log = try openLog(configuration)
            let partition = try log.topic("t", creatingWith: 1)[0]
            var durableSeen: Set<Int64> = []
            for round in 0..<40 {
                try partition.append(bulkyReadings(50, first: round * 50))
                durableSeen.insert(partition.durableOffset)
            }
            #expect(durableSeen.count > 3, "the watermark moved several times: \(durableSeen.sorted())")
        }
    }

    @Test("the interval policy syncs once the delay has passed", arguments: [0, 20])
    func intervalPolicyDelay(delay: Int64) throws {
        try withTemporaryDirectory("interval-delay") { directory in
            var configuration = testConfiguration(directory)
            configuration.flush = .interval(maxDelayMilliseconds: delay, maxBytes: 1 << 30)
            let log = try openLog(configuration)
            let partition = try log.topic("t", creatingWith: 1)[0]
            usleep(UInt32(delay + 5) * 1000)
            try partition.append(sampleReadings(10))
            #expect(partition.durableOffset == 10)
            try partition.append(sampleReadings(10, first: 10))
            if delay > 0 {
                #expect(partition.durableOffset == 10, "within the delay nothing is synced")
                try partition.syncIfDue()
                #expect(partition.durableOffset == 10)
                usleep(UInt32(delay + 5) * 1000)
                try partition.syncIfDue()
            }
            #expect(partition.durableOffset == 20)
        }
    }

    @Test("every-batch appends are durable when append returns, and survive reopening without close")
    func everyBatchIsDurableAtReturn() throws {
        try withTemporaryDirectory("every-batch") { directory in
            let written = sampleReadings(777)
            do {
                let log = try openLog(testConfiguration(directory))
                let partition = try log.topic("t", creatingWith: 1)[0]
                for (i, reading) in written.enumerated() {
                    try partition.append([reading])
                    if partition.durableOffset != Int64(i + 1) {
                        Issue.record("after append \(i) the durable offset is \(partition.durableOffset)")
                        break
                    }
                }
                // No close: as if the process died here.
            }
            let log = try openLog(testConfiguration(directory))
            let partition = try log.partition("t", 0)
            #expect(try partition.readAll().readings.map(\.reading) == written)
        }
    }

    /// Readings whose timestamps rise by 1 s with a jump, so some times fall between readings.
    static func timedReadings() -> [Reading] {
        bulkyReadings(3000).enumerated().map { i, reading in
            var copy = reading
            copy.timestamp = 1_000_000 + Int64(i) * 1000 + (i >= 1500 ? 500_000 : 0)
            return copy
        }
    }

    @Test("a reader from a timestamp starts at the first reading at or after it",
          arguments: [Int64.min, 0, 1_000_000, 1_000_001, 1_999_000, 2_345_678, 2_499_000, 2_499_001,
                      2_600_000, 2_999_999, 3_999_000, 3_999_001, .max])
    func readerFromTimestamp(time: Int64) throws {
        try withTemporaryDirectory("from-time") { directory in
            var configuration = testConfiguration(directory)
            configuration.keyInterval = 120
            let log = try openLog(configuration)
            let partition = try log.topic("t", creatingWith: 1)[0]
            let written = Self.timedReadings()
            try append(written, to: partition, batch: 40)
            #expect(partition.segments.count >= 3)
            let expectedStart = written.firstIndex { $0.timestamp >= time } ?? written.count
            let reader = partition.reader(fromTimestamp: time)
            var read: [StoredReading] = []
            while true {
                let batch = try reader.next()
                if batch.isEmpty { break }
                read += batch
            }
            #expect(read.first?.offset == (expectedStart < written.count ? Int64(expectedStart) : nil))
            #expect(read.map(\.reading) == Array(written[expectedStart...]))
        }
    }

    @Test("a reader from a timestamp with out-of-order readings starts at the first reading at or after it")
    func readerFromTimestampOutOfOrder() throws {
        try withTemporaryDirectory("from-time-unordered") { directory in
            var configuration = testConfiguration(directory)
            configuration.keyInterval = 100
            let log = try openLog(configuration)
            let partition = try log.topic("t", creatingWith: 1)[0]
            var generator = SeededGenerator(seed: testSeed(0x0DD7_1AE5, "out-of-order timestamps"))
            let written = bulkyReadings(3000).enumerated().map { i, reading in
                var copy = reading
                // Late readings: mostly rising, with jitter of up to a minute either way.
                copy.timestamp = Int64(i) * 1000 + Int64.random(in: -60_000...60_000, using: &generator)
                return copy
            }
            try append(written, to: partition, batch: 40)
            for time in stride(from: Int64(-70_000), through: 3_070_000, by: 97_531) {
                let expectedStart = written.firstIndex { $0.timestamp >= time } ?? written.count
                let reader = partition.reader(fromTimestamp: time)
                let first = try reader.next()
                #expect(first.first?.offset == (expectedStart < written.count ? Int64(expectedStart) : nil),
                        "from \(time)")
            }
        }
    }

    @Test("a read-only open does not take the lock, changes nothing, and sees durable data after refresh")
    func readOnlyBesideAWriter() throws {
        try withTemporaryDirectory("read-only") { directory in
            let writer = try openLog(testConfiguration(directory))
            let partition = try writer.topic("t", creatingWith: 1)[0]
            let written = bulkyReadings(3000)
            try append(Array(written[..<1000]), to: partition, batch: 40)
            try partition.commit(500, for: "sink")

            func snapshot() -> [String: Int64] {
                var sizes: [String: Int64] = [:]
                for name in Files.list(directory + "/t-0") { sizes[name] = Files.size(directory + "/t-0/" + name) }
                return sizes
            }
            let before = snapshot()
            let inspector = try openLog(testConfiguration(directory), readOnly: true)
            #expect(snapshot() == before, "a read-only open changes nothing")
            #expect(inspector.isReadOnly)
            let view = try inspector.partition("t", 0)
            #expect(view.endOffset == 1000)
            #expect(view.committedOffset(for: "sink") == 500)
            let reader = view.reader(from: 0)
            var seen: [StoredReading] = []
            func drain() throws {
                while true {
                    let batch = try reader.next()
                    if batch.isEmpty { break }
                    seen += batch
                }
            }
            try drain()
            #expect(seen.count == 1000)

            // A few batches in the same segment: seen only after refresh.
            try append(Array(written[1000..<1100]), to: partition, batch: 40)
            try drain()
            #expect(seen.count == 1000)
            try view.refresh()
            #expect(view.endOffset == 1100)
            try drain()
            #expect(seen.count == 1100)
            // The writer goes on, rolling segments; the inspector sees it only after refresh.
            try append(Array(written[1100...]), to: partition, batch: 40)
            try partition.commit(2500, for: "sink")
            try drain()
            #expect(seen.count == 1100)
            try view.refresh()
            #expect(view.endOffset == 3000)
            #expect(view.committedOffset(for: "sink") == 2500)
            try drain()
            #expect(seen.map(\.reading) == written)
            #expect(reader.skippedReadings == 0)
            #expect(try inspector.verify().isIntact)
            // Another writer is still refused while the first holds the lock.
            #expect(throws: LogError.locked(path: directory + "/.lock")) {
                try Log.open(testConfiguration(directory))
            }
        }
    }

    @Test("under every-batch, a reading too large for a batch is refused alone and the others are durable at once")
    func oversizedReadingUnderEveryBatch() throws {
        try withTemporaryDirectory("oversized") { directory in
            let log = try openLog(testConfiguration(directory))
            let partition = try log.topic("t", creatingWith: 1)[0]
            let huge = Reading(sensor: "camera", timestamp: 2,
                               value: .bytes(Array(repeating: 1, count: BatchHeader.maximumLength)))
            let small = sampleReadings(2)
            #expect(throws: LogError.self) { try partition.append([small[0], huge, small[1]]) }
            #expect(partition.durableOffset == 2, "the readings around the refused one are durable without another append")
            #expect(partition.statistics.rejectedReadings == 1)
            #expect(try partition.readAll().readings.map(\.reading) == small)
        }
    }

    @Test("readers and observers do not wait for the writer's lock (held across fdatasync)")
    func observationDoesNotTakeTheWriteLock() throws {
        try withTemporaryDirectory("observe") { directory in
            let log = try openLog(testConfiguration(directory))
            let partition = try log.topic("t", creatingWith: 1)[0]
            try partition.append(sampleReadings(120))
            try partition.commit(100, for: "sink")
            let entered = DispatchSemaphore(value: 0)
            let release = DispatchSemaphore(value: 0)
            let released = Atomic(false)
            // The writer, stuck inside its lock as in a slow fdatasync; let go after 30 s at the latest.
            Thread {
                partition.mutate { _ in
                    entered.signal()
                    _ = release.wait(timeout: .now() + 30)
                    released.store(true, ordering: .releasing)
                }
            }.start()
            entered.wait()
            let view = partition.view
            let read = try partition.reader(from: 0).next()
            let observed = (partition.durableOffset, partition.startOffset, partition.statistics.appendedReadings,
                            partition.diskBytes, partition.committedOffset(for: "sink"), partition.endOffset)
            let whileHeld = !released.load(ordering: .acquiring)
            release.signal()
            #expect(whileHeld, "every observation returned while the writer held its lock")
            #expect(view.durableOffset == 120 && observed.0 == 120 && observed.2 == 120 && observed.4 == 100)
            #expect(read.first?.offset == 0 && !read.isEmpty)
        }
    }

    @Test("a second writer is refused with .locked until the first closes")
    func writeLock() throws {
        try withTemporaryDirectory("lock") { directory in
            let first = try openLog(testConfiguration(directory))
            try first.topic("t", creatingWith: 1)[0].append(sampleReadings(3))
            #expect(throws: LogError.locked(path: directory + "/.lock")) {
                try Log.open(testConfiguration(directory))
            }
            try first.close()
            let second = try openLog(testConfiguration(directory))
            #expect(try second.partition("t", 0).endOffset == 3)
        }
    }

    @Test("opening a missing directory read-only fails instead of creating it")
    func readOnlyMissingDirectory() throws {
        try withTemporaryDirectory("missing") { directory in
            #expect(throws: LogError.self) { try openLog(testConfiguration(directory + "/nope"), readOnly: true) }
            #expect(!Files.exists(directory + "/nope"))
        }
    }

    @Test("invalid configurations are refused with a message")
    func invalidConfigurations() throws {
        var configuration = testConfiguration("/tmp/unused")
        configuration.segmentBytes = 1000
        #expect(throws: LogError.self) { try openLog(configuration) }
        configuration = testConfiguration("/tmp/unused")
        configuration.maxBatchReadings = 0
        #expect(throws: LogError.self) { try openLog(configuration) }
        configuration = testConfiguration("/tmp/unused")
        configuration.topics["bad/name"] = TopicConfiguration()
        #expect(throws: LogError.invalidName("bad/name")) { try openLog(configuration) }
        #expect(!Files.exists("/tmp/unused"))
    }
}
