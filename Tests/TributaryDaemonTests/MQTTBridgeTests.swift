import Foundation
import Testing
import TributaryLog
import TributaryTestSupport

/// `tributary run` as an MQTT bridge between two real mosquitto brokers, a
/// local one fed by mosquitto_pub and an upstream one watched by
/// mosquitto_sub, with the daemon and the upstream killed along the way.
@Suite(.serialized)
struct MQTTBridgeTests {
    /// A source on `local` (sensors/SENSOR carrying a counter as text) and,
    /// with `upstream`, a sink to it (JSON per reading, deliveries of 100).
    private static func fixture(_ scratch: Scratch, local: MosquittoBroker, upstream: MosquittoBroker?) throws
        -> DaemonFixture {
        var pipeline = """
            [[sources]]
            type = "mqtt"
            name = "local"
            topic = "readings"
            url = "mqtt://127.0.0.1:\(local.port)"
            [[sources.subscriptions]]
            filter = "sensors/+"
            format = "text"
            sensor = "{1}"

            """
        if let upstream {
            pipeline += """
                [[sinks]]
                type = "mqtt"
                name = "central"
                topics = ["readings"]
                url = "mqtt://127.0.0.1:\(upstream.port)"
                max_batch = 100
                """
        } else {
            pipeline += """
                [[sinks]]
                type = "stdout"
                name = "out"
                topics = ["readings"]
                """
        }
        return try DaemonFixture(scratch: scratch, pipeline: pipeline)
    }

    /// Every reading in the log now (opened read-only), by partition.
    private static func logged(_ fixture: DaemonFixture) throws -> [[StoredReading]] {
        try fixture.partitions().map { try $0.readAll(from: $0.startOffset).readings }
    }

    /// The counters logged per sensor.
    private static func counters(_ fixture: DaemonFixture) throws -> [String: [Int64]] {
        var counters: [String: [Int64]] = [:]
        for stored in try logged(fixture).joined() {
            if case let .int(value) = stored.reading.value { counters[stored.reading.sensor, default: []].append(value) }
        }
        return counters
    }

    /// Whether `values` rise, a repeat of earlier values aside (a message the broker sent again).
    private static func inOrder(_ values: [Int64]) -> Bool {
        var seen = Set<Int64>()
        let firsts = values.filter { seen.insert($0).inserted }
        return firsts == firsts.sorted()
    }

