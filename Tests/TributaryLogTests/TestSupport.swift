// Helpers shared by the engine's tests: temporary directories, seeded random
// numbers, sample readings, reading a partition back, and raw file surgery
// for damage tests.
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Testing
@testable import TributaryLog
import TributaryTestSupport

// MARK: Directories

/// Runs `body` with a fresh directory under /tmp (unique name), removed afterwards
/// whatever happens.
func withTemporaryDirectory<R>(_ label: String, _ body: (String) throws -> R) throws -> R {
    var template = Array("/tmp/tributary-test-\(label)-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    guard made != nil else { throw TestFailure("mkdtemp failed with errno \(errno)") }
    let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A log configuration small enough for tests: 64 KiB segments (the minimum),
/// small batches, and a sync on every append.
func testConfiguration(_ directory: String) -> LogConfiguration {
    var configuration = LogConfiguration(directory: directory)
    configuration.segmentBytes = 64 << 10
    configuration.maxBatchReadings = 50
    configuration.flush = .everyBatch
    return configuration
}

// MARK: Random numbers

/// SplitMix64: small, fast and the same on every platform, so a printed seed
/// replays a failure exactly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The seed for a random test: `TRIBUTARY_TEST_SEED` if set, else `fixed`,
/// printed so that a failure can be replayed.
func testSeed(_ fixed: UInt64, _ test: String) -> UInt64 {
    var seed = fixed
    if let text = getenv("TRIBUTARY_TEST_SEED"), let parsed = UInt64(String(cString: text)) { seed = parsed }
    print("\(test): seed \(seed) (replay with TRIBUTARY_TEST_SEED=\(seed))")
    return seed
}

// MARK: Readings

/// Deterministic readings of every value type from `sensors` sensors, one
/// per sensor per second starting at `first`, the way a sensor box produces them.
func sampleReadings(_ count: Int, sensors: Int = 20, first: Int = 0) -> [Reading] {
    (first..<(first + count)).map { i in
        let s = i % sensors
        let t = i / sensors
        let value: Value
        switch s % 6 {
        case 0: value = .double(Double(200 + (t * 7 + s) % 31) / 10)
        case 1: value = .int(Int64(t * 3 + s))
        case 2: value = .bool((t / 3) % 2 == 0)
        case 3: value = .string(["ok", "warn", "fault"][(t / 5 + s) % 3])
        case 4: value = .double(Double(t) * 0.123456789 + Double(s))
        default: value = .bytes([UInt8(truncatingIfNeeded: t), UInt8(truncatingIfNeeded: s), 0xFF])
        }
        return Reading(sensor: "sensor-\(s)", timestamp: 1_767_225_600_000 + Int64(t) * 1000 + Int64(s), value: value)
    }
}

/// Appends `readings` in slices of `batch` (one `append` call each).
func append(_ readings: [Reading], to partition: Partition, batch: Int) throws {
    var start = 0
    while start < readings.count {
        let end = min(start + batch, readings.count)
        try partition.append(Array(readings[start..<end]))
        start = end
    }
}

/// Checks that `stored` are in increasing offset order and each equals what
/// was written at its offset (`written[offset]`); records an issue otherwise.
func expectAllMatch(_ stored: [StoredReading], _ written: [Reading], _ context: String = "",
                    issues: IssueCounter = IssueCounter(), sourceLocation: SourceLocation = #_sourceLocation) {
    var previous: Int64 = -1
    var wrong = 0
    for item in stored {
        guard wrong < 3 else { break }
        let inOrder = item.offset > previous
        issues.expect(inOrder, "\(context): offset \(item.offset) after \(previous)", sourceLocation: sourceLocation)
        previous = item.offset
        guard item.offset >= 0, item.offset < Int64(written.count) else {
            issues.expect(false, "\(context): offset \(item.offset) was never written", sourceLocation: sourceLocation)
            wrong += 1
            continue
        }
        let same = item.reading == written[Int(item.offset)]
        issues.expect(same, "\(context): offset \(item.offset): read \(item.reading), wrote \(written[Int(item.offset)])",
                      sourceLocation: sourceLocation)
        if !same || !inOrder { wrong += 1 }
    }
}

// MARK: Files

enum Files {
    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TestFailure("cannot read \(path)")
        }
        return [UInt8](data)
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw TestFailure("cannot create \(path): errno \(errno)") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw TestFailure("short write to \(path): errno \(errno)") }
    }

    /// Overwrites bytes in place at `position` (the file keeps its size unless extended).
    static func patch(_ path: String, at position: Int64, with bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { throw TestFailure("cannot open \(path): errno \(errno)") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(position)) }
        guard written == bytes.count else { throw TestFailure("short pwrite to \(path): errno \(errno)") }
    }

    static func truncate(_ path: String, to size: Int64) throws {
        guard Glibc.truncate(path, off_t(size)) == 0 else {
            throw TestFailure("cannot truncate \(path): errno \(errno)")
        }
    }

    static func size(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : -1
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func list(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    static func remove(_ path: String) throws { try FileManager.default.removeItem(atPath: path) }

    static func copyDirectory(_ from: String, to: String) throws {
        try FileManager.default.copyItem(atPath: from, toPath: to)
    }
}

/// One batch's place in a segment file, found by hopping headers.
struct BatchLayout: Equatable {
    var position: Int64
    var length: Int
    var baseOffset: Int64
    var count: Int
    var isKey: Bool
    var end: Int64 { position + Int64(length) }
}

/// The batches of a segment file, in order, up to the first invalid bytes.
func batchLayout(of path: String) throws -> [BatchLayout] {
    let scanner = try BatchScanner(path: path)
    var batches: [BatchLayout] = []
    while case let .batch(header, _, position) = try scanner.next() {
        batches.append(BatchLayout(position: position, length: header.length, baseOffset: header.baseOffset,
                                   count: header.count, isKey: header.isKey))
    }
    return batches
}

/// Segment file paths of a partition directory, oldest first.
func segmentFiles(in directory: String) -> [String] {
    Files.list(directory).filter { $0.hasSuffix(".log") }.map { directory + "/" + $0 }
}

func indexPath(of segment: String) -> String { String(segment.dropLast(4)) + ".index" }

/// Records issues and counts them, so a loop over hundreds of cases can stop
/// at the first failing one instead of flooding the output.
final class IssueCounter {
    private(set) var count = 0

    func expect(_ condition: Bool, _ message: @autoclosure () -> String,
                sourceLocation: SourceLocation = #_sourceLocation) {
        guard !condition else { return }
        count += 1
        Issue.record(Comment(rawValue: message()), sourceLocation: sourceLocation)
    }
}

/// `Log.open`, retried for a while if the directory is `.locked`. Other tests in
/// this process start child processes (posix_spawn), and a child holds copies
/// of every descriptor until it execs, the write lock's included (flock locks
/// belong to the open file, not the process): a log closed and reopened at
/// that moment finds its own lock still held for a few milliseconds.
func openLog(_ configuration: LogConfiguration, readOnly: Bool = false) throws -> Log {
    var attempts = 0
    while true {
        do {
            return try Log.open(configuration, readOnly: readOnly)
        } catch LogError.locked where attempts < 500 {
            attempts += 1
            usleep(10_000)
        }
    }
}

// MARK: Damage test logs

/// Readings that fill 64 KiB segments quickly: long strings and byte blobs
/// mixed with numbers, so a log of a few thousand readings has several segments.
func bulkyReadings(_ count: Int, first: Int = 0) -> [Reading] {
    (first..<(first + count)).map { i in
        let value: Value
        switch i % 4 {
        case 0: value = .string(String(repeating: "abcdefgh", count: 12) + "\(i)")
        case 1: value = .double(Double(i) * 0.37)
        case 2: value = .int(Int64(i) * Int64(i))
        default: value = .bytes((0..<100).map { UInt8(truncatingIfNeeded: $0 &+ i) })
        }
        return Reading(sensor: "s\(i % 4)", timestamp: 1_767_225_600_000 + Int64(i) * 250, value: value)
    }
}

/// How the last batch is left behind by a crash.
enum CutStyle: String, CaseIterable, CustomTestStringConvertible, Sendable {
    /// The file ends inside the batch (the file grew as it was written).
    case truncate
    /// The batch's tail reads as zeroes (a preallocated file whose last pages were never written).
    case zeroFill
    var testDescription: String { rawValue }
}

/// Where the torn batch sits.
enum TornBatch: String, CaseIterable, CustomTestStringConvertible, Sendable {
    /// After other batches in the active segment.
    case afterOthers
    /// Alone: the first batch of a segment that was just rolled.
    case aloneInSegment
    var testDescription: String { rawValue }
}

/// Builds, in `root`, a log with topic "t" of two sealed segments and an active
/// one, whose last batch is 12 small readings; returns everything written.
/// The log is left as a crash leaves it: not closed.
func makeDamageTestLog(at root: String, lastBatch: TornBatch = .afterOthers,
                       keyInterval: Int = 65_536) throws -> [Reading] {
    var configuration = testConfiguration(root)
    configuration.keyInterval = keyInterval
    var written = bulkyReadings(3000)
    do {
        let log = try openLog(configuration)
        let partition = try log.topic("t", creatingWith: 1)[0]
        try append(written, to: partition, batch: 40)
        if lastBatch == .aloneInSegment { try log.close() }
    }
    if lastBatch == .aloneInSegment {
        // A segment older than a millisecond rolls before the next batch.
        configuration.segmentMilliseconds = 1
        usleep(5000)
    }
    let log = try openLog(configuration)
    let partition = try log.partition("t", 0)
    let tail = sampleReadings(12, sensors: 3, first: 3000)
    try partition.append(tail)
    written += tail
    let segments = partition.segments
    #expect(segments.count >= 3)
    if lastBatch == .aloneInSegment { #expect(segments.last?.baseOffset == 3000) }
    return written
}

/// Opens the log at `directory` read-write, checks the recovery invariants that
/// hold whatever the damage, and returns the log, its partition and what a
/// reader got.
func openAndReadBack(_ directory: String, written: [Reading], context: String,
                     issues: IssueCounter = IssueCounter(),
                     sourceLocation: SourceLocation = #_sourceLocation) throws
    -> (log: Log, partition: Partition, read: [StoredReading], skipped: Int64) {
    let log: Log
    do {
        log = try openLog(testConfiguration(directory))
    } catch {
        issues.expect(false, "\(context): recovery refused to start: \(error)", sourceLocation: sourceLocation)
        throw error
    }
    let partition = try log.partition("t", 0)
    let (read, reader) = try partition.readAll()
    expectAllMatch(read, written, context, issues: issues, sourceLocation: sourceLocation)
    issues.expect(Int64(read.count) + reader.skippedReadings == partition.durableOffset - partition.startOffset,
                  "\(context): every offset is either read or counted as skipped", sourceLocation: sourceLocation)
    issues.expect(partition.durableOffset == partition.endOffset, "\(context): durable == end after recovery",
                  sourceLocation: sourceLocation)
    return (log, partition, read, reader.skippedReadings)
}

/// Appends a few readings and checks they get the offsets after `end`.
func expectAppendsContinue(_ partition: Partition, at end: Int64, context: String,
                           issues: IssueCounter = IssueCounter(),
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
    issues.expect(partition.endOffset == end, "\(context): end \(partition.endOffset), expected \(end)",
                  sourceLocation: sourceLocation)
    let more = sampleReadings(5, first: 9000)
    try partition.append(more)
    issues.expect(partition.endOffset == end + 5, "\(context): appends end at \(partition.endOffset)",
                  sourceLocation: sourceLocation)
    let (read, _) = try partition.readAll(from: end)
    issues.expect(read.map(\.offset) == Array(end..<(end + 5)) && read.map(\.reading) == more,
                  "\(context): appended readings read back as \(read.map(\.offset))", sourceLocation: sourceLocation)
}
