import Foundation
import Synchronization
import Testing
import TributaryCore
import TributaryTestSupport
@testable import TributaryMQTT

/// The MQTT source against Debian's mosquitto, fed by mosquitto_pub.
@Suite(.serialized)
struct MQTTSourceTests {
    private static let logger = Logger(label: "test")

    /// A log with a `readings` topic of 2 partitions and a `dead-letters`
    /// topic, its writers, and one MQTT source running into it.
    private final class Harness: @unchecked Sendable {
        let log: Log
        let writers: [String: [PartitionWriter]]
        let output: SourceOutput
        private var task: Task<Void, any Error>?

        init(_ scratch: Scratch, startWriters: Bool = true) throws {
            var configuration = LogConfiguration(directory: scratch.path("log"))
            configuration.flush = .interval(maxDelayMilliseconds: 50, maxBytes: 1 << 20)
            log = try Log.open(configuration)
            writers = [
                "readings": try log.topic("readings", creatingWith: 2).map { PartitionWriter(partition: $0, logger: logger) },
                "dead-letters": try log.topic("dead-letters", creatingWith: 1).map {
                    PartitionWriter(partition: $0, logger: logger)
                },
            ]
            output = SourceOutput(source: "local", topic: "readings", deadLetterTopic: "dead-letters",
                                  router: Router(writers: writers), logger: logger)
            if startWriters { try startTheWriters() }
        }

        func startTheWriters() throws {
            for writer in writers.values.joined() { try writer.start() }
        }

        func run(_ settings: MQTTSourceSettings, stateDirectory: String? = nil) {
            let source = MQTTSource(name: "local", settings: settings,
                                    context: PluginContext(deviceID: "box-1", logger: logger,
                                                           stateDirectory: stateDirectory))
            task = Task { [output] in try await source.run(output: output) }
        }

        /// Stops the source (as the daemon does: cancels its task and waits for it).
        func stopSource() async throws {
            task?.cancel()
            try await task?.value
            task = nil
        }

        func close() async throws {
            try await stopSource()
            for writer in writers.values.joined() { await writer.stop() }
            try log.close()
        }

        /// Every reading appended to `topic` so far, partition by partition.
        func readings(_ topic: String = "readings") throws -> [Reading] {
            try (writers[topic] ?? []).flatMap { try $0.partition.readAll().readings.map(\.reading) }
        }

        /// Readings made durable in `topic` (what a reader sees).
        func count(_ topic: String = "readings") -> Int64 {
            (writers[topic] ?? []).reduce(0) { $0 + $1.partition.durableOffset }
        }

        /// Readings appended to `topic`, durable or not.
        func appended(_ topic: String = "readings") -> Int64 {
            (writers[topic] ?? []).reduce(0) { $0 + $1.partition.endOffset }
        }
    }

    private static func settings(_ broker: MosquittoBroker, _ subscriptions: [MQTTSourceSettings.Subscription])
        -> MQTTSourceSettings {
        MQTTSourceSettings(broker: MQTTBroker(host: "127.0.0.1", port: broker.port), subscriptions: subscriptions)
    }

    private static func subscription(_ filter: String, _ configure: (inout PayloadMapping) -> Void = { _ in })
        -> MQTTSourceSettings.Subscription {
        var mapping = PayloadMapping()
        configure(&mapping)
        return MQTTSourceSettings.Subscription(filter: filter, qos: 1, mapping: mapping)
    }

    /// Waits (at most 60 s, off the cooperative pool) until the source is connected and subscribed.
    private static func waitUntilSubscribed(_ broker: MosquittoBroker, count: Int = 1) async throws {
        let subscribed = try await offPool {
            waitUntil(seconds: 60) { broker.log.components(separatedBy: "SUBACK to tributary-box-1-local").count > count }
        }
        try #require(subscribed, "the source subscribed: \(broker.log)")
    }

    private static let verbose = "log_type all"

