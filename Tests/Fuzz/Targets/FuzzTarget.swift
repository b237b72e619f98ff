// The fuzz targets' common ground. Each target is a check that any input must pass
// (no crash, trap, hang or unbounded growth; properties asserted with
// `precondition`) and real encodings to start from. Tests/Fuzz/run.sh builds one
// into a libFuzzer binary (Entry.swift); `swift test` (FuzzRegressionTests) runs
// every check on its seeds and on each input in Tests/Fuzz/Regressions/<name>/.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
@testable import TributaryLog

protocol FuzzTarget: Sendable {
    /// The name run.sh and the Regressions folder use.
    static var name: String { get }
    /// Real encodings of what the decoder reads, for libFuzzer to mutate.
    static func seeds() throws -> [[UInt8]]
    /// Feeds `input` to the decoder and checks what it made; traps on a defect.
    /// True when the decoder took the input as valid, without damage or a
    /// malformed part (as every seed must be).
    @discardableResult
    static func check(_ input: [UInt8]) -> Bool
}

/// The repository's top directory (found from this file's place in it).
let repositoryRoot: String = {
    var path = #filePath
    for _ in 0..<4 { path = String(path[..<path.lastIndex(of: "/")!]) }
    return path
}()

/// A file's bytes; nil if it cannot be read.
func readFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count <= 0 { break }
        bytes.append(contentsOf: chunk[..<count])
    }
    return bytes
}

/// Writes `bytes` to a new file at `path`; traps if it cannot (the harness's own failure).
func writeFile(_ path: String, _ bytes: [UInt8]) {
    guard let file = fopen(path, "wb") else { fatalError("fuzz harness: cannot create \(path)") }
    defer { fclose(file) }
    precondition(bytes.isEmpty || fwrite(bytes, 1, bytes.count, file) == bytes.count, "fuzz harness: cannot write \(path)")
}

/// Runs `body` in a new empty directory under /dev/shm (memory, so millions of
/// inputs cost no disk writes), removed afterwards with everything in it.
func withScratchDirectory<R>(_ body: (String) throws -> R) rethrows -> R {
    var template = Array("/dev/shm/tributary-fuzz-XXXXXX".utf8CString)
    guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
        fatalError("fuzz harness: mkdtemp failed, errno \(errno)")
    }
    let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    defer { removeTree(path) }
    return try body(path)
}

private func removeTree(_ path: String) {
    if let directory = opendir(path) {
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { removeTree(path + "/" + name) }
        }
        closedir(directory)
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Readings of every kind, several sensors, timestamps in and out of order, for
/// the log's seeds: what the encoder really writes.
func sampleReadings(_ count: Int) -> [Reading] {
    (0..<count).map { i in
        let value: Value
        switch i % 6 {
        case 0: value = .double(20 + Double(i % 17) * 0.25)
        case 1: value = .int(Int64(i * 1000 - 5000))
        case 2: value = .bool(i % 4 == 1)
        case 3: value = .string(i % 3 == 0 ? "open" : "closed")
        case 4: value = .bytes([UInt8(i & 0xFF), 0, 0xFF, UInt8((i * 7) & 0xFF)])
        default: value = .double(i % 12 == 5 ? .nan : -0.0)
        }
        let timestamp: Int64 = 1_767_225_600_000 + Int64(i) * 1000 + (i % 5 == 4 ? -3000 : 0)
        return Reading(sensor: "sensor-\(i % 4)/\(["t", "h", "p"][i % 3])", timestamp: timestamp, value: value)
    }
}

/// `bytes` with their last 4 set to the CRC-32C of the rest, as the log seals
/// index files and offset slots: what the fuzzer changed then passes the checksum.
func resealed(_ bytes: [UInt8]) -> [UInt8] {
    Array(bytes.dropLast(4)) + withUnsafeBytes(of: CRC32C.checksum(Array(bytes.dropLast(4))).littleEndian, Array.init)
}

/// The little-endian integer at `at` in `bytes`.
func littleEndian<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], _ at: Int) -> T {
    bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
}

func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
}

/// Writes a partition with the log itself, rolled after every batch (segment age
/// 1 ms) so its segments are small, and gives `body` each segment's bytes (its batches,
/// without the preallocated space) and index file (empty for the active segment).
func withSampleLog<R>(_ body: ([(bytes: [UInt8], index: [UInt8])]) throws -> R) throws -> R {
    try withScratchDirectory { directory in
        var configuration = LogConfiguration(directory: directory)
        configuration.segmentBytes = LogConfiguration.minimumSegmentBytes
        configuration.segmentMilliseconds = 1
        configuration.keyInterval = 20
        configuration.flush = .everyBatch
        let log = try Log.open(configuration)
        let partition = try log.topic("readings", creatingWith: 1)[0]
        let readings = sampleReadings(120)
        for start in stride(from: 0, to: readings.count, by: 30) {
            try partition.append(readings[start..<(start + 30)])
            usleep(2000)
        }
        try log.close()
        let segments = partition.segments.map { segment -> (bytes: [UInt8], index: [UInt8]) in
            let bytes = Array((readFile(segment.path) ?? []).prefix(Int(segment.length)))
            let indexPath = String(segment.path.dropLast(LogFileNames.segmentSuffix.count)) + LogFileNames.indexSuffix
            return (bytes, readFile(indexPath) ?? [])
        }
        precondition(segments.count > 1 && !segments[0].index.isEmpty, "the sample log did not roll")
        return try body(segments)
    }
}
