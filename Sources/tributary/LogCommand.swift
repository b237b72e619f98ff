import ArgumentParser
import TributaryCore
import TributaryLog

/// `tributary log`: the kcat and kafka-dump-log of the local log.
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Inspect, dump, follow, fill and check a log directory.",
        discussion: """
            Every subcommand but append opens the log read-only and takes no lock, \
            so it works on the log of a running daemon; it sees only durable readings.
            """,
        subcommands: [DescribeCommand.self, DumpCommand.self, TailCommand.self, AppendCommand.self,
                      VerifyCommand.self]
    )
}

/// `--data DIR`, shared by every `log` subcommand.
struct LogDirectoryOptions: ParsableArguments {
    @Option(name: .customLong("data"), help: ArgumentHelp("The log directory.", valueName: "dir"))
    var directory: String

    /// Opens the log without a lock and without changing anything on disk.
    func openReadOnly() throws -> Log {
        try Log.open(LogConfiguration(directory: directory), readOnly: true)
    }
}

/// `--topic T [--partition P]`, for the subcommands that read readings.
struct TopicSelectionOptions: ParsableArguments {
    @Option(help: "The topic.")
    var topic: String

    @Option(help: "Only this partition (default: every partition of the topic).")
    var partition: Int?

    func validate() throws {
        if let partition, partition < 0 { throw ValidationError("--partition must not be negative") }
    }

    /// The selected partitions, in order.
    func partitions(in log: Log, directory: String) throws -> [Partition] {
        guard let all = log.partitions(of: topic) else {
            throw CommandFailure.unknownTopic(topic, directory: directory, existing: log.topics)
        }
        guard let partition else { return all }
        return [try log.partition(topic, partition)]
    }
}

/// A time given as milliseconds since the epoch or ISO 8601.
struct TimeArgument: ExpressibleByArgument {
    var milliseconds: Int64

    init?(argument: String) {
        guard let milliseconds = Timestamps.parse(argument) else { return nil }
        self.milliseconds = milliseconds
    }

    static var defaultValueDescription: String { "ms since the epoch, or ISO 8601 such as 2026-01-01T00:00:00Z" }
}

/// Warns on standard error about readings a reader passed over because they
/// were damaged or deleted by retention meanwhile, so a dump never looks
/// complete when it is not. One per reader; each place is reported once.
struct SkipWarnings {
    private var reportedReadings: Int64 = 0
    private var reportedUpTo = Int64.min

    mutating func report(_ reader: PartitionReader) {
        guard reader.skippedReadings > reportedReadings else { return }
        let partition = reader.partition
        printError("warning: topic \(partition.topic) partition \(partition.id): skipped "
            + "\(reader.skippedReadings - reportedReadings) unreadable readings")
        // Batches that depended on a damaged one are lost with it: one place, one line.
        var merged: [RecoveryReport.Damage] = []
        for damage in reader.damage where damage.lostOffsets.upperBound > reportedUpTo {
            if let last = merged.last, last.file == damage.file,
               last.lostOffsets.upperBound == damage.lostOffsets.lowerBound {
                merged[merged.count - 1].lostOffsets = last.lostOffsets.lowerBound..<damage.lostOffsets.upperBound
            } else {
                merged.append(damage)
            }
        }
        for damage in merged { printError("  \(damage)") }
        reportedUpTo = merged.last?.lostOffsets.upperBound ?? reportedUpTo
        reportedReadings = reader.skippedReadings
    }
}