    @Test func everyPayloadFormatBecomesReadingsInOrderPerSensor() async throws {
        let scratch = try Scratch()
        let broker = try MosquittoBroker(scratch: scratch, extraConfig: Self.verbose)
        let harness = try Harness(scratch)
        let temperature = try SensorTemplate("{1}.temperature")
        harness.run(Self.settings(broker, [
            Self.subscription("json/+/temperature") { $0.sensor = temperature },
            Self.subscription("text/#") { $0.format = .text },
            Self.subscription("lp/#") { $0.format = .lineProtocol },
            Self.subscription("raw/#") { $0.format = .raw },
            Self.subscription("objects/#") { $0.timestampField = ["ts"] },
            Self.subscription("arrays/#") {
                $0.sensorField = ["id"]
                $0.valueField = ["v"]
                $0.timestampField = ["t"]
                $0.timestampUnit = .s
            },
        ]))
        try await Self.waitUntilSubscribed(broker)
        let count = 200
        try await offPool {
            let streams: [(String, (Int) -> String)] = [
                ("json/boiler/temperature", { "\(Double($0) + 0.5)" }),
                ("text/door", { $0 % 2 == 0 ? "open" : "\($0)" }),
                ("lp/plant", { "pump,line=2 flow=\($0).25,running=t \(1_767_225_600_000_000_000 + $0 * 1_000_000)" }),
                ("raw/modem", { "AT+\($0)" }),
                ("objects/room", { "{\"ts\":\(1_767_225_600_000 + $0),\"temp\":\($0),\"hum\":\(Double($0) / 4)}" }),
                ("arrays/line", { "[{\"id\":\"a\",\"v\":\($0),\"t\":\($0)},{\"id\":\"b\",\"v\":\(-$0),\"t\":\($0)}]" }),
            ]
            for (topic, payload) in streams {
                let publisher = try MosquittoPublisher(broker: broker, topic: topic)
                for index in 0..<count { publisher.send(payload(index)) }
                #expect(publisher.finish(), "mosquitto_pub ended")
            }
        }
        // 1 + 1 + 2 + 1 + 2 + 2 readings per round.
        let expected = Int64(count * 9)
        _ = try await offPool { waitUntil(seconds: 30) { harness.count() >= expected } }
        try await harness.close()
        let bySensor = Dictionary(grouping: try harness.readings(), by: \.sensor)
        #expect(bySensor.mapValues(\.count) == [
            "boiler.temperature": count, "text/door": count, "pump/flow": count, "pump/running": count,
            "raw/modem": count, "objects/room/temp": count, "objects/room/hum": count, "a": count, "b": count,
        ])
        let rounds = 0..<count
        #expect(bySensor["boiler.temperature"]?.map(\.value) == rounds.map { .double(Double($0) + 0.5) })
        #expect(bySensor["text/door"]?.map(\.value) == rounds.map { $0 % 2 == 0 ? .string("open") : .int(Int64($0)) })
        #expect(bySensor["pump/flow"]?.map(\.value) == rounds.map { .double(Double($0) + 0.25) })
        #expect(bySensor["pump/flow"]?.map(\.timestamp) == rounds.map { 1_767_225_600_000 + Int64($0) })
        #expect(bySensor["raw/modem"]?.map(\.value) == rounds.map { .bytes(Array("AT+\($0)".utf8)) })
        #expect(bySensor["objects/room/hum"]?.map(\.value) == rounds.map { .double(Double($0) / 4) })
        #expect(bySensor["objects/room/temp"]?.map(\.timestamp) == rounds.map { 1_767_225_600_000 + Int64($0) })
        #expect(bySensor["b"]?.map(\.value) == rounds.map { .int(-Int64($0)) })
        #expect(bySensor["a"]?.map(\.timestamp) == rounds.map { Int64($0) * 1000 })
        let now = SystemClock.wallMilliseconds()
        #expect(bySensor["raw/modem"]?.allSatisfy { abs($0.timestamp - now) < 120_000 } == true,
                "without a timestamp in the payload, the time of receipt")
        #expect(harness.output.status.malformed == 0 && harness.output.status.error == nil)
    }

    @Test func eachKindOfMalformedPayloadIsCountedAndDeadLetteredAndTheSourceGoesOn() async throws {
        let scratch = try Scratch()
        let broker = try MosquittoBroker(scratch: scratch, extraConfig: Self.verbose)
        let harness = try Harness(scratch)
        harness.run(Self.settings(broker, [
            Self.subscription("typed/#") {
                $0.valueType = .double
                $0.maxPayload = 64
            },
            Self.subscription("text/#") { $0.format = .text },
        ]))
        try await Self.waitUntilSubscribed(broker)
        let bad: [(String, [UInt8])] = [
            ("typed/a", Array("{\"v\":".utf8)),  // bad JSON
            ("typed/a", Array("\"warm\"".utf8)),  // wrong type
            ("text/a", Array("NaN".utf8)),  // NaN text
            ("typed/a", [0x22, 0xC3, 0x28, 0x22]),  // invalid UTF-8
            ("typed/a", Array(repeating: UInt8(ascii: "7"), count: 65)),  // oversize
            ("typed/a", Array("21.5".utf8)),  // and a good one after them all
        ]
        try await offPool {
            for (topic, payload) in bad { try MosquittoPublisher.publish(payload, to: topic, broker: broker, scratch: scratch) }
        }
        let arrived = try await offPool { waitUntil(seconds: 30) { harness.count() >= 1 && harness.count("dead-letters") >= 5 } }
        #expect(arrived, "\(harness.count()) readings, \(harness.count("dead-letters")) dead letters")
        let status = harness.output.status
        #expect(status.malformedByReason == ["invalid-json": 1, "wrong-type": 1, "not-a-number": 1, "invalid-utf8": 1,
                                             "oversize": 1], "\(status.malformedByReason)")
        #expect(try harness.readings() == [Reading(sensor: "typed/a", timestamp: try #require(harness.readings().first).timestamp,
                                                   value: .double(21.5))])
        let deadLetters = try harness.readings("dead-letters")
        #expect(deadLetters.map(\.value) == bad.dropLast().map { topic, payload in
            .bytes(Array(payload.prefix(64)))
        }, "kept raw, an oversize one up to max_payload")
        #expect(deadLetters.allSatisfy { $0.sensor == "local" })
        try await harness.close()
    }

    @Test func aMessageIsAcknowledgedToTheBrokerOnlyOnceTheLogHasWrittenIt() async throws {
        let scratch = try Scratch()
        let broker = try MosquittoBroker(scratch: scratch, extraConfig: Self.verbose)
        // The writers are not running: what the source hands over waits in their queues, as behind a slow disk.
        let harness = try Harness(scratch, startWriters: false)
        harness.run(Self.settings(broker, [Self.subscription("sensors/#")]))
        try await Self.waitUntilSubscribed(broker)
        try await offPool { try MosquittoPublisher.publish(Array("1".utf8), to: "sensors/x", broker: broker, scratch: scratch) }
        let queued = try await offPool {
            waitUntil(seconds: 30) { harness.writers["readings"]!.contains { $0.backlog == 1 } }
        }
        #expect(queued, "the source received the message")
        let pubackFromSource = "Received PUBACK from tributary-box-1-local"
        try await offPool { _ = waitUntil(seconds: 2) { broker.log.contains(pubackFromSource) } }
        #expect(!broker.log.contains(pubackFromSource), "no PUBACK while the reading is not written")
        try harness.startTheWriters()
        let acknowledged = try await offPool { waitUntil(seconds: 30) { broker.log.contains(pubackFromSource) } }
        #expect(acknowledged && harness.appended() == 1, "PUBACK once written")
        try await harness.close()
    }

    @Test(arguments: [MQTTSourceSettings.ProtocolVersion.v5, .v311])
    func whatIsPublishedWhileTheSourceIsAwayArrivesWhenItComesBack(_ version: MQTTSourceSettings.ProtocolVersion)
        async throws {
        let scratch = try Scratch()
        let broker = try MosquittoBroker(scratch: scratch, extraConfig: Self.verbose)
        let harness = try Harness(scratch)
        var settings = Self.settings(broker, [Self.subscription("sensors/#")])
        settings.protocolVersion = version
        harness.run(settings)
        try await Self.waitUntilSubscribed(broker)
        let publisher = try MosquittoPublisher(broker: broker, topic: "sensors/counter")
        let sent = Atomic(0)
        let publishing = Task.detached {
            while !Task.isCancelled, sent.load(ordering: .relaxed) < 3000 {
                publisher.send("\(sent.load(ordering: .relaxed))")
                sent.add(1, ordering: .relaxed)
                try? await Task.sleep(for: .milliseconds(1))
            }
        }
        _ = try await offPool { waitUntil(seconds: 30) { harness.count() > 200 } }
        try await harness.stopSource()
        let before = sent.load(ordering: .relaxed)
        _ = try await offPool { waitUntil(seconds: 30) { sent.load(ordering: .relaxed) > before + 300 } }
        harness.run(settings)  // the same client id: the broker's session, with what it queued meanwhile
        await publishing.value
        #expect(try await offPool { publisher.finish() })
        _ = try await offPool { waitUntil(seconds: 30) { Set(try! harness.readings().map(\.value)).count >= 3000 } }
        let values = Set(try harness.readings().map(\.value))
        let missing = (0..<3000).filter { !values.contains(.int(Int64($0))) }
        #expect(missing.isEmpty, "\(missing.count) missing, first \(missing.prefix(10))")
        #expect(harness.output.status.reconnects == 0, "a new start, not a reconnection")
        try await harness.close()
    }

    @Test func aSubscriptionRemovedFromTheConfigurationIsDroppedAtTheNextStart() async throws {
        let scratch = try Scratch()
        let broker = try MosquittoBroker(scratch: scratch, extraConfig: Self.verbose)
        let harness = try Harness(scratch)
        let state = scratch.path("state")
        harness.run(Self.settings(broker, [Self.subscription("a/#"), Self.subscription("b/#")]), stateDirectory: state)
        try await Self.waitUntilSubscribed(broker)
        try await offPool { _ = waitUntil(seconds: 10) { FileManager.default.fileExists(atPath: state + "/mqtt-local.subscriptions") } }
        try await harness.stopSource()
        harness.run(Self.settings(broker, [Self.subscription("a/#")]), stateDirectory: state)
        let unsubscribed = try await offPool {
            waitUntil(seconds: 30) { broker.log.contains("Received UNSUBSCRIBE from tributary-box-1-local") }
        }
        #expect(unsubscribed)
        try await offPool {
            try MosquittoPublisher.publish(Array("1".utf8), to: "b/x", broker: broker, scratch: scratch)
            try MosquittoPublisher.publish(Array("2".utf8), to: "a/x", broker: broker, scratch: scratch)
        }
        _ = try await offPool { waitUntil(seconds: 30) { harness.count() >= 1 } }
        try await offPool { _ = waitUntil(seconds: 1) { harness.count() >= 2 } }
        #expect(try harness.readings().map(\.sensor) == ["a/x"], "b/# is no longer subscribed")
        #expect(harness.output.status.malformed == 0)
        try await harness.close()
    }

    @Test func aBrokerThatIsDownIsRetriedAndTheSourceShowsWhy() async throws {
        let scratch = try Scratch()
        let broker = try MosquittoBroker(scratch: scratch, start: false, extraConfig: Self.verbose)
        let harness = try Harness(scratch)
        harness.run(Self.settings(broker, [Self.subscription("sensors/#")]))
        let failing = try await offPool { waitUntil(seconds: 30) { harness.output.status.error != nil } }
        #expect(failing)
        #expect(harness.output.status.error?.contains("Connection refused") == true, "\(harness.output.status)")
        try await offPool { try broker.start() }
        try await Self.waitUntilSubscribed(broker)
        try await offPool { try MosquittoPublisher.publish(Array("5".utf8), to: "sensors/x", broker: broker, scratch: scratch) }
        _ = try await offPool { waitUntil(seconds: 30) { harness.count() >= 1 } }
        #expect(harness.output.status.error == nil && harness.count() == 1)
        // Killed and restarted: the source reconnects by itself and counts it.
        try await offPool { broker.stop() }
        _ = try await offPool { waitUntil(seconds: 30) { harness.output.status.error != nil } }
        try await offPool { try broker.start() }
        _ = try await offPool { waitUntil(seconds: 60) { harness.output.status.reconnects == 1 } }
        #expect(harness.output.status.reconnects == 1 && harness.output.status.error == nil)
        try await harness.close()
    }

    @Test func overTLSTheRightCAWorksAndAWrongOneIsRefusedWithAClearError() async throws {
        let scratch = try Scratch()
        let certificates = try await offPool { try TestCertificates(scratch: scratch) }
        let broker = try MosquittoBroker(scratch: scratch, tls: certificates, extraConfig: Self.verbose)
        let harness = try Harness(scratch)
        var settings = MQTTSourceSettings(broker: MQTTBroker(host: "127.0.0.1", port: try #require(broker.tlsPort), tls: true),
                                          subscriptions: [Self.subscription("sensors/#")])
        settings.connection.tls?.caFile = certificates.otherCAFile
        harness.run(settings)
        let failing = try await offPool { waitUntil(seconds: 30) { harness.output.status.error != nil } }
        #expect(failing)
        #expect(harness.output.status.error?.contains("certificate verify failed") == true, "\(harness.output.status)")
        try await harness.stopSource()
        settings.connection.tls?.caFile = certificates.caFile
        harness.run(settings)
        try await Self.waitUntilSubscribed(broker)
        try await offPool { try MosquittoPublisher.publish(Array("5".utf8), to: "sensors/x", broker: broker, scratch: scratch) }
        _ = try await offPool { waitUntil(seconds: 30) { harness.count() >= 1 } }
        #expect(harness.count() == 1 && harness.output.status.error == nil)
        try await harness.close()
    }

    @Test func aPasswordAndAClientCertificateLetTheSourceIn() async throws {
        let scratch = try Scratch()
        let certificates = try await offPool { try TestCertificates(scratch: scratch) }
        let broker = try MosquittoBroker(scratch: scratch, tls: certificates, requireClientCertificate: true,
                                         users: ["box-1": "s3cret"], extraConfig: Self.verbose)
        let harness = try Harness(scratch)
        var settings = MQTTSourceSettings(broker: MQTTBroker(host: "127.0.0.1", port: try #require(broker.tlsPort), tls: true),
                                          subscriptions: [Self.subscription("sensors/#")])
        settings.connection.tls?.caFile = certificates.caFile
        settings.connection.username = "box-1"
        settings.connection.password = Secret("s3cret")
        // Without a client certificate, the broker ends the TLS handshake.
        harness.run(settings)
        #expect(try await offPool { waitUntil(seconds: 30) { harness.output.status.error != nil } })
        try await harness.stopSource()
        // With one, but the wrong password: CONNACK says no.
        settings.connection.tls?.certFile = certificates.clientCertificate
        settings.connection.tls?.keyFile = certificates.clientKey
        settings.connection.password = Secret("wrong")
        harness.run(settings)
        let refused = try await offPool {
            waitUntil(seconds: 30) { harness.output.status.error?.contains("refused the connection") == true }
        }
        #expect(refused, "\(harness.output.status)")
        try await harness.stopSource()
        // Both right: in.
        settings.connection.password = Secret("s3cret")
        harness.run(settings)
        try await Self.waitUntilSubscribed(broker)
        #expect(harness.output.status.error == nil)
        try await harness.close()
    }
}
