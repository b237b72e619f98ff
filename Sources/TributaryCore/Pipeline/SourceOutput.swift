import Logging
import Synchronization
import TributaryLog

/// Where one source's readings go: into its topic through the router,
/// counted; malformed input counted, logged at most once a second, and kept
/// raw in the dead-letter topic when the source names one; and the source's
/// health (its last reading, its current error, its reconnects), so a dead
/// serial port shows as failing rather than quiet.
///
/// Two ways in: `send` for sources running in a task (suspends while the
/// log's queues are full), `handOver` for client libraries that call back on
/// threads of their own (blocks that thread instead, so the client and its
/// broker hold the messages). Readings the log does not take (the daemon is
/// stopping) are counted as refused.
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
        var malformedByReason: [String: Int64] = [:]
        var malformed: Int64 { malformedByReason.values.reduce(0, +) }
        var refused: Int64 = 0
        var reconnects: Int64 = 0
        /// Errors of the devices behind the source, by device and kind.
        var deviceErrors: [String: [String: Int64]] = [:]
        /// Milliseconds since the epoch when the log last took a reading.
        var lastReading: Int64?
        var error: String?
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

    /// The source's counters and health now.
    public var status: SourceStatus {
        counters.withLock { counters in
            SourceStatus(name: source, topic: topic, received: counters.received, malformed: counters.malformed,
                         malformedByReason: counters.malformedByReason, refused: counters.refused, reconnects: counters.reconnects,
                         lastReading: counters.lastReading, error: counters.error, deviceErrors: counters.deviceErrors)
        }
    }

    /// Routes `readings` into the source's topic, suspending while the
    /// partition writers' queues are full (backpressure). Readings of a topic
    /// with several partitions go in one group per partition; when it throws,
    /// the groups before the failing one are stored and the rest are counted
    /// as refused.
    /// - Throws: `PipelineError.writerStopped` when the daemon is stopping,
    ///   `CancellationError` when the task is cancelled while it waits.
    public func send(_ readings: [Reading]) async throws {
        let groups = try router.route(readings, to: topic)
        for (index, (writer, group)) in groups.enumerated() {
            do {
                try await writer.send(group)
            } catch {
                throw refused(groups[index...].reduce(0) { $0 + $1.1.count }, error)
            }
            accepted(group)
        }
    }

    /// Routes `readings` into the source's topic, blocking the calling thread
    /// while the partition writers' queues are full. Call it from a client
    /// library's own thread, never from a task. With `untilWritten`, it
    /// returns only once the partition writers have written the readings to
    /// their files (a kill -9 can no longer lose them; a power cut can until
    /// the next sync): for a client that acknowledges its peer when this returns.
    /// - Throws: `PipelineError.writerStopped` when the daemon is stopping.
    public func handOver(_ readings: [Reading], untilWritten: Bool = false) throws {
        let groups = try router.route(readings, to: topic)
        var taken = 0
        do {
            try router.handOver(groups, untilWritten: untilWritten) { group in
                taken += group.count
                accepted(group)
            }
        } catch {
            throw refused(readings.count - taken, error)
        }
    }

    /// Counts `count` readings (the group refused and those after it, never
    /// tried) as refused and returns `error`, to be thrown.
    private func refused(_ count: Int, _ error: any Error) -> any Error {
        counters.withLock { $0.refused += Int64(count) }
        return error
    }

    private func accepted(_ group: [Reading]) {
        let now = SystemClock.wallMilliseconds()
        counters.withLock { counters in
            counters.received += Int64(group.count)
            counters.lastReading = now
        }
    }

    /// Counts input that could not be turned into readings, logs it (at most
    /// once a second, with the number not logged since), and keeps it in the
    /// dead-letter topic if there is one.
    /// - Parameters:
    ///   - raw: the input as read, kept byte for byte.
    ///   - reason: what is wrong with it, a short word or two it is counted
    ///     under ("invalid-json", "oversize").
    ///   - detail: more about it, for the log.
    public func reportMalformed(_ raw: [UInt8], reason: String, detail: String? = nil, at timestamp: Int64) async {
        guard let deadLetter = noteMalformed(raw, reason: reason, detail: detail, at: timestamp),
              let deadLetterTopic else { return }
        do {
            try await router.send([deadLetter], to: deadLetterTopic)
        } catch {
            couldNotKeep(error)
        }
    }

    /// `reportMalformed` for client libraries' own threads: blocks while the
    /// dead-letter topic's queue is full (and, with `untilWritten`, until it
    /// is written, as for `handOver`).
    public func handOverMalformed(_ raw: [UInt8], reason: String, detail: String? = nil, at timestamp: Int64,
                                  untilWritten: Bool = false) {
        guard let deadLetter = noteMalformed(raw, reason: reason, detail: detail, at: timestamp),
              let deadLetterTopic else { return }
        do {
            try router.handOver([deadLetter], to: deadLetterTopic, untilWritten: untilWritten)
        } catch {
            couldNotKeep(error)
        }
    }

    /// Counts and logs malformed input; returns it as a dead-letter reading.
    private func noteMalformed(_ raw: [UInt8], reason: String, detail: String?, at timestamp: Int64) -> Reading? {
        let now = ContinuousClock.now
        let suppressed = counters.withLock { counters in
            counters.malformedByReason[reason, default: 0] += 1
            return counters.malformedLog.admit(at: now)
        }
        if let suppressed {
            var metadata: Logger.Metadata = [
                "reason": "\(reason)", "bytes": "\(raw.count)", "malformed.suppressed": "\(suppressed)",
            ]
            if let detail { metadata["detail"] = "\(detail)" }
            logger.warning("malformed input", metadata: metadata)
        }
        return deadLetterTopic == nil ? nil : Reading(sensor: source, timestamp: timestamp, value: .bytes(raw))
    }

    private func couldNotKeep(_ error: any Error) {
        logger.warning("could not keep malformed input in the dead-letter topic",
                       metadata: ["topic": "\(deadLetterTopic ?? "")", "error": "\(error)"])
    }

    // MARK: Health

    /// Records that the source cannot read now (a port gone, a broker
    /// refusing), shown in `/status`, the metrics and `tributary status`
    /// until `reportRecovered`. Logged when the error changes.
    public func reportError(_ description: String) {
        let changed = counters.withLock { counters -> Bool in
            defer { counters.error = description }
            return counters.error != description
        }
        if changed { logger.warning("source failing", metadata: ["error": "\(description)"]) }
    }

    /// Records that the source reads again after `reportError`.
    public func reportRecovered() {
        let previous = counters.withLock { counters -> String? in
            defer { counters.error = nil }
            return counters.error
        }
        if previous != nil { logger.notice("source reading again") }
    }

    /// Counts `count` errors of one device behind the source (a Modbus slave
    /// on a shared line: `kind` "timeout", "crc", "exception"; a GPIO line:
    /// "lost-events"), shown per device in the status and the metrics.
    public func countDeviceError(device: String, kind: String, count: Int64 = 1) {
        counters.withLock { $0.deviceErrors[device, default: [:]][kind, default: 0] += count }
    }

    /// Counts a reconnection to the device or broker.
    public func reportReconnect() {
        counters.withLock { $0.reconnects += 1 }
    }
}
