#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Testing
import TributaryTestSupport
@testable import TributaryLog
// The writer's workload, its configuration and the child-process plumbing
// come from the executable itself, so the test and the writer cannot drift apart.
@testable import tributary_bench

/// kill -9 of a writer that appends with flush policy `.everyBatch`, many
/// times over on one log directory, so every recovery works on a log with
/// history (sealed segments, indexes, earlier torn tails).
///
/// Each round starts `tributary-bench crash-writer` (built next to this test
/// binary), collects its acknowledgements and kills it after a random 5-60 ms,
/// which lands anywhere: during recovery, in an append, an fdatasync, a
/// segment roll or an index write. Rounds: 200, or TRIBUTARY_CRASH_ROUNDS.
/// Seed: random and printed, or TRIBUTARY_CRASH_SEED to replay a failure.
@Suite struct CrashTests {
    @Test func everyAcknowledgedReadingSurvivesKillNineAndTheLogVerifiesAfterRecovery() throws {
        let rounds = environment("TRIBUTARY_CRASH_ROUNDS").flatMap { Int($0) } ?? 200
        let seed = environment("TRIBUTARY_CRASH_SEED").flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        print("CrashTests: seed \(seed), \(rounds) rounds (replay with TRIBUTARY_CRASH_SEED=\(seed))")
        let writer = try #require(writerPath(), "tributary-bench is not built next to the test binary: run swift build")
        let directory = try FileIO.makeTemporaryDirectory(prefix: "tributary-crash-")
        defer { FileIO.removeTree(directory) }

        var random = Xorshift64(seed: CrashWorkload.mix(seed))
        var history = LogHistory(contentSeed: seed)
        var kills = (duringRecovery: 0, afterAcks: 0)
        let watch = Stopwatch()
        for round in 0..<rounds {
            let delay = random.integer(in: 5...60)
            let arguments = [
                "crash-writer", "--data", directory, "--seed", String(random.next()), "--content-seed", String(seed),
            ]
            let child = try ProcessEnvironment.reading { try ChildProcess(executable: writer, arguments: arguments) }
            var opened = false
            for line in child.readLines(for: delay) {
                opened = opened || line.hasPrefix("open")
                try history.acknowledge(line)
            }
            child.send(SIGKILL)
            // Lines written before the kill are acknowledgements all the same.
            for line in child.readRemainingOutput() {
                opened = opened || line.hasPrefix("open")
                try history.acknowledge(line)
            }
            let status = child.waitForExit()
            try #require(status == 128 + SIGKILL, "round \(round): the writer exited by itself with status \(status)")
            if opened { kills.afterAcks += 1 } else { kills.duringRecovery += 1 }
            try history.check(directory: directory, round: round, isLast: round == rounds - 1)
        }
        print("CrashTests: \(rounds) rounds in \(Int(watch.elapsedSeconds)) s; \(kills.duringRecovery) kills before "
              + "the writer had opened the log; acknowledged \(history.acknowledged) readings; "
              + "\(history.verified.map(\.count)) readings in the log at the end; \(history.statistics)")
    }

    private func writerPath() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let me = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // SwiftPM puts the test binary (or its .xctest bundle) in the build directory.
        var directory = Substring(me)
        while let slash = directory.lastIndex(of: "/") {
            directory = directory[..<slash]
            let candidate = String(directory) + "/tributary-bench"
            if access(candidate, X_OK) == 0 { return candidate }
            if !directory.contains(".build") { break }
        }
        return nil
    }

    private func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// What the test knows about the log: the acknowledged end of each
/// partition, the readings already checked, and a fingerprint (size and
/// CRC-32C of the segment file and its index) of every segment as the
/// previous round left it.
///
/// The engine never rewrites a sealed segment, so each round decodes and
/// verifies only from the first segment whose bytes changed (or vanished):
/// the rest are proven byte for byte identical to what was already checked.
/// Every `fullCheckInterval` rounds, and in the last, everything is read and
/// `Log.verify` runs on the whole log regardless.
private struct LogHistory {
    let contentSeed: UInt64
    static let fullCheckInterval = 25
    /// Per partition: every reading below this offset was acknowledged.
    var acknowledgedEnd = [Int64](repeating: 0, count: CrashWorkload.partitions)
    /// Per partition: the hash of the reading at each offset, checked once against `CrashWorkload`.
    var verified = [[Int]](repeating: [], count: CrashWorkload.partitions)
    /// Segment path -> fingerprint after the previous round's close.
    var fingerprints: [String: Fingerprint] = [:]
    var statistics = (truncatedTails: 0, rebuiltIndexes: 0, segmentsChecked: 0)

    struct Fingerprint: Equatable {
        var size: Int64
        var checksum: UInt32
        var index: UInt32?
    }

    var acknowledged: Int64 { acknowledgedEnd.reduce(0, +) }

    init(contentSeed: UInt64) { self.contentSeed = contentSeed }

    mutating func acknowledge(_ line: String) throws {
        let words = line.split(separator: " ")
        guard words.first == "ack" else { return }
        let partition = try #require(words.count == 3 ? Int(words[1]) : nil, "bad line \(line)")
        let offset = try #require(Int64(words[2]), "bad line \(line)")
        // Acknowledged offsets only grow: a smaller one means the writer lost data it had acknowledged.
        #expect(offset >= acknowledgedEnd[partition], "ack went backwards: \(line)")
        acknowledgedEnd[partition] = max(acknowledgedEnd[partition], offset)
    }

