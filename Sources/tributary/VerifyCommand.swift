import ArgumentParser
import TributaryLog

/// `tributary log verify`: checks every checksum and index, changing nothing.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every batch checksum, offset and index file; name every damaged place.",
        discussion: """
            Exits 0 only when the log is intact, 1 otherwise. Changes nothing: the repairs listed \
            under "recovery" happen the next time the log is opened for writing (by the daemon or \
            tributary log append). On a log a daemon is writing, a batch being written at that \
            moment can show as cut short; run verify again to tell.
            """
    )

    @OptionGroup var log: LogDirectoryOptions

    func run() throws {
        let opened = try log.openReadOnly()
        let report = try opened.verify()
        let output = BufferedOutput()
        try output.write(line: "checked \(report.partitions) partitions, \(report.segments) segments, "
            + "\(report.batches) batches, \(report.readings) readings")
        for problem in report.problems { try output.write(line: "problem: \(problem)") }
        var damaged = !report.isIntact
        for recovery in opened.recovery where !recovery.isClean {
            let name = "\(recovery.topic)-\(recovery.partition)"
            for damage in recovery.damage {
                try output.write(line: "recovery \(name): skips \(damage)")
                damaged = true
            }
            if let tail = recovery.truncatedTail {
                try output.write(line: "recovery \(name): cuts \(tail.bytes) bytes of torn tail from \(tail.file) "
                    + "at byte \(tail.position)")
                damaged = true
            }
            for file in recovery.quarantined {
                try output.write(line: "recovery \(name): moves unreadable \(file) aside")
                damaged = true
            }
            for file in recovery.rebuiltIndexes {
                try output.write(line: "recovery \(name): rebuilds index \(file)")
            }
            for clamp in recovery.clampedConsumers {
                // Retention passing a slow consumer is normal operation, not damage.
                try output.write(line: "recovery \(name): moves consumer \(clamp.consumer) from offset "
                    + "\(clamp.from) to \(clamp.to), inside the log")
            }
        }
        try output.write(line: damaged ? "DAMAGED" : "intact")
        try output.flush()
        if damaged { throw ExitCode.failure }
    }
}
