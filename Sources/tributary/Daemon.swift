import Logging
import ServiceLifecycle
import Synchronization
import SystemPackage
import TributaryCore
import TributaryMetrics
import TributarySystemd
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// `tributary run` and `tributary demo`: one pipeline, its metrics endpoint,
/// systemd notifications and the watchdog, in one service group.
///
/// Start-up: `READY=1` once the log is recovered, the metrics endpoint
/// listens and every service has been started; then the code only starting
/// up needed is given back (`StartupPages`).
/// The first SIGTERM or SIGINT (or the end of `duration`) sends `STOPPING=1`
/// and shuts down gracefully: sources stop, writers drain and fsync,
/// forwarders commit; the whole stop is bounded by `stopTimeout`. A second
/// signal exits at once.
struct Daemon {
    var configuration: TributaryConfiguration
    var logger: Logger
    /// Where stdout sinks write (the demo's `--quiet` sends them to /dev/null).
    var sinkOutput: FileDescriptor = .standardOutput
    /// Stop by itself after this long (the demo's `--duration`).
    var duration: Duration?
    /// Called with every status update and the one before it (the demo's progress line).
    var onStatus: (@Sendable (PipelineSnapshot, PipelineSnapshot) -> Void)?
    /// How often STATUS= (and `onStatus`) is refreshed.
    var statusInterval: Duration = .seconds(5)

    /// A sink wedged in a call is abandoned after this long, so a stop stays well inside 10 s.
    static let stopTimeout: Duration = .seconds(5)

    /// Runs until stopped; returns the final snapshot after a clean stop.
    func run() async throws -> PipelineSnapshot {
        let notifier = SystemdNotifier()
        try? notifier.status("recovering the log in \(configuration.log.directory)")
        let pipeline = try Pipeline(configuration: configuration, context: PluginContext(
            deviceID: configuration.deviceID, logger: logger, standardOutput: sinkOutput,
            stateDirectory: configuration.log.directory + "/state"))
        reportRecovery(pipeline)
        reportStart(pipeline.snapshot())
        do {
            try await runServices(of: pipeline, notifier: notifier)
        } catch {
            try? pipeline.close()
            throw error
        }
        try pipeline.close()
        let final = pipeline.snapshot()
        logger.notice("tributary stopped", metadata: [
            "stored": "\(final.topics.reduce(0) { $0 + $1.stored })",
            "forwarded": "\(final.sinks.reduce(0) { $0 + $1.forwarded })",
        ])
        for sink in final.sinks where sink.lag > 0 {
            logger.notice("readings not forwarded yet stay in the log and go out at the next start",
                          metadata: ["sink": "\(sink.name)", "readings": "\(sink.lag)"])
        }
        return final
    }

    /// Starts the metrics endpoint, the watchdog, the status reporter and the
    /// pipeline's services, says READY=1, and returns once they have stopped.
    private func runServices(of pipeline: Pipeline, notifier: SystemdNotifier) async throws {
        var services: [any Service] = []
        if configuration.metrics.enabled {
            let server = try await MetricsServer.bind(host: configuration.metrics.host,
                                                      port: configuration.metrics.port,
                                                      logger: logger) { pipeline.snapshot() }
            logger.info("metrics on http://\(configuration.metrics.listen)/metrics, status on /status")
            services.append(server)
        }
        if let timeout = try SystemdNotifier.watchdogTimeout() {
            let pinger = WatchdogPinger(notifier: notifier, timeout: timeout, logger: logger) {
                WatchdogProbe.progress(of: pipeline.snapshot())
            }
            services.append(UntilShutdown { await pinger.run() })
        }
        services.append(UntilShutdown { [statusInterval, onStatus] in
            await StatusReporter(notifier: notifier, interval: statusInterval, onStatus: onStatus)
                .run(snapshot: { pipeline.snapshot() })
        })
        services += pipeline.services
        // Last, so the group has started everything before it: the log is
        // recovered, the endpoint listens, every source and sink is running.
        services.append(UntilShutdown { [logger, configuration] in
            do {
                try notifier.ready()
            } catch {
                logger.warning("\(error)")
            }
            logger.notice("tributary is running", metadata: ["device": "\(configuration.deviceID)"])
            StartupPages.release()
        })
        var groupConfiguration = ServiceGroupConfiguration(services: services, logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = Self.stopTimeout
        let group = ServiceGroup(configuration: groupConfiguration)
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let stop = StopRequest(group: group, notifier: notifier, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for await signal in signals { await stop.signalled(signal) }
            }
            if let duration {
                tasks.addTask {
                    try await Task.sleep(for: duration)
                    await stop.request(reason: "the demo's duration")
                }
            }
            try await group.run()
            tasks.cancelAll()
        }
    }

    /// Where each topic and sink stands as the daemon starts.
    private func reportStart(_ snapshot: PipelineSnapshot) {
        for topic in snapshot.topics {
            logger.info("log open", metadata: [
                "topic": "\(topic.name)",
                "durable": .array(topic.partitions.map { "\($0.id)@\($0.durableOffset)" }),
            ])
        }
        for sink in snapshot.sinks {
            logger.info("forwarding", metadata: [
                "sink": "\(sink.name)", "lag": "\(sink.lag)",
                "resumes": .array(sink.partitions.map { "\($0.topic)-\($0.partition)@\($0.committedOffset)" }),
            ])
        }
    }

    private func reportRecovery(_ pipeline: Pipeline) {
        for report in pipeline.log.recovery where !report.isClean {
            logger.warning("log recovered with repairs", metadata: [
                "topic": "\(report.topic)", "partition": "\(report.partition)",
                "readings.lost": "\(report.lostReadings)", "damaged.places": "\(report.damage.count)",
                "tail.cut": "\(report.truncatedTail != nil)", "indexes.rebuilt": "\(report.rebuiltIndexes.count)",
                "files.quarantined": "\(report.quarantined)",
            ])
        }
    }
}

/// A service that runs `body` until graceful shutdown (cancelling it then)
/// and stays in the group until the shutdown even if `body` returns early:
/// in a service group, a service that returns stops the others.
struct UntilShutdown: Service {
    let body: @Sendable () async -> Void

    init(_ body: @escaping @Sendable () async -> Void) {
        self.body = body
    }

    func run() async throws {
        await cancelWhenGracefulShutdown { await body() }
        try? await gracefulShutdown()
    }
}

/// The first stop request (a signal, the demo's duration) shuts the group
/// down gracefully; a signal after that exits at once.
final class StopRequest: Sendable {
    let group: ServiceGroup
    let notifier: SystemdNotifier
    let logger: Logger
    private let requested = Atomic(false)

    init(group: ServiceGroup, notifier: SystemdNotifier, logger: Logger) {
        self.group = group
        self.notifier = notifier
        self.logger = logger
    }

    func signalled(_ signal: UnixSignal) async {
        if requested.load(ordering: .acquiring) {
            logger.warning("second \(signal): exiting at once; readings not yet durable are lost")
            exit(130)
        }
        await request(reason: "\(signal)")
    }

    func request(reason: String) async {
        guard !requested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        try? notifier.stopping()
        logger.notice("stopping", metadata: ["reason": "\(reason)"])
        await group.triggerGracefulShutdown()
    }
}
