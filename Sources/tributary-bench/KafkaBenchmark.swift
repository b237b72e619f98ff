#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CRdKafka
import TributaryCore
import TributaryLog

/// `tributary-bench kafka`: tributary's Kafka sink draining a backlog into
/// librdkafka's mock cluster (three brokers, hosted in this process),
/// beside kcat producing the same records.
///
/// - Drain: for each compression, `tributary run` with a Kafka sink drains
///   a backlog of N readings (a JSON record each, keyed by sensor, five
///   identity headers) until every record is acknowledged; kcat produces
///   the same JSON records, keyed, with four fixed headers, from a file
///   with the same compression, `acks=all` and idempotence. Median of
///   `rounds` interleaved rounds.
/// - Bytes on the wire per reading, per compression: librdkafka's `tx_bytes`
///   (the sink's `bytes_sent_total`) over N.
/// - Memory: the daemon's peak RSS draining N and 10 N; then its RSS
///   through an outage of every broker with 10 N behind, and the drain after.
enum KafkaBenchmark {
    static let drainTarget = 0.9
    static let memoryTolerance = 0.10
    static let rounds = 3
    static let topicPartitions = 4
    /// How long the outage lasts before the 10 N drain; RSS is read at its start and end.
    static let outageSeconds = 15.0

    static func run(backlog: Int, largeBacklog: Int, json: Bool) throws {
        let executable = FileIO.besideThisExecutable("tributary")
        let root = try FileIO.makeTemporaryDirectory(prefix: "tributary-bench-kafka-")
        defer { FileIO.removeTree(root) }
        guard let kcat = ChildProcess.find("kcat") else { fail("kcat is not installed (apt-get install kcat)") }
        let cluster = KafkaMockCluster(brokers: 3)
        say("tributary-bench kafka: mock cluster \(cluster.bootstrap) (3 brokers, in this process); \(executable); "
            + "data in \(root), removed at the end")
        say("targets: drain >= \(drainTarget) x kcat -P (same records and compression, acks=all), peak RSS draining "
            + "\(Format.grouped(Int64(largeBacklog))) within \(Int(memoryTolerance * 100))% of \(Format.grouped(Int64(backlog)))")
        var report = BenchReport()

        let records = root + "/records"
        try writeRecords(records, count: backlog)
        try Backlog.fill(root + "/drain", readings: backlog)
        var lz4Peak: Int64 = 0
        var allMet = true
        for compression in ["none", "lz4", "zstd", "gzip"] {
            var measured: [(reference: Double, tributary: Double)] = []
            var bytesPerReading = 0.0
            for round in 0..<rounds {
                let topic = "kcat-\(compression)-\(round)"
                guard cluster.perform("topic", [topic, "\(topicPartitions)", "3"]) == "ok" else { fail("topic \(topic)") }
                let kcatRate = try produceWithKcat(kcat, cluster: cluster, topic: topic, compression: compression,
                                                   records: records, count: backlog)
                let drained = try drain(cluster, executable: executable, directory: root + "/drain",
                                        sink: "central-\(compression)-\(round)", compression: compression,
                                        readings: backlog)
                measured.append((kcatRate, drained.rate))
                bytesPerReading = drained.bytesPerReading
                if compression == "lz4" { lz4Peak = max(lz4Peak, drained.peakBytes) }
                say("  \(compression) round \(round + 1): kcat \(Format.grouped(Int64(kcatRate))) records/s, tributary "
                    + "\(Format.grouped(Int64(drained.rate))) readings/s: \(Format.fixed(drained.rate / kcatRate, 2)) x, "
                    + "\(Format.fixed(drained.bytesPerReading, 1)) B/reading on the wire")
            }
            let sorted = measured.sorted { $0.tributary / $0.reference < $1.tributary / $1.reference }
            let (kcatRate, tributaryRate) = sorted[sorted.count / 2]
            let ratio = tributaryRate / kcatRate
            allMet = allMet && ratio >= drainTarget
            say("drain \(compression + String(repeating: " ", count: max(0, 5 - compression.count))) kcat "
                + "\(Format.grouped(Int64(kcatRate))) records/s, tributary \(Format.grouped(Int64(tributaryRate))) "
                + "readings/s: \(Format.fixed(ratio, 2)) x (median of \(rounds)), \(Format.fixed(bytesPerReading, 1)) "
                + "B/reading on the wire   [target >= \(drainTarget): \(Format.verdict(ratio >= drainTarget))]")
            report.add("drain_\(compression)_kcat_per_s", kcatRate, digits: 0)
            report.add("drain_\(compression)_tributary_per_s", tributaryRate, digits: 0)
            report.add("drain_\(compression)_ratio", ratio)
            report.add("wire_\(compression)_bytes_per_reading", bytesPerReading, digits: 1)
        }
        report.add("drain_target_met", allMet)
        unlink(records)

        // The same drain ten times larger; then that backlog again after a long outage of every broker.
        try Backlog.fill(root + "/drain-large", readings: largeBacklog)
        let large = try drain(cluster, executable: executable, directory: root + "/drain-large", sink: "central",
                              compression: "lz4", readings: largeBacklog)
        let growth = Double(large.peakBytes) / Double(lz4Peak) - 1
        say("peak RSS draining  \(Format.mebibytes(lz4Peak)) for \(Format.grouped(Int64(backlog))), "
            + "\(Format.mebibytes(large.peakBytes)) for \(Format.grouped(Int64(largeBacklog))) "
            + "(\(Format.grouped(Int64(large.rate))) readings/s): \(growth >= 0 ? "+" : "")\(Format.fixed(growth * 100, 1))%   "
            + "[target within \(Int(memoryTolerance * 100))%: \(Format.verdict(abs(growth) <= memoryTolerance))]")
        let outage = try drain(cluster, executable: executable, directory: root + "/drain-large", sink: "after-outage",
                               compression: "lz4", readings: largeBacklog, outage: outageSeconds)
        say("outage of \(Int(outageSeconds)) s with \(Format.grouped(Int64(largeBacklog))) behind: RSS "
            + "\(Format.mebibytes(outage.outageRSS.start)) at its start, \(Format.mebibytes(outage.outageRSS.end)) at its "
            + "end; the drain after it \(Format.grouped(Int64(outage.rate))) readings/s, peak RSS "
            + "\(Format.mebibytes(outage.peakBytes))")
        report.add("peak_rss_mb", Double(lz4Peak) / 1e6, digits: 1)
        report.add("peak_rss_large_mb", Double(large.peakBytes) / 1e6, digits: 1)
        report.add("peak_rss_growth", growth)
        report.add("memory_target_met", abs(growth) <= memoryTolerance)
        report.add("outage_rss_start_mb", Double(outage.outageRSS.start) / 1e6, digits: 1)
        report.add("outage_rss_end_mb", Double(outage.outageRSS.end) / 1e6, digits: 1)
        report.add("after_outage_per_s", outage.rate, digits: 0)
        report.add("after_outage_peak_rss_mb", Double(outage.peakBytes) / 1e6, digits: 1)
        if json { say(report.json) }
    }

