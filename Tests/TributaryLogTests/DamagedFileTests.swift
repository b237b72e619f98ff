import Testing
@testable import TributaryLog
import TributaryTestSupport

@Suite("Damaged and unreadable files")
struct DamagedFileTests {
    /// Ways an index file can be wrong.
    enum IndexDamage: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case missing, flippedByte, truncated, empty, garbage, otherSegmentsIndex
        case wrongLength, wrongNextOffset, lastEntryMoved, entriesOutOfOrder, entryPastTheEnd
        var testDescription: String { rawValue }
    }

    @Test("a damaged, missing or disagreeing index is rebuilt from its segment", arguments: IndexDamage.allCases)
    func indexesAreRebuilt(damage: IndexDamage) throws {
        try withTemporaryDirectory("index") { directory in
            let written = try makeDamageTestLog(at: directory, keyInterval: 200)
            let segments = segmentFiles(in: directory + "/t-0")
            let index = indexPath(of: segments[0])
            let original = try Files.read(index)
            let parsed = try #require(SegmentIndex.parse(original))
            #expect(parsed.entries.count >= 3)
            func rewritten(_ change: (inout SegmentIndex) -> Void) -> [UInt8] {
                var copy = parsed
                change(&copy)
                return copy.serialized()
            }
            switch damage {
            case .missing: try Files.remove(index)
            case .flippedByte: try Files.patch(index, at: 30, with: [original[30] ^ 0x04])
            case .truncated: try Files.truncate(index, to: Int64(original.count - 7))
            case .empty: try Files.truncate(index, to: 0)
            case .garbage: try Files.write((0..<original.count).map { UInt8(truncatingIfNeeded: $0 &* 31) }, to: index)
            case .otherSegmentsIndex: try Files.write(try Files.read(indexPath(of: segments[1])), to: index)
            case .wrongLength: try Files.write(rewritten { $0.length -= 1 }, to: index)
            case .wrongNextOffset: try Files.write(rewritten { $0.nextOffset += 1 }, to: index)
            case .lastEntryMoved:
                try Files.write(rewritten { $0.entries[$0.entries.count - 1].position += 3 }, to: index)
            case .entriesOutOfOrder: try Files.write(rewritten { $0.entries.swapAt(0, 1) }, to: index)
            case .entryPastTheEnd:
                try Files.write(rewritten { $0.entries[1].position = $0.length + 100 }, to: index)
            }
            var configuration = testConfiguration(directory)
            configuration.keyInterval = 200
            let log = try openLog(configuration)
            let partition = try log.partition("t", 0)
            #expect(partition.recovery.rebuiltIndexes == [index], "\(partition.recovery)")
            #expect(partition.recovery.damage.isEmpty)
            #expect(try Files.read(index) == original, "the rebuilt index equals the one written at sealing")
            let (read, reader) = try partition.readAll()
            #expect(read.map(\.reading) == written)
            #expect(reader.skippedReadings == 0)
            #expect(try partition.readAll(from: 1111).readings.first?.reading == written[1111])
            #expect(try log.verify().isIntact)
        }
    }

    @Test("an unreadable sealed segment is moved aside, not deleted, and only its readings are lost")
    func garbageSealedSegment() throws {
        try withTemporaryDirectory("garbage-sealed") { directory in
            let written = try makeDamageTestLog(at: directory)
            let segments = segmentFiles(in: directory + "/t-0")
            let victim = segments[1]
            let lost = try batchLayout(of: victim)
            let lostRange = lost.first!.baseOffset..<(lost.last!.baseOffset + Int64(lost.last!.count))
            var generator = SeededGenerator(seed: testSeed(0x6A4B_A6E, "garbage sealed segment"))
            let garbage = (0..<Files.size(victim)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try Files.write(garbage, to: victim)

            let (log, partition, read, skipped) = try openAndReadBack(directory, written: written,
                                                                      context: "garbage segment")
            #expect(partition.recovery.quarantined == [victim])
            #expect(!Files.exists(victim) && !Files.exists(indexPath(of: victim)))
            #expect(try Files.read(victim + ".corrupt") == garbage, "the unreadable file is kept, byte for byte")
            #expect(partition.recovery.lostReadings == Int64(lostRange.count), "\(partition.recovery)")
            #expect(skipped == Int64(lostRange.count))
            #expect(read.map(\.offset) == (0..<Int64(written.count)).filter { !lostRange.contains($0) })
            #expect(try log.verify().problems.contains { $0.file == victim + ".corrupt" })
            try expectAppendsContinue(partition, at: Int64(written.count), context: "garbage segment")
        }
    }

    @Test("an unreadable active segment is moved aside every time, never overwriting an earlier one")
    func garbageActiveSegment() throws {
        try withTemporaryDirectory("garbage-active") { directory in
            let written = try makeDamageTestLog(at: directory)
            let active = segmentFiles(in: directory + "/t-0").last!
            let base = try #require(batchLayout(of: active).first?.baseOffset)
            let first = [UInt8](repeating: 0xA5, count: 5000)
            try Files.write(first, to: active)
            do {
                let (_, partition, read, _) = try openAndReadBack(directory, written: written, context: "garbage active")
                #expect(partition.recovery.quarantined == [active])
                #expect(read.count == Int(base))
                // Offsets go on from the last readable segment.
                try expectAppendsContinue(partition, at: base, context: "garbage active")
            }
            let second = [UInt8](repeating: 0x5A, count: 3000)
            try Files.write(second, to: active)
            let (log, partition, _, _) = try openAndReadBack(directory, written: written, context: "garbage again")
            #expect(partition.recovery.quarantined == [active])
            let kept = try Files.list(directory + "/t-0").filter { $0.hasSuffix(".corrupt") }
                .map { try Files.read(directory + "/t-0/" + $0) }
            #expect(kept.count == 2)
            #expect(kept.contains(first) && kept.contains(second), "both unreadable files are kept")
            let problems = try log.verify().problems
            #expect(problems.filter { $0.message.contains("moved aside") }.count == 2, "\(problems)")
            #expect(!problems.contains { $0.file == active }, "the new segment under the old name is healthy: \(problems)")
        }
    }

    @Test("temporary files from an interrupted index write are removed on open")
    func temporaryFilesAreRemoved() throws {
        try withTemporaryDirectory("tmp-files") { directory in
            let written = try makeDamageTestLog(at: directory)
            let leftover = indexPath(of: segmentFiles(in: directory + "/t-0")[0]) + ".tmp"
            try Files.write([1, 2, 3], to: leftover)
            let (log, _, read, _) = try openAndReadBack(directory, written: written, context: "tmp file")
            #expect(!Files.exists(leftover))
            #expect(read.count == written.count)
            #expect(try log.verify().isIntact)
        }
    }
}
