#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import TributaryLog

/// `tributary-bench crash-writer --data DIR --seed N [--content-seed M] [--fsync interval] [--paced]`:
/// test support for the crash test (Tests/TributaryLogTests/CrashTests.swift)
/// and the power-cut benchmark, not a benchmark. Opens the log with flush
/// policy `.everyBatch` (or a 200 ms interval) and appends,
/// forever, batches of 1 to 200 `CrashWorkload` readings to a random one of
/// the two partitions of topic "crash" (sizes and partitions from `seed`,
/// contents from `contentSeed`). Small segments and key intervals make it
/// roll segments and write indexes often, so kills land there too.
///
/// Output, one line per event, each written with a single write(2) so that
/// a kill never leaves half a line:
/// - `open <end offset of partition 0> <end offset of partition 1>` once
///   recovery is done;
/// - `ack <partition> <durable offset>` after each append returns: every
///   reading of that partition below the offset is durable (acknowledged).
///   With `paced`, it then waits for a line on standard input before the next
///   append, so the power-cut benchmark can mark the block log in between.
enum CrashWriter {
    /// The policies `--fsync` names.
    static let flushPolicies: [String: FlushPolicy] = [
        "every-batch": .everyBatch, "interval": .interval(maxDelayMilliseconds: 200, maxBytes: 256 << 10),
    ]

    static func configuration(directory: String, flush: FlushPolicy = .everyBatch) -> LogConfiguration {
        var configuration = LogConfiguration(directory: directory)
        configuration.flush = flush
        configuration.segmentBytes = 64 << 10
        configuration.keyInterval = 500
        configuration.topics[CrashWorkload.topic] = TopicConfiguration(partitions: CrashWorkload.partitions)
        return configuration
    }

    static func run(directory: String, seed: UInt64, contentSeed: UInt64, flush: FlushPolicy = .everyBatch,
                    paced: Bool = false) throws -> Never {
        let log = try Log.open(configuration(directory: directory, flush: flush))
        let partitions = try log.topic(CrashWorkload.topic, creatingWith: CrashWorkload.partitions)
        emit("open " + partitions.map { String($0.endOffset) }.joined(separator: " "))
        var random = Xorshift64(seed: CrashWorkload.mix(seed))
        var batch: [Reading] = []
        while true {
            let id = random.integer(in: 0...(partitions.count - 1))
            let partition = partitions[id]
            let base = partition.endOffset
            batch.removeAll(keepingCapacity: true)
            for i in 0..<Int64(random.integer(in: 1...200)) {
                batch.append(CrashWorkload.reading(seed: contentSeed, partition: id, offset: base + i))
            }
            try partition.append(batch)
            emit("ack \(id) \(partition.durableOffset)")
            if paced { waitForGo() }
        }
    }

    private static func waitForGo() {
        var byte: UInt8 = 0
        while true {
            let n = read(0, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { exit(0) }
            if byte == UInt8(ascii: "\n") { return }
        }
    }

    private static func emit(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            // The parent is gone: nobody is left to acknowledge to.
            if n <= 0 { exit(1) }
            done += n
        }
    }
}
