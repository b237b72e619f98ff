import Foundation
import Testing
import TributaryLog
import TributaryTestSupport

/// `tributary run` forwarding simulated sensors to librdkafka's mock Kafka
/// cluster, killed with -9 mid-drain and while every broker is down with
/// records in librdkafka's hands; kcat reads what arrived.
@Suite(.serialized)
struct KafkaBridgeTests {
    private static let topic = "iot.readings"

    private static func fixture(_ scratch: Scratch, cluster: KafkaMockCluster) throws -> DaemonFixture {
        try DaemonFixture(scratch: scratch, pipeline: """
            [[sources]]
            type = "sim"
            name = "sim"
            topic = "readings"
            sensors = 4
            rate = 200
            seed = 7

            [[sinks]]
            type = "kafka"
            name = "central"
            topics = ["readings"]
            brokers = "\(cluster.bootstrap)"
            max_batch = 200
            delivery_timeout = "60s"
            """)
    }

    /// A figure of the sink's from the daemon's /metrics, such as `records_produced_total`.
    private static func sinkFigure(_ fixture: DaemonFixture, _ name: String) -> Double? {
        guard let metrics = try? LoopbackClient.get(port: fixture.port, path: "/metrics").body else { return nil }
        let prefix = "tributary_sink_\(name){sink=\"central\"} "
        return metrics.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
    }

    private static func waitFor(seconds: Double = 60, _ condition: @escaping @Sendable () -> Bool) async throws -> Bool {
        try await offPool { waitUntil(seconds: seconds, condition) }
    }

    private static func committed(_ fixture: DaemonFixture) throws -> [Int64] {
        try fixture.partitions().map { $0.committedOffset(for: "central") ?? 0 }
    }

    @Test func killedMidDrainAndKilledWhileEveryBrokerIsDownNothingLoggedIsMissingInKafka() async throws {
        let scratch = try Scratch()
        let cluster = try await offPool { try KafkaMockCluster(brokers: 3) }
        try cluster.command("topic \(Self.topic) 4 3")
        let fixture = try Self.fixture(scratch, cluster: cluster)

        // Run 1: forwarding, killed with -9.
        let first = try fixture.start(notify: nil)
        #expect(try await Self.waitFor { ((try? Self.committed(fixture)) ?? []).reduce(0, +) > 1000 },
                "forwarding: \(first.stderr)")
        kill(first.process.processIdentifier, SIGKILL)
        #expect(await exitStatus(of: first, within: 10) != nil)
        let committedAtFirstKill = try Self.committed(fixture)

        // Run 2: every broker down; records go to librdkafka (a window of deliveries) and wait there; killed with -9.
        for broker in 1...3 { try cluster.command("down \(broker)") }
        let second = try fixture.start(notify: nil)
        #expect(try await Self.waitFor {
            let produced = Self.sinkFigure(fixture, "records_produced_total") ?? 0
            return produced > 0 && Self.sinkFigure(fixture, "records_acknowledged_total") == 0
        }, "records handed to librdkafka, none acknowledged: \(second.stderr)")
        nonisolated(unsafe) let secondRun = second  // only the waiting thread reads it meanwhile
        #expect(try await Self.waitFor { secondRun.stderr.contains("Kafka: ") }, "the outage is logged: \(second.stderr)")
        kill(second.process.processIdentifier, SIGKILL)
        #expect(await exitStatus(of: second, within: 10) != nil)
        let committedAtSecondKill = try Self.committed(fixture)
        #expect(committedAtSecondKill == committedAtFirstKill, "nothing committed while no broker answered")

        // Run 3: the brokers are back; the backlog drains; a graceful stop.
        for broker in 1...3 { try cluster.command("up \(broker)") }
        let third = try fixture.start(notify: nil)
        #expect(try await Self.waitFor {
            guard let durable = try? fixture.durableOffsets(), let committed = try? Self.committed(fixture) else { return false }
            return zip(durable, committed).allSatisfy { $1 >= $0 - 200 } && committed.reduce(0, +) > 6000
        }, "drained: \(third.stderr)")
        kill(third.process.processIdentifier, SIGTERM)
        #expect(await exitStatus(of: third, within: 15) == 0, "\(third.stderr)")

        // In Kafka, de-duplicated by the identity headers: everything logged.
        let logged = try fixture.partitions().map { try $0.readAll(from: $0.startOffset).readings }
        let records = try await offPool { try Kcat.consume(cluster.bootstrap, topic: Self.topic) }
        var byIdentity: [String: Int] = [:]
        for record in records {
            byIdentity["\(record.header["partition"] ?? "")@\(record.header["offset"] ?? "")", default: 0] += 1
        }
        for (partition, readings) in logged.enumerated() {
            let missing = readings.filter { byIdentity["\(partition)@\($0.offset)"] == nil }
            #expect(missing.isEmpty, "partition \(partition): \(missing.count) of \(readings.count) logged readings not in Kafka")
            // Repeats only of what was not committed when a run was killed.
            let repeated = readings.map(\.offset).filter { (byIdentity["\(partition)@\($0)"] ?? 0) > 1 }
            #expect(repeated.allSatisfy { $0 >= committedAtFirstKill[partition] },
                    "partition \(partition): a committed reading was sent again")
        }
    }
}
