import ArgumentParser
import TributaryCore
import TributaryLog

/// `tributary log describe`: what the log holds, per topic-partition and consumer.
struct DescribeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Show topics, partitions, offset ranges, disk use, segments and consumers with their lag.",
        discussion: """
            END is the durable end: the offset the next reading will get. LAG is END minus the \
            consumer's committed offset: readings it has not yet forwarded. With --json, prints one \
            object: {"directory", "disk_bytes", "topics": [{"topic", "partitions": [{"partition", \
            "start_offset", "end_offset", "readings", "segments", "disk_bytes", "first_timestamp", \
            "last_timestamp", "consumers": [{"consumer", "committed_offset", "lag"}]}]}]}.
            """
    )

    @OptionGroup var log: LogDirectoryOptions

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() throws {
        let opened = try log.openReadOnly()
        let summaries = opened.allPartitions.map(PartitionSummary.init)
        let output = BufferedOutput()
        if json {
            try output.write { jsonObject(summaries, diskBytes: opened.diskBytes).write(to: &$0) }
            try output.write { $0.append(UInt8(ascii: "\n")) }
        } else {
            for line in table(summaries, diskBytes: opened.diskBytes) { try output.write(line: line) }
        }
        try output.flush()
        let unclean = opened.recovery.filter { !$0.isClean }
        if !unclean.isEmpty {
            printError("warning: \(unclean.count) partitions need repair at the next open for writing; "
                + "run tributary log verify --data \(log.directory) for details")
        }
    }

    private func jsonObject(_ summaries: [PartitionSummary], diskBytes: Int64) -> JSONValue {
        let topics = Dictionary(grouping: summaries, by: \.topic).sorted { $0.key < $1.key }
        return .object([
            ("directory", .string(log.directory)),
            ("disk_bytes", .int(diskBytes)),
            ("topics", .array(topics.map { topic, partitions in
                .object([("topic", .string(topic)), ("partitions", .array(partitions.map(\.json)))])
            })),
        ])
    }

    private func table(_ summaries: [PartitionSummary], diskBytes: Int64) -> [String] {
        let topicCount = Set(summaries.map(\.topic)).count
        func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
        var lines = ["log \(log.directory): \(count(topicCount, "topic")), \(count(summaries.count, "partition")), "
            + "\(HumanText.bytes(diskBytes)) on disk"]
        guard !summaries.isEmpty else { return lines }
        lines.append("")
        lines += TextTable.render(
            header: ["TOPIC", "PARTITION", "START", "END", "READINGS", "SEGMENTS", "BYTES", "FIRST", "LAST"],
            rightAligned: [1, 2, 3, 4, 5, 6],
            rows: summaries.map { s in
                [s.topic, String(s.partition), String(s.start), String(s.end), String(s.end - s.start),
                 String(s.segments), HumanText.bytes(s.diskBytes),
                 s.firstTimestamp.map(Timestamps.iso8601(milliseconds:)) ?? "-",
                 s.lastTimestamp.map(Timestamps.iso8601(milliseconds:)) ?? "-"]
            })
        let consumerRows = summaries.flatMap { s in
            s.consumers.map { [$0.name, s.topic, String(s.partition), String($0.committed), String(s.end - $0.committed)] }
        }
        lines.append("")
        if consumerRows.isEmpty {
            lines.append("no consumers")
        } else {
            lines += TextTable.render(header: ["CONSUMER", "TOPIC", "PARTITION", "COMMITTED", "LAG"],
                                      rightAligned: [2, 3, 4], rows: consumerRows)
        }
        return lines
    }
}

/// One partition as describe shows it.
private struct PartitionSummary {
    var topic: String
    var partition: Int
    var start: Int64
    /// The durable end: the next offset.
    var end: Int64
    var segments: Int
    var diskBytes: Int64
    var firstTimestamp: Int64?
    var lastTimestamp: Int64?
    var consumers: [(name: String, committed: Int64)]

    init(_ partition: Partition) {
        topic = partition.topic
        self.partition = partition.id
        start = partition.startOffset
        end = partition.durableOffset
        let segments = partition.segments
        self.segments = segments.count
        diskBytes = partition.diskBytes
        let filled = segments.filter { $0.nextOffset > $0.baseOffset }
        firstTimestamp = filled.map(\.minTimestamp).min()
        lastTimestamp = filled.map(\.maxTimestamp).max()
        consumers = partition.consumers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    var json: JSONValue {
        .object([
            ("partition", .int(partition)),
            ("start_offset", .int(start)),
            ("end_offset", .int(end)),
            ("readings", .int(end - start)),
            ("segments", .int(segments)),
            ("disk_bytes", .int(diskBytes)),
            ("first_timestamp", .int(firstTimestamp)),
            ("last_timestamp", .int(lastTimestamp)),
            ("consumers", .array(consumers.map {
                .object([("consumer", .string($0.name)), ("committed_offset", .int($0.committed)),
                         ("lag", .int(end - $0.committed))])
            })),
        ])
    }
}
