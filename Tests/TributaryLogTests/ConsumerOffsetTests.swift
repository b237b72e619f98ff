import Testing
@testable import TributaryLog

/// Ways a consumer offset slot can be damaged on disk.
enum SlotDamage: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case flippedOffsetByte, flippedChecksum, zeroed, halfWritten, badMagic
    var testDescription: String { rawValue }

    func apply(to path: String, slot: Int) throws {
        let at = Int64(slot * ConsumerOffsetFile.slotSize)
        let bytes = try Files.read(path)
        let slotBytes = Array(bytes[Int(at)..<Int(at + 24)])
        switch self {
        case .flippedOffsetByte: try Files.patch(path, at: at + 13, with: [slotBytes[13] ^ 0x01])
        case .flippedChecksum: try Files.patch(path, at: at + 21, with: [slotBytes[21] ^ 0x80])
        case .zeroed: try Files.patch(path, at: at, with: [UInt8](repeating: 0, count: 24))
        // A torn write: the new sequence and offset reached the disk, the checksum did not.
        case .halfWritten: try Files.patch(path, at: at + 12, with: [UInt8](repeating: 0x77, count: 12))
        case .badMagic: try Files.patch(path, at: at, with: [slotBytes[0] ^ 0xFF])
        }
    }
}

@Suite("Consumer offsets")
struct ConsumerOffsetTests {
    /// A log with 500 durable readings in topic "t".
    func makeLog(_ directory: String) throws -> (Log, Partition) {
        let log = try openLog(testConfiguration(directory))
        let partition = try log.topic("t", creatingWith: 1)[0]
        try append(sampleReadings(500), to: partition, batch: 50)
        return (log, partition)
    }

    func consumerFile(_ directory: String, _ name: String) -> String {
        directory + "/t-0/consumer-\(name).offset"
    }

    @Test("commits are durable and reload after reopening")
    func commitAndReload() throws {
        try withTemporaryDirectory("commit") { directory in
            do {
                let (log, partition) = try makeLog(directory)
                #expect(partition.committedOffset(for: "kafka") == nil)
                for offset: Int64 in [0, 10, 10, 250, 499, 500] { try partition.commit(offset, for: "kafka") }
                try partition.commit(42, for: "mqtt")
                #expect(partition.committedOffset(for: "kafka") == 500)
                #expect(partition.consumers == ["kafka": 500, "mqtt": 42])
                try log.close()
            }
            let log = try openLog(testConfiguration(directory))
            let partition = try log.partition("t", 0)
            #expect(partition.consumers == ["kafka": 500, "mqtt": 42])
            #expect(partition.recovery.isClean)
            // Slot 1 (sequence 1, 3, ...) at byte 4096: FORMAT.md, "Consumer offset file".
            #expect(Files.size(consumerFile(directory, "kafka")) == 4096 + 24)
            #expect(try log.verify().isIntact)
        }
    }

