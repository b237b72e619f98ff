#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import TributaryLog

/// Recovery: a child process (`tributary-bench recovery-writer`) fills a log
/// of a few hundred MiB and is killed with SIGKILL in the middle of writing
/// (no close: the active segments are preallocated, unindexed and have
/// unsynced batches at their end). The files are then evicted from the page
/// cache, as after a power-up, and `Log.open` is timed: it trusts each sealed
/// segment's index (checking the index's last entry against the file) and
/// rescans only the active segments. `Log.verify`, which reads and decodes
/// every batch, is timed on the same log for comparison.
enum RecoveryBenchmark {
    struct Scale {
        var partitions: Int
        var segmentsPerPartition: Int
        var segmentMiB: Int
    }

    struct Result {
        /// Batch bytes in the recovered log (preallocated space excluded).
        var logBytes: Int64 = 0
        var segments = 0
        var partitions = 0
        var activeBytes: Int64 = 0
        var coldOpenSeconds = 0.0
        var warmOpenSeconds = 0.0
        var coldVerifySeconds = 0.0
        var verifiedReadings: Int64 = 0
        var problems = 0
        var truncatedTails = 0
        var lostReadings: Int64 = 0
    }

    static let topic = "recovery"

    static func configuration(directory: String, scale: Scale) -> LogConfiguration {
        var configuration = LogConfiguration(directory: directory)
        configuration.segmentBytes = Int64(scale.segmentMiB) << 20
        return configuration
    }

    static func run(directory: String, scale: Scale) throws -> Result {
        let writer = try ChildProcess(executable: try executablePath(), arguments: [
            "recovery-writer", "--data", directory, "--partitions", String(scale.partitions),
            "--segments", String(scale.segmentsPerPartition), "--segment-mib", String(scale.segmentMiB),
        ])
        while let line = writer.readLine(), !line.hasPrefix("ready") {}
        writer.send(SIGKILL)
        writer.waitForExit()
        let configuration = configuration(directory: directory, scale: scale)
        var result = Result()

        evict(directory)
        var watch = Stopwatch()
        var log: Log? = try Log.open(configuration)
        result.coldOpenSeconds = watch.elapsedSeconds
        for partition in log?.allPartitions ?? [] {
            let segments = partition.segments
            result.partitions += 1
            result.segments += segments.count
            result.logBytes += segments.reduce(0) { $0 + $1.length }
            result.activeBytes += segments.last?.length ?? 0
            result.truncatedTails += partition.recovery.truncatedTail == nil ? 0 : 1
            result.lostReadings += partition.recovery.lostReadings
        }
        // Dropped without close, like the killed writer: the next open recovers again.
        log = nil

        watch = Stopwatch()
        log = try Log.open(configuration)
        result.warmOpenSeconds = watch.elapsedSeconds

        evict(directory)
        watch = Stopwatch()
        let report = try log?.verify()
        result.coldVerifySeconds = watch.elapsedSeconds
        result.verifiedReadings = report?.readings ?? 0
        result.problems = report?.problems.count ?? 0
        try log?.close()
        return result
    }

    /// Drops the log's files from the page cache.
    private static func evict(_ directory: String) {
        for file in (try? FileIO.files(under: directory)) ?? [] { FileIO.evictFromPageCache(file) }
    }

    /// This executable, to start it again as the writer.
    static func executablePath() throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        try FileIO.check(n, "readlink", "/proc/self/exe")
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// `tributary-bench recovery-writer`: the process the recovery benchmark
/// kills. Fills `partitions` partitions with random doubles (about 9 B a
/// reading, so a few hundred MiB take seconds) until each has `segments`
/// segments and a nearly full active one, syncs, writes a few more batches
/// without syncing, prints "ready" and waits to be killed (or exits if its
/// parent is gone).
enum RecoveryWriter {
    static func run(directory: String, scale: RecoveryBenchmark.Scale) throws -> Never {
        let configuration = RecoveryBenchmark.configuration(directory: directory, scale: scale)
        let log = try Log.open(configuration)
        let partitions = try log.topic(RecoveryBenchmark.topic, creatingWith: scale.partitions)
        let sensors = (0..<8).map { "r\($0)" }
        var random = Xorshift64()
        var batch: [Reading] = []
        var timestamp = ReferenceWorkload.startTimestamp
        func fill(_ partition: Partition) throws {
            batch.removeAll(keepingCapacity: true)
            for i in 0..<configuration.maxBatchReadings {
                batch.append(Reading(sensor: sensors[i % sensors.count], timestamp: timestamp,
                                     value: .double(random.uniform() * 100)))
                timestamp += 125
            }
            try partition.append(batch)
        }
        let nearlyFull = configuration.segmentBytes - configuration.segmentBytes / 16
        for partition in partitions {
            while true {
                let segments = partition.segments
                if segments.count >= scale.segmentsPerPartition, let last = segments.last,
                   last.length >= nearlyFull { break }
                try fill(partition)
            }
        }
        try log.sync()
        // Written but never synced: what a crash leaves after the durable watermark.
        for partition in partitions { try fill(partition) }
        let parent = getppid()
        let ready = "ready\n"
        _ = ready.utf8CString.withUnsafeBufferPointer { write(1, $0.baseAddress, ready.utf8.count) }
        // Wait for SIGKILL, but do not outlive a parent that died first.
        while getppid() == parent { usleep(100_000) }
        exit(1)
    }
}
