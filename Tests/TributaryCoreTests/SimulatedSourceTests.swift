import Logging
import Testing
import TributaryTestSupport
import TributaryLog
@testable import TributaryCore

@Suite("Simulated source")
struct SimulatedSourceTests {
    @Test("readings come on a fixed schedule: every sensor once per 1/rate seconds, stamped k/rate after the start")
    func readingsFollowTheSchedule() async throws {
        try await withTemporaryDirectory("sim-source") { directory in
            let log = try Log.open(LogConfiguration(directory: directory))
            let writer = try PartitionWriter.started(partition: try log.topic("t", creatingWith: 1)[0],
                                             logger: Logger(label: "test"))
            let output = SourceOutput(source: "sim", topic: "t", router: Router(writers: ["t": [writer]]),
                                      logger: Logger(label: "test"))
            var settings = SimulatedSourceConfiguration()
            settings.sensors = 3
            settings.readingsPerSecond = 50
            settings.seed = 1
            let source = SimulatedSource(name: "sim", configuration: settings)
            let running = Task { try await source.run(output: output) }
            // Other tests may hold the machine's few threads: wait for the rounds, not for a time.
            for _ in 0..<3000 where output.received < 15 { try await Task.sleep(for: .milliseconds(10)) }
            running.cancel()
            _ = try? await running.value
            await writer.stop()

            var readings: [Reading] = []
            let reader = writer.partition.reader(from: 0)
            while case let batch = try reader.next(), !batch.isEmpty { readings += batch.map(\.reading) }
            #expect(readings.count == Int(output.received))
            #expect(readings.count >= 3 * 5, "at least 5 rounds, got \(readings.count)")
            #expect(readings.count % 3 == 0, "whole rounds only")
            let first = try #require(readings.first?.timestamp)
            for (index, reading) in readings.enumerated() {
                #expect(reading.sensor == "sim-\(index % 3)")
                #expect(reading.timestamp == first + Int64(index / 3) * 20, "round \(index / 3) at +20 ms each")
            }
            try log.close()
        }
    }
}