    /// Opens (recovering) the log, checks the readings that may have
    /// changed, closes it, and verifies the closed log, read-only.
    mutating func check(directory: String, round: Int, isLast: Bool) throws {
        let full = isLast || round % Self.fullCheckInterval == Self.fullCheckInterval - 1
        let configuration = CrashWriter.configuration(directory: directory)
        let log = try Log.open(configuration)
        var firstChanged = [Int64](repeating: 0, count: CrashWorkload.partitions)
        for id in 0..<CrashWorkload.partitions {
            guard let partition = log.partitions(of: CrashWorkload.topic)?[id] else {
                // Killed before it created the topic: nothing can have been acknowledged.
                #expect(acknowledgedEnd[id] == 0, "round \(round): partition \(id) is missing")
                continue
            }
            let recovery = partition.recovery
            #expect(recovery.damage.isEmpty && recovery.quarantined.isEmpty,
                    "round \(round): recovery found damage: \(recovery)")
            statistics.truncatedTails += recovery.truncatedTail == nil ? 0 : 1
            statistics.rebuiltIndexes += recovery.rebuiltIndexes.count
            #expect(partition.startOffset == 0, "round \(round): partition \(id) starts at \(partition.startOffset)")
            #expect(partition.durableOffset >= acknowledgedEnd[id],
                    "round \(round): partition \(id) ends at \(partition.durableOffset), \(acknowledgedEnd[id]) acknowledged")
            let segments = partition.segments
            // A segment that vanished (or changed) since the last round is checked from its start.
            let known = fingerprints.filter { $0.key.hasPrefix(partition.directory + "/") }
            let unchanged = try segments.prefix { segment in
                try known[segment.path].map { try $0 == Self.fingerprint(segment) } ?? false
            }
            let present = Set(segments.map(\.path))
            let vanished = known.keys.filter { !present.contains($0) }
            #expect(vanished.isEmpty, "round \(round): partition \(id): checked segments disappeared: \(vanished)")
            firstChanged[id] = full ? 0 : segments.dropFirst(unchanged.count).first?.baseOffset ?? partition.durableOffset
            try checkReadings(of: partition, id: id, from: firstChanged[id], round: round)
        }
        try log.close()

        let reopened = try Log.open(configuration, readOnly: true)
        var report = VerificationReport()
        if full {
            report = try reopened.verify()
        }
        for (id, partition) in (reopened.partitions(of: CrashWorkload.topic) ?? []).enumerated() {
            let segments = partition.segments
            for (i, segment) in segments.enumerated() {
                fingerprints[segment.path] = try Self.fingerprint(segment)
                guard !full, segment.nextOffset > firstChanged[id] || i == segments.count - 1 else { continue }
                try LogVerifier.check(segment, isActive: i == segments.count - 1, report: &report)
                statistics.segmentsChecked += 1
            }
        }
        #expect(report.isIntact, "round \(round): verify after recovery: \(report.problems)")
    }

    /// The readings from the segment holding `start` on: contiguous offsets,
    /// values as derived, nothing skipped, nothing acknowledged missing.
    private mutating func checkReadings(of partition: Partition, id: Int, from start: Int64, round: Int) throws {
        let reader = partition.reader(from: start)
        var expected = start
        var mismatches = 0
        while true {
            let batch = try reader.next()
            if batch.isEmpty { break }
            for stored in batch {
                guard stored.offset == expected else {
                    Issue.record("round \(round): partition \(id): offset \(stored.offset) follows \(expected - 1)")
                    return
                }
                let index = Int(stored.offset)
                if index < verified[id].count {
                    if stored.reading.hashValue != verified[id][index] { mismatches += 1 }
                } else {
                    let want = CrashWorkload.reading(seed: contentSeed, partition: id, offset: stored.offset)
                    if stored.reading != want {
                        mismatches += 1
                        if mismatches == 1 {
                            Issue.record("round \(round): partition \(id) offset \(stored.offset): \(stored.reading) != \(want)")
                        }
                    }
                    verified[id].append(want.hashValue)
                }
                expected += 1
            }
        }
        #expect(mismatches == 0, "round \(round): partition \(id): \(mismatches) readings differ from what was appended")
        #expect(reader.skippedReadings == 0, "round \(round): partition \(id): reader skipped \(reader.damage)")
        #expect(expected == partition.durableOffset,
                "round \(round): partition \(id): read up to \(expected), durable offset \(partition.durableOffset)")
        #expect(expected >= acknowledgedEnd[id], "round \(round): partition \(id): acknowledged readings missing")
        // Recovery may cut unacknowledged readings; forget their hashes so they are checked again
        // when later rounds write those offsets.
        if verified[id].count > Int(expected) { verified[id].removeLast(verified[id].count - Int(expected)) }
    }

    private static func fingerprint(_ segment: SegmentSnapshot) throws -> Fingerprint {
        let indexPath = String(segment.path.dropLast(LogFileNames.segmentSuffix.count)) + LogFileNames.indexSuffix
        let (size, checksum) = try checksum(of: segment.path)
        return Fingerprint(size: size, checksum: checksum,
                           index: Syscalls.exists(indexPath) ? try Self.checksum(of: indexPath).checksum : nil)
    }

    private static func checksum(of path: String) throws -> (size: Int64, checksum: UInt32) {
        let fd = try FileIO.openForReading(path)
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var crc: UInt32 = 0
        var size: Int64 = 0
        while true {
            let n = try buffer.withUnsafeMutableBytes { try FileIO.readFully(fd, at: size, into: $0, path: path) }
            crc = buffer.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[..<n]), continuing: crc) }
            size += Int64(n)
            if n < buffer.count { return (size, crc) }
        }
    }
}
