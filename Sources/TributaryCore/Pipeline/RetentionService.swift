import Logging
import ServiceLifecycle
import TributaryLog

/// Runs the log's retention (`Log.enforceRetention`: age and topic bytes) at
/// start and every `interval` until graceful shutdown, on a thread of its own
/// (deleting files and syncing directories block). Every pass that deletes
/// something is logged, and readings deleted before every sink had them are
/// logged as a warning; both are counted by the partitions' statistics, which
/// `/metrics` exports.
struct RetentionService: Service {
    let log: Log
    let interval: Duration
    let logger: Logger

    func run() async throws {
        let worker = BlockingWorker(name: "retention")
        try worker.start()
        defer { worker.stop() }
        await cancelWhenGracefulShutdown { [log, interval, logger] in
            while !Task.isCancelled {
                do {
                    let report = try await worker.perform { try log.enforceRetention() }
                    Self.record(report, logger: logger)
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("retention failed; it runs again", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
        // A pass cut short by the stop still runs on the worker's thread: let it end before the log closes.
        _ = try? await worker.perform {}
        try? await gracefulShutdown()
    }

    private static func record(_ report: RetentionReport, logger: Logger) {
        guard report.deletedSegments > 0 else { return }
        let metadata: Logger.Metadata = [
            "segments": "\(report.deletedSegments)", "bytes": "\(report.freedBytes)",
            "readings.unforwarded": "\(report.droppedUnconsumedReadings)",
        ]
        if report.droppedUnconsumedReadings > 0 {
            logger.warning("retention deleted readings a sink had not forwarded yet", metadata: metadata)
        } else {
            logger.info("retention deleted forwarded segments", metadata: metadata)
        }
    }
}
