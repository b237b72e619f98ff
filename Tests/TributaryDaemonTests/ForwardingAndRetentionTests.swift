import Foundation
import Testing
import TributaryLog
import TributaryTestSupport

/// What the daemon keeps and loses when it is killed, and what retention deletes.
@Suite(.serialized)
struct ForwardingAndRetentionTests {
    @Test func killDashNineInTheMiddleOfAWindowLosesNothing() async throws {
        let scratch = try Scratch()
        let fixture = try DaemonFixture(scratch: scratch, sensors: 8, rate: 500)

        // Run 1: killed while deliveries are in flight, after it has committed (about once a second).
        let first = try fixture.start(notify: nil)
        let directory = fixture.dataDirectory
        let committing = await offPoolWait(first) { _ in
            let log = try? Log.open(LogConfiguration(directory: directory), readOnly: true)
            let committed = (log?.partitions(of: "readings") ?? []).map { $0.committedOffset(for: "out") ?? 0 }
            return committed.count == 2 && committed.allSatisfy { $0 > 0 }
        }
        #expect(committing, "the first run committed: \(first.stderr)")
        let written = first.stdout.utf8.count
        let midway = await offPoolWait(first) { $0.stdout.utf8.count > written + 100_000 }
        #expect(midway, "the first run goes on forwarding: \(first.stderr)")
        kill(first.process.processIdentifier, SIGKILL)
        #expect(await exitStatus(of: first, within: 10) != nil)
        let before = ForwardedLine.offsets(try ForwardedLine.parse(first.stdout), partitions: 2)
        let committed = try fixture.partitions().map { $0.committedOffset(for: "out") ?? 0 }
        for partition in 0..<2 {
            // A committed offset never runs ahead of what the sink acknowledged (wrote).
            let written = Set(before[partition])
            let hole = (0..<committed[partition]).first { !written.contains($0) }
            #expect(hole == nil, "partition \(partition): committed \(committed[partition]) past unwritten \(hole ?? -1)")
        }

        // Run 2: resumes at the committed offsets and stops cleanly, forwarding the rest.
        let notifications = NotificationLog(try NotifySocket())
        let second = try fixture.start(notify: notifications.socket)
        #expect(await notifications.wait(for: .seconds(20)) { $0 == "READY=1" } != nil, "\(second.stderr)")
        try await Task.sleep(for: .milliseconds(500))
        kill(second.process.processIdentifier, SIGTERM)
        #expect(await exitStatus(of: second, within: 10) == 0, "\(second.stderr)")
        let after = ForwardedLine.offsets(try ForwardedLine.parse(second.stdout), partitions: 2)
        let durable = try fixture.durableOffsets()
        for partition in 0..<2 {
            #expect(after[partition].first == committed[partition], "partition \(partition) resumes at its commit")
            let forwarded = Set(before[partition]).union(after[partition])
            let missing = (0..<durable[partition]).filter { !forwarded.contains($0) }
            #expect(missing.isEmpty, "partition \(partition): \(missing.count) durable readings never forwarded")
            #expect(durable[partition] > committed[partition], "run 2 stored more")
        }
    }

    @Test func retentionDeletesOldSegmentsAndCountsWhatNoSinkHadForwarded() async throws {
        let scratch = try Scratch()
        let fixture = try DaemonFixture(scratch: scratch, sensors: 4, rate: 200, log: """
            segment_age = "300ms"
            retention_age = "1s"
            retention_check_interval = "200ms"
            """)
        // The stdout sink writes into a pipe nobody reads: it falls behind and stays there.
        let output = Pipe()
        let daemon = try fixture.start(notify: nil, standardOutput: output)
        var (deleted, dropped) = (0.0, 0.0)
        for _ in 0..<150 where deleted == 0 || dropped == 0 {
            try await Task.sleep(for: .milliseconds(200))
            guard let (status, metrics) = try? await httpGet(port: fixture.port, path: "/metrics"), status == 200 else {
                continue
            }
            let labels = (0..<2).map { "{topic=\"readings\",partition=\"\($0)\"}" }
            deleted = labels.compactMap { sample(metrics, "tributary_log_segments_deleted_total" + $0) }.reduce(0, +)
            dropped = labels.compactMap { sample(metrics, "tributary_log_readings_dropped_total" + $0) }.reduce(0, +)
        }
        #expect(deleted > 0, "retention deleted segments: \(daemon.stderr)")
        #expect(dropped > 0, "readings the sink never had are counted as dropped")
        kill(daemon.process.processIdentifier, SIGTERM)
        #expect(await exitStatus(of: daemon, within: 15) == 0, "\(daemon.stderr)")
        #expect(daemon.stderr.contains("retention deleted readings a sink had not forwarded yet"), "\(daemon.stderr)")
        #expect(try fixture.partitions().allSatisfy { $0.startOffset > 0 }, "the oldest segments are gone from disk")
        _ = output
    }
}

/// Waits off the cooperative pool (at most 30 s) until `condition` holds for the process.
private func offPoolWait(_ process: TributaryProcess,
                         _ condition: @escaping @Sendable (TributaryProcess) -> Bool) async -> Bool {
    nonisolated(unsafe) let process = process  // only the waiting thread touches it meanwhile
    return (try? await offPool { process.wait(seconds: 30, until: condition) }) ?? false
}
