import ArgumentParser
import TributaryCore
import TributaryLog

/// `tributary log dump`: readings as JSON lines, streamed one batch at a time.
struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print a topic's durable readings as JSON lines.",
        discussion: """
            One line per reading: {"offset","partition","timestamp","time","sensor","type","value"}. \
            timestamp is ms since the epoch, time the same in ISO 8601 UTC. type is double, int, bool, \
            string or bytes; bytes are base64; doubles JSON cannot write are "NaN", "Infinity", \
            "-Infinity" or "NaN(0x<bits>)". tributary log append reads the same lines back.

            Without --partition, prints every partition, one after another. --from applies to each \
            partition (offsets are per partition). Damaged readings are skipped with a warning on \
            standard error.
            """
    )

    @OptionGroup var log: LogDirectoryOptions
    @OptionGroup var selection: TopicSelectionOptions

    @Option(help: ArgumentHelp("Start at this offset (default: the oldest reading).", valueName: "offset"))
    var from: Int64?

    @Option(help: ArgumentHelp("Start at the first reading at or after this time "
        + "(ms since the epoch, or ISO 8601 such as 2026-01-01T00:00:00Z).", valueName: "time"))
    var since: TimeArgument?

    @Option(help: ArgumentHelp("Print at most this many readings in all.", valueName: "n"))
    var limit: Int?

    func validate() throws {
        if from != nil, since != nil { throw ValidationError("give --from or --since, not both") }
        if let from, from < 0 { throw ValidationError("--from must not be negative") }
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative") }
    }

    func run() throws {
        let opened = try log.openReadOnly()
        let partitions = try selection.partitions(in: opened, directory: log.directory)
        let output = BufferedOutput()
        var remaining = limit ?? Int.max
        for partition in partitions where remaining > 0 {
            let reader = since.map { partition.reader(fromTimestamp: $0.milliseconds) }
                ?? partition.reader(from: from ?? 0)
            var warnings = SkipWarnings()
            reading: while remaining > 0 {
                let batch = try reader.next()
                if batch.isEmpty { break reading }
                for stored in batch.prefix(remaining) {
                    try output.write { ReadingJSON.writeLine(stored, partition: partition.id, to: &$0) }
                }
                remaining -= min(remaining, batch.count)
            }
            try output.flush()
            warnings.report(reader)
        }
        try output.flush()
    }
}
