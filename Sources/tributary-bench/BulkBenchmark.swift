#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import TributaryLog

/// Bulk: the reference workload appended as fast as one thread can, with an
/// fdatasync at most every 100 ms, then read back; and the same bytes written
/// with plain write() for comparison.
enum BulkBenchmark {
    struct Result {
        var readings: Int64 = 0
        /// Time inside `append` and `sync` only (the workload's generation is excluded).
        var appendSeconds = 0.0
        /// `appendSeconds` of every run, the first included.
        var appendRuns: [Double] = []
        /// The median run's time: the figure reported.
        var medianAppendSeconds: Double { appendRuns.sorted()[appendRuns.count / 2] }
        /// Time of the whole loop, generation included.
        var wallSeconds = 0.0
        var syncs: Int64 = 0
        /// Segment bytes after exactly the reference workload (3,600 s).
        var referenceReadings: Int64 = 0
        var referenceBytes: Int64 = 0
        var segmentBytes: Int64 = 0
        var segments: [SegmentSnapshot] = []
        /// VmHWM right after appending: the peak of the process so far.
        var peakResidentBytes: Int64?
        var readReadings: Int64 = 0
        var readSeconds = 0.0
        var readSkipped: Int64 = 0
        /// Readings that came back different from what was appended.
        var mismatches: Int64 = 0
        var ceilingSeconds = 0.0
        var ceilingSyncs = 0
    }

    static let topic = "reference"
    static let syncMilliseconds: Int64 = 100

    static func configuration(directory: String) -> LogConfiguration {
        var configuration = LogConfiguration(directory: directory)
        // Time alone decides: at most one fdatasync every 100 ms.
        configuration.flush = .interval(maxDelayMilliseconds: syncMilliseconds, maxBytes: .max)
        return configuration
    }

    /// Runs t = 0 ..< `seconds` of the workload into a fresh log in `directory`,
    /// noting the segment bytes after `referenceSeconds`; then reads it back,
    /// checks every reading, closes the log and measures the raw write
    /// ceiling into `ceilingPath`. The appends are then repeated into fresh
    /// logs, `repetitions` runs in all, for `appendRuns` (the machine may be
    /// shared: one run alone is noisy).
    static func run(directory: String, seconds: Int, referenceSeconds: Int, ceilingPath: String,
                    repetitions: Int) throws -> Result {
        var result = Result()
        let log = try Log.open(configuration(directory: directory))
        let partition = try log.topic(topic, creatingWith: 1)[0]
        let wall = Stopwatch()
        try append(seconds: seconds, referenceSeconds: referenceSeconds, to: partition, into: &result)
        result.wallSeconds = wall.elapsedSeconds
        result.peakResidentBytes = ProcessStats.peakResidentBytes()
        result.readings = partition.endOffset
        result.syncs = partition.statistics.syncs

        try read(partition, into: &result)
        result.mismatches = try check(partition, readings: result.readings)
        try log.close()
        result.segments = partition.segments
        result.segmentBytes = result.segments.reduce(0) { $0 + $1.length }
        try measureCeiling(result.segments, path: ceilingPath, into: &result)
        FileIO.removeTree(ceilingPath)

        result.appendRuns = [result.appendSeconds]
        for run in 1..<max(repetitions, 1) {
            let again = directory + "-\(run)"
            defer { FileIO.removeTree(again) }
            let log = try Log.open(configuration(directory: again))
            var repeated = Result()
            try append(seconds: seconds, referenceSeconds: referenceSeconds,
                       to: try log.topic(topic, creatingWith: 1)[0], into: &repeated)
            try log.close()
            result.appendRuns.append(repeated.appendSeconds)
        }
        return result
    }

    /// Appends the workload a second (1,000 readings) per call, timing only
    /// `append` and `sync`.
    private static func append(seconds: Int, referenceSeconds: Int, to partition: Partition,
                               into result: inout Result) throws {
        var workload = ReferenceWorkload()
        var second: [Reading] = []
        second.reserveCapacity(ReferenceWorkload.sensorCount)
        for t in 0..<seconds {
            workload.nextSecond(into: &second)
            let start = Stopwatch.nanoseconds()
            try partition.append(second)
            if t + 1 == referenceSeconds {
                // Writes the partial batch too: exactly what a 3,600 s run would leave.
                try partition.sync()
            }
            result.appendSeconds += Double(Stopwatch.nanoseconds() - start) / 1e9
            if t + 1 == referenceSeconds {
                result.referenceReadings = partition.endOffset
                result.referenceBytes = partition.segments.reduce(0) { $0 + $1.length }
            }
        }
        let start = Stopwatch.nanoseconds()
        try partition.sync()
        result.appendSeconds += Double(Stopwatch.nanoseconds() - start) / 1e9
    }

    /// Reads every durable reading back with a reader, timed.
    private static func read(_ partition: Partition, into result: inout Result) throws {
        let reader = partition.reader(from: 0)
        let watch = Stopwatch()
        var count: Int64 = 0
        var expected: Int64 = 0
        while true {
            let batch = try reader.next()
            if batch.isEmpty { break }
            // Offsets must be contiguous: a gap would be a reading lost.
            if batch[0].offset != expected { result.readSkipped += batch[0].offset - expected }
            expected = batch[batch.count - 1].offset + 1
            count += Int64(batch.count)
        }
        result.readSeconds = watch.elapsedSeconds
        result.readReadings = count
        result.readSkipped += reader.skippedReadings
    }

    /// Compares the first `readings` readings with a fresh copy of the
    /// workload, untimed; returns how many differ.
    private static func check(_ partition: Partition, readings: Int64) throws -> Int64 {
        let reader = partition.reader(from: 0)
        var workload = ReferenceWorkload()
        var expected: [Reading] = []
        var index = 0
        var mismatches: Int64 = 0
        var checked: Int64 = 0
        while checked < readings {
            let batch = try reader.next()
            if batch.isEmpty { break }
            for stored in batch where checked < readings {
                if index == expected.count {
                    workload.nextSecond(into: &expected)
                    index = 0
                }
                if stored.reading != expected[index] || stored.offset != checked { mismatches += 1 }
                index += 1
                checked += 1
            }
        }
        return mismatches + (readings - checked)
    }

    /// Writes the segments' batches, one write() each as the engine does, to a
    /// fresh file with an fdatasync whenever 100 ms of writing have passed and
    /// one at the end. Only the write() and fdatasync calls are timed.
    private static func measureCeiling(_ segments: [SegmentSnapshot], path: String,
                                       into result: inout Result) throws {
        let fd = try FileIO.createForWriting(path)
        defer { close(fd) }
        var timed: UInt64 = 0
        var lastSync: UInt64 = 0
        var syncs = 0
        try SegmentBatches(segments: segments).forEach { batch in
            let start = Stopwatch.nanoseconds()
            try FileIO.writeAll(fd, batch, path: path)
            if timed - lastSync >= UInt64(syncMilliseconds) * 1_000_000 {
                try FileIO.dataSync(fd, path: path)
                syncs += 1
                lastSync = timed
            }
            timed += Stopwatch.nanoseconds() - start
        }
        let start = Stopwatch.nanoseconds()
        try FileIO.dataSync(fd, path: path)
        timed += Stopwatch.nanoseconds() - start
        result.ceilingSeconds = Double(timed) / 1e9
        result.ceilingSyncs = syncs + 1
    }
}
