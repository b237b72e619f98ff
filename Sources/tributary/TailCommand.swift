import ArgumentParser
import SystemPackage
import TributaryCore
import TributaryLog

/// `tributary log tail`: follows a topic as a daemon appends to it.
struct TailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Print readings as they become durable, as JSON lines, until interrupted.",
        discussion: """
            Starts at the current end of each partition and prints what is appended after that, in \
            the format of tributary log dump. Looks for new readings every 200 ms. Stops on Ctrl-C \
            (SIGINT), SIGTERM, or when standard output is closed.
            """
    )

    @OptionGroup var log: LogDirectoryOptions
    @OptionGroup var selection: TopicSelectionOptions

    /// How often to look for new readings; a read-only log only learns of
    /// them by looking at the files again.
    private static let pollMilliseconds = 200

    func run() throws {
        // Blocked before anything else, so an early Ctrl-C is a clean stop too.
        var stop = StopSignals()
        let opened = try log.openReadOnly()
        let partitions = try selection.partitions(in: opened, directory: log.directory)
        let readers = partitions.map { $0.reader(from: $0.durableOffset) }
        var warnings = Array(repeating: SkipWarnings(), count: readers.count)
        let starts = partitions.map { "\($0.id)@\($0.durableOffset)" }.joined(separator: " ")
        printError("following topic \(selection.topic), partition@offset \(starts) (Ctrl-C to stop)")
        let output = BufferedOutput()
        while true {
            for (i, reader) in readers.enumerated() {
                while true {
                    let batch = try reader.next()
                    if batch.isEmpty { break }
                    for stored in batch {
                        try output.write { ReadingJSON.writeLine(stored, partition: reader.partition.id, to: &$0) }
                    }
                }
                warnings[i].report(reader)
            }
            try output.flush()
            if output.isClosed || stop.wait(milliseconds: Self.pollMilliseconds) { return }
            for partition in partitions {
                do {
                    try partition.refresh()
                } catch let LogError.io(_, _, errno) where errno == .noSuchFileOrDirectory {
                    // Retention deleted a segment while we listed it; the next look sees the new state.
                }
            }
        }
    }
}
