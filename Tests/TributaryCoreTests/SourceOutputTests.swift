import Foundation
import Synchronization
import Logging
import Testing
import TributaryLog
import TributaryTestSupport
@testable import TributaryCore

@Suite("Source output")
struct SourceOutputTests {
    @Test("malformed input is counted and kept raw in the dead-letter topic under the source's name")
    func malformedInputGoesToTheDeadLetterTopic() async throws {
        try await withTemporaryDirectory("source-output") { directory in
            let test = try SourceTestLog(directory: directory, source: "serial-1")
            let output = test.output
            try await output.send([Reading(sensor: "a", timestamp: 1, value: .int(1))])
            for garbage in [[0xFF, 0x00], [0x41]] as [[UInt8]] {
                await output.reportMalformed(garbage, reason: "not a number", at: 7)
            }
            let kept = try await test.finish().dead
            #expect(output.received == 1)
            #expect(output.malformed == 2)
            #expect(kept == [Reading(sensor: "serial-1", timestamp: 7, value: .bytes([0xFF, 0x00])),
                             Reading(sensor: "serial-1", timestamp: 7, value: .bytes([0x41]))])
        }
    }

    @Test("without a dead-letter topic malformed input is only counted")
    func malformedInputIsCounted() async throws {
        try await withTemporaryDirectory("source-output") { directory in
            let log = try Log.open(LogConfiguration(directory: directory))
            let writer = try PartitionWriter.started(partition: try log.topic("readings", creatingWith: 1)[0],
                                             logger: Logger(label: "test"))
            let output = SourceOutput(source: "sim", topic: "readings", router: Router(writers: ["readings": [writer]]),
                                      logger: Logger(label: "test"))
            await output.reportMalformed([1, 2, 3], reason: "short", at: 0)
            await writer.stop()
            #expect(output.malformed == 1 && output.received == 0)
            #expect(writer.partition.endOffset == 0)
            try log.close()
        }
    }

    @Test("a callback thread's hand-over blocks while the queue is full and goes on once the writer takes it")
    func handOverBlocksUntilThereIsRoom() async throws {
        try await withTemporaryDirectory("source-output") { directory in
            let log = try Log.open(LogConfiguration(directory: directory))
            // Not started yet: nothing drains the queue, as behind a wedged disk.
            let writer = PartitionWriter(partition: try log.topic("readings", creatingWith: 1)[0], capacity: 10,
                                         logger: Logger(label: "test"))
            let output = SourceOutput(source: "mqtt-in", topic: "readings",
                                      router: Router(writers: ["readings": [writer]]), logger: Logger(label: "test"))
            let readings = (0..<10).map { Reading(sensor: "s", timestamp: Int64($0), value: .int(Int64($0))) }
            try output.handOver(readings)  // an empty queue takes it
            let handedOver = Atomic(false)
            let callback = Thread {
                try? output.handOver([Reading(sensor: "s", timestamp: 10, value: .int(10))])
                handedOver.store(true, ordering: .releasing)
            }
            callback.start()
            try await eventually { writer.backlog == 11 }
            #expect(writer.backlog == 11, "the second hand-over waits for room")
            let returnedEarly = handedOver.load(ordering: .acquiring)
            #expect(!returnedEarly, "and its thread is held")
            try writer.start()
            try await eventually { handedOver.load(ordering: .acquiring) }
            let returned = handedOver.load(ordering: .acquiring)
            #expect(returned)
            await writer.stop()
            #expect(writer.partition.durableOffset == 11 && output.received == 11)
            #expect(throws: PipelineError.writerStopped(topic: "readings", partition: 0)) {
                try output.handOver(readings)
            }
            #expect(output.status.refused == 10, "readings the stopping log did not take are counted")
            try log.close()
        }
    }

    @Test("a hand-over until written returns only once the writers have written the readings to their files")
    func handOverUntilWritten() async throws {
        try await withTemporaryDirectory("source-output") { directory in
            var configuration = LogConfiguration(directory: directory)
            // Synced a minute later: what the hand-over waits for is the append alone.
            configuration.flush = .interval(maxDelayMilliseconds: 60_000, maxBytes: 1 << 30)
            let log = try Log.open(configuration)
            let writers = try log.topic("readings", creatingWith: 2).map {
                PartitionWriter(partition: $0, logger: Logger(label: "test"))
            }
            let output = SourceOutput(source: "mqtt-in", topic: "readings",
                                      router: Router(writers: ["readings": writers]), logger: Logger(label: "test"))
            let readings = (0..<40).map { Reading(sensor: "s\($0)", timestamp: 0, value: .int(Int64($0))) }
            let handedOver = Atomic(false)
            let callback = Thread {
                try? output.handOver(readings, untilWritten: true)
                handedOver.store(true, ordering: .releasing)
            }
            callback.start()
            try await eventually { writers.reduce(0) { $0 + $1.backlog } == 40 }
            let returnedWhenQueued = handedOver.load(ordering: .acquiring)
            #expect(!returnedWhenQueued, "queued is not written: the hand-over waits")
            try writers[0].start()
            try await eventually { writers[0].partition.endOffset > 0 }
            let returnedWhenHalfWritten = handedOver.load(ordering: .acquiring)
            #expect(!returnedWhenHalfWritten, "one partition's readings are still queued")
            try writers[1].start()
            try await eventually { handedOver.load(ordering: .acquiring) }
            #expect(writers.allSatisfy { $0.partition.durableOffset == 0 }, "written, not yet synced")
            // In the files, as a restart after a kill -9 would find them (not just collected in memory).
            let afterKill = try Log.open(LogConfiguration(directory: directory), readOnly: true)
            let found = try (afterKill.partitions(of: "readings") ?? []).reduce(0) { $0 + (try $1.readAll().readings.count) }
            #expect(found == 40)
            for writer in writers { await writer.stop() }
            try log.close()
        }
    }

    @Test("health: the last reading, the current error and reconnects show in the status")
    func health() async throws {
        try await withTemporaryDirectory("source-output") { directory in
            let log = try Log.open(LogConfiguration(directory: directory))
            let writer = try PartitionWriter.started(partition: try log.topic("readings", creatingWith: 1)[0],
                                                     logger: Logger(label: "test"))
            let output = SourceOutput(source: "serial-1", topic: "readings",
                                      router: Router(writers: ["readings": [writer]]), logger: Logger(label: "test"))
            #expect(output.status.lastReading == nil && output.status.error == nil)
            let before = SystemClock.wallMilliseconds()
            try await output.send([Reading(sensor: "a", timestamp: 1, value: .int(1))])
            #expect((output.status.lastReading ?? 0) >= before)
            output.reportError("/dev/ttyUSB0: no such device")
            output.reportReconnect()
            output.reportReconnect()
            #expect(output.status.error == "/dev/ttyUSB0: no such device" && output.status.reconnects == 2)
            output.reportRecovered()
            #expect(output.status.error == nil)
            await writer.stop()
            try log.close()
        }
    }
}
