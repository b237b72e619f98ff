import Foundation
import Testing
import TributaryLog
import TributaryTestSupport

/// `tributary run` as systemd runs it: readiness, status, watchdog, stop.
@Suite(.serialized)
struct DaemonLifecycleTests {
    @Test func reportsReadyStatusAndWatchdogThenStopsCleanlyOnSIGTERMWithEverythingForwarded() async throws {
        let scratch = try Scratch()
        let fixture = try DaemonFixture(scratch: scratch)
        let notifications = NotificationLog(try NotifySocket())
        let daemon = try fixture.start(notify: notifications.socket, watchdogMicroseconds: 1_000_000)

        let ready = await notifications.wait(for: .seconds(20)) { $0 == "READY=1" }
        #expect(ready != nil, "no READY=1; stderr: \(daemon.stderr)")
        #expect(notifications.lines.contains { $0.hasPrefix("STATUS=recovering the log") },
                "a status line while starting, before READY")
        let pings = await notifications.watchdogPings(during: .seconds(2))
        #expect(pings >= 2, "WATCHDOG=1 every 0.5 s for WATCHDOG_USEC=1s; got \(pings) in 2 s")
        let status = await notifications.wait(for: .seconds(6)) { $0.hasPrefix("STATUS=") && $0.contains("readings/s") }
        #expect(status?.contains("stored") == true, "a running status: \(status ?? "none")")

        kill(daemon.process.processIdentifier, SIGTERM)
        let stopping = await notifications.wait(for: .seconds(5)) { $0 == "STOPPING=1" }
        #expect(stopping != nil)
        let status0 = await exitStatus(of: daemon, within: 10)
        #expect(status0 == 0, "exit status after SIGTERM; stderr: \(daemon.stderr)")

        // Nothing acknowledged is lost: every durable reading was forwarded once, in order.
        let durable = try fixture.durableOffsets()
        let forwarded = ForwardedLine.offsets(try ForwardedLine.parse(daemon.stdout), partitions: 2)
        #expect(durable.allSatisfy { $0 > 0 }, "readings were stored: \(durable)")
        for partition in 0..<2 {
            #expect(forwarded[partition] == Array(0..<durable[partition]),
                    "partition \(partition): forwarded \(forwarded[partition].count) of \(durable[partition])")
        }
    }

    @Test func aRestartContinuesAtTheCommittedOffsets() async throws {
        let scratch = try Scratch()
        let fixture = try DaemonFixture(scratch: scratch)
        var previousEnd: [Int64] = [0, 0]
        for run in 1...2 {
            let notifications = NotificationLog(try NotifySocket())
            let daemon = try fixture.start(notify: notifications.socket)
            #expect(await notifications.wait(for: .seconds(20)) { $0 == "READY=1" } != nil, "run \(run) ready")
            try await Task.sleep(for: .milliseconds(1500))
            kill(daemon.process.processIdentifier, SIGTERM)
            #expect(await exitStatus(of: daemon, within: 10) == 0, "run \(run): \(daemon.stderr)")

            let durable = try fixture.durableOffsets()
            let forwarded = ForwardedLine.offsets(try ForwardedLine.parse(daemon.stdout), partitions: 2)
            for partition in 0..<2 {
                #expect(forwarded[partition] == Array(previousEnd[partition]..<durable[partition]),
                        "run \(run), partition \(partition) starts where the last run's commit left off")
            }
            #expect(durable[0] > previousEnd[0] && durable[1] > previousEnd[1], "run \(run) stored more")
            previousEnd = durable
        }
    }

    @Test func watchdogPingsStopWhileTheForwarderIsWedgedAndResumeWhenItMovesAgain() async throws {
        let scratch = try Scratch()
        let fixture = try DaemonFixture(scratch: scratch, sensors: 4, rate: 1000)
        let notifications = NotificationLog(try NotifySocket())
        // The stdout sink writes into a pipe nobody reads: once the pipe is full
        // the forwarder blocks in write(2) while its backlog grows.
        let output = Pipe()
        let daemon = try fixture.start(notify: notifications.socket, watchdogMicroseconds: 1_000_000,
                                       standardOutput: output)
        #expect(await notifications.wait(for: .seconds(20)) { $0 == "READY=1" } != nil, "\(daemon.stderr)")

        // Stall limit = the timeout (1 s); pings every 0.5 s until then.
        var quiet = false
        for _ in 0..<10 where !quiet {
            quiet = await notifications.watchdogPings(during: .seconds(2)) == 0
        }
        #expect(quiet, "pings kept coming while the forwarder was blocked")
        #expect(daemon.stderr.contains("pipeline stalled"), "the stall is logged: \(daemon.stderr)")

        // Unblock it: read the pipe from now on.
        let reader = Thread { while !output.fileHandleForReading.availableData.isEmpty {} }
        reader.start()
        #expect(await notifications.watchdogPings(during: .seconds(10)) > 0, "pings resume")

        kill(daemon.process.processIdentifier, SIGTERM)
        #expect(await exitStatus(of: daemon, within: 10) == 0, "\(daemon.stderr)")
    }
}

/// Stopping when a sink cannot finish.
@Suite(.serialized)
struct DaemonStopTests {
    /// A daemon whose stdout sink is wedged on a pipe nobody reads.
    private func startWedged(_ scratch: Scratch) async throws -> (TributaryProcess, Pipe) {
        let fixture = try DaemonFixture(scratch: scratch, sensors: 4, rate: 1000)
        let notifications = NotificationLog(try NotifySocket())
        let output = Pipe()
        let daemon = try fixture.start(notify: notifications.socket, standardOutput: output)
        #expect(await notifications.wait(for: .seconds(20)) { $0 == "READY=1" } != nil, "\(daemon.stderr)")
        try await Task.sleep(for: .seconds(1))  // fills the pipe
        return (daemon, output)
    }

    @Test func aWedgedSinkDoesNotKeepTheDaemonFromStoppingWithinTenSeconds() async throws {
        let scratch = try Scratch()
        let (daemon, output) = try await startWedged(scratch)
        let start = ContinuousClock.now
        kill(daemon.process.processIdentifier, SIGTERM)
        let status = await exitStatus(of: daemon, within: 15)
        #expect(status == 0, "\(daemon.stderr)")
        #expect(ContinuousClock.now - start < .seconds(10))
        #expect(daemon.stderr.contains("not forwarded yet stay in the log"), "\(daemon.stderr)")
        _ = output
    }

    @Test func aSecondSignalExitsAtOnce() async throws {
        let scratch = try Scratch()
        let (daemon, output) = try await startWedged(scratch)
        kill(daemon.process.processIdentifier, SIGTERM)
        try await Task.sleep(for: .milliseconds(500))
        let start = ContinuousClock.now
        kill(daemon.process.processIdentifier, SIGINT)
        let status = await exitStatus(of: daemon, within: 5)
        #expect(status == 130, "\(daemon.stderr)")
        #expect(ContinuousClock.now - start < .seconds(3))
        #expect(daemon.stderr.contains("second SIGINT: exiting at once"), "\(daemon.stderr)")
        _ = output
    }
}
