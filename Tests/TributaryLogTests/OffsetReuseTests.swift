import Testing
@testable import TributaryLog
import TributaryTestSupport

/// Sinks and the central side identify a reading by (topic, partition,
/// offset): an offset handed out twice would make a new reading look like a
/// duplicate of one already forwarded.
@Suite("Offsets are never reused")
struct OffsetReuseTests {
    @Test("after recovery cuts a damaged last batch below a committed offset, appends continue above the commit",
          arguments: [false, true])
    func appendsContinueAboveTheHighestCommit(unreadableSegment: Bool) throws {
        try withTemporaryDirectory("offset-floor") { directory in
            let configuration = testConfiguration(directory)
            let written = sampleReadings(120)
            do {
                let log = try openLog(configuration)
                let partition = try log.topic("t", creatingWith: 1)[0]
                try append(written, to: partition, batch: 40)
                try partition.commit(120, for: "sink")
                try log.close()
            }
            let segment = try #require(segmentFiles(in: directory + "/t-0").last)
            if unreadableSegment {
                // Nothing in the file is readable: recovery moves it aside.
                try Files.write([UInt8](repeating: 0xA5, count: Int(Files.size(segment))), to: segment)
                try? Files.remove(indexPath(of: segment))
            } else {
                // Bit rot in the last (durable, forwarded) batch: recovery cuts it as a torn tail.
                let last = try #require(try batchLayout(of: segment).last)
                try Files.patch(segment, at: last.position + 50, with: [0xFF, 0x00, 0xFF])
                try? Files.remove(indexPath(of: segment))
            }

            let log = try openLog(configuration)
            let partition = try log.partition("t", 0)
            #expect(partition.endOffset == 120)
            #expect(partition.committedOffset(for: "sink") == 120)
            #expect(partition.recovery.damage.contains { $0.lostOffsets.upperBound == 120 })
            let next = Reading(sensor: "new", timestamp: 1, value: .int(7))
            try partition.append([next])
            let stored = try partition.readAll(from: 0).readings
            #expect(stored.last == StoredReading(offset: 120, reading: next))
            #expect(stored.allSatisfy { $0.offset >= 120 || $0.reading == written[Int($0.offset)] })
            try log.close()
        }
    }

    @Test("a commit below the start offset is recorded as the start")
    func commitBelowStartIsClamped() throws {
        try withTemporaryDirectory("commit-clamp") { directory in
            var configuration = testConfiguration(directory)
            configuration.topics["t"] = TopicConfiguration(partitions: 1, retentionBytes: 1)
            let log = try openLog(configuration)
            let partition = try log.partition("t", 0)
            try partition.register(consumer: "sink")
            try append(bulkyReadings(3000), to: partition, batch: 40)
            try partition.commit(partition.durableOffset, for: "sink")
            try log.enforceRetention()
            let start = partition.startOffset
            #expect(start > 0)
            try partition.commit(0, for: "sink")
            #expect(partition.committedOffset(for: "sink") == start)
            try log.close()
        }
    }
}
