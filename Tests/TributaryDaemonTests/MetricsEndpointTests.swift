import Foundation
import Testing
import TributaryLog
import TributaryTestSupport

/// The metrics endpoint and `tributary status` against a running daemon.
@Suite(.serialized)
struct MetricsEndpointTests {
    @Test func countersMoveWhileReadingsFlowAndAgreeWithTheLog() async throws {
        let scratch = try Scratch()
        // One round of 4 readings every 4 s: between rounds nothing changes,
        // so the endpoint and the log can be compared exactly.
        let fixture = try DaemonFixture(scratch: scratch, sensors: 4, rate: 0.25)
        let notifications = NotificationLog(try NotifySocket())
        let daemon = try fixture.start(notify: notifications.socket)
        defer { kill(daemon.process.processIdentifier, SIGKILL) }
        #expect(await notifications.wait(for: .seconds(20)) { $0 == "READY=1" } != nil, "\(daemon.stderr)")

        var received: [Double] = []
        for round in 1...2 {
            try await Task.sleep(for: .seconds(round == 1 ? 1 : 4))
            // A round may land between reading the log and scraping; then look again.
            var (status, metrics, durable) = (0, "", [Int64]())
            for _ in 0..<5 {
                let before = try fixture.durableOffsets()
                (status, metrics) = try await httpGet(port: fixture.port, path: "/metrics")
                durable = try fixture.durableOffsets()
                if before == durable { break }
            }
            #expect(status == 200)
            for partition in 0..<2 {
                let labels = "{topic=\"readings\",partition=\"\(partition)\"}"
                #expect(sample(metrics, "tributary_log_readings_stored_total" + labels) == Double(durable[partition]),
                        "round \(round), partition \(partition): the log has \(durable[partition])")
                #expect(sample(metrics, "tributary_log_durable_offset" + labels) == Double(durable[partition]))
            }
            let total = Double(durable.reduce(0, +))
            #expect(sample(metrics, "tributary_sink_readings_forwarded_total{sink=\"out\"}") == total)
            #expect(sample(metrics, "tributary_sink_lag_readings{sink=\"out\"}") == 0)
            #expect(sample(metrics, "tributary_sink_link_up{sink=\"out\"}") == 1)
            received.append(sample(metrics, "tributary_source_readings_received_total{source=\"sim\",topic=\"readings\"}")
                ?? -1)
            #expect(received.last == total, "every reading received was stored")
            #expect(sample(metrics, "tributary_source_up{source=\"sim\",topic=\"readings\"}") == 1)
            #expect((sample(metrics, "tributary_source_last_reading_timestamp_seconds{source=\"sim\",topic=\"readings\"}")
                ?? 0) > 1_700_000_000, "the time of the last reading")
        }
        #expect(received[0] >= 4 && received[1] > received[0], "the counters moved: \(received)")

        let (notFound, _) = try await httpGet(port: fixture.port, path: "/nothing-here")
        #expect(notFound == 404)

        let status = try TributaryProcess.run(["status", "--address", "127.0.0.1:\(fixture.port)"], scratch: scratch)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("device test-box"))
        #expect(status.lines.contains { $0.hasPrefix("out ") && $0.contains(" up ") }, "\(status.stdout)")
        #expect(status.lines.contains { $0.hasPrefix("sim ") && $0.contains(" ok ") && $0.hasSuffix(" ago") },
                "the source's state and last reading: \(status.stdout)")
        let json = try TributaryProcess.run(["status", "--json", "--address", "127.0.0.1:\(fixture.port)"],
                                            scratch: scratch)
        let decoded = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(decoded?["deviceID"] as? String == "test-box")

        kill(daemon.process.processIdentifier, SIGTERM)
        #expect(await exitStatus(of: daemon, within: 10) == 0, "\(daemon.stderr)")
    }

    @Test func statusWithoutADaemonSaysSoAndFails() throws {
        let scratch = try Scratch()
        let port = try FreePort.find()
        let outcome = try TributaryProcess.run(["status", "--address", "127.0.0.1:\(port)"], scratch: scratch)
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("no tributary daemon answers at 127.0.0.1:\(port) (Connection refused)"),
                "\(outcome.stderr)")
    }
}
