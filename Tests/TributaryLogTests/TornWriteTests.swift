#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TributaryLog
import TributaryTestSupport

@Suite("Torn writes and damage")
struct TornWriteTests {
    @Test("a last batch cut at every byte position loses only that batch",
          arguments: TornBatch.allCases, CutStyle.allCases)
    func cutAtEveryByte(batch: TornBatch, style: CutStyle) throws {
        try withTemporaryDirectory("cut") { directory in
            let pristine = directory + "/pristine"
            let written = try makeDamageTestLog(at: pristine, lastBatch: batch)
            let activeName = Files.list(pristine + "/t-0").filter { $0.hasSuffix(".log") }.last!
            let torn = try #require(try batchLayout(of: pristine + "/t-0/" + activeName).last)
            #expect(torn.baseOffset == 3000 && torn.count == 12)
            let header = try Files.read(pristine + "/t-0/" + activeName)
                .dropFirst(Int(torn.position)).prefix(BatchHeader.size)
            let kept = Array(written[..<3000])
            let issues = IssueCounter()
            var checkedWholeLog = false
            for cut in torn.position..<torn.end {
                // Cut short, or zeroed from the cut on (a write torn inside
                // preallocated space), the last batch is a torn tail, cut, even
                // when it is the segment's first, unless the zeros leave a header
                // that does not parse: bytes that are no batch at all, which
                // recovery keeps (moved aside). A write tears at a sector or page
                // boundary, so a real torn append never ends inside its 40-byte header.
                let keptHeader = header.enumerated().map { Int64($0.offset) < cut - torn.position ? $0.element : 0 }
                let movedAside = style == .zeroFill && batch == .aloneInSegment && cut > torn.position
                    && keptHeader.withUnsafeBytes { (try? BatchHeader.parse($0).get()) == nil }
                let context = "\(batch) \(style) cut at byte \(cut - torn.position) of \(torn.length)"
                let work = directory + "/work"
                try? Files.remove(work)
                try Files.copyDirectory(pristine, to: work)
                let target = work + "/t-0/" + activeName
                switch style {
                case .truncate: try Files.truncate(target, to: cut)
                case .zeroFill: try Files.patch(target, at: cut, with: [UInt8](repeating: 0, count: Int(torn.end - cut)))
                }
                let log: Log
                do {
                    log = try openLog(testConfiguration(work))
                } catch {
                    issues.expect(false, "\(context): recovery refused to start: \(error)")
                    break
                }
                let partition = try log.partition("t", 0)
                let report = partition.recovery
                issues.expect(report.damage.isEmpty, "\(context): \(report)")
                if movedAside {
                    issues.expect(report.quarantined == [target] && report.truncatedTail == nil,
                                  "\(context): moved aside \(report)")
                    issues.expect(Files.size(target + ".corrupt") > 0, "\(context): the torn file is kept")
                } else {
                    issues.expect(report.quarantined.isEmpty, "\(context): \(report)")
                    issues.expect((report.truncatedTail != nil) == (cut > torn.position), "\(context): tail \(report)")
                    // Only the torn batch's own written bytes count as cut, not the zeros after them.
                    issues.expect(report.truncatedTail.map { $0.position == torn.position && $0.bytes <= cut - torn.position } ?? true,
                                  "\(context): cut \(String(describing: report.truncatedTail))")
                }
                issues.expect(partition.endOffset == 3000, "\(context): end \(partition.endOffset)")
                // The sealed segments are read once; afterwards only the active one.
                let from: Int64 = checkedWholeLog ? (partition.segments.last?.baseOffset ?? 0) : 0
                checkedWholeLog = true
                let (read, reader) = try partition.readAll(from: from)
                issues.expect(read.map(\.reading) == Array(kept[Int(from)...]),
                              "\(context): read \(read.count) readings from \(from)")
                issues.expect(reader.skippedReadings == 0, "\(context): skipped \(reader.skippedReadings)")
                let verification = try log.verify()
                issues.expect(movedAside ? verification.problems.allSatisfy { $0.file == target + ".corrupt" }
                                         : verification.isIntact, "\(context): \(verification.problems)")
                try expectAppendsContinue(partition, at: 3000, context: context, issues: issues)
                try log.close()
                let reopened = try openLog(testConfiguration(work))
                issues.expect(reopened.recovery.allSatisfy(\.isClean), "\(context): \(reopened.recovery)")
                issues.expect(try reopened.partition("t", 0).endOffset == 3005, "\(context): end after reopening")
                if issues.count > 0 { break }
            }
        }
    }

