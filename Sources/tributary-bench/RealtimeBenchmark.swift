import TributaryLog

/// Realtime: the reference workload replayed as it would arrive, 1,000
/// readings a second with a group commit every 100 ms, so each batch holds
/// 100 readings from 100 different sensors (sensors 0-99, 100-199, ... of one
/// second). Time is simulated: nothing sleeps, but every commit is a real
/// `Partition.sync()` with its fdatasync, so /proc/self/io shows what the
/// flash would be sent.
enum RealtimeBenchmark {
    struct Result {
        var readings: Int64 = 0
        var commits = 0
        var seconds = 0.0
        var segmentBytes: Int64 = 0
        var segments: [SegmentSnapshot] = []
        /// /proc/self/io write_bytes during the appends and commits (nil without /proc).
        var writeBytes: Int64?
    }

    static let topic = "realtime"
    static let commitsPerSecond = 10

    static func run(directory: String, seconds: Int) throws -> Result {
        var configuration = LogConfiguration(directory: directory)
        // Only the explicit group commits sync.
        configuration.flush = .interval(maxDelayMilliseconds: .max, maxBytes: .max)
        let log = try Log.open(configuration)
        let partition = try log.topic(topic, creatingWith: 1)[0]
        var result = Result()
        var workload = ReferenceWorkload()
        var second: [Reading] = []
        let perCommit = ReferenceWorkload.sensorCount / commitsPerSecond
        let writtenBefore = ProcessStats.writeBytes()
        let watch = Stopwatch()
        for _ in 0..<seconds {
            workload.nextSecond(into: &second)
            for commit in 0..<commitsPerSecond {
                try partition.append(second[(commit * perCommit)..<((commit + 1) * perCommit)])
                try partition.sync()
                result.commits += 1
            }
        }
        result.seconds = watch.elapsedSeconds
        if let before = writtenBefore, let after = ProcessStats.writeBytes() { result.writeBytes = after - before }
        result.readings = partition.endOffset
        try log.close()
        result.segments = partition.segments
        result.segmentBytes = result.segments.reduce(0) { $0 + $1.length }
        return result
    }
}
