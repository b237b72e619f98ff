import Foundation
import ServiceLifecycle
import Testing
import TributaryCore
import TributaryTestSupport
@testable import TributaryKafka

/// The Kafka sink against librdkafka's mock cluster (three brokers on
/// 127.0.0.1), what arrived read back with kcat.
@Suite(.serialized)
struct KafkaSinkTests {
    private static let logger = Logger(label: "test")
    private static let topic = "iot.readings"

    /// A cluster of three brokers with `iot.readings` in 4 partitions, 3 replicas.
    private static func cluster() async throws -> KafkaMockCluster {
        let cluster = try await offPool { try KafkaMockCluster(brokers: 3) }
        try cluster.command("topic \(topic) 4 3")
        return cluster
    }

    private static func sink(_ brokers: String, configure: (inout KafkaSinkSettings) -> Void = { _ in }) throws
        -> KafkaSink {
        var settings = KafkaSinkSettings(brokers: brokers.split(separator: ",").map(String.init))
        // Statistics often, so the tests need not wait for them; short timeouts, so failures come quickly.
        settings.librdkafka = [.init("statistics.interval.ms", "100")]
        settings.deliveryTimeoutMilliseconds = 5_000
        configure(&settings)
        return try KafkaSink(name: "central", settings: settings,
                             context: PluginContext(deviceID: "box-1", logger: logger))
    }

    private static func statistics(_ forwarder: Forwarder) -> [String: Double] {
        Dictionary(uniqueKeysWithValues: forwarder.status.statistics.map { ($0.name, $0.value) })
    }

    private static func drained(_ forwarder: Forwarder, _ readings: Int) -> Bool {
        forwarder.status.partitions.allSatisfy { $0.acknowledgedOffset == Int64(readings / 2) }
    }

