import CSystemd

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Tells the service manager about the daemon's life: readiness, status text, stopping and
/// watchdog keep-alives (`sd_notify(3)`).
///
/// Guarantees:
/// - When `NOTIFY_SOCKET` was unset at creation (a terminal, a test, `Type=simple`), every
///   call returns at once without a system call, so callers need no `if systemd` branches.
/// - Each call is one non-blocking datagram `sendmsg`; it is safe on the cooperative pool
///   and from any thread.
/// - Notifications are sent for this process's own pid, which is what `NotifyAccess=main`
///   accepts.
/// - `NOTIFY_SOCKET` is left in the environment; the daemon spawns no children that could
///   misuse it.
public struct SystemdNotifier: Sendable {
    /// Whether `NOTIFY_SOCKET` was set when this notifier was made; when false every call is a no-op.
    public let isEnabled: Bool

    /// Reads `NOTIFY_SOCKET` once, now.
    public init() {
        isEnabled = getenv("NOTIFY_SOCKET") != nil
    }

    /// `READY=1`: start-up is finished (log recovered, sources and sinks started).
    /// systemd holds back units ordered after this one until it arrives.
    public func ready() throws(SystemdError) {
        try send("READY=1")
    }

    /// `STATUS=…`: one line shown by `systemctl status`. Line breaks become spaces, because a
    /// newline would end the assignment and start a new (bogus) one.
    public func status(_ text: String) throws(SystemdError) {
        let line = String(text.map { $0.isNewline ? " " : $0 })
        try send("STATUS=\(line)")
    }

    /// `STOPPING=1`: graceful shutdown has begun; systemd stops waiting for readiness
    /// and starts `TimeoutStopSec`.
    public func stopping() throws(SystemdError) {
        try send("STOPPING=1")
    }

    /// `RELOADING=1` with the `MONOTONIC_USEC=` timestamp that systemd 253+ requires for
    /// `Type=notify-reload`; older managers ignore the extra field. Follow with `ready()`.
    public func reloading() throws(SystemdError) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let usec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
        try send("RELOADING=1\nMONOTONIC_USEC=\(usec)")
    }

    /// `WATCHDOG=1`: a keep-alive. Send it only when the daemon is known to be healthy
    /// (see `WatchdogGate`); a missed deadline makes systemd restart the service.
    public func watchdog() throws(SystemdError) {
        try send("WATCHDOG=1")
    }

    /// Sends newline-separated `KEY=value` assignments in one datagram.
    public func send(_ state: String) throws(SystemdError) {
        guard isEnabled else { return }
        let result = sd_notify(0, state)
        // 0 means NOTIFY_SOCKET vanished since init: nobody listens, so nothing is lost.
        if result < 0 {
            throw .notifyFailed(state: state, errno: -result)
        }
    }

    /// The watchdog timeout systemd enforces on this process (`WatchdogSec=`, passed as
    /// `WATCHDOG_USEC`), or nil when there is none or it is meant for another process
    /// (`WATCHDOG_PID` names a different pid). Ping at `pingInterval(forTimeout:)`, half of it,
    /// as `sd_watchdog_enabled(3)` recommends.
    ///
    /// Throws when the variables hold values systemd never writes (zero, not a number).
    public static func watchdogTimeout() throws(SystemdError) -> Duration? {
        var usec: UInt64 = 0
        let result = sd_watchdog_enabled(0, &usec)
        if result < 0 {
            throw .malformedWatchdogEnvironment(
                usec: environmentValue("WATCHDOG_USEC"),
                pid: environmentValue("WATCHDOG_PID"),
                errno: -result
            )
        }
        guard result > 0, usec > 0 else { return nil }
        return .microseconds(Int64(clamping: usec))
    }

    /// How often to send `WATCHDOG=1` for a given timeout: half of it, so one late ping
    /// (a slow flash write, a loaded CPU) does not get a healthy daemon killed.
    public static func pingInterval(forTimeout timeout: Duration) -> Duration {
        timeout / 2
    }
}

private func environmentValue(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}
