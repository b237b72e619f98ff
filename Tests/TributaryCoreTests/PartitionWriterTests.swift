#if canImport(Glibc)
import Glibc
#endif
import Logging
import Testing
import TributaryTestSupport
import TributaryLog
@testable import TributaryCore

@Suite("Partition writer")
struct PartitionWriterTests {
    private func withLog(_ flush: FlushPolicy, _ body: (Log, Partition) async throws -> Void) async throws {
        try await withTemporaryDirectory("writer") { directory in
            var configuration = LogConfiguration(directory: directory)
            configuration.flush = flush
            configuration.segmentBytes = 64 << 10
            let log = try Log.open(configuration)
            try await body(log, try log.topic("t", creatingWith: 1)[0])
            try log.close()
        }
    }

    private static let logger = Logger(label: "test")

    @Test("readings sent by concurrent senders through a small queue all become durable, each sender's in order")
    func concurrentSendersKeepTheirOrder() async throws {
        try await withLog(.interval(maxDelayMilliseconds: 20, maxBytes: 1 << 20)) { _, partition in
            let writer = try PartitionWriter.started(partition: partition, capacity: 10, logger: Self.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for sender in 0..<4 {
                    group.addTask {
                        for round in 0..<50 {
                            let readings = (0..<25).map { i in
                                Reading(sensor: "s\(sender)", timestamp: Int64(round * 25 + i), value: .int(Int64(round * 25 + i)))
                            }
                            try await writer.send(readings)
                        }
                    }
                }
                try await group.waitForAll()
            }
            await writer.stop()
            #expect(partition.durableOffset == 4 * 50 * 25)
            let reader = partition.reader(from: 0)
            var next: [String: Int64] = [:]
            var count = 0
            while true {
                let batch = try reader.next()
                if batch.isEmpty { break }
                for stored in batch {
                    let expected = next[stored.reading.sensor, default: 0]
                    #expect(stored.reading.value == .int(expected), "\(stored.reading.sensor) out of order")
                    next[stored.reading.sensor] = expected + 1
                    count += 1
                }
            }
            #expect(count == 5000)
        }
    }

    @Test("stop makes everything sent durable, and later sends are refused")
    func stopDrainsAndRefuses() async throws {
        try await withLog(.interval(maxDelayMilliseconds: 60_000, maxBytes: 1 << 30)) { _, partition in
            let writer = try PartitionWriter.started(partition: partition, logger: Self.logger)
            try await writer.send([Reading(sensor: "a", timestamp: 1, value: .double(21.5))])
            await writer.stop()
            #expect(partition.durableOffset == 1)
            await #expect(throws: PipelineError.writerStopped(topic: "t", partition: 0)) {
                try await writer.send([Reading(sensor: "a", timestamp: 2, value: .double(21.6))])
            }
            await writer.stop()
        }
    }

    @Test("a send waiting for room gives up when its task is cancelled, so a wedged disk cannot hold up a stop")
    func cancelledSendStopsWaiting() async throws {
        try await withLog(.everyBatch) { _, partition in
            // Not started: nothing drains the queue, as behind a wedged disk.
            let writer = PartitionWriter(partition: partition, capacity: 10, logger: Self.logger)
            try await writer.send((0..<10).map { Reading(sensor: "a", timestamp: Int64($0), value: .int(0)) })
            let waiting = Task { try await writer.send([Reading(sensor: "a", timestamp: 10, value: .int(0))]) }
            try await eventually { writer.backlog == 11 }
            waiting.cancel()
            await #expect(throws: CancellationError.self) { try await waiting.value }
            #expect(writer.backlog == 10, "the cancelled readings left the line")
            try writer.start()
            await writer.stop()
            #expect(partition.durableOffset == 10)
        }
    }

    @Test("under the interval policy a lone reading becomes durable without further sends")
    func intervalSyncHappensWithoutTraffic() async throws {
        try await withLog(.interval(maxDelayMilliseconds: 20, maxBytes: 1 << 30)) { _, partition in
            let writer = try PartitionWriter.started(partition: partition, logger: Self.logger)
            try await writer.send([Reading(sensor: "a", timestamp: 1, value: .bool(true))])
            let deadline = ContinuousClock.now + .seconds(10)
            while partition.durableOffset < 1, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(partition.durableOffset == 1)
            await writer.stop()
        }
    }
}

@Suite("Router")
struct RouterTests {
    @Test("a sensor's readings all go to the partition its id hashes to, in order; an unknown topic is an error")
    func sensorsStayInTheirPartition() async throws {
        try await withTemporaryDirectory("router") { directory in
            var configuration = LogConfiguration(directory: directory)
            configuration.flush = .everyBatch
            let log = try Log.open(configuration)
            let partitions = try log.topic("t", creatingWith: 3)
            let writers = try partitions.map { try PartitionWriter.started(partition: $0, logger: Logger(label: "test")) }
            let router = Router(writers: ["t": writers])
            let sensors = (0..<12).map { "sensor-\($0)" }
            for round in 0..<20 {
                try await router.send(sensors.map { Reading(sensor: $0, timestamp: Int64(round), value: .int(Int64(round))) },
                                      to: "t")
        }
        await #expect(throws: PipelineError.unknownTopic("nope")) {
            try await router.send([Reading(sensor: "x", timestamp: 0, value: .int(0))], to: "nope")
        }
        for writer in writers { await writer.stop() }
        for (index, partition) in partitions.enumerated() {
            let reader = partition.reader(from: 0)
            var rounds: [String: Int64] = [:]
            while true {
                let batch = try reader.next()
                if batch.isEmpty { break }
                for stored in batch {
                    #expect(Log.partition(forSensor: stored.reading.sensor, partitions: 3) == index)
                    #expect(stored.reading.value == .int(rounds[stored.reading.sensor, default: 0]))
                    rounds[stored.reading.sensor, default: 0] += 1
                }
            }
            #expect(rounds.values.allSatisfy { $0 == 20 })
        }
        #expect(partitions.reduce(0) { $0 + $1.durableOffset } == 240)
        try log.close()
        }
    }
}