    /// The backlog's records as kcat reads them: `sensor:json` lines.
    private static func writeRecords(_ path: String, count: Int) throws {
        var text: [UInt8] = []
        text.reserveCapacity(count * 200)
        for index in 0..<count {
            let reading = Backlog.reading(index)
            text += reading.sensor.utf8
            text.append(UInt8(ascii: ":"))
            ReadingJSON.writeLine(StoredReading(offset: Int64(index / 2), reading: reading), partition: index % 2,
                                  to: &text, origin: (device: "bench", topic: "readings"))
        }
        try FileIO.writeFile(path, text)
    }

    private static func produceWithKcat(_ kcat: String, cluster: KafkaMockCluster, topic: String, compression: String,
                                        records: String, count: Int) throws -> Double {
        let stopwatch = Stopwatch()
        let producer = try ChildProcess(executable: "/bin/sh", arguments: ["-c", """
            exec '\(kcat)' -P -b '\(cluster.bootstrap)' -t '\(topic)' -K: -z \(compression) \
              -X acks=all -X enable.idempotence=true -X partitioner=murmur2_random \
              -H device=bench -H topic=readings -H partition=0 -H content-type=application/json < '\(records)'
            """])
        _ = producer.readRemainingOutput()
        guard producer.waitForExit() == 0 else { fail("kcat -P failed") }
        return Double(count) / stopwatch.elapsedSeconds
    }

    /// Runs `tributary run` on the log in `directory` with a Kafka sink named
    /// `sink` until every reading is acknowledged; with `outage`, every broker
    /// is down for that many seconds first.
    private static func drain(_ cluster: KafkaMockCluster, executable: String, directory: String, sink: String,
                              compression: String, readings: Int, outage: Double? = nil) throws
        -> (rate: Double, peakBytes: Int64, bytesPerReading: Double, outageRSS: (start: Int64, end: Int64)) {
        let topic = "tributary-\(sink)"
        guard cluster.perform("topic", [topic, "\(topicPartitions)", "3"]) == "ok" else { fail("topic \(topic)") }
        var outageRSS: (start: Int64, end: Int64) = (0, 0)
        if outage != nil { for broker in 1...3 { _ = cluster.perform("down", ["\(broker)"]) } }
        let daemon = try Daemon(executable: executable, directory: directory, body: """
            [[sinks]]
            type = "kafka"
            name = "\(sink)"
            topics = ["readings"]
            brokers = "\(cluster.bootstrap)"
            topic_template = "\(topic)"
            compression = "\(compression)"
            [sinks.librdkafka]
            "statistics.interval.ms" = 500
            """)
        let produced = "tributary_sink_records_produced_total{sink=\"\(sink)\"}"
        if let outage {
            // The window full: 4 deliveries of max_batch (10,000) readings in librdkafka's hands.
            guard daemon.waitFor(seconds: 60, { (Loopback.sample($0, produced) ?? 0) >= Double(min(readings, 40_000)) }) else {
                fail("tributary did not hand records to librdkafka")
            }
            outageRSS.start = daemon.residentBytes()
            usleep(UInt32(outage * 1_000_000))
            outageRSS.end = daemon.residentBytes()
            for broker in 1...3 { _ = cluster.perform("up", ["\(broker)"]) }
        }
        let stopwatch = Stopwatch()
        let forwarded = "tributary_sink_readings_forwarded_total{sink=\"\(sink)\"}"
        guard daemon.waitFor(seconds: 3600, { (Loopback.sample($0, forwarded) ?? 0) >= Double(readings) }) else {
            fail("tributary did not forward the backlog")
        }
        let seconds = stopwatch.elapsedSeconds
        let peak = daemon.peakResidentBytes()
        // The statistics after the last record went: bytes on the wire for all of them.
        let sent = "tributary_sink_records_sent_total{sink=\"\(sink)\"}"
        var bytes = 0.0
        guard daemon.waitFor(seconds: 30, { metrics in
            bytes = Loopback.sample(metrics, "tributary_sink_bytes_sent_total{sink=\"\(sink)\"}") ?? 0
            return (Loopback.sample(metrics, sent) ?? 0) >= Double(readings)
        }) else { fail("librdkafka's statistics did not count every record") }
        daemon.stop()
        return (Double(readings) / seconds, peak, bytes / Double(readings), outageRSS)
    }
}