    /// Publishes the counters `values` to each of `sensors` (sensors/NAME, QoS 1), one publisher a sensor.
    private static func publish(_ values: Range<Int>, sensors: [String], to broker: MosquittoBroker,
                                pace: Duration? = nil) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for sensor in sensors {
                group.addTask {
                    let publisher = try MosquittoPublisher(broker: broker, topic: "sensors/\(sensor)")
                    for value in values {
                        publisher.send("\(value)")
                        if let pace { try await Task.sleep(for: pace) }
                    }
                    let finished = try await offPool { publisher.finish() }
                    #expect(finished, "mosquitto_pub for \(sensor) ended")
                }
            }
            try await group.waitForAll()
        }
    }

    private static func waitFor(seconds: Double = 60, _ condition: @escaping @Sendable () -> Bool) async throws -> Bool {
        try await offPool { waitUntil(seconds: seconds, condition) }
    }

    @Test func aLocalPublisherKeepsSendingWhileTributaryIsKilledAndRestartedAndNothingIsLost() async throws {
        let scratch = try Scratch()
        let local = try MosquittoBroker(scratch: scratch)
        let fixture = try Self.fixture(scratch, local: local, upstream: nil)
        let first = try fixture.start(notify: nil)
        #expect(try await Self.waitFor { local.log.contains("tributary-test-box-local") }, "connected: \(first.stderr)")
        let sensors = ["a", "b", "c"]
        let publishing = Task { try await Self.publish(0..<3000, sensors: sensors, to: local, pace: .milliseconds(1)) }
        #expect(try await Self.waitFor { ((try? Self.counters(fixture)) ?? [:]).values.joined().count > 1000 })
        kill(first.process.processIdentifier, SIGKILL)
        #expect(await exitStatus(of: first, within: 10) != nil)
        let atKill = try Self.counters(fixture).values.joined().count
        try await Task.sleep(for: .milliseconds(500))  // the publishers go on; the broker keeps it for the session
        let second = try fixture.start(notify: nil)
        try await publishing.value
        let all = try await Self.waitFor {
            let counters = (try? Self.counters(fixture)) ?? [:]
            return sensors.allSatisfy { Set(counters[$0] ?? []).count == 3000 }
        }
        let counters = try Self.counters(fixture)
        for sensor in sensors {
            let values = counters[sensor] ?? []
            let missing = Set(0..<3000).subtracting(values.map(Int.init))
            #expect(missing.isEmpty, "\(sensor): \(missing.count) missing, first \(missing.sorted().prefix(5))")
            #expect(Self.inOrder(values), "\(sensor): in order, but for a repeat at the kill")
        }
        #expect(all && atKill < 9000, "killed while publishing (\(atKill) logged by then)")
        kill(second.process.processIdentifier, SIGTERM)
        #expect(await exitStatus(of: second, within: 15) == 0, "\(second.stderr)")
    }

    @Test func killedMidDrainAndKilledWhileTheUpstreamIsDownNothingLoggedIsMissingUpstream() async throws {
        let scratch = try Scratch()
        let local = try MosquittoBroker(scratch: scratch)
        let upstream = try MosquittoBroker(scratch: scratch)
        var subscribers = [try MosquittoSubscriber(broker: upstream, filter: "devices/#", scratch: scratch)]
        let fixture = try Self.fixture(scratch, local: local, upstream: upstream)
        let sensors = (0..<10).map { "s\($0)" }

        // Run 1: bridging, killed mid-drain.
        let first = try fixture.start(notify: nil)
        #expect(try await Self.waitFor { local.log.contains("tributary-test-box-local") }, "connected: \(first.stderr)")
        try await Self.publish(0..<1000, sensors: sensors, to: local)
        let received = subscribers[0]
        #expect(try await Self.waitFor { received.messages.count > 3000 }, "forwarding: \(first.stderr)")
        kill(first.process.processIdentifier, SIGKILL)
        #expect(await exitStatus(of: first, within: 10) != nil)
        let committedAtFirstKill = try fixture.partitions().map { $0.committedOffset(for: "central") ?? 0 }

        // Run 2: the upstream is down; everything published reaches the log, then tributary is killed again.
        try await offPool { upstream.stop() }
        let second = try fixture.start(notify: nil)
        try await Self.publish(1000..<2000, sensors: sensors, to: local)
        #expect(try await Self.waitFor {
            let counters = (try? Self.counters(fixture)) ?? [:]
            return sensors.allSatisfy { Set(counters[$0] ?? []).count == 2000 }
        }, "everything published is logged: \(second.stderr)")
        nonisolated(unsafe) let secondRun = second  // only the waiting thread reads it meanwhile
        #expect(try await Self.waitFor { secondRun.stderr.contains("no connection to the MQTT broker") }, "\(second.stderr)")
        kill(second.process.processIdentifier, SIGKILL)
        #expect(await exitStatus(of: second, within: 10) != nil)
        let committedAtSecondKill = try fixture.partitions().map { $0.committedOffset(for: "central") ?? 0 }
        #expect(committedAtSecondKill == committedAtFirstKill || committedAtSecondKill.reduce(0, +) < 20_000,
                "a backlog waits for the upstream")

        // Run 3: both back; the backlog drains.
        try await offPool { try upstream.start() }
        subscribers.append(try await offPool { try MosquittoSubscriber(broker: upstream, filter: "devices/#", scratch: scratch) })
        let third = try fixture.start(notify: nil)
        let logged = try Self.logged(fixture)
        let total = logged.reduce(0) { $0 + $1.count }
        // A kill between a message's append and its PUBACK going out makes the broker send it again: a repeat, not a loss.
        #expect(total >= 20_000 && total < 20_100, "the log holds every reading, repeats only at the kills: \(total)")
        let watching = subscribers
        let drained = try await Self.waitFor {
            let identities = Set(watching.flatMap(\.messages).compactMap { message -> String? in
                guard let partition = message.properties["partition"], let offset = message.properties["offset"] else {
                    return nil
                }
                return "\(partition)@\(offset)"
            })
            return identities.count >= total
        }
        #expect(drained, "\(third.stderr)")
        kill(third.process.processIdentifier, SIGTERM)
        #expect(await exitStatus(of: third, within: 15) == 0, "\(third.stderr)")

        // Upstream, de-duplicated by identity: exactly what was logged, each sensor in order.
        var byIdentity: [String: Int] = [:]
        var bySensor: [String: [(offset: Int64, value: Int64)]] = [:]
        for message in subscribers.flatMap(\.messages) {
            let line = try JSONDecoder().decode(Forwarded.self, from: Data(message.payload.utf8))
            let identity = "\(line.partition)@\(line.offset)"
            byIdentity[identity, default: 0] += 1
            if byIdentity[identity] == 1 { bySensor[line.sensor, default: []].append((line.offset, line.value)) }
        }
        for (partition, readings) in logged.enumerated() {
            let missing = readings.filter { byIdentity["\(partition)@\($0.offset)"] == nil }
            #expect(missing.isEmpty, "partition \(partition): \(missing.count) logged readings never reached upstream")
            // Repeats only of what was not committed when a run was killed.
            let repeated = readings.map(\.offset).filter { (byIdentity["\(partition)@\($0)"] ?? 0) > 1 }
            #expect(repeated.allSatisfy { $0 >= min(committedAtFirstKill[partition], committedAtSecondKill[partition]) },
                    "partition \(partition): a committed reading was sent again")
        }
        #expect(bySensor.count == 10)
        for (sensor, readings) in bySensor {
            let values = readings.sorted { $0.offset < $1.offset }.map(\.value)
            #expect(Set(values) == Set(0..<2000), "\(sensor): \(Set(0..<2000).subtracting(values).count) values missing")
            #expect(Self.inOrder(values), "\(sensor): in order")
        }
    }

    @Test func anUpstreamUnreachableForMinutesMidDrainGetsEverythingOnceItIsBack() async throws {
        let scratch = try Scratch()
        let local = try MosquittoBroker(scratch: scratch)
        let upstream = try MosquittoBroker(scratch: scratch)
        let subscriber = try MosquittoSubscriber(broker: upstream, filter: "devices/#", scratch: scratch)
        let fixture = try Self.fixture(scratch, local: local, upstream: upstream)
        let sensors = (0..<10).map { "s\($0)" }
        let daemon = try fixture.start(notify: nil)
        #expect(try await Self.waitFor { local.log.contains("tributary-test-box-local") }, "connected: \(daemon.stderr)")
        try await Self.publish(0..<1000, sensors: sensors, to: local)
        #expect(try await Self.waitFor { subscriber.messages.count > 2000 }, "forwarding: \(daemon.stderr)")
        // Unreachable mid-drain: frozen, the broker answers nothing but loses nothing it acknowledged.
        let clock = ContinuousClock()
        let frozen = clock.now
        upstream.freeze()
        try await Self.publish(1000..<2000, sensors: sensors, to: local)  // more backlog meanwhile
        var noticed = false
        for _ in 0..<1200 where !noticed {
            let body = try await httpGet(port: fixture.port, path: "/status").body
            let status = try? JSONDecoder().decode(Status.self, from: Data(body.utf8))
            noticed = status?.sinks.first?.statistics.contains { $0.name == "connected" && $0.value == 0 } == true
            if !noticed { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(noticed, "the sink noticed the silence (keepalive): \(daemon.stderr)")
        // Longer than libmosquitto's longest reconnect delay (30 s), twice.
        try await Task.sleep(until: frozen + .seconds(65), clock: clock)
        upstream.thaw()
        let logged = try Self.logged(fixture)
        let total = logged.reduce(0) { $0 + $1.count }
        let drained = try await Self.waitFor(seconds: 180) {
            Set(subscriber.messages.compactMap { message -> String? in
                guard let partition = message.properties["partition"], let offset = message.properties["offset"] else {
                    return nil
                }
                return "\(partition)@\(offset)"
            }).count >= total
        }
        let finalStatus = (try? await httpGet(port: fixture.port, path: "/status").body) ?? ""
        #expect(drained, "drained within 3 minutes of the upstream's return: \(finalStatus) \(daemon.stderr.suffix(3000))")
        kill(daemon.process.processIdentifier, SIGTERM)
        #expect(await exitStatus(of: daemon, within: 15) == 0, "\(daemon.stderr)")
        var received: [Int: Set<Int64>] = [:]
        for message in subscriber.messages {
            let line = try JSONDecoder().decode(Forwarded.self, from: Data(message.payload.utf8))
            received[line.partition, default: []].insert(line.offset)
        }
        for (partition, readings) in logged.enumerated() {
            let missing = readings.filter { received[partition]?.contains($0.offset) != true }
            let first = missing.first?.offset ?? -1
            #expect(missing.isEmpty, "partition \(partition): \(missing.count) readings from \(first) never reached the upstream")
        }
        #expect(total >= 20_000)
    }

    /// The parts of `/status` this suite reads.
    private struct Status: Decodable {
        struct Sink: Decodable {
            struct Partition: Decodable { var acknowledgedOffset: Int64 }
            struct Statistic: Decodable {
                var name: String
                var value: Double
            }
            var partitions: [Partition]
            var statistics: [Statistic]
        }
        var sinks: [Sink]
    }

    private struct Forwarded: Decodable {
        var partition: Int
        var offset: Int64
        var sensor: String
        var value: Int64
    }
}
