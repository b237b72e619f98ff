import Foundation
import Testing
import TributaryTestSupport

/// The test bed for the Kafka sink: librdkafka's mock cluster, checked with kcat, an independent client.
@Suite(.serialized)
struct MockClusterTests {
    @Test func recordsProducedWithKeysAndHeadersComeBackAndABrokerCanBeTakenDown() async throws {
        let cluster = try await offPool { try KafkaMockCluster(brokers: 3) }
        #expect(cluster.bootstrap.split(separator: ",").count == 3)
        try cluster.command("topic iot.readings 4 3")
        let lines = (0..<1000).map { "s\($0 % 10):{\"v\":\($0)}" }.joined(separator: "\n") + "\n"
        let produced = try await offPool {
            try Kcat.run(["-P", "-b", cluster.bootstrap, "-t", "iot.readings", "-K:", "-H", "device=box-1",
                           "-X", "acks=all", "-X", "enable.idempotence=true"], input: lines)
        }
        #expect(produced.status == 0)
        let records = try await offPool { try Kcat.consume(cluster.bootstrap, topic: "iot.readings") }
        #expect(records.count == 1000)
        #expect(records.allSatisfy { $0.header == ["device": "box-1"] })
        let partitionsOfKey = Dictionary(grouping: records, by: \.key).mapValues { Set($0.map(\.partition)) }
        #expect(partitionsOfKey.count == 10 && partitionsOfKey.values.allSatisfy { $0.count == 1 },
                "a key stays in one partition")
        // Every broker down: a producer with a short timeout fails; up again, it works.
        for broker in 1...3 { try cluster.command("down \(broker)") }
        let refused = try await offPool {
            try Kcat.run(["-P", "-b", cluster.bootstrap, "-t", "iot.readings", "-X", "message.timeout.ms=2000"],
                          input: "x\n")
        }
        #expect(refused.status != 0, "nothing to produce to")
        for broker in 1...3 { try cluster.command("up \(broker)") }
        let accepted = try await offPool {
            try Kcat.run(["-P", "-b", cluster.bootstrap, "-t", "iot.readings", "-X", "message.timeout.ms=10000"],
                          input: "y\n")
        }
        #expect(accepted.status == 0)
        #expect(throws: SocketFailure.self) { try cluster.command("leader nope") }
    }
}
