import Logging
import Synchronization
import TributaryLog

/// Where one source's readings go: into its topic through the router,
/// counted; malformed input counted, logged at most once a second, and kept
/// raw in the dead-letter topic when the source names one.
///
/// Thread-safe; one per source.
public final class SourceOutput: Sendable {
    public let source: String
    public let topic: String
    /// Where malformed input is kept: a reading with the source's name as
    /// sensor and the raw bytes as value. nil: counted and logged only.
    public let deadLetterTopic: String?
    private let router: Router
    private let logger: Logger
    private let counters = Mutex(Counters())

    private struct Counters {
        var received: Int64 = 0
        var malformed: Int64 = 0
        var malformedLog = LogRateLimit()
    }

    public init(source: String, topic: String, deadLetterTopic: String? = nil, router: Router, logger: Logger) {
        self.source = source
        self.topic = topic
        self.deadLetterTopic = deadLetterTopic
        self.router = router
        var logger = logger
        logger[metadataKey: "source"] = "\(source)"
        self.logger = logger
    }

    /// Readings sent so far.
    public var received: Int64 { counters.withLock { $0.received } }
    /// Malformed inputs reported so far.
    public var malformed: Int64 { counters.withLock { $0.malformed } }

    /// Routes `readings` into the source's topic, suspending while the
    /// partition writers' queues are full (backpressure).
    public func send(_ readings: [Reading]) async throws {
        guard !readings.isEmpty else { return }
        try await router.send(readings, to: topic)
        counters.withLock { $0.received += Int64(readings.count) }
    }

    /// Counts input that could not be turned into readings, logs it (at most
    /// once a second, with the number not logged since), and keeps it in the
    /// dead-letter topic if there is one.
    /// - Parameters:
    ///   - raw: the input as read, kept byte for byte.
    ///   - reason: what is wrong with it, for the log.
    public func reportMalformed(_ raw: [UInt8], reason: String, at timestamp: Int64) async {
        let now = ContinuousClock.now
        let suppressed = counters.withLock { counters in
            counters.malformed += 1
            return counters.malformedLog.admit(at: now)
        }
        if let suppressed {
            logger.warning("malformed input", metadata: [
                "reason": "\(reason)", "bytes": "\(raw.count)", "malformed.suppressed": "\(suppressed)",
            ])
        }
        guard let deadLetterTopic else { return }
        do {
            try await router.send([Reading(sensor: source, timestamp: timestamp, value: .bytes(raw))],
                                  to: deadLetterTopic)
        } catch {
            logger.warning("could not keep malformed input in the dead-letter topic",
                           metadata: ["topic": "\(deadLetterTopic)", "error": "\(error)"])
        }
    }
}
