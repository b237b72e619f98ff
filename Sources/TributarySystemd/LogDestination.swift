import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where the daemon's log messages go: the journal when systemd runs it, readable lines on
/// standard error otherwise (a terminal, a pipe, a test).
public enum LogDestination: Sendable, Equatable {
    /// Structured entries through `JournalLogHandler`.
    case journal
    /// swift-log's `StreamLogHandler` lines on standard error.
    case standardError

    /// The journal exactly when standard error is still the stream systemd connected to the
    /// journal: `JOURNAL_STREAM` is set and names stderr's device and inode (the check
    /// `systemd.exec(5)` prescribes). A child whose stderr was redirected elsewhere, or a
    /// shell started from a service, gets plain lines.
    public static func detect() -> LogDestination {
        guard let value = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else {
            return .standardError
        }
        var status = stat()
        guard fstat(STDERR_FILENO, &status) == 0 else { return .standardError }
        let matches = journalStream(value, names: UInt64(status.st_dev), inode: UInt64(status.st_ino))
        return matches ? .journal : .standardError
    }

    /// Whether a `JOURNAL_STREAM` value (`DEVICE:INODE`, both decimal) names this file.
    public static func journalStream(_ value: String, names device: UInt64, inode: UInt64) -> Bool {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let d = UInt64(parts[0]), let i = UInt64(parts[1]) else { return false }
        return d == device && i == inode
    }

    /// A handler for this destination, with `level` as its starting log level.
    public func makeHandler(label: String, level: Logger.Level) -> any LogHandler {
        var handler: any LogHandler
        switch self {
        case .journal: handler = JournalLogHandler(label: label)
        case .standardError: handler = StreamLogHandler.standardError(label: label)
        }
        handler.logLevel = level
        return handler
    }
}

/// Process-wide logging set-up for the daemon.
public enum LoggingBootstrap {
    /// Detects the destination and installs it as swift-log's back end. Call once, first
    /// thing in `main`: swift-log allows one bootstrap per process.
    @discardableResult
    public static func bootstrap(level: Logger.Level) -> LogDestination {
        let destination = LogDestination.detect()
        LoggingSystem.bootstrap { label in destination.makeHandler(label: label, level: level) }
        return destination
    }
}