    @Test("a commit beyond the durable watermark is refused; one before the start is recorded as the start")
    func commitBeyondDurableIsRefused() throws {
        try withTemporaryDirectory("commit-range") { directory in
            var configuration = testConfiguration(directory)
            configuration.flush = .interval(maxDelayMilliseconds: 3_600_000, maxBytes: 1 << 30)
            let log = try openLog(configuration)
            let partition = try log.topic("t", creatingWith: 1)[0]
            try partition.append(sampleReadings(120))
            #expect(partition.endOffset == 120)
            #expect(partition.durableOffset < 120)
            let durable = partition.durableOffset
            #expect(throws: LogError.offsetOutOfRange(requested: durable + 1, start: 0, end: durable)) {
                try partition.commit(durable + 1, for: "sink")
            }
            #expect(partition.committedOffset(for: "sink") == nil)
            try partition.commit(-1, for: "sink")
            #expect(partition.committedOffset(for: "sink") == 0)
            try partition.sync()
            try partition.commit(120, for: "sink")
            #expect(throws: LogError.self) { try partition.commit(121, for: "sink") }
            #expect(partition.committedOffset(for: "sink") == 120)
        }
    }

    @Test("a damaged newest slot falls back to the previous commit, never to invented progress",
          arguments: SlotDamage.allCases)
    func damagedNewestSlot(damage: SlotDamage) throws {
        try withTemporaryDirectory("torn-slot") { directory in
            do {
                let (log, partition) = try makeLog(directory)
                try partition.commit(100, for: "sink") // sequence 1, slot 1
                try partition.commit(200, for: "sink") // sequence 2, slot 0
                try partition.commit(300, for: "sink") // sequence 3, slot 1
                try log.close()
            }
            let path = consumerFile(directory, "sink")
            try damage.apply(to: path, slot: 1)
            do {
                let inspector = try openLog(testConfiguration(directory), readOnly: true)
                #expect(try inspector.partition("t", 0).committedOffset(for: "sink") == 200)
            }
            do {
                let log = try openLog(testConfiguration(directory))
                let partition = try log.partition("t", 0)
                #expect(partition.committedOffset(for: "sink") == 200)
                // The next commit must replace the damaged slot, not the good one.
                try partition.commit(400, for: "sink")
                try log.close()
            }
            let bytes = try Files.read(path)
            #expect(Array(bytes[0..<24]) != [UInt8](repeating: 0, count: 24))
            let log = try openLog(testConfiguration(directory))
            #expect(try log.partition("t", 0).committedOffset(for: "sink") == 400)
            // Damage the slot just written: the one before it (200) must still be there.
            try damage.apply(to: path, slot: 1)
            let again = try openLog(testConfiguration(directory), readOnly: true)
            #expect(try again.partition("t", 0).committedOffset(for: "sink") == 200)
        }
    }

    @Test("a damaged older slot does not affect the newest commit", arguments: SlotDamage.allCases)
    func damagedOlderSlot(damage: SlotDamage) throws {
        try withTemporaryDirectory("old-slot") { directory in
            do {
                let (log, partition) = try makeLog(directory)
                try partition.commit(100, for: "sink") // slot 1
                try partition.commit(200, for: "sink") // slot 0
                try log.close()
            }
            try damage.apply(to: consumerFile(directory, "sink"), slot: 1)
            let log = try openLog(testConfiguration(directory))
            let partition = try log.partition("t", 0)
            #expect(partition.committedOffset(for: "sink") == 200)
            #expect(partition.recovery.clampedConsumers.isEmpty)
        }
    }

    @Test("the slots are 4096 bytes apart: wiping the first 24 bytes keeps the commit in the second")
    func slotsAreOnePageApart() throws {
        try withTemporaryDirectory("slot-layout") { directory in
            do {
                let (log, partition) = try makeLog(directory)
                try partition.commit(100, for: "sink") // sequence 1, at byte 4096
                try partition.commit(200, for: "sink") // sequence 2, at byte 0
                try log.close()
            }
            let path = consumerFile(directory, "sink")
            let bytes = try Files.read(path)
            #expect(bytes.count == 4096 + 24)
            #expect(Array(bytes[4096..<4100]) == Array("TBCO".utf8))
            #expect(Array(bytes[0..<4]) == Array("TBCO".utf8))
            try Files.patch(path, at: 0, with: [UInt8](repeating: 0, count: 24))
            let log = try openLog(testConfiguration(directory), readOnly: true)
            #expect(try log.partition("t", 0).committedOffset(for: "sink") == 100)
        }
    }

    @Test("with both slots damaged the consumer restarts from the log's start, and that is reported",
          arguments: [false, true])
    func bothSlotsDamaged(readOnly: Bool) throws {
        try withTemporaryDirectory("both-slots") { directory in
            do {
                let (log, partition) = try makeLog(directory)
                try partition.commit(100, for: "sink")
                try partition.commit(200, for: "sink")
                try log.close()
            }
            let path = consumerFile(directory, "sink")
            try SlotDamage.flippedOffsetByte.apply(to: path, slot: 0)
            try SlotDamage.zeroed.apply(to: path, slot: 1)
            if !readOnly {
                let inspector = try openLog(testConfiguration(directory), readOnly: true)
                #expect(try inspector.verify().problems.contains { $0.file == path })
            }
            let log = try openLog(testConfiguration(directory), readOnly: readOnly)
            let partition = try log.partition("t", 0)
            #expect(partition.committedOffset(for: "sink") == 0)
            #expect(partition.recovery.clampedConsumers.map(\.consumer) == ["sink"], "\(partition.recovery)")
            #expect(!partition.recovery.isClean)
        }
    }

    @Test("a committed offset behind the start (retention took it) is clamped to the start and reported")
    func clampedToStart() throws {
        try withTemporaryDirectory("clamp-start") { directory in
            var configuration = testConfiguration(directory)
            configuration.topics["t"] = TopicConfiguration(retentionMilliseconds: 1)
            do {
                let log = try openLog(configuration)
                let partition = try log.partition("t", 0)
                try append(bulkyReadings(3000), to: partition, batch: 40)
                try partition.commit(10, for: "sink")
                try partition.commit(3000, for: "done")
                try log.enforceRetention(now: .max / 2)
                #expect(partition.startOffset > 10)
                // In memory the committed offset is what was committed; readers skip and count.
                try log.close()
            }
            let log = try openLog(configuration)
            let partition = try log.partition("t", 0)
            let start = partition.startOffset
            #expect(start > 10)
            #expect(partition.committedOffset(for: "sink") == start)
            #expect(partition.committedOffset(for: "done") == 3000)
            let clamped = partition.recovery.clampedConsumers
            #expect(clamped.count == 1)
            #expect(clamped.first?.consumer == "sink" && clamped.first?.from == 10 && clamped.first?.to == start)
            // The clamp is durable.
            try log.close()
            let again = try openLog(configuration)
            #expect(try again.partition("t", 0).recovery.clampedConsumers.isEmpty)
        }
    }

    @Test("a commit past a tail lost to damage keeps its offset: the log's end moves up to it, the gap is reported")
    func endRaisedToCommit() throws {
        try withTemporaryDirectory("clamp-end") { directory in
            let written = try makeDamageTestLog(at: directory)
            do {
                let log = try openLog(testConfiguration(directory))
                try log.partition("t", 0).commit(Int64(written.count), for: "sink")
            }
            // Corrupt the last batch: recovery cuts it as a torn tail.
            let active = segmentFiles(in: directory + "/t-0").last!
            let last = try #require(try batchLayout(of: active).last)
            try Files.patch(active, at: last.position + 45, with: [0xEE])
            let log = try openLog(testConfiguration(directory))
            let partition = try log.partition("t", 0)
            // Offsets below the commit were forwarded: they must never be handed out again.
            #expect(partition.endOffset == Int64(written.count))
            #expect(partition.committedOffset(for: "sink") == Int64(written.count))
            #expect(partition.recovery.clampedConsumers.isEmpty)
            #expect(partition.recovery.damage.contains { $0.lostOffsets == last.baseOffset..<Int64(written.count) })
        }
    }
}
