import ArgumentParser
import TributaryCore
import TributaryLog

/// `tributary log append`: the kcat -P of the local log, for backfills and
/// for `dump | append` copies.
struct AppendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append",
        abstract: "Append readings read from standard input as JSON lines.",
        discussion: """
            Reads the lines tributary log dump prints; offset, partition and time are ignored (the \
            log assigns offsets; time is used only when timestamp is missing), and without type the \
            JSON value decides it. Blank lines are skipped. Each reading goes to the partition its \
            sensor hashes to, so one sensor's readings stay in order.

            Exits 0 only when every reading is durable. Input is not held in memory, so a malformed \
            line stops the append there: the readings on the lines before it are appended and made \
            durable, and the error names the line and says how many were appended, so the rest can \
            be appended after fixing it. Takes the log's write lock: stop a daemon that uses the \
            directory first.
            """
    )

    @OptionGroup var log: LogDirectoryOptions

    @Option(help: "The topic; created if it does not exist.")
    var topic: String

    @Option(help: ArgumentHelp("Partitions for a new topic (default 1); an existing topic keeps its own.",
                               valueName: "n"))
    var partitions: Int?

    func validate() throws {
        let range = TopicConfiguration.partitionRange
        if let partitions, !range.contains(partitions) {
            throw ValidationError("--partitions must be \(range.lowerBound) to \(range.upperBound)")
        }
    }

    func run() throws {
        var configuration = LogConfiguration(directory: log.directory)
        // Group commit as the daemon does; the final sync makes everything durable.
        configuration.flush = .interval(maxDelayMilliseconds: 1000, maxBytes: 4 << 20)
        let opened = try Log.open(configuration)
        let appending = Result { try appendLines(to: opened) }
        // Closing syncs: only after it succeeds are the appended readings durable.
        let closing = Result { try opened.close() }
        if case let .failure(error) = appending, !(error is CommandFailure) { throw error }
        try closing.get()
        let added = try appending.get()
        printError("appended \(added) readings to topic \(topic)")
    }

    /// Appends every line of standard input; returns how many readings.
    private func appendLines(to opened: Log) throws -> Int {
        if let existing = opened.partitions(of: topic), let partitions, existing.count != partitions {
            throw CommandFailure.partitionCountMismatch(topic: topic, existing: existing.count, requested: partitions)
        }
        // The topic is created with the first valid reading, so a run that
        // fails on its first line leaves the log as it was.
        var writer: PartitionedAppender?
        var lines = LineReader()
        var number = 0
        do {
            while true {
                number += 1
                guard let line = try lines.next() else { break }
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                let reading = try ReadingJSON.reading(fromLine: line)
                if writer == nil {
                    writer = PartitionedAppender(partitions: try opened.topic(topic, creatingWith: partitions ?? 1))
                }
                try writer?.add(reading)
            }
        } catch let problem as ReadingJSON.Problem {
            try writer?.finish()
            throw CommandFailure.malformedLine(number: number, problem: problem.description,
                                               appended: writer?.added ?? 0)
        } catch is LineReader.LineTooLong {
            try writer?.finish()
            throw CommandFailure.malformedLine(number: number, problem: "longer than \(LineReader.maximumLineBytes) "
                + "bytes", appended: writer?.added ?? 0)
        }
        try writer?.finish()
        return writer?.added ?? 0
    }
}

/// Routes readings to their sensor's partition. The engine collects them
/// into batches itself, bounded in count and bytes.
struct PartitionedAppender {
    private let partitions: [Partition]
    private(set) var added = 0

    init(partitions: [Partition]) { self.partitions = partitions }

    mutating func add(_ reading: Reading) throws {
        try partitions[Log.partition(forSensor: reading.sensor, partitions: partitions.count)].append([reading])
        added += 1
    }

    /// Makes everything added durable.
    func finish() throws {
        for partition in partitions { try partition.sync() }
    }
}
