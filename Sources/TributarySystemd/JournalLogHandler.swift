import CSystemd
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A swift-log back end that writes each message to the systemd journal as one structured
/// entry (`sd_journal_sendv(3)`).
///
/// Each entry carries:
/// - `MESSAGE` and `PRIORITY` (syslog levels: trace and debug 7, info 6, notice 5,
///   warning 4, error 3, critical 2), so `journalctl -p warning` works;
/// - `SYSLOG_IDENTIFIER` (the `identifier`, `tributary` by default), so `journalctl -t` works;
/// - `CODE_FILE`, `CODE_LINE`, `CODE_FUNC` of the log call;
/// - `TRIBUTARY_LOGGER` (the logger's label), `TRIBUTARY_ERROR` when an error is attached;
/// - every metadata entry as a field named by `JournalFieldName.forMetadataKey(_:)`
///   (`source` → `TRIBUTARY_SOURCE`); call-site metadata wins over the provider's, which
///   wins over the handler's.
///
/// Values may contain newlines and any bytes; sd_journal_sendv encodes them binary-safely.
/// If the journal refuses an entry (journald not running), the message is written as a
/// line to standard error instead, so nothing disappears silently.
///
/// Each call is one datagram `sendmsg` to journald; like a write to stderr it can block
/// briefly only if journald is far behind.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let identifier: String

    public init(
        label: String,
        identifier: String = "tributary",
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.identifier = identifier
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The syslog priority (0 emergency … 7 debug) journald stores for a swift-log level.
    public static func priority(of level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    public func log(event: LogEvent) {
        let fields = self.fields(for: event)
        let result = Self.send(fields)
        if result < 0 {
            let line = "\(identifier)[\(label)] \(event.level): \(event.message) (journal: \(errnoName(-result)))\n"
            // write(2) rather than stdio: the global `stderr` FILE* is not concurrency-safe in Swift 6.
            var bytes = Array(line.utf8)
            _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        }
    }

    /// The `NAME=value` fields of one entry, in the order they are sent.
    func fields(for event: LogEvent) -> [String] {
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let explicit = event.metadata {
            merged.merge(explicit) { _, new in new }
        }
        var fields = [
            "MESSAGE=\(event.message)",
            "PRIORITY=\(Self.priority(of: event.level))",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "CODE_FILE=\(event.file)",
            "CODE_LINE=\(event.line)",
            "CODE_FUNC=\(event.function)",
            "TRIBUTARY_LOGGER=\(label)",
        ]
        if let error = event.error {
            fields.append("TRIBUTARY_ERROR=\(String(describing: error))")
        }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            fields.append("\(JournalFieldName.forMetadataKey(key))=\(value)")
        }
        return fields
    }

    /// Sends the fields as one entry; returns sd_journal_sendv's result (negative errno on failure).
    private static func send(_ fields: [String]) -> Int32 {
        // One contiguous buffer keeps every iovec's base pointer valid for the call.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(fields.reduce(0) { $0 + $1.utf8.count })
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(fields.count)
        for field in fields {
            let start = bytes.count
            bytes.append(contentsOf: field.utf8)
            ranges.append(start..<bytes.count)
        }
        return bytes.withUnsafeMutableBytes { buffer in
            let base = buffer.baseAddress
            let vectors = ranges.map { range in
                iovec(iov_base: base.map { $0 + range.lowerBound }, iov_len: range.count)
            }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
    }
}
