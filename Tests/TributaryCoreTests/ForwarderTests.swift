import Logging
import Synchronization
import Testing
import TributaryLog
@testable import TributaryCore

/// A sink that records what it is given and fails the first `failures` deliveries.
private final class RecordingSink: Sink, Sendable {
    let name = "recorder"
    private let state: Mutex<(batches: [SinkBatch], failuresLeft: Int, attempts: Int)>

    init(failures: Int = 0) { state = Mutex(([], failures, 0)) }

    func deliver(_ batch: SinkBatch) async throws {
        try state.withLock { state in
            state.attempts += 1
            if state.failuresLeft > 0 {
                state.failuresLeft -= 1
                throw Refused()
            }
            state.batches.append(batch)
        }
    }

    struct Refused: Error {}

    var offsets: [Int: [Int64]] {
        state.withLock { state in
            var offsets: [Int: [Int64]] = [:]
            for batch in state.batches { offsets[batch.partition, default: []] += batch.readings.map(\.offset) }
            return offsets
        }
    }

    var attempts: Int { state.withLock { $0.attempts } }
    var delivered: Int { state.withLock { $0.batches.reduce(0) { $0 + $1.readings.count } } }
}

@Suite("Forwarder")
struct ForwarderTests {
    private static let logger = Logger(label: "test")

    private func withLog(_ body: (Log, [Partition]) async throws -> Void) async throws {
        try await withTemporaryDirectory("forwarder") { directory in
            var configuration = LogConfiguration(directory: directory)
            configuration.flush = .everyBatch
            let log = try Log.open(configuration)
            try await body(log, try log.topic("t", creatingWith: 2))
            try log.close()
        }
    }

    private static func readings(_ count: Int, from start: Int = 0) -> [Reading] {
        (start..<start + count).map { Reading(sensor: "s", timestamp: Int64($0), value: .int(Int64($0))) }
    }

    /// Waits (at most 10 s) until `condition` holds.
    private static func eventually(_ condition: () -> Bool) async throws {
        for _ in 0..<1000 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
    }

    @Test("delivers every durable reading in offset order and commits what was acknowledged when stopped")
    func deliversInOrderAndCommits() async throws {
        try await withLog { _, partitions in
            try partitions[0].append(Self.readings(300))
            try partitions[1].append(Self.readings(5))
            let sink = RecordingSink()
            let forwarder = try Forwarder(sink: sink, deviceID: "box", partitions: partitions, logger: Self.logger)
            let running = Task { try await forwarder.run() }
            try await Self.eventually { sink.delivered == 305 }
            // Caught up, it sleeps until new readings are durable, then delivers them too.
            try partitions[1].append(Self.readings(7, from: 5))
            try await Self.eventually { sink.delivered == 312 }
            running.cancel()
            try await running.value

            #expect(sink.offsets[0] == Array(0..<300))
            #expect(sink.offsets[1] == Array(0..<12))
            #expect(partitions[0].committedOffset(for: "recorder") == 300)
            #expect(partitions[1].committedOffset(for: "recorder") == 12)
            let status = forwarder.status
            #expect(status.forwarded == 312 && status.lag == 0 && status.linkUp && status.lastUpload != nil)
        }
    }

    @Test("a failed delivery is retried from the first unacknowledged offset and nothing is committed past it")
    func retriesFailedDeliveries() async throws {
        try await withLog { _, partitions in
            try partitions[0].append(Self.readings(50))
            let sink = RecordingSink(failures: 2)
            let forwarder = try Forwarder(sink: sink, deviceID: "box", partitions: [partitions[0]], logger: Self.logger)
            let running = Task { try await forwarder.run() }
            try await Self.eventually { forwarder.status.failures >= 1 }
            #expect(!forwarder.status.linkUp)
            #expect(forwarder.status.lag == 50)
            #expect(partitions[0].committedOffset(for: "recorder") == 0)
            // 0.5 s then 1 s of pause before the third attempt succeeds.
            try await Self.eventually { sink.delivered == 50 }
            running.cancel()
            try await running.value
            #expect(sink.attempts == 3)
            #expect(sink.offsets[0] == Array(0..<50), "the refused batch was sent again, whole")
            #expect(forwarder.status.failures == 2 && forwarder.status.linkUp)
            #expect(partitions[0].committedOffset(for: "recorder") == 50)
        }
    }

    @Test("a new forwarder for the same sink resumes at the committed offset")
    func resumesAtTheCommittedOffset() async throws {
        try await withLog { _, partitions in
            try partitions[0].append(Self.readings(20))
            try partitions[0].commit(15, for: "recorder")
            let sink = RecordingSink()
            let forwarder = try Forwarder(sink: sink, deviceID: "box", partitions: [partitions[0]], logger: Self.logger)
            #expect(forwarder.status.lag == 5)
            let running = Task { try await forwarder.run() }
            try await Self.eventually { sink.delivered == 5 }
            running.cancel()
            try await running.value
            #expect(sink.offsets[0] == Array(15..<20))
        }
    }

    @Test("registering the sink makes retention count what it has not read")
    func registersTheSinkAsAConsumer() async throws {
        try await withLog { _, partitions in
            _ = try Forwarder(sink: RecordingSink(), deviceID: "box", partitions: partitions, logger: Self.logger)
            #expect(partitions.allSatisfy { $0.consumers["recorder"] == 0 })
        }
    }
}
