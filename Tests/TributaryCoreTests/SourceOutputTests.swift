import Logging
import Testing
import TributaryLog
@testable import TributaryCore

@Suite("Source output")
struct SourceOutputTests {
    @Test("malformed input is counted and kept raw in the dead-letter topic under the source's name")
    func malformedInputGoesToTheDeadLetterTopic() async throws {
        try await withTemporaryDirectory("source-output") { directory in
            var configuration = LogConfiguration(directory: directory)
            configuration.flush = .everyBatch
            let log = try Log.open(configuration)
            let readings = try PartitionWriter.started(partition: try log.topic("readings", creatingWith: 1)[0],
                                               logger: Logger(label: "test"))
            let dead = try PartitionWriter.started(partition: try log.topic("dead", creatingWith: 1)[0],
                                           logger: Logger(label: "test"))
            let output = SourceOutput(source: "serial-1", topic: "readings", deadLetterTopic: "dead",
                                      router: Router(writers: ["readings": [readings], "dead": [dead]]),
                                      logger: Logger(label: "test"))
            try await output.send([Reading(sensor: "a", timestamp: 1, value: .int(1))])
            for garbage in [[0xFF, 0x00], [0x41]] as [[UInt8]] {
                await output.reportMalformed(garbage, reason: "not a number", at: 7)
            }
            await readings.stop()
            await dead.stop()
            #expect(output.received == 1)
            #expect(output.malformed == 2)
            let reader = dead.partition.reader(from: 0)
            var kept: [Reading] = []
            while case let batch = try reader.next(), !batch.isEmpty { kept += batch.map(\.reading) }
            #expect(kept == [Reading(sensor: "serial-1", timestamp: 7, value: .bytes([0xFF, 0x00])),
                             Reading(sensor: "serial-1", timestamp: 7, value: .bytes([0x41]))])
            try log.close()
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
}