    @Test("random byte flips never stop recovery, never serve a damaged reading, and keep what came before",
          arguments: ["sealed", "active"], [65_536, 200])
    func randomFlips(target: String, keyInterval: Int) throws {
        let seed = testSeed((target == "sealed" ? 0xF11D_5EA1 : 0xF11D_AC71) &+ UInt64(keyInterval),
                            "random flips in the \(target) segment, key interval \(keyInterval)")
        var generator = SeededGenerator(seed: seed)
        try withTemporaryDirectory("flips") { directory in
            let pristine = directory + "/pristine"
            let written = try makeDamageTestLog(at: pristine, keyInterval: keyInterval)
            let names = Files.list(pristine + "/t-0").filter { $0.hasSuffix(".log") }
            let layouts = try names.map { try batchLayout(of: pristine + "/t-0/" + $0) }
            let issues = IssueCounter()
            for round in 0..<40 {
                let which = target == "sealed" ? Int.random(in: 0..<(names.count - 1), using: &generator)
                    : names.count - 1
                let batches = layouts[which]
                let dataEnd = batches.last!.end
                let flips = (0..<Int.random(in: 1...3, using: &generator)).map { _ in
                    (Int64.random(in: 0..<dataEnd, using: &generator), UInt8.random(in: 1...255, using: &generator))
                }
                let context = "seed \(seed) round \(round): \(names[which]) flips \(flips)"
                let firstDamaged = flips.map { flip in batches.first { $0.end > flip.0 }!.baseOffset }.min()!
                let segmentEnd = which + 1 < layouts.count ? layouts[which + 1][0].baseOffset : Int64(written.count)

                let work = directory + "/work"
                try? Files.remove(work)
                try Files.copyDirectory(pristine, to: work)
                let path = work + "/t-0/" + names[which]
                var bytes = try Files.read(path)
                for (position, mask) in flips { bytes[Int(position)] ^= mask }
                try Files.patch(path, at: 0, with: bytes)

                // Read-only first: it changes nothing and must name the damaged file.
                do {
                    let inspector = try openLog(testConfiguration(work), readOnly: true)
                    let partition = try inspector.partition("t", 0)
                    expectAllMatch(try partition.readAll().readings, written, context + " (read-only)", issues: issues)
                    let problems = try inspector.verify().problems
                    issues.expect(problems.contains { $0.file == path }, "\(context): read-only verify found \(problems)")
                }
                let (log, partition, read, _) = try openAndReadBack(work, written: written, context: context,
                                                                    issues: issues)
                let offsets = Set(read.map(\.offset))
                let missingBefore = (0..<firstDamaged).filter { !offsets.contains($0) }
                issues.expect(missingBefore.isEmpty, "\(context): lost \(missingBefore.count) readings before the damage")
                let missingAfter = (segmentEnd..<partition.durableOffset).filter { !offsets.contains($0) }
                issues.expect(missingAfter.isEmpty, "\(context): lost \(missingAfter.count) readings in later segments")
                let report = partition.recovery
                let problems = try log.verify().problems
                issues.expect(problems.contains { $0.file == path } || report.truncatedTail?.file == path,
                              "\(context): damage neither reported by verify (\(problems)) nor cut as a torn tail")
                let end = partition.endOffset
                issues.expect(end >= firstDamaged, "\(context): end \(end) before the damage at \(firstDamaged)")
                try expectAppendsContinue(partition, at: end, context: context, issues: issues)
                if issues.count > 0 { break }
            }
        }
    }

    @Test("zeroed pages in the middle of the active segment cost only the readings that depend on them",
          arguments: [65_536, 100])
    func zeroedPagesInTheActiveSegment(keyInterval: Int) throws {
        try withTemporaryDirectory("zero-page") { directory in
            let pristine = directory + "/pristine"
            var written = try makeDamageTestLog(at: pristine, keyInterval: keyInterval)
            let active = segmentFiles(in: pristine + "/t-0").last!
            let layout = try batchLayout(of: active)
            #expect(layout.last!.end > 3 * 4096, "the active segment must span several pages")
            try Files.patch(active, at: 4096, with: [UInt8](repeating: 0, count: 4096))
            let firstDamaged = layout.first { $0.end > 4096 }!.baseOffset
            let firstIntact = layout.first { $0.position >= 8192 }!

            var configuration = testConfiguration(pristine)
            configuration.keyInterval = keyInterval
            let log = try openLog(configuration)
            let partition = try log.partition("t", 0)
            let report = partition.recovery
            #expect(report.damage.contains { $0.file == active }, "\(report)")
            #expect(report.lostReadings == firstIntact.baseOffset - firstDamaged, "\(report)")
            let (read, reader) = try partition.readAll()
            expectAllMatch(read, written)
            #expect(Int64(read.count) + reader.skippedReadings == 3012)
            #expect(read.prefix { $0.offset < firstDamaged }.count == Int(firstDamaged))
            #expect(!reader.damage.isEmpty)
            if keyInterval == 100 {
                // Batches from the next key batch on decode again.
                let nextKey = layout.first { $0.position >= 8192 && $0.isKey }!.baseOffset
                #expect(Set(read.map(\.offset)).isSuperset(of: nextKey..<3012))
            }
            let problems = try log.verify().problems
            #expect(problems.contains { $0.file == active }, "\(problems)")
            try expectAppendsContinue(partition, at: 3012, context: "after zeroed page")
            written += sampleReadings(5, first: 9000)
            try log.close()
            // The damage stays reported, the data around it stays readable.
            let reopened = try openLog(configuration)
            let again = try reopened.partition("t", 0).readAll()
            expectAllMatch(again.readings, written)
            #expect(again.readings.count == read.count + 5)
        }
    }

