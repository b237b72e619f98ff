import Foundation
import ServiceLifecycle
import Testing
import TributaryCore
import TributaryTestSupport
@testable import TributaryCore
@testable import TributaryMQTT

/// The MQTT sink against Debian's mosquitto, checked by mosquitto_sub.
@Suite(.serialized)
struct MQTTSinkTests {
    private static let logger = Logger(label: "test")

    private static func sink(_ broker: MosquittoBroker, qos: Int = 1,
                             payload: MQTTSinkSettings.Payload = .json) throws -> MQTTSink {
        var settings = MQTTSinkSettings(broker: MQTTBroker(host: "127.0.0.1", port: broker.port))
        settings.qos = qos
        settings.payload = payload
        settings.topicTemplate = payload.defaultTopicTemplate
        return try MQTTSink(name: "central", settings: settings,
                            context: PluginContext(deviceID: "box-1", logger: logger))
    }

    private struct Received: Decodable {
        var device: String
        var topic: String
        var partition: Int
        var offset: Int64
        var sensor: String
    }

    @Test func everyLoggedReadingReachesTheBrokerWithItsIdentityInOrderPerSensor() async throws {
        let scratch = try Scratch()
        let broker = try MosquittoBroker(scratch: scratch)
        let subscriber = try MosquittoSubscriber(broker: broker, filter: "devices/#", scratch: scratch)
        let (log, partitions) = try Log.sample(scratch, readings: 3000)
        let forwarder = try Forwarder(sink: try Self.sink(broker), deviceID: "box-1", partitions: partitions,
                                      limits: BatchLimits(readings: 400), logger: Self.logger)
        try await forward(forwarder) {
            forwarder.status.partitions.allSatisfy { $0.acknowledgedOffset == 1500 }
        }
        #expect(partitions.map { $0.committedOffset(for: "central") } == [1500, 1500],
                "committed after PUBACKs: \(forwarder.status)")
        let statistics = Dictionary(uniqueKeysWithValues: forwarder.status.statistics.map { ($0.name, $0.value) })
        #expect(statistics["messages_published_total"] == 3000 && statistics["messages_acknowledged_total"] == 3000,
                "\(statistics)")
        // Everything acknowledged by the broker was delivered to the subscriber too.
        _ = try await offPool { waitUntil(seconds: 10) { subscriber.messages.count >= 3000 } }
        let messages = subscriber.messages
        let received = try messages.map { try JSONDecoder().decode(Received.self, from: Data($0.payload.utf8)) }
        #expect(Set(received.map { "\($0.partition)@\($0.offset)" }).count == 3000, "every reading, once")
        #expect(received.allSatisfy { $0.device == "box-1" && $0.topic == "readings" })
        #expect(zip(messages, received).allSatisfy { $0.topic == "devices/box-1/readings/\($1.sensor)" })
        #expect(zip(messages, received).allSatisfy { message, reading in
            message.properties == ["device": "box-1", "topic": "readings", "partition": "\(reading.partition)",
                                   "offset": "\(reading.offset)"]
        }, "the identity as user properties: \(messages.first.map { "\($0.properties)" } ?? "none")")
        let bySensor = Dictionary(grouping: received, by: \.sensor)
        #expect(bySensor.count == 10)
        #expect(bySensor.values.allSatisfy { $0.map(\.offset) == $0.map(\.offset).sorted() }, "order per sensor")
        try log.close()
    }

    @Test func aBrokerDownWhenTheSinkStartsIsReachedOnceItIsUp() async throws {
        let scratch = try Scratch()
        let broker = try MosquittoBroker(scratch: scratch, start: false)
        let (log, partitions) = try Log.sample(scratch, readings: 200)
        let forwarder = try Forwarder(sink: try Self.sink(broker), deviceID: "box-1", partitions: partitions,
                                      logger: Self.logger)
        let group = ServiceGroup(services: [forwarder], logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await eventually { forwarder.status.failures > 0 }
            #expect(!forwarder.status.linkUp, "nothing to connect to yet")
            try await offPool { try broker.start() }
            try await eventually { forwarder.status.partitions.allSatisfy { $0.acknowledgedOffset == 100 } }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(partitions.map { $0.committedOffset(for: "central") } == [100, 100])
        try log.close()
    }

    @Test func aBrokerStoppedMidDrainLosesNothingOnceItIsBack() async throws {
        let scratch = try Scratch()
        let broker = try MosquittoBroker(scratch: scratch)
        let (log, partitions) = try Log.sample(scratch, readings: 20_000)
        let sink = try Self.sink(broker)
        let forwarder = try Forwarder(sink: sink, deviceID: "box-1", partitions: partitions,
                                      limits: BatchLimits(readings: 500), logger: Self.logger)
        let group = ServiceGroup(services: [forwarder], logger: Self.logger)
        var acknowledgedAtKill: [Int64] = []
        var restarted: MosquittoSubscriber?
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await eventually { forwarder.status.forwarded > 2000 }
            try await offPool { broker.stop() }
            // Once the sink has reported the lost connection, every acknowledgement the first
            // broker sent has been counted: what is not acknowledged now must reach the second.
            try await eventually { !forwarder.status.linkUp }
            acknowledgedAtKill = forwarder.status.partitions.map(\.acknowledgedOffset)
            // The same broker again, with a subscriber before the sink reconnects (1 s later at the earliest).
            try await offPool { try broker.start() }
            restarted = try await offPool { try MosquittoSubscriber(broker: broker, filter: "devices/#", scratch: scratch) }
            try await eventually { forwarder.status.partitions.allSatisfy { $0.acknowledgedOffset == 10_000 } }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let subscriber = try #require(restarted)
        #expect(acknowledgedAtKill.allSatisfy { $0 < 10_000 }, "killed mid-drain: \(acknowledgedAtKill)")
        #expect(partitions.map { $0.committedOffset(for: "central") } == [10_000, 10_000])
        #expect(forwarder.status.statistics.first { $0.name == "reconnects_total" }?.value == 1)
        // What the first broker had not acknowledged was all sent again to the second.
        let expected = acknowledgedAtKill.reduce(0) { $0 + Int(10_000 - $1) }
        _ = try await offPool { waitUntil(seconds: 10) { subscriber.messages.count >= expected } }
        let received = try subscriber.messages.map { try JSONDecoder().decode(Received.self, from: Data($0.payload.utf8)) }
        for partition in 0..<2 {
            let offsets = Set(received.filter { $0.partition == partition }.map(\.offset))
            let missing = (acknowledgedAtKill[partition]..<10_000).filter { !offsets.contains($0) }
            #expect(missing.isEmpty, "partition \(partition): \(missing.count) readings after \(acknowledgedAtKill[partition]) missing")
        }
        try log.close()
    }

    @Test func overTLSTheRightCAWorksAndAWrongOneIsRefusedWithAClearError() async throws {
        let scratch = try Scratch()
        let certificates = try await offPool { try TestCertificates(scratch: scratch) }
        let broker = try MosquittoBroker(scratch: scratch, tls: certificates)
        let (log, partitions) = try Log.sample(scratch, readings: 100)
        var settings = MQTTSinkSettings(broker: MQTTBroker(host: "127.0.0.1", port: try #require(broker.tlsPort), tls: true))
        settings.connection.tls?.caFile = certificates.otherCAFile
        let refused = try Forwarder(sink: try MQTTSink(name: "central", settings: settings,
                                                       context: PluginContext(deviceID: "box-1", logger: Self.logger)),
                                    deviceID: "box-1", partitions: partitions, logger: Self.logger)
        try await forward(refused) { refused.status.failures > 3 }
        #expect(refused.status.error?.contains("certificate verify failed") == true, "\(refused.status.error ?? "no error")")
        #expect(refused.status.error?.contains("mqtts://127.0.0.1:") == true)
        #expect(partitions.map { $0.committedOffset(for: "central") } == [0, 0])
        settings.connection.tls?.caFile = certificates.caFile
        let verified = try Forwarder(sink: try MQTTSink(name: "central", settings: settings,
                                                        context: PluginContext(deviceID: "box-1", logger: Self.logger)),
                                     deviceID: "box-1", partitions: partitions, logger: Self.logger)
        try await forward(verified) { verified.status.partitions.allSatisfy { $0.acknowledgedOffset == 50 } }
        #expect(partitions.map { $0.committedOffset(for: "central") } == [50, 50])
        try log.close()
    }

    @Test(arguments: [MQTTSinkSettings.Payload.jsonBatch, .lineProtocol])
    func batchPayloadsCarryADeliveryPerMessageWithTheIdentityOfItsFirstReading(_ payload: MQTTSinkSettings.Payload)
        async throws {
        let scratch = try Scratch()
        let broker = try MosquittoBroker(scratch: scratch)
        let subscriber = try MosquittoSubscriber(broker: broker, filter: "devices/#", scratch: scratch)
        let (log, partitions) = try Log.sample(scratch, readings: 1000)
        let forwarder = try Forwarder(sink: try Self.sink(broker, payload: payload), deviceID: "box-1",
                                      partitions: partitions, limits: BatchLimits(readings: 100), logger: Self.logger)
        try await forward(forwarder) { forwarder.status.partitions.allSatisfy { $0.acknowledgedOffset == 500 } }
        _ = try await offPool { waitUntil(seconds: 10) { subscriber.messages.count >= 10 } }
        let messages = subscriber.messages
        #expect(messages.count == 10, "500 readings a partition in deliveries of 100")
        var seen: Set<String> = []
        for message in messages {
            #expect(message.topic == "devices/box-1/readings")
            let partition = try #require(message.properties["partition"].flatMap(Int.init))
            let first = try #require(message.properties["offset"].flatMap(Int64.init))
            #expect(message.properties["count"] == "100" && message.properties["device"] == "box-1")
            let offsets: [Int64]
            switch payload {
            case .jsonBatch:
                offsets = try JSONDecoder().decode([Received].self, from: Data(message.payload.utf8)).map {
                    #expect($0.partition == partition && $0.device == "box-1")
                    return $0.offset
                }
            default:
                let points = try LineProtocol.parse(Array(message.payload.utf8))
                offsets = points.map { point in
                    #expect(point.measurement == "readings")
                    #expect(point.tags.map(\.key) == ["device", "partition", "sensor"])
                    guard case let .int(offset)? = point.fields.first(where: { $0.key == "offset" })?.value else { return -1 }
                    #expect(point.timestamp == (1_767_225_600_000 + Int64(2 * offset + Int64(partition))) * 1_000_000)
                    return offset
                }
            }
            #expect(offsets == Array(first..<(first + 100)), "a delivery's readings, in order")
            for offset in offsets { seen.insert("\(partition)@\(offset)") }
        }
        #expect(seen.count == 1000, "every reading, once")
        try log.close()
    }

    @Test func liveFirstANewReadingReachesTheBrokerWithinASecondDuringABackfill() async throws {
        let scratch = try Scratch()
        let broker = try MosquittoBroker(scratch: scratch, start: false)
        let (log, partitions) = try Log.sample(scratch, readings: 20_000)
        let perReading = Reading(sensor: "s0", timestamp: 0, value: .int(0)).approximateEncodedSize
        let forwarder = try Forwarder(sink: try Self.sink(broker), deviceID: "box-1", partitions: partitions,
                                      limits: BatchLimits(readings: 500), backfillRate: Int64(perReading * 2000),  // 10 s of backlog
                                      logger: Self.logger)
        let group = ServiceGroup(services: [forwarder], logger: Self.logger)
        var latency: Duration?
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await eventually { forwarder.status.failures > 0 }  // an outage: the broker is down
            try await offPool { try broker.start() }
            // Watching the new reading's topic only, so the test reads a few lines, not the whole backlog.
            let subscriber = try await offPool {
                try MosquittoSubscriber(broker: broker, filter: "devices/box-1/readings/live", scratch: scratch)
            }
            try await eventually { forwarder.status.backfillLag > 0 }
            let clock = ContinuousClock()
            let appended = clock.now
            try partitions[0].append([Reading(sensor: "live", timestamp: 1, value: .int(1))])
            try partitions[0].sync()
            try await eventually { !subscriber.messages.isEmpty }
            latency = clock.now - appended
            #expect(forwarder.status.backfillLag > 0, "still backfilling when the new reading arrived")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let measured = try #require(latency)
        #expect(measured < .seconds(1), "a new reading reached the broker in \(measured)")
        try log.close()
    }
}
