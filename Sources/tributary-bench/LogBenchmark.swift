#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import TributaryLog

/// `tributary-bench log`: the storage engine's figures on the reference
/// workload (`ReferenceWorkload`) against issue 2's targets, as
/// human-readable lines and, with `--json`, one JSON object on the last line.
/// All data goes to a fresh directory under $TMPDIR (or /tmp), removed at the end.
enum LogBenchmark {
    struct Scale {
        var referenceSeconds: Int
        /// The bulk run continues the workload past the reference 3,600 s to this many seconds.
        var bulkSeconds: Int
        var realtimeSeconds: Int
        /// Bulk appends are repeated into fresh logs and the median run reported.
        var bulkRuns: Int
        var recovery: RecoveryBenchmark.Scale
    }

    static let full = Scale(referenceSeconds: 3600, bulkSeconds: 10_000, realtimeSeconds: 3600, bulkRuns: 3,
                            recovery: .init(partitions: 4, segmentsPerPartition: 5, segmentMiB: 16))
    /// A smoke test of every phase in a few seconds; its figures mean little.
    static let quick = Scale(referenceSeconds: 300, bulkSeconds: 600, realtimeSeconds: 300, bulkRuns: 1,
                             recovery: .init(partitions: 2, segmentsPerPartition: 2, segmentMiB: 1))

    enum Target {
        static let appendReadingsPerSecond = 10_000_000.0
        static let bytesPerReading = 2.0
        static let bytesPerReadingRealtime = 4.0
        static let recoveryMillisecondsPerGiB = 1000.0
        static let peakResidentMB = 32.0
    }

