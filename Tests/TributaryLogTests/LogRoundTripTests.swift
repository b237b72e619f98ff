#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TributaryLog
import TributaryTestSupport

@Suite("Round trips through a log")
struct LogRoundTripTests {
    @Test("every value type and edge case reads back the same, before and after reopening")
    func everyValueThroughTheLog() throws {
        try withTemporaryDirectory("values") { directory in
            var written: [Reading] = []
            for (i, sequence) in ValueSequence.all.enumerated() {
                for (j, value) in sequence.values.enumerated() {
                    written.append(Reading(sensor: "\(sequence.name)", timestamp: Int64(j) * 1000 + Int64(i),
                                           value: value))
                }
            }
            let times: [Int64] = [.min, .max, 0, -1, .min + 1, 1_767_225_600_000, 1_767_225_599_000]
            written += times.map { Reading(sensor: "clock", timestamp: $0, value: .bool(true)) }
            written += (0..<10_000).map { Reading(sensor: "many-\($0)", timestamp: Int64($0), value: .int(Int64($0))) }
            var configuration = testConfiguration(directory)
            configuration.maxBatchReadings = 4096
            do {
                let log = try openLog(configuration)
                let partition = try log.topic("values", creatingWith: 1)[0]
                try append(written, to: partition, batch: 7)
                #expect(partition.durableOffset == Int64(written.count))
                let (read, reader) = try partition.readAll()
                #expect(read.map(\.reading) == written)
                #expect(read.map(\.offset) == (0..<Int64(written.count)).map { $0 })
                #expect(reader.skippedReadings == 0)
                try log.close()
            }
            let log = try openLog(configuration)
            let partition = try log.partition("values", 0)
            #expect(partition.recovery.isClean, "\(partition.recovery)")
            let (read, _) = try partition.readAll()
            #expect(read.map(\.reading) == written)
            #expect(try log.verify().isIntact)
        }
    }

