import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TributaryTestSupport
import TributaryLog
@testable import TributaryCore

/// A sink whose every delivery does what `script` says, recording what it
/// was given, what it acknowledged, and whether the forwarder ever committed
/// an offset it had not acknowledged (checked at every send).
final class ScriptedSink: Sink, Sendable {
    enum Behaviour: Sendable {
        /// Acknowledge at once, from the sending task.
        case acknowledge
        /// Keep it until `release` (acknowledges late, in any order).
        case hold
        /// Report a failure.
        case fail
        /// Throw from `send` (the way a cancelled client call does).
        case throwFromSend(any Error & Sendable)
        /// Release it without an outcome (a buggy sink).
        case drop
    }

    let name: String
    let window: Int
    private let script: @Sendable (_ sent: Int, _ batch: SinkBatch) -> Behaviour
    private let partitions: [Partition]
    private let state = Mutex(State())

    private struct State {
        var sent = 0
        var held: [Delivery] = []
        /// Per partition: offsets acknowledged to the forwarder.
        var acknowledged: [Int: Set<Int64>] = [:]
        /// Per partition: offsets of every delivery, in the order sent.
        var offsets: [Int: [Int64]] = [:]
        var violations: [String] = []
        var events: [String] = []
    }

    init(name: String = "scripted", window: Int, partitions: [Partition],
         script: @escaping @Sendable (_ sent: Int, _ batch: SinkBatch) -> Behaviour = { _, _ in .acknowledge }) {
        self.name = name
        self.window = window
        self.partitions = partitions
        self.script = script
    }

    func start() async throws { state.withLock { $0.events.append("start") } }
    func stop() async { state.withLock { $0.events.append("stop") } }

    func send(_ delivery: Delivery) async throws {
        let batch = delivery.batch
        let behaviour = state.withLock { state -> Behaviour in
            state.events.append("send")
            state.offsets[batch.partition, default: []] += batch.readings.map(\.offset)
            checkCommits(&state)
            defer { state.sent += 1 }
            return script(state.sent, batch)
        }
        switch behaviour {
        case .acknowledge: acknowledge([delivery])
        case .hold: state.withLock { $0.held.append(delivery) }
        case .fail: delivery.fail(Refused())
        case let .throwFromSend(error): throw error
        case .drop: break
        }
    }

    /// Acknowledges the held deliveries, last held first if `reversed`.
    func release(reversed: Bool = false) {
        let held = state.withLock { state in
            defer { state.held.removeAll() }
            return state.held
        }
        acknowledge(reversed ? held.reversed() : held)
    }

    private func acknowledge(_ deliveries: [Delivery]) {
        for delivery in deliveries {
            state.withLock { state in
                state.acknowledged[delivery.batch.partition, default: []].formUnion(delivery.batch.readings.map(\.offset))
            }
            delivery.acknowledge()
        }
    }

    /// A committed offset past the first offset not acknowledged is a loss.
    private func checkCommits(_ state: inout State) {
        for (index, partition) in partitions.enumerated() {
            guard let committed = partition.committedOffset(for: name) else { continue }
            let acknowledged = state.acknowledged[index] ?? []
            if let hole = (partition.startOffset..<committed).first(where: { !acknowledged.contains($0) }) {
                state.violations.append("partition \(index): committed \(committed) but \(hole) never acknowledged")
            }
        }
    }

    struct Refused: Error {}

    var sent: Int { state.withLock { $0.sent } }
    var heldCount: Int { state.withLock { $0.held.count } }
    var violations: [String] { state.withLock { $0.violations } }
    var events: [String] { state.withLock { $0.events } }
    func offsets(_ partition: Int) -> [Int64] { state.withLock { $0.offsets[partition] ?? [] } }
    func acknowledged(_ partition: Int) -> Set<Int64> { state.withLock { $0.acknowledged[partition] ?? [] } }
}

@Suite("Forwarder")
struct ForwarderTests {
    private static let logger = Logger(label: "test")

    private func withLog(partitions: Int = 2, _ body: (Log, [Partition]) async throws -> Void) async throws {
        try await withTemporaryDirectory("forwarder") { directory in
            var configuration = LogConfiguration(directory: directory)
            configuration.flush = .everyBatch
            let log = try Log.open(configuration)
            try await body(log, try log.topic("t", creatingWith: partitions))
            try log.close()
        }
    }

    /// Appends `count` readings to `partition` in on-disk batches of `batch`.
    private static func append(_ count: Int, to partition: Partition, batch: Int = 10) throws {
        let start = Int(partition.endOffset)
        for first in stride(from: start, to: start + count, by: batch) {
            try partition.append((first..<min(first + batch, start + count)).map {
                Reading(sensor: "s", timestamp: Int64($0), value: .int(Int64($0)))
            })
        }
    }

