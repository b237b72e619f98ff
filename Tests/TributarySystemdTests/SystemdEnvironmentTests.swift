import Logging
import Synchronization
import Testing
@testable import TributarySystemd
import TributaryTestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Every test that changes NOTIFY_SOCKET or WATCHDOG_* lives here, one at a time, and puts
/// the variables back as it found them (unset).
@Suite("Talking to systemd through the environment", .serialized)
struct SystemdEnvironmentTests {
    @Test("the notifier sends READY, STATUS, WATCHDOG, RELOADING and STOPPING as datagrams")
    func notifierSendsDatagrams() async throws {
        let socket = try NotifySocket()
        ProcessEnvironment.set("NOTIFY_SOCKET", socket.path)
        defer { ProcessEnvironment.set("NOTIFY_SOCKET", nil) }
        let notifier = SystemdNotifier()
        #expect(notifier.isEnabled)

        try notifier.ready()
        #expect(socket.receiveNow() == "READY=1")
        try notifier.status("3 sensors\n120 readings/s")
        #expect(socket.receiveNow() == "STATUS=3 sensors 120 readings/s")
        try notifier.watchdog()
        #expect(socket.receiveNow() == "WATCHDOG=1")
        try notifier.reloading()
        let reloading = try #require(socket.receiveNow())
        #expect(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
        try notifier.stopping()
        #expect(socket.receiveNow() == "STOPPING=1")
        #expect(socket.receiveNow() == nil)
    }

    @Test("without NOTIFY_SOCKET the notifier is disabled and every call succeeds silently")
    func notifierWithoutSocket() throws {
        ProcessEnvironment.set("NOTIFY_SOCKET", nil)
        let notifier = SystemdNotifier()
        #expect(!notifier.isEnabled)
        try notifier.ready()
        try notifier.status("idle")
        try notifier.watchdog()
        try notifier.stopping()
    }

    @Test("a NOTIFY_SOCKET nobody listens on is reported as an error naming the state")
    func notifierReportsDeadSocket() throws {
        ProcessEnvironment.set("NOTIFY_SOCKET", "/tmp/tributary-nobody-listens-\(getpid()).sock")
        defer { ProcessEnvironment.set("NOTIFY_SOCKET", nil) }
        let notifier = SystemdNotifier()
        let error = try #require(throws: SystemdError.self) { try notifier.ready() }
        guard case let .notifyFailed(state, errno) = error else {
            Issue.record("unexpected error \(error)")
            return
        }
        #expect(state == "READY=1")
        #expect(errno > 0)
    }

    struct WatchdogCase: Sendable, CustomTestStringConvertible {
        var usec: String?
        var pid: String?  // "self" stands for this process's id
        var timeout: Duration?
        var testDescription: String { "WATCHDOG_USEC=\(usec ?? "-") WATCHDOG_PID=\(pid ?? "-")" }
    }

    @Test(
        "the watchdog timeout comes from WATCHDOG_USEC, only for the pid WATCHDOG_PID names",
        arguments: [
            WatchdogCase(usec: "30000000", pid: nil, timeout: .seconds(30)),
            WatchdogCase(usec: "30000000", pid: "self", timeout: .seconds(30)),
            WatchdogCase(usec: "2500", pid: "self", timeout: .microseconds(2500)),
            WatchdogCase(usec: "30000000", pid: "1", timeout: nil),
            WatchdogCase(usec: nil, pid: nil, timeout: nil),
        ]
    )
    func watchdogTimeout(_ example: WatchdogCase) throws {
        setWatchdogEnvironment(usec: example.usec, pid: example.pid)
        defer { setWatchdogEnvironment(usec: nil, pid: nil) }
        #expect(try SystemdNotifier.watchdogTimeout() == example.timeout)
    }

    @Test("a malformed WATCHDOG_USEC is an error quoting the value", arguments: ["abc", "0", "-5"])
    func malformedWatchdog(_ usec: String) throws {
        setWatchdogEnvironment(usec: usec, pid: "self")
        defer { setWatchdogEnvironment(usec: nil, pid: nil) }
        let error = try #require(throws: SystemdError.self) { try SystemdNotifier.watchdogTimeout() }
        #expect(error.description.contains("WATCHDOG_USEC=\(usec)"))
    }

    @Test("pings go out at half the watchdog timeout")
    func pingInterval() {
        #expect(SystemdNotifier.pingInterval(forTimeout: .seconds(30)) == .seconds(15))
    }

    @Test("the pinger pings while the pipeline progresses, stops when it is wedged, and resumes")
    func pingerFollowsProgress() async throws {
        let socket = try NotifySocket()
        ProcessEnvironment.set("NOTIFY_SOCKET", socket.path)
        defer { ProcessEnvironment.set("NOTIFY_SOCKET", nil) }
        let pipeline = FakePipeline()
        let pinger = WatchdogPinger(
            notifier: SystemdNotifier(),
            pingInterval: .milliseconds(20),
            stallLimit: .milliseconds(100),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            probe: { pipeline.snapshot() }
        )
        let task = Task { await pinger.run() }
        defer { task.cancel() }

        // NOTIFY_SOCKET is the process's: a test of another suite starting a notifier meanwhile may send
        // READY=1 or STATUS here, so only pings count.
        func ping(within timeout: Duration) async -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                guard let message = await socket.receive(within: deadline - ContinuousClock.now) else { return false }
                if message == "WATCHDOG=1" { return true }
            }
            return false
        }
        for _ in 0..<3 { #expect(await ping(within: .seconds(5))) }

        pipeline.setAdvancing(false)
        // The pings stop: a quiet 300 ms comes, however late a loaded machine lets the pinger see
        // the stall (a ping it decided on before may still arrive late, so look again).
        var quiet = false
        for _ in 0..<20 where !quiet {
            socket.drain()
            quiet = await !ping(within: .milliseconds(300))
        }
        #expect(quiet, "pinged while wedged")

        pipeline.setAdvancing(true)
        #expect(await ping(within: .seconds(5)))

        task.cancel()
        await task.value
    }

    private func setWatchdogEnvironment(usec: String?, pid: String?) {
        ProcessEnvironment.set("WATCHDOG_USEC", usec)
        ProcessEnvironment.set("WATCHDOG_PID", pid == "self" ? String(getpid()) : pid)
    }
}

/// A pipeline of one writer with a constant backlog whose progress the test switches off and on.
final class FakePipeline: Sendable {
    private let state = Mutex((completed: UInt64(0), advancing: true))

    func setAdvancing(_ advancing: Bool) {
        state.withLock { $0.advancing = advancing }
    }

    func snapshot() -> [ComponentProgress] {
        let completed = state.withLock { state in
            if state.advancing { state.completed += 1 }
            return state.completed
        }
        return [ComponentProgress(component: "writer sensors-0", completed: completed, backlog: 5)]
    }
}
