import Logging

/// Keeps systemd's watchdog fed while, and only while, the pipeline makes progress.
///
/// Every `pingInterval` it asks `probe` for a snapshot of the pipeline, feeds it to a
/// `WatchdogGate`, and sends `WATCHDOG=1` if the gate allows. Guarantees:
/// - The first ping goes out at once; later ones on a fixed cadence (a late wake-up does
///   not cause a burst of catch-up pings). Between pings the task sleeps: no polling.
/// - While a component is stalled no ping is sent, so systemd restarts the service once
///   `WatchdogSec` passes. The stall is logged once at error level with the components
///   named, and the recovery once at notice level.
/// - If `probe` itself hangs (an actor deadlock, a wedged lock), no ping is sent either.
/// - `run()` returns promptly when its task is cancelled, without a final ping.
public struct WatchdogPinger: Sendable {
    /// Returns every pipeline component's progress now. It should be quick: it runs once
    /// per ping and must not block the thread it runs on.
    public typealias Probe = @Sendable () async -> [ComponentProgress]

    /// Time between ping decisions.
    public let pingInterval: Duration
    /// How long a component with backlog may make no progress before pings stop.
    public let stallLimit: Duration
    private let notifier: SystemdNotifier
    private let logger: Logger
    private let probe: Probe

    /// The settings systemd asks for: ping at half the timeout, and call a component
    /// stalled after a whole timeout without progress.
    public init(notifier: SystemdNotifier, timeout: Duration, logger: Logger, probe: @escaping Probe) {
        self.init(
            notifier: notifier,
            pingInterval: SystemdNotifier.pingInterval(forTimeout: timeout),
            stallLimit: timeout,
            logger: logger,
            probe: probe
        )
    }

    /// Explicit cadence and stall limit, for tests and tuning.
    public init(
        notifier: SystemdNotifier,
        pingInterval: Duration,
        stallLimit: Duration,
        logger: Logger,
        probe: @escaping Probe
    ) {
        precondition(pingInterval > .zero, "a ping interval must be positive")
        self.notifier = notifier
        self.pingInterval = pingInterval
        self.stallLimit = stallLimit
        self.logger = logger
        self.probe = probe
    }

    /// Pings until the surrounding task is cancelled.
    public func run() async {
        let clock = ContinuousClock()
        var gate = WatchdogGate(stallLimit: stallLimit)
        var withholding = false
        var notifyFailing = false
        var deadline = clock.now
        while !Task.isCancelled {
            let snapshot = await probe()
            let now = clock.now
            gate.observeAll(snapshot, at: now)
            let stalls = gate.stalls(at: now)
            if stalls.isEmpty {
                if withholding {
                    withholding = false
                    logger.notice("pipeline is progressing again; watchdog pings resumed")
                }
                do {
                    try notifier.watchdog()
                    if notifyFailing {
                        notifyFailing = false
                        logger.notice("watchdog pings reach systemd again")
                    }
                } catch {
                    if !notifyFailing {
                        notifyFailing = true
                        logger.warning("\(error.description)")
                    }
                }
            } else if !withholding {
                withholding = true
                let named = stalls.map { "\($0.component) (backlog \($0.backlog), no progress for \($0.duration))" }
                logger.error(
                    "pipeline stalled; withholding watchdog pings so systemd restarts the service unless it recovers",
                    metadata: ["stalled": .array(named.map { .string($0) })]
                )
            }
            deadline = deadline + pingInterval
            if deadline < clock.now {
                // Overslept (suspend, overload): resume the cadence from now instead of catching up.
                deadline = clock.now + pingInterval
            }
            do {
                try await Task.sleep(until: deadline, tolerance: pingInterval / 10, clock: clock)
            } catch {
                return
            }
        }
    }
}