    /// Runs `forwarder` until `done` holds, then stops it gracefully.
    private static func forward(_ forwarder: Forwarder, until done: () -> Bool) async throws {
        let group = ServiceGroup(services: [ForwardersService(forwarders: [forwarder])], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await eventually(done)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test("reads ahead across on-disk batches, delivers every durable reading in order and commits it on stop")
    func readsAheadAndCommits() async throws {
        try await withLog { _, partitions in
            try Self.append(300, to: partitions[0])
            try Self.append(5, to: partitions[1])
            let sink = ScriptedSink(window: 2, partitions: partitions)
            let forwarder = try Forwarder(sink: sink, deviceID: "box", partitions: partitions,
                                          limits: BatchLimits(readings: 100), logger: Self.logger)
            try await Self.forward(forwarder) {
                if sink.offsets(1).count == 5, partitions[1].endOffset == 5 {
                    // Caught up, it sleeps until new readings are durable, then delivers them too.
                    try? Self.append(7, to: partitions[1])
                }
                return sink.offsets(0).count == 300 && sink.offsets(1).count == 12
            }
            #expect(sink.offsets(0) == Array(0..<300))
            #expect(sink.offsets(1) == Array(0..<12))
            #expect(sink.sent <= 6, "30 on-disk batches of partition 0 went out as 3 deliveries of 100")
            #expect(partitions[0].committedOffset(for: "scripted") == 300)
            #expect(partitions[1].committedOffset(for: "scripted") == 12)
            #expect(sink.violations.isEmpty, "\(sink.violations)")
            #expect(sink.events.first == "start" && sink.events.last == "stop")
            #expect(sink.events.filter { $0 == "start" || $0 == "stop" }.count == 2, "started and stopped once")
            let status = forwarder.status
            #expect(status.forwarded == 312 && status.lag == 0 && status.linkUp && status.inFlight == 0)
        }
    }

    @Test("a delivery stops at max_batch_bytes, and a reading larger than that still goes alone")
    func byteLimit() async throws {
        try await withTemporaryDirectory("read-ahead") { directory in
            let log = try Log.open(LogConfiguration(directory: directory))
            let partition = try log.topic("t", creatingWith: 1)[0]
            let big = Reading(sensor: "s", timestamp: 0, value: .bytes(Array(repeating: 7, count: 1000)))
            try partition.append([big, big, big])
            try partition.sync()
            let readAhead = ReadAhead(partition: partition, from: 0)
            let limits = BatchLimits(readings: 100, bytes: 2 * big.approximateEncodedSize)
            #expect(try readAhead.next(within: limits).readings.map(\.offset) == [0, 1])
            #expect(try readAhead.next(within: BatchLimits(readings: 100, bytes: 1)).readings.map(\.offset) == [2])
            let caughtUp = try readAhead.next(within: limits)
            #expect(caughtUp.readings.isEmpty && caughtUp.end == 3)
            try log.close()
        }
    }

    @Test("acknowledgements out of order commit nothing until the first delivery is acknowledged")
    func outOfOrderAcknowledgements() async throws {
        try await withLog(partitions: 1) { _, partitions in
            try Self.append(40, to: partitions[0])
            let sink = ScriptedSink(window: 4, partitions: partitions) { _, _ in .hold }
            let forwarder = try Forwarder(sink: sink, deviceID: "box", partitions: partitions,
                                          limits: BatchLimits(readings: 10), logger: Self.logger)
            try await Self.forward(forwarder) {
                if sink.heldCount == 4 { sink.release(reversed: true) }
                return sink.acknowledged(0).count == 40 && forwarder.status.partitions[0].acknowledgedOffset == 40
            }
            #expect(sink.offsets(0) == Array(0..<40), "each offset sent once, in order")
            #expect(partitions[0].committedOffset(for: "scripted") == 40)
            #expect(sink.violations.isEmpty, "\(sink.violations)")
        }
    }

    /// Failures of each kind in the middle of a window.
    static let failures: [(String, ScriptedSink.Behaviour)] = [
        ("reported failure", .fail),
        ("CancellationError thrown from send", .throwFromSend(CancellationError())),
        ("delivery dropped without an outcome", .drop),
    ]

    @Test("a failure in the middle of the window resends from its first offset; nothing is skipped or committed early",
          arguments: failures)
    func failureInTheWindow(_ name: String, _ failure: ScriptedSink.Behaviour) async throws {
        try await withLog(partitions: 1) { _, partitions in
            try Self.append(100, to: partitions[0])
            // The third delivery fails once; those around it are acknowledged.
            let sink = ScriptedSink(window: 4, partitions: partitions) { sent, _ in sent == 2 ? failure : .acknowledge }
            let forwarder = try Forwarder(sink: sink, deviceID: "box", partitions: partitions,
                                          limits: BatchLimits(readings: 10), logger: Self.logger)
            try await Self.forward(forwarder) { forwarder.status.partitions[0].acknowledgedOffset == 100 }
            #expect(sink.acknowledged(0) == Set(0..<100), "every durable reading acknowledged (\(name))")
            let sent = sink.offsets(0)
            #expect(Array(sent.prefix(30)) == Array(0..<30))
            #expect(sent.dropFirst(30).first == 20, "resent from the failed delivery's first offset")
            #expect(partitions[0].committedOffset(for: "scripted") == 100)
            #expect(forwarder.status.failures == 1)
            #expect(sink.violations.isEmpty, "\(sink.violations)")
        }
    }

    /// Random holds, failures, throws and drops over two partitions; the
    /// invariant is checked at every send and the end.
    @Test("random outcomes deliver every durable reading and never commit past an unacknowledged one",
          arguments: [11, 12, 13] as [UInt64])
    func randomOutcomes(seed: UInt64) async throws {
        try await withLog { _, partitions in
            try Self.append(400, to: partitions[0], batch: 7)
            try Self.append(250, to: partitions[1], batch: 13)
            let random = Mutex(SplitMix64(seed: seed))
            let sink = ScriptedSink(window: 5, partitions: partitions) { _, _ in
                switch random.withLock({ $0.next() }) % 10 {
                case 0: .fail
                case 1: .throwFromSend(CancellationError())
                case 2: .drop
                case 3, 4, 5: .hold
                default: .acknowledge
                }
            }
            let forwarder = try Forwarder(sink: sink, deviceID: "box", partitions: partitions,
                                          limits: BatchLimits(readings: 20), logger: Self.logger)
            try await Self.forward(forwarder) {
                if sink.heldCount > 0 { sink.release(reversed: random.withLock { $0.next() } % 2 == 0) }
                let status = forwarder.status
                return status.partitions[0].acknowledgedOffset == 400 && status.partitions[1].acknowledgedOffset == 250
            }
            #expect(sink.acknowledged(0).isSuperset(of: 0..<400), "seed \(seed)")
            #expect(sink.acknowledged(1).isSuperset(of: 0..<250), "seed \(seed)")
            #expect(partitions[0].committedOffset(for: "scripted") == 400, "seed \(seed)")
            #expect(partitions[1].committedOffset(for: "scripted") == 250, "seed \(seed)")
            #expect(sink.violations.isEmpty, "seed \(seed): \(sink.violations)")
        }
    }

    @Test("on stop every forwarder drains at the same time")
    func forwardersDrainTogether() async throws {
        try await withLog { _, partitions in
            try Self.append(30, to: partitions[0])
            try Self.append(30, to: partitions[1])
            // Each sink holds its deliveries; they are released only once both forwarders are draining.
            let sinks = ["a", "b"].enumerated().map { index, name in
                ScriptedSink(name: name, window: 2, partitions: [partitions[index]]) { _, _ in .hold }
            }
            let forwarders = try sinks.enumerated().map { index, sink in
                try Forwarder(sink: sink, deviceID: "box", partitions: [partitions[index]], logger: Self.logger)
            }
            let group = ServiceGroup(services: [ForwardersService(forwarders: forwarders)], logger: Self.logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                try await eventually { sinks.allSatisfy { $0.heldCount == 1 } }
                await group.triggerGracefulShutdown()
                try await eventually { forwarders.allSatisfy { $0.isDraining } }
                #expect(forwarders.allSatisfy { $0.isDraining }, "both forwarders drain at once")
                for sink in sinks { sink.release() }
                try await tasks.waitForAll()
            }
            for (index, sink) in sinks.enumerated() {
                #expect(partitions[index].committedOffset(for: sink.name) == 30, "sink \(sink.name) drained")
            }
        }
    }

    @Test("a new forwarder for the same sink resumes at the committed offset")
    func resumesAtTheCommittedOffset() async throws {
        try await withLog { _, partitions in
            try Self.append(20, to: partitions[0])
            try partitions[0].commit(15, for: "scripted")
            let sink = ScriptedSink(window: 1, partitions: [partitions[0]])
            let forwarder = try Forwarder(sink: sink, deviceID: "box", partitions: [partitions[0]],
                                          logger: Self.logger)
            #expect(forwarder.status.lag == 5)
            try await Self.forward(forwarder) { sink.offsets(0).count == 5 }
            #expect(sink.offsets(0) == Array(15..<20))
        }
    }

    @Test("registering the sink makes retention count what it has not read")
    func registersTheSinkAsAConsumer() async throws {
        try await withLog { _, partitions in
            _ = try Forwarder(sink: ScriptedSink(window: 1, partitions: partitions), deviceID: "box",
                              partitions: partitions, logger: Self.logger)
            #expect(partitions.allSatisfy { $0.consumers["scripted"] == 0 })
        }
    }

    @Test("live first: after an outage new readings go out at once while the backlog follows at the backfill rate")
    func liveFirst() async throws {
        try await withLog(partitions: 1) { _, partitions in
            let partition = partitions[0]
            try Self.append(3000, to: partition, batch: 100)
            // The link is down for the first three deliveries, then up.
            let sink = ScriptedSink(window: 4, partitions: partitions) { sent, _ in sent < 3 ? .fail : .acknowledge }
            let perReading = Reading(sensor: "s", timestamp: 0, value: .int(0)).approximateEncodedSize
            let rate = Int64(perReading * 500)  // 500 readings a second
            let forwarder = try Forwarder(sink: sink, deviceID: "box", partitions: partitions,
                                          limits: BatchLimits(readings: 100), backfillRate: rate, logger: Self.logger)
            let clock = ContinuousClock()
            var backfillSeen: ContinuousClock.Instant?
            var liveSent: ContinuousClock.Instant?
            var backlogSentByThen = 0
            try await Self.forward(forwarder) {
                if backfillSeen == nil, forwarder.status.backfillLag > 0 {
                    backfillSeen = clock.now
                    try? Self.append(1, to: partition)  // a new reading, during the backfill
                }
                if backfillSeen != nil, liveSent == nil, sink.offsets(0).contains(3000) {
                    liveSent = clock.now
                    backlogSentByThen = Set(sink.acknowledged(0).filter { $0 < 3000 }).count
                }
                return forwarder.status.partitions[0].acknowledgedOffset == 3001
            }
            let started = try #require(backfillSeen)
            let live = try #require(liveSent, "the new reading went out")
            #expect(live - started < .seconds(1), "the new reading went out within a second: \(live - started)")
            #expect(backlogSentByThen < 2900, "ahead of most of the backlog (\(backlogSentByThen) of 3000 sent by then)")
            let elapsed = clock.now - started
            // 3000 readings at 500 a second, less the first delivery before the outage and a second's burst.
            #expect(elapsed > .seconds(3), "the backlog went out at the backfill rate, not at once: \(elapsed)")
            #expect(Set(sink.acknowledged(0)) == Set(0..<3001), "nothing skipped")
            #expect(partition.committedOffset(for: "scripted") == 3001)
            #expect(sink.violations.isEmpty, "\(sink.violations)")
            #expect(forwarder.status.backfillLag == 0)
        }
    }

    @Test("outages during backfills lose nothing: every reading is acknowledged once the link stays up")
    func outagesDuringBackfills() async throws {
        try await withLog { _, partitions in
            for partition in partitions { try Self.append(2000, to: partition, batch: 50) }
            let down = Atomic(false)
            // Acknowledged later, in any order, or failed while the link is down.
            let sink = ScriptedSink(window: 4, partitions: partitions) { _, _ in down.load(ordering: .relaxed) ? .fail : .hold }
            let forwarder = try Forwarder(sink: sink, deviceID: "box", partitions: partitions,
                                          limits: BatchLimits(readings: 100), logger: Self.logger)
            var random = SplitMix64(seed: 11)
            var step = 0
            try await Self.forward(forwarder) {
                step += 1
                if step % 7 == 0 { sink.release(reversed: random.next() % 2 == 0) }
                if step % 30 == 0 { down.store(step < 600 && random.next() % 2 == 0, ordering: .relaxed) }
                if step % 10 == 0, step < 600 {
                    for partition in partitions { try? Self.append(Int(random.next() % 200), to: partition) }
                }
                if step > 600 { sink.release() }
                return step > 600 && forwarder.status.partitions.indices.allSatisfy {
                    forwarder.status.partitions[$0].acknowledgedOffset == partitions[$0].durableOffset
                }
            }
            for (index, partition) in partitions.enumerated() {
                let missing = Set(0..<partition.durableOffset).subtracting(sink.acknowledged(index))
                #expect(missing.isEmpty, "partition \(index): \(missing.count) never acknowledged, from \(missing.min() ?? -1)")
            }
            #expect(sink.violations.isEmpty, "\(sink.violations)")
        }
    }
}