    /// What reached the cluster, checked: every reading of the sample log
    /// (`readings` of them) exactly once after dropping repeats by the
    /// identity headers, keyed by its sensor, one sensor in one Kafka
    /// partition, and (`ordered`) in order per sensor; `lossAllowed` of them
    /// may be missing. Returns the records and how many were repeats.
    @discardableResult
    private static func checkArrived(_ cluster: KafkaMockCluster, readings: Int, ordered: Bool = true,
                                     lossAllowed: Int = 0) async throws
        -> (records: [Kcat.Record], repeats: Int) {
        let expected = Set((0..<readings).map { "\($0 % 2)@\($0 / 2)" })
        let records = try await offPool { try Kcat.consume(cluster.bootstrap, topic: topic) }
        var seen = Set<String>()
        var firsts: [Kcat.Record] = []
        for record in records where seen.insert("\(record.header["partition"] ?? "")@\(record.header["offset"] ?? "")").inserted {
            firsts.append(record)
        }
        let (missing, unexpected) = (expected.subtracting(seen).count, seen.subtracting(expected).count)
        // Kafka offsets read per Kafka partition: a gap would be a short read, none a record never stored.
        let read = Dictionary(grouping: records, by: \.partition).mapValues { $0.map(\.offset).sorted() }
        let gaps = read.values.reduce(0) { $0 + Int(($1.last ?? -1) + 1) - $1.count }
        var ends = ""
        if missing > 0 {
            // The cluster's own end offsets, to tell records never stored from a short read.
            let queried = try await offPool {
                try Kcat.run(["-Q", "-b", cluster.bootstrap] + (0..<4).flatMap { ["-t", "\(topic):\($0):-1"] })
            }
            ends = queried.output.replacingOccurrences(of: "\n", with: " ")
            let missed = expected.subtracting(seen).sorted().prefix(20)
            ends += "; missing e.g. \(missed)"
        }
        let counts = read.mapValues(\.count)
        #expect(missing <= lossAllowed && unexpected == 0,
                "every reading once: \(missing) missing, \(unexpected) unexpected; \(records.count) read \(counts), \(gaps) gaps; \(ends)")
        #expect(firsts.allSatisfy { $0.header["device"] == "box-1" && $0.header["topic"] == "readings" })
        #expect(firsts.allSatisfy { $0.header["content-type"] == "application/json" })
        let payloads = try firsts.map { try JSONDecoder().decode(Payload.self, from: Data(($0.payload ?? "").utf8)) }
        #expect(zip(firsts, payloads).allSatisfy { $0.key == $1.sensor && $0.header["offset"] == "\($1.offset)" },
                "keyed by sensor")
        #expect(zip(firsts, payloads).allSatisfy { $0.ts == $1.timestamp }, "the reading's time as the record's")
        let bySensor = Dictionary(grouping: firsts, by: { $0.key ?? "" })
        #expect(bySensor.count == min(readings, 10))
        #expect(bySensor.values.allSatisfy { Set($0.map(\.partition)).count == 1 }, "a sensor in one Kafka partition")
        #expect(!ordered || bySensor.values.allSatisfy { records in
            let offsets = records.sorted { $0.offset < $1.offset }.compactMap { Int64($0.header["offset"] ?? "") }
            return offsets == offsets.sorted()
        }, "in order per sensor")
        return (records, records.count - firsts.count)
    }

    private struct Payload: Decodable {
        var sensor: String
        var offset: Int64
        var timestamp: Int64
    }

    @Test("every reading arrives once, keyed and in order, with its identity; each compression is used",
          arguments: KafkaSinkSettings.Compression.allCases)
    func roundTrip(_ compression: KafkaSinkSettings.Compression) async throws {
        let scratch = try Scratch()
        let cluster = try await Self.cluster()
        let (log, partitions) = try Log.sample(scratch, readings: 3000)
        let forwarder = try Forwarder(sink: try Self.sink(cluster.bootstrap) { $0.compression = compression },
                                      deviceID: "box-1", partitions: partitions, limits: BatchLimits(readings: 400),
                                      logger: Self.logger)
        try await forward(forwarder) {
            Self.drained(forwarder, 3000) && Self.statistics(forwarder)["records_sent_total"] ?? 0 >= 3000
        }
        #expect(partitions.map { $0.committedOffset(for: "central") } == [1500, 1500])
        let (records, repeats) = try await Self.checkArrived(cluster, readings: 3000)
        #expect(repeats == 0, "no fault, no repeat")
        let statistics = Self.statistics(forwarder)
        #expect(statistics["records_acknowledged_total"] == 3000 && statistics["records_failed_total"] == 0)
        // Compression shows in the bytes on the wire: more than the values with none, far less with any other.
        let values = Double(records.reduce(0) { $0 + ($1.payload?.utf8.count ?? 0) })
        let sent = try #require(statistics["bytes_sent_total"])
        if compression == .none {
            #expect(sent > values, "\(sent) bytes sent for \(values) bytes of values")
        } else {
            #expect(sent < values / 3, "\(sent) bytes sent for \(values) bytes of values, \(compression)")
        }
        try log.close()
    }

    /// The faults the mock cluster makes, each put in place mid-drain and taken away again.
    enum Fault: String, CaseIterable, CustomTestStringConvertible {
        case oneBrokerDown, allBrokersDown, leaderChanges, retriableProduceErrors, permanentProduceErrors,
             fatalProducerError

        var testDescription: String { rawValue }

        func start(_ cluster: KafkaMockCluster) throws {
            switch self {
            case .oneBrokerDown: try cluster.command("down 1")
            case .allBrokersDown: for broker in 1...3 { try cluster.command("down \(broker)") }
            case .leaderChanges:
                for partition in 0..<4 { try cluster.command("leader \(KafkaSinkTests.topic) \(partition) \(partition % 3 + 1)") }
            // NOT_ENOUGH_REPLICAS: librdkafka retries them itself.
            case .retriableProduceErrors: try cluster.command("errors 0 19 19 19 19 19 19")
            // INVALID_RECORD: the records fail, the sink sends them again from the log.
            case .permanentProduceErrors: try cluster.command("errors 0 87 87 87")
            // A record refused with enable.gapless.guarantee: the producer cannot go on; the sink makes a new one.
            case .fatalProducerError: try cluster.command("errors 0 87")
            }
        }

        func end(_ cluster: KafkaMockCluster) throws {
            switch self {
            case .oneBrokerDown: try cluster.command("up 1")
            case .allBrokersDown: for broker in 1...3 { try cluster.command("up \(broker)") }
            case .leaderChanges:
                for partition in 0..<4 { try cluster.command("leader \(KafkaSinkTests.topic) \(partition) 1") }
            case .retriableProduceErrors, .permanentProduceErrors, .fatalProducerError: break
            }
        }
    }

    @Test("a fault mid-drain loses nothing", arguments: Fault.allCases)
    func faultMidDrain(_ fault: Fault) async throws {
        let scratch = try Scratch()
        let cluster = try await Self.cluster()
        let readings = 12_000
        let (log, partitions) = try Log.sample(scratch, readings: readings)
        // Slow answers, so the drain lasts long enough for the fault to come in the middle.
        for broker in 1...3 { try cluster.command("rtt \(broker) 30") }
        let sink = try Self.sink(cluster.bootstrap) { settings in
            if fault == .fatalProducerError { settings.librdkafka.append(.init("enable.gapless.guarantee", "true")) }
        }
        let forwarder = try Forwarder(sink: sink, deviceID: "box-1", partitions: partitions,
                                      limits: BatchLimits(readings: 200), logger: Self.logger)
        let group = ServiceGroup(services: [forwarder], logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await eventually { forwarder.status.forwarded > 0 }
            try fault.start(cluster)
            #expect(forwarder.status.lag > 0, "the fault came mid-drain")
            if fault == .allBrokersDown {
                try await eventually { sink.problem != nil }
                let status = forwarder.status
                #expect(!status.linkUp && status.error != nil, "the outage shows: \(status.error ?? "no error")")
            } else {
                let forwarded = forwarder.status.forwarded
                let noticed = {
                    switch fault {
                    case .oneBrokerDown: Self.statistics(forwarder)["brokers_up"] ?? 3 < 3
                    case .permanentProduceErrors: forwarder.status.failures > 0
                    case .fatalProducerError: Self.statistics(forwarder)["producer_replacements_total"] ?? 0 > 0
                    case .leaderChanges, .retriableProduceErrors, .allBrokersDown:
                        forwarder.status.forwarded > forwarded + 1000
                    }
                }
                try await eventually(noticed)
                #expect(noticed(), "the fault had its effect: \(Self.statistics(forwarder))")
            }
            try fault.end(cluster)
            try await eventually(seconds: 120) {
                // With retries, until the statistics count the records sent again too.
                Self.drained(forwarder, readings) && (fault != .retriableProduceErrors
                    || Self.statistics(forwarder)["records_sent_total"] ?? 0 > Double(readings))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(Self.drained(forwarder, readings), "\(forwarder.status)")
        #expect(forwarder.status.linkUp && sink.problem == nil, "\(sink.problem ?? "")")
        // Records sent again after a failure follow later ones: consumers order by the offset header.
        // librdkafka 2.0.2's mock cluster loses a batch or two at a leader change although librdkafka
        // reports them delivered: kcat -P with idempotence does the same (4 of 5 runs of 40,000 records
        // lost 46 to 200, kcat exiting 0); here 360 to 440 of 12,000 in 3 of about 12 runs.
        try await Self.checkArrived(cluster, readings: readings, ordered: forwarder.status.failures == 0,
                                    lossAllowed: fault == .leaderChanges ? readings / 20 : 0)
        if fault == .retriableProduceErrors || fault == .leaderChanges {
            #expect(forwarder.status.failures == 0, "librdkafka retried by itself")
        }
        if fault == .retriableProduceErrors {
            #expect(Self.statistics(forwarder)["records_sent_total"] ?? 0 > Double(readings), "records were sent again")
        }
        try log.close()
    }

    /// What can be wrong with where a sink points, and the words it should show.
    enum Misconfiguration: String, CaseIterable, CustomTestStringConvertible {
        case wrongBootstrap, unknownTopic, saslFailure, tlsFailure

        var testDescription: String { rawValue }

        var words: String {
            switch self {
            case .wrongBootstrap: "Connection refused"
            case .unknownTopic: "Unknown topic"
            case .saslFailure: "SASL"
            case .tlsFailure: "certificate verify failed"
            }
        }
    }

    @Test("a wrong address, an unknown topic, a SASL or TLS failure: the sink says so and keeps trying",
          arguments: Misconfiguration.allCases)
    func misconfigured(_ mistake: Misconfiguration) async throws {
        let scratch = try Scratch()
        let cluster = try await Self.cluster()
        let (log, partitions) = try Log.sample(scratch, readings: 200)
        var brokers = cluster.bootstrap
        var tlsPeer: MosquittoBroker?
        if mistake == .wrongBootstrap {
            brokers = "127.0.0.1:\(try FreePort.find())"
        } else if mistake == .tlsFailure {
            // Any TLS server does: the handshake fails before a word of Kafka.
            let certificates = try TestCertificates(scratch: scratch)
            let peer = try MosquittoBroker(scratch: scratch, tls: certificates)
            brokers = "127.0.0.1:\(try #require(peer.tlsPort))"
            tlsPeer = peer
        } else if mistake == .unknownTopic {
            try cluster.command("topicerror \(Self.topic) 3")  // UNKNOWN_TOPIC_OR_PARTITION
        }
        let sink = try Self.sink(brokers) { settings in
            settings.librdkafka.append(.init("topic.metadata.propagation.max.ms", "1000"))
            if mistake == .saslFailure {
                settings.sasl = .init(mechanism: .scramSHA256, username: "box", password: Secret("wrong"))
            } else if mistake == .tlsFailure {
                var tls = KafkaSinkSettings.TLS()
                tls.caFile = try? TestCertificates(scratch: scratch).otherCAFile
                settings.tls = tls
            }
        }
        let forwarder = try Forwarder(sink: sink, deviceID: "box-1", partitions: partitions, logger: Self.logger)
        let group = ServiceGroup(services: [forwarder], logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await eventually { forwarder.status.error?.contains(mistake.words) ?? false }
            let status = forwarder.status
            #expect(status.error?.contains(mistake.words) ?? false, "\(status.error ?? "no error")")
            #expect(!status.linkUp && status.partitions.allSatisfy { $0.acknowledgedOffset == 0 })
            if mistake == .unknownTopic {
                // Still trying: once the topic is there, everything goes.
                try cluster.command("topicerror \(Self.topic) 0")
                try await eventually { Self.drained(forwarder, 200) }
                #expect(Self.drained(forwarder, 200))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        _ = tlsPeer
        try log.close()
    }

    @Test func liveFirstANewReadingReachesKafkaWithinASecondDuringABackfill() async throws {
        let scratch = try Scratch()
        let cluster = try await Self.cluster()
        let (log, partitions) = try Log.sample(scratch, readings: 20_000)
        let perReading = Reading(sensor: "s0", timestamp: 0, value: .int(0)).approximateEncodedSize
        for broker in 1...3 { try cluster.command("down \(broker)") }
        let sink = try Self.sink(cluster.bootstrap)
        let forwarder = try Forwarder(sink: sink, deviceID: "box-1", partitions: partitions,
                                      limits: BatchLimits(readings: 500), backfillRate: Int64(perReading * 2000),  // 10 s of backlog
                                      logger: Self.logger)
        let group = ServiceGroup(services: [forwarder], logger: Self.logger)
        // A consumer from the end of the topic, started before the new reading, printing keys as they come.
        let watched = scratch.path("watched")
        _ = FileManager.default.createFile(atPath: watched, contents: nil)
        let consumer = Process()
        consumer.executableURL = URL(fileURLWithPath: "/usr/bin/kcat")
        consumer.arguments = ["-C", "-b", cluster.bootstrap, "-t", Self.topic, "-o", "end", "-u", "-f", "%k\n"]
        consumer.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: watched))
        consumer.standardError = FileHandle.nullDevice
        defer { if consumer.isRunning { kill(consumer.processIdentifier, SIGKILL) } }
        var latency: Duration?
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await eventually { sink.problem != nil }  // an outage: no broker answers
            for broker in 1...3 { try cluster.command("up \(broker)") }
            try await eventually { forwarder.status.backfillLag > 0 }
            try ProcessEnvironment.reading { try consumer.run() }
            // The consumer has its partitions once backlog readings reach it.
            try await eventually { ((try? String(contentsOfFile: watched, encoding: .utf8)) ?? "").contains("s") }
            let clock = ContinuousClock()
            let appended = clock.now
            try partitions[0].append([Reading(sensor: "live", timestamp: 1, value: .int(1))])
            try partitions[0].sync()
            try await eventually {
                ((try? String(contentsOfFile: watched, encoding: .utf8)) ?? "").contains("live\n")
            }
            latency = clock.now - appended
            #expect(forwarder.status.backfillLag > 0, "still backfilling when the new reading arrived")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let measured = try #require(latency)
        #expect(measured < .seconds(1), "a new reading reached Kafka in \(measured)")
        try log.close()
    }
}