    @Test("reading from any offset returns exactly the readings from there, using mid-segment key batches",
          arguments: [1, 37, 200])
    func readFromEveryOffset(keyInterval: Int) throws {
        try withTemporaryDirectory("key-spacing") { directory in
            var configuration = testConfiguration(directory)
            configuration.maxBatchReadings = 10
            configuration.keyInterval = keyInterval
            let log = try openLog(configuration)
            let partition = try log.topic("t", creatingWith: 1)[0]
            let written = bulkyReadings(3000)
            try append(written, to: partition, batch: 10)
            let segments = partition.segments
            #expect(segments.count >= 2)
            // Every segment starts with a key batch, and more follow every `keyInterval` readings.
            for segment in segments where !segment.entries.isEmpty {
                #expect(segment.entries[0].offset == segment.baseOffset && segment.entries[0].position == 0)
                let readings = Int(segment.nextOffset - segment.baseOffset)
                // Batches hold 10 readings, so a key batch comes every `keyInterval` rounded up to 10.
                let spacing = (keyInterval + 9) / 10 * 10
                let expectedEntries = (readings + spacing - 1) / spacing
                #expect(abs(segment.entries.count - expectedEntries) <= 1,
                        "segment \(segment.baseOffset): \(segment.entries.count) entries for \(readings) readings")
            }
            for offset in stride(from: Int64(0), through: 3000, by: 7) + [2999, 3000, 3001] {
                let reader = partition.reader(from: offset)
                let first = try reader.next()
                if offset >= 3000 {
                    #expect(first.isEmpty)
                    continue
                }
                #expect(first.first?.offset == offset)
                #expect(first.first?.reading == written[Int(offset)])
                expectAllMatch(first, written)
            }
            let (all, reader) = try partition.readAll(from: 1234)
            #expect(all.map(\.reading) == Array(written[1234...]))
            #expect(reader.skippedReadings == 0)
            #expect(try log.verify().isIntact)
        }
    }

    @Test("a log directory whose parents are missing is made with them")
    func missingParents() throws {
        try withTemporaryDirectory("parents") { directory in
            let log = try openLog(testConfiguration(directory + "/var/lib/tributary/log"))
            try log.topic("t", creatingWith: 1)[0].append(sampleReadings(3))
            #expect(try log.partition("t", 0).readAll().readings.count == 3)
            #expect(access(directory + "/var/lib/tributary/log/" + LogFileNames.partitionDirectory(topic: "t", partition: 0), F_OK) == 0)
        }
    }

    @Test("offsets before the start are clamped to the start")
    func readerBeforeStart() throws {
        try withTemporaryDirectory("clamp-reader") { directory in
            let log = try openLog(testConfiguration(directory))
            let partition = try log.topic("t", creatingWith: 1)[0]
            try partition.append(sampleReadings(10))
            #expect(try partition.readAll(from: -5).readings.map(\.offset) == Array(0..<10))
        }
    }

    @Test("readings larger in total than one batch may hold are still all readable")
    func batchesLargerThanTheFormatLimit() throws {
        try withTemporaryDirectory("huge-batch") { directory in
            var configuration = testConfiguration(directory)
            configuration.maxBatchReadings = 4096
            let log = try openLog(configuration)
            let partition = try log.topic("blobs", creatingWith: 1)[0]
            // 180 readings of 100 KB: 18 MB, more than a batch's 16 MiB maximum.
            let written = (0..<180).map { i in
                Reading(sensor: "camera", timestamp: Int64(i), value: .bytes([UInt8](repeating: UInt8(i), count: 100_000)))
            }
            try partition.append(written)
            #expect(partition.durableOffset == 180)
            let (read, reader) = try partition.readAll()
            #expect(read.count == 180)
            #expect(read.map(\.reading) == written)
            #expect(reader.skippedReadings == 0)
            #expect(try log.verify().isIntact)
        }
    }

    @Test("a single reading too large for any batch is refused and nothing unreadable is written")
    func readingLargerThanABatch() throws {
        try withTemporaryDirectory("huge-reading") { directory in
            let log = try openLog(testConfiguration(directory))
            let partition = try log.topic("blobs", creatingWith: 1)[0]
            try partition.append([Reading(sensor: "a", timestamp: 1, value: .int(1))])
            let huge = Reading(sensor: "a", timestamp: 2, value: .bytes([UInt8](repeating: 7, count: 17 << 20)))
            #expect(throws: LogError.self) { try partition.append([huge]) }
            try partition.append([Reading(sensor: "a", timestamp: 3, value: .int(3))])
            let (read, reader) = try partition.readAll()
            #expect(read.map(\.reading.timestamp) == [1, 3])
            #expect(read.map(\.offset) == [0, 1])
            #expect(reader.skippedReadings == 0)
            #expect(try log.verify().isIntact)
        }
    }

    @Test("partitions of a topic keep separate offsets, and a sensor always maps to one partition")
    func partitioning() throws {
        try withTemporaryDirectory("partitions") { directory in
            let log = try openLog(testConfiguration(directory))
            let partitions = try log.topic("t", creatingWith: 4)
            let written = sampleReadings(400, sensors: 40)
            var expected: [[Reading]] = Array(repeating: [], count: 4)
            for reading in written {
                let p = Log.partition(forSensor: reading.sensor, partitions: 4)
                #expect(p == Log.partition(forSensor: reading.sensor, partitions: 4))
                expected[p].append(reading)
                try partitions[p].append([reading])
            }
            #expect(expected.filter { !$0.isEmpty }.count > 1)
            for (p, partition) in partitions.enumerated() {
                #expect(try partition.readAll().readings.map(\.reading) == expected[p])
            }
            try log.close()
            let reopened = try openLog(testConfiguration(directory))
            #expect(reopened.topics == ["t"])
            #expect(reopened.partitions(of: "t")?.count == 4)
            #expect(throws: LogError.unknownPartition(topic: "t", partition: 4)) { try reopened.partition("t", 4) }
        }
    }

    @Test("topic and consumer names that are not safe file names are refused",
          arguments: ["", ".", "..", "a/b", "a b", String(repeating: "x", count: 65), "ü"])
    func unsafeNames(name: String) throws {
        try withTemporaryDirectory("names") { directory in
            let log = try openLog(testConfiguration(directory))
            #expect(throws: LogError.invalidName(name)) { try log.topic(name, creatingWith: 1) }
            let partition = try log.topic("ok", creatingWith: 1)[0]
            #expect(throws: LogError.invalidName(name)) { try partition.commit(0, for: name) }
        }
    }
}
