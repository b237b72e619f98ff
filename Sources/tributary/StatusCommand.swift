import ArgumentParser
import FoundationEssentials
import TributaryCore
import TributaryPlugins
import TributaryMetrics

/// `tributary status`: asks the running daemon how it is doing.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a running daemon's sources, partitions, sinks and disk use.",
        discussion: """
            Asks the daemon's /status endpoint: --address if given, else [metrics] listen from \
            --config, else 127.0.0.1:9464.
            """
    )

    @Option(help: ArgumentHelp("The daemon's metrics address.", valueName: "host:port"))
    var address: String?

    @Option(name: .customLong("config"), help: ArgumentHelp("The configuration file.", valueName: "path"))
    var path: String = TributaryConfiguration.defaultPath

    @Flag(help: "Print the status as JSON, as the daemon serves it.")
    var json = false

    func run() async throws {
        let (host, port) = try endpoint()
        let snapshot = try await StatusClient.fetch(host: host, port: port)
        let output = BufferedOutput()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            try output.write { $0 += Array(try! encoder.encode(snapshot)) }
            try output.write(line: "")
        } else {
            try output.write(line: StatusTable.render(snapshot))
        }
        try output.flush()
    }

    private func endpoint() throws -> (String, Int) {
        if let address {
            guard let endpoint = MetricsConfiguration.parseListen(address) else {
                throw ValidationError("--address: expected host:port like 127.0.0.1:9464")
            }
            return endpoint
        }
        if let configuration = try? TributaryConfiguration.load(path: path, plugins: .tributary) {
            guard configuration.metrics.enabled else {
                throw CommandFailure.metricsDisabled(path: path)
            }
            return (configuration.metrics.host, configuration.metrics.port)
        }
        return ("127.0.0.1", 9464)
    }
}

/// The status as aligned tables for people.
enum StatusTable {
    static func render(_ s: PipelineSnapshot) -> String {
        var lines = ["device \(s.deviceID), up \(duration(s.uptimeSeconds)), disk \(HumanText.bytes(s.disk.usedBytes))"
            + (s.disk.budgetBytes.map { " of \(HumanText.bytes($0))" } ?? "")]
        lines.append("")
        lines += table(["SOURCE", "TOPIC", "STATE", "RECEIVED", "MALFORMED", "REFUSED", "RECONNECTS", "LAST READING"],
                       rightAligned: [3, 4, 5, 6], s.sources.map { source in
            [source.name, source.topic, source.error.map { "failing: \($0)" } ?? "ok",
             HumanText.grouped(source.received), HumanText.grouped(source.malformed),
             HumanText.grouped(source.refused), HumanText.grouped(source.reconnects),
             source.lastReading.map { "\(duration(Double(s.timestamp - $0) / 1000)) ago" } ?? "never"]
        })
        // Malformed input by reason, one line a source that had any: "local malformed: invalid-json 3, oversize 1".
        // Device errors, one line a source that had any: "plant errors: meter-2 timeout 14, crc 1".
        for source in s.sources where !source.deviceErrors.isEmpty {
            lines.append("\(source.name) errors: " + source.deviceErrors.sorted { $0.key < $1.key }.map { device, kinds in
                "\(device) " + kinds.sorted { $0.key < $1.key }.map { "\($0.key) \(HumanText.grouped($0.value))" }
                    .joined(separator: ", ")
            }.joined(separator: "; "))
        }
        for source in s.sources where !source.malformedByReason.isEmpty {
            lines.append("\(source.name) malformed: " + source.malformedByReason.sorted { $0.key < $1.key }
                .map { "\($0.key) \(HumanText.grouped($0.value))" }.joined(separator: ", "))
        }
        lines.append("")
        lines += table(["TOPIC", "PARTITION", "START", "DURABLE", "STORED", "DROPPED", "QUEUE", "DISK"],
                       rightAligned: [1, 2, 3, 4, 5, 6, 7],
                       s.topics.flatMap { topic in topic.partitions.map { p in
                           [topic.name, "\(p.id)", "\(p.startOffset)", "\(p.durableOffset)",
                            HumanText.grouped(p.stored), HumanText.grouped(p.dropped),
                            HumanText.grouped(Int64(p.queueDepth)), HumanText.bytes(p.diskBytes)]
                       } })
        lines.append("")
        lines += table(["SINK", "LINK", "FORWARDED", "FAILURES", "LAG", "IN FLIGHT", "LAST UPLOAD"],
                       rightAligned: [2, 3, 4, 5], s.sinks.map { sink in
            [sink.name, sink.linkUp ? "up" : sink.error.map { "down: \($0)" } ?? "down", HumanText.grouped(sink.forwarded),
             HumanText.grouped(sink.failures),
             HumanText.grouped(sink.lag) + (sink.backfillLag > 0 ? " (backfill \(HumanText.grouped(sink.backfillLag)))" : ""),
             "\(sink.inFlight)",
             sink.lastUpload.map { "\(duration(Double(s.timestamp - $0) / 1000)) ago" } ?? "never"]
        })
        // Each sink's own figures, one line a sink: "central: connected 1, messages_published_total 45".
        for sink in s.sinks where !sink.statistics.isEmpty {
            lines.append("\(sink.name): " + sink.statistics.map { statistic in
                let whole = statistic.value.rounded() == statistic.value && abs(statistic.value) < 1e15
                return "\(statistic.name) " + (whole ? HumanText.grouped(Int64(statistic.value)) : "\(statistic.value)")
            }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    private static func table(_ header: [String], rightAligned: Set<Int>, _ rows: [[String]]) -> [String] {
        rows.isEmpty ? ["(no \(header[0].lowercased())s)"]
            : TextTable.render(header: header, rightAligned: rightAligned, rows: rows)
    }

    private static func duration(_ seconds: Double) -> String {
        let whole = Int(max(0, seconds))
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return "\(whole / 60)m \(whole % 60)s" }
        if whole < 86_400 { return "\(whole / 3600)h \(whole % 3600 / 60)m" }
        return "\(whole / 86_400)d \(whole % 86_400 / 3600)h"
    }
}