    @Test("a batch zeroed from its first byte does not end the segment for readers",
          arguments: ["sealed", "active"])
    func zeroedWholeBatch(target: String) throws {
        try withTemporaryDirectory("zero-batch") { directory in
            let written = try makeDamageTestLog(at: directory, keyInterval: 100)
            let files = segmentFiles(in: directory + "/t-0")
            let path = target == "sealed" ? files[0] : files.last!
            let layout = try batchLayout(of: path)
            // A non-key batch in the first half, followed by a key batch later on.
            let victim = try #require(layout.indices.first { $0 > 2 && !layout[$0].isKey })
            let nextKey = try #require(layout[(victim + 1)...].first { $0.isKey })
            try Files.patch(path, at: layout[victim].position, with: [UInt8](repeating: 0, count: layout[victim].length))
            let segmentEnd = layout.last!.baseOffset + Int64(layout.last!.count)

            let (log, partition, read, skipped) = try openAndReadBack(directory, written: written, context: target)
            let offsets = Set(read.map(\.offset))
            #expect(offsets.isSuperset(of: 0..<layout[victim].baseOffset))
            #expect(offsets.isSuperset(of: nextKey.baseOffset..<segmentEnd),
                    "readings from the next key batch on are readable again")
            #expect(offsets.isSuperset(of: segmentEnd..<Int64(written.count)))
            #expect(skipped == nextKey.baseOffset - layout[victim].baseOffset)
            #expect(try log.verify().problems.contains { $0.file == path })
            _ = partition
        }
    }

    @Test("a stale copy of an earlier batch inside a segment is skipped, never decoded",
          arguments: ["sealed", "active"])
    func staleBatchCopy(target: String) throws {
        try withTemporaryDirectory("stale") { directory in
            let written = try makeDamageTestLog(at: directory)
            let files = segmentFiles(in: directory + "/t-0")
            let path = target == "sealed" ? files[1] : files.last!
            let layout = try batchLayout(of: path)
            let bytes = try Files.read(path)
            let copied = layout[2]
            #expect(!copied.isKey)
            // Batches 0 1 2 3 2' 4 5 ...: a valid batch repeating offsets already read.
            let cut = Int(layout[3].end)
            let damaged = Array(bytes[..<cut]) + Array(bytes[Int(copied.position)..<Int(copied.end)]) + Array(bytes[cut...])
            try Files.write(damaged, to: path)
            for readOnly in [true, false] {
                let log = try openLog(testConfiguration(directory), readOnly: readOnly)
                let partition = try log.partition("t", 0)
                let (read, reader) = try partition.readAll()
                expectAllMatch(read, written, "read-only: \(readOnly)")
                #expect(read.count == written.count, "read-only: \(readOnly), skipped \(reader.skippedReadings)")
                let problems = try log.verify().problems
                #expect(problems.contains { $0.file == path })
                if !readOnly {
                    #expect(!problems.contains { $0.file.hasSuffix(".index") }, "rebuilt index: \(problems)")
                }
            }
        }
    }
}

extension TornWriteTests {
    @Test("resynchronising over crafted headers does bounded work and still finds the batches after them")
    func craftedHeaders() throws {
        try withTemporaryDirectory("crafted") { directory in
            // 1 MiB in which every fourth byte starts a header that parses and
            // claims an 85 KiB batch: 22 GB of checksums if each were checked.
            let crafted = [UInt8](repeating: 0, count: 1 << 20).indices.map { Array("BT\u{1}\u{0}".utf8)[$0 % 4] }
            var valid: [UInt8] = []
            var positions: [Int64] = []
            var encoder = BatchEncoder()
            for first in stride(from: 0, to: 200, by: 20) {
                positions.append(Int64(crafted.count + valid.count))
                encoder.encode(bulkyReadings(20, first: first), baseOffset: Int64(first), keyInterval: 1, into: &valid)
            }
            let path = directory + "/crafted.log"
            try Files.write(crafted + valid, to: path)
            let scanner = try BatchScanner(path: path)
            let found = try #require(try scanner.resynchronize(from: 0, minimumOffset: 0))
            // At most the first batch after crafted bytes is passed over.
            #expect(found == positions[0] || found == positions[1], "found \(found), batches at \(positions.prefix(2))")
            #expect(scanner.checksummedBytes <= Int64(BatchHeader.maximumLength) + BatchScanner.workPerByte * found,
                    "\(scanner.checksummedBytes) bytes checksummed")
        }
    }
}