    static func run(quick: Bool, json: Bool) throws {
        let scale = quick ? Self.quick : Self.full
        let root = try FileIO.makeTemporaryDirectory(prefix: "tributary-bench-")
        defer { FileIO.removeTree(root) }
        let sensors = ReferenceWorkload.sensorCount
        say("tributary-bench log\(quick ? " --quick (small run, figures are indicative only)" : "")")
        say("reference workload: \(sensors) sensors x \(scale.referenceSeconds) s = "
            + "\(Format.grouped(Int64(sensors * scale.referenceSeconds))) readings (xorshift64, seed "
            + "\(Xorshift64.referenceSeed)); data in \(root), removed at the end")
        say("CRC32C: \(CRC32C.isHardwareAccelerated ? "hardware (SSE4.2 / ARMv8 CRC)" : "portable software fallback")")
        say("targets: bulk append >= 10 M readings/s; <= 2 B/reading bulk, <= 4 realtime; "
            + "recovery of 1 GiB after kill -9 < 1 s; peak RSS < 32 MB while appending 10 M readings")
        say("")

        let bulk = try BulkBenchmark.run(directory: root + "/bulk", seconds: scale.bulkSeconds,
                                         referenceSeconds: scale.referenceSeconds, ceilingPath: root + "/ceiling",
                                         repetitions: scale.bulkRuns)
        let appendRate = Double(bulk.readings) / bulk.medianAppendSeconds
        let runRates = bulk.appendRuns.map { Format.millions(Double(bulk.readings) / $0) }
        let ceilingRate = Double(bulk.readings) / bulk.ceilingSeconds
        let bytesPerReading = Double(bulk.referenceBytes) / Double(bulk.referenceReadings)
        let peakMB = bulk.peakResidentBytes.map { Double($0) / 1e6 }
        let readRate = Double(bulk.readReadings) / bulk.readSeconds
        say("bulk append        \(Format.millions(appendRate)) readings/s   [target >= 10 M: "
            + "\(Format.verdict(appendRate >= Target.appendReadingsPerSecond))]")
        say("                   median of \(bulk.appendRuns.count) runs (\(runRates.joined(separator: ", "))) of "
            + "\(Format.grouped(bulk.readings)) readings (t = 0..<\(scale.bulkSeconds)), timing append and sync only, "
            + "one thread; first run: \(bulk.syncs) fdatasyncs (at most one per 100 ms), "
            + "\(Format.millions(Double(bulk.readings) / bulk.wallSeconds)) readings/s counting the workload's generation")
        say("bulk size          \(Format.fixed(bytesPerReading, 3)) B/reading   [target <= 2: "
            + "\(Format.verdict(bytesPerReading <= Target.bytesPerReading))]")
        say("                   \(Format.grouped(bulk.referenceReadings)) reference readings in "
            + "\(Format.grouped(bulk.referenceBytes)) B of segments (batch headers included; the 100 ms syncs cut "
            + "batches, so the last digits vary between runs); all \(Format.grouped(bulk.readings)) of the bulk run: "
            + "\(Format.fixed(Double(bulk.segmentBytes) / Double(bulk.readings), 3)) B/reading")
        say("raw write ceiling  \(Format.millions(ceilingRate)) readings/s: the same \(Format.mebibytes(bulk.segmentBytes)) "
            + "of batches, one write() per batch, \(bulk.ceilingSyncs) fdatasync calls; append reaches "
            + "\(Format.fixed(appendRate / ceilingRate, 3)) of it")
        say("peak RSS           \(peakMB.map { Format.fixed($0, 1) } ?? "unknown") MB (VmHWM after appending "
            + "\(Format.grouped(bulk.readings)) readings)   [target < 32: \(Format.verdict((peakMB ?? .infinity) < Target.peakResidentMB))]")
        let intact = bulk.readSkipped == 0 && bulk.mismatches == 0 && bulk.readReadings == bulk.readings
        say("read back          \(Format.millions(readRate)) readings/s through a PartitionReader, "
            + "\(Format.grouped(bulk.readReadings)) readings; "
            + (intact ? "offsets contiguous, every reading equal to the workload"
                      : "FAILED: \(bulk.readSkipped) skipped, \(bulk.mismatches) differ from the workload"))

        let realtime = try RealtimeBenchmark.run(directory: root + "/realtime", seconds: scale.realtimeSeconds)
        let realtimeBytes = Double(realtime.segmentBytes) / Double(realtime.readings)
        let realtimeWrites = realtime.writeBytes.map { Double($0) / Double(realtime.readings) }
        say("realtime size      \(Format.fixed(realtimeBytes, 3)) B/reading   [target <= 4: "
            + "\(Format.verdict(realtimeBytes <= Target.bytesPerReadingRealtime))]")
        say("                   \(Format.grouped(realtime.readings)) readings in \(Format.grouped(Int64(realtime.commits))) "
            + "group commits of 100 (simulated time, a real fdatasync each: \(Format.fixed(realtime.seconds, 1)) s), "
            + "\(Format.grouped(realtime.segmentBytes)) B of segments")
        say("realtime writes    \(realtimeWrites.map { Format.fixed($0, 1) } ?? "unknown") B/reading sent to storage "
            + "(/proc/self/io write_bytes over all \(Format.grouped(Int64(realtime.commits))) commits; each fdatasync "
            + "writes back at least the 4 KiB page the batch landed in, a floor of 41 B/reading at 100 readings a commit)")

        let recovery = try RecoveryBenchmark.run(directory: root + "/recovery", scale: scale.recovery)
        let gib = Double(recovery.logBytes) / Double(1 << 30)
        let recoveryPerGiB = recovery.coldOpenSeconds * 1000 / gib
        let verifyPerGiB = recovery.coldVerifySeconds * 1000 / gib
        say("recovery           \(Format.fixed(recoveryPerGiB, 1)) ms/GiB   [target < 1000: "
            + "\(Format.verdict(recoveryPerGiB < Target.recoveryMillisecondsPerGiB))]")
        say("                   Log.open after kill -9 of a writer: \(Format.fixed(recovery.coldOpenSeconds * 1000, 1)) ms "
            + "for \(Format.mebibytes(recovery.logBytes)) in \(recovery.partitions) partitions, \(recovery.segments) segments, "
            + "page cache dropped; sealed segments are trusted through their index, only the \(recovery.partitions) active "
            + "segments (\(Format.mebibytes(recovery.activeBytes))) are rescanned; \(recovery.truncatedTails) tails cut, "
            + "\(recovery.lostReadings) readings lost; warm cache: \(Format.fixed(recovery.warmOpenSeconds * 1000, 1)) ms")
        say("full verify        \(Format.fixed(verifyPerGiB, 1)) ms/GiB: Log.verify reads, checks and decodes every "
            + "batch (\(Format.grouped(recovery.verifiedReadings)) readings, cold cache, "
            + "\(recovery.problems) problems); more than a recovery that trusted no index would cost, which checks CRCs without decoding")

        let bulkZstd = try CompressionProbe.measure(bulk.segments, scratch: root + "/zstd")
        let realtimeZstd = try CompressionProbe.measure(realtime.segments, scratch: root + "/zstd")
        if let bulkZstd, let realtimeZstd {
            for (name, probe, perReading) in [("bulk", bulkZstd, Double(bulk.segmentBytes) / Double(bulk.readings)),
                                              ("realtime", realtimeZstd, realtimeBytes)] {
                say("zstd -\(probe.level) \(name)\(name == "bulk" ? "    " : "")  whole segment files x\(Format.fixed(probe.wholeFileRatio, 3)) "
                    + "(\(Format.fixed(perReading * probe.wholeFileRatio, 3)) B/reading); per batch, header kept "
                    + "x\(Format.fixed(probe.perBatchRatio, 3)) over \(probe.sampledBatches) sampled batches: "
                    + Self.saving(probe.perBatchRatio))
            }
        } else {
            say("zstd               not measured: the zstd command is not installed (apt-get install zstd)")
        }
        let runPeakMB = ProcessStats.peakResidentBytes().map { Double($0) / 1e6 }
        say("whole run          peak RSS \(runPeakMB.map { Format.fixed($0, 1) } ?? "unknown") MB")

        guard json else { return }
        var report = BenchReport()
        report.add("append_readings_per_s", appendRate, digits: 0)
        report.add("raw_write_ceiling_readings_per_s", ceilingRate, digits: 0)
        report.add("ratio_to_ceiling", appendRate / ceilingRate, digits: 4)
        report.add("bytes_per_reading", bytesPerReading, digits: 4)
        report.add("bytes_per_reading_realtime", realtimeBytes, digits: 4)
        report.add("write_bytes_per_reading_realtime", realtimeWrites, digits: 2)
        report.add("read_readings_per_s", readRate, digits: 0)
        report.add("recovery_ms_per_gib", recoveryPerGiB, digits: 1)
        report.add("full_verify_ms_per_gib", verifyPerGiB, digits: 1)
        report.add("peak_rss_mb", peakMB, digits: 1)
        report.add("run_peak_rss_mb", runPeakMB, digits: 1)
        report.add("append_readings_per_s_best", Double(bulk.readings) / (bulk.appendRuns.min() ?? .nan), digits: 0)
        report.add("bulk_readings", Double(bulk.readings), digits: 0)
        report.add("bulk_bytes_per_reading_10m", Double(bulk.segmentBytes) / Double(bulk.readings), digits: 4)
        report.add("realtime_readings", Double(realtime.readings), digits: 0)
        report.add("recovery_log_mib", Double(recovery.logBytes) / 1_048_576, digits: 1)
        report.add("recovery_warm_ms_per_gib", recovery.warmOpenSeconds * 1000 / gib, digits: 1)
        report.add("zstd_whole_file_ratio_bulk", bulkZstd?.wholeFileRatio, digits: 4)
        report.add("zstd_per_batch_ratio_bulk", bulkZstd?.perBatchRatio, digits: 4)
        report.add("zstd_whole_file_ratio_realtime", realtimeZstd?.wholeFileRatio, digits: 4)
        report.add("zstd_per_batch_ratio_realtime", realtimeZstd?.perBatchRatio, digits: 4)
        report.add("read_back_intact", intact && recovery.problems == 0)
        report.add("crc32c_hardware", CRC32C.isHardwareAccelerated)
        report.add("quick", quick)
        report.add("target_append_readings_per_s", Target.appendReadingsPerSecond, digits: 0)
        report.add("target_bytes_per_reading", Target.bytesPerReading, digits: 1)
        report.add("target_bytes_per_reading_realtime", Target.bytesPerReadingRealtime, digits: 1)
        report.add("target_recovery_ms_per_gib", Target.recoveryMillisecondsPerGiB, digits: 0)
        report.add("target_peak_rss_mb", Target.peakResidentMB, digits: 0)
        say(report.json)
    }

    /// What per-batch compression at `ratio` would do to the log's size.
    static func saving(_ ratio: Double) -> String {
        ratio < 1 ? "would save \(Format.fixed((1 - ratio) * 100, 0))%"
                  : "would cost \(Format.fixed((ratio - 1) * 100, 0))% more"
    }
}
