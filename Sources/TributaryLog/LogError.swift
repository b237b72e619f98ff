import SystemPackage

/// Every error the storage engine throws. Each case carries what a user needs
/// to act on it: the path, the offset, the topic.
public enum LogError: Error, Equatable, CustomStringConvertible {
    /// A system call failed on `path`; `operation` names the call.
    case io(operation: String, path: String, errno: Errno)
    /// The filesystem holding the log is full (ENOSPC). Nothing acknowledged was
    /// lost; the append that hit it was not acknowledged and can be retried.
    case diskFull(path: String)
    /// The filesystem holding the log is mounted read-only (EROFS).
    case readOnly(path: String)
    /// The disk budget is exhausted and no segment may be deleted (the topic's
    /// policy is `reject-new`, or nothing else is deletable): readings for it
    /// are refused, and counted, until sinks catch up.
    case budgetExhausted(topic: String, rejectedReadings: Int)
    /// An fdatasync failed and the unsynced data after the durable watermark
    /// could not be cut off: the partition refuses writes until the log is
    /// reopened, when recovery validates what is on disk.
    case unusable(path: String)
    /// A single reading larger than a batch can hold (16 MiB); it was refused
    /// and counted, the readings around it were stored.
    case readingTooLarge(sensor: String, bytes: Int)
    /// Another process holds the log directory's write lock.
    case locked(path: String)
    /// A configuration value the engine cannot work with.
    case invalidConfiguration(String)
    /// A topic or consumer name that would not make a safe file name.
    case invalidName(String)
    /// The topic or partition does not exist in this log.
    case unknownPartition(topic: String, partition: Int)
    /// The offset is outside what the partition holds.
    case offsetOutOfRange(requested: Int64, start: Int64, end: Int64)

    public var description: String {
        switch self {
        case let .io(operation, path, errno):
            return "\(operation) failed on \(path): \(errno) (errno \(errno.rawValue))"
        case let .diskFull(path):
            return "no space left on the filesystem holding \(path); free space or lower the log's disk budget"
        case let .readOnly(path):
            return "\(path) is on a read-only filesystem; remount it read-write or point the log elsewhere"
        case let .budgetExhausted(topic, rejected):
            return "disk budget exhausted: \(rejected) readings for topic \(topic) were refused, as no segment "
                + "could be deleted within the full policies (let sinks catch up, or raise the budget)"
        case let .unusable(path):
            return "an fdatasync on \(path) failed and its unsynced data could not be cut off; "
                + "reopen the log (restart) so recovery can check what is on disk"
        case let .readingTooLarge(sensor, bytes):
            return "a reading from sensor \(sensor) takes \(bytes) bytes, more than a batch can hold (16 MiB); it was refused"
        case let .locked(path):
            return "\(path) is locked by another process (is the daemon running?)"
        case let .invalidConfiguration(message):
            return "invalid log configuration: \(message)"
        case let .invalidName(name):
            return "invalid name \"\(name)\": use 1 to 64 characters from A-Z a-z 0-9 . _ -"
        case let .unknownPartition(topic, partition):
            return "no partition \(partition) in topic \(topic)"
        case let .offsetOutOfRange(requested, start, end):
            return "offset \(requested) is outside the partition's range [\(start), \(end))"
        }
    }

    /// Maps a failed system call to the most specific case.
    static func from(_ errno: Errno, operation: String, path: String) -> LogError {
        switch errno {
        case .noSpace: return .diskFull(path: path)
        case .readOnlyFileSystem: return .readOnly(path: path)
        default: return .io(operation: operation, path: path, errno: errno)
        }
    }
}
